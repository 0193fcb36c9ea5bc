extern crate std;

use super::*;
use crate::arch::{GPCCR_L0GPTSZ_SHIFT, gpccr_el3_value, gptbr_el3_value};
use rampart_board::Range;
use std::vec;
use std::vec::Vec;

const fn region(name: &'static str, base: u64, size: u64, gpi: Gpi) -> PasRegion {
    PasRegion {
        name,
        range: Range::new(base, size),
        gpi,
    }
}

const TABLES: Range = Range::new(0x0e20_0000, 0x0020_0000);

/// QEMU virt with RME, as TF-A lays it out: firmware and tables in secure
/// RAM, devices, DRAM 0x40000000..0xC0000000 with the RMM region.
const QEMU: &[PasRegion] = &[
    region("flash", 0x0000_0000, 0x0400_0000, Gpi::Secure),
    region("gic", 0x0800_0000, 0x0100_0000, Gpi::Any),
    region("uart0", 0x0900_0000, 0x1000, Gpi::NonSecure),
    region("secure-uart", 0x0904_0000, 0x1000, Gpi::Secure),
    region("root", 0x0e00_0000, 0x0040_0000, Gpi::Root),
    region("secure", 0x0e40_0000, 0x00c0_0000, Gpi::Secure),
    region("ns-dram0", 0x4000_0000, 0x0010_0000, Gpi::NonSecure),
    region("rmm", 0x4010_0000, 0x0180_0000, Gpi::Realm),
    region(
        "ns-dram1",
        0x4190_0000,
        0xc000_0000 - 0x4190_0000,
        Gpi::NonSecure,
    ),
];

const CONFIG: GptConfig = GptConfig {
    pps_bits: 40,
    l0_gpt_size_bits: 30,
    tables: TABLES,
};

const SENTINEL: u64 = 0x5a5a_5a5a_5a5a_5a5a;

fn memory(range: Range) -> Vec<u64> {
    vec![SENTINEL; (range.size / 8) as usize]
}

