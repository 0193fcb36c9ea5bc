//! RMI_RTT_DESTROY (B4.3.16).
use super::*;

fn destroy(fx: &Fx, ipa: u64, level: u64) -> Command {
    Command::RttDestroy {
        rd: fx.rd,
        ipa,
        level,
    }
}

// ---- failure conditions ----------------------------------------------------

#[test]
fn rd_align_bound_state() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    for (rd, why) in fx.bad_rds() {
        let out = fx.fail(
            Command::RttDestroy {
                rd,
                ipa: 0,
                level: 2,
            },
            RmiError::Input,
        );
        assert_eq!(out, Outputs::NONE, "{why}: top is 0");
    }
}

#[test]
fn level_bound() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    for level in [0, 1, 4, u64::MAX] {
        assert_eq!(
            fx.fail(destroy(&fx, 0, level), RmiError::Input),
            Outputs::NONE
        );
    }
}

#[test]
fn ipa_align() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(0, 3);
    assert_eq!(
        fx.fail(destroy(&fx, PAGE, 3), RmiError::Input),
        Outputs::NONE
    );
    assert_eq!(
        fx.fail(destroy(&fx, L2_SIZE, 2), RmiError::Input),
        Outputs::NONE
    );
}

#[test]
fn ipa_bound() {
    let mut fx = Fx::new();
    for ipa in [IPA_TOP, 1 << 50] {
        assert_eq!(
            fx.fail(destroy(&fx, ipa, 2), RmiError::Input),
            Outputs::NONE
        );
    }
}

#[test]
fn rtt_walk_missing_rtt() {
    let mut fx = Fx::new();
    // No level-2 RTT anywhere in root 0: the walk stops at level 1 on an
    // UNASSIGNED entry, and top is the end of the root table.
    let out = fx.fail(destroy(&fx, 4 * L2_SIZE, 3), RmiError::Rtt(1));
    assert_eq!(out, top2(UNPROT));
    // With a live entry further on, top is that entry's IPA.
    fx.create(5 * L1_SIZE, 2);
    let out = fx.fail(destroy(&fx, L1_SIZE + 4 * L2_SIZE, 3), RmiError::Rtt(1));
    assert_eq!(out, top2(5 * L1_SIZE));
    // Unprotected root: UNASSIGNED_NS entries, end of root 1.
    let out = fx.fail(destroy(&fx, UNPROT, 3), RmiError::Rtt(1));
    assert_eq!(out, top2(IPA_TOP));
}

#[test]
fn rtt_walk_block_at_lower_level() {
    let mut fx = Fx::new();
    fx.create(UNPROT, 2);
    fx.map_ns(UNPROT + L2_SIZE, 2, NS_PA | NS_ATTRS);
    // The walk to level 2 finds TABLE at level 1: destroying the level-3
    // RTT under an ASSIGNED_NS block fails at level 2 with top == ipa.
    let out = fx.fail(destroy(&fx, UNPROT + L2_SIZE, 3), RmiError::Rtt(2));
    assert_eq!(out, top2(UNPROT + L2_SIZE));
}

#[test]
fn rtte_state() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(7 * L2_SIZE, 3);
    // The level-2 entry at 2 MB is UNASSIGNED: (RTT, 2), top = next live.
    let out = fx.fail(destroy(&fx, L2_SIZE, 3), RmiError::Rtt(2));
    assert_eq!(out, top2(7 * L2_SIZE));
    // Nothing live after it: the end of the level-2 RTT.
    let out = fx.fail(destroy(&fx, 8 * L2_SIZE, 3), RmiError::Rtt(2));
    assert_eq!(out, top2(L1_SIZE));
}

