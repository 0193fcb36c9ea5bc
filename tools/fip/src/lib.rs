//! Reader and writer for TF-A's Firmware Image Package (FIP).
//!
//! A FIP is a ToC followed by the images it names. The layout is the one
//! TF-A's `include/tools_share/firmware_image_package.h` (v2.15.0) declares
//! and `tools/fiptool/fiptool.c` produces:
//!
//! * a 16-byte header (`fip_toc_header_t`): `name` (u32, [`TOC_HEADER_NAME`]),
//!   `serial_number` (u32, fiptool writes [`TOC_HEADER_SERIAL_NUMBER`]; BL2's
//!   `io_fip.c` refuses 0) and `flags` (u64);
//! * 40-byte entries (`fip_toc_entry_t`): `uuid` (16 bytes, see [`uuid`]),
//!   `offset_address`, `size` and `flags` (u64 each, from the start of the
//!   FIP);
//! * an end marker: an entry with the null UUID, size 0, whose
//!   `offset_address` is the size of the whole FIP;
//! * the images. The first starts after the end marker, each is placed at the
//!   next multiple of the alignment (fiptool's `--align`, default 1), and the
//!   file is zero-padded to a multiple of it too.
//!
//! The structures are written as they lie in memory on the little-endian
//! machines fiptool and TF-A run on, so every integer is little-endian.
//!
//! [`Fip::parse`] is stricter than fiptool: anything BL2 would trip over, or
//! that fiptool itself would never write, is an error.

use std::fmt;

pub mod uuid;

pub use uuid::{KNOWN, Known, Uuid, name_of};

/// `TOC_HEADER_NAME`: the magic number a FIP starts with.
pub const TOC_HEADER_NAME: u32 = 0xAA64_0001;
/// The serial number fiptool writes (`TOC_HEADER_SERIAL_NUMBER` in
/// `tools/fiptool/tbbr_config.h`).
pub const TOC_HEADER_SERIAL_NUMBER: u32 = 0x1234_5678;
/// `sizeof(fip_toc_header_t)`.
pub const HEADER_SIZE: usize = 16;
/// `sizeof(fip_toc_entry_t)`.
pub const ENTRY_SIZE: usize = 40;
/// fiptool's default image alignment (no `--align`).
pub const DEFAULT_ALIGN: u64 = 1;

/// One image of a FIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub uuid: Uuid,
    /// The ToC entry's `flags` (fiptool keeps them when it rewrites a FIP).
    pub flags: u64,
    pub data: Vec<u8>,
}

/// A FIP's contents, independent of where the images lie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fip {
    pub serial_number: u32,
    /// The ToC header's `flags`; bits 32-47 are platform-defined
    /// (fiptool's `--plat-toc-flags`).
    pub flags: u64,
    /// The images, in ToC order.
    pub entries: Vec<Entry>,
}

/// Where one image lies in a FIP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TocEntry {
    pub uuid: Uuid,
    pub offset: u64,
    pub size: u64,
    pub flags: u64,
}

/// A FIP's header and table of contents, checked against its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toc {
    pub serial_number: u32,
    pub flags: u64,
    /// The entries in ToC order, end marker excluded.
    pub entries: Vec<TocEntry>,
    /// The end marker's `offset_address`: the size of the FIP.
    pub end: u64,
}

/// Why bytes are not a well-formed FIP, or a [`Fip`] cannot be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FipError {
    /// Shorter than the ToC header.
    TruncatedHeader { len: usize },
    /// The first word is not [`TOC_HEADER_NAME`].
    BadMagic { found: u32 },
    /// Serial number 0, which BL2 rejects as an invalid header.
    ZeroSerial,
    /// The input ends inside the ToC entry starting at `offset`.
    TruncatedToc { offset: usize, len: usize },
    /// The ToC runs up to the end of the input without a null-UUID entry.
    MissingEndMarker { len: usize },
    /// The end marker has a non-zero size or flags.
    EndMarkerNotEmpty { size: u64, flags: u64 },
    /// The end marker's offset is not the size of the FIP.
    EndMarkerMismatch { offset: u64, len: u64 },
    /// Entry `index` has size 0 (BL2 refuses to load such an entry).
    EmptyEntry { index: usize },
    /// Entry `index` reaches past the end of the FIP.
    EntryOutOfBounds {
        index: usize,
        offset: u64,
        size: u64,
        len: u64,
    },
    /// Entry `index` starts inside the header or ToC, which end at `toc_end`.
    EntryOverlapsToc {
        index: usize,
        offset: u64,
        toc_end: u64,
    },
    /// Entries `first` and `second` share bytes.
    OverlappingEntries { first: usize, second: usize },
    /// Entries `first` and `second` have the same UUID.
    DuplicateUuid {
        uuid: Uuid,
        first: usize,
        second: usize,
    },
    /// Entry `index` has the null UUID, which would end the ToC early.
    NullUuid { index: usize },
    /// The alignment is not a power of two.
    BadAlignment { align: u64 },
    /// The layout does not fit in memory.
    TooLarge,
}

