//! The SCMI shared-memory transport (SMT): one mailbox in SCP shared SRAM
//! that the agent (root) and the platform (SCP) hand back and forth with the
//! channel status FREE bit.
//!
//! Layout from TF-A's `mailbox_mem_t` (`drivers/arm/css/scmi/scmi_private.h`);
//! the error bit is the SCMI specification's (Arm DEN0056, shared memory
//! transport), also in SCP-firmware's `MOD_SMT_MAILBOX_STATUS_ERROR`.

use crate::error::{Error, ScmiStatus};
use crate::{Barrier, Doorbell, SharedMemory};

/// Byte offset of a reserved word.
pub const RESERVED0: usize = 0x00;
/// Byte offset of the channel status word.
pub const CHANNEL_STATUS: usize = 0x04;
/// Byte offset of 8 reserved bytes.
pub const RESERVED1: usize = 0x08;
/// Byte offset of the channel flags word.
pub const FLAGS: usize = 0x10;
/// Byte offset of the length word: header plus payload, in bytes.
pub const LENGTH: usize = 0x14;
/// Byte offset of the message header.
pub const MESSAGE_HEADER: usize = 0x18;
/// Byte offset of the payload (request parameters, or status then return
/// values).
pub const PAYLOAD: usize = 0x1C;

/// Channel status bit 0: set when the agent owns the channel
/// (`SCMI_CH_STATUS_FREE_MASK`).
pub const STATUS_FREE: u32 = 1 << 0;
/// Channel status bit 1: set by the platform on a transport error.
pub const STATUS_ERROR: u32 = 1 << 1;

/// Flags word for a polled completion (`SCMI_FLAG_RESP_POLL`), as TF-A sends.
pub const FLAGS_POLLED: u32 = 0;
/// Flags word asking for a completion interrupt (`SCMI_FLAG_RESP_INT`).
pub const FLAGS_INTERRUPT: u32 = 1;

/// Size of the message header in the length field.
pub const HEADER_LEN: u32 = 4;
/// Smallest response: header and status word.
pub const MIN_RESPONSE_LEN: u32 = HEADER_LEN + 4;
/// Request parameter words a transfer can carry (TF-A's largest is 4,
/// `SCMI_PAYLOAD_ARG4`).
pub const MAX_PAYLOAD_WORDS: usize = 4;
/// Return values after the status word a transfer can read.
pub const MAX_RETURN_WORDS: usize = 4;
/// Bytes of the mailbox this module ever touches.
pub const WINDOW_BYTES_USED: usize = PAYLOAD + 4 * (1 + MAX_RETURN_WORDS);

/// Token of every request: TF-A sends `token = 0` in all its SCMI calls and
/// checks the echo.
pub const TOKEN: u16 = 0;

/// Message type of a command (SCMI: 0; TF-A's `SCMI_MSG_CREATE` leaves it 0).
pub const MESSAGE_TYPE_COMMAND: u8 = 0;

const MESSAGE_ID_SHIFT: u32 = 0;
const MESSAGE_ID_MASK: u32 = 0xFF;
const MESSAGE_TYPE_SHIFT: u32 = 8;
const MESSAGE_TYPE_MASK: u32 = 0x3;
const PROTOCOL_ID_SHIFT: u32 = 10;
const PROTOCOL_ID_MASK: u32 = 0xFF;
const TOKEN_SHIFT: u32 = 18;
const TOKEN_MASK: u32 = 0x3FF;

/// The SCMI message header word (`SCMI_MSG_*_SHIFT`/`_WIDTH` in
/// `scmi_private.h`): message id `[7:0]`, type `[9:8]`, protocol id `[17:10]`,
/// token `[27:18]`, bits `[31:28]` zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageHeader {
    /// Message id within the protocol.
    pub message_id: u8,
    /// Message type (2 bits).
    pub message_type: u8,
    /// Protocol id.
    pub protocol_id: u8,
    /// Sequence token (10 bits).
    pub token: u16,
}

impl MessageHeader {
    /// A command header.
    pub const fn command(protocol_id: u8, message_id: u8, token: u16) -> Self {
        Self {
            message_id,
            message_type: MESSAGE_TYPE_COMMAND,
            protocol_id,
            token,
        }
    }

    /// The wire word; fields wider than their slot are truncated, as
    /// `SCMI_MSG_CREATE` masks them.
    pub const fn encode(self) -> u32 {
        ((self.message_id as u32 & MESSAGE_ID_MASK) << MESSAGE_ID_SHIFT)
            | ((self.message_type as u32 & MESSAGE_TYPE_MASK) << MESSAGE_TYPE_SHIFT)
            | ((self.protocol_id as u32 & PROTOCOL_ID_MASK) << PROTOCOL_ID_SHIFT)
            | ((self.token as u32 & TOKEN_MASK) << TOKEN_SHIFT)
    }

    /// Splits a wire word; bits `[31:28]` are ignored.
    pub const fn decode(word: u32) -> Self {
        Self {
            message_id: ((word >> MESSAGE_ID_SHIFT) & MESSAGE_ID_MASK) as u8,
            message_type: ((word >> MESSAGE_TYPE_SHIFT) & MESSAGE_TYPE_MASK) as u8,
            protocol_id: ((word >> PROTOCOL_ID_SHIFT) & PROTOCOL_ID_MASK) as u8,
            token: ((word >> TOKEN_SHIFT) & TOKEN_MASK) as u16,
        }
    }
}

