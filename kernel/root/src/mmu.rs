//! Root's own translation tables (EL3 stage 1, identity map) and turning
//! the MMU and caches on. Everything root touches is mapped with the PAS it
//! must be accessed in; nothing else is mapped.

use crate::BOARD;
use crate::boot;
use core::cell::UnsafeCell;
use rampart_arch::{isb, read_sysreg, tlbi_alle3, write_sysreg};
use rampart_kernel::pagetable::{MAIR, Regime, TableBuilder, tcr};
use rampart_kernel::rootmap::{ImageSpans, root_regions};

/// Tables in root's pool (`rampart_kernel::rootmap` tests that every board's
/// map fits).
const POOL_TABLES: usize = rampart_kernel::rootmap::ROOT_TABLES;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[[u64; 512]; POOL_TABLES]>);
// SAFETY: the pool is written only by the boot core in `build`, before any
// other core runs root code; afterwards only the MMU reads it.
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([[0; 512]; POOL_TABLES]));

/// SCTLR_EL3: M, C, SA, I, WXN on top of RES1.
const SCTLR_EL3_ON: u64 =
    boot::SCTLR_EL3_RES1 | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 12) | (1 << 19);

fn ps_field() -> u64 {
    // PARange capped at 48 bits: the VA (and so the identity map) is 48 bits.
    (read_sysreg!("id_aa64mmfr0_el1") & 0xf).min(0b101)
}

/// Builds the EL3 tables. Boot core only, MMU off, once.
pub fn build() {
    // SAFETY: see `Pool`'s Sync impl: single writer, before the MMU uses it.
    let pool = unsafe { &mut *POOL.0.get() };
    let pool_pa = pool.as_ptr() as u64;
    let mut t = TableBuilder::new(pool, pool_pa, Regime::El3);
    let (start, text_end, rodata_end, ram_end) = boot::image_layout();
    let image = ImageSpans {
        start,
        text_end,
        rodata_end,
        ram_end,
    };
    let (regions, count) = root_regions(&BOARD, image);
    for &(base, size, attrs) in &regions[..count] {
        if let Err(e) = t.map(base, size, attrs) {
            panic!("mmu: cannot map {:#x}+{:#x}: {:?}", base, size, e);
        }
    }
}

/// Turns the MMU and caches on with the tables `build` made. Every core.
pub fn enable() {
    // SAFETY: reading the pool's address only.
    let root = unsafe { (*POOL.0.get()).as_ptr() as u64 };
    write_sysreg!("mair_el3", MAIR);
    write_sysreg!("tcr_el3", tcr(ps_field()));
    write_sysreg!("ttbr0_el3", root);
    isb();
    tlbi_alle3();
    write_sysreg!("sctlr_el3", SCTLR_EL3_ON);
    isb();
}
