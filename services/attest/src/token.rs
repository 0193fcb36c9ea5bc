//! The CCA attestation token (RMM spec 1.0, A7.2 "Attestation token
//! format"): claims maps, COSE_Sign1 ES384 envelopes and the CBOR
//! collection that binds the platform and realm tokens.
//!
//! CBOR comes from `ciborium` and COSE from `coset`; this module only
//! decides which claims go where.

use alloc::vec::Vec;
use coset::cbor::value::Value;
use coset::{CborSerializable, CoseKeyBuilder, CoseSign1Builder, HeaderBuilder, iana};
use p384::ecdsa::signature::Signer;
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::Digest;

/// Claim labels (A7.2.3).
pub mod label {
    /// EAT nonce: the realm challenge, and the platform challenge (H(RAK)).
    pub const CHALLENGE: i64 = 10;
    /// EAT profile.
    pub const PROFILE: i64 = 265;
    /// EAT ueid: the platform instance ID.
    pub const INSTANCE_ID: i64 = 256;
    pub const LIFECYCLE: i64 = 2395;
    pub const IMPLEMENTATION_ID: i64 = 2396;
    pub const SW_COMPONENTS: i64 = 2399;
    pub const VERIFICATION_SERVICE: i64 = 2400;
    pub const CONFIG: i64 = 2401;
    pub const PLATFORM_HASH_ALGO: i64 = 2402;
    pub const PERSONALIZATION_VALUE: i64 = 44235;
    pub const REALM_HASH_ALGO: i64 = 44236;
    pub const REALM_PUBLIC_KEY: i64 = 44237;
    pub const RIM: i64 = 44238;
    pub const REM: i64 = 44239;
    pub const REALM_PUBLIC_KEY_HASH_ALGO: i64 = 44240;
    /// Keys of the CCA token collection.
    pub const PLATFORM_TOKEN: i64 = 44234;
    pub const REALM_TOKEN: i64 = 44241;
    /// Software component map keys.
    pub const SW_TYPE: i64 = 1;
    pub const SW_MEASUREMENT: i64 = 2;
    pub const SW_VERSION: i64 = 4;
    pub const SW_SIGNER_ID: i64 = 5;
    pub const SW_HASH_ALGO: i64 = 6;
}

/// CBOR tag of the CCA token collection (A7.2.1).
pub const CCA_TOKEN_TAG: u64 = 399;
pub const REALM_PROFILE: &str = "tag:arm.com,2023:realm#1.0.0";
pub const PLATFORM_PROFILE: &str = "tag:arm.com,2023:cca_platform#1.0.0";
/// The CCA-SSD draft profile that earlier verifiers (e.g. Veraison's
/// `ccatoken` 0.1) implement.
pub const PLATFORM_PROFILE_DRAFT: &str = "http://arm.com/CCA-SSD/1.0.0";

/// Which edition of the token profile to produce. Rampart's firmware
/// produces [`Profile::Cca1_0`]; the draft exists so that tokens can be
/// checked against verifiers that predate RMM 1.0-rel0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// RMM 1.0: realm profile claim present, RAK as a COSE_Key.
    Cca1_0,
    /// CCA-SSD draft: no realm profile claim, RAK as a SEC1 point.
    Draft,
}

/// Token construction failures (all mean a bug or an exhausted heap:
/// no input from a realm can cause one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    Encoding,
}

/// Hash algorithm names as the profile spells them.
pub const SHA_256: &str = "sha-256";
pub const SHA_384: &str = "sha-384";
pub const SHA_512: &str = "sha-512";

/// One entry of the platform's software components claim.
#[derive(Clone, Copy, Debug)]
pub struct SwComponent<'a> {
    pub kind: &'a str,
    pub measurement: &'a [u8],
    pub version: &'a str,
    pub signer_id: &'a [u8],
    pub hash_algo: &'a str,
}

/// The CCA platform claims (A7.2.3.2).
#[derive(Clone, Copy, Debug)]
pub struct PlatformClaims<'a> {
    pub profile: Profile,
    pub challenge: &'a [u8],
    pub implementation_id: &'a [u8; 32],
    pub instance_id: &'a [u8; 33],
    pub config: &'a [u8],
    pub lifecycle: u16,
    pub sw_components: &'a [SwComponent<'a>],
    pub verification_service: Option<&'a str>,
    pub hash_algo: &'a str,
}

/// The realm claims (A7.2.3.1). Measurements are already cut to the
/// realm's hash size.
#[derive(Clone, Copy, Debug)]
pub struct RealmClaims<'a> {
    pub profile: Profile,
    pub challenge: &'a [u8; 64],
    pub personalization_value: &'a [u8; 64],
    pub hash_algo: &'a str,
    pub rim: &'a [u8],
    pub rems: [&'a [u8]; 4],
    /// The RAK claim exactly as [`rak_public_claim`] encoded it.
    pub rak_public: &'a [u8],
    pub rak_hash_algo: &'a str,
}

