//! The realm guest: a bare-metal payload at R-EL1 that nshost runs in a
//! realm with two RECs. REC 0 enters at [`layout::BASE`] (x0 =
//! [`rampart_guest::BOOT_X0`], x7 = [`rampart_guest::BOOT_X7`]), builds an
//! identity stage-1 map and turns its MMU on, then checks RSI (every command,
//! good and bad arguments), RIPAS changes, protected and unprotected memory,
//! PSCI (starting REC 1 with CPU_ON), a virtual interrupt, its virtual timer
//! and its FP/SIMD registers across a host call; it reports each check to the
//! host with a host call (see the library for the protocol and the layout)
//! and ends with PSCI SYSTEM_OFF. Text goes to the emulated console page.
#![no_std]
#![no_main]

mod rt;

use core::cell::UnsafeCell;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use rampart_arch::{isb, read_sysreg, write_sysreg};
use rampart_guest::layout::{self, CPUS, GRANULE};
use rampart_guest::{case, imm};
use rampart_ipc::bench as bench_id;
use rampart_ipc::rsi;
use rampart_ipc::smccc::{self, PsciError, SMC_UNKNOWN};
use rt::smc;
use sha2::{Digest, Sha256};

/// Emulated console: one byte per store on the console page.
struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            rt::mmio_write8(layout::CONSOLE, b);
        }
        Ok(())
    }
}

/// Prints one line on the console.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(Console, $($arg)*);
    }};
}

// ---- Memory shared with the RMM ----

/// One RsiHostCall per REC: imm at byte 0, gprs[31] at byte 8.
#[repr(C, align(256))]
struct HostCallBuf(UnsafeCell<[u64; 32]>);

/// A 4 KB page of guest RAM (RSI_REALM_CONFIG's output).
#[repr(C, align(4096))]
struct Page(UnsafeCell<[u64; 512]>);

// SAFETY: REC i only touches HOST_CALLS[i]; the RMM writes them only during
// that REC's RSI_HOST_CALL. CONFIG is used by REC 0 alone.
unsafe impl Sync for HostCallBuf {}
// SAFETY: see HostCallBuf.
unsafe impl Sync for Page {}

static HOST_CALLS: [HostCallBuf; CPUS as usize] =
    [const { HostCallBuf(UnsafeCell::new([0; 32])) }; CPUS as usize];
static CONFIG: Page = Page(UnsafeCell::new([0; 512]));
/// Where RSI_ATTESTATION_TOKEN_CONTINUE writes the token (REC 0 only).
static TOKEN: [Page; 2] = [const { Page(UnsafeCell::new([0; 512])) }; 2];

fn host_call_buf() -> *mut u64 {
    HOST_CALLS[rt::cpu().min(CPUS as usize - 1)].0.get().cast()
}

fn config_page() -> *mut u64 {
    CONFIG.0.get().cast()
}

/// Word `i` of a guest page the RMM may write.
fn read_word(page: *mut u64, i: usize) -> u64 {
    // SAFETY: callers pass one of the statics above and an index inside it;
    // volatile because the RMM wrote it behind the compiler's back.
    unsafe { page.add(i).read_volatile() }
}

fn write_word(page: *mut u64, i: usize, value: u64) {
    // SAFETY: as for read_word.
    unsafe { page.add(i).write_volatile(value) }
}

/// RSI_HOST_CALL with `imm` and gprs `args` (the rest zero); returns the
/// RSI status and the 31 gprs the host answered with.
fn host_call(imm: u16, args: &[u64]) -> (u64, [u64; 31]) {
    let buf = host_call_buf();
    write_word(buf, 0, u64::from(imm));
    for i in 0..31 {
        write_word(buf, 1 + i, args.get(i).copied().unwrap_or(0));
    }
    let status = smc(rsi::HOST_CALL, &[buf as u64])[0];
    let mut out = [0u64; 31];
    for (i, r) in out.iter_mut().enumerate() {
        *r = read_word(buf, 1 + i);
    }
    (status, out)
}

/// Lets the host run another REC.
fn yield_to_host() {
    host_call(imm::YIELD, &[]);
}

static REPORTED: AtomicU32 = AtomicU32::new(0);

