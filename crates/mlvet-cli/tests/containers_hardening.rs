//! End-to-end tests of container hardening: special files on the command line and in
//! directories, archive path escapes, sparse and special tar members, joblib side files, zip
//! bombs and expansion budgets.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{artifact, findings_for, json_report, repo_root};

/// Runs `mlvet ARGS` and fails the test (instead of hanging CI) when it does not finish in
/// `limit`.
fn mlvet_within(data_dir: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(args)
        .current_dir(repo_root())
        .env("MLVET_DATA_DIR", data_dir)
        .env("NO_COLOR", "1")
        .env_remove("MLVET_OSV_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mlvet");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mlvet {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo failed");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_fifo_given_on_the_command_line_is_an_error_not_a_hang() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("model.pkl");
    mkfifo(&fifo);
    let link = dir.path().join("link.pkl");
    std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
    for input in [&fifo, &link] {
        let shown = input.to_string_lossy();
        let out = mlvet_within(
            data.path(),
            &["scan", "--format", "json", &shown],
            Duration::from_secs(20),
        );
        assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
        let report = json_report(&out);
        let errors = report["errors"].as_array().expect("errors");
        assert!(
            errors.iter().any(|e| e["path"] == *shown
                && e["message"].as_str().is_some_and(|m| m.contains("FIFO"))),
            "{report:#}"
        );
    }
}

#[test]
fn a_character_device_given_on_the_command_line_is_an_error() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet_within(
        data.path(),
        &["scan", "--format", "json", "/dev/zero"],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    assert!(json_report(&out).to_string().contains("device"));
}

#[test]
fn fifos_inside_a_scanned_directory_are_never_opened() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    mkfifo(&dir.path().join("weights.pt"));
    std::os::unix::fs::symlink(dir.path().join("weights.pt"), dir.path().join("alias.pkl"))
        .expect("symlink");
    std::fs::write(dir.path().join("plain.pkl"), b"\x80\x04K\x01.").expect("write");
    let shown = dir.path().to_string_lossy().into_owned();
    let out = mlvet_within(
        data.path(),
        &["scan", "--format", "json", &shown],
        Duration::from_secs(20),
    );
    let report = json_report(&out);
    let plain = format!("{shown}/plain.pkl");
    assert_eq!(artifact(&report, &plain)["verdict"], "safe", "{report:#}");
    assert_eq!(
        report["artifacts"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    assert!(findings_for(&report, &format!("{shown}/weights.pt")).is_empty());
}
