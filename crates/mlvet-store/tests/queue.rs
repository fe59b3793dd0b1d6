//! The job queue's rules (issue 12 §4) on SQLite, and on PostgreSQL when `MLVET_TEST_POSTGRES`
//! names a server (its own schema per run; set but unreachable fails the suite): leases that
//! expire and are reclaimed, completion only by the lease's current claim, dedupe keys,
//! per-project concurrency keys, retries with a backoff, attempt limits, single-instance
//! duties, and several stores (processes) claiming at once.

use mlvet_store::queue::{KIND_REMATCH, NewJob, rematch_key};
use mlvet_store::{JobState, Location, PackageRecord, Store, StoreError};

struct Backend {
    name: &'static str,
    location: Location,
    _dir: Option<tempfile::TempDir>,
}

#[allow(clippy::print_stderr)]
fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut out = vec![Backend {
        name: "sqlite",
        location: Location::Sqlite(dir.path().join("q.sqlite3")),
        _dir: Some(dir),
    }];
    match std::env::var("MLVET_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => out.push(Backend {
            name: "postgres",
            location: Location::Postgres {
                url,
                schema: Some(format!("t_{}", mlvet_store::secrets::random_alnum(12))),
            },
            _dir: None,
        }),
        _ => eprintln!("MLVET_TEST_POSTGRES is not set: the PostgreSQL half is SKIPPED"),
    }
    out
}

fn open(backend: &Backend) -> Store {
    Store::open(&backend.location).expect("the store opens (MLVET_TEST_POSTGRES reachable?)")
}

fn torch() -> Vec<PackageRecord> {
    vec![PackageRecord {
        ecosystem: "PyPI".to_string(),
        name: "torch".to_string(),
        version: Some("1.12.0".to_string()),
        requirement: None,
        purl: None,
        ml: true,
        line: Some(1),
        depends_on: None,
        direct: false,
    }]
}

fn lost(result: Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::LeaseLost { .. }))
}

#[test]
fn an_expired_lease_is_reclaimed_and_only_the_new_claim_completes() {
    for backend in backends() {
        let name = backend.name;
        let store = open(&backend);
        let team = store.ensure_team("red").expect("team");
        let project = store.create_project(team.id, "p").expect("project");
        store
            .enqueue_upload(
                project.id,
                "requirements.txt",
                b"torch==1.12.0\n",
                "00",
                "t",
            )
            .expect("enqueue");
        // A lease already over: the worker "died" right after claiming.
        let (first, _) = store.claim_job("w1", -1).expect("claim").expect("a job");
        assert_eq!(first.attempt, 1, "{name}");
        let (second, payload) = store
            .claim_job("w2", 60)
            .expect("claim")
            .expect("reclaimed");
        assert_eq!((second.id, second.attempt), (first.id, 2), "{name}");
        assert_eq!(payload, b"torch==1.12.0\n", "{name}: the payload survives");
        assert!(
            store.claim_job("w3", 60).expect("claim").is_none(),
            "{name}"
        );
        // The first worker wakes up: its heartbeat and completion are refused, nothing written.
        assert!(
            !store.heartbeat_job(&first, 60).expect("heartbeat"),
            "{name}"
        );
        assert!(
            lost(store.complete_upload(&first, "requirements", &torch(), &[])),
            "{name}"
        );
        assert!(
            store.sources(project.id).expect("sources").is_empty(),
            "{name}"
        );
        assert!(
            store.heartbeat_job(&second, 60).expect("heartbeat"),
            "{name}"
        );
        store
            .complete_upload(&second, "requirements", &torch(), &[])
            .expect("the current claim completes");
        // Completing twice records one result.
        assert!(
            lost(store.complete_upload(&second, "requirements", &torch(), &[])),
            "{name}"
        );
        assert!(
            lost(store.fail_job_with(&second, "late", |_| Ok(()))),
            "{name}"
        );
        let done = store.job(team.id, second.id).expect("job").expect("exists");
        assert_eq!(done.state, JobState::Succeeded, "{name}");
        assert_eq!(done.attempt, 2, "{name}");
        assert_eq!(
            store.packages(project.id).expect("packages").len(),
            1,
            "{name}"
        );
    }
}

