//! Board services root provides: finding the images it runs (from the boot
//! flash package, or from BL2's handoff), the RMM's boot manifest, and power.

use crate::BOARD;
use rampart_board::handoff::{self, Window};
use rampart_board::package::{ImageKind, Package};
use rampart_board::{Bl31Boot, FlashBoot, PowerControl, Range, RootBoot};
use rampart_ipc::rmm_el3::{BootManifest, Console, SHARED_PAGE_SIZE, write_manifest};
use rampart_ipc::smccc::PsciError;
use rampart_kernel::rootmap::NS_LOAD_WINDOW;
use spin::Once;

/// Where the Normal world starts on the boot core, and its x0..x3.
#[derive(Clone, Copy, Debug)]
pub struct NsBoot {
    pub entry: u64,
    pub args: [u64; 4],
}

static NS_BOOT: Once<NsBoot> = Once::new();

/// The Normal world's boot entry, once `prepare_images` found it.
pub fn ns_boot() -> Option<NsBoot> {
    NS_BOOT.get().copied()
}

/// Gets the RMM and the Normal-world image ready to run, the board's way.
/// Returns where the RMM image lies (for its measurement), or None (after
/// saying why in the trace) when there is nothing sound to run.
pub fn prepare_images() -> Option<Range> {
    match BOARD.root.boot {
        RootBoot::ResetVector(flash) => {
            let loaded = load_images(flash)?;
            // The payload gets the DTB QEMU places at the start of DRAM,
            // fixed up for it (the original if that fails), in x0 and zero
            // in x1..x3 (Linux's arm64 boot protocol).
            let os = os_handoff();
            if let Some(initrd) = os.initrd {
                defmt::info!(
                    "boot: initramfs at {=u64:#x}..{=u64:#x}",
                    initrd.base,
                    initrd.end()
                );
            }
            if let Some(bootargs) = os.bootargs {
                defmt::info!("boot: command line \"{=str}\"", bootargs);
            }
            #[cfg(feature = "ns-dtb")]
            {
                let mut fixups = rampart_kernel::dtb::Fixups::for_board(&BOARD);
                fixups.bootargs = os.bootargs;
                fixups.initrd = os.initrd;
                crate::dtb::fix_up(&fixups);
            }
            NS_BOOT.call_once(|| NsBoot {
                entry: loaded.ns_entry,
                args: [BOARD.dram[0].base, 0, 0, 0],
            });
            Some(loaded.rmm)
        }
        RootBoot::Bl31(bl31) => {
            program_warm_mailbox(bl31);
            from_handoff(bl31)
        }
    }
}

/// Reads BL2's handoff (see `rampart_board::handoff`): BL2 has loaded the
/// RMM and BL33 already; root checks where and takes BL33's entry point.
fn from_handoff(bl31: Bl31Boot) -> Option<Range> {
    let args = crate::boot::handoff_args();
    // SAFETY: the handoff range is mapped read-only for root (mmu.rs); BL2
    // is done with it and nothing else writes it while root boots.
    let bytes = unsafe {
        core::slice::from_raw_parts(bl31.handoff.base as *const u8, bl31.handoff.size as usize)
    };
    let window = Window {
        base: bl31.handoff.base,
        bytes,
    };
    let checked = handoff::parse(args, &window).and_then(|h| h.check(&BOARD).map(|()| h));
    let h = match checked {
        Ok(h) => h,
        Err(e) => {
            defmt::error!(
                "boot: unusable handoff from BL2 (x0={=u64:#x} x1={=u64:#x} x3={=u64:#x}): {}",
                args[0],
                args[1],
                args[3],
                e
            );
            return None;
        }
    };
    defmt::info!(
        "boot: BL2 handoff ({}): RMM at {=u64:#x}, BL33 at {=u64:#x}",
        h.format,
        h.rmm.pc,
        h.bl33.pc
    );
    let [x0, x1, x2, x3, ..] = h.bl33.args;
    NS_BOOT.call_once(|| NsBoot {
        entry: h.bl33.pc,
        args: [x0, x1, x2, x3],
    });
    // Without an image_info (transfer list), measure the whole room.
    Some(h.rmm.image.unwrap_or(Range::new(
        BOARD.rmm.base,
        BOARD.rmm_shared_page - BOARD.rmm.base,
    )))
}

