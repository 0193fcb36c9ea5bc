//! Host calls measured for `cargo xtask bench`: each runs a few rounds
//! between the marker instructions (no-ops unless QEMU runs the counting
//! plugin), and one case says they all succeeded. The calls measured inside
//! the other scenarios (RTT_CREATE, DATA_CREATE, REC_ENTER) are there.

use rampart_arch::bench;
use rampart_ipc::bench as id;
use rampart_ipc::{rmi, smccc};

/// Rounds per call: the first may differ (first use of a path), the rest
/// show the steady state.
pub const ROUNDS: usize = 3;

/// An RMI call between the markers.
pub fn rmi_measured(fid: u32, args: &[u64], bench_id: u64) -> [u64; 8] {
    let mut regs = [0u64; 8];
    regs[0] = u64::from(fid);
    regs[1..=args.len()].copy_from_slice(args);
    bench::smc(regs, bench_id).0
}

/// RMI_VERSION, and GRANULE_DELEGATE + UNDELEGATE of `page` (an NS page
/// nothing else uses).
pub fn host_calls(page: u64) {
    let mut ok = true;
    for _ in 0..ROUNDS {
        let v = rmi_measured(smccc::RMI_VERSION, &[1 << 16], id::RMI_VERSION);
        ok &= v[0] == rmi::SUCCESS;
        let d = rmi_measured(rmi::GRANULE_DELEGATE, &[page], id::GRANULE_DELEGATE);
        let u = rmi_measured(rmi::GRANULE_UNDELEGATE, &[page], id::GRANULE_UNDELEGATE);
        ok &= d[0] == rmi::SUCCESS && u[0] == rmi::SUCCESS;
    }
    case!(
        "bench_host_calls",
        ok,
        "RMI_VERSION / GRANULE_DELEGATE / GRANULE_UNDELEGATE failed during the measured rounds"
    );
}
