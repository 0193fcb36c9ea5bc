//! The BL2 -> BL31 handoff parser on handoffs built here byte by byte from
//! TF-A's structure layouts, and on malformed ones.

use rampart_board::handoff::{
    EP_NON_SECURE, EP_REALM, EP_SECURE, Format, Handoff, HandoffError, Image, MAX_NODES,
    TL_HANDOFF_X1, Window, parse,
};
use rampart_board::{
    AttestationSource, Bl31Boot, BoardInfo, Gic, GptConfig, PowerControl, Range, RmmTrace,
    RootBoot, RootLayout, Topology, Uart,
};

const BASE: u64 = 0x7000_0000;
const RMM_BASE: u64 = 0xff00_0000;
const BL33_BASE: u64 = 0xe000_0000;

/// Handoff memory: a byte buffer at `BASE` with little-endian writers.
struct Mem(Vec<u8>);

impl Mem {
    fn new() -> Self {
        Self(vec![0; 0x2000])
    }
    fn put(&mut self, addr: u64, bytes: &[u8]) {
        let at = (addr - BASE) as usize;
        self.0[at..at + bytes.len()].copy_from_slice(bytes);
    }
    fn u32(&mut self, addr: u64, v: u32) {
        self.put(addr, &v.to_le_bytes());
    }
    fn u64(&mut self, addr: u64, v: u64) {
        self.put(addr, &v.to_le_bytes());
    }
    /// param_header_t: type u8, version u8, size u16, attr u32.
    fn header(&mut self, addr: u64, ty: u8, version: u8, size: u16, attr: u32) {
        self.put(addr, &[ty, version]);
        self.put(addr + 2, &size.to_le_bytes());
        self.u32(addr + 4, attr);
    }
    /// entry_point_info_t (0x58 bytes): header, pc @8, spsr @0x10, args @0x18.
    fn ep(&mut self, addr: u64, attr: u32, pc: u64, arg0: u64) {
        self.header(addr, 0x01, 0x02, 0x58, attr);
        self.u64(addr + 0x08, pc);
        self.u32(addr + 0x10, 0x3c9);
        for i in 0..8 {
            self.u64(addr + 0x18 + 8 * i, arg0 + i);
        }
    }
    /// image_info_t: header, image_base @8, image_size u32 @0x10, max @0x14.
    fn image(&mut self, addr: u64, base: u64, size: u32) {
        self.header(addr, 0x02, 0x02, 0x18, 0);
        self.u64(addr + 0x08, base);
        self.u32(addr + 0x10, size);
        self.u32(addr + 0x14, size * 2);
    }
    /// bl_params_node_t: image_id u32 @0, image_info* @8, ep_info* @0x10, next* @0x18.
    fn node(&mut self, addr: u64, id: u32, info: u64, ep: u64, next: u64) {
        self.u32(addr, id);
        self.u64(addr + 0x08, info);
        self.u64(addr + 0x10, ep);
        self.u64(addr + 0x18, next);
    }
    fn window(&self) -> Window<'_> {
        Window {
            base: BASE,
            bytes: &self.0,
        }
    }
}

/// BL2's usual list for RD-V3 with RME: BL32 (secure), RMM, BL33.
fn bl_params() -> Mem {
    let mut m = Mem::new();
    // bl_params_t at BASE: header (type 5, version 2), head* @8.
    m.header(BASE, 0x05, 0x02, 0x10, 0);
    m.u64(BASE + 8, BASE + 0x100);
    m.node(BASE + 0x100, 4, 0, BASE + 0x400, BASE + 0x120);
    m.ep(BASE + 0x400, EP_SECURE, 0xfe00_0000, 0);
    m.node(BASE + 0x120, 35, BASE + 0x300, BASE + 0x500, BASE + 0x140);
    m.image(BASE + 0x300, RMM_BASE, 0x4_0000);
    m.ep(BASE + 0x500, EP_REALM, RMM_BASE, 0x100);
    m.node(BASE + 0x140, 5, BASE + 0x320, BASE + 0x600, 0);
    m.image(BASE + 0x320, BL33_BASE, 0x10_0000);
    m.ep(BASE + 0x600, EP_NON_SECURE, BL33_BASE, 0x200);
    m
}

fn args(x0: u64) -> [u64; 4] {
    [x0, 0xf000_0000, 0, 0x0f1e_2d3c]
}

