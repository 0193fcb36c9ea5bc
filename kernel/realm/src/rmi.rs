//! The RMI dispatcher: decodes each SMC EL3 forwards into a typed
//! [`Command`], sends it to the service that owns the object it acts on,
//! and encodes the typed result as RMI registers (RMM spec 1.0, B4.3;
//! status in [7:0], index in [15:8]). The SMCCC 1.3 SVE hint in x0 is
//! accepted on every command and matters only to REC_ENTER, the one
//! command that runs code (a realm) able to change the host's SVE state.

use crate::router::Router;
use rampart_ipc::rmi::{self, Command, Outputs, result_regs};
use rampart_ipc::smccc::SMC_UNKNOWN;

/// Dispatches one request (x0-x7 as EL3 forwarded them); returns x0-x4.
pub fn dispatch(regs: &[u64; 8], cpu: usize) -> [u64; 5] {
    let Some(command) = Command::decode(regs) else {
        defmt::debug!("rmi: unknown function {=u64:#x}", regs[0]);
        // SMCCC 1.2+: an unknown call returns -1 in x0 and leaves x1-x3 as
        // the caller had them (EL3 copies x1-x4 of our answer back to the
        // caller). TF-A v2.15 forwards more of the Standard Service range to
        // the RMM (RMI_FNUM1_MIN_VALUE..RMI_FNUM1_MAX_VALUE, rmmd_svc.h).
        return [SMC_UNKNOWN, regs[1], regs[2], regs[3], regs[4]];
    };
    // X4 is a result only of RTT_READ_ENTRY (B4.3.20: X1-X4); every other
    // command hands the caller's X4 back, which SMCCC 1.2 requires to be
    // preserved (EL3 copies our X1-X5 to the caller's X0-X4).
    let caller_x4 = regs[4];
    let returns_x4 = matches!(command, Command::RttReadEntry { .. });
    let mut regs = match command {
        Command::Version { requested } => version(requested),
        Command::Features { index } => result_regs(Ok(Outputs::one(features(index)))),
        Command::RecEnter { rec, run } => rampart_kernel::rec_loop::rec_enter(
            &mut Router { cpu },
            &mut crate::run::ArchVcpu::new(cpu, rampart_ipc::smccc::sve_hint(regs[0])),
            rec,
            run,
        ),
        _ => rmi::call_owner(&mut Router { cpu }, command).unwrap_or([SMC_UNKNOWN, 0, 0, 0, 0]),
    };
    if !returns_x4 {
        regs[4] = caller_x4;
    }
    defmt::debug!("rmi: {} -> {=[?]:#x}", command, regs);
    regs
}

/// RMI_FEATURES (B4.3.4): feature register 0 for index 0, zero for others.
fn features(index: u64) -> u64 {
    if index == 0 {
        crate::router::feature_register_0().to_bits()
    } else {
        0
    }
}

/// RMI_VERSION (RMM spec 1.0, B4.3.16): SUCCESS when the requested
/// version is one this RMM implements, ERROR_INPUT otherwise; either way
/// the lowest and highest implemented versions are returned.
fn version(requested: u64) -> [u64; 5] {
    let status = if requested == rmi::ABI_VERSION {
        rmi::SUCCESS
    } else {
        rmi::ERROR_INPUT
    };
    // Debug, not info: hosts may call this often, and a trace record costs
    // more than the call itself (`cargo xtask bench`).
    defmt::debug!(
        "rmi: version {=u64:#x} requested -> {=u64}",
        requested,
        status
    );
    [status, rmi::ABI_VERSION, rmi::ABI_VERSION, 0, 0]
}
