//! Root's client of the RSE (Runtime Security Engine, running TF-M) on
//! Neoverse RD-V3: the CCA platform token and the realm attestation key
//! come from TF-M's delegated attestation service, reached with PSA client
//! calls over the AP<->RSE root MHUv3, as TF-A's BL31 does.
//!
//! * [`mhu`]: MHUv3 postbox/mailbox doorbell driver and the
//!   word-per-channel transport, over the [`Mmio`] trait the kernel
//!   implements (this crate has no `unsafe`).
//! * [`sfcp`]: SFCP framing (TF-A v2.15.0); [`rse_comms`]: the older
//!   rse_comms framing (TF-A v2.14.0). Which one applies depends on the RSE
//!   firmware, so it is chosen at run time ([`Protocol`]).
//! * [`psa`]: `psa_call` bodies shared by both (embed and pointer access),
//!   status codes.
//! * [`RseClient`]: one call end to end; [`attest`] adds the two
//!   attestation calls.
//! * [`rdv3`]: RD-V3 addresses and limits.
//!
//! ```ignore
//! let mut rse = RseClient::new(
//!     KernelMmio::at(rdv3::AP_RSE_ROOT_MHU_V3_PBX),
//!     KernelMmio::at(rdv3::AP_RSE_ROOT_MHU_V3_MBX),
//!     Config::rdv3_sfcp(SPIN_LIMIT),
//! )?;
//! let mut rak = [0u8; attest::RAK_SIZE];
//! rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut rak, None)?;
//! let len = rse.get_platform_token(&challenge, &mut token_buf, None)?;
//! ```
#![no_std]
#![forbid(unsafe_code)]

pub mod attest;
mod client;
pub mod mhu;
pub mod psa;
pub mod rdv3;
pub mod rse_comms;
pub mod sfcp;

pub use attest::RakHashAlgorithm;
pub use client::{Config, DmaWindow, Protocol, RseClient, TransferPolicy};
pub use mhu::{MhuError, Mmio};
pub use psa::{PsaCall, PsaError, Transfer};
pub use rse_comms::RseCommsReplyFault;
pub use sfcp::{SfcpIds, SfcpProtocolError, SfcpReplyFault};

/// Why a call to the RSE failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The MHU: revision, channel count, timeout, bus busy.
    Mhu(MhuError),
    /// The call was refused before anything was sent.
    InvalidCall(CallError),
    /// The RSE's SFCP layer answered with a protocol error reply.
    SfcpProtocol(SfcpProtocolError),
    /// The reply does not belong to our message or is malformed.
    MalformedReply(Malformed),
    /// The reply holds more output than the caller's buffer (the reply was
    /// drained and dropped).
    OutputTooSmall { needed: usize, capacity: usize },
    /// The service answered with a PSA error status.
    Service(PsaError),
    /// GET_DELEGATED_KEY returned a key that is not [`attest::RAK_SIZE`]
    /// bytes.
    UnexpectedKeySize(usize),
    /// The challenge is not 32, 48 or 64 bytes.
    InvalidChallengeSize(usize),
}

/// Calls refused before anything reaches the MHU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// More than [`psa::MAX_IOVEC`] inputs plus outputs.
    TooManyIovecs,
    /// Message type outside 0..=`INT16_MAX`.
    CallType(i32),
    /// Inputs plus outputs exceed the RSE's embed capacity.
    EmbedTooLarge {
        needed: usize,
        capacity: usize,
    },
    /// One iovec does not fit its size field (u16 embedded, u32 by
    /// pointer).
    IovecTooLarge(usize),
    /// Pointer access chosen but no [`DmaWindow`] given.
    NoDmaWindow,
    DmaWindowTooSmall {
        needed: usize,
        size: usize,
    },
    /// An output buffer below what the call needs.
    OutputBufferTooSmall {
        needed: usize,
        size: usize,
    },
    /// SFCP node IDs of AP and RSE are equal.
    InvalidConfig,
}

/// Ways a reply can fail to match the message or its own framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    Sfcp(SfcpReplyFault),
    RseComms(RseCommsReplyFault),
    /// Shorter than a reply header.
    Truncated {
        len: usize,
    },
    /// Length on the MHU differs from the header plus output sizes.
    Length {
        len: usize,
        expected: usize,
    },
    /// PSA `protocol_ver` differs from the one of the message.
    PsaProtocol {
        expected: u8,
        got: u8,
    },
    /// A non-zero size for an output the call does not have.
    UnexpectedOutput {
        index: usize,
    },
}
