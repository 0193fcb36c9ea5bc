//! Per-world CPU context: the GPR frame and the EL2 system registers that
//! the Normal and Realm worlds share on one core and EL3 must swap on every
//! world switch (TF-A rmm-el3-comms spec, "RMM-EL3 world switch register
//! save restore convention"; GIC EL2 state too, as in RMM_V1_COMPAT mode).

use rampart_arch::{read_sysreg, write_sysreg};
use spin::Once;

/// The interrupted lower EL's registers, as `boot.rs` lays them out.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Frame {
    pub x: [u64; 31],
    pub sp_el0: u64,
    pub elr: u64,
    pub spsr: u64,
}

const FRAME_WORDS: usize = 34;
const _: () = assert!(core::mem::size_of::<Frame>() == FRAME_WORDS * 8);

impl Frame {
    /// `*self = *src` in 17 load/store pairs rather than a call to memcpy:
    /// the world switch copies two frames per SMC.
    pub fn copy_from(&mut self, src: &Frame) {
        rampart_arch::copy_words(self.words_mut(), src.words());
    }

    fn words(&self) -> &[u64; FRAME_WORDS] {
        // SAFETY: Frame is repr(C) of 34 u64 fields, so it has the size
        // (asserted above), alignment and layout of [u64; 34] and no padding.
        unsafe { &*(self as *const Frame).cast() }
    }

    fn words_mut(&mut self) -> &mut [u64; FRAME_WORDS] {
        // SAFETY: as in `words`; the borrow is exclusive like `self`.
        unsafe { &mut *(self as *mut Frame).cast() }
    }
}

/// SPSR for entering EL2h (SP_EL2) with D, A, I and F masked.
pub const SPSR_EL2H_MASKED: u64 = 0x3c9;
/// SPSR.M values.
pub const SPSR_M_MASK: u64 = 0xf;
pub const SPSR_M_EL2H: u64 = 0x9;
pub const SPSR_M_EL2T: u64 = 0x8;

/// SCTLR_EL2 RES1 bits with the MMU off (the state a world starts in).
const SCTLR_EL2_RES1: u64 = 0x30c5_0830;
/// ICC_SRE_EL2: SRE | DFB | DIB | Enable (system-register GIC interface).
const ICC_SRE_EL2_INIT: u64 = 0xf;