#[test]
fn one_running_job_per_project_and_one_queued_rematch() {
    for backend in backends() {
        let name = backend.name;
        let store = open(&backend);
        let team = store.ensure_team("red").expect("team");
        let a = store.create_project(team.id, "a").expect("project");
        let b = store.create_project(team.id, "b").expect("project");
        let a1 = store
            .enqueue_upload(a.id, "r.txt", b"x", "00", "t")
            .expect("a1");
        let a2 = store
            .enqueue_upload(a.id, "s.txt", b"x", "00", "t")
            .expect("a2");
        let b1 = store
            .enqueue_upload(b.id, "r.txt", b"x", "00", "t")
            .expect("b1");
        let (first, _) = store.claim_job("w1", 60).expect("claim").expect("job");
        assert_eq!(first.id, a1.id, "{name}");
        let (second, _) = store.claim_job("w2", 60).expect("claim").expect("job");
        assert_eq!(second.id, b1.id, "{name}: a2 waits for a1 (same project)");
        assert!(
            store.claim_job("w3", 60).expect("claim").is_none(),
            "{name}"
        );
        store
            .complete_upload(&first, "requirements", &[], &[])
            .expect("complete");
        let (third, _) = store.claim_job("w3", 60).expect("claim").expect("job");
        assert_eq!(third.id, a2.id, "{name}");

        // Dedupe: one queued re-match per project; a running one lets a new one queue.
        let key = rematch_key(b.id);
        let rematch = |store: &Store| {
            store
                .enqueue_job(&NewJob {
                    project_id: b.id,
                    kind: KIND_REMATCH,
                    dedupe_key: Some(&key),
                    concurrency_key: None,
                    created_by: "test",
                    payload: None,
                })
                .expect("enqueue")
        };
        let queued = rematch(&store).expect("queued");
        assert!(rematch(&store).is_none(), "{name}: deduplicated");
        store
            .complete_upload(&second, "requirements", &[], &[])
            .expect("complete b1");
        let (running, _) = store.claim_job("w1", 60).expect("claim").expect("job");
        assert_eq!(
            (running.id, running.kind.as_str()),
            (queued, KIND_REMATCH),
            "{name}"
        );
        let again = rematch(&store).expect("a new one queues while one runs");
        assert!(
            store.claim_job("w2", 60).expect("claim").is_none(),
            "{name}: but does not run beside it"
        );
        store
            .complete_job_with(&running, |_| Ok(()))
            .expect("complete");
        let (next, _) = store.claim_job("w2", 60).expect("claim").expect("job");
        assert_eq!(next.id, again, "{name}");
        // The monitor's jobs are not the project's uploads.
        assert!(
            store
                .jobs(b.id, 10)
                .expect("jobs")
                .iter()
                .all(|j| j.kind == "inventory"),
            "{name}"
        );
        // Every project not matched by this matcher gets one re-match queued, once.
        let first_sweep = store.enqueue_rematches("matcher-test").expect("sweep");
        assert_eq!(
            first_sweep, 2,
            "{name}: a and b (b's running one does not count)"
        );
        assert_eq!(
            store.enqueue_rematches("matcher-test").expect("sweep"),
            0,
            "{name}"
        );
    }
}

#[test]
fn retries_wait_for_their_backoff_and_attempts_run_out() {
    for backend in backends() {
        let name = backend.name;
        let store = open(&backend);
        let team = store.ensure_team("red").expect("team");
        let project = store.create_project(team.id, "p").expect("project");
        let job = store
            .enqueue_upload(project.id, "r.txt", b"x", "00", "t")
            .expect("job");
        let (claimed, _) = store.claim_job("w1", 60).expect("claim").expect("job");
        store
            .retry_job(&claimed, "database restarting", 3600)
            .expect("retry");
        let waiting = store.job(team.id, job.id).expect("job").expect("exists");
        assert_eq!(waiting.state, JobState::Queued, "{name}");
        assert_eq!(waiting.error.as_deref(), Some("database restarting"));
        assert!(
            store.claim_job("w1", 60).expect("claim").is_none(),
            "{name}: not before its backoff"
        );
        assert!(lost(store.retry_job(&claimed, "again", 0)), "{name}");

        // A worker that dies on its job every time: after max_attempts claims it is exhausted.
        let poison = store
            .enqueue_upload(project.id, "p.txt", b"x", "00", "t")
            .expect("job");
        let mut last = None;
        for _ in 0..6 {
            let (job, _) = store.claim_job("w", -1).expect("claim").expect("job");
            assert_eq!(job.id, poison.id, "{name}");
            last = Some(job);
        }
        let last = last.expect("claimed");
        assert_eq!(last.attempt, 6, "{name}");
        assert!(last.exhausted(), "{name}");
    }
}

#[test]
fn single_instance_duties_pass_on_when_their_lease_ends() {
    for backend in backends() {
        let name = backend.name;
        let store = open(&backend);
        assert!(
            store.try_singleton("update", "a", 60).expect("take"),
            "{name}"
        );
        assert!(
            !store.try_singleton("update", "b", 60).expect("held"),
            "{name}"
        );
        assert!(
            store.try_singleton("update", "a", 60).expect("renew"),
            "{name}"
        );
        assert!(
            store.try_singleton("other", "b", -1).expect("take"),
            "{name}"
        );
        assert!(
            store.try_singleton("other", "a", 60).expect("expired"),
            "{name}"
        );
    }
}

#[test]
fn several_processes_claim_every_job_once_and_never_two_per_project() {
    for backend in backends() {
        let name = backend.name;
        let setup = open(&backend);
        let team = setup.ensure_team("red").expect("team");
        let mut expected = 0;
        for p in 0..4 {
            let project = setup
                .create_project(team.id, &format!("p{p}"))
                .expect("project");
            for j in 0..6 {
                setup
                    .enqueue_upload(project.id, &format!("r{j}.txt"), b"x", "00", "t")
                    .expect("enqueue");
                expected += 1;
            }
        }
        // Four "processes", each with its own store (connections), claiming until empty.
        let running = std::sync::Mutex::new(std::collections::HashSet::new());
        let done = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for worker in 0..4 {
                let (running, done, backend) = (&running, &done, &backend);
                scope.spawn(move || {
                    let store = open(backend);
                    let me = format!("w{worker}");
                    let mut idle = 0;
                    while idle < 20 {
                        let Some((job, _)) = store.claim_job(&me, 60).expect("claim") else {
                            idle += 1;
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            continue;
                        };
                        idle = 0;
                        assert!(
                            running.lock().expect("lock").insert(job.project_id),
                            "two jobs of project {} ran at once",
                            job.project_id
                        );
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        running.lock().expect("lock").remove(&job.project_id);
                        store
                            .complete_upload(&job, "requirements", &[], &[])
                            .expect("complete");
                        done.lock().expect("lock").push(job.id);
                    }
                });
            }
        });
        let mut done = done.into_inner().expect("done");
        assert_eq!(done.len(), expected, "{name}");
        done.sort_unstable();
        done.dedup();
        assert_eq!(done.len(), expected, "{name}: each job completed once");
    }
}
