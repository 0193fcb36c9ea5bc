//! `psa_call` to the RSE over the MHU, in either protocol.

use crate::mhu::{Link, MessageSink, Mmio};
use crate::psa::{self, MAX_IOVEC, PSA_SUCCESS, PsaCall, PsaError, Transfer};
use crate::rse_comms;
use crate::sfcp::{self, ReplyPrefix, SfcpIds};
use crate::{CallError, Error, Malformed};

/// Which framing the RSE firmware speaks. It is fixed by the RSE (TF-M)
/// release, paired with a TF-A release: TF-A v2.14 used rse_comms, v2.15
/// uses SFCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// SFCP (TF-A v2.15.0), see [`crate::sfcp`].
    Sfcp,
    /// rse_comms (TF-A v2.14.0), see [`crate::rse_comms`].
    RseComms,
}

/// How the iovecs of a call travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferPolicy {
    /// Always in the message ([`Transfer::Embed`]); needs no shared memory.
    /// Inputs plus outputs must fit [`Config::embed_capacity`].
    Embed,
    /// Always by physical address ([`Transfer::PointerAccess`]) through the
    /// [`DmaWindow`] given to the call.
    PointerAccess,
    /// TF-A's choice: embed when message and reply both fit one MHU
    /// transfer, else pointer access (`select_protocol_version` in
    /// `sfcp_psa_call.c` / `rse_comms.c`). TF-A's own attestation buffers
    /// (4 KiB) always make it pick pointer access.
    LikeTfA,
}

/// Memory the RSE reads inputs from and writes outputs to in
/// pointer-access calls. RD-V3's RSE only accepts host addresses inside the
/// AP shared SRAM ([`crate::rdv3::AP_SHARED_SRAM_BASE`]..=
/// [`crate::rdv3::AP_SHARED_SRAM_LIMIT`]). The implementation owns cache
/// maintenance: data written must be visible to the RSE when `write`
/// returns, and `read` must see what the RSE wrote.
pub trait DmaWindow {
    /// Physical address of offset 0, as the RSE addresses it.
    fn phys_base(&self) -> u64;
    /// Bytes in the window.
    fn size(&self) -> usize;
    fn write(&mut self, offset: usize, data: &[u8]);
    fn read(&mut self, offset: usize, out: &mut [u8]);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub protocol: Protocol,
    pub transfer: TransferPolicy,
    /// Budget of every wait on the MHU, in register polls.
    pub spin_limit: u32,
    /// SFCP endpoints (used by [`Protocol::Sfcp`]).
    pub sfcp: SfcpIds,
    /// Client ID of rse_comms headers (used by [`Protocol::RseComms`]).
    pub rse_comms_client_id: u16,
    /// Largest inputs-plus-outputs total the RSE takes embedded.
    pub embed_capacity: usize,
}

impl Config {
    /// RD-V3 with an RSE paired with TF-A v2.15 (SFCP), embedding all
    /// iovecs.
    pub const fn rdv3_sfcp(spin_limit: u32) -> Self {
        Self {
            protocol: Protocol::Sfcp,
            transfer: TransferPolicy::Embed,
            spin_limit,
            sfcp: SfcpIds::RDV3,
            rse_comms_client_id: rse_comms::CLIENT_ID,
            embed_capacity: crate::rdv3::RSE_EMBED_CAPACITY,
        }
    }

    /// RD-V3 with an RSE paired with TF-A v2.14 (rse_comms), embedding all
    /// iovecs.
    pub const fn rdv3_rse_comms(spin_limit: u32) -> Self {
        Self {
            protocol: Protocol::RseComms,
            ..Self::rdv3_sfcp(spin_limit)
        }
    }
}

/// Bytes before the PSA body in a message and reply.
fn framing_size(config: &Config) -> usize {
    match config.protocol {
        Protocol::Sfcp => config.sfcp.prefix_size() + sfcp::PSA_HEADER_SIZE,
        Protocol::RseComms => rse_comms::HEADER_SIZE,
    }
}

