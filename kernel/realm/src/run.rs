//! Running realms on this CPU: the REC loop's [`Vcpu`]. The host's state
//! that a realm would overwrite (EL1 registers, EL1 timers, FP/SIMD, the
//! virtual GIC's list registers, pointer-authentication keys) is saved
//! once per REC_ENTER on this CPU's stack; each run loads the REC's whole
//! context from its REC granule (and FP/SIMD from its aux granule), enters
//! it with ERET and saves everything back when the realm takes an
//! exception to R-EL2, so the REC service always sees a complete context.

use crate::simd;
use crate::slots::KernelLeases;
use bytemuck::Zeroable;
use core::arch::global_asm;
use rampart_arch::{isb, read_sysreg, write_sysreg};
use rampart_ipc::lease::Leases;
use rampart_ipc::rec::{El1Regs, FpRegs, GicRegs, RecContext, TimerRegs, Trap, TrapKind};
use rampart_kernel::rec_loop::Vcpu;

/// CPTR_EL2 (E2H = 0) while realms run: FP/SIMD usable (TFP = 0), SVE
/// (TZ) and SME (TSM) trapped, RES1 bits set. The RMM itself runs with
/// SVE and SME open (`simd::rmm_cptr_el2`).
pub const CPTR_EL2: u64 = 0x22ff | 1 << 8 | 1 << 12;

/// CNTHCTL_EL2 (E2H = 0) for a realm: EL1 may use the physical counter and
/// timer (EL1PCTEN, EL1PCEN); CNTVMASK/CNTPMASK (FEAT_RME) added per run.
const CNTHCTL_REALM: u64 = 0b11;
const CNTHCTL_CNTVMASK: u64 = 1 << 18;
const CNTHCTL_CNTPMASK: u64 = 1 << 19;

/// ICH_HCR_EL2.En.
const ICH_HCR_EN: u64 = 1;

macro_rules! el1_regs {
    ($($field:ident = $reg:tt),* $(,)?) => {
        fn save_el1(r: &mut El1Regs) {
            $(r.$field = read_sysreg!($reg);)*
        }

        fn restore_el1(r: &El1Regs) {
            $(write_sysreg!($reg, r.$field);)*
        }
    };
}

el1_regs! {
    sp_el0 = "sp_el0", sp_el1 = "sp_el1", elr_el1 = "elr_el1", spsr_el1 = "spsr_el1",
    sctlr_el1 = "sctlr_el1", actlr_el1 = "actlr_el1", cpacr_el1 = "cpacr_el1",
    ttbr0_el1 = "ttbr0_el1", ttbr1_el1 = "ttbr1_el1", tcr_el1 = "tcr_el1", esr_el1 = "esr_el1",
    afsr0_el1 = "afsr0_el1", afsr1_el1 = "afsr1_el1", far_el1 = "far_el1", mair_el1 = "mair_el1",
    amair_el1 = "amair_el1", vbar_el1 = "vbar_el1", contextidr_el1 = "contextidr_el1",
    tpidr_el0 = "tpidr_el0", tpidrro_el0 = "tpidrro_el0", tpidr_el1 = "tpidr_el1",
    cntkctl_el1 = "cntkctl_el1", par_el1 = "par_el1", mdscr_el1 = "mdscr_el1",
    csselr_el1 = "csselr_el1", mdccint_el1 = "mdccint_el1",
}

fn save_timers(t: &mut TimerRegs) {
    t.cntv_ctl = read_sysreg!("cntv_ctl_el0");
    t.cntv_cval = read_sysreg!("cntv_cval_el0");
    t.cntp_ctl = read_sysreg!("cntp_ctl_el0");
    t.cntp_cval = read_sysreg!("cntp_cval_el0");
}

fn restore_timers(t: &TimerRegs) {
    write_sysreg!("cntv_cval_el0", t.cntv_cval);
    write_sysreg!("cntv_ctl_el0", t.cntv_ctl);
    write_sysreg!("cntp_cval_el0", t.cntp_cval);
    write_sysreg!("cntp_ctl_el0", t.cntp_ctl);
}

