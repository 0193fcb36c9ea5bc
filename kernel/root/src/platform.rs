//! Board services root provides: loading the images from the boot flash
//! package, the RMM's boot manifest, and power.

use crate::BOARD;
use crate::mmu::NS_LOAD_WINDOW;
use rampart_board::package::{ImageKind, Package};
use rampart_board::{PowerControl, Range};
use rampart_ipc::rmm_el3::{BootManifest, Console, SHARED_PAGE_SIZE, write_manifest};

/// Copies the RMM and the NS payload from the package to their load
/// addresses. Returns where the RMM image now lies, or None (after saying
/// why) when the package is unusable.
pub fn load_images() -> Option<Range> {
    let flash = BOARD.root.flash;
    let offset = BOARD.root.package_offset;
    // SAFETY: the boot flash is mapped read-only for root (mmu.rs) and never written.
    let bytes = unsafe {
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
    let mut rmm_image = None;
    let targets = [
        (
            ImageKind::Rmm,
            Range::new(BOARD.rmm.base, BOARD.rmm.size - SHARED_PAGE_SIZE as u64),
        ),
        (
            ImageKind::NsPayload,
            Range::new(BOARD.ns_entry, NS_LOAD_WINDOW),
        ),
    ];
    for (kind, allowed) in targets {
        match package.image(kind, allowed) {
            Ok(Some((entry, image))) => {
                // SAFETY: `allowed` lies inside a range root maps read-write
                // (RMM region or NS load window) and `image` fits it (checked by `image`).
                let dest =
                    unsafe { core::slice::from_raw_parts_mut(entry.load as *mut u8, image.len()) };
                dest.copy_from_slice(image);
                rampart_arch::dc_civac_range(entry.load as usize, image.len());
                if kind == ImageKind::Rmm {
                    rmm_image = Some(Range::new(entry.load, image.len() as u64));
                }
                defmt::info!(
                    "boot: loaded {} ({=usize} bytes) at {=u64:#x}",
                    defmt::Debug2Format(&kind),
                    image.len(),
                    entry.load
                );
            }
            Ok(None) => {
                defmt::error!(
                    "boot: the package has no {} image",
                    defmt::Debug2Format(&kind)
                );
                return None;
            }
            Err(e) => {
                defmt::error!(
                    "boot: {} image rejected: {}",
                    defmt::Debug2Format(&kind),
                    defmt::Debug2Format(&e)
                );
                return None;
            }
        }
    }
    rmm_image
}

/// Writes the boot manifest (v0.5) into the EL3<->RMM shared page.
pub fn write_boot_manifest() {
    let mut manifest = BootManifest::default();
    for bank in BOARD.dram {
        let _ = manifest.dram.push(*bank);
    }
    let _ = manifest.consoles.push(Console {
        base: BOARD.trace_uart.base,
        map_pages: 1,
        name: *b"pl011\0\0\0",
        clk_in_hz: u64::from(BOARD.trace_uart.clock_hz),
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

/// PSCI SYSTEM_OFF.
pub fn system_off() -> ! {
    defmt::info!("psci: system off");
    match BOARD.power {
        PowerControl::Pl061Gpio {
            base,
            poweroff_line,
            ..
        } => pl061_pulse(base, poweroff_line),
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
        PowerControl::None => loop {
            rampart_arch::wfi();
        },
    }
}

/// The holding-pen word of a core.
pub fn pen_slot(core: usize) -> u64 {
    BOARD.root.hold_pen + core as u64 * 8
}

/// Releases a core from the pen to `entry`.
pub fn release_from_pen(core: usize, entry: u64) {
    let slot = pen_slot(core);
    // SAFETY: the pen page is mapped read-write for root and holds one word per core.
    unsafe { core::ptr::write_volatile(slot as *mut u64, entry) };
    // Cores waiting with their MMU off read memory, not this core's cache.
    rampart_arch::dc_civac_range(slot as usize, 8);
    rampart_arch::sev();
}

/// Clears a core's pen word so that it waits when parked.
pub fn clear_pen(core: usize) {
    let slot = pen_slot(core);
    // SAFETY: as in `release_from_pen`.
    unsafe { core::ptr::write_volatile(slot as *mut u64, 0) };
    rampart_arch::dc_civac_range(slot as usize, 8);
}
