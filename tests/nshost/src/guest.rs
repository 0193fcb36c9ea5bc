//! The running-realm scenario: build a realm around the guest image
//! (`tests/guest`), create two RECs, run them to SYSTEM_OFF serving every
//! exit the way a hypervisor does (emulated MMIO, RIPAS changes, PSCI, host
//! calls, a lazily mapped page, a virtual interrupt), then tear it all down.
//! The guest reports its own checks with host calls (see `rampart_guest`);
//! this side reports what it sees of the RMI half. Every REC_ENTER runs
//! with a known pattern in the host's vector registers, checked on the way
//! back (`sve`): all of Z, P and FFR with the SVE hint clear (the default),
//! V0-V31 with the hint set, the streaming registers in Streaming SVE mode.
//!
//! One host CPU runs both RECs: a REC waiting for the other one yields
//! with a host call, and the loop switches RECs.

use crate::bench::rmi_measured;

/// How far ahead the EL2 timer that wakes the guest's WFI fires, in ms.
const WFI_TIMER_MS: u64 = 5;
use crate::realm::{all_zero, fill, ok, rmi, write_u64};
use crate::sve::{self, Mode};
use core::arch::asm;
use rampart_guest::layout::{self, GRANULE as G};
use rampart_guest::{case as gcase, imm};
use rampart_ipc::bench as bench_id;
use rampart_ipc::lease::Granule;
use rampart_ipc::rec_abi::{MAX_AUX, RecEntry, RecExit, RecParams, entry, exit, params};
use rampart_ipc::rmi;
use rampart_ipc::smccc::{self, PsciError};
use rampart_ipc::trace::{GUEST, NSHOST, TEXT};

/// The guest's flat image, put in place by build.rs (empty when nshost
/// was built without xtask).
static GUEST_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.bin"));

/// NS memory of this scenario: 8 MB from 0x4400_0000, clear of nshost's
/// image (0x4190_0000, 16 MB) and of the lifecycle scenario's pool.
const POOL: u64 = 0x4400_0000;
const POOL_END: u64 = 0x4480_0000;
const MAX_DELEGATED: usize = 192;
/// Where the guest's attestation token collects (NS, right after the
/// pool; two granules).
const TOKEN_BUF: u64 = POOL_END;
const TOKEN_MAX: usize = 2 * G as usize;
/// Token bytes per trace line (hex).
const TOKEN_LINE: usize = 192;
const MAX_DATA: usize = 64;

const VMID: u64 = 2;
/// REC_ENTER calls before the run is declared hung.
const MAX_ENTERS: u32 = 10_000;
/// Unexpected exits tolerated before the run is stopped.
const MAX_UNEXPECTED: u32 = 8;
/// ESR_EL2 exception classes the host sees in a SYNC exit.
const EC_WFX: u64 = 0x01;
const EC_DABT_LOWER: u64 = 0x24;
/// RMI_ERROR_REALM with index 1: the realm is SYSTEM_OFF.
const ERROR_REALM_SYSTEM_OFF: u64 = rmi::ERROR_REALM | (1 << 8);

/// A NS page of the pool as a granule, for the ABI views. The reference
/// must not live across an SMC (the RMM writes the page during one).
fn ns_granule(pa: u64) -> &'static mut Granule {
    // SAFETY: `pa` is a 4 KB aligned, identity-mapped NS page of the pool
    // that nshost never delegates; callers drop the reference before the
    // next SMC, so no other reference to it exists while it lives.
    unsafe { &mut *(pa as *mut Granule) }
}

/// The pool: NS pages handed out in order, and every granule delegated
/// (to undelegate them all at the end).
struct Pool {
    next: u64,
    delegated: [u64; MAX_DELEGATED],
    count: usize,
    ok: bool,
}

impl Pool {
    fn new() -> Self {
        Self {
            next: POOL,
            delegated: [0; MAX_DELEGATED],
            count: 0,
            ok: true,
        }
    }

    /// A zeroed NS page.
    fn page(&mut self) -> u64 {
        if self.next >= POOL_END {
            self.ok = false;
            return POOL_END - G;
        }
        let pa = self.next;
        self.next += G;
        fill(pa, |_| 0);
        pa
    }

    /// A granule with stale host content, delegated.
    fn delegate(&mut self) -> u64 {
        let pa = self.page();
        fill(pa, |i| 0xdead_0000_0000_0000 | pa | i);
        if ok(&rmi(rmi::GRANULE_DELEGATE, &[pa])) && self.count < MAX_DELEGATED {
            self.delegated[self.count] = pa;
            self.count += 1;
        } else {
            self.ok = false;
        }
        pa
    }

    /// Two delegated granules, 8 KB aligned: the concatenated level-1 roots.
    fn delegate_root(&mut self) -> u64 {
        self.next = self.next.next_multiple_of(2 * G);
        let root = self.delegate();
        self.delegate();
        root
    }

    fn delegated(&self) -> &[u64] {
        &self.delegated[..self.count]
    }
}

/// REC_ENTER with the host's pattern in v0-v31: returns x0 and whether
/// the pattern was intact afterwards. One asm block, so no code of nshost
/// runs between loading the pattern and checking it.
fn rec_enter(rec: u64, run: u64) -> (u64, bool) {
    let status: u64;
    let mismatch: u64;
    // SAFETY: CPTR_EL2.TFP was cleared by `run`; nshost is built soft-float,
    // so no compiled code keeps state in v0-v31. The SMC is REC_ENTER, which
    // writes only the run granule (an NS page of the pool no reference
    // points into across the call) and follows SMCCC for x0-x17.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "mov x9, #0x4e53000000000000",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "add x10, x9, #\\i",
            "fmov d\\i, x10",
            "mvn x11, x10",
            "mov v\\i\\().d[1], x11",
            ".endr",
            "smc #0",
            "mov x9, #0x4e53000000000000",
            "mov x12, #0",
            ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "add x10, x9, #\\i",
            "fmov x11, d\\i",
            "eor x11, x11, x10",
            "orr x12, x12, x11",
            "mvn x10, x10",
            "mov x11, v\\i\\().d[1]",
            "eor x11, x11, x10",
            "orr x12, x12, x11",
            ".endr",
            inout("x0") u64::from(rmi::REC_ENTER) => status,
            inout("x1") rec => _,
            inout("x2") run => _,
            lateout("x3") _, lateout("x4") _, lateout("x5") _, lateout("x6") _,
            lateout("x7") _, lateout("x8") _,
            out("x9") _, out("x10") _, out("x11") _, out("x12") mismatch,
            lateout("x13") _, lateout("x14") _, lateout("x15") _, lateout("x16") _,
            lateout("x17") _,
            options(nostack)
        )
    };
    (status, mismatch == 0)
}

