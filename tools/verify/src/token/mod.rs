//! Verifying a CCA attestation token (RMM spec DEN0137 1.0-rel0, A7.2.3).
//!
//! The token is CBOR tag 399 around a map of two byte strings, each a
//! tagged COSE_Sign1 (RFC 9052, ES384, empty external AAD): the CCA
//! platform token (key 44234) signed by the platform's attestation key
//! (the CPAK), and the Realm token (key 44241) signed by the Realm
//! Attestation Key, which the Realm token carries in claim 44237. The
//! platform token's challenge binds the two: it is the hash of that
//! claim's bytes with the algorithm claim 44240 names.
//!
//! Two profiles are accepted, told apart by the platform profile claim:
//! the spec's ([`Profile::Cca1_0`]: RAK as a COSE_Key) and the earlier
//! CCA-SSD draft that Veraison's `ccatoken` 0.1 implements
//! ([`Profile::CcaSsdDraft`]: RAK as a SEC1 uncompressed point, no realm
//! profile claim).

mod cbor;
mod display;

use crate::hexser;
use cbor::{Claims, array_bytes, bytes, decode_one, invalid, kind, sized_bytes, text};
use ciborium::Value;
use coset::{CborSerializable, CoseKey, CoseSign1, iana};
use p384::ecdsa::{Signature, VerifyingKey, signature::Verifier};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt;

/// CBOR tag of a CMW collection, which the CCA token is (A7.2.3).
pub const CCA_TOKEN_TAG: u64 = 399;
/// Collection keys.
pub const PLATFORM_TOKEN_KEY: i64 = 44234;
pub const REALM_TOKEN_KEY: i64 = 44241;
/// COSE_Sign1_Tagged (RFC 9052).
pub const COSE_SIGN1_TAG: u64 = 18;

/// Claim labels (A7.2.3.1 and A7.2.3.2).
pub mod label {
    pub const CHALLENGE: i64 = 10;
    pub const PROFILE: i64 = 265;
    pub const INSTANCE_ID: i64 = 256;
    pub const LIFECYCLE: i64 = 2395;
    pub const IMPLEMENTATION_ID: i64 = 2396;
    pub const SW_COMPONENTS: i64 = 2399;
    pub const VERIFICATION_SERVICE: i64 = 2400;
    pub const CONFIG: i64 = 2401;
    pub const PLATFORM_HASH_ALGO_ID: i64 = 2402;
    pub const PERSONALIZATION_VALUE: i64 = 44235;
    pub const REALM_HASH_ALGO_ID: i64 = 44236;
    pub const REALM_PUBLIC_KEY: i64 = 44237;
    pub const RIM: i64 = 44238;
    pub const REMS: i64 = 44239;
    pub const REALM_PUBLIC_KEY_HASH_ALGO_ID: i64 = 44240;
}

/// Profile claim values.
pub const PLATFORM_PROFILE_1_0: &str = "tag:arm.com,2023:cca_platform#1.0.0";
pub const REALM_PROFILE_1_0: &str = "tag:arm.com,2023:realm#1.0.0";
pub const PLATFORM_PROFILE_SSD: &str = "http://arm.com/CCA-SSD/1.0.0";

/// Which of the two tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Platform,
    Realm,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Platform => "platform token",
            Part::Realm => "realm token",
        })
    }
}

/// A claim's name in errors and output.
pub fn claim_name(part: Part, label: i64) -> &'static str {
    use label::*;
    match (part, label) {
        (_, CHALLENGE) => "challenge",
        (_, PROFILE) => "profile",
        (Part::Realm, PERSONALIZATION_VALUE) => "personalization value",
        (Part::Realm, REALM_HASH_ALGO_ID) => "hash algo id",
        (Part::Realm, REALM_PUBLIC_KEY) => "RAK",
        (Part::Realm, RIM) => "RIM",
        (Part::Realm, REMS) => "REMs",
        (Part::Realm, REALM_PUBLIC_KEY_HASH_ALGO_ID) => "RAK hash algo id",
        (Part::Platform, INSTANCE_ID) => "instance id",
        (Part::Platform, LIFECYCLE) => "lifecycle",
        (Part::Platform, IMPLEMENTATION_ID) => "implementation id",
        (Part::Platform, SW_COMPONENTS) => "sw components",
        (Part::Platform, VERIFICATION_SERVICE) => "verification service",
        (Part::Platform, CONFIG) => "config",
        (Part::Platform, PLATFORM_HASH_ALGO_ID) => "hash algo id",
        _ => "not in the profile",
    }
}

