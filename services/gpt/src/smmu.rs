//! Granule protection checks in an RME-capable SMMUv3: the SMMU walks the
//! same GPT as the CPUs, so that a device cannot reach memory its PAS
//! forbids. Root programs the SMMU's Root registers from GPCCR_EL3 and
//! GPTBR_EL3 once the CPU's GPT is enabled (SMMUv3.3 Root register page,
//! SMMU_ROOT_*; the sequence and the Root page offset per board are the
//! ones TF-A's `drivers/arm/smmu/smmu_v3.c` `smmuv3_init` uses).

use crate::arch::GPCCR_GPC;

/// SMMU_S_INIT (Secure page; on an RME SMMU reachable from Root) and its
/// INV_ALL bit, which also drops GPT information cached in the SMMU's TLBs.
pub const SMMU_S_INIT: usize = 0x803c;
pub const SMMU_S_INIT_INV_ALL: u32 = 1 << 0;
/// Root page registers, as offsets into that page.
pub const SMMU_ROOT_IDR0: usize = 0x00;
pub const SMMU_ROOT_IDR0_ROOT_IMPL: u32 = 1 << 0;
pub const SMMU_ROOT_CR0: usize = 0x20;
pub const SMMU_ROOT_CR0ACK: usize = 0x24;
pub const SMMU_ROOT_GPT_BASE: usize = 0x28;
pub const SMMU_ROOT_GPT_BASE_CFG: usize = 0x30;
pub const SMMU_ROOT_CR0_ACCESSEN: u32 = 1 << 0;
pub const SMMU_ROOT_CR0_GPCEN: u32 = 1 << 1;

/// Register access to one SMMU. Offsets are from the SMMU's base for
/// `page0_*` and from its Root page for `root_*`.
pub trait SmmuRegs {
    fn page0_read32(&mut self, offset: usize) -> u32;
    fn page0_write32(&mut self, offset: usize, value: u32);
    fn root_read32(&mut self, offset: usize) -> u32;
    fn root_write32(&mut self, offset: usize, value: u32);
    fn root_write64(&mut self, offset: usize, value: u64);
}

/// What enabling did, for the boot log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SmmuGpc {
    /// GPC and access enabled.
    Enabled,
    /// SMMU_ROOT_IDR0.ROOT_IMPL is 0: no Root registers, nothing to do.
    NoRootRegisters,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SmmuGpcError {
    /// The global invalidation did not complete in time.
    InvalidateTimeout,
    /// SMMU_ROOT_CR0ACK did not acknowledge GPCEN.
    GpcEnableTimeout,
    /// SMMU_ROOT_CR0ACK did not acknowledge ACCESSEN.
    AccessEnableTimeout,
}

fn poll(mut read: impl FnMut() -> u32, mask: u32, expect: u32, spins: u32) -> Result<(), ()> {
    for _ in 0..spins {
        if read() & mask == expect {
            return Ok(());
        }
    }
    Err(())
}

