//! The realm lifecycle scenario: everything a host does with the RMM short
//! of running a REC, checked step by step, then torn down in reverse; and
//! every granule the host gets back must read as zero.

use crate::{BOARD, call, rt};
use rampart_ipc::rmi;

/// Scratch NS memory the scenario uses: 64 granules from 16 MB into NS DRAM.
const POOL: u64 = 0x4290_0000;
const G: u64 = 0x1000;

/// The granules of one run (all 4 KB apart in the pool).
const RD: u64 = POOL;
const RTT0: u64 = POOL + 2 * G; // two concatenated level-1 tables: 8 KB aligned
const RTT_L2: u64 = POOL + 4 * G;
const RTT_L3: u64 = POOL + 5 * G;
const RTT_FOLD: u64 = POOL + 6 * G;
const RTT_UNPROT_L2: u64 = POOL + 7 * G;
const RTT_UNPROT_L3: u64 = POOL + 8 * G;
const DATA: [u64; 3] = [POOL + 9 * G, POOL + 10 * G, POOL + 11 * G];
const PARAMS: u64 = POOL + 12 * G;
const SRC: u64 = POOL + 13 * G;
const NS_PAGE: u64 = POOL + 14 * G;
/// The page the measured GRANULE_DELEGATE/UNDELEGATE rounds use.
pub(crate) const BENCH_PAGE: u64 = POOL + 15 * G;

const S2SZ: u64 = 40;
/// First unprotected IPA for s2sz 40.
const UNPROTECTED: u64 = 1 << (S2SZ - 1);

pub(crate) fn rmi(fid: u32, args: &[u64]) -> [u64; 8] {
    call(fid, args)
}

pub(crate) fn ok(r: &[u64; 8]) -> bool {
    r[0] == rmi::SUCCESS
}

/// Writes a word of a scenario's NS pool.
pub(crate) fn write_u64(pa: u64, offset: u64, value: u64) {
    // SAFETY: the scenarios' pools are NS DRAM identity-mapped by rt.rs and
    // used by nothing else.
    unsafe { core::ptr::write_volatile((pa + offset) as *mut u64, value) };
}

pub(crate) fn fill(pa: u64, f: impl Fn(u64) -> u64) {
    for i in 0..512 {
        write_u64(pa, i * 8, f(i));
    }
}

pub(crate) fn all_zero(pa: u64) -> bool {
    (0..512).all(|i| rt::probe(pa + i * 8) == (0, None))
}