/// Why a token was rejected. `Display` gives the specific reason.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The CBOR of `what` ends before its item does.
    Truncated {
        what: String,
        len: usize,
    },
    MalformedCbor {
        what: String,
        detail: String,
    },
    /// Bytes after the one CBOR item `what` must be.
    TrailingData {
        what: String,
        extra: usize,
    },
    /// The outer item is not tag 399; `found` says what it is.
    NotCcaToken {
        found: String,
    },
    /// The tag-399 map is not {44234: bstr, 44241: bstr}.
    Collection {
        detail: String,
    },
    /// A token's COSE_Sign1 envelope is malformed.
    Cose {
        part: Part,
        detail: String,
    },
    MissingClaim {
        part: Part,
        label: i64,
    },
    DuplicateClaim {
        part: Part,
        label: i64,
    },
    InvalidClaim {
        part: Part,
        label: i64,
        problem: String,
    },
    /// The platform profile claim names a profile this tool does not know.
    UnsupportedProfile {
        found: String,
    },
    BadSignature {
        part: Part,
    },
    /// The platform challenge is not the hash of the RAK claim.
    Binding {
        algo: String,
        computed: Vec<u8>,
        in_token: Vec<u8>,
    },
    /// A value the relying party expected (challenge, RIM, RPV) differs.
    Unexpected {
        what: &'static str,
        expected: Vec<u8>,
        in_token: Vec<u8>,
    },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TokenError::*;
        match self {
            Truncated { what, len } => {
                write!(f, "truncated input: {what} ends early ({len} bytes)")
            }
            MalformedCbor { what, detail } => write!(f, "{what}: malformed CBOR: {detail}"),
            TrailingData { what, extra } => {
                write!(
                    f,
                    "{what}: {extra} bytes of trailing data after the CBOR item"
                )
            }
            NotCcaToken { found } => {
                write!(
                    f,
                    "not a CCA token: expected CBOR tag {CCA_TOKEN_TAG}, found {found}"
                )
            }
            Collection { detail } => write!(f, "CCA token collection: {detail}"),
            Cose { part, detail } => write!(f, "{part}: COSE_Sign1: {detail}"),
            MissingClaim { part, label } => write!(
                f,
                "{part}: mandatory claim {label} ({}) is missing",
                claim_name(*part, *label)
            ),
            DuplicateClaim { part, label } => write!(
                f,
                "{part}: claim {label} ({}) appears more than once",
                claim_name(*part, *label)
            ),
            InvalidClaim {
                part,
                label,
                problem,
            } => write!(
                f,
                "{part}: claim {label} ({}) {problem}",
                claim_name(*part, *label)
            ),
            UnsupportedProfile { found } => write!(
                f,
                "platform token: claim 265 (profile) {found:?} is not a supported profile \
                 (expected {PLATFORM_PROFILE_1_0:?} or {PLATFORM_PROFILE_SSD:?})"
            ),
            BadSignature {
                part: Part::Platform,
            } => {
                write!(
                    f,
                    "platform token: the signature does not verify with the CPAK"
                )
            }
            BadSignature { part: Part::Realm } => write!(
                f,
                "realm token: the signature does not verify with the RAK of claim 44237"
            ),
            Binding {
                algo,
                computed,
                in_token,
            } => write!(
                f,
                "binding mismatch: platform token claim 10 (challenge) is {}, \
                 but {algo} of realm token claim 44237 (RAK) is {}",
                hex::encode(in_token),
                hex::encode(computed)
            ),
            Unexpected {
                what,
                expected,
                in_token,
            } => write!(
                f,
                "{what} mismatch: expected {}, the token has {}",
                hex::encode(expected),
                hex::encode(in_token)
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// The token profile, from the platform profile claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Profile {
    /// RMM spec 1.0 (A7.2.3): RAK claim = COSE_Key.
    #[serde(rename = "cca-1.0")]
    Cca1_0,
    /// The CCA-SSD draft (Veraison `ccatoken` 0.1): RAK claim = 97-byte
    /// SEC1 uncompressed point.
    #[serde(rename = "cca-ssd-draft")]
    CcaSsdDraft,
}

/// A verified CCA token: both signatures checked, the binding holds,
/// every claim well-formed.
#[derive(Clone, Debug, Serialize)]
pub struct VerifiedToken {
    pub profile: Profile,
    pub platform: PlatformClaims,
    pub realm: RealmClaims,
}

/// Realm token claims (A7.2.3.1).
#[derive(Clone, Debug, Serialize)]
pub struct RealmClaims {
    #[serde(serialize_with = "hexser::bytes")]
    pub challenge: [u8; 64],
    /// Optional in 1.0; absent in the SSD draft.
    pub profile: Option<String>,
    /// The RPV.
    #[serde(serialize_with = "hexser::bytes")]
    pub personalization_value: [u8; 64],
    /// Algorithm of the RIM and REMs ("sha-256", ...).
    pub hash_algo_id: String,
    #[serde(serialize_with = "hexser::bytes")]
    pub rim: Vec<u8>,
    #[serde(serialize_with = "hexser::bytes_list")]
    pub rems: Vec<Vec<u8>>,
    /// The RAK claim's bytes as in the token (what the binding hashes).
    #[serde(serialize_with = "hexser::bytes")]
    pub public_key_claim: Vec<u8>,
    /// The RAK.
    #[serde(rename = "public_key_sec1", serialize_with = "serialize_key")]
    pub public_key: VerifyingKey,
    pub public_key_hash_algo_id: String,
    /// Labels of claims the profile does not define (accepted, unverified).
    pub other_claims: Vec<String>,
}

/// CCA platform token claims (A7.2.3.2).
#[derive(Clone, Debug, Serialize)]
pub struct PlatformClaims {
    pub profile: String,
    /// H(RAK claim).
    #[serde(serialize_with = "hexser::bytes")]
    pub challenge: Vec<u8>,
    #[serde(serialize_with = "hexser::bytes")]
    pub implementation_id: [u8; 32],
    #[serde(serialize_with = "hexser::bytes")]
    pub instance_id: [u8; 33],
    #[serde(serialize_with = "hexser::bytes")]
    pub config: Vec<u8>,
    pub lifecycle: u16,
    pub sw_components: Vec<SwComponent>,
    pub verification_service: Option<String>,
    pub hash_algo_id: String,
    pub other_claims: Vec<String>,
}

/// One entry of the software components claim (A7.2.3.2.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SwComponent {
    pub component_type: Option<String>,
    #[serde(serialize_with = "hexser::bytes")]
    pub measurement: Vec<u8>,
    pub version: Option<String>,
    #[serde(serialize_with = "hexser::bytes")]
    pub signer_id: Vec<u8>,
    pub hash_algo_id: Option<String>,
}

