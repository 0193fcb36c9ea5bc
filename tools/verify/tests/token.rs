//! Token verification: good tokens of both profiles verify and decode;
//! every malformation is rejected with its own error; no input panics.
//!
//! Tokens made by the firmware's own code (`rampart-attest`) can be fed
//! through the same path: `rampart_verify::verify_token(&token, &cpak)`
//! then `check_challenge` / `check_rim` (see `verify_as_relying_party`
//! below), with the CPAK the platform side signs with.

mod support;

use ciborium::Value;
use coset::iana;
use rampart_verify::token::{Part, Profile, TokenError, label};
use rampart_verify::{VerifiedToken, verify_token};
use support::*;

/// What a relying party does with a token: verify it, then check the
/// values it expects.
pub fn verify_as_relying_party(
    token: &[u8],
    cpak: &p384::ecdsa::VerifyingKey,
    challenge: &[u8],
    rim: Option<&[u8]>,
) -> Result<VerifiedToken, TokenError> {
    let verified = verify_token(token, cpak)?;
    verified.check_challenge(challenge)?;
    if let Some(rim) = rim {
        verified.check_rim(rim)?;
    }
    Ok(verified)
}

fn verify(builder: &TokenBuilder) -> Result<VerifiedToken, TokenError> {
    verify_token(&builder.build(), cpak().verifying_key())
}

/// The error's message, which must contain `want`.
#[track_caller]
fn rejects(builder: TokenBuilder, want: &str) -> TokenError {
    let err = verify(&builder).expect_err(want);
    let message = err.to_string();
    assert!(message.contains(want), "expected {want:?} in {message:?}");
    err
}

const REALM: bool = true;
const PLATFORM: bool = false;

// ---- good tokens ---------------------------------------------------------------

#[test]
fn spec_profile_token_verifies_and_decodes() {
    let builder = TokenBuilder::spec();
    let token = verify(&builder).unwrap();
    assert_eq!(token.profile, Profile::Cca1_0);
    let r = &token.realm;
    assert_eq!(r.challenge, CHALLENGE);
    assert_eq!(r.personalization_value, RPV);
    assert_eq!(r.profile.as_deref(), Some("tag:arm.com,2023:realm#1.0.0"));
    assert_eq!(r.hash_algo_id, "sha-256");
    assert_eq!(r.rim, vec![0x1d; 32]);
    assert_eq!(r.rems, (1..=4).map(|i| vec![i; 32]).collect::<Vec<_>>());
    assert_eq!(r.public_key, *builder.rak.verifying_key());
    assert_eq!(r.public_key_claim, builder.rak_claim());
    assert!(r.other_claims.is_empty());
    let p = &token.platform;
    assert_eq!(p.profile, "tag:arm.com,2023:cca_platform#1.0.0");
    assert_eq!(p.challenge, hash("sha-256", &builder.rak_claim()));
    assert_eq!(p.implementation_id, [0xaa; 32]);
    assert_eq!(p.instance_id[0], 1);
    assert_eq!(p.config, vec![0xcf; 4]);
    assert_eq!(p.lifecycle, 0x3000);
    assert_eq!(p.hash_algo_id, "sha-256");
    assert_eq!(
        p.verification_service.as_deref(),
        Some("https://verifier.example")
    );
    assert_eq!(p.sw_components.len(), 2);
    assert_eq!(p.sw_components[0].component_type.as_deref(), Some("BL2"));
    assert_eq!(p.sw_components[0].measurement, vec![0x21; 32]);
    assert_eq!(p.sw_components[1].component_type, None);
    assert_eq!(p.sw_components[1].signer_id, vec![0x32; 64]);
}

#[test]
fn ssd_draft_token_verifies_and_decodes() {
    let builder = TokenBuilder::ssd();
    let token = verify(&builder).unwrap();
    assert_eq!(token.profile, Profile::CcaSsdDraft);
    assert_eq!(token.realm.profile, None);
    assert_eq!(token.realm.public_key_claim.len(), 97);
    assert_eq!(token.realm.public_key, *builder.rak.verifying_key());
}

