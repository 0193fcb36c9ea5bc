//! The REC service: Realm Execution Contexts. It owns every REC's state
//! (in the REC granule, leased per access), answers RMI_REC_CREATE,
//! REC_DESTROY, REC_AUX_COUNT, PSCI_COMPLETE and RTT_SET_RIPAS, and both
//! halves of RMI_REC_ENTER around the kernel's run loop: checking and
//! completing the host's entry record, then deciding for each exception
//! the realm takes whether the RMM handles it (RSI, PSCI, injected
//! aborts) or the host must (an exit record). RSI calls that belong to
//! other services become requests to them: measurements and the realm's
//! state to the realm service, IPA state and realm memory to the RTT
//! service.
//!
//! A REC being entered holds a reference (its GST refcount) for the whole
//! REC_ENTER instead of its lock: other CPUs see it busy (RMI_ERROR_REC
//! or, for PSCI_COMPLETE, RMI_ERROR_INPUT) and the REC service reads and
//! writes its context without the lock.
#![no_std]
#![forbid(unsafe_code)]

pub mod arch;
mod attest;
pub mod gic;
mod rsi;

use arch::*;
use gic::GicFeatures;
use rampart_ipc::attest::AttestProtocol;
use rampart_ipc::granule::{GranuleProtocol, GranuleReply, GranuleRequest, GranuleState};
use rampart_ipc::lease::{GRANULE_SIZE, Leases};
use rampart_ipc::realm::{RealmInfo, RealmProtocol, RealmReply, RealmRequest, RealmState};
use rampart_ipc::rec::{
    FLAG_EMULATABLE, FLAG_HOST_CALL, FLAG_PSCI_PENDING, FLAG_RUNNABLE, PendingExit, RecContext,
    RecProtocol, RecReply, RecRequest, Trap, TrapKind, timer_asserted,
};
use rampart_ipc::rec_abi::{self, RecEntry, RecExit, RecParams, entry, exit};
use rampart_ipc::rmi::{Command, Outputs, RmiError, RmiResult};
use rampart_ipc::rtt::{Lookup, RttProtocol, RttReply, RttRequest};
use rampart_ipc::{Server, Transport};

pub(crate) const GRANULE: u64 = GRANULE_SIZE as u64;

/// Auxiliary granules per REC (RMI_REC_AUX_COUNT): the REC's FP/SIMD
/// state, then its attestation claims and token (ipc::attest).
pub const AUX_COUNT: u64 =
    (rampart_ipc::attest::TOKEN_AUX + rampart_ipc::attest::TOKEN_GRANULES) as u64;

/// The services the REC service calls.
pub trait RecRouter:
    Transport<GranuleProtocol>
    + Transport<RealmProtocol>
    + Transport<RttProtocol>
    + Transport<AttestProtocol>
{
}

impl<T> RecRouter for T where
    T: Transport<GranuleProtocol>
        + Transport<RealmProtocol>
        + Transport<RttProtocol>
        + Transport<AttestProtocol>
{
}

/// Most RECs a realm may have: the RD's reference count (one per REC)
/// stays within 2^MAX_RECS_ORDER - 1.
pub const MAX_RECS_ORDER: u8 = 10;
const MAX_RECS: u64 = (1 << MAX_RECS_ORDER) - 1;

/// PSCI return codes a REC sees.
pub mod psci_status {
    pub const SUCCESS: u64 = 0;
    pub const NOT_SUPPORTED: u64 = -1i64 as u64;
    pub const INVALID_PARAMS: u64 = -2i64 as u64;
    pub const DENIED: u64 = -3i64 as u64;
    pub const ALREADY_ON: u64 = -4i64 as u64;
    pub const INVALID_ADDRESS: u64 = -9i64 as u64;
    pub const AFFINITY_ON: u64 = 0;
    pub const AFFINITY_OFF: u64 = 1;
}

/// What the CPU offers realms, fixed at boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuFeatures {
    pub gic: GicFeatures,
    /// ID_AA64MMFR0_EL1.PARange.
    pub pa_range: u8,
    pub vmid16: bool,
}

/// Why a check failed: the RMI status to return.
type Step<T> = Result<T, RmiError>;

fn input<T>() -> Step<T> {
    Err(RmiError::Input)
}

pub struct RecService<T, L> {
    router: T,
    leases: L,
    cpu: CpuFeatures,
}

