//! The EL3 SMC front end: routes every call (SMCCC 1.2, DEN0028) to the
//! architecture calls, PSCI for the Normal world, the RMM (RMI forwarding),
//! or the RMM-EL3 interface; and switches worlds.

use crate::context::{Frame, World, WorldContext, load_controls};
use crate::{BOARD, MAX_CPUS, attest, gpt, platform};
use core::sync::atomic::{AtomicU8, Ordering};
use rampart_ipc::Transport;
use rampart_ipc::gpt::{GptRequest, Pas};
use rampart_ipc::rmm_el3::{self as el3, RmmEl3Status};
use rampart_ipc::smccc::{self, PsciError, Route, SMC_UNKNOWN};
use rampart_ipc::trace;
use rampart_kernel::psci::{NsEntry, PsciCores};
use spin::Mutex;

/// Where a core is in its dealings with the RMM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Phase {
    /// The RMM is booting on this core (cold: the boot core at power-on).
    RmmBoot { cold: bool },
    /// The Normal world runs; the RMM is idle on this core.
    NormalWorld,
    /// The RMM is handling an RMI call for the Normal world.
    RmiInFlight,
}

pub struct Cpu {
    pub ns: WorldContext,
    pub realm: WorldContext,
    pub phase: Phase,
    /// Per-CPU activation token the RMM returned at boot, handed back at warm boot.
    pub activation_token: u64,
}

impl Cpu {
    const fn new() -> Self {
        Self {
            ns: WorldContext {
                frame: zero_frame(),
                el2: zero_el2(),
            },
            realm: WorldContext {
                frame: zero_frame(),
                el2: zero_el2(),
            },
            phase: Phase::NormalWorld,
            activation_token: 0,
        }
    }
}

const fn zero_frame() -> Frame {
    Frame {
        x: [0; 31],
        sp_el0: 0,
        elr: 0,
        spsr: 0,
    }
}

const fn zero_el2() -> crate::context::El2Regs {
    crate::context::El2Regs::ZERO
}

/// One lock per core: only that core takes it, so it never contends.
pub static CPUS: [Mutex<Cpu>; MAX_CPUS] = [const { Mutex::new(Cpu::new()) }; MAX_CPUS];

pub static PSCI: PsciCores<MAX_CPUS> = PsciCores::new();

const RMM_BOOTING: u8 = 0;
const RMM_READY: u8 = 1;
const RMM_FAILED: u8 = 2;
static RMM: AtomicU8 = AtomicU8::new(RMM_BOOTING);

fn rmm_ready() -> bool {
    RMM.load(Ordering::Acquire) == RMM_READY
}

/// Saves the running world into `cpu`, and loads `to` into the live EL2
/// registers, SCR_EL3 and the frame.
fn switch(cpu: &mut Cpu, frame: &mut Frame, from: World, to: World) {
    let (save, load) = match from {
        World::NonSecure => (&mut cpu.ns, &cpu.realm),
        World::Realm => (&mut cpu.realm, &cpu.ns),
    };
    save.frame.copy_from(frame);
    save.el2.save();
    enter(load, to, frame);
}

/// Loads a world without saving the current one (first entry on a core).
pub fn enter(ctx: &WorldContext, to: World, frame: &mut Frame) {
    load_controls(to);
    ctx.el2.restore();
    frame.copy_from(&ctx.frame);
}

fn set_ret(frame: &mut Frame, values: &[u64]) {
    frame.x[..values.len()].copy_from_slice(values);
}

/// Handles an SMC from `world` on `core`; `frame` holds the caller's registers.
pub fn handle(core: usize, world: World, frame: &mut Frame) {
    // The SVE hint (SMCCC 1.3) does not change the function; EL3 never
    // touches SVE state, and RMI calls keep the hint in x0 for the RMM.
    let fid = smccc::function_id(frame.x[0]);
    if world == World::Realm {
        // Every call from the Realm world passes what the RMM logged since
        // its last one to root's UART; an empty ring costs a compare.
        rampart_kernel::trace::drain_ring();
    }
    let from = match world {
        World::NonSecure => smccc::World::NonSecure,
        World::Realm => smccc::World::Realm,
    };
    match smccc::route(fid, from) {
        Route::Arch => match fid {
            smccc::SMCCC_VERSION => set_ret(frame, &[smccc::SMCCC_VERSION_1_2]),
            _ => set_ret(frame, &[smccc::arch_features(frame.x[1] as u32)]),
        },
        Route::Psci => psci(core, frame),
        Route::ForwardToRmm => forward_to_rmm(core, frame),
        Route::RmmEl3 => rmm_el3(core, frame),
        Route::Unknown => {
            defmt::debug!("smc: unknown fid {=u32:#x} from {}", fid, world);
            set_ret(frame, &[SMC_UNKNOWN]);
        }
    }
}

