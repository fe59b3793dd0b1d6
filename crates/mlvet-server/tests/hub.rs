//! Hub scanning in the service, through the HTTP API, against the loopback Hub + CDN mock:
//! tracking a model (its findings become the project's under `hf://…`), the read cache (a
//! second scan of the same commit fetches no file), the re-check after the branch moved,
//! untracking, bulk scans with a verdict per repository, and access (viewer 403, other team
//! 404). On SQLite, and on PostgreSQL when `MLVET_TEST_POSTGRES` is set.

mod common;

use std::time::{Duration, Instant};

use common::{Server, backends};
use mlvet_hub::mock::{Behaviour, MockFile, MockHub, MockRepo};
use mlvet_store::Role;
use serde_json::{Value, json};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path),
    )
    .expect("fixture")
}

fn model_files() -> Vec<MockFile> {
    vec![
        MockFile::new(
            "config.json",
            br#"{"model_type": "bert", "architectures": ["BertModel"]}"#.to_vec(),
            false,
        ),
        MockFile::new(
            "pytorch_model.bin",
            fixture("tests/fixtures/models/safe/torch_state_dict.pt"),
            true,
        ),
        MockFile::new(
            "evil/model.pkl",
            fixture("tests/fixtures/models/malicious/reduce_os_system_p4.pkl"),
            true,
        ),
    ]
}

fn safe_files() -> Vec<MockFile> {
    model_files().into_iter().take(2).collect()
}

fn start(postgres: Option<&str>, mock: &MockHub, recheck: Option<Duration>) -> Server {
    let endpoint = mock.endpoint();
    Server::start(postgres, move |config| {
        config.hub.endpoint = endpoint;
        config.hub.recheck = recheck;
        config.hub.tool_version = "test+rules.1".to_string();
    })
}

