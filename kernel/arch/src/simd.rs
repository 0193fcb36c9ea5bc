//! SVE and SME register state (Arm ARM, DDI0487: the SVE register files
//! Z0-Z31, P0-P15 and FFR, whose low 128 bits of Z are V0-V31; SME's
//! Streaming SVE mode, PSTATE.SM and SVCR). The kernels are built soft-float, so only these functions touch
//! the vector registers. Whether SVE (or SME) is usable at the current EL
//! is the caller's business: with it trapped, an instruction here takes a
//! synchronous exception to the current EL, never a wrong memory access.

use core::arch::asm;

/// The largest vector length the architecture allows: 2048 bits.
pub const MAX_VECTOR_BYTES: usize = 256;
/// Z0-Z31 at the largest vector length.
pub const Z_BYTES: usize = 32 * MAX_VECTOR_BYTES;
/// P0-P15 at the largest vector length (a predicate has a bit per byte).
pub const P_BYTES: usize = 16 * MAX_VECTOR_BYTES / 8;
/// FFR at the largest vector length.
pub const FFR_BYTES: usize = MAX_VECTOR_BYTES / 8;

/// One copy of the SVE register file at any vector length, plus FPSR and
/// FPCR (entering or leaving Streaming SVE mode resets FPSR). Each
/// register file is packed at the vector length it was saved with.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct SveState {
    pub z: [u8; Z_BYTES],
    pub p: [u8; P_BYTES],
    pub ffr: [u8; FFR_BYTES],
    pub fpsr: u64,
    pub fpcr: u64,
}

impl SveState {
    pub const ZERO: Self = Self {
        z: [0; Z_BYTES],
        p: [0; P_BYTES],
        ffr: [0; FFR_BYTES],
        fpsr: 0,
        fpcr: 0,
    };
}

/// SVCR (S3_3_C4_C2_2) bit 0: PSTATE.SM. Reading SVCR needs SME untrapped
/// at the current EL.
pub const SVCR_SM: u64 = 1;

/// Stores Z0-Z31, P0-P15, FPSR and FPCR at the current vector length, and
/// FFR when `with_ffr` (FFR is not accessible in Streaming SVE mode without
/// FEAT_SME_FA64). No register changes.
pub fn sve_save(state: &mut SveState, with_ffr: bool) {
    let z = state.z.as_mut_ptr();
    let p = state.p.as_mut_ptr();
    // SAFETY: the vector length is at most MAX_VECTOR_BYTES by the
    // architecture, so the stores stay inside `z` (32 VL) and `p` (16 VL/8),
    // which `state` borrows exclusively. P0 is reloaded after carrying FFR.
    unsafe {
        asm!(
            ".arch_extension sve",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "str z\\i, [{z}, #\\i, mul vl]",
            ".endr",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
            "str p\\i, [{p}, #\\i, mul vl]",
            ".endr",
            "mrs {t}, S3_3_C4_C4_1",
            "str {t}, [{fp}]",
            "mrs {t}, S3_3_C4_C4_0",
            "str {t}, [{fp}, #8]",
            z = in(reg) z,
            p = in(reg) p,
            fp = in(reg) &raw mut state.fpsr,
            t = out(reg) _,
            options(nostack, preserves_flags)
        )
    };
    if with_ffr {
        // SAFETY: one predicate's worth (VL / 8 <= FFR_BYTES) is stored into
        // `ffr`; P0 gets its saved value back from `p`.
        unsafe {
            asm!(
                ".arch_extension sve",
                "rdffr p0.b",
                "str p0, [{ffr}]",
                "ldr p0, [{p}]",
                ffr = in(reg) state.ffr.as_mut_ptr(),
                p = in(reg) p,
                options(nostack, preserves_flags)
            )
        };
    }
}

/// Loads what [`sve_save`] stored, at the same vector length (the caller's
/// job: ZCR_ELx / SMCR_ELx and PSTATE.SM as they were when saved).
pub fn sve_restore(state: &SveState, with_ffr: bool) {
    let p = state.p.as_ptr();
    if with_ffr {
        // SAFETY: loads one predicate from `ffr` (VL / 8 <= FFR_BYTES) into
        // FFR through P0, which the next block reloads.
        unsafe {
            asm!(
                ".arch_extension sve",
                "ldr p0, [{ffr}]",
                "wrffr p0.b",
                ffr = in(reg) state.ffr.as_ptr(),
                options(readonly, nostack, preserves_flags)
            )
        };
    }
    // SAFETY: the loads stay inside `z` and `p` (see sve_save); only the
    // vector registers, FPSR and FPCR change, which no compiled code of a
    // soft-float kernel holds values in.
    unsafe {
        asm!(
            ".arch_extension sve",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
            "ldr p\\i, [{p}, #\\i, mul vl]",
            ".endr",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "ldr z\\i, [{z}, #\\i, mul vl]",
            ".endr",
            "ldr {t}, [{fp}]",
            "msr S3_3_C4_C4_1, {t}",
            "ldr {t}, [{fp}, #8]",
            "msr S3_3_C4_C4_0, {t}",
            z = in(reg) state.z.as_ptr(),
            p = in(reg) p,
            fp = in(reg) &raw const state.fpsr,
            t = out(reg) _,
            options(readonly, nostack, preserves_flags)
        )
    };
}

/// SMSTOP SM: leaves Streaming SVE mode. Z0-Z31, P0-P15 and FFR become zero
/// and FPSR its reset value; PSTATE.ZA (and ZA's content) is unchanged.
#[inline(always)]
pub fn smstop_sm() {
    // SAFETY: changes PSTATE.SM and the vector registers only, which no
    // compiled code of a soft-float kernel holds values in.
    unsafe {
        asm!(
            ".arch_extension sme",
            "smstop sm",
            options(nomem, nostack, preserves_flags)
        )
    }
}

/// SMSTART SM: enters Streaming SVE mode with zeroed vector registers.
#[inline(always)]
pub fn smstart_sm() {
    // SAFETY: as for smstop_sm.
    unsafe {
        asm!(
            ".arch_extension sme",
            "smstart sm",
            options(nomem, nostack, preserves_flags)
        )
    }
}
