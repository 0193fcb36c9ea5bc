//! The image package: how the RMM and the NS payload travel in boot flash
//! next to the root image. Root reads it at `RootLayout::package_offset`,
//! checks every entry against the board's map and copies each image to its
//! load address. xtask writes it.
//!
//! Layout (little-endian): a 16-byte header `magic "RPKG", version u32,
//! count u32, reserved u32`, then `count` 32-byte entries `kind u32,
//! reserved u32, offset u64 (from the package start), size u64, load u64`.
//!
//! Most kinds carry bytes in the package. A *placed* kind ([`ImageKind::placed`])
//! carries none: the loader (QEMU's `-device loader`, a debugger, an earlier
//! boot stage) has already put it at `load`, `size` bytes long, and the
//! entry only tells root where it is; its `offset` must be 0. That is how a
//! Normal-world image of tens of megabytes (a Linux `Image`, U-Boot) and its
//! initramfs reach DRAM without passing through the 64 MB boot flash.

use crate::Range;

pub const MAGIC: [u8; 4] = *b"RPKG";
pub const VERSION: u32 = 1;
pub const HEADER_SIZE: usize = 16;
pub const ENTRY_SIZE: usize = 32;
pub const MAX_ENTRIES: usize = 8;

/// What an image is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// The Realm Management Monitor, loaded at the base of the RMM region.
    Rmm = 1,
    /// The Normal-world EL2 payload, entered after the RMM has booted.
    NsPayload = 2,
    /// A BL33 already placed in Normal-world DRAM (placed kind): root
    /// enters it at `load` in place of a packaged [`ImageKind::NsPayload`].
    Bl33 = 3,
    /// An initramfs already placed in Normal-world DRAM (placed kind):
    /// root names it in the device tree's `/chosen` for the OS.
    Initrd = 4,
    /// The OS command line, as bytes in the package (UTF-8, no NUL): root
    /// writes it to the device tree's `/chosen` `bootargs`.
    Bootargs = 5,
}

