//! The defmt global logger every Rampart image links: it frames each defmt
//! record as `COBS(channel || frame) 0x00` (see `rampart_ipc::trace`) and
//! hands it whole to the image's sink: a UART, or (the RMM on boards where
//! root carries its trace) a ring in the image's own memory that root
//! drains to root's UART. Root's side of that ring is here too
//! ([`attach_ring`], [`drain_ring`]).
//!
//! Locks keep records whole. Inside an image, one record at a time (cores
//! of the same image): LOCAL_LOCK, in the image's own memory, also held by
//! root while it drains the ring onto its UART. Across images that write
//! the same UART (only an NS payload and an RMM in its fallback, under
//! TF-A's BL31), a lock word in a NS granule both map. Both are taken with
//! a bounded wait; a holder that never lets go (a hostile host, a core that
//! died mid-record) can garble the trace but never stall firmware.

use crate::pl011::Pl011;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering};
use rampart_ipc::trace::{
    Drained, FID_RING_FLUSH, MAX_PAYLOAD, MAX_RECORD, RING_DATA_OFFSET, Ring, RingHeader, RingView,
    encode_record,
};

/// Spins before a lock is taken over regardless.
const LOCK_SPINS: u32 = 1 << 20;

const SINK_NONE: u8 = 0;
const SINK_UART: u8 = 1;
const SINK_RING: u8 = 2;

static CHANNEL: AtomicU8 = AtomicU8::new(0);
static SINK: AtomicU8 = AtomicU8::new(SINK_NONE);
static UART: AtomicUsize = AtomicUsize::new(0);
static SHARED_LOCK: AtomicUsize = AtomicUsize::new(0);
static LOCAL_LOCK: AtomicBool = AtomicBool::new(false);
static COUNTER_HZ: AtomicU32 = AtomicU32::new(0);
/// Producer side: this image's ring (header address, data capacity).
static OWN_RING: AtomicUsize = AtomicUsize::new(0);
static OWN_RING_CAPACITY: AtomicU32 = AtomicU32::new(0);
/// Consumer side (root): the ring attached, root's own copy of its tail,
/// and what root has already reported of it.
static PEER_RING: AtomicUsize = AtomicUsize::new(0);
static PEER_RING_CAPACITY: AtomicU32 = AtomicU32::new(0);
static PEER_TAIL: AtomicU32 = AtomicU32::new(0);
static PEER_DROPPED_SEEN: AtomicU32 = AtomicU32::new(0);

struct Buffers {
    payload: [u8; MAX_PAYLOAD],
    len: usize,
    record: [u8; MAX_RECORD],
}

struct Shared(UnsafeCell<Buffers>);
// SAFETY: the buffers are only touched between acquire and release, which
// LOCAL_LOCK makes exclusive within the image.
unsafe impl Sync for Shared {}

static BUFFERS: Shared = Shared(UnsafeCell::new(Buffers {
    payload: [0; MAX_PAYLOAD],
    len: 0,
    record: [0; MAX_RECORD],
}));

fn start_counter(channel: u8) {
    COUNTER_HZ.store(
        rampart_arch::read_sysreg!("cntfrq_el0") as u32,
        Ordering::Relaxed,
    );
    CHANNEL.store(channel, Ordering::Relaxed);
}

/// Starts the trace for this image on a UART.
///
/// # Safety
/// `uart` must be the image's device mapping of the trace PL011 and
/// `shared_lock` zero (the image is the UART's only writer) or a mapped,
/// 4-byte aligned word of normal memory that every image writing to the
/// same UART uses as its lock (zero when free).
pub unsafe fn init(channel: u8, uart: usize, shared_lock: usize) {
    start_counter(channel);
    SHARED_LOCK.store(shared_lock, Ordering::Relaxed);
    // SAFETY: the caller's contract.
    unsafe { Pl011::new(uart) }.enable_tx();
    UART.store(uart, Ordering::Relaxed);
    SINK.store(SINK_UART, Ordering::Release);
}

/// Starts the trace for this image into `ring`, which root drains (the
/// caller registered it with root first).
pub fn init_ring<const N: usize>(channel: u8, ring: &'static Ring<N>) {
    start_counter(channel);
    OWN_RING_CAPACITY.store(N as u32, Ordering::Relaxed);
    OWN_RING.store(&raw const ring.header as usize, Ordering::Relaxed);
    SINK.store(SINK_RING, Ordering::Release);
}

/// A ring's view from its header address and capacity.
///
/// # Safety
/// `addr` must be a ring header mapped as normal memory for the rest of
/// the image's life, followed by `capacity` mapped data bytes (a power of
/// two), which only the ring protocol accesses.
unsafe fn ring_at(addr: usize, capacity: u32) -> Option<RingView<'static>> {
    // SAFETY: the caller's contract; both are atomics, so concurrent
    // access by the other side is no data race.
    let (header, data) = unsafe {
        (
            &*(addr as *const RingHeader),
            core::slice::from_raw_parts(
                (addr + RING_DATA_OFFSET) as *const AtomicU8,
                capacity as usize,
            ),
        )
    };
    RingView::new(header, data)
}

