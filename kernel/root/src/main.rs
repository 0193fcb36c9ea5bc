//! Rampart root firmware: the EL3 kernel.
//!
//! Boots from the reset vector, turns the MMU on, builds and enables the
//! GPT (through the GPT manager service), loads the RMM and the Normal-world
//! payload from the boot flash package, boots the RMM through TF-A's
//! RMM-EL3 interface (0.8, manifest 0.5) and then runs the Normal world,
//! answering SMCCC and PSCI and forwarding RMI to the RMM.
#![no_std]
#![no_main]

mod attest;
mod boot;
mod context;
#[cfg(feature = "ns-dtb")]
mod dtb;
mod gic;
mod gpt;
mod mmio;
mod mmu;
mod platform;
mod power;
mod smc;

use context::{Frame, World, WorldContext};
use core::sync::atomic::{AtomicU64, Ordering};
use rampart_arch::esr;
use rampart_arch::exception::{self, TargetEl};
use rampart_arch::{isb, read_sysreg, write_sysreg};
use rampart_board::BoardInfo;
use rampart_ipc::rmm_el3;
use smc::{CPUS, PSCI, Phase};

#[cfg(feature = "fvp-rdv3")]
pub use rampart_board_fvp_rdv3::BOARD;
#[cfg(all(feature = "qemu-virt", not(feature = "fvp-rdv3")))]
pub use rampart_board_qemu_virt::BOARD;
#[cfg(not(any(feature = "qemu-virt", feature = "fvp-rdv3")))]
compile_error!("select a board feature: --features qemu-virt or --features fvp-rdv3");

pub const MAX_CPUS: usize = BOARD_CPUS;
const BOARD_CPUS: usize = board_cpus(&BOARD);
const fn board_cpus(b: &BoardInfo) -> usize {
    b.topology.cpu_count
}

/// Set up that every core does for itself: MMU, vectors, GIC CPU interface,
/// and EL3 control registers.
fn init_this_core() {
    mmu::enable();
    write_sysreg!("vbar_el3", boot::vectors());
    // EL3's vector lengths, then the Normal world's SCR/CPTR/MDCR_EL3
    // (every world switch loads its own: context::load_controls).
    context::init_vector_lengths();
    context::init_controls(World::NonSecure);
    context::init_lower_el_state();
    // The counter frequency every lower EL reads; warm-booted cores come
    // out of reset without it (TF-A sets it per core too).
    write_sysreg!("cntfrq_el0", BOARD.counter_hz);
    isb();
    gic::init_this_core();
}

/// Cold boot on the boot core. `frame` is this core's exception frame slot.
#[unsafe(no_mangle)]
extern "C" fn root_cold_main(frame: &mut Frame, core: usize) -> ! {
    mmu::build();
    init_this_core();
    let trace = BOARD.root_trace_uart.base as usize;
    // SAFETY: mmu::build mapped root's trace UART as device memory; root
    // is its only writer (the RMM's records come through root), so no
    // shared lock.
    unsafe { rampart_kernel::trace::init(rampart_ipc::trace::ROOT, trace, 0) };
    let f = context::features();
    defmt::info!(
        "rampart root on {=str}: core {=usize} of {=usize}, RME {=bool}",
        BOARD.name,
        core,
        MAX_CPUS,
        f.rme
    );
    defmt::info!("el3: CPU features {}", f);
    for world in [World::NonSecure, World::Realm] {
        let c = context::controls(world);
        defmt::info!(
            "el3: {} SCR_EL3={=u64:#x} CPTR_EL3={=u64:#x} MDCR_EL3={=u64:#x}",
            world,
            c.scr,
            c.cptr,
            c.mdcr
        );
    }
    attest::init_heap();
    gic::init_distributor();
    platform::init_power();
    let rmm_image = platform::prepare_images();
    gpt::init();
    gpt::enable_smmus();
    PSCI.mark_boot_core(core);
    let Some(rmm_image) = rmm_image else {
        panic!("boot: nothing to run");
    };
    attest::init(rmm_image);
    platform::write_boot_manifest();
    let mut cpu = CPUS[core].lock();
    let args = [
        core as u64,
        u64::from(rmm_el3::INTERFACE_VERSION),
        MAX_CPUS as u64,
        BOARD.rmm_shared_page,
        0,
    ];
    cpu.realm = WorldContext::starting_at(BOARD.rmm.base, &args);
    cpu.phase = Phase::RmmBoot { cold: true };
    defmt::info!(
        "boot: entering the RMM at {=u64:#x} (interface {=u32:#x})",
        BOARD.rmm.base,
        rmm_el3::INTERFACE_VERSION
    );
    smc::enter(&cpu.realm, World::Realm, frame);
    drop(cpu);
    // SAFETY: `frame` is this core's frame slot at its stack top, as boot.rs set up.
    unsafe { boot::root_el3_exit_to(frame) }
}

