//! RMI_RTT_MAP_UNPROTECTED (B4.3.19) and RMI_RTT_UNMAP_UNPROTECTED
//! (B4.3.22).
use super::*;

fn map(fx: &Fx, ipa: u64, level: u64, desc: u64) -> Command {
    Command::RttMapUnprotected {
        rd: fx.rd,
        ipa,
        level,
        desc,
    }
}

fn unmap(fx: &Fx, ipa: u64, level: u64) -> Command {
    Command::RttUnmapUnprotected {
        rd: fx.rd,
        ipa,
        level,
    }
}

/// A realm with level-2 and level-3 RTTs at the start of the Unprotected
/// half.
fn setup() -> Fx {
    let mut fx = Fx::new();
    fx.create(UNPROT, 2);
    fx.create(UNPROT, 3);
    fx
}

// ---- MAP: failure conditions -------------------------------------------------

#[test]
fn map_attr_valid() {
    let mut fx = setup();
    let good = NS_PA | NS_ATTRS;
    let bad = [
        good | 1 << 52,
        good | 0b11,
        good | 1,
        good | s2tt::MEMATTR3,
        good | s2tt::SH_IS,
        good | s2tt::AF,
        good | s2tt::XN_NEVER,
        good | s2tt::NS,
        good | 1 << 63,
        good | 1 << 11,
        NS_PA | s2tt::MEMATTR_FWB_RESERVED | s2tt::S2AP_RW,
    ];
    for desc in bad {
        fx.fail(map(&fx, UNPROT, 3, desc), RmiError::Input);
    }
    // Every S2AP value and every other MemAttr[2:0] is accepted.
    for (i, attrs) in [0b000u64, 0b001, 0b010, 0b011, 0b101, 0b110, 0b111]
        .iter()
        .enumerate()
    {
        let desc = NS_PA | attrs << 2 | (i as u64 % 4) << 6;
        fx.ok(map(&fx, UNPROT + i as u64 * PAGE, 3, desc));
    }
}

#[test]
fn map_rd_align_bound_state() {
    let mut fx = setup();
    for (rd, _) in fx.bad_rds() {
        fx.fail(
            Command::RttMapUnprotected {
                rd,
                ipa: UNPROT,
                level: 3,
                desc: NS_PA | NS_ATTRS,
            },
            RmiError::Input,
        );
    }
}

#[test]
fn map_level_bound() {
    let mut fx = setup();
    for level in [0, 4, u64::MAX] {
        fx.fail(map(&fx, UNPROT, level, NS_PA | NS_ATTRS), RmiError::Input);
    }
    // Starting level 2 (IPA width 32, 4 roots): level 1 is not a block
    // level of this realm (RttLevelIsBlockOrPage(rd, level)).
    let mut fx = Fx::with(32, 2, 4);
    fx.fail(map(&fx, 1 << 31, 1, NS_ATTRS), RmiError::Input);
    // Level 2 is its starting level, and maps blocks there.
    fx.ok(map(&fx, (1 << 31) + L2_SIZE, 2, NS_PA | NS_ATTRS));
    assert_eq!(
        fx.read((1 << 31) + L2_SIZE, 2),
        [2, RMI_ASSIGNED, NS_PA | NS_ATTRS, EMPTY]
    );
}

#[test]
fn map_addr_align_and_bound() {
    let mut fx = setup();
    fx.fail(
        map(&fx, UNPROT + L2_SIZE, 2, (NS_PA + PAGE) | NS_ATTRS),
        RmiError::Input,
    );
    fx.fail(
        map(&fx, UNPROT + L1_SIZE, 1, (NS_PA + L2_SIZE) | NS_ATTRS),
        RmiError::Input,
    );
    fx.fail(map(&fx, UNPROT, 3, (1 << 48) | NS_ATTRS), RmiError::Input);
    fx.fail(map(&fx, UNPROT, 3, (1 << 50) | NS_ATTRS), RmiError::Input);
}

#[test]
fn map_ipa_align_and_bound() {
    let mut fx = setup();
    let desc = NS_PA | NS_ATTRS;
    fx.fail(map(&fx, UNPROT + 0x800, 3, desc), RmiError::Input);
    fx.fail(map(&fx, UNPROT + PAGE, 2, desc), RmiError::Input);
    // Protected IPAs, and beyond the IPA space.
    fx.create(0, 2);
    fx.create(0, 3);
    fx.fail(map(&fx, 0, 3, desc), RmiError::Input);
    fx.fail(map(&fx, UNPROT - PAGE, 3, desc), RmiError::Input);
    fx.fail(map(&fx, IPA_TOP, 3, desc), RmiError::Input);
    fx.fail(map(&fx, IPA_TOP, 1, desc), RmiError::Input);
}

