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

/// Architecture features that add EL2 registers or need SCR_EL3 enables.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub fgt: bool,
    pub hcx: bool,
    pub vhe: bool,
    pub tcr2: bool,
    pub s1pie: bool,
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
}

static FEATURES: Once<Features> = Once::new();

fn field(reg: u64, shift: u32) -> u64 {
    (reg >> shift) & 0xf
}

/// Reads the ID registers once (on the boot core; all cores are alike here).
pub fn features() -> &'static Features {
    FEATURES.call_once(|| {
        let pfr0 = read_sysreg!("id_aa64pfr0_el1");
        let mmfr0 = read_sysreg!("id_aa64mmfr0_el1");
        let mmfr1 = read_sysreg!("id_aa64mmfr1_el1");
        let mmfr3 = read_sysreg!("S3_0_C0_C7_3");
        let isar1 = read_sysreg!("id_aa64isar1_el1");
        let isar2 = read_sysreg!("S3_0_C0_C6_2");
        let pfr1 = read_sysreg!("id_aa64pfr1_el1");
        let sme = field(pfr1, 24);
        // ID_AA64SMFR0_EL1 reads as zero without SME.
        let smfr0 = if sme != 0 {
            read_sysreg!("S3_0_C0_C4_5")
        } else {
            0
        };
        Features {
            fgt: field(mmfr0, 56) != 0,
            ecv2: field(mmfr0, 60) >= 2,
            hcx: field(mmfr1, 40) != 0,
            vhe: field(mmfr1, 8) != 0,
            tcr2: field(mmfr3, 0) != 0,
            s1pie: field(mmfr3, 8) != 0,
            csv2_2: field(pfr0, 56) >= 2,
            rme: field(pfr0, 52) != 0,
            pauth: field(isar1, 4)
                | field(isar1, 8)
                | field(isar1, 24)
                | field(isar1, 28)
                | field(isar2, 12)
                != 0,
            sve: field(pfr0, 32) != 0,
            sme: sme != 0,
            sme2: sme >= 2,
            sme_fa64: smfr0 >> 63 != 0,
        }
    })
}

/// Which world a context belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum World {
    NonSecure,
    Realm,
}

const SCR_NS: u64 = 1 << 0;
const SCR_HCE: u64 = 1 << 8;
const SCR_SIF: u64 = 1 << 9;
const SCR_RW: u64 = 1 << 10;
/// SCR_EL3.EnSCXT is bit 25 (bit 12 is TWI, which would trap every WFI).
const SCR_ENSCXT: u64 = 1 << 25;
const SCR_ENTP2: u64 = 1 << 41;
const SCR_APK: u64 = 1 << 16;
const SCR_API: u64 = 1 << 17;
const SCR_FGTEN: u64 = 1 << 27;
const SCR_ECVEN: u64 = 1 << 28;
const SCR_HXEN: u64 = 1 << 38;
const SCR_TCR2EN: u64 = 1 << 43;
const SCR_PIEN: u64 = 1 << 45;
const SCR_GPF: u64 = 1 << 48;
const SCR_NSE: u64 = 1 << 62;

/// SCR_EL3 for running a world: AArch64 EL2 below, HVC on, secure
/// instruction fetch only from secure memory, granule protection faults
/// routed to EL3, and the enables of every feature whose EL2 registers
/// EL3 switches (so neither world traps to EL3 touching them).
pub fn scr_for(world: World) -> u64 {
    world_controls(world).0
}

/// SCR_EL3 and CPTR_EL3 of each world, worked out once: every world switch
/// writes both.
static WORLD_CONTROLS: Once<[(u64, u64); 2]> = Once::new();

fn world_controls(world: World) -> (u64, u64) {
    let both = WORLD_CONTROLS
        .call_once(|| [World::NonSecure, World::Realm].map(|w| (compute_scr(w), compute_cptr(w))));
    both[world as usize]
}

