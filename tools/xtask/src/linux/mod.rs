//! The Linux boot test's assets: Debian's arm64 kernel and busybox-static,
//! fetched with apt into a private tree under target/debian/ (the machine's
//! apt configuration is left unchanged; only its network settings are
//! reused, see [`apt`]), turned into a raw `Image` and an initramfs whose
//! /init (tests/linux/init) checks the firmware from userspace.
//! `cargo xtask linux-assets` prints them. A boot test does:
//!
//! ```text
//! let assets = linux::assets(&ws)?;                      // Image, initrd, versions
//! let append = assets.cmdline(4, End::Poweroff, linux::MAX_CPU_FEATURES);
//! // boot assets.image / assets.initrd with `append`, capture the OS console
//! let problems = CheckReport::parse(&console).problems(End::Poweroff);
//! // empty: every check passed and the kernel went to PSCI SYSTEM_OFF
//! ```
//!
//! Versions are pinned in tests/linux/debian.lock. Debian's mirror keeps
//! only a suite's current packages: when a pinned version is gone the
//! suite's current one is used, with a loud warning naming it. Everything
//! is cached: a second call does no network access.

pub mod apt;
pub mod boot;
pub mod checks;
pub mod image;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::Digest;

use crate::workspace::Workspace;

use apt::{Apt, PackageInfo};
pub use checks::{CheckReport, End};

/// What one boot needs, and where it came from.
#[derive(Clone, Debug)]
pub struct LinuxAssets {
    /// Raw arm64 Image: enter at its first byte, 2 MiB-aligned, x0 = DTB.
    pub image: PathBuf,
    /// The Image header's `image_size`: bytes from the load address the
    /// kernel occupies (bss included), for placing the DTB and initrd.
    pub image_size: u64,
    /// gzip'd newc cpio with busybox and tests/linux/init.
    pub initrd: PathBuf,
    pub suite: String,
    /// Kernel release, e.g. "7.2.13+deb14-arm64".
    pub kernel_release: String,
    pub kernel: Package,
    pub busybox: Package,
}

/// A Debian package as used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// The version tests/linux/debian.lock pins, when another one is used.
    pub pinned_instead: Option<String>,
}

impl LinuxAssets {
    /// The kernel command line of a boot test: the PL011 console, the init,
    /// and the parameters its checks read: `cpus` must be online, `features`
    /// must be in /proc/cpuinfo (e.g. ["sve", "sme"] on `-cpu max`: the
    /// kernel lists them only when it could enable them). `panic=-1`
    /// reboots at once on a panic rather than hanging until the timeout
    /// (the missing verdict still fails the test).
    pub fn cmdline(&self, cpus: u32, end: End, features: &[&str]) -> String {
        let mut cmdline = format!(
            "console=ttyAMA0 rdinit=/init panic=-1 rampart.cpus={cpus} rampart.end={}",
            end.param()
        );
        if !features.is_empty() {
            cmdline.push_str(&format!(" rampart.features={}", features.join(",")));
        }
        cmdline
    }

    pub fn describe(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "suite:   Debian {}", self.suite);
        for (role, package) in [("kernel", &self.kernel), ("busybox", &self.busybox)] {
            let _ = write!(
                s,
                "{role}:{:pad$}{} {} (sha256 {})",
                "",
                package.name,
                package.version,
                package.sha256,
                pad = 8 - role.len()
            );
            if let Some(pinned) = &package.pinned_instead {
                let _ = write!(s, " -- NOT the pinned {pinned}");
            }
            s.push('\n');
        }
        let _ = writeln!(s, "release: {}", self.kernel_release);
        let _ = writeln!(
            s,
            "image:   {} ({} MiB loaded, image_size {:#x})",
            self.image.display(),
            self.image_size.div_ceil(1 << 20),
            self.image_size
        );
        let _ = write!(s, "initrd:  {}", self.initrd.display());
        s
    }
}

/// Which package plays which part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Kernel,
    Busybox,
}

impl Role {
    const ALL: [Role; 2] = [Role::Kernel, Role::Busybox];

    fn name(self) -> &'static str {
        match self {
            Role::Kernel => "kernel",
            Role::Busybox => "busybox",
        }
    }
}

/// One pinned package of tests/linux/debian.lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    pub role: Role,
    /// The package the suite's current version is resolved from when the
    /// pin is gone (a metapackage such as linux-image-arm64).
    pub resolve_from: String,
    pub package: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    pub suite: String,
    pub pins: Vec<Pin>,
}

