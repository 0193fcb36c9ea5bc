//! What TF-A's BL2 hands to BL31: where the RMM and the Normal-world image
//! (BL33) were loaded and how to enter them. Root reads it on boards whose
//! root replaces BL31 ([`crate::RootBoot::Bl31`]).
//!
//! Two formats reach BL31, told apart by x1 (the firmware handoff register
//! convention):
//! - **bl_params** (TF-A's default, and what RD-V3 uses in v2.15): x0 is a
//!   `bl_params_t` whose `head` starts a linked list of
//!   `bl_params_node_t {image_id, image_info*, ep_info*, next*}`
//!   (`include/export/common/bl_common_exp.h`, `ep_info_exp.h`,
//!   `param_header_exp.h`; arm_bl31_setup.c picks BL33_IMAGE_ID 5 and
//!   RMM_IMAGE_ID 35 out of it).
//! - **transfer list** (TRANSFER_LIST=1): x1 is the signature 0x4a0fb10b
//!   with register convention version 1 in bits [39:32], x3 the list; each
//!   `TL_TAG_EXEC_EP_INFO64` (0x102) entry holds one `entry_point_info_t`,
//!   picked by its security state (Arm Firmware Handoff specification,
//!   TF-A's libtl `transfer_list.h`).
//!
//! Every pointer is a physical address BL2 chose; root reads only inside
//! the board's handoff range, bounds every walk, and rejects anything
//! malformed with an error it can print, so a bad handoff is a boot error
//! in the trace, never a fault or a hang.

use crate::{BoardInfo, Range};

/// `param_header_t.type` values (`param_header_exp.h`).
pub const PARAM_EP: u8 = 0x01;
pub const PARAM_IMAGE_BINARY: u8 = 0x02;
pub const PARAM_BL_PARAMS: u8 = 0x05;
/// `param_header_t.version`: VERSION_2 is what bl_params carry since TF-A 1.5.
pub const PARAM_VERSION_1: u8 = 0x01;
pub const PARAM_VERSION_2: u8 = 0x02;

/// Image IDs (`tbbr_img_def_exp.h`).
pub const BL31_IMAGE_ID: u32 = 3;
pub const BL32_IMAGE_ID: u32 = 4;
pub const BL33_IMAGE_ID: u32 = 5;
pub const RMM_IMAGE_ID: u32 = 35;

/// Security state in `param_header_t.attr` (`ep_info_exp.h`: EP_SECURITY_MASK
/// 0x21; bit 5 is the Realm bit RME added).
pub const EP_SECURITY_MASK: u32 = 0x21;
pub const EP_SECURE: u32 = 0x0;
pub const EP_NON_SECURE: u32 = 0x1;
pub const EP_REALM: u32 = 0x21;

/// `entry_point_info_t` (AArch64): header, pc at 0x08, spsr at 0x10, the
/// eight argument registers from ENTRY_POINT_INFO_ARGS_OFFSET 0x18.
pub const EP_INFO_SIZE: usize = 0x58;
const EP_PC: u64 = 0x08;
const EP_SPSR: u64 = 0x10;
const EP_ARGS: u64 = 0x18;
/// `image_info_t`: header, image_base at 0x08, image_size (u32) at 0x10.
const IMAGE_BASE: u64 = 0x08;
const IMAGE_SIZE: u64 = 0x10;
/// `bl_params_node_t`: image_id (u32, padded), then three pointers.
const NODE_IMAGE_INFO: u64 = 0x08;
const NODE_EP_INFO: u64 = 0x10;
const NODE_NEXT: u64 = 0x18;

/// Transfer list facts (Firmware Handoff spec; libtl `transfer_list.h`).
pub const TL_SIGNATURE: u32 = 0x4a0f_b10b;
pub const TL_REGISTER_CONVENTION: u64 = 1;
/// x1 on entry when a transfer list is handed over (AArch64 convention).
pub const TL_HANDOFF_X1: u64 = TL_SIGNATURE as u64 | (TL_REGISTER_CONVENTION << 32);
pub const TL_VERSION: u8 = 1;
pub const TL_HEADER_SIZE: u8 = 0x18;
pub const TL_FLAG_HAS_CHECKSUM: u32 = 1 << 0;
pub const TL_ENTRY_HEADER_SIZE: u8 = 0x08;
/// Entry headers start on 8-byte boundaries (TRANSFER_LIST_GRANULE).
pub const TL_GRANULE: u64 = 8;
pub const TL_TAG_EMPTY: u32 = 0;
pub const TL_TAG_EXEC_EP_INFO64: u32 = 0x102;

