//! The monitor's part of the store (issue 12): per-project re-match state, advisory findings
//! as mlvet-monitor sees them, the SQL inventory index, claimed generation ranges, the outbox
//! (events) and webhook deliveries.
//!
//! The store stays free of matching and JSON: the service's monitor decides what to write and
//! calls [`MonitorTx`] inside one transaction, so that findings, events, deliveries and the
//! project's `matched_generation` change together or not at all.
//!
//! # Serialisation
//!
//! - One re-match per project at a time: [`MonitorTx::lock_project`] takes the project's row
//!   lock on PostgreSQL (`SELECT … FOR UPDATE`); SQLite serialises all writers anyway.
//! - Claiming a generation range and reading the inventory index for it runs under an exclusive
//!   transaction-level advisory lock ([`Store::monitor_exclusive`]); uploads and full re-matches
//!   take it shared ([`Store::monitor`], [`Store::complete_upload_with`]). So an upload either
//!   committed before a range was claimed (and the range's fan-out sees its inventory) or it
//!   reads the new cursor and matches at a generation at least that new.

use crate::db::{P, Row, Tx};
use crate::{
    PackageRecord, Project, Store, StoreError, StoredFinding, StoredPackage, Triage, now_rfc3339,
    project_from, time, today,
};

/// The PostgreSQL advisory lock key of range claims (exclusive) against uploads (shared).
const MONITOR_LOCK: i64 = 7_283_012;

/// A project as the monitor locks it.
#[derive(Debug, Clone)]
pub struct ProjectState {
    pub project: Project,
    /// The advisory generation its findings were last matched at (0: never).
    pub matched_generation: u64,
    /// The matcher version of that match (`None`: never matched by the monitor).
    pub matcher_version: Option<String>,
}

/// A stored advisory finding (identity `osv|…`), as the monitor reads it.
#[derive(Debug, Clone)]
pub struct MonitorFinding {
    pub id: i64,
    pub identity: String,
    /// The stored state: `open`, `suppressed`, `resolved` or `retracted`.
    pub state: String,
    pub rule: String,
    pub severity: String,
    pub advisory: Option<String>,
    pub source: String,
    pub body: String,
    /// The package triple matched; `None` on rows written before the monitor (read the body).
    pub ecosystem: Option<String>,
    pub package_key: Option<String>,
    pub version: Option<String>,
    /// The monitor's match (JSON); `None` on rows written before the monitor.
    pub matched: Option<String>,
    pub first_generation: Option<i64>,
    pub last_changed_generation: Option<i64>,
    /// The triage, when one applies today (an expired one is `None`).
    pub live_triage: Option<Triage>,
}

/// An advisory finding to write (insert or update by `(project, identity)`).
#[derive(Debug, Clone)]
pub struct FindingWrite<'a> {
    pub identity: &'a str,
    pub rule: &'a str,
    pub severity: &'a str,
    pub package: Option<&'a str>,
    pub advisory: Option<&'a str>,
    pub source: &'a str,
    pub body: &'a str,
    /// The lifecycle state: `open`, `resolved` or `retracted` (an open finding under a live
    /// triage is stored `suppressed`).
    pub lifecycle: &'a str,
    pub ecosystem: &'a str,
    pub package_key: &'a str,
    pub version: &'a str,
    pub matched: &'a str,
    pub first_generation: i64,
    pub last_changed_generation: i64,
}

/// An event for the outbox.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// `msg_…`: the stable id deliveries send as `webhook-id`.
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub team_id: i64,
    pub project_id: Option<i64>,
    pub severity: Option<&'a str>,
    pub generation: Option<i64>,
    /// The event's `data` (JSON text).
    pub data: &'a str,
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub team_id: i64,
    pub project_id: Option<i64>,
    pub severity: Option<String>,
    pub generation: Option<i64>,
    pub data: String,
    pub created: String,
}

/// A webhook endpoint (never with its secret).
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: i64,
    pub team_id: i64,
    pub url: String,
    /// JSON array of event types.
    pub events: String,
    pub min_severity: Option<String>,
    /// JSON array of project ids, `None` for every project of the team.
    pub projects: Option<String>,
    pub created: String,
    pub created_by: String,
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
}

/// A new webhook endpoint.
#[derive(Debug, Clone)]
pub struct NewWebhook<'a> {
    pub team_id: i64,
    pub url: &'a str,
    pub events: &'a str,
    pub min_severity: Option<&'a str>,
    pub projects: Option<&'a str>,
    pub secret: &'a str,
    pub created_by: &'a str,
}

/// One delivery of an event to an endpoint, for the delivery log.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub event: EventRecord,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_attempt_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_excerpt: Option<String>,
    pub delivered_at: Option<String>,
    pub created: String,
}

/// A delivery claimed for sending, with what signing and sending need.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    pub webhook_id: i64,
    pub url: String,
    pub secret: String,
    pub event: EventRecord,
}