impl ImageKind {
    fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Rmm),
            2 => Some(Self::NsPayload),
            3 => Some(Self::Bl33),
            4 => Some(Self::Initrd),
            5 => Some(Self::Bootargs),
            _ => None,
        }
    }

    /// Whether an entry of this kind describes memory the loader already
    /// filled, rather than bytes inside the package.
    pub const fn placed(self) -> bool {
        matches!(self, Self::Bl33 | Self::Initrd)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: ImageKind,
    /// Offset from the package start.
    pub offset: u64,
    pub size: u64,
    pub load: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackageError {
    Truncated,
    BadMagic,
    UnsupportedVersion(u32),
    TooManyEntries(u32),
    UnknownKind(u32),
    DuplicateKind,
    /// The image's bytes are not inside the package.
    OutOfPackage,
    /// The image would not fit where it must be loaded.
    BadLoadRange,
    /// A placed entry with a nonzero offset, or one that wraps the address space.
    BadPlacedEntry,
    /// Both a packaged NS payload and a placed BL33: which to enter is ambiguous.
    TwoNormalWorldImages,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

/// A checked view of a package.
#[derive(Clone, Copy, Debug)]
pub struct Package<'a> {
    bytes: &'a [u8],
    entries: [Option<Entry>; MAX_ENTRIES],
}

impl<'a> Package<'a> {
    /// Parses and checks a package: every image lies inside `bytes`, kinds
    /// are known and unique.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, PackageError> {
        if bytes.len() < HEADER_SIZE {
            return Err(PackageError::Truncated);
        }
        if bytes[..4] != MAGIC {
            return Err(PackageError::BadMagic);
        }
        let version = u32_at(bytes, 4);
        if version != VERSION {
            return Err(PackageError::UnsupportedVersion(version));
        }
        let count = u32_at(bytes, 8);
        if count as usize > MAX_ENTRIES {
            return Err(PackageError::TooManyEntries(count));
        }
        let table_end = HEADER_SIZE + count as usize * ENTRY_SIZE;
        if bytes.len() < table_end {
            return Err(PackageError::Truncated);
        }
        let mut entries = [None; MAX_ENTRIES];
        for (i, slot) in entries.iter_mut().enumerate().take(count as usize) {
            let at = HEADER_SIZE + i * ENTRY_SIZE;
            let raw_kind = u32_at(bytes, at);
            let kind = ImageKind::from_u32(raw_kind).ok_or(PackageError::UnknownKind(raw_kind))?;
            let entry = Entry {
                kind,
                offset: u64_at(bytes, at + 8),
                size: u64_at(bytes, at + 16),
                load: u64_at(bytes, at + 24),
            };
            if kind.placed() {
                if entry.offset != 0 || entry.load.checked_add(entry.size).is_none() {
                    return Err(PackageError::BadPlacedEntry);
                }
            } else if !Range::new(0, bytes.len() as u64).contains_range(entry.offset, entry.size) {
                return Err(PackageError::OutOfPackage);
            }
            *slot = Some(entry);
        }
        for i in 0..MAX_ENTRIES {
            for j in i + 1..MAX_ENTRIES {
                if let (Some(a), Some(b)) = (entries[i], entries[j])
                    && a.kind == b.kind
                {
                    return Err(PackageError::DuplicateKind);
                }
            }
        }
        let package = Self { bytes, entries };
        if package.entry(ImageKind::NsPayload).is_some() && package.entry(ImageKind::Bl33).is_some()
        {
            return Err(PackageError::TwoNormalWorldImages);
        }
        Ok(package)
    }

    pub fn entry(&self, kind: ImageKind) -> Option<Entry> {
        self.entries
            .iter()
            .flatten()
            .find(|e| e.kind == kind)
            .copied()
    }

    /// Where a placed kind lies, provided it is inside `allowed`.
    pub fn placed(&self, kind: ImageKind, allowed: Range) -> Result<Option<Range>, PackageError> {
        debug_assert!(kind.placed());
        let Some(entry) = self.entry(kind) else {
            return Ok(None);
        };
        if !allowed.contains_range(entry.load, entry.size) {
            return Err(PackageError::BadLoadRange);
        }
        Ok(Some(Range::new(entry.load, entry.size)))
    }

    /// The image's bytes, provided it fits inside `allowed` at its load address.
    pub fn image(
        &self,
        kind: ImageKind,
        allowed: Range,
    ) -> Result<Option<(Entry, &'a [u8])>, PackageError> {
        let Some(entry) = self.entry(kind) else {
            return Ok(None);
        };
        if !allowed.contains_range(entry.load, entry.size) {
            return Err(PackageError::BadLoadRange);
        }
        let start = entry.offset as usize;
        Ok(Some((
            entry,
            &self.bytes[start..start + entry.size as usize],
        )))
    }
}