/// Reports check `id` to the host (up to four detail words).
fn report(id: u8, ok: bool, details: &[u64]) {
    let mut args = [0u64; 6];
    args[0] = u64::from(id);
    args[1] = u64::from(ok);
    for (a, d) in args[2..].iter_mut().zip(details) {
        *a = *d;
    }
    if !ok {
        say!(
            "check {} failed: {:#x?}",
            case::NAMES[usize::from(id)],
            details
        );
    }
    host_call(imm::CASE, &args);
    REPORTED.fetch_add(1, Ordering::Relaxed);
}

/// An unexpected exception or a panic: tell the host, power off.
pub fn fatal(esr: u64, elr: u64, far: u64) -> ! {
    say!("fatal exception: ESR {esr:#x} ELR {elr:#x} FAR {far:#x}");
    host_call(imm::FATAL, &[esr, elr, far]);
    smc(smccc::PSCI_SYSTEM_OFF, &[]);
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    say!("panic: {info}");
    fatal(0, 0, 0)
}

// ---- REC 0 ----

/// Polls of a flag another REC sets, each followed by a yield to the host.
const WAIT_ROUNDS: u32 = 200;

static REC1_STARTED: AtomicBool = AtomicBool::new(false);
static REC1_GO_OFF: AtomicBool = AtomicBool::new(false);

#[unsafe(no_mangle)]
extern "C" fn guest_main(x0: u64, x7: u64) -> ! {
    rt::build_tables();
    rt::enable_mmu();
    say!("{}", rampart_guest::GREETING);
    let mmu = read_sysreg!("sctlr_el1") & 1;
    report(
        case::BOOT,
        x0 == rampart_guest::BOOT_X0 && x7 == rampart_guest::BOOT_X7 && mmu == 1,
        &[x0, x7, mmu],
    );

    rsi_version();
    rsi_features();
    realm_config();
    measurements();
    ipa_state();
    ripas_changes();
    host_calls();
    unknown_fids();
    memory();
    psci_basics();
    timer();
    fp();
    virtual_irq();
    wfi();
    secondary();
    attestation();
    bench();

    let reported = REPORTED.load(Ordering::Relaxed);
    say!("{reported} checks reported, powering off");
    host_call(imm::DONE, &[u64::from(reported)]);
    smc(smccc::PSCI_SYSTEM_OFF, &[]);
    say!("SYSTEM_OFF returned");
    fatal(0, 0, 0)
}

fn rsi_version() {
    let good = smc(rsi::VERSION, &[rsi::ABI_VERSION]);
    let bad = smc(rsi::VERSION, &[2 << 16]);
    let v = rsi::ABI_VERSION;
    report(
        case::RSI_VERSION,
        good[..3] == [rsi::SUCCESS, v, v] && bad[..3] == [rsi::ERROR_INPUT, v, v],
        &[good[0], good[1], bad[0], bad[1]],
    );
}

fn rsi_features() {
    let f0 = smc(rsi::FEATURES, &[0]);
    let f1 = smc(rsi::FEATURES, &[1]);
    report(
        case::RSI_FEATURES,
        f0[..2] == [rsi::SUCCESS, 0] && f1[..2] == [rsi::SUCCESS, 0],
        &[f0[0], f0[1], f1[0], f1[1]],
    );
}

fn realm_config() {
    let page = config_page();
    for i in 0..512 {
        write_word(page, i, !0);
    }
    let r = smc(rsi::REALM_CONFIG, &[page as u64])[0];
    let width = read_word(page, rsi::realm_config::IPA_WIDTH / 8);
    let algo = read_word(page, rsi::realm_config::HASH_ALGO / 8) & 0xff;
    let rpv_ok = (0..64).all(|i| {
        let word = read_word(page, (rsi::realm_config::RPV + i) / 8);
        word.to_le_bytes()[i % 8] == rampart_guest::rpv_byte(i)
    });
    report(
        case::REALM_CONFIG,
        r == rsi::SUCCESS && width == layout::S2SZ && algo == 0 && rpv_ok,
        &[r, width, algo, u64::from(rpv_ok)],
    );

    let unaligned = smc(rsi::REALM_CONFIG, &[page as u64 + 0x100])[0];
    let unprotected = smc(rsi::REALM_CONFIG, &[layout::CONSOLE])[0];
    let empty = smc(rsi::REALM_CONFIG, &[layout::EMPTY_PAGE])[0];
    report(
        case::REALM_CONFIG_ERRORS,
        [unaligned, unprotected, empty] == [rsi::ERROR_INPUT; 3],
        &[unaligned, unprotected, empty],
    );
}

