//! Host tests of the RTT service against the real granule service (over a
//! GST and the simulated machine) and a fake realm service.
//!
//! Every failure test checks the exact status and index, the outputs a
//! failure still returns, and that nothing changed: GST state and
//! refcount and the full contents of every granule the test created, the
//! realm service's records (no measurement), the TLBI log; and that no
//! granule lock was left held (after every command, failed or not).
extern crate std;

mod create;
mod data;
mod destroy;
mod fold;
mod read;
mod ripas;
mod scenario;
mod service;
mod unprotected;

use super::s2tt::{RMI_ASSIGNED, RMI_TABLE, RMI_UNASSIGNED};
use super::*;
use rampart_board_host::sim::Machine;
use rampart_board_host::{DRAM, RMM};
use rampart_granule::{Entry, GranuleService, Gst, entries_needed};
use rampart_ipc::granule::GranuleError;
use rampart_ipc::realm::HashAlgo;
use rampart_ipc::{Direct, IpcError, Passing, decode, encode};
use std::boxed::Box;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::vec::Vec;

pub const PAGE: u64 = 0x1000;
pub const L2_SIZE: u64 = 0x20_0000;
pub const L1_SIZE: u64 = 0x4000_0000;
/// First Unprotected IPA of the default realm (IPA width 40).
pub const UNPROT: u64 = 1 << 39;
/// Top of the default realm's IPA space.
pub const IPA_TOP: u64 = 1 << 40;
/// Not in any DRAM bank.
pub const OUTSIDE: u64 = 0x8000_0000;
pub const VMID: u16 = 7;

pub const EMPTY: u64 = Ripas::Empty as u64;
pub const RAM: u64 = Ripas::Ram as u64;
pub const DESTROYED: u64 = Ripas::Destroyed as u64;

/// A host NS descriptor: Device-nGnRE (FWB MemAttr 0b001), S2AP RW.
pub const NS_ATTRS: u64 = (0b001 << 2) | s2tt::S2AP_RW;
/// Some NS memory (the RMM never touches it).
pub const NS_PA: u64 = 0x8_0000_0000;

/// The realm service, faked: realm parameters by RD, and a record of
/// every measurement asked for.
#[derive(Default)]
pub struct FakeRealm {
    pub realms: HashMap<u64, RealmInfo>,
    pub measured: Vec<RealmRequest>,
    /// Answer Measure* with Failed.
    pub refuse_measure: bool,
}

pub struct Router {
    granule: GranuleService<'static, Machine, Machine>,
    realm: Rc<RefCell<FakeRealm>>,
}

impl Transport<GranuleProtocol> for Router {
    fn call(&mut self, request: GranuleRequest) -> Result<GranuleReply, IpcError> {
        Direct::new(&mut self.granule, Passing::Encoded).call(request)
    }
}

impl Transport<RealmProtocol> for Router {
    fn call(&mut self, request: RealmRequest) -> Result<RealmReply, IpcError> {
        let request: RealmRequest = decode(&encode(&request)?)?;
        let mut realm = self.realm.borrow_mut();
        let reply = match request {
            RealmRequest::Info { rd } => realm
                .realms
                .get(&rd)
                .map_or(RealmReply::Failed, |info| RealmReply::Info(*info)),
            RealmRequest::MeasureData { .. } | RealmRequest::MeasureRipas { .. } => {
                if realm.refuse_measure {
                    RealmReply::Failed
                } else {
                    realm.measured.push(request);
                    RealmReply::Done
                }
            }
            RealmRequest::Rmi(_) => RealmReply::Rmi(Err(RmiError::Input)),
            _ => RealmReply::Failed,
        };
        decode(&encode(&reply)?)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tlbi {
    Ipa { vmid: u16, ipa: u64, level: u8 },
    Block { vmid: u16, ipa: u64, size: u64 },
}

#[derive(Clone, Default)]
pub struct TlbLog(Rc<RefCell<Vec<Tlbi>>>);

impl S2Tlb for TlbLog {
    fn invalidate_ipa(&mut self, vmid: u16, ipa: u64, level: u8) {
        self.0.borrow_mut().push(Tlbi::Ipa { vmid, ipa, level });
    }
    fn invalidate_block(&mut self, vmid: u16, ipa: u64, size: u64) {
        self.0.borrow_mut().push(Tlbi::Block { vmid, ipa, size });
    }
}

/// Everything a failed command must leave as it was.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    granules: Vec<(u64, GranuleState, u64, Box<[u64; 512]>)>,
    measured: Vec<RealmRequest>,
    realms: Vec<(u64, RealmInfo)>,
    tlbis: Vec<Tlbi>,
}

pub struct Fx {
    pub m: Machine,
    pub svc: RttService<Router, Machine, TlbLog>,
    /// The test's own view of the granule service (CPU 0, like the RTT
    /// service's), to delegate, set states and query.
    gs: GranuleService<'static, Machine, Machine>,
    pub realm: Rc<RefCell<FakeRealm>>,
    pub tlb: TlbLog,
    next: u64,
    /// Every granule the test made: delegated ones and NS sources.
    tracked: Vec<u64>,
    /// The default realm.
    pub rd: u64,
    pub roots: u64,
}

fn align_up(v: u64, align: u64) -> u64 {
    v.div_ceil(align) * align
}

impl Fx {
    /// A realm of IPA width 40, starting level 1, two concatenated roots.
    pub fn new() -> Fx {
        Fx::with(40, 1, 2)
    }

