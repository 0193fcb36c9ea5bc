//! Root's attestation service (`rampart_attest::platform`) against TF-A's
//! RMM-EL3 comms spec (RMM_ATTEST_GET_REALM_KEY, RMM_ATTEST_GET_PLAT_TOKEN):
//! every failure condition in the spec's order, the key handed over, the
//! platform token in one hunk and in many, and the token itself (signature,
//! claims of RMM spec 1.0 A7.2.3.2).

use coset::cbor::value::Value;
use coset::{CborSerializable, CoseSign1, TaggedCborSerializable};
use rampart_attest::keys::{self, Purpose};
use rampart_attest::p384::ecdsa::signature::Verifier;
use rampart_attest::p384::ecdsa::{Signature, VerifyingKey};
use rampart_attest::platform::{
    self, ECC_SECP384R1, El3Attestation, Measurement, PlatTokenReply, PlatformAttestation,
    REALM_KEY_SIZE, RealmKeyReply, SharedBuffer, UNSIGNED_SIGNER_ID,
};
use rampart_attest::token::{self, label};
use rampart_board::{AttestationSource, BoardInfo};
use rampart_board_host::{BOARD, DEVELOPMENT_ATTESTATION_SECRET, PLATFORM_IDENTITY};
use rampart_ipc::rmm_el3::RmmEl3Status::{self, Again, BadAddr, Inval, Ok as Done, Unknown};
use sha2::{Digest, Sha256};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

const PAGE: usize = 4096;
const PA: u64 = BOARD.rmm_shared_page;

fn root_image() -> Measurement {
    Measurement::of(platform::ROOT_COMPONENT, "0.1.0", b"root image bytes")
}

fn rmm_image() -> Measurement {
    Measurement::of(platform::RMM_COMPONENT, "0.1.0", b"rmm image bytes")
}

type Service = El3Attestation<PlatformAttestation>;

fn service() -> Service {
    PlatformAttestation::for_board(&BOARD, root_image(), rmm_image())
        .expect("host board")
        .into_service()
}

/// The shared page as the RMM sees it.
struct Page(Vec<u8>);

impl Page {
    fn new() -> Self {
        Self(vec![0; PAGE])
    }

    fn buffer<'a>(&'a mut self) -> impl FnOnce() -> SharedBuffer<'a> {
        move || SharedBuffer::new(PA, &mut self.0)
    }

    fn at(&mut self, pa: u64, len: usize) -> &mut [u8] {
        let offset = (pa - PA) as usize;
        &mut self.0[offset..offset + len]
    }

    fn key(&mut self, s: &Service, pa: u64, size: u64, curve: u64) -> RealmKeyReply {
        s.get_realm_key(self.buffer(), pa, size, curve)
    }

    fn token(&mut self, s: &Service, pa: u64, size: u64, c_size: u64) -> PlatTokenReply {
        s.get_plat_token(self.buffer(), pa, size, c_size)
    }

    /// Puts `challenge` at `pa` and starts a token there.
    fn start(&mut self, s: &Service, pa: u64, size: u64, challenge: &[u8]) -> PlatTokenReply {
        self.at(pa, challenge.len()).copy_from_slice(challenge);
        self.token(s, pa, size, challenge.len() as u64)
    }
}

fn status(r: PlatTokenReply) -> RmmEl3Status {
    r.status
}

/// A whole token in one call: the page's last `size` bytes hold the buffer.
fn whole_token(s: &Service, challenge: &[u8]) -> Vec<u8> {
    let mut page = Page::new();
    let reply = page.start(s, PA, PAGE as u64, challenge);
    assert_eq!(reply.status, Done);
    assert_eq!(reply.remaining, 0);
    page.at(PA, reply.hunk_size as usize).to_vec()
}

// ---- RMM_ATTEST_GET_REALM_KEY ----

