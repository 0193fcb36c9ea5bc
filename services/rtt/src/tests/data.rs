//! RMI_DATA_CREATE (B4.3.1), RMI_DATA_CREATE_UNKNOWN (B4.3.2) and
//! RMI_DATA_DESTROY (B4.3.3).
use super::*;

/// A realm with a level-3 RTT at 0; plus a source and a data granule.
struct Setup {
    fx: Fx,
    src: u64,
    data: u64,
}

fn setup() -> Setup {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(0, 3);
    let src = fx.ns_page(0x33);
    let data = fx.delegate();
    Setup { fx, src, data }
}

fn create(s: &Setup, ipa: u64) -> Command {
    Command::DataCreate {
        rd: s.fx.rd,
        data: s.data,
        ipa,
        src: s.src,
        flags: 1,
    }
}

fn unknown(s: &Setup, ipa: u64) -> Command {
    Command::DataCreateUnknown {
        rd: s.fx.rd,
        data: s.data,
        ipa,
    }
}

fn destroy(fx: &Fx, ipa: u64) -> Command {
    Command::DataDestroy { rd: fx.rd, ipa }
}

/// Runs `f` on the DATA_CREATE and the DATA_CREATE_UNKNOWN form of a
/// command.
fn both(s: &mut Setup, ipa: u64, error: RmiError) {
    let c = create(s, ipa);
    s.fx.fail(c, error);
    let u = unknown(s, ipa);
    s.fx.fail(u, error);
}

// ---- DATA_CREATE(_UNKNOWN): failure conditions -----------------------------

#[test]
fn flags_sbz() {
    let mut s = setup();
    for flags in [2, 3, 1 << 63] {
        let c = Args { flags, ..args(&s) }.cmd();
        s.fx.fail(c, RmiError::Input);
    }
}

#[test]
fn src_align_bound_state_pas() {
    let mut s = setup();
    let delegated = s.fx.delegate();
    let realm_pas = s.fx.undelegated();
    s.fx.m.set_realm(realm_pas);
    for src in [
        s.src + 8,
        s.src + 0x800,
        OUTSIDE,
        RMM.base,
        delegated,
        s.fx.rd,
        s.fx.roots,
        realm_pas,
    ] {
        let c = Args { src, ..args(&s) }.cmd();
        s.fx.fail(c, RmiError::Input);
    }
    // src_pas outranks realm_state and rtt_walk.
    s.fx.set_realm_state(RealmState::Active);
    let c = Args {
        src: realm_pas,
        ipa: L2_SIZE,
        ..args(&s)
    }
    .cmd();
    s.fx.fail(c, RmiError::Input);
}

#[test]
fn data_align_bound_state() {
    let mut s = setup();
    let undelegated = s.fx.undelegated();
    let l3 = s.fx.table(0, 3);
    let existing = s.fx.data(7 * PAGE);
    for data in [
        s.data + 8,
        s.data + 0x800,
        OUTSIDE,
        RMM.base,
        undelegated,
        s.fx.rd,
        s.fx.roots,
        s.fx.table(0, 2),
        l3,
        existing,
    ] {
        let c = Args { data, ..args(&s) }.cmd();
        s.fx.fail(c, RmiError::Input);
        let u = Command::DataCreateUnknown {
            rd: s.fx.rd,
            data,
            ipa: 0,
        };
        s.fx.fail(u, RmiError::Input);
    }
    // data_state outranks realm_state, rtt_walk and rtte_state.
    s.fx.set_realm_state(RealmState::Active);
    for ipa in [7 * PAGE, L2_SIZE] {
        let c = Args {
            data: l3,
            ipa,
            ..args(&s)
        }
        .cmd();
        s.fx.fail(c, RmiError::Input);
    }
}

#[test]
fn rd_align_bound_state() {
    let mut s = setup();
    for (rd, _) in s.fx.bad_rds() {
        let c = Args { rd, ..args(&s) }.cmd();
        s.fx.fail(c, RmiError::Input);
        let u = Command::DataCreateUnknown {
            rd,
            data: s.data,
            ipa: 0,
        };
        s.fx.fail(u, RmiError::Input);
    }
    // data == rd: the RD is not DELEGATED.
    let c = Args {
        data: s.fx.rd,
        ..args(&s)
    }
    .cmd();
    s.fx.fail(c, RmiError::Input);
}

