//! Root's RMM-EL3 attestation calls served by the RSE (FVP RD-V3): the
//! EL3 service over `RseSource`, talking SFCP over simulated MHUv3 frames
//! to the simulated RSE of `rampart-rse`'s tests.

#[path = "../../rse/tests/common/mod.rs"]
mod sim;

use rampart_attest::platform::{ECC_SECP384R1, El3Attestation, REALM_KEY_SIZE, SharedBuffer};
use rampart_attest::rse::RseSource;
use rampart_ipc::rmm_el3::RmmEl3Status;
use rampart_rse::mhu::{MhuError, Wait};
use rampart_rse::{Config, Error, RseClient};
use sim::{Frame, RAK, Sim, Wire, attestation_service, token_bytes};

const PAGE_PA: u64 = 0xfd7f_f000;
const SPIN: u32 = 1000;

fn service(sim: &Sim) -> El3Attestation<RseSource<Frame>> {
    let (pbx, mbx) = sim.frames();
    let client = RseClient::new(pbx, mbx, Config::rdv3_sfcp(SPIN)).expect("MHU init");
    El3Attestation::new(RseSource::new(client))
}

fn rse(token_len: usize) -> Sim {
    Sim::new(
        Wire::Sfcp,
        16,
        Some(attestation_service(Wire::Sfcp, token_len)),
    )
}

#[test]
fn realm_key_comes_from_the_rse_once() {
    let sim = rse(600);
    let s = service(&sim);
    let mut page = [0u8; 4096];
    let reply = s.get_realm_key(
        || SharedBuffer::new(PAGE_PA, &mut page),
        PAGE_PA,
        4096,
        ECC_SECP384R1,
    );
    assert_eq!((reply.status, reply.key_size), (RmmEl3Status::Ok, 48));
    assert_eq!(&page[..REALM_KEY_SIZE], &RAK);
    // Once per boot: the second request is refused and sends nothing.
    let before = sim.last_request();
    let mut page = [0u8; 4096];
    let again = s.get_realm_key(
        || SharedBuffer::new(PAGE_PA, &mut page),
        PAGE_PA,
        4096,
        ECC_SECP384R1,
    );
    assert_eq!(again.status, RmmEl3Status::Unknown);
    assert_eq!(sim.last_request(), before);
    assert_eq!(page, [0; 4096]);
}

#[test]
fn platform_token_is_relayed_in_hunks() {
    let sim = rse(1500);
    let s = service(&sim);
    let challenge = [0x5a; 48];
    let mut page = [0u8; 4096];
    page[..48].copy_from_slice(&challenge);
    let mut token = Vec::new();
    let first = s.get_plat_token(|| SharedBuffer::new(PAGE_PA, &mut page), PAGE_PA, 1024, 48);
    assert_eq!(first.status, RmmEl3Status::Ok);
    assert_eq!((first.hunk_size, first.remaining), (1024, 476));
    token.extend_from_slice(&page[..1024]);
    // The RSE was asked with the RMM's challenge, through the delegated
    // attestation service's GET_PLATFORM_TOKEN.
    let request = sim.last_request();
    assert_eq!((request.handle, request.call_type), (0x4000_0111, 1002));
    assert_eq!(request.inputs[0], challenge);
    let next = s.get_plat_token(|| SharedBuffer::new(PAGE_PA, &mut page), PAGE_PA, 1024, 0);
    assert_eq!((next.hunk_size, next.remaining), (476, 0));
    token.extend_from_slice(&page[..476]);
    assert_eq!(token, token_bytes(1500));
}

#[test]
fn a_silent_rse_gives_unk_and_changes_nothing() {
    let sim = Sim::new(Wire::Sfcp, 16, None);
    let s = service(&sim);
    let mut page = [0u8; 4096];
    page[..32].fill(7);
    let reply = s.get_plat_token(|| SharedBuffer::new(PAGE_PA, &mut page), PAGE_PA, 4096, 32);
    assert_eq!(reply.status, RmmEl3Status::Unknown);
    assert_eq!(
        s.last_error(),
        Some(Error::Mhu(MhuError::Timeout(Wait::Reply)))
    );
    // No token in progress: a continuation is refused.
    let cont = s.get_plat_token(|| SharedBuffer::new(PAGE_PA, &mut page), PAGE_PA, 4096, 0);
    assert_eq!(cont.status, RmmEl3Status::Inval);
    let key = s.get_realm_key(
        || SharedBuffer::new(PAGE_PA, &mut page),
        PAGE_PA,
        4096,
        ECC_SECP384R1,
    );
    assert_eq!(key.status, RmmEl3Status::Unknown);
    assert_eq!(&page[..48], &[0; 48], "no partial key is left in the page");
}
