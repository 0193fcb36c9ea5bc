//! The `rampart-verify` command: output, exit codes, and the two ways of
//! giving it a CPAK.

mod support;

use p384::pkcs8::{EncodePublicKey, LineEnding};
use rampart_verify::token::label;
use rampart_verify::{FileOverrides, RealmDescription, predict_rim_with_files};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use support::*;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart-verify"))
        .args(args)
        .output()
        .expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nshost-guest-realm.json")
}

/// A fake guest image (one file per test: they run in parallel) and the
/// nshost realm's predicted RIM with it.
fn guest_image(name: &str) -> (PathBuf, Vec<u8>) {
    let image = scratch().join(name);
    std::fs::write(&image, [0x3c; 0x1234]).unwrap();
    let desc = RealmDescription::from_json_file(&example()).unwrap();
    let files = FileOverrides::from([("guest.bin".to_string(), image.clone())]);
    let rim = predict_rim_with_files(&desc, Path::new("."), &files).unwrap();
    (image, rim.sha256.to_vec())
}

fn write_token(name: &str, builder: &TokenBuilder) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, builder.build()).unwrap();
    path
}

/// The CPAK as a PEM file, written once (the tests run in parallel).
fn cpak_pem() -> PathBuf {
    static PEM: OnceLock<PathBuf> = OnceLock::new();
    PEM.get_or_init(|| {
        let path = scratch().join("cpak.pem");
        let pem = cpak()
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        std::fs::write(&path, pem).unwrap();
        path
    })
    .clone()
}

#[test]
fn rim_prints_both_algorithms() {
    let (image, sha256) = guest_image("guest-rim.bin");
    let file = format!("guest.bin={}", image.display());
    let out = run(&["rim", example().to_str().unwrap(), "--file", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "RIM sha-256 (realm's algorithm): {}",
            hex::encode(&sha256)
        )),
        "{text}"
    );
    assert!(
        text.contains("RIM sha-512 (if created with this algorithm): "),
        "{text}"
    );

    let out = run(&[
        "rim",
        example().to_str().unwrap(),
        "--file",
        &file,
        "--json",
        "--steps",
    ]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["realm_hash_algo"], "sha256");
    assert_eq!(json["sha256"], hex::encode(&sha256));
    assert_eq!(json["steps"].as_array().unwrap().len(), 1 + 65 + 2 + 1);
}

#[test]
fn rim_errors_exit_non_zero() {
    // Without the image override, guest.bin is looked up beside the example.
    let out = run(&["rim", example().to_str().unwrap(), "--file", "nonsense"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("expected NAME=PATH"));
    let bad = scratch().join("bad.json");
    std::fs::write(&bad, r#"{"params": {}, "operations": []}"#).unwrap();
    let out = run(&["rim", bad.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing field"), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
}

#[test]
fn token_verifies_with_a_pem_or_hex_cpak() {
    let token = write_token("good.cbor", &TokenBuilder::spec());
    let challenge = hex::encode(CHALLENGE);
    let out = run(&[
        "token",
        token.to_str().unwrap(),
        "--cpak",
        cpak_pem().to_str().unwrap(),
        "--challenge",
        &challenge,
        "--rim",
        &hex::encode([0x1d; 32]),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("OK: realm challenge matches --challenge"),
        "{text}"
    );
    assert!(text.contains("OK: RIM matches --rim"));
    assert!(text.contains("OK: token verified"));
    assert!(text.contains("tag:arm.com,2023:cca_platform#1.0.0"));

    // The key as hex on the command line, the token as hex text.
    let hex_token = scratch().join("good.hex");
    std::fs::write(&hex_token, hex::encode(TokenBuilder::ssd().build())).unwrap();
    let sec1 = hex::encode(cpak().verifying_key().to_sec1_point(false).as_bytes());
    let out = run(&[
        "token",
        hex_token.to_str().unwrap(),
        "--cpak",
        &sec1,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["token"]["profile"], "cca-ssd-draft");
}

#[test]
fn token_failures_are_specific_and_non_zero() {
    let pem = cpak_pem();
    let pem = pem.to_str().unwrap();
    let bad = TokenBuilder::spec().set(true, label::RIM, bytes(&[0; 7]));
    let token = write_token("bad-rim.cbor", &bad);
    let out = run(&["token", token.to_str().unwrap(), "--cpak", pem]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "rampart-verify: realm token: claim 44238 (RIM) must be 32, 48 or 64 bytes, got 7"
    );
    let out = run(&["token", token.to_str().unwrap(), "--cpak", pem, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert!(json["error"].as_str().unwrap().contains("44238"));

    let good = write_token("good2.cbor", &TokenBuilder::spec());
    let out = run(&[
        "token",
        good.to_str().unwrap(),
        "--cpak",
        pem,
        "--challenge",
        "00",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("realm challenge (claim 10) mismatch"));
    let out = run(&["token", good.to_str().unwrap(), "--cpak", "04abcd"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("neither a file nor a hex SEC1 point"),
        "{}",
        stderr(&out)
    );
    let other = hex::encode(key(3).verifying_key().to_sec1_point(true).as_bytes());
    let out = run(&["token", good.to_str().unwrap(), "--cpak", &other]);
    assert!(stderr(&out).contains("platform token: the signature does not verify with the CPAK"));
    let out = run(&["token", "/nonexistent/token.cbor", "--cpak", pem]);
    assert!(!out.status.success());
}

#[test]
fn token_against_a_realm_description() {
    let (image, sha256) = guest_image("guest-token.bin");
    let desc = RealmDescription::from_json_file(&example()).unwrap();
    let matching = TokenBuilder::spec()
        .set(true, label::RIM, bytes(&sha256))
        .set(
            true,
            label::PERSONALIZATION_VALUE,
            bytes(&desc.params.rpv.unwrap()),
        );
    let token = write_token("nshost.cbor", &matching);
    let file = format!("guest.bin={}", image.display());
    let pem = cpak_pem();
    let args = |token: &Path| {
        run(&[
            "token",
            token.to_str().unwrap(),
            "--cpak",
            pem.to_str().unwrap(),
            "--realm",
            example().to_str().unwrap(),
            "--file",
            &file,
        ])
    };
    let out = args(&token);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("OK: RIM matches the sha-256 prediction"));
    assert!(stdout(&out).contains("OK: personalization value matches"));

    let other = write_token("other.cbor", &TokenBuilder::spec());
    let out = args(&other);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("RIM (claim 44238) mismatch"),
        "{}",
        stderr(&out)
    );
}
