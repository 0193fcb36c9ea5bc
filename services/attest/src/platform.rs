//! Root's side of CCA attestation: the realm attestation key (RAK) and the
//! platform token, served to the RMM through TF-A's RMM-EL3 interface
//! (`docs/components/rmm-el3-comms-spec.rst`, interface 0.8:
//! RMM_ATTEST_GET_REALM_KEY and RMM_ATTEST_GET_PLAT_TOKEN).
//!
//! Both keys come from the board's attestation source: the CCA platform
//! attestation key (CPAK) signs platform tokens and never leaves root; the
//! RAK is derived from the same secret bound to the measurement of the RMM
//! image, so a different RMM never receives the same key. The platform token
//! (RMM spec 1.0, A7.2.3.2) carries the measurements root took at cold boot.
//!
//! The calls work on the EL3<->RMM shared buffer as a byte slice, so this is
//! host-testable; root supplies the slice (see [`SharedBuffer`]).

use crate::keys::{self, Purpose};
use crate::token::{self, PlatformClaims, Profile, SwComponent, TokenError};
use alloc::vec::Vec;
use p384::ecdsa::{SigningKey, VerifyingKey};
use rampart_board::{AttestationSource, BoardInfo, PlatformIdentity};
use rampart_ipc::rmm_el3::RmmEl3Status;
use sha2::{Digest, Sha256};
use spin::Mutex;
use zeroize::Zeroize;

/// `ecc_curve` of RMM_ATTEST_GET_REALM_KEY: ECC SECP384R1, the only curve
/// the comms spec lists ("Supported ECC Curves").
pub const ECC_SECP384R1: u64 = 0;

/// Bytes of the realm attestation key as EL3 hands it over: the P-384
/// private scalar, big-endian (what TF-A's QEMU port provides and TF-RMM
/// imports).
pub const REALM_KEY_SIZE: usize = 48;

/// Platform challenge sizes (A7.2.3.2.2): SHA-256, SHA-384, SHA-512.
pub const CHALLENGE_SIZES: [u64; 3] = [32, 48, 64];

/// Signer ID claimed for every software component (A7.2.3.2.7). Rampart's
/// images are not signed, so there is no signing authority whose key could
/// be hashed; all zeroes says so and cannot be mistaken for a real key hash.
pub const UNSIGNED_SIGNER_ID: [u8; 32] = [0; 32];

/// Component type claims of the images root measures: TF-A's image names,
/// which the roles match (root replaces BL31).
pub const ROOT_COMPONENT: &str = "BL31";
pub const RMM_COMPONENT: &str = "RMM";

/// One measured firmware image: a software component of the platform token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measurement {
    /// Component type claim, e.g. [`ROOT_COMPONENT`].
    pub kind: &'static str,
    pub version: &'static str,
    /// SHA-256 of the image bytes.
    pub sha256: [u8; 32],
}

impl Measurement {
    pub fn of(kind: &'static str, version: &'static str, image: &[u8]) -> Self {
        Self {
            kind,
            version,
            sha256: Sha256::digest(image).into(),
        }
    }
}

/// The EL3<->RMM shared buffer: its physical address and its bytes.
pub struct SharedBuffer<'a> {
    pa: u64,
    bytes: &'a mut [u8],
}

impl<'a> SharedBuffer<'a> {
    pub fn new(pa: u64, bytes: &'a mut [u8]) -> Self {
        Self { pa, bytes }
    }

    /// The caller's buffer `[buf_pa, buf_pa + buf_size)`, after the two
    /// checks both attestation calls start with: BAD_ADDR when `buf_pa` is
    /// outside the shared buffer, INVAL when the end is.
    fn window(&mut self, buf_pa: u64, buf_size: u64) -> Result<&mut [u8], RmmEl3Status> {
        let len = self.bytes.len() as u64;
        let offset = buf_pa
            .checked_sub(self.pa)
            .filter(|&o| o < len)
            .ok_or(RmmEl3Status::BadAddr)?;
        let end = offset
            .checked_add(buf_size)
            .filter(|&e| e <= len)
            .ok_or(RmmEl3Status::Inval)?;
        Ok(&mut self.bytes[offset as usize..end as usize])
    }
}

/// RMM_ATTEST_GET_REALM_KEY's results: x0 status, x1 key size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealmKeyReply {
    pub status: RmmEl3Status,
    pub key_size: u64,
}

impl RealmKeyReply {
    fn error(status: RmmEl3Status) -> Self {
        Self {
            status,
            key_size: 0,
        }
    }

    pub fn regs(&self) -> [u64; 2] {
        [self.status.reg(), self.key_size]
    }
}