/// How a REC_ENTER is made.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Enter {
    /// Bracketed by the benchmark markers, with the SVE hint (nshost has no
    /// live SVE state there) and no pattern, which would be counted.
    Measured,
    /// With a pattern in the vector registers, checked afterwards.
    Checked(Mode),
}

/// What a REC_ENTER kept of the host's vector registers.
#[derive(Clone, Copy)]
struct Kept {
    /// V0-V31.
    v: bool,
    /// Everything the mode promises (for `Mode::Hinted`, V0-V31).
    all: bool,
}

/// One REC as the host sees it.
#[derive(Clone, Copy)]
struct Rec {
    pa: u64,
    run: u64,
    /// Whether the host believes the RMM will run it.
    runnable: bool,
    /// What the next REC_ENTER passes.
    entry: RecEntry,
    vectors: sve::Support,
}

impl Rec {
    fn enter(&mut self) -> (u64, bool, RecExit) {
        let (status, kept, x) = self.enter_with(Enter::Checked(Mode::Sve));
        (status, kept.v && kept.all, x)
    }

    /// REC_ENTER made as `how` says; a mode the CPU lacks falls back to
    /// plain SVE, and without SVE to the V0-V31 pattern.
    fn enter_with(&mut self, how: Enter) -> (u64, Kept, RecExit) {
        self.entry.write(ns_granule(self.run));
        let (status, kept) = match how {
            Enter::Measured => {
                let args = [self.pa, self.run];
                let fid = rmi::REC_ENTER | smccc::SVE_HINT;
                let r = rmi_measured(fid, &args, bench_id::REC_ENTER_HOST_CALL);
                (r[0], Kept { v: true, all: true })
            }
            Enter::Checked(mode) if self.vectors.sve => {
                let mode = if mode == Mode::Streaming && !self.vectors.sme {
                    Mode::Sve
                } else {
                    mode
                };
                let c = sve::call(&self.vectors, rmi::REC_ENTER, [self.pa, self.run, 0], mode);
                (
                    c.regs[0],
                    Kept {
                        v: c.v_intact,
                        all: c.intact,
                    },
                )
            }
            Enter::Checked(_) => {
                let (status, v) = rec_enter(self.pa, self.run);
                (status, Kept { v, all: v })
            }
        };
        let x = RecExit::read(ns_granule(self.run));
        if status == rmi::SUCCESS {
            // Hand the list registers back as the guest left them.
            self.entry = RecEntry {
                gicv3_lrs: x.gicv3_lrs,
                ..RecEntry::default()
            };
        }
        (status, kept, x)
    }
}

/// REC_CREATE's parameters in the NS page `page`.
fn write_rec_params(page: u64, flags: u64, mpidr: u64, pc: u64, gprs: [u64; 8], aux: &[u64]) {
    let mut p = RecParams {
        flags,
        mpidr,
        pc,
        gprs,
        num_aux: aux.len() as u64,
        ..RecParams::default()
    };
    p.aux[..aux.len()].copy_from_slice(aux);
    let g = ns_granule(page);
    *g = Granule::ZERO;
    p.write(g);
}

/// RTT_INIT_RIPAS over `[base, top)`, following partial progress.
fn init_ripas(rd: u64, base: u64, top: u64) -> bool {
    let mut at = base;
    for _ in 0..64 {
        let r = rmi(rmi::RTT_INIT_RIPAS, &[rd, at, top]);
        if !ok(&r) || r[1] <= at || r[1] > top {
            defmt::error!(
                "RTT_INIT_RIPAS {=u64:#x}..{=u64:#x} -> {=[?]:#x}",
                at,
                top,
                &r[..2]
            );
            return false;
        }
        at = r[1];
        if at == top {
            return true;
        }
    }
    false
}

/// The IPA of a stage-2 fault: HPFAR_EL2.FIPA (bits [43:4]) is IPA[51:12].
fn fault_ipa(hpfar: u64) -> u64 {
    ((hpfar >> 4) & ((1 << 40) - 1)) << 12
}

