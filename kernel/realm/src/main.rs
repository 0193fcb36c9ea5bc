//! Rampart RMM: the R-EL2 kernel.
//!
//! Boots through TF-A's RMM-EL3 interface on every CPU (checks the
//! interface version, CPU count and index, the shared buffer and the boot
//! manifest, then turns its MMU on with a map of only its image, stacks,
//! the shared page and the console), reports RMM_BOOT_COMPLETE, and then
//! serves RMI calls forwarded by EL3 for the rest of its life.
#![no_std]
#![no_main]

mod attest;
mod boot;
mod cpus;
mod mmu;
mod rmi;
mod router;
mod run;
mod simd;
mod slots;

use core::sync::atomic::{AtomicU32, Ordering};
use rampart_arch::{SmcResult, read_sysreg, smc};
use rampart_board::{BoardInfo, Range, RmmTrace};
use rampart_ipc::rmm_el3::{
    self, BOOT_COMPLETE, BootError, BootManifest, ColdBootArgs, REQ_COMPLETE, SHARED_PAGE_SIZE,
};
use rampart_ipc::smccc::SMC_UNKNOWN;
use rampart_ipc::trace::{FID_RING_REGISTER, RING_OK, Ring};
use rampart_kernel::pagetable::OutputPas;
use spin::Once;

#[cfg(feature = "fvp-rdv3")]
pub use rampart_board_fvp_rdv3::BOARD;
#[cfg(all(feature = "qemu-virt", not(feature = "fvp-rdv3")))]
pub use rampart_board_qemu_virt::BOARD;
#[cfg(not(any(feature = "qemu-virt", feature = "fvp-rdv3")))]
compile_error!("select a board feature: --features qemu-virt or --features fvp-rdv3");

/// CPUs the RMM has stacks for (cpus.rs): on qemu-virt TF-A's count too.
pub const MAX_CPUS: usize = cpus::rmm_max_cpus(board_cpus(&BOARD), !cfg!(feature = "fvp-rdv3"));
const fn board_cpus(b: &BoardInfo) -> usize {
    b.topology.cpu_count
}

/// Set once the boot CPU finished cold boot; read by the entry code (so it
/// must be in .data, which cold boot does not clear).
#[unsafe(no_mangle)]
#[unsafe(link_section = ".data.realm_cold_boot_done")]
static realm_cold_boot_done: AtomicU32 = AtomicU32::new(0);

/// What cold boot learnt from EL3, for the life of the RMM.
pub struct Platform {
    pub manifest: BootManifest,
    pub cpus: usize,
    pub shared_page: u64,
}

pub static PLATFORM: Once<Platform> = Once::new();

fn boot_complete(status: Result<(), BootError>, token: u64) -> SmcResult {
    let code = match status {
        Ok(()) => 0,
        Err(e) => e.reg(),
    };
    smc([u64::from(BOOT_COMPLETE), code, token, 0, 0, 0, 0, 0])
}

/// The RMM's trace ring (RmmTrace::RootRing): root drains it to its UART.
/// 16 KB holds what the RMM logs between two calls to EL3 many times over.
static TRACE_RING: Ring<{ 16 << 10 }> = Ring::new();

/// A UART the RMM writes its records to itself.
#[derive(Clone, Copy)]
pub struct TraceUart {
    pub base: u64,
    /// The PAS the RMM maps it in.
    pub pas: OutputPas,
    /// The NS lock word shared with the other writers of the UART.
    pub lock: Option<u64>,
}

#[derive(Clone, Copy)]
enum TraceSink {
    RootRing,
    Uart(TraceUart),
    None,
}

/// Where the RMM's trace goes (called once, at cold boot, with the MMU
/// off). With a ring board it registers the ring with EL3: root accepts
/// it; an EL3 without the call (TF-A's BL31) answers SMC_UNKNOWN, and the
/// RMM then writes the manifest's console itself, as an NS device shared
/// with the NS payload under the board's lock word. `console` is false
/// when the manifest offers none: then there is no fallback.
fn trace_sink(console: bool) -> TraceSink {
    let uart = |pas, lock| TraceUart {
        base: BOARD.rmm_console.base,
        pas,
        lock,
    };
    match BOARD.rmm_trace {
        RmmTrace::RootRing => {
            let ring = &raw const TRACE_RING as u64;
            let capacity = core::mem::size_of_val(&TRACE_RING.data) as u64;
            let r = smc([u64::from(FID_RING_REGISTER), ring, capacity, 0, 0, 0, 0, 0]);
            if r.0[0] == RING_OK {
                TraceSink::RootRing
            } else if r.0[0] == SMC_UNKNOWN && console {
                // An EL3 without the call: the manifest console is ours to
                // share. Root refusing the ring is no licence to write the
                // Normal world's console: then there is no sink.
                TraceSink::Uart(uart(OutputPas::NonSecure, BOARD.trace_lock))
            } else {
                TraceSink::None
            }
        }
        RmmTrace::RealmUart if console => TraceSink::Uart(uart(OutputPas::Realm, None)),
        RmmTrace::RealmUart => TraceSink::None,
    }
}

/// Cold boot checks (registers, then the manifest they point to).
fn cold_checks(core: u64, version: u64, cpus: u64, shared: u64) -> Result<BootManifest, BootError> {
    let args = ColdBootArgs {
        core,
        version,
        cpus,
        shared,
    };
    args.validate(
        MAX_CPUS as u64,
        Range::new(BOARD.rmm.base, BOARD.rmm.size),
        BOARD.rmm_shared_page,
    )?;
    // SAFETY: `validate` checked the page lies inside the RMM's own region;
    // with the MMU off it is read as device memory, byte by byte.
    let page = unsafe { &*(shared as *const [u8; SHARED_PAGE_SIZE]) };
    Ok(rmm_el3::parse_manifest(page, shared)?)
}

