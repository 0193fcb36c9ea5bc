//! Host tests of the REC service wired to the granule, realm and RTT
//! services over the simulated machine: RMI_REC_CREATE / REC_DESTROY /
//! REC_AUX_COUNT / REC_ENTER / PSCI_COMPLETE / RTT_SET_RIPAS, every REC
//! exit, and the RSI and PSCI calls a realm makes (RMM spec 1.0,
//! DEN0137 1.0-rel0, B4.3 and B5).
//!
//! The realm is played by a script: each run of a REC pops one step, a
//! closure that edits the REC's context the way the realm's instructions
//! would and returns the exception it takes (an empty script takes an
//! IRQ). Every context a run starts from is recorded, so a test sees
//! exactly what the realm sees after the RMM handled its last exception.
//!
//! Every failing command is checked for its exact status and for leaving
//! the granules it was given (state, refcount and contents) as they were;
//! and every test ends by checking that no GST lock was left held.

use rampart_ipc::granule::GranuleState;
use rampart_ipc::lease::Granule;
use rampart_ipc::realm::HashAlgo;
use rampart_ipc::rec::{RecContext, Trap, TrapKind};
use rampart_ipc::rec_abi::{RecEntry, RecExit, RecParams, entry, exit};
use rampart_ipc::{rmi, rsi, smccc};
use rampart_realm_svc::measure;
use rampart_rec::AUX_COUNT;
use rampart_rmm_tests::Rmm;
use sha2::{Digest, Sha256, Sha512};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

// ---- where things are -------------------------------------------------------

/// Granules the tests delegate.
const POOL: u64 = 0x4200_0000;
/// NS granules: parameters, the run granule, DATA sources.
const NS_POOL: u64 = 0x4300_0000;
/// Not DRAM.
const OUTSIDE: u64 = 0x8000_0000;
/// The RMM's own memory: never delegable.
const RMM_REGION: u64 = 0x4010_0000;
const PAGE: u64 = 0x1000;

// The realm: IPA width 39, one starting table at level 1.
const S2SZ: u8 = 39;
/// First Unprotected IPA (= top of the Protected space).
const UNPROT: u64 = 1 << 38;
const PROT_TOP: u64 = UNPROT;
/// Top of the IPA space.
const IPA_TOP: u64 = 1 << 39;
const GB: u64 = 1 << 30;
/// A level-2 and a level-3 table cover [0, 2 MB): RIPAS RAM over
/// [0, RAM_TOP), DATA granules at DATA_IPAS, RIPAS EMPTY above.
const L3_TOP: u64 = 0x20_0000;
const RAM_TOP: u64 = 0x2_0000;
const DATA_IPAS: [u64; 3] = [0x1000, 0x2000, 0x3000];
/// RIPAS RAM with no DATA granule.
const RAM_NO_DATA: u64 = 0x1_0000;
/// RIPAS EMPTY, in the level-3 table.
const EMPTY_IPA: u64 = 0x10_0000;
/// An emulated device in the Unprotected half.
const MMIO: u64 = UNPROT + 0x0900_0000;

const GUEST_PC: u64 = 0x8_0000;
const VBAR: u64 = 0x9_0000;
const PSTATE_EL1H: u64 = 0x3c5;
/// What the realm keeps in registers the host must never see.
const SECRET: u64 = 0x5ec2_e700_0000_0000;

// ---- RMI / RSI / PSCI values ------------------------------------------------

const OK: [u64; 5] = [0; 5];
const INPUT: u64 = rmi::ERROR_INPUT;
const ERROR_REALM: u64 = rmi::ERROR_REALM;
const ERROR_REC: u64 = rmi::ERROR_REC;
const fn err(code: u64) -> [u64; 5] {
    [code, 0, 0, 0, 0]
}
const fn rtt_error(level: u64) -> u64 {
    rmi::ERROR_RTT | level << 8
}

const RIPAS_EMPTY: u64 = rsi::RIPAS_EMPTY;
const RIPAS_RAM: u64 = rsi::RIPAS_RAM;
const RIPAS_DESTROYED: u64 = rsi::RIPAS_DESTROYED;
const UNASSIGNED: u64 = 0;
const ASSIGNED: u64 = 1;

const CPU_SUSPEND: u64 = 0xc400_0001;
const CPU_OFF: u64 = 0x8400_0002;
const CPU_ON: u64 = 0xc400_0003;
const AFFINITY_INFO: u64 = 0xc400_0004;
const SYSTEM_OFF: u64 = 0x8400_0008;
const SYSTEM_RESET: u64 = 0x8400_0009;
const PSCI_SUCCESS: u64 = 0;
const NOT_SUPPORTED: u64 = -1i64 as u64;
const INVALID_PARAMS: u64 = -2i64 as u64;
const DENIED: u64 = -3i64 as u64;
const ALREADY_ON: u64 = -4i64 as u64;
const INVALID_ADDRESS: u64 = -9i64 as u64;
const AFFINITY_ON: u64 = 0;
const AFFINITY_OFF: u64 = 1;

// ---- ESR_EL2 ----------------------------------------------------------------

const fn ec(class: u64) -> u64 {
    class << 26
}
const IL: u64 = 1 << 25;
const EC_UNKNOWN: u64 = 0x00;
const EC_WFX: u64 = 0x01;
const EC_SMC32: u64 = 0x13;
const EC_HVC: u64 = 0x16;
const EC_SMC: u64 = 0x17;
const EC_SYSREG: u64 = 0x18;
const EC_IABT: u64 = 0x20;
const EC_DABT: u64 = 0x24;
const EC_DABT_CUR: u64 = 0x25;
const EC_SERROR: u64 = 0x2f;
const ISV: u64 = 1 << 24;
const fn sas(log2_bytes: u64) -> u64 {
    log2_bytes << 22
}
const SSE: u64 = 1 << 21;
const fn srt(reg: u64) -> u64 {
    reg << 16
}
const SF: u64 = 1 << 15;
const AR: u64 = 1 << 14;
const VNCR: u64 = 1 << 13;
const S1PTW: u64 = 1 << 7;
const WNR: u64 = 1 << 6;
const FSC_TRANSLATION_L3: u64 = 0x07;
const FSC_SEA: u64 = 0x10;
/// ESR_ELx.EA (bit 9): the abort is external.
const EA: u64 = 1 << 9;
const ESR_SMC: u64 = ec(EC_SMC) | IL;
const EC_MASK_TEST: u64 = 0x3f << 26;

/// What the host may see of an abort it cannot emulate / can emulate.
const NONEMULATED: u64 = 0x3f << 26 | 3 << 11 | 1 << 10 | 1 << 9 | 0x3f;
const EMULATED: u64 = NONEMULATED | ISV | 3 << 22 | SF | WNR;

/// The ICH_HCR_EL2 bits a host may set, and EOIcount.
const HCR_HOST: u64 = 0x40fe;
const HCR_EOI_COUNT: u64 = 0x1f << 27;

// ---- the scripted realm -------------------------------------------------------

/// One run of a REC: edits its context, returns the exception it takes.
type Step = Box<dyn FnOnce(&mut RecContext) -> Trap>;

fn step(f: impl FnOnce(&mut RecContext) -> Trap + 'static) -> Step {
    Box::new(f)
}

fn sync(esr: u64, far: u64, hpfar: u64) -> Trap {
    Trap {
        kind: TrapKind::Sync,
        esr,
        far,
        hpfar,
        irq_pending: false,
    }
}

fn async_trap(kind: TrapKind, esr: u64) -> Trap {
    Trap {
        kind,
        esr,
        far: 0,
        hpfar: 0,
        irq_pending: false,
    }
}

fn irq_trap() -> Trap {
    async_trap(TrapKind::Irq, 0)
}

/// The realm takes an IRQ.
fn irq() -> Step {
    step(|_| irq_trap())
}

/// The realm takes `trap` as it is.
fn take(trap: Trap) -> Step {
    step(move |_| trap)
}

/// Fills X0-X30 with values the host must never see.
fn secrets(ctx: &mut RecContext) {
    for (i, r) in ctx.gprs.iter_mut().enumerate() {
        *r = SECRET | i as u64;
    }
}

/// The realm's `smc #0` with X0 = fid and X1.. = args (other registers
/// hold secrets).
fn smc(fid: impl Into<u64>, args: &[u64]) -> Step {
    let fid = fid.into();
    let args = args.to_vec();
    step(move |ctx| {
        secrets(ctx);
        ctx.gprs[0] = fid;
        ctx.gprs[1..=args.len()].copy_from_slice(&args);
        sync(ESR_SMC, 0, 0)
    })
}

/// HPFAR_EL2 for an IPA.
const fn hpfar(ipa: u64) -> u64 {
    (ipa >> 12) << 4
}

/// The VA the realm used for an IPA (stage 1 is not identity).
const fn va(ipa: u64) -> u64 {
    0xffff_8000_0000_0000 | ipa
}

/// A data abort at stage 2 on `ipa` with the given ISS.
fn dabt(iss: u64, ipa: u64) -> Trap {
    sync(ec(EC_DABT) | IL | iss, va(ipa), hpfar(ipa))
}

/// The exit record without the GIC and timer state (zeroed), to compare
/// whole records.
fn core(x: &RecExit) -> RecExit {
    RecExit {
        gicv3_hcr: 0,
        gicv3_lrs: [0; 16],
        gicv3_misr: 0,
        gicv3_vmcr: 0,
        cntp_ctl: 0,
        cntp_cval: 0,
        cntv_ctl: 0,
        cntv_cval: 0,
        ..*x
    }
}

fn exit_of(reason: u64) -> RecExit {
    RecExit {
        reason,
        ..Default::default()
    }
}

/// RmiRecMpidr of REC index `i`.
const fn rmi_mpidr(i: u64) -> u64 {
    (i & 0xf) | (i >> 4 & 0xff) << 8 | (i >> 12 & 0xff) << 16 | (i >> 20 & 0xff) << 24
}

fn bytes_of(words: &[u64]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// A pending vINTID in a list register (group 1, priority 0xa0).
const fn pending(intid: u64) -> u64 {
    1 << 62 | 1 << 60 | 0xa0 << 48 | intid
}

// ---- fixture ------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Realm {
    rd: u64,
    root: u64,
    vmid: u16,
    rpv: [u8; 64],
    /// (IPA, DATA granule).
    data: Vec<(u64, u64)>,
    recs: Vec<u64>,
}

impl Realm {
    fn data_pa(&self, ipa: u64) -> u64 {
        self.data
            .iter()
            .find(|(i, _)| *i == ipa)
            .expect("a DATA IPA")
            .1
    }
}

type Snapshot = Vec<(u64, Option<(GranuleState, u64)>, Vec<u64>)>;

/// An RMI command's name and result.
type Outcome = (&'static str, [u64; 5]);

struct Fx {
    rmm: Rc<Rmm>,
    next: Cell<u64>,
    next_ns: Cell<u64>,
    next_vmid: Cell<u16>,
    /// The host's RmiRecRun granule.
    run: u64,
    steps: Rc<RefCell<VecDeque<Step>>>,
    seen: Rc<RefCell<Vec<(u64, RecContext)>>>,
}

impl Drop for Fx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let leaked: Vec<u64> = (POOL..self.next.get())
            .step_by(PAGE as usize)
            .chain((NS_POOL..self.next_ns.get()).step_by(PAGE as usize))
            .filter(|&a| self.rmm.lock_leaked(a))
            .collect();
        assert!(leaked.is_empty(), "GST locks left held: {leaked:#x?}");
    }
}

impl Fx {
    fn new() -> Self {
        let rmm = Rc::new(Rmm::new());
        let steps: Rc<RefCell<VecDeque<Step>>> = Rc::default();
        let seen: Rc<RefCell<Vec<(u64, RecContext)>>> = Rc::default();
        let (script, log) = (steps.clone(), seen.clone());
        rmm.set_guest(move |rec, ctx| {
            log.borrow_mut().push((rec, *ctx));
            let next = script.borrow_mut().pop_front();
            match next {
                Some(f) => f(ctx),
                None => irq_trap(),
            }
        });
        Fx {
            rmm,
            next: Cell::new(POOL),
            next_ns: Cell::new(NS_POOL + PAGE),
            next_vmid: Cell::new(1),
            run: NS_POOL,
            steps,
            seen,
        }
    }

    fn call(&self, fid: u32, args: &[u64]) -> [u64; 5] {
        self.rmm.call(fid, args)
    }

    fn delegated(&self) -> u64 {
        let a = self.next.get();
        self.next.set(a + PAGE);
        assert_eq!(self.call(rmi::GRANULE_DELEGATE, &[a]), OK);
        a
    }

    fn ns_page(&self) -> u64 {
        let a = self.next_ns.get();
        self.next_ns.set(a + PAGE);
        a
    }

    fn state(&self, addr: u64) -> (GranuleState, u64) {
        self.rmm.state(addr).expect("a DRAM granule")
    }

    fn snap(&self, addrs: &[u64]) -> Snapshot {
        addrs
            .iter()
            .map(|&a| (a, self.rmm.state(a), self.rmm.machine.peek(a).0.to_vec()))
            .collect()
    }

    fn is_zero(&self, addr: u64) -> bool {
        self.rmm.machine.peek(addr).0.iter().all(|&w| w == 0)
    }

    /// The RIM as stored in the RD (the realm service's layout: 0x10).
    fn rim(&self, rd: u64) -> [u8; 64] {
        self.rmm.machine.peek(rd).bytes()[0x10..0x50]
            .try_into()
            .unwrap()
    }

    /// The realm's REC count as stored in the RD (offset 0x90).
    fn rec_count(&self, rd: u64) -> u32 {
        self.rmm.machine.peek(rd).u64_at(0x90) as u32
    }

    fn ctx(&self, rec: u64) -> RecContext {
        self.rmm.rec_context(rec)
    }

    // -- realms --

    /// A NEW realm with its memory laid out (see DATA_IPAS etc.).
    fn new_realm(&self, hash: HashAlgo) -> Realm {
        self.realm_with(hash, true)
    }

    /// A NEW realm with only its starting table.
    fn bare_realm(&self, hash: HashAlgo) -> Realm {
        self.realm_with(hash, false)
    }

