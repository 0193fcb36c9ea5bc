//! RMI_RTT_CREATE (B4.3.15).
use super::*;

fn create(fx: &Fx, rtt: u64, ipa: u64, level: u64) -> Command {
    Command::RttCreate {
        rd: fx.rd,
        rtt,
        ipa,
        level,
    }
}

// ---- failure conditions ----------------------------------------------------

#[test]
fn rd_align_bound_state() {
    let mut fx = Fx::new();
    let rtt = fx.delegate();
    for (rd, why) in fx.bad_rds() {
        let out = fx.fail(
            Command::RttCreate {
                rd,
                rtt,
                ipa: 0,
                level: 2,
            },
            RmiError::Input,
        );
        assert_eq!(out, Outputs::NONE, "{why}");
    }
    // rd_state outranks everything else that fails too (bad level, walk).
    let delegated = fx.delegate();
    fx.fail(
        Command::RttCreate {
            rd: delegated,
            rtt,
            ipa: 0,
            level: 3,
        },
        RmiError::Input,
    );
}

#[test]
fn level_bound() {
    let mut fx = Fx::new();
    let rtt = fx.delegate();
    // The starting level (1) and above 3; -1 and huge values as Int64.
    for level in [0, 1, 4, 5, u64::MAX, 1 << 63, 0x1_0000_0002] {
        fx.fail(create(&fx, rtt, 0, level), RmiError::Input);
    }
}

#[test]
fn ipa_align() {
    let mut fx = Fx::new();
    let rtt = fx.delegate();
    fx.create(0, 2);
    // A level-3 RTT covers 2 MB: its ipa must be 2 MB aligned.
    for ipa in [PAGE, L2_SIZE + PAGE, 1] {
        fx.fail(create(&fx, rtt, ipa, 3), RmiError::Input);
    }
    // A level-2 RTT covers 1 GB.
    fx.fail(create(&fx, rtt, L2_SIZE, 2), RmiError::Input);
}

#[test]
fn ipa_bound() {
    let mut fx = Fx::new();
    let rtt = fx.delegate();
    for ipa in [IPA_TOP, IPA_TOP + L1_SIZE, 1 << 48, !(L1_SIZE - 1)] {
        fx.fail(create(&fx, rtt, ipa, 2), RmiError::Input);
    }
}

#[test]
fn rtt_align_bound_state() {
    let mut fx = Fx::new();
    let good = fx.delegate();
    let undelegated = fx.undelegated();
    let l2 = fx.create(0, 2);
    let data = fx.data_unknown_at_new_l3(L2_SIZE);
    for rtt in [
        good + 8,
        good + 0x800,
        OUTSIDE,
        RMM.base,
        undelegated,
        fx.rd,
        fx.roots,
        fx.roots + PAGE,
        l2,
        data,
    ] {
        fx.fail(create(&fx, rtt, 4 * L2_SIZE, 3), RmiError::Input);
    }
    // rtt_state outranks rtt_walk and rtte_state: no L2 at 1 GB, and an
    // L3 that already exists at 2 MB.
    fx.fail(create(&fx, undelegated, L1_SIZE, 3), RmiError::Input);
    fx.fail(create(&fx, l2, L2_SIZE, 3), RmiError::Input);
    fx.fail(create(&fx, fx.rd, L2_SIZE, 3), RmiError::Input);
}

#[test]
fn rtt_walk() {
    let mut fx = Fx::new();
    let rtt = fx.delegate();
    // No level-2 RTT: the walk stops at level 1.
    fx.fail(create(&fx, rtt, 0, 3), RmiError::Rtt(1));
    fx.fail(create(&fx, rtt, UNPROT + L2_SIZE, 3), RmiError::Rtt(1));
}

#[test]
fn rtte_state() {
    let mut fx = Fx::new();
    let rtt = fx.delegate();
    fx.create(L1_SIZE, 2);
    fx.fail(create(&fx, rtt, L1_SIZE, 2), RmiError::Rtt(1));
    fx.create(L1_SIZE + L2_SIZE, 3);
    fx.fail(create(&fx, rtt, L1_SIZE + L2_SIZE, 3), RmiError::Rtt(2));
}

// ---- success ---------------------------------------------------------------

