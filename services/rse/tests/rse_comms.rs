//! rse_comms (TF-A v2.14.0) calls against the simulated RSE.

mod common;

use common::*;
use rampart_rse::{
    Config, Error, Malformed, PsaError, RakHashAlgorithm, RseClient, RseCommsReplyFault,
    TransferPolicy,
};

const SPIN: u32 = 1000;

fn setup(token_len: usize) -> (Sim, RseClient<Frame>) {
    let sim = Sim::new(
        Wire::RseComms,
        16,
        Some(attestation_service(Wire::RseComms, token_len)),
    );
    let (pbx, mbx) = sim.frames();
    let rse = RseClient::new(pbx, mbx, Config::rdv3_rse_comms(SPIN)).unwrap();
    (sim, rse)
}

/// GET_DELEGATED_KEY, first call (seq 1), embedded.
#[rustfmt::skip]
const KEY_REQUEST: [u8; 29] = [
    0x00,                   // protocol_ver 0 (embed)
    0x01,                   // seq_num 1 (TF-A starts at 1)
    0x01, 0x00,             // client_id 1
    0x11, 0x01, 0x00, 0x40, // handle 0x40000111
    0xE9, 0x03, 0x01, 0x03, // ctrl_param: type 1001, out_len 1, in_len 3
    0x01, 0x00, 0x04, 0x00, 0x04, 0x00, 0x30, 0x00, // io_size 1, 4, 4, 48
    0x12,                   // PSA_ECC_FAMILY_SECP_R1
    0x80, 0x01, 0x00, 0x00, // 384
    0x0B, 0x00, 0x00, 0x02, // PSA_ALG_SHA_512 0x0200000B
];

#[test]
fn delegated_key_request_bytes_and_reply() {
    let (sim, mut rse) = setup(10);
    let mut key = [0u8; 48];
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha512, &mut key, None),
        Ok(48)
    );
    assert_eq!(key, RAK);
    assert_eq!(sim.last_request().raw, KEY_REQUEST);
    // 29 bytes: length word plus 8 data words, one transfer.
    assert_eq!(sim.state().inbound_transfers.len(), 1);
    assert_eq!(
        sim.state().inbound_transfers[0][..9],
        [
            29,
            0x0001_0100,
            0x4000_0111,
            0x0301_03E9,
            0x0004_0001,
            0x0030_0004,
            0x0001_8012,
            0x0000_0B00,
            0x0000_0002
        ]
    );
    assert!(sim.idle());
}

#[test]
fn platform_token_request_bytes_and_reply() {
    let (sim, mut rse) = setup(2500);
    let challenge = [0x5A; 32];
    let mut token = vec![0u8; 4096];
    assert_eq!(
        rse.get_platform_token(&challenge, &mut token, None),
        Ok(2500)
    );
    assert_eq!(&token[..2500], &token_bytes(2500)[..]);
    #[rustfmt::skip]
    let mut golden = vec![
        0x00, 0x01, 0x01, 0x00, // embed, seq 1, client 1
        0x11, 0x01, 0x00, 0x40, // handle
        0xEA, 0x03, 0x01, 0x01, // ctrl_param: type 1002, out_len 1, in_len 1
        0x20, 0x00,             // io_size[0] = 32
        0x00, 0x10,             // io_size[1] = 4096: the whole buffer fits 4140 - 32
        0x00, 0x00, 0x00, 0x00,
    ];
    golden.extend_from_slice(&challenge);
    assert_eq!(sim.last_request().raw, golden);
    assert!(sim.idle());
}

#[test]
fn sequence_numbers_count_up_and_are_checked() {
    let (sim, mut rse) = setup(10);
    let mut key = [0u8; 48];
    for _ in 0..3 {
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None)
            .unwrap();
    }
    let seqs: Vec<u8> = sim.state().requests.iter().map(|r| r.seq_num).collect();
    assert_eq!(seqs, [1, 2, 3]);

    // A reply carrying another sequence number (byte 1) is stale.
    sim.set_responder(Box::new(|req, host| {
        let mut r = reply(Wire::RseComms, req, 0, &[&RAK], host);
        r[1] = req.seq_num.wrapping_sub(1);
        Some(r)
    }));
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::MalformedReply(Malformed::RseComms(
            RseCommsReplyFault::SeqNum {
                expected: 4,
                got: 3
            }
        )))
    );
    sim.set_responder(Box::new(|req, host| {
        let mut r = reply(Wire::RseComms, req, 0, &[&RAK], host);
        r[2] = 7; // client id
        Some(r)
    }));
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::MalformedReply(Malformed::RseComms(
            RseCommsReplyFault::ClientId(7)
        )))
    );
    sim.set_responder(Box::new(|req, host| {
        let mut r = reply(Wire::RseComms, req, 0, &[&RAK], host);
        r.truncate(10);
        Some(r)
    }));
    assert_eq!(
        rse.get_delegated_key(RakHashAlgorithm::Sha256, &mut key, None),
        Err(Error::MalformedReply(Malformed::Truncated { len: 10 }))
    );
    assert!(sim.idle());
}

#[test]
fn psa_errors_are_mapped() {
    let (sim, mut rse) = setup(10);
    sim.set_responder(Box::new(|req, host| {
        Some(reply(Wire::RseComms, req, -135, &[], host))
    }));
    let mut token = [0u8; 64];
    assert_eq!(
        rse.get_platform_token(&[0; 48], &mut token, None),
        Err(Error::Service(PsaError::InvalidArgument))
    );
}

#[test]
fn pointer_access_over_rse_comms() {
    let sim = Sim::new(
        Wire::RseComms,
        16,
        Some(attestation_service(Wire::RseComms, 700)),
    );
    let (pbx, mbx) = sim.frames();
    let mut config = Config::rdv3_rse_comms(SPIN);
    config.transfer = TransferPolicy::LikeTfA;
    let mut rse = RseClient::new(pbx, mbx, config).unwrap();
    let mut window = sim.window();
    let mut token = vec![0u8; 4096];
    assert_eq!(
        rse.get_platform_token(&[9; 64], &mut token, Some(&mut window)),
        Ok(700)
    );
    assert_eq!(&token[..700], &token_bytes(700)[..]);
    let req = sim.last_request();
    // rse_comms header (4) + pointer-access body (56).
    assert_eq!(req.raw.len(), 60);
    assert_eq!(&req.raw[..4], &[0x01, 0x01, 0x01, 0x00]);
    assert_eq!(req.host_ptrs[..2], [0x8_0000, 0x8_0040]);
    assert_eq!(req.io_sizes[..2], [64, 4096]);
}