    fn realm_with(&self, hash: HashAlgo, memory: bool) -> Realm {
        let rd = self.delegated();
        let root = self.delegated();
        let vmid = self.next_vmid.get();
        self.next_vmid.set(vmid + 1);
        let mut rpv = [0u8; 64];
        for (i, b) in rpv.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(7) ^ (vmid as u8) << 4 ^ 0xa5;
        }
        let mut b = vec![0u8; 0x820];
        b[0x08] = S2SZ;
        b[0x18] = 1;
        b[0x20] = 1;
        b[0x30] = hash as u8;
        b[0x400..0x440].copy_from_slice(&rpv);
        b[0x800..0x802].copy_from_slice(&vmid.to_le_bytes());
        b[0x808..0x810].copy_from_slice(&root.to_le_bytes());
        b[0x810..0x818].copy_from_slice(&1i64.to_le_bytes());
        b[0x818..0x81c].copy_from_slice(&1u32.to_le_bytes());
        let params = self.ns_page();
        self.rmm.machine.poke(params, 0, &b);
        assert_eq!(self.call(rmi::REALM_CREATE, &[rd, params]), OK);
        let mut realm = Realm {
            rd,
            root,
            vmid,
            rpv,
            data: Vec::new(),
            recs: Vec::new(),
        };
        if memory {
            let l2 = self.delegated();
            assert_eq!(self.call(rmi::RTT_CREATE, &[rd, l2, 0, 2])[0], 0);
            let l3 = self.delegated();
            assert_eq!(self.call(rmi::RTT_CREATE, &[rd, l3, 0, 3])[0], 0);
            assert_eq!(
                self.call(rmi::RTT_INIT_RIPAS, &[rd, 0, RAM_TOP]),
                [0, RAM_TOP, 0, 0, 0]
            );
            for ipa in DATA_IPAS {
                let data = self.delegated();
                let src = self.ns_page();
                self.rmm.machine.poke(src, 0, &[ipa as u8 | 0x11; 4096]);
                assert_eq!(self.call(rmi::DATA_CREATE, &[rd, data, ipa, src, 1])[0], 0);
                realm.data.push((ipa, data));
            }
        }
        realm
    }

    /// REC_CREATE's parameters for REC `index` (fresh aux granules).
    fn rec_params(&self, index: u64, runnable: bool) -> RecParams {
        let mut p = RecParams {
            flags: u64::from(runnable),
            mpidr: rmi_mpidr(index),
            pc: GUEST_PC,
            num_aux: AUX_COUNT,
            ..Default::default()
        };
        for (i, r) in p.gprs.iter_mut().enumerate() {
            *r = 0x6000 + 0x10 * index + i as u64;
        }
        for aux in &mut p.aux[..AUX_COUNT as usize] {
            *aux = self.delegated();
        }
        p
    }

    fn write_params(&self, p: &RecParams) -> u64 {
        let mut g = Granule::ZERO;
        p.write(&mut g);
        let a = self.ns_page();
        self.rmm.machine.poke(a, 0, g.bytes());
        a
    }

    fn add_rec(&self, realm: &mut Realm, runnable: bool) -> u64 {
        let p = self.rec_params(realm.recs.len() as u64, runnable);
        let rec = self.delegated();
        let params = self.write_params(&p);
        assert_eq!(self.call(rmi::REC_CREATE, &[realm.rd, rec, params]), OK);
        realm.recs.push(rec);
        rec
    }

    fn activate(&self, realm: &Realm) {
        assert_eq!(self.call(rmi::REALM_ACTIVATE, &[realm.rd]), OK);
    }

    /// An ACTIVE realm with one REC per entry of `runnable`.
    fn active(&self, hash: HashAlgo, runnable: &[bool]) -> Realm {
        let mut realm = self.new_realm(hash);
        for &r in runnable {
            self.add_rec(&mut realm, r);
        }
        self.activate(&realm);
        realm
    }

    // -- running --

    fn guest(&self, steps: impl IntoIterator<Item = Step>) {
        self.steps.borrow_mut().extend(steps);
    }

    fn take_seen(&self) -> Vec<(u64, RecContext)> {
        std::mem::take(&mut *self.seen.borrow_mut())
    }

    /// REC_ENTER with `e` as the entry record; the exit half of the run
    /// granule is filled with 0xa5 first.
    fn enter_with(&self, rec: u64, e: &RecEntry) -> ([u64; 5], RecExit) {
        let mut g = Granule::ZERO;
        e.write(&mut g);
        g.bytes_mut()[exit::BASE..].fill(0xa5);
        self.rmm.machine.poke(self.run, 0, g.bytes());
        let r = self.call(rmi::REC_ENTER, &[rec, self.run]);
        (r, RecExit::read(&self.rmm.machine.peek(self.run)))
    }

    fn enter_ok_with(&self, rec: u64, e: &RecEntry) -> RecExit {
        let (r, x) = self.enter_with(rec, e);
        assert_eq!(r, OK, "REC_ENTER");
        assert_eq!(self.state(rec).1, 0, "the REC is released after REC_ENTER");
        x
    }

    fn enter(&self, rec: u64) -> RecExit {
        self.enter_ok_with(rec, &RecEntry::default())
    }

    /// Runs `steps` in `rec` (from a clean record of runs) until it exits.
    fn exit_with(&self, rec: u64, steps: impl IntoIterator<Item = Step>) -> RecExit {
        self.exit_with_entry(rec, &RecEntry::default(), steps)
    }

    fn exit_with_entry(
        &self,
        rec: u64,
        e: &RecEntry,
        steps: impl IntoIterator<Item = Step>,
    ) -> RecExit {
        self.take_seen();
        self.guest(steps);
        let x = self.enter_ok_with(rec, e);
        assert!(self.steps.borrow().is_empty(), "the whole script ran");
        x
    }

    /// One SMC the RMM must answer without an exit: the context the realm
    /// resumes with.
    fn rsi(&self, rec: u64, fid: impl Into<u64>, args: &[u64]) -> RecContext {
        let fid = fid.into();
        let x = self.exit_with(rec, [smc(fid, args)]);
        assert_eq!(
            core(&x),
            exit_of(exit::IRQ),
            "SMC {fid:#x} {args:#x?} is answered in the RMM"
        );
        let seen = self.take_seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[1].1.pc,
            seen[0].1.pc + 4,
            "the realm resumes after the SMC"
        );
        seen[1].1
    }

    /// REC_ENTER that must fail with `want` and change nothing: the REC
    /// granule (context, state, refcount 0), the host's state, the exit
    /// record; the realm does not run.
    fn assert_enter_fails(&self, rec: u64, e: &RecEntry, want: u64, what: &str) {
        let before = self.snap(&[rec]);
        let switches = *self.rmm.host_switches.borrow();
        self.take_seen();
        let (r, _) = self.enter_with(rec, e);
        assert_eq!(r, err(want), "{what}");
        assert_eq!(self.snap(&[rec]), before, "{what}: the REC is unchanged");
        assert_eq!(*self.rmm.host_switches.borrow(), switches, "{what}");
        assert!(self.take_seen().is_empty(), "{what}: the realm did not run");
        let g = self.rmm.machine.peek(self.run);
        assert!(
            g.bytes()[exit::BASE..].iter().all(|&b| b == 0xa5),
            "{what}: no exit record written"
        );
    }

    /// The RTT entry at `ipa` (level 3): (state, RIPAS).
    fn entry_at(&self, rd: u64, ipa: u64) -> (u64, u64) {
        let r = self.call(rmi::RTT_READ_ENTRY, &[rd, ipa, 3]);
        assert_eq!(r[..2], [0, 3], "RTT_READ_ENTRY {ipa:#x}");
        (r[2], r[4])
    }

    /// The realm asks for [base, top) to become `ripas`: the exit.
    fn request_ripas(&self, rec: u64, base: u64, top: u64, ripas: u64, flags: u64) {
        let x = self.exit_with(rec, [smc(rsi::IPA_STATE_SET, &[base, top, ripas, flags])]);
        assert_eq!(
            core(&x),
            RecExit {
                reason: exit::RIPAS_CHANGE,
                ripas_base: base,
                ripas_top: top,
                ripas_value: ripas as u8,
                ..Default::default()
            }
        );
    }

    /// Enters after a RIPAS request: the realm's X0-X2.
    fn ripas_answer(&self, rec: u64, flags: u64) -> [u64; 3] {
        let e = RecEntry {
            flags,
            ..Default::default()
        };
        let x = self.exit_with_entry(rec, &e, []);
        assert_eq!(x.reason, exit::IRQ);
        let g = self.take_seen()[0].1.gprs;
        [g[0], g[1], g[2]]
    }

    /// A PSCI call that must exit to the host.
    fn psci_exit(&self, rec: u64, fid: u64, args: &[u64]) -> RecExit {
        let x = self.exit_with(rec, [smc(fid, args)]);
        assert_eq!(x.reason, exit::PSCI, "PSCI {fid:#x} exits");
        x
    }

    fn psci_complete(&self, calling: u64, target: u64, status: u64) -> [u64; 5] {
        self.call(rmi::PSCI_COMPLETE, &[calling, target, status])
    }
}

// ==== RMI_REC_AUX_COUNT ======================================================

#[test]
fn aux_count_is_the_same_for_every_rd() {
    let fx = Fx::new();
    let realm = fx.new_realm(HashAlgo::Sha256);
    let count = [0, AUX_COUNT, 0, 0, 0];
    assert_eq!(fx.call(rmi::REC_AUX_COUNT, &[realm.rd]), count);
    fx.activate(&realm);
    assert_eq!(fx.call(rmi::REC_AUX_COUNT, &[realm.rd]), count);
}

#[test]
fn aux_count_rejects_anything_but_an_rd() {
    let fx = Fx::new();
    let mut realm = fx.new_realm(HashAlgo::Sha256);
    let rec = fx.add_rec(&mut realm, true);
    let aux = fx.ctx(rec).aux[0];
    let cases = [
        ("unaligned", realm.rd + 8),
        ("delegated", fx.delegated()),
        ("NS", fx.ns_page()),
        ("a REC", rec),
        ("an aux granule", aux),
        ("an RTT", realm.root),
        ("DATA", realm.data_pa(DATA_IPAS[0])),
        ("outside DRAM", OUTSIDE),
        ("the RMM's memory", RMM_REGION),
        ("zero", 0),
    ];
    for (what, rd) in cases {
        assert_eq!(fx.call(rmi::REC_AUX_COUNT, &[rd]), err(INPUT), "{what}");
    }
}

// ==== RMI_REC_CREATE ==========================================================

#[test]
fn rec_create_failures_return_their_error_and_change_nothing() {
    let fx = Fx::new();
    let realm = fx.new_realm(HashAlgo::Sha256);
    let active = fx.active(HashAlgo::Sha256, &[true]);
    let rec = fx.delegated();
    let other = fx.delegated();
    let aux1 = fx.delegated();
    let ns = fx.ns_page();
    // Runnable, so that a wrong success would also show in the RIM.
    let good = fx.rec_params(0, true);
    let aux0 = good.aux[0];
    let with = |f: &dyn Fn(&mut RecParams)| {
        let mut p = good;
        f(&mut p);
        fx.write_params(&p)
    };
    let good_at = fx.write_params(&good);
    let cases: Vec<(&str, u64, u64, u64, u64)> = vec![
        // params
        ("params delegated", realm.rd, rec, other, INPUT),
        ("params unaligned", realm.rd, rec, good_at + 8, INPUT),
        ("params outside DRAM", realm.rd, rec, OUTSIDE, INPUT),
        ("params in the RMM", realm.rd, rec, RMM_REGION, INPUT),
        ("params is the RD", realm.rd, rec, realm.rd, INPUT),
        // aux
        (
            "num_aux 17",
            realm.rd,
            rec,
            with(&|p| p.num_aux = 17),
            INPUT,
        ),
        (
            "num_aux huge",
            realm.rd,
            rec,
            with(&|p| p.num_aux = u64::MAX),
            INPUT,
        ),
        ("aux NS", realm.rd, rec, with(&|p| p.aux[0] = ns), INPUT),
        (
            "aux unaligned",
            realm.rd,
            rec,
            with(&|p| p.aux[0] = aux0 + 8),
            INPUT,
        ),
        (
            "aux outside DRAM",
            realm.rd,
            rec,
            with(&|p| p.aux[0] = OUTSIDE),
            INPUT,
        ),
        (
            "aux is the RD",
            realm.rd,
            rec,
            with(&|p| p.aux[0] = realm.rd),
            INPUT,
        ),
        (
            "aux is an RTT",
            realm.rd,
            rec,
            with(&|p| p.aux[0] = realm.root),
            INPUT,
        ),
        (
            "aux twice",
            realm.rd,
            rec,
            with(&|p| p.aux[1] = aux0),
            INPUT,
        ),
        (
            "aux is the REC",
            realm.rd,
            rec,
            with(&|p| p.aux[0] = rec),
            INPUT,
        ),
        (
            "second aux NS (the first goes back)",
            realm.rd,
            rec,
            with(&|p| p.aux[1] = ns),
            INPUT,
        ),
        // rec
        ("rec NS", realm.rd, ns, good_at, INPUT),
        ("rec unaligned", realm.rd, rec + 8, good_at, INPUT),
        ("rec outside DRAM", realm.rd, OUTSIDE, good_at, INPUT),
        ("rec is an RD", realm.rd, active.rd, good_at, INPUT),
        ("rec is an RTT", realm.rd, realm.root, good_at, INPUT),
        ("rec is a REC", realm.rd, active.recs[0], good_at, INPUT),
        ("rec == rd", realm.rd, realm.rd, good_at, INPUT),
        // rd
        ("rd delegated", other, rec, good_at, INPUT),
        ("rd unaligned", realm.rd + 8, rec, good_at, INPUT),
        ("rd NS", ns, rec, good_at, INPUT),
        ("rd is a REC", active.recs[0], rec, good_at, INPUT),
        ("rd is an RTT", realm.root, rec, good_at, INPUT),
        // realm state (the next index of the active realm is 1)
        (
            "realm ACTIVE",
            active.rd,
            rec,
            with(&|p| p.mpidr = 1),
            ERROR_REALM,
        ),
        // MPIDR
        (
            "MPIDR Aff0 bit 4",
            realm.rd,
            rec,
            with(&|p| p.mpidr = 0x10),
            INPUT,
        ),
        (
            "MPIDR Aff0 bit 7",
            realm.rd,
            rec,
            with(&|p| p.mpidr = 0x80),
            INPUT,
        ),
        (
            "MPIDR bit 32",
            realm.rd,
            rec,
            with(&|p| p.mpidr = 1 << 32),
            INPUT,
        ),
        (
            "MPIDR bit 63",
            realm.rd,
            rec,
            with(&|p| p.mpidr = 1 << 63),
            INPUT,
        ),
        (
            "MPIDR index 1",
            realm.rd,
            rec,
            with(&|p| p.mpidr = 1),
            INPUT,
        ),
        (
            "MPIDR index 16",
            realm.rd,
            rec,
            with(&|p| p.mpidr = 0x100),
            INPUT,
        ),
        (
            "MPIDR Aff3",
            realm.rd,
            rec,
            with(&|p| p.mpidr = 1 << 24),
            INPUT,
        ),
        // num_aux != RMI_REC_AUX_COUNT
        ("num_aux 0", realm.rd, rec, with(&|p| p.num_aux = 0), INPUT),
        (
            "num_aux 2",
            realm.rd,
            rec,
            with(&|p| {
                p.num_aux = 2;
                p.aux[1] = aux1;
            }),
            INPUT,
        ),
    ];
    let watch = [
        rec,
        other,
        aux0,
        aux1,
        ns,
        realm.rd,
        realm.root,
        active.rd,
        active.recs[0],
    ];
    for (what, rd, rec, params, want) in cases {
        let before = fx.snap(&watch);
        assert_eq!(
            fx.call(rmi::REC_CREATE, &[rd, rec, params]),
            err(want),
            "{what}"
        );
        assert_eq!(fx.snap(&watch), before, "{what}: nothing changes");
        for a in watch {
            assert!(!fx.rmm.lock_leaked(a), "{what}: lock left on {a:#x}");
        }
    }
    // The same granules then make a REC.
    assert_eq!(fx.call(rmi::REC_CREATE, &[realm.rd, rec, good_at]), OK);
}

#[test]
fn rec_create_makes_rec_and_aux_and_sets_the_initial_context() {
    let fx = Fx::new();
    let realm = fx.new_realm(HashAlgo::Sha256);
    let mut p = fx.rec_params(0, true);
    p.pc = 0x8_1234;
    p.gprs = [11, 22, 33, 44, 55, 66, 77, 88];
    let rec = fx.delegated();
    let params = fx.write_params(&p);
    assert_eq!(fx.call(rmi::REC_CREATE, &[realm.rd, rec, params]), OK);
    assert_eq!(fx.state(rec), (GranuleState::Rec, 0));
    assert_eq!(fx.state(p.aux[0]), (GranuleState::RecAux, 0));
    assert_eq!(fx.state(realm.rd), (GranuleState::Rd, 1));
    assert_eq!(fx.rec_count(realm.rd), 1);
    let ctx = fx.ctx(rec);
    assert_eq!(ctx.pc, 0x8_1234);
    assert_eq!(ctx.gprs[..8], p.gprs);
    assert_eq!(ctx.gprs[8..], [0; 23]);
    assert_eq!(ctx.pstate, PSTATE_EL1H);
    assert_eq!(ctx.vmpidr, 1 << 31);
    assert_eq!(ctx.vttbr, realm.root | u64::from(realm.vmid) << 48);
    assert_eq!(ctx.vtcr & 0x3f, 64 - u64::from(S2SZ), "T0SZ");

    // A second REC, not runnable: MPIDR 1.
    let p = fx.rec_params(1, false);
    let rec1 = fx.delegated();
    let params = fx.write_params(&p);
    assert_eq!(fx.call(rmi::REC_CREATE, &[realm.rd, rec1, params]), OK);
    assert_eq!(fx.state(realm.rd), (GranuleState::Rd, 2));
    assert_eq!(fx.rec_count(realm.rd), 2);
    assert_eq!(fx.ctx(rec1).vmpidr, 1 << 31 | 1);
    assert_eq!(fx.ctx(rec1).pc, GUEST_PC);
}

