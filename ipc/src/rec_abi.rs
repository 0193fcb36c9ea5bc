//! The REC parts of the RMI ABI (RMM specification 1.0, B4.4.15-B4.4.19):
//! RmiRecParams (REC_CREATE's parameters) and RmiRecRun (REC_ENTER's
//! entry and exit record), both 4 KB structures in NS granules, as byte
//! offsets plus typed views that read and write them.

use crate::lease::Granule;

/// RmiRecParams (B4.4.16).
pub mod params {
    pub const FLAGS: usize = 0x000;
    pub const MPIDR: usize = 0x100;
    pub const PC: usize = 0x200;
    pub const GPRS: usize = 0x300;
    pub const NUM_GPRS: usize = 8;
    pub const NUM_AUX: usize = 0x800;
    pub const AUX: usize = 0x808;
    /// RmiRecCreateFlags bit 0: the REC may be entered.
    pub const FLAG_RUNNABLE: u64 = 1;
}

/// Most auxiliary granules a REC can have (the array size of RmiRecParams).
pub const MAX_AUX: usize = 16;

/// RmiRecEnter (B4.4.18), at offset 0 of RmiRecRun.
pub mod entry {
    pub const FLAGS: usize = 0x000;
    pub const GPRS: usize = 0x200;
    pub const GICV3_HCR: usize = 0x300;
    pub const GICV3_LRS: usize = 0x308;
    /// RmiRecEnterFlags.
    pub const FLAG_EMUL_MMIO: u64 = 1 << 0;
    pub const FLAG_INJECT_SEA: u64 = 1 << 1;
    pub const FLAG_TRAP_WFI: u64 = 1 << 2;
    pub const FLAG_TRAP_WFE: u64 = 1 << 3;
    pub const FLAG_RIPAS_RESPONSE: u64 = 1 << 4;
}

/// RmiRecExit (B4.4.19), at offset 0x800 of RmiRecRun.
pub mod exit {
    pub const BASE: usize = 0x800;
    pub const REASON: usize = 0x800;
    pub const ESR: usize = 0x900;
    pub const FAR: usize = 0x908;
    pub const HPFAR: usize = 0x910;
    pub const GPRS: usize = 0xa00;
    pub const GICV3_HCR: usize = 0xb00;
    pub const GICV3_LRS: usize = 0xb08;
    pub const GICV3_MISR: usize = 0xb88;
    pub const GICV3_VMCR: usize = 0xb90;
    pub const CNTP_CTL: usize = 0xc00;
    pub const CNTP_CVAL: usize = 0xc08;
    pub const CNTV_CTL: usize = 0xc10;
    pub const CNTV_CVAL: usize = 0xc18;
    pub const RIPAS_BASE: usize = 0xd00;
    pub const RIPAS_TOP: usize = 0xd08;
    pub const RIPAS_VALUE: usize = 0xd10;
    pub const IMM: usize = 0xe00;
    pub const PMU_OVF_STATUS: usize = 0xf00;
    pub const SIZE: usize = 0x800;

    /// RmiRecExitReason (B4.4.17).
    pub const SYNC: u64 = 0;
    pub const IRQ: u64 = 1;
    pub const FIQ: u64 = 2;
    pub const PSCI: u64 = 3;
    pub const RIPAS_CHANGE: u64 = 4;
    pub const HOST_CALL: u64 = 5;
    pub const SERROR: u64 = 6;
}

/// GPRs exchanged through RmiRecEnter / RmiRecExit.
pub const RUN_GPRS: usize = 31;
/// List registers in RmiRecEnter / RmiRecExit.
pub const RUN_LRS: usize = 16;

