//! Building the firmware images and the boot flash image.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::board::Board;
use crate::flash::{self, Images};
use crate::prereq;
use crate::workspace::{
    FIRMWARE, FIRMWARE_TARGET, GUEST, GUEST_BIN_ENV, GUEST_HOST, Workspace, cargo, describe,
    run_status, set_defmt_log,
};

/// `cargo <subcommand> --release --target aarch64-unknown-none -p <package>`
/// with only the board's feature.
pub fn firmware_cargo(ws: &Workspace, subcommand: &str, package: &str, board: Board) -> Command {
    let mut command = cargo(&ws.root);
    command.args([
        subcommand,
        "--release",
        "--target",
        FIRMWARE_TARGET,
        "-p",
        package,
    ]);
    command.args(["--no-default-features", "--features", board.name()]);
    set_defmt_log(&mut command);
    command
}

/// Converts a firmware ELF to `<out>/<stem>.bin` and keeps the ELF beside it
/// as `<stem>.elf`; returns the flat binary.
fn flatten(
    ws: &Workspace,
    objcopy: &Path,
    package: &str,
    stem: &str,
    out: &Path,
) -> anyhow::Result<Vec<u8>> {
    let elf = ws.elf(package);
    let bin = out.join(format!("{stem}.bin"));
    let mut command = Command::new(objcopy);
    command.args(["-O", "binary"]).arg(&elf).arg(&bin);
    let status = command
        .status()
        .with_context(|| format!("running `{}`", describe(&command)))?;
    if !status.success() {
        bail!("`{}` failed", describe(&command));
    }
    let bytes = std::fs::read(&bin).with_context(|| format!("reading {}", bin.display()))?;
    // Keep the ELF beside its flat binary: the ELFs under target/ are
    // shared by every board, a capture must decode against its own build.
    let kept = out.join(format!("{stem}.elf"));
    std::fs::copy(&elf, &kept)
        .with_context(|| format!("copying {} to {}", elf.display(), kept.display()))?;
    Ok(bytes)
}

/// Builds the realm guest, then root, realm and nshost (which embeds the
/// guest's flat binary) for `board`, converts them to flat binaries and
/// assembles `target/rampart/<board>/flash.bin`.
pub fn build(ws: &Workspace, board: Board) -> anyhow::Result<()> {
    let info = board.info()?;
    prereq::check_target(&ws.root)?;
    let objcopy = prereq::objcopy(&ws.root)?;
    let out = ws.out_dir(board);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let (guest_package, guest_stem) = GUEST;
    if !run_status(&mut firmware_cargo(ws, "build", guest_package, board))? {
        bail!("building {guest_package} for {} failed", board.name());
    }
    let guest = flatten(ws, &objcopy, guest_package, guest_stem, &out)?;
    let guest_bin = out.join(format!("{guest_stem}.bin"));

    for (package, _) in FIRMWARE {
        let mut command = firmware_cargo(ws, "build", package, board);
        if package == GUEST_HOST {
            command.env(GUEST_BIN_ENV, &guest_bin);
        }
        if !run_status(&mut command)? {
            bail!("building {package} for {} failed", board.name());
        }
    }
    let mut flat = Vec::new();
    for (package, stem) in FIRMWARE {
        flat.push(flatten(ws, &objcopy, package, stem, &out)?);
    }

    let [root, rmm, ns] = &flat[..] else {
        bail!("expected three firmware images")
    };
    let image = flash::assemble(&info, &Images { root, rmm, ns })
        .with_context(|| format!("assembling the flash image of {}", board.name()))?;
    let flash = out.join("flash.bin");
    std::fs::write(&flash, &image).with_context(|| format!("writing {}", flash.display()))?;

    println!("images for {}:", board.name());
    for ((_, stem), bytes) in FIRMWARE.iter().zip(&flat) {
        println!("  {:<11}{:>9} bytes", format!("{stem}.bin"), bytes.len());
    }
    println!(
        "  {:<11}{:>9} bytes  (inside {GUEST_HOST})",
        format!("{guest_stem}.bin"),
        guest.len()
    );
    println!(
        "  {:<11}{:>9} bytes  {}",
        "flash.bin",
        image.len(),
        flash.display()
    );
    Ok(())
}
