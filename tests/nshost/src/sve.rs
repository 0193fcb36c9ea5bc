//! The Normal world's SVE and SME state across calls to EL3 and the RMM.
//! SMCCC (DEN0028, 1.2 and later) makes a callee preserve the caller's
//! whole SVE state (Z0-Z31, P0-P15, FFR) unless the caller sets the SVE
//! hint (FID bit 16, SMCCC 1.3), after which only V0-V31 (Z's low 128
//! bits) must survive. Each checked call loads a fresh pattern into every
//! vector register at NS-EL2's largest vector length, makes the SMC in the
//! same asm block, and stores the registers back for comparison; ZCR_EL2
//! (and SMCR_EL2, SVCR.SM in Streaming SVE mode) must also come back
//! unchanged.

use core::arch::asm;
use core::cell::UnsafeCell;
use rampart_arch::{isb, read_sysreg, write_sysreg};
use rampart_ipc::rmi;
use rampart_ipc::smccc::{self, SVE_HINT};

const MAX_VL: usize = 256;
const Z_BYTES: usize = 32 * MAX_VL;
const P_BYTES: usize = 16 * MAX_VL / 8;
const FFR_BYTES: usize = MAX_VL / 8;

// ZCR_EL2 is S3_4_C1_C2_0, SMCR_EL2 S3_4_C1_C2_6.

/// How a checked call is made.
#[derive(Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum Mode {
    /// SVE state live, hint clear: every bit of Z, P and FFR must survive.
    Sve,
    /// The SVE hint set: V0-V31 (Z's low 128 bits) must survive.
    Hinted,
    /// In Streaming SVE mode (SMSTART SM), hint clear: the streaming Z, P
    /// (and FFR with FEAT_SME_FA64) and SVCR.SM must survive.
    Streaming,
}

/// What the CPU offers NS-EL2.
#[derive(Clone, Copy, defmt::Format)]
pub struct Support {
    pub sve: bool,
    pub sme: bool,
    /// FFR is usable in Streaming SVE mode.
    pub fa64: bool,
    /// Vector length in bytes (non-streaming and streaming).
    pub vl: usize,
    pub svl: usize,
}

#[repr(C, align(16))]
struct Regs {
    z: [u8; Z_BYTES],
    p: [u8; P_BYTES],
    ffr: [u8; FFR_BYTES],
}

struct Buffers(UnsafeCell<[Regs; 2]>);

// SAFETY: only the boot core makes checked calls, one at a time.
unsafe impl Sync for Buffers {}

static BUFFERS: Buffers = Buffers(UnsafeCell::new(
    [const {
        Regs {
            z: [0; Z_BYTES],
            p: [0; P_BYTES],
            ffr: [0; FFR_BYTES],
        }
    }; 2],
));

/// Opens SVE and SME at NS-EL2 (CPTR_EL2 with E2H = 0: TZ bit 8, TFP bit
/// 10, TSM bit 12) with the largest vector lengths (ZCR_EL2.LEN and
/// SMCR_EL2.LEN all ones; EL3 and the CPU cap them), FA64 where the CPU
/// has it. Idempotent.
pub fn enable() -> Support {
    let sve = (read_sysreg!("id_aa64pfr0_el1") >> 32) & 0xf != 0;
    let sme = (read_sysreg!("id_aa64pfr1_el1") >> 24) & 0xf != 0;
    let fa64 = sme && read_sysreg!("S3_0_C0_C4_5") >> 63 != 0;
    let mut cptr = read_sysreg!("cptr_el2") & !(1 << 10);
    if sve {
        cptr &= !(1 << 8);
    }
    if sme {
        cptr &= !(1 << 12);
    }
    write_sysreg!("cptr_el2", cptr);
    isb();
    let mut vl = 16;
    let mut svl = 0;
    if sve {
        write_sysreg!("S3_4_C1_C2_0", 0xf);
        isb();
        // SAFETY: RDVL only writes its destination; SVE is open above.
        unsafe { asm!(".arch_extension sve", "rdvl {}, #1", out(reg) vl, options(nomem, nostack)) };
    }
    if sme {
        write_sysreg!("S3_4_C1_C2_6", 0xf | if fa64 { 1 << 31 } else { 0 });
        isb();
        // SAFETY: RDSVL only writes its destination; SME is open above.
        unsafe {
            asm!(".arch_extension sme", "rdsvl {}, #1", out(reg) svl, options(nomem, nostack))
        };
    }
    Support {
        sve,
        sme,
        fa64,
        vl,
        svl,
    }
}

