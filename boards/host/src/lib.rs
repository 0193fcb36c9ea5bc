//! The simulated board host tests run against: the same [`BoardInfo`] shape
//! as a real board, with small regions so that tests can hold "physical
//! memory" in a buffer ([`Memory`]) and GPT tables in a vector.

use rampart_board::{
    BoardInfo, Gic, Gpi, GptConfig, PasRegion, PowerControl, Range, RootLayout, Topology, Uart,
};

const MB: u64 = 1 << 20;

pub const ROOT_RAM: Range = Range::new(0x0e00_0000, MB);
pub const GPT_TABLES: Range = Range::new(0x0e10_0000, MB);
pub const DRAM: Range = Range::new(0x4000_0000, 64 * MB);
pub const RMM: Range = Range::new(0x4010_0000, 8 * MB);

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
        flash: Range::new(0, 4 * MB),
        package_offset: MB,
        ram: ROOT_RAM,
        hold_pen: ROOT_RAM.base,
    },
    gpt: GptConfig {
        pps_bits: 32,
        l0_gpt_size_bits: 30,
        tables: GPT_TABLES,
    },
    pas_map: &PAS_MAP,
    trace_uart: Uart {
        base: 0x0900_0000,
        clock_hz: 0,
    },
    trace_lock: DRAM.base,
    gic: Gic {
        distributor: 0x0800_0000,
        redistributors: 0x080a_0000,
        redistributor_stride: 0x2_0000,
    },
    counter_hz: 1_000_000_000,
    power: PowerControl::None,
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
