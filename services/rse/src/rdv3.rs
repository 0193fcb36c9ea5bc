//! Neoverse RD-V3 facts for root's RSE link.

/// AP<->RSE root MHU (`NRD_CSS_AP_RSE_ROOT_MHU_BASE`,
/// `plat/arm/board/neoverse_rd/common/include/nrd3/nrd_css_def3.h`).
pub const AP_RSE_ROOT_MHU_BASE: u64 = 0x2AB4_0000;
/// `NRD_CSS_AP_RSE_ROOT_MHU_SIZE`: both frames.
pub const AP_RSE_ROOT_MHU_SIZE: u64 = 0x2_0000;
/// `MHU_V3_MBX_FRAME_OFFSET`.
pub const MHU_V3_MBX_FRAME_OFFSET: u64 = 0x1_0000;
/// `AP_RSE_ROOT_MHU_V3_PBX`: the AP -> RSE postbox frame.
pub const AP_RSE_ROOT_MHU_V3_PBX: u64 = AP_RSE_ROOT_MHU_BASE;
/// `AP_RSE_ROOT_MHU_V3_MBX`: the RSE -> AP mailbox frame.
pub const AP_RSE_ROOT_MHU_V3_MBX: u64 = AP_RSE_ROOT_MHU_BASE + MHU_V3_MBX_FRAME_OFFSET;

/// The RSE's embed limit on inputs plus outputs of one call: TF-M
/// `RSE_COMMS_PSA_EMBED_PAYLOAD_MAX_SIZE` = `RSE_COMMS_PAYLOAD_MAX_SIZE`
/// (0x40 + 0x1000 on rdv3, `platform/ext/target/arm/rse/neoverse_rd/rdv3/
/// config_tfm_target.h`) minus the 20 bytes of PSA header and embed
/// fields (`rse_comms_psa_protocol_embed.h`). The RSE copies all inputs
/// and outputs of an embedded call into one buffer of this size.
pub const RSE_EMBED_CAPACITY: usize = 0x40 + 0x1000 - 20;

/// Host memory the rdv3 RSE accepts in pointer-access calls: the AP shared
/// SRAM (TF-M `rdv3/sfcp/sfcp_permissions_hal.c`,
/// `comms_permissions_memory_check`; bounds from
/// `HOST_AP_SHARED_SRAM_PHYS_BASE/LIMIT`, `host_css_memory_map.h`).
pub const AP_SHARED_SRAM_BASE: u64 = 0x0;
pub const AP_SHARED_SRAM_LIMIT: u64 = 0xF_FFFF;
