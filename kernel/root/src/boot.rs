//! Reset, holding pen, warm entry, EL3 exception vectors and the EL3 exit
//! path. Everything that must run before Rust can, or that touches the
//! exception frame directly.
//!
//! Stack discipline: every core's EL3 stack is empty whenever a lower EL
//! runs. The top `FRAME_SIZE` bytes of each stack hold that core's
//! exception frame (the interrupted world's x0-x30, SP_EL0, ELR_EL3,
//! SPSR_EL3); Rust runs below it and edits it in place, and `el3_exit`
//! restores from it and returns with ERET.

use crate::context::Frame;
use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

pub const STACK_SIZE: usize = rampart_board::link::root_stack_size(&crate::BOARD) as usize;
pub const FRAME_SIZE: usize = core::mem::size_of::<Frame>();
const _: () = assert!(FRAME_SIZE == 272);

/// SCTLR_EL3 RES1 bits (4, 5, 11, 16, 18, 22, 23, 28, 29), MMU and caches off.
pub const SCTLR_EL3_RES1: u64 = 0x30c5_0830;

/// Whether root is BL31 (entered by BL2) rather than the reset image.
const BL31: bool = crate::BOARD.root.flash().is_none();
/// The holding pen (unused, and zero, when root is BL31).
const PEN: u64 = match crate::BOARD.root.hold_pen() {
    Some(pen) => pen,
    None => 0,
};

/// x0..x3 as BL2 entered root with: its handoff. Written once by the BL31
/// entry code before any Rust runs; zero when root is the reset image.
#[unsafe(export_name = "root_handoff_args")]
static HANDOFF_ARGS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// The registers BL2 handed over (see `rampart_board::handoff`).
pub fn handoff_args() -> [u64; 4] {
    HANDOFF_ARGS.each_ref().map(|a| a.load(Ordering::Relaxed))
}

global_asm!(
    // ---- Reset vector, in boot flash (RootBoot::ResetVector): all cores
    // arrive here at once. ----
    ".if {bl31} == 0",
    ".section .text.reset, \"ax\"",
    ".global _start",
    "_start:",
    "    ldr x0, ={sctlr}",
    "    msr sctlr_el3, x0",
    "    isb",
    "    bl 9f",                        // x0 = core index, or branch to park
    "    cbnz x0, 3f",
    // Boot core: copy the image to RAM, zero .bss, enter Rust.
    "    ldr x1, =__image_lma",
    "    ldr x2, =__image_start",
    "    ldr x3, =__image_end",
    "1:  cmp x2, x3",
    "    b.hs 2f",
    "    ldr x4, [x1], #8",
    "    str x4, [x2], #8",
    "    b 1b",
    "2:  bl 8f",
    "    mov x0, #0",
    "    ldr x1, =root_cold_entry",
    "    br x1",
    // Other cores: wait in the holding pen for an entry address.
    "3:  ldr x1, ={pen}",
    "    add x1, x1, x0, lsl #3",
    "4:  wfe",
    "    ldr x2, [x1]",
    "    cbz x2, 4b",
    "    br x2",
    ".else",
    // ---- BL31 entry (RootBoot::Bl31): BL2 enters the boot core here, at
    // the image's base, MMU off, with its handoff in x0..x3. Other cores
    // come through BL1's warm boot and the trusted mailbox instead. ----
    ".section .text.start, \"ax\"",
    ".global _start",
    "_start:",
    "    mov x19, x0",
    "    mov x20, x1",
    "    mov x21, x2",
    "    mov x22, x3",
    "    ldr x0, ={sctlr}",
    "    msr sctlr_el3, x0",
    "    isb",
    "    bl 9f",
    "    mov x23, x0",
    // BL2 turned its caches off without cleaning them, and root's .bss and
    // stacks lie over BL2's memory: drop any stale lines over root's data,
    // .bss and stacks before zeroing them with the caches off.
    "    ldr x2, =__rodata_end",
    "    ldr x3, =__ram_end",
    "    mrs x4, ctr_el0",
    "    ubfx x4, x4, #16, #4",
    "    mov x5, #4",
    "    lsl x5, x5, x4",
    "    sub x6, x5, #1",
    "    bic x2, x2, x6",
    "71: dc ivac, x2",
    "    add x2, x2, x5",
    "    cmp x2, x3",
    "    b.lo 71b",
    "    dsb sy",
    "    bl 8f",
    "    ldr x1, =root_handoff_args",
    "    stp x19, x20, [x1]",
    "    stp x21, x22, [x1, #16]",
    "    mov x0, x23",
    "    ldr x1, =root_cold_entry",
    "    br x1",
    ".endif",
    // Zero .bss (clobbers x2, x3).
    "8:  ldr x2, =__bss_start",
    "    ldr x3, =__bss_end",
    "81: cmp x2, x3",
    "    b.hs 82f",
    "    str xzr, [x2], #8",
    "    b 81b",
    "82: ret",
    // x0 <- linear core index from MPIDR (Aff1 * per-cluster + Aff0, after
    // dropping the thread level on MT cores); a core that is not on the
    // board parks for good.
    "9:  mrs x0, mpidr_el1",
    ".if {shifted}",
    "    lsr x0, x0, #8",
    ".endif",
    "    ubfx x1, x0, #8, #8",
    "    and x0, x0, #0xff",
    "    mov x2, #{per_cluster}",
    "    madd x0, x1, x2, x0",
    "    cmp x0, #{cpus}",
    "    b.hs 10f",
    "    ret",
    "10: wfe",
    "    b 10b",
    ".ltorg",
    sctlr = const SCTLR_EL3_RES1,
    bl31 = const BL31 as u8,
    pen = const PEN,
    shifted = const crate::BOARD.topology.mpidr_shifted as u8,
    per_cluster = const crate::BOARD.topology.cores_per_cluster,
    cpus = const crate::BOARD.topology.cpu_count,
);

