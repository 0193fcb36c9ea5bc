//! The requests root makes, with TF-A's payloads and acceptance rules
//! (`drivers/arm/css/scmi/scmi_*_proto.c`, `drivers/arm/css/scp/css_pm_scmi.c`).

use crate::config::Config;
use crate::error::Error;
use crate::power_state::CompositePowerState;
use crate::protocol::{
    CLIENT_VERSION, POWER_DOMAIN_PROTOCOL, POWER_STATE_GET, POWER_STATE_GET_RESP_LEN,
    POWER_STATE_SET, POWER_STATE_SET_ASYNC, POWER_STATE_SET_RESP_LEN, PROTOCOL_MESSAGE_ATTRIBUTES,
    PROTOCOL_MESSAGE_ATTRIBUTES_RESP_LEN, PROTOCOL_VERSION, PROTOCOL_VERSION_RESP_LEN,
    SYSTEM_POWER_PROTOCOL, SYSTEM_POWER_STATE_SET, SYSTEM_POWER_STATE_SET_RESP_LEN, SystemState,
    is_version_compatible,
};
use crate::smt::{Channel, Completion, Reply, Request};
use crate::{Doorbell, SharedMemory};

/// How far up CPU_OFF powers down, as PSCI's coordination decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffScope {
    /// Only the core (level 0); its cluster stays on.
    Core,
    /// The core and its cluster (levels 0 and 1).
    CoreAndCluster,
}

impl OffScope {
    const fn highest_level(self) -> u8 {
        match self {
            Self::Core => 0,
            Self::CoreAndCluster => 1,
        }
    }
}

/// Versions the SCP reported at [`Scmi::init`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolVersions {
    /// Power domain management protocol.
    pub power_domain: u32,
    /// System power management protocol.
    pub system_power: u32,
}

/// An SCMI client on one channel of a board.
pub struct Scmi<'c, M, D> {
    channel: Channel<M, D>,
    config: &'c Config,
}

impl<'c, M: SharedMemory, D: Doorbell> Scmi<'c, M, D> {
    /// A client for `config` over `channel`, which must be the one at
    /// `config.shared_mem_base` rung as `config` describes.
    pub const fn new(config: &'c Config, channel: Channel<M, D>) -> Self {
        Self { channel, config }
    }

