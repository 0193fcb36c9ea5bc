//! Cold-boot attestation setup: the RAK and the platform token come from
//! EL3 through the shared page (TF-A rmm-el3-comms spec,
//! RMM_ATTEST_GET_REALM_KEY / RMM_ATTEST_GET_PLAT_TOKEN) and go to the
//! attestation service, which alone keeps them.

use rampart_arch::smc;
use rampart_attest::service::{El3Attestation, RealmAttestation, fetch_from_el3};
use rampart_ipc::rmm_el3::{
    ATTEST_GET_PLAT_TOKEN, ATTEST_GET_REALM_KEY, RmmEl3Status, SHARED_PAGE_SIZE,
};
use rampart_kernel::heap::HeapRegion;
use spin::Once;

/// Heap for token building (CBOR/COSE): a few KB per signing CPU plus the
/// platform token kept for the RMM's life.
const HEAP_SIZE: usize = 128 * 1024;

static ATTESTATION: Once<Option<RealmAttestation>> = Once::new();

/// What the attestation service signs with (None: EL3 gave no key).
pub fn attestation() -> Option<&'static RealmAttestation> {
    ATTESTATION.get().and_then(Option::as_ref)
}

/// EL3's calls over the shared page, as mapped by mmu::build.
struct SharedPage {
    pa: u64,
}

impl SharedPage {
    /// An attestation SMC on the whole page: x1 its PA, x2 its size, x3 `arg`.
    fn call(&self, fid: u32, arg: u64) -> [u64; 8] {
        let size = SHARED_PAGE_SIZE as u64;
        smc([u64::from(fid), self.pa, size, arg, 0, 0, 0, 0]).0
    }
}

impl El3Attestation for SharedPage {
    fn buffer(&mut self) -> &mut [u8] {
        // SAFETY: the shared page is mapped read-write for the RMM alone
        // (mmu::build) and only cold boot uses it, on one CPU.
        unsafe { core::slice::from_raw_parts_mut(self.pa as *mut u8, SHARED_PAGE_SIZE) }
    }

    fn get_realm_key(&mut self, curve: u64) -> (RmmEl3Status, u64) {
        let r = self.call(ATTEST_GET_REALM_KEY, curve);
        (RmmEl3Status::from_reg(r[0]), r[1])
    }

    fn get_plat_token(&mut self, c_size: u64) -> (RmmEl3Status, u64, u64) {
        let r = self.call(ATTEST_GET_PLAT_TOKEN, c_size);
        (RmmEl3Status::from_reg(r[0]), r[1], r[2])
    }
}

/// Gives the kernel its heap and fetches the attestation material; the
/// RMM runs without attestation (tokens refused) if EL3 has none.
pub fn init(shared_page: u64) {
    static HEAP: HeapRegion<HEAP_SIZE> = HeapRegion::new();
    HEAP.install();
    let fetched = fetch_from_el3(&mut SharedPage { pa: shared_page });
    let attestation = match fetched {
        Ok(a) => {
            let hash = a.key().platform_challenge();
            defmt::info!(
                "rmm: attestation ready: platform token {=usize} bytes, H(RAK) {=[u8]:02x}",
                a.platform_token().len(),
                hash[..8]
            );
            Some(a)
        }
        Err(e) => {
            defmt::warn!("rmm: no attestation ({}): realms cannot get tokens", e);
            None
        }
    };
    ATTESTATION.call_once(|| attestation);
}