/// Generates accessors for an indexed family of system registers.
macro_rules! indexed_sysreg {
    ($read:ident, $write:ident, [$($i:literal => $reg:tt),* $(,)?]) => {
        fn $read(i: usize) -> u64 {
            match i {
                $($i => read_sysreg!($reg),)*
                _ => 0,
            }
        }

        fn $write(i: usize, value: u64) {
            match i {
                $($i => write_sysreg!($reg, value),)*
                _ => {}
            }
        }
    };
}

indexed_sysreg!(read_lr, write_lr, [
    0 => "S3_4_C12_C12_0", 1 => "S3_4_C12_C12_1", 2 => "S3_4_C12_C12_2", 3 => "S3_4_C12_C12_3",
    4 => "S3_4_C12_C12_4", 5 => "S3_4_C12_C12_5", 6 => "S3_4_C12_C12_6", 7 => "S3_4_C12_C12_7",
    8 => "S3_4_C12_C13_0", 9 => "S3_4_C12_C13_1", 10 => "S3_4_C12_C13_2", 11 => "S3_4_C12_C13_3",
    12 => "S3_4_C12_C13_4", 13 => "S3_4_C12_C13_5", 14 => "S3_4_C12_C13_6", 15 => "S3_4_C12_C13_7",
]);
indexed_sysreg!(read_ap0r, write_ap0r, [
    0 => "S3_4_C12_C8_0", 1 => "S3_4_C12_C8_1", 2 => "S3_4_C12_C8_2", 3 => "S3_4_C12_C8_3",
]);
indexed_sysreg!(read_ap1r, write_ap1r, [
    0 => "S3_4_C12_C9_0", 1 => "S3_4_C12_C9_1", 2 => "S3_4_C12_C9_2", 3 => "S3_4_C12_C9_3",
]);

// ICH_HCR_EL2 is S3_4_C12_C11_0, ICH_MISR_EL2 S3_4_C12_C11_2,
// ICH_VMCR_EL2 S3_4_C12_C11_7.

/// List registers and active-priority registers this GIC implements.
fn gic_counts() -> (usize, usize) {
    let gic = crate::router::cpu_features().gic;
    let aprs = match gic.pri_bits {
        7 => 4,
        6 => 2,
        _ => 1,
    };
    (gic.num_lrs, aprs)
}

fn save_gic(g: &mut GicRegs) {
    let (lrs, aprs) = gic_counts();
    for i in 0..lrs {
        g.lrs[i] = read_lr(i);
    }
    for i in 0..aprs {
        g.ap0r[i] = read_ap0r(i);
        g.ap1r[i] = read_ap1r(i);
    }
    g.vmcr = read_sysreg!("S3_4_C12_C11_7");
    g.hcr = read_sysreg!("S3_4_C12_C11_0");
    g.misr = read_sysreg!("S3_4_C12_C11_2");
}

fn restore_gic(g: &GicRegs) {
    let (lrs, aprs) = gic_counts();
    for i in 0..aprs {
        write_ap0r(i, g.ap0r[i]);
        write_ap1r(i, g.ap1r[i]);
    }
    for i in 0..lrs {
        write_lr(i, g.lrs[i]);
    }
    write_sysreg!("S3_4_C12_C11_7", g.vmcr);
    write_sysreg!("S3_4_C12_C11_0", g.hcr);
}

macro_rules! pauth_keys {
    ($($i:literal => $reg:tt),* $(,)?) => {
        fn save_keys(k: &mut [u64; 10]) {
            if crate::router::has_pauth() {
                $(k[$i] = read_sysreg!($reg);)*
            }
        }

        fn restore_keys(k: &[u64; 10]) {
            if crate::router::has_pauth() {
                $(write_sysreg!($reg, k[$i]);)*
            }
        }
    };
}

pauth_keys! {
    0 => "S3_0_C2_C1_0", 1 => "S3_0_C2_C1_1", 2 => "S3_0_C2_C1_2", 3 => "S3_0_C2_C1_3",
    4 => "S3_0_C2_C2_0", 5 => "S3_0_C2_C2_1", 6 => "S3_0_C2_C2_2", 7 => "S3_0_C2_C2_3",
    8 => "S3_0_C2_C3_0", 9 => "S3_0_C2_C3_1",
}

