//! The attestation token a run's guest obtained: collected from nshost's
//! trace lines (`attestation-challenge`, `attestation-token`,
//! `attestation-token-end`), then verified on this side with the
//! relying-party tool's library, its RIM checked against the tool's
//! prediction for the guest image.

use std::path::{Path, PathBuf};

use crate::board::Board;
use crate::verdict::{CaseResult, RunReport};
use crate::workspace::{GUEST, Workspace};
use rampart_verify::{
    FileOverrides, RealmDescription, VerifiedToken, predict_rim_with_files, verify_token,
};

/// What nshost relayed.
#[derive(Debug, Default)]
pub struct Capture {
    pub challenge: Option<Vec<u8>>,
    pub token: Vec<u8>,
    /// The length announced by `attestation-token-end` (None: not seen).
    pub end: Option<usize>,
    /// A line that did not parse or a piece out of order.
    pub malformed: Option<String>,
}

impl Capture {
    /// Takes one nshost text line; true if it was an attestation line.
    pub fn observe(&mut self, text: &str) -> bool {
        if let Some(hex) = text.strip_prefix("attestation-challenge ") {
            match decode_hex(hex) {
                Some(bytes) => self.challenge = Some(bytes),
                None => self.malformed = Some(text.to_string()),
            }
        } else if let Some(rest) = text.strip_prefix("attestation-token ") {
            let piece = rest
                .split_once(' ')
                .and_then(|(offset, hex)| Some((offset.parse::<usize>().ok()?, decode_hex(hex)?)));
            match piece {
                Some((offset, bytes)) if offset == self.token.len() => {
                    self.token.extend_from_slice(&bytes)
                }
                _ => self.malformed = Some(text.to_string()),
            }
        } else if let Some(len) = text.strip_prefix("attestation-token-end ") {
            match len.trim().parse() {
                Ok(len) => self.end = Some(len),
                Err(_) => self.malformed = Some(text.to_string()),
            }
        } else {
            return false;
        }
        true
    }

    /// The whole token, if it arrived intact.
    pub fn complete(&self) -> Option<&[u8]> {
        (self.malformed.is_none() && self.end == Some(self.token.len()) && !self.token.is_empty())
            .then_some(&self.token[..])
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text.trim()).ok()
}

/// The realm nshost builds around the guest image, for the RIM prediction.
const GUEST_REALM: &str = "tools/verify/examples/nshost-guest-realm.json";

/// Adds the attestation cases ([`check`]) to a run's report.
pub fn judge_token(ws: &Workspace, board: Board, report: &mut RunReport) {
    let cases = check(ws, board, &report.tracker.attestation);
    report.tracker.host_cases += cases.len();
    report.tracker.cases.extend(cases);
}

/// Verifies the relayed token as a relying party would (the relying-party
/// tool's library; the board's development CPAK), checks its challenge
/// against the one the guest used and its RIM against the prediction for
/// the guest image just built, prints the claims, and saves the token
/// and CPAK next to the trace. Two end-to-end cases come out.
pub fn check(ws: &Workspace, board: Board, capture: &Capture) -> Vec<(String, CaseResult)> {
    let out = ws.out_dir(board);
    let reference = Reference {
        out: out.clone(),
        guest: out.join(format!("{}.bin", GUEST.1)),
        components: vec![
            ("BL31", out.join("root.bin")),
            ("RMM", out.join("realm.bin")),
        ],
    };
    check_against(ws, board, capture, &reference)
}

