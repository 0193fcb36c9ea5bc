//! `cargo xtask bench`: guest instructions per RMI/RSI call on QEMU, and the
//! size and static RAM of each board's images.
//!
//! The test payloads bracket the measured calls with two marker
//! instructions (`rampart_arch::bench`; ids in `rampart_ipc::bench`). A TCG
//! plugin (`tools/xtask/plugin/rampart-bench.c`, built here with the system
//! C compiler) counts what the calling CPU executes between them, split by
//! exception level and world, and profiles it by translation block. QEMU
//! runs with `-icount shift=0`, single-threaded and deterministic: the same
//! build gives the same counts, run after run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use object::{Object, ObjectSymbol, SymbolKind, SymbolSection};
use rampart_ipc::bench::{self as ids, Bench};
use serde_json::{Value, json};

use crate::board::Board;
use crate::firmware::{self, symbol_in};
use crate::prereq;
use crate::qemu::{self, RunOptions};
use crate::verdict;
use crate::workspace::Workspace;

/// The board the benchmarks run on.
const BOARD: Board = Board::QemuVirt;
const PLUGIN_SOURCE: &str = "tools/xtask/plugin/rampart-bench.c";

pub struct Options {
    pub timeout: Duration,
    /// Boots to run; every run must give the same counts.
    pub runs: u32,
    /// Where the JSON result goes (default `target/rampart/bench.json`).
    pub json: Option<PathBuf>,
}

/// The plugin's buckets, in its output order.
const BUCKETS: [&str; 6] = ["EL3", "R-EL2", "R-EL1", "NS-EL2", "NS-EL1", "Secure"];
const EL3: usize = 0;
const R_EL2: usize = 1;

/// Instructions of one measured call, per bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts(pub [u64; 6]);

impl Counts {
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
    pub fn el3(&self) -> u64 {
        self.0[EL3]
    }
    pub fn rel2(&self) -> u64 {
        self.0[R_EL2]
    }
    /// Everything outside EL3 and R-EL2: the caller's own instructions and,
    /// for REC_ENTER, the guest's.
    pub fn other(&self) -> u64 {
        self.total() - self.el3() - self.rel2()
    }
    fn add(&self, other: &Counts) -> Counts {
        Counts(std::array::from_fn(|i| self.0[i] + other.0[i]))
    }
}

/// What the plugin wrote for one boot.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PluginOutput {
    /// Benchmark id -> its rounds, in order.
    pub rounds: BTreeMap<u64, Vec<Counts>>,
    /// (benchmark id, bucket) -> (block address, x30) -> instructions (all
    /// rounds).
    pub profile: BTreeMap<(u64, usize), BTreeMap<(u64, u64), u64>>,
    pub errors: Vec<String>,
}

/// Parses the plugin's output file (see the plugin's header comment).
pub fn parse(text: &str) -> anyhow::Result<PluginOutput> {
    let mut out = PluginOutput::default();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> anyhow::Result<u64> {
            let f = fields
                .get(i)
                .with_context(|| format!("line {}: too few fields", n + 1))?;
            let v = match f.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => f.parse(),
            };
            v.with_context(|| format!("line {}: bad number {f:?}", n + 1))
        };
        match fields.first() {
            Some(&"R") => {
                ensure!(fields.len() == 9, "line {}: {line:?}", n + 1);
                let mut counts = [0; BUCKETS.len()];
                for (b, count) in counts.iter_mut().enumerate() {
                    *count = num(3 + b)?;
                }
                out.rounds.entry(num(1)?).or_default().push(Counts(counts));
            }
            Some(&"P") => {
                let bucket = num(2)? as usize;
                ensure!(bucket < BUCKETS.len(), "line {}: bucket {bucket}", n + 1);
                ensure!(fields.len() == 6, "line {}: {line:?}", n + 1);
                *out.profile
                    .entry((num(1)?, bucket))
                    .or_default()
                    .entry((num(3)?, num(4)?))
                    .or_default() += num(5)?;
            }
            Some(&"E") => out.errors.push(fields[1..].join(" ")),
            _ => bail!("line {}: unexpected {line:?}", n + 1),
        }
    }
    Ok(out)
}

