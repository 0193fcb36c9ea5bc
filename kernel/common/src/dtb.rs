//! The device tree root hands the Normal world when it is the reset image:
//! the machine's own blob (QEMU writes one at the start of DRAM) with what
//! only the firmware knows added, so that a standard OS boots on it.
//!
//! - `/psci` (method `smc`, PSCI 1.0 and 0.2 compatible), because root
//!   implements PSCI at EL3 (DEN0022) and the machine's blob leaves it out
//!   when EL3 firmware is present; `enable-method = "psci"` on every CPU, so
//!   that the OS starts secondaries through CPU_ON.
//! - `/reserved-memory` with a `no-map` child per range of DRAM the Normal
//!   world must not touch (the RMM region, root's pages in NS DRAM): DRAM
//!   described in `/memory` that is not NS, or is firmware's, must be kept
//!   out of the OS's allocator and linear map, or its first access there is
//!   a granule protection fault.
//! - `/chosen` `bootargs` and `linux,initrd-start`/`-end` when the caller
//!   has them; everything else in `/chosen` (stdout-path, seeds) is kept.
//!
//! Reading and writing the blob is the `dtoolkit` crate's (Google; fuzzed,
//! `no_std` + `alloc`): its validating reader, its tree model, its writer.
//! The model lives on the heap for the length of one call and is freed
//! before it returns ([`HEAP_PEAK_BUDGET`] bounds what it takes).

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use dtoolkit::fdt::Fdt;
use dtoolkit::model::{DeviceTree, DeviceTreeNode, DeviceTreeProperty};
use dtoolkit::{Node, Property};
use rampart_board::{BoardInfo, Gpi, Range};

/// Most ranges one fixup reserves.
pub const MAX_RESERVATIONS: usize = 8;

/// Heap bytes a fixup may take at its peak. The tree model costs about ten
/// times the blob: 93 KB for QEMU virt's 9 KB blob (`-smp 4`), as the host
/// test `heap_peak_fits_the_budget` measures; the rest is for allocator
/// overhead and fragmentation.
pub const HEAP_PEAK_BUDGET: usize = 128 * 1024;

/// Why a blob could not be fixed up. The caller then passes the original.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtbError {
    /// Not a flattened device tree the reader accepts (bad magic, version,
    /// block offsets, tokens or strings).
    Malformed,
    /// The header says the blob's blocks run past the bytes given.
    Truncated { needed: usize, available: usize },
    /// The fixed blob does not fit the output buffer.
    OutputTooSmall { needed: usize, capacity: usize },
    /// The tree has no `/cpus` node to mark for PSCI.
    NoCpus,
    /// More than [`MAX_RESERVATIONS`] ranges to reserve.
    TooManyReservations,
    /// A reservation's name is not a valid node name, its range is empty,
    /// or it does not fit the tree's address or size cells.
    BadReservation,
    /// The blob's root node or its `/reserved-memory` has `#address-cells`
    /// or `#size-cells` other than 1 or 2, or the two disagree.
    UnsupportedCells,
}

/// A range the Normal world must never touch, as a `/reserved-memory`
/// child `<name>@<base>` with `no-map`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub name: &'static str,
    pub range: Range,
}

const NO_RESERVATION: Reservation = Reservation {
    name: "",
    range: Range::new(0, 0),
};

/// What root adds to the machine's blob. Start from [`Fixups::for_board`];
/// set `bootargs`/`initrd` when the boot package carries them.
#[derive(Clone, Copy, Debug)]
pub struct Fixups<'a> {
    reservations: [Reservation; MAX_RESERVATIONS],
    reservation_count: usize,
    /// `/chosen/bootargs`, replacing any the blob has.
    pub bootargs: Option<&'a str>,
    /// Where the initrd lies: `/chosen/linux,initrd-start` and `-end`.
    pub initrd: Option<Range>,
}