/// RSI_MEASUREMENT_READ of `index`: status and the 64 bytes.
fn read_measurement(index: u64) -> (u64, [u8; 64]) {
    let r = smc(rsi::MEASUREMENT_READ, &[index]);
    let mut m = [0u8; 64];
    for (chunk, word) in m.chunks_exact_mut(8).zip(&r[1..9]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    (r[0], m)
}

/// RSI_MEASUREMENT_EXTEND of REM `index` by `data[..size]` (x3-x10).
fn extend(index: u64, size: u64, data: &[u8; 64]) -> u64 {
    smc(rsi::MEASUREMENT_EXTEND, &extend_args(index, size, data))[0]
}

fn extend_args(index: u64, size: u64, data: &[u8; 64]) -> [u64; 10] {
    let mut args = [0u64; 10];
    args[0] = index;
    args[1] = size;
    for (a, chunk) in args[2..].iter_mut().zip(data.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        *a = u64::from_le_bytes(w);
    }
    args
}

/// The SHA-256 REM after extending `rem` by `data`.
fn expected_rem(rem: &[u8; 64], data: &[u8]) -> [u8; 64] {
    let mut h = Sha256::new();
    h.update(&rem[..32]);
    h.update(data);
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(h.finalize().as_slice());
    out
}

fn word0(m: &[u8; 64]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&m[..8]);
    u64::from_le_bytes(w)
}

fn measurements() {
    let (s0, rim) = read_measurement(0);
    let (s1, rem1) = read_measurement(1);
    let (s4, rem4) = read_measurement(4);
    report(
        case::MEASUREMENT_READ,
        [s0, s1, s4] == [rsi::SUCCESS; 3]
            && rim[..32].iter().any(|&b| b != 0)
            && rim[32..].iter().all(|&b| b == 0)
            && rem1 == [0; 64]
            && rem4 == [0; 64],
        &[s0, word0(&rim), s1, word0(&rem1)],
    );

    let data: [u8; 64] = core::array::from_fn(|i| (i as u8) ^ 0x3c);
    let e1 = extend(1, 40, &data);
    let want1 = expected_rem(&[0; 64], &data[..40]);
    let (r1, got1) = read_measurement(1);
    let e2 = extend(1, 0, &data);
    let want2 = expected_rem(&want1, &[]);
    let (r2, got2) = read_measurement(1);
    let e3 = extend(4, 64, &data);
    let want3 = expected_rem(&[0; 64], &data);
    let (r3, got3) = read_measurement(4);
    let (r4, rem2) = read_measurement(2);
    report(
        case::MEASUREMENT_EXTEND,
        [e1, r1, e2, r2, e3, r3, r4] == [rsi::SUCCESS; 7]
            && got1 == want1
            && got2 == want2
            && got3 == want3
            && rem2 == [0; 64],
        &[e1, word0(&got1), word0(&want1), word0(&got3)],
    );

    let index0 = extend(0, 8, &data);
    let index5 = extend(5, 8, &data);
    let too_big = extend(2, 65, &data);
    let (read5, _) = read_measurement(5);
    let (_, rem2_after) = read_measurement(2);
    report(
        case::MEASUREMENT_ERRORS,
        [index0, index5, too_big, read5] == [rsi::ERROR_INPUT; 4] && rem2_after == [0; 64],
        &[index0, index5, too_big, read5],
    );
}

/// RSI_IPA_STATE_GET: (status, top, ripas).
fn ipa_state_get(base: u64, end: u64) -> (u64, u64, u64) {
    let r = smc(rsi::IPA_STATE_GET, &[base, end]);
    (r[0], r[1], r[2])
}

/// The end of the run of equal RIPAS from `base` (at most `end`) and its
/// RIPAS, following partial answers; None on an error or no progress.
fn ripas_run(base: u64, end: u64) -> Option<(u64, u64)> {
    let (status, mut top, ripas) = ipa_state_get(base, end);
    if status != rsi::SUCCESS || top <= base || top > end {
        return None;
    }
    for _ in 0..64 {
        if top == end {
            break;
        }
        let (s, next, r) = ipa_state_get(top, end);
        if s != rsi::SUCCESS || r != ripas {
            break;
        }
        if next <= top || next > end {
            return None;
        }
        top = next;
    }
    Some((top, ripas))
}

