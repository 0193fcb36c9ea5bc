//! Arm Neoverse RD-V3 fixed virtual platform (`FVP_RD_V3`), platform variant
//! 0 with one chip, laid out as TF-A v2.15.0 (`PLAT=rdv3`, ENABLE_RME)
//! and TF-RMM (`rdv3_defcfg`) lay it out, so that our `root` drops in for
//! TF-A's BL31 and our `realm` for TF-RMM inside TF-A's FIP.
//!
//! Boot: the RSE loads TF-A's BL1 into the AP's trusted SRAM; BL1 loads BL2
//! from the FIP in NOR flash; BL2 runs at EL3 (RME builds), builds and
//! enables the GPT, loads BL31 (root), the RMM (realm) and BL33 and enters
//! root with `bl_params` in x0. Warm boots enter BL1 at the reset vector,
//! which jumps to the address in the trusted mailbox.
//!
//! Every value names its source. Paths are TF-A v2.15.0 unless marked
//! TF-RMM; `nrd3/` is `plat/arm/board/neoverse_rd/common/include/nrd3/`,
//! `rdv3/` is `plat/arm/board/neoverse_rd/platform/rdv3/`. Build-time
//! settings that the values depend on: NRD_PLATFORM_VARIANT=0 and
//! NRD_CHIP_COUNT=1 (`common/nrd-common.mk`), CSS_USE_SCMI_SDS_DRIVER=1
//! (same file), TRANSFER_LIST=0, RESET_TO_BL31=0, ARM_GPT_SUPPORT=0
//! (`make_helpers/defaults.mk`, `plat/arm/common/arm_common.mk`).
#![no_std]

use rampart_board::{
    AttestationSource, Bl31Boot, BoardInfo, Gic, GpcSmmu, Gpi, GptConfig, PasRegion, PowerControl,
    Range, RmmTrace, RootBoot, RootLayout, RseMailbox, Topology, Uart,
};

const KB: u64 = 1 << 10;
const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;

/// The TF-A release this layout is taken from; BL1, BL2 and the FIP that
/// carry our images are built from it.
pub const TFA_VERSION: &str = "v2.15.0";
/// TF-RMM's default config for this platform (TF-RMM `configs/`), the same
/// in tf-rmm-v0.8.0 and main.
pub const TF_RMM_CONFIG: &str = "rdv3_defcfg";

// ---------------------------------------------------------------------------
// Topology
// ---------------------------------------------------------------------------

/// `rdv3/include/platform_def.h`: PLAT_ARM_CLUSTER_COUNT (variant 0).
pub const CLUSTER_COUNT: usize = 16;
/// `rdv3/include/platform_def.h`: NRD_MAX_CPUS_PER_CLUSTER.
pub const CPUS_PER_CLUSTER: usize = 1;
/// `rdv3/include/platform_def.h`: NRD_MAX_PE_PER_CPU (one thread per core).
pub const PE_PER_CPU: usize = 1;
/// `nrd3/nrd_plat_arm_def3.h`: PLATFORM_CORE_COUNT = chips * clusters *
/// cpus per cluster * PEs per cpu = 1 * 16 * 1 * 1.
pub const CORE_COUNT: usize = CLUSTER_COUNT * CPUS_PER_CLUSTER * PE_PER_CPU;

// ---------------------------------------------------------------------------
// Trusted SRAM (1 MB at 0; TF-A calls it the CSS shared SRAM)
// ---------------------------------------------------------------------------

/// `nrd3/nrd_css_def3.h`: NRD_CSS_SHARED_SRAM_BASE;
/// `rdv3/include/platform_def.h`: NRD_CSS_SHARED_SRAM_SIZE (1 MB).
pub const TRUSTED_SRAM: Range = Range::new(0, MB);
/// BL1 code and read-only data at the reset vector.
/// `nrd3/nrd_css_fw_def3.h`: NRD_CSS_BL1_RO_BASE, NRD_CSS_BL1_RO_SIZE.
pub const BL1_RO: Range = Range::new(TRUSTED_SRAM.base, 0x1_9000);
/// Page shared with the SCP: SDS at its base, the SCMI payload after it,
/// the trusted mailbox in its last 8 bytes.
/// `nrd3/nrd_plat_arm_def3.h`: ARM_SHARED_RAM_BASE (= BL1_RO_LIMIT),
/// ARM_SHARED_RAM_SIZE (4 KB).
pub const ARM_SHARED_RAM: Range = Range::new(BL1_RO.base + BL1_RO.size, 4 * KB);
/// `include/plat/arm/css/common/css_def.h`: PLAT_ARM_SDS_MEM_BASE
/// (= ARM_SHARED_RAM_BASE), PLAT_ARM_SDS_MEM_SIZE_MAX (0xDC0).
pub const SDS: Range = Range::new(ARM_SHARED_RAM.base, 0xdc0);
/// SCMI channel memory for the AP<->SCP secure channel.
/// `css_def.h`: CSS_SCMI_PAYLOAD_BASE (= SDS end), CSS_SCMI_PAYLOAD_SIZE_MAX.
pub const SCMI_PAYLOAD: Range = Range::new(SDS.base + SDS.size, 0x100);
/// Warm-boot mailbox BL1 reads at reset (zero: cold boot).
/// `css_def.h`: PLAT_ARM_TRUSTED_MAILBOX_BASE = ARM_SHARED_RAM_BASE +
/// ARM_SHARED_RAM_SIZE - 8 (the CSS_USE_SCMI_SDS_DRIVER case).
pub const TRUSTED_MAILBOX: u64 = ARM_SHARED_RAM.base + ARM_SHARED_RAM.size - 8;