/// Runs the scenario; each step reports a case.
pub fn run() {
    // The NS pattern checks need FP/SIMD, SVE and SME untrapped at NS-EL2.
    let vectors = sve::enable();

    let mut pool = Pool::new();
    let image_pages = GUEST_IMAGE.len().div_ceil(G as usize) as u64;
    let image_ok = image_pages > 0 && image_pages * G <= layout::IMAGE_SIZE;
    if !image_ok {
        defmt::error!(
            "guest image: {=usize} bytes (nshost built without xtask?)",
            GUEST_IMAGE.len()
        );
    }

    // The realm: s2sz 40, two concatenated level-1 roots, SHA-256, an RPV.
    let rd = pool.delegate();
    let rtt_root = pool.delegate_root();
    let rtt_l2 = pool.delegate();
    let rtt_l3 = pool.delegate();
    let realm_params = pool.page();
    write_u64(realm_params, 0x08, layout::S2SZ);
    write_u64(realm_params, 0x18, 1);
    write_u64(realm_params, 0x20, 1);
    for w in 0..8u64 {
        let bytes: [u8; 8] = core::array::from_fn(|b| rampart_guest::rpv_byte(w as usize * 8 + b));
        write_u64(realm_params, 0x400 + w * 8, u64::from_le_bytes(bytes));
    }
    write_u64(realm_params, 0x800, VMID);
    write_u64(realm_params, 0x808, rtt_root);
    write_u64(realm_params, 0x810, 1);
    write_u64(realm_params, 0x818, 2);
    let created = ok(&rmi(rmi::REALM_CREATE, &[rd, realm_params]));
    let rtt_create = |rtt: u64, level: u64| {
        let args = [rd, rtt, layout::BASE, level];
        ok(&rmi_measured(rmi::RTT_CREATE, &args, bench_id::RTT_CREATE))
    };
    let tables = rtt_create(rtt_l2, 2) && rtt_create(rtt_l3, 3);
    let ripas = init_ripas(rd, layout::BASE, layout::INIT_RIPAS_TOP)
        && init_ripas(rd, layout::LAZY_PAGE, layout::LAZY_PAGE + G);

    // The image, measured, page by page through one NS source page; then
    // the guest's RAM as unknown content.
    let mut data = [(0u64, 0u64); MAX_DATA];
    let mut data_count = 0;
    let mut populated = image_ok;
    let src = pool.page();
    for page in 0..image_pages.min(layout::IMAGE_SIZE / G) {
        let at = (page * G) as usize;
        let chunk = &GUEST_IMAGE[at..GUEST_IMAGE.len().min(at + G as usize)];
        let g = ns_granule(src);
        *g = Granule::ZERO;
        g.bytes_mut()[..chunk.len()].copy_from_slice(chunk);
        let pa = pool.delegate();
        let ipa = layout::BASE + page * G;
        let args = [rd, pa, ipa, src, 1];
        populated &= ok(&rmi_measured(
            rmi::DATA_CREATE,
            &args,
            bench_id::DATA_CREATE,
        ));
        data[data_count] = (ipa, pa);
        data_count += 1;
    }
    for page in 0..layout::RAM_SIZE / G {
        let pa = pool.delegate();
        let ipa = layout::RAM + page * G;
        populated &= ok(&rmi(rmi::DATA_CREATE_UNKNOWN, &[rd, pa, ipa]));
        data[data_count] = (ipa, pa);
        data_count += 1;
    }
    case!(
        "rec_realm_build",
        pool.ok && created && tables && ripas && populated,
        "realm {=bool}, rtts {=bool}, ripas {=bool}, data {=bool}, pool {=bool}",
        created,
        tables,
        ripas,
        populated,
        pool.ok
    );

    // RECs: REC 0 runnable at the image's entry, REC 1 waiting for CPU_ON,
    // and a spare (REC granule + aux) for the creations that must fail.
    let aux = rmi(rmi::REC_AUX_COUNT, &[rd]);
    let aux_ok = ok(&aux) && aux[1] <= MAX_AUX as u64;
    let num_aux = if aux_ok { aux[1] as usize } else { 0 };
    case!(
        "rec_aux_count",
        aux_ok,
        "REC_AUX_COUNT -> {=[?]:#x}",
        &aux[..2]
    );
    let mut aux_sets = [[0u64; MAX_AUX]; 3];
    let mut rec_pas = [0u64; 3];
    for (set, pa) in aux_sets.iter_mut().zip(rec_pas.iter_mut()) {
        *pa = pool.delegate();
        for a in set[..num_aux].iter_mut() {
            *a = pool.delegate();
        }
    }
    let rec_params = pool.page();
    let mut boot_gprs = [0u64; 8];
    boot_gprs[0] = rampart_guest::BOOT_X0;
    boot_gprs[7] = rampart_guest::BOOT_X7;
    write_rec_params(
        rec_params,
        params::FLAG_RUNNABLE,
        0,
        layout::BASE,
        boot_gprs,
        &aux_sets[0][..num_aux],
    );
    let rec0 = rmi(rmi::REC_CREATE, &[rd, rec_pas[0], rec_params]);
    write_rec_params(rec_params, 0, 1, 0, [0; 8], &aux_sets[1][..num_aux]);
    let rec1 = rmi(rmi::REC_CREATE, &[rd, rec_pas[1], rec_params]);
    case!(
        "rec_create",
        ok(&rec0) && ok(&rec1),
        "REC_CREATE -> {=u64:#x} {=u64:#x}",
        rec0[0],
        rec1[0]
    );
    write_rec_params(rec_params, 0, 5, 0, [0; 8], &aux_sets[2][..num_aux]);
    let bad_mpidr = rmi(rmi::REC_CREATE, &[rd, rec_pas[2], rec_params])[0];
    case!(
        "rec_create_bad_mpidr",
        bad_mpidr == rmi::ERROR_INPUT,
        "REC_CREATE with MPIDR 5 -> {=u64:#x}",
        bad_mpidr
    );

    let mut recs = [0, 1].map(|i| Rec {
        pa: rec_pas[i],
        run: pool.page(),
        runnable: i == 0,
        entry: RecEntry::default(),
        vectors,
    });
    let (new_enter, _, _) = recs[0].enter();
    case!(
        "rec_enter_realm_new",
        new_enter == rmi::ERROR_REALM,
        "REC_ENTER before activation -> {=u64:#x}",
        new_enter
    );

    let activated = ok(&rmi(rmi::REALM_ACTIVATE, &[rd]));
    write_rec_params(rec_params, 0, 2, 0, [0; 8], &aux_sets[2][..num_aux]);
    let late = rmi(rmi::REC_CREATE, &[rd, rec_pas[2], rec_params])[0];
    case!(
        "rec_create_after_activate",
        activated && late == rmi::ERROR_REALM,
        "activate {=bool}, REC_CREATE -> {=u64:#x}",
        activated,
        late
    );
    let (not_runnable, _, _) = recs[1].enter();
    case!(
        "rec_enter_not_runnable",
        not_runnable == rmi::ERROR_REC,
        "REC_ENTER of REC 1 before CPU_ON -> {=u64:#x}",
        not_runnable
    );
    let no_request = rmi(rmi::PSCI_COMPLETE, &[recs[0].pa, recs[1].pa, 0])[0];
    case!(
        "rec_psci_complete_no_request",
        no_request == rmi::ERROR_INPUT,
        "PSCI_COMPLETE without a request -> {=u64:#x}",
        no_request
    );

    let mut runner = Runner::new(rd, recs);
    if image_ok && ok(&rec0) {
        runner.run(&mut pool);
    } else {
        defmt::error!("guest scenario: not running the realm");
    }
    runner.report();
    if let Some((ipa, pa)) = runner.lazy
        && data_count < MAX_DATA
    {
        data[data_count] = (ipa, pa);
        data_count += 1;
    }
    let after_off = runner.recs[0].enter().0;
    case!(
        "rec_enter_after_system_off",
        runner.system_off && after_off == ERROR_REALM_SYSTEM_OFF,
        "REC_ENTER after SYSTEM_OFF -> {=u64:#x}",
        after_off
    );

    // Teardown in reverse.
    let destroyed = [rec_pas[0], rec_pas[1]].map(|rec| rmi(rmi::REC_DESTROY, &[rec])[0]);
    case!(
        "rec_destroy",
        destroyed == [rmi::SUCCESS; 2],
        "REC_DESTROY -> {=[?]:#x}",
        &destroyed[..]
    );
    let mut data_gone = true;
    for &(ipa, pa) in &data[..data_count] {
        let r = rmi(rmi::DATA_DESTROY, &[rd, ipa]);
        if !ok(&r) || r[1] != pa {
            defmt::error!("DATA_DESTROY {=u64:#x} -> {=[?]:#x}", ipa, &r[..2]);
            data_gone = false;
        }
    }
    let l3 = rmi(rmi::RTT_DESTROY, &[rd, layout::BASE, 3]);
    let l2 = rmi(rmi::RTT_DESTROY, &[rd, layout::BASE, 2]);
    let rtts_gone = ok(&l3) && l3[1] == rtt_l3 && ok(&l2) && l2[1] == rtt_l2;
    let realm_gone = ok(&rmi(rmi::REALM_DESTROY, &[rd]));
    case!(
        "rec_teardown",
        data_gone && rtts_gone && realm_gone,
        "data {=bool}, rtts {=bool}, realm {=bool}",
        data_gone,
        rtts_gone,
        realm_gone
    );

    let mut undelegated = true;
    for &g in pool.delegated() {
        let r = rmi(rmi::GRANULE_UNDELEGATE, &[g]);
        if !ok(&r) {
            defmt::error!("GRANULE_UNDELEGATE {=u64:#x} -> {=u64:#x}", g, r[0]);
            undelegated = false;
        }
    }
    let zero = pool.delegated().iter().all(|&g| all_zero(g));
    case!(
        "rec_undelegate_scrubbed",
        undelegated && zero,
        "undelegate {=bool} zero {=bool} ({=usize} granules)",
        undelegated,
        zero,
        pool.delegated().len()
    );
}