/// Independent walker: decodes the architectural encodings (Arm DDI0615,
/// "GPT lookup process") and returns the raw 4-bit GPI for `pa`.
fn walk(tables: &[u64], base: u64, pps: u32, s: u32, pa: u64) -> u64 {
    assert!(pa < 1 << pps);
    let l0 = tables[(pa >> s) as usize];
    match l0 & 0xf {
        0b0001 => (l0 >> 4) & 0xf,
        0b0011 => {
            let l1_pa = l0 & 0x000f_ffff_ffff_f000;
            let index = (pa >> 16) & ((1 << (s - 16)) - 1);
            let word = tables[((l1_pa - base) / 8 + index) as usize];
            (word >> (((pa >> 12) & 0xf) * 4)) & 0xf
        }
        other => panic!("invalid level 0 descriptor type {other:#x}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Gptbr(u64),
    Gpccr(u64),
    ReadGpccr,
    DsbOsh,
    DsbOshSt,
    DsbSy,
    Isb,
    PaAllOs,
    RpaLOs(u64),
    CiPaPa(u64),
}

const LINE: u64 = 64;

struct Fake {
    ops: Vec<Op>,
    l0gptsz_field: u64,
    /// Other GPCCR_EL3 bits as a previous boot stage left them.
    left_by_previous_stage: u64,
}

impl Fake {
    fn new() -> Self {
        Fake {
            ops: Vec::new(),
            l0gptsz_field: 0,
            left_by_previous_stage: 0,
        }
    }
}

impl GpcOps for Fake {
    fn write_gptbr_el3(&mut self, value: u64) {
        self.ops.push(Op::Gptbr(value));
    }
    fn write_gpccr_el3(&mut self, value: u64) {
        self.ops.push(Op::Gpccr(value));
    }
    fn read_gpccr_el3(&mut self) -> u64 {
        self.ops.push(Op::ReadGpccr);
        self.l0gptsz_field << GPCCR_L0GPTSZ_SHIFT | self.left_by_previous_stage
    }
    fn dsb_osh(&mut self) {
        self.ops.push(Op::DsbOsh);
    }
    fn dsb_sy(&mut self) {
        self.ops.push(Op::DsbSy);
    }
    fn isb(&mut self) {
        self.ops.push(Op::Isb);
    }
    fn tlbi_paallos(&mut self) {
        self.ops.push(Op::PaAllOs);
    }
    fn tlbi_rpalos(&mut self, operand: u64) {
        self.ops.push(Op::RpaLOs(operand));
    }
    fn dc_cipapa(&mut self, operand: u64) {
        self.ops.push(Op::CiPaPa(operand));
    }
    fn dcache_line_size(&self) -> u64 {
        LINE
    }
    fn dsb_oshst(&mut self) {
        self.ops.push(Op::DsbOshSt);
    }
}

fn qemu_walk(tables: &[u64], pa: u64) -> u64 {
    walk(tables, TABLES.base, 40, 30, pa)
}

#[test]
fn qemu_map_builds_and_walks() {
    let mut mem = memory(TABLES);
    let layout = build(&CONFIG, QEMU, &mut mem).unwrap();
    assert_eq!(layout.l0_base(), 0x0e20_0000);
    assert_eq!(layout.l0_entries(), 1024);
    assert_eq!(layout.l1_count(), 3);
    assert_eq!(layout.l1_table_size(), 128 * 1024);
    assert_eq!(layout.l1_table(0), Some(0x0e22_0000));
    assert_eq!(layout.l1_table(1), Some(0x0e24_0000));
    assert_eq!(layout.l1_table(2), Some(0x0e26_0000));
    assert_eq!(layout.l1_table(3), None);
    assert_eq!(layout.bytes_used(), 0x8_0000);
    // Padding between the level 0 table and the first level 1 table, and
    // memory past the layout, are left alone.
    assert_eq!(mem[1024], SENTINEL);
    assert_eq!(mem[0x8_0000 / 8], SENTINEL);

    let expect = [
        (0x0000_0000, 0b1000),
        (0x03ff_f000, 0b1000),
        (0x0400_0000, 0b1111),
        (0x0800_0000, 0b1111),
        (0x08ff_f000, 0b1111),
        (0x0900_0000, 0b1001),
        (0x0900_1000, 0b1111),
        (0x0904_0000, 0b1000),
        (0x0e00_0000, 0b1010),
        (0x0e20_0000, 0b1010),
        (0x0e3f_f000, 0b1010),
        (0x0e40_0000, 0b1000),
        (0x0eff_f000, 0b1000),
        (0x0f00_0000, 0b1111),
        (0x3fff_f000, 0b1111),
        (0x4000_0000, 0b1001),
        (0x400f_f000, 0b1001),
        (0x4010_0000, 0b1011),
        (0x418f_f000, 0b1011),
        (0x4190_0000, 0b1001),
        (0x8000_0000, 0b1001),
        (0xbfff_f000, 0b1001),
        (0xc000_0000, 0b1111),
        (0xff_ffff_f000, 0b1111),
        // Unlisted: Any, as TF-A leaves it (QEMU's high PCIe ECAM and MMIO).
        (0x40_1000_0000, 0b1111),
        (0x80_0000_0000, 0b1111),
    ];
    for (pa, gpi) in expect {
        assert_eq!(qemu_walk(&mem, pa), gpi, "GPI of {pa:#x}");
    }
    // Block vs table: 0..3 GB hold L1 tables, the rest are Any blocks.
    assert_eq!(mem[0], 0x0e22_0003);
    assert_eq!(mem[2], 0x0e26_0003);
    assert_eq!(mem[3], 0xf1);
    assert_eq!(mem[1023], 0xf1);

    // The manager's own lookup agrees with the walker.
    let mut mem2 = memory(TABLES);
    let manager = GptManager::new(&CONFIG, QEMU, &mut mem2, Fake::new()).unwrap();
    for (pa, gpi) in expect {
        assert_eq!(manager.gpi(pa).map(gpi_encoding), Ok(gpi));
    }
}

#[test]
fn uniform_l0_regions_become_blocks() {
    const MAP: &[PasRegion] = &[
        region("root", 0x0000_0000, 0x0010_0000, Gpi::Root),
        region("ns", 0x4000_0000, 0x4000_0000, Gpi::NonSecure),
        region("sec-a", 0x8000_0000, 0x2000_0000, Gpi::Secure),
        region("sec-b", 0xa000_0000, 0x2000_0000, Gpi::Secure),
        region("any-part", 0xc000_0000, 0x1000_0000, Gpi::Any),
        region("noaccess", 0x1_0000_0000, 0x4000_0000, Gpi::NoAccess),
        region("root-part", 0x1_4000_0000, 0x1000_0000, Gpi::Root),
        region("noaccess-part", 0x1_8000_0000, 0x1000_0000, Gpi::NoAccess),
    ];
    let config = GptConfig {
        pps_bits: 36,
        l0_gpt_size_bits: 30,
        tables: Range::new(0, 0xa_0000),
    };
    let mut mem = memory(config.tables);
    let layout = build(&config, MAP, &mut mem).unwrap();
    assert_eq!(layout.l0_entries(), 64);
    // L0[0]: Root partly, unlisted (Any) elsewhere: mixed, a table.
    assert_eq!(mem[0] & 0xf, 0b0011);
    // L0[1]: all NS, but NS may move: a table.
    assert_eq!(mem[1] & 0xf, 0b0011);
    // L0[2]: two Secure regions covering it exactly: a block.
    assert_eq!(mem[2], 0x81);
    // L0[3]: an Any region plus unlisted space: one Any block.
    assert_eq!(mem[3], 0xf1);
    // L0[4]: NoAccess over all of it: a NoAccess block.
    assert_eq!(mem[4], 0x01);
    // L0[5]: Root over a quarter, Any elsewhere: a table.
    assert_eq!(mem[5] & 0xf, 0b0011);
    // L0[6]: NoAccess over a quarter, Any elsewhere: a table.
    assert_eq!(mem[6] & 0xf, 0b0011);
    // L0[7..]: nothing listed: Any blocks.
    assert!(mem[7..64].iter().all(|&d| d == 0xf1));
    assert_eq!(layout.l1_count(), 4);
    let w = |pa| walk(&mem, 0, 36, 30, pa);
    assert_eq!((w(0), w(0xf_f000), w(0x10_0000)), (0b1010, 0b1010, 0b1111));
    assert_eq!((w(0x7fff_f000), w(0xffff_f000)), (0b1001, 0b1111));
    assert_eq!((w(0x1_4fff_f000), w(0x1_5000_0000)), (0b1010, 0b1111));
    assert_eq!((w(0x1_8fff_f000), w(0x1_9000_0000)), (0b0000, 0b1111));
}

fn rejects(config: GptConfig, map: &[PasRegion], want: BuildError) {
    let mut mem = memory(config.tables);
    assert_eq!(build(&config, map, &mut mem), Err(want));
    assert!(mem.iter().all(|&w| w == SENTINEL), "written: {want:?}");
}

fn tables_at(base: u64, size: u64) -> GptConfig {
    GptConfig {
        tables: Range::new(base, size),
        ..CONFIG
    }
}

#[test]
fn bad_maps_are_rejected_untouched() {
    use BuildError::*;
    let cases = [
        (
            region("dup", 0x4080_0000, 0x1000, Gpi::Secure),
            Overlap { a: "rmm", b: "dup" },
        ),
        (
            region("odd", 0xd000_0800, 0x1000, Gpi::Secure),
            Unaligned { name: "odd" },
        ),
        (
            region("short", 0xd000_0000, 0x800, Gpi::Secure),
            Unaligned { name: "short" },
        ),
        (
            region("zero", 0xd000_0000, 0, Gpi::Secure),
            Empty { name: "zero" },
        ),
        (
            region("far", 0xff_ffff_f000, 0x2000, Gpi::Any),
            OutsidePps { name: "far" },
        ),
        (
            region("wrap", !0xfff, 0x2000, Gpi::Any),
            OutsidePps { name: "wrap" },
        ),
    ];
    for (extra, want) in cases {
        rejects(CONFIG, &[QEMU, &[extra]].concat(), want);
    }
    // The last granule below the PPS is fine.
    let top = [QEMU, &[region("top", 0xff_ffff_f000, 0x1000, Gpi::Any)]].concat();
    assert!(build(&CONFIG, &top, &mut memory(TABLES)).is_ok());

    let need = TablesTooSmall {
        need: 0x8_0000,
        have: 0x4_0000,
    };
    rejects(tables_at(TABLES.base, 0x4_0000), QEMU, need);
    let misaligned = TablesMisaligned {
        base: 0x0e20_1000,
        align: 0x2000,
    };
    rejects(tables_at(0x0e20_1000, 0x10_0000), QEMU, misaligned);
    rejects(tables_at(0x0e40_0000, 0x10_0000), QEMU, TablesNotRoot);
    rejects(tables_at(0x0e30_0000, 0x20_0000), QEMU, TablesNotRoot);
    rejects(
        GptConfig {
            pps_bits: 41,
            ..CONFIG
        },
        QEMU,
        InvalidPps { bits: 41 },
    );
    let s31 = GptConfig {
        l0_gpt_size_bits: 31,
        ..CONFIG
    };
    rejects(s31, QEMU, InvalidL0GptSize { bits: 31 });
    let mut short = vec![SENTINEL; (TABLES.size / 8) as usize - 1];
    let length = TablesLength {
        config: 0x20_0000,
        slice: 0x20_0000 - 8,
    };
    assert_eq!(build(&CONFIG, QEMU, &mut short), Err(length));
    assert!(short.iter().all(|&w| w == SENTINEL));
}

#[test]
fn l0gptsz_must_match_the_hardware() {
    let mut mem = memory(TABLES);
    let mut fake = Fake::new();
    fake.l0gptsz_field = 0b0100;
    let err = GptManager::new(&CONFIG, QEMU, &mut mem, fake).err();
    assert_eq!(
        err,
        Some(BuildError::L0GptSizeMismatch {
            config: 30,
            hardware: Some(34)
        })
    );
    assert!(mem.iter().all(|&w| w == SENTINEL));
}

#[test]
fn checks_a_previous_stage_left_on_are_turned_off_before_building() {
    use Op::*;
    let mut mem = memory(TABLES);
    let manager = GptManager::new(&CONFIG, QEMU, &mut mem, Fake::new()).unwrap();
    assert_eq!(manager.replaced(), None);
    assert_eq!(manager.ops.ops, [ReadGpccr]);

    let mut mem = memory(TABLES);
    let mut fake = Fake::new();
    fake.left_by_previous_stage = 0x1_3502;
    let manager = GptManager::new(&CONFIG, QEMU, &mut mem, fake).unwrap();
    assert_eq!(manager.replaced(), Some(0x1_3502));
    assert_eq!(
        manager.ops.ops,
        [ReadGpccr, Gpccr(0x3502), Isb, PaAllOs, DsbSy, Isb]
    );
    assert!(!manager.is_enabled());

    // A mismatched L0GPTSZ is refused before anything is touched.
    let mut mem = memory(TABLES);
    let mut fake = Fake::new();
    fake.l0gptsz_field = 0b0100;
    fake.left_by_previous_stage = 0x1_3502;
    assert!(GptManager::new(&CONFIG, QEMU, &mut mem, fake).is_err());
    assert!(mem.iter().all(|&w| w == SENTINEL));
}

#[test]
fn register_values_bit_by_bit() {
    let mut mem = memory(TABLES);
    let layout = build(&CONFIG, QEMU, &mut mem).unwrap();
    let gpccr = layout.gpccr_el3();
    assert_eq!(gpccr & 0b111, 0b010, "PPS = 1 TB");
    assert_eq!((gpccr >> 8) & 0b11, 0b01, "IRGN = WB RA WA");
    assert_eq!((gpccr >> 10) & 0b11, 0b01, "ORGN = WB RA WA");
    assert_eq!((gpccr >> 12) & 0b11, 0b11, "SH = Inner Shareable");
    assert_eq!((gpccr >> 14) & 0b11, 0b00, "PGS = 4 KB");
    assert_eq!(gpccr & (1 << 16), 0, "GPC clear until enable");
    assert_eq!(gpccr, 0x3502);
    assert_eq!(layout.gptbr_el3(), 0xe200);
    assert_eq!(gptbr_el3_value(0x000f_ffff_ffff_f000), 0xff_ffff_ffff);
    let pps = [32, 36, 40, 42, 44, 48, 52].map(|bits| arch::pps_encoding(bits).unwrap());
    assert_eq!(pps, [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(gpccr_el3_value(6) & 0b111, 0b110);
    let l0sz = [0b0000u64, 0b0100, 0b0110, 0b1001].map(|f| arch::l0gptsz_bits(f << 20));
    assert_eq!(l0sz, [Some(30), Some(34), Some(36), Some(39)]);
    assert_eq!(arch::l0gptsz_bits(0b0001 << 20), None);
}

#[test]
fn operand_encoders() {
    assert_eq!(dc_cipapa_operand(0x4010_0000, Pas::Secure), 0x4010_0000);
    assert_eq!(
        dc_cipapa_operand(0x4010_0000, Pas::NonSecure),
        0x8000_0000_4010_0000
    );
    assert_eq!(
        dc_cipapa_operand(0x4010_0040, Pas::Realm),
        0xc000_0000_4010_0040
    );
    assert_eq!(
        dc_cipapa_operand(0xfff0_0000_0000_1000, Pas::Secure),
        0x1000,
        "PA is bits [51:0]"
    );
    assert_eq!(tlbi_rpalos_operand(0x4010_0000, TlbiSize::Size4K), 0x4_0100);
    assert_eq!(
        tlbi_rpalos_operand(0x8000_0000, TlbiSize::Size2M),
        (0b0011 << 44) | 0x8_0000
    );
    assert_eq!(
        tlbi_rpalos_operand(0x000f_ffff_ffff_f000, TlbiSize::Size4K),
        0xff_ffff_ffff
    );
    assert_eq!(tlbi_rpalos_operand(0, TlbiSize::Size512G), 0b1001 << 44);
    assert_eq!(arch::l0_block_desc(Gpi::Realm), 0xb1);
    assert_eq!(arch::l0_table_desc(0x0e22_0000), 0x0e22_0003);
    assert_eq!(
        arch::l1_granules_desc(Gpi::NonSecure),
        0x9999_9999_9999_9999
    );
    for gpi in [
        Gpi::NoAccess,
        Gpi::Secure,
        Gpi::NonSecure,
        Gpi::Root,
        Gpi::Realm,
        Gpi::Any,
    ] {
        assert_eq!(arch::gpi_from_encoding(gpi_encoding(gpi)), Some(gpi));
    }
    assert_eq!(arch::gpi_from_encoding(0b1101), None);
}

#[test]
fn enable_follows_tf_a_order() {
    let mut mem = memory(TABLES);
    let mut manager = GptManager::new(&CONFIG, QEMU, &mut mem, Fake::new()).unwrap();
    manager.ops.ops.clear();
    manager.enable();
    assert!(manager.is_enabled());
    use Op::*;
    let want = [
        DsbSy,
        Gptbr(0xe200),
        Gpccr(0x3502),
        Isb,
        PaAllOs,
        DsbSy,
        Isb,
        Gpccr(0x1_3502),
        Isb,
        PaAllOs,
        DsbSy,
        Isb,
    ];
    assert_eq!(manager.ops.ops, want);
}

fn enabled(mem: &mut [u64]) -> GptManager<'_, Fake> {
    let mut manager = GptManager::new(&CONFIG, QEMU, mem, Fake::new()).unwrap();
    manager.enable();
    manager.ops.ops.clear();
    manager
}

fn lines(addr: u64, pas: Pas) -> impl Iterator<Item = Op> {
    (0..GRANULE_SIZE)
        .step_by(LINE as usize)
        .map(move |off| Op::CiPaPa(dc_cipapa_operand(addr + off, pas)))
}

fn clean(addr: u64, pas: Pas) -> Vec<Op> {
    lines(addr, pas).chain([Op::DsbOsh]).collect()
}

fn invalidate(addr: u64) -> [Op; 2] {
    [Op::RpaLOs(addr >> 12), Op::DsbOsh]
}

#[test]
fn delegate_and_undelegate_sequences() {
    const A: u64 = 0x4190_5000;
    let mut mem = memory(TABLES);
    let mut m = enabled(&mut mem);
    let word = m.layout.l1_word(A).unwrap();
    let before = m.tables[word];

    let reply = m.handle(GptRequest::Transition {
        addr: A,
        from: Pas::NonSecure,
        to: Pas::Realm,
    });
    assert_eq!(reply, GptReply::Done);
    let mut want = clean(A, Pas::Realm);
    want.push(Op::DsbOshSt);
    want.extend(invalidate(A));
    want.extend(clean(A, Pas::NonSecure));
    assert_eq!(m.ops.ops, want);
    assert_eq!(
        m.tables[word],
        (before & !0xf0_0000) | 0xb0_0000,
        "only granule 5 changed"
    );
    assert_eq!(qemu_walk(m.tables, A), 0b1011);
    assert_eq!(
        m.handle(GptRequest::Query { addr: A }),
        GptReply::Gpi(Gpi::Realm)
    );

    m.ops.ops.clear();
    let reply = m.handle(GptRequest::Transition {
        addr: A,
        from: Pas::Realm,
        to: Pas::NonSecure,
    });
    assert_eq!(reply, GptReply::Done);
    let mut want = vec![Op::DsbOshSt];
    want.extend(invalidate(A));
    want.extend(clean(A, Pas::Realm));
    want.extend(clean(A, Pas::NonSecure));
    want.push(Op::DsbOshSt);
    want.extend(invalidate(A));
    assert_eq!(m.ops.ops, want);
    assert_eq!(m.tables[word], before);

    // NS <-> Secure, in the last granule of DRAM.
    const B: u64 = 0xbfff_f000;
    m.ops.ops.clear();
    assert_eq!(m.transition(B, Pas::NonSecure, Pas::Secure), Ok(()));
    assert_eq!(m.ops.ops[0], Op::CiPaPa(B));
    assert_eq!(
        (qemu_walk(m.tables, B), m.gpi(B)),
        (0b1000, Ok(Gpi::Secure))
    );
    assert_eq!(m.transition(B, Pas::Secure, Pas::NonSecure), Ok(()));
    assert_eq!(
        (qemu_walk(m.tables, B), m.gpi(B)),
        (0b1001, Ok(Gpi::NonSecure))
    );
    // The RMM region can be handed back and reclaimed.
    assert_eq!(
        m.transition(0x4010_0000, Pas::Realm, Pas::NonSecure),
        Ok(())
    );
    assert_eq!(
        m.transition(0x4010_0000, Pas::NonSecure, Pas::Realm),
        Ok(())
    );
}

/// Every refused request: the reply, and neither a table write nor an op.
#[test]
fn refused_transitions_change_nothing() {
    use GptError::*;
    use Pas::*;
    let mut mem = memory(TABLES);
    let mut m = enabled(&mut mem);
    let realm = 0x4010_0000;
    let ns = 0x4190_0000;
    let cases = [
        (ns, NonSecure, NonSecure, NotPermitted),
        (ns, Realm, Secure, NotPermitted),
        (ns, Secure, Realm, NotPermitted),
        (realm, Realm, Realm, NotPermitted),
        (ns, Secure, Secure, NotPermitted),
        (ns + 0x10, NonSecure, Realm, BadAddress),
        (1 << 40, NonSecure, Realm, BadAddress),
        (!0xfff, NonSecure, Realm, BadAddress),
        (0xc000_0000, NonSecure, Realm, BadAddress),
        (0x0e40_0000, Secure, NonSecure, BadAddress),
        (0x0e20_0000, NonSecure, Realm, BadAddress),
        (0x0400_0000, NonSecure, Secure, BadAddress),
        (0x0800_0000, NonSecure, Realm, BadAddress),
        (realm, NonSecure, Realm, BadPas),
        (ns, Realm, NonSecure, BadPas),
        (ns, Secure, NonSecure, BadPas),
    ];
    let snapshot = m.tables.to_vec();
    for (addr, from, to, want) in cases {
        let reply = m.handle(GptRequest::Transition { addr, from, to });
        assert_eq!(reply, GptReply::Error(want), "{addr:#x} {from:?}->{to:?}");
        assert!(
            m.ops.ops.is_empty(),
            "ops issued for {addr:#x} {from:?}->{to:?}"
        );
        assert_eq!(m.tables, &snapshot[..]);
    }
    assert_eq!(
        m.handle(GptRequest::Query { addr: ns + 8 }),
        GptReply::Error(BadAddress)
    );
    assert_eq!(
        m.handle(GptRequest::Query { addr: 1 << 40 }),
        GptReply::Error(BadAddress)
    );
    assert_eq!(
        m.handle(GptRequest::Query { addr: 0xc000_0000 }),
        GptReply::Gpi(Gpi::Any)
    );
}

#[test]
fn not_ready_before_enable() {
    let mut mem = memory(TABLES);
    let mut m = GptManager::new(&CONFIG, QEMU, &mut mem, Fake::new()).unwrap();
    m.ops.ops.clear();
    let snapshot = m.tables.to_vec();
    let reply = m.handle(GptRequest::Transition {
        addr: 0x4190_0000,
        from: Pas::NonSecure,
        to: Pas::Realm,
    });
    assert_eq!(reply, GptReply::Error(GptError::NotReady));
    assert!(m.ops.ops.is_empty());
    assert_eq!(m.tables, &snapshot[..]);
    // Queries read the built tables.
    assert_eq!(
        m.handle(GptRequest::Query { addr: 0x4010_0000 }),
        GptReply::Gpi(Gpi::Realm)
    );
}

#[test]
fn messages_pass_encoded() {
    use rampart_ipc::{Direct, Passing, Transport};
    let mut mem = memory(TABLES);
    let mut m = enabled(&mut mem);
    let mut t = Direct::new(&mut m, Passing::Encoded);
    let req = GptRequest::Transition {
        addr: 0x4190_0000,
        from: Pas::NonSecure,
        to: Pas::Realm,
    };
    assert_eq!(
        Transport::<GptProtocol>::call(&mut t, req),
        Ok(GptReply::Done)
    );
    let query = GptRequest::Query { addr: 0x4190_0000 };
    assert_eq!(
        Transport::<GptProtocol>::call(&mut t, query),
        Ok(GptReply::Gpi(Gpi::Realm))
    );
}

/// The shipped boards' maps must build, with DRAM granular and the RMM
/// region Realm, and fit the table memory they reserve.
#[test]
fn shipped_board_maps_build() {
    for board in [&rampart_board_qemu_virt::BOARD, &rampart_board_host::BOARD] {
        let mut mem = memory(board.gpt.tables);
        let layout = build(&board.gpt, board.pas_map, &mut mem)
            .unwrap_or_else(|e| panic!("{}: {:?}", board.name, e));
        assert!(
            layout.bytes_used() <= board.gpt.tables.size,
            "{}",
            board.name
        );
        let rmm = board.rmm.base;
        let l0 = layout.l0_index(rmm);
        assert!(
            layout.l1_table(l0).is_some(),
            "{}: DRAM must be granular",
            board.name
        );
        let walked = walk(
            &mem,
            board.gpt.tables.base,
            u32::from(board.gpt.pps_bits),
            u32::from(board.gpt.l0_gpt_size_bits),
            rmm,
        );
        assert_eq!(walked, 0xb, "{}: the RMM region is Realm", board.name);
        let ns = walk(
            &mem,
            board.gpt.tables.base,
            u32::from(board.gpt.pps_bits),
            u32::from(board.gpt.l0_gpt_size_bits),
            board.ns_entry,
        );
        assert_eq!(ns, 0x9, "{}: the NS payload is NS", board.name);
    }
}

/// On every shipped board, physical space outside the PAS map is Any (as
/// TF-A leaves it) and every listed region keeps its GPI at its first and
/// last granule. On qemu-virt that opens the high PCIe ECAM
/// (0x40_1000_0000) and the 64-bit PCIe MMIO window (0x80_0000_0000), which
/// no region lists, to the Normal world.
#[test]
fn unlisted_space_is_any_and_listed_regions_keep_their_gpi() {
    for board in [&rampart_board_qemu_virt::BOARD, &rampart_board_host::BOARD] {
        let mut mem = memory(board.gpt.tables);
        build(&board.gpt, board.pas_map, &mut mem).unwrap();
        let gpi_at = |pa| {
            walk(
                &mem,
                board.gpt.tables.base,
                u32::from(board.gpt.pps_bits),
                u32::from(board.gpt.l0_gpt_size_bits),
                pa,
            )
        };
        for r in board.pas_map {
            let last = r.range.end() - GRANULE_SIZE;
            for pa in [r.range.base, last] {
                assert_eq!(gpi_at(pa), gpi_encoding(r.gpi), "{}: {pa:#x}", r.name);
            }
        }
        let listed = |pa| board.pas_map.iter().any(|r| r.range.contains(pa));
        let pps = 1u64 << board.gpt.pps_bits;
        let mut pa = 0;
        while pa < pps {
            if !listed(pa) {
                assert_eq!(gpi_at(pa), 0b1111, "{}: unlisted {pa:#x}", board.name);
            }
            pa += 0x80_0000;
        }
    }
    let qemu = &rampart_board_qemu_virt::BOARD;
    let mut mem = memory(qemu.gpt.tables);
    let manager = GptManager::new(&qemu.gpt, qemu.pas_map, &mut mem, Fake::new()).unwrap();
    for pcie_high in [
        0x40_1000_0000,
        0x40_1fff_f000,
        0x80_0000_0000,
        0xff_ffff_f000,
    ] {
        assert_eq!(manager.gpi(pcie_high), Ok(Gpi::Any), "{pcie_high:#x}");
    }
}
