//! SFCP (TF-A v2.15.0) calls against the simulated RSE.

mod common;

use common::*;
use rampart_rse::mhu::Wait;
use rampart_rse::psa::PsaCall;
use rampart_rse::sfcp::PacketType;
use rampart_rse::{
    CallError, Config, Error, Malformed, MhuError, PsaError, RakHashAlgorithm, RseClient,
    SfcpProtocolError, SfcpReplyFault, TransferPolicy,
};

const SPIN: u32 = 1000;
const CHANNELS: usize = 16;

fn client(sim: &Sim, config: Config) -> RseClient<Frame> {
    let (pbx, mbx) = sim.frames();
    RseClient::new(pbx, mbx, config).expect("init")
}

fn setup(token_len: usize) -> (Sim, RseClient<Frame>) {
    let sim = Sim::new(
        Wire::Sfcp,
        CHANNELS,
        Some(attestation_service(Wire::Sfcp, token_len)),
    );
    let c = client(&sim, Config::rdv3_sfcp(SPIN));
    (sim, c)
}

/// GET_DELEGATED_KEY, first SFCP message (id 0), embedded, 48-byte key
/// buffer.
#[rustfmt::skip]
const KEY_REQUEST: [u8; 37] = [
    // SFCP header
    0x12,                   // metadata: MSG_NEEDS_REPLY (0 << 6) | ID ext (1 << 4) | version 0b10
    0x01,                   // sender: AP monitor node 1
    0x00,                   // receiver: RSE node 0
    0x00,                   // message id: first message to node 0
    0x01, 0x00,             // client id 1
    0x00, 0x00,             // application id 0
    // PSA header
    0x00, 0x00, 0x00, 0x00, // protocol_ver 0 (embed), 3 reserved
    // embed body
    0x11, 0x01, 0x00, 0x40, // handle 0x40000111 (RSE_DELEGATED_SERVICE_HANDLE)
    0xE9, 0x03, 0x01, 0x03, // ctrl_param 0x030103E9: type 1001, out_len 1 (<<16), in_len 3 (<<24)
    0x01, 0x00,             // io_size[0] = 1 (ecc_curve)
    0x04, 0x00,             // io_size[1] = 4 (key_bits)
    0x04, 0x00,             // io_size[2] = 4 (hash_algo)
    0x30, 0x00,             // io_size[3] = 48 (key buffer)
    0x12,                   // PSA_ECC_FAMILY_SECP_R1
    0x80, 0x01, 0x00, 0x00, // 384 bits
    0x09, 0x00, 0x00, 0x02, // PSA_ALG_SHA_256 0x02000009
];

fn challenge48() -> [u8; 48] {
    core::array::from_fn(|i| 0xC0 + i as u8)
}

/// GET_PLATFORM_TOKEN, second message (id 1), embedded, 48-byte challenge,
/// 4096-byte caller buffer offered as 4140 - 48 = 4092 (0x0FFC).
fn token_request_golden() -> Vec<u8> {
    #[rustfmt::skip]
    let mut v = vec![
        0x12, 0x01, 0x00,       // metadata, sender 1, receiver 0
        0x01,                   // message id 1
        0x01, 0x00, 0x00, 0x00, // client id 1, application id 0
        0x00, 0x00, 0x00, 0x00, // PSA header: embed
        0x11, 0x01, 0x00, 0x40, // handle
        0xEA, 0x03, 0x01, 0x01, // ctrl_param 0x010103EA: type 1002, out_len 1, in_len 1
        0x30, 0x00,             // io_size[0] = 48 (challenge)
        0xFC, 0x0F,             // io_size[1] = 4092 (token buffer)
        0x00, 0x00, 0x00, 0x00, // io_size[2..4] unused
    ];
    v.extend_from_slice(&challenge48());
    v
}

