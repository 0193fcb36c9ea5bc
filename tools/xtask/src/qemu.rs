//! Running the stack on QEMU and decoding its two output streams.
//!
//! QEMU `virt` has two PL011s. UART0 (the first `-serial`) is the Normal
//! world's console: nshost's records, or an OS's text. UART1 (the second,
//! secure-only) is the firmware trace: root's records and the RMM's, which
//! root drains from the RMM's ring. xtask reads UART0 from QEMU's stdout
//! and UART1 from a Unix socket it listens on, decodes both live with the
//! same ELF tables, prints every line labelled by image (`[console]` for
//! UART0 text that is not a record), lets the verdict tracker see both, and
//! saves the raw bytes to `console.bin` and `trace.bin`.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rampart_ipc::trace::{NSHOST, REALM, ROOT};
use rampart_trace::{CONSOLE_IMAGE, Decoder, Line};

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
/// DRAM, UART0 on stdout; [`run_command`] wires UART1 (the second
/// `-serial`) to its trace socket.
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
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
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

/// The raw captures of a run: UART1 (firmware trace) and UART0 (the
/// Normal world's console).
pub struct Captures {
    pub trace: PathBuf,
    pub console: PathBuf,
}

impl Captures {
    /// `trace.bin` and `console.bin` in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            trace: dir.join("trace.bin"),
            console: dir.join("console.bin"),
        }
    }
}

/// Boots the built flash image, prints both decoded streams live, saves
/// the raw captures to `target/rampart/<board>/{trace,console}.bin` and
/// reports how it ended.
pub fn run(ws: &Workspace, board: Board, options: &RunOptions) -> anyhow::Result<RunReport> {
    let decoder = decoder(ws, board)?;
    let captures = Captures::in_dir(&ws.out_dir(board));
    let mut report = run_command(command(ws, board, options), decoder, &captures, options)?;
    report.tracker.judge_trace_split();
    Ok(report)
}

/// One of QEMU's two UART streams.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// UART0 on stdout.
    Console = 0,
    /// UART1 on the socket.
    Trace = 1,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Console => "console",
            Stream::Trace => "trace",
        }
    }
}

enum Chunk {
    Bytes(Stream, Vec<u8>),
    Closed(Stream),
}

/// Sends what `input` yields as chunks of `stream` until EOF.
fn forward(mut input: impl Read, stream: Stream, tx: &mpsc::Sender<Chunk>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match input.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send(Chunk::Bytes(stream, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
}

/// A Unix socket path for QEMU's UART1, unique to this xtask process and
/// run (short enough for sun_path wherever the checkout is).
fn socket_path() -> PathBuf {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("rampart-{}-{run}-uart1.sock", std::process::id()))
}

/// Waits (polling, so that `stop` ends it) for QEMU to connect to
/// `listener`, then forwards UART1's bytes until EOF.
fn serve_trace_socket(listener: UnixListener, stop: &AtomicBool, tx: &mpsc::Sender<Chunk>) {
    let _ = listener.set_nonblocking(true);
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                forward(stream, Stream::Trace, tx);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => break,
        }
    }
    let _ = tx.send(Chunk::Closed(Stream::Trace));
}

