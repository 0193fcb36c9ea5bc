//! Transmit side of an Arm PL011 UART (DDI0183): enough for the trace.

use core::ptr;

const DR: usize = 0x000;
const FR: usize = 0x018;
const CR: usize = 0x030;
const FR_TXFF: u32 = 1 << 5;
const CR_UARTEN: u32 = 1 << 0;
const CR_TXE: u32 = 1 << 8;

/// A mapped PL011. Construction is the only unsafe step: the caller vouches
/// that `base` is this image's device mapping of the UART.
#[derive(Clone, Copy)]
pub struct Pl011 {
    base: usize,
}

impl Pl011 {
    /// # Safety
    /// `base` must be the virtual address of a PL011's registers, mapped as
    /// device memory for as long as the value is used.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    /// Makes sure the transmitter is on; firmware does not reprogram the
    /// divisor (the board's clock_hz is 0 where the platform set it up).
    pub fn enable_tx(&self) {
        let cr = self.read(CR);
        if cr & (CR_UARTEN | CR_TXE) != (CR_UARTEN | CR_TXE) {
            self.write(CR, cr | CR_UARTEN | CR_TXE);
        }
    }

    pub fn write_bytes(&self, bytes: &[u8]) {
        for &b in bytes {
            while self.read(FR) & FR_TXFF != 0 {}
            self.write(DR, u32::from(b));
        }
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: base is a device mapping of the UART and
        // offset is one of its 32-bit registers.
        unsafe { ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as for `read`.
        unsafe { ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }
}
