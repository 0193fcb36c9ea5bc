//! `cargo xtask interop --tfa-bl31 FILE`: Rampart's RMM (`realm`) and the
//! `nshost` payload booted by TF-A's BL1, BL2 and BL31 (built by the user
//! with `PLAT=qemu`, RME enabled and `QEMU_USE_GIC_DRIVER=QEMU_GICV3`) on
//! QEMU virt, in place of TF-RMM and a Normal-world loader.
//!
//! The boot flash is laid out as TF-A's QEMU port reads it: BL1 at the
//! reset address, a FIP at `PLAT_QEMU_FIP_BASE` holding BL2 (`tb-fw`), BL31
//! (`soc-fw`), nshost (`nt-fw`) and the RMM (`rmm-fw`). BL2 loads nshost at
//! `NS_IMAGE_OFFSET`, so nshost is linked there (`RAMPART_NS_BASE`) and
//! built for TF-A at EL3 (`RAMPART_NSHOST_EL3=tf-a`: a few checks of root's
//! own behaviour are relaxed or left out, and say so in the trace). Both
//! UARTs are decoded live; on UART0 TF-A's console text shows as
//! `[console]` lines beside nshost's records and our RMM's (TF-A does not
//! answer the RMM's ring registration, so the RMM writes UART0 itself), and
//! the run is judged like `cargo xtask run`'s.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use rampart_fip::uuid::{
    EL3_RUNTIME_FIRMWARE_BL31, NON_TRUSTED_FIRMWARE_BL33, REALM_MONITOR_MGMT_FIRMWARE,
    TRUSTED_BOOT_FIRMWARE_BL2,
};
use rampart_fip::{DEFAULT_ALIGN, Fip};
use rampart_ipc::trace::{NSHOST, REALM};
use rampart_trace::Decoder;

use super::{RampartImages, read};
use crate::board::Board;
use crate::firmware::elf_symbol;
use crate::prereq;
use crate::qemu::{self, RunOptions};
use crate::verdict;
use crate::workspace::Workspace;

/// TF-A's QEMU layout (plat/qemu/qemu/include/platform_def.h, v2.14/v2.15).
/// `QEMU_FLASH0_SIZE`: pflash0, where `-bios` puts the flash image.
const FLASH_SIZE: usize = 0x0400_0000;
/// `PLAT_QEMU_FIP_BASE`: where BL1 and BL2 read the FIP.
const FIP_BASE: usize = 0x0004_0000;
/// `NS_IMAGE_OFFSET` (`NS_DRAM0_BASE + 0x20000000`): BL33's load and entry
/// address.
pub const NS_IMAGE_OFFSET: u64 = 0x6000_0000;
/// DRAM for QEMU: `NS_DRAM0_SIZE`, 3 GB from 0x40000000, is the bank BL31
/// reports to the RMM in the boot manifest (`plat_get_memory_node`,
/// plat/qemu/common/qemu_common.c) whatever QEMU has; give QEMU that much.
const MEMORY: &str = "3G";

/// TF-A's images, from its build directory (build/qemu/<release|debug>/).
#[derive(Debug, PartialEq, Eq)]
pub struct TfaImages {
    pub bl1: PathBuf,
    pub bl2: PathBuf,
    pub bl31: PathBuf,
}

impl TfaImages {
    /// BL1 and BL2 default to `bl1.bin` and `bl2.bin` beside BL31, as
    /// TF-A's build directory has them.
    pub fn locate(bl31: &Path, bl1: Option<&Path>, bl2: Option<&Path>) -> Self {
        let sibling = |name: &str| bl31.with_file_name(name);
        Self {
            bl1: bl1.map_or_else(|| sibling("bl1.bin"), Path::to_path_buf),
            bl2: bl2.map_or_else(|| sibling("bl2.bin"), Path::to_path_buf),
            bl31: bl31.to_path_buf(),
        }
    }
}

/// The FIP BL1 and BL2 read: BL2, BL31, BL33 and the RMM, in fiptool's order.
pub fn fip(bl2: &[u8], bl31: &[u8], bl33: &[u8], rmm: &[u8]) -> Result<Vec<u8>> {
    let mut fip = Fip::new();
    for (uuid, data) in [
        (TRUSTED_BOOT_FIRMWARE_BL2, bl2),
        (EL3_RUNTIME_FIRMWARE_BL31, bl31),
        (NON_TRUSTED_FIRMWARE_BL33, bl33),
        (REALM_MONITOR_MGMT_FIRMWARE, rmm),
    ] {
        fip.set(uuid, data.to_vec());
    }
    fip.to_bytes(DEFAULT_ALIGN).context("laying out the FIP")
}

/// pflash0's contents: BL1 at 0, the FIP at `PLAT_QEMU_FIP_BASE`.
pub fn flash(bl1: &[u8], fip: &[u8]) -> Result<Vec<u8>> {
    ensure!(
        bl1.len() <= FIP_BASE,
        "bl1.bin is {} bytes: it overlaps the FIP at {FIP_BASE:#x}",
        bl1.len()
    );
    ensure!(
        fip.len() <= FLASH_SIZE - FIP_BASE,
        "the FIP is {} bytes: more than the {} bytes of flash after {FIP_BASE:#x}",
        fip.len(),
        FLASH_SIZE - FIP_BASE
    );
    let mut image = vec![0u8; FLASH_SIZE];
    image[..bl1.len()].copy_from_slice(bl1);
    image[FIP_BASE..FIP_BASE + fip.len()].copy_from_slice(fip);
    Ok(image)
}