/// Builds the plugin with the system C compiler (`$CC`, else `cc`).
fn build_plugin(ws: &Workspace) -> anyhow::Result<PathBuf> {
    let source = ws.root.join(PLUGIN_SOURCE);
    let out = ws.out_dir(BOARD).join("librampart-bench.so");
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let mut command = Command::new(&cc);
    command
        .args([
            "-shared",
            "-fPIC",
            "-O2",
            "-std=gnu11",
            "-Wall",
            "-Wextra",
            "-Werror",
        ])
        .arg("-fvisibility=hidden")
        .arg("-o")
        .arg(&out)
        .arg(&source);
    let status = command.status().with_context(|| {
        format!(
            "running the C compiler {:?} for the QEMU plugin (install gcc, or set CC)",
            cc
        )
    })?;
    ensure!(
        status.success(),
        "building the QEMU plugin {PLUGIN_SOURCE} failed"
    );
    Ok(out)
}

/// One boot of the whole stack with the plugin; the end-to-end verdict must
/// be clean, or the counts would describe failing calls.
fn measure(
    ws: &Workspace,
    plugin: &Path,
    timeout: Duration,
    run: u32,
) -> anyhow::Result<PluginOutput> {
    let counts = ws.out_dir(BOARD).join(format!("bench-counts-{run}.txt"));
    let _ = std::fs::remove_file(&counts);
    let options = RunOptions {
        timeout,
        smp: 4,
        icount: true,
        plugin: Some(format!("{},out={}", plugin.display(), counts.display())),
        quiet: true,
        ..Default::default()
    };
    let report = qemu::run(ws, BOARD, &options)?;
    let judgement = verdict::judge(&report, None);
    if !judgement.ok() {
        judgement.print();
        bail!("the benchmark run did not pass cleanly, so its counts mean nothing");
    }
    let text = std::fs::read_to_string(&counts)
        .with_context(|| format!("reading the plugin's output {}", counts.display()))?;
    let output = parse(&text).with_context(|| format!("parsing {}", counts.display()))?;
    ensure!(
        output.errors.is_empty(),
        "the plugin reported: {}",
        output.errors.join("; ")
    );
    for bench in &ids::ALL {
        ensure!(
            output.rounds.get(&bench.id).is_some_and(|r| !r.is_empty()),
            "no measurement of {} (id {}) in {}",
            bench.name,
            bench.id,
            counts.display()
        );
    }
    Ok(output)
}

/// Code symbols of an ELF, sorted by address, for the profile: functions
/// with their sizes, and the assembly labels (size 0) that vectors and
/// entry points have.
struct Symbols(Vec<(u64, u64, String)>);

impl Symbols {
    fn load(elf: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
        let file =
            object::File::parse(&*bytes).with_context(|| format!("parsing {}", elf.display()))?;
        let mut symbols: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|s| {
                // Assembly labels are often untyped (STT_NOTYPE): keep any
                // symbol defined in a section, except data objects.
                matches!(s.section(), SymbolSection::Section(_))
                    && matches!(
                        s.kind(),
                        SymbolKind::Text | SymbolKind::Label | SymbolKind::Unknown
                    )
            })
            .filter(|s| s.name().is_ok_and(|n| !n.is_empty() && !n.starts_with('$')))
            .filter_map(|s| {
                let name = s.name().ok()?;
                Some((
                    s.address(),
                    s.size(),
                    format!("{:#}", rustc_demangle::demangle(name)),
                ))
            })
            .collect();
        symbols.sort();
        Ok(Self(symbols))
    }

    /// The function holding `address`; else the nearest label before it.
    fn name_of(&self, address: u64) -> String {
        let before = &self.0[..self.0.partition_point(|(start, _, _)| *start <= address)];
        if let Some((_, _, name)) = before
            .iter()
            .rev()
            .find(|(start, size, _)| *size > 0 && address < start + size)
        {
            return name.clone();
        }
        match before.iter().rev().find(|(_, size, _)| *size == 0) {
            Some((_, _, name)) => name.clone(),
            None => format!("{address:#x}"),
        }
    }
}

/// Leaf functions (they never change x30) reported with their caller.
const LEAF_HELPERS: [&str; 5] = ["memcpy", "memset", "memmove", "memcmp", "bcmp"];

/// The image whose code runs in a bucket.
fn image_of(bucket: usize) -> Option<&'static str> {
    match bucket {
        0 => Some("root"),
        1 => Some("realm"),
        2 => Some("guest"),
        3 => Some("nshost"),
        _ => None,
    }
}