impl Lock {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut suite = None;
        let mut pins = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[..] {
                [] => {}
                ["suite", name] => suite = Some(name.to_owned()),
                [role, resolve_from, package, version, sha256] => {
                    let role = Role::ALL
                        .into_iter()
                        .find(|r| r.name() == role)
                        .with_context(|| format!("line {}: unknown role {role}", number + 1))?;
                    pins.push(Pin {
                        role,
                        resolve_from: resolve_from.to_owned(),
                        package: package.to_owned(),
                        version: version.to_owned(),
                        sha256: sha256.to_ascii_lowercase(),
                    });
                }
                _ => bail!("line {}: cannot read {line:?}", number + 1),
            }
        }
        let suite = suite.context("no `suite` line")?;
        for role in Role::ALL {
            if pins.iter().filter(|p| p.role == role).count() != 1 {
                bail!("want exactly one `{}` line", role.name());
            }
        }
        Ok(Lock { suite, pins })
    }

    fn pin(&self, role: Role) -> &Pin {
        self.pins
            .iter()
            .find(|p| p.role == role)
            .expect("checked by parse")
    }
}

/// What is in the download cache: per role, the package, its version, the
/// deb's sha256 and the pinned version it stands for. Same line format as
/// the lock, plus the pinned version.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cached {
    role: Role,
    package: String,
    version: String,
    sha256: String,
    for_pin: String,
}

fn parse_cached(text: &str) -> Vec<Cached> {
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [role, package, version, sha256, for_pin] = words[..] else {
                return None;
            };
            Some(Cached {
                role: Role::ALL.into_iter().find(|r| r.name() == role)?,
                package: package.to_owned(),
                version: version.to_owned(),
                sha256: sha256.to_owned(),
                for_pin: for_pin.to_owned(),
            })
        })
        .collect()
}

fn format_cached(cached: &[Cached]) -> String {
    cached
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {} {}\n",
                c.role.name(),
                c.package,
                c.version,
                c.sha256,
                c.for_pin
            )
        })
        .collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

pub fn lock_path(ws: &Workspace) -> PathBuf {
    ws.root.join("tests/linux/debian.lock")
}

pub fn init_path(ws: &Workspace) -> PathBuf {
    ws.root.join("tests/linux/init")
}

fn cache_dir(ws: &Workspace) -> PathBuf {
    ws.target.join("debian")
}

/// The Debian file name apt-get download gives a package.
fn deb_file(package: &str, version: &str) -> String {
    format!("{package}_{}_arm64.deb", version.replace(':', "%3a"))
}

/// The kernel and busybox, built into an Image and an initramfs under
/// target/debian/, downloading the packages first when they are not cached.
pub fn assets(ws: &Workspace) -> anyhow::Result<LinuxAssets> {
    let lock_file = lock_path(ws);
    let lock = Lock::parse(
        &fs::read_to_string(&lock_file)
            .with_context(|| format!("reading {}", lock_file.display()))?,
    )
    .with_context(|| format!("parsing {}", lock_file.display()))?;
    let dir = cache_dir(ws);
    let debs = dir.join(&lock.suite).join("debs");
    fs::create_dir_all(&debs).with_context(|| format!("creating {}", debs.display()))?;

    let cached = cached_debs(&lock, &debs);
    let used = match cached {
        Some(used) => used,
        None => download(&lock, &dir, &debs)?,
    };

    let mut packages = Vec::new();
    for role in Role::ALL {
        let c = used.iter().find(|c| c.role == role).expect("one per role");
        let pin = lock.pin(role);
        let pinned_instead = (c.version != pin.version || c.package != pin.package)
            .then(|| format!("{} {}", pin.package, pin.version));
        if pinned_instead.is_some() {
            warn_unpinned(pin, c, &lock_file);
        }
        packages.push(Package {
            name: c.package.clone(),
            version: c.version.clone(),
            sha256: c.sha256.clone(),
            pinned_instead,
        });
    }
    let busybox = packages.pop().expect("busybox");
    let kernel = packages.pop().expect("kernel");

    let out = dir.join(&lock.suite);
    let (image, image_size, kernel_release) = kernel_image(&debs, &kernel, &out)?;
    let initrd = build_initramfs(ws, &debs, &busybox, &out)?;
    Ok(LinuxAssets {
        image,
        image_size,
        initrd,
        suite: lock.suite,
        kernel_release,
        kernel,
        busybox,
    })
}

