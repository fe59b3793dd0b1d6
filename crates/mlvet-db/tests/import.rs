//! Importing real and synthetic OSV records, and reading them back.

mod common;

use common::{pypa_dir, record, zip_of};
use mlvet_db::{Database, DbError, NoProgress};
use mlvet_osv::AdvisorySource;

fn pypa_database() -> (tempfile::TempDir, Database, mlvet_db::ImportStats) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Database::open_or_create(dir.path()).expect("create");
    let stats = db
        .import_path(&pypa_dir().join("vulns"), &NoProgress)
        .expect("import");
    (dir, db, stats)
}

#[test]
fn every_real_pypa_record_imports_and_is_found_by_package() {
    let (_dir, db, stats) = pypa_database();
    assert_eq!(stats.failures, vec![], "every record parses");
    assert_eq!(stats.records, 2_661);
    assert_eq!(stats.inserted, 2_661);
    assert_eq!(stats.failed, 0);
    // `.id-allocator` is the one non-record file in the snapshot.
    assert_eq!(stats.ignored, 1);
    assert_eq!(stats.withdrawn, 10);

    let tensorflow = db.advisories_for("PyPI", "tensorflow").expect("lookup");
    assert_eq!(tensorflow.len(), 242);
    assert!(
        tensorflow.windows(2).all(|w| w[0].id < w[1].id),
        "sorted by id"
    );
    assert!(tensorflow.iter().any(|a| a.id == "PYSEC-2019-204"));
    assert_eq!(
        db.advisories_for("PyPI", "tensorflow-gpu")
            .expect("lookup")
            .len(),
        297
    );
    assert_eq!(db.advisories_for("PyPI", "torch").expect("lookup").len(), 1);
    // Lookups normalise as the matcher does: ecosystem case and PEP 503 names.
    assert_eq!(
        db.advisories_for("pypi", "TensorFlow")
            .expect("lookup")
            .len(),
        242
    );
    assert_eq!(
        db.advisories_for("PyPI", "no-such-package-anywhere")
            .expect("lookup"),
        vec![]
    );
    assert_eq!(
        db.advisories_for("npm", "tensorflow").expect("lookup"),
        vec![]
    );

    let status = db.status().expect("status");
    assert_eq!(status.records, 2_661);
    assert_eq!(status.withdrawn, 10);
    let pypi = status
        .ecosystems
        .iter()
        .find(|e| e.ecosystem == "PyPI")
        .expect("PyPI counted");
    assert_eq!(pypi.records, 2_651, "current records exclude the withdrawn");
    assert_eq!(status.sources.len(), 1);
    assert_eq!(status.sources[0].kind, "import");
    assert!(!status.stale, "just imported");
    let info = db.info();
    assert_eq!(info.records, 2_661);
    assert!(info.source.ends_with("vulns"), "{}", info.source);
}

#[test]
fn stored_records_round_trip_to_what_the_parser_reads() {
    let (_dir, db, _) = pypa_database();
    let path = pypa_dir().join("vulns/tensorflow/PYSEC-2019-204.yaml");
    let original =
        mlvet_osv::parse_yaml(&std::fs::read_to_string(path).expect("read")).expect("parse");
    let stored = db.advisories_for("PyPI", "tensorflow").expect("lookup");
    let found = stored
        .iter()
        .find(|a| a.id == "PYSEC-2019-204")
        .expect("stored");
    assert_eq!(found, &original);
}

#[test]
fn reimport_is_idempotent_and_reopen_keeps_everything() {
    let (dir, mut db, _) = pypa_database();
    let again = db
        .import_path(&pypa_dir().join("vulns"), &NoProgress)
        .expect("re-import");
    assert_eq!(
        (again.inserted, again.updated, again.unchanged),
        (0, 0, 2_661)
    );
    drop(db);
    let db = Database::open(dir.path()).expect("open").expect("exists");
    assert_eq!(db.status().expect("status").records, 2_661);
    assert_eq!(
        db.advisories_for("PyPI", "tensorflow")
            .expect("lookup")
            .len(),
        242
    );
}

