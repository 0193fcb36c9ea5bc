//! The service as a server: InitRoots, RootsUnused, message passing, the
//! register view of a completion, and what happens when a collaborator
//! misbehaves.
use super::*;

#[test]
fn init_roots_fills_protected_and_unprotected_halves() {
    let fx = Fx::new();
    assert!(fx.is_zero(fx.roots), "protected: UNASSIGNED, RIPAS EMPTY");
    assert!(fx.m.peek(fx.roots + PAGE).0.iter().all(|&d| d == s2tt::NS));

    // One level-0 table for IPA width 40: entry 0 protected, the rest not.
    let fx = Fx::with(40, 0, 1);
    let t = fx.m.peek(fx.roots);
    assert_eq!(t.0[0], 0);
    assert!(t.0[1..].iter().all(|&d| d == s2tt::NS));

    // Level 2, 4 tables, IPA width 32: tables 2 and 3 are unprotected.
    let fx = Fx::with(32, 2, 4);
    for i in 0..4 {
        let want = if i < 2 { 0 } else { s2tt::NS };
        assert!(fx.m.peek(fx.roots + i * PAGE).0.iter().all(|&d| d == want));
    }
}

#[test]
fn init_roots_refuses_bad_geometry() {
    let mut fx = Fx::new();
    let g = fx.delegate();
    for (count, level, s2sz) in [
        (1, -1, 40),
        (1, 4, 40),
        (0, 1, 32),
        (17, 1, 40),
        (1, 1, 40),
        (1, 2, 40),
        (1, 0, 31),
        (1, 0, 49),
    ] {
        assert_eq!(
            fx.svc.handle(RttRequest::InitRoots {
                rtt_base: g,
                count,
                level,
                s2sz
            }),
            RttReply::Failed,
            "{count} {level} {s2sz}"
        );
    }
    assert!(fx.is_zero(g));
    // Not a Realm-PAS granule: the lease fails.
    let ns = fx.undelegated();
    assert_eq!(
        fx.svc.handle(RttRequest::InitRoots {
            rtt_base: ns,
            count: 1,
            level: 0,
            s2sz: 40
        }),
        RttReply::Failed
    );
}

#[test]
fn roots_unused_follows_live_entries() {
    let mut fx = Fx::new();
    let unused = |fx: &mut Fx, base: u64, count: u8| {
        fx.svc.handle(RttRequest::RootsUnused {
            rtt_base: base,
            count,
            level: 1,
        })
    };
    let roots = fx.roots;
    assert_eq!(unused(&mut fx, roots, 2), RttReply::Unused(true));
    // A table in the second root makes the realm live.
    fx.create(UNPROT, 2);
    assert_eq!(unused(&mut fx, roots, 2), RttReply::Unused(false));
    assert_eq!(unused(&mut fx, roots, 1), RttReply::Unused(true));
    fx.ok(Command::RttDestroy {
        rd: fx.rd,
        ipa: UNPROT,
        level: 2,
    });
    assert_eq!(unused(&mut fx, roots, 2), RttReply::Unused(true));
    // NS mappings in a root do not (A5.5.8).
    fx.map_ns(UNPROT + L1_SIZE, 1, NS_PA | NS_ATTRS);
    assert_eq!(unused(&mut fx, roots, 2), RttReply::Unused(true));
    // Granules that are not RTTs are not unused starting tables.
    let delegated = fx.delegate();
    assert_eq!(unused(&mut fx, delegated, 1), RttReply::Unused(false));
    assert_eq!(unused(&mut fx, OUTSIDE, 1), RttReply::Unused(false));
}