/// L0 GPT that BL2 builds, at the top of trusted SRAM.
/// `nrd3/nrd_plat_arm_def3.h`: ARM_L0_GPT_BASE, ARM_L0_GPT_SIZE (128 KB).
pub const L0_GPT: Range = Range::new(TRUSTED_SRAM.base + TRUSTED_SRAM.size - 128 * KB, 128 * KB);
/// Trusted SRAM left for boot images.
/// `nrd3/nrd_plat_arm_def3.h`: ARM_BL_RAM_BASE (= shared RAM end),
/// ARM_BL_RAM_SIZE (up to ARM_L0_GPT_BASE).
pub const BL_RAM: Range = Range::new(
    ARM_SHARED_RAM.base + ARM_SHARED_RAM.size,
    L0_GPT.base - (ARM_SHARED_RAM.base + ARM_SHARED_RAM.size),
);
/// FW_CONFIG (loaded by BL1) plus the BL2->BL31 parameter area; BL31 maps
/// exactly this as ARM_MAP_BL_CONFIG_REGION.
/// `nrd3/nrd_plat_arm_def3.h`: ARM_BL_RAM_BASE to ARM_FW_CONFIGS_LIMIT
/// (ARM_FW_CONFIGS_SIZE = 2 pages).
pub const FW_CONFIGS: Range = Range::new(BL_RAM.base, 2 * 4 * KB);
/// FW_CONFIG DTB, passed to BL31 in x1 (`common/nrd_image_load.c`).
/// `nrd3/nrd_plat_arm_def3.h`: ARM_FW_CONFIG_BASE = ARM_BL_RAM_BASE +
/// sizeof(meminfo_t) (16 bytes), ARM_FW_CONFIG_LIMIT = base + 1.5 pages.
pub const FW_CONFIG: Range = Range::new(BL_RAM.base + 16, 0x1800 - 16);
/// Where BL2 copies its image descriptors and `bl_params` before it jumps
/// to BL31, so that BL31's NOBITS may overlay BL2 (x0 points in here).
/// `nrd3/nrd_plat_arm_def3.h`: ARM_BL2_MEM_DESC_BASE (= ARM_FW_CONFIG_LIMIT),
/// ARM_BL2_MEM_DESC_LIMIT (half a page); `plat/arm/common/arm_image_load.c`.
pub const BL2_MEM_DESC: Range = Range::new(BL_RAM.base + 0x1800, 0x800);
/// TB_FW_CONFIG load address and max size (`rdv3/fdts/rdv3_fw_config.dts`:
/// tb_fw-config).
pub const TB_FW_CONFIG: Range = Range::new(0x1_f300, 0x200);
/// TOS_FW_CONFIG load address and max size, used with an SPMC only
/// (`rdv3/fdts/rdv3_fw_config.dts`: tos_fw-config).
pub const TOS_FW_CONFIG: Range = Range::new(0x1_f500, 0x1000);

/// `nrd3/nrd_plat_arm_def3.h`: PLAT_ARM_MAX_BL1_RW_SIZE (=
/// `nrd3/nrd_css_fw_def3.h`: NRD_CSS_BL1_RW_SIZE, 64 KB); BL1_RW_BASE,
/// BL1_RW_LIMIT (top of ARM_BL_RAM).
pub const BL1_RW: Range = Range::new(BL_RAM.base + BL_RAM.size - 64 * KB, 64 * KB);
/// `nrd3/nrd_plat_arm_def3.h`: BL2_BASE, BL2_LIMIT (= BL1_RW_BASE);
/// PLAT_ARM_MAX_BL2_SIZE (= `nrd3/nrd_css_fw_def3.h`: NRD_CSS_BL2_SIZE,
/// 0x30000, one chip).
pub const BL2: Range = Range::new(BL1_RW.base - 0x3_0000, 0x3_0000);
/// `nrd3/nrd_css_fw_def3.h`: NRD_CSS_BL31_SIZE (116 KB): BL31's PROGBITS
/// budget below BL2.
pub const BL31_PROGBITS_SIZE: u64 = 116 * KB;
/// `nrd3/nrd_plat_arm_def3.h`: PLAT_ARM_MAX_BL31_SIZE = NRD_CSS_BL31_SIZE +
/// PLAT_ARM_MAX_BL2_SIZE + PLAT_ARM_MAX_BL1_RW_SIZE (BL31's NOBITS overlay
/// BL2 and BL1-RW).
pub const BL31_MAX_SIZE: u64 = BL31_PROGBITS_SIZE + BL2.size + BL1_RW.size;
/// BL31's region, root's RAM (code, data, stacks, tables).
/// `nrd3/nrd_plat_arm_def3.h`: BL31_BASE = ARM_BL_RAM end -
/// PLAT_ARM_MAX_BL31_SIZE (RESET_TO_BL31=0), BL31_LIMIT = ARM_BL_RAM end.
pub const BL31: Range = Range::new(BL_RAM.base + BL_RAM.size - BL31_MAX_SIZE, BL31_MAX_SIZE);
/// `nrd3/nrd_plat_arm_def3.h`: BL31_PROGBITS_LIMIT (= BL2_BASE). BL2 loads
/// the BL31 image while it runs from `BL2`, so the loaded file (root.bin)
/// must end here: at most [`BL31_PROGBITS_SIZE`] bytes. (BL2 itself only
/// checks the image against BL31_LIMIT - BL31_BASE.)
pub const BL31_PROGBITS_LIMIT: u64 = BL2.base;
/// The size root.bin must fit in (see [`BL31_PROGBITS_LIMIT`]).
pub const ROOT_IMAGE_MAX_SIZE: u64 = BL31_PROGBITS_LIMIT - BL31.base;

