//! The store of `mlvet serve`: teams, users, sessions, API tokens, projects, their sources
//! (one per uploaded filename), packages, findings (never deleted: `open`, `resolved`,
//! `suppressed`), the triage audit and the job queue. Embedded SQLite by default, PostgreSQL
//! for scale; the same API and the same test suite on both.
//!
//! # Why rusqlite + the synchronous `postgres` client (option B of the design note)
//!
//! `libsqlite3-sys` declares `links = "sqlite3"`, so one version of it may be in the build. The
//! workspace pins `rusqlite = "=0.39"` (the advisory index of `mlvet-db`), which would also
//! resolve with sqlx 0.9 (option A), but:
//! - the store then shares the CLI's SQLite library and adds only the PostgreSQL client to
//!   the tree (sqlx would add its own runtime, pool, macros and drivers);
//! - every statement is written once, with `$1` placeholders, and runs on both backends
//!   (`db::Tx` rewrites them to SQLite's `?1`); the dialect differences live in the two
//!   migration sets, not in two query layers;
//! - the store is synchronous: the server calls it on tokio's blocking pool, which is also the
//!   right model for SQLite (`BEGIN IMMEDIATE` writers, WAL readers), and separate worker
//!   processes (issue 12) can use it without an async runtime.
//!
//! Migrations are versioned SQL files per backend, applied in order at [`Store::open`] inside
//! one transaction each and recorded in `schema_migrations`; a store newer than this binary is
//! refused.

mod db;
pub mod hub;
pub mod monitor;
pub mod queue;
pub mod secrets;
mod time;

use std::path::Path;

use db::{Backend, Mode, P, Row, Tx};

pub use time::{now_rfc3339, today};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("unexpected data in the store: {0}")]
    Decode(String),
    #[error("{0}")]
    Config(String),
    #[error("the store's schema (version {found}) is newer than this mlvet (version {supported})")]
    TooNew { found: i64, supported: i64 },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("invalid value: {0}")]
    Invalid(String),
    /// The monitor could not do its work inside a store transaction (an unreadable advisory
    /// database): the transaction is rolled back.
    #[error("monitor: {0}")]
    Monitor(String),
    /// A job's lease passed to another worker (this one was too slow or presumed dead): its
    /// outcome is not recorded, the new holder's is.
    #[error("job {job} is no longer leased to this worker (attempt {attempt})")]
    LeaseLost { job: i64, attempt: i64 },
}

impl StoreError {
    /// Whether the store was too busy to take the write in time (SQLite's `database is
    /// locked` after the busy timeout; on PostgreSQL a lock timeout, deadlock or serialization
    /// failure): the same request can succeed when retried, so it is not an internal error.
    pub fn is_busy(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            StoreError::Postgres(e) => e.code().is_some_and(|code| {
                [
                    postgres::error::SqlState::T_R_SERIALIZATION_FAILURE,
                    postgres::error::SqlState::T_R_DEADLOCK_DETECTED,
                    postgres::error::SqlState::LOCK_NOT_AVAILABLE,
                ]
                .contains(code)
            }),
            _ => false,
        }
    }

    /// Whether the error is a uniqueness violation (a duplicate name).
    fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            StoreError::Postgres(e) => {
                e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}

/// The file of the embedded store in mlvet's data directory.
pub const SQLITE_FILE: &str = "mlvet-server.sqlite3";

const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_initial.sql")),
    (2, include_str!("../migrations/sqlite/0002_monitoring.sql")),
    (3, include_str!("../migrations/sqlite/0003_job_queue.sql")),
    (4, include_str!("../migrations/sqlite/0004_hub.sql")),
    (5, include_str!("../migrations/sqlite/0005_pages.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_initial.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_monitoring.sql"),
    ),
    (3, include_str!("../migrations/postgres/0003_job_queue.sql")),
    (4, include_str!("../migrations/postgres/0004_hub.sql")),
    (5, include_str!("../migrations/postgres/0005_pages.sql")),
];

/// A role in a team, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Member,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is calling: a team, a role in it, and a name for the audit (`token:<public id>`,
/// `user:<email>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub team_id: i64,
    pub team: String,
    pub role: Role,
    pub actor: String,
    /// The API token's id, for rate limiting per token.
    pub token_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    pub team_id: i64,
    pub name: String,
    pub created: String,
}

/// A new API token: the full token is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: i64,
    pub public_id: String,
    pub token: String,
    pub team: Team,
    pub role: Role,
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<JobState, StoreError> {
        match text {
            "queued" => Ok(JobState::Queued),
            "running" => Ok(JobState::Running),
            "succeeded" => Ok(JobState::Succeeded),
            "failed" => Ok(JobState::Failed),
            other => Err(StoreError::Decode(format!("job state `{other}`"))),
        }
    }

    pub fn finished(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Failed)
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub project_id: i64,
    pub team_id: i64,
    pub kind: String,
    pub filename: String,
    pub state: JobState,
    pub error: Option<String>,
    pub size: i64,
    pub sha256: String,
    pub created_by: String,
    pub created: String,
    pub started: Option<String>,
    pub finished: Option<String>,
    /// Claims so far (this claim included while running).
    pub attempt: i64,
    /// Claims allowed before the job fails.
    pub max_attempts: i64,
    /// The worker holding (or last holding) the lease.
    pub locked_by: Option<String>,
}