/// Tells BL1 where warm-booting cores enter root: the trusted mailbox.
fn program_warm_mailbox(bl31: Bl31Boot) {
    publish_boot_word(bl31.warm_mailbox, crate::boot::warm_entry());
}

/// Writes a boot word that cores read with their MMU and caches off (a
/// holding-pen word, or BL1's trusted mailbox), then cleans it to the point
/// of coherency so that they see it.
fn publish_boot_word(addr: u64, value: u64) {
    // SAFETY: callers pass a pen word or the trusted mailbox; mmu.rs maps
    // both read-write for root, and only cores coming out of reset or
    // parked read them.
    unsafe { core::ptr::write_volatile(addr as *mut u64, value) };
    rampart_arch::dc_civac_range(addr as usize, 8);
}

/// What the boot package put in place for the two worlds.
struct Loaded {
    /// Where the RMM image now lies (for its measurement).
    rmm: Range,
    /// Where the Normal world starts: the packaged payload's load address,
    /// or the placed BL33's.
    ns_entry: u64,
}

/// What the boot package says about the Normal world's OS, for the device
/// tree root hands it: the placed initramfs and the command line.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsHandoff {
    pub initrd: Option<Range>,
    pub bootargs: Option<&'static str>,
}

static OS_HANDOFF: Once<OsHandoff> = Once::new();

/// The initramfs and command line the package named, once `prepare_images` ran.
pub fn os_handoff() -> OsHandoff {
    OS_HANDOFF.get().copied().unwrap_or_default()
}

/// Normal-world DRAM a placed image may occupy: from the end of the RMM
/// region to the end of its bank. What lies below the RMM region (QEMU's
/// DTB, root's trace-lock page) is root's to describe, not a loader's.
fn placed_window() -> Range {
    let bank_end = BOARD
        .dram_bank_of(BOARD.ns_entry)
        .map_or(BOARD.ns_entry, |bank| bank.end());
    Range::new(BOARD.ns_entry, bank_end - BOARD.ns_entry)
}

/// Copies the RMM and the NS payload from the package to their load
/// addresses, or takes a placed BL33 (and initramfs and command line) where
/// the loader put it. Returns None (after saying why) when the package is
/// unusable.
fn load_images(boot: FlashBoot) -> Option<Loaded> {
    let flash = boot.flash;
    let offset = boot.package_offset;
    // SAFETY: the boot flash is mapped read-only for root (mmu.rs) and never written.
    let bytes: &'static [u8] = unsafe {
        core::slice::from_raw_parts(
            (flash.base + offset) as *const u8,
            (flash.size - offset) as usize,
        )
    };
    let package = match Package::parse(bytes) {
        Ok(p) => p,
        Err(e) => {
            defmt::error!(
                "boot: no usable image package at flash+{=u64:#x}: {}",
                offset,
                defmt::Debug2Format(&e)
            );
            return None;
        }
    };
    let rmm = copy_image(
        &package,
        ImageKind::Rmm,
        Range::new(BOARD.rmm.base, BOARD.rmm.size - SHARED_PAGE_SIZE as u64),
    )?;
    let ns_entry = match placed(&package, ImageKind::Bl33)? {
        Some(bl33) => bl33.base,
        None => {
            copy_image(
                &package,
                ImageKind::NsPayload,
                Range::new(BOARD.ns_entry, NS_LOAD_WINDOW),
            )?
            .base
        }
    };
    let initrd = placed(&package, ImageKind::Initrd)?;
    let bootargs = match package.image(ImageKind::Bootargs, Range::new(0, MAX_BOOTARGS)) {
        Ok(Some((_, text))) => match core::str::from_utf8(text) {
            Ok(text) if !text.contains('\0') => Some(text),
            _ => {
                defmt::error!("boot: the command line is not UTF-8 text without NUL");
                return None;
            }
        },
        Ok(None) => None,
        Err(e) => {
            defmt::error!("boot: command line rejected: {}", defmt::Debug2Format(&e));
            return None;
        }
    };
    OS_HANDOFF.call_once(|| OsHandoff { initrd, bootargs });
    Some(Loaded { rmm, ns_entry })
}

