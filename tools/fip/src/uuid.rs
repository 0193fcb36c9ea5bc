//! FIP entry UUIDs and the names fiptool gives them.
//!
//! The byte values are the `UUID_*` initialisers of TF-A's
//! `include/tools_share/firmware_image_package.h` (v2.15.0). TF-A's
//! `struct uuid` (`include/tools_share/uuid.h`) is made of byte arrays only,
//! so a UUID is stored in a ToC entry exactly in the order its initialiser
//! lists the bytes: no field is byte-swapped. The names in [`KNOWN`] are
//! fiptool's command-line names and descriptions from TF-A's
//! `tools/fiptool/tbbr_config.c`.

use std::fmt::Write as _;

/// A UUID as stored in a ToC entry (16 bytes, in stored order).
pub type Uuid = [u8; 16];

/// The all-zero UUID: marks the end of the ToC.
pub const NULL: Uuid = [0; 16];

/// `UUID_TRUSTED_UPDATE_FIRMWARE_SCP_BL2U`: `65922703-2f74-e644-8dff-579ac1ff0610`.
pub const TRUSTED_UPDATE_FIRMWARE_SCP_BL2U: Uuid = [
    0x65, 0x92, 0x27, 0x03, 0x2f, 0x74, 0xe6, 0x44, 0x8d, 0xff, 0x57, 0x9a, 0xc1, 0xff, 0x06, 0x10,
];
/// `UUID_TRUSTED_UPDATE_FIRMWARE_BL2U`: `60b3eb37-c1e5-ea41-9df3-19eda11f6801`.
pub const TRUSTED_UPDATE_FIRMWARE_BL2U: Uuid = [
    0x60, 0xb3, 0xeb, 0x37, 0xc1, 0xe5, 0xea, 0x41, 0x9d, 0xf3, 0x19, 0xed, 0xa1, 0x1f, 0x68, 0x01,
];
/// `UUID_TRUSTED_UPDATE_FIRMWARE_NS_BL2U`: `4f511d11-2be5-4e49-b4c5-83c2f715840a`.
pub const TRUSTED_UPDATE_FIRMWARE_NS_BL2U: Uuid = [
    0x4f, 0x51, 0x1d, 0x11, 0x2b, 0xe5, 0x4e, 0x49, 0xb4, 0xc5, 0x83, 0xc2, 0xf7, 0x15, 0x84, 0x0a,
];
/// `UUID_TRUSTED_FWU_CERT`: `71408ab2-18d6-874c-8b2e-c6dccd50f096`.
pub const TRUSTED_FWU_CERT: Uuid = [
    0x71, 0x40, 0x8a, 0xb2, 0x18, 0xd6, 0x87, 0x4c, 0x8b, 0x2e, 0xc6, 0xdc, 0xcd, 0x50, 0xf0, 0x96,
];
/// `UUID_CCA_CONTENT_CERT`: `36d83d85-761d-4daf-96f1-cd99d6569b00`.
pub const CCA_CONTENT_CERT: Uuid = [
    0x36, 0xd8, 0x3d, 0x85, 0x76, 0x1d, 0x4d, 0xaf, 0x96, 0xf1, 0xcd, 0x99, 0xd6, 0x56, 0x9b, 0x00,
];
/// `UUID_CORE_SWD_KEY_CERT`: `52222d31-820f-494d-8bbc-ea6825d3c35a`.
pub const CORE_SWD_KEY_CERT: Uuid = [
    0x52, 0x22, 0x2d, 0x31, 0x82, 0x0f, 0x49, 0x4d, 0x8b, 0xbc, 0xea, 0x68, 0x25, 0xd3, 0xc3, 0x5a,
];
/// `UUID_PLAT_KEY_CERT`: `d43cd902-5b9f-412e-8ac6-92b6d18be60d`.
pub const PLAT_KEY_CERT: Uuid = [
    0xd4, 0x3c, 0xd9, 0x02, 0x5b, 0x9f, 0x41, 0x2e, 0x8a, 0xc6, 0x92, 0xb6, 0xd1, 0x8b, 0xe6, 0x0d,
];
/// `UUID_TRUSTED_BOOT_FIRMWARE_BL2`: `5ff9ec0b-4d22-3e4d-a544-c39d81c73f0a`.
pub const TRUSTED_BOOT_FIRMWARE_BL2: Uuid = [
    0x5f, 0xf9, 0xec, 0x0b, 0x4d, 0x22, 0x3e, 0x4d, 0xa5, 0x44, 0xc3, 0x9d, 0x81, 0xc7, 0x3f, 0x0a,
];
/// `UUID_SCP_FIRMWARE_SCP_BL2`: `9766fd3d-89be-e849-ae5d-78a140608213`.
pub const SCP_FIRMWARE_SCP_BL2: Uuid = [
    0x97, 0x66, 0xfd, 0x3d, 0x89, 0xbe, 0xe8, 0x49, 0xae, 0x5d, 0x78, 0xa1, 0x40, 0x60, 0x82, 0x13,
];
/// `UUID_EL3_RUNTIME_FIRMWARE_BL31`: `47d4086d-4cfe-9846-9b95-2950cbbd5a00`.
pub const EL3_RUNTIME_FIRMWARE_BL31: Uuid = [
    0x47, 0xd4, 0x08, 0x6d, 0x4c, 0xfe, 0x98, 0x46, 0x9b, 0x95, 0x29, 0x50, 0xcb, 0xbd, 0x5a, 0x00,
];
/// `UUID_SECURE_PAYLOAD_BL32`: `05d0e189-53dc-1347-8d2b-500a4b7a3e38`.
pub const SECURE_PAYLOAD_BL32: Uuid = [
    0x05, 0xd0, 0xe1, 0x89, 0x53, 0xdc, 0x13, 0x47, 0x8d, 0x2b, 0x50, 0x0a, 0x4b, 0x7a, 0x3e, 0x38,
];
/// `UUID_SECURE_PAYLOAD_BL32_EXTRA1`: `0b70c29b-2a5a-7840-9f65-0a5682738288`.
pub const SECURE_PAYLOAD_BL32_EXTRA1: Uuid = [
    0x0b, 0x70, 0xc2, 0x9b, 0x2a, 0x5a, 0x78, 0x40, 0x9f, 0x65, 0x0a, 0x56, 0x82, 0x73, 0x82, 0x88,
];
/// `UUID_SECURE_PAYLOAD_BL32_EXTRA2`: `8ea87bb1-cfa2-3f4d-85fd-e7bba50220d9`.
pub const SECURE_PAYLOAD_BL32_EXTRA2: Uuid = [
    0x8e, 0xa8, 0x7b, 0xb1, 0xcf, 0xa2, 0x3f, 0x4d, 0x85, 0xfd, 0xe7, 0xbb, 0xa5, 0x02, 0x20, 0xd9,
];
/// `UUID_NON_TRUSTED_FIRMWARE_BL33`: `d6d0eea7-fcea-d54b-9782-9934f234b6e4`.
pub const NON_TRUSTED_FIRMWARE_BL33: Uuid = [
    0xd6, 0xd0, 0xee, 0xa7, 0xfc, 0xea, 0xd5, 0x4b, 0x97, 0x82, 0x99, 0x34, 0xf2, 0x34, 0xb6, 0xe4,
];
/// `UUID_REALM_MONITOR_MGMT_FIRMWARE`: `6c0762a6-12f2-4b56-92cb-ba8f633606d9`.
pub const REALM_MONITOR_MGMT_FIRMWARE: Uuid = [
    0x6c, 0x07, 0x62, 0xa6, 0x12, 0xf2, 0x4b, 0x56, 0x92, 0xcb, 0xba, 0x8f, 0x63, 0x36, 0x06, 0xd9,
];
/// `UUID_ROT_KEY_CERT`: `862d1d72-f860-e411-920b-8be762160f24`.
pub const ROT_KEY_CERT: Uuid = [
    0x86, 0x2d, 0x1d, 0x72, 0xf8, 0x60, 0xe4, 0x11, 0x92, 0x0b, 0x8b, 0xe7, 0x62, 0x16, 0x0f, 0x24,
];
/// `UUID_TRUSTED_KEY_CERT`: `827ee890-f860-e411-a1b4-777a21b4f94c`.
pub const TRUSTED_KEY_CERT: Uuid = [
    0x82, 0x7e, 0xe8, 0x90, 0xf8, 0x60, 0xe4, 0x11, 0xa1, 0xb4, 0x77, 0x7a, 0x21, 0xb4, 0xf9, 0x4c,
];
/// `UUID_NON_TRUSTED_WORLD_KEY_CERT`: `1c67873d-5f63-e411-978d-27c0c7148abd`.
pub const NON_TRUSTED_WORLD_KEY_CERT: Uuid = [
    0x1c, 0x67, 0x87, 0x3d, 0x5f, 0x63, 0xe4, 0x11, 0x97, 0x8d, 0x27, 0xc0, 0xc7, 0x14, 0x8a, 0xbd,
];
/// `UUID_SCP_FW_KEY_CERT`: `024221a1-f860-e411-8d9b-f33c0e15a014`.
pub const SCP_FW_KEY_CERT: Uuid = [
    0x02, 0x42, 0x21, 0xa1, 0xf8, 0x60, 0xe4, 0x11, 0x8d, 0x9b, 0xf3, 0x3c, 0x0e, 0x15, 0xa0, 0x14,
];
/// `UUID_SOC_FW_KEY_CERT`: `8ab8becc-f960-e411-9ad0-eb4822d8dcf8`.
pub const SOC_FW_KEY_CERT: Uuid = [
    0x8a, 0xb8, 0xbe, 0xcc, 0xf9, 0x60, 0xe4, 0x11, 0x9a, 0xd0, 0xeb, 0x48, 0x22, 0xd8, 0xdc, 0xf8,
];
/// `UUID_TRUSTED_OS_FW_KEY_CERT`: `9477d603-fb60-e411-85dd-b7105b8cee04`.
pub const TRUSTED_OS_FW_KEY_CERT: Uuid = [
    0x94, 0x77, 0xd6, 0x03, 0xfb, 0x60, 0xe4, 0x11, 0x85, 0xdd, 0xb7, 0x10, 0x5b, 0x8c, 0xee, 0x04,
];
/// `UUID_NON_TRUSTED_FW_KEY_CERT`: `8ad5832a-fb60-e411-8aaf-df30bbc49859`.
pub const NON_TRUSTED_FW_KEY_CERT: Uuid = [
    0x8a, 0xd5, 0x83, 0x2a, 0xfb, 0x60, 0xe4, 0x11, 0x8a, 0xaf, 0xdf, 0x30, 0xbb, 0xc4, 0x98, 0x59,
];
/// `UUID_TRUSTED_BOOT_FW_CERT`: `d6e269ea-5d63-e411-8d8c-9fbabe9956a5`.
pub const TRUSTED_BOOT_FW_CERT: Uuid = [
    0xd6, 0xe2, 0x69, 0xea, 0x5d, 0x63, 0xe4, 0x11, 0x8d, 0x8c, 0x9f, 0xba, 0xbe, 0x99, 0x56, 0xa5,
];
/// `UUID_SCP_FW_CONTENT_CERT`: `44be6f04-5e63-e411-b28b-73d8eaae9656`.
pub const SCP_FW_CONTENT_CERT: Uuid = [
    0x44, 0xbe, 0x6f, 0x04, 0x5e, 0x63, 0xe4, 0x11, 0xb2, 0x8b, 0x73, 0xd8, 0xea, 0xae, 0x96, 0x56,
];
/// `UUID_SOC_FW_CONTENT_CERT`: `e2b20c20-5e63-e411-9ce8-abccf92bb666`.
pub const SOC_FW_CONTENT_CERT: Uuid = [
    0xe2, 0xb2, 0x0c, 0x20, 0x5e, 0x63, 0xe4, 0x11, 0x9c, 0xe8, 0xab, 0xcc, 0xf9, 0x2b, 0xb6, 0x66,
];
/// `UUID_TRUSTED_OS_FW_CONTENT_CERT`: `a49f4411-5e63-e411-8728-3f05722af33d`.
pub const TRUSTED_OS_FW_CONTENT_CERT: Uuid = [
    0xa4, 0x9f, 0x44, 0x11, 0x5e, 0x63, 0xe4, 0x11, 0x87, 0x28, 0x3f, 0x05, 0x72, 0x2a, 0xf3, 0x3d,
];
/// `UUID_NON_TRUSTED_FW_CONTENT_CERT`: `8ec4c1f3-5d63-e411-a7a9-87ee40b23fa7`.
pub const NON_TRUSTED_FW_CONTENT_CERT: Uuid = [
    0x8e, 0xc4, 0xc1, 0xf3, 0x5d, 0x63, 0xe4, 0x11, 0xa7, 0xa9, 0x87, 0xee, 0x40, 0xb2, 0x3f, 0xa7,
];
/// `UUID_SIP_SECURE_PARTITION_CONTENT_CERT`: `776dfd44-8697-4c3b-91eb-c13e025a2a6f`.
pub const SIP_SECURE_PARTITION_CONTENT_CERT: Uuid = [
    0x77, 0x6d, 0xfd, 0x44, 0x86, 0x97, 0x4c, 0x3b, 0x91, 0xeb, 0xc1, 0x3e, 0x02, 0x5a, 0x2a, 0x6f,
];
/// `UUID_PLAT_SECURE_PARTITION_CONTENT_CERT`: `ddcbbf4a-cad6-11ea-87d0-0242ac130003`.
pub const PLAT_SECURE_PARTITION_CONTENT_CERT: Uuid = [
    0xdd, 0xcb, 0xbf, 0x4a, 0xca, 0xd6, 0x11, 0xea, 0x87, 0xd0, 0x02, 0x42, 0xac, 0x13, 0x00, 0x03,
];
/// `UUID_HW_CONFIG`: `08b8f1d9-c9cf-9349-a962-6fbc6b7265cc`.
pub const HW_CONFIG: Uuid = [
    0x08, 0xb8, 0xf1, 0xd9, 0xc9, 0xcf, 0x93, 0x49, 0xa9, 0x62, 0x6f, 0xbc, 0x6b, 0x72, 0x65, 0xcc,
];
/// `UUID_TB_FW_CONFIG`: `6c0458ff-af6b-7d4f-82ed-aa27bc69bfd2`.
pub const TB_FW_CONFIG: Uuid = [
    0x6c, 0x04, 0x58, 0xff, 0xaf, 0x6b, 0x7d, 0x4f, 0x82, 0xed, 0xaa, 0x27, 0xbc, 0x69, 0xbf, 0xd2,
];
/// `UUID_SOC_FW_CONFIG`: `9979814b-0376-fb46-8c8e-8d267f7859e0`.
pub const SOC_FW_CONFIG: Uuid = [
    0x99, 0x79, 0x81, 0x4b, 0x03, 0x76, 0xfb, 0x46, 0x8c, 0x8e, 0x8d, 0x26, 0x7f, 0x78, 0x59, 0xe0,
];
/// `UUID_TOS_FW_CONFIG`: `26257c1a-dbc6-7f47-8d96-c4c4b0248021`.
pub const TOS_FW_CONFIG: Uuid = [
    0x26, 0x25, 0x7c, 0x1a, 0xdb, 0xc6, 0x7f, 0x47, 0x8d, 0x96, 0xc4, 0xc4, 0xb0, 0x24, 0x80, 0x21,
];
/// `UUID_NT_FW_CONFIG`: `28da9815-93e8-7e44-ac66-1aaf801550f9`.
pub const NT_FW_CONFIG: Uuid = [
    0x28, 0xda, 0x98, 0x15, 0x93, 0xe8, 0x7e, 0x44, 0xac, 0x66, 0x1a, 0xaf, 0x80, 0x15, 0x50, 0xf9,
];
/// `UUID_FW_CONFIG`: `5807e16a-8459-47be-8ed5-648e8dddab0e`.
pub const FW_CONFIG: Uuid = [
    0x58, 0x07, 0xe1, 0x6a, 0x84, 0x59, 0x47, 0xbe, 0x8e, 0xd5, 0x64, 0x8e, 0x8d, 0xdd, 0xab, 0x0e,
];