/// A package of a source's inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    pub ecosystem: String,
    pub name: String,
    pub version: Option<String>,
    pub requirement: Option<String>,
    pub purl: Option<String>,
    pub ml: bool,
    pub line: Option<i64>,
    /// The normalised names this package depends on within its source file, where the file
    /// records a dependency graph (`uv.lock`, `poetry.lock`, `pylock.toml`); `None` otherwise.
    pub depends_on: Option<Vec<String>>,
    /// Whether the project itself requires this package, as its lockfile records (`uv.lock`,
    /// `pylock.toml`). Kept in the `depends_on` column as a leading [`DIRECT_MARK`] token.
    pub direct: bool,
}

/// The `depends_on` column's first token when the project itself requires the package: `.` is
/// no normalised package name, so the names that follow read as before (and rows written before
/// the mark existed read as not direct).
pub const DIRECT_MARK: &str = ".";

fn depends_on_column(package: &PackageRecord) -> Option<String> {
    let names = package.depends_on.as_ref()?;
    let mark = package.direct.then_some(DIRECT_MARK);
    Some(
        mark.into_iter()
            .chain(names.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// `(depends_on, direct)` from the column.
fn read_depends_on(column: Option<String>) -> (Option<Vec<String>>, bool) {
    let Some(column) = column else {
        return (None, false);
    };
    let mut names: Vec<String> = column.split_whitespace().map(str::to_string).collect();
    let direct = names.first().is_some_and(|n| n == DIRECT_MARK);
    if direct {
        names.remove(0);
    }
    (Some(names), direct)
}

/// A stored package with the source it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPackage {
    pub source: String,
    pub package: PackageRecord,
}

/// One finding of a source's latest scan, as the server derived it from the report.
#[derive(Debug, Clone)]
pub struct FindingRecord {
    /// Stable across scans: `(ecosystem, package, advisory)` for advisory findings.
    pub identity: String,
    pub rule: String,
    pub severity: String,
    pub package: Option<String>,
    pub advisory: Option<String>,
    /// The finding exactly as in the JSON report (a JSON object, as text).
    pub body: String,
}

/// The triage of a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triage {
    pub triage: String,
    pub reason: String,
    pub expires: Option<String>,
    pub by: String,
    pub at: String,
}

#[derive(Debug, Clone)]
pub struct StoredFinding {
    pub id: i64,
    pub project_id: i64,
    pub rule: String,
    pub severity: String,
    pub package: Option<String>,
    pub advisory: Option<String>,
    pub source: String,
    pub body: String,
    /// Effective state: a suppression whose expiry has passed reads as `open`.
    pub state: String,
    pub first_seen: String,
    pub last_seen: String,
    pub resolved_at: Option<String>,
    pub triage: Option<Triage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: String,
    pub at: String,
    pub triage: String,
    pub reason: String,
    pub expires: Option<String>,
    pub previous_state: String,
}

#[derive(Debug, Clone)]
pub struct SourceInfo {
    pub filename: String,
    pub format: String,
    pub uploaded: String,
    pub packages: i64,
}

/// The triage values of the API.
pub const TRIAGE_VALUES: &[&str] = &[
    "not_affected",
    "false_positive",
    "accepted_risk",
    "fix_planned",
];

/// The store. Cheap to share behind an `Arc`; every method is synchronous (call it from a
/// blocking thread in async code).
pub struct Store {
    backend: Backend,
}

/// Where the store lives.
#[derive(Debug, Clone)]
pub enum Location {
    Sqlite(std::path::PathBuf),
    Postgres {
        url: String,
        /// A schema to create and use (test isolation); `None`: the connection's default.
        schema: Option<String>,
    },
}

impl Location {
    /// `--database` as given (`postgres://…`, `postgresql://…`, `sqlite:PATH`), or the SQLite
    /// file in `data_dir` when `None`.
    pub fn parse(database: Option<&str>, data_dir: &Path) -> Result<Location, StoreError> {
        match database {
            None => Ok(Location::Sqlite(data_dir.join(SQLITE_FILE))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Location::Postgres {
                    url: url.to_string(),
                    schema: None,
                })
            }
            Some(url) => match url.strip_prefix("sqlite:") {
                Some(path) => Ok(Location::Sqlite(path.trim_start_matches("//").into())),
                None => Err(StoreError::Config(
                    "--database takes postgres://… or sqlite:PATH".to_string(),
                )),
            },
        }
    }
}

impl Store {
    /// Opens (creating when missing) the store and applies pending migrations.
    pub fn open(location: &Location) -> Result<Store, StoreError> {
        let backend = match location {
            Location::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Config(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                Backend::sqlite(path, 8)
            }
            Location::Postgres { url, schema } => Backend::postgres(url, schema.clone(), 16)?,
        };
        let store = Store { backend };
        store.migrate()?;
        Ok(store)
    }

    pub fn is_postgres(&self) -> bool {
        self.backend.is_postgres()
    }

    fn write<T>(
        &self,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.backend.transaction(Mode::Write, work)
    }

    fn read<T>(
        &self,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.backend.transaction(Mode::Read, work)
    }

