//! Migrations 0002 (monitoring) and 0003 (job queue) over a store written by 0001: findings and
//! their triage audit survive the SQLite table rebuild, pinned advisory findings become the
//! monitor's (`osv|…`), `retracted` becomes a valid state, running jobs are queued again. On SQLite always, on PostgreSQL when
//! `MLVET_TEST_POSTGRES` is set.

use mlvet_store::{Location, Store};

const SQLITE_0001: &str = include_str!("../migrations/sqlite/0001_initial.sql");
const POSTGRES_0001: &str = include_str!("../migrations/postgres/0001_initial.sql");

/// Rows as 0001 wrote them: a pinned advisory finding (triaged, audited), an unpinned one and
/// a model finding.
const LEGACY_ROWS: &str = r#"
INSERT INTO schema_migrations (version, applied) VALUES (1, '2026-01-01T00:00:00Z');
INSERT INTO teams (id, name, created) VALUES (1, 'red', '2026-01-01T00:00:00Z');
INSERT INTO projects (id, team_id, name, created) VALUES (1, 1, 'p', '2026-01-01T00:00:00Z');
INSERT INTO findings (id, project_id, identity, rule, severity, package, advisory, source, body, state, first_seen, last_seen, triage, triage_reason, triaged_by, triaged_at)
VALUES (7, 1, 'advisory|PyPI|torch|PYSEC-2022-43015', 'dependency-vulnerable', 'critical', 'torch', 'PYSEC-2022-43015', 'requirements.txt',
  '{"rule":"dependency-vulnerable","package":{"ecosystem":"PyPI","name":"torch","version":"1.12.0"},"advisory":{"id":"PYSEC-2022-43015","aliases":[]}}',
  'suppressed', '2026-01-01', '2026-01-01T00:00:00Z', 'accepted_risk', 'not reachable', 'user:a@example.com', '2026-01-02T00:00:00Z');
INSERT INTO findings (id, project_id, identity, rule, severity, package, advisory, source, body, state, first_seen, last_seen)
VALUES (8, 1, 'advisory|PyPI|jinja2|PYSEC-2019-217', 'dependency-unpinned', 'high', 'jinja2', 'PYSEC-2019-217', 'requirements.txt',
  '{"rule":"dependency-unpinned","package":{"ecosystem":"PyPI","name":"jinja2","version":null},"advisory":{"id":"PYSEC-2019-217"}}',
  'open', '2026-01-01', '2026-01-01T00:00:00Z');
INSERT INTO findings (id, project_id, identity, rule, severity, package, advisory, source, body, state, first_seen, last_seen)
VALUES (9, 1, 'pickle-global|model.pkl||||', 'pickle-global', 'critical', NULL, NULL, 'model.pkl', '{"rule":"pickle-global"}',
  'open', '2026-01-01', '2026-01-01T00:00:00Z');
INSERT INTO triage_audit (id, finding_id, actor, at, triage, reason, expires, previous_state)
VALUES (1, 7, 'user:a@example.com', '2026-01-02T00:00:00Z', 'accepted_risk', 'not reachable', NULL, 'open');
INSERT INTO jobs (id, project_id, kind, filename, state, size, sha256, created_by, created, started, locked_by, locked_until, attempts)
VALUES (3, 1, 'inventory', 'a.txt', 'running', 1, '00', 't', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'old-1', '2999-01-01T00:00:00Z', 1),
       (4, 1, 'inventory', 'b.txt', 'running', 1, '00', 't', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'old-2', '2999-01-01T00:00:00Z', 1);
"#;

fn check(store: &Store) {
    assert_eq!(
        store.schema_version().expect("version"),
        Store::supported_version()
    );
    // 0003: jobs an older binary left running (two of one project, which that binary allowed)
    // are queued again, and now run one at a time per project.
    let (first, _) = store
        .claim_job("new", 60)
        .expect("claim")
        .expect("requeued");
    assert_eq!((first.id, first.attempt), (3, 2));
    assert!(
        store.claim_job("new", 60).expect("claim").is_none(),
        "one running job per project"
    );
    let findings = store.findings(1).expect("findings");
    let ids: Vec<i64> = findings.iter().map(|f| f.id).collect();
    assert_eq!(ids, [7, 8, 9], "ids survive the rebuild");
    let torch = &findings[0];
    assert_eq!(torch.state, "suppressed");
    assert_eq!(
        torch.triage.as_ref().map(|t| t.reason.as_str()),
        Some("not reachable")
    );
    let audit = store.audit(7).expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].previous_state, "open");
    let monitored = store
        .monitor(|mtx| mtx.findings(1))
        .expect("monitor findings");
    let identities: Vec<&str> = monitored.iter().map(|f| f.identity.as_str()).collect();
    assert_eq!(
        identities,
        ["osv|PyPI|torch|PYSEC-2022-43015"],
        "only the pinned advisory finding becomes the monitor's"
    );
    assert!(monitored[0].live_triage.is_some());
    // The new state is allowed, and the audit still references findings.
    store
        .monitor(|mtx| {
            mtx.write_finding(
                1,
                &mlvet_store::monitor::FindingWrite {
                    identity: "osv|PyPI|torch|PYSEC-2022-43015",
                    rule: "dependency-vulnerable",
                    severity: "critical",
                    package: Some("torch"),
                    advisory: Some("PYSEC-2022-43015"),
                    source: "requirements.txt",
                    body: &torch.body,
                    lifecycle: "retracted",
                    ecosystem: "PyPI",
                    package_key: "torch",
                    version: "1.12.0",
                    matched: "{}",
                    first_generation: 1,
                    last_changed_generation: 2,
                },
            )
        })
        .expect("a retracted finding can be written");
    let after = store.findings(1).expect("findings");
    assert_eq!(after[0].state, "retracted");
    assert!(after[0].triage.is_some(), "triage kept");
    let project = store.project_monitor_state(1).expect("state");
    assert_eq!(project, Some((0, None)), "never matched by the monitor yet");
}

#[test]
fn sqlite_0001_stores_migrate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.sqlite3");
    {
        let connection = rusqlite::Connection::open(&path).expect("sqlite");
        connection
            .execute_batch("PRAGMA foreign_keys=ON;")
            .expect("pragma");
        connection
            .execute_batch(&format!(
                "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied TEXT NOT NULL);\n{SQLITE_0001}\n{LEGACY_ROWS}"
            ))
            .expect("0001 with rows");
    }
    let store = Store::open(&Location::Sqlite(path.clone())).expect("migrates");
    check(&store);
    drop(store);
    let connection = rusqlite::Connection::open(&path).expect("sqlite");
    let problems: i64 = connection
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })
        .expect("foreign key check");
    assert_eq!(problems, 0);
    let sql: String = connection
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'triage_audit'",
            [],
            |row| row.get(0),
        )
        .expect("schema");
    assert!(
        sql.contains("REFERENCES \"findings\"") || sql.contains("REFERENCES findings"),
        "{sql}"
    );
}

#[test]
fn postgres_0001_stores_migrate() {
    let Some(url) = std::env::var("MLVET_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let schema = format!("t_{}", mlvet_store::secrets::random_alnum(12));
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("postgres");
    client
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema};
             CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied TEXT NOT NULL);\n{POSTGRES_0001}\n{LEGACY_ROWS}"
        ))
        .expect("0001 with rows");
    drop(client);
    let store = Store::open(&Location::Postgres {
        url,
        schema: Some(schema),
    })
    .expect("migrates");
    check(&store);
}
