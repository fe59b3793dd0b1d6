//! The database under faults: read-only opening, empty and damaged files, atomic publication,
//! concurrent writers, bounded strings.

mod common;

use std::path::{Path, PathBuf};

use common::record;
use mlvet_db::{DATABASE_FILE, Database, NoProgress};
use mlvet_osv::AdvisorySource;

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    names
}

fn import_one(data: &Path, id: &str, package: &str) {
    let file = data.join(format!("{id}.json"));
    std::fs::write(&file, record(id, "2024-01-01T00:00:00Z", package, "s")).expect("write");
    let mut db = Database::open_or_create(data).expect("open for writing");
    db.import_path(&file, &NoProgress).expect("import");
    std::fs::remove_file(&file).expect("remove");
}

#[test]
fn zero_length_and_schema_less_files_are_no_database_and_stay_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(DATABASE_FILE);
    std::fs::File::create(&file).expect("create");
    assert!(Database::open(dir.path()).expect("open").is_none());
    assert_eq!(std::fs::metadata(&file).expect("stat").len(), 0);
    assert_eq!(listing(dir.path()), [file]);
}

#[test]
fn a_database_without_records_is_no_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Database::open_or_create(dir.path()).expect("create");
    let empty = tempfile::tempdir().expect("empty import dir");
    let stats = db.import_path(empty.path(), &NoProgress).expect("import");
    assert_eq!(stats.records, 0);
    assert!(dir.path().join(DATABASE_FILE).is_file(), "published");
    assert!(Database::open(dir.path()).expect("open").is_none());
}

#[test]
fn reading_creates_and_changes_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    import_one(dir.path(), "X-1", "pkg");
    let file = dir.path().join(DATABASE_FILE);
    let before = (listing(dir.path()), std::fs::read(&file).expect("read"));
    let db = Database::open(dir.path()).expect("open").expect("some");
    assert_eq!(db.advisories_for("PyPI", "pkg").expect("lookup").len(), 1);
    db.status().expect("status");
    drop(db);
    assert_eq!(
        (listing(dir.path()), std::fs::read(&file).expect("read")),
        before
    );
    // No WAL: the header's read and write versions say "rollback journal".
    let header = std::fs::read(&file).expect("read");
    assert_eq!(&header[18..20], &[1, 1]);
}

#[test]
fn an_open_reader_keeps_its_snapshot_while_an_import_is_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    import_one(dir.path(), "X-1", "pkg");
    let reader = Database::open(dir.path()).expect("open").expect("some");
    import_one(dir.path(), "X-2", "pkg");
    assert_eq!(reader.advisories_for("PyPI", "pkg").expect("old").len(), 1);
    let fresh = Database::open(dir.path()).expect("open").expect("some");
    assert_eq!(fresh.advisories_for("PyPI", "pkg").expect("new").len(), 2);
    // Only the database and the writers' lock file remain: no working copy, no journal.
    assert_eq!(
        listing(dir.path()),
        [
            dir.path().join(DATABASE_FILE),
            dir.path().join(format!("{DATABASE_FILE}.lock"))
        ]
    );
}

#[cfg(unix)]
#[test]
fn a_published_database_is_readable_by_all_or_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(DATABASE_FILE);
    let mode = || std::fs::metadata(&file).expect("stat").permissions().mode() & 0o777;
    import_one(dir.path(), "X-1", "pkg");
    assert_eq!(mode(), 0o644);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    import_one(dir.path(), "X-2", "pkg");
    assert_eq!(mode(), 0o640);
}

#[test]
fn a_failed_import_publishes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    import_one(dir.path(), "X-1", "pkg");
    let file = dir.path().join(DATABASE_FILE);
    let before = std::fs::read(&file).expect("read");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{}").expect("write");
    let mut db = Database::open_or_create(dir.path()).expect("open");
    assert!(db.import_path(&bad, &NoProgress).is_err());
    drop(db);
    std::fs::remove_file(&bad).expect("remove");
    assert_eq!(std::fs::read(&file).expect("read"), before);
    assert_eq!(listing(dir.path()).len(), 2, "{:?}", listing(dir.path()));
}

