//! The guest's runtime: entry for REC 0 (the REC's initial PC) and for RECs
//! started by PSCI CPU_ON, a stack per REC, an identity stage-1 map with the
//! MMU on, EL1 exception vectors, and the few instructions Rust cannot
//! express (SMC with x0-x10, single-register MMIO, probing loads).

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use rampart_arch::{isb, read_sysreg, write_sysreg};
use rampart_guest::layout::{self, CPUS, STACK_SIZE};
use rampart_kernel::pagetable::{Attrs, MAIR, OutputPas, Regime, TableBuilder};

global_asm!(
    ".section .text.entry, \"ax\"",
    ".global _start",
    // REC 0: x0-x7 come from RmiRecParams; x0 and x7 go to guest_main.
    "_start:",
    "    mov x19, x0",
    "    mov x20, x7",
    "    mov x0, #0",
    "    bl 7f",
    "    adrp x9, __bss_start",
    "    add x9, x9, :lo12:__bss_start",
    "    adrp x10, __bss_end",
    "    add x10, x10, :lo12:__bss_end",
    "1:  cmp x9, x10",
    "    b.hs 2f",
    "    str xzr, [x9], #8",
    "    b 1b",
    "2:  mov x0, x19",
    "    mov x1, x20",
    "    bl guest_main",
    "    b .",
    // CPU_ON entry: x0 = context id; the stack is chosen by MPIDR.Aff0.
    ".global guest_secondary",
    "guest_secondary:",
    "    mov x19, x0",
    "    mrs x0, mpidr_el1",
    "    and x0, x0, #0xff",
    "    cmp x0, #{cpus}",
    "    b.hs 8f",
    "    bl 7f",
    "    mov x0, x19",
    "    bl guest_secondary_main",
    "    b .",
    // No stack for this REC: PSCI CPU_OFF.
    "8:  movz w0, #0x8400, lsl #16",
    "    movk w0, #0x0002",
    "    smc #0",
    "    b .",
    // sp <- top of REC x0's stack.
    "7:  adrp x9, __stacks_start",
    "    add x9, x9, :lo12:__stacks_start",
    "    add x10, x0, #1",
    "    mov x11, #{stack}",
    "    madd x9, x10, x11, x9",
    "    mov sp, x9",
    "    ret",
    cpus = const CPUS,
    stack = const STACK_SIZE,
);

// EL1 vectors. Expected: "current EL with SP_EL1" synchronous (probed
// aborts) and IRQ (the virtual interrupt test); anything else is fatal.
global_asm!(
    ".macro GUEST_SAVE",
    "    sub sp, sp, #176",
    "    stp x0, x1, [sp, #0]",
    "    stp x2, x3, [sp, #16]",
    "    stp x4, x5, [sp, #32]",
    "    stp x6, x7, [sp, #48]",
    "    stp x8, x9, [sp, #64]",
    "    stp x10, x11, [sp, #80]",
    "    stp x12, x13, [sp, #96]",
    "    stp x14, x15, [sp, #112]",
    "    stp x16, x17, [sp, #128]",
    "    stp x18, x29, [sp, #144]",
    "    str x30, [sp, #160]",
    ".endm",
    ".macro GUEST_RESTORE",
    "    ldp x0, x1, [sp, #0]",
    "    ldp x2, x3, [sp, #16]",
    "    ldp x4, x5, [sp, #32]",
    "    ldp x6, x7, [sp, #48]",
    "    ldp x8, x9, [sp, #64]",
    "    ldp x10, x11, [sp, #80]",
    "    ldp x12, x13, [sp, #96]",
    "    ldp x14, x15, [sp, #112]",
    "    ldp x16, x17, [sp, #128]",
    "    ldp x18, x29, [sp, #144]",
    "    ldr x30, [sp, #160]",
    "    add sp, sp, #176",
    ".endm",
    ".section .text.vectors, \"ax\"",
    ".balign 2048",
    ".global guest_vectors",
    "guest_vectors:",
    ".irp i, 0, 1, 2, 3",
    ".balign 128",
    "    mov x0, #\\i",
    "    b guest_vector_bad",
    ".endr",
    ".balign 128",
    "    b guest_vector_sync",
    ".balign 128",
    "    b guest_vector_irq",
    ".irp i, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15",
    ".balign 128",
    "    mov x0, #\\i",
    "    b guest_vector_bad",
    ".endr",
    "guest_vector_sync:",
    "    GUEST_SAVE",
    "    bl guest_sync_handler",
    "    GUEST_RESTORE",
    "    eret",
    "guest_vector_irq:",
    "    GUEST_SAVE",
    "    bl guest_irq_handler",
    "    GUEST_RESTORE",
    "    eret",
    "guest_vector_bad:",
    "    bl guest_bad_vector",
    "    b .",
);