    pub fn with(s2sz: u8, sl: i8, num: u8) -> Fx {
        let m = Machine::new();
        let entries: Vec<Entry> = (0..entries_needed(&[DRAM])).map(|_| Entry::new()).collect();
        let entries: &'static [Entry] = Box::leak(entries.into_boxed_slice());
        let gst: &'static Gst<'static> =
            Box::leak(Box::new(Gst::new(&[DRAM], &[RMM], entries).unwrap()));
        let realm = Rc::new(RefCell::new(FakeRealm::default()));
        let tlb = TlbLog::default();
        let router = Router {
            granule: GranuleService::new(gst, 0, m.clone(), m.clone()),
            realm: realm.clone(),
        };
        let mut fx = Fx {
            svc: RttService::new(router, m.clone(), tlb.clone()),
            gs: GranuleService::new(gst, 0, m.clone(), m.clone()),
            m,
            realm,
            tlb,
            next: 0x4100_0000,
            tracked: Vec::new(),
            rd: 0,
            roots: 0,
        };
        let (rd, roots) = fx.new_realm(s2sz, sl, num);
        fx.rd = rd;
        fx.roots = roots;
        fx
    }

    /// Another realm, made as REALM_CREATE would: RD and starting tables
    /// delegated, tables filled by InitRoots, states RD and RTT.
    pub fn new_realm(&mut self, s2sz: u8, sl: i8, num: u8) -> (u64, u64) {
        let rd = self.delegate();
        let roots = self.delegate_run(u64::from(num), u64::from(num) * PAGE);
        assert_eq!(
            self.svc.handle(RttRequest::InitRoots {
                rtt_base: roots,
                count: num,
                level: sl,
                s2sz,
            }),
            RttReply::Done
        );
        for i in 0..u64::from(num) {
            self.set_state(roots + i * PAGE, GranuleState::Rtt);
        }
        self.set_state(rd, GranuleState::Rd);
        let vmid = VMID + self.realm.borrow().realms.len() as u16;
        self.realm.borrow_mut().realms.insert(
            rd,
            RealmInfo {
                state: RealmState::New,
                s2sz,
                rtt_level_start: sl,
                rtt_num_start: num,
                rtt_base: roots,
                hash: HashAlgo::Sha256,
                vmid,
                rec_count: 0,
            },
        );
        (rd, roots)
    }

    fn alloc(&mut self, count: u64, align: u64) -> u64 {
        let base = align_up(self.next, align);
        self.next = base + count * PAGE;
        assert!(self.next <= DRAM.end(), "test DRAM exhausted");
        base
    }

    /// `count` contiguous delegated granules, the first aligned to `align`.
    pub fn delegate_run(&mut self, count: u64, align: u64) -> u64 {
        let base = self.alloc(count, align);
        for i in 0..count {
            let addr = base + i * PAGE;
            assert_eq!(
                self.gs
                    .handle(GranuleRequest::Rmi(Command::GranuleDelegate { addr })),
                GranuleReply::Rmi(Ok(Outputs::NONE))
            );
            self.tracked.push(addr);
        }
        base
    }

    pub fn delegate(&mut self) -> u64 {
        self.delegate_run(1, PAGE)
    }

    /// An NS granule with recognisable contents.
    pub fn ns_page(&mut self, seed: u8) -> u64 {
        let addr = self.alloc(1, PAGE);
        let bytes: Vec<u8> = (0..4096u32)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect();
        self.m.poke(addr, 0, &bytes);
        self.tracked.push(addr);
        addr
    }

