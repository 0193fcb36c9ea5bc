//! QEMU `virt` with FEAT_RME, laid out like TF-A's QEMU RME port so that
//! images interchange: RMM at 0x40100000 (24 MB) with the EL3<->RMM shared
//! page in its last granule, the NS payload right after it, GPT tables and
//! root firmware in secure RAM. UART0 (NS PL011) is the Normal world's
//! console; root traces to the secure-only UART1, the RMM through a ring
//! root drains there.
//!
//! Device addresses are QEMU's `hw/arm/virt.c` memory map; run with
//! `-M virt,secure=on,virtualization=on,gic-version=3 -cpu max,x-rme=on -m 2G`.
#![no_std]

use rampart_board::{
    AttestationSource, BoardInfo, DevelopmentAttestation, FlashBoot, Gic, Gpi, GptConfig,
    PasRegion, PlatformIdentity, PowerControl, Range, RmmTrace, RootBoot, RootLayout, Topology,
    Uart, lifecycle,
};

const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;

/// Secure flash (pflash0), 64 MB at 0: the root image and the image package.
pub const FLASH: Range = Range::new(0, 64 * MB);
/// Secure-only RAM, 16 MB.
pub const SECURE_RAM: Range = Range::new(0x0e00_0000, 16 * MB);
/// Root firmware image, data, stacks and translation tables (Root PAS).
pub const ROOT_RAM: Range = Range::new(0x0e00_0000, 2 * MB);
/// Granule protection tables (Root PAS).
pub const GPT_TABLES: Range = Range::new(0x0e20_0000, MB);
/// Holding pen for cores that QEMU starts at the reset vector with the boot core.
pub const HOLD_PEN: Range = Range::new(0x0e30_0000, 0x1000);
/// The secure-only PL011 (UART1), root's trace UART.
pub const SECURE_UART: Uart = Uart {
    base: 0x0904_0000,
    clock_hz: 0,
};
/// DRAM as started with `-m 2G`.
pub const DRAM: Range = Range::new(0x4000_0000, 2 * GB);
/// RMM region: 24 MB from 0x40100000 (TF-A QEMU `RMM_BASE`/`RMM_LIMIT`).
pub const RMM: Range = Range::new(0x4010_0000, 24 * MB);
pub const RMM_SHARED_PAGE: u64 = RMM.base + RMM.size - 0x1000;
pub const NS_ENTRY: u64 = RMM.base + RMM.size;

/// DEVELOPMENT SECRET — NO SECURITY. Root derives the platform attestation
/// key (CPAK) and the realm attestation key (RAK) from these bytes. They are
/// in this public source and in every flash image, so anyone can compute
/// both keys and forge platform and realm tokens that verify. QEMU has no
/// hardware root of trust to hold a real secret; a board with one (RSE on
/// RD-V3) uses another [`AttestationSource`].
pub const DEVELOPMENT_ATTESTATION_SECRET: [u8; 32] = *b"rampart qemu-virt DEV SECRET v1!";

/// The platform token claims of this board (RMM spec 1.0, A7.2.3.2).
pub const PLATFORM_IDENTITY: PlatformIdentity = PlatformIdentity {
    implementation_id: *b"rampart/qemu-virt/development/v1",
    // QEMU has no Root Non-volatile Storage, so no System Properties field
    // to report (A7.2.3.2.5): four zero bytes.
    config: &[0; 4],
    // A platform whose key is public has not been through RoT provisioning:
    // assembly and test is the honest state, and verifiers treat it as
    // untrustworthy, which it is.
    lifecycle: lifecycle::ASSEMBLY_AND_TEST,
    // A hint only (A7.2.3.2.8): where a verifier run beside QEMU on the
    // development host would listen. `rampart-verify` needs no service.
    verification_service: Some("http://localhost:8080"),
};

static DRAM_BANKS: [Range; 1] = [DRAM];

