//! SFCP packet framing, as TF-A v2.15.0 speaks it to the RSE on RD-V3.
//!
//! Sources: `drivers/arm/sfcp/sfcp_core/sfcp_defs.h` (header, metadata
//! bits, ID extension, error reply), `sfcp_core/sfcp.c` (`sfcp_init_msg`,
//! `sfcp_receive_reply`: message IDs and the checks a reply must pass),
//! `sfcp_core/sfcp_helpers.c` (`sfcp_helpers_parse_packet`),
//! `sfcp_core/sfcp_protocol_error.h`, `include/drivers/arm/sfcp.h`,
//! `sfcp_psa/sfcp_psa_call/sfcp_psa_call.c` (node, application and client
//! IDs of PSA calls), `sfcp_psa/sfcp_psa_protocol/sfcp_psa_protocol.h`
//! (PSA header inside the payload),
//! `plat/arm/board/neoverse_rd/platform/rdv3/rdv3_sfcp.c` (AP node ID,
//! routing table).
//!
//! Cryptography (trusted subnets) is not used: TF-A links
//! `sfcp_encryption_stub.c`, so every packet has the "uses cryptography"
//! bit clear. A PSA call always carries the ID extension because its client
//! ID is not 0.
//!
//! Packet, no cryptography, ID extension (all little-endian, packed):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | metadata: type `[7:6]`, crypto bit 5, ID ext bit 4, version `[2:0]` |
//! | 1 | 1 | sender node ID (of the original message, also in the reply) |
//! | 2 | 1 | receiver node ID (of the original message, also in the reply) |
//! | 3 | 1 | message ID |
//! | 4 | 2 | client ID |
//! | 6 | 2 | application ID |
//! | 8 | .. | payload |
//!
//! Protocol error reply: bytes 0..4 as above, then client ID (u16) and
//! protocol error (u16), exactly 8 bytes.

/// `SFCP_PROTOCOL_VERSION` (0b10), metadata bits `[2:0]`.
pub const PROTOCOL_VERSION: u8 = 0b10;

pub const METADATA_PACKET_TYPE_SHIFT: u8 = 6;
pub const METADATA_PACKET_TYPE_MASK: u8 = 0b11;
pub const METADATA_USES_CRYPTOGRAPHY: u8 = 1 << 5;
pub const METADATA_USES_ID_EXTENSION: u8 = 1 << 4;
pub const METADATA_PROTOCOL_VERSION_MASK: u8 = 0b111;

/// `enum sfcp_packet_type_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    MsgNeedsReply = 0b00,
    MsgNoReply = 0b01,
    Reply = 0b10,
    ProtocolErrorReply = 0b11,
}

impl PacketType {
    pub const fn from_bits(bits: u8) -> Self {
        match bits & METADATA_PACKET_TYPE_MASK {
            0b00 => Self::MsgNeedsReply,
            0b01 => Self::MsgNoReply,
            0b10 => Self::Reply,
            _ => Self::ProtocolErrorReply,
        }
    }
}

/// Metadata byte for a packet without cryptography.
pub const fn metadata(packet_type: PacketType, id_extension: bool) -> u8 {
    ((packet_type as u8) << METADATA_PACKET_TYPE_SHIFT)
        | if id_extension {
            METADATA_USES_ID_EXTENSION
        } else {
            0
        }
        | PROTOCOL_VERSION
}

/// Header (4 bytes) plus ID extension (4 bytes).
pub const HEADER_SIZE: usize = 4;
pub const ID_EXTENSION_SIZE: usize = 4;
pub const PREFIX_SIZE: usize = HEADER_SIZE + ID_EXTENSION_SIZE;
/// `SFCP_PACKET_SIZE_ERROR_REPLY`.
pub const ERROR_REPLY_SIZE: usize = 8;

pub const OFFSET_METADATA: usize = 0;
pub const OFFSET_SENDER: usize = 1;
pub const OFFSET_RECEIVER: usize = 2;
pub const OFFSET_MESSAGE_ID: usize = 3;
pub const OFFSET_CLIENT_ID: usize = 4;
pub const OFFSET_APPLICATION_ID: usize = 6;
pub const OFFSET_ERROR_CLIENT_ID: usize = 4;
pub const OFFSET_ERROR_CODE: usize = 6;