impl<T, L> RecService<T, L>
where
    T: RecRouter,
    L: Leases,
{
    pub fn new(router: T, leases: L, cpu: CpuFeatures) -> Self {
        Self {
            router,
            leases,
            cpu,
        }
    }

    // ---- RMI ---------------------------------------------------------------

    /// RMI_REC_CREATE (RMM spec 1.0, B4.3.12), in TF-RMM's order: params
    /// (NS, readable), num_aux bound, each aux DELEGATED (then REC_AUX, so
    /// aliases among them fail), rec and rd (DELEGATED / RD; an alias
    /// fails) — all RMI_ERROR_INPUT —, too many RECs and realm not NEW
    /// (RMI_ERROR_REALM), MPIDR invalid or not the next REC index, and
    /// num_aux != RMI_REC_AUX_COUNT (RMI_ERROR_INPUT). A runnable REC
    /// extends the RIM (RmmMeasurementDescriptorRec). Any failure returns
    /// the aux granules to DELEGATED.
    pub fn create(&mut self, rd: u64, rec: u64, params_addr: u64) -> RmiResult<Outputs> {
        let params = self.read_params(params_addr)?;
        let num_aux = params.num_aux;
        if num_aux > rec_abi::MAX_AUX as u64 {
            return input();
        }
        let aux = &params.aux[..num_aux as usize];
        for (i, &a) in aux.iter().enumerate() {
            if !self.lock(a, GranuleState::Delegated) {
                self.free_aux(&aux[..i]);
                return input();
            }
            self.set_state(a, GranuleState::RecAux);
            self.unlock(a);
        }
        let result = self.create_locked(rd, rec, &params);
        if result.is_err() {
            self.free_aux(aux);
        }
        result
    }

    fn create_locked(&mut self, rd: u64, rec: u64, params: &RecParams) -> RmiResult<Outputs> {
        if rd == rec || !self.lock(rd, GranuleState::Rd) {
            return input();
        }
        if !self.lock(rec, GranuleState::Delegated) {
            self.unlock(rd);
            return input();
        }
        let result = self.create_checked(rd, rec, params);
        if result.is_ok() {
            self.set_state(rec, GranuleState::Rec);
        }
        self.unlock(rec);
        self.unlock(rd);
        result
    }

    fn create_checked(&mut self, rd: u64, rec: u64, p: &RecParams) -> RmiResult<Outputs> {
        if self.refcount(rd)? >= MAX_RECS {
            return Err(RmiError::Realm(0));
        }
        let info = self.realm_info(rd)?;
        if info.state != RealmState::New {
            return Err(RmiError::Realm(0));
        }
        if !rmi_mpidr_valid(p.mpidr) || rmi_mpidr_index(p.mpidr) != u64::from(info.rec_count) {
            return input();
        }
        if p.num_aux != AUX_COUNT {
            return input();
        }
        let runnable = p.flags & rec_abi::params::FLAG_RUNNABLE != 0;
        let cpu = self.cpu;
        self.leases
            .with_realm(rec, |g| {
                let ctx = RecContext::of_mut(g);
                ctx.gprs[..8].copy_from_slice(&p.gprs);
                ctx.pc = p.pc;
                ctx.pstate = PSTATE_RESET;
                ctx.el1.sctlr_el1 = SCTLR_EL1_RESET;
                ctx.gic.hcr = gic::HCR_INIT;
                ctx.hcr = HCR_REALM;
                ctx.vttbr = info.rtt_base | u64::from(info.vmid) << 48;
                ctx.vtcr = vtcr(info.s2sz, info.rtt_level_start, cpu.pa_range, cpu.vmid16);
                ctx.vmpidr = vmpidr(p.mpidr);
                ctx.fp_state = p.aux[0];
                ctx.rd = rd;
                ctx.mpidr = p.mpidr;
                ctx.index = u64::from(info.rec_count);
                ctx.flags = if runnable { FLAG_RUNNABLE } else { 0 };
                ctx.ipa_width = u64::from(info.s2sz);
                ctx.hash_algo = info.hash as u64;
                ctx.num_aux = p.num_aux;
                ctx.aux = p.aux;
            })
            .map_err(|_| RmiError::Input)?;
        if runnable {
            let measure = RealmRequest::MeasureRec {
                rd,
                flags: p.flags,
                pc: p.pc,
                gprs: p.gprs,
            };
            if self.realm(measure) != Some(RealmReply::Done) {
                self.scrub(rec);
                return input();
            }
        }
        self.add_ref(rd, 1);
        self.realm(RealmRequest::AddRec { rd });
        Ok(Outputs::NONE)
    }

    /// RMI_REC_DESTROY (B4.3.13): rec_align/bound/state (RMI_ERROR_INPUT),
    /// then a REC being entered on some CPU (RMI_ERROR_REC). The REC and
    /// its aux granules are scrubbed back to DELEGATED and the RD's REC
    /// count drops.
    pub fn destroy(&mut self, rec: u64) -> RmiResult<Outputs> {
        if !self.lock(rec, GranuleState::Rec) {
            return input();
        }
        if self.refcount(rec)? != 0 {
            self.unlock(rec);
            return Err(RmiError::Rec(0));
        }
        let Ok((rd, aux, num_aux)) = self.leases.with_realm(rec, |g| {
            let c = RecContext::of(g);
            (c.rd, c.aux, c.num_aux as usize)
        }) else {
            self.unlock(rec);
            return input();
        };
        self.free_aux(&aux[..num_aux.min(rec_abi::MAX_AUX)]);
        self.set_state(rec, GranuleState::Delegated);
        self.unlock(rec);
        // RD after REC would break the lock order: the REC is gone, so the
        // RD's count may lag for this moment.
        if self.lock(rd, GranuleState::Rd) {
            self.add_ref(rd, -1);
            self.unlock(rd);
        }
        Ok(Outputs::NONE)
    }

    /// RMI_REC_AUX_COUNT (B4.3.11): rd_align/bound/state (RMI_ERROR_INPUT).
    pub fn aux_count(&mut self, rd: u64) -> RmiResult<Outputs> {
        if !self.lock(rd, GranuleState::Rd) {
            return input();
        }
        self.unlock(rd);
        Ok(Outputs::one(AUX_COUNT))
    }

    /// RMI_PSCI_COMPLETE (B4.3.7), in TF-RMM's order: both RECs aligned,
    /// distinct and in state REC (RMI_ERROR_INPUT), the calling REC not
    /// running elsewhere, with a PSCI request pending, of the same realm as
    /// the target, whose MPIDR the request named, and a status the request
    /// allows (CPU_ON: SUCCESS or DENIED; AFFINITY_INFO: SUCCESS) — all
    /// RMI_ERROR_INPUT. CPU_ON of a target that is on, answered DENIED,
    /// is RMI_ERROR_INPUT too (TF-RMM still completes the call then; this
    /// RMM changes nothing on any error).
    pub fn psci_complete(&mut self, calling: u64, target: u64, status: u64) -> RmiResult<Outputs> {
        if !calling.is_multiple_of(GRANULE) || !target.is_multiple_of(GRANULE) || calling == target
        {
            return input();
        }
        let (first, second) = if calling < target {
            (calling, target)
        } else {
            (target, calling)
        };
        if !self.lock(first, GranuleState::Rec) {
            return input();
        }
        if !self.lock(second, GranuleState::Rec) {
            self.unlock(first);
            return input();
        }
        let result = self.psci_complete_locked(calling, target, status);
        self.unlock(second);
        self.unlock(first);
        result
    }

    fn psci_complete_locked(
        &mut self,
        calling: u64,
        target: u64,
        status: u64,
    ) -> RmiResult<Outputs> {
        use psci_status::*;
        use rampart_ipc::smccc::{PSCI_AFFINITY_INFO_64, PSCI_CPU_ON_64};
        if self.refcount(calling)? != 0 {
            return input();
        }
        let caller = self.context(calling)?;
        let target_ctx = self.context(target)?;
        if !caller.has(FLAG_PSCI_PENDING)
            || caller.rd != target_ctx.rd
            || mpidr_index(caller.gprs[1]) != target_ctx.index
        {
            return input();
        }
        let target_on = self.refcount(target)? != 0 || target_ctx.has(FLAG_RUNNABLE);
        // As the realm called it: SMC32 or SMC64, the SVE hint bit ignored.
        let fid = caller.gprs[0] as u32 & !(1 << 16);
        let answer = match fid & !(1 << 30) {
            f if f == PSCI_CPU_ON_64 & !(1 << 30) => {
                if status != SUCCESS && status != DENIED {
                    return input();
                }
                if target_on {
                    if status == DENIED {
                        return input();
                    }
                    ALREADY_ON
                } else if status == DENIED {
                    DENIED
                } else {
                    let (entry, context) = (caller.gprs[2], caller.gprs[3]);
                    let ee = caller.el1.sctlr_el1 & SCTLR_EE;
                    self.update(target, |t| {
                        t.pstate = PSTATE_RESET;
                        t.el1.sctlr_el1 = SCTLR_EL1_RESET | ee;
                        t.gprs[0] = context;
                        t.pc = entry;
                        t.flags |= FLAG_RUNNABLE;
                    })?;
                    SUCCESS
                }
            }
            f if f == PSCI_AFFINITY_INFO_64 & !(1 << 30) => {
                if status != SUCCESS {
                    return input();
                }
                if target_on { AFFINITY_ON } else { AFFINITY_OFF }
            }
            _ => return input(),
        };
        self.update(calling, |c| {
            c.gprs[0] = answer;
            c.gprs[1..4].fill(0);
            c.flags &= !FLAG_PSCI_PENDING;
        })?;
        Ok(Outputs::NONE)
    }

    /// RMI_RTT_SET_RIPAS (B4.3.19), in TF-RMM's order: `top <= base`
    /// (RMI_ERROR_INPUT); rd and rec (RD / REC, distinct:
    /// RMI_ERROR_INPUT); the REC being entered elsewhere or of another
    /// realm (RMI_ERROR_REC); `base` not where the REC's pending request
    /// has got to or `top` beyond its end (RMI_ERROR_INPUT); then the RTT
    /// walk (see the RTT service). On success the request's progress
    /// moves to X1.
    pub fn set_ripas(&mut self, rd: u64, rec: u64, base: u64, top: u64) -> RmiResult<Outputs> {
        // A `top` that is not granule-aligned is bad input before any
        // table is walked (B4.3.19, top_align).
        if top <= base
            || !top.is_multiple_of(GRANULE)
            || rd == rec
            || !self.lock(rd, GranuleState::Rd)
        {
            return input();
        }
        if !self.lock(rec, GranuleState::Rec) {
            self.unlock(rd);
            return input();
        }
        let result = self.set_ripas_locked(rd, rec, base, top);
        self.unlock(rec);
        self.unlock(rd);
        result
    }

    fn set_ripas_locked(&mut self, rd: u64, rec: u64, base: u64, top: u64) -> RmiResult<Outputs> {
        if self.refcount(rec)? != 0 {
            return Err(RmiError::Rec(0));
        }
        let ctx = self.context(rec)?;
        if ctx.rd != rd {
            return Err(RmiError::Rec(0));
        }
        if ctx.ripas_top == ctx.ripas_base || base != ctx.ripas_addr || top > ctx.ripas_top {
            return input();
        }
        let request = RttRequest::SetRipas {
            rd,
            base,
            top,
            ripas: ctx.ripas_value as u8,
            change_destroyed: ctx.ripas_flags & rampart_ipc::rsi::CHANGE_DESTROYED != 0,
        };
        let regs = match Transport::<RttProtocol>::call(&mut self.router, request) {
            Ok(RttReply::Regs(regs)) => regs,
            _ => return input(),
        };
        if regs[0] != rampart_ipc::rmi::SUCCESS {
            return Err(RmiError::from_reg(regs[0]));
        }
        self.update(rec, |c| c.ripas_addr = regs[1])?;
        Ok(Outputs::one(regs[1]))
    }

    // ---- REC_ENTER -----------------------------------------------------------

    /// RMI_REC_ENTER (B4.3.14), up to running the REC, in TF-RMM's order:
    /// run granule NS (RMI_ERROR_INPUT); rec aligned, in state REC
    /// (RMI_ERROR_INPUT) and not being entered elsewhere (RMI_ERROR_REC);
    /// the entry record readable (RMI_ERROR_INPUT); realm NEW
    /// (RMI_ERROR_REALM index 0) or SYSTEM_OFF (index 1); REC not runnable
    /// or with a PSCI request pending (RMI_ERROR_REC); the GIC state
    /// invalid, an SEA to inject that the last exit does not allow, or an
    /// MMIO completion the last exit does not allow (RMI_ERROR_REC). Every
    /// check runs before anything changes. Then the last exit is completed
    /// (SEA injected, emulated MMIO read value written back, RIPAS change
    /// answered, host call results copied back) and the host's GIC state
    /// and WFx traps are taken.
    ///
    /// Ok(true): run the REC. Ok(false): the REC must not run (a host call
    /// whose buffer the host unmapped: the exit record already says so).
    pub fn enter(&mut self, rec: u64, run: u64) -> RmiResult<bool> {
        if !self.is_ns(run) {
            return input();
        }
        if !self.lock(rec, GranuleState::Rec) {
            return input();
        }
        if self.refcount(rec)? != 0 {
            self.unlock(rec);
            return Err(RmiError::Rec(0));
        }
        self.add_ref(rec, 1);
        self.unlock(rec);
        let result = self.enter_claimed(rec, run);
        if result.is_err() {
            self.release(rec);
        }
        result
    }

    fn enter_claimed(&mut self, rec: u64, run: u64) -> RmiResult<bool> {
        let mut bytes = [0u8; RecEntry::SIZE];
        if self.leases.read_ns(run, 0, &mut bytes).is_err() {
            return input();
        }
        let host = RecEntry::read(&bytes);
        let mut ctx = self.context(rec)?;
        match self.realm_info(ctx.rd)?.state {
            RealmState::New => return Err(RmiError::Realm(0)),
            RealmState::SystemOff => return Err(RmiError::Realm(1)),
            RealmState::Active => {}
        }
        if !ctx.has(FLAG_RUNNABLE) || ctx.has(FLAG_PSCI_PENDING) {
            return Err(RmiError::Rec(0));
        }
        if !self.cpu.gic.validate(&host) {
            return Err(RmiError::Rec(0));
        }
        let sea = host.flags & entry::FLAG_INJECT_SEA != 0;
        let emulated_mmio = host.flags & entry::FLAG_EMUL_MMIO != 0 && !sea;
        let last_is_data_abort = ec(ctx.last_esr) == EC_DABT_LOWER;
        if sea && (!last_is_data_abort || self.protected(&ctx, hpfar_ipa(ctx.last_hpfar))) {
            return Err(RmiError::Rec(0));
        }
        if emulated_mmio && !ctx.has(FLAG_EMULATABLE) {
            return Err(RmiError::Rec(0));
        }

        self.cpu.gic.apply_entry(&mut ctx.gic, &host);
        if sea {
            let (esr, far) = (ctx.last_esr, ctx.last_far);
            inject_sea(&mut ctx, esr, far);
        } else if emulated_mmio {
            complete_mmio(&mut ctx, host.gprs[0]);
        }
        if ctx.ripas_top != ctx.ripas_base {
            complete_ripas_change(&mut ctx, host.flags & entry::FLAG_RIPAS_RESPONSE != 0);
        }
        let mut run_it = true;
        if ctx.has(FLAG_HOST_CALL) {
            run_it = self.complete_host_call(&mut ctx, &host);
        }
        ctx.last_esr = 0;
        ctx.last_far = 0;
        ctx.last_hpfar = 0;
        ctx.flags &= !FLAG_EMULATABLE;
        ctx.hcr = HCR_REALM
            | if host.flags & entry::FLAG_TRAP_WFI != 0 {
                HCR_TWI
            } else {
                0
            }
            | if host.flags & entry::FLAG_TRAP_WFE != 0 {
                HCR_TWE
            } else {
                0
            };
        self.store(rec, &ctx)?;
        Ok(run_it)
    }

    /// Copies the host's GPRs into the realm's RsiHostCall and completes
    /// the call. False when the buffer is no longer mapped: the exit record
    /// then reports a stage-2 fault on it and the REC does not run.
    fn complete_host_call(&mut self, ctx: &mut RecContext, host: &RecEntry) -> bool {
        use rampart_ipc::rsi::host_call;
        let ipa = ctx.gprs[1];
        let page = ipa & !(GRANULE - 1);
        match self.pin(ctx.rd, page) {
            Ok(pa) => {
                let offset = (ipa - page) as usize;
                let wrote = self.leases.with_realm(pa, |g| {
                    for (i, r) in host.gprs.iter().enumerate() {
                        g.set_u64_at(offset + host_call::GPRS + 8 * i, *r);
                    }
                });
                self.unpin(pa);
                ctx.gprs[0] = if wrote.is_ok() {
                    rampart_ipc::rsi::SUCCESS
                } else {
                    rampart_ipc::rsi::ERROR_INPUT
                };
            }
            Err(None) => ctx.gprs[0] = rampart_ipc::rsi::ERROR_INPUT,
            Err(Some(level)) => {
                stage2_abort(ctx, page, level);
                return false;
            }
        }
        ctx.flags &= !FLAG_HOST_CALL;
        true
    }

    /// One exception the realm took: handled here (RSI, PSCI, injected
    /// aborts: run again) or an exit to the host.
    pub fn trap(&mut self, rec: u64, trap: Trap) -> RecReply {
        let Ok(mut ctx) = self.context(rec) else {
            return RecReply::Exit;
        };
        let resume = match trap.kind {
            TrapKind::Sync => self.sync_exception(&mut ctx, &trap),
            TrapKind::Irq | TrapKind::TimerChange => {
                ctx.exit.reason = exit::IRQ;
                false
            }
            TrapKind::Fiq => {
                ctx.exit.reason = exit::FIQ;
                false
            }
            TrapKind::SError => {
                ctx.exit.reason = exit::SERROR;
                ctx.exit.esr = trap.esr & SERROR_MASK;
                false
            }
        };
        if !resume && matches!(trap.kind, TrapKind::Sync | TrapKind::SError) {
            ctx.last_esr = trap.esr;
            ctx.last_far = trap.far;
            ctx.last_hpfar = trap.hpfar;
        }
        if self.store(rec, &ctx).is_err() {
            return RecReply::Exit;
        }
        if resume {
            RecReply::Resume
        } else {
            RecReply::Exit
        }
    }

    /// A synchronous exception from the realm (A7.1-A7.4). True: resume it.
    fn sync_exception(&mut self, ctx: &mut RecContext, trap: &Trap) -> bool {
        let esr = trap.esr;
        ctx.exit.reason = exit::SYNC;
        match ec(esr) {
            EC_WFX => {
                ctx.exit.esr = esr & (EC_MASK | WFX_TI);
                ctx.pc = ctx.pc.wrapping_add(4);
                false
            }
            EC_SMC64 => self.smc(ctx, trap.irq_pending),
            EC_IABT_LOWER => self.instruction_abort(ctx, trap),
            EC_DABT_LOWER => self.data_abort(ctx, trap),
            // HVC, trapped system registers, SVE/SME without SVE for the
            // realm, anything else: UNDEFINED at the realm's EL1.
            _ => {
                inject_undef(ctx);
                true
            }
        }
    }

    /// An external abort the realm's access caused: the host hears of it
    /// (non-emulatable syndrome); a recoverable one is also injected.
    fn external_abort(&mut self, ctx: &mut RecContext, trap: &Trap) -> Option<bool> {
        let fsc = trap.esr & FSC_MASK;
        if fsc != FSC_SEA && !(0x13..=0x17).contains(&fsc) {
            return None;
        }
        ctx.exit.esr = trap.esr & NONEMULATED_ABORT_MASK;
        if trap.esr & SET_MASK == 0 {
            // Recoverable (UER): the realm sees it too.
            inject_sea(ctx, trap.esr, trap.far);
        }
        Some(false)
    }

    /// Data abort at stage 2 (A7.2.1/A7.3): an IPA beyond the realm's IPA
    /// space or Protected with RIPAS EMPTY gives the realm an SEA; any
    /// other Protected IPA exits with the non-emulatable syndrome; an
    /// Unprotected one exits emulatable, with FAR's page offset cleared
    /// and, for a write, the value written in X0 of the exit.
    fn data_abort(&mut self, ctx: &mut RecContext, trap: &Trap) -> bool {
        if let Some(resume) = self.external_abort(ctx, trap) {
            return resume;
        }
        let ipa = hpfar_ipa(trap.hpfar) | (trap.far & (GRANULE - 1));
        let page = ipa & !(GRANULE - 1);
        if page >> ctx.ipa_width != 0 || self.ripas_is_empty(ctx, page) {
            inject_sea(ctx, trap.esr, trap.far);
            return true;
        }
        ctx.exit.hpfar = trap.hpfar;
        if self.protected(ctx, page) {
            ctx.exit.esr = trap.esr & NONEMULATED_ABORT_MASK;
            ctx.exit.far = 0;
            return false;
        }
        let mut esr = trap.esr & EMULATED_ABORT_MASK;
        if esr & ISV == 0 {
            esr &= NONEMULATED_ABORT_MASK;
        } else {
            ctx.flags |= FLAG_EMULATABLE;
        }
        if esr & ISV != 0 && trap.esr & WNR != 0 {
            let rt = srt(trap.esr);
            ctx.exit.gprs[0] = if rt == 31 {
                0
            } else {
                ctx.gprs[rt] & access_mask(trap.esr)
            };
        }
        ctx.exit.esr = esr;
        // Only the offset within the page: the rest of the realm's virtual
        // address is not the host's to see (HPFAR gives it the IPA page).
        ctx.exit.far = trap.far & (GRANULE - 1);
        false
    }

    /// Instruction abort at stage 2: fetching from beyond the IPA space,
    /// from Unprotected memory or from RIPAS EMPTY gives the realm an SEA;
    /// a translation fault on Protected memory exits to the host.
    fn instruction_abort(&mut self, ctx: &mut RecContext, trap: &Trap) -> bool {
        if let Some(resume) = self.external_abort(ctx, trap) {
            return resume;
        }
        let page = hpfar_ipa(trap.hpfar);
        if page >> ctx.ipa_width != 0
            || !self.protected(ctx, page)
            || self.ripas_is_empty(ctx, page)
        {
            inject_sea(ctx, trap.esr, trap.far);
            return true;
        }
        ctx.exit.hpfar = trap.hpfar;
        ctx.exit.esr = trap.esr & NONEMULATED_ABORT_MASK;
        false
    }

    /// Writes the exit record into the host's run granule and releases the
    /// REC (RMI_REC_ENTER's end). An exit record the host's granule no
    /// longer takes is RMI_ERROR_INPUT.
    pub fn finish(&mut self, rec: u64, run: u64) -> RmiResult<Outputs> {
        let result = self.finish_claimed(rec, run);
        self.release(rec);
        result
    }

    fn finish_claimed(&mut self, rec: u64, run: u64) -> RmiResult<Outputs> {
        let mut ctx = self.context(rec)?;
        let (lrs, hcr, misr, vmcr) = self.cpu.gic.exit_view(&ctx.gic);
        let t = ctx.timer;
        let e = ctx.exit;
        let record = RecExit {
            reason: e.reason,
            esr: e.esr,
            far: e.far,
            hpfar: e.hpfar,
            gprs: e.gprs,
            gicv3_hcr: hcr,
            gicv3_lrs: lrs,
            gicv3_misr: misr,
            gicv3_vmcr: vmcr,
            cntp_ctl: t.cntp_ctl,
            cntp_cval: t.cntp_cval,
            cntv_ctl: t.cntv_ctl,
            cntv_cval: t.cntv_cval.wrapping_sub(t.cntvoff),
            ripas_base: e.ripas_base,
            ripas_top: e.ripas_top,
            ripas_value: e.ripas_value as u8,
            imm: e.imm as u32,
            pmu_ovf_status: 0,
        };
        ctx.timers_reported =
            u64::from(timer_asserted(t.cntv_ctl)) | u64::from(timer_asserted(t.cntp_ctl)) << 1;
        ctx.exit = PendingExit::default();
        self.store(rec, &ctx)?;
        self.leases
            .write_ns(run, exit::BASE, &record.to_bytes())
            .map_err(|_| RmiError::Input)?;
        Ok(Outputs::NONE)
    }

    // ---- helpers -------------------------------------------------------------

    fn read_params(&mut self, addr: u64) -> Step<RecParams> {
        if !self.is_ns(addr) {
            return input();
        }
        let mut bytes = [0u8; RecParams::SIZE];
        self.leases
            .read_ns(addr, 0, &mut bytes)
            .map_err(|_| RmiError::Input)?;
        Ok(RecParams::from_bytes(&bytes))
    }

    /// Returns aux granules to DELEGATED (scrubbed on the way).
    fn free_aux(&mut self, aux: &[u64]) {
        for &a in aux {
            if self.lock(a, GranuleState::RecAux) {
                self.set_state(a, GranuleState::Delegated);
                self.unlock(a);
            }
        }
    }

    fn scrub(&mut self, rec: u64) {
        let _ = self.leases.with_realm(rec, |g| g.0.fill(0));
    }

    /// Drops the reference REC_ENTER took.
    fn release(&mut self, rec: u64) {
        if self.lock(rec, GranuleState::Rec) {
            self.add_ref(rec, -1);
            self.unlock(rec);
        }
    }

    fn context(&mut self, rec: u64) -> Step<RecContext> {
        self.leases
            .with_realm(rec, |g| *RecContext::of(g))
            .map_err(|_| RmiError::Input)
    }

    fn store(&mut self, rec: u64, ctx: &RecContext) -> Step<()> {
        self.leases
            .with_realm(rec, |g| *RecContext::of_mut(g) = *ctx)
            .map_err(|_| RmiError::Input)
    }

    fn update(&mut self, rec: u64, f: impl FnOnce(&mut RecContext)) -> Step<()> {
        self.leases
            .with_realm(rec, |g| f(RecContext::of_mut(g)))
            .map_err(|_| RmiError::Input)
    }

    /// AddrIsProtected for this REC's realm.
    fn protected(&self, ctx: &RecContext, ipa: u64) -> bool {
        ipa < 1 << (ctx.ipa_width - 1)
    }

    fn ripas_is_empty(&mut self, ctx: &RecContext, page: u64) -> bool {
        self.protected(ctx, page)
            && matches!(
                self.lookup(ctx.rd, page, false),
                Some(Lookup {
                    pa: None,
                    ripas: 0,
                    ..
                })
            )
    }

    fn lookup(&mut self, rd: u64, ipa: u64, pin: bool) -> Option<Lookup> {
        match Transport::<RttProtocol>::call(&mut self.router, RttRequest::Lookup { rd, ipa, pin })
        {
            Ok(RttReply::Lookup(found)) => Some(found),
            _ => None,
        }
    }

    /// The PA of a Protected RAM page, its DATA granule locked. Err(None):
    /// RIPAS EMPTY (or not a realm page); Err(Some(level)): RIPAS RAM or
    /// DESTROYED without a granule (a stage-2 fault for the host).
    fn pin(&mut self, rd: u64, page: u64) -> Result<u64, Option<i8>> {
        match self.lookup(rd, page, true) {
            Some(Lookup { pa: Some(pa), .. }) => Ok(pa),
            Some(Lookup { ripas: 0, .. }) | None => Err(None),
            Some(Lookup { level, .. }) => Err(Some(level)),
        }
    }

    fn unpin(&mut self, pa: u64) {
        self.unlock(pa);
    }

    fn realm_info(&mut self, rd: u64) -> Step<RealmInfo> {
        match self.realm(RealmRequest::Info { rd }) {
            Some(RealmReply::Info(info)) => Ok(info),
            _ => input(),
        }
    }

    fn realm(&mut self, request: RealmRequest) -> Option<RealmReply> {
        Transport::<RealmProtocol>::call(&mut self.router, request).ok()
    }

    fn granule(&mut self, request: GranuleRequest) -> Option<GranuleReply> {
        Transport::<GranuleProtocol>::call(&mut self.router, request).ok()
    }

    fn lock(&mut self, addr: u64, state: GranuleState) -> bool {
        self.granule(GranuleRequest::Lock { addr, state }) == Some(GranuleReply::Done)
    }

    fn unlock(&mut self, addr: u64) {
        let _ = self.granule(GranuleRequest::Unlock { addr });
    }

    fn set_state(&mut self, addr: u64, state: GranuleState) {
        let _ = self.granule(GranuleRequest::SetState { addr, state });
    }

    fn add_ref(&mut self, addr: u64, delta: i64) {
        let _ = self.granule(GranuleRequest::AddRef { addr, delta });
    }

    /// A granule the GST tracks as UNDELEGATED (NS): an argument the host
    /// gives for the RMM to read or write through. Taking its lock (rather
    /// than reading its state) also refuses memory the RMM reserves.
    fn is_ns(&mut self, addr: u64) -> bool {
        let ns = self.lock(addr, GranuleState::Undelegated);
        if ns {
            self.unlock(addr);
        }
        ns
    }

    fn refcount(&mut self, addr: u64) -> Step<u64> {
        match self.granule(GranuleRequest::Query { addr }) {
            Some(GranuleReply::Info { refcount, .. }) => Ok(refcount),
            _ => input(),
        }
    }
}

