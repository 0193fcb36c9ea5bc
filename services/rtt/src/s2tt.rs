//! Stage-2 translation table descriptors as the RTT service stores them:
//! 4 KB granule, 512 entries a table, levels 0-3, no LPA2 (RMM spec 1.0,
//! A5.5 "Realm Translation Table"; VMSAv8-64 stage 2 descriptor formats).
//!
//! An RTT entry (RTTE, A5.5.4) is one of [`Rtte`]. Entries the hardware may
//! use are *valid* descriptors: TABLE, ASSIGNED with RIPAS RAM and
//! ASSIGNED_NS. Everything else is an *invalid* descriptor (bit 0 clear)
//! whose ignored bits carry the RMM's own record of the entry:
//!
//! | bits      | field                                  |
//! |-----------|----------------------------------------|
//! | `[4:2]`   | HIPAS: 0 UNASSIGNED, 1 ASSIGNED        |
//! | `[6:5]`   | RIPAS: 0 EMPTY, 1 RAM, 2 DESTROYED     |
//! | `[47:12]` | output address (ASSIGNED only)         |
//! | `[55]`    | NS: the entry is for an Unprotected IPA |
//!
//! so a zeroed table is all UNASSIGNED, RIPAS EMPTY. Valid descriptors:
//!
//! * ASSIGNED (RIPAS RAM): `PA | AF | SH=IS | S2AP=RW | MemAttr=0b110`
//!   (Normal Write-Back under FEAT_S2FWB; A5.5.11), type page/block.
//! * ASSIGNED_NS: `PA | host MemAttr[2:0] | host S2AP | SH | AF | XN=0b10 |
//!   NS`, where SH is Inner Shareable for a cacheable mapping and Outer
//!   Shareable otherwise (A5.5.11).
//! * TABLE: `PA | 0b11`.

/// Entries in one RTT.
pub const ENTRIES: usize = 512;
/// The page level.
pub const PAGE_LEVEL: i8 = 3;

/// Descriptor type field `[1:0]`.
pub const TYPE_MASK: u64 = 0b11;
/// Table (levels 0-2) or page (level 3).
pub const TYPE_TABLE_OR_PAGE: u64 = 0b11;
/// Block (levels 1-2).
pub const TYPE_BLOCK: u64 = 0b01;
/// Output address bits `[47:12]` (48-bit PAs without LPA2).
pub const ADDR_MASK: u64 = ((1 << 48) - 1) & !0xfff;

/// HIPAS field of an invalid descriptor, `[4:2]`.
pub const HIPAS_MASK: u64 = 0b111 << 2;
pub const HIPAS_ASSIGNED: u64 = 1 << 2;
/// RIPAS field of an invalid descriptor, `[6:5]`.
pub const RIPAS_SHIFT: u32 = 5;
pub const RIPAS_MASK: u64 = 0b11 << RIPAS_SHIFT;

/// Stage-2 `MemAttr[2:0]` (descriptor bits `[4:2]`) and `MemAttr[3]` (bit 5).
pub const MEMATTR_MASK: u64 = 0b111 << 2;
pub const MEMATTR3: u64 = 1 << 5;
/// FEAT_S2FWB encodings of `MemAttr[2:0]`.
pub const MEMATTR_FWB_RESERVED: u64 = 0b100 << 2;
pub const MEMATTR_FWB_NC: u64 = 0b101 << 2;
pub const MEMATTR_FWB_WB: u64 = 0b110 << 2;
pub const MEMATTR_FWB_S1: u64 = 0b111 << 2;
/// S2AP `[7:6]`.
pub const S2AP_MASK: u64 = 0b11 << 6;
pub const S2AP_RW: u64 = 0b11 << 6;
/// SH `[9:8]`.
pub const SH_MASK: u64 = 0b11 << 8;
pub const SH_OS: u64 = 0b10 << 8;
pub const SH_IS: u64 = 0b11 << 8;
/// Access flag.
pub const AF: u64 = 1 << 10;
/// XN `[54:53]` = 0b10: not executable at EL1 or EL0.
pub const XN_NEVER: u64 = 0b10 << 53;
/// NS `[55]`: output address in the Non-secure PAS (Realm stage 2).
pub const NS: u64 = 1 << 55;

