//! Where the workspace and its target directory are, and how to run cargo in it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::board::Board;

/// The firmware crates: package name (also the ELF name) and flat-binary stem.
pub const FIRMWARE: [(&str, &str); 3] = [
    ("rampart-root", "root"),
    ("rampart-realm", "realm"),
    ("rampart-nshost", "nshost"),
];

/// The realm guest (package, flat-binary stem): built before the images
/// above, because nshost embeds its flat binary.
pub const GUEST: (&str, &str) = ("rampart-guest", "guest");
/// The image that embeds the guest, and the variable its build script reads
/// the guest's flat binary from.
pub const GUEST_HOST: &str = "rampart-nshost";
pub const GUEST_BIN_ENV: &str = "RAMPART_GUEST_BIN";

pub const FIRMWARE_TARGET: &str = "aarch64-unknown-none-softfloat";

pub struct Workspace {
    pub root: PathBuf,
    pub target: PathBuf,
}

impl Workspace {
    /// The workspace is two levels above this crate; its target directory is
    /// whatever cargo says (it honours CARGO_TARGET_DIR and config).
    pub fn locate() -> anyhow::Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = root
            .canonicalize()
            .with_context(|| format!("workspace root {}", root.display()))?;
        let output = cargo(&root)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .context("running `cargo metadata`")?;
        if !output.status.success() {
            bail!(
                "`cargo metadata` failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let metadata: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("parsing `cargo metadata` output")?;
        let target = metadata["target_directory"]
            .as_str()
            .map(PathBuf::from)
            .context("`cargo metadata` gave no target_directory")?;
        Ok(Self { root, target })
    }

    /// Where a firmware ELF lands.
    pub fn elf(&self, package: &str) -> PathBuf {
        self.target
            .join(FIRMWARE_TARGET)
            .join("release")
            .join(package)
    }

    /// xtask's own outputs for a board: flat binaries, flash image, trace capture.
    pub fn out_dir(&self, board: Board) -> PathBuf {
        self.target.join("rampart").join(board.name())
    }

    pub fn expected_cases(&self) -> PathBuf {
        self.root.join("tests/qemu/expected-cases.txt")
    }
}

/// A cargo command run from the workspace root, with the cargo that runs xtask.
pub fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root);
    command
}

/// Firmware logs at `info` unless the user chose a filter.
pub fn set_defmt_log(command: &mut Command) {
    if std::env::var_os("DEFMT_LOG").is_none() {
        command.env("DEFMT_LOG", "info");
    }
}

/// Runs a command with inherited output; describes it on failure.
pub fn run_status(command: &mut Command) -> anyhow::Result<bool> {
    let shown = describe(command);
    println!("$ {shown}");
    let status = command
        .status()
        .with_context(|| format!("starting `{shown}`"))?;
    Ok(status.success())
}

pub fn describe(command: &Command) -> String {
    let mut s = command.get_program().to_string_lossy().into_owned();
    if s.ends_with("/cargo") || s.ends_with("\\cargo") {
        s = "cargo".into();
    }
    for arg in command.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}
