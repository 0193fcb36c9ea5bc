//! Host tests of the fixup against QEMU's own blob: `dumpdtb` of
//! `qemu-system-aarch64 -M virt,secure=on,virtualization=on,gic-version=3
//! -cpu max,x-rme=on -smp 4 -m 2G` (QEMU 10.0.2), packed with `dtc -I dtb
//! -O dtb` (QEMU's own blob claims 1 MB, mostly free space).

extern crate std;

use super::*;
use dtoolkit::fdt::FdtNode;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::string::ToString;
use std::vec;

const QEMU_DTB: &[u8] = include_bytes!("fixtures/qemu-virt-secure-smp4.dtb");

const RMM: Range = Range::new(0x4010_0000, 24 << 20);
const LOCK_PAGE: Range = Range::new(0x400f_f000, 0x1000);

fn qemu_fixups() -> Fixups<'static> {
    Fixups::for_board(&rampart_board_qemu_virt::BOARD)
}

fn fixed(input: &[u8], fixes: &Fixups<'_>) -> Vec<u8> {
    let mut out = vec![0u8; 64 * 1024];
    let n = fixup(input, &mut out, fixes).expect("fixup");
    out.truncate(n);
    out
}

/// Every property of the tree under its node's path.
fn flatten(blob: &[u8]) -> BTreeMap<(String, String), Vec<u8>> {
    fn walk(node: FdtNode<'_>, path: &str, all: &mut BTreeMap<(String, String), Vec<u8>>) {
        for p in node.properties() {
            all.insert((path.to_string(), p.name().to_string()), p.value().to_vec());
        }
        // An empty-property marker so that a node without properties counts.
        all.insert((path.to_string(), String::new()), Vec::new());
        for child in node.children() {
            let child_path = if path == "/" {
                format!("/{}", child.name())
            } else {
                format!("{path}/{}", child.name())
            };
            walk(child, &child_path, all);
        }
    }
    let fdt = Fdt::new(blob).expect("reparses");
    let mut all = BTreeMap::new();
    walk(fdt.root(), "/", &mut all);
    all
}

fn prop(blob: &[u8], path: &str, name: &str) -> Option<Vec<u8>> {
    flatten(blob).remove(&(path.to_string(), name.to_string()))
}

fn be64(a: u64, b: u64) -> Vec<u8> {
    [a.to_be_bytes(), b.to_be_bytes()].concat()
}

#[test]
fn the_fixture_is_qemus_blob_without_psci_or_reservations() {
    let tree = flatten(QEMU_DTB);
    assert!(!tree.keys().any(|(path, _)| path.starts_with("/psci")));
    assert!(
        !tree
            .keys()
            .any(|(path, _)| path.starts_with("/reserved-memory"))
    );
    assert!(tree.contains_key(&("/chosen".to_string(), "stdout-path".to_string())));
    assert_eq!(
        tree.keys()
            .filter(|(path, name)| path.starts_with("/cpus/cpu@") && name.is_empty())
            .count(),
        4
    );
}

#[test]
fn qemu_virt_reserves_the_rmm_region_and_the_trace_lock_page() {
    let fixes = qemu_fixups();
    assert_eq!(
        fixes.reservations(),
        &[
            Reservation {
                name: "rmm",
                range: RMM
            },
            Reservation {
                name: "trace-lock",
                range: LOCK_PAGE
            },
        ]
    );
    assert_eq!(fixes.bootargs, None);
    assert_eq!(fixes.initrd, None);
}

#[test]
fn every_boards_reservations_lie_in_its_dram() {
    for board in [
        &rampart_board_qemu_virt::BOARD,
        &rampart_board_fvp_rdv3::BOARD,
    ] {
        let fixes = Fixups::for_board(board);
        // RD-V3's `dram` is the NS DRAM BL2 hands over: nothing in it to
        // reserve (and root hands that board no device tree of its own).
        if crate::rootmap::ns_dtb_window(board).is_some() {
            assert!(!fixes.reservations().is_empty(), "{}", board.name);
        }
        assert!(
            fixes.reservations().len() < MAX_RESERVATIONS,
            "{}",
            board.name
        );
        for r in fixes.reservations() {
            assert!(
                board
                    .dram
                    .iter()
                    .any(|bank| bank.contains_range(r.range.base, r.range.size)),
                "{}: {r:?}",
                board.name
            );
        }
    }
}