/// Warm boot of a core released by CPU_ON.
#[unsafe(no_mangle)]
extern "C" fn root_warm_main(frame: &mut Frame, core: usize) -> ! {
    init_this_core();
    gpt::enable_this_core();
    defmt::info!("boot: core {=usize} warm boot", core);
    let mut cpu = CPUS[core].lock();
    let args = [core as u64, cpu.activation_token, 0, 0];
    cpu.realm = WorldContext::starting_at(BOARD.rmm.base, &args);
    cpu.phase = Phase::RmmBoot { cold: false };
    smc::enter(&cpu.realm, World::Realm, frame);
    drop(cpu);
    // SAFETY: as in root_cold_main.
    unsafe { boot::root_el3_exit_to(frame) }
}

fn this_core() -> usize {
    // Cores that are not the board's never leave the reset code.
    BOARD
        .topology
        .core_index(rampart_arch::mpidr())
        .unwrap_or(0)
}

/// Every synchronous exception from a lower EL. `kind` is the vector slot
/// (0 sync, 1 IRQ, 2 FIQ, 3 SError).
#[unsafe(no_mangle)]
extern "C" fn root_lower_exception(frame: &mut Frame, kind: u64) {
    let world = context::current_world();
    if kind != 0 {
        defmt::warn!(
            "el3: unexpected asynchronous exception {=u64} from {}",
            kind,
            world
        );
        return;
    }
    let esr = read_sysreg!("esr_el3");
    match esr::class(esr) {
        esr::EC_SMC64 => smc::handle(this_core(), world, frame),
        esr::EC_GPC => granule_protection_fault(world, frame, esr),
        _ => undefined_at_lower_el(world, frame, esr),
    }
}

/// Lower-EL exceptions EL3 answered as UNDEFINED since boot (every core,
/// both worlds): anything but an SMC or a granule protection fault.
static UNDEFINED_ANSWERED: AtomicU64 = AtomicU64::new(0);

/// A trap to EL3 that root does not emulate: an access to a feature EL3
/// keeps from this world (CPTR_EL3.TAM/TTA for realms, MPAM3_EL3.TRAPLOWER,
/// an SCR_EL3 enable left clear) or an instruction EL3 traps by mistake.
/// Answered as the architecture answers the access on a CPU without the
/// feature: an Undefined Instruction exception (EC 0) taken where it would
/// have been taken, at the EL that executed it, or at EL2 for EL0 when
/// HCR_EL2.TGE routes EL0 there (Arm ARM D1.3.1; TF-A v2.15.0
/// `bl31/bl31_traps.c` inject_undef64 does the same). Logged, so a trap
/// that should not happen (a WFI with SCR_EL3.TWI set) shows.
fn undefined_at_lower_el(world: World, frame: &mut Frame, esr_el3: u64) {
    let answered = UNDEFINED_ANSWERED.fetch_add(1, Ordering::Relaxed) + 1;
    defmt::warn!(
        "el3: {} trapped ESR_EL3={=u64:#x} at {=u64:#x} (EL{=u64}); answered UNDEFINED ({=u64} so far)",
        world,
        esr_el3,
        frame.elr,
        exception::source_el(frame.spsr),
        answered
    );
    let hcr = read_sysreg!("hcr_el2");
    let target = exception::target_el(frame.spsr, hcr);
    deliver(
        frame,
        target,
        esr::EC_UNKNOWN << esr::EC_SHIFT | esr::IL,
        None,
    );
}