/// The result of one attempt, as the store records it.
#[derive(Debug, Clone)]
pub enum AttemptResult<'a> {
    Delivered {
        status: i64,
        excerpt: &'a str,
    },
    /// Try again after `delay_seconds`.
    Retry {
        status: Option<i64>,
        error: Option<&'a str>,
        excerpt: &'a str,
        delay_seconds: i64,
    },
    /// Give up on this delivery (retries exhausted, destination refused).
    Failed {
        status: Option<i64>,
        error: &'a str,
        excerpt: &'a str,
    },
    /// The endpoint answered `410 Gone`: disable it; its pending deliveries fail.
    Disable {
        status: i64,
        reason: &'a str,
        excerpt: &'a str,
    },
}

/// A claimed generation range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedRange {
    pub from: u64,
    pub to: u64,
    /// Another process claimed it and its lease ran out: this is a take-over.
    pub resumed: bool,
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The monitor's view of one write transaction.
pub struct MonitorTx<'a, 'c> {
    tx: &'a mut Tx<'c>,
}

impl MonitorTx<'_, '_> {
    pub fn is_postgres(&self) -> bool {
        self.tx.is_postgres()
    }

    /// The project with its monitor state, locked until the transaction ends (PostgreSQL row
    /// lock; SQLite's write transaction already excludes every other writer).
    pub fn lock_project(&mut self, project_id: i64) -> Result<Option<ProjectState>, StoreError> {
        let lock = if self.tx.is_postgres() {
            " FOR UPDATE"
        } else {
            ""
        };
        let row = self.tx.query_opt(
            &format!(
                "SELECT id, team_id, name, created, matched_generation, matcher_version FROM projects WHERE id = $1{lock}"
            ),
            &[P::Int(project_id)],
        )?;
        row.map(|row| {
            Ok(ProjectState {
                project: project_from(&row)?,
                matched_generation: to_u64(row.int(4)?),
                matcher_version: row.opt_text(5)?,
            })
        })
        .transpose()
    }

