//! TF-A's RMM-EL3 interface (docs/components/rmm-el3-comms-spec.rst), the
//! version TF-A v2.15 speaks with RMM_V1_COMPAT=1: interface 0.8, boot
//! manifest 0.5. Used by both sides: root writes the manifest and answers
//! the calls, the RMM parses the manifest and makes the calls.

use rampart_board::Range;

/// Versions are `[30:16] major, [15:0] minor` (comms spec, "Versioning").
pub const fn version(major: u32, minor: u32) -> u32 {
    ((major & 0x7fff) << 16) | (minor & 0xffff)
}
pub const fn major(v: u32) -> u32 {
    (v >> 16) & 0x7fff
}
pub const fn minor(v: u32) -> u32 {
    v & 0xffff
}

/// The interface version root implements and passes in x1 at cold boot.
pub const INTERFACE_VERSION: u32 = version(0, 8);
/// The oldest interface our RMM can run on: 0.3 (platform token in pieces).
pub const RMM_MIN_INTERFACE_VERSION: u32 = version(0, 3);
/// The boot manifest version root writes.
pub const MANIFEST_VERSION: u32 = version(0, 5);
/// The oldest manifest our RMM reads (it needs the DRAM and console lists).
pub const RMM_MIN_MANIFEST_VERSION: u32 = version(0, 3);

/// SMC function IDs, RMM to EL3 (comms spec, "RMM-EL3 runtime interface").
pub const REQ_COMPLETE: u32 = 0xc400_018f;
pub const GTSI_DELEGATE: u32 = 0xc400_01b0;
pub const GTSI_UNDELEGATE: u32 = 0xc400_01b1;
pub const ATTEST_GET_REALM_KEY: u32 = 0xc400_01b2;
pub const ATTEST_GET_PLAT_TOKEN: u32 = 0xc400_01b3;
pub const EL3_FEATURES: u32 = 0xc400_01b4;
pub const BOOT_COMPLETE: u32 = 0xc400_01cf;

/// The calls root answers for the RMM (REQ_COMPLETE is the RMI return path).
pub fn is_rmm_el3_fid(fid: u32) -> bool {
    matches!(
        fid,
        REQ_COMPLETE
            | GTSI_DELEGATE
            | GTSI_UNDELEGATE
            | ATTEST_GET_REALM_KEY
            | ATTEST_GET_PLAT_TOKEN
            | EL3_FEATURES
            | BOOT_COMPLETE
    )
}

/// Runtime return codes (E_RMM_*), as register values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(i32)]
pub enum RmmEl3Status {
    Ok = 0,
    Unknown = -1,
    BadAddr = -2,
    BadPas = -3,
    NoMem = -4,
    Inval = -5,
    Again = -6,
}

impl RmmEl3Status {
    pub const fn reg(self) -> u64 {
        self as i32 as i64 as u64
    }

    /// Decodes x0 of an RMM-EL3 call; anything unrecognised is Unknown.
    pub const fn from_reg(reg: u64) -> Self {
        match reg as i64 {
            0 => Self::Ok,
            -2 => Self::BadAddr,
            -3 => Self::BadPas,
            -4 => Self::NoMem,
            -5 => Self::Inval,
            -6 => Self::Again,
            _ => Self::Unknown,
        }
    }
}

/// EL3's granule transition service as the RMM sees it
/// (RMM_GTSI_DELEGATE/UNDELEGATE): the kernel implements it with SMCs,
/// the simulated machine with its fake GPC.
pub trait Gtsi {
    fn delegate(&mut self, pa: u64) -> RmmEl3Status;
    fn undelegate(&mut self, pa: u64) -> RmmEl3Status;
}

