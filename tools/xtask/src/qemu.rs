//! Running the stack on QEMU and decoding its trace.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rampart_ipc::trace::{NSHOST, REALM, ROOT};
use rampart_trace::{Decoder, Line};

use crate::board::Board;
use crate::prereq::QEMU;
use crate::verdict::{Ending, Event, RunReport, Tracker};
use crate::workspace::{Workspace, describe};

#[derive(Default)]
pub struct RunOptions {
    pub timeout: Duration,
    pub smp: u32,
    /// QEMU's `-icount shift=0`: the virtual clock advances 1 ns per
    /// instruction executed, so counter deltas the firmware logs count
    /// instructions (deterministic, single-threaded TCG).
    pub icount: bool,
    /// A TCG plugin and its arguments (`-plugin PATH,arg=value`).
    pub plugin: Option<String>,
    /// Print only warnings, errors and the verdict, not the whole trace.
    pub quiet: bool,
    /// Files QEMU's generic loader puts in memory before the CPUs start
    /// (`-device loader,file=F,addr=A,force-raw=on`): a BL33 and its initramfs.
    pub loads: Vec<(std::path::PathBuf, u64)>,
}

/// How long QEMU may keep running after nshost's verdict (it should power off).
const AFTER_VERDICT: Duration = Duration::from_secs(15);
/// How long to keep collecting output after a panic before killing QEMU.
const AFTER_PANIC: Duration = Duration::from_secs(3);

/// A decoder for a board's three images, from the ELFs its last build kept.
pub fn decoder(ws: &Workspace, board: Board) -> anyhow::Result<Decoder> {
    let mut elfs = Vec::new();
    for (channel, stem) in [(ROOT, "root"), (REALM, "realm"), (NSHOST, "nshost")] {
        let path = ws.out_dir(board).join(format!("{stem}.elf"));
        // Build-only boards have no nshost: their Normal world is the user's.
        if channel == NSHOST && board.ensure_runnable().is_err() && !path.exists() {
            continue;
        }
        let elf = std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (run `cargo xtask build --board {}` first)",
                path.display(),
                board.name()
            )
        })?;
        elfs.push((channel, elf));
    }
    Decoder::new(elfs)
}

fn print_lines(lines: &[Line]) {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
}

/// Prints lines (when `quiet`, only warnings, errors, failed cases and the
/// verdict) and lets the tracker see them; returns what they told it.
fn show(lines: &[Line], tracker: &mut Tracker, quiet: bool) -> Vec<Event> {
    if quiet {
        let notable = |l: &&Line| {
            matches!(l.level.as_deref(), Some("WARN" | "ERROR"))
                || l.text.contains("FAIL")
                || l.text.starts_with("verdict")
        };
        let shown: Vec<Line> = lines.iter().filter(notable).cloned().collect();
        print_lines(&shown);
    } else {
        print_lines(lines);
    }
    lines.iter().map(|l| tracker.observe(l)).collect()
}

/// The QEMU command line for a board's flash image.
pub fn command(ws: &Workspace, board: Board, options: &RunOptions) -> Command {
    virt_command(&ws.out_dir(board).join("flash.bin"), "2G", options)
}

/// QEMU `virt` with RME booting `flash` from pflash0, with `memory` of
/// DRAM, UART0 on stdout.
pub fn virt_command(flash: &Path, memory: &str, options: &RunOptions) -> Command {
    let mut command = Command::new(QEMU);
    command
        .args([
            "-M",
            "virt,secure=on,virtualization=on,gic-version=3",
            "-cpu",
            "max,x-rme=on",
        ])
        .args(["-smp", &options.smp.to_string(), "-m", memory])
        .arg("-bios")
        .arg(flash)
        .args([
            "-display", "none", "-monitor", "none", "-serial", "stdio", "-serial", "null",
        ])
        .args(["-net", "none", "-no-reboot"]);
    if options.icount {
        command.args(["-icount", "shift=0,sleep=off"]);
    }
    if let Some(plugin) = &options.plugin {
        command.args(["-plugin", plugin]);
    }
    for (file, addr) in &options.loads {
        command.arg("-device").arg(format!(
            "loader,file={},addr={addr:#x},force-raw=on",
            file.display()
        ));
    }
    command
}

