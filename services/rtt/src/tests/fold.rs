//! RMI_RTT_FOLD (B4.3.17; A5.5.6).
use super::*;

fn fold(fx: &Fx, ipa: u64, level: u64) -> Command {
    Command::RttFold {
        rd: fx.rd,
        ipa,
        level,
    }
}

/// Maps 512 NS pages at `ipa` (a level-3 RTT must exist), page `i` to
/// `pa + i * 4K` with `attrs(i)`.
fn map_ns_pages(fx: &mut Fx, ipa: u64, pa: u64, attrs: impl Fn(u64) -> u64) {
    for i in 0..512 {
        let command = Command::RttMapUnprotected {
            rd: fx.rd,
            ipa: ipa + i * PAGE,
            level: 3,
            desc: (pa + i * PAGE) | attrs(i),
        };
        assert_eq!(fx.svc.command(command).result, Ok(Outputs::NONE));
    }
    fx.assert_unlocked();
}

// ---- failure conditions ----------------------------------------------------

#[test]
fn rd_align_bound_state() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(0, 3);
    for (rd, _) in fx.bad_rds() {
        fx.fail(
            Command::RttFold {
                rd,
                ipa: 0,
                level: 3,
            },
            RmiError::Input,
        );
    }
}

#[test]
fn level_bound() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    for level in [0, 1, 4, u64::MAX] {
        fx.fail(fold(&fx, 0, level), RmiError::Input);
    }
}

#[test]
fn ipa_align_and_bound() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(0, 3);
    fx.fail(fold(&fx, PAGE, 3), RmiError::Input);
    fx.fail(fold(&fx, L2_SIZE, 2), RmiError::Input);
    fx.fail(fold(&fx, IPA_TOP, 2), RmiError::Input);
    fx.fail(fold(&fx, IPA_TOP, 3), RmiError::Input);
}

#[test]
fn rtt_walk() {
    let mut fx = Fx::new();
    fx.fail(fold(&fx, 0, 3), RmiError::Rtt(1));
    fx.fail(fold(&fx, UNPROT, 3), RmiError::Rtt(1));
}

#[test]
fn rtte_state() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    // The parent entry is UNASSIGNED.
    fx.fail(fold(&fx, L2_SIZE, 3), RmiError::Rtt(2));
    // The parent entry is an ASSIGNED_NS block.
    fx.create(UNPROT, 2);
    fx.map_ns(UNPROT, 2, NS_PA | NS_ATTRS);
    fx.fail(fold(&fx, UNPROT, 3), RmiError::Rtt(2));
    // The level-1 entry is UNASSIGNED: folding a level-2 RTT there.
    fx.fail(fold(&fx, L1_SIZE, 2), RmiError::Rtt(1));
}

#[test]
fn rtt_homo_mixed_ripas() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(0, 3);
    fx.ok(Command::RttInitRipas {
        rd: fx.rd,
        base: 0,
        top: PAGE,
    });
    fx.fail(fold(&fx, 0, 3), RmiError::Rtt(3));
}

#[test]
fn rtt_homo_partly_assigned() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(0, 3);
    fx.data(5 * PAGE);
    fx.fail(fold(&fx, 0, 3), RmiError::Rtt(3));
    // A level-2 RTT holding a TABLE entry.
    fx.fail(fold(&fx, 0, 2), RmiError::Rtt(2));
}

#[test]
fn rtt_homo_assigned_mixed_ripas() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(0, 3);
    let base = fx.fill(0, true);
    // Page 5 back as ASSIGNED, RIPAS DESTROYED: same PA, other RIPAS.
    fx.ok(Command::DataDestroy {
        rd: fx.rd,
        ipa: 5 * PAGE,
    });
    fx.ok(Command::DataCreateUnknown {
        rd: fx.rd,
        data: base + 5 * PAGE,
        ipa: 5 * PAGE,
    });
    assert_eq!(
        fx.read(5 * PAGE, 3),
        [3, RMI_ASSIGNED, base + 5 * PAGE, DESTROYED]
    );
    fx.fail(fold(&fx, 0, 3), RmiError::Rtt(3));
}

#[test]
fn rtt_homo_assigned_not_contiguous() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(0, 3);
    fx.fill(0, false);
    fx.ok(Command::DataDestroy {
        rd: fx.rd,
        ipa: 5 * PAGE,
    });
    fx.data_unknown(5 * PAGE);
    fx.fail(fold(&fx, 0, 3), RmiError::Rtt(3));
}

#[test]
fn rtt_homo_assigned_not_aligned() {
    let mut fx = Fx::new();
    fx.create(0, 2);
    fx.create(0, 3);
    let run = fx.delegate_run(513, L2_SIZE);
    fx.fill_with(0, run + PAGE, false);
    fx.fail(fold(&fx, 0, 3), RmiError::Rtt(3));
}