/// One command to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// Protocol id.
    pub protocol: u8,
    /// Message id.
    pub message: u8,
    /// Parameter words, at most [`MAX_PAYLOAD_WORDS`].
    pub payload: &'a [u32],
    /// Length a successful response must have, header included (TF-A's
    /// `*_RESP_LEN`).
    pub response_len: u32,
}

impl Request<'_> {
    /// Value of the length field: header plus parameters (TF-A's
    /// `*_MSG_LEN`).
    pub fn message_len(&self) -> Result<u32, Error> {
        if self.payload.len() > MAX_PAYLOAD_WORDS {
            return Err(Error::InvalidRequest);
        }
        // At most 4 words: the cast cannot truncate.
        Ok(HEADER_LEN + 4 * self.payload.len() as u32)
    }

    /// Number of return values after the status word.
    pub fn return_words(&self) -> Result<usize, Error> {
        let extra = self
            .response_len
            .checked_sub(MIN_RESPONSE_LEN)
            .ok_or(Error::InvalidRequest)?;
        let words = (extra / 4) as usize;
        if extra % 4 != 0 || words > MAX_RETURN_WORDS {
            return Err(Error::InvalidRequest);
        }
        Ok(words)
    }
}

/// How the SCP accepted a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Status 0, `SUCCESS`.
    Done,
    /// Status 1, TF-A's `SCMI_E_QUEUED`: accepted, carried out later.
    Queued,
}

/// A successful response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Success or queued.
    pub completion: Completion,
    /// Return values after the status word; only the first
    /// [`Request::return_words`] are read, the rest are zero.
    pub values: [u32; MAX_RETURN_WORDS],
}

/// One SMT channel: the mailbox window, its doorbell, and the poll limit.
///
/// `send` takes `&mut self`: one transfer at a time, as TF-A serialises with
/// its SCMI lock. The kernel keeps the channel behind its own lock.
pub struct Channel<M, D> {
    shmem: M,
    doorbell: D,
    poll_limit: u32,
}

impl<M: SharedMemory, D: Doorbell> Channel<M, D> {
    /// A channel over `shmem` (mapped at the board's shared memory base)
    /// rung by `doorbell`. Each wait for the FREE bit reads the channel
    /// status at most `poll_limit + 1` times.
    pub const fn new(shmem: M, doorbell: D, poll_limit: u32) -> Self {
        Self {
            shmem,
            doorbell,
            poll_limit,
        }
    }

    /// The mailbox window.
    pub fn shared_memory(&self) -> &M {
        &self.shmem
    }

    /// The doorbell.
    pub fn doorbell(&self) -> &D {
        &self.doorbell
    }

    /// Sends `request` and waits for the response, following TF-A's
    /// `scmi_get_channel` + `scmi_send_sync_command` sequence with bounded
    /// waits; then validates the response.
    pub fn send(&mut self, request: &Request<'_>) -> Result<Reply, Error> {
        let message_len = request.message_len()?;
        let return_words = request.return_words()?;

        // The previous transfer must be over; TF-A asserts this.
        if self.poll_free().is_none() {
            return Err(Error::ChannelBusy);
        }

        let header = MessageHeader::command(request.protocol, request.message, TOKEN).encode();
        let shm = &self.shmem;
        shm.write32(MESSAGE_HEADER, header);
        shm.write32(LENGTH, message_len);
        shm.write32(FLAGS, FLAGS_POLLED);
        for (index, word) in request.payload.iter().enumerate() {
            shm.write32(PAYLOAD + 4 * index, *word);
        }
        // Hand the channel to the SCP; writing 0 also drops a stale error bit
        // (bits other than FREE are reserved-zero to TF-A).
        shm.write32(CHANNEL_STATUS, 0);

        shm.barrier(Barrier::StoreBeforeDoorbell);
        self.doorbell.ring();
        shm.barrier(Barrier::DoorbellBeforePoll);

        let status = self.poll_free().ok_or(Error::Timeout)?;
        let shm = &self.shmem;
        shm.barrier(Barrier::LoadAfterFree);

        if status & STATUS_ERROR != 0 {
            return Err(Error::ChannelError);
        }
        let length = shm.read32(LENGTH);
        if length < MIN_RESPONSE_LEN {
            return Err(Error::ShortResponse { length });
        }
        let received = shm.read32(MESSAGE_HEADER);
        if received != header {
            return Err(Error::HeaderMismatch {
                sent: header,
                received,
            });
        }
        // Status codes are signed 32-bit values on the wire.
        let completion = match shm.read32(PAYLOAD) as i32 {
            0 => Completion::Done,
            1 => Completion::Queued,
            code => return Err(Error::Status(ScmiStatus::from_code(code))),
        };
        if length != request.response_len {
            return Err(Error::LengthMismatch {
                expected: request.response_len,
                actual: length,
            });
        }
        let mut values = [0; MAX_RETURN_WORDS];
        for (index, value) in values.iter_mut().take(return_words).enumerate() {
            *value = shm.read32(PAYLOAD + 4 * (1 + index));
        }
        Ok(Reply { completion, values })
    }

    /// Polls for the FREE bit; returns the status word that had it.
    fn poll_free(&self) -> Option<u32> {
        for _ in 0..=self.poll_limit {
            let status = self.shmem.read32(CHANNEL_STATUS);
            if status & STATUS_FREE != 0 {
                return Some(status);
            }
            core::hint::spin_loop();
        }
        None
    }
}