/// A byte of the pattern: distinct per call (`seed`), register and byte,
/// never zero over a whole register.
fn pattern(seed: u32, reg: usize, byte: usize) -> u8 {
    let x = seed
        .wrapping_mul(0x9e37_79b1)
        .wrapping_add((reg as u32) << 12 | byte as u32);
    (x ^ x >> 7 ^ x >> 13) as u8 | 1
}

/// Fills the input registers for a call with vector length `vl`.
fn fill(regs: &mut Regs, seed: u32, vl: usize) {
    let pl = vl / 8;
    for r in 0..32 {
        for b in 0..vl {
            regs.z[r * vl + b] = pattern(seed, r, b);
        }
    }
    for r in 0..16 {
        for b in 0..pl {
            regs.p[r * pl + b] = pattern(seed, 32 + r, b);
        }
    }
    // FFR must hold a monotonic predicate (ones, then zeros): WRFFR of
    // anything else leaves it UNPREDICTABLE.
    let ones = pl * 8 / 2 + (seed as usize % 3);
    for (i, byte) in regs.ffr[..pl].iter_mut().enumerate() {
        let bits = ones.saturating_sub(i * 8).min(8);
        *byte = ((1u16 << bits) - 1) as u8;
    }
}

/// The result of one checked call.
pub struct Checked {
    /// x0-x3 as the call returned them.
    pub regs: [u64; 4],
    /// V0-V31 (each Z register's low 16 bytes) came back.
    pub v_intact: bool,
    /// Everything the mode requires came back (Z, P, FFR, ZCR_EL2, SMCR_EL2,
    /// SVCR.SM).
    pub intact: bool,
}

static SEED: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(1);

/// Makes the call `fid` (with the SVE hint in `Mode::Hinted`) with
/// x1-x3 = `args`, a fresh pattern in the vector registers, and checks them
/// afterwards. `enable` must have been called.
pub fn call(support: &Support, fid: u32, args: [u64; 3], mode: Mode) -> Checked {
    let streaming = mode == Mode::Streaming;
    let vl = if streaming { support.svl } else { support.vl };
    let with_ffr = !streaming || support.fa64;
    let seed = SEED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: see `impl Sync for Buffers`; no other reference exists.
    let [input, output] = unsafe { &mut *BUFFERS.0.get() };
    fill(input, seed, vl);
    let x0 = u64::from(if mode == Mode::Hinted {
        fid | SVE_HINT
    } else {
        fid
    });
    let zcr = read_sysreg!("S3_4_C1_C2_0");
    let smcr = if support.sme {
        read_sysreg!("S3_4_C1_C2_6")
    } else {
        0
    };
    let (regs, svcr) = if streaming {
        smc_streaming(input, output, x0, args, with_ffr)
    } else {
        (smc_sve(input, output, x0, args), 0)
    };
    let pl = vl / 8;
    let v_intact = (0..32).all(|r| input.z[r * vl..r * vl + 16] == output.z[r * vl..r * vl + 16]);
    let intact = match mode {
        Mode::Hinted => v_intact,
        Mode::Sve | Mode::Streaming => {
            input.z[..32 * vl] == output.z[..32 * vl]
                && input.p[..16 * pl] == output.p[..16 * pl]
                && (!with_ffr || input.ffr[..pl] == output.ffr[..pl])
        }
    };
    let sysregs = read_sysreg!("S3_4_C1_C2_0") == zcr
        && (!support.sme || read_sysreg!("S3_4_C1_C2_6") == smcr)
        && (!streaming || svcr & 1 == 1);
    if !(intact && sysregs) {
        defmt::error!(
            "{} call {=u32:#x}: VL {=usize}, V intact {=bool}, state intact {=bool}, ZCR_EL2 {=u64:#x} -> {=u64:#x}, SVCR {=u64:#x}",
            mode,
            fid,
            vl,
            v_intact,
            intact,
            zcr,
            read_sysreg!("S3_4_C1_C2_0"),
            svcr
        );
    }
    Checked {
        regs,
        v_intact,
        intact: intact && sysregs,
    }
}

