extern crate std;

use super::*;
use rampart_board_host::sim::{Machine, SimPas};
use rampart_board_host::{DRAM, RMM};
use std::vec::Vec;

fn table() -> Vec<Entry> {
    (0..entries_needed(&[DRAM])).map(|_| Entry::new()).collect()
}

const G: u64 = 0x4200_0000;

fn service<'t>(gst: &'t Gst<'t>, m: &Machine, cpu: u8) -> GranuleService<'t, Machine, Machine> {
    GranuleService::new(gst, cpu, m.clone(), m.clone())
}

#[test]
fn gst_sizing_and_bank_checks() {
    assert_eq!(entries_needed(&[DRAM]), (64 << 20) / 4096);
    let few: Vec<Entry> = (0..10).map(|_| Entry::new()).collect();
    assert_eq!(
        Gst::new(&[DRAM], &[], &few).err(),
        Some(GstError::TooSmall { need: 16384 })
    );
    let t = table();
    assert_eq!(
        Gst::new(&[Range::new(0x4000_0800, 0x1000)], &[], &t).err(),
        Some(GstError::BadBank)
    );
}

#[test]
fn delegate_moves_to_realm_and_zeroes() {
    let t = table();
    let gst = Gst::new(&[DRAM], &[RMM], &t).unwrap();
    let m = Machine::new();
    m.poke(G, 0, b"host secret");
    let mut s = service(&gst, &m, 0);
    assert_eq!(s.delegate(G), Ok(Outputs::NONE));
    assert_eq!(gst.query(G), Some((GranuleState::Delegated, 0)));
    assert_eq!(m.pas(G), SimPas::Realm);
    assert_eq!(m.peek(G).bytes()[..11], [0u8; 11]);
}

#[test]
fn delegate_failures_change_nothing() {
    let t = table();
    let gst = Gst::new(&[DRAM], &[RMM], &t).unwrap();
    let m = Machine::new();
    let mut s = service(&gst, &m, 0);
    // Unaligned; outside every bank; inside the RMM's own region.
    for bad in [
        G + 8,
        G + 0xfff,
        0x8000_0000,
        DRAM.end(),
        RMM.base,
        RMM.base + 0x1000,
    ] {
        assert_eq!(s.delegate(bad), Err(RmiError::Input), "{bad:#x}");
    }
    assert_eq!(m.leases_granted(), 0);
    // Already delegated.
    s.delegate(G).unwrap();
    assert_eq!(s.delegate(G), Err(RmiError::Input));
    assert_eq!(gst.query(G), Some((GranuleState::Delegated, 0)));
    // EL3 refuses (the granule is not NS, e.g. a secure carve-out): state stays.
    let other = G + 0x1000;
    m.set_realm(other);
    assert_eq!(s.delegate(other), Err(RmiError::Input));
    assert_eq!(gst.query(other), Some((GranuleState::Undelegated, 0)));
    // The lock was released on every path.
    assert_eq!(s.lock(other, GranuleState::Undelegated), Ok(()));
}

#[test]
fn undelegate_scrubs_and_returns_to_ns() {
    let t = table();
    let gst = Gst::new(&[DRAM], &[RMM], &t).unwrap();
    let m = Machine::new();
    let mut s = service(&gst, &m, 0);
    s.delegate(G).unwrap();
    m.poke(G, 100, b"realm secret");
    assert_eq!(s.undelegate(G), Ok(Outputs::NONE));
    assert_eq!(m.pas(G), SimPas::NonSecure);
    assert_eq!(m.peek(G).bytes()[100..112], [0u8; 12]);
    assert_eq!(gst.query(G), Some((GranuleState::Undelegated, 0)));
}

#[test]
fn undelegate_failures_change_nothing() {
    let t = table();
    let gst = Gst::new(&[DRAM], &[RMM], &t).unwrap();
    let m = Machine::new();
    let mut s = service(&gst, &m, 0);
    for bad in [G + 8, 0x8000_0000, RMM.base] {
        assert_eq!(s.undelegate(bad), Err(RmiError::Input));
    }
    assert_eq!(s.undelegate(G), Err(RmiError::Input), "not delegated");
    s.delegate(G).unwrap();
    // In use as an RD: not DELEGATED.
    s.lock(G, GranuleState::Delegated).unwrap();
    s.set_state(G, GranuleState::Rd).unwrap();
    s.unlock(G).unwrap();
    m.poke(G, 0, b"rd");
    assert_eq!(s.undelegate(G), Err(RmiError::Input));
    assert_eq!(gst.query(G), Some((GranuleState::Rd, 0)));
    assert_eq!(m.pas(G), SimPas::Realm);
    assert_eq!(&m.peek(G).bytes()[..2], b"rd");
}

#[test]
fn locks_states_and_refcounts() {
    let t = table();
    let gst = Gst::new(&[DRAM], &[RMM], &t).unwrap();
    let m = Machine::new();
    let mut cpu0 = service(&gst, &m, 0);
    let cpu1 = service(&gst, &m, 1);
    cpu0.delegate(G).unwrap();
    assert_eq!(
        cpu0.lock(G, GranuleState::Rd),
        Err(GranuleError::WrongState(GranuleState::Delegated))
    );
    assert_eq!(
        cpu0.lock(G + 1, GranuleState::Rd),
        Err(GranuleError::BadAddress)
    );
    cpu0.lock(G, GranuleState::Delegated).unwrap();
    // Only the holder may change or release it.
    assert_eq!(cpu1.unlock(G), Err(GranuleError::NotLocked));
    assert_eq!(cpu1.add_ref(G, 1), Err(GranuleError::NotLocked));
    cpu0.add_ref(G, 2).unwrap();
    assert_eq!(cpu0.add_ref(G, -3), Err(GranuleError::Refcount));
    cpu0.add_ref(G, -1).unwrap();
    cpu0.set_state(G, GranuleState::Rtt).unwrap();
    m.poke(G, 0, &[0xff; 8]);
    // Back to DELEGATED: scrubbed.
    cpu0.set_state(G, GranuleState::Delegated).unwrap();
    assert_eq!(m.peek(G).0[0], 0);
    cpu0.unlock(G).unwrap();
    assert_eq!(gst.query(G), Some((GranuleState::Delegated, 1)));
    assert_eq!(cpu1.unlock(G), Err(GranuleError::NotLocked));
}

#[test]
fn messages_reach_the_service() {
    use rampart_ipc::{Direct, Passing, Transport};
    let t = table();
    let gst = Gst::new(&[DRAM], &[RMM], &t).unwrap();
    let m = Machine::new();
    let mut s = service(&gst, &m, 0);
    let mut ipc = Direct::new(&mut s, Passing::Encoded);
    let call = |ipc: &mut Direct<_>, r| Transport::<GranuleProtocol>::call(ipc, r).unwrap();
    assert_eq!(
        call(
            &mut ipc,
            GranuleRequest::Rmi(Command::GranuleDelegate { addr: G })
        ),
        GranuleReply::Rmi(Ok(Outputs::NONE))
    );
    assert_eq!(
        call(&mut ipc, GranuleRequest::Query { addr: G }),
        GranuleReply::Info {
            state: GranuleState::Delegated,
            refcount: 0
        }
    );
    assert_eq!(
        call(
            &mut ipc,
            GranuleRequest::Rmi(Command::RealmActivate { rd: G })
        ),
        GranuleReply::Rmi(Err(RmiError::Input))
    );
    assert_eq!(
        call(&mut ipc, GranuleRequest::Query { addr: 3 }),
        GranuleReply::Error(GranuleError::BadAddress)
    );
}