/// The attributes of an ASSIGNED (RIPAS RAM) mapping.
pub const RAM_ATTRS: u64 = MEMATTR_FWB_WB | S2AP_RW | SH_IS | AF;
/// The attributes the host controls in an ASSIGNED_NS entry (A5.5.11).
pub const NS_HOST_ATTRS: u64 = MEMATTR_MASK | S2AP_MASK;

/// log2 of the IPA range one entry at `level` describes.
pub const fn shift(level: i8) -> u32 {
    12 + 9 * (3 - level) as u32
}

/// Size of the IPA range one entry at `level` describes (RttLevelSize).
pub const fn map_size(level: i8) -> u64 {
    1 << shift(level)
}

/// AddrIsRttLevelAligned(addr, level).
pub const fn is_aligned(addr: u64, level: i8) -> bool {
    addr & (map_size(level) - 1) == 0
}

/// Index of `ipa`'s entry in its table at `level`.
pub const fn index(ipa: u64, level: i8) -> usize {
    ((ipa >> shift(level)) as usize) % ENTRIES
}

/// RmiRipas / RmmRipas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Ripas {
    Empty = 0,
    Ram = 1,
    Destroyed = 2,
}

impl Ripas {
    const fn from_field(desc: u64) -> Self {
        match (desc & RIPAS_MASK) >> RIPAS_SHIFT {
            0 => Ripas::Empty,
            1 => Ripas::Ram,
            // 3 is never written; read it as the most restrictive value.
            _ => Ripas::Destroyed,
        }
    }

    const fn field(self) -> u64 {
        (self as u64) << RIPAS_SHIFT
    }
}

/// RmiRttEntryState (B4.4.x): what RTT_READ_ENTRY reports.
pub const RMI_UNASSIGNED: u64 = 0;
pub const RMI_ASSIGNED: u64 = 1;
pub const RMI_TABLE: u64 = 2;

/// One RTT entry, decoded (A5.5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rtte {
    /// Protected IPA, no granule.
    Unassigned(Ripas),
    /// Unprotected IPA, no granule.
    UnassignedNs,
    /// Protected IPA mapped to a DATA granule (or a block of them).
    Assigned { pa: u64, ripas: Ripas },
    /// Unprotected IPA mapped to NS memory; `attrs` holds the host's
    /// `MemAttr[2:0]` and S2AP bits.
    AssignedNs { pa: u64, attrs: u64 },
    /// The next-level RTT at `pa`.
    Table(u64),
}

/// The valid descriptor type for a page or block at `level`.
const fn leaf_type(level: i8) -> u64 {
    if level == PAGE_LEVEL {
        TYPE_TABLE_OR_PAGE
    } else {
        TYPE_BLOCK
    }
}

/// Shareability the RMM gives an ASSIGNED_NS mapping: Inner Shareable when
/// it may be cacheable (MemAttr 0b110 Write-Back, 0b111 stage-1 defined),
/// Outer Shareable for Device and Non-cacheable (A5.5.11).
pub const fn ns_shareability(attrs: u64) -> u64 {
    match attrs & MEMATTR_MASK {
        MEMATTR_FWB_WB | MEMATTR_FWB_S1 => SH_IS,
        _ => SH_OS,
    }
}