/// RMI from the Normal world: x0-x7 go to the RMM unchanged (TF-A
/// rmmd_rmi_handler); the answer comes back with RMM_RMI_REQ_COMPLETE.
fn forward_to_rmm(core: usize, frame: &mut Frame) {
    if !rmm_ready() {
        set_ret(frame, &[SMC_UNKNOWN]);
        return;
    }
    let mut cpu = CPUS[core].lock();
    let args: [u64; 8] = frame.x[..8].try_into().unwrap_or([0; 8]);
    switch(&mut cpu, frame, World::NonSecure, World::Realm);
    set_ret(frame, &args);
    cpu.phase = Phase::RmiInFlight;
}

fn rmm_el3(core: usize, frame: &mut Frame) {
    let fid = smccc::function_id(frame.x[0]);
    match fid {
        el3::REQ_COMPLETE => {
            let mut cpu = CPUS[core].lock();
            if cpu.phase != Phase::RmiInFlight {
                set_ret(frame, &[SMC_UNKNOWN]);
                return;
            }
            // RMM x1-x5 become the Normal world's x0-x4 (interface 0.x, SMC_RET5).
            let results: [u64; 5] = frame.x[1..6].try_into().unwrap_or([0; 5]);
            switch(&mut cpu, frame, World::Realm, World::NonSecure);
            set_ret(frame, &results);
            cpu.phase = Phase::NormalWorld;
        }
        el3::GTSI_DELEGATE | el3::GTSI_UNDELEGATE => {
            let addr = frame.x[1];
            let (from, to) = if fid == el3::GTSI_DELEGATE {
                (Pas::NonSecure, Pas::Realm)
            } else {
                (Pas::Realm, Pas::NonSecure)
            };
            set_ret(frame, &[gtsi(addr, from, to).reg()]);
        }
        el3::EL3_FEATURES => {
            // Register 0: no EL3 token signing. Other registers do not exist.
            if frame.x[1] == 0 {
                set_ret(frame, &[RmmEl3Status::Ok.reg(), 0]);
            } else {
                set_ret(frame, &[RmmEl3Status::Inval.reg()]);
            }
        }
        el3::ATTEST_GET_REALM_KEY => {
            let [pa, size, curve] = [frame.x[1], frame.x[2], frame.x[3]];
            set_ret(frame, &attest::get_realm_key(pa, size, curve));
        }
        el3::ATTEST_GET_PLAT_TOKEN => {
            let [pa, size, c_size] = [frame.x[1], frame.x[2], frame.x[3]];
            set_ret(frame, &attest::get_plat_token(pa, size, c_size));
        }
        el3::BOOT_COMPLETE => boot_complete(core, frame),
        trace::FID_RING_REGISTER => {
            // Only while the RMM cold boots on the boot core: no other
            // core of it runs yet, so no two registrations can race.
            let cold_boot = CPUS[core].lock().phase == Phase::RmmBoot { cold: true };
            let [addr, capacity] = [frame.x[1], frame.x[2]];
            let answer = if cold_boot {
                register_trace_ring(addr, capacity)
            } else {
                trace::RING_INVALID
            };
            set_ret(frame, &[answer]);
        }
        trace::FID_RING_FLUSH => {
            // handle() drained it on the way in.
            let attached = rampart_kernel::trace::ring_attached();
            set_ret(
                frame,
                &[if attached {
                    trace::RING_OK
                } else {
                    trace::RING_INVALID
                }],
            );
        }
        _ => set_ret(frame, &[SMC_UNKNOWN]),
    }
}

/// Rampart's RING_REGISTER vendor call (SMCCC DEN0028 6.2, OEN 7; ABI in
/// `rampart_ipc::trace`): the RMM's trace ring, once per boot, wholly inside
/// the RMM's region less the shared page. Root drains it to its own UART.
fn register_trace_ring(addr: u64, capacity: u64) -> u64 {
    let owner = rampart_board::Range::new(BOARD.rmm.base, BOARD.rmm_shared_page - BOARD.rmm.base);
    if !trace::ring_fits(addr, capacity, owner) {
        defmt::warn!(
            "trace: RMM ring {=u64:#x}+{=u64:#x} refused (outside its region or bad size)",
            addr,
            capacity
        );
        return trace::RING_INVALID;
    }
    // SAFETY: ring_fits checked the ring lies in the RMM's region, which
    // root maps as Realm normal memory for its whole life (rootmap).
    if !unsafe { rampart_kernel::trace::attach_ring(addr as usize, capacity as u32) } {
        return trace::RING_INVALID;
    }
    defmt::info!(
        "trace: RMM ring at {=u64:#x} ({=u64} bytes) drained to this UART",
        addr,
        capacity
    );
    trace::RING_OK
}

/// RMM_GTSI_DELEGATE/UNDELEGATE: only DRAM granules move, only NS<->Realm,
/// and never one of the RMM's own region (its image, its trace ring, the
/// shared page): handing those to the Normal world would expose the RMM
/// and make root's own reads of the ring fault (TF-A's rmmd refuses them
/// too).
fn gtsi(addr: u64, from: Pas, to: Pas) -> RmmEl3Status {
    if BOARD.dram_bank_of(addr).is_none() || BOARD.rmm.contains(addr) {
        return RmmEl3Status::BadAddr;
    }
    el3::gtsi_status(gpt::Router.call(GptRequest::Transition { addr, from, to }))
}