fn serialize_key<S: Serializer>(key: &VerifyingKey, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(key.to_sec1_point(false).as_bytes()))
}

/// The platform lifecycle states (A7.2.3.2.6): value[15:8].
pub fn lifecycle_state(value: u16) -> Option<&'static str> {
    Some(match value >> 8 {
        0x00 => "unknown",
        0x10 => "assembly and test",
        0x20 => "CCA platform RoT provisioning",
        0x30 => "secured",
        0x40 => "non-CCA platform RoT debug",
        0x50 => "recoverable CCA platform RoT debug",
        0x60 => "decommissioned",
        _ => return None,
    })
}

/// Hash lengths a measurement or challenge claim may have (cca-hash-type).
const HASH_SIZES: [usize; 3] = [32, 48, 64];

/// The digest of `data` with the IANA-named algorithm, if supported.
fn hash_named(name: &str, data: &[u8]) -> Option<Vec<u8>> {
    Some(match name {
        "sha-256" => Sha256::digest(data).to_vec(),
        "sha-384" => Sha384::digest(data).to_vec(),
        "sha-512" => Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

fn digest_len_named(name: &str) -> Option<usize> {
    hash_named(name, &[]).map(|d| d.len())
}

/// Verifies a CCA attestation token: its structure and claims (strictly),
/// the platform token's signature with `cpak`, the realm token's with the
/// RAK it carries, and the binding of the two.
pub fn verify_token(bytes: &[u8], cpak: &VerifyingKey) -> Result<VerifiedToken, TokenError> {
    let (platform_bytes, realm_bytes) = split_collection(bytes)?;
    let platform_sign1 = decode_sign1(Part::Platform, &platform_bytes)?;
    let realm_sign1 = decode_sign1(Part::Realm, &realm_bytes)?;
    let platform = platform_claims(payload(Part::Platform, &platform_sign1)?)?;
    let profile = match platform.profile.as_str() {
        PLATFORM_PROFILE_1_0 => Profile::Cca1_0,
        PLATFORM_PROFILE_SSD => Profile::CcaSsdDraft,
        other => {
            return Err(TokenError::UnsupportedProfile {
                found: other.to_string(),
            });
        }
    };
    let realm = realm_claims(profile, payload(Part::Realm, &realm_sign1)?)?;

    check_signature(Part::Platform, &platform_sign1, cpak)?;
    check_signature(Part::Realm, &realm_sign1, &realm.public_key)?;

    let algo = &realm.public_key_hash_algo_id;
    let computed = hash_named(algo, &realm.public_key_claim).unwrap_or_default();
    if computed != platform.challenge {
        return Err(TokenError::Binding {
            algo: algo.clone(),
            computed,
            in_token: platform.challenge.clone(),
        });
    }
    Ok(VerifiedToken {
        profile,
        platform,
        realm,
    })
}

impl VerifiedToken {
    /// Checks the realm challenge against the one the relying party sent;
    /// a shorter one is zero-padded to 64 bytes as A7.2.2 asks the realm
    /// to do.
    pub fn check_challenge(&self, expected: &[u8]) -> Result<(), TokenError> {
        let mut padded = expected.to_vec();
        if padded.len() < 64 {
            padded.resize(64, 0);
        }
        self.expect("realm challenge (claim 10)", &padded, &self.realm.challenge)
    }

    /// Checks the RIM against a reference value (e.g. a prediction).
    pub fn check_rim(&self, expected: &[u8]) -> Result<(), TokenError> {
        self.expect("RIM (claim 44238)", expected, &self.realm.rim)
    }

    /// Checks the Realm Personalization Value.
    pub fn check_rpv(&self, expected: &[u8]) -> Result<(), TokenError> {
        self.expect(
            "personalization value (claim 44235)",
            expected,
            &self.realm.personalization_value,
        )
    }

    fn expect(
        &self,
        what: &'static str,
        expected: &[u8],
        in_token: &[u8],
    ) -> Result<(), TokenError> {
        if expected == in_token {
            Ok(())
        } else {
            Err(TokenError::Unexpected {
                what,
                expected: expected.to_vec(),
                in_token: in_token.to_vec(),
            })
        }
    }
}

/// The tag-399 collection: (platform token bytes, realm token bytes).
fn split_collection(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), TokenError> {
    let value = decode_one(bytes, "CCA token")?;
    let inner = match value {
        Value::Tag(CCA_TOKEN_TAG, inner) => *inner,
        Value::Tag(tag, _) => {
            return Err(TokenError::NotCcaToken {
                found: format!("tag {tag}"),
            });
        }
        other => {
            return Err(TokenError::NotCcaToken {
                found: format!("{} without a tag", kind(&other)),
            });
        }
    };
    let Value::Map(entries) = inner else {
        return Err(TokenError::Collection {
            detail: format!("tag 399 must hold a map, got {}", kind(&inner)),
        });
    };
    let (mut platform, mut realm) = (None, None);
    for (key, value) in entries {
        let slot = match cbor::int_label(&key) {
            Some(PLATFORM_TOKEN_KEY) => &mut platform,
            Some(REALM_TOKEN_KEY) => &mut realm,
            Some(other) => {
                return Err(TokenError::Collection {
                    detail: format!("unexpected key {other} (only 44234 and 44241 are defined)"),
                });
            }
            None => {
                return Err(TokenError::Collection {
                    detail: format!("keys must be integers, got {}", kind(&key)),
                });
            }
        };
        let label = cbor::int_label(&key).unwrap_or_default();
        if slot.is_some() {
            return Err(TokenError::Collection {
                detail: format!("key {label} appears more than once"),
            });
        }
        let Value::Bytes(token) = value else {
            return Err(TokenError::Collection {
                detail: format!(
                    "key {label} must hold a byte string (the token), got {}",
                    kind(&value)
                ),
            });
        };
        *slot = Some(token);
    }
    let platform = platform.ok_or_else(|| TokenError::Collection {
        detail: "the platform token (key 44234) is missing".into(),
    })?;
    let realm = realm.ok_or_else(|| TokenError::Collection {
        detail: "the realm token (key 44241) is missing".into(),
    })?;
    Ok((platform, realm))
}

/// A tagged COSE_Sign1 with ES384 in its protected header and a 96-byte
/// signature.
fn decode_sign1(part: Part, bytes: &[u8]) -> Result<CoseSign1, TokenError> {
    let what = part.to_string();
    let cose = |detail: String| TokenError::Cose { part, detail };
    let inner = match decode_one(bytes, &what)? {
        Value::Tag(COSE_SIGN1_TAG, inner) => *inner,
        Value::Tag(tag, _) => {
            return Err(cose(format!(
                "expected tag {COSE_SIGN1_TAG}, found tag {tag}"
            )));
        }
        other => {
            return Err(cose(format!(
                "expected tag {COSE_SIGN1_TAG}, found {} without a tag",
                kind(&other)
            )));
        }
    };
    let sign1 = <CoseSign1 as coset::AsCborValue>::from_cbor_value(inner)
        .map_err(|e| cose(e.to_string()))?;
    match &sign1.protected.header.alg {
        Some(coset::Algorithm::Assigned(iana::Algorithm::ES384)) => {}
        Some(other) => {
            return Err(cose(format!(
                "algorithm must be ES384 (-35), got {other:?}"
            )));
        }
        None => {
            return Err(cose(
                "the protected header has no algorithm (ES384 expected)".into(),
            ));
        }
    }
    if sign1.signature.len() != 96 {
        return Err(cose(format!(
            "an ES384 signature is 96 bytes (r || s), got {}",
            sign1.signature.len()
        )));
    }
    Ok(sign1)
}

fn payload(part: Part, sign1: &CoseSign1) -> Result<Claims, TokenError> {
    let Some(payload) = &sign1.payload else {
        return Err(TokenError::Cose {
            part,
            detail: "the payload is detached (nil); it must hold the claims".into(),
        });
    };
    let what = format!("{part} claims");
    Claims::from_value(part, decode_one(payload, &what)?)
}

fn check_signature(part: Part, sign1: &CoseSign1, key: &VerifyingKey) -> Result<(), TokenError> {
    sign1
        .verify_signature(b"", |signature, signed| {
            let signature = Signature::from_slice(signature).map_err(|_| ())?;
            key.verify(signed, &signature).map_err(|_| ())
        })
        .map_err(|()| TokenError::BadSignature { part })
}

fn hash_algo_claim(
    part: Part,
    label: i64,
    v: Value,
    allowed: &[&str],
) -> Result<String, TokenError> {
    let name = text(part, label, v)?;
    if allowed.contains(&name.as_str()) {
        Ok(name)
    } else {
        Err(invalid(
            part,
            label,
            format!("must be one of {}, got {name:?}", allowed.join(", ")),
        ))
    }
}

fn platform_claims(mut claims: Claims) -> Result<PlatformClaims, TokenError> {
    use label::*;
    let p = Part::Platform;
    let profile = text(p, PROFILE, claims.require(PROFILE)?)?;
    let challenge = sized_bytes(p, CHALLENGE, claims.require(CHALLENGE)?, &HASH_SIZES)?;
    let implementation_id =
        array_bytes::<32>(p, IMPLEMENTATION_ID, claims.require(IMPLEMENTATION_ID)?)?;
    let instance_id = array_bytes::<33>(p, INSTANCE_ID, claims.require(INSTANCE_ID)?)?;
    if instance_id[0] != 0x01 {
        return Err(invalid(
            p,
            INSTANCE_ID,
            format!(
                "must start with 0x01 (a RAND UEID), got {:#04x}",
                instance_id[0]
            ),
        ));
    }
    let config = bytes(p, CONFIG, claims.require(CONFIG)?)?;
    let lifecycle = match claims.require(LIFECYCLE)? {
        Value::Integer(i) => match u16::try_from(i128::from(i)) {
            Ok(v) if lifecycle_state(v).is_some() => v,
            _ => {
                return Err(invalid(
                    p,
                    LIFECYCLE,
                    format!("{} is not a defined lifecycle state", i128::from(i)),
                ));
            }
        },
        other => {
            return Err(invalid(
                p,
                LIFECYCLE,
                format!("must be an unsigned integer, got {}", kind(&other)),
            ));
        }
    };
    let sw_components = sw_components(claims.require(SW_COMPONENTS)?)?;
    let verification_service = claims
        .take(VERIFICATION_SERVICE)
        .map(|v| text(p, VERIFICATION_SERVICE, v))
        .transpose()?;
    let hash_algo_id = text(
        p,
        PLATFORM_HASH_ALGO_ID,
        claims.require(PLATFORM_HASH_ALGO_ID)?,
    )?;
    Ok(PlatformClaims {
        profile,
        challenge,
        implementation_id,
        instance_id,
        config,
        lifecycle,
        sw_components,
        verification_service,
        hash_algo_id,
        other_claims: claims.leftover(),
    })
}

/// A7.2.3.2.7: a non-empty array of maps {? 1: type, 2: measurement,
/// ? 4: version, 5: signer id, ? 6: hash algo}.
fn sw_components(v: Value) -> Result<Vec<SwComponent>, TokenError> {
    let p = Part::Platform;
    let l = label::SW_COMPONENTS;
    let Value::Array(entries) = v else {
        return Err(invalid(p, l, format!("must be an array, got {}", kind(&v))));
    };
    if entries.is_empty() {
        return Err(invalid(p, l, "must list at least one component"));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let bad = |problem: String| invalid(p, l, format!("entry {index}: {problem}"));
        let Value::Map(pairs) = entry else {
            return Err(bad(format!("must be a map, got {}", kind(&entry))));
        };
        let mut fields: [Option<Value>; 7] = Default::default();
        for (key, value) in pairs {
            let slot = match cbor::int_label(&key) {
                Some(k @ (1 | 2 | 4 | 5 | 6)) => &mut fields[k as usize],
                _ => return Err(bad(format!("unexpected key {key:?}"))),
            };
            if slot.is_some() {
                return Err(bad(format!("key {key:?} appears more than once")));
            }
            *slot = Some(value);
        }
        let text_field = |v: Option<Value>, name: &str| match v {
            None => Ok(None),
            Some(Value::Text(t)) => Ok(Some(t)),
            Some(other) => Err(bad(format!(
                "{name} must be a text string, got {}",
                kind(&other)
            ))),
        };
        let hash_field = |v: Option<Value>, name: &str| match v {
            None => Err(bad(format!("{name} is missing"))),
            Some(Value::Bytes(b)) if HASH_SIZES.contains(&b.len()) => Ok(b),
            Some(Value::Bytes(b)) => Err(bad(format!(
                "{name} must be 32, 48 or 64 bytes, got {}",
                b.len()
            ))),
            Some(other) => Err(bad(format!(
                "{name} must be a byte string, got {}",
                kind(&other)
            ))),
        };
        let [
            _,
            component_type,
            measurement,
            _,
            version,
            signer_id,
            hash_algo_id,
        ] = fields;
        out.push(SwComponent {
            component_type: text_field(component_type, "key 1 (component type)")?,
            measurement: hash_field(measurement, "key 2 (measurement value)")?,
            version: text_field(version, "key 4 (version)")?,
            signer_id: hash_field(signer_id, "key 5 (signer id)")?,
            hash_algo_id: text_field(hash_algo_id, "key 6 (hash algorithm id)")?,
        });
    }
    Ok(out)
}

fn realm_claims(profile: Profile, mut claims: Claims) -> Result<RealmClaims, TokenError> {
    use label::*;
    let r = Part::Realm;
    let challenge = array_bytes::<64>(r, CHALLENGE, claims.require(CHALLENGE)?)?;
    let realm_profile = claims
        .take(PROFILE)
        .map(|v| text(r, PROFILE, v))
        .transpose()?;
    match (&realm_profile, profile) {
        (None, _) => {}
        (Some(p), Profile::Cca1_0) if p == REALM_PROFILE_1_0 => {}
        (Some(p), Profile::Cca1_0) => {
            return Err(invalid(
                r,
                PROFILE,
                format!("must be {REALM_PROFILE_1_0:?}, got {p:?}"),
            ));
        }
        (Some(_), Profile::CcaSsdDraft) => {
            return Err(invalid(
                r,
                PROFILE,
                format!(
                    "is not part of the {PLATFORM_PROFILE_SSD} profile the platform token names"
                ),
            ));
        }
    }
    let personalization_value = array_bytes::<64>(
        r,
        PERSONALIZATION_VALUE,
        claims.require(PERSONALIZATION_VALUE)?,
    )?;
    let hash_algo_id = hash_algo_claim(
        r,
        REALM_HASH_ALGO_ID,
        claims.require(REALM_HASH_ALGO_ID)?,
        &["sha-256", "sha-384", "sha-512"],
    )?;
    let digest_len = digest_len_named(&hash_algo_id).unwrap_or_default();
    let rim = sized_bytes(r, RIM, claims.require(RIM)?, &HASH_SIZES)?;
    if rim.len() != digest_len {
        return Err(invalid(
            r,
            RIM,
            format!(
                "is {} bytes, but claim 44236 (hash algo id) {hash_algo_id:?} gives {digest_len}",
                rim.len()
            ),
        ));
    }
    let rems = match claims.require(REMS)? {
        Value::Array(items) if items.len() == 4 => {
            let mut rems = Vec::with_capacity(4);
            for (index, item) in items.into_iter().enumerate() {
                let rem = match item {
                    Value::Bytes(b) if b.len() == digest_len => b,
                    Value::Bytes(b) => {
                        return Err(invalid(
                            r,
                            REMS,
                            format!(
                                "REM {index} is {} bytes, but claim 44236 (hash algo id) {hash_algo_id:?} gives {digest_len}",
                                b.len()
                            ),
                        ));
                    }
                    other => {
                        return Err(invalid(
                            r,
                            REMS,
                            format!("REM {index} must be a byte string, got {}", kind(&other)),
                        ));
                    }
                };
                rems.push(rem);
            }
            rems
        }
        Value::Array(items) => {
            return Err(invalid(
                r,
                REMS,
                format!("must hold 4 measurements, got {}", items.len()),
            ));
        }
        other => {
            return Err(invalid(
                r,
                REMS,
                format!("must be an array, got {}", kind(&other)),
            ));
        }
    };
    let public_key_claim = bytes(r, REALM_PUBLIC_KEY, claims.require(REALM_PUBLIC_KEY)?)?;
    let public_key = match profile {
        Profile::Cca1_0 => rak_from_cose_key(&public_key_claim)?,
        Profile::CcaSsdDraft => rak_from_sec1(&public_key_claim)?,
    };
    let public_key_hash_algo_id = hash_algo_claim(
        r,
        REALM_PUBLIC_KEY_HASH_ALGO_ID,
        claims.require(REALM_PUBLIC_KEY_HASH_ALGO_ID)?,
        &["sha-256", "sha-384", "sha-512"],
    )?;
    Ok(RealmClaims {
        challenge,
        profile: realm_profile,
        personalization_value,
        hash_algo_id,
        rim,
        rems,
        public_key_claim,
        public_key,
        public_key_hash_algo_id,
        other_claims: claims.leftover(),
    })
}

fn rak_error(problem: String) -> TokenError {
    invalid(Part::Realm, label::REALM_PUBLIC_KEY, problem)
}

/// Profile 1.0 (A7.2.3.1.7): a COSE_Key, EC2 on P-384 with x and y.
fn rak_from_cose_key(claim: &[u8]) -> Result<VerifyingKey, TokenError> {
    if claim.len() == 97 && claim[0] == 0x04 {
        return Err(rak_error(format!(
            "must be a COSE_Key in profile {PLATFORM_PROFILE_1_0:?}, \
             got a 97-byte SEC1 point (the CCA-SSD draft's form)"
        )));
    }
    let key = CoseKey::from_slice(claim)
        .map_err(|e| rak_error(format!("must be a CBOR-encoded COSE_Key: {e}")))?;
    if key.kty != coset::KeyType::Assigned(iana::KeyType::EC2) {
        return Err(rak_error(format!(
            "must be an EC2 key (kty 2), got kty {:?}",
            key.kty
        )));
    }
    if let Some(alg) = &key.alg
        && *alg != coset::Algorithm::Assigned(iana::Algorithm::ES384)
    {
        return Err(rak_error(format!(
            "alg must be ES384 (-35) if present, got {alg:?}"
        )));
    }
    let param = |label: i64| {
        key.params
            .iter()
            .find(|(l, _)| *l == coset::Label::Int(label))
            .map(|(_, v)| v)
    };
    match param(iana::Ec2KeyParameter::Crv as i64) {
        Some(Value::Integer(c)) if i128::from(*c) == iana::EllipticCurve::P_384 as i128 => {}
        Some(other) => {
            return Err(rak_error(format!(
                "curve (-1) must be P-384 (2), got {other:?}"
            )));
        }
        None => return Err(rak_error("has no curve (-1)".into())),
    }
    let coordinate = |label: i64, name: &str| match param(label) {
        Some(Value::Bytes(b)) if b.len() == 48 => Ok(b.clone()),
        Some(Value::Bytes(b)) => Err(rak_error(format!(
            "{name} ({label}) must be 48 bytes, got {}",
            b.len()
        ))),
        Some(other) => Err(rak_error(format!(
            "{name} ({label}) must be a byte string, got {}",
            kind(other)
        ))),
        None => Err(rak_error(format!("has no {name} ({label})"))),
    };
    let x = coordinate(iana::Ec2KeyParameter::X as i64, "x")?;
    let y = coordinate(iana::Ec2KeyParameter::Y as i64, "y")?;
    let mut point = Vec::with_capacity(97);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    VerifyingKey::from_sec1_bytes(&point).map_err(|_| rak_error("is not a point on P-384".into()))
}

/// The CCA-SSD draft: a 97-byte SEC1 uncompressed P-384 point.
fn rak_from_sec1(claim: &[u8]) -> Result<VerifyingKey, TokenError> {
    if claim.len() != 97 || claim[0] != 0x04 {
        return Err(rak_error(format!(
            "must be a 97-byte SEC1 uncompressed P-384 point in profile {PLATFORM_PROFILE_SSD:?}, \
             got {} bytes",
            claim.len()
        )));
    }
    VerifyingKey::from_sec1_bytes(claim).map_err(|_| rak_error("is not a point on P-384".into()))
}