/// Root: takes the ring another image registered, once per boot; false
/// when one is already attached.
///
/// # Safety
/// As [`ring_at`]: root maps `[addr, addr + RING_DATA_OFFSET + capacity)`
/// as normal memory for the rest of its life, and the caller checked that
/// it lies wholly in the producer's memory (`rampart_ipc::trace::ring_fits`).
pub unsafe fn attach_ring(addr: usize, capacity: u32) -> bool {
    // SAFETY: the caller's contract.
    let Some(ring) = (unsafe { ring_at(addr, capacity) }) else {
        return false;
    };
    // Claim the slot first, so that two registrations can never mix one
    // ring's address with the other's capacity; drains ignore the claim.
    if addr <= RING_CLAIMED
        || PEER_RING
            .compare_exchange(0, RING_CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return false;
    }
    // Whatever the producer wrote before registering is skipped, not
    // trusted: root starts at its head.
    let head = ring.header().head.load(Ordering::Acquire);
    PEER_TAIL.store(head, Ordering::Relaxed);
    PEER_DROPPED_SEEN.store(ring.dropped(), Ordering::Relaxed);
    PEER_RING_CAPACITY.store(capacity, Ordering::Relaxed);
    PEER_RING.store(addr, Ordering::Release);
    true
}

/// Root: passes what waits in the attached ring to root's UART. Costs two
/// loads and a compare when the ring is empty, which is nearly always: it
/// runs on every call the Realm world makes to EL3.
#[inline]
pub fn drain_ring() {
    let addr = PEER_RING.load(Ordering::Acquire);
    if addr <= RING_CLAIMED {
        return;
    }
    // SAFETY: attach_ring's contract; the head is an atomic.
    let head = unsafe { &*(addr as *const RingHeader) }
        .head
        .load(Ordering::Relaxed);
    if head != PEER_TAIL.load(Ordering::Relaxed) {
        drain_ring_now(addr);
    }
}

/// Root: whether a ring is attached (its registration answered).
pub fn ring_attached() -> bool {
    PEER_RING.load(Ordering::Acquire) > RING_CLAIMED
}

/// PEER_RING while a registration is being taken (no ring lies at 1).
const RING_CLAIMED: usize = 1;

#[inline(never)]
fn drain_ring_now(addr: usize) {
    // SAFETY: attach_ring's contract (the capacity was checked there).
    let Some(ring) = (unsafe { ring_at(addr, PEER_RING_CAPACITY.load(Ordering::Relaxed)) }) else {
        return;
    };
    let uart = UART.load(Ordering::Relaxed);
    // Another core holds root's UART (logging, or draining): leave the
    // records for the next drain rather than interleave with it.
    if LOCAL_LOCK
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    let mut tail = PEER_TAIL.load(Ordering::Relaxed);
    let drained = if SINK.load(Ordering::Acquire) == SINK_UART {
        // SAFETY: `init`'s contract.
        let pl011 = unsafe { Pl011::new(uart) };
        let drained = ring.drain(&mut tail, |b| pl011.write_bytes(&[b]));
        if let Drained::Bytes { whole: false, .. } = drained {
            // End a garbled tail so that root's next record decodes.
            pl011.write_bytes(&[0]);
        }
        drained
    } else {
        ring.drain(&mut tail, |_| ())
    };
    PEER_TAIL.store(tail, Ordering::Relaxed);
    let dropped = ring.dropped();
    let seen = PEER_DROPPED_SEEN.swap(dropped, Ordering::Relaxed);
    LOCAL_LOCK.store(false, Ordering::Release);
    if let Drained::Corrupt { claimed } = drained {
        defmt::warn!(
            "trace: the RMM's ring claimed {=u32} bytes waiting (capacity {=u32}): skipped",
            claimed,
            ring.capacity()
        );
    }
    if dropped != seen {
        defmt::warn!(
            "trace: the RMM dropped {=u32} record(s) on a full ring ({=u32} since boot)",
            dropped.wrapping_sub(seen),
            dropped
        );
    }
}

/// Makes sure this image's records have reached a UART: for an image
/// tracing into a ring, asks root to drain it now (SMCCC vendor call; the
/// RMM's panic path makes it before parking); for root, drains the ring
/// it carries.
pub fn flush() {
    // Once: a fault taken while flushing (root reading a ring the producer
    // broke) panics again, and must not flush again.
    if FLUSHED.swap(true, Ordering::AcqRel) {
        return;
    }
    if SINK.load(Ordering::Acquire) == SINK_RING {
        let _ = rampart_arch::smc([u64::from(FID_RING_FLUSH), 0, 0, 0, 0, 0, 0, 0]);
    }
    drain_ring();
}

