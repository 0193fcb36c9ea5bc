//! The Normal world's SVE and SME state across RMI_REC_ENTER.
//!
//! EL3 leaves the vector registers, ZCR_EL2, SMCR_EL2 and SVCR to the RMM
//! (TF-A `docs/components/rmm-el3-comms-spec.rst`, "Registers Not Managed
//! by EL3"), and SMCCC (DEN0028, 1.2 and later) makes the callee preserve
//! the caller's SVE state unless the caller sets the SVE hint (1.3, FID
//! bit 16). The RMM and EL3 are soft-float, so the only code below the
//! host that writes vector registers is the RMM loading a realm's V0-V31
//! (an AdvSIMD write zeroes the Z register above bit 127) and the realm
//! itself. Every other RMI command leaves the host's SVE and SME state as
//! it found it at no cost; REC_ENTER saves it here:
//!
//! - hint clear, SVE present: Z0-Z31, P0-P15 and FFR at the host's vector
//!   length (ZCR_EL2 as the host set it; the RMM never writes ZCR_EL2);
//! - the host in Streaming SVE mode (SVCR.SM), hint or not: the streaming
//!   Z/P (and FFR where FEAT_SME_FA64 makes it accessible) at the
//!   streaming vector length, then SMSTOP SM, so that a realm never runs
//!   in streaming mode; SMSTART SM and a reload on the way back. ZA (and
//!   ZT0) stay live but unreachable: CPTR_EL2.TSM traps SME for the realm;
//! - hint set, not streaming: nothing beyond the V0-V31 save `run.rs`
//!   always does, which is all SMCCC requires then.
//!
//! The RMM itself runs with SVE and SME untrapped ([`rmm_cptr_el2`]);
//! realms run with both trapped (`run::CPTR_EL2`). The save area is per
//! CPU and sized for the largest vector length; it is RMM memory, never
//! the REC.

use crate::MAX_CPUS;
use core::cell::UnsafeCell;
use rampart_arch::simd::{self, SveState};
use rampart_arch::{isb, read_sysreg, write_sysreg};
use spin::Once;

/// CPTR_EL2 (E2H = 0) bits: TZ (8) traps SVE, TSM (12) traps SME. Without
/// the feature each bit is RES1.
const CPTR_TZ: u64 = 1 << 8;
const CPTR_TSM: u64 = 1 << 12;
/// SMCR_EL2.FA64 (bit 31): the full A64 instruction set, FFR included, in
/// Streaming SVE mode (EL3 sets SMCR_EL3.FA64 wherever the CPU has it).
/// SMCR_EL2 is S3_4_C1_C2_6, SVCR S3_3_C4_C2_2.
const SMCR_FA64: u64 = 1 << 31;

#[derive(Clone, Copy)]
struct Features {
    sve: bool,
    sme: bool,
    fa64: bool,
}

fn features() -> Features {
    static FEATURES: Once<Features> = Once::new();
    *FEATURES.call_once(|| {
        let sme = (read_sysreg!("id_aa64pfr1_el1") >> 24) & 0xf != 0;
        Features {
            sve: (read_sysreg!("id_aa64pfr0_el1") >> 32) & 0xf != 0,
            sme,
            // ID_AA64SMFR0_EL1.FA64, bit 63.
            fa64: sme && read_sysreg!("S3_0_C0_C4_5") >> 63 != 0,
        }
    })
}

/// What [`save_host`] saved beyond V0-V31, for [`restore_host`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HostSimd {
    /// Only V0-V31 (the hint, or a CPU without SVE).
    Fp,
    /// Z, P and FFR at the host's vector length.
    Sve,
    /// The streaming registers, the host left in Streaming SVE mode.
    Streaming { ffr: bool },
}

struct Area(UnsafeCell<SveState>);

// SAFETY: CPU n only touches AREAS[n] (indexed by its own TPIDR_EL2), and
// one CPU runs one REC_ENTER at a time with nothing re-entering it.
unsafe impl Sync for Area {}

static AREAS: [Area; MAX_CPUS] = [const { Area(UnsafeCell::new(SveState::ZERO)) }; MAX_CPUS];

fn area(cpu: usize) -> &'static mut SveState {
    // SAFETY: see `impl Sync for Area`; the borrow ends before the next
    // save or restore on this CPU.
    unsafe { &mut *AREAS[cpu].0.get() }
}

/// CPTR_EL2 while the RMM itself runs: FP/SIMD, SVE and SME untrapped.
/// The RMM never uses SVE or SME, but with them trapped at R-EL2 the
/// return from EL3 into the RMM may zero every Z register above bit 127
/// and shrink P and FFR (the Arm ARM leaves the upper bits CONSTRAINED
/// UNPREDICTABLE when the effective vector length falls on an exception
/// level change; QEMU zeroes them), destroying the host's state on every
/// RMI call. Open, R-EL2's vector lengths are the host's (ZCR_EL2 and
/// SMCR_EL2 are shared), so nothing changes.
pub fn rmm_cptr_el2() -> u64 {
    let f = features();
    let mut cptr = crate::run::CPTR_EL2;
    if f.sve {
        cptr &= !CPTR_TZ;
    }
    if f.sme {
        cptr &= !CPTR_TSM;
    }
    cptr
}

/// CPTR_EL2 for realms (SVE and SME trapped); the ISB before every realm
/// entry orders the write.
fn trap_for_realm() {
    write_sysreg!("cptr_el2", crate::run::CPTR_EL2);
}

/// Saves the host's SVE/SME state that running a realm would destroy and
/// traps SVE and SME for the realm; once per REC_ENTER, before the host's
/// V0-V31 are saved.
pub fn save_host(cpu: usize, sve_hint: bool) -> HostSimd {
    let f = features();
    if !f.sme && (sve_hint || !f.sve) {
        trap_for_realm();
        return HostSimd::Fp;
    }
    let saved = if f.sme && read_sysreg!("S3_3_C4_C2_2") & simd::SVCR_SM != 0 {
        let ffr = f.fa64 && read_sysreg!("S3_4_C1_C2_6") & SMCR_FA64 != 0;
        simd::sve_save(area(cpu), ffr);
        simd::smstop_sm();
        HostSimd::Streaming { ffr }
    } else if !sve_hint && f.sve {
        simd::sve_save(area(cpu), true);
        HostSimd::Sve
    } else {
        HostSimd::Fp
    };
    trap_for_realm();
    saved
}

/// Gives the host back what [`save_host`] saved, and the RMM its own
/// CPTR_EL2; after the host's V0-V31.
pub fn restore_host(cpu: usize, saved: HostSimd) {
    write_sysreg!("cptr_el2", rmm_cptr_el2());
    match saved {
        HostSimd::Fp => {}
        HostSimd::Sve => {
            isb();
            simd::sve_restore(area(cpu), true);
        }
        HostSimd::Streaming { ffr } => {
            isb();
            simd::smstart_sm();
            simd::sve_restore(area(cpu), ffr);
        }
    }
}