// ---------------------------------------------------------------------------
// DRAM
// ---------------------------------------------------------------------------

/// `nrd3/nrd_plat_arm_def3.h`: ARM_DRAM1_BASE, ARM_DRAM1_SIZE (2 GB).
pub const DRAM1: Range = Range::new(0x8000_0000, 2 * GB);
/// `nrd3/nrd_plat_arm_def3.h`: ARM_DRAM2_BASE/SIZE = PLAT_ARM_DRAM2_BASE/SIZE
/// = `nrd3/nrd_css_def3.h`: NRD_CSS_DRAM2_BASE and
/// `rdv3/include/platform_def.h`: NRD_CSS_DRAM2_SIZE (6 GB).
pub const DRAM2: Range = Range::new(0x80_8000_0000, 6 * GB);
/// Top of DRAM1 kept from the Normal world (L1 GPT, shared page, Realm,
/// SPMC, reserved). `nrd3/nrd_css_fw_def3.h`: NRD_CSS_DRAM1_CARVEOUT_SIZE
/// (192 MB).
pub const DRAM1_CARVEOUT: Range = Range::new(DRAM1.base + DRAM1.size - 192 * MB, 192 * MB);
/// Normal-world part of DRAM1.
/// `nrd3/nrd_plat_arm_def3.h`: ARM_NS_DRAM1_BASE, ARM_NS_DRAM1_SIZE.
pub const NS_DRAM1: Range = Range::new(DRAM1.base, DRAM1.size - DRAM1_CARVEOUT.size);
/// L1 GPT tables, at the very top of DRAM1.
/// `nrd3/nrd_plat_arm_def3.h`: ARM_L1_GPT_BASE, ARM_L1_GPT_SIZE (40 MB,
/// one chip).
pub const L1_GPT: Range = Range::new(DRAM1.base + DRAM1.size - 40 * MB, 40 * MB);
/// EL3<->RMM shared page, right below the L1 GPT.
/// `nrd3/nrd_plat_arm_def3.h`: ARM_EL3_RMM_SHARED_BASE (= RMM_SHARED_BASE),
/// ARM_EL3_RMM_SHARED_SIZE (one page).
pub const EL3_RMM_SHARED: Range = Range::new(L1_GPT.base - 4 * KB, 4 * KB);
/// The RMM image region (BL2 loads the RMM at its base, at most this big).
/// `nrd3/nrd_plat_arm_def3.h`: ARM_REALM_BASE (= RMM_BASE), ARM_REALM_SIZE
/// = 0x2600000 - ARM_EL3_RMM_SHARED_SIZE; RMM_LIMIT = base + size.
pub const REALM: Range = Range::new(
    EL3_RMM_SHARED.base - (0x260_0000 - EL3_RMM_SHARED.size),
    0x260_0000 - EL3_RMM_SHARED.size,
);
/// Realm region plus the shared page: the Realm PAS range TF-A programs
/// (`nrd3/nrd_pas_def3.h`: NRD_PAS_RMM = ARM_REALM_BASE, ARM_REALM_SIZE +
/// ARM_EL3_RMM_SHARED_SIZE). The shared page is its last granule, as
/// `BoardInfo` wants.
pub const RMM: Range = Range::new(REALM.base, REALM.size + EL3_RMM_SHARED.size);
/// Largest RMM image BL2 accepts: `plat/arm/common/aarch64/arm_bl2_mem_params_desc.c`
/// RMM image_max_size = RMM_LIMIT - RMM_BASE (= ARM_REALM_SIZE).
pub const RMM_MAX_SIZE: u64 = REALM.size;
/// TF-RMM `configs/rdv3_defcfg.cmake`: RMM_MAX_SIZE (36 MB), the size TF-RMM
/// links its own image for on this platform (tf-rmm-v0.8.0 and main).
pub const TF_RMM_MAX_SIZE: u64 = 0x240_0000;
/// TF-RMM `configs/rdv3_defcfg.cmake`: RMM_MAX_GRANULES. TF-RMM refuses a
/// boot manifest whose DRAM banks hold more granules
/// (`lib/rmm_el3_ifc/src/rmm_el3_ifc_manifest.c`).
pub const TF_RMM_MAX_GRANULES: u64 = 0x1f_ba00;
// TF-RMM's image for this platform fits the region BL2 loads it into.
const _: () = assert!(TF_RMM_MAX_SIZE <= RMM_MAX_SIZE);
// The BL31 image budget is NRD_CSS_BL31_SIZE.
const _: () = assert!(ROOT_IMAGE_MAX_SIZE == BL31_PROGBITS_SIZE);
/// Secure-EL2 SPMC carve-out below the Realm region; Secure PAS only in
/// builds with SPD=spmd SPMD_SPM_AT_SEL2=1 (`nrd3/nrd_pas_def3.h`:
/// NRD_PAS_BL32). `nrd3/nrd_plat_arm_def3.h`: PLAT_ARM_SPMC_BASE (=
/// RMM_BASE - size), PLAT_ARM_SPMC_SIZE (1500 KB + 3 MB + 5 MB).
pub const SPMC: Range = Range::new(
    REALM.base - (1500 * KB + 3 * MB + 5 * MB),
    1500 * KB + 3 * MB + 5 * MB,
);
/// Rest of the carve-out, unused. `nrd3/nrd_plat_arm_def3.h`:
/// NRD_CSS_CARVEOUT_RESERVED_BASE, NRD_CSS_CARVEOUT_RESERVED_SIZE.
pub const CARVEOUT_RESERVED: Range =
    Range::new(DRAM1_CARVEOUT.base, SPMC.base - DRAM1_CARVEOUT.base);
