//! PSA client call (`psa_call`) serialisation shared by both RSE
//! protocols: status codes, the control parameter, and the "embed" and
//! "pointer access" bodies that follow the protocol header.
//!
//! Sources: TF-A v2.15.0 `include/lib/psa/psa/client.h` and `error.h`;
//! `drivers/arm/sfcp/sfcp_psa/sfcp_psa_protocol/sfcp_psa_protocol_common.h`,
//! `sfcp_psa_protocol_embed.{c,h}`, `sfcp_psa_protocol_pointer_access.{c,h}`;
//! TF-A v2.14.0 `drivers/arm/rse/rse_comms_protocol_{common,embed,
//! pointer_access}.h` carry the same bodies. The RSE side (TF-M
//! `platform/ext/target/arm/rse/common/rse_comms_psa_handler/`) fills
//! replies the same way and zeroes unused `out_size` entries.
//!
//! All multi-byte fields are little-endian and packed.

/// `PSA_MAX_IOVEC`: input plus output vectors of one call (the RSE rejects
/// `in_len + out_len > 4`).
pub const MAX_IOVEC: usize = 4;

/// `PSA_CALL_TYPE_MAX` (`INT16_MAX`); the minimum is 0 (`PSA_IPC_CALL`).
pub const CALL_TYPE_MAX: i32 = i16::MAX as i32;

/// `psa_status_t` value of success.
pub const PSA_SUCCESS: i32 = 0;

/// Control parameter packing (`sfcp_psa_protocol_common.h`,
/// `PARAM_PACK`): type in bits `[15:0]`, out_len in `[18:16]`, in_len in
/// `[26:24]`.
pub mod ctrl {
    pub const TYPE_SHIFT: u32 = 0;
    pub const TYPE_MASK: u32 = 0xFFFF;
    pub const OUT_LEN_SHIFT: u32 = 16;
    pub const IN_LEN_SHIFT: u32 = 24;
    pub const LEN_MASK: u32 = 0x7;
}

/// Packs `type`, `in_len` and `out_len` into `ctrl_param`.
pub const fn ctrl_param(call_type: u16, in_len: usize, out_len: usize) -> u32 {
    ((call_type as u32 & ctrl::TYPE_MASK) << ctrl::TYPE_SHIFT)
        | ((in_len as u32 & ctrl::LEN_MASK) << ctrl::IN_LEN_SHIFT)
        | ((out_len as u32 & ctrl::LEN_MASK) << ctrl::OUT_LEN_SHIFT)
}

/// The value of `protocol_ver` in the PSA header: how the iovecs travel.
/// (`enum sfcp_protocol_version_t` / `enum rse_comms_protocol_version_t`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// Iovec contents travel in the MHU message itself.
    Embed = 0,
    /// The message carries physical addresses; the RSE reads inputs and
    /// writes outputs through its ATU.
    PointerAccess = 1,
}

/// Embed message body (`struct sfcp_embed_msg_t`): `handle: i32`,
/// `ctrl_param: u32`, `io_size: [u16; 4]` (inputs then outputs), then the
/// input bytes back to back.
pub mod embed {
    pub const MSG_HANDLE: usize = 0;
    pub const MSG_CTRL_PARAM: usize = 4;
    pub const MSG_IO_SIZE: usize = 8;
    /// Bytes before the inputs.
    pub const MSG_FIXED: usize = 8 + 2 * super::MAX_IOVEC;

    /// Embed reply body (`struct sfcp_embed_reply_t`): `return_val: i32`,
    /// `out_size: [u16; 4]`, then the output bytes back to back.
    pub const REPLY_RETURN_VAL: usize = 0;
    pub const REPLY_OUT_SIZE: usize = 4;
    /// Bytes before the outputs.
    pub const REPLY_FIXED: usize = 4 + 2 * super::MAX_IOVEC;
}