fn ipa_state() {
    use layout::{BASE, EMPTY_PAGE, INIT_RIPAS_TOP, RIPAS_TEST, RIPAS_TEST_SIZE, UNPROTECTED};
    let image = ipa_state_get(BASE, BASE + GRANULE);
    let empty = ipa_state_get(EMPTY_PAGE, EMPTY_PAGE + GRANULE);
    let test = ripas_run(RIPAS_TEST, RIPAS_TEST + RIPAS_TEST_SIZE);
    let run = ripas_run(BASE, INIT_RIPAS_TOP + GRANULE);
    let unaligned = ipa_state_get(BASE + 8, BASE + GRANULE).0;
    let empty_range = ipa_state_get(BASE + GRANULE, BASE + GRANULE).0;
    let unprotected = ipa_state_get(UNPROTECTED - GRANULE, UNPROTECTED + GRANULE).0;
    let ok = image == (rsi::SUCCESS, BASE + GRANULE, rsi::RIPAS_RAM)
        && empty == (rsi::SUCCESS, EMPTY_PAGE + GRANULE, rsi::RIPAS_EMPTY)
        && test == Some((RIPAS_TEST + RIPAS_TEST_SIZE, rsi::RIPAS_RAM))
        && run == Some((INIT_RIPAS_TOP, rsi::RIPAS_RAM))
        && [unaligned, empty_range, unprotected] == [rsi::ERROR_INPUT; 3];
    report(
        case::IPA_STATE_GET,
        ok,
        &[image.2, empty.2, run.map_or(0, |r| r.0), unaligned],
    );

    let set = |base: u64, top: u64, ripas: u64| smc(rsi::IPA_STATE_SET, &[base, top, ripas, 0])[0];
    let unaligned = set(RIPAS_TEST + 8, RIPAS_TEST + GRANULE, rsi::RIPAS_EMPTY);
    let inverted = set(RIPAS_TEST + GRANULE, RIPAS_TEST, rsi::RIPAS_EMPTY);
    let outside = set(
        UNPROTECTED - GRANULE,
        UNPROTECTED + GRANULE,
        rsi::RIPAS_EMPTY,
    );
    let bad_ripas = set(RIPAS_TEST, RIPAS_TEST + GRANULE, 2);
    let unchanged = ripas_run(RIPAS_TEST, RIPAS_TEST + RIPAS_TEST_SIZE);
    report(
        case::IPA_STATE_SET_ERRORS,
        [unaligned, inverted, outside, bad_ripas] == [rsi::ERROR_INPUT; 4]
            && unchanged == Some((RIPAS_TEST + RIPAS_TEST_SIZE, rsi::RIPAS_RAM)),
        &[unaligned, inverted, outside, bad_ripas],
    );
}

/// RSI_IPA_STATE_SET of `[base, top)`, repeated from where the last call
/// got to: (status, how far it got, host response).
fn set_ripas(base: u64, top: u64, ripas: u64) -> (u64, u64, u64) {
    let mut at = base;
    for _ in 0..64 {
        let r = smc(rsi::IPA_STATE_SET, &[at, top, ripas, 0]);
        if r[0] != rsi::SUCCESS || r[2] != rsi::ACCEPT {
            return (r[0], r[1], r[2]);
        }
        if r[1] <= at || r[1] > top {
            return (r[0], r[1], r[2]);
        }
        at = r[1];
        if at == top {
            break;
        }
    }
    (rsi::SUCCESS, at, rsi::ACCEPT)
}

