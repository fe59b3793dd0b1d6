//! Hub scanning in the service (issue 14): tracked models scanned into their project's findings
//! (jobs of kind `hub`), bulk scans (kind `hub-bulk`) with a verdict per repository, the
//! re-check loop, and the read cache in the store.
//!
//! Every Hub request of the process goes through clients sharing one [`RateBudget`] (one token,
//! one budget), and every file read goes through [`StoreCache`]: a file at a commit is fetched
//! once per mlvet version and rules digest, whichever project, page or bulk scan asks for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mlvet_hub::{CacheKey, CachedReads, HubClient, HubConfig, HubTarget, RateBudget, ReadCache};
use mlvet_store::hub::{BulkOutcome, HubModel, JOB_HUB, JOB_HUB_BULK, ReadKey};
use mlvet_store::{Job, Store};
use serde_json::{Value, json};

use crate::App;
use crate::config::HubServiceConfig;

/// The Hub side of the process: the client configuration (with the token read once) and the
/// rate budget every client shares.
pub struct Shared {
    config: HubConfig,
    budget: Arc<RateBudget>,
}

impl Shared {
    /// Reads the token file (if any) once; an unreadable one stops the start.
    pub fn new(hub: &HubServiceConfig) -> Result<Shared, String> {
        let token = match &hub.token_file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!("cannot read the Hub token file {}: {e}", path.display())
                })?;
                let token = text.trim().to_string();
                if token.is_empty() || token.contains(char::is_whitespace) {
                    return Err(format!(
                        "the Hub token file {} must hold one token on one line",
                        path.display()
                    ));
                }
                Some(token)
            }
        };
        Ok(Shared {
            config: HubConfig {
                endpoint: hub.endpoint.trim_end_matches('/').to_string(),
                token,
                // A worker waits for the Hub at most this long per request: a rate-limited
                // repository fails its job (and is tried again at the next re-check).
                max_retries: 3,
                max_wait: std::time::Duration::from_secs(30),
                timeout: std::time::Duration::from_secs(30),
            },
            budget: RateBudget::new(),
        })
    }

    /// A client on the shared budget.
    pub fn client(&self) -> HubClient {
        HubClient::new(self.config.clone()).with_budget(Arc::clone(&self.budget))
    }

    pub fn endpoint(&self) -> &str {
        &self.config.endpoint
    }
}

