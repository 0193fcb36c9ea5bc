mod fuzz;
mod sim;

use std::vec;
use std::vec::Vec;

use sim::{Bell, Event, MhuFrame, Mode, Sim, at, decode};

use crate::power_state::{CompositePowerState, LocalState};
use crate::protocol::{self, SystemState};
use crate::smt::{self, MAX_PAYLOAD_WORDS};
use crate::{
    Barrier, Channel, Completion, Config, DomainMapEntry, Doorbell, Error, MessageHeader,
    MhuV3Doorbell, OffScope, RDV3, Request, Scmi, ScmiStatus, mhu_doorbell,
};

const POLLS: u32 = 16;

fn client(sim: &Sim) -> Scmi<'static, &Sim, Bell<'_>> {
    Scmi::new(&RDV3, Channel::new(sim, Bell(sim), POLLS))
}

fn client_with<'s>(sim: &'s Sim, config: &'static Config) -> Scmi<'static, &'s Sim, Bell<'s>> {
    Scmi::new(config, Channel::new(sim, Bell(sim), POLLS))
}

/// Bytes 0x10.. of the mailbox at the doorbell: flags, length, header,
/// payload.
fn request_bytes(sim: &Sim, len: usize) -> Vec<u8> {
    sim.last_request()[0x10..0x10 + len].to_vec()
}

// ---- Facts -----------------------------------------------------------------

#[test]
fn rdv3_facts_match_tf_a_derivations() {
    // ARM_SHARED_RAM_BASE = NRD_CSS_BL1_RO_BASE (0) + NRD_CSS_BL1_RO_SIZE
    // (0x19000); CSS_SCMI_PAYLOAD_BASE adds PLAT_ARM_SDS_MEM_SIZE_MAX (0xDC0).
    let (bl1_ro_base, bl1_ro_size, sds_size_max) = (0x0, 0x19000, 0xDC0);
    assert_eq!(
        RDV3.shared_mem_base,
        bl1_ro_base + bl1_ro_size + sds_size_max
    );
    assert_eq!(RDV3.shared_mem_size, 0x100);
    assert_eq!(RDV3.doorbell_frame_base, 0x2A92_0000);
    assert_eq!(RDV3.doorbell_channel, 0);
    assert_eq!(RDV3.doorbell_set_mask, 0x1);
    assert_eq!(RDV3.doorbell_preserve_mask, 0xFFFF_FFFE);
    assert_eq!(RDV3.max_power_level, 1);
    assert_eq!(RDV3.cpus_per_cluster, 1);
    assert_eq!(RDV3.system_power_flags, 0);
    assert!(smt::WINDOW_BYTES_USED as u64 <= RDV3.shared_mem_size);
    // The doorbell register lies inside the frame.
    assert!((mhu_doorbell::set_register_offset(0) as u64) < RDV3.doorbell_frame_size);
}

#[test]
fn rdv3_domain_map_is_identity_on_channel_zero() {
    assert_eq!(RDV3.core_domains.len(), 16);
    for (core, entry) in RDV3.core_domains.iter().enumerate() {
        assert_eq!(*entry, DomainMapEntry::new(0, core as u16));
        // SET_SCMI_CHANNEL_ID(0) | SET_SCMI_DOMAIN_ID(core).
        assert_eq!(entry.packed(), core as u32);
    }
    let sim = Sim::new();
    let scmi = client(&sim);
    assert_eq!(scmi.domain_of_core(3), Ok(3));
    assert_eq!(scmi.domain_of_core(15), Ok(15));
    assert_eq!(scmi.domain_of_core(16), Err(Error::UnknownCore(16)));
}

#[test]
fn packed_domain_entries_split_like_tf_a() {
    // SET_SCMI_CHANNEL_ID(2) | SET_SCMI_DOMAIN_ID(3) = 0x0002_0003.
    let entry = DomainMapEntry::from_packed(0x0002_0003);
    assert_eq!(entry, DomainMapEntry::new(2, 3));
    assert_eq!(entry.packed(), 0x0002_0003);
}