/// More nodes or entries than this means a loop or garbage: BL2 hands over
/// a handful (BL32, RMM, BL33, configs).
pub const MAX_NODES: usize = 32;

/// Read access to the memory that holds the handoff. Root implements it
/// over its read-only mapping of the board's handoff range.
pub trait HandoffMemory {
    /// Fills `buf` from physical address `addr`, or fails when any byte of
    /// it is outside the readable handoff memory.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), HandoffError>;

    fn read_u32(&self, addr: u64) -> Result<u32, HandoffError> {
        let mut b = [0; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn read_u64(&self, addr: u64) -> Result<u64, HandoffError> {
        let mut b = [0; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// A window of memory as bytes at a physical base: what root maps, and
/// what tests build handoffs in.
pub struct Window<'a> {
    pub base: u64,
    pub bytes: &'a [u8],
}

impl HandoffMemory for Window<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), HandoffError> {
        let range = Range::new(self.base, self.bytes.len() as u64);
        if !range.contains_range(addr, buf.len() as u64) {
            return Err(HandoffError::OutsideHandoffMemory(addr));
        }
        let at = (addr - self.base) as usize;
        buf.copy_from_slice(&self.bytes[at..at + buf.len()]);
        Ok(())
    }
}

/// Which format BL2 used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Format {
    BlParams,
    TransferList,
}

/// Which image an entry point is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Image {
    Rmm,
    Bl33,
}

/// One image's entry point as BL2 described it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EntryPoint {
    pub pc: u64,
    pub spsr: u32,
    /// `param_header_t.attr`: security state, endianness, ...
    pub attr: u32,
    pub args: [u64; 8],
    /// Where the image was loaded (bl_params carry an `image_info_t`; a
    /// transfer list does not).
    pub image: Option<Range>,
}

/// The handoff, parsed and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Handoff {
    pub format: Format,
    pub rmm: EntryPoint,
    pub bl33: EntryPoint,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HandoffError {
    /// x0 is zero and x1 does not announce a transfer list.
    NoParams,
    /// A structure (or a byte of it) lies outside the handoff memory.
    OutsideHandoffMemory(u64),
    /// A structure is not 8-byte aligned.
    Misaligned(u64),
    /// A `param_header_t` of the wrong type or version: (address, type, version).
    BadHeader(u64, u8, u8),
    /// The list does not end within [`MAX_NODES`] nodes (a loop or garbage).
    TooManyNodes,
    /// The image's entry point appears twice.
    Duplicate(Image),
    /// The image has no entry point in the handoff.
    Missing(Image),
    /// The image's entry point has the wrong security state: (image, attr).
    WrongSecurityState(Image, u32),
    /// The transfer list has the wrong signature, version or header size.
    BadTransferList,
    /// The transfer list's used size is smaller than its header or larger
    /// than its maximum size.
    BadTransferListSize,
    /// The transfer list's checksum does not sum to zero.
    BadChecksum,
    /// An entry runs past the list's used size: its address.
    BadEntry(u64),
    /// The image does not start at its region's base or does not fit it:
    /// (image, pc).
    BadEntryAddress(Image, u64),
    /// The image lies outside where it must be loaded.
    BadImageRange(Image),
}

/// Parses BL2's handoff from the registers BL31 was entered with.
pub fn parse(args: [u64; 4], memory: &impl HandoffMemory) -> Result<Handoff, HandoffError> {
    if args[1] == TL_HANDOFF_X1 {
        parse_transfer_list(args[3], memory)
    } else if args[0] != 0 {
        parse_bl_params(args[0], memory)
    } else {
        Err(HandoffError::NoParams)
    }
}