unsafe extern "C" {
    /// Enters the realm with X0-X30 from `gprs` (ELR_EL2/SPSR_EL2 already
    /// set) and returns, with the realm's X0-X30 stored back, the vector
    /// it came back through: 0 sync, 1 IRQ, 2 FIQ, 3 SError.
    fn realm_run(gprs: *mut [u64; 31]) -> u64;
    fn realm_fp_save(regs: *mut FpRegs);
    fn realm_fp_restore(regs: *const FpRegs);
}

// The realm is entered on the RMM's stack: the callee-saved registers and
// the GPR pointer are pushed, and SP_EL2 is left pointing at them, which is
// where the lower-EL vectors (boot.rs) find them again.
global_asm!(
    ".section .text.realm_run, \"ax\"",
    ".global realm_run",
    "realm_run:",
    "    sub sp, sp, #112",
    "    stp x19, x20, [sp, #0]",
    "    stp x21, x22, [sp, #16]",
    "    stp x23, x24, [sp, #32]",
    "    stp x25, x26, [sp, #48]",
    "    stp x27, x28, [sp, #64]",
    "    stp x29, x30, [sp, #80]",
    "    str x0, [sp, #96]",
    "    mov x30, x0",
    "    ldp x0, x1, [x30, #0]",
    "    ldp x2, x3, [x30, #16]",
    "    ldp x4, x5, [x30, #32]",
    "    ldp x6, x7, [x30, #48]",
    "    ldp x8, x9, [x30, #64]",
    "    ldp x10, x11, [x30, #80]",
    "    ldp x12, x13, [x30, #96]",
    "    ldp x14, x15, [x30, #112]",
    "    ldp x16, x17, [x30, #128]",
    "    ldp x18, x19, [x30, #144]",
    "    ldp x20, x21, [x30, #160]",
    "    ldp x22, x23, [x30, #176]",
    "    ldp x24, x25, [x30, #192]",
    "    ldp x26, x27, [x30, #208]",
    "    ldp x28, x29, [x30, #224]",
    "    ldr x30, [x30, #240]",
    "    eret",
    "    dsb nsh",
    "    isb",
    // Entered from a lower-EL vector with x0/x1 of the realm pushed below
    // the frame and x0 = the vector number... see realm_guest_exit.
    ".global realm_guest_exit",
    "realm_guest_exit:",
    // sp -> [realm x0, realm x1, vector] then the realm_run frame.
    "    ldr x1, [sp, #32 + 96]",
    "    stp x2, x3, [x1, #16]",
    "    stp x4, x5, [x1, #32]",
    "    stp x6, x7, [x1, #48]",
    "    stp x8, x9, [x1, #64]",
    "    stp x10, x11, [x1, #80]",
    "    stp x12, x13, [x1, #96]",
    "    stp x14, x15, [x1, #112]",
    "    stp x16, x17, [x1, #128]",
    "    stp x18, x19, [x1, #144]",
    "    stp x20, x21, [x1, #160]",
    "    stp x22, x23, [x1, #176]",
    "    stp x24, x25, [x1, #192]",
    "    stp x26, x27, [x1, #208]",
    "    stp x28, x29, [x1, #224]",
    "    str x30, [x1, #240]",
    "    ldp x2, x3, [sp, #0]",
    "    stp x2, x3, [x1, #0]",
    "    ldr x0, [sp, #16]",
    "    add sp, sp, #32",
    "    ldp x19, x20, [sp, #0]",
    "    ldp x21, x22, [sp, #16]",
    "    ldp x23, x24, [sp, #32]",
    "    ldp x25, x26, [sp, #48]",
    "    ldp x27, x28, [sp, #64]",
    "    ldp x29, x30, [sp, #80]",
    "    add sp, sp, #112",
    "    ret",
    // FP/SIMD: V0-V31 then FPSR, FPCR (FpRegs).
    ".arch_extension fp",
    ".arch_extension simd",
    ".global realm_fp_save",
    "realm_fp_save:",
    "    stp q0, q1, [x0, #0]",
    "    stp q2, q3, [x0, #32]",
    "    stp q4, q5, [x0, #64]",
    "    stp q6, q7, [x0, #96]",
    "    stp q8, q9, [x0, #128]",
    "    stp q10, q11, [x0, #160]",
    "    stp q12, q13, [x0, #192]",
    "    stp q14, q15, [x0, #224]",
    "    stp q16, q17, [x0, #256]",
    "    stp q18, q19, [x0, #288]",
    "    stp q20, q21, [x0, #320]",
    "    stp q22, q23, [x0, #352]",
    "    stp q24, q25, [x0, #384]",
    "    stp q26, q27, [x0, #416]",
    "    stp q28, q29, [x0, #448]",
    "    stp q30, q31, [x0, #480]",
    "    mrs x1, fpsr",
    "    mrs x2, fpcr",
    "    add x0, x0, #512",
    "    stp x1, x2, [x0]",
    "    ret",
    ".global realm_fp_restore",
    "realm_fp_restore:",
    "    ldp q0, q1, [x0, #0]",
    "    ldp q2, q3, [x0, #32]",
    "    ldp q4, q5, [x0, #64]",
    "    ldp q6, q7, [x0, #96]",
    "    ldp q8, q9, [x0, #128]",
    "    ldp q10, q11, [x0, #160]",
    "    ldp q12, q13, [x0, #192]",
    "    ldp q14, q15, [x0, #224]",
    "    ldp q16, q17, [x0, #256]",
    "    ldp q18, q19, [x0, #288]",
    "    ldp q20, q21, [x0, #320]",
    "    ldp q22, q23, [x0, #352]",
    "    ldp q24, q25, [x0, #384]",
    "    ldp q26, q27, [x0, #416]",
    "    ldp q28, q29, [x0, #448]",
    "    ldp q30, q31, [x0, #480]",
    "    add x0, x0, #512",
    "    ldp x1, x2, [x0]",
    "    msr fpsr, x1",
    "    msr fpcr, x2",
    "    ret",
);

