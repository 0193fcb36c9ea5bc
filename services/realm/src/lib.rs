//! The realm service: realm descriptors (RDs), VMIDs and the Realm
//! Initial Measurement. It answers RMI_REALM_CREATE, RMI_REALM_ACTIVATE
//! and RMI_REALM_DESTROY, tells other services a realm's parameters, and
//! extends the RIM for them.
//!
//! The RD's contents live in the RD granule itself (leased for each
//! access); this service alone reads and writes them. Layout:
//! `0x00 state, 0x01 s2sz, 0x02 rtt_level_start, 0x03 rtt_num_start,
//! 0x04 hash, 0x05 lpa2, 0x06 vmid (u16), 0x08 rtt_base, 0x10 RIM[64],
//! 0x50 RPV[64], 0x90 rec_count (u32), 0x100 REM[4][64]`.
#![no_std]
#![forbid(unsafe_code)]

pub mod measure;
pub mod params;
pub mod vmid;

use measure::Measurement;
use params::{FLAG_LPA2, READ_SIZE, RealmParams};
use rampart_ipc::granule::{GranuleProtocol, GranuleReply, GranuleRequest, GranuleState};
use rampart_ipc::lease::{GRANULE_SIZE, Granule, Leases};
use rampart_ipc::realm::{
    HashAlgo, RealmInfo, RealmProtocol, RealmReply, RealmRequest, RealmState,
};
use rampart_ipc::rmi::{Command, FeatureRegister0, Outputs, RmiError, RmiResult};
use rampart_ipc::rtt::{RttProtocol, RttReply, RttRequest};
use rampart_ipc::{Server, Transport};
use vmid::VmidSet;

const GRANULE: u64 = GRANULE_SIZE as u64;

/// An RD as stored in its granule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rd {
    pub info: RealmInfo,
    pub lpa2: bool,
    pub rim: Measurement,
    pub rpv: [u8; 64],
    /// REM[0..3] (RSI measurement slots 1-4).
    pub rems: [Measurement; 4],
}

const REC_COUNT: usize = 0x90;
const REMS: usize = 0x100;

impl Rd {
    fn load(g: &Granule) -> Option<Self> {
        let b = g.bytes();
        let state = match b[0] {
            0 => RealmState::New,
            1 => RealmState::Active,
            2 => RealmState::SystemOff,
            _ => return None,
        };
        let hash = if b[4] == 0 {
            HashAlgo::Sha256
        } else {
            HashAlgo::Sha512
        };
        let mut rim = [0u8; 64];
        rim.copy_from_slice(&b[0x10..0x50]);
        let mut rpv = [0u8; 64];
        rpv.copy_from_slice(&b[0x50..0x90]);
        let mut rems = [[0u8; 64]; 4];
        for (i, rem) in rems.iter_mut().enumerate() {
            rem.copy_from_slice(&b[REMS + 64 * i..REMS + 64 * (i + 1)]);
        }
        let rec_count = u32::from_le_bytes([
            b[REC_COUNT],
            b[REC_COUNT + 1],
            b[REC_COUNT + 2],
            b[REC_COUNT + 3],
        ]);
        Some(Self {
            info: RealmInfo {
                state,
                s2sz: b[1],
                rtt_level_start: b[2] as i8,
                rtt_num_start: b[3],
                rtt_base: g.u64_at(8),
                hash,
                vmid: u16::from_le_bytes([b[6], b[7]]),
                rec_count,
            },
            lpa2: b[5] != 0,
            rim,
            rpv,
            rems,
        })
    }

    fn store(&self, g: &mut Granule) {
        let b = g.bytes_mut();
        b[0] = self.info.state as u8;
        b[1] = self.info.s2sz;
        b[2] = self.info.rtt_level_start as u8;
        b[3] = self.info.rtt_num_start;
        b[4] = self.info.hash as u8;
        b[5] = u8::from(self.lpa2);
        b[6..8].copy_from_slice(&self.info.vmid.to_le_bytes());
        b[8..16].copy_from_slice(&self.info.rtt_base.to_le_bytes());
        b[0x10..0x50].copy_from_slice(&self.rim);
        b[0x50..0x90].copy_from_slice(&self.rpv);
        b[REC_COUNT..REC_COUNT + 4].copy_from_slice(&self.info.rec_count.to_le_bytes());
        for (i, rem) in self.rems.iter().enumerate() {
            b[REMS + 64 * i..REMS + 64 * (i + 1)].copy_from_slice(rem);
        }
    }
}

/// The service as one CPU uses it.
pub struct RealmService<'t, T, L> {
    router: T,
    leases: L,
    vmids: &'t VmidSet,
    features: FeatureRegister0,
}

