//! What a board is, as data.
//!
//! A board crate fills in a [`BoardInfo`]; kernels and services read every
//! address from it and hard-code none. The types are plain `const`-friendly
//! data so that a board can be a `static` and so that build scripts (linker
//! scripts) can read the same values the firmware does.
#![no_std]

pub mod handoff;
pub mod link;
pub mod package;

/// Granule size used by the GPT and by every delegation: 4 KB.
pub const GRANULE_SIZE: u64 = 4096;

/// A physical address range `[base, base + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Range {
    pub base: u64,
    pub size: u64,
}

impl Range {
    pub const fn new(base: u64, size: u64) -> Self {
        Self { base, size }
    }
    /// One past the last byte; saturates instead of overflowing.
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }
    pub const fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr < self.end()
    }
    /// True when `[addr, addr + len)` lies wholly inside this range.
    pub const fn contains_range(&self, addr: u64, len: u64) -> bool {
        match addr.checked_add(len) {
            Some(end) => addr >= self.base && end <= self.end(),
            None => false,
        }
    }
    pub const fn overlaps(&self, other: &Range) -> bool {
        self.base < other.end() && other.base < self.end()
    }
}

/// Granule Protection Information: which physical address spaces may access
/// a granule (Arm DDI0615, GPT entry encodings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Gpi {
    NoAccess,
    Secure,
    NonSecure,
    Root,
    Realm,
    Any,
}

/// One entry of a board's physical address space map: everything the GPT is
/// built from. Regions must not overlap and must be granule aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasRegion {
    pub name: &'static str,
    pub range: Range,
    pub gpi: Gpi,
}

/// Where the granule protection tables live and how they are configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GptConfig {
    /// Protected physical address size in bits (GPCCR_EL3.PPS selects it).
    pub pps_bits: u8,
    /// Bytes covered by one level-0 entry, log2 (the CPU's GPCCR_EL3.L0GPTSZ).
    pub l0_gpt_size_bits: u8,
    /// Memory for the level-0 table and the level-1 tables (Root PAS).
    pub tables: Range,
}

/// Root firmware (EL3) placement and how it is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootLayout {
    /// Link and run address of the root image and its RAM (Root PAS).
    pub ram: Range,
    pub boot: RootBoot,
}

/// How root gets control and finds the images it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootBoot {
    /// Root is the reset image: every core starts at the base of boot
    /// flash, root copies itself to `ram` and loads the RMM and the NS
    /// payload from the image package (QEMU `virt`).
    ResetVector(FlashBoot),
    /// Root is TF-A's BL31 replacement: TF-A's BL1/BL2 load it at
    /// `ram.base`, load the RMM and BL33 themselves and enter root on the
    /// boot core with their handoff (bl_params or a transfer list) in
    /// x0..x3. Other cores come out of reset in BL1, which sends a warm
    /// boot to the address in the trusted mailbox (FVP RD-V3).
    Bl31(Bl31Boot),
}

/// Boot from flash: see [`RootBoot::ResetVector`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashBoot {
    /// Boot flash that holds the root image and the image package (read by root).
    pub flash: Range,
    /// Offset into `flash` of the image package that carries the RMM and NS images.
    pub package_offset: u64,
    /// Holding pen: one 8-byte release word per core, polled by cores that
    /// are not yet on (zero = keep waiting, otherwise the entry address).
    pub hold_pen: u64,
}

/// Entered by TF-A's BL2: see [`RootBoot::Bl31`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bl31Boot {
    /// Memory BL2 keeps its handoff in (bl_params and what they point to,
    /// or the transfer list): root reads the handoff only inside it.
    pub handoff: Range,
    /// The trusted mailbox word BL1 reads on a warm boot: the address of
    /// root's warm entry, or zero for a cold boot.
    pub warm_mailbox: u64,
    /// Largest root image the loader can place: its loaded bytes must end
    /// before what the loader itself occupies (on RD-V3, BL2 runs right
    /// above BL31's load bytes). `.bss` and stacks may use all of `ram`.
    pub max_image_size: u64,
}

impl RootLayout {
    /// The holding pen, for boards whose cores all start in root.
    pub const fn hold_pen(&self) -> Option<u64> {
        match self.boot {
            RootBoot::ResetVector(f) => Some(f.hold_pen),
            RootBoot::Bl31(_) => None,
        }
    }
    /// The boot flash, for boards where root starts from it.
    pub const fn flash(&self) -> Option<FlashBoot> {
        match self.boot {
            RootBoot::ResetVector(f) => Some(f),
            RootBoot::Bl31(_) => None,
        }
    }
}

/// An SMMU whose granule protection checks root must enable with the
/// CPU's GPT (DDI0615; SMMUv3.3 Root registers), as TF-A does per board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpcSmmu {
    pub base: u64,
    /// Offset of the Root register page from `base` (implementation defined).
    pub root_page_offset: u64,
}

