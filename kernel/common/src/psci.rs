//! Per-core power state for PSCI (Arm DEN0022 PSCI 1.1, sections 5.1.4
//! CPU_ON, 5.1.5 AFFINITY_INFO), shared by every core without a global lock:
//! each core's state is one atomic, and CPU_ON claims a core with a single
//! compare-and-swap, so two racing CPU_ON calls for one core get ON_PENDING
//! or ALREADY_ON, never a double start.

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use rampart_ipc::smccc::PsciError;

/// AFFINITY_INFO answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CoreState {
    On = 0,
    Off = 1,
    OnPending = 2,
}

impl CoreState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::On,
            2 => Self::OnPending,
            _ => Self::Off,
        }
    }
}

/// Where a core starts in the Normal world when it is turned on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsEntry {
    pub entry: u64,
    pub context_id: u64,
}

pub struct PsciCores<const N: usize> {
    state: [AtomicU8; N],
    entry: [AtomicU64; N],
    context_id: [AtomicU64; N],
}

impl<const N: usize> Default for PsciCores<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PsciCores<N> {
    pub const fn new() -> Self {
        Self {
            state: [const { AtomicU8::new(CoreState::Off as u8) }; N],
            entry: [const { AtomicU64::new(0) }; N],
            context_id: [const { AtomicU64::new(0) }; N],
        }
    }

    pub fn state(&self, core: usize) -> Option<CoreState> {
        self.state
            .get(core)
            .map(|s| CoreState::from_u8(s.load(Ordering::Acquire)))
    }

    /// The boot core is on from the start.
    pub fn mark_boot_core(&self, core: usize) {
        self.state[core].store(CoreState::On as u8, Ordering::Release);
    }

    /// CPU_ON: claims an OFF core and records its NS entry. The caller has
    /// already checked `entry` and translated the MPIDR into `core`.
    pub fn claim(&self, core: usize, ns: NsEntry) -> Result<(), PsciError> {
        let slot = self.state.get(core).ok_or(PsciError::InvalidParameters)?;
        match slot.compare_exchange(
            CoreState::Off as u8,
            CoreState::OnPending as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.entry[core].store(ns.entry, Ordering::Relaxed);
                self.context_id[core].store(ns.context_id, Ordering::Relaxed);
                Ok(())
            }
            Err(v) if v == CoreState::On as u8 => Err(PsciError::AlreadyOn),
            Err(_) => Err(PsciError::OnPending),
        }
    }

    /// Undoes a `claim` whose core could not be powered: ON_PENDING back to
    /// OFF, so that the caller's error leaves the state as it was.
    pub fn abandon(&self, core: usize) {
        if let Some(slot) = self.state.get(core) {
            let _ = slot.compare_exchange(
                CoreState::OnPending as u8,
                CoreState::Off as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    /// Called by the core itself once it runs: returns its NS entry and marks it ON.
    pub fn finish_on(&self, core: usize) -> Option<NsEntry> {
        let slot = self.state.get(core)?;
        slot.compare_exchange(
            CoreState::OnPending as u8,
            CoreState::On as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .ok()?;
        Some(NsEntry {
            entry: self.entry[core].load(Ordering::Relaxed),
            context_id: self.context_id[core].load(Ordering::Relaxed),
        })
    }

    /// CPU_OFF: the calling core goes OFF (DENIED if it was not ON).
    pub fn off(&self, core: usize) -> Result<(), PsciError> {
        let slot = self.state.get(core).ok_or(PsciError::Denied)?;
        slot.compare_exchange(
            CoreState::On as u8,
            CoreState::Off as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .map(|_| ())
        .map_err(|_| PsciError::Denied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: NsEntry = NsEntry {
        entry: 0x4190_0000,
        context_id: 7,
    };

    #[test]
    fn abandoned_claim_leaves_the_core_off() {
        let cores = PsciCores::<2>::new();
        cores.claim(1, E).unwrap();
        cores.abandon(1);
        assert_eq!(cores.state(1), Some(CoreState::Off));
        cores.mark_boot_core(0);
        cores.abandon(0);
        assert_eq!(cores.state(0), Some(CoreState::On));
        cores.claim(1, E).unwrap();
        assert_eq!(cores.finish_on(1), Some(E));
    }

    #[test]
    fn cpu_on_lifecycle() {
        let c: PsciCores<4> = PsciCores::new();
        c.mark_boot_core(0);
        assert_eq!(c.state(1), Some(CoreState::Off));
        assert_eq!(c.claim(0, E), Err(PsciError::AlreadyOn));
        assert_eq!(c.claim(1, E), Ok(()));
        assert_eq!(c.state(1), Some(CoreState::OnPending));
        assert_eq!(c.claim(1, E), Err(PsciError::OnPending));
        assert_eq!(c.finish_on(1), Some(E));
        assert_eq!(c.finish_on(1), None);
        assert_eq!(c.state(1), Some(CoreState::On));
        assert_eq!(c.off(1), Ok(()));
        assert_eq!(c.off(1), Err(PsciError::Denied));
        assert_eq!(c.claim(9, E), Err(PsciError::InvalidParameters));
        assert_eq!(c.state(9), None);
    }
}
