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