#[test]
fn every_hash_combination_verifies() {
    for variant in [Variant::Spec, Variant::Ssd] {
        for realm_hash in ["sha-256", "sha-384", "sha-512"] {
            for rak_hash in ["sha-256", "sha-384", "sha-512"] {
                let token = verify(&TokenBuilder::new(variant, realm_hash, rak_hash))
                    .unwrap_or_else(|e| panic!("{variant:?} {realm_hash} {rak_hash}: {e}"));
                assert_eq!(token.realm.rim.len(), hash(realm_hash, b"").len());
                assert_eq!(token.platform.challenge.len(), hash(rak_hash, b"").len());
            }
        }
    }
}

#[test]
fn optional_claims_may_be_left_out_and_unknown_ones_are_reported() {
    let builder = TokenBuilder::spec()
        .remove(REALM, label::PROFILE)
        .remove(PLATFORM, label::VERIFICATION_SERVICE)
        .push(REALM, int(44242), bytes(b"future claim"))
        .push(PLATFORM, text("vendor"), int(1));
    let token = verify(&builder).unwrap();
    assert_eq!(token.realm.profile, None);
    assert_eq!(token.platform.verification_service, None);
    assert_eq!(token.realm.other_claims, vec!["44242"]);
    assert_eq!(token.platform.other_claims, vec!["\"vendor\""]);
}

#[test]
fn relying_party_checks() {
    let token = TokenBuilder::spec().build();
    let cpak = cpak();
    let cpak = cpak.verifying_key();
    assert!(verify_as_relying_party(&token, cpak, &CHALLENGE, Some(&[0x1d; 32])).is_ok());
    let wrong = verify_as_relying_party(&token, cpak, &[0xc5; 64], None).unwrap_err();
    assert!(
        wrong
            .to_string()
            .starts_with("realm challenge (claim 10) mismatch: expected c5c5")
    );
    let rim = verify_as_relying_party(&token, cpak, &CHALLENGE, Some(&[0x1d; 31])).unwrap_err();
    assert!(matches!(rim, TokenError::Unexpected { what, .. } if what.starts_with("RIM")));

    // A short challenge is zero-padded, as the realm must do.
    let mut padded = [0u8; 64];
    padded[..32].copy_from_slice(&[0xc4; 32]);
    let token = TokenBuilder::spec()
        .set(REALM, label::CHALLENGE, bytes(&padded))
        .build();
    assert!(verify_as_relying_party(&token, cpak, &[0xc4; 32], None).is_ok());
    let verified = verify_token(&token, cpak).unwrap();
    assert!(verified.check_rpv(&RPV).is_ok());
    assert!(verified.check_rpv(&[0; 64]).is_err());
}

#[test]
fn display_and_json_show_every_claim() {
    let token = verify(&TokenBuilder::spec()).unwrap();
    let shown = token.to_string();
    for want in [
        "Arm CCA 1.0",
        "profile (265):",
        "tag:arm.com,2023:cca_platform#1.0.0",
        "implementation id (2396):",
        &hex::encode([0xaa; 32]),
        "lifecycle (2395):                    0x3000 (secured)",
        "https://verifier.example",
        "[0] type BL2, version 1.0.0, hash algo sha-256",
        "[1] type -, version -, hash algo sha-256",
        &hex::encode([0x32; 64]),
        "personalization value (44235):",
        &hex::encode(RPV),
        "initial measurement (RIM) (44238):",
        &hex::encode([0x1d; 32]),
        "extensible measurement 3 (44239):",
        "public key (RAK, SEC1) (44237):",
        "public key hash algo id (44240):",
    ] {
        assert!(shown.contains(want), "{want:?} missing from\n{shown}");
    }
    let json = serde_json::to_value(&token).unwrap();
    assert_eq!(json["profile"], "cca-1.0");
    assert_eq!(json["realm"]["rim"], hex::encode([0x1d; 32]));
    assert_eq!(json["realm"]["rems"][3], hex::encode([4u8; 32]));
    assert_eq!(json["platform"]["lifecycle"], 0x3000);
    assert_eq!(json["platform"]["sw_components"][0]["version"], "1.0.0");
    assert_eq!(
        json["realm"]["public_key_sec1"],
        hex::encode(
            TokenBuilder::spec()
                .rak
                .verifying_key()
                .to_sec1_point(false)
                .as_bytes()
        )
    );
}

