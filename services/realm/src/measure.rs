//! Realm Initial Measurement (RMM spec 1.0, C1.11-C1.13 and the
//! measurement effects of REALM_CREATE, DATA_CREATE and RTT_INIT_RIPAS).
//!
//! A measurement is 64 bytes; SHA-256 fills the first 32 and leaves the
//! rest zero. The RIM is extended by hashing a 256-byte descriptor that
//! embeds the current RIM (not by hashing RIM || descriptor).

use rampart_ipc::realm::HashAlgo;
use sha2::{Digest, Sha256, Sha512};

pub type Measurement = [u8; 64];

/// Hashes `data` with the realm's algorithm into a 64-byte measurement.
pub fn hash(algo: HashAlgo, data: &[u8]) -> Measurement {
    hash_parts(algo, &[data])
}

/// Hashes the concatenation of `parts`.
pub fn hash_parts(algo: HashAlgo, parts: &[&[u8]]) -> Measurement {
    let mut out = [0u8; 64];
    match algo {
        HashAlgo::Sha256 => {
            let mut h = Sha256::new();
            parts.iter().for_each(|p| h.update(p));
            out[..32].copy_from_slice(h.finalize().as_slice());
        }
        HashAlgo::Sha512 => {
            let mut h = Sha512::new();
            parts.iter().for_each(|p| h.update(p));
            out.copy_from_slice(h.finalize().as_slice());
        }
    }
    out
}

const DESC_SIZE: usize = 0x100;
const DESC_DATA: u8 = 0;
const DESC_REC: u8 = 1;
const DESC_RIPAS: u8 = 2;

fn descriptor(kind: u8, rim: &Measurement) -> [u8; DESC_SIZE] {
    let mut d = [0u8; DESC_SIZE];
    d[0] = kind;
    d[8..16].copy_from_slice(&(DESC_SIZE as u64).to_le_bytes());
    d[0x10..0x50].copy_from_slice(rim);
    d
}

/// RimInit: the hash of an RmiRealmParams with only flags, s2sz, sve_vl,
/// num_bps, num_wps, pmu_num_ctrs and hash_algo kept (all else zero).
pub fn rim_init(algo: HashAlgo, p: &crate::params::RealmParams) -> Measurement {
    let mut buf = [0u8; 4096];
    buf[0..8].copy_from_slice(&p.flags.to_le_bytes());
    buf[0x08] = p.s2sz;
    buf[0x10] = p.sve_vl;
    buf[0x18] = p.num_bps;
    buf[0x20] = p.num_wps;
    buf[0x28] = p.pmu_num_ctrs;
    buf[0x30] = p.hash_algo;
    hash(algo, &buf)
}

/// RmmMeasurementDescriptorData: DATA_CREATE's extension. `content` is the
/// hash of the granule when the host asked for content measurement, zeros
/// otherwise.
pub fn extend_data(
    algo: HashAlgo,
    rim: &Measurement,
    ipa: u64,
    flags: u64,
    content: &Measurement,
) -> Measurement {
    let mut d = descriptor(DESC_DATA, rim);
    d[0x50..0x58].copy_from_slice(&ipa.to_le_bytes());
    d[0x58..0x60].copy_from_slice(&flags.to_le_bytes());
    d[0x60..0xa0].copy_from_slice(content);
    hash(algo, &d)
}

/// RmmMeasurementDescriptorRec: REC_CREATE's extension for a runnable
/// REC. `content` hashes a 4 KB RmiRecParams holding only flags, pc and
/// the 8 GPRs (MPIDR and the auxiliary granules are not measured).
pub fn extend_rec(
    algo: HashAlgo,
    rim: &Measurement,
    flags: u64,
    pc: u64,
    gprs: &[u64; 8],
) -> Measurement {
    use rampart_ipc::rec_abi::params;
    // The 4 KB page is hashed from its first 0x400 bytes (which hold every
    // measured field) followed by zeros, to keep the RMM's stack small.
    let mut head = [0u8; 0x400];
    head[params::FLAGS..params::FLAGS + 8].copy_from_slice(&flags.to_le_bytes());
    head[params::PC..params::PC + 8].copy_from_slice(&pc.to_le_bytes());
    for (i, r) in gprs.iter().enumerate() {
        let o = params::GPRS + 8 * i;
        head[o..o + 8].copy_from_slice(&r.to_le_bytes());
    }
    let zeros = [0u8; 0x400];
    let content = hash_parts(algo, &[&head, &zeros, &zeros, &zeros]);
    let mut d = descriptor(DESC_REC, rim);
    d[0x50..0x90].copy_from_slice(&content);
    hash(algo, &d)
}