fn ripas_changes() {
    use layout::{REJECT_PAGE, RIPAS_TEST, RIPAS_TEST_SIZE};
    let top = RIPAS_TEST + RIPAS_TEST_SIZE;
    let to_empty = set_ripas(RIPAS_TEST, top, rsi::RIPAS_EMPTY);
    let now_empty = ripas_run(RIPAS_TEST, top);
    let (_, sea) = rt::probe_read(RIPAS_TEST + GRANULE);
    report(
        case::RIPAS_RAM_TO_EMPTY,
        to_empty == (rsi::SUCCESS, top, rsi::ACCEPT)
            && now_empty == Some((top, rsi::RIPAS_EMPTY))
            && sea.is_some_and(is_sea),
        &[
            to_empty.0,
            to_empty.1,
            now_empty.map_or(0, |r| r.0),
            sea.unwrap_or(0),
        ],
    );

    let to_ram = set_ripas(RIPAS_TEST, top, rsi::RIPAS_RAM);
    let now_ram = ripas_run(RIPAS_TEST, top);
    report(
        case::RIPAS_EMPTY_TO_RAM,
        to_ram == (rsi::SUCCESS, top, rsi::ACCEPT) && now_ram == Some((top, rsi::RIPAS_RAM)),
        &[to_ram.0, to_ram.1, to_ram.2, now_ram.map_or(0, |r| r.0)],
    );

    // The host may refuse to back a range with RAM (RsiResponse REJECT);
    // giving memory up (EMPTY) it accepts.
    let given_up = set_ripas(REJECT_PAGE, REJECT_PAGE + GRANULE, rsi::RIPAS_EMPTY);
    let rejected = set_ripas(REJECT_PAGE, REJECT_PAGE + GRANULE, rsi::RIPAS_RAM);
    let still = ipa_state_get(REJECT_PAGE, REJECT_PAGE + GRANULE);
    report(
        case::RIPAS_REJECTED,
        given_up == (rsi::SUCCESS, REJECT_PAGE + GRANULE, rsi::ACCEPT)
            && rejected == (rsi::SUCCESS, REJECT_PAGE, rsi::REJECT)
            && still == (rsi::SUCCESS, REJECT_PAGE + GRANULE, rsi::RIPAS_EMPTY),
        &[given_up.1, rejected.1, rejected.2, still.2],
    );
}

fn host_calls() {
    let args: [u64; 31] = core::array::from_fn(rampart_guest::echo_in);
    let (status, back) = host_call(imm::ECHO, &args);
    let echoed = back
        .iter()
        .enumerate()
        .all(|(i, &v)| v == !rampart_guest::echo_in(i));
    report(
        case::HOST_CALL,
        status == rsi::SUCCESS && echoed,
        &[status, back[0], back[30]],
    );

    let buf = host_call_buf() as u64;
    let misaligned = smc(rsi::HOST_CALL, &[buf + 8])[0];
    let unprotected = smc(rsi::HOST_CALL, &[layout::CONSOLE])[0];
    report(
        case::HOST_CALL_ERRORS,
        [misaligned, unprotected] == [rsi::ERROR_INPUT; 2],
        &[misaligned, unprotected],
    );
}

fn unknown_fids() {
    let fids = [0xc400_019a, 0xc400_01af, 0xc500_0000];
    let r = fids.map(|fid| smc(fid, &[1, 2, 3])[0]);
    report(case::UNKNOWN_FID, r == [SMC_UNKNOWN; 3], &r);
}

/// A challenge nobody can predict: RNDR when the CPU has it (FEAT_RNG),
/// mixed with the counter either way.
fn fresh_challenge() -> [u64; 8] {
    let rng = (read_sysreg!("id_aa64isar0_el1") >> 60) & 0xf != 0;
    core::array::from_fn(|i| {
        let random = if rng { read_sysreg!("s3_3_c2_c4_0") } else { 0 };
        let count = read_sysreg!("cntvct_el0");
        random ^ count.rotate_left(i as u32 * 8) ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    })
}