#[test]
fn psci_node_and_cpu_enable_methods() {
    let out = fixed(QEMU_DTB, &qemu_fixups());
    // For a look by hand: RAMPART_DTB_DUMP=x.dtb, then `dtc -I dtb -O dts x.dtb`.
    if let Ok(path) = std::env::var("RAMPART_DTB_DUMP") {
        std::fs::write(path, &out).unwrap();
    }
    assert_eq!(
        prop(&out, "/psci", "compatible").unwrap(),
        b"arm,psci-1.0\0arm,psci-0.2\0"
    );
    assert_eq!(prop(&out, "/psci", "method").unwrap(), b"smc\0");
    let tree = flatten(&out);
    let cpus: Vec<_> = tree
        .iter()
        .filter(|((path, name), value)| {
            path.starts_with("/cpus/") && name == "device_type" && value.as_slice() == b"cpu\0"
        })
        .map(|((path, _), _)| path.clone())
        .collect();
    assert_eq!(cpus.len(), 4);
    for cpu in cpus {
        assert_eq!(
            tree.get(&(cpu.clone(), "enable-method".to_string()))
                .unwrap(),
            b"psci\0",
            "{cpu}"
        );
    }
}

#[test]
fn reserved_memory_holds_exactly_the_given_ranges_with_no_map() {
    let out = fixed(QEMU_DTB, &qemu_fixups());
    let tree = flatten(&out);
    let rm = "/reserved-memory";
    assert_eq!(
        prop(&out, rm, "#address-cells").unwrap(),
        2u32.to_be_bytes()
    );
    assert_eq!(prop(&out, rm, "#size-cells").unwrap(), 2u32.to_be_bytes());
    assert_eq!(prop(&out, rm, "ranges").unwrap(), b"");
    let children: BTreeMap<_, _> = tree
        .iter()
        .filter(|((path, name), _)| path.starts_with("/reserved-memory/") && name.is_empty())
        .map(|((path, _), _)| {
            let reg = tree
                .get(&(path.clone(), "reg".to_string()))
                .unwrap()
                .clone();
            let no_map = tree.get(&(path.clone(), "no-map".to_string())).cloned();
            (path.clone(), (reg, no_map))
        })
        .collect();
    let expected: BTreeMap<_, _> = [
        (
            "/reserved-memory/rmm@40100000".to_string(),
            (be64(RMM.base, RMM.size), Some(vec![])),
        ),
        (
            "/reserved-memory/trace-lock@400ff000".to_string(),
            (be64(LOCK_PAGE.base, LOCK_PAGE.size), Some(vec![])),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(children, expected);
}

#[test]
fn chosen_gets_bootargs_and_initrd_and_keeps_the_rest() {
    let mut fixes = qemu_fixups();
    fixes.bootargs = Some("console=ttyAMA0 earlycon");
    fixes.initrd = Some(Range::new(0x6400_0000, 0x12_3456));
    let out = fixed(QEMU_DTB, &fixes);
    assert_eq!(
        prop(&out, "/chosen", "bootargs").unwrap(),
        b"console=ttyAMA0 earlycon\0"
    );
    assert_eq!(
        prop(&out, "/chosen", "linux,initrd-start").unwrap(),
        0x6400_0000u64.to_be_bytes()
    );
    assert_eq!(
        prop(&out, "/chosen", "linux,initrd-end").unwrap(),
        0x6412_3456u64.to_be_bytes()
    );
    for name in ["stdout-path", "rng-seed", "kaslr-seed"] {
        assert_eq!(
            prop(&out, "/chosen", name),
            prop(QEMU_DTB, "/chosen", name),
            "{name}"
        );
    }
    // Bootargs already there are replaced, not doubled.
    fixes.bootargs = Some("quiet");
    let again = fixed(&out, &fixes);
    assert_eq!(prop(&again, "/chosen", "bootargs").unwrap(), b"quiet\0");
    let count = Fdt::new(&again)
        .unwrap()
        .find_node("/chosen")
        .unwrap()
        .properties()
        .filter(|p| p.name() == "bootargs")
        .count();
    assert_eq!(count, 1);
}

#[test]
fn without_bootargs_or_initrd_chosen_is_untouched() {
    let out = fixed(QEMU_DTB, &qemu_fixups());
    let keys = |blob: &[u8]| -> Vec<_> {
        flatten(blob)
            .into_iter()
            .filter(|((path, _), _)| path == "/chosen")
            .collect()
    };
    assert_eq!(keys(&out), keys(QEMU_DTB));
}

#[test]
fn every_original_node_and_property_survives_unchanged() {
    let mut fixes = qemu_fixups();
    fixes.bootargs = Some("root=/dev/ram0");
    fixes.initrd = Some(Range::new(0x6400_0000, 0x1000));
    let before = flatten(QEMU_DTB);
    let after = flatten(&fixed(QEMU_DTB, &fixes));
    for (key, value) in &before {
        assert_eq!(after.get(key), Some(value), "{key:?} changed or lost");
    }
    // And nothing else was added than the fixups.
    for (path, name) in after.keys().filter(|k| !before.contains_key(k)) {
        let expected = path == "/psci"
            || path.starts_with("/reserved-memory")
            || (path == "/chosen"
                && ["bootargs", "linux,initrd-start", "linux,initrd-end"].contains(&name.as_str()));
        assert!(expected, "unexpected {path} {name}");
    }
}

#[test]
fn memory_reservation_block_and_boot_cpu_are_kept() {
    // A blob with a /memreserve/ entry and a nonzero boot CPU: the fixture
    // reserialised by the same writer, header patched.
    let mut tree = DeviceTree::from_fdt(&Fdt::new(QEMU_DTB).unwrap());
    tree.memory_reservations
        .push(dtoolkit::memreserve::MemoryReservation::new(
            0x4800_0000,
            0x2000,
        ));
    let mut blob = tree.to_dtb();
    set_header_word(&mut blob, BOOT_CPUID_PHYS, 2);
    let out = fixed(&blob, &qemu_fixups());
    assert_eq!(header_word(&out, BOOT_CPUID_PHYS), Ok(2));
    let kept: Vec<_> = Fdt::new(&out)
        .unwrap()
        .memory_reservations()
        .map(|r| (r.address(), r.size()))
        .collect();
    assert_eq!(kept, [(0x4800_0000, 0x2000)]);
}

/// QEMU's blob as it lies in DRAM: `totalsize` 1 MB, free space after the
/// strings block. Root fixes it in a window that ends before that.
#[test]
fn qemus_padded_blob_is_fixed_in_place_in_a_shorter_window() {
    let mut dram = vec![0u8; 1 << 20];
    dram[..QEMU_DTB.len()].copy_from_slice(QEMU_DTB);
    set_header_word(&mut dram, TOTALSIZE, 1 << 20);
    let window = &mut dram[..0xf_f000];
    let n = fixup_in_place(window, &qemu_fixups()).unwrap();
    assert!(n < 16 * 1024, "{n}");
    assert_eq!(header_word(window, TOTALSIZE), Ok(n as u32));
    assert_eq!(
        flatten(&window[..n]),
        flatten(&fixed(QEMU_DTB, &qemu_fixups()))
    );
}

#[test]
fn fixing_twice_changes_nothing_more() {
    let once = fixed(QEMU_DTB, &qemu_fixups());
    let twice = fixed(&once, &qemu_fixups());
    assert_eq!(flatten(&once), flatten(&twice));
    assert!(once == twice, "same tree, different bytes");
}

#[test]
fn an_output_buffer_too_small_is_an_error() {
    let mut out = vec![0u8; QEMU_DTB.len()];
    assert!(matches!(
        fixup(QEMU_DTB, &mut out, &qemu_fixups()),
        Err(DtbError::OutputTooSmall { .. })
    ));
    let mut tiny = [0u8; 16];
    assert!(matches!(
        fixup(QEMU_DTB, &mut tiny, &qemu_fixups()),
        Err(DtbError::OutputTooSmall { .. })
    ));
    // In place: the blob is left as it was.
    let mut buf = QEMU_DTB.to_vec();
    assert!(matches!(
        fixup_in_place(&mut buf, &qemu_fixups()),
        Err(DtbError::OutputTooSmall { .. })
    ));
    assert_eq!(buf, QEMU_DTB);
}

#[test]
fn truncated_input_is_an_error_not_a_panic() {
    let mut out = vec![0u8; 64 * 1024];
    // Every cut in the header and near the end, a spread in between.
    let cuts = (0..HEADER_SIZE + 8)
        .chain((HEADER_SIZE..QEMU_DTB.len()).step_by(61))
        .chain(QEMU_DTB.len() - 64..QEMU_DTB.len());
    for len in cuts {
        let result = fixup(&QEMU_DTB[..len], &mut out, &qemu_fixups());
        assert!(
            matches!(
                result,
                Err(DtbError::Truncated { .. } | DtbError::Malformed)
            ),
            "{len}: {result:?}"
        );
    }
}

#[test]
fn garbage_and_corrupted_input_never_panic() {
    let mut out = vec![0u8; 64 * 1024];
    assert_eq!(
        fixup(&[0xa5; 4096], &mut out, &qemu_fixups()),
        Err(DtbError::Malformed)
    );
    // A valid header over garbage.
    let mut blob = QEMU_DTB.to_vec();
    for b in &mut blob[HEADER_SIZE..] {
        *b = 0x5a;
    }
    assert!(fixup(&blob, &mut out, &qemu_fixups()).is_err());
    // Every byte of the header and a spread of the body flipped in turn:
    // the reader either rejects the blob or the fixup succeeds.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let positions = (0..HEADER_SIZE).chain((0..300).map(|_| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed as usize) % QEMU_DTB.len()
    }));
    for pos in positions {
        let mut blob = QEMU_DTB.to_vec();
        blob[pos] ^= 0xff;
        let mut in_place = blob.clone();
        let copy = fixup(&blob, &mut out, &qemu_fixups());
        let here = fixup_in_place(&mut in_place, &qemu_fixups());
        if here.is_err() {
            assert_eq!(in_place, blob, "byte {pos}: left changed on error");
        }
        let _ = copy;
    }
}

