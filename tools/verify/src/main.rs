//! `rampart-verify`: the relying party's side of Arm CCA attestation.
//! See the library documentation for the realm description format.

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use rampart_verify::{
    FileOverrides, RealmDescription, RimPrediction, parse_cpak, parse_hex_arg,
    predict_rim_with_files, token_bytes, verify_token,
};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rampart-verify",
    version,
    about = "Arm CCA relying-party tool: predict a realm's RIM, verify attestation tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Predict the Realm Initial Measurement of a described realm, for
    /// its own hash algorithm and the other one.
    Rim {
        /// The realm description (JSON).
        description: PathBuf,
        #[command(flatten)]
        files: FileArgs,
        /// Also print the RIM after each measured command.
        #[arg(long)]
        steps: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Verify a CCA attestation token and print its claims.
    Token {
        /// The token: raw CBOR, or hex text.
        token: PathBuf,
        /// The CPAK: a file (PEM SubjectPublicKeyInfo, or a SEC1 point as
        /// hex or raw bytes), or a SEC1 point in hex.
        #[arg(long)]
        cpak: String,
        /// The realm challenge the relying party sent (hex; zero-padded to 64 bytes).
        #[arg(long, value_name = "HEX")]
        challenge: Option<String>,
        /// The expected RIM (hex).
        #[arg(long, value_name = "HEX")]
        rim: Option<String>,
        /// A realm description: the token's RIM must be its prediction
        /// (and its RPV, if it gives one, the token's).
        #[arg(long, value_name = "DESCRIPTION")]
        realm: Option<PathBuf>,
        #[command(flatten)]
        files: FileArgs,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct FileArgs {
    /// Use PATH for the file a realm description names NAME (repeatable).
    #[arg(long = "file", value_name = "NAME=PATH")]
    files: Vec<String>,
}

impl FileArgs {
    fn overrides(&self) -> Result<FileOverrides> {
        self.files
            .iter()
            .map(|arg| {
                let (name, path) = arg
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--file {arg:?}: expected NAME=PATH"))?;
                Ok((name.to_string(), PathBuf::from(path)))
            })
            .collect()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = match &cli.command {
        Command::Rim { json, .. } | Command::Token { json, .. } => *json,
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                let out = serde_json::json!({ "ok": false, "error": format!("{e:#}") });
                // Nothing more can be reported if stdout is gone.
                let _ = emit(&format!("{out}\n"));
            }
            eprintln!("rampart-verify: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn predict(description: &Path, files: &FileArgs) -> Result<(RealmDescription, RimPrediction)> {
    let desc = RealmDescription::from_json_file(description)?;
    let base_dir = description.parent().unwrap_or(Path::new("."));
    let rim = predict_rim_with_files(&desc, base_dir, &files.overrides()?)
        .with_context(|| format!("predicting the RIM of {}", description.display()))?;
    Ok((desc, rim))
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Rim {
            description,
            files,
            steps,
            json,
        } => {
            let (_, mut rim) = predict(&description, &files)?;
            if !steps {
                rim.steps.clear();
            }
            if json {
                let mut out = serde_json::to_value(&rim)?;
                out["ok"] = true.into();
                emit(&format!("{}\n", serde_json::to_string_pretty(&out)?))
            } else {
                let mut out = String::new();
                for step in &rim.steps {
                    writeln!(out, "{:<64} {}", step.command, hex::encode(&step.rim))?;
                }
                write!(out, "{rim}")?;
                emit(&out)
            }
        }
        Command::Token {
            token,
            cpak,
            challenge,
            rim,
            realm,
            files,
            json,
        } => {
            let content =
                std::fs::read(&token).with_context(|| format!("reading {}", token.display()))?;
            let cpak = read_cpak(&cpak)?;
            let verified = verify_token(&token_bytes(&content), &cpak)?;
            let mut checks = Vec::new();
            if let Some(challenge) = challenge {
                verified.check_challenge(&parse_hex_arg(&challenge)?)?;
                checks.push("realm challenge matches --challenge".to_string());
            }
            if let Some(rim) = rim {
                verified.check_rim(&parse_hex_arg(&rim)?)?;
                checks.push("RIM matches --rim".to_string());
            }
            if let Some(realm) = realm {
                let (desc, prediction) = predict(&realm, &files)?;
                let algo = verified.realm.hash_algo_id.as_str();
                let Some(algo) = rampart_verify::HashAlgo::ALL
                    .into_iter()
                    .find(|a| a.iana_name() == algo)
                else {
                    bail!("the token's RIM is {algo}, which no realm description predicts");
                };
                verified.check_rim(prediction.for_algo(algo))?;
                checks.push(format!(
                    "RIM matches the {algo} prediction for {}",
                    realm.display()
                ));
                if let Some(rpv) = desc.params.rpv {
                    verified.check_rpv(&rpv)?;
                    checks.push(format!("personalization value matches {}", realm.display()));
                }
            }
            if json {
                let out = serde_json::json!({ "ok": true, "token": verified, "checks": checks });
                emit(&format!("{}\n", serde_json::to_string_pretty(&out)?))
            } else {
                let mut out = verified.to_string();
                for check in checks {
                    writeln!(out, "OK: {check}")?;
                }
                writeln!(out, "OK: token verified")?;
                emit(&out)
            }
        }
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `--cpak`: a file, or else the key itself as hex.
fn read_cpak(arg: &str) -> Result<p384::ecdsa::VerifyingKey> {
    let path = Path::new(arg);
    if path.exists() {
        let content = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        return parse_cpak(&content).with_context(|| format!("CPAK {}", path.display()));
    }
    parse_cpak(arg.as_bytes())
        .with_context(|| format!("--cpak {arg:?} is neither a file nor a hex SEC1 point"))
}