// ---- the collection ------------------------------------------------------------

#[test]
fn not_a_cca_token() {
    let mut b = TokenBuilder::spec();
    b.outer_tag = Some(398);
    rejects(b, "not a CCA token: expected CBOR tag 399, found tag 398");
    let mut b = TokenBuilder::spec();
    b.outer_tag = None;
    rejects(
        b,
        "not a CCA token: expected CBOR tag 399, found a map without a tag",
    );
    // A bare COSE_Sign1 (someone passed the platform token alone).
    let cpak = cpak();
    let err =
        verify_token(&[0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40], cpak.verifying_key()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a CCA token: expected CBOR tag 399, found tag 18"
    );
}

#[test]
fn collection_must_hold_exactly_the_two_tokens() {
    let mut b = TokenBuilder::spec();
    b.omit_realm = true;
    rejects(
        b,
        "CCA token collection: the realm token (key 44241) is missing",
    );
    let mut b = TokenBuilder::spec();
    b.omit_platform = true;
    rejects(
        b,
        "CCA token collection: the platform token (key 44234) is missing",
    );
    let mut b = TokenBuilder::spec();
    b.extra_entries.push((int(44241), bytes(b"again")));
    rejects(b, "key 44241 appears more than once");
    let mut b = TokenBuilder::spec();
    b.extra_entries.push((int(7), bytes(b"")));
    rejects(b, "unexpected key 7");
    let mut b = TokenBuilder::spec();
    b.extra_entries.push((text("x"), bytes(b"")));
    rejects(b, "keys must be integers, got a text string");
    let cpak = cpak();
    let not_bytes = encode(&Value::Tag(
        399,
        Box::new(Value::Map(vec![(int(44234), int(1))])),
    ));
    assert_eq!(
        verify_token(&not_bytes, cpak.verifying_key())
            .unwrap_err()
            .to_string(),
        "CCA token collection: key 44234 must hold a byte string (the token), got an integer"
    );
    let not_map = encode(&Value::Tag(399, Box::new(Value::Array(vec![]))));
    assert!(
        verify_token(&not_map, cpak.verifying_key())
            .unwrap_err()
            .to_string()
            .contains("tag 399 must hold a map, got an array")
    );
}

#[test]
fn trailing_data_is_rejected_at_every_level() {
    let cpak = cpak();
    let mut token = TokenBuilder::spec().build();
    token.push(0x00);
    assert_eq!(
        verify_token(&token, cpak.verifying_key()).unwrap_err(),
        TokenError::TrailingData {
            what: "CCA token".into(),
            extra: 1
        }
    );
    let mut b = TokenBuilder::spec();
    b.platform.trailing = vec![0xf6, 0xf6];
    rejects(b, "platform token: 2 bytes of trailing data");
    let mut b = TokenBuilder::spec();
    let mut payload = encode(&Value::Map(b.realm_claims.clone()));
    payload.push(0x01);
    b.realm.raw_payload = Some(payload);
    rejects(b, "realm token claims: 1 bytes of trailing data");
}

// ---- COSE_Sign1 ------------------------------------------------------------------

