//! `cargo xtask interop`: Rampart's images against the reference stack on
//! QEMU virt.
//!
//! * `--tfa-bl31 FILE` ([`tf_a`]): TF-A's BL1, BL2 and BL31 boot Rampart's
//!   RMM (`realm`) and the `nshost` test payload as BL33; the end-to-end
//!   cases run against Rampart's RMM with TF-A at EL3.
//! * `--tf-rmm FILE` ([`tf_rmm`]): Rampart's root boots TF-RMM.

pub mod tf_a;
pub mod tf_rmm;