/// AP monitor (EL3) node ID (`AP_MONITOR_NODE_ID`, `rdv3_sfcp.c`).
pub const AP_MONITOR_NODE_ID: u8 = 1;
/// Node serving PSA calls, the RSE (`SFCP_PSA_SERVER_NODE_ID`); RD-V3's
/// routing table sends node 0 over link 1, the AP<->RSE root MHU.
pub const RSE_NODE_ID: u8 = 0;
/// Application of the PSA server (`SFCP_PSA_SERVER_APPLICATION_ID`).
pub const PSA_APPLICATION_ID: u16 = 0;
/// Client ID of TF-A's PSA calls (`select_client_id`; 0 is reserved).
pub const PSA_CLIENT_ID: u16 = 1;
/// `SFCP_NUMBER_NODES` of RD-V3 (`rdv3/include/platform_def.h`).
pub const RDV3_NUMBER_NODES: u8 = 3;

/// `SFCP_MHU_MAX_TRANSFER_SIZE` (`sfcp_psa_call.c`): TF-A embeds a call
/// only when both message and reply PSA payloads fit 14 words, assuming 16
/// channels whatever the hardware has.
pub const TFA_EMBED_LIMIT: usize = (16 - 2) * 4;

/// PSA header at the start of the SFCP payload
/// (`struct serialized_sfcp_header_t`): `protocol_ver`, then 3 reserved
/// bytes (sent as zero here; TF-A leaves them unwritten).
pub const PSA_HEADER_SIZE: usize = 4;

/// `enum sfcp_protocol_error_t`: why the RSE's SFCP layer refused a
/// message (a protocol error reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SfcpProtocolError {
    Unsupported,
    ForwardingUnsupported,
    InvalidForwardingDestination,
    ForwardingFailed,
    InvalidContext,
    /// The RSE could not take the message now; TF-A maps this one to
    /// `SFCP_ERROR_SEND_MSG_AGAIN`.
    TryAgainLater,
    MsgDeliveryTemporaryFailure,
    CryptoUnsupported,
    HandshakeFailed,
    MsgTooLargeToReceive,
    InvalidApplicationId,
    InvalidClientId,
    DecryptionFailed,
    HandlerFailed,
    InternalError,
    /// 0 (`SFCP_PROTOCOL_ERROR_SUCCESS`) or an unknown code.
    Other(u16),
}

impl SfcpProtocolError {
    pub const fn from_code(code: u16) -> Self {
        match code {
            1 => Self::Unsupported,
            2 => Self::ForwardingUnsupported,
            3 => Self::InvalidForwardingDestination,
            4 => Self::ForwardingFailed,
            5 => Self::InvalidContext,
            6 => Self::TryAgainLater,
            7 => Self::MsgDeliveryTemporaryFailure,
            8 => Self::CryptoUnsupported,
            9 => Self::HandshakeFailed,
            10 => Self::MsgTooLargeToReceive,
            11 => Self::InvalidApplicationId,
            12 => Self::InvalidClientId,
            13 => Self::DecryptionFailed,
            14 => Self::HandlerFailed,
            15 => Self::InternalError,
            other => Self::Other(other),
        }
    }
}

/// Node and ID assignment of the SFCP endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SfcpIds {
    /// Our node ID (the AP monitor).
    pub my_node: u8,
    /// The RSE's node ID.
    pub rse_node: u8,
    pub client_id: u16,
    pub application_id: u16,
}

impl SfcpIds {
    /// RD-V3 as TF-A v2.15.0 configures it.
    pub const RDV3: Self = Self {
        my_node: AP_MONITOR_NODE_ID,
        rse_node: RSE_NODE_ID,
        client_id: PSA_CLIENT_ID,
        application_id: PSA_APPLICATION_ID,
    };

    /// The ID extension is present whenever either ID is non-zero
    /// (`sfcp_init_msg`).
    pub const fn uses_id_extension(&self) -> bool {
        self.client_id != 0 || self.application_id != 0
    }

    /// Bytes before the SFCP payload.
    pub const fn prefix_size(&self) -> usize {
        if self.uses_id_extension() {
            PREFIX_SIZE
        } else {
            HEADER_SIZE
        }
    }

