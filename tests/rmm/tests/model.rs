//! Model-based test of the RMI surface: random sequences of RMI calls run
//! against the real services (granule, realm, RTT) and against a small
//! reference model of the granule and realm state machines; after every
//! call the status (RMI status and index) and every granule's state must
//! agree. The model encodes the specification's failure conditions and
//! their precedence (RMM spec 1.0, B4.3) for the commands it drives.

use proptest::prelude::*;
use rampart_ipc::granule::GranuleState;
use rampart_ipc::rmi::{self, RmiError};
use rampart_rmm_tests::Rmm;
use std::collections::HashMap;

const POOL: u64 = 0x4200_0000;
const GRANULES: usize = 10;
const PARAMS: u64 = 0x4300_0000;
const MB2: u64 = 2 << 20;

fn addr(g: usize) -> u64 {
    POOL + g as u64 * 0x1000
}

#[derive(Clone, Debug)]
enum Op {
    Delegate(usize),
    Undelegate(usize),
    RealmCreate {
        rd: usize,
        rtt: usize,
        vmid: u16,
    },
    RealmActivate(usize),
    RealmDestroy(usize),
    RttCreate {
        rd: usize,
        rtt: usize,
        level: u64,
        slot: u64,
    },
    RttDestroy {
        rd: usize,
        level: u64,
        slot: u64,
    },
    DataCreateUnknown {
        rd: usize,
        data: usize,
        slot: u64,
        page: u64,
    },
    DataDestroy {
        rd: usize,
        slot: u64,
        page: u64,
    },
    Unaligned(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let g = 0..GRANULES;
    prop_oneof![
        3 => g.clone().prop_map(Op::Delegate),
        1 => g.clone().prop_map(Op::Undelegate),
        2 => (g.clone(), g.clone(), 0u16..3).prop_map(|(rd, rtt, vmid)| Op::RealmCreate { rd, rtt, vmid }),
        1 => g.clone().prop_map(Op::RealmActivate),
        1 => g.clone().prop_map(Op::RealmDestroy),
        3 => (g.clone(), g.clone(), 2u64..4, 0u64..2).prop_map(|(rd, rtt, level, slot)| Op::RttCreate { rd, rtt, level, slot }),
        1 => (g.clone(), 2u64..4, 0u64..2).prop_map(|(rd, level, slot)| Op::RttDestroy { rd, level, slot }),
        3 => (g.clone(), g.clone(), 0u64..2, 0u64..3).prop_map(|(rd, data, slot, page)| Op::DataCreateUnknown { rd, data, slot, page }),
        1 => (g.clone(), 0u64..2, 0u64..3).prop_map(|(rd, slot, page)| Op::DataDestroy { rd, slot, page }),
        1 => prop_oneof![
            Just(rmi::GRANULE_DELEGATE),
            Just(rmi::REALM_ACTIVATE),
            Just(rmi::REALM_DESTROY),
            Just(rmi::GRANULE_UNDELEGATE)
        ]
        .prop_map(Op::Unaligned),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RealmState {
    New,
    Active,
}

#[derive(Clone, Debug)]
struct Realm {
    state: RealmState,
    root: usize,
    vmid: u16,
    l2: Option<usize>,
    l3: [Option<usize>; 2],
    data: [[Option<usize>; 3]; 2],
}

#[derive(Default)]
struct Model {
    granules: [Option<GranuleState>; GRANULES],
    realms: HashMap<usize, Realm>,
}

type Expect = Result<(), RmiError>;

impl Model {
    fn state(&self, g: usize) -> GranuleState {
        self.granules[g].unwrap_or(GranuleState::Undelegated)
    }

    fn set(&mut self, g: usize, s: GranuleState) {
        self.granules[g] = Some(s);
    }

    fn vmid_used(&self, vmid: u16) -> bool {
        self.realms.values().any(|r| r.vmid == vmid)
    }

    /// Applies `op` to the model and returns what the RMM must answer.
    fn apply(&mut self, op: &Op) -> Expect {
        use GranuleState::*;
        match *op {
            Op::Delegate(g) => {
                if self.state(g) != Undelegated {
                    return Err(RmiError::Input);
                }
                self.set(g, Delegated);
                Ok(())
            }
            Op::Undelegate(g) => {
                if self.state(g) != Delegated {
                    return Err(RmiError::Input);
                }
                self.set(g, Undelegated);
                Ok(())
            }
            Op::RealmCreate { rd, rtt, vmid } => {
                if rd == rtt
                    || self.state(rd) != Delegated
                    || self.state(rtt) != Delegated
                    || self.vmid_used(vmid)
                {
                    return Err(RmiError::Input);
                }
                self.set(rd, Rd);
                self.set(rtt, Rtt);
                let realm = Realm {
                    state: RealmState::New,
                    root: rtt,
                    vmid,
                    l2: None,
                    l3: [None; 2],
                    data: [[None; 3]; 2],
                };
                self.realms.insert(rd, realm);
                Ok(())
            }
            Op::RealmActivate(rd) => {
                let realm = self.realms.get_mut(&rd).ok_or(RmiError::Input)?;
                if realm.state != RealmState::New {
                    return Err(RmiError::Realm(0));
                }
                realm.state = RealmState::Active;
                Ok(())
            }
            Op::RealmDestroy(rd) => {
                let realm = self.realms.get(&rd).ok_or(RmiError::Input)?;
                if realm.l2.is_some() {
                    return Err(RmiError::Realm(0));
                }
                let root = realm.root;
                self.realms.remove(&rd);
                self.set(rd, Delegated);
                self.set(root, Delegated);
                Ok(())
            }
            Op::RttCreate {
                rd,
                rtt,
                level,
                slot,
            } => {
                if rtt == rd || self.state(rtt) != Delegated || !self.realms.contains_key(&rd) {
                    return Err(RmiError::Input);
                }
                let realm = self.realms.get_mut(&rd).unwrap();
                if level == 2 {
                    if slot != 0 {
                        // ipa 2 MB is not aligned to a level-2 table's 1 GB span.
                        return Err(RmiError::Input);
                    }
                    if realm.l2.is_some() {
                        return Err(RmiError::Rtt(1));
                    }
                    realm.l2 = Some(rtt);
                } else {
                    if realm.l2.is_none() {
                        return Err(RmiError::Rtt(1));
                    }
                    if realm.l3[slot as usize].is_some() {
                        return Err(RmiError::Rtt(2));
                    }
                    realm.l3[slot as usize] = Some(rtt);
                }
                self.set(rtt, Rtt);
                Ok(())
            }
            Op::RttDestroy { rd, level, slot } => {
                let realm = self.realms.get_mut(&rd).ok_or(RmiError::Input)?;
                if level == 2 {
                    if slot != 0 {
                        return Err(RmiError::Input);
                    }
                    let Some(l2) = realm.l2 else {
                        return Err(RmiError::Rtt(1));
                    };
                    if realm.l3.iter().any(Option::is_some) {
                        return Err(RmiError::Rtt(2));
                    }
                    realm.l2 = None;
                    self.set(l2, Delegated);
                } else {
                    if realm.l2.is_none() {
                        return Err(RmiError::Rtt(1));
                    }
                    let Some(l3) = realm.l3[slot as usize] else {
                        return Err(RmiError::Rtt(2));
                    };
                    if realm.data[slot as usize].iter().any(Option::is_some) {
                        return Err(RmiError::Rtt(3));
                    }
                    realm.l3[slot as usize] = None;
                    self.set(l3, Delegated);
                }
                Ok(())
            }
            Op::DataCreateUnknown {
                rd,
                data,
                slot,
                page,
            } => {
                if data == rd || self.state(data) != Delegated || !self.realms.contains_key(&rd) {
                    return Err(RmiError::Input);
                }
                let realm = self.realms.get_mut(&rd).unwrap();
                if realm.l2.is_none() {
                    return Err(RmiError::Rtt(1));
                }
                if realm.l3[slot as usize].is_none() {
                    return Err(RmiError::Rtt(2));
                }
                let entry = &mut realm.data[slot as usize][page as usize];
                if entry.is_some() {
                    return Err(RmiError::Rtt(3));
                }
                *entry = Some(data);
                self.set(data, Data);
                Ok(())
            }
            Op::DataDestroy { rd, slot, page } => {
                let realm = self.realms.get_mut(&rd).ok_or(RmiError::Input)?;
                if realm.l2.is_none() {
                    return Err(RmiError::Rtt(1));
                }
                if realm.l3[slot as usize].is_none() {
                    return Err(RmiError::Rtt(2));
                }
                let Some(g) = realm.data[slot as usize][page as usize].take() else {
                    return Err(RmiError::Rtt(3));
                };
                self.set(g, Delegated);
                Ok(())
            }
            Op::Unaligned(_) => Err(RmiError::Input),
        }
    }
}

/// RmiRealmParams: s2sz 39, start level 1 with one table, SHA-256.
fn write_params(rmm: &Rmm, rtt: u64, vmid: u16) {
    let mut b = [0u8; 0x820];
    b[0x08] = 39;
    b[0x18] = 1;
    b[0x20] = 1;
    b[0x800..0x802].copy_from_slice(&vmid.to_le_bytes());
    b[0x808..0x810].copy_from_slice(&rtt.to_le_bytes());
    b[0x810..0x818].copy_from_slice(&1i64.to_le_bytes());
    b[0x818..0x81c].copy_from_slice(&1u32.to_le_bytes());
    rmm.machine.poke(PARAMS, 0, &b);
}

fn run(rmm: &Rmm, op: &Op) -> [u64; 5] {
    match *op {
        Op::Delegate(g) => rmm.call(rmi::GRANULE_DELEGATE, &[addr(g)]),
        Op::Undelegate(g) => rmm.call(rmi::GRANULE_UNDELEGATE, &[addr(g)]),
        Op::RealmCreate { rd, rtt, vmid } => {
            write_params(rmm, addr(rtt), vmid);
            rmm.call(rmi::REALM_CREATE, &[addr(rd), PARAMS])
        }
        Op::RealmActivate(rd) => rmm.call(rmi::REALM_ACTIVATE, &[addr(rd)]),
        Op::RealmDestroy(rd) => rmm.call(rmi::REALM_DESTROY, &[addr(rd)]),
        Op::RttCreate {
            rd,
            rtt,
            level,
            slot,
        } => rmm.call(rmi::RTT_CREATE, &[addr(rd), addr(rtt), slot * MB2, level]),
        Op::RttDestroy { rd, level, slot } => {
            rmm.call(rmi::RTT_DESTROY, &[addr(rd), slot * MB2, level])
        }
        Op::DataCreateUnknown {
            rd,
            data,
            slot,
            page,
        } => rmm.call(
            rmi::DATA_CREATE_UNKNOWN,
            &[addr(rd), addr(data), slot * MB2 + page * 0x1000],
        ),
        Op::DataDestroy { rd, slot, page } => {
            rmm.call(rmi::DATA_DESTROY, &[addr(rd), slot * MB2 + page * 0x1000])
        }
        Op::Unaligned(fid) => rmm.call(fid, &[POOL + 0x10]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn rmm_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let rmm = Rmm::new();
        let mut model = Model::default();
        for (step, op) in ops.iter().enumerate() {
            let expected = model.apply(op);
            let got = run(&rmm, op);
            let want = match expected {
                Ok(()) => rmi::SUCCESS,
                Err(e) => e.reg(),
            };
            prop_assert_eq!(got[0], want, "step {}: {:?}", step, op);
            for g in 0..GRANULES {
                let (state, _) = rmm.state(addr(g)).unwrap();
                prop_assert_eq!(state, model.state(g), "step {}: {:?}: granule {}", step, op, g);
            }
            for vmid in 0..3 {
                prop_assert_eq!(rmm.vmid_in_use(vmid), model.vmid_used(vmid), "step {}: vmid {}", step, vmid);
            }
        }
    }
}
