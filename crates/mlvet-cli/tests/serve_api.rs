//! `mlvet serve`, `mlvet admin` and `mlvet scan --upload` through the binary: bootstrap a token
//! offline, start the service on a loopback port, upload from the CI one-liner, read the
//! findings over HTTP, stop the service with SIGTERM (graceful: exit 0).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{mlvet, repo_root};

fn shared() -> std::path::PathBuf {
    repo_root().join("../shared")
}

/// Starts `mlvet serve` on an ephemeral port; returns the child and its base URL.
fn serve(data_dir: &Path, extra: &[&str]) -> (Child, String, BufReader<std::process::ChildStderr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["serve", "--listen", "127.0.0.1:0", "--no-config"])
        .args(extra)
        .env("MLVET_DATA_DIR", data_dir)
        .env_remove("MLVET_DATABASE")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start mlvet serve");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let addr = loop {
        line.clear();
        let read = stderr.read_line(&mut line).unwrap_or(0);
        let event: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_default();
        if event["event"] == "listening" {
            break event["addr"].as_str().map(str::to_string);
        }
        if read == 0 || std::time::Instant::now() > deadline {
            break None;
        }
    };
    let Some(addr) = addr else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("mlvet serve never logged `listening` (last line: {line})");
    };
    (child, format!("http://{addr}"), stderr)
}

fn token(data_dir: &Path, team: &str, role: &str) -> String {
    let output = mlvet(
        data_dir,
        &[
            "admin", "token", "create", "--team", team, "--role", role, "--name", "ci",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    assert!(token.starts_with("mlvet_"), "{token}");
    token
}

fn stop(mut child: Child, stderr: BufReader<std::process::ChildStderr>) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let log: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
    log.join("\n")
}

#[test]
fn ci_one_liner_uploads_and_links_the_findings() {
    let data = tempfile::tempdir().expect("tempdir");
    let import = mlvet(
        data.path(),
        &[
            "db",
            "import",
            "-q",
            shared()
                .join("advisories/pypa-advisory-database/vulns/torch")
                .to_str()
                .expect("utf-8"),
        ],
    );
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let member = token(data.path(), "red", "member");
    let (child, base, stderr) = serve(data.path(), &[]);

    let project = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(project.path().join("svc")).expect("mkdir");
    std::fs::write(project.path().join("requirements.txt"), "torch==1.12.0\n").expect("write");
    std::fs::write(
        project.path().join("svc/requirements.txt"),
        "numpy==1.26.0\n",
    )
    .expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args([
            "scan",
            ".",
            "--upload",
            &base,
            "--project",
            "demo",
            "--format",
            "json",
            "--fail-on",
            "medium",
        ])
        .current_dir(project.path())
        .env("MLVET_DATA_DIR", data.path())
        .env("MLVET_TOKEN", &member)
        .env("NO_COLOR", "1")
        .output()
        .expect("run scan");
    let stderr_text = String::from_utf8_lossy(&output.stderr);
    // The local report is unchanged (a medium finding with --fail-on medium: exit 1), the upload adds the link.
    assert_eq!(output.status.code(), Some(1), "{stderr_text}");
    assert!(
        stderr_text.contains("uploaded 2 file(s) to project `demo`"),
        "{stderr_text}"
    );
    let link = stderr_text
        .split_whitespace()
        .find(|w| w.starts_with(&base) && w.ends_with("/findings"))
        .expect("a findings link")
        .to_string();

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&link)
        .header("Authorization", &format!("Bearer {member}"))
        .call()
        .expect("GET findings");
    assert_eq!(response.status().as_u16(), 200);
    let findings: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("json");
    let list = findings["findings"].as_array().expect("findings");
    assert!(
        list.iter()
            .any(|f| f["advisory"]["id"] == "PYSEC-2022-43015" && f["path"] == "requirements.txt"),
        "{findings:#}"
    );
    // Scanning again uploads into the same project (found by name), replacing each source.
    let again = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args([
            "scan",
            ".",
            "--upload",
            &base,
            "--project",
            "demo",
            "-q",
            "--fail-on",
            "medium",
        ])
        .current_dir(project.path())
        .env("MLVET_DATA_DIR", data.path())
        .env("MLVET_TOKEN", &member)
        .output()
        .expect("run scan");
    assert_eq!(again.status.code(), Some(1));
    let mut projects = agent
        .get(&format!("{base}/api/v1/projects"))
        .header("Authorization", &format!("Bearer {member}"))
        .call()
        .expect("GET projects");
    let projects: serde_json::Value =
        serde_json::from_str(&projects.body_mut().read_to_string().expect("body")).expect("json");
    assert_eq!(projects["projects"].as_array().expect("list").len(), 1);
    assert_eq!(
        projects["projects"][0]["sources"]
            .as_array()
            .expect("sources")
            .len(),
        2
    );

    // Without a token the upload is refused before anything is sent.
    let anonymous = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["scan", ".", "--upload", &base, "--project", "demo", "-q"])
        .current_dir(project.path())
        .env("MLVET_DATA_DIR", data.path())
        .env_remove("MLVET_TOKEN")
        .output()
        .expect("run scan");
    assert_eq!(anonymous.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("MLVET_TOKEN"));

    let log = stop(child, stderr);
    // Structured logs, and the token never appears in them.
    assert!(log.contains("\"event\":\"request\""), "{log}");
    assert!(!log.contains(&member), "the token leaked into the log");
}

