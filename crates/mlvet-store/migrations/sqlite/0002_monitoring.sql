-- Monitoring (issue 12): advisory-driven re-matching, the finding lifecycle, the outbox and
-- webhooks. Times are UTC RFC 3339 text, as in 0001.

-- The advisory generation and matcher version each project's findings were last matched at.
ALTER TABLE projects ADD COLUMN matched_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN matcher_version TEXT;

-- Findings take mlvet-monitor's lifecycle: a `retracted` state (the advisory no longer matches),
-- and for advisory findings (identity `osv|…`) the package triple matched, the match itself
-- (JSON) and the generations it was opened and last changed at. SQLite cannot alter a CHECK
-- constraint: the table is rebuilt, with the triage audit that references it.
CREATE TABLE findings_v2 (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    identity TEXT NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    package TEXT,
    advisory TEXT,
    source TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'resolved', 'suppressed', 'retracted')),
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    resolved_at TEXT,
    triage TEXT,
    triage_reason TEXT,
    triage_expires TEXT,
    triaged_by TEXT,
    triaged_at TEXT,
    ecosystem TEXT,
    package_key TEXT,
    version TEXT,
    matched TEXT,
    first_generation INTEGER,
    last_changed_generation INTEGER,
    UNIQUE (project_id, identity)
);
INSERT INTO findings_v2 (id, project_id, identity, rule, severity, package, advisory, source, body,
    state, first_seen, last_seen, resolved_at, triage, triage_reason, triage_expires, triaged_by, triaged_at)
SELECT id, project_id, identity, rule, severity, package, advisory, source, body,
    state, first_seen, last_seen, resolved_at, triage, triage_reason, triage_expires, triaged_by, triaged_at
FROM findings;

CREATE TABLE triage_audit_v2 (
    id INTEGER PRIMARY KEY,
    finding_id INTEGER NOT NULL REFERENCES findings_v2 (id),
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    triage TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires TEXT,
    previous_state TEXT NOT NULL
);
INSERT INTO triage_audit_v2 (id, finding_id, actor, at, triage, reason, expires, previous_state)
SELECT id, finding_id, actor, at, triage, reason, expires, previous_state FROM triage_audit;

DROP TABLE triage_audit;
DROP TABLE findings;
ALTER TABLE findings_v2 RENAME TO findings;
ALTER TABLE triage_audit_v2 RENAME TO triage_audit;
CREATE INDEX findings_by_advisory ON findings (advisory);
CREATE INDEX triage_audit_by_finding ON triage_audit (finding_id);

-- Pinned advisory findings of earlier uploads become the monitor's (identity `osv|…`); the
-- package triple and the match are read back from their body on first use.
UPDATE findings SET identity = 'osv|' || substr(identity, 10)
WHERE rule IN ('dependency-vulnerable', 'dependency-malicious-package')
  AND identity LIKE 'advisory|%'
  AND json_extract(body, '$.package.version') IS NOT NULL;

-- The SQL inventory index: the distinct (ecosystem, normalised name, version) triples each
-- project holds. Distinct versions per package key and the projects holding a triple are both
-- prefix scans of the primary key.
CREATE TABLE inventory_triples (
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    PRIMARY KEY (ecosystem, name, version, project_id)
) WITHOUT ROWID;
CREATE INDEX inventory_triples_by_project ON inventory_triples (project_id);

-- The monitor's progress over advisory generations: one row per claimed range
-- (from_generation, to_generation]. The highest to_generation is the cursor; a `running` row
-- whose lease ran out is taken over by another process.
CREATE TABLE monitor_ranges (
    to_generation INTEGER PRIMARY KEY,
    from_generation INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'done')),
    claimed_by TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    projects INTEGER NOT NULL DEFAULT 0,
    triples INTEGER NOT NULL DEFAULT 0
);

-- The outbox: events written in the same transaction as the change they describe.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    project_id INTEGER REFERENCES projects (id),
    severity TEXT,
    generation INTEGER,
    data TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX events_by_project ON events (project_id, id);

-- Webhook endpoints of a team. The secret signs deliveries, so it is kept (never shown again).
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    min_severity TEXT,
    projects TEXT,
    secret TEXT NOT NULL,
    created TEXT NOT NULL,
    created_by TEXT NOT NULL,
    disabled_at TEXT,
    disabled_reason TEXT
);
CREATE INDEX webhooks_by_team ON webhooks (team_id, id);

-- One delivery per event and endpoint, claimed with a lease, retried with backoff.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events (id),
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    locked_by TEXT,
    locked_until TEXT,
    last_attempt_at TEXT,
    last_status INTEGER,
    last_error TEXT,
    last_excerpt TEXT,
    delivered_at TEXT,
    created TEXT NOT NULL,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, id);
