//! SMC Calling Convention (Arm DEN0028, SMCCC 1.2) function IDs, PSCI 1.1
//! (Arm DEN0022) function IDs and status codes, and the routing decision the
//! EL3 SMC front end makes for every call.

/// SMCCC_VERSION: v1.2.
pub const SMCCC_VERSION: u32 = 0x8000_0000;
pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
pub const SMCCC_ARCH_SOC_ID: u32 = 0x8000_0002;
/// The value SMCCC_VERSION returns: major 1, minor 2.
pub const SMCCC_VERSION_1_2: u64 = 0x1_0002;
/// NOT_SUPPORTED / SMC_UNKNOWN, as a 64-bit register value.
pub const SMC_UNKNOWN: u64 = -1i64 as u64;

/// The SVE live-state hint of SMCCC 1.3 and later (DEN0028, function
/// identifier bit 16): set by a caller that has no live SVE state beyond
/// what SMCCC preserves anyway (V0-V31's low 128 bits), so the callee need
/// not save Z's upper bits, P0-P15 or FFR. It is a property of the call,
/// not of the function: every Fast Call may carry it, and a callee that
/// does not touch SVE state handles the call as if it were clear.
pub const SVE_HINT: u32 = 1 << 16;

/// The function a call names: the low 32 bits of x0 (DEN0028 2.5) without
/// the SVE hint.
pub const fn function_id(x0: u64) -> u32 {
    x0 as u32 & !SVE_HINT
}

/// Whether the caller set the SVE live-state hint ([`SVE_HINT`]).
pub const fn sve_hint(x0: u64) -> bool {
    x0 as u32 & SVE_HINT != 0
}

pub const PSCI_VERSION: u32 = 0x8400_0000;
pub const PSCI_CPU_SUSPEND_64: u32 = 0xc400_0001;
pub const PSCI_CPU_OFF: u32 = 0x8400_0002;
pub const PSCI_CPU_ON_64: u32 = 0xc400_0003;
pub const PSCI_AFFINITY_INFO_64: u32 = 0xc400_0004;
pub const PSCI_MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
pub const PSCI_SYSTEM_OFF: u32 = 0x8400_0008;
pub const PSCI_SYSTEM_RESET: u32 = 0x8400_0009;
pub const PSCI_FEATURES: u32 = 0x8400_000a;
/// PSCI_VERSION's answer: 1.1.
pub const PSCI_VERSION_1_1: u64 = 0x1_0001;
/// MIGRATE_INFO_TYPE: "Trusted OS is either not present or does not require migration".
pub const MIGRATE_TYPE_NOT_PRESENT: u64 = 2;

/// The PSCI functions the Normal world may call at EL3.
pub const PSCI_NS_FUNCTIONS: [u32; 8] = [
    PSCI_VERSION,
    PSCI_CPU_OFF,
    PSCI_CPU_ON_64,
    PSCI_AFFINITY_INFO_64,
    PSCI_MIGRATE_INFO_TYPE,
    PSCI_SYSTEM_OFF,
    PSCI_SYSTEM_RESET,
    PSCI_FEATURES,
];

/// PSCI return codes (DEN0022 5.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(i32)]
pub enum PsciError {
    NotSupported = -1,
    InvalidParameters = -2,
    Denied = -3,
    AlreadyOn = -4,
    OnPending = -5,
    InternalFailure = -6,
    NotPresent = -7,
    Disabled = -8,
    InvalidAddress = -9,
}

impl PsciError {
    /// The register value the caller sees (sign-extended).
    pub const fn reg(self) -> u64 {
        self as i32 as i64 as u64
    }
}

/// RMI function IDs: 0xC4000150..=0xC400018F (RMM spec 1.0, B4.3).
pub const RMI_FIRST: u32 = 0xc400_0150;
pub const RMI_LAST: u32 = 0xc400_018f;
/// RMI_VERSION (RMM spec 1.0, B4.3.16).
pub const RMI_VERSION: u32 = 0xc400_0150;
/// RSI function IDs are handled inside the RMM and never reach EL3.
pub const RSI_FIRST: u32 = 0xc400_0190;
pub const RSI_LAST: u32 = 0xc400_01af;

/// Which world made the SMC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum World {
    NonSecure,
    Realm,
}

/// What EL3 does with a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Route {
    /// SMCCC architecture calls, answered at EL3.
    Arch,
    /// PSCI, answered at EL3 (Normal world only; the RMM answers realms).
    Psci,
    /// RMI: forwarded to the RMM.
    ForwardToRmm,
    /// An RMM-EL3 interface call (from the RMM only).
    RmmEl3,
    /// Anything else: SMC_UNKNOWN with no state change.
    Unknown,
}

/// Routes a function ID (the low 32 bits of x0, SMCCC 2.5) from a world.
/// The SVE hint ([`SVE_HINT`]) does not change the route: EL3 answers its
/// own calls without touching SVE state, and an RMI call reaches the RMM
/// with the hint still in x0 (as TF-A's RMMD forwards it), because the RMM
/// is the callee that decides what to save.
pub fn route(fid: u32, from: World) -> Route {
    match (fid & !SVE_HINT, from) {
        (SMCCC_VERSION | SMCCC_ARCH_FEATURES, _) => Route::Arch,
        (f, World::NonSecure) if PSCI_NS_FUNCTIONS.contains(&f) => Route::Psci,
        (RMI_FIRST..=RMI_LAST, World::NonSecure) => Route::ForwardToRmm,
        (f, World::Realm) if crate::rmm_el3::is_rmm_el3_fid(f) => Route::RmmEl3,
        // Rampart's vendor EL3 calls for the RMM's trace ring.
        (f, World::Realm) if crate::trace::is_ring_fid(f) => Route::RmmEl3,
        _ => Route::Unknown,
    }
}

