//! CCA attestation.
//!
//! * [`token`]: the claims, COSE_Sign1 envelopes and the CCA token
//!   collection (RMM spec 1.0, A7.2), used by root for the platform token
//!   and by the RMM for the realm token.
//! * [`keys`]: the platform and realm attestation keys, derived from a
//!   board secret.
//! * [`platform`]: root's side: the realm attestation key and the platform
//!   token, served to the RMM over TF-A's RMM-EL3 interface.
//! * [`service`]: the RMM's attestation service (holds the RAK, signs
//!   realm tokens) and its cold-boot fetch of key and platform token.
#![no_std]
extern crate alloc;

pub mod keys;
pub mod platform;
pub mod rse;
pub mod service;
pub mod token;

pub use p384;