/// Architecture features that add EL2 registers, need an EL3 enable, or
/// change how EL3 builds an exception entry. Read from the ID registers
/// (Arm ARM D24.2 "Identification registers"), field by field.
#[derive(Clone, Copy, Debug, Default, defmt::Format)]
pub struct Features {
    pub fgt: bool,
    /// FEAT_FGT with FEAT_AMUv1: HAFGRTR_EL2.
    pub fgt_amu: bool,
    /// FEAT_FGT2 (ID_AA64MMFR0_EL1.FGT >= 2).
    pub fgt2: bool,
    pub hcx: bool,
    pub vhe: bool,
    pub tcr2: bool,
    /// FEAT_SCTLR2 (ID_AA64MMFR3_EL1.SCTLRX).
    pub sctlr2: bool,
    pub s1pie: bool,
    /// FEAT_S2PIE, FEAT_S1POE (ID_AA64MMFR3_EL1.S2PIE, S1POE).
    pub s2pie: bool,
    pub s1poe: bool,
    pub csv2_2: bool,
    pub ecv2: bool,
    pub pauth: bool,
    pub rme: bool,
    /// FEAT_SVE (ID_AA64PFR0_EL1.SVE).
    pub sve: bool,
    /// FEAT_SME (ID_AA64PFR1_EL1.SME), FEAT_SME2 (SME >= 2) and FEAT_SME_FA64
    /// (ID_AA64SMFR0_EL1.FA64).
    pub sme: bool,
    pub sme2: bool,
    pub sme_fa64: bool,
    /// FEAT_RAS (ID_AA64PFR0_EL1.RAS): VDISR_EL2 and VSESR_EL2.
    pub ras: bool,
    /// FEAT_NV2 (ID_AA64MMFR2_EL1.NV >= 2): VNCR_EL2.
    pub nv2: bool,
    /// FEAT_MTE2 (ID_AA64PFR1_EL1.MTE >= 2): allocation tags in memory.
    pub mte2: bool,
    /// FEAT_GCS (ID_AA64PFR1_EL1.GCS).
    pub gcs: bool,
    /// FEAT_AMUv1 and v1p1 (ID_AA64PFR0_EL1.AMU).
    pub amu: bool,
    pub amu_v1p1: bool,
    /// FEAT_MPAM (ID_AA64PFR0_EL1.MPAM or ID_AA64PFR1_EL1.MPAM_frac).
    pub mpam: bool,
    /// FEAT_SPE (ID_AA64DFR0_EL1.PMSVer), FEAT_TRBE (TraceBuffer), FEAT_TRF
    /// (TraceFilt), FEAT_BRBE (BRBE), a System register trace unit
    /// (TraceVer), FEAT_MTPMU (MTPMU == 1), FEAT_Debugv8p9 (DebugVer >= 0b1011).
    pub spe: bool,
    pub trbe: bool,
    pub trf: bool,
    pub brbe: bool,
    pub sys_reg_trace: bool,
    pub mtpmu: bool,
    pub debugv8p9: bool,
    /// FEAT_LS64_ACCDATA (ID_AA64ISAR1_EL1.LS64 >= 3), FEAT_THE
    /// (ID_AA64PFR1_EL1.THE), FEAT_AIE (ID_AA64MMFR3_EL1.AIE), FEAT_FPMR
    /// (ID_AA64PFR2_EL1.FPMR), FEAT_PFAR (ID_AA64PFR1_EL1.PFAR).
    pub ls64_accdata: bool,
    pub the: bool,
    pub aie: bool,
    pub fpmr: bool,
    pub pfar: bool,
    /// FEAT_D128 and FEAT_MEC (ID_AA64MMFR3_EL1): detected to be reported;
    /// neither world gets them (see `docs/DESIGN.md`, "EL3 controls per world").
    pub d128: bool,
    pub mec: bool,
    /// Which optional groups of EL2 registers a world switch saves and
    /// restores (`group` bits).
    pub switched: u32,
    /// What exception entry needs: FEAT_PAN, FEAT_SSBS, FEAT_NMI.
    pub pan: bool,
    pub ssbs: bool,
    pub nmi: bool,
}

static FEATURES: Once<Features> = Once::new();

fn field(reg: u64, shift: u32) -> u64 {
    (reg >> shift) & 0xf
}