    /// The latest schema version this binary knows.
    pub fn supported_version() -> i64 {
        // Versions are reserved per feature, so the list may have gaps: the highest counts.
        SQLITE_MIGRATIONS.last().map_or(0, |(v, _)| *v)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let migrations = if self.is_postgres() {
            POSTGRES_MIGRATIONS
        } else {
            SQLITE_MIGRATIONS
        };
        self.write(|tx| {
            if tx.is_postgres() {
                // Two servers starting at once: one migrates, the other waits for it.
                tx.exec("SELECT pg_advisory_xact_lock(7283001)", &[])?;
            }
            tx.batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied TEXT NOT NULL)",
            )?;
            let current = tx
                .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?
                .int(0)?;
            let supported = migrations.last().map_or(0, |(v, _)| *v);
            if current > supported {
                return Err(StoreError::TooNew {
                    found: current,
                    supported,
                });
            }
            // Apply every known version not yet recorded, not only those above the maximum:
            // versions are reserved per feature, so a store may have 5 applied before 4 lands.
            let applied: std::collections::BTreeSet<i64> = tx
                .query("SELECT version FROM schema_migrations", &[])?
                .iter()
                .map(|row| row.int(0))
                .collect::<Result<_, _>>()?;
            for (version, sql) in migrations.iter().filter(|(v, _)| !applied.contains(v)) {
                tx.batch(sql)?;
                tx.exec(
                    "INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)",
                    &[P::Int(*version), P::Text(&now_rfc3339())],
                )?;
            }
            Ok(())
        })
    }

    /// The applied schema version.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(|tx| {
            tx.query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )?
            .int(0)
        })
    }

    /// A round trip to the database (`/readyz`).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.read(|tx| tx.query_one("SELECT 1", &[]).map(|_| ()))
    }

    // ---- teams, tokens, users, sessions ----

    /// The team named `name`, created when missing.
    pub fn ensure_team(&self, name: &str) -> Result<Team, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(StoreError::Invalid(
                "a team name is 1 to 200 characters".to_string(),
            ));
        }
        self.write(|tx| ensure_team(tx, name))
    }

    /// Creates an API token for `team` (created when missing). The returned token is the only
    /// copy of its secret.
    pub fn create_token(
        &self,
        team: &str,
        role: Role,
        name: &str,
        expires: Option<&str>,
    ) -> Result<NewToken, StoreError> {
        if let Some(expires) = expires {
            check_date(expires)?;
        }
        let team_name = team.trim();
        if team_name.is_empty() {
            return Err(StoreError::Invalid("a team name is required".to_string()));
        }
        let public_id = secrets::random_alnum(12);
        let secret = secrets::random_alnum(40);
        let token = format!("mlvet_{public_id}_{secret}");
        let hash = secrets::sha256_hex(secret.as_bytes());
        self.write(|tx| {
            let team = ensure_team(tx, team_name)?;
            let id = tx
                .query_one(
                    "INSERT INTO api_tokens (team_id, public_id, secret_hash, role, name, created, expires)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    &[
                        P::Int(team.id),
                        P::Text(&public_id),
                        P::Text(&hash),
                        P::Text(role.as_str()),
                        P::Text(name),
                        P::Text(&now_rfc3339()),
                        expires.into(),
                    ],
                )?
                .int(0)?;
            Ok(NewToken {
                id,
                public_id: public_id.clone(),
                token: token.clone(),
                team,
                role,
                expires: expires.map(str::to_string),
            })
        })
    }

    /// The principal of a bearer token, `None` when the token is malformed, unknown, revoked
    /// or expired. Records its last use.
    pub fn authenticate_token(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        let Some((public_id, secret)) = secrets::split_token(token) else {
            return Ok(None);
        };
        let today = today();
        let found = self.read(|tx| {
            tx.query_opt(
                "SELECT t.id, t.secret_hash, t.role, t.expires, t.revoked, t.team_id, teams.name, t.last_used
                 FROM api_tokens t JOIN teams ON teams.id = t.team_id WHERE t.public_id = $1",
                &[P::Text(public_id)],
            )
        })?;
        let Some(row) = found else {
            return Ok(None);
        };
        let hash = secrets::sha256_hex(secret.as_bytes());
        if !secrets::constant_time_eq(hash.as_bytes(), row.text(1)?.as_bytes())
            || row.int(4)? != 0
            || row.opt_text(3)?.is_some_and(|expires| expires < today)
        {
            return Ok(None);
        }
        let role = Role::parse(&row.text(2)?)
            .ok_or_else(|| StoreError::Decode("token role".to_string()))?;
        let id = row.int(0)?;
        let now = now_rfc3339();
        // Written at most once a minute per token: authentication stays a read.
        let stale = row
            .opt_text(7)?
            .is_none_or(|last| last.get(..16) != now.get(..16));
        if stale {
            self.write(|tx| {
                tx.exec(
                    "UPDATE api_tokens SET last_used = $1 WHERE id = $2",
                    &[P::Text(&now), P::Int(id)],
                )
            })?;
        }
        Ok(Some(Principal {
            team_id: row.int(5)?,
            team: row.text(6)?,
            role,
            actor: format!("token:{public_id}"),
            token_id: Some(id),
        }))
    }

    /// Creates a user of `team` (created when missing) with an argon2id password hash.
    pub fn create_user(
        &self,
        email: &str,
        team: &str,
        role: Role,
        password: &str,
    ) -> Result<i64, StoreError> {
        let email = email.trim();
        if email.is_empty() || !email.contains('@') || email.len() > 320 {
            return Err(StoreError::Invalid(format!(
                "`{email}` is not an email address"
            )));
        }
        if password.chars().count() < 12 {
            return Err(StoreError::Invalid(
                "a password has at least 12 characters".to_string(),
            ));
        }
        let hash = secrets::hash_password(password)?;
        let result = self.write(|tx| {
            let team = ensure_team(tx, team.trim())?;
            tx.query_one(
                "INSERT INTO users (team_id, email, password_hash, role, created) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    P::Int(team.id),
                    P::Text(&email.to_lowercase()),
                    P::Text(&hash),
                    P::Text(role.as_str()),
                    P::Text(&now_rfc3339()),
                ],
            )?
            .int(0)
        });
        match result {
            Err(e) if e.is_unique_violation() => Err(StoreError::Conflict(format!("user {email}"))),
            other => other,
        }
    }

    /// The principal of an email and password, `None` when either is wrong.
    pub fn authenticate_user(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<(i64, Principal)>, StoreError> {
        let found = self.read(|tx| {
            tx.query_opt(
                "SELECT u.id, u.password_hash, u.role, u.team_id, teams.name, u.email
                 FROM users u JOIN teams ON teams.id = u.team_id WHERE u.email = $1",
                &[P::Text(&email.trim().to_lowercase())],
            )
        })?;
        let Some(row) = found else {
            // The same work as a real check, so that timing does not tell which emails exist.
            let _ = secrets::verify_password(password, secrets::DUMMY_HASH);
            return Ok(None);
        };
        if !secrets::verify_password(password, &row.text(1)?) {
            return Ok(None);
        }
        let role = Role::parse(&row.text(2)?)
            .ok_or_else(|| StoreError::Decode("user role".to_string()))?;
        Ok(Some((
            row.int(0)?,
            Principal {
                team_id: row.int(3)?,
                team: row.text(4)?,
                role,
                actor: format!("user:{}", row.text(5)?),
                token_id: None,
            },
        )))
    }

    /// A new session for `user_id`: returns (session secret for the cookie, CSRF token). A
    /// new secret on every login, so a session id planted before login is worthless.
    pub fn create_session(
        &self,
        user_id: i64,
        lifetime_days: i64,
    ) -> Result<(String, String), StoreError> {
        let secret = secrets::random_alnum(43);
        let csrf = secrets::random_alnum(32);
        let expires = time::rfc3339_after_days(lifetime_days);
        self.write(|tx| {
            tx.exec(
                "INSERT INTO sessions (secret_hash, user_id, csrf, created, expires) VALUES ($1, $2, $3, $4, $5)",
                &[
                    P::Text(&secrets::sha256_hex(secret.as_bytes())),
                    P::Int(user_id),
                    P::Text(&csrf),
                    P::Text(&now_rfc3339()),
                    P::Text(&expires),
                ],
            )
        })?;
        Ok((secret, csrf))
    }

    /// The principal and CSRF token of a session cookie, `None` when unknown or expired.
    pub fn session(&self, secret: &str) -> Result<Option<(Principal, String)>, StoreError> {
        let hash = secrets::sha256_hex(secret.as_bytes());
        let row = self.read(|tx| {
            tx.query_opt(
                "SELECT u.role, u.team_id, teams.name, u.email, s.csrf, s.expires
                 FROM sessions s JOIN users u ON u.id = s.user_id JOIN teams ON teams.id = u.team_id
                 WHERE s.secret_hash = $1",
                &[P::Text(&hash)],
            )
        })?;
        let Some(row) = row else { return Ok(None) };
        if row.text(5)? < now_rfc3339() {
            return Ok(None);
        }
        let role = Role::parse(&row.text(0)?)
            .ok_or_else(|| StoreError::Decode("user role".to_string()))?;
        Ok(Some((
            Principal {
                team_id: row.int(1)?,
                team: row.text(2)?,
                role,
                actor: format!("user:{}", row.text(3)?),
                token_id: None,
            },
            row.text(4)?,
        )))
    }

    pub fn delete_session(&self, secret: &str) -> Result<(), StoreError> {
        let hash = secrets::sha256_hex(secret.as_bytes());
        self.write(|tx| {
            tx.exec(
                "DELETE FROM sessions WHERE secret_hash = $1",
                &[P::Text(&hash)],
            )
            .map(|_| ())
        })
    }

    // ---- projects ----

    pub fn create_project(&self, team_id: i64, name: &str) -> Result<Project, StoreError> {
        let result = self.write(|tx| {
            let created = now_rfc3339();
            let id = tx
                .query_one(
                    "INSERT INTO projects (team_id, name, created) VALUES ($1, $2, $3) RETURNING id",
                    &[P::Int(team_id), P::Text(name), P::Text(&created)],
                )?
                .int(0)?;
            Ok(Project {
                id,
                team_id,
                name: name.to_string(),
                created,
            })
        });
        match result {
            Err(e) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("project `{name}`")))
            }
            other => other,
        }
    }

    pub fn projects(&self, team_id: i64) -> Result<Vec<Project>, StoreError> {
        self.read(|tx| {
            tx.query(
                "SELECT id, team_id, name, created FROM projects WHERE team_id = $1 ORDER BY name, id",
                &[P::Int(team_id)],
            )?
            .iter()
            .map(project_from)
            .collect()
        })
    }

    /// The project `id` if it belongs to `team_id` (another team's project is `None`, exactly
    /// like a missing one).
    pub fn project(&self, team_id: i64, id: i64) -> Result<Option<Project>, StoreError> {
        self.read(|tx| {
            tx.query_opt(
                "SELECT id, team_id, name, created FROM projects WHERE id = $1 AND team_id = $2",
                &[P::Int(id), P::Int(team_id)],
            )?
            .as_ref()
            .map(project_from)
            .transpose()
        })
    }

    /// The last finished upload of a project.
    pub fn last_upload(&self, project_id: i64) -> Result<Option<Job>, StoreError> {
        Ok(self.jobs(project_id, 1)?.into_iter().next())
    }

    /// The project's sources with their package counts.
    pub fn sources(&self, project_id: i64) -> Result<Vec<SourceInfo>, StoreError> {
        self.read(|tx| {
            tx.query(
                "SELECT s.filename, s.format, s.uploaded, (SELECT COUNT(*) FROM packages p WHERE p.source_id = s.id)
                 FROM sources s WHERE s.project_id = $1 ORDER BY s.filename",
                &[P::Int(project_id)],
            )?
            .iter()
            .map(|row| {
                Ok(SourceInfo {
                    filename: row.text(0)?,
                    format: row.text(1)?,
                    uploaded: row.text(2)?,
                    packages: row.int(3)?,
                })
            })
            .collect()
        })
    }

    // ---- jobs ----

    /// Queues the scan of an upload; the bytes are kept until the job ends.
    pub fn enqueue_upload(
        &self,
        project_id: i64,
        filename: &str,
        body: &[u8],
        sha256: &str,
        created_by: &str,
    ) -> Result<Job, StoreError> {
        let size = i64::try_from(body.len()).unwrap_or(i64::MAX);
        let id = self.write(|tx| {
            let id = tx
                .query_one(
                    "INSERT INTO jobs (project_id, kind, filename, state, size, sha256, created_by, created, concurrency_key)
                     VALUES ($1, 'inventory', $2, 'queued', $3, $4, $5, $6, $7) RETURNING id",
                    &[
                        P::Int(project_id),
                        P::Text(filename),
                        P::Int(size),
                        P::Text(sha256),
                        P::Text(created_by),
                        P::Text(&now_rfc3339()),
                        P::Text(&queue::project_key(project_id)),
                    ],
                )?
                .int(0)?;
            tx.exec(
                "INSERT INTO job_payloads (job_id, body) VALUES ($1, $2)",
                &[P::Int(id), P::Bytes(body)],
            )?;
            Ok(id)
        })?;
        self.job_by_id(id)?.ok_or(StoreError::NotFound)
    }

    pub(crate) fn job_by_id(&self, id: i64) -> Result<Option<Job>, StoreError> {
        self.read(|tx| {
            tx.query_opt(&format!("{JOB_SELECT} WHERE j.id = $1"), &[P::Int(id)])?
                .as_ref()
                .map(job_from)
                .transpose()
        })
    }

    /// The job `id` if its project belongs to `team_id`.
    pub fn job(&self, team_id: i64, id: i64) -> Result<Option<Job>, StoreError> {
        Ok(self.job_by_id(id)?.filter(|job| job.team_id == team_id))
    }

    /// The project's latest uploads (`inventory` jobs; the monitor's own jobs are not
    /// uploads), newest first.
    pub fn jobs(&self, project_id: i64, limit: i64) -> Result<Vec<Job>, StoreError> {
        self.read(|tx| {
            tx.query(
                &format!("{JOB_SELECT} WHERE j.project_id = $1 AND j.kind = 'inventory' ORDER BY j.id DESC LIMIT $2"),
                &[P::Int(project_id), P::Int(limit)],
            )?
            .iter()
            .map(job_from)
            .collect()
        })
    }

    /// Ends a job that failed, with the error shown to the uploader.
    pub fn fail_job(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.write(|tx| fail_job_in(tx, id, error))
    }

    /// Ends a job that succeeded: replaces the inventory and findings of the job's source
    /// (other sources stay) and reconciles the project's findings, all in one transaction.
    pub fn complete_upload(
        &self,
        job: &Job,
        format: &str,
        packages: &[PackageRecord],
        findings: &[FindingRecord],
    ) -> Result<(), StoreError> {
        self.complete_upload_with(job, format, packages, findings, |_| Ok(()))
    }

    /// [`Store::complete_upload`], running `monitor` in the same transaction once the source's
    /// inventory is replaced (the monitor's re-match of the project, its findings and events),
    /// before the other findings are reconciled and the job ends.
    pub fn complete_upload_with(
        &self,
        job: &Job,
        format: &str,
        packages: &[PackageRecord],
        findings: &[FindingRecord],
        monitor: impl FnOnce(&mut monitor::MonitorTx<'_, '_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let now = now_rfc3339();
        let today = today();
        self.write(|tx| {
            queue::confirm_lease(tx, job)?;
            monitor::begin(tx)?;
            let project = job.project_id;
            let source_id = tx
                .query_one(
                    "INSERT INTO sources (project_id, filename, format, job_id, uploaded) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (project_id, filename) DO UPDATE SET format = excluded.format, job_id = excluded.job_id, uploaded = excluded.uploaded
                     RETURNING id",
                    &[
                        P::Int(project),
                        P::Text(&job.filename),
                        P::Text(format),
                        P::Int(job.id),
                        P::Text(&now),
                    ],
                )?
                .int(0)?;
            tx.exec("DELETE FROM packages WHERE source_id = $1", &[P::Int(source_id)])?;
            tx.exec("DELETE FROM source_findings WHERE source_id = $1", &[P::Int(source_id)])?;
            // Multi-row inserts: one round trip per chunk, not per row (PostgreSQL).
            let depends_on: Vec<Option<String>> = packages
                .iter()
                .map(depends_on_column)
                .collect();
            let package_rows: Vec<Vec<P<'_>>> = packages
                .iter()
                .zip(&depends_on)
                .map(|(package, depends_on)| {
                    vec![
                        P::Int(project),
                        P::Int(source_id),
                        P::Text(&package.ecosystem),
                        P::Text(&package.name),
                        package.version.as_deref().into(),
                        package.requirement.as_deref().into(),
                        package.purl.as_deref().into(),
                        P::Int(i64::from(package.ml)),
                        package.line.into(),
                        depends_on.as_deref().into(),
                    ]
                })
                .collect();
            insert_rows(
                tx,
                "INSERT INTO packages (project_id, source_id, ecosystem, name, version, requirement, purl, ml, line, depends_on) VALUES ",
                &[],
                &package_rows,
                "",
                "",
            )?;
            let finding_rows: Vec<Vec<P<'_>>> = findings
                .iter()
                .map(|finding| {
                    vec![
                        P::Int(source_id),
                        P::Text(&finding.identity),
                        P::Text(&finding.rule),
                        P::Text(&finding.severity),
                        finding.package.as_deref().into(),
                        finding.advisory.as_deref().into(),
                        P::Text(&finding.body),
                    ]
                })
                .collect();
            insert_rows(
                tx,
                "INSERT INTO source_findings (source_id, identity, rule, severity, package, advisory, body) VALUES ",
                &[],
                &finding_rows,
                "",
                "",
            )?;
            monitor::run(tx, monitor)?;
            reconcile(tx, project, &now, &today)?;
            tx.exec(
                "UPDATE jobs SET state = 'succeeded', finished = $1, locked_until = NULL, error = NULL WHERE id = $2",
                &[P::Text(&now), P::Int(job.id)],
            )?;
            tx.exec("DELETE FROM job_payloads WHERE job_id = $1", &[P::Int(job.id)])?;
            Ok(())
        })
    }

    // ---- findings and packages ----

    pub fn findings(&self, project_id: i64) -> Result<Vec<StoredFinding>, StoreError> {
        let today = today();
        self.read(|tx| {
            tx.query(
                &format!("{FINDING_SELECT} WHERE f.project_id = $1 ORDER BY f.id"),
                &[P::Int(project_id)],
            )?
            .iter()
            .map(|row| finding_from(row, &today))
            .collect()
        })
    }

    /// The finding `id` if its project belongs to `team_id`.
    pub fn finding(&self, team_id: i64, id: i64) -> Result<Option<StoredFinding>, StoreError> {
        let today = today();
        self.read(|tx| {
            tx.query_opt(
                &format!("{FINDING_SELECT} JOIN projects p ON p.id = f.project_id WHERE f.id = $1 AND p.team_id = $2"),
                &[P::Int(id), P::Int(team_id)],
            )?
            .as_ref()
            .map(|row| finding_from(row, &today))
            .transpose()
        })
    }

    /// Triages finding `id` (of `team_id`): suppressed until `expires` (inclusive), audited.
    pub fn triage(
        &self,
        team_id: i64,
        id: i64,
        triage: &str,
        reason: &str,
        expires: Option<&str>,
        actor: &str,
    ) -> Result<Option<StoredFinding>, StoreError> {
        if !TRIAGE_VALUES.contains(&triage) {
            return Err(StoreError::Invalid(format!(
                "triage is one of {}",
                TRIAGE_VALUES.join(", ")
            )));
        }
        if let Some(expires) = expires {
            check_date(expires)?;
        }
        let Some(current) = self.finding(team_id, id)? else {
            return Ok(None);
        };
        let now = now_rfc3339();
        self.write(|tx| {
            // A resolved finding keeps its state; the triage applies if it comes back.
            let state = match current.state.as_str() {
                "resolved" | "retracted" => current.state.as_str(),
                _ => "suppressed",
            };
            tx.exec(
                "UPDATE findings SET state = $1, triage = $2, triage_reason = $3, triage_expires = $4, triaged_by = $5, triaged_at = $6 WHERE id = $7",
                &[
                    P::Text(state),
                    P::Text(triage),
                    P::Text(reason),
                    expires.into(),
                    P::Text(actor),
                    P::Text(&now),
                    P::Int(id),
                ],
            )?;
            tx.exec(
                "INSERT INTO triage_audit (finding_id, actor, at, triage, reason, expires, previous_state) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    P::Int(id),
                    P::Text(actor),
                    P::Text(&now),
                    P::Text(triage),
                    P::Text(reason),
                    expires.into(),
                    P::Text(&current.state),
                ],
            )?;
            Ok(())
        })?;
        self.finding(team_id, id)
    }

    /// The triage history of a finding, oldest first.
    pub fn audit(&self, finding_id: i64) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|tx| {
            tx.query(
                "SELECT actor, at, triage, reason, expires, previous_state FROM triage_audit WHERE finding_id = $1 ORDER BY id",
                &[P::Int(finding_id)],
            )?
            .iter()
            .map(|row| {
                Ok(AuditEntry {
                    actor: row.text(0)?,
                    at: row.text(1)?,
                    triage: row.text(2)?,
                    reason: row.text(3)?,
                    expires: row.opt_text(4)?,
                    previous_state: row.text(5)?,
                })
            })
            .collect()
        })
    }

    pub fn packages(&self, project_id: i64) -> Result<Vec<StoredPackage>, StoreError> {
        self.read(|tx| {
            tx.query(
                "SELECT s.filename, p.ecosystem, p.name, p.version, p.requirement, p.purl, p.ml, p.line, p.depends_on
                 FROM packages p JOIN sources s ON s.id = p.source_id WHERE p.project_id = $1
                 ORDER BY s.filename, p.name, p.id",
                &[P::Int(project_id)],
            )?
            .iter()
            .map(|row| {
                Ok(StoredPackage {
                    source: row.text(0)?,
                    package: {
                    let (depends_on, direct) = read_depends_on(row.opt_text(8)?);
                    PackageRecord {
                        ecosystem: row.text(1)?,
                        name: row.text(2)?,
                        version: row.opt_text(3)?,
                        requirement: row.opt_text(4)?,
                        purl: row.opt_text(5)?,
                        ml: row.int(6)? != 0,
                        line: row.opt_int(7)?,
                        depends_on,
                        direct,
                    }},
                })
            })
            .collect()
        })
    }

    /// The projects of `team_id` with an unresolved finding of `advisory` (id or alias as
    /// stored on the finding).
    pub fn projects_affected_by(
        &self,
        team_id: i64,
        advisory: &str,
    ) -> Result<Vec<Project>, StoreError> {
        self.read(|tx| {
            tx.query(
                "SELECT DISTINCT p.id, p.team_id, p.name, p.created FROM projects p JOIN findings f ON f.project_id = p.id
                 WHERE p.team_id = $1 AND f.advisory = $2 AND f.state NOT IN ('resolved', 'retracted') ORDER BY p.name, p.id",
                &[P::Int(team_id), P::Text(advisory)],
            )?
            .iter()
            .map(project_from)
            .collect()
        })
    }
}