fn warn_unpinned(pin: &Pin, used: &Cached, lock: &Path) {
    let bar = "!".repeat(78);
    let role = pin.role.name();
    eprintln!(
        "{bar}\n\
         WARNING: the pinned {role} package {} {} is no longer on the Debian mirror.\n\
         USING {} {} (sha256 {}) INSTEAD.\n\
         If the boot test passes with it, pin it in {}:\n\
         \x20 {role} {} {} {} {}\n\
         {bar}",
        pin.package,
        pin.version,
        used.package,
        used.version,
        used.sha256,
        lock.display(),
        pin.resolve_from,
        used.package,
        used.version,
        used.sha256,
    );
}

/// The cached debs, when each matches what the lock pins (or what was
/// used in place of a pin that was gone) and its sha256 checks out.
fn cached_debs(lock: &Lock, debs: &Path) -> Option<Vec<Cached>> {
    let recorded = parse_cached(&fs::read_to_string(debs.join("cached.txt")).ok()?);
    let mut used = Vec::new();
    for role in Role::ALL {
        let pin = lock.pin(role);
        let c = recorded
            .iter()
            .find(|c| c.role == role && c.for_pin == format!("{}={}", pin.package, pin.version))?;
        if c.package == pin.package && c.version == pin.version && c.sha256 != pin.sha256 {
            return None;
        }
        let data = fs::read(debs.join(deb_file(&c.package, &c.version))).ok()?;
        if sha256_hex(&data) != c.sha256 {
            return None;
        }
        used.push(c.clone());
    }
    Some(used)
}

/// Fetches the suite's index and each package: the pinned version when the
/// mirror still has it (its sha256 must match the lock), else the current
/// one resolved from the pin's `resolve_from` package.
fn download(lock: &Lock, dir: &Path, debs: &Path) -> anyhow::Result<Vec<Cached>> {
    let apt = Apt::new(&dir.join("apt"), &lock.suite)?;
    println!(
        "linux-assets: apt-get update of Debian {} (arm64) from {} into {}",
        lock.suite,
        apt.mirror,
        apt.dir.display()
    );
    apt.update()?;
    let mut used = Vec::new();
    for role in Role::ALL {
        let pin = lock.pin(role);
        let info = match apt.show(&pin.package, Some(&pin.version))? {
            Some(info) => info,
            None => {
                let current = resolve_current(&apt, role, &pin.resolve_from)?;
                println!(
                    "linux-assets: {} {} is gone from {}; the current one is {} {}",
                    pin.package, pin.version, lock.suite, current.package, current.version
                );
                current
            }
        };
        let file = debs.join(deb_file(&info.package, &info.version));
        let have = fs::read(&file).ok().map(|data| sha256_hex(&data));
        if have.as_deref() != Some(info.sha256.as_str()) {
            apt.download(&info.package, &info.version, debs)?;
        }
        let data = fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let sha = sha256_hex(&data);
        if sha != info.sha256 {
            bail!(
                "{}: sha256 {sha} differs from the index's {}",
                file.display(),
                info.sha256
            );
        }
        if info.package == pin.package && info.version == pin.version && sha != pin.sha256 {
            bail!(
                "{}: sha256 {sha} differs from the pinned {} -- the mirror rebuilt {} {}; \
                 check it and update tests/linux/debian.lock",
                file.display(),
                pin.sha256,
                pin.package,
                pin.version
            );
        }
        used.push(Cached {
            role,
            package: info.package,
            version: info.version,
            sha256: sha,
            for_pin: format!("{}={}", pin.package, pin.version),
        });
    }
    // Keep the records of other pins: going back to an earlier lock needs
    // no network either while its debs are still here.
    let record = debs.join("cached.txt");
    let mut all = parse_cached(&fs::read_to_string(&record).unwrap_or_default());
    all.retain(|old| {
        !used
            .iter()
            .any(|new| new.role == old.role && new.for_pin == old.for_pin)
    });
    all.extend(used.iter().cloned());
    fs::write(&record, format_cached(&all))?;
    Ok(used)
}

/// The suite's current package for a role. For the kernel the metapackage
/// (linux-image-arm64) depends on linux-image-<abi>-arm64, which in newer
/// suites only depends on linux-binary-<abi>-arm64, the package that
/// carries the kernel: follow the chain to it.
fn resolve_current(apt: &Apt, role: Role, from: &str) -> anyhow::Result<PackageInfo> {
    let info = apt
        .show(from, None)?
        .with_context(|| format!("{from} is not in the index"))?;
    if role != Role::Kernel {
        return Ok(info);
    }
    let image = info
        .depends_starting("linux-image-")
        .with_context(|| format!("{from} depends on no linux-image-* package"))?;
    let image = apt
        .show(&image, None)?
        .with_context(|| format!("{image} is not in the index"))?;
    match image.depends_starting("linux-binary-") {
        Some(binary) => apt
            .show(&binary, None)?
            .with_context(|| format!("{binary} is not in the index")),
        None => Ok(image),
    }
}

