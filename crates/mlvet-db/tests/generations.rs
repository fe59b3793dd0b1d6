//! Advisory generations and deltas, with the real PyPA records: import, modify a copy, narrow a
//! range, withdraw, rename a package, and see each as the right delta.

mod common;

use common::pypa_dir;
use mlvet_db::{ChangeKind, Database, NoProgress, PackageKey, RecordState};
use mlvet_osv::{Advisory, AdvisorySource, affects};

const TORCH_RECORD: &str = "torch/PYSEC-2022-43015.yaml";

fn real_record(relative: &str) -> Advisory {
    let text = std::fs::read_to_string(pypa_dir().join("vulns").join(relative)).expect("read");
    mlvet_osv::parse_yaml(&text).expect("parse")
}

fn import(db: &mut Database, record: &Advisory) -> mlvet_db::ImportStats {
    db.import_bytes(
        &format!("{}.json", record.id),
        record.to_canonical_json().as_bytes(),
        &NoProgress,
    )
    .expect("import")
}

fn matches_in(source: &dyn AdvisorySource, id: &str, package: &str, version: &str) -> bool {
    source
        .advisories_for("PyPI", package)
        .expect("lookup")
        .iter()
        .filter(|a| a.id == id)
        .any(|a| affects(a, "PyPI", package, version).expect("comparable"))
}