#[test]
fn header_encoding_matches_the_bit_layout() {
    // POWER_STATE_SET: protocol 0x11 << 10 = 0x4400, message 4.
    assert_eq!(MessageHeader::command(0x11, 4, 0).encode(), 0x0000_4404);
    // SYSTEM_POWER_STATE_SET: 0x12 << 10 = 0x4800, message 3.
    assert_eq!(MessageHeader::command(0x12, 3, 0).encode(), 0x0000_4803);
    // Token 0x3FF lands in [27:18]; type 3 in [9:8].
    let header = MessageHeader {
        message_id: 0xAB,
        message_type: 3,
        protocol_id: 0xCD,
        token: 0x3FF,
    };
    assert_eq!(
        header.encode(),
        (0x3FF << 18) | (0xCD << 10) | (3 << 8) | 0xAB
    );
    assert_eq!(MessageHeader::decode(header.encode()), header);
    // Oversized fields are masked, as SCMI_MSG_CREATE does.
    let wide = MessageHeader {
        message_id: 0,
        message_type: 0xFF,
        protocol_id: 0,
        token: 0xFFFF,
    };
    assert_eq!(wide.encode(), (0x3FF << 18) | (3 << 8));
    // Reserved bits [31:28] are ignored on decode.
    assert_eq!(
        MessageHeader::decode(0xF000_4404),
        MessageHeader::command(0x11, 4, 0)
    );
}

#[test]
fn composite_power_states_match_css_pm_scmi() {
    // CPU_ON on RD-V3 (PLAT_MAX_PWR_LVL 1): L0 on, L1 on, max level 1.
    assert_eq!(CompositePowerState::cpu_on(1).unwrap().bits(), 0x0001_0011);
    // CPU_OFF with the cluster: L0 off, L1 off, max level 1.
    assert_eq!(CompositePowerState::cpu_off(1).unwrap().bits(), 0x0001_0000);
    // CPU_OFF of the core alone: loop breaks at level 1, max level 0.
    assert_eq!(CompositePowerState::cpu_off(0).unwrap().bits(), 0x0000_0000);
    // A deeper board: levels 0..=2 on.
    assert_eq!(CompositePowerState::cpu_on(2).unwrap().bits(), 0x0002_0111);
    assert_eq!(CompositePowerState::cpu_on(3).unwrap().bits(), 0x0003_1111);
    assert_eq!(
        CompositePowerState::cpu_on(4),
        Err(Error::InvalidPowerLevel(4))
    );
    assert_eq!(
        CompositePowerState::new(&[]),
        Err(Error::InvalidPowerLevel(0))
    );
    let mixed = CompositePowerState::new(&[LocalState::Sleep, LocalState::Off]).unwrap();
    assert_eq!(mixed.bits(), 0x0001_0002);
    assert_eq!(mixed.level(0), Some(2));
    assert_eq!(mixed.level(1), Some(0));
    assert_eq!(mixed.level(2), None);
    assert!(!mixed.is_level_on(0));
    assert!(mixed.is_level_on(2), "above max level counts as on");
}

#[test]
fn version_compatibility_follows_tf_a() {
    let client = protocol::CLIENT_VERSION;
    assert_eq!(client, 0x0003_0000);
    assert!(protocol::is_version_compatible(client, 0x0003_0000));
    assert!(protocol::is_version_compatible(client, 0x0003_0001));
    assert!(protocol::is_version_compatible(client, 0x0002_0000));
    assert!(protocol::is_version_compatible(client, 0x0001_FFFF));
    assert!(!protocol::is_version_compatible(client, 0x0004_0000));
    assert!(!protocol::is_version_compatible(0x0003_0001, 0x0003_0000));
}

#[test]
fn status_codes_round_trip() {
    for code in -11..=-1 {
        let status = ScmiStatus::from_code(code);
        assert_ne!(status, ScmiStatus::Other(code));
        assert_eq!(status.code(), code);
    }
    assert_eq!(ScmiStatus::from_code(-99), ScmiStatus::Other(-99));
    assert_eq!(ScmiStatus::from_code(-2), ScmiStatus::InvalidParameters);
    assert_eq!(ScmiStatus::from_code(-6), ScmiStatus::Busy);
}