#[test]
fn bl_params_give_the_rmm_and_bl33() {
    let m = bl_params();
    let h = parse(args(BASE), &m.window()).unwrap();
    assert_eq!(h.format, Format::BlParams);
    assert_eq!(h.rmm.pc, RMM_BASE);
    assert_eq!(h.rmm.attr, EP_REALM);
    assert_eq!(h.rmm.spsr, 0x3c9);
    assert_eq!(h.rmm.image, Some(Range::new(RMM_BASE, 0x4_0000)));
    assert_eq!(h.bl33.pc, BL33_BASE);
    assert_eq!(h.bl33.args[0], 0x200);
    assert_eq!(h.bl33.args[7], 0x207);
    assert_eq!(h.bl33.image, Some(Range::new(BL33_BASE, 0x10_0000)));
    h.check(&board()).unwrap();
}

#[test]
fn bl_params_failures_name_the_fault() {
    let w = |m: &Mem| parse(args(BASE), &m.window());
    assert_eq!(
        parse([0, 0, 0, 0], &bl_params().window()),
        Err(HandoffError::NoParams)
    );
    assert_eq!(
        parse(args(0x1000), &bl_params().window()),
        Err(HandoffError::OutsideHandoffMemory(0x1000))
    );
    assert_eq!(
        parse(args(BASE + 4), &bl_params().window()),
        Err(HandoffError::Misaligned(BASE + 4))
    );
    let mut m = bl_params();
    m.header(BASE, 0x05, 0x01, 0x10, 0);
    assert_eq!(w(&m), Err(HandoffError::BadHeader(BASE, 5, 1)));
    let mut m = bl_params();
    m.header(BASE, 0x04, 0x02, 0x10, 0);
    assert_eq!(w(&m), Err(HandoffError::BadHeader(BASE, 4, 2)));
    // The RMM node's ep_info is not an entry point.
    let mut m = bl_params();
    m.header(BASE + 0x500, 0x02, 0x02, 0x58, EP_REALM);
    assert_eq!(w(&m), Err(HandoffError::BadHeader(BASE + 0x500, 2, 2)));
    // BL33's node points past the end of handoff memory.
    let mut m = bl_params();
    m.node(BASE + 0x140, 5, 0, BASE + 0x2000, 0);
    assert_eq!(
        w(&m),
        Err(HandoffError::OutsideHandoffMemory(BASE + 0x2000))
    );
    // The list loops back on itself.
    let mut m = bl_params();
    m.u64(BASE + 0x140 + 0x18, BASE + 0x100);
    assert_eq!(w(&m), Err(HandoffError::Duplicate(Image::Rmm)));
    let mut m = bl_params();
    m.u64(BASE + 0x100 + 0x18, BASE + 0x100);
    assert_eq!(w(&m), Err(HandoffError::TooManyNodes));
    // No RMM: BL2 was built without ENABLE_RME.
    let mut m = bl_params();
    m.u64(BASE + 0x100 + 0x18, BASE + 0x140);
    assert_eq!(w(&m), Err(HandoffError::Missing(Image::Rmm)));
    let mut m = bl_params();
    m.u64(BASE + 0x120 + 0x18, 0);
    assert_eq!(w(&m), Err(HandoffError::Missing(Image::Bl33)));
    // An RMM entry point that is not Realm, a BL33 that is not NS.
    let mut m = bl_params();
    m.ep(BASE + 0x500, EP_NON_SECURE, RMM_BASE, 0);
    assert_eq!(
        w(&m),
        Err(HandoffError::WrongSecurityState(Image::Rmm, EP_NON_SECURE))
    );
    let mut m = bl_params();
    m.ep(BASE + 0x600, EP_SECURE, BL33_BASE, 0);
    assert_eq!(
        w(&m),
        Err(HandoffError::WrongSecurityState(Image::Bl33, EP_SECURE))
    );
}

#[test]
fn no_truncation_or_garbage_panics() {
    let m = bl_params();
    // The last structure (BL33's entry point) ends at +0x658.
    for len in 0..0x658 {
        let window = Window {
            base: BASE,
            bytes: &m.0[..len],
        };
        assert!(parse(args(BASE), &window).is_err(), "length {len}");
    }
    // Deterministic garbage: every outcome is an error or a handoff, never a panic.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..2000 {
        let mut g = bl_params();
        for _ in 0..8 {
            let at = (next() % 0x700) as usize;
            g.0[at] = next() as u8;
        }
        let _ = parse(args(BASE), &g.window());
        let _ = parse([0, TL_HANDOFF_X1, 0, BASE], &g.window());
    }
}

