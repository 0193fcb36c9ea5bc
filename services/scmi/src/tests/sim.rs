//! A simulated SCP behind the SMT mailbox and an MHUv3 postbox frame.
//!
//! Its decoder is written here from the format facts, byte offset by byte
//! offset, and shares no code with the crate, so a layout slip in the crate
//! shows up as a mismatch rather than cancelling out.

use std::cell::{Cell, RefCell};
use std::vec::Vec;

use crate::{Barrier, Doorbell, Mmio, SharedMemory};

/// Bytes of the simulated mailbox (TF-A reserves 0x100, the crate touches
/// less than 0x30).
pub const WINDOW: usize = 0x100;
/// Highest byte offset the crate is allowed to touch, exclusive.
pub const TOUCH_LIMIT: usize = 0x30;

/// Byte offsets of the SMT mailbox, spelled out from TF-A's
/// `mailbox_mem_t`: u32 reserved, u32 status, u64 reserved, u32 flags,
/// u32 length, u32 header, payload.
pub mod at {
    pub const STATUS: usize = 4;
    pub const FLAGS: usize = 16;
    pub const LENGTH: usize = 20;
    pub const HEADER: usize = 24;
    pub const PAYLOAD: usize = 28;
}

/// A request as the SCP sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub status: u32,
    pub flags: u32,
    pub length: u32,
    pub header: u32,
    pub message_id: u32,
    pub message_type: u32,
    pub protocol_id: u32,
    pub token: u32,
    pub payload: Vec<u32>,
}

fn le_word(mem: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([mem[at], mem[at + 1], mem[at + 2], mem[at + 3]])
}

fn put_le_word(mem: &mut [u8], at: usize, value: u32) {
    mem[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Decodes the mailbox: header bits message id [7:0], type [9:8],
/// protocol [17:10], token [27:18]; payload is (length - 4) / 4 words.
pub fn decode(mem: &[u8]) -> Decoded {
    let header = le_word(mem, at::HEADER);
    let length = le_word(mem, at::LENGTH);
    let words = (length.saturating_sub(4) / 4).min(16) as usize;
    Decoded {
        status: le_word(mem, at::STATUS),
        flags: le_word(mem, at::FLAGS),
        length,
        header,
        message_id: header & 0xFF,
        message_type: (header >> 8) & 0x3,
        protocol_id: (header >> 10) & 0xFF,
        token: (header >> 18) & 0x3FF,
        payload: (0..words)
            .map(|i| le_word(mem, at::PAYLOAD + 4 * i))
            .collect(),
    }
}

/// What the SCP does when rung.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers every command with `status` and the values of
    /// [`Sim::values_for`].
    Answer { status: i32 },
    /// Never hands the channel back.
    Silent,
    /// Answers, then XORs the echoed header with the mask.
    CorruptHeader(u32),
    /// Answers with SUCCESS, then overwrites the length word.
    Length(u32),
    /// Answers, then sets the channel error bit.
    ErrorBit,
    /// Answers with SUCCESS and FREE, then overwrites one word.
    Tamper { at: usize, value: u32 },
    /// Fills the whole window with PRNG bytes (seeded) and nothing else.
    Garbage(u64),
    /// Fills with PRNG bytes but echoes the header and sets FREE, so the
    /// garbage reaches the response parser.
    GarbageWithEcho(u64),
}

/// Something the crate did to the simulated hardware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Read(usize),
    Write(usize, u32),
    Barrier(Barrier),
    Ring,
}

pub struct Sim {
    mem: RefCell<[u8; WINDOW]>,
    pub mode: Cell<Mode>,
    /// Status reads after the doorbell before FREE shows.
    pub answer_after_polls: Cell<u32>,
    pending_free: Cell<Option<u32>>,
    /// Protocol version reported for every protocol.
    pub version: Cell<u32>,
    /// State reported by POWER_STATE_GET.
    pub power_state: Cell<u32>,
    pub log: RefCell<Vec<Event>>,
    /// Mailbox bytes at each doorbell.
    pub rung: RefCell<Vec<[u8; WINDOW]>>,
}

impl Sim {
    /// An idle SCP: channel free, answering SUCCESS at once.
    pub fn new() -> Self {
        let sim = Self {
            mem: RefCell::new([0; WINDOW]),
            mode: Cell::new(Mode::Answer { status: 0 }),
            answer_after_polls: Cell::new(0),
            pending_free: Cell::new(None),
            version: Cell::new(0x0003_0000),
            power_state: Cell::new(0x0001_0011),
            log: RefCell::new(Vec::new()),
            rung: RefCell::new(Vec::new()),
        };
        sim.poke(at::STATUS, 1);
        sim
    }

    /// Writes a word without logging it (the SCP's own access).
    pub fn poke(&self, at: usize, value: u32) {
        put_le_word(&mut self.mem.borrow_mut()[..], at, value);
    }

    /// Reads a word without logging it.
    pub fn peek(&self, at: usize) -> u32 {
        le_word(&self.mem.borrow()[..], at)
    }

    pub fn fill(&self, bytes: &[u8; WINDOW]) {
        *self.mem.borrow_mut() = *bytes;
    }

    pub fn events(&self) -> Vec<Event> {
        self.log.borrow().clone()
    }

    pub fn ring_count(&self) -> usize {
        self.rung.borrow().len()
    }

    pub fn last_request(&self) -> [u8; WINDOW] {
        *self.rung.borrow().last().expect("doorbell never rung")
    }

