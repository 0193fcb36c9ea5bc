//! The trace wire format: how every image multiplexes its records on the
//! board's trace UART.
//!
//! A record is `COBS(channel || payload)` followed by a single `0x00`. The
//! channel names the image; `payload` is one raw-encoded defmt frame, or UTF-8
//! text when the channel has [`TEXT`] set (guest consoles, foreign firmware).
//! A decoder resynchronises at every `0x00`, so a garbled record costs only
//! itself.
//!
//! Channels (which UART carries what) are board data; on boards where the
//! RMM has no UART of its own that root can share with it (QEMU `virt`: the
//! only Realm-reachable UART is the Normal world's console), the RMM's
//! records travel through a [`Ring`] in the RMM's own memory that root
//! drains to its UART. The RMM registers the ring with
//! [`FID_RING_REGISTER`] at cold boot; root drains it whenever the Realm
//! world calls EL3, and on [`FID_RING_FLUSH`] (the RMM's panic path).

use core::sync::atomic::{AtomicU8, AtomicU32, Ordering};

/// Image channels.
pub const ROOT: u8 = 1;
pub const REALM: u8 = 2;
pub const NSHOST: u8 = 3;
pub const GUEST: u8 = 4;
/// Set on a channel whose payload is UTF-8 text rather than a defmt frame.
pub const TEXT: u8 = 0x80;

/// Largest payload a record may carry.
pub const MAX_PAYLOAD: usize = 480;
/// Largest encoded record, delimiter included.
pub const MAX_RECORD: usize = cobs_max(MAX_PAYLOAD + 1) + 1;

const fn cobs_max(len: usize) -> usize {
    len + len / 254 + 1
}

/// Human name of a channel (without the text flag).
pub fn channel_name(channel: u8) -> &'static str {
    match channel & !TEXT {
        ROOT => "root",
        REALM => "realm",
        NSHOST => "nshost",
        GUEST => "guest",
        _ => "?",
    }
}

/// Encodes one record into `out`; returns its length (delimiter included).
/// A payload longer than [`MAX_PAYLOAD`] is cut there.
pub fn encode_record(channel: u8, payload: &[u8], out: &mut [u8; MAX_RECORD]) -> usize {
    let payload = &payload[..payload.len().min(MAX_PAYLOAD)];
    let mut encoder = cobs::CobsEncoder::new(&mut out[..MAX_RECORD - 1]);
    // Sizes are bounded above, so the encoder cannot run out of room.
    let _ = encoder.push(&[channel]);
    let _ = encoder.push(payload);
    let len = encoder.finalize();
    out[len] = 0;
    len + 1
}

/// Decodes one record (the bytes between two delimiters) into `scratch`;
/// returns the channel and payload, or None when it is not a valid record.
pub fn decode_record<'s>(frame: &[u8], scratch: &'s mut [u8]) -> Option<(u8, &'s [u8])> {
    let len = cobs::decode(frame, scratch).ok()?.frame_size();
    let (&channel, payload) = scratch[..len].split_first()?;
    Some((channel, payload))
}

/// Rampart's vendor-specific EL3 monitor calls (SMCCC, DEN0028 section
/// 6.2: OEN 7, "Vendor Specific EL3 Monitor Service Calls"), fast SMC64.
/// Only the Realm world may make them. An EL3 without them (TF-A's BL31)
/// answers SMC_UNKNOWN, and the RMM then writes its console UART itself.
///
/// RING_REGISTER: x1 = the ring's address (its [`RingHeader`]), x2 = the
/// capacity of its data area in bytes. Returns [`RING_OK`] or
/// [`RING_INVALID`] (not a power of two in [`RING_MIN`]..=[`RING_MAX`], not
/// wholly inside the RMM's region, misaligned, or a ring already registered).
pub const FID_RING_REGISTER: u32 = 0xc700_0100;
/// RING_FLUSH: drain the registered ring now. Returns [`RING_OK`], or
/// [`RING_INVALID`] when no ring is registered.
pub const FID_RING_FLUSH: u32 = 0xc700_0101;
pub const RING_OK: u64 = 0;
/// SMCCC INVALID_PARAMETER (-3).
pub const RING_INVALID: u64 = -3i64 as u64;
/// Smallest and largest capacities root accepts. The largest bounds how
/// long one drain keeps a core in EL3 (64 KiB written to a UART).
pub const RING_MIN: u32 = 1 << 9;
pub const RING_MAX: u32 = 1 << 16;
/// Alignment of a ring's header.
pub const RING_ALIGN: u64 = 64;

/// True for a function ID of the ring calls.
pub fn is_ring_fid(fid: u32) -> bool {
    matches!(fid, FID_RING_REGISTER | FID_RING_FLUSH)
}

