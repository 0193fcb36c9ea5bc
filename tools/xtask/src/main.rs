//! `cargo xtask <command>`: build, run, test and trace Rampart per board.
//!
//! * `build` — the three firmware images (nshost with the realm guest
//!   embedded), their flat binaries and the boot flash image
//!   `target/rampart/<board>/flash.bin`.
//! * `run` — build, boot the whole stack on QEMU, decode the trace live and
//!   judge the end-to-end verdict the `nshost` payload reports.
//! * `test` — format and lint checks, host tests, and the QEMU end-to-end run
//!   checked against `tests/qemu/expected-cases.txt`.
//! * `package` — a FIP with root as BL31 and realm as the RMM, for boards
//!   whose TF-A BL1/BL2 load them (FVP RD-V3).
//! * `trace FILE` — decode a capture offline.
//! * `interop` — Rampart's images against the reference stack on QEMU:
//!   `--tfa-bl31 FILE` boots our RMM and nshost under TF-A's BL1/BL2/BL31,
//!   `--tf-rmm FILE` boots TF-RMM under our root.
//! * `bench` — instructions per RMI/RSI call on QEMU (a TCG plugin counts
//!   them), image sizes and static RAM per board; JSON and a table.
//! * `linux-assets` — Debian's arm64 kernel as a raw Image and an initramfs
//!   whose /init checks the firmware from userspace (tests/linux/).

mod attest;
mod bench;
mod bl33;
mod board;
mod firmware;
mod flash;
mod interop;
mod linux;
mod package;
mod prereq;
mod qemu;
mod test;
mod verdict;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::board::Board;
use crate::workspace::Workspace;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, run, test and trace Rampart",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a board's images: for qemu-virt root, realm, the realm guest and nshost and the boot
    /// flash image; for fvp-rdv3 root (BL31) and realm (RMM), checked against the layout's limits.
    Build {
        #[arg(long, value_enum, default_value_t = Board::QemuVirt)]
        board: Board,
    },
    /// Build, then write target/rampart/<board>/fip.bin: a TF-A FIP with root as BL31 (soc-fw)
    /// and realm as the RMM (rmm-fw), for boards whose TF-A BL2 loads them (fvp-rdv3).
    Package {
        #[arg(long, value_enum, default_value_t = Board::FvpRdv3)]
        board: Board,
        /// The Normal-world image (nt-fw), e.g. UEFI or a kernel; kept from --fip when absent.
        #[arg(long)]
        bl33: Option<PathBuf>,
        /// A FIP to start from (BL2, configs, ...): its soc-fw and rmm-fw entries are replaced.
        #[arg(long)]
        fip: Option<PathBuf>,
    },
    /// Build, then run the whole stack on QEMU, decoding the trace live.
    Run {
        #[arg(long, value_enum, default_value_t = Board::QemuVirt)]
        board: Board,
        /// Kill QEMU and fail after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Number of emulated cores.
        #[arg(long, default_value_t = 4)]
        smp: u32,
        /// Count instructions: QEMU -icount shift=0 (1 ns of virtual time
        /// per instruction), so logged counter deltas are instruction counts.
        #[arg(long)]
        icount: bool,
        /// Boot this Normal-world image instead of nshost (qemu-virt): a Linux arm64 `Image`
        /// or a raw binary such as U-Boot, placed at 0x60000000 by QEMU's loader.
        #[arg(long, value_name = "FILE")]
        bl33: Option<PathBuf>,
        /// An initramfs for the BL33, placed after it and named in the device tree's /chosen.
        #[arg(long, value_name = "FILE", requires = "bl33")]
        initrd: Option<PathBuf>,
        /// The OS command line, written to /chosen bootargs (default: console=ttyAMA0).
        #[arg(long, value_name = "ARGS", requires = "bl33")]
        append: Option<String>,
    },
    /// Run every test: fmt, clippy, host tests and the QEMU end-to-end run.
    Test {
        /// Host checks and tests only; skip the QEMU end-to-end run.
        #[arg(long)]
        no_qemu: bool,
        /// Skip `cargo fmt --check` and clippy.
        #[arg(long)]
        no_lint: bool,
        /// Timeout of the QEMU run, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Count guest instructions per RMI/RSI call on QEMU (TCG plugin, -icount) and report
    /// image sizes and static RAM per board: a table, and JSON in target/rampart/bench.json.
    Bench {
        /// Boots to run; all must give the same counts.
        #[arg(long, default_value_t = 1)]
        runs: u32,
        /// Where to write the JSON result.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Kill QEMU and fail after this many seconds (per run).
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Run against the reference stack on QEMU virt: our RMM and nshost under TF-A's
    /// BL1/BL2/BL31 (--tfa-bl31), or TF-RMM under our root (--tf-rmm).
    #[command(group(clap::ArgGroup::new("stack").required(true).args(["tfa_bl31", "tf_rmm"])))]
    Interop {
        /// TF-A's bl31.bin (PLAT=qemu, RME, QEMU_USE_GIC_DRIVER=QEMU_GICV3); bl1.bin and
        /// bl2.bin are taken from the same directory unless given.
        #[arg(long, value_name = "FILE")]
        tfa_bl31: Option<PathBuf>,
        /// TF-A's bl1.bin (default: beside --tfa-bl31).
        #[arg(
            long,
            value_name = "FILE",
            requires = "tfa_bl31",
            conflicts_with = "tf_rmm"
        )]
        tfa_bl1: Option<PathBuf>,
        /// TF-A's bl2.bin (default: beside --tfa-bl31).
        #[arg(
            long,
            value_name = "FILE",
            requires = "tfa_bl31",
            conflicts_with = "tf_rmm"
        )]
        tfa_bl2: Option<PathBuf>,
        /// A TF-RMM image (rmm.img) to boot under Rampart's root.
        #[arg(long, value_name = "FILE")]
        tf_rmm: Option<PathBuf>,
        /// Kill QEMU and fail after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Number of emulated cores.
        #[arg(long, default_value_t = 4)]
        smp: u32,
    },
    /// Fetch (apt, private tree under target/debian/) Debian's arm64 kernel and busybox-static
    /// pinned in tests/linux/debian.lock, and build the Linux boot test's Image and initramfs;
    /// print their paths and versions. Cached: a second run does no network access.
    LinuxAssets {
        /// Then boot them on plain QEMU (no Rampart; QEMU's own PSCI), ending once in poweroff and
        /// once in reboot, and judge the init's checks: validates the assets themselves.
        #[arg(long)]
        boot_plain: bool,
        /// CPUs for --boot-plain.
        #[arg(long, default_value_t = 4)]
        smp: u32,
        /// Seconds per --boot-plain boot before QEMU is killed.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Decode a capture against the built ELFs: target/rampart/qemu-virt/trace.bin (firmware,
    /// UART1) or console.bin (UART0, plain text as [console] lines).
    Trace {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Board::QemuVirt)]
        board: Board,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command; Ok(false) is a failure already explained on the output.