// ---- MHUv3 doorbell --------------------------------------------------------

#[test]
fn mhu_doorbell_offsets() {
    // MHU_V3_SENDER_REG_SET(ch) = 0x1000 + 0x20 * ch + 0xC.
    assert_eq!(mhu_doorbell::set_register_offset(0), 0x100C);
    assert_eq!(mhu_doorbell::set_register_offset(1), 0x102C);
    assert_eq!(mhu_doorbell::set_register_offset(127), 0x1FEC);
    assert_eq!(mhu_doorbell::status_register_offset(2), 0x1040);
}

#[test]
fn mhu_doorbell_reads_masks_and_sets_like_tf_a() {
    // PDBCW_SET reads back as zero: the write is just flag 0.
    let frame = MhuFrame::new(None, 0);
    MhuV3Doorbell::from_config(&frame, &RDV3).ring();
    assert_eq!(
        *frame.accesses.borrow(),
        vec![('r', 0x100C, 0), ('w', 0x100C, 0x1)]
    );
    // Whatever reads back is kept except bit 0, then bit 0 is set.
    let frame = MhuFrame::new(None, 0xA5A5_A5A4);
    let bell = MhuV3Doorbell::new(&frame, 0, 0x1, 0xFFFF_FFFE);
    bell.ring();
    assert_eq!(frame.accesses.borrow()[1], ('w', 0x100C, 0xA5A5_A5A5));
}

#[test]
fn full_stack_through_the_mhu_frame() {
    let sim = Sim::new();
    let frame = MhuFrame::new(Some(&sim), 0);
    let bell = MhuV3Doorbell::from_config(&frame, &RDV3);
    let mut scmi = Scmi::new(&RDV3, Channel::new(&sim, bell, POLLS));
    assert_eq!(scmi.cpu_on(3), Ok(()));
    assert_eq!(sim.ring_count(), 1);
    let request = decode(&sim.last_request());
    assert_eq!(request.protocol_id, 0x11);
    assert_eq!(request.payload, vec![1, 3, 0x0001_0011]);
}

// ---- Golden requests -------------------------------------------------------

#[test]
fn cpu_on_core_3_golden_bytes() {
    let sim = Sim::new();
    assert_eq!(client(&sim).cpu_on(3), Ok(()));
    #[rustfmt::skip]
    let golden: [u8; 24] = [
        0x00, 0x00, 0x00, 0x00, // 0x10 flags: SCMI_FLAG_RESP_POLL
        0x10, 0x00, 0x00, 0x00, // 0x14 length 16: header + 3 words
        0x04, 0x44, 0x00, 0x00, // 0x18 header 0x4404: proto 0x11 << 10 | msg 4, token 0
        0x01, 0x00, 0x00, 0x00, // 0x1C flags: SCMI_PWR_STATE_SET_FLAG_ASYNC
        0x03, 0x00, 0x00, 0x00, // 0x20 domain id 3
        0x11, 0x00, 0x01, 0x00, // 0x24 state 0x00010011: max lvl 1, L1 on, L0 on
    ];
    assert_eq!(request_bytes(&sim, 24), golden);
    // Status word handed over as busy (FREE clear).
    assert_eq!(&sim.last_request()[0x04..0x08], &[0, 0, 0, 0]);
}

#[test]
fn cpu_off_core_3_golden_bytes() {
    let sim = Sim::new();
    assert_eq!(client(&sim).cpu_off(3), Ok(()));
    #[rustfmt::skip]
    let golden: [u8; 24] = [
        0x00, 0x00, 0x00, 0x00, // 0x10 flags: polled
        0x10, 0x00, 0x00, 0x00, // 0x14 length 16
        0x04, 0x44, 0x00, 0x00, // 0x18 header 0x4404 (POWER_STATE_SET)
        0x01, 0x00, 0x00, 0x00, // 0x1C async
        0x03, 0x00, 0x00, 0x00, // 0x20 domain id 3
        0x00, 0x00, 0x01, 0x00, // 0x24 state 0x00010000: max lvl 1, L1 off, L0 off
    ];
    assert_eq!(request_bytes(&sim, 24), golden);
}