/// Polls `path` until `done` holds (at most 60 s).
fn wait_until(server: &Server, path: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = server.get(path, token);
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        if done(&answer.body) {
            return answer.body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never got there: {}",
            answer.text
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_job(server: &Server, token: &str, job: &Value) -> Value {
    let id = job["id"].as_i64().expect("job id");
    wait_until(server, &format!("/api/v1/jobs/{id}"), token, |b| {
        matches!(b["job"]["state"].as_str(), Some("succeeded" | "failed"))
    })["job"]
        .clone()
}

fn track(server: &Server, token: &str, project: i64, body: &Value) -> Value {
    let answer = server.json(
        "POST",
        &format!("/api/v1/projects/{project}/hub-models"),
        token,
        body,
    );
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert!(answer.header("location").is_some());
    answer.body
}

fn findings(server: &Server, token: &str, project: i64) -> Vec<Value> {
    server
        .get(&format!("/api/v1/projects/{project}/findings"), token)
        .body["findings"]
        .as_array()
        .expect("findings")
        .clone()
}

fn file_requests(mock: &MockHub) -> usize {
    mock.log()
        .iter()
        .filter(|l| l.host == "cdn" || l.target.contains("/resolve/"))
        .count()
}

#[test]
fn a_tracked_model_is_scanned_cached_rechecked_when_its_branch_moves_and_untracked() {
    for postgres in backends() {
        let repo = MockRepo::new("org/model", model_files());
        let first = repo.head().to_string();
        let mock = MockHub::start(vec![repo], Behaviour::default()).expect("mock");
        let server = start(postgres.as_deref(), &mock, Some(Duration::from_millis(300)));
        let member = server.token("red", Role::Member);
        let viewer = server.token("red", Role::Viewer);
        let other = server.token("blue", Role::Admin);
        let project = server.create_project(&member, "models");

        let tracked = track(&server, &member, project, &json!({"repo": "org/model"}));
        assert_eq!(tracked["source"], "hf://org/model");
        assert_eq!(tracked["revision"], "main");
        let job = wait_job(&server, &member, &tracked["job"]);
        assert_eq!(job["state"], "succeeded", "{job:#}");
        let listed = server.get(&format!("/api/v1/projects/{project}/hub-models"), &viewer);
        let model = &listed.body["hub_models"][0];
        assert_eq!(model["last_commit"], first.as_str());
        assert_eq!(model["last_verdict"], "malicious");
        assert_eq!(model["scanned_with"], "test+rules.1");
        let found = findings(&server, &member, project);
        let evil = found
            .iter()
            .find(|f| f["path"] == format!("hf://org/model@{first}/evil/model.pkl"))
            .unwrap_or_else(|| panic!("the pickle's finding: {found:#?}"));
        assert_eq!(evil["source"], "hf://org/model");
        assert_eq!(evil["state"], "open");
        assert!(file_requests(&mock) > 0, "the first scan read the files");

        // The same commit in another project: every file comes from the cache.
        mock.clear_log();
        let second = server.create_project(&member, "again");
        let again = track(&server, &member, second, &json!({"repo": "hf://org/model"}));
        assert_eq!(
            wait_job(&server, &member, &again["job"])["state"],
            "succeeded"
        );
        assert_eq!(
            file_requests(&mock),
            0,
            "a cached commit makes no file request: {:#?}",
            mock.log().iter().map(|l| &l.target).collect::<Vec<_>>()
        );
        assert!(
            mock.count_requests("/api/models/org/model") >= 1,
            "the revision is still resolved"
        );
        assert_eq!(findings(&server, &member, second).len(), found.len());
        // Tracking it twice in one project is a conflict.
        let twice = server.json(
            "POST",
            &format!("/api/v1/projects/{project}/hub-models"),
            &member,
            &json!({"repo": "org/model", "revision": "main"}),
        );
        assert_eq!(twice.status, 409, "{}", twice.text);

        // Access: a viewer cannot track, another team sees nothing.
        let denied = server.json(
            "POST",
            &format!("/api/v1/projects/{project}/hub-models"),
            &viewer,
            &json!({"repo": "org/other"}),
        );
        assert_eq!(denied.status, 403);
        let model_id = model["id"].as_i64().expect("model id");
        for (method, path) in [
            ("GET", format!("/api/v1/projects/{project}/hub-models")),
            (
                "DELETE",
                format!("/api/v1/projects/{project}/hub-models/{model_id}"),
            ),
        ] {
            let answer = server.call(method, &path, Some(&other), None, &[]);
            assert_eq!(answer.status, 404, "{method} {path} from another team");
        }
        let hostile = server.json(
            "POST",
            &format!("/api/v1/projects/{project}/hub-models"),
            &member,
            &json!({"repo": "org/model/evil/model.pkl"}),
        );
        assert_eq!(
            hostile.status, 400,
            "a file is not a repository: {}",
            hostile.text
        );

        // Scanned by another mlvet (or other rules): the re-check scans it again, from the
        // cache (same commit, same version key as the last read).
        server
            .app
            .store
            .record_hub_scan(
                model_id,
                Some(&first),
                "older+rules.0",
                Some("malicious"),
                None,
            )
            .expect("record");
        wait_until(
            &server,
            &format!("/api/v1/projects/{project}/hub-models"),
            &member,
            |b| b["hub_models"][0]["scanned_with"] == "test+rules.1",
        );

        // The branch moves to a commit with another malicious file: the re-check scans it.
        let moved = {
            let mut head = String::new();
            mock.update_repos(|repos| {
                let mut files = safe_files();
                files.push(MockFile::new(
                    "other/payload.pkl",
                    fixture("tests/fixtures/models/malicious/reduce_os_system_p4.pkl"),
                    true,
                ));
                head = repos[0].add_commit("main", files);
            });
            head
        };
        wait_until(
            &server,
            &format!("/api/v1/projects/{project}/hub-models"),
            &member,
            |b| b["hub_models"][0]["last_commit"] == moved.as_str(),
        );
        let new_path = format!("hf://org/model@{moved}/other/payload.pkl");
        let after = wait_until(
            &server,
            &format!("/api/v1/projects/{project}/findings"),
            &member,
            |b| {
                b["findings"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f["path"] == new_path.as_str()))
            },
        )["findings"]
            .as_array()
            .expect("findings")
            .clone();
        let new = after
            .iter()
            .find(|f| f["path"] == format!("hf://org/model@{moved}/other/payload.pkl"))
            .unwrap_or_else(|| panic!("the new commit's finding: {after:#?}"));
        assert_eq!(new["state"], "open");
        let old = after
            .iter()
            .find(|f| f["id"] == evil["id"])
            .expect("the old finding stays, resolved");
        assert_eq!(old["state"], "resolved", "gone from the new commit");

        // Untracked: the source goes, its findings resolve.
        let gone = server.call(
            "DELETE",
            &format!("/api/v1/projects/{project}/hub-models/{model_id}"),
            Some(&member),
            None,
            &[],
        );
        assert_eq!(gone.status, 204, "{}", gone.text);
        assert!(
            findings(&server, &member, project)
                .iter()
                .all(|f| f["state"] == "resolved"),
            "nothing is open once the model is untracked"
        );
        let listed = server.get(&format!("/api/v1/projects/{project}/hub-models"), &member);
        assert_eq!(listed.body["hub_models"], json!([]));
        assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    }
}

#[test]
fn a_bulk_scan_reports_progress_and_a_verdict_per_repository() {
    for postgres in backends() {
        let mut gated = MockRepo::new("org/gated", safe_files());
        gated.gated = true;
        // A code file over the 8 MiB read bound: that file is a scan error, the rest is scanned.
        let mut big = safe_files();
        big.push(MockFile::new(
            "modeling_big.py",
            b"# padding\n".repeat(1 << 20).into_iter().collect(),
            false,
        ));
        let mock = MockHub::start(
            vec![
                MockRepo::new("org/good", safe_files()),
                MockRepo::new("org/evil", model_files()),
                gated,
                MockRepo::new("org/big", big),
            ],
            Behaviour::default(),
        )
        .expect("mock");
        let server = start(postgres.as_deref(), &mock, None);
        let member = server.token("red", Role::Member);
        let viewer = server.token("red", Role::Viewer);
        let other = server.token("blue", Role::Admin);
        let project = server.create_project(&member, "bulk");

        let answer = server.json(
            "POST",
            "/api/v1/hub/scans",
            &member,
            &json!({"project": project, "repos": ["org/good", "org/evil", "org/gated", "org/missing", "org/big"]}),
        );
        assert_eq!(answer.status, 202, "{}", answer.text);
        assert_eq!(answer.body["scan"]["total"], 5);
        let location = answer.header("location").expect("location").to_string();
        let done = wait_until(&server, &location, &viewer, |b| {
            b["scan"]["state"] == "succeeded" || b["scan"]["state"] == "failed"
        });
        let scan = &done["scan"];
        assert_eq!(
            scan["state"], "succeeded",
            "a failing repository does not fail the job: {scan:#}"
        );
        assert_eq!(scan["done"], 5);
        let by_repo = |name: &str| {
            scan["repos"]
                .as_array()
                .expect("repos")
                .iter()
                .find(|r| r["repo"] == name)
                .unwrap_or_else(|| panic!("{name} in {scan:#}"))
                .clone()
        };
        assert_eq!(by_repo("org/good")["verdict"], "safe");
        assert_eq!(by_repo("org/good")["state"], "succeeded");
        assert_eq!(by_repo("org/evil")["verdict"], "malicious");
        let gated = by_repo("org/gated");
        assert_eq!(gated["state"], "failed");
        assert!(
            gated["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("gated")),
            "{gated:#}"
        );
        assert_eq!(by_repo("org/missing")["state"], "failed");
        let big = by_repo("org/big");
        assert_eq!(big["state"], "succeeded", "one file's error: {big:#}");
        assert_ne!(
            big["verdict"], "safe",
            "never safe with a file not inspected: {big:#}"
        );
        assert!(
            big["errors"][0]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/modeling_big.py")),
            "{big:#}"
        );

        // An organisation: its repositories are listed by the job.
        mock.clear_log();
        let answer = server.json(
            "POST",
            "/api/v1/hub/scans",
            &member,
            &json!({"project": project, "organization": "org"}),
        );
        assert_eq!(answer.status, 202, "{}", answer.text);
        let location = answer.header("location").expect("location").to_string();
        let done = wait_until(&server, &location, &member, |b| {
            b["scan"]["state"] == "succeeded" || b["scan"]["state"] == "failed"
        });
        let listed: Vec<&str> = done["scan"]["repos"]
            .as_array()
            .expect("repos")
            .iter()
            .filter_map(|r| r["repo"].as_str())
            .collect();
        assert!(
            listed.contains(&"org/good") && listed.contains(&"org/evil"),
            "{done:#}"
        );
        let fetched: Vec<String> = mock
            .log()
            .iter()
            .filter(|l| l.host == "cdn" || l.target.contains("/resolve/"))
            .filter(|l| !l.target.contains("org/gated"))
            .map(|l| l.target.clone())
            .collect();
        assert_eq!(
            fetched,
            Vec::<String>::new(),
            "the repositories scanned a moment ago come from the cache"
        );

        // Access.
        let id = location.rsplit('/').next().expect("id");
        assert_eq!(
            server
                .call(
                    "GET",
                    &format!("/api/v1/hub/scans/{id}"),
                    Some(&other),
                    None,
                    &[]
                )
                .status,
            404
        );
        let denied = server.json(
            "POST",
            "/api/v1/hub/scans",
            &viewer,
            &json!({"project": project, "repos": ["org/good"]}),
        );
        assert_eq!(denied.status, 403);
        let foreign = server.json(
            "POST",
            "/api/v1/hub/scans",
            &other,
            &json!({"project": project, "repos": ["org/good"]}),
        );
        assert_eq!(foreign.status, 404, "another team's project");
        for bad in [
            json!({"project": project}),
            json!({"project": project, "repos": []}),
            json!({"project": project, "repos": ["../x"]}),
            json!({"project": project, "repos": ["org/good"], "organization": "org"}),
            json!({"project": project, "organization": "a b"}),
        ] {
            let answer = server.json("POST", "/api/v1/hub/scans", &member, &bad);
            assert_eq!(answer.status, 400, "{bad}: {}", answer.text);
        }
        // An upload job is not a Hub scan.
        let upload = server.upload(&member, project, "requirements.txt", b"torch==2.4.0\n");
        assert_eq!(
            server
                .get(&format!("/api/v1/hub/scans/{}", upload["id"]), &member)
                .status,
            404
        );
    }
}

#[test]
fn the_token_file_opens_gated_repositories_and_never_reaches_the_cdn() {
    let mut gated = MockRepo::new("org/gated", model_files());
    gated.gated = true;
    let mut behaviour = Behaviour::default();
    behaviour.tokens.insert(
        "hf_service_token".to_string(),
        ["org/gated".to_string()].into_iter().collect(),
    );
    let mock = MockHub::start(vec![gated], behaviour).expect("mock");
    let secrets = tempfile::tempdir().expect("tempdir");
    let token_file = secrets.path().join("hf-token");
    std::fs::write(&token_file, "hf_service_token\n").expect("token");
    let endpoint = mock.endpoint();
    let server = Server::start(None, move |config| {
        config.hub.endpoint = endpoint;
        config.hub.token_file = Some(token_file);
    });
    let member = server.token("red", Role::Member);
    let project = server.create_project(&member, "gated");
    let tracked = track(&server, &member, project, &json!({"repo": "org/gated"}));
    let job = wait_job(&server, &member, &tracked["job"]);
    assert_eq!(job["state"], "succeeded", "{job:#}");
    let listed = server.get(&format!("/api/v1/projects/{project}/hub-models"), &member);
    assert_eq!(listed.body["hub_models"][0]["last_verdict"], "malicious");
    let log = mock.log();
    assert!(
        log.iter()
            .filter(|l| l.host == "hub")
            .all(|l| l.header("authorization") == Some("Bearer hf_service_token")),
        "every Hub request carries the service's token"
    );
    assert!(
        log.iter().any(|l| l.host == "cdn"),
        "LFS files came from the CDN"
    );
    assert!(
        log.iter()
            .filter(|l| l.host == "cdn")
            .all(|l| l.header("authorization").is_none()),
        "the token never reaches the CDN"
    );
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

/// `resolve` requests the mock received (the Hub's "resolvers" rate-limit bucket).
fn resolver_requests(mock: &MockHub) -> usize {
    mock.log()
        .iter()
        .filter(|l| l.host == "hub" && l.target.contains("/resolve/"))
        .count()
}

#[test]
fn the_hub_rate_budget_is_shared_by_every_scan_of_the_service() {
    for postgres in backends() {
        // The token's resolver quota is spent for 10 minutes, longer than a client may wait
        // (60 s): the one `429` that says so must stop every later file read of the service,
        // in this scan and the next, without asking the Hub again.
        let mock = MockHub::start(
            vec![
                MockRepo::new("org/first", safe_files()),
                MockRepo::new("org/second", safe_files()),
            ],
            Behaviour {
                resolvers_exhausted_for: Some(600),
                ..Behaviour::default()
            },
        )
        .expect("mock");
        let server = start(postgres.as_deref(), &mock, None);
        let member = server.token("red", Role::Member);
        let project = server.create_project(&member, "models");

        let first = track(&server, &member, project, &json!({"repo": "org/first"}));
        let job = wait_job(&server, &member, &first["job"]);
        // The job ends; the scan says which files it could not read.
        assert_eq!(job["state"], "succeeded", "{job:#}");
        assert_eq!(
            resolver_requests(&mock),
            1,
            "one resolver answer said the quota is spent; no other file asked again: {:#?}",
            mock.log()
        );

        let second = track(&server, &member, project, &json!({"repo": "org/second"}));
        let job = wait_job(&server, &member, &second["job"]);
        assert_eq!(job["state"], "succeeded", "{job:#}");
        assert_eq!(
            resolver_requests(&mock),
            1,
            "the second scan waited on the shared budget instead of asking the Hub"
        );
        // The buckets are separate: the second repository's info (the "api" bucket) was read.
        assert!(
            mock.log()
                .iter()
                .any(|l| l.host == "hub" && l.target.contains("org/second") && l.status == 200),
            "{:#?}",
            mock.log()
        );
        assert!(mock.log().iter().all(|l| l.host != "cdn"));

        let listed = server.get(&format!("/api/v1/projects/{project}/hub-models"), &member);
        let models = listed.body["hub_models"].as_array().expect("models");
        assert_eq!(models.len(), 2, "{:#}", listed.body);
        for model in models {
            let error = model["last_error"].as_str().unwrap_or_default();
            assert!(error.contains("rate limited"), "{model:#}");
            // What was not read is never reported safe.
            assert_ne!(model["last_verdict"], "safe", "{model:#}");
        }
        let second = models
            .iter()
            .find(|m| m["repo"] == "org/second")
            .expect("the second model");
        let error = second["last_error"].as_str().unwrap_or_default();
        assert!(
            error.contains("shared budget of this token is exhausted"),
            "{second:#}"
        );
    }
}
