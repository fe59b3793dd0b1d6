//! Scale-out through the binary (issue 12 §4): `mlvet serve --workers 0` API replicas and
//! `mlvet worker` processes sharing one PostgreSQL database, and their failures.
//!
//! - Two API-only replicas and two workers process a queue: every job runs once.
//! - `kill -9` of a worker mid-job: another worker reclaims the job when its lease ends and
//!   completes it once (one `inventory.processed`, no duplicated finding); a worker that was
//!   only stalled (SIGSTOP) past its lease finds its late completion refused.
//! - PostgreSQL restarted (`pg_ctl restart`) during an advisory delta: no event is lost, no
//!   finding is created twice, every project's webhook arrives.
//!
//! The first two need `MLVET_TEST_POSTGRES` (a schema of their own; set but unreachable fails
//! them); the restart test starts a private PostgreSQL it may restart (`initdb`/`pg_ctl` from
//! /usr/lib/postgresql/*/bin, as the `postgres` user when running as root) and is skipped with
//! a message when none is installed. Everything listens on loopback; every wait is bounded.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn shared() -> PathBuf {
    common::repo_root().join("../shared")
}

/// `MLVET_TEST_POSTGRES` with a fresh schema of its own (created and migrated here), or `None`
/// (skipped) when the variable is not set.
#[allow(clippy::print_stderr)]
fn postgres_schema_url() -> Option<String> {
    let url = match std::env::var("MLVET_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("MLVET_TEST_POSTGRES is not set: this PostgreSQL scale-out test is SKIPPED");
            return None;
        }
    };
    let schema = format!(
        "w_{}",
        mlvet_store::secrets::random_alnum(12).to_lowercase()
    );
    mlvet_store::Store::open(&mlvet_store::Location::Postgres {
        url: url.clone(),
        schema: Some(schema.clone()),
    })
    .expect("MLVET_TEST_POSTGRES is set but PostgreSQL cannot be opened");
    let separator = if url.contains('?') { '&' } else { '?' };
    Some(format!(
        "{url}{separator}options=-c%20search_path%3D{schema}"
    ))
}