/// The read cache in the store, counting what it served.
pub struct StoreCache<'a> {
    store: &'a Store,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl<'a> StoreCache<'a> {
    pub fn new(store: &'a Store) -> Self {
        StoreCache {
            store,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

fn read_key(key: &CacheKey) -> ReadKey<'_> {
    ReadKey {
        repo_type: key.repo_type,
        repo_id: &key.repo_id,
        commit: &key.commit,
        path: &key.path,
        tool_version: &key.tool_version,
    }
}

impl ReadCache for StoreCache<'_> {
    fn get(&self, key: &CacheKey) -> Option<CachedReads> {
        // A store error is a miss: the file is fetched again, never reported from nothing.
        let found = self
            .store
            .hub_cached_reads(read_key(key))
            .ok()
            .flatten()
            .and_then(|bytes| CachedReads::decode(&bytes));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn put(&self, key: &CacheKey, reads: &CachedReads) {
        if reads.len() > mlvet_hub::scan::CACHE_FILE_MAX {
            return;
        }
        if let Err(error) = self
            .store
            .put_hub_cached_reads(read_key(key), &reads.encode())
        {
            crate::log::event(
                "warn",
                "hub_cache_put_failed",
                json!({ "error": error.to_string() }),
            );
        }
    }
}

/// A repository named by a person or a client: `org/name`, `org/name@rev`, `hf://…`,
/// `datasets/org/name`, or a Hub URL; never a path inside the repository.
pub fn parse_repo(text: &str, endpoint: &str) -> Result<HubTarget, String> {
    let text = text.trim();
    if text.is_empty() || text.len() > 400 || text.chars().any(char::is_control) {
        return Err("a repository is `org/name` (1 to 400 characters)".to_string());
    }
    let uri = if text.starts_with("hf://") || text.starts_with("http") {
        text.to_string()
    } else {
        format!("hf://{text}")
    };
    let target = mlvet_hub::parse_target(&uri, endpoint).map_err(|e| e.to_string())?;
    if target.path.is_some() {
        return Err("name a whole repository (org/name[@revision]), not a file in it".to_string());
    }
    Ok(target)
}

/// The source a tracked model's findings are stored under: `hf://org/name`, with `@revision`
/// unless it is `main` (so `org/name` and `org/name@main` are the same model).
pub fn source_name(target: &HubTarget) -> String {
    let prefix = target.repo_type.url_prefix();
    match target.revision_or_main() {
        "main" => format!("hf://{prefix}{}", target.repo_id),
        revision => format!("hf://{prefix}{}@{revision}", target.repo_id),
    }
}

fn target_of(model: &HubModel) -> HubTarget {
    let repo_type = match model.repo_type.as_str() {
        "dataset" => mlvet_hub::RepoType::Dataset,
        "space" => mlvet_hub::RepoType::Space,
        _ => mlvet_hub::RepoType::Model,
    };
    HubTarget {
        repo_type,
        repo_id: model.repo_id.clone(),
        revision: Some(model.revision.clone()),
        path: None,
    }
}

/// A tracked model as the API shows it.
pub fn model_json(model: &HubModel) -> Value {
    json!({
        "id": model.id,
        "project": model.project_id,
        "repo": model.repo_id,
        "repo_type": model.repo_type,
        "revision": model.revision,
        "source": model.source,
        "created": model.created,
        "created_by": model.created_by,
        "last_commit": model.last_commit,
        "last_verdict": model.last_verdict,
        "last_scanned": model.last_scanned,
        "last_checked": model.last_checked,
        "last_error": model.last_error,
        "scanned_with": model.last_tool_version,
    })
}

/// What one scan of a repository gave.
pub struct Scanned {
    pub commit: String,
    pub report: mlvet_core::ScanReport,
    pub json: Value,
}

/// Scans `target` the way the service does (built-in settings, advisory matching, the read
/// cache); `Err` when nothing of it could be scanned.
pub fn scan(app: &App, target: &HubTarget) -> Result<Scanned, String> {
    let client = app.hub.client();
    let cache = StoreCache::new(&app.store);
    let (report, commit) = mlvet_engine::hub::scan_for_service(
        &client,
        target,
        &app.config.hub.tool_version,
        Some(&cache),
        &app.config.data_dir,
    )
    .map_err(|e| e.to_string())?;
    let display = target.display(&commit, "");
    let json = crate::records::report_json(&report, display.trim_end_matches('/'), None);
    Ok(Scanned {
        commit,
        report,
        json,
    })
}

/// The verdict the service records for a scan: the report's, and never `safe` when part of it
/// could not be scanned.
fn verdict(scanned: &Scanned) -> String {
    let counts = &scanned.json["summary"]["by_verdict"];
    let verdict = ["malicious", "vulnerable", "suspicious", "safe"]
        .into_iter()
        .find(|v| counts[*v].as_u64().is_some_and(|n| n > 0))
        .unwrap_or("safe")
        .to_string();
    if verdict == "safe" && !scanned.report.errors.is_empty() {
        "incomplete".to_string()
    } else {
        verdict
    }
}

fn errors_text(report: &mlvet_core::ScanReport) -> Option<String> {
    (!report.errors.is_empty()).then(|| {
        report
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Runs a job of a Hub kind; `None` when the kind is not one of them.
pub fn process(
    app: &App,
    job: &Job,
    payload: &[u8],
) -> Option<Result<(), mlvet_store::StoreError>> {
    match job.kind.as_str() {
        JOB_HUB => Some(process_tracked(app, job, payload)),
        JOB_HUB_BULK => Some(process_bulk(app, job, payload)),
        _ => None,
    }
}

/// A tracked model: scanned at its revision's commit, its findings and inventory replace the
/// source named after it (the project's findings reconciled, the monitor told), and the model
/// records the commit, version and verdict.
fn process_tracked(app: &App, job: &Job, payload: &[u8]) -> Result<(), mlvet_store::StoreError> {
    let model_id = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| v["model"].as_i64());
    let model = match model_id {
        Some(id) => app.store.hub_model(job.project_id, id)?,
        None => None,
    };
    let Some(model) = model else {
        return crate::worker::fail(app, job, "the Hub model is no longer tracked");
    };
    let started = std::time::Instant::now();
    let scanned = match scan(app, &target_of(&model)) {
        Ok(scanned) => scanned,
        Err(error) => {
            app.store.record_hub_scan(
                model.id,
                None,
                &app.config.hub.tool_version,
                None,
                Some(&error),
            )?;
            return crate::worker::fail(app, job, &error);
        }
    };
    let mut findings = crate::records::findings(&scanned.json);
    findings.retain(|f| {
        let body = serde_json::from_str(&f.body).unwrap_or(Value::Null);
        !crate::monitor::is_monitored(&f.rule, &body)
    });
    let packages = crate::records::packages(&scanned.report);
    let verdict = verdict(&scanned);
    let errors = errors_text(&scanned.report);
    // Recorded before the job ends, so that the re-check never sees a finished job with the
    // previous commit (and queues the same scan again); forgotten below if the job fails.
    app.store.record_hub_scan(
        model.id,
        Some(&scanned.commit),
        &app.config.hub.tool_version,
        Some(&verdict),
        None,
    )?;
    if let Some(errors) = &errors {
        // Scanned, findings stored, but part of the repository was not inspected: say so.
        app.store.record_hub_check(model.id, Some(errors))?;
    }
    let data_dir = &app.config.data_dir;
    let mut written = crate::monitor::Written::default();
    let completed =
        app.store
            .complete_upload_with(job, "huggingface", &packages, &findings, |mtx| {
                written = crate::monitor::on_upload(mtx, job.project_id, data_dir)?;
                Ok(())
            });
    if let Err(error) = completed {
        // The findings were not stored: the next re-check must scan again.
        let message = match &error {
            mlvet_store::StoreError::Monitor(error) => format!("advisory matching failed: {error}"),
            other => other.to_string(),
        };
        app.store.forget_hub_scan(model.id, &message)?;
        return match error {
            mlvet_store::StoreError::Monitor(_) => crate::worker::fail(app, job, &message),
            other => Err(other),
        };
    }
    if written.deliveries > 0 {
        app.monitor.deliveries_due.notify_one();
    }
    crate::log::event(
        "info",
        "hub_scan_done",
        json!({
            "job": job.id,
            "project": job.project_id,
            "model": model.id,
            "commit": scanned.commit,
            "findings": findings.len(),
            "ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }),
    );
    Ok(())
}

/// A bulk scan: the organisation's repositories listed (once), then each queued repository
/// scanned and recorded before the next, so that progress shows and a job taken over after a
/// crash resumes where it stopped. A repository that fails is recorded as failed; the job
/// still succeeds.
fn process_bulk(app: &App, job: &Job, payload: &[u8]) -> Result<(), mlvet_store::StoreError> {
    let request: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let client = app.hub.client();
    if let Some(organization) = request["organization"].as_str()
        && app.store.bulk_repos(job.id)?.is_empty()
    {
        let repos = match client.list_repos(
            mlvet_hub::RepoType::Model,
            organization,
            app.config.hub.max_bulk_repos,
        ) {
            Ok(repos) => repos,
            Err(error) => {
                return crate::worker::fail(
                    app,
                    job,
                    &format!("cannot list the repositories of `{organization}`: {error}"),
                );
            }
        };
        app.store.add_bulk_repos(job.id, &repos)?;
    }
    for repo in app.store.bulk_repos(job.id)? {
        if repo.state != "queued" {
            continue;
        }
        let outcome = match parse_repo(&repo.repo, app.hub.endpoint()) {
            Err(error) => Err(error),
            Ok(target) => scan(app, &target),
        };
        let (errors, verdict_text);
        let record = match &outcome {
            Ok(scanned) => {
                let per_file: Vec<Value> = scanned
                    .report
                    .errors
                    .iter()
                    .map(|e| json!({"path": e.path, "message": e.message}))
                    .collect();
                errors = (!per_file.is_empty()).then(|| Value::from(per_file).to_string());
                verdict_text = verdict(scanned);
                BulkOutcome {
                    succeeded: true,
                    commit: Some(&scanned.commit),
                    verdict: Some(&verdict_text),
                    files: i64::try_from(scanned.report.artifacts.len()).ok(),
                    findings: scanned.json["findings"]
                        .as_array()
                        .and_then(|f| i64::try_from(f.len()).ok()),
                    errors: errors.as_deref(),
                }
            }
            Err(error) => {
                errors = Some(json!([{"path": repo.repo, "message": error}]).to_string());
                BulkOutcome {
                    succeeded: false,
                    errors: errors.as_deref(),
                    ..BulkOutcome::default()
                }
            }
        };
        app.store.record_bulk_repo(job.id, repo.seq, &record)?;
        app.jobs_changed.notify_waiters();
    }
    app.store.finish_job(job)
}

/// A bulk scan's progress as the API shows it.
pub fn bulk_json(job: &Job, repos: &[mlvet_store::hub::BulkRepo]) -> Value {
    let done = repos.iter().filter(|r| r.state != "queued").count();
    json!({
        "id": job.id,
        "project": job.project_id,
        "state": job.state.as_str(),
        "error": job.error,
        "created": job.created,
        "created_by": job.created_by,
        "started": job.started,
        "finished": job.finished,
        "done": done,
        "total": repos.len(),
        "repos": repos.iter().map(|r| json!({
            "repo": r.repo,
            "state": r.state,
            "commit": r.commit,
            "verdict": r.verdict,
            "artifacts": r.files,
            "findings": r.findings,
            "errors": r.errors.as_deref()
                .and_then(|e| serde_json::from_str::<Value>(e).ok())
                .unwrap_or_else(|| json!([])),
        })).collect::<Vec<_>>(),
    })
}

/// Queues a scan of a tracked model.
pub fn enqueue_tracked(
    store: &Store,
    model: &HubModel,
    actor: &str,
) -> Result<Job, mlvet_store::StoreError> {
    store.enqueue_hub_job(
        model.project_id,
        JOB_HUB,
        &model.source,
        &json!({ "model": model.id }).to_string(),
        actor,
    )
}

/// One pass of the re-check: every tracked model whose revision now resolves to another
/// commit, or that was scanned by another mlvet version or rules, is queued for a scan (one
/// repo-info call each; nothing is read when nothing changed). Returns the jobs queued.
pub fn recheck_once(app: &App) -> Result<usize, mlvet_store::StoreError> {
    let client = app.hub.client();
    let version = &app.config.hub.tool_version;
    let mut queued = 0;
    for model in app.store.all_hub_models()? {
        if app.store.hub_job_pending(model.project_id, &model.source)? {
            continue;
        }
        match client.repo_info(&target_of(&model)) {
            Ok(info) => {
                let moved = model.last_commit.as_deref() != Some(info.sha.as_str());
                let rules_changed = model.last_tool_version.as_deref() != Some(version.as_str());
                if moved || rules_changed {
                    enqueue_tracked(&app.store, &model, "hub-recheck")?;
                    queued += 1;
                } else {
                    app.store.record_hub_check(model.id, None)?;
                }
            }
            Err(error) => app
                .store
                .record_hub_check(model.id, Some(&error.to_string()))?,
        }
    }
    Ok(queued)
}

/// The re-check loop (`[serve] hub-recheck-seconds`; none when offline).
pub fn spawn_recheck(
    app: &Arc<App>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let every = app.config.hub.recheck?;
    let app = Arc::clone(app);
    let mut stop = stop.clone();
    Some(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            let worker = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || recheck_once(&worker)).await {
                Ok(Ok(queued)) => {
                    if queued > 0 {
                        app.job_queued.notify_waiters();
                    }
                }
                Ok(Err(error)) => crate::log::event(
                    "error",
                    "hub_recheck_failed",
                    json!({ "error": error.to_string() }),
                ),
                Err(error) => crate::log::event(
                    "error",
                    "hub_recheck_failed",
                    json!({ "error": error.to_string() }),
                ),
            }
        }
    }))
}