/// A UUID fiptool knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known {
    /// fiptool's command-line name (`--soc-fw`, `--rmm-fw`, ...), without dashes.
    pub name: &'static str,
    /// The description `fiptool info` prints.
    pub description: &'static str,
    pub uuid: Uuid,
}

/// fiptool's image table, in its order (`tools/fiptool/tbbr_config.c`).
/// [`NON_TRUSTED_WORLD_KEY_CERT`] is defined by the header but absent from
/// that table, so it is not here either.
pub const KNOWN: &[Known] = &[
    Known {
        name: "scp-fwu-cfg",
        description: "SCP Firmware Updater Configuration FWU SCP_BL2U",
        uuid: TRUSTED_UPDATE_FIRMWARE_SCP_BL2U,
    },
    Known {
        name: "ap-fwu-cfg",
        description: "AP Firmware Updater Configuration BL2U",
        uuid: TRUSTED_UPDATE_FIRMWARE_BL2U,
    },
    Known {
        name: "fwu",
        description: "Firmware Updater NS_BL2U",
        uuid: TRUSTED_UPDATE_FIRMWARE_NS_BL2U,
    },
    Known {
        name: "fwu-cert",
        description: "Non-Trusted Firmware Updater certificate",
        uuid: TRUSTED_FWU_CERT,
    },
    Known {
        name: "tb-fw",
        description: "Trusted Boot Firmware BL2",
        uuid: TRUSTED_BOOT_FIRMWARE_BL2,
    },
    Known {
        name: "scp-fw",
        description: "SCP Firmware SCP_BL2",
        uuid: SCP_FIRMWARE_SCP_BL2,
    },
    Known {
        name: "soc-fw",
        description: "EL3 Runtime Firmware BL31",
        uuid: EL3_RUNTIME_FIRMWARE_BL31,
    },
    Known {
        name: "tos-fw",
        description: "Secure Payload BL32 (Trusted OS)",
        uuid: SECURE_PAYLOAD_BL32,
    },
    Known {
        name: "tos-fw-extra1",
        description: "Secure Payload BL32 Extra1 (Trusted OS Extra1)",
        uuid: SECURE_PAYLOAD_BL32_EXTRA1,
    },
    Known {
        name: "tos-fw-extra2",
        description: "Secure Payload BL32 Extra2 (Trusted OS Extra2)",
        uuid: SECURE_PAYLOAD_BL32_EXTRA2,
    },
    Known {
        name: "nt-fw",
        description: "Non-Trusted Firmware BL33",
        uuid: NON_TRUSTED_FIRMWARE_BL33,
    },
    Known {
        name: "rmm-fw",
        description: "Realm Monitor Management Firmware",
        uuid: REALM_MONITOR_MGMT_FIRMWARE,
    },
    Known {
        name: "fw-config",
        description: "FW_CONFIG",
        uuid: FW_CONFIG,
    },
    Known {
        name: "hw-config",
        description: "HW_CONFIG",
        uuid: HW_CONFIG,
    },
    Known {
        name: "tb-fw-config",
        description: "TB_FW_CONFIG",
        uuid: TB_FW_CONFIG,
    },
    Known {
        name: "soc-fw-config",
        description: "SOC_FW_CONFIG",
        uuid: SOC_FW_CONFIG,
    },
    Known {
        name: "tos-fw-config",
        description: "TOS_FW_CONFIG",
        uuid: TOS_FW_CONFIG,
    },
    Known {
        name: "nt-fw-config",
        description: "NT_FW_CONFIG",
        uuid: NT_FW_CONFIG,
    },
    Known {
        name: "rot-cert",
        description: "Root Of Trust key certificate",
        uuid: ROT_KEY_CERT,
    },
    Known {
        name: "trusted-key-cert",
        description: "Trusted key certificate",
        uuid: TRUSTED_KEY_CERT,
    },
    Known {
        name: "scp-fw-key-cert",
        description: "SCP Firmware key certificate",
        uuid: SCP_FW_KEY_CERT,
    },
    Known {
        name: "soc-fw-key-cert",
        description: "SoC Firmware key certificate",
        uuid: SOC_FW_KEY_CERT,
    },
    Known {
        name: "tos-fw-key-cert",
        description: "Trusted OS Firmware key certificate",
        uuid: TRUSTED_OS_FW_KEY_CERT,
    },
    Known {
        name: "nt-fw-key-cert",
        description: "Non-Trusted Firmware key certificate",
        uuid: NON_TRUSTED_FW_KEY_CERT,
    },
    Known {
        name: "tb-fw-cert",
        description: "Trusted Boot Firmware BL2 certificate",
        uuid: TRUSTED_BOOT_FW_CERT,
    },
    Known {
        name: "scp-fw-cert",
        description: "SCP Firmware content certificate",
        uuid: SCP_FW_CONTENT_CERT,
    },
    Known {
        name: "soc-fw-cert",
        description: "SoC Firmware content certificate",
        uuid: SOC_FW_CONTENT_CERT,
    },
    Known {
        name: "tos-fw-cert",
        description: "Trusted OS Firmware content certificate",
        uuid: TRUSTED_OS_FW_CONTENT_CERT,
    },
    Known {
        name: "nt-fw-cert",
        description: "Non-Trusted Firmware content certificate",
        uuid: NON_TRUSTED_FW_CONTENT_CERT,
    },
    Known {
        name: "sip-sp-cert",
        description: "SiP owned Secure Partition content certificate",
        uuid: SIP_SECURE_PARTITION_CONTENT_CERT,
    },
    Known {
        name: "plat-sp-cert",
        description: "Platform owned Secure Partition content certificate",
        uuid: PLAT_SECURE_PARTITION_CONTENT_CERT,
    },
    Known {
        name: "cca-cert",
        description: "CCA Content Certificate",
        uuid: CCA_CONTENT_CERT,
    },
    Known {
        name: "core-swd-cert",
        description: "Core Secure World Key Certificate",
        uuid: CORE_SWD_KEY_CERT,
    },
    Known {
        name: "plat-key-cert",
        description: "Platform Key Certificate",
        uuid: PLAT_KEY_CERT,
    },
];

