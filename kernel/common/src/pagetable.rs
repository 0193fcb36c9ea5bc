//! Stage-1 translation tables (VMSAv8-64, 4 KB granule, 48-bit VA, start at
//! level 0) for the EL3 and EL2 regimes, identity-mapped.
//!
//! The builder works on a pool of 4 KB tables handed in by the kernel, with
//! the physical address of the pool's first table; it never dereferences a
//! descriptor's address, so it runs unchanged in host tests.

/// Memory type, as an index into the MAIR value [`MAIR`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemType {
    /// Device-nGnRnE.
    Device = 0,
    /// Normal, inner/outer write-back, read/write-allocate, inner shareable.
    Normal = 1,
}

/// MAIR_ELx value matching [`MemType`]: attr0 Device-nGnRnE, attr1 Normal WB RWA.
pub const MAIR: u64 = 0xff << 8;

/// Physical address space an access is made in. At EL3 all four are
/// reachable (NSE/NS bits); at R-EL2 only Realm and NonSecure (NS bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputPas {
    Secure,
    NonSecure,
    Root,
    Realm,
}

/// Permissions and attributes of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attrs {
    pub mem: MemType,
    pub writable: bool,
    pub executable: bool,
    pub pas: OutputPas,
}

impl Attrs {
    pub const fn code(pas: OutputPas) -> Self {
        Self {
            mem: MemType::Normal,
            writable: false,
            executable: true,
            pas,
        }
    }
    pub const fn rodata(pas: OutputPas) -> Self {
        Self {
            mem: MemType::Normal,
            writable: false,
            executable: false,
            pas,
        }
    }
    pub const fn data(pas: OutputPas) -> Self {
        Self {
            mem: MemType::Normal,
            writable: true,
            executable: false,
            pas,
        }
    }
    pub const fn device(pas: OutputPas) -> Self {
        Self {
            mem: MemType::Device,
            writable: true,
            executable: false,
            pas,
        }
    }
}

/// Which translation regime the descriptors are for: it decides how the
/// output PAS is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// EL3 with FEAT_RME: {NSE, NS} = bits {11, 5}.
    El3,
    /// EL2 in the Realm security state: NS (bit 5) selects NS, else Realm.
    RealmEl2,
    /// EL2 in the Non-secure state: the NS bit is ignored; everything is NS.
    NonSecureEl2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Address or size not 4 KB aligned, or beyond 48 bits.
    Unaligned,
    /// The range overlaps an existing mapping with different attributes.
    Conflict { va: u64 },
    /// The table pool is exhausted.
    OutOfTables,
    /// The PAS cannot be expressed in this regime.
    PasNotReachable,
}

const ENTRIES: usize = 512;
const PAGE: u64 = 4096;
const VA_BITS: u32 = 48;
const VALID: u64 = 1;
const TABLE_OR_PAGE: u64 = 1 << 1;
const NS: u64 = 1 << 5;
const AP_RO: u64 = 1 << 7;
const SH_INNER: u64 = 3 << 8;
const AF: u64 = 1 << 10;
const NSE: u64 = 1 << 11;
const XN: u64 = 1 << 54;
const ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;

/// Bytes mapped by one entry at `level` (0..=3).
const fn level_size(level: usize) -> u64 {
    1 << (12 + 9 * (3 - level))
}

/// A translation-table pool and the root table (index 0 of the pool).
pub struct TableBuilder<'p> {
    pool: &'p mut [[u64; ENTRIES]],
    pool_pa: u64,
    used: usize,
    regime: Regime,
}

impl<'p> TableBuilder<'p> {
    /// Starts with an empty root table at `pool[0]`. `pool_pa` is the
    /// physical (= virtual) address of `pool[0]`.
    pub fn new(pool: &'p mut [[u64; ENTRIES]], pool_pa: u64, regime: Regime) -> Self {
        assert!(!pool.is_empty(), "translation table pool is empty");
        pool[0] = [0; ENTRIES];
        Self {
            pool,
            pool_pa,
            used: 1,
            regime,
        }
    }

    /// Physical address of the root table, for TTBR0.
    pub fn root_pa(&self) -> u64 {
        self.pool_pa
    }

    pub fn tables_used(&self) -> usize {
        self.used
    }