#[test]
fn realm_key_failure_conditions_in_order() {
    let s = service();
    let mut page = Page::new();
    let end = PA + PAGE as u64;
    // BAD_ADDR: PA outside the shared buffer (below, one past, far away),
    // whatever else is wrong.
    for pa in [PA - 1, end, 0, u64::MAX] {
        assert_eq!(page.key(&s, pa, 48, 7).status, BadAddr, "{pa:#x}");
    }
    // INVAL: PA + size outside (also on overflow), before the curve check.
    assert_eq!(page.key(&s, end - 47, 48, ECC_SECP384R1).status, Inval);
    assert_eq!(
        page.key(&s, PA, PAGE as u64 + 1, ECC_SECP384R1).status,
        Inval
    );
    assert_eq!(page.key(&s, PA + 8, u64::MAX, ECC_SECP384R1).status, Inval);
    assert_eq!(page.key(&s, end - 1, 2, 1).status, Inval);
    // INVAL: a curve the spec does not list, before the size check (UNK).
    for curve in [1, 2, u64::MAX] {
        assert_eq!(page.key(&s, PA, 8, curve).status, Inval);
    }
    // UNK: the buffer cannot hold the key.
    assert_eq!(
        page.key(&s, PA, REALM_KEY_SIZE as u64 - 1, ECC_SECP384R1)
            .status,
        Unknown
    );
    assert_eq!(page.key(&s, end, 0, ECC_SECP384R1).status, BadAddr);
    // Nothing was written by any of them.
    assert!(page.0.iter().all(|&b| b == 0));
}

#[test]
fn realm_key_is_the_rak_scalar_bound_to_the_rmm() {
    let s = service();
    let mut page = Page::new();
    page.0.fill(0xee);
    let at = PA + 0x100;
    let reply = page.key(&s, at, 0x200, ECC_SECP384R1);
    assert_eq!(reply.status, Done);
    assert_eq!(reply.key_size, 48);
    assert_eq!(reply.regs(), [0, 48]);
    let expected = keys::derive(
        &DEVELOPMENT_ATTESTATION_SECRET,
        Purpose::Rak,
        &rmm_image().sha256,
    );
    assert_eq!(page.at(at, 48), expected.to_bytes().as_slice());
    // Only the key's 48 bytes were written.
    assert!(page.0[..0x100].iter().all(|&b| b == 0xee));
    assert!(page.0[0x100 + 48..].iter().all(|&b| b == 0xee));

    // The key leaves root once: a second request finds nothing.
    let before = page.0.clone();
    let again = page.key(&s, PA, 48, ECC_SECP384R1);
    assert_eq!(again.status, Unknown);
    assert_eq!(page.0, before, "nothing written");

    // Exactly at the end of the buffer works too.
    let last = PA + (PAGE - 48) as u64;
    let s3 = service();
    assert_eq!(page.key(&s3, last, 48, ECC_SECP384R1).status, Done);
    assert_eq!(page.at(last, 48), expected.to_bytes().as_slice());

    // Another RMM image gets another key; the CPAK does not change.
    let other = Measurement::of(platform::RMM_COMPONENT, "0.1.0", b"another rmm");
    let s2 = PlatformAttestation::for_board(&BOARD, root_image(), other)
        .unwrap()
        .into_service();
    assert_eq!(page.key(&s2, PA, 48, ECC_SECP384R1).status, Done);
    assert_ne!(page.at(PA, 48), expected.to_bytes().as_slice());
    assert_eq!(s2.cpak_public(), s.cpak_public());
    // And is no other purpose's key.
    let cpak = keys::derive(&DEVELOPMENT_ATTESTATION_SECRET, Purpose::Cpak, &[]);
    assert_ne!(expected.to_bytes(), cpak.to_bytes());
}

// ---- RMM_ATTEST_GET_PLAT_TOKEN: failures ----

