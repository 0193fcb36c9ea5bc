//! Architectural encodings the REC service needs: ESR_EL2 fields and the
//! masks of what a host may see (RMM spec 1.0, A7.2-A7.4), HPFAR, and the
//! initial EL1/EL2 register values of a REC.

use rampart_ipc::rec::RecContext;

pub const EC_SHIFT: u32 = 26;
pub const EC_MASK: u64 = 0x3f << EC_SHIFT;
pub const EC_WFX: u64 = 0x01;
pub const EC_HVC64: u64 = 0x16;
pub const EC_SMC64: u64 = 0x17;
pub const EC_SYSREG: u64 = 0x18;
pub const EC_SVE: u64 = 0x19;
pub const EC_SME: u64 = 0x1d;
pub const EC_IABT_LOWER: u64 = 0x20;
pub const EC_IABT_SAME: u64 = 0x21;
pub const EC_DABT_LOWER: u64 = 0x24;
pub const EC_DABT_SAME: u64 = 0x25;
pub const EC_UNKNOWN: u64 = 0x00;

pub const IL: u64 = 1 << 25;
pub const ISV: u64 = 1 << 24;
pub const SAS_SHIFT: u32 = 22;
pub const SAS_MASK: u64 = 3 << SAS_SHIFT;
pub const SSE: u64 = 1 << 21;
pub const SRT_SHIFT: u32 = 16;
pub const SF: u64 = 1 << 15;
pub const SET_MASK: u64 = 3 << 11;
pub const FNV: u64 = 1 << 10;
pub const EA: u64 = 1 << 9;
pub const WNR: u64 = 1 << 6;
pub const FSC_MASK: u64 = 0x3f;
/// WFx: TI bit 0 (WFE when set).
pub const WFX_TI: u64 = 1;

pub const FSC_TRANSLATION_L0: u64 = 0x04;
pub const FSC_SEA: u64 = 0x10;

/// What the host sees of an abort it cannot emulate.
pub const NONEMULATED_ABORT_MASK: u64 = EC_MASK | SET_MASK | FNV | EA | FSC_MASK;
/// What the host sees of an abort it can emulate (an unprotected IPA).
pub const EMULATED_ABORT_MASK: u64 = NONEMULATED_ABORT_MASK | ISV | SAS_MASK | SF | WNR;

/// SError ESR fields the host sees: IDS, AET, EA, DFSC.
pub const SERROR_MASK: u64 = 1 << 24 | 7 << 10 | EA | 0x3f;

pub const fn ec(esr: u64) -> u64 {
    (esr & EC_MASK) >> EC_SHIFT
}

/// The faulting IPA from HPFAR_EL2 (FIPA, bits [43:4] = IPA[51:12]).
pub const fn hpfar_ipa(hpfar: u64) -> u64 {
    ((hpfar >> 4) & ((1 << 40) - 1)) << 12
}

/// HPFAR_EL2's encoding of an IPA.
pub const fn ipa_hpfar(ipa: u64) -> u64 {
    (ipa >> 12) << 4
}

/// Bytes an ISV data abort accesses.
pub const fn access_len(esr: u64) -> u32 {
    1 << ((esr & SAS_MASK) >> SAS_SHIFT)
}

pub const fn access_mask(esr: u64) -> u64 {
    match access_len(esr) {
        8 => u64::MAX,
        n => (1 << (n * 8)) - 1,
    }
}

pub const fn srt(esr: u64) -> usize {
    ((esr >> SRT_SHIFT) & 0x1f) as usize
}

/// PSTATE of a REC at reset: EL1h, AArch64, D, A, I and F masked.
pub const PSTATE_RESET: u64 = 0x3c5;

/// SCTLR_EL1 of a REC at reset: MMU and caches off, RES1 bits, SPAN,
/// nTWE/nTWI (WFx not trapped at EL1), EIS/EOS, CP15BEN, SA0, SA.
pub const SCTLR_EL1_RESET: u64 = 0x30d5_0838;
pub const SCTLR_EE: u64 = 1 << 25;

/// VMPIDR_EL2 RES1 bit.
const VMPIDR_RES1: u64 = 1 << 31;