#[test]
fn open_reports_a_missing_database_as_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(Database::open(dir.path()).expect("open").is_none());
    assert!(
        Database::open(&dir.path().join("nope"))
            .expect("open")
            .is_none()
    );
    let data = dir.path().join("nested/data");
    let mut db = Database::open_or_create(&data).expect("creates directories");
    assert!(
        Database::open(&data).expect("open").is_none(),
        "opening for writing creates no database"
    );
    let file = data.join("r.json");
    std::fs::write(&file, record("X-1", "2024-01-01T00:00:00Z", "pkg", "s")).expect("write");
    db.import_path(&file, &NoProgress).expect("import");
    assert!(Database::open(&data).expect("open").is_some());
}

#[test]
fn a_newer_modified_wins_whatever_the_import_order() {
    let old = record("GHSA-1", "2024-01-01T00:00:00Z", "torch", "old");
    let new = record("GHSA-1", "2024-01-01T00:00:00.5Z", "torch", "new");
    for order in [[&old, &new], [&new, &old]] {
        let mut db = Database::in_memory().expect("db");
        let first = db
            .import_bytes("a.json", order[0].as_bytes(), &NoProgress)
            .expect("first");
        assert_eq!(first.inserted, 1);
        let second = db
            .import_bytes("b.json", order[1].as_bytes(), &NoProgress)
            .expect("second");
        assert_eq!(second.records, 1);
        let found = db.advisories_for("PyPI", "torch").expect("lookup");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].summary.as_deref(), Some("new"));
    }
}

#[test]
fn an_update_that_renames_the_package_moves_the_index() {
    let mut db = Database::in_memory().expect("db");
    db.import_bytes(
        "a.json",
        record("GHSA-2", "2024-01-01T00:00:00Z", "torch", "s").as_bytes(),
        &NoProgress,
    )
    .expect("import");
    let stats = db
        .import_bytes(
            "b.json",
            record("GHSA-2", "2024-02-01T00:00:00Z", "Torch_Vision", "s").as_bytes(),
            &NoProgress,
        )
        .expect("import");
    assert_eq!(stats.updated, 1);
    assert_eq!(db.advisories_for("PyPI", "torch").expect("lookup"), vec![]);
    assert_eq!(
        db.advisories_for("PyPI", "torchvision").expect("lookup"),
        vec![]
    );
    assert_eq!(
        db.advisories_for("PyPI", "torch-vision")
            .expect("lookup")
            .len(),
        1
    );
}

#[test]
fn zip_exports_import_json_entries_and_count_the_rest() {
    let a = record("GHSA-a", "2024-01-01T00:00:00Z", "transformers", "a");
    let b = record("GHSA-b", "2024-01-02T00:00:00Z", "vllm", "b");
    let zip = zip_of(&[
        ("GHSA-a.json", a.as_bytes()),
        ("GHSA-b.json", b.as_bytes()),
        ("README.txt", b"not a record"),
        ("broken.json", b"{\"id\": 12"),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("all.zip");
    std::fs::write(&path, &zip).expect("write zip");
    let mut db = Database::open_or_create(dir.path()).expect("db");
    let stats = db.import_path(&path, &NoProgress).expect("import");
    assert_eq!(
        (stats.records, stats.inserted, stats.ignored, stats.failed),
        (2, 2, 1, 1)
    );
    assert!(
        stats.failures[0].origin.ends_with("all.zip!broken.json"),
        "{:?}",
        stats.failures
    );
    assert_eq!(
        db.advisories_for("PyPI", "vllm").expect("lookup")[0].id,
        "GHSA-b"
    );
}

#[test]
fn a_directory_may_hold_zip_exports_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exports = dir.path().join("exports/PyPI");
    std::fs::create_dir_all(&exports).expect("mkdir");
    let a = record("GHSA-z", "2024-01-01T00:00:00Z", "keras", "z");
    std::fs::write(
        exports.join("all.zip"),
        zip_of(&[("GHSA-z.json", a.as_bytes())]),
    )
    .expect("write");
    std::fs::write(
        exports.join("modified_id.csv"),
        "2024-01-01T00:00:00Z,GHSA-z\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("exports/bad.zip"), b"not a zip").expect("write");
    let mut db = Database::open_or_create(&dir.path().join("data")).expect("db");
    let stats = db
        .import_path(&dir.path().join("exports"), &NoProgress)
        .expect("import");
    assert_eq!((stats.inserted, stats.ignored, stats.failed), (1, 1, 1));
    assert_eq!(db.advisories_for("PyPI", "keras").expect("lookup").len(), 1);
}

#[test]
fn a_single_bad_file_is_an_error_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{}").expect("write");
    let mut db = Database::open_or_create(dir.path()).expect("db");
    let error = db.import_path(&bad, &NoProgress).expect_err("no id");
    assert!(matches!(error, DbError::InvalidRecord { .. }), "{error}");
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, b"hello").expect("write");
    assert!(matches!(
        db.import_path(&other, &NoProgress),
        Err(DbError::UnsupportedInput { .. })
    ));
    assert!(matches!(
        db.import_path(&dir.path().join("missing.json"), &NoProgress),
        Err(DbError::Io { .. })
    ));
    let status = db.status().expect("status");
    assert_eq!(status.records, 0);
    assert!(status.sources.is_empty(), "a failed import is rolled back");
    assert!(status.stale, "an empty database is stale");
}

