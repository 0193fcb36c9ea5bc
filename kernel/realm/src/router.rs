//! The RMM's IPC router: it hosts the services (granule, realm, RTT, REC,
//! attestation) and delivers typed requests to them on the calling CPU,
//! tracing each call at debug level. Services reach each other only
//! through it.

use crate::slots::KernelLeases;
use rampart_arch::read_sysreg;
use rampart_arch::smc;
use rampart_attest::service::AttestService;
use rampart_board::Range;
use rampart_granule::{Entry, GranuleService, Gst, Gtsi};
use rampart_ipc::attest::{AttestProtocol, AttestReply, AttestRequest};
use rampart_ipc::granule::{GranuleProtocol, GranuleReply, GranuleRequest};
use rampart_ipc::realm::{RealmProtocol, RealmReply, RealmRequest};
use rampart_ipc::rec::{RecProtocol, RecReply, RecRequest};
use rampart_ipc::rmi::FeatureRegister0;
use rampart_ipc::rmm_el3::{GTSI_DELEGATE, GTSI_UNDELEGATE, RmmEl3Status};
use rampart_ipc::rtt::{RttProtocol, RttReply, RttRequest};
use rampart_ipc::{IpcError, Server, Transport};
use rampart_realm_svc::RealmService;
use rampart_realm_svc::vmid::VmidSet;
use rampart_rec::gic::GicFeatures;
use rampart_rec::{CpuFeatures, RecService};
use rampart_rtt::{RttService, S2Tlb};
use spin::Once;

static GST: Once<Gst<'static>> = Once::new();

/// Zeroes the GST memory and builds the table over the manifest's banks.
pub fn init_gst(heap: Range) {
    let count = (heap.size / 8) as usize;
    // SAFETY: `heap` is RMM-owned memory after the image, mapped read-write
    // by mmu::build and used for nothing else; zeroed before use.
    let entries = unsafe {
        core::ptr::write_bytes(heap.base as *mut u8, 0, heap.size as usize);
        core::slice::from_raw_parts(heap.base as *const Entry, count)
    };
    let platform = crate::PLATFORM.get().expect("platform");
    let reserved = [Range::new(crate::BOARD.rmm.base, crate::BOARD.rmm.size)];
    match Gst::new(&platform.manifest.dram, &reserved, entries) {
        Ok(gst) => {
            GST.call_once(|| gst);
        }
        Err(e) => panic!("rmm: cannot build the GST: {:?}", e),
    }
}

/// EL3's GTSI calls.
pub struct El3;

impl Gtsi for El3 {
    fn delegate(&mut self, pa: u64) -> RmmEl3Status {
        RmmEl3Status::from_reg(smc([u64::from(GTSI_DELEGATE), pa, 0, 0, 0, 0, 0, 0]).0[0])
    }
    fn undelegate(&mut self, pa: u64) -> RmmEl3Status {
        RmmEl3Status::from_reg(smc([u64::from(GTSI_UNDELEGATE), pa, 0, 0, 0, 0, 0, 0]).0[0])
    }
}

/// The router as one CPU uses it.
#[derive(Clone, Copy)]
pub struct Router {
    pub cpu: usize,
}

impl Transport<GranuleProtocol> for Router {
    fn call(&mut self, request: GranuleRequest) -> Result<GranuleReply, IpcError> {
        let gst = GST.get().ok_or(IpcError::NoServer)?;
        let mut service =
            GranuleService::new(gst, self.cpu as u8, El3, KernelLeases { cpu: self.cpu });
        let reply = service.handle(request);
        defmt::debug!("ipc granule: {} -> {}", request, reply);
        Ok(reply)
    }
}

/// What this RMM offers realms (RMI_FEATURES register 0), from the
/// hardware's ID registers and what is implemented: no LPA2, SVE or PMU
/// for realms, both hashes, up to 2^MAX_RECS_ORDER - 1 RECs.
pub fn feature_register_0() -> FeatureRegister0 {
    *FEATURES.call_once(|| {
        let mmfr0 = read_sysreg!("id_aa64mmfr0_el1");
        let dfr0 = read_sysreg!("id_aa64dfr0_el1");
        let pa_bits = match mmfr0 & 0xf {
            0 => 32,
            1 => 36,
            2 => 40,
            3 => 42,
            4 => 44,
            5 => 48,
            _ => 52,
        };
        FeatureRegister0 {
            // Without LPA2 the IPA is at most 48 bits.
            s2sz: pa_bits.min(48),
            num_bps: ((dfr0 >> 12) & 0xf) as u8,
            num_wps: ((dfr0 >> 20) & 0xf) as u8,
            hash_sha_256: true,
            hash_sha_512: true,
            gicv3_num_lrs: (read_sysreg!("S3_4_C12_C11_1") & 0x1f) as u8,
            max_recs_order: rampart_rec::MAX_RECS_ORDER,
            ..FeatureRegister0::default()
        }
    })
}

static FEATURES: Once<FeatureRegister0> = Once::new();

/// VMIDs of live realms; 16-bit when the CPU has FEAT_VMID16.
static VMIDS_8: VmidSet = VmidSet::new(8);
static VMIDS_16: VmidSet = VmidSet::new(16);