impl Rtte {
    /// Decodes the descriptor `desc` found in a table at `level`.
    pub const fn decode(desc: u64, level: i8) -> Rtte {
        let kind = desc & TYPE_MASK;
        if kind == TYPE_TABLE_OR_PAGE && level < PAGE_LEVEL {
            return Rtte::Table(desc & ADDR_MASK);
        }
        let leaf = (kind == TYPE_TABLE_OR_PAGE && level == PAGE_LEVEL)
            || (kind == TYPE_BLOCK && level >= 1 && level < PAGE_LEVEL);
        if leaf {
            let pa = desc & ADDR_MASK & !(map_size(level) - 1);
            return if desc & NS != 0 {
                Rtte::AssignedNs {
                    pa,
                    attrs: desc & NS_HOST_ATTRS,
                }
            } else {
                Rtte::Assigned {
                    pa,
                    ripas: Ripas::Ram,
                }
            };
        }
        // Invalid descriptor: the RMM's software encoding.
        if desc & NS != 0 {
            Rtte::UnassignedNs
        } else if desc & HIPAS_MASK == HIPAS_ASSIGNED {
            Rtte::Assigned {
                pa: desc & ADDR_MASK,
                ripas: Ripas::from_field(desc),
            }
        } else {
            Rtte::Unassigned(Ripas::from_field(desc))
        }
    }

    /// The descriptor for this entry in a table at `level`. ASSIGNED and
    /// ASSIGNED_NS exist only at levels 1-3, TABLE only at 0-2.
    pub const fn encode(self, level: i8) -> u64 {
        match self {
            Rtte::Unassigned(ripas) => ripas.field(),
            Rtte::UnassignedNs => NS,
            Rtte::Assigned {
                pa,
                ripas: Ripas::Ram,
            } => pa | RAM_ATTRS | leaf_type(level),
            Rtte::Assigned { pa, ripas } => pa | HIPAS_ASSIGNED | ripas.field(),
            Rtte::AssignedNs { pa, attrs } => {
                let attrs = attrs & NS_HOST_ATTRS;
                pa | attrs | ns_shareability(attrs) | AF | XN_NEVER | NS | leaf_type(level)
            }
            Rtte::Table(pa) => pa | TYPE_TABLE_OR_PAGE,
        }
    }

    /// The descriptor is one the hardware walks or translates through.
    pub const fn is_valid(self) -> bool {
        matches!(
            self,
            Rtte::Table(_)
                | Rtte::AssignedNs { .. }
                | Rtte::Assigned {
                    ripas: Ripas::Ram,
                    ..
                }
        )
    }

    /// RTTE liveness (A5.5.8): the entry stores a PA.
    pub const fn is_live(self) -> bool {
        matches!(
            self,
            Rtte::Assigned { .. } | Rtte::AssignedNs { .. } | Rtte::Table(_)
        )
    }

    /// The entry references another RMM object, so it is counted in its
    /// RTT's reference count (TABLE, ASSIGNED; not ASSIGNED_NS).
    pub const fn is_counted(self) -> bool {
        matches!(self, Rtte::Assigned { .. } | Rtte::Table(_))
    }

    /// RTT_READ_ENTRY's view (B4.3.20.3): (state, desc, ripas).
    pub const fn read(self) -> (u64, u64, u64) {
        match self {
            Rtte::Unassigned(ripas) => (RMI_UNASSIGNED, 0, ripas as u64),
            Rtte::UnassignedNs => (RMI_UNASSIGNED, 0, Ripas::Empty as u64),
            Rtte::Assigned { pa, ripas } => (RMI_ASSIGNED, pa, ripas as u64),
            Rtte::AssignedNs { pa, attrs } => (RMI_ASSIGNED, pa | attrs, Ripas::Empty as u64),
            Rtte::Table(pa) => (RMI_TABLE, pa, Ripas::Empty as u64),
        }
    }
}

