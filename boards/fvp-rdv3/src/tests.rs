use super::*;
use rampart_board::GRANULE_SIZE;

/// The region that holds `addr`.
fn region_at(addr: u64) -> Option<&'static PasRegion> {
    BOARD.pas_map.iter().find(|r| r.range.contains(addr))
}

/// The one GPI that covers all of `range`, or None when part of it is not
/// mapped or it spans regions with different GPIs.
fn gpi_over(range: Range) -> Option<Gpi> {
    let mut addr = range.base;
    let mut gpi = None;
    while addr < range.end() {
        let r = region_at(addr)?;
        match gpi {
            None => gpi = Some(r.gpi),
            Some(g) if g != r.gpi => return None,
            Some(_) => {}
        }
        addr = r.range.end();
    }
    gpi
}

fn root_reachable(g: Gpi) -> bool {
    matches!(g, Gpi::Root | Gpi::Any)
}

#[test]
fn name() {
    assert_eq!(BOARD.name, "fvp-rdv3");
}

#[test]
fn pas_map_is_sorted_aligned_and_disjoint() {
    for w in BOARD.pas_map.windows(2) {
        assert!(
            w[0].range.end() <= w[1].range.base,
            "{} overlaps or precedes {}",
            w[0].name,
            w[1].name
        );
    }
    for r in BOARD.pas_map {
        assert_ne!(r.range.size, 0, "{}", r.name);
        assert!(r.range.base.is_multiple_of(GRANULE_SIZE), "{}", r.name);
        assert!(r.range.size.is_multiple_of(GRANULE_SIZE), "{}", r.name);
    }
}

#[test]
fn pas_map_leaves_no_hole_below_the_pps() {
    // TF-A and our GPT make everything unlisted GPI_ANY; this map still
    // names every hole, so that it documents the whole PPS.
    let mut next = 0;
    for r in BOARD.pas_map {
        assert_eq!(r.range.base, next, "hole before {}", r.name);
        next = r.range.end();
    }
    assert_eq!(next, 1 << BOARD.gpt.pps_bits);
}

#[test]
fn gpt_pps_covers_every_region() {
    let top = 1u64 << BOARD.gpt.pps_bits;
    for r in BOARD.pas_map {
        assert!(r.range.end() <= top, "{}", r.name);
    }
}

#[test]
fn tf_a_regions_keep_their_gpi() {
    // nrd_pas_def3.h entries of rdv3_bl2_setup.c's list, as (base, size, gpi).
    let tf_a = [
        (0x2000_0000, 0x0400_0000, Gpi::Root),
        (0x2800_0000, 0x0100_0000, Gpi::Secure),
        (0x2a40_0000, 0x1_0000, Gpi::NonSecure),
        (0x2a42_0000, 0x1_0000, Gpi::Realm),
        (0x2a46_0000, 0x2_0000, Gpi::Root),
        (0x2a94_0000, 0x2_0000, Gpi::Root),
        (0x2ab4_0000, 0x2_0000, Gpi::Root),
        (0x2ab6_0000, 0x2_0000, Gpi::Realm),
        (0x2ac0_0000, 0x12_0000, Gpi::Root),
        (0x2b10_0000, 0x3_0000, Gpi::Secure),
        (0x2cf0_0000, 0x210_0000, Gpi::NonSecure),
        (0x2f00_0000, 0x40_0000, Gpi::Any),
        (0x3000_0000, 0x800_0000, Gpi::Any),
        (0x8000_0000, 0x7400_0000, Gpi::NonSecure),
        (0xfb20_0000, 0x260_0000, Gpi::Realm),
        (0xfd80_0000, 0x280_0000, Gpi::Root),
        (0x1_0000_0000, 0x4000_0000, Gpi::Any),
        (0x2_0000_0000, 0x4000_0000, Gpi::Any),
        (0x2_4000_0000, 0x4000_0000, Gpi::Any),
        (0x2_8000_0000, 0x6000_0000, Gpi::Any),
        (0x80_8000_0000, 0x1_8000_0000, Gpi::NonSecure),
    ];
    for (base, size, gpi) in tf_a {
        assert_eq!(gpi_over(Range::new(base, size)), Some(gpi), "{base:#x}");
    }
}