#[test]
fn ml_advisories_list_current_ml_records_newest_first() {
    let mut db = Database::in_memory().expect("db");
    let records = [
        (
            "GHSA-old",
            "2023-01-01T00:00:00Z",
            "2023-01-01T00:00:00Z",
            "torch",
        ),
        (
            "GHSA-new",
            "2024-06-01T00:00:00Z",
            "2024-06-01T00:00:00Z",
            "transformers",
        ),
        (
            "GHSA-mid",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z",
            "Torch",
        ),
        (
            "GHSA-web",
            "2025-01-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
            "requests",
        ),
    ];
    for (id, published, modified, package) in records {
        let json = serde_json::json!({
            "id": id, "modified": modified, "published": published,
            "affected": [{"package": {"ecosystem": "PyPI", "name": package}}]
        });
        db.import_bytes("r.json", json.to_string().as_bytes(), &NoProgress)
            .expect("import");
    }
    let withdrawn = serde_json::json!({
        "id": "GHSA-gone", "modified": "2025-02-01T00:00:00Z", "published": "2025-02-01T00:00:00Z",
        "withdrawn": "2025-02-02T00:00:00Z", "affected": [{"package": {"ecosystem": "PyPI", "name": "torch"}}]
    });
    db.import_bytes("w.json", withdrawn.to_string().as_bytes(), &NoProgress)
        .expect("import");

    let ids = |list: Vec<mlvet_osv::Advisory>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(db.ml_advisories(None).expect("list")),
        ["GHSA-new", "GHSA-mid", "GHSA-old"]
    );
    assert_eq!(
        ids(db.ml_advisories(Some("TORCH")).expect("list")),
        ["GHSA-mid", "GHSA-old"]
    );
    assert!(
        db.ml_advisories(Some("requests")).expect("list").is_empty(),
        "not an ML package"
    );
    // The matcher still sees the withdrawn record (it decides what to do with it).
    assert_eq!(db.advisories_for("PyPI", "torch").expect("lookup").len(), 3);
}

#[test]
fn data_dir_honours_the_environment_override() {
    // Changing this process's environment is `unsafe` in edition 2024 (and forbidden here), so
    // the check runs in a child test process given the variable.
    let dir = tempfile::tempdir().expect("tempdir");
    let output = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args(["--exact", "data_dir_child", "--nocapture"])
        .env("MLVET_DATA_DIR", dir.path())
        .env("MLVET_EXPECTED_DIR", dir.path())
        .output()
        .expect("child");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"));
}

