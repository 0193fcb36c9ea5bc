//! The RMM's services wired together on the host the way the R-EL2 kernel
//! wires them: a router that hands each typed request to the owning
//! service on the calling CPU, over the simulated machine (DRAM buffer,
//! fake GPC, EL3 GTSI). [`Rmm::rmi`] is the dispatcher: an SMC's
//! registers in, the RMI result registers out. REC_ENTER runs the
//! kernel's REC loop with a scripted CPU: [`Rmm::set_guest`] installs the
//! guest, a closure that plays the realm (it edits the REC's context as
//! the realm's instructions would and returns the exception it takes).

use rampart_attest::keys::{self, Purpose};
use rampart_attest::p384::ecdsa::VerifyingKey;
use rampart_attest::platform::{self, Measurement, PlatformAttestation};
use rampart_attest::service::{AttestService, RealmAttestation, RealmKey};
use rampart_board_host::sim::{FEATURES, Machine};
use rampart_board_host::{BOARD, DEVELOPMENT_ATTESTATION_SECRET, DRAM, RMM};
use rampart_granule::{Entry, GranuleService, Gst, entries_needed};
use rampart_ipc::attest::{AttestProtocol, AttestReply, AttestRequest};
use rampart_ipc::granule::{GranuleProtocol, GranuleReply, GranuleRequest, GranuleState};
use rampart_ipc::lease::Leases;
use rampart_ipc::realm::{RealmProtocol, RealmReply, RealmRequest};
use rampart_ipc::rec::{RecContext, RecProtocol, RecReply, RecRequest, Trap, TrapKind};
use rampart_ipc::rmi::{self, Command};
use rampart_ipc::rtt::{RttProtocol, RttReply, RttRequest};
use rampart_ipc::smccc::SMC_UNKNOWN;
use rampart_ipc::{IpcError, Server, Transport};
use rampart_kernel::rec_loop::{Vcpu, rec_enter};
use rampart_realm_svc::RealmService;
use rampart_realm_svc::vmid::VmidSet;
use rampart_rec::gic::GicFeatures;
use rampart_rec::{CpuFeatures, RecService};
use rampart_rtt::{RttService, S2Tlb};
use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

pub use rampart_board_host::sim;

/// Counts stage-2 invalidations (the simulated machine has no TLB).
#[derive(Clone, Copy, Default)]
pub struct NoTlb;

impl S2Tlb for NoTlb {
    fn invalidate_ipa(&mut self, _vmid: u16, _ipa: u64, _level: u8) {}
    fn invalidate_block(&mut self, _vmid: u16, _ipa: u64, _size: u64) {}
}

/// The CPU features the simulated RMM offers realms: QEMU's GICv3 (4
/// list registers, 5 priority bits), 48-bit PAs, 16-bit VMIDs.
pub fn cpu_features() -> CpuFeatures {
    CpuFeatures {
        gic: GicFeatures::from_regs(0x9000_0003, 0),
        pa_range: 5,
        vmid16: true,
    }
}

/// The guest: called once per run of a REC with its context (as the
/// CPU would load it); returns the exception the realm takes.
pub type Guest = Box<dyn FnMut(u64, &mut RecContext) -> Trap>;

/// The simulated RMM: its GST, VMIDs and the machine.
pub struct Rmm {
    pub machine: Machine,
    table: Vec<Entry>,
    vmids: VmidSet,
    guest: RefCell<Option<Guest>>,
    /// How many times the host's state was saved and restored.
    pub host_switches: RefCell<(u32, u32)>,
    attestation: Cell<bool>,
}

/// Root's attestation service on the simulated board (its development
/// secret), as if it had measured these images at boot.
fn test_platform() -> &'static PlatformAttestation {
    static PLATFORM: OnceLock<PlatformAttestation> = OnceLock::new();
    PLATFORM.get_or_init(|| {
        let root = Measurement::of(platform::ROOT_COMPONENT, "test", b"host root");
        let rmm = Measurement::of(platform::RMM_COMPONENT, "test", b"host rmm");
        PlatformAttestation::for_board(&BOARD, root, rmm).expect("the host board attests")
    })
}

/// The platform key that signs the test platform token.
pub fn test_cpak() -> VerifyingKey {
    test_platform().cpak_public()
}