/// The answer to RMM_GTSI_DELEGATE/UNDELEGATE for a GPT manager reply (TF-A
/// maps the GPT library's -EINVAL to BAD_ADDR and -EPERM to BAD_PAS).
pub fn gtsi_status(reply: Result<crate::gpt::GptReply, crate::IpcError>) -> RmmEl3Status {
    use crate::gpt::{GptError, GptReply};
    match reply {
        Ok(GptReply::Done) => RmmEl3Status::Ok,
        Ok(GptReply::Error(GptError::BadAddress)) => RmmEl3Status::BadAddr,
        Ok(GptReply::Error(GptError::BadPas | GptError::NotPermitted)) => RmmEl3Status::BadPas,
        Ok(GptReply::Error(GptError::NotReady) | GptReply::Gpi(_)) | Err(_) => {
            RmmEl3Status::Unknown
        }
    }
}

/// Boot return codes (E_RMM_BOOT_*) that the RMM reports in x1 of BOOT_COMPLETE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(i32)]
pub enum BootError {
    Unknown = -1,
    VersionMismatch = -2,
    CpusOutOfRange = -3,
    CpuIdOutOfRange = -4,
    InvalidSharedBuffer = -5,
    ManifestVersionNotSupported = -6,
    ManifestDataError = -7,
}

impl BootError {
    pub const fn reg(self) -> u64 {
        self as i32 as i64 as u64
    }
}

/// Checks the EL3 interface version an RMM was handed against what it needs:
/// same major, EL3 minor at least the required one.
pub fn interface_compatible(offered: u32, required: u32) -> bool {
    offered & 0x8000_0000 == 0
        && major(offered) == major(required)
        && minor(offered) >= minor(required)
}

/// What an RMM checks of its cold-boot registers before it reads anything
/// (comms spec "Cold boot": x0 CPU index, x1 interface version, x2 CPU
/// count, x3 shared buffer), in that order of precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColdBootArgs {
    pub core: u64,
    pub version: u64,
    pub cpus: u64,
    pub shared: u64,
}

impl ColdBootArgs {
    /// `max_cpus`: CPUs the RMM has stacks for; `own_region`: the RMM's
    /// region; `expected_shared`: the shared page the board reserves in it.
    pub fn validate(
        &self,
        max_cpus: u64,
        own_region: Range,
        expected_shared: u64,
    ) -> Result<(), BootError> {
        if self.version > u64::from(u32::MAX)
            || !interface_compatible(self.version as u32, RMM_MIN_INTERFACE_VERSION)
        {
            return Err(BootError::VersionMismatch);
        }
        if self.cpus == 0 || self.cpus > max_cpus {
            return Err(BootError::CpusOutOfRange);
        }
        if self.core >= self.cpus {
            return Err(BootError::CpuIdOutOfRange);
        }
        if self.shared != expected_shared
            || !own_region.contains_range(self.shared, SHARED_PAGE_SIZE as u64)
        {
            return Err(BootError::InvalidSharedBuffer);
        }
        Ok(())
    }
}

pub const MAX_BANKS: usize = 8;
pub const MAX_CONSOLES: usize = 2;
pub const SHARED_PAGE_SIZE: usize = 4096;

/// Byte offsets and sizes of the v0.5 manifest (rmm_core_manifest.h).
const OFF_VERSION: usize = 0;
const OFF_PLAT_DATA: usize = 8;
const OFF_DRAM: usize = 16;
const OFF_CONSOLE: usize = 40;
const OFF_NCOH: usize = 64;
const OFF_COH: usize = 88;
const OFF_SMMU: usize = 112;
const OFF_ROOT_COMPLEX: usize = 136;
const HEADER_V0_3: usize = 64;
const HEADER_V0_4: usize = 112;
const HEADER_V0_5: usize = 160;
const BANK_SIZE: usize = 16;
const CONSOLE_SIZE: usize = 48;

/// One console (console_info).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Console {
    pub base: u64,
    pub map_pages: u64,
    pub name: [u8; 8],
    pub clk_in_hz: u64,
    pub baud_rate: u64,
}

