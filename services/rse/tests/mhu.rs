//! MHUv3 frame initialisation against the simulated registers.

mod common;

use common::*;
use rampart_rse::mhu::{Link, MhuError};
use rampart_rse::{Config, Error, RseClient};

#[test]
fn init_programs_both_frames_like_tfa() {
    let sim = Sim::new(Wire::Sfcp, 8, None);
    let (pbx, mbx) = sim.frames();
    let link = Link::new(pbx, mbx).unwrap();
    assert_eq!(link.postbox().channels(), 8);
    assert_eq!(link.mailbox().channels(), 8);
    assert_eq!(link.first_transfer_bytes(), 24);
    let s = sim.state();
    // Operational request (CTRL 0x100 bit 0) on both frames.
    assert_eq!(s.pbx_ctrl & 1, 1);
    assert_eq!(s.mbx_ctrl & 1, 1);
    // Postbox: transfer-ack interrupt cleared (INT_CLR 0x14) and disabled
    // (INT_EN 0x18), combined interrupt off (CTRL 0x1C), every channel.
    for ch in 0..8 {
        assert!(
            s.writes
                .contains(&(Side::Postbox, 0x1000 + 0x20 * ch + 0x14, 1))
        );
        assert_eq!(s.pbx_int_en[ch], 0);
        assert_eq!(s.pbx_ch_ctrl[ch], 0);
    }
    // Mailbox: data channels masked (MSK_SET 0x14), notification channel
    // unmasked (MSK_CLR 0x18) and in the combined interrupt (CTRL 0x1C).
    for ch in 0..7 {
        assert_eq!(s.mbx_mask[ch], u32::MAX);
        assert_eq!(s.mbx_ch_ctrl[ch], 0);
    }
    assert_eq!(s.mbx_mask[7], 0);
    assert_eq!(s.mbx_ch_ctrl[7], 1);
    assert!(
        s.writes
            .contains(&(Side::Mailbox, 0x1000 + 0x20 * 7 + 0x18, u32::MAX))
    );
}

#[test]
fn other_mhu_revisions_are_refused() {
    for (aidr, major, minor) in [(0x10, 1, 0), (0x21, 2, 1), (0x30, 3, 0)] {
        let sim = Sim::new(Wire::Sfcp, 16, None);
        sim.state().aidr = aidr;
        let (pbx, mbx) = sim.frames();
        assert_eq!(
            RseClient::new(pbx, mbx, Config::rdv3_sfcp(10)).err(),
            Some(Error::Mhu(MhuError::UnsupportedVersion { major, minor }))
        );
    }
}

#[test]
fn too_few_channels_are_refused() {
    let sim = Sim::new(Wire::Sfcp, 3, None);
    let (pbx, mbx) = sim.frames();
    assert_eq!(Link::new(pbx, mbx).err(), Some(MhuError::TooFewChannels(3)));
}

#[test]
fn identical_node_ids_are_refused() {
    let sim = Sim::new(Wire::Sfcp, 16, None);
    let (pbx, mbx) = sim.frames();
    let mut config = Config::rdv3_sfcp(10);
    config.sfcp.rse_node = config.sfcp.my_node;
    assert_eq!(
        RseClient::new(pbx, mbx, config).err(),
        Some(Error::InvalidCall(rampart_rse::CallError::InvalidConfig))
    );
}

#[test]
fn rdv3_addresses() {
    assert_eq!(rampart_rse::rdv3::AP_RSE_ROOT_MHU_V3_PBX, 0x2AB4_0000);
    assert_eq!(rampart_rse::rdv3::AP_RSE_ROOT_MHU_V3_MBX, 0x2AB5_0000);
}
