//! Construction of the Granule Protection Table from a board's PAS map.
//!
//! Layout of the table memory (Arm DDI0615, "GPT formats", "GPT lookup
//! process"): the level 0 table at `tables.base`, aligned to the larger of
//! its size and 4 KB; then the level 1 tables, each aligned to its own size,
//! in ascending order of the level 0 index that points at it. Only Block
//! (level 0) and Granules (level 1) descriptors are written; Contiguous
//! descriptors are not used.

use crate::arch::{
    gpccr_el3_value, gpi_encoding, gptbr_el3_value, l0_block_desc, l0_table_desc, l1_granules_desc,
    pps_encoding,
};
use rampart_board::{GRANULE_SIZE, Gpi, GptConfig, PasRegion, Range};

/// log2 of [`GRANULE_SIZE`]: GPCCR_EL3.PGS is 4 KB.
pub(crate) const GRANULE_SHIFT: u32 = 12;
/// log2 of the bytes one level 1 Granules descriptor covers (16 granules).
pub(crate) const L1_WORD_SHIFT: u32 = GRANULE_SHIFT + 4;
/// GPI of physical space outside every region of the PAS map: `Any`, as
/// TF-A's GPT library leaves it (v2.15.0 `lib/gpt_rme/gpt_rme.c`: level 0
/// starts as GPT_GPI_ANY blocks and new level 1 tables as GPT_L1_ANY_DESC).
/// A board need not list every device window (QEMU virt's high PCIe ECAM and
/// 64-bit MMIO, say) for the Normal world to reach it; memory that must be
/// guarded is listed with its own GPI, and `NoAccess` where nothing may reach it.
pub const UNLISTED_GPI: Gpi = Gpi::Any;
/// Most level 1 tables a layout records (each is at least 128 KB of table memory).
pub const MAX_L1_TABLES: usize = 64;