#[test]
fn cpu_off_core_only_golden_state() {
    let sim = Sim::new();
    assert_eq!(client(&sim).cpu_off_scoped(5, OffScope::Core), Ok(()));
    let request = decode(&sim.last_request());
    assert_eq!(request.payload, vec![1, 5, 0x0000_0000]);
}

#[test]
fn system_off_golden_bytes() {
    let sim = Sim::new();
    assert_eq!(client(&sim).system_off(), Ok(()));
    #[rustfmt::skip]
    let golden: [u8; 20] = [
        0x00, 0x00, 0x00, 0x00, // 0x10 flags: polled
        0x0C, 0x00, 0x00, 0x00, // 0x14 length 12: header + 2 words
        0x03, 0x48, 0x00, 0x00, // 0x18 header 0x4803: proto 0x12 << 10 | msg 3
        0x00, 0x00, 0x00, 0x00, // 0x1C flags: SCMI_SYS_PWR_FORCEFUL_REQ
        0x00, 0x00, 0x00, 0x00, // 0x20 SCMI_SYS_PWR_SHUTDOWN
    ];
    assert_eq!(request_bytes(&sim, 20), golden);
}

#[test]
fn system_reset_golden_bytes() {
    let sim = Sim::new();
    assert_eq!(client(&sim).system_reset(), Ok(()));
    #[rustfmt::skip]
    let golden: [u8; 20] = [
        0x00, 0x00, 0x00, 0x00, // 0x10 flags: polled
        0x0C, 0x00, 0x00, 0x00, // 0x14 length 12
        0x03, 0x48, 0x00, 0x00, // 0x18 header 0x4803 (SYSTEM_POWER_STATE_SET)
        0x00, 0x00, 0x00, 0x00, // 0x1C forceful
        0x01, 0x00, 0x00, 0x00, // 0x20 SCMI_SYS_PWR_COLD_RESET
    ];
    assert_eq!(request_bytes(&sim, 20), golden);
}

#[test]
fn system_warm_reset_sends_state_2() {
    let sim = Sim::new();
    assert_eq!(client(&sim).system_warm_reset(), Ok(()));
    let request = decode(&sim.last_request());
    assert_eq!(request.payload, vec![0, 2]);
}

#[test]
fn protocol_version_golden_bytes_and_value() {
    let sim = Sim::new();
    sim.version.set(0x0003_0001);
    assert_eq!(
        client(&sim).protocol_version(protocol::POWER_DOMAIN_PROTOCOL),
        Ok(0x0003_0001)
    );
    #[rustfmt::skip]
    let golden: [u8; 12] = [
        0x00, 0x00, 0x00, 0x00, // 0x10 flags: polled
        0x04, 0x00, 0x00, 0x00, // 0x14 length 4: header only
        0x00, 0x44, 0x00, 0x00, // 0x18 header 0x4400: proto 0x11, msg 0
    ];
    assert_eq!(request_bytes(&sim, 12), golden);
}

#[test]
fn power_state_get_and_message_attributes() {
    let sim = Sim::new();
    sim.power_state.set(0x0001_0000);
    let mut scmi = client(&sim);
    let state = scmi.power_state_get(7).unwrap();
    assert_eq!(state.bits(), 0x0001_0000);
    assert!(!state.is_level_on(0));
    let request = decode(&sim.last_request());
    assert_eq!((request.protocol_id, request.message_id), (0x11, 5));
    assert_eq!((request.length, request.payload.clone()), (8, vec![7]));

    let attributes = scmi
        .protocol_message_attributes(
            protocol::SYSTEM_POWER_PROTOCOL,
            protocol::SYSTEM_POWER_STATE_SET,
        )
        .unwrap();
    assert_ne!(attributes & protocol::SYSTEM_POWER_WARM_RESET_SUPPORTED, 0);
    let request = decode(&sim.last_request());
    assert_eq!((request.protocol_id, request.message_id), (0x12, 2));
    assert_eq!((request.length, request.payload), (8, vec![3]));
}

