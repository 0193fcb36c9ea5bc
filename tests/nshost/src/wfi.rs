//! WFI below EL3 must not trap to EL3 (SCR_EL3.TWI clear for the Normal
//! world; Arm ARM D24.2.169 SCR_EL3.TWI, and Linux idles in WFI). Each case
//! arms a timer 1 ms ahead, its interrupt enabled at the GIC but masked in
//! PSTATE, so that the WFI really waits (QEMU only traps a WFI that would
//! sleep: one with a wake-up already pending completes at once) and wakes
//! when the timer fires. Had EL3 trapped the WFI, root would answer with
//! an UNDEFINED exception at the EL that ran it, which the cases see: at
//! NS-EL2 in `nshost_last_esr` (the EL2 vector), at NS-EL1 in its own
//! vector, which reports back with `HVC #1`. The realm's case (guest.rs,
//! `guest_wfi_not_trapped`) uses the EL2 physical timer the same way.

use crate::{BOARD, rt};
use core::arch::global_asm;
use core::sync::atomic::AtomicU64;
use rampart_arch::{esr, isb, read_sysreg, write_sysreg};

/// The EL1 physical timer's interrupt (Arm BSA: PPI 30, INTID 30).
const TIMER_INTID: u64 = 30;
/// The Non-secure EL2 physical timer's interrupt (Arm BSA: PPI 26).
pub const EL2_TIMER_INTID: u64 = 26;
/// GICv3 SGI_base frame registers (Arm IHI0069, 12.10).
const SGI_BASE: u64 = 0x1_0000;
const GICR_ISENABLER0: u64 = SGI_BASE + 0x100;
const GICR_ICENABLER0: u64 = SGI_BASE + 0x180;
const GICR_IPRIORITYR: u64 = SGI_BASE + 0x400;
/// CNTP_CTL_EL0: ENABLE, ISTATUS.
const CTL_ENABLE: u64 = 1;
const CTL_ISTATUS: u64 = 1 << 2;
/// How far ahead the timers fire, in ms.
const MS_AHEAD: u64 = 1;
/// HCR_EL2.RW: EL1 is AArch64; nothing else (no stage 2, no TGE, IRQs to EL1).
const HCR_EL1_PLAIN: u64 = 1 << 31;
/// SPSR_EL2 for EL1h with D, A, I and F masked.
const SPSR_EL1H_MASKED: u64 = 0x3c5;
/// SCTLR_EL1 RES1 bits, MMU and caches off.
const SCTLR_EL1_RES1: u64 = 0x30d0_0800;

// nshost_run_el1(entry): runs `entry` at EL1h until it issues HVC, and
// returns (ESR_EL2 of the HVC, EL1's x0). Saves the callee-saved registers
// and SP, which the lower-EL synchronous vector restores.
global_asm!(
    ".section .text.nshost_el1, \"ax\"",
    ".global nshost_run_el1",
    "nshost_run_el1:",
    "    stp x19, x20, [sp, #-96]!",
    "    stp x21, x22, [sp, #16]",
    "    stp x23, x24, [sp, #32]",
    "    stp x25, x26, [sp, #48]",
    "    stp x27, x28, [sp, #64]",
    "    stp x29, x30, [sp, #80]",
    "    ldr x9, =nshost_el1_saved_sp",
    "    mov x10, sp",
    "    str x10, [x9]",
    "    msr elr_el2, x0",
    "    mov x9, #{spsr}",
    "    msr spsr_el2, x9",
    "    eret",
    // Reached from the EL2 vector at offset 0x400 (lower EL, AArch64, sync).
    ".global nshost_el1_returned",
    "nshost_el1_returned:",
    "    mov x1, x0",
    "    mrs x0, esr_el2",
    "    ldr x9, =nshost_el1_saved_sp",
    "    ldr x10, [x9]",
    "    mov sp, x10",
    "    ldp x21, x22, [sp, #16]",
    "    ldp x23, x24, [sp, #32]",
    "    ldp x25, x26, [sp, #48]",
    "    ldp x27, x28, [sp, #64]",
    "    ldp x29, x30, [sp, #80]",
    "    ldp x19, x20, [sp], #96",
    "    ret",
    // The EL1 code: one WFI, then back to EL2 with HVC #0.
    ".balign 4",
    ".global nshost_el1_wfi",
    "nshost_el1_wfi:",
    "    wfi",
    "    hvc #0",
    "    b .",
    // EL1 vectors: any exception goes back to EL2 with HVC #1, ESR_EL1 in x0.
    ".balign 2048",
    ".global nshost_el1_vectors",
    "nshost_el1_vectors:",
    ".rept 16",
    ".balign 128",
    "    mrs x0, esr_el1",
    "    hvc #1",
    ".endr",
    ".ltorg",
    spsr = const SPSR_EL1H_MASKED,
);

/// SP of nshost_run_el1's frame while EL1 runs.
#[unsafe(no_mangle)]
static nshost_el1_saved_sp: AtomicU64 = AtomicU64::new(0);

