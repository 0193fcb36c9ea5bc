//! MHUv3 doorbell driver and the word-per-channel message transport TF-A
//! runs on it to talk to the RSE.
//!
//! Register map and bits: TF-A `drivers/arm/mhu/mhu_v3_x_private.h` and
//! `mhu_v3_x.h` (identical in v2.14.0 and v2.15.0). Driver behaviour (init,
//! doorbell set/read/clear, masks, interrupt enables): `mhu_v3_x.c`.
//! Transport (how a message is spread over channels): v2.15.0
//! `drivers/arm/sfcp/sfcp_core/sfcp_link_hal.c` (`mhu_send_message`,
//! `mhu_receive_message`) and v2.14.0 `drivers/arm/mhu/mhu_wrapper_v3_x.c`
//! (`mhu_send_data`, `mhu_receive_data`); both put the same words on the
//! wire, see [`Link`].
//!
//! All waits are bounded by a caller-given spin limit: an RSE that never
//! answers gives [`MhuError::Timeout`], never a hang.

/// 32-bit register access to one MHU frame. Offsets are bytes from the
/// frame base. The kernel implements this with volatile accesses to the
/// frame's device mapping; tests implement it with a simulated RSE.
pub trait Mmio {
    fn read32(&self, offset: usize) -> u32;
    fn write32(&self, offset: usize, value: u32);
}

/// Control page registers, common to postbox (PBX) and mailbox (MBX)
/// frames (`mhu_v3_x_private.h`, `_mhu_v3_x_{pbx,mbx}_ctrl_reg_t`).
pub mod reg {
    /// `{PBX,MBX}_BLK_ID`.
    pub const BLK_ID: usize = 0x000;
    /// `{PBX,MBX}_FEAT_SPT0`.
    pub const FEAT_SPT0: usize = 0x010;
    /// `{PBX,MBX}_DBCH_CFG0`: number of doorbell channels minus one.
    pub const DBCH_CFG0: usize = 0x020;
    /// `{PBX,MBX}_CTRL`: bit 0 is the operational request.
    pub const CTRL: usize = 0x100;
    /// `{PBX,MBX}_AIDR`: architecture revision.
    pub const AIDR: usize = 0xFCC;

    /// `MHU_V3_OP_REQ` (`mhu_v3_x.h`): keeps the frame operational.
    pub const CTRL_OP_REQ: u32 = 1 << 0;
    /// `MHU_ARCH_MAJOR_REV_OFF/MASK`: AIDR bits `[7:4]`.
    pub const AIDR_MAJOR_SHIFT: u32 = 4;
    /// `MHU_ARCH_MINOR_REV_OFF/MASK`: AIDR bits `[3:0]`.
    pub const AIDR_MINOR_SHIFT: u32 = 0;
    pub const AIDR_REV_MASK: u32 = 0xF;
    /// `MHU_MAJOR_REV_V3`: the major field encodes "v3" as 2.
    pub const AIDR_MAJOR_V3: u32 = 2;
    /// `MHU_MINOR_REV_3_0`: TF-A accepts only MHU 3.0.
    pub const AIDR_MINOR_3_0: u32 = 0;

    /// The doorbell channel windows follow the 4 KiB control page
    /// (`pdbcw_page`/`mdbcw_page` come right after a control page struct
    /// that ends at 0x1000); one 0x20-byte window per channel.
    pub const DBCW_BASE: usize = 0x1000;
    pub const DBCW_STRIDE: usize = 0x20;

    /// Postbox doorbell channel window (`_mhu_v3_x_pdbcw_reg_t`).
    pub mod pdbcw {
        /// `PDBCW_ST`: doorbell bits still set (not yet cleared by the
        /// receiver).
        pub const ST: usize = 0x00;
        /// `PDBCW_SET`: write-one-to-set doorbell bits.
        pub const SET: usize = 0x0C;
        pub const INT_ST: usize = 0x10;
        pub const INT_CLR: usize = 0x14;
        pub const INT_EN: usize = 0x18;
        pub const CTRL: usize = 0x1C;
        /// `MHU_V3_X_PDBCW_INT_X_TFR_ACK`.
        pub const INT_TFR_ACK: u32 = 1 << 0;
        /// `MHU_V3_X_PDBCW_CTRL_PBX_COMB_EN`.
        pub const CTRL_COMB_EN: u32 = 1 << 0;
    }

