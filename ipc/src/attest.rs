//! The RMM attestation service's protocol, and the layout of a REC's
//! attestation auxiliary granules (RSI_ATTESTATION_TOKEN_INIT/CONTINUE).
//!
//! A REC's aux granules are, in order: FP/SIMD state, the claims granule
//! ([`TokenClaims`], written by the REC service at INIT), and
//! [`TOKEN_GRANULES`] granules that receive the signed CCA token. The
//! attestation service reads the claims and writes the token through
//! leases; the REC service copies the token out to the realm.

use crate::{Endpoint, Protocol};
use bytemuck::{Pod, Zeroable};
use serde::{Deserialize, Serialize};

/// Aux granules that hold a CCA token (the largest token a realm can get
/// is `TOKEN_GRANULES` * 4 KB; RSI_ATTESTATION_TOKEN_INIT reports it).
pub const TOKEN_GRANULES: usize = 2;
/// Index of the claims granule among a REC's aux granules.
pub const CLAIMS_AUX: usize = 1;
/// Index of the first token granule.
pub const TOKEN_AUX: usize = 2;
/// Largest token, in bytes.
pub const MAX_TOKEN: u64 = (TOKEN_GRANULES * crate::lease::GRANULE_SIZE) as u64;

/// What INIT captured for the realm token: the realm's challenge and
/// measurements at that moment (A7.2.3.1). Measurements are 64 bytes;
/// SHA-256 uses the first 32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct TokenClaims {
    pub challenge: [u8; 64],
    pub personalization_value: [u8; 64],
    pub rim: [u8; 64],
    pub rems: [[u8; 64]; 4],
    /// RmiHashAlgorithm: 0 SHA-256, 1 SHA-512.
    pub hash_algo: u64,
}

impl TokenClaims {
    pub const SIZE: usize = core::mem::size_of::<TokenClaims>();

    pub fn of(g: &crate::lease::Granule) -> &TokenClaims {
        bytemuck::from_bytes(&g.bytes()[..Self::SIZE])
    }

    pub fn of_mut(g: &mut crate::lease::Granule) -> &mut TokenClaims {
        bytemuck::from_bytes_mut(&mut g.bytes_mut()[..Self::SIZE])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AttestRequest {
    /// Build and sign the realm token from the claims granule, wrap it
    /// with the platform token and write the CCA token into the token
    /// granules. Each granule is a REC_AUX granule of a REC the caller
    /// holds.
    Sign {
        claims: u64,
        token: [u64; TOKEN_GRANULES],
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AttestReply {
    /// The CCA token is in the token granules, `len` bytes.
    Token { len: u32 },
    /// The RMM has no attestation key (EL3 did not provide one at boot).
    Unavailable,
    /// The token could not be built (too large, or a granule could not be
    /// mapped).
    Failed,
}

pub struct AttestProtocol;

impl Protocol for AttestProtocol {
    const ENDPOINT: Endpoint = Endpoint::Attestation;
    type Request = AttestRequest;
    type Reply = AttestReply;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::round_trip;

    #[test]
    fn messages_round_trip() {
        round_trip(&AttestRequest::Sign {
            claims: 0x1000,
            token: [0x2000, u64::MAX],
        });
        for reply in [
            AttestReply::Token { len: 1234 },
            AttestReply::Unavailable,
            AttestReply::Failed,
        ] {
            round_trip(&reply);
        }
    }

    #[test]
    fn claims_fit_their_granule() {
        const { assert!(TokenClaims::SIZE <= crate::lease::GRANULE_SIZE) };
        assert_eq!(TokenClaims::SIZE, 64 * 7 + 8);
    }
}
