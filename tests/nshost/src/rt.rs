//! The payload's runtime: entry for the boot core and for cores started by
//! CPU_ON, an identity map with the MMU on (so that locks and atomics are
//! well defined), and an EL2 vector that turns an expected abort into a
//! value the test can check.

use crate::{BOARD, MAX_CPUS};
use core::arch::global_asm;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use rampart_arch::{esr, isb, read_sysreg, tlbi_alle2, write_sysreg};
use rampart_kernel::pagetable::{Attrs, MAIR, OutputPas, Regime, TableBuilder, tcr};

const STACK_SIZE: usize = 0x4000;

global_asm!(
    ".section .text.entry, \"ax\"",
    ".global _start",
    "_start:",
    "    mov x19, x0",
    "    mov x0, #0",
    "    bl 7f",
    "    ldr x9, =__bss_start",
    "    ldr x10, =__bss_end",
    "1:  cmp x9, x10",
    "    b.hs 2f",
    "    str xzr, [x9], #8",
    "    b 1b",
    "2:  mov x0, x19",
    "    bl nshost_main",
    "    b .",
    // CPU_ON entry: x0 = context id = core index.
    ".global nshost_secondary",
    "nshost_secondary:",
    "    cmp x0, #{cpus}",
    "    b.hs .",
    "    mov x19, x0",
    "    bl 7f",
    "    bl nshost_secondary_init",
    "    mov x0, x19",
    "    bl nshost_secondary_main",
    "    b .",
    // sp <- top of core x0's stack.
    "7:  ldr x9, =__stacks_start",
    "    add x10, x0, #1",
    "    mov x11, #{stack}",
    "    madd x9, x10, x11, x9",
    "    mov sp, x9",
    "    ret",
    ".ltorg",
    cpus = const MAX_CPUS,
    stack = const STACK_SIZE,
);

// EL2 vectors. Expected: "current EL with SP_ELx, synchronous" (the
// probe's abort, or an UNDEFINED EL3 would inject), which skips the
// instruction and records ESR; and "lower EL, synchronous" (the HVC that
// ends an EL1 excursion of wfi.rs).
global_asm!(
    ".section .text.vectors, \"ax\"",
    ".balign 2048",
    "nshost_vectors:",
    ".rept 4",
    ".balign 128",
    "    b nshost_unexpected",
    ".endr",
    ".balign 128",
    "    stp x0, x1, [sp, #-16]!",
    "    mrs x0, esr_el2",
    "    ldr x1, =nshost_last_esr",
    "    str x0, [x1]",
    "    mrs x0, elr_el2",
    "    add x0, x0, #4",
    "    msr elr_el2, x0",
    "    ldp x0, x1, [sp], #16",
    "    eret",
    ".rept 3",
    ".balign 128",
    "    b nshost_unexpected",
    ".endr",
    // Lower EL, AArch64, synchronous: the end of an EL1 excursion (wfi.rs).
    ".balign 128",
    "    b nshost_el1_returned",
    ".rept 7",
    ".balign 128",
    "    b nshost_unexpected",
    ".endr",
    ".ltorg",
);

#[unsafe(no_mangle)]
static nshost_last_esr: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" {
    static nshost_vectors: u8;
    fn nshost_secondary();
}

const POOL_TABLES: usize = 8;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[[u64; 512]; POOL_TABLES]>);
// SAFETY: written by the boot core before it starts any other core.
unsafe impl Sync for Pool {}
static POOL: Pool = Pool(UnsafeCell::new([[0; 512]; POOL_TABLES]));

fn enable_mmu() {
    // SAFETY: reading the pool's address only.
    let root = unsafe { (*POOL.0.get()).as_ptr() as u64 };
    let ps = (read_sysreg!("id_aa64mmfr0_el1") & 0xf).min(0b101);
    write_sysreg!("vbar_el2", &raw const nshost_vectors as u64);
    write_sysreg!("mair_el2", MAIR);
    write_sysreg!("tcr_el2", tcr(ps));
    write_sysreg!("ttbr0_el2", root);
    isb();
    tlbi_alle2();
    // RES1 | M | C | SA | I.
    write_sysreg!(
        "sctlr_el2",
        0x30c5_0830 | 1 | (1 << 2) | (1 << 3) | (1 << 12)
    );
    isb();
}

