//! SMCs from a realm (RMM spec 1.0, B5 RSI and B5.3.? PSCI for realms):
//! answered in place, turned into requests to the owning services, or
//! turned into an exit for the host.

use crate::arch::*;
use crate::psci_status::*;
use crate::{GRANULE, RecRouter, RecService, stage2_abort};
use rampart_ipc::Transport;
use rampart_ipc::lease::Leases;
use rampart_ipc::realm::{RealmReply, RealmRequest};
use rampart_ipc::rec::{FLAG_HOST_CALL, FLAG_PSCI_PENDING, FLAG_RUNNABLE, RecContext};
use rampart_ipc::rec_abi::exit;
use rampart_ipc::rsi::{self, host_call, realm_config};
use rampart_ipc::rtt::{RttProtocol, RttReply, RttRequest};
use rampart_ipc::smccc::{self, SMC_UNKNOWN};

/// SMCCC 1.1+: bit 16 of an SMC64 FID is the SVE "state not live" hint.
const SVE_HINT: u32 = 1 << 16;

/// What an SMC handler decided.
pub(crate) enum Outcome {
    /// X0.. set in the context; resume the realm after the SMC.
    Return,
    /// Exit to the host, the realm resuming after the SMC.
    Exit,
    /// Exit to the host with a stage-2 fault the realm's call ran into;
    /// the realm repeats the SMC when it resumes.
    Fault,
}