fn compute_scr(world: World) -> u64 {
    let f = features();
    let mut scr = SCR_HCE | SCR_SIF | SCR_RW | SCR_NS;
    let enables = [
        (f.rme, SCR_GPF),
        (f.fgt, SCR_FGTEN),
        (f.ecv2, SCR_ECVEN),
        (f.hcx, SCR_HXEN),
        (f.tcr2, SCR_TCR2EN),
        (f.s1pie, SCR_PIEN),
        (f.csv2_2, SCR_ENSCXT),
        (f.pauth, SCR_APK | SCR_API),
    ];
    for (present, bits) in enables {
        if present {
            scr |= bits;
        }
    }
    // SCR_EL3.EnTP2 (TPIDR2_EL0) for the Normal world where SME is open to
    // it (Linux `Documentation/arch/arm64/booting.rst`, SME). It stays 0
    // for the Realm world: no EL2 control traps TPIDR2_EL0 without
    // FEAT_FGT, and neither Rampart's RMM nor TF-RMM (v0.8.0) switches it,
    // so opening it would let realms pass values to each other through it.
    if world == World::NonSecure && f.sme {
        scr |= SCR_ENTP2;
    }
    if world == World::Realm {
        scr |= SCR_NSE;
    }
    scr
}

/// CPTR_EL3.EZ (SVE) and ESM (SME); TFP (bit 10, FP/SIMD) stays 0.
const CPTR_EZ: u64 = 1 << 8;
const CPTR_ESM: u64 = 1 << 12;

/// CPTR_EL3 for running a world. FP/SIMD is never trapped; SVE and SME are
/// open to both worlds where the CPU has them. The Normal world's OS owns
/// its SVE/SME state (Linux `Documentation/arch/arm64/booting.rst` requires
/// CPTR_EL3.EZ and ESM set); an RMM reads the ID registers and
/// context-switches SVE and SME state itself (TF-RMM: `lib/arch/src/simd.c`
/// simd_init), and the comms spec leaves FP/SIMD, SVE and SME registers and
/// ZCR_EL2 to the RMM (TF-A v2.15.0 `docs/components/rmm-el3-comms-spec.rst`,
/// "Registers Not Managed by EL3"). TF-A opens them the same way
/// (`context_mgmt.c` manage_extensions_nonsecure/realm_per_world).
pub fn cptr_for(world: World) -> u64 {
    world_controls(world).1
}

fn compute_cptr(world: World) -> u64 {
    let f = features();
    let _ = world;
    let mut cptr = 0;
    if f.sve {
        cptr |= CPTR_EZ;
    }
    if f.sme {
        cptr |= CPTR_ESM;
    }
    cptr
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
    write_sysreg!("cptr_el3", cptr_for(World::Realm));
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
    write_sysreg!("cptr_el3", cptr_for(World::NonSecure));
    rampart_arch::isb();
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

/// Defines the EL2 register set: an always-present part and feature-gated parts.
macro_rules! el2_regs {
    (always { $($name:ident = $reg:tt),* $(,)? } gated { $($feat:ident : $($gname:ident = $greg:tt),+ ;)* }) => {
        /// One world's EL2 (and shared PAuth key) register values.
        #[derive(Clone, Copy, Debug, Default)]
        pub struct El2Regs {
            $(pub $name: u64,)*
            $($(pub $gname: u64,)+)*
        }

        impl El2Regs {
            pub const ZERO: Self = Self { $($name: 0,)* $($($gname: 0,)+)* };

            /// Reads the live registers (SCR_EL3 must select the owning world).
            pub fn save(&mut self) {
                let f = features();
                $(self.$name = read_sysreg!($reg);)*
                $(if f.$feat { $(self.$gname = read_sysreg!($greg);)+ })*
            }

            /// Writes the live registers (SCR_EL3 must select the owning world).
            pub fn restore(&self) {
                let f = features();
                $(write_sysreg!($reg, self.$name);)*
                $(if f.$feat { $(write_sysreg!($greg, self.$gname);)+ })*
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
