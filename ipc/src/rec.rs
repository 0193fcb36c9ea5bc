//! The REC service's protocol (RMM) and the REC context: the state of one
//! Realm Execution Context as it lives in its REC granule.
//!
//! The context is shared by exactly two parties, each through a lease on
//! the REC granule: the REC service (which owns it: creation, PSCI, exit
//! handling) and the kernel's CPU switch, which loads the architectural
//! part into the CPU before running the realm and saves it back when the
//! realm takes an exception to R-EL2. Between two runs the context is
//! complete, so exit handling (including exception injection) is plain
//! host-testable code.

use crate::rmi::{Command, Outputs, RmiResult};
use crate::{Endpoint, Protocol};
use bytemuck::{Pod, Zeroable};
use serde::{Deserialize, Serialize};

/// The EL1 (and EL0) system registers of a realm, in the order the kernel
/// saves them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct El1Regs {
    pub sp_el0: u64,
    pub sp_el1: u64,
    pub elr_el1: u64,
    pub spsr_el1: u64,
    pub sctlr_el1: u64,
    pub actlr_el1: u64,
    pub cpacr_el1: u64,
    pub ttbr0_el1: u64,
    pub ttbr1_el1: u64,
    pub tcr_el1: u64,
    pub esr_el1: u64,
    pub afsr0_el1: u64,
    pub afsr1_el1: u64,
    pub far_el1: u64,
    pub mair_el1: u64,
    pub amair_el1: u64,
    pub vbar_el1: u64,
    pub contextidr_el1: u64,
    pub tpidr_el0: u64,
    pub tpidrro_el0: u64,
    pub tpidr_el1: u64,
    pub cntkctl_el1: u64,
    pub par_el1: u64,
    pub mdscr_el1: u64,
    pub csselr_el1: u64,
    pub mdccint_el1: u64,
}

/// The realm's EL1 timers (CNTV and CNTP as EL1 sees them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct TimerRegs {
    pub cntv_ctl: u64,
    pub cntv_cval: u64,
    pub cntp_ctl: u64,
    pub cntp_cval: u64,
    pub cntvoff: u64,
}

/// CNTx_CTL_EL0 bits.
pub const TIMER_ENABLE: u64 = 1 << 0;
pub const TIMER_IMASK: u64 = 1 << 1;
pub const TIMER_ISTATUS: u64 = 1 << 2;

/// A timer whose interrupt is asserted: enabled, condition met, unmasked.
pub const fn timer_asserted(ctl: u64) -> bool {
    ctl & (TIMER_ENABLE | TIMER_ISTATUS | TIMER_IMASK) == TIMER_ENABLE | TIMER_ISTATUS
}

/// The GICv3 virtual CPU interface state of a REC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct GicRegs {
    pub hcr: u64,
    pub vmcr: u64,
    pub misr: u64,
    pub lrs: [u64; 16],
    pub ap0r: [u64; 4],
    pub ap1r: [u64; 4],
}

/// What the next exit to the host will report, assembled while the REC
/// runs (the GIC and timer parts are read from the context at the end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct PendingExit {
    pub reason: u64,
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
    pub gprs: [u64; 31],
    pub ripas_base: u64,
    pub ripas_top: u64,
    pub ripas_value: u64,
    pub imm: u64,
}

/// REC flags (software state).
pub const FLAG_RUNNABLE: u64 = 1 << 0;
/// A PSCI request (CPU_ON, AFFINITY_INFO) waits for RMI_PSCI_COMPLETE.
pub const FLAG_PSCI_PENDING: u64 = 1 << 1;
/// An RSI_HOST_CALL waits for the host's answer on the next entry.
pub const FLAG_HOST_CALL: u64 = 1 << 2;
/// The last exit was a data abort the host may emulate (ISV reported).
pub const FLAG_EMULATABLE: u64 = 1 << 3;

/// A REC's whole state; stored at offset 0 of its REC granule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct RecContext {
    /// X0-X30.
    pub gprs: [u64; 31],
    /// Where the realm resumes (ELR_EL2) and its PSTATE (SPSR_EL2).
    pub pc: u64,
    pub pstate: u64,
    pub el1: El1Regs,
    pub timer: TimerRegs,
    pub gic: GicRegs,
    /// APIA/APIB/APDA/APDB/APGA keys, lo then hi.
    pub pauth: [u64; 10],
    /// EL2 controls while this REC runs.
    pub hcr: u64,
    pub vttbr: u64,
    pub vtcr: u64,
    pub vmpidr: u64,
    /// The physical address of the auxiliary granule holding FP/SIMD state.
    pub fp_state: u64,
    /// Timer interrupts the host was last told are asserted (bit 0 virtual,
    /// bit 1 physical); a change forces an exit so the host learns it.
    pub timers_reported: u64,

    // Software state of the REC service.
    pub rd: u64,
    pub mpidr: u64,
    pub index: u64,
    pub flags: u64,
    /// The realm's IPA width and hash algorithm (copied at REC_CREATE).
    pub ipa_width: u64,
    pub hash_algo: u64,
    pub num_aux: u64,
    pub aux: [u64; 16],
    /// ESR/FAR/HPFAR of the last exit to the host (completing MMIO/SEA).
    pub last_esr: u64,
    pub last_far: u64,
    pub last_hpfar: u64,
    /// The RIPAS change the realm asked for: [base, top), how far the host
    /// got (`addr`), the RIPAS, and RSI_CHANGE_DESTROYED.
    pub ripas_base: u64,
    pub ripas_top: u64,
    pub ripas_addr: u64,
    pub ripas_value: u64,
    pub ripas_flags: u64,
    pub exit: PendingExit,
    /// The attestation token in progress (RSI_ATTESTATION_TOKEN_*): one of
    /// the `ATTEST_*` states, the token's length and how much of it the
    /// realm has been given.
    pub attest_state: u64,
    pub token_len: u64,
    pub token_copied: u64,
}