impl<'t, T, L> RealmService<'t, T, L>
where
    T: Transport<GranuleProtocol> + Transport<RttProtocol>,
    L: Leases,
{
    pub fn new(router: T, leases: L, vmids: &'t VmidSet, features: FeatureRegister0) -> Self {
        Self {
            router,
            leases,
            vmids,
            features,
        }
    }

    fn granule(&mut self, request: GranuleRequest) -> GranuleReply {
        Transport::<GranuleProtocol>::call(&mut self.router, request).unwrap_or(
            GranuleReply::Error(rampart_ipc::granule::GranuleError::NotLocked),
        )
    }

    fn lock(&mut self, addr: u64, state: GranuleState) -> bool {
        self.granule(GranuleRequest::Lock { addr, state }) == GranuleReply::Done
    }

    fn unlock(&mut self, addr: u64) {
        let _ = self.granule(GranuleRequest::Unlock { addr });
    }

    fn set_state(&mut self, addr: u64, state: GranuleState) -> bool {
        self.granule(GranuleRequest::SetState { addr, state }) == GranuleReply::Done
    }

    fn rtt(&mut self, request: RttRequest) -> Option<RttReply> {
        Transport::<RttProtocol>::call(&mut self.router, request).ok()
    }

    fn load(&mut self, rd: u64) -> Option<Rd> {
        self.leases.with_realm(rd, |g| Rd::load(g)).ok().flatten()
    }

    fn store(&mut self, rd: u64, value: &Rd) -> bool {
        self.leases.with_realm(rd, |g| value.store(g)).is_ok()
    }

    /// RMI_REALM_CREATE (RMM spec 1.0, B4.3.9). Every failure condition is
    /// RMI_ERROR_INPUT (params_align/bound/pas, params_valid/supp, alias,
    /// rd_align/bound/state, rtt_align, rtt_num_level, rtt_state,
    /// vmid_valid), so their relative order is not observable; all are
    /// checked before anything changes.
    pub fn create(&mut self, rd: u64, params_addr: u64) -> RmiResult<Outputs> {
        // params: an NS granule of delegable memory, readable.
        match self.granule(GranuleRequest::Query { addr: params_addr }) {
            GranuleReply::Info {
                state: GranuleState::Undelegated,
                ..
            } => {}
            _ => return Err(RmiError::Input),
        }
        let mut raw = [0u8; READ_SIZE];
        self.leases
            .read_ns(params_addr, 0, &mut raw)
            .map_err(|_| RmiError::Input)?;
        let p = RealmParams::parse(&raw);
        if !p.valid(&self.features) {
            return Err(RmiError::Input);
        }
        let count = u64::from(p.rtt_num_start);
        let rtts = p.rtt_base..p.rtt_base.wrapping_add(count * GRANULE);
        if rtts.contains(&rd)
            || !p.rtt_base.is_multiple_of(count * GRANULE)
            || p.rtt_base.checked_add(count * GRANULE).is_none()
        {
            return Err(RmiError::Input);
        }
        // Take the RD and the starting tables (all DELEGATED) in address order.
        let mut held: [u64; 17] = [0; 17];
        let mut n = 0;
        let mut ok = true;
        let order = if rd < p.rtt_base {
            [Some(rd), None]
        } else {
            [None, Some(rd)]
        };
        for addr in order[0]
            .into_iter()
            .chain((0..count).map(|i| p.rtt_base + i * GRANULE))
            .chain(order[1])
        {
            if !self.lock(addr, GranuleState::Delegated) {
                ok = false;
                break;
            }
            held[n] = addr;
            n += 1;
        }
        let result = if !ok || !self.vmids.claim(p.vmid) {
            Err(RmiError::Input)
        } else {
            self.create_locked(rd, &p)
        };
        for &addr in &held[..n] {
            self.unlock(addr);
        }
        result
    }

    fn create_locked(&mut self, rd: u64, p: &RealmParams) -> RmiResult<Outputs> {
        let hash = if p.hash_algo == 0 {
            HashAlgo::Sha256
        } else {
            HashAlgo::Sha512
        };
        let value = Rd {
            info: RealmInfo {
                state: RealmState::New,
                s2sz: p.s2sz,
                rtt_level_start: p.rtt_level_start as i8,
                rtt_num_start: p.rtt_num_start as u8,
                rtt_base: p.rtt_base,
                hash,
                vmid: p.vmid,
                rec_count: 0,
            },
            lpa2: p.flags & FLAG_LPA2 != 0,
            rim: measure::rim_init(hash, p),
            rpv: p.rpv,
            rems: [[0; 64]; 4],
        };
        let init = RttRequest::InitRoots {
            rtt_base: p.rtt_base,
            count: p.rtt_num_start as u8,
            level: p.rtt_level_start as i8,
            s2sz: p.s2sz,
        };
        if self.rtt(init) != Some(RttReply::Done) || !self.store(rd, &value) {
            // Leases on granules just locked DELEGATED cannot fail; if they
            // did, undo what was written and refuse.
            self.vmids.release(p.vmid);
            let _ = self.leases.with_realm(rd, |g| *g = Granule::ZERO);
            for i in 0..u64::from(p.rtt_num_start) {
                let _ = self
                    .leases
                    .with_realm(p.rtt_base + i * GRANULE, |g| *g = Granule::ZERO);
            }
            return Err(RmiError::Input);
        }
        for i in 0..u64::from(p.rtt_num_start) {
            self.set_state(p.rtt_base + i * GRANULE, GranuleState::Rtt);
        }
        self.set_state(rd, GranuleState::Rd);
        Ok(Outputs::NONE)
    }

    /// RMI_REALM_ACTIVATE (B4.3.8): rd an RD (else INPUT), realm NEW (else
    /// ERROR_REALM); the realm becomes ACTIVE.
    pub fn activate(&mut self, rd: u64) -> RmiResult<Outputs> {
        if !self.lock(rd, GranuleState::Rd) {
            return Err(RmiError::Input);
        }
        let result = match self.load(rd) {
            Some(mut value) if value.info.state == RealmState::New => {
                value.info.state = RealmState::Active;
                if self.store(rd, &value) {
                    Ok(Outputs::NONE)
                } else {
                    Err(RmiError::Input)
                }
            }
            Some(_) => Err(RmiError::Realm(0)),
            None => Err(RmiError::Input),
        };
        self.unlock(rd);
        result
    }

    /// RMI_REALM_DESTROY (B4.3.10): rd an RD (else INPUT); the realm not
    /// live — no REC (RD refcount) and no live starting-level RTT (else
    /// ERROR_REALM). The starting tables and the RD go back to DELEGATED,
    /// zeroed, and the VMID is freed.
    pub fn destroy(&mut self, rd: u64) -> RmiResult<Outputs> {
        if !self.lock(rd, GranuleState::Rd) {
            return Err(RmiError::Input);
        }
        let result = self.destroy_locked(rd);
        self.unlock(rd);
        result
    }

    fn destroy_locked(&mut self, rd: u64) -> RmiResult<Outputs> {
        let Some(value) = self.load(rd) else {
            return Err(RmiError::Input);
        };
        let recs = match self.granule(GranuleRequest::Query { addr: rd }) {
            GranuleReply::Info { refcount, .. } => refcount,
            _ => return Err(RmiError::Input),
        };
        let info = value.info;
        let unused = RttRequest::RootsUnused {
            rtt_base: info.rtt_base,
            count: info.rtt_num_start,
            level: info.rtt_level_start,
        };
        if recs != 0 || self.rtt(unused) != Some(RttReply::Unused(true)) {
            return Err(RmiError::Realm(0));
        }
        for i in 0..u64::from(info.rtt_num_start) {
            let table = info.rtt_base + i * GRANULE;
            if self.lock(table, GranuleState::Rtt) {
                self.set_state(table, GranuleState::Delegated);
                self.unlock(table);
            }
        }
        // Nothing of this realm may stay in the TLBs once its VMID is reused.
        self.rtt(RttRequest::InvalidateVmid { vmid: info.vmid });
        self.vmids.release(info.vmid);
        self.set_state(rd, GranuleState::Delegated);
        Ok(Outputs::NONE)
    }

    fn measure_data(&mut self, rd: u64, data: u64, ipa: u64, measure_content: bool) -> RealmReply {
        let Some(mut value) = self.load(rd) else {
            return RealmReply::Failed;
        };
        let algo = value.info.hash;
        let content = if measure_content {
            match self
                .leases
                .with_realm(data, |g| measure::hash(algo, g.bytes()))
            {
                Ok(h) => h,
                Err(_) => return RealmReply::Failed,
            }
        } else {
            [0u8; 64]
        };
        value.rim =
            measure::extend_data(algo, &value.rim, ipa, u64::from(measure_content), &content);
        if self.store(rd, &value) {
            RealmReply::Done
        } else {
            RealmReply::Failed
        }
    }

    fn measure_ripas(&mut self, rd: u64, base: u64, top: u64) -> RealmReply {
        let Some(mut value) = self.load(rd) else {
            return RealmReply::Failed;
        };
        value.rim = measure::extend_ripas(value.info.hash, &value.rim, base, top);
        if self.store(rd, &value) {
            RealmReply::Done
        } else {
            RealmReply::Failed
        }
    }

    /// Loads the RD, lets `f` change it and stores it back; Failed when
    /// the lease fails or `f` refuses.
    fn update(&mut self, rd: u64, f: impl FnOnce(&mut Rd) -> bool) -> RealmReply {
        let Some(mut value) = self.load(rd) else {
            return RealmReply::Failed;
        };
        if f(&mut value) && self.store(rd, &value) {
            RealmReply::Done
        } else {
            RealmReply::Failed
        }
    }

    /// The same as [`Self::update`] for a caller that holds no lock: the
    /// RD lock is taken around it (RSI calls from a running REC; the RD
    /// cannot go away while the REC exists).
    fn update_locked(&mut self, rd: u64, f: impl FnOnce(&mut Rd) -> bool) -> RealmReply {
        if !self.lock(rd, GranuleState::Rd) {
            return RealmReply::Failed;
        }
        let reply = self.update(rd, f);
        self.unlock(rd);
        reply
    }

    fn read_measurement(&mut self, rd: u64, index: u8) -> RealmReply {
        if !self.lock(rd, GranuleState::Rd) {
            return RealmReply::Failed;
        }
        let value = self.load(rd);
        self.unlock(rd);
        let bytes = match (value, index) {
            (Some(v), 0) => v.rim,
            (Some(v), 1..=4) => v.rems[usize::from(index) - 1],
            _ => return RealmReply::Failed,
        };
        RealmReply::Bytes64(words(&bytes))
    }

    /// The RD as stored (for tests and for the attestation service later).
    pub fn read(&mut self, rd: u64) -> Option<Rd> {
        self.load(rd)
    }
}

