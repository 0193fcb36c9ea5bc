//! The realm service's protocol (RMM): realm descriptors and the RIM.

use crate::rmi::{Command, Outputs, RmiResult};
use crate::{Endpoint, Protocol};
use serde::{Deserialize, Serialize};

/// RealmState (RMM spec 1.0, A2.1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum RealmState {
    New = 0,
    Active = 1,
    SystemOff = 2,
}

/// RmiHashAlgorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum HashAlgo {
    Sha256 = 0,
    Sha512 = 1,
}

/// What other services need to know about a realm (read under the RD lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RealmInfo {
    pub state: RealmState,
    /// IPA width in bits; IPAs at or above 2^(s2sz - 1) are unprotected.
    pub s2sz: u8,
    pub rtt_level_start: i8,
    pub rtt_num_start: u8,
    pub rtt_base: u64,
    pub hash: HashAlgo,
    pub vmid: u16,
    /// RECs created so far (the next REC's index).
    pub rec_count: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RealmRequest {
    /// RMI_REALM_CREATE / ACTIVATE / DESTROY.
    Rmi(Command),
    /// The realm's parameters; the caller holds the RD locked.
    Info { rd: u64 },
    /// Extends the RIM by a DATA_CREATE (RmmMeasurementDescriptorData):
    /// hashes the DATA granule's content when `measure_content`. Caller holds the RD.
    MeasureData {
        rd: u64,
        data: u64,
        ipa: u64,
        measure_content: bool,
    },
    /// Extends the RIM by an RTT_INIT_RIPAS of `[base, top)`
    /// (RmmMeasurementDescriptorRipas). Caller holds the RD.
    MeasureRipas { rd: u64, base: u64, top: u64 },
    /// Extends the RIM by a REC_CREATE of a runnable REC
    /// (RmmMeasurementDescriptorRec over the measured RmiRecParams fields).
    /// Caller holds the RD.
    MeasureRec {
        rd: u64,
        flags: u64,
        pc: u64,
        gprs: [u64; 8],
    },
    /// Counts a new REC (the next REC index). Caller holds the RD.
    AddRec { rd: u64 },
    /// A REC asked for PSCI SYSTEM_OFF or SYSTEM_RESET: the realm becomes
    /// SYSTEM_OFF. Takes the RD lock itself (the caller holds nothing).
    SystemOff { rd: u64 },
    /// RSI_MEASUREMENT_READ of slot `index` (0 RIM, 1-4 REM); takes the RD lock.
    ReadMeasurement { rd: u64, index: u8 },
    /// RSI_MEASUREMENT_EXTEND of REM `index` (1-4) by the first `size`
    /// bytes of `data`; takes the RD lock.
    ExtendMeasurement {
        rd: u64,
        index: u8,
        size: u8,
        data: [u64; 8],
    },
    /// The Realm Personalization Value (fixed at REALM_CREATE).
    Rpv { rd: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RealmReply {
    Done,
    Info(RealmInfo),
    /// A measurement or the RPV: 64 bytes as little-endian words.
    Bytes64([u64; 8]),
    Rmi(RmiResult<Outputs>),
    /// The RD is not a live realm descriptor, or a lease failed.
    Failed,
}

pub struct RealmProtocol;

impl Protocol for RealmProtocol {
    const ENDPOINT: Endpoint = Endpoint::Realm;
    type Request = RealmRequest;
    type Reply = RealmReply;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rmi::RmiError;
    use crate::test_support::round_trip;

    #[test]
    fn every_realm_message_round_trips() {
        round_trip(&RealmRequest::Rmi(Command::RealmCreate {
            rd: 1,
            params: 2,
        }));
        round_trip(&RealmRequest::Info { rd: 3 });
        round_trip(&RealmRequest::MeasureData {
            rd: 1,
            data: 2,
            ipa: 3,
            measure_content: true,
        });
        round_trip(&RealmRequest::MeasureRipas {
            rd: 1,
            base: 0,
            top: u64::MAX,
        });
        for state in [RealmState::New, RealmState::Active, RealmState::SystemOff] {
            for hash in [HashAlgo::Sha256, HashAlgo::Sha512] {
                round_trip(&RealmReply::Info(RealmInfo {
                    state,
                    s2sz: 40,
                    rtt_level_start: -1,
                    rtt_num_start: 16,
                    rtt_base: 0x4000_0000,
                    hash,
                    vmid: u16::MAX,
                    rec_count: u32::MAX,
                }));
            }
        }
        round_trip(&RealmRequest::MeasureRec {
            rd: 1,
            flags: 1,
            pc: u64::MAX,
            gprs: [u64::MAX; 8],
        });
        round_trip(&RealmRequest::AddRec { rd: 1 });
        round_trip(&RealmRequest::SystemOff { rd: 1 });
        round_trip(&RealmRequest::ReadMeasurement { rd: 1, index: 4 });
        round_trip(&RealmRequest::ExtendMeasurement {
            rd: 1,
            index: 1,
            size: 64,
            data: [u64::MAX; 8],
        });
        round_trip(&RealmRequest::Rpv { rd: 1 });
        round_trip(&RealmReply::Bytes64([u64::MAX; 8]));
        round_trip(&RealmReply::Done);
        round_trip(&RealmReply::Failed);
        round_trip(&RealmReply::Rmi(Err(RmiError::Realm(0))));
        round_trip(&RealmReply::Rmi(Ok(Outputs::one(5))));
    }
}
