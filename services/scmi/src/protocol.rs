//! Protocol and message ids, lengths and flags root uses, with TF-A's names
//! (`include/drivers/arm/css/scmi.h`, `drivers/arm/css/scmi/scmi_private.h`).
//! Lengths count the 4-byte header plus the payload, in bytes.

/// Base protocol (`SCMI_BASE_PROTO_ID`).
pub const BASE_PROTOCOL: u8 = 0x10;
/// Power domain management protocol (`SCMI_PWR_DMN_PROTO_ID`).
pub const POWER_DOMAIN_PROTOCOL: u8 = 0x11;
/// System power management protocol (`SCMI_SYS_PWR_PROTO_ID`).
pub const SYSTEM_POWER_PROTOCOL: u8 = 0x12;

/// PROTOCOL_VERSION, in every protocol (`SCMI_PROTO_VERSION_MSG`).
pub const PROTOCOL_VERSION: u8 = 0x0;
/// PROTOCOL_ATTRIBUTES (`SCMI_PROTO_ATTR_MSG`).
pub const PROTOCOL_ATTRIBUTES: u8 = 0x1;
/// PROTOCOL_MESSAGE_ATTRIBUTES (`SCMI_PROTO_MSG_ATTR_MSG`).
pub const PROTOCOL_MESSAGE_ATTRIBUTES: u8 = 0x2;
/// POWER_STATE_SET (`SCMI_PWR_STATE_SET_MSG`).
pub const POWER_STATE_SET: u8 = 0x4;
/// POWER_STATE_GET (`SCMI_PWR_STATE_GET_MSG`).
pub const POWER_STATE_GET: u8 = 0x5;
/// SYSTEM_POWER_STATE_SET (`SCMI_SYS_PWR_STATE_SET_MSG`).
pub const SYSTEM_POWER_STATE_SET: u8 = 0x3;
/// SYSTEM_POWER_STATE_GET (`SCMI_SYS_PWR_STATE_GET_MSG`).
pub const SYSTEM_POWER_STATE_GET: u8 = 0x4;

/// `SCMI_PROTO_VERSION_MSG_LEN`.
pub const PROTOCOL_VERSION_MSG_LEN: u32 = 4;
/// `SCMI_PROTO_VERSION_RESP_LEN`: status, version.
pub const PROTOCOL_VERSION_RESP_LEN: u32 = 12;
/// `SCMI_PROTO_MSG_ATTR_MSG_LEN`: message id.
pub const PROTOCOL_MESSAGE_ATTRIBUTES_MSG_LEN: u32 = 8;
/// `SCMI_PROTO_MSG_ATTR_RESP_LEN`: status, attributes.
pub const PROTOCOL_MESSAGE_ATTRIBUTES_RESP_LEN: u32 = 12;
/// `SCMI_PWR_STATE_SET_MSG_LEN`: flags, domain, state.
pub const POWER_STATE_SET_MSG_LEN: u32 = 16;
/// `SCMI_PWR_STATE_SET_RESP_LEN`: status.
pub const POWER_STATE_SET_RESP_LEN: u32 = 8;
/// `SCMI_PWR_STATE_GET_MSG_LEN`: domain.
pub const POWER_STATE_GET_MSG_LEN: u32 = 8;
/// `SCMI_PWR_STATE_GET_RESP_LEN`: status, state.
pub const POWER_STATE_GET_RESP_LEN: u32 = 12;
/// `SCMI_SYS_PWR_STATE_SET_MSG_LEN`: flags, state.
pub const SYSTEM_POWER_STATE_SET_MSG_LEN: u32 = 12;
/// `SCMI_SYS_PWR_STATE_SET_RESP_LEN`: status.
pub const SYSTEM_POWER_STATE_SET_RESP_LEN: u32 = 8;

/// POWER_STATE_SET flags: synchronous (`SCMI_PWR_STATE_SET_FLAG_SYNC`).
pub const POWER_STATE_SET_SYNC: u32 = 0;
/// POWER_STATE_SET flags: asynchronous (`SCMI_PWR_STATE_SET_FLAG_ASYNC`),
/// the only mode TF-A uses from application processors.
pub const POWER_STATE_SET_ASYNC: u32 = 1;

/// SYSTEM_POWER_STATE_SET flags: forceful (`SCMI_SYS_PWR_FORCEFUL_REQ`).
pub const SYSTEM_POWER_FORCEFUL: u32 = 0;
/// SYSTEM_POWER_STATE_SET flags: graceful (`SCMI_SYS_PWR_GRACEFUL_REQ`).
pub const SYSTEM_POWER_GRACEFUL: u32 = 1;

/// PROTOCOL_MESSAGE_ATTRIBUTES of SYSTEM_POWER_STATE_SET: warm reset
/// supported (`SCMI_SYS_PWR_WARM_RESET_SUPPORTED`).
pub const SYSTEM_POWER_WARM_RESET_SUPPORTED: u32 = 1 << 31;
/// PROTOCOL_MESSAGE_ATTRIBUTES of SYSTEM_POWER_STATE_SET: suspend supported
/// (`SCMI_SYS_PWR_SUSPEND_SUPPORTED`).
pub const SYSTEM_POWER_SUSPEND_SUPPORTED: u32 = 1 << 30;

/// Version the client implements for the power domain and system power
/// protocols (`SCMI_PWR_DMN_PROTO_VER`, `SCMI_SYS_PWR_PROTO_VER`: 3.0).
pub const CLIENT_VERSION: u32 = make_version(3, 0);

/// A protocol version word: major in `[31:16]`, minor in `[15:0]`
/// (`MAKE_SCMI_VERSION`).
pub const fn make_version(major: u16, minor: u16) -> u32 {
    ((major as u32) << 16) | minor as u32
}

/// Whether a client at `client` can talk to a platform at `platform`
/// (`is_scmi_version_compatible`): the platform's major is lower, or equal
/// with a minor at least the client's.
pub const fn is_version_compatible(client: u32, platform: u32) -> bool {
    let (client_major, client_minor) = (client >> 16, client & 0xFFFF);
    let (platform_major, platform_minor) = (platform >> 16, platform & 0xFFFF);
    client_major > platform_major
        || (client_major == platform_major && client_minor <= platform_minor)
}

/// The `system_state` of SYSTEM_POWER_STATE_SET (`SCMI_SYS_PWR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum SystemState {
    /// `SCMI_SYS_PWR_SHUTDOWN`: PSCI SYSTEM_OFF.
    Shutdown = 0,
    /// `SCMI_SYS_PWR_COLD_RESET`: PSCI SYSTEM_RESET.
    ColdReset = 1,
    /// `SCMI_SYS_PWR_WARM_RESET`: PSCI SYSTEM_RESET2 warm reset.
    WarmReset = 2,
    /// `SCMI_SYS_PWR_POWER_UP`.
    PowerUp = 3,
    /// `SCMI_SYS_PWR_SUSPEND`.
    Suspend = 4,
}
