//! End-to-end matching of real pins and ranges against the real PyPA advisory snapshot: each line
//! of `tests/data/real_requirements.txt` is read by the inventory's requirements parser and
//! matched against all 2,661 records; the advisories found (ids and aliases, merged by alias), and
//! for pins the fix guidance, must equal what the independent `packaging`-based reference
//! (`tests/data/gen_match_vectors.py`) computed into `tests/data/real_match_vectors.json`.

mod common;

use std::collections::BTreeSet;

use mlvet_inventory::{ManifestKind, parse_str};
use mlvet_osv::{Advisory, MatchOptions, MemorySource, match_dependencies, parse_yaml};
use serde_json::Value;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/real_match_vectors.json"
);

fn real_source() -> MemorySource {
    let advisories: Vec<Advisory> = common::record_files()
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("read record");
            parse_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect();
    assert_eq!(advisories.len(), 2661, "the snapshot has 2,661 records");
    MemorySource::new(advisories)
}

/// One advisory finding as compared: every id it is known by, and the fix offered.
type Seen = (Vec<String>, Option<String>);

/// Inventories one requirement line and matches it; returns the advisory findings.
fn advisories_for(line: &str, source: &MemorySource) -> Vec<Seen> {
    let inventory = parse_str(line, "requirements.txt", ManifestKind::Requirements);
    assert!(inventory.fully_parsed, "{line}: {:?}", inventory.findings);
    assert_eq!(inventory.dependencies.len(), 1, "{line}");
    let result = match_dependencies(&inventory.dependencies, source, &MatchOptions::default());
    assert!(
        result.unmatched_version == 0 && result.unmatched_ecosystem == 0,
        "{line}: {:?}",
        result.findings
    );
    let mut seen: Vec<Seen> = result
        .findings
        .iter()
        .filter_map(|f| f.advisory.as_ref())
        .map(|a| {
            let ids: BTreeSet<String> = std::iter::once(a.id.clone())
                .chain(a.aliases.iter().cloned())
                .collect();
            (ids.into_iter().collect(), a.fixed.clone())
        })
        .collect();
    seen.sort();
    seen
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

fn vectors() -> Value {
    let text = std::fs::read_to_string(VECTORS).expect("read vectors");
    serde_json::from_str(&text).expect("vectors are JSON")
}

#[test]
fn pinned_versions_match_the_reference_exactly() {
    let source = real_source();
    let doc = vectors();
    let rows = doc["pinned"].as_array().expect("pinned");
    assert!(rows.len() >= 1000, "the vectors cover over a thousand pins");
    let mut differences = Vec::new();
    let mut compared = 0usize;
    for row in rows {
        let line = row["requirement"].as_str().expect("requirement");
        let mut expected: Vec<Seen> = row["advisories"]
            .as_array()
            .expect("advisories")
            .iter()
            .map(|a| (strings(&a["ids"]), a["fixed"].as_str().map(str::to_string)))
            .collect();
        expected.sort();
        compared += expected.len();
        let actual = advisories_for(line, &source);
        if actual != expected {
            differences.push(format!(
                "{line}:\n  expected {expected:?}\n  actual   {actual:?}"
            ));
        }
    }
    assert!(compared > 3000, "over 3,000 expected advisory findings");
    assert!(
        differences.is_empty(),
        "{} pins differ from the reference:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn ranges_list_every_advisory_some_allowed_version_hits() {
    let source = real_source();
    let doc = vectors();
    let rows = doc["unpinned"].as_array().expect("unpinned");
    assert!(rows.len() >= 30);
    let mut differences = Vec::new();
    for row in rows {
        let line = row["requirement"].as_str().expect("requirement");
        let expected: BTreeSet<Vec<String>> = row["advisories"]
            .as_array()
            .expect("advisories")
            .iter()
            .map(strings)
            .collect();
        let actual: BTreeSet<Vec<String>> = advisories_for(line, &source)
            .into_iter()
            .map(|(ids, _)| ids)
            .collect();
        if actual != expected {
            differences.push(format!(
                "{line}: only expected {:?}; only actual {:?}",
                expected.difference(&actual).collect::<Vec<_>>(),
                actual.difference(&expected).collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} ranges differ from the reference:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn the_fix_offered_is_the_lowest_unaffected_fix_above_the_pin() {
    // torch 1.13.0: PYSEC-2022-43015 (CVE-2022-45907) is fixed in 1.13.1.
    let source = real_source();
    let seen = advisories_for("torch==1.13.0", &source);
    assert_eq!(
        seen,
        vec![(
            vec!["CVE-2022-45907".to_string(), "PYSEC-2022-43015".to_string()],
            Some("1.13.1".to_string())
        )]
    );
    // The fixed version itself is clean.
    assert!(advisories_for("torch==1.13.1", &source).is_empty());
}