#[test]
fn delegated_key_request_bytes_words_and_reply() {
    let (sim, mut rse) = setup(600);
    let mut key = [0u8; 48];
    let len = rse
        .get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None)
        .unwrap();
    assert_eq!(len, 48);
    assert_eq!(key, RAK);
    assert_eq!(sim.last_request().raw, KEY_REQUEST);

    // 37 bytes fit one transfer of a 16-channel MHU: length word on
    // channel 0, ten data words (last one zero-padded), channels 11..14
    // untouched.
    let s = sim.state();
    assert_eq!(s.inbound_transfers.len(), 1);
    #[rustfmt::skip]
    let words: [u32; 15] = [
        37,
        0x0000_0112, 0x0000_0001, 0x0000_0000, 0x4000_0111, 0x0301_03E9,
        0x0004_0001, 0x0030_0004, 0x0001_8012, 0x0000_0900, 0x0000_0002,
        0, 0, 0, 0,
    ];
    assert_eq!(s.inbound_transfers[0], words);
    drop(s);
    assert!(sim.idle());
}

#[test]
fn platform_token_request_bytes_and_multi_transfer_reply() {
    let (sim, mut rse) = setup(1000);
    let mut key = [0u8; 48];
    rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None)
        .unwrap();
    let mut token = vec![0u8; 4096];
    let len = rse
        .get_platform_token(&challenge48(), &mut token, None)
        .unwrap();
    assert_eq!(len, 1000);
    assert_eq!(&token[..len], &token_bytes(1000)[..]);
    let req = sim.last_request();
    assert_eq!(req.raw, token_request_golden());
    assert_eq!(req.inputs, vec![challenge48().to_vec()]);

    let s = sim.state();
    // 76-byte request: 14 words in the first transfer, 5 in the second.
    assert_eq!(s.inbound_transfers.len(), 1 + 2);
    assert_eq!(s.inbound_transfers[1][0], 76);
    assert_eq!(s.inbound_transfers[2][..5], {
        let g = token_request_golden();
        let w = |i: usize| u32::from_le_bytes(g[i * 4..i * 4 + 4].try_into().unwrap());
        [w(14), w(15), w(16), w(17), w(18)]
    });
    // Reply: 24-byte header + 1000 token bytes = 1024 bytes = 256 words
    // plus the length word, 15 per transfer: 18 transfers (for both calls:
    // the key reply is 24 + 48 = 72 bytes, 2 transfers).
    assert_eq!(s.outbound_transfers_sent, 2 + 18);
    drop(s);
    assert!(sim.idle());
}

#[test]
fn pointer_access_token_request_and_reply_through_window() {
    let sim = Sim::new(
        Wire::Sfcp,
        CHANNELS,
        Some(attestation_service(Wire::Sfcp, 1500)),
    );
    let mut config = Config::rdv3_sfcp(SPIN);
    config.transfer = TransferPolicy::PointerAccess;
    let mut rse = client(&sim, config);
    let mut window = sim.window();
    let mut token = vec![0u8; 4096];
    let len = rse
        .get_platform_token(&challenge48(), &mut token, Some(&mut window))
        .unwrap();
    assert_eq!(len, 1500);
    assert_eq!(&token[..len], &token_bytes(1500)[..]);
    #[rustfmt::skip]
    let golden: Vec<u8> = vec![
        0x12, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // SFCP header, message id 0
        0x01, 0x00, 0x00, 0x00,                         // PSA header: pointer access
        0x11, 0x01, 0x00, 0x40,                         // handle
        0xEA, 0x03, 0x01, 0x01,                         // ctrl_param
        0x30, 0x00, 0x00, 0x00,                         // io_sizes[0] = 48
        0x00, 0x10, 0x00, 0x00,                         // io_sizes[1] = 4096
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // io_sizes[2..4]
        0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, // host_ptrs[0] = 0x80000 (window + 0)
        0x30, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, // host_ptrs[1] = 0x80030 (window + 48)
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // host_ptrs[2]
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // host_ptrs[3]
    ];
    let req = sim.last_request();
    assert_eq!(req.raw, golden);
    assert_eq!(req.inputs, vec![challenge48().to_vec()]);
    // Reply is the 32-byte header only: one transfer.
    assert_eq!(sim.state().outbound_transfers_sent, 1);
}

#[test]
fn pointer_access_without_window_is_refused_before_sending() {
    let sim = Sim::new(
        Wire::Sfcp,
        CHANNELS,
        Some(attestation_service(Wire::Sfcp, 10)),
    );
    let mut config = Config::rdv3_sfcp(SPIN);
    config.transfer = TransferPolicy::PointerAccess;
    let mut rse = client(&sim, config);
    let mut key = [0u8; 48];
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::InvalidCall(CallError::NoDmaWindow))
    );
    assert!(sim.state().requests.is_empty());
}