/// RmiRecMpidr fields: Aff0 [3:0], Aff1 [15:8], Aff2 [23:16], Aff3 [31:24].
const RMI_MPIDR_MASK: u64 = 0xf | 0xff << 8 | 0xff << 16 | 0xff << 24;

pub const fn rmi_mpidr_valid(mpidr: u64) -> bool {
    mpidr & !RMI_MPIDR_MASK == 0
}

/// RecIndex (B4.4.15): Aff0 + 16 * (Aff1 + 256 * (Aff2 + 256 * Aff3)).
pub const fn rmi_mpidr_index(mpidr: u64) -> u64 {
    (mpidr & 0xf)
        | (mpidr >> 8 & 0xff) << 4
        | (mpidr >> 16 & 0xff) << 12
        | (mpidr >> 24 & 0xff) << 20
}

/// The REC index a realm names with an MPIDR_EL1 value (PSCI arguments).
pub const fn mpidr_index(mpidr: u64) -> u64 {
    (mpidr & 0xf)
        | (mpidr >> 8 & 0xff) << 4
        | (mpidr >> 16 & 0xff) << 12
        | (mpidr >> 32 & 0xff) << 20
}

/// The MPIDR_EL1 a REC reads (VMPIDR_EL2).
pub const fn vmpidr(rmi_mpidr: u64) -> u64 {
    (rmi_mpidr & 0xff_ffff) | (rmi_mpidr >> 24 & 0xff) << 32 | VMPIDR_RES1
}

/// HCR_EL2 while a REC runs: FWB, TEA, API/APK (pointer authentication
/// not trapped: the kernel switches the keys), RW, TSC (SMC is RSI), BSU
/// inner shareable, AMO/IMO/FMO (physical interrupts exit to the host),
/// PTW, SWIO, VM. TWI/TWE come from the host per entry.
pub const HCR_REALM: u64 = 1 << 46
    | 1 << 37
    | 1 << 41
    | 1 << 40
    | 1 << 31
    | 1 << 19
    | 1 << 10
    | 1 << 5
    | 1 << 4
    | 1 << 3
    | 1 << 2
    | 1 << 1
    | 1;
pub const HCR_TWI: u64 = 1 << 13;
pub const HCR_TWE: u64 = 1 << 14;

/// VTCR_EL2 for a realm: 4 KB granule, `64 - ipa_width` T0SZ, the start
/// level's SL0, inner-shareable write-back walks, PS from the CPU's PA
/// range, 16-bit VMIDs when present.
pub fn vtcr(ipa_width: u8, start_level: i8, pa_range: u8, vmid16: bool) -> u64 {
    let sl0 = match start_level {
        0 => 2,
        1 => 1,
        2 => 0,
        _ => 3,
    };
    let t0sz = 64 - u64::from(ipa_width);
    let irgn_orgn_sh = 1 << 8 | 1 << 10 | 3 << 12;
    1 << 31
        | u64::from(vmid16) << 19
        | u64::from(pa_range.min(6)) << 16
        | irgn_orgn_sh
        | sl0 << 6
        | t0sz
}

/// Vector offsets from VBAR_EL1 for an exception taken from `pstate`.
fn vector_offset(pstate: u64) -> u64 {
    match pstate & 0x1f {
        0b0101 => 0x200, // EL1h: current EL with SP_ELx
        0b0100 => 0x000, // EL1t: current EL with SP_EL0
        _ => 0x400,      // EL0 (AArch64)
    }
}

/// Delivers a synchronous exception to the realm's EL1 the way the CPU
/// would: ESR_EL1/FAR_EL1, ELR_EL1 = the faulting PC, SPSR_EL1 = PSTATE,
/// then EL1h with DAIF masked at the vector.
pub fn inject_sync(ctx: &mut RecContext, esr: u64, far: Option<u64>) {
    let offset = vector_offset(ctx.pstate);
    ctx.el1.esr_el1 = esr;
    if let Some(far) = far {
        ctx.el1.far_el1 = far;
    }
    ctx.el1.elr_el1 = ctx.pc;
    ctx.el1.spsr_el1 = ctx.pstate;
    ctx.pstate = PSTATE_RESET;
    ctx.pc = ctx.el1.vbar_el1 + offset;
}

