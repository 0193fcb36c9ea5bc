//! Building the firmware images and the boot flash image.

use std::process::Command;

use anyhow::{Context, bail};

use crate::board::Board;
use crate::flash::{self, Images};
use crate::prereq;
use crate::workspace::{
    FIRMWARE, FIRMWARE_TARGET, Workspace, cargo, describe, run_status, set_defmt_log,
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

/// Builds root, realm and nshost for `board`, converts them to flat
/// binaries and assembles `target/rampart/<board>/flash.bin`.
pub fn build(ws: &Workspace, board: Board) -> anyhow::Result<()> {
    let info = board.info()?;
    prereq::check_target(&ws.root)?;
    let objcopy = prereq::objcopy(&ws.root)?;
    for (package, _) in FIRMWARE {
        if !run_status(&mut firmware_cargo(ws, "build", package, board))? {
            bail!("building {package} for {} failed", board.name());
        }
    }

    let out = ws.out_dir(board);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut flat = Vec::new();
    for (package, stem) in FIRMWARE {
        let elf = ws.elf(package);
        let bin = out.join(format!("{stem}.bin"));
        let mut command = Command::new(&objcopy);
        command.args(["-O", "binary"]).arg(&elf).arg(&bin);
        let status = command
            .status()
            .with_context(|| format!("running `{}`", describe(&command)))?;
        if !status.success() {
            bail!("`{}` failed", describe(&command));
        }
        let bytes = std::fs::read(&bin).with_context(|| format!("reading {}", bin.display()))?;
        flat.push(bytes);
        // Keep the ELF beside its flat binary: the ELFs under target/ are
        // shared by every board, a capture must decode against its own build.
        let kept = out.join(format!("{stem}.elf"));
        std::fs::copy(&elf, &kept)
            .with_context(|| format!("copying {} to {}", elf.display(), kept.display()))?;
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
        "  {:<11}{:>9} bytes  {}",
        "flash.bin",
        image.len(),
        flash.display()
    );
    Ok(())
}
