//! The RMI ABI (RMM specification 1.0, Arm DEN0137 1.0-REL0, chapter B4):
//! function IDs, status codes, and the decoded [`Command`] the RMM's
//! dispatcher turns every forwarded SMC into.

use serde::{Deserialize, Serialize};

pub const VERSION: u32 = 0xc400_0150;
pub const GRANULE_DELEGATE: u32 = 0xc400_0151;
pub const GRANULE_UNDELEGATE: u32 = 0xc400_0152;
pub const DATA_CREATE: u32 = 0xc400_0153;
pub const DATA_CREATE_UNKNOWN: u32 = 0xc400_0154;
pub const DATA_DESTROY: u32 = 0xc400_0155;
pub const REALM_ACTIVATE: u32 = 0xc400_0157;
pub const REALM_CREATE: u32 = 0xc400_0158;
pub const REALM_DESTROY: u32 = 0xc400_0159;
pub const REC_CREATE: u32 = 0xc400_015a;
pub const REC_DESTROY: u32 = 0xc400_015b;
pub const REC_ENTER: u32 = 0xc400_015c;
pub const RTT_CREATE: u32 = 0xc400_015d;
pub const RTT_DESTROY: u32 = 0xc400_015e;
pub const RTT_MAP_UNPROTECTED: u32 = 0xc400_015f;
pub const RTT_READ_ENTRY: u32 = 0xc400_0161;
pub const RTT_UNMAP_UNPROTECTED: u32 = 0xc400_0162;
pub const PSCI_COMPLETE: u32 = 0xc400_0164;
pub const FEATURES: u32 = 0xc400_0165;
pub const RTT_FOLD: u32 = 0xc400_0166;
pub const REC_AUX_COUNT: u32 = 0xc400_0167;
pub const RTT_INIT_RIPAS: u32 = 0xc400_0168;
pub const RTT_SET_RIPAS: u32 = 0xc400_0169;

/// RMI ABI version implemented: 1.0 ([30:16] major, [15:0] minor).
pub const ABI_VERSION: u64 = 1 << 16;

/// RmiStatusCode values (B4.4.5).
pub const SUCCESS: u64 = 0;
pub const ERROR_INPUT: u64 = 1;
pub const ERROR_REALM: u64 = 2;
pub const ERROR_REC: u64 = 3;
pub const ERROR_RTT: u64 = 4;

/// A failed RMI command: the status and, where the spec gives one, the
/// index (for RMI_ERROR_RTT, the level the walk reached).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RmiError {
    Input,
    Realm(u8),
    Rec(u8),
    Rtt(u8),
}

impl RmiError {
    /// The return code register: status in [7:0], index in [15:8].
    pub const fn reg(self) -> u64 {
        let (status, index) = match self {
            RmiError::Input => (ERROR_INPUT, 0),
            RmiError::Realm(i) => (ERROR_REALM, i),
            RmiError::Rec(i) => (ERROR_REC, i),
            RmiError::Rtt(i) => (ERROR_RTT, i),
        };
        status | (index as u64) << 8
    }

    /// The error a failed command's X0 carries (the inverse of [`Self::reg`];
    /// an unknown status reads as RMI_ERROR_INPUT).
    pub const fn from_reg(x0: u64) -> Self {
        let index = (x0 >> 8) as u8;
        match x0 & 0xff {
            ERROR_REALM => RmiError::Realm(index),
            ERROR_REC => RmiError::Rec(index),
            ERROR_RTT => RmiError::Rtt(index),
            _ => RmiError::Input,
        }
    }
}

pub type RmiResult<T> = Result<T, RmiError>;

/// What a command returns besides its status: x1-x4.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Outputs(pub [u64; 4]);

impl Outputs {
    pub const NONE: Outputs = Outputs([0; 4]);
    pub const fn one(a: u64) -> Self {
        Outputs([a, 0, 0, 0])
    }
    pub const fn two(a: u64, b: u64) -> Self {
        Outputs([a, b, 0, 0])
    }
}

/// The registers a command result becomes (x0-x4).
pub fn result_regs(result: RmiResult<Outputs>) -> [u64; 5] {
    match result {
        Ok(Outputs([a, b, c, d])) => [SUCCESS, a, b, c, d],
        Err(e) => [e.reg(), 0, 0, 0, 0],
    }
}