#[test]
fn cose_envelope_errors() {
    let mut b = TokenBuilder::spec();
    b.realm.tag = None;
    rejects(
        b,
        "realm token: COSE_Sign1: expected tag 18, found an array without a tag",
    );
    let mut b = TokenBuilder::spec();
    b.platform.tag = Some(17);
    rejects(
        b,
        "platform token: COSE_Sign1: expected tag 18, found tag 17",
    );
    let mut b = TokenBuilder::spec();
    b.platform.alg = Some(iana::Algorithm::ES256);
    rejects(
        b,
        "platform token: COSE_Sign1: algorithm must be ES384 (-35)",
    );
    let mut b = TokenBuilder::spec();
    b.realm.alg = None;
    rejects(
        b,
        "realm token: COSE_Sign1: the protected header has no algorithm",
    );
    let mut b = TokenBuilder::spec();
    b.realm.mangle_signature = Some(|s| s.truncate(64));
    rejects(
        b,
        "realm token: COSE_Sign1: an ES384 signature is 96 bytes (r || s), got 64",
    );
    let mut b = TokenBuilder::spec();
    b.platform.detached = true;
    rejects(b, "platform token: COSE_Sign1: the payload is detached");
    let mut b = TokenBuilder::spec();
    b.realm.raw_payload = Some(encode(&Value::Array(vec![])));
    rejects(
        b,
        "realm token: COSE_Sign1: the payload must be a map of claims, got an array",
    );
    let mut b = TokenBuilder::spec();
    b.platform.raw_payload = Some(vec![0xa1, 0x0a]);
    rejects(
        b,
        "truncated input: platform token claims ends early (2 bytes)",
    );
}

// ---- signatures and binding -----------------------------------------------------------

#[test]
fn wrong_cpak_is_a_platform_signature_error() {
    let token = TokenBuilder::spec().build();
    let other = key(9);
    assert_eq!(
        verify_token(&token, other.verifying_key())
            .unwrap_err()
            .to_string(),
        "platform token: the signature does not verify with the CPAK"
    );
}

#[test]
fn bad_signatures() {
    let mut b = TokenBuilder::spec();
    b.platform.mangle_signature = Some(|s| s[10] ^= 1);
    assert_eq!(
        verify(&b).unwrap_err(),
        TokenError::BadSignature {
            part: Part::Platform
        }
    );
    let mut b = TokenBuilder::ssd();
    b.realm.mangle_signature = Some(|s| s[90] ^= 0x80);
    assert_eq!(
        verify(&b).unwrap_err(),
        TokenError::BadSignature { part: Part::Realm }
    );
    // r = 0 is not a signature at all.
    let mut b = TokenBuilder::spec();
    b.realm.mangle_signature = Some(|s| s[..48].fill(0));
    rejects(
        b,
        "realm token: the signature does not verify with the RAK of claim 44237",
    );
    // Signed by some key other than the RAK it carries.
    let mut b = TokenBuilder::spec();
    b.realm.key = key(7);
    rejects(b, "realm token: the signature does not verify with the RAK");
    // The platform signed by the RAK.
    let mut b = TokenBuilder::spec();
    b.platform.key = b.rak.clone();
    rejects(
        b,
        "platform token: the signature does not verify with the CPAK",
    );
}

#[test]
fn binding_mismatch() {
    let b = TokenBuilder::spec().set(PLATFORM, label::CHALLENGE, bytes(&[0x42; 32]));
    let err = rejects(
        b,
        "binding mismatch: platform token claim 10 (challenge) is 4242",
    );
    assert!(
        err.to_string()
            .contains("but sha-256 of realm token claim 44237 (RAK) is")
    );
    // The right hash with another algorithm than claim 44240 names.
    let b = TokenBuilder::spec();
    let claim = b.rak_claim();
    let b = b.set(PLATFORM, label::CHALLENGE, bytes(&hash("sha-512", &claim)));
    rejects(b, "binding mismatch");
    let b = TokenBuilder::new(Variant::Ssd, "sha-256", "sha-384").set(
        REALM,
        label::REALM_PUBLIC_KEY_HASH_ALGO_ID,
        text("sha-256"),
    );
    rejects(b, "but sha-256 of realm token claim 44237");
    // A RAK swapped for another key (re-signed with it): the platform
    // token still binds the first one.
    let mut b = TokenBuilder::spec();
    b.realm.key = key(5);
    let b = b.set(
        REALM,
        label::REALM_PUBLIC_KEY,
        bytes(&cose_key_claim(key(5).verifying_key())),
    );
    rejects(b, "binding mismatch");
}