/// The little-endian word at byte `offset` of `b`; 0 past its end.
fn le_u64(b: &[u8], offset: usize) -> u64 {
    b.get(offset..offset + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// REC_CREATE's parameters as the RMM reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RecParams {
    pub flags: u64,
    pub mpidr: u64,
    pub pc: u64,
    pub gprs: [u64; params::NUM_GPRS],
    pub num_aux: u64,
    pub aux: [u64; MAX_AUX],
}

impl RecParams {
    /// Bytes of RmiRecParams that hold fields (the rest is SBZ).
    pub const SIZE: usize = params::AUX + 8 * MAX_AUX;

    pub fn read(g: &Granule) -> Self {
        Self::from_bytes(&g.bytes()[..Self::SIZE])
    }

    /// From the first [`Self::SIZE`] bytes of an RmiRecParams.
    pub fn from_bytes(b: &[u8]) -> Self {
        let at = |o| le_u64(b, o);
        let mut p = RecParams {
            flags: at(params::FLAGS),
            mpidr: at(params::MPIDR),
            pc: at(params::PC),
            num_aux: at(params::NUM_AUX),
            ..Default::default()
        };
        for (i, r) in p.gprs.iter_mut().enumerate() {
            *r = at(params::GPRS + 8 * i);
        }
        for (i, a) in p.aux.iter_mut().enumerate() {
            *a = at(params::AUX + 8 * i);
        }
        p
    }

    pub fn write(&self, g: &mut Granule) {
        g.set_u64_at(params::FLAGS, self.flags);
        g.set_u64_at(params::MPIDR, self.mpidr);
        g.set_u64_at(params::PC, self.pc);
        g.set_u64_at(params::NUM_AUX, self.num_aux);
        for (i, r) in self.gprs.iter().enumerate() {
            g.set_u64_at(params::GPRS + 8 * i, *r);
        }
        for (i, a) in self.aux.iter().enumerate() {
            g.set_u64_at(params::AUX + 8 * i, *a);
        }
    }
}

/// The entry half of RmiRecRun: what the host passes on REC_ENTER.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RecEntry {
    pub flags: u64,
    pub gprs: [u64; RUN_GPRS],
    pub gicv3_hcr: u64,
    pub gicv3_lrs: [u64; RUN_LRS],
}

impl RecEntry {
    /// Bytes of RmiRecRun that the entry half occupies.
    pub const SIZE: usize = exit::BASE;

    pub fn read(b: &[u8]) -> Self {
        let at = |o| le_u64(b, o);
        let mut e = RecEntry {
            flags: at(entry::FLAGS),
            gicv3_hcr: at(entry::GICV3_HCR),
            ..Default::default()
        };
        for (i, r) in e.gprs.iter_mut().enumerate() {
            *r = at(entry::GPRS + 8 * i);
        }
        for (i, r) in e.gicv3_lrs.iter_mut().enumerate() {
            *r = at(entry::GICV3_LRS + 8 * i);
        }
        e
    }

    pub fn write(&self, g: &mut Granule) {
        g.set_u64_at(entry::FLAGS, self.flags);
        g.set_u64_at(entry::GICV3_HCR, self.gicv3_hcr);
        for (i, r) in self.gprs.iter().enumerate() {
            g.set_u64_at(entry::GPRS + 8 * i, *r);
        }
        for (i, r) in self.gicv3_lrs.iter().enumerate() {
            g.set_u64_at(entry::GICV3_LRS + 8 * i, *r);
        }
    }
}

/// The exit half of RmiRecRun: what the RMM reports when REC_ENTER returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RecExit {
    pub reason: u64,
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
    pub gprs: [u64; RUN_GPRS],
    pub gicv3_hcr: u64,
    pub gicv3_lrs: [u64; RUN_LRS],
    pub gicv3_misr: u64,
    pub gicv3_vmcr: u64,
    pub cntp_ctl: u64,
    pub cntp_cval: u64,
    pub cntv_ctl: u64,
    pub cntv_cval: u64,
    pub ripas_base: u64,
    pub ripas_top: u64,
    pub ripas_value: u8,
    pub imm: u32,
    pub pmu_ovf_status: u64,
}