#[test]
fn map_rtt_walk() {
    let mut fx = setup();
    let desc = NS_PA | NS_ATTRS;
    // No level-2 RTT at UNPROT + 1 GB: the walk stops at level 1.
    fx.fail(map(&fx, UNPROT + L1_SIZE, 3, desc), RmiError::Rtt(1));
    fx.fail(map(&fx, UNPROT + L1_SIZE, 2, desc), RmiError::Rtt(1));
    // No level-3 RTT at UNPROT + 2 MB.
    fx.fail(map(&fx, UNPROT + L2_SIZE, 3, desc), RmiError::Rtt(2));
}

#[test]
fn map_rtte_state() {
    let mut fx = setup();
    let desc = NS_PA | NS_ATTRS;
    fx.map_ns(UNPROT, 3, desc);
    fx.fail(map(&fx, UNPROT, 3, desc), RmiError::Rtt(3));
    // A TABLE entry is not UNASSIGNED_NS either.
    fx.fail(map(&fx, UNPROT, 2, desc), RmiError::Rtt(2));
    fx.fail(map(&fx, UNPROT, 1, desc), RmiError::Rtt(1));
    // Below an ASSIGNED_NS block the walk stops at the block.
    fx.map_ns(UNPROT + L2_SIZE, 2, desc);
    fx.fail(map(&fx, UNPROT + L2_SIZE + PAGE, 3, desc), RmiError::Rtt(2));
}

// ---- MAP: success ------------------------------------------------------------

#[test]
fn map_page_block_and_gigabyte() {
    let mut fx = setup();
    let l2 = fx.table(UNPROT, 2);
    let l3 = fx.table(UNPROT, 3);
    let root1 = fx.roots + PAGE;
    let before = (fx.refcount(l2), fx.refcount(l3), fx.refcount(root1));
    // Device page: Outer Shareable.
    fx.map_ns(UNPROT + 4 * PAGE, 3, NS_PA | NS_ATTRS);
    assert_eq!(
        fx.desc(l3, 4),
        NS_PA | NS_ATTRS | s2tt::SH_OS | s2tt::AF | s2tt::XN_NEVER | s2tt::NS | 0b11
    );
    // Write-back 2 MB block: Inner Shareable.
    let wb = NS_PA | s2tt::MEMATTR_FWB_WB | s2tt::S2AP_RW;
    fx.map_ns(UNPROT + L2_SIZE, 2, wb);
    assert_eq!(
        fx.desc(l2, 1),
        wb | s2tt::SH_IS | s2tt::AF | s2tt::XN_NEVER | s2tt::NS | 0b01
    );
    // 1 GB block in the starting-level table.
    fx.map_ns(UNPROT + L1_SIZE, 1, wb);
    assert_eq!(
        fx.desc(root1, 1),
        wb | s2tt::SH_IS | s2tt::AF | s2tt::XN_NEVER | s2tt::NS | 0b01
    );
    assert_eq!(fx.read(UNPROT + L1_SIZE, 1), [1, RMI_ASSIGNED, wb, EMPTY]);
    // No reference is taken: not on the tables, not on the NS memory.
    assert_eq!(
        (fx.refcount(l2), fx.refcount(l3), fx.refcount(root1)),
        before
    );
    assert!(fx.tlbis().is_empty());
}

// ---- UNMAP: failure conditions -----------------------------------------------

#[test]
fn unmap_rd_align_bound_state() {
    let mut fx = setup();
    fx.map_ns(UNPROT, 3, NS_PA | NS_ATTRS);
    for (rd, _) in fx.bad_rds() {
        let out = fx.fail(
            Command::RttUnmapUnprotected {
                rd,
                ipa: UNPROT,
                level: 3,
            },
            RmiError::Input,
        );
        assert_eq!(out, Outputs::NONE);
    }
}