impl fmt::Display for FipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TruncatedHeader { len } => write!(
                f,
                "{len} bytes is too short for a FIP ToC header ({HEADER_SIZE} bytes)"
            ),
            Self::BadMagic { found } => write!(
                f,
                "not a FIP: ToC header name {found:#010x}, expected {TOC_HEADER_NAME:#010x}"
            ),
            Self::ZeroSerial => write!(f, "FIP ToC header has serial number 0"),
            Self::TruncatedToc { offset, len } => write!(
                f,
                "FIP ToC entry at {offset:#x} is cut off by the end of the data ({len:#x} bytes)"
            ),
            Self::MissingEndMarker { len } => write!(
                f,
                "FIP ToC has no null-UUID end marker before the end of the data ({len:#x} bytes)"
            ),
            Self::EndMarkerNotEmpty { size, flags } => write!(
                f,
                "FIP ToC end marker has size {size:#x} and flags {flags:#x}, expected 0"
            ),
            Self::EndMarkerMismatch { offset, len } => write!(
                f,
                "FIP ToC end marker says the FIP is {offset:#x} bytes, but it is {len:#x}"
            ),
            Self::EmptyEntry { index } => write!(f, "FIP entry {index} is empty"),
            Self::EntryOutOfBounds {
                index,
                offset,
                size,
                len,
            } => write!(
                f,
                "FIP entry {index} ({size:#x} bytes at {offset:#x}) is outside the FIP ({len:#x} bytes)"
            ),
            Self::EntryOverlapsToc {
                index,
                offset,
                toc_end,
            } => write!(
                f,
                "FIP entry {index} starts at {offset:#x}, inside the ToC (which ends at {toc_end:#x})"
            ),
            Self::OverlappingEntries { first, second } => {
                write!(f, "FIP entries {first} and {second} overlap")
            }
            Self::DuplicateUuid {
                uuid,
                first,
                second,
            } => write!(
                f,
                "FIP entries {first} and {second} have the same UUID {}",
                uuid::to_string(&uuid)
            ),
            Self::NullUuid { index } => write!(f, "FIP entry {index} has the null UUID"),
            Self::BadAlignment { align } => {
                write!(f, "FIP alignment {align:#x} is not a power of two")
            }
            Self::TooLarge => write!(f, "FIP layout does not fit in memory"),
        }
    }
}

impl std::error::Error for FipError {}

