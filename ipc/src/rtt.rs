//! The RTT service's protocol (RMM): realm stage-2 tables. It answers the
//! RTT_* commands and the DATA_* commands (a DATA granule is an RTT entry).

use crate::rmi::Command;
use crate::{Endpoint, Protocol};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RttRequest {
    /// RTT_CREATE, RTT_DESTROY, RTT_FOLD, RTT_READ_ENTRY,
    /// RTT_MAP_UNPROTECTED, RTT_UNMAP_UNPROTECTED, RTT_INIT_RIPAS,
    /// DATA_CREATE, DATA_CREATE_UNKNOWN, DATA_DESTROY.
    Rmi(Command),
    /// True when the `count` starting-level tables at `rtt_base` (level
    /// `level`) hold no live entry, so that the realm may be destroyed.
    /// The caller holds the RD, which holds the tables.
    RootsUnused { rtt_base: u64, count: u8, level: i8 },
    /// Fills freshly delegated (zero) starting-level tables for a new
    /// realm: protected IPAs UNASSIGNED/EMPTY, unprotected ones
    /// UNASSIGNED_NS. The caller (REALM_CREATE) holds them locked.
    InitRoots {
        rtt_base: u64,
        count: u8,
        level: i8,
        s2sz: u8,
    },
    /// Drops every stage-1 and stage-2 TLB entry tagged with `vmid` (a
    /// destroyed realm's, before the VMID is reused).
    InvalidateVmid { vmid: u16 },
    /// What backs Protected IPA `ipa` of the realm (for RSI calls and
    /// realm aborts). With `pin`, an ASSIGNED RAM page's DATA granule is
    /// returned locked: the caller may lease it and must unlock it, taking
    /// no other lock meanwhile. Takes the RD lock itself.
    Lookup { rd: u64, ipa: u64, pin: bool },
    /// RSI_IPA_STATE_GET: the RIPAS at `base` and how far it extends
    /// (at most to `end`), within one table. Takes the RD lock itself.
    RipasRun { rd: u64, base: u64, end: u64 },
    /// RMI_RTT_SET_RIPAS's table update, from `base` towards `top` within
    /// one table. The caller (the REC service) holds the RD and the REC
    /// and has checked the request against the REC's.
    SetRipas {
        rd: u64,
        base: u64,
        top: u64,
        ripas: u8,
        change_destroyed: bool,
    },
}

/// What an RTT lookup found at a Protected IPA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lookup {
    /// The PA for the IPA when it is ASSIGNED with RIPAS RAM.
    pub pa: Option<u64>,
    /// RsiRipas of the entry (0 EMPTY, 1 RAM, 2 DESTROYED).
    pub ripas: u8,
    /// The level the walk stopped at.
    pub level: i8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RttReply {
    /// X0-X4 of a command. On some RMI_ERROR_RTT failures the spec still
    /// returns an output (`top` of RTT_DESTROY, DATA_DESTROY and
    /// RTT_UNMAP_UNPROTECTED), so the reply is the registers, not a Result.
    Regs([u64; 5]),
    Unused(bool),
    Lookup(Lookup),
    /// RipasRun: the RIPAS and the end of its run.
    Ripas {
        top: u64,
        ripas: u8,
    },
    Done,
    /// A lease on a table failed.
    Failed,
}

pub struct RttProtocol;

impl Protocol for RttProtocol {
    const ENDPOINT: Endpoint = Endpoint::Rtt;
    type Request = RttRequest;
    type Reply = RttReply;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rmi::{Outputs, RmiError, result_regs};
    use crate::test_support::round_trip;

    #[test]
    fn every_rtt_message_round_trips() {
        round_trip(&RttRequest::Rmi(Command::RttCreate {
            rd: 1,
            rtt: 2,
            ipa: 3,
            level: 2,
        }));
        round_trip(&RttRequest::Rmi(Command::DataDestroy { rd: 1, ipa: 3 }));
        round_trip(&RttRequest::RootsUnused {
            rtt_base: 0x4000_0000,
            count: 16,
            level: -1,
        });
        round_trip(&RttReply::Regs(result_regs(Err(RmiError::Rtt(2)))));
        round_trip(&RttReply::Regs(result_regs(Ok(Outputs([1, 2, 3, 4])))));
        round_trip(&RttReply::Regs([0x304, 0, 0x4000_0000, 0, 0]));
        round_trip(&RttRequest::Lookup {
            rd: 1,
            ipa: u64::MAX,
            pin: true,
        });
        round_trip(&RttRequest::InvalidateVmid { vmid: u16::MAX });
        round_trip(&RttRequest::RipasRun {
            rd: 1,
            base: 2,
            end: 3,
        });
        round_trip(&RttRequest::SetRipas {
            rd: 1,
            base: 2,
            top: 3,
            ripas: 1,
            change_destroyed: true,
        });
        round_trip(&RttReply::Lookup(Lookup {
            pa: Some(u64::MAX),
            ripas: 2,
            level: -1,
        }));
        round_trip(&RttReply::Ripas {
            top: u64::MAX,
            ripas: 1,
        });
        round_trip(&RttReply::Unused(true));
        round_trip(&RttRequest::InitRoots {
            rtt_base: 0x4000_0000,
            count: 2,
            level: 1,
            s2sz: 40,
        });
        round_trip(&RttReply::Done);
        round_trip(&RttReply::Failed);
    }
}