/// QEMU must not outlive xtask, whichever way `run` returns.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Boots the built flash image, prints the decoded trace live, saves the raw
/// capture to `target/rampart/<board>/trace.bin` and reports how it ended.
pub fn run(ws: &Workspace, board: Board, options: &RunOptions) -> anyhow::Result<RunReport> {
    let decoder = decoder(ws, board)?;
    let capture_path = ws.out_dir(board).join("trace.bin");
    run_command(command(ws, board, options), decoder, &capture_path, options)
}

/// Runs a QEMU `command`, decoding its UART0 output live with `decoder`
/// (the trace; any other text shows as `[uart]` lines), saves the raw
/// stream to `capture_path`, stops it `options.timeout` after the start
/// (sooner after nshost's verdict or a panic) and reports how it ended.
pub fn run_command(
    mut command: Command,
    mut decoder: Decoder,
    capture_path: &Path,
    options: &RunOptions,
) -> anyhow::Result<RunReport> {
    let mut capture = BufWriter::new(
        File::create(capture_path)
            .with_context(|| format!("creating {}", capture_path.display()))?,
    );

    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    println!("$ {}", describe(&command));
    let mut child = KillOnDrop(
        command
            .spawn()
            .with_context(|| format!("starting {QEMU}"))?,
    );
    let mut stdout = child.0.stdout.take().context("QEMU's stdout")?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let started = Instant::now();
    let mut deadline = started + options.timeout;
    let mut kill_reason = format!("timed out after {} s", options.timeout.as_secs());
    let mut tracker = Tracker::default();
    let mut killed = false;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(bytes) => {
                capture
                    .write_all(&bytes)
                    .context("writing the trace capture")?;
                for event in show(&decoder.feed(&bytes), &mut tracker, options.quiet) {
                    let (grace, reason) = match event {
                        Event::Verdict => (
                            AFTER_VERDICT,
                            "the verdict was logged but the machine did not power off",
                        ),
                        Event::Panic => (AFTER_PANIC, "a panic was reported"),
                        _ => continue,
                    };
                    let at = Instant::now() + grace;
                    if at < deadline {
                        deadline = at;
                        kill_reason = format!("{reason} (killed {} s later)", grace.as_secs());
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.0.kill();
                killed = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // After a kill the reader sees EOF; drain what is still queued.
    let _ = reader.join();
    for bytes in rx.try_iter() {
        capture
            .write_all(&bytes)
            .context("writing the trace capture")?;
        show(&decoder.feed(&bytes), &mut tracker, options.quiet);
    }
    show(&decoder.finish(), &mut tracker, options.quiet);
    capture.flush().context("writing the trace capture")?;
    let status = child.0.wait().context("waiting for QEMU")?;
    println!(
        "QEMU {} after {:.1} s; raw trace saved to {}",
        if killed { "killed" } else { "exited" },
        started.elapsed().as_secs_f64(),
        capture_path.display()
    );
    let ending = if killed {
        Ending::Killed(kill_reason)
    } else {
        Ending::Exited(status)
    };
    Ok(RunReport { ending, tracker })
}

/// `cargo xtask trace FILE`: decodes a capture against the built ELFs.
pub fn decode_file(ws: &Workspace, board: Board, file: &Path) -> anyhow::Result<()> {
    board.info()?;
    let mut decoder = decoder(ws, board)?;
    let mut input = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input
            .read(&mut buf)
            .with_context(|| format!("reading {}", file.display()))?;
        if n == 0 {
            break;
        }
        print_lines(&decoder.feed(&buf[..n]));
    }
    print_lines(&decoder.finish());
    Ok(())
}