const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Root's connection to the RSE.
pub struct RseClient<M> {
    link: Link<M>,
    config: Config,
    next_message_id: u8,
    next_seq_num: u8,
}

impl<M: Mmio> RseClient<M> {
    /// Initialises the AP->RSE postbox frame and the RSE->AP mailbox frame
    /// (on RD-V3: [`crate::rdv3::AP_RSE_ROOT_MHU_V3_PBX`] and
    /// [`crate::rdv3::AP_RSE_ROOT_MHU_V3_MBX`]).
    pub fn new(postbox: M, mailbox: M, config: Config) -> Result<Self, Error> {
        if config.protocol == Protocol::Sfcp && config.sfcp.my_node == config.sfcp.rse_node {
            return Err(Error::InvalidCall(CallError::InvalidConfig));
        }
        let link = Link::new(postbox, mailbox).map_err(Error::Mhu)?;
        Ok(Self {
            link,
            config,
            // sfcp.c: per-node counters start at 0.
            next_message_id: 0,
            next_seq_num: rse_comms::FIRST_SEQ_NUM,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn link(&self) -> &Link<M> {
        &self.link
    }

    /// Drops a reply left pending by a call that timed out (see
    /// [`crate::mhu::MhuError::ReceiverBusy`]).
    pub fn discard_pending(&mut self) -> Result<Option<usize>, Error> {
        self.link
            .discard_pending(self.config.spin_limit)
            .map_err(Error::Mhu)
    }

    /// The transfer a call with these totals would use.
    pub fn transfer_for(&self, in_total: usize, out_total: usize) -> Transfer {
        match self.config.transfer {
            TransferPolicy::Embed => Transfer::Embed,
            TransferPolicy::PointerAccess => Transfer::PointerAccess,
            TransferPolicy::LikeTfA => {
                // TF-A's size test counts the PSA/rse_comms header (4
                // bytes either way) but not the SFCP packet header.
                let header = match self.config.protocol {
                    Protocol::Sfcp => sfcp::PSA_HEADER_SIZE,
                    Protocol::RseComms => rse_comms::HEADER_SIZE,
                };
                let limit = match self.config.protocol {
                    Protocol::Sfcp => sfcp::TFA_EMBED_LIMIT,
                    // rse_comms.c: the mailbox's (channels - 1) words, less
                    // the length word.
                    Protocol::RseComms => (self.link.mailbox().channels() - 1) * 4 - 4,
                };
                let msg = header + psa::embed::MSG_FIXED + in_total;
                let reply = header + psa::embed::REPLY_FIXED + out_total;
                if msg > limit || reply > limit {
                    Transfer::PointerAccess
                } else {
                    Transfer::Embed
                }
            }
        }
    }

    /// Most output bytes a call with `in_total` input bytes can ask for
    /// when it wants `out_wanted`, given the transfer it would use and the
    /// window (if any).
    pub fn output_capacity(
        &self,
        in_total: usize,
        out_wanted: usize,
        window: Option<usize>,
    ) -> usize {
        match self.transfer_for(in_total, out_wanted) {
            Transfer::Embed => self
                .config
                .embed_capacity
                .saturating_sub(in_total)
                .min(u16::MAX as usize),
            Transfer::PointerAccess => window
                .unwrap_or(0)
                .saturating_sub(align8(in_total))
                .min(u32::MAX as usize),
        }
    }

    /// Makes one PSA call and returns the output sizes the RSE reported
    /// (entries past `call.outputs.len()` are 0). Any status other than
    /// `PSA_SUCCESS` is [`Error::Service`].
    pub fn psa_call(
        &mut self,
        call: PsaCall<'_, '_, '_>,
        window: Option<&mut dyn DmaWindow>,
    ) -> Result<[usize; MAX_IOVEC], Error> {
        let PsaCall {
            handle,
            call_type,
            inputs,
            outputs,
        } = call;
        let (n_in, n_out) = (inputs.len(), outputs.len());
        if n_in + n_out > MAX_IOVEC {
            return Err(Error::InvalidCall(CallError::TooManyIovecs));
        }
        if !(0..=psa::CALL_TYPE_MAX).contains(&call_type) {
            return Err(Error::InvalidCall(CallError::CallType(call_type)));
        }
        // Sizes of all iovecs, inputs first (the order of `io_size`).
        let mut io = [0usize; MAX_IOVEC];
        let lens = inputs.iter().map(|i| i.len());
        for (slot, len) in io
            .iter_mut()
            .zip(lens.chain(outputs.iter().map(|o| o.len())))
        {
            *slot = len;
        }
        let io = &io[..n_in + n_out];
        let in_total = io[..n_in].iter().fold(0usize, |a, &l| a.saturating_add(l));
        let out_total = io[n_in..].iter().fold(0usize, |a, &l| a.saturating_add(l));
        let transfer = self.transfer_for(in_total, out_total);

        // Check everything before a message ID is used up.
        let mut window = window;
        let mut offsets = [0usize; MAX_IOVEC];
        match transfer {
            Transfer::Embed => {
                let needed = in_total.saturating_add(out_total);
                if needed > self.config.embed_capacity {
                    return Err(Error::InvalidCall(CallError::EmbedTooLarge {
                        needed,
                        capacity: self.config.embed_capacity,
                    }));
                }
                if let Some(&len) = io.iter().find(|&&l| l > u16::MAX as usize) {
                    return Err(Error::InvalidCall(CallError::IovecTooLarge(len)));
                }
            }
            Transfer::PointerAccess => {
                let window = window
                    .as_deref()
                    .ok_or(Error::InvalidCall(CallError::NoDmaWindow))?;
                if let Some(&len) = io.iter().find(|&&l| l > u32::MAX as usize) {
                    return Err(Error::InvalidCall(CallError::IovecTooLarge(len)));
                }
                // Iovecs back to back in the window, 8-byte aligned.
                let mut end = 0usize;
                for (offset, &len) in offsets.iter_mut().zip(io) {
                    *offset = end;
                    end = align8(end.saturating_add(len));
                }
                if end > window.size() {
                    return Err(Error::InvalidCall(CallError::DmaWindowTooSmall {
                        needed: end,
                        size: window.size(),
                    }));
                }
            }
        }

        // Protocol framing, then the PSA body.
        let mut head = [0u8; 96];
        let mut at = 0;
        let message_id = self.next_message_id;
        let seq_num = self.next_seq_num;
        match self.config.protocol {
            Protocol::Sfcp => {
                self.next_message_id = message_id.wrapping_add(1);
                at += self.config.sfcp.write_message_prefix(message_id, &mut head);
                head[at] = transfer as u8; // protocol_ver, 3 reserved bytes
                at += sfcp::PSA_HEADER_SIZE;
            }
            Protocol::RseComms => {
                self.next_seq_num = seq_num.wrapping_add(1);
                at += rse_comms::write_header(
                    transfer as u8,
                    seq_num,
                    self.config.rse_comms_client_id,
                    &mut head,
                );
            }
        }
        let body = at;
        let ctrl = psa::ctrl_param(call_type as u16, n_in, n_out);
        head[body + psa::embed::MSG_HANDLE..][..4].copy_from_slice(&handle.to_le_bytes());
        head[body + psa::embed::MSG_CTRL_PARAM..][..4].copy_from_slice(&ctrl.to_le_bytes());
        match transfer {
            Transfer::Embed => {
                for (i, &len) in io.iter().enumerate() {
                    let at = body + psa::embed::MSG_IO_SIZE + 2 * i;
                    head[at..at + 2].copy_from_slice(&(len as u16).to_le_bytes());
                }
                at = body + psa::embed::MSG_FIXED;
            }
            Transfer::PointerAccess => {
                let window = window
                    .as_deref_mut()
                    .ok_or(Error::InvalidCall(CallError::NoDmaWindow))?;
                let base = window.phys_base();
                for (i, &len) in io.iter().enumerate() {
                    let at = body + psa::pointer_access::MSG_IO_SIZES + 4 * i;
                    head[at..at + 4].copy_from_slice(&(len as u32).to_le_bytes());
                    let address = base.wrapping_add(offsets[i] as u64);
                    let at = body + psa::pointer_access::MSG_HOST_PTRS + 8 * i;
                    head[at..at + 8].copy_from_slice(&address.to_le_bytes());
                }
                for (i, input) in inputs.iter().enumerate() {
                    window.write(offsets[i], input);
                }
                // Outputs start zeroed so nothing stale can pass as output.
                for (i, &len) in io[n_in..].iter().enumerate() {
                    let mut done = 0;
                    while done < len {
                        let chunk = (len - done).min(64);
                        window.write(offsets[n_in + i] + done, &[0u8; 64][..chunk]);
                        done += chunk;
                    }
                }
                at = body + psa::pointer_access::MSG_SIZE;
            }
        }

        let mut parts: [&[u8]; 1 + MAX_IOVEC] = [&[]; 1 + MAX_IOVEC];
        parts[0] = &head[..at];
        if transfer == Transfer::Embed {
            for (part, input) in parts[1..].iter_mut().zip(inputs) {
                *part = input;
            }
        }
        self.link
            .send(&parts, self.config.spin_limit)
            .map_err(Error::Mhu)?;

        let mut decoder = ReplyDecoder::new(&self.config, transfer, message_id, seq_num, outputs);
        let len = self
            .link
            .receive(self.config.spin_limit, &mut decoder)
            .map_err(Error::Mhu)?;
        let (status, out_sizes) = decoder.finish(len)?;
        if status != PSA_SUCCESS {
            return Err(Error::Service(PsaError::from_status(status)));
        }
        if transfer == Transfer::PointerAccess {
            // finish() checked every size against what we advertised.
            let window = window.ok_or(Error::InvalidCall(CallError::NoDmaWindow))?;
            let outputs = decoder.outputs;
            for (i, output) in outputs.iter_mut().enumerate() {
                window.read(offsets[n_in + i], &mut output[..out_sizes[i]]);
            }
        }
        Ok(out_sizes)
    }
}

/// Largest reply header: SFCP prefix + PSA header + pointer-access reply.
const MAX_REPLY_HEADER: usize =
    sfcp::PREFIX_SIZE + sfcp::PSA_HEADER_SIZE + psa::pointer_access::REPLY_SIZE;

/// Checks a reply as it streams in: header bytes are collected and checked,
/// embedded outputs go straight into the caller's slices.
struct ReplyDecoder<'c, 'o, 'b> {
    config: &'c Config,
    transfer: Transfer,
    message_id: u8,
    seq_num: u8,
    outputs: &'o mut [&'b mut [u8]],
    /// Bytes before the outputs.
    header_size: usize,
    header: [u8; MAX_REPLY_HEADER],
    received: usize,
    total: usize,
    status: i32,
    out_sizes: [usize; MAX_IOVEC],
    out_index: usize,
    out_pos: usize,
    /// First problem found; the rest of the message is then dropped.
    fault: Option<Error>,
    header_checked: bool,
}

impl<'c, 'o, 'b> ReplyDecoder<'c, 'o, 'b> {
    fn new(
        config: &'c Config,
        transfer: Transfer,
        message_id: u8,
        seq_num: u8,
        outputs: &'o mut [&'b mut [u8]],
    ) -> Self {
        let body = match transfer {
            Transfer::Embed => psa::embed::REPLY_FIXED,
            Transfer::PointerAccess => psa::pointer_access::REPLY_SIZE,
        };
        Self {
            config,
            transfer,
            message_id,
            seq_num,
            outputs,
            header_size: framing_size(config) + body,
            header: [0; MAX_REPLY_HEADER],
            received: 0,
            total: 0,
            status: 0,
            out_sizes: [0; MAX_IOVEC],
            out_index: 0,
            out_pos: 0,
            fault: None,
            header_checked: false,
        }
    }

