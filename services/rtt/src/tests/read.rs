//! RMI_RTT_READ_ENTRY (B4.3.20).
use super::*;

fn read(fx: &Fx, ipa: u64, level: u64) -> Command {
    Command::RttReadEntry {
        rd: fx.rd,
        ipa,
        level,
    }
}

#[test]
fn rd_align_bound_state() {
    let mut fx = Fx::new();
    for (rd, _) in fx.bad_rds() {
        fx.fail(
            Command::RttReadEntry {
                rd,
                ipa: 0,
                level: 1,
            },
            RmiError::Input,
        );
    }
}

#[test]
fn level_bound() {
    let mut fx = Fx::new();
    for level in [0, 4, u64::MAX] {
        fx.fail(read(&fx, 0, level), RmiError::Input);
    }
    // The starting level itself is valid here.
    assert_eq!(fx.read(0, 1), [1, RMI_UNASSIGNED, 0, EMPTY]);
    let mut fx = Fx::with(40, 0, 1);
    assert_eq!(fx.read(0, 0), [0, RMI_UNASSIGNED, 0, EMPTY]);
    assert_eq!(fx.read(UNPROT, 0), [0, RMI_UNASSIGNED, 0, EMPTY]);
    fx.fail(read(&fx, 0, u64::MAX), RmiError::Input);
}

#[test]
fn ipa_align() {
    let mut fx = Fx::new();
    fx.fail(read(&fx, PAGE, 2), RmiError::Input);
    fx.fail(read(&fx, L2_SIZE, 1), RmiError::Input);
    fx.fail(read(&fx, 0x800, 3), RmiError::Input);
}

#[test]
fn ipa_bound() {
    let mut fx = Fx::new();
    fx.fail(read(&fx, IPA_TOP, 1), RmiError::Input);
    fx.fail(read(&fx, IPA_TOP + PAGE, 3), RmiError::Input);
    fx.fail(read(&fx, 1 << 63, 3), RmiError::Input);
}

#[test]
fn every_entry_state() {
    let mut fx = Fx::new();
    // The walk stops where the tree does.
    assert_eq!(fx.read(5 * PAGE, 3), [1, RMI_UNASSIGNED, 0, EMPTY]);
    assert_eq!(fx.read(UNPROT + 5 * PAGE, 3), [1, RMI_UNASSIGNED, 0, EMPTY]);
    let l2 = fx.create(0, 2);
    assert_eq!(fx.read(0, 1), [1, RMI_TABLE, l2, EMPTY]);
    assert_eq!(fx.read(5 * PAGE, 3), [2, RMI_UNASSIGNED, 0, EMPTY]);
    let l3 = fx.create(0, 3);
    assert_eq!(fx.read(0, 2), [2, RMI_TABLE, l3, EMPTY]);
    // UNASSIGNED of each RIPAS.
    assert_eq!(fx.read(0, 3), [3, RMI_UNASSIGNED, 0, EMPTY]);
    fx.ok(Command::RttInitRipas {
        rd: fx.rd,
        base: PAGE,
        top: 3 * PAGE,
    });
    assert_eq!(fx.read(PAGE, 3), [3, RMI_UNASSIGNED, 0, RAM]);
    // ASSIGNED RAM (DATA_CREATE), then DESTROYED (destroyed, re-created
    // unknown), ASSIGNED EMPTY (unknown on EMPTY): the PA every time.
    let ram = fx.data(2 * PAGE);
    assert_eq!(fx.read(2 * PAGE, 3), [3, RMI_ASSIGNED, ram, RAM]);
    fx.ok(Command::DataDestroy {
        rd: fx.rd,
        ipa: 2 * PAGE,
    });
    assert_eq!(fx.read(2 * PAGE, 3), [3, RMI_UNASSIGNED, 0, DESTROYED]);
    fx.clear_tlbis();
    let destroyed = fx.data_unknown(2 * PAGE);
    assert_eq!(
        fx.read(2 * PAGE, 3),
        [3, RMI_ASSIGNED, destroyed, DESTROYED]
    );
    let empty = fx.data_unknown(3 * PAGE);
    assert_eq!(fx.read(3 * PAGE, 3), [3, RMI_ASSIGNED, empty, EMPTY]);
    // UNASSIGNED_NS and ASSIGNED_NS: host attributes only, RIPAS EMPTY.
    fx.create(UNPROT, 2);
    fx.create(UNPROT, 3);
    assert_eq!(fx.read(UNPROT, 3), [3, RMI_UNASSIGNED, 0, EMPTY]);
    let desc = NS_PA | s2tt::MEMATTR_FWB_NC | s2tt::S2AP_RW;
    fx.map_ns(UNPROT + PAGE, 3, desc);
    assert_eq!(fx.read(UNPROT + PAGE, 3), [3, RMI_ASSIGNED, desc, EMPTY]);
    fx.map_ns(UNPROT + 3 * L2_SIZE, 2, NS_PA | NS_ATTRS);
    assert_eq!(
        fx.read(UNPROT + 3 * L2_SIZE, 2),
        [2, RMI_ASSIGNED, NS_PA | NS_ATTRS, EMPTY]
    );
    // Reading below a block reports the block's level.
    assert_eq!(
        fx.read(UNPROT + 3 * L2_SIZE + PAGE, 3),
        [2, RMI_ASSIGNED, NS_PA | NS_ATTRS, EMPTY]
    );
    assert!(fx.tlbis().is_empty());
}
