//! A realm's memory from first table to last: IPA width 40, starting
//! level 1 with two concatenated tables.
use super::*;

fn unused(fx: &mut Fx) -> bool {
    let roots = fx.roots;
    match fx.svc.handle(RttRequest::RootsUnused {
        rtt_base: roots,
        count: 2,
        level: 1,
    }) {
        RttReply::Unused(unused) => unused,
        other => panic!("{other:?}"),
    }
}

#[test]
fn build_fold_unfold_and_tear_down() {
    let mut fx = Fx::new();
    let rd = fx.rd;
    let (root0, root1) = (fx.roots, fx.roots + PAGE);
    assert!(unused(&mut fx));

    // Protected: level-2 and level-3 RTTs at 0, RIPAS RAM, 512 pages.
    let l2 = fx.create(0, 2);
    let l3 = fx.create(0, 3);
    assert!(!unused(&mut fx));
    assert_eq!(
        fx.ok(Command::RttInitRipas {
            rd,
            base: 0,
            top: L2_SIZE
        }),
        Outputs::one(L2_SIZE)
    );
    assert_eq!(fx.measured().len(), 512);
    fx.clear_measured();
    let base = fx.delegate_run(512, L2_SIZE);
    let src = fx.ns_page(0x77);
    for i in 0..512u64 {
        let command = Command::DataCreate {
            rd,
            data: base + i * PAGE,
            ipa: i * PAGE,
            src,
            flags: i % 2,
        };
        assert_eq!(fx.svc.command(command).result, Ok(Outputs::NONE));
    }
    fx.assert_unlocked();
    let measured = fx.measured();
    assert_eq!(measured.len(), 512);
    assert_eq!(
        measured[7],
        RealmRequest::MeasureData {
            rd,
            data: base + 7 * PAGE,
            ipa: 7 * PAGE,
            measure_content: true
        }
    );
    assert_eq!(fx.refcount(l3), 512);
    assert_eq!(fx.refcount(l2), 1);
    assert_eq!(fx.refcount(root0), 1);
    assert_eq!(
        fx.read(100 * PAGE, 3),
        [3, RMI_ASSIGNED, base + 100 * PAGE, RAM]
    );
    assert_eq!(fx.m.peek(base + 100 * PAGE).0, fx.m.peek(src).0);

    // Unprotected: a page and a 2 MB block of NS memory.
    let ul2 = fx.create(UNPROT, 2);
    let ul3 = fx.create(UNPROT, 3);
    fx.map_ns(UNPROT + PAGE, 3, NS_PA | NS_ATTRS);
    fx.map_ns(UNPROT + L2_SIZE, 2, (NS_PA + L2_SIZE) | NS_ATTRS);
    assert_eq!(
        fx.read(UNPROT + PAGE, 3),
        [3, RMI_ASSIGNED, NS_PA | NS_ATTRS, EMPTY]
    );
    assert_eq!(
        fx.read(UNPROT + L2_SIZE, 2),
        [2, RMI_ASSIGNED, (NS_PA + L2_SIZE) | NS_ATTRS, EMPTY]
    );
    assert_eq!(fx.read(UNPROT, 1), [1, RMI_TABLE, ul2, EMPTY]);
    assert_eq!(fx.refcount(root1), 1);
    assert_eq!(fx.refcount(ul2), 1);
    assert_eq!(fx.refcount(ul3), 0);

    // Fold the 512 pages into one 2 MB block.
    fx.clear_tlbis();
    assert_eq!(
        fx.ok(Command::RttFold {
            rd,
            ipa: 0,
            level: 3
        }),
        Outputs::one(l3)
    );
    assert_eq!(fx.read(0, 2), [2, RMI_ASSIGNED, base, RAM]);
    assert_eq!(fx.read(5 * PAGE, 3), [2, RMI_ASSIGNED, base, RAM]);
    assert_eq!(fx.desc(l2, 0), base | 0x7d9);
    assert_eq!(fx.query(l3), (GranuleState::Delegated, 0));
    assert!(fx.is_zero(l3));
    assert_eq!(fx.refcount(l2), 1);
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Block {
            vmid: VMID,
            ipa: 0,
            size: L2_SIZE
        }]
    );
    // The block's pages cannot be destroyed one by one.
    assert_eq!(
        fx.fail(Command::DataDestroy { rd, ipa: 0 }, RmiError::Rtt(2)),
        top2(0)
    );

    // Tear down, in reverse.
    assert_eq!(
        fx.ok(Command::RttUnmapUnprotected {
            rd,
            ipa: UNPROT + L2_SIZE,
            level: 2
        }),
        Outputs::one(UNPROT + L1_SIZE)
    );
    assert_eq!(
        fx.ok(Command::RttUnmapUnprotected {
            rd,
            ipa: UNPROT + PAGE,
            level: 3
        }),
        Outputs::one(UNPROT + L2_SIZE)
    );
    assert_eq!(
        fx.ok(Command::RttDestroy {
            rd,
            ipa: UNPROT,
            level: 3
        }),
        Outputs::two(ul3, UNPROT + L1_SIZE)
    );
    assert_eq!(
        fx.ok(Command::RttDestroy {
            rd,
            ipa: UNPROT,
            level: 2
        }),
        Outputs::two(ul2, IPA_TOP)
    );
    // Unfold the block to destroy its pages.
    fx.clear_tlbis();
    let again = fx.create(0, 3);
    assert_eq!(fx.refcount(again), 512);
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID,
            ipa: 0,
            level: 2
        }]
    );
    for i in (0..512u64).rev() {
        let done = fx.svc.command(Command::DataDestroy { rd, ipa: i * PAGE });
        // Nothing live after the page: top is the end of the RTT.
        assert_eq!(
            done.result,
            Ok(Outputs::two(base + i * PAGE, L2_SIZE)),
            "{i}"
        );
    }
    fx.assert_unlocked();
    assert_eq!(fx.refcount(again), 0);
    assert_eq!(fx.read(0, 3), [3, RMI_UNASSIGNED, 0, DESTROYED]);
    assert_eq!(
        fx.ok(Command::RttDestroy {
            rd,
            ipa: 0,
            level: 3
        }),
        Outputs::two(again, L1_SIZE)
    );
    assert_eq!(
        fx.ok(Command::RttDestroy {
            rd,
            ipa: 0,
            level: 2
        }),
        Outputs::two(l2, UNPROT)
    );

    // Every granule is DELEGATED and zero again; the realm may go.
    assert!(unused(&mut fx));
    for g in [l2, l3, again, ul2, ul3] {
        assert_eq!(fx.query(g), (GranuleState::Delegated, 0), "{g:#x}");
        assert!(fx.is_zero(g), "{g:#x}");
    }
    for i in 0..512 {
        let g = base + i * PAGE;
        assert_eq!(fx.query(g), (GranuleState::Delegated, 0), "{g:#x}");
        assert!(fx.is_zero(g), "{g:#x}");
    }
    assert_eq!(fx.query(root0), (GranuleState::Rtt, 0));
    assert_eq!(fx.query(root1), (GranuleState::Rtt, 0));
    assert_eq!(fx.desc(root0, 0), 0x40);
    assert!(fx.m.peek(root1).0.iter().all(|&d| d == s2tt::NS));
    assert_eq!(fx.read(0, 1), [1, RMI_UNASSIGNED, 0, DESTROYED]);
}