#[test]
fn under_unassigned_empty_and_table_entry() {
    let mut fx = Fx::new();
    let root = fx.roots;
    let l2 = fx.delegate();
    fx.ok(create(&fx, l2, 3 * L1_SIZE, 2));
    assert_eq!(fx.query(l2), (GranuleState::Rtt, 0));
    assert_eq!(fx.query(root), (GranuleState::Rtt, 1));
    assert_eq!(fx.desc(root, 3), l2 | 0b11);
    assert!(fx.is_zero(l2), "all UNASSIGNED, RIPAS EMPTY");
    assert_eq!(fx.read(3 * L1_SIZE, 1), [1, RMI_TABLE, l2, EMPTY]);
    assert_eq!(fx.read(3 * L1_SIZE, 2), [2, RMI_UNASSIGNED, 0, EMPTY]);

    let l3 = fx.delegate();
    fx.ok(create(&fx, l3, 3 * L1_SIZE + 5 * L2_SIZE, 3));
    assert_eq!(fx.query(l2), (GranuleState::Rtt, 1));
    assert_eq!(fx.query(l3), (GranuleState::Rtt, 0));
    assert_eq!(fx.query(root), (GranuleState::Rtt, 1));
    assert_eq!(fx.desc(l2, 5), l3 | 0b11);
    assert_eq!(
        fx.read(3 * L1_SIZE + 5 * L2_SIZE + 7 * PAGE, 3),
        [3, RMI_UNASSIGNED, 0, EMPTY]
    );
    assert!(fx.tlbis().is_empty(), "nothing was valid");
}

#[test]
fn under_unassigned_ram_and_destroyed() {
    let mut fx = Fx::new();
    let l2 = fx.create(0, 2);
    // RIPAS RAM on the 2 MB entry at 4 MB.
    fx.ok(Command::RttInitRipas {
        rd: fx.rd,
        base: 2 * L2_SIZE,
        top: 3 * L2_SIZE,
    });
    assert_eq!(fx.desc(l2, 2), 0x20);
    let l3 = fx.create(2 * L2_SIZE, 3);
    assert!(fx.m.peek(l3).0.iter().all(|&d| d == 0x20));
    assert_eq!(fx.read(2 * L2_SIZE + PAGE, 3), [3, RMI_UNASSIGNED, 0, RAM]);

    // A destroyed RTT leaves RIPAS DESTROYED; a new one inherits it.
    let l3b = fx.create(3 * L2_SIZE, 3);
    fx.ok(Command::RttDestroy {
        rd: fx.rd,
        ipa: 3 * L2_SIZE,
        level: 3,
    });
    assert_eq!(fx.desc(l2, 3), 0x40);
    let again = fx.delegate();
    fx.ok(create(&fx, again, 3 * L2_SIZE, 3));
    assert!(fx.m.peek(again).0.iter().all(|&d| d == 0x40));
    assert_eq!(fx.read(3 * L2_SIZE, 3), [3, RMI_UNASSIGNED, 0, DESTROYED]);
    assert_eq!(fx.query(l3b), (GranuleState::Delegated, 0));
    assert_eq!(fx.refcount(l2), 2);
}

#[test]
fn under_unassigned_ns() {
    let mut fx = Fx::new();
    let root1 = fx.roots + PAGE;
    let l2 = fx.create(UNPROT + 2 * L1_SIZE, 2);
    assert_eq!(fx.refcount(root1), 1);
    assert_eq!(fx.desc(root1, 2), l2 | 0b11);
    assert!(fx.m.peek(l2).0.iter().all(|&d| d == s2tt::NS));
    let l3 = fx.create(UNPROT + 2 * L1_SIZE, 3);
    assert!(fx.m.peek(l3).0.iter().all(|&d| d == s2tt::NS));
    assert_eq!(
        fx.read(UNPROT + 2 * L1_SIZE + PAGE, 3),
        [3, RMI_UNASSIGNED, 0, EMPTY]
    );
    assert_eq!(fx.refcount(l2), 1);
    assert!(fx.tlbis().is_empty());
}

