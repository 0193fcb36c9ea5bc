//! `cargo xtask interop --tf-rmm FILE`: TF-RMM (its flat `rmm.img`, built
//! by the user for QEMU: `RMM_CONFIG=qemu_virt_defcfg`) booted by Rampart's
//! root on QEMU virt in place of Rampart's RMM, serving the unchanged
//! `nshost` end-to-end scenarios and the guest's realm.
//!
//! The flash image is `cargo xtask build`'s with the TF-RMM image as the
//! package's RMM: root loads it at the RMM region's base (0x40100000, where
//! TF-A's QEMU port loads it too) and boots it through the RMM-EL3
//! interface exactly as it boots its own. Both UARTs are decoded live
//! against root's and nshost's ELFs (root's trace on UART1, nshost's on
//! UART0); TF-RMM prints plain text on the console the boot manifest offers
//! it (UART0), which shows as `[console]` lines. The guest's attestation token is verified as in
//! `cargo xtask run`: its platform part (root's) must measure `root.bin`
//! and the TF-RMM image, its realm part is TF-RMM's.
//!
//! A few cases check RMM 1.0 behaviour that TF-RMM does not have, for its
//! own reasons ([`KNOWN_DIFFERENCES`]). They are reported as failed, listed
//! with the reason, and do not fail the interop run; every other case must
//! pass.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rampart_ipc::trace::{NSHOST, ROOT};
use rampart_trace::Decoder;

use super::{RampartImages, read};
use crate::attest::{self, Reference};
use crate::board::Board;
use crate::flash::{self, Images};
use crate::prereq;
use crate::qemu::{self, RunOptions};
use crate::verdict::{self, CaseResult, Judgement, RunReport};
use crate::workspace::{GUEST, Workspace};

/// Cases TF-RMM fails because it differs from the RMM 1.0 specification
/// (DEN0137 1.0-REL0), not because of anything root does: (case, why).
pub const KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "rsi_unknown_fid",
    "TF-RMM (v0.8.0, also with RMM_V1_1=OFF) answers the RMM 1.1 RSI commands: \
     0xC40001AF is RSI_PLANE_SYSREG_WRITE there and returns RSI_ERROR_INPUT \
     (runtime/core/exit.c handle_realm_rsi), where RMM 1.0 assigns no command \
     and the guest expects SMC_UNKNOWN",
)];

/// DRAM QEMU gets: the board's one bank (boards/qemu-virt `DRAM`).
const MEMORY: &str = "2G";

/// Builds the guest, root and nshost (for Rampart's root, unchanged) into
/// `out`; returns (root.bin, nshost.bin).
fn build(ws: &Workspace, out: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let images = RampartImages::start(ws, out)?;
    let root = images.build("rampart-root", "root", &[])?;
    let nshost = images.build("rampart-nshost", "nshost", &[])?;
    Ok((root, nshost))
}

/// `cargo xtask interop --tf-rmm FILE`: builds, assembles, boots and judges.
pub fn run_tf_rmm(ws: &Workspace, tf_rmm: &Path, options: &RunOptions) -> Result<bool> {
    let board = Board::QemuVirt;
    let info = board.info()?;
    println!("qemu: {}", prereq::check_qemu()?);
    let rmm = read(tf_rmm)?;
    let out = ws.out_dir(board).join("interop-tf-rmm");
    let (root, nshost) = build(ws, &out)?;
    // The RMM image as loaded, for the platform token's RMM measurement.
    let rmm_copy = out.join("rmm.img");
    std::fs::write(&rmm_copy, &rmm).with_context(|| format!("writing {}", rmm_copy.display()))?;

    let image = flash::assemble(
        &info,
        &Images {
            root: &root,
            rmm: &rmm,
            ns: &nshost,
        },
    )
    .context("assembling the flash image with TF-RMM as the RMM")?;
    let flash_path = out.join("flash.bin");
    std::fs::write(&flash_path, &image)
        .with_context(|| format!("writing {}", flash_path.display()))?;
    println!("interop: TF-RMM {} ({} bytes)", tf_rmm.display(), rmm.len());
    println!(
        "interop: root.bin {} bytes, RMM (TF-RMM) {} bytes at {:#x}, nshost.bin {} bytes; flash.bin {}",
        root.len(),
        rmm.len(),
        info.rmm.base,
        nshost.len(),
        flash_path.display()
    );

    let mut elfs = Vec::new();
    for (channel, stem) in [(ROOT, "root"), (NSHOST, "nshost")] {
        elfs.push((channel, read(&out.join(format!("{stem}.elf")))?));
    }
    let decoder = Decoder::new(elfs)?;
    let command = qemu::virt_command(&flash_path, MEMORY, options);
    let mut report = qemu::run_command(command, decoder, &qemu::Captures::in_dir(&out), options)?;

    let reference = Reference {
        out: out.clone(),
        guest: out.join(format!("{}.bin", GUEST.1)),
        components: vec![("BL31", out.join("root.bin")), ("RMM", rmm_copy)],
    };
    let cases = attest::check_against(ws, board, &report.tracker.attestation, &reference);
    report.tracker.host_cases += cases.len();
    report.tracker.cases.extend(cases);

    let expected = verdict::read_expected(&ws.expected_cases())?;
    let (passed, failed) = (report.tracker.passed(), report.tracker.failed());
    let known = set_aside_known(&mut report);
    // trace_split judges Rampart's RMM's records (through root's ring);
    // TF-RMM prints text on UART0 instead.
    let expected: Vec<String> = expected
        .into_iter()
        .filter(|name| !known.iter().any(|(case, _, _)| case == name))
        .filter(|name| name != "trace_split")
        .collect();
    let judgement = verdict::judge(&report, Some(&expected));
    print(&judgement, passed, failed, &known);
    if !judgement.ok() && passed + failed == 0 {
        bail!(
            "no case reported: see the [console] lines above for TF-RMM's console and the [root] lines for root's trace \
             (did the RMM boot?)"
        );
    }
    Ok(judgement.ok())
}