#[test]
fn ci_one_liner_uploads_model_files_and_the_server_lists_their_findings() {
    let data = tempfile::tempdir().expect("tempdir");
    let import = mlvet(
        data.path(),
        &[
            "db",
            "import",
            "-q",
            shared()
                .join("advisories/pypa-advisory-database/vulns/torch")
                .to_str()
                .expect("utf-8"),
        ],
    );
    assert!(import.status.success());
    let member = token(data.path(), "red", "member");
    let (child, base, stderr) = serve(data.path(), &[]);

    // A folder with a malicious pickle (a committed fixture)
    // and a requirements file.
    let project = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(project.path().join("models")).expect("mkdir");
    std::fs::copy(
        repo_root().join("tests/fixtures/models/malicious/reduce_os_system_p3.pkl"),
        project.path().join("models/model.pkl"),
    )
    .expect("copy pickle");
    std::fs::write(project.path().join("requirements.txt"), "torch==1.12.0\n").expect("write");
    let local = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["scan", ".", "--format", "json", "--fail-on", "never"])
        .current_dir(project.path())
        .env("MLVET_DATA_DIR", data.path())
        .output()
        .expect("local scan");
    let local: serde_json::Value = serde_json::from_slice(&local.stdout).expect("json report");
    let local_model = local["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["path"] == "./models/model.pkl")
        .unwrap_or_else(|| panic!("no local model finding: {local:#}"))
        .clone();

    let output = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["scan", ".", "--upload", &base, "--project", "models", "-q"])
        .current_dir(project.path())
        .env("MLVET_DATA_DIR", data.path())
        .env("MLVET_TOKEN", &member)
        .output()
        .expect("run scan");
    let stderr_text = String::from_utf8_lossy(&output.stderr);
    // A critical finding in the local report: exit 1; both files went up.
    assert_eq!(output.status.code(), Some(1), "{stderr_text}");
    assert!(
        stderr_text.contains("uploaded 2 file(s) to project `models`"),
        "{stderr_text}"
    );
    let link = stderr_text
        .split_whitespace()
        .find(|w| w.starts_with(&base) && w.ends_with("/findings"))
        .expect("a findings link")
        .to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&link)
        .header("Authorization", &format!("Bearer {member}"))
        .call()
        .expect("GET findings");
    assert_eq!(response.status().as_u16(), 200);
    let findings: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("json");
    let list = findings["findings"].as_array().expect("findings");
    // The dependency finding...
    assert!(
        list.iter()
            .any(|f| f["advisory"]["id"] == "PYSEC-2022-43015" && f["path"] == "requirements.txt"),
        "{findings:#}"
    );
    // ...and the model's, found by the server's own scan, with the JSON report's fields.
    let model = list
        .iter()
        .find(|f| f["path"] == "models/model.pkl" && f["rule"] == local_model["rule"])
        .unwrap_or_else(|| panic!("no model finding on the server: {findings:#}"));
    assert_eq!(model["severity"], "critical", "{model:#}");
    for field in local_model.as_object().expect("object").keys() {
        assert!(model.get(field).is_some(), "`{field}` missing: {model:#}");
    }
    assert_eq!(model["state"], "open");
    let _ = stop(child, stderr);
}

#[test]
fn tokens_in_urls_are_never_logged_and_users_are_created_offline() {
    let data = tempfile::tempdir().expect("tempdir");
    let viewer = token(data.path(), "red", "viewer");
    let mut create = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args([
            "admin",
            "user",
            "create",
            "ann@example.org",
            "--team",
            "red",
            "--role",
            "member",
        ])
        .env("MLVET_DATA_DIR", data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    create
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a long enough passphrase\n")
        .expect("write");
    let created = create.wait_with_output().expect("wait");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let weak = mlvet(
        data.path(),
        &[
            "admin", "token", "create", "--team", "red", "--role", "boss",
        ],
    );
    assert_eq!(weak.status.code(), Some(2));

    let (child, base, stderr) = serve(data.path(), &[]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    // A token pasted into the path and the query.
    let answer = agent
        .get(&format!("{base}/api/v1/projects/{viewer}?token={viewer}"))
        .call()
        .expect("GET");
    assert_eq!(answer.status().as_u16(), 401);
    let answer = agent
        .get(&format!("{base}/api/v1/projects?access_token={viewer}"))
        .header("Authorization", &format!("Bearer {viewer}"))
        .call()
        .expect("GET");
    assert_eq!(answer.status().as_u16(), 200);
    let log = stop(child, stderr);
    let secret = viewer.rsplit('_').next().expect("secret");
    assert!(!log.contains(secret), "a token reached the log:\n{log}");
    assert!(log.contains("/api/v1/projects"), "{log}");
}
