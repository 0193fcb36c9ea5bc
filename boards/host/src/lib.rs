//! The simulated board host tests run against: the same [`BoardInfo`] shape
//! as a real board, with small regions so that tests can hold "physical
//! memory" in a buffer ([`Memory`]) and GPT tables in a vector.

use rampart_board::{
    AttestationSource, BoardInfo, DevelopmentAttestation, FlashBoot, Gic, Gpi, GptConfig,
    PasRegion, PlatformIdentity, PowerControl, Range, RmmTrace, RootBoot, RootLayout, Topology,
    Uart, lifecycle,
};

const MB: u64 = 1 << 20;

pub const ROOT_RAM: Range = Range::new(0x0e00_0000, MB);
pub const GPT_TABLES: Range = Range::new(0x0e10_0000, MB);
pub const DRAM: Range = Range::new(0x4000_0000, 64 * MB);
pub const RMM: Range = Range::new(0x4010_0000, 8 * MB);

/// The simulated board's attestation secret: a development secret like
/// qemu-virt's (public, tokens forgeable), different so that tests notice
/// a board mix-up.
pub const DEVELOPMENT_ATTESTATION_SECRET: [u8; 32] = *b"rampart host-board DEV SECRET v1";

pub const PLATFORM_IDENTITY: PlatformIdentity = PlatformIdentity {
    implementation_id: *b"rampart/host/simulated-board/v1\0",
    config: &[0xcf, 0x01],
    lifecycle: lifecycle::ASSEMBLY_AND_TEST,
    verification_service: Some("http://localhost:8080"),
};

static DRAM_BANKS: [Range; 1] = [DRAM];

static PAS_MAP: [PasRegion; 6] = [
    PasRegion {
        name: "uart",
        range: Range::new(0x0900_0000, 0x1000),
        gpi: Gpi::NonSecure,
    },
    PasRegion {
        name: "root ram",
        range: ROOT_RAM,
        gpi: Gpi::Root,
    },
    PasRegion {
        name: "gpt tables",
        range: GPT_TABLES,
        gpi: Gpi::Root,
    },
    PasRegion {
        name: "ns dram (below rmm)",
        range: Range::new(DRAM.base, RMM.base - DRAM.base),
        gpi: Gpi::NonSecure,
    },
    PasRegion {
        name: "rmm",
        range: RMM,
        gpi: Gpi::Realm,
    },
    PasRegion {
        name: "ns dram",
        range: Range::new(RMM.base + RMM.size, DRAM.end() - RMM.end()),
        gpi: Gpi::NonSecure,
    },
];

pub static BOARD: BoardInfo = BoardInfo {
    name: "host",
    topology: Topology {
        cpu_count: 4,
        cores_per_cluster: 16,
        mpidr_shifted: false,
    },
    dram: &DRAM_BANKS,
    rmm: RMM,
    rmm_shared_page: RMM.base + RMM.size - 0x1000,
    ns_entry: RMM.base + RMM.size,
    root: RootLayout {
        ram: ROOT_RAM,
        boot: RootBoot::ResetVector(FlashBoot {
            flash: Range::new(0, 4 * MB),
            package_offset: MB,
            hold_pen: ROOT_RAM.base,
        }),
    },
    gpt: GptConfig {
        pps_bits: 32,
        l0_gpt_size_bits: 30,
        tables: GPT_TABLES,
    },
    pas_map: &PAS_MAP,
    root_trace_uart: Uart {
        base: 0x0900_0000,
        clock_hz: 0,
    },
    rmm_trace: RmmTrace::RootRing,
    ns_console: Uart {
        base: 0x0900_0000,
        clock_hz: 0,
    },
    rmm_console: Uart {
        base: 0x0900_0000,
        clock_hz: 0,
    },
    trace_lock: Some(DRAM.base),
    gic: Gic {
        distributor: 0x0800_0000,
        redistributors: 0x080a_0000,
        redistributor_stride: 0x2_0000,
    },
    gpc_smmus: &[],
    counter_hz: 1_000_000_000,
    power: PowerControl::None,
    attestation: AttestationSource::DevelopmentSecret(DevelopmentAttestation {
        secret: &DEVELOPMENT_ATTESTATION_SECRET,
        identity: PLATFORM_IDENTITY,
    }),
};

/// A window of simulated physical memory.
pub struct Memory {
    base: u64,
    bytes: Vec<u8>,
}

impl Memory {
    pub fn new(range: Range) -> Self {
        Self {
            base: range.base,
            bytes: vec![0; range.size as usize],
        }
    }

    /// The bytes at `[pa, pa + len)`, or None outside the window.
    pub fn slice(&self, pa: u64, len: usize) -> Option<&[u8]> {
        let start = pa.checked_sub(self.base)? as usize;
        self.bytes.get(start..start.checked_add(len)?)
    }

