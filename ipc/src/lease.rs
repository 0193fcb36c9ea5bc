//! Leases: how a service gets at the bytes of a granule it does not own
//! as memory. The kernel implements [`Leases`] with per-CPU mapping slots
//! (a granule is mapped for the duration of one call, then unmapped); host
//! tests implement it with a buffer. A service never holds a pointer into
//! a granule beyond the closure it is handed.

use bytemuck::{Pod, Zeroable};

pub const GRANULE_SIZE: usize = 4096;

/// One granule's contents, 8-byte aligned so that tables and descriptors
/// can be read as `u64`s.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(4096))]
pub struct Granule(pub [u64; 512]);

impl Granule {
    pub const ZERO: Granule = Granule([0; 512]);

    pub fn bytes(&self) -> &[u8; GRANULE_SIZE] {
        bytemuck::cast_ref(&self.0)
    }

    pub fn bytes_mut(&mut self) -> &mut [u8; GRANULE_SIZE] {
        bytemuck::cast_mut(&mut self.0)
    }

    /// Little-endian u64 at a byte offset (8-byte aligned).
    pub fn u64_at(&self, offset: usize) -> u64 {
        self.0[offset / 8]
    }

    pub fn set_u64_at(&mut self, offset: usize, value: u64) {
        self.0[offset / 8] = value;
    }
}

/// Why a lease could not be granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LeaseError {
    /// Not granule aligned, or not in memory the RMM may map.
    BadAddress,
    /// The access faulted (e.g. an "NS" address the host gave is not in the
    /// NS PAS): reported, never fatal.
    Fault,
}

/// Granule mappings for the duration of one operation.
pub trait Leases {
    /// Copies `out.len()` bytes at `offset` of the NS granule at `pa`.
    /// The host controls that memory: a fault is an error, not a crash.
    fn read_ns(&mut self, pa: u64, offset: usize, out: &mut [u8]) -> Result<(), LeaseError>;

    /// Copies `data` to `offset` of the NS granule at `pa`.
    fn write_ns(&mut self, pa: u64, offset: usize, data: &[u8]) -> Result<(), LeaseError>;

    /// Runs `f` with the Realm-PAS granule at `pa` (one the caller holds
    /// locked in a state it owns) mapped read-write.
    fn with_realm<R>(
        &mut self,
        pa: u64,
        f: impl FnOnce(&mut Granule) -> R,
    ) -> Result<R, LeaseError>;
}