/// A lower EL's access failed the granule protection check (DDI0615: GPC
/// exception, EC 0x1E). Reported, then delivered to the faulting world's EL2
/// as a synchronous external abort, which is what the access would have
/// produced without RME; EL3 carries on.
fn granule_protection_fault(world: World, frame: &mut Frame, esr: u64) {
    let far = read_sysreg!("far_el3");
    // MFAR_EL3: the PA in [51:12] (page offset from FAR), the PAS in NS (63) / NSE (62).
    let mfar = read_sysreg!("S3_6_C6_C0_5");
    let pa = (mfar & 0x000f_ffff_ffff_f000) | (far & 0xfff);
    defmt::warn!(
        "gpf: {} access to PA {=u64:#x} (VA {=u64:#x}) at {=u64:#x}, ESR_EL3={=u64:#x}; delivering an external abort",
        world,
        pa,
        far,
        frame.elr,
        esr
    );
    let instruction = esr & (1 << 20) != 0;
    let from_el2 = matches!(
        frame.spsr & context::SPSR_M_MASK,
        context::SPSR_M_EL2H | context::SPSR_M_EL2T
    );
    let class = match (instruction, from_el2) {
        (true, true) => esr::EC_IABT_CURRENT,
        (true, false) => esr::EC_IABT_LOWER,
        (false, true) => esr::EC_DABT_CURRENT,
        (false, false) => esr::EC_DABT_LOWER,
    };
    let wnr = if instruction { 0 } else { esr & (1 << 6) };
    deliver(
        frame,
        TargetEl::El2,
        class << esr::EC_SHIFT | esr::IL | wnr | esr::FSC_SEA,
        Some(far),
    );
}

/// Delivers a synchronous exception with syndrome `esr` to `target` of
/// the current world, as if it had been taken there: ESR, FAR (for aborts),
/// ELR and SPSR of the target EL, then its vector with the PSTATE of
/// exception entry (`rampart_arch::exception`).
fn deliver(frame: &mut Frame, target: TargetEl, esr: u64, far: Option<u64>) {
    let f = context::features();
    let hcr_el2 = read_sysreg!("hcr_el2");
    let (vbar, sctlr, gcscr) = match target {
        TargetEl::El2 => {
            write_sysreg!("esr_el2", esr);
            if let Some(far) = far {
                write_sysreg!("far_el2", far);
            }
            write_sysreg!("elr_el2", frame.elr);
            write_sysreg!("spsr_el2", frame.spsr);
            let gcscr = if f.gcs {
                read_sysreg!("S3_4_C2_C5_0")
            } else {
                0
            };
            (read_sysreg!("vbar_el2"), read_sysreg!("sctlr_el2"), gcscr)
        }
        TargetEl::El1 => {
            write_sysreg!("esr_el1", esr);
            if let Some(far) = far {
                write_sysreg!("far_el1", far);
            }
            write_sysreg!("elr_el1", frame.elr);
            write_sysreg!("spsr_el1", frame.spsr);
            let gcscr = if f.gcs {
                read_sysreg!("S3_0_C2_C5_0")
            } else {
                0
            };
            (read_sysreg!("vbar_el1"), read_sysreg!("sctlr_el1"), gcscr)
        }
    };
    let controls = exception::EntryControls {
        sctlr,
        gcscr,
        hcr_el2,
        pan: f.pan,
        ssbs: f.ssbs,
        mte2: f.mte2,
        nmi: f.nmi,
        gcs: f.gcs,
    };
    let offset = exception::sync_vector_offset(frame.spsr, target);
    frame.spsr = exception::entry_spsr(frame.spsr, target, &controls);
    frame.elr = vbar + offset;
}

/// An exception taken from EL3 itself: a root bug.
#[unsafe(no_mangle)]
extern "C" fn root_el3_fault(kind: u64) -> ! {
    panic!(
        "el3 exception {} ESR_EL3={:#x} ELR_EL3={:#x} FAR_EL3={:#x}",
        kind,
        read_sysreg!("esr_el3"),
        read_sysreg!("elr_el3"),
        read_sysreg!("far_el3")
    );
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    rampart_kernel::trace::panic_and_park(info)
}
