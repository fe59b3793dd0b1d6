//! The advisory database under faults, through the binary: read-only scans, empty and damaged
//! databases, atomic imports racing scans, concurrent imports, sanitised output, bounded strings.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{json_report, mlvet, repo_root};

const DATABASE: &str = "advisories.sqlite3";

fn pypa_vulns() -> PathBuf {
    repo_root().join("../shared/advisories/pypa-advisory-database/vulns")
}

/// A requirements file pinning PyYAML 5.3, vulnerable to PYSEC-2021-142 (fixed in 5.4).
fn vulnerable_requirements(dir: &Path) -> PathBuf {
    let path = dir.join("requirements.txt");
    std::fs::write(&path, "pyyaml==5.3\n").expect("write requirements");
    path
}

fn record(id: &str, package: &str, summary: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "modified": "2024-01-01T00:00:00Z",
        "published": "2024-01-01T00:00:00Z",
        "summary": summary,
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": package},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]
        }]
    })
}

/// A data directory holding one imported record affecting `pkg` < 2.0.
fn database_with_one_record(data: &Path) {
    let records = tempfile::tempdir().expect("records");
    let file = records.path().join("X-1.json");
    std::fs::write(&file, record("X-1", "pkg", "s").to_string()).expect("write");
    let out = mlvet(data, &["db", "import", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn scan_json(data: &Path, target: &Path) -> (Option<i32>, serde_json::Value) {
    let out = mlvet(
        data,
        &[
            "scan",
            target.to_str().expect("utf-8"),
            "--format",
            "json",
            "--fail-on",
            "low",
        ],
    );
    (out.status.code(), json_report(&out))
}

fn rules(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn verdict(report: &serde_json::Value) -> String {
    report["artifacts"][0]["verdict"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Everything observable about a directory's files: names, sizes, bytes and modification times.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| {
            let path = e.expect("entry").path();
            let metadata = std::fs::metadata(&path).expect("stat");
            let bytes = std::fs::read(&path).expect("read");
            (path, bytes, metadata.modified().expect("mtime"))
        })
        .collect();
    entries.sort();
    entries
}

#[test]
fn scans_status_and_advisories_leave_the_data_directory_untouched() {
    let data = tempfile::tempdir().expect("data");
    database_with_one_record(data.path());
    let work = tempfile::tempdir().expect("work");
    let requirements = work.path().join("requirements.txt");
    std::fs::write(&requirements, "pkg==1.0\n").expect("write");
    let before = snapshot(data.path());
    assert!(before.iter().all(|(path, ..)| {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        !name.ends_with("-wal") && !name.ends_with("-shm") && !name.ends_with("-journal")
    }));
    let (code, report) = scan_json(data.path(), &requirements);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(verdict(&report), "vulnerable");
    for args in [
        &["db", "status"][..],
        &["db", "status", "--format", "json"],
        &["advisories", "--package", "pkg"],
    ] {
        let out = mlvet(data.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(
        snapshot(data.path()),
        before,
        "a reader changed the data dir"
    );
}

/// Runs `mlvet ARGS` with the data directory mounted read-only (a user and mount namespace, as
/// root ignores permission bits) or, failing that, made immutable with `chattr +i`. `None` when
/// neither works on this machine.
fn mlvet_on_read_only_dir(data: &Path, args: &[&str]) -> Option<Output> {
    let script = r#"mount --bind -o ro "$1" "$1" && shift && exec "$@""#;
    let out = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(data)
        .arg(env!("CARGO_BIN_EXE_mlvet"))
        .args(args)
        .current_dir(repo_root())
        .env("MLVET_DATA_DIR", data)
        .env("NO_COLOR", "1")
        .output();
    if let Ok(out) = out {
        // 125+ / a mount error means the namespace could not be set up, not that mlvet failed.
        if !stderr(&out).contains("mount") && !stderr(&out).contains("unshare") {
            return Some(out);
        }
    }
    let immutable = Command::new("chattr").arg("+i").arg(data).status();
    if !immutable.is_ok_and(|s| s.success()) {
        return None;
    }
    let out = mlvet(data, args);
    let restored = Command::new("chattr").arg("-i").arg(data).status();
    assert!(restored.is_ok_and(|s| s.success()), "chattr -i failed");
    Some(out)
}

#[test]
// Saying so when the machine cannot make a directory read-only for root.
#[allow(clippy::print_stderr)]
fn a_scan_works_on_a_read_only_data_directory() {
    let data = tempfile::tempdir().expect("data");
    database_with_one_record(data.path());
    let work = tempfile::tempdir().expect("work");
    let requirements = work.path().join("requirements.txt");
    std::fs::write(&requirements, "pkg==1.0\n").expect("write");
    // Proof that the directory really is read-only for the process: importing a valid record
    // (which works on a writable directory, see `database_with_one_record`) must fail.
    let record_file = work.path().join("X-2.json");
    std::fs::write(&record_file, record("X-2", "pkg", "s").to_string()).expect("write");
    let import_args = ["db", "import", record_file.to_str().expect("utf-8")];
    let Some(import) = mlvet_on_read_only_dir(data.path(), &import_args) else {
        eprintln!("neither unshare nor chattr works here: read-only directory not tested");
        return;
    };
    assert_ne!(import.status.code(), Some(0), "the directory was writable");
    let scan_args = [
        "scan",
        requirements.to_str().expect("utf-8"),
        "--format",
        "json",
        "--fail-on",
        "low",
    ];
    let out = mlvet_on_read_only_dir(data.path(), &scan_args).expect("same mechanism as above");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(verdict(&json_report(&out)), "vulnerable");
}

#[test]
fn an_empty_schema_less_or_record_less_database_is_no_database_and_is_not_written() {
    let work = tempfile::tempdir().expect("work");
    let requirements = vulnerable_requirements(work.path());
    let schema_less = tempfile::tempdir().expect("data");
    {
        // A valid SQLite file without any table: what `sqlite3 FILE 'PRAGMA user_version=0'`
        // or a crashed first import of an older mlvet leaves.
        let conn = rusqlite::Connection::open(schema_less.path().join(DATABASE)).expect("open");
        conn.execute_batch("PRAGMA user_version = 0; VACUUM;")
            .expect("write header");
    }
    let zero_length = tempfile::tempdir().expect("data");
    std::fs::File::create(zero_length.path().join(DATABASE)).expect("create");
    let record_less = tempfile::tempdir().expect("data");
    let empty_dir = tempfile::tempdir().expect("empty");
    let out = mlvet(
        record_less.path(),
        &["db", "import", empty_dir.path().to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    for data in [&schema_less, &zero_length, &record_less] {
        let before = snapshot(data.path());
        let (_, report) = scan_json(data.path(), &requirements);
        assert!(
            rules(&report).contains(&"dependency-no-database".to_string()),
            "{report:#}"
        );
        assert_ne!(verdict(&report), "safe");
        assert!(
            report["warnings"]
                .to_string()
                .contains("no advisory database")
        );
        assert_eq!(snapshot(data.path()), before, "the scan wrote to {data:?}");
    }
    assert_eq!(
        std::fs::metadata(zero_length.path().join(DATABASE))
            .expect("stat")
            .len(),
        0
    );
}

#[test]
fn a_damaged_record_makes_the_scan_incomplete() {
    let data = tempfile::tempdir().expect("data");
    database_with_one_record(data.path());
    {
        let conn = rusqlite::Connection::open(data.path().join(DATABASE)).expect("open");
        conn.execute(
            "UPDATE advisory SET json = x'7b226964223a', modified = NULL",
            [],
        )
        .expect("damage");
        conn.pragma_update(None, "journal_mode", "DELETE")
            .expect("no wal");
    }
    let work = tempfile::tempdir().expect("work");
    let requirements = work.path().join("requirements.txt");
    std::fs::write(&requirements, "pkg==1.0\nother==1.0\n").expect("write");
    let (code, report) = scan_json(data.path(), &requirements);
    assert_eq!(code, Some(3), "{report:#}");
    assert_eq!(report["summary"]["status"], "scan-errors");
    assert!(
        report["errors"]
            .to_string()
            .contains("stored record unreadable"),
        "{report:#}"
    );
    assert_ne!(verdict(&report), "safe");
    assert_eq!(report["artifacts"][0]["fully_inspected"], false);
}

#[test]
fn a_corrupt_or_foreign_database_file_makes_the_scan_incomplete() {
    let work = tempfile::tempdir().expect("work");
    let requirements = vulnerable_requirements(work.path());

    let corrupt = tempfile::tempdir().expect("data");
    let out = mlvet(
        corrupt.path(),
        &["db", "import", pypa_vulns().to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = corrupt.path().join(DATABASE);
    let mut bytes = std::fs::read(&file).expect("read");
    // Keep the header (page 1) and overwrite every later page: b-tree pages become garbage.
    for byte in bytes.iter_mut().skip(4096) {
        *byte = 0xA5;
    }
    std::fs::write(&file, &bytes).expect("write");

    let foreign = tempfile::tempdir().expect("data");
    std::fs::write(
        foreign.path().join(DATABASE),
        "not a database at all\n".repeat(500),
    )
    .expect("write");

    for data in [&corrupt, &foreign] {
        let before = snapshot(data.path());
        let (code, report) = scan_json(data.path(), &requirements);
        assert_eq!(code, Some(3), "{report:#}");
        assert_ne!(verdict(&report), "safe", "{report:#}");
        assert!(!report["errors"].as_array().expect("errors").is_empty());
        assert_eq!(snapshot(data.path()), before);
    }
}

/// Spawns `mlvet db import PATH` with `data` as data directory.
fn spawn_import(data: &Path, path: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["db", "import", "--quiet"])
        .arg(path)
        .current_dir(repo_root())
        .env("MLVET_DATA_DIR", data)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn import")
}

#[test]
fn a_scan_during_the_first_import_sees_no_database_or_all_of_it() {
    let data = tempfile::tempdir().expect("data");
    let work = tempfile::tempdir().expect("work");
    let requirements = vulnerable_requirements(work.path());
    let mut import = spawn_import(data.path(), &pypa_vulns());
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut before, mut after, mut scans_after_import) = (0, 0, 0);
    // Scan until the import has finished and two more scans saw its result (bounded in time).
    while scans_after_import < 2 && Instant::now() < deadline {
        let finished = import.try_wait().expect("wait").is_some();
        let (code, report) = scan_json(data.path(), &requirements);
        let found = rules(&report);
        if found.contains(&"dependency-no-database".to_string()) {
            assert_ne!(verdict(&report), "safe", "{report:#}");
            assert!(
                !finished,
                "the import finished but the scan saw no database"
            );
            before += 1;
        } else {
            assert_eq!(code, Some(1), "{report:#}");
            assert_eq!(verdict(&report), "vulnerable", "{report:#}");
            assert!(
                report["findings"].to_string().contains("PYSEC-2021-142"),
                "{report:#}"
            );
            after += 1;
        }
        if finished {
            scans_after_import += 1;
        }
    }
    let status = import.wait().expect("import");
    assert!(status.success(), "the import failed");
    assert!(after >= 2, "scans before: {before}, after: {after}");
}

#[test]
fn two_first_imports_at_once_both_succeed_and_leave_a_consistent_database() {
    let data = tempfile::tempdir().expect("data");
    let imports = [
        spawn_import(data.path(), &pypa_vulns()),
        spawn_import(data.path(), &pypa_vulns()),
    ];
    for import in imports {
        let out = import.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = mlvet(data.path(), &["db", "status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["records"], 2661);
    let conn = rusqlite::Connection::open_with_flags(
        data.path().join(DATABASE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok");
    let leftovers: Vec<_> = std::fs::read_dir(data.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n != DATABASE && n != "advisories.sqlite3.lock")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Terminal controls a hostile record could carry: clear screen, window title (OSC ... BEL),
/// carriage return (overwrites the line), a right-to-left override.
const HOSTILE: &str = "\u{1b}[2J\u{1b}]0;owned\u{7}\r\u{202e}";

fn assert_clean(text: &str, what: &str) {
    for bad in ['\u{1b}', '\u{7}', '\r', '\u{202e}'] {
        assert!(!text.contains(bad), "{what} printed {bad:?} raw:\n{text:?}");
    }
}

#[test]
fn import_status_and_advisories_print_record_text_sanitised() {
    let data = tempfile::tempdir().expect("data");
    let records = tempfile::tempdir().expect("records");
    let dir = records.path().join(format!("exports{HOSTILE}"));
    std::fs::create_dir(&dir).expect("mkdir");
    let mut hostile = record(&format!("X-1{HOSTILE}"), "evil", &format!("sum{HOSTILE}"));
    hostile["aliases"] = serde_json::json!([format!("CVE-1{HOSTILE}")]);
    hostile["affected"]
        .as_array_mut()
        .expect("affected")
        .push(serde_json::json!({
            "package": {"ecosystem": "PyPI", "name": format!("evil{HOSTILE}")}
        }));
    std::fs::write(dir.join("X-1.json"), hostile.to_string()).expect("write");
    std::fs::write(dir.join(format!("bad{HOSTILE}.json")), "{").expect("write");

    let import = mlvet(data.path(), &["db", "import", dir.to_str().expect("utf-8")]);
    assert_eq!(import.status.code(), Some(0), "{}", stderr(&import));
    let text = String::from_utf8_lossy(&import.stdout);
    assert_clean(&text, "db import");
    assert!(text.contains("\\u{1b}[2J"), "shown as an escape: {text}");
    assert!(text.contains("1 could not be read"), "{text}");

    let status = mlvet(data.path(), &["db", "status"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let text = String::from_utf8_lossy(&status.stdout);
    assert_clean(&text, "db status");
    assert!(text.contains("\\u{202e}"), "{text}");

    let listing = mlvet(data.path(), &["advisories", "--package", "evil"]);
    assert_eq!(listing.status.code(), Some(0), "{}", stderr(&listing));
    let text = String::from_utf8_lossy(&listing.stdout);
    assert_clean(&text, "advisories");
    for shown in ["X-1\\u{1b}", "CVE-1\\u{1b}", "sum\\u{1b}", "evil\\u{1b}"] {
        assert!(text.contains(shown), "{shown} missing: {text}");
    }

    // A single bad record file is an error whose message quotes the hostile path.
    let single = records.path().join(format!("one{HOSTILE}.json"));
    std::fs::write(&single, "{").expect("write");
    let error = mlvet(
        data.path(),
        &["db", "import", single.to_str().expect("utf-8")],
    );
    assert_ne!(error.status.code(), Some(0));
    assert_clean(&stderr(&error), "db import error");
}

#[test]
fn an_over_long_id_is_refused_counted_and_leaves_the_rest() {
    let data = tempfile::tempdir().expect("data");
    let records = tempfile::tempdir().expect("records");
    let huge = format!("X-{}", "9".repeat(1024 * 1024));
    std::fs::write(
        records.path().join("huge.json"),
        record(&huge, "pkg", "s").to_string(),
    )
    .expect("write");
    std::fs::write(
        records.path().join("ok.json"),
        record("X-2", "pkg", "s").to_string(),
    )
    .expect("write");
    let out = mlvet(
        data.path(),
        &["db", "import", records.path().to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 records read"), "{text}");
    assert!(text.contains("1 could not be read"), "{text}");
    assert!(
        // The OSV record model refuses it; the database stores only records it accepted.
        text.contains("`id` is 1048578 bytes, over the 256-byte limit"),
        "{text}"
    );
    let database = std::fs::metadata(data.path().join(DATABASE)).expect("stat");
    assert!(
        database.len() < 256 * 1024,
        "{} bytes stored",
        database.len()
    );
}