#[test]
fn runnable_recs_extend_the_rim_and_others_do_not() {
    for hash in [HashAlgo::Sha256, HashAlgo::Sha512] {
        let fx = Fx::new();
        let mut realm = fx.new_realm(hash);
        let before = fx.rim(realm.rd);
        let p = fx.rec_params(0, true);
        let rec = fx.delegated();
        let params = fx.write_params(&p);
        assert_eq!(fx.call(rmi::REC_CREATE, &[realm.rd, rec, params]), OK);
        realm.recs.push(rec);
        let after = fx.rim(realm.rd);
        assert_ne!(after, before, "{hash:?}: a runnable REC is measured");
        assert_eq!(
            after,
            measure::extend_rec(hash, &before, p.flags, p.pc, &p.gprs),
            "{hash:?}: RmmMeasurementDescriptorRec"
        );
        fx.add_rec(&mut realm, false);
        assert_eq!(
            fx.rim(realm.rd),
            after,
            "{hash:?}: a non-runnable REC is not"
        );
        // A third, runnable, chains on.
        let mut p = fx.rec_params(2, true);
        p.pc = 0x1_0000;
        let rec = fx.delegated();
        let params = fx.write_params(&p);
        assert_eq!(fx.call(rmi::REC_CREATE, &[realm.rd, rec, params]), OK);
        assert_eq!(
            fx.rim(realm.rd),
            measure::extend_rec(hash, &after, 1, 0x1_0000, &p.gprs)
        );
    }
}

#[test]
fn the_seventeenth_rec_is_named_with_aff1() {
    let fx = Fx::new();
    let mut realm = fx.new_realm(HashAlgo::Sha256);
    for _ in 0..16 {
        fx.add_rec(&mut realm, false);
    }
    let mut p = fx.rec_params(16, false);
    let rec = fx.delegated();
    for bad in [0x10, 16, 0x0, 0xf, 0x101, 0x1_0000] {
        p.mpidr = bad;
        let params = fx.write_params(&p);
        assert_eq!(
            fx.call(rmi::REC_CREATE, &[realm.rd, rec, params]),
            err(INPUT),
            "MPIDR {bad:#x}"
        );
    }
    p.mpidr = 0x100;
    let params = fx.write_params(&p);
    assert_eq!(fx.call(rmi::REC_CREATE, &[realm.rd, rec, params]), OK);
    assert_eq!(fx.ctx(rec).vmpidr, 1 << 31 | 0x100);
    assert_eq!(fx.state(realm.rd), (GranuleState::Rd, 17));
}

#[test]
fn rd_refcount_counts_the_recs() {
    let fx = Fx::new();
    let mut realm = fx.new_realm(HashAlgo::Sha256);
    for n in 1..=5 {
        fx.add_rec(&mut realm, n % 2 == 1);
        assert_eq!(fx.state(realm.rd).1, n);
    }
    for (n, &rec) in realm.recs[..2].iter().enumerate() {
        assert_eq!(fx.call(rmi::REC_DESTROY, &[rec]), OK);
        assert_eq!(fx.state(realm.rd).1, 4 - n as u64);
    }
    // Indexes are not reused: the next REC is index 5.
    let mut p = fx.rec_params(3, false);
    let rec = fx.delegated();
    let params = fx.write_params(&p);
    assert_eq!(
        fx.call(rmi::REC_CREATE, &[realm.rd, rec, params]),
        err(INPUT)
    );
    p.mpidr = 5;
    let params = fx.write_params(&p);
    assert_eq!(fx.call(rmi::REC_CREATE, &[realm.rd, rec, params]), OK);
    assert_eq!(fx.state(realm.rd).1, 4);
}

// ==== RMI_REC_DESTROY =========================================================

#[test]
fn rec_destroy_rejects_what_is_not_a_rec() {
    let fx = Fx::new();
    let mut realm = fx.new_realm(HashAlgo::Sha256);
    let rec = fx.add_rec(&mut realm, true);
    let aux = fx.ctx(rec).aux[0];
    let cases = [
        ("unaligned", rec + 8),
        ("unaligned by a byte", rec + 1),
        ("NS", fx.ns_page()),
        ("delegated", fx.delegated()),
        ("an RD", realm.rd),
        ("an aux granule", aux),
        ("an RTT", realm.root),
        ("DATA", realm.data_pa(DATA_IPAS[1])),
        ("outside DRAM", OUTSIDE),
        ("the RMM's memory", RMM_REGION),
    ];
    let watch = [rec, aux, realm.rd];
    for (what, addr) in cases {
        let before = fx.snap(&watch);
        assert_eq!(fx.call(rmi::REC_DESTROY, &[addr]), err(INPUT), "{what}");
        assert_eq!(fx.snap(&watch), before, "{what}");
    }
}

#[test]
fn rec_destroy_scrubs_rec_and_aux_and_releases_the_rd() {
    let fx = Fx::new();
    let mut realm = fx.bare_realm(HashAlgo::Sha256);
    let rec0 = fx.add_rec(&mut realm, true);
    let rec1 = fx.add_rec(&mut realm, false);
    let (aux0, aux1) = (fx.ctx(rec0).aux[0], fx.ctx(rec1).aux[0]);
    assert!(!fx.is_zero(rec1));
    assert_eq!(
        fx.call(rmi::REALM_DESTROY, &[realm.rd]),
        err(ERROR_REALM),
        "a realm with RECs is live"
    );

    assert_eq!(fx.call(rmi::REC_DESTROY, &[rec1]), OK);
    assert_eq!(fx.state(rec1), (GranuleState::Delegated, 0));
    assert_eq!(fx.state(aux1), (GranuleState::Delegated, 0));
    assert!(fx.is_zero(rec1) && fx.is_zero(aux1), "scrubbed");
    assert_eq!(fx.state(realm.rd), (GranuleState::Rd, 1));
    assert_eq!(
        fx.state(rec0),
        (GranuleState::Rec, 0),
        "the other REC stays"
    );
    assert_eq!(fx.state(aux0), (GranuleState::RecAux, 0));

    assert_eq!(fx.call(rmi::REC_DESTROY, &[rec1]), err(INPUT), "twice");
    assert_eq!(
        fx.call(rmi::REC_ENTER, &[rec1, fx.run]),
        err(INPUT),
        "a destroyed REC cannot be entered"
    );
    assert_eq!(fx.call(rmi::REALM_DESTROY, &[realm.rd]), err(ERROR_REALM));

    assert_eq!(fx.call(rmi::REC_DESTROY, &[rec0]), OK);
    assert_eq!(fx.state(realm.rd), (GranuleState::Rd, 0));
    assert_eq!(fx.call(rmi::REALM_DESTROY, &[realm.rd]), OK);
    assert_eq!(fx.state(realm.rd), (GranuleState::Delegated, 0));
    // Everything can go back to the host.
    for g in [rec0, rec1, aux0, aux1, realm.rd, realm.root] {
        assert_eq!(fx.call(rmi::GRANULE_UNDELEGATE, &[g]), OK);
    }
}

#[test]
fn rec_destroy_of_a_rec_that_has_run_works() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    fx.exit_with(rec, [smc(rsi::VERSION, &[rsi::ABI_VERSION]), irq()]);
    assert_eq!(fx.call(rmi::REC_DESTROY, &[rec]), OK);
    assert_eq!(fx.state(realm.rd).1, 0);
}

// ==== RMI_REC_ENTER: refusals ================================================

#[test]
fn rec_enter_rejects_a_bad_run_granule_or_rec() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let aux = fx.ctx(rec).aux[0];
    let delegated = fx.delegated();
    let runs = [
        ("run delegated", delegated),
        ("run unaligned", fx.run + 8),
        ("run outside DRAM", OUTSIDE),
        ("run in the RMM", RMM_REGION),
        ("run is the REC", rec),
        ("run is the RD", realm.rd),
        ("run is DATA", realm.data_pa(DATA_IPAS[0])),
    ];
    let recs = [
        ("rec unaligned", rec + 8),
        ("rec delegated", delegated),
        ("rec NS", fx.ns_page()),
        ("rec is the RD", realm.rd),
        ("rec is its aux", aux),
        ("rec is an RTT", realm.root),
        ("rec outside DRAM", OUTSIDE),
    ];
    let before = fx.snap(&[rec, realm.rd]);
    for (what, rec_arg, run) in runs
        .iter()
        .map(|&(w, run)| (w, rec, run))
        .chain(recs.iter().map(|&(w, r)| (w, r, fx.run)))
    {
        assert_eq!(
            fx.call(rmi::REC_ENTER, &[rec_arg, run]),
            err(INPUT),
            "{what}"
        );
        assert_eq!(fx.snap(&[rec, realm.rd]), before, "{what}");
    }
    assert!(fx.take_seen().is_empty(), "the realm never ran");
    assert_eq!(*fx.rmm.host_switches.borrow(), (0, 0));
    fx.enter(rec);
    assert_eq!(*fx.rmm.host_switches.borrow(), (1, 1));
}

#[test]
fn host_state_is_switched_once_per_rec_enter() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    fx.exit_with(
        rec,
        [
            smc(rsi::VERSION, &[rsi::ABI_VERSION]),
            smc(rsi::FEATURES, &[0]),
            step(|ctx| {
                ctx.el1.vbar_el1 = VBAR;
                sync(ec(EC_HVC) | IL, 0, 0)
            }),
            take(dabt(FSC_TRANSLATION_L3, EMPTY_IPA)),
            take(sync(ec(EC_WFX) | IL, 0, 0)),
        ],
    );
    assert_eq!(
        fx.take_seen().len(),
        5,
        "four exceptions handled in the RMM"
    );
    assert_eq!(*fx.rmm.host_switches.borrow(), (1, 1));
    fx.assert_enter_fails(
        rec,
        &RecEntry {
            gicv3_hcr: 1,
            ..Default::default()
        },
        ERROR_REC,
        "bad GIC",
    );
    assert_eq!(*fx.rmm.host_switches.borrow(), (1, 1));
}

#[test]
fn rec_enter_in_a_new_realm_is_error_realm_0() {
    let fx = Fx::new();
    let mut realm = fx.new_realm(HashAlgo::Sha256);
    let rec = fx.add_rec(&mut realm, true);
    fx.assert_enter_fails(rec, &RecEntry::default(), ERROR_REALM, "NEW realm");
    assert_eq!(err(ERROR_REALM)[0], 0x2);
}

#[test]
fn rec_enter_of_a_rec_that_is_not_runnable_is_error_rec() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, false]);
    fx.assert_enter_fails(
        realm.recs[1],
        &RecEntry::default(),
        ERROR_REC,
        "not runnable",
    );
    fx.enter(realm.recs[0]);
}

#[test]
fn rec_enter_refuses_invalid_gic_state() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let hcr = |bits: u64| RecEntry {
        gicv3_hcr: bits,
        ..Default::default()
    };
    let lrs = |lrs: &[u64]| {
        let mut e = RecEntry::default();
        e.gicv3_lrs[..lrs.len()].copy_from_slice(lrs);
        e
    };
    let mut cases: Vec<(String, RecEntry)> = [0, 8, 9, 10, 11, 12, 13, 15, 16, 27, 31, 63]
        .iter()
        .map(|&bit| (format!("ICH_HCR bit {bit}"), hcr(1 << bit)))
        .collect();
    cases.extend([
        ("LR with HW".to_string(), lrs(&[pending(27) | 1 << 61])),
        (
            "LR with pINTID bit 32".into(),
            lrs(&[pending(27) | 1 << 32]),
        ),
        (
            "LR with pINTID bit 44".into(),
            lrs(&[pending(27) | 1 << 44]),
        ),
        (
            "duplicate vINTID".into(),
            lrs(&[pending(40), 0, pending(40)]),
        ),
        (
            "duplicate vINTID, active".into(),
            lrs(&[pending(40), 2 << 62 | 40]),
        ),
        ("vINTID 1020".into(), lrs(&[pending(1020)])),
        ("vINTID 1023".into(), lrs(&[pending(1023)])),
        ("vINTID beyond 16 bits".into(), lrs(&[pending(1 << 16)])),
        (
            "vINTID in the extended SPI range".into(),
            lrs(&[pending(4096)]),
        ),
        (
            "unimplemented priority bit".into(),
            lrs(&[pending(27) | 1 << 48]),
        ),
        (
            "bad LR in the last implemented slot".into(),
            lrs(&[0, 0, 0, pending(27) | 1 << 61]),
        ),
    ]);
    for (what, e) in &cases {
        fx.assert_enter_fails(rec, e, ERROR_REC, what);
    }
    // Valid: every host bit, EOI in pINTID, an invalid duplicate, LRs
    // beyond the 4 implemented not looked at.
    let mut e = lrs(&[pending(27), pending(40) | 1 << 41, 40, pending(8192)]);
    e.gicv3_hcr = HCR_HOST;
    e.gicv3_lrs[5] = pending(27) | 1 << 61;
    fx.enter_ok_with(rec, &e);
}

#[test]
fn rec_enter_while_a_psci_request_is_pending_is_error_rec() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, false]);
    let (rec0, rec1) = (realm.recs[0], realm.recs[1]);
    fx.psci_exit(rec0, CPU_ON, &[1, GUEST_PC, 0]);
    fx.assert_enter_fails(rec0, &RecEntry::default(), ERROR_REC, "PSCI pending");
    assert_eq!(fx.psci_complete(rec0, rec1, PSCI_SUCCESS), OK);
    fx.enter(rec0);
}

#[test]
fn emulated_mmio_completion_needs_an_emulatable_abort() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let mut mmio = RecEntry {
        flags: entry::FLAG_EMUL_MMIO,
        ..Default::default()
    };
    mmio.gprs[0] = 0x1337;
    fx.assert_enter_fails(rec, &mmio, ERROR_REC, "before any exit");
    let read = ISV | sas(3) | srt(5) | SF | FSC_TRANSLATION_L3;
    let exits: Vec<(&str, Step)> = vec![
        ("after an IRQ", irq()),
        ("after a WFI", take(sync(ec(EC_WFX) | IL, 0, 0))),
        ("after a host call", smc(rsi::HOST_CALL, &[DATA_IPAS[0]])),
        ("after a PSCI exit", smc(CPU_SUSPEND, &[0])),
        (
            "after an abort without ISV",
            take(dabt(FSC_TRANSLATION_L3 | WNR, MMIO)),
        ),
        (
            "after an instruction abort",
            take(sync(
                ec(EC_IABT) | IL | FSC_TRANSLATION_L3,
                va(RAM_NO_DATA),
                hpfar(RAM_NO_DATA),
            )),
        ),
    ];
    for (what, s) in exits {
        fx.exit_with(rec, [s]);
        fx.assert_enter_fails(rec, &mmio, ERROR_REC, what);
    }
    // After an emulatable read it completes.
    fx.exit_with(rec, [take(dabt(read, MMIO))]);
    let pc = fx.ctx(rec).pc;
    fx.take_seen();
    fx.enter_ok_with(rec, &mmio);
    let ctx = fx.take_seen()[0].1;
    assert_eq!((ctx.gprs[5], ctx.pc), (0x1337, pc + 4));
    // Only once.
    fx.assert_enter_fails(rec, &mmio, ERROR_REC, "twice");
}

#[test]
fn emulated_mmio_after_a_non_emulatable_abort_with_isv_is_error_rec() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let mut mmio = RecEntry {
        flags: entry::FLAG_EMUL_MMIO,
        ..Default::default()
    };
    mmio.gprs[0] = 0x1337;
    for (what, trap) in [
        (
            "a Protected IPA",
            dabt(ISV | sas(3) | srt(5) | SF | FSC_TRANSLATION_L3, RAM_NO_DATA),
        ),
        (
            "an external abort (UEO) on MMIO",
            dabt(ISV | sas(3) | srt(5) | SF | 3 << 11 | FSC_SEA, MMIO),
        ),
    ] {
        let x = fx.exit_with(rec, [take(trap)]);
        assert_eq!(
            x.esr & ISV,
            0,
            "{what}: the host was told it cannot emulate this"
        );
        fx.assert_enter_fails(rec, &mmio, ERROR_REC, what);
    }
}