/// Reading what REC 0 (and REC 1) do, exit by exit.
struct Runner {
    rd: u64,
    recs: [Rec; 2],
    current: usize,

    /// The guest console line being assembled, and whether the first
    /// complete line was the greeting.
    line: [u8; 120],
    line_len: usize,
    lines: u32,
    greeting: bool,
    console_writes: u32,
    magic_reads: u32,
    mmio_bad: u32,

    ripas_accepted: u32,
    ripas_rejected: u32,
    ripas_failed: u32,
    /// The lazily populated page: (IPA, granule).
    lazy: Option<(u64, u64)>,
    lazy_ok: bool,
    lazy_tried: bool,

    cpu_on_requests: u32,
    psci_completed: u32,
    psci_failed: u32,
    cpu_off_checked: bool,
    timer_checked: bool,
    irq_injected: bool,
    /// The EL2 physical timer is armed for the guest's WFI case.
    wfi_timer: bool,
    /// IRQ exits taken while it was.
    wfi_irq_exits: u32,
    fp_call_seen: bool,
    ns_fp_intact: bool,
    vectors: VectorChecks,

    /// Attestation token bytes received on the token port.
    token_len: usize,
    token_relayed: bool,

    guest_results: [Option<bool>; gcase::COUNT],
    duplicate_reports: u32,
    done: Option<u64>,
    fatal: bool,
    unexpected: u32,
    enter_failed: bool,
    system_off: bool,
    enters: u32,

    /// Measured REC_ENTERs still to come (the guest announced them with
    /// [`imm::BENCH`]), how many were measured, and how many of those did
    /// not come back on a host call.
    bench_enters: u32,
    bench_measured: u32,
    bench_off_path: u32,
}

/// What to do after an exit.
enum Next {
    /// Enter the same REC again.
    Stay,
    /// Enter the other REC if it is runnable.
    Switch,
    Stop,
}

impl Runner {
    fn new(rd: u64, recs: [Rec; 2]) -> Self {
        Self {
            rd,
            recs,
            current: 0,
            line: [0; 120],
            line_len: 0,
            lines: 0,
            greeting: false,
            console_writes: 0,
            magic_reads: 0,
            mmio_bad: 0,
            ripas_accepted: 0,
            ripas_rejected: 0,
            ripas_failed: 0,
            lazy: None,
            lazy_ok: false,
            lazy_tried: false,
            cpu_on_requests: 0,
            psci_completed: 0,
            psci_failed: 0,
            cpu_off_checked: false,
            timer_checked: false,
            irq_injected: false,
            wfi_timer: false,
            wfi_irq_exits: 0,
            fp_call_seen: false,
            ns_fp_intact: true,
            vectors: VectorChecks::default(),
            token_len: 0,
            token_relayed: false,
            guest_results: [None; gcase::COUNT],
            duplicate_reports: 0,
            done: None,
            fatal: false,
            unexpected: 0,
            enter_failed: false,
            system_off: false,
            enters: 0,
            bench_enters: 0,
            bench_measured: 0,
            bench_off_path: 0,
        }
    }