/// A PL011 UART.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uart {
    pub base: u64,
    /// Reference clock in Hz, 0 when firmware must not reprogram the divisor.
    pub clock_hz: u32,
}

/// How the RMM's trace records reach a UART (see `rampart_ipc::trace`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RmmTrace {
    /// Through a ring in the RMM's own memory that root drains to its
    /// trace UART: for boards where the only UART the Realm world reaches
    /// is the Normal world's console (QEMU `virt`). Under an EL3 that does
    /// not answer the ring registration (TF-A's BL31), the RMM writes
    /// `rmm_console` itself, mapped Non-secure, under `trace_lock`.
    RootRing,
    /// The RMM writes `rmm_console` itself, mapped in the Realm PAS: a
    /// Realm UART of its own (FVP RD-V3, where TF-RMM prints too).
    RealmUart,
}

/// GICv3 placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gic {
    pub distributor: u64,
    pub redistributors: u64,
    /// Bytes per redistributor frame pair (RD_base + SGI_base, 128 KB on GICv3).
    pub redistributor_stride: u64,
}

/// How the platform powers off or resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerControl {
    /// A PL061 whose output lines drive a power controller (QEMU `gpio-pwr`).
    Pl061Gpio {
        base: u64,
        poweroff_line: u8,
        reset_line: u8,
    },
    /// SCMI to the System Control Processor: core power domains and system
    /// power over a shared-memory channel rung by an MHU doorbell (FVP
    /// RD-V3, as TF-A's CSS platforms do).
    Scmi(&'static rampart_scmi::Config),
    /// No firmware-controllable power: park the cores.
    None,
}

/// CPU topology: MPIDR affinity fields to linear core index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Topology {
    pub cpu_count: usize,
    /// Cores per cluster (Aff1 step); the linear index is Aff1 * this + Aff0.
    pub cores_per_cluster: usize,
    /// True when MPIDR.MT is set and Aff0 is a thread number (Aff1 = core).
    pub mpidr_shifted: bool,
}

impl Topology {
    /// Linear index of the core with this MPIDR, or None when it is not a
    /// core of this board (the caller rejects it rather than indexing with it).
    pub const fn core_index(&self, mpidr: u64) -> Option<usize> {
        // Unshifted: Aff0 = core, Aff1 = cluster, Aff2 must be zero.
        // Shifted (MT): Aff0 = thread (must be zero), Aff1 = core, Aff2 = cluster, Aff3 zero.
        let (core, cluster, must_be_zero) = if self.mpidr_shifted {
            (
                (mpidr >> 8) & 0xff,
                (mpidr >> 16) & 0xff,
                (mpidr & 0xff) | ((mpidr >> 32) & 0xff),
            )
        } else {
            (mpidr & 0xff, (mpidr >> 8) & 0xff, (mpidr >> 16) & 0xff)
        };
        if must_be_zero != 0 || core as usize >= self.cores_per_cluster {
            return None;
        }
        let index = cluster as usize * self.cores_per_cluster + core as usize;
        if index < self.cpu_count {
            Some(index)
        } else {
            None
        }
    }

    /// MPIDR affinity value (Aff2..Aff0 only) of a linear core index.
    pub const fn mpidr_of(&self, index: usize) -> u64 {
        let shift = if self.mpidr_shifted { 8 } else { 0 };
        let aff0 = (index % self.cores_per_cluster) as u64;
        let aff1 = (index / self.cores_per_cluster) as u64;
        ((aff1 << 8) | aff0) << shift
    }
}

/// Where the platform's attestation identity and keys come from (root
/// answers RMM_ATTEST_GET_REALM_KEY and RMM_ATTEST_GET_PLAT_TOKEN from it).
/// More sources follow (RSE on `fvp-rdv3`), so code outside this crate must
/// handle variants it does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationSource {
    /// The board has no platform attestation: the calls fail with E_RMM_UNK.
    None,
    /// Root derives the platform attestation key (CPAK) and the realm
    /// attestation key (RAK) from a secret stored in the board data. The
    /// secret is in every copy of the firmware, so anyone can forge tokens:
    /// for development and testing only.
    DevelopmentSecret(DevelopmentAttestation),
    /// The Runtime Security Engine holds the platform identity: root asks
    /// it for the realm attestation key and the platform token over a
    /// pair of MHUv3 frames (FVP RD-V3, as TF-A's BL31 does there).
    Rse(RseMailbox),
}

/// The AP-side MHUv3 frames of the RSE link root uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RseMailbox {
    /// Postbox (sender) frame: AP to RSE.
    pub sender: u64,
    /// Mailbox (receiver) frame: RSE to AP.
    pub receiver: u64,
}

/// A development attestation source: the secret and the claims that
/// describe the platform.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DevelopmentAttestation {
    /// Public by construction; see [`AttestationSource::DevelopmentSecret`].
    pub secret: &'static [u8; 32],
    pub identity: PlatformIdentity,
}