impl Default for Fixups<'_> {
    fn default() -> Self {
        Self {
            reservations: [NO_RESERVATION; MAX_RESERVATIONS],
            reservation_count: 0,
            bootargs: None,
            initrd: None,
        }
    }
}

impl<'a> Fixups<'a> {
    /// The reservations `board` needs, no bootargs, no initrd: the RMM
    /// region, every other range of a DRAM bank that the PAS map does not
    /// give the Normal world, and the page of root's trace lock when it lies
    /// in DRAM.
    pub fn for_board(board: &BoardInfo) -> Self {
        let mut fixups = Self::default();
        // Each push below fits: a board has at most a few such ranges, and
        // the host test of every board checks nothing was dropped.
        let _ = fixups.reserve_in_dram(board, "rmm", board.rmm);
        for region in board.pas_map {
            let name = match region.gpi {
                Gpi::NonSecure | Gpi::Any => continue,
                Gpi::Realm => "realm",
                Gpi::Root => "root",
                Gpi::Secure => "secure",
                Gpi::NoAccess => "no-access",
            };
            let _ = fixups.reserve_in_dram(board, name, region.range);
        }
        if let Some(lock) = board.trace_lock {
            let lock_page = Range::new(lock & !0xfff, 0x1000);
            let _ = fixups.reserve_in_dram(board, "trace-lock", lock_page);
        }
        fixups
    }

    /// Adds a reservation.
    pub fn reserve(&mut self, name: &'static str, range: Range) -> Result<(), DtbError> {
        let slot = self
            .reservations
            .get_mut(self.reservation_count)
            .ok_or(DtbError::TooManyReservations)?;
        *slot = Reservation { name, range };
        self.reservation_count += 1;
        Ok(())
    }

    /// The ranges reserved so far.
    pub fn reservations(&self) -> &[Reservation] {
        &self.reservations[..self.reservation_count]
    }

    /// Reserves the part of `range` inside each DRAM bank that no earlier
    /// reservation already covers (a region is reserved once, under the
    /// first name given).
    fn reserve_in_dram(
        &mut self,
        board: &BoardInfo,
        name: &'static str,
        range: Range,
    ) -> Result<(), DtbError> {
        for bank in board.dram {
            let base = range.base.max(bank.base);
            let end = range.end().min(bank.end());
            if base >= end {
                continue;
            }
            let part = Range::new(base, end - base);
            if self.reservations().iter().any(|r| r.range.overlaps(&part)) {
                continue;
            }
            self.reserve(name, part)?;
        }
        Ok(())
    }
}

/// Fixes up the blob in `input`, writing the result to `out`. Returns the
/// fixed blob's length. `input` may be longer than the blob, and may be
/// shorter than its header's `totalsize` when only free space is cut off
/// (QEMU's blob claims 1 MB for about 9 KB of tree).
pub fn fixup(input: &[u8], out: &mut [u8], fixes: &Fixups<'_>) -> Result<usize, DtbError> {
    let used = used_extent(input)?;
    let capacity = out.len();
    let room = out.get_mut(..used).ok_or(DtbError::OutputTooSmall {
        needed: used,
        capacity,
    })?;
    room.copy_from_slice(&input[..used]);
    fixup_in_place(out, fixes)
}

/// Fixes up the blob at the start of `buf`, in place; `buf`'s length is
/// the room the fixed blob may take. On error `buf` is as it was.
pub fn fixup_in_place(buf: &mut [u8], fixes: &Fixups<'_>) -> Result<usize, DtbError> {
    let used = used_extent(buf)?;
    let original_size = header_word(buf, TOTALSIZE)?;
    // The reader wants `totalsize` to be the slice's length: drop the free
    // space after the last block (it carries nothing), put it back on error.
    set_header_word(buf, TOTALSIZE, used as u32);
    let result = fixed_blob(&buf[..used], fixes).and_then(|blob| {
        let capacity = buf.len();
        let dest = buf.get_mut(..blob.len()).ok_or(DtbError::OutputTooSmall {
            needed: blob.len(),
            capacity,
        })?;
        dest.copy_from_slice(&blob);
        Ok(blob.len())
    });
    if result.is_err() {
        set_header_word(buf, TOTALSIZE, original_size);
    }
    result
}