    /// Return values an honest SCP gives for a decoded request.
    fn values_for(&self, request: &Decoded) -> Vec<u32> {
        match (request.protocol_id, request.message_id) {
            // PROTOCOL_VERSION: version.
            (_, 0) => std::vec![self.version.get()],
            // PROTOCOL_MESSAGE_ATTRIBUTES: attributes (warm reset bit).
            (_, 2) => std::vec![0x8000_0000],
            // POWER_STATE_GET: state.
            (0x11, 5) => std::vec![self.power_state.get()],
            _ => std::vec![],
        }
    }

    fn on_ring(&self) {
        self.log.borrow_mut().push(Event::Ring);
        self.rung.borrow_mut().push(*self.mem.borrow());
        let request = decode(&self.mem.borrow()[..]);
        match self.mode.get() {
            Mode::Silent => return,
            Mode::Garbage(seed) => {
                let mut rng = Rng(seed);
                rng.fill(&mut self.mem.borrow_mut()[..]);
                return;
            }
            Mode::GarbageWithEcho(seed) => {
                let mut rng = Rng(seed);
                rng.fill(&mut self.mem.borrow_mut()[..]);
                self.poke(at::HEADER, request.header);
                // Often near-valid, so the parser's later checks and the
                // success path are reached too.
                let status = self.peek(at::STATUS);
                let status = if rng.below(2) == 0 { 1 } else { status | 1 };
                self.poke(at::STATUS, status);
                let length = [8, 12, self.peek(at::LENGTH)][rng.below(3) as usize];
                self.poke(at::LENGTH, length);
                let code = [0, 1, self.peek(at::PAYLOAD)][rng.below(3) as usize];
                self.poke(at::PAYLOAD, code);
                return;
            }
            Mode::Answer { status } => self.answer(&request, status),
            Mode::CorruptHeader(mask) => {
                self.answer(&request, 0);
                self.poke(at::HEADER, request.header ^ mask);
            }
            Mode::Length(length) => {
                self.answer(&request, 0);
                self.poke(at::LENGTH, length);
            }
            Mode::ErrorBit | Mode::Tamper { .. } => self.answer(&request, 0),
        }
        let error = if self.mode.get() == Mode::ErrorBit {
            2
        } else {
            0
        };
        self.poke(at::STATUS, error);
        if self.answer_after_polls.get() == 0 {
            self.poke(at::STATUS, 1 | error);
        } else {
            self.pending_free.set(Some(self.answer_after_polls.get()));
        }
        if let Mode::Tamper { at, value } = self.mode.get() {
            self.poke(at, value);
        }
    }

    /// Writes length, echoed header, status and values; FREE is set by
    /// the caller.
    fn answer(&self, request: &Decoded, status: i32) {
        let values = if status == 0 || status == 1 {
            self.values_for(request)
        } else {
            std::vec![]
        };
        self.poke(at::LENGTH, 8 + 4 * values.len() as u32);
        self.poke(at::HEADER, request.header);
        self.poke(at::PAYLOAD, status as u32);
        for (i, value) in values.iter().enumerate() {
            self.poke(at::PAYLOAD + 4 + 4 * i, *value);
        }
    }
}

impl Mmio for Sim {
    fn read32(&self, offset: usize) -> u32 {
        assert!(
            offset.is_multiple_of(4) && offset < TOUCH_LIMIT,
            "read at {offset:#x}"
        );
        self.log.borrow_mut().push(Event::Read(offset));
        if offset == at::STATUS
            && let Some(left) = self.pending_free.get()
        {
            if left <= 1 {
                self.pending_free.set(None);
                let status = self.peek(at::STATUS);
                self.poke(at::STATUS, status | 1);
            } else {
                self.pending_free.set(Some(left - 1));
            }
        }
        self.peek(offset)
    }

    fn write32(&self, offset: usize, value: u32) {
        assert!(
            offset.is_multiple_of(4) && offset < TOUCH_LIMIT,
            "write at {offset:#x}"
        );
        self.log.borrow_mut().push(Event::Write(offset, value));
        self.poke(offset, value);
    }
}

impl SharedMemory for Sim {
    fn barrier(&self, kind: Barrier) {
        self.log.borrow_mut().push(Event::Barrier(kind));
    }
}

/// Rings the simulated SCP directly.
pub struct Bell<'a>(pub &'a Sim);

impl Doorbell for Bell<'_> {
    fn ring(&self) {
        self.0.on_ring();
    }
}

/// An MHUv3 postbox frame: PDBCW_SET of channel 0 (0x1000 + 0x0C) rings the
/// SCP when bit 0 is written as 1. Reads of it return `set_readback`.
pub struct MhuFrame<'a> {
    pub scp: Option<&'a Sim>,
    pub set_readback: u32,
    pub accesses: RefCell<Vec<(char, usize, u32)>>,
}

impl<'a> MhuFrame<'a> {
    pub fn new(scp: Option<&'a Sim>, set_readback: u32) -> Self {
        Self {
            scp,
            set_readback,
            accesses: RefCell::new(Vec::new()),
        }
    }
}

impl Mmio for MhuFrame<'_> {
    fn read32(&self, offset: usize) -> u32 {
        let value = if offset == 0x100C {
            self.set_readback
        } else {
            0
        };
        self.accesses.borrow_mut().push(('r', offset, value));
        value
    }

    fn write32(&self, offset: usize, value: u32) {
        self.accesses.borrow_mut().push(('w', offset, value));
        if offset == 0x100C
            && value & 1 != 0
            && let Some(scp) = self.scp
        {
            scp.on_ring();
        }
    }
}

/// xorshift64*: small, deterministic.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0 | 1;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for byte in bytes {
            *byte = self.next() as u8;
        }
    }
}
