extern crate std;

use super::*;
use rampart_board_host::sim::{FEATURES, Machine, SimPas};
use rampart_board_host::{DRAM, RMM};
use rampart_granule::{Entry, GranuleService, Gst, entries_needed};
use std::cell::RefCell;
use std::rc::Rc;
use std::vec;
use std::vec::Vec;

/// What the fake RTT service saw and answers.
#[derive(Default)]
struct FakeRtt {
    init_roots: Vec<RttRequest>,
    roots_unused: bool,
}

struct Router<'t> {
    gst: &'t Gst<'t>,
    m: Machine,
    rtt: Rc<RefCell<FakeRtt>>,
}

impl Transport<GranuleProtocol> for Router<'_> {
    fn call(&mut self, r: GranuleRequest) -> Result<GranuleReply, rampart_ipc::IpcError> {
        Ok(GranuleService::new(self.gst, 0, self.m.clone(), self.m.clone()).handle(r))
    }
}

impl Transport<RttProtocol> for Router<'_> {
    fn call(&mut self, r: RttRequest) -> Result<RttReply, rampart_ipc::IpcError> {
        let mut rtt = self.rtt.borrow_mut();
        Ok(match r {
            RttRequest::InitRoots { .. } => {
                rtt.init_roots.push(r);
                RttReply::Done
            }
            RttRequest::RootsUnused { .. } => RttReply::Unused(rtt.roots_unused),
            RttRequest::Rmi(_) | RttRequest::SetRipas { .. } => {
                RttReply::Regs(rampart_ipc::rmi::result_regs(Err(RmiError::Input)))
            }
            RttRequest::Lookup { .. } | RttRequest::RipasRun { .. } => RttReply::Failed,
            RttRequest::InvalidateVmid { .. } => RttReply::Done,
        })
    }
}

const RD: u64 = 0x4200_0000;
const RTT: u64 = 0x4201_0000; // 64 KB aligned: fits up to 16 tables
const PARAMS: u64 = 0x4300_0000;

struct World {
    m: Machine,
    rtt: Rc<RefCell<FakeRtt>>,
    vmids: VmidSet,
    table: Vec<Entry>,
}

impl World {
    fn new() -> Self {
        Self {
            m: Machine::new(),
            rtt: Rc::new(RefCell::new(FakeRtt {
                roots_unused: true,
                ..Default::default()
            })),
            vmids: VmidSet::new(16),
            table: (0..entries_needed(&[DRAM])).map(|_| Entry::new()).collect(),
        }
    }
}