    /// The monitor's cursor: the highest generation range ever claimed (`None`: none yet).
    pub fn cursor(&mut self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .tx
            .query_one("SELECT MAX(to_generation) FROM monitor_ranges", &[])?
            .opt_int(0)?
            .map(to_u64))
    }

    /// Every package of the project's sources.
    pub fn packages(&mut self, project_id: i64) -> Result<Vec<StoredPackage>, StoreError> {
        self.tx
            .query(
                "SELECT s.filename, p.ecosystem, p.name, p.version, p.requirement, p.purl, p.ml, p.line
                 FROM packages p JOIN sources s ON s.id = p.source_id WHERE p.project_id = $1
                 ORDER BY s.filename, p.id",
                &[P::Int(project_id)],
            )?
            .iter()
            .map(stored_package_from)
            .collect()
    }

    /// Replaces the project's entries of the inventory index with `triples`
    /// (`(ecosystem, normalised name, version)`, any order, duplicates allowed). Only the
    /// difference is written: a re-match of an unchanged inventory (a matcher upgrade re-matches
    /// every project) reads the index and writes nothing.
    pub fn replace_triples(
        &mut self,
        project_id: i64,
        triples: &[(String, String, String)],
    ) -> Result<(), StoreError> {
        let wanted: std::collections::BTreeSet<&(String, String, String)> =
            triples.iter().collect();
        let stored: std::collections::BTreeSet<(String, String, String)> = self
            .tx
            .query(
                "SELECT ecosystem, name, version FROM inventory_triples WHERE project_id = $1",
                &[P::Int(project_id)],
            )?
            .iter()
            .map(|row| Ok((row.text(0)?, row.text(1)?, row.text(2)?)))
            .collect::<Result<_, StoreError>>()?;
        let removed: Vec<&(String, String, String)> =
            stored.iter().filter(|t| !wanted.contains(t)).collect();
        // Many removed (a different inventory): one statement, then everything is inserted.
        let rewrite = removed.len() > 32;
        if rewrite {
            self.tx.exec(
                "DELETE FROM inventory_triples WHERE project_id = $1",
                &[P::Int(project_id)],
            )?;
        }
        for (ecosystem, name, version) in removed.into_iter().filter(|_| !rewrite) {
            self.tx.exec(
                "DELETE FROM inventory_triples WHERE project_id = $1 AND ecosystem = $2 AND name = $3 AND version = $4",
                &[
                    P::Int(project_id),
                    P::Text(ecosystem),
                    P::Text(name),
                    P::Text(version),
                ],
            )?;
        }
        let rows: Vec<Vec<P<'_>>> = wanted
            .iter()
            .filter(|t| rewrite || !stored.contains(**t))
            .map(|(ecosystem, name, version)| {
                vec![
                    P::Text(ecosystem),
                    P::Text(name),
                    P::Text(version),
                    P::Int(project_id),
                ]
            })
            .collect();
        crate::insert_rows(
            self.tx,
            "INSERT INTO inventory_triples (ecosystem, name, version, project_id) VALUES ",
            &[],
            &rows,
            "",
            "",
        )
    }

    /// The distinct versions of a package key any project holds, sorted (the index's first
    /// use: which versions a delta must re-match).
    pub fn versions(&mut self, ecosystem: &str, name: &str) -> Result<Vec<String>, StoreError> {
        self.tx
            .query(
                "SELECT DISTINCT version FROM inventory_triples WHERE ecosystem = $1 AND name = $2 ORDER BY version",
                &[P::Text(ecosystem), P::Text(name)],
            )?
            .iter()
            .map(|row| row.text(0))
            .collect()
    }

    /// The projects holding a triple, sorted (the index's second use: the fan-out).
    pub fn projects_holding(
        &mut self,
        ecosystem: &str,
        name: &str,
        version: &str,
    ) -> Result<Vec<i64>, StoreError> {
        self.tx
            .query(
                "SELECT project_id FROM inventory_triples WHERE ecosystem = $1 AND name = $2 AND version = $3 ORDER BY project_id",
                &[P::Text(ecosystem), P::Text(name), P::Text(version)],
            )?
            .iter()
            .map(|row| row.int(0))
            .collect()
    }

    /// The project's advisory findings (identity `osv|…`), every state.
    pub fn findings(&mut self, project_id: i64) -> Result<Vec<MonitorFinding>, StoreError> {
        self.findings_where(project_id, "", &[])
    }

    /// The project's advisory findings on the package keys `keys` (`(ecosystem, normalised
    /// name)`), every state, and those stored before the monitor without the key columns (the
    /// caller reads their package from the body). What an advisory delta's reconciliation
    /// needs: a project's other findings (and their bodies) are not read.
    pub fn findings_on(
        &mut self,
        project_id: i64,
        keys: &[(String, String)],
    ) -> Result<Vec<MonitorFinding>, StoreError> {
        let mut condition =
            String::from(" AND (ecosystem IS NULL OR package_key IS NULL OR version IS NULL");
        let mut params = Vec::with_capacity(keys.len() * 2);
        for (index, (ecosystem, name)) in keys.iter().enumerate() {
            condition.push_str(&format!(
                " OR (ecosystem = ${} AND package_key = ${})",
                2 * index + 2,
                2 * index + 3
            ));
            params.push(P::Text(ecosystem));
            params.push(P::Text(name));
        }
        condition.push(')');
        self.findings_where(project_id, &condition, &params)
    }

    fn findings_where(
        &mut self,
        project_id: i64,
        condition: &str,
        extra: &[P<'_>],
    ) -> Result<Vec<MonitorFinding>, StoreError> {
        let today = today();
        let mut params = vec![P::Int(project_id)];
        params.extend_from_slice(extra);
        self.tx
            .query(
                &format!(
                    "SELECT id, identity, state, rule, severity, advisory, source, body, ecosystem, package_key, version,
                        matched, first_generation, last_changed_generation,
                        triage, triage_reason, triage_expires, triaged_by, triaged_at
                 FROM findings WHERE project_id = $1 AND identity LIKE 'osv|%'{condition} ORDER BY id"
                ),
                &params,
            )?
            .iter()
            .map(|row| {
                let triage = match row.opt_text(14)? {
                    Some(triage) => Some(Triage {
                        triage,
                        reason: row.opt_text(15)?.unwrap_or_default(),
                        expires: row.opt_text(16)?,
                        by: row.opt_text(17)?.unwrap_or_default(),
                        at: row.opt_text(18)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                let live_triage = triage.filter(|t| {
                    t.expires
                        .as_deref()
                        .is_none_or(|expires| expires >= today.as_str())
                });
                Ok(MonitorFinding {
                    id: row.int(0)?,
                    identity: row.text(1)?,
                    state: row.text(2)?,
                    rule: row.text(3)?,
                    severity: row.text(4)?,
                    advisory: row.opt_text(5)?,
                    source: row.text(6)?,
                    body: row.text(7)?,
                    ecosystem: row.opt_text(8)?,
                    package_key: row.opt_text(9)?,
                    version: row.opt_text(10)?,
                    matched: row.opt_text(11)?,
                    first_generation: row.opt_int(12)?,
                    last_changed_generation: row.opt_int(13)?,
                    live_triage,
                })
            })
            .collect()
    }

    /// Inserts or updates an advisory finding by `(project, identity)`; returns its id. The
    /// triage is never touched: an open finding under a live triage is stored `suppressed`.
    pub fn write_finding(
        &mut self,
        project_id: i64,
        finding: &FindingWrite<'_>,
    ) -> Result<i64, StoreError> {
        let now = now_rfc3339();
        let today = today();
        let open = finding.lifecycle == "open";
        let resolved_at: Option<&str> = (!open).then_some(now.as_str());
        self.tx
            .query_one(
                "INSERT INTO findings (project_id, identity, rule, severity, package, advisory, source, body, state,
                    first_seen, last_seen, resolved_at, ecosystem, package_key, version, matched,
                    first_generation, last_changed_generation)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                 ON CONFLICT (project_id, identity) DO UPDATE SET
                    rule = excluded.rule, severity = excluded.severity, package = excluded.package,
                    advisory = excluded.advisory, source = excluded.source, body = excluded.body,
                    ecosystem = excluded.ecosystem, package_key = excluded.package_key,
                    version = excluded.version, matched = excluded.matched,
                    first_generation = COALESCE(findings.first_generation, excluded.first_generation),
                    last_changed_generation = excluded.last_changed_generation,
                    last_seen = CASE WHEN excluded.state = 'open' THEN excluded.last_seen ELSE findings.last_seen END,
                    resolved_at = CASE WHEN excluded.state = 'open' THEN NULL
                                       WHEN findings.state IN ('resolved', 'retracted') THEN findings.resolved_at
                                       ELSE excluded.resolved_at END,
                    state = CASE WHEN excluded.state = 'open' AND findings.triage IS NOT NULL
                                      AND (findings.triage_expires IS NULL OR findings.triage_expires >= $19)
                                 THEN 'suppressed' ELSE excluded.state END
                 RETURNING id",
                &[
                    P::Int(project_id),
                    P::Text(finding.identity),
                    P::Text(finding.rule),
                    P::Text(finding.severity),
                    finding.package.into(),
                    finding.advisory.into(),
                    P::Text(finding.source),
                    P::Text(finding.body),
                    P::Text(finding.lifecycle),
                    P::Text(&today),
                    P::Text(&now),
                    resolved_at.into(),
                    P::Text(finding.ecosystem),
                    P::Text(finding.package_key),
                    P::Text(finding.version),
                    P::Text(finding.matched),
                    P::Int(finding.first_generation),
                    P::Int(finding.last_changed_generation),
                    P::Text(&today),
                ],
            )?
            .int(0)
    }

    /// A finding as the API shows it (for event payloads written in this transaction).
    pub fn stored_finding(&mut self, id: i64) -> Result<StoredFinding, StoreError> {
        let today = today();
        let row = self.tx.query_one(
            &format!("{} WHERE f.id = $1", crate::FINDING_SELECT),
            &[P::Int(id)],
        )?;
        crate::finding_from(&row, &today)
    }

    /// The team's enabled webhook endpoints (the event fan-out filters them).
    pub fn enabled_webhooks(&mut self, team_id: i64) -> Result<Vec<Webhook>, StoreError> {
        self.tx
            .query(
                &format!("{WEBHOOK_SELECT} WHERE team_id = $1 AND disabled_at IS NULL ORDER BY id"),
                &[P::Int(team_id)],
            )?
            .iter()
            .map(webhook_from)
            .collect()
    }

    /// Writes an event to the outbox; returns its row id.
    pub fn insert_event(&mut self, event: &NewEvent<'_>) -> Result<i64, StoreError> {
        self.tx
            .query_one(
                "INSERT INTO events (event_id, type, team_id, project_id, severity, generation, data, created)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    P::Text(event.event_id),
                    P::Text(event.event_type),
                    P::Int(event.team_id),
                    event.project_id.into(),
                    event.severity.into(),
                    event.generation.into(),
                    P::Text(event.data),
                    P::Text(&now_rfc3339()),
                ],
            )?
            .int(0)
    }

    /// Queues the delivery of an event to an endpoint, due now.
    pub fn insert_delivery(&mut self, event: i64, webhook: i64) -> Result<(), StoreError> {
        let now = now_rfc3339();
        self.tx.exec(
            "INSERT INTO deliveries (event_id, webhook_id, state, attempts, next_attempt_at, created)
             VALUES ($1, $2, 'pending', 0, $3, $3) ON CONFLICT (event_id, webhook_id) DO NOTHING",
            &[P::Int(event), P::Int(webhook), P::Text(&now)],
        )?;
        Ok(())
    }

    /// Records the generation and matcher version the project's findings now reflect.
    pub fn stamp(
        &mut self,
        project_id: i64,
        generation: u64,
        matcher_version: &str,
    ) -> Result<(), StoreError> {
        self.tx.exec(
            "UPDATE projects SET matched_generation = $1, matcher_version = $2 WHERE id = $3",
            &[
                P::Int(to_i64(generation)),
                P::Text(matcher_version),
                P::Int(project_id),
            ],
        )?;
        Ok(())
    }

    /// The teams with at least one project (`advisories.updated` is written per team).
    pub fn teams_with_projects(&mut self) -> Result<Vec<i64>, StoreError> {
        self.tx
            .query(
                "SELECT DISTINCT team_id FROM projects ORDER BY team_id",
                &[],
            )?
            .iter()
            .map(|row| row.int(0))
            .collect()
    }

    /// The team of each project, for `projects` (sorted ids).
    pub fn project_teams(&mut self, projects: &[i64]) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut out = Vec::with_capacity(projects.len());
        for chunk in projects.chunks(500) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            // Integers only: formatted here, never taken from input.
            let rows = self.tx.query(
                &format!(
                    "SELECT id, team_id FROM projects WHERE id IN ({}) ORDER BY id",
                    list.join(", ")
                ),
                &[],
            )?;
            for row in rows {
                out.push((row.int(0)?, row.int(1)?));
            }
        }
        Ok(out)
    }

    // ---- generation ranges ----

    /// Claims the next range of generations, `(cursor, to]`, or takes over a `running` range
    /// whose lease ran out (a process died mid-range), or resumes one `worker` itself left
    /// unfinished (its tick failed: the database restarted, say; worker names are unique per
    /// process and a process runs one tick at a time). `initial` is the cursor when none was
    /// ever claimed (the generation the store started at: nothing before it is re-matched).
    /// `None` when there is nothing to do. Call under [`Store::monitor_exclusive`].
    pub fn claim_range(
        &mut self,
        to: u64,
        initial: u64,
        worker: &str,
        lease_seconds: i64,
    ) -> Result<Option<ClaimedRange>, StoreError> {
        let now = now_rfc3339();
        let until = time::rfc3339_after_seconds(lease_seconds);
        let stale = self.tx.query_opt(
            "SELECT from_generation, to_generation FROM monitor_ranges
             WHERE state = 'running' AND (lease_until < $1 OR claimed_by = $2)
             ORDER BY to_generation LIMIT 1",
            &[P::Text(&now), P::Text(worker)],
        )?;
        if let Some(row) = stale {
            let (from, to) = (row.int(0)?, row.int(1)?);
            self.tx.exec(
                "UPDATE monitor_ranges SET claimed_by = $1, lease_until = $2 WHERE to_generation = $3",
                &[P::Text(worker), P::Text(&until), P::Int(to)],
            )?;
            return Ok(Some(ClaimedRange {
                from: to_u64(from),
                to: to_u64(to),
                resumed: true,
            }));
        }
        let cursor = self.cursor()?;
        let from = match cursor {
            Some(cursor) => cursor,
            None => {
                // First start: the store begins at the database's generation.
                self.tx.exec(
                    "INSERT INTO monitor_ranges (to_generation, from_generation, state, claimed_by, lease_until, started, finished)
                     VALUES ($1, $1, 'done', $2, $3, $3, $3)",
                    &[P::Int(to_i64(initial)), P::Text(worker), P::Text(&now)],
                )?;
                initial
            }
        };
        if to <= from {
            return Ok(None);
        }
        self.tx.exec(
            "INSERT INTO monitor_ranges (to_generation, from_generation, state, claimed_by, lease_until, started)
             VALUES ($1, $2, 'running', $3, $4, $5)",
            &[
                P::Int(to_i64(to)),
                P::Int(to_i64(from)),
                P::Text(worker),
                P::Text(&until),
                P::Text(&now),
            ],
        )?;
        Ok(Some(ClaimedRange {
            from,
            to,
            resumed: false,
        }))
    }

    /// Starts the cursor at `initial` when no range was ever claimed (the first start of a
    /// store: generations before it are not re-matched, uploads match at the current one).
    pub fn init_cursor(&mut self, initial: u64) -> Result<(), StoreError> {
        if self.cursor()?.is_none() {
            let now = now_rfc3339();
            self.tx.exec(
                "INSERT INTO monitor_ranges (to_generation, from_generation, state, claimed_by, lease_until, started, finished)
                 VALUES ($1, $1, 'done', 'init', $2, $2, $2) ON CONFLICT (to_generation) DO NOTHING",
                &[P::Int(to_i64(initial)), P::Text(&now)],
            )?;
        }
        Ok(())
    }

    /// Marks a range done. Projects not re-matched for it held none of the triples it
    /// changed: their findings reflect `to` as well, and are stamped so.
    pub fn finish_range(
        &mut self,
        range: &ClaimedRange,
        matcher_version: &str,
        projects: usize,
        triples: usize,
    ) -> Result<(), StoreError> {
        self.tx.exec(
            "UPDATE monitor_ranges SET state = 'done', finished = $1, projects = $2, triples = $3 WHERE to_generation = $4",
            &[
                P::Text(&now_rfc3339()),
                P::Int(i64::try_from(projects).unwrap_or(i64::MAX)),
                P::Int(i64::try_from(triples).unwrap_or(i64::MAX)),
                P::Int(to_i64(range.to)),
            ],
        )?;
        self.tx.exec(
            "UPDATE projects SET matched_generation = $1
             WHERE matched_generation < $1 AND matcher_version = $2",
            &[P::Int(to_i64(range.to)), P::Text(matcher_version)],
        )?;
        Ok(())
    }

    /// Extends the lease of a range being processed.
    pub fn renew_range(
        &mut self,
        range: &ClaimedRange,
        worker: &str,
        lease_seconds: i64,
    ) -> Result<(), StoreError> {
        self.tx.exec(
            "UPDATE monitor_ranges SET lease_until = $1 WHERE to_generation = $2 AND claimed_by = $3",
            &[
                P::Text(&time::rfc3339_after_seconds(lease_seconds)),
                P::Int(to_i64(range.to)),
                P::Text(worker),
            ],
        )?;
        Ok(())
    }

    /// Projects whose findings were matched by another matcher version (or never by the
    /// monitor), oldest first: each is re-matched in full once.
    pub fn projects_to_rematch(
        &mut self,
        matcher_version: &str,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        self.tx
            .query(
                "SELECT id FROM projects WHERE matcher_version IS NULL OR matcher_version <> $1 ORDER BY id LIMIT $2",
                &[P::Text(matcher_version), P::Int(limit)],
            )?
            .iter()
            .map(|row| row.int(0))
            .collect()
    }
}