unsafe extern "C" {
    static guest_vectors: u8;
    fn guest_secondary();
}

/// The IPA REC 1 is started at (PSCI CPU_ON's entry point).
pub fn secondary_entry() -> u64 {
    guest_secondary as *const () as u64
}

/// This REC's index (MPIDR_EL1.Aff0, which the RMM sets from the REC's MPIDR).
pub fn cpu() -> usize {
    (rampart_arch::mpidr() & 0xff) as usize
}

// ---- Stage 1 ----

const POOL_TABLES: usize = 8;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[[u64; 512]; POOL_TABLES]>);
// SAFETY: written once by REC 0 before it starts REC 1; read-only afterwards
// (by the table walker).
unsafe impl Sync for Pool {}
static POOL: Pool = Pool(UnsafeCell::new([[0; 512]; POOL_TABLES]));

/// TCR_EL1: T0SZ 16 (48-bit VA, walk from level 0), WB-cacheable
/// inner-shareable walks, 4 KB granule, TTBR1 walks disabled (EPD1, TG1
/// 4 KB), IPS 40 bits (the realm's IPA width).
const TCR_EL1: u64 = 16 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 30) | (2 << 32);
/// SCTLR_EL1: RES1 bits | M | C | SA | I.
const SCTLR_EL1: u64 = 0x30d0_0800 | 1 | (1 << 2) | (1 << 3) | (1 << 12);
/// CPACR_EL1.FPEN = 0b11: FP/SIMD at EL1 and EL0 untrapped.
const CPACR_FPEN: u64 = 3 << 20;

/// REC 0, MMU off: builds the identity map. The descriptor format of the
/// EL1&0 stage 1 (for a single VA range) is that of the non-secure EL2
/// regime with no PAS bits; "NonSecure" only means "no NS/NSE bit" here.
pub fn build_tables() {
    // SAFETY: only REC 0 runs, before any other REC starts or the MMU walks the pool.
    let pool = unsafe { &mut *POOL.0.get() };
    let pa = pool.as_ptr() as u64;
    let mut t = TableBuilder::new(pool, pa, Regime::NonSecureEl2);
    let normal = Attrs {
        executable: true,
        ..Attrs::data(OutputPas::NonSecure)
    };
    let device = Attrs::device(OutputPas::NonSecure);
    let mapped = t.map(layout::BASE, layout::MAP_SIZE, normal).is_ok()
        && t.map(layout::CONSOLE, layout::GRANULE, device).is_ok()
        && t.map(layout::MAGIC_REG, layout::GRANULE, device).is_ok()
        && t.map(layout::TOKEN_PORT, layout::GRANULE, device).is_ok();
    if !mapped {
        // No console without the map: tell the host and stop.
        crate::fatal(0, 0, 0);
    }
}

/// Every REC: vectors, stage 1 on, FP/SIMD enabled.
pub fn enable_mmu() {
    // SAFETY: reading the pool's address only.
    let root = unsafe { (*POOL.0.get()).as_ptr() as u64 };
    write_sysreg!("vbar_el1", &raw const guest_vectors as u64);
    write_sysreg!("mair_el1", MAIR);
    write_sysreg!("tcr_el1", TCR_EL1);
    write_sysreg!("ttbr0_el1", root);
    write_sysreg!("cpacr_el1", CPACR_FPEN);
    isb();
    // SAFETY: TLB invalidation and barriers have no memory-safety effect;
    // the tables were written before (dsb orders those writes).
    unsafe {
        asm!(
            "dsb ish",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            options(nostack)
        )
    };
    write_sysreg!("sctlr_el1", SCTLR_EL1);
    isb();
}

// ---- Exceptions ----

/// Set while a probing load runs: its abort is expected.
static PROBING: AtomicBool = AtomicBool::new(false);
/// ESR_EL1 of the last expected abort.
static PROBE_ESR: AtomicU64 = AtomicU64::new(0);
/// INTID of the last virtual interrupt taken (0 = none yet).
pub static IRQ_TAKEN: AtomicU64 = AtomicU64::new(0);

const EC_DABT_CURRENT: u64 = 0x25;
const EC_UNKNOWN: u64 = 0x00;

/// Set while `wfi_catching_undef` runs its WFI.
static WAITING: AtomicBool = AtomicBool::new(false);
/// ESR_EL1 (with bit 63 set) of an UNDEFINED taken by that WFI.
static WFI_UNDEF_ESR: AtomicU64 = AtomicU64::new(0);