/// The shared part of a ring, at its start; the data area follows it.
///
/// `head` and `tail` count bytes since the ring was created (they wrap at
/// 2^32; the capacity is a power of two, so `index & (capacity - 1)` is the
/// byte's place). The producer (the RMM, one record at a time under its
/// own lock) writes the bytes, then publishes them with a release store of
/// `head`; the consumer (root) reads `head` with acquire, copies, then
/// hands the room back with a release store of `tail`. Root keeps its own
/// copy of `tail` and never trusts the shared one, so a garbled header can
/// cost records but never make root read outside the data area or loop.
#[repr(C, align(64))]
pub struct RingHeader {
    pub head: AtomicU32,
    pub tail: AtomicU32,
    /// Records the producer dropped because the ring was full.
    pub dropped: AtomicU32,
}

/// Bytes from a ring's header to its data area.
pub const RING_DATA_OFFSET: usize = core::mem::size_of::<RingHeader>();

/// A ring with its storage, as the producer allocates it.
#[repr(C)]
pub struct Ring<const N: usize> {
    pub header: RingHeader,
    pub data: [AtomicU8; N],
}

impl<const N: usize> Ring<N> {
    const CAPACITY_OK: () = assert!(N.is_power_of_two() && N >= RING_MIN as usize);

    pub const fn new() -> Self {
        let () = Self::CAPACITY_OK;
        Self {
            header: RingHeader {
                head: AtomicU32::new(0),
                tail: AtomicU32::new(0),
                dropped: AtomicU32::new(0),
            },
            data: [const { AtomicU8::new(0) }; N],
        }
    }

    pub fn view(&self) -> RingView<'_> {
        RingView {
            header: &self.header,
            data: &self.data,
        }
    }
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A ring seen through its header and its data area, by either side.
#[derive(Clone, Copy)]
pub struct RingView<'a> {
    header: &'a RingHeader,
    data: &'a [AtomicU8],
}

/// What one drain did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drained {
    /// Nothing was waiting.
    Empty,
    /// `bytes` were passed on; `whole` when the last one was a record
    /// delimiter (a well-behaved producer always ends on one).
    Bytes { bytes: u32, whole: bool },
    /// The header claimed more bytes than the ring holds: nothing was read,
    /// and the consumer skipped to the producer's head.
    Corrupt { claimed: u32 },
}

impl<'a> RingView<'a> {
    /// A view of `header` and `data`; None unless the capacity is a power
    /// of two (the index arithmetic needs it).
    pub fn new(header: &'a RingHeader, data: &'a [AtomicU8]) -> Option<Self> {
        (data.len().is_power_of_two() && data.len() <= u32::MAX as usize)
            .then_some(Self { header, data })
    }

    pub fn capacity(&self) -> u32 {
        self.data.len() as u32
    }

    pub fn header(&self) -> &'a RingHeader {
        self.header
    }

    fn byte(&self, index: u32) -> &'a AtomicU8 {
        &self.data[(index & (self.capacity() - 1)) as usize]
    }

    /// Producer: appends one whole record, or drops it and counts the drop
    /// when it does not fit. Callers serialise themselves (one record at a
    /// time).
    pub fn push(&self, record: &[u8]) -> bool {
        let head = self.header.head.load(Ordering::Relaxed);
        let tail = self.header.tail.load(Ordering::Acquire);
        let used = head.wrapping_sub(tail);
        let fits = used <= self.capacity()
            && record.len() <= (self.capacity() - used) as usize
            && !record.is_empty();
        if !fits {
            self.header.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let mut at = head;
        for &b in record {
            self.byte(at).store(b, Ordering::Relaxed);
            at = at.wrapping_add(1);
        }
        self.header.head.store(at, Ordering::Release);
        true
    }

    /// Consumer: true when nothing waits after `tail` (the consumer's own
    /// copy). One load: the check every call to EL3 pays.
    pub fn is_empty(&self, tail: u32) -> bool {
        self.header.head.load(Ordering::Relaxed) == tail
    }

    /// Consumer: passes every byte between `tail` (the consumer's own
    /// copy, advanced here) and the producer's head to `out`, then hands the
    /// room back. Reads at most `capacity` bytes, each inside the data area,
    /// whatever the shared header says.
    pub fn drain(&self, tail: &mut u32, mut out: impl FnMut(u8)) -> Drained {
        let head = self.header.head.load(Ordering::Acquire);
        let pending = head.wrapping_sub(*tail);
        if pending == 0 {
            return Drained::Empty;
        }
        if pending > self.capacity() {
            *tail = head;
            self.header.tail.store(head, Ordering::Release);
            return Drained::Corrupt { claimed: pending };
        }
        let mut last = 0;
        for i in 0..pending {
            last = self.byte(tail.wrapping_add(i)).load(Ordering::Relaxed);
            out(last);
        }
        *tail = head;
        self.header.tail.store(head, Ordering::Release);
        Drained::Bytes {
            bytes: pending,
            whole: last == 0,
        }
    }

    /// The producer's count of dropped records.
    pub fn dropped(&self) -> u32 {
        self.header.dropped.load(Ordering::Relaxed)
    }
}