#[test]
fn plat_token_is_busy_before_any_other_check() {
    let s = service();
    let mut page = Page::new();
    let mut inner = None;
    // The outer call holds the service while it asks for the buffer; a
    // call from "another CPU" then must be told to retry.
    let outer = s.get_plat_token(
        || {
            let busy = |pa, size, c| s.get_plat_token(|| unreachable!("busy"), pa, size, c);
            inner = Some([
                busy(PA, 64, 32),
                busy(PA - 1, 64, 32),
                busy(PA, u64::MAX, 0),
                busy(PA, 64, 31),
            ]);
            SharedBuffer::new(PA, &mut page.0)
        },
        PA,
        64,
        32,
    );
    assert_eq!(outer.status, Done);
    for reply in inner.unwrap() {
        assert_eq!(reply, PlatTokenReply::error(Again));
        assert_eq!(reply.regs()[0], (-6i64) as u64);
    }
    // The key call waits for the service instead (it has no AGAIN), so it
    // is not tried here; the token the outer call started continues.
    assert_eq!(page.token(&s, PA, PAGE as u64, 0).status, Done);
}

#[test]
fn plat_token_failure_conditions_in_order() {
    let s = service();
    let mut page = Page::new();
    let end = PA + PAGE as u64;
    // BAD_ADDR before every INVAL.
    for pa in [PA - 1, end, 0, u64::MAX] {
        assert_eq!(status(page.token(&s, pa, u64::MAX, 33)), BadAddr);
    }
    // INVAL: PA + size outside the buffer (and overflow).
    assert_eq!(status(page.token(&s, end - 31, 32, 32)), Inval);
    assert_eq!(status(page.token(&s, PA + 1, PAGE as u64, 32)), Inval);
    assert_eq!(status(page.token(&s, PA, u64::MAX, 32)), Inval);
    // INVAL: first-call c_size not a SHA-256/384/512 size.
    for c_size in [31, 33, 47, 49, 63, 65, 16, 128, u64::MAX] {
        assert_eq!(status(page.token(&s, PA, 256, c_size)), Inval, "{c_size}");
    }
    // INVAL: c_size 0 with no token in progress.
    assert_eq!(status(page.token(&s, PA, 256, 0)), Inval);
    // INVAL: the challenge does not fit the caller's buffer.
    assert_eq!(status(page.token(&s, PA, 47, 48)), Inval);
    assert_eq!(status(page.token(&s, PA, 0, 32)), Inval);
    // None of them wrote anything or started a token.
    assert!(page.0.iter().all(|&b| b == 0));
    assert_eq!(status(page.token(&s, PA, 256, 0)), Inval);
    // Each size the spec allows starts one.
    for c_size in platform::CHALLENGE_SIZES {
        assert_eq!(status(page.token(&s, PA, 8, c_size)), Inval);
        let reply = page.token(&s, PA, 64, c_size);
        assert_eq!(reply.status, Done, "{c_size}");
        assert_eq!(reply.hunk_size, 64);
        assert!(reply.remaining > 0);
    }
}

#[test]
fn plat_token_follow_up_calls() {
    let s = service();
    let challenge = [0x5a; 48];
    let whole = whole_token(&s, &challenge);
    let mut page = Page::new();
    let first = page.start(&s, PA, 100, &challenge);
    assert_eq!(first.status, Done);
    assert_eq!(first.hunk_size, 100);
    assert_eq!(first.remaining, whole.len() as u64 - 100);
    let mut got = page.at(PA, 100).to_vec();

    // A non-zero c_size that is not a SHA size on a follow-up call: INVAL,
    // and the token in progress carries on where it was.
    for c_size in [1, 33, 65] {
        assert_eq!(status(page.token(&s, PA, 100, c_size)), Inval);
    }
    // So do calls that fail the address checks.
    assert_eq!(status(page.token(&s, PA - 1, 100, 0)), BadAddr);
    assert_eq!(status(page.token(&s, PA + PAGE as u64 - 10, 100, 0)), Inval);
    let next = page.token(&s, PA + 0x800, 100, 0);
    assert_eq!(next.status, Done);
    got.extend_from_slice(page.at(PA + 0x800, next.hunk_size as usize));
    assert_eq!(got, whole[..200]);

    // A zero-sized buffer moves nothing.
    let none = page.token(&s, PA, 0, 0);
    assert_eq!((none.status, none.hunk_size), (Done, 0));
    assert_eq!(none.remaining, whole.len() as u64 - 200);

    // The rest in one call; then no token is in progress any more.
    let rest = page.token(&s, PA, PAGE as u64, 0);
    assert_eq!((rest.status, rest.remaining), (Done, 0));
    assert_eq!(rest.hunk_size, whole.len() as u64 - 200);
    got.extend_from_slice(page.at(PA, rest.hunk_size as usize));
    assert_eq!(got, whole);
    assert_eq!(status(page.token(&s, PA, PAGE as u64, 0)), Inval);
}