#[unsafe(no_mangle)]
extern "C" fn realm_cold_main(core: u64, version: u64, cpus: u64, shared: u64, token: u64) -> ! {
    let manifest = match cold_checks(core, version, cpus, shared) {
        Ok(m) => m,
        Err(e) => {
            // Nothing is mapped yet, so EL3 reports the code for us.
            boot_complete(Err(e), token);
            loop {
                rampart_arch::wfe();
            }
        }
    };
    let trace = trace_sink(!manifest.consoles.is_empty());
    // The GST lives in the RMM's region right after the image, sized from
    // the manifest's DRAM banks.
    let (_, _, _, image_end) = boot::image_layout();
    let gst_bytes = (rampart_granule::entries_needed(&manifest.dram) * 8) as u64;
    let heap = Range::new(image_end, (gst_bytes + 0xfff) & !0xfff);
    if heap.end() > BOARD.rmm_shared_page {
        boot_complete(Err(BootError::Unknown), token);
        loop {
            rampart_arch::wfe();
        }
    }
    let platform = PLATFORM.call_once(|| Platform {
        manifest,
        cpus: cpus as usize,
        shared_page: shared,
    });
    let uart = match trace {
        TraceSink::Uart(uart) => Some(uart),
        _ => None,
    };
    mmu::build(uart, heap);
    mmu::enable();
    match trace {
        TraceSink::RootRing => {
            rampart_kernel::trace::init_ring(rampart_ipc::trace::REALM, &TRACE_RING);
        }
        TraceSink::Uart(uart) => {
            // SAFETY: mmu::build mapped the UART as device memory and the
            // lock word, if any, as NS normal memory.
            unsafe {
                rampart_kernel::trace::init(
                    rampart_ipc::trace::REALM,
                    uart.base as usize,
                    uart.lock.unwrap_or(0) as usize,
                )
            };
        }
        TraceSink::None => {}
    }
    rampart_arch::write_sysreg!("tpidr_el2", core);
    // FP/SIMD for saving realms' state; SVE and SME open so that the
    // host's vector state survives RMI calls (simd.rs).
    rampart_arch::write_sysreg!("cptr_el2", simd::rmm_cptr_el2());
    rampart_arch::isb();
    router::init_gst(heap);
    attest::init(shared);
    let m = &platform.manifest;
    defmt::info!(
        "rampart rmm: interface {=u64:#x}, manifest {=u32:#x}, {=usize} CPUs, {=usize} DRAM bank(s), first {=u64:#x}+{=u64:#x}",
        version,
        m.version,
        platform.cpus,
        m.dram.len(),
        m.dram[0].base,
        m.dram[0].size
    );
    defmt::info!(
        "rmm: GST of {=usize} granules at {=u64:#x} ({=u64} KB)",
        rampart_granule::entries_needed(&m.dram),
        heap.base,
        heap.size / 1024
    );
    realm_cold_boot_done.store(1, Ordering::Release);
    // CPUs warm-booting later read the flag with their MMU off.
    rampart_arch::dc_civac_range(&raw const realm_cold_boot_done as usize, 4);
    serve(boot_complete(Ok(()), token))
}

#[unsafe(no_mangle)]
extern "C" fn realm_warm_main(core: u64, token: u64) -> ! {
    let known = PLATFORM.get().is_some_and(|p| (core as usize) < p.cpus);
    if !known {
        boot_complete(Err(BootError::CpuIdOutOfRange), token);
        loop {
            rampart_arch::wfe();
        }
    }
    mmu::enable();
    rampart_arch::write_sysreg!("tpidr_el2", core);
    // FP/SIMD for saving realms' state; SVE and SME open so that the
    // host's vector state survives RMI calls (simd.rs).
    rampart_arch::write_sysreg!("cptr_el2", simd::rmm_cptr_el2());
    rampart_arch::isb();
    defmt::info!("rmm: CPU {=u64} warm boot", core);
    serve(boot_complete(Ok(()), token))
}

/// The RMI loop: each SMC to EL3 returns with the next request in x0-x7;
/// the answer goes back in x1-x5 of RMM_RMI_REQ_COMPLETE.
fn serve(mut request: SmcResult) -> ! {
    loop {
        let r = rmi::dispatch(&request.0, current_cpu());
        request = smc([u64::from(REQ_COMPLETE), r[0], r[1], r[2], r[3], r[4], 0, 0]);
    }
}

/// This CPU's index (from TPIDR_EL2, set at boot to the index EL3 passed).
pub fn current_cpu() -> usize {
    read_sysreg!("tpidr_el2") as usize
}

/// Any exception taken at R-EL2: reported, then the CPU parks.
#[unsafe(no_mangle)]
extern "C" fn realm_exception(slot: u64) -> ! {
    panic!(
        "rmm exception slot {} ESR_EL2={:#x} ELR_EL2={:#x} FAR_EL2={:#x}",
        slot,
        read_sysreg!("esr_el2"),
        read_sysreg!("elr_el2"),
        read_sysreg!("far_el2")
    );
}

/// Logs the panic, has root drain the ring (when the trace goes through
/// one) and parks.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    rampart_kernel::trace::panic_and_park(info)
}
