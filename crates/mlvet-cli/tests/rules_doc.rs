//! `docs/rules.md` is generated from the rule sources; this test fails when it is stale.
//! Regenerate with `MLVET_BLESS=1 cargo test -p mlvet-cli --test rules_doc`.

mod common;

#[test]
fn rules_doc_is_up_to_date() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["rules", "--markdown"])
        .output()
        .expect("run mlvet rules");
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).expect("utf-8");
    let path = common::repo_root().join("docs/rules.md");
    if std::env::var_os("MLVET_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/rules.md");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/rules.md is stale: run `MLVET_BLESS=1 cargo test -p mlvet-cli --test rules_doc`"
    );
}

#[test]
fn every_rule_is_documented_and_ids_are_unique_kebab_case() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["rules", "--markdown"])
        .output()
        .expect("run mlvet rules");
    let md = String::from_utf8(out.stdout).expect("utf-8");
    let ids: Vec<&str> = md.lines().filter_map(|l| l.strip_prefix("## ")).collect();
    assert!(ids.len() >= 10, "rules found: {ids:?}");
    let mut seen = std::collections::BTreeSet::new();
    for id in &ids {
        assert!(seen.insert(*id), "duplicate rule id {id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "rule id {id} is not kebab-case"
        );
    }
    for section in [
        "### What it does",
        "### Why is this bad?",
        "### Remediation",
    ] {
        assert_eq!(
            md.matches(section).count(),
            ids.len(),
            "every rule has a `{section}` section"
        );
    }
}

/// Every rule, on its own, documents what it does, why it matters and what to do, each with a
/// non-empty body, in that order; `References`, when present, lists at least one link.
#[test]
fn each_rule_has_the_required_sections_with_content() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["rules", "--markdown"])
        .output()
        .expect("run mlvet rules");
    let md = String::from_utf8(out.stdout).expect("utf-8");
    let mut problems = Vec::new();
    for section in md.split("\n## ").skip(1) {
        let id = section.lines().next().unwrap_or_default();
        let body_of = |heading: &str| -> Option<(usize, &str)> {
            let start = section.find(&format!("\n### {heading}\n"))?;
            let rest = &section[start + heading.len() + 6..];
            let end = rest.find("\n### ").unwrap_or(rest.len());
            Some((start, rest[..end].trim()))
        };
        let mut last = 0;
        for heading in ["What it does", "Why is this bad?", "Remediation"] {
            match body_of(heading) {
                None => problems.push(format!("{id}: no `{heading}` section")),
                Some((_, "")) => problems.push(format!("{id}: `{heading}` is empty")),
                Some((at, _)) if at < last => {
                    problems.push(format!("{id}: `{heading}` is out of order"))
                }
                Some((at, _)) => last = at,
            }
        }
        if let Some((_, references)) = body_of("References")
            && !references.contains("https://")
        {
            problems.push(format!("{id}: `References` has no link"));
        }
    }
    assert!(
        problems.is_empty(),
        "rule docs incomplete:\n{}",
        problems.join("\n")
    );
}
