//! Root's attestation: the heap, the measurements taken at cold boot, and
//! the RMM-EL3 attestation calls (RMM_ATTEST_GET_REALM_KEY and
//! RMM_ATTEST_GET_PLAT_TOKEN) answered by `rampart_attest::platform`.

use crate::BOARD;
use rampart_attest::platform::{
    self, Measurement, PlatTokenReply, PlatformAttestation, RealmKeyReply, SharedBuffer,
};
use rampart_board::{AttestationSource, Range};
use rampart_ipc::rmm_el3::{RmmEl3Status, SHARED_PAGE_SIZE};
use rampart_kernel::heap::HeapRegion;
use rampart_kernel::trace::hex;
use spin::Once;

/// Root's heap, used only to build platform tokens (CBOR and COSE).
/// Calls are serialised by the service's lock, so at most one token is
/// built or held at a time: 2.9 KB at the peak on the host
/// (`services/attest/tests/platform.rs`), a 3.4 KB high-water mark in this
/// heap on QEMU; 16 KB leaves room for allocator overhead and fragmentation.
const HEAP_SIZE: usize = 16 * 1024;

/// Component version claim of both images: they are built together from
/// one workspace, whose version this is.
const VERSION: &str = env!("CARGO_PKG_VERSION");

static SERVICE: Once<Option<PlatformAttestation>> = Once::new();

static HEAP: HeapRegion<HEAP_SIZE> = HeapRegion::new();

/// Hands root's heap region to the allocator. Boot core, MMU on, before
/// anything allocates.
pub fn init_heap() {
    HEAP.install();
}

/// Measures root (as its loader stored it, see `boot::loaded_image`) and the
/// RMM (as loaded at `rmm_image`: SHA-256 of `realm.bin`) and sets up the
/// attestation service for the board's source.
///
/// Root measures itself because nothing boots before it on this board: the
/// claim is only as trustworthy as root, like everything its key signs. The
/// Normal-world payload is not measured: it is outside the CCA platform's
/// trusted base, which is what the platform token describes (A7.2.3.2.7).
pub fn init(rmm_image: Range) {
    let (root_base, root_len) = crate::boot::loaded_image();
    // SAFETY: the boot flash (mapped read-only for root, never written) or
    // root's own RAM image holds these bytes; the linker placed them there.
    let root = unsafe { core::slice::from_raw_parts(root_base as *const u8, root_len) };
    // SAFETY: the RMM image was just copied there (load_images checked it
    // lies inside the RMM region, which root maps); the RMM has not run yet.
    let rmm = unsafe {
        core::slice::from_raw_parts(rmm_image.base as *const u8, rmm_image.size as usize)
    };
    let root = Measurement::of(platform::ROOT_COMPONENT, VERSION, root);
    let rmm = Measurement::of(platform::RMM_COMPONENT, VERSION, rmm);
    let service = PlatformAttestation::for_board(&BOARD, root, rmm);
    match (&service, BOARD.attestation) {
        (Some(service), AttestationSource::DevelopmentSecret(_)) => {
            defmt::warn!(
                "attest: development attestation secret - tokens are forgeable (board {=str})",
                BOARD.name
            );
            let mut text = [0u8; 2 * 97];
            let cpak = service.cpak_public().to_sec1_point(false);
            defmt::info!("attest: CPAK {=str}", hex(cpak.as_bytes(), &mut text));
        }
        (Some(_), _) => {}
        (None, _) => defmt::warn!("attest: this board has no attestation source root supports"),
    }
    for m in [root, rmm] {
        let mut text = [0u8; 64];
        defmt::info!(
            "attest: measured {=str} {=str}: sha-256 {=str}",
            m.kind,
            m.version,
            hex(&m.sha256, &mut text)
        );
    }
    SERVICE.call_once(|| service);
}

fn service() -> Option<&'static PlatformAttestation> {
    SERVICE.get().and_then(Option::as_ref)
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

/// RMM_ATTEST_GET_REALM_KEY: x1 buffer PA, x2 size, x3 curve.
pub fn get_realm_key(buf_pa: u64, buf_size: u64, ecc_curve: u64) -> [u64; 2] {
    let Some(service) = service() else {
        return [RmmEl3Status::Unknown.reg(), 0];
    };
    // SAFETY: the service calls this with its lock held.
    let reply: RealmKeyReply =
        service.get_realm_key(|| unsafe { shared_page() }, buf_pa, buf_size, ecc_curve);
    defmt::info!("attest: realm key handed to the RMM: {}", reply.status);
    reply.regs()
}

/// RMM_ATTEST_GET_PLAT_TOKEN: x1 buffer PA, x2 size, x3 challenge size.
pub fn get_plat_token(buf_pa: u64, buf_size: u64, c_size: u64) -> [u64; 3] {
    let Some(service) = service() else {
        return PlatTokenReply::error(RmmEl3Status::Unknown).regs();
    };
    // SAFETY: the service calls this with its lock held.
    let reply = service.get_plat_token(|| unsafe { shared_page() }, buf_pa, buf_size, c_size);
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