#[test]
fn rtt_homo_ns_attributes_differ() {
    let mut fx = Fx::new();
    fx.create(UNPROT, 2);
    fx.create(UNPROT, 3);
    map_ns_pages(&mut fx, UNPROT, NS_PA, |i| {
        if i == 300 { 0b001 << 2 } else { NS_ATTRS }
    });
    fx.fail(fold(&fx, UNPROT, 3), RmiError::Rtt(3));
}

#[test]
fn rtt_homo_ns_not_aligned_or_mixed() {
    let mut fx = Fx::new();
    fx.create(UNPROT, 2);
    fx.create(UNPROT, 3);
    map_ns_pages(&mut fx, UNPROT, NS_PA + PAGE, |_| NS_ATTRS);
    fx.fail(fold(&fx, UNPROT, 3), RmiError::Rtt(3));
    // One entry UNASSIGNED_NS among ASSIGNED_NS.
    fx.ok(Command::RttUnmapUnprotected {
        rd: fx.rd,
        ipa: UNPROT + 7 * PAGE,
        level: 3,
    });
    fx.fail(fold(&fx, UNPROT, 3), RmiError::Rtt(3));
}

#[test]
fn rtt_homo_no_level_zero_blocks() {
    // Starting level 0: a level-1 RTT full of contiguous 1 GB NS blocks
    // would fold into a 512 GB block, which does not exist. The spec's
    // rtt_homo (level 1 is not 2 or 3) gives (RTT, 1); TF-RMM rel0 says
    // (RTT, 0).
    let mut fx = Fx::with(40, 0, 1);
    fx.create(UNPROT, 1);
    for i in 0..512 {
        let command = Command::RttMapUnprotected {
            rd: fx.rd,
            ipa: UNPROT + i * L1_SIZE,
            level: 1,
            desc: (i * L1_SIZE) | NS_ATTRS,
        };
        assert_eq!(fx.svc.command(command).result, Ok(Outputs::NONE));
    }
    fx.fail(fold(&fx, UNPROT, 1), RmiError::Rtt(1));
}

// ---- success ---------------------------------------------------------------

#[test]
fn unassigned_empty_ram_destroyed() {
    let mut fx = Fx::new();
    let l2 = fx.create(0, 2);
    let l3 = fx.create(0, 3);
    assert_eq!(fx.refcount(l2), 1);
    assert_eq!(fx.ok(fold(&fx, 0, 3)), Outputs::one(l3));
    assert_eq!(fx.desc(l2, 0), 0);
    assert_eq!(fx.refcount(l2), 0);
    assert_eq!(fx.query(l3), (GranuleState::Delegated, 0));
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID,
            ipa: 0,
            level: 2
        }]
    );

    let l3 = fx.create(L2_SIZE, 3);
    fx.ok(Command::RttInitRipas {
        rd: fx.rd,
        base: L2_SIZE,
        top: 2 * L2_SIZE,
    });
    assert_eq!(fx.ok(fold(&fx, L2_SIZE, 3)), Outputs::one(l3));
    assert_eq!(fx.desc(l2, 1), 0x20);
    assert_eq!(fx.read(L2_SIZE, 2), [2, RMI_UNASSIGNED, 0, RAM]);
    assert!(fx.is_zero(l3));

    // Destroyed RTT, then a new one under the DESTROYED entry, folded back.
    fx.create(2 * L2_SIZE, 3);
    fx.ok(Command::RttDestroy {
        rd: fx.rd,
        ipa: 2 * L2_SIZE,
        level: 3,
    });
    let l3 = fx.create(2 * L2_SIZE, 3);
    assert_eq!(fx.ok(fold(&fx, 2 * L2_SIZE, 3)), Outputs::one(l3));
    assert_eq!(fx.desc(l2, 2), 0x40);
    assert_eq!(fx.refcount(l2), 0);

    // And the level-2 RTT, all UNASSIGNED but with mixed RIPAS, does not.
    fx.fail(fold(&fx, 0, 2), RmiError::Rtt(2));
}

#[test]
fn unassigned_ns() {
    let mut fx = Fx::new();
    let root1 = fx.roots + PAGE;
    let l2 = fx.create(UNPROT + 3 * L1_SIZE, 2);
    assert_eq!(fx.refcount(root1), 1);
    assert_eq!(fx.ok(fold(&fx, UNPROT + 3 * L1_SIZE, 2)), Outputs::one(l2));
    assert_eq!(fx.desc(root1, 3), s2tt::NS);
    assert_eq!(fx.refcount(root1), 0);
    assert_eq!(fx.query(l2), (GranuleState::Delegated, 0));
    assert!(fx.is_zero(l2));
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID,
            ipa: UNPROT + 3 * L1_SIZE,
            level: 1
        }]
    );
}