/// Size of the header plus `entries` ToC entries and the end marker.
fn toc_size(entries: usize) -> u64 {
    (HEADER_SIZE + (entries + 1) * ENTRY_SIZE) as u64
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn read_entry(bytes: &[u8], at: usize) -> TocEntry {
    TocEntry {
        uuid: bytes[at..at + 16].try_into().expect("16 bytes"),
        offset: le_u64(bytes, at + 16),
        size: le_u64(bytes, at + 24),
        flags: le_u64(bytes, at + 32),
    }
}

fn write_entry(out: &mut [u8], at: usize, entry: &TocEntry) {
    out[at..at + 16].copy_from_slice(&entry.uuid);
    out[at + 16..at + 24].copy_from_slice(&entry.offset.to_le_bytes());
    out[at + 24..at + 32].copy_from_slice(&entry.size.to_le_bytes());
    out[at + 32..at + 40].copy_from_slice(&entry.flags.to_le_bytes());
}

/// The first pair of entries with the same UUID.
fn find_duplicate(uuids: &[Uuid]) -> Option<FipError> {
    uuids.iter().enumerate().find_map(|(second, uuid)| {
        let first = uuids[..second].iter().position(|u| u == uuid)?;
        Some(FipError::DuplicateUuid {
            uuid: *uuid,
            first,
            second,
        })
    })
}

impl Toc {
    /// Reads and checks the header and ToC of the FIP `bytes`, which must
    /// be exactly the FIP (its end marker's offset equals `bytes.len()`).
    pub fn parse(bytes: &[u8]) -> Result<Self, FipError> {
        let len = bytes.len();
        if len < HEADER_SIZE {
            return Err(FipError::TruncatedHeader { len });
        }
        let name = le_u32(bytes, 0);
        if name != TOC_HEADER_NAME {
            return Err(FipError::BadMagic { found: name });
        }
        let serial_number = le_u32(bytes, 4);
        if serial_number == 0 {
            return Err(FipError::ZeroSerial);
        }
        let flags = le_u64(bytes, 8);

        let mut entries = Vec::new();
        let mut at = HEADER_SIZE;
        let end_marker = loop {
            match len - at {
                0 => return Err(FipError::MissingEndMarker { len }),
                rest if rest < ENTRY_SIZE => {
                    return Err(FipError::TruncatedToc { offset: at, len });
                }
                _ => {}
            }
            let entry = read_entry(bytes, at);
            at += ENTRY_SIZE;
            if entry.uuid == uuid::NULL {
                break entry;
            }
            entries.push(entry);
        };

        if end_marker.size != 0 || end_marker.flags != 0 {
            return Err(FipError::EndMarkerNotEmpty {
                size: end_marker.size,
                flags: end_marker.flags,
            });
        }
        let len = len as u64;
        if end_marker.offset != len {
            return Err(FipError::EndMarkerMismatch {
                offset: end_marker.offset,
                len,
            });
        }

        let toc_end = at as u64;
        for (index, e) in entries.iter().enumerate() {
            if e.size == 0 {
                return Err(FipError::EmptyEntry { index });
            }
            if e.offset.checked_add(e.size).is_none_or(|end| end > len) {
                return Err(FipError::EntryOutOfBounds {
                    index,
                    offset: e.offset,
                    size: e.size,
                    len,
                });
            }
            if e.offset < toc_end {
                return Err(FipError::EntryOverlapsToc {
                    index,
                    offset: e.offset,
                    toc_end,
                });
            }
        }
        let uuids: Vec<Uuid> = entries.iter().map(|e| e.uuid).collect();
        if let Some(err) = find_duplicate(&uuids) {
            return Err(err);
        }
        // Sorted by offset, entries are disjoint iff each ends before the
        // next begins (bounds were checked above, so no overflow).
        let mut by_offset: Vec<usize> = (0..entries.len()).collect();
        by_offset.sort_by_key(|&i| entries[i].offset);
        for pair in by_offset.windows(2) {
            let (a, b) = (&entries[pair[0]], &entries[pair[1]]);
            if a.offset + a.size > b.offset {
                return Err(FipError::OverlappingEntries {
                    first: pair[0].min(pair[1]),
                    second: pair[0].max(pair[1]),
                });
            }
        }

        Ok(Self {
            serial_number,
            flags,
            entries,
            end: len,
        })
    }

    /// The entry for `uuid`.
    pub fn get(&self, uuid: &Uuid) -> Option<&TocEntry> {
        self.entries.iter().find(|e| e.uuid == *uuid)
    }
}

/// One line per entry: offset, size, UUID and fiptool name.
impl fmt::Display for Toc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "FIP: {} entries, {:#x} bytes, serial {:#010x}, flags {:#x}",
            self.entries.len(),
            self.end,
            self.serial_number,
            self.flags
        )?;
        writeln!(
            f,
            "  {:<10}  {:<10}  {:<36}  name",
            "offset", "size", "uuid"
        )?;
        for e in &self.entries {
            let name = match uuid::known(&e.uuid) {
                Some(k) => format!("{} ({})", k.name, k.description),
                None => "(unknown)".to_string(),
            };
            write!(
                f,
                "  {:#010x}  {:#010x}  {}  {name}",
                e.offset,
                e.size,
                uuid::to_string(&e.uuid)
            )?;
            if e.flags != 0 {
                write!(f, "  flags {:#x}", e.flags)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl Default for Fip {
    fn default() -> Self {
        Self::new()
    }
}

impl Fip {
    /// An empty FIP with fiptool's header fields.
    pub fn new() -> Self {
        Self {
            serial_number: TOC_HEADER_SERIAL_NUMBER,
            flags: 0,
            entries: Vec::new(),
        }
    }

    /// Reads the FIP `bytes` (see [`Toc::parse`] for the checks).
    pub fn parse(bytes: &[u8]) -> Result<Self, FipError> {
        let toc = Toc::parse(bytes)?;
        let entries = toc
            .entries
            .iter()
            .map(|e| Entry {
                uuid: e.uuid,
                flags: e.flags,
                // In bounds: checked by Toc::parse.
                data: bytes[e.offset as usize..(e.offset + e.size) as usize].to_vec(),
            })
            .collect();
        Ok(Self {
            serial_number: toc.serial_number,
            flags: toc.flags,
            entries,
        })
    }

    /// The image with `uuid`.
    pub fn get(&self, uuid: &Uuid) -> Option<&Entry> {
        self.entries.iter().find(|e| e.uuid == *uuid)
    }

    /// Puts `data` under `uuid`: in place of the existing image, keeping its
    /// position, or appended. Like `fiptool update`, the replaced entry's
    /// flags are reset to 0. Returns the replaced entry.
    pub fn set(&mut self, uuid: Uuid, data: Vec<u8>) -> Option<Entry> {
        let entry = Entry {
            uuid,
            flags: 0,
            data,
        };
        match self.entries.iter_mut().find(|e| e.uuid == uuid) {
            Some(old) => Some(std::mem::replace(old, entry)),
            None => {
                self.entries.push(entry);
                None
            }
        }
    }

    /// Takes out the image with `uuid`.
    pub fn remove(&mut self, uuid: &Uuid) -> Option<Entry> {
        let index = self.entries.iter().position(|e| e.uuid == *uuid)?;
        Some(self.entries.remove(index))
    }

    /// Where [`Fip::to_bytes`] with `align` puts each image: after the ToC,
    /// each at the next multiple of `align`, as fiptool lays them out.
    pub fn toc(&self, align: u64) -> Result<Toc, FipError> {
        if !align.is_power_of_two() {
            return Err(FipError::BadAlignment { align });
        }
        for (index, e) in self.entries.iter().enumerate() {
            if e.uuid == uuid::NULL {
                return Err(FipError::NullUuid { index });
            }
            // fiptool drops empty images; BL2 could not load them anyway.
            if e.data.is_empty() {
                return Err(FipError::EmptyEntry { index });
            }
        }
        let uuids: Vec<Uuid> = self.entries.iter().map(|e| e.uuid).collect();
        if let Some(err) = find_duplicate(&uuids) {
            return Err(err);
        }

        let up = |at: u64| at.checked_next_multiple_of(align).ok_or(FipError::TooLarge);
        let mut at = toc_size(self.entries.len());
        let mut entries = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            at = up(at)?;
            let size = e.data.len() as u64;
            entries.push(TocEntry {
                uuid: e.uuid,
                offset: at,
                size,
                flags: e.flags,
            });
            at = at.checked_add(size).ok_or(FipError::TooLarge)?;
        }
        Ok(Toc {
            serial_number: self.serial_number,
            flags: self.flags,
            entries,
            end: up(at)?,
        })
    }

    /// The FIP as bytes, images aligned to `align` (a power of two;
    /// [`DEFAULT_ALIGN`] matches fiptool without `--align`).
    pub fn to_bytes(&self, align: u64) -> Result<Vec<u8>, FipError> {
        let toc = self.toc(align)?;
        let len = usize::try_from(toc.end).map_err(|_| FipError::TooLarge)?;
        let mut out = vec![0; len];
        out[0..4].copy_from_slice(&TOC_HEADER_NAME.to_le_bytes());
        out[4..8].copy_from_slice(&toc.serial_number.to_le_bytes());
        out[8..16].copy_from_slice(&toc.flags.to_le_bytes());
        let mut at = HEADER_SIZE;
        for (t, e) in toc.entries.iter().zip(&self.entries) {
            write_entry(&mut out, at, t);
            // Offsets fit: they are below `len`, a usize.
            out[t.offset as usize..][..e.data.len()].copy_from_slice(&e.data);
            at += ENTRY_SIZE;
        }
        let end_marker = TocEntry {
            uuid: uuid::NULL,
            offset: toc.end,
            size: 0,
            flags: 0,
        };
        write_entry(&mut out, at, &end_marker);
        Ok(out)
    }
}