#[test]
fn like_tfa_picks_pointer_access_for_the_key_and_embed_for_small_calls() {
    let sim = Sim::new(Wire::Sfcp, CHANNELS, None);
    let mut config = Config::rdv3_sfcp(SPIN);
    config.transfer = TransferPolicy::LikeTfA;
    let mut rse = client(&sim, config);
    // Key reply: 4 + 12 + 48 = 64 > 56 bytes, so TF-A uses pointer access.
    sim.set_responder(attestation_service(Wire::Sfcp, 10));
    let mut window = sim.window();
    let mut key = [0u8; 48];
    rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, Some(&mut window))
        .unwrap();
    assert_eq!(key, RAK);
    assert_eq!(sim.last_request().psa_protocol, 1);

    // 4 + 16 + 8 = 28 and 4 + 12 + 8 = 24 bytes: embedded.
    sim.set_responder(Box::new(|req, host| {
        Some(reply(Wire::Sfcp, req, 0, &[&[7; 8]], host))
    }));
    let mut out = [0u8; 8];
    let mut outputs: [&mut [u8]; 1] = [&mut out];
    rse.psa_call(
        PsaCall {
            handle: 0x4000_0105,
            call_type: 7,
            inputs: &[&[1, 2, 3, 4, 5, 6, 7, 8]],
            outputs: &mut outputs,
        },
        None,
    )
    .unwrap();
    assert_eq!(sim.last_request().psa_protocol, 0);
    assert_eq!(out, [7; 8]);
}

#[test]
fn message_ids_count_up() {
    let (sim, mut rse) = setup(100);
    let mut key = [0u8; 48];
    for _ in 0..3 {
        rse.get_delegated_key(RakHashAlgorithm::Sha384, &mut key, None)
            .unwrap();
    }
    let ids: Vec<u8> = sim.state().requests.iter().map(|r| r.message_id).collect();
    assert_eq!(ids, [0, 1, 2]);
    // SHA-384 selected: PSA_ALG_SHA_384 = 0x0200000A.
    assert_eq!(sim.last_request().inputs[2], [0x0A, 0x00, 0x00, 0x02]);
}

#[test]
fn psa_error_statuses_are_mapped() {
    let cases = [
        (-129, PsaError::ProgrammerError),
        (-133, PsaError::NotPermitted),
        (-134, PsaError::NotSupported),
        (-135, PsaError::InvalidArgument),
        (-137, PsaError::BadState),
        (-138, PsaError::BufferTooSmall),
        (-144, PsaError::ServiceFailure),
        (-145, PsaError::CommunicationFailure),
        (-147, PsaError::HardwareFailure),
        (-999, PsaError::Other(-999)),
        (3, PsaError::Other(3)),
    ];
    for (status, expected) in cases {
        let sim = Sim::new(Wire::Sfcp, CHANNELS, None);
        sim.set_responder(Box::new(move |req, host| {
            Some(reply(Wire::Sfcp, req, status, &[], host))
        }));
        let mut rse = client(&sim, Config::rdv3_sfcp(SPIN));
        let mut token = [0u8; 64];
        assert_eq!(
            rse.get_platform_token(&[0; 32], &mut token, None),
            Err(Error::Service(expected))
        );
        assert_eq!(expected.status(), status);
        assert!(sim.idle());
    }
}

#[test]
fn sfcp_protocol_error_reply_is_reported() {
    let (sim, mut rse) = setup(10);
    sim.set_responder(Box::new(|req, _| Some(sfcp_error_reply(req, 6))));
    let mut key = [0u8; 48];
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::SfcpProtocol(SfcpProtocolError::TryAgainLater))
    );
    sim.set_responder(Box::new(|req, _| Some(sfcp_error_reply(req, 11))));
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::SfcpProtocol(SfcpProtocolError::InvalidApplicationId))
    );
    assert!(sim.idle());
}

#[test]
fn rse_that_never_acks_times_out() {
    let (sim, mut rse) = setup(10);
    sim.state().never_ack = true;
    let mut key = [0u8; 48];
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::Mhu(MhuError::Timeout(Wait::Ack)))
    );
}