#[test]
fn init_checks_both_protocol_versions() {
    let sim = Sim::new();
    let versions = client(&sim).init().unwrap();
    assert_eq!(versions.power_domain, 0x0003_0000);
    assert_eq!(versions.system_power, 0x0003_0000);
    let sent: Vec<u32> = sim
        .rung
        .borrow()
        .iter()
        .map(|bytes| decode(bytes).protocol_id)
        .collect();
    assert_eq!(sent, vec![0x11, 0x12]);

    sim.version.set(0x0004_0000);
    assert_eq!(
        client(&sim).init(),
        Err(Error::IncompatibleVersion {
            protocol: 0x11,
            version: 0x0004_0000
        })
    );
}

#[test]
fn every_request_is_a_command_with_token_0_and_polled_flags() {
    let sim = Sim::new();
    let mut scmi = client(&sim);
    scmi.init().unwrap();
    scmi.cpu_on(0).unwrap();
    scmi.cpu_off(15).unwrap();
    scmi.power_state_get(1).unwrap();
    scmi.system_off().unwrap();
    scmi.system_reset().unwrap();
    assert_eq!(sim.ring_count(), 7);
    for bytes in sim.rung.borrow().iter() {
        let request = decode(bytes);
        assert_eq!(request.message_type, 0);
        assert_eq!(request.token, 0);
        assert_eq!(request.flags, 0);
        assert_eq!(request.status & 1, 0, "rung while marked free");
        assert_eq!(request.length, 4 + 4 * request.payload.len() as u32);
    }
}

// ---- Ordering --------------------------------------------------------------

#[test]
fn barriers_and_doorbell_are_ordered_like_tf_a() {
    let sim = Sim::new();
    client(&sim).cpu_on(3).unwrap();
    let events = sim.events();
    let position = |wanted: Event| events.iter().position(|e| *e == wanted).unwrap();
    let store = position(Event::Barrier(Barrier::StoreBeforeDoorbell));
    let ring = position(Event::Ring);
    let full = position(Event::Barrier(Barrier::DoorbellBeforePoll));
    let load = position(Event::Barrier(Barrier::LoadAfterFree));
    assert!(store < ring && ring < full && full < load);
    // The channel was checked free first, every write precedes the barrier,
    // and the hand-over (status = 0) is the last write.
    assert_eq!(events[0], Event::Read(at::STATUS));
    let writes: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::Write(..)))
        .map(|(i, _)| i)
        .collect();
    assert!(writes.iter().all(|&i| i < store));
    assert_eq!(events[*writes.last().unwrap()], Event::Write(at::STATUS, 0));
    // Between the doorbell barrier and the load barrier: status polls only.
    assert!(
        events[full + 1..load]
            .iter()
            .all(|e| *e == Event::Read(at::STATUS))
    );
    // After it: reads of the response only, no writes.
    assert!(
        events[load + 1..]
            .iter()
            .all(|e| matches!(e, Event::Read(_)))
    );
}

// ---- Status codes ----------------------------------------------------------

#[test]
fn failure_statuses_become_errors() {
    for code in -11..=-1 {
        let sim = Sim::new();
        sim.mode.set(Mode::Answer { status: code });
        let expected = Err(Error::Status(ScmiStatus::from_code(code)));
        let mut scmi = client(&sim);
        assert_eq!(scmi.cpu_on(3), expected);
        assert_eq!(scmi.cpu_off(3), expected);
        assert_eq!(scmi.system_off(), expected);
        assert_eq!(scmi.system_reset(), expected);
        // Error responses carry no return values (length 8): still the
        // status, not a length complaint.
        assert_eq!(
            scmi.power_state_get(3).map(|s| s.bits()),
            expected.map(|()| 0)
        );
        assert_eq!(scmi.protocol_version(0x11).map(|_| ()), expected);
    }
    let sim = Sim::new();
    sim.mode.set(Mode::Answer { status: -42 });
    assert_eq!(
        client(&sim).cpu_on(1),
        Err(Error::Status(ScmiStatus::Other(-42)))
    );
}