/// RttDescriptorIsValidForUnprotected plus the addr_align and addr_bound
/// conditions of RMI_RTT_MAP_UNPROTECTED (B4.3.19.2): only the output
/// address (aligned to `level`, below 2^48), `MemAttr[2:0]` and S2AP may be
/// set, and `MemAttr[2:0]` is not the reserved FWB encoding 0b100.
pub const fn ns_desc_valid(desc: u64, level: i8) -> bool {
    let addr = ADDR_MASK & !(map_size(level) - 1);
    desc & !(addr | NS_HOST_ATTRS) == 0 && desc & MEMATTR_MASK != MEMATTR_FWB_RESERVED
}

/// The ASSIGNED_NS entry a valid host descriptor describes.
pub const fn ns_entry(desc: u64) -> Rtte {
    Rtte::AssignedNs {
        pa: desc & ADDR_MASK,
        attrs: desc & NS_HOST_ATTRS,
    }
}

/// What a table folds into (RttFold, A5.5.6), if it is homogeneous.
/// `entries` is the child RTT at `level`.
pub fn fold(entries: &[u64; ENTRIES], level: i8) -> Option<Rtte> {
    let first = Rtte::decode(entries[0], level);
    let size = map_size(level);
    let parent_size = map_size(level - 1);
    // The expected entry i for a homogeneous table whose entry 0 is `first`.
    let expect = |i: u64| match first {
        Rtte::Unassigned(_) | Rtte::UnassignedNs => Some(first),
        Rtte::Assigned { pa, ripas } => Some(Rtte::Assigned {
            pa: pa + i * size,
            ripas,
        }),
        Rtte::AssignedNs { pa, attrs } => Some(Rtte::AssignedNs {
            pa: pa + i * size,
            attrs,
        }),
        Rtte::Table(_) => None,
    };
    if let Rtte::Assigned { pa, .. } | Rtte::AssignedNs { pa, .. } = first {
        // Blocks exist at levels 1 and 2 only: the child is at 2 or 3.
        if level < 2 || pa & (parent_size - 1) != 0 {
            return None;
        }
    }
    for (i, &desc) in entries.iter().enumerate() {
        if Some(Rtte::decode(desc, level)) != expect(i as u64) {
            return None;
        }
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PA: u64 = 0x8840_0000;

    #[test]
    fn sizes_and_indices() {
        assert_eq!(map_size(3), 0x1000);
        assert_eq!(map_size(2), 0x20_0000);
        assert_eq!(map_size(1), 0x4000_0000);
        assert_eq!(map_size(0), 1 << 39);
        assert!(is_aligned(0x20_0000, 2));
        assert!(!is_aligned(0x20_1000, 2));
        assert_eq!(index(0x20_1000, 3), 1);
        assert_eq!(index(0x20_1000, 2), 1);
        assert_eq!(index(0x7f_ffff_ffff, 1), 511);
        // Concatenated roots: the index wraps per table.
        assert_eq!(index(1 << 39, 1), 0);
    }

    #[test]
    fn software_encoding_of_invalid_entries() {
        assert_eq!(Rtte::decode(0, 3), Rtte::Unassigned(Ripas::Empty));
        assert_eq!(Rtte::Unassigned(Ripas::Empty).encode(2), 0);
        assert_eq!(Rtte::Unassigned(Ripas::Ram).encode(3), 0x20);
        assert_eq!(Rtte::Unassigned(Ripas::Destroyed).encode(3), 0x40);
        assert_eq!(Rtte::UnassignedNs.encode(1), 1 << 55);
        assert_eq!(
            Rtte::Assigned {
                pa: PA,
                ripas: Ripas::Empty
            }
            .encode(3),
            PA | 0x04
        );
        assert_eq!(
            Rtte::Assigned {
                pa: PA,
                ripas: Ripas::Destroyed
            }
            .encode(2),
            PA | 0x44
        );
        for level in 0..=3 {
            for e in [
                Rtte::Unassigned(Ripas::Empty),
                Rtte::Unassigned(Ripas::Ram),
                Rtte::Unassigned(Ripas::Destroyed),
                Rtte::UnassignedNs,
            ] {
                assert_eq!(Rtte::decode(e.encode(level), level), e);
                assert!(!e.is_valid() && !e.is_live() && !e.is_counted());
                assert_eq!(e.encode(level) & 1, 0);
            }
        }
    }

    #[test]
    fn assigned_ram_is_a_valid_fwb_mapping() {
        let page = Rtte::Assigned {
            pa: PA,
            ripas: Ripas::Ram,
        };
        assert_eq!(page.encode(3), PA | 0x7db);
        assert_eq!(page.encode(2), PA | 0x7d9);
        assert_eq!(page.encode(1), PA | 0x7d9);
        let d = page.encode(3);
        assert_eq!(d & MEMATTR_MASK, 0b110 << 2);
        assert_eq!(d & S2AP_MASK, S2AP_RW);
        assert_eq!(d & SH_MASK, SH_IS);
        assert_ne!(d & AF, 0);
        assert_eq!(d & (NS | XN_NEVER), 0);
        for level in 2..=3 {
            assert_eq!(Rtte::decode(page.encode(level), level), page);
        }
        let gb = Rtte::Assigned {
            pa: 0x8000_0000,
            ripas: Ripas::Ram,
        };
        assert_eq!(Rtte::decode(gb.encode(1), 1), gb);
        assert!(page.is_valid() && page.is_live() && page.is_counted());
        for ripas in [Ripas::Empty, Ripas::Destroyed] {
            let e = Rtte::Assigned { pa: PA, ripas };
            assert!(!e.is_valid() && e.is_live() && e.is_counted());
            assert_eq!(Rtte::decode(e.encode(3), 3), e);
        }
    }

    #[test]
    fn assigned_ns_carries_host_attributes() {
        let host = PA | (0b001 << 2) | S2AP_RW;
        assert!(ns_desc_valid(host, 3));
        let e = ns_entry(host);
        let d = e.encode(3);
        assert_eq!(
            d,
            PA | (0b001 << 2) | S2AP_RW | SH_OS | AF | XN_NEVER | NS | 0b11
        );
        assert_eq!(Rtte::decode(d, 3), e);
        assert_eq!(e.read(), (RMI_ASSIGNED, host, 0));
        assert!(e.is_valid() && e.is_live() && !e.is_counted());
        // Cacheable: Inner Shareable; block type at level 2.
        let wb = ns_entry(PA | MEMATTR_FWB_WB);
        assert_eq!(
            wb.encode(2),
            PA | MEMATTR_FWB_WB | SH_IS | AF | XN_NEVER | NS | 0b01
        );
        assert_eq!(Rtte::decode(wb.encode(2), 2), wb);
        assert_eq!(ns_shareability(MEMATTR_FWB_S1), SH_IS);
        assert_eq!(ns_shareability(MEMATTR_FWB_NC), SH_OS);
    }

    #[test]
    fn host_descriptor_validation() {
        assert!(ns_desc_valid(PA, 3));
        assert!(ns_desc_valid(PA | NS_HOST_ATTRS & !MEMATTR_FWB_RESERVED, 3));
        assert!(ns_desc_valid(0x4000_0000, 1));
        // Reserved FWB MemAttr.
        assert!(!ns_desc_valid(PA | MEMATTR_FWB_RESERVED, 3));
        // Any bit outside ADDR, MemAttr[2:0], S2AP.
        for bit in [0, 1, 5, 8, 9, 10, 11, 48, 51, 52, 53, 54, 55, 58, 63] {
            assert!(!ns_desc_valid(PA | 1 << bit, 3), "bit {bit}");
        }
        // Address not aligned to the level.
        assert!(!ns_desc_valid(PA + 0x1000, 2));
        assert!(ns_desc_valid(PA + 0x1000, 3));
        assert!(!ns_desc_valid(0x20_0000, 1));
    }

    #[test]
    fn tables_and_read_views() {
        let t = Rtte::Table(PA);
        assert_eq!(t.encode(0), PA | 3);
        assert_eq!(Rtte::decode(PA | 3, 2), t);
        // The same bits at level 3 are a page.
        assert_eq!(
            Rtte::decode(PA | 3, 3),
            Rtte::Assigned {
                pa: PA,
                ripas: Ripas::Ram
            }
        );
        assert_eq!(t.read(), (RMI_TABLE, PA, 0));
        assert_eq!(Rtte::UnassignedNs.read(), (RMI_UNASSIGNED, 0, 0));
        assert_eq!(
            Rtte::Unassigned(Ripas::Destroyed).read(),
            (RMI_UNASSIGNED, 0, 2)
        );
        assert_eq!(
            Rtte::Assigned {
                pa: PA,
                ripas: Ripas::Destroyed
            }
            .read(),
            (RMI_ASSIGNED, PA, 2)
        );
    }

    fn table(f: impl Fn(u64) -> Rtte, level: i8) -> [u64; ENTRIES] {
        core::array::from_fn(|i| f(i as u64).encode(level))
    }

    #[test]
    fn folding() {
        let un = table(|_| Rtte::Unassigned(Ripas::Ram), 3);
        assert_eq!(fold(&un, 3), Some(Rtte::Unassigned(Ripas::Ram)));
        let mut mixed = un;
        mixed[7] = Rtte::Unassigned(Ripas::Empty).encode(3);
        assert_eq!(fold(&mixed, 3), None);
        let ns = table(|_| Rtte::UnassignedNs, 2);
        assert_eq!(fold(&ns, 2), Some(Rtte::UnassignedNs));
        let base = 0x8000_0000u64;
        let ram = table(
            |i| Rtte::Assigned {
                pa: base + i * 0x1000,
                ripas: Ripas::Ram,
            },
            3,
        );
        assert_eq!(
            fold(&ram, 3),
            Some(Rtte::Assigned {
                pa: base,
                ripas: Ripas::Ram
            })
        );
        // Not contiguous, not aligned, mixed RIPAS.
        let mut gap = ram;
        gap[3] = Rtte::Assigned {
            pa: base + 0x10_0000_0000,
            ripas: Ripas::Ram,
        }
        .encode(3);
        assert_eq!(fold(&gap, 3), None);
        let unaligned = table(
            |i| Rtte::Assigned {
                pa: base + 0x1000 + i * 0x1000,
                ripas: Ripas::Ram,
            },
            3,
        );
        assert_eq!(fold(&unaligned, 3), None);
        let mut ripas = ram;
        ripas[511] = Rtte::Assigned {
            pa: base + 511 * 0x1000,
            ripas: Ripas::Empty,
        }
        .encode(3);
        assert_eq!(fold(&ripas, 3), None);
        // ASSIGNED_NS: identical attributes required.
        let nsmap = table(
            |i| Rtte::AssignedNs {
                pa: base + i * 0x1000,
                attrs: S2AP_RW | MEMATTR_FWB_WB,
            },
            3,
        );
        assert_eq!(
            fold(&nsmap, 3),
            Some(Rtte::AssignedNs {
                pa: base,
                attrs: S2AP_RW | MEMATTR_FWB_WB
            })
        );
        let mut attrs = nsmap;
        attrs[9] = Rtte::AssignedNs {
            pa: base + 9 * 0x1000,
            attrs: MEMATTR_FWB_WB,
        }
        .encode(3);
        assert_eq!(fold(&attrs, 3), None);
        // No level-0 blocks: a level-1 table of 1 GB blocks does not fold.
        let gb = table(
            |i| Rtte::Assigned {
                pa: i << 30,
                ripas: Ripas::Ram,
            },
            1,
        );
        assert_eq!(fold(&gb, 1), None);
        // Tables never fold.
        let tables = table(|i| Rtte::Table(base + i * 0x1000), 2);
        assert_eq!(fold(&tables, 2), None);
    }
}