/// Pointer-access message body (`struct sfcp_pointer_access_msg_t`):
/// `handle: i32`, `ctrl_param: u32`, `io_sizes: [u32; 4]`,
/// `host_ptrs: [u64; 4]`; 56 bytes, nothing after.
pub mod pointer_access {
    pub const MSG_HANDLE: usize = 0;
    pub const MSG_CTRL_PARAM: usize = 4;
    pub const MSG_IO_SIZES: usize = 8;
    pub const MSG_HOST_PTRS: usize = 8 + 4 * super::MAX_IOVEC;
    pub const MSG_SIZE: usize = MSG_HOST_PTRS + 8 * super::MAX_IOVEC;

    /// Reply body (`struct sfcp_pointer_access_reply_t`): `return_val:
    /// i32`, `out_size: [u32; 4]`; 20 bytes.
    pub const REPLY_RETURN_VAL: usize = 0;
    pub const REPLY_OUT_SIZE: usize = 4;
    pub const REPLY_SIZE: usize = 4 + 4 * super::MAX_IOVEC;
}

/// A non-success `psa_status_t` returned by an RSE service
/// (`include/lib/psa/psa/error.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsaError {
    ProgrammerError,
    ConnectionRefused,
    ConnectionBusy,
    GenericError,
    NotPermitted,
    NotSupported,
    InvalidArgument,
    InvalidHandle,
    BadState,
    BufferTooSmall,
    AlreadyExists,
    DoesNotExist,
    InsufficientMemory,
    InsufficientStorage,
    InsufficientData,
    ServiceFailure,
    CommunicationFailure,
    StorageFailure,
    HardwareFailure,
    InvalidSignature,
    DependencyNeeded,
    CurrentlyInstalling,
    /// Any other status, including service-specific positive values, which
    /// the calls made here never expect.
    Other(i32),
}

impl PsaError {
    /// Maps a status that is not [`PSA_SUCCESS`].
    pub const fn from_status(status: i32) -> Self {
        match status {
            -129 => Self::ProgrammerError,
            -130 => Self::ConnectionRefused,
            -131 => Self::ConnectionBusy,
            -132 => Self::GenericError,
            -133 => Self::NotPermitted,
            -134 => Self::NotSupported,
            -135 => Self::InvalidArgument,
            -136 => Self::InvalidHandle,
            -137 => Self::BadState,
            -138 => Self::BufferTooSmall,
            -139 => Self::AlreadyExists,
            -140 => Self::DoesNotExist,
            -141 => Self::InsufficientMemory,
            -142 => Self::InsufficientStorage,
            -143 => Self::InsufficientData,
            -144 => Self::ServiceFailure,
            -145 => Self::CommunicationFailure,
            -146 => Self::StorageFailure,
            -147 => Self::HardwareFailure,
            -149 => Self::InvalidSignature,
            -156 => Self::DependencyNeeded,
            -157 => Self::CurrentlyInstalling,
            other => Self::Other(other),
        }
    }

    /// The raw `psa_status_t`.
    pub const fn status(self) -> i32 {
        match self {
            Self::ProgrammerError => -129,
            Self::ConnectionRefused => -130,
            Self::ConnectionBusy => -131,
            Self::GenericError => -132,
            Self::NotPermitted => -133,
            Self::NotSupported => -134,
            Self::InvalidArgument => -135,
            Self::InvalidHandle => -136,
            Self::BadState => -137,
            Self::BufferTooSmall => -138,
            Self::AlreadyExists => -139,
            Self::DoesNotExist => -140,
            Self::InsufficientMemory => -141,
            Self::InsufficientStorage => -142,
            Self::InsufficientData => -143,
            Self::ServiceFailure => -144,
            Self::CommunicationFailure => -145,
            Self::StorageFailure => -146,
            Self::HardwareFailure => -147,
            Self::InvalidSignature => -149,
            Self::DependencyNeeded => -156,
            Self::CurrentlyInstalling => -157,
            Self::Other(status) => status,
        }
    }
}

/// One `psa_call`: a service handle, a message type, and up to
/// [`MAX_IOVEC`] input and output vectors in total.
pub struct PsaCall<'i, 'o, 'b> {
    pub handle: i32,
    /// `type`, 0..=[`CALL_TYPE_MAX`].
    pub call_type: i32,
    pub inputs: &'i [&'i [u8]],
    /// Outputs are filled from the reply; each slice's length is the size
    /// the RSE is told it may write.
    pub outputs: &'o mut [&'b mut [u8]],
}
