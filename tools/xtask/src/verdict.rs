//! Judging an end-to-end run from its decoded trace.
//!
//! The `nshost` payload logs one line per test case, `case <name>: PASS` or
//! `case <name>: FAIL <detail>`, then `verdict: <N> passed, <M> failed`, and
//! powers the machine off. Any ERROR line mentioning a panic fails the run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitStatus;

use anyhow::Context;
use rampart_trace::Line;

/// The image whose lines carry case results and the verdict.
const DRIVER: &str = "nshost";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseResult {
    Pass,
    Fail(String),
}

/// What the trace said, as it arrives.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Case results in the order first reported; a FAIL sticks.
    pub cases: Vec<(String, CaseResult)>,
    /// `verdict: N passed, M failed`.
    pub verdict: Option<(u32, u32)>,
    /// ERROR lines that report a panic.
    pub panics: Vec<String>,
    /// The attestation token the guest obtained, as nshost relayed it.
    pub attestation: crate::attest::Capture,
    /// Cases judged on this side after the run (they are also in
    /// `cases`, but not in nshost's verdict).
    pub host_cases: usize,
    /// What firmware said about a Normal-world OS it ran (a BL33 run).
    pub os: OsObservations,
    /// Lines seen per (UART, image), e.g. ("console", "nshost").
    pub lines_by_uart: BTreeMap<(&'static str, String), usize>,
}

/// How the Normal world ended the run, as root logs the PSCI call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerEnd {
    SystemOff,
    SystemReset,
}

/// Firmware's view of a Normal-world OS run.
#[derive(Debug, Default)]
pub struct OsObservations {
    /// The first SYSTEM_OFF or SYSTEM_RESET root carried out.
    pub power: Option<PowerEnd>,
    /// Root's reports of a granule protection fault or a trapped
    /// instruction it answered for a lower EL: a standard OS must cause
    /// neither.
    pub firmware_faults: Vec<String>,
    /// The OS's plain-text console (UART0), one line each.
    pub console: String,
}

impl OsObservations {
    fn observe(&mut self, line: &Line) {
        if line.image == rampart_trace::CONSOLE_IMAGE {
            self.console.push_str(&line.text);
            self.console.push('\n');
            return;
        }
        if line.image != "root" {
            return;
        }
        let text = line.text.as_str();
        let power = match text {
            "psci: system off" => Some(PowerEnd::SystemOff),
            "psci: system reset" => Some(PowerEnd::SystemReset),
            _ => None,
        };
        if self.power.is_none() {
            self.power = power;
        }
        if text.starts_with("gpf:") || text.contains(" trapped ") {
            self.firmware_faults.push(line.to_string());
        }
    }
}

/// What a line told the tracker, so the runner can react (e.g. stop early).
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    None,
    Case,
    Verdict,
    Panic,
}

impl Tracker {
    pub fn observe(&mut self, line: &Line) -> Event {
        self.os.observe(line);
        if line.is_error() && line.text.to_lowercase().contains("panic") {
            self.panics.push(line.to_string());
            return Event::Panic;
        }
        if line.image != DRIVER {
            return Event::None;
        }
        if self.attestation.observe(&line.text) {
            return Event::None;
        }
        if let Some((name, result)) = parse_case(&line.text) {
            match self.cases.iter_mut().find(|(n, _)| *n == name) {
                Some((_, existing)) => {
                    if result != CaseResult::Pass {
                        *existing = result;
                    }
                }
                None => self.cases.push((name, result)),
            }
            return Event::Case;
        }
        if let Some(verdict) = parse_verdict(&line.text) {
            self.verdict = Some(verdict);
            return Event::Verdict;
        }
        Event::None
    }

    /// Counts a line that came from `uart` ("console" for UART0, "trace"
    /// for the firmware's UART).
    pub fn count(&mut self, uart: &'static str, line: &Line) {
        *self
            .lines_by_uart
            .entry((uart, line.image.clone()))
            .or_default() += 1;
    }

