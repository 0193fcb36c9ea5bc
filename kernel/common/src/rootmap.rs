//! What root maps, per board: every range root touches, in the PAS it must
//! be accessed in, and nothing else. Kept apart from the table walk so that
//! a host test can build root's tables for every board, which is the only
//! check of a board root cannot be booted on here (FVP RD-V3).

use crate::pagetable::{Attrs, OutputPas};
use rampart_board::{AttestationSource, BoardInfo, Gpi, PowerControl, Range, RootBoot};

/// Largest NS payload root will load from flash (its window is mapped for the copy).
pub const NS_LOAD_WINDOW: u64 = 16 << 20;
/// Bytes of one MHUv3 frame (postbox or mailbox) root maps.
pub const MHU_FRAME: u64 = 0x1_0000;
/// Bytes of the GIC distributor root maps.
pub const GICD_SIZE: u64 = 0x1_0000;
/// Bytes of an SMMU register page root maps (page 0 with the Secure page's
/// SMMU_S_INIT, and the Root page).
pub const SMMU_PAGE: u64 = 0x1_0000;

/// Where the linker put root's image: (start, end of text, end of rodata,
/// end of RAM use).
#[derive(Clone, Copy, Debug)]
pub struct ImageSpans {
    pub start: u64,
    pub text_end: u64,
    pub rodata_end: u64,
    pub ram_end: u64,
}

/// One mapping: base, size (both page aligned), attributes.
pub type Region = (u64, u64, Attrs);

/// Translation tables in root's pool: enough for every board's map (the
/// tests below build each one).
pub const ROOT_TABLES: usize = 24;

/// Most regions a board can need.
pub const MAX_REGIONS: usize = 24;

/// The PAS root accesses `addr` in: its region's in the board's PAS map;
/// Root for regions open to every PAS and for what the map leaves out.
pub fn pas_of(board: &BoardInfo, addr: u64) -> OutputPas {
    match board.pas_map.iter().find(|r| r.range.contains(addr)) {
        Some(r) => match r.gpi {
            Gpi::Secure => OutputPas::Secure,
            Gpi::NonSecure => OutputPas::NonSecure,
            Gpi::Realm => OutputPas::Realm,
            Gpi::Root | Gpi::Any | Gpi::NoAccess => OutputPas::Root,
        },
        None => OutputPas::Root,
    }
}

/// Largest device tree blob root fixes up for the Normal world.
pub const NS_DTB_WINDOW_MAX: u64 = 2 << 20;

/// Where the machine's device tree lies on boards where root is the reset
/// image: QEMU writes its blob at the start of DRAM. The window runs to the
/// first page the firmware keeps there (root's trace lock, the RMM region),
/// at most [`NS_DTB_WINDOW_MAX`]; root maps it read-write in the NS PAS,
/// fixes the blob up in place and hands its address to the Normal world.
/// None where BL2 hands over the tree (its address comes with BL33's
/// arguments) and on boards without DRAM.
pub fn ns_dtb_window(board: &BoardInfo) -> Option<Range> {
    let RootBoot::ResetVector(_) = board.root.boot else {
        return None;
    };
    let base = board.dram.first()?.base;
    let end = [
        board.trace_lock.map_or(board.rmm.base, page_down),
        board.rmm.base,
        base + NS_DTB_WINDOW_MAX,
    ]
    .into_iter()
    .filter(|&limit| limit > base)
    .min()?;
    Some(Range::new(base, end - base))
}

const fn page_down(a: u64) -> u64 {
    a & !0xfff
}

const fn page_up(a: u64) -> u64 {
    (a + 0xfff) & !0xfff
}