/// Reads the ID registers once (on the boot core; all cores are alike here).
pub fn features() -> &'static Features {
    FEATURES.call_once(|| {
        let pfr0 = read_sysreg!("id_aa64pfr0_el1");
        let pfr1 = read_sysreg!("id_aa64pfr1_el1");
        // ID_AA64PFR2_EL1, ID_AA64MMFR3_EL1: in the ID space, RAZ where not
        // implemented (Arm ARM D24.2, "reserved ID registers").
        let pfr2 = read_sysreg!("S3_0_C0_C4_2");
        let mmfr0 = read_sysreg!("id_aa64mmfr0_el1");
        let mmfr1 = read_sysreg!("id_aa64mmfr1_el1");
        let mmfr2 = read_sysreg!("id_aa64mmfr2_el1");
        let mmfr3 = read_sysreg!("S3_0_C0_C7_3");
        let dfr0 = read_sysreg!("id_aa64dfr0_el1");
        let isar1 = read_sysreg!("id_aa64isar1_el1");
        let isar2 = read_sysreg!("S3_0_C0_C6_2");
        let sme = field(pfr1, 24);
        // ID_AA64SMFR0_EL1 reads as zero without SME.
        let smfr0 = if sme != 0 {
            read_sysreg!("S3_0_C0_C4_5")
        } else {
            0
        };
        let pmsver = field(dfr0, 32);
        let mut f = Features {
            fgt: field(mmfr0, 56) != 0,
            fgt2: field(mmfr0, 56) >= 2,
            fgt_amu: field(mmfr0, 56) != 0 && field(pfr0, 44) != 0,
            ecv2: field(mmfr0, 60) >= 2,
            hcx: field(mmfr1, 40) != 0,
            vhe: field(mmfr1, 8) != 0,
            pan: field(mmfr1, 20) != 0,
            nv2: field(mmfr2, 24) >= 2,
            tcr2: field(mmfr3, 0) != 0,
            sctlr2: field(mmfr3, 4) != 0,
            s1pie: field(mmfr3, 8) != 0,
            s2pie: field(mmfr3, 12) != 0,
            s1poe: field(mmfr3, 16) != 0,
            aie: field(mmfr3, 24) != 0,
            mec: field(mmfr3, 28) != 0,
            d128: field(mmfr3, 32) != 0,
            csv2_2: field(pfr0, 56) >= 2,
            rme: field(pfr0, 52) != 0,
            amu: field(pfr0, 44) != 0,
            amu_v1p1: field(pfr0, 44) >= 2,
            mpam: field(pfr0, 40) != 0 || field(pfr1, 16) != 0,
            ras: field(pfr0, 28) != 0,
            sve: field(pfr0, 32) != 0,
            ssbs: field(pfr1, 4) != 0,
            mte2: field(pfr1, 8) >= 2,
            nmi: field(pfr1, 36) != 0,
            gcs: field(pfr1, 44) != 0,
            the: field(pfr1, 48) != 0,
            pfar: field(pfr1, 60) != 0,
            fpmr: field(pfr2, 32) != 0,
            pauth: field(isar1, 4)
                | field(isar1, 8)
                | field(isar1, 24)
                | field(isar1, 28)
                | field(isar2, 12)
                != 0,
            ls64_accdata: field(isar1, 60) >= 3,
            sme: sme != 0,
            sme2: sme >= 2,
            sme_fa64: smfr0 >> 63 != 0,
            // PMSVer 0b1111 is not a version: treat only 1..=14 as SPE.
            spe: pmsver != 0 && pmsver != 0xf,
            trbe: field(dfr0, 44) != 0,
            trf: field(dfr0, 40) != 0,
            brbe: field(dfr0, 52) != 0,
            sys_reg_trace: field(dfr0, 4) != 0,
            mtpmu: field(dfr0, 48) == 1,
            debugv8p9: matches!(field(dfr0, 0), 0b1011..=0b1110),
            switched: 0,
        };
        let groups = [
            (f.fgt, group::fgt),
            (f.hcx, group::hcx),
            (f.vhe, group::vhe),
            (f.tcr2, group::tcr2),
            (f.s1pie, group::s1pie),
            (f.csv2_2, group::csv2_2),
            (f.ecv2, group::ecv2),
            (f.pauth, group::pauth),
            (f.ras, group::ras),
            (f.nv2, group::nv2),
            (f.fgt_amu, group::fgt_amu),
            (f.fgt2, group::fgt2),
            (f.trf, group::trf),
            (f.brbe, group::brbe),
            (f.sctlr2, group::sctlr2),
            (f.s2pie, group::s2pie),
            (f.s1poe, group::s1poe),
        ];
        f.switched = groups
            .iter()
            .filter(|(present, _)| *present)
            .fold(0, |mask, (_, bit)| mask | bit);
        f
    })
}

/// Which world a context belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum World {
    NonSecure,
    Realm,
}

// SCR_EL3 (Arm ARM D24.2.169). Only the bits Rampart sets are named; the
// per-world table in `docs/DESIGN.md` accounts for every other one.
const SCR_NS: u64 = 1 << 0;
/// Bits 5:4 are RES1.
const SCR_RES1: u64 = 0b11 << 4;
const SCR_HCE: u64 = 1 << 8;
const SCR_SIF: u64 = 1 << 9;
const SCR_RW: u64 = 1 << 10;
const SCR_APK: u64 = 1 << 16;
const SCR_API: u64 = 1 << 17;
/// SCR_EL3.EnSCXT is bit 25 (bit 12 is TWI, which would trap every WFI).
const SCR_ENSCXT: u64 = 1 << 25;
const SCR_ATA: u64 = 1 << 26;
const SCR_FGTEN: u64 = 1 << 27;
const SCR_ECVEN: u64 = 1 << 28;
const SCR_AMVOFFEN: u64 = 1 << 35;
const SCR_ENAS0: u64 = 1 << 36;
const SCR_ADEN: u64 = 1 << 37;
const SCR_HXEN: u64 = 1 << 38;
const SCR_GCSEN: u64 = 1 << 39;
const SCR_ENTP2: u64 = 1 << 41;
const SCR_RCWMASKEN: u64 = 1 << 42;
const SCR_TCR2EN: u64 = 1 << 43;
const SCR_SCTLR2EN: u64 = 1 << 44;
const SCR_PIEN: u64 = 1 << 45;
const SCR_AIEN: u64 = 1 << 46;
const SCR_GPF: u64 = 1 << 48;
const SCR_ENFPM: u64 = 1 << 50;
const SCR_PFAREN: u64 = 1 << 53;
const SCR_FGTEN2: u64 = 1 << 59;
const SCR_NSE: u64 = 1 << 62;

