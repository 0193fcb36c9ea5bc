//! nshost: a bare-metal NS-EL2 test hypervisor. It drives EL3 (SMCCC,
//! PSCI) and the RMM (RMI) the way a host would, runs a realm guest
//! (`tests/guest`, embedded by build.rs) under it, reports `case <name>: PASS`
//! or `FAIL` per case, then a verdict line, and powers the machine off.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use rampart_arch::smc;
use rampart_ipc::rmm_el3;
use rampart_ipc::smccc::{self, PsciError, SMC_UNKNOWN};

#[cfg(feature = "qemu-virt")]
pub use rampart_board_qemu_virt::BOARD;
#[cfg(not(feature = "qemu-virt"))]
compile_error!("select a board feature, e.g. --features qemu-virt");

pub const MAX_CPUS: usize = BOARD.topology.cpu_count;

static PASSED: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);
/// Bit n set when core n reported in.
static REPORTED: AtomicU64 = AtomicU64::new(0);

pub(crate) fn call(fid: u32, args: &[u64]) -> [u64; 8] {
    let mut regs = [0u64; 8];
    regs[0] = u64::from(fid);
    regs[1..=args.len()].copy_from_slice(args);
    smc(regs).0
}

/// Reports one case: `case <name>: PASS` or `FAIL` plus the detail.
macro_rules! case {
    ($name:expr, $ok:expr, $($detail:tt)+) => {{
        let ok = $ok;
        if ok {
            $crate::PASSED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            defmt::info!("case {=str}: PASS", $name);
        } else {
            $crate::FAILED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            defmt::error!("case {=str}: FAIL", $name);
            defmt::error!($($detail)+);
        }
    }};
}

mod bench;
mod guest;
mod interop;
mod realm;
mod regs;
mod rt;
mod sve;
mod wfi;

fn neg(e: PsciError) -> u64 {
    e.reg()
}

