//! The instructions themselves. Each `unsafe` block states why it is sound.

use core::arch::asm;

/// Reads a system register by name or `S3_...` encoding.
#[macro_export]
macro_rules! read_sysreg {
    ($reg:tt) => {{
        let value: u64;
        // SAFETY: reading a system register has no memory effects; the
        // caller runs at an EL where the register is accessible.
        unsafe { core::arch::asm!(concat!("mrs {}, ", $reg), out(reg) value, options(nomem, nostack, preserves_flags)) };
        value
    }};
}

/// Writes a system register. Only the kernels use this, and only for
/// registers whose effects they own (translation, vectors, world control).
#[macro_export]
macro_rules! write_sysreg {
    ($reg:tt, $value:expr) => {{
        let value: u64 = $value;
        // SAFETY: the kernels call this only for registers whose new value
        // they have validated and whose side effects they order with barriers.
        unsafe { core::arch::asm!(concat!("msr ", $reg, ", {}"), in(reg) value, options(nostack, preserves_flags)) };
    }};
}

pub const GPCCR_EL3: &str = "S3_6_C2_C1_6";

/// Full-system data synchronisation barrier.
#[inline(always)]
pub fn dsb_sy() {
    // SAFETY: a barrier has no operands and no memory safety implications.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) }
}

/// Inner-shareable data synchronisation barrier.
#[inline(always)]
pub fn dsb_ish() {
    // SAFETY: as for dsb_sy.
    unsafe { asm!("dsb ish", options(nostack, preserves_flags)) }
}

/// Outer-shareable data synchronisation barrier.
#[inline(always)]
pub fn dsb_osh() {
    // SAFETY: as for dsb_sy.
    unsafe { asm!("dsb osh", options(nostack, preserves_flags)) }
}

/// Full-system data memory barrier: orders every access before it against
/// every access after it (e.g. a mailbox write against a doorbell poll).
#[inline(always)]
pub fn dmb_sy() {
    // SAFETY: as for dsb_sy.
    unsafe { asm!("dmb sy", options(nostack, preserves_flags)) }
}

/// Stores before it are observed before stores after it.
#[inline(always)]
pub fn dmb_st() {
    // SAFETY: as for dsb_sy.
    unsafe { asm!("dmb st", options(nostack, preserves_flags)) }
}

/// Loads before it complete before accesses after it.
#[inline(always)]
pub fn dmb_ld() {
    // SAFETY: as for dsb_sy.
    unsafe { asm!("dmb ld", options(nostack, preserves_flags)) }
}

/// Instruction synchronisation barrier.
#[inline(always)]
pub fn isb() {
    // SAFETY: as for dsb_sy.
    unsafe { asm!("isb", options(nostack, preserves_flags)) }
}

#[inline(always)]
pub fn wfe() {
    // SAFETY: waits for an event; no memory effects.
    unsafe { asm!("wfe", options(nomem, nostack, preserves_flags)) }
}

#[inline(always)]
pub fn wfi() {
    // SAFETY: waits for an interrupt; no memory effects.
    unsafe { asm!("wfi", options(nomem, nostack, preserves_flags)) }
}

#[inline(always)]
pub fn sev() {
    // SAFETY: signals an event to all cores; no memory effects.
    unsafe { asm!("sev", options(nomem, nostack, preserves_flags)) }
}

/// Invalidates all EL3 TLB entries (after EL3 tables change).
pub fn tlbi_alle3() {
    // SAFETY: TLB maintenance; correctness of the new tables is the caller's.
    unsafe {
        asm!(
            "tlbi alle3",
            "dsb sy",
            "isb",
            options(nostack, preserves_flags)
        )
    }
}

/// Invalidates all EL2 TLB entries.
pub fn tlbi_alle2() {
    // SAFETY: as for tlbi_alle3.
    unsafe {
        asm!(
            "tlbi alle2",
            "dsb sy",
            "isb",
            options(nostack, preserves_flags)
        )
    }
}