    fn leaf_bits(&self, attrs: Attrs) -> Result<u64, MapError> {
        let pas = match (self.regime, attrs.pas) {
            (Regime::El3, OutputPas::Secure) => 0,
            (Regime::El3, OutputPas::NonSecure) => NS,
            (Regime::El3, OutputPas::Root) => NSE,
            (Regime::El3, OutputPas::Realm) => NSE | NS,
            (Regime::RealmEl2, OutputPas::Realm) => 0,
            (Regime::RealmEl2, OutputPas::NonSecure) => NS,
            (Regime::NonSecureEl2, OutputPas::NonSecure) => 0,
            _ => return Err(MapError::PasNotReachable),
        };
        let mut bits = VALID | AF | ((attrs.mem as u64) << 2) | pas;
        if attrs.mem == MemType::Normal {
            bits |= SH_INNER;
        }
        if !attrs.writable {
            bits |= AP_RO;
        }
        if !attrs.executable || attrs.mem == MemType::Device {
            bits |= XN;
        }
        Ok(bits)
    }

    /// Identity-maps `[pa, pa + size)`, using the largest blocks alignment allows.
    pub fn map(&mut self, pa: u64, size: u64, attrs: Attrs) -> Result<(), MapError> {
        let end = pa.checked_add(size).ok_or(MapError::Unaligned)?;
        if !pa.is_multiple_of(PAGE) || !size.is_multiple_of(PAGE) || end > (1 << VA_BITS) {
            return Err(MapError::Unaligned);
        }
        let bits = self.leaf_bits(attrs)?;
        let mut addr = pa;
        while addr < end {
            // Largest level whose block fits at this alignment (blocks only at 1 and 2).
            let level = (1..=3)
                .find(|&l| addr.is_multiple_of(level_size(l)) && end - addr >= level_size(l))
                .unwrap_or(3);
            self.set_leaf(addr, level, bits)?;
            addr += level_size(level);
        }
        Ok(())
    }

    /// Makes sure a level-3 table covers `va` (creating the path to it) and
    /// returns its physical address: the kernel fills such a table's
    /// entries itself for short-lived mappings (per-CPU slots).
    pub fn level3_table(&mut self, va: u64) -> Result<u64, MapError> {
        if !va.is_multiple_of(PAGE) || va >= 1 << VA_BITS {
            return Err(MapError::Unaligned);
        }
        let table = self.table_at(va, 3)?;
        Ok(self.pool_pa + table as u64 * PAGE)
    }

    /// Index in the pool of the table at `level` that covers `va`, creating
    /// the tables on the way; a block in the way is a conflict.
    fn table_at(&mut self, va: u64, level: usize) -> Result<usize, MapError> {
        let mut table = 0;
        for walk in 0..level {
            let idx = ((va >> (12 + 9 * (3 - walk))) & 0x1ff) as usize;
            let desc = self.pool[table][idx];
            if desc & VALID == 0 {
                if self.used == self.pool.len() {
                    return Err(MapError::OutOfTables);
                }
                let new = self.used;
                self.used += 1;
                self.pool[new] = [0; ENTRIES];
                self.pool[table][idx] = (self.pool_pa + new as u64 * PAGE) | VALID | TABLE_OR_PAGE;
                table = new;
            } else if desc & TABLE_OR_PAGE == 0 {
                return Err(MapError::Conflict { va });
            } else {
                table = self.table_index(desc);
            }
        }
        Ok(table)
    }

    /// The leaf descriptor bits for `attrs` at level 3 (for slot mappings).
    pub fn page_descriptor(&self, pa: u64, attrs: Attrs) -> Result<u64, MapError> {
        Ok((pa & ADDR_MASK) | self.leaf_bits(attrs)? | TABLE_OR_PAGE)
    }

    fn table_index(&self, desc: u64) -> usize {
        (((desc & ADDR_MASK) - self.pool_pa) / PAGE) as usize
    }

    fn set_leaf(&mut self, va: u64, target: usize, bits: u64) -> Result<(), MapError> {
        let table = self.table_at(va, target)?;
        let idx = ((va >> (12 + 9 * (3 - target))) & 0x1ff) as usize;
        let type_bit = if target == 3 { TABLE_OR_PAGE } else { 0 };
        let new = (va & ADDR_MASK) | bits | type_bit;
        let old = self.pool[table][idx];
        if old & VALID != 0 && old != new {
            return Err(MapError::Conflict { va });
        }
        self.pool[table][idx] = new;
        Ok(())
    }

    /// Walks the tables: the leaf descriptor mapping `va` and its level.
    pub fn lookup(&self, va: u64) -> Option<(u64, usize)> {
        let mut table = 0;
        for level in 0..=3 {
            let idx = ((va >> (12 + 9 * (3 - level))) & 0x1ff) as usize;
            let desc = self.pool[table][idx];
            if desc & VALID == 0 {
                return None;
            }
            if level == 3 || desc & TABLE_OR_PAGE == 0 {
                return Some((desc, level));
            }
            table = self.table_index(desc);
        }
        None
    }
}

