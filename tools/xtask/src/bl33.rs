//! `cargo xtask run --bl33 FILE [--initrd FILE] [--append ARGS]`: root and
//! the RMM boot from flash as always, and a standard Normal-world image (a
//! Linux `Image`, U-Boot) takes nshost's place. QEMU's loader puts the BL33
//! at 0x60000000 (where TF-A's QEMU port loads BL33) and the initramfs
//! after it; placed entries in the boot package tell root where they are,
//! and root names the initramfs and command line in the device tree it
//! hands the OS (see `rampart_board::package`).

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use rampart_board::Range;

use crate::board::Board;
use crate::flash::{self, PlacedOs};
use crate::linux::image::{ImageHeader, image_header};
use crate::qemu::{self, RunOptions};
use crate::verdict::{CaseResult, Ending, PowerEnd, RunReport};
use crate::workspace::Workspace;

/// Where BL33 goes on qemu-virt: TF-A's `plat/qemu` `PLAT_QEMU_NS_IMAGE_OFFSET`
/// (0x60000000), 2 MiB aligned as Linux's arm64 boot protocol requires.
pub const BL33_BASE: u64 = 0x6000_0000;
/// Linux wants its image at a 2 MiB-aligned base (plus text_offset).
const TWO_MIB: u64 = 2 << 20;

/// What the Normal world is given.
pub struct Bl33Request<'a> {
    pub bl33: &'a Path,
    pub initrd: Option<&'a Path>,
    /// The OS command line (None: `console=ttyAMA0`).
    pub append: Option<&'a str>,
}

/// Where the images go in DRAM.
#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    /// The BL33 entry and the memory its image claims (for a Linux `Image`,
    /// its header's image_size, which covers .bss).
    pub bl33: Range,
    pub initrd: Option<Range>,
    /// A Linux `Image` (by its header), rather than an opaque binary.
    pub linux: bool,
}

fn align_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align) * align
}

/// Lays out a BL33 of `bl33` bytes (with its first bytes `head`) and an
/// initramfs of `initrd_len` bytes. A Linux `Image` goes to the 2 MiB-aligned
/// base plus its text_offset and claims its image_size; the initramfs
/// follows on the next 2 MiB boundary.
pub fn plan(head: &[u8], bl33_len: u64, initrd_len: Option<u64>) -> anyhow::Result<Layout> {
    let (entry, claim, linux) = match image_header(head) {
        Some(ImageHeader {
            text_offset,
            image_size,
        }) => {
            ensure!(
                text_offset < TWO_MIB,
                "the Image header's text_offset {text_offset:#x} is not below 2 MiB"
            );
            // image_size 0 means an old kernel: assume its file plus slack.
            let size = if image_size == 0 {
                bl33_len + TWO_MIB
            } else {
                image_size.max(bl33_len)
            };
            (BL33_BASE + text_offset, size, true)
        }
        None => (BL33_BASE, bl33_len, false),
    };
    let bl33 = Range::new(entry, claim);
    let initrd = initrd_len.map(|len| Range::new(align_up(bl33.end(), TWO_MIB), len));
    Ok(Layout {
        bl33,
        initrd,
        linux,
    })
}

/// The first bytes of an image (enough for the arm64 Image header) and its length.
fn image_head(path: &Path) -> anyhow::Result<(Vec<u8>, u64)> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let mut head = Vec::with_capacity(64);
    file.take(64)
        .read_to_end(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((head, len))
}

/// The command line given to the OS when the user gives none.
pub const DEFAULT_BOOTARGS: &str = "console=ttyAMA0";