/// A transfer list at BASE + 0x800: header (0x18 bytes), then entries.
struct Tl {
    mem: Mem,
    used: u64,
}

const TL: u64 = BASE + 0x800;

impl Tl {
    fn new() -> Self {
        let mut t = Self {
            mem: Mem::new(),
            used: 0x18,
        };
        t.mem.u32(TL, 0x4a0f_b10b); // signature
        t.mem.put(TL + 5, &[1, 0x18, 3]); // version, header size, alignment
        t.mem.u32(TL + 12, 0x1000); // max size
        t.mem.u32(TL + 16, 1); // flags: has checksum
        t
    }
    /// Entry header: tag (24 bits) | header size 8 << 24, data size u32.
    fn entry(&mut self, tag: u32, data: &[u8]) {
        let at = TL + self.used.next_multiple_of(8);
        self.mem.u32(at, tag | 8 << 24);
        self.mem.u32(at + 4, data.len() as u32);
        self.mem.put(at + 8, data);
        self.used = at + 8 + data.len() as u64 - TL;
    }
    fn ep_entry(&mut self, attr: u32, pc: u64) {
        let mut scratch = Mem::new();
        scratch.ep(BASE, attr, pc, 0x40);
        let bytes = scratch.0[..0x58].to_vec();
        self.entry(0x102, &bytes);
    }
    /// Writes the used size and the checksum byte that makes the sum zero.
    fn seal(mut self) -> Mem {
        self.mem.u32(TL + 8, self.used as u32);
        self.mem.put(TL + 4, &[0]);
        let start = (TL - BASE) as usize;
        let sum = self.mem.0[start..start + self.used as usize]
            .iter()
            .fold(0u8, |s, b| s.wrapping_add(*b));
        self.mem.put(TL + 4, &[0u8.wrapping_sub(sum)]);
        self.mem
    }
}

fn transfer_list() -> Mem {
    let mut t = Tl::new();
    t.entry(1, &[0xd0; 13]); // an FDT, odd-sized so the next entry realigns
    t.ep_entry(EP_SECURE, 0xfe00_0000);
    t.ep_entry(EP_REALM, RMM_BASE);
    t.ep_entry(EP_NON_SECURE, BL33_BASE);
    t.seal()
}

#[test]
fn transfer_list_gives_the_rmm_and_bl33() {
    assert_eq!(TL_HANDOFF_X1, 0x1_4a0f_b10b);
    let m = transfer_list();
    let h: Handoff = parse([0, TL_HANDOFF_X1, 0, TL], &m.window()).unwrap();
    assert_eq!(h.format, Format::TransferList);
    assert_eq!((h.rmm.pc, h.bl33.pc), (RMM_BASE, BL33_BASE));
    assert_eq!(h.rmm.image, None);
    assert_eq!(h.bl33.args[1], 0x41);
    h.check(&board()).unwrap();
}

#[test]
fn transfer_list_failures_name_the_fault() {
    let tl = |m: &Mem| parse([0, TL_HANDOFF_X1, 0, TL], &m.window());
    let mut m = transfer_list();
    m.put(TL + 0x20, &[0x55]);
    assert_eq!(tl(&m), Err(HandoffError::BadChecksum));
    let mut m = transfer_list();
    m.u32(TL, 0x4a0f_b10c);
    assert_eq!(tl(&m), Err(HandoffError::BadTransferList));
    let mut m = transfer_list();
    m.put(TL + 6, &[0x20]);
    assert_eq!(tl(&m), Err(HandoffError::BadTransferList));
    let mut m = transfer_list();
    m.u32(TL + 12, 0x20);
    assert_eq!(tl(&m), Err(HandoffError::BadTransferListSize));
    // An entry that claims more data than the list holds (checksum off).
    let mut t = Tl::new();
    t.ep_entry(EP_REALM, RMM_BASE);
    t.mem.u32(TL + 16, 0);
    let mut m = t.seal();
    m.u32(TL + 16, 0);
    m.u32(TL + 0x18 + 4, 0x400);
    assert_eq!(tl(&m), Err(HandoffError::BadEntry(TL + 0x18)));
    // An EP entry too short to hold an entry_point_info_t.
    let mut t = Tl::new();
    t.entry(0x102, &[0; 0x20]);
    assert_eq!(tl(&t.seal()), Err(HandoffError::BadEntry(TL + 0x18)));
    // No BL33 in the list.
    let mut t = Tl::new();
    t.ep_entry(EP_REALM, RMM_BASE);
    assert_eq!(tl(&t.seal()), Err(HandoffError::Missing(Image::Bl33)));
    let mut t = Tl::new();
    t.ep_entry(EP_REALM, RMM_BASE);
    t.ep_entry(EP_REALM, RMM_BASE);
    assert_eq!(tl(&t.seal()), Err(HandoffError::Duplicate(Image::Rmm)));
    // The list itself outside handoff memory.
    assert_eq!(
        parse([0, TL_HANDOFF_X1, 0, 0x10], &transfer_list().window()),
        Err(HandoffError::OutsideHandoffMemory(0x10))
    );
}

