//! The job queue (issue 12 §4): the `jobs` table claimed by any number of workers in any number
//! of processes, with PostgreSQL as the only coordination point.
//!
//! - **Claim**: the oldest due job (`queued` and past its `run_at`, or `running` with an
//!   expired lease) becomes `running` for the claiming worker until `locked_until`, and its
//!   `attempts` goes up by one. PostgreSQL: `FOR UPDATE SKIP LOCKED`, so claimers never wait on
//!   each other; SQLite: one writer at a time (`BEGIN IMMEDIATE`).
//! - **Lease**: short (30 s by default) and extended by the running worker's heartbeat; a job
//!   whose worker died is claimed again once its lease ran out.
//! - **Idempotent completion**: completing, failing, retrying or extending a job checks, under
//!   the job row's lock, that the lease still belongs to the caller's claim (worker *and*
//!   attempt): a worker that lost its lease gets [`StoreError::LeaseLost`] and its transaction,
//!   with everything the job wrote in it, rolls back. A reclaimed job thus records one result.
//! - **Dedupe keys**: at most one queued job per key (`ON CONFLICT DO NOTHING` on a partial
//!   unique index).
//! - **Concurrency keys**: at most one running job per key (`project:<id>`), enforced by a
//!   partial unique index; on PostgreSQL the claim also takes a transaction-level advisory lock
//!   on the key and re-reads, so two claimers racing for one project's jobs do not collide on
//!   that index (the loser simply takes another job).
//! - **Attempts**: a job claimed more than `max_attempts` times is handed to its worker marked
//!   exhausted ([`Job::exhausted`]), which fails it (with its event) instead of running it.
//!
//! Why plain SQL rather than a queue crate: the maintained PostgreSQL queues for Rust (apalis,
//! graphile_worker, underway, sqlxmq) are built on sqlx, cover PostgreSQL only, and would bring
//! a second database layer next to this crate's `rusqlite` + `postgres`; SQLite mode needs the
//! same table and the same rules, and the pattern is a few statements.

use crate::db::{P, Tx};
use crate::monitor::MonitorTx;
use crate::{Job, Store, StoreError, now_rfc3339, time};

/// The PostgreSQL advisory lock class of concurrency keys (`pg_try_advisory_xact_lock(class,
/// hashtext(key))`); other locks of the store use the one-argument form.
const CONCURRENCY_LOCK_CLASS: i64 = 7_283_003;

/// Due jobs looked at per claim (the first one that can run is taken).
const CANDIDATES: i64 = 4;

/// The concurrency key of a project's jobs: never two at once.
pub fn project_key(project_id: i64) -> String {
    format!("project:{project_id}")
}

/// The dedupe key of a project's full re-match (one queued at a time).
pub fn rematch_key(project_id: i64) -> String {
    format!("rematch:{project_id}")
}

/// The job kind of a project's full re-match (a new matcher version).
pub const KIND_REMATCH: &str = "rematch";

/// The job kind of an upload's scan.
pub const KIND_INVENTORY: &str = "inventory";

/// A job to queue that carries no upload.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub project_id: i64,
    pub kind: &'a str,
    /// At most one queued job per key; `None`: never deduplicated.
    pub dedupe_key: Option<&'a str>,
    /// At most one running job per key; `None`: the project's key.
    pub concurrency_key: Option<&'a str>,
    pub created_by: &'a str,
    /// Kept until the job ends, handed to the worker with the claim.
    pub payload: Option<&'a [u8]>,
}

/// Queue depth and age per kind and state (for `/healthz`, autoscaling, benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCount {
    pub kind: String,
    pub state: String,
    pub count: i64,
    /// The oldest job's creation time.
    pub oldest: Option<String>,
}

impl Job {
    /// Claimed more often than allowed: its workers kept dying (or losing the lease) on it.
    pub fn exhausted(&self) -> bool {
        self.attempt > self.max_attempts
    }
}