#[test]
fn unfolds_assigned_ns_block_break_before_make() {
    let mut fx = Fx::new();
    let l2 = fx.create(UNPROT, 2);
    let block = NS_PA + 4 * L2_SIZE;
    fx.map_ns(UNPROT + L2_SIZE, 2, block | NS_ATTRS);
    assert_eq!(fx.refcount(l2), 0, "NS mappings are not counted");
    let l3 = fx.create(UNPROT + L2_SIZE, 3);
    assert_eq!(fx.refcount(l2), 1);
    assert_eq!(fx.refcount(l3), 0);
    let t = fx.m.peek(l3);
    for (i, &d) in t.0.iter().enumerate() {
        let pa = block + i as u64 * PAGE;
        assert_eq!(
            d,
            pa | NS_ATTRS | s2tt::SH_OS | s2tt::AF | s2tt::XN_NEVER | s2tt::NS | 0b11
        );
    }
    assert_eq!(
        fx.read(UNPROT + L2_SIZE + 9 * PAGE, 3),
        [3, RMI_ASSIGNED, (block + 9 * PAGE) | NS_ATTRS, EMPTY]
    );
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID,
            ipa: UNPROT + L2_SIZE,
            level: 2
        }]
    );
}

#[test]
fn unfolds_assigned_empty_block() {
    let mut fx = Fx::new();
    let l2 = fx.create(0, 2);
    fx.create(L2_SIZE, 3);
    let base = fx.fill(L2_SIZE, false);
    let l3 = fx.table(L2_SIZE, 3);
    fx.ok(Command::RttFold {
        rd: fx.rd,
        ipa: L2_SIZE,
        level: 3,
    });
    assert_eq!(fx.desc(l2, 1), base | 0x04, "ASSIGNED_EMPTY block");
    assert_eq!(fx.refcount(l2), 1);
    assert_eq!(fx.query(l3), (GranuleState::Delegated, 0));
    fx.clear_tlbis();

    let again = fx.create(L2_SIZE, 3);
    assert_eq!(fx.refcount(again), 512);
    assert_eq!(fx.refcount(l2), 1, "the block's count becomes the table's");
    for (i, &d) in fx.m.peek(again).0.iter().enumerate() {
        assert_eq!(d, (base + i as u64 * PAGE) | 0x04);
    }
    assert_eq!(
        fx.read(L2_SIZE + 3 * PAGE, 3),
        [3, RMI_ASSIGNED, base + 3 * PAGE, EMPTY]
    );
    assert!(fx.tlbis().is_empty(), "an invalid block needs no TLBI");
}

#[test]
fn unfolds_assigned_ram_block_break_before_make() {
    let mut fx = Fx::new();
    let l2 = fx.create(0, 2);
    fx.create(0, 3);
    let base = fx.fill(0, true);
    fx.ok(Command::RttFold {
        rd: fx.rd,
        ipa: 0,
        level: 3,
    });
    assert_eq!(fx.desc(l2, 0), base | 0x7d9);
    fx.clear_tlbis();
    let l3 = fx.create(0, 3);
    assert_eq!(fx.refcount(l3), 512);
    assert_eq!(fx.refcount(l2), 1);
    for (i, &d) in fx.m.peek(l3).0.iter().enumerate() {
        assert_eq!(d, (base + i as u64 * PAGE) | 0x7db);
    }
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID,
            ipa: 0,
            level: 2
        }]
    );
}

#[test]
fn level_one_tables_with_starting_level_zero() {
    let mut fx = Fx::with(40, 0, 1);
    let l1 = fx.create(0, 1);
    assert_eq!(fx.refcount(fx.roots), 1);
    assert_eq!(fx.desc(fx.roots, 0), l1 | 3);
    // Unprotected half: entry 1 of the level-0 root.
    let ns = fx.create(UNPROT, 1);
    assert!(fx.m.peek(ns).0.iter().all(|&d| d == s2tt::NS));
    let rtt = fx.delegate();
    fx.fail(create(&fx, rtt, 0, 0), RmiError::Input);
    fx.fail(create(&fx, rtt, L1_SIZE, 3), RmiError::Rtt(1));
}

impl Fx {
    /// A DATA granule (DATA_CREATE_UNKNOWN) at `ipa`, in a new level-3 RTT
    /// under the existing level-2 RTT.
    fn data_unknown_at_new_l3(&mut self, ipa: u64) -> u64 {
        self.create(ipa & !(L2_SIZE - 1), 3);
        self.data_unknown(ipa)
    }
}
