//! The set of VMIDs in use by live realms: one bit per VMID, claimed and
//! released atomically so that two REALM_CREATEs racing for one VMID on
//! different CPUs cannot both win.

use core::sync::atomic::{AtomicU64, Ordering};

pub struct VmidSet {
    bits: [AtomicU64; 1024],
    /// 8 or 16 (FEAT_VMID16).
    width: u32,
}

impl VmidSet {
    pub const fn new(width: u32) -> Self {
        Self {
            bits: [const { AtomicU64::new(0) }; 1024],
            width,
        }
    }

    /// True when `vmid` fits the implemented width and was free (now taken).
    pub fn claim(&self, vmid: u16) -> bool {
        if u32::from(vmid) >= 1 << self.width {
            return false;
        }
        let (word, bit) = (usize::from(vmid) / 64, 1u64 << (vmid % 64));
        self.bits[word].fetch_or(bit, Ordering::AcqRel) & bit == 0
    }

    pub fn release(&self, vmid: u16) {
        let (word, bit) = (usize::from(vmid) / 64, 1u64 << (vmid % 64));
        self.bits[word].fetch_and(!bit, Ordering::AcqRel);
    }

    pub fn in_use(&self, vmid: u16) -> bool {
        self.bits[usize::from(vmid) / 64].load(Ordering::Acquire) & (1 << (vmid % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_release_and_width() {
        let s = VmidSet::new(8);
        assert!(s.claim(0));
        assert!(!s.claim(0));
        assert!(s.claim(255));
        assert!(!s.claim(256));
        s.release(0);
        assert!(!s.in_use(0) && s.in_use(255));
        assert!(s.claim(0));
        let wide = VmidSet::new(16);
        assert!(wide.claim(65535));
    }
}
