//! The store's behaviour, run on SQLite always and on PostgreSQL when `MLVET_TEST_POSTGRES`
//! names a server (each run in its own schema). When the variable is set, an unreachable
//! server fails the suite: CI sets it, so CI always covers both backends.

use mlvet_store::{FindingRecord, Location, PackageRecord, Role, Store};

struct Backend {
    store: Store,
    _dir: Option<tempfile::TempDir>,
}

#[allow(clippy::print_stderr)]
fn backends() -> Vec<(&'static str, Backend)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Store::open(&Location::Sqlite(dir.path().join("s.sqlite3"))).expect("open sqlite");
    let mut out = vec![(
        "sqlite",
        Backend {
            store: sqlite,
            _dir: Some(dir),
        },
    )];
    if let Some(url) = std::env::var("MLVET_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let schema = format!("t_{}", mlvet_store::secrets::random_alnum(12));
        let store = Store::open(&Location::Postgres {
            url,
            schema: Some(schema),
        })
        .expect("MLVET_TEST_POSTGRES is set but PostgreSQL cannot be opened");
        out.push(("postgres", Backend { store, _dir: None }));
    } else {
        eprintln!("MLVET_TEST_POSTGRES is not set: the PostgreSQL half of this suite is SKIPPED");
    }
    out
}

fn package(name: &str, version: &str) -> PackageRecord {
    PackageRecord {
        ecosystem: "PyPI".to_string(),
        name: name.to_string(),
        version: Some(version.to_string()),
        requirement: None,
        purl: Some(format!("pkg:pypi/{name}@{version}")),
        ml: name == "torch",
        line: Some(1),
        depends_on: None,
        direct: false,
    }
}