/// The EL3 control registers of one world, worked out once from the ID
/// registers: every world switch writes them.
#[derive(Clone, Copy, Debug)]
pub struct Controls {
    pub scr: u64,
    pub cptr: u64,
    pub mdcr: u64,
    /// MPAM3_EL3, written only where FEAT_MPAM exists.
    pub mpam3: u64,
    /// Whether a world switch must write MDCR_EL3 and MPAM3_EL3: they
    /// differ between the worlds only with SPE, TRBE or MPAM; otherwise
    /// `init_controls` writes them once per core.
    pub switch_debug: bool,
}

static WORLD_CONTROLS: Once<[Controls; 2]> = Once::new();

/// The EL3 controls of `world`.
pub fn controls(world: World) -> &'static Controls {
    let both = WORLD_CONTROLS.call_once(|| {
        let f = features();
        let switch_debug = f.mpam || compute_mdcr(World::NonSecure) != compute_mdcr(World::Realm);
        [World::NonSecure, World::Realm].map(|w| Controls {
            scr: compute_scr(w),
            cptr: compute_cptr(w),
            mdcr: compute_mdcr(w),
            mpam3: compute_mpam3(w),
            switch_debug,
        })
    });
    &both[world as usize]
}

/// Makes the EL3 controls of `world` live at a world switch; SCR_EL3 also
/// selects the world whose EL2 registers the caller restores next.
pub fn load_controls(world: World) {
    let c = controls(world);
    write_sysreg!("cptr_el3", c.cptr);
    if c.switch_debug {
        write_debug_controls(c);
    }
    write_sysreg!("scr_el3", c.scr);
    rampart_arch::isb();
}

/// Every EL3 control of `world`, on a core that has just come up.
pub fn init_controls(world: World) {
    write_debug_controls(controls(world));
    load_controls(world);
}

fn write_debug_controls(c: &Controls) {
    write_sysreg!("mdcr_el3", c.mdcr);
    if features().mpam {
        write_sysreg!("S3_6_C10_C5_0", c.mpam3);
    }
}

/// SCR_EL3 for running a world: AArch64 EL2 below, HVC on, secure
/// instruction fetch only from secure memory, granule protection faults
/// routed to EL3, WFI/WFE/SMC untrapped, interrupts and SErrors left to the
/// lower ELs, and the enables of every feature whose EL2 registers EL3
/// switches (so neither world traps to EL3 touching them). Features whose
/// state only the Normal world's OS manages (MTE tags, GCS, TPIDR2, FPMR,
/// ACCDATA, RCWMASK, (A)MAIR2, PFAR, AMU virtual offsets) open to the
/// Normal world only; the RMM context-switches none of that state, so a
/// realm opening it could read or leave behind another world's values.
/// Follows TF-A v2.15.0 `lib/el3_runtime/aarch64/context_mgmt.c`
/// (setup_context_common, setup_ns_context, setup_realm_context) and Linux
/// `Documentation/arch/arm64/booting.rst` (what EL3 must enable for a
/// kernel entered at EL2).
fn compute_scr(world: World) -> u64 {
    let f = features();
    let ns = world == World::NonSecure;
    let mut scr = SCR_RES1 | SCR_HCE | SCR_SIF | SCR_RW | SCR_NS;
    let enables = [
        // Both worlds: EL2 state that `El2Regs` switches.
        (f.rme, SCR_GPF),
        (f.fgt, SCR_FGTEN),
        (f.fgt2, SCR_FGTEN2),
        (f.ecv2, SCR_ECVEN),
        (f.hcx, SCR_HXEN),
        (f.tcr2, SCR_TCR2EN),
        (f.sctlr2, SCR_SCTLR2EN),
        (f.s1pie || f.s1poe, SCR_PIEN),
        (f.csv2_2, SCR_ENSCXT),
        (f.pauth, SCR_APK | SCR_API),
        // The Normal world only.
        (ns && f.mte2, SCR_ATA),
        (ns && f.gcs, SCR_GCSEN),
        (ns && f.sme, SCR_ENTP2),
        (ns && f.amu_v1p1, SCR_AMVOFFEN),
        (ns && f.ls64_accdata, SCR_ADEN | SCR_ENAS0),
        (ns && f.the, SCR_RCWMASKEN),
        (ns && f.aie, SCR_AIEN),
        (ns && f.fpmr, SCR_ENFPM),
        (ns && f.pfar, SCR_PFAREN),
        (!ns, SCR_NSE),
    ];
    for (on, bits) in enables {
        if on {
            scr |= bits;
        }
    }
    scr
}