static FLUSHED: AtomicBool = AtomicBool::new(false);

fn take(lock: &AtomicU32) {
    for _ in 0..LOCK_SPINS {
        if lock
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        core::hint::spin_loop();
    }
}

/// Takes LOCAL_LOCK, or takes it over after a bounded wait.
fn take_local() {
    for _ in 0..LOCK_SPINS {
        if LOCAL_LOCK
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        core::hint::spin_loop();
    }
}

fn shared_lock() -> Option<&'static AtomicU32> {
    let addr = SHARED_LOCK.load(Ordering::Relaxed);
    // SAFETY: `init`'s contract: a mapped, aligned word used only as a lock.
    (addr != 0).then(|| unsafe { &*(addr as *const AtomicU32) })
}

/// Microseconds since the counter started, for defmt timestamps.
pub fn micros() -> u64 {
    let hz = u64::from(COUNTER_HZ.load(Ordering::Relaxed)).max(1);
    let ticks = rampart_arch::counter();
    ((u128::from(ticks) * 1_000_000) / u128::from(hz)) as u64
}

defmt::timestamp!("{=u64:us}", micros());

#[defmt::global_logger]
struct Logger;

// SAFETY: acquire/release bracket every write; LOCAL_LOCK serialises cores
// of this image (firmware runs with interrupts masked, so a core never
// re-enters the logger except through a panic, which the bounded wait covers).
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        take_local();
        // SAFETY: exclusive after LOCAL_LOCK (see the impl's comment).
        unsafe { (*BUFFERS.0.get()).len = 0 };
    }

    unsafe fn flush() {}

    unsafe fn release() {
        // SAFETY: exclusive between acquire and release.
        let buffers = unsafe { &mut *BUFFERS.0.get() };
        let n = encode_record(
            CHANNEL.load(Ordering::Relaxed),
            &buffers.payload[..buffers.len],
            &mut buffers.record,
        );
        emit(&buffers.record[..n]);
        LOCAL_LOCK.store(false, Ordering::Release);
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: exclusive between acquire and release.
        let buffers = unsafe { &mut *BUFFERS.0.get() };
        let room = MAX_PAYLOAD - buffers.len;
        let n = bytes.len().min(room);
        buffers.payload[buffers.len..buffers.len + n].copy_from_slice(&bytes[..n]);
        buffers.len += n;
    }
}

/// Writes `text` (UTF-8, e.g. one line of a guest's console) as one record
/// on `channel`, which should carry `rampart_ipc::trace::TEXT`; text longer
/// than a record's payload is cut. Takes the same locks as the defmt
/// logger, so it must not be called from inside a defmt call.
pub fn text(channel: u8, text: &[u8]) {
    if SINK.load(Ordering::Acquire) == SINK_NONE {
        return;
    }
    take_local();
    // SAFETY: exclusive after LOCAL_LOCK, as between the logger's acquire
    // and release.
    let buffers = unsafe { &mut *BUFFERS.0.get() };
    let n = encode_record(channel, text, &mut buffers.record);
    emit(&buffers.record[..n]);
    LOCAL_LOCK.store(false, Ordering::Release);
}

/// Hands one whole record to the image's sink (the caller holds
/// LOCAL_LOCK): the ring, or the UART under the lock shared by every
/// image on it.
fn emit(record: &[u8]) {
    match SINK.load(Ordering::Acquire) {
        SINK_UART => {
            let lock = shared_lock();
            if let Some(lock) = lock {
                take(lock);
            }
            // SAFETY: `init`'s contract.
            unsafe { Pl011::new(UART.load(Ordering::Relaxed)) }.write_bytes(record);
            if let Some(lock) = lock {
                lock.store(0, Ordering::Release);
            }
        }
        SINK_RING => {
            // SAFETY: init_ring stored a `&'static Ring<N>` and its N.
            let ring = unsafe {
                ring_at(
                    OWN_RING.load(Ordering::Relaxed),
                    OWN_RING_CAPACITY.load(Ordering::Relaxed),
                )
            };
            if let Some(ring) = ring {
                ring.push(record);
            }
        }
        _ => {}
    }
}

/// Lower-case hex of `bytes` in `out`, two characters a byte, for trace
/// text (keys, measurements, tokens); cut to what `out` holds.
pub fn hex<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    let len = (out.len() / 2).min(bytes.len()) * 2;
    core::str::from_utf8(&out[..len]).unwrap_or("")
}

/// Logs a panic, makes sure the record reaches a UART, and parks the core
/// for good.
pub fn panic_and_park(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    flush();
    loop {
        rampart_arch::wfe();
    }
}