const JOB_SELECT: &str = "SELECT j.id, j.project_id, p.team_id, j.kind, j.filename, j.state, j.error, j.size, j.sha256, j.created_by, j.created, j.started, j.finished, j.attempts, j.max_attempts, j.locked_by FROM jobs j JOIN projects p ON p.id = j.project_id";

const FINDING_SELECT: &str = "SELECT f.id, f.project_id, f.rule, f.severity, f.package, f.advisory, f.source, f.body, f.state, f.first_seen, f.last_seen, f.resolved_at, f.triage, f.triage_reason, f.triage_expires, f.triaged_by, f.triaged_at FROM findings f";

pub(crate) fn fail_job_in(tx: &mut Tx<'_>, id: i64, error: &str) -> Result<(), StoreError> {
    tx.exec(
        "UPDATE jobs SET state = 'failed', error = $1, finished = $2, locked_until = NULL WHERE id = $3",
        &[P::Text(error), P::Text(&now_rfc3339()), P::Int(id)],
    )?;
    tx.exec("DELETE FROM job_payloads WHERE job_id = $1", &[P::Int(id)])?;
    Ok(())
}

fn ensure_team(tx: &mut Tx<'_>, name: &str) -> Result<Team, StoreError> {
    tx.exec(
        "INSERT INTO teams (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[P::Text(name), P::Text(&now_rfc3339())],
    )?;
    let row = tx.query_one(
        "SELECT id, name FROM teams WHERE name = $1",
        &[P::Text(name)],
    )?;
    Ok(Team {
        id: row.int(0)?,
        name: row.text(1)?,
    })
}