#[repr(C)]
struct El1Return {
    esr_el2: u64,
    el1_x0: u64,
}

unsafe extern "C" {
    fn nshost_run_el1(entry: u64) -> El1Return;
    static nshost_el1_wfi: u8;
    static nshost_el1_vectors: u8;
}

fn redistributor() -> u64 {
    // The boot core's redistributor is the first frame (QEMU virt orders
    // them by CPU index, as root's gic.rs finds).
    BOARD.gic.redistributors
}

fn gicr_write(offset: u64, value: u32) {
    // SAFETY: the redistributor frames are mapped as NS device memory by
    // rt::init_primary; these registers are the boot core's own.
    unsafe { core::ptr::write_volatile((redistributor() + offset) as *mut u32, value) }
}

fn gicr_write8(offset: u64, value: u8) {
    // SAFETY: as in gicr_write (IPRIORITYR is byte-accessible).
    unsafe { core::ptr::write_volatile((redistributor() + offset) as *mut u8, value) }
}

/// Timer interrupt `intid` enabled at the GIC and the CPU interface, so
/// that it wakes a WFI; PSTATE.I stays masked, so it is never taken.
pub fn enable_ppi(intid: u64) {
    gicr_write8(GICR_IPRIORITYR + intid, 0x80);
    gicr_write(GICR_ISENABLER0, 1 << intid);
    write_sysreg!("S3_0_C4_C6_0", 0xff); // ICC_PMR_EL1
    write_sysreg!("S3_0_C12_C12_7", 1); // ICC_IGRPEN1_EL1
    isb();
}

pub fn disable_ppi(intid: u64) {
    write_sysreg!("S3_0_C12_C12_7", 0);
    gicr_write(GICR_ICENABLER0, 1 << intid);
    isb();
}

/// Counter ticks in `ms` milliseconds.
fn ticks(ms: u64) -> u64 {
    read_sysreg!("cntfrq_el0") / 1000 * ms
}

fn arm_timer() {
    let now = read_sysreg!("cntpct_el0");
    write_sysreg!("cntp_cval_el0", now + ticks(MS_AHEAD));
    write_sysreg!("cntp_ctl_el0", CTL_ENABLE);
    isb();
}

fn timer_fired() -> bool {
    read_sysreg!("cntp_ctl_el0") & CTL_ISTATUS != 0
}

/// Arms the Non-secure EL2 physical timer `ms` ahead (for the realm's WFI:
/// its interrupt ends the REC's run with an IRQ exit).
pub fn arm_el2_timer(ms: u64) {
    let now = read_sysreg!("cntpct_el0");
    write_sysreg!("cnthp_cval_el2", now + ticks(ms));
    write_sysreg!("cnthp_ctl_el2", CTL_ENABLE);
    isb();
}

pub fn disarm_el2_timer() {
    write_sysreg!("cnthp_ctl_el2", 0);
    isb();
}

pub fn cases() {
    enable_ppi(TIMER_INTID);

    // NS-EL2: WFI until the timer fires (WFI may also wake early).
    rt::clear_last_esr();
    arm_timer();
    let mut wfis = 0u32;
    loop {
        rampart_arch::wfi();
        wfis += 1;
        if timer_fired() || wfis >= 1000 {
            break;
        }
    }
    let fired = timer_fired();
    let trapped = rt::last_esr();
    write_sysreg!("cntp_ctl_el0", 0);
    case!(
        "wfi_ns_el2_not_trapped",
        fired && trapped == 0,
        "timer fired {=bool} after {=u32} WFI, EL2 exception ESR {=u64:#x}",
        fired,
        wfis,
        trapped
    );

    // NS-EL1: one WFI at EL1h (MMU off), back with HVC #0.
    let hcr = read_sysreg!("hcr_el2");
    write_sysreg!("hcr_el2", HCR_EL1_PLAIN);
    write_sysreg!("sctlr_el1", SCTLR_EL1_RES1);
    write_sysreg!("vbar_el1", &raw const nshost_el1_vectors as u64);
    isb();
    arm_timer();
    // SAFETY: nshost_run_el1 saves and restores every callee-saved register
    // and SP around the EL1 excursion; the EL1 code touches no memory.
    let back = unsafe { nshost_run_el1(&raw const nshost_el1_wfi as u64) };
    let fired = timer_fired();
    write_sysreg!("hcr_el2", hcr);
    write_sysreg!("cntp_ctl_el0", 0);
    isb();
    disable_ppi(TIMER_INTID);
    let hvc_imm = back.esr_el2 & 0xffff;
    let by_hvc0 = esr::class(back.esr_el2) == esr::EC_HVC64 && hvc_imm == 0;
    case!(
        "wfi_ns_el1_not_trapped",
        by_hvc0 && fired,
        "EL1 returned with ESR_EL2 {=u64:#x} (HVC #{=u64}; #1 = EL1 took ESR_EL1 {=u64:#x}), timer fired {=bool}",
        back.esr_el2,
        hvc_imm,
        back.el1_x0,
        fired
    );
}