/// A child `mlvet` process whose JSON log lines go to a file; killed when dropped.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(
        data_dir: &Path,
        logs: &Path,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Proc {
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_mlvet"))
            .args(args)
            .env("MLVET_DATA_DIR", data_dir)
            .env_remove("MLVET_DATABASE")
            .env_remove("MLVET_OSV_URL")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start mlvet");
        Proc { child, log }
    }

    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    fn wait_for(&mut self, event: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = self.events().into_iter().find(|e| e["event"] == event) {
                return found;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "mlvet exited ({status}) before logging `{event}`:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no `{event}` within {within:?}:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    /// SIGTERM and wait: a graceful stop exits 0.
    fn stop(mut self) {
        self.signal("-TERM");
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "graceful stop exits 0: {status}");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The service's processes over one store and data directory.
struct Fleet {
    data: tempfile::TempDir,
    logs: tempfile::TempDir,
    database: String,
    token: String,
}

impl Fleet {
    fn new(database: &str) -> Fleet {
        let data = tempfile::tempdir().expect("tempdir");
        let logs = tempfile::tempdir().expect("tempdir");
        let output = common::mlvet(
            data.path(),
            &[
                "admin",
                "token",
                "create",
                "--team",
                "red",
                "--role",
                "admin",
                "--name",
                "t",
                "--database",
                database,
            ],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let token = String::from_utf8_lossy(&output.stdout).trim().to_string();
        Fleet {
            data,
            logs,
            database: database.to_string(),
            token,
        }
    }

    fn import(&self, path: &Path) {
        let output = common::mlvet(
            self.data.path(),
            &["db", "import", "-q", path.to_str().expect("utf-8")],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// An API-only replica; returns it with its base URL.
    fn serve(&self, name: &str) -> (Proc, String) {
        let mut proc = Proc::spawn(
            self.data.path(),
            self.logs.path(),
            name,
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-config",
                "--offline",
                "--workers",
                "0",
                "--rate-per-minute",
                "100000",
                "--allow-private-webhooks",
                "--database",
                &self.database,
            ],
            &[],
        );
        let listening = proc.wait_for("listening", Duration::from_secs(60));
        let addr = listening["addr"].as_str().expect("addr").to_string();
        (proc, format!("http://{addr}"))
    }

    /// A worker with the default 30 s lease unless `extra` sets `--job-lease-seconds` (a short
    /// lease only where a test waits for a reclaim: under load a healthy worker's heartbeat
    /// could be late for a 3 s lease).
    fn worker(&self, name: &str, extra: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut args = vec![
            "worker",
            "--no-config",
            "--offline",
            "--concurrency",
            "2",
            "--allow-private-webhooks",
            "--database",
            &self.database,
        ];
        args.extend_from_slice(extra);
        let mut proc = Proc::spawn(self.data.path(), self.logs.path(), name, &args, env);
        proc.wait_for("worker_started", Duration::from_secs(60));
        proc
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// One API call: status and JSON body.
fn call(base: &str, token: &str, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Value) {
    let url = format!("{base}{path}");
    let auth = format!("Bearer {token}");
    let agent = agent();
    let response = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        ("POST", Some(body)) => agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(body),
        ("PUT", Some(body)) => agent.put(&url).header("Authorization", &auth).send(body),
        _ => panic!("unsupported call {method}"),
    };
    let mut response = response.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn create_project(base: &str, token: &str, name: &str) -> i64 {
    let body = json!({ "name": name }).to_string();
    let (status, answer) = call(
        base,
        token,
        "POST",
        "/api/v1/projects",
        Some(body.as_bytes()),
    );
    assert_eq!(status, 201, "{answer}");
    answer["id"].as_i64().expect("id")
}

/// Queues an upload without waiting; returns the job id.
fn upload(base: &str, token: &str, project: i64, filename: &str, body: &[u8]) -> i64 {
    let path = format!("/api/v1/projects/{project}/inventory?filename={filename}&wait=0");
    let (status, answer) = call(base, token, "PUT", &path, Some(body));
    assert_eq!(status, 202, "{answer}");
    answer["job"]["id"].as_i64().expect("job id")
}

fn job(base: &str, token: &str, id: i64) -> Value {
    let (status, answer) = call(base, token, "GET", &format!("/api/v1/jobs/{id}"), None);
    assert_eq!(status, 200, "{answer}");
    answer["job"].clone()
}

fn wait_for_job(base: &str, token: &str, id: i64, state: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let current = job(base, token, id);
        if current["state"] == state {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} not {state} within {within:?}: {current:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every event of a project, oldest first.
fn project_events(base: &str, token: &str, project: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            Some(seq) => format!("/api/v1/projects/{project}/events?limit=500&before={seq}"),
            None => format!("/api/v1/projects/{project}/events?limit=500"),
        };
        let (status, answer) = call(base, token, "GET", &path, None);
        assert_eq!(status, 200, "{answer}");
        out.extend(answer["events"].as_array().cloned().unwrap_or_default());
        match answer["next_before"].as_i64() {
            Some(seq) => before = Some(seq),
            None => break,
        }
    }
    out.reverse();
    out
}

fn count_type(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

/// Findings are one per (package, advisory): none twice.
fn assert_findings_unique(base: &str, token: &str, project: i64) -> Vec<Value> {
    let (status, answer) = call(
        base,
        token,
        "GET",
        &format!("/api/v1/projects/{project}/findings"),
        None,
    );
    assert_eq!(status, 200, "{answer}");
    let findings = answer["findings"].as_array().cloned().unwrap_or_default();
    let mut seen = HashSet::new();
    for finding in &findings {
        let key = (
            finding["rule"].to_string(),
            finding["package"]["name"].to_string(),
            finding["advisory"]["id"].to_string(),
            finding["path"].to_string(),
        );
        assert!(seen.insert(key), "a finding twice: {findings:#?}");
    }
    findings
}

fn torch_lock() -> &'static [u8] {
    b"torch==1.12.0\njinja2==2.10\n"
}

#[test]
fn api_only_replicas_and_two_workers_share_the_queue() {
    let Some(database) = postgres_schema_url() else {
        return;
    };
    let fleet = Fleet::new(&database);
    fleet.import(&shared().join("advisories/pypa-advisory-database/vulns/torch"));
    let (serve_a, base_a) = fleet.serve("serve-a");
    let (serve_b, base_b) = fleet.serve("serve-b");
    let workers = [
        fleet.worker("worker-1", &[], &[]),
        fleet.worker("worker-2", &[], &[]),
    ];
    let token = &fleet.token;
    let projects: Vec<i64> = (0..3)
        .map(|p| create_project(&base_a, token, &format!("p{p}")))
        .collect();
    let mut jobs = Vec::new();
    for round in 0..4 {
        for (index, project) in projects.iter().enumerate() {
            let base = if (round + index) % 2 == 0 {
                &base_a
            } else {
                &base_b
            };
            let name = format!("r{round}.txt");
            jobs.push(upload(base, token, *project, &name, torch_lock()));
        }
    }
    for id in &jobs {
        let done = wait_for_job(&base_b, token, *id, "succeeded", Duration::from_secs(60));
        assert_eq!(done["attempts"], 1, "{done:#}");
    }
    // Each job ran once, in a worker; the API replicas ran none.
    let mut ran: Vec<i64> = Vec::new();
    for worker in &workers {
        for event in worker.events() {
            if event["event"] == "job_done" {
                ran.push(event["job"].as_i64().expect("job"));
            }
        }
    }
    ran.sort_unstable();
    let mut expected = jobs.clone();
    expected.sort_unstable();
    assert_eq!(ran, expected, "every job ran exactly once");
    for replica in [&serve_a, &serve_b] {
        assert!(!replica.events().iter().any(|e| e["event"] == "job_done"));
    }
    for project in &projects {
        let events = project_events(&base_a, token, *project);
        assert_eq!(count_type(&events, "inventory.processed"), 4, "{events:#?}");
        let findings = assert_findings_unique(&base_a, token, *project);
        assert!(
            findings
                .iter()
                .any(|f| f["advisory"]["id"] == "PYSEC-2022-43015"),
            "{findings:#?}"
        );
        assert_eq!(
            count_type(&events, "finding.created"),
            findings
                .iter()
                .filter(|f| f["advisory"]["id"].is_string())
                .count(),
            "one finding.created per advisory finding: {events:#?}"
        );
    }
    for worker in workers {
        worker.stop();
    }
    serve_a.stop();
    serve_b.stop();
}

#[test]
fn a_killed_worker_s_job_is_reclaimed_and_completes_once() {
    let Some(database) = postgres_schema_url() else {
        return;
    };
    let fleet = Fleet::new(&database);
    fleet.import(&shared().join("advisories/pypa-advisory-database/vulns/torch"));
    let (serve, base) = fleet.serve("serve");
    let token = &fleet.token;

    // 1. kill -9 mid-job (the worker holds the job for a minute after claiming it).
    let mut doomed = fleet.worker(
        "doomed",
        &["--job-lease-seconds", "3"],
        &[("MLVET_FAULT_JOB_DELAY_MS", "60000")],
    );
    let killed = create_project(&base, token, "killed");
    let id = upload(&base, token, killed, "requirements.txt", torch_lock());
    wait_for_job(&base, token, id, "running", Duration::from_secs(30));
    doomed.child.kill().expect("kill -9");
    let _ = doomed.child.wait();
    let rescuer = fleet.worker("rescuer", &["--job-lease-seconds", "3"], &[]);
    let done = wait_for_job(&base, token, id, "succeeded", Duration::from_secs(30));
    assert_eq!(
        done["attempts"], 2,
        "claimed by the dead worker, then once more: {done:#}"
    );
    let events = project_events(&base, token, killed);
    assert_eq!(count_type(&events, "inventory.processed"), 1, "{events:#?}");
    let findings = assert_findings_unique(&base, token, killed);
    assert!(!findings.is_empty());
    assert_eq!(
        count_type(&events, "finding.created"),
        findings
            .iter()
            .filter(|f| f["advisory"]["id"].is_string())
            .count(),
        "{events:#?}"
    );
    rescuer.stop();

    // 2. A stalled worker (SIGSTOP past its lease) loses the job; its late completion is
    //    refused and records nothing.
    let stalled = fleet.worker(
        "stalled",
        &["--job-lease-seconds", "3"],
        &[("MLVET_FAULT_JOB_DELAY_MS", "1500")],
    );
    let paused = create_project(&base, token, "paused");
    let id = upload(&base, token, paused, "requirements.txt", torch_lock());
    wait_for_job(&base, token, id, "running", Duration::from_secs(30));
    stalled.signal("-STOP");
    let other = fleet.worker("other", &["--job-lease-seconds", "3"], &[]);
    let done = wait_for_job(&base, token, id, "succeeded", Duration::from_secs(30));
    assert_eq!(done["attempts"], 2, "{done:#}");
    stalled.signal("-CONT");
    let mut stalled = stalled;
    stalled.wait_for("job_lease_lost", Duration::from_secs(30));
    let events = project_events(&base, token, paused);
    assert_eq!(count_type(&events, "inventory.processed"), 1, "{events:#?}");
    assert_findings_unique(&base, token, paused);
    stalled.stop();
    other.stop();
    serve.stop();
}

// ---- PostgreSQL restarted during a delta ----

/// A private PostgreSQL cluster on a free loopback port, stopped when dropped.
struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    #[allow(clippy::print_stderr)]
    fn start() -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
            .max();
        let Some(bin) = bin else {
            eprintln!("no PostgreSQL in /usr/lib/postgresql: the restart test is SKIPPED");
            return None;
        };
        // initdb refuses to run as root: use the postgres user then.
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let dir = tempfile::tempdir().expect("tempdir");
        if as_postgres {
            let chown = Command::new("chown")
                .args(["postgres", dir.path().to_str().expect("utf-8")])
                .status();
            if !chown.is_ok_and(|s| s.success()) {
                eprintln!(
                    "cannot hand a directory to the postgres user: the restart test is SKIPPED"
                );
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = PrivatePostgres {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = server.dir.path().join("data");
        let init = server.run(
            "initdb",
            &[
                "-D",
                data.to_str().expect("utf-8"),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
        );
        if !init {
            eprintln!("initdb failed: the restart test is SKIPPED");
            return None;
        }
        assert!(server.pg_ctl("start"), "pg_ctl start");
        Some(server)
    }

    fn run(&self, tool: &str, args: &[&str]) -> bool {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn pg_ctl(&self, action: &str) -> bool {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("utf-8"),
                "-l",
                log.to_str().expect("utf-8"),
                "-m",
                "fast",
                "-w",
                "-o",
                &options,
                action,
            ],
        )
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap_or("."),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

/// A webhook receiver on loopback: answers 200 and records every `webhook-id` with the
/// project of its event.
struct Receiver {
    addr: std::net::SocketAddr,
    received: Arc<Mutex<Vec<(String, i64, String)>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    if let Some(request) = read_request(&stream) {
                        shared.lock().expect("lock").push(request);
                    }
                    let mut stream = stream;
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                });
            }
        });
        Receiver { addr, received }
    }
}

/// `(webhook-id, project id, event type)` of one delivery (bounded: 1 MiB body).
fn read_request(stream: &std::net::TcpStream) -> Option<(String, i64, String)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream);
    let mut headers = HashMap::new();
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body).ok()?;
    let event: Value = serde_json::from_slice(&body).ok()?;
    Some((
        headers.get("webhook-id")?.clone(),
        event["data"]["project"]["id"].as_i64().unwrap_or(0),
        event["type"].as_str().unwrap_or("").to_string(),
    ))
}