fn dispatch(command: Command) -> anyhow::Result<bool> {
    let ws = Workspace::locate()?;
    match command {
        Command::Build { board } => {
            firmware::build(&ws, board)?;
            Ok(true)
        }
        Command::Package { board, bl33, fip } => {
            package::build_and_write(&ws, board, bl33.as_deref(), fip.as_deref())?;
            Ok(true)
        }
        Command::Run {
            board,
            timeout,
            smp,
            icount,
            bl33,
            initrd,
            append,
        } => {
            let options = qemu::RunOptions {
                timeout: Duration::from_secs(timeout),
                smp,
                icount,
                ..Default::default()
            };
            board.ensure_runnable()?;
            println!("qemu: {}", prereq::check_qemu()?);
            firmware::build(&ws, board)?;
            if let Some(bl33) = bl33 {
                let request = bl33::Bl33Request {
                    bl33: &bl33,
                    initrd: initrd.as_deref(),
                    append: append.as_deref(),
                };
                let report = bl33::run(&ws, board, &request, options)?;
                return Ok(bl33::print_os_verdict(&report));
            }
            let mut report = qemu::run(&ws, board, &options)?;
            attest::judge_token(&ws, board, &mut report);
            let judgement = verdict::judge(&report, None);
            judgement.print();
            Ok(judgement.ok())
        }
        Command::Test {
            no_qemu,
            no_lint,
            timeout,
        } => test::run(
            &ws,
            &test::Options {
                qemu: !no_qemu,
                lint: !no_lint,
                timeout: Duration::from_secs(timeout),
            },
        ),
        Command::Bench {
            runs,
            json,
            timeout,
        } => bench::run(
            &ws,
            &bench::Options {
                timeout: Duration::from_secs(timeout),
                runs,
                json,
            },
        ),
        Command::Interop {
            tfa_bl31,
            tfa_bl1,
            tfa_bl2,
            tf_rmm,
            timeout,
            smp,
        } => {
            let options = qemu::RunOptions {
                timeout: Duration::from_secs(timeout),
                smp,
                ..Default::default()
            };
            match (tfa_bl31, tf_rmm) {
                (Some(bl31), None) => {
                    let images = interop::tf_a::TfaImages::locate(
                        &bl31,
                        tfa_bl1.as_deref(),
                        tfa_bl2.as_deref(),
                    );
                    interop::tf_a::run(&ws, &images, &options)
                }
                (None, Some(tf_rmm)) => interop::tf_rmm::run_tf_rmm(&ws, &tf_rmm, &options),
                _ => unreachable!("clap requires exactly one of --tfa-bl31 and --tf-rmm"),
            }
        }
        Command::LinuxAssets {
            boot_plain,
            smp,
            timeout,
        } => linux::run(
            &ws,
            &linux::RunOptions {
                boot_plain,
                smp,
                timeout: Duration::from_secs(timeout),
            },
        ),
        Command::Trace { file, board } => {
            qemu::decode_file(&ws, board, &file)?;
            Ok(true)
        }
    }
}