/// What a run's token is checked against: the guest image (for the RIM),
/// the platform's software components as (type, image file), and where
/// the token and CPAK are saved.
pub struct Reference {
    pub out: PathBuf,
    pub guest: PathBuf,
    pub components: Vec<(&'static str, PathBuf)>,
}

/// [`check`] against the images of `reference` rather than the board's
/// last build (e.g. another RMM in place of `realm.bin`).
pub fn check_against(
    ws: &Workspace,
    board: Board,
    capture: &Capture,
    reference: &Reference,
) -> Vec<(String, CaseResult)> {
    let verified = verify(board, capture, &reference.out);
    let rim = verified
        .as_ref()
        .map_err(|_| "no verified token".to_string())
        .and_then(|token| {
            let desc = RealmDescription::from_json_file(&ws.root.join(GUEST_REALM))
                .map_err(|e| format!("{e:#}"))?;
            let files: FileOverrides = [("guest.bin".to_string(), reference.guest.clone())].into();
            let prediction =
                predict_rim_with_files(&desc, &ws.root, &files).map_err(|e| format!("{e:#}"))?;
            println!(
                "attestation: predicted RIM {}",
                hex::encode(prediction.realm_rim())
            );
            token
                .check_rim(prediction.realm_rim())
                .map_err(|e| e.to_string())
        });
    let platform = verified
        .as_ref()
        .map_err(|_| "no verified token".to_string())
        .and_then(|token| platform_measurements(&reference.components, token));
    [
        ("attestation_token_verified", verified.map(|_| ())),
        ("attestation_rim_predicted", rim),
        ("attestation_platform_measurements", platform),
    ]
    .into_iter()
    .map(|(name, result)| {
        let result = match result {
            Ok(()) => CaseResult::Pass,
            Err(e) => {
                println!("attestation: {name}: {e}");
                CaseResult::Fail(e)
            }
        };
        (name.to_string(), result)
    })
    .collect()
}

/// The platform token's software components are the root and RMM images
/// just built: SHA-256 of root.bin and realm.bin (or the images given), as
/// a verifier's reference values would say.
fn platform_measurements(
    components: &[(&str, PathBuf)],
    token: &VerifiedToken,
) -> Result<(), String> {
    use sha2::Digest;
    for (kind, path) in components {
        let kind = *kind;
        let file = path.display();
        let image = std::fs::read(path).map_err(|e| format!("{file}: {e}"))?;
        let want = sha2::Sha256::digest(&image).to_vec();
        let found = token
            .platform
            .sw_components
            .iter()
            .find(|c| c.component_type.as_deref() == Some(kind))
            .ok_or(format!("no {kind} software component"))?;
        if found.measurement != want {
            return Err(format!(
                "{kind} measurement {} is not sha-256({file}) {}",
                hex::encode(&found.measurement),
                hex::encode(want)
            ));
        }
    }
    Ok(())
}

fn verify(board: Board, capture: &Capture, out: &Path) -> Result<VerifiedToken, String> {
    let token = capture.complete().ok_or_else(|| match &capture.malformed {
        Some(line) => format!("malformed token line in the trace: {line}"),
        None => "no complete attestation token in the trace".to_string(),
    })?;
    let info = board.info().map_err(|e| format!("{e:#}"))?;
    let cpak = rampart_attest::platform::development_cpak_public(&info)
        .ok_or("the board has no development CPAK to verify with")?;
    let cpak_hex = hex::encode(cpak.to_sec1_point(false).as_bytes());
    let saved = std::fs::write(out.join("attestation-token.cbor"), token)
        .and_then(|()| std::fs::write(out.join("cpak.hex"), &cpak_hex));
    if let Err(e) = saved {
        println!("attestation: could not save the token: {e}");
    }
    let verified = verify_token(token, &cpak).map_err(|e| e.to_string())?;
    let challenge = capture
        .challenge
        .as_deref()
        .ok_or("no challenge in the trace")?;
    verified
        .check_challenge(challenge)
        .map_err(|e| e.to_string())?;
    println!(
        "attestation: {} bytes, verified with the {} development CPAK:\n{verified}",
        token.len(),
        board.name()
    );
    println!(
        "attestation: saved; check again with: cargo run -p rampart-verify -- token {} --cpak {}",
        out.join("attestation-token.cbor").display(),
        out.join("cpak.hex").display()
    );
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_assemble_in_order_and_anything_else_is_malformed() {
        let mut c = Capture::default();
        assert!(c.observe("attestation-challenge 0a0b"));
        assert!(c.observe("attestation-token 0 d9018f"));
        assert!(c.observe("attestation-token 3 a2"));
        assert!(!c.observe("case x: PASS"));
        assert_eq!(c.complete(), None, "no end yet");
        assert!(c.observe("attestation-token-end 4"));
        assert_eq!(c.complete(), Some(&[0xd9, 0x01, 0x8f, 0xa2][..]));
        assert_eq!(c.challenge.as_deref(), Some(&[0x0a, 0x0b][..]));
        c.observe("attestation-token 9 00");
        assert!(c.malformed.is_some());
        assert_eq!(c.complete(), None);
        let mut odd = Capture::default();
        odd.observe("attestation-token 0 abc");
        assert!(odd.malformed.is_some());
    }
}