// ---- claims --------------------------------------------------------------------------

#[test]
fn missing_mandatory_claims() {
    for (l, name) in [
        (label::CHALLENGE, "challenge"),
        (label::PERSONALIZATION_VALUE, "personalization value"),
        (label::REALM_HASH_ALGO_ID, "hash algo id"),
        (label::REALM_PUBLIC_KEY, "RAK"),
        (label::RIM, "RIM"),
        (label::REMS, "REMs"),
        (label::REALM_PUBLIC_KEY_HASH_ALGO_ID, "RAK hash algo id"),
    ] {
        rejects(
            TokenBuilder::spec().remove(REALM, l),
            &format!("realm token: mandatory claim {l} ({name}) is missing"),
        );
    }
    for (l, name) in [
        (label::PROFILE, "profile"),
        (label::CHALLENGE, "challenge"),
        (label::IMPLEMENTATION_ID, "implementation id"),
        (label::INSTANCE_ID, "instance id"),
        (label::CONFIG, "config"),
        (label::LIFECYCLE, "lifecycle"),
        (label::SW_COMPONENTS, "sw components"),
        (label::PLATFORM_HASH_ALGO_ID, "hash algo id"),
    ] {
        rejects(
            TokenBuilder::ssd().remove(PLATFORM, l),
            &format!("platform token: mandatory claim {l} ({name}) is missing"),
        );
    }
}

#[test]
fn duplicate_claims() {
    rejects(
        TokenBuilder::spec().push(REALM, int(10), bytes(&CHALLENGE)),
        "realm token: claim 10 (challenge) appears more than once",
    );
    rejects(
        TokenBuilder::spec().push(PLATFORM, int(2395), int(0x3000)),
        "platform token: claim 2395 (lifecycle) appears more than once",
    );
    rejects(
        TokenBuilder::spec()
            .push(PLATFORM, text("x"), int(1))
            .push(PLATFORM, text("x"), int(2)),
        "claim key \"x\" appears twice",
    );
}

#[test]
fn realm_claim_sizes_and_types() {
    let spec = TokenBuilder::spec;
    rejects(
        spec().set(REALM, label::RIM, bytes(&[0; 7])),
        "realm token: claim 44238 (RIM) must be 32, 48 or 64 bytes, got 7",
    );
    rejects(
        spec().set(REALM, label::RIM, bytes(&[0; 64])),
        "realm token: claim 44238 (RIM) is 64 bytes, but claim 44236 (hash algo id) \"sha-256\" gives 32",
    );
    rejects(
        spec().set(REALM, label::CHALLENGE, bytes(&[0; 32])),
        "realm token: claim 10 (challenge) must be 64 bytes, got 32",
    );
    rejects(
        spec().set(REALM, label::PERSONALIZATION_VALUE, text("rpv")),
        "realm token: claim 44235 (personalization value) must be a byte string, got a text string",
    );
    rejects(
        spec().set(REALM, label::REALM_HASH_ALGO_ID, text("sha-1")),
        "realm token: claim 44236 (hash algo id) must be one of sha-256, sha-384, sha-512, got \"sha-1\"",
    );
    rejects(
        spec().set(REALM, label::REALM_PUBLIC_KEY_HASH_ALGO_ID, int(1)),
        "realm token: claim 44240 (RAK hash algo id) must be a text string, got an integer",
    );
    rejects(
        spec().set(REALM, label::REMS, Value::Array(vec![bytes(&[0; 32]); 3])),
        "realm token: claim 44239 (REMs) must hold 4 measurements, got 3",
    );
    rejects(
        spec().set(
            REALM,
            label::REMS,
            Value::Array(vec![
                bytes(&[0; 32]),
                bytes(&[0; 32]),
                bytes(&[0; 64]),
                bytes(&[0; 32]),
            ]),
        ),
        "realm token: claim 44239 (REMs) REM 2 is 64 bytes, but claim 44236 (hash algo id) \"sha-256\" gives 32",
    );
    rejects(
        spec().set(REALM, label::REMS, Value::Array(vec![int(0); 4])),
        "REM 0 must be a byte string, got an integer",
    );
    rejects(
        spec().set(REALM, label::REMS, bytes(&[0; 128])),
        "claim 44239 (REMs) must be an array, got a byte string",
    );
    rejects(
        spec().set(REALM, label::PROFILE, text("tag:arm.com,2023:realm#2.0.0")),
        "realm token: claim 265 (profile) must be \"tag:arm.com,2023:realm#1.0.0\"",
    );
    rejects(
        TokenBuilder::ssd().set(REALM, label::PROFILE, text("tag:arm.com,2023:realm#1.0.0")),
        "realm token: claim 265 (profile) is not part of the http://arm.com/CCA-SSD/1.0.0 profile",
    );
}