static PAS_MAP: [PasRegion; 20] = [
    PasRegion {
        name: "flash0 (secure boot flash)",
        range: FLASH,
        gpi: Gpi::Root,
    },
    PasRegion {
        name: "flash1",
        range: Range::new(0x0400_0000, 64 * MB),
        gpi: Gpi::NonSecure,
    },
    // Distributor, ITS and redistributors: reached by EL3, NS-EL2 and (for ICH
    // state only via system registers) no one else, but the GIC decodes
    // secure and non-secure accesses itself.
    PasRegion {
        name: "gic",
        range: Range::new(0x0800_0000, 16 * MB),
        gpi: Gpi::Any,
    },
    // The Normal world's console and the one the boot manifest offers the
    // RMM (TF-RMM prints there; Rampart's RMM only when not under root). Open
    // to every PAS, as TF-A's QEMU port leaves it (v2.15.0
    // `plat/qemu/common/qemu_bl31_setup.c`: `pas_regions` carves no UART, so
    // it stays GPT_GPI_ANY): TF-RMM maps its console in the Realm PAS
    // (`plat/arm/src/arm_setup.c` ARM_RMM_UART, MT_REALM), and QEMU shows
    // the Realm PAS only the Non-secure address space, so no Realm-only UART
    // exists here. nshost and an RMM that prints reach it as NS.
    PasRegion {
        name: "uart0",
        range: Range::new(0x0900_0000, 0x1000),
        gpi: Gpi::Any,
    },
    PasRegion {
        name: "rtc",
        range: Range::new(0x0901_0000, 0x1000),
        gpi: Gpi::NonSecure,
    },
    PasRegion {
        name: "fw_cfg",
        range: Range::new(0x0902_0000, 0x1000),
        gpi: Gpi::NonSecure,
    },
    PasRegion {
        name: "gpio",
        range: Range::new(0x0903_0000, 0x1000),
        gpi: Gpi::NonSecure,
    },
    PasRegion {
        name: "uart1 (secure)",
        range: Range::new(SECURE_UART.base, 0x1000),
        gpi: Gpi::Secure,
    },
    PasRegion {
        name: "smmu",
        range: Range::new(0x0905_0000, 0x20000),
        gpi: Gpi::NonSecure,
    },
    PasRegion {
        name: "secure gpio",
        range: Range::new(0x090b_0000, 0x1000),
        gpi: Gpi::Secure,
    },
    PasRegion {
        name: "virtio-mmio",
        range: Range::new(0x0a00_0000, 0x4000),
        gpi: Gpi::NonSecure,
    },
    PasRegion {
        name: "platform bus",
        range: Range::new(0x0c00_0000, 32 * MB),
        gpi: Gpi::NonSecure,
    },
    PasRegion {
        name: "root ram",
        range: ROOT_RAM,
        gpi: Gpi::Root,
    },
    PasRegion {
        name: "gpt tables",
        range: GPT_TABLES,
        gpi: Gpi::Root,
    },
    PasRegion {
        name: "hold pen",
        range: HOLD_PEN,
        gpi: Gpi::Root,
    },
    PasRegion {
        name: "secure ram",
        range: Range::new(
            HOLD_PEN.base + HOLD_PEN.size,
            SECURE_RAM.base + SECURE_RAM.size - (HOLD_PEN.base + HOLD_PEN.size),
        ),
        gpi: Gpi::Secure,
    },
    PasRegion {
        name: "pcie mmio, pio, ecam",
        range: Range::new(0x1000_0000, 0x3000_0000),
        gpi: Gpi::NonSecure,
    },
    PasRegion {
        name: "ns dram (below rmm)",
        range: Range::new(DRAM.base, RMM.base - DRAM.base),
        gpi: Gpi::NonSecure,
    },
    PasRegion {
        name: "rmm",
        range: RMM,
        gpi: Gpi::Realm,
    },
    PasRegion {
        name: "ns dram",
        range: Range::new(NS_ENTRY, DRAM.base + DRAM.size - NS_ENTRY),
        gpi: Gpi::NonSecure,
    },
];

