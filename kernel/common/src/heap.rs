//! The kernel heap: a linked-list allocator over a static region, for the
//! code that builds variable-size CBOR/COSE (attestation tokens). Nothing
//! on an RMI/RSI fast path allocates.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};
use embedded_alloc::LlffHeap;

#[global_allocator]
static HEAP: LlffHeap = LlffHeap::empty();

/// A kernel's heap memory: a static that is handed to the allocator once.
pub struct HeapRegion<const N: usize> {
    bytes: UnsafeCell<[MaybeUninit<u8>; N]>,
    taken: AtomicBool,
}

// SAFETY: the bytes are reachable only through `install`, which hands them
// out once; afterwards only the allocator touches them, and it serialises
// its users (critical-section).
unsafe impl<const N: usize> Sync for HeapRegion<N> {}

impl<const N: usize> HeapRegion<N> {
    pub const fn new() -> Self {
        Self {
            bytes: UnsafeCell::new([MaybeUninit::uninit(); N]),
            taken: AtomicBool::new(false),
        }
    }

    /// Gives the region to the allocator (the first call only; later ones
    /// do nothing). Call with the MMU on, before the first allocation.
    pub fn install(&'static self) {
        if self.taken.swap(true, Ordering::AcqRel) {
            return;
        }
        // SAFETY: the swap lets exactly one caller through, so this is the
        // only reference to the bytes ever made.
        let region = unsafe { &mut *self.bytes.get() };
        // SAFETY: the region is 'static, non-empty and exclusively the
        // allocator's from now on.
        unsafe { HEAP.init(region.as_mut_ptr() as usize, region.len()) }
    }
}

impl<const N: usize> Default for HeapRegion<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes in use and free, for the trace.
pub fn usage() -> (usize, usize) {
    (HEAP.used(), HEAP.free())
}
