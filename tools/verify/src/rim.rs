//! Predicting a realm's Realm Initial Measurement from a description of
//! how the host builds it (RMM spec DEN0137 1.0-rel0, A7.1.1).
//!
//! The RIM starts as the hash of the measured RmiRealmParams
//! (B4.3.9.4) and is extended, in the order the host issues them, by
//! RTT_INIT_RIPAS (B4.3.18.4, one RmmMeasurementDescriptorRipas per RTT
//! entry), DATA_CREATE (B4.3.1.4, RmmMeasurementDescriptorData) and
//! REC_CREATE of a runnable REC (B4.3.12.4, RmmMeasurementDescriptorRec).
//! Every extension hashes a 256-byte descriptor that embeds the current
//! RIM; a measurement is 64 bytes, SHA-256 filling the first 32 and
//! leaving the rest zero. Commands that measure nothing
//! (DATA_CREATE_UNKNOWN, RTT_CREATE, REC_CREATE of a REC that is not
//! runnable, ...) need not be described.

use crate::hexser;
use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Size of a granule, and of every DATA page measured.
pub const GRANULE_SIZE: usize = 0x1000;
const GRANULE: u64 = GRANULE_SIZE as u64;

/// A Realm measurement as the RMM holds it (RmmRealmMeasurement, C1.17):
/// 512 bits, digests shorter than that zero-filled.
pub type Measurement = [u8; 64];

/// The Realm hash algorithm (RmiHashAlgorithm, B4.4.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HashAlgo {
    #[serde(rename = "sha256", alias = "sha-256")]
    Sha256,
    #[serde(rename = "sha512", alias = "sha-512")]
    Sha512,
}

impl HashAlgo {
    pub const ALL: [HashAlgo; 2] = [HashAlgo::Sha256, HashAlgo::Sha512];

    /// The RmiHashAlgorithm encoding, as RmiRealmParams.hash_algo holds it.
    pub fn rmi_encoding(self) -> u8 {
        match self {
            HashAlgo::Sha256 => 0,
            HashAlgo::Sha512 => 1,
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgo::Sha256 => 32,
            HashAlgo::Sha512 => 64,
        }
    }

    /// The IANA hash name a token uses for it.
    pub fn iana_name(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "sha-256",
            HashAlgo::Sha512 => "sha-512",
        }
    }

    /// The other algorithm.
    pub fn other(self) -> HashAlgo {
        match self {
            HashAlgo::Sha256 => HashAlgo::Sha512,
            HashAlgo::Sha512 => HashAlgo::Sha256,
        }
    }

    /// Hashes `data` into a measurement, zero-filling past the digest.
    pub fn measure(self, data: &[u8]) -> Measurement {
        let mut out = [0u8; 64];
        match self {
            HashAlgo::Sha256 => out[..32].copy_from_slice(&Sha256::digest(data)),
            HashAlgo::Sha512 => out.copy_from_slice(&Sha512::digest(data)),
        }
        out
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.iana_name())
    }
}

/// A realm and the measured commands that build it: the JSON document
/// `rampart-verify rim` reads (schema in the crate documentation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmDescription {
    /// Free text; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub params: RealmParams,
    /// In the order the host issues them: the RIM depends on it.
    pub operations: Vec<Operation>,
}

/// The RmiRealmParams fields (B4.4.12) a realm is created with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmParams {
    #[serde(default)]
    pub flags: RealmFlags,
    /// IPA width (`2^s2sz` bytes).
    #[serde(with = "hexser::byte")]
    pub s2sz: u8,
    /// SVE vector length, as (VL / 128) - 1.
    #[serde(default, with = "hexser::byte")]
    pub sve_vl: u8,
    /// Breakpoints, minus one.
    #[serde(with = "hexser::byte")]
    pub num_bps: u8,
    /// Watchpoints, minus one.
    #[serde(with = "hexser::byte")]
    pub num_wps: u8,
    #[serde(default, with = "hexser::byte")]
    pub pmu_num_ctrs: u8,
    /// The realm's own measurement algorithm.
    pub hash_algo: HashAlgo,
    /// Realm Personalization Value: not part of the RIM (B4.3.9.4), but
    /// reported in the realm token (claim 44235), so a token can be
    /// checked against it.
    #[serde(
        default,
        with = "hexser::opt_hex64",
        skip_serializing_if = "Option::is_none"
    )]
    pub rpv: Option<[u8; 64]>,
}