fn advisory_record(id: &str, package: &str) -> Vec<u8> {
    json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2026-02-01T00:00:00Z",
        "published": "2026-02-01T00:00:00Z",
        "summary": format!("{package} mishandles hostile input"),
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": package},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.0.0"}]}],
        }],
        "database_specific": {"severity": "HIGH"},
    })
    .to_string()
    .into_bytes()
}

#[test]
#[allow(clippy::print_stderr)]
fn postgres_restarted_during_a_delta_loses_no_event() {
    let Some(postgres) = PrivatePostgres::start() else {
        return;
    };
    let fleet = Fleet::new(&postgres.url());
    let (serve, base) = fleet.serve("serve");
    let workers = [
        fleet.worker("worker-1", &["--job-lease-seconds", "10"], &[]),
        fleet.worker("worker-2", &["--job-lease-seconds", "10"], &[]),
    ];
    let token = &fleet.token;
    let receiver = Receiver::start();
    let hook = json!({
        "url": format!("http://{}/hook", receiver.addr),
        "events": ["finding.created"],
    })
    .to_string();
    let (status, answer) = call(
        &base,
        token,
        "POST",
        "/api/v1/webhooks",
        Some(hook.as_bytes()),
    );
    assert_eq!(status, 201, "{answer}");

    // Projects holding the package the advisory will name, and their inventories stored.
    let mut projects = Vec::new();
    let mut jobs = Vec::new();
    for p in 0..60 {
        let project = create_project(&base, token, &format!("p{p}"));
        let lock = format!("mlvet-demo-lib==1.{}.0\nnumpy==1.26.{}\n", p % 7, p % 3);
        jobs.push(upload(
            &base,
            token,
            project,
            "requirements.txt",
            lock.as_bytes(),
        ));
        projects.push(project);
    }
    for id in &jobs {
        wait_for_job(&base, token, *id, "succeeded", Duration::from_secs(120));
    }

    // The delta, and PostgreSQL restarted while the workers re-match and deliver it.
    let records = tempfile::tempdir().expect("tempdir");
    let file = records.path().join("MLVET-TEST-0200.json");
    std::fs::write(&file, advisory_record("MLVET-TEST-0200", "mlvet-demo-lib")).expect("write");
    fleet.import(&file);
    // Twice, so that a restart lands inside the watcher's claim, re-match or deliveries
    // whatever their timing on this machine.
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(300));
        assert!(postgres.pg_ctl("restart"), "pg_ctl restart");
    }

    // Every project gets its finding, once, and its webhook (at least once, one id).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut created: BTreeMap<i64, usize> = BTreeMap::new();
    for project in &projects {
        loop {
            let events = project_events(&base, token, *project);
            let count = events
                .iter()
                .filter(|e| {
                    e["type"] == "finding.created"
                        && e["data"]["finding"]["advisory"]["id"] == "MLVET-TEST-0200"
                })
                .count();
            if count > 0 || Instant::now() > deadline {
                created.insert(*project, count);
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let missing: Vec<_> = created.iter().filter(|(_, c)| **c != 1).collect();
    assert!(
        missing.is_empty(),
        "projects without exactly one finding.created: {missing:?}"
    );
    for project in &projects {
        assert_findings_unique(&base, token, *project);
    }
    let delivered = |receiver: &Receiver| -> HashMap<i64, HashSet<String>> {
        let mut by_project: HashMap<i64, HashSet<String>> = HashMap::new();
        for (id, project, kind) in receiver.received.lock().expect("lock").iter() {
            if kind == "finding.created" {
                by_project.entry(*project).or_default().insert(id.clone());
            }
        }
        by_project
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while projects
        .iter()
        .any(|p| delivered(&receiver).get(p).is_none_or(|ids| ids.is_empty()))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    let delivered = delivered(&receiver);
    for project in &projects {
        let ids = delivered.get(project).cloned().unwrap_or_default();
        // One finding.created for the advisory per project (the uploads' own created none:
        // the advisory did not exist then); redeliveries reuse the id.
        assert_eq!(ids.len(), 1, "project {project}: webhook ids {ids:?}");
    }
    // What the restarts interrupted (for the record; any timing must pass the checks above).
    let mut interrupted: BTreeMap<String, usize> = BTreeMap::new();
    for worker in &workers {
        for event in worker.events() {
            if event["level"] == "error" {
                let name = event["event"].as_str().unwrap_or("?").to_string();
                *interrupted.entry(name).or_default() += 1;
            }
        }
    }
    eprintln!("errors logged by the workers across the restarts: {interrupted:?}");
    for worker in workers {
        worker.stop();
    }
    serve.stop();
}

#[test]
fn the_worker_command_is_documented_checked_and_answers_health() {
    let help = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["worker", "--help"])
        .output()
        .expect("mlvet worker --help");
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--database",
        "--concurrency",
        "--health-listen",
        "--job-lease-seconds",
        "--update-every",
        "--offline",
        "--allow-private-webhooks",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help:\n{text}");
    }
    let serve_help = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["serve", "--help"])
        .output()
        .expect("mlvet serve --help");
    let serve_text = String::from_utf8_lossy(&serve_help.stdout);
    assert!(serve_text.contains("--workers") && serve_text.contains("--job-lease-seconds"));

    let data = tempfile::tempdir().expect("tempdir");
    for bad in [
        &["worker", "--no-config", "--offline", "--concurrency", "0"][..],
        &[
            "worker",
            "--no-config",
            "--offline",
            "--job-lease-seconds",
            "1",
        ][..],
    ] {
        let output = common::mlvet(data.path(), bad);
        assert_eq!(output.status.code(), Some(2), "{bad:?}: a usage error");
    }

    // On SQLite too (one machine, a second process beside `serve`): health, queue depth, and
    // a graceful stop.
    let logs = tempfile::tempdir().expect("tempdir");
    let mut worker = Proc::spawn(
        data.path(),
        logs.path(),
        "worker",
        &[
            "worker",
            "--no-config",
            "--offline",
            "--health-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let started = worker.wait_for("worker_started", Duration::from_secs(60));
    let health = started["health"]
        .as_str()
        .expect("health address")
        .to_string();
    let base = format!("http://{health}");
    let (status, alive) = call(&base, "", "GET", "/healthz", None);
    assert_eq!((status, &alive["status"]), (200, &json!("ok")), "{alive}");
    let (status, ready) = call(&base, "", "GET", "/readyz", None);
    assert_eq!(status, 200, "{ready}");
    assert!(ready["queue"].is_array(), "{ready}");
    worker.stop();
}