#[test]
fn rtt_live() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(L2_SIZE, 3);
    fx.data(L2_SIZE + 3 * PAGE);
    let out = fx.fail(destroy(&fx, L2_SIZE, 3), RmiError::Rtt(3));
    assert_eq!(out, top2(L2_SIZE));
    // A level-2 RTT holding a TABLE entry is live too.
    let out = fx.fail(destroy(&fx, 0, 2), RmiError::Rtt(2));
    assert_eq!(out, top2(0));
    // ASSIGNED entries of any RIPAS count: DATA_CREATE_UNKNOWN (EMPTY).
    fx.create(3 * L2_SIZE, 3);
    fx.data_unknown(3 * L2_SIZE);
    let out = fx.fail(destroy(&fx, 3 * L2_SIZE, 3), RmiError::Rtt(3));
    assert_eq!(out, top2(3 * L2_SIZE));
}

// ---- success ---------------------------------------------------------------

#[test]
fn protected_leaves_ripas_destroyed() {
    let mut fx = Fx::new();
    let root = fx.roots;
    let l2 = fx.create(0, 2);
    let l3 = fx.create(2 * L2_SIZE, 3);
    fx.create(9 * L2_SIZE, 3);
    assert_eq!(fx.refcount(l2), 2);
    let out = fx.ok(destroy(&fx, 2 * L2_SIZE, 3));
    assert_eq!(out, Outputs::two(l3, 9 * L2_SIZE));
    assert_eq!(fx.query(l3), (GranuleState::Delegated, 0));
    assert!(fx.is_zero(l3));
    assert_eq!(fx.refcount(l2), 1);
    assert_eq!(fx.desc(l2, 2), 0x40);
    assert_eq!(fx.read(2 * L2_SIZE, 3), [2, RMI_UNASSIGNED, 0, DESTROYED]);
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID,
            ipa: 2 * L2_SIZE,
            level: 2
        }]
    );
    // The last table of the level-2 RTT: top is the end of that RTT.
    let out = fx.ok(destroy(&fx, 9 * L2_SIZE, 3));
    assert_eq!(out.0[1], L1_SIZE);
    let out = fx.ok(destroy(&fx, 0, 2));
    assert_eq!(out, Outputs::two(l2, UNPROT));
    assert_eq!(fx.refcount(root), 0);
    assert_eq!(fx.desc(root, 0), 0x40);
    assert_eq!(fx.query(l2), (GranuleState::Delegated, 0));
}

#[test]
fn unprotected_with_ns_mappings() {
    let mut fx = Fx::new();
    let root1 = fx.roots + PAGE;
    let l2 = fx.create(UNPROT + L1_SIZE, 2);
    let l3 = fx.create(UNPROT + L1_SIZE, 3);
    fx.map_ns(UNPROT + L1_SIZE + PAGE, 3, NS_PA | NS_ATTRS);
    fx.map_ns(UNPROT + L1_SIZE + L2_SIZE, 2, NS_PA | NS_ATTRS);
    fx.clear_tlbis();
    // ASSIGNED_NS entries do not make an RTT live (A5.5.8).
    let out = fx.ok(destroy(&fx, UNPROT + L1_SIZE, 3));
    assert_eq!(out, Outputs::two(l3, UNPROT + L1_SIZE + L2_SIZE));
    assert_eq!(fx.desc(l2, 0), s2tt::NS);
    assert_eq!(fx.refcount(l2), 0);
    assert_eq!(fx.query(l3), (GranuleState::Delegated, 0));
    assert!(fx.is_zero(l3));
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Block {
            vmid: VMID,
            ipa: UNPROT + L1_SIZE,
            size: L2_SIZE
        }]
    );
    fx.clear_tlbis();
    let out = fx.ok(destroy(&fx, UNPROT + L1_SIZE, 2));
    assert_eq!(out, Outputs::two(l2, IPA_TOP));
    assert_eq!(fx.desc(root1, 1), s2tt::NS);
    assert_eq!(fx.refcount(root1), 0);
    assert_eq!(fx.read(UNPROT + L1_SIZE, 2), [1, RMI_UNASSIGNED, 0, EMPTY]);
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Block {
            vmid: VMID,
            ipa: UNPROT + L1_SIZE,
            size: L1_SIZE
        }]
    );
}
