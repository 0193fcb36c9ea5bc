//! The GPT manager: the root-world service that owns the Granule Protection
//! Table (Arm DDI0615, RME system architecture supplement).
//!
//! * [`build`] turns a board's [`GptConfig`] and PAS map into level 0 and
//!   level 1 tables in memory the kernel hands over, after validating both.
//! * [`GptManager::enable`] programs GPTBR_EL3/GPCCR_EL3 and turns on granule
//!   protection checks on the calling PE.
//! * [`GptManager`] answers [`GptProtocol`]: queries the GPI of a granule and
//!   moves granules between the Non-secure PAS and the Realm or Secure PAS,
//!   with the cache and TLB maintenance of TF-A's `lib/gpt_rme`.
//!
//! The crate has no `unsafe`: the kernel implements [`GpcOps`] (system
//! registers, barriers, maintenance) and passes the table memory as a slice.
#![no_std]
#![forbid(unsafe_code)]

pub mod arch;
mod build;
pub mod smmu;
#[cfg(test)]
mod tests;

pub use arch::{GpcOps, TlbiSize, dc_cipapa_operand, tlbi_rpalos_operand};
pub use build::{BuildError, GptLayout, MAX_L1_TABLES, UNLISTED_GPI, build};

use arch::{GPCCR_GPC, gpi_encoding, gpi_from_encoding, l0gptsz_bits};
use build::GRANULE_SHIFT;
use rampart_board::{GRANULE_SIZE, Gpi, GptConfig, PasRegion};
use rampart_ipc::Server;
use rampart_ipc::gpt::{GptError, GptProtocol, GptReply, GptRequest, Pas};

/// Owner of the GPT.
///
/// Not internally synchronised: the kernel keeps the manager behind a lock,
/// so that one PE at a time reads and rewrites a level 1 descriptor (TF-A
/// serialises the same way with its `gpt_lock`).
pub struct GptManager<'t, O: GpcOps> {
    tables: &'t mut [u64],
    pas_map: &'t [PasRegion],
    layout: GptLayout,
    ops: O,
    /// Stride of `DC CIPAPA` through a granule.
    line: u64,
    enabled: bool,
    /// GPCCR_EL3 as found, when a previous stage had the checks on.
    replaced: Option<u64>,
}

impl<'t, O: GpcOps> GptManager<'t, O> {
    /// Checks the board's L0GPTSZ against GPCCR_EL3.L0GPTSZ (a read-only,
    /// implementation-defined field), then [`build`]s the tables.
    ///
    /// If a previous boot stage left granule protection checks on (TF-A's
    /// BL2 does, before it enters BL31), they are turned off first (GPCCR_EL3
    /// without GPC; ISB; TLBI PAALLOS; DSB SY; ISB), so that rewriting tables
    /// that may be the ones in force never leaves a half-written GPT in use;
    /// [`replaced`](Self::replaced) then says so. On error nothing is written.
    pub fn new(
        config: &GptConfig,
        pas_map: &'t [PasRegion],
        tables: &'t mut [u64],
        mut ops: O,
    ) -> Result<Self, BuildError> {
        let gpccr = ops.read_gpccr_el3();
        let hardware = l0gptsz_bits(gpccr);
        if hardware != Some(config.l0_gpt_size_bits) {
            return Err(BuildError::L0GptSizeMismatch {
                config: config.l0_gpt_size_bits,
                hardware,
            });
        }
        let replaced = (gpccr & GPCCR_GPC != 0).then_some(gpccr);
        if replaced.is_some() {
            ops.write_gpccr_el3(gpccr & !GPCCR_GPC);
            ops.isb();
            ops.tlbi_paallos();
            ops.dsb_sy();
            ops.isb();
        }
        let layout = build(config, pas_map, tables)?;
        // A bogus line size falls back to 4 bytes, the smallest CTR_EL0 can
        // report: more operations, never a line left out.
        let line = match ops.dcache_line_size() {
            line if line.is_power_of_two() && line >= 4 => line.min(GRANULE_SIZE),
            _ => 4,
        };
        Ok(Self {
            tables,
            pas_map,
            layout,
            ops,
            line,
            enabled: false,
            replaced,
        })
    }