/// Completes an emulated MMIO access: a read's value (masked to the
/// access size, sign-extended when SSE, to 32 bits unless SF) lands in
/// the target register; the realm moves past the instruction.
fn complete_mmio(ctx: &mut RecContext, value: u64) {
    let esr = ctx.last_esr;
    let rt = srt(esr);
    if esr & WNR == 0 && rt != 31 {
        let mut v = value & access_mask(esr);
        if esr & SSE != 0 {
            let bits = access_len(esr) * 8;
            if bits < 64 {
                let sign = 1u64 << (bits - 1);
                v = (v ^ sign).wrapping_sub(sign);
            }
            if esr & SF == 0 {
                v &= 0xffff_ffff;
            }
        }
        ctx.gprs[rt] = v;
    }
    ctx.pc = ctx.pc.wrapping_add(4);
}

/// Answers the realm's RSI_IPA_STATE_SET: X0 SUCCESS, X1 how far the host
/// got, X2 RSI_REJECT when the host refused a change to RAM before
/// reaching `top` (RSI_ACCEPT otherwise).
fn complete_ripas_change(ctx: &mut RecContext, rejected: bool) {
    use rampart_ipc::rsi;
    ctx.gprs[0] = rsi::SUCCESS;
    ctx.gprs[1] = ctx.ripas_addr;
    ctx.gprs[2] =
        if ctx.ripas_value == rsi::RIPAS_RAM && ctx.ripas_addr != ctx.ripas_top && rejected {
            rsi::REJECT
        } else {
            rsi::ACCEPT
        };
    ctx.ripas_base = 0;
    ctx.ripas_top = 0;
}