#[unsafe(no_mangle)]
extern "C" fn guest_sync_handler() {
    let esr = read_sysreg!("esr_el1");
    let elr = read_sysreg!("elr_el1");
    if (esr >> 26) & 0x3f == EC_DABT_CURRENT && PROBING.load(Ordering::Relaxed) {
        PROBE_ESR.store(esr, Ordering::Relaxed);
        write_sysreg!("elr_el1", elr + 4);
        return;
    }
    if (esr >> 26) & 0x3f == EC_UNKNOWN && WAITING.load(Ordering::Relaxed) {
        WFI_UNDEF_ESR.store(esr | 1 << 63, Ordering::Relaxed);
        write_sysreg!("elr_el1", elr + 4);
        return;
    }
    crate::fatal(esr, elr, read_sysreg!("far_el1"));
}

#[unsafe(no_mangle)]
extern "C" fn guest_irq_handler() {
    let iar = read_sysreg!("icc_iar1_el1");
    let intid = iar & 0xff_ffff;
    if intid < 1020 {
        IRQ_TAKEN.store(intid, Ordering::Relaxed);
        write_sysreg!("icc_eoir1_el1", iar);
        isb();
    }
}

#[unsafe(no_mangle)]
extern "C" fn guest_bad_vector(kind: u64) -> ! {
    crate::fatal(
        read_sysreg!("esr_el1"),
        read_sysreg!("elr_el1"),
        0xbad0_0000 | kind,
    );
}

/// Loads the u64 at `addr`; returns it and the ESR of the abort it took, if any.
pub fn probe_read(addr: u64) -> (u64, Option<u64>) {
    PROBE_ESR.store(0, Ordering::Relaxed);
    PROBING.store(true, Ordering::Relaxed);
    let value: u64;
    // SAFETY: `addr` is in the guest's stage-1 map (normal memory, 8-byte
    // aligned by the callers); an abort on this one load is skipped by the
    // sync vector while PROBING is set, leaving `value` meaningless.
    unsafe { asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) value, options(nostack)) };
    PROBING.store(false, Ordering::Relaxed);
    let esr = PROBE_ESR.load(Ordering::Relaxed);
    (value, (esr != 0).then_some(esr))
}