fn check_date(text: &str) -> Result<(), StoreError> {
    let valid =
        text.len() == 10 && mlvet_date_parse(text).is_some_and(|formatted| formatted == text);
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "`{text}` is not a date YYYY-MM-DD"
        )))
    }
}

/// Parses `YYYY-MM-DD` and formats it back (so `2026-02-30` fails the round trip).
fn mlvet_date_parse(text: &str) -> Option<String> {
    let year: i64 = text.get(0..4)?.parse().ok()?;
    let month: i64 = text.get(5..7)?.parse().ok()?;
    let day: i64 = text.get(8..10)?.parse().ok()?;
    if text.get(4..5) != Some("-") || text.get(7..8) != Some("-") {
        return None;
    }
    let days = time::days_from_civil(year, month, day)?;
    Some(time::date_from_days(days))
}

/// Makes the project's findings the union of its sources' latest findings: new identities
/// open, returning ones reopen (or stay suppressed under a live triage), missing ones resolve.
fn reconcile(tx: &mut Tx<'_>, project: i64, now: &str, today: &str) -> Result<(), StoreError> {
    let current = tx.query(
        "SELECT sf.identity, sf.rule, sf.severity, sf.package, sf.advisory, s.filename, sf.body
         FROM source_findings sf JOIN sources s ON s.id = sf.source_id
         WHERE s.project_id = $1 ORDER BY sf.identity, s.filename, sf.id",
        &[P::Int(project)],
    )?;
    // The first row of each identity (sorted), owned, then upserted in chunks.
    let mut latest: Vec<[Option<String>; 7]> = Vec::new();
    for row in &current {
        let identity = row.text(0)?;
        if latest
            .last()
            .is_some_and(|last| last[0].as_deref() == Some(identity.as_str()))
        {
            continue;
        }
        latest.push([
            Some(identity),
            Some(row.text(1)?),
            Some(row.text(2)?),
            row.opt_text(3)?,
            row.opt_text(4)?,
            Some(row.text(5)?),
            Some(row.text(6)?),
        ]);
    }
    let rows: Vec<Vec<P<'_>>> = latest
        .iter()
        .map(|f| {
            let mut row = vec![P::Int(project)];
            for (index, value) in f.iter().enumerate() {
                // package (3) and advisory (4) may be NULL; the others never are.
                row.push(match (index, value.as_deref()) {
                    (3 | 4, None) => P::NullText,
                    (_, value) => P::Text(value.unwrap_or_default()),
                });
            }
            row
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO findings (project_id, identity, rule, severity, package, advisory, source, body, state, first_seen, last_seen) VALUES ",
        &[P::Text(today), P::Text(now)],
        &rows,
        ", 'open', $2, $2",
        " ON CONFLICT (project_id, identity) DO UPDATE SET
           rule = excluded.rule, severity = excluded.severity, package = excluded.package,
           advisory = excluded.advisory, source = excluded.source, body = excluded.body,
           last_seen = excluded.last_seen, resolved_at = NULL,
           state = CASE WHEN findings.triage IS NOT NULL AND (findings.triage_expires IS NULL OR findings.triage_expires >= $1)
                        THEN 'suppressed' ELSE 'open' END",
    )?;
    tx.exec(
        "UPDATE findings SET state = 'resolved', resolved_at = $2
         WHERE project_id = $1 AND state NOT IN ('resolved', 'retracted') AND identity NOT LIKE 'osv|%' AND identity NOT IN (
           SELECT sf.identity FROM source_findings sf JOIN sources s ON s.id = sf.source_id WHERE s.project_id = $1)",
        &[P::Int(project), P::Text(now)],
    )?;
    Ok(())
}

/// Rows inserted per statement: well under both backends' parameter limits (SQLite 32,766,
/// PostgreSQL 65,535) for the widest row here.
const ROWS_PER_INSERT: usize = 100;

/// Runs `head VALUES (row…), (row…) tail` in chunks. `shared` parameters come first (`$1`…);
/// each row's parameters follow, and `row_suffix` is appended inside each row's parentheses
/// (it may name the shared parameters).
fn insert_rows(
    tx: &mut Tx<'_>,
    head: &str,
    shared: &[P<'_>],
    rows: &[Vec<P<'_>>],
    row_suffix: &str,
    tail: &str,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from(head);
        let mut params: Vec<P<'_>> = shared.to_vec();
        for (index, row) in chunk.iter().enumerate() {
            if index > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (column, value) in row.iter().enumerate() {
                if column > 0 {
                    sql.push_str(", ");
                }
                params.push(*value);
                sql.push_str(&format!("${}", params.len()));
            }
            sql.push_str(row_suffix);
            sql.push(')');
        }
        sql.push_str(tail);
        tx.exec(&sql, &params)?;
    }
    Ok(())
}

fn project_from(row: &Row) -> Result<Project, StoreError> {
    Ok(Project {
        id: row.int(0)?,
        team_id: row.int(1)?,
        name: row.text(2)?,
        created: row.text(3)?,
    })
}

fn job_from(row: &Row) -> Result<Job, StoreError> {
    Ok(Job {
        id: row.int(0)?,
        project_id: row.int(1)?,
        team_id: row.int(2)?,
        kind: row.text(3)?,
        filename: row.text(4)?,
        state: JobState::parse(&row.text(5)?)?,
        error: row.opt_text(6)?,
        size: row.int(7)?,
        sha256: row.text(8)?,
        created_by: row.text(9)?,
        created: row.text(10)?,
        started: row.opt_text(11)?,
        finished: row.opt_text(12)?,
        attempt: row.int(13)?,
        max_attempts: row.int(14)?,
        locked_by: row.opt_text(15)?,
    })
}

fn finding_from(row: &Row, today: &str) -> Result<StoredFinding, StoreError> {
    let triage = match row.opt_text(12)? {
        Some(triage) => Some(Triage {
            triage,
            reason: row.opt_text(13)?.unwrap_or_default(),
            expires: row.opt_text(14)?,
            by: row.opt_text(15)?.unwrap_or_default(),
            at: row.opt_text(16)?.unwrap_or_default(),
        }),
        None => None,
    };
    let mut state = row.text(8)?;
    if state == "suppressed"
        && triage
            .as_ref()
            .and_then(|t| t.expires.as_deref())
            .is_some_and(|expires| expires < today)
    {
        state = "open".to_string();
    }
    Ok(StoredFinding {
        id: row.int(0)?,
        project_id: row.int(1)?,
        rule: row.text(2)?,
        severity: row.text(3)?,
        package: row.opt_text(4)?,
        advisory: row.opt_text(5)?,
        source: row.text(6)?,
        body: row.text(7)?,
        state,
        first_seen: row.text(9)?,
        last_seen: row.text(10)?,
        resolved_at: row.opt_text(11)?,
        triage,
    })
}

#[cfg(test)]
mod busy_tests {
    use super::StoreError;

    /// A real lock: one connection holds the write lock, the other gives up at once.
    #[test]
    fn a_locked_sqlite_database_is_busy_and_other_errors_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("busy.sqlite3");
        let holder = rusqlite::Connection::open(&path).expect("open");
        holder
            .execute_batch("CREATE TABLE t (x INTEGER); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .expect("hold the write lock");
        let other = rusqlite::Connection::open(&path).expect("open");
        other
            .busy_timeout(std::time::Duration::ZERO)
            .expect("no wait");
        let error = StoreError::from(
            other
                .execute("INSERT INTO t VALUES (2)", [])
                .expect_err("the lock is held"),
        );
        assert!(error.is_busy(), "{error}");
        assert!(error.to_string().contains("locked"), "{error}");
        let syntax = StoreError::from(other.execute("NOT SQL", []).expect_err("syntax"));
        assert!(!syntax.is_busy());
        assert!(!StoreError::NotFound.is_busy());
    }
}