fn aligned(addr: u64) -> Result<u64, HandoffError> {
    if addr.is_multiple_of(8) {
        Ok(addr)
    } else {
        Err(HandoffError::Misaligned(addr))
    }
}

/// Reads a `param_header_t` and checks its type and version.
fn header(
    memory: &impl HandoffMemory,
    addr: u64,
    ty: u8,
    versions: &[u8],
) -> Result<u32, HandoffError> {
    let mut h = [0; 8];
    memory.read(aligned(addr)?, &mut h)?;
    if h[0] != ty || !versions.contains(&h[1]) {
        return Err(HandoffError::BadHeader(addr, h[0], h[1]));
    }
    Ok(u32::from_le_bytes([h[4], h[5], h[6], h[7]]))
}

fn entry_point(memory: &impl HandoffMemory, addr: u64) -> Result<EntryPoint, HandoffError> {
    let attr = header(memory, addr, PARAM_EP, &[PARAM_VERSION_1, PARAM_VERSION_2])?;
    let mut args = [0; 8];
    for (i, arg) in args.iter_mut().enumerate() {
        *arg = memory.read_u64(addr + EP_ARGS + 8 * i as u64)?;
    }
    Ok(EntryPoint {
        pc: memory.read_u64(addr + EP_PC)?,
        spsr: memory.read_u32(addr + EP_SPSR)?,
        attr,
        args,
        image: None,
    })
}

fn image_info(memory: &impl HandoffMemory, addr: u64) -> Result<Range, HandoffError> {
    header(
        memory,
        addr,
        PARAM_IMAGE_BINARY,
        &[PARAM_VERSION_1, PARAM_VERSION_2],
    )?;
    Ok(Range::new(
        memory.read_u64(addr + IMAGE_BASE)?,
        u64::from(memory.read_u32(addr + IMAGE_SIZE)?),
    ))
}

/// Records `ep` as `image`'s entry point after checking its security state.
fn record(slot: &mut Option<EntryPoint>, image: Image, ep: EntryPoint) -> Result<(), HandoffError> {
    let expected = match image {
        Image::Rmm => EP_REALM,
        Image::Bl33 => EP_NON_SECURE,
    };
    if ep.attr & EP_SECURITY_MASK != expected {
        return Err(HandoffError::WrongSecurityState(image, ep.attr));
    }
    if slot.is_some() {
        return Err(HandoffError::Duplicate(image));
    }
    *slot = Some(ep);
    Ok(())
}

fn complete(
    format: Format,
    rmm: Option<EntryPoint>,
    bl33: Option<EntryPoint>,
) -> Result<Handoff, HandoffError> {
    Ok(Handoff {
        format,
        rmm: rmm.ok_or(HandoffError::Missing(Image::Rmm))?,
        bl33: bl33.ok_or(HandoffError::Missing(Image::Bl33))?,
    })
}

fn parse_bl_params(addr: u64, memory: &impl HandoffMemory) -> Result<Handoff, HandoffError> {
    header(memory, addr, PARAM_BL_PARAMS, &[PARAM_VERSION_2])?;
    let mut node = memory.read_u64(addr + 8)?;
    let (mut rmm, mut bl33) = (None, None);
    for _ in 0..MAX_NODES {
        if node == 0 {
            return complete(Format::BlParams, rmm, bl33);
        }
        let image_id = memory.read_u32(aligned(node)?)?;
        let image = match image_id {
            RMM_IMAGE_ID => Some(Image::Rmm),
            BL33_IMAGE_ID => Some(Image::Bl33),
            // BL32 and anything else BL2 lists: not root's to run.
            _ => None,
        };
        if let Some(image) = image {
            let mut ep = entry_point(memory, memory.read_u64(node + NODE_EP_INFO)?)?;
            let info = memory.read_u64(node + NODE_IMAGE_INFO)?;
            if info != 0 {
                ep.image = Some(image_info(memory, info)?);
            }
            let slot = match image {
                Image::Rmm => &mut rmm,
                Image::Bl33 => &mut bl33,
            };
            record(slot, image, ep)?;
        }
        node = memory.read_u64(node + NODE_NEXT)?;
    }
    Err(HandoffError::TooManyNodes)
}

