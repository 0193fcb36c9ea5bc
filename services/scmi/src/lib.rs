//! SCMI client for the root firmware: how PSCI CPU_ON, CPU_OFF, SYSTEM_OFF
//! and SYSTEM_RESET reach the SCP (System Control Processor) on Arm CSS
//! platforms such as Neoverse RD-V3.
//!
//! The layering follows TF-A v2.15.0 (`drivers/arm/css/scmi/`,
//! `drivers/arm/css/scp/css_pm_scmi.c`):
//!
//! * [`smt`]: the shared-memory transport (SMT) mailbox in SCP shared SRAM
//!   and one synchronous, polled transfer ([`smt::Channel::send`]);
//! * [`mhu_doorbell`]: the MHUv3 postbox doorbell that tells the SCP a
//!   message is waiting;
//! * [`protocol`]: message ids, lengths and flags of the base, power domain
//!   (0x11) and system power (0x12) protocols;
//! * [`power_state`]: the composite power state TF-A's CSS code sends;
//! * [`Scmi`]: the requests root needs, with TF-A's acceptance rules;
//! * [`config`]: the facts a board supplies, and [`config::RDV3`].
//!
//! There is no `unsafe` here: the kernel implements [`Mmio`] and
//! [`SharedMemory`] (volatile access and barriers) over mapped windows.
//! Every wait is bounded by a caller-given poll limit, so a dead SCP is an
//! [`Error`], never a hang.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod config;
mod driver;
mod error;
pub mod mhu_doorbell;
pub mod power_state;
pub mod protocol;
pub mod smt;
#[cfg(test)]
mod tests;

pub use config::{Config, DomainMapEntry, RDV3};
pub use driver::{OffScope, ProtocolVersions, Scmi};
pub use error::{Error, ScmiStatus};
pub use mhu_doorbell::MhuV3Doorbell;
pub use smt::{Channel, Completion, MessageHeader, Reply, Request};

/// 32-bit access to a memory-mapped window, by byte offset from its base.
///
/// Implementations must use single, naturally aligned, volatile 32-bit
/// accesses: the other side (SCP, MHU) observes every access. Offsets used
/// by this crate are multiples of 4 and stay within the window sizes the
/// [`Config`] documents.
pub trait Mmio {
    /// Reads the 32-bit word at `offset`.
    fn read32(&self, offset: usize) -> u32;
    /// Writes the 32-bit word at `offset`.
    fn write32(&self, offset: usize, value: u32);
}

impl<T: Mmio + ?Sized> Mmio for &T {
    fn read32(&self, offset: usize) -> u32 {
        (**self).read32(offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        (**self).write32(offset, value);
    }
}

/// The memory barriers a transfer needs, at the points TF-A's
/// `scmi_send_sync_command` (`drivers/arm/css/scmi/scmi_common.c`) places
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Barrier {
    /// After writing the message, before ringing the doorbell, so the SCP
    /// never reads a stale payload (TF-A: `dmbst`).
    StoreBeforeDoorbell,
    /// After ringing the doorbell, before polling the channel status
    /// (TF-A: `dmbsy`).
    DoorbellBeforePoll,
    /// After seeing the channel free again, before reading the response
    /// (TF-A: `dmbld`).
    LoadAfterFree,
}

/// The SMT mailbox window: [`Mmio`] plus the barriers that order it against
/// the doorbell.
pub trait SharedMemory: Mmio {
    /// Issues the barrier `kind` (`dmb st`, `dmb sy`, `dmb ld` on AArch64).
    fn barrier(&self, kind: Barrier);
}

impl<T: SharedMemory + ?Sized> SharedMemory for &T {
    fn barrier(&self, kind: Barrier) {
        (**self).barrier(kind);
    }
}

/// Tells the SCP that a message is waiting in the shared memory.
pub trait Doorbell {
    /// Rings the doorbell once.
    fn ring(&self);
}

impl<T: Doorbell + ?Sized> Doorbell for &T {
    fn ring(&self) {
        (**self).ring();
    }
}
