//! Root's own translation tables (EL3 stage 1, identity map) and turning
//! the MMU and caches on. Everything root touches is mapped with the PAS it
//! must be accessed in; nothing else is mapped.

use crate::BOARD;
use crate::boot;
use core::cell::UnsafeCell;
use rampart_arch::{isb, read_sysreg, tlbi_alle3, write_sysreg};
use rampart_board::{AttestationSource, Gpi, PowerControl, RootBoot};

/// Bytes of one MHUv3 frame (postbox or mailbox) root maps.
const MHU_FRAME: u64 = 0x1_0000;
use rampart_kernel::pagetable::{Attrs, MAIR, OutputPas, Regime, TableBuilder, tcr};

/// Largest NS payload root will load from flash (its window is mapped for the copy).
pub const NS_LOAD_WINDOW: u64 = 16 << 20;

const POOL_TABLES: usize = 24;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[[u64; 512]; POOL_TABLES]>);
// SAFETY: the pool is written only by the boot core in `build`, before any
// other core runs root code; afterwards only the MMU reads it.
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([[0; 512]; POOL_TABLES]));

/// SCTLR_EL3: M, C, SA, I, WXN on top of RES1.
const SCTLR_EL3_ON: u64 =
    boot::SCTLR_EL3_RES1 | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 12) | (1 << 19);

fn ps_field() -> u64 {
    // PARange capped at 48 bits: the VA (and so the identity map) is 48 bits.
    (read_sysreg!("id_aa64mmfr0_el1") & 0xf).min(0b101)
}

/// The PAS root accesses `addr` in: its region's in the board's PAS map;
/// Root for regions open to every PAS and for what the map leaves out.
fn pas_of(addr: u64) -> OutputPas {
    match BOARD.pas_map.iter().find(|r| r.range.contains(addr)) {
        Some(r) => match r.gpi {
            Gpi::Secure => OutputPas::Secure,
            Gpi::NonSecure => OutputPas::NonSecure,
            Gpi::Realm => OutputPas::Realm,
            Gpi::Root | Gpi::Any | Gpi::NoAccess => OutputPas::Root,
        },
        None => OutputPas::Root,
    }
}

/// Builds the EL3 tables. Boot core only, MMU off, once.
pub fn build() {
    // SAFETY: see `Pool`'s Sync impl: single writer, before the MMU uses it.
    let pool = unsafe { &mut *POOL.0.get() };
    let pool_pa = pool.as_ptr() as u64;
    let mut t = TableBuilder::new(pool, pool_pa, Regime::El3);
    let (image, text_end, rodata_end, ram_end) = boot::image_layout();
    let page = |a: u64| (a + 0xfff) & !0xfff;
    let maps = [
        (image, text_end - image, Attrs::code(OutputPas::Root)),
        (
            text_end,
            rodata_end - text_end,
            Attrs::rodata(OutputPas::Root),
        ),
        (
            rodata_end,
            page(ram_end) - rodata_end,
            Attrs::data(OutputPas::Root),
        ),
        (
            BOARD.gpt.tables.base,
            BOARD.gpt.tables.size,
            Attrs::data(OutputPas::Root),
        ),
        (
            BOARD.trace_uart.base,
            0x1000,
            Attrs::device(OutputPas::NonSecure),
        ),
        (
            BOARD.trace_lock & !0xfff,
            0x1000,
            Attrs::data(OutputPas::NonSecure),
        ),
        (
            BOARD.gic.distributor,
            0x1_0000,
            Attrs::device(OutputPas::Root),
        ),
        (
            BOARD.gic.redistributors,
            BOARD.gic.redistributor_stride * BOARD.topology.cpu_count as u64,
            Attrs::device(OutputPas::Root),
        ),
        (
            BOARD.rmm.base,
            BOARD.rmm.size,
            Attrs::data(OutputPas::Realm),
        ),
    ];
    let page_of = |a: u64| a & !0xfff;
    let boot_maps = match BOARD.root.boot {
        // The pen, the flash root reads the package from, and the NS load
        // window it copies the payload into.
        RootBoot::ResetVector(f) => [
            (f.hold_pen, 0x1000, Attrs::data(OutputPas::Root)),
            (f.flash.base, f.flash.size, Attrs::rodata(OutputPas::Root)),
            (
                BOARD.ns_entry,
                NS_LOAD_WINDOW,
                Attrs::data(OutputPas::NonSecure),
            ),
        ],
        // BL2's handoff (read only) and the trusted mailbox BL1 reads on
        // warm boots, in whatever PAS the board gives them.
        RootBoot::Bl31(b) => [
            (
                page_of(b.handoff.base),
                page(b.handoff.end()) - page_of(b.handoff.base),
                Attrs::rodata(pas_of(b.handoff.base)),
            ),
            (
                page_of(b.warm_mailbox),
                0x1000,
                Attrs::data(pas_of(b.warm_mailbox)),
            ),
            (0, 0, Attrs::rodata(OutputPas::Root)),
        ],
    };
    // Page 0 and the Secure page (SMMU_S_INIT, reachable from Root on an
    // RME SMMU) and the Root page.
    let smmus = BOARD.gpc_smmus.iter().flat_map(|s| {
        [
            (s.base, 0x1_0000, Attrs::device(OutputPas::Root)),
            (
                s.base + s.root_page_offset,
                0x1_0000,
                Attrs::device(OutputPas::Root),
            ),
        ]
    });
    for (base, size, attrs) in maps.into_iter().chain(boot_maps).chain(smmus) {
        if size == 0 {
            continue;
        }
        if let Err(e) = t.map(base, size, attrs) {
            panic!("mmu: cannot map {:#x}+{:#x}: {:?}", base, size, e);
        }
    }
    let scmi = match BOARD.power {
        PowerControl::Scmi(scmi) => [
            (scmi.shared_mem_base, scmi.shared_mem_size),
            (scmi.doorbell_frame_base, scmi.doorbell_frame_size),
        ],
        _ => [(0, 0); 2],
    };
    let rse = match BOARD.attestation {
        AttestationSource::Rse(mhu) => [(mhu.sender, MHU_FRAME), (mhu.receiver, MHU_FRAME)],
        _ => [(0, 0); 2],
    };
    for (base, size) in scmi.into_iter().chain(rse) {
        if size == 0 {
            continue;
        }
        let (start, end) = (base & !0xfff, page(base + size));
        t.map(start, end - start, Attrs::device(pas_of(base)))
            .expect("mmu: power or attestation device");
    }
    if let PowerControl::Pl061Gpio { base, .. } = BOARD.power {
        t.map(base, 0x1000, Attrs::device(OutputPas::Secure))
            .expect("mmu: power controller");
    }
}

/// Turns the MMU and caches on with the tables `build` made. Every core.
pub fn enable() {
    // SAFETY: reading the pool's address only.
    let root = unsafe { (*POOL.0.get()).as_ptr() as u64 };
    write_sysreg!("mair_el3", MAIR);
    write_sysreg!("tcr_el3", tcr(ps_field()));
    write_sysreg!("ttbr0_el3", root);
    isb();
    tlbi_alle3();
    write_sysreg!("sctlr_el3", SCTLR_EL3_ON);
    isb();
}