#[test]
fn layout_matches_tf_a() {
    assert_eq!(BL1_RO, Range::new(0, 0x1_9000));
    assert_eq!(TRUSTED_MAILBOX, 0x1_9ff8);
    assert_eq!(SCMI_PAYLOAD.base, 0x1_9dc0);
    assert_eq!(BL_RAM, Range::new(0x1_a000, 0xc_6000));
    assert_eq!(FW_CONFIG.base, 0x1_a010);
    assert_eq!(BL2_MEM_DESC, Range::new(0x1_b800, 0x800));
    assert_eq!(BL31, Range::new(0x8_3000, 0x5_d000));
    assert_eq!(BL31_PROGBITS_LIMIT, 0xa_0000);
    assert_eq!(ROOT_IMAGE_MAX_SIZE, 0x1_d000);
    assert_eq!(BL2, Range::new(0xa_0000, 0x3_0000));
    assert_eq!(BL1_RW, Range::new(0xd_0000, 0x1_0000));
    assert_eq!(L0_GPT, Range::new(0xe_0000, 0x2_0000));
    assert_eq!(NS_DRAM1, Range::new(0x8000_0000, 0x7400_0000));
    assert_eq!(L1_GPT, Range::new(0xfd80_0000, 0x280_0000));
    assert_eq!(EL3_RMM_SHARED.base, 0xfd7f_f000);
    assert_eq!(REALM, Range::new(0xfb20_0000, 0x25f_f000));
    assert_eq!(SPMC, Range::new(0xfa88_9000, 0x97_7000));
    assert_eq!(CARVEOUT_RESERVED, Range::new(0xf400_0000, 0x688_9000));
    assert_eq!(FIP, Range::new(0x0800_0000, 0x3fc_0000));
    assert_eq!(MEM_PROTECT.base, 0x0bfc_0000);
    assert_eq!(GICR, 0x301c_0000);
    assert_eq!(SCMI_DOORBELL, 0x2a92_100c);
    assert_eq!(RSE_ROOT_MHU.receiver, 0x2ab5_0000);
    // The carve-out is exactly L1 GPT + shared page + Realm + SPMC + reserved.
    let parts = L1_GPT.size + EL3_RMM_SHARED.size + REALM.size + SPMC.size;
    assert_eq!(parts + CARVEOUT_RESERVED.size, DRAM1_CARVEOUT.size);
    assert_eq!(L1_GPT.end(), DRAM1.end());
    // BL31's region runs from its base to the L0 GPT, over BL2 and BL1-RW.
    assert_eq!(BL31.end(), L0_GPT.base);
    assert_eq!(BL1_RW.end(), L0_GPT.base);
    assert_eq!(BL2.end(), BL1_RW.base);
}

#[test]
fn dram_banks_are_covered_ns_and_fit_tf_rmm() {
    let mut granules = 0;
    for bank in BOARD.dram {
        assert_eq!(gpi_over(*bank), Some(Gpi::NonSecure), "{bank:x?}");
        granules += bank.size / GRANULE_SIZE;
    }
    // TF-RMM (rdv3_defcfg) rejects a manifest with more granules.
    assert!(granules <= TF_RMM_MAX_GRANULES);
    let whole = (DRAM1.size + DRAM2.size) / GRANULE_SIZE;
    assert!(whole > TF_RMM_MAX_GRANULES);
    assert_eq!(BOARD.dram_bank_of(BOARD.ns_entry), Some(&NS_DRAM1));
}

#[test]
fn devices_have_the_right_gpi() {
    let b = &BOARD;
    let uart = Range::new(b.ns_console.base, 0x1000);
    assert_eq!(gpi_over(uart), Some(Gpi::NonSecure));
    assert_eq!(
        gpi_over(Range::new(RMM_CONSOLE.base, 0x1000)),
        Some(Gpi::Realm)
    );
    let gicd = Range::new(b.gic.distributor, 0x1_0000);
    let gicr = Range::new(
        b.gic.redistributors,
        b.gic.redistributor_stride * b.topology.cpu_count as u64,
    );
    assert!(gpi_over(gicd).is_some_and(root_reachable));
    assert!(gpi_over(gicr).is_some_and(root_reachable));
    for smmu in b.gpc_smmus {
        let root_page = Range::new(smmu.base + smmu.root_page_offset, 0x1_0000);
        assert!(GPC_SMMU.contains_range(root_page.base, root_page.size));
        assert_eq!(gpi_over(root_page), Some(Gpi::Root));
    }
    let AttestationSource::Rse(mhu) = b.attestation else {
        panic!("RD-V3 attests through the RSE");
    };
    for frame in [mhu.sender, mhu.receiver] {
        assert_eq!(gpi_over(Range::new(frame, 0x1_0000)), Some(Gpi::Root));
    }
    // TF-A's own console and SCMI doorbell, used with Root accesses.
    assert!(gpi_over(Range::new(SECURE_UART.base, 0x1000)).is_some_and(root_reachable));
    assert!(region_at(SCMI_DOORBELL).is_some_and(|r| root_reachable(r.gpi)));
    assert!(gpi_over(SCMI_PAYLOAD).is_some_and(root_reachable));
}