fn fp_save(regs: &mut FpRegs) {
    // SAFETY: stores 528 bytes into `regs`, which is exactly an FpRegs;
    // FP/SIMD is enabled at R-EL2 (CPTR_EL2.TFP = 0, CPTR_EL3.TFP = 0).
    unsafe { realm_fp_save(regs) }
}

fn fp_restore(regs: &FpRegs) {
    // SAFETY: loads from a whole FpRegs; only FP/SIMD registers change.
    unsafe { realm_fp_restore(regs) }
}

/// The host's state, saved for the length of one REC_ENTER (its SVE/SME
/// state beyond V0-V31 lives in `simd`'s per-CPU area).
#[derive(Clone, Copy, Zeroable)]
struct HostState {
    el1: El1Regs,
    timer: TimerRegs,
    gic: GicRegs,
    keys: [u64; 10],
    fp: FpRegs,
    hcr: u64,
    cnthctl: u64,
    cntvoff: u64,
}

/// This CPU, running RECs for one REC_ENTER.
pub struct ArchVcpu {
    pub cpu: usize,
    host: HostState,
    /// The caller's SMCCC 1.3 SVE hint: no live SVE state to preserve.
    sve_hint: bool,
    host_simd: simd::HostSimd,
}

impl ArchVcpu {
    pub fn new(cpu: usize, sve_hint: bool) -> Self {
        Self {
            cpu,
            host: HostState::zeroed(),
            sve_hint,
            host_simd: simd::HostSimd::Fp,
        }
    }

    fn leases(&self) -> KernelLeases {
        KernelLeases { cpu: self.cpu }
    }
}

/// Timer interrupts asserted now: bit 0 virtual, bit 1 physical.
fn asserted_timers() -> u64 {
    use rampart_ipc::rec::timer_asserted;
    u64::from(timer_asserted(read_sysreg!("cntv_ctl_el0")))
        | u64::from(timer_asserted(read_sysreg!("cntp_ctl_el0"))) << 1
}

