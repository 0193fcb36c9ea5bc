//! The guest's realm IPA space. One 2 MB region of protected IPA holds all
//! of it, so the host needs one level-2 and one level-3 RTT for it:
//!
//! | IPA | what | how the host populates it |
//! |---|---|---|
//! | `0x4000_0000` | image: text, rodata, data (≤ 64 KB); entry at the start | RIPAS RAM, DATA_CREATE (measured) per image page |
//! | `0x4001_0000` | RAM (128 KB): bss (translation tables, REALM_CONFIG page, host-call buffers), then one 16 KB stack per REC | RIPAS RAM, DATA_CREATE_UNKNOWN |
//! | `0x4003_0000` | RIPAS test range (16 KB): RAM -> EMPTY -> RAM | RIPAS RAM, no granules |
//! | `0x4003_8000` | RIPAS change the host rejects (one page) | RIPAS RAM, no granule |
//! | `0x4004_0000` | a page whose RIPAS stays EMPTY: touching it is an SEA | nothing |
//! | `0x4005_0000` | a RAM page without a granule: the host maps one on the first touch | RIPAS RAM (RTT_INIT_RIPAS), DATA_CREATE_UNKNOWN on the fault |
//! | `UNPROTECTED + 0x0900_0000` | console: each byte stored is one character | emulated MMIO (writes) |
//! | `UNPROTECTED + 0x0900_1000` | magic register: reads return [`MAGIC`] | emulated MMIO (reads) |
//! | `UNPROTECTED + 0x0900_2000` | token port: each 8-byte store is 8 bytes of an attestation token | emulated MMIO (writes) |
//!
//! `[BASE, INIT_RIPAS_TOP)` is RIPAS RAM when the realm is created, and so
//! is `LAZY_PAGE`. The guest's stage 1 maps `[BASE, BASE + MAP_SIZE)` as
//! normal write-back memory and the two MMIO pages as device memory, each
//! identity (VA = IPA).
//!
//! This file is also compiled into the guest's build script (the linker
//! script) and read by nshost through the library: plain constants only.

pub const GRANULE: u64 = 0x1000;

/// IPA width of the realm; IPAs at or above [`UNPROTECTED`] are unprotected.
pub const S2SZ: u64 = 40;
pub const UNPROTECTED: u64 = 1 << (S2SZ - 1);

/// Where the image is linked and entered.
pub const BASE: u64 = 0x4000_0000;
/// Largest image (the linker checks it).
pub const IMAGE_SIZE: u64 = 0x1_0000;
/// RAM for bss and stacks, right after the image.
pub const RAM: u64 = BASE + IMAGE_SIZE;
pub const RAM_SIZE: u64 = 0x2_0000;
/// Stack per REC and the number of RECs the guest runs on.
pub const STACK_SIZE: u64 = 0x4000;
pub const CPUS: u64 = 2;

/// RIPAS RAM -> EMPTY -> RAM test range (no granules behind it).
pub const RIPAS_TEST: u64 = 0x4003_0000;
pub const RIPAS_TEST_SIZE: u64 = 0x4000;
/// A RIPAS change starting here is rejected by the host.
pub const REJECT_PAGE: u64 = 0x4003_8000;
/// `[BASE, INIT_RIPAS_TOP)` is RIPAS RAM from the start.
pub const INIT_RIPAS_TOP: u64 = 0x4004_0000;
/// RIPAS EMPTY for good: an access is a synchronous external abort.
pub const EMPTY_PAGE: u64 = 0x4004_0000;
/// RIPAS RAM without a granule until the guest touches it.
pub const LAZY_PAGE: u64 = 0x4005_0000;
/// The protected range the guest maps (and the host covers with RTTs).
pub const MAP_SIZE: u64 = 0x20_0000;

/// Console: emulated MMIO, one character per byte stored.
pub const CONSOLE: u64 = UNPROTECTED + 0x0900_0000;
/// Magic register: emulated MMIO, reads return [`MAGIC`] (cut to the access size).
pub const MAGIC_REG: u64 = CONSOLE + 0x1000;
/// Token port: emulated MMIO, each 8-byte store carries 8 bytes (little
/// endian) of the attestation token the guest hands its host.
pub const TOKEN_PORT: u64 = CONSOLE + 0x2000;
/// "RAMPART!" as a little-endian u64.
pub const MAGIC: u64 = 0x2154_5241_504d_4152;