/// RMM_ATTEST_GET_PLAT_TOKEN's results: x0 status, x1 hunk size, x2
/// remaining bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlatTokenReply {
    pub status: RmmEl3Status,
    pub hunk_size: u64,
    pub remaining: u64,
}

impl PlatTokenReply {
    pub fn error(status: RmmEl3Status) -> Self {
        Self {
            status,
            hunk_size: 0,
            remaining: 0,
        }
    }

    pub fn regs(&self) -> [u64; 3] {
        [self.status.reg(), self.hunk_size, self.remaining]
    }
}

/// A platform token being handed out in hunks.
struct TokenInProgress {
    bytes: Vec<u8>,
    sent: usize,
}

/// Where root gets the realm attestation key and platform tokens from: a
/// key derived in root ([`PlatformAttestation`]) or a platform root of
/// trust beside it (the RSE on RD-V3, [`crate::rse`]).
pub trait PlatformSource {
    /// Writes the RAK's private scalar (P-384, big-endian) into `out`.
    fn realm_key(&self, out: &mut [u8; REALM_KEY_SIZE]) -> Result<(), SourceError>;
    /// A signed platform token whose challenge claim is `challenge`.
    fn platform_token(&self, challenge: &[u8]) -> Result<Vec<u8>, SourceError>;
}

/// The source could not provide what was asked (the RMM gets E_RMM_UNK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceError;

/// The EL3 attestation service: the RMM-EL3 calls, over a platform source.
///
/// One lock guards the token in progress and root's use of the shared
/// buffer: calls from several RMM CPUs are serialised, and a platform token
/// call that finds the lock taken answers E_RMM_AGAIN.
pub struct El3Attestation<S> {
    source: S,
    /// Whether the RAK has been handed over: it leaves root once per boot
    /// (TF-RMM and Rampart's RMM ask at cold boot only), so that afterwards
    /// the RMM's attestation service is its only holder.
    realm_key_given: Mutex<bool>,
    token: Mutex<Option<TokenInProgress>>,
}

impl<S> core::ops::Deref for El3Attestation<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.source
    }
}

/// The development platform source: the platform's identity, the
/// measurements of this boot, and both keys, derived from a secret in the
/// board data.
pub struct PlatformAttestation {
    identity: PlatformIdentity,
    components: [Measurement; 2],
    cpak: SigningKey,
    instance_id: [u8; 33],
    /// The RAK until it is handed over (then dropped, zeroized).
    rak: Mutex<Option<SigningKey>>,
}

impl PlatformAttestation {
    /// Derives the keys from `secret`: CPAK with no context, RAK bound to
    /// the RMM's measurement.
    pub fn new(
        secret: &[u8],
        identity: PlatformIdentity,
        root: Measurement,
        rmm: Measurement,
    ) -> Self {
        let cpak = keys::derive(secret, Purpose::Cpak, &[]);
        let instance_id = instance_id(cpak.verifying_key());
        Self {
            identity,
            components: [root, rmm],
            cpak,
            instance_id,
            rak: Mutex::new(Some(keys::derive(secret, Purpose::Rak, &rmm.sha256))),
        }
    }

    /// This source as an EL3 service.
    pub fn into_service(self) -> El3Attestation<Self> {
        El3Attestation::new(self)
    }

    /// The development source of `board`, or None when its attestation
    /// source is another kind.
    pub fn for_board(board: &BoardInfo, root: Measurement, rmm: Measurement) -> Option<Self> {
        match board.attestation {
            AttestationSource::DevelopmentSecret(dev) => {
                Some(Self::new(dev.secret, dev.identity, root, rmm))
            }
            _ => None,
        }
    }

    /// The public half of the platform attestation key: what a verifier
    /// checks platform tokens with.
    pub fn cpak_public(&self) -> VerifyingKey {
        *self.cpak.verifying_key()
    }

    /// The instance ID claim (A7.2.3.2.4).
    pub fn instance_id(&self) -> &[u8; 33] {
        &self.instance_id
    }

    /// The software components, root first.
    pub fn components(&self) -> &[Measurement; 2] {
        &self.components
    }

    /// A signed platform token (COSE_Sign1, ES384, 1.0 profile) with
    /// `challenge` as its challenge claim.
    pub fn platform_token(&self, challenge: &[u8]) -> Result<Vec<u8>, TokenError> {
        let components = self.components.each_ref().map(sw_component);
        let claims = PlatformClaims {
            profile: Profile::Cca1_0,
            challenge,
            implementation_id: &self.identity.implementation_id,
            instance_id: &self.instance_id,
            config: self.identity.config,
            lifecycle: self.identity.lifecycle,
            sw_components: &components,
            verification_service: self.identity.verification_service,
            hash_algo: token::SHA_256,
        };
        token::sign1(token::platform_claims(&claims)?, &self.cpak)
    }
}