/// Loads FFR, P0-P15 and Z0-Z31 from `input`, makes the SMC, stores them
/// to `output`.
fn smc_sve(input: &Regs, output: &mut Regs, x0: u64, args: [u64; 3]) -> [u64; 4] {
    let mut r = [x0, args[0], args[1], args[2]];
    // SAFETY: SVE is open at NS-EL2 (`enable`); the loads and stores stay
    // inside the two buffers (vector length <= 256 bytes); nshost is built
    // soft-float, so no compiled code keeps state in the vector registers.
    // The SMC follows SMCCC: x0-x17 may change, x18-x30 and SP survive; the
    // RMM writes only NS pages no reference points into across the call.
    unsafe {
        asm!(
            ".arch_extension sve",
            "ldr p0, [x24]",
            "wrffr p0.b",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
            "ldr p\\i, [x22, #\\i, mul vl]",
            ".endr",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "ldr z\\i, [x20, #\\i, mul vl]",
            ".endr",
            "smc #0",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "str z\\i, [x21, #\\i, mul vl]",
            ".endr",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
            "str p\\i, [x23, #\\i, mul vl]",
            ".endr",
            "rdffr p0.b",
            "str p0, [x25]",
            inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
            lateout("x4") _, lateout("x5") _, lateout("x6") _, lateout("x7") _,
            lateout("x8") _, lateout("x9") _, lateout("x10") _, lateout("x11") _,
            lateout("x12") _, lateout("x13") _, lateout("x14") _, lateout("x15") _,
            lateout("x16") _, lateout("x17") _,
            in("x20") input.z.as_ptr(), in("x21") output.z.as_mut_ptr(),
            in("x22") input.p.as_ptr(), in("x23") output.p.as_mut_ptr(),
            in("x24") input.ffr.as_ptr(), in("x25") output.ffr.as_mut_ptr(),
            options(nostack)
        )
    };
    r
}

/// As `smc_sve`, in Streaming SVE mode: SMSTART SM, load, SMC, store, read
/// SVCR, SMSTOP SM. FFR only `with_ffr` (FEAT_SME_FA64). Returns x0-x3 and
/// SVCR as it was after the call.
fn smc_streaming(
    input: &Regs,
    output: &mut Regs,
    x0: u64,
    args: [u64; 3],
    with_ffr: bool,
) -> ([u64; 4], u64) {
    let mut r = [x0, args[0], args[1], args[2]];
    let svcr: u64;
    // SAFETY: as for smc_sve, with SME open at NS-EL2; the block leaves
    // Streaming SVE mode before returning to compiled code.
    unsafe {
        asm!(
            ".arch_extension sve",
            ".arch_extension sme",
            "smstart sm",
            "cbz x26, 1f",
            "ldr p0, [x24]",
            "wrffr p0.b",
            "1:",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
            "ldr p\\i, [x22, #\\i, mul vl]",
            ".endr",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "ldr z\\i, [x20, #\\i, mul vl]",
            ".endr",
            "smc #0",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "str z\\i, [x21, #\\i, mul vl]",
            ".endr",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
            "str p\\i, [x23, #\\i, mul vl]",
            ".endr",
            "cbz x26, 2f",
            "rdffr p0.b",
            "str p0, [x25]",
            "2:",
            "mrs x27, S3_3_C4_C2_2",
            "smstop sm",
            inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
            lateout("x4") _, lateout("x5") _, lateout("x6") _, lateout("x7") _,
            lateout("x8") _, lateout("x9") _, lateout("x10") _, lateout("x11") _,
            lateout("x12") _, lateout("x13") _, lateout("x14") _, lateout("x15") _,
            lateout("x16") _, lateout("x17") _,
            in("x20") input.z.as_ptr(), in("x21") output.z.as_mut_ptr(),
            in("x22") input.p.as_ptr(), in("x23") output.p.as_mut_ptr(),
            in("x24") input.ffr.as_ptr(), in("x25") output.ffr.as_mut_ptr(),
            in("x26") u64::from(with_ffr),
            out("x27") svcr,
            options(nostack)
        )
    };
    (r, svcr)
}

