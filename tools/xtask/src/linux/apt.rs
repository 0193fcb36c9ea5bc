//! A private apt tree for one Debian suite, arm64 only: its own
//! configuration, sources, lists and cache under target/debian/apt/<suite>,
//! reached through APT_CONFIG so the machine's apt configuration and
//! package state are left alone. Of the machine's configuration only how
//! it reaches the mirror carries over (proxies, retries, release-date
//! checks: [`NETWORK_SETTINGS`]). Packages are verified with the system's
//! Debian archive keyring.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};

/// The keyring Debian's apt verifies the archive with (debian-archive-keyring).
pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Overrides the mirror taken from the machine's apt sources.
pub const MIRROR_ENV: &str = "RAMPART_DEBIAN_MIRROR";

/// The machine's apt settings the private tree inherits: how to reach the
/// mirror, nothing about what to install. A mirror serving a frozen
/// snapshot, for instance, is configured with Check-Valid-Until "false".
pub const NETWORK_SETTINGS: [&str; 10] = [
    "Acquire::Check-Valid-Until ",
    "Acquire::Check-Date ",
    "Acquire::Max-ValidTime ",
    "Acquire::Min-ValidTime ",
    "Acquire::Retries ",
    "Acquire::ForceIPv4 ",
    "Acquire::ForceIPv6 ",
    "Acquire::http::",
    "Acquire::https::",
    "Acquire::ftp::",
];

/// The [`NETWORK_SETTINGS`] lines of `apt-config dump` output, each a
/// valid configuration line as it stands.
pub fn network_settings(dump: &str) -> String {
    dump.lines()
        .filter(|l| NETWORK_SETTINGS.iter().any(|p| l.starts_with(p)))
        .filter(|l| !l.ends_with(" \"\";"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn machine_network_settings() -> String {
    Command::new("apt-config")
        .arg("dump")
        .env_remove("APT_CONFIG")
        .env("LC_ALL", "C")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| network_settings(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or_default()
}

pub struct Apt {
    pub dir: PathBuf,
    pub mirror: String,
    config: PathBuf,
}

/// A package's stanza as `apt-cache show` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageInfo {
    pub package: String,
    pub version: String,
    pub sha256: String,
    /// Names from Depends and Pre-Depends, alternatives included.
    pub depends: Vec<String>,
}

impl PackageInfo {
    pub fn depends_starting(&self, prefix: &str) -> Option<String> {
        self.depends.iter().find(|d| d.starts_with(prefix)).cloned()
    }
}

/// The first stanza of `apt-cache show` output.
pub fn parse_show(text: &str) -> Option<PackageInfo> {
    let stanza = text.split("\n\n").next()?;
    let field = |name: &str| {
        stanza
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_owned())
    };
    let mut depends = Vec::new();
    for name in ["Pre-Depends", "Depends"] {
        if let Some(list) = field(name) {
            depends.extend(
                list.split([',', '|'])
                    .filter_map(|d| d.split_whitespace().next())
                    .map(str::to_owned),
            );
        }
    }
    Some(PackageInfo {
        package: field("Package")?,
        version: field("Version")?,
        sha256: field("SHA256")?.to_ascii_lowercase(),
        depends,
    })
}

/// The Debian mirror URIs of apt sources: deb822 `.sources` stanzas and
/// one-line `sources.list` entries whose path ends in /debian (the
/// security archive, /debian-security, carries no unstable suite).
pub fn mirror_from_sources(deb822: &[String], one_line: &[String]) -> Option<String> {
    let is_main_archive = |uri: &str| uri.trim_end_matches('/').ends_with("/debian");
    for text in deb822 {
        for stanza in text.split("\n\n") {
            let uris = stanza
                .lines()
                .find_map(|l| l.strip_prefix("URIs:"))
                .unwrap_or("");
            let is_deb = stanza
                .lines()
                .find_map(|l| l.strip_prefix("Types:"))
                .is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
            if let Some(uri) = uris.split_whitespace().find(|u| is_main_archive(u))
                && is_deb
            {
                return Some(uri.trim_end_matches('/').to_owned());
            }
        }
    }
    for text in one_line {
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix("deb ") else {
                continue;
            };
            // Options such as "[arch=amd64 signed-by=...]" precede the URI.
            let rest = rest.trim_start();
            let rest = match rest.strip_prefix('[') {
                Some(options) => options.split_once(']').map_or("", |(_, r)| r),
                None => rest,
            };
            if let Some(uri) = rest
                .split_whitespace()
                .next()
                .filter(|u| is_main_archive(u))
            {
                return Some(uri.trim_end_matches('/').to_owned());
            }
        }
    }
    None
}

fn machine_mirror() -> anyhow::Result<String> {
    if let Ok(mirror) = std::env::var(MIRROR_ENV) {
        return Ok(mirror.trim_end_matches('/').to_owned());
    }
    let read_dir = |dir: &str, ext: &str| -> Vec<String> {
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == ext));
        files.sort();
        files
            .iter()
            .filter_map(|p| fs::read_to_string(p).ok())
            .collect()
    };
    let deb822 = read_dir("/etc/apt/sources.list.d", "sources");
    let mut one_line = read_dir("/etc/apt/sources.list.d", "list");
    one_line.extend(fs::read_to_string("/etc/apt/sources.list").ok());
    mirror_from_sources(&deb822, &one_line).with_context(|| {
        format!(
            "no Debian mirror (a URI ending in /debian) in /etc/apt/sources.list{{,.d/}}; \
             set {MIRROR_ENV}=<mirror URL>"
        )
    })
}

