//! The `rampart-check:` lines the initramfs's /init (tests/linux/init)
//! prints on the Normal-world console, and the verdict they give.

use std::fmt;

const PREFIX: &str = "rampart-check: ";

/// How the init asked the firmware to end the boot (PSCI SYSTEM_OFF or
/// SYSTEM_RESET, through busybox `poweroff -f` / `reboot -f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum End {
    Poweroff,
    Reboot,
}

impl End {
    /// The value of `rampart.end=` on the kernel command line.
    pub fn param(self) -> &'static str {
        match self {
            End::Poweroff => "poweroff",
            End::Reboot => "reboot",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// Everything the init reported, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub checks: Vec<Check>,
    /// (passed, failed) from the `verdict` line.
    pub verdict: Option<(u32, u32)>,
    pub end: Option<End>,
    /// Kernel release from the `start` line.
    pub kernel: Option<String>,
    /// `rampart-log:` lines: the offending kernel-log lines the init quotes.
    pub log: Vec<String>,
    /// The kernel's last word: "reboot: Power down" (it then calls PSCI
    /// SYSTEM_OFF) or "reboot: Restarting system" (SYSTEM_RESET).
    pub kernel_end: Option<End>,
}

/// Why a report does not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    NotStarted,
    Failed(Check),
    NoVerdict,
    /// The verdict's counts disagree with the lines seen: lines were lost.
    CountMismatch {
        verdict: (u32, u32),
        seen: (u32, u32),
    },
    WrongEnd {
        want: End,
        got: Option<End>,
    },
    /// The kernel never said it powers down or restarts as asked.
    KernelDidNotEnd(End),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotStarted => write!(f, "the init never started (no `rampart-check: start`)"),
            Problem::Failed(check) => write!(f, "check {} failed: {}", check.name, check.detail),
            Problem::NoVerdict => write!(f, "no `rampart-check: verdict` line"),
            Problem::CountMismatch { verdict, seen } => write!(
                f,
                "verdict says {} passed, {} failed but {} PASS and {} FAIL lines were seen",
                verdict.0, verdict.1, seen.0, seen.1
            ),
            Problem::WrongEnd { want, got } => match got {
                Some(got) => write!(
                    f,
                    "the init ended with {} instead of {}",
                    got.param(),
                    want.param()
                ),
                None => write!(f, "the init never reached its {} step", want.param()),
            },
            Problem::KernelDidNotEnd(End::Poweroff) => {
                write!(f, "the kernel never printed \"reboot: Power down\"")
            }
            Problem::KernelDidNotEnd(End::Reboot) => {
                write!(f, "the kernel never printed \"reboot: Restarting system\"")
            }
        }
    }
}

impl CheckReport {
    /// Reads a console capture; other lines (the kernel's) are ignored. A
    /// check line may follow kernel output on the same line, so the prefix
    /// is looked for anywhere, and carriage returns are dropped.
    pub fn parse(console: &str) -> Self {
        let mut report = CheckReport::default();
        for line in console.lines() {
            let line = line.trim_end_matches('\r');
            if line.contains("reboot: Power down") {
                report.kernel_end = Some(End::Poweroff);
            } else if line.contains("reboot: Restarting system") {
                report.kernel_end = Some(End::Reboot);
            }
            if let Some(at) = line.find("rampart-log: ") {
                report
                    .log
                    .push(line[at + "rampart-log: ".len()..].to_owned());
                continue;
            }
            let Some(at) = line.find(PREFIX) else {
                continue;
            };
            report.observe(&line[at + PREFIX.len()..]);
        }
        report
    }

    fn observe(&mut self, body: &str) {
        let (word, rest) = body.split_once(' ').unwrap_or((body, ""));
        let outcome = match word {
            "PASS" => Outcome::Pass,
            "FAIL" => Outcome::Fail,
            "SKIP" => Outcome::Skip,
            "start" => {
                self.kernel = rest.split_whitespace().next().map(str::to_owned);
                return;
            }
            "verdict" => {
                self.verdict = parse_counts(rest);
                return;
            }
            "end" => {
                self.end = match rest.trim() {
                    "poweroff" => Some(End::Poweroff),
                    "reboot" => Some(End::Reboot),
                    _ => None,
                };
                return;
            }
            _ => return,
        };
        let (name, detail) = rest.split_once(' ').unwrap_or((rest, ""));
        self.checks.push(Check {
            name: name.to_owned(),
            outcome,
            detail: detail.to_owned(),
        });
    }

    fn count(&self, outcome: Outcome) -> u32 {
        let n = self.checks.iter().filter(|c| c.outcome == outcome).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Every reason the boot does not pass: a failed check, a missing or
    /// inconsistent verdict, or an end other than `want`. Empty means pass.
    pub fn problems(&self, want: End) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.kernel.is_none() {
            problems.push(Problem::NotStarted);
        }
        problems.extend(
            self.checks
                .iter()
                .filter(|c| c.outcome == Outcome::Fail)
                .cloned()
                .map(Problem::Failed),
        );
        let seen = (self.count(Outcome::Pass), self.count(Outcome::Fail));
        match self.verdict {
            None => problems.push(Problem::NoVerdict),
            Some(verdict) if verdict != seen => {
                problems.push(Problem::CountMismatch { verdict, seen })
            }
            Some(_) => {}
        }
        if self.end != Some(want) {
            problems.push(Problem::WrongEnd {
                want,
                got: self.end,
            });
        }
        if self.kernel_end != Some(want) {
            problems.push(Problem::KernelDidNotEnd(want));
        }
        problems
    }
}