/// RmiFeatureRegister0 (B4.4.6): what the RMM supports for realms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FeatureRegister0 {
    /// Largest IPA width a realm may ask for.
    pub s2sz: u8,
    pub lpa2: bool,
    pub sve_en: bool,
    pub sve_vl: u8,
    /// Breakpoints and watchpoints, minus one.
    pub num_bps: u8,
    pub num_wps: u8,
    pub pmu_en: bool,
    pub pmu_num_ctrs: u8,
    pub hash_sha_256: bool,
    pub hash_sha_512: bool,
    /// GICv3 list registers, minus one.
    pub gicv3_num_lrs: u8,
    pub max_recs_order: u8,
}

impl FeatureRegister0 {
    pub const fn to_bits(&self) -> u64 {
        (self.s2sz as u64)
            | (self.lpa2 as u64) << 8
            | (self.sve_en as u64) << 9
            | ((self.sve_vl & 0xf) as u64) << 10
            | ((self.num_bps & 0x3f) as u64) << 14
            | ((self.num_wps & 0x3f) as u64) << 20
            | (self.pmu_en as u64) << 26
            | ((self.pmu_num_ctrs & 0x1f) as u64) << 27
            | (self.hash_sha_256 as u64) << 32
            | (self.hash_sha_512 as u64) << 33
            | ((self.gicv3_num_lrs & 0xf) as u64) << 34
            | ((self.max_recs_order & 0xf) as u64) << 38
    }
}

/// Every RMI command this RMM implements, decoded from x0-x6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Command {
    Version {
        requested: u64,
    },
    Features {
        index: u64,
    },
    GranuleDelegate {
        addr: u64,
    },
    GranuleUndelegate {
        addr: u64,
    },
    RealmCreate {
        rd: u64,
        params: u64,
    },
    RealmActivate {
        rd: u64,
    },
    RealmDestroy {
        rd: u64,
    },
    DataCreate {
        rd: u64,
        data: u64,
        ipa: u64,
        src: u64,
        flags: u64,
    },
    DataCreateUnknown {
        rd: u64,
        data: u64,
        ipa: u64,
    },
    DataDestroy {
        rd: u64,
        ipa: u64,
    },
    RttCreate {
        rd: u64,
        rtt: u64,
        ipa: u64,
        level: u64,
    },
    RttDestroy {
        rd: u64,
        ipa: u64,
        level: u64,
    },
    RttFold {
        rd: u64,
        ipa: u64,
        level: u64,
    },
    RttReadEntry {
        rd: u64,
        ipa: u64,
        level: u64,
    },
    RttMapUnprotected {
        rd: u64,
        ipa: u64,
        level: u64,
        desc: u64,
    },
    RttUnmapUnprotected {
        rd: u64,
        ipa: u64,
        level: u64,
    },
    RttInitRipas {
        rd: u64,
        base: u64,
        top: u64,
    },
    RttSetRipas {
        rd: u64,
        rec: u64,
        base: u64,
        top: u64,
    },
    RecCreate {
        rd: u64,
        rec: u64,
        params: u64,
    },
    RecDestroy {
        rec: u64,
    },
    RecEnter {
        rec: u64,
        run: u64,
    },
    RecAuxCount {
        rd: u64,
    },
    PsciComplete {
        calling: u64,
        target: u64,
        status: u64,
    },
}

