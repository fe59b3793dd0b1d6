//! Hub scanning in the store (issue 14, migration 0004): the read cache keyed by
//! (repository, commit, path, mlvet version), the Hub models projects track, and the per-repo
//! progress of bulk scans. The scans themselves run as jobs on the `jobs` table: kind `hub`
//! (one tracked model, completed like an upload under the source `hf://…`) and `hub-bulk`.

use crate::db::{P, Row, Tx};
use crate::{Job, Store, StoreError, now_rfc3339, reconcile, today};

/// Job kind: scan one tracked model into its project's findings.
pub const JOB_HUB: &str = "hub";
/// Job kind: scan a list of repositories (or an organisation's), recording a verdict per repo.
pub const JOB_HUB_BULK: &str = "hub-bulk";

/// The key of one cached file read.
#[derive(Debug, Clone, Copy)]
pub struct ReadKey<'a> {
    pub repo_type: &'a str,
    pub repo_id: &'a str,
    pub commit: &'a str,
    pub path: &'a str,
    pub tool_version: &'a str,
}

/// A Hub model a project tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubModel {
    pub id: i64,
    pub project_id: i64,
    pub team_id: i64,
    /// `model`, `dataset` or `space`.
    pub repo_type: String,
    pub repo_id: String,
    /// As asked (`main` by default): a branch, tag or commit.
    pub revision: String,
    /// The source its findings are stored under (`hf://org/name[@revision]`).
    pub source: String,
    pub created_by: String,
    pub created: String,
    pub last_commit: Option<String>,
    pub last_tool_version: Option<String>,
    pub last_verdict: Option<String>,
    pub last_scanned: Option<String>,
    pub last_checked: Option<String>,
    pub last_error: Option<String>,
}

/// One repository of a bulk scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkRepo {
    pub seq: i64,
    pub repo: String,
    /// `queued`, `succeeded` or `failed`.
    pub state: String,
    pub commit: Option<String>,
    pub verdict: Option<String>,
    pub files: Option<i64>,
    pub findings: Option<i64>,
    /// JSON array of the per-file errors (or the repository's own error).
    pub errors: Option<String>,
}

/// What a finished scan of one bulk repository recorded.
#[derive(Debug, Clone, Default)]
pub struct BulkOutcome<'a> {
    pub succeeded: bool,
    pub commit: Option<&'a str>,
    pub verdict: Option<&'a str>,
    pub files: Option<i64>,
    pub findings: Option<i64>,
    pub errors: Option<&'a str>,
}

const MODEL_SELECT: &str = "SELECT m.id, m.project_id, p.team_id, m.repo_type, m.repo_id, m.revision, m.source, m.created_by, m.created, m.last_commit, m.last_tool_version, m.last_verdict, m.last_scanned, m.last_checked, m.last_error FROM hub_models m JOIN projects p ON p.id = m.project_id";

fn model_from(row: &Row) -> Result<HubModel, StoreError> {
    Ok(HubModel {
        id: row.int(0)?,
        project_id: row.int(1)?,
        team_id: row.int(2)?,
        repo_type: row.text(3)?,
        repo_id: row.text(4)?,
        revision: row.text(5)?,
        source: row.text(6)?,
        created_by: row.text(7)?,
        created: row.text(8)?,
        last_commit: row.opt_text(9)?,
        last_tool_version: row.opt_text(10)?,
        last_verdict: row.opt_text(11)?,
        last_scanned: row.opt_text(12)?,
        last_checked: row.opt_text(13)?,
        last_error: row.opt_text(14)?,
    })
}

fn bulk_from(row: &Row) -> Result<BulkRepo, StoreError> {
    Ok(BulkRepo {
        seq: row.int(0)?,
        repo: row.text(1)?,
        state: row.text(2)?,
        commit: row.opt_text(3)?,
        verdict: row.opt_text(4)?,
        files: row.opt_int(5)?,
        findings: row.opt_int(6)?,
        errors: row.opt_text(7)?,
    })
}

impl Store {
    // ---- the read cache ----

