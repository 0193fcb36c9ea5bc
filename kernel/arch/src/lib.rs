//! AArch64 primitives for the two kernels. Every instruction that the rest of
//! Rampart needs is wrapped here in a safe function whose contract is stated;
//! nothing outside `kernel/` uses inline assembly.
//!
//! On a non-AArch64 host the crate compiles to nothing but the pure helpers,
//! so host-testable crates may depend on it.
#![no_std]

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;
#[cfg(target_arch = "aarch64")]
pub mod simd;

/// Result registers of an SMC (SMCCC 1.2: x0-x7 carry results).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmcResult(pub [u64; 8]);

/// Exception classes (ESR_ELx.EC) the kernels act on.
pub mod esr {
    pub const EC_SHIFT: u32 = 26;
    pub const EC_UNKNOWN: u64 = 0x00;
    pub const EC_HVC64: u64 = 0x16;
    pub const EC_SMC64: u64 = 0x17;
    pub const EC_SYSREG: u64 = 0x18;
    pub const EC_GPC: u64 = 0x1e;
    pub const EC_IABT_LOWER: u64 = 0x20;
    pub const EC_IABT_CURRENT: u64 = 0x21;
    pub const EC_DABT_LOWER: u64 = 0x24;
    pub const EC_DABT_CURRENT: u64 = 0x25;
    /// IL: 32-bit instruction.
    pub const IL: u64 = 1 << 25;
    /// Fault status code of a synchronous external abort (not on a walk).
    pub const FSC_SEA: u64 = 0x10;
    /// Fault status code of a granule protection fault (not on a walk).
    pub const FSC_GPF: u64 = 0x28;

    pub const fn class(esr: u64) -> u64 {
        (esr >> EC_SHIFT) & 0x3f
    }
}

/// Delivering a synchronous exception to a lower EL as if the hardware had
/// taken it there (Arm ARM D1.3 "Exception entry", AArch64.TakeException):
/// EL3 uses it to answer a trapped access it does not emulate with the
/// UNDEFINED the lower EL would see without the feature.
pub mod exception {
    /// SPSR_ELx / PSTATE fields (Arm ARM C5.2.18 SPSR_EL3).
    pub const SPSR_M_MASK: u64 = 0xf;
    pub const SPSR_M_AARCH32: u64 = 1 << 4;
    pub const SPSR_DAIF: u64 = 0xf << 6;
    pub const SPSR_BTYPE: u64 = 0b11 << 10;
    pub const SPSR_SSBS: u64 = 1 << 12;
    pub const SPSR_ALLINT: u64 = 1 << 13;
    pub const SPSR_IL: u64 = 1 << 20;
    pub const SPSR_SS: u64 = 1 << 21;
    pub const SPSR_PAN: u64 = 1 << 22;
    pub const SPSR_UAO: u64 = 1 << 23;
    pub const SPSR_DIT: u64 = 1 << 24;
    pub const SPSR_TCO: u64 = 1 << 25;
    pub const SPSR_NZCV: u64 = 0xf << 28;
    pub const SPSR_EXLOCK: u64 = 1 << 34;
    pub const SPSR_PACM: u64 = 1 << 35;
    /// SPSR.M for EL1h and EL2h.
    pub const M_EL1H: u64 = 0b0101;
    pub const M_EL2H: u64 = 0b1001;
    /// HCR_EL2.TGE: EL0 exceptions go to EL2.
    pub const HCR_TGE: u64 = 1 << 27;
    /// HCR_EL2.E2H.
    pub const HCR_E2H: u64 = 1 << 34;
    /// SCTLR_ELx.SPAN (0: PAN is set on exception entry), DSSBS, SPINTMASK.
    pub const SCTLR_SPAN: u64 = 1 << 23;
    pub const SCTLR_DSSBS: u64 = 1 << 44;
    pub const SCTLR_SPINTMASK: u64 = 1 << 62;
    /// GCSCR_ELx.EXLOCKEN.
    pub const GCSCR_EXLOCKEN: u64 = 1 << 6;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum TargetEl {
        El1,
        El2,
    }