fn stored_package_from(row: &Row) -> Result<StoredPackage, StoreError> {
    Ok(StoredPackage {
        source: row.text(0)?,
        package: PackageRecord {
            ecosystem: row.text(1)?,
            name: row.text(2)?,
            version: row.opt_text(3)?,
            requirement: row.opt_text(4)?,
            purl: row.opt_text(5)?,
            ml: row.int(6)? != 0,
            line: row.opt_int(7)?,
            // The monitor matches versions; it never needs the graph.
            depends_on: None,
            direct: false,
        },
    })
}

const WEBHOOK_SELECT: &str = "SELECT id, team_id, url, events, min_severity, projects, created, created_by, disabled_at, disabled_reason FROM webhooks";

fn webhook_from(row: &Row) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        id: row.int(0)?,
        team_id: row.int(1)?,
        url: row.text(2)?,
        events: row.text(3)?,
        min_severity: row.opt_text(4)?,
        projects: row.opt_text(5)?,
        created: row.text(6)?,
        created_by: row.text(7)?,
        disabled_at: row.opt_text(8)?,
        disabled_reason: row.opt_text(9)?,
    })
}

const EVENT_COLUMNS: &str = "e.id, e.event_id, e.type, e.team_id, e.project_id, e.severity, e.generation, e.data, e.created";