/// Writes a package header and entry table for `entries` into `out`
/// (which must hold `HEADER_SIZE + entries.len() * ENTRY_SIZE` bytes).
pub fn write_header(entries: &[Entry], out: &mut [u8]) {
    out[..4].copy_from_slice(&MAGIC);
    out[4..8].copy_from_slice(&VERSION.to_le_bytes());
    out[8..12].copy_from_slice(&(entries.len() as u32).to_le_bytes());
    out[12..16].fill(0);
    for (i, e) in entries.iter().enumerate() {
        let at = HEADER_SIZE + i * ENTRY_SIZE;
        out[at..at + 4].copy_from_slice(&(e.kind as u32).to_le_bytes());
        out[at + 4..at + 8].fill(0);
        out[at + 8..at + 16].copy_from_slice(&e.offset.to_le_bytes());
        out[at + 16..at + 24].copy_from_slice(&e.size.to_le_bytes());
        out[at + 24..at + 32].copy_from_slice(&e.load.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> [u8; 256] {
        let mut buf = [0u8; 256];
        let entries = [
            Entry {
                kind: ImageKind::Rmm,
                offset: 128,
                size: 16,
                load: 0x4010_0000,
            },
            Entry {
                kind: ImageKind::NsPayload,
                offset: 144,
                size: 100,
                load: 0x4190_0000,
            },
        ];
        write_header(&entries, &mut buf);
        buf[128..144].fill(0xaa);
        buf
    }

    #[test]
    fn round_trips_and_checks_load_range() {
        let buf = sample();
        let p = Package::parse(&buf).unwrap();
        let (e, img) = p
            .image(ImageKind::Rmm, Range::new(0x4010_0000, 0x1000))
            .unwrap()
            .unwrap();
        assert_eq!((e.size, img), (16, &[0xaa; 16][..]));
        assert_eq!(
            p.image(ImageKind::NsPayload, Range::new(0x4190_0000, 99)),
            Err(PackageError::BadLoadRange)
        );
    }

    fn placed_sample() -> [u8; 256] {
        let mut buf = [0u8; 256];
        let entries = [
            Entry {
                kind: ImageKind::Bl33,
                offset: 0,
                size: 47 << 20,
                load: 0x6000_0000,
            },
            Entry {
                kind: ImageKind::Initrd,
                offset: 0,
                size: 3 << 20,
                load: 0x6400_0000,
            },
            Entry {
                kind: ImageKind::Bootargs,
                offset: 128,
                size: 14,
                load: 0,
            },
        ];
        write_header(&entries, &mut buf);
        buf[128..142].copy_from_slice(b"console=ttyAMA");
        buf
    }

    #[test]
    fn placed_entries_describe_memory_not_package_bytes() {
        let buf = placed_sample();
        let p = Package::parse(&buf).unwrap();
        let dram = Range::new(0x4000_0000, 0x8000_0000);
        assert_eq!(
            p.placed(ImageKind::Bl33, dram),
            Ok(Some(Range::new(0x6000_0000, 47 << 20)))
        );
        assert_eq!(
            p.placed(ImageKind::Initrd, Range::new(0x6000_0000, 0x10_0000)),
            Err(PackageError::BadLoadRange)
        );
        let (_, args) = p
            .image(ImageKind::Bootargs, Range::new(0, 0x1000))
            .unwrap()
            .unwrap();
        assert_eq!(args, b"console=ttyAMA");
        assert_eq!(p.entry(ImageKind::NsPayload), None);
    }

    #[test]
    fn rejects_bad_placed_entries() {
        let mut offset = placed_sample();
        offset[HEADER_SIZE + 8] = 1;
        assert_eq!(
            Package::parse(&offset).err(),
            Some(PackageError::BadPlacedEntry)
        );
        let mut wraps = placed_sample();
        wraps[HEADER_SIZE + 24..HEADER_SIZE + 32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            Package::parse(&wraps).err(),
            Some(PackageError::BadPlacedEntry)
        );
        // A packaged NS payload beside a placed BL33.
        let mut both = placed_sample();
        both[HEADER_SIZE + 2 * ENTRY_SIZE] = ImageKind::NsPayload as u8;
        assert_eq!(
            Package::parse(&both).err(),
            Some(PackageError::TwoNormalWorldImages)
        );
    }

    #[test]
    fn rejects_malformed_packages() {
        let mut buf = sample();
        assert_eq!(
            Package::parse(&buf[..10]).err(),
            Some(PackageError::Truncated)
        );
        assert_eq!(
            Package::parse(&buf[..40]).err(),
            Some(PackageError::Truncated)
        );
        buf[4] = 9;
        assert_eq!(
            Package::parse(&buf).err(),
            Some(PackageError::UnsupportedVersion(9))
        );
        buf[4] = 1;
        buf[HEADER_SIZE + ENTRY_SIZE + 16] = 0xff; // NS image size far past the end
        assert_eq!(Package::parse(&buf).err(), Some(PackageError::OutOfPackage));
        let mut dup = sample();
        dup[HEADER_SIZE + ENTRY_SIZE] = 1;
        assert_eq!(
            Package::parse(&dup).err(),
            Some(PackageError::DuplicateKind)
        );
        let mut unknown = sample();
        unknown[HEADER_SIZE] = 9;
        assert_eq!(
            Package::parse(&unknown).err(),
            Some(PackageError::UnknownKind(9))
        );
        let mut magic = sample();
        magic[0] = b'X';
        assert_eq!(Package::parse(&magic).err(), Some(PackageError::BadMagic));
        let mut many = sample();
        many[8] = 9;
        assert_eq!(
            Package::parse(&many).err(),
            Some(PackageError::TooManyEntries(9))
        );
    }
}