    /// The EL of the interrupted context in `spsr` (0, 1 or 2; an AArch32
    /// context counts as EL0 in User mode and as EL1 otherwise).
    pub const fn source_el(spsr: u64) -> u64 {
        if spsr & SPSR_M_AARCH32 != 0 {
            if spsr & SPSR_M_MASK == 0 { 0 } else { 1 }
        } else {
            (spsr >> 2) & 0b11
        }
    }

    /// Where an exception from the context in `spsr` is taken when it is
    /// not taken to EL3: at its own EL from EL1 or EL2; from EL0 at EL2 when
    /// HCR_EL2.TGE routes EL0 there, else at EL1 (Arm ARM D1.3.1 "Exception
    /// entry", the routing of synchronous exceptions).
    pub const fn target_el(spsr: u64, hcr_el2: u64) -> TargetEl {
        match source_el(spsr) {
            2 | 3 => TargetEl::El2,
            1 => TargetEl::El1,
            _ if hcr_el2 & HCR_TGE != 0 => TargetEl::El2,
            _ => TargetEl::El1,
        }
    }

    /// Offset into VBAR_ELx of the synchronous vector taken at `target`
    /// from the context in `spsr` (Arm ARM D1.3.3 "Exception vectors").
    pub const fn sync_vector_offset(spsr: u64, target: TargetEl) -> u64 {
        let target_level = match target {
            TargetEl::El1 => 1,
            TargetEl::El2 => 2,
        };
        if source_el(spsr) == target_level {
            if spsr & 1 != 0 { 0x200 } else { 0x000 }
        } else if spsr & SPSR_M_AARCH32 != 0 {
            0x600
        } else {
            0x400
        }
    }