fn vmids() -> &'static VmidSet {
    if (read_sysreg!("id_aa64mmfr1_el1") >> 4) & 0xf == 2 {
        &VMIDS_16
    } else {
        &VMIDS_8
    }
}

impl Transport<RealmProtocol> for Router {
    fn call(&mut self, request: RealmRequest) -> Result<RealmReply, IpcError> {
        let mut service = RealmService::new(
            *self,
            KernelLeases { cpu: self.cpu },
            vmids(),
            feature_register_0(),
        );
        let reply = service.handle(request);
        defmt::debug!("ipc realm: {} -> {}", request, reply);
        Ok(reply)
    }
}

/// Stage-2 TLB maintenance for a realm's VMID (the RTT service's S2Tlb).
pub struct S2Tlbi;

impl S2Tlbi {
    fn with_vmid(vmid: u16, f: impl FnOnce()) {
        let saved = read_sysreg!("vttbr_el2");
        rampart_arch::write_sysreg!("vttbr_el2", u64::from(vmid) << 48);
        rampart_arch::isb();
        f();
        rampart_arch::write_sysreg!("vttbr_el2", saved);
        rampart_arch::isb();
    }
}

impl S2Tlb for S2Tlbi {
    fn invalidate_ipa(&mut self, vmid: u16, ipa: u64, _level: u8) {
        Self::with_vmid(vmid, || {
            // SAFETY: TLB maintenance for the VMID just selected; no memory effects.
            unsafe {
                core::arch::asm!(
                    "dsb ishst",
                    "tlbi ipas2e1is, {ipa}",
                    "dsb ish",
                    "tlbi vmalle1is",
                    "dsb ish",
                    "isb",
                    ipa = in(reg) ipa >> 12,
                    options(nostack)
                )
            };
        });
    }

    /// Up to 64 KB: by IPA, page by page, under one VMID switch; larger:
    /// the whole VMID (stages 1 and 2), cheaper than hundreds of TLBIs.
    fn invalidate_block(&mut self, vmid: u16, ipa: u64, size: u64) {
        Self::with_vmid(vmid, || {
            if size > 64 << 10 {
                // SAFETY: TLB maintenance for the VMID just selected.
                unsafe {
                    core::arch::asm!(
                        "dsb ishst",
                        "tlbi vmalls12e1is",
                        "dsb ish",
                        "isb",
                        options(nostack)
                    )
                };
                return;
            }
            let mut page = ipa;
            while page < ipa + size {
                // SAFETY: as above, one IPA.
                unsafe {
                    core::arch::asm!("dsb ishst", "tlbi ipas2e1is, {}", in(reg) page >> 12, options(nostack))
                };
                page += 0x1000;
            }
            // SAFETY: completes the invalidations and drops combined entries.
            unsafe {
                core::arch::asm!(
                    "dsb ish",
                    "tlbi vmalle1is",
                    "dsb ish",
                    "isb",
                    options(nostack)
                )
            };
        });
    }
}

impl Transport<RttProtocol> for Router {
    fn call(&mut self, request: RttRequest) -> Result<RttReply, IpcError> {
        let mut service = RttService::new(*self, KernelLeases { cpu: self.cpu }, S2Tlbi);
        let reply = service.handle(request);
        defmt::debug!("ipc rtt: {} -> {}", request, reply);
        Ok(reply)
    }
}

/// What the CPU offers realms (GIC list registers and priority bits, PA
/// range, VMID width), read once.
pub fn cpu_features() -> CpuFeatures {
    *CPU.call_once(|| CpuFeatures {
        gic: GicFeatures::from_regs(
            read_sysreg!("S3_4_C12_C11_1"),
            read_sysreg!("S3_0_C12_C12_4"),
        ),
        pa_range: (read_sysreg!("id_aa64mmfr0_el1") & 0xf) as u8,
        vmid16: (read_sysreg!("id_aa64mmfr1_el1") >> 4) & 0xf == 2,
    })
}

static CPU: Once<CpuFeatures> = Once::new();

/// FEAT_PAuth (any algorithm): the EL1 key registers exist.
pub fn has_pauth() -> bool {
    *PAUTH.call_once(|| {
        let isar1 = read_sysreg!("id_aa64isar1_el1");
        let isar2 = read_sysreg!("S3_0_C0_C6_2");
        isar1 & (0xff << 4 | 0xff << 24) != 0 || isar2 & (0xff << 8) != 0
    })
}

static PAUTH: Once<bool> = Once::new();

impl Transport<RecProtocol> for Router {
    fn call(&mut self, request: RecRequest) -> Result<RecReply, IpcError> {
        let mut service = RecService::new(*self, KernelLeases { cpu: self.cpu }, cpu_features());
        let reply = service.handle(request);
        defmt::debug!("ipc rec: {} -> {}", request, reply);
        Ok(reply)
    }
}

impl Transport<AttestProtocol> for Router {
    fn call(&mut self, request: AttestRequest) -> Result<AttestReply, IpcError> {
        let attestation = crate::attest::attestation();
        let mut service = AttestService::new(KernelLeases { cpu: self.cpu }, attestation);
        let reply = service.handle(request);
        defmt::debug!("ipc attestation: {} -> {}", request, reply);
        Ok(reply)
    }
}
