//! Prerequisite checks, each failing with the exact way to install what is missing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::workspace::FIRMWARE_TARGET;

/// Oldest QEMU whose `-cpu max,x-rme=on` the stack is run on.
pub const MIN_QEMU: (u32, u32) = (9, 0);

pub const QEMU: &str = "qemu-system-aarch64";

fn qemu_install_help() -> String {
    format!(
        "Rampart needs {QEMU} {}.{} or newer with Arm RME (`-cpu max,x-rme=on`); \
         Debian bookworm's own QEMU 7.2 lacks RME. Install it from bookworm-backports:\n\
         \x20 sudo .ci/install-qemu\n\
         or by hand: add `deb <your Debian mirror> bookworm-backports main` to \
         /etc/apt/sources.list.d/backports.list (the mirror of your bookworm line), then\n\
         \x20 sudo apt-get update && sudo apt-get install -t bookworm-backports qemu-system-arm",
        MIN_QEMU.0, MIN_QEMU.1
    )
}

/// The sysroot of the toolchain the workspace pins (rust-toolchain.toml).
fn sysroot(root: &Path) -> anyhow::Result<PathBuf> {
    let output = Command::new("rustc")
        .current_dir(root)
        .args(["--print", "sysroot"])
        .output()
        .context("running `rustc --print sysroot` (is Rust installed? see https://rustup.rs)")?;
    if !output.status.success() {
        bail!(
            "`rustc --print sysroot` failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

fn host_triple(root: &Path) -> anyhow::Result<String> {
    let output = Command::new("rustc")
        .current_dir(root)
        .arg("-vV")
        .output()
        .context("running `rustc -vV`")?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("`rustc -vV` printed no host triple")
}

/// What rust-toolchain.toml asks rustup for: its `targets` and `components`
/// lists (a flat file of `key = [..]` lines; no TOML parser needed).
fn toolchain_file_list(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key))
        .filter_map(|rest| rest.trim_start().strip_prefix('='))
        .flat_map(|list| {
            list.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(|item| item.trim().trim_matches('"').to_owned())
                .filter(|item| !item.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every target rust-toolchain.toml lists has its standard library in the
/// pinned toolchain. When one is missing (a fresh machine whose toolchain
/// of that version came without them), rustup installs the toolchain file's
/// toolchain, targets and components before anything builds; only without
/// rustup does this stop and say what to run.
pub fn check_target(root: &Path) -> anyhow::Result<()> {
    let file = root.join("rust-toolchain.toml");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let mut targets = toolchain_file_list(&text, "targets");
    if !targets.iter().any(|t| t == FIRMWARE_TARGET) {
        targets.push(FIRMWARE_TARGET.to_owned());
    }
    let missing = |sysroot: &Path| -> Vec<String> {
        targets
            .iter()
            .filter(|t| !sysroot.join("lib/rustlib").join(t).is_dir())
            .cloned()
            .collect()
    };
    let absent = missing(&sysroot(root)?);
    if absent.is_empty() {
        return Ok(());
    }
    println!(
        "rustup: target(s) {} of rust-toolchain.toml missing; installing the pinned toolchain's targets and components",
        absent.join(", ")
    );
    let components = toolchain_file_list(&text, "components");
    let steps: [Vec<String>; 3] = [
        vec!["toolchain".into(), "install".into()],
        [vec!["target".into(), "add".into()], absent.clone()].concat(),
        [vec!["component".into(), "add".into()], components].concat(),
    ];
    for args in steps {
        if args.len() == 2 && args[0] != "toolchain" {
            continue;
        }
        let status = Command::new("rustup")
            .current_dir(root)
            .args(&args)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => bail!("`rustup {}` failed ({s})", args.join(" ")),
            Err(e) => bail!(
                "the Rust target(s) {} are not installed and rustup could not be run ({e}); run:\n\
                 \x20 rustup target add {}",
                absent.join(" "),
                absent.join(" ")
            ),
        }
    }
    let still = missing(&sysroot(root)?);
    if !still.is_empty() {
        bail!(
            "rustup ran but the target(s) {} are still missing; run:\n  rustup target add {}",
            still.join(", "),
            still.join(" ")
        );
    }
    Ok(())
}

/// An objcopy that can turn an AArch64 ELF into a flat binary: the
/// toolchain's llvm-tools first, then `rust-objcopy`, then binutils.
pub fn objcopy(root: &Path) -> anyhow::Result<PathBuf> {
    let llvm = sysroot(root)?
        .join("lib/rustlib")
        .join(host_triple(root)?)
        .join("bin/llvm-objcopy");
    if llvm.is_file() {
        return Ok(llvm);
    }
    for candidate in ["rust-objcopy", "aarch64-linux-gnu-objcopy"] {
        if Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
        {
            return Ok(candidate.into());
        }
    }
    bail!(
        "no objcopy for AArch64 found (llvm-objcopy of the llvm-tools component is expected; \
         rust-toolchain.toml normally installs it); run:\n  rustup component add llvm-tools"
    )
}

#[cfg(test)]
#[test]
fn reads_the_toolchain_file_lists() {
    let text = "[toolchain]\nchannel = \"1.95.0\"\ntargets = [\"aarch64-unknown-none\", \"aarch64-unknown-none-softfloat\"]\ncomponents = [\"llvm-tools\"]\n";
    assert_eq!(
        toolchain_file_list(text, "targets"),
        ["aarch64-unknown-none", "aarch64-unknown-none-softfloat"]
    );
    assert_eq!(toolchain_file_list(text, "components"), ["llvm-tools"]);
    assert!(toolchain_file_list(text, "profile").is_empty());
}

/// Parses `QEMU emulator version 10.0.2 (...)` into (major, minor).
pub fn parse_qemu_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.lines().find_map(|l| l.split("version ").nth(1))?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// QEMU is installed, recent enough, and accepts RME. Returns its version line.
pub fn check_qemu() -> anyhow::Result<String> {
    let output = match Command::new(QEMU).arg("--version").output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{QEMU} is not installed.\n{}", qemu_install_help())
        }
        Err(e) => return Err(e).with_context(|| format!("running `{QEMU} --version`")),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let first = text.lines().next().unwrap_or_default().to_owned();
    match parse_qemu_version(&text) {
        Some(version) if version >= MIN_QEMU => {}
        Some((major, minor)) => bail!(
            "{QEMU} is version {major}.{minor}, too old.\n{}",
            qemu_install_help()
        ),
        None => bail!(
            "cannot read the version of {QEMU} from {first:?}.\n{}",
            qemu_install_help()
        ),
    }
    if let Err(e) = probe_rme() {
        bail!("{e:#}\n{}", qemu_install_help());
    }
    Ok(first)
}

/// Creates the RME machine without running it, then quits through the monitor.
fn probe_rme() -> anyhow::Result<()> {
    let mut child = Command::new(QEMU)
        .args([
            "-M",
            "virt,secure=on,virtualization=on,gic-version=3",
            "-cpu",
            "max,x-rme=on",
        ])
        .args([
            "-S",
            "-display",
            "none",
            "-nodefaults",
            "-serial",
            "none",
            "-monitor",
            "stdio",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {QEMU}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // QEMU may already have exited on a bad option; its status says why.
        let _ = stdin.write_all(b"quit\n");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{QEMU} did not quit while probing for RME support");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        bail!(
            "{QEMU} does not accept `-cpu max,x-rme=on`: {}",
            stderr.trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_qemu_versions() {
        let v = "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\nCopyright";
        assert_eq!(parse_qemu_version(v), Some((10, 0)));
        assert_eq!(
            parse_qemu_version("QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u13)"),
            Some((7, 2))
        );
        assert_eq!(
            parse_qemu_version("QEMU emulator version 9.1.0"),
            Some((9, 1))
        );
        assert!(parse_qemu_version("QEMU emulator version 7.2.15").unwrap() < MIN_QEMU);
        assert_eq!(parse_qemu_version("garbage"), None);
    }
}
