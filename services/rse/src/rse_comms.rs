//! The rse_comms framing TF-A v2.14.0 uses towards the RSE (replaced by
//! SFCP in v2.15.0).
//!
//! Sources: TF-A v2.14.0 `drivers/arm/rse/rse_comms.c` (`psa_call`:
//! sequence number, client ID, protocol selection),
//! `rse_comms_protocol.h` (`struct serialized_rse_comms_header_t`); TF-M
//! `docs/platform/arm/rse/rse_comms.rst` (the reply echoes the header so
//! the client can match it).
//!
//! Every message and reply starts with a 4-byte header, then the PSA body
//! ([`crate::psa::embed`] or [`crate::psa::pointer_access`]):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | protocol_ver: 0 embed, 1 pointer access |
//! | 1 | 1 | seq_num |
//! | 2 | 2 | client_id (little-endian) |

pub const HEADER_SIZE: usize = 4;
pub const OFFSET_PROTOCOL_VER: usize = 0;
pub const OFFSET_SEQ_NUM: usize = 1;
pub const OFFSET_CLIENT_ID: usize = 2;

/// Client ID TF-A puts in every call ("no need to distinguish callers").
pub const CLIENT_ID: u16 = 1;
/// TF-A's first sequence number (`static uint8_t seq_num = 1U`).
pub const FIRST_SEQ_NUM: u8 = 1;

/// Writes the header into `out`, returning its length.
pub fn write_header(protocol_ver: u8, seq_num: u8, client_id: u16, out: &mut [u8]) -> usize {
    out[OFFSET_PROTOCOL_VER] = protocol_ver;
    out[OFFSET_SEQ_NUM] = seq_num;
    out[OFFSET_CLIENT_ID..OFFSET_CLIENT_ID + 2].copy_from_slice(&client_id.to_le_bytes());
    HEADER_SIZE
}

/// What is wrong with a reply header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RseCommsReplyFault {
    SeqNum { expected: u8, got: u8 },
    ClientId(u16),
}

/// Checks the reply header against the message we sent (the protocol
/// version byte is checked with the PSA body). TF-A v2.14.0 only logs
/// these fields; matching them rejects a stale reply to an earlier call.
pub fn check_reply_header(
    seq_num: u8,
    client_id: u16,
    header: &[u8],
) -> Result<(), RseCommsReplyFault> {
    let got = header[OFFSET_SEQ_NUM];
    if got != seq_num {
        return Err(RseCommsReplyFault::SeqNum {
            expected: seq_num,
            got,
        });
    }
    let client = u16::from_le_bytes([header[OFFSET_CLIENT_ID], header[OFFSET_CLIENT_ID + 1]]);
    if client != client_id {
        return Err(RseCommsReplyFault::ClientId(client));
    }
    Ok(())
}