/// Runs the scenario; each step reports a case.
pub fn lifecycle() {
    let granules = [
        RD,
        RTT0,
        RTT0 + G,
        RTT_L2,
        RTT_L3,
        RTT_FOLD,
        RTT_UNPROT_L2,
        RTT_UNPROT_L3,
        DATA[0],
        DATA[1],
        DATA[2],
    ];
    // Stale host content in every granule about to be delegated.
    for &g in &granules {
        fill(g, |i| 0xdead_0000_0000_0000 | i);
    }
    let delegated = granules
        .iter()
        .all(|&g| ok(&rmi(rmi::GRANULE_DELEGATE, &[g])));
    let twice = rmi(rmi::GRANULE_DELEGATE, &[RD])[0] == rmi::ERROR_INPUT;
    let unaligned = rmi(rmi::GRANULE_DELEGATE, &[RD + 8])[0] == rmi::ERROR_INPUT;
    let rmm_own = rmi(rmi::GRANULE_DELEGATE, &[BOARD.rmm.base])[0] == rmi::ERROR_INPUT;
    case!(
        "rmi_granule_delegate",
        delegated && twice && unaligned && rmm_own,
        "delegate"
    );

    if crate::interop::TF_A {
        crate::interop::relaxed(
            "delegated_granule_unreadable_from_ns",
            "a granule protection fault at EL2 (SCR_EL3.GPF clear), not an external abort",
        );
    }
    let (value, fault) = rt::probe(DATA[0]);
    case!(
        "delegated_granule_unreadable_from_ns",
        fault.is_some_and(rt::is_gpc_abort),
        "read {=u64:#x}",
        value
    );

    // RmiRealmParams: s2sz 40, start level 1 with 2 tables, SHA-256, VMID 1.
    fill(PARAMS, |_| 0);
    write_u64(PARAMS, 0x08, S2SZ);
    write_u64(PARAMS, 0x18, 1);
    write_u64(PARAMS, 0x20, 1);
    write_u64(PARAMS, 0x800, 1);
    write_u64(PARAMS, 0x808, RTT0);
    write_u64(PARAMS, 0x810, 1);
    write_u64(PARAMS, 0x818, 2);
    let created = ok(&rmi(rmi::REALM_CREATE, &[RD, PARAMS]));
    let again = rmi(rmi::REALM_CREATE, &[RD, PARAMS])[0] == rmi::ERROR_INPUT;
    case!("rmi_realm_create", created && again, "realm create");

    let l2 = ok(&rmi(rmi::RTT_CREATE, &[RD, RTT_L2, 0, 2]));
    let l3 = ok(&rmi(rmi::RTT_CREATE, &[RD, RTT_L3, 0, 3]));
    let fold_table = ok(&rmi(rmi::RTT_CREATE, &[RD, RTT_FOLD, 0x20_0000, 3]));
    let no_parent =
        rmi(rmi::RTT_CREATE, &[RD, RTT_UNPROT_L3, UNPROTECTED, 3])[0] == rmi::ERROR_RTT | (1 << 8);
    case!(
        "rmi_rtt_create_two_levels",
        l2 && l3 && fold_table && no_parent,
        "rtt create"
    );

    let ripas = rmi(rmi::RTT_INIT_RIPAS, &[RD, 0x3000, 0x5000]);
    case!(
        "rmi_rtt_init_ripas",
        ok(&ripas) && ripas[1] == 0x5000,
        "init ripas -> {=u64:#x} {=u64:#x}",
        ripas[0],
        ripas[1]
    );

    // DATA_CREATE from known content (measured), and two unknown pages.
    fill(SRC, |i| 0x5eed_0000 + i);
    let known = ok(&rmi(rmi::DATA_CREATE, &[RD, DATA[0], 0, SRC, 1]));
    let unknown = ok(&rmi(rmi::DATA_CREATE_UNKNOWN, &[RD, DATA[1], 0x1000]))
        && ok(&rmi(rmi::DATA_CREATE_UNKNOWN, &[RD, DATA[2], 0x2000]));
    let taken = rmi(rmi::DATA_CREATE, &[RD, DATA[1], 0x1000, SRC, 0])[0] == rmi::ERROR_INPUT;
    case!("rmi_data_create", known && unknown && taken, "data create");

    let unprot = ok(&rmi(rmi::RTT_CREATE, &[RD, RTT_UNPROT_L2, UNPROTECTED, 2]))
        && ok(&rmi(rmi::RTT_CREATE, &[RD, RTT_UNPROT_L3, UNPROTECTED, 3]));
    // Normal WB (FWB MemAttr 0b110), S2AP read-write.
    let desc = NS_PAGE | (0b110 << 2) | (0b11 << 6);
    let mapped = ok(&rmi(rmi::RTT_MAP_UNPROTECTED, &[RD, UNPROTECTED, 3, desc]));
    let bad_desc = rmi(
        rmi::RTT_MAP_UNPROTECTED,
        &[RD, UNPROTECTED + G, 3, desc | 1],
    )[0] == rmi::ERROR_INPUT;
    case!(
        "rmi_rtt_map_unprotected",
        unprot && mapped && bad_desc,
        "map unprotected"
    );

    let data = rmi(rmi::RTT_READ_ENTRY, &[RD, 0, 3]);
    let ns = rmi(rmi::RTT_READ_ENTRY, &[RD, UNPROTECTED, 3]);
    let empty = rmi(rmi::RTT_READ_ENTRY, &[RD, 0x3000, 3]);
    let table = rmi(rmi::RTT_READ_ENTRY, &[RD, 0, 2]);
    let read_ok = ok(&data)
        && data[1..5] == [3, 1, DATA[0], 1]
        && ok(&ns)
        && ns[1..5] == [3, 1, desc, 0]
        && ok(&empty)
        && empty[1..5] == [3, 0, 0, 1]
        && ok(&table)
        && table[1..4] == [2, 2, RTT_L3];
    case!(
        "rmi_rtt_read_entry",
        read_ok,
        "read: {=[?]:#x} {=[?]:#x} {=[?]:#x}",
        &data[..5],
        &ns[..5],
        &empty[..5]
    );

    let fold = rmi(rmi::RTT_FOLD, &[RD, 0x20_0000, 3]);
    let folded_entry = rmi(rmi::RTT_READ_ENTRY, &[RD, 0x20_0000, 3]);
    let not_homogeneous = rmi(rmi::RTT_FOLD, &[RD, 0, 3])[0] == rmi::ERROR_RTT | (3 << 8);
    case!(
        "rmi_rtt_fold",
        ok(&fold) && fold[1] == RTT_FOLD && folded_entry[1] == 2 && not_homogeneous,
        "fold -> {=[?]:#x}",
        &fold[..3]
    );

    let activated = ok(&rmi(rmi::REALM_ACTIVATE, &[RD]));
    let late_data = rmi(rmi::DATA_CREATE, &[RD, RTT_FOLD, 0x3000, SRC, 0])[0] == rmi::ERROR_REALM;
    case!("rmi_realm_activate", activated && late_data, "activate");

    // Tear down in reverse.
    let busy = rmi(rmi::REALM_DESTROY, &[RD])[0] == rmi::ERROR_REALM;
    let unmapped = ok(&rmi(rmi::RTT_UNMAP_UNPROTECTED, &[RD, UNPROTECTED, 3]));
    let mut destroyed_data = true;
    for (i, &d) in DATA.iter().enumerate() {
        let r = rmi(rmi::DATA_DESTROY, &[RD, i as u64 * G]);
        destroyed_data &= ok(&r) && r[1] == d;
    }
    let rtts = [
        (RTT_UNPROT_L3, UNPROTECTED, 3),
        (RTT_UNPROT_L2, UNPROTECTED, 2),
        (RTT_L3, 0, 3),
        (RTT_L2, 0, 2),
    ];
    let mut destroyed_rtts = true;
    for (rtt, ipa, level) in rtts {
        let r = rmi(rmi::RTT_DESTROY, &[RD, ipa, level]);
        destroyed_rtts &= ok(&r) && r[1] == rtt;
    }
    let realm_gone = ok(&rmi(rmi::REALM_DESTROY, &[RD]));
    case!(
        "rmi_teardown",
        busy && unmapped && destroyed_data && destroyed_rtts && realm_gone,
        "teardown"
    );

    let undelegated = granules
        .iter()
        .all(|&g| ok(&rmi(rmi::GRANULE_UNDELEGATE, &[g])));
    let zero = granules.iter().all(|&g| all_zero(g));
    case!(
        "rmi_undelegate_scrubbed",
        undelegated && zero,
        "undelegate {=bool} zero {=bool}",
        undelegated,
        zero
    );
}