/// Where BL2 loads BL33 and enters it.
/// `include/plat/arm/css/common/css_def.h`: PLAT_ARM_NS_IMAGE_BASE.
pub const NS_IMAGE_BASE: u64 = 0xe000_0000;
/// NT_FW_CONFIG DTB BL2 loads for BL33 (x0 of BL33 when the boot core's
/// MPIDR[15:0] is zero, `plat/arm/common/arm_bl2_setup.c` and
/// `common/desc_image_load.c`). `rdv3/fdts/rdv3_fw_config.dts`: nt_fw-config
/// load-address, max-size (1 MB); also ARM_PRELOADED_DTB_BASE in
/// `rdv3/platform.mk`.
pub const NT_FW_CONFIG: Range = Range::new(0xf300_0000, MB);

// ---------------------------------------------------------------------------
// NOR flash (FIP)
// ---------------------------------------------------------------------------

/// NOR flash 0. `nrd3/nrd_ros_def3.h`: NRD_ROS_SMC0_BASE, NRD_ROS_SMC0_SIZE
/// (= V2M_FLASH0_BASE/SIZE in `nrd3/nrd_plat_arm_def3.h`).
pub const FLASH0: Range = Range::new(0x0800_0000, 64 * MB);
/// `nrd3/nrd_plat_arm_def3.h`: V2M_FLASH_BLOCK_SIZE (256 KB).
pub const FLASH_BLOCK_SIZE: u64 = 256 * KB;
/// The FIP: BL1 and BL2 read it from the start of flash 0 (ARM_GPT_SUPPORT=0,
/// `plat/arm/common/fconf/arm_fconf_io.c` fip_block_spec).
/// `nrd3/nrd_plat_arm_def3.h`: PLAT_ARM_FLASH_IMAGE_BASE,
/// PLAT_ARM_FLASH_IMAGE_MAX_SIZE (flash 0 less its last block). TF-A has no
/// PLAT_ARM_FIP_BASE/PLAT_ARM_FIP_MAX_SIZE for this platform.
pub const FIP: Range = Range::new(FLASH0.base, FLASH0.size - FLASH_BLOCK_SIZE);
/// PSCI MEM_PROTECT flag block: `nrd3/nrd_plat_arm_def3.h`:
/// PLAT_ARM_MEM_PROT_ADDR (last block of flash 0).
pub const MEM_PROTECT: Range = Range::new(
    FLASH0.base + FLASH0.size - FLASH_BLOCK_SIZE,
    FLASH_BLOCK_SIZE,
);

// ---------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------

/// `nrd3/nrd_ros_def3.h`: NRD_ROS_SYSTEM_PERIPH_BASE/SIZE.
pub const ROS_SYSTEM_PERIPH: Range = Range::new(0x0c00_0000, 32 * MB);
/// `nrd3/nrd_ros_def3.h`: NRD_ROS_PLATFORM_PERIPH_BASE/SIZE.
pub const ROS_PLATFORM_PERIPH: Range = Range::new(0x0e00_0000, 32 * MB);
/// `nrd3/nrd_css_def3.h`: NRD_CSS_PERIPH_BASE/SIZE (BL31 maps it all Root).
pub const CSS_PERIPH: Range = Range::new(0x2000_0000, 512 * MB);

/// `nrd3/nrd_css_fw_def3.h`: NRD_CSS_UART_CLK_IN_HZ, the clock TF-A gives
/// the secure UART it uses for its own console.
pub const UART_CLK_HZ: u32 = 7_372_800;
/// `nrd3/nrd_plat_arm_def3.h`: ARM_CONSOLE_BAUDRATE (also
/// NRD_CSS_RMM_CONSOLE_BAUD).
pub const CONSOLE_BAUD: u32 = 115_200;
/// AP non-secure UART (`css.ap_periph.ns_uart0` on the model).
/// `nrd3/nrd_css_def3.h`: NRD_CSS_NS_UART_BASE/SIZE. TF-A gives no clock for
/// it; firmware leaves its divisor alone.
pub const NS_UART: Range = Range::new(0x2a40_0000, 64 * KB);
/// AP secure UART, TF-A's boot, run-time and crash console.
/// `nrd3/nrd_css_def3.h`: NRD_CSS_SECURE_UART_BASE; `nrd3/nrd_plat_arm_def3.h`:
/// PLAT_ARM_BOOT_UART_BASE, PLAT_ARM_RUN_UART_BASE, PLAT_ARM_CRASH_UART_BASE.
pub const SECURE_UART: Uart = Uart {
    base: 0x2a41_0000,
    clock_hz: UART_CLK_HZ,
};
/// Realm UART: the console TF-A describes to the RMM in the boot manifest
/// (`rdv3/rdv3_common.c` plat_rmmd_load_manifest; TF-RMM maps it in the
/// Realm PAS, `plat/arm/src/arm_setup.c` ARM_RMM_UART).
/// `nrd3/nrd_css_def3.h`: NRD_CSS_REALM_UART_BASE; `nrd3/nrd_css_fw_def3.h`:
/// NRD_CSS_RMM_CONSOLE_BASE, NRD_CSS_RMM_CONSOLE_CLK_IN_HZ (14745600),
/// NRD_CSS_RMM_CONSOLE_NAME ("pl011"), NRD_CSS_RMM_CONSOLE_COUNT (1).
pub const RMM_CONSOLE: Uart = Uart {
    base: 0x2a42_0000,
    clock_hz: 14_745_600,
};