    pub fn slice_mut(&mut self, pa: u64, len: usize) -> Option<&mut [u8]> {
        let start = pa.checked_sub(self.base)? as usize;
        self.bytes.get_mut(start..start.checked_add(len)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_window_bounds() {
        let mut m = Memory::new(Range::new(0x1000, 0x2000));
        m.slice_mut(0x1ff0, 16).unwrap().fill(7);
        assert_eq!(m.slice(0x1ff8, 8).unwrap(), &[7; 8]);
        assert!(m.slice(0x2ff9, 8).is_none());
        assert!(m.slice(0xfff, 1).is_none());
        assert!(m.slice(u64::MAX, 2).is_none());
    }

    #[test]
    fn pas_map_is_disjoint() {
        for w in PAS_MAP.windows(2) {
            assert!(w[0].range.end() <= w[1].range.base);
        }
    }
}

/// The simulated machine behind RMM host tests: DRAM as a buffer and a
/// fake granule protection check that tracks each granule's PAS. It plays
/// both EL3 (GTSI delegate/undelegate) and the kernel's leases, and faults
/// an access in the wrong PAS the way the GPC would.
pub mod sim {
    use super::DRAM;
    use rampart_ipc::lease::{GRANULE_SIZE, Granule, LeaseError, Leases};
    use rampart_ipc::rmi::FeatureRegister0;
    use rampart_ipc::rmm_el3::{Gtsi, RmmEl3Status};
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum SimPas {
        NonSecure,
        Realm,
    }

    #[derive(Default)]
    struct State {
        pages: HashMap<u64, Box<Granule>>,
        realm: std::collections::HashSet<u64>,
        /// Count of leases granted, to check that failed commands touch nothing.
        leases: u64,
    }

    /// Cheap to clone: clones share the machine.
    #[derive(Clone, Default)]
    pub struct Machine(Rc<RefCell<State>>);

    fn granule_of(pa: u64) -> Result<u64, LeaseError> {
        if !pa.is_multiple_of(GRANULE_SIZE as u64) || !DRAM.contains(pa) {
            return Err(LeaseError::BadAddress);
        }
        Ok(pa)
    }

    impl Machine {
        pub fn new() -> Self {
            Self::default()
        }

        pub fn pas(&self, pa: u64) -> SimPas {
            if self.0.borrow().realm.contains(&pa) {
                SimPas::Realm
            } else {
                SimPas::NonSecure
            }
        }

        /// Puts a granule in the Realm PAS directly (e.g. the RMM's own memory).
        pub fn set_realm(&self, pa: u64) {
            self.0.borrow_mut().realm.insert(pa);
        }

        /// Writes bytes into a granule as the host would (NS) or the RMM (any).
        pub fn poke(&self, pa: u64, offset: usize, data: &[u8]) {
            let mut s = self.0.borrow_mut();
            let page = s.pages.entry(pa).or_insert_with(|| Box::new(Granule::ZERO));
            page.bytes_mut()[offset..offset + data.len()].copy_from_slice(data);
        }

        pub fn peek(&self, pa: u64) -> Granule {
            self.0
                .borrow()
                .pages
                .get(&pa)
                .map_or(Granule::ZERO, |g| **g)
        }

        pub fn leases_granted(&self) -> u64 {
            self.0.borrow().leases
        }

        /// EL3's GTSI delegate: NS -> Realm.
        pub fn gtsi_delegate(&self, pa: u64) -> RmmEl3Status {
            match granule_of(pa) {
                Err(_) => RmmEl3Status::BadAddr,
                Ok(pa) if self.pas(pa) == SimPas::Realm => RmmEl3Status::BadPas,
                Ok(pa) => {
                    self.0.borrow_mut().realm.insert(pa);
                    RmmEl3Status::Ok
                }
            }
        }

        /// EL3's GTSI undelegate: Realm -> NS.
        pub fn gtsi_undelegate(&self, pa: u64) -> RmmEl3Status {
            match granule_of(pa) {
                Err(_) => RmmEl3Status::BadAddr,
                Ok(pa) if self.pas(pa) != SimPas::Realm => RmmEl3Status::BadPas,
                Ok(pa) => {
                    self.0.borrow_mut().realm.remove(&pa);
                    RmmEl3Status::Ok
                }
            }
        }

        fn access(&self, pa: u64, want: SimPas) -> Result<(), LeaseError> {
            let pa = granule_of(pa)?;
            if self.pas(pa) != want {
                return Err(LeaseError::Fault);
            }
            self.0.borrow_mut().leases += 1;
            Ok(())
        }
    }

    impl Gtsi for Machine {
        fn delegate(&mut self, pa: u64) -> RmmEl3Status {
            self.gtsi_delegate(pa)
        }
        fn undelegate(&mut self, pa: u64) -> RmmEl3Status {
            self.gtsi_undelegate(pa)
        }
    }

    /// What the simulated CPU offers realms (RMI_FEATURES register 0).
    pub const FEATURES: FeatureRegister0 = FeatureRegister0 {
        s2sz: 48,
        lpa2: false,
        sve_en: false,
        sve_vl: 0,
        num_bps: 5,
        num_wps: 3,
        pmu_en: false,
        pmu_num_ctrs: 0,
        hash_sha_256: true,
        hash_sha_512: true,
        gicv3_num_lrs: 3,
        max_recs_order: 0,
    };

    impl Leases for Machine {
        fn read_ns(&mut self, pa: u64, offset: usize, out: &mut [u8]) -> Result<(), LeaseError> {
            self.access(pa, SimPas::NonSecure)?;
            let g = self.peek(pa);
            let end = offset
                .checked_add(out.len())
                .filter(|&e| e <= GRANULE_SIZE)
                .ok_or(LeaseError::BadAddress)?;
            out.copy_from_slice(&g.bytes()[offset..end]);
            Ok(())
        }

        fn write_ns(&mut self, pa: u64, offset: usize, data: &[u8]) -> Result<(), LeaseError> {
            self.access(pa, SimPas::NonSecure)?;
            if offset
                .checked_add(data.len())
                .is_none_or(|e| e > GRANULE_SIZE)
            {
                return Err(LeaseError::BadAddress);
            }
            self.poke(pa, offset, data);
            Ok(())
        }

        fn with_realm<R>(
            &mut self,
            pa: u64,
            f: impl FnOnce(&mut Granule) -> R,
        ) -> Result<R, LeaseError> {
            self.access(pa, SimPas::Realm)?;
            let mut page = self.peek(pa);
            let r = f(&mut page);
            self.0.borrow_mut().pages.insert(pa, Box::new(page));
            Ok(r)
        }
    }
}