/// Builds the flash image for `request` (root and the RMM must be built)
/// and the QEMU options that place the images; returns the run options.
pub fn prepare(
    ws: &Workspace,
    board: Board,
    request: &Bl33Request<'_>,
    options: &mut RunOptions,
) -> anyhow::Result<PathBuf> {
    let info = board.info()?;
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    // Only the header is needed (QEMU's loader reads the image itself).
    let (head, bl33_len) = image_head(request.bl33)?;
    ensure!(bl33_len > 0, "{} is empty", request.bl33.display());
    let initrd_len = request
        .initrd
        .map(|p| std::fs::metadata(p).map(|m| m.len()))
        .transpose()
        .context("reading the initramfs")?;
    let layout = plan(&head, bl33_len, initrd_len)?;
    let out = ws.out_dir(board);
    let root = read(&out.join("root.bin"))?;
    let rmm = read(&out.join("realm.bin"))?;
    let bootargs = request.append.unwrap_or(DEFAULT_BOOTARGS);
    let os = PlacedOs {
        bl33: layout.bl33,
        initrd: layout.initrd,
        bootargs: Some(bootargs),
    };
    let image = flash::assemble_placed(&info, &root, &rmm, &os)?;
    let flash_path = out.join("flash-bl33.bin");
    std::fs::write(&flash_path, image)
        .with_context(|| format!("writing {}", flash_path.display()))?;
    println!(
        "bl33: {} ({}) at {:#x}..{:#x}{}; command line \"{bootargs}\"",
        request.bl33.display(),
        if layout.linux {
            "Linux Image"
        } else {
            "raw binary"
        },
        layout.bl33.base,
        layout.bl33.end(),
        match (request.initrd, layout.initrd) {
            (Some(p), Some(r)) => format!(
                "; initramfs {} at {:#x}..{:#x}",
                p.display(),
                r.base,
                r.end()
            ),
            _ => String::new(),
        }
    );
    options
        .loads
        .push((request.bl33.to_path_buf(), layout.bl33.base));
    if let (Some(path), Some(range)) = (request.initrd, layout.initrd) {
        options.loads.push((path.to_path_buf(), range.base));
    }
    Ok(flash_path)
}

/// Boots root + RMM + the requested BL33 on QEMU and reports how it ended.
pub fn run(
    ws: &Workspace,
    board: Board,
    request: &Bl33Request<'_>,
    mut options: RunOptions,
) -> anyhow::Result<RunReport> {
    let flash_path = prepare(ws, board, request, &mut options)?;
    let decoder = qemu::decoder(ws, board)?;
    let out = ws.out_dir(board);
    let captures = qemu::Captures {
        trace: out.join("trace-bl33.bin"),
        console: out.join("console-bl33.bin"),
    };
    let command = qemu::virt_command(&flash_path, "2G", &options);
    let mut report = qemu::run_command(command, decoder, &captures, &options)?;
    // The OS's console must carry no firmware record, and firmware must
    // have traced on its own UART.
    report.tracker.judge_trace_split();
    Ok(report)
}

/// Judges a run of an OS under root: it must end by the PSCI call `expect`
/// (SYSTEM_OFF or SYSTEM_RESET, as root logs it), with QEMU exiting by
/// itself, no panic, and no granule protection fault or unexpected trap
/// logged by root. Returns the problems (empty: passed).
pub fn judge_os_run(report: &RunReport, expect: PowerEnd) -> Vec<String> {
    let os = &report.tracker.os;
    let mut problems = Vec::new();
    match &report.ending {
        Ending::Exited(status) if status.success() => {}
        Ending::Exited(status) => problems.push(format!("QEMU exited with {status}")),
        Ending::Killed(reason) => problems.push(format!("QEMU did not stop by itself: {reason}")),
    }
    match os.power {
        Some(end) if end == expect => {}
        Some(end) => problems.push(format!("the OS ended with {end:?}, not {expect:?}")),
        None => problems.push(format!("root never saw {expect:?}")),
    }
    for (name, result) in &report.tracker.cases {
        if let CaseResult::Fail(detail) = result {
            problems.push(format!("{name}: {detail}"));
        }
    }
    problems.extend(
        report
            .tracker
            .panics
            .iter()
            .map(|p| format!("panic reported: {p}")),
    );
    // A fault the OS cannot handle repeats without end: show the first few.
    const SHOWN: usize = 5;
    problems.extend(
        os.firmware_faults
            .iter()
            .take(SHOWN)
            .map(|l| format!("firmware logged: {l}")),
    );
    if os.firmware_faults.len() > SHOWN {
        problems.push(format!(
            "... and {} more such lines",
            os.firmware_faults.len() - SHOWN
        ));
    }
    problems
}

