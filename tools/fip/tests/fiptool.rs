//! Cross-checks against TF-A's own `fiptool` (Debian package
//! `arm-trusted-firmware-tools`, or the binary named by `$FIPTOOL`): it must
//! read what we write, and we must read, and write byte for byte, what it
//! writes. Skipped, with a note, when fiptool is not installed.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use rampart_fip::uuid::{
    self, EL3_RUNTIME_FIRMWARE_BL31, NON_TRUSTED_FIRMWARE_BL33, REALM_MONITOR_MGMT_FIRMWARE,
};
use rampart_fip::{Entry, Fip, Toc};

const BLOB: [u8; 16] = [0xa5; 16];
const BLOB_STR: &str = "a5a5a5a5-a5a5-a5a5-a5a5-a5a5a5a5a5a5";

/// Runs fiptool; None if it is not installed. Panics if it fails.
fn fiptool(args: &[&str]) -> Option<String> {
    let program = std::env::var("FIPTOOL").unwrap_or_else(|_| "fiptool".into());
    let output = match Command::new(&program).args(args).output() {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            eprintln!("note: {program} not found, skipping the fiptool cross-check");
            return None;
        }
        Err(e) => panic!("{program}: {e}"),
    };
    assert!(
        output.status.success(),
        "fiptool {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rampart-fip-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, data: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, data).unwrap();
        path_str(&path)
    }

    fn path(&self, name: &str) -> String {
        path_str(&self.0.join(name))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_str(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

fn entry(uuid: [u8; 16], data: &[u8]) -> Entry {
    Entry {
        uuid,
        flags: 0,
        data: data.to_vec(),
    }
}

/// The line `fiptool info` prints for `e`.
fn info_line(e: &rampart_fip::TocEntry) -> String {
    let (description, cmdline) = match uuid::known(&e.uuid) {
        Some(k) => (k.description.to_string(), k.name),
        // fiptool names unknown images by their upper-case UUID.
        None => (uuid::to_string(&e.uuid).to_uppercase(), "blob"),
    };
    format!(
        "{description}: offset={:#X}, size={:#X}, cmdline=\"--{cmdline}\"",
        e.offset, e.size
    )
    .replace("0X", "0x")
}

#[test]
fn fiptool_reads_our_fip() {
    let scratch = Scratch::new("info");
    let mut fip = Fip::new();
    // Not fiptool's table order: it must not care.
    fip.set(REALM_MONITOR_MGMT_FIRMWARE, vec![0x7e; 5000]);
    fip.set(BLOB, vec![0x55; 3]);
    fip.set(EL3_RUNTIME_FIRMWARE_BL31, vec![0x31; 777]);
    fip.set(NON_TRUSTED_FIRMWARE_BL33, vec![0x33; 1]);
    for align in [1, 16, 4096] {
        let bytes = fip.to_bytes(align).unwrap();
        let file = scratch.write(&format!("ours-{align}.bin"), &bytes);
        let Some(info) = fiptool(&["info", &file]) else {
            return;
        };
        let mut printed: Vec<&str> = info.lines().collect();
        let toc = Toc::parse(&bytes).unwrap();
        let mut expected: Vec<String> = toc.entries.iter().map(info_line).collect();
        printed.sort();
        expected.sort();
        assert_eq!(printed, expected, "align {align}");
    }
}

#[test]
fn we_read_and_reproduce_fiptools_fip() {
    let scratch = Scratch::new("create");
    let soc_fw = [0x31; 333];
    let rmm = [0x7e; 4097];
    let nt_fw = [0x33; 2];
    let blob = [0x55; 1];
    let files = [
        scratch.write("soc-fw.bin", &soc_fw),
        scratch.write("rmm.bin", &rmm),
        scratch.write("nt-fw.bin", &nt_fw),
        scratch.write("blob.bin", &blob),
    ];
    for align in [1u64, 16, 4096] {
        let out = scratch.path(&format!("theirs-{align}.bin"));
        let blob_arg = format!("uuid={BLOB_STR},file={}", files[3]);
        let align_arg = align.to_string();
        #[rustfmt::skip]
        let args = [
            "create", "--align", &align_arg, "--plat-toc-flags", "0x1234",
            "--rmm-fw", &files[1], "--blob", &blob_arg,
            "--soc-fw", &files[0], "--nt-fw", &files[2], &out,
        ];
        if fiptool(&args).is_none() {
            return;
        }
        let theirs = std::fs::read(&out).unwrap();
        let parsed = Fip::parse(&theirs).unwrap();

        // fiptool writes its table's order, unknown images last.
        let expected = Fip {
            flags: 0x1234 << 32,
            entries: vec![
                entry(EL3_RUNTIME_FIRMWARE_BL31, &soc_fw),
                entry(NON_TRUSTED_FIRMWARE_BL33, &nt_fw),
                entry(REALM_MONITOR_MGMT_FIRMWARE, &rmm),
                entry(BLOB, &blob),
            ],
            ..Fip::new()
        };
        assert_eq!(parsed, expected, "align {align}");
        assert_eq!(expected.to_bytes(align).unwrap(), theirs, "align {align}");
    }
}
