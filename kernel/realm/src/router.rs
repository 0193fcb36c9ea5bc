//! The RMM's IPC router: it hosts the services (granule now; realm and
//! RTT join it) and delivers typed requests to them on the calling CPU,
//! tracing each call at debug level. Services reach each other only
//! through it.

use crate::slots::KernelLeases;
use rampart_arch::smc;
use rampart_board::Range;
use rampart_granule::{Entry, GranuleService, Gst, Gtsi};
use rampart_ipc::granule::{GranuleProtocol, GranuleReply, GranuleRequest};
use rampart_ipc::rmm_el3::{GTSI_DELEGATE, GTSI_UNDELEGATE, RmmEl3Status};
use rampart_ipc::{IpcError, Server, Transport};
use spin::Once;

static GST: Once<Gst<'static>> = Once::new();

/// Zeroes the GST memory and builds the table over the manifest's banks.
pub fn init_gst(heap: Range) {
    let count = (heap.size / 8) as usize;
    // SAFETY: `heap` is RMM-owned memory after the image, mapped read-write
    // by mmu::build and used for nothing else; zeroed before use.
    let entries = unsafe {
        core::ptr::write_bytes(heap.base as *mut u8, 0, heap.size as usize);
        core::slice::from_raw_parts(heap.base as *const Entry, count)
    };
    let platform = crate::PLATFORM.get().expect("platform");
    let reserved = [Range::new(crate::BOARD.rmm.base, crate::BOARD.rmm.size)];
    match Gst::new(&platform.manifest.dram, &reserved, entries) {
        Ok(gst) => {
            GST.call_once(|| gst);
        }
        Err(e) => panic!("rmm: cannot build the GST: {:?}", e),
    }
}

/// EL3's GTSI calls.
pub struct El3;

fn status(r: u64) -> RmmEl3Status {
    match r as i64 {
        0 => RmmEl3Status::Ok,
        -2 => RmmEl3Status::BadAddr,
        -3 => RmmEl3Status::BadPas,
        _ => RmmEl3Status::Unknown,
    }
}

impl Gtsi for El3 {
    fn delegate(&mut self, pa: u64) -> RmmEl3Status {
        status(smc([u64::from(GTSI_DELEGATE), pa, 0, 0, 0, 0, 0, 0]).0[0])
    }
    fn undelegate(&mut self, pa: u64) -> RmmEl3Status {
        status(smc([u64::from(GTSI_UNDELEGATE), pa, 0, 0, 0, 0, 0, 0]).0[0])
    }
}

/// The router as one CPU uses it.
#[derive(Clone, Copy)]
pub struct Router {
    pub cpu: usize,
}

impl Transport<GranuleProtocol> for Router {
    fn call(&mut self, request: GranuleRequest) -> Result<GranuleReply, IpcError> {
        let gst = GST.get().ok_or(IpcError::NoServer)?;
        let mut service =
            GranuleService::new(gst, self.cpu as u8, El3, KernelLeases { cpu: self.cpu });
        let reply = service.handle(request);
        defmt::debug!("ipc granule: {} -> {}", request, reply);
        Ok(reply)
    }
}