/// No token in progress (before INIT, after the last CONTINUE).
pub const ATTEST_IDLE: u64 = 0;
/// INIT captured the claims; the token is not signed yet.
pub const ATTEST_CLAIMS: u64 = 1;
/// The token is signed and sits in the token aux granules.
pub const ATTEST_SIGNED: u64 = 2;

impl RecContext {
    pub const SIZE: usize = core::mem::size_of::<RecContext>();

    /// The context at the start of a REC granule.
    pub fn of(g: &crate::lease::Granule) -> &RecContext {
        bytemuck::from_bytes(&g.bytes()[..Self::SIZE])
    }

    pub fn of_mut(g: &mut crate::lease::Granule) -> &mut RecContext {
        bytemuck::from_bytes_mut(&mut g.bytes_mut()[..Self::SIZE])
    }

    pub fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }
}

const _: () = assert!(RecContext::SIZE <= crate::lease::GRANULE_SIZE);

/// FP/SIMD state in the auxiliary granule: V0-V31, then FPSR, FPCR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct FpRegs {
    pub v: [u128; 32],
    pub fpsr: u64,
    pub fpcr: u64,
}

/// How the realm left the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TrapKind {
    /// A synchronous exception (ESR/FAR/HPFAR valid).
    Sync,
    Irq,
    Fiq,
    SError,
    /// Not run: a timer's interrupt state changed since the host was last
    /// told (reported as an IRQ exit).
    TimerChange,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Trap {
    pub kind: TrapKind,
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
    /// A physical interrupt is pending at R-EL2 (ISR_EL1 non-zero) as the
    /// trap is handled: long RSI work (token signing) yields to it.
    pub irq_pending: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecRequest {
    /// RMI_REC_CREATE, REC_DESTROY, REC_AUX_COUNT, PSCI_COMPLETE,
    /// RTT_SET_RIPAS.
    Rmi(Command),
    /// RMI_REC_ENTER, first half: checks the REC and the host's entry
    /// record, completes what the last exit left pending and marks the REC
    /// running on this CPU.
    Enter { rec: u64, run: u64 },
    /// The realm took an exception; the context holds its state.
    Trap { rec: u64, trap: Trap },
    /// RMI_REC_ENTER, second half: writes the exit record and releases the REC.
    Finish { rec: u64, run: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecReply {
    Rmi(RmiResult<Outputs>),
    /// Enter: run the REC.
    Run,
    /// Trap: handled inside the RMM, run the REC again.
    Resume,
    /// Trap: the exit goes to the host.
    Exit,
}

pub struct RecProtocol;

impl Protocol for RecProtocol {
    const ENDPOINT: Endpoint = Endpoint::Rec;
    type Request = RecRequest;
    type Reply = RecReply;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rmi::RmiError;
    use crate::test_support::round_trip;

    #[test]
    fn every_rec_message_round_trips() {
        round_trip(&RecRequest::Rmi(Command::RecEnter { rec: 1, run: 2 }));
        round_trip(&RecRequest::Enter { rec: 1, run: 2 });
        round_trip(&RecRequest::Finish { rec: 1, run: 2 });
        round_trip(&RecRequest::Trap {
            rec: 1,
            trap: Trap {
                kind: TrapKind::Sync,
                esr: u64::MAX,
                far: 3,
                hpfar: 4,
                irq_pending: true,
            },
        });
        for reply in [
            RecReply::Rmi(Ok(Outputs::one(5))),
            RecReply::Rmi(Err(RmiError::Rec(0))),
            RecReply::Run,
            RecReply::Resume,
            RecReply::Exit,
        ] {
            round_trip(&reply);
        }
    }

    #[test]
    fn context_fits_and_timer_assertion() {
        assert!(timer_asserted(TIMER_ENABLE | TIMER_ISTATUS));
        assert!(!timer_asserted(TIMER_ENABLE | TIMER_ISTATUS | TIMER_IMASK));
        assert!(!timer_asserted(TIMER_ISTATUS));
    }
}
