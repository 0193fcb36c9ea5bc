//! `cargo xtask test`: every check and test, one summary.

use std::time::Duration;

use crate::board::Board;
use crate::firmware::{self, firmware_cargo};
use crate::prereq;
use crate::qemu::{self, RunOptions};
use crate::verdict::{self, Judgement};
use crate::workspace::{FIRMWARE, GUEST, Workspace, cargo, run_status};

pub struct Options {
    pub qemu: bool,
    pub lint: bool,
    pub timeout: Duration,
}

/// The board the end-to-end run uses.
const E2E_BOARD: Board = Board::QemuVirt;

/// Runs everything, never stopping at the first failure; Ok(true) when all passed.
pub fn run(ws: &Workspace, options: &Options) -> anyhow::Result<bool> {
    let mut steps: Vec<(String, bool)> = Vec::new();
    let mut step = |name: &str, ok: bool| {
        if !ok {
            println!("FAILED: {name}");
        }
        steps.push((name.to_owned(), ok));
    };

    if options.lint {
        step(
            "cargo fmt --check",
            run_status(cargo(&ws.root).args(["fmt", "--all", "--check"]))?,
        );
        let mut host = cargo(&ws.root);
        host.args(["clippy", "--workspace"]);
        for (package, _) in FIRMWARE.iter().chain([&GUEST]) {
            host.args(["--exclude", package]);
        }
        host.args(["--all-targets", "--", "-D", "warnings"]);
        step("clippy (host)", run_status(&mut host)?);
        match prereq::check_target(&ws.root) {
            Ok(()) => {
                for (package, _) in [&GUEST].into_iter().chain(FIRMWARE.iter()) {
                    let mut command = firmware_cargo(ws, "clippy", package, E2E_BOARD);
                    command.args(["--", "-D", "warnings"]);
                    step(
                        &format!("clippy {package} ({})", E2E_BOARD.name()),
                        run_status(&mut command)?,
                    );
                }
                // The build-only board's images: root and realm.
                for (package, _) in &FIRMWARE[..2] {
                    let mut command = firmware_cargo(ws, "clippy", package, Board::FvpRdv3);
                    command.args(["--", "-D", "warnings"]);
                    step(
                        &format!("clippy {package} ({})", Board::FvpRdv3.name()),
                        run_status(&mut command)?,
                    );
                }
            }
            Err(e) => {
                println!("{e:#}");
                step("clippy (firmware)", false);
            }
        }
    }

    step(
        "cargo test (host)",
        run_status(cargo(&ws.root).arg("test"))?,
    );

    // Every board builds: the build-only one into a FIP that is read back.
    let packaged = crate::package::build_and_write(ws, Board::FvpRdv3, None, None);
    if let Err(e) = &packaged {
        println!("{e:#}");
    }
    step(
        &format!("build and package {}", Board::FvpRdv3.name()),
        packaged.is_ok(),
    );

    let e2e = if options.qemu {
        Some(end_to_end(ws, options.timeout))
    } else {
        None
    };
    if let Some(Ok(judgement)) = &e2e {
        judgement.print();
        step("end-to-end on QEMU", judgement.ok());
    }
    // Real software: Debian's arm64 kernel boots as BL33 on -smp 4, checks
    // the firmware from userspace and ends once in SYSTEM_OFF, once in
    // SYSTEM_RESET. Its checks count in the e2e line below.
    let mut linux_counts = (0usize, 0usize);
    if options.qemu {
        match crate::linux::assets(ws) {
            Ok(assets) => {
                println!("{}", assets.describe());
                for end in [crate::linux::End::Poweroff, crate::linux::End::Reboot] {
                    let name = format!(
                        "Linux {} boots as BL33 and ends in {}",
                        assets.kernel_release,
                        end.param()
                    );
                    match crate::bl33::linux_boot_test(ws, &assets, end, options.timeout) {
                        Ok((passed, failed, problems)) => {
                            for problem in &problems {
                                println!("FAIL ({name}): {problem}");
                            }
                            linux_counts.0 += passed as usize;
                            linux_counts.1 += failed as usize + usize::from(!problems.is_empty());
                            step(&name, problems.is_empty());
                        }
                        Err(e) => {
                            println!("{e:#}");
                            linux_counts.1 += 1;
                            step(&name, false);
                        }
                    }
                }
            }
            Err(e) => {
                println!("{e:#}");
                linux_counts.1 += 1;
                step("Linux boot test assets (cargo xtask linux-assets)", false);
            }
        }
    }

    if options.qemu {
        // The benchmark is a measurement, not a speed test: this checks that
        // it runs, counts every call and counts the same twice.
        let bench = crate::bench::run(
            ws,
            &crate::bench::Options {
                timeout: options.timeout,
                runs: 2,
                json: None,
            },
        );
        if let Err(e) = &bench {
            println!("{e:#}");
        }
        step(
            "benchmark runs (two boots, identical counts)",
            matches!(bench, Ok(true)),
        );
    }

    println!();
    println!("summary:");
    for (name, ok) in &steps {
        println!("  {:<7} {name}", if *ok { "ok" } else { "FAILED" });
    }
    let mut all_ok = steps.iter().all(|(_, ok)| *ok);
    match e2e {
        None => println!("  skipped end-to-end on QEMU (--no-qemu)"),
        Some(Ok(judgement)) => println!(
            "e2e: {} passed, {} failed",
            judgement.passed + linux_counts.0,
            judgement.failed_count() + linux_counts.1
        ),
        Some(Err((e, expected))) => {
            all_ok = false;
            println!("  FAILED  end-to-end on QEMU: {e:#}");
            println!("e2e: 0 passed, {} failed", expected.max(1));
        }
    }
    Ok(all_ok)
}

/// Builds and runs the stack on QEMU and judges it against the expected
/// cases. On an error before any verdict, returns it with the number of
/// expected cases (all counted as failed).
fn end_to_end(ws: &Workspace, timeout: Duration) -> Result<Judgement, (anyhow::Error, usize)> {
    let expected = verdict::read_expected(&ws.expected_cases()).map_err(|e| (e, 0))?;
    let fail = |e: anyhow::Error| (e, expected.len());
    println!("qemu: {}", prereq::check_qemu().map_err(fail)?);
    firmware::build(ws, E2E_BOARD).map_err(fail)?;
    let mut report = qemu::run(
        ws,
        E2E_BOARD,
        &RunOptions {
            timeout,
            smp: 4,
            icount: false,
            ..Default::default()
        },
    )
    .map_err(fail)?;
    crate::attest::judge_token(ws, E2E_BOARD, &mut report);
    Ok(verdict::judge(&report, Some(&expected)))
}