/// RmiRealmFlags (B4.4.11).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmFlags {
    #[serde(default)]
    pub lpa2: bool,
    #[serde(default)]
    pub sve: bool,
    #[serde(default)]
    pub pmu: bool,
}

impl RealmFlags {
    /// The RmiRealmFlags encoding: lpa2 bit 0, sve bit 1, pmu bit 2.
    pub fn bits(self) -> u64 {
        u64::from(self.lpa2) | u64::from(self.sve) << 1 | u64::from(self.pmu) << 2
    }
}

/// One measured RMI command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    InitRipas(InitRipas),
    Data(DataPages),
    Rec(RecCreate),
}

/// RMI_RTT_INIT_RIPAS over `[base, top)`, however many calls the host
/// needs for it: every RTT entry in the range is measured once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitRipas {
    #[serde(with = "hexser::word")]
    pub base: u64,
    #[serde(with = "hexser::word")]
    pub top: u64,
    /// The RTT level whose entries cover the range (3: 4 KB entries, 2:
    /// 2 MB, 1: 1 GB), i.e. where the host's RTTs end there. Both ends
    /// must be aligned to it.
    #[serde(default = "page_level", with = "hexser::byte")]
    pub level: u8,
}

fn page_level() -> u8 {
    3
}

/// RMI_DATA_CREATE of consecutive 4 KB pages from `ipa` on, one command
/// per page, with content taken from a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataPages {
    #[serde(with = "hexser::word")]
    pub ipa: u64,
    /// Source file, relative to the description's directory (or renamed
    /// by the caller, see [`FileOverrides`]). None: zero pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Where in the file the first page starts.
    #[serde(default, with = "hexser::word")]
    pub offset: u64,
    /// Bytes taken from the file (default: to its end).
    #[serde(
        default,
        with = "hexser::opt_word",
        skip_serializing_if = "Option::is_none"
    )]
    pub length: Option<u64>,
    /// Pages created (default: enough for `length`); past the file's
    /// bytes they are zero.
    #[serde(
        default,
        with = "hexser::opt_word",
        skip_serializing_if = "Option::is_none"
    )]
    pub pages: Option<u64>,
    /// RmiDataFlags.measure: whether the content is hashed into the RIM
    /// (the IPA and flags are measured either way).
    pub measure_content: bool,
}

/// RMI_REC_CREATE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecCreate {
    #[serde(with = "hexser::word")]
    pub pc: u64,
    /// X0..X7 (fewer: the rest are zero).
    #[serde(default, with = "hexser::word_vec")]
    pub gprs: Vec<u64>,
    /// Only a runnable REC is measured.
    pub runnable: bool,
    /// Not measured; for the reader.
    #[serde(
        default,
        with = "hexser::opt_word",
        skip_serializing_if = "Option::is_none"
    )]
    pub mpidr: Option<u64>,
}

/// Files to use instead of the ones a description names: name as
/// written in the description -> path.
pub type FileOverrides = BTreeMap<String, PathBuf>;

/// The predicted RIM of a realm created with each hash algorithm (the
/// measured RmiRealmParams.hash_algo set to that algorithm, everything
/// else as described).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RimPrediction {
    /// The algorithm the description gives the realm.
    pub realm_hash_algo: HashAlgo,
    #[serde(serialize_with = "hexser::bytes")]
    pub sha256: [u8; 32],
    #[serde(serialize_with = "hexser::bytes")]
    pub sha512: [u8; 64],
    /// The RIM after each command, with the realm's own algorithm.
    pub steps: Vec<RimStep>,
}

