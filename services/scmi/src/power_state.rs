//! The composite power state of POWER_STATE_SET on Arm CSS platforms.
//!
//! TF-A (`drivers/arm/css/scp/css_pm_scmi.c`, `SCMI_SET_PWR_STATE_LVL`,
//! `SCMI_SET_PWR_STATE_MAX_PWR_LVL`): one 4-bit local state per power level
//! (level 0 = core in bits `[3:0]`, level 1 = cluster in `[7:4]`, up to level 3),
//! and in bits `[19:16]` the highest level that carries a state.

use crate::error::Error;

/// A level's local state (TF-A's `scmi_power_state_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum LocalState {
    /// `scmi_power_state_off`.
    Off = 0,
    /// `scmi_power_state_on`.
    On = 1,
    /// `scmi_power_state_sleep` (suspend; not used by root today).
    Sleep = 2,
}

/// Width of one level's state (`SCMI_PWR_STATE_LVL_WIDTH`).
pub const LEVEL_WIDTH: u32 = 4;
/// Mask of one level's state (`SCMI_PWR_STATE_LVL_MASK`).
pub const LEVEL_MASK: u32 = 0xF;
/// Shift of the max-level field (`SCMI_PWR_STATE_MAX_PWR_LVL_SHIFT`).
pub const MAX_LEVEL_SHIFT: u32 = 16;
/// Mask of the max-level field (`SCMI_PWR_STATE_MAX_PWR_LVL_MASK`).
pub const MAX_LEVEL_MASK: u32 = 0xF;
/// Highest level the 16 state bits hold.
pub const HIGHEST_LEVEL: u8 = 3;

/// A composite power state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompositePowerState(pub u32);

impl CompositePowerState {
    /// `states[level]` for levels 0..states.len(), max level
    /// `states.len() - 1`.
    pub fn new(states: &[LocalState]) -> Result<Self, Error> {
        let Some(max_level) = states.len().checked_sub(1) else {
            return Err(Error::InvalidPowerLevel(0));
        };
        if max_level > HIGHEST_LEVEL as usize {
            return Err(Error::InvalidPowerLevel(
                u8::try_from(max_level).unwrap_or(u8::MAX),
            ));
        }
        let mut word = (max_level as u32 & MAX_LEVEL_MASK) << MAX_LEVEL_SHIFT;
        for (level, state) in states.iter().enumerate() {
            word |= (*state as u32 & LEVEL_MASK) << (LEVEL_WIDTH * level as u32);
        }
        Ok(Self(word))
    }

    /// CPU_ON (TF-A `css_scp_on`): every level from the core up to
    /// `max_power_level` (`PLAT_MAX_PWR_LVL`) on.
    pub fn cpu_on(max_power_level: u8) -> Result<Self, Error> {
        Self::uniform(LocalState::On, max_power_level)
    }

    /// CPU_OFF (TF-A `css_scp_off`): every level from the core up to
    /// `highest_off_level` off, which is also the max level. PSCI's
    /// coordination decides that level: 0 if the cluster stays on, 1 if the
    /// cluster goes off with its last core.
    pub fn cpu_off(highest_off_level: u8) -> Result<Self, Error> {
        Self::uniform(LocalState::Off, highest_off_level)
    }

    fn uniform(state: LocalState, max_level: u8) -> Result<Self, Error> {
        if max_level > HIGHEST_LEVEL {
            return Err(Error::InvalidPowerLevel(max_level));
        }
        let states = [state; HIGHEST_LEVEL as usize + 1];
        Self::new(&states[..=max_level as usize])
    }

    /// The wire word.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The max-level field (`SCMI_GET_PWR_STATE_MAX_PWR_LVL`).
    pub const fn max_level(self) -> u8 {
        ((self.0 >> MAX_LEVEL_SHIFT) & MAX_LEVEL_MASK) as u8
    }

    /// The raw 4-bit state of `level` (`SCMI_GET_PWR_STATE_LVL`), or `None`
    /// above the max level or the encoding.
    pub const fn level(self, level: u8) -> Option<u8> {
        if level > self.max_level() || level > HIGHEST_LEVEL {
            return None;
        }
        Some(((self.0 >> (LEVEL_WIDTH * level as u32)) & LEVEL_MASK) as u8)
    }

    /// Whether `level` is on, as TF-A's `css_scp_get_power_state` reads a
    /// POWER_STATE_GET answer: levels above the max level count as on.
    pub const fn is_level_on(self, level: u8) -> bool {
        match self.level(level) {
            Some(state) => state == LocalState::On as u8,
            None => true,
        }
    }
}