/// Checks, holding the job row's lock, that `job`'s claim still holds the lease: the row is
/// `running`, for the same worker and attempt.
pub(crate) fn confirm_lease(tx: &mut Tx<'_>, job: &Job) -> Result<(), StoreError> {
    let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
    let row = tx.query_opt(
        &format!("SELECT state, locked_by, attempts FROM jobs WHERE id = $1{lock}"),
        &[P::Int(job.id)],
    )?;
    let lost = StoreError::LeaseLost {
        job: job.id,
        attempt: job.attempt,
    };
    let Some(row) = row else {
        return Err(lost);
    };
    let holds = row.text(0)? == "running"
        && row.opt_text(1)? == job.locked_by
        && job.locked_by.is_some()
        && row.int(2)? == job.attempt;
    if holds { Ok(()) } else { Err(lost) }
}

fn finish_succeeded(tx: &mut Tx<'_>, job_id: i64) -> Result<(), StoreError> {
    tx.exec(
        "UPDATE jobs SET state = 'succeeded', finished = $1, locked_until = NULL, error = NULL WHERE id = $2",
        &[P::Text(&now_rfc3339()), P::Int(job_id)],
    )?;
    tx.exec(
        "DELETE FROM job_payloads WHERE job_id = $1",
        &[P::Int(job_id)],
    )?;
    Ok(())
}

/// Takes the first candidate that may run now. `None`: nothing due, or every due job is held.
fn claim_in(tx: &mut Tx<'_>, worker: &str, lease_seconds: i64) -> Result<Option<i64>, StoreError> {
    let now = now_rfc3339();
    let until = time::rfc3339_after_seconds(lease_seconds);
    let lock = if tx.is_postgres() {
        " FOR UPDATE OF j SKIP LOCKED"
    } else {
        ""
    };
    let candidates = tx.query(
        &format!(
            "SELECT j.id, j.state, j.concurrency_key FROM jobs j
             WHERE ((j.state = 'queued' AND (j.run_at IS NULL OR j.run_at <= $1))
                    OR (j.state = 'running' AND j.locked_until < $1))
               AND (j.concurrency_key IS NULL OR j.state = 'running'
                    OR NOT EXISTS (SELECT 1 FROM jobs r WHERE r.concurrency_key = j.concurrency_key AND r.state = 'running'))
             ORDER BY j.id LIMIT $2{lock}"
        ),
        &[P::Text(&now), P::Int(CANDIDATES)],
    )?;
    for candidate in candidates {
        let id = candidate.int(0)?;
        let reclaim = candidate.text(1)? == "running";
        if let Some(key) = candidate.opt_text(2)?
            && tx.is_postgres()
            && !key_is_free(tx, &key, reclaim)?
        {
            continue;
        }
        tx.exec(
            "UPDATE jobs SET state = 'running', started = $1, heartbeat = $1, locked_by = $2, locked_until = $3,
                             attempts = attempts + 1, run_at = NULL
             WHERE id = $4",
            &[P::Text(&now), P::Text(worker), P::Text(&until), P::Int(id)],
        )?;
        return Ok(Some(id));
    }
    Ok(None)
}

/// PostgreSQL: takes the key's advisory lock for this transaction (another claimer holding it
/// is racing for the same project: skip) and re-reads, in a fresh snapshot, whether a job of
/// the key started running meanwhile. A reclaimed job is itself the running one.
fn key_is_free(tx: &mut Tx<'_>, key: &str, reclaim: bool) -> Result<bool, StoreError> {
    let locked = tx
        .query_one(
            &format!("SELECT pg_try_advisory_xact_lock({CONCURRENCY_LOCK_CLASS}, hashtext($1))"),
            &[P::Text(key)],
        )?
        .int(0)?;
    if locked == 0 {
        return Ok(false);
    }
    if reclaim {
        return Ok(true);
    }
    let running = tx.query_opt(
        "SELECT 1 FROM jobs WHERE concurrency_key = $1 AND state = 'running' LIMIT 1",
        &[P::Text(key)],
    )?;
    Ok(running.is_none())
}

