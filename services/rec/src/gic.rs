//! The GICv3 virtual CPU interface as the host may drive it (RMM spec 1.0,
//! A6.2 and RmiRecEnter/RmiRecExit's GIC fields): which ICH_HCR_EL2 bits
//! and list-register values the host may pass, and what it sees back.

use rampart_ipc::rec::GicRegs;
use rampart_ipc::rec_abi::RecEntry;

/// ICH_HCR_EL2 bits the host controls: UIE, LRENPIE, NPIE, VGrp0EIE,
/// VGrp0DIE, VGrp1EIE, VGrp1DIE, TDIR.
pub const HCR_HOST_MASK: u64 = 0b1111_1110 | 1 << 14;
pub const HCR_EN: u64 = 1 << 0;
/// vSGIEOICount (no vSGIs without GICv4.1) and DVIM (no direct injection).
pub const HCR_INIT: u64 = HCR_EN | 1 << 8 | 1 << 15;
/// ICH_HCR_EL2.EOIcount, reported back to the host.
pub const HCR_EOI_COUNT: u64 = 0x1f << 27;

const LR_STATE_SHIFT: u32 = 62;
const LR_HW: u64 = 1 << 61;
const LR_PRIORITY_SHIFT: u32 = 48;
/// pINTID, which must be zero except for its EOI bit (HW is 0).
const LR_PINTID: u64 = 0x1fff << 32;
const LR_EOI: u64 = 1 << 41;

/// What this CPU's GIC implements (ICH_VTR_EL2, ICC_CTLR_EL1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GicFeatures {
    /// List registers implemented (1-16).
    pub num_lrs: usize,
    /// Virtual priority bits (ICH_VTR_EL2.PRIbits + 1).
    pub pri_bits: u32,
    /// 16 or 24 virtual INTID bits.
    pub id_bits: u32,
    /// Extended SPI/PPI ranges.
    pub ext_range: bool,
}

impl GicFeatures {
    /// From ICH_VTR_EL2 and ICC_CTLR_EL1.
    pub fn from_regs(ich_vtr: u64, icc_ctlr: u64) -> Self {
        Self {
            num_lrs: (ich_vtr & 0x1f) as usize + 1,
            pri_bits: ((ich_vtr >> 29) & 7) as u32 + 1,
            id_bits: if (ich_vtr >> 23) & 7 == 0 { 16 } else { 24 },
            ext_range: icc_ctlr & (1 << 19) != 0,
        }
    }

    fn valid_vintid(&self, intid: u64) -> bool {
        let max = (1u64 << self.id_bits) - 1;
        intid <= 1019
            || (8192..=max).contains(&intid)
            || (self.ext_range
                && ((1056..=1119).contains(&intid) || (4096..=5119).contains(&intid)))
    }

    /// The host's GIC state on REC entry is acceptable: no ICH_HCR_EL2 bit
    /// outside [`HCR_HOST_MASK`]; each valid list register has HW clear,
    /// no pINTID bit but EOI, no unimplemented priority bit, a vINTID the
    /// GIC supports, and no vINTID appears in two valid list registers.
    pub fn validate(&self, entry: &RecEntry) -> bool {
        if entry.gicv3_hcr & !HCR_HOST_MASK != 0 {
            return false;
        }
        let lrs = &entry.gicv3_lrs[..self.num_lrs.min(16)];
        let pri_res0 = (1u64 << (8 - self.pri_bits.min(8))) - 1;
        for (i, &lr) in lrs.iter().enumerate() {
            if lr >> LR_STATE_SHIFT == 0 {
                continue;
            }
            let intid = lr & 0xffff_ffff;
            if lr & LR_HW != 0
                || (lr >> LR_PRIORITY_SHIFT) & 0xff & pri_res0 != 0
                || lr & LR_PINTID & !LR_EOI != 0
                || !self.valid_vintid(intid)
            {
                return false;
            }
            let duplicate = lrs[i + 1..]
                .iter()
                .any(|&other| other >> LR_STATE_SHIFT != 0 && other & 0xffff_ffff == intid);
            if duplicate {
                return false;
            }
        }
        true
    }

    /// Takes the host's list registers and its ICH_HCR_EL2 bits.
    pub fn apply_entry(&self, gic: &mut GicRegs, entry: &RecEntry) {
        let n = self.num_lrs.min(16);
        gic.lrs[..n].copy_from_slice(&entry.gicv3_lrs[..n]);
        gic.hcr = (gic.hcr & !HCR_HOST_MASK) | (entry.gicv3_hcr & HCR_HOST_MASK);
    }

