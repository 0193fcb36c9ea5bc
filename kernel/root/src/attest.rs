//! Root's attestation: the heap, the measurements taken at cold boot, and
//! the RMM-EL3 attestation calls (RMM_ATTEST_GET_REALM_KEY and
//! RMM_ATTEST_GET_PLAT_TOKEN) answered by `rampart_attest::platform`.

use crate::BOARD;
use crate::mmio::DeviceWindow;
use rampart_attest::platform::{
    self, El3Attestation, Measurement, PlatTokenReply, PlatformAttestation, RealmKeyReply,
    SharedBuffer,
};
use rampart_attest::rse::RseSource;
use rampart_board::{AttestationSource, Range};
use rampart_ipc::rmm_el3::{RmmEl3Status, SHARED_PAGE_SIZE};
use rampart_kernel::heap::HeapRegion;
use rampart_kernel::trace::hex;
use rampart_rse::{Config, RseClient};
use spin::Once;

/// Root's heap, used only to build platform tokens (CBOR and COSE).
/// Calls are serialised by the service's lock, so at most one token is
/// built or held at a time: 2.9 KB at the peak on the host
/// (`services/attest/tests/platform.rs`), a 3.4 KB high-water mark in this
/// heap on QEMU; 16 KB leaves room for allocator overhead and fragmentation.
/// Where root fixes up the Normal world's device tree, it does so at cold
/// boot before any token is asked for and frees all of it: the heap is the
/// larger of the two needs, not their sum.
#[cfg(not(feature = "ns-dtb"))]
const HEAP_SIZE: usize = TOKEN_HEAP;
#[cfg(feature = "ns-dtb")]
const HEAP_SIZE: usize = if rampart_kernel::dtb::HEAP_PEAK_BUDGET > TOKEN_HEAP {
    rampart_kernel::dtb::HEAP_PEAK_BUDGET
} else {
    TOKEN_HEAP
};
const TOKEN_HEAP: usize = 16 * 1024;

/// Component version claim of both images: they are built together from
/// one workspace, whose version this is.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The board's source, known at build time: the code of the sources this
/// board does not use (e.g. P-384 signing on an RSE board) is left out.
const SOURCE: AttestationSource = BOARD.attestation;

static DEVELOPMENT: Once<El3Attestation<PlatformAttestation>> = Once::new();
static RSE: Once<El3Attestation<RseSource<DeviceWindow>>> = Once::new();

/// Register polls per RSE wait. The RSE signs a token in milliseconds; this
/// bounds a dead link to a moment, not a hang. Not yet measured on an FVP.
const RSE_SPINS: u32 = 50_000_000;

static HEAP: HeapRegion<HEAP_SIZE> = HeapRegion::new();

/// Hands root's heap region to the allocator. Boot core, MMU on, before
/// anything allocates.
pub fn init_heap() {
    HEAP.install();
}

/// Sets up the attestation service for the board's source.
///
/// With a development secret, root measures itself (as its loader stored
/// it, see `boot::loaded_image`) and the RMM (as loaded at `rmm_image`:
/// SHA-256 of `realm.bin`): nothing boots before root on that board, so the
/// claim is only as trustworthy as root, like everything its key signs. The
/// Normal-world payload is not measured: it is outside the CCA platform's
/// trusted base, which is what the platform token describes (A7.2.3.2.7).
///
/// With an RSE, the RSE holds the keys and the measurements BL1 and BL2
/// recorded in it; root only opens the link.
pub fn init(rmm_image: Range) {
    match SOURCE {
        AttestationSource::DevelopmentSecret(_) => init_development(rmm_image),
        AttestationSource::Rse(mhu) => {
            let link = RseClient::new(
                DeviceWindow { base: mhu.sender },
                DeviceWindow { base: mhu.receiver },
                Config::rdv3_sfcp(RSE_SPINS),
            );
            match link {
                Ok(client) => {
                    defmt::info!("attest: RSE link up (SFCP over MHUv3)");
                    RSE.call_once(|| El3Attestation::new(RseSource::new(client)));
                }
                Err(e) => defmt::error!(
                    "attest: RSE link failed ({}): realms cannot get tokens",
                    defmt::Debug2Format(&e)
                ),
            }
        }
        _ => defmt::warn!("attest: this board has no attestation source root supports"),
    }
}

