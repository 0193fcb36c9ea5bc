//! The RMM's attestation service: the only holder of the realm
//! attestation key (RAK) and of the platform token it was bound to at
//! boot. It signs realm tokens for RSI_ATTESTATION_TOKEN_CONTINUE (RMM
//! spec 1.0, B5.3.1/B5.3.2 and A7.2) and wraps them with the platform
//! token into the CCA token.

use crate::token::{self, Profile, RealmClaims};
use alloc::vec::Vec;
use p384::ecdsa::SigningKey;
use rampart_ipc::Server;
use rampart_ipc::attest::{AttestProtocol, AttestReply, AttestRequest, MAX_TOKEN, TokenClaims};
use rampart_ipc::lease::{GRANULE_SIZE, Leases};
use rampart_ipc::rmm_el3::RmmEl3Status;

/// The profile Rampart's RMM produces.
pub const PROFILE: Profile = Profile::Cca1_0;

/// The RAK and its public claim, before the platform token is fetched.
pub struct RealmKey {
    rak: SigningKey,
    rak_claim: Vec<u8>,
}

impl RealmKey {
    /// Imports the key EL3 handed over (RMM_ATTEST_GET_REALM_KEY: the raw
    /// big-endian P-384 private scalar).
    pub fn from_scalar(scalar: &[u8]) -> Result<RealmKey, AttestBootError> {
        let rak = SigningKey::from_slice(scalar).map_err(|_| AttestBootError::BadKey)?;
        let rak_claim = token::rak_public_claim(rak.verifying_key(), PROFILE)
            .map_err(|_| AttestBootError::BadKey)?;
        Ok(RealmKey { rak, rak_claim })
    }

    /// The platform token's challenge: H(RAK claim), which binds the two.
    pub fn platform_challenge(&self) -> [u8; 32] {
        token::rak_hash(&self.rak_claim)
    }

    /// The realm public key claim (COSE_Key).
    pub fn public_claim(&self) -> &[u8] {
        &self.rak_claim
    }
}

/// What the service signs with, set up once at cold boot.
pub struct RealmAttestation {
    key: RealmKey,
    platform_token: Vec<u8>,
}

impl RealmAttestation {
    pub fn new(key: RealmKey, platform_token: Vec<u8>) -> Self {
        Self {
            key,
            platform_token,
        }
    }

    pub fn platform_token(&self) -> &[u8] {
        &self.platform_token
    }

    pub fn key(&self) -> &RealmKey {
        &self.key
    }
}

/// Why the RMM has no attestation after boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AttestBootError {
    /// RMM_ATTEST_GET_REALM_KEY failed.
    Key(RmmEl3Status),
    /// The key is not a valid P-384 scalar.
    BadKey,
    /// RMM_ATTEST_GET_PLAT_TOKEN failed.
    Token(RmmEl3Status),
    /// EL3 kept answering E_RMM_AGAIN.
    Busy,
    /// The platform token would not fit what a REC can hold, or EL3's
    /// hunks were inconsistent.
    TokenSize,
}

/// EL3's attestation calls (TF-A rmm-el3-comms spec: RMM_ATTEST_GET_REALM_KEY
/// and RMM_ATTEST_GET_PLAT_TOKEN) as the RMM makes them, always with the
/// whole shared buffer.
pub trait El3Attestation {
    /// The shared buffer.
    fn buffer(&mut self) -> &mut [u8];
    /// GET_REALM_KEY for `curve`: (status, key size).
    fn get_realm_key(&mut self, curve: u64) -> (RmmEl3Status, u64);
    /// GET_PLAT_TOKEN with `c_size` challenge bytes at the buffer's start:
    /// (status, hunk size, remaining size).
    fn get_plat_token(&mut self, c_size: u64) -> (RmmEl3Status, u64, u64);
}

/// ECC curve argument of GET_REALM_KEY: SECP384R1.
pub const CURVE_P384: u64 = 0;
/// E_RMM_AGAIN retries before giving up (EL3 queues on a busy HES).
const MAX_AGAIN: u32 = 1 << 16;