/// Runs a QEMU `command` with UART0 on stdout and UART1 on a socket,
/// decoding both live with `decoder` (UART0's plain text shows as
/// `[console]` lines, UART1's as `[uart]`), saves the raw streams to
/// `captures`, stops it `options.timeout` after the start (sooner after
/// nshost's verdict or a panic) and reports how it ended.
pub fn run_command(
    mut command: Command,
    decoder: Decoder,
    captures: &Captures,
    options: &RunOptions,
) -> anyhow::Result<RunReport> {
    let create = |path: &Path| -> anyhow::Result<BufWriter<File>> {
        Ok(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ))
    };
    let mut files = [create(&captures.console)?, create(&captures.trace)?];
    let mut decoders = [decoder.clone().with_raw_label(CONSOLE_IMAGE), decoder];

    let socket = socket_path();
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .with_context(|| format!("listening on {} for UART1", socket.display()))?;
    command
        .arg("-chardev")
        .arg(format!(
            "socket,id=rampart-uart1,path={},server=off",
            socket.display()
        ))
        .args(["-serial", "chardev:rampart-uart1"]);

    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    println!("$ {}", describe(&command));
    let (tx, rx) = mpsc::channel::<Chunk>();
    let stop = Arc::new(AtomicBool::new(false));
    let trace_reader = {
        let (tx, stop) = (tx.clone(), Arc::clone(&stop));
        std::thread::spawn(move || serve_trace_socket(listener, &stop, &tx))
    };
    let mut child = KillOnDrop(
        command
            .spawn()
            .with_context(|| format!("starting {QEMU}"))?,
    );
    let stdout = child.0.stdout.take().context("QEMU's stdout")?;
    let console_reader = std::thread::spawn(move || {
        forward(stdout, Stream::Console, &tx);
        let _ = tx.send(Chunk::Closed(Stream::Console));
    });

    let started = Instant::now();
    let mut deadline = started + options.timeout;
    let mut kill_reason = format!("timed out after {} s", options.timeout.as_secs());
    let mut tracker = Tracker::default();
    let mut killed = false;
    let mut open = 2;
    // Returns the events the chunk's lines raised, or None when a stream closed.
    let mut take = |chunk: Chunk, tracker: &mut Tracker| -> anyhow::Result<Option<Vec<Event>>> {
        match chunk {
            Chunk::Bytes(stream, bytes) => {
                files[stream as usize]
                    .write_all(&bytes)
                    .context("writing a capture")?;
                let lines = decoders[stream as usize].feed(&bytes);
                for line in &lines {
                    tracker.count(stream.name(), line);
                }
                Ok(Some(show(&lines, tracker, options.quiet)))
            }
            Chunk::Closed(stream) => {
                if stream == Stream::Console {
                    // QEMU is gone: stop waiting for it on the socket.
                    stop.store(true, Ordering::Relaxed);
                }
                Ok(None)
            }
        }
    };
    while open > 0 {
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(chunk) => {
                let Some(events) = take(chunk, &mut tracker)? else {
                    open -= 1;
                    continue;
                };
                for event in events {
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
    // After a kill the readers see EOF; drain what is still queued.
    stop.store(true, Ordering::Relaxed);
    let _ = console_reader.join();
    let _ = trace_reader.join();
    for chunk in rx.try_iter() {
        take(chunk, &mut tracker)?;
    }
    let _ = std::fs::remove_file(&socket);
    for (stream, (file, decoder)) in [Stream::Console, Stream::Trace]
        .into_iter()
        .zip(files.iter_mut().zip(decoders.iter_mut()))
    {
        let lines = decoder.finish();
        for line in &lines {
            tracker.count(stream.name(), line);
        }
        show(&lines, &mut tracker, options.quiet);
        file.flush().context("writing a capture")?;
    }
    let status = child.0.wait().context("waiting for QEMU")?;
    println!(
        "QEMU {} after {:.1} s; raw captures: firmware trace (UART1) {}, console (UART0) {}",
        if killed { "killed" } else { "exited" },
        started.elapsed().as_secs_f64(),
        captures.trace.display(),
        captures.console.display()
    );
    let ending = if killed {
        Ending::Killed(kill_reason)
    } else {
        Ending::Exited(status)
    };
    Ok(RunReport { ending, tracker })
}

/// `cargo xtask trace FILE`: decodes a capture against the built ELFs
/// (text that is not a record shows as `[console]` lines for a
/// `console*.bin` capture of UART0, as `[uart]` lines otherwise).
pub fn decode_file(ws: &Workspace, board: Board, file: &Path) -> anyhow::Result<()> {
    board.info()?;
    let mut decoder = decoder(ws, board)?;
    let is_console = file
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("console"));
    if is_console {
        decoder = decoder.with_raw_label(CONSOLE_IMAGE);
    }
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
