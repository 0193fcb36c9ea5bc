//! Building the firmware images and the boot flash image.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};
use rampart_board::{Bl31Boot, BoardInfo, Range, RootBoot};

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
pub fn flatten(
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

/// Builds the images `board` needs and reports their sizes; returns the
/// output directory.
///
/// A board whose root is the reset image (QEMU) gets the realm guest, root,
/// realm and nshost (which embeds the guest's flat binary) and the boot
/// flash image `target/rampart/<board>/flash.bin`. A board where TF-A's BL2
/// loads root as BL31 (FVP RD-V3) gets root and realm, checked against the
/// size limits of the board's layout; `package` puts them in a FIP.
pub fn build(ws: &Workspace, board: Board) -> anyhow::Result<PathBuf> {
    let info = board.info()?;
    prereq::check_target(&ws.root)?;
    let objcopy = prereq::objcopy(&ws.root)?;
    let out = ws.out_dir(board);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    match info.root.boot {
        RootBoot::ResetVector(_) => build_flash(ws, board, &info, &objcopy, &out)?,
        RootBoot::Bl31(bl31) => build_bl31_and_rmm(ws, board, &info, bl31, &objcopy, &out)?,
    }
    Ok(out)
}

/// Builds one firmware crate for `board`, with the guest image to embed
/// (nshost) and any further variables for its build script.
pub fn cargo_build(
    ws: &Workspace,
    package: &str,
    board: Board,
    guest_bin: Option<&Path>,
    env: &[(&str, &str)],
) -> anyhow::Result<()> {
    let mut command = firmware_cargo(ws, "build", package, board);
    if let Some(guest_bin) = guest_bin {
        command.env(GUEST_BIN_ENV, guest_bin);
    }
    // nshost's interop variables (tests/nshost/build.rs) apply only when
    // the caller passes them, never from the user's environment.
    command
        .env_remove("RAMPART_NS_BASE")
        .env_remove("RAMPART_NSHOST_EL3")
        .envs(env.iter().copied());
    if !run_status(&mut command)? {
        bail!("building {package} for {} failed", board.name());
    }
    Ok(())
}

fn build_flash(
    ws: &Workspace,
    board: Board,
    info: &BoardInfo,
    objcopy: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    let (guest_package, guest_stem) = GUEST;
    cargo_build(ws, guest_package, board, None, &[])?;
    let guest = flatten(ws, objcopy, guest_package, guest_stem, out)?;
    let guest_bin = out.join(format!("{guest_stem}.bin"));

    for (package, _) in FIRMWARE {
        let embeds_guest = (package == GUEST_HOST).then_some(guest_bin.as_path());
        cargo_build(ws, package, board, embeds_guest, &[])?;
    }
    let mut flat = Vec::new();
    for (package, stem) in FIRMWARE {
        flat.push(flatten(ws, objcopy, package, stem, out)?);
    }

    let [root, rmm, ns] = &flat[..] else {
        bail!("expected three firmware images")
    };
    let image = flash::assemble(info, &Images { root, rmm, ns })
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

/// Root and the RMM for a board that loads them from a FIP, with their
/// sizes against the limits of the board's layout.
fn build_bl31_and_rmm(
    ws: &Workspace,
    board: Board,
    info: &BoardInfo,
    bl31: Bl31Boot,
    objcopy: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    let [root, realm, _] = FIRMWARE;
    let mut report = Vec::new();
    for (package, stem) in [root, realm] {
        cargo_build(ws, package, board, None, &[])?;
        let flat = flatten(ws, objcopy, package, stem, out)?;
        let ram_end = elf_symbol(&ws.elf(package), "__ram_end")?;
        report.push((stem, flat.len() as u64, ram_end));
    }
    println!(
        "images for {} (BL2 loads them from a FIP: `cargo xtask package`):",
        board.name()
    );
    for ((stem, flat, ram_end), limit) in report.iter().zip(size_limits(info, bl31)) {
        let in_use = ram_end - limit.region.base;
        println!(
            "  {:<10}{:>9} bytes of at most {} ({:.1}%); {} of {} bytes of RAM in use with .bss and stacks ({:.1}%)",
            format!("{stem}.bin"),
            flat,
            limit.image,
            100.0 * *flat as f64 / limit.image as f64,
            in_use,
            limit.region.size,
            100.0 * in_use as f64 / limit.region.size as f64,
        );
        ensure!(
            *flat <= limit.image && in_use <= limit.region.size,
            "{stem} does not fit: {flat} bytes (at most {}), {in_use} bytes of RAM (at most {})",
            limit.image,
            limit.region.size
        );
    }
    Ok(())
}

/// What an image must fit: its loaded bytes, and its RAM with .bss and stacks.
struct SizeLimit {
    image: u64,
    region: Range,
}

/// Root (BL31): the loader's image limit inside root's RAM region; the RMM:
/// its region up to the EL3<->RMM shared page, for both.
fn size_limits(info: &BoardInfo, bl31: Bl31Boot) -> [SizeLimit; 2] {
    let rmm = Range::new(info.rmm.base, info.rmm_shared_page - info.rmm.base);
    [
        SizeLimit {
            image: bl31.max_image_size,
            region: info.root.ram,
        },
        SizeLimit {
            image: rmm.size,
            region: rmm,
        },
    ]
}

/// The value of a symbol in an ELF file.
pub fn elf_symbol(elf: &Path, name: &str) -> anyhow::Result<u64> {
    let bytes = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
    let file =
        object::File::parse(&*bytes).with_context(|| format!("parsing {}", elf.display()))?;
    symbol_in(&file, elf, name)
}

/// The value of a symbol in an ELF file already parsed (`elf` names it in
/// the error).
pub fn symbol_in(file: &object::File<'_>, elf: &Path, name: &str) -> anyhow::Result<u64> {
    use object::{Object, ObjectSymbol};
    file.symbols()
        .find(|s| s.name() == Ok(name))
        .map(|s| s.address())
        .with_context(|| format!("{} has no symbol {name}", elf.display()))
}