impl core::fmt::Debug for DevelopmentAttestation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Keep key material out of logs out of habit, even a public secret.
        f.debug_struct("DevelopmentAttestation")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// The platform token claims that describe the board rather than the boot
/// (RMM spec 1.0, A7.2.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlatformIdentity {
    /// Implementation ID (A7.2.3.2.3): names the platform implementation.
    pub implementation_id: [u8; 32],
    /// Platform config (A7.2.3.2.5): chosen implementation options.
    pub config: &'static [u8],
    /// Lifecycle (A7.2.3.2.6): state in [15:8], implementation defined [7:0].
    pub lifecycle: u16,
    /// Verification service hint (A7.2.3.2.8), omitted when None.
    pub verification_service: Option<&'static str>,
}

/// Platform lifecycle states, value[15:8] of the lifecycle claim (A7.2.3.2.6).
pub mod lifecycle {
    pub const UNKNOWN: u16 = 0x0000;
    pub const ASSEMBLY_AND_TEST: u16 = 0x1000;
    pub const CCA_PLATFORM_ROT_PROVISIONING: u16 = 0x2000;
    pub const SECURED: u16 = 0x3000;
    pub const NON_CCA_PLATFORM_ROT_DEBUG: u16 = 0x4000;
    pub const RECOVERABLE_CCA_PLATFORM_ROT_DEBUG: u16 = 0x5000;
    pub const DECOMMISSIONED: u16 = 0x6000;
}

/// Everything firmware needs to know about a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoardInfo {
    pub name: &'static str,
    pub topology: Topology,
    /// DRAM banks, lowest first. The NS and Realm worlds use these.
    pub dram: &'static [Range],
    /// The RMM's region (Realm PAS), image at its base.
    pub rmm: Range,
    /// The 4 KB EL3<->RMM shared page (inside `rmm`, its last granule).
    pub rmm_shared_page: u64,
    /// Where the NS-EL2 payload is loaded and entered.
    pub ns_entry: u64,
    pub root: RootLayout,
    pub gpt: GptConfig,
    /// The physical address space map the GPT is built from.
    pub pas_map: &'static [PasRegion],
    /// The UART root writes its trace records to, and the RMM's when they
    /// come through root ([`RmmTrace::RootRing`]): a UART no other world
    /// can reach where the board has one (Secure or Root).
    pub root_trace_uart: Uart,
    /// How the RMM's trace records reach a UART.
    pub rmm_trace: RmmTrace,
    /// The Normal world's UART: the OS console. No firmware writes it;
    /// an NS test payload (nshost) writes its records there.
    pub ns_console: Uart,
    /// The console the boot manifest offers the RMM (at 115200 baud). An
    /// RMM that maps it as Realm memory (TF-RMM does) needs a UART the GPT
    /// gives the Realm PAS, or one open to all.
    pub rmm_console: Uart,
    /// An NS word that serialises whole trace records between images that
    /// share `ns_console`: only an NS payload and an RMM in its fallback
    /// (under TF-A's BL31) ever do. None where no two images share a UART.
    /// Writers wait a bounded time for it, so a hostile holder can garble
    /// the trace but never stall firmware.
    pub trace_lock: Option<u64>,
    pub gic: Gic,
    /// SMMUs that need granule protection checks enabled at boot.
    pub gpc_smmus: &'static [GpcSmmu],
    pub counter_hz: u64,
    pub power: PowerControl,
    /// The platform attestation source.
    pub attestation: AttestationSource,
}

impl BoardInfo {
    /// The DRAM bank that holds `addr`, if any.
    pub fn dram_bank_of(&self, addr: u64) -> Option<&Range> {
        self.dram.iter().find(|bank| bank.contains(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_arithmetic_saturates() {
        let r = Range::new(u64::MAX - 10, 100);
        assert_eq!(r.end(), u64::MAX);
        assert!(!r.contains_range(u64::MAX - 5, 10));
        assert!(Range::new(0x1000, 0x1000).overlaps(&Range::new(0x1fff, 1)));
        assert!(!Range::new(0x1000, 0x1000).overlaps(&Range::new(0x2000, 1)));
    }

    #[test]
    fn topology_maps_mpidr_both_ways() {
        let t = Topology {
            cpu_count: 4,
            cores_per_cluster: 16,
            mpidr_shifted: false,
        };
        assert_eq!(t.core_index(0x8000_0003), Some(3));
        assert_eq!(t.core_index(4), None);
        assert_eq!(t.core_index(0x1_0000), None);
        assert_eq!(t.mpidr_of(2), 2);
        let shifted = Topology {
            cpu_count: 16,
            cores_per_cluster: 1,
            mpidr_shifted: true,
        };
        assert_eq!(shifted.core_index(0x3_0000), Some(3));
        assert_eq!(shifted.core_index(0x3_0001), None);
        assert_eq!(shifted.mpidr_of(5), 0x50000);
    }
}