/// Cold boot: fetch the RAK, then the platform token bound to it (hunk
/// by hunk, retrying E_RMM_AGAIN). The key is scrubbed from the shared
/// buffer as soon as it is imported.
pub fn fetch_from_el3(el3: &mut impl El3Attestation) -> Result<RealmAttestation, AttestBootError> {
    let (status, size) = el3.get_realm_key(CURVE_P384);
    let imported = match status {
        RmmEl3Status::Ok => {
            let buffer = el3.buffer();
            let len = (size as usize).min(buffer.len());
            let key = RealmKey::from_scalar(&buffer[..len]);
            buffer[..len].fill(0);
            key
        }
        other => Err(AttestBootError::Key(other)),
    };
    let key = imported?;
    let challenge = key.platform_challenge();
    let mut token = Vec::new();
    let mut c_size = challenge.len() as u64;
    let mut again = 0;
    loop {
        if c_size != 0 {
            el3.buffer()[..challenge.len()].copy_from_slice(&challenge);
        }
        let (status, hunk, remaining) = el3.get_plat_token(c_size);
        match status {
            RmmEl3Status::Ok => {}
            RmmEl3Status::Again if again < MAX_AGAIN => {
                again += 1;
                continue;
            }
            RmmEl3Status::Again => return Err(AttestBootError::Busy),
            other => return Err(AttestBootError::Token(other)),
        }
        let buffer = el3.buffer();
        let hunk = hunk as usize;
        let total = token.len() as u64 + hunk as u64 + remaining;
        if hunk > buffer.len() || (hunk == 0 && remaining != 0) || total > MAX_TOKEN / 2 {
            return Err(AttestBootError::TokenSize);
        }
        token.extend_from_slice(&buffer[..hunk]);
        if remaining == 0 {
            return Ok(RealmAttestation::new(key, token));
        }
        c_size = 0;
    }
}

/// The service as one call sees it.
pub struct AttestService<'a, L> {
    leases: L,
    attestation: Option<&'a RealmAttestation>,
}

impl<'a, L: Leases> AttestService<'a, L> {
    pub fn new(leases: L, attestation: Option<&'a RealmAttestation>) -> Self {
        Self {
            leases,
            attestation,
        }
    }

    /// Builds the CCA token for the claims INIT captured and writes it to
    /// the token granules.
    fn sign(&mut self, claims: u64, granules: &[u64]) -> AttestReply {
        let Some(attestation) = self.attestation else {
            return AttestReply::Unavailable;
        };
        let Ok(claims) = self.leases.with_realm(claims, |g| *TokenClaims::of(g)) else {
            return AttestReply::Failed;
        };
        let Ok(cca) = cca_token(attestation, &claims) else {
            return AttestReply::Failed;
        };
        if cca.len() > granules.len() * GRANULE_SIZE {
            return AttestReply::Failed;
        }
        for (chunk, &granule) in cca.chunks(GRANULE_SIZE).zip(granules) {
            let written = self.leases.with_realm(granule, |g| {
                g.bytes_mut()[..chunk.len()].copy_from_slice(chunk);
            });
            if written.is_err() {
                return AttestReply::Failed;
            }
        }
        AttestReply::Token {
            len: cca.len() as u32,
        }
    }
}

/// The realm token for `claims`, signed with the RAK, in the CCA token
/// collection with the platform token.
pub fn cca_token(
    attestation: &RealmAttestation,
    claims: &TokenClaims,
) -> Result<Vec<u8>, token::TokenError> {
    let (size, name) = match claims.hash_algo {
        0 => (32, token::SHA_256),
        1 => (64, token::SHA_512),
        _ => return Err(token::TokenError::Encoding),
    };
    let realm = RealmClaims {
        profile: PROFILE,
        challenge: &claims.challenge,
        personalization_value: &claims.personalization_value,
        hash_algo: name,
        rim: &claims.rim[..size],
        rems: [
            &claims.rems[0][..size],
            &claims.rems[1][..size],
            &claims.rems[2][..size],
            &claims.rems[3][..size],
        ],
        rak_public: &attestation.key.rak_claim,
        rak_hash_algo: token::RAK_HASH_ALGO,
    };
    let realm_token = token::sign1(token::realm_claims(&realm)?, &attestation.key.rak)?;
    token::cca_token(&attestation.platform_token, &realm_token)
}

impl<L: Leases> Server<AttestProtocol> for AttestService<'_, L> {
    fn handle(&mut self, request: AttestRequest) -> AttestReply {
        match request {
            AttestRequest::Sign { claims, token } => self.sign(claims, &token),
        }
    }
}