    /// An undelegated granule that is not tracked by the test.
    pub fn undelegated(&mut self) -> u64 {
        let addr = self.alloc(1, PAGE);
        self.tracked.push(addr);
        addr
    }

    pub fn query(&mut self, addr: u64) -> (GranuleState, u64) {
        match self.gs.handle(GranuleRequest::Query { addr }) {
            GranuleReply::Info { state, refcount } => (state, refcount),
            other => panic!("query {addr:#x}: {other:?}"),
        }
    }

    pub fn refcount(&mut self, addr: u64) -> u64 {
        self.query(addr).1
    }

    pub fn set_state(&mut self, addr: u64, state: GranuleState) {
        let (now, _) = self.query(addr);
        let gs = &mut self.gs;
        assert_eq!(
            gs.handle(GranuleRequest::Lock { addr, state: now }),
            GranuleReply::Done
        );
        assert_eq!(
            gs.handle(GranuleRequest::SetState { addr, state }),
            GranuleReply::Done
        );
        assert_eq!(
            gs.handle(GranuleRequest::Unlock { addr }),
            GranuleReply::Done
        );
    }

    pub fn set_realm_state(&mut self, state: RealmState) {
        let rd = self.rd;
        self.realm.borrow_mut().realms.get_mut(&rd).unwrap().state = state;
    }

    pub fn tlbis(&self) -> Vec<Tlbi> {
        self.tlb.0.borrow().clone()
    }

    pub fn clear_tlbis(&self) {
        self.tlb.0.borrow_mut().clear();
    }

    pub fn measured(&self) -> Vec<RealmRequest> {
        self.realm.borrow().measured.clone()
    }

    pub fn clear_measured(&self) {
        self.realm.borrow_mut().measured.clear();
    }

    pub fn desc(&self, table: u64, index: usize) -> u64 {
        self.m.peek(table).0[index]
    }

    pub fn is_zero(&self, addr: u64) -> bool {
        self.m.peek(addr).0.iter().all(|&w| w == 0)
    }

    /// No granule the test made is still locked.
    pub fn assert_unlocked(&mut self) {
        for &addr in &self.tracked {
            assert_eq!(
                self.gs.handle(GranuleRequest::Unlock { addr }),
                GranuleReply::Error(GranuleError::NotLocked),
                "{addr:#x} was left locked"
            );
        }
    }

    pub fn snapshot(&mut self) -> Snapshot {
        let tracked = self.tracked.clone();
        let granules = tracked
            .into_iter()
            .map(|a| {
                let (state, refs) = self.query(a);
                (a, state, refs, Box::new(self.m.peek(a).0))
            })
            .collect();
        let mut realms: Vec<_> = self
            .realm
            .borrow()
            .realms
            .iter()
            .map(|(a, i)| (*a, *i))
            .collect();
        realms.sort_by_key(|r| r.0);
        Snapshot {
            granules,
            measured: self.measured(),
            realms,
            tlbis: self.tlbis(),
        }
    }

    pub fn assert_unchanged(&mut self, before: &Snapshot, what: &str) {
        let after = self.snapshot();
        for (b, a) in before.granules.iter().zip(&after.granules) {
            assert_eq!(
                (b.1, b.2),
                (a.1, a.2),
                "{what}: granule {:#x} state/refcount changed",
                b.0
            );
            if b.3 != a.3 {
                let i = (0..512).find(|&i| b.3[i] != a.3[i]).unwrap();
                panic!(
                    "{what}: granule {:#x} word {i} changed {:#x} -> {:#x}",
                    b.0, b.3[i], a.3[i]
                );
            }
        }
        assert_eq!(before.measured, after.measured, "{what}: measured");
        assert_eq!(before.realms, after.realms, "{what}: realm");
        assert_eq!(before.tlbis, after.tlbis, "{what}: TLBIs");
    }

    /// Runs a command; checks that every lock was released.
    pub fn cmd(&mut self, command: Command) -> Completion {
        let done = self.svc.command(command);
        self.assert_unlocked();
        done
    }

    pub fn ok(&mut self, command: Command) -> Outputs {
        match self.cmd(command).result {
            Ok(out) => out,
            Err(e) => panic!("{command:?} failed: {e:?}"),
        }
    }