global_asm!(
    ".section .text.entry, \"ax\"",
    // x0 = core index. Stack top = __stacks_start + (core + 1) * STACK_SIZE,
    // the frame sits at its top and Rust starts below it.
    ".global root_cold_entry",
    "root_cold_entry:",
    "    bl 5f",
    "    mov x1, x0",
    "    mov x0, sp",
    "    bl root_cold_main",
    "    b .",
    // Warm entry: a core released from the pen by PSCI CPU_ON (or re-released after CPU_OFF).
    ".global root_warm_entry",
    "root_warm_entry:",
    "    ldr x0, ={sctlr}",
    "    msr sctlr_el3, x0",
    "    isb",
    "    mrs x0, mpidr_el1",
    ".if {shifted}",
    "    lsr x0, x0, #8",
    ".endif",
    "    ubfx x1, x0, #8, #8",
    "    and x0, x0, #0xff",
    "    mov x2, #{per_cluster}",
    "    madd x0, x1, x2, x0",
    "    bl 5f",
    "    mov x1, x0",
    "    mov x0, sp",
    "    bl root_warm_main",
    "    b .",
    // sp <- top of core x0's stack, minus the frame.
    "5:  ldr x1, =__stacks_start",
    "    add x2, x0, #1",
    "    mov x3, #{stack}",
    "    madd x1, x2, x3, x1",
    "    sub sp, x1, #{frame}",
    "    ret",
    ".ltorg",
    sctlr = const SCTLR_EL3_RES1,
    shifted = const crate::BOARD.topology.mpidr_shifted as u8,
    per_cluster = const crate::BOARD.topology.cores_per_cluster,
    stack = const STACK_SIZE,
    frame = const FRAME_SIZE,
);

