//! The RMI dispatcher: turns a forwarded SMC into a handler call and the
//! handler's outcome into RMI status registers (RMM spec 1.0, B4.3).

use rampart_ipc::smccc::{RMI_VERSION, SMC_UNKNOWN};

/// RMI ABI version implemented: 1.0 ([30:16] major, [15:0] minor).
pub const RMI_ABI_VERSION: u64 = 1 << 16;

/// RMI command return codes (RMM spec 1.0, B4.4.5 RmiStatusCode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[allow(
    dead_code,
    reason = "the realm, REC and RTT errors come with those commands"
)]
pub enum RmiStatus {
    Success = 0,
    ErrorInput = 1,
    ErrorRealm = 2,
    ErrorRec = 3,
    ErrorRtt = 4,
}

impl RmiStatus {
    /// The return code register: status in [7:0], index in [15:8].
    pub const fn with_index(self, index: u8) -> u64 {
        self as u64 | (index as u64) << 8
    }
}

/// Dispatches one request (x0-x7 as EL3 forwarded them); returns x0-x4 for the caller.
pub fn dispatch(regs: &[u64; 8]) -> [u64; 5] {
    let fid = regs[0] as u32;
    match fid {
        RMI_VERSION => version(regs[1]),
        _ => {
            defmt::debug!("rmi: unknown command {=u32:#x}", fid);
            [SMC_UNKNOWN, 0, 0, 0, 0]
        }
    }
}

/// RMI_VERSION (RMM spec 1.0, B4.3.16): SUCCESS when the requested
/// version is one this RMM implements, ERROR_INPUT otherwise; either way
/// the lowest and highest implemented versions are returned.
fn version(requested: u64) -> [u64; 5] {
    let status = if requested == RMI_ABI_VERSION {
        RmiStatus::Success
    } else {
        RmiStatus::ErrorInput
    };
    defmt::info!(
        "rmi: version {=u64:#x} requested -> {=u64}",
        requested,
        status as u64
    );
    [status.with_index(0), RMI_ABI_VERSION, RMI_ABI_VERSION, 0, 0]
}