#[test]
fn inject_sea_needs_a_data_abort_at_an_unprotected_ipa() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let sea = RecEntry {
        flags: entry::FLAG_INJECT_SEA,
        ..Default::default()
    };
    fx.assert_enter_fails(rec, &sea, ERROR_REC, "before any exit");
    let exits: Vec<(&str, Step)> = vec![
        ("after an IRQ", irq()),
        ("after a WFI", take(sync(ec(EC_WFX) | IL, 0, 0))),
        (
            "after a Protected abort",
            take(dabt(ISV | sas(2) | FSC_TRANSLATION_L3, RAM_NO_DATA)),
        ),
        (
            "after an instruction abort",
            take(sync(
                ec(EC_IABT) | IL | FSC_TRANSLATION_L3,
                va(RAM_NO_DATA),
                hpfar(RAM_NO_DATA),
            )),
        ),
        ("after a host call", smc(rsi::HOST_CALL, &[DATA_IPAS[0]])),
        (
            "after a RIPAS change",
            smc(
                rsi::IPA_STATE_SET,
                &[EMPTY_IPA, EMPTY_IPA + PAGE, RIPAS_EMPTY, 0],
            ),
        ),
    ];
    for (what, s) in exits {
        fx.exit_with(rec, [s]);
        fx.assert_enter_fails(rec, &sea, ERROR_REC, what);
    }
    // After an Unprotected abort (emulatable or not) the SEA goes in.
    for iss in [
        WNR | FSC_TRANSLATION_L3,
        ISV | sas(2) | srt(3) | FSC_TRANSLATION_L3,
    ] {
        fx.exit_with(
            rec,
            [step(move |ctx| {
                ctx.el1.vbar_el1 = VBAR;
                ctx.pc = GUEST_PC + 0x40;
                dabt(iss, MMIO + 0x10)
            })],
        );
        let x = fx.exit_with_entry(rec, &sea, []);
        assert_eq!(x.reason, exit::IRQ);
        let ctx = fx.take_seen()[0].1;
        assert_eq!(ctx.pc, VBAR + 0x200, "{iss:#x}");
        assert_eq!(
            ctx.el1.esr_el1,
            ec(EC_DABT_CUR) | IL | EA | (iss & WNR) | FSC_SEA
        );
        assert_eq!(ctx.el1.far_el1, va(MMIO + 0x10));
        assert_eq!(ctx.el1.elr_el1, GUEST_PC + 0x40);
    }
    // With EMUL_MMIO as well, the SEA wins and no register is written.
    fx.exit_with(
        rec,
        [step(|ctx| {
            secrets(ctx);
            dabt(ISV | sas(3) | srt(4) | SF | FSC_TRANSLATION_L3, MMIO)
        })],
    );
    let mut both = RecEntry {
        flags: entry::FLAG_INJECT_SEA | entry::FLAG_EMUL_MMIO,
        ..Default::default()
    };
    both.gprs[0] = 77;
    fx.exit_with_entry(rec, &both, []);
    let ctx = fx.take_seen()[0].1;
    assert_eq!(ctx.gprs[4], SECRET | 4);
    assert_eq!(ctx.pc, VBAR + 0x200);
}

#[test]
fn rec_enter_sets_wfx_traps_per_entry() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let (twi, twe) = (1u64 << 13, 1u64 << 14);
    for (flags, want) in [
        (entry::FLAG_TRAP_WFI, twi),
        (entry::FLAG_TRAP_WFE, twe),
        (entry::FLAG_TRAP_WFI | entry::FLAG_TRAP_WFE, twi | twe),
        (0, 0),
    ] {
        let e = RecEntry {
            flags,
            ..Default::default()
        };
        fx.exit_with_entry(rec, &e, []);
        let ctx = fx.take_seen()[0].1;
        assert_eq!(ctx.hcr & (twi | twe), want, "flags {flags:#x}");
    }
}

// ==== REC exits ===============================================================

#[test]
fn host_call_passes_the_struct_and_takes_the_answer_back() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let page = realm.data_pa(DATA_IPAS[0]);
    let ipa = DATA_IPAS[0] + 0x300;
    // The realm's RsiHostCall: imm, then X0-X30.
    let mut s = vec![0u8; 0x100];
    s[0..2].copy_from_slice(&0x42u16.to_le_bytes());
    for i in 0..31 {
        s[8 + 8 * i..16 + 8 * i].copy_from_slice(&(0x1000 + i as u64).to_le_bytes());
    }
    fx.rmm.machine.poke(page, 0x300, &s);
    let x = fx.exit_with(rec, [smc(rsi::HOST_CALL, &[ipa])]);
    let mut want = exit_of(exit::HOST_CALL);
    want.imm = 0x42;
    for (i, r) in want.gprs.iter_mut().enumerate() {
        *r = 0x1000 + i as u64;
    }
    assert_eq!(core(&x), want, "the struct's X0-X30 only");
    assert_eq!(fx.ctx(rec).pc, GUEST_PC + 4);

    // The host answers in the entry record.
    let mut e = RecEntry::default();
    for (i, r) in e.gprs.iter_mut().enumerate() {
        *r = 0x2000 + i as u64;
    }
    fx.exit_with_entry(rec, &e, []);
    let ctx = fx.take_seen()[0].1;
    assert_eq!(ctx.gprs[0], rsi::SUCCESS);
    assert_eq!(ctx.gprs[1], ipa);
    assert_eq!(
        ctx.gprs[2..],
        (2..31).map(|i| SECRET | i).collect::<Vec<_>>()[..]
    );
    assert_eq!(ctx.pc, GUEST_PC + 4);
    let g = fx.rmm.machine.peek(page);
    assert_eq!(g.u64_at(0x300) & 0xffff, 0x42, "imm unchanged");
    for i in 0..31 {
        assert_eq!(g.u64_at(0x308 + 8 * i), 0x2000 + i as u64, "X{i}");
    }
    assert_eq!(
        g.u64_at(0x400),
        0x1111_1111_1111_1111,
        "the next bytes untouched"
    );
    // Completed once: a later entry does not copy again.
    e.gprs = [7; 31];
    fx.exit_with_entry(rec, &e, []);
    assert_eq!(fx.rmm.machine.peek(page).u64_at(0x308), 0x2000);
}

#[test]
fn host_call_struct_at_the_end_of_a_page() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let page = realm.data_pa(DATA_IPAS[1]);
    let mut s = vec![0u8; 0x100];
    s[0] = 0x7;
    for i in 0..31 {
        s[8 + 8 * i..16 + 8 * i].copy_from_slice(&(0xa00 + i as u64).to_le_bytes());
    }
    fx.rmm.machine.poke(page, 0xf00, &s);
    let x = fx.exit_with(rec, [smc(rsi::HOST_CALL, &[DATA_IPAS[1] + 0xf00])]);
    assert_eq!(
        (x.reason, x.imm, x.gprs[0], x.gprs[30]),
        (exit::HOST_CALL, 7, 0xa00, 0xa1e)
    );
    let e = RecEntry {
        gprs: [0xb0b; 31],
        ..Default::default()
    };
    fx.exit_with_entry(rec, &e, []);
    let g = fx.rmm.machine.peek(page);
    assert_eq!(g.u64_at(0xff8), 0xb0b, "X30, the page's last word");
    assert_eq!(
        fx.rmm.machine.peek(realm.data_pa(DATA_IPAS[2])).u64_at(0),
        0x1111_1111_1111_1111,
        "the next page untouched"
    );
}

#[test]
fn host_call_with_a_bad_buffer_is_error_input() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    for (what, ipa) in [
        ("not 256-byte aligned", DATA_IPAS[0] + 0x80),
        ("8-byte aligned", DATA_IPAS[0] + 8),
        ("Unprotected", UNPROT + PAGE),
        ("beyond the IPA space", IPA_TOP),
        ("RIPAS EMPTY", EMPTY_IPA),
        ("RIPAS EMPTY at level 2", L3_TOP + 0x100),
    ] {
        let ctx = fx.rsi(rec, u64::from(rsi::HOST_CALL), &[ipa]);
        assert_eq!(ctx.gprs[0], rsi::ERROR_INPUT, "{what}");
    }
}

#[test]
fn host_call_on_unbacked_ram_faults_to_the_host_and_is_repeated() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let ipa = RAM_NO_DATA + 0x200;
    let x = fx.exit_with(rec, [smc(rsi::HOST_CALL, &[ipa])]);
    assert_eq!(
        core(&x),
        RecExit {
            reason: exit::SYNC,
            esr: ec(EC_DABT) | FSC_TRANSLATION_L3,
            hpfar: RAM_NO_DATA >> 8,
            ..Default::default()
        }
    );
    assert_eq!(fx.ctx(rec).pc, GUEST_PC, "the SMC is not completed");
    // The host backs the page; the realm repeats the call.
    let data = fx.delegated();
    assert_eq!(
        fx.call(rmi::DATA_CREATE_UNKNOWN, &[realm.rd, data, RAM_NO_DATA])[0],
        0
    );
    fx.rmm.machine.poke(data, 0x200, &9u64.to_le_bytes());
    let x = fx.exit_with(rec, [step(|_| sync(ESR_SMC, 0, 0))]);
    assert_eq!(fx.take_seen()[0].1.pc, GUEST_PC);
    assert_eq!((x.reason, x.imm), (exit::HOST_CALL, 9));
}

#[test]
fn host_call_completion_into_a_destroyed_buffer_faults_without_running() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    fx.exit_with(rec, [smc(rsi::HOST_CALL, &[DATA_IPAS[2]])]);
    assert_eq!(fx.call(rmi::DATA_DESTROY, &[realm.rd, DATA_IPAS[2]])[0], 0);
    let x = fx.exit_with(rec, []);
    assert!(fx.take_seen().is_empty(), "the realm does not run");
    assert_eq!(
        core(&x),
        RecExit {
            reason: exit::SYNC,
            esr: ec(EC_DABT) | FSC_TRANSLATION_L3,
            hpfar: DATA_IPAS[2] >> 8,
            ..Default::default()
        }
    );
}

#[test]
fn mmio_write_to_an_unprotected_ipa_exits_with_the_value() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let value = 0x1122_3344_5566_7788u64;
    for (size, rt, sf, want) in [
        (0, 3, 0, 0x88),
        (1, 4, 0, 0x7788),
        (2, 5, 0, 0x5566_7788),
        (3, 6, SF, value),
        (3, 30, SF, value),
        (3, 31, SF, 0),
    ] {
        let esr = ec(EC_DABT)
            | IL
            | ISV
            | sas(size)
            | srt(rt)
            | sf
            | AR
            | VNCR
            | S1PTW
            | WNR
            | FSC_TRANSLATION_L3;
        let ipa = MMIO + 0x10 + 8 * rt;
        let x = fx.exit_with(
            rec,
            [step(move |ctx| {
                secrets(ctx);
                if rt != 31 {
                    ctx.gprs[rt as usize] = value;
                }
                ctx.pc = GUEST_PC + 0x20;
                sync(esr, va(ipa), hpfar(ipa))
            })],
        );
        let mut expect = RecExit {
            reason: exit::SYNC,
            esr: ec(EC_DABT) | ISV | sas(size) | sf | WNR | FSC_TRANSLATION_L3,
            // The host learns the offset within the page, never the VA.
            far: va(ipa) & 0xfff,
            hpfar: hpfar(ipa),
            ..Default::default()
        };
        expect.gprs[0] = want;
        assert_eq!(core(&x), expect, "size {size} X{rt}");
        assert_eq!(x.esr, esr & EMULATED);
        // The host emulated it: the realm moves on, its registers as they were.
        let e = RecEntry {
            flags: entry::FLAG_EMUL_MMIO,
            gprs: [0xdead; 31],
            ..Default::default()
        };
        fx.exit_with_entry(rec, &e, []);
        let ctx = fx.take_seen()[0].1;
        assert_eq!(ctx.pc, GUEST_PC + 0x24);
        for (i, &r) in ctx.gprs.iter().enumerate() {
            let before = if i == rt as usize {
                value
            } else {
                SECRET | i as u64
            };
            assert_eq!(r, before, "X{i}");
        }
    }
}

#[test]
fn unprotected_abort_without_isv_reports_no_value() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let x = fx.exit_with(
        rec,
        [step(|ctx| {
            secrets(ctx);
            dabt(sas(3) | srt(2) | SF | WNR | FSC_TRANSLATION_L3, MMIO + 0x28)
        })],
    );
    assert_eq!(x.reason, exit::SYNC);
    assert_eq!(
        x.esr & (EC_MASK_TEST | ISV | 0x3f),
        ec(EC_DABT) | FSC_TRANSLATION_L3
    );
    assert_eq!((x.far, x.hpfar), (0x28, hpfar(MMIO)), "the offset only");
    assert_eq!(x.gprs, [0; 31], "no value without ISV");
}

#[test]
fn mmio_read_completion_writes_the_target_register() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let cases: [(&str, u64, u64, u64, u64, u64); 11] = [
        // (what, SAS, SSE|SF, Rt, host value, register)
        ("LDRB", 0, 0, 5, 0x1ff, 0xff),
        ("LDRSB x", 0, SSE | SF, 5, 0x80, 0xffff_ffff_ffff_ff80),
        ("LDRSB w", 0, SSE, 5, 0x80, 0xffff_ff80),
        ("LDRSB positive", 0, SSE | SF, 1, 0x17f, 0x7f),
        ("LDRH", 1, 0, 6, 0x1_8001, 0x8001),
        ("LDRSH x", 1, SSE | SF, 6, 0x8001, 0xffff_ffff_ffff_8001),
        ("LDRSH w", 1, SSE, 6, 0x8001, 0xffff_8001),
        ("LDR w", 2, 0, 7, 0x1_2345_6789, 0x2345_6789),
        ("LDRSW", 2, SSE | SF, 7, 0x8000_0000, 0xffff_ffff_8000_0000),
        ("LDR x", 3, SF, 30, u64::MAX - 1, u64::MAX - 1),
        ("LDR xzr", 3, SF, 31, 5, 0),
    ];
    for (what, size, bits, rt, value, want) in cases {
        let iss = ISV | sas(size) | bits | srt(rt) | FSC_TRANSLATION_L3;
        let x = fx.exit_with(
            rec,
            [step(move |ctx| {
                secrets(ctx);
                ctx.pc = GUEST_PC + 0x40;
                dabt(iss, MMIO + 4)
            })],
        );
        let mut expect = RecExit {
            reason: exit::SYNC,
            esr: ec(EC_DABT) | ISV | sas(size) | (bits & SF) | FSC_TRANSLATION_L3,
            far: va(MMIO + 4) & 0xfff,
            hpfar: hpfar(MMIO),
            ..Default::default()
        };
        expect.gprs[0] = 0;
        assert_eq!(core(&x), expect, "{what}: a read reports no value");
        let mut e = RecEntry {
            flags: entry::FLAG_EMUL_MMIO,
            ..Default::default()
        };
        e.gprs[0] = value;
        e.gprs[1] = 0xbad;
        fx.exit_with_entry(rec, &e, []);
        let ctx = fx.take_seen()[0].1;
        assert_eq!(ctx.pc, GUEST_PC + 0x44, "{what}");
        for (i, &r) in ctx.gprs.iter().enumerate() {
            let expect = if i == rt as usize {
                want
            } else {
                SECRET | i as u64
            };
            assert_eq!(r, expect, "{what}: X{i}");
        }
    }
}

#[test]
fn abort_on_protected_ram_without_data_exits_non_emulatable() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    for ipa in [RAM_NO_DATA, RAM_NO_DATA + 0x1008] {
        let esr = ec(EC_DABT) | IL | ISV | sas(3) | srt(5) | SF | AR | WNR | FSC_TRANSLATION_L3;
        let x = fx.exit_with(
            rec,
            [step(move |ctx| {
                secrets(ctx);
                sync(esr, va(ipa), hpfar(ipa))
            })],
        );
        assert_eq!(
            core(&x),
            RecExit {
                reason: exit::SYNC,
                esr: ec(EC_DABT) | FSC_TRANSLATION_L3,
                far: 0,
                hpfar: hpfar(ipa),
                ..Default::default()
            },
            "no ISV, no access size, no value, no FAR"
        );
        assert_eq!(x.esr, esr & NONEMULATED);
        // Not handled: the realm retries the access.
        assert_eq!(fx.ctx(rec).pc, GUEST_PC);
    }
}