/// Reports a stage-2 translation fault on `ipa` to the host (an RSI call
/// whose buffer is Protected RAM with no granule): the realm's PC stays on
/// the SMC so that it repeats the call once the host has mapped memory.
fn stage2_abort(ctx: &mut RecContext, ipa: u64, level: i8) {
    ctx.exit.reason = exit::SYNC;
    ctx.exit.esr = EC_DABT_LOWER << EC_SHIFT | (FSC_TRANSLATION_L0 + level.max(0) as u64);
    ctx.exit.far = 0;
    ctx.exit.hpfar = ipa_hpfar(ipa);
}

impl<T, L> Server<RecProtocol> for RecService<T, L>
where
    T: RecRouter,
    L: Leases,
{
    fn handle(&mut self, request: RecRequest) -> RecReply {
        match request {
            RecRequest::Rmi(Command::RecCreate { rd, rec, params }) => {
                RecReply::Rmi(self.create(rd, rec, params))
            }
            RecRequest::Rmi(Command::RecDestroy { rec }) => RecReply::Rmi(self.destroy(rec)),
            RecRequest::Rmi(Command::RecAuxCount { rd }) => RecReply::Rmi(self.aux_count(rd)),
            RecRequest::Rmi(Command::PsciComplete {
                calling,
                target,
                status,
            }) => RecReply::Rmi(self.psci_complete(calling, target, status)),
            RecRequest::Rmi(Command::RttSetRipas { rd, rec, base, top }) => {
                RecReply::Rmi(self.set_ripas(rd, rec, base, top))
            }
            RecRequest::Rmi(_) => RecReply::Rmi(input()),
            RecRequest::Enter { rec, run } => match self.enter(rec, run) {
                Ok(true) => RecReply::Run,
                Ok(false) => RecReply::Exit,
                Err(e) => RecReply::Rmi(Err(e)),
            },
            RecRequest::Trap { rec, trap } => self.trap(rec, trap),
            RecRequest::Finish { rec, run } => RecReply::Rmi(self.finish(rec, run)),
        }
    }
}