/// Why a GPT could not be built. Nothing has been written when one is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BuildError {
    /// `pps_bits` is not one of 32, 36, 40, 42, 44, 48, 52.
    InvalidPps { bits: u8 },
    /// `l0_gpt_size_bits` is not one of 30, 34, 36, 39.
    InvalidL0GptSize { bits: u8 },
    /// The board's `l0_gpt_size_bits` is not what GPCCR_EL3.L0GPTSZ reports
    /// (`hardware` is `None` for a reserved encoding).
    L0GptSizeMismatch { config: u8, hardware: Option<u8> },
    /// A region has size zero.
    Empty { name: &'static str },
    /// A region's base or size is not a multiple of [`GRANULE_SIZE`].
    Unaligned { name: &'static str },
    /// A region reaches beyond the protected physical address size.
    OutsidePps { name: &'static str },
    /// Two regions share an address.
    Overlap { a: &'static str, b: &'static str },
    /// `tables` (the slice) does not hold exactly `config.tables.size` bytes.
    TablesLength { config: u64, slice: u64 },
    /// `config.tables.base` is not aligned as the level 0 table requires.
    TablesMisaligned { base: u64, align: u64 },
    /// The table memory is not wholly inside one region with `Gpi::Root`.
    TablesNotRoot,
    /// More level 1 tables are needed than [`MAX_L1_TABLES`].
    TooManyL1Tables { need: usize },
    /// The table memory is smaller than the layout needs.
    TablesTooSmall { need: u64, have: u64 },
}

/// Where the tables are and how the GPC must be configured to walk them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GptLayout {
    pps_bits: u8,
    l0_gpt_size_bits: u8,
    l0_base: u64,
    l0_entries: usize,
    l1_base: u64,
    l1_count: usize,
    /// Level 0 index served by each level 1 table, ascending.
    l1_owner: [u32; MAX_L1_TABLES],
    bytes_used: u64,
}

impl GptLayout {
    pub const fn pps_bits(&self) -> u8 {
        self.pps_bits
    }
    /// One past the highest protected address.
    pub const fn pps_size(&self) -> u64 {
        1 << self.pps_bits
    }
    pub const fn l0_base(&self) -> u64 {
        self.l0_base
    }
    pub const fn l0_entries(&self) -> usize {
        self.l0_entries
    }
    /// Bytes one level 0 entry covers.
    pub const fn l0_region_size(&self) -> u64 {
        1 << self.l0_gpt_size_bits
    }
    /// Level 0 index that covers `addr` (`addr` inside the PPS).
    pub const fn l0_index(&self, addr: u64) -> usize {
        (addr >> self.l0_gpt_size_bits) as usize
    }
    /// Number of Granules descriptors in one level 1 table.
    pub const fn l1_entries(&self) -> usize {
        1 << (self.l0_gpt_size_bits as u32 - L1_WORD_SHIFT)
    }
    /// Bytes of one level 1 table (also its alignment).
    pub const fn l1_table_size(&self) -> u64 {
        (self.l1_entries() * 8) as u64
    }
    pub const fn l1_count(&self) -> usize {
        self.l1_count
    }
    /// Physical address of the level 1 table behind level 0 entry `l0_index`,
    /// or `None` when that entry is a Block descriptor.
    pub fn l1_table(&self, l0_index: usize) -> Option<u64> {
        let owners = &self.l1_owner[..self.l1_count];
        let slot = owners.binary_search(&u32::try_from(l0_index).ok()?).ok()?;
        Some(self.l1_base + slot as u64 * self.l1_table_size())
    }
    /// Bytes of table memory in use from `l0_base` (alignment padding included).
    pub const fn bytes_used(&self) -> u64 {
        self.bytes_used
    }
    /// GPCCR_EL3 without GPC: PPS, PGS = 4 KB, SH = Inner Shareable,
    /// IRGN = ORGN = write-back read/write-allocate (as TF-A's `gpt_enable`).
    pub const fn gpccr_el3(&self) -> u64 {
        match pps_encoding(self.pps_bits) {
            Some(pps) => gpccr_el3_value(pps),
            None => 0, // unreachable: build() validated pps_bits
        }
    }
    /// GPTBR_EL3 pointing at the level 0 table.
    pub const fn gptbr_el3(&self) -> u64 {
        gptbr_el3_value(self.l0_base)
    }
    /// Index into the table slice of the Granules descriptor that holds the
    /// GPI of `addr`, or `None` when `addr` is under a Block descriptor.
    pub(crate) fn l1_word(&self, addr: u64) -> Option<usize> {
        let l1 = self.l1_table(self.l0_index(addr))?;
        let index = (addr >> L1_WORD_SHIFT) as usize & (self.l1_entries() - 1);
        Some((l1 - self.l0_base) as usize / 8 + index)
    }
}

/// Validates the configuration and the PAS map, then writes the level 0 and
/// level 1 tables into `tables` (the memory at `config.tables.base`).
///
/// Physical space that no region lists is [`UNLISTED_GPI`]. A level 0 region
/// becomes a Block descriptor when every granule in it has the same GPI and
/// that GPI is neither `NonSecure` nor `Realm`; otherwise it gets a level 1
/// table, so that every NS or Realm granule can later change PAS one granule
/// at a time.
pub fn build(
    config: &GptConfig,
    pas_map: &[PasRegion],
    tables: &mut [u64],
) -> Result<GptLayout, BuildError> {
    let layout = plan(config, pas_map, tables.len())?;
    write(&layout, pas_map, tables);
    Ok(layout)
}

/// Every check of [`build`], and the layout; writes nothing.
fn plan(
    config: &GptConfig,
    pas_map: &[PasRegion],
    slice_len: usize,
) -> Result<GptLayout, BuildError> {
    let pps_bits = config.pps_bits;
    let s = config.l0_gpt_size_bits;
    if pps_encoding(pps_bits).is_none() {
        return Err(BuildError::InvalidPps { bits: pps_bits });
    }
    if !matches!(s, 30 | 34 | 36 | 39) {
        return Err(BuildError::InvalidL0GptSize { bits: s });
    }
    let pps_size = 1u64 << pps_bits;
    for (i, region) in pas_map.iter().enumerate() {
        let Range { base, size } = region.range;
        let name = region.name;
        if size == 0 {
            return Err(BuildError::Empty { name });
        }
        if !base.is_multiple_of(GRANULE_SIZE) || !size.is_multiple_of(GRANULE_SIZE) {
            return Err(BuildError::Unaligned { name });
        }
        if base.checked_add(size).is_none_or(|end| end > pps_size) {
            return Err(BuildError::OutsidePps { name });
        }
        if let Some(other) = pas_map[..i]
            .iter()
            .find(|o| o.range.overlaps(&region.range))
        {
            return Err(BuildError::Overlap {
                a: other.name,
                b: name,
            });
        }
    }

    let tables = config.tables;
    let slice_bytes = slice_len as u64 * 8;
    if slice_bytes != tables.size {
        return Err(BuildError::TablesLength {
            config: tables.size,
            slice: slice_bytes,
        });
    }
    // The level 0 table is aligned to the larger of its size and 4 KB
    // (GPTBR_EL3; GPTWalk() in the Arm ARM pseudocode).
    let l0_entries = 1usize << pps_bits.saturating_sub(s);
    let l0_bytes = l0_entries as u64 * 8;
    let align = l0_bytes.max(GRANULE_SIZE);
    if !tables.base.is_multiple_of(align) {
        return Err(BuildError::TablesMisaligned {
            base: tables.base,
            align,
        });
    }
    let in_root = pas_map
        .iter()
        .any(|r| r.gpi == Gpi::Root && r.range.contains_range(tables.base, tables.size));
    if !in_root {
        return Err(BuildError::TablesNotRoot);
    }

    let mut layout = GptLayout {
        pps_bits,
        l0_gpt_size_bits: s,
        l0_base: tables.base,
        l0_entries,
        l1_base: 0,
        l1_count: 0,
        l1_owner: [0; MAX_L1_TABLES],
        bytes_used: l0_bytes,
    };
    let mut need = 0;
    for index in 0..l0_entries {
        if block_gpi(&layout, index, pas_map).is_none() {
            if need < MAX_L1_TABLES {
                layout.l1_owner[need] = index as u32;
            }
            need += 1;
        }
    }
    if need > MAX_L1_TABLES {
        return Err(BuildError::TooManyL1Tables { need });
    }
    layout.l1_count = need;
    if need > 0 {
        let l1_size = layout.l1_table_size();
        layout.l1_base = (tables.base + l0_bytes).next_multiple_of(l1_size);
        layout.bytes_used = layout.l1_base - tables.base + need as u64 * l1_size;
    }
    if layout.bytes_used > tables.size {
        return Err(BuildError::TablesTooSmall {
            need: layout.bytes_used,
            have: tables.size,
        });
    }
    Ok(layout)
}

/// The protected part of level 0 region `index`.
fn l0_region(layout: &GptLayout, index: usize) -> Range {
    let size = layout.l0_region_size().min(layout.pps_size());
    Range::new(index as u64 * layout.l0_region_size(), size)
}

/// `Some(gpi)` when level 0 region `index` can be one Block descriptor.
fn block_gpi(layout: &GptLayout, index: usize, pas_map: &[PasRegion]) -> Option<Gpi> {
    let l0 = l0_region(layout, index);
    let mut covered = 0;
    let mut gpi = None;
    for region in pas_map.iter().filter(|r| r.range.overlaps(&l0)) {
        if matches!(region.gpi, Gpi::NonSecure | Gpi::Realm) {
            return None;
        }
        if gpi.is_some_and(|g| g != region.gpi) {
            return None;
        }
        gpi = Some(region.gpi);
        covered += region.range.end().min(l0.end()) - region.range.base.max(l0.base);
    }
    match gpi {
        None => Some(UNLISTED_GPI),
        Some(g) if covered == l0.size || g == UNLISTED_GPI => Some(g),
        Some(_) => None,
    }
}

fn write(layout: &GptLayout, pas_map: &[PasRegion], tables: &mut [u64]) {
    let (l0, rest) = tables.split_at_mut(layout.l0_entries);
    for (index, desc) in l0.iter_mut().enumerate() {
        let Some(l1_pa) = layout.l1_table(index) else {
            *desc = l0_block_desc(block_gpi(layout, index, pas_map).unwrap_or(UNLISTED_GPI));
            continue;
        };
        *desc = l0_table_desc(l1_pa);
        let start = (l1_pa - layout.l0_base) as usize / 8 - layout.l0_entries;
        let l1 = &mut rest[start..start + layout.l1_entries()];
        l1.fill(l1_granules_desc(UNLISTED_GPI));
        let region = l0_region(layout, index);
        for r in pas_map.iter().filter(|r| r.range.overlaps(&region)) {
            let first = (r.range.base.max(region.base) - region.base) >> GRANULE_SHIFT;
            let end = (r.range.end().min(region.end()) - region.base) >> GRANULE_SHIFT;
            fill_granules(l1, first, end, r.gpi);
        }
    }
}

/// Sets granules `[first, end)` of one level 1 table to `gpi`.
fn fill_granules(l1: &mut [u64], first: u64, end: u64, gpi: Gpi) {
    let mut g = first;
    while g < end {
        let word = &mut l1[(g / 16) as usize];
        if g.is_multiple_of(16) && g + 16 <= end {
            *word = l1_granules_desc(gpi);
            g += 16;
        } else {
            let shift = (g % 16) * 4;
            *word = (*word & !(0xf << shift)) | (gpi_encoding(gpi) << shift);
            g += 1;
        }
    }
}
