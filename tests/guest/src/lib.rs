//! The contract between the realm guest (this crate's binary) and its host,
//! nshost: where the guest lives in IPA space ([`layout`]), what its host
//! calls mean ([`imm`]) and the names of the checks it reports ([`case`]).
//!
//! # Host calls (RSI_HOST_CALL)
//!
//! | imm | guest -> host (gprs) | host -> guest (gprs) |
//! |---|---|---|
//! | [`imm::CASE`] | `[0]` case id, `[1]` 1 pass / 0 fail, `[2..6]` details | - |
//! | [`imm::YIELD`] | - (the REC waits for the other one) | - |
//! | [`imm::IRQ`] | `[0]` vINTID to make pending on the next entry | - |
//! | [`imm::TIMER`] | `[0]` the CNTV_CVAL_EL0 value written (CNTV_CTL = ENABLE \| IMASK) | - |
//! | [`imm::FP`] | - (v0-v31 hold the guest's pattern) | - |
//! | [`imm::ECHO`] | `[i]` = `echo_in(i)` | `[i]` = `!echo_in(i)` for all 31 |
//! | [`imm::DONE`] | `[0]` how many cases the guest reported | - |
//! | [`imm::TOKEN`] | `[0]` token length, `[1..9]` its challenge, `[9]` CNTVCT ticks from INIT to the last CONTINUE, `[10]` CNTFRQ, `[11]` ticks of INIT, `[12]` ticks of the first CONTINUE (the one that signs) (the token itself went byte-wise to [`layout::TOKEN_PORT`]) | - |
//! | [`imm::BENCH`] | `[0]` n > 0: the next n REC_ENTERs are measured, each ends on a host call `BENCH` with `[0]` = 0 | - |
//! | [`imm::FATAL`] | `[0]` ESR_EL1, `[1]` ELR_EL1, `[2]` FAR_EL1 (0 for a panic) | - |
//!
//! The guest prints text on the console MMIO page ([`layout::CONSOLE`]).
#![no_std]

pub mod layout;

/// RsiHostCall immediates.
pub mod imm {
    pub const CASE: u16 = 1;
    pub const YIELD: u16 = 2;
    pub const IRQ: u16 = 3;
    pub const TIMER: u16 = 4;
    pub const FP: u16 = 5;
    pub const ECHO: u16 = 6;
    pub const DONE: u16 = 7;
    pub const TOKEN: u16 = 8;
    pub const BENCH: u16 = 9;
    /// Arm (1) or disarm (0) the host timer that wakes the guest's WFI.
    pub const WFI: u16 = 10;
    pub const FATAL: u16 = 0xff;
}

/// REC 0's x0 and x7 at its first entry (RmiRecParams gprs).
pub const BOOT_X0: u64 = 0x6765_7374_0000_0000;
pub const BOOT_X7: u64 = 0x6765_7374_0000_0007;
/// The context id the guest passes to PSCI CPU_ON for REC 1.
pub const CPU_ON_CONTEXT: u64 = 0xc0de_0001_2345_6789;
/// The virtual interrupt the guest asks for (an SPI).
pub const VIRQ_INTID: u64 = 42;
/// Measured rounds of each call in the guest's benchmark phase (`cargo
/// xtask bench`), and the most a host accepts.
pub const BENCH_ROUNDS: u32 = 3;
pub const BENCH_MAX_ROUNDS: u32 = 8;
/// The first line the guest prints.
pub const GREETING: &str = "hello from REC 0";

/// Byte `i` of the Realm Personalization Value the host gives the realm.
pub const fn rpv_byte(i: usize) -> u8 {
    0xa5 ^ (i as u8).wrapping_mul(7)
}

/// What the guest sends in host call [`imm::ECHO`] register `i`.
pub const fn echo_in(i: usize) -> u64 {
    0xec40_0000_0000_0000 | ((i as u64) << 8) | i as u64
}

/// The checks the guest reports with [`imm::CASE`]: `NAMES[id]`.
pub mod case {
    pub const BOOT: u8 = 0;
    pub const RSI_VERSION: u8 = 1;
    pub const RSI_FEATURES: u8 = 2;
    pub const REALM_CONFIG: u8 = 3;
    pub const REALM_CONFIG_ERRORS: u8 = 4;
    pub const MEASUREMENT_READ: u8 = 5;
    pub const MEASUREMENT_EXTEND: u8 = 6;
    pub const MEASUREMENT_ERRORS: u8 = 7;
    pub const IPA_STATE_GET: u8 = 8;
    pub const IPA_STATE_SET_ERRORS: u8 = 9;
    pub const RIPAS_RAM_TO_EMPTY: u8 = 10;
    pub const RIPAS_EMPTY_TO_RAM: u8 = 11;
    pub const RIPAS_REJECTED: u8 = 12;
    pub const HOST_CALL: u8 = 13;
    pub const HOST_CALL_ERRORS: u8 = 14;
    pub const UNKNOWN_FID: u8 = 15;
    pub const EMPTY_PAGE_SEA: u8 = 16;
    pub const UNASSIGNED_RAM: u8 = 17;
    pub const MMIO_READ: u8 = 18;
    pub const PSCI_VERSION: u8 = 19;
    pub const CPU_ON_DENIED: u8 = 20;
    pub const CPU_ON: u8 = 21;
    pub const SECONDARY_ENTRY: u8 = 22;
    pub const AFFINITY_INFO: u8 = 23;
    pub const CPU_ON_ALREADY_ON: u8 = 24;
    pub const VIRTUAL_IRQ: u8 = 25;
    pub const FP_PRESERVED: u8 = 26;
    pub const ATTESTATION_ERRORS: u8 = 27;
    pub const ATTESTATION_TOKEN: u8 = 28;
    pub const BENCH: u8 = 29;
    pub const WFI: u8 = 30;

    pub const COUNT: usize = 31;

    pub const NAMES: [&str; COUNT] = [
        "guest_boot",
        "rsi_version",
        "rsi_features",
        "rsi_realm_config",
        "rsi_realm_config_errors",
        "rsi_measurement_read",
        "rsi_measurement_extend",
        "rsi_measurement_errors",
        "rsi_ipa_state_get",
        "rsi_ipa_state_set_errors",
        "rsi_ripas_ram_to_empty",
        "rsi_ripas_empty_to_ram",
        "rsi_ripas_change_rejected",
        "rsi_host_call",
        "rsi_host_call_errors",
        "rsi_unknown_fid",
        "guest_empty_page_sea",
        "guest_unassigned_ram_mapped",
        "guest_mmio_read",
        "guest_psci_version_features",
        "guest_psci_cpu_on_denied",
        "guest_psci_cpu_on",
        "guest_secondary_entry",
        "guest_psci_affinity_info",
        "guest_psci_cpu_on_already_on",
        "guest_virtual_irq",
        "guest_fp_preserved",
        "rsi_attestation_errors",
        "rsi_attestation_token",
        "guest_bench_calls",
        "guest_wfi_not_trapped",
    ];
}
