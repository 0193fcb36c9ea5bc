//! Code shared by the two Rampart kernels (and the test payloads, which use
//! the same translation tables and trace logger).
//!
//! The host-testable parts (translation-table builder, PSCI state) have no
//! architecture dependency; the `firmware` feature adds the defmt logger.
#![no_std]

#[cfg(any(test, feature = "dtb"))]
pub mod dtb;
#[cfg(feature = "heap")]
pub mod heap;
pub mod pagetable;
#[cfg(feature = "firmware")]
pub mod pl011;
pub mod psci;
pub mod rec_loop;
pub mod rootmap;
#[cfg(feature = "firmware")]
pub mod trace;