/// Stores `value` at `addr`, tolerating an abort like [`probe_read`].
pub fn probe_write(addr: u64, value: u64) -> Option<u64> {
    PROBE_ESR.store(0, Ordering::Relaxed);
    PROBING.store(true, Ordering::Relaxed);
    // SAFETY: as for probe_read; the callers pass a page no Rust object lives in.
    unsafe { asm!("str {v}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack)) };
    PROBING.store(false, Ordering::Relaxed);
    let esr = PROBE_ESR.load(Ordering::Relaxed);
    (esr != 0).then_some(esr)
}

// ---- Emulated MMIO: one plain load/store each, so the abort is emulatable (ISV=1) ----

pub fn mmio_write8(addr: u64, value: u8) {
    // SAFETY: `addr` is one of the device pages of the stage-1 map; the
    // store exits to the host, which emulates it.
    unsafe {
        asm!("strb {v:w}, [{a}]", a = in(reg) addr, v = in(reg) value as u32, options(nostack))
    };
}

pub fn mmio_write64(addr: u64, value: u64) {
    // SAFETY: as for mmio_write8.
    unsafe { asm!("str {v}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack)) };
}

pub fn mmio_read64(addr: u64) -> u64 {
    let value: u64;
    // SAFETY: as for mmio_write8; the host supplies the value.
    unsafe { asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) value, options(nostack)) };
    value
}

pub fn mmio_read32(addr: u64) -> u32 {
    let value: u32;
    // SAFETY: as for mmio_read64.
    unsafe { asm!("ldr {v:w}, [{a}]", a = in(reg) addr, v = out(reg) value, options(nostack)) };
    value
}

// ---- SMC ----

/// `smc #0` with x0 = `fid` and x1.. = `args` (up to ten); returns x0-x8.
/// RSI and PSCI results fit in x0-x8 (MEASUREMENT_READ uses them all); the
/// RMM may write realm memory the arguments point at, so this is not `nomem`.
pub fn smc(fid: u32, args: &[u64]) -> [u64; 9] {
    smc_with::<false>(fid, args, 0)
}

/// [`smc`] between the benchmark markers (`rampart_arch::bench`), with
/// benchmark id `bench` in x16: what `cargo xtask bench` counts.
pub fn smc_measured(fid: u32, args: &[u64], bench: u64) -> [u64; 9] {
    smc_with::<true>(fid, args, bench)
}

fn smc_with<const MEASURED: bool>(fid: u32, args: &[u64], bench: u64) -> [u64; 9] {
    let mut r = [0u64; 11];
    r[0] = u64::from(fid);
    r[1..=args.len()].copy_from_slice(args);
    macro_rules! smc_asm {
        ($($template:literal),+) => {
            asm!(
                $($template),+,
                inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
                inout("x4") r[4], inout("x5") r[5], inout("x6") r[6], inout("x7") r[7],
                inout("x8") r[8], inout("x9") r[9], inout("x10") r[10],
                lateout("x11") _, lateout("x12") _, lateout("x13") _, lateout("x14") _,
                lateout("x15") _, inout("x16") bench => _, lateout("x17") _,
                options(nostack)
            )
        };
    }
    // SAFETY: an SMC from R-EL1 traps to the RMM, which returns to the next
    // instruction with results in x0-x8; x9-x17 are declared clobbered in
    // case it does not preserve them. Memory it writes is guest memory
    // whose address the guest passed, owned by statics with interior
    // mutability. The markers are unallocated HINTs, which execute as NOPs.
    unsafe {
        if MEASURED {
            smc_asm!("hint #0x7e", "smc #0", "hint #0x7f");
        } else {
            smc_asm!("smc #0");
        }
    }
    let mut out = [0u64; 9];
    out.copy_from_slice(&r[..9]);
    out
}

// ---- Interrupts ----

/// Executes one WFI; returns ESR_EL1 if it raised an UNDEFINED exception
/// (what EL3 answers when it traps the WFI), which is skipped.
pub fn wfi_catching_undef() -> Option<u64> {
    WFI_UNDEF_ESR.store(0, Ordering::Relaxed);
    WAITING.store(true, Ordering::Relaxed);
    // SAFETY: WFI has no memory effect; an UNDEFINED it raises is skipped
    // by the sync vector while WAITING is set.
    unsafe { asm!("wfi", options(nostack)) };
    WAITING.store(false, Ordering::Relaxed);
    let esr = WFI_UNDEF_ESR.load(Ordering::Relaxed);
    (esr != 0).then_some(esr & !(1 << 63))
}

/// Unmasks IRQs at PSTATE.
pub fn irq_unmask() {
    // SAFETY: the IRQ vector is installed; changing DAIF has no memory effect.
    unsafe { asm!("msr daifclr, #2", "isb", options(nostack)) };
}

pub fn irq_mask() {
    // SAFETY: as for irq_unmask.
    unsafe { asm!("msr daifset, #2", "isb", options(nostack)) };
}

// ---- FP/SIMD ----

/// Loads a pattern derived from "RE" into v0-v31, makes the host call whose
/// RsiHostCall is at `host_call` (the caller wrote its imm), and checks the
/// pattern. Returns the RSI status and the OR of all mismatching bits (0
/// when v0-v31 came back intact). One asm block, so nothing between the
/// load and the check can touch the registers.
pub fn fp_host_call(host_call: u64) -> (u64, u64) {
    let status: u64;
    let mismatch: u64;
    // SAFETY: CPACR_EL1.FPEN was set by enable_mmu; the guest is built for
    // a soft-float target, so no compiled code keeps state in v0-v31. The
    // SMC is RSI_HOST_CALL with its buffer in guest memory (see `smc`).
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "mov x9, #0x5245000000000000",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "add x10, x9, #\\i",
            "fmov d\\i, x10",
            "mvn x11, x10",
            "mov v\\i\\().d[1], x11",
            ".endr",
            "smc #0",
            "mov x9, #0x5245000000000000",
            "mov x12, #0",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "add x10, x9, #\\i",
            "fmov x11, d\\i",
            "eor x11, x11, x10",
            "orr x12, x12, x11",
            "mvn x10, x10",
            "mov x11, v\\i\\().d[1]",
            "eor x11, x11, x10",
            "orr x12, x12, x11",
            ".endr",
            inout("x0") u64::from(rampart_ipc::rsi::HOST_CALL) => status,
            inout("x1") host_call => _,
            lateout("x2") _, lateout("x3") _, lateout("x4") _, lateout("x5") _,
            lateout("x6") _, lateout("x7") _, lateout("x8") _,
            out("x9") _, out("x10") _, out("x11") _, out("x12") mismatch,
            lateout("x13") _, lateout("x14") _, lateout("x15") _, lateout("x16") _,
            lateout("x17") _,
            options(nostack)
        )
    };
    (status, mismatch)
}