#[test]
fn messages_round_trip_through_a_transport() {
    let mut fx = Fx::new();
    let rd = fx.rd;
    let rtt = fx.delegate();
    let mut ipc = Direct::new(&mut fx.svc, Passing::Encoded);
    let mut call = |r| Transport::<RttProtocol>::call(&mut ipc, r).unwrap();
    assert_eq!(
        call(RttRequest::Rmi(Command::RttCreate {
            rd,
            rtt,
            ipa: 0,
            level: 2
        })),
        RttReply::Regs(rampart_ipc::rmi::result_regs(Ok(Outputs::NONE)))
    );
    assert_eq!(
        call(RttRequest::Rmi(Command::RttCreate {
            rd,
            rtt,
            ipa: L1_SIZE,
            level: 3
        })),
        RttReply::Regs(rampart_ipc::rmi::result_regs(Err(RmiError::Input)))
    );
    assert_eq!(
        call(RttRequest::Rmi(Command::RttReadEntry {
            rd,
            ipa: 0,
            level: 1
        })),
        RttReply::Regs(rampart_ipc::rmi::result_regs(Ok(Outputs([
            1, RMI_TABLE, rtt, EMPTY
        ]))))
    );
    // Not an RTT command.
    for other in [
        Command::Version { requested: 1 << 16 },
        Command::GranuleDelegate { addr: rtt },
        Command::RealmActivate { rd },
    ] {
        assert_eq!(
            call(RttRequest::Rmi(other)),
            RttReply::Regs(rampart_ipc::rmi::result_regs(Err(RmiError::Input)))
        );
    }
    fx.assert_unlocked();
}

#[test]
fn completion_registers_carry_top_on_rtt_errors() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    let done = fx.cmd(Command::DataDestroy { rd: fx.rd, ipa: 0 });
    assert_eq!(done.regs(), [0x204, 0, UNPROT.min(L1_SIZE), 0, 0]);
    let done = fx.cmd(Command::RttUnmapUnprotected {
        rd: fx.rd,
        ipa: UNPROT,
        level: 3,
    });
    assert_eq!(done.regs(), [0x104, IPA_TOP, 0, 0, 0]);
    let done = fx.cmd(Command::RttReadEntry {
        rd: fx.rd,
        ipa: 0,
        level: 2,
    });
    assert_eq!(done.regs(), [0, 2, RMI_UNASSIGNED, 0, EMPTY]);
    let done = fx.cmd(Command::RttReadEntry {
        rd: fx.rd,
        ipa: 0,
        level: 9,
    });
    assert_eq!(done.regs(), [1, 0, 0, 0, 0]);
}

#[test]
fn a_realm_service_that_does_not_know_the_rd() {
    let mut fx = Fx::new();
    // An RD the granule service knows but the realm service does not.
    let stray = fx.delegate();
    fx.set_state(stray, GranuleState::Rd);
    let rtt = fx.delegate();
    fx.fail(
        Command::RttCreate {
            rd: stray,
            rtt,
            ipa: 0,
            level: 2,
        },
        RmiError::Input,
    );
    // Parameters the walk cannot trust are refused the same way.
    let rd = fx.rd;
    fx.realm
        .borrow_mut()
        .realms
        .get_mut(&rd)
        .unwrap()
        .rtt_num_start = 1;
    fx.fail(
        Command::RttReadEntry {
            rd,
            ipa: UNPROT,
            level: 1,
        },
        RmiError::Input,
    );
}

#[test]
fn realms_are_isolated() {
    let mut fx = Fx::new();
    let (rd2, roots2) = fx.new_realm(40, 1, 2);
    let l2 = fx.create(0, 2);
    // The other realm's tables are untouched, and its own walk is its own.
    assert!(fx.is_zero(roots2));
    assert_eq!(
        fx.ok(Command::RttReadEntry {
            rd: rd2,
            ipa: 0,
            level: 1
        }),
        Outputs([1, RMI_UNASSIGNED, 0, EMPTY])
    );
    // A table of one realm is not a free granule for the other.
    fx.fail(
        Command::RttCreate {
            rd: rd2,
            rtt: l2,
            ipa: 0,
            level: 2,
        },
        RmiError::Input,
    );
    // One realm's RD is not a DATA granule or source for the other.
    let src = fx.ns_page(1);
    fx.fail(
        Command::DataCreate {
            rd: rd2,
            data: fx.rd,
            ipa: 0,
            src,
            flags: 0,
        },
        RmiError::Input,
    );
    // TLBIs carry the realm's VMID.
    let l2b = fx.delegate();
    fx.ok(Command::RttCreate {
        rd: rd2,
        rtt: l2b,
        ipa: 0,
        level: 2,
    });
    fx.ok(Command::RttDestroy {
        rd: rd2,
        ipa: 0,
        level: 2,
    });
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID + 1,
            ipa: 0,
            level: 1
        }]
    );
}