#[unsafe(no_mangle)]
extern "C" fn nshost_main(dtb: u64) -> ! {
    rt::init_primary();
    defmt::info!("nshost: up at EL2 (NS), dtb {=u64:#x}", dtb);
    interop::announce();

    let v = call(smccc::SMCCC_VERSION, &[]);
    // Root implements SMCCC 1.2; TF-A's BL31 reports its own (1.5 in
    // v2.14/v2.15, include/lib/smccc.h SMCCC_MAJOR/MINOR_VERSION).
    let version_ok = if interop::TF_A {
        interop::relaxed("smccc_version", "SMCCC 1.2 or later, not exactly 1.2");
        interop::smccc_at_least_1_2(v[0])
    } else {
        v[0] == smccc::SMCCC_VERSION_1_2
    };
    case!(
        "smccc_version",
        version_ok,
        "SMCCC_VERSION = {=u64:#x}",
        v[0]
    );

    let a = call(
        smccc::SMCCC_ARCH_FEATURES,
        &[u64::from(smccc::SMCCC_VERSION)],
    )[0];
    let b = call(smccc::SMCCC_ARCH_FEATURES, &[0x8000_7fff])[0];
    // 0x80007fff is SMCCC_ARCH_WORKAROUND_2: unknown to root; TF-A's BL31
    // answers it (NOT_REQUIRED, -2, unless built with
    // DYNAMIC_WORKAROUND_CVE_2018_3639: services/arm_arch_svc).
    let b_ok = if interop::TF_A {
        interop::relaxed(
            "smccc_arch_features",
            "ARCH_FEATURES(WORKAROUND_2) is one of SMCCC's answers (-2..=1), not only NOT_SUPPORTED",
        );
        (-2..=1).contains(&(b as i64))
    } else {
        b == SMC_UNKNOWN
    };
    case!(
        "smccc_arch_features",
        a == 0 && b_ok,
        "ARCH_FEATURES: {=u64:#x} {=u64:#x}",
        a,
        b
    );

    let v = call(smccc::PSCI_VERSION, &[])[0];
    case!(
        "psci_version",
        v == smccc::PSCI_VERSION_1_1,
        "PSCI_VERSION = {=u64:#x}",
        v
    );

    let on = call(smccc::PSCI_FEATURES, &[u64::from(smccc::PSCI_CPU_ON_64)])[0];
    let suspend = call(
        smccc::PSCI_FEATURES,
        &[u64::from(smccc::PSCI_CPU_SUSPEND_64)],
    )[0];
    let bogus = call(smccc::PSCI_FEATURES, &[0x8400_00ff])[0];
    // Root has no CPU_SUSPEND; TF-A's QEMU port has (a validate_power_state
    // hook, plat/qemu/common/qemu_pm.c), so PSCI_FEATURES gives its feature
    // flags (PSCI 1.1, 5.1.14: a non-negative value).
    let suspend_ok = if interop::TF_A {
        interop::relaxed(
            "psci_features",
            "CPU_SUSPEND NOT_SUPPORTED or feature flags (>= 0)",
        );
        suspend == neg(PsciError::NotSupported) || (suspend as i64) >= 0
    } else {
        suspend == neg(PsciError::NotSupported)
    };
    case!(
        "psci_features",
        on == 0 && suspend_ok && bogus == neg(PsciError::NotSupported),
        "PSCI_FEATURES: {=u64:#x} {=u64:#x} {=u64:#x}",
        on,
        suspend,
        bogus
    );

    let m = call(smccc::PSCI_MIGRATE_INFO_TYPE, &[])[0];
    // No Trusted OS to migrate: root says 2 (not present); TF-A's BL31
    // without an SPD says NOT_SUPPORTED (psci_spd_migrate_info,
    // lib/psci/psci_common.c).
    let m_ok = if interop::TF_A {
        interop::relaxed(
            "migrate_info_type",
            "2 (no Trusted OS) or NOT_SUPPORTED (no SPD), not only 2",
        );
        m == smccc::MIGRATE_TYPE_NOT_PRESENT || m == neg(PsciError::NotSupported)
    } else {
        m == smccc::MIGRATE_TYPE_NOT_PRESENT
    };
    case!(
        "migrate_info_type",
        m_ok,
        "MIGRATE_INFO_TYPE = {=u64:#x}",
        m
    );

    cpu_on_cases();

    let r = call(smccc::RMI_VERSION, &[1 << 16]);
    let bad = call(smccc::RMI_VERSION, &[2 << 16]);
    case!(
        "rmi_version",
        r[0] == 0
            && r[1] == 1 << 16
            && r[2] == 1 << 16
            && bad[0] == 1
            && bad[1] == 1 << 16
            && bad[2] == 1 << 16,
        "RMI_VERSION: {=[?]:#x} / {=[?]:#x}",
        &r[..3],
        &bad[..3]
    );

    bench::host_calls(realm::BENCH_PAGE);

    let delegate = call(rmm_el3::GTSI_DELEGATE, &[0x8000_0000])[0];
    let boot = call(rmm_el3::BOOT_COMPLETE, &[0])[0];
    let req = call(rmm_el3::REQ_COMPLETE, &[0])[0];
    case!(
        "rmm_fid_from_ns_unknown",
        delegate == SMC_UNKNOWN && boot == SMC_UNKNOWN && req == SMC_UNKNOWN,
        "RMM-EL3 FIDs from NS: {=u64:#x} {=u64:#x} {=u64:#x}",
        delegate,
        boot,
        req
    );

    if interop::TF_A {
        interop::relaxed(
            "realm_granule_read_aborts",
            "a granule protection fault at EL2 (SCR_EL3.GPF clear), not an external abort",
        );
    }
    let (value, fault) = rt::probe(BOARD.rmm.base);
    let survived = call(smccc::PSCI_VERSION, &[])[0] == smccc::PSCI_VERSION_1_1;
    case!(
        "realm_granule_read_aborts",
        fault.is_some_and(rt::is_gpc_abort) && survived,
        "read of {=u64:#x}: value {=u64:#x}, ESR {=?}",
        BOARD.rmm.base,
        value,
        fault
    );

    // CPU_SUSPEND is unknown to root only: TF-A would suspend the core.
    if interop::TF_A {
        interop::skipped(
            "unknown_fids",
            "CPU_SUSPEND (implemented by TF-A's QEMU port)",
        );
    }
    let unknown = [
        0u32,
        0x8000_00ff,
        0x8400_00ff,
        0xc400_01ff,
        0xc600_0000,
        0xffff_ffff,
        0x0400_0000,
        smccc::PSCI_CPU_SUSPEND_64,
    ];
    let mut all = true;
    for fid in unknown {
        if interop::TF_A && fid == smccc::PSCI_CPU_SUSPEND_64 {
            continue;
        }
        let r = call(fid, &[1, 2, 3]);
        // Unknown calls answer -1 and leave every other register as it was.
        let ok = r[0] == SMC_UNKNOWN && (fid == smccc::PSCI_CPU_SUSPEND_64 || r[1..4] == [1, 2, 3]);
        if !ok {
            defmt::error!("fid {=u32:#x} -> {=[?]:#x}", fid, &r[..4]);
        }
        all &= ok;
    }
    case!("unknown_fids", all, "unknown fids");

    wfi::cases();
    // The bench page is free again: the SVE cases delegate and undelegate it.
    sve::rmi_cases(realm::BENCH_PAGE);
    regs::cases(realm::BENCH_PAGE);

    realm::lifecycle();
    guest::run();

    let passed = PASSED.load(Ordering::Relaxed);
    let failed = FAILED.load(Ordering::Relaxed);
    interop::summary();
    defmt::info!("verdict: {=u32} passed, {=u32} failed", passed, failed);
    call(smccc::PSCI_SYSTEM_OFF, &[]);
    loop {
        rampart_arch::wfe();
    }
}