// CPTR_EL3 (Arm ARM D24.2.34).
const CPTR_EZ: u64 = 1 << 8;
const CPTR_ESM: u64 = 1 << 12;
const CPTR_TTA: u64 = 1 << 20;
const CPTR_TAM: u64 = 1 << 30;

/// CPTR_EL3 for running a world. FP/SIMD (TFP) and CPTR_EL2/CPACR_EL1
/// accesses (TCPAC) are never trapped; SVE and SME are open to both worlds
/// where the CPU has them. The Normal world's OS owns its SVE/SME state
/// (Linux `Documentation/arch/arm64/booting.rst` requires CPTR_EL3.EZ and
/// ESM set); an RMM reads the ID registers and context-switches SVE and SME
/// state itself (TF-RMM: `lib/arch/src/simd.c` simd_init), and the comms
/// spec leaves FP/SIMD, SVE and SME registers and ZCR_EL2 to the RMM (TF-A
/// v2.15.0 `docs/components/rmm-el3-comms-spec.rst`, "Registers Not Managed
/// by EL3"). Activity monitors (TAM) and System register trace (TTA) are
/// the Normal world's: the RMM switches neither, so the Realm world traps
/// them and reads UNDEFINED (TF-A: amu_enable_per_world and
/// sys_reg_trace_disable_per_world do the same).
fn compute_cptr(world: World) -> u64 {
    let f = features();
    let ns = world == World::NonSecure;
    let mut cptr = CPTR_TAM | CPTR_TTA;
    if f.sve {
        cptr |= CPTR_EZ;
    }
    if f.sme {
        cptr |= CPTR_ESM;
    }
    if ns && f.amu {
        cptr &= !CPTR_TAM;
    }
    if ns && f.sys_reg_trace {
        cptr &= !CPTR_TTA;
    }
    cptr
}

// MDCR_EL3 (Arm ARM D24.2.95).
const MDCR_EN_PM2: u64 = 1 << 7;
const MDCR_NSPBE: u64 = 1 << 11;
const MDCR_NSPB_EN: u64 = 1 << 12;
const MDCR_NSPB_SS: u64 = 1 << 13;
/// SPD32 = 0b10: AArch32 Secure self-hosted privileged debug disabled.
const MDCR_SPD32_DISABLED: u64 = 0b10 << 14;
const MDCR_SDD: u64 = 1 << 16;
const MDCR_SCCD: u64 = 1 << 23;
const MDCR_NSTB_EN: u64 = 1 << 24;
const MDCR_NSTB_SS: u64 = 1 << 25;
const MDCR_NSTBE: u64 = 1 << 26;
/// SBRBE = 0b01: branch recording allowed in Non-secure state only.
const MDCR_SBRBE_NS: u64 = 0b01 << 32;
const MDCR_MCCD: u64 = 1 << 34;
const MDCR_EN_PMSN: u64 = 1 << 36;
const MDCR_EN_PMS3: u64 = 1 << 42;
const MDCR_EBWE: u64 = 1 << 43;