    /// GPCCR_EL3 as a previous stage left it, when [`new`](Self::new) found
    /// its checks on and turned them off.
    pub fn replaced(&self) -> Option<u64> {
        self.replaced
    }

    pub fn layout(&self) -> &GptLayout {
        &self.layout
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Enables granule protection checks on the calling PE; call it on every
    /// PE, before that PE runs any lower exception level. Order as TF-A's
    /// `gpt_enable` (lib/gpt_rme/gpt_rme.c), after a `DSB SY` that completes
    /// the table stores (the tables must be mapped Normal write-back Inner
    /// Shareable, the attributes GPCCR_EL3 gives GPT fetches, so no clean by
    /// VA is needed):
    ///
    /// GPTBR_EL3; GPCCR_EL3 without GPC; ISB; TLBI PAALLOS; DSB SY; ISB;
    /// GPCCR_EL3 with GPC; ISB; TLBI PAALLOS; DSB SY; ISB.
    pub fn enable(&mut self) {
        let gpccr = self.layout.gpccr_el3();
        self.ops.dsb_sy();
        self.ops.write_gptbr_el3(self.layout.gptbr_el3());
        self.ops.write_gpccr_el3(gpccr);
        self.ops.isb();
        self.ops.tlbi_paallos();
        self.ops.dsb_sy();
        self.ops.isb();
        self.ops.write_gpccr_el3(gpccr | GPCCR_GPC);
        self.ops.isb();
        self.ops.tlbi_paallos();
        self.ops.dsb_sy();
        self.ops.isb();
        self.enabled = true;
    }

    /// GPI of the granule at `addr`, read from the tables (also before
    /// [`enable`](Self::enable)). `BadAddress` when `addr` is not granule
    /// aligned or is beyond the PPS.
    pub fn gpi(&self, addr: u64) -> Result<Gpi, GptError> {
        self.check_addr(addr)?;
        let value = match self.layout.l1_word(addr) {
            Some(word) => self.tables[word] >> gpi_shift(addr),
            None => self.tables[self.layout.l0_index(addr)] >> 4,
        };
        Ok(gpi_from_encoding(value).unwrap_or(Gpi::NoAccess))
    }

    /// Moves the granule at `addr` from `from` to `to`. Checks, in order:
    /// `NotReady` before [`enable`](Self::enable); `NotPermitted` unless the
    /// pair is NS->Realm, Realm->NS, NS->Secure or Secure->NS; `BadAddress`
    /// when `addr` is unaligned, beyond the PPS, or not inside a region the
    /// PAS map gives `NonSecure` or `Realm` (those are the granules that sit
    /// in level 1 tables; firmware, secure and device memory never move);
    /// `BadPas` when the granule is not in `from`. On error nothing is
    /// written and no operation is issued.
    pub fn transition(&mut self, addr: u64, from: Pas, to: Pas) -> Result<(), GptError> {
        if !self.enabled {
            return Err(GptError::NotReady);
        }
        use Pas::{NonSecure, Realm, Secure};
        if !matches!(
            (from, to),
            (NonSecure, Realm) | (Realm, NonSecure) | (NonSecure, Secure) | (Secure, NonSecure)
        ) {
            return Err(GptError::NotPermitted);
        }
        self.check_addr(addr)?;
        let movable = self
            .pas_map
            .iter()
            .any(|r| matches!(r.gpi, Gpi::NonSecure | Gpi::Realm) && r.range.contains(addr));
        let word = self
            .layout
            .l1_word(addr)
            .filter(|_| movable)
            .ok_or(GptError::BadAddress)?;
        if (self.tables[word] >> gpi_shift(addr)) & 0xf != gpi_encoding(from.gpi()) {
            return Err(GptError::BadPas);
        }
        if to == NonSecure {
            self.undelegate(addr, word, from);
        } else {
            self.delegate(addr, word, to);
        }
        Ok(())
    }

    /// NS -> `to`, as TF-A's `gpt_delegate` (v2.15; `gpt_delegate_pas`
    /// before): clean+invalidate to PoPA in the target PAS (drops lines
    /// speculatively fetched there), write the GPI, invalidate the granule's
    /// cached GPT information, then clean+invalidate to PoPA in the NS PAS
    /// (the scrubbed data reaches memory past the PoPA).
    fn delegate(&mut self, addr: u64, word: usize, to: Pas) {
        self.clean_to_popa(addr, to);
        self.set_gpi(addr, word, to.gpi());
        self.invalidate_granule(addr);
        self.clean_to_popa(addr, Pas::NonSecure);
    }

    /// `from` -> NS, as TF-A's `gpt_undelegate` (v2.15; `gpt_undelegate_pas`
    /// before): make the granule NoAccess and invalidate, so that no write in
    /// the old PAS can become observable later; clean+invalidate to PoPA in
    /// the old then in the NS PAS; write NS and invalidate again.
    fn undelegate(&mut self, addr: u64, word: usize, from: Pas) {
        self.set_gpi(addr, word, Gpi::NoAccess);
        self.invalidate_granule(addr);
        self.clean_to_popa(addr, from);
        self.clean_to_popa(addr, Pas::NonSecure);
        self.set_gpi(addr, word, Gpi::NonSecure);
        self.invalidate_granule(addr);
    }

    /// Whole-descriptor read-modify-write of one GPI, then `DSB OSHST`
    /// (TF-A's `write_gpt`). The GPC reads descriptors 64-bit single-copy
    /// atomically ("GPT lookup process"), so it sees the old or new word.
    fn set_gpi(&mut self, addr: u64, word: usize, gpi: Gpi) {
        let shift = gpi_shift(addr);
        let old = self.tables[word];
        self.tables[word] = (old & !(0xf << shift)) | (gpi_encoding(gpi) << shift);
        self.ops.dsb_oshst();
    }

    /// `TLBI RPALOS` for the granule, `DSB OSH` (TF-A's `tlbi_page_dsbosh`).
    fn invalidate_granule(&mut self, addr: u64) {
        self.ops
            .tlbi_rpalos(tlbi_rpalos_operand(addr, TlbiSize::Size4K));
        self.ops.dsb_osh();
    }

    /// `DC CIPAPA` over every line of the granule in `pas`, then `DSB OSH`
    /// (TF-A's `flush_dcache_to_popa_range`, lib/aarch64/cache_helpers.S).
    fn clean_to_popa(&mut self, addr: u64, pas: Pas) {
        let mut offset = 0;
        while offset < GRANULE_SIZE {
            self.ops.dc_cipapa(dc_cipapa_operand(addr + offset, pas));
            offset += self.line;
        }
        self.ops.dsb_osh();
    }

    fn check_addr(&self, addr: u64) -> Result<(), GptError> {
        if !addr.is_multiple_of(GRANULE_SIZE) || addr >= self.layout.pps_size() {
            return Err(GptError::BadAddress);
        }
        Ok(())
    }
}

/// Bit position of the GPI of `addr` in its Granules descriptor: PA\[15:12\]
/// selects the nibble ("GPT Granules descriptor").
const fn gpi_shift(addr: u64) -> u64 {
    ((addr >> GRANULE_SHIFT) & 0xf) * 4
}

impl<O: GpcOps> Server<GptProtocol> for GptManager<'_, O> {
    fn handle(&mut self, request: GptRequest) -> GptReply {
        let result = match request {
            GptRequest::Query { addr } => self.gpi(addr).map(GptReply::Gpi),
            GptRequest::Transition { addr, from, to } => {
                self.transition(addr, from, to).map(|()| GptReply::Done)
            }
        };
        result.unwrap_or_else(GptReply::Error)
    }
}