    /// What the host sees on exit: the list registers, MISR, VMCR, and of
    /// ICH_HCR_EL2 only EOIcount and its own bits.
    pub fn exit_view(&self, gic: &GicRegs) -> ([u64; 16], u64, u64, u64) {
        let mut lrs = [0u64; 16];
        let n = self.num_lrs.min(16);
        lrs[..n].copy_from_slice(&gic.lrs[..n]);
        (
            lrs,
            gic.hcr & (HCR_EOI_COUNT | HCR_HOST_MASK),
            gic.misr,
            gic.vmcr,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gic() -> GicFeatures {
        // 4 LRs, 5 priority bits, 16-bit IDs (QEMU's GICv3).
        GicFeatures::from_regs(0x9000_0003, 0)
    }

    fn pending(intid: u64) -> u64 {
        1 << 62 | 1 << 60 | 0xa0 << 48 | intid
    }

    #[test]
    fn features_from_registers() {
        let g = gic();
        assert_eq!(
            (g.num_lrs, g.pri_bits, g.id_bits, g.ext_range),
            (4, 5, 16, false)
        );
        let g = GicFeatures::from_regs(0x0080_000f, 1 << 19);
        assert_eq!(
            (g.num_lrs, g.pri_bits, g.id_bits, g.ext_range),
            (16, 1, 24, true)
        );
    }

    #[test]
    fn host_hcr_bits() {
        let mut e = RecEntry {
            gicv3_hcr: HCR_HOST_MASK,
            ..Default::default()
        };
        assert!(gic().validate(&e));
        for bit in [0, 8, 10, 11, 12, 13, 15, 27] {
            e.gicv3_hcr = 1 << bit;
            assert!(!gic().validate(&e), "bit {bit}");
        }
    }

    #[test]
    fn list_register_rules() {
        let g = gic();
        let check = |lrs: &[u64]| {
            let mut e = RecEntry::default();
            e.gicv3_lrs[..lrs.len()].copy_from_slice(lrs);
            g.validate(&e)
        };
        assert!(check(&[pending(27), pending(40), 0, 0]));
        assert!(check(&[pending(8192)]));
        assert!(!check(&[pending(27) | LR_HW]));
        assert!(!check(&[pending(27) | 1 << 32]));
        assert!(check(&[pending(27) | LR_EOI]));
        // 5 priority bits: priority bits [2:0] are RES0.
        assert!(!check(&[pending(27) | 1 << 48]));
        assert!(!check(&[pending(1020)]));
        assert!(!check(&[pending(1 << 16)]));
        assert!(!check(&[pending(27), pending(27)]));
        // A duplicate in an invalid LR does not count.
        assert!(check(&[pending(27), 27]));
        // LRs beyond those implemented are ignored.
        let mut e = RecEntry::default();
        e.gicv3_lrs[5] = pending(27) | LR_HW;
        assert!(g.validate(&e));
        // Extended ranges only with ExtRange.
        assert!(!check(&[pending(4096)]));
        let ext = GicFeatures::from_regs(0x9000_0003, 1 << 19);
        let mut e = RecEntry::default();
        e.gicv3_lrs[0] = pending(4096);
        assert!(ext.validate(&e));
    }

    #[test]
    fn entry_and_exit_views() {
        let g = gic();
        let mut regs = GicRegs {
            hcr: HCR_INIT | 1 << 11,
            ..Default::default()
        };
        let mut e = RecEntry {
            gicv3_hcr: 1 << 1,
            ..Default::default()
        };
        e.gicv3_lrs[0] = pending(27);
        e.gicv3_lrs[7] = pending(28);
        g.apply_entry(&mut regs, &e);
        assert_eq!(regs.hcr, HCR_INIT | 1 << 11 | 1 << 1);
        assert_eq!(regs.lrs[0], pending(27));
        assert_eq!(regs.lrs[7], 0);
        regs.hcr |= 3 << 27;
        regs.lrs[5] = 99;
        let (lrs, hcr, _, _) = g.exit_view(&regs);
        assert_eq!(hcr, 1 << 1 | 3 << 27);
        assert_eq!(lrs[0], pending(27));
        assert_eq!(lrs[5], 0);
    }
}
