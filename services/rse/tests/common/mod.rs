//! A simulated RSE behind two simulated MHUv3 frames.
//!
//! It models the doorbell registers (set/clear/status), reassembles what
//! the driver puts on the AP->RSE postbox, decodes it with a decoder
//! written here from the format facts (not with the crate's code), and
//! answers through the RSE->AP mailbox, one transfer at a time as the AP
//! acks. Facts used (TF-A v2.15.0 / v2.14.0, TF-M rse_comms_psa_handler):
//! * frame layout: AIDR at 0xFCC, DBCH_CFG0 at 0x020, CTRL at 0x100,
//!   channel windows at 0x1000 + 0x20 * ch; postbox ST 0x00 / SET 0x0C /
//!   INT_CLR 0x14 / INT_EN 0x18 / CTRL 0x1C; mailbox ST 0x00 / CLR 0x08 /
//!   MSK_SET 0x14 / MSK_CLR 0x18 / CTRL 0x1C;
//! * transport: channel 0 of the first transfer = length, data words after
//!   it, last channel = 1234 notification, receiver clears to ack;
//! * SFCP header, rse_comms header, embed and pointer-access bodies: byte
//!   offsets spelled out in `decode_request` and the reply builders.
#![allow(dead_code)]

use rampart_rse::{DmaWindow, Mmio};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

pub const NOTIFY: u32 = 1234;
pub const AIDR_MHU_3_0: u32 = 0x20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Sfcp,
    RseComms,
}

/// A request as the RSE sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub raw: Vec<u8>,
    // SFCP only
    pub metadata: u8,
    pub sender: u8,
    pub receiver: u8,
    pub message_id: u8,
    pub client_id: u16,
    pub application_id: u16,
    // rse_comms only
    pub seq_num: u8,
    // PSA
    pub psa_protocol: u8,
    pub handle: i32,
    pub ctrl_param: u32,
    pub call_type: u16,
    pub in_len: usize,
    pub out_len: usize,
    pub io_sizes: [u32; 4],
    pub host_ptrs: [u64; 4],
    /// Embed: the input bytes; pointer access: read from host memory.
    pub inputs: Vec<Vec<u8>>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Decodes a request from its byte offsets.
pub fn decode_request(wire: Wire, raw: &[u8], host: &HostMemory) -> Request {
    let mut r = Request {
        raw: raw.to_vec(),
        metadata: 0,
        sender: 0,
        receiver: 0,
        message_id: 0,
        client_id: 0,
        application_id: 0,
        seq_num: 0,
        psa_protocol: 0,
        handle: 0,
        ctrl_param: 0,
        call_type: 0,
        in_len: 0,
        out_len: 0,
        io_sizes: [0; 4],
        host_ptrs: [0; 4],
        inputs: Vec::new(),
    };
    let body = match wire {
        Wire::Sfcp => {
            // 0 metadata, 1 sender, 2 receiver, 3 message id,
            // 4..6 client id, 6..8 application id (ID extension present
            // when metadata bit 4 is set), then the 4-byte PSA header
            // (byte 0 = protocol_ver).
            r.metadata = raw[0];
            r.sender = raw[1];
            r.receiver = raw[2];
            r.message_id = raw[3];
            let payload = if raw[0] & 0x10 != 0 {
                r.client_id = u16_at(raw, 4);
                r.application_id = u16_at(raw, 6);
                8
            } else {
                4
            };
            r.psa_protocol = raw[payload];
            payload + 4
        }
        Wire::RseComms => {
            // 0 protocol_ver, 1 seq_num, 2..4 client id.
            r.psa_protocol = raw[0];
            r.seq_num = raw[1];
            r.client_id = u16_at(raw, 2);
            4
        }
    };
    // Body: 0 handle (i32), 4 ctrl_param (u32).
    r.handle = u32_at(raw, body) as i32;
    r.ctrl_param = u32_at(raw, body + 4);
    r.call_type = (r.ctrl_param & 0xFFFF) as u16;
    r.out_len = ((r.ctrl_param >> 16) & 0x7) as usize;
    r.in_len = ((r.ctrl_param >> 24) & 0x7) as usize;
    if r.psa_protocol == 0 {
        // Embed: 8 io_size[4] (u16), 16 input bytes back to back.
        let mut at = body + 16;
        for i in 0..4 {
            r.io_sizes[i] = u16_at(raw, body + 8 + 2 * i) as u32;
        }
        for i in 0..r.in_len {
            let n = r.io_sizes[i] as usize;
            r.inputs.push(raw[at..at + n].to_vec());
            at += n;
        }
        assert_eq!(at, raw.len(), "embed message length");
    } else {
        // Pointer access: 8 io_sizes[4] (u32), 24 host_ptrs[4] (u64); 56 bytes.
        assert_eq!(raw.len(), body + 56, "pointer-access message length");
        for i in 0..4 {
            r.io_sizes[i] = u32_at(raw, body + 8 + 4 * i);
            r.host_ptrs[i] = u64_at(raw, body + 24 + 8 * i);
        }
        for i in 0..r.in_len {
            r.inputs
                .push(host.read(r.host_ptrs[i], r.io_sizes[i] as usize));
        }
    }
    r
}