/// System counter control frame (CNTCR, CNTFID0): TF-A reads the counter
/// frequency from CNTFID0 here at run time (`plat/arm/common/arm_common.c`
/// plat_get_syscnt_freq2) and BL31 enables the counter through it
/// (`plat/arm/common/arm_bl31_setup.c`). `nrd3/nrd_plat_arm_def3.h`:
/// ARM_SYS_CNTCTL_BASE = `nrd3/nrd_css_def3.h`: NRD_CSS_GENERIC_REFCLK_BASE.
pub const SYS_CNTCTL: u64 = 0x2a43_0000;
/// `nrd3/nrd_plat_arm_def3.h`: ARM_SYS_CNTREAD_BASE (=
/// NRD_CSS_CNTCTL_REFCLK_READFRAME_BASE).
pub const SYS_CNTREAD: u64 = 0x2a80_0000;
/// `nrd3/nrd_plat_arm_def3.h`: ARM_SYS_TIMCTL_BASE (= NRD_CSS_SYS_TIMCTL_BASE).
pub const SYS_TIMCTL: u64 = 0x2a81_0000;
/// Counter frequency. TF-A has no constant: it reads CNTFID0 at
/// [`SYS_CNTCTL`] and writes CNTFRQ_EL0 from it. 100 MHz is the REFCLK the
/// SCP firmware configures for RD-V3 (SCP-firmware
/// `product/neoverse-rd/rdfremont/scp_ramfw/include/clock_css.h`:
/// CLOCK_RATE_REFCLK; rdfremont was RD-V3's name). Prefer CNTFID0 at run time.
pub const COUNTER_HZ: u64 = 100_000_000;

/// `nrd3/nrd_css_def3.h`: NRD_CSS_SID_BASE (System ID: part number, config).
pub const SID: u64 = 0x2a4a_0000;

/// GIC-700 (GICv4.1) distributor. `nrd3/nrd_plat_arm_def3.h`:
/// PLAT_ARM_GICD_BASE = `nrd3/nrd_css_def3.h`: NRD_CSS_GIC_BASE.
pub const GICD: u64 = 0x3000_0000;
/// `nrd3/nrd_css_def3.h`: NRD_CSS_GIC_BASE, NRD_CSS_GIC_SIZE (128 MB).
pub const GIC_REGION: Range = Range::new(GICD, 128 * MB);
/// Redistributors. `nrd3/nrd_plat_arm_def3.h`: PLAT_ARM_GICR_BASE =
/// NRD_CSS_GIC_BASE + 0x1C0000 (variants 0 and 2; variant 1 is + 0x100000).
pub const GICR: u64 = GICD + 0x1c_0000;
/// Four 64 KB frames per redistributor (RD, SGI, VLPI, reserved): TF-A uses
/// 1 << GICR_V4_PCPUBASE_SHIFT when GICR_TYPER.VLPIS is set
/// (`include/drivers/arm/gicv3.h` gicv3_redist_size; GIC_ENABLE_V4_EXTN=1 in
/// `rdv3/platform.mk`).
pub const GICR_STRIDE: u64 = 1 << 0x12;

/// SMMUv3 in the system control block whose granule protection checks
/// BL31 enables (`rdv3/rdv3_bl31_setup.c` bl31_platform_setup:
/// smmuv3_init). `nrd3/nrd_css_def3.h`: NRD_CSS_GPC_SMMUV3_BASE/SIZE.
pub const GPC_SMMU: Range = Range::new(0x3_0000_0000, 128 * MB);
/// `nrd3/nrd_plat_arm_def3.h`: PLAT_ARM_SMMUV3_ROOT_REG_OFFSET.
pub const GPC_SMMU_ROOT_OFFSET: u64 = 0xa_0000;

/// AP<->RSE root MHUv3: postbox (AP sends) and mailbox (AP receives) frames.
/// `nrd3/nrd_css_def3.h`: NRD_CSS_AP_RSE_ROOT_MHU_BASE, AP_RSE_ROOT_MHU_V3_PBX,
/// AP_RSE_ROOT_MHU_V3_MBX (= base + MHU_V3_MBX_FRAME_OFFSET, 0x10000);
/// BL31 talks SFCP over them (`rdv3/rdv3_sfcp.c`).
pub const RSE_ROOT_MHU: RseMailbox = RseMailbox {
    sender: 0x2ab4_0000,
    receiver: 0x2ab4_0000 + 0x1_0000,
};
/// AP<->SCP secure MHUv3, the SCMI doorbell (`nrd3/nrd_plat_arm_def3.h`:
/// PLAT_CSS_MHU_BASE = NRD_CSS_AP_SCP_SECURE_MHU_BASE).
pub const AP_SCP_SECURE_MHU: Range = Range::new(0x2a92_0000, 128 * KB);
/// Doorbell register BL31 rings for SCMI: PLAT_CSS_MHU_BASE +
/// MHU_V3_SENDER_REG_SET(0) (`common/nrd_bl31_setup.c` plat3_rd_scmi_info;
/// `include/drivers/arm/css/css_mhu_doorbell.h`: 0x1000 + 0xC), bit 0.
pub const SCMI_DOORBELL: u64 = AP_SCP_SECURE_MHU.base + 0x1000 + 0xc;

