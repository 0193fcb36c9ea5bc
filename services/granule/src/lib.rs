//! The granule service: the Granule Status Table (GST) of every granule of
//! delegable memory the boot manifest names, with a lock and a reference
//! count per granule (RMM spec 1.0, A2.2 "Granule"), and the two commands
//! that move granules between the Normal world and the RMM.
//!
//! The table is sized from the manifest's DRAM banks at boot (8 bytes a
//! granule: 2 MB per GB of DRAM). One entry is one `AtomicU64`:
//! `[3:0]` state, `[4]` locked, `[15:8]` owner CPU, `[63:16]` refcount.
#![no_std]

use core::sync::atomic::{AtomicU64, Ordering};
use rampart_board::Range;
use rampart_ipc::Server;
use rampart_ipc::granule::{
    GranuleError, GranuleProtocol, GranuleReply, GranuleRequest, GranuleState,
};
use rampart_ipc::lease::{GRANULE_SIZE, Granule, Leases};
use rampart_ipc::rmi::{Command, Outputs, RmiError, RmiResult};
use rampart_ipc::rmm_el3::RmmEl3Status;

const STATE_MASK: u64 = 0xf;
const LOCKED: u64 = 1 << 4;
const OWNER_SHIFT: u32 = 8;
const OWNER_MASK: u64 = 0xff << OWNER_SHIFT;
const REF_SHIFT: u32 = 16;
const REF_MAX: u64 = (1 << 48) - 1;

/// One GST entry.
#[derive(Default)]
pub struct Entry(AtomicU64);

impl Entry {
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }
}

fn state_of(v: u64) -> GranuleState {
    GranuleState::from_u8((v & STATE_MASK) as u8).unwrap_or(GranuleState::Undelegated)
}

pub use rampart_ipc::rmm_el3::Gtsi;

pub const MAX_BANKS: usize = 8;

/// The table and the memory it describes.
pub struct Gst<'t> {
    banks: heapless::Vec<(Range, usize), MAX_BANKS>,
    entries: &'t [Entry],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GstError {
    /// A bank is unaligned, or there are more banks than the table supports.
    BadBank,
    /// `entries` is shorter than the banks need.
    TooSmall { need: usize },
}

/// Number of entries the banks need.
pub fn entries_needed(banks: &[Range]) -> usize {
    banks
        .iter()
        .map(|b| (b.size / GRANULE_SIZE as u64) as usize)
        .sum()
}

impl<'t> Gst<'t> {
    /// Builds the table over `banks`; granules inside `reserved` ranges
    /// (the RMM's own region, anything not the Normal world's to give) can
    /// never be delegated: they sit in the table as permanently locked.
    pub fn new(
        banks: &[Range],
        reserved: &[Range],
        entries: &'t [Entry],
    ) -> Result<Self, GstError> {
        let need = entries_needed(banks);
        if entries.len() < need {
            return Err(GstError::TooSmall { need });
        }
        let mut table = heapless::Vec::new();
        let mut first = 0;
        for bank in banks {
            if bank.base % GRANULE_SIZE as u64 != 0 || bank.size % GRANULE_SIZE as u64 != 0 {
                return Err(GstError::BadBank);
            }
            table.push((*bank, first)).map_err(|_| GstError::BadBank)?;
            first += (bank.size / GRANULE_SIZE as u64) as usize;
        }
        let gst = Self {
            banks: table,
            entries,
        };
        for r in reserved {
            let mut pa = r.base & !(GRANULE_SIZE as u64 - 1);
            while pa < r.end() {
                if let Some(e) = gst.entry(pa) {
                    e.0.store(LOCKED | (0xff << OWNER_SHIFT), Ordering::Relaxed);
                }
                pa += GRANULE_SIZE as u64;
            }
        }
        Ok(gst)
    }

    fn index(&self, addr: u64) -> Option<usize> {
        if !addr.is_multiple_of(GRANULE_SIZE as u64) {
            return None;
        }
        self.banks
            .iter()
            .find(|(bank, _)| bank.contains(addr))
            .map(|(bank, first)| first + ((addr - bank.base) / GRANULE_SIZE as u64) as usize)
    }

    fn entry(&self, addr: u64) -> Option<&Entry> {
        self.index(addr).map(|i| &self.entries[i])
    }

    /// State and refcount now (no lock taken).
    pub fn query(&self, addr: u64) -> Option<(GranuleState, u64)> {
        let v = self.entry(addr)?.0.load(Ordering::Acquire);
        Some((state_of(v), v >> REF_SHIFT))
    }
}

/// The service as one CPU sees it: the shared table plus that CPU's
/// leases and EL3 conduit.
pub struct GranuleService<'t, G, L> {
    gst: &'t Gst<'t>,
    cpu: u8,
    gtsi: G,
    leases: L,
}

impl<'t, G: Gtsi, L: Leases> GranuleService<'t, G, L> {
    pub fn new(gst: &'t Gst<'t>, cpu: u8, gtsi: G, leases: L) -> Self {
        Self {
            gst,
            cpu,
            gtsi,
            leases,
        }
    }

    /// Waits for the lock, then keeps it only if the state matches.
    fn lock(&self, addr: u64, want: GranuleState) -> Result<(), GranuleError> {
        let entry = self.gst.entry(addr).ok_or(GranuleError::BadAddress)?;
        let owner = u64::from(self.cpu) << OWNER_SHIFT;
        loop {
            let v = entry.0.load(Ordering::Relaxed);
            if v & LOCKED != 0 {
                if v & OWNER_MASK == OWNER_MASK {
                    // Reserved memory: never the caller's to have.
                    return Err(GranuleError::BadAddress);
                }
                // A holder may be about to change the state; if it is not
                // the one wanted now, the racing caller gets its error at
                // once instead of waiting (which could deadlock two CPUs
                // taking the same pair of granules in different roles).
                if state_of(v) != want {
                    return Err(GranuleError::WrongState(state_of(v)));
                }
                core::hint::spin_loop();
                continue;
            }
            if entry
                .0
                .compare_exchange_weak(v, v | LOCKED | owner, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                if state_of(v) != want {
                    entry.0.store(v, Ordering::Release);
                    return Err(GranuleError::WrongState(state_of(v)));
                }
                return Ok(());
            }
        }
    }

