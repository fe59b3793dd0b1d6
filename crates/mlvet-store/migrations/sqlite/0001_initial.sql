-- mlvet serve: accounts, projects, inventories, findings, triage, jobs.
-- Times are UTC RFC 3339 text (`2026-01-31T12:00:00Z`), dates `YYYY-MM-DD`: both sort as text.

CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    created TEXT NOT NULL
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    public_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT,
    last_used TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (team_id, name)
);

-- Work for in-process or separate workers: claimed by `state`, leased by `locked_until`.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    kind TEXT NOT NULL,
    filename TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    error TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    locked_by TEXT,
    locked_until TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE INDEX jobs_by_project ON jobs (project_id, id);

-- The uploaded bytes until the job ends (then deleted).
CREATE TABLE job_payloads (
    job_id INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    body BLOB NOT NULL
);

-- One per uploaded filename: a new upload under the same name replaces its inventory.
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    filename TEXT NOT NULL,
    format TEXT NOT NULL,
    job_id INTEGER REFERENCES jobs (id),
    uploaded TEXT NOT NULL,
    UNIQUE (project_id, filename)
);

CREATE TABLE packages (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT,
    requirement TEXT,
    purl TEXT,
    ml INTEGER NOT NULL,
    line INTEGER
);
CREATE INDEX packages_by_project ON packages (project_id);
CREATE INDEX packages_by_source ON packages (source_id);

-- What each source's latest scan reported; the project's findings are their union.
CREATE TABLE source_findings (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    identity TEXT NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    package TEXT,
    advisory TEXT,
    body TEXT NOT NULL
);
CREATE INDEX source_findings_by_source ON source_findings (source_id);

-- One row per (project, identity) for ever: resolved, never deleted. The identity of an
-- advisory finding is (ecosystem, package, advisory id).
CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    identity TEXT NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    package TEXT,
    advisory TEXT,
    source TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'resolved', 'suppressed')),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    resolved_at TEXT,
    triage TEXT,
    triage_reason TEXT,
    triage_expires TEXT,
    triaged_by TEXT,
    triaged_at TEXT,
    UNIQUE (project_id, identity)
);
CREATE INDEX findings_by_advisory ON findings (advisory);

CREATE TABLE triage_audit (
    id INTEGER PRIMARY KEY,
    finding_id INTEGER NOT NULL REFERENCES findings (id),
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    triage TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires TEXT,
    previous_state TEXT NOT NULL
);
CREATE INDEX triage_audit_by_finding ON triage_audit (finding_id);
