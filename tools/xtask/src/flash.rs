//! The boot flash image: the root image at offset 0 and, at the board's
//! package offset, the image package (see `rampart_board::package`) that
//! carries the RMM and the NS payload.

use anyhow::{Context, bail, ensure};
use rampart_board::package::{ENTRY_SIZE, Entry, HEADER_SIZE, ImageKind, write_header};
use rampart_board::{BoardInfo, FlashBoot, GRANULE_SIZE, Range};

/// Images inside the package start on this alignment (from the package start).
pub const IMAGE_ALIGN: u64 = GRANULE_SIZE;

fn align_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align) * align
}

/// Flat binaries to put in flash.
pub struct Images<'a> {
    pub root: &'a [u8],
    pub rmm: &'a [u8],
    pub ns: &'a [u8],
}

/// The board's boot flash, or an error for boards whose root is not the
/// reset image (they boot from a FIP: `cargo xtask package`).
pub fn flash_of(board: &BoardInfo) -> anyhow::Result<FlashBoot> {
    board.root.flash().with_context(|| {
        format!(
            "board {} does not boot root from flash: package a FIP with `cargo xtask package --board {}`",
            board.name, board.name
        )
    })
}

/// A Normal-world OS the loader (QEMU's `-device loader`) places in DRAM
/// itself: the package only tells root where it lies (placed entries).
pub struct PlacedOs<'a> {
    /// The BL33 image root enters (a Linux `Image`, U-Boot).
    pub bl33: Range,
    pub initrd: Option<Range>,
    /// The OS command line for the device tree's `/chosen`.
    pub bootargs: Option<&'a str>,
}

/// What the package carries for the Normal world.
enum NormalWorld<'a> {
    /// A payload root copies to the board's NS entry (nshost).
    Payload(&'a [u8]),
    Placed(&'a PlacedOs<'a>),
}

/// Builds the flash image, exactly the board's flash size long.
pub fn assemble(board: &BoardInfo, images: &Images<'_>) -> anyhow::Result<Vec<u8>> {
    ensure!(
        !images.ns.is_empty(),
        "nshost.bin is empty: the firmware image has no loadable content"
    );
    build(
        board,
        images.root,
        images.rmm,
        NormalWorld::Payload(images.ns),
    )
}

/// Builds the flash image for a BL33 the loader places in DRAM: root and
/// the RMM in flash, the BL33 (and initramfs, command line) named by placed
/// package entries.
pub fn assemble_placed(
    board: &BoardInfo,
    root: &[u8],
    rmm: &[u8],
    os: &PlacedOs<'_>,
) -> anyhow::Result<Vec<u8>> {
    build(board, root, rmm, NormalWorld::Placed(os))
}