/// Checked calls outside a realm run: RMI_VERSION and GRANULE_DELEGATE/
/// UNDELEGATE of `page` (an NS page nothing else uses now) with live SVE
/// state, RMI_VERSION in Streaming SVE mode, and root's own calls with the
/// hint set.
pub fn rmi_cases(page: u64) {
    let s = enable();
    defmt::info!("nshost: NS-EL2 vector support {}", s);
    if s.sve {
        let version = call(&s, rmi::VERSION, [rmi::ABI_VERSION, 0, 0], Mode::Sve);
        let delegate = call(&s, rmi::GRANULE_DELEGATE, [page, 0, 0], Mode::Sve);
        let undelegate = call(&s, rmi::GRANULE_UNDELEGATE, [page, 0, 0], Mode::Sve);
        let psci = call(&s, smccc::PSCI_VERSION, [0; 3], Mode::Sve);
        case!(
            "rmi_preserves_ns_sve",
            version.intact
                && version.regs[0] == rmi::SUCCESS
                && delegate.intact
                && delegate.regs[0] == rmi::SUCCESS
                && undelegate.intact
                && undelegate.regs[0] == rmi::SUCCESS
                && psci.intact
                && psci.regs[0] == smccc::PSCI_VERSION_1_1,
            "VL {=usize}: VERSION {=u64:#x} {=bool}, DELEGATE {=u64:#x} {=bool}, UNDELEGATE {=u64:#x} {=bool}, PSCI_VERSION {=u64:#x} {=bool}",
            s.vl,
            version.regs[0],
            version.intact,
            delegate.regs[0],
            delegate.intact,
            undelegate.regs[0],
            undelegate.intact,
            psci.regs[0],
            psci.intact
        );
    } else {
        case!("rmi_preserves_ns_sve", false, "the CPU has no SVE");
    }
    if s.sme {
        let version = call(&s, rmi::VERSION, [rmi::ABI_VERSION, 0, 0], Mode::Streaming);
        case!(
            "rmi_preserves_ns_streaming",
            version.intact && version.regs[0] == rmi::SUCCESS,
            "SVL {=usize}: VERSION {=u64:#x}, state intact {=bool}",
            s.svl,
            version.regs[0],
            version.intact
        );
    } else {
        case!("rmi_preserves_ns_streaming", false, "the CPU has no SME");
    }

    // The hint names the same function at EL3 and at the RMM; with any
    // other reserved bit (23:17) a call is unknown.
    let plain = |fid: u32, a: u64| crate::call(fid, &[a])[..3].try_into().unwrap_or([0; 3]);
    let pairs: [(u32, u64); 4] = [
        (smccc::SMCCC_VERSION, 0),
        (smccc::PSCI_VERSION, 0),
        (smccc::PSCI_FEATURES, u64::from(smccc::PSCI_CPU_ON_64)),
        (rmi::VERSION, rmi::ABI_VERSION),
    ];
    let mut same = true;
    for (fid, a) in pairs {
        let without: [u64; 3] = plain(fid, a);
        let with: [u64; 3] = plain(fid | SVE_HINT, a);
        let reserved = crate::call(fid | 1 << 17, &[a])[0];
        if without != with || reserved != smccc::SMC_UNKNOWN {
            defmt::error!(
                "fid {=u32:#x}: {=[?]:#x} / with hint {=[?]:#x} / bit 17 {=u64:#x}",
                fid,
                &without[..],
                &with[..],
                reserved
            );
            same = false;
        }
    }
    case!("smccc_sve_hint_accepted", same, "see above");
}
