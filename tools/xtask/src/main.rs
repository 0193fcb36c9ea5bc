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

mod attest;
mod board;
mod firmware;
mod flash;
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
    /// Decode a trace capture (e.g. target/rampart/qemu-virt/trace.bin) against the built ELFs.
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
        } => {
            let options = qemu::RunOptions {
                timeout: Duration::from_secs(timeout),
                smp,
                icount,
            };
            board.ensure_runnable()?;
            println!("qemu: {}", prereq::check_qemu()?);
            firmware::build(&ws, board)?;
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
        Command::Trace { file, board } => {
            qemu::decode_file(&ws, board, &file)?;
            Ok(true)
        }
    }
}