#[test]
fn assigned_ns_block() {
    let mut fx = Fx::new();
    let l2 = fx.create(UNPROT, 2);
    let l3 = fx.create(UNPROT + 4 * L2_SIZE, 3);
    let pa = NS_PA + 8 * L2_SIZE;
    let attrs = s2tt::MEMATTR_FWB_WB | (0b01 << 6);
    map_ns_pages(&mut fx, UNPROT + 4 * L2_SIZE, pa, |_| attrs);
    assert_eq!(fx.refcount(l3), 0);
    assert_eq!(fx.refcount(l2), 1);
    fx.clear_tlbis();
    assert_eq!(fx.ok(fold(&fx, UNPROT + 4 * L2_SIZE, 3)), Outputs::one(l3));
    assert_eq!(
        fx.desc(l2, 4),
        pa | attrs | s2tt::SH_IS | s2tt::AF | s2tt::XN_NEVER | s2tt::NS | 0b01
    );
    assert_eq!(fx.refcount(l2), 0);
    assert_eq!(fx.query(l3), (GranuleState::Delegated, 0));
    assert!(fx.is_zero(l3));
    assert_eq!(
        fx.read(UNPROT + 4 * L2_SIZE, 2),
        [2, RMI_ASSIGNED, pa | attrs, EMPTY]
    );
    // Valid pages became a valid block: the whole range leaves the TLBs.
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Block {
            vmid: VMID,
            ipa: UNPROT + 4 * L2_SIZE,
            size: L2_SIZE
        }]
    );
}

#[test]
fn assigned_empty_and_destroyed_blocks() {
    let mut fx = Fx::new();
    let l2 = fx.create(0, 2);
    let l3 = fx.create(0, 3);
    let base = fx.fill(0, false);
    assert_eq!(fx.refcount(l3), 512);
    fx.clear_tlbis();
    assert_eq!(fx.ok(fold(&fx, 0, 3)), Outputs::one(l3));
    assert_eq!(fx.desc(l2, 0), base | 0x04);
    assert_eq!(fx.refcount(l2), 1);
    assert_eq!(fx.query(l3), (GranuleState::Delegated, 0));
    assert_eq!(fx.read(0, 2), [2, RMI_ASSIGNED, base, EMPTY]);
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Ipa {
            vmid: VMID,
            ipa: 0,
            level: 2
        }]
    );
    for i in 0..512 {
        assert_eq!(fx.query(base + i * PAGE), (GranuleState::Data, 0));
    }

    // RIPAS DESTROYED: RAM pages destroyed and re-created unknown.
    let l3 = fx.create(L2_SIZE, 3);
    let base = fx.fill(L2_SIZE, true);
    for i in 0..512 {
        let ipa = L2_SIZE + i * PAGE;
        let rd = fx.rd;
        assert!(
            fx.svc
                .command(Command::DataDestroy { rd, ipa })
                .result
                .is_ok()
        );
        let data = base + i * PAGE;
        let create = Command::DataCreateUnknown { rd, data, ipa };
        assert!(fx.svc.command(create).result.is_ok());
    }
    assert_eq!(fx.ok(fold(&fx, L2_SIZE, 3)), Outputs::one(l3));
    assert_eq!(fx.desc(l2, 1), base | 0x44);
    assert_eq!(fx.read(L2_SIZE, 2), [2, RMI_ASSIGNED, base, DESTROYED]);
}

#[test]
fn assigned_ram_block() {
    let mut fx = Fx::new();
    let l2 = fx.create(0, 2);
    let l3 = fx.create(4 * L2_SIZE, 3);
    let base = fx.fill(4 * L2_SIZE, true);
    fx.clear_tlbis();
    assert_eq!(fx.ok(fold(&fx, 4 * L2_SIZE, 3)), Outputs::one(l3));
    assert_eq!(fx.desc(l2, 4), base | 0x7d9);
    assert_eq!(fx.read(4 * L2_SIZE, 2), [2, RMI_ASSIGNED, base, RAM]);
    assert_eq!(fx.refcount(l2), 1);
    assert_eq!(fx.query(l3), (GranuleState::Delegated, 0));
    assert_eq!(
        fx.tlbis(),
        [Tlbi::Block {
            vmid: VMID,
            ipa: 4 * L2_SIZE,
            size: L2_SIZE
        }]
    );
    // A level-2 RTT can't fold an ASSIGNED block entry into a level-1
    // block unless all 512 are; this one has one.
    fx.fail(fold(&fx, 0, 2), RmiError::Rtt(2));
}
