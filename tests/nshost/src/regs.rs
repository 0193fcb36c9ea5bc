//! SMCCC 1.2 register preservation across every RMI command, written from
//! the calling convention (DEN0028 1.2, section 2.6/2.7: X4-X17 are
//! preserved unless the function returns results in them) rather than from
//! our RMM's reading: RMI results use X0-X3, and X4 only for
//! RMI_RTT_READ_ENTRY (RMM 1.0 B4.3.20).

use core::arch::asm;
use rampart_ipc::rmi;

/// X0-X17 in, X0-X17 out of one SMC.
fn smc18(input: &[u64; 18]) -> [u64; 18] {
    let mut output = [0u64; 18];
    // SAFETY: the block loads X0-X17 from `input`, makes the SMC, and
    // stores X0-X17 to `output`; every register it changes is declared,
    // and X20/X21 (the two pointers) are preserved by the SMC (SMCCC).
    unsafe {
        asm!(
            "ldp x0, x1, [x20, #0]",
            "ldp x2, x3, [x20, #16]",
            "ldp x4, x5, [x20, #32]",
            "ldp x6, x7, [x20, #48]",
            "ldp x8, x9, [x20, #64]",
            "ldp x10, x11, [x20, #80]",
            "ldp x12, x13, [x20, #96]",
            "ldp x14, x15, [x20, #112]",
            "ldp x16, x17, [x20, #128]",
            "smc #0",
            "stp x0, x1, [x21, #0]",
            "stp x2, x3, [x21, #16]",
            "stp x4, x5, [x21, #32]",
            "stp x6, x7, [x21, #48]",
            "stp x8, x9, [x21, #64]",
            "stp x10, x11, [x21, #80]",
            "stp x12, x13, [x21, #96]",
            "stp x14, x15, [x21, #112]",
            "stp x16, x17, [x21, #128]",
            in("x20") input.as_ptr(),
            in("x21") output.as_mut_ptr(),
            out("x0") _, out("x1") _, out("x2") _, out("x3") _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            out("x8") _, out("x9") _, out("x10") _, out("x11") _,
            out("x12") _, out("x13") _, out("x14") _, out("x15") _,
            out("x16") _, out("x17") _,
            options(nostack)
        )
    };
    output
}

/// Every RMI 1.0 command.
const RMI_FIDS: [u32; 23] = [
    rmi::VERSION,
    rmi::GRANULE_DELEGATE,
    rmi::GRANULE_UNDELEGATE,
    rmi::DATA_CREATE,
    rmi::DATA_CREATE_UNKNOWN,
    rmi::DATA_DESTROY,
    rmi::REALM_ACTIVATE,
    rmi::REALM_CREATE,
    rmi::REALM_DESTROY,
    rmi::REC_CREATE,
    rmi::REC_DESTROY,
    rmi::REC_ENTER,
    rmi::RTT_CREATE,
    rmi::RTT_DESTROY,
    rmi::RTT_MAP_UNPROTECTED,
    rmi::RTT_READ_ENTRY,
    rmi::RTT_UNMAP_UNPROTECTED,
    rmi::PSCI_COMPLETE,
    rmi::FEATURES,
    rmi::RTT_FOLD,
    rmi::REC_AUX_COUNT,
    rmi::RTT_INIT_RIPAS,
    rmi::RTT_SET_RIPAS,
];

/// One call with X1-X3 as given and X4-X17 a pattern; returns the answer's
/// X0 and whether every register the command may not change came back.
fn preserved(fid: u32, args: [u64; 3], salt: u64) -> (u64, bool) {
    let mut input = [0u64; 18];
    input[0] = u64::from(fid);
    input[1..4].copy_from_slice(&args);
    for (i, r) in input.iter_mut().enumerate().skip(4) {
        *r = 0x5a5a_0000_0000_0000 | salt << 16 | i as u64;
    }
    let output = smc18(&input);
    let first_kept = if fid == rmi::RTT_READ_ENTRY { 5 } else { 4 };
    let ok = output[first_kept..] == input[first_kept..];
    if !ok {
        defmt::error!(
            "fid {=u32:#x}: X4-X17 {=[?]:#x} came back as {=[?]:#x}",
            fid,
            &input[4..],
            &output[4..]
        );
    }
    (output[0], ok)
}

/// `rmi_preserves_x4_to_x17`: every RMI command, failing (arguments no
/// command accepts: unaligned addresses) and succeeding (VERSION, FEATURES,
/// GRANULE_DELEGATE and UNDELEGATE of `free_page`), gives back X4-X17.
pub fn cases(free_page: u64) {
    let mut all = true;
    for (salt, fid) in RMI_FIDS.into_iter().enumerate() {
        let (_, ok) = preserved(fid, [0x1008, 0x2008, 0x3008], salt as u64);
        all &= ok;
    }
    let successes = [
        (rmi::VERSION, [0x1_0000, 0, 0]),
        (rmi::FEATURES, [0, 0, 0]),
        (rmi::GRANULE_DELEGATE, [free_page, 0, 0]),
        (rmi::GRANULE_UNDELEGATE, [free_page, 0, 0]),
    ];
    for (i, (fid, args)) in successes.into_iter().enumerate() {
        let (status, ok) = preserved(fid, args, 0x100 + i as u64);
        if status != 0 {
            defmt::error!("fid {=u32:#x} failed with {=u64:#x}", fid, status);
        }
        all &= ok && status == 0;
    }
    case!(
        "rmi_preserves_x4_to_x17",
        all,
        "X4-X17 changed by an RMI call"
    );
}