// ---- RMM_ATTEST_GET_PLAT_TOKEN: the token ----

#[test]
fn token_in_one_hunk_and_in_many_is_the_same() {
    let s = service();
    let challenge: Vec<u8> = (0..64).collect();
    let whole = whole_token(&s, &challenge);
    for hunk in [1usize, 7, 64, 100, whole.len() - 1] {
        let mut page = Page::new();
        // The buffer must hold the challenge on the first call.
        let first_size = hunk.max(64);
        let mut reply = page.start(&s, PA, first_size as u64, &challenge);
        let mut got = Vec::new();
        let mut at = PA;
        loop {
            assert_eq!(reply.status, Done);
            got.extend_from_slice(page.at(at, reply.hunk_size as usize));
            assert_eq!(got.len() as u64 + reply.remaining, whole.len() as u64);
            if reply.remaining == 0 {
                break;
            }
            // Follow-ups wander over the page, as any RMM may.
            at = PA + (at - PA + 0x123) % (PAGE as u64 - hunk as u64);
            reply = page.token(&s, at, hunk as u64, 0);
            assert!(reply.hunk_size as usize <= hunk);
        }
        assert_eq!(got, whole, "hunks of {hunk}");
    }
}

#[test]
fn a_new_challenge_regenerates_the_token() {
    let s = service();
    let (a, b) = ([0xaa; 32], [0xbb; 64]);
    let (whole_a, whole_b) = (whole_token(&s, &a), whole_token(&s, &b));
    assert_ne!(whole_a, whole_b);
    let mut page = Page::new();
    assert_eq!(page.start(&s, PA, 64, &a).status, Done);
    assert_eq!(page.token(&s, PA, 64, 0).status, Done);
    // Mid-way, a first call with another challenge restarts from the start.
    let restart = page.start(&s, PA, 128, &b);
    assert_eq!(restart.status, Done);
    assert_eq!(restart.remaining, whole_b.len() as u64 - 128);
    assert_eq!(page.at(PA, 128), &whole_b[..128]);
    // The same challenge again also restarts.
    let again = page.start(&s, PA, 128, &b);
    assert_eq!(again.remaining, whole_b.len() as u64 - 128);
    let rest = page.token(&s, PA, PAGE as u64, 0);
    assert_eq!(rest.remaining, 0);
    assert_eq!(page.at(PA, rest.hunk_size as usize), &whole_b[128..]);
    // Regenerated tokens with one challenge are byte-identical (ES384 with
    // RFC 6979 nonces), so a verifier sees one token per challenge.
    assert_eq!(whole_token(&s, &a), whole_a);
}

fn claims_of(token: &[u8], cpak: &VerifyingKey) -> Vec<(Value, Value)> {
    let sign1 = CoseSign1::from_tagged_slice(token).expect("tagged COSE_Sign1");
    assert_eq!(
        sign1.protected.header.alg,
        Some(coset::RegisteredLabelWithPrivate::Assigned(
            coset::iana::Algorithm::ES384
        ))
    );
    sign1
        .verify_signature(&[], |sig, tbs| {
            let sig = Signature::from_slice(sig).map_err(|_| "signature encoding")?;
            cpak.verify(tbs, &sig).map_err(|_| "bad signature")
        })
        .expect("signed with the CPAK");
    match Value::from_slice(sign1.payload.as_deref().expect("payload")).unwrap() {
        Value::Map(map) => map,
        other => panic!("claims are not a map: {other:?}"),
    }
}