#[test]
fn data_dir_child() {
    if let Some(expected) = std::env::var_os("MLVET_EXPECTED_DIR") {
        assert_eq!(
            Database::data_dir().expect("dir"),
            std::path::PathBuf::from(expected)
        );
    }
}

/// Records every progress call, to check the totals an import announces and reports.
#[derive(Default)]
struct Recorder {
    events: std::sync::Mutex<Vec<(String, Option<u64>, u64)>>,
}

impl mlvet_db::Progress for Recorder {
    fn start(&self, label: &str, total: Option<u64>) {
        self.events
            .lock()
            .expect("lock")
            .push((label.to_string(), total, 0));
    }
    fn inc(&self, n: u64) {
        if let Some(last) = self.events.lock().expect("lock").last_mut() {
            last.2 += n;
        }
    }
    fn finish(&self) {}
}

#[test]
fn progress_accounts_for_every_file_of_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = dir.path().join("records");
    std::fs::create_dir_all(records.join("sub")).expect("mkdir");
    std::fs::write(
        records.join("a.json"),
        record("A-1", "2024-01-01T00:00:00Z", "a", "s"),
    )
    .expect("write");
    std::fs::write(
        records.join("sub/b.yml"),
        "id: B-1\nmodified: 2024-01-01T00:00:00Z\n",
    )
    .expect("write");
    // An empty JSON array is an empty collection of records: ignored, not a failure.
    std::fs::write(records.join("sub/c.json"), "[]").expect("write");
    std::fs::write(records.join("sub/d.json"), "{\"summary\": \"no id\"}").expect("write");
    std::fs::write(records.join("notes.md"), "# notes").expect("write");
    let mut db = Database::open_or_create(&dir.path().join("data")).expect("db");
    let progress = Recorder::default();
    let stats = db.import_path(&records, &progress).expect("import");
    assert_eq!((stats.records, stats.failed, stats.ignored), (2, 1, 2));
    let events = progress.events.lock().expect("lock");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1, Some(5));
    assert_eq!(events[0].2, 5, "every file advanced the bar once");
}

#[test]
fn the_database_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Database>();
    let mut db = Database::in_memory().expect("db");
    db.import_bytes(
        "r.json",
        record("T-1", "2024-01-01T00:00:00Z", "torch", "s").as_bytes(),
        &NoProgress,
    )
    .expect("import");
    let counts: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| db.advisories_for("PyPI", "torch").expect("lookup").len()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("join"))
            .collect()
    });
    assert_eq!(counts, [1, 1, 1, 1]);
}

#[test]
fn staleness_follows_the_configured_age() {
    let mut db = Database::in_memory().expect("db");
    let empty = db.info();
    assert!(empty.stale && empty.records == 0 && empty.updated.is_none());
    db.import_bytes(
        "r.json",
        record("S-1", "2024-01-01T00:00:00Z", "torch", "s").as_bytes(),
        &NoProgress,
    )
    .expect("import");
    assert!(!db.status().expect("status").stale);
    db.set_stale_after(std::time::Duration::ZERO);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let status = db.status().expect("status");
    assert!(status.stale, "older than a zero age");
    assert!(
        status
            .age
            .is_some_and(|age| age > std::time::Duration::ZERO)
    );
    assert_eq!(db.info().updated, status.updated);
}