impl Store {
    /// Claims the oldest due job for `worker` with a lease of `lease_seconds`, with its
    /// payload (empty when it has none). See the module documentation for the rules.
    pub fn claim_job(
        &self,
        worker: &str,
        lease_seconds: i64,
    ) -> Result<Option<(Job, Vec<u8>)>, StoreError> {
        let claimed = self.write(|tx| {
            let Some(id) = claim_in(tx, worker, lease_seconds)? else {
                return Ok(None);
            };
            let payload = tx
                .query_opt(
                    "SELECT body FROM job_payloads WHERE job_id = $1",
                    &[P::Int(id)],
                )?
                .map(|row| row.bytes(0))
                .transpose()?
                .unwrap_or_default();
            Ok(Some((id, payload)))
        })?;
        match claimed {
            None => Ok(None),
            Some((id, payload)) => Ok(self.job_by_id(id)?.map(|job| (job, payload))),
        }
    }

    /// Extends the lease of a running job (its worker's heartbeat). `false`: the lease is no
    /// longer this claim's (the job ended, or another worker reclaimed it).
    pub fn heartbeat_job(&self, job: &Job, lease_seconds: i64) -> Result<bool, StoreError> {
        let Some(worker) = job.locked_by.as_deref() else {
            return Ok(false);
        };
        let changed = self.write(|tx| {
            tx.exec(
                "UPDATE jobs SET locked_until = $1, heartbeat = $2
                 WHERE id = $3 AND state = 'running' AND locked_by = $4 AND attempts = $5",
                &[
                    P::Text(&time::rfc3339_after_seconds(lease_seconds)),
                    P::Text(&now_rfc3339()),
                    P::Int(job.id),
                    P::Text(worker),
                    P::Int(job.attempt),
                ],
            )
        })?;
        Ok(changed > 0)
    }

    /// Gives a job back to the queue after a transient failure (the store was unreachable,
    /// say): it runs again after `delay_seconds`. Another queued job with the same dedupe key
    /// supersedes it instead (that one will do the same work).
    pub fn retry_job(&self, job: &Job, error: &str, delay_seconds: i64) -> Result<(), StoreError> {
        self.write(|tx| {
            confirm_lease(tx, job)?;
            let duplicate = tx.query_opt(
                "SELECT q.id FROM jobs q JOIN jobs j ON j.dedupe_key = q.dedupe_key
                 WHERE j.id = $1 AND q.id <> j.id AND q.state = 'queued'",
                &[P::Int(job.id)],
            )?;
            if let Some(duplicate) = duplicate {
                let reason = format!("{error} (superseded by job {})", duplicate.int(0)?);
                return crate::fail_job_in(tx, job.id, &reason);
            }
            tx.exec(
                "UPDATE jobs SET state = 'queued', error = $1, run_at = $2, locked_until = NULL WHERE id = $3",
                &[
                    P::Text(error),
                    P::Text(&time::rfc3339_after_seconds(delay_seconds)),
                    P::Int(job.id),
                ],
            )?;
            Ok(())
        })
    }