impl RecExit {
    /// The exit record as the 2 KB it occupies (offsets relative to
    /// [`exit::BASE`]); every byte not named by a field is zero.
    pub fn to_bytes(&self) -> [u8; exit::SIZE] {
        let mut b = [0u8; exit::SIZE];
        let mut put = |o: usize, v: u64| {
            let o = o - exit::BASE;
            b[o..o + 8].copy_from_slice(&v.to_le_bytes());
        };
        put(exit::REASON, self.reason);
        put(exit::ESR, self.esr);
        put(exit::FAR, self.far);
        put(exit::HPFAR, self.hpfar);
        for (i, r) in self.gprs.iter().enumerate() {
            put(exit::GPRS + 8 * i, *r);
        }
        put(exit::GICV3_HCR, self.gicv3_hcr);
        for (i, r) in self.gicv3_lrs.iter().enumerate() {
            put(exit::GICV3_LRS + 8 * i, *r);
        }
        put(exit::GICV3_MISR, self.gicv3_misr);
        put(exit::GICV3_VMCR, self.gicv3_vmcr);
        put(exit::CNTP_CTL, self.cntp_ctl);
        put(exit::CNTP_CVAL, self.cntp_cval);
        put(exit::CNTV_CTL, self.cntv_ctl);
        put(exit::CNTV_CVAL, self.cntv_cval);
        put(exit::RIPAS_BASE, self.ripas_base);
        put(exit::RIPAS_TOP, self.ripas_top);
        put(exit::RIPAS_VALUE, u64::from(self.ripas_value));
        put(exit::IMM, u64::from(self.imm));
        put(exit::PMU_OVF_STATUS, self.pmu_ovf_status);
        b
    }

    /// Reads the exit half of a whole RmiRecRun granule (the host's view).
    pub fn read(g: &Granule) -> Self {
        let mut x = RecExit {
            reason: g.u64_at(exit::REASON),
            esr: g.u64_at(exit::ESR),
            far: g.u64_at(exit::FAR),
            hpfar: g.u64_at(exit::HPFAR),
            gicv3_hcr: g.u64_at(exit::GICV3_HCR),
            gicv3_misr: g.u64_at(exit::GICV3_MISR),
            gicv3_vmcr: g.u64_at(exit::GICV3_VMCR),
            cntp_ctl: g.u64_at(exit::CNTP_CTL),
            cntp_cval: g.u64_at(exit::CNTP_CVAL),
            cntv_ctl: g.u64_at(exit::CNTV_CTL),
            cntv_cval: g.u64_at(exit::CNTV_CVAL),
            ripas_base: g.u64_at(exit::RIPAS_BASE),
            ripas_top: g.u64_at(exit::RIPAS_TOP),
            ripas_value: g.u64_at(exit::RIPAS_VALUE) as u8,
            imm: g.u64_at(exit::IMM) as u32,
            pmu_ovf_status: g.u64_at(exit::PMU_OVF_STATUS),
            ..Default::default()
        };
        for (i, r) in x.gprs.iter_mut().enumerate() {
            *r = g.u64_at(exit::GPRS + 8 * i);
        }
        for (i, r) in x.gicv3_lrs.iter_mut().enumerate() {
            *r = g.u64_at(exit::GICV3_LRS + 8 * i);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip_at_spec_offsets() {
        let mut p = RecParams {
            flags: 1,
            mpidr: 0x0102,
            pc: 0x8000_0000,
            num_aux: 2,
            ..Default::default()
        };
        p.gprs[7] = 77;
        p.aux[15] = 0x1234_5000;
        let mut g = Granule::ZERO;
        p.write(&mut g);
        assert_eq!(g.u64_at(0x100), 0x0102);
        assert_eq!(g.u64_at(0x338), 77);
        assert_eq!(g.u64_at(0x880), 0x1234_5000);
        assert_eq!(RecParams::read(&g), p);
    }

    #[test]
    fn entry_and_exit_at_spec_offsets() {
        let mut e = RecEntry {
            flags: entry::FLAG_EMUL_MMIO | entry::FLAG_TRAP_WFI,
            gicv3_hcr: 2,
            ..Default::default()
        };
        e.gprs[30] = 30;
        e.gicv3_lrs[15] = 15;
        let mut g = Granule::ZERO;
        e.write(&mut g);
        assert_eq!(g.u64_at(0x2f0), 30);
        assert_eq!(g.u64_at(0x380), 15);
        assert_eq!(RecEntry::read(g.bytes()), e);

        let mut x = RecExit {
            reason: exit::HOST_CALL,
            imm: 0xbeef,
            ripas_value: 1,
            cntv_cval: 9,
            ..Default::default()
        };
        x.gprs[0] = 5;
        let bytes = x.to_bytes();
        g.bytes_mut()[exit::BASE..].copy_from_slice(&bytes);
        assert_eq!(g.u64_at(0xe00), 0xbeef);
        assert_eq!(g.u64_at(0xa00), 5);
        assert_eq!(g.u64_at(0xc18), 9);
        assert_eq!(RecExit::read(&g), x);
    }
}