#[test]
fn rse_that_never_answers_times_out() {
    let sim = Sim::new(Wire::Sfcp, CHANNELS, Some(Box::new(|_, _| None)));
    let mut rse = client(&sim, Config::rdv3_sfcp(SPIN));
    let mut key = [0u8; 48];
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::Mhu(MhuError::Timeout(Wait::Reply)))
    );
    assert_eq!(sim.state().requests.len(), 1);
}

#[test]
fn slow_rse_is_waited_for_within_the_spin_limit() {
    let (sim, mut rse) = setup(10);
    sim.state().reply_delay = SPIN - 2;
    let mut key = [0u8; 48];
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Ok(48)
    );
    sim.state().reply_delay = SPIN + 1;
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::Mhu(MhuError::Timeout(Wait::Reply)))
    );
}

#[test]
fn late_reply_blocks_the_next_send_until_discarded() {
    let (sim, mut rse) = setup(10);
    sim.state().reply_delay = SPIN + 1;
    let mut key = [0u8; 48];
    assert!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None)
            .is_err()
    );
    // The reply shows up after the call gave up.
    sim.state().reply_delay = 0;
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::Mhu(MhuError::ReceiverBusy))
    );
    assert_eq!(rse.discard_pending(), Ok(Some(24 + 48)));
    assert_eq!(rse.discard_pending(), Ok(None));
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Ok(48)
    );
    // Message ids kept counting: the stale reply (id 0) was not taken for
    // the reply to message 2.
    let ids: Vec<u8> = sim.state().requests.iter().map(|r| r.message_id).collect();
    assert_eq!(ids, [0, 2]);
}

#[test]
fn token_larger_than_the_buffer_is_rejected_and_the_link_stays_usable() {
    let (sim, mut rse) = setup(10);
    // A reply claiming 300 token bytes for a 100-byte buffer.
    sim.set_responder(Box::new(|req, host| {
        Some(reply(Wire::Sfcp, req, 0, &[&token_bytes(300)], host))
    }));
    let mut token = [0u8; 100];
    assert_eq!(
        rse.get_platform_token(&[1; 32], &mut token, None),
        Err(Error::OutputTooSmall {
            needed: 300,
            capacity: 100
        })
    );
    assert!(sim.idle(), "the oversized reply was drained");
    sim.set_responder(attestation_service(Wire::Sfcp, 80));
    assert_eq!(rse.get_platform_token(&[1; 32], &mut token, None), Ok(80));
    assert_eq!(&token[..80], &token_bytes(80)[..]);
}

#[test]
fn well_behaved_rse_refuses_a_small_buffer() {
    let (sim, mut rse) = setup(2000);
    let mut token = [0u8; 1000];
    assert_eq!(
        rse.get_platform_token(&[1; 64], &mut token, None),
        Err(Error::Service(PsaError::BufferTooSmall))
    );
    assert_eq!(sim.last_request().io_sizes[1], 1000);
}

/// Rewrites a reply.
type Mutation = Box<dyn Fn(&mut Vec<u8>)>;

/// Runs one key call against a reply rewritten by `mutate`.
fn key_call_with(mutate: impl Fn(&mut Vec<u8>) + 'static) -> (Sim, Result<usize, Error>) {
    let sim = Sim::new(Wire::Sfcp, CHANNELS, None);
    sim.set_responder(Box::new(move |req, host| {
        let mut r = reply(Wire::Sfcp, req, 0, &[&RAK], host);
        mutate(&mut r);
        Some(r)
    }));
    let mut rse = client(&sim, Config::rdv3_sfcp(SPIN));
    let mut key = [0u8; 48];
    let result = rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None);
    (sim, result)
}