/// "N passed, M failed" -> (N, M).
fn parse_counts(text: &str) -> Option<(u32, u32)> {
    let (passed, failed) = text.trim().split_once(", ")?;
    let passed = passed.strip_suffix(" passed")?.trim().parse().ok()?;
    let failed = failed.strip_suffix(" failed")?.trim().parse().ok()?;
    Some((passed, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "\
[    1.234] Run /init as init process\r
rampart-check: start 7.2.13+deb14-arm64 cpus=4 end=poweroff\r
rampart-check: PASS cpus-online 0-3\r
rampart-check: PASS psci-version 1.1\r
rampart-check: PASS smccc-version 1.2\r
rampart-check: PASS cpu-offline cpu1 off, online=0,2-3\r
rampart-check: PASS cpu-online cpu1 back, online=0-3\r
rampart-check: PASS kernel-log no firmware error, exception or warning\r
rampart-check: verdict 6 passed, 0 failed\r
rampart-check: end poweroff\r
[    9.000] reboot: Power down\r
";

    #[test]
    fn clean_boot_passes_only_with_its_own_end() {
        let report = CheckReport::parse(CLEAN);
        assert_eq!(report.kernel.as_deref(), Some("7.2.13+deb14-arm64"));
        assert_eq!(report.checks.len(), 6);
        assert_eq!(report.checks[1].detail, "1.1");
        assert_eq!(report.verdict, Some((6, 0)));
        assert!(report.problems(End::Poweroff).is_empty());
        assert_eq!(report.kernel_end, Some(End::Poweroff));
        assert_eq!(
            report.problems(End::Reboot),
            vec![
                Problem::WrongEnd {
                    want: End::Reboot,
                    got: Some(End::Poweroff)
                },
                Problem::KernelDidNotEnd(End::Reboot)
            ]
        );
        // The init asked, but the kernel never got as far as the firmware call.
        let stuck = CLEAN.replace("[    9.000] reboot: Power down\r\n", "");
        assert_eq!(
            CheckReport::parse(&stuck).problems(End::Poweroff),
            vec![Problem::KernelDidNotEnd(End::Poweroff)]
        );
    }

    #[test]
    fn failures_and_quoted_log_lines_are_reported() {
        let console = CLEAN
            .replace(
                "PASS kernel-log no firmware error, exception or warning",
                "FAIL kernel-log 1 bad line(s), first: SError Interrupt on CPU2",
            )
            .replace("verdict 6 passed, 0 failed", "verdict 5 passed, 1 failed")
            .replace(
                "rampart-check: end",
                "rampart-log: [ 3.1] SError Interrupt on CPU2\nrampart-check: end",
            );
        let report = CheckReport::parse(&console);
        assert_eq!(report.log, vec!["[ 3.1] SError Interrupt on CPU2"]);
        let problems = report.problems(End::Poweroff);
        assert_eq!(problems.len(), 1);
        assert!(matches!(&problems[0], Problem::Failed(c) if c.name == "kernel-log"));
    }

    #[test]
    fn lost_lines_missing_verdict_and_interleaving() {
        // A lost PASS line: the verdict no longer matches what was seen.
        let lost = CLEAN.replace("rampart-check: PASS psci-version 1.1\r\n", "");
        assert!(matches!(
            CheckReport::parse(&lost).problems(End::Poweroff)[..],
            [Problem::CountMismatch {
                verdict: (6, 0),
                seen: (5, 0)
            }]
        ));
        // A hang before the verdict.
        let hung: String = CLEAN.lines().take(4).collect::<Vec<_>>().join("\n");
        assert!(!hung.contains("verdict"));
        let problems = CheckReport::parse(&hung).problems(End::Poweroff);
        assert!(problems.contains(&Problem::NoVerdict));
        assert!(problems.contains(&Problem::WrongEnd {
            want: End::Poweroff,
            got: None
        }));
        // Nothing at all.
        assert!(
            CheckReport::parse("")
                .problems(End::Reboot)
                .contains(&Problem::NotStarted)
        );
        // Kernel output ahead of a check line on the same console line.
        let report = CheckReport::parse(
            "[  5.0] CPU1: Booted secondary processorrampart-check: PASS cpu-online back\n",
        );
        assert_eq!(report.checks[0].name, "cpu-online");
    }

    #[test]
    fn verdict_counts() {
        assert_eq!(parse_counts("6 passed, 0 failed"), Some((6, 0)));
        assert_eq!(parse_counts("6 passed"), None);
        assert_eq!(parse_counts("x passed, 0 failed"), None);
    }
}