// ---------------------------------------------------------------------------
// Granule protection
// ---------------------------------------------------------------------------

/// `rdv3/include/platform_def.h`: PLAT_ARM_PPS (256 TB);
/// `rdv3/rdv3_bl2_setup.c` arm_gpt_info.pps = GPCCR_PPS_256TB.
pub const PPS_BITS: u8 = 48;
/// Neoverse V3's GPCCR_EL3.L0GPTSZ as TF-A sizes for it: 16 GB per L0 entry
/// (`nrd3/nrd_plat_arm_def3.h` comment on ARM_L1_GPT_SIZE; ARM_L0_GPT_SIZE
/// of 128 KB holds 2^(48-34) entries). TF-A reads the field at run time.
pub const L0_GPT_SIZE_BITS: u8 = 34;

/// DRAM banks as TF-A hands them to the RMM in the boot manifest
/// (`rdv3/rdv3_common.c` plat_rmmd_load_manifest: ARM_NS_DRAM1, ARM_DRAM2).
/// The carve-out at the top of DRAM1 (Realm region, L1 GPT) is not in them:
/// whole DRAM1 plus DRAM2 would exceed TF-RMM's RMM_MAX_GRANULES.
static DRAM_BANKS: [Range; 2] = [NS_DRAM1, DRAM2];

const fn region(name: &'static str, base: u64, size: u64, gpi: Gpi) -> PasRegion {
    PasRegion {
        name,
        range: Range::new(base, size),
        gpi,
    }
}

const fn at(name: &'static str, range: Range, gpi: Gpi) -> PasRegion {
    PasRegion { name, range, gpi }
}