fn build(
    board: &BoardInfo,
    root: &[u8],
    rmm: &[u8],
    normal: NormalWorld<'_>,
) -> anyhow::Result<Vec<u8>> {
    let images = Images { root, rmm, ns: &[] };
    let FlashBoot {
        flash,
        package_offset,
        ..
    } = flash_of(board)?;
    let flash_size = flash.size;
    for (name, image) in [("root.bin", images.root), ("realm.bin", images.rmm)] {
        ensure!(
            !image.is_empty(),
            "{name} is empty: the firmware image has no loadable content"
        );
    }
    ensure!(
        package_offset < flash_size,
        "board {}: package offset {package_offset:#x} lies outside the {flash_size:#x}-byte flash",
        board.name
    );
    let root_len = images.root.len() as u64;
    if root_len > package_offset {
        bail!(
            "root.bin is {root_len} bytes ({root_len:#x}), larger than the {package_offset} bytes \
             ({package_offset:#x}) before the image package of board {}",
            board.name
        );
    }

    // The RMM runs from the base of its region and must stay clear of the
    // EL3<->RMM shared page at the region's end.
    let rmm_room = board.rmm_shared_page.saturating_sub(board.rmm.base);
    let rmm_len = images.rmm.len() as u64;
    ensure!(
        rmm_len <= rmm_room,
        "realm.bin is {rmm_len} bytes; only {rmm_room} bytes fit between the RMM base {:#x} and the shared page {:#x}",
        board.rmm.base,
        board.rmm_shared_page
    );
    let ns_bank: Range = *board.dram_bank_of(board.ns_entry).with_context(|| {
        format!(
            "board {}: NS entry {:#x} is in no DRAM bank",
            board.name, board.ns_entry
        )
    })?;
    let (ns_bytes, placed): (&[u8], Vec<(ImageKind, Range)>) = match &normal {
        NormalWorld::Payload(ns) => (ns, Vec::new()),
        NormalWorld::Placed(os) => {
            let mut placed = vec![(ImageKind::Bl33, os.bl33)];
            placed.extend(os.initrd.map(|r| (ImageKind::Initrd, r)));
            (os.bootargs.unwrap_or("").as_bytes(), placed)
        }
    };
    let ns_len = ns_bytes.len() as u64;
    match &normal {
        NormalWorld::Payload(_) => ensure!(
            ns_bank.contains_range(board.ns_entry, ns_len),
            "nshost.bin ({ns_len} bytes at {:#x}) runs past the end of its DRAM bank",
            board.ns_entry
        ),
        NormalWorld::Placed(_) => {
            // Root takes placed images only above the RMM region, in its bank.
            let window = Range::new(board.ns_entry, ns_bank.end() - board.ns_entry);
            for (kind, range) in &placed {
                ensure!(
                    range.size > 0 && window.contains_range(range.base, range.size),
                    "{kind:?} at {:#x} ({} bytes) is not inside Normal-world DRAM above the RMM \
                     region ({:#x}..{:#x})",
                    range.base,
                    range.size,
                    window.base,
                    window.end()
                );
            }
            if let [(_, a), (_, b)] = placed[..] {
                ensure!(
                    a.end() <= b.base || b.end() <= a.base,
                    "the BL33 ({:#x}..{:#x}) and the initramfs ({:#x}..{:#x}) overlap",
                    a.base,
                    a.end(),
                    b.base,
                    b.end()
                );
            }
        }
    }

    // The second packaged entry: nshost, or the command line (if any).
    let ns_kind = match normal {
        NormalWorld::Payload(_) => Some(ImageKind::NsPayload),
        NormalWorld::Placed(os) => os.bootargs.map(|_| ImageKind::Bootargs),
    };
    let packaged = 1 + usize::from(ns_kind.is_some());
    let table_len = (HEADER_SIZE + (packaged + placed.len()) * ENTRY_SIZE) as u64;
    let rmm_offset = align_up(table_len, IMAGE_ALIGN);
    let ns_offset = align_up(rmm_offset + rmm_len, IMAGE_ALIGN);
    let package_len = ns_offset + ns_len;
    let end = package_offset + package_len;
    if end > flash_size {
        bail!(
            "the flash image needs {end} bytes ({end:#x}: package at {package_offset:#x}, RMM {rmm_len} bytes, \
             NS payload {ns_len} bytes) but board {}'s flash holds {flash_size} ({flash_size:#x})",
            board.name
        );
    }

    let mut entries = vec![Entry {
        kind: ImageKind::Rmm,
        offset: rmm_offset,
        size: rmm_len,
        load: board.rmm.base,
    }];
    entries.extend(ns_kind.map(|kind| Entry {
        kind,
        offset: ns_offset,
        size: ns_len,
        // The command line is read in flash, not loaded.
        load: if kind == ImageKind::NsPayload {
            board.ns_entry
        } else {
            0
        },
    }));
    entries.extend(placed.iter().map(|&(kind, range)| Entry {
        kind,
        offset: 0,
        size: range.size,
        load: range.base,
    }));
    let size = usize::try_from(flash_size).context("flash size does not fit in memory")?;
    let mut flash = vec![0u8; size];
    let at = |offset: u64| (package_offset + offset) as usize;
    flash[..images.root.len()].copy_from_slice(images.root);
    write_header(&entries, &mut flash[at(0)..at(table_len)]);
    flash[at(rmm_offset)..at(rmm_offset + rmm_len)].copy_from_slice(images.rmm);
    flash[at(ns_offset)..at(ns_offset + ns_len)].copy_from_slice(ns_bytes);
    Ok(flash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_board::package::Package;
    use rampart_board::{
        AttestationSource, Gic, GptConfig, PowerControl, RmmTrace, RootBoot, RootLayout, Topology,
        Uart,
    };

    const DRAM: &[Range] = &[Range::new(0x4000_0000, 0x4000_0000)];

    fn board() -> BoardInfo {
        BoardInfo {
            name: "test",
            topology: Topology {
                cpu_count: 1,
                cores_per_cluster: 1,
                mpidr_shifted: false,
            },
            dram: DRAM,
            rmm: Range::new(0x4010_0000, 0x1_0000),
            rmm_shared_page: 0x4010_f000,
            ns_entry: 0x4190_0000,
            root: RootLayout {
                ram: Range::new(0x0e00_0000, 0x10_0000),
                boot: RootBoot::ResetVector(FlashBoot {
                    flash: Range::new(0, 0x2_0000),
                    package_offset: 0x8000,
                    hold_pen: 0x0e00_0000,
                }),
            },
            gpt: GptConfig {
                pps_bits: 32,
                l0_gpt_size_bits: 30,
                tables: Range::new(0x0e10_0000, 0x1000),
            },
            pas_map: &[],
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
            trace_lock: Some(0x4000_0000),
            gic: Gic {
                distributor: 0x0800_0000,
                redistributors: 0x080a_0000,
                redistributor_stride: 0x2_0000,
            },
            gpc_smmus: &[],
            counter_hz: 62_500_000,
            power: PowerControl::None,
            attestation: AttestationSource::None,
        }
    }

    #[test]
    fn places_root_and_a_package_root_can_parse() {
        let b = board();
        let (root, rmm, ns) = (vec![0x11; 100], vec![0x22; 5000], vec![0x33; 77]);
        let flash = assemble(
            &b,
            &Images {
                root: &root,
                rmm: &rmm,
                ns: &ns,
            },
        )
        .unwrap();
        assert_eq!(flash.len() as u64, flash_of(&b).unwrap().flash.size);
        assert_eq!(&flash[..100], &root[..]);
        let package =
            Package::parse(&flash[flash_of(&b).unwrap().package_offset as usize..]).unwrap();
        let (e, img) = package.image(ImageKind::Rmm, b.rmm).unwrap().unwrap();
        assert_eq!(
            (e.load, e.offset % IMAGE_ALIGN, img),
            (b.rmm.base, 0, &rmm[..])
        );
        let (e, img) = package
            .image(ImageKind::NsPayload, DRAM[0])
            .unwrap()
            .unwrap();
        assert_eq!(
            (e.load, e.offset % IMAGE_ALIGN, img),
            (b.ns_entry, 0, &ns[..])
        );
        assert!(e.offset >= 0x1000 + 5000);
    }

    #[test]
    fn refuses_images_that_do_not_fit() {
        let b = board();
        let small = vec![1u8; 10];
        let big_root = vec![1u8; 0x8001];
        let err = assemble(
            &b,
            &Images {
                root: &big_root,
                rmm: &small,
                ns: &small,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("root.bin is 32769 bytes"), "{err}");
        let big_rmm = vec![1u8; 0xf001];
        let err = assemble(
            &b,
            &Images {
                root: &small,
                rmm: &big_rmm,
                ns: &small,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("shared page"), "{err}");
        let big_ns = vec![1u8; 0x2_0000];
        let err = assemble(
            &b,
            &Images {
                root: &small,
                rmm: &small,
                ns: &big_ns,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("flash holds"), "{err}");
        let err = assemble(
            &b,
            &Images {
                root: &[],
                rmm: &small,
                ns: &small,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("root.bin is empty"), "{err}");
    }

    #[test]
    fn placed_os_is_described_not_copied() {
        let b = board();
        let (root, rmm) = (vec![0x11; 100], vec![0x22; 5000]);
        let os = PlacedOs {
            bl33: Range::new(0x6000_0000, 47 << 20),
            initrd: Some(Range::new(0x6400_0000, 3 << 20)),
            bootargs: Some("console=ttyAMA0"),
        };
        let flash = assemble_placed(&b, &root, &rmm, &os).unwrap();
        let package =
            Package::parse(&flash[flash_of(&b).unwrap().package_offset as usize..]).unwrap();
        assert_eq!(
            package.placed(ImageKind::Bl33, DRAM[0]).unwrap(),
            Some(os.bl33)
        );
        assert_eq!(
            package.placed(ImageKind::Initrd, DRAM[0]).unwrap(),
            os.initrd
        );
        let (_, args) = package
            .image(ImageKind::Bootargs, Range::new(0, 4096))
            .unwrap()
            .unwrap();
        assert_eq!(args, b"console=ttyAMA0");
        assert_eq!(package.entry(ImageKind::NsPayload), None);

        // No command line: no entry for it.
        let bare = PlacedOs {
            initrd: None,
            bootargs: None,
            ..os
        };
        let flash = assemble_placed(&b, &root, &rmm, &bare).unwrap();
        let package =
            Package::parse(&flash[flash_of(&b).unwrap().package_offset as usize..]).unwrap();
        assert_eq!(package.entry(ImageKind::Bootargs), None);
        assert_eq!(package.entry(ImageKind::Initrd), None);

        // Below the RMM region, or overlapping each other: refused.
        let low = PlacedOs {
            bl33: Range::new(0x4000_0000, 0x1000),
            initrd: None,
            bootargs: None,
        };
        let err = assemble_placed(&b, &root, &rmm, &low).unwrap_err();
        assert!(err.to_string().contains("not inside"), "{err}");
        let overlap = PlacedOs {
            bl33: Range::new(0x6000_0000, 0x20_0000),
            initrd: Some(Range::new(0x6010_0000, 0x1000)),
            bootargs: None,
        };
        let err = assemble_placed(&b, &root, &rmm, &overlap).unwrap_err();
        assert!(err.to_string().contains("overlap"), "{err}");
    }
}