    /// Mailbox doorbell channel window (`_mhu_v3_x_mdbcw_reg_t`).
    pub mod mdbcw {
        /// `MDBCW_ST`: doorbell bits set by the sender.
        pub const ST: usize = 0x00;
        pub const ST_MSK: usize = 0x04;
        /// `MDBCW_CLR`: write-one-to-clear doorbell bits (the ack).
        pub const CLR: usize = 0x08;
        pub const MSK_ST: usize = 0x10;
        pub const MSK_SET: usize = 0x14;
        pub const MSK_CLR: usize = 0x18;
        pub const CTRL: usize = 0x1C;
        /// `MHU_V3_X_MDBCW_CTRL_MBX_COMB_EN`.
        pub const CTRL_COMB_EN: u32 = 1 << 0;
    }

    /// Byte offset of `register` in doorbell channel `channel`'s window.
    pub const fn dbcw(channel: usize, register: usize) -> usize {
        DBCW_BASE + channel * DBCW_STRIDE + register
    }
}

/// Value the sender sets on the last doorbell channel to say "a transfer is
/// ready" (`MHU_NOTIFY_VALUE`, 1234, in both `sfcp_link_hal.c` and
/// `mhu_wrapper_v3_x.c`). The receiver acks by clearing the channels.
pub const NOTIFY_VALUE: u32 = 1234;

/// Fewest doorbell channels the transport works with: one for the length,
/// one for data, one for the notification. SFCP asks for 4
/// (`MHU_REQUIRED_NUMBER_CHANNELS`), which [`Link::new`] takes as the
/// minimum for both protocols.
pub const MIN_CHANNELS: usize = 4;

/// What a bounded wait was waiting for when it ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The previous notification on the postbox was still pending.
    ChannelFree,
    /// The RSE to clear (acknowledge) a transfer we signalled.
    Ack,
    /// The first transfer of the RSE's reply.
    Reply,
    /// The next transfer of a reply spread over several transfers.
    NextTransfer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MhuError {
    /// AIDR reports another architecture revision than MHU 3.0.
    UnsupportedVersion { major: u8, minor: u8 },
    /// The frame implements fewer doorbell channels than [`MIN_CHANNELS`].
    TooFewChannels(usize),
    /// A bounded wait ran out of spins.
    Timeout(Wait),
    /// A message from the RSE is pending in the mailbox while we want to
    /// send (`SFCP_HAL_ERROR_SEND_MESSAGE_BUS_BUSY`); see
    /// [`Link::discard_pending`].
    ReceiverBusy,
    /// Zero-byte message (refused both ways, as in `sfcp_link_hal.c`).
    EmptyMessage,
    /// Message length does not fit the 32-bit length word.
    MessageTooLong,
}

/// Poll `condition` at most `spin_limit` times (at least once).
fn poll(spin_limit: u32, wait: Wait, mut condition: impl FnMut() -> bool) -> Result<(), MhuError> {
    for _ in 0..spin_limit.max(1) {
        if condition() {
            return Ok(());
        }
        core::hint::spin_loop();
    }
    Err(MhuError::Timeout(wait))
}

/// Checks AIDR, requests the operational state and reads the channel count:
/// `mhu_v3_x_driver_init` + `mhu_v3_x_get_num_channel_implemented`.
fn init_frame<M: Mmio>(mmio: &M) -> Result<usize, MhuError> {
    let aidr = mmio.read32(reg::AIDR);
    let major = (aidr >> reg::AIDR_MAJOR_SHIFT) & reg::AIDR_REV_MASK;
    let minor = (aidr >> reg::AIDR_MINOR_SHIFT) & reg::AIDR_REV_MASK;
    if major != reg::AIDR_MAJOR_V3 || minor != reg::AIDR_MINOR_3_0 {
        return Err(MhuError::UnsupportedVersion {
            major: major as u8,
            minor: minor as u8,
        });
    }
    let ctrl = mmio.read32(reg::CTRL);
    mmio.write32(reg::CTRL, ctrl | reg::CTRL_OP_REQ);
    // TF-A keeps `DBCH_CFG0 + 1` in a u8; the field is the low byte.
    let channels = (mmio.read32(reg::DBCH_CFG0) & 0xFF) as usize + 1;
    if channels < MIN_CHANNELS {
        return Err(MhuError::TooFewChannels(channels));
    }
    Ok(channels)
}

/// The sending frame (AP -> RSE): write-one-to-set doorbells.
pub struct Postbox<M> {
    mmio: M,
    channels: usize,
}