// Header fields (DTSpec 5.2): big-endian words at these byte offsets.
const HEADER_SIZE: usize = 40;
const FDT_MAGIC: u32 = 0xd00d_feed;
const MAGIC: usize = 0;
const TOTALSIZE: usize = 4;
const OFF_DT_STRUCT: usize = 8;
const OFF_DT_STRINGS: usize = 12;
const BOOT_CPUID_PHYS: usize = 28;
const SIZE_DT_STRINGS: usize = 32;
const SIZE_DT_STRUCT: usize = 36;

fn header_word(blob: &[u8], offset: usize) -> Result<u32, DtbError> {
    let word = blob.get(offset..offset + 4).ok_or(DtbError::Truncated {
        needed: HEADER_SIZE,
        available: blob.len(),
    })?;
    Ok(u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
}

/// Callers have checked that the header is there.
fn set_header_word(blob: &mut [u8], offset: usize, value: u32) {
    blob[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
}

/// Bytes from the header to the end of the last block: `totalsize` when
/// that fits `blob`, else the end of the structure or strings block,
/// whichever is later (the memory reservation block precedes both; the
/// reader checks that).
fn used_extent(blob: &[u8]) -> Result<usize, DtbError> {
    if header_word(blob, MAGIC)? != FDT_MAGIC {
        return Err(DtbError::Malformed);
    }
    let word = |offset| header_word(blob, offset).map(|w| w as usize);
    let total = word(TOTALSIZE)?;
    if total <= blob.len() {
        return Ok(total);
    }
    let struct_end = word(OFF_DT_STRUCT)?.saturating_add(word(SIZE_DT_STRUCT)?);
    let strings_end = word(OFF_DT_STRINGS)?.saturating_add(word(SIZE_DT_STRINGS)?);
    let used = struct_end.max(strings_end).max(HEADER_SIZE);
    if used > blob.len() {
        return Err(DtbError::Truncated {
            needed: used,
            available: blob.len(),
        });
    }
    Ok(used)
}

/// Parses `blob` (exactly one tree), applies `fixes`, serialises the result.
fn fixed_blob(blob: &[u8], fixes: &Fixups<'_>) -> Result<Vec<u8>, DtbError> {
    let fdt = Fdt::new(blob).map_err(|_| DtbError::Malformed)?;
    let mut tree = DeviceTree::from_fdt(&fdt);
    let boot_cpu = header_word(blob, BOOT_CPUID_PHYS)?;
    apply(&mut tree, fixes)?;
    let mut out = tree.to_dtb();
    // The writer always says CPU 0; keep the machine's boot CPU.
    set_header_word(&mut out, BOOT_CPUID_PHYS, boot_cpu);
    Ok(out)
}

fn property<T: dtoolkit::ToPropertyValue>(
    name: &str,
    value: T,
) -> Result<DeviceTreeProperty, DtbError> {
    // Only our own fixed names reach this; none is invalid.
    DeviceTreeProperty::new(name, value).map_err(|_| DtbError::Malformed)
}

fn apply(tree: &mut DeviceTree, fixes: &Fixups<'_>) -> Result<(), DtbError> {
    let root = &mut tree.root;
    let cells = Cells::of(root, Cells::SPEC_DEFAULT)?;

    // A `/psci` the machine wrote describes a conduit and function IDs of
    // its own (PSCI 0.1 style); root's PSCI replaces it whole.
    // (replaced where it stands, so that a second fixup changes nothing).
    let compatible: &[&str] = &["arm,psci-1.0", "arm,psci-0.2"];
    let psci = DeviceTreeNode::builder("psci")
        .map_err(|_| DtbError::Malformed)?
        .property(property("compatible", compatible)?)
        .property(property("method", "smc")?)
        .build();
    match root.child_mut("psci") {
        Some(node) => *node = psci,
        None => root.add_child(psci),
    }

    let cpus = root.child_mut("cpus").ok_or(DtbError::NoCpus)?;
    for cpu in cpus.children_mut() {
        let is_cpu = cpu
            .properties()
            .any(|p| p.name() == "device_type" && p.value() == b"cpu\0");
        if is_cpu {
            cpu.add_property(property("enable-method", "psci")?);
            // Spin-table's release address means nothing under PSCI.
            cpu.remove_property("cpu-release-addr");
        }
    }

    if fixes.reservation_count > 0 {
        let reserved = match root.child_mut("reserved-memory") {
            Some(node) => {
                // An existing node's children keep their encoding; ours use
                // its cells, which must match the root's for `ranges;`.
                if Cells::of(node, cells)? != cells {
                    return Err(DtbError::UnsupportedCells);
                }
                node
            }
            None => root.add_child_mut(
                DeviceTreeNode::builder("reserved-memory")
                    .map_err(|_| DtbError::Malformed)?
                    .property(property("#address-cells", cells.address)?)
                    .property(property("#size-cells", cells.size)?)
                    .property(property("ranges", &[] as &[u8])?)
                    .build(),
            ),
        };
        for r in fixes.reservations() {
            if r.range.size == 0 {
                return Err(DtbError::BadReservation);
            }
            let mut reg = Vec::new();
            cells.encode(&mut reg, r.range.base, r.range.size)?;
            let child = DeviceTreeNode::builder(format!("{}@{:x}", r.name, r.range.base))
                .map_err(|_| DtbError::BadReservation)?
                .property(property("reg", reg)?)
                .property(property("no-map", &[] as &[u8])?)
                .build();
            reserved.add_child(child);
        }
    }

    if fixes.bootargs.is_some() || fixes.initrd.is_some() {
        let chosen = match root.child_mut("chosen") {
            Some(node) => node,
            None => root.add_child_mut(DeviceTreeNode::new_unchecked(String::from("chosen"))),
        };
        if let Some(args) = fixes.bootargs {
            chosen.add_property(property("bootargs", args)?);
        }
        if let Some(initrd) = fixes.initrd {
            chosen.add_property(property("linux,initrd-start", initrd.base)?);
            chosen.add_property(property("linux,initrd-end", initrd.end())?);
        }
    }
    Ok(())
}

/// A node's `#address-cells` and `#size-cells` for its children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cells {
    address: u32,
    size: u32,
}

impl Cells {
    /// What a node without the properties means (DTSpec 2.3.5).
    const SPEC_DEFAULT: Cells = Cells {
        address: 2,
        size: 1,
    };

    fn of(node: &DeviceTreeNode, default: Cells) -> Result<Cells, DtbError> {
        let read = |name: &str, default: u32| -> Result<u32, DtbError> {
            match node.properties().find(|p| p.name() == name) {
                None => Ok(default),
                Some(p) => match <[u8; 4]>::try_from(p.value()) {
                    Ok(bytes) => Ok(u32::from_be_bytes(bytes)),
                    Err(_) => Err(DtbError::UnsupportedCells),
                },
            }
        };
        let cells = Cells {
            address: read("#address-cells", default.address)?,
            size: read("#size-cells", default.size)?,
        };
        if !(1..=2).contains(&cells.address) || !(1..=2).contains(&cells.size) {
            return Err(DtbError::UnsupportedCells);
        }
        Ok(cells)
    }

    /// Appends `<base size>` in these cells as big-endian bytes.
    fn encode(self, out: &mut Vec<u8>, base: u64, size: u64) -> Result<(), DtbError> {
        for (value, n) in [(base, self.address), (size, self.size)] {
            if n == 1 {
                let word = u32::try_from(value).map_err(|_| DtbError::BadReservation)?;
                out.extend_from_slice(&word.to_be_bytes());
            } else {
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
