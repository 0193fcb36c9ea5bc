//! The RMM's services wired together on the host the way the R-EL2 kernel
//! wires them: a router that hands each typed request to the owning
//! service on the calling CPU, over the simulated machine (DRAM buffer,
//! fake GPC, EL3 GTSI). [`Rmm::rmi`] is the dispatcher: an SMC's
//! registers in, the RMI result registers out.

use rampart_board_host::sim::{FEATURES, Machine};
use rampart_board_host::{DRAM, RMM};
use rampart_granule::{Entry, GranuleService, Gst, entries_needed};
use rampart_ipc::granule::{GranuleProtocol, GranuleReply, GranuleRequest, GranuleState};
use rampart_ipc::realm::{RealmProtocol, RealmReply, RealmRequest};
use rampart_ipc::rmi::{self, Command};
use rampart_ipc::rtt::{RttProtocol, RttReply, RttRequest};
use rampart_ipc::smccc::SMC_UNKNOWN;
use rampart_ipc::{IpcError, Server, Transport};
use rampart_realm_svc::RealmService;
use rampart_realm_svc::vmid::VmidSet;
use rampart_rtt::{RttService, S2Tlb};

pub use rampart_board_host::sim;

/// Counts stage-2 invalidations (the simulated machine has no TLB).
#[derive(Clone, Copy, Default)]
pub struct NoTlb;

impl S2Tlb for NoTlb {
    fn invalidate_ipa(&mut self, _vmid: u16, _ipa: u64, _level: u8) {}
    fn invalidate_block(&mut self, _vmid: u16, _ipa: u64, _size: u64) {}
}

/// The simulated RMM: its GST, VMIDs and the machine.
pub struct Rmm {
    pub machine: Machine,
    table: Vec<Entry>,
    vmids: VmidSet,
}

impl Default for Rmm {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy)]
struct Router<'t> {
    gst: &'t Gst<'t>,
    vmids: &'t VmidSet,
    machine: &'t Machine,
}

impl Transport<GranuleProtocol> for Router<'_> {
    fn call(&mut self, r: GranuleRequest) -> Result<GranuleReply, IpcError> {
        Ok(GranuleService::new(self.gst, 0, self.machine.clone(), self.machine.clone()).handle(r))
    }
}

impl Transport<RealmProtocol> for Router<'_> {
    fn call(&mut self, r: RealmRequest) -> Result<RealmReply, IpcError> {
        Ok(RealmService::new(*self, self.machine.clone(), self.vmids, FEATURES).handle(r))
    }
}

impl Transport<RttProtocol> for Router<'_> {
    fn call(&mut self, r: RttRequest) -> Result<RttReply, IpcError> {
        Ok(RttService::new(*self, self.machine.clone(), NoTlb).handle(r))
    }
}

impl Rmm {
    pub fn new() -> Self {
        Self {
            machine: Machine::new(),
            table: (0..entries_needed(&[DRAM])).map(|_| Entry::new()).collect(),
            vmids: VmidSet::new(16),
        }
    }

    fn with_router<R>(&self, f: impl FnOnce(Router<'_>, &Gst<'_>) -> R) -> R {
        let gst = Gst::new(&[DRAM], &[RMM], &self.table).expect("gst");
        f(
            Router {
                gst: &gst,
                vmids: &self.vmids,
                machine: &self.machine,
            },
            &gst,
        )
    }

    /// One RMI call: x0-x7 in, x0-x4 out (SMC_UNKNOWN for what the
    /// dispatcher does not decode), exactly as the kernel's dispatcher.
    pub fn rmi(&self, regs: [u64; 8]) -> [u64; 5] {
        let Some(command) = Command::decode(&regs) else {
            return [SMC_UNKNOWN, 0, 0, 0, 0];
        };
        self.with_router(|mut router, _| rmi::call_owner(&mut router, command))
            .unwrap_or([SMC_UNKNOWN, 0, 0, 0, 0])
    }

    /// Convenience: an RMI call by FID and arguments.
    pub fn call(&self, fid: u32, args: &[u64]) -> [u64; 5] {
        let mut regs = [0u64; 8];
        regs[0] = u64::from(fid);
        regs[1..=args.len()].copy_from_slice(args);
        self.rmi(regs)
    }

    /// The GST's view of a granule.
    pub fn state(&self, addr: u64) -> Option<(GranuleState, u64)> {
        self.with_router(|_, gst| gst.query(addr))
    }

    pub fn vmid_in_use(&self, vmid: u16) -> bool {
        self.vmids.in_use(vmid)
    }
}