/// Checks a ring registration against the memory the producer owns
/// (`owner`, e.g. the RMM's region less its shared page): the header and
/// the `capacity` data bytes after it must lie inside it, aligned.
pub fn ring_fits(addr: u64, capacity: u64, owner: rampart_board::Range) -> bool {
    let size = (RING_DATA_OFFSET as u64).checked_add(capacity);
    capacity.is_power_of_two()
        && (u64::from(RING_MIN)..=u64::from(RING_MAX)).contains(&capacity)
        && addr.is_multiple_of(RING_ALIGN)
        && size.is_some_and(|size| owner.contains_range(addr, size))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn records_round_trip_and_carry_no_zero_inside() {
        let payload: [u8; 300] = core::array::from_fn(|i| (i % 7) as u8);
        let mut out = [0u8; MAX_RECORD];
        let n = encode_record(REALM, &payload, &mut out);
        assert_eq!(out[n - 1], 0);
        assert!(!out[..n - 1].contains(&0));
        let mut scratch = [0u8; MAX_RECORD];
        let (ch, back) = decode_record(&out[..n - 1], &mut scratch).unwrap();
        assert_eq!(ch, REALM);
        assert_eq!(back, &payload[..]);
    }

    #[test]
    fn oversize_payload_is_cut_and_junk_is_rejected() {
        let payload = [1u8; MAX_PAYLOAD + 50];
        let mut out = [0u8; MAX_RECORD];
        let n = encode_record(ROOT | TEXT, &payload, &mut out);
        let mut scratch = [0u8; MAX_RECORD];
        let (ch, back) = decode_record(&out[..n - 1], &mut scratch).unwrap();
        assert_eq!((ch, back.len()), (ROOT | TEXT, MAX_PAYLOAD));
        assert_eq!(channel_name(ch), "root");
        assert!(decode_record(&[], &mut scratch).is_none());
    }

    fn records(ring: &RingView, tail: &mut u32) -> (Vec<Vec<u8>>, Drained) {
        let mut bytes = Vec::new();
        let drained = ring.drain(tail, |b| bytes.push(b));
        let records = bytes
            .split_inclusive(|&b| b == 0)
            .map(<[u8]>::to_vec)
            .collect();
        (records, drained)
    }

    fn record(channel: u8, text: &[u8]) -> Vec<u8> {
        let mut out = [0u8; MAX_RECORD];
        let n = encode_record(channel, text, &mut out);
        out[..n].to_vec()
    }

    #[test]
    fn ring_carries_records_in_order_across_the_wrap() {
        let ring = Ring::<512>::new();
        let view = ring.view();
        let mut tail = 0;
        assert!(view.is_empty(tail));
        assert_eq!(view.drain(&mut tail, |_| panic!("empty")), Drained::Empty);
        // 100-byte records: the fifth and later ones straddle the end of
        // the 512-byte area, and head/tail wrap many times.
        for round in 0..40u8 {
            let a = record(REALM | TEXT, &[b'a' + round % 26; 96]);
            let b = record(REALM | TEXT, &[round; 50]);
            assert!(view.push(&a) && view.push(&b), "round {round}");
            assert!(!view.is_empty(tail));
            let (got, drained) = records(&view, &mut tail);
            assert_eq!(got, [a.clone(), b.clone()], "round {round}");
            assert_eq!(
                drained,
                Drained::Bytes {
                    bytes: (a.len() + b.len()) as u32,
                    whole: true
                }
            );
            assert!(view.is_empty(tail));
        }
        assert_eq!(ring.header.tail.load(Ordering::Relaxed), tail);
        assert_eq!(view.dropped(), 0);
        // Indices wrap at 2^32 too.
        let ring = Ring::<512>::new();
        ring.header.head.store(u32::MAX - 10, Ordering::Relaxed);
        ring.header.tail.store(u32::MAX - 10, Ordering::Relaxed);
        let view = ring.view();
        let mut tail = u32::MAX - 10;
        let r = record(ROOT | TEXT, b"across the u32 wrap");
        assert!(view.push(&r));
        assert_eq!(records(&view, &mut tail).0, [r]);
    }

    #[test]
    fn full_ring_drops_whole_records_and_counts_them() {
        let ring = Ring::<512>::new();
        let view = ring.view();
        let r = record(REALM | TEXT, &[b'x'; 120]);
        let fit = 512 / r.len();
        for _ in 0..fit {
            assert!(view.push(&r));
        }
        assert!(!view.push(&r));
        assert!(!view.push(&r));
        assert!(!view.push(&[]));
        assert_eq!(view.dropped(), 3);
        let mut tail = 0;
        let (got, _) = records(&view, &mut tail);
        assert_eq!(got.len(), fit);
        assert!(got.iter().all(|g| *g == r));
        // Room is back once the consumer has drained.
        assert!(view.push(&r));
        assert_eq!(view.dropped(), 3);
    }

    #[test]
    fn hostile_header_never_makes_the_consumer_read_outside_or_spin() {
        let ring = Ring::<512>::new();
        let view = ring.view();
        let mut tail = 0u32;
        // Head far beyond what the ring holds: nothing read, skip to it.
        for claimed in [513u32, 1 << 31, u32::MAX] {
            let head = tail.wrapping_add(claimed);
            ring.header.head.store(head, Ordering::Relaxed);
            let mut calls = 0;
            assert_eq!(
                view.drain(&mut tail, |_| calls += 1),
                Drained::Corrupt { claimed }
            );
            assert_eq!((calls, tail), (0, head));
            assert_eq!(ring.header.tail.load(Ordering::Relaxed), head);
        }
        // Head moved backwards by one: claims 2^32-1 bytes, same answer.
        ring.header
            .head
            .store(tail.wrapping_sub(1), Ordering::Relaxed);
        assert!(matches!(
            view.drain(&mut tail, |_| ()),
            Drained::Corrupt { .. }
        ));
        // A shared tail the producer scribbled on is ignored: the consumer
        // goes by its own copy and reads at most the capacity.
        ring.header.tail.store(0xdead_beef, Ordering::Relaxed);
        ring.header
            .head
            .store(tail.wrapping_add(512), Ordering::Relaxed);
        let mut n = 0;
        let drained = view.drain(&mut tail, |_| n += 1);
        assert_eq!(n, 512);
        assert_eq!(
            drained,
            Drained::Bytes {
                bytes: 512,
                whole: true
            }
        );
        // Garbage without a delimiter is passed on and flagged, so the
        // consumer can end it before writing its own records.
        for (i, b) in ring.data.iter().enumerate().take(7) {
            b.store(0x41 + i as u8, Ordering::Relaxed);
        }
        ring.header
            .head
            .store(tail.wrapping_add(7), Ordering::Relaxed);
        let tail_before = tail;
        let drained = view.drain(&mut tail, |_| ());
        assert_eq!(
            drained,
            Drained::Bytes {
                bytes: 7,
                whole: false
            }
        );
        assert_eq!(tail, tail_before.wrapping_add(7));
        // A producer facing a garbled tail (more used than the capacity)
        // drops rather than overwrite what it cannot account for.
        ring.header
            .tail
            .store(tail.wrapping_sub(4096), Ordering::Relaxed);
        assert!(!view.push(b"x\0"));
    }

    #[test]
    fn registration_must_lie_inside_the_owner() {
        let owner = rampart_board::Range::new(0x4010_0000, 0x10_0000);
        assert!(ring_fits(0x4010_0000, 4096, owner));
        let last = owner.end() - RING_DATA_OFFSET as u64 - 4096;
        assert!(ring_fits(last, 4096, owner));
        assert!(!ring_fits(last + 64, 4096, owner));
        assert!(!ring_fits(0x4010_0000 - 64, 4096, owner));
        assert!(!ring_fits(0x4010_0008, 4096, owner), "misaligned");
        assert!(!ring_fits(0x4010_0000, 3000, owner), "not a power of two");
        assert!(!ring_fits(0x4010_0000, 256, owner), "too small");
        assert!(!ring_fits(0x4010_0000, 2 << 20, owner), "too big");
        assert!(ring_fits(0x4010_0000, 64 << 10, owner));
        assert!(!ring_fits(0x4010_0000, 128 << 10, owner), "over RING_MAX");
        assert!(!ring_fits(u64::MAX - 63, 4096, owner), "overflow");
        assert!(is_ring_fid(FID_RING_REGISTER) && is_ring_fid(FID_RING_FLUSH));
        assert!(!is_ring_fid(0xc700_0102));
        assert_eq!(RING_DATA_OFFSET, 64);
        assert_eq!(core::mem::offset_of!(Ring<512>, data), RING_DATA_OFFSET);
    }
}