#[test]
fn ipa_align_and_bound() {
    let mut s = setup();
    for ipa in [0x800, PAGE + 8, UNPROT, UNPROT + PAGE, IPA_TOP, 1 << 63] {
        both(&mut s, ipa, RmiError::Input);
    }
    // An Unprotected IPA with a level-3 RTT, mapped or not: still INPUT.
    s.fx.create(UNPROT, 2);
    s.fx.create(UNPROT, 3);
    both(&mut s, UNPROT, RmiError::Input);
    s.fx.map_ns(UNPROT, 3, NS_PA | NS_ATTRS);
    both(&mut s, UNPROT, RmiError::Input);
    // ipa_bound outranks realm_state.
    s.fx.set_realm_state(RealmState::Active);
    let c = create(&s, UNPROT);
    s.fx.fail(c, RmiError::Input);
}

#[test]
fn realm_state() {
    let mut s = setup();
    for state in [RealmState::Active, RealmState::SystemOff] {
        s.fx.set_realm_state(state);
        let c = create(&s, 0);
        s.fx.fail(c, RmiError::Realm(0));
        // realm_state outranks rtt_walk and rtte_state.
        let c = create(&s, L1_SIZE);
        s.fx.fail(c, RmiError::Realm(0));
    }
    // DATA_CREATE_UNKNOWN has no realm_state condition.
    let u = unknown(&s, 0);
    s.fx.ok(u);
}

#[test]
fn rtt_walk() {
    let mut s = setup();
    // No level-2 RTT at 1 GB; no level-3 RTT at 2 MB.
    both(&mut s, L1_SIZE, RmiError::Rtt(1));
    both(&mut s, L2_SIZE + PAGE, RmiError::Rtt(2));
}

#[test]
fn rtte_state() {
    let mut s = setup();
    s.fx.data(4 * PAGE);
    both(&mut s, 4 * PAGE, RmiError::Rtt(3));
    s.fx.data_unknown(5 * PAGE);
    both(&mut s, 5 * PAGE, RmiError::Rtt(3));
    // Inside an ASSIGNED block the walk stops at level 2.
    s.fx.create(2 * L2_SIZE, 3);
    s.fx.fill(2 * L2_SIZE, false);
    s.fx.ok(Command::RttFold {
        rd: s.fx.rd,
        ipa: 2 * L2_SIZE,
        level: 3,
    });
    both(&mut s, 2 * L2_SIZE + PAGE, RmiError::Rtt(2));
}

#[test]
fn measurement_refused_changes_nothing() {
    let mut s = setup();
    s.fx.realm.borrow_mut().refuse_measure = true;
    let c = create(&s, 0);
    s.fx.fail(c, RmiError::Input);
    assert!(s.fx.is_zero(s.data));
}

/// DATA_CREATE's arguments, to vary one at a time.
struct Args {
    rd: u64,
    data: u64,
    ipa: u64,
    src: u64,
    flags: u64,
}

impl Args {
    fn cmd(&self) -> Command {
        Command::DataCreate {
            rd: self.rd,
            data: self.data,
            ipa: self.ipa,
            src: self.src,
            flags: self.flags,
        }
    }
}

fn args(s: &Setup) -> Args {
    Args {
        rd: s.fx.rd,
        data: s.data,
        ipa: 0,
        src: s.src,
        flags: 1,
    }
}

// ---- DATA_CREATE: success --------------------------------------------------

#[test]
fn create_copies_measures_and_maps() {
    let mut s = setup();
    let l3 = s.fx.table(0, 3);
    let rd = s.fx.rd;
    let ipa = 9 * PAGE;
    let c = create(&s, ipa);
    assert_eq!(s.fx.ok(c), Outputs::NONE);
    assert_eq!(s.fx.query(s.data), (GranuleState::Data, 0));
    assert_eq!(
        s.fx.m.peek(s.data).0,
        s.fx.m.peek(s.src).0,
        "content copied"
    );
    assert!(!s.fx.is_zero(s.data));
    assert_eq!(s.fx.desc(l3, 9), s.data | 0x7db);
    assert_eq!(s.fx.read(ipa, 3), [3, RMI_ASSIGNED, s.data, RAM]);
    assert_eq!(s.fx.refcount(l3), 1);
    assert_eq!(
        s.fx.measured(),
        [RealmRequest::MeasureData {
            rd,
            data: s.data,
            ipa,
            measure_content: true
        }]
    );
    assert!(s.fx.tlbis().is_empty());
    // The source is untouched and still NS.
    assert_eq!(s.fx.query(s.src), (GranuleState::Undelegated, 0));
}