/// MDCR_EL3 for running a world. Debug (TDA, TDOSA), PMU (TPM) and trace
/// filter (TTRF) registers are not trapped, so each world's EL2 decides
/// for itself (MDCR_EL2 is switched); Secure debug is off (SDD, SPD32),
/// cycle counting is prohibited at EL3 and in Secure state (MCCD, SCCD),
/// event counting in Secure state and at EL3 (SPME = 0, MPMX = 0),
/// trace in Secure and Realm states (STE = 0, RLTE = 0), and
/// multi-threaded PMU events are off (MTPME = 0). The statistical
/// profiling buffer (SPE) and trace buffer (TRBE) belong to the Normal
/// world: NSPB/NSTB = 0b11 with NSPBE/NSTBE = 0 while it runs, 0b10 while
/// the Realm world runs, so that neither records realm execution and a
/// realm's accesses to their controls trap to EL3 (and read UNDEFINED).
/// Branch records are allowed in Non-secure state only (SBRBE = 0b01).
/// Follows TF-A v2.15.0 setup_context_common and `lib/extensions/`
/// (pmuv3, spe, trbe, trf, brbe, debug) and Linux
/// `Documentation/arch/arm64/booting.rst` (SPE, TRBE, BRBE, PMUv3 for NS).
fn compute_mdcr(world: World) -> u64 {
    let f = features();
    let ns = world == World::NonSecure;
    // SCCD, MCCD, EnPM2 are RES0 where their features are absent; TF-A
    // sets them unconditionally, and so does Rampart.
    let mut mdcr = MDCR_SDD | MDCR_SPD32_DISABLED | MDCR_SCCD | MDCR_MCCD | MDCR_EN_PM2;
    if f.spe {
        mdcr &= !MDCR_NSPBE;
        mdcr |= MDCR_NSPB_SS;
        if ns {
            mdcr |= MDCR_NSPB_EN | MDCR_EN_PMSN | MDCR_EN_PMS3;
        }
    }
    if f.trbe {
        mdcr &= !MDCR_NSTBE;
        mdcr |= MDCR_NSTB_SS;
        if ns {
            mdcr |= MDCR_NSTB_EN;
        }
    }
    if f.brbe {
        mdcr |= MDCR_SBRBE_NS;
    }
    if f.debugv8p9 {
        mdcr |= MDCR_EBWE;
    }
    mdcr
}

/// MPAM3_EL3.MPAMEN (63) and TRAPLOWER (62).
const MPAM3_MPAMEN: u64 = 1 << 63;
const MPAM3_TRAPLOWER: u64 = 1 << 62;

/// MPAM3_EL3: MPAM on, lower-EL MPAM registers open to the Normal world
/// (Linux reads MPAMIDR_EL1 whenever ID_AA64PFR0_EL1.MPAM is non-zero, and
/// TF-A v2.15.0 `lib/extensions/mpam/mpam.c` mpam_enable_per_world clears
/// TRAPLOWER for it) and trapped for the Realm world, whose EL2 MPAM
/// registers EL3 does not switch (TF-RMM hides FEAT_MPAM from realms too).
fn compute_mpam3(world: World) -> u64 {
    match world {
        World::NonSecure => MPAM3_MPAMEN,
        World::Realm => MPAM3_MPAMEN | MPAM3_TRAPLOWER,
    }
}

/// ZCR_EL3 and SMCR_EL3: the largest vector lengths the CPU has, so that
/// EL3 does not limit what a lower EL chooses (TF-A v2.15.0
/// `lib/extensions/sve/sve.c` sve_init_el3 with SVE_VECTOR_LEN 2048, and
/// `lib/extensions/sme/sme.c` sme_init_el3: LEN max, FA64, EZT0). Per core;
/// EL3 must not trap itself while writing them.
pub fn init_vector_lengths() {
    let f = features();
    if !f.sve && !f.sme {
        return;
    }
    write_sysreg!("cptr_el3", controls(World::Realm).cptr);
    rampart_arch::isb();
    if f.sve {
        // ZCR_EL3.LEN = 15: up to 2048-bit vectors.
        write_sysreg!("S3_6_C1_C2_0", 0xf);
    }
    if f.sme {
        // SMCR_EL3.LEN all ones (the CPU caps it), FA64 (bit 31), EZT0 (bit 30).
        let mut smcr = 0x1ff;
        if f.sme_fa64 {
            smcr |= 1 << 31;
        }
        if f.sme2 {
            smcr |= 1 << 30;
        }
        write_sysreg!("S3_6_C1_C2_6", smcr);
    }
    write_sysreg!("cptr_el3", controls(World::NonSecure).cptr);
    rampart_arch::isb();
}

