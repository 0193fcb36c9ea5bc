//! RMI_REC_ENTER's run loop, shared by the R-EL2 kernel and the host
//! harness: the REC service checks and completes the entry, the CPU (a
//! [`Vcpu`]) runs the realm until it takes an exception to R-EL2, the REC
//! service decides whether that exception is handled inside the RMM
//! (run again) or goes to the host, and finally writes the exit record.

use rampart_ipc::Transport;
use rampart_ipc::rec::{RecProtocol, RecReply, RecRequest, Trap};
use rampart_ipc::rmi::{RmiError, result_regs};

/// Running realms on one CPU.
pub trait Vcpu {
    /// Saves the host's state that running a realm overwrites (EL1
    /// registers, timers, FP/SIMD, virtual GIC); once per REC_ENTER.
    fn save_host(&mut self);
    /// Loads the REC's context from its granule, runs it until it takes an
    /// exception to R-EL2 and saves the context back.
    fn run(&mut self, rec: u64) -> Trap;
    /// Gives the host its state back.
    fn restore_host(&mut self);
}

/// RMI_REC_ENTER (RMM spec 1.0, B4.3.14): X0-X4.
pub fn rec_enter<R, V>(router: &mut R, vcpu: &mut V, rec: u64, run: u64) -> [u64; 5]
where
    R: Transport<RecProtocol>,
    V: Vcpu,
{
    match router.call(RecRequest::Enter { rec, run }) {
        Ok(RecReply::Run) => {
            vcpu.save_host();
            loop {
                let trap = vcpu.run(rec);
                if router.call(RecRequest::Trap { rec, trap }) != Ok(RecReply::Resume) {
                    break;
                }
            }
            vcpu.restore_host();
        }
        Ok(RecReply::Exit) => {}
        Ok(RecReply::Rmi(result)) => return result_regs(result),
        _ => return result_regs(Err(RmiError::Input)),
    }
    match router.call(RecRequest::Finish { rec, run }) {
        Ok(RecReply::Rmi(result)) => result_regs(result),
        _ => result_regs(Err(RmiError::Input)),
    }
}