fn boot_complete(core: usize, frame: &mut Frame) {
    let mut cpu = CPUS[core].lock();
    let Phase::RmmBoot { cold } = cpu.phase else {
        set_ret(frame, &[SMC_UNKNOWN]);
        return;
    };
    let status = frame.x[1] as i64;
    cpu.activation_token = frame.x[2];
    if status == 0 {
        if cold {
            RMM.store(RMM_READY, Ordering::Release);
        }
        defmt::info!("rmm: boot complete on core {=usize}", core);
    } else {
        RMM.store(RMM_FAILED, Ordering::Release);
        defmt::error!(
            "rmm: boot failed on core {=usize} with {=i64}; RMI is disabled",
            core,
            status
        );
    }
    // Hand the core to the Normal world: its boot entry, or its CPU_ON entry.
    // The boot core enters the Normal world's boot image with the arguments
    // its loader chose; a CPU_ON'd core gets its context id in x0.
    let ns = if cold {
        platform::ns_boot().map(|boot| (boot.entry, boot.args))
    } else {
        PSCI.finish_on(core)
            .map(|on| (on.entry, [on.context_id, 0, 0, 0]))
    };
    let Some((entry, args)) = ns else {
        defmt::error!("psci: core {=usize} booted with no pending CPU_ON", core);
        set_ret(frame, &[SMC_UNKNOWN]);
        return;
    };
    cpu.ns = WorldContext::starting_at(entry, &args);
    cpu.phase = Phase::NormalWorld;
    switch(&mut cpu, frame, World::Realm, World::NonSecure);
}

/// PSCI 1.1 for the Normal world (DEN0022 section 5).
fn psci(core: usize, frame: &mut Frame) {
    let fid = smccc::function_id(frame.x[0]);
    let ret = match fid {
        smccc::PSCI_VERSION => smccc::PSCI_VERSION_1_1,
        smccc::PSCI_FEATURES => smccc::psci_features(frame.x[1] as u32),
        smccc::PSCI_MIGRATE_INFO_TYPE => smccc::MIGRATE_TYPE_NOT_PRESENT,
        smccc::PSCI_CPU_ON_64 => match cpu_on(frame.x[1], frame.x[2], frame.x[3]) {
            Ok(()) => 0,
            Err(e) => e.reg(),
        },
        smccc::PSCI_AFFINITY_INFO_64 => affinity_info(frame.x[1], frame.x[2]),
        smccc::PSCI_CPU_OFF => cpu_off(core),
        smccc::PSCI_SYSTEM_OFF => platform::system_off(),
        smccc::PSCI_SYSTEM_RESET => platform::system_reset(),
        _ => PsciError::NotSupported.reg(),
    };
    set_ret(frame, &[ret]);
}

/// MPIDR affinity fields PSCI accepts (Aff3 and Aff2..Aff0); other bits must be zero.
const MPIDR_AFFINITY: u64 = 0xff_00ff_ffff;

fn core_of(mpidr: u64) -> Option<usize> {
    if mpidr & !MPIDR_AFFINITY != 0 {
        return None;
    }
    BOARD.topology.core_index(mpidr)
}

/// CPU_ON (5.1.4): INVALID_PARAMETERS for an MPIDR that is not a core,
/// INVALID_ADDRESS for an entry outside Normal-world DRAM or unaligned,
/// ALREADY_ON / ON_PENDING from the core's state.
fn cpu_on(mpidr: u64, entry: u64, context_id: u64) -> Result<(), PsciError> {
    let core = core_of(mpidr).ok_or(PsciError::InvalidParameters)?;
    let in_ns_dram = BOARD.dram_bank_of(entry).is_some() && !BOARD.rmm.contains(entry);
    if !in_ns_dram || !entry.is_multiple_of(4) {
        return Err(PsciError::InvalidAddress);
    }
    PSCI.claim(core, NsEntry { entry, context_id })?;
    defmt::info!("psci: cpu_on core {=usize} at {=u64:#x}", core, entry);
    platform::power_on(core).inspect_err(|_| PSCI.abandon(core))
}

/// AFFINITY_INFO (5.1.5), level 0 only.
fn affinity_info(mpidr: u64, lowest_level: u64) -> u64 {
    match (core_of(mpidr), lowest_level) {
        (Some(core), 0) => PSCI
            .state(core)
            .map_or(PsciError::InvalidParameters.reg(), |s| s as u64),
        _ => PsciError::InvalidParameters.reg(),
    }
}

/// CPU_OFF (5.1.3): the core parks in the holding pen until CPU_ON again.
fn cpu_off(core: usize) -> u64 {
    if let Err(e) = PSCI.off(core) {
        return e.reg();
    }
    defmt::info!("psci: core {=usize} off", core);
    let Some(slot) = platform::pen_slot(core) else {
        platform::power_off_this_core(core)
    };
    platform::clear_pen(slot);
    load_controls(World::NonSecure);
    // SAFETY: the core leaves root's Rust code for good; the pen loop only
    // reads its pen word and restarts at the warm entry with a fresh stack.
    unsafe { crate::boot::root_park_in_pen(slot) }
}
