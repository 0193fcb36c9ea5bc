//! The assets booted on plain QEMU, without Rampart: QEMU's virt board
//! enters the kernel itself and emulates PSCI at EL3 for it, so a failure
//! here is the assets' or the init's, never the firmware's. This is how the
//! assets are validated; the firmware's boot test boots the same files.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{CheckReport, End, LinuxAssets};
use crate::prereq::QEMU;

pub struct PlainBoot {
    pub report: CheckReport,
    pub elapsed: Duration,
    /// QEMU exited by itself (not killed at the timeout) with status 0.
    pub exited_cleanly: bool,
}

/// Boots `assets` on QEMU virt (GICv3, EL2 present, `-cpu max`) with `smp`
/// CPUs, echoing the console, until QEMU exits or `timeout` passes.
pub fn boot_plain(
    assets: &LinuxAssets,
    smp: u32,
    end: End,
    timeout: Duration,
    capture: &Path,
) -> anyhow::Result<PlainBoot> {
    let mut command = Command::new(QEMU);
    command
        .args(["-M", "virt,gic-version=3,virtualization=on"])
        .args(["-cpu", "max", "-m", "2G", "-smp", &smp.to_string()])
        .arg("-kernel")
        .arg(&assets.image)
        .arg("-initrd")
        .arg(&assets.initrd)
        .args([
            "-append",
            &assets.cmdline(smp, end, super::MAX_CPU_FEATURES),
        ])
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
        .arg("-no-reboot")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    println!("$ {}", crate::workspace::describe(&command));
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {QEMU}"))?;
    let stdout = child.stdout.take().context("QEMU's stdout")?;
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            if lines
                .send(String::from_utf8_lossy(&line).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    let mut console = String::new();
    let mut exited_cleanly = false;
    loop {
        match received.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                println!("{}", line.trim_end_matches('\r'));
                console.push_str(&line);
                console.push('\n');
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                exited_cleanly = child.wait()?.success();
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if started.elapsed() > timeout {
            println!(
                "linux-assets: timeout after {}s, killing QEMU",
                timeout.as_secs()
            );
            child.kill().ok();
            child.wait().ok();
            break;
        }
    }
    let elapsed = started.elapsed();
    let mut file = std::fs::File::create(capture)
        .with_context(|| format!("creating {}", capture.display()))?;
    file.write_all(console.as_bytes())?;
    let report = CheckReport::parse(&console);
    Ok(PlainBoot {
        report,
        elapsed,
        exited_cleanly,
    })
}