/// Reply header for `req`: SFCP packet header + ID extension + PSA
/// header, or the rse_comms header echoing seq and client.
pub fn reply_prefix(wire: Wire, req: &Request) -> Vec<u8> {
    match wire {
        Wire::Sfcp => {
            let cid = req.client_id.to_le_bytes();
            let aid = req.application_id.to_le_bytes();
            vec![
                0x92, // REPLY (0b10 << 6) | ID extension (1 << 4) | version 0b10
                req.sender,
                req.receiver,
                req.message_id,
                cid[0],
                cid[1],
                aid[0],
                aid[1],
                req.psa_protocol,
                0,
                0,
                0,
            ]
        }
        Wire::RseComms => {
            let cid = req.client_id.to_le_bytes();
            vec![req.psa_protocol, req.seq_num, cid[0], cid[1]]
        }
    }
}

/// A complete reply: embed bodies carry `outputs`, pointer-access bodies
/// write them to host memory and carry only the sizes.
pub fn reply(
    wire: Wire,
    req: &Request,
    status: i32,
    outputs: &[&[u8]],
    host: &HostMemory,
) -> Vec<u8> {
    let mut out = reply_prefix(wire, req);
    out.extend_from_slice(&status.to_le_bytes());
    if req.psa_protocol == 0 {
        for i in 0..4 {
            let n = outputs.get(i).map_or(0, |o| o.len()) as u16;
            out.extend_from_slice(&n.to_le_bytes());
        }
        for o in outputs {
            out.extend_from_slice(o);
        }
    } else {
        for i in 0..4 {
            let n = outputs.get(i).map_or(0, |o| o.len()) as u32;
            out.extend_from_slice(&n.to_le_bytes());
        }
        for (i, o) in outputs.iter().enumerate() {
            host.write(req.host_ptrs[req.in_len + i], o);
        }
    }
    out
}

/// SFCP protocol error reply: metadata 0xC2 (type 0b11, no ID extension),
/// sender/receiver of the message, message id, client id, error code.
pub fn sfcp_error_reply(req: &Request, code: u16) -> Vec<u8> {
    let cid = req.client_id.to_le_bytes();
    let e = code.to_le_bytes();
    vec![
        0xC2,
        req.sender,
        req.receiver,
        req.message_id,
        cid[0],
        cid[1],
        e[0],
        e[1],
    ]
}

pub const RAK: [u8; 48] = {
    let mut k = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        k[i] = 0xA0 ^ i as u8;
        i += 1;
    }
    k
};

pub fn token_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// A well-behaved delegated attestation service returning RAK and a token
/// of `token_len` bytes.
pub fn attestation_service(wire: Wire, token_len: usize) -> Responder {
    Box::new(move |req: &Request, host: &HostMemory| {
        assert_eq!(req.handle, 0x4000_0111);
        match req.call_type {
            1001 => {
                assert_eq!(req.inputs[0], [0x12]);
                assert_eq!(req.inputs[1], 384u32.to_le_bytes());
                let cap = req.io_sizes[3] as usize;
                if cap < 48 {
                    return Some(reply(wire, req, -138, &[], host));
                }
                Some(reply(wire, req, 0, &[&RAK], host))
            }
            1002 => {
                let cap = req.io_sizes[1] as usize;
                if cap < token_len {
                    return Some(reply(wire, req, -138, &[], host));
                }
                Some(reply(wire, req, 0, &[&token_bytes(token_len)], host))
            }
            other => panic!("unexpected call type {other}"),
        }
    })
}

pub type Responder = Box<dyn FnMut(&Request, &HostMemory) -> Option<Vec<u8>>>;

/// Host physical memory the RSE reaches in pointer-access calls.
#[derive(Clone)]
pub struct HostMemory {
    pub base: u64,
    pub bytes: Rc<RefCell<Vec<u8>>>,
}

impl HostMemory {
    pub fn new(base: u64, size: usize) -> Self {
        Self {
            base,
            bytes: Rc::new(RefCell::new(vec![0xEE; size])),
        }
    }
    pub fn read(&self, pa: u64, len: usize) -> Vec<u8> {
        let at = (pa - self.base) as usize;
        self.bytes.borrow()[at..at + len].to_vec()
    }
    pub fn write(&self, pa: u64, data: &[u8]) {
        let at = (pa - self.base) as usize;
        self.bytes.borrow_mut()[at..at + data.len()].copy_from_slice(data);
    }
}