    fn run(&mut self, pool: &mut Pool) {
        while self.enters < MAX_ENTERS {
            self.enters += 1;
            let cur = self.current;
            let measured = self.bench_enters > 0;
            if measured {
                self.bench_enters -= 1;
                self.bench_measured += 1;
            }
            let how = if measured {
                Enter::Measured
            } else {
                Enter::Checked(self.vectors.next)
            };
            let (status, kept, x) = self.recs[cur].enter_with(how);
            if measured && (x.reason != exit::HOST_CALL || x.imm as u16 != imm::BENCH) {
                self.bench_off_path += 1;
            }
            self.ns_fp_intact &= kept.v;
            if let Enter::Checked(mode) = how {
                let fp_exit = x.reason == exit::HOST_CALL && x.imm as u16 == imm::FP;
                self.vectors.record(mode, status, kept, fp_exit);
            }
            if status != rmi::SUCCESS {
                defmt::error!("REC_ENTER of REC {=usize} -> {=u64:#x}", cur, status);
                self.enter_failed = true;
                break;
            }
            let next = match x.reason {
                exit::SYNC => self.sync_exit(&x, pool),
                exit::IRQ | exit::FIQ => {
                    if self.wfi_timer {
                        // The timer that wakes the guest's WFI fired: arm
                        // it again in case the WFI is still to come.
                        self.wfi_irq_exits += 1;
                        crate::wfi::arm_el2_timer(WFI_TIMER_MS);
                    }
                    Next::Stay
                }
                exit::PSCI => self.psci_exit(&x),
                exit::RIPAS_CHANGE => self.ripas_exit(&x),
                exit::HOST_CALL => self.host_call_exit(&x),
                _ => {
                    defmt::error!(
                        "REC {=usize}: exit reason {=u64} ESR {=u64:#x}",
                        cur,
                        x.reason,
                        x.esr
                    );
                    Next::Stop
                }
            };
            if self.unexpected > MAX_UNEXPECTED {
                defmt::error!("too many unexpected exits: stopping the realm");
                break;
            }
            match next {
                Next::Stay => {}
                Next::Switch => {
                    let other = 1 - cur;
                    if self.recs[other].runnable {
                        self.current = other;
                    } else if !self.recs[cur].runnable {
                        defmt::error!("no runnable REC left");
                        break;
                    }
                }
                Next::Stop => break,
            }
        }
        if self.enters >= MAX_ENTERS {
            defmt::error!(
                "the realm was still running after {=u32} REC_ENTERs",
                MAX_ENTERS
            );
        }
        self.flush_line();
    }

    fn unexpected(&mut self) -> Next {
        self.unexpected += 1;
        Next::Stay
    }

    fn sync_exit(&mut self, x: &RecExit, pool: &mut Pool) -> Next {
        let cur = self.current;
        let ec = (x.esr >> 26) & 0x3f;
        match ec {
            EC_WFX => Next::Stay,
            EC_DABT_LOWER => {
                let ipa = fault_ipa(x.hpfar);
                if ipa >= layout::UNPROTECTED {
                    self.mmio(x, ipa)
                } else if ipa == layout::LAZY_PAGE && !self.lazy_tried {
                    self.lazy_tried = true;
                    let pa = pool.delegate();
                    let r = rmi(rmi::DATA_CREATE_UNKNOWN, &[self.rd, pa, ipa]);
                    let isv = x.esr & (1 << 24) != 0;
                    self.lazy_ok = ok(&r) && !isv;
                    if ok(&r) {
                        self.lazy = Some((ipa, pa));
                    } else {
                        defmt::error!("DATA_CREATE_UNKNOWN at {=u64:#x} -> {=u64:#x}", ipa, r[0]);
                    }
                    Next::Stay
                } else {
                    defmt::error!(
                        "REC {=usize}: data abort at protected IPA {=u64:#x}, ESR {=u64:#x}: injecting an SEA",
                        cur,
                        ipa,
                        x.esr
                    );
                    self.recs[cur].entry.flags |= entry::FLAG_INJECT_SEA;
                    self.unexpected()
                }
            }
            _ => {
                defmt::error!(
                    "REC {=usize}: sync exit ESR {=u64:#x} FAR {=u64:#x} HPFAR {=u64:#x}",
                    cur,
                    x.esr,
                    x.far,
                    x.hpfar
                );
                self.unexpected += 1;
                Next::Stop
            }
        }
    }

    /// An emulatable data abort on an unprotected IPA: the console or the
    /// magic register.
    fn mmio(&mut self, x: &RecExit, ipa: u64) -> Next {
        let cur = self.current;
        let isv = x.esr & (1 << 24) != 0;
        let write = x.esr & (1 << 6) != 0;
        let size = 1u64 << ((x.esr >> 22) & 3);
        let page = ipa & !(G - 1);
        if !isv {
            defmt::error!("REC {=usize}: non-emulatable abort at {=u64:#x}", cur, ipa);
            self.mmio_bad += 1;
            return Next::Stop;
        }
        // RMM 1.0 gives the host the offset within the page, never the
        // realm's virtual address.
        if x.far > G - 1 {
            defmt::error!(
                "REC {=usize}: exit FAR {=u64:#x} is more than an offset",
                cur,
                x.far
            );
            self.mmio_bad += 1;
        }
        let e = &mut self.recs[cur].entry;
        e.flags |= entry::FLAG_EMUL_MMIO;
        match (page, write) {
            (layout::CONSOLE, true) => {
                self.console_writes += 1;
                if size != 1 {
                    self.mmio_bad += 1;
                }
                self.console_byte(x.gprs[0] as u8);
            }
            (layout::TOKEN_PORT, true) if size == 8 && self.token_len + 8 <= TOKEN_MAX => {
                let at = self.token_len;
                let page = ns_granule(TOKEN_BUF + (at as u64 / G) * G);
                let within = at % G as usize;
                page.bytes_mut()[within..within + 8].copy_from_slice(&x.gprs[0].to_le_bytes());
                self.token_len += 8;
            }
            (layout::MAGIC_REG, false) => {
                self.magic_reads += 1;
                let mask = if size == 8 { !0 } else { (1 << (size * 8)) - 1 };
                self.recs[cur].entry.gprs[0] = layout::MAGIC & mask;
            }
            _ => {
                defmt::error!(
                    "REC {=usize}: unexpected MMIO (write {=bool}) at {=u64:#x}, ESR {=u64:#x}",
                    cur,
                    write,
                    ipa,
                    x.esr
                );
                self.mmio_bad += 1;
            }
        }
        Next::Stay
    }

