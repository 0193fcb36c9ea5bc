//! RMI_RTT_INIT_RIPAS (B4.3.18).
use super::*;

fn init(fx: &Fx, base: u64, top: u64) -> Command {
    Command::RttInitRipas {
        rd: fx.rd,
        base,
        top,
    }
}

/// A realm with a level-2 RTT at 0 and a level-3 RTT at 0.
fn setup() -> Fx {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(0, 3);
    fx
}

fn ripas(rd: u64, base: u64, top: u64) -> RealmRequest {
    RealmRequest::MeasureRipas { rd, base, top }
}

// ---- failure conditions ------------------------------------------------------

#[test]
fn rd_align_bound_state() {
    let mut fx = setup();
    for (rd, _) in fx.bad_rds() {
        fx.fail(
            Command::RttInitRipas {
                rd,
                base: 0,
                top: PAGE,
            },
            RmiError::Input,
        );
    }
    // rd_state outranks size_valid.
    let delegated = fx.delegate();
    fx.fail(
        Command::RttInitRipas {
            rd: delegated,
            base: PAGE,
            top: 0,
        },
        RmiError::Input,
    );
}

#[test]
fn size_valid() {
    let mut fx = setup();
    fx.fail(init(&fx, PAGE, PAGE), RmiError::Input);
    fx.fail(init(&fx, 2 * PAGE, PAGE), RmiError::Input);
    fx.fail(init(&fx, !0xfff_u64, 0), RmiError::Input);
}

#[test]
fn top_bound() {
    let mut fx = setup();
    // top - 4K must be Protected.
    fx.fail(init(&fx, 0, UNPROT + PAGE), RmiError::Input);
    fx.fail(init(&fx, 0, IPA_TOP), RmiError::Input);
    fx.fail(init(&fx, 0, u64::MAX), RmiError::Input);
    // top < 4K: top - 4K is not an address at all.
    fx.fail(init(&fx, 0, 0x800), RmiError::Input);
    // The last Protected granule is fine.
    fx.create(UNPROT - L1_SIZE, 2);
    fx.create(UNPROT - L2_SIZE, 3);
    assert_eq!(
        fx.ok(init(&fx, UNPROT - PAGE, UNPROT)),
        Outputs::one(UNPROT)
    );
}

#[test]
fn realm_state() {
    let mut fx = setup();
    for state in [RealmState::Active, RealmState::SystemOff] {
        fx.set_realm_state(state);
        fx.fail(init(&fx, 0, PAGE), RmiError::Realm(0));
        // realm_state outranks base_align, rtte_state and top_gran_align.
        fx.fail(init(&fx, 0x800, PAGE), RmiError::Realm(0));
        fx.fail(init(&fx, 0, PAGE + 0x800), RmiError::Realm(0));
    }
}

#[test]
fn base_align() {
    let mut fx = setup();
    // The walk reaches level 3: base must be 4K aligned.
    fx.fail(init(&fx, 0x800, PAGE), RmiError::Rtt(3));
    // The walk stops at level 2 (no level-3 RTT at 2 MB): base must be
    // 2 MB aligned.
    fx.fail(init(&fx, L2_SIZE + PAGE, 2 * L2_SIZE), RmiError::Rtt(2));
    // At level 1 (no level-2 RTT at 1 GB): 1 GB aligned.
    fx.fail(init(&fx, L1_SIZE + L2_SIZE, 2 * L1_SIZE), RmiError::Rtt(1));
    // base_align outranks top_gran_align.
    fx.fail(init(&fx, 0x800, PAGE + 1), RmiError::Rtt(3));
}

#[test]
fn rtte_state() {
    let mut fx = setup();
    fx.data(3 * PAGE);
    fx.fail(init(&fx, 3 * PAGE, 8 * PAGE), RmiError::Rtt(3));
    // A TABLE at the walk's end cannot happen at level 3; an ASSIGNED_EMPTY
    // page is ASSIGNED too.
    fx.data_unknown(4 * PAGE);
    fx.fail(init(&fx, 4 * PAGE, 8 * PAGE), RmiError::Rtt(3));
    // rtte_state outranks top_gran_align.
    fx.fail(init(&fx, 3 * PAGE, 8 * PAGE + 1), RmiError::Rtt(3));
}

