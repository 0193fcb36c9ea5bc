//! `cargo xtask package`: a TF-A Firmware Image Package in which root is
//! BL31 (`soc-fw`) and realm is the RMM (`rmm-fw`), for boards whose
//! BL1/BL2 load the rest of the boot chain from a FIP (FVP RD-V3).
//!
//! Either a fresh FIP, or a user's FIP (BL2, configs, certificates...) with
//! those entries swapped in, everything else kept in place.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use rampart_fip::uuid::{
    EL3_RUNTIME_FIRMWARE_BL31, NON_TRUSTED_FIRMWARE_BL33, REALM_MONITOR_MGMT_FIRMWARE, Uuid,
};
use rampart_fip::{DEFAULT_ALIGN, Fip, Toc, name_of};

use crate::board::Board;
use crate::firmware;
use crate::workspace::Workspace;

/// fiptool's default alignment, which TF-A's Arm platform builds use
/// (`FIP_ALIGN := 0`): BL2 copies images out of the FIP and needs none, and
/// this keeps the layout identical to `fiptool create`'s for the same order.
const ALIGN: u64 = DEFAULT_ALIGN;

/// `cargo xtask package`: builds the board's images, packages them and
/// writes `target/rampart/<board>/fip.bin`; returns its path.
pub fn build_and_write(
    ws: &Workspace,
    board: Board,
    bl33: Option<&Path>,
    base_fip: Option<&Path>,
) -> Result<PathBuf> {
    let info = board.info()?;
    if info.root.flash().is_some() {
        bail!(
            "board {} boots root from its own flash image, not from a FIP: use `cargo xtask build --board {}`",
            board.name(),
            board.name()
        );
    }
    let out = firmware::build(ws, board)?;
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let root = read(&out.join("root.bin"))?;
    let rmm = read(&out.join("realm.bin"))?;
    let bl33 = bl33.map(read).transpose()?;
    let base = base_fip.map(read).transpose()?;
    let (fip, report) = package(&root, &rmm, bl33.as_deref(), base.as_deref())?;
    let path = out.join("fip.bin");
    std::fs::write(&path, &fip).with_context(|| format!("writing {}", path.display()))?;
    print!("{report}");
    println!("fip: {} ({} bytes)", path.display(), fip.len());
    Ok(path)
}

/// The FIP bytes and a printable ToC report, written nowhere.
///
/// Without `base_fip` the FIP holds `soc-fw`, `nt-fw` (if `bl33` is given)
/// and `rmm-fw`, in fiptool's order. With it, the base's entries stay in
/// their order and those images replace theirs, or are appended if the base
/// lacks them; a base `nt-fw` is kept unless `bl33` is given.
pub fn package(
    root_bin: &[u8],
    rmm_bin: &[u8],
    bl33: Option<&[u8]>,
    base_fip: Option<&[u8]>,
) -> Result<(Vec<u8>, String)> {
    let mut fip = match base_fip {
        Some(bytes) => Fip::parse(bytes).context("reading the base FIP")?,
        None => Fip::new(),
    };

    let mut ours: Vec<(Uuid, &str, &[u8])> =
        vec![(EL3_RUNTIME_FIRMWARE_BL31, "root.bin", root_bin)];
    if let Some(bl33) = bl33 {
        ours.push((NON_TRUSTED_FIRMWARE_BL33, "BL33", bl33));
    }
    ours.push((REALM_MONITOR_MGMT_FIRMWARE, "realm.bin", rmm_bin));

    let mut notes = String::new();
    for &(uuid, what, data) in &ours {
        let name = name_of(&uuid).expect("TF-A names its own images");
        // An empty image would be dropped by fiptool and refused by BL2.
        ensure!(!data.is_empty(), "{what} is empty");
        let action = match fip.set(uuid, data.to_vec()) {
            Some(old) => format!("replaces the base's {:#x} bytes", old.data.len()),
            None => "added".to_string(),
        };
        notes += &format!("{name} = {what} ({action})\n");
    }
    let certs: Vec<&str> = fip
        .entries
        .iter()
        .filter_map(|e| name_of(&e.uuid))
        .filter(|name| name.ends_with("-cert"))
        .collect();
    if !certs.is_empty() {
        notes += &format!(
            "warning: the base FIP's certificates ({}) still describe the images replaced; \
             a BL2 built with trusted board boot will refuse the new ones\n",
            certs.join(", ")
        );
    }

    let bytes = fip.to_bytes(ALIGN).context("laying out the FIP")?;
    let toc = check(&fip, &bytes)?;
    Ok((bytes, format!("{toc}{notes}")))
}