#[test]
fn platform_claim_sizes_and_types() {
    let spec = TokenBuilder::spec;
    rejects(
        spec().set(PLATFORM, label::PROFILE, text("http://arm.com/psa/2.0.0")),
        "platform token: claim 265 (profile) \"http://arm.com/psa/2.0.0\" is not a supported profile",
    );
    rejects(
        spec().set(PLATFORM, label::CHALLENGE, bytes(&[0; 20])),
        "platform token: claim 10 (challenge) must be 32, 48 or 64 bytes, got 20",
    );
    rejects(
        spec().set(PLATFORM, label::IMPLEMENTATION_ID, bytes(&[0; 31])),
        "platform token: claim 2396 (implementation id) must be 32 bytes, got 31",
    );
    rejects(
        spec().set(PLATFORM, label::INSTANCE_ID, bytes(&[0x01; 32])),
        "platform token: claim 256 (instance id) must be 33 bytes, got 32",
    );
    rejects(
        spec().set(PLATFORM, label::INSTANCE_ID, bytes(&[0x02; 33])),
        "platform token: claim 256 (instance id) must start with 0x01 (a RAND UEID), got 0x02",
    );
    rejects(
        spec().set(PLATFORM, label::CONFIG, int(0)),
        "platform token: claim 2401 (config) must be a byte string, got an integer",
    );
    rejects(
        spec().set(PLATFORM, label::LIFECYCLE, text("secured")),
        "platform token: claim 2395 (lifecycle) must be an unsigned integer, got a text string",
    );
    for undefined in [0x7000, 0x10000, -1] {
        rejects(
            spec().set(PLATFORM, label::LIFECYCLE, int(undefined)),
            &format!(
                "platform token: claim 2395 (lifecycle) {undefined} is not a defined lifecycle state"
            ),
        );
    }
    rejects(
        spec().set(PLATFORM, label::VERIFICATION_SERVICE, bytes(b"x")),
        "platform token: claim 2400 (verification service) must be a text string",
    );
    rejects(
        spec().set(PLATFORM, label::PLATFORM_HASH_ALGO_ID, Value::Null),
        "platform token: claim 2402 (hash algo id) must be a text string, got null",
    );
}

type Pairs = Vec<(Value, Value)>;

