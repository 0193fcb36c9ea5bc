//! The facts a board supplies to reach its SCP, and RD-V3's.

use crate::protocol::SYSTEM_POWER_FORCEFUL;

/// Where a core's power domain lives: which SCMI channel, which domain id.
///
/// TF-A packs both in one word of `plat_css_core_pos_to_scmi_dmn_id_map`
/// (`include/plat/arm/css/common/css_pm.h`: channel in `[31:16]`, domain in
/// `[15:0]`, `SET_SCMI_CHANNEL_ID`/`SET_SCMI_DOMAIN_ID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainMapEntry {
    /// SCMI channel index.
    pub channel: u16,
    /// SCMI power domain id on that channel.
    pub domain: u16,
}

impl DomainMapEntry {
    /// An entry on channel `channel` for domain `domain`.
    pub const fn new(channel: u16, domain: u16) -> Self {
        Self { channel, domain }
    }

    /// Splits TF-A's packed word.
    pub const fn from_packed(word: u32) -> Self {
        Self {
            channel: (word >> 16) as u16,
            domain: word as u16,
        }
    }

    /// TF-A's packed word.
    pub const fn packed(self) -> u32 {
        ((self.channel as u32) << 16) | self.domain as u32
    }
}

/// How a board reaches its SCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Physical base of the SMT mailbox.
    pub shared_mem_base: u64,
    /// Bytes reserved for it (this crate touches the first
    /// [`crate::smt::WINDOW_BYTES_USED`]).
    pub shared_mem_size: u64,
    /// Physical base of the MHUv3 postbox frame that rings the SCP.
    pub doorbell_frame_base: u64,
    /// Bytes of that frame.
    pub doorbell_frame_size: u64,
    /// Postbox doorbell channel.
    pub doorbell_channel: u8,
    /// Flag bits raised in PDBCW_SET (TF-A's `db_modify_mask`).
    pub doorbell_set_mask: u32,
    /// Bits of PDBCW_SET read back and rewritten (TF-A's
    /// `db_preserve_mask`).
    pub doorbell_preserve_mask: u32,
    /// Index of this channel among the board's SCMI channels, as the
    /// domain map names them.
    pub scmi_channel: u16,
    /// Core index (TF-A's linear `plat_core_pos`) to power domain.
    pub core_domains: &'static [DomainMapEntry],
    /// Highest PSCI power level the SCP manages per core
    /// (`PLAT_MAX_PWR_LVL`): 1 = core and cluster.
    pub max_power_level: u8,
    /// Cores per cluster; with 1 a cluster always powers off with its core.
    pub cpus_per_cluster: u8,
    /// SYSTEM_POWER_STATE_SET flags for shutdown and reset.
    pub system_power_flags: u32,
}

impl Config {
    /// The power domain of core `core`, if the map has it.
    pub fn domain_of(&self, core: usize) -> Option<DomainMapEntry> {
        self.core_domains.get(core).copied()
    }
}

/// RD-V3 core-to-domain map: 16 cores on channel 0, domain id = core index
/// (`plat_css_core_pos_to_scmi_dmn_id_map`, `NRD_PLATFORM_VARIANT == 0`
/// branch of `plat/arm/board/neoverse_rd/platform/rdv3/rdv3_topology.c`).
pub const RDV3_CORE_DOMAINS: [DomainMapEntry; 16] = {
    let mut map = [DomainMapEntry::new(0, 0); 16];
    let mut core = 0;
    while core < map.len() {
        map[core] = DomainMapEntry::new(0, core as u16);
        core += 1;
    }
    map
};

/// Neoverse RD-V3 (FVP), TF-A v2.15.0 defaults: `NRD_PLATFORM_VARIANT` 0,
/// `NRD_CHIP_COUNT` 1 (`plat/arm/board/neoverse_rd/common/nrd-common.mk`).
pub const RDV3: Config = Config {
    // CSS_SCMI_PAYLOAD_BASE = PLAT_ARM_SDS_MEM_BASE + PLAT_ARM_SDS_MEM_SIZE_MAX
    // (include/plat/arm/css/common/css_def.h) = ARM_SHARED_RAM_BASE + 0xDC0;
    // ARM_SHARED_RAM_BASE = NRD_CSS_BL1_RO_BASE + NRD_CSS_BL1_RO_SIZE
    // = 0x0 + 0x19000 (nrd_plat_arm_def3.h, nrd_css_fw_def3.h, nrd_css_def3.h).
    shared_mem_base: 0x0001_9DC0,
    // CSS_SCMI_PAYLOAD_SIZE_MAX (css_def.h).
    shared_mem_size: 0x100,
    // PLAT_CSS_MHU_BASE = NRD_CSS_AP_SCP_SECURE_MHU_BASE
    // (nrd_plat_arm_def3.h, nrd_css_def3.h).
    doorbell_frame_base: 0x2A92_0000,
    // NRD_CSS_AP_SCP_SECURE_MHU_SIZE (nrd_css_def3.h).
    doorbell_frame_size: 0x2_0000,
    // plat3_rd_scmi_info[0].db_reg_addr = PLAT_CSS_MHU_BASE
    // + MHU_V3_SENDER_REG_SET(0) (nrd_bl31_setup.c).
    doorbell_channel: 0,
    // plat3_rd_scmi_info[0].db_modify_mask (nrd_bl31_setup.c).
    doorbell_set_mask: 0x1,
    // plat3_rd_scmi_info[0].db_preserve_mask (nrd_bl31_setup.c).
    doorbell_preserve_mask: 0xFFFF_FFFE,
    // PLAT_ARM_SCMI_CHANNEL_COUNT = NRD_CHIP_COUNT = 1: only channel 0.
    scmi_channel: 0,
    core_domains: &RDV3_CORE_DOMAINS,
    // PLAT_MAX_PWR_LVL = ARM_PWR_LVL1 (nrd_plat_arm_def3.h).
    max_power_level: 1,
    // NRD_MAX_CPUS_PER_CLUSTER (platform/rdv3/include/platform_def.h).
    cpus_per_cluster: 1,
    // CSS_SCP_SYSTEM_OFF_REQ_FLAG: CSS_SCP_SYSTEM_OFF_GRACEFUL unset for
    // RD-V3, so SCMI_SYS_PWR_FORCEFUL_REQ (css_pm_scmi.c).
    system_power_flags: SYSTEM_POWER_FORCEFUL,
};
