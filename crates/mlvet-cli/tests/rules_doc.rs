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