fn claim(map: &[(Value, Value)], key: i64) -> Option<&Value> {
    map.iter()
        .find(|(k, _)| *k == Value::Integer(key.into()))
        .map(|(_, v)| v)
}

fn bytes(v: Option<&Value>) -> &[u8] {
    match v {
        Some(Value::Bytes(b)) => b,
        other => panic!("not bytes: {other:?}"),
    }
}

fn text(v: Option<&Value>) -> &str {
    match v {
        Some(Value::Text(t)) => t,
        other => panic!("not text: {other:?}"),
    }
}

#[test]
fn the_token_verifies_and_carries_the_platform_claims() {
    let s = service();
    let challenge = [0x3c; 32];
    let token = whole_token(&s, &challenge);
    let cpak = platform::development_cpak_public(&BOARD).unwrap();
    assert_eq!(cpak, s.cpak_public());
    let map = claims_of(&token, &cpak);

    let wrong = keys::derive(b"another secret", Purpose::Cpak, &[]);
    let sign1 = CoseSign1::from_tagged_slice(&token).unwrap();
    assert!(
        sign1
            .verify_signature(&[], |sig, tbs| {
                let sig = Signature::from_slice(sig).map_err(|_| ())?;
                wrong.verifying_key().verify(tbs, &sig).map_err(|_| ())
            })
            .is_err()
    );

    assert_eq!(text(claim(&map, label::PROFILE)), token::PLATFORM_PROFILE);
    assert_eq!(bytes(claim(&map, label::CHALLENGE)), challenge);
    assert_eq!(
        bytes(claim(&map, label::IMPLEMENTATION_ID)),
        PLATFORM_IDENTITY.implementation_id
    );
    let mut instance_id = vec![0x01];
    instance_id.extend_from_slice(&Sha256::digest(cpak.to_sec1_point(false).as_bytes()));
    assert_eq!(bytes(claim(&map, label::INSTANCE_ID)), instance_id);
    assert_eq!(s.instance_id().as_slice(), instance_id);
    assert_eq!(platform::instance_id(&cpak).as_slice(), instance_id);
    assert_eq!(bytes(claim(&map, label::CONFIG)), PLATFORM_IDENTITY.config);
    assert_eq!(
        claim(&map, label::LIFECYCLE),
        Some(&Value::Integer(PLATFORM_IDENTITY.lifecycle.into()))
    );
    assert_eq!(
        text(claim(&map, label::VERIFICATION_SERVICE)),
        PLATFORM_IDENTITY.verification_service.unwrap()
    );
    assert_eq!(text(claim(&map, label::PLATFORM_HASH_ALGO)), "sha-256");

    let Some(Value::Array(components)) = claim(&map, label::SW_COMPONENTS) else {
        panic!("no software components");
    };
    assert_eq!(components.len(), 2);
    for (component, expected) in components.iter().zip([root_image(), rmm_image()]) {
        let Value::Map(c) = component else {
            panic!("component is not a map");
        };
        assert_eq!(text(claim(c, label::SW_TYPE)), expected.kind);
        assert_eq!(bytes(claim(c, label::SW_MEASUREMENT)), expected.sha256);
        assert_eq!(text(claim(c, label::SW_VERSION)), expected.version);
        assert_eq!(bytes(claim(c, label::SW_SIGNER_ID)), UNSIGNED_SIGNER_ID);
        assert_eq!(text(claim(c, label::SW_HASH_ALGO)), "sha-256");
    }
    assert_eq!(s.components(), &[root_image(), rmm_image()]);
    assert_eq!(
        root_image().sha256,
        <[u8; 32]>::from(Sha256::digest(b"root image bytes"))
    );
    assert_eq!(map.len(), 9);
}