impl<M: Mmio> Postbox<M> {
    /// `mhu_v3_x_driver_init`, then what both TF-A transports do to a
    /// sender: every channel's transfer-ack interrupt cleared and disabled
    /// and its contribution to the combined interrupt off, since the sender
    /// polls `PDBCW_ST` instead.
    pub fn new(mmio: M) -> Result<Self, MhuError> {
        let channels = init_frame(&mmio)?;
        for ch in 0..channels {
            use reg::pdbcw::*;
            mmio.write32(reg::dbcw(ch, INT_CLR), INT_TFR_ACK);
            let en = mmio.read32(reg::dbcw(ch, INT_EN));
            mmio.write32(reg::dbcw(ch, INT_EN), en & !INT_TFR_ACK);
            let ctrl = mmio.read32(reg::dbcw(ch, CTRL));
            mmio.write32(reg::dbcw(ch, CTRL), ctrl & !CTRL_COMB_EN);
        }
        Ok(Self { mmio, channels })
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// `mhu_v3_x_doorbell_write`: set `bits` on `channel`.
    pub fn set(&self, channel: usize, bits: u32) {
        self.mmio.write32(reg::dbcw(channel, reg::pdbcw::SET), bits);
    }

    /// `mhu_v3_x_doorbell_read` on a postbox: bits not yet cleared by the
    /// receiver.
    pub fn status(&self, channel: usize) -> u32 {
        self.mmio.read32(reg::dbcw(channel, reg::pdbcw::ST))
    }
}

/// The receiving frame (RSE -> AP): doorbell status and write-one-to-clear.
pub struct Mailbox<M> {
    mmio: M,
    channels: usize,
}

impl<M: Mmio> Mailbox<M> {
    /// `mhu_v3_x_driver_init`, then the receiver setup of both TF-A
    /// transports: data channels masked, the last (notification) channel
    /// unmasked and feeding the combined interrupt.
    pub fn new(mmio: M) -> Result<Self, MhuError> {
        let channels = init_frame(&mmio)?;
        let last = channels - 1;
        for ch in 0..last {
            mmio.write32(reg::dbcw(ch, reg::mdbcw::MSK_SET), u32::MAX);
        }
        mmio.write32(reg::dbcw(last, reg::mdbcw::MSK_CLR), u32::MAX);
        mmio.write32(reg::dbcw(last, reg::mdbcw::CTRL), reg::mdbcw::CTRL_COMB_EN);
        Ok(Self { mmio, channels })
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// `mhu_v3_x_doorbell_read` on a mailbox.
    pub fn status(&self, channel: usize) -> u32 {
        self.mmio.read32(reg::dbcw(channel, reg::mdbcw::ST))
    }

    /// `mhu_v3_x_doorbell_clear`.
    pub fn clear(&self, channel: usize, bits: u32) {
        self.mmio.write32(reg::dbcw(channel, reg::mdbcw::CLR), bits);
    }

    fn clear_all(&self) {
        for ch in 0..self.channels {
            self.clear(ch, u32::MAX);
        }
    }
}

/// Consumer of a received message.
pub trait MessageSink {
    /// The length word of the first transfer, before any byte.
    fn begin(&mut self, len: usize);
    /// The next bytes of the message.
    fn bytes(&mut self, bytes: &[u8]);
}

/// A sink that drops everything.
pub struct Discard;

impl MessageSink for Discard {
    fn begin(&mut self, _len: usize) {}
    fn bytes(&mut self, _bytes: &[u8]) {}
}

/// Message transport over a postbox/mailbox pair.
///
/// A message of `len` bytes is sent as: the first transfer carries `len` on
/// channel 0 and the first data words on channels 1..N-2; each further
/// transfer carries data words on channels 0..N-2. Channel N-1 is never
/// data: the sender sets [`NOTIFY_VALUE`] on it to signal a transfer, the
/// receiver acks by clearing all channels. Data words are the message bytes
/// in little-endian order (TF-A copies the byte buffer as `uint32_t`s on a
/// little-endian AP); the last word is zero-padded. A transfer is signalled
/// whenever channel N-1 is reached, and once more at the end unless the
/// data ended exactly on a full transfer.
pub struct Link<M> {
    postbox: Postbox<M>,
    mailbox: Mailbox<M>,
}

impl<M: Mmio> Link<M> {
    /// Initialises both frames (`sfcp_hal_init`: sender, then receiver).
    pub fn new(postbox: M, mailbox: M) -> Result<Self, MhuError> {
        let postbox = Postbox::new(postbox)?;
        let mailbox = Mailbox::new(mailbox)?;
        Ok(Self { postbox, mailbox })
    }

    pub fn postbox(&self) -> &Postbox<M> {
        &self.postbox
    }

    pub fn mailbox(&self) -> &Mailbox<M> {
        &self.mailbox
    }

    /// Payload bytes of the first transfer of a message (channel 0 holds
    /// the length, the last channel signals).
    pub fn first_transfer_bytes(&self) -> usize {
        (self.postbox.channels - 2) * 4
    }