#[test]
fn create_without_content_measure_and_over_any_ripas() {
    let mut s = setup();
    let l3 = s.fx.table(0, 3);
    let rd = s.fx.rd;
    // RIPAS DESTROYED at page 1, RAM at page 2, EMPTY at page 3.
    s.fx.data(PAGE);
    s.fx.ok(destroy(&s.fx, PAGE));
    s.fx.ok(Command::RttInitRipas {
        rd,
        base: 2 * PAGE,
        top: 3 * PAGE,
    });
    s.fx.clear_measured();
    for ipa in [PAGE, 2 * PAGE, 3 * PAGE] {
        let data = s.fx.delegate();
        let c = Command::DataCreate {
            rd,
            data,
            ipa,
            src: s.src,
            flags: 0,
        };
        s.fx.ok(c);
        assert_eq!(s.fx.read(ipa, 3), [3, RMI_ASSIGNED, data, RAM]);
        assert_eq!(
            s.fx.measured().pop(),
            Some(RealmRequest::MeasureData {
                rd,
                data,
                ipa,
                measure_content: false
            })
        );
    }
    assert_eq!(s.fx.refcount(l3), 3);
}

// ---- DATA_CREATE_UNKNOWN: success --------------------------------------------

#[test]
fn unknown_keeps_ripas_and_measures_nothing() {
    let mut s = setup();
    let l3 = s.fx.table(0, 3);
    let rd = s.fx.rd;
    s.fx.data(PAGE);
    s.fx.ok(destroy(&s.fx, PAGE));
    s.fx.ok(Command::RttInitRipas {
        rd,
        base: 2 * PAGE,
        top: 3 * PAGE,
    });
    s.fx.clear_measured();
    s.fx.clear_tlbis();
    // A realm that is already running may get memory this way.
    s.fx.set_realm_state(RealmState::Active);
    for (ipa, ripas, desc_bits) in [
        (PAGE, DESTROYED, 0x44),
        (2 * PAGE, RAM, 0x7db),
        (3 * PAGE, EMPTY, 0x04),
    ] {
        let data = s.fx.delegate();
        s.fx.ok(Command::DataCreateUnknown { rd, data, ipa });
        assert_eq!(s.fx.read(ipa, 3), [3, RMI_ASSIGNED, data, ripas]);
        assert_eq!(s.fx.desc(l3, (ipa / PAGE) as usize), data | desc_bits);
        assert_eq!(s.fx.query(data), (GranuleState::Data, 0));
        assert!(s.fx.is_zero(data), "wiped");
    }
    assert!(s.fx.measured().is_empty());
    assert_eq!(s.fx.refcount(l3), 3);
    assert!(s.fx.tlbis().is_empty());
}

// ---- DATA_DESTROY: failure conditions ----------------------------------------

#[test]
fn destroy_rd_align_bound_state() {
    let mut s = setup();
    s.fx.data(0);
    for (rd, _) in s.fx.bad_rds() {
        let out =
            s.fx.fail(Command::DataDestroy { rd, ipa: 0 }, RmiError::Input);
        assert_eq!(out, Outputs::NONE);
    }
}

#[test]
fn destroy_ipa_align_and_bound() {
    let mut s = setup();
    s.fx.data(0);
    s.fx.create(UNPROT, 2);
    s.fx.create(UNPROT, 3);
    s.fx.map_ns(UNPROT, 3, NS_PA | NS_ATTRS);
    for ipa in [0x800, 8, UNPROT, IPA_TOP, !0xfff_u64] {
        let out = s.fx.fail(destroy(&s.fx, ipa), RmiError::Input);
        assert_eq!(out, Outputs::NONE, "{ipa:#x}");
    }
}