    fn check_header(&mut self) -> Result<(), Error> {
        let h = &self.header[..self.header_size];
        let psa_at = match self.config.protocol {
            Protocol::Sfcp => {
                let prefix =
                    sfcp::check_reply_prefix(&self.config.sfcp, self.message_id, h, self.total)
                        .map_err(|f| Error::MalformedReply(Malformed::Sfcp(f)))?;
                if let ReplyPrefix::ProtocolError(e) = prefix {
                    return Err(Error::SfcpProtocol(e));
                }
                self.config.sfcp.prefix_size()
            }
            Protocol::RseComms => {
                rse_comms::check_reply_header(self.seq_num, self.config.rse_comms_client_id, h)
                    .map_err(|f| Error::MalformedReply(Malformed::RseComms(f)))?;
                0
            }
        };
        let got = h[psa_at];
        if got != self.transfer as u8 {
            return Err(Error::MalformedReply(Malformed::PsaProtocol {
                expected: self.transfer as u8,
                got,
            }));
        }
        let body = framing_size(self.config);
        let read_u32 = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        self.status = read_u32(body) as i32;
        for i in 0..MAX_IOVEC {
            self.out_sizes[i] = match self.transfer {
                Transfer::Embed => {
                    let at = body + psa::embed::REPLY_OUT_SIZE + 2 * i;
                    u16::from_le_bytes([h[at], h[at + 1]]) as usize
                }
                Transfer::PointerAccess => {
                    read_u32(body + psa::pointer_access::REPLY_OUT_SIZE + 4 * i) as usize
                }
            };
        }
        let n_out = self.outputs.len();
        if let Some(index) = (n_out..MAX_IOVEC).find(|&i| self.out_sizes[i] != 0) {
            return Err(Error::MalformedReply(Malformed::UnexpectedOutput { index }));
        }
        let expected = match self.transfer {
            Transfer::Embed => self.header_size + self.out_sizes.iter().sum::<usize>(),
            Transfer::PointerAccess => self.header_size,
        };
        if self.total != expected {
            return Err(Error::MalformedReply(Malformed::Length {
                len: self.total,
                expected,
            }));
        }
        for (size, output) in self.out_sizes.iter().zip(self.outputs.iter()) {
            if *size > output.len() {
                return Err(Error::OutputTooSmall {
                    needed: *size,
                    capacity: output.len(),
                });
            }
        }
        Ok(())
    }