#[test]
fn malformed_replies_are_rejected() {
    let malformed = |m: Malformed| Err(Error::MalformedReply(m));
    let cases: Vec<(Mutation, Result<usize, Error>)> = vec![
        // Byte 3: message id.
        (
            Box::new(|r| r[3] = 9),
            malformed(Malformed::Sfcp(SfcpReplyFault::MessageId {
                expected: 0,
                got: 9,
            })),
        ),
        // Bytes 1/2: sender (must be us, node 1) and receiver (the RSE, 0).
        (
            Box::new(|r| r[1] = 2),
            malformed(Malformed::Sfcp(SfcpReplyFault::Nodes {
                sender: 2,
                receiver: 0,
            })),
        ),
        // Byte 0: version bits [2:0].
        (
            Box::new(|r| r[0] = 0x91),
            malformed(Malformed::Sfcp(SfcpReplyFault::ProtocolVersion(1))),
        ),
        // Byte 0: a message (type 0b00) instead of a reply.
        (
            Box::new(|r| r[0] = 0x12),
            malformed(Malformed::Sfcp(SfcpReplyFault::PacketType(
                PacketType::MsgNeedsReply,
            ))),
        ),
        // Byte 0: cryptography bit 5.
        (
            Box::new(|r| r[0] |= 0x20),
            malformed(Malformed::Sfcp(SfcpReplyFault::Cryptography)),
        ),
        // Byte 0: ID extension dropped.
        (
            Box::new(|r| r[0] &= !0x10),
            malformed(Malformed::Sfcp(SfcpReplyFault::IdExtension)),
        ),
        // Bytes 4..6: client id.
        (
            Box::new(|r| r[4] = 2),
            malformed(Malformed::Sfcp(SfcpReplyFault::ClientId(2))),
        ),
        // Bytes 6..8: application id.
        (
            Box::new(|r| r[6] = 5),
            malformed(Malformed::Sfcp(SfcpReplyFault::ApplicationId(5))),
        ),
        // Byte 8: PSA protocol_ver differs from the message's (embed).
        (
            Box::new(|r| r[8] = 1),
            malformed(Malformed::PsaProtocol {
                expected: 0,
                got: 1,
            }),
        ),
        // Truncated inside the header.
        (
            Box::new(|r| r.truncate(20)),
            malformed(Malformed::Truncated { len: 20 }),
        ),
        // Truncated payload: out_size says 48, only 40 bytes follow.
        (
            Box::new(|r| r.truncate(24 + 40)),
            malformed(Malformed::Length {
                len: 64,
                expected: 72,
            }),
        ),
        // Trailing garbage.
        (
            Box::new(|r| r.extend_from_slice(&[0; 4])),
            malformed(Malformed::Length {
                len: 76,
                expected: 72,
            }),
        ),
        // out_size[1] (bytes 18..20) for an output the call does not have.
        (
            Box::new(|r| r[18] = 1),
            malformed(Malformed::UnexpectedOutput { index: 1 }),
        ),
        // Key of another size (out_size[0] = 32 and 32 bytes).
        (
            Box::new(|r| {
                r[16] = 32;
                r.truncate(24 + 32);
            }),
            Err(Error::UnexpectedKeySize(32)),
        ),
        // A protocol error reply must be exactly 8 bytes.
        (
            Box::new(|r| r[0] = 0xD2),
            malformed(Malformed::Sfcp(SfcpReplyFault::ErrorReplySize(72))),
        ),
    ];
    for (i, (mutate, expected)) in cases.into_iter().enumerate() {
        let (sim, result) = key_call_with(mutate);
        assert_eq!(result, expected, "case {i}");
        assert!(sim.idle(), "case {i}: reply drained");
    }
}

#[test]
fn empty_reply_is_rejected() {
    let sim = Sim::new(
        Wire::Sfcp,
        CHANNELS,
        Some(Box::new(|_, _| Some(Vec::new()))),
    );
    let mut rse = client(&sim, Config::rdv3_sfcp(SPIN));
    let mut key = [0u8; 48];
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::Mhu(MhuError::EmptyMessage))
    );
    assert!(sim.idle());
}