/// TLBI PAALLOS: invalidates cached GPT information for all PAs, outer
/// shareable (DDI0615 TLBI PAALLOS).
pub fn tlbi_paallos() {
    // SAFETY: TLB maintenance only. Encoded as SYS so no assembler RME support is needed.
    unsafe { asm!("sys #6, c8, c1, #4, xzr", options(nostack, preserves_flags)) }
}

/// TLBI RPALOS: invalidates cached GPT information for a PA range (last
/// level), outer shareable. `operand` is the encoded Xt.
pub fn tlbi_rpalos(operand: u64) {
    // SAFETY: TLB maintenance only.
    unsafe { asm!("sys #6, c8, c4, #7, {}", in(reg) operand, options(nostack, preserves_flags)) }
}

/// DC CIPAPA: clean and invalidate a line to the point of physical aliasing,
/// by PA; `operand` carries the PA and the PAS bits.
pub fn dc_cipapa(operand: u64) {
    // SAFETY: cache maintenance by PA never loses data that is not meant to
    // be lost: clean before invalidate.
    unsafe { asm!("sys #6, c7, c14, #1, {}", in(reg) operand, options(nostack, preserves_flags)) }
}

/// Clean and invalidate by VA to the point of coherency over a range.
pub fn dc_civac_range(start: usize, len: usize) {
    let line = cache_line_size();
    let mut addr = start & !(line - 1);
    while addr < start + len {
        // SAFETY: cleaning and invalidating a mapped line keeps its data.
        unsafe { asm!("dc civac, {}", in(reg) addr, options(nostack, preserves_flags)) };
        addr += line;
    }
    dsb_sy();
}

/// Smallest data cache line size, from CTR_EL0.DminLine.
pub fn cache_line_size() -> usize {
    let ctr = read_sysreg!("ctr_el0");
    4 << ((ctr >> 16) & 0xf)
}

/// This core's MPIDR_EL1.
pub fn mpidr() -> u64 {
    read_sysreg!("mpidr_el1")
}

/// The physical counter.
pub fn counter() -> u64 {
    read_sysreg!("cntpct_el0")
}

/// Issues an SMC with x0-x7 and returns x0-x7 (SMCCC 1.2).
pub fn smc(args: [u64; 8]) -> crate::SmcResult {
    let mut r = args;
    // SAFETY: an SMC transfers control to EL3, which preserves x8-x30 and
    // the stack per SMCCC; only x0-x7 are changed.
    unsafe {
        asm!(
            "smc #0",
            inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
            inout("x4") r[4], inout("x5") r[5], inout("x6") r[6], inout("x7") r[7],
            options(nostack)
        )
    };
    crate::SmcResult(r)
}

/// Copies `N` words (`N` even) with `N / 2` paired loads and stores,
/// unrolled. Firmware builds at `opt-level = "s"`, where LLVM turns any
/// copy over a few words into a call to `memcpy`, which costs several times
/// as many instructions; the world switch copies register frames on every
/// SMC (`cargo xtask bench` showed it).
#[inline(always)]
pub fn copy_words<const N: usize>(dst: &mut [u64; N], src: &[u64; N]) {
    const { assert!(N.is_multiple_of(2), "copy_words copies pairs") };
    // SAFETY: both arrays are N words long and distinct (`&mut` and `&`);
    // the loop reads exactly `src` and writes exactly `dst`.
    unsafe {
        asm!(
            ".rept {pairs}",
            "ldp {a}, {b}, [{src}], #16",
            "stp {a}, {b}, [{dst}], #16",
            ".endr",
            pairs = const N / 2,
            src = inout(reg) src.as_ptr() => _,
            dst = inout(reg) dst.as_mut_ptr() => _,
            a = out(reg) _,
            b = out(reg) _,
            options(nostack, preserves_flags)
        )
    };
}