    fn take_payload_byte(&mut self, byte: u8) {
        while self.out_index < self.outputs.len() && self.out_pos == self.out_sizes[self.out_index]
        {
            self.out_index += 1;
            self.out_pos = 0;
        }
        // check_header() matched the length to the sizes, so there is room.
        if let Some(output) = self.outputs.get_mut(self.out_index) {
            output[self.out_pos] = byte;
            self.out_pos += 1;
        }
    }

    fn finish(&mut self, len: usize) -> Result<(i32, [usize; MAX_IOVEC]), Error> {
        if let Some(fault) = self.fault {
            return Err(fault);
        }
        if !self.header_checked {
            // Shorter than a reply header: only an SFCP error reply is
            // legitimately this short.
            if self.config.protocol == Protocol::Sfcp && len >= sfcp::PREFIX_SIZE {
                let prefix = &self.header[..len.min(MAX_REPLY_HEADER)];
                match sfcp::check_reply_prefix(&self.config.sfcp, self.message_id, prefix, len) {
                    Ok(ReplyPrefix::ProtocolError(e)) => return Err(Error::SfcpProtocol(e)),
                    Err(f) if len == sfcp::ERROR_REPLY_SIZE => {
                        return Err(Error::MalformedReply(Malformed::Sfcp(f)));
                    }
                    _ => {}
                }
            }
            return Err(Error::MalformedReply(Malformed::Truncated { len }));
        }
        Ok((self.status, self.out_sizes))
    }
}

impl MessageSink for ReplyDecoder<'_, '_, '_> {
    fn begin(&mut self, len: usize) {
        self.total = len;
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if self.received < self.header_size {
                self.header[self.received] = byte;
                self.received += 1;
                if self.received == self.header_size {
                    self.header_checked = true;
                    if let Err(e) = self.check_header() {
                        self.fault = Some(e);
                    }
                }
            } else {
                self.received += 1;
                if self.fault.is_none() && self.transfer == Transfer::Embed {
                    self.take_payload_byte(byte);
                }
            }
        }
    }
}