/// Boot core: identity map of DRAM (the RMM region included, to probe it)
/// and the trace UART, MMU on, trace on.
pub fn init_primary() {
    // SAFETY: see `Pool`.
    let pool = unsafe { &mut *POOL.0.get() };
    let pa = pool.as_ptr() as u64;
    let mut t = TableBuilder::new(pool, pa, Regime::NonSecureEl2);
    for bank in BOARD.dram {
        t.map(
            bank.base,
            bank.size,
            Attrs {
                executable: true,
                ..Attrs::data(OutputPas::NonSecure)
            },
        )
        .expect("map dram");
    }
    t.map(
        BOARD.ns_console.base,
        0x1000,
        Attrs::device(OutputPas::NonSecure),
    )
    .expect("map uart");
    // The boot core's GIC redistributor, for the WFI cases' timer interrupt.
    t.map(
        BOARD.gic.redistributors,
        BOARD.gic.redistributor_stride,
        Attrs::device(OutputPas::NonSecure),
    )
    .expect("map redistributor");
    enable_mmu();
    // SAFETY: the UART and the lock word (in a DRAM bank) were mapped
    // above. The lock matters only when an RMM writes the same UART (its
    // fallback under TF-A's BL31); under root nshost writes UART0 alone.
    unsafe {
        rampart_kernel::trace::init(
            rampart_ipc::trace::NSHOST,
            BOARD.ns_console.base as usize,
            BOARD.trace_lock.unwrap_or(0) as usize,
        )
    };
}

#[unsafe(no_mangle)]
extern "C" fn nshost_secondary_init() {
    enable_mmu();
}

#[unsafe(no_mangle)]
extern "C" fn nshost_unexpected() -> ! {
    panic!(
        "nshost: unexpected exception ESR_EL2={:#x} ELR_EL2={:#x}",
        read_sysreg!("esr_el2"),
        read_sysreg!("elr_el2")
    );
}

pub fn secondary_entry() -> u64 {
    nshost_secondary as *const () as u64
}

/// Forgets the last exception the EL2 vector recorded.
pub fn clear_last_esr() {
    nshost_last_esr.store(0, Ordering::SeqCst);
}

/// ESR_EL2 of the last exception the EL2 vector skipped over (0: none).
pub fn last_esr() -> u64 {
    nshost_last_esr.load(Ordering::SeqCst)
}

/// Reads `addr`; returns the value and the ESR of the abort it raised, if any.
pub fn probe(addr: u64) -> (u64, Option<u64>) {
    nshost_last_esr.store(0, Ordering::SeqCst);
    // SAFETY: `addr` is identity-mapped normal memory and the EL2 vector
    // above skips the load if it aborts.
    let value = unsafe { rampart_arch::probe_read(addr) };
    let esr = nshost_last_esr.load(Ordering::SeqCst);
    (value, (esr != 0).then_some(esr))
}

/// A data abort at EL2 from the granule protection check, as EL3 makes it
/// reach NS-EL2: root takes granule protection faults itself and delivers
/// them as synchronous external aborts; TF-A's BL31 leaves SCR_EL3.GPF
/// clear, so the fault is reported at EL2 as a GPF (DFSC 0b101000, Arm
/// DDI0615 "Granule protection checks").
pub fn is_gpc_abort(esr_value: u64) -> bool {
    let fsc = if crate::interop::TF_A {
        esr::FSC_GPF
    } else {
        esr::FSC_SEA
    };
    esr::class(esr_value) == esr::EC_DABT_CURRENT && esr_value & 0x3f == fsc
}