// Exception vectors. Lower-EL AArch64 synchronous exceptions (SMC, GPF,
// traps) go to Rust with the frame; anything taken from EL3 itself is a bug
// in root and ends in the panic path; lower-EL IRQ/FIQ/SError are not routed
// to EL3 (SCR_EL3.IRQ/FIQ/EA = 0) and are reported if they arrive anyway.
global_asm!(
    ".section .text.vectors, \"ax\"",
    ".balign 2048",
    ".global root_vectors",
    "root_vectors:",
    // Current EL with SP_EL0: never used.
    ".balign 128", "mov x0, #0", "b root_el3_fault",
    ".balign 128", "mov x0, #1", "b root_el3_fault",
    ".balign 128", "mov x0, #2", "b root_el3_fault",
    ".balign 128", "mov x0, #3", "b root_el3_fault",
    // Current EL with SP_ELx: root's own faults.
    ".balign 128", "mov x0, #4", "b root_el3_fault",
    ".balign 128", "mov x0, #5", "b root_el3_fault",
    ".balign 128", "mov x0, #6", "b root_el3_fault",
    ".balign 128", "mov x0, #7", "b root_el3_fault",
    // Lower EL, AArch64.
    ".balign 128", "sub sp, sp, #{frame}", "stp x0, x1, [sp]", "mov x0, #0", "b root_save_and_handle",
    ".balign 128", "sub sp, sp, #{frame}", "stp x0, x1, [sp]", "mov x0, #1", "b root_save_and_handle",
    ".balign 128", "sub sp, sp, #{frame}", "stp x0, x1, [sp]", "mov x0, #2", "b root_save_and_handle",
    ".balign 128", "sub sp, sp, #{frame}", "stp x0, x1, [sp]", "mov x0, #3", "b root_save_and_handle",
    // Lower EL, AArch32: not supported; treated like AArch64 (Rust injects UNDEF).
    ".balign 128", "sub sp, sp, #{frame}", "stp x0, x1, [sp]", "mov x0, #0", "b root_save_and_handle",
    ".balign 128", "sub sp, sp, #{frame}", "stp x0, x1, [sp]", "mov x0, #1", "b root_save_and_handle",
    ".balign 128", "sub sp, sp, #{frame}", "stp x0, x1, [sp]", "mov x0, #2", "b root_save_and_handle",
    ".balign 128", "sub sp, sp, #{frame}", "stp x0, x1, [sp]", "mov x0, #3", "b root_save_and_handle",
    ".balign 128",
    "root_save_and_handle:",
    "    stp x2, x3, [sp, #16]",
    "    stp x4, x5, [sp, #32]",
    "    stp x6, x7, [sp, #48]",
    "    stp x8, x9, [sp, #64]",
    "    stp x10, x11, [sp, #80]",
    "    stp x12, x13, [sp, #96]",
    "    stp x14, x15, [sp, #112]",
    "    stp x16, x17, [sp, #128]",
    "    stp x18, x19, [sp, #144]",
    "    stp x20, x21, [sp, #160]",
    "    stp x22, x23, [sp, #176]",
    "    stp x24, x25, [sp, #192]",
    "    stp x26, x27, [sp, #208]",
    "    stp x28, x29, [sp, #224]",
    "    mrs x2, sp_el0",
    "    stp x30, x2, [sp, #240]",
    "    mrs x2, elr_el3",
    "    mrs x3, spsr_el3",
    "    stp x2, x3, [sp, #256]",
    "    mov x1, x0",
    "    mov x0, sp",
    "    bl root_lower_exception",
    "    b root_el3_exit_here",
    // el3_exit_to(frame): continue a lower EL from `frame` (at the stack top).
    ".global root_el3_exit_to",
    "root_el3_exit_to:",
    "    mov sp, x0",
    "root_el3_exit_here:",
    "    ldp x2, x3, [sp, #256]",
    "    msr elr_el3, x2",
    "    msr spsr_el3, x3",
    "    ldp x30, x2, [sp, #240]",
    "    msr sp_el0, x2",
    "    ldp x0, x1, [sp]",
    "    ldp x2, x3, [sp, #16]",
    "    ldp x4, x5, [sp, #32]",
    "    ldp x6, x7, [sp, #48]",
    "    ldp x8, x9, [sp, #64]",
    "    ldp x10, x11, [sp, #80]",
    "    ldp x12, x13, [sp, #96]",
    "    ldp x14, x15, [sp, #112]",
    "    ldp x16, x17, [sp, #128]",
    "    ldp x18, x19, [sp, #144]",
    "    ldp x20, x21, [sp, #160]",
    "    ldp x22, x23, [sp, #176]",
    "    ldp x24, x25, [sp, #192]",
    "    ldp x26, x27, [sp, #208]",
    "    ldp x28, x29, [sp, #224]",
    "    add sp, sp, #{frame}",
    "    eret",
    // A park loop for cores turned off: wait for a new pen entry, then
    // restart from the warm entry with a fresh stack. x0 = pen slot address.
    ".global root_park_in_pen",
    "root_park_in_pen:",
    "1:  wfe",
    "    ldr x1, [x0]",
    "    cbz x1, 1b",
    "    br x1",
    frame = const FRAME_SIZE,
);

unsafe extern "C" {
    /// Restores the lower EL's state from `frame` (which must be this core's
    /// frame slot at its stack top) and returns to it.
    pub fn root_el3_exit_to(frame: &mut Frame) -> !;
    /// Waits in the given pen slot until it holds an entry address, then jumps there.
    pub fn root_park_in_pen(slot: u64) -> !;
    static root_vectors: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __image_start: u8;
    static __image_end: u8;
    static __image_lma: u8;
    static __ram_end: u8;
}

/// Addresses the linker placed: (image start, end of text, end of rodata, end of RAM use).
pub fn image_layout() -> (u64, u64, u64, u64) {
    // Only the addresses of linker-defined symbols are taken; nothing is read.
    (
        &raw const __image_start as u64,
        &raw const __text_end as u64,
        &raw const __rodata_end as u64,
        &raw const __ram_end as u64,
    )
}

/// The root image as its loader stored it: (address, length).
///
/// From flash, it starts with the reset code at the flash base and ends
/// with the last byte the reset code copies to RAM (`__image_lma` + the
/// image's RAM part): the bytes of `root.bin`, zero-padded to a multiple of
/// 16 (`__image_end` is 16-aligned; objcopy stops at the last byte of
/// `.data`). As BL31, it is the image in RAM as BL2 loaded it.
pub fn loaded_image() -> (u64, usize) {
    // Only the addresses of linker-defined symbols are taken; nothing is read.
    let start = &raw const __image_start as u64;
    let ram_part = &raw const __image_end as u64 - start;
    match crate::BOARD.root.flash() {
        Some(boot) => {
            let end = &raw const __image_lma as u64 + ram_part;
            (boot.flash.base, (end - boot.flash.base) as usize)
        }
        None => (start, ram_part as usize),
    }
}

pub fn vectors() -> u64 {
    &raw const root_vectors as u64
}

/// Address of the warm entry point released cores jump to.
pub fn warm_entry() -> u64 {
    unsafe extern "C" {
        fn root_warm_entry();
    }
    root_warm_entry as *const () as u64
}