/// RSI_ATTESTATION_TOKEN_CONTINUE failures, then a whole token request
/// (timed with the virtual counter), handed to the host through the
/// token port and a host call.
fn attestation() {
    let buf = TOKEN[0].0.get() as u64;
    let cont = |ipa: u64, offset: u64, size: u64| {
        smc(rsi::ATTESTATION_TOKEN_CONTINUE, &[ipa, offset, size])
    };
    let no_init = cont(buf, 0, GRANULE)[0];
    let init = smc(rsi::ATTESTATION_TOKEN_INIT, &[0; 8]);
    let bad = [
        cont(buf + 8, 0, 16)[0],
        cont(layout::UNPROTECTED | buf, 0, 16)[0],
        cont(buf, GRANULE, 0)[0],
        cont(buf, 8, u64::MAX)[0],
        cont(buf, 1, GRANULE)[0],
        cont(layout::EMPTY_PAGE, 0, 16)[0],
    ];
    report(
        case::ATTESTATION_ERRORS,
        no_init == rsi::ERROR_STATE && init[0] == rsi::SUCCESS && bad == [rsi::ERROR_INPUT; 6],
        &[
            no_init,
            init[0],
            bad[0] | bad[1] << 8 | bad[2] << 16 | bad[3] << 24 | bad[4] << 32 | bad[5] << 40,
        ],
    );

    let challenge = fresh_challenge();
    let start = read_sysreg!("cntvct_el0");
    let t = request_token(&challenge);
    let ticks = read_sysreg!("cntvct_el0") - start;
    let (status, len, max) = (t.status, t.len, t.max);
    let (after_init, after_first) = (t.after_init, t.after_first);
    let complete = t.complete();
    let head = if complete {
        read_word(TOKEN[0].0.get().cast(), 0)
    } else {
        0
    };
    // CBOR tag 399 (d9 01 8f) opens a CCA token.
    let tagged = head & 0xff_ffff == 0x8f_01d9;
    report(
        case::ATTESTATION_TOKEN,
        complete && tagged,
        &[status, len, max, head],
    );
    if !complete {
        return;
    }
    let words = len.div_ceil(8) as usize;
    for i in 0..words {
        let word = read_word(TOKEN[i / 512].0.get().cast(), i % 512);
        rt::mmio_write64(layout::TOKEN_PORT, word);
    }
    let mut args = [0u64; 13];
    args[0] = len;
    args[1..9].copy_from_slice(&challenge);
    args[9] = ticks;
    args[10] = read_sysreg!("cntfrq_el0");
    args[11] = after_init - start;
    args[12] = after_first - after_init;
    host_call(imm::TOKEN, &args);
    say!("attestation token: {len} bytes in {ticks} counter ticks");
}

/// How a token request went, with the virtual counter after INIT and after
/// the first CONTINUE (the one that signs).
struct TokenRequest {
    status: u64,
    len: u64,
    max: u64,
    after_init: u64,
    after_first: u64,
}

impl TokenRequest {
    fn complete(&self) -> bool {
        self.status == rsi::SUCCESS && self.len <= self.max && self.len <= 2 * GRANULE
    }
}

/// A whole attestation token request into [`TOKEN`]: INIT with `challenge`,
/// then the spec's loop, a granule at a time and pieces within it.
fn request_token(challenge: &[u64; 8]) -> TokenRequest {
    let init = smc(rsi::ATTESTATION_TOKEN_INIT, challenge);
    let mut t = TokenRequest {
        status: init[0],
        len: 0,
        max: init[1],
        after_init: read_sysreg!("cntvct_el0"),
        after_first: 0,
    };
    if t.status != rsi::SUCCESS {
        return t;
    }
    for page in &TOKEN {
        let ipa = page.0.get() as u64;
        let mut offset = 0;
        while offset < GRANULE {
            let r = smc(
                rsi::ATTESTATION_TOKEN_CONTINUE,
                &[ipa, offset, GRANULE - offset],
            );
            if t.after_first == 0 {
                t.after_first = read_sysreg!("cntvct_el0");
            }
            t.status = r[0];
            if t.status != rsi::INCOMPLETE && t.status != rsi::SUCCESS {
                return t;
            }
            offset += r[1];
            t.len += r[1];
            if t.status == rsi::SUCCESS {
                return t;
            }
        }
    }
    t
}