/// SMCCC_ARCH_FEATURES (DEN0028 7.2): 0 for an implemented architecture
/// call, NOT_SUPPORTED otherwise.
pub fn arch_features(queried: u32) -> u64 {
    match queried {
        SMCCC_VERSION | SMCCC_ARCH_FEATURES => 0,
        _ => SMC_UNKNOWN,
    }
}

/// PSCI_FEATURES (DEN0022 5.1.14): 0 (no feature flags) for a function the
/// Normal world may call and for SMCCC_VERSION, NOT_SUPPORTED otherwise.
pub fn psci_features(queried: u32) -> u64 {
    if queried == SMCCC_VERSION || PSCI_NS_FUNCTIONS.contains(&queried) {
        0
    } else {
        PsciError::NotSupported.reg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rmm_el3;

    #[test]
    fn routes_by_world() {
        assert_eq!(route(SMCCC_VERSION, World::NonSecure), Route::Arch);
        assert_eq!(route(SMCCC_VERSION, World::Realm), Route::Arch);
        assert_eq!(route(PSCI_CPU_ON_64, World::NonSecure), Route::Psci);
        // Realms' PSCI goes through the RMM, never straight to EL3.
        assert_eq!(route(PSCI_CPU_ON_64, World::Realm), Route::Unknown);
        assert_eq!(route(RMI_VERSION, World::NonSecure), Route::ForwardToRmm);
        assert_eq!(route(RMI_LAST, World::NonSecure), Route::ForwardToRmm);
        assert_eq!(route(RMI_VERSION, World::Realm), Route::Unknown);
        assert_eq!(route(rmm_el3::GTSI_DELEGATE, World::Realm), Route::RmmEl3);
        assert_eq!(
            route(rmm_el3::GTSI_DELEGATE, World::NonSecure),
            Route::Unknown
        );
        assert_eq!(
            route(rmm_el3::BOOT_COMPLETE, World::NonSecure),
            Route::Unknown
        );
        let register = crate::trace::FID_RING_REGISTER;
        assert_eq!(route(register, World::Realm), Route::RmmEl3);
        assert_eq!(route(register, World::NonSecure), Route::Unknown);
    }

    #[test]
    fn sve_hint_does_not_change_the_route() {
        let calls = [
            (SMCCC_VERSION, World::NonSecure),
            (SMCCC_ARCH_FEATURES, World::Realm),
            (RMI_LAST, World::NonSecure),
            (rmm_el3::GTSI_DELEGATE, World::Realm),
            (RMI_VERSION, World::Realm),
            (SMCCC_ARCH_SOC_ID, World::NonSecure),
        ];
        for (fid, world) in calls
            .into_iter()
            .chain(PSCI_NS_FUNCTIONS.map(|f| (f, World::NonSecure)))
        {
            assert_eq!(route(fid | SVE_HINT, world), route(fid, world), "{fid:#x}");
        }
        for fid in RMI_FIRST..=RMI_LAST {
            assert_eq!(route(fid | SVE_HINT, World::NonSecure), Route::ForwardToRmm);
        }
        assert_eq!(
            function_id(u64::from(PSCI_CPU_ON_64 | SVE_HINT)),
            PSCI_CPU_ON_64
        );
        // Only the low 32 bits of x0 name the function.
        assert_eq!(
            function_id(0xffff_ffff_0000_0000 | u64::from(RMI_VERSION)),
            RMI_VERSION
        );
        assert!(sve_hint(u64::from(RMI_VERSION | SVE_HINT)));
        assert!(!sve_hint(u64::from(RMI_VERSION)));
        // Bits 23:17 stay reserved: with any of them set a call is unknown.
        for bit in 17..24 {
            assert_eq!(
                route(RMI_VERSION | 1 << bit, World::NonSecure),
                Route::Unknown
            );
            assert_eq!(
                route(PSCI_VERSION | 1 << bit, World::NonSecure),
                Route::Unknown
            );
            assert_eq!(
                route(SMCCC_VERSION | 1 << bit, World::NonSecure),
                Route::Unknown
            );
        }
    }

    #[test]
    fn unknown_fids_are_unknown() {
        for fid in [
            0u32,
            0xffff_ffff,
            0x8400_001f,
            0xc400_0190,
            0xc400_01af,
            0x0400_0150,
            0xc500_0000,
            SMCCC_ARCH_SOC_ID,
            PSCI_CPU_SUSPEND_64,
        ] {
            assert_eq!(route(fid, World::NonSecure), Route::Unknown, "{fid:#x}");
        }
        assert_eq!(route(0xc400_0191, World::Realm), Route::Unknown);
    }

    #[test]
    fn feature_queries() {
        assert_eq!(arch_features(SMCCC_VERSION), 0);
        assert_eq!(arch_features(SMCCC_ARCH_FEATURES), 0);
        assert_eq!(arch_features(SMCCC_ARCH_SOC_ID), SMC_UNKNOWN);
        assert_eq!(arch_features(PSCI_VERSION), SMC_UNKNOWN);
        for f in PSCI_NS_FUNCTIONS {
            assert_eq!(psci_features(f), 0);
        }
        assert_eq!(psci_features(SMCCC_VERSION), 0);
        assert_eq!(
            psci_features(PSCI_CPU_SUSPEND_64),
            PsciError::NotSupported.reg()
        );
        assert_eq!(psci_features(RMI_VERSION), PsciError::NotSupported.reg());
        assert_eq!(PsciError::InvalidAddress.reg(), (-9i64) as u64);
    }
}