#[test]
fn unmap_level_bound() {
    let mut fx = setup();
    fx.map_ns(UNPROT, 3, NS_PA | NS_ATTRS);
    for level in [0, 4, u64::MAX] {
        assert_eq!(
            fx.fail(unmap(&fx, UNPROT, level), RmiError::Input),
            Outputs::NONE
        );
    }
    let mut fx = Fx::with(32, 2, 4);
    fx.fail(unmap(&fx, 1 << 31, 1), RmiError::Input);
}

#[test]
fn unmap_ipa_align_and_bound() {
    let mut fx = setup();
    fx.map_ns(UNPROT, 3, NS_PA | NS_ATTRS);
    for (ipa, level) in [
        (UNPROT + 0x800, 3),
        (UNPROT + PAGE, 2),
        (0, 3),
        (UNPROT - PAGE, 3),
        (IPA_TOP, 3),
        (!0xfff_u64, 3),
    ] {
        assert_eq!(
            fx.fail(unmap(&fx, ipa, level), RmiError::Input),
            Outputs::NONE
        );
    }
}

#[test]
fn unmap_rtt_walk() {
    let mut fx = setup();
    // Mapped at a lower level: a 2 MB block, unmapped as a page.
    fx.map_ns(UNPROT + L2_SIZE, 2, NS_PA | NS_ATTRS);
    let out = fx.fail(unmap(&fx, UNPROT + L2_SIZE + 3 * PAGE, 3), RmiError::Rtt(2));
    assert_eq!(out, top1(UNPROT + L2_SIZE + 3 * PAGE));
    // No level-2 RTT: UNASSIGNED_NS at level 1, top = end of root 1.
    let out = fx.fail(unmap(&fx, UNPROT + L1_SIZE, 3), RmiError::Rtt(1));
    assert_eq!(out, top1(IPA_TOP));
}

#[test]
fn unmap_rtte_state() {
    let mut fx = setup();
    fx.map_ns(UNPROT + 9 * PAGE, 3, NS_PA | NS_ATTRS);
    // Not mapped: (RTT, 3), top = the next live entry.
    let out = fx.fail(unmap(&fx, UNPROT + 2 * PAGE, 3), RmiError::Rtt(3));
    assert_eq!(out, top1(UNPROT + 9 * PAGE));
    let out = fx.fail(unmap(&fx, UNPROT + 10 * PAGE, 3), RmiError::Rtt(3));
    assert_eq!(out, top1(UNPROT + L2_SIZE));
    // A TABLE entry at the requested level is not ASSIGNED_NS: top == ipa.
    let out = fx.fail(unmap(&fx, UNPROT, 2), RmiError::Rtt(2));
    assert_eq!(out, top1(UNPROT));
}

// ---- UNMAP: success ----------------------------------------------------------

#[test]
fn unmap_page_and_block() {
    let mut fx = setup();
    let l3 = fx.table(UNPROT, 3);
    let l2 = fx.table(UNPROT, 2);
    fx.map_ns(UNPROT + 2 * PAGE, 3, NS_PA | NS_ATTRS);
    fx.map_ns(UNPROT + 7 * PAGE, 3, NS_PA | NS_ATTRS);
    fx.map_ns(UNPROT + 5 * L2_SIZE, 2, NS_PA | NS_ATTRS);
    assert_eq!(
        fx.ok(unmap(&fx, UNPROT + 2 * PAGE, 3)),
        Outputs::one(UNPROT + 7 * PAGE)
    );
    assert_eq!(fx.desc(l3, 2), s2tt::NS);
    assert_eq!(fx.read(UNPROT + 2 * PAGE, 3), [3, RMI_UNASSIGNED, 0, EMPTY]);
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID,
            ipa: UNPROT + 2 * PAGE,
            level: 3
        }]
    );
    assert_eq!(
        fx.ok(unmap(&fx, UNPROT + 7 * PAGE, 3)),
        Outputs::one(UNPROT + L2_SIZE)
    );
    fx.clear_tlbis();
    assert_eq!(
        fx.ok(unmap(&fx, UNPROT + 5 * L2_SIZE, 2)),
        Outputs::one(UNPROT + L1_SIZE)
    );
    assert_eq!(fx.desc(l2, 5), s2tt::NS);
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID,
            ipa: UNPROT + 5 * L2_SIZE,
            level: 2
        }]
    );
    assert_eq!(fx.refcount(l3), 0);
    assert_eq!(fx.refcount(l2), 1);
}