impl PlatformSource for PlatformAttestation {
    fn realm_key(&self, out: &mut [u8; REALM_KEY_SIZE]) -> Result<(), SourceError> {
        // SigningKey zeroizes itself when dropped, at the end of this call.
        let rak = self.rak.lock().take().ok_or(SourceError)?;
        let mut scalar = rak.to_bytes();
        out.copy_from_slice(&scalar);
        scalar.zeroize();
        Ok(())
    }

    fn platform_token(&self, challenge: &[u8]) -> Result<Vec<u8>, SourceError> {
        PlatformAttestation::platform_token(self, challenge).map_err(|_| SourceError)
    }
}

impl<S: PlatformSource> El3Attestation<S> {
    pub fn new(source: S) -> Self {
        Self {
            source,
            realm_key_given: Mutex::new(false),
            token: Mutex::new(None),
        }
    }

    /// RMM_ATTEST_GET_REALM_KEY (x1 `buf_pa`, x2 `buf_size`, x3
    /// `ecc_curve`): writes the RAK's private scalar at `buf_pa`. Failure
    /// conditions in the comms spec's order: BAD_ADDR (`buf_pa` outside the
    /// shared buffer), INVAL (its end outside), INVAL (curve not listed),
    /// UNK (anything else: here, a buffer too small for the key, or the key
    /// already handed over: it is given once per boot, then dropped).
    ///
    /// `shared` is called, at most once, with the service's lock held.
    pub fn get_realm_key<'b>(
        &self,
        shared: impl FnOnce() -> SharedBuffer<'b>,
        buf_pa: u64,
        buf_size: u64,
        ecc_curve: u64,
    ) -> RealmKeyReply {
        let _exclusive = self.token.lock();
        let mut shared = shared();
        let window = match shared.window(buf_pa, buf_size) {
            Ok(w) => w,
            Err(status) => return RealmKeyReply::error(status),
        };
        if ecc_curve != ECC_SECP384R1 {
            return RealmKeyReply::error(RmmEl3Status::Inval);
        }
        let Some(out) = window.get_mut(..REALM_KEY_SIZE) else {
            return RealmKeyReply::error(RmmEl3Status::Unknown);
        };
        let mut given = self.realm_key_given.lock();
        if *given {
            return RealmKeyReply::error(RmmEl3Status::Unknown);
        }
        let mut key = [0u8; REALM_KEY_SIZE];
        let fetched = self.source.realm_key(&mut key);
        out.copy_from_slice(&key);
        key.zeroize();
        if fetched.is_err() {
            out.fill(0);
            return RealmKeyReply::error(RmmEl3Status::Unknown);
        }
        *given = true;
        RealmKeyReply {
            status: RmmEl3Status::Ok,
            key_size: REALM_KEY_SIZE as u64,
        }
    }

    /// RMM_ATTEST_GET_PLAT_TOKEN (x1 `buf_pa`, x2 `buf_size`, x3 `c_size`).
    ///
    /// A non-zero `c_size` starts a token: the challenge is the first
    /// `c_size` bytes of the caller's buffer, the token is (re)generated and
    /// its first hunk returned. `c_size` 0 continues the token in progress.
    /// The token is handed out in hunks of at most `buf_size` bytes; after
    /// the last one, no token is in progress.
    ///
    /// Failure conditions in the comms spec's order: AGAIN (another CPU is
    /// in the service), BAD_ADDR (`buf_pa` outside the shared buffer), INVAL
    /// (its end outside), INVAL (a non-zero `c_size` that is not a SHA-256,
    /// -384 or -512 size), INVAL (`c_size` 0 with no token in progress), and
    /// then INVAL for a challenge that does not fit the caller's buffer
    /// (`c_size` > `buf_size`: the challenge must be passed in the buffer);
    /// UNK when the token cannot be built. A failed call changes nothing.
    ///
    /// `shared` is called, at most once, with the service's lock held.
    pub fn get_plat_token<'b>(
        &self,
        shared: impl FnOnce() -> SharedBuffer<'b>,
        buf_pa: u64,
        buf_size: u64,
        c_size: u64,
    ) -> PlatTokenReply {
        let Some(mut in_progress) = self.token.try_lock() else {
            return PlatTokenReply::error(RmmEl3Status::Again);
        };
        let mut shared = shared();
        let window = match shared.window(buf_pa, buf_size) {
            Ok(w) => w,
            Err(status) => return PlatTokenReply::error(status),
        };
        if c_size != 0 && !CHALLENGE_SIZES.contains(&c_size) {
            return PlatTokenReply::error(RmmEl3Status::Inval);
        }
        if c_size == 0 && in_progress.is_none() {
            return PlatTokenReply::error(RmmEl3Status::Inval);
        }
        if c_size != 0 {
            // Copied out first: the buffer is overwritten with the token.
            let mut challenge = [0u8; 64];
            let challenge = &mut challenge[..c_size as usize];
            let Some(from_buffer) = window.get(..challenge.len()) else {
                return PlatTokenReply::error(RmmEl3Status::Inval);
            };
            challenge.copy_from_slice(from_buffer);
            let Ok(bytes) = self.source.platform_token(challenge) else {
                return PlatTokenReply::error(RmmEl3Status::Unknown);
            };
            *in_progress = Some(TokenInProgress { bytes, sent: 0 });
        }
        let Some(token) = in_progress.as_mut() else {
            return PlatTokenReply::error(RmmEl3Status::Unknown);
        };
        let rest = &token.bytes[token.sent..];
        let hunk = rest.len().min(window.len());
        window[..hunk].copy_from_slice(&rest[..hunk]);
        token.sent += hunk;
        let remaining = token.bytes.len() - token.sent;
        if remaining == 0 {
            *in_progress = None;
        }
        PlatTokenReply {
            status: RmmEl3Status::Ok,
            hunk_size: hunk as u64,
            remaining: remaining as u64,
        }
    }
}