    /// What EL3 must know of the CPU and the target EL's controls to build
    /// the PSTATE of exception entry.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct EntryControls {
        /// SCTLR_ELx of the target EL.
        pub sctlr: u64,
        /// GCSCR_ELx of the target EL (0 without FEAT_GCS).
        pub gcscr: u64,
        /// HCR_EL2 of the world (E2H and TGE decide PAN at EL2).
        pub hcr_el2: u64,
        pub pan: bool,
        pub ssbs: bool,
        pub mte2: bool,
        pub nmi: bool,
        pub gcs: bool,
    }

    /// The SPSR_EL3 that enters `target` at its vector as the hardware would
    /// (AArch64.TakeException): AArch64 ELxh, D, A, I, F masked; NZCV and DIT
    /// kept; SS, IL, BTYPE, UAO and PACM cleared; PAN, SSBS, TCO, ALLINT and
    /// EXLOCK set as the target's controls say; PAN otherwise kept.
    pub const fn entry_spsr(old: u64, target: TargetEl, c: &EntryControls) -> u64 {
        let mut new = match target {
            TargetEl::El1 => M_EL1H,
            TargetEl::El2 => M_EL2H,
        } | SPSR_DAIF;
        new |= old & (SPSR_NZCV | SPSR_DIT | SPSR_PAN | SPSR_SSBS | SPSR_TCO | SPSR_ALLINT);
        let host = c.hcr_el2 & (HCR_E2H | HCR_TGE) == HCR_E2H | HCR_TGE;
        let pan_target = match target {
            TargetEl::El1 => true,
            TargetEl::El2 => host,
        };
        if c.pan && pan_target && c.sctlr & SCTLR_SPAN == 0 {
            new |= SPSR_PAN;
        }
        if c.ssbs {
            new &= !SPSR_SSBS;
            if c.sctlr & SCTLR_DSSBS != 0 {
                new |= SPSR_SSBS;
            }
        }
        if c.mte2 {
            new |= SPSR_TCO;
        }
        if c.nmi {
            new &= !SPSR_ALLINT;
            if c.sctlr & SCTLR_SPINTMASK == 0 {
                new |= SPSR_ALLINT;
            }
        }
        if c.gcs && c.gcscr & GCSCR_EXLOCKEN != 0 {
            new |= SPSR_EXLOCK;
        }
        new
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const EL0T: u64 = 0b0000;
        const EL1T: u64 = 0b0100;
        const EL1H: u64 = 0b0101;
        const EL2T: u64 = 0b1000;
        const EL2H: u64 = 0b1001;
        const USR32: u64 = 0b1_0000;

        #[test]
        fn undefined_goes_to_the_el_that_ran_it() {
            assert_eq!(target_el(EL2H, 0), TargetEl::El2);
            assert_eq!(target_el(EL2T, HCR_TGE), TargetEl::El2);
            assert_eq!(target_el(EL1H, HCR_TGE), TargetEl::El1);
            assert_eq!(target_el(EL1T, 0), TargetEl::El1);
            // EL0: EL1 unless TGE routes it to EL2.
            assert_eq!(target_el(EL0T, 0), TargetEl::El1);
            assert_eq!(target_el(EL0T, HCR_TGE | HCR_E2H), TargetEl::El2);
            assert_eq!(target_el(USR32, 0), TargetEl::El1);
        }

        #[test]
        fn vector_offsets() {
            assert_eq!(sync_vector_offset(EL2H, TargetEl::El2), 0x200);
            assert_eq!(sync_vector_offset(EL2T, TargetEl::El2), 0x000);
            assert_eq!(sync_vector_offset(EL1H, TargetEl::El1), 0x200);
            assert_eq!(sync_vector_offset(EL1T, TargetEl::El1), 0x000);
            assert_eq!(sync_vector_offset(EL0T, TargetEl::El1), 0x400);
            assert_eq!(sync_vector_offset(EL0T, TargetEl::El2), 0x400);
            assert_eq!(sync_vector_offset(USR32, TargetEl::El1), 0x600);
        }

        #[test]
        fn entry_pstate() {
            let none = EntryControls::default();
            // NZCV and DIT kept, SS/IL/BTYPE/UAO cleared, DAIF masked.
            let old = SPSR_NZCV | SPSR_DIT | SPSR_SS | SPSR_IL | SPSR_BTYPE | SPSR_UAO | EL1H;
            assert_eq!(
                entry_spsr(old, TargetEl::El1, &none),
                SPSR_NZCV | SPSR_DIT | SPSR_DAIF | M_EL1H
            );
            // PAN: set at EL1 when SCTLR_EL1.SPAN is 0, not at EL2 outside a host.
            let pan = EntryControls { pan: true, ..none };
            assert_ne!(entry_spsr(EL1H, TargetEl::El1, &pan) & SPSR_PAN, 0);
            let span = EntryControls {
                sctlr: SCTLR_SPAN,
                ..pan
            };
            assert_eq!(entry_spsr(EL1H, TargetEl::El1, &span) & SPSR_PAN, 0);
            assert_eq!(entry_spsr(EL2H, TargetEl::El2, &pan) & SPSR_PAN, 0);
            let host = EntryControls {
                hcr_el2: HCR_E2H | HCR_TGE,
                ..pan
            };
            assert_ne!(entry_spsr(EL0T, TargetEl::El2, &host) & SPSR_PAN, 0);
            // SSBS from SCTLR.DSSBS, TCO set with MTE2, ALLINT = !SPINTMASK.
            let ssbs = EntryControls {
                ssbs: true,
                sctlr: SCTLR_DSSBS,
                ..none
            };
            assert_ne!(entry_spsr(EL1H, TargetEl::El1, &ssbs) & SPSR_SSBS, 0);
            let ssbs_off = EntryControls { ssbs: true, ..none };
            assert_eq!(
                entry_spsr(SPSR_SSBS | EL1H, TargetEl::El1, &ssbs_off) & SPSR_SSBS,
                0
            );
            let mte = EntryControls { mte2: true, ..none };
            assert_ne!(entry_spsr(EL1H, TargetEl::El1, &mte) & SPSR_TCO, 0);
            let nmi = EntryControls { nmi: true, ..none };
            assert_ne!(entry_spsr(EL1H, TargetEl::El1, &nmi) & SPSR_ALLINT, 0);
            let gcs = EntryControls {
                gcs: true,
                gcscr: GCSCR_EXLOCKEN,
                ..none
            };
            assert_ne!(entry_spsr(EL1H, TargetEl::El1, &gcs) & SPSR_EXLOCK, 0);
        }
    }
}