fn parse_transfer_list(addr: u64, memory: &impl HandoffMemory) -> Result<Handoff, HandoffError> {
    let mut h = [0u8; TL_HEADER_SIZE as usize];
    memory.read(aligned(addr)?, &mut h)?;
    let word = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let (signature, version, header_size) = (word(0), h[5], h[6]);
    if signature != TL_SIGNATURE || version == 0 || header_size != TL_HEADER_SIZE {
        return Err(HandoffError::BadTransferList);
    }
    let (size, max_size, flags) = (u64::from(word(8)), u64::from(word(12)), word(16));
    if size < u64::from(TL_HEADER_SIZE) || size > max_size {
        return Err(HandoffError::BadTransferListSize);
    }
    if flags & TL_FLAG_HAS_CHECKSUM != 0 {
        let mut sum = 0u8;
        let mut chunk = [0u8; 64];
        let mut at = 0;
        while at < size {
            let n = (size - at).min(chunk.len() as u64) as usize;
            memory.read(addr + at, &mut chunk[..n])?;
            sum = chunk[..n].iter().fold(sum, |s, b| s.wrapping_add(*b));
            at += n as u64;
        }
        if sum != 0 {
            return Err(HandoffError::BadChecksum);
        }
    }
    let end = addr + size;
    let mut entry = addr + u64::from(TL_HEADER_SIZE);
    let (mut rmm, mut bl33) = (None, None);
    for _ in 0..MAX_NODES {
        entry = entry.next_multiple_of(TL_GRANULE);
        if entry >= end {
            return complete(Format::TransferList, rmm, bl33);
        }
        let tag_and_size = memory.read_u32(entry)?;
        let tag = tag_and_size & 0x00ff_ffff;
        let header_size = u64::from(tag_and_size >> 24);
        let data_size = u64::from(memory.read_u32(entry + 4)?);
        let data = entry + header_size;
        if header_size < u64::from(TL_ENTRY_HEADER_SIZE) || data + data_size > end {
            return Err(HandoffError::BadEntry(entry));
        }
        if tag == TL_TAG_EXEC_EP_INFO64 {
            if data_size < EP_INFO_SIZE as u64 {
                return Err(HandoffError::BadEntry(entry));
            }
            let ep = entry_point(memory, data)?;
            match ep.attr & EP_SECURITY_MASK {
                EP_REALM => record(&mut rmm, Image::Rmm, ep)?,
                EP_NON_SECURE => record(&mut bl33, Image::Bl33, ep)?,
                // A secure payload (BL32): not root's to run.
                _ => {}
            }
        }
        entry = data + data_size;
    }
    Err(HandoffError::TooManyNodes)
}

impl Handoff {
    /// Checks the entry points against the board: the RMM starts at the
    /// base of the RMM region and its image stays clear of the shared
    /// page; BL33 starts in a DRAM bank outside the RMM region.
    pub fn check(&self, board: &BoardInfo) -> Result<(), HandoffError> {
        let rmm_room = Range::new(
            board.rmm.base,
            board.rmm_shared_page.saturating_sub(board.rmm.base),
        );
        if self.rmm.pc != board.rmm.base {
            return Err(HandoffError::BadEntryAddress(Image::Rmm, self.rmm.pc));
        }
        if let Some(image) = self.rmm.image
            && !rmm_room.contains_range(image.base, image.size)
        {
            return Err(HandoffError::BadImageRange(Image::Rmm));
        }
        let pc = self.bl33.pc;
        if board.dram_bank_of(pc).is_none() || board.rmm.contains(pc) {
            return Err(HandoffError::BadEntryAddress(Image::Bl33, pc));
        }
        if let Some(image) = self.bl33.image {
            let in_bank = board
                .dram_bank_of(image.base)
                .is_some_and(|bank| bank.contains_range(image.base, image.size));
            if !in_bank || image.overlaps(&board.rmm) {
                return Err(HandoffError::BadImageRange(Image::Bl33));
            }
        }
        Ok(())
    }
}
