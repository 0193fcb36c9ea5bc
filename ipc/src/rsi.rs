//! The RSI ABI (RMM specification 1.0, Arm DEN0137 1.0-REL0, chapter B5):
//! function IDs, status codes and the structures a realm shares with the
//! RMM in its own memory (RsiRealmConfig, RsiHostCall).

pub const VERSION: u32 = 0xc400_0190;
pub const FEATURES: u32 = 0xc400_0191;
pub const MEASUREMENT_READ: u32 = 0xc400_0192;
pub const MEASUREMENT_EXTEND: u32 = 0xc400_0193;
pub const ATTESTATION_TOKEN_INIT: u32 = 0xc400_0194;
pub const ATTESTATION_TOKEN_CONTINUE: u32 = 0xc400_0195;
pub const REALM_CONFIG: u32 = 0xc400_0196;
pub const IPA_STATE_SET: u32 = 0xc400_0197;
pub const IPA_STATE_GET: u32 = 0xc400_0198;
pub const HOST_CALL: u32 = 0xc400_0199;

/// RSI ABI version implemented: 1.0 ([30:16] major, [15:0] minor).
pub const ABI_VERSION: u64 = 1 << 16;

/// RsiCommandReturnCode (B5.4.2).
pub const SUCCESS: u64 = 0;
pub const ERROR_INPUT: u64 = 1;
pub const ERROR_STATE: u64 = 2;
pub const INCOMPLETE: u64 = 3;
pub const ERROR_UNKNOWN: u64 = 4;

/// RsiRipas (B5.4.7) and RmiRipas share their encoding.
pub const RIPAS_EMPTY: u64 = 0;
pub const RIPAS_RAM: u64 = 1;
pub const RIPAS_DESTROYED: u64 = 2;

/// RsiRipasChangeFlags bit 0: a DESTROYED granule may change RIPAS.
pub const CHANGE_DESTROYED: u64 = 1;

/// RsiResponse (B5.4.8): the host's answer to a RIPAS change request.
pub const ACCEPT: u64 = 0;
pub const REJECT: u64 = 1;

/// Measurement slots: 0 is the RIM, 1-4 the REMs.
pub const MEASUREMENT_SLOTS: u64 = 5;
/// Largest RSI_MEASUREMENT_EXTEND input, in bytes (X3-X10).
pub const MAX_EXTEND_SIZE: u64 = 64;

/// RsiRealmConfig (B5.4.5), written by RSI_REALM_CONFIG into a granule of
/// the realm's protected memory: byte offsets.
pub mod realm_config {
    /// IPA width in bits (UInt64).
    pub const IPA_WIDTH: usize = 0x0;
    /// RsiHashAlgorithm (UInt8): 0 SHA-256, 1 SHA-512.
    pub const HASH_ALGO: usize = 0x8;
    /// Realm Personalization Value (64 bytes).
    pub const RPV: usize = 0x200;
}

/// RsiHostCall (B5.4.6): 256 bytes, 256-byte aligned, in protected memory.
pub mod host_call {
    pub const SIZE: u64 = 0x100;
    /// Immediate value (UInt16, read as 32 bits).
    pub const IMM: usize = 0x0;
    /// GPRs X0-X30 exchanged with the host.
    pub const GPRS: usize = 0x8;
    pub const NUM_GPRS: usize = 31;
}
