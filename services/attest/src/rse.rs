//! The RSE as root's platform source (FVP RD-V3): the Runtime Security
//! Engine holds the CPAK, signs platform tokens and derives the RAK; root
//! relays the RMM's requests to its delegated attestation service over the
//! MHU (`rampart_rse`), as TF-A's `rdv3_realm_attest_key.c` and
//! `rdv3_plat_attest_token.c` do.

use crate::platform::{PlatformSource, REALM_KEY_SIZE, SourceError};
use alloc::vec;
use alloc::vec::Vec;
use rampart_rse::{Error, Mmio, RakHashAlgorithm, RseClient};
use spin::Mutex;

/// Largest platform token root asks the RSE for: TF-A's buffer for it
/// (`rdv3_plat_attest_token.c` asserts a 4 KB buffer).
pub const TOKEN_BUFFER: usize = 4096;

/// The RSE link; calls are serialised (one MHU channel set, one request
/// at a time).
pub struct RseSource<M> {
    client: Mutex<RseClient<M>>,
    last_error: Mutex<Option<Error>>,
}

impl<M: Mmio> RseSource<M> {
    pub fn new(client: RseClient<M>) -> Self {
        Self {
            client: Mutex::new(client),
            last_error: Mutex::new(None),
        }
    }

    /// Why the last failed request failed (for root's log).
    pub fn last_error(&self) -> Option<Error> {
        *self.last_error.lock()
    }

    fn note<T>(&self, result: Result<T, Error>) -> Result<T, SourceError> {
        result.map_err(|e| {
            *self.last_error.lock() = Some(e);
            SourceError
        })
    }
}

impl<M: Mmio> PlatformSource for RseSource<M> {
    /// GET_DELEGATED_KEY: a P-384 RAK, public key hashed with SHA-256 as
    /// TF-A asks (`cca_attestation_get_realm_key`).
    fn realm_key(&self, out: &mut [u8; REALM_KEY_SIZE]) -> Result<(), SourceError> {
        let got = self
            .client
            .lock()
            .get_delegated_key(RakHashAlgorithm::Sha256, out, None);
        self.note(got).map(|_| ())
    }

    /// GET_PLATFORM_TOKEN with the RMM's challenge (the hash of the RAK's
    /// public key).
    fn platform_token(&self, challenge: &[u8]) -> Result<Vec<u8>, SourceError> {
        let mut token = vec![0; TOKEN_BUFFER];
        let got = self
            .client
            .lock()
            .get_platform_token(challenge, &mut token, None);
        let len = self.note(got)?;
        token.truncate(len);
        Ok(token)
    }
}
