//! Both ends of the RMM-EL3 attestation calls on the host: the RMM's
//! cold-boot fetch (`service::fetch_from_el3`) against root's service
//! (`platform::PlatformAttestation`), over one shared page. Then a realm
//! token signed by the RMM side carries a platform token that root's CPAK
//! verifies and that is bound to the RAK root handed over.

use rampart_attest::keys::{self, Purpose};
use rampart_attest::platform::{
    self, El3Attestation as El3Service, Measurement, PlatformAttestation, SharedBuffer,
};
use rampart_attest::service::{AttestBootError, El3Attestation, fetch_from_el3};
use rampart_attest::token;
use rampart_board_host::{BOARD, DEVELOPMENT_ATTESTATION_SECRET};
use rampart_ipc::attest::TokenClaims;
use rampart_ipc::rmm_el3::RmmEl3Status;

const PA: u64 = BOARD.rmm_shared_page;

/// Root behind an SMC: the RMM passes `window` bytes of the page.
struct Root {
    service: El3Service<PlatformAttestation>,
    page: Vec<u8>,
    window: u64,
    /// E_RMM_AGAIN answers still to give.
    busy: u32,
    calls: u32,
}

impl Root {
    fn new(window: u64, busy: u32) -> Self {
        let rmm = Measurement::of(platform::RMM_COMPONENT, "0.1.0", b"the rmm image");
        let root = Measurement::of(platform::ROOT_COMPONENT, "0.1.0", b"the root image");
        Self {
            service: PlatformAttestation::for_board(&BOARD, root, rmm)
                .expect("host board")
                .into_service(),
            page: vec![0; 4096],
            window,
            busy,
            calls: 0,
        }
    }
}

impl El3Attestation for Root {
    fn buffer(&mut self) -> &mut [u8] {
        &mut self.page[..self.window as usize]
    }

    fn get_realm_key(&mut self, curve: u64) -> (RmmEl3Status, u64) {
        let page = &mut self.page;
        let r = self
            .service
            .get_realm_key(|| SharedBuffer::new(PA, page), PA, self.window, curve);
        (r.status, r.key_size)
    }

    fn get_plat_token(&mut self, c_size: u64) -> (RmmEl3Status, u64, u64) {
        self.calls += 1;
        if self.busy > 0 {
            self.busy -= 1;
            return (RmmEl3Status::Again, 0, 0);
        }
        let page = &mut self.page;
        let r =
            self.service
                .get_plat_token(|| SharedBuffer::new(PA, page), PA, self.window, c_size);
        (r.status, r.hunk_size, r.remaining)
    }
}

#[test]
fn the_rmm_gets_the_key_and_a_bound_platform_token_in_any_hunk_size() {
    let whole = fetch_from_el3(&mut Root::new(4096, 0)).expect("one hunk");
    let rak = keys::derive(
        &DEVELOPMENT_ATTESTATION_SECRET,
        Purpose::Rak,
        &Measurement::of(platform::RMM_COMPONENT, "0.1.0", b"the rmm image").sha256,
    );
    let expected_claim =
        token::rak_public_claim(rak.verifying_key(), token::Profile::Cca1_0).unwrap();
    assert_eq!(
        whole.key().public_claim(),
        expected_claim,
        "root's RAK arrived"
    );
    assert_eq!(
        whole.key().platform_challenge(),
        token::rak_hash(&expected_claim)
    );
    // Hunks of 64 bytes (the challenge still fits): same token, many calls.
    let mut small = Root::new(64, 3);
    let pieces = fetch_from_el3(&mut small).expect("many hunks");
    assert_eq!(pieces.platform_token(), whole.platform_token());
    let hunks = whole.platform_token().len().div_ceil(64) as u32;
    assert_eq!(small.calls, hunks + 3, "three AGAINs were retried");
}

#[test]
fn a_realm_token_from_the_fetched_key_verifies_with_root_s_cpak() {
    let mut root = Root::new(4096, 0);
    let cpak = root.service.cpak_public();
    let attestation = fetch_from_el3(&mut root).unwrap();
    let mut claims: TokenClaims = bytemuck::Zeroable::zeroed();
    claims.challenge = [0x3c; 64];
    claims.rim[..32].fill(0x11);
    let cca = rampart_attest::service::cca_token(&attestation, &claims).unwrap();
    let verified = rampart_verify::verify_token(&cca, &cpak).expect("relying party accepts it");
    assert_eq!(verified.realm.challenge, [0x3c; 64]);
    assert_eq!(verified.realm.rim, vec![0x11; 32]);
}

#[test]
fn el3_failures_leave_the_rmm_without_attestation() {
    // No key: the curve root does not know.
    struct NoKey;
    impl El3Attestation for NoKey {
        fn buffer(&mut self) -> &mut [u8] {
            unreachable!("nothing to read")
        }
        fn get_realm_key(&mut self, _: u64) -> (RmmEl3Status, u64) {
            (RmmEl3Status::Unknown, 0)
        }
        fn get_plat_token(&mut self, _: u64) -> (RmmEl3Status, u64, u64) {
            unreachable!("no token without a key")
        }
    }
    assert_eq!(
        fetch_from_el3(&mut NoKey).err(),
        Some(AttestBootError::Key(RmmEl3Status::Unknown))
    );
    // A window too small for the key.
    assert_eq!(
        fetch_from_el3(&mut Root::new(16, 0)).err(),
        Some(AttestBootError::Key(RmmEl3Status::Unknown))
    );
}