/// Builds the guest, the RMM and nshost (for TF-A's BL33 address) into
/// `out`; returns (realm.bin, nshost.bin).
fn build(ws: &Workspace, out: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let images = RampartImages::start(ws, out)?;
    let realm = images.build("rampart-realm", "realm", &[])?;
    let base = format!("{NS_IMAGE_OFFSET:#x}");
    let env = [
        ("RAMPART_NS_BASE", base.as_str()),
        ("RAMPART_NSHOST_EL3", "tf-a"),
    ];
    let nshost = images.build("rampart-nshost", "nshost", &env)?;
    let linked = elf_symbol(&out.join("nshost.elf"), "__image_start")?;
    ensure!(
        linked == NS_IMAGE_OFFSET,
        "nshost is linked at {linked:#x}, not at TF-A's BL33 address {NS_IMAGE_OFFSET:#x}"
    );
    Ok((realm, nshost))
}

/// `cargo xtask interop --tfa-bl31 ...`: builds, packages, boots and judges.
pub fn run(ws: &Workspace, tfa: &TfaImages, options: &RunOptions) -> Result<bool> {
    let board = Board::QemuVirt;
    println!("qemu: {}", prereq::check_qemu()?);
    let bl1 = read(&tfa.bl1)?;
    let bl2 = read(&tfa.bl2)?;
    let bl31 = read(&tfa.bl31)?;
    let out = ws.out_dir(board).join("interop-tf-a");
    let (realm, nshost) = build(ws, &out)?;

    let fip = fip(&bl2, &bl31, &nshost, &realm)?;
    let image = flash(&bl1, &fip)?;
    let fip_path = out.join("fip.bin");
    let flash_path = out.join("flash.bin");
    std::fs::write(&fip_path, &fip).with_context(|| format!("writing {}", fip_path.display()))?;
    std::fs::write(&flash_path, &image)
        .with_context(|| format!("writing {}", flash_path.display()))?;
    println!("interop: TF-A BL1 {}", tfa.bl1.display());
    println!("interop: TF-A BL2 {}", tfa.bl2.display());
    println!("interop: TF-A BL31 {}", tfa.bl31.display());
    println!(
        "interop: fip.bin {} bytes (tb-fw BL2 {}, soc-fw BL31 {}, nt-fw nshost {} at {NS_IMAGE_OFFSET:#x}, rmm-fw realm {}); flash.bin {}",
        fip.len(),
        bl2.len(),
        bl31.len(),
        nshost.len(),
        realm.len(),
        flash_path.display()
    );

    let mut elfs = Vec::new();
    for (channel, stem) in [(REALM, "realm"), (NSHOST, "nshost")] {
        elfs.push((channel, read(&out.join(format!("{stem}.elf")))?));
    }
    let decoder = Decoder::new(elfs)?;
    let command = qemu::virt_command(&flash_path, MEMORY, options);
    let report = qemu::run_command(command, decoder, &qemu::Captures::in_dir(&out), options)?;

    // The platform token BL31 hands the RMM on QEMU is TF-A's static sample
    // (plat/qemu/common/qemu_plat_attest_token.c), signed by no key of
    // ours: the token the guest got is reported, not verified.
    match report.tracker.attestation.complete() {
        Some(token) => println!(
            "attestation: the guest's token ({} bytes) was relayed; not verified: its platform \
             part is TF-A's QEMU sample token",
            token.len()
        ),
        None => println!("attestation: no complete token was relayed"),
    }
    let judgement = verdict::judge(&report, None);
    judgement.print();
    if !judgement.ok() && report.tracker.cases.is_empty() {
        bail!(
            "no case reported: see the [console] lines above for TF-A's console (did BL31 boot the RMM?)"
        );
    }
    Ok(judgement.ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bl1_and_bl2_default_to_bl31s_siblings() {
        let bl31 = Path::new("/tfa/build/qemu/release/bl31.bin");
        let images = TfaImages::locate(bl31, None, Some(Path::new("/x/bl2.bin")));
        assert_eq!(
            images,
            TfaImages {
                bl1: "/tfa/build/qemu/release/bl1.bin".into(),
                bl2: "/x/bl2.bin".into(),
                bl31: bl31.into(),
            }
        );
    }

    #[test]
    fn flash_holds_bl1_at_reset_and_the_fip_at_its_base() {
        let fip = fip(&[2; 10], &[31; 20], &[33; 30], &[0x7e; 40]).unwrap();
        let parsed = Fip::parse(&fip).unwrap();
        let uuids: Vec<_> = parsed.entries.iter().map(|e| e.uuid).collect();
        assert_eq!(
            uuids,
            [
                TRUSTED_BOOT_FIRMWARE_BL2,
                EL3_RUNTIME_FIRMWARE_BL31,
                NON_TRUSTED_FIRMWARE_BL33,
                REALM_MONITOR_MGMT_FIRMWARE
            ]
        );
        let image = flash(&[0xb1; 100], &fip).unwrap();
        assert_eq!(image.len(), 64 << 20);
        assert_eq!(&image[..100], &[0xb1; 100]);
        assert!(image[100..FIP_BASE].iter().all(|&b| b == 0));
        assert_eq!(&image[FIP_BASE..FIP_BASE + fip.len()], &fip[..]);

        let err = flash(&vec![0; FIP_BASE + 1], &fip).unwrap_err();
        assert!(err.to_string().contains("overlaps the FIP"), "{err}");
        assert!(flash(&[0], &vec![0; FLASH_SIZE]).is_err());
    }
}
