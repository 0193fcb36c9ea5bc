//! Errors of the transport, of the SCP, and of the request helpers.

/// A failure status returned by the SCP in the first payload word.
///
/// Values -1..=-6 are TF-A's `SCMI_E_*` (`include/drivers/arm/css/scmi.h`);
/// -7..=-11 complete the list of the SCMI specification (Arm DEN0056,
/// "Status codes"), which TF-A does not name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScmiStatus {
    /// -1 `NOT_SUPPORTED`.
    NotSupported,
    /// -2 `INVALID_PARAMETERS`.
    InvalidParameters,
    /// -3 `DENIED`.
    Denied,
    /// -4 `NOT_FOUND`.
    NotFound,
    /// -5 `OUT_OF_RANGE`.
    OutOfRange,
    /// -6 `BUSY`.
    Busy,
    /// -7 `COMMS_ERROR`.
    CommsError,
    /// -8 `GENERIC_ERROR`.
    GenericError,
    /// -9 `HARDWARE_ERROR`.
    HardwareError,
    /// -10 `PROTOCOL_ERROR`.
    ProtocolError,
    /// -11 `IN_USE`.
    InUse,
    /// Any other non-success value, kept as received.
    Other(i32),
}

impl ScmiStatus {
    /// Maps a failure code to its name. 0 (success) and 1 (TF-A's
    /// `SCMI_E_QUEUED`) are not failures and land in [`ScmiStatus::Other`];
    /// [`crate::smt::Channel::send`] never passes them here.
    pub const fn from_code(code: i32) -> Self {
        match code {
            -1 => Self::NotSupported,
            -2 => Self::InvalidParameters,
            -3 => Self::Denied,
            -4 => Self::NotFound,
            -5 => Self::OutOfRange,
            -6 => Self::Busy,
            -7 => Self::CommsError,
            -8 => Self::GenericError,
            -9 => Self::HardwareError,
            -10 => Self::ProtocolError,
            -11 => Self::InUse,
            other => Self::Other(other),
        }
    }

    /// The wire value.
    pub const fn code(self) -> i32 {
        match self {
            Self::NotSupported => -1,
            Self::InvalidParameters => -2,
            Self::Denied => -3,
            Self::NotFound => -4,
            Self::OutOfRange => -5,
            Self::Busy => -6,
            Self::CommsError => -7,
            Self::GenericError => -8,
            Self::HardwareError => -9,
            Self::ProtocolError => -10,
            Self::InUse => -11,
            Self::Other(code) => code,
        }
    }
}

/// Why a request did not complete as asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The channel was still owned by the SCP before sending: nothing was
    /// written and the doorbell was not rung.
    ChannelBusy,
    /// The SCP did not hand the channel back within the poll limit after
    /// the doorbell. The channel stays owned by the SCP until it answers.
    Timeout,
    /// The SCP set the channel error bit when handing the channel back.
    ChannelError,
    /// The response length cannot hold a header and a status word.
    ShortResponse {
        /// Length field read back, in bytes.
        length: u32,
    },
    /// A successful response whose length is not the one the message
    /// defines (TF-A asserts the same, e.g. `SCMI_PWR_STATE_SET_RESP_LEN`).
    LengthMismatch {
        /// Length the message defines, in bytes.
        expected: u32,
        /// Length field read back, in bytes.
        actual: u32,
    },
    /// The response header is not the echo of the request header (TF-A
    /// checks the token; the SCP echoes the whole word).
    HeaderMismatch {
        /// Header written.
        sent: u32,
        /// Header read back.
        received: u32,
    },
    /// The SCP answered with a failure status.
    Status(ScmiStatus),
    /// The SCP only queued a request that must be done synchronously
    /// (anything but POWER_STATE_SET for CPU_ON/CPU_OFF).
    Queued,
    /// A request's payload or expected response length does not fit the
    /// transfer buffers or is not a whole number of words.
    InvalidRequest,
    /// The core index has no entry in the board's domain map.
    UnknownCore(usize),
    /// The core's power domain is served by another SCMI channel than the
    /// one this client drives.
    ForeignChannel {
        /// Core index asked for.
        core: usize,
        /// Channel the domain map names.
        channel: u16,
    },
    /// The SCP implements a protocol version older than the client's
    /// (TF-A's `is_scmi_version_compatible`).
    IncompatibleVersion {
        /// Protocol id.
        protocol: u8,
        /// Version the SCP reported.
        version: u32,
    },
    /// A composite power state asked for a level the encoding cannot hold.
    InvalidPowerLevel(u8),
    /// `cpu_off` needs the caller's PSCI coordination on boards whose
    /// clusters hold more than one core; use `cpu_off_scoped`.
    ClusterCoordinationRequired,
}