/// The AP's view of the same memory.
pub struct Window(pub HostMemory);

impl DmaWindow for Window {
    fn phys_base(&self) -> u64 {
        self.0.base
    }
    fn size(&self) -> usize {
        self.0.bytes.borrow().len()
    }
    fn write(&mut self, offset: usize, data: &[u8]) {
        self.0.bytes.borrow_mut()[offset..offset + data.len()].copy_from_slice(data);
    }
    fn read(&mut self, offset: usize, out: &mut [u8]) {
        out.copy_from_slice(&self.0.bytes.borrow()[offset..offset + out.len()]);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Postbox,
    Mailbox,
}

pub struct State {
    pub wire: Wire,
    pub aidr: u32,
    pub channels: usize,
    pub pbx_ctrl: u32,
    pub mbx_ctrl: u32,
    /// AP->RSE doorbell bits (postbox ST = RSE mailbox ST).
    pub pbx_st: Vec<u32>,
    pub pbx_int_en: Vec<u32>,
    pub pbx_ch_ctrl: Vec<u32>,
    /// RSE->AP doorbell bits (mailbox ST).
    pub mbx_st: Vec<u32>,
    pub mbx_mask: Vec<u32>,
    pub mbx_ch_ctrl: Vec<u32>,
    /// Every register write, in order.
    pub writes: Vec<(Side, usize, u32)>,
    /// Never clear the postbox: the AP waits for an ack forever.
    pub never_ack: bool,
    /// Reads of the mailbox notification channel before a reply shows.
    pub reply_delay: u32,
    inbound_len: Option<usize>,
    inbound: Vec<u8>,
    /// Words of each AP->RSE transfer as seen when notified (channels
    /// 0..N-2).
    pub inbound_transfers: Vec<Vec<u32>>,
    pub requests: Vec<Request>,
    pub responder: Option<Responder>,
    pub host: HostMemory,
    /// RSE->AP transfers not yet acked (channels 0..N-2 each).
    outbound: VecDeque<Vec<u32>>,
    loaded: bool,
    pub outbound_transfers_sent: usize,
}

impl State {
    fn window(ch: usize, reg: usize) -> usize {
        0x1000 + 0x20 * ch + reg
    }

    fn split_reply(&mut self, reply: &[u8]) {
        let n = self.channels;
        let mut words: Vec<u32> = reply
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                w[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(w)
            })
            .collect();
        words.insert(0, reply.len() as u32);
        for chunk in words.chunks(n - 1) {
            self.outbound.push_back(chunk.to_vec());
        }
    }

    /// Queues a message the RSE sends without being asked.
    pub fn queue_unsolicited(&mut self, message: &[u8]) {
        self.split_reply(message);
    }

    fn on_notify(&mut self) {
        let n = self.channels;
        let words: Vec<u32> = self.pbx_st[..n - 1].to_vec();
        self.inbound_transfers.push(words.clone());
        let data = if self.inbound_len.is_none() {
            self.inbound_len = Some(words[0] as usize);
            &words[1..]
        } else {
            &words[..]
        };
        let len = self.inbound_len.unwrap();
        for w in data {
            for b in w.to_le_bytes() {
                if self.inbound.len() < len {
                    self.inbound.push(b);
                }
            }
        }
        if self.never_ack {
            return;
        }
        self.pbx_st.iter_mut().for_each(|s| *s = 0);
        if self.inbound.len() == len {
            let raw = std::mem::take(&mut self.inbound);
            self.inbound_len = None;
            let req = decode_request(self.wire, &raw, &self.host);
            self.requests.push(req.clone());
            let mut responder = self.responder.take();
            let reply = responder.as_mut().and_then(|r| r(&req, &self.host));
            self.responder = responder;
            if let Some(reply) = reply {
                self.split_reply(&reply);
            }
        }
    }

    fn read(&mut self, side: Side, offset: usize) -> u32 {
        let n = self.channels;
        match offset {
            0xFCC => return self.aidr,
            0x020 => return (n - 1) as u32,
            0x100 => {
                return match side {
                    Side::Postbox => self.pbx_ctrl,
                    Side::Mailbox => self.mbx_ctrl,
                };
            }
            _ => {}
        }
        assert!(offset >= 0x1000, "read of unmodelled register {offset:#x}");
        let ch = (offset - 0x1000) / 0x20;
        let reg = (offset - 0x1000) % 0x20;
        assert!(ch < n, "channel {ch} out of range");
        match (side, reg) {
            (Side::Postbox, 0x00) => self.pbx_st[ch],
            (Side::Postbox, 0x18) => self.pbx_int_en[ch],
            (Side::Postbox, 0x1C) => self.pbx_ch_ctrl[ch],
            (Side::Mailbox, 0x00) => {
                if ch == n - 1 && !self.loaded && !self.outbound.is_empty() {
                    if self.reply_delay > 0 {
                        self.reply_delay -= 1;
                    } else {
                        let words = self.outbound.front().unwrap().clone();
                        self.mbx_st[..words.len()].copy_from_slice(&words);
                        self.mbx_st[n - 1] = NOTIFY;
                        self.loaded = true;
                        self.outbound_transfers_sent += 1;
                    }
                }
                self.mbx_st[ch]
            }
            (Side::Mailbox, 0x1C) => self.mbx_ch_ctrl[ch],
            other => panic!("read of unmodelled register {other:?}"),
        }
    }