/// The RIM after one measured command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RimStep {
    pub command: String,
    #[serde(serialize_with = "hexser::bytes")]
    pub rim: Vec<u8>,
}

impl RimPrediction {
    /// The RIM as a token reports it for `algo` (digest length).
    pub fn for_algo(&self, algo: HashAlgo) -> &[u8] {
        match algo {
            HashAlgo::Sha256 => &self.sha256,
            HashAlgo::Sha512 => &self.sha512,
        }
    }

    /// The RIM with the realm's own algorithm.
    pub fn realm_rim(&self) -> &[u8] {
        self.for_algo(self.realm_hash_algo)
    }
}

impl fmt::Display for RimPrediction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let own = self.realm_hash_algo;
        for algo in [own, own.other()] {
            let note = if algo == own {
                "realm's algorithm"
            } else {
                "if created with this algorithm"
            };
            writeln!(
                f,
                "RIM {algo} ({note}): {}",
                hex::encode(self.for_algo(algo))
            )?;
        }
        Ok(())
    }
}

impl RealmDescription {
    pub fn from_json_str(text: &str) -> Result<Self> {
        let desc: Self = serde_json::from_str(text).context("realm description")?;
        desc.check()?;
        Ok(desc)
    }

    pub fn from_json_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the realm description {}", path.display()))?;
        Self::from_json_str(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Rejects what no host could issue successfully, so that a typo does
    /// not silently yield a wrong prediction.
    pub fn check(&self) -> Result<()> {
        let s2sz = self.params.s2sz;
        ensure!(
            (32..=52).contains(&s2sz),
            "params.s2sz {s2sz} is not an IPA width an RMM accepts (32..=52)"
        );
        let protected_top = 1u64 << (s2sz - 1);
        for (index, op) in self.operations.iter().enumerate() {
            let at = || format!("operations[{index}]");
            match op {
                Operation::InitRipas(r) => {
                    ensure!(
                        (1..=3).contains(&r.level),
                        "{}: init_ripas level {} must be 1, 2 or 3",
                        at(),
                        r.level
                    );
                    let size = rtt_entry_size(r.level);
                    ensure!(
                        r.base < r.top,
                        "{}: init_ripas base {:#x} is not below top {:#x}",
                        at(),
                        r.base,
                        r.top
                    );
                    ensure!(
                        r.base % size == 0 && r.top % size == 0,
                        "{}: init_ripas [{:#x}, {:#x}) is not aligned to level-{} entries ({size:#x})",
                        at(),
                        r.base,
                        r.top,
                        r.level
                    );
                    ensure!(
                        r.top <= protected_top,
                        "{}: init_ripas top {:#x} is above the protected IPA space ({protected_top:#x})",
                        at(),
                        r.top
                    );
                }
                Operation::Data(d) => {
                    ensure!(
                        d.ipa % GRANULE == 0,
                        "{}: data ipa {:#x} is not 4 KB aligned",
                        at(),
                        d.ipa
                    );
                    ensure!(
                        d.file.is_some() || d.pages.is_some(),
                        "{}: data without a file needs \"pages\"",
                        at()
                    );
                    ensure!(d.pages != Some(0), "{}: data pages must not be 0", at());
                    if let Some(pages) = d.pages {
                        let end = pages
                            .checked_mul(GRANULE)
                            .and_then(|size| d.ipa.checked_add(size));
                        ensure!(
                            end.is_some_and(|end| end <= protected_top),
                            "{}: data [{:#x}, +{pages} pages) is not in the protected IPA space",
                            at(),
                            d.ipa
                        );
                    }
                }
                Operation::Rec(r) => {
                    ensure!(
                        r.gprs.len() <= 8,
                        "{}: rec gprs holds X0..X7 only, got {} values",
                        at(),
                        r.gprs.len()
                    );
                }
            }
        }
        Ok(())
    }
}

/// The size of the IPA range one RTT entry at `level` describes (4 KB
/// granules).
pub fn rtt_entry_size(level: u8) -> u64 {
    GRANULE << (9 * (3 - u32::from(level.min(3))))
}

/// A measured command with its inputs resolved (file content loaded).
enum Resolved {
    RipasEntry {
        base: u64,
        top: u64,
    },
    Data {
        ipa: u64,
        flags: u64,
        content: Option<Box<[u8; GRANULE_SIZE]>>,
    },
    Rec {
        flags: u64,
        pc: u64,
        gprs: [u64; 8],
    },
}

impl Resolved {
    fn describe(&self) -> String {
        match self {
            Resolved::RipasEntry { base, top } => {
                format!("RTT_INIT_RIPAS entry [{base:#x}, {top:#x})")
            }
            Resolved::Data { ipa, flags, .. } => format!("DATA_CREATE {ipa:#x} flags {flags}"),
            Resolved::Rec { pc, .. } => format!("REC_CREATE runnable pc {pc:#x}"),
        }
    }
}

/// Predicts the RIM of the described realm; files are looked up
/// relative to `base_dir`.
pub fn predict_rim(desc: &RealmDescription, base_dir: &Path) -> Result<RimPrediction> {
    predict_rim_with_files(desc, base_dir, &FileOverrides::new())
}

/// [`predict_rim`], with some of the description's file names mapped to
/// other paths (e.g. `"guest.bin"` to the image just built).
pub fn predict_rim_with_files(
    desc: &RealmDescription,
    base_dir: &Path,
    overrides: &FileOverrides,
) -> Result<RimPrediction> {
    desc.check()?;
    let commands = resolve(desc, base_dir, overrides)?;
    let own = desc.params.hash_algo;
    let mut steps = Vec::new();
    let mut run = |algo: HashAlgo, record: bool| {
        let mut rim = rim_init(algo, &desc.params);
        if record {
            steps.push(RimStep {
                command: "REALM_CREATE".into(),
                rim: rim[..algo.digest_len()].to_vec(),
            });
        }
        for command in &commands {
            rim = match command {
                Resolved::RipasEntry { base, top } => extend_ripas(algo, &rim, *base, *top),
                Resolved::Data {
                    ipa,
                    flags,
                    content,
                } => extend_data(algo, &rim, *ipa, *flags, content.as_deref()),
                Resolved::Rec { flags, pc, gprs } => extend_rec(algo, &rim, *flags, *pc, gprs),
            };
            if record {
                steps.push(RimStep {
                    command: command.describe(),
                    rim: rim[..algo.digest_len()].to_vec(),
                });
            }
        }
        rim
    };
    let sha256 = run(HashAlgo::Sha256, own == HashAlgo::Sha256);
    let sha512 = run(HashAlgo::Sha512, own == HashAlgo::Sha512);
    let mut sha256_digest = [0u8; 32];
    sha256_digest.copy_from_slice(&sha256[..32]);
    Ok(RimPrediction {
        realm_hash_algo: own,
        sha256: sha256_digest,
        sha512,
        steps,
    })
}

fn resolve(
    desc: &RealmDescription,
    base_dir: &Path,
    overrides: &FileOverrides,
) -> Result<Vec<Resolved>> {
    let mut commands = Vec::new();
    for (index, op) in desc.operations.iter().enumerate() {
        match op {
            Operation::InitRipas(r) => {
                let size = rtt_entry_size(r.level);
                let mut base = r.base;
                while base < r.top {
                    commands.push(Resolved::RipasEntry {
                        base,
                        top: base + size,
                    });
                    base += size;
                }
            }
            Operation::Data(d) => {
                let pages = data_pages(d, base_dir, overrides)
                    .with_context(|| format!("operations[{index}] (data at {:#x})", d.ipa))?;
                let protected_top = 1u64 << (desc.params.s2sz - 1);
                let end = (pages.len() as u64)
                    .checked_mul(GRANULE)
                    .and_then(|size| d.ipa.checked_add(size));
                if end.is_none_or(|end| end > protected_top) {
                    bail!(
                        "operations[{index}]: data [{:#x}, +{} pages) is not in the protected IPA space",
                        d.ipa,
                        pages.len()
                    );
                }
                let flags = u64::from(d.measure_content);
                for (page, content) in pages.into_iter().enumerate() {
                    commands.push(Resolved::Data {
                        ipa: d.ipa + page as u64 * GRANULE,
                        flags,
                        content: d.measure_content.then_some(content),
                    });
                }
            }
            Operation::Rec(r) if r.runnable => {
                let mut gprs = [0u64; 8];
                gprs[..r.gprs.len()].copy_from_slice(&r.gprs);
                commands.push(Resolved::Rec {
                    flags: 1,
                    pc: r.pc,
                    gprs,
                });
            }
            Operation::Rec(_) => {}
        }
    }
    Ok(commands)
}

/// The content of each page of a data operation.
fn data_pages(
    d: &DataPages,
    base_dir: &Path,
    overrides: &FileOverrides,
) -> Result<Vec<Box<[u8; GRANULE_SIZE]>>> {
    let bytes = match &d.file {
        Some(name) => {
            let path = overrides
                .get(name)
                .cloned()
                .unwrap_or_else(|| base_dir.join(name));
            let all =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let start = usize::try_from(d.offset).ok().filter(|&o| o <= all.len());
            let Some(start) = start else {
                bail!(
                    "offset {:#x} is past the end of {} ({:#x} bytes)",
                    d.offset,
                    path.display(),
                    all.len()
                );
            };
            let available = all.len() - start;
            let length = match d.length {
                None => available,
                Some(len) => match usize::try_from(len).ok().filter(|&l| l <= available) {
                    Some(len) => len,
                    None => bail!(
                        "length {len:#x} from offset {:#x} is past the end of {} ({:#x} bytes)",
                        d.offset,
                        path.display(),
                        all.len()
                    ),
                },
            };
            all[start..start + length].to_vec()
        }
        None => Vec::new(),
    };
    let needed = bytes.len().div_ceil(GRANULE_SIZE) as u64;
    let pages = match d.pages {
        Some(p) if p < needed => bail!("{p} pages cannot hold the {} bytes given", bytes.len()),
        Some(p) => p,
        None if needed == 0 => bail!("the file gives no bytes: say how many \"pages\""),
        None => needed,
    };
    // Bounded by the protected IPA space check; refuse absurd sizes early.
    ensure!(
        pages <= 1 << 20,
        "{pages} pages (4 GB or more) is more than a realm image"
    );
    let mut out = Vec::new();
    for page in 0..pages as usize {
        let mut content = Box::new([0u8; GRANULE_SIZE]);
        let start = (page * GRANULE_SIZE).min(bytes.len());
        let end = (start + GRANULE_SIZE).min(bytes.len());
        content[..end - start].copy_from_slice(&bytes[start..end]);
        out.push(content);
    }
    Ok(out)
}

// ---- the measurements (spec layouts) ----------------------------------------

/// The measurement descriptors' common size (C1.11-C1.13).
const DESCRIPTOR_SIZE: usize = 0x100;
/// desc_type values (C1.11, C1.12, C1.13).
const DESCRIPTOR_DATA: u8 = 0x0;
const DESCRIPTOR_REC: u8 = 0x1;
const DESCRIPTOR_RIPAS: u8 = 0x2;
/// Offsets shared by every descriptor.
const DESC_TYPE: usize = 0x0;
const DESC_LEN: usize = 0x8;
const DESC_RIM: usize = 0x10;

fn put_u64(buf: &mut [u8], at: usize, value: u64) {
    buf[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// A zeroed descriptor with desc_type, len and rim set.
fn descriptor(desc_type: u8, rim: &Measurement) -> [u8; DESCRIPTOR_SIZE] {
    let mut d = [0u8; DESCRIPTOR_SIZE];
    d[DESC_TYPE] = desc_type;
    put_u64(&mut d, DESC_LEN, DESCRIPTOR_SIZE as u64);
    d[DESC_RIM..DESC_RIM + 64].copy_from_slice(rim);
    d
}

/// B4.3.9.4 (RimInit, B3.48): the hash of a zero-filled 4 KB
/// RmiRealmParams (B4.4.12) holding only flags (0x0), s2sz (0x8), sve_vl
/// (0x10), num_bps (0x18), num_wps (0x20), pmu_num_ctrs (0x28) and
/// hash_algo (0x30); the RPV, VMID and RTT fields are not measured.
pub fn rim_init(algo: HashAlgo, params: &RealmParams) -> Measurement {
    let mut measured = vec![0u8; 0x1000];
    put_u64(&mut measured, 0x0, params.flags.bits());
    measured[0x08] = params.s2sz;
    measured[0x10] = params.sve_vl;
    measured[0x18] = params.num_bps;
    measured[0x20] = params.num_wps;
    measured[0x28] = params.pmu_num_ctrs;
    measured[0x30] = algo.rmi_encoding();
    algo.measure(&measured)
}

/// B4.3.1.4 (RimExtendData): RmmMeasurementDescriptorData (C1.11) with
/// ipa at 0x50, the host's flags at 0x58 and, under
/// RMI_MEASURE_CONTENT, the hash of the 4 KB page at 0x60.
pub fn extend_data(
    algo: HashAlgo,
    rim: &Measurement,
    ipa: u64,
    flags: u64,
    content: Option<&[u8; GRANULE_SIZE]>,
) -> Measurement {
    let mut d = descriptor(DESCRIPTOR_DATA, rim);
    put_u64(&mut d, 0x50, ipa);
    put_u64(&mut d, 0x58, flags);
    if let Some(page) = content {
        d[0x60..0xa0].copy_from_slice(&algo.measure(page));
    }
    algo.measure(&d)
}

/// B4.3.12.4 (RimExtendRec): RmmMeasurementDescriptorRec (C1.12) whose
/// content (0x50) is the hash of a zero-filled 4 KB RmiRecParams
/// (B4.4.19) holding only flags (0x0), pc (0x200) and gprs (0x300..0x340).
pub fn extend_rec(
    algo: HashAlgo,
    rim: &Measurement,
    flags: u64,
    pc: u64,
    gprs: &[u64; 8],
) -> Measurement {
    let mut params = vec![0u8; 0x1000];
    put_u64(&mut params, 0x0, flags);
    put_u64(&mut params, 0x200, pc);
    for (i, value) in gprs.iter().enumerate() {
        put_u64(&mut params, 0x300 + 8 * i, *value);
    }
    let mut d = descriptor(DESCRIPTOR_REC, rim);
    d[0x50..0x90].copy_from_slice(&algo.measure(&params));
    algo.measure(&d)
}

/// B4.3.18.4 (RimExtendRipasForEntry, B3.47), for one RTT entry:
/// RmmMeasurementDescriptorRipas (C1.13) with the entry's base (0x50) and
/// top (0x58). The descriptor carries the current RIM like the others
/// (A7.1.1), although B4.3.18.4's list of fields leaves it out.
pub fn extend_ripas(algo: HashAlgo, rim: &Measurement, base: u64, top: u64) -> Measurement {
    let mut d = descriptor(DESCRIPTOR_RIPAS, rim);
    put_u64(&mut d, 0x50, base);
    put_u64(&mut d, 0x58, top);
    algo.measure(&d)
}

#[cfg(test)]
mod tests;