impl Command {
    /// Decodes x0-x7 as forwarded by EL3; None for a function this RMM
    /// does not implement (answered SMC_UNKNOWN). The SMCCC 1.3 SVE hint
    /// (x0 bit 16) does not change the command; the dispatcher reads it
    /// with [`crate::smccc::sve_hint`] for REC_ENTER, the one command whose
    /// cost depends on it.
    pub fn decode(x: &[u64; 8]) -> Option<Command> {
        Some(match crate::smccc::function_id(x[0]) {
            VERSION => Command::Version { requested: x[1] },
            FEATURES => Command::Features { index: x[1] },
            GRANULE_DELEGATE => Command::GranuleDelegate { addr: x[1] },
            GRANULE_UNDELEGATE => Command::GranuleUndelegate { addr: x[1] },
            REALM_CREATE => Command::RealmCreate {
                rd: x[1],
                params: x[2],
            },
            REALM_ACTIVATE => Command::RealmActivate { rd: x[1] },
            REALM_DESTROY => Command::RealmDestroy { rd: x[1] },
            DATA_CREATE => Command::DataCreate {
                rd: x[1],
                data: x[2],
                ipa: x[3],
                src: x[4],
                flags: x[5],
            },
            DATA_CREATE_UNKNOWN => Command::DataCreateUnknown {
                rd: x[1],
                data: x[2],
                ipa: x[3],
            },
            DATA_DESTROY => Command::DataDestroy {
                rd: x[1],
                ipa: x[2],
            },
            RTT_CREATE => Command::RttCreate {
                rd: x[1],
                rtt: x[2],
                ipa: x[3],
                level: x[4],
            },
            RTT_DESTROY => Command::RttDestroy {
                rd: x[1],
                ipa: x[2],
                level: x[3],
            },
            RTT_FOLD => Command::RttFold {
                rd: x[1],
                ipa: x[2],
                level: x[3],
            },
            RTT_READ_ENTRY => Command::RttReadEntry {
                rd: x[1],
                ipa: x[2],
                level: x[3],
            },
            RTT_MAP_UNPROTECTED => Command::RttMapUnprotected {
                rd: x[1],
                ipa: x[2],
                level: x[3],
                desc: x[4],
            },
            RTT_UNMAP_UNPROTECTED => Command::RttUnmapUnprotected {
                rd: x[1],
                ipa: x[2],
                level: x[3],
            },
            RTT_INIT_RIPAS => Command::RttInitRipas {
                rd: x[1],
                base: x[2],
                top: x[3],
            },
            RTT_SET_RIPAS => Command::RttSetRipas {
                rd: x[1],
                rec: x[2],
                base: x[3],
                top: x[4],
            },
            REC_CREATE => Command::RecCreate {
                rd: x[1],
                rec: x[2],
                params: x[3],
            },
            REC_DESTROY => Command::RecDestroy { rec: x[1] },
            REC_ENTER => Command::RecEnter {
                rec: x[1],
                run: x[2],
            },
            REC_AUX_COUNT => Command::RecAuxCount { rd: x[1] },
            PSCI_COMPLETE => Command::PsciComplete {
                calling: x[1],
                target: x[2],
                status: x[3],
            },
            _ => return None,
        })
    }
}