#[test]
fn software_components() {
    let with = |components: Vec<Value>| {
        TokenBuilder::spec().set(PLATFORM, label::SW_COMPONENTS, Value::Array(components))
    };
    let good = sw_component("BL31", 1, "2.0", 2);
    let edit = |f: &dyn Fn(&mut Pairs)| {
        let Value::Map(mut pairs) = good.clone() else {
            unreachable!()
        };
        f(&mut pairs);
        Value::Map(pairs)
    };
    rejects(
        with(vec![]),
        "claim 2399 (sw components) must list at least one component",
    );
    rejects(
        TokenBuilder::spec().set(PLATFORM, label::SW_COMPONENTS, Value::Map(vec![])),
        "claim 2399 (sw components) must be an array, got a map",
    );
    rejects(
        with(vec![good.clone(), int(3)]),
        "entry 1: must be a map, got an integer",
    );
    rejects(
        with(vec![edit(&|m| m.retain(|(k, _)| *k != int(5)))]),
        "entry 0: key 5 (signer id) is missing",
    );
    rejects(
        with(vec![edit(&|m| m.retain(|(k, _)| *k != int(2)))]),
        "entry 0: key 2 (measurement value) is missing",
    );
    rejects(
        with(vec![edit(&|m| m[1].1 = bytes(&[0; 20]))]),
        "entry 0: key 2 (measurement value) must be 32, 48 or 64 bytes, got 20",
    );
    rejects(
        with(vec![edit(&|m| m[0].1 = int(1))]),
        "entry 0: key 1 (component type) must be a text string, got an integer",
    );
    rejects(
        with(vec![edit(&|m| m.push((int(3), text("?"))))]),
        "entry 0: unexpected key",
    );
    rejects(
        with(vec![edit(&|m| m.push((int(4), text("again"))))]),
        "entry 0: key Integer(Integer(4)) appears more than once",
    );
}

#[test]
fn rak_shapes() {
    let spec = TokenBuilder::spec();
    let sec1 = sec1_claim(spec.rak.verifying_key());
    rejects(
        spec.with_rak_claim(sec1, "sha-256"),
        "realm token: claim 44237 (RAK) must be a COSE_Key in profile \"tag:arm.com,2023:cca_platform#1.0.0\", got a 97-byte SEC1 point",
    );
    let ssd = TokenBuilder::ssd();
    let cose = cose_key_claim(ssd.rak.verifying_key());
    rejects(
        ssd.with_rak_claim(cose, "sha-256"),
        "realm token: claim 44237 (RAK) must be a 97-byte SEC1 uncompressed P-384 point in profile \"http://arm.com/CCA-SSD/1.0.0\", got",
    );
    let rak = key(2);
    let point = rak.verifying_key().to_sec1_point(false);
    let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
    let cose_map = |pairs: Vec<(Value, Value)>| encode(&Value::Map(pairs));
    let ec2 = |crv: Value, x: Value, y: Value| {
        cose_map(vec![
            (int(1), int(2)),
            (int(-1), crv),
            (int(-2), x),
            (int(-3), y),
        ])
    };
    let cases = [
        (b"\xa0".to_vec(), "got no kty label"),
        (vec![0x01], "must be a CBOR-encoded COSE_Key"),
        (
            cose_map(vec![
                (int(1), int(1)),
                (int(-1), int(6)),
                (int(-2), bytes(&x)),
            ]),
            "must be an EC2 key (kty 2)",
        ),
        (
            ec2(int(1), bytes(&x), bytes(&y)),
            "curve (-1) must be P-384 (2)",
        ),
        (
            cose_map(vec![
                (int(1), int(2)),
                (int(-2), bytes(&x)),
                (int(-3), bytes(&y)),
            ]),
            "has no curve (-1)",
        ),
        (
            ec2(int(2), bytes(&x[1..]), bytes(&y)),
            "x (-2) must be 48 bytes, got 47",
        ),
        (
            ec2(int(2), bytes(&x), Value::Bool(true)),
            "y (-3) must be a byte string, got a boolean",
        ),
        (ec2(int(2), bytes(&x), bytes(&x)), "is not a point on P-384"),
        (
            cose_map(vec![
                (int(1), int(2)),
                (int(3), int(-7)),
                (int(-1), int(2)),
                (int(-2), bytes(&x)),
                (int(-3), bytes(&y)),
            ]),
            "alg must be ES384 (-35) if present",
        ),
        (
            cose_map(vec![(int(1), int(2)), (int(1), int(2))]),
            "duplicate map key",
        ),
    ];
    for (claim, want) in cases {
        rejects(TokenBuilder::spec().with_rak_claim(claim, "sha-256"), want);
    }
    let mut off_curve = sec1_claim(key(2).verifying_key());
    off_curve[96] ^= 1;
    rejects(
        TokenBuilder::ssd().with_rak_claim(off_curve, "sha-256"),
        "realm token: claim 44237 (RAK) is not a point on P-384",
    );
    rejects(
        TokenBuilder::ssd().set(REALM, label::REALM_PUBLIC_KEY, int(4)),
        "realm token: claim 44237 (RAK) must be a byte string, got an integer",
    );
}

