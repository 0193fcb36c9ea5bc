//! SCMI power requests to the board's SCP (PowerControl::Scmi): CPU_ON,
//! CPU_OFF, SYSTEM_OFF and SYSTEM_RESET the way TF-A's CSS platforms make
//! them, over `rampart_scmi`. The channel is one shared mailbox, so calls
//! from different cores are serialised by a lock.

use crate::mmio::DeviceWindow;
use rampart_scmi::mhu_doorbell::MhuV3Doorbell;
use rampart_scmi::smt::Channel;
use rampart_scmi::{Barrier, Config, Error, Scmi, SharedMemory};
use spin::Mutex;

/// Polls of the channel status per wait: the SCP answers within
/// microseconds; a silent SCP costs a bounded delay, never a hang.
const POLL_LIMIT: u32 = 10_000_000;

impl SharedMemory for DeviceWindow {
    fn barrier(&self, barrier: Barrier) {
        match barrier {
            Barrier::StoreBeforeDoorbell => rampart_arch::dmb_st(),
            Barrier::DoorbellBeforePoll => rampart_arch::dmb_sy(),
            Barrier::LoadAfterFree => rampart_arch::dmb_ld(),
        }
    }
}

type Client = Scmi<'static, DeviceWindow, MhuV3Doorbell<DeviceWindow>>;

static CLIENT: Mutex<Option<Client>> = Mutex::new(None);

/// Opens the channel and checks the SCP's protocol versions (boot core).
pub fn init(config: &'static Config) {
    let doorbell = MhuV3Doorbell::from_config(
        DeviceWindow {
            base: config.doorbell_frame_base,
        },
        config,
    );
    let channel = Channel::new(
        DeviceWindow {
            base: config.shared_mem_base,
        },
        doorbell,
        POLL_LIMIT,
    );
    let mut client = Scmi::new(config, channel);
    match client.init() {
        Ok(versions) => defmt::info!(
            "power: SCMI power domain {=u32:#x}, system power {=u32:#x}",
            versions.power_domain,
            versions.system_power
        ),
        Err(e) => defmt::warn!(
            "power: the SCP did not answer SCMI version queries ({}); power requests may fail",
            defmt::Debug2Format(&e)
        ),
    }
    *CLIENT.lock() = Some(client);
}

fn with_client(f: impl FnOnce(&mut Client) -> Result<(), Error>) -> Result<(), Error> {
    match CLIENT.lock().as_mut() {
        Some(client) => f(client),
        None => Err(Error::ChannelBusy),
    }
}

pub fn cpu_on(core: usize) -> Result<(), Error> {
    with_client(|c| c.cpu_on(core))
}

pub fn cpu_off(core: usize) -> Result<(), Error> {
    with_client(|c| c.cpu_off(core))
}

pub fn system_off() -> Result<(), Error> {
    with_client(|c| c.system_off())
}

pub fn system_reset() -> Result<(), Error> {
    with_client(|c| c.system_reset())
}