#[test]
fn queued_is_accepted_only_where_tf_a_accepts_it() {
    let sim = Sim::new();
    sim.mode.set(Mode::Answer { status: 1 });
    let mut scmi = client(&sim);
    assert_eq!(scmi.cpu_on(2), Ok(()));
    assert_eq!(scmi.cpu_off(2), Ok(()));
    assert_eq!(scmi.power_state_set(2, 0), Ok(Completion::Queued));
    assert_eq!(scmi.system_off(), Err(Error::Queued));
    assert_eq!(scmi.system_reset(), Err(Error::Queued));
    assert_eq!(scmi.protocol_version(0x12), Err(Error::Queued));
}

// ---- Timeouts --------------------------------------------------------------

#[test]
fn busy_channel_times_out_without_touching_it() {
    let sim = Sim::new();
    sim.poke(at::STATUS, 0);
    assert_eq!(client(&sim).cpu_on(3), Err(Error::ChannelBusy));
    let events = sim.events();
    assert_eq!(events.len(), POLLS as usize + 1);
    assert!(events.iter().all(|e| *e == Event::Read(at::STATUS)));
    assert_eq!(sim.ring_count(), 0);
}

#[test]
fn silent_scp_times_out_then_recovers() {
    let sim = Sim::new();
    sim.mode.set(Mode::Silent);
    let mut scmi = client(&sim);
    assert_eq!(scmi.cpu_on(3), Err(Error::Timeout));
    let polls_after_ring = sim
        .events()
        .iter()
        .skip_while(|e| **e != Event::Ring)
        .filter(|e| **e == Event::Read(at::STATUS))
        .count();
    assert_eq!(polls_after_ring, POLLS as usize + 1);

    // Still owned by the SCP: the next request cannot start.
    assert_eq!(scmi.cpu_on(4), Err(Error::ChannelBusy));
    assert_eq!(sim.ring_count(), 1);

    // The SCP finally answers the first request; the channel is usable.
    sim.poke(at::STATUS, 1);
    sim.mode.set(Mode::Answer { status: 0 });
    assert_eq!(scmi.cpu_on(4), Ok(()));
}

#[test]
fn answer_within_the_poll_limit_is_taken() {
    let sim = Sim::new();
    sim.answer_after_polls.set(POLLS + 1);
    assert_eq!(client(&sim).cpu_on(3), Ok(()));

    let sim = Sim::new();
    sim.answer_after_polls.set(POLLS + 2);
    assert_eq!(client(&sim).cpu_on(3), Err(Error::Timeout));
}

#[test]
fn zero_poll_limit_still_reads_once() {
    let sim = Sim::new();
    let mut scmi = Scmi::new(&RDV3, Channel::new(&sim, Bell(&sim), 0));
    assert_eq!(scmi.cpu_on(0), Ok(()));
}

// ---- Corrupt responses -----------------------------------------------------

#[test]
fn wrong_header_echo_is_rejected() {
    for mask in [1 << 18, 1, 1 << 10, 1 << 8, 1 << 31] {
        let sim = Sim::new();
        sim.mode.set(Mode::CorruptHeader(mask));
        assert_eq!(
            client(&sim).cpu_on(3),
            Err(Error::HeaderMismatch {
                sent: 0x4404,
                received: 0x4404 ^ mask
            }),
            "mask {mask:#x}"
        );
    }
}

