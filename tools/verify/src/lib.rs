//! Rampart's relying-party tool, as a library and as the `rampart-verify`
//! command. It works from the specification alone (Arm RMM spec DEN0137
//! 1.0-rel0), independently of the firmware's own code, so that it can
//! check the firmware.
//!
//! - [`rim`]: predicts the Realm Initial Measurement of a realm from a
//!   description of its parameters and of the measured commands the host
//!   issues to build it (A7.1.1).
//! - [`token`]: verifies a CCA attestation token (A7.2.3) against the
//!   platform's attestation public key (CPAK) and decodes its claims.
//!
//! # Realm description (JSON)
//!
//! ```json
//! {
//!   "comment": "optional free text",
//!   "params": {
//!     "flags": { "lpa2": false, "sve": false, "pmu": false },
//!     "s2sz": 40,
//!     "sve_vl": 0,
//!     "num_bps": 1,
//!     "num_wps": 1,
//!     "pmu_num_ctrs": 0,
//!     "hash_algo": "sha256",
//!     "rpv": "64 bytes of hex (optional: not measured, checked against a token)"
//!   },
//!   "operations": [
//!     { "init_ripas": { "base": "0x40000000", "top": "0x40040000", "level": 3 } },
//!     { "data": { "ipa": "0x40000000", "file": "guest.bin", "offset": "0x0",
//!                 "length": "0x1800", "pages": 2, "measure_content": true } },
//!     { "rec": { "pc": "0x40000000", "gprs": ["0x1", "0x2"], "runnable": true, "mpidr": "0x0" } }
//!   ]
//! }
//! ```
//!
//! - `params` are the RmiRealmParams fields (B4.4.12). `flags`, `sve_vl`
//!   and `pmu_num_ctrs` default to zero; `hash_algo` is `sha256` or
//!   `sha512` (`sha-256`/`sha-512` also accepted).
//! - Numbers are JSON numbers or strings, hex with `0x` or decimal (`_`
//!   separators allowed).
//! - `operations` are the measured commands, in the order the host issues
//!   them; unmeasured ones (RTT_CREATE, DATA_CREATE_UNKNOWN, ...) are left
//!   out.
//!   - `init_ripas`: RMI_RTT_INIT_RIPAS over `[base, top)`, however many
//!     calls it takes. Each RTT entry is measured, so `level` (default 3)
//!     says which level's entries cover the range: where the host's RTTs
//!     end there.
//!   - `data`: RMI_DATA_CREATE of consecutive 4 KB pages from `ipa`, with
//!     flags `measure_content` (RMI_MEASURE_CONTENT). The content is
//!     `length` bytes (default: to the end) of `file` from `offset`
//!     (default 0), zero-filled to `pages` pages (default: as many as the
//!     bytes need). `file` is relative to the description's directory
//!     unless the caller maps its name to another path; without `file`,
//!     the pages are zero and `pages` is required.
//!   - `rec`: RMI_REC_CREATE with `pc` and X0..X7 in `gprs` (missing ones
//!     zero). Only a `runnable` REC is measured; `mpidr` is not measured.
//!
//! `examples/nshost-guest-realm.json` describes the realm nshost builds
//! around the test guest.

mod hexser;
pub mod rim;
pub mod token;

pub use rim::{
    FileOverrides, HashAlgo, RealmDescription, RimPrediction, predict_rim, predict_rim_with_files,
};
pub use token::{TokenError, VerifiedToken, verify_token};

/// Reads a CPAK: a PEM SubjectPublicKeyInfo, or a SEC1 point (hex text
/// or raw bytes), given as a file's content.
pub fn parse_cpak(content: &[u8]) -> anyhow::Result<p384::ecdsa::VerifyingKey> {
    use p384::pkcs8::DecodePublicKey;
    let text = std::str::from_utf8(content).ok().map(str::trim);
    if let Some(pem) = text.filter(|t| t.starts_with("-----BEGIN")) {
        return p384::ecdsa::VerifyingKey::from_public_key_pem(pem).map_err(|e| {
            anyhow::anyhow!("not a P-384 PEM public key (SubjectPublicKeyInfo): {e}")
        });
    }
    let sec1 = match text.map(hexser::parse_hex) {
        Some(Ok(bytes)) => bytes,
        _ => content.to_vec(),
    };
    p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| {
        anyhow::anyhow!(
            "not a P-384 public key: expected PEM, or a SEC1 point ({} bytes given)",
            sec1.len()
        )
    })
}

/// Reads a token file's content: raw CBOR, or the same as hex text.
pub fn token_bytes(content: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(content).ok().map(hexser::parse_hex) {
        Some(Ok(bytes)) if !bytes.is_empty() => bytes,
        _ => content.to_vec(),
    }
}

/// Parses hex given on a command line (`0x` prefix and spaces allowed).
pub fn parse_hex_arg(text: &str) -> anyhow::Result<Vec<u8>> {
    hexser::parse_hex(text).map_err(|e| anyhow::anyhow!("{text:?}: {e}"))
}