fn finding(package: &str, advisory: &str) -> FindingRecord {
    FindingRecord {
        identity: format!("advisory|PyPI|{package}|{advisory}"),
        rule: "dependency-vulnerable".to_string(),
        severity: "high".to_string(),
        package: Some(package.to_string()),
        advisory: Some(advisory.to_string()),
        body: format!(r#"{{"rule":"dependency-vulnerable","advisory":{{"id":"{advisory}"}}}}"#),
    }
}

#[test]
fn migrations_are_applied_once_and_recorded() {
    for (name, backend) in backends() {
        let store = &backend.store;
        assert_eq!(
            store.schema_version().expect("version"),
            Store::supported_version(),
            "{name}"
        );
        store.ping().expect("ping");
    }
    // Reopening an existing SQLite store applies nothing twice.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("again.sqlite3");
    drop(Store::open(&Location::Sqlite(path.clone())).expect("first"));
    let again = Store::open(&Location::Sqlite(path)).expect("second");
    assert_eq!(
        again.schema_version().expect("version"),
        Store::supported_version()
    );
}

#[test]
fn tokens_authenticate_only_with_their_secret() {
    for (name, backend) in backends() {
        let store = &backend.store;
        let created = store
            .create_token("red", Role::Member, "ci", None)
            .expect("token");
        assert!(
            created
                .token
                .starts_with(&format!("mlvet_{}_", created.public_id))
        );
        let principal = store
            .authenticate_token(&created.token)
            .expect("auth")
            .expect("valid token");
        assert_eq!(principal.team, "red", "{name}");
        assert_eq!(principal.role, Role::Member);
        // Wrong secret, unknown id, SQL metacharacters, malformed: all just "no".
        let wrong = format!("mlvet_{}_{}", created.public_id, "x".repeat(40));
        for bad in [
            wrong.as_str(),
            "mlvet_zzzzzzzzzzzz_abc",
            "mlvet_' OR '1'='1_x",
            "garbage",
            "",
        ] {
            assert!(
                store.authenticate_token(bad).expect("auth").is_none(),
                "{name}: {bad}"
            );
        }
        let expired = store
            .create_token("red", Role::Admin, "old", Some("2000-01-01"))
            .expect("token");
        assert!(
            store
                .authenticate_token(&expired.token)
                .expect("auth")
                .is_none()
        );
        assert!(
            store
                .create_token("red", Role::Admin, "bad", Some("2026-02-30"))
                .is_err()
        );
    }
}

#[test]
fn users_and_sessions() {
    for (name, backend) in backends() {
        let store = &backend.store;
        let id = store
            .create_user("Ann@Example.org", "red", Role::Viewer, "a long passphrase")
            .expect("user");
        assert!(matches!(
            store.create_user("ann@example.org", "red", Role::Viewer, "a long passphrase"),
            Err(mlvet_store::StoreError::Conflict(_))
        ));
        assert!(
            store
                .create_user("bob@example.org", "red", Role::Viewer, "short")
                .is_err()
        );
        let (user, principal) = store
            .authenticate_user("ann@example.org", "a long passphrase")
            .expect("auth")
            .expect("valid");
        assert_eq!(user, id, "{name}");
        assert_eq!(principal.role, Role::Viewer);
        assert!(
            store
                .authenticate_user("ann@example.org", "wrong password!")
                .expect("auth")
                .is_none()
        );
        assert!(
            store
                .authenticate_user("nobody@example.org", "x")
                .expect("auth")
                .is_none()
        );
        let (secret, csrf) = store.create_session(user, 7).expect("session");
        let (again, again_csrf) = store.session(&secret).expect("session").expect("live");
        assert_eq!(again, principal);
        assert_eq!(again_csrf, csrf);
        store.delete_session(&secret).expect("logout");
        assert!(store.session(&secret).expect("session").is_none());
    }
}

#[test]
fn projects_are_per_team_and_names_unique_within_a_team() {
    for (name, backend) in backends() {
        let store = &backend.store;
        let red = store.ensure_team("red").expect("team");
        let blue = store.ensure_team("blue").expect("team");
        let project = store
            .create_project(red.id, "api'; DROP TABLE projects; --")
            .expect("create");
        assert!(matches!(
            store.create_project(red.id, "api'; DROP TABLE projects; --"),
            Err(mlvet_store::StoreError::Conflict(_))
        ));
        store
            .create_project(blue.id, "api'; DROP TABLE projects; --")
            .expect("other team may");
        assert_eq!(store.projects(red.id).expect("list").len(), 1, "{name}");
        assert!(store.project(red.id, project.id).expect("get").is_some());
        assert!(store.project(blue.id, project.id).expect("get").is_none());
    }
}

#[test]
fn uploads_replace_their_source_and_findings_keep_their_identity() {
    for (name, backend) in backends() {
        let store = &backend.store;
        let team = store.ensure_team("red").expect("team");
        let project = store.create_project(team.id, "p").expect("project");
        let upload = |filename: &str, packages: &[PackageRecord], findings: &[FindingRecord]| {
            let job = store
                .enqueue_upload(project.id, filename, b"torch==1.0\n", "00", "token:x")
                .expect("enqueue");
            let (claimed, payload) = store.claim_job("w1", 60).expect("claim").expect("a job");
            assert_eq!(claimed.id, job.id);
            assert_eq!(payload, b"torch==1.0\n");
            store
                .complete_upload(&claimed, "requirements", packages, findings)
                .expect("complete");
            let done = store.job(team.id, job.id).expect("job").expect("exists");
            assert_eq!(done.state, mlvet_store::JobState::Succeeded);
        };
        upload(
            "requirements.txt",
            &[package("torch", "1.0"), package("numpy", "1.0")],
            &[finding("torch", "GHSA-1"), finding("numpy", "GHSA-2")],
        );
        upload(
            "sub/uv.lock",
            &[package("jinja2", "2.0")],
            &[finding("jinja2", "GHSA-3")],
        );
        assert_eq!(
            store.packages(project.id).expect("packages").len(),
            3,
            "{name}"
        );
        let findings = store.findings(project.id).expect("findings");
        assert_eq!(findings.len(), 3);
        let torch = findings
            .iter()
            .find(|f| f.advisory.as_deref() == Some("GHSA-1"))
            .expect("torch");
        assert_eq!(torch.state, "open");

        // Triage the torch finding, then upload requirements.txt again without numpy.
        let triaged = store
            .triage(
                team.id,
                torch.id,
                "accepted_risk",
                "sandboxed <script>",
                Some("2999-01-01"),
                "user:a",
            )
            .expect("triage")
            .expect("found");
        assert_eq!(triaged.state, "suppressed");
        let other = store.ensure_team("blue").expect("team");
        assert!(
            store
                .triage(other.id, torch.id, "accepted_risk", "x", None, "user:b")
                .expect("triage")
                .is_none()
        );
        assert!(
            store
                .triage(team.id, torch.id, "nope", "x", None, "user:a")
                .is_err()
        );
        upload(
            "requirements.txt",
            &[package("torch", "1.1")],
            &[finding("torch", "GHSA-1")],
        );
        let findings = store.findings(project.id).expect("findings");
        assert_eq!(findings.len(), 3, "{name}: findings are never deleted");
        let by_advisory = |id: &str| {
            findings
                .iter()
                .find(|f| f.advisory.as_deref() == Some(id))
                .expect("finding")
        };
        assert_eq!(
            by_advisory("GHSA-1").id,
            torch.id,
            "same identity, same finding"
        );
        assert_eq!(by_advisory("GHSA-1").state, "suppressed");
        assert_eq!(by_advisory("GHSA-1").first_seen, torch.first_seen);
        assert_eq!(by_advisory("GHSA-2").state, "resolved");
        assert_eq!(
            by_advisory("GHSA-3").state,
            "open",
            "the other source stays"
        );
        assert_eq!(store.packages(project.id).expect("packages").len(), 2);
        let audit = store.audit(torch.id).expect("audit");
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].reason, "sandboxed <script>");
        assert_eq!(audit[0].previous_state, "open");

        // An expired triage reads as open.
        store
            .triage(
                team.id,
                torch.id,
                "fix_planned",
                "soon",
                Some("2000-01-01"),
                "user:a",
            )
            .expect("triage");
        assert_eq!(
            store
                .finding(team.id, torch.id)
                .expect("get")
                .expect("found")
                .state,
            "open"
        );
        assert_eq!(store.audit(torch.id).expect("audit").len(), 2);
        let affected = store
            .projects_affected_by(team.id, "GHSA-3")
            .expect("affected");
        assert_eq!(affected.len(), 1);
        assert!(
            store
                .projects_affected_by(other.id, "GHSA-3")
                .expect("affected")
                .is_empty()
        );
        assert_eq!(store.sources(project.id).expect("sources").len(), 2);
    }
}

#[test]
fn failed_jobs_keep_their_error_and_drop_their_payload() {
    for (name, backend) in backends() {
        let store = &backend.store;
        let team = store.ensure_team("red").expect("team");
        let project = store.create_project(team.id, "p").expect("project");
        let job = store
            .enqueue_upload(project.id, "x.bin", b"\0\0", "00", "token:x")
            .expect("enqueue");
        assert!(store.claim_job("w", 60).expect("claim").is_some());
        assert!(
            store.claim_job("w", 60).expect("claim").is_none(),
            "{name}: leased"
        );
        store.fail_job(job.id, "bad input").expect("fail");
        let failed = store.job(team.id, job.id).expect("job").expect("exists");
        assert_eq!(failed.state, mlvet_store::JobState::Failed);
        assert_eq!(failed.error.as_deref(), Some("bad input"));
        assert!(store.job(team.id + 1000, job.id).expect("job").is_none());
    }
}
