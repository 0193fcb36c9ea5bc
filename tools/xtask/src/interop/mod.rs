//! `cargo xtask interop`: Rampart's images against the reference stack on
//! QEMU virt.
//!
//! * `--tfa-bl31 FILE` ([`tf_a`]): TF-A's BL1, BL2 and BL31 boot Rampart's
//!   RMM (`realm`) and the `nshost` test payload as BL33; the end-to-end
//!   cases run against Rampart's RMM with TF-A at EL3.
//! * `--tf-rmm FILE` ([`tf_rmm`]): Rampart's root boots TF-RMM.

pub mod tf_a;
pub mod tf_rmm;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use crate::board::Board;
use crate::firmware::{cargo_build, flatten};
use crate::prereq;
use crate::workspace::{GUEST, Workspace};

/// A file the user named (or one beside it), which must not be empty.
fn read(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(!bytes.is_empty(), "{} is empty", path.display());
    Ok(bytes)
}

/// Rampart's images for a run against the reference stack, built for
/// qemu-virt into `out` (flat binaries with their ELFs beside them): first
/// the realm guest, which nshost embeds.
struct RampartImages<'a> {
    ws: &'a Workspace,
    out: &'a Path,
    objcopy: PathBuf,
    guest_bin: PathBuf,
}

impl<'a> RampartImages<'a> {
    fn start(ws: &'a Workspace, out: &'a Path) -> Result<Self> {
        prereq::check_target(&ws.root)?;
        let objcopy = prereq::objcopy(&ws.root)?;
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let (guest_package, guest_stem) = GUEST;
        cargo_build(ws, guest_package, Board::QemuVirt, None, &[])?;
        flatten(ws, &objcopy, guest_package, guest_stem, out)?;
        let guest_bin = out.join(format!("{guest_stem}.bin"));
        Ok(Self {
            ws,
            out,
            objcopy,
            guest_bin,
        })
    }

    /// Builds `package` (nshost with the guest inside, and `env` for its
    /// build script) and returns its flat binary, kept as `<stem>.bin`.
    fn build(&self, package: &str, stem: &str, env: &[(&str, &str)]) -> Result<Vec<u8>> {
        let guest = (package == crate::workspace::GUEST_HOST).then_some(self.guest_bin.as_path());
        cargo_build(self.ws, package, Board::QemuVirt, guest, env)?;
        flatten(self.ws, &self.objcopy, package, stem, self.out)
    }
}