impl<T, L> Server<RealmProtocol> for RealmService<'_, T, L>
where
    T: Transport<GranuleProtocol> + Transport<RttProtocol>,
    L: Leases,
{
    fn handle(&mut self, request: RealmRequest) -> RealmReply {
        match request {
            RealmRequest::Rmi(Command::RealmCreate { rd, params }) => {
                RealmReply::Rmi(self.create(rd, params))
            }
            RealmRequest::Rmi(Command::RealmActivate { rd }) => RealmReply::Rmi(self.activate(rd)),
            RealmRequest::Rmi(Command::RealmDestroy { rd }) => RealmReply::Rmi(self.destroy(rd)),
            RealmRequest::Rmi(_) => RealmReply::Rmi(Err(RmiError::Input)),
            RealmRequest::Info { rd } => self
                .load(rd)
                .map_or(RealmReply::Failed, |v| RealmReply::Info(v.info)),
            RealmRequest::MeasureData {
                rd,
                data,
                ipa,
                measure_content,
            } => self.measure_data(rd, data, ipa, measure_content),
            RealmRequest::MeasureRipas { rd, base, top } => self.measure_ripas(rd, base, top),
            RealmRequest::MeasureRec {
                rd,
                flags,
                pc,
                gprs,
            } => self.update(rd, |v| {
                v.rim = measure::extend_rec(v.info.hash, &v.rim, flags, pc, &gprs);
                true
            }),
            RealmRequest::AddRec { rd } => self.update(rd, |v| {
                v.info.rec_count = v.info.rec_count.saturating_add(1);
                true
            }),
            RealmRequest::SystemOff { rd } => self.update_locked(rd, |v| {
                v.info.state = RealmState::SystemOff;
                true
            }),
            RealmRequest::ReadMeasurement { rd, index } => self.read_measurement(rd, index),
            RealmRequest::ExtendMeasurement {
                rd,
                index,
                size,
                data,
            } => self.update_locked(rd, |v| {
                let (i, size) = (usize::from(index), usize::from(size));
                if !(1..=4).contains(&i) || size > 64 {
                    return false;
                }
                let mut bytes = [0u8; 64];
                for (chunk, word) in bytes.chunks_exact_mut(8).zip(data) {
                    chunk.copy_from_slice(&word.to_le_bytes());
                }
                v.rems[i - 1] = measure::extend_rem(v.info.hash, &v.rems[i - 1], &bytes[..size]);
                true
            }),
            RealmRequest::Rpv { rd } => self
                .load(rd)
                .map_or(RealmReply::Failed, |v| RealmReply::Bytes64(words(&v.rpv))),
        }
    }
}

/// 64 bytes as little-endian words.
fn words(bytes: &[u8; 64]) -> [u64; 8] {
    let mut out = [0u64; 8];
    for (w, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        *w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
    }
    out
}

#[cfg(test)]
mod tests;