/// What the RMM would hold after boot on the simulated platform: the RAK
/// root derives for the test RMM image, and a platform token bound to it
/// that root's service signed with [`test_cpak`]. Built once (signing is
/// slow in debug builds).
pub fn test_attestation() -> &'static RealmAttestation {
    static ATTESTATION: OnceLock<RealmAttestation> = OnceLock::new();
    ATTESTATION.get_or_init(|| {
        let rmm = test_platform().components()[1];
        let rak = keys::derive(&DEVELOPMENT_ATTESTATION_SECRET, Purpose::Rak, &rmm.sha256);
        let key = RealmKey::from_scalar(&rak.to_bytes()).expect("RAK");
        let token = test_platform()
            .platform_token(&key.platform_challenge())
            .expect("platform token");
        RealmAttestation::new(key, token)
    })
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
    attestation: bool,
}

impl Transport<AttestProtocol> for Router<'_> {
    fn call(&mut self, r: AttestRequest) -> Result<AttestReply, IpcError> {
        let attestation = self.attestation.then(test_attestation);
        Ok(AttestService::new(self.machine.clone(), attestation).handle(r))
    }
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

impl Transport<RecProtocol> for Router<'_> {
    fn call(&mut self, r: RecRequest) -> Result<RecReply, IpcError> {
        // Through the wire encoding, as a service behind a boundary would get it.
        let r = rampart_ipc::decode(&rampart_ipc::encode(&r)?)?;
        Ok(RecService::new(*self, self.machine.clone(), cpu_features()).handle(r))
    }
}

/// The scripted CPU.
struct ScriptedCpu<'a> {
    rmm: &'a Rmm,
}

impl Vcpu for ScriptedCpu<'_> {
    fn save_host(&mut self) {
        self.rmm.host_switches.borrow_mut().0 += 1;
    }

    fn run(&mut self, rec: u64) -> Trap {
        let mut guest = self.rmm.guest.borrow_mut();
        let no_guest = Trap {
            kind: TrapKind::Irq,
            esr: 0,
            far: 0,
            hpfar: 0,
            irq_pending: false,
        };
        let Some(guest) = guest.as_mut() else {
            return no_guest;
        };
        let mut leases = self.rmm.machine.clone();
        leases
            .with_realm(rec, |g| guest(rec, RecContext::of_mut(g)))
            .unwrap_or(no_guest)
    }

    fn restore_host(&mut self) {
        self.rmm.host_switches.borrow_mut().1 += 1;
    }
}

impl Rmm {
    pub fn new() -> Self {
        Self {
            machine: Machine::new(),
            table: (0..entries_needed(&[DRAM])).map(|_| Entry::new()).collect(),
            vmids: VmidSet::new(16),
            guest: RefCell::new(None),
            host_switches: RefCell::new((0, 0)),
            attestation: Cell::new(true),
        }
    }

    /// Installs the guest that REC_ENTER runs.
    /// Boot without attestation (EL3 gave no key): tokens are refused.
    pub fn without_attestation(&self) {
        self.attestation.set(false);
    }

    pub fn set_guest(&self, guest: impl FnMut(u64, &mut RecContext) -> Trap + 'static) {
        *self.guest.borrow_mut() = Some(Box::new(guest));
    }

    /// A REC's context as stored in its granule.
    pub fn rec_context(&self, rec: u64) -> RecContext {
        let mut leases = self.machine.clone();
        leases
            .with_realm(rec, |g| *RecContext::of(g))
            .expect("REC granule")
    }

    fn with_router<R>(&self, f: impl FnOnce(Router<'_>, &Gst<'_>) -> R) -> R {
        let gst = Gst::new(&[DRAM], &[RMM], &self.table).expect("gst");
        f(
            Router {
                gst: &gst,
                vmids: &self.vmids,
                machine: &self.machine,
                attestation: self.attestation.get(),
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
        if let Command::RecEnter { rec, run } = command {
            let mut cpu = ScriptedCpu { rmm: self };
            return self.with_router(|mut router, _| rec_enter(&mut router, &mut cpu, rec, run));
        }
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

    /// Whether the simulated CPU still holds `addr`'s GST lock. Every
    /// command releases the locks it takes, so this is true only for a
    /// leak; the probe releases the lock so that a failing test does not
    /// spin in the next command.
    pub fn lock_leaked(&self, addr: u64) -> bool {
        self.with_router(|mut router, _| {
            Transport::<GranuleProtocol>::call(&mut router, GranuleRequest::Unlock { addr })
                == Ok(GranuleReply::Done)
        })
    }

    pub fn vmid_in_use(&self, vmid: u16) -> bool {
        self.vmids.in_use(vmid)
    }
}