#[test]
fn abort_on_ripas_empty_or_beyond_the_ipa_space_injects_an_sea() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let cases = [
        ("RIPAS EMPTY at level 3", EMPTY_IPA + 0x18),
        ("RIPAS EMPTY at level 2", L3_TOP + 0x5000),
        ("RIPAS EMPTY at level 1", GB + 0x3000),
        ("the last Protected page", PROT_TOP - PAGE),
        ("just beyond the IPA space", IPA_TOP),
        ("far beyond the IPA space", 1 << 47),
    ];
    for (what, ipa) in cases {
        for (wnr, pstate, vector, class) in [
            (WNR, PSTATE_EL1H, 0x200, EC_DABT_CUR),
            (0, PSTATE_EL1H, 0x200, EC_DABT_CUR),
            (WNR, 0x3c0, 0x400, EC_DABT),
        ] {
            let x = fx.exit_with(
                rec,
                [step(move |ctx| {
                    secrets(ctx);
                    ctx.el1.vbar_el1 = VBAR;
                    ctx.pc = GUEST_PC + 0x80;
                    ctx.pstate = pstate;
                    dabt(ISV | sas(2) | srt(2) | wnr | FSC_TRANSLATION_L3, ipa)
                })],
            );
            assert_eq!(core(&x), exit_of(exit::IRQ), "{what}: no exit");
            let ctx = fx.take_seen()[1].1;
            assert_eq!(ctx.pc, VBAR + vector, "{what}");
            assert_eq!(
                ctx.el1.esr_el1,
                ec(class) | IL | EA | wnr | FSC_SEA,
                "{what}"
            );
            assert_eq!(ctx.el1.far_el1, va(ipa), "{what}");
            assert_eq!(ctx.el1.elr_el1, GUEST_PC + 0x80, "{what}");
            assert_eq!(ctx.el1.spsr_el1, pstate, "{what}");
            assert_eq!(ctx.pstate, PSTATE_EL1H, "{what}");
            assert_eq!(ctx.gprs[2], SECRET | 2, "{what}: no value loaded");
        }
    }
}

#[test]
fn instruction_fetch_from_unprotected_or_empty_memory_injects_an_sea() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    for ipa in [EMPTY_IPA, MMIO, IPA_TOP + PAGE] {
        fx.exit_with(
            rec,
            [step(move |ctx| {
                ctx.el1.vbar_el1 = VBAR;
                ctx.pc = va(ipa);
                sync(ec(EC_IABT) | IL | FSC_TRANSLATION_L3, va(ipa), hpfar(ipa))
            })],
        );
        let ctx = fx.take_seen()[1].1;
        assert_eq!(ctx.pc, VBAR + 0x200, "{ipa:#x}");
        assert_eq!(ctx.el1.esr_el1, ec(0x21) | IL | EA | FSC_SEA, "{ipa:#x}");
    }
    // On Protected RAM without DATA the host hears of it.
    let x = fx.exit_with(
        rec,
        [take(sync(
            ec(EC_IABT) | IL | 1 << 7 | FSC_TRANSLATION_L3,
            va(RAM_NO_DATA),
            hpfar(RAM_NO_DATA),
        ))],
    );
    assert_eq!(
        core(&x),
        RecExit {
            reason: exit::SYNC,
            esr: ec(EC_IABT) | FSC_TRANSLATION_L3,
            hpfar: hpfar(RAM_NO_DATA),
            ..Default::default()
        }
    );
}

#[test]
fn wfi_and_wfe_exit_with_ec_1_and_move_past_the_instruction() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    for (what, iss, want) in [
        ("WFI", 0, ec(EC_WFX)),
        ("WFE", 1, ec(EC_WFX) | 1),
        ("WFIT with a register", 2 | 1 << 2 | 7 << 5, ec(EC_WFX)),
    ] {
        let pc = fx.ctx(rec).pc;
        let x = fx.exit_with(
            rec,
            [step(move |ctx| {
                secrets(ctx);
                sync(ec(EC_WFX) | IL | 1 << 24 | iss, 0x1234, 0x5678)
            })],
        );
        assert_eq!(
            core(&x),
            RecExit {
                reason: exit::SYNC,
                esr: want,
                ..Default::default()
            },
            "{what}"
        );
        assert_eq!(fx.ctx(rec).pc, pc + 4, "{what}");
    }
}

#[test]
fn interrupts_exit_with_nothing_but_the_reason() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    for (kind, reason) in [
        (TrapKind::Irq, exit::IRQ),
        (TrapKind::Fiq, exit::FIQ),
        (TrapKind::TimerChange, exit::IRQ),
    ] {
        let x = fx.exit_with(
            rec,
            [step(move |ctx| {
                secrets(ctx);
                ctx.pc = GUEST_PC + 0x100;
                Trap {
                    kind,
                    esr: 0x1234,
                    far: 0x5678,
                    hpfar: 0x9abc,
                    irq_pending: false,
                }
            })],
        );
        assert_eq!(core(&x), exit_of(reason), "{kind:?}");
        assert_eq!(fx.ctx(rec).pc, GUEST_PC + 0x100, "{kind:?}");
    }
}

#[test]
fn serror_exits_with_its_syndrome_masked() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let esr = ec(EC_SERROR) | IL | 1 << 13 | 2 << 10 | 1 << 9 | 0x11;
    let x = fx.exit_with(
        rec,
        [step(move |ctx| {
            secrets(ctx);
            async_trap(TrapKind::SError, esr)
        })],
    );
    assert_eq!(
        core(&x),
        RecExit {
            reason: exit::SERROR,
            esr: 2 << 10 | 1 << 9 | 0x11,
            ..Default::default()
        }
    );
}

#[test]
fn hvc_and_other_traps_inject_undefined_without_an_exit() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    for (what, esr) in [
        ("HVC", ec(EC_HVC) | IL | 0x42),
        ("MSR trap", ec(EC_SYSREG) | IL | 0x30_0000),
        ("SMC from AArch32", ec(EC_SMC32) | IL),
        ("unknown", ec(EC_UNKNOWN) | IL),
    ] {
        let x = fx.exit_with(
            rec,
            [step(move |ctx| {
                secrets(ctx);
                ctx.el1.vbar_el1 = VBAR;
                ctx.pc = GUEST_PC + 0xc4;
                sync(esr, 0, 0)
            })],
        );
        assert_eq!(core(&x), exit_of(exit::IRQ), "{what}: no exit");
        let ctx = fx.take_seen()[1].1;
        assert_eq!(ctx.pc, VBAR + 0x200, "{what}");
        assert_eq!(ctx.el1.esr_el1, ec(EC_UNKNOWN) | IL, "{what}");
        assert_eq!(ctx.el1.elr_el1, GUEST_PC + 0xc4, "{what}");
        assert_eq!(ctx.gprs[0], SECRET, "{what}: registers untouched");
    }
}

#[test]
fn ripas_change_exit_reports_the_request_only() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    fx.request_ripas(rec, RAM_NO_DATA, RAM_NO_DATA + 0x3000, RIPAS_EMPTY, 0);
    assert_eq!(fx.ctx(rec).pc, GUEST_PC + 4);
    let rec_ctx = fx.ctx(rec);
    fx.request_ripas(rec, EMPTY_IPA, PROT_TOP, RIPAS_RAM, 0);
    assert_eq!(fx.ctx(rec).pc, rec_ctx.pc + 4);
}

// ==== GIC and timers ==========================================================

#[test]
fn gic_list_registers_go_in_and_come_back() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let mut e = RecEntry {
        gicv3_hcr: 1 << 1 | 1 << 14,
        ..Default::default()
    };
    e.gicv3_lrs[..4].copy_from_slice(&[pending(27), pending(30), 0, pending(8200)]);
    e.gicv3_lrs[7] = pending(99);
    let x = fx.exit_with_entry(
        rec,
        &e,
        [step(|ctx| {
            ctx.gic.lrs[0] = 0;
            ctx.gic.lrs[2] = pending(33);
            ctx.gic.lrs[6] = pending(44);
            ctx.gic.hcr |= 3 << 27 | 1 << 10;
            ctx.gic.misr = 0x5;
            ctx.gic.vmcr = 0xf0;
            irq_trap()
        })],
    );
    let ctx = fx.take_seen()[0].1;
    assert_eq!(ctx.gic.lrs[..4], e.gicv3_lrs[..4]);
    assert_eq!(ctx.gic.lrs[4..], [0; 12], "only the 4 implemented LRs");
    assert_eq!(ctx.gic.hcr & HCR_HOST, 1 << 1 | 1 << 14);
    assert_eq!(ctx.gic.hcr & 1, 1, "the virtual CPU interface is on");
    let mut lrs = [0; 16];
    lrs[..4].copy_from_slice(&[0, pending(30), pending(33), pending(8200)]);
    assert_eq!(x.gicv3_lrs, lrs);
    assert_eq!(x.gicv3_hcr, 1 << 1 | 1 << 14 | 3 << 27);
    assert_eq!(x.gicv3_hcr & !(HCR_EOI_COUNT | HCR_HOST), 0);
    assert_eq!((x.gicv3_misr, x.gicv3_vmcr), (0x5, 0xf0));
}

#[test]
fn timers_are_reported_with_cntvoff_taken_off() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let x = fx.exit_with(
        rec,
        [step(|ctx| {
            ctx.timer.cntv_ctl = 0b101;
            ctx.timer.cntv_cval = 1_000_000;
            ctx.timer.cntvoff = 1_000;
            ctx.timer.cntp_ctl = 0b011;
            ctx.timer.cntp_cval = 777;
            irq_trap()
        })],
    );
    assert_eq!(
        (x.cntv_ctl, x.cntv_cval, x.cntp_ctl, x.cntp_cval),
        (0b101, 999_000, 0b011, 777)
    );
}

// ==== RSI =====================================================================

#[test]
fn rsi_version() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    for (requested, status) in [
        (0x1_0000, rsi::SUCCESS),
        (0x1_0001, rsi::ERROR_INPUT),
        (0x2_0000, rsi::ERROR_INPUT),
        (0, rsi::ERROR_INPUT),
    ] {
        let ctx = fx.rsi(rec, u64::from(rsi::VERSION), &[requested]);
        assert_eq!(
            ctx.gprs[..3],
            [status, 0x1_0000, 0x1_0000],
            "{requested:#x}"
        );
        assert_eq!(ctx.gprs[3], SECRET | 3);
    }
    // The SMCCC SVE hint bit is ignored.
    let ctx = fx.rsi(rec, u64::from(rsi::VERSION) | 1 << 16, &[0x1_0000]);
    assert_eq!(ctx.gprs[0], rsi::SUCCESS);
}

#[test]
fn rsi_features_are_all_zero() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    for index in [0, 1, u64::MAX] {
        let ctx = fx.rsi(realm.recs[0], u64::from(rsi::FEATURES), &[index]);
        assert_eq!(ctx.gprs[..2], [0, 0]);
    }
}

#[test]
fn smccc_version_and_unknown_functions() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let ctx = fx.rsi(rec, u64::from(smccc::SMCCC_VERSION), &[]);
    assert_eq!(ctx.gprs[0], 0x1_0002);
    for fid in [
        0xc400_019au64,
        0xc400_01af,
        0xc400_0150,
        0x8400_0190,
        0xc500_0000,
        0x1234,
    ] {
        let ctx = fx.rsi(rec, fid, &[1, 2, 3]);
        assert_eq!(ctx.gprs[0], u64::MAX, "{fid:#x} is SMC_UNKNOWN");
    }
}

fn measurement(fx: &Fx, rec: u64, index: u64) -> [u8; 64] {
    let ctx = fx.rsi(rec, u64::from(rsi::MEASUREMENT_READ), &[index]);
    assert_eq!(ctx.gprs[0], rsi::SUCCESS, "slot {index}");
    bytes_of(&ctx.gprs[1..9]).try_into().unwrap()
}

#[test]
fn rsi_measurement_read_returns_the_rim_and_the_rems() {
    for hash in [HashAlgo::Sha256, HashAlgo::Sha512] {
        let fx = Fx::new();
        let realm = fx.active(hash, &[true]);
        let rec = realm.recs[0];
        let rim = fx.rim(realm.rd);
        assert_ne!(rim, [0; 64]);
        assert_eq!(measurement(&fx, rec, 0), rim, "{hash:?}: slot 0 is the RIM");
        if hash == HashAlgo::Sha256 {
            assert_eq!(rim[32..], [0; 32], "SHA-256 pads with zeros");
        }
        for i in 1..=4 {
            assert_eq!(measurement(&fx, rec, i), [0; 64], "REM{}", i - 1);
        }
        for bad in [5, 6, 0x100, u64::MAX] {
            let ctx = fx.rsi(rec, u64::from(rsi::MEASUREMENT_READ), &[bad]);
            assert_eq!(ctx.gprs[0], rsi::ERROR_INPUT, "slot {bad}");
        }
    }
}

fn extended(hash: HashAlgo, rem: &[u8; 64], data: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    match hash {
        HashAlgo::Sha256 => {
            let mut h = Sha256::new();
            h.update(&rem[..32]);
            h.update(data);
            out[..32].copy_from_slice(&h.finalize());
        }
        HashAlgo::Sha512 => {
            let mut h = Sha512::new();
            h.update(rem);
            h.update(data);
            out.copy_from_slice(&h.finalize());
        }
    }
    out
}

#[test]
fn rsi_measurement_extend_hashes_the_rem_with_the_data() {
    for hash in [HashAlgo::Sha256, HashAlgo::Sha512] {
        let fx = Fx::new();
        let realm = fx.active(hash, &[true]);
        let rec = realm.recs[0];
        let rim = fx.rim(realm.rd);
        let data: Vec<u64> = (0..8).map(|i| 0x0102_0304_0506_0708 * (i + 1)).collect();
        let bytes = bytes_of(&data);
        let mut rems = [[0u8; 64]; 4];
        for (index, size) in [(1, 5), (1, 64), (1, 0), (4, 33), (2, 8)] {
            let mut args = vec![index, size];
            args.extend(&data);
            let ctx = fx.rsi(rec, u64::from(rsi::MEASUREMENT_EXTEND), &args);
            assert_eq!(ctx.gprs[0], rsi::SUCCESS, "{hash:?} REM{index} size {size}");
            let slot = index as usize - 1;
            rems[slot] = extended(hash, &rems[slot], &bytes[..size as usize]);
            for i in 1..=4 {
                assert_eq!(
                    measurement(&fx, rec, i),
                    rems[i as usize - 1],
                    "{hash:?} slot {i}"
                );
            }
        }
        for (index, size) in [(0, 8), (5, 8), (1, 65), (1, u64::MAX), (u64::MAX, 1)] {
            let mut args = vec![index, size];
            args.extend(&data);
            let ctx = fx.rsi(rec, u64::from(rsi::MEASUREMENT_EXTEND), &args);
            assert_eq!(
                ctx.gprs[0],
                rsi::ERROR_INPUT,
                "{hash:?} index {index} size {size}"
            );
        }
        for i in 1..=4 {
            assert_eq!(measurement(&fx, rec, i), rems[i as usize - 1], "unchanged");
        }
        assert_eq!(fx.rim(realm.rd), rim, "the RIM is never extended");
    }
}

