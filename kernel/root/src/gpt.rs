//! The GPT manager's home in root: the EL3 implementation of its
//! architecture operations, its table memory, and its IPC endpoint.

use crate::BOARD;
use crate::mmio::DeviceWindow;
use rampart_arch::{read_sysreg, write_sysreg};
use rampart_gpt::smmu::{SmmuRegs, enable_gpc};
use rampart_gpt::{GpcOps, GptManager};
use rampart_ipc::gpt::{GptProtocol, GptReply, GptRequest};
use rampart_ipc::{IpcError, Server, Transport};
use spin::Mutex;

/// GPCCR_EL3 / GPTBR_EL3 encodings (DDI0615).
const GPCCR_EL3: &str = "S3_6_C2_C1_6";
const GPTBR_EL3: &str = "S3_6_C2_C1_4";

/// The architecture operations at EL3.
pub struct El3Gpc;

impl GpcOps for El3Gpc {
    fn write_gptbr_el3(&mut self, value: u64) {
        write_sysreg!("S3_6_C2_C1_4", value);
        let _ = GPTBR_EL3;
    }
    fn write_gpccr_el3(&mut self, value: u64) {
        write_sysreg!("S3_6_C2_C1_6", value);
    }
    fn read_gpccr_el3(&mut self) -> u64 {
        let _ = GPCCR_EL3;
        read_sysreg!("S3_6_C2_C1_6")
    }
    fn dsb_osh(&mut self) {
        rampart_arch::dsb_osh();
    }
    fn dsb_sy(&mut self) {
        rampart_arch::dsb_sy();
    }
    fn isb(&mut self) {
        rampart_arch::isb();
    }
    fn tlbi_paallos(&mut self) {
        rampart_arch::tlbi_paallos();
    }
    fn tlbi_rpalos(&mut self, operand: u64) {
        rampart_arch::tlbi_rpalos(operand);
    }
    fn dc_cipapa(&mut self, operand: u64) {
        rampart_arch::dc_cipapa(operand);
    }
    fn dcache_line_size(&self) -> u64 {
        rampart_arch::cache_line_size() as u64
    }
}

type Manager = GptManager<'static, El3Gpc>;

/// The GPT service instance. Calls are serialised by this lock (the manager
/// rewrites whole level-1 descriptors, 16 granules each).
static GPT: Mutex<Option<Manager>> = Mutex::new(None);

/// Builds the GPT from the board's map and enables the GPC on the boot core.
///
/// When root is BL31, TF-A's BL2 has already built a GPT (on RD-V3 with its
/// level-1 tables in the same region the board gives root) and turned the
/// checks on; the manager turns them off before rewriting the tables.
pub fn init() {
    let tables = BOARD.gpt.tables;
    // SAFETY: the board reserves this Root-PAS range for the GPT alone; root
    // maps it read-write and nothing else in root refers to it, so the
    // slice is the only reference for the life of the firmware.
    let memory = unsafe {
        core::slice::from_raw_parts_mut(tables.base as *mut u64, (tables.size / 8) as usize)
    };
    match GptManager::new(&BOARD.gpt, BOARD.pas_map, memory, El3Gpc) {
        Ok(mut manager) => {
            if let Some(gpccr) = manager.replaced() {
                defmt::info!(
                    "gpt: replaced the GPT the previous stage enabled (GPCCR_EL3 was {=u64:#x})",
                    gpccr
                );
            }
            manager.enable();
            let layout = manager.layout();
            defmt::info!(
                "gpt: enabled, GPCCR_EL3={=u64:#x} GPTBR_EL3={=u64:#x}",
                read_sysreg!("S3_6_C2_C1_6"),
                layout.gptbr_el3()
            );
            *GPT.lock() = Some(manager);
        }
        Err(e) => panic!("gpt: cannot build the GPT from the board map: {:?}", e),
    }
}

/// An SMMU's page 0 and Root page, mapped as Root device memory by mmu::build.
struct MmioSmmu {
    page0: DeviceWindow,
    root: DeviceWindow,
}

impl SmmuRegs for MmioSmmu {
    fn page0_read32(&mut self, offset: usize) -> u32 {
        self.page0.read32(offset)
    }
    fn page0_write32(&mut self, offset: usize, value: u32) {
        self.page0.write32(offset, value)
    }
    fn root_read32(&mut self, offset: usize) -> u32 {
        self.root.read32(offset)
    }
    fn root_write32(&mut self, offset: usize, value: u32) {
        self.root.write32(offset, value)
    }
    fn root_write64(&mut self, offset: usize, value: u64) {
        self.root.write64(offset, value)
    }
}

/// Polls per SMMU wait: far longer than any acknowledgement takes, short
/// enough that a dead SMMU costs a moment of boot, not a hang.
const SMMU_SPINS: u32 = 1_000_000;

/// Turns on granule protection checks in the board's SMMUs with the GPT
/// the CPUs use. A failure is logged, not fatal, as on TF-A: devices
/// behind that SMMU then stay unchecked, which the log says.
pub fn enable_smmus() {
    let gpccr = read_sysreg!("S3_6_C2_C1_6");
    let gptbr = read_sysreg!("S3_6_C2_C1_4");
    for smmu in BOARD.gpc_smmus {
        let mut regs = MmioSmmu {
            page0: DeviceWindow { base: smmu.base },
            root: DeviceWindow {
                base: smmu.base + smmu.root_page_offset,
            },
        };
        match enable_gpc(&mut regs, gpccr, gptbr, SMMU_SPINS) {
            Ok(done) => defmt::info!("gpt: SMMU at {=u64:#x}: {}", smmu.base, done),
            Err(e) => defmt::warn!(
                "gpt: SMMU at {=u64:#x}: granule protection not enabled: {}",
                smmu.base,
                e
            ),
        }
    }
}

/// Enables the GPC on a secondary core with the tables the boot core built.
pub fn enable_this_core() {
    if let Some(manager) = GPT.lock().as_mut() {
        manager.enable();
    }
}

/// The kernel's IPC router: typed messages to the services root hosts,
/// each call traced (endpoint, request, reply).
pub struct Router;

impl Transport<GptProtocol> for Router {
    fn call(&mut self, request: GptRequest) -> Result<GptReply, IpcError> {
        let mut gpt = GPT.lock();
        let server = gpt.as_mut().ok_or(IpcError::NoServer)?;
        let reply = server.handle(request);
        defmt::debug!("ipc gpt: {} -> {}", request, reply);
        Ok(reply)
    }
}
