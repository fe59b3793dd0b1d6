//! `update` against a local HTTP server that serves an OSV export layout.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{record, zip_of};
use mlvet_db::{Database, DbError, NoProgress, SyncMethod, UpdateConfig};
use mlvet_osv::AdvisorySource;

/// Canned responses by request path: status and body.
type Routes = Arc<Mutex<BTreeMap<String, (u16, Vec<u8>)>>>;

/// A tiny HTTP/1.1 server on 127.0.0.1 answering from a path → (status, body) table that the test
/// can change between requests, and recording the paths requested.
struct Server {
    base: String,
    routes: Routes,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let routes: Routes = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (table, log) = (Arc::clone(&routes), Arc::clone(&requests));
        // The thread ends with the test process; it only ever serves this test's requests.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // Skip the headers.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                log.lock().expect("log").push(path.clone());
                let (status, body) = table
                    .lock()
                    .expect("routes")
                    .get(&path)
                    .cloned()
                    .unwrap_or((404, b"not found".to_vec()));
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Server {
            base,
            routes,
            requests,
        }
    }

    fn route(&self, path: &str, status: u16, body: impl Into<Vec<u8>>) {
        self.routes
            .lock()
            .expect("routes")
            .insert(path.to_string(), (status, body.into()));
    }

    fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().expect("log"))
    }

    fn config(&self) -> UpdateConfig {
        let mut config = UpdateConfig::new(&self.base);
        config.timeout = Duration::from_secs(5);
        config
    }
}

#[test]
fn first_sync_downloads_all_zip_then_syncs_incrementally() {
    let server = Server::start();
    let a1 = record("GHSA-a", "2024-01-01T00:00:00Z", "torch", "a v1");
    let b1 = record("GHSA-b", "2024-01-02T00:00:00Z", "keras", "b v1");
    server.route(
        "/PyPI/all.zip",
        200,
        zip_of(&[
            ("GHSA-a.json", a1.as_bytes()),
            ("GHSA-b.json", b1.as_bytes()),
        ]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Database::open_or_create(dir.path()).expect("db");

    let first = db
        .update(&server.config(), &NoProgress)
        .expect("first sync");
    assert_eq!(server.take_requests(), ["/PyPI/all.zip"]);
    let pypi = &first.ecosystems[0];
    assert_eq!(pypi.method, SyncMethod::Full);
    assert_eq!(pypi.import.inserted, 2);
    assert!(pypi.downloaded_bytes > 0);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".mlvet-download")
        })
        .collect();
    assert!(leftovers.is_empty(), "the downloaded zip is removed");

    // Upstream: GHSA-a changes, GHSA-c appears; the index lists them newest first above the
    // records already seen.
    let a2 = record("GHSA-a", "2024-03-01T00:00:00Z", "torch", "a v2");
    let c1 = record("GHSA-c", "2024-02-01T00:00:00Z", "vllm", "c v1");
    server.route("/PyPI/GHSA-a.json", 200, a2.clone());
    server.route("/PyPI/GHSA-c.json", 200, c1.clone());
    server.route(
        "/PyPI/modified_id.csv",
        200,
        "2024-03-01T00:00:00Z,GHSA-a\n2024-02-01T00:00:00Z,GHSA-c\n2024-01-02T00:00:00Z,GHSA-b\n2024-01-01T00:00:00Z,GHSA-a-old\n",
    );
    let second = db
        .update(&server.config(), &NoProgress)
        .expect("incremental sync");
    let mut requested = server.take_requests();
    requested.sort();
    // GHSA-b shares the cursor's time and is fetched again (idempotent); the older line is not.
    assert_eq!(
        requested,
        [
            "/PyPI/GHSA-a.json",
            "/PyPI/GHSA-b.json",
            "/PyPI/GHSA-c.json",
            "/PyPI/modified_id.csv"
        ]
    );
    let pypi = &second.ecosystems[0];
    assert_eq!(pypi.method, SyncMethod::Incremental);
    assert_eq!(pypi.listed_changes, 3);
    assert_eq!(
        pypi.missing, 1,
        "GHSA-b.json is not served: retried next time"
    );
    assert_eq!((pypi.import.inserted, pypi.import.updated), (1, 1));
    assert_eq!(
        db.advisories_for("PyPI", "torch").expect("lookup")[0]
            .summary
            .as_deref(),
        Some("a v2")
    );
    assert_eq!(db.advisories_for("PyPI", "vllm").expect("lookup").len(), 1);

    let status = db.status().expect("status");
    let eco = status
        .ecosystems
        .iter()
        .find(|e| e.ecosystem == "PyPI")
        .expect("PyPI");
    assert_eq!(eco.sync_method.as_deref(), Some("incremental"));
    assert_eq!(eco.synced_from.as_deref(), Some(server.base.as_str()));
    // The missing record holds the cursor back at its own time.
    assert_eq!(eco.newest_modified.as_deref(), Some("2024-01-02T00:00:00Z"));

    // Once it is served, the next sync picks it up and the cursor moves to the newest entry.
    server.route(
        "/PyPI/GHSA-b.json",
        200,
        record("GHSA-b", "2024-01-02T00:00:00Z", "keras", "b v1"),
    );
    let third = db
        .update(&server.config(), &NoProgress)
        .expect("third sync");
    assert_eq!(third.ecosystems[0].missing, 0);
    assert!(!third.changed(), "everything was already current");
    let status = db.status().expect("status");
    let eco = status
        .ecosystems
        .iter()
        .find(|e| e.ecosystem == "PyPI")
        .expect("PyPI");
    assert_eq!(eco.newest_modified.as_deref(), Some("2024-03-01T00:00:00Z"));
    assert_eq!(status.records, 3);
}