    fn console_byte(&mut self, b: u8) {
        match b {
            b'\n' => self.flush_line(),
            b'\r' => {}
            _ => {
                if self.line_len == self.line.len() {
                    self.flush_line();
                }
                self.line[self.line_len] = b;
                self.line_len += 1;
            }
        }
    }

    /// One guest console line becomes one text record of the guest channel.
    fn flush_line(&mut self) {
        if self.line_len == 0 {
            return;
        }
        let line = &self.line[..self.line_len];
        if self.lines == 0 {
            self.greeting = line == rampart_guest::GREETING.as_bytes();
        }
        self.lines += 1;
        rampart_kernel::trace::text(GUEST | TEXT, line);
        self.line_len = 0;
    }

    /// The guest's attestation token goes to the trace as text lines for
    /// the host side to verify: `attestation-challenge <hex>`, then
    /// `attestation-token <offset> <hex>` pieces, then
    /// `attestation-token-end <length>`.
    fn relay_token(&mut self, x: &RecExit) {
        let len = x.gprs[0] as usize;
        let whole = len <= self.token_len && self.token_len == len.next_multiple_of(8);
        case!(
            "attestation_token_relayed",
            whole && !self.token_relayed,
            "token of {=usize} bytes, {=usize} received on the port",
            len,
            self.token_len
        );
        if !whole || self.token_relayed {
            return;
        }
        self.token_relayed = true;
        let mut challenge = [0u8; 64];
        for (bytes, word) in challenge.chunks_exact_mut(8).zip(&x.gprs[1..9]) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        hex_line(b"attestation-challenge ", None, &challenge);
        let mut offset = 0;
        while offset < len {
            let n = TOKEN_LINE
                .min(len - offset)
                .min(G as usize - offset % G as usize);
            let page = ns_granule(TOKEN_BUF + (offset as u64 / G) * G);
            let within = offset % G as usize;
            hex_line(
                b"attestation-token ",
                Some(offset),
                &page.bytes()[within..within + n],
            );
            offset += n;
        }
        let mut end = heapless::String::<40>::new();
        let _ = core::fmt::write(&mut end, format_args!("attestation-token-end {len}"));
        rampart_kernel::trace::text(NSHOST | TEXT, end.as_bytes());
        defmt::info!(
            "guest token request: {=u64} counter ticks at {=u64} Hz (INIT {=u64}, signing CONTINUE {=u64}), {=usize} bytes",
            x.gprs[9],
            x.gprs[10],
            x.gprs[11],
            x.gprs[12],
            len
        );
    }

    fn psci_exit(&mut self, x: &RecExit) -> Next {
        let cur = self.current;
        let fid = x.gprs[0] as u32;
        match fid {
            smccc::PSCI_CPU_ON_64 | smccc::PSCI_AFFINITY_INFO_64 => {
                let target = x.gprs[1];
                if target > 1 {
                    defmt::error!(
                        "REC {=usize}: PSCI {=u32:#x} for MPIDR {=u64:#x}",
                        cur,
                        fid,
                        target
                    );
                    self.unexpected += 1;
                    return Next::Stop;
                }
                let target = target as usize;
                // The first CPU_ON is denied, the others granted.
                let status = if fid == smccc::PSCI_CPU_ON_64 {
                    self.cpu_on_requests += 1;
                    if self.cpu_on_requests == 1 {
                        PsciError::Denied.reg()
                    } else {
                        0
                    }
                } else {
                    0
                };
                let r = rmi(
                    rmi::PSCI_COMPLETE,
                    &[self.recs[cur].pa, self.recs[target].pa, status],
                );
                if ok(&r) {
                    self.psci_completed += 1;
                    if fid == smccc::PSCI_CPU_ON_64 && status == 0 {
                        self.recs[target].runnable = true;
                    }
                    Next::Stay
                } else {
                    defmt::error!("PSCI_COMPLETE -> {=u64:#x}", r[0]);
                    self.psci_failed += 1;
                    Next::Stop
                }
            }
            smccc::PSCI_CPU_OFF => {
                self.recs[cur].runnable = false;
                if !self.cpu_off_checked {
                    self.cpu_off_checked = true;
                    let again = self.recs[cur].enter().0;
                    case!(
                        "rec_enter_after_cpu_off",
                        again == rmi::ERROR_REC,
                        "REC_ENTER after CPU_OFF -> {=u64:#x}",
                        again
                    );
                }
                Next::Switch
            }
            smccc::PSCI_SYSTEM_OFF | smccc::PSCI_SYSTEM_RESET => {
                self.system_off = true;
                Next::Stop
            }
            smccc::PSCI_CPU_SUSPEND_64 => Next::Stay,
            _ => {
                defmt::error!("REC {=usize}: PSCI exit {=u32:#x}", cur, fid);
                self.unexpected()
            }
        }
    }

