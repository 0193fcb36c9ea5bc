//! Building CCA tokens for tests, with coset and p384, in both profiles,
//! with every part editable so that each malformation can be made on
//! purpose. Claims are kept as CBOR key/value pairs in order; signing and
//! wrapping happen in [`TokenBuilder::build`].

#![allow(dead_code)]

use ciborium::Value;
use coset::{
    CborSerializable, CoseKeyBuilder, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana,
};
use p384::ecdsa::{Signature, SigningKey, VerifyingKey, signature::Signer};
use rampart_verify::token::{PLATFORM_PROFILE_1_0, PLATFORM_PROFILE_SSD, REALM_PROFILE_1_0, label};
use sha2::{Digest, Sha256, Sha384, Sha512};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// RMM spec 1.0: RAK as a COSE_Key, realm profile claim present.
    Spec,
    /// CCA-SSD draft: RAK as a SEC1 point, no realm profile claim.
    Ssd,
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 48]).expect("a valid P-384 scalar")
}

/// The platform key tests verify with.
pub fn cpak() -> SigningKey {
    key(1)
}

pub fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

pub fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

pub fn text(t: &str) -> Value {
    Value::Text(t.into())
}

pub fn hash(name: &str, data: &[u8]) -> Vec<u8> {
    match name {
        "sha-256" => Sha256::digest(data).to_vec(),
        "sha-384" => Sha384::digest(data).to_vec(),
        "sha-512" => Sha512::digest(data).to_vec(),
        other => panic!("{other}"),
    }
}

pub fn cose_key_claim(key: &VerifyingKey) -> Vec<u8> {
    let point = key.to_sec1_point(false);
    CoseKeyBuilder::new_ec2_pub_key(
        iana::EllipticCurve::P_384,
        point.x().unwrap().to_vec(),
        point.y().unwrap().to_vec(),
    )
    .build()
    .to_vec()
    .unwrap()
}

pub fn sec1_claim(key: &VerifyingKey) -> Vec<u8> {
    key.to_sec1_point(false).as_bytes().to_vec()
}

/// How one COSE_Sign1 is made.
#[derive(Clone)]
pub struct Envelope {
    pub key: SigningKey,
    pub alg: Option<iana::Algorithm>,
    /// Replaces the payload with nil (detached).
    pub detached: bool,
    /// Applied to the signature bytes after signing.
    pub mangle_signature: Option<fn(&mut Vec<u8>)>,
    /// The CBOR tag (18 for COSE_Sign1_Tagged); None: untagged.
    pub tag: Option<u64>,
    /// Raw bytes instead of the encoded claims map (for payload errors).
    pub raw_payload: Option<Vec<u8>>,
    /// Appended after the tagged COSE_Sign1 inside the collection's bstr.
    pub trailing: Vec<u8>,
}

impl Envelope {
    fn new(key: SigningKey) -> Self {
        Envelope {
            key,
            alg: Some(iana::Algorithm::ES384),
            detached: false,
            mangle_signature: None,
            tag: Some(18),
            raw_payload: None,
            trailing: Vec::new(),
        }
    }

    fn seal(&self, claims: &[(Value, Value)]) -> Vec<u8> {
        let payload = match &self.raw_payload {
            Some(raw) => raw.clone(),
            None => encode(&Value::Map(claims.to_vec())),
        };
        let mut header = HeaderBuilder::new();
        if let Some(alg) = self.alg {
            header = header.algorithm(alg);
        }
        let mut sign1 = CoseSign1Builder::new()
            .protected(header.build())
            .payload(payload)
            .create_signature(b"", |data| {
                let signature: Signature = self.key.sign(data);
                signature.to_bytes().to_vec()
            })
            .build();
        if let Some(mangle) = self.mangle_signature {
            mangle(&mut sign1.signature);
        }
        if self.detached {
            sign1.payload = None;
        }
        let mut out = match self.tag {
            Some(18) => sign1.to_tagged_vec().unwrap(),
            Some(other) => encode(&Value::Tag(
                other,
                Box::new(coset::AsCborValue::to_cbor_value(sign1).unwrap()),
            )),
            None => sign1.to_vec().unwrap(),
        };
        out.extend_from_slice(&self.trailing);
        out
    }
}

pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}

/// A token under construction.
#[derive(Clone)]
pub struct TokenBuilder {
    pub variant: Variant,
    pub rak: SigningKey,
    pub platform_claims: Vec<(Value, Value)>,
    pub realm_claims: Vec<(Value, Value)>,
    pub platform: Envelope,
    pub realm: Envelope,
    /// The collection's tag (399).
    pub outer_tag: Option<u64>,
    /// Extra collection entries, after the two tokens.
    pub extra_entries: Vec<(Value, Value)>,
    pub omit_platform: bool,
    pub omit_realm: bool,
}

pub const CHALLENGE: [u8; 64] = [0xc4; 64];
pub const RPV: [u8; 64] = [0x5e; 64];

pub fn sw_component(kind: &str, measurement: u8, version: &str, signer: u8) -> Value {
    Value::Map(vec![
        (int(1), text(kind)),
        (int(2), bytes(&[measurement; 32])),
        (int(4), text(version)),
        (int(5), bytes(&[signer; 32])),
        (int(6), text("sha-256")),
    ])
}