/// Every region root maps on `board`, zero-sized ones already left out.
/// A page two regions share is given the same attributes by both (device
/// memory in the PAS its region has), which the table builder accepts.
pub fn root_regions(board: &BoardInfo, image: ImageSpans) -> ([Region; MAX_REGIONS], usize) {
    let root = OutputPas::Root;
    let device = |base: u64, size: u64| -> Region {
        let start = page_down(base);
        (
            start,
            page_up(base + size) - start,
            Attrs::device(pas_of(board, base)),
        )
    };
    let none = (0, 0, Attrs::rodata(root));
    let mut all = [none; MAX_REGIONS];
    let mut n = 0;
    let mut push = |r: Region| {
        if r.1 != 0 {
            all[n] = r;
            n += 1;
        }
    };
    push((image.start, image.text_end - image.start, Attrs::code(root)));
    push((
        image.text_end,
        image.rodata_end - image.text_end,
        Attrs::rodata(root),
    ));
    push((
        image.rodata_end,
        page_up(image.ram_end) - image.rodata_end,
        Attrs::data(root),
    ));
    push((
        board.gpt.tables.base,
        board.gpt.tables.size,
        Attrs::data(root),
    ));
    // Root's own trace UART, in the PAS the GPT gives it (Secure on QEMU,
    // Root where it is open to all). Root shares it with no other image:
    // the RMM's records reach it through root, so no NS lock word either.
    push(device(board.root_trace_uart.base, 0x1000));
    push((board.gic.distributor, GICD_SIZE, Attrs::device(root)));
    push((
        board.gic.redistributors,
        board.gic.redistributor_stride * board.topology.cpu_count as u64,
        Attrs::device(root),
    ));
    push((
        board.rmm.base,
        board.rmm.size,
        Attrs::data(OutputPas::Realm),
    ));
    match board.root.boot {
        // The pen, the flash root reads the package from, the NS load
        // window it copies the payload into, and the machine's device tree
        // it fixes up for the Normal world.
        RootBoot::ResetVector(f) => {
            push((f.hold_pen, 0x1000, Attrs::data(root)));
            push((f.flash.base, f.flash.size, Attrs::rodata(root)));
            push((
                board.ns_entry,
                NS_LOAD_WINDOW,
                Attrs::data(OutputPas::NonSecure),
            ));
            if let Some(dtb) = ns_dtb_window(board) {
                push((dtb.base, dtb.size, Attrs::data(OutputPas::NonSecure)));
            }
        }
        // BL2's handoff (read only) and the trusted mailbox BL1 reads on
        // warm boots. The mailbox shares its page with the SCP's SCMI
        // channel on CSS boards, which is device memory, as TF-A maps it.
        RootBoot::Bl31(b) => {
            let start = page_down(b.handoff.base);
            push((
                start,
                page_up(b.handoff.end()) - start,
                Attrs::rodata(pas_of(board, b.handoff.base)),
            ));
            push(device(b.warm_mailbox, 8));
        }
    }
    for smmu in board.gpc_smmus {
        push((smmu.base, SMMU_PAGE, Attrs::device(root)));
        push((
            smmu.base + smmu.root_page_offset,
            SMMU_PAGE,
            Attrs::device(root),
        ));
    }
    match board.power {
        PowerControl::Scmi(scmi) => {
            push(device(scmi.shared_mem_base, scmi.shared_mem_size));
            push(device(scmi.doorbell_frame_base, scmi.doorbell_frame_size));
        }
        PowerControl::Pl061Gpio { base, .. } => {
            push((base, 0x1000, Attrs::device(OutputPas::Secure)));
        }
        PowerControl::None => {}
    }
    if let AttestationSource::Rse(mhu) = board.attestation {
        push(device(mhu.sender, MHU_FRAME));
        push(device(mhu.receiver, MHU_FRAME));
    }
    (all, n)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::pagetable::{Regime, TableBuilder};
    use rampart_board::link::root_stack_size;
    use std::vec;

    /// Root's image as the linker lays it out for `board`: code, rodata,
    /// then data, .bss and stacks to the end of its RAM use.
    fn image(board: &BoardInfo) -> ImageSpans {
        let start = board.root.ram.base;
        let stacks = root_stack_size(board) * board.topology.cpu_count as u64;
        ImageSpans {
            start,
            text_end: start + 0x1_4000,
            rodata_end: start + 0x1_8000,
            ram_end: start + 0x2_0000 + stacks + ROOT_TABLES as u64 * 0x1000,
        }
    }

    fn build(board: &BoardInfo) -> (vec::Vec<[u64; 512]>, usize) {
        let (regions, n) = root_regions(board, image(board));
        let mut pool = vec![[0u64; 512]; ROOT_TABLES];
        let mut t = TableBuilder::new(&mut pool, 0x10_0000, Regime::El3);
        for &(base, size, attrs) in &regions[..n] {
            t.map(base, size, attrs)
                .unwrap_or_else(|e| panic!("{}: {base:#x}+{size:#x}: {e:?}", board.name));
            assert!(t.lookup(base).is_some());
        }
        (pool, n)
    }

    #[test]
    fn every_boards_root_map_builds_in_the_pool() {
        // Every board root is built for (the host board is a simulation).
        for board in [
            &rampart_board_qemu_virt::BOARD,
            &rampart_board_fvp_rdv3::BOARD,
        ] {
            let (_, n) = build(board);
            assert!(n > 8, "{}", board.name);
        }
    }

    #[test]
    fn qemu_maps_the_dtb_window_ns_up_to_the_trace_lock() {
        let b = &rampart_board_qemu_virt::BOARD;
        let window = ns_dtb_window(b).unwrap();
        assert_eq!(window, Range::new(0x4000_0000, 0xf_f000));
        assert!(!window.overlaps(&b.rmm));
        assert!(!window.contains(b.trace_lock.unwrap()));
        assert_eq!(pas_of(b, window.base), OutputPas::NonSecure);
        assert_eq!(pas_of(b, window.end() - 1), OutputPas::NonSecure);
        let (regions, n) = root_regions(b, image(b));
        assert!(regions[..n].contains(&(
            window.base,
            window.size,
            Attrs::data(OutputPas::NonSecure)
        )));
    }

    #[test]
    fn qemu_root_traces_to_the_secure_uart_and_leaves_uart0_alone() {
        let b = &rampart_board_qemu_virt::BOARD;
        let (regions, n) = root_regions(b, image(b));
        let find = |addr: u64| {
            regions[..n]
                .iter()
                .find(|r| addr >= r.0 && addr < r.0 + r.1)
        };
        let uart1 = find(b.root_trace_uart.base).expect("UART1 mapped");
        assert_eq!(uart1.2, Attrs::device(OutputPas::Secure));
        assert!(find(b.ns_console.base).is_none(), "UART0 is the OS's");
    }

    #[test]
    fn rdv3_maps_its_devices_in_their_pas() {
        let b = &rampart_board_fvp_rdv3::BOARD;
        let (regions, n) = root_regions(b, image(b));
        let find = |addr: u64| {
            regions[..n]
                .iter()
                .find(|r| addr >= r.0 && addr < r.0 + r.1)
                .copied()
        };
        let RootBoot::Bl31(bl31) = b.root.boot else {
            panic!("RD-V3 root is BL31")
        };
        let PowerControl::Scmi(scmi) = b.power else {
            panic!("RD-V3 powers through SCMI")
        };
        // Mailbox and SCMI channel share a page: one device mapping.
        let mailbox = find(bl31.warm_mailbox).unwrap();
        assert_eq!(find(scmi.shared_mem_base), Some(mailbox));
        assert_eq!(mailbox.2, Attrs::device(pas_of(b, bl31.warm_mailbox)));
        assert_eq!(find(b.rmm_shared_page).unwrap().2.pas, OutputPas::Realm);
        assert_eq!(find(b.root_trace_uart.base).unwrap().2.pas, OutputPas::Root);
        assert!(find(b.ns_console.base).is_none(), "the NS UART is the OS's");
        assert!(find(bl31.handoff.base).is_some());
        for smmu in b.gpc_smmus {
            assert!(find(smmu.base + 0x803c).is_some(), "SMMU_S_INIT");
            assert!(find(smmu.base + smmu.root_page_offset + 0x30).is_some());
        }
        // Nothing of flash-boot boards: no pen, no flash, no NS load
        // window, no device tree window (BL2 hands over the tree).
        assert!(find(b.ns_entry).is_none());
        assert_eq!(ns_dtb_window(b), None);
    }
}