    fn ripas_exit(&mut self, x: &RecExit) -> Next {
        let cur = self.current;
        let (base, top) = (x.ripas_base, x.ripas_top);
        if base == layout::REJECT_PAGE && x.ripas_value == rampart_ipc::rsi::RIPAS_RAM as u8 {
            self.ripas_rejected += 1;
            self.recs[cur].entry.flags |= entry::FLAG_RIPAS_RESPONSE;
            return Next::Stay;
        }
        let mut at = base;
        for _ in 0..64 {
            let r = rmi(rmi::RTT_SET_RIPAS, &[self.rd, self.recs[cur].pa, at, top]);
            if !ok(&r) || r[1] <= at || r[1] > top {
                defmt::error!(
                    "RTT_SET_RIPAS {=u64:#x}..{=u64:#x} -> {=[?]:#x}",
                    at,
                    top,
                    &r[..2]
                );
                self.ripas_failed += 1;
                return Next::Stay;
            }
            at = r[1];
            if at == top {
                break;
            }
        }
        self.ripas_accepted += 1;
        Next::Stay
    }

    fn host_call_exit(&mut self, x: &RecExit) -> Next {
        let cur = self.current;
        // By default the guest gets its own registers back.
        self.recs[cur].entry.gprs = x.gprs;
        match x.imm as u16 {
            imm::CASE => {
                let id = x.gprs[0] as usize;
                let pass = x.gprs[1] == 1;
                let details = &x.gprs[2..6];
                match self.guest_results.get_mut(id) {
                    Some(slot) => {
                        if slot.is_some() {
                            self.duplicate_reports += 1;
                        }
                        *slot = Some(pass);
                        case!(gcase::NAMES[id], pass, "guest details {=[?]:#x}", details);
                    }
                    None => {
                        defmt::error!("guest reported unknown case {=usize}", id);
                        self.duplicate_reports += 1;
                    }
                }
                Next::Stay
            }
            imm::YIELD => Next::Switch,
            imm::IRQ => {
                let intid = x.gprs[0] & 0xffff_ffff;
                let lrs = &mut self.recs[cur].entry.gicv3_lrs;
                let state = |lr: u64| lr >> 62;
                let busy = lrs
                    .iter()
                    .any(|&lr| state(lr) != 0 && lr & 0xffff_ffff == intid);
                if !busy && let Some(lr) = lrs.iter_mut().find(|lr| state(**lr) == 0) {
                    // Pending, group 1, priority 0xa0, virtual INTID.
                    *lr = (1 << 62) | (1 << 60) | (0xa0 << 48) | intid;
                    self.irq_injected = true;
                }
                Next::Stay
            }
            imm::WFI => {
                // Arm (1) or disarm (0) the EL2 physical timer whose
                // interrupt ends the guest's WFI with an IRQ exit.
                if x.gprs[0] == 1 {
                    crate::wfi::enable_ppi(crate::wfi::EL2_TIMER_INTID);
                    crate::wfi::arm_el2_timer(WFI_TIMER_MS);
                    self.wfi_timer = true;
                } else {
                    crate::wfi::disarm_el2_timer();
                    crate::wfi::disable_ppi(crate::wfi::EL2_TIMER_INTID);
                    self.wfi_timer = false;
                    defmt::info!(
                        "guest WFI: {=u32} IRQ exit(s) while the EL2 timer was armed",
                        self.wfi_irq_exits
                    );
                }
                Next::Stay
            }
            imm::TIMER => {
                self.timer_checked = true;
                case!(
                    "rec_exit_vtimer_state",
                    x.cntv_ctl & 3 == 3 && x.cntv_cval == x.gprs[0],
                    "exit cntv_ctl {=u64:#x} cntv_cval {=u64:#x}, guest wrote {=u64:#x}",
                    x.cntv_ctl,
                    x.cntv_cval,
                    x.gprs[0]
                );
                Next::Stay
            }
            imm::FP => {
                self.fp_call_seen = true;
                Next::Stay
            }
            imm::ECHO => {
                self.recs[cur].entry.gprs = x.gprs.map(|r| !r);
                Next::Stay
            }
            imm::DONE => {
                self.done = Some(x.gprs[0]);
                Next::Stay
            }
            imm::TOKEN => {
                self.relay_token(x);
                Next::Stay
            }
            imm::BENCH => {
                // An announcement carries the number of measured rounds; the
                // rounds themselves carry 0.
                if x.gprs[0] != 0 {
                    self.bench_enters = (x.gprs[0] as u32).min(rampart_guest::BENCH_MAX_ROUNDS);
                }
                Next::Stay
            }
            imm::FATAL => {
                defmt::error!(
                    "guest fatal error on REC {=usize}: ESR {=u64:#x} ELR {=u64:#x} FAR {=u64:#x}",
                    cur,
                    x.gprs[0],
                    x.gprs[1],
                    x.gprs[2]
                );
                self.fatal = true;
                Next::Stay
            }
            other => {
                defmt::error!("REC {=usize}: host call {=u16:#x}", cur, other);
                self.unexpected()
            }
        }
    }