    /// The `trace_split` host case: firmware records only on the firmware
    /// UART (root's own and the RMM's, which must have come through root's
    /// drain), none on the Normal world's console.
    pub fn judge_trace_split(&mut self) {
        let on = |uart: &str, image: &str| {
            self.lines_by_uart
                .get(&(uart, image.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        let mut problems = Vec::new();
        for image in ["root", "realm"] {
            if on("console", image) != 0 {
                problems.push(format!("{} {image} line(s) on UART0", on("console", image)));
            }
            if on("trace", image) == 0 {
                problems.push(format!("no {image} line on the firmware UART"));
            }
        }
        let result = if problems.is_empty() {
            CaseResult::Pass
        } else {
            CaseResult::Fail(problems.join("; "))
        };
        self.cases.push(("trace_split".to_owned(), result));
        self.host_cases += 1;
    }

    pub fn passed(&self) -> usize {
        self.cases
            .iter()
            .filter(|(_, r)| *r == CaseResult::Pass)
            .count()
    }

    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    fn result(&self, name: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }
}

/// `case <name>: PASS` / `case <name>: FAIL <detail>`.
pub fn parse_case(text: &str) -> Option<(String, CaseResult)> {
    let (name, rest) = text.trim().strip_prefix("case ")?.split_once(':')?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    let result = if rest == "PASS" {
        CaseResult::Pass
    } else {
        let detail = rest.strip_prefix("FAIL")?;
        if !(detail.is_empty() || detail.starts_with(char::is_whitespace)) {
            return None;
        }
        CaseResult::Fail(detail.trim().to_owned())
    };
    Some((name.to_owned(), result))
}

/// `verdict: <N> passed, <M> failed`.
pub fn parse_verdict(text: &str) -> Option<(u32, u32)> {
    let rest = text.trim().strip_prefix("verdict:")?.trim();
    let (passed, failed) = rest.split_once(',')?;
    let passed = passed.trim().strip_suffix("passed")?.trim().parse().ok()?;
    let failed = failed.trim().strip_suffix("failed")?.trim().parse().ok()?;
    Some((passed, failed))
}

/// Reads an expected-cases file: one case name a line, `#` starts a comment.
pub fn read_expected(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(parse_expected(&text))
}

pub fn parse_expected(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// How the QEMU run ended.
#[derive(Debug)]
pub enum Ending {
    /// QEMU exited by itself (the payload powered the machine off).
    Exited(ExitStatus),
    /// xtask killed QEMU; the reason.
    Killed(String),
}

/// A finished run: how it ended and what the trace said.
pub struct RunReport {
    pub ending: Ending,
    pub tracker: Tracker,
}

/// The verdict on a run.
pub struct Judgement {
    pub passed: usize,
    /// Cases that failed or that were expected and never reported.
    pub failed: usize,
    /// Everything wrong, one line each; empty when the run passed.
    pub problems: Vec<String>,
    /// Reported cases not in the expected list (informational).
    pub unexpected: Vec<String>,
}

impl Judgement {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Failures counted for the `N passed, M failed` line: a failed run
    /// never shows zero failures, even when no case is to blame.
    pub fn failed_count(&self) -> usize {
        if self.ok() {
            self.failed
        } else {
            self.failed.max(1)
        }
    }

    pub fn print(&self) {
        println!();
        println!("cases: {} passed, {} failed", self.passed, self.failed);
        for name in &self.unexpected {
            println!("  note: case {name} is not in tests/qemu/expected-cases.txt");
        }
        if self.ok() {
            println!("run: PASS");
        } else {
            println!("run: FAIL");
            for problem in &self.problems {
                println!("  - {problem}");
            }
        }
    }
}

/// Judges a run; with `expected`, every listed case must have passed.
pub fn judge(report: &RunReport, expected: Option<&[String]>) -> Judgement {
    let tracker = &report.tracker;
    let mut problems = Vec::new();
    match &report.ending {
        Ending::Exited(status) if status.success() => {}
        Ending::Exited(status) => problems.push(format!("QEMU exited with {status}")),
        Ending::Killed(reason) => {
            problems.push(format!("QEMU did not power off by itself: {reason}"))
        }
    }
    problems.extend(
        tracker
            .panics
            .iter()
            .map(|p| format!("panic reported: {p}")),
    );
    for (name, result) in &tracker.cases {
        if let CaseResult::Fail(detail) = result {
            problems.push(format!("case {name} failed: {detail}"));
        }
    }
    let mut missing = 0;
    let mut unexpected = Vec::new();
    if let Some(expected) = expected {
        for name in expected {
            if tracker.result(name).is_none() {
                missing += 1;
                problems.push(format!("case {name} did not report"));
            }
        }
        unexpected = tracker
            .cases
            .iter()
            .map(|(n, _)| n)
            .filter(|n| !expected.contains(n))
            .cloned()
            .collect();
    }
    match tracker.verdict {
        None => problems.push("no `verdict:` line from nshost".to_owned()),
        Some((_, failed)) if failed > 0 => {
            problems.push(format!("nshost's verdict reports {failed} failed"))
        }
        Some(_) => {}
    }
    let host_failed = tracker.cases[tracker.cases.len() - tracker.host_cases..]
        .iter()
        .filter(|(_, r)| *r != CaseResult::Pass)
        .count();
    let host_passed = tracker.host_cases - host_failed;
    if let Some((passed, failed)) = tracker.verdict
        && (passed as usize + host_passed, failed as usize + host_failed)
            != (tracker.passed(), tracker.failed())
    {
        problems.push(format!(
            "nshost's verdict says {passed} passed, {failed} failed, but the trace shows {} PASS \
             and {} FAIL case lines (trace records lost?)",
            tracker.passed(),
            tracker.failed()
        ));
    }
    Judgement {
        passed: tracker.passed(),
        failed: tracker.failed() + missing,
        problems,
        unexpected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn line(image: &str, level: &str, text: &str) -> Line {
        Line {
            image: image.into(),
            level: Some(level.into()),
            timestamp: None,
            text: text.into(),
        }
    }

    fn tracker(lines: &[Line]) -> Tracker {
        let mut t = Tracker::default();
        for l in lines {
            t.observe(l);
        }
        t
    }

    fn exited() -> Ending {
        Ending::Exited(ExitStatus::from_raw(0))
    }

    #[test]
    fn parses_case_and_verdict_lines() {
        assert_eq!(
            parse_case("case psci_version: PASS"),
            Some(("psci_version".into(), CaseResult::Pass))
        );
        assert_eq!(
            parse_case("case cpu_on_all: FAIL core 2 returned -2"),
            Some((
                "cpu_on_all".into(),
                CaseResult::Fail("core 2 returned -2".into())
            ))
        );
        assert_eq!(
            parse_case("case x: FAIL"),
            Some(("x".into(), CaseResult::Fail(String::new())))
        );
        assert_eq!(parse_case("case x: PASSED"), None);
        assert_eq!(parse_case("case x: FAILURE"), None);
        assert_eq!(parse_case("case two words: PASS"), None);
        assert_eq!(parse_case("starting case x"), None);
        assert_eq!(parse_verdict("verdict: 11 passed, 0 failed"), Some((11, 0)));
        assert_eq!(parse_verdict("verdict: 3 passed,2 failed"), Some((3, 2)));
        assert_eq!(parse_verdict("verdict: lots passed, 0 failed"), None);
    }

    #[test]
    fn expected_file_ignores_comments_and_blanks() {
        let text = "# header\nsmccc_version\n\n  psci_version  # trailing\n#x\n";
        assert_eq!(parse_expected(text), ["smccc_version", "psci_version"]);
    }

    #[test]
    fn clean_run_passes_and_only_nshost_counts() {
        let t = tracker(&[
            line("root", "INFO", "case fake: FAIL ignored: not the driver"),
            line("nshost", "INFO", "case a: PASS"),
            line("nshost", "INFO", "case b: PASS"),
            line("nshost", "INFO", "verdict: 2 passed, 0 failed"),
        ]);
        let report = RunReport {
            ending: exited(),
            tracker: t,
        };
        let j = judge(&report, Some(&["a".into(), "b".into()]));
        assert!(j.ok(), "{:?}", j.problems);
        assert_eq!((j.passed, j.failed_count()), (2, 0));
    }

    #[test]
    fn failures_are_all_reported() {
        let t = tracker(&[
            line("nshost", "INFO", "case a: PASS"),
            line("nshost", "INFO", "case b: FAIL got 5"),
            line("nshost", "INFO", "case b: PASS"),
            line("nshost", "INFO", "case extra: PASS"),
            line("realm", "ERROR", "panic: index out of bounds"),
            line("nshost", "INFO", "verdict: 2 passed, 1 failed"),
        ]);
        let report = RunReport {
            ending: Ending::Killed("timeout after 300 s".into()),
            tracker: t,
        };
        let expected = ["a".to_owned(), "b".into(), "c".into()];
        let j = judge(&report, Some(&expected));
        assert!(!j.ok());
        assert_eq!((j.passed, j.failed), (2, 2)); // b failed (sticks), c missing
        assert_eq!(j.unexpected, ["extra"]);
        let all = j.problems.join("\n");
        for needle in [
            "did not power off",
            "panic reported",
            "case b failed: got 5",
            "case c did not report",
            "reports 1 failed",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in\n{all}");
        }
    }

    #[test]
    fn missing_verdict_or_lost_lines_fail_with_a_nonzero_count() {
        let report = RunReport {
            ending: exited(),
            tracker: tracker(&[line("nshost", "INFO", "case a: PASS")]),
        };
        let j = judge(&report, None);
        assert!(!j.ok());
        assert_eq!((j.passed, j.failed, j.failed_count()), (1, 0, 1));
        let report = RunReport {
            ending: exited(),
            tracker: tracker(&[line("nshost", "INFO", "verdict: 4 passed, 0 failed")]),
        };
        assert!(
            judge(&report, None)
                .problems
                .iter()
                .any(|p| p.contains("lost"))
        );
    }

    #[test]
    fn warn_level_panic_words_do_not_fail() {
        let t = tracker(&[line("root", "WARN", "panic-free path taken")]);
        assert!(t.panics.is_empty());
        let t = tracker(&[line("root", "ERROR", "PANIC at kernel/root/src/main.rs:10")]);
        assert_eq!(t.panics.len(), 1);
    }

    #[test]
    fn trace_split_wants_firmware_on_its_uart_only() {
        let mut t = Tracker::default();
        t.count("trace", &line("root", "INFO", "boot"));
        t.count("trace", &line("realm", "INFO", "boot"));
        t.count("console", &line("nshost", "INFO", "case x: PASS"));
        t.count("console", &line("console", "", "Booting Linux"));
        t.judge_trace_split();
        assert_eq!(t.cases.last().unwrap().1, CaseResult::Pass);
        assert_eq!(t.host_cases, 1);

        let mut t = Tracker::default();
        t.count("trace", &line("root", "INFO", "boot"));
        t.count("console", &line("realm", "INFO", "boot"));
        t.judge_trace_split();
        let CaseResult::Fail(detail) = &t.cases[0].1 else {
            panic!("must fail")
        };
        assert_eq!(
            detail,
            "1 realm line(s) on UART0; no realm line on the firmware UART"
        );
    }
}