#[test]
fn rsi_realm_config_writes_width_hash_and_rpv() {
    for hash in [HashAlgo::Sha256, HashAlgo::Sha512] {
        let fx = Fx::new();
        let realm = fx.active(hash, &[true]);
        let rec = realm.recs[0];
        let page = realm.data_pa(DATA_IPAS[1]);
        let ctx = fx.rsi(rec, u64::from(rsi::REALM_CONFIG), &[DATA_IPAS[1]]);
        assert_eq!(ctx.gprs[0], rsi::SUCCESS);
        let g = fx.rmm.machine.peek(page);
        assert_eq!(g.u64_at(0), u64::from(S2SZ));
        assert_eq!(g.bytes()[8], hash as u8);
        assert_eq!(g.bytes()[0x200..0x240], realm.rpv);
        // The DATA granule is usable afterwards (its lock was released).
        assert!(!fx.rmm.lock_leaked(page));
        assert_eq!(fx.call(rmi::DATA_DESTROY, &[realm.rd, DATA_IPAS[1]])[0], 0);
    }
}

#[test]
fn rsi_realm_config_with_a_bad_address_is_error_input() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    for (what, ipa) in [
        ("unaligned", DATA_IPAS[1] + 8),
        ("unaligned by 0x800", DATA_IPAS[1] + 0x800),
        ("Unprotected", UNPROT + DATA_IPAS[1]),
        ("beyond the IPA space", IPA_TOP),
        ("RIPAS EMPTY", EMPTY_IPA),
        ("RIPAS EMPTY at level 1", GB),
    ] {
        let ctx = fx.rsi(rec, u64::from(rsi::REALM_CONFIG), &[ipa]);
        assert_eq!(ctx.gprs[0], rsi::ERROR_INPUT, "{what}");
    }
}

#[test]
fn rsi_realm_config_on_unbacked_ram_faults_and_is_repeated() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let x = fx.exit_with(rec, [smc(rsi::REALM_CONFIG, &[RAM_NO_DATA])]);
    assert_eq!(
        core(&x),
        RecExit {
            reason: exit::SYNC,
            esr: ec(EC_DABT) | FSC_TRANSLATION_L3,
            hpfar: RAM_NO_DATA >> 8,
            ..Default::default()
        }
    );
    assert_eq!(fx.ctx(rec).pc, GUEST_PC, "the SMC is repeated");
    assert_eq!(fx.ctx(rec).gprs[0], u64::from(rsi::REALM_CONFIG));
    let data = fx.delegated();
    assert_eq!(
        fx.call(rmi::DATA_CREATE_UNKNOWN, &[realm.rd, data, RAM_NO_DATA])[0],
        0
    );
    fx.exit_with(rec, [step(|_| sync(ESR_SMC, 0, 0))]);
    let seen = fx.take_seen();
    assert_eq!(seen[1].1.gprs[0], rsi::SUCCESS);
    assert_eq!(seen[1].1.pc, GUEST_PC + 4);
    assert_eq!(fx.rmm.machine.peek(data).u64_at(0), u64::from(S2SZ));
}

#[test]
fn rsi_ipa_state_set_with_bad_arguments_is_error_input_without_an_exit() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    for (what, base, top, ripas) in [
        ("base unaligned", 0x10, 0x2000, RIPAS_RAM),
        ("top unaligned", 0x1000, 0x2010, RIPAS_RAM),
        ("top == base", 0x2000, 0x2000, RIPAS_EMPTY),
        ("top < base", 0x3000, 0x2000, RIPAS_EMPTY),
        (
            "top beyond the Protected space",
            PROT_TOP - PAGE,
            PROT_TOP + PAGE,
            RIPAS_EMPTY,
        ),
        ("Unprotected", UNPROT, UNPROT + PAGE, RIPAS_RAM),
        ("beyond the IPA space", IPA_TOP, IPA_TOP + PAGE, RIPAS_RAM),
        ("RIPAS DESTROYED", 0x1000, 0x2000, RIPAS_DESTROYED),
        ("RIPAS 3", 0x1000, 0x2000, 3),
        ("RIPAS huge", 0x1000, 0x2000, u64::MAX),
    ] {
        let ctx = fx.rsi(rec, u64::from(rsi::IPA_STATE_SET), &[base, top, ripas, 0]);
        assert_eq!(ctx.gprs[0], rsi::ERROR_INPUT, "{what}");
        assert_eq!(
            fx.call(
                rmi::RTT_SET_RIPAS,
                &[realm.rd, rec, base & !0xfff, base + PAGE]
            ),
            err(INPUT),
            "{what}: nothing is pending"
        );
    }
    // The top of the Protected space is fine.
    fx.request_ripas(rec, PROT_TOP - PAGE, PROT_TOP, RIPAS_EMPTY, 0);
}

#[test]
fn rsi_ipa_state_get_reports_runs_of_equal_ripas() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let get = |base: u64, end: u64| {
        let ctx = fx.rsi(rec, u64::from(rsi::IPA_STATE_GET), &[base, end]);
        [ctx.gprs[0], ctx.gprs[1], ctx.gprs[2]]
    };
    let ok = |top, ripas| [rsi::SUCCESS, top, ripas];
    assert_eq!(get(0, PAGE), ok(PAGE, RIPAS_RAM));
    assert_eq!(
        get(0, L3_TOP),
        ok(RAM_TOP, RIPAS_RAM),
        "DATA pages count as RAM"
    );
    assert_eq!(get(0x1000, 0x4000), ok(0x4000, RIPAS_RAM));
    assert_eq!(get(RAM_NO_DATA, PROT_TOP), ok(RAM_TOP, RIPAS_RAM));
    // The run is reported up to the end of the table the walk ends in.
    assert_eq!(get(RAM_TOP, PROT_TOP), ok(L3_TOP, RIPAS_EMPTY));
    assert_eq!(
        get(EMPTY_IPA, EMPTY_IPA + PAGE),
        ok(EMPTY_IPA + PAGE, RIPAS_EMPTY)
    );
    assert_eq!(get(L3_TOP, GB), ok(GB, RIPAS_EMPTY));
    assert_eq!(
        get(L3_TOP + 0x1000, L3_TOP + 0x3000),
        ok(L3_TOP + 0x3000, RIPAS_EMPTY)
    );
    assert_eq!(get(GB, PROT_TOP), ok(PROT_TOP, RIPAS_EMPTY));
    assert_eq!(get(PROT_TOP - PAGE, PROT_TOP), ok(PROT_TOP, RIPAS_EMPTY));
    for (what, base, end) in [
        ("base unaligned", 0x10, 0x2000),
        ("end unaligned", 0x1000, 0x2010),
        ("end == base", 0x2000, 0x2000),
        ("end < base", 0x3000, 0x2000),
        (
            "end beyond the Protected space",
            PROT_TOP - PAGE,
            PROT_TOP + PAGE,
        ),
        ("Unprotected", UNPROT, UNPROT + PAGE),
        ("beyond the IPA space", IPA_TOP, IPA_TOP + PAGE),
    ] {
        assert_eq!(get(base, end)[0], rsi::ERROR_INPUT, "{what}");
    }
}

// ==== RIPAS changes ===========================================================

#[test]
fn ripas_change_round_trip_to_empty() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let (base, top) = (RAM_NO_DATA, RAM_NO_DATA + 0x4000);
    fx.request_ripas(rec, base, top, RIPAS_EMPTY, 0);
    assert_eq!(
        fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, base, top]),
        [0, top, 0, 0, 0]
    );
    assert_eq!(fx.ripas_answer(rec, 0), [rsi::SUCCESS, top, rsi::ACCEPT]);
    for ipa in (base..top).step_by(PAGE as usize) {
        assert_eq!(
            fx.entry_at(realm.rd, ipa),
            (UNASSIGNED, RIPAS_EMPTY),
            "{ipa:#x}"
        );
    }
    assert_eq!(fx.entry_at(realm.rd, top), (UNASSIGNED, RIPAS_RAM));
    // The realm sees it, and an access there is now an SEA.
    let ctx = fx.rsi(rec, u64::from(rsi::IPA_STATE_GET), &[base, L3_TOP]);
    assert_eq!(ctx.gprs[..3], [rsi::SUCCESS, top, RIPAS_EMPTY]);
    fx.exit_with(
        rec,
        [step(|ctx| {
            ctx.el1.vbar_el1 = VBAR;
            dabt(FSC_TRANSLATION_L3, RAM_NO_DATA + 0x10)
        })],
    );
    assert_eq!(fx.take_seen()[1].1.pc, VBAR + 0x200);
    // Done: nothing is pending any more.
    assert_eq!(
        fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, top, top + PAGE]),
        err(INPUT)
    );
}

#[test]
fn ripas_change_in_several_steps_and_across_tables() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let (base, top) = (L3_TOP - 0x2000, L3_TOP + 0x2000);
    fx.request_ripas(rec, base, top, RIPAS_RAM, 0);
    let set = |b: u64, t: u64| fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, b, t]);
    // One page, then to the end of the level-3 table.
    assert_eq!(set(base, base + PAGE), [0, base + PAGE, 0, 0, 0]);
    assert_eq!(set(base + PAGE, top), [0, L3_TOP, 0, 0, 0]);
    // Above, the walk ends at a 2 MB level-2 entry that does not fit.
    assert_eq!(set(L3_TOP, top), err(rtt_error(2)));
    let l3 = fx.delegated();
    assert_eq!(fx.call(rmi::RTT_CREATE, &[realm.rd, l3, L3_TOP, 3])[0], 0);
    assert_eq!(set(L3_TOP, top), [0, top, 0, 0, 0]);
    assert_eq!(fx.ripas_answer(rec, 0), [rsi::SUCCESS, top, rsi::ACCEPT]);
    for ipa in (base..top).step_by(PAGE as usize) {
        assert_eq!(fx.entry_at(realm.rd, ipa).1, RIPAS_RAM, "{ipa:#x}");
    }
    assert_eq!(fx.entry_at(realm.rd, top).1, RIPAS_EMPTY);
}

#[test]
fn rtt_set_ripas_with_a_walk_ending_at_an_unaligned_entry_is_error_rtt() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let base = L3_TOP + PAGE;
    fx.request_ripas(rec, base, base + PAGE, RIPAS_RAM, 0);
    let before = fx.snap(&[rec]);
    assert_eq!(
        fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, base, base + PAGE]),
        err(rtt_error(2))
    );
    assert_eq!(fx.snap(&[rec]), before);
    // Beyond the level-2 table: level 1.
    fx.ripas_answer(rec, 0);
    fx.request_ripas(rec, GB + PAGE, GB + 2 * PAGE, RIPAS_RAM, 0);
    assert_eq!(
        fx.call(
            rmi::RTT_SET_RIPAS,
            &[realm.rd, rec, GB + PAGE, GB + 2 * PAGE]
        ),
        err(rtt_error(1))
    );
    // No progress: the realm hears where the host got to.
    assert_eq!(
        fx.ripas_answer(rec, 0),
        [rsi::SUCCESS, GB + PAGE, rsi::ACCEPT]
    );
}

#[test]
fn rtt_set_ripas_failures_change_nothing() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, true]);
    let other = fx.active(HashAlgo::Sha256, &[true]);
    let (rec, idle) = (realm.recs[0], realm.recs[1]);
    let (base, top) = (RAM_NO_DATA, RAM_NO_DATA + 0x3000);
    fx.request_ripas(rec, base, top, RIPAS_EMPTY, 0);
    fx.request_ripas(other.recs[0], base, top, RIPAS_EMPTY, 0);
    let rd = realm.rd;
    let delegated = fx.delegated();
    let cases: Vec<(&str, [u64; 4], u64)> = vec![
        ("top == base", [rd, rec, base, base], INPUT),
        ("top < base", [rd, rec, base + PAGE, base], INPUT),
        ("top not granule-aligned", [rd, rec, base, top - 8], INPUT),
        ("rec == rd", [rd, rd, base, top], INPUT),
        ("rd unaligned", [rd + 8, rec, base, top], INPUT),
        ("rd delegated", [delegated, rec, base, top], INPUT),
        ("rd is a REC", [rec, rec, base, top], INPUT),
        ("rec unaligned", [rd, rec + 8, base, top], INPUT),
        ("rec delegated", [rd, delegated, base, top], INPUT),
        ("rec is an RD", [rd, other.rd, base, top], INPUT),
        (
            "rec of another realm",
            [rd, other.recs[0], base, top],
            ERROR_REC,
        ),
        ("rd of another realm", [other.rd, rec, base, top], ERROR_REC),
        ("base not the progress", [rd, rec, base + PAGE, top], INPUT),
        ("base below the request", [rd, rec, base - PAGE, top], INPUT),
        ("top beyond the request", [rd, rec, base, top + PAGE], INPUT),
        ("no request pending", [rd, idle, base, top], INPUT),
    ];
    let watch = [rec, idle, other.recs[0], rd, other.rd, realm.root];
    let entries = |r: &Realm| -> Vec<(u64, u64)> {
        (base..top + PAGE)
            .step_by(PAGE as usize)
            .map(|ipa| fx.entry_at(r.rd, ipa))
            .collect()
    };
    for (what, args, want) in cases {
        let before = (fx.snap(&watch), entries(&realm), entries(&other));
        assert_eq!(fx.call(rmi::RTT_SET_RIPAS, &args), err(want), "{what}");
        assert_eq!(
            (fx.snap(&watch), entries(&realm), entries(&other)),
            before,
            "{what}: nothing changes"
        );
    }
    assert_eq!(
        fx.call(rmi::RTT_SET_RIPAS, &[rd, rec, base, top]),
        [0, top, 0, 0, 0]
    );
}

#[test]
fn ripas_of_data_granules_goes_empty_and_back_to_ram() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let (base, top) = (DATA_IPAS[0], DATA_IPAS[2] + PAGE);
    fx.request_ripas(rec, base, top, RIPAS_EMPTY, 0);
    assert_eq!(
        fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, base, top]),
        [0, top, 0, 0, 0]
    );
    assert_eq!(fx.ripas_answer(rec, 0), [rsi::SUCCESS, top, rsi::ACCEPT]);
    for ipa in DATA_IPAS {
        assert_eq!(fx.entry_at(realm.rd, ipa), (ASSIGNED, RIPAS_EMPTY));
    }
    let ctx = fx.rsi(rec, u64::from(rsi::REALM_CONFIG), &[DATA_IPAS[0]]);
    assert_eq!(
        ctx.gprs[0],
        rsi::ERROR_INPUT,
        "EMPTY memory is not the realm's"
    );
    fx.request_ripas(rec, base, top, RIPAS_RAM, 0);
    assert_eq!(
        fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, base, top]),
        [0, top, 0, 0, 0]
    );
    assert_eq!(fx.ripas_answer(rec, 0), [rsi::SUCCESS, top, rsi::ACCEPT]);
    for ipa in DATA_IPAS {
        assert_eq!(fx.entry_at(realm.rd, ipa), (ASSIGNED, RIPAS_RAM));
    }
    let ctx = fx.rsi(rec, u64::from(rsi::REALM_CONFIG), &[DATA_IPAS[0]]);
    assert_eq!(ctx.gprs[0], rsi::SUCCESS);
}

#[test]
fn the_host_may_reject_a_change_to_ram_but_not_to_empty() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let (base, top) = (EMPTY_IPA, EMPTY_IPA + 0x4000);
    let reject = entry::FLAG_RIPAS_RESPONSE;
    // Part of the way, then rejected.
    fx.request_ripas(rec, base, top, RIPAS_RAM, 0);
    assert_eq!(
        fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, base, base + PAGE]),
        [0, base + PAGE, 0, 0, 0]
    );
    assert_eq!(
        fx.ripas_answer(rec, reject),
        [rsi::SUCCESS, base + PAGE, rsi::REJECT]
    );
    // Rejected outright.
    fx.request_ripas(rec, base + PAGE, top, RIPAS_RAM, 0);
    assert_eq!(
        fx.ripas_answer(rec, reject),
        [rsi::SUCCESS, base + PAGE, rsi::REJECT]
    );
    // Not rejected: the realm learns the progress and accepts.
    fx.request_ripas(rec, base + PAGE, top, RIPAS_RAM, 0);
    assert_eq!(
        fx.ripas_answer(rec, 0),
        [rsi::SUCCESS, base + PAGE, rsi::ACCEPT]
    );
    // Complete: a REJECT flag means nothing.
    fx.request_ripas(rec, base + PAGE, top, RIPAS_RAM, 0);
    assert_eq!(
        fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, base + PAGE, top]),
        [0, top, 0, 0, 0]
    );
    assert_eq!(
        fx.ripas_answer(rec, reject),
        [rsi::SUCCESS, top, rsi::ACCEPT]
    );
    // A change to EMPTY cannot be rejected.
    fx.request_ripas(rec, base, top, RIPAS_EMPTY, 0);
    assert_eq!(
        fx.ripas_answer(rec, reject),
        [rsi::SUCCESS, base, rsi::ACCEPT]
    );
}