impl<T, L> RecService<T, L>
where
    T: RecRouter,
    L: Leases,
{
    /// An SMC from the realm. True: resume it.
    pub(crate) fn smc(&mut self, ctx: &mut RecContext, irq_pending: bool) -> bool {
        let fid = (ctx.gprs[0] as u32) & !SVE_HINT;
        let outcome = match fid {
            smccc::SMCCC_VERSION => ret(ctx, &[smccc::SMCCC_VERSION_1_2]),
            0x8400_0000..=0x8400_001f | 0xc400_0000..=0xc400_001f => self.psci(ctx, fid),
            rsi::VERSION => {
                let status = if ctx.gprs[1] == rsi::ABI_VERSION {
                    rsi::SUCCESS
                } else {
                    rsi::ERROR_INPUT
                };
                ret(ctx, &[status, rsi::ABI_VERSION, rsi::ABI_VERSION])
            }
            rsi::FEATURES => ret(ctx, &[rsi::SUCCESS, 0]),
            rsi::MEASUREMENT_READ => self.measurement_read(ctx),
            rsi::MEASUREMENT_EXTEND => self.measurement_extend(ctx),
            rsi::REALM_CONFIG => self.realm_config(ctx),
            rsi::IPA_STATE_SET => ipa_state_set(ctx),
            rsi::IPA_STATE_GET => self.ipa_state_get(ctx),
            rsi::HOST_CALL => self.host_call(ctx),
            rsi::ATTESTATION_TOKEN_INIT => self.attest_init(ctx),
            rsi::ATTESTATION_TOKEN_CONTINUE => self.attest_continue(ctx, irq_pending),
            _ => ret(ctx, &[SMC_UNKNOWN]),
        };
        match outcome {
            Outcome::Return => {
                ctx.pc = ctx.pc.wrapping_add(4);
                true
            }
            Outcome::Exit => {
                ctx.pc = ctx.pc.wrapping_add(4);
                false
            }
            Outcome::Fault => false,
        }
    }

    /// Pins the Protected page an RSI call names as its buffer: its PA, or
    /// what the call ends with: RSI_ERROR_INPUT for RIPAS EMPTY, a stage-2
    /// fault for the host (the realm repeats the call) for RAM without a
    /// granule.
    pub(crate) fn pin_buffer(&mut self, ctx: &mut RecContext, page: u64) -> Result<u64, Outcome> {
        self.pin(ctx.rd, page)
            .map_err(|level| buffer_error(ctx, page, level))
    }

    /// RSI_MEASUREMENT_READ (B5.3.5): slot 0 (RIM) to 4; X1-X8 the value.
    fn measurement_read(&mut self, ctx: &mut RecContext) -> Outcome {
        let index = ctx.gprs[1];
        if index >= rsi::MEASUREMENT_SLOTS {
            return ret(ctx, &[rsi::ERROR_INPUT]);
        }
        let request = RealmRequest::ReadMeasurement {
            rd: ctx.rd,
            index: index as u8,
        };
        match self.realm(request) {
            Some(RealmReply::Bytes64(words)) => {
                ctx.gprs[0] = rsi::SUCCESS;
                ctx.gprs[1..9].copy_from_slice(&words);
                Outcome::Return
            }
            _ => ret(ctx, &[rsi::ERROR_INPUT]),
        }
    }

    /// RSI_MEASUREMENT_EXTEND (B5.3.6): REM index 1-4, size up to 64 bytes
    /// taken from X3-X10.
    fn measurement_extend(&mut self, ctx: &mut RecContext) -> Outcome {
        let (index, size) = (ctx.gprs[1], ctx.gprs[2]);
        if index == 0 || index >= rsi::MEASUREMENT_SLOTS || size > rsi::MAX_EXTEND_SIZE {
            return ret(ctx, &[rsi::ERROR_INPUT]);
        }
        let mut data = [0u64; 8];
        data.copy_from_slice(&ctx.gprs[3..11]);
        let request = RealmRequest::ExtendMeasurement {
            rd: ctx.rd,
            index: index as u8,
            size: size as u8,
            data,
        };
        let status = match self.realm(request) {
            Some(RealmReply::Done) => rsi::SUCCESS,
            _ => rsi::ERROR_INPUT,
        };
        ret(ctx, &[status])
    }

    /// RSI_REALM_CONFIG (B5.3.7): writes RsiRealmConfig into the 4 KB
    /// Protected page at X1. Unaligned, not Protected or RIPAS EMPTY:
    /// RSI_ERROR_INPUT; RIPAS RAM without a granule: a stage-2 fault for
    /// the host to resolve.
    fn realm_config(&mut self, ctx: &mut RecContext) -> Outcome {
        let ipa = ctx.gprs[1];
        if !ipa.is_multiple_of(GRANULE) || !self.protected(ctx, ipa) {
            return ret(ctx, &[rsi::ERROR_INPUT]);
        }
        // The RD's lock comes before a DATA granule's: read it first.
        let Some(RealmReply::Bytes64(rpv)) = self.realm(RealmRequest::Rpv { rd: ctx.rd }) else {
            return ret(ctx, &[rsi::ERROR_INPUT]);
        };
        let pa = match self.pin_buffer(ctx, ipa) {
            Ok(pa) => pa,
            Err(outcome) => return outcome,
        };
        let (width, algo) = (ctx.ipa_width, ctx.hash_algo);
        let wrote = self.leases.with_realm(pa, |g| {
            g.set_u64_at(realm_config::IPA_WIDTH, width);
            g.bytes_mut()[realm_config::HASH_ALGO] = algo as u8;
            for (i, w) in rpv.iter().enumerate() {
                g.set_u64_at(realm_config::RPV + 8 * i, *w);
            }
        });
        self.unpin(pa);
        let status = if wrote.is_ok() {
            rsi::SUCCESS
        } else {
            rsi::ERROR_INPUT
        };
        ret(ctx, &[status])
    }

    /// RSI_IPA_STATE_GET (B5.3.?): [X1, X2) granule aligned and Protected;
    /// X1 = the end of the run of equal RIPAS from X1, X2 = that RIPAS.
    fn ipa_state_get(&mut self, ctx: &mut RecContext) -> Outcome {
        let (base, end) = (ctx.gprs[1], ctx.gprs[2]);
        if !base.is_multiple_of(GRANULE)
            || !end.is_multiple_of(GRANULE)
            || base >= end
            || !self.protected(ctx, base)
            || !self.protected(ctx, end - 1)
        {
            return ret(ctx, &[rsi::ERROR_INPUT]);
        }
        let request = RttRequest::RipasRun {
            rd: ctx.rd,
            base,
            end,
        };
        match Transport::<RttProtocol>::call(&mut self.router, request) {
            Ok(RttReply::Ripas { top, ripas }) => ret(ctx, &[rsi::SUCCESS, top, u64::from(ripas)]),
            _ => ret(ctx, &[rsi::ERROR_INPUT]),
        }
    }

    /// RSI_HOST_CALL (B5.3.3): the 256-byte aligned RsiHostCall at X1 in
    /// Protected memory; its immediate and GPRs go to the host in the exit
    /// record, and the host's GPRs come back into it on the next entry.
    fn host_call(&mut self, ctx: &mut RecContext) -> Outcome {
        let ipa = ctx.gprs[1];
        if !ipa.is_multiple_of(host_call::SIZE) || !self.protected(ctx, ipa) {
            return ret(ctx, &[rsi::ERROR_INPUT]);
        }
        let page = ipa & !(GRANULE - 1);
        let pa = match self.pin_buffer(ctx, page) {
            Ok(pa) => pa,
            Err(outcome) => return outcome,
        };
        let offset = (ipa - page) as usize;
        let read = self.leases.with_realm(pa, |g| {
            let imm = g.u64_at(offset + host_call::IMM) & 0xffff_ffff;
            let mut gprs = [0u64; 31];
            for (i, r) in gprs.iter_mut().enumerate() {
                *r = g.u64_at(offset + host_call::GPRS + 8 * i);
            }
            (imm, gprs)
        });
        self.unpin(pa);
        let Ok((imm, gprs)) = read else {
            return ret(ctx, &[rsi::ERROR_INPUT]);
        };
        ctx.exit.reason = exit::HOST_CALL;
        ctx.exit.imm = imm;
        ctx.exit.gprs = gprs;
        ctx.flags |= FLAG_HOST_CALL;
        Outcome::Exit
    }

    /// PSCI for realms (B5.3.? and PSCI 1.1): VERSION and FEATURES here;
    /// CPU_ON and AFFINITY_INFO of another REC of the realm exit to the
    /// host and wait for RMI_PSCI_COMPLETE; CPU_OFF, CPU_SUSPEND and
    /// SYSTEM_OFF/RESET exit to the host (SYSTEM_* stopping the realm).
    fn psci(&mut self, ctx: &mut RecContext, fid: u32) -> Outcome {
        const CPU_SUSPEND: u32 = 0x8400_0001;
        const CPU_ON: u32 = 0x8400_0003;
        const AFFINITY_INFO: u32 = 0x8400_0004;
        let smc32 = fid & !(1 << 30);
        match smc32 {
            0x8400_0000 => ret(ctx, &[smccc::PSCI_VERSION_1_1]),
            CPU_SUSPEND => {
                forward(ctx, 1);
                ctx.gprs[0] = SUCCESS;
                Outcome::Exit
            }
            0x8400_0002 if fid == smccc::PSCI_CPU_OFF => {
                forward(ctx, 1);
                ctx.flags &= !FLAG_RUNNABLE;
                ctx.gprs[0] = SUCCESS;
                Outcome::Exit
            }
            CPU_ON => {
                if !self.protected(ctx, ctx.gprs[2]) {
                    return ret(ctx, &[INVALID_ADDRESS]);
                }
                self.psci_other(ctx, ALREADY_ON)
            }
            AFFINITY_INFO => {
                if ctx.gprs[2] != 0 {
                    return ret(ctx, &[INVALID_PARAMS]);
                }
                self.psci_other(ctx, AFFINITY_ON)
            }
            0x8400_0008 | 0x8400_0009 if fid == smc32 => {
                self.realm(RealmRequest::SystemOff { rd: ctx.rd });
                forward(ctx, 1);
                Outcome::Exit
            }
            0x8400_000a if fid == smccc::PSCI_FEATURES => {
                let supported = matches!(
                    ctx.gprs[1] as u32,
                    0x8400_0001
                        | 0xc400_0001
                        | 0x8400_0002
                        | 0x8400_0003
                        | 0xc400_0003
                        | 0x8400_0004
                        | 0xc400_0004
                        | 0x8400_0008
                        | 0x8400_0009
                        | 0x8400_000a
                ) || ctx.gprs[1] as u32 == smccc::SMCCC_VERSION;
                ret(ctx, &[if supported { SUCCESS } else { NOT_SUPPORTED }])
            }
            _ => ret(ctx, &[NOT_SUPPORTED]),
        }
    }

    /// CPU_ON / AFFINITY_INFO naming X1: out of the realm's RECs is
    /// INVALID_PARAMETERS, the caller itself answers `own`, another REC
    /// exits to the host with the request pending.
    fn psci_other(&mut self, ctx: &mut RecContext, own: u64) -> Outcome {
        let target = mpidr_index(ctx.gprs[1]);
        let count = match self.realm(RealmRequest::Info { rd: ctx.rd }) {
            Some(RealmReply::Info(info)) => u64::from(info.rec_count),
            _ => 0,
        };
        if target >= count {
            return ret(ctx, &[INVALID_PARAMS]);
        }
        if target == ctx.index {
            return ret(ctx, &[own]);
        }
        ctx.flags |= FLAG_PSCI_PENDING;
        forward(ctx, 2);
        Outcome::Exit
    }
}

