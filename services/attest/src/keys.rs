//! Attestation keys derived from a board secret: HKDF-SHA-384 (RFC 5869)
//! expands the secret into a P-384 scalar; a candidate outside [1, n) is
//! rejected and the next counter value tried (FIPS 186-5 A.2.2 style).

use hkdf::Hkdf;
use p384::ecdsa::SigningKey;
use sha2::Sha384;

/// What a key is for: each purpose has its own HKDF label, so the keys
/// are independent even though they come from one secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The CCA platform attestation key (signs platform tokens; root only).
    Cpak,
    /// The realm attestation key (signs realm tokens; handed to the RMM).
    Rak,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Cpak => b"rampart cca platform attestation key v1",
            Purpose::Rak => b"rampart realm attestation key v1",
        }
    }
}

/// Derives the P-384 key for `purpose` from `secret`, bound to `context`
/// (for the RAK: the measurement of the RMM image it is given to, so a
/// different RMM never receives the same key).
pub fn derive(secret: &[u8], purpose: Purpose, context: &[u8]) -> SigningKey {
    let hkdf = Hkdf::<Sha384>::new(Some(purpose.label()), secret);
    let mut counter: u32 = 0;
    loop {
        let mut scalar = [0u8; 48];
        // 48 bytes is far below HKDF-SHA-384's 255 * 48 byte limit.
        let expanded = hkdf.expand_multi_info(&[context, &counter.to_be_bytes()], &mut scalar);
        let key = expanded
            .ok()
            .and_then(|()| SigningKey::from_slice(&scalar).ok());
        scalar.fill(0);
        if let Some(key) = key {
            return key;
        }
        // Probability about 2^-190 per try.
        counter += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_and_separated() {
        let a = derive(b"secret", Purpose::Rak, b"rmm");
        assert_eq!(
            a.to_bytes(),
            derive(b"secret", Purpose::Rak, b"rmm").to_bytes()
        );
        assert_ne!(
            a.to_bytes(),
            derive(b"secret", Purpose::Cpak, b"rmm").to_bytes()
        );
        assert_ne!(
            a.to_bytes(),
            derive(b"secret", Purpose::Rak, b"rmm2").to_bytes()
        );
        assert_ne!(
            a.to_bytes(),
            derive(b"secret2", Purpose::Rak, b"rmm").to_bytes()
        );
    }
}