#[test]
fn no_cpus_node_is_an_error() {
    let mut tree = DeviceTree::from_fdt(&Fdt::new(QEMU_DTB).unwrap());
    tree.root.remove_child("cpus");
    let blob = tree.to_dtb();
    let mut out = vec![0u8; 64 * 1024];
    assert_eq!(
        fixup(&blob, &mut out, &qemu_fixups()),
        Err(DtbError::NoCpus)
    );
}

#[test]
fn bad_reservations_are_errors() {
    let mut out = vec![0u8; 64 * 1024];
    let mut fixes = Fixups::default();
    fixes
        .reserve("bad name!", Range::new(0x4000_0000, 0x1000))
        .unwrap();
    assert_eq!(
        fixup(QEMU_DTB, &mut out, &fixes),
        Err(DtbError::BadReservation)
    );
    let mut fixes = Fixups::default();
    fixes.reserve("empty", Range::new(0x4000_0000, 0)).unwrap();
    assert_eq!(
        fixup(QEMU_DTB, &mut out, &fixes),
        Err(DtbError::BadReservation)
    );
    let mut fixes = Fixups::default();
    for _ in 0..MAX_RESERVATIONS {
        fixes.reserve("r", Range::new(0, 1)).unwrap();
    }
    assert_eq!(
        fixes.reserve("r", Range::new(0, 1)),
        Err(DtbError::TooManyReservations)
    );
}