    fn write(&mut self, side: Side, offset: usize, value: u32) {
        self.writes.push((side, offset, value));
        let n = self.channels;
        if offset == 0x100 {
            match side {
                Side::Postbox => self.pbx_ctrl = value,
                Side::Mailbox => self.mbx_ctrl = value,
            }
            return;
        }
        assert!(offset >= 0x1000, "write to unmodelled register {offset:#x}");
        let ch = (offset - 0x1000) / 0x20;
        let reg = (offset - 0x1000) % 0x20;
        assert!(ch < n);
        match (side, reg) {
            (Side::Postbox, 0x0C) => {
                self.pbx_st[ch] |= value;
                if ch == n - 1 && value & NOTIFY == NOTIFY {
                    self.on_notify();
                }
            }
            (Side::Postbox, 0x14) => {}
            (Side::Postbox, 0x18) => self.pbx_int_en[ch] = value,
            (Side::Postbox, 0x1C) => self.pbx_ch_ctrl[ch] = value,
            (Side::Mailbox, 0x08) => {
                self.mbx_st[ch] &= !value;
                if ch == n - 1 && self.loaded && self.mbx_st[ch] == 0 {
                    self.outbound.pop_front();
                    self.loaded = false;
                }
            }
            (Side::Mailbox, 0x14) => self.mbx_mask[ch] |= value,
            (Side::Mailbox, 0x18) => self.mbx_mask[ch] &= !value,
            (Side::Mailbox, 0x1C) => self.mbx_ch_ctrl[ch] = value,
            other => panic!("write to unmodelled register {other:?}"),
        }
    }

    /// Offsets of postbox channel window registers, for tests.
    pub fn pbx(ch: usize, reg: usize) -> usize {
        Self::window(ch, reg)
    }
}

/// Handle on the simulation; `frames()` gives the two `Mmio`s.
#[derive(Clone)]
pub struct Sim(pub Rc<RefCell<State>>);

impl Sim {
    pub fn new(wire: Wire, channels: usize, responder: Option<Responder>) -> Self {
        Self(Rc::new(RefCell::new(State {
            wire,
            aidr: AIDR_MHU_3_0,
            channels,
            pbx_ctrl: 0,
            mbx_ctrl: 0,
            pbx_st: vec![0; channels],
            pbx_int_en: vec![1; channels],
            pbx_ch_ctrl: vec![1; channels],
            mbx_st: vec![0; channels],
            mbx_mask: vec![0; channels],
            mbx_ch_ctrl: vec![0; channels],
            writes: Vec::new(),
            never_ack: false,
            reply_delay: 0,
            inbound_len: None,
            inbound: Vec::new(),
            inbound_transfers: Vec::new(),
            requests: Vec::new(),
            responder,
            host: HostMemory::new(0x8_0000, 0x2000),
            outbound: VecDeque::new(),
            loaded: false,
            outbound_transfers_sent: 0,
        })))
    }

    pub fn frames(&self) -> (Frame, Frame) {
        (
            Frame {
                sim: self.0.clone(),
                side: Side::Postbox,
            },
            Frame {
                sim: self.0.clone(),
                side: Side::Mailbox,
            },
        )
    }

    pub fn state(&self) -> std::cell::RefMut<'_, State> {
        self.0.borrow_mut()
    }

    pub fn set_responder(&self, responder: Responder) {
        self.0.borrow_mut().responder = Some(responder);
    }

    pub fn window(&self) -> Window {
        Window(self.0.borrow().host.clone())
    }

    pub fn last_request(&self) -> Request {
        self.0
            .borrow()
            .requests
            .last()
            .cloned()
            .expect("no request")
    }

    /// Whether every doorbell of both directions is clear (link idle).
    pub fn idle(&self) -> bool {
        let s = self.0.borrow();
        s.pbx_st.iter().all(|&w| w == 0)
            && s.mbx_st.iter().all(|&w| w == 0)
            && s.outbound.is_empty()
    }
}

pub struct Frame {
    sim: Rc<RefCell<State>>,
    side: Side,
}

impl Mmio for Frame {
    fn read32(&self, offset: usize) -> u32 {
        self.sim.borrow_mut().read(self.side, offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        self.sim.borrow_mut().write(self.side, offset, value)
    }
}