#[test]
fn each_change_to_a_real_record_is_the_right_delta() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Database::open_or_create(dir.path()).expect("create");
    assert_eq!(db.current_generation().expect("generation"), 0);

    // Generation 1: the whole snapshot.
    let stats = db
        .import_path(&pypa_dir().join("vulns"), &NoProgress)
        .expect("import");
    assert_eq!(stats.generation, Some(1));
    let generations = db.generations().expect("generations");
    assert_eq!(generations.len(), 1);
    let first = &generations[0];
    assert_eq!((first.id, first.kind.as_str()), (1, "import"));
    // 10 of the 2,661 records arrive already withdrawn.
    assert_eq!((first.added, first.withdrawn), (2_651, 10));
    assert_eq!((first.modified, first.removed), (0, 0));
    let delta = db.delta(0, 1).expect("delta");
    assert_eq!(delta.changes.len(), 2_661);
    assert!(
        delta
            .touched_packages()
            .contains(&PackageKey::new("PyPI", "torch"))
    );

    // Re-importing the same records changes nothing and records no generation.
    let again = db
        .import_path(&pypa_dir().join("vulns"), &NoProgress)
        .expect("re-import");
    assert_eq!((again.generation, again.changed()), (None, false));
    assert_eq!(db.current_generation().expect("generation"), 1);

    // Generation 2: the torch record narrowed (fixed earlier, the version list cut).
    let original = real_record(TORCH_RECORD);
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
            v.starts_with("1.0")
                || v.starts_with("1.1.")
                || v.starts_with("1.2")
                || v.starts_with("1.3")
                || v.starts_with("1.4")
        });
    }
    assert_eq!(import(&mut db, &narrowed).generation, Some(2));
    let delta = db.delta(1, 2).expect("delta");
    assert_eq!(delta.changes.len(), 1);
    let change = &delta.changes[0];
    assert_eq!(
        (change.id.as_str(), change.change),
        (original.id.as_str(), ChangeKind::Modified)
    );
    assert_eq!(change.old.modified.as_deref(), original.modified.as_deref());
    assert_eq!(change.new.modified.as_deref(), Some("2025-01-01T00:00:00Z"));
    let torch = PackageKey::new("PyPI", "torch");
    assert_eq!(change.old.packages, vec![torch.clone()]);
    assert_eq!(change.new.packages, vec![torch.clone()]);
    // The history rebuilds what matched before: 1.12.0 was affected at generation 1, not now.
    let before = db.view_at(1).expect("view");
    assert!(matches_in(&before, &original.id, "torch", "1.12.0"));
    assert!(!matches_in(&db, &original.id, "torch", "1.12.0"));
    assert!(matches_in(&db, &original.id, "torch", "1.4.0"));
    // Before generation 1 nothing existed.
    assert!(!matches_in(
        &db.view_at(0).expect("view"),
        &original.id,
        "torch",
        "1.4.0"
    ));

    // Generation 3: withdrawn.
    let mut withdrawn = narrowed.clone();
    withdrawn.modified = Some("2025-02-01T00:00:00Z".into());
    withdrawn.withdrawn = Some("2025-02-01T00:00:00Z".into());
    assert_eq!(import(&mut db, &withdrawn).generation, Some(3));
    let delta = db.delta(2, 3).expect("delta");
    assert_eq!(delta.changes[0].change, ChangeKind::Withdrawn);
    assert_eq!(
        (delta.changes[0].old.state, delta.changes[0].new.state),
        (RecordState::Current, RecordState::Withdrawn)
    );
    assert!(!matches_in(&db, &original.id, "torch", "1.4.0"));
    assert!(matches_in(
        &db.view_at(2).expect("view"),
        &original.id,
        "torch",
        "1.4.0"
    ));

    // Generation 4: re-published under another package name: the old key loses it, the new
    // key gains it.
    let mut renamed = narrowed.clone();
    renamed.modified = Some("2025-03-01T00:00:00Z".into());
    for affected in &mut renamed.affected {
        affected.package.name = "Torch_Nightly".into();
    }
    assert_eq!(import(&mut db, &renamed).generation, Some(4));
    let delta = db.delta(3, 4).expect("delta");
    let nightly = PackageKey::new("PyPI", "torch-nightly");
    assert_eq!(delta.changes[0].change, ChangeKind::Modified);
    assert_eq!(
        delta.touched_packages().into_iter().collect::<Vec<_>>(),
        vec![torch.clone(), nightly.clone()]
    );
    let by_package = delta.by_package();
    assert_eq!(
        by_package[&torch][&ChangeKind::Removed],
        vec![original.id.clone()]
    );
    assert_eq!(
        by_package[&nightly][&ChangeKind::Added],
        vec![original.id.clone()]
    );

    // Across generations 1..4 the record collapses to one change: current before, current after
    // (under its new name): a modification.
    let delta = db.delta(1, 4).expect("delta");
    assert_eq!(delta.changes.len(), 1);
    assert_eq!(
        delta.changes[0].old.modified.as_deref(),
        original.modified.as_deref()
    );
    assert_eq!(
        delta.changes[0].new.modified.as_deref(),
        Some("2025-03-01T00:00:00Z")
    );
    assert_eq!(delta.count(ChangeKind::Modified), 1);
    // A view of any generation shows that generation's version.
    assert!(matches_in(
        &db.view_at(1).expect("view"),
        &original.id,
        "torch",
        "1.12.0"
    ));
    assert!(!matches_in(
        &db.view_at(3).expect("view"),
        &original.id,
        "torch",
        "1.4.0"
    ));
    assert!(matches_in(&db, &original.id, "torch-nightly", "1.4.0"));
    assert!(!matches_in(&db, &original.id, "torch", "1.4.0"));

    // The history survives reopening the database read-only, as a scan or a monitor opens it.
    drop(db);
    let db = Database::open(dir.path()).expect("open").expect("present");
    assert_eq!(db.current_generation().expect("generation"), 4);
    let listed: Vec<u64> = db
        .generations()
        .expect("list")
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(listed, [1, 2, 3, 4]);
    assert!(db.delta(4, 4).expect("empty").changes.is_empty());
}

#[test]
fn a_record_changed_twice_in_one_import_is_one_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Database::open_or_create(dir.path()).expect("create");
    let original = real_record(TORCH_RECORD);
    import(&mut db, &original);
    let mut v2 = original.clone();
    v2.modified = Some("2025-01-01T00:00:00Z".into());
    let mut v3 = original.clone();
    v3.modified = Some("2025-02-01T00:00:00Z".into());
    v3.withdrawn = Some("2025-02-01T00:00:00Z".into());
    let array = format!("[{},{}]", v2.to_canonical_json(), v3.to_canonical_json());
    let stats = db
        .import_bytes("both.json", array.as_bytes(), &NoProgress)
        .expect("import");
    assert_eq!(stats.generation, Some(2));
    let delta = db.delta(1, 2).expect("delta");
    assert_eq!(delta.changes.len(), 1);
    assert_eq!(delta.changes[0].change, ChangeKind::Withdrawn);
    assert_eq!(
        delta.changes[0].old.modified.as_deref(),
        original.modified.as_deref()
    );
}