/// The guest's part of `cargo xtask bench`: measured REC_ENTERs (host calls
/// the host brackets), then RSI_MEASUREMENT_EXTEND and whole token requests
/// between the markers. One case says every measured call succeeded.
fn bench() {
    let rounds = rampart_guest::BENCH_ROUNDS;
    host_call(imm::BENCH, &[u64::from(rounds)]);
    let mut pings = 0;
    for _ in 0..rounds {
        pings += u32::from(host_call(imm::BENCH, &[]).0 == rsi::SUCCESS);
    }
    let data = [0x5a; 64];
    let mut extends = 0;
    for _ in 0..rounds {
        let args = extend_args(2, 64, &data);
        let r = rt::smc_measured(
            rsi::MEASUREMENT_EXTEND,
            &args,
            bench_id::RSI_MEASUREMENT_EXTEND,
        );
        extends += u32::from(r[0] == rsi::SUCCESS);
    }
    let mut tokens = 0;
    for round in 0..rounds {
        let challenge = core::array::from_fn(|i| u64::from(round) << 32 | i as u64);
        rampart_arch::bench::begin(bench_id::ATTESTATION_TOKEN);
        let t = request_token(&challenge);
        rampart_arch::bench::end();
        tokens += u32::from(t.complete());
    }
    report(
        case::BENCH,
        pings == rounds && extends == rounds && tokens == rounds,
        &[u64::from(pings), u64::from(extends), u64::from(tokens)],
    );
}

/// A synchronous external abort taken at EL1 on a data access: EC 0x25,
/// DFSC 0x10, and EA (bit 9) set, as the Arm ARM's ESR_ELx ISS for a data
/// abort marks an external abort.
fn is_sea(esr: u64) -> bool {
    (esr >> 26) & 0x3f == 0x25 && esr & 0x3f == 0x10 && esr & (1 << 9) != 0
}

fn memory() {
    let (value, esr) = rt::probe_read(layout::EMPTY_PAGE);
    report(
        case::EMPTY_PAGE_SEA,
        esr.is_some_and(is_sea),
        &[esr.unwrap_or(0), value],
    );

    let (first, fault) = rt::probe_read(layout::LAZY_PAGE);
    let write_fault = rt::probe_write(layout::LAZY_PAGE + 8, 0x1a2b_3c4d);
    let (second, fault2) = rt::probe_read(layout::LAZY_PAGE + 8);
    report(
        case::UNASSIGNED_RAM,
        first == 0
            && fault.is_none()
            && write_fault.is_none()
            && fault2.is_none()
            && second == 0x1a2b_3c4d,
        &[first, fault.unwrap_or(0), second, write_fault.unwrap_or(0)],
    );

    let wide = rt::mmio_read64(layout::MAGIC_REG);
    let narrow = rt::mmio_read32(layout::MAGIC_REG);
    report(
        case::MMIO_READ,
        wide == layout::MAGIC && narrow == layout::MAGIC as u32,
        &[wide, u64::from(narrow)],
    );
}

fn psci_basics() {
    let version = smc(smccc::PSCI_VERSION, &[])[0];
    let on = smc(smccc::PSCI_FEATURES, &[u64::from(smccc::PSCI_CPU_ON_64)])[0];
    let bogus = smc(smccc::PSCI_FEATURES, &[0x8400_00ff])[0];
    report(
        case::PSCI_VERSION,
        version == smccc::PSCI_VERSION_1_1 && on == 0 && bogus == PsciError::NotSupported.reg(),
        &[version, on, bogus],
    );
}

/// The virtual timer armed far in the future with its interrupt masked;
/// the host checks what the exit reports.
fn timer() {
    let cval = read_sysreg!("cntvct_el0") + (1 << 40);
    write_sysreg!("cntv_cval_el0", cval);
    write_sysreg!("cntv_ctl_el0", 0b11);
    isb();
    host_call(imm::TIMER, &[cval]);
    write_sysreg!("cntv_ctl_el0", 0);
    isb();
}

fn fp() {
    let buf = host_call_buf();
    write_word(buf, 0, u64::from(imm::FP));
    for i in 1..32 {
        write_word(buf, i, 0);
    }
    // Twice in a row: the host makes the REC_ENTER after the first one in
    // Streaming SVE mode and the one after the second with the SVE hint, so
    // each of its ways of entering covers a run that writes V0-V31 here.
    let (status, mismatch) = rt::fp_host_call(buf as u64);
    let (status2, mismatch2) = rt::fp_host_call(buf as u64);
    report(
        case::FP_PRESERVED,
        status == rsi::SUCCESS && mismatch == 0 && status2 == rsi::SUCCESS && mismatch2 == 0,
        &[status, mismatch, status2, mismatch2],
    );
}