/// UNDEFINED instruction at the realm's PC.
pub fn inject_undef(ctx: &mut RecContext) {
    inject_sync(ctx, EC_UNKNOWN << EC_SHIFT | IL, None);
}

/// Synchronous external abort on the data access (or instruction fetch)
/// the realm just tried.
pub fn inject_sea(ctx: &mut RecContext, esr: u64, far: u64) {
    let from_el0 = ctx.pstate & 0x1f == 0;
    let ec = match (ec(esr), from_el0) {
        (EC_IABT_LOWER, true) => EC_IABT_LOWER,
        (EC_IABT_LOWER, false) => EC_IABT_SAME,
        (_, true) => EC_DABT_LOWER,
        (_, false) => EC_DABT_SAME,
    };
    let wnr = if matches!(ec, EC_DABT_LOWER | EC_DABT_SAME) {
        esr & WNR
    } else {
        0
    };
    // EA (ESR bit 9): an external abort; realms check it.
    inject_sync(ctx, ec << EC_SHIFT | IL | EA | wnr | FSC_SEA, Some(far));
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytemuck::Zeroable;

    #[test]
    fn mpidr_encodings() {
        assert!(rmi_mpidr_valid(0x0102_0304));
        assert!(!rmi_mpidr_valid(0x10));
        assert!(!rmi_mpidr_valid(1 << 32));
        assert_eq!(rmi_mpidr_index(0), 0);
        assert_eq!(rmi_mpidr_index(0xf), 15);
        assert_eq!(rmi_mpidr_index(0x100), 16);
        assert_eq!(rmi_mpidr_index(0x0100_0000), 1 << 20);
        assert_eq!(mpidr_index(1 << 32), 1 << 20);
        assert_eq!(vmpidr(0x0100_0203), 1 << 31 | 1 << 32 | 0x203);
    }

    #[test]
    fn abort_fields() {
        let esr = EC_DABT_LOWER << EC_SHIFT | ISV | 2 << SAS_SHIFT | 5 << SRT_SHIFT | WNR;
        assert_eq!(ec(esr), EC_DABT_LOWER);
        assert_eq!(access_len(esr), 4);
        assert_eq!(access_mask(esr), 0xffff_ffff);
        assert_eq!(srt(esr), 5);
        assert_eq!(hpfar_ipa(ipa_hpfar(0x80_0900_0000)), 0x80_0900_0000);
    }

    #[test]
    fn vtcr_fields() {
        let v = vtcr(40, 1, 5, true);
        assert_eq!(v & 0x3f, 24);
        assert_eq!((v >> 6) & 3, 1);
        assert_eq!((v >> 16) & 7, 5);
        assert_eq!((v >> 19) & 1, 1);
        assert_eq!(vtcr(48, 0, 2, false) >> 6 & 3, 2);
    }

    #[test]
    fn injection_enters_the_el1_vector() {
        let mut ctx = RecContext::zeroed();
        ctx.pc = 0x4000_1000;
        ctx.pstate = 0x5;
        ctx.el1.vbar_el1 = 0x4000_8000;
        inject_sea(&mut ctx, EC_DABT_LOWER << EC_SHIFT | WNR, 0x1234);
        assert_eq!(ctx.pc, 0x4000_8200);
        assert_eq!(ctx.el1.elr_el1, 0x4000_1000);
        assert_eq!(ctx.el1.spsr_el1, 0x5);
        assert_eq!(ec(ctx.el1.esr_el1), EC_DABT_SAME);
        assert_eq!(ctx.el1.esr_el1 & (FSC_MASK | WNR | EA), FSC_SEA | WNR | EA);
        assert_eq!(ctx.el1.far_el1, 0x1234);
        assert_eq!(ctx.pstate, PSTATE_RESET);
        inject_undef(&mut ctx);
        assert_eq!(ec(ctx.el1.esr_el1), EC_UNKNOWN);
        assert_eq!(ctx.el1.elr_el1, 0x4000_8200);
    }
}