fn event_from(row: &Row, at: usize) -> Result<EventRecord, StoreError> {
    Ok(EventRecord {
        id: row.int(at)?,
        event_id: row.text(at + 1)?,
        event_type: row.text(at + 2)?,
        team_id: row.int(at + 3)?,
        project_id: row.opt_int(at + 4)?,
        severity: row.opt_text(at + 5)?,
        generation: row.opt_int(at + 6)?,
        data: row.text(at + 7)?,
        created: row.text(at + 8)?,
    })
}

fn delivery_from(row: &Row) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: row.int(0)?,
        webhook_id: row.int(1)?,
        state: row.text(2)?,
        attempts: row.int(3)?,
        next_attempt_at: row.text(4)?,
        last_attempt_at: row.opt_text(5)?,
        last_status: row.opt_int(6)?,
        last_error: row.opt_text(7)?,
        last_excerpt: row.opt_text(8)?,
        delivered_at: row.opt_text(9)?,
        created: row.text(10)?,
        event: event_from(row, 11)?,
    })
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.webhook_id, d.state, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, d.last_excerpt, d.delivered_at, d.created";

impl Store {
    /// Runs monitor work in one write transaction, holding the monitor lock shared (uploads,
    /// full re-matches, per-project delta writes).
    pub fn monitor<T>(
        &self,
        work: impl FnOnce(&mut MonitorTx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(|tx| {
            monitor_lock(tx, false)?;
            work(&mut MonitorTx { tx })
        })
    }

    /// Runs monitor work holding the monitor lock exclusively (claiming a generation range and
    /// reading the inventory index for it).
    pub fn monitor_exclusive<T>(
        &self,
        work: impl FnOnce(&mut MonitorTx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(|tx| {
            monitor_lock(tx, true)?;
            work(&mut MonitorTx { tx })
        })
    }

    /// Ends a job that failed and runs `monitor` (the `inventory.failed` event) in the same
    /// transaction.
    ///
    /// The lease must still be `job`'s claim ([`StoreError::LeaseLost`] otherwise: a reclaimed
    /// job's late worker records nothing).
    pub fn fail_job_with(
        &self,
        job: &crate::Job,
        error: &str,
        monitor: impl FnOnce(&mut MonitorTx<'_, '_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            crate::queue::confirm_lease(tx, job)?;
            monitor_lock(tx, false)?;
            crate::fail_job_in(tx, job.id, error)?;
            monitor(&mut MonitorTx { tx })
        })
    }

    // ---- webhooks ----

    pub fn create_webhook(&self, new: &NewWebhook<'_>) -> Result<Webhook, StoreError> {
        let id = self.write(|tx| {
            tx.query_one(
                "INSERT INTO webhooks (team_id, url, events, min_severity, projects, secret, created, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    P::Int(new.team_id),
                    P::Text(new.url),
                    P::Text(new.events),
                    new.min_severity.into(),
                    new.projects.into(),
                    P::Text(new.secret),
                    P::Text(&now_rfc3339()),
                    P::Text(new.created_by),
                ],
            )?
            .int(0)
        })?;
        self.webhook(new.team_id, id)?.ok_or(StoreError::NotFound)
    }