/// RSI_MEASUREMENT_EXTEND (B5.3.6): REM = H(REM || data), where REM is the
/// algorithm's digest length (32 bytes for SHA-256) of the slot.
pub fn extend_rem(algo: HashAlgo, rem: &Measurement, data: &[u8]) -> Measurement {
    let len = match algo {
        HashAlgo::Sha256 => 32,
        HashAlgo::Sha512 => 64,
    };
    hash_parts(algo, &[&rem[..len], data])
}

/// RmmMeasurementDescriptorRipas: RTT_INIT_RIPAS's extension per entry.
pub fn extend_ripas(algo: HashAlgo, rim: &Measurement, base: u64, top: u64) -> Measurement {
    let mut d = descriptor(DESC_RIPAS, rim);
    d[0x50..0x58].copy_from_slice(&base.to_le_bytes());
    d[0x58..0x60].copy_from_slice(&top.to_le_bytes());
    hash(algo, &d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_measurements_are_zero_padded() {
        let m = hash(HashAlgo::Sha256, b"abc");
        assert_eq!(m[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(m[32..], [0u8; 32]);
        let m = hash(HashAlgo::Sha512, b"abc");
        assert_eq!(m[..4], [0xdd, 0xaf, 0x35, 0xa1]);
    }

    #[test]
    fn rec_descriptor_and_rem_extension() {
        let rim = [3u8; 64];
        let gprs = [1, 2, 3, 4, 5, 6, 7, 8];
        let mut p = [0u8; 4096];
        p[0] = 1;
        p[0x200..0x208].copy_from_slice(&0x8000u64.to_le_bytes());
        for (i, r) in gprs.iter().enumerate() {
            p[0x300 + 8 * i..0x308 + 8 * i].copy_from_slice(&u64::to_le_bytes(*r));
        }
        let mut d = descriptor(DESC_REC, &rim);
        d[0x50..0x90].copy_from_slice(&hash(HashAlgo::Sha256, &p)[..64]);
        assert_eq!(d[0], 1);
        assert_eq!(
            extend_rec(HashAlgo::Sha256, &rim, 1, 0x8000, &gprs),
            hash(HashAlgo::Sha256, &d)
        );
        // SHA-256 REM: H(first 32 bytes of REM || data).
        let mut both = [0u8; 35];
        both[32..].copy_from_slice(b"abc");
        let rem = extend_rem(HashAlgo::Sha256, &[0; 64], b"abc");
        assert_eq!(rem, hash(HashAlgo::Sha256, &both));
        let mut both = [0u8; 64 + 3];
        both[64..].copy_from_slice(b"abc");
        assert_eq!(
            extend_rem(HashAlgo::Sha512, &[0; 64], b"abc"),
            hash(HashAlgo::Sha512, &both)
        );
    }

    #[test]
    fn descriptors_embed_the_rim_and_fields() {
        let rim = [7u8; 64];
        let content = [9u8; 64];
        let mut d = descriptor(DESC_DATA, &rim);
        d[0x50..0x58].copy_from_slice(&0x1000u64.to_le_bytes());
        d[0x58..0x60].copy_from_slice(&1u64.to_le_bytes());
        d[0x60..0xa0].copy_from_slice(&content);
        assert_eq!(
            extend_data(HashAlgo::Sha256, &rim, 0x1000, 1, &content),
            hash(HashAlgo::Sha256, &d)
        );
        assert_eq!(d[8], 0x00);
        assert_eq!(d[9], 0x01);
        let r = extend_ripas(HashAlgo::Sha512, &rim, 0, 0x20_0000);
        assert_ne!(r, extend_ripas(HashAlgo::Sha512, &rim, 0, 0x40_0000));
        assert_ne!(
            extend_data(HashAlgo::Sha256, &rim, 0, 0, &[0; 64]),
            extend_data(HashAlgo::Sha256, &[8; 64], 0, 0, &[0; 64])
        );
    }
}