/// Takes the failed cases that [`KNOWN_DIFFERENCES`] explains out of the
/// report (and out of nshost's failure count, so that the verdict's
/// consistency check still holds); returns (case, detail, why) for each.
fn set_aside_known(report: &mut RunReport) -> Vec<(String, String, &'static str)> {
    let tracker = &mut report.tracker;
    let mut known = Vec::new();
    let host_from = tracker.cases.len() - tracker.host_cases;
    let mut index = 0;
    tracker.cases.retain(|(name, result)| {
        let at = index;
        index += 1;
        let why = KNOWN_DIFFERENCES
            .iter()
            .find(|(case, _)| case == name)
            .map(|(_, why)| *why);
        match (result, why) {
            (CaseResult::Fail(detail), Some(why)) if at < host_from => {
                known.push((name.clone(), detail.clone(), why));
                false
            }
            _ => true,
        }
    });
    if let Some((_, failed)) = &mut tracker.verdict {
        *failed = failed.saturating_sub(known.len() as u32);
    }
    known
}

fn print(judgement: &Judgement, passed: usize, failed: usize, known: &[(String, String, &str)]) {
    println!();
    println!("cases: {passed} passed, {failed} failed");
    for (case, detail, why) in known {
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        println!("  known TF-RMM difference: case {case} failed{detail}: {why}");
    }
    for name in &judgement.unexpected {
        println!("  note: case {name} is not in tests/qemu/expected-cases.txt");
    }
    if judgement.ok() {
        if known.is_empty() {
            println!("interop (TF-RMM under root): PASS");
        } else {
            println!(
                "interop (TF-RMM under root): PASS, with {} known TF-RMM difference(s) above",
                known.len()
            );
        }
    } else {
        println!("interop (TF-RMM under root): FAIL");
        for problem in &judgement.problems {
            println!("  - {problem}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Ending, Tracker};

    fn report(cases: &[(&str, bool)], verdict: (u32, u32), host_cases: usize) -> RunReport {
        let mut tracker = Tracker::default();
        for (name, pass) in cases {
            let result = if *pass {
                CaseResult::Pass
            } else {
                CaseResult::Fail(String::new())
            };
            tracker.cases.push((name.to_string(), result));
        }
        tracker.verdict = Some(verdict);
        tracker.host_cases = host_cases;
        RunReport {
            ending: Ending::Killed("test".into()),
            tracker,
        }
    }

    #[test]
    fn only_failed_known_nshost_cases_are_set_aside() {
        let mut r = report(
            &[("a", true), ("rsi_unknown_fid", false), ("b", false)],
            (1, 2),
            0,
        );
        let known = set_aside_known(&mut r);
        assert_eq!(known.len(), 1);
        assert_eq!(known[0].0, "rsi_unknown_fid");
        assert_eq!(r.tracker.verdict, Some((1, 1)));
        assert_eq!(r.tracker.cases.len(), 2);

        let mut passing = report(&[("rsi_unknown_fid", true)], (1, 0), 0);
        assert!(set_aside_known(&mut passing).is_empty());
        assert_eq!(passing.tracker.cases.len(), 1);

        // A host-side case of the same name is never set aside.
        let mut host = report(&[("rsi_unknown_fid", false)], (0, 0), 1);
        assert!(set_aside_known(&mut host).is_empty());
    }
}