impl Apt {
    /// Lays out the tree (idempotent) for `suite`, arm64, from the mirror
    /// the machine's apt sources name.
    pub fn new(base: &Path, suite: &str) -> anyhow::Result<Self> {
        if !Path::new(KEYRING).is_file() {
            bail!(
                "{KEYRING} is missing: install Debian's archive keyring \
                 (apt-get install debian-archive-keyring)"
            );
        }
        let mirror = machine_mirror()?;
        let dir = base.join(suite);
        for sub in [
            "etc/apt.conf.d",
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/trusted.gpg.d",
            "state/lists/partial",
            "cache/archives/partial",
        ] {
            fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("creating {}", dir.join(sub).display()))?;
        }
        let status = dir.join("state/status");
        if !status.exists() {
            fs::write(&status, "")?;
        }
        fs::write(
            dir.join("etc/sources.list"),
            format!("deb [arch=arm64 signed-by={KEYRING}] {mirror} {suite} main\n"),
        )?;
        let d = dir.display();
        let network = machine_network_settings();
        let config = dir.join("apt.conf");
        fs::write(
            &config,
            format!(
                "// Rampart's private apt tree (tools/xtask/src/linux/apt.rs).\n\
                 // The machine's network settings:\n{network}\
                 Dir::Etc \"{d}/etc\";\n\
                 Dir::Etc::main \"{d}/etc/apt.conf\";\n\
                 Dir::Etc::parts \"{d}/etc/apt.conf.d\";\n\
                 Dir::Etc::SourceList \"{d}/etc/sources.list\";\n\
                 Dir::Etc::SourceParts \"{d}/etc/sources.list.d\";\n\
                 Dir::Etc::Preferences \"{d}/etc/preferences\";\n\
                 Dir::Etc::PreferencesParts \"{d}/etc/preferences.d\";\n\
                 Dir::Etc::Trusted \"{d}/etc/trusted.gpg\";\n\
                 Dir::Etc::TrustedParts \"{d}/etc/trusted.gpg.d\";\n\
                 Dir::State \"{d}/state\";\n\
                 Dir::State::status \"{d}/state/status\";\n\
                 Dir::Cache \"{d}/cache\";\n\
                 APT::Architecture \"arm64\";\n\
                 APT::Architectures {{ \"arm64\"; }};\n\
                 Acquire::Languages \"none\";\n\
                 Debug::NoLocking \"true\";\n\
                 // Downloads land in target/, which apt's _apt user cannot write.\n\
                 APT::Sandbox::User \"root\";\n"
            ),
        )?;
        Ok(Apt {
            dir,
            mirror,
            config,
        })
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("APT_CONFIG", &self.config)
            .env("LC_ALL", "C")
            .env("DEBIAN_FRONTEND", "noninteractive");
        command
    }

    fn output(&self, mut command: Command) -> anyhow::Result<Output> {
        let shown = crate::workspace::describe(&command);
        command
            .output()
            .with_context(|| format!("starting `{shown}` (Debian's apt)"))
    }

    pub fn update(&self) -> anyhow::Result<()> {
        let mut command = self.command("apt-get");
        command.args(["-q", "update"]);
        let output = self.output(command)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        // apt-get update exits 0 when a fetch fails and keeps the old
        // index: any error or failed fetch means the index is not current.
        let failed = |l: &str| {
            l.starts_with("E:")
                || l.contains("Failed to fetch")
                || l.contains("Some index files failed")
        };
        if !output.status.success() || stderr.lines().any(failed) {
            bail!(
                "apt-get update (private tree {}) failed:\n{stderr}",
                self.dir.display()
            );
        }
        Ok(())
    }

    /// The package's stanza: of `version` when given, else the candidate.
    /// None when the index has no such package or version.
    pub fn show(
        &self,
        package: &str,
        version: Option<&str>,
    ) -> anyhow::Result<Option<PackageInfo>> {
        let mut command = self.command("apt-cache");
        command.args(["show", "--no-all-versions"]);
        match version {
            Some(version) => command.arg(format!("{package}={version}")),
            None => command.arg(package),
        };
        let output = self.output(command)?;
        if !output.status.success() {
            return Ok(None);
        }
        Ok(parse_show(&String::from_utf8_lossy(&output.stdout)))
    }

    /// `apt-get download package=version` into `into`.
    pub fn download(&self, package: &str, version: &str, into: &Path) -> anyhow::Result<()> {
        let mut command = self.command("apt-get");
        command
            .current_dir(into)
            .args(["-q", "download", &format!("{package}={version}")]);
        println!("linux-assets: apt-get download {package}={version}");
        let output = self.output(command)?;
        if !output.status.success() {
            bail!(
                "apt-get download {package}={version} failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_stanza_fields() {
        let text = "Package: linux-image-7.2.13+deb14-arm64\n\
                    Source: linux-signed-arm64 (7.2.13-1)\n\
                    Version: 7.2.13-1\n\
                    Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.2.13+deb14-arm64 (= 7.2.13-1), linux-binary-7.2.13+deb14-arm64 (= 7.2.13-1)\n\
                    Pre-Depends: linux-base (>= 4.17~)\n\
                    SHA256: A209D99C\n\
                    \n\
                    Package: second-stanza\n";
        let info = parse_show(text).unwrap();
        assert_eq!(info.package, "linux-image-7.2.13+deb14-arm64");
        assert_eq!(info.version, "7.2.13-1");
        assert_eq!(info.sha256, "a209d99c");
        assert_eq!(info.depends[0], "linux-base");
        assert_eq!(
            info.depends_starting("linux-binary-").as_deref(),
            Some("linux-binary-7.2.13+deb14-arm64")
        );
        assert!(parse_show("Package: x\n").is_none());
    }

    #[test]
    fn only_network_settings_carry_over() {
        let dump = "Acquire \"\";\n\
                    Acquire::Check-Valid-Until \"false\";\n\
                    Acquire::Check-Valid-Untilx \"1\";\n\
                    Acquire::http::Proxy \"http://proxy.example:3128\";\n\
                    Acquire::http \"\";\n\
                    Acquire::IndexTargets::deb::DEP-11 \"\";\n\
                    Dir::State \"/var/lib/apt\";\n\
                    APT::Update::Post-Invoke \"rm -f /var/cache/apt/x\";\n";
        assert_eq!(
            network_settings(dump),
            "Acquire::Check-Valid-Until \"false\";\n\
             Acquire::http::Proxy \"http://proxy.example:3128\";\n"
        );
    }

    #[test]
    fn mirror_from_deb822_or_one_line_sources() {
        let deb822 = "Types: deb\n\
                      URIs: http://mirror.example/debian-security\n\
                      Suites: bookworm-security\n\
                      \n\
                      Types: deb deb-src\n\
                      # a comment\n\
                      URIs: http://mirror.example/debian/\n\
                      Suites: bookworm\n";
        assert_eq!(
            mirror_from_sources(&[deb822.into()], &[]).as_deref(),
            Some("http://mirror.example/debian")
        );
        let src_only = "Types: deb-src\nURIs: http://src.example/debian\n";
        assert_eq!(mirror_from_sources(&[src_only.into()], &[]), None);
        let one_line = "# deb http://old.example/debian sid main\n\
                        deb [arch=amd64 signed-by=/k.gpg] http://opt.example/debian bookworm main\n";
        assert_eq!(
            mirror_from_sources(&[], &[one_line.into()]).as_deref(),
            Some("http://opt.example/debian")
        );
        assert_eq!(
            mirror_from_sources(&[], &["deb http://plain.example/debian sid main".into()])
                .as_deref(),
            Some("http://plain.example/debian")
        );
    }
}