#[test]
fn many_changes_fall_back_to_all_zip() {
    let server = Server::start();
    let a = record("GHSA-a", "2024-01-01T00:00:00Z", "torch", "a");
    server.route(
        "/PyPI/all.zip",
        200,
        zip_of(&[("GHSA-a.json", a.as_bytes())]),
    );
    let mut db = Database::in_memory().expect("db");
    db.update(&server.config(), &NoProgress)
        .expect("first sync");
    let csv: String = (0..10)
        .map(|i| format!("2024-05-{:02}T00:00:00Z,GHSA-{i}\n", 20 - i))
        .collect();
    server.route("/PyPI/modified_id.csv", 200, csv);
    server.take_requests();
    let mut config = server.config();
    config.full_sync_threshold = 5;
    let stats = db.update(&config, &NoProgress).expect("sync");
    assert_eq!(stats.ecosystems[0].method, SyncMethod::Full);
    assert_eq!(
        server.take_requests(),
        ["/PyPI/modified_id.csv", "/PyPI/all.zip"]
    );
}

#[test]
fn several_ecosystems_and_forced_full_sync() {
    let server = Server::start();
    let npm = serde_json::json!({"id": "GHSA-n", "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": "Left-Pad"}}]});
    server.route("/PyPI/all.zip", 200, zip_of(&[]));
    server.route(
        "/npm/all.zip",
        200,
        zip_of(&[("GHSA-n.json", npm.to_string().as_bytes())]),
    );
    server.route("/Go/all.zip", 200, zip_of(&[]));
    let mut config = server.config();
    config.ecosystems = vec!["PyPI".into(), "npm".into(), "Go".into()];
    let mut db = Database::in_memory().expect("db");
    let stats = db.update(&config, &NoProgress).expect("sync");
    assert_eq!(stats.ecosystems.len(), 3);
    // npm names are case-sensitive.
    assert_eq!(
        db.advisories_for("npm", "Left-Pad").expect("lookup").len(),
        1
    );
    assert!(
        db.advisories_for("npm", "left-pad")
            .expect("lookup")
            .is_empty()
    );
    server.take_requests();
    // PyPI had no record, so it has no cursor and syncs in full again; npm would go incremental
    // but is forced to full.
    config.force_full = true;
    db.update(&config, &NoProgress).expect("forced");
    assert_eq!(
        server.take_requests(),
        ["/PyPI/all.zip", "/npm/all.zip", "/Go/all.zip"]
    );
}