fn int(v: i64) -> Value {
    Value::Integer(v.into())
}

fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn encode(value: Value) -> Result<Vec<u8>, TokenError> {
    value.to_vec().map_err(|_| TokenError::Encoding)
}

/// The platform token's claims map.
pub fn platform_claims(c: &PlatformClaims) -> Result<Vec<u8>, TokenError> {
    let profile = match c.profile {
        Profile::Cca1_0 => PLATFORM_PROFILE,
        Profile::Draft => PLATFORM_PROFILE_DRAFT,
    };
    let components = c
        .sw_components
        .iter()
        .map(|s| {
            Value::Map(alloc::vec![
                (int(label::SW_TYPE), text(s.kind)),
                (int(label::SW_MEASUREMENT), bytes(s.measurement)),
                (int(label::SW_VERSION), text(s.version)),
                (int(label::SW_SIGNER_ID), bytes(s.signer_id)),
                (int(label::SW_HASH_ALGO), text(s.hash_algo)),
            ])
        })
        .collect();
    let mut map = alloc::vec![
        (int(label::PROFILE), text(profile)),
        (int(label::CHALLENGE), bytes(c.challenge)),
        (int(label::IMPLEMENTATION_ID), bytes(c.implementation_id)),
        (int(label::INSTANCE_ID), bytes(c.instance_id)),
        (int(label::CONFIG), bytes(c.config)),
        (int(label::LIFECYCLE), int(i64::from(c.lifecycle))),
        (int(label::SW_COMPONENTS), Value::Array(components)),
    ];
    if let Some(vs) = c.verification_service {
        map.push((int(label::VERIFICATION_SERVICE), text(vs)));
    }
    map.push((int(label::PLATFORM_HASH_ALGO), text(c.hash_algo)));
    encode(Value::Map(map))
}

/// The realm token's claims map.
pub fn realm_claims(c: &RealmClaims) -> Result<Vec<u8>, TokenError> {
    let mut map = alloc::vec::Vec::with_capacity(8);
    if c.profile == Profile::Cca1_0 {
        map.push((int(label::PROFILE), text(REALM_PROFILE)));
    }
    map.extend([
        (int(label::CHALLENGE), bytes(c.challenge)),
        (
            int(label::PERSONALIZATION_VALUE),
            bytes(c.personalization_value),
        ),
        (int(label::RIM), bytes(c.rim)),
        (
            int(label::REM),
            Value::Array(c.rems.iter().map(|r| bytes(r)).collect()),
        ),
        (int(label::REALM_HASH_ALGO), text(c.hash_algo)),
        (int(label::REALM_PUBLIC_KEY), bytes(c.rak_public)),
        (
            int(label::REALM_PUBLIC_KEY_HASH_ALGO),
            text(c.rak_hash_algo),
        ),
    ]);
    encode(Value::Map(map))
}

/// A tagged COSE_Sign1 over `payload`, ES384, no external AAD.
pub fn sign1(payload: Vec<u8>, key: &SigningKey) -> Result<Vec<u8>, TokenError> {
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES384)
        .build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(&[], |tbs| {
            let signature: Signature = key.sign(tbs);
            signature.to_bytes().to_vec()
        })
        .build();
    coset::TaggedCborSerializable::to_tagged_vec(sign1).map_err(|_| TokenError::Encoding)
}

/// The CCA token: tag 399 over {44234: platform token, 44241: realm token}.
pub fn cca_token(platform_token: &[u8], realm_token: &[u8]) -> Result<Vec<u8>, TokenError> {
    let map = Value::Map(alloc::vec![
        (int(label::PLATFORM_TOKEN), bytes(platform_token)),
        (int(label::REALM_TOKEN), bytes(realm_token)),
    ]);
    encode(Value::Tag(CCA_TOKEN_TAG, alloc::boxed::Box::new(map)))
}

/// The realm public key claim (A7.2.3.1.7): a COSE_Key (EC2, P-384) for
/// the 1.0 profile, the SEC1 uncompressed point for the draft.
pub fn rak_public_claim(key: &VerifyingKey, profile: Profile) -> Result<Vec<u8>, TokenError> {
    let point = key.to_sec1_point(false);
    match profile {
        Profile::Draft => Ok(point.as_bytes().to_vec()),
        Profile::Cca1_0 => {
            let (x, y) = (point.x(), point.y());
            let (Some(x), Some(y)) = (x, y) else {
                return Err(TokenError::Encoding);
            };
            CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_384, x.to_vec(), y.to_vec())
                .build()
                .to_vec()
                .map_err(|_| TokenError::Encoding)
        }
    }
}

/// H(RAK): the platform challenge that binds the two tokens, SHA-256 as
/// the realm public key hash algorithm claim says.
pub fn rak_hash(rak_public: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(rak_public).into()
}

/// The algorithm [`rak_hash`] uses, as claimed in the realm token.
pub const RAK_HASH_ALGO: &str = SHA_256;