/// Per-core state Linux `Documentation/arch/arm64/booting.rst` asks of
/// EL3 for a kernel entered at EL2, beyond the controls: the architected
/// activity monitor counters enabled (AMCNTENSET0_EL0 = 0b1111; no
/// auxiliary counters are enabled, AMCNTENSET1_EL0 stays at reset), and
/// the GCS controls of EL2, EL1 and EL0 at 0 (their reset values are
/// UNKNOWN).
pub fn init_lower_el_state() {
    let f = features();
    if f.amu {
        write_sysreg!("S3_3_C13_C2_5", 0b1111); // AMCNTENSET0_EL0
    }
    if f.gcs {
        write_sysreg!("S3_4_C2_C5_0", 0); // GCSCR_EL2
        write_sysreg!("S3_0_C2_C5_0", 0); // GCSCR_EL1
        write_sysreg!("S3_0_C2_C5_2", 0); // GCSCRE0_EL1
    }
}

/// The world the current SCR_EL3 selects.
pub fn current_world() -> World {
    let scr = read_sysreg!("scr_el3");
    if scr & SCR_NSE != 0 {
        World::Realm
    } else {
        World::NonSecure
    }
}

/// Bits of `Features::switched`, one per optional group of EL2 registers
/// (named as the `Features` field that says the group exists): a world
/// switch loads the mask once and tests one bit per group.
#[allow(non_upper_case_globals)]
mod group {
    pub const fgt: u32 = 1 << 0;
    pub const hcx: u32 = 1 << 1;
    pub const vhe: u32 = 1 << 2;
    pub const tcr2: u32 = 1 << 3;
    pub const s1pie: u32 = 1 << 4;
    pub const csv2_2: u32 = 1 << 5;
    pub const ecv2: u32 = 1 << 6;
    pub const pauth: u32 = 1 << 7;
    pub const ras: u32 = 1 << 8;
    pub const nv2: u32 = 1 << 9;
    pub const fgt_amu: u32 = 1 << 16;
    pub const fgt2: u32 = 1 << 17;
    pub const trf: u32 = 1 << 18;
    pub const brbe: u32 = 1 << 19;
    pub const sctlr2: u32 = 1 << 20;
    pub const s2pie: u32 = 1 << 21;
    pub const s1poe: u32 = 1 << 22;
    /// The rarer groups, behind one more test.
    pub const RARE: u32 = 0x7f << 16;
}

/// Defines the EL2 register set: an always-present part, feature-gated
/// parts, and rarer feature-gated parts behind one more test
/// (`group::RARE`), so that a CPU without any of them pays one branch per
/// save or restore for all of them, not one per feature.
macro_rules! el2_regs {
    (
        always { $($name:ident = $reg:tt),* $(,)? }
        gated { $($feat:ident : $($gname:ident = $greg:tt),+ ;)* }
        rare { $($rfeat:ident : $($rname:ident = $rreg:tt),+ ;)* }
    ) => {
        /// One world's EL2 (and shared PAuth key) register values.
        #[derive(Clone, Copy, Debug, Default)]
        pub struct El2Regs {
            $(pub $name: u64,)*
            $($(pub $gname: u64,)+)*
            $($(pub $rname: u64,)+)*
        }

        impl El2Regs {
            pub const ZERO: Self = Self {
                $($name: 0,)* $($($gname: 0,)+)* $($($rname: 0,)+)*
            };

            /// Reads the live registers (SCR_EL3 must select the owning world).
            pub fn save(&mut self) {
                let m = features().switched;
                $(self.$name = read_sysreg!($reg);)*
                $(if m & group::$feat != 0 { $(self.$gname = read_sysreg!($greg);)+ })*
                if m & group::RARE != 0 {
                    $(if m & group::$rfeat != 0 { $(self.$rname = read_sysreg!($rreg);)+ })*
                }
            }

            /// Writes the live registers (SCR_EL3 must select the owning world).
            pub fn restore(&self) {
                let m = features().switched;
                $(write_sysreg!($reg, self.$name);)*
                $(if m & group::$feat != 0 { $(write_sysreg!($greg, self.$gname);)+ })*
                if m & group::RARE != 0 {
                    $(if m & group::$rfeat != 0 { $(write_sysreg!($rreg, self.$rname);)+ })*
                }
            }
        }
    };
}