#[test]
fn top_gran_align() {
    let mut fx = setup();
    fx.fail(init(&fx, 0, PAGE + 1), RmiError::Input);
    fx.fail(init(&fx, 0, 2 * PAGE - 1), RmiError::Input);
    fx.fail(init(&fx, 0, 0x1800), RmiError::Input);
}

#[test]
fn no_progress() {
    let mut fx = setup();
    // RIPAS DESTROYED is not changed by INIT_RIPAS.
    fx.data(PAGE);
    fx.ok(Command::DataDestroy {
        rd: fx.rd,
        ipa: PAGE,
    });
    fx.fail(init(&fx, PAGE, 2 * PAGE), RmiError::Rtt(3));
    // The level-2 entry at 2 MB is bigger than [base, top).
    fx.fail(init(&fx, L2_SIZE, L2_SIZE + PAGE), RmiError::Rtt(2));
    fx.fail(init(&fx, L2_SIZE, 2 * L2_SIZE - PAGE), RmiError::Rtt(2));
}

// ---- success -----------------------------------------------------------------

#[test]
fn pages_become_ram_and_are_measured() {
    let mut fx = setup();
    let l3 = fx.table(0, 3);
    let rd = fx.rd;
    fx.data(6 * PAGE);
    fx.clear_measured();
    // Stops before the ASSIGNED page at 6.
    assert_eq!(fx.ok(init(&fx, 2 * PAGE, 9 * PAGE)), Outputs::one(6 * PAGE));
    for i in 2..6 {
        assert_eq!(fx.desc(l3, i), 0x20);
    }
    assert_eq!((fx.desc(l3, 1), fx.desc(l3, 7)), (0, 0));
    assert_eq!(fx.desc(l3, 6) & 0x7ff, 0x7db, "the DATA page is untouched");
    assert_eq!(fx.read(5 * PAGE, 3), [3, RMI_UNASSIGNED, 0, RAM]);
    let want: Vec<_> = (2..6)
        .map(|i| ripas(rd, i * PAGE, (i + 1) * PAGE))
        .collect();
    assert_eq!(fx.measured(), want);
    // RAM entries are accepted again, and measured again.
    fx.clear_measured();
    assert_eq!(fx.ok(init(&fx, 0, 4 * PAGE)), Outputs::one(4 * PAGE));
    assert_eq!(fx.measured().len(), 4);
    assert_eq!(fx.desc(l3, 0), 0x20);
    assert!(fx.tlbis().is_empty());
}

#[test]
fn stops_at_the_end_of_the_rtt() {
    let mut fx = setup();
    fx.clear_measured();
    assert_eq!(
        fx.ok(init(&fx, 510 * PAGE, 4 * L2_SIZE)),
        Outputs::one(L2_SIZE)
    );
    assert_eq!(fx.measured().len(), 2);
    // The next call continues at level 2, whole 2 MB entries.
    let l2 = fx.table(0, 2);
    let rd = fx.rd;
    fx.clear_measured();
    assert_eq!(
        fx.ok(init(&fx, L2_SIZE, 4 * L2_SIZE)),
        Outputs::one(4 * L2_SIZE)
    );
    assert_eq!(
        (fx.desc(l2, 1), fx.desc(l2, 3), fx.desc(l2, 4)),
        (0x20, 0x20, 0)
    );
    assert_eq!(
        fx.measured(),
        [
            ripas(rd, L2_SIZE, 2 * L2_SIZE),
            ripas(rd, 2 * L2_SIZE, 3 * L2_SIZE),
            ripas(rd, 3 * L2_SIZE, 4 * L2_SIZE),
        ]
    );
    // And at level 1 on 1 GB entries.
    fx.clear_measured();
    assert_eq!(
        fx.ok(init(&fx, 2 * L1_SIZE, 2 * L1_SIZE + L1_SIZE)),
        Outputs::one(3 * L1_SIZE)
    );
    assert_eq!(fx.desc(fx.roots, 2), 0x20);
    assert_eq!(fx.measured(), [ripas(rd, 2 * L1_SIZE, 3 * L1_SIZE)]);
}
