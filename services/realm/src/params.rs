//! RmiRealmParams (RMM spec 1.0, B4.4.12) and its validation against what
//! the RMM supports (REALM_CREATE failure condition params_supp/params_valid,
//! A2.1.3 for the stage-2 starting level and the number of starting tables).

use rampart_ipc::rmi::FeatureRegister0;

/// Bytes of the params the RMM reads (up to and including rtt_num_start).
pub const READ_SIZE: usize = 0x820;

pub const FLAG_LPA2: u64 = 1 << 0;
pub const FLAG_SVE: u64 = 1 << 1;
pub const FLAG_PMU: u64 = 1 << 2;
const FLAGS_KNOWN: u64 = FLAG_LPA2 | FLAG_SVE | FLAG_PMU;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealmParams {
    pub flags: u64,
    pub s2sz: u8,
    pub sve_vl: u8,
    pub num_bps: u8,
    pub num_wps: u8,
    pub pmu_num_ctrs: u8,
    pub hash_algo: u8,
    pub rpv: [u8; 64],
    pub vmid: u16,
    pub rtt_base: u64,
    pub rtt_level_start: i64,
    pub rtt_num_start: u32,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

impl RealmParams {
    pub fn parse(b: &[u8; READ_SIZE]) -> Self {
        let mut rpv = [0u8; 64];
        rpv.copy_from_slice(&b[0x400..0x440]);
        Self {
            flags: u64_at(b, 0),
            s2sz: b[0x08],
            sve_vl: b[0x10],
            num_bps: b[0x18],
            num_wps: b[0x20],
            pmu_num_ctrs: b[0x28],
            hash_algo: b[0x30],
            rpv,
            vmid: u16::from_le_bytes([b[0x800], b[0x801]]),
            rtt_base: u64_at(b, 0x808),
            rtt_level_start: u64_at(b, 0x810) as i64,
            rtt_num_start: u32::from_le_bytes([b[0x818], b[0x819], b[0x81a], b[0x81b]]),
        }
    }

    /// Supported and well-formed, per the feature register (without the
    /// VMID, which is checked against the live VMID set last).
    pub fn valid(&self, f: &FeatureRegister0) -> bool {
        let lpa2 = self.flags & FLAG_LPA2 != 0;
        let supported = self.flags & !FLAGS_KNOWN == 0
            && (!lpa2 || f.lpa2)
            && self.s2sz >= 32
            && self.s2sz <= f.s2sz
            && self.num_bps != 0
            && self.num_bps <= f.num_bps
            && self.num_wps != 0
            && self.num_wps <= f.num_wps
            && (self.flags & FLAG_SVE == 0 || (f.sve_en && self.sve_vl <= f.sve_vl))
            && (self.flags & FLAG_PMU == 0 || (f.pmu_en && self.pmu_num_ctrs <= f.pmu_num_ctrs))
            && match self.hash_algo {
                0 => f.hash_sha_256,
                1 => f.hash_sha_512,
                _ => false,
            };
        supported
            && ipa_and_level_valid(self.s2sz, self.rtt_level_start, lpa2, f.s2sz)
            && u64::from(self.rtt_num_start) == num_starting_tables(self.s2sz, self.rtt_level_start)
    }
}

/// A2.1.3: the IPA width is one a walk from `level` can translate (with up
/// to 16 concatenated starting tables), at 4 KB granules.
pub fn ipa_and_level_valid(s2sz: u8, level: i64, lpa2: bool, pa_width: u8) -> bool {
    let s2sz = i64::from(s2sz);
    let max_ipa = if lpa2 { 52 } else { 48 };
    let min_level = if lpa2 { -1 } else { 0 };
    if !(32..=max_ipa).contains(&s2sz) || !(min_level..=3).contains(&level) {
        return false;
    }
    // A walk from level 0 needs a 44-bit or wider PA (VTCR_EL2.SL0 rules).
    if level == 0 && pa_width < 44 {
        return false;
    }
    let min = (3 - level) * 9 + 13;
    let max = if level == -1 {
        min + 3
    } else if level > 0 || lpa2 {
        min + 8 + 4
    } else {
        min + 8
    };
    (min..=max).contains(&s2sz)
}

/// Number of concatenated starting-level tables an IPA width needs.
pub fn num_starting_tables(s2sz: u8, level: i64) -> u64 {
    let table_bits = (3 - level) * 9 + 12 + 9;
    let s2sz = i64::from(s2sz);
    if s2sz <= table_bits {
        1
    } else {
        1u64.checked_shl((s2sz - table_bits) as u32).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starting_levels_and_tables() {
        // Level 0: 40..=48 bits, one table.
        assert!(ipa_and_level_valid(40, 0, false, 48));
        assert!(ipa_and_level_valid(48, 0, false, 48));
        assert!(!ipa_and_level_valid(39, 0, false, 48));
        assert!(
            !ipa_and_level_valid(40, 0, false, 40),
            "level 0 needs a 44-bit PA"
        );
        // Level 1: 32..=43 bits, 2^(s2sz-39) tables above 39.
        assert!(ipa_and_level_valid(32, 1, false, 48) && ipa_and_level_valid(43, 1, false, 48));
        assert!(!ipa_and_level_valid(44, 1, false, 48));
        assert_eq!(num_starting_tables(39, 1), 1);
        assert_eq!(num_starting_tables(40, 1), 2);
        assert_eq!(num_starting_tables(43, 1), 16);
        // Level 2: 32..=34 bits.
        assert!(ipa_and_level_valid(34, 2, false, 48) && !ipa_and_level_valid(35, 2, false, 48));
        assert_eq!(num_starting_tables(33, 2), 8);
        // Level 3 never; level -1 only with LPA2.
        assert!(!ipa_and_level_valid(32, 3, false, 48));
        assert!(!ipa_and_level_valid(49, -1, false, 52));
        assert!(ipa_and_level_valid(52, -1, true, 52));
        assert!(!ipa_and_level_valid(31, 1, false, 48));
        assert!(!ipa_and_level_valid(49, 0, false, 52));
        assert_eq!(num_starting_tables(48, 0), 1);
    }

    #[test]
    fn parses_the_spec_layout() {
        let mut b = [0u8; READ_SIZE];
        b[0] = 0b100;
        b[0x08] = 40;
        b[0x18] = 5;
        b[0x20] = 3;
        b[0x30] = 1;
        b[0x400] = 0xaa;
        b[0x800..0x802].copy_from_slice(&0x1234u16.to_le_bytes());
        b[0x808..0x810].copy_from_slice(&0x4000_2000u64.to_le_bytes());
        b[0x810..0x818].copy_from_slice(&(-1i64).to_le_bytes());
        b[0x818..0x81c].copy_from_slice(&16u32.to_le_bytes());
        let p = RealmParams::parse(&b);
        assert_eq!(
            (p.flags, p.s2sz, p.num_bps, p.num_wps, p.hash_algo),
            (4, 40, 5, 3, 1)
        );
        assert_eq!(
            (
                p.rpv[0],
                p.vmid,
                p.rtt_base,
                p.rtt_level_start,
                p.rtt_num_start
            ),
            (0xaa, 0x1234, 0x4000_2000, -1, 16)
        );
    }
}