/// Invalidates the SMMU's caches, then points it at the CPU's GPT and
/// turns granule protection checks on, then lets accesses through: GPCEN
/// is set and acknowledged before ACCESSEN, so no access slips past
/// unchecked. Every wait is bounded by `spins` reads.
pub fn enable_gpc(
    regs: &mut impl SmmuRegs,
    gpccr_el3: u64,
    gptbr_el3: u64,
    spins: u32,
) -> Result<SmmuGpc, SmmuGpcError> {
    regs.page0_write32(SMMU_S_INIT, SMMU_S_INIT_INV_ALL);
    poll(
        || regs.page0_read32(SMMU_S_INIT),
        SMMU_S_INIT_INV_ALL,
        0,
        spins,
    )
    .map_err(|()| SmmuGpcError::InvalidateTimeout)?;
    if regs.root_read32(SMMU_ROOT_IDR0) & SMMU_ROOT_IDR0_ROOT_IMPL == 0 {
        return Ok(SmmuGpc::NoRootRegisters);
    }
    // GPCCR_EL3.GPC (bit 16) is RES0 in SMMU_ROOT_GPT_BASE_CFG. The SMMU
    // takes a 32-bit write of the configuration (TF-A notes that
    // the model rejects a 64-bit one); the fields all live in [31:0].
    regs.root_write32(SMMU_ROOT_GPT_BASE_CFG, (gpccr_el3 & !GPCCR_GPC) as u32);
    // GPTBR_EL3 holds PA[51:12] in [39:0]; SMMU_ROOT_GPT_BASE holds the PA.
    regs.root_write64(SMMU_ROOT_GPT_BASE, gptbr_el3 << 12);
    let cr0 = regs.root_read32(SMMU_ROOT_CR0);
    regs.root_write32(SMMU_ROOT_CR0, cr0 | SMMU_ROOT_CR0_GPCEN);
    poll(
        || regs.root_read32(SMMU_ROOT_CR0ACK),
        SMMU_ROOT_CR0_GPCEN,
        SMMU_ROOT_CR0_GPCEN,
        spins,
    )
    .map_err(|()| SmmuGpcError::GpcEnableTimeout)?;
    regs.root_write32(
        SMMU_ROOT_CR0,
        cr0 | SMMU_ROOT_CR0_GPCEN | SMMU_ROOT_CR0_ACCESSEN,
    );
    poll(
        || regs.root_read32(SMMU_ROOT_CR0ACK),
        SMMU_ROOT_CR0_ACCESSEN,
        SMMU_ROOT_CR0_ACCESSEN,
        spins,
    )
    .map_err(|()| SmmuGpcError::AccessEnableTimeout)?;
    Ok(SmmuGpc::Enabled)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// An SMMU that records every access and acknowledges CR0 after
    /// `ack_delay` reads (never, when None).
    struct FakeSmmu {
        log: Vec<(&'static str, usize, u64)>,
        root_impl: bool,
        inv_done_after: Option<u32>,
        ack_after: Option<u32>,
        cr0: u32,
        reads: u32,
    }

    impl FakeSmmu {
        fn new() -> Self {
            Self {
                log: Vec::new(),
                root_impl: true,
                inv_done_after: Some(2),
                ack_after: Some(3),
                cr0: 0,
                reads: 0,
            }
        }
    }

    impl SmmuRegs for FakeSmmu {
        fn page0_read32(&mut self, offset: usize) -> u32 {
            self.reads += 1;
            assert_eq!(offset, SMMU_S_INIT);
            match self.inv_done_after {
                Some(n) if self.reads > n => 0,
                _ => SMMU_S_INIT_INV_ALL,
            }
        }
        fn page0_write32(&mut self, offset: usize, value: u32) {
            self.log.push(("p0w", offset, value.into()));
        }
        fn root_read32(&mut self, offset: usize) -> u32 {
            match offset {
                SMMU_ROOT_IDR0 => u32::from(self.root_impl),
                SMMU_ROOT_CR0 => self.cr0,
                SMMU_ROOT_CR0ACK => {
                    self.reads += 1;
                    match self.ack_after {
                        Some(n) if self.reads > n => self.cr0,
                        _ => 0,
                    }
                }
                other => panic!("unexpected read of {other:#x}"),
            }
        }
        fn root_write32(&mut self, offset: usize, value: u32) {
            if offset == SMMU_ROOT_CR0 {
                self.cr0 = value;
                self.reads = 0;
            }
            self.log.push(("rw32", offset, value.into()));
        }
        fn root_write64(&mut self, offset: usize, value: u64) {
            self.log.push(("rw64", offset, value));
        }
    }

    const GPCCR: u64 = 0x3_1500 | GPCCR_GPC;
    const GPTBR: u64 = 0x80_0000;

    #[test]
    fn programs_the_gpt_then_gpcen_then_accessen() {
        let mut s = FakeSmmu::new();
        assert_eq!(enable_gpc(&mut s, GPCCR, GPTBR, 100), Ok(SmmuGpc::Enabled));
        assert_eq!(
            s.log,
            [
                ("p0w", SMMU_S_INIT, 1),
                ("rw32", SMMU_ROOT_GPT_BASE_CFG, 0x3_1500 & !GPCCR_GPC),
                ("rw64", SMMU_ROOT_GPT_BASE, GPTBR << 12),
                ("rw32", SMMU_ROOT_CR0, u64::from(SMMU_ROOT_CR0_GPCEN)),
                ("rw32", SMMU_ROOT_CR0, 3),
            ]
        );
    }

    #[test]
    fn without_root_registers_only_invalidates() {
        let mut s = FakeSmmu::new();
        s.root_impl = false;
        assert_eq!(
            enable_gpc(&mut s, GPCCR, GPTBR, 100),
            Ok(SmmuGpc::NoRootRegisters)
        );
        assert_eq!(s.log, [("p0w", SMMU_S_INIT, 1)]);
    }

    #[test]
    fn every_wait_is_bounded() {
        let mut s = FakeSmmu::new();
        s.inv_done_after = None;
        assert_eq!(
            enable_gpc(&mut s, GPCCR, GPTBR, 50),
            Err(SmmuGpcError::InvalidateTimeout)
        );
        let mut s = FakeSmmu::new();
        s.ack_after = None;
        assert_eq!(
            enable_gpc(&mut s, GPCCR, GPTBR, 50),
            Err(SmmuGpcError::GpcEnableTimeout)
        );
        // GPCEN is acknowledged but ACCESSEN never is.
        struct AckGpcOnly(FakeSmmu);
        impl SmmuRegs for AckGpcOnly {
            fn page0_read32(&mut self, o: usize) -> u32 {
                self.0.page0_read32(o)
            }
            fn page0_write32(&mut self, o: usize, v: u32) {
                self.0.page0_write32(o, v)
            }
            fn root_read32(&mut self, o: usize) -> u32 {
                let v = self.0.root_read32(o);
                if o == SMMU_ROOT_CR0ACK {
                    v & !SMMU_ROOT_CR0_ACCESSEN
                } else {
                    v
                }
            }
            fn root_write32(&mut self, o: usize, v: u32) {
                self.0.root_write32(o, v)
            }
            fn root_write64(&mut self, o: usize, v: u64) {
                self.0.root_write64(o, v)
            }
        }
        let mut s = AckGpcOnly(FakeSmmu::new());
        assert_eq!(
            enable_gpc(&mut s, GPCCR, GPTBR, 50),
            Err(SmmuGpcError::AccessEnableTimeout)
        );
    }
}