#[test]
fn a_writer_removes_working_copies_a_killed_writer_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let abandoned = dir.path().join(".advisories.AbCdEf.tmp");
    std::fs::write(&abandoned, b"half an import").expect("write");
    let unrelated = dir.path().join("notes.tmp");
    std::fs::write(&unrelated, b"mine").expect("write");
    import_one(dir.path(), "X-1", "pkg");
    assert!(!abandoned.exists());
    assert!(unrelated.exists());
}

#[test]
fn concurrent_writers_are_serialised_and_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let data = dir.path().to_path_buf();
            std::thread::spawn(move || import_one(&data, &format!("X-{n}"), "pkg"))
        })
        .collect();
    for thread in threads {
        thread.join().expect("writer");
    }
    let db = Database::open(dir.path()).expect("open").expect("some");
    assert_eq!(db.advisories_for("PyPI", "pkg").expect("lookup").len(), 4);
}

#[test]
fn a_legacy_wal_database_is_converted_by_the_next_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    import_one(dir.path(), "X-1", "pkg");
    let file = dir.path().join(DATABASE_FILE);
    {
        let conn = rusqlite_wal(&file);
        drop(conn);
    }
    assert_eq!(&std::fs::read(&file).expect("read")[18..20], &[2, 2]);
    import_one(dir.path(), "X-2", "pkg");
    assert_eq!(&std::fs::read(&file).expect("read")[18..20], &[1, 1]);
    let db = Database::open(dir.path()).expect("open").expect("some");
    assert_eq!(db.advisories_for("PyPI", "pkg").expect("lookup").len(), 2);
}

/// Switches a database to WAL, as mlvet before copy-on-write left it.
fn rusqlite_wal(file: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(file).expect("open");
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("wal");
    assert_eq!(mode, "wal");
    conn
}

#[test]
fn over_long_identifiers_are_refused_and_counted_and_long_text_is_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = tempfile::tempdir().expect("records");
    let long = "A".repeat(300);
    let write = |name: &str, json: serde_json::Value| {
        std::fs::write(records.path().join(name), json.to_string()).expect("write")
    };
    let base = |id: &str, package: &str| {
        serde_json::json!({
            "id": id,
            "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": package}}]
        })
    };
    write("long-id.json", base(&long, "pkg"));
    write("long-name.json", base("X-2", &"n".repeat(2000)));
    let mut alias = base("X-3", "pkg");
    alias["aliases"] = serde_json::json!([long]);
    write("long-alias.json", alias);
    let mut version = base("X-4", "pkg");
    version["affected"][0]["versions"] = serde_json::json!(["1".repeat(2000)]);
    write("long-version.json", version);
    let mut reference = base("X-5", "pkg");
    reference["references"] = serde_json::json!([{"type": "WEB", "url": "u".repeat(10_000)}]);
    write("long-reference.json", reference);
    let mut text = base("X-6", "pkg");
    text["summary"] = serde_json::json!("é".repeat(2000));
    text["details"] = serde_json::json!("d".repeat(100_000));
    write("long-text.json", text);

    let mut db = Database::open_or_create(dir.path()).expect("create");
    let stats = db.import_path(records.path(), &NoProgress).expect("import");
    // The OSV record model refuses over-long identifiers, names and versions before the database
    // sees them, and drops an over-long reference (links are informational): the reference record
    // and the long-text record are stored, the other four are refused.
    assert_eq!(
        (stats.records, stats.failed),
        (2, 4),
        "{:?}",
        stats.failures
    );
    assert!(
        stats.failures.iter().all(|f| f.message.contains("limit")),
        "{:?}",
        stats.failures
    );
    let db = Database::open(dir.path()).expect("open").expect("some");
    let mut stored = db.advisories_for("PyPI", "pkg").expect("lookup");
    assert_eq!(stored.len(), 2);
    stored.retain(|record| record.id == "X-6");
    assert_eq!(stored.len(), 1);
    let summary = stored[0].summary.as_deref().expect("summary");
    assert!(
        summary.len() <= 1024 && summary.ends_with('…'),
        "{}",
        summary.len()
    );
    let details = stored[0].details.as_deref().expect("details");
    assert!(details.len() <= 64 * 1024 && details.ends_with('…'));
}