    /// The board facts.
    pub fn config(&self) -> &'c Config {
        self.config
    }

    /// The transport, for other protocols.
    pub fn channel(&mut self) -> &mut Channel<M, D> {
        &mut self.channel
    }

    /// Checks the SCP speaks compatible power domain and system power
    /// protocols, as TF-A's `scmi_init` does before any power request.
    pub fn init(&mut self) -> Result<ProtocolVersions, Error> {
        let power_domain = self.compatible_version(POWER_DOMAIN_PROTOCOL)?;
        let system_power = self.compatible_version(SYSTEM_POWER_PROTOCOL)?;
        Ok(ProtocolVersions {
            power_domain,
            system_power,
        })
    }

    fn compatible_version(&mut self, protocol: u8) -> Result<u32, Error> {
        let version = self.protocol_version(protocol)?;
        if !is_version_compatible(CLIENT_VERSION, version) {
            return Err(Error::IncompatibleVersion { protocol, version });
        }
        Ok(version)
    }

    /// PROTOCOL_VERSION of `protocol` (`scmi_proto_version`).
    pub fn protocol_version(&mut self, protocol: u8) -> Result<u32, Error> {
        let reply = self.channel.send(&Request {
            protocol,
            message: PROTOCOL_VERSION,
            payload: &[],
            response_len: PROTOCOL_VERSION_RESP_LEN,
        })?;
        Ok(done(reply)?.values[0])
    }

    /// PROTOCOL_MESSAGE_ATTRIBUTES of `message` in `protocol`
    /// (`scmi_proto_msg_attr`); `Err(Status(NotFound))` means the SCP does
    /// not implement that message.
    pub fn protocol_message_attributes(&mut self, protocol: u8, message: u8) -> Result<u32, Error> {
        let reply = self.channel.send(&Request {
            protocol,
            message: PROTOCOL_MESSAGE_ATTRIBUTES,
            payload: &[u32::from(message)],
            response_len: PROTOCOL_MESSAGE_ATTRIBUTES_RESP_LEN,
        })?;
        Ok(done(reply)?.values[0])
    }

    /// POWER_STATE_SET of `domain` to `state`, asynchronous as TF-A's
    /// `scmi_pwr_state_set` always asks from the AP.
    pub fn power_state_set(&mut self, domain: u32, state: u32) -> Result<Completion, Error> {
        let reply = self.channel.send(&Request {
            protocol: POWER_DOMAIN_PROTOCOL,
            message: POWER_STATE_SET,
            payload: &[POWER_STATE_SET_ASYNC, domain, state],
            response_len: POWER_STATE_SET_RESP_LEN,
        })?;
        Ok(reply.completion)
    }

    /// POWER_STATE_GET of `domain` (`scmi_pwr_state_get`).
    pub fn power_state_get(&mut self, domain: u32) -> Result<CompositePowerState, Error> {
        let reply = self.channel.send(&Request {
            protocol: POWER_DOMAIN_PROTOCOL,
            message: POWER_STATE_GET,
            payload: &[domain],
            response_len: POWER_STATE_GET_RESP_LEN,
        })?;
        Ok(CompositePowerState(done(reply)?.values[0]))
    }

    /// SYSTEM_POWER_STATE_SET (`scmi_sys_pwr_state_set`); only SUCCESS is
    /// accepted, as in TF-A's `css_scp_system_off`.
    pub fn system_power_state_set(&mut self, flags: u32, state: SystemState) -> Result<(), Error> {
        let reply = self.channel.send(&Request {
            protocol: SYSTEM_POWER_PROTOCOL,
            message: SYSTEM_POWER_STATE_SET,
            payload: &[flags, state as u32],
            response_len: SYSTEM_POWER_STATE_SET_RESP_LEN,
        })?;
        done(reply).map(|_| ())
    }

    /// SCMI power domain id of core `core` on this channel
    /// (`css_scp_core_pos_to_scmi_channel`).
    pub fn domain_of_core(&self, core: usize) -> Result<u32, Error> {
        let entry = self
            .config
            .domain_of(core)
            .ok_or(Error::UnknownCore(core))?;
        if entry.channel != self.config.scmi_channel {
            return Err(Error::ForeignChannel {
                core,
                channel: entry.channel,
            });
        }
        Ok(u32::from(entry.domain))
    }

    /// PSCI CPU_ON of core `core` (TF-A `css_scp_on`): every level up to
    /// `max_power_level` on; SUCCESS or QUEUED accepted.
    pub fn cpu_on(&mut self, core: usize) -> Result<(), Error> {
        let domain = self.domain_of_core(core)?;
        let state = CompositePowerState::cpu_on(self.config.max_power_level)?;
        self.power_state_set(domain, state.bits()).map(|_| ())
    }

    /// PSCI CPU_OFF of core `core`, called by that core, on boards with one
    /// core per cluster, where the cluster always goes off with it.
    pub fn cpu_off(&mut self, core: usize) -> Result<(), Error> {
        if self.config.cpus_per_cluster != 1 {
            return Err(Error::ClusterCoordinationRequired);
        }
        let scope = if self.config.max_power_level >= 1 {
            OffScope::CoreAndCluster
        } else {
            OffScope::Core
        };
        self.cpu_off_scoped(core, scope)
    }

    /// PSCI CPU_OFF of core `core` down to `scope` (TF-A `css_scp_off`);
    /// SUCCESS or QUEUED accepted.
    pub fn cpu_off_scoped(&mut self, core: usize, scope: OffScope) -> Result<(), Error> {
        let domain = self.domain_of_core(core)?;
        let highest = scope.highest_level();
        if highest > self.config.max_power_level {
            return Err(Error::InvalidPowerLevel(highest));
        }
        let state = CompositePowerState::cpu_off(highest)?;
        self.power_state_set(domain, state.bits()).map(|_| ())
    }

    /// PSCI SYSTEM_OFF (TF-A `css_scp_sys_shutdown`). The SCP may cut power
    /// before answering, so a [`Error::Timeout`] can mean success.
    pub fn system_off(&mut self) -> Result<(), Error> {
        self.system_power_state_set(self.config.system_power_flags, SystemState::Shutdown)
    }

    /// PSCI SYSTEM_RESET: cold reset (TF-A `css_scp_sys_reboot`).
    pub fn system_reset(&mut self) -> Result<(), Error> {
        self.system_power_state_set(self.config.system_power_flags, SystemState::ColdReset)
    }

    /// PSCI SYSTEM_RESET2 warm reset (TF-A `css_system_reset2`).
    pub fn system_warm_reset(&mut self) -> Result<(), Error> {
        self.system_power_state_set(self.config.system_power_flags, SystemState::WarmReset)
    }
}

/// Accepts only SUCCESS.
fn done(reply: Reply) -> Result<Reply, Error> {
    match reply.completion {
        Completion::Done => Ok(reply),
        Completion::Queued => Err(Error::Queued),
    }
}