#[test]
fn destroyed_granules_change_ripas_only_when_the_realm_says_so() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let ipa = DATA_IPAS[2];
    assert_eq!(fx.call(rmi::DATA_DESTROY, &[realm.rd, ipa])[0], 0);
    assert_eq!(fx.entry_at(realm.rd, ipa), (UNASSIGNED, RIPAS_DESTROYED));
    for ripas in [RIPAS_RAM, RIPAS_EMPTY] {
        fx.request_ripas(rec, ipa, ipa + PAGE, ripas, 0);
        assert_eq!(
            fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, ipa, ipa + PAGE]),
            err(rtt_error(3)),
            "to {ripas} without RSI_CHANGE_DESTROYED"
        );
        assert_eq!(fx.entry_at(realm.rd, ipa), (UNASSIGNED, RIPAS_DESTROYED));
        assert_eq!(fx.ripas_answer(rec, 0), [rsi::SUCCESS, ipa, rsi::ACCEPT]);
    }
    // A range starting below the DESTROYED page stops at it.
    fx.request_ripas(rec, ipa - PAGE, ipa + PAGE, RIPAS_EMPTY, 0);
    assert_eq!(
        fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, ipa - PAGE, ipa + PAGE]),
        [0, ipa, 0, 0, 0]
    );
    assert_eq!(fx.ripas_answer(rec, 0), [rsi::SUCCESS, ipa, rsi::ACCEPT]);
    // With the flag it changes.
    fx.request_ripas(rec, ipa, ipa + PAGE, RIPAS_RAM, rsi::CHANGE_DESTROYED);
    assert_eq!(
        fx.call(rmi::RTT_SET_RIPAS, &[realm.rd, rec, ipa, ipa + PAGE]),
        [0, ipa + PAGE, 0, 0, 0]
    );
    assert_eq!(fx.entry_at(realm.rd, ipa), (UNASSIGNED, RIPAS_RAM));
    assert_eq!(
        fx.ripas_answer(rec, 0),
        [rsi::SUCCESS, ipa + PAGE, rsi::ACCEPT]
    );
}

// ==== PSCI ====================================================================

#[test]
fn psci_version_and_features() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    assert_eq!(fx.rsi(rec, 0x8400_0000u64, &[]).gprs[0], 0x1_0001);
    for (fid, want) in [
        (CPU_ON, PSCI_SUCCESS),
        (0x8400_0003, PSCI_SUCCESS),
        (CPU_OFF, PSCI_SUCCESS),
        (AFFINITY_INFO, PSCI_SUCCESS),
        (CPU_SUSPEND, PSCI_SUCCESS),
        (SYSTEM_OFF, PSCI_SUCCESS),
        (SYSTEM_RESET, PSCI_SUCCESS),
        (0x8400_000a, PSCI_SUCCESS),
        (u64::from(smccc::SMCCC_VERSION), PSCI_SUCCESS),
        (0x8400_0005, NOT_SUPPORTED),
        (0xc400_0012, NOT_SUPPORTED),
        (0x1234, NOT_SUPPORTED),
    ] {
        let ctx = fx.rsi(rec, u64::from(smccc::PSCI_FEATURES), &[fid]);
        assert_eq!(ctx.gprs[0], want, "PSCI_FEATURES({fid:#x})");
    }
    for fid in [
        0x8400_0005u64,
        0x8400_0006,
        0xc400_0002,
        0xc400_0008,
        0x8400_001f,
    ] {
        assert_eq!(fx.rsi(rec, fid, &[]).gprs[0], NOT_SUPPORTED, "{fid:#x}");
    }
}

#[test]
fn psci_cpu_on_round_trip() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, false]);
    let (rec0, rec1) = (realm.recs[0], realm.recs[1]);
    let x = fx.psci_exit(rec0, CPU_ON, &[1, 0x5000, 0xc0ffee]);
    let mut want = exit_of(exit::PSCI);
    want.gprs[0] = CPU_ON;
    want.gprs[1] = 1;
    assert_eq!(core(&x), want, "only the FID and the target");
    fx.assert_enter_fails(
        rec0,
        &RecEntry::default(),
        ERROR_REC,
        "caller before completion",
    );
    fx.assert_enter_fails(
        rec1,
        &RecEntry::default(),
        ERROR_REC,
        "target before completion",
    );

    assert_eq!(fx.psci_complete(rec0, rec1, PSCI_SUCCESS), OK);
    let target = fx.ctx(rec1);
    assert_eq!(
        (target.pc, target.gprs[0], target.pstate),
        (0x5000, 0xc0ffee, PSTATE_EL1H)
    );
    fx.exit_with(rec0, []);
    let ctx = fx.take_seen()[0].1;
    assert_eq!(ctx.gprs[..4], [PSCI_SUCCESS, 0, 0, 0]);
    assert_eq!(ctx.gprs[4], SECRET | 4);
    assert_eq!(ctx.pc, GUEST_PC + 4);
    fx.exit_with(rec1, []);
    let (rec, ctx) = fx.take_seen()[0];
    assert_eq!(
        (rec, ctx.pc, ctx.gprs[0], ctx.pstate),
        (rec1, 0x5000, 0xc0ffee, PSTATE_EL1H)
    );
    // Done: a second completion has nothing to complete.
    assert_eq!(fx.psci_complete(rec0, rec1, PSCI_SUCCESS), err(INPUT));
}

#[test]
fn psci_complete_failures_change_nothing() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, false, false]);
    let other = fx.active(HashAlgo::Sha256, &[true, false]);
    let [rec0, rec1, rec2] = realm.recs[..] else {
        unreachable!()
    };
    fx.psci_exit(rec0, CPU_ON, &[1, GUEST_PC, 0]);
    let delegated = fx.delegated();
    let cases: Vec<(&str, [u64; 3])> = vec![
        ("the same REC twice", [rec0, rec0, PSCI_SUCCESS]),
        ("calling unaligned", [rec0 + 8, rec1, PSCI_SUCCESS]),
        ("target unaligned", [rec0, rec1 + 8, PSCI_SUCCESS]),
        ("calling not a REC", [delegated, rec1, PSCI_SUCCESS]),
        ("target not a REC", [rec0, delegated, PSCI_SUCCESS]),
        ("target is the RD", [rec0, realm.rd, PSCI_SUCCESS]),
        ("calling has nothing pending", [rec2, rec1, PSCI_SUCCESS]),
        (
            "target of another realm",
            [rec0, other.recs[1], PSCI_SUCCESS],
        ),
        ("target not the one asked for", [rec0, rec2, PSCI_SUCCESS]),
        ("status 1", [rec0, rec1, 1]),
        ("status NOT_SUPPORTED", [rec0, rec1, NOT_SUPPORTED]),
        ("status INVALID_PARAMETERS", [rec0, rec1, INVALID_PARAMS]),
        ("status ALREADY_ON", [rec0, rec1, ALREADY_ON]),
        ("status INVALID_ADDRESS", [rec0, rec1, INVALID_ADDRESS]),
        (
            "status DENIED as 32 bits",
            [rec0, rec1, DENIED & 0xffff_ffff],
        ),
    ];
    let watch = [rec0, rec1, rec2, other.recs[0], other.recs[1], realm.rd];
    for (what, args) in &cases {
        let before = fx.snap(&watch);
        assert_eq!(fx.call(rmi::PSCI_COMPLETE, args), err(INPUT), "{what}");
        assert_eq!(fx.snap(&watch), before, "{what}: nothing changes");
    }
    assert_eq!(fx.psci_complete(rec0, rec1, PSCI_SUCCESS), OK);

    // AFFINITY_INFO takes only SUCCESS.
    fx.psci_exit(rec0, AFFINITY_INFO, &[2, 0]);
    for status in [DENIED, 1, NOT_SUPPORTED] {
        let before = fx.snap(&watch);
        assert_eq!(
            fx.psci_complete(rec0, rec2, status),
            err(INPUT),
            "{status:#x}"
        );
        assert_eq!(fx.snap(&watch), before);
    }
    assert_eq!(fx.psci_complete(rec0, rec2, PSCI_SUCCESS), OK);
}

#[test]
fn psci_cpu_on_of_a_rec_that_is_on_answers_already_on() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, true]);
    let (rec0, rec1) = (realm.recs[0], realm.recs[1]);
    let target = fx.ctx(rec1);
    fx.psci_exit(rec0, CPU_ON, &[1, 0x5000, 7]);
    // DENIED for a REC that is on is refused.
    let before = fx.snap(&[rec0, rec1]);
    assert_eq!(fx.psci_complete(rec0, rec1, DENIED), err(INPUT));
    assert_eq!(fx.snap(&[rec0, rec1]), before);
    assert_eq!(fx.psci_complete(rec0, rec1, PSCI_SUCCESS), OK);
    assert_eq!(fx.ctx(rec1), target, "the target is untouched");
    fx.exit_with(rec0, []);
    assert_eq!(fx.take_seen()[0].1.gprs[0], ALREADY_ON);
}

#[test]
fn psci_cpu_on_denied_by_the_host_leaves_the_target_off() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, false]);
    let (rec0, rec1) = (realm.recs[0], realm.recs[1]);
    let target = fx.ctx(rec1);
    fx.psci_exit(rec0, CPU_ON, &[1, 0x5000, 7]);
    assert_eq!(fx.psci_complete(rec0, rec1, DENIED), OK);
    assert_eq!(fx.ctx(rec1), target);
    fx.assert_enter_fails(rec1, &RecEntry::default(), ERROR_REC, "still off");
    fx.exit_with(rec0, []);
    assert_eq!(fx.take_seen()[0].1.gprs[..4], [DENIED, 0, 0, 0]);
}

#[test]
fn psci_cpu_on_is_checked_in_the_rmm_first() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, false]);
    let rec0 = realm.recs[0];
    for (what, args, want) in [
        ("entry Unprotected", [1, UNPROT, 0], INVALID_ADDRESS),
        (
            "entry beyond the IPA space",
            [1, IPA_TOP + 0x40, 0],
            INVALID_ADDRESS,
        ),
        ("entry far away", [1, u64::MAX - 3, 0], INVALID_ADDRESS),
        ("target beyond the RECs", [2, GUEST_PC, 0], INVALID_PARAMS),
        ("target Aff1", [0x100, GUEST_PC, 0], INVALID_PARAMS),
        ("target Aff3", [1 << 32, GUEST_PC, 0], INVALID_PARAMS),
        ("itself", [0, GUEST_PC, 0], ALREADY_ON),
    ] {
        for fid in [CPU_ON, 0x8400_0003] {
            let ctx = fx.rsi(rec0, fid, &args);
            assert_eq!(ctx.gprs[0], want, "{what} ({fid:#x})");
        }
    }
    fx.enter(rec0);
}

#[test]
fn psci_affinity_info() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, false, true]);
    let [rec0, rec1, rec2] = realm.recs[..] else {
        unreachable!()
    };
    assert_eq!(
        fx.rsi(rec0, AFFINITY_INFO, &[0, 0]).gprs[0],
        AFFINITY_ON,
        "itself"
    );
    assert_eq!(
        fx.rsi(rec0, AFFINITY_INFO, &[1, 1]).gprs[0],
        INVALID_PARAMS,
        "level 1"
    );
    assert_eq!(
        fx.rsi(rec0, AFFINITY_INFO, &[0, 2]).gprs[0],
        INVALID_PARAMS,
        "level 2"
    );
    assert_eq!(
        fx.rsi(rec0, AFFINITY_INFO, &[3, 0]).gprs[0],
        INVALID_PARAMS,
        "no REC 3"
    );
    for (target, rec, want) in [(1, rec1, AFFINITY_OFF), (2, rec2, AFFINITY_ON)] {
        let x = fx.psci_exit(rec0, AFFINITY_INFO, &[target, 0]);
        let mut expect = exit_of(exit::PSCI);
        expect.gprs[..2].copy_from_slice(&[AFFINITY_INFO, target]);
        assert_eq!(core(&x), expect);
        fx.assert_enter_fails(rec0, &RecEntry::default(), ERROR_REC, "pending");
        assert_eq!(fx.psci_complete(rec0, rec, PSCI_SUCCESS), OK);
        fx.exit_with(rec0, []);
        assert_eq!(
            fx.take_seen()[0].1.gprs[..4],
            [want, 0, 0, 0],
            "REC {target}"
        );
    }
    // The 32-bit call works the same.
    fx.psci_exit(rec0, 0x8400_0004, &[1, 0]);
    assert_eq!(fx.psci_complete(rec0, rec1, PSCI_SUCCESS), OK);
}

#[test]
fn psci_cpu_off_stops_the_rec_until_cpu_on() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, true]);
    let (rec0, rec1) = (realm.recs[0], realm.recs[1]);
    let x = fx.psci_exit(rec1, CPU_OFF, &[]);
    let mut want = exit_of(exit::PSCI);
    want.gprs[0] = CPU_OFF;
    assert_eq!(core(&x), want);
    fx.assert_enter_fails(rec1, &RecEntry::default(), ERROR_REC, "off");
    // Its sibling turns it back on.
    fx.psci_exit(rec0, CPU_ON, &[1, 0x7000, 3]);
    assert_eq!(fx.psci_complete(rec0, rec1, PSCI_SUCCESS), OK);
    fx.exit_with(rec1, []);
    let ctx = fx.take_seen()[0].1;
    assert_eq!((ctx.pc, ctx.gprs[0]), (0x7000, 3));
}

#[test]
fn psci_cpu_suspend_notifies_the_host_and_returns_success() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let x = fx.psci_exit(rec, CPU_SUSPEND, &[0x1_0000, 0x5000, 1]);
    let mut want = exit_of(exit::PSCI);
    want.gprs[0] = CPU_SUSPEND;
    assert_eq!(core(&x), want);
    fx.exit_with(rec, []);
    let ctx = fx.take_seen()[0].1;
    assert_eq!((ctx.gprs[0], ctx.pc), (PSCI_SUCCESS, GUEST_PC + 4));
}

#[test]
fn psci_system_off_and_reset_stop_the_realm() {
    for fid in [SYSTEM_OFF, SYSTEM_RESET] {
        let fx = Fx::new();
        let realm = fx.active(HashAlgo::Sha256, &[true, true]);
        let x = fx.psci_exit(realm.recs[1], fid, &[]);
        let mut want = exit_of(exit::PSCI);
        want.gprs[0] = fid;
        assert_eq!(core(&x), want);
        for &rec in &realm.recs {
            fx.assert_enter_fails(rec, &RecEntry::default(), 0x102, "SYSTEM_OFF");
        }
        // The host can still take the realm apart.
        for &rec in &realm.recs {
            assert_eq!(fx.call(rmi::REC_DESTROY, &[rec]), OK);
        }
    }
}

#[test]
fn psci_cpu_on_with_the_sve_hint_bit_can_be_completed() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, false]);
    let (rec0, rec1) = (realm.recs[0], realm.recs[1]);
    fx.psci_exit(rec0, CPU_ON | 1 << 16, &[1, 0x5000, 0]);
    assert_eq!(fx.psci_complete(rec0, rec1, PSCI_SUCCESS), OK);
    fx.exit_with(rec0, []);
    assert_eq!(fx.take_seen()[0].1.gprs[0], PSCI_SUCCESS);
}

// ==== a REC that is running ===================================================