    /// The cases of the run as a whole, and the guest's missing ones.
    fn report(&self) {
        for (id, result) in self.guest_results.iter().enumerate() {
            if result.is_none() {
                case!(gcase::NAMES[id], false, "not reported by the guest");
            }
        }
        case!(
            "guest_console",
            self.greeting,
            "{=u32} console lines; first one the greeting: {=bool}",
            self.lines,
            self.greeting
        );
        case!(
            "rec_emulated_mmio",
            self.console_writes as usize >= rampart_guest::GREETING.len()
                && self.magic_reads == 2
                && self.mmio_bad == 0,
            "{=u32} console writes, {=u32} magic reads, {=u32} bad",
            self.console_writes,
            self.magic_reads,
            self.mmio_bad
        );
        case!(
            "rec_exit_ripas_change",
            self.ripas_accepted >= 2 && self.ripas_rejected == 1 && self.ripas_failed == 0,
            "accepted {=u32}, rejected {=u32}, failed {=u32}",
            self.ripas_accepted,
            self.ripas_rejected,
            self.ripas_failed
        );
        case!(
            "rec_exit_unassigned_ram",
            self.lazy_ok,
            "lazy page mapped: {=bool}",
            self.lazy.is_some()
        );
        case!(
            "rec_psci_complete",
            self.psci_completed >= 5 && self.psci_failed == 0,
            "{=u32} PSCI_COMPLETEs, {=u32} failed",
            self.psci_completed,
            self.psci_failed
        );
        if !self.cpu_off_checked {
            case!("rec_enter_after_cpu_off", false, "REC 1 never did CPU_OFF");
        }
        if !self.timer_checked {
            case!("rec_exit_vtimer_state", false, "no timer host call");
        }
        case!(
            "rec_virtual_irq_injected",
            self.irq_injected,
            "no virtual interrupt injected"
        );
        case!(
            "rec_enter_preserves_ns_fp",
            self.fp_call_seen && self.ns_fp_intact,
            "guest FP call seen {=bool}, NS v0-v31 intact {=bool}",
            self.fp_call_seen,
            self.ns_fp_intact
        );
        self.vectors.report();
        case!(
            "rec_run_to_system_off",
            self.system_off && !self.fatal && !self.enter_failed && self.unexpected == 0,
            "system off {=bool}, guest fatal {=bool}, enter failed {=bool}, unexpected exits {=u32}, {=u32} REC_ENTERs",
            self.system_off,
            self.fatal,
            self.enter_failed,
            self.unexpected,
            self.enters
        );
        case!(
            "bench_rec_enter_host_call",
            self.bench_measured == rampart_guest::BENCH_ROUNDS && self.bench_off_path == 0,
            "{=u32} measured REC_ENTERs, {=u32} not ended by the guest's host call",
            self.bench_measured,
            self.bench_off_path
        );
        let reported = self.guest_results.iter().filter(|r| r.is_some()).count() as u64;
        case!(
            "guest_all_cases_reported",
            self.done == Some(gcase::COUNT as u64)
                && reported == gcase::COUNT as u64
                && self.duplicate_reports == 0,
            "guest says {=?} reports, host saw {=u64} of {=usize}, {=u32} duplicate/unknown",
            self.done,
            reported,
            gcase::COUNT,
            self.duplicate_reports
        );
    }
}

/// One text record: `prefix`, an optional decimal offset and a space, then
/// `bytes` in hex.
fn hex_line(prefix: &[u8], offset: Option<usize>, bytes: &[u8]) {
    let mut line = heapless::Vec::<u8, 480>::new();
    let _ = line.extend_from_slice(prefix);
    if let Some(offset) = offset {
        let mut digits = heapless::String::<24>::new();
        let _ = core::fmt::write(&mut digits, format_args!("{offset} "));
        let _ = line.extend_from_slice(digits.as_bytes());
    }
    let mut digits = [0u8; 2 * TOKEN_LINE];
    let _ = line.extend_from_slice(rampart_kernel::trace::hex(bytes, &mut digits).as_bytes());
    rampart_kernel::trace::text(NSHOST | TEXT, &line);
}

/// The host's vector registers across the run's REC_ENTERs. Every enter is
/// checked with all of Z, P and FFR live and the hint clear, except around
/// the guest's FP host calls (`rampart_guest` makes two in a row, writing
/// its own pattern into V0-V31 before each): from the first of them until
/// the second, enters go in Streaming SVE mode, and the one enter after
/// the second goes with the SVE hint. Each mode must have covered a run in
/// which the guest used FP/SIMD: a plain or streaming enter that ended on
/// the guest's FP call (so a realm left in streaming mode, which dies on an
/// SME trap, fails the streaming case), a hinted one that resumed the
/// guest's check of its V0-V31.
struct VectorChecks {
    next: Mode,
    /// Per mode (Sve, Hinted, Streaming): enters, failures, and whether one
    /// of them covered the guest's FP code.
    enters: [u32; 3],
    failed: [u32; 3],
    fp_run: [bool; 3],
    fp_exits: u32,
}

impl Default for VectorChecks {
    fn default() -> Self {
        Self {
            next: Mode::Sve,
            enters: [0; 3],
            failed: [0; 3],
            fp_run: [false; 3],
            fp_exits: 0,
        }
    }
}

impl VectorChecks {
    fn index(mode: Mode) -> usize {
        match mode {
            Mode::Sve => 0,
            Mode::Hinted => 1,
            Mode::Streaming => 2,
        }
    }

    fn record(&mut self, mode: Mode, status: u64, kept: Kept, fp_exit: bool) {
        let i = Self::index(mode);
        self.enters[i] += 1;
        let ok = status == rmi::SUCCESS && kept.all;
        if !ok {
            self.failed[i] += 1;
        }
        let covered = match mode {
            Mode::Sve | Mode::Streaming => fp_exit,
            // The hinted enter is the one right after the second FP call.
            Mode::Hinted => true,
        };
        self.fp_run[i] |= ok && covered;
        if fp_exit {
            self.fp_exits += 1;
        }
        self.next = match (fp_exit, self.fp_exits) {
            (_, 1) => Mode::Streaming,
            (true, 2) => Mode::Hinted,
            _ => Mode::Sve,
        };
    }

    fn report(&self) {
        let [sve, hinted, streaming] = [Mode::Sve, Mode::Hinted, Mode::Streaming].map(|m| {
            let i = Self::index(m);
            self.enters[i] > 0 && self.failed[i] == 0 && self.fp_run[i]
        });
        case!(
            "rec_enter_preserves_ns_sve",
            sve,
            "SVE: {=u32} enters, {=u32} failed, guest FP run covered {=bool}",
            self.enters[0],
            self.failed[0],
            self.fp_run[0]
        );
        case!(
            "rec_enter_sve_hint",
            hinted,
            "hinted: {=u32} enters, {=u32} failed, guest FP run covered {=bool}",
            self.enters[1],
            self.failed[1],
            self.fp_run[1]
        );
        case!(
            "rec_enter_preserves_ns_streaming",
            streaming,
            "streaming: {=u32} enters, {=u32} failed, guest FP run covered {=bool} ({=u32} guest FP calls)",
            self.enters[2],
            self.failed[2],
            self.fp_run[2],
            self.fp_exits
        );
    }
}
