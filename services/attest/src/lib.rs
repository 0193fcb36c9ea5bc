//! CCA attestation.
//!
//! * [`token`]: the claims, COSE_Sign1 envelopes and the CCA token
//!   collection (RMM spec 1.0, A7.2), used by root for the platform token
//!   and by the RMM for the realm token.
//! * [`keys`]: the platform and realm attestation keys, derived from a
//!   board secret.
#![no_std]
extern crate alloc;

pub mod keys;
pub mod token;

pub use p384;