#[test]
fn rmm_region_is_realm_in_dram1_outside_the_banks() {
    let b = &BOARD;
    assert!(b.rmm.base.is_multiple_of(GRANULE_SIZE));
    assert!(b.rmm.size.is_multiple_of(GRANULE_SIZE));
    assert!(DRAM1.contains_range(b.rmm.base, b.rmm.size));
    assert_eq!(gpi_over(b.rmm), Some(Gpi::Realm));
    // TF-A keeps the Realm region out of the banks it gives the RMM: none
    // of it may be delegated or handed to the Normal world.
    for bank in b.dram {
        assert!(!bank.overlaps(&b.rmm));
    }
}

#[test]
fn shared_page_is_the_last_granule_of_the_rmm_region() {
    let b = &BOARD;
    assert!(b.rmm_shared_page.is_multiple_of(GRANULE_SIZE));
    assert!(b.rmm.contains_range(b.rmm_shared_page, GRANULE_SIZE));
    assert_eq!(b.rmm_shared_page + GRANULE_SIZE, b.rmm.end());
    assert_eq!(b.rmm_shared_page, REALM.end());
}

#[test]
fn root_ram_is_root_and_apart() {
    let b = &BOARD;
    let ram = b.root.ram;
    assert!(ram.base.is_multiple_of(GRANULE_SIZE));
    assert!(ram.size.is_multiple_of(GRANULE_SIZE));
    assert!(TRUSTED_SRAM.contains_range(ram.base, ram.size));
    assert_eq!(gpi_over(ram), Some(Gpi::Root));
    assert!(!ram.overlaps(&b.rmm));
    assert!(!ram.overlaps(&b.gpt.tables));
    assert!(ROOT_IMAGE_MAX_SIZE <= ram.size);
    assert_eq!(ram.base + ROOT_IMAGE_MAX_SIZE, BL2.base);
}

#[test]
fn gpt_tables_are_root_and_big_enough() {
    let g = &BOARD.gpt;
    assert_eq!(gpi_over(g.tables), Some(Gpi::Root));
    // L0 table: one 8-byte entry per L0 region, aligned to its size.
    let l0_bytes = 8u64 << (g.pps_bits - g.l0_gpt_size_bits);
    assert_eq!(l0_bytes, L0_GPT.size);
    assert!(g.tables.base.is_multiple_of(l0_bytes));
    // An L1 table per L0 region that is not all one GPI: 4 bits per granule.
    let l0_region = 1u64 << g.l0_gpt_size_bits;
    let l1_bytes = l0_region / GRANULE_SIZE / 2;
    let mixed = (0..1u64 << (g.pps_bits - g.l0_gpt_size_bits))
        .filter(|i| gpi_over(Range::new(i * l0_region, l0_region)).is_none())
        .count() as u64;
    assert!(mixed >= 2, "sram..gpc smmu and dram2 need tables");
    assert!(l0_bytes + mixed * l1_bytes <= g.tables.size);
}

#[test]
fn handoff_is_readable_and_survives_root_start() {
    let RootBoot::Bl31(boot) = BOARD.root.boot else {
        panic!("RD-V3 root is entered by TF-A's BL2");
    };
    let h = boot.handoff;
    assert!(matches!(gpi_over(h), Some(Gpi::Root | Gpi::Secure)));
    assert!(h.contains_range(BL2_MEM_DESC.base, BL2_MEM_DESC.size));
    assert!(h.contains_range(FW_CONFIG.base, FW_CONFIG.size));
    // Root zeroes its bss over BL2 before it parses x0: the handoff must
    // not be in root's RAM.
    assert!(!h.overlaps(&BOARD.root.ram));
    assert_eq!(BOARD.root.hold_pen(), None);
    assert_eq!(BOARD.root.flash(), None);
}

#[test]
fn warm_mailbox_is_in_memory_root_maps() {
    let RootBoot::Bl31(boot) = BOARD.root.boot else {
        panic!("RD-V3 root is entered by TF-A's BL2");
    };
    let mbox = boot.warm_mailbox;
    assert!(mbox.is_multiple_of(8));
    assert!(ARM_SHARED_RAM.contains_range(mbox, 8));
    assert!(!SDS.contains(mbox) && !SCMI_PAYLOAD.contains(mbox));
    assert!(region_at(mbox).is_some_and(|r| root_reachable(r.gpi)));
}