fn extract(deb: &Path, into: &Path) -> anyhow::Result<()> {
    if into.exists() {
        fs::remove_dir_all(into).with_context(|| format!("removing {}", into.display()))?;
    }
    fs::create_dir_all(into)?;
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(into)
        .status()
        .context("running dpkg-deb (Debian's dpkg package)")?;
    if !status.success() {
        bail!("dpkg-deb -x {} failed", deb.display());
    }
    Ok(())
}

/// The kernel inside an extracted package: /boot/vmlinuz-<release> (older
/// packaging) or /usr/lib/modules/<release>/vmlinuz (the linux-binary split).
fn find_vmlinuz(root: &Path) -> anyhow::Result<(PathBuf, String)> {
    let boot = root.join("boot");
    if let Ok(entries) = fs::read_dir(&boot) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(release) = name.strip_prefix("vmlinuz-") {
                return Ok((entry.path(), release.to_owned()));
            }
        }
    }
    for modules in ["usr/lib/modules", "lib/modules"] {
        if let Ok(entries) = fs::read_dir(root.join(modules)) {
            for entry in entries.flatten() {
                let vmlinuz = entry.path().join("vmlinuz");
                if vmlinuz.is_file() {
                    let release = entry.file_name().to_string_lossy().into_owned();
                    return Ok((vmlinuz, release));
                }
            }
        }
    }
    bail!(
        "no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz in {}",
        root.display()
    )
}