/// CPU_ON every other core, wait for each to report in and turn itself
/// off, then check AFFINITY_INFO and CPU_ON's error answers.
fn cpu_on_cases() {
    let entry = rt::secondary_entry();
    let mut started = true;
    for core in 1..MAX_CPUS {
        let r = call(
            smccc::PSCI_CPU_ON_64,
            &[BOARD.topology.mpidr_of(core), entry, core as u64],
        )[0];
        if r != 0 {
            defmt::error!("CPU_ON core {=usize} -> {=u64:#x}", core, r);
            started = false;
        }
    }
    let want = ((1u64 << MAX_CPUS) - 1) & !1;
    let mut spins = 0u64;
    while REPORTED.load(Ordering::Acquire) != want && spins < 200_000_000 {
        spins += 1;
        core::hint::spin_loop();
    }
    let reported = REPORTED.load(Ordering::Acquire);
    case!(
        "cpu_on_all",
        started && reported == want,
        "cores reported {=u64:#b}, wanted {=u64:#b}",
        reported,
        want
    );

    // Wait until each reported core is OFF again (it calls CPU_OFF itself).
    let off = |core: usize| {
        call(
            smccc::PSCI_AFFINITY_INFO_64,
            &[BOARD.topology.mpidr_of(core), 0],
        )[0]
    };
    let mut spins = 0u32;
    while (1..MAX_CPUS).any(|c| off(c) != 1) && spins < 1_000_000 {
        spins += 1;
    }
    let self_on = off(0);
    let others_off = (1..MAX_CPUS).all(|c| off(c) == 1);
    let bad_mpidr = call(smccc::PSCI_AFFINITY_INFO_64, &[0xff, 0])[0];
    let bad_level = call(smccc::PSCI_AFFINITY_INFO_64, &[0, 3])[0];
    case!(
        "affinity_info",
        self_on == 0
            && others_off
            && bad_mpidr == neg(PsciError::InvalidParameters)
            && bad_level == neg(PsciError::InvalidParameters),
        "AFFINITY_INFO: self {=u64:#x}, bad mpidr {=u64:#x}, bad level {=u64:#x}",
        self_on,
        bad_mpidr,
        bad_level
    );

    let already = call(smccc::PSCI_CPU_ON_64, &[0, entry, 0])[0];
    let bad_target = call(smccc::PSCI_CPU_ON_64, &[0xff, entry, 0])[0];
    // Root refuses an entry point outside NS memory. TF-A's QEMU port has
    // no validate_ns_entrypoint hook (plat/qemu/common/qemu_pm.c), so
    // BL31 would start the core there, where it faults for ever.
    let into_rmm = if interop::TF_A {
        interop::skipped(
            "cpu_on_errors",
            "CPU_ON into the RMM region (TF-A's QEMU port checks no NS entry point)",
        );
        neg(PsciError::InvalidAddress)
    } else {
        call(
            smccc::PSCI_CPU_ON_64,
            &[BOARD.topology.mpidr_of(1), BOARD.rmm.base, 0],
        )[0]
    };
    case!(
        "cpu_on_errors",
        already == neg(PsciError::AlreadyOn)
            && bad_target == neg(PsciError::InvalidParameters)
            && into_rmm == neg(PsciError::InvalidAddress),
        "CPU_ON errors: {=u64:#x} {=u64:#x} {=u64:#x}",
        already,
        bad_target,
        into_rmm
    );
}

#[unsafe(no_mangle)]
extern "C" fn nshost_secondary_main(core: u64) -> ! {
    defmt::info!(
        "nshost: core {=u64} reporting in (MPIDR {=u64:#x})",
        core,
        rampart_arch::mpidr()
    );
    REPORTED.fetch_or(1 << core, Ordering::AcqRel);
    call(smccc::PSCI_CPU_OFF, &[]);
    defmt::error!("nshost: CPU_OFF returned on core {=u64}", core);
    loop {
        rampart_arch::wfe();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    rampart_kernel::trace::panic_and_park(info)
}