pub static BOARD: BoardInfo = BoardInfo {
    name: "qemu-virt",
    topology: Topology {
        cpu_count: 4,
        cores_per_cluster: 16,
        mpidr_shifted: false,
    },
    dram: &DRAM_BANKS,
    rmm: RMM,
    rmm_shared_page: RMM_SHARED_PAGE,
    ns_entry: NS_ENTRY,
    root: RootLayout {
        ram: ROOT_RAM,
        boot: RootBoot::ResetVector(FlashBoot {
            flash: FLASH,
            package_offset: MB,
            hold_pen: HOLD_PEN.base,
        }),
    },
    gpt: GptConfig {
        pps_bits: 40,
        l0_gpt_size_bits: 30,
        tables: GPT_TABLES,
    },
    pas_map: &PAS_MAP,
    // Root's trace: the PL011 QEMU puts only in the secure address space
    // (`hw/arm/virt.c` VIRT_SECURE_UART, the second `-serial`); the
    // Normal world cannot see it, and neither can the Realm world (QEMU
    // gives it the NS address space), hence the ring for the RMM.
    root_trace_uart: SECURE_UART,
    rmm_trace: RmmTrace::RootRing,
    ns_console: Uart {
        base: 0x0900_0000,
        clock_hz: 0,
    },
    // The manifest must name a nonzero reference clock: TF-RMM refuses a
    // console without one (`drivers/pl011/src/pl011.c` pl011_init) and fails
    // its boot with E_RMM_BOOT_UNKNOWN_ERROR. QEMU's PL011s run from the
    // 24 MHz `apb-pclk` the virt machine describes (`hw/arm/virt.c`) and
    // ignore the divisor; Rampart's RMM does not reprogram it.
    rmm_console: Uart {
        base: 0x0900_0000,
        clock_hz: 24_000_000,
    },
    // Shared by nshost and an RMM under TF-A's BL31 (its fallback); under
    // root nothing but nshost writes UART0 and no image takes it.
    trace_lock: Some(0x400f_f000),
    gic: Gic {
        distributor: 0x0800_0000,
        redistributors: 0x080a_0000,
        redistributor_stride: 0x2_0000,
    },
    // QEMU's virt has an SMMUv3 but no RME support in it: nothing to enable.
    gpc_smmus: &[],
    counter_hz: 1_000_000_000,
    power: PowerControl::Pl061Gpio {
        base: 0x090b_0000,
        poweroff_line: 0,
        reset_line: 1,
    },
    attestation: AttestationSource::DevelopmentSecret(DevelopmentAttestation {
        secret: &DEVELOPMENT_ATTESTATION_SECRET,
        identity: PLATFORM_IDENTITY,
    }),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pas_map_is_sorted_aligned_and_disjoint() {
        for w in PAS_MAP.windows(2) {
            assert!(
                w[0].range.end() <= w[1].range.base,
                "{} overlaps or precedes {}",
                w[0].name,
                w[1].name
            );
        }
        for r in PAS_MAP.iter() {
            assert_eq!(r.range.base % 4096, 0, "{}", r.name);
            assert_eq!(r.range.size % 4096, 0, "{}", r.name);
        }
    }

    #[test]
    fn layout_matches_tf_a_rme_port() {
        assert_eq!(BOARD.rmm.base, 0x4010_0000);
        assert_eq!(BOARD.rmm_shared_page, 0x418f_f000);
        assert_eq!(BOARD.ns_entry, 0x4190_0000);
        assert!(
            BOARD
                .root
                .ram
                .contains_range(BOARD.root.ram.base, BOARD.root.ram.size)
        );
        assert!(!BOARD.rmm.contains(BOARD.trace_lock.unwrap()));
        let uart1 = PAS_MAP
            .iter()
            .find(|r| r.range.contains(BOARD.root_trace_uart.base))
            .unwrap();
        assert_eq!(uart1.gpi, Gpi::Secure, "root's trace UART is secure-only");
    }
}