// The heap a fixup takes, counted on this thread only (tests run in
// parallel), so that root's heap can be sized from a measurement.
struct Counting;

std::thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            let live = LIVE.with(|l| {
                l.set(l.get() + layout.size());
                l.get()
            });
            PEAK.with(|p| p.set(p.get().max(live)));
        }
        // SAFETY: forwarded as the caller made it.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.with(Cell::get) {
            LIVE.with(|l| l.set(l.get().saturating_sub(layout.size())));
        }
        // SAFETY: forwarded as the caller made it.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING_ALLOCATOR: Counting = Counting;

#[test]
fn heap_peak_fits_the_budget() {
    let mut fixes = qemu_fixups();
    fixes.bootargs = Some("console=ttyAMA0 root=/dev/ram0 rdinit=/init");
    fixes.initrd = Some(Range::new(0x6400_0000, 0x1000));
    let mut dram = vec![0u8; 0xf_f000];
    dram[..QEMU_DTB.len()].copy_from_slice(QEMU_DTB);
    COUNTING.with(|c| c.set(true));
    let result = fixup_in_place(&mut dram, &fixes);
    COUNTING.with(|c| c.set(false));
    result.unwrap();
    let (live, peak) = (LIVE.with(Cell::get), PEAK.with(Cell::get));
    std::println!("dtb fixup heap: peak {peak} bytes, {live} left");
    assert_eq!(live, 0, "everything is freed");
    // Allocator overhead and fragmentation: keep a fifth of the budget spare.
    assert!(peak * 5 / 4 <= HEAP_PEAK_BUDGET, "peak {peak}");
}
