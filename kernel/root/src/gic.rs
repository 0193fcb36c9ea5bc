//! GICv3 set-up at EL3 (Arm IHI0069): affinity routing on, every interrupt
//! Non-secure Group 1 for the Normal world's hypervisor, each core's
//! redistributor awake, and the system-register interface enabled for the
//! lower ELs.

use crate::BOARD;
use core::ptr::{read_volatile, write_volatile};
use rampart_arch::{isb, write_sysreg};

const GICD_CTLR: u64 = 0x0000;
const GICD_TYPER: u64 = 0x0004;
const GICD_IGROUPR: u64 = 0x0080;
const GICD_IGRPMODR: u64 = 0x0d00;
const CTLR_ENABLE_G0: u32 = 1 << 0;
const CTLR_ENABLE_G1NS: u32 = 1 << 1;
const CTLR_ARE_S: u32 = 1 << 4;
const CTLR_ARE_NS: u32 = 1 << 5;
const CTLR_RWP: u32 = 1 << 31;

const GICR_TYPER: u64 = 0x0008;
/// GICR_PWRR (GIC-600/700) and its power-down bit.
const GICR_PWRR: u64 = 0x24;
const PWRR_RDPD: u32 = 1 << 0;
const GICR_WAKER: u64 = 0x0014;
const GICR_SGI_BASE: u64 = 0x1_0000;
const TYPER_LAST: u64 = 1 << 4;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

/// Bounded register polls: a GIC that never answers is reported, not waited on forever.
const POLLS: u32 = 1_000_000;

fn read(addr: u64) -> u32 {
    // SAFETY: `addr` is inside the GIC ranges root maps as device memory (mmu.rs).
    unsafe { read_volatile(addr as *const u32) }
}

fn write(addr: u64, value: u32) {
    // SAFETY: as for `read`.
    unsafe { write_volatile(addr as *mut u32, value) }
}

fn wait_clear(addr: u64, bits: u32) -> bool {
    (0..POLLS).any(|_| read(addr) & bits == 0)
}

/// Distributor: boot core only.
pub fn init_distributor() {
    let d = BOARD.gic.distributor;
    write(d + GICD_CTLR, CTLR_ARE_S | CTLR_ARE_NS);
    if !wait_clear(d + GICD_CTLR, CTLR_RWP) {
        defmt::warn!("gic: distributor did not complete a register write");
    }
    let lines = (read(d + GICD_TYPER) & 0x1f) + 1;
    for n in 1..lines.min(32) {
        write(d + GICD_IGROUPR + 4 * n as u64, u32::MAX);
        write(d + GICD_IGRPMODR + 4 * n as u64, 0);
    }
    write(
        d + GICD_CTLR,
        CTLR_ARE_S | CTLR_ARE_NS | CTLR_ENABLE_G0 | CTLR_ENABLE_G1NS,
    );
    wait_clear(d + GICD_CTLR, CTLR_RWP);
}

/// This core's redistributor and CPU interface. Every core.
pub fn init_this_core() {
    // SAFETY-free: ICC_SRE_EL3 = SRE | DFB | DIB | Enable (lower ELs may use
    // the system-register interface).
    write_sysreg!("S3_6_C12_C12_5", 0xf);
    isb();
    let mpidr = rampart_arch::mpidr();
    let affinity = (mpidr & 0xff_ffff) | ((mpidr >> 32) & 0xff) << 24;
    let mut frame = BOARD.gic.redistributors;
    for _ in 0..BOARD.topology.cpu_count.max(1) * 2 {
        let lo = u64::from(read(frame + GICR_TYPER));
        let hi = u64::from(read(frame + GICR_TYPER + 4));
        if hi == affinity {
            // GIC-600/700 (RD-V3) keep a redistributor powered down until
            // GICR_PWRR.RDPD is cleared; on other GICv3s the offset is
            // reserved (reads as zero, writes ignored).
            write(frame + GICR_PWRR, 0);
            if !wait_clear(frame + GICR_PWRR, PWRR_RDPD) {
                defmt::warn!("gic: redistributor of {=u64:#x} stays powered down", mpidr);
            }
            let waker = frame + GICR_WAKER;
            write(waker, read(waker) & !WAKER_PROCESSOR_SLEEP);
            if !wait_clear(waker, WAKER_CHILDREN_ASLEEP) {
                defmt::warn!("gic: redistributor of {=u64:#x} stays asleep", mpidr);
            }
            write(frame + GICR_SGI_BASE + GICD_IGROUPR, u32::MAX);
            write(frame + GICR_SGI_BASE + GICD_IGRPMODR, 0);
            return;
        }
        if lo & TYPER_LAST != 0 {
            break;
        }
        frame += BOARD.gic.redistributor_stride;
    }
    defmt::warn!("gic: no redistributor for MPIDR {=u64:#x}", mpidr);
}
