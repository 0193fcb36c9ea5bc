//! Per-CPU mapping slots: the only way the RMM touches a granule it does
//! not own as its image. A lease maps one granule into this CPU's next free
//! slot for the length of one closure, then unmaps it and invalidates the
//! TLB entry (DESIGN.md section 8). NS memory is copied with a routine
//! whose faults are caught, so a host that names memory it does not own
//! gets an error, not a crashed RMM.

use crate::{BOARD, MAX_CPUS, PLATFORM};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use rampart_arch::{dsb_ish, isb};
use rampart_ipc::lease::{GRANULE_SIZE, Granule, LeaseError, Leases};
use rampart_kernel::pagetable::{Attrs, OutputPas};

/// Slots per CPU: deep enough for the deepest nesting of leases a command
/// takes (RD + parent RTT + child RTT + DATA + NS source).
pub const SLOTS_PER_CPU: usize = 8;
/// Base VA of the slot window (outside every identity mapping).
pub const SLOT_VA_BASE: u64 = 0x7f00_0000_0000;

/// PA of the level-3 table holding every CPU's slot entries (set at boot).
static SLOT_TABLE: AtomicU64 = AtomicU64::new(0);
/// Descriptor templates (attributes without the address) per PAS.
static REALM_BITS: AtomicU64 = AtomicU64::new(0);
static NS_BITS: AtomicU64 = AtomicU64::new(0);
/// Slots in use per CPU (a stack).
static DEPTH: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// Records the slot table and descriptor templates; boot CPU, after the tables are built.
pub fn init(table_pa: u64, realm_page: u64, ns_page: u64) {
    SLOT_TABLE.store(table_pa, Ordering::Relaxed);
    REALM_BITS.store(realm_page, Ordering::Relaxed);
    NS_BITS.store(ns_page, Ordering::Relaxed);
}

pub fn attrs(pas: OutputPas) -> Attrs {
    Attrs::data(pas)
}

fn write_entry(index: usize, value: u64) {
    let table = SLOT_TABLE.load(Ordering::Relaxed) as *mut u64;
    // SAFETY: the slot table is an RMM-owned level-3 table mapped by the
    // identity map; `index` < MAX_CPUS * SLOTS_PER_CPU <= 512, and each CPU
    // writes only its own entries.
    unsafe { core::ptr::write_volatile(table.add(index), value) };
}

fn tlbi_va(va: u64) {
    dsb_ish();
    // SAFETY: invalidates this CPU's TLB entry for one slot VA.
    unsafe {
        core::arch::asm!("tlbi vae2, {}", "dsb nsh", "isb", in(reg) va >> 12, options(nostack))
    };
}

/// A slot mapping that is undone when dropped.
struct Mapped {
    index: usize,
    cpu: usize,
    va: u64,
}

impl Mapped {
    fn new(cpu: usize, pa: u64, bits: u64) -> Option<Self> {
        let depth = DEPTH[cpu].load(Ordering::Relaxed);
        if depth == SLOTS_PER_CPU {
            return None;
        }
        DEPTH[cpu].store(depth + 1, Ordering::Relaxed);
        let index = cpu * SLOTS_PER_CPU + depth;
        let va = SLOT_VA_BASE + index as u64 * GRANULE_SIZE as u64;
        write_entry(index, pa | bits);
        dsb_ish();
        isb();
        Some(Self { index, cpu, va })
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        write_entry(self.index, 0);
        tlbi_va(self.va);
        DEPTH[self.cpu].fetch_sub(1, Ordering::Relaxed);
    }
}

unsafe extern "C" {
    /// Copies `len` bytes; returns 0, or 1 if an access faulted (boot.rs).
    fn realm_fault_tolerant_copy(dst: *mut u8, src: *const u8, len: usize) -> u64;
}

/// Leases for one CPU.
pub struct KernelLeases {
    pub cpu: usize,
}

/// True for a granule the host may name as NS memory: aligned, in a DRAM
/// bank of the manifest, not in the RMM's own region.
fn ns_candidate(pa: u64) -> bool {
    let Some(p) = PLATFORM.get() else {
        return false;
    };
    pa.is_multiple_of(GRANULE_SIZE as u64)
        && p.manifest.dram.iter().any(|b| b.contains(pa))
        && !BOARD.rmm.contains(pa)
}

impl KernelLeases {
    fn ns_copy(
        &mut self,
        pa: u64,
        offset: usize,
        len: usize,
        to_granule: bool,
        buf: *mut u8,
    ) -> Result<(), LeaseError> {
        if !ns_candidate(pa) || offset.checked_add(len).is_none_or(|e| e > GRANULE_SIZE) {
            return Err(LeaseError::BadAddress);
        }
        let map = Mapped::new(self.cpu, pa, NS_BITS.load(Ordering::Relaxed))
            .ok_or(LeaseError::BadAddress)?;
        let at = (map.va as usize + offset) as *mut u8;
        let (dst, src) = if to_granule {
            (at, buf as *const u8)
        } else {
            (buf, at as *const u8)
        };
        // SAFETY: `at..at+len` lies in the slot just mapped; `buf` is the
        // caller's slice of `len` bytes; faults on the NS side are caught.
        let faulted = unsafe { realm_fault_tolerant_copy(dst, src, len) };
        drop(map);
        if faulted == 0 {
            Ok(())
        } else {
            Err(LeaseError::Fault)
        }
    }
}

impl Leases for KernelLeases {
    fn read_ns(&mut self, pa: u64, offset: usize, out: &mut [u8]) -> Result<(), LeaseError> {
        self.ns_copy(pa, offset, out.len(), false, out.as_mut_ptr())
    }

    fn write_ns(&mut self, pa: u64, offset: usize, data: &[u8]) -> Result<(), LeaseError> {
        self.ns_copy(pa, offset, data.len(), true, data.as_ptr() as *mut u8)
    }

    fn with_realm<R>(
        &mut self,
        pa: u64,
        f: impl FnOnce(&mut Granule) -> R,
    ) -> Result<R, LeaseError> {
        let Some(p) = PLATFORM.get() else {
            return Err(LeaseError::BadAddress);
        };
        if !pa.is_multiple_of(GRANULE_SIZE as u64)
            || !p.manifest.dram.iter().any(|b| b.contains(pa))
            || BOARD.rmm.contains(pa)
        {
            return Err(LeaseError::BadAddress);
        }
        let map = Mapped::new(self.cpu, pa, REALM_BITS.load(Ordering::Relaxed))
            .ok_or(LeaseError::BadAddress)?;
        // SAFETY: the granule is mapped at `map.va` for this closure only;
        // callers lease only granules the GST says the RMM owns (delegated,
        // Realm PAS) and hold locked, so nothing else aliases it.
        let granule = unsafe { &mut *(map.va as *mut Granule) };
        let r = f(granule);
        drop(map);
        Ok(r)
    }
}