    /// Writes a MSG_NEEDS_REPLY header (and ID extension) into `out`,
    /// returning its length.
    pub fn write_message_prefix(&self, message_id: u8, out: &mut [u8]) -> usize {
        out[OFFSET_METADATA] = metadata(PacketType::MsgNeedsReply, self.uses_id_extension());
        out[OFFSET_SENDER] = self.my_node;
        out[OFFSET_RECEIVER] = self.rse_node;
        out[OFFSET_MESSAGE_ID] = message_id;
        if self.uses_id_extension() {
            out[OFFSET_CLIENT_ID..OFFSET_CLIENT_ID + 2]
                .copy_from_slice(&self.client_id.to_le_bytes());
            out[OFFSET_APPLICATION_ID..OFFSET_APPLICATION_ID + 2]
                .copy_from_slice(&self.application_id.to_le_bytes());
        }
        self.prefix_size()
    }
}

/// What is wrong with a reply's SFCP header, in the order
/// `sfcp_receive_reply` checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SfcpReplyFault {
    ProtocolVersion(u8),
    /// Not a reply (e.g. a message the RSE initiated).
    PacketType(PacketType),
    /// Sender must be us (the original sender), receiver the RSE.
    Nodes {
        sender: u8,
        receiver: u8,
    },
    /// Error replies are exactly [`ERROR_REPLY_SIZE`] bytes.
    ErrorReplySize(usize),
    ClientId(u16),
    ApplicationId(u16),
    /// We sent with the ID extension; the reply must mirror it.
    IdExtension,
    /// We never use cryptography; the reply must mirror that.
    Cryptography,
    MessageId {
        expected: u8,
        got: u8,
    },
}

/// Outcome of checking a reply prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyPrefix {
    /// A REPLY for our message: the payload follows the prefix.
    Reply,
    /// A protocol error reply addressed to our client.
    ProtocolError(SfcpProtocolError),
}

/// Checks the first bytes of a packet received after sending message
/// `message_id`. `prefix` holds at least [`PREFIX_SIZE`] bytes (every
/// reply to a PSA call is at least that long: an error reply is exactly
/// 8, a reply carries the ID extension); `total_len` is the packet length
/// announced on the MHU.
pub fn check_reply_prefix(
    ids: &SfcpIds,
    message_id: u8,
    prefix: &[u8],
    total_len: usize,
) -> Result<ReplyPrefix, SfcpReplyFault> {
    let meta = prefix[OFFSET_METADATA];
    let version = meta & METADATA_PROTOCOL_VERSION_MASK;
    if version != PROTOCOL_VERSION {
        return Err(SfcpReplyFault::ProtocolVersion(version));
    }
    let packet_type = PacketType::from_bits(meta >> METADATA_PACKET_TYPE_SHIFT);
    if !matches!(
        packet_type,
        PacketType::Reply | PacketType::ProtocolErrorReply
    ) {
        return Err(SfcpReplyFault::PacketType(packet_type));
    }
    let (sender, receiver) = (prefix[OFFSET_SENDER], prefix[OFFSET_RECEIVER]);
    if sender != ids.my_node || receiver != ids.rse_node {
        return Err(SfcpReplyFault::Nodes { sender, receiver });
    }
    let read_u16 = |at: usize| u16::from_le_bytes([prefix[at], prefix[at + 1]]);
    if packet_type == PacketType::ProtocolErrorReply {
        if total_len != ERROR_REPLY_SIZE {
            return Err(SfcpReplyFault::ErrorReplySize(total_len));
        }
        let client = read_u16(OFFSET_ERROR_CLIENT_ID);
        if client != ids.client_id {
            return Err(SfcpReplyFault::ClientId(client));
        }
        return Ok(ReplyPrefix::ProtocolError(SfcpProtocolError::from_code(
            read_u16(OFFSET_ERROR_CODE),
        )));
    }
    let has_id_extension = meta & METADATA_USES_ID_EXTENSION != 0;
    if has_id_extension != ids.uses_id_extension() {
        return Err(SfcpReplyFault::IdExtension);
    }
    if has_id_extension {
        let client = read_u16(OFFSET_CLIENT_ID);
        if client != ids.client_id {
            return Err(SfcpReplyFault::ClientId(client));
        }
        let application = read_u16(OFFSET_APPLICATION_ID);
        if application != ids.application_id {
            return Err(SfcpReplyFault::ApplicationId(application));
        }
    }
    if meta & METADATA_USES_CRYPTOGRAPHY != 0 {
        return Err(SfcpReplyFault::Cryptography);
    }
    let got = prefix[OFFSET_MESSAGE_ID];
    if got != message_id {
        return Err(SfcpReplyFault::MessageId {
            expected: message_id,
            got,
        });
    }
    Ok(ReplyPrefix::Reply)
}
