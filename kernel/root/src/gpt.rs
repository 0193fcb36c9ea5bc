//! The GPT manager's home in root: the EL3 implementation of its
//! architecture operations, its table memory, and its IPC endpoint.

use crate::BOARD;
use rampart_arch::{read_sysreg, write_sysreg};
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