    /// Whether the RSE has signalled a message to us
    /// (`mhu_message_is_available`: the notification channel holds exactly
    /// [`NOTIFY_VALUE`]).
    pub fn message_pending(&self) -> bool {
        self.mailbox.status(self.mailbox.channels - 1) == NOTIFY_VALUE
    }

    /// Sends the concatenation of `parts` as one message.
    pub fn send(&mut self, parts: &[&[u8]], spin_limit: u32) -> Result<(), MhuError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len == 0 {
            return Err(MhuError::EmptyMessage);
        }
        let len = u32::try_from(len).map_err(|_| MhuError::MessageTooLong)?;
        // Do not start while the RSE has a message for us: both sides would
        // wait for the other (sfcp_link_hal.c, `mhu_send_message`).
        if self.message_pending() {
            return Err(MhuError::ReceiverBusy);
        }
        self.postbox.set(0, len);
        let mut channel = 1;
        let mut word = [0u8; 4];
        let mut filled = 0;
        for &byte in parts.iter().flat_map(|p| p.iter()) {
            word[filled] = byte;
            filled += 1;
            if filled == 4 {
                self.push_word(&mut channel, u32::from_le_bytes(word), spin_limit)?;
                filled = 0;
            }
        }
        if filled > 0 {
            word[filled..].fill(0);
            self.push_word(&mut channel, u32::from_le_bytes(word), spin_limit)?;
        }
        if channel != 0 {
            self.signal_and_wait(spin_limit)?;
        }
        Ok(())
    }

    /// Puts one data word on `channel`, signalling the transfer when the
    /// notification channel is reached.
    fn push_word(
        &mut self,
        channel: &mut usize,
        word: u32,
        spin_limit: u32,
    ) -> Result<(), MhuError> {
        self.postbox.set(*channel, word);
        *channel += 1;
        if *channel == self.postbox.channels - 1 {
            self.signal_and_wait(spin_limit)?;
            *channel = 0;
        }
        Ok(())
    }

    /// Notify on the last channel and wait for the RSE to clear it.
    fn signal_and_wait(&mut self, spin_limit: u32) -> Result<(), MhuError> {
        let last = self.postbox.channels - 1;
        let notified = |st: u32| st & NOTIFY_VALUE == NOTIFY_VALUE;
        // v2.14 waits for a previous notification to be consumed first.
        poll(spin_limit, Wait::ChannelFree, || {
            !notified(self.postbox.status(last))
        })?;
        self.postbox.set(last, NOTIFY_VALUE);
        let mut collision = false;
        let acked = poll(spin_limit, Wait::Ack, || {
            if !notified(self.postbox.status(last)) {
                return true;
            }
            // v2.15: a notification from the RSE before our ack means both
            // sides are sending; give up rather than deadlock. (After the
            // ack it is simply the reply.)
            collision = notified(self.mailbox.status(self.mailbox.channels - 1));
            collision
        });
        match acked {
            Ok(()) if collision => Err(MhuError::ReceiverBusy),
            other => other,
        }
    }

    /// Receives one message: tells `sink` its length, then hands it the
    /// bytes in order (1 to 4 per call); returns the length. The whole
    /// message is always drained and acked, so a consumer that rejects it
    /// still leaves the link in step.
    pub fn receive(
        &mut self,
        spin_limit: u32,
        sink: &mut dyn MessageSink,
    ) -> Result<usize, MhuError> {
        let channels = self.mailbox.channels;
        let last = channels - 1;
        poll(spin_limit, Wait::Reply, || self.message_pending())?;
        let len = self.mailbox.status(0) as usize;
        if len == 0 {
            self.mailbox.clear_all();
            return Err(MhuError::EmptyMessage);
        }
        sink.begin(len);
        let mut channel = 1;
        let mut done = 0;
        while done < len {
            let word = self.mailbox.status(channel).to_le_bytes();
            let take = (len - done).min(4);
            sink.bytes(&word[..take]);
            done += take;
            channel += 1;
            if channel == last && done < len {
                // Ack this transfer, then wait for the next one.
                self.mailbox.clear_all();
                poll(spin_limit, Wait::NextTransfer, || {
                    self.mailbox.status(last) & NOTIFY_VALUE == NOTIFY_VALUE
                })?;
                channel = 0;
            }
        }
        self.mailbox.clear_all();
        Ok(len)
    }

    /// Reads and drops a message the RSE left pending (a late reply to a
    /// call that timed out), so the next send is not refused with
    /// [`MhuError::ReceiverBusy`]. Returns its length, or `None` when
    /// nothing was pending.
    pub fn discard_pending(&mut self, spin_limit: u32) -> Result<Option<usize>, MhuError> {
        if !self.message_pending() {
            return Ok(None);
        }
        self.receive(spin_limit, &mut Discard).map(Some)
    }
}