// ---- robustness ------------------------------------------------------------------------

#[test]
fn truncation_at_every_length_is_an_error() {
    let cpak = cpak();
    for builder in [TokenBuilder::spec(), TokenBuilder::ssd()] {
        let token = builder.build();
        for len in 0..token.len() {
            let err = verify_token(&token[..len], cpak.verifying_key())
                .expect_err("a truncated token must not verify");
            assert!(
                matches!(err, TokenError::Truncated { .. }),
                "cut at {len}: {err}"
            );
        }
        assert!(verify_token(&token, cpak.verifying_key()).is_ok());
    }
}

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn corrupted_tokens_never_panic_and_never_verify() {
    let cpak = cpak();
    let mut rng = Lcg(0x5eed);
    for (variant, builder) in [TokenBuilder::spec(), TokenBuilder::ssd()]
        .into_iter()
        .enumerate()
    {
        let token = builder.build();
        // A bit flipped in every fifth byte (signature checks are slow in
        // debug builds): never accepted.
        for at in (variant..token.len()).step_by(5) {
            let mut bad = token.clone();
            bad[at] ^= 1 << (at % 8);
            assert!(
                verify_token(&bad, cpak.verifying_key()).is_err(),
                "flip at {at}"
            );
        }
        // Random multi-byte damage, insertions and deletions.
        for _ in 0..150 {
            let mut bad = token.clone();
            for _ in 0..=rng.next() % 4 {
                let at = rng.next() as usize % bad.len();
                match rng.next() % 3 {
                    0 => bad[at] = rng.next() as u8,
                    1 => bad.insert(at, rng.next() as u8),
                    _ => {
                        bad.remove(at);
                    }
                }
            }
            if bad != token {
                // A corrupted token may still decode (e.g. a changed byte in
                // a claim), but then a signature cannot verify.
                assert!(verify_token(&bad, cpak.verifying_key()).is_err());
            }
        }
    }
}

#[test]
fn hostile_headers_are_errors() {
    let cpak = cpak();
    let inputs: [&[u8]; 8] = [
        // tag 399, map of 2^64-1 entries.
        &[
            0xd9, 0x01, 0x8f, 0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
        // tag 399, {44234: bstr of 2^63 bytes}
        &[
            0xd9, 0x01, 0x8f, 0xa1, 0x19, 0xac, 0xca, 0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0,
        ],
        // an array of 2^32 items.
        &[0x9a, 0xff, 0xff, 0xff, 0xff],
        // indefinite map never closed.
        &[0xd9, 0x01, 0x8f, 0xbf],
        // reserved additional info.
        &[0x1c],
        // a break outside an indefinite item.
        &[0xff],
        // text with invalid UTF-8.
        &[0x62, 0xff, 0xfe],
        // a tag nesting deeply.
        &[0xc6; 600],
    ];
    for input in inputs {
        assert!(
            verify_token(input, cpak.verifying_key()).is_err(),
            "{input:02x?}"
        );
    }
}