/// The entry in [`KNOWN`] for `uuid`.
pub fn known(uuid: &Uuid) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.uuid == *uuid)
}

/// fiptool's command-line name for `uuid` (`soc-fw`, `rmm-fw`, ...).
pub fn name_of(uuid: &Uuid) -> Option<&'static str> {
    known(uuid).map(|k| k.name)
}

/// The UUID whose fiptool command-line name is `name`.
pub fn by_name(name: &str) -> Option<Uuid> {
    KNOWN.iter().find(|k| k.name == name).map(|k| k.uuid)
}

/// `uuid` as 8-4-4-4-12 lower-case hex groups of its bytes in stored order,
/// the form TF-A's device trees use (e.g. `bl31_uuid` in
/// `fvp_tb_fw_config.dts`). fiptool's `uuid_to_str` groups the same bytes
/// the same way but in upper case.
pub fn to_string(uuid: &Uuid) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        // Writing to a String cannot fail.
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// Parses the 8-4-4-4-12 form (either case) back into stored-order bytes.
pub fn parse(s: &str) -> Option<Uuid> {
    let s = s.as_bytes();
    if s.len() != 36 || [8, 13, 18, 23].iter().any(|&i| s[i] != b'-') {
        return None;
    }
    let mut digits = s.iter().filter(|&&c| c != b'-');
    let mut uuid = NULL;
    for byte in &mut uuid {
        let hi = (*digits.next()? as char).to_digit(16)?;
        let lo = (*digits.next()? as char).to_digit(16)?;
        *byte = (hi << 4 | lo) as u8;
    }
    digits.next().is_none().then_some(uuid)
}