#[test]
fn http_errors_are_errors_and_change_nothing() {
    let server = Server::start();
    server.route("/PyPI/all.zip", 503, "busy");
    let mut db = Database::in_memory().expect("db");
    let error = db.update(&server.config(), &NoProgress).expect_err("503");
    assert!(
        matches!(error, DbError::HttpStatus { status: 503, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("NOT updated"), "{error}");
    // A missing export is an error too, not an empty database.
    server.route("/PyPI/all.zip", 404, "");
    assert!(matches!(
        db.update(&server.config(), &NoProgress),
        Err(DbError::HttpStatus { status: 404, .. })
    ));
    // A body that is not a zip.
    server.route("/PyPI/all.zip", 200, "<html>captive portal</html>");
    assert!(matches!(
        db.update(&server.config(), &NoProgress),
        Err(DbError::InvalidZip { .. })
    ));
    let status = db.status().expect("status");
    assert_eq!(status.records, 0);
    assert!(status.ecosystems.is_empty() && status.sources.is_empty());

    // A malformed index during an incremental sync.
    server.route(
        "/PyPI/all.zip",
        200,
        zip_of(&[(
            "a.json",
            record("A-1", "2024-01-01T00:00:00Z", "x", "s").as_bytes(),
        )]),
    );
    db.update(&server.config(), &NoProgress).expect("full");
    server.route("/PyPI/modified_id.csv", 200, "yesterday,A-1\n");
    assert!(matches!(
        db.update(&server.config(), &NoProgress),
        Err(DbError::BadIndex { line: 1, .. })
    ));
    server.route(
        "/PyPI/modified_id.csv",
        200,
        "2024-02-01T00:00:00Z,../../etc/passwd\n",
    );
    assert!(matches!(
        db.update(&server.config(), &NoProgress),
        Err(DbError::BadIndex { .. })
    ));
}

#[test]
fn no_server_is_a_clear_network_error() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut config = UpdateConfig::new(format!("http://127.0.0.1:{port}"));
    config.timeout = Duration::from_secs(2);
    let mut db = Database::in_memory().expect("db");
    let error = db.update(&config, &NoProgress).expect_err("refused");
    assert!(matches!(error, DbError::Network { .. }), "{error}");
    assert!(error.to_string().contains("NOT updated"), "{error}");
}

#[test]
fn plain_http_is_refused_except_on_loopback() {
    let mut db = Database::in_memory().expect("db");
    for url in [
        "http://mirror.example.invalid/osv",
        "ftp://mirror.example.invalid",
        "not a url",
        "https://",
    ] {
        let error = db
            .update(&UpdateConfig::new(url), &NoProgress)
            .expect_err(url);
        assert!(
            matches!(error, DbError::InsecureUrl { .. } | DbError::BadUrl { .. }),
            "{url}: {error}"
        );
    }
    let mut config = UpdateConfig::new("http://127.0.0.1:9");
    config.ecosystems = vec!["../etc".into()];
    assert!(matches!(
        db.update(&config, &NoProgress),
        Err(DbError::BadEcosystem(_))
    ));
}

#[test]
fn a_full_sync_removes_records_that_disappeared_upstream() {
    let server = Server::start();
    let a = record("GHSA-a", "2024-01-01T00:00:00Z", "torch", "a");
    // A real PyPA record, the one that will disappear upstream.
    let pyyaml_dir = common::pypa_dir().join("vulns/pyyaml");
    let mut pyyaml_files: Vec<_> = std::fs::read_dir(&pyyaml_dir)
        .expect("pyyaml records")
        .map(|e| e.expect("entry").path())
        .collect();
    pyyaml_files.sort();
    let real = mlvet_osv::parse_yaml(&std::fs::read_to_string(&pyyaml_files[0]).expect("read"))
        .expect("real record");
    let b = real.to_canonical_json();
    let b_id = real.id.clone();
    server.route(
        "/PyPI/all.zip",
        200,
        zip_of(&[("GHSA-a.json", a.as_bytes()), ("real.json", b.as_bytes())]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut db = Database::open_or_create(dir.path()).expect("db");
    // A record of another ecosystem is not this export's business.
    let npm = serde_json::json!({"id": "GHSA-npm", "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}, "versions": ["1.0.0"]}]});
    db.import_bytes("npm.json", npm.to_string().as_bytes(), &NoProgress)
        .expect("import npm");
    let first = db
        .update(&server.config(), &NoProgress)
        .expect("first sync");
    assert_eq!(first.ecosystems[0].import.generation, Some(2));

    // The real record is gone from the export; a forced full sync removes it and records the
    // removal.
    server.route(
        "/PyPI/all.zip",
        200,
        zip_of(&[("GHSA-a.json", a.as_bytes())]),
    );
    let mut config = server.config();
    config.force_full = true;
    let second = db.update(&config, &NoProgress).expect("second sync");
    let pypi = &second.ecosystems[0];
    assert_eq!((pypi.import.removed, pypi.import.generation), (1, Some(3)));
    assert!(
        db.advisories_for("PyPI", "pyyaml")
            .expect("lookup")
            .is_empty()
    );
    assert_eq!(
        db.advisories_for("npm", "left-pad").expect("lookup").len(),
        1
    );
    let delta = db.delta(2, 3).expect("delta");
    assert_eq!(delta.changes.len(), 1);
    assert_eq!(
        (delta.changes[0].id.as_str(), delta.changes[0].change),
        (b_id.as_str(), mlvet_db::ChangeKind::Removed)
    );
    assert_eq!(delta.changes[0].old.modified, real.modified);
    assert_eq!(
        delta.changes[0].old.packages,
        vec![mlvet_db::PackageKey::new("PyPI", "pyyaml")]
    );
    assert!(delta.changes[0].new.packages.is_empty());
    // What matched before is still known.
    let before = db.view_at(2).expect("view");
    let earlier = before.advisories_for("PyPI", "pyyaml").expect("lookup");
    assert_eq!(earlier.len(), 1);
    assert_eq!(earlier[0].id, b_id);

    // An export with an unreadable entry removes nothing: unread is not gone.
    server.route(
        "/PyPI/all.zip",
        200,
        zip_of(&[("GHSA-x.json", b"{not json")]),
    );
    let third = db.update(&config, &NoProgress).expect("third sync");
    assert_eq!(third.ecosystems[0].import.removed, 0);
    assert_eq!(db.advisories_for("PyPI", "torch").expect("lookup").len(), 1);
}