#[test]
fn destroy_rtt_walk() {
    let mut s = setup();
    s.fx.create(5 * L2_SIZE, 3);
    // No level-3 RTT at 2 MB: (RTT, 2), top = the next live entry.
    let out = s.fx.fail(destroy(&s.fx, L2_SIZE + PAGE), RmiError::Rtt(2));
    assert_eq!(out, top2(5 * L2_SIZE));
    // No level-2 RTT at 1 GB: (RTT, 1), top = end of the root.
    let out = s.fx.fail(destroy(&s.fx, L1_SIZE), RmiError::Rtt(1));
    assert_eq!(out, top2(UNPROT));
    // Mapped as a block: (RTT, 2), top == ipa.
    s.fx.create(2 * L2_SIZE, 3);
    s.fx.fill(2 * L2_SIZE, true);
    s.fx.ok(Command::RttFold {
        rd: s.fx.rd,
        ipa: 2 * L2_SIZE,
        level: 3,
    });
    let out =
        s.fx.fail(destroy(&s.fx, 2 * L2_SIZE + 3 * PAGE), RmiError::Rtt(2));
    assert_eq!(out, top2(2 * L2_SIZE + 3 * PAGE));
}

#[test]
fn destroy_rtte_state() {
    let mut s = setup();
    s.fx.data(6 * PAGE);
    let out = s.fx.fail(destroy(&s.fx, 2 * PAGE), RmiError::Rtt(3));
    assert_eq!(out, top2(6 * PAGE));
    let out = s.fx.fail(destroy(&s.fx, 7 * PAGE), RmiError::Rtt(3));
    assert_eq!(out, top2(L2_SIZE));
}

// ---- DATA_DESTROY: success ---------------------------------------------------

#[test]
fn destroy_each_ripas() {
    let mut s = setup();
    let l3 = s.fx.table(0, 3);
    let ram = s.fx.data(PAGE);
    let empty = s.fx.data_unknown(2 * PAGE);
    s.fx.data(3 * PAGE);
    s.fx.ok(destroy(&s.fx, 3 * PAGE));
    let destroyed = s.fx.data_unknown(3 * PAGE);
    s.fx.data(9 * PAGE);
    s.fx.m.poke(empty, 0, b"realm wrote this");
    s.fx.clear_tlbis();
    s.fx.clear_measured();
    assert_eq!(s.fx.refcount(l3), 4);

    // RAM -> UNASSIGNED, DESTROYED; the mapping leaves the TLBs.
    s.fx.set_realm_state(RealmState::Active);
    assert_eq!(s.fx.ok(destroy(&s.fx, PAGE)), Outputs::two(ram, 2 * PAGE));
    assert_eq!(s.fx.read(PAGE, 3), [3, RMI_UNASSIGNED, 0, DESTROYED]);
    assert_eq!(s.fx.desc(l3, 1), 0x40);
    assert_eq!(s.fx.query(ram), (GranuleState::Delegated, 0));
    assert!(s.fx.is_zero(ram));
    assert_eq!(
        s.fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID,
            ipa: PAGE,
            level: 3
        }]
    );
    s.fx.clear_tlbis();
    // EMPTY stays EMPTY; the content is scrubbed; no valid mapping, no TLBI.
    assert_eq!(
        s.fx.ok(destroy(&s.fx, 2 * PAGE)),
        Outputs::two(empty, 3 * PAGE)
    );
    assert_eq!(s.fx.read(2 * PAGE, 3), [3, RMI_UNASSIGNED, 0, EMPTY]);
    assert_eq!(s.fx.desc(l3, 2), 0);
    assert!(s.fx.is_zero(empty));
    // DESTROYED stays DESTROYED.
    assert_eq!(
        s.fx.ok(destroy(&s.fx, 3 * PAGE)),
        Outputs::two(destroyed, 9 * PAGE)
    );
    assert_eq!(s.fx.read(3 * PAGE, 3), [3, RMI_UNASSIGNED, 0, DESTROYED]);
    assert!(s.fx.tlbis().is_empty());
    // The last one: top is the end of the level-3 RTT.
    let out = s.fx.ok(destroy(&s.fx, 9 * PAGE));
    assert_eq!(out.0[1], L2_SIZE);
    assert_eq!(s.fx.refcount(l3), 0);
    assert!(s.fx.measured().is_empty());
}