/// `rdv3/rdv3_bl2_setup.c` pas_regions (variant 0, one chip, no SPMC) with
/// the GPIs of `nrd3/nrd_pas_def3.h`, all GPT_MAP_REGION_GRANULE (L1
/// granule descriptors, same meaning as a block here). TF-A fills the rest
/// of the PPS with GPT_GPI_ANY (`plat/arm/common/arm_common.c` arm_gpt_setup:
/// gpt_init_l0_tables, and new L1 tables start as GPI_ANY in
/// `lib/gpt_rme/gpt_rme.c`), and so does ours (`rampart_gpt::UNLISTED_GPI`);
/// the holes are still listed here as `Any`, named after what TF-A's headers
/// put there, so that the map documents the whole PPS.
///
/// Stricter than TF-A, because BoardInfo asks for it: trusted SRAM is Any in
/// TF-A (NRD_PAS_SHARED_SRAM) but here only the page shared with the SCP
/// stays Any and the rest (BL1, handoff, root RAM, L0 GPT) is Root; the GPC
/// SMMU is Root as NRD_PAS_GPC_SMMUV3 says, though TF-A leaves that macro
/// out of its list (so it is Any there).
static PAS_MAP: [PasRegion; 87] = [
    // Trusted SRAM.
    at("trusted sram: bl1 ro", BL1_RO, Gpi::Root),
    // SCP writes SDS and the SCMI payload here and zeroes the mailbox
    // before it releases the cores: kept as TF-A has it.
    at(
        "trusted sram: arm shared ram (sds, scmi, trusted mailbox)",
        ARM_SHARED_RAM,
        Gpi::Any,
    ),
    at(
        "trusted sram: fw_config, bl2 mem desc (bl2->bl31 handoff)",
        FW_CONFIGS,
        Gpi::Root,
    ),
    region(
        "trusted sram: tb/tos fw_config, unused",
        FW_CONFIGS.base + FW_CONFIGS.size,
        BL31.base - (FW_CONFIGS.base + FW_CONFIGS.size),
        Gpi::Root,
    ),
    at("trusted sram: bl31 (root ram)", BL31, Gpi::Root),
    at("trusted sram: l0 gpt", L0_GPT, Gpi::Root),
    region("unlisted (ap expansion)", MB, 0x0800_0000 - MB, Gpi::Any),
    at("unlisted: nor flash0 (fip)", FLASH0, Gpi::Any),
    at(
        "unlisted: ros system peripherals",
        ROS_SYSTEM_PERIPH,
        Gpi::Any,
    ),
    at(
        "unlisted: ros platform peripherals",
        ROS_PLATFORM_PERIPH,
        Gpi::Any,
    ),
    region("unlisted", 0x1000_0000, 0x1000_0000, Gpi::Any),
    // CSS peripherals, 0x20000000-0x40000000.
    region("system nci", 0x2000_0000, 64 * MB, Gpi::Root),
    region("unlisted (css)", 0x2400_0000, 64 * MB, Gpi::Any),
    region("debug nic", 0x2800_0000, 16 * MB, Gpi::Secure),
    region(
        "unlisted (css)",
        0x2900_0000,
        0x2a40_0000 - 0x2900_0000,
        Gpi::Any,
    ),
    at("ns uart", NS_UART, Gpi::NonSecure),
    // TF-A's BL31 prints here with Root accesses: a Secure GPI would fault.
    region("unlisted: secure uart", SECURE_UART.base, 64 * KB, Gpi::Any),
    region(
        "realm uart (rmm console)",
        RMM_CONSOLE.base,
        64 * KB,
        Gpi::Realm,
    ),
    region(
        "unlisted: generic refclk cntcontrol",
        SYS_CNTCTL,
        64 * KB,
        Gpi::Any,
    ),
    region("ap ns wdog", 0x2a44_0000, 128 * KB, Gpi::NonSecure),
    region("ap root wdog", 0x2a46_0000, 128 * KB, Gpi::Root),
    region("ap secure wdog", 0x2a48_0000, 128 * KB, Gpi::Secure),
    region("unlisted: sid", SID, 64 * KB, Gpi::Any),
    region("secure sram erb ap", 0x2a4b_0000, 64 * KB, Gpi::Secure),
    region("ns sram erb ap", 0x2a4c_0000, 64 * KB, Gpi::NonSecure),
    region("root sram erb ap", 0x2a4d_0000, 64 * KB, Gpi::Root),
    region("realm sram erb ap", 0x2a4e_0000, 64 * KB, Gpi::Realm),
    region("secure sram erb scp", 0x2a4f_0000, 64 * KB, Gpi::Secure),
    region("ns sram erb scp", 0x2a50_0000, 64 * KB, Gpi::NonSecure),
    region("root sram erb scp", 0x2a51_0000, 64 * KB, Gpi::Root),
    region("realm sram erb scp", 0x2a52_0000, 64 * KB, Gpi::Realm),
    region("secure sram erb mcp", 0x2a53_0000, 64 * KB, Gpi::Secure),
    region("ns sram erb mcp", 0x2a54_0000, 64 * KB, Gpi::NonSecure),
    region("root sram erb mcp", 0x2a55_0000, 64 * KB, Gpi::Root),
    region("realm sram erb mcp", 0x2a56_0000, 64 * KB, Gpi::Realm),
    region("secure sram erb rse", 0x2a57_0000, 64 * KB, Gpi::Secure),
    region("ns sram erb rse", 0x2a58_0000, 64 * KB, Gpi::NonSecure),
    region("root sram erb rse", 0x2a59_0000, 64 * KB, Gpi::Root),
    region("realm sram erb rse", 0x2a5a_0000, 64 * KB, Gpi::Realm),
    region("rse secure sram erb rsm", 0x2a5b_0000, 64 * KB, Gpi::Secure),
    region("rse ns sram erb rsm", 0x2a5c_0000, 64 * KB, Gpi::NonSecure),
    region("scp secure sram erb rsm", 0x2a5d_0000, 64 * KB, Gpi::Secure),
    region("scp ns sram erb rsm", 0x2a5e_0000, 64 * KB, Gpi::NonSecure),
    region("mcp secure sram erb rsm", 0x2a5f_0000, 64 * KB, Gpi::Secure),
    region("mcp ns sram erb rsm", 0x2a60_0000, 64 * KB, Gpi::NonSecure),
    region(
        "unlisted (css)",
        0x2a61_0000,
        0x2a80_0000 - 0x2a61_0000,
        Gpi::Any,
    ),
    region(
        "unlisted: cntctl refclk readframe, timctl",
        SYS_CNTREAD,
        128 * KB,
        Gpi::Any,
    ),
    region("unlisted: secure timer ctl", 0x2a82_0000, 64 * KB, Gpi::Any),
    region("unlisted: ns timer ctl", 0x2a83_0000, 64 * KB, Gpi::Any),
    region(
        "unlisted (css)",
        0x2a84_0000,
        0x2a90_0000 - 0x2a84_0000,
        Gpi::Any,
    ),
    region("unlisted: ap-scp ns mhu", 0x2a90_0000, 128 * KB, Gpi::Any),
    at(
        "unlisted: ap-scp secure mhu (scmi)",
        AP_SCP_SECURE_MHU,
        Gpi::Any,
    ),
    region("ap-scp root mhu", 0x2a94_0000, 128 * KB, Gpi::Root),
    region(
        "unlisted (css)",
        0x2a96_0000,
        0x2aa0_0000 - 0x2a96_0000,
        Gpi::Any,
    ),
    region("ap-mcp ns mhu", 0x2aa0_0000, 128 * KB, Gpi::NonSecure),
    region("ap-mcp secure mhu", 0x2aa2_0000, 128 * KB, Gpi::Secure),
    region("ap-mcp root mhu", 0x2aa4_0000, 128 * KB, Gpi::Root),
    region(
        "unlisted (css)",
        0x2aa6_0000,
        0x2ab0_0000 - 0x2aa6_0000,
        Gpi::Any,
    ),
    region("ap-rse ns mhu", 0x2ab0_0000, 128 * KB, Gpi::NonSecure),
    region("ap-rse secure mhu", 0x2ab2_0000, 128 * KB, Gpi::Secure),
    region(
        "ap-rse root mhu (attestation)",
        RSE_ROOT_MHU.sender,
        128 * KB,
        Gpi::Root,
    ),
    region("ap-rse realm mhu", 0x2ab6_0000, 128 * KB, Gpi::Realm),
    region(
        "unlisted (css)",
        0x2ab8_0000,
        0x2ac0_0000 - 0x2ab8_0000,
        Gpi::Any,
    ),
    region(
        "scp-mcp-rse cross chip mhu",
        0x2ac0_0000,
        0x12_0000,
        Gpi::Root,
    ),
    region(
        "unlisted (css)",
        0x2ad2_0000,
        0x2b10_0000 - 0x2ad2_0000,
        Gpi::Any,
    ),
    region("syncnt mstupdtval", 0x2b10_0000, 0x3_0000, Gpi::Secure),
    region(
        "unlisted (css)",
        0x2b13_0000,
        0x2cf0_0000 - 0x2b13_0000,
        Gpi::Any,
    ),
    region("stm system its", 0x2cf0_0000, 0x210_0000, Gpi::NonSecure),
    region("scp-mcp-rse shared sram", 0x2f00_0000, 4 * MB, Gpi::Any),
    region(
        "unlisted (css)",
        0x2f40_0000,
        0x3000_0000 - 0x2f40_0000,
        Gpi::Any,
    ),
    at("gic-700", GIC_REGION, Gpi::Any),
    region("unlisted", 0x3800_0000, DRAM1.base - 0x3800_0000, Gpi::Any),
    // DRAM1.
    at("ns dram1", NS_DRAM1, Gpi::NonSecure),
    at(
        "unlisted: dram1 carveout reserved",
        CARVEOUT_RESERVED,
        Gpi::Any,
    ),
    at(
        "unlisted: spmc carveout (secure only with spmd)",
        SPMC,
        Gpi::Any,
    ),
    at("rmm (realm region, el3-rmm shared page)", RMM, Gpi::Realm),
    at("l1 gpt", L1_GPT, Gpi::Root),
    // Above 4 GB.
    region("cmn", 0x1_0000_0000, GB, Gpi::Any),
    region(
        "unlisted",
        0x1_4000_0000,
        0x2_0000_0000 - 0x1_4000_0000,
        Gpi::Any,
    ),
    region("lcp peripherals", 0x2_0000_0000, GB, Gpi::Any),
    region("ddr io", 0x2_4000_0000, GB, Gpi::Any),
    region("smmu and nci io", 0x2_8000_0000, 0x6000_0000, Gpi::Any),
    region(
        "unlisted",
        0x2_e000_0000,
        GPC_SMMU.base - 0x2_e000_0000,
        Gpi::Any,
    ),
    at("gpc smmu", GPC_SMMU, Gpi::Root),
    region(
        "unlisted",
        GPC_SMMU.base + GPC_SMMU.size,
        DRAM2.base - (GPC_SMMU.base + GPC_SMMU.size),
        Gpi::Any,
    ),
    at("dram2", DRAM2, Gpi::NonSecure),
    region(
        "unlisted (to the end of the pps)",
        DRAM2.base + DRAM2.size,
        (1 << PPS_BITS) - (DRAM2.base + DRAM2.size),
        Gpi::Any,
    ),
];