el2_regs! {
    always {
        actlr = "actlr_el2", afsr0 = "afsr0_el2", afsr1 = "afsr1_el2", amair = "amair_el2",
        cnthctl = "cnthctl_el2", cntvoff = "cntvoff_el2", cptr = "cptr_el2", elr = "elr_el2",
        esr = "esr_el2", far = "far_el2", hacr = "hacr_el2", hcr = "hcr_el2", hpfar = "hpfar_el2",
        hstr = "hstr_el2", mair = "mair_el2", mdcr = "mdcr_el2", sctlr = "sctlr_el2",
        spsr = "spsr_el2", sp = "sp_el2", tcr = "tcr_el2", tpidr = "tpidr_el2", vbar = "vbar_el2",
        vmpidr = "vmpidr_el2", vpidr = "vpidr_el2", vtcr = "vtcr_el2", ttbr0 = "ttbr0_el2",
        vttbr = "vttbr_el2",
        // GIC EL2 context (switched by EL3 in the RMM 1.x compatible interface).
        icc_sre = "S3_4_C12_C9_5", ich_hcr = "S3_4_C12_C11_0", ich_vmcr = "S3_4_C12_C11_7",
    }
    gated {
        fgt: hfgrtr = "S3_4_C1_C1_4", hfgwtr = "S3_4_C1_C1_5", hfgitr = "S3_4_C1_C1_6",
             hdfgrtr = "S3_4_C3_C1_4", hdfgwtr = "S3_4_C3_C1_5";
        hcx: hcrx = "S3_4_C1_C2_2";
        vhe: contextidr = "S3_4_C13_C0_1", ttbr1 = "S3_4_C2_C0_1";
        tcr2: tcr2 = "S3_4_C2_C0_3";
        s1pie: pir = "S3_4_C10_C2_3", pire0 = "S3_4_C10_C2_2";
        csv2_2: scxtnum = "S3_4_C13_C0_7";
        ecv2: cntpoff = "S3_4_C14_C0_6";
        pauth: apia_lo = "S3_0_C2_C1_0", apia_hi = "S3_0_C2_C1_1", apib_lo = "S3_0_C2_C1_2",
               apib_hi = "S3_0_C2_C1_3", apda_lo = "S3_0_C2_C2_0", apda_hi = "S3_0_C2_C2_1",
               apdb_lo = "S3_0_C2_C2_2", apdb_hi = "S3_0_C2_C2_3", apga_lo = "S3_0_C2_C3_0",
               apga_hi = "S3_0_C2_C3_1";
        // Virtual SError state (FEAT_RAS) and the NV2 page (FEAT_NV2): EL2
        // registers without an EL3 enable, so both worlds reach them.
        ras: vdisr = "S3_4_C12_C1_1", vsesr = "S3_4_C5_C2_3";
        nv2: vncr = "S3_4_C2_C2_0";
    }
    rare {
        fgt_amu: hafgrtr = "S3_4_C3_C1_6";
        fgt2: hfgrtr2 = "S3_4_C3_C1_2", hfgwtr2 = "S3_4_C3_C1_3", hfgitr2 = "S3_4_C3_C1_7",
              hdfgrtr2 = "S3_4_C3_C1_0", hdfgwtr2 = "S3_4_C3_C1_1";
        trf: trfcr = "S3_4_C1_C2_1";
        brbe: brbcr = "S2_4_C9_C0_0";
        sctlr2: sctlr2 = "S3_4_C1_C0_3";
        s2pie: s2pir = "S3_4_C10_C2_5";
        s1poe: por = "S3_4_C10_C2_4";
    }
}

impl El2Regs {
    /// The state a world's EL2 starts in: MMU off, GIC system registers on.
    pub fn initial() -> Self {
        Self {
            sctlr: SCTLR_EL2_RES1,
            icc_sre: ICC_SRE_EL2_INIT,
            ..Default::default()
        }
    }
}

/// A suspended world on one core.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorldContext {
    pub frame: Frame,
    pub el2: El2Regs,
}

impl WorldContext {
    /// A world that will start at `entry` in EL2h with `args` in x0-x7.
    pub fn starting_at(entry: u64, args: &[u64]) -> Self {
        let mut frame = Frame {
            elr: entry,
            spsr: SPSR_EL2H_MASKED,
            ..Default::default()
        };
        frame.x[..args.len()].copy_from_slice(args);
        Self {
            frame,
            el2: El2Regs::initial(),
        }
    }
}