/// Sends a command to the service that owns the object it acts on and
/// returns X0-X4: GRANULE_* to the granule service, REALM_* to the realm
/// service, REC_*, PSCI_COMPLETE and RTT_SET_RIPAS (which completes a
/// REC's request) to the REC service, other RTT_* and DATA_* to the RTT
/// service. None for the commands the dispatcher answers itself (VERSION,
/// FEATURES) and for REC_ENTER, which runs the kernel's REC loop. A
/// transport failure is RMI_ERROR_INPUT: the command did not happen.
pub fn call_owner<R>(router: &mut R, command: Command) -> Option<[u64; 5]>
where
    R: crate::Transport<crate::granule::GranuleProtocol>
        + crate::Transport<crate::realm::RealmProtocol>
        + crate::Transport<crate::rtt::RttProtocol>
        + crate::Transport<crate::rec::RecProtocol>,
{
    use crate::Transport;
    use crate::granule::{GranuleProtocol, GranuleReply, GranuleRequest};
    use crate::realm::{RealmProtocol, RealmReply, RealmRequest};
    use crate::rec::{RecProtocol, RecReply, RecRequest};
    use crate::rtt::{RttProtocol, RttReply, RttRequest};
    let input = result_regs(Err(RmiError::Input));
    Some(match command {
        Command::Version { .. } | Command::Features { .. } | Command::RecEnter { .. } => {
            return None;
        }
        Command::RecCreate { .. }
        | Command::RecDestroy { .. }
        | Command::RecAuxCount { .. }
        | Command::PsciComplete { .. }
        | Command::RttSetRipas { .. } => {
            match Transport::<RecProtocol>::call(router, RecRequest::Rmi(command)) {
                Ok(RecReply::Rmi(r)) => result_regs(r),
                _ => input,
            }
        }
        Command::GranuleDelegate { .. } | Command::GranuleUndelegate { .. } => {
            match Transport::<GranuleProtocol>::call(router, GranuleRequest::Rmi(command)) {
                Ok(GranuleReply::Rmi(r)) => result_regs(r),
                _ => input,
            }
        }
        Command::RealmCreate { .. }
        | Command::RealmActivate { .. }
        | Command::RealmDestroy { .. } => {
            match Transport::<RealmProtocol>::call(router, RealmRequest::Rmi(command)) {
                Ok(RealmReply::Rmi(r)) => result_regs(r),
                _ => input,
            }
        }
        // Some RTT failures still return `top`, so the RTT service answers registers.
        _ => match Transport::<RttProtocol>::call(router, RttRequest::Rmi(command)) {
            Ok(RttReply::Regs(regs)) => regs,
            _ => input,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::round_trip;

    #[test]
    fn feature_register_0_bits() {
        let f = FeatureRegister0 {
            s2sz: 48,
            lpa2: true,
            sve_en: true,
            sve_vl: 0xf,
            num_bps: 5,
            num_wps: 3,
            pmu_en: true,
            pmu_num_ctrs: 31,
            hash_sha_256: true,
            hash_sha_512: true,
            gicv3_num_lrs: 15,
            max_recs_order: 10,
        };
        let b = f.to_bits();
        assert_eq!(b & 0xff, 48);
        assert_eq!((b >> 8) & 1, 1);
        assert_eq!((b >> 10) & 0xf, 0xf);
        assert_eq!((b >> 14) & 0x3f, 5);
        assert_eq!((b >> 20) & 0x3f, 3);
        assert_eq!((b >> 27) & 0x1f, 31);
        assert_eq!((b >> 32) & 3, 3);
        assert_eq!((b >> 34) & 0xf, 15);
        assert_eq!((b >> 38) & 0xf, 10);
        assert_eq!(b >> 42, 0);
        assert_eq!(FeatureRegister0::default().to_bits(), 0);
    }

    #[test]
    fn status_encoding() {
        assert_eq!(RmiError::Input.reg(), 1);
        assert_eq!(RmiError::Rtt(2).reg(), 0x204);
        assert_eq!(RmiError::Realm(0).reg(), 2);
        assert_eq!(result_regs(Ok(Outputs::two(7, 8))), [0, 7, 8, 0, 0]);
        assert_eq!(result_regs(Err(RmiError::Rtt(3))), [0x304, 0, 0, 0, 0]);
        for e in [
            RmiError::Input,
            RmiError::Realm(1),
            RmiError::Rec(0),
            RmiError::Rtt(3),
        ] {
            assert_eq!(RmiError::from_reg(e.reg()), e);
        }
    }

    #[test]
    fn decodes_every_command_and_round_trips() {
        let fids = [
            VERSION,
            FEATURES,
            GRANULE_DELEGATE,
            GRANULE_UNDELEGATE,
            REALM_CREATE,
            REALM_ACTIVATE,
            REALM_DESTROY,
            DATA_CREATE,
            DATA_CREATE_UNKNOWN,
            DATA_DESTROY,
            RTT_CREATE,
            RTT_DESTROY,
            RTT_FOLD,
            RTT_READ_ENTRY,
            RTT_MAP_UNPROTECTED,
            RTT_UNMAP_UNPROTECTED,
            RTT_INIT_RIPAS,
            RTT_SET_RIPAS,
            REC_CREATE,
            REC_DESTROY,
            REC_ENTER,
            REC_AUX_COUNT,
            PSCI_COMPLETE,
        ];
        for fid in fids {
            let cmd = Command::decode(&[u64::from(fid), 1, 2, 3, 4, 5, 6, 7]).expect("decodes");
            round_trip(&cmd);
        }
        assert_eq!(
            Command::decode(&[u64::from(DATA_CREATE), 1, 2, 3, 4, 5, 0, 0]),
            Some(Command::DataCreate {
                rd: 1,
                data: 2,
                ipa: 3,
                src: 4,
                flags: 5
            })
        );
        for unknown in [
            0xc400_0156u32,
            0xc400_0160,
            0xc400_0163,
            0xc400_016a,
            0xc400_018f,
        ] {
            assert_eq!(
                Command::decode(&[u64::from(unknown), 0, 0, 0, 0, 0, 0, 0]),
                None
            );
        }
        round_trip(&Outputs([1, 2, 3, u64::MAX]));
        // The SVE hint (FID bit 16) names the same command; the other
        // reserved bits (23:17) make any FID unknown.
        for fid in fids {
            let args = [1, 2, 3, 4, 5, 6, 7];
            let regs = |x0: u32| {
                let mut r = [u64::from(x0); 8];
                r[1..].copy_from_slice(&args);
                r
            };
            let plain = Command::decode(&regs(fid));
            assert!(plain.is_some());
            assert_eq!(
                Command::decode(&regs(fid | crate::smccc::SVE_HINT)),
                plain,
                "{fid:#x}"
            );
            for bit in 17..24 {
                assert_eq!(
                    Command::decode(&regs(fid | 1 << bit)),
                    None,
                    "{fid:#x} bit {bit}"
                );
            }
        }
        for e in [
            RmiError::Input,
            RmiError::Realm(1),
            RmiError::Rec(2),
            RmiError::Rtt(3),
        ] {
            round_trip(&e);
        }
    }
}