fn virtual_irq() {
    write_sysreg!("icc_sre_el1", read_sysreg!("icc_sre_el1") | 1);
    isb();
    let sre = read_sysreg!("icc_sre_el1") & 1;
    write_sysreg!("icc_pmr_el1", 0xff);
    write_sysreg!("icc_ctlr_el1", 0);
    write_sysreg!("icc_igrpen1_el1", 1);
    isb();
    rt::IRQ_TAKEN.store(0, Ordering::Relaxed);
    host_call(imm::IRQ, &[rampart_guest::VIRQ_INTID]);
    rt::irq_unmask();
    for _ in 0..1_000_000 {
        if rt::IRQ_TAKEN.load(Ordering::Relaxed) != 0 {
            break;
        }
        core::hint::spin_loop();
    }
    rt::irq_mask();
    let taken = rt::IRQ_TAKEN.load(Ordering::Relaxed);
    report(
        case::VIRTUAL_IRQ,
        sre == 1 && taken == rampart_guest::VIRQ_INTID,
        &[sre, taken],
    );
}

/// A WFI at R-EL1, with the host not asking the RMM to trap WFI, waits
/// without trapping to EL3 (SCR_EL3.TWI clear for the Realm world). The
/// host arms its EL2 timer a few ms ahead; its interrupt, physical and
/// routed to R-EL2, ends the REC's run with an IRQ exit, and the host
/// enters the REC again after the WFI. Nothing is pending when the WFI
/// runs, so it really waits (QEMU traps only a WFI that would sleep). Had
/// EL3 trapped it, root would have answered with an UNDEFINED exception
/// here at R-EL1.
fn wfi() {
    host_call(imm::WFI, &[1]);
    let undef = rt::wfi_catching_undef();
    host_call(imm::WFI, &[0]);
    report(case::WFI, undef.is_none(), &[undef.unwrap_or(0)]);
}

/// PSCI for REC 1: a CPU_ON the host denies, one it grants, AFFINITY_INFO
/// while REC 1 runs, CPU_ON again (ALREADY_ON), then REC 1's CPU_OFF.
fn secondary() {
    let entry = rt::secondary_entry();
    let target = 1;
    let cpu_on = || {
        smc(
            smccc::PSCI_CPU_ON_64,
            &[target, entry, rampart_guest::CPU_ON_CONTEXT],
        )[0]
    };
    let affinity = |level: u64| smc(smccc::PSCI_AFFINITY_INFO_64, &[target, level])[0];

    let denied = cpu_on();
    report(
        case::CPU_ON_DENIED,
        denied == PsciError::Denied.reg(),
        &[denied],
    );
    let on = cpu_on();
    let mut started = false;
    if on == 0 {
        for _ in 0..WAIT_ROUNDS {
            if REC1_STARTED.load(Ordering::Acquire) {
                started = true;
                break;
            }
            yield_to_host();
        }
    }
    report(case::CPU_ON, on == 0 && started, &[on, u64::from(started)]);

    let while_on = affinity(0);
    let again = cpu_on();
    report(
        case::CPU_ON_ALREADY_ON,
        again == PsciError::AlreadyOn.reg(),
        &[again],
    );
    REC1_GO_OFF.store(true, Ordering::Release);
    let mut off = false;
    for _ in 0..WAIT_ROUNDS {
        yield_to_host();
        if affinity(0) == 1 {
            off = true;
            break;
        }
    }
    let bad_level = affinity(1);
    report(
        case::AFFINITY_INFO,
        started && while_on == 0 && off && bad_level == PsciError::InvalidParameters.reg(),
        &[while_on, u64::from(off), bad_level],
    );
}

// ---- REC 1 ----

#[unsafe(no_mangle)]
extern "C" fn guest_secondary_main(context: u64) -> ! {
    rt::enable_mmu();
    let mpidr = rampart_arch::mpidr();
    say!("hello from REC {}", mpidr & 0xff);
    report(
        case::SECONDARY_ENTRY,
        context == rampart_guest::CPU_ON_CONTEXT && mpidr & 0xff_00ff_ffff == 1,
        &[context, mpidr],
    );
    REC1_STARTED.store(true, Ordering::Release);
    for _ in 0..WAIT_ROUNDS {
        if REC1_GO_OFF.load(Ordering::Acquire) {
            break;
        }
        yield_to_host();
    }
    say!("REC 1 off");
    smc(smccc::PSCI_CPU_OFF, &[]);
    say!("CPU_OFF returned");
    fatal(0, 0, 0)
}