#[test]
fn each_trace_writer_has_its_own_uart() {
    let b = &BOARD;
    let gpi = |uart: rampart_board::Uart| gpi_over(Range::new(uart.base, 0x1000));
    // Root on the secure UART (open to Root accesses, as TF-A leaves it),
    // the RMM on its Realm UART, the NS UART the Normal world's alone.
    assert_eq!(gpi(b.root_trace_uart), Some(Gpi::Any));
    assert_eq!(b.root_trace_uart, SECURE_UART);
    assert_eq!(b.rmm_trace, rampart_board::RmmTrace::RealmUart);
    assert_eq!(gpi(b.rmm_console), Some(Gpi::Realm));
    assert_eq!(gpi(b.ns_console), Some(Gpi::NonSecure));
    let bases = [
        b.root_trace_uart.base,
        b.rmm_console.base,
        b.ns_console.base,
    ];
    assert!(bases[0] != bases[1] && bases[1] != bases[2] && bases[0] != bases[2]);
    assert_eq!(b.trace_lock, None, "no two images share a UART");
}

#[test]
fn topology_maps_every_core_both_ways() {
    let t = BOARD.topology;
    assert_eq!(t.cpu_count, 16);
    for i in 0..t.cpu_count {
        let aff = t.mpidr_of(i);
        // Core n is cluster n: Aff2 = n, Aff1 = Aff0 = 0.
        assert_eq!(aff, (i as u64) << 16);
        // As read from MPIDR_EL1: bit 31 RES1, MT (bit 24) set.
        let mpidr = aff | 1 << 31 | 1 << 24;
        assert_eq!(t.core_index(mpidr), Some(i));
    }
    assert_eq!(t.core_index(16 << 16), None);
    assert_eq!(t.core_index(1), None, "thread 1 does not exist");
    assert_eq!(
        t.core_index(1 << 8),
        None,
        "cpu 1 in a cluster does not exist"
    );
    assert_eq!(t.core_index(1 << 32), None, "chip 1 does not exist");
}

#[test]
fn gic_redistributors_fit_and_miss_the_distributor() {
    let g = BOARD.gic;
    let gicd = Range::new(g.distributor, 0x1_0000);
    let gicr = Range::new(
        g.redistributors,
        g.redistributor_stride * BOARD.topology.cpu_count as u64,
    );
    assert!(!gicr.overlaps(&gicd));
    assert!(GIC_REGION.contains_range(gicd.base, gicd.size));
    assert!(GIC_REGION.contains_range(gicr.base, gicr.size));
    assert_eq!(g.redistributor_stride, 0x4_0000);
}

#[test]
fn scmi_and_rse_devices_are_this_boards() {
    let PowerControl::Scmi(scmi) = BOARD.power else {
        panic!("RD-V3 powers cores through SCMI");
    };
    assert_eq!(scmi.shared_mem_base, SCMI_PAYLOAD.base);
    assert!(scmi.shared_mem_size <= SCMI_PAYLOAD.size);
    assert_eq!(scmi.doorbell_frame_base, AP_SCP_SECURE_MHU.base);
    assert_eq!(
        scmi.doorbell_frame_base + 0x1000 + 0x20 * u64::from(scmi.doorbell_channel) + 0xc,
        SCMI_DOORBELL
    );
    assert_eq!(scmi.core_domains.len(), BOARD.topology.cpu_count);
    // The mailbox, the SCMI channel and BL1's warm boot word share the one
    // SCP-shared page, which root must reach.
    let RootBoot::Bl31(bl31) = BOARD.root.boot else {
        panic!("root is BL31 on RD-V3");
    };
    let shared = region_at(SCMI_PAYLOAD.base).unwrap();
    assert!(shared.range.contains(bl31.warm_mailbox));
    assert_ne!(gpi_over(SCMI_PAYLOAD), Some(Gpi::NoAccess));
    let AttestationSource::Rse(mhu) = BOARD.attestation else {
        panic!("RD-V3 attests through the RSE");
    };
    for frame in [mhu.sender, mhu.receiver] {
        let gpi = gpi_over(Range::new(frame, 0x1_0000));
        assert!(
            matches!(gpi, Some(Gpi::Root | Gpi::Any)),
            "{frame:#x}: {gpi:?}"
        );
    }
}