pub static BOARD: BoardInfo = BoardInfo {
    name: "fvp-rdv3",
    // MPIDR.MT is always set on Neoverse RD platforms (ARM_PLAT_MT=1 in
    // `common/nrd-common.mk`): Aff0 = thread, Aff1 = cpu in cluster, Aff2 =
    // cluster, Aff3 = chip (`common/arch/aarch64/nrd_helper.S`
    // plat_arm_calc_core_pos). One cpu per cluster, so core n is Aff2 = n.
    topology: Topology {
        cpu_count: CORE_COUNT,
        cores_per_cluster: CPUS_PER_CLUSTER,
        mpidr_shifted: true,
    },
    dram: &DRAM_BANKS,
    rmm: RMM,
    rmm_shared_page: EL3_RMM_SHARED.base,
    ns_entry: NS_IMAGE_BASE,
    root: RootLayout {
        ram: BL31,
        boot: RootBoot::Bl31(Bl31Boot {
            // x0 (bl_params) and the ep_info/image_info it links to are in
            // BL2_MEM_DESC, x1 (FW_CONFIG) just below it: one page-aligned
            // region, the one TF-A's BL31 maps (ARM_MAP_BL_CONFIG_REGION).
            handoff: FW_CONFIGS,
            warm_mailbox: TRUSTED_MAILBOX,
            max_image_size: ROOT_IMAGE_MAX_SIZE,
        }),
    },
    gpt: GptConfig {
        pps_bits: PPS_BITS,
        l0_gpt_size_bits: L0_GPT_SIZE_BITS,
        // TF-A splits the tables: L0 in trusted SRAM (L0_GPT, 128 KB), L1s
        // in DRAM (L1_GPT, 40 MB). One range has to hold both here, and
        // only the DRAM one is big enough (an L1 table for a 16 GB L0 entry
        // is 2 MB); it is Root in TF-A's map too. BL2 has already enabled
        // the GPC with its own tables here when root starts.
        tables: L1_GPT,
    },
    pas_map: &PAS_MAP,
    // Three UARTs, three writers: root on the secure UART (TF-A's BL31
    // console), the RMM on the Realm UART TF-RMM prints to (the manifest's
    // console, Realm PAS), the Normal world alone on the NS UART.
    root_trace_uart: SECURE_UART,
    rmm_trace: RmmTrace::RealmUart,
    ns_console: Uart {
        base: NS_UART.base,
        clock_hz: 0,
    },
    rmm_console: RMM_CONSOLE,
    trace_lock: None,
    gic: Gic {
        distributor: GICD,
        redistributors: GICR,
        redistributor_stride: GICR_STRIDE,
    },
    gpc_smmus: &[GpcSmmu {
        base: GPC_SMMU.base,
        root_page_offset: GPC_SMMU_ROOT_OFFSET,
    }],
    counter_hz: COUNTER_HZ,
    // RD-V3 powers cores and the system through SCMI to the SCP (TF-A:
    // `drivers/arm/css/scp/css_pm_scmi.c`): mailbox at SCMI_PAYLOAD, rung on
    // the AP-SCP secure MHU; the values, each cited, are `rampart_scmi::RDV3`.
    power: PowerControl::Scmi(&rampart_scmi::RDV3),
    attestation: AttestationSource::Rse(RSE_ROOT_MHU),
};

#[cfg(test)]
mod tests;