#[test]
fn four_channel_mhu_splits_every_few_words() {
    // 4 channels: the first transfer carries 2 data words, the others 3.
    let sim = Sim::new(Wire::Sfcp, 4, Some(attestation_service(Wire::Sfcp, 333)));
    let mut rse = client(&sim, Config::rdv3_sfcp(SPIN));
    let mut key = [0u8; 48];
    rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None)
        .unwrap();
    assert_eq!(key, RAK);
    assert_eq!(sim.last_request().raw, KEY_REQUEST);
    {
        let s = sim.state();
        // 10 data words: 2 + 3 + 3 + 2 -> 4 transfers.
        assert_eq!(s.inbound_transfers.len(), 4);
        assert_eq!(s.inbound_transfers[0], [37, 0x0000_0112, 0x0000_0001]);
        assert_eq!(s.inbound_transfers[1], [0, 0x4000_0111, 0x0301_03E9]);
        assert_eq!(s.inbound_transfers[3], [0x0000_0900, 0x0000_0002, 0]);
        // Reply 72 bytes = 18 words + length word = 19 words, 3 per transfer.
        assert_eq!(s.outbound_transfers_sent, 7);
    }
    let mut token = [0u8; 400];
    assert_eq!(rse.get_platform_token(&[5; 64], &mut token, None), Ok(333));
    assert_eq!(&token[..333], &token_bytes(333)[..]);
    assert!(sim.idle());
}

#[test]
fn message_ending_on_a_transfer_boundary_signals_once() {
    // 16 channels: 14 data words in the first transfer. A 56-byte message
    // ends exactly there: one transfer, no empty second one.
    let sim = Sim::new(Wire::Sfcp, CHANNELS, None);
    sim.set_responder(Box::new(|req, host| {
        Some(reply(Wire::Sfcp, req, 0, &[&[0x55; 4]], host))
    }));
    let mut rse = client(&sim, Config::rdv3_sfcp(SPIN));
    // 8 (SFCP) + 4 (PSA) + 16 (embed) + 28 input bytes = 56.
    let input = [0xAB; 28];
    let mut out = [0u8; 4];
    let mut outputs: [&mut [u8]; 1] = [&mut out];
    let sizes = rse
        .psa_call(
            PsaCall {
                handle: 0x4000_0105,
                call_type: 0,
                inputs: &[&input],
                outputs: &mut outputs,
            },
            None,
        )
        .unwrap();
    assert_eq!(sizes, [4, 0, 0, 0]);
    assert_eq!(out, [0x55; 4]);
    assert_eq!(sim.state().inbound_transfers.len(), 1);
    assert_eq!(sim.last_request().inputs, vec![input.to_vec()]);
}

#[test]
fn challenge_must_be_a_digest_size() {
    let (sim, mut rse) = setup(10);
    let mut token = [0u8; 100];
    for size in [0, 16, 33, 65] {
        assert_eq!(
            rse.get_platform_token(&vec![0; size], &mut token, None),
            Err(Error::InvalidChallengeSize(size))
        );
    }
    assert!(sim.state().requests.is_empty());
}

#[test]
fn calls_beyond_the_embed_limits_are_refused_before_sending() {
    let (sim, mut rse) = setup(10);
    let big = vec![0u8; 4000];
    let mut out = vec![0u8; 200];
    let mut outputs: [&mut [u8]; 1] = [&mut out];
    assert_eq!(
        rse.psa_call(
            PsaCall {
                handle: 1,
                call_type: 1,
                inputs: &[&big],
                outputs: &mut outputs,
            },
            None,
        ),
        Err(Error::InvalidCall(CallError::EmbedTooLarge {
            needed: 4200,
            capacity: 4140
        }))
    );
    let mut o: [&mut [u8]; 0] = [];
    assert_eq!(
        rse.psa_call(
            PsaCall {
                handle: 1,
                call_type: 1,
                inputs: &[&[1], &[2], &[3], &[4], &[5]],
                outputs: &mut o,
            },
            None,
        ),
        Err(Error::InvalidCall(CallError::TooManyIovecs))
    );
    assert_eq!(
        rse.psa_call(
            PsaCall {
                handle: 1,
                call_type: -1,
                inputs: &[],
                outputs: &mut o,
            },
            None,
        ),
        Err(Error::InvalidCall(CallError::CallType(-1)))
    );
    let mut short = [0u8; 47];
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut short, None),
        Err(Error::InvalidCall(CallError::OutputBufferTooSmall {
            needed: 48,
            size: 47
        }))
    );
    assert!(sim.state().requests.is_empty());
    // Refused calls used up no message ID.
    rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut [0u8; 48], None)
        .unwrap();
    assert_eq!(sim.last_request().message_id, 0);
}