/// Runs the realm once with `ctx` loaded; saves it back.
fn run_loaded(ctx: &mut RecContext, fp: &mut FpRegs) -> Trap {
    restore_el1(&ctx.el1);
    write_sysreg!("cntvoff_el2", ctx.timer.cntvoff);
    restore_timers(&ctx.timer);
    restore_gic(&ctx.gic);
    restore_keys(&ctx.pauth);
    fp_restore(fp);
    write_sysreg!("vmpidr_el2", ctx.vmpidr);
    write_sysreg!("vtcr_el2", ctx.vtcr);
    write_sysreg!("vttbr_el2", ctx.vttbr);
    write_sysreg!("hcr_el2", ctx.hcr);
    write_sysreg!("elr_el2", ctx.pc);
    write_sysreg!("spsr_el2", ctx.pstate);
    isb();
    // A timer whose interrupt the host has not been told about exits at
    // once; an asserted one is masked so that its physical interrupt does
    // not fire again while the host delivers it as a virtual one.
    let asserted = asserted_timers();
    let masks = if asserted & 1 != 0 {
        CNTHCTL_CNTVMASK
    } else {
        0
    } | if asserted & 2 != 0 {
        CNTHCTL_CNTPMASK
    } else {
        0
    };
    write_sysreg!("cnthctl_el2", CNTHCTL_REALM | masks);
    isb();
    let trap = if asserted != ctx.timers_reported {
        Trap {
            kind: TrapKind::TimerChange,
            esr: 0,
            far: 0,
            hpfar: 0,
            irq_pending: false,
        }
    } else {
        // SAFETY: EL1 and EL2 state for the realm is loaded above; the
        // realm can only come back through the lower-EL vectors, which
        // restore this call's frame. `gprs` is a live, exclusive borrow.
        let vector = unsafe { realm_run(&mut ctx.gprs) };
        Trap {
            kind: match vector {
                0 => TrapKind::Sync,
                1 => TrapKind::Irq,
                2 => TrapKind::Fiq,
                _ => TrapKind::SError,
            },
            esr: read_sysreg!("esr_el2"),
            far: read_sysreg!("far_el2"),
            hpfar: read_sysreg!("hpfar_el2"),
            irq_pending: read_sysreg!("isr_el1") != 0,
        }
    };
    ctx.pc = read_sysreg!("elr_el2");
    ctx.pstate = read_sysreg!("spsr_el2");
    save_el1(&mut ctx.el1);
    save_timers(&mut ctx.timer);
    save_gic(&mut ctx.gic);
    write_sysreg!("S3_4_C12_C11_0", ctx.gic.hcr & !ICH_HCR_EN);
    save_keys(&mut ctx.pauth);
    fp_save(fp);
    trap
}

impl Vcpu for ArchVcpu {
    fn save_host(&mut self) {
        // First: the host may be in Streaming SVE mode, which this leaves.
        self.host_simd = simd::save_host(self.cpu, self.sve_hint);
        let h = &mut self.host;
        save_el1(&mut h.el1);
        save_timers(&mut h.timer);
        save_gic(&mut h.gic);
        save_keys(&mut h.keys);
        fp_save(&mut h.fp);
        h.hcr = read_sysreg!("hcr_el2");
        h.cnthctl = read_sysreg!("cnthctl_el2");
        h.cntvoff = read_sysreg!("cntvoff_el2");
    }

    fn run(&mut self, rec: u64) -> Trap {
        let failed = Trap {
            kind: TrapKind::Irq,
            esr: 0,
            far: 0,
            hpfar: 0,
            irq_pending: false,
        };
        let mut fp_leases = self.leases();
        self.leases()
            .with_realm(rec, |g| {
                let ctx = RecContext::of_mut(g);
                fp_leases
                    .with_realm(ctx.fp_state, |f| {
                        let fp: &mut FpRegs = bytemuck::from_bytes_mut(
                            &mut f.bytes_mut()[..core::mem::size_of::<FpRegs>()],
                        );
                        run_loaded(ctx, fp)
                    })
                    .unwrap_or(failed)
            })
            .unwrap_or(failed)
    }

    fn restore_host(&mut self) {
        let h = &self.host;
        write_sysreg!("hcr_el2", h.hcr);
        write_sysreg!("cnthctl_el2", h.cnthctl);
        write_sysreg!("cntvoff_el2", h.cntvoff);
        restore_el1(&h.el1);
        restore_timers(&h.timer);
        restore_gic(&h.gic);
        restore_keys(&h.keys);
        fp_restore(&h.fp);
        // Last: Z's upper bits, P, FFR (or the streaming state) over V0-V31.
        simd::restore_host(self.cpu, self.host_simd);
        isb();
    }
}