#[test]
fn json_collections_import_record_by_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Database::open_or_create(dir.path()).expect("create");
    let a = record("GHSA-aaaa-aaaa-aaaa", "2024-01-01T00:00:00Z", "torch", "s");
    let b = record("GHSA-bbbb-bbbb-bbbb", "2024-01-01T00:00:00Z", "vllm", "s");
    let c = record("GHSA-cccc-cccc-cccc", "2024-01-01T00:00:00Z", "gradio", "s");

    // A JSON array of records, e.g. a hand-made advisory bundle.
    let array = dir.path().join("bundle.json");
    std::fs::write(&array, format!("[{a},\n{b}]")).expect("write");
    let stats = db.import_path(&array, &NoProgress).expect("import");
    assert_eq!((stats.records, stats.inserted, stats.failed), (2, 2, 0));

    // The OSV API's answer (`{"vulns": [...]}`), as osv-scanner and querybatch clients save it.
    let answer = dir.path().join("answer.json");
    std::fs::write(
        &answer,
        format!("{{\"vulns\": [{c}], \"next_page_token\": \"\"}}"),
    )
    .expect("write");
    let stats = db.import_path(&answer, &NoProgress).expect("import");
    assert_eq!((stats.records, stats.inserted), (1, 1));
    for (name, id) in [
        ("torch", "GHSA-aaaa-aaaa-aaaa"),
        ("vllm", "GHSA-bbbb-bbbb-bbbb"),
        ("gradio", "GHSA-cccc-cccc-cccc"),
    ] {
        let found = db.advisories_for("PyPI", name).expect("lookup");
        assert_eq!(
            found.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            [id]
        );
    }

    // A record that merely mentions `vulns` in its text is still one record.
    let single = dir.path().join("single.json");
    let mut value: serde_json::Value = serde_json::from_str(&record(
        "GHSA-dddd-dddd-dddd",
        "2024-01-01T00:00:00Z",
        "torch",
        "s",
    ))
    .expect("json");
    value["details"] = serde_json::Value::String("see \"vulns\" elsewhere".into());
    std::fs::write(&single, value.to_string()).expect("write");
    let stats = db.import_path(&single, &NoProgress).expect("import");
    assert_eq!(stats.inserted, 1);

    // A broken array is reported, never half-read silently.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, format!("[{a}, {{")).expect("write");
    assert!(db.import_path(&broken, &NoProgress).is_err());
}

#[test]
fn any_advisory_is_found_by_its_id_or_any_alias() {
    let (_dir, mut db, _) = pypa_database();
    // By id, whatever the package: jinja2 is not an ML library.
    let by_id = db
        .advisory_by_id_or_alias("PYSEC-2019-217")
        .expect("lookup")
        .expect("found");
    assert_eq!(by_id.id, "PYSEC-2019-217");
    // By each alias kind, and in any case.
    for alias in [
        "CVE-2019-10906",
        "GHSA-462w-v97r-4m45",
        "cve-2019-10906",
        "ghsa-462W-V97R-4M45",
        "pysec-2019-217",
    ] {
        let found = db
            .advisory_by_id_or_alias(alias)
            .expect("lookup")
            .unwrap_or_else(|| panic!("{alias} not found"));
        assert_eq!(found.id, "PYSEC-2019-217", "{alias}");
    }
    for missing in ["", "CVE-1999-0000", "PYSEC-2019", "%", "' OR 1=1 --"] {
        assert_eq!(db.advisory_by_id_or_alias(missing).expect("lookup"), None);
    }

    // An alias two records share: the current record before the withdrawn one, an exact id
    // before any alias.
    let shared = |id: &str, withdrawn: bool| {
        let mut value: serde_json::Value =
            serde_json::from_str(&record(id, "2024-02-01T00:00:00Z", "demo", "s")).expect("json");
        value["aliases"] = serde_json::json!(["CVE-2099-0001", "ZZ-1"]);
        if withdrawn {
            value["withdrawn"] = serde_json::json!("2024-03-01T00:00:00Z");
        }
        value.to_string()
    };
    db.import_bytes("a.json", shared("AAA-1", true).as_bytes(), &NoProgress)
        .expect("import");
    db.import_bytes("b.json", shared("BBB-1", false).as_bytes(), &NoProgress)
        .expect("import");
    db.import_bytes("z.json", shared("ZZ-1", false).as_bytes(), &NoProgress)
        .expect("import");
    let found = db
        .advisory_by_id_or_alias("CVE-2099-0001")
        .expect("lookup")
        .expect("found");
    assert_eq!(found.id, "BBB-1");
    let exact = db
        .advisory_by_id_or_alias("ZZ-1")
        .expect("lookup")
        .expect("found");
    assert_eq!(exact.id, "ZZ-1");
}
