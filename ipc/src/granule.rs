//! The granule service's protocol (RMM): the Granule Status Table.
//!
//! Locking: every granule has a lock in the GST. A CPU takes it with
//! [`GranuleRequest::Lock`] (which waits while another CPU holds it, then
//! checks the state) and gives it back with [`GranuleRequest::Unlock`];
//! state and reference-count changes are only made by the lock holder.
//! Lock order (deadlock-free by construction): RD, then RTTs from the
//! root down (hand over hand), then the DATA/REC/delegated granule a
//! command targets; two granules of one type are never held at once
//! except parent/child RTTs taken in that order.

use crate::rmi::{Command, RmiResult};
use crate::{Endpoint, Protocol};
use serde::{Deserialize, Serialize};

/// GranuleState (RMM spec 1.0, A2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum GranuleState {
    Undelegated = 0,
    Delegated = 1,
    Rd = 2,
    Rec = 3,
    RecAux = 4,
    Data = 5,
    Rtt = 6,
}

impl GranuleState {
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Undelegated,
            1 => Self::Delegated,
            2 => Self::Rd,
            3 => Self::Rec,
            4 => Self::RecAux,
            5 => Self::Data,
            6 => Self::Rtt,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GranuleRequest {
    /// RMI_GRANULE_DELEGATE / RMI_GRANULE_UNDELEGATE.
    Rmi(Command),
    /// Lock `addr` and check it is in `state`; on a mismatch the lock is
    /// not kept and the state found is returned.
    Lock {
        addr: u64,
        state: GranuleState,
    },
    Unlock {
        addr: u64,
    },
    /// Moves a granule the caller holds locked to `state` (scrubbing it on
    /// the way back to DELEGATED).
    SetState {
        addr: u64,
        state: GranuleState,
    },
    /// Adds `delta` to the reference count of a granule the caller holds locked.
    AddRef {
        addr: u64,
        delta: i64,
    },
    /// State and reference count, as seen now.
    Query {
        addr: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GranuleError {
    /// Not granule aligned, or not a granule the GST tracks.
    BadAddress,
    /// The granule is in another state (the one found).
    WrongState(GranuleState),
    /// The caller does not hold the lock it must hold.
    NotLocked,
    /// A reference count would go below zero or overflow.
    Refcount,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GranuleReply {
    Done,
    Info { state: GranuleState, refcount: u64 },
    Rmi(RmiResult<crate::rmi::Outputs>),
    Error(GranuleError),
}

pub struct GranuleProtocol;

impl Protocol for GranuleProtocol {
    const ENDPOINT: Endpoint = Endpoint::Granule;
    type Request = GranuleRequest;
    type Reply = GranuleReply;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rmi::{Outputs, RmiError};
    use crate::test_support::round_trip;

    #[test]
    fn every_granule_message_round_trips() {
        for v in 0..=6u8 {
            let s = GranuleState::from_u8(v).unwrap();
            assert_eq!(s as u8, v);
            round_trip(&GranuleRequest::Lock {
                addr: 0x4000_0000,
                state: s,
            });
            round_trip(&GranuleRequest::SetState { addr: 1, state: s });
            round_trip(&GranuleReply::Info {
                state: s,
                refcount: u64::MAX,
            });
            round_trip(&GranuleReply::Error(GranuleError::WrongState(s)));
        }
        assert_eq!(GranuleState::from_u8(7), None);
        round_trip(&GranuleRequest::Rmi(Command::GranuleDelegate {
            addr: 0x8000_0000,
        }));
        round_trip(&GranuleRequest::Unlock { addr: 2 });
        round_trip(&GranuleRequest::AddRef { addr: 3, delta: -1 });
        round_trip(&GranuleRequest::Query { addr: 4 });
        round_trip(&GranuleReply::Done);
        round_trip(&GranuleReply::Rmi(Ok(Outputs::NONE)));
        round_trip(&GranuleReply::Rmi(Err(RmiError::Input)));
        for e in [
            GranuleError::BadAddress,
            GranuleError::NotLocked,
            GranuleError::Refcount,
        ] {
            round_trip(&GranuleReply::Error(e));
        }
    }
}