/// TCR value for a 48-bit VA, 4 KB granule, WB-cacheable inner-shareable
/// walks, with the given PS (physical address size) field. Bits 31 and 23
/// are RES1 in TCR_EL3 and in TCR_EL2 when HCR_EL2.E2H is 0.
pub const fn tcr(ps: u64) -> u64 {
    (64 - VA_BITS as u64) | (1 << 8) | (1 << 10) | (3 << 12) | (ps << 16) | (1 << 23) | (1 << 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;

    fn pool(n: usize) -> std::vec::Vec<[u64; ENTRIES]> {
        vec![[0u64; ENTRIES]; n]
    }

    #[test]
    fn maps_with_largest_blocks_and_encodes_attributes() {
        let mut p = pool(8);
        let mut b = TableBuilder::new(&mut p, 0x1000_0000, Regime::El3);
        b.map(0x4000_0000, 1 << 30, Attrs::data(OutputPas::NonSecure))
            .unwrap();
        b.map(0x0e00_0000, 0x3000, Attrs::code(OutputPas::Root))
            .unwrap();
        b.map(0x0900_0000, 0x1000, Attrs::device(OutputPas::NonSecure))
            .unwrap();
        let (d, level) = b.lookup(0x4123_4000).unwrap();
        assert_eq!(level, 1);
        assert_eq!(d & ADDR_MASK, 0x4000_0000);
        assert_eq!(d & (NS | NSE | AP_RO | XN), NS | XN);
        let (d, level) = b.lookup(0x0e00_2000).unwrap();
        assert_eq!(level, 3);
        assert_eq!(d & (NS | NSE | AP_RO | XN), NSE | AP_RO);
        assert_eq!((d >> 2) & 7, MemType::Normal as u64);
        let (d, _) = b.lookup(0x0900_0000).unwrap();
        assert_eq!((d >> 2) & 7, MemType::Device as u64);
        assert_eq!(b.lookup(0x0e00_3000), None);
        assert_eq!(b.lookup(0x8000_0000), None);
    }

    #[test]
    fn rejects_conflicts_misalignment_and_unreachable_pas() {
        let mut p = pool(8);
        let mut b = TableBuilder::new(&mut p, 0, Regime::RealmEl2);
        b.map(0x4000_0000, 0x20_0000, Attrs::data(OutputPas::Realm))
            .unwrap();
        assert_eq!(
            b.map(0x4000_0000, 0x1000, Attrs::code(OutputPas::Realm)),
            Err(MapError::Conflict { va: 0x4000_0000 })
        );
        // The same mapping again is fine.
        b.map(0x4000_0000, 0x20_0000, Attrs::data(OutputPas::Realm))
            .unwrap();
        assert_eq!(
            b.map(0x123, 0x1000, Attrs::data(OutputPas::Realm)),
            Err(MapError::Unaligned)
        );
        assert_eq!(
            b.map(1 << 48, 0x1000, Attrs::data(OutputPas::Realm)),
            Err(MapError::Unaligned)
        );
        assert_eq!(
            b.map(0x1000, 0x1000, Attrs::data(OutputPas::Root)),
            Err(MapError::PasNotReachable)
        );
        let (d, _) = b.lookup(0x4000_1000).unwrap();
        assert_eq!(d & NS, 0);
    }

    #[test]
    fn reports_pool_exhaustion() {
        let mut p = pool(3);
        let mut b = TableBuilder::new(&mut p, 0, Regime::El3);
        assert_eq!(
            b.map(0x1000, 0x1000, Attrs::data(OutputPas::Root)),
            Err(MapError::OutOfTables)
        );
    }

    #[test]
    fn level3_tables_for_slots() {
        let mut p = pool(8);
        let mut b = TableBuilder::new(&mut p, 0x1000_0000, Regime::RealmEl2);
        let va = 0x7f00_0000_0000;
        let l3 = b.level3_table(va).unwrap();
        assert_eq!(b.level3_table(va + 0x1000).unwrap(), l3);
        assert_eq!(b.tables_used(), 4);
        let d = b
            .page_descriptor(0x4200_0000, Attrs::data(OutputPas::NonSecure))
            .unwrap();
        assert_eq!(d & (NS | XN | 3), NS | XN | 3);
        assert_eq!(b.level3_table(va + 1), Err(MapError::Unaligned));
    }

    #[test]
    fn tcr_fields() {
        let t = tcr(0b101);
        assert_eq!(t & 0x3f, 16);
        assert_eq!((t >> 16) & 7, 0b101);
        assert_eq!((t >> 14) & 3, 0);
    }
}