fn init_development(rmm_image: Range) {
    let (root_base, root_len) = crate::boot::loaded_image();
    // SAFETY: the boot flash (mapped read-only for root, never written) or
    // root's own RAM image holds these bytes; the linker placed them there.
    let root = unsafe { core::slice::from_raw_parts(root_base as *const u8, root_len) };
    // SAFETY: the RMM image is in place (checked to lie inside the RMM
    // region, which root maps); the RMM has not run yet.
    let rmm = unsafe {
        core::slice::from_raw_parts(rmm_image.base as *const u8, rmm_image.size as usize)
    };
    let root = Measurement::of(platform::ROOT_COMPONENT, VERSION, root);
    let rmm = Measurement::of(platform::RMM_COMPONENT, VERSION, rmm);
    let Some(source) = PlatformAttestation::for_board(&BOARD, root, rmm) else {
        return;
    };
    defmt::warn!(
        "attest: development attestation secret - tokens are forgeable (board {=str})",
        BOARD.name
    );
    let mut text = [0u8; 2 * 97];
    let cpak = source.cpak_public().to_sec1_point(false);
    defmt::info!("attest: CPAK {=str}", hex(cpak.as_bytes(), &mut text));
    for m in [root, rmm] {
        let mut text = [0u8; 64];
        defmt::info!(
            "attest: measured {=str} {=str}: sha-256 {=str}",
            m.kind,
            m.version,
            hex(&m.sha256, &mut text)
        );
    }
    DEVELOPMENT.call_once(|| source.into_service());
}

/// The EL3<->RMM shared page as the service's buffer.
///
/// # Safety
/// Only while the attestation service's lock is held (it calls this with
/// it held), so that no other root CPU holds a reference to the page.
unsafe fn shared_page<'a>() -> SharedBuffer<'a> {
    let pa = BOARD.rmm_shared_page;
    // SAFETY: the shared page is mapped read-write (Realm PAS) for root by
    // mmu::build; the caller guarantees root's exclusive use.
    let page = unsafe { core::slice::from_raw_parts_mut(pa as *mut u8, SHARED_PAGE_SIZE) };
    SharedBuffer::new(pa, page)
}

/// The shared page, as the callback the attestation service takes. Private
/// to this module and passed only to the service's two calls.
fn locked_page<'a>() -> SharedBuffer<'a> {
    // SAFETY: the service invokes its callback with its lock held, which is
    // what `shared_page` requires.
    unsafe { shared_page() }
}

/// RMM_ATTEST_GET_REALM_KEY: x1 buffer PA, x2 size, x3 curve.
pub fn get_realm_key(buf_pa: u64, buf_size: u64, ecc_curve: u64) -> [u64; 2] {
    let reply: Option<RealmKeyReply> = match SOURCE {
        AttestationSource::DevelopmentSecret(_) => DEVELOPMENT
            .get()
            .map(|s| s.get_realm_key(locked_page, buf_pa, buf_size, ecc_curve)),
        AttestationSource::Rse(_) => RSE.get().map(|s| {
            let reply = s.get_realm_key(locked_page, buf_pa, buf_size, ecc_curve);
            log_rse_error(s);
            reply
        }),
        _ => None,
    };
    let Some(reply) = reply else {
        return [RmmEl3Status::Unknown.reg(), 0];
    };
    defmt::info!("attest: realm key handed to the RMM: {}", reply.status);
    reply.regs()
}

fn log_rse_error(s: &El3Attestation<RseSource<DeviceWindow>>) {
    if let Some(e) = s.last_error() {
        defmt::warn!("attest: RSE: {}", defmt::Debug2Format(&e));
    }
}

/// RMM_ATTEST_GET_PLAT_TOKEN: x1 buffer PA, x2 size, x3 challenge size.
pub fn get_plat_token(buf_pa: u64, buf_size: u64, c_size: u64) -> [u64; 3] {
    let reply = match SOURCE {
        AttestationSource::DevelopmentSecret(_) => DEVELOPMENT
            .get()
            .map(|s| s.get_plat_token(locked_page, buf_pa, buf_size, c_size)),
        AttestationSource::Rse(_) => RSE.get().map(|s| {
            let reply = s.get_plat_token(locked_page, buf_pa, buf_size, c_size);
            log_rse_error(s);
            reply
        }),
        _ => None,
    };
    let Some(reply) = reply else {
        return PlatTokenReply::error(RmmEl3Status::Unknown).regs();
    };
    let (heap_used, heap_free) = rampart_kernel::heap::usage();
    defmt::debug!(
        "attest: platform token c_size {=u64}: {} hunk {=u64} remaining {=u64} (heap {=usize} used, {=usize} free)",
        c_size,
        reply.status,
        reply.hunk_size,
        reply.remaining,
        heap_used,
        heap_free
    );
    reply.regs()
}