#[test]
fn short_and_wrong_lengths_are_rejected() {
    for length in [0, 4, 7] {
        let sim = Sim::new();
        sim.mode.set(Mode::Length(length));
        assert_eq!(client(&sim).cpu_on(3), Err(Error::ShortResponse { length }));
    }
    let sim = Sim::new();
    sim.mode.set(Mode::Length(12));
    assert_eq!(
        client(&sim).cpu_on(3),
        Err(Error::LengthMismatch {
            expected: 8,
            actual: 12
        })
    );
    // POWER_STATE_GET must return its state word.
    let sim = Sim::new();
    sim.mode.set(Mode::Length(8));
    assert_eq!(
        client(&sim).power_state_get(3),
        Err(Error::LengthMismatch {
            expected: 12,
            actual: 8
        })
    );
    let sim = Sim::new();
    sim.mode.set(Mode::Length(0xFFFF_FFFF));
    assert_eq!(
        client(&sim).protocol_version(0x11),
        Err(Error::LengthMismatch {
            expected: 12,
            actual: 0xFFFF_FFFF
        })
    );
}

#[test]
fn channel_error_bit_is_reported_and_cleared_on_next_send() {
    let sim = Sim::new();
    sim.mode.set(Mode::ErrorBit);
    let mut scmi = client(&sim);
    assert_eq!(scmi.system_off(), Err(Error::ChannelError));
    assert_eq!(sim.peek(at::STATUS), 0b11);
    sim.mode.set(Mode::Answer { status: 0 });
    assert_eq!(scmi.system_off(), Ok(()));
    assert_eq!(decode(&sim.last_request()).status, 0);
}

// ---- Board data checks -----------------------------------------------------

static TWO_CHANNELS: [DomainMapEntry; 2] = [DomainMapEntry::new(0, 0), DomainMapEntry::new(1, 0)];
static MULTICORE_CLUSTERS: Config = Config {
    core_domains: &TWO_CHANNELS,
    cpus_per_cluster: 4,
    ..RDV3
};
static CORE_LEVEL_ONLY: Config = Config {
    max_power_level: 0,
    ..RDV3
};

#[test]
fn foreign_channel_and_cluster_rules() {
    let sim = Sim::new();
    let mut scmi = client_with(&sim, &MULTICORE_CLUSTERS);
    assert_eq!(
        scmi.cpu_on(1),
        Err(Error::ForeignChannel {
            core: 1,
            channel: 1
        })
    );
    assert_eq!(scmi.cpu_off(0), Err(Error::ClusterCoordinationRequired));
    assert_eq!(scmi.cpu_off_scoped(0, OffScope::CoreAndCluster), Ok(()));
    assert_eq!(decode(&sim.last_request()).payload, vec![1, 0, 0x0001_0000]);
    assert_eq!(sim.ring_count(), 1);

    let sim = Sim::new();
    let mut scmi = client_with(&sim, &CORE_LEVEL_ONLY);
    assert_eq!(scmi.cpu_on(2), Ok(()));
    assert_eq!(decode(&sim.last_request()).payload, vec![1, 2, 0x0000_0001]);
    assert_eq!(scmi.cpu_off(2), Ok(()));
    assert_eq!(decode(&sim.last_request()).payload, vec![1, 2, 0]);
    assert_eq!(
        scmi.cpu_off_scoped(2, OffScope::CoreAndCluster),
        Err(Error::InvalidPowerLevel(1))
    );
}

#[test]
fn invalid_requests_touch_nothing() {
    let sim = Sim::new();
    let mut channel = Channel::new(&sim, Bell(&sim), POLLS);
    let words = [0; MAX_PAYLOAD_WORDS + 1];
    let too_long = Request {
        protocol: 0x11,
        message: 4,
        payload: &words,
        response_len: 8,
    };
    assert_eq!(channel.send(&too_long), Err(Error::InvalidRequest));
    for response_len in [0, 4, 10, 8 + 4 * 5] {
        let request = Request {
            protocol: 0x11,
            message: 4,
            payload: &[],
            response_len,
        };
        assert_eq!(channel.send(&request), Err(Error::InvalidRequest));
    }
    assert!(sim.events().is_empty());
}

#[test]
fn system_state_values() {
    assert_eq!(SystemState::Shutdown as u32, 0);
    assert_eq!(SystemState::ColdReset as u32, 1);
    assert_eq!(SystemState::WarmReset as u32, 2);
    assert_eq!(SystemState::PowerUp as u32, 3);
    assert_eq!(SystemState::Suspend as u32, 4);
}
