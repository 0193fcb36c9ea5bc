//! Which Monitor nshost runs under, and what changes when it is TF-A's.
//!
//! nshost is built for Rampart's root by default. Built with
//! `RAMPART_NSHOST_EL3=tf-a` (cfg `el3_tf_a`, `cargo xtask interop`) it runs
//! as TF-A's BL33 over TF-A's BL31 with Rampart's RMM: the RMI, RSI and
//! realm cases are unchanged (they test the RMM), but a few cases check
//! behaviour of Rampart's root that TF-A's BL31 does differently and is
//! allowed to. Those say so in the trace: a relaxed check logs which rule it
//! applies instead (`interop: case X checks ...`), a check left out logs
//! `interop: case X skips ...`, and the count of both comes before the
//! verdict. Nothing is passed without being checked.

use core::sync::atomic::{AtomicU32, Ordering};

/// True when EL3 is TF-A's BL31 (built with `RAMPART_NSHOST_EL3=tf-a`).
pub const TF_A: bool = cfg!(el3_tf_a);

static RELAXED: AtomicU32 = AtomicU32::new(0);
static SKIPPED: AtomicU32 = AtomicU32::new(0);

/// Logs that `case` applies `rule` under TF-A instead of Rampart root's.
pub fn relaxed(case: &str, rule: &str) {
    RELAXED.fetch_add(1, Ordering::Relaxed);
    defmt::warn!("interop: case {=str} checks {=str}", case, rule);
}

/// Logs that `case` leaves out the check `what` under TF-A, and why.
pub fn skipped(case: &str, what: &str) {
    SKIPPED.fetch_add(1, Ordering::Relaxed);
    defmt::warn!("interop: case {=str} skips {=str}", case, what);
}

/// Says which Monitor this build expects; under TF-A, how many checks were
/// relaxed or left out (before the verdict).
pub fn announce() {
    if TF_A {
        defmt::warn!("interop: built for TF-A's BL31 at EL3 (RAMPART_NSHOST_EL3=tf-a)");
    }
}

pub fn summary() {
    if TF_A {
        defmt::warn!(
            "interop: {=u32} root-specific check(s) relaxed, {=u32} left out under TF-A's BL31",
            RELAXED.load(Ordering::Relaxed),
            SKIPPED.load(Ordering::Relaxed)
        );
    }
}

/// An SMCCC version of 1.2 or later (the RMI's calling convention needs
/// 1.2's x0-x17): what TF-A's BL31 must report.
pub fn smccc_at_least_1_2(version: u64) -> bool {
    version >> 31 == 0 && (version >> 16) & 0x7fff == 1 && version & 0xffff >= 2
}