/// Where one benchmark's instructions went: (image, function, instructions
/// per call), largest first.
fn contributors(
    output: &PluginOutput,
    symbols: &BTreeMap<&str, Symbols>,
    bench: &Bench,
) -> Vec<(String, String, u64)> {
    let rounds = output.rounds.get(&bench.id).map_or(1, |r| r.len().max(1)) as u64;
    let mut by_function: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((id, bucket), blocks) in output.profile.range((bench.id, 0)..=(bench.id, usize::MAX)) {
        debug_assert_eq!(*id, bench.id);
        let image = image_of(*bucket).unwrap_or(BUCKETS[*bucket]);
        for (&(address, lr), &insns) in blocks {
            let name = |a: u64| {
                symbols
                    .get(image)
                    .map_or_else(|| format!("{a:#x}"), |s| s.name_of(a))
            };
            let mut function = name(address);
            // A leaf helper's cost belongs to whoever called it.
            if LEAF_HELPERS.contains(&function.as_str()) {
                function = format!("{function} <- {}", name(lr));
            }
            *by_function.entry((image.to_owned(), function)).or_default() += insns;
        }
    }
    let mut list: Vec<_> = by_function
        .into_iter()
        .map(|((image, function), insns)| (image, function, insns / rounds))
        .collect();
    list.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    list
}

/// Sizes of one image, from its ELF's layout symbols.
struct ImageSize {
    board: &'static str,
    image: &'static str,
    flat: u64,
    text: u64,
    rodata: u64,
    data: u64,
    bss: u64,
    heap: u64,
    stacks: u64,
    ram: u64,
}

fn image_size(ws: &Workspace, board: Board, stem: &'static str) -> anyhow::Result<ImageSize> {
    let dir = ws.out_dir(board);
    let elf = dir.join(format!("{stem}.elf"));
    let flat = std::fs::metadata(dir.join(format!("{stem}.bin")))
        .with_context(|| format!("{stem}.bin of {}", board.name()))?
        .len();
    let bytes = std::fs::read(&elf).with_context(|| format!("reading {}", elf.display()))?;
    let file =
        object::File::parse(&*bytes).with_context(|| format!("parsing {}", elf.display()))?;
    let sym = |name: &str| symbol_in(&file, &elf, name);
    let start = sym("__image_start")?;
    let text_end = sym("__text_end")?;
    let rodata_end = sym("__rodata_end")?;
    let image_end = sym("__image_end")?;
    // The kernels' heaps are statics named HEAP (kernel/common's HeapRegion).
    let heap = file
        .symbols()
        .filter(|s| {
            s.name()
                .is_ok_and(|n| format!("{:#}", rustc_demangle::demangle(n)).ends_with("::HEAP"))
        })
        .map(|s| s.size())
        .sum();
    Ok(ImageSize {
        board: board.name(),
        image: stem,
        flat,
        text: text_end - start,
        rodata: rodata_end - text_end,
        data: image_end - rodata_end,
        bss: sym("__bss_end")? - sym("__bss_start")?,
        heap,
        stacks: sym("__stacks_end")? - sym("__stacks_start")?,
        ram: sym("__ram_end")? - start,
    })
}

/// Bytes of Granule Status Table per GiB of DRAM the RMM tracks.
fn gst_bytes_per_gib() -> u64 {
    let granules_per_gib = (1u64 << 30) / rampart_board::GRANULE_SIZE;
    granules_per_gib * std::mem::size_of::<rampart_granule::Entry>() as u64
}

