//! The defmt global logger every Rampart image links: it frames each defmt
//! record as `COBS(channel || frame) 0x00` (see `rampart_ipc::trace`) and
//! writes it whole to the trace UART.
//!
//! Two locks keep records whole. Inside an image, one record at a time
//! (cores of the same image). Across images, a lock word in a NS granule
//! that EL3, the RMM and the NS payloads all map: it is the only way to
//! serialise images that share no memory. Both are taken with a bounded
//! wait; a holder that never lets go (a hostile host, a core that died
//! mid-record) can garble the trace but never stall firmware.

use crate::pl011::Pl011;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering};
use rampart_ipc::trace::{MAX_PAYLOAD, MAX_RECORD, encode_record};

/// Spins before a lock is taken over regardless.
const LOCK_SPINS: u32 = 1 << 20;

static CHANNEL: AtomicU8 = AtomicU8::new(0);
static UART: AtomicUsize = AtomicUsize::new(0);
static SHARED_LOCK: AtomicUsize = AtomicUsize::new(0);
static LOCAL_LOCK: AtomicBool = AtomicBool::new(false);
static COUNTER_HZ: AtomicU32 = AtomicU32::new(0);

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

/// Starts the trace for this image.
///
/// # Safety
/// `uart` must be the image's device mapping of the trace PL011 and
/// `shared_lock` a mapped, 4-byte aligned word of normal memory that every
/// image writing to the same UART uses as its lock (zero when free).
pub unsafe fn init(channel: u8, uart: usize, shared_lock: usize) {
    COUNTER_HZ.store(
        rampart_arch::read_sysreg!("cntfrq_el0") as u32,
        Ordering::Relaxed,
    );
    CHANNEL.store(channel, Ordering::Relaxed);
    SHARED_LOCK.store(shared_lock, Ordering::Relaxed);
    // SAFETY: the caller's contract.
    unsafe { Pl011::new(uart) }.enable_tx();
    UART.store(uart, Ordering::Release);
}

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
        for _ in 0..LOCK_SPINS {
            if LOCAL_LOCK
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                break;
            }
            core::hint::spin_loop();
        }
        // SAFETY: exclusive after LOCAL_LOCK (see the impl's comment).
        unsafe { (*BUFFERS.0.get()).len = 0 };
    }

    unsafe fn flush() {}

    unsafe fn release() {
        // SAFETY: exclusive between acquire and release.
        let buffers = unsafe { &mut *BUFFERS.0.get() };
        let uart = UART.load(Ordering::Acquire);
        if uart != 0 {
            let n = encode_record(
                CHANNEL.load(Ordering::Relaxed),
                &buffers.payload[..buffers.len],
                &mut buffers.record,
            );
            emit(uart, &buffers.record[..n]);
        }
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
/// than a record's payload is cut. Takes the same two locks as the defmt
/// logger, so it must not be called from inside a defmt call.
pub fn text(channel: u8, text: &[u8]) {
    let uart = UART.load(Ordering::Acquire);
    if uart == 0 {
        return;
    }
    for _ in 0..LOCK_SPINS {
        if LOCAL_LOCK
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            break;
        }
        core::hint::spin_loop();
    }
    // SAFETY: exclusive after LOCAL_LOCK, as between the logger's acquire
    // and release.
    let buffers = unsafe { &mut *BUFFERS.0.get() };
    let n = encode_record(channel, text, &mut buffers.record);
    emit(uart, &buffers.record[..n]);
    LOCAL_LOCK.store(false, Ordering::Release);
}

/// Writes one whole record to the UART under the lock shared by every
/// image on it (the caller holds this image's LOCAL_LOCK).
fn emit(uart: usize, record: &[u8]) {
    let lock = shared_lock();
    if let Some(lock) = lock {
        take(lock);
    }
    // SAFETY: `init`'s contract.
    unsafe { Pl011::new(uart) }.write_bytes(record);
    if let Some(lock) = lock {
        lock.store(0, Ordering::Release);
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

/// Logs a panic and parks the core for good.
pub fn panic_and_park(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    loop {
        rampart_arch::wfe();
    }
}