    /// The reads cached for `key`, if any.
    pub fn hub_cached_reads(&self, key: ReadKey<'_>) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|tx| {
            tx.query_opt(
                "SELECT body FROM hub_read_cache WHERE repo_type = $1 AND repo_id = $2 AND commit_sha = $3 AND path = $4 AND tool_version = $5",
                &[
                    P::Text(key.repo_type),
                    P::Text(key.repo_id),
                    P::Text(key.commit),
                    P::Text(key.path),
                    P::Text(key.tool_version),
                ],
            )?
            .map(|row| row.bytes(0))
            .transpose()
        })
    }

    /// Caches the reads of `key` (the first writer wins: the same commit has the same bytes).
    pub fn put_hub_cached_reads(&self, key: ReadKey<'_>, body: &[u8]) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.exec(
                "INSERT INTO hub_read_cache (repo_type, repo_id, commit_sha, path, tool_version, body, created)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (repo_type, repo_id, commit_sha, path, tool_version) DO NOTHING",
                &[
                    P::Text(key.repo_type),
                    P::Text(key.repo_id),
                    P::Text(key.commit),
                    P::Text(key.path),
                    P::Text(key.tool_version),
                    P::Bytes(body),
                    P::Text(&now_rfc3339()),
                ],
            )?;
            Ok(())
        })
    }

    // ---- tracked models ----

    /// Starts tracking a model in a project; a model already tracked under `source` is a
    /// [`StoreError::Conflict`].
    pub fn track_hub_model(
        &self,
        project_id: i64,
        repo_type: &str,
        repo_id: &str,
        revision: &str,
        source: &str,
        created_by: &str,
    ) -> Result<HubModel, StoreError> {
        let inserted = self.write(|tx| {
            tx.query_one(
                "INSERT INTO hub_models (project_id, repo_type, repo_id, revision, source, created_by, created)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    P::Int(project_id),
                    P::Text(repo_type),
                    P::Text(repo_id),
                    P::Text(revision),
                    P::Text(source),
                    P::Text(created_by),
                    P::Text(&now_rfc3339()),
                ],
            )?
            .int(0)
        });
        let id = match inserted {
            Err(e) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!("`{source}` in this project")));
            }
            other => other?,
        };
        self.hub_model_by_id(id)?.ok_or(StoreError::NotFound)
    }

    fn hub_model_by_id(&self, id: i64) -> Result<Option<HubModel>, StoreError> {
        self.read(|tx| {
            tx.query_opt(&format!("{MODEL_SELECT} WHERE m.id = $1"), &[P::Int(id)])?
                .as_ref()
                .map(model_from)
                .transpose()
        })
    }

    /// The model `id` of `project_id`.
    pub fn hub_model(&self, project_id: i64, id: i64) -> Result<Option<HubModel>, StoreError> {
        Ok(self
            .hub_model_by_id(id)?
            .filter(|m| m.project_id == project_id))
    }

    /// The project's tracked models, oldest first.
    pub fn hub_models(&self, project_id: i64) -> Result<Vec<HubModel>, StoreError> {
        self.read(|tx| {
            tx.query(
                &format!("{MODEL_SELECT} WHERE m.project_id = $1 ORDER BY m.id"),
                &[P::Int(project_id)],
            )?
            .iter()
            .map(model_from)
            .collect()
        })
    }

    /// Every tracked model of every project (the recheck loop).
    pub fn all_hub_models(&self) -> Result<Vec<HubModel>, StoreError> {
        self.read(|tx| {
            tx.query(&format!("{MODEL_SELECT} ORDER BY m.id"), &[])?
                .iter()
                .map(model_from)
                .collect()
        })
    }

    /// Stops tracking: the model, its source (inventory and findings) go; the project's
    /// findings are reconciled (those only this model reported resolve). `false`: not found.
    pub fn untrack_hub_model(&self, project_id: i64, id: i64) -> Result<bool, StoreError> {
        let now = now_rfc3339();
        let today = today();
        self.write(|tx| {
            let Some(row) = tx.query_opt(
                "SELECT source FROM hub_models WHERE id = $1 AND project_id = $2",
                &[P::Int(id), P::Int(project_id)],
            )?
            else {
                return Ok(false);
            };
            let source = row.text(0)?;
            tx.exec("DELETE FROM hub_models WHERE id = $1", &[P::Int(id)])?;
            tx.exec(
                "DELETE FROM sources WHERE project_id = $1 AND filename = $2",
                &[P::Int(project_id), P::Text(&source)],
            )?;
            reconcile(tx, project_id, &now, &today)?;
            Ok(true)
        })
    }

    /// Records a scan of the model: the commit, the mlvet version, the verdict (or the error,
    /// keeping the last good scan's commit and verdict).
    pub fn record_hub_scan(
        &self,
        id: i64,
        commit: Option<&str>,
        tool_version: &str,
        verdict: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_rfc3339();
        self.write(|tx| {
            match (commit, verdict, error) {
                (Some(commit), Some(verdict), None) => tx.exec(
                    "UPDATE hub_models SET last_commit = $1, last_tool_version = $2, last_verdict = $3, last_scanned = $4, last_checked = $4, last_error = NULL WHERE id = $5",
                    &[P::Text(commit), P::Text(tool_version), P::Text(verdict), P::Text(&now), P::Int(id)],
                )?,
                _ => tx.exec(
                    "UPDATE hub_models SET last_checked = $1, last_error = $2 WHERE id = $3",
                    &[P::Text(&now), P::Text(error.unwrap_or("the scan failed")), P::Int(id)],
                )?,
            };
            Ok(())
        })
    }

    /// Forgets the last scan's commit (its findings could not be stored), so that the next
    /// re-check scans the model again.
    pub fn forget_hub_scan(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.exec(
                "UPDATE hub_models SET last_commit = NULL, last_error = $1, last_checked = $2 WHERE id = $3",
                &[P::Text(error), P::Text(&now_rfc3339()), P::Int(id)],
            )?;
            Ok(())
        })
    }

    /// Records a recheck that found nothing to do (or could not ask the Hub: `error`).
    pub fn record_hub_check(&self, id: i64, error: Option<&str>) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.exec(
                "UPDATE hub_models SET last_checked = $1, last_error = $2 WHERE id = $3",
                &[P::Text(&now_rfc3339()), error.into(), P::Int(id)],
            )?;
            Ok(())
        })
    }

    // ---- jobs ----

    /// Queues a Hub job (`kind` [`JOB_HUB`] or [`JOB_HUB_BULK`]) with a JSON `payload`;
    /// `filename` names it (the tracked model's source, or a description of the bulk scan).
    pub fn enqueue_hub_job(
        &self,
        project_id: i64,
        kind: &str,
        filename: &str,
        payload: &str,
        created_by: &str,
    ) -> Result<Job, StoreError> {
        let id = self.write(|tx| enqueue(tx, project_id, kind, filename, payload, created_by))?;
        self.job_by_id(id)?.ok_or(StoreError::NotFound)
    }

    /// Whether a Hub job for `filename` in the project is queued or running (the recheck loop
    /// does not queue a second one).
    pub fn hub_job_pending(&self, project_id: i64, filename: &str) -> Result<bool, StoreError> {
        self.read(|tx| {
            Ok(tx
                .query_opt(
                    "SELECT id FROM jobs WHERE project_id = $1 AND kind = $2 AND filename = $3 AND state IN ('queued', 'running') LIMIT 1",
                    &[P::Int(project_id), P::Text(JOB_HUB), P::Text(filename)],
                )?
                .is_some())
        })
    }

    /// Ends a job that succeeded without an inventory of its own (bulk scans), if its worker
    /// still holds the lease (a reclaimed job's late worker changes nothing).
    pub fn finish_job(&self, job: &Job) -> Result<(), StoreError> {
        let id = job.id;
        self.write(|tx| {
            crate::queue::confirm_lease(tx, job)?;
            tx.exec(
                "UPDATE jobs SET state = 'succeeded', finished = $1, locked_until = NULL, error = NULL WHERE id = $2",
                &[P::Text(&now_rfc3339()), P::Int(id)],
            )?;
            tx.exec("DELETE FROM job_payloads WHERE job_id = $1", &[P::Int(id)])?;
            Ok(())
        })
    }

    // ---- bulk scans ----

    /// Queues a bulk scan with its repositories (none yet for an organisation: the job lists
    /// them, then calls [`Store::add_bulk_repos`]).
    pub fn enqueue_bulk_scan(
        &self,
        project_id: i64,
        filename: &str,
        payload: &str,
        repos: &[String],
        created_by: &str,
    ) -> Result<Job, StoreError> {
        let id = self.write(|tx| {
            let id = enqueue(tx, project_id, JOB_HUB_BULK, filename, payload, created_by)?;
            add_repos(tx, id, repos)?;
            Ok(id)
        })?;
        self.job_by_id(id)?.ok_or(StoreError::NotFound)
    }

    /// Adds repositories to a bulk scan (after the organisation's were listed); those already
    /// there stay.
    pub fn add_bulk_repos(&self, job_id: i64, repos: &[String]) -> Result<(), StoreError> {
        self.write(|tx| add_repos(tx, job_id, repos))
    }

    /// The bulk scan's repositories in order.
    pub fn bulk_repos(&self, job_id: i64) -> Result<Vec<BulkRepo>, StoreError> {
        self.read(|tx| {
            tx.query(
                "SELECT seq, repo, state, commit_sha, verdict, files, findings, errors FROM hub_scan_repos WHERE job_id = $1 ORDER BY seq",
                &[P::Int(job_id)],
            )?
            .iter()
            .map(bulk_from)
            .collect()
        })
    }

    /// Records one repository's outcome.
    pub fn record_bulk_repo(
        &self,
        job_id: i64,
        seq: i64,
        outcome: &BulkOutcome<'_>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.exec(
                "UPDATE hub_scan_repos SET state = $1, commit_sha = $2, verdict = $3, files = $4, findings = $5, errors = $6 WHERE job_id = $7 AND seq = $8",
                &[
                    P::Text(if outcome.succeeded { "succeeded" } else { "failed" }),
                    outcome.commit.into(),
                    outcome.verdict.into(),
                    outcome.files.into(),
                    outcome.findings.into(),
                    outcome.errors.into(),
                    P::Int(job_id),
                    P::Int(seq),
                ],
            )?;
            Ok(())
        })
    }
}

