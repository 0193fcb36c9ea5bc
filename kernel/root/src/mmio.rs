//! Device registers at a physical base, for the host-tested drivers root
//! runs (SCMI to the SCP, the RSE link, SMMU GPC): they reach hardware only
//! through these volatile accesses.

/// A device window, mapped as device memory by mmu::build (the board
/// declares it; the drivers keep their offsets inside it).
#[derive(Clone, Copy)]
pub struct DeviceWindow {
    pub base: u64,
}

impl DeviceWindow {
    pub fn read32(&self, offset: usize) -> u32 {
        // SAFETY: `base + offset` is a 4-byte register inside a window the
        // board declares and mmu.rs maps as device memory.
        unsafe { core::ptr::read_volatile((self.base + offset as u64) as *const u32) }
    }
    pub fn write32(&self, offset: usize, value: u32) {
        // SAFETY: as in `read32`.
        unsafe { core::ptr::write_volatile((self.base + offset as u64) as *mut u32, value) }
    }
    /// A 64-bit register; `offset` is 8-byte aligned.
    pub fn write64(&self, offset: usize, value: u64) {
        // SAFETY: as in `read32`, for an 8-byte register.
        unsafe { core::ptr::write_volatile((self.base + offset as u64) as *mut u64, value) }
    }
}

impl rampart_scmi::Mmio for DeviceWindow {
    fn read32(&self, offset: usize) -> u32 {
        DeviceWindow::read32(self, offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        DeviceWindow::write32(self, offset, value)
    }
}

impl rampart_rse::Mmio for DeviceWindow {
    fn read32(&self, offset: usize) -> u32 {
        DeviceWindow::read32(self, offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        DeviceWindow::write32(self, offset, value)
    }
}
