//! The device tree root hands the Normal world when it is the reset image:
//! the machine's blob, fixed up in place by `rampart_kernel::dtb` (a `/psci`
//! node for root's PSCI, DEN0022 5.x; `enable-method` on every CPU;
//! `/reserved-memory` for the RMM region and root's pages in NS DRAM).

use crate::BOARD;
use rampart_kernel::dtb::{self, Fixups};
use rampart_kernel::rootmap::ns_dtb_window;

/// Fixes up the blob at the start of the board's DTB window. On failure the
/// original blob stays there, unchanged, and the Normal world gets that.
/// Boot core, cold boot, before any other world runs.
pub fn fix_up(fixes: &Fixups<'_>) {
    let Some(window) = ns_dtb_window(&BOARD) else {
        return;
    };
    // SAFETY: mmu.rs maps the window read-write in the NS PAS for root
    // (rootmap::root_regions). Only the boot core runs (the others wait in
    // the pen) and no lower world has run yet, so nothing else reads or
    // writes this memory while the slice lives.
    let blob =
        unsafe { core::slice::from_raw_parts_mut(window.base as *mut u8, window.size as usize) };
    let result = dtb::fixup_in_place(blob, fixes);
    let (heap_used, _) = rampart_kernel::heap::usage();
    match result {
        Ok(len) => {
            // The Normal world reads it with its MMU and caches off.
            rampart_arch::dc_civac_range(window.base as usize, len);
            defmt::info!(
                "dtb: fixed up the device tree at {=u64:#x} for the Normal world ({=usize} bytes): /psci, {=usize} reserved ranges, bootargs {=bool}, initrd {=bool} (heap {=usize} bytes still in use)",
                window.base,
                len,
                fixes.reservations().len(),
                fixes.bootargs.is_some(),
                fixes.initrd.is_some(),
                heap_used
            );
        }
        Err(e) => {
            // The fixup put back the header word it had trimmed: clean it.
            rampart_arch::dc_civac_range(window.base as usize, 64);
            defmt::error!(
                "dtb: cannot fix up the device tree at {=u64:#x}: {}; passing it unchanged",
                window.base,
                defmt::Debug2Format(&e)
            );
        }
    }
}
