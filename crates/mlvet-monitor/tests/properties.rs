//! Property: processing advisory generations incrementally (delta re-match, fan-out, lifecycle)
//! leaves exactly the open findings that matching every inventory from scratch gives, whatever
//! the sequence of publications, modifications, withdrawals, alias changes and uploads.

mod common;

use common::Harness;
use mlvet_db::{Database, NoProgress};
use mlvet_monitor::{EventType, Triple};
use proptest::prelude::*;

const NAMES: [&str; 3] = ["alpha", "Beta_Lib", "gamma"];
const VERSIONS: [&str; 6] = ["1.0", "1.1", "2.0", "2.0.1", "3.0rc1", "3.0"];
const IDS: [&str; 4] = [
    "PYSEC-2024-1",
    "GHSA-aaaa-bbbb-cccc",
    "PYSEC-2024-2",
    "GHSA-dddd-eeee-ffff",
];

#[derive(Debug, Clone)]
struct Publish {
    id: usize,
    package: usize,
    introduced: usize,
    /// Index into VERSIONS; `VERSIONS.len()` means no fix.
    fixed: usize,
    listed: Option<usize>,
    alias: Option<usize>,
    withdrawn: bool,
    score: usize,
}

#[derive(Debug, Clone)]
enum Op {
    Publish(Publish),
    Upload(usize, Vec<(usize, usize)>),
}

fn publish() -> impl Strategy<Value = Publish> {
    (
        0..IDS.len(),
        0..NAMES.len(),
        0..VERSIONS.len(),
        0..=VERSIONS.len(),
        proptest::option::of(0..VERSIONS.len()),
        proptest::option::of(0..IDS.len()),
        proptest::bool::weighted(0.2),
        0..3usize,
    )
        .prop_map(
            |(id, package, introduced, fixed, listed, alias, withdrawn, score)| Publish {
                id,
                package,
                introduced,
                fixed,
                listed,
                alias,
                withdrawn,
                score,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => publish().prop_map(Op::Publish),
        1 => (0..3usize, proptest::collection::vec((0..NAMES.len(), 0..VERSIONS.len()), 0..4))
            .prop_map(|(p, pkgs)| Op::Upload(p, pkgs)),
    ]
}

fn record(p: &Publish, serial: usize) -> String {
    let mut events = vec![
        serde_json::json!({"introduced": if p.introduced == 0 { "0" } else { VERSIONS[p.introduced] }}),
    ];
    if p.fixed < VERSIONS.len() {
        events.push(serde_json::json!({"fixed": VERSIONS[p.fixed]}));
    }
    let vectors = [
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    ];
    let mut record = serde_json::json!({
        "id": IDS[p.id],
        "modified": format!("2025-01-01T00:00:{:02}.{:06}Z", serial / 1_000_000 % 60, serial % 1_000_000),
        "summary": format!("s{serial}"),
        "severity": [{"type": "CVSS_V3", "score": vectors[p.score]}],
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": NAMES[p.package]},
            "ranges": [{"type": "ECOSYSTEM", "events": events}],
            "versions": p.listed.map(|v| vec![VERSIONS[v]]).unwrap_or_default(),
        }]
    });
    if let Some(alias) = p.alias.filter(|a| *a != p.id) {
        record["aliases"] = serde_json::json!([IDS[alias]]);
    }
    if p.withdrawn {
        record["withdrawn"] = serde_json::json!("2025-01-02T00:00:00Z");
    }
    record.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn incremental_equals_from_scratch(ops in proptest::collection::vec(op(), 1..12)) {
        let mut h = Harness::new(Database::in_memory().expect("db"));
        for (serial, op) in ops.iter().enumerate() {
            match op {
                Op::Publish(p) => {
                    h.db.import_bytes("r.json", record(p, serial + 1).as_bytes(), &NoProgress)
                        .expect("import");
                    h.catch_up();
                }
                Op::Upload(project, packages) => {
                    // One version per package and upload: a finding's identity is (project,
                    // package, advisory), so two versions of one package in one project are one
                    // finding, which the from-scratch model below does not express. (Two sources
                    // holding two versions deserve their own identity: an open question.)
                    let mut seen = std::collections::BTreeSet::new();
                    let triples: Vec<Triple> = packages
                        .iter()
                        .filter(|(n, _)| seen.insert(*n))
                        .map(|(n, v)| Triple::new("PyPI", NAMES[*n], VERSIONS[*v]))
                        .collect();
                    h.upload(&format!("p{project}"), &triples);
                }
            }
            prop_assert_eq!(h.open(), h.matched_from_scratch(), "after {:?}", op);
        }
        // Every open finding was announced by a created event, and no event names a finding
        // twice in a row with the same type (no double emission).
        for window in h.events.windows(2) {
            let same = window[0].event_type == window[1].event_type
                && window[0].data["finding"]["id"] == window[1].data["finding"]["id"]
                && window[0].event_type != EventType::FindingUpdated;
            prop_assert!(!same || window[0].data["finding"].is_null(), "duplicate {:?}", window);
        }
    }
}