/// `run --bl33`'s verdict: the OS powered the machine off or reset it
/// (whichever it chose), and firmware logged no fault. Prints it and
/// returns whether it passed.
pub fn print_os_verdict(report: &RunReport) -> bool {
    let expect = report.tracker.os.power.unwrap_or(PowerEnd::SystemOff);
    let problems = judge_os_run(report, expect);
    println!();
    if problems.is_empty() {
        println!("bl33: the OS ended with {expect:?}; firmware logged no fault");
    }
    for problem in &problems {
        println!("FAIL: {problem}");
    }
    problems.is_empty()
}

/// One Linux boot of the test: Debian's kernel as BL33 with the check
/// initramfs on `-smp 4`, ending as `end` asks. Returns the init's checks
/// (passed, failed) and every problem with the run (empty: passed).
pub fn linux_boot_test(
    ws: &Workspace,
    assets: &crate::linux::LinuxAssets,
    end: crate::linux::End,
    timeout: std::time::Duration,
) -> anyhow::Result<(u32, u32, Vec<String>)> {
    use crate::linux::{CheckReport, End, MAX_CPU_FEATURES};
    const CPUS: u32 = 4;
    // Under root the kernel must see exactly the PSCI and SMCCC versions
    // root answers with (PSCI_VERSION, SMCCC_VERSION).
    let cmdline = format!(
        "{} rampart.psci=1.1 rampart.smccc=1.2",
        assets.cmdline(CPUS, end, MAX_CPU_FEATURES)
    );
    let request = Bl33Request {
        bl33: &assets.image,
        initrd: Some(&assets.initrd),
        append: Some(&cmdline),
    };
    let options = RunOptions {
        timeout,
        smp: CPUS,
        quiet: true,
        ..Default::default()
    };
    let report = run(ws, Board::QemuVirt, &request, options)?;
    let power = match end {
        End::Poweroff => PowerEnd::SystemOff,
        End::Reboot => PowerEnd::SystemReset,
    };
    let mut problems = judge_os_run(&report, power);
    let checks = CheckReport::parse(&report.tracker.os.console);
    problems.extend(checks.problems(end).iter().map(|p| format!("init: {p}")));
    for check in &checks.checks {
        println!(
            "  linux ({}): {:?} {} {}",
            end.param(),
            check.outcome,
            check.name,
            check.detail
        );
    }
    let (passed, failed) = checks.verdict.unwrap_or((0, 0));
    Ok((passed, failed, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux_head(text_offset: u64, image_size: u64) -> Vec<u8> {
        let mut head = vec![0u8; 64];
        head[8..16].copy_from_slice(&text_offset.to_le_bytes());
        head[16..24].copy_from_slice(&image_size.to_le_bytes());
        head[0x38..0x3c].copy_from_slice(b"ARM\x64");
        head
    }

    #[test]
    fn a_linux_image_claims_its_image_size_and_the_initrd_follows() {
        let layout = plan(&linux_head(0, 49 << 20), 47 << 20, Some(3 << 20)).unwrap();
        assert!(layout.linux);
        assert_eq!(layout.bl33, Range::new(0x6000_0000, 49 << 20));
        assert_eq!(layout.initrd, Some(Range::new(0x6320_0000, 3 << 20)));
    }

    #[test]
    fn text_offset_is_honoured_and_a_raw_binary_is_taken_as_is() {
        let layout = plan(&linux_head(0x8_0000, 0x10_0000), 0x9_0000, None).unwrap();
        assert_eq!(layout.bl33.base, 0x6008_0000);
        assert_eq!(layout.initrd, None);
        let raw = plan(&[0u8; 64], 0x12_3456, Some(1)).unwrap();
        assert!(!raw.linux);
        assert_eq!(raw.bl33, Range::new(0x6000_0000, 0x12_3456));
        assert_eq!(raw.initrd, Some(Range::new(0x6020_0000, 1)));
        assert!(plan(&linux_head(TWO_MIB, 0), 10, None).is_err());
    }
}