/// RSI_IPA_STATE_SET (B5.3.?): [X1, X2) granule aligned, non-empty and
/// Protected, X3 EMPTY or RAM, else RSI_ERROR_INPUT; the request goes to
/// the host as a RIPAS_CHANGE exit.
fn ipa_state_set(ctx: &mut RecContext) -> Outcome {
    let (base, top, ripas, flags) = (ctx.gprs[1], ctx.gprs[2], ctx.gprs[3], ctx.gprs[4]);
    let protected_top = 1u64 << (ctx.ipa_width - 1);
    if ripas > rsi::RIPAS_RAM
        || !base.is_multiple_of(GRANULE)
        || !top.is_multiple_of(GRANULE)
        || top <= base
        || top > protected_top
    {
        return ret(ctx, &[rsi::ERROR_INPUT]);
    }
    ctx.ripas_base = base;
    ctx.ripas_top = top;
    ctx.ripas_addr = base;
    ctx.ripas_value = ripas;
    ctx.ripas_flags = flags;
    ctx.exit.reason = exit::RIPAS_CHANGE;
    ctx.exit.ripas_base = base;
    ctx.exit.ripas_top = top;
    ctx.exit.ripas_value = ripas;
    ctx.gprs[0] = rsi::SUCCESS;
    ctx.gprs[1] = top;
    Outcome::Exit
}

/// Sets X0.. and resumes the realm.
pub(crate) fn ret(ctx: &mut RecContext, values: &[u64]) -> Outcome {
    ctx.gprs[..values.len()].copy_from_slice(values);
    Outcome::Return
}

/// A PSCI exit: the first `count` of X0-X3 go to the host, nothing else.
fn forward(ctx: &mut RecContext, count: usize) {
    ctx.exit.reason = exit::PSCI;
    ctx.exit.gprs = [0; 31];
    ctx.exit.gprs[..count].copy_from_slice(&ctx.gprs[..count]);
}

/// How an RSI call whose buffer page is not usable ends (see
/// [`RecService::pin_buffer`]): `level` is None for RIPAS EMPTY.
pub(crate) fn buffer_error(ctx: &mut RecContext, page: u64, level: Option<i8>) -> Outcome {
    match level {
        None => ret(ctx, &[rsi::ERROR_INPUT]),
        Some(level) => {
            stage2_abort(ctx, page, level);
            Outcome::Fault
        }
    }
}
