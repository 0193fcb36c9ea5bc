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
mod gic;
mod gpt;
mod mmio;
mod mmu;
mod platform;
mod power;
mod smc;

use context::{Frame, World, WorldContext};
use rampart_arch::esr;
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
    // CPTR_EL3: no FP/SIMD trap (TFP = 0); SVE and SME are set per world
    // on every entry (context::cptr_for), after EL3's vector lengths.
    context::init_vector_lengths();
    write_sysreg!("cptr_el3", context::cptr_for(World::NonSecure));
    // MDCR_EL3: debug and PMU as reset; secure self-hosted debug off.
    write_sysreg!("mdcr_el3", 0);
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
        _ => {
            defmt::warn!(
                "el3: {} trapped ESR_EL3={=u64:#x} at {=u64:#x}; injecting UNDEF",
                world,
                esr,
                frame.elr
            );
            inject(frame, esr::EC_UNKNOWN << esr::EC_SHIFT | esr::IL, None);
        }
    }
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
    inject(
        frame,
        class << esr::EC_SHIFT | esr::IL | wnr | esr::FSC_SEA,
        Some(far),
    );
}

/// Delivers a synchronous exception with syndrome `esr_el2` to the current
/// world's EL2, as if it had been taken there.
fn inject(frame: &mut Frame, esr_el2: u64, far: Option<u64>) {
    let vbar = read_sysreg!("vbar_el2");
    let offset = match frame.spsr & context::SPSR_M_MASK {
        context::SPSR_M_EL2H => 0x200,
        context::SPSR_M_EL2T => 0x000,
        _ => 0x400,
    };
    write_sysreg!("esr_el2", esr_el2);
    if let Some(far) = far {
        write_sysreg!("far_el2", far);
    }
    write_sysreg!("elr_el2", frame.elr);
    write_sysreg!("spsr_el2", frame.spsr);
    frame.elr = vbar + offset;
    frame.spsr = context::SPSR_EL2H_MASKED;
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