fn board() -> BoardInfo {
    static DRAM: [Range; 2] = [
        Range::new(0x8000_0000, 0x8000_0000),
        Range::new(0x80_8000_0000, 0x1_0000_0000),
    ];
    BoardInfo {
        name: "handoff-test",
        topology: Topology {
            cpu_count: 1,
            cores_per_cluster: 1,
            mpidr_shifted: true,
        },
        dram: &DRAM,
        rmm: Range::new(RMM_BASE, 0x100_0000),
        rmm_shared_page: RMM_BASE + 0xff_f000,
        ns_entry: BL33_BASE,
        root: RootLayout {
            ram: Range::new(0x1000_0000, 0x10_0000),
            boot: RootBoot::Bl31(Bl31Boot {
                handoff: Range::new(BASE, 0x2000),
                warm_mailbox: 0x1001_0000,
                max_image_size: 0x1_0000,
            }),
        },
        gpt: GptConfig {
            pps_bits: 40,
            l0_gpt_size_bits: 30,
            tables: Range::new(0x1100_0000, 0x1000),
        },
        pas_map: &[],
        root_trace_uart: Uart {
            base: 0x2a40_0000,
            clock_hz: 0,
        },
        rmm_trace: RmmTrace::RootRing,
        ns_console: Uart {
            base: 0x2a40_0000,
            clock_hz: 0,
        },
        rmm_console: Uart {
            base: 0x2a42_0000,
            clock_hz: 14_745_600,
        },
        trace_lock: Some(0x8000_0000),
        gic: Gic {
            distributor: 0x3000_0000,
            redistributors: 0x301c_0000,
            redistributor_stride: 0x4_0000,
        },
        gpc_smmus: &[],
        counter_hz: 100_000_000,
        power: PowerControl::None,
        attestation: AttestationSource::None,
    }
}

#[test]
fn check_holds_the_handoff_to_the_board() {
    let b = board();
    let good = parse(args(BASE), &bl_params().window()).unwrap();
    let with = |f: &dyn Fn(&mut Handoff)| {
        let mut h = good;
        f(&mut h);
        h.check(&b)
    };
    assert_eq!(
        with(&|h| h.rmm.pc += 0x1000),
        Err(HandoffError::BadEntryAddress(Image::Rmm, RMM_BASE + 0x1000))
    );
    // The RMM image would overwrite the EL3<->RMM shared page.
    assert_eq!(
        with(&|h| h.rmm.image = Some(Range::new(RMM_BASE, 0x100_0000))),
        Err(HandoffError::BadImageRange(Image::Rmm))
    );
    assert_eq!(
        with(&|h| h.bl33.pc = 0x1000),
        Err(HandoffError::BadEntryAddress(Image::Bl33, 0x1000))
    );
    assert_eq!(
        with(&|h| h.bl33.pc = RMM_BASE + 0x2000),
        Err(HandoffError::BadEntryAddress(
            Image::Bl33,
            RMM_BASE + 0x2000
        ))
    );
    assert_eq!(
        with(&|h| h.bl33.image = Some(Range::new(0xfe00_0000, 0x200_0000))),
        Err(HandoffError::BadImageRange(Image::Bl33))
    );
    assert_eq!(MAX_NODES, 32);
}