/// Longest command line root passes on (Linux's arm64 COMMAND_LINE_SIZE).
const MAX_BOOTARGS: u64 = 2048;

/// Copies one packaged image to its load address inside `allowed`; returns
/// where it now lies, or None (after saying why).
fn copy_image(package: &Package<'_>, kind: ImageKind, allowed: Range) -> Option<Range> {
    match package.image(kind, allowed) {
        Ok(Some((entry, image))) => {
            // SAFETY: `allowed` lies inside a range root maps read-write
            // (RMM region or NS load window) and `image` fits it (checked by `image`).
            let dest =
                unsafe { core::slice::from_raw_parts_mut(entry.load as *mut u8, image.len()) };
            dest.copy_from_slice(image);
            rampart_arch::dc_civac_range(entry.load as usize, image.len());
            defmt::info!(
                "boot: loaded {} ({=usize} bytes) at {=u64:#x}",
                defmt::Debug2Format(&kind),
                image.len(),
                entry.load
            );
            Some(Range::new(entry.load, image.len() as u64))
        }
        Ok(None) => {
            defmt::error!(
                "boot: the package has no {} image",
                defmt::Debug2Format(&kind)
            );
            None
        }
        Err(e) => {
            defmt::error!(
                "boot: {} image rejected: {}",
                defmt::Debug2Format(&kind),
                defmt::Debug2Format(&e)
            );
            None
        }
    }
}

/// A placed image the package names, checked to lie in Normal-world DRAM
/// above the RMM region. Outer None: unusable (said why); inner: absent.
fn placed(package: &Package<'_>, kind: ImageKind) -> Option<Option<Range>> {
    match package.placed(kind, placed_window()) {
        Ok(Some(range)) => {
            defmt::info!(
                "boot: {} placed by the loader at {=u64:#x} ({=u64} bytes)",
                defmt::Debug2Format(&kind),
                range.base,
                range.size
            );
            Some(Some(range))
        }
        Ok(None) => Some(None),
        Err(e) => {
            defmt::error!(
                "boot: placed {} rejected: {}",
                defmt::Debug2Format(&kind),
                defmt::Debug2Format(&e)
            );
            None
        }
    }
}

/// Writes the boot manifest (v0.5) into the EL3<->RMM shared page.
pub fn write_boot_manifest() {
    let mut manifest = BootManifest::default();
    for bank in BOARD.dram {
        let _ = manifest.dram.push(*bank);
    }
    let _ = manifest.consoles.push(Console {
        base: BOARD.rmm_console.base,
        map_pages: 1,
        name: *b"pl011\0\0\0",
        clk_in_hz: u64::from(BOARD.rmm_console.clock_hz),
        baud_rate: 115_200,
    });
    let pa = BOARD.rmm_shared_page;
    // SAFETY: the shared page is the last granule of the RMM region, which
    // root maps read-write in the Realm PAS; the RMM is not running yet.
    let page = unsafe { &mut *(pa as *mut [u8; SHARED_PAGE_SIZE]) };
    write_manifest(&manifest, pa, page);
    rampart_arch::dc_civac_range(pa as usize, SHARED_PAGE_SIZE);
}

fn pl061_pulse(base: u64, line: u8) -> ! {
    let bit = 1u32 << line;
    let dir = (base + 0x400) as *mut u32;
    let data = (base + (1u64 << (line + 2))) as *mut u32;
    // SAFETY: the board's power GPIO, mapped as a secure device by mmu.rs.
    unsafe {
        core::ptr::write_volatile(dir, core::ptr::read_volatile(dir) | bit);
        core::ptr::write_volatile(data, 0);
        core::ptr::write_volatile(data, bit);
    }
    loop {
        rampart_arch::wfi();
    }
}