#[test]
fn boards_have_their_own_platform_keys() {
    let qemu = &rampart_board_qemu_virt::BOARD;
    let qemu_cpak = platform::development_cpak_public(qemu).unwrap();
    assert_ne!(
        qemu_cpak,
        platform::development_cpak_public(&BOARD).unwrap()
    );
    let s = PlatformAttestation::for_board(qemu, root_image(), rmm_image())
        .unwrap()
        .into_service();
    assert_eq!(s.cpak_public(), qemu_cpak);
    let token = whole_token(&s, &[1; 48]);
    let map = claims_of(&token, &qemu_cpak);
    assert_eq!(bytes(claim(&map, label::CHALLENGE)), [1; 48]);

    // A board without an attestation source has no service and no key.
    let none = BoardInfo {
        attestation: AttestationSource::None,
        ..BOARD
    };
    assert!(PlatformAttestation::for_board(&none, root_image(), rmm_image()).is_none());
    assert!(platform::development_cpak_public(&none).is_none());
}

#[test]
fn no_verification_service_claim_when_the_board_has_none() {
    let AttestationSource::DevelopmentSecret(mut dev) = BOARD.attestation else {
        panic!("host board has a development secret");
    };
    dev.identity.verification_service = None;
    let s = PlatformAttestation::new(dev.secret, dev.identity, root_image(), rmm_image())
        .into_service();
    let map = claims_of(&whole_token(&s, &[2; 32]), &s.cpak_public());
    assert!(claim(&map, label::VERIFICATION_SERVICE).is_none());
    assert_eq!(map.len(), 8);
}

#[test]
fn concurrent_callers_get_whole_tokens_or_again() {
    let s = service();
    let cpak = s.cpak_public();
    std::thread::scope(|scope| {
        for cpu in 0..4u8 {
            let s = &s;
            scope.spawn(move || {
                // Each "CPU" has its own copy of the page: the RMM keeps
                // CPUs off each other's use of the real one.
                let mut page = Page::new();
                for round in 0..3u8 {
                    let challenge = [cpu * 16 + round; 32];
                    let reply = loop {
                        let r = page.start(s, PA, PAGE as u64, &challenge);
                        if r.status != Again {
                            break r;
                        }
                        std::thread::yield_now();
                    };
                    assert_eq!((reply.status, reply.remaining), (Done, 0));
                    let token = page.at(PA, reply.hunk_size as usize).to_vec();
                    let map = claims_of(&token, &cpak);
                    assert_eq!(bytes(claim(&map, label::CHALLENGE)), challenge);
                }
            });
        }
    });
}

// ---- Heap use, which sizes root's heap ----

/// Counts this thread's heap bytes in use and their peak (tests run in
/// parallel threads; each measures only itself).
struct Counting;

thread_local! {
    static IN_USE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = IN_USE.try_with(|u| {
            u.set(u.get() + layout.size());
            let _ = PEAK.try_with(|p| p.set(p.get().max(u.get())));
        });
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = IN_USE.try_with(|u| u.set(u.get().saturating_sub(layout.size())));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[test]
fn building_a_token_needs_a_few_kilobytes_of_heap() {
    let s = service();
    let mut page = Page::new();
    let base = IN_USE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    // The largest challenge, handed out in small hunks (the token stays
    // allocated until its last hunk).
    let first = page.start(&s, PA, 64, &[0x77; 64]);
    let held = IN_USE.with(Cell::get) - base;
    assert!(held as u64 >= first.hunk_size + first.remaining);
    while page.token(&s, PA, 64, 0).remaining > 0 {}
    let peak = PEAK.with(Cell::get) - base;
    assert_eq!(IN_USE.with(Cell::get), base, "the finished token is freed");
    println!(
        "platform token: {} bytes ({held} held while handed out); heap peak {peak} bytes",
        first.hunk_size + first.remaining
    );
    // Root's heap is sized from this (kernel/root/src/attest.rs); an
    // allocator's per-block overhead comes on top.
    assert!(peak < 12 * 1024, "peak {peak}");
}