    pub fn webhooks(&self, team_id: i64) -> Result<Vec<Webhook>, StoreError> {
        self.read(|tx| {
            tx.query(
                &format!("{WEBHOOK_SELECT} WHERE team_id = $1 ORDER BY id"),
                &[P::Int(team_id)],
            )?
            .iter()
            .map(webhook_from)
            .collect()
        })
    }

    /// The webhook `id` if it belongs to `team_id`.
    pub fn webhook(&self, team_id: i64, id: i64) -> Result<Option<Webhook>, StoreError> {
        self.read(|tx| {
            tx.query_opt(
                &format!("{WEBHOOK_SELECT} WHERE id = $1 AND team_id = $2"),
                &[P::Int(id), P::Int(team_id)],
            )?
            .as_ref()
            .map(webhook_from)
            .transpose()
        })
    }

    /// Deletes the webhook `id` of `team_id` with its delivery log; `false` when not found.
    pub fn delete_webhook(&self, team_id: i64, id: i64) -> Result<bool, StoreError> {
        self.write(|tx| {
            let found = tx.query_opt(
                "SELECT id FROM webhooks WHERE id = $1 AND team_id = $2",
                &[P::Int(id), P::Int(team_id)],
            )?;
            if found.is_none() {
                return Ok(false);
            }
            tx.exec(
                "DELETE FROM deliveries WHERE webhook_id = $1",
                &[P::Int(id)],
            )?;
            tx.exec("DELETE FROM webhooks WHERE id = $1", &[P::Int(id)])?;
            Ok(true)
        })
    }