impl TokenBuilder {
    /// A good token: RIM/REMs per `realm_hash`, binding with `rak_hash`.
    pub fn new(variant: Variant, realm_hash: &str, rak_hash: &str) -> Self {
        let rak = key(2);
        let rak_claim = match variant {
            Variant::Spec => cose_key_claim(rak.verifying_key()),
            Variant::Ssd => sec1_claim(rak.verifying_key()),
        };
        let measurement_len = hash(realm_hash, b"").len();
        let mut realm_claims = vec![(int(label::CHALLENGE), bytes(&CHALLENGE))];
        if variant == Variant::Spec {
            realm_claims.push((int(label::PROFILE), text(REALM_PROFILE_1_0)));
        }
        realm_claims.extend([
            (int(label::PERSONALIZATION_VALUE), bytes(&RPV)),
            (int(label::REALM_HASH_ALGO_ID), text(realm_hash)),
            (int(label::REALM_PUBLIC_KEY), bytes(&rak_claim)),
            (int(label::RIM), bytes(&vec![0x1d; measurement_len])),
            (
                int(label::REMS),
                Value::Array((1..=4).map(|i| bytes(&vec![i; measurement_len])).collect()),
            ),
            (int(label::REALM_PUBLIC_KEY_HASH_ALGO_ID), text(rak_hash)),
        ]);
        let profile = match variant {
            Variant::Spec => PLATFORM_PROFILE_1_0,
            Variant::Ssd => PLATFORM_PROFILE_SSD,
        };
        let mut instance_id = [0xbb; 33];
        instance_id[0] = 0x01;
        let platform_claims = vec![
            (int(label::PROFILE), text(profile)),
            (int(label::CHALLENGE), bytes(&hash(rak_hash, &rak_claim))),
            (int(label::IMPLEMENTATION_ID), bytes(&[0xaa; 32])),
            (int(label::INSTANCE_ID), bytes(&instance_id)),
            (int(label::CONFIG), bytes(&[0xcf; 4])),
            (int(label::LIFECYCLE), int(0x3000)),
            (
                int(label::SW_COMPONENTS),
                Value::Array(vec![
                    sw_component("BL2", 0x21, "1.0.0", 0x31),
                    Value::Map(vec![
                        (int(2), bytes(&[0x22; 48])),
                        (int(5), bytes(&[0x32; 64])),
                    ]),
                ]),
            ),
            (
                int(label::VERIFICATION_SERVICE),
                text("https://verifier.example"),
            ),
            (int(label::PLATFORM_HASH_ALGO_ID), text("sha-256")),
        ];
        TokenBuilder {
            variant,
            platform: Envelope::new(cpak()),
            realm: Envelope::new(rak.clone()),
            rak,
            platform_claims,
            realm_claims,
            outer_tag: Some(399),
            extra_entries: Vec::new(),
            omit_platform: false,
            omit_realm: false,
        }
    }

    pub fn spec() -> Self {
        Self::new(Variant::Spec, "sha-256", "sha-256")
    }

    pub fn ssd() -> Self {
        Self::new(Variant::Ssd, "sha-256", "sha-256")
    }

    fn claims(&mut self, realm: bool) -> &mut Vec<(Value, Value)> {
        if realm {
            &mut self.realm_claims
        } else {
            &mut self.platform_claims
        }
    }

    /// Replaces (or adds) a claim.
    pub fn set(mut self, realm: bool, label: i64, value: Value) -> Self {
        let claims = self.claims(realm);
        match claims.iter_mut().find(|(k, _)| *k == int(label)) {
            Some(entry) => entry.1 = value,
            None => claims.push((int(label), value)),
        }
        self
    }

    pub fn remove(mut self, realm: bool, label: i64) -> Self {
        self.claims(realm).retain(|(k, _)| *k != int(label));
        self
    }

    /// Appends a claim even if the label is already there.
    pub fn push(mut self, realm: bool, key: Value, value: Value) -> Self {
        self.claims(realm).push((key, value));
        self
    }

    /// The RAK claim as in the token.
    pub fn rak_claim(&self) -> Vec<u8> {
        let found = self
            .realm_claims
            .iter()
            .find(|(k, _)| *k == int(label::REALM_PUBLIC_KEY));
        match found {
            Some((_, Value::Bytes(b))) => b.clone(),
            _ => Vec::new(),
        }
    }

    /// Replaces the RAK claim and keeps the binding.
    pub fn with_rak_claim(self, claim: Vec<u8>, rak_hash: &str) -> Self {
        let challenge = hash(rak_hash, &claim);
        self.set(true, label::REALM_PUBLIC_KEY, bytes(&claim)).set(
            false,
            label::CHALLENGE,
            bytes(&challenge),
        )
    }

    pub fn build(&self) -> Vec<u8> {
        let mut entries = Vec::new();
        if !self.omit_platform {
            entries.push((
                int(rampart_verify::token::PLATFORM_TOKEN_KEY),
                bytes(&self.platform.seal(&self.platform_claims)),
            ));
        }
        if !self.omit_realm {
            entries.push((
                int(rampart_verify::token::REALM_TOKEN_KEY),
                bytes(&self.realm.seal(&self.realm_claims)),
            ));
        }
        entries.extend(self.extra_entries.iter().cloned());
        let collection = Value::Map(entries);
        encode(&match self.outer_tag {
            Some(tag) => Value::Tag(tag, Box::new(collection)),
            None => collection,
        })
    }
}
