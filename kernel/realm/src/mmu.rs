//! The RMM's stage-1 tables (R-EL2, identity): its image, its stacks, the
//! shared page and the console. Granules from the host or a realm are
//! mapped into per-CPU slots only for the operation that needs them (comes
//! with the granule service); nothing else is ever mapped.

use crate::{BOARD, boot, slots};
use core::cell::UnsafeCell;
use rampart_arch::{isb, read_sysreg, tlbi_alle2, write_sysreg};
use rampart_kernel::pagetable::{Attrs, MAIR, OutputPas, Regime, TableBuilder, tcr};

const POOL_TABLES: usize = 24;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[[u64; 512]; POOL_TABLES]>);
// SAFETY: written only by the boot CPU during cold boot, before any other
// CPU enters the RMM; afterwards only the MMU reads it.
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([[0; 512]; POOL_TABLES]));

/// SCTLR_EL2: RES1 | M | C | SA | I | WXN.
const SCTLR_EL2_ON: u64 = 0x30c5_0830 | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 12) | (1 << 19);

/// Builds the tables: image, stacks, shared page, the trace UART and its
/// lock word when the RMM writes a UART itself, the `heap` range
/// (RMM-owned memory after the image: the GST) and the slot window's
/// level-3 table.
pub fn build(trace: Option<crate::TraceUart>, heap: rampart_board::Range) {
    // SAFETY: see `Pool`: single writer during cold boot.
    let pool = unsafe { &mut *POOL.0.get() };
    let pool_pa = pool.as_ptr() as u64;
    let mut t = TableBuilder::new(pool, pool_pa, Regime::RealmEl2);
    let (image, text_end, rodata_end, ram_end) = boot::image_layout();
    let mut maps = heapless::Vec::<(u64, u64, Attrs), { 8 + crate::MAX_CPUS }>::new();
    let _ = maps.push((image, text_end - image, Attrs::code(OutputPas::Realm)));
    let _ = maps.push((
        text_end,
        rodata_end - text_end,
        Attrs::rodata(OutputPas::Realm),
    ));
    // Data and bss, then each CPU's stack with its lowest page left
    // unmapped: an overflow faults instead of overwriting what lies below.
    let stacks = ram_end - (boot::STACK_SIZE * crate::MAX_CPUS) as u64;
    let _ = maps.push((
        rodata_end,
        stacks - rodata_end,
        Attrs::data(OutputPas::Realm),
    ));
    for cpu in 0..crate::MAX_CPUS as u64 {
        let base = stacks + cpu * boot::STACK_SIZE as u64 + 0x1000;
        let _ = maps.push((
            base,
            boot::STACK_SIZE as u64 - 0x1000,
            Attrs::data(OutputPas::Realm),
        ));
    }
    let _ = maps.push((BOARD.rmm_shared_page, 0x1000, Attrs::data(OutputPas::Realm)));
    if let Some(uart) = trace {
        let _ = maps.push((uart.base & !0xfff, 0x1000, Attrs::device(uart.pas)));
        if let Some(lock) = uart.lock {
            let _ = maps.push((lock & !0xfff, 0x1000, Attrs::data(OutputPas::NonSecure)));
        }
    }
    if heap.size != 0 {
        let _ = maps.push((heap.base, heap.size, Attrs::data(OutputPas::Realm)));
    }
    for (base, size, attrs) in maps {
        if let Err(e) = t.map(base, size, attrs) {
            panic!("rmm mmu: cannot map {:#x}+{:#x}: {:?}", base, size, e);
        }
    }
    let slots = t
        .level3_table(slots::SLOT_VA_BASE)
        .expect("rmm mmu: slot table");
    let realm = t
        .page_descriptor(0, slots::attrs(OutputPas::Realm))
        .expect("realm page");
    let ns = t
        .page_descriptor(0, slots::attrs(OutputPas::NonSecure))
        .expect("ns page");
    slots::init(slots, realm, ns);
}

pub fn enable() {
    // SAFETY: reading the pool's address only.
    let root = unsafe { (*POOL.0.get()).as_ptr() as u64 };
    let ps = (read_sysreg!("id_aa64mmfr0_el1") & 0xf).min(0b101);
    write_sysreg!("vbar_el2", boot::vectors());
    write_sysreg!("mair_el2", MAIR);
    write_sysreg!("tcr_el2", tcr(ps));
    write_sysreg!("ttbr0_el2", root);
    isb();
    tlbi_alle2();
    write_sysreg!("sctlr_el2", SCTLR_EL2_ON);
    isb();
}