    /// The webhook's deliveries, newest first.
    pub fn deliveries(&self, webhook_id: i64, limit: i64) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries_before(webhook_id, None, limit)
    }

    /// A page of the delivery log, newest first: deliveries with an id below `before` (the
    /// last id of the previous page), at most `limit`.
    pub fn deliveries_before(
        &self,
        webhook_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.read(|tx| {
            tx.query(
                &format!(
                    "{DELIVERY_SELECT}, {EVENT_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
                     WHERE d.webhook_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3"
                ),
                &[
                    P::Int(webhook_id),
                    P::Int(before.unwrap_or(i64::MAX)),
                    P::Int(limit),
                ],
            )?
            .iter()
            .map(delivery_from)
            .collect()
        })
    }

    fn delivery(&self, webhook_id: i64, id: i64) -> Result<Option<Delivery>, StoreError> {
        self.read(|tx| {
            tx.query_opt(
                &format!(
                    "{DELIVERY_SELECT}, {EVENT_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
                     WHERE d.webhook_id = $1 AND d.id = $2"
                ),
                &[P::Int(webhook_id), P::Int(id)],
            )?
            .as_ref()
            .map(delivery_from)
            .transpose()
        })
    }

    /// Sends a delivery again, now, with a fresh retry schedule (the same `webhook-id`).
    /// `Ok(None)` when the webhook (of `team_id`) or the delivery is unknown;
    /// [`StoreError::Conflict`] when the endpoint is disabled.
    pub fn replay_delivery(
        &self,
        team_id: i64,
        webhook_id: i64,
        id: i64,
    ) -> Result<Option<Delivery>, StoreError> {
        let Some(webhook) = self.webhook(team_id, webhook_id)? else {
            return Ok(None);
        };
        if webhook.disabled_at.is_some() {
            return Err(StoreError::Conflict(
                "the webhook is disabled; a replay".to_string(),
            ));
        }
        let changed = self.write(|tx| {
            tx.exec(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, locked_by = NULL, locked_until = NULL
                 WHERE id = $2 AND webhook_id = $3",
                &[P::Text(&now_rfc3339()), P::Int(id), P::Int(webhook_id)],
            )
        })?;
        if changed == 0 {
            return Ok(None);
        }
        self.delivery(webhook_id, id)
    }

    /// Claims up to `limit` due deliveries of enabled endpoints for `worker`, leased for
    /// `lease_seconds` (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers never
    /// claim the same row).
    pub fn claim_deliveries(
        &self,
        worker: &str,
        lease_seconds: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = now_rfc3339();
        let until = time::rfc3339_after_seconds(lease_seconds);
        self.write(|tx| {
            let lock = if tx.is_postgres() {
                " FOR UPDATE OF d SKIP LOCKED"
            } else {
                ""
            };
            let ids: Vec<i64> = tx
                .query(
                    &format!(
                        "SELECT d.id FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
                         WHERE d.state = 'pending' AND d.next_attempt_at <= $1
                           AND (d.locked_until IS NULL OR d.locked_until < $1) AND w.disabled_at IS NULL
                         ORDER BY d.next_attempt_at, d.id LIMIT $2{lock}"
                    ),
                    &[P::Text(&now), P::Int(limit)],
                )?
                .iter()
                .map(|row| row.int(0))
                .collect::<Result<_, _>>()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                tx.exec(
                    "UPDATE deliveries SET locked_by = $1, locked_until = $2 WHERE id = $3",
                    &[P::Text(worker), P::Text(&until), P::Int(id)],
                )?;
                let row = tx.query_one(
                    &format!(
                        "SELECT d.id, d.attempts, w.id, w.url, w.secret, {EVENT_COLUMNS}
                         FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id
                         WHERE d.id = $1"
                    ),
                    &[P::Int(id)],
                )?;
                out.push(ClaimedDelivery {
                    id: row.int(0)?,
                    attempts: row.int(1)?,
                    webhook_id: row.int(2)?,
                    url: row.text(3)?,
                    secret: row.text(4)?,
                    event: event_from(&row, 5)?,
                });
            }
            Ok(out)
        })
    }

    /// Records an attempt of a claimed delivery (ignored when `worker` no longer holds it).
    pub fn record_attempt(
        &self,
        id: i64,
        worker: &str,
        result: &AttemptResult<'_>,
    ) -> Result<(), StoreError> {
        let now = now_rfc3339();
        self.write(|tx| {
            let held = tx.query_opt(
                "SELECT webhook_id FROM deliveries WHERE id = $1 AND locked_by = $2 AND state = 'pending'",
                &[P::Int(id), P::Text(worker)],
            )?;
            let Some(held) = held else {
                return Ok(());
            };
            let webhook = held.int(0)?;
            let (state, status, error, excerpt, next, delivered_at) = match result {
                AttemptResult::Delivered { status, excerpt } => (
                    "delivered",
                    Some(*status),
                    None,
                    *excerpt,
                    now.clone(),
                    Some(now.as_str()),
                ),
                AttemptResult::Retry {
                    status,
                    error,
                    excerpt,
                    delay_seconds,
                } => (
                    "pending",
                    *status,
                    *error,
                    *excerpt,
                    time::rfc3339_after_seconds(*delay_seconds),
                    None,
                ),
                AttemptResult::Failed {
                    status,
                    error,
                    excerpt,
                } => ("failed", *status, Some(*error), *excerpt, now.clone(), None),
                AttemptResult::Disable {
                    status,
                    reason,
                    excerpt,
                } => (
                    "failed",
                    Some(*status),
                    Some(*reason),
                    *excerpt,
                    now.clone(),
                    None,
                ),
            };
            tx.exec(
                "UPDATE deliveries SET state = $1, attempts = attempts + 1, last_attempt_at = $2, last_status = $3,
                    last_error = $4, last_excerpt = $5, next_attempt_at = $6, delivered_at = $7,
                    locked_by = NULL, locked_until = NULL
                 WHERE id = $8",
                &[
                    P::Text(state),
                    P::Text(&now),
                    status.into(),
                    error.into(),
                    P::Text(excerpt),
                    P::Text(&next),
                    delivered_at.into(),
                    P::Int(id),
                ],
            )?;
            if let AttemptResult::Disable { reason, .. } = result {
                tx.exec(
                    "UPDATE webhooks SET disabled_at = $1, disabled_reason = $2 WHERE id = $3 AND disabled_at IS NULL",
                    &[P::Text(&now), P::Text(reason), P::Int(webhook)],
                )?;
                tx.exec(
                    "UPDATE deliveries SET state = 'failed', last_error = $1, locked_by = NULL, locked_until = NULL
                     WHERE webhook_id = $2 AND state = 'pending'",
                    &[P::Text("the endpoint is disabled"), P::Int(webhook)],
                )?;
            }
            Ok(())
        })
    }

    /// Gives a claimed delivery back without an attempt (the endpoint's limits were reached),
    /// due again after `delay_seconds`.
    pub fn release_delivery(
        &self,
        id: i64,
        worker: &str,
        delay_seconds: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.exec(
                "UPDATE deliveries SET locked_by = NULL, locked_until = NULL, next_attempt_at = $1
                 WHERE id = $2 AND locked_by = $3 AND state = 'pending'",
                &[
                    P::Text(&time::rfc3339_after_seconds(delay_seconds)),
                    P::Int(id),
                    P::Text(worker),
                ],
            )?;
            Ok(())
        })
    }

    /// The project's events (the activity feed), newest first, before event row `before`.
    pub fn project_events(
        &self,
        project_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.read(|tx| {
            tx.query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events e WHERE e.project_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3"
                ),
                &[
                    P::Int(project_id),
                    P::Int(before.unwrap_or(i64::MAX)),
                    P::Int(limit),
                ],
            )?
            .iter()
            .map(|row| event_from(row, 0))
            .collect()
        })
    }

    /// Events of a team (every project and `advisories.updated`), oldest first, after row
    /// `after` (tests, tooling).
    pub fn team_events(
        &self,
        team_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.read(|tx| {
            tx.query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events e WHERE e.team_id = $1 AND e.id > $2 ORDER BY e.id LIMIT $3"
                ),
                &[P::Int(team_id), P::Int(after), P::Int(limit)],
            )?
            .iter()
            .map(|row| event_from(row, 0))
            .collect()
        })
    }

    /// The project's monitor state.
    pub fn project_monitor_state(
        &self,
        project_id: i64,
    ) -> Result<Option<(u64, Option<String>)>, StoreError> {
        self.read(|tx| {
            tx.query_opt(
                "SELECT matched_generation, matcher_version FROM projects WHERE id = $1",
                &[P::Int(project_id)],
            )?
            .map(|row| Ok((to_u64(row.int(0)?), row.opt_text(1)?)))
            .transpose()
        })
    }
}

/// The monitor's advisory lock on PostgreSQL (SQLite's write transaction is already exclusive).
fn monitor_lock(tx: &mut Tx<'_>, exclusive: bool) -> Result<(), StoreError> {
    if tx.is_postgres() {
        let function = if exclusive {
            "pg_advisory_xact_lock"
        } else {
            "pg_advisory_xact_lock_shared"
        };
        tx.exec(&format!("SELECT {function}($1)"), &[P::Int(MONITOR_LOCK)])?;
    }
    Ok(())
}

/// Takes the monitor lock shared at the start of an upload's transaction.
pub(crate) fn begin(tx: &mut Tx<'_>) -> Result<(), StoreError> {
    monitor_lock(tx, false)
}

/// Runs monitor work inside an existing transaction.
pub(crate) fn run(
    tx: &mut Tx<'_>,
    work: impl FnOnce(&mut MonitorTx<'_, '_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    work(&mut MonitorTx { tx })
}

/// Runs monitor work inside an existing transaction, taking the monitor lock shared first.
pub(crate) fn run_in<T>(
    tx: &mut Tx<'_>,
    work: impl FnOnce(&mut MonitorTx<'_, '_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    monitor_lock(tx, false)?;
    work(&mut MonitorTx { tx })
}