    /// Runs a command that must fail with `error` and change nothing;
    /// returns the outputs the failure carries.
    pub fn fail(&mut self, command: Command, error: RmiError) -> Outputs {
        let before = self.snapshot();
        let done = self.cmd(command);
        assert_eq!(done.result, Err(error), "{command:?}");
        let what = std::format!("{command:?}");
        self.assert_unchanged(&before, &what);
        done.error_outputs
    }

    // ---- command helpers on the default realm --------------------------

    pub fn create(&mut self, ipa: u64, level: u64) -> u64 {
        let rtt = self.delegate();
        self.ok(Command::RttCreate {
            rd: self.rd,
            rtt,
            ipa,
            level,
        });
        rtt
    }

    pub fn read(&mut self, ipa: u64, level: u64) -> [u64; 4] {
        self.ok(Command::RttReadEntry {
            rd: self.rd,
            ipa,
            level,
        })
        .0
    }

    /// The RTT at `level` that maps `ipa` (it must exist).
    pub fn table(&mut self, ipa: u64, level: i8) -> u64 {
        let info = self.info();
        if level == info.rtt_level_start {
            return info.rtt_base + ((ipa >> s2tt::shift(level)) / 512) * PAGE;
        }
        let parent = (level - 1) as u64;
        let aligned = ipa & !(s2tt::map_size(level - 1) - 1);
        let [walk, state, desc, _] = self.read(aligned, parent);
        assert_eq!((walk, state), (parent, RMI_TABLE), "no table at {ipa:#x}");
        desc
    }

    pub fn info(&self) -> RealmInfo {
        self.realm.borrow().realms[&self.rd]
    }

    /// DATA_CREATE of a fresh granule at `ipa` from a fresh source.
    pub fn data(&mut self, ipa: u64) -> u64 {
        let src = self.ns_page(ipa as u8);
        let data = self.delegate();
        self.ok(Command::DataCreate {
            rd: self.rd,
            data,
            ipa,
            src,
            flags: 1,
        });
        data
    }

    pub fn data_unknown(&mut self, ipa: u64) -> u64 {
        let data = self.delegate();
        self.ok(Command::DataCreateUnknown {
            rd: self.rd,
            data,
            ipa,
        });
        data
    }

    /// Fills the level-3 RTT at `ipa` (2 MB aligned) with 512 DATA
    /// granules whose PAs are contiguous from a 2 MB aligned base.
    pub fn fill(&mut self, ipa: u64, measured: bool) -> u64 {
        let base = self.delegate_run(512, L2_SIZE);
        self.fill_with(ipa, base, measured);
        base
    }

    /// Like [`Fx::fill`], from the delegated granules at `base`.
    pub fn fill_with(&mut self, ipa: u64, base: u64, measured: bool) {
        let src = self.ns_page(0x5a);
        for i in 0..512 {
            let (data, at) = (base + i * PAGE, ipa + i * PAGE);
            let command = if measured {
                Command::DataCreate {
                    rd: self.rd,
                    data,
                    ipa: at,
                    src,
                    flags: 0,
                }
            } else {
                Command::DataCreateUnknown {
                    rd: self.rd,
                    data,
                    ipa: at,
                }
            };
            // Through the service directly: the per-command lock check
            // over every tracked granule would be quadratic here.
            assert_eq!(self.svc.command(command).result, Ok(Outputs::NONE));
        }
        self.assert_unlocked();
    }

    pub fn map_ns(&mut self, ipa: u64, level: u64, desc: u64) {
        self.ok(Command::RttMapUnprotected {
            rd: self.rd,
            ipa,
            level,
            desc,
        });
    }

    /// Addresses that are not an RD of this test, by the failing check.
    pub fn bad_rds(&mut self) -> Vec<(u64, &'static str)> {
        let delegated = self.delegate();
        let undelegated = self.undelegated();
        std::vec![
            (self.rd + 8, "rd_align"),
            (self.rd + 0x800, "rd_align"),
            (OUTSIDE, "rd_bound"),
            (RMM.base, "rd_bound"),
            (!0xfff_u64, "rd_bound"),
            (delegated, "rd_state"),
            (undelegated, "rd_state"),
            (self.roots, "rd_state"),
        ]
    }
}

/// Outputs with `top` in X1.
pub fn top1(top: u64) -> Outputs {
    Outputs::one(top)
}

/// Outputs with `top` in X2.
pub fn top2(top: u64) -> Outputs {
    Outputs::two(0, top)
}
