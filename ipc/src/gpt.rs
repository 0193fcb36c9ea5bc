//! The GPT manager's protocol (root world).

use crate::{Endpoint, Protocol};
pub use rampart_board::Gpi;
use serde::{Deserialize, Serialize};

/// Physical address spaces a granule can be moved between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pas {
    Secure,
    NonSecure,
    Realm,
}

impl Pas {
    pub const fn gpi(self) -> Gpi {
        match self {
            Pas::Secure => Gpi::Secure,
            Pas::NonSecure => Gpi::NonSecure,
            Pas::Realm => Gpi::Realm,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GptRequest {
    /// Move the granule at `addr` from `from` to `to`. Only NS<->Realm and
    /// NS<->Secure are transitions; anything else is refused.
    Transition { addr: u64, from: Pas, to: Pas },
    /// Read the GPI of the granule at `addr`.
    Query { addr: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GptError {
    /// Not granule aligned, outside the protected range, or not in a region
    /// that may change PAS (only DRAM granules do).
    BadAddress,
    /// The granule is not currently in the `from` PAS.
    BadPas,
    /// The pair (from, to) is not a permitted transition.
    NotPermitted,
    /// The GPT is not built or not enabled yet.
    NotReady,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GptReply {
    Done,
    Gpi(Gpi),
    Error(GptError),
}

/// Marker type naming the protocol.
pub struct GptProtocol;

impl Protocol for GptProtocol {
    const ENDPOINT: Endpoint = Endpoint::Gpt;
    type Request = GptRequest;
    type Reply = GptReply;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::round_trip;

    #[test]
    fn every_gpt_message_round_trips() {
        for (from, to) in [
            (Pas::NonSecure, Pas::Realm),
            (Pas::Realm, Pas::NonSecure),
            (Pas::NonSecure, Pas::Secure),
            (Pas::Secure, Pas::NonSecure),
        ] {
            round_trip(&GptRequest::Transition {
                addr: 0x4010_0000,
                from,
                to,
            });
        }
        round_trip(&GptRequest::Query { addr: u64::MAX });
        round_trip(&GptReply::Done);
        for gpi in [
            Gpi::NoAccess,
            Gpi::Secure,
            Gpi::NonSecure,
            Gpi::Root,
            Gpi::Realm,
            Gpi::Any,
        ] {
            round_trip(&GptReply::Gpi(gpi));
        }
        for e in [
            GptError::BadAddress,
            GptError::BadPas,
            GptError::NotPermitted,
            GptError::NotReady,
        ] {
            round_trip(&GptReply::Error(e));
        }
    }
}