/// What the manifest says, in the fields Rampart uses.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BootManifest {
    pub version: u32,
    pub plat_data: u64,
    pub dram: heapless::Vec<Range, MAX_BANKS>,
    pub consoles: heapless::Vec<Console, MAX_CONSOLES>,
    pub ncoh_regions: heapless::Vec<Range, MAX_BANKS>,
    pub coh_regions: heapless::Vec<Range, MAX_BANKS>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ManifestError {
    /// Version's major differs or its minor is below what the reader needs.
    VersionNotSupported,
    /// A list pointer or count escapes the shared page, a checksum is wrong,
    /// or a bank is unaligned, empty, overlapping or out of order.
    DataError,
}

impl From<ManifestError> for BootError {
    fn from(e: ManifestError) -> Self {
        match e {
            ManifestError::VersionNotSupported => BootError::ManifestVersionNotSupported,
            ManifestError::DataError => BootError::ManifestDataError,
        }
    }
}

fn get(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

fn put(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Checksum rule: num + pointer + every u64 of the array + checksum == 0.
fn checksum(num: u64, ptr: u64, words: impl Iterator<Item = u64>) -> u64 {
    words
        .fold(num.wrapping_add(ptr), u64::wrapping_add)
        .wrapping_neg()
}

/// Lays out the manifest in the shared page: header, then the arrays.
/// `page_pa` is the physical address the RMM will see the page at.
pub fn write_manifest(m: &BootManifest, page_pa: u64, page: &mut [u8; SHARED_PAGE_SIZE]) {
    page.fill(0);
    page[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&MANIFEST_VERSION.to_le_bytes());
    put(page, OFF_PLAT_DATA, m.plat_data);
    let mut cursor = HEADER_V0_5;
    let write_ranges =
        |page: &mut [u8; SHARED_PAGE_SIZE], at: usize, ranges: &[Range], cursor: &mut usize| {
            if ranges.is_empty() {
                return;
            }
            let ptr = page_pa + *cursor as u64;
            for r in ranges {
                put(page, *cursor, r.base);
                put(page, *cursor + 8, r.size);
                *cursor += BANK_SIZE;
            }
            let words = ranges.iter().flat_map(|r| [r.base, r.size]);
            put(page, at, ranges.len() as u64);
            put(page, at + 8, ptr);
            put(page, at + 16, checksum(ranges.len() as u64, ptr, words));
        };
    write_ranges(page, OFF_DRAM, &m.dram, &mut cursor);
    write_ranges(page, OFF_NCOH, &m.ncoh_regions, &mut cursor);
    write_ranges(page, OFF_COH, &m.coh_regions, &mut cursor);
    if !m.consoles.is_empty() {
        let ptr = page_pa + cursor as u64;
        let start = cursor;
        for c in &m.consoles {
            put(page, cursor, c.base);
            put(page, cursor + 8, c.map_pages);
            page[cursor + 16..cursor + 24].copy_from_slice(&c.name);
            put(page, cursor + 24, c.clk_in_hz);
            put(page, cursor + 32, c.baud_rate);
            put(page, cursor + 40, 0);
            cursor += CONSOLE_SIZE;
        }
        let words = (start..cursor)
            .step_by(8)
            .map(|at| get(page, at))
            .collect::<heapless::Vec<u64, 16>>();
        put(page, OFF_CONSOLE, m.consoles.len() as u64);
        put(page, OFF_CONSOLE + 8, ptr);
        put(
            page,
            OFF_CONSOLE + 16,
            checksum(m.consoles.len() as u64, ptr, words.into_iter()),
        );
    }
    // SMMU and root-complex lists (v0.5) stay empty: zero count, null pointer, zero checksum.
    let _ = (OFF_SMMU, OFF_ROOT_COMPLEX);
}

/// Resolves a list: checks the pointer and the array lie inside the page and
/// the checksum holds; returns the array's offset in the page.
fn list(
    page: &[u8],
    page_pa: u64,
    at: usize,
    elem: usize,
    max: usize,
) -> Result<(usize, usize), ManifestError> {
    let num = get(page, at);
    let ptr = get(page, at + 8);
    let sum = get(page, at + 16);
    if num == 0 {
        // An empty list has nothing to point at; its checksum must still balance.
        return if num.wrapping_add(ptr).wrapping_add(sum) == 0 {
            Ok((0, 0))
        } else {
            Err(ManifestError::DataError)
        };
    }
    if num as usize > max {
        return Err(ManifestError::DataError);
    }
    let offset = ptr.checked_sub(page_pa).ok_or(ManifestError::DataError)? as usize;
    let len = num as usize * elem;
    if !ptr.is_multiple_of(8) || offset.checked_add(len).is_none_or(|end| end > page.len()) {
        return Err(ManifestError::DataError);
    }
    let words = (offset..offset + len).step_by(8).map(|w| get(page, w));
    if checksum(num, ptr, words).wrapping_sub(sum) != 0 {
        return Err(ManifestError::DataError);
    }
    Ok((offset, num as usize))
}

fn ranges(
    page: &[u8],
    page_pa: u64,
    at: usize,
    need_one: bool,
) -> Result<heapless::Vec<Range, MAX_BANKS>, ManifestError> {
    let (offset, num) = list(page, page_pa, at, BANK_SIZE, MAX_BANKS)?;
    if need_one && num == 0 {
        return Err(ManifestError::DataError);
    }
    let mut out = heapless::Vec::new();
    for i in 0..num {
        let r = Range::new(
            get(page, offset + i * BANK_SIZE),
            get(page, offset + i * BANK_SIZE + 8),
        );
        let aligned = r.base.is_multiple_of(4096)
            && r.size.is_multiple_of(4096)
            && r.size != 0
            && r.base.checked_add(r.size).is_some();
        let ordered = out.last().is_none_or(|prev: &Range| prev.end() <= r.base);
        if !aligned || !ordered {
            return Err(ManifestError::DataError);
        }
        let _ = out.push(r);
    }
    Ok(out)
}

/// Parses and validates a manifest the RMM found in its shared page.
pub fn parse_manifest(
    page: &[u8; SHARED_PAGE_SIZE],
    page_pa: u64,
) -> Result<BootManifest, ManifestError> {
    let v = u32::from_le_bytes([page[0], page[1], page[2], page[3]]);
    if major(v) != major(RMM_MIN_MANIFEST_VERSION)
        || minor(v) < minor(RMM_MIN_MANIFEST_VERSION)
        || v & 0x8000_0000 != 0
    {
        return Err(ManifestError::VersionNotSupported);
    }
    let header = if minor(v) >= 5 {
        HEADER_V0_5
    } else if minor(v) >= 4 {
        HEADER_V0_4
    } else {
        HEADER_V0_3
    };
    // The lists this version does not have must not be read; the arrays may
    // start right after the header.
    let mut m = BootManifest {
        version: v,
        plat_data: get(page, OFF_PLAT_DATA),
        ..Default::default()
    };
    m.dram = ranges(page, page_pa, OFF_DRAM, true)?;
    let (offset, num) = list(page, page_pa, OFF_CONSOLE, CONSOLE_SIZE, MAX_CONSOLES)?;
    for i in 0..num {
        let at = offset + i * CONSOLE_SIZE;
        let mut name = [0u8; 8];
        name.copy_from_slice(&page[at + 16..at + 24]);
        let _ = m.consoles.push(Console {
            base: get(page, at),
            map_pages: get(page, at + 8),
            name,
            clk_in_hz: get(page, at + 24),
            baud_rate: get(page, at + 32),
        });
    }
    if header >= HEADER_V0_4 {
        m.ncoh_regions = ranges(page, page_pa, OFF_NCOH, false)?;
        m.coh_regions = ranges(page, page_pa, OFF_COH, false)?;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PA: u64 = 0x418f_f000;

    fn sample() -> BootManifest {
        let mut m = BootManifest::default();
        m.dram.push(Range::new(0x4000_0000, 0x8000_0000)).unwrap();
        m.consoles
            .push(Console {
                base: 0x0900_0000,
                map_pages: 1,
                name: *b"pl011\0\0\0",
                clk_in_hz: 1,
                baud_rate: 115_200,
            })
            .unwrap();
        m
    }

    fn written(m: &BootManifest) -> [u8; SHARED_PAGE_SIZE] {
        let mut page = [0u8; SHARED_PAGE_SIZE];
        write_manifest(m, PA, &mut page);
        page
    }

    #[test]
    fn manifest_round_trips_with_tf_a_layout() {
        let page = written(&sample());
        // TF-A's QEMU layout: banks right after the 160-byte header.
        assert_eq!(get(&page, OFF_DRAM), 1);
        assert_eq!(get(&page, OFF_DRAM + 8), PA + 160);
        assert_eq!(get(&page, OFF_CONSOLE + 8), PA + 176);
        assert_eq!(u32::from_le_bytes(page[0..4].try_into().unwrap()), 0x5);
        let m = parse_manifest(&page, PA).unwrap();
        assert_eq!(m.dram, sample().dram);
        assert_eq!(m.consoles, sample().consoles);
        assert!(m.ncoh_regions.is_empty());
    }

    #[test]
    fn rejects_unknown_versions() {
        let mut page = written(&sample());
        for v in [version(1, 0), version(0, 2), 0x8000_0005] {
            page[0..4].copy_from_slice(&v.to_le_bytes());
            assert_eq!(
                parse_manifest(&page, PA),
                Err(ManifestError::VersionNotSupported)
            );
        }
        assert_eq!(
            BootError::from(ManifestError::VersionNotSupported).reg(),
            (-6i64) as u64
        );
    }

    #[test]
    fn reads_older_v0_3_manifests() {
        let mut page = written(&sample());
        page[0..4].copy_from_slice(&version(0, 3).to_le_bytes());
        // Garbage where v0.4 fields would be must be ignored for v0.3.
        put(&mut page, OFF_NCOH, 99);
        assert_eq!(parse_manifest(&page, PA).unwrap().dram.len(), 1);
    }

    #[test]
    fn rejects_bad_data() {
        let good = written(&sample());
        let mut bad_sum = good;
        put(&mut bad_sum, OFF_DRAM + 16, get(&good, OFF_DRAM + 16) ^ 1);
        assert_eq!(parse_manifest(&bad_sum, PA), Err(ManifestError::DataError));
        let mut bad_bank = good;
        put(&mut bad_bank, 160, 0x4000_0800); // unaligned base (checksum now off too)
        assert_eq!(parse_manifest(&bad_bank, PA), Err(ManifestError::DataError));
        let mut escapes = good;
        put(&mut escapes, OFF_DRAM + 8, PA + 4090);
        assert_eq!(parse_manifest(&escapes, PA), Err(ManifestError::DataError));
        let mut below = good;
        put(&mut below, OFF_DRAM + 8, PA - 16);
        assert_eq!(parse_manifest(&below, PA), Err(ManifestError::DataError));
        let mut too_many = good;
        put(&mut too_many, OFF_DRAM, 200);
        assert_eq!(parse_manifest(&too_many, PA), Err(ManifestError::DataError));
        let none = BootManifest {
            consoles: sample().consoles,
            ..Default::default()
        };
        assert_eq!(
            parse_manifest(&written(&none), PA),
            Err(ManifestError::DataError)
        );
    }

    #[test]
    fn rejects_overlapping_or_unordered_banks() {
        let mut m = sample();
        m.dram.push(Range::new(0x4000_1000, 0x1000)).unwrap();
        assert_eq!(
            parse_manifest(&written(&m), PA),
            Err(ManifestError::DataError)
        );
        let mut ok = sample();
        ok.dram.push(Range::new(0x8_8000_0000, 0x1000)).unwrap();
        assert_eq!(parse_manifest(&written(&ok), PA).unwrap().dram.len(), 2);
    }

    #[test]
    fn cold_boot_registers_checked_in_order() {
        let rmm = Range::new(0x4010_0000, 0x180_0000);
        let shared = 0x418f_f000;
        let ok = ColdBootArgs {
            core: 0,
            version: u64::from(INTERFACE_VERSION),
            cpus: 4,
            shared,
        };
        assert_eq!(ok.validate(4, rmm, shared), Ok(()));
        let all_bad = ColdBootArgs {
            core: 9,
            version: u64::from(version(1, 0)),
            cpus: 9,
            shared: 0x1234,
        };
        assert_eq!(
            all_bad.validate(4, rmm, shared),
            Err(BootError::VersionMismatch)
        );
        let v = |version: u64| ColdBootArgs { version, ..ok };
        assert_eq!(
            v(u64::from(version(0, 2))).validate(4, rmm, shared),
            Err(BootError::VersionMismatch)
        );
        assert_eq!(
            v(1 << 40).validate(4, rmm, shared),
            Err(BootError::VersionMismatch)
        );
        assert_eq!(v(u64::from(version(0, 3))).validate(4, rmm, shared), Ok(()));
        let cpus = ColdBootArgs {
            cpus: 5,
            core: 9,
            shared: 0,
            ..ok
        };
        assert_eq!(
            cpus.validate(4, rmm, shared),
            Err(BootError::CpusOutOfRange)
        );
        assert_eq!(
            ColdBootArgs { cpus: 0, ..ok }.validate(4, rmm, shared),
            Err(BootError::CpusOutOfRange)
        );
        let core = ColdBootArgs {
            core: 4,
            shared: 0,
            ..ok
        };
        assert_eq!(
            core.validate(4, rmm, shared),
            Err(BootError::CpuIdOutOfRange)
        );
        for bad in [0, shared + 8, shared - 0x1000, 0x4190_0000] {
            assert_eq!(
                ColdBootArgs { shared: bad, ..ok }.validate(4, rmm, shared),
                Err(BootError::InvalidSharedBuffer)
            );
        }
        assert_eq!(BootError::CpuIdOutOfRange.reg(), (-4i64) as u64);
    }

    #[test]
    fn gtsi_answers() {
        use crate::IpcError;
        use crate::gpt::{GptError, GptReply};
        assert_eq!(gtsi_status(Ok(GptReply::Done)), RmmEl3Status::Ok);
        assert_eq!(
            gtsi_status(Ok(GptReply::Error(GptError::BadAddress))),
            RmmEl3Status::BadAddr
        );
        assert_eq!(
            gtsi_status(Ok(GptReply::Error(GptError::BadPas))),
            RmmEl3Status::BadPas
        );
        assert_eq!(
            gtsi_status(Ok(GptReply::Error(GptError::NotPermitted))),
            RmmEl3Status::BadPas
        );
        assert_eq!(
            gtsi_status(Ok(GptReply::Error(GptError::NotReady))),
            RmmEl3Status::Unknown
        );
        assert_eq!(gtsi_status(Err(IpcError::NoServer)), RmmEl3Status::Unknown);
        assert_eq!(RmmEl3Status::BadAddr.reg(), (-2i64) as u64);
    }

    #[test]
    fn interface_versions() {
        assert!(interface_compatible(
            INTERFACE_VERSION,
            RMM_MIN_INTERFACE_VERSION
        ));
        assert!(interface_compatible(
            version(0, 3),
            RMM_MIN_INTERFACE_VERSION
        ));
        assert!(!interface_compatible(
            version(0, 2),
            RMM_MIN_INTERFACE_VERSION
        ));
        assert!(!interface_compatible(
            version(2, 0),
            RMM_MIN_INTERFACE_VERSION
        ));
        assert_eq!(INTERFACE_VERSION, 8);
        assert!(is_rmm_el3_fid(GTSI_DELEGATE) && !is_rmm_el3_fid(0xc400_01c0));
        assert_eq!(RmmEl3Status::BadPas.reg(), (-3i64) as u64);
        for s in [
            RmmEl3Status::Ok,
            RmmEl3Status::Unknown,
            RmmEl3Status::BadAddr,
            RmmEl3Status::BadPas,
            RmmEl3Status::NoMem,
            RmmEl3Status::Inval,
            RmmEl3Status::Again,
        ] {
            assert_eq!(RmmEl3Status::from_reg(s.reg()), s);
        }
        assert_eq!(RmmEl3Status::from_reg(7), RmmEl3Status::Unknown);
    }
}