#[test]
fn a_running_rec_is_busy_for_the_host() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, true]);
    let (rec0, rec1) = (realm.recs[0], realm.recs[1]);
    let (rd, run) = (realm.rd, fx.run);
    let rmm = Rc::downgrade(&fx.rmm);
    let results: Rc<RefCell<Vec<Outcome>>> = Rc::default();
    let out = results.clone();
    fx.exit_with(
        rec0,
        [step(move |_| {
            let rmm = rmm.upgrade().unwrap();
            let mut out = out.borrow_mut();
            out.push(("REC_ENTER", rmm.call(rmi::REC_ENTER, &[rec0, run])));
            out.push(("REC_DESTROY", rmm.call(rmi::REC_DESTROY, &[rec0])));
            out.push((
                "RTT_SET_RIPAS",
                rmm.call(rmi::RTT_SET_RIPAS, &[rd, rec0, 0, PAGE]),
            ));
            out.push((
                "PSCI_COMPLETE",
                rmm.call(rmi::PSCI_COMPLETE, &[rec0, rec1, 0]),
            ));
            out.push(("REC_AUX_COUNT", rmm.call(rmi::REC_AUX_COUNT, &[rd])));
            irq_trap()
        })],
    );
    assert_eq!(
        *results.borrow(),
        [
            ("REC_ENTER", err(ERROR_REC)),
            ("REC_DESTROY", err(ERROR_REC)),
            ("RTT_SET_RIPAS", err(ERROR_REC)),
            ("PSCI_COMPLETE", err(INPUT)),
            ("REC_AUX_COUNT", [0, AUX_COUNT, 0, 0, 0]),
        ]
    );
    assert_eq!(fx.state(rec0), (GranuleState::Rec, 0));
    assert_eq!(fx.call(rmi::REC_DESTROY, &[rec0]), OK);
}

#[test]
fn psci_completion_sees_a_running_target_as_on() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, true]);
    let (rec0, rec1) = (realm.recs[0], realm.recs[1]);
    for (fid, args, want) in [
        (AFFINITY_INFO, [1, 0, 0], AFFINITY_ON),
        (CPU_ON, [1, 0x5000, 0], ALREADY_ON),
    ] {
        fx.psci_exit(rec0, fid, &args);
        let rmm = Rc::downgrade(&fx.rmm);
        let result = Rc::new(Cell::new([9; 5]));
        let out = result.clone();
        fx.exit_with(
            rec1,
            [step(move |_| {
                let rmm = rmm.upgrade().unwrap();
                out.set(rmm.call(rmi::PSCI_COMPLETE, &[rec0, rec1, PSCI_SUCCESS]));
                irq_trap()
            })],
        );
        assert_eq!(result.get(), OK, "{fid:#x}");
        fx.exit_with(rec0, []);
        assert_eq!(fx.take_seen()[0].1.gprs[0], want, "{fid:#x}");
    }
}

// ==== RSI_ATTESTATION_TOKEN_INIT / _CONTINUE ===================================

const TOKEN_INIT: u64 = rsi::ATTESTATION_TOKEN_INIT as u64;
const TOKEN_CONTINUE: u64 = rsi::ATTESTATION_TOKEN_CONTINUE as u64;
/// The token buffer: a DATA granule of the fixture's realm.
const TOKEN_IPA: u64 = DATA_IPAS[0];

fn challenge_words(seed: u64) -> [u64; 8] {
    core::array::from_fn(|i| seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i as u64)
}

/// The claims these tests check, from a token the relying-party tool
/// (tools/verify) accepted: both signatures, the binding, every claim's
/// form.
#[derive(Debug)]
struct Decoded {
    challenge: Vec<u8>,
    rpv: Vec<u8>,
    rim: Vec<u8>,
    rems: Vec<Vec<u8>>,
    hash_algo: String,
    profile: String,
}

fn decode_token(bytes: &[u8]) -> Decoded {
    let token = rampart_verify::verify_token(bytes, &rampart_rmm_tests::test_cpak())
        .expect("a relying party accepts the token");
    let realm = token.realm;
    assert_eq!(token.profile, rampart_verify::token::Profile::Cca1_0);
    assert_eq!(
        token.platform.challenge,
        Sha256::digest(&realm.public_key_claim).to_vec(),
        "the platform token is bound to the RAK"
    );
    assert_eq!(realm.public_key_hash_algo_id, "sha-256");
    Decoded {
        challenge: realm.challenge.to_vec(),
        rpv: realm.personalization_value.to_vec(),
        rim: realm.rim,
        rems: realm.rems,
        hash_algo: realm.hash_algo_id,
        profile: realm.profile.expect("the realm profile claim"),
    }
}

impl Fx {
    /// INIT with `challenge`: SUCCESS and the size bound.
    fn token_init(&self, rec: u64, challenge: &[u64; 8]) {
        let ctx = self.rsi(rec, TOKEN_INIT, challenge);
        assert_eq!(&ctx.gprs[..2], &[rsi::SUCCESS, 8192]);
    }

    /// CONTINUE answered in the RMM: (X0, X1).
    fn token_continue(&self, rec: u64, ipa: u64, offset: u64, size: u64) -> (u64, u64) {
        let ctx = self.rsi(rec, TOKEN_CONTINUE, &[ipa, offset, size]);
        (ctx.gprs[0], ctx.gprs[1])
    }

    /// CONTINUE until SUCCESS, `piece` bytes at a time, each piece read
    /// back from the buffer granule.
    fn token(&self, realm: &Realm, rec: u64, piece: u64) -> Vec<u8> {
        let pa = realm.data_pa(TOKEN_IPA);
        let mut token = Vec::new();
        for _ in 0..200 {
            let (status, len) = self.token_continue(rec, TOKEN_IPA, 0, piece);
            assert!(len <= piece);
            token.extend_from_slice(&self.rmm.machine.peek(pa).bytes()[..len as usize]);
            match status {
                rsi::SUCCESS => return token,
                rsi::INCOMPLETE => assert_eq!(len, piece, "only the last piece is short"),
                other => panic!("CONTINUE -> {other}"),
            }
        }
        panic!("the token never completes");
    }
}

#[test]
fn attestation_token_carries_the_challenge_and_measurements_and_verifies() {
    for (hash, size) in [(HashAlgo::Sha256, 32), (HashAlgo::Sha512, 64)] {
        let fx = Fx::new();
        let realm = fx.active(hash, &[true]);
        let rec = realm.recs[0];
        let ctx = fx.rsi(
            rec,
            u64::from(rsi::MEASUREMENT_EXTEND),
            &[2, 5, 0x11_2233_4455],
        );
        assert_eq!(ctx.gprs[0], rsi::SUCCESS);
        let rems: Vec<[u8; 64]> = (1..=4).map(|i| measurement(&fx, rec, i)).collect();
        let challenge = challenge_words(7);
        fx.token_init(rec, &challenge);
        let token = fx.token(&realm, rec, 4096);
        let claims = decode_token(&token);
        assert_eq!(claims.challenge, bytes_of(&challenge));
        assert_eq!(claims.rpv, realm.rpv.to_vec());
        assert_eq!(claims.rim, fx.rim(realm.rd)[..size].to_vec());
        for (got, want) in claims.rems.iter().zip(&rems) {
            assert_eq!(got[..], want[..size]);
        }
        assert_ne!(claims.rems[1], vec![0; size], "REM[1] was extended");
        let name = if size == 32 { "sha-256" } else { "sha-512" };
        assert_eq!(claims.hash_algo, name);
        assert_eq!(claims.profile, "tag:arm.com,2023:realm#1.0.0");
        assert_eq!(fx.ctx(rec).attest_state, 0, "no token in progress");
    }
}

#[test]
fn attestation_token_comes_in_pieces_of_the_requested_size() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    fx.token_init(rec, &challenge_words(1));
    let whole = fx.token(&realm, rec, 4096);
    fx.token_init(rec, &challenge_words(1));
    assert_eq!(fx.token(&realm, rec, 100), whole, "same claims, same token");
    // A piece at an offset lands there and nowhere else.
    fx.token_init(rec, &challenge_words(1));
    let pa = realm.data_pa(TOKEN_IPA);
    fx.rmm.machine.poke(pa, 0, &[0xee; 4096]);
    assert_eq!(
        fx.token_continue(rec, TOKEN_IPA, 4000, 96),
        (rsi::INCOMPLETE, 96)
    );
    let page = fx.rmm.machine.peek(pa);
    assert_eq!(page.bytes()[4000..], whole[..96]);
    assert!(page.bytes()[..4000].iter().all(|&b| b == 0xee));
    // A zero-size buffer takes nothing.
    assert_eq!(
        fx.token_continue(rec, TOKEN_IPA, 0, 0),
        (rsi::INCOMPLETE, 0)
    );
    assert_eq!(
        fx.token_continue(rec, TOKEN_IPA, 0, 4096),
        (rsi::SUCCESS, whole.len() as u64 - 96)
    );
    assert_eq!(
        fx.rmm.machine.peek(pa).bytes()[..whole.len() - 96],
        whole[96..]
    );
}

#[test]
fn attestation_token_continue_failures_change_nothing() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let pa = realm.data_pa(TOKEN_IPA);
    // No token in progress: before any INIT.
    assert_eq!(
        fx.token_continue(rec, TOKEN_IPA, 0, 4096).0,
        rsi::ERROR_STATE
    );
    fx.token_init(rec, &challenge_words(3));
    let before = (fx.ctx(rec), fx.rmm.machine.peek(pa));
    for (what, args) in [
        ("addr_align", [TOKEN_IPA + 8, 0, 16]),
        ("addr_bound (Unprotected)", [UNPROT + TOKEN_IPA, 0, 16]),
        ("addr_bound (beyond the IPA space)", [IPA_TOP, 0, 16]),
        ("offset_bound", [TOKEN_IPA, 4096, 0]),
        ("size_overflow", [TOKEN_IPA, 8, u64::MAX]),
        ("size_bound", [TOKEN_IPA, 1, 4096]),
        ("RIPAS EMPTY buffer", [EMPTY_IPA, 0, 16]),
    ] {
        let (status, _) = fx.token_continue(rec, args[0], args[1], args[2]);
        assert_eq!(status, rsi::ERROR_INPUT, "{what}");
        let after = (fx.ctx(rec), fx.rmm.machine.peek(pa));
        assert_eq!(after.0.attest_state, before.0.attest_state, "{what}");
        assert_eq!(after.1.bytes(), before.1.bytes(), "{what}");
    }
    // The token is still there to take, and then it is gone.
    let token = fx.token(&realm, rec, 4096);
    decode_token(&token);
    assert_eq!(
        fx.token_continue(rec, TOKEN_IPA, 0, 4096).0,
        rsi::ERROR_STATE
    );
}

#[test]
fn attestation_token_buffer_without_memory_faults_to_the_host_and_is_repeated() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    fx.token_init(rec, &challenge_words(4));
    let x = fx.exit_with(rec, [smc(TOKEN_CONTINUE, &[RAM_NO_DATA, 0, 4096])]);
    assert_eq!(x.reason, exit::SYNC);
    assert_eq!(x.esr & EC_MASK_TEST, ec(EC_DABT));
    assert_eq!(x.hpfar, hpfar(RAM_NO_DATA));
    let seen = fx.take_seen();
    let ctx = fx.ctx(rec);
    assert_eq!(ctx.pc, seen[0].1.pc, "the realm will repeat the SMC");
    assert_eq!(ctx.attest_state, 1, "not signed before there is a buffer");
    // The host maps memory; the repeated call gets the whole token.
    let token = fx.token(&realm, rec, 4096);
    decode_token(&token);
}

#[test]
fn attestation_signing_yields_to_a_pending_interrupt() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    fx.token_init(rec, &challenge_words(5));
    let with_irq = step(|ctx| {
        secrets(ctx);
        ctx.gprs[..4].copy_from_slice(&[TOKEN_CONTINUE, TOKEN_IPA, 0, 4096]);
        Trap {
            irq_pending: true,
            ..sync(ESR_SMC, 0, 0)
        }
    });
    let x = fx.exit_with(rec, [with_irq]);
    assert_eq!(core(&x), exit_of(exit::IRQ));
    let ctx = fx.ctx(rec);
    assert_eq!(&ctx.gprs[..2], &[rsi::INCOMPLETE, 0]);
    assert_eq!(ctx.attest_state, 1, "not signed yet");
    assert_eq!(ctx.pc, fx.take_seen()[0].1.pc + 4);
    let token = fx.token(&realm, rec, 4096);
    assert_eq!(
        decode_token(&token).challenge,
        bytes_of(&challenge_words(5))
    );
}

#[test]
fn attestation_init_restarts_and_captures_measurements_when_called() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    fx.token_init(rec, &challenge_words(8));
    assert_eq!(
        fx.token_continue(rec, TOKEN_IPA, 0, 64),
        (rsi::INCOMPLETE, 64)
    );
    // A new INIT abandons that token; a later extension is not in it.
    fx.token_init(rec, &challenge_words(9));
    let rem1 = measurement(&fx, rec, 1);
    let ctx = fx.rsi(rec, u64::from(rsi::MEASUREMENT_EXTEND), &[1, 8, 42]);
    assert_eq!(ctx.gprs[0], rsi::SUCCESS);
    let claims = decode_token(&fx.token(&realm, rec, 4096));
    assert_eq!(claims.challenge, bytes_of(&challenge_words(9)));
    assert_eq!(claims.rems[0], rem1[..32]);
}

#[test]
fn attestation_without_a_key_is_error_unknown() {
    let fx = Fx::new();
    fx.rmm.without_attestation();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    fx.token_init(rec, &challenge_words(6));
    assert_eq!(
        fx.token_continue(rec, TOKEN_IPA, 0, 4096).0,
        rsi::ERROR_UNKNOWN
    );
    assert_eq!(fx.ctx(rec).attest_state, 0);
}

#[test]
fn attestation_tokens_are_per_rec() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true, true]);
    let (rec0, rec1) = (realm.recs[0], realm.recs[1]);
    fx.token_init(rec0, &challenge_words(10));
    assert_eq!(
        fx.token_continue(rec1, TOKEN_IPA, 0, 4096).0,
        rsi::ERROR_STATE
    );
    fx.token_init(rec1, &challenge_words(11));
    let t1 = decode_token(&fx.token(&realm, rec1, 4096));
    let t0 = decode_token(&fx.token(&realm, rec0, 4096));
    assert_eq!(t0.challenge, bytes_of(&challenge_words(10)));
    assert_eq!(t1.challenge, bytes_of(&challenge_words(11)));
}

/// Where a realm's last instruction word lies: an SMC, WFI or emulated
/// access there leaves the PC at 0, as the PE's own PC wraps (no overflow
/// in the RMM, whatever the realm's PC).
const LAST_WORD: u64 = u64::MAX - 3;

#[test]
fn an_rsi_call_at_the_last_word_of_the_address_space_wraps_the_pc() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    let x = fx.exit_with(
        rec,
        [step(|ctx| {
            secrets(ctx);
            ctx.pc = LAST_WORD;
            ctx.gprs[0] = u64::from(rsi::VERSION);
            ctx.gprs[1] = rsi::ABI_VERSION;
            sync(ESR_SMC, 0, 0)
        })],
    );
    assert_eq!(core(&x), exit_of(exit::IRQ), "answered in the RMM");
    let seen = fx.take_seen();
    assert_eq!(seen[1].1.gprs[0], rsi::SUCCESS);
    assert_eq!(seen[1].1.pc, 0);
}

#[test]
fn a_wfi_or_an_emulated_access_at_the_last_word_wraps_the_pc() {
    let fx = Fx::new();
    let realm = fx.active(HashAlgo::Sha256, &[true]);
    let rec = realm.recs[0];
    fx.exit_with(
        rec,
        [step(|ctx| {
            ctx.pc = LAST_WORD;
            sync(ec(EC_WFX) | IL, 0, 0)
        })],
    );
    assert_eq!(fx.ctx(rec).pc, 0, "after the WFI exit");
    fx.take_seen();

    let read = ISV | sas(3) | srt(5) | SF | FSC_TRANSLATION_L3;
    fx.exit_with(
        rec,
        [step(move |ctx| {
            ctx.pc = LAST_WORD;
            dabt(read, MMIO)
        })],
    );
    fx.take_seen();
    let mut mmio = RecEntry {
        flags: entry::FLAG_EMUL_MMIO,
        ..Default::default()
    };
    mmio.gprs[0] = 0x1337;
    fx.enter_ok_with(rec, &mmio);
    let ctx = fx.take_seen()[0].1;
    assert_eq!((ctx.gprs[5], ctx.pc), (0x1337, 0));
}