fn sw_component(m: &Measurement) -> SwComponent<'_> {
    SwComponent {
        kind: m.kind,
        measurement: &m.sha256,
        version: m.version,
        signer_id: &UNSIGNED_SIGNER_ID,
        hash_algo: token::SHA_256,
    }
}

/// The instance ID claim (A7.2.3.2.4) of the platform whose attestation key
/// is `cpak`: 0x01 then SHA-256 of the key's SEC1 uncompressed point.
pub fn instance_id(cpak: &VerifyingKey) -> [u8; 33] {
    let mut id = [0u8; 33];
    id[0] = 0x01;
    id[1..].copy_from_slice(&Sha256::digest(cpak.to_sec1_point(false).as_bytes()));
    id
}

/// The CPAK public key of a board with a development attestation source
/// (what a verifier of that board's tokens needs), None for other sources.
pub fn development_cpak_public(board: &BoardInfo) -> Option<VerifyingKey> {
    match board.attestation {
        AttestationSource::DevelopmentSecret(dev) => {
            Some(*keys::derive(dev.secret, Purpose::Cpak, &[]).verifying_key())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_checks_start_then_end() {
        let mut bytes = [0u8; 64];
        let mut shared = SharedBuffer::new(0x1000, &mut bytes);
        assert_eq!(shared.window(0x1000, 64).map(|w| w.len()), Ok(64));
        assert_eq!(shared.window(0x103f, 1).map(|w| w.len()), Ok(1));
        assert_eq!(shared.window(0x103f, 0).map(|w| w.len()), Ok(0));
        // The start decides BAD_ADDR, even with an impossible size.
        for pa in [0xfff, 0x1040, 0, u64::MAX] {
            assert_eq!(shared.window(pa, u64::MAX), Err(RmmEl3Status::BadAddr));
        }
        assert_eq!(shared.window(0x1001, 64), Err(RmmEl3Status::Inval));
        assert_eq!(shared.window(0x103f, u64::MAX), Err(RmmEl3Status::Inval));
    }

    #[test]
    fn replies_fill_the_registers_the_spec_names() {
        let key = RealmKeyReply {
            status: RmmEl3Status::Ok,
            key_size: 48,
        };
        assert_eq!(key.regs(), [0, 48]);
        assert_eq!(
            RealmKeyReply::error(RmmEl3Status::BadAddr).regs(),
            [(-2i64) as u64, 0]
        );
        let hunk = PlatTokenReply {
            status: RmmEl3Status::Ok,
            hunk_size: 100,
            remaining: 7,
        };
        assert_eq!(hunk.regs(), [0, 100, 7]);
        assert_eq!(
            PlatTokenReply::error(RmmEl3Status::Again).regs(),
            [(-6i64) as u64, 0, 0]
        );
    }

    #[test]
    fn measurements_are_sha256_of_the_image() {
        let m = Measurement::of(RMM_COMPONENT, "1.2.3", b"abc");
        // FIPS 180-2 appendix B.1.
        assert_eq!(m.sha256[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(m.sha256[28..], [0xf2, 0x00, 0x15, 0xad]);
        assert_eq!((m.kind, m.version), ("RMM", "1.2.3"));
    }
}
