//! Benchmark ids: what the test payloads bracket with the marker
//! instructions (`rampart_arch::bench`) and `cargo xtask bench` counts. The
//! id travels in x16 at the begin marker; xtask names results from [`ALL`].

/// One measured operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bench {
    pub id: u64,
    /// Short machine name (JSON key).
    pub name: &'static str,
    /// What is measured, for the table.
    pub what: &'static str,
}

pub const RMI_VERSION: u64 = 1;
pub const GRANULE_DELEGATE: u64 = 2;
pub const GRANULE_UNDELEGATE: u64 = 3;
pub const RTT_CREATE: u64 = 4;
pub const DATA_CREATE: u64 = 5;
pub const REC_ENTER_HOST_CALL: u64 = 6;
pub const RSI_MEASUREMENT_EXTEND: u64 = 7;
pub const ATTESTATION_TOKEN: u64 = 8;

/// Every benchmark, in report order.
pub const ALL: [Bench; 8] = [
    Bench {
        id: RMI_VERSION,
        name: "rmi_version",
        what: "RMI_VERSION (host SMC to return)",
    },
    Bench {
        id: GRANULE_DELEGATE,
        name: "granule_delegate",
        what: "RMI_GRANULE_DELEGATE of one granule",
    },
    Bench {
        id: GRANULE_UNDELEGATE,
        name: "granule_undelegate",
        what: "RMI_GRANULE_UNDELEGATE of one granule",
    },
    Bench {
        id: RTT_CREATE,
        name: "rtt_create",
        what: "RMI_RTT_CREATE (level 2 and level 3)",
    },
    Bench {
        id: DATA_CREATE,
        name: "data_create",
        what: "RMI_DATA_CREATE of one 4 KB page, content measured",
    },
    Bench {
        id: REC_ENTER_HOST_CALL,
        name: "rec_enter_host_call",
        what: "RMI_REC_ENTER until the guest's RSI_HOST_CALL exit",
    },
    Bench {
        id: RSI_MEASUREMENT_EXTEND,
        name: "rsi_measurement_extend",
        what: "RSI_MEASUREMENT_EXTEND by 64 bytes (guest SMC to return)",
    },
    Bench {
        id: ATTESTATION_TOKEN,
        name: "attestation_token",
        what: "RSI_ATTESTATION_TOKEN_INIT + CONTINUE until the whole token is written",
    },
];

/// The benchmark with id `id`.
pub fn find(id: u64) -> Option<&'static Bench> {
    ALL.iter().find(|b| b.id == id)
}
