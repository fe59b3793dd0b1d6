//! The job queue through the service (issue 12 §4), on SQLite and on PostgreSQL when
//! `MLVET_TEST_POSTGRES` is set: an API-only server queues, another process's workers run; a job
//! whose workers kept dying is failed with `inventory.failed` instead of being run again.

mod common;

use std::time::{Duration, Instant};

use common::{Server, backends};
use mlvet_store::Role;

/// The store URL of `server`, for a second server (process) on the same store.
fn same_store(server: &Server) -> String {
    match &server.app.config.database {
        Some(url) => url.clone(),
        None => format!(
            "sqlite:{}",
            server.data.path().join(mlvet_store::SQLITE_FILE).display()
        ),
    }
}

fn wait_for_state(server: &Server, token: &str, job: i64, state: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = server.get(&format!("/api/v1/jobs/{job}"), token);
        if answer.body["job"]["state"] == state {
            return answer.body["job"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "job {job} never {state}: {}",
            answer.text
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_job_whose_workers_kept_dying_fails_with_its_event() {
    for postgres in backends() {
        let api = Server::start(postgres.as_deref(), |config| config.limits.workers = 0);
        let admin = api.token("red", Role::Admin);
        let project = api.create_project(&admin, "poison");
        let answer = api.call(
            "PUT",
            &format!("/api/v1/projects/{project}/inventory?filename=requirements.txt&wait=0"),
            Some(admin.as_str()),
            Some(&b"torch==1.12.0\n"[..]),
            &[],
        );
        assert_eq!(answer.status, 202, "{}", answer.text);
        let job = answer.body["job"]["id"].as_i64().expect("job id");
        // An API-only server runs nothing.
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(wait_for_state(&api, &admin, job, "queued")["attempts"], 0);
        // Five workers claimed it and died (their leases are already over).
        for _ in 0..5 {
            let (claimed, _) = api
                .app
                .store
                .claim_job("dead-worker", -1)
                .expect("claim")
                .expect("the job");
            assert_eq!(claimed.id, job);
        }
        // A live worker in another "process" claims it a sixth time and fails it.
        let store = same_store(&api);
        let _worker = Server::start(postgres.as_deref(), |config| {
            config.database = Some(store);
            config.limits.workers = 1;
        });
        let failed = wait_for_state(&api, &admin, job, "failed");
        assert_eq!(failed["attempts"], 6, "{failed:#}");
        assert!(
            failed["error"]
                .as_str()
                .is_some_and(|e| e.contains("gave up after 5 attempts")),
            "{failed:#}"
        );
        let events = api.get(&format!("/api/v1/projects/{project}/events"), &admin);
        let types: Vec<&str> = events.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["type"].as_str())
            .collect();
        assert_eq!(types, ["inventory.failed"], "{}", events.text);
        // Nothing was stored for the source.
        let packages = api.get(&format!("/api/v1/projects/{project}/packages"), &admin);
        assert_eq!(
            packages.body["packages"].as_array().map(Vec::len),
            Some(0),
            "{}",
            packages.text
        );
    }
}