    /// Ends a job that succeeded, running `work` (what the job writes, under the monitor lock
    /// taken shared) in the same transaction, after confirming the lease: a reclaimed job's
    /// late worker changes nothing.
    pub fn complete_job_with<T>(
        &self,
        job: &Job,
        work: impl FnOnce(&mut MonitorTx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(|tx| {
            confirm_lease(tx, job)?;
            let value = crate::monitor::run_in(tx, work)?;
            finish_succeeded(tx, job.id)?;
            Ok(value)
        })
    }

    /// Queues a job without an upload. `None`: a queued job with the same dedupe key exists.
    pub fn enqueue_job(&self, new: &NewJob<'_>) -> Result<Option<i64>, StoreError> {
        let concurrency = new
            .concurrency_key
            .map_or_else(|| project_key(new.project_id), str::to_string);
        self.write(|tx| {
            let row = tx.query_opt(
                "INSERT INTO jobs (project_id, kind, filename, state, size, sha256, created_by, created, dedupe_key, concurrency_key)
                 VALUES ($1, $2, '', 'queued', $3, '', $4, $5, $6, $7)
                 ON CONFLICT (dedupe_key) WHERE state = 'queued' AND dedupe_key IS NOT NULL DO NOTHING
                 RETURNING id",
                &[
                    P::Int(new.project_id),
                    P::Text(new.kind),
                    P::Int(new.payload.map_or(0, |p| i64::try_from(p.len()).unwrap_or(i64::MAX))),
                    P::Text(new.created_by),
                    P::Text(&now_rfc3339()),
                    new.dedupe_key.into(),
                    P::Text(&concurrency),
                ],
            )?;
            let Some(row) = row else {
                return Ok(None);
            };
            let id = row.int(0)?;
            if let Some(payload) = new.payload {
                tx.exec(
                    "INSERT INTO job_payloads (job_id, body) VALUES ($1, $2)",
                    &[P::Int(id), P::Bytes(payload)],
                )?;
            }
            Ok(Some(id))
        })
    }

    /// Queues a full re-match (`rematch`, deduplicated per project) of every project not
    /// matched by `matcher_version` that has none queued; returns how many were queued.
    pub fn enqueue_rematches(&self, matcher_version: &str) -> Result<usize, StoreError> {
        // Every watcher tick of every process asks; almost always there is nothing to queue, and
        // a read does not take SQLite's write lock.
        let due = self.read(|tx| {
            tx.query_one(
                "SELECT COUNT(*) FROM (SELECT 1 FROM projects p
                 WHERE (p.matcher_version IS NULL OR p.matcher_version <> $1)
                   AND NOT EXISTS (SELECT 1 FROM jobs q WHERE q.dedupe_key = 'rematch:' || p.id AND q.state = 'queued')
                 LIMIT 1) due",
                &[P::Text(matcher_version)],
            )?
            .int(0)
        })?;
        if due == 0 {
            return Ok(0);
        }
        let now = now_rfc3339();
        self.write(|tx| {
            // The SELECT's WHERE keeps SQLite from reading `ON CONFLICT` as a join's `ON`.
            let changed = tx.exec(
                "INSERT INTO jobs (project_id, kind, filename, state, size, sha256, created_by, created, dedupe_key, concurrency_key)
                 SELECT p.id, 'rematch', '', 'queued', 0, '', 'monitor', $1, 'rematch:' || p.id, 'project:' || p.id
                 FROM projects p
                 WHERE (p.matcher_version IS NULL OR p.matcher_version <> $2)
                   AND NOT EXISTS (SELECT 1 FROM jobs q WHERE q.dedupe_key = 'rematch:' || p.id AND q.state = 'queued')
                 ON CONFLICT (dedupe_key) WHERE state = 'queued' AND dedupe_key IS NOT NULL DO NOTHING",
                &[P::Text(&now), P::Text(matcher_version)],
            )?;
            Ok(usize::try_from(changed).unwrap_or(usize::MAX))
        })
    }

    /// Jobs per kind and state, with the oldest creation time.
    pub fn queue_counts(&self) -> Result<Vec<QueueCount>, StoreError> {
        self.read(|tx| {
            tx.query(
                "SELECT kind, state, COUNT(*), MIN(created) FROM jobs GROUP BY kind, state ORDER BY kind, state",
                &[],
            )?
            .iter()
            .map(|row| {
                Ok(QueueCount {
                    kind: row.text(0)?,
                    state: row.text(1)?,
                    count: row.int(2)?,
                    oldest: row.opt_text(3)?,
                })
            })
            .collect()
        })
    }

    /// Takes (or renews) the named single-instance duty for `holder` until `lease_seconds`
    /// from now; `false`: another holder's lease is still running.
    pub fn try_singleton(
        &self,
        name: &str,
        holder: &str,
        lease_seconds: i64,
    ) -> Result<bool, StoreError> {
        let now = now_rfc3339();
        let until = time::rfc3339_after_seconds(lease_seconds);
        self.write(|tx| {
            let changed = tx.exec(
                "INSERT INTO singletons (name, holder, lease_until) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
                 WHERE singletons.holder = excluded.holder OR singletons.lease_until < $4",
                &[P::Text(name), P::Text(holder), P::Text(&until), P::Text(&now)],
            )?;
            Ok(changed > 0)
        })
    }
}
