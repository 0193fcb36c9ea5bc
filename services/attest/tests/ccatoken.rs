//! Tokens built by this crate, checked by a verifier nobody here wrote:
//! Veraison's `ccatoken` (crates.io). It implements the CCA-SSD draft
//! profile (RAK as a SEC1 point), so the tokens here use
//! [`Profile::Draft`]; the 1.0 profile differs only in the profile claims
//! and the RAK claim's encoding (checked in `profile.rs`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ccatoken::store::{ITrustAnchorStore, MemoTrustAnchorStore};
use ccatoken::token::Evidence;
use rampart_attest::keys::{self, Purpose};
use rampart_attest::p384::ecdsa::SigningKey;
use rampart_attest::token::{self, PlatformClaims, Profile, RealmClaims, SwComponent};

struct Fixture {
    cpak: SigningKey,
    rak: SigningKey,
    instance_id: [u8; 33],
}

fn fixture() -> Fixture {
    let cpak = keys::derive(b"test platform secret", Purpose::Cpak, &[]);
    let rak = keys::derive(b"test platform secret", Purpose::Rak, b"rmm image");
    let instance_id = rampart_attest::platform::instance_id(cpak.verifying_key());
    Fixture {
        cpak,
        rak,
        instance_id,
    }
}

fn build(f: &Fixture, challenge_override: Option<[u8; 32]>, rim: &[u8]) -> Vec<u8> {
    let rak_claim = token::rak_public_claim(f.rak.verifying_key(), Profile::Draft).unwrap();
    let challenge = challenge_override.unwrap_or(token::rak_hash(&rak_claim));
    let bl31 = [0x11u8; 32];
    let rmm = [0x22u8; 32];
    let signer = [0x33u8; 32];
    let components = [
        SwComponent {
            kind: "BL31",
            measurement: &bl31,
            version: "0.1.0",
            signer_id: &signer,
            hash_algo: token::SHA_256,
        },
        SwComponent {
            kind: "RMM",
            measurement: &rmm,
            version: "0.1.0",
            signer_id: &signer,
            hash_algo: token::SHA_256,
        },
    ];
    let platform = PlatformClaims {
        profile: Profile::Draft,
        challenge: &challenge,
        implementation_id: &[0x7au8; 32],
        instance_id: &f.instance_id,
        config: &[0xcf, 0x01],
        lifecycle: 0x3000,
        sw_components: &components,
        verification_service: Some("http://localhost/rampart-dev"),
        hash_algo: token::SHA_256,
    };
    let platform_token = token::sign1(token::platform_claims(&platform).unwrap(), &f.cpak).unwrap();
    let zero = [0u8; 32];
    let realm = RealmClaims {
        profile: Profile::Draft,
        challenge: &[0xab; 64],
        personalization_value: &[0xcd; 64],
        hash_algo: token::SHA_256,
        rim,
        rems: [&zero, &zero, &zero, &zero],
        rak_public: &rak_claim,
        rak_hash_algo: token::RAK_HASH_ALGO,
    };
    let realm_token = token::sign1(token::realm_claims(&realm).unwrap(), &f.rak).unwrap();
    token::cca_token(&platform_token, &realm_token).unwrap()
}

/// A trust anchor store holding the fixture's CPAK as a JWK.
fn trust_anchors(f: &Fixture) -> MemoTrustAnchorStore {
    let point = f.cpak.verifying_key().to_sec1_point(false);
    let json = format!(
        r#"[{{"instance-id":"{}","implementation-id":"{}","pkey":{{"kty":"EC","crv":"P-384","x":"{}","y":"{}"}}}}]"#,
        hex::encode(f.instance_id),
        hex::encode([0x7au8; 32]),
        URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    );
    let mut store = MemoTrustAnchorStore::new();
    store.load_json(&json).expect("trust anchor");
    store
}

#[test]
fn ccatoken_decodes_verifies_and_binds_our_token() {
    let f = fixture();
    let rim = [0x5au8; 32];
    let bytes = build(&f, None, &rim);
    let mut evidence = Evidence::decode(&bytes).expect("ccatoken decodes the token");
    assert_eq!(evidence.realm_claims.challenge, [0xab; 64]);
    assert_eq!(evidence.realm_claims.perso, [0xcd; 64]);
    assert_eq!(evidence.realm_claims.rim, rim);
    assert_eq!(evidence.realm_claims.hash_alg, "sha-256");
    assert_eq!(evidence.platform_claims.inst_id, f.instance_id);
    assert_eq!(evidence.platform_claims.sw_components.len(), 2);

    let store = trust_anchors(&f);
    let cpak = store.lookup(&f.instance_id).expect("anchor");
    evidence
        .verify_with_cpak(cpak)
        .expect("platform and realm signatures verify");
    let (platform, realm) = evidence.get_trust_vectors();
    assert_eq!(
        platform.instance_identity.get(),
        ear::claim::TRUSTWORTHY_INSTANCE
    );
    assert_eq!(
        realm.instance_identity.get(),
        ear::claim::TRUSTWORTHY_INSTANCE
    );
}

#[test]
fn ccatoken_rejects_a_token_signed_by_another_platform() {
    let f = fixture();
    let bytes = build(&f, None, &[0x5a; 32]);
    let mut evidence = Evidence::decode(&bytes).unwrap();
    let other = Fixture {
        cpak: keys::derive(b"another platform", Purpose::Cpak, &[]),
        ..fixture()
    };
    let cpak = trust_anchors(&other).lookup(&f.instance_id).unwrap();
    assert!(evidence.verify_with_cpak(cpak).is_err());
}

#[test]
fn ccatoken_flags_an_unbound_realm_key() {
    let f = fixture();
    let bytes = build(&f, Some([0u8; 32]), &[0x5a; 32]);
    let mut evidence = Evidence::decode(&bytes).unwrap();
    let cpak = trust_anchors(&f).lookup(&f.instance_id).unwrap();
    // Both signatures are good; the binding is not. (ccatoken marks every
    // realm tier but then overwrites instance-identity, so look at another.)
    let _ = evidence.verify_with_cpak(cpak);
    let (_, realm) = evidence.get_trust_vectors();
    assert_eq!(
        realm.executables.get(),
        ear::claim::CRYPTO_VALIDATION_FAILED
    );
}