fn enqueue(
    tx: &mut Tx<'_>,
    project_id: i64,
    kind: &str,
    filename: &str,
    payload: &str,
    created_by: &str,
) -> Result<i64, StoreError> {
    let project_key = crate::queue::project_key(project_id);
    let id = tx
        .query_one(
            "INSERT INTO jobs (project_id, kind, filename, state, size, sha256, created_by, created, concurrency_key)
             VALUES ($1, $2, $3, 'queued', $4, '', $5, $6, $7) RETURNING id",
            &[
                P::Int(project_id),
                P::Text(kind),
                P::Text(filename),
                P::Int(i64::try_from(payload.len()).unwrap_or(i64::MAX)),
                P::Text(created_by),
                P::Text(&now_rfc3339()),
                // A tracked model's scan writes the project's findings: one at a time per
                // project, like uploads. A bulk scan writes only its own per-repo verdicts and
                // must not hold the project's uploads back for its whole run.
                if kind == JOB_HUB_BULK {
                    P::NullText
                } else {
                    P::Text(&project_key)
                },
            ],
        )?
        .int(0)?;
    tx.exec(
        "INSERT INTO job_payloads (job_id, body) VALUES ($1, $2)",
        &[P::Int(id), P::Bytes(payload.as_bytes())],
    )?;
    Ok(id)
}

fn add_repos(tx: &mut Tx<'_>, job_id: i64, repos: &[String]) -> Result<(), StoreError> {
    let start = tx
        .query_one(
            "SELECT COALESCE(MAX(seq), 0) FROM hub_scan_repos WHERE job_id = $1",
            &[P::Int(job_id)],
        )?
        .int(0)?;
    for (index, repo) in repos.iter().enumerate() {
        let seq = start + i64::try_from(index).unwrap_or(i64::MAX - start) + 1;
        tx.exec(
            "INSERT INTO hub_scan_repos (job_id, seq, repo, state) VALUES ($1, $2, $3, 'queued')",
            &[P::Int(job_id), P::Int(seq), P::Text(repo)],
        )?;
    }
    Ok(())
}