/// Reads `bytes` back as a stranger would and checks they say what `fip`
/// does: a writer bug must not reach a flash image.
fn check(fip: &Fip, bytes: &[u8]) -> Result<Toc> {
    let toc = Toc::parse(bytes).context("re-reading the FIP just written")?;
    ensure!(
        toc == fip.toc(ALIGN)?,
        "the FIP's ToC is not the layout planned"
    );
    ensure!(
        Fip::parse(bytes)? == *fip,
        "the FIP's images are not the ones put in"
    );
    Ok(toc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_fip::Entry;
    use rampart_fip::uuid::{HW_CONFIG, SOC_FW_CONTENT_CERT, TRUSTED_BOOT_FIRMWARE_BL2};

    const ROOT: &[u8] = &[0x31; 100];
    const RMM: &[u8] = &[0x7e; 300];
    const BL33: &[u8] = &[0x33; 20];

    fn uuids(fip: &Fip) -> Vec<Uuid> {
        fip.entries.iter().map(|e| e.uuid).collect()
    }

    fn entry(uuid: Uuid, flags: u64, data: &[u8]) -> Entry {
        Entry {
            uuid,
            flags,
            data: data.to_vec(),
        }
    }

    /// A base FIP as a TF-A build might leave it: BL2, BL31, a config, BL33.
    fn base() -> Fip {
        Fip {
            serial_number: 0x1234_5678,
            flags: 0x0000_00ab_0000_0000,
            entries: vec![
                entry(TRUSTED_BOOT_FIRMWARE_BL2, 0, &[0xb2; 40]),
                entry(EL3_RUNTIME_FIRMWARE_BL31, 7, &[0xaa; 50]),
                entry(HW_CONFIG, 0, &[0xdf; 30]),
                entry(NON_TRUSTED_FIRMWARE_BL33, 0, &[0xee; 60]),
            ],
        }
    }

    #[test]
    fn fresh_fip_holds_root_and_realm() {
        let (bytes, report) = package(ROOT, RMM, None, None).unwrap();
        let fip = Fip::parse(&bytes).unwrap();
        assert_eq!(
            fip.entries,
            [
                entry(EL3_RUNTIME_FIRMWARE_BL31, 0, ROOT),
                entry(REALM_MONITOR_MGMT_FIRMWARE, 0, RMM)
            ]
        );
        // Header, two entries and the end marker, then the images packed.
        assert_eq!(bytes.len(), 16 + 3 * 40 + ROOT.len() + RMM.len());
        assert!(report.contains("47d4086d-4cfe-9846-9b95-2950cbbd5a00  soc-fw"));
        assert!(report.contains("6c0762a6-12f2-4b56-92cb-ba8f633606d9  rmm-fw"));
        assert!(report.contains("soc-fw = root.bin (added)"));
        assert!(!report.contains("warning"));
    }

    #[test]
    fn fresh_fip_with_bl33_is_in_fiptool_order() {
        let (bytes, report) = package(ROOT, RMM, Some(BL33), None).unwrap();
        let fip = Fip::parse(&bytes).unwrap();
        assert_eq!(
            uuids(&fip),
            [
                EL3_RUNTIME_FIRMWARE_BL31,
                NON_TRUSTED_FIRMWARE_BL33,
                REALM_MONITOR_MGMT_FIRMWARE
            ]
        );
        assert_eq!(fip.get(&NON_TRUSTED_FIRMWARE_BL33).unwrap().data, BL33);
        assert!(report.contains("nt-fw = BL33 (added)"));
    }

    #[test]
    fn base_fip_keeps_its_entries_and_order() {
        let base_bytes = base().to_bytes(16).unwrap();
        let (bytes, report) = package(ROOT, RMM, None, Some(&base_bytes)).unwrap();
        let fip = Fip::parse(&bytes).unwrap();
        let mut expected = base();
        // BL31 replaced in place (flags reset, as fiptool does), RMM added.
        expected.entries[1] = entry(EL3_RUNTIME_FIRMWARE_BL31, 0, ROOT);
        expected
            .entries
            .push(entry(REALM_MONITOR_MGMT_FIRMWARE, 0, RMM));
        assert_eq!(fip, expected);
        assert!(report.contains("soc-fw = root.bin (replaces the base's 0x32 bytes)"));
        assert!(report.contains("rmm-fw = realm.bin (added)"));
    }

    #[test]
    fn base_fip_entries_are_replaced_in_place() {
        let mut base = base();
        base.set(REALM_MONITOR_MGMT_FIRMWARE, vec![1; 10]);
        base.entries.swap(0, 4);
        let order = uuids(&base);
        let (bytes, _) = package(ROOT, RMM, Some(BL33), Some(&base.to_bytes(1).unwrap())).unwrap();
        let fip = Fip::parse(&bytes).unwrap();
        assert_eq!(uuids(&fip), order);
        assert_eq!(fip.get(&EL3_RUNTIME_FIRMWARE_BL31).unwrap().data, ROOT);
        assert_eq!(fip.get(&REALM_MONITOR_MGMT_FIRMWARE).unwrap().data, RMM);
        assert_eq!(fip.get(&NON_TRUSTED_FIRMWARE_BL33).unwrap().data, BL33);
        assert_eq!(fip.get(&HW_CONFIG).unwrap().data, [0xdf; 30]);
        assert_eq!(
            (fip.serial_number, fip.flags),
            (base.serial_number, base.flags)
        );
    }

    #[test]
    fn certificates_in_the_base_are_flagged() {
        let mut base = base();
        base.set(SOC_FW_CONTENT_CERT, vec![0x30; 8]);
        let (_, report) = package(ROOT, RMM, None, Some(&base.to_bytes(1).unwrap())).unwrap();
        assert!(report.contains("warning: the base FIP's certificates (soc-fw-cert)"));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let err = package(ROOT, RMM, None, Some(b"not a FIP at all")).unwrap_err();
        assert!(format!("{err:#}").starts_with("reading the base FIP: not a FIP"));

        let mut truncated = base().to_bytes(1).unwrap();
        truncated.pop();
        assert!(package(ROOT, RMM, None, Some(&truncated)).is_err());

        let err = package(&[], RMM, None, None).unwrap_err();
        assert_eq!(err.to_string(), "root.bin is empty");
        let err = package(ROOT, RMM, Some(&[]), None).unwrap_err();
        assert_eq!(err.to_string(), "BL33 is empty");
    }
}