/// `cargo xtask bench`. Ok(false) when a run failed or runs disagreed.
pub fn run(ws: &Workspace, options: &Options) -> anyhow::Result<bool> {
    println!("qemu: {}", prereq::check_qemu()?);
    firmware::build(ws, Board::FvpRdv3)?;
    firmware::build(ws, BOARD)?;
    let plugin = build_plugin(ws)?;

    let mut outputs = Vec::new();
    for run in 1..=options.runs.max(1) {
        println!("bench: run {run} of {}", options.runs.max(1));
        outputs.push(measure(ws, &plugin, options.timeout, run)?);
    }
    let first = &outputs[0];
    let same = outputs.iter().all(|o| o == first);

    let mut symbols = BTreeMap::new();
    for stem in ["root", "realm", "guest", "nshost"] {
        symbols.insert(
            stem,
            Symbols::load(&ws.out_dir(BOARD).join(format!("{stem}.elf")))?,
        );
    }
    let mut sizes = Vec::new();
    for board in [Board::QemuVirt, Board::FvpRdv3] {
        for stem in ["root", "realm"] {
            sizes.push(image_size(ws, board, stem)?);
        }
    }

    let result = report(first, &symbols, &sizes, options.runs.max(1), same);
    print!("{}", table(&result));
    let json_path = options
        .json
        .clone()
        .unwrap_or_else(|| ws.target.join("rampart").join("bench.json"));
    std::fs::write(&json_path, serde_json::to_string_pretty(&result)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    println!("bench: results written to {}", json_path.display());
    if !same {
        println!(
            "bench: FAILED: the runs gave different counts (see the JSON of each run's plugin output)"
        );
    }
    Ok(same)
}

fn counts_json(c: &Counts) -> Value {
    let buckets: serde_json::Map<String, Value> = BUCKETS
        .iter()
        .zip(c.0)
        .map(|(name, n)| ((*name).to_owned(), json!(n)))
        .collect();
    json!({
        "el3": c.el3(),
        "r_el2": c.rel2(),
        "other": c.other(),
        "total": c.total(),
        "by_level": buckets,
    })
}

/// The machine-readable result.
fn report(
    output: &PluginOutput,
    symbols: &BTreeMap<&str, Symbols>,
    sizes: &[ImageSize],
    runs: u32,
    same: bool,
) -> Value {
    let mut benches = Vec::new();
    for bench in &ids::ALL {
        let rounds = &output.rounds[&bench.id];
        let last = rounds.last().copied().unwrap_or_default();
        let top: Vec<Value> = contributors(output, symbols, bench)
            .into_iter()
            .take(10)
            .map(|(image, function, insns)| {
                json!({"image": image, "function": function, "instructions": insns})
            })
            .collect();
        let mut entry = counts_json(&last);
        entry["name"] = json!(bench.name);
        entry["what"] = json!(bench.what);
        entry["rounds"] = Value::Array(rounds.iter().map(counts_json).collect());
        entry["top_functions"] = Value::Array(top);
        benches.push(entry);
    }
    let delegate = output.rounds[&ids::GRANULE_DELEGATE]
        .last()
        .copied()
        .unwrap_or_default();
    let undelegate = output.rounds[&ids::GRANULE_UNDELEGATE]
        .last()
        .copied()
        .unwrap_or_default();
    let mut pair = counts_json(&delegate.add(&undelegate));
    pair["name"] = json!("granule_delegate_undelegate");
    pair["what"] = json!("GRANULE_DELEGATE + GRANULE_UNDELEGATE of one granule");
    let sizes: Vec<Value> = sizes
        .iter()
        .map(|s| {
            json!({
                "board": s.board, "image": s.image, "flat_bytes": s.flat,
                "text": s.text, "rodata": s.rodata, "data": s.data, "bss": s.bss,
                "heap_in_bss": s.heap, "stacks": s.stacks, "static_ram": s.ram,
            })
        })
        .collect();
    json!({
        "board": BOARD.name(),
        "method": "QEMU TCG with -icount shift=0 and the rampart-bench plugin: instructions the calling CPU executes from the caller's SMC to its return, markers excluded; the value is the last of the rounds",
        "runs": runs,
        "runs_identical": same,
        "benchmarks": benches,
        "derived": [pair],
        "sizes": sizes,
        "gst_bytes_per_gib": gst_bytes_per_gib(),
    })
}

/// The short table, from the JSON result.
pub fn table(result: &Value) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\ninstructions per call ({}, QEMU TCG, counted on the calling CPU):",
        result["board"].as_str().unwrap_or_default()
    );
    let _ = writeln!(
        t,
        "  {:<28} {:>10} {:>10} {:>10} {:>10}",
        "call", "EL3", "R-EL2", "other", "total"
    );
    let rows = result["benchmarks"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(result["derived"].as_array().into_iter().flatten());
    for row in rows {
        let n = |k: &str| row[k].as_u64().unwrap_or_default();
        let _ = writeln!(
            t,
            "  {:<28} {:>10} {:>10} {:>10} {:>10}",
            row["name"].as_str().unwrap_or_default(),
            n("el3"),
            n("r_el2"),
            n("other"),
            n("total")
        );
    }
    let _ = writeln!(t, "\nwhere they go (top 3 functions per call):");
    for row in result["benchmarks"].as_array().into_iter().flatten() {
        let total = row["total"].as_u64().unwrap_or(1).max(1);
        let top: Vec<String> = row["top_functions"]
            .as_array()
            .into_iter()
            .flatten()
            .take(3)
            .map(|f| {
                let insns = f["instructions"].as_u64().unwrap_or_default();
                format!(
                    "{}:{} {} ({:.0}%)",
                    f["image"].as_str().unwrap_or_default(),
                    f["function"].as_str().unwrap_or_default(),
                    insns,
                    100.0 * insns as f64 / total as f64
                )
            })
            .collect();
        let _ = writeln!(t, "  {}:", row["name"].as_str().unwrap_or_default());
        for line in top {
            let _ = writeln!(t, "      {line}");
        }
    }
    let _ = writeln!(t, "\nimages (bytes):");
    let _ = writeln!(
        t,
        "  {:<10} {:<6} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>9}",
        "board", "image", "flat", "text", "rodata", "data", "bss", "(heap)", "stacks", "RAM"
    );
    for s in result["sizes"].as_array().into_iter().flatten() {
        let n = |k: &str| s[k].as_u64().unwrap_or_default();
        let _ = writeln!(
            t,
            "  {:<10} {:<6} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>9}",
            s["board"].as_str().unwrap_or_default(),
            s["image"].as_str().unwrap_or_default(),
            n("flat_bytes"),
            n("text"),
            n("rodata"),
            n("data"),
            n("bss"),
            n("heap_in_bss"),
            n("stacks"),
            n("static_ram")
        );
    }
    let _ = writeln!(
        t,
        "  realm GST: {} bytes per GiB of tracked DRAM, allocated after the image at boot",
        result["gst_bytes_per_gib"].as_u64().unwrap_or_default()
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rounds_profile_and_errors() {
        let text = "R 1 0 10 20 0 1 0 0\nR 1 0 10 20 0 1 0 0\nP 1 0 0x1000 0x8 30\nP 1 0 0x1000 0x8 2\nP 1 1 0x2000 0x9 40\nE 3 0 end-without-begin\n";
        let out = parse(text).unwrap();
        assert_eq!(out.rounds[&1].len(), 2);
        let c = out.rounds[&1][0];
        assert_eq!((c.el3(), c.rel2(), c.other(), c.total()), (10, 20, 1, 31));
        assert_eq!(out.profile[&(1, 0)][&(0x1000, 0x8)], 32);
        assert_eq!(out.profile[&(1, 1)][&(0x2000, 0x9)], 40);
        assert_eq!(out.errors, ["3 0 end-without-begin"]);
        assert!(parse("R 1 0 10\n").is_err());
        assert!(parse("P 1 9 0x10 0x0 1\n").is_err());
        assert!(parse("P 1 0 0x10 1\n").is_err());
        assert!(parse("X\n").is_err());
    }

    #[test]
    fn table_lists_every_benchmark_and_size() {
        let mut output = PluginOutput::default();
        for bench in &ids::ALL {
            output
                .rounds
                .insert(bench.id, vec![Counts([bench.id, 2, 3, 1, 0, 0])]);
            output
                .profile
                .insert((bench.id, 0), BTreeMap::from([((0x10, 0x20), bench.id)]));
        }
        let sizes = [ImageSize {
            board: "qemu-virt",
            image: "root",
            flat: 1,
            text: 2,
            rodata: 3,
            data: 4,
            bss: 5,
            heap: 6,
            stacks: 7,
            ram: 8,
        }];
        let result = report(&output, &BTreeMap::new(), &sizes, 2, true);
        let text = table(&result);
        for bench in &ids::ALL {
            assert!(text.contains(bench.name), "{text}");
        }
        assert!(text.contains("granule_delegate_undelegate"));
        assert_eq!(result["benchmarks"][0]["other"], 4);
        assert_eq!(result["derived"][0]["el3"], 5);
        assert_eq!(result["gst_bytes_per_gib"], 2 * 1024 * 1024);
    }
}
