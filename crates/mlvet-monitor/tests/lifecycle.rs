//! The monitor end to end over a real advisory database: the PyPA snapshot imported, then the
//! torch record narrowed, withdrawn and re-published, a new advisory added, uploads changing
//! inventories, triage and suppression.

mod common;

use common::{Harness, types};
use mlvet_db::{Database, NoProgress};
use mlvet_monitor::{EventType, FindingState, Triage, Triple};
use mlvet_osv::Advisory;

const PYPA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/advisories/pypa-advisory-database/vulns"
);

fn torch_record() -> Advisory {
    let text =
        std::fs::read_to_string(format!("{PYPA}/torch/PYSEC-2022-43015.yaml")).expect("read");
    mlvet_osv::parse_yaml(&text).expect("parse")
}

fn import(db: &mut Database, record: &Advisory) {
    db.import_bytes("r.json", record.to_canonical_json().as_bytes(), &NoProgress)
        .expect("import");
}

fn torch(version: &str) -> Triple {
    Triple::new("PyPI", "torch", version)
}

#[test]
fn advisory_changes_reach_exactly_the_affected_projects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Database::open_or_create(dir.path()).expect("db");
    db.import_path(std::path::Path::new(PYPA), &NoProgress)
        .expect("import");
    let mut h = Harness::new(db);

    // p1 holds torch 1.12.0, p2 torch 1.4.0, p3 torch 2.0.0 (not affected), p4 no torch.
    let created = h.upload(
        "p1",
        &[torch("1.12.0"), Triple::new("PyPI", "numpy", "1.26.4")],
    );
    assert!(types(&created).contains(&("finding.created".into(), "p1".into())));
    h.upload("p2", &[torch("1.4.0")]);
    h.upload("p3", &[torch("2.0.0")]);
    h.upload("p4", &[Triple::new("PyPI", "requests", "2.32.3")]);
    let torch_open = |h: &Harness, p: &str| {
        h.open().iter().any(|(project, triple, id, _)| {
            project == p && triple.name == "torch" && id == "PYSEC-2022-43015"
        })
    };
    assert!(torch_open(&h, "p1") && torch_open(&h, "p2") && !torch_open(&h, "p3"));
    h.events.clear();

    // Narrowed: fixed in 1.5.0, 1.12.0 no longer listed. p1's finding is retracted (it still has
    // the version); p2's fix version changes (updated); p3 and p4 hear nothing.
    let original = torch_record();
    let mut narrowed = original.clone();
    narrowed.modified = Some("2025-01-01T00:00:00Z".into());
    for affected in &mut narrowed.affected {
        for range in &mut affected.ranges {
            for event in &mut range.events {
                if event.fixed.as_deref() == Some("1.13.1") {
                    event.fixed = Some("1.5.0".into());
                }
            }
        }
        affected.versions.retain(|v| {
            ["1.0", "1.1.", "1.2", "1.3", "1.4"]
                .iter()
                .any(|p| v.starts_with(p))
        });
    }
    import(&mut h.db, &narrowed);
    let events = h.catch_up();
    assert_eq!(
        types(&events),
        [
            ("finding.retracted".to_string(), "p1".to_string()),
            ("finding.updated".to_string(), "p2".to_string())
        ]
    );
    assert_eq!(events[1].data["changes"]["fixed"]["from"], "1.13.1");
    assert_eq!(events[1].data["changes"]["fixed"]["to"], "1.5.0");
    assert_eq!(events[0].data["finding"]["state"], "retracted");
    assert_eq!(events[0].data["project"]["id"], "p1");
    assert_eq!(h.open(), h.matched_from_scratch());

    // p2 triages its finding as suppressed; the withdrawal then retracts it without a word.
    for f in h.findings.iter_mut().filter(|f| f.project == "p2") {
        f.triage = Some(Triage {
            status: "not_affected".into(),
            reason: Some("code path unused".into()),
            suppressed: true,
        });
    }
    let mut withdrawn = narrowed.clone();
    withdrawn.modified = Some("2025-02-01T00:00:00Z".into());
    withdrawn.withdrawn = Some("2025-02-01T00:00:00Z".into());
    import(&mut h.db, &withdrawn);
    assert_eq!(h.catch_up(), vec![], "suppressed findings never notify");
    let p2 = h
        .findings
        .iter()
        .find(|f| f.project == "p2" && f.package.name == "torch")
        .expect("kept");
    assert_eq!(
        p2.state,
        FindingState::Retracted,
        "findings are never deleted"
    );

    // Re-published: both findings re-open, p2's keeps its triage (and stays quiet), p1's notifies
    // as created again with reopened: true.
    let mut back = original.clone();
    back.modified = Some("2025-03-01T00:00:00Z".into());
    import(&mut h.db, &back);
    let events = h.catch_up();
    assert_eq!(
        types(&events),
        [("finding.created".to_string(), "p1".to_string())]
    );
    assert_eq!(events[0].data["reopened"], true);
    assert_eq!(events[0].data["cause"], "advisory");
    let p2 = h
        .findings
        .iter()
        .find(|f| f.project == "p2" && f.package.name == "torch")
        .expect("kept");
    assert_eq!(p2.state, FindingState::Open);
    assert_eq!(
        p2.triage.as_ref().map(|t| t.status.as_str()),
        Some("not_affected")
    );
    assert_eq!(h.open(), h.matched_from_scratch());

    // p1 upgrades torch to a fixed version: resolved, cause inventory.
    let events = h.upload(
        "p1",
        &[torch("1.13.1"), Triple::new("PyPI", "numpy", "1.26.4")],
    );
    let resolved: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == EventType::FindingResolved)
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].data["cause"], "inventory");
    assert_eq!(resolved[0].data["finding"]["package"]["version"], "1.12.0");

    // A brand-new advisory on requests reaches p4 only, cause advisory.
    let new = mlvet_osv::parse_json(
        br#"{"id": "GHSA-test-new1-0001", "modified": "2025-04-01T00:00:00Z",
             "summary": "new", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
             "affected": [{"package": {"ecosystem": "PyPI", "name": "Requests"},
                           "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.30"}, {"fixed": "2.33.0"}]}]}]}"#,
    )
    .expect("record");
    import(&mut h.db, &new);
    let events = h.catch_up();
    assert_eq!(
        types(&events),
        [("finding.created".to_string(), "p4".to_string())]
    );
    assert_eq!(
        events[0].data["finding"]["advisory"]["id"],
        "GHSA-test-new1-0001"
    );
    assert_eq!(events[0].data["finding"]["severity"], "critical");
    assert_eq!(events[0].data["finding"]["advisory"]["fixed"], "2.33.0");
    assert_eq!(h.open(), h.matched_from_scratch());
}

#[test]
fn a_version_upgrade_that_stays_vulnerable_updates_the_finding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Database::open_or_create(dir.path()).expect("db");
    import(&mut db, &torch_record());
    let mut h = Harness::new(db);
    h.upload("p", &[torch("1.10.0")]);
    let events = h.upload("p", &[torch("1.11.0")]);
    assert_eq!(
        types(&events),
        [("finding.updated".to_string(), "p".to_string())]
    );
    assert_eq!(events[0].data["changes"]["version"]["to"], "1.11.0");
    assert_eq!(events[0].data["cause"], "inventory");
    // Uploading the same inventory again emits nothing: no duplicate notification.
    assert!(h.upload("p", &[torch("1.11.0")]).is_empty());
}