/// Writes `data` unless the file already holds it, so unchanged outputs
/// keep their modification time.
fn write_if_changed(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    if fs::read(path).ok().as_deref() != Some(data) {
        fs::write(path, data).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// target/debian/<suite>/Image from the kernel package, re-extracted only
/// when the package changed (a stamp beside it names the deb's sha256).
fn kernel_image(
    debs: &Path,
    kernel: &Package,
    out: &Path,
) -> anyhow::Result<(PathBuf, u64, String)> {
    let image_path = out.join("Image");
    let stamp = out.join("Image.from");
    let want_stamp = format!("{} {} {}\n", kernel.name, kernel.version, kernel.sha256);
    if let (Ok(recorded), Ok(image)) = (fs::read_to_string(&stamp), fs::read(&image_path))
        && let Some(release) = recorded.strip_prefix(&want_stamp)
        && let Some(header) = image::image_header(&image)
    {
        return Ok((image_path, header.image_size, release.trim().to_owned()));
    }
    let root = out.join("kernel-deb");
    extract(&debs.join(deb_file(&kernel.name, &kernel.version)), &root)?;
    let (vmlinuz, release) = find_vmlinuz(&root)?;
    let data = fs::read(&vmlinuz).with_context(|| format!("reading {}", vmlinuz.display()))?;
    let (raw, format) = image::raw_image(&data)
        .with_context(|| format!("turning {} into an Image", vmlinuz.display()))?;
    let header = image::image_header(&raw).expect("raw_image checks the header");
    println!(
        "linux-assets: {} is a {format}; Image {} bytes, image_size {:#x}",
        vmlinuz.display(),
        raw.len(),
        header.image_size
    );
    fs::write(&image_path, &raw).with_context(|| format!("writing {}", image_path.display()))?;
    fs::write(&stamp, format!("{want_stamp}{release}\n"))?;
    fs::remove_dir_all(&root).ok();
    Ok((image_path, header.image_size, release))
}

/// target/debian/<suite>/initramfs.cpio.gz: rebuilt from the busybox deb
/// and tests/linux/init each time (it takes well under a second), written
/// only when its bytes change.
fn build_initramfs(
    ws: &Workspace,
    debs: &Path,
    busybox: &Package,
    out: &Path,
) -> anyhow::Result<PathBuf> {
    let busybox_bin = out.join("busybox");
    let stamp = out.join("busybox.from");
    let want_stamp = format!("{} {} {}\n", busybox.name, busybox.version, busybox.sha256);
    if fs::read_to_string(&stamp).ok().as_deref() != Some(&want_stamp) || !busybox_bin.is_file() {
        let root = out.join("busybox-deb");
        extract(&debs.join(deb_file(&busybox.name, &busybox.version)), &root)?;
        let found = ["usr/bin/busybox", "bin/busybox"]
            .into_iter()
            .map(|p| root.join(p))
            .find(|p| p.is_file())
            .with_context(|| format!("no busybox binary in {}", busybox.name))?;
        fs::copy(&found, &busybox_bin)?;
        fs::write(&stamp, &want_stamp)?;
        fs::remove_dir_all(&root).ok();
    }
    let busybox_data = fs::read(&busybox_bin)?;
    if !busybox_data.starts_with(b"\x7fELF") || busybox_data.get(18..20) != Some(&[0xb7, 0x00]) {
        bail!("{} is not an AArch64 ELF", busybox_bin.display());
    }
    let init_file = init_path(ws);
    let init = fs::read(&init_file).with_context(|| format!("reading {}", init_file.display()))?;
    let initrd = out.join("initramfs.cpio.gz");
    write_if_changed(&initrd, &image::initramfs(&busybox_data, &init)?)?;
    Ok(initrd)
}

/// Features QEMU's `-cpu max` has that the firmware must leave usable.
pub const MAX_CPU_FEATURES: &[&str] = &["sve", "sve2", "sme"];

pub struct RunOptions {
    /// Also boot the assets on plain QEMU (no Rampart), once ending in
    /// poweroff and once in reboot, and judge the checks.
    pub boot_plain: bool,
    pub smp: u32,
    pub timeout: std::time::Duration,
}

/// `cargo xtask linux-assets`.
pub fn run(ws: &Workspace, options: &RunOptions) -> anyhow::Result<bool> {
    let assets = assets(ws)?;
    println!("{}", assets.describe());
    println!(
        "cmdline: {}",
        assets.cmdline(options.smp, End::Poweroff, MAX_CPU_FEATURES)
    );
    if !options.boot_plain {
        return Ok(true);
    }
    crate::prereq::check_qemu()?;
    let mut ok = true;
    let mut summary = Vec::new();
    for end in [End::Poweroff, End::Reboot] {
        let capture = assets
            .initrd
            .with_file_name(format!("plain-{}.console.txt", end.param()));
        let boot = boot::boot_plain(&assets, options.smp, end, options.timeout, &capture)?;
        let mut problems: Vec<String> = boot
            .report
            .problems(end)
            .iter()
            .map(ToString::to_string)
            .collect();
        if !boot.exited_cleanly {
            problems.push("QEMU did not exit by itself with status 0".into());
        }
        let passed = boot.report.verdict.map_or(0, |v| v.0);
        summary.push(format!(
            "plain QEMU, -smp {}, end {}: {} in {:.1}s, {passed} checks passed{}; console in {}",
            options.smp,
            end.param(),
            if problems.is_empty() { "PASS" } else { "FAIL" },
            boot.elapsed.as_secs_f64(),
            problems
                .iter()
                .map(|p| format!("\n  - {p}"))
                .collect::<String>(),
            capture.display()
        ));
        ok &= problems.is_empty();
    }
    for line in summary {
        println!("{line}");
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "\
# comment
suite sid
kernel linux-image-arm64 linux-binary-7.2.13+deb14-arm64 7.2.13-1 ABCDEF  # trailing
busybox busybox-static busybox-static 1:1.38.0-3+b1 0123
";

    #[test]
    fn lock_parses_and_rejects_gaps() {
        let lock = Lock::parse(LOCK).unwrap();
        assert_eq!(lock.suite, "sid");
        let kernel = lock.pin(Role::Kernel);
        assert_eq!(kernel.resolve_from, "linux-image-arm64");
        assert_eq!(kernel.sha256, "abcdef");
        assert_eq!(lock.pin(Role::Busybox).version, "1:1.38.0-3+b1");
        assert!(Lock::parse("suite sid\n").is_err());
        assert!(Lock::parse(&LOCK.replace("suite sid", "")).is_err());
        assert!(Lock::parse(&format!("{LOCK}kernel a b c d\n")).is_err());
        assert!(
            Lock::parse(&LOCK.replace("busybox busybox-static", "shell busybox-static")).is_err()
        );
    }

    #[test]
    fn cache_record_round_trips_and_deb_names_escape_epochs() {
        let cached = vec![Cached {
            role: Role::Busybox,
            package: "busybox-static".into(),
            version: "1:1.38.0-3+b1".into(),
            sha256: "00".into(),
            for_pin: "busybox-static=1:1.37.0-1".into(),
        }];
        assert_eq!(parse_cached(&format_cached(&cached)), cached);
        assert_eq!(
            deb_file("busybox-static", "1:1.38.0-3+b1"),
            "busybox-static_1%3a1.38.0-3+b1_arm64.deb"
        );
    }
}