/// Benchmark markers for `cargo xtask bench`: two unallocated HINT
/// instructions (architectural NOPs, so free on hardware and in QEMU without
/// the counting plugin). The plugin counts the instructions a CPU executes
/// between them; the benchmark id (`rampart_ipc::bench`) travels in x16.
pub mod bench {
    use core::arch::asm;

    /// `hint #0x7e`: begin measuring benchmark `id` on this CPU.
    pub const BEGIN_OPCODE: u32 = 0xd503_2fdf;
    /// `hint #0x7f`: end the measurement.
    pub const END_OPCODE: u32 = 0xd503_2fff;

    #[inline(always)]
    pub fn begin(id: u64) {
        // SAFETY: a HINT in the unallocated space executes as a NOP.
        unsafe { asm!("hint #0x7e", in("x16") id, options(nostack, preserves_flags)) };
    }

    #[inline(always)]
    pub fn end() {
        // SAFETY: as in `begin`.
        unsafe { asm!("hint #0x7f", options(nostack, preserves_flags)) };
    }

    /// [`crate::smc`] with the markers right around the SMC instruction, so
    /// the count is the call alone: the SMC, EL3 and whatever it runs, up
    /// to the return.
    pub fn smc(args: [u64; 8], id: u64) -> crate::SmcResult {
        let mut r = args;
        // SAFETY: as `crate::smc` (EL3 preserves x8-x15 and x18-x30 and the
        // stack per SMCCC); the markers are NOPs; x16 is declared clobbered.
        unsafe {
            asm!(
                "hint #0x7e",
                "smc #0",
                "hint #0x7f",
                inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
                inout("x4") r[4], inout("x5") r[5], inout("x6") r[6], inout("x7") r[7],
                inout("x16") id => _,
                options(nostack)
            )
        };
        crate::SmcResult(r)
    }
}

/// Reads one u64 from a physical address that is mapped at the same VA.
/// Used by test payloads to probe memory they do not own; a fault on this
/// access is expected and handled by the caller's exception vector.
///
/// # Safety
/// `addr` must be mapped and 8-byte aligned, and the caller's exception
/// handling must tolerate a synchronous abort on this instruction.
pub unsafe fn probe_read(addr: u64) -> u64 {
    let value: u64;
    // SAFETY: upheld by the caller (see the function's contract).
    unsafe {
        asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) value, options(nostack, readonly))
    };
    value
}

/// The `critical-section` implementation both kernels use (the heap
/// allocator relies on it): interrupts masked on this CPU, plus a lock that
/// excludes the other CPUs. Re-entrant on the CPU that holds it, as the
/// crate's contract requires.
mod critical {
    use core::sync::atomic::{AtomicU64, Ordering};

    struct CpuLock;
    critical_section::set_impl!(CpuLock);

    /// MPIDR affinity (+1, so that 0 means free) of the holder.
    static OWNER: AtomicU64 = AtomicU64::new(0);
    /// Restore-state bit: this acquire found the lock already ours.
    const NESTED: u64 = 1 << 63;

    // SAFETY: acquire masks interrupts before taking the lock and release
    // drops it (outer level only) before restoring DAIF, so a CPU never
    // spins on a lock it holds and no interrupt handler runs inside.
    unsafe impl critical_section::Impl for CpuLock {
        unsafe fn acquire() -> u64 {
            let daif = crate::read_sysreg!("daif");
            // SAFETY: masking interrupts has no memory effects.
            unsafe { core::arch::asm!("msr daifset, #0xf", options(nomem, nostack)) };
            let me = (super::mpidr() & 0xff_00ff_ffff) + 1;
            if OWNER.load(Ordering::Relaxed) == me {
                return daif | NESTED;
            }
            while OWNER
                .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                core::hint::spin_loop();
            }
            daif
        }

        unsafe fn release(state: u64) {
            if state & NESTED == 0 {
                OWNER.store(0, Ordering::Release);
            }
            // SAFETY: restores the interrupt mask saved by acquire.
            unsafe {
                core::arch::asm!("msr daif, {}", in(reg) state & !NESTED, options(nomem, nostack))
            };
        }
    }
}
