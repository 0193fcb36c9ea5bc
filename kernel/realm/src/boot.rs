//! RMM entry (cold and warm, TF-A RMM-EL3 interface "boot interface"),
//! R-EL2 exception vectors.
//!
//! EL3 enters at the image base on every CPU: x0 = CPU index, then at cold
//! boot x1 = interface version, x2 = CPU count, x3 = shared buffer, x4 =
//! activation token; at warm boot x1 = activation token. A CPU index that
//! has no stack is refused here, before any memory is touched.

use core::arch::global_asm;
use rampart_ipc::rmm_el3::{BOOT_COMPLETE, BootError};

/// Per-CPU stack, including its unmapped guard page (mmu.rs).
pub const STACK_SIZE: usize = 0x10000;

global_asm!(
    ".section .text.entry, \"ax\"",
    ".global _start",
    "_start:",
    "    cmp x0, #{cpus}",
    "    b.hs 8f",
    // sp <- top of this CPU's stack.
    "    ldr x9, =__stacks_start",
    "    add x10, x0, #1",
    "    mov x11, #{stack}",
    "    madd x9, x10, x11, x9",
    "    mov sp, x9",
    "    ldr x9, =realm_cold_boot_done",
    "    ldr w10, [x9]",
    "    cbnz w10, 5f",
    // Cold boot: zero .bss (the flag lives in .data), then Rust.
    "    ldr x9, =__bss_start",
    "    ldr x10, =__bss_end",
    "1:  cmp x9, x10",
    "    b.hs 2f",
    "    str xzr, [x9], #8",
    "    b 1b",
    "2:  bl realm_cold_main",
    "    b .",
    "5:  bl realm_warm_main",
    "    b .",
    // No stack for this CPU: report and stop.
    "8:  ldr x0, ={boot_complete}",
    "    mov x1, #{cpu_id_error}",
    "    smc #0",
    "    b 8b",
    ".ltorg",
    cpus = const crate::MAX_CPUS,
    stack = const STACK_SIZE,
    boot_complete = const BOOT_COMPLETE,
    cpu_id_error = const BootError::CpuIdOutOfRange as i64,
);

// R-EL2 vectors. Exceptions from a running realm (lower EL, AArch64) go
// back to the REC loop (run.rs). The one exception the RMM itself expects is an abort inside the
// fault-tolerant copy (a host naming memory that is not NS: EL3 delivers
// the granule protection fault as an external abort): it resumes at the
// copy's fixup, which returns 1. Anything else is reported and the CPU parks.
global_asm!(
    ".section .text.vectors, \"ax\"",
    ".balign 2048",
    ".global realm_vectors",
    "realm_vectors:",
    ".rept 4",
    ".balign 128",
    "    mov x0, #(. - realm_vectors) / 128",
    "    b realm_exception",
    ".endr",
    ".balign 128",
    "    mrs x9, elr_el2",
    "    adr x10, realm_copy_start",
    "    cmp x9, x10",
    "    b.lo 9f",
    "    adr x10, realm_copy_end",
    "    cmp x9, x10",
    "    b.hs 9f",
    "    adr x10, realm_copy_fixup",
    "    msr elr_el2, x10",
    "    eret",
    "9:  mov x0, #4",
    "    b realm_exception",
    ".rept 3",
    ".balign 128",
    "    mov x0, #(. - realm_vectors) / 128",
    "    b realm_exception",
    ".endr",
    // Lower EL, AArch64: a realm left the CPU (run.rs). x0/x1 of the realm
    // and the vector number go below realm_run's frame.
    ".balign 128",
    "    stp x0, x1, [sp, #-32]!",
    "    mov x0, #0",
    "    str x0, [sp, #16]",
    "    b realm_guest_exit",
    ".balign 128",
    "    stp x0, x1, [sp, #-32]!",
    "    mov x0, #1",
    "    str x0, [sp, #16]",
    "    b realm_guest_exit",
    ".balign 128",
    "    stp x0, x1, [sp, #-32]!",
    "    mov x0, #2",
    "    str x0, [sp, #16]",
    "    b realm_guest_exit",
    ".balign 128",
    "    stp x0, x1, [sp, #-32]!",
    "    mov x0, #3",
    "    str x0, [sp, #16]",
    "    b realm_guest_exit",
    ".rept 4",
    ".balign 128",
    "    mov x0, #(. - realm_vectors) / 128",
    "    b realm_exception",
    ".endr",
    // realm_fault_tolerant_copy(dst x0, src x1, len x2) -> 0, or 1 on a fault.
    ".balign 128",
    ".global realm_fault_tolerant_copy",
    "realm_fault_tolerant_copy:",
    "realm_copy_start:",
    "    orr x3, x0, x1",
    "    orr x3, x3, x2",
    "    tst x3, #7",
    "    b.ne 3f",
    "1:  cbz x2, 2f",
    "    ldr x3, [x1], #8",
    "    str x3, [x0], #8",
    "    sub x2, x2, #8",
    "    b 1b",
    "3:  cbz x2, 2f",
    "    ldrb w3, [x1], #1",
    "    strb w3, [x0], #1",
    "    sub x2, x2, #1",
    "    b 3b",
    "2:  mov x0, #0",
    "    ret",
    "realm_copy_end:",
    "realm_copy_fixup:",
    "    mov x0, #1",
    "    ret",
);

unsafe extern "C" {
    static realm_vectors: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __image_start: u8;
    static __ram_end: u8;
}

pub fn vectors() -> u64 {
    &raw const realm_vectors as u64
}

/// (image start, end of text, end of rodata, end of RAM use).
pub fn image_layout() -> (u64, u64, u64, u64) {
    (
        &raw const __image_start as u64,
        &raw const __text_end as u64,
        &raw const __rodata_end as u64,
        &raw const __ram_end as u64,
    )
}
