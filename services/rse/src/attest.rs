//! The two delegated-attestation calls root makes for the RMM: the realm
//! attestation key (RAK, TF-M's "delegated attestation key") and the CCA
//! platform token bound to it.
//!
//! Sources: TF-A v2.15.0 `lib/psa/delegated_attestation.c` (iovec layout),
//! `include/lib/psa/delegated_attestation.h` (message types),
//! `include/lib/psa/psa_manifest/sid.h` (service handle),
//! `lib/psa/cca_attestation.c` (curve, key size, hash algorithm, key length
//! check), `plat/arm/board/neoverse_rd/platform/rdv3/rdv3_plat_attest_token.c`
//! (4 KiB token buffer), `services/std_svc/rmmd/rmmd_attest.c` (challenge
//! sizes). PSA values are from the PSA Crypto API.

use crate::client::{DmaWindow, RseClient};
use crate::mhu::Mmio;
use crate::psa::PsaCall;
use crate::{CallError, Error};

/// `RSE_DELEGATED_SERVICE_HANDLE`.
pub const RSE_DELEGATED_SERVICE_HANDLE: i32 = 0x4000_0111;
/// `RSE_DELEGATED_ATTEST_GET_DELEGATED_KEY`.
pub const GET_DELEGATED_KEY: i32 = 1001;
/// `RSE_DELEGATED_ATTEST_GET_PLATFORM_TOKEN`.
pub const GET_PLATFORM_TOKEN: i32 = 1002;

/// `PSA_ECC_FAMILY_SECP_R1`, sent as one byte.
pub const PSA_ECC_FAMILY_SECP_R1: u8 = 0x12;
/// Key size in bits: P-384, the only curve RMMs support.
pub const RAK_BITS: u32 = 384;
/// Private key bytes of a P-384 RAK (`PSA_BITS_TO_BYTES(384)`); TF-A
/// rejects any other length.
pub const RAK_SIZE: usize = 48;

/// `PSA_ALG_SHA_256` / `_384` / `_512`.
pub const PSA_ALG_SHA_256: u32 = 0x0200_0009;
pub const PSA_ALG_SHA_384: u32 = 0x0200_000A;
pub const PSA_ALG_SHA_512: u32 = 0x0200_000B;

/// Token buffer TF-A's RD-V3 port passes (`SZ_4K`).
pub const TFA_TOKEN_BUFFER_SIZE: usize = 4096;

/// The hash the RMM will use to bind the RAK's public key into the
/// platform token (the `hash_algo` input of GET_DELEGATED_KEY). The
/// challenge of GET_PLATFORM_TOKEN is that hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RakHashAlgorithm {
    /// What TF-A's `cca_attestation_get_realm_key` asks for.
    Sha256,
    Sha384,
    Sha512,
}

impl RakHashAlgorithm {
    pub const fn psa_alg(self) -> u32 {
        match self {
            Self::Sha256 => PSA_ALG_SHA_256,
            Self::Sha384 => PSA_ALG_SHA_384,
            Self::Sha512 => PSA_ALG_SHA_512,
        }
    }
}

/// Challenge (hash of the RAK public key) sizes the platform token takes:
/// SHA-256, SHA-384, SHA-512 digests (`rmmd_attest_get_platform_token`).
pub const CHALLENGE_SIZES: [usize; 3] = [32, 48, 64];

impl<M: Mmio> RseClient<M> {
    /// GET_DELEGATED_KEY for a P-384 RAK: writes the private key (big-endian
    /// scalar, [`RAK_SIZE`] bytes) into `key` and returns its length.
    ///
    /// Inputs, in order: the curve family (1 byte), the key size in bits
    /// (u32), the hash algorithm (u32); output: the key. `key` must hold at
    /// least [`RAK_SIZE`] bytes; its length is what the RSE is told.
    pub fn get_delegated_key(
        &mut self,
        hash: RakHashAlgorithm,
        key: &mut [u8],
        window: Option<&mut dyn DmaWindow>,
    ) -> Result<usize, Error> {
        if key.len() < RAK_SIZE {
            return Err(Error::InvalidCall(CallError::OutputBufferTooSmall {
                needed: RAK_SIZE,
                size: key.len(),
            }));
        }
        let curve = [PSA_ECC_FAMILY_SECP_R1];
        let bits = RAK_BITS.to_le_bytes();
        let alg = hash.psa_alg().to_le_bytes();
        let inputs: [&[u8]; 3] = [&curve, &bits, &alg];
        let mut outputs: [&mut [u8]; 1] = [key];
        let sizes = self.psa_call(
            PsaCall {
                handle: RSE_DELEGATED_SERVICE_HANDLE,
                call_type: GET_DELEGATED_KEY,
                inputs: &inputs,
                outputs: &mut outputs,
            },
            window,
        )?;
        if sizes[0] != RAK_SIZE {
            return Err(Error::UnexpectedKeySize(sizes[0]));
        }
        Ok(sizes[0])
    }

    /// GET_PLATFORM_TOKEN: writes the platform token for `challenge` (the
    /// hash of the RAK public key) into `token` and returns its length.
    ///
    /// Input: the challenge; output: the token. The RSE is offered at most
    /// what the transfer can carry (for embed, the RSE's limit less the
    /// challenge; for pointer access, the window less the challenge), so a
    /// large `token` slice such as the RMM's 4 KiB buffer can be passed
    /// as is.
    pub fn get_platform_token(
        &mut self,
        challenge: &[u8],
        token: &mut [u8],
        window: Option<&mut dyn DmaWindow>,
    ) -> Result<usize, Error> {
        if !CHALLENGE_SIZES.contains(&challenge.len()) {
            return Err(Error::InvalidChallengeSize(challenge.len()));
        }
        let window_size = window.as_deref().map(|w| w.size());
        let offered =
            token
                .len()
                .min(self.output_capacity(challenge.len(), token.len(), window_size));
        let inputs: [&[u8]; 1] = [challenge];
        let mut outputs: [&mut [u8]; 1] = [&mut token[..offered]];
        let sizes = self.psa_call(
            PsaCall {
                handle: RSE_DELEGATED_SERVICE_HANDLE,
                call_type: GET_PLATFORM_TOKEN,
                inputs: &inputs,
                outputs: &mut outputs,
            },
            window,
        )?;
        Ok(sizes[0])
    }
}