/// SYSTEM_OFF/RESET through the SCP. The SCP may cut power before it
/// answers, so a timeout is expected; either way this core waits for it.
fn scmi_system(request: fn() -> Result<(), rampart_scmi::Error>) -> ! {
    // BL1 must cold boot after a reset, not take the warm path.
    if let RootBoot::Bl31(bl31) = BOARD.root.boot {
        publish_boot_word(bl31.warm_mailbox, 0);
    }
    if let Err(e) = request() {
        defmt::info!("psci: SCP answered {}", defmt::Debug2Format(&e));
    }
    loop {
        rampart_arch::wfi();
    }
}

/// Opens the board's power controller (boot core, after the MMU is on).
pub fn init_power() {
    if let PowerControl::Scmi(config) = BOARD.power {
        crate::power::init(config);
    }
}

/// PSCI SYSTEM_OFF.
pub fn system_off() -> ! {
    defmt::info!("psci: system off");
    match BOARD.power {
        PowerControl::Pl061Gpio {
            base,
            poweroff_line,
            ..
        } => pl061_pulse(base, poweroff_line),
        PowerControl::Scmi(_) => scmi_system(crate::power::system_off),
        PowerControl::None => loop {
            rampart_arch::wfi();
        },
    }
}

/// PSCI SYSTEM_RESET.
pub fn system_reset() -> ! {
    defmt::info!("psci: system reset");
    match BOARD.power {
        PowerControl::Pl061Gpio {
            base, reset_line, ..
        } => pl061_pulse(base, reset_line),
        PowerControl::Scmi(_) => scmi_system(crate::power::system_reset),
        PowerControl::None => loop {
            rampart_arch::wfi();
        },
    }
}

/// The holding-pen word of a core, on boards with a pen.
pub fn pen_slot(core: usize) -> Option<u64> {
    BOARD.root.hold_pen().map(|pen| pen + core as u64 * 8)
}

/// Starts `core` at root's warm entry: releases it from the pen, or asks
/// the board's power controller to power it up (BL1 then sends it to the
/// warm entry through the trusted mailbox).
pub fn power_on(core: usize) -> Result<(), PsciError> {
    match pen_slot(core) {
        Some(slot) => {
            release_from_pen(slot, crate::boot::warm_entry());
            Ok(())
        }
        None => match BOARD.power {
            PowerControl::Scmi(_) => crate::power::cpu_on(core).map_err(|e| {
                defmt::error!(
                    "psci: the SCP refused to power core {=usize} on: {}",
                    core,
                    defmt::Debug2Format(&e)
                );
                PsciError::InternalFailure
            }),
            PowerControl::Pl061Gpio { .. } | PowerControl::None => {
                defmt::error!(
                    "psci: board {=str} has no way to power core {=usize} on",
                    BOARD.name,
                    core
                );
                Err(PsciError::InternalFailure)
            }
        },
    }
}

/// CPU_OFF on boards without a pen: the core stops here until the power
/// controller (or a reset) takes it; a CPU_ON brings it back through BL1.
pub fn power_off_this_core(core: usize) -> ! {
    if let PowerControl::Scmi(_) = BOARD.power {
        // The SCP powers the core down once it is in WFI.
        if let Err(e) = crate::power::cpu_off(core) {
            defmt::warn!(
                "psci: SCP power-off of core {=usize}: {}",
                core,
                defmt::Debug2Format(&e)
            );
        }
    }
    defmt::info!("psci: core {=usize} stopped", core);
    loop {
        rampart_arch::wfi();
    }
}

/// Releases a core from its pen word `slot` to `entry`.
fn release_from_pen(slot: u64, entry: u64) {
    publish_boot_word(slot, entry);
    rampart_arch::sev();
}

/// Clears a core's pen word so that it waits when parked.
pub fn clear_pen(slot: u64) {
    publish_boot_word(slot, 0);
}