    /// The entry, if this CPU holds its lock.
    fn held(&self, addr: u64) -> Result<&'t Entry, GranuleError> {
        let entry = self.gst.entry(addr).ok_or(GranuleError::BadAddress)?;
        let v = entry.0.load(Ordering::Relaxed);
        let owner = u64::from(self.cpu) << OWNER_SHIFT;
        if v & LOCKED == 0 || v & OWNER_MASK != owner {
            return Err(GranuleError::NotLocked);
        }
        Ok(entry)
    }

    fn unlock(&self, addr: u64) -> Result<(), GranuleError> {
        let entry = self.held(addr)?;
        let v = entry.0.load(Ordering::Relaxed);
        entry.0.store(v & !(LOCKED | OWNER_MASK), Ordering::Release);
        Ok(())
    }

    fn set_state(&mut self, addr: u64, state: GranuleState) -> Result<(), GranuleError> {
        let entry = self.held(addr)?;
        // Every granule that goes back to DELEGATED is scrubbed: the next
        // owner (a realm, or the host after undelegation) sees zeros.
        if state == GranuleState::Delegated {
            self.leases
                .with_realm(addr, |g| *g = Granule::ZERO)
                .map_err(|_| GranuleError::BadAddress)?;
        }
        let v = entry.0.load(Ordering::Relaxed);
        entry
            .0
            .store((v & !STATE_MASK) | state as u64, Ordering::Relaxed);
        Ok(())
    }

    fn add_ref(&self, addr: u64, delta: i64) -> Result<(), GranuleError> {
        let entry = self.held(addr)?;
        let v = entry.0.load(Ordering::Relaxed);
        let count = (v >> REF_SHIFT) as i128 + i128::from(delta);
        if !(0..=i128::from(REF_MAX)).contains(&count) {
            return Err(GranuleError::Refcount);
        }
        entry.0.store(
            (v & ((1 << REF_SHIFT) - 1)) | ((count as u64) << REF_SHIFT),
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// RMI_GRANULE_DELEGATE (RMM spec 1.0, B4.3.2): addr must be aligned,
    /// in delegable memory and UNDELEGATED (each else RMI_ERROR_INPUT);
    /// EL3 moves it to the Realm PAS and the RMM zeroes it.
    pub fn delegate(&mut self, addr: u64) -> RmiResult<Outputs> {
        self.lock(addr, GranuleState::Undelegated)
            .map_err(|_| RmiError::Input)?;
        let result = if self.gtsi.delegate(addr) == RmmEl3Status::Ok {
            // Fresh to the Realm PAS: zero it so no stale NS content survives.
            self.set_state(addr, GranuleState::Delegated)
                .map_err(|_| RmiError::Input)
        } else {
            Err(RmiError::Input)
        };
        let _ = self.unlock(addr);
        result.map(|()| Outputs::NONE)
    }

    /// RMI_GRANULE_UNDELEGATE (B4.3.3): addr aligned, in delegable memory,
    /// DELEGATED (else RMI_ERROR_INPUT). Scrubbed before it leaves the Realm PAS.
    pub fn undelegate(&mut self, addr: u64) -> RmiResult<Outputs> {
        self.lock(addr, GranuleState::Delegated)
            .map_err(|_| RmiError::Input)?;
        let scrubbed = self.leases.with_realm(addr, |g| *g = Granule::ZERO).is_ok();
        let result = if scrubbed && self.gtsi.undelegate(addr) == RmmEl3Status::Ok {
            let entry = self.held(addr).map_err(|_| RmiError::Input)?;
            let v = entry.0.load(Ordering::Relaxed);
            entry.0.store(
                (v & !STATE_MASK) | GranuleState::Undelegated as u64,
                Ordering::Relaxed,
            );
            Ok(Outputs::NONE)
        } else {
            Err(RmiError::Input)
        };
        let _ = self.unlock(addr);
        result
    }
}

impl<G: Gtsi, L: Leases> Server<GranuleProtocol> for GranuleService<'_, G, L> {
    fn handle(&mut self, request: GranuleRequest) -> GranuleReply {
        let done = |r: Result<(), GranuleError>| match r {
            Ok(()) => GranuleReply::Done,
            Err(e) => GranuleReply::Error(e),
        };
        match request {
            GranuleRequest::Rmi(Command::GranuleDelegate { addr }) => {
                GranuleReply::Rmi(self.delegate(addr))
            }
            GranuleRequest::Rmi(Command::GranuleUndelegate { addr }) => {
                GranuleReply::Rmi(self.undelegate(addr))
            }
            GranuleRequest::Rmi(_) => GranuleReply::Rmi(Err(RmiError::Input)),
            GranuleRequest::Lock { addr, state } => done(self.lock(addr, state)),
            GranuleRequest::Unlock { addr } => done(self.unlock(addr)),
            GranuleRequest::SetState { addr, state } => done(self.set_state(addr, state)),
            GranuleRequest::AddRef { addr, delta } => done(self.add_ref(addr, delta)),
            GranuleRequest::Query { addr } => match self.gst.query(addr) {
                Some((state, refcount)) => GranuleReply::Info { state, refcount },
                None => GranuleReply::Error(GranuleError::BadAddress),
            },
        }
    }
}

#[cfg(test)]
mod tests;