fn with_service<R>(
    w: &World,
    f: impl FnOnce(&mut RealmService<'_, Router<'_>, Machine>, &Gst<'_>) -> R,
) -> R {
    let gst = Gst::new(&[DRAM], &[RMM], &w.table).unwrap();
    let router = Router {
        gst: &gst,
        m: w.m.clone(),
        rtt: w.rtt.clone(),
    };
    let mut s = RealmService::new(router, w.m.clone(), &w.vmids, FEATURES);
    f(&mut s, &gst)
}

fn delegate(w: &World, addrs: &[u64]) {
    with_service(w, |s, _| {
        for &a in addrs {
            assert_eq!(
                s.granule(GranuleRequest::Rmi(Command::GranuleDelegate { addr: a })),
                GranuleReply::Rmi(Ok(Outputs::NONE))
            );
        }
    });
}

/// Writes RmiRealmParams for s2sz 40, level 1, 2 starting tables at RTT.
fn params(w: &World, edit: impl FnOnce(&mut [u8; READ_SIZE])) {
    let mut b = [0u8; READ_SIZE];
    b[0x08] = 40;
    b[0x18] = 1;
    b[0x20] = 1;
    b[0x400..0x440].copy_from_slice(&[0x5a; 64]);
    b[0x800..0x802].copy_from_slice(&7u16.to_le_bytes());
    b[0x808..0x810].copy_from_slice(&RTT.to_le_bytes());
    b[0x810..0x818].copy_from_slice(&1i64.to_le_bytes());
    b[0x818..0x81c].copy_from_slice(&2u32.to_le_bytes());
    edit(&mut b);
    w.m.poke(PARAMS, 0, &b);
}

fn state(w: &World, addr: u64) -> GranuleState {
    with_service(w, |_, gst| gst.query(addr).unwrap().0)
}

fn ready() -> World {
    let w = World::new();
    delegate(&w, &[RD, RTT, RTT + 0x1000]);
    params(&w, |_| {});
    w
}

fn create(w: &World) -> RmiResult<Outputs> {
    with_service(w, |s, _| s.create(RD, PARAMS))
}

#[test]
fn create_builds_the_rd_and_measures_the_params() {
    let w = ready();
    assert_eq!(create(&w), Ok(Outputs::NONE));
    assert_eq!(state(&w, RD), GranuleState::Rd);
    assert_eq!(state(&w, RTT), GranuleState::Rtt);
    assert_eq!(state(&w, RTT + 0x1000), GranuleState::Rtt);
    assert!(w.vmids.in_use(7));
    let rd = with_service(&w, |s, _| s.read(RD)).unwrap();
    assert_eq!(
        rd.info,
        RealmInfo {
            state: RealmState::New,
            s2sz: 40,
            rtt_level_start: 1,
            rtt_num_start: 2,
            rtt_base: RTT,
            hash: HashAlgo::Sha256,
            vmid: 7,
            rec_count: 0,
        }
    );
    assert_eq!(rd.rpv, [0x5a; 64]);
    // RimInit: the params with only the measured fields, hashed.
    let mut measured = [0u8; 4096];
    measured[0x08] = 40;
    measured[0x18] = 1;
    measured[0x20] = 1;
    assert_eq!(rd.rim, measure::hash(HashAlgo::Sha256, &measured));
    assert_eq!(
        w.rtt.borrow().init_roots,
        [RttRequest::InitRoots {
            rtt_base: RTT,
            count: 2,
            level: 1,
            s2sz: 40
        }]
    );
}

/// Asserts a REALM_CREATE fails with ERROR_INPUT and changes nothing.
fn refused(w: &World) {
    let before: Vec<GranuleState> = [RD, RTT, RTT + 0x1000]
        .iter()
        .map(|&a| state(w, a))
        .collect();
    let rd_bytes = w.m.peek(RD).0;
    assert_eq!(create(w), Err(RmiError::Input));
    let after: Vec<GranuleState> = [RD, RTT, RTT + 0x1000]
        .iter()
        .map(|&a| state(w, a))
        .collect();
    assert_eq!(before, after);
    assert_eq!(w.m.peek(RD).0, rd_bytes);
    assert!(w.rtt.borrow().init_roots.is_empty());
}

#[test]
fn create_refuses_bad_params_addresses() {
    for params_addr in [PARAMS + 8, 0x9000_0000, RMM.base] {
        let w = ready();
        if params_addr == RMM.base {
            w.m.set_realm(RMM.base);
        }
        let before = state(&w, RD);
        assert_eq!(
            with_service(&w, |s, _| s.create(RD, params_addr)),
            Err(RmiError::Input)
        );
        assert_eq!(state(&w, RD), before);
    }
    // params delegated (not NS).
    let w = ready();
    delegate(&w, &[PARAMS]);
    refused(&w);
    // params NS in the GST but not readable (the GPC says otherwise).
    let w = ready();
    w.m.set_realm(PARAMS);
    refused(&w);
}

#[test]
fn create_refuses_unsupported_or_malformed_params() {
    type Edit = fn(&mut [u8; READ_SIZE]);
    let edits: Vec<(&str, Edit)> = vec![
        ("reserved flag", |b| b[0] = 0b1000),
        ("lpa2 unsupported", |b| b[0] = 1),
        ("sve unsupported", |b| b[0] = 2),
        ("pmu unsupported", |b| b[0] = 4),
        ("s2sz too small", |b| b[0x08] = 31),
        ("s2sz too big", |b| b[0x08] = 49),
        ("no breakpoints", |b| b[0x18] = 0),
        ("too many breakpoints", |b| b[0x18] = 6),
        ("no watchpoints", |b| b[0x20] = 0),
        ("too many watchpoints", |b| b[0x20] = 4),
        ("unknown hash", |b| b[0x30] = 2),
        ("level 3", |b| b[0x810] = 3),
        ("level -1 without lpa2", |b| {
            b[0x810..0x818].copy_from_slice(&(-1i64).to_le_bytes())
        }),
        ("wrong table count", |b| b[0x818] = 1),
        ("rd inside the tables", |b| {
            b[0x808..0x810].copy_from_slice(&RD.to_le_bytes())
        }),
        ("tables misaligned", |b| {
            b[0x808..0x810].copy_from_slice(&(RTT + 0x1000).to_le_bytes())
        }),
    ];
    for (what, edit) in edits {
        let w = ready();
        params(&w, edit);
        let before = state(&w, RD);
        assert_eq!(create(&w), Err(RmiError::Input), "{what}");
        assert_eq!(state(&w, RD), before, "{what}");
        assert!(w.rtt.borrow().init_roots.is_empty(), "{what}");
        assert!(!w.vmids.in_use(7), "{what}");
    }
}

#[test]
fn create_refuses_granules_in_the_wrong_state_and_vmids_in_use() {
    // RD not delegated.
    let w = World::new();
    delegate(&w, &[RTT, RTT + 0x1000]);
    params(&w, |_| {});
    refused(&w);
    // Second starting table not delegated.
    let w = World::new();
    delegate(&w, &[RD, RTT]);
    params(&w, |_| {});
    refused(&w);
    assert_eq!(
        state(&w, RTT),
        GranuleState::Delegated,
        "the first table's lock was released untouched"
    );
    // RD unaligned.
    let w = ready();
    assert_eq!(
        with_service(&w, |s, _| s.create(RD + 0x10, PARAMS)),
        Err(RmiError::Input)
    );
    // VMID in use by another realm.
    let w = ready();
    assert!(w.vmids.claim(7));
    refused(&w);
    // VMID beyond an 8-bit VMID width.
    let mut w = ready();
    w.vmids = VmidSet::new(8);
    params(&w, |b| {
        b[0x800..0x802].copy_from_slice(&300u16.to_le_bytes())
    });
    refused(&w);
}

#[test]
fn activate_only_new_realms() {
    let w = ready();
    assert_eq!(
        with_service(&w, |s, _| s.activate(RD)),
        Err(RmiError::Input),
        "not an RD yet"
    );
    create(&w).unwrap();
    assert_eq!(
        with_service(&w, |s, _| s.activate(RTT)),
        Err(RmiError::Input),
        "an RTT is not an RD"
    );
    assert_eq!(
        with_service(&w, |s, _| s.activate(RD + 8)),
        Err(RmiError::Input)
    );
    assert_eq!(with_service(&w, |s, _| s.activate(RD)), Ok(Outputs::NONE));
    assert_eq!(
        with_service(&w, |s, _| s.read(RD)).unwrap().info.state,
        RealmState::Active
    );
    assert_eq!(
        with_service(&w, |s, _| s.activate(RD)),
        Err(RmiError::Realm(0))
    );
}

#[test]
fn destroy_returns_everything_scrubbed() {
    let w = ready();
    create(&w).unwrap();
    assert_eq!(
        with_service(&w, |s, _| s.destroy(RTT)),
        Err(RmiError::Input)
    );
    // A live starting table keeps the realm alive.
    w.rtt.borrow_mut().roots_unused = false;
    assert_eq!(
        with_service(&w, |s, _| s.destroy(RD)),
        Err(RmiError::Realm(0))
    );
    assert_eq!(state(&w, RD), GranuleState::Rd);
    // A REC (RD reference) keeps it alive too.
    w.rtt.borrow_mut().roots_unused = true;
    with_service(&w, |s, _| {
        assert!(s.lock(RD, GranuleState::Rd));
        s.granule(GranuleRequest::AddRef { addr: RD, delta: 1 });
        s.unlock(RD);
    });
    assert_eq!(
        with_service(&w, |s, _| s.destroy(RD)),
        Err(RmiError::Realm(0))
    );
    with_service(&w, |s, _| {
        assert!(s.lock(RD, GranuleState::Rd));
        s.granule(GranuleRequest::AddRef {
            addr: RD,
            delta: -1,
        });
        s.unlock(RD);
    });
    assert_eq!(with_service(&w, |s, _| s.destroy(RD)), Ok(Outputs::NONE));
    for a in [RD, RTT, RTT + 0x1000] {
        assert_eq!(state(&w, a), GranuleState::Delegated);
        assert_eq!(w.m.peek(a).0, [0u64; 512]);
        assert_eq!(w.m.pas(a), SimPas::Realm);
    }
    assert!(!w.vmids.in_use(7));
    // The VMID is free for the next realm.
    params(&w, |_| {});
    assert_eq!(create(&w), Ok(Outputs::NONE));
}

#[test]
fn rim_extensions_follow_the_descriptors() {
    let w = ready();
    params(&w, |b| b[0x30] = 1);
    create(&w).unwrap();
    let data = 0x4380_0000;
    delegate(&w, &[data]);
    w.m.poke(data, 0, b"kernel image");
    let before = with_service(&w, |s, _| s.read(RD)).unwrap().rim;
    with_service(&w, |s, _| {
        assert_eq!(
            s.handle(RealmRequest::MeasureData {
                rd: RD,
                data,
                ipa: 0x8000,
                measure_content: true
            }),
            RealmReply::Done
        );
    });
    let content = measure::hash(HashAlgo::Sha512, w.m.peek(data).bytes());
    let expected = measure::extend_data(HashAlgo::Sha512, &before, 0x8000, 1, &content);
    let after = with_service(&w, |s, _| s.read(RD)).unwrap().rim;
    assert_eq!(after, expected);
    with_service(&w, |s, _| {
        s.handle(RealmRequest::MeasureRipas {
            rd: RD,
            base: 0,
            top: 0x20_0000,
        })
    });
    let ripas = with_service(&w, |s, _| s.read(RD)).unwrap().rim;
    assert_eq!(
        ripas,
        measure::extend_ripas(HashAlgo::Sha512, &expected, 0, 0x20_0000)
    );
    // Unmeasured content: zeros in the descriptor.
    with_service(&w, |s, _| {
        s.handle(RealmRequest::MeasureData {
            rd: RD,
            data,
            ipa: 0,
            measure_content: false,
        })
    });
    let plain = with_service(&w, |s, _| s.read(RD)).unwrap().rim;
    assert_eq!(
        plain,
        measure::extend_data(HashAlgo::Sha512, &ripas, 0, 0, &[0; 64])
    );
    // Info answers the stored parameters; a non-RD answers Failed.
    assert!(matches!(
        with_service(&w, |s, _| s.handle(RealmRequest::Info { rd: RD })),
        RealmReply::Info(_)
    ));
    assert_eq!(
        with_service(&w, |s, _| s.handle(RealmRequest::Info { rd: 0x8000_0000 })),
        RealmReply::Failed
    );
}
