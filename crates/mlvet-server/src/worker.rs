//! Job workers: claim a job from the store's queue (`mlvet_store::queue`), run it by kind,
//! record its outcome in the same transaction that checks the lease is still this claim's.
//!
//! - Kinds: `inventory` (an upload: scan it with the engine, store its inventory and
//!   findings, re-match the project) and `rematch` (a project's full re-match after a matcher
//!   change). A new kind is one arm in [`dispatch`].
//! - While a job runs, a heartbeat extends its lease every third of it; a worker that died
//!   (`kill -9`, a lost machine) stops extending it, and another worker claims the job again
//!   once the lease ran out. Its late completion, if it was only stalled, records nothing.
//! - A store failure (the database restarting, say) gives the job back with a backoff; a job
//!   claimed more than its `max_attempts` fails with an `inventory.failed` event.
//!
//! The same loop runs inside `mlvet serve` (`--workers N`) and in `mlvet worker` processes.

use std::sync::Arc;
use std::time::Duration;

use mlvet_store::StoreError;
use mlvet_store::queue::{KIND_INVENTORY, KIND_REMATCH};

use crate::App;

/// Polling interval when idle (other processes queue jobs too).
const IDLE_POLL: Duration = Duration::from_millis(250);

/// Fault injection for failure tests: a worker waits this many milliseconds after claiming
/// each upload, so that a test can kill it mid-job. Never set in production.
pub const FAULT_DELAY_ENV: &str = "MLVET_FAULT_JOB_DELAY_MS";

fn fault_delay() -> Option<Duration> {
    let millis: u64 = std::env::var(FAULT_DELAY_ENV).ok()?.trim().parse().ok()?;
    Some(Duration::from_millis(millis.min(600_000)))
}

fn log_error(event: &str, fields: serde_json::Value) {
    crate::log::event("error", event, fields);
}

pub async fn run(app: Arc<App>, name: String, mut stop: tokio::sync::watch::Receiver<bool>) {
    let lease = lease_seconds(&app);
    loop {
        if *stop.borrow() {
            return;
        }
        let claimed = {
            let app = Arc::clone(&app);
            let name = name.clone();
            tokio::task::spawn_blocking(move || app.store.claim_job(&name, lease)).await
        };
        match claimed {
            Ok(Ok(Some((job, payload)))) => {
                run_claimed(&app, job, payload).await;
                app.jobs_changed.notify_waiters();
            }
            Ok(Ok(None)) => {
                tokio::select! {
                    () = app.job_queued.notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            Ok(Err(error)) => {
                log_error(
                    "job_claim_failed",
                    serde_json::json!({ "error": error.to_string() }),
                );
                tokio::time::sleep(IDLE_POLL).await;
            }
            Err(error) => {
                log_error(
                    "job_claim_failed",
                    serde_json::json!({ "error": error.to_string() }),
                );
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

fn lease_seconds(app: &App) -> i64 {
    i64::try_from(app.config.limits.job_lease_seconds).unwrap_or(30)
}

/// Runs a claimed job with its heartbeat, then deals with a store failure.
async fn run_claimed(app: &Arc<App>, job: mlvet_store::Job, payload: Vec<u8>) {
    let (done, finished) = tokio::sync::watch::channel(false);
    let heartbeat = tokio::spawn(heartbeat(Arc::clone(app), job.clone(), finished));
    let outcome = {
        let app = Arc::clone(app);
        let job = job.clone();
        tokio::task::spawn_blocking(move || dispatch(&app, &job, &payload)).await
    };
    let _ = done.send(true);
    let _ = heartbeat.await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(StoreError::LeaseLost { .. })) => crate::log::event(
            "warn",
            "job_lease_lost",
            serde_json::json!({ "job": job.id, "attempt": job.attempt }),
        ),
        Ok(Err(error)) => give_back(app, &job, &error.to_string()).await,
        Err(error) => give_back(app, &job, &error.to_string()).await,
    }
}

/// Extends the job's lease every third of it until `finished`.
async fn heartbeat(
    app: Arc<App>,
    job: mlvet_store::Job,
    mut finished: tokio::sync::watch::Receiver<bool>,
) {
    let lease = lease_seconds(&app);
    let every = Duration::from_secs(u64::try_from(lease / 3).unwrap_or(10).max(1));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = finished.changed() => return,
        }
        if *finished.borrow() {
            return;
        }
        let extended = {
            let app = Arc::clone(&app);
            let job = job.clone();
            tokio::task::spawn_blocking(move || app.store.heartbeat_job(&job, lease)).await
        };
        match extended {
            Ok(Ok(true)) => {}
            // Lost: the completion will be refused; nothing more to extend.
            Ok(Ok(false)) => return,
            // The store is unreachable for now: keep trying while the job runs.
            Ok(Err(error)) => log_error(
                "job_heartbeat_failed",
                serde_json::json!({ "job": job.id, "error": error.to_string() }),
            ),
            Err(_) => return,
        }
    }
}

/// After a store failure: back to the queue with a backoff (2, 4, 8 … 300 s, with a little
/// spread by job id). If the store is still unreachable, the lease runs out and the job is
/// claimed again anyway.
async fn give_back(app: &Arc<App>, job: &mlvet_store::Job, error: &str) {
    log_error(
        "job_store_failed",
        serde_json::json!({ "job": job.id, "attempt": job.attempt, "error": error }),
    );
    let exponent = u32::try_from(job.attempt.clamp(1, 8)).unwrap_or(8);
    let delay = 2_i64.pow(exponent).min(300) + job.id % 3;
    let app2 = Arc::clone(app);
    let job2 = job.clone();
    let error = error.to_string();
    let retried =
        tokio::task::spawn_blocking(move || app2.store.retry_job(&job2, &error, delay)).await;
    if let Ok(Err(error)) = retried {
        log_error(
            "job_retry_failed",
            serde_json::json!({ "job": job.id, "error": error.to_string() }),
        );
    }
}

/// Runs one claimed job by kind. `Err` only when the store fails (or the lease was lost).
fn dispatch(app: &App, job: &mlvet_store::Job, payload: &[u8]) -> Result<(), StoreError> {
    if job.exhausted() {
        let error = format!(
            "gave up after {} attempts (the worker stopped or lost its lease each time)",
            job.max_attempts
        );
        return fail(app, job, &error);
    }
    match job.kind.as_str() {
        KIND_INVENTORY => {
            if let Some(delay) = fault_delay() {
                std::thread::sleep(delay);
            }
            process(app, job, payload)
        }
        KIND_REMATCH => {
            let written = crate::monitor::run_rematch_job(&app.store, job, &app.config.data_dir)?;
            if written.deliveries > 0 {
                app.monitor.deliveries_due.notify_one();
            }
            Ok(())
        }
        other => crate::hub::process(app, job, payload).unwrap_or_else(|| {
            fail(
                app,
                job,
                &format!("this mlvet does not know jobs of kind `{other}`"),
            )
        }),
    }
}

/// Scans one job's upload and records the outcome. `Err` only when the store fails.
fn process(app: &App, job: &mlvet_store::Job, payload: &[u8]) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    let request = mlvet_engine::UploadRequest {
        data_dir: &app.config.data_dir,
        hash_models: false,
    };
    let report = match mlvet_engine::scan_upload(&job.filename, payload, &request) {
        Ok(report) => report,
        Err(error) => return fail(app, job, &error.to_string()),
    };
    if let Some(reason) = unusable(&report, &job.filename) {
        return fail(app, job, &reason);
    }
    let json = crate::records::report_json(&report, &job.filename, None);
    let format = report
        .artifacts
        .first()
        .map(|a| a.format.clone())
        .unwrap_or_default();
    let mut findings = crate::records::findings(&json);
    // Pinned advisory matches are the monitor's: it writes them with their lifecycle.
    findings.retain(|f| {
        let body = serde_json::from_str(&f.body).unwrap_or(serde_json::Value::Null);
        !crate::monitor::is_monitored(&f.rule, &body)
    });
    let packages = crate::records::packages(&report);
    let data_dir = &app.config.data_dir;
    let mut written = crate::monitor::Written::default();
    let completed = app
        .store
        .complete_upload_with(job, &format, &packages, &findings, |mtx| {
            written = crate::monitor::on_upload(mtx, job.project_id, data_dir)?;
            Ok(())
        });
    match completed {
        Ok(()) => {}
        // The monitor could not match (an unreadable advisory database): the upload fails
        // rather than look clean.
        Err(mlvet_store::StoreError::Monitor(error)) => {
            return fail(app, job, &format!("advisory matching failed: {error}"));
        }
        Err(error) => return Err(error),
    }
    if written.deliveries > 0 {
        app.monitor.deliveries_due.notify_one();
    }
    crate::log::event(
        "info",
        "job_done",
        serde_json::json!({
            "job": job.id,
            "project": job.project_id,
            "packages": packages.len(),
            "findings": findings.len(),
            "ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }),
    );
    Ok(())
}

/// Ends a job that failed, with an `inventory.failed` event in the same transaction (for an
/// upload; the monitor's own jobs only record the error).
pub(crate) fn fail(app: &App, job: &mlvet_store::Job, error: &str) -> Result<(), StoreError> {
    let mut written = crate::monitor::Written::default();
    app.store.fail_job_with(job, error, |mtx| {
        // A tracked Hub model is one of the project's sources, like an upload.
        if job.kind == KIND_INVENTORY || job.kind == mlvet_store::hub::JOB_HUB {
            written = crate::monitor::on_upload_failed(mtx, job.project_id, error)?;
        }
        Ok(())
    })?;
    if written.deliveries > 0 {
        app.monitor.deliveries_due.notify_one();
    }
    Ok(())
}

/// Why a scan's report cannot replace a source's inventory: the file was not read (not a
/// format mlvet knows), or it could not be fully scanned (fail closed: an error never leaves
/// a source looking clean).
pub fn unusable(report: &mlvet_core::ScanReport, filename: &str) -> Option<String> {
    if !report.errors.is_empty() {
        let messages: Vec<String> = report
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect();
        return Some(messages.join("; "));
    }
    if report.artifacts.is_empty() {
        return Some(format!(
            "`{filename}` is not a manifest, lockfile, SBOM or model file that mlvet reads (the name decides how a file is read)"
        ));
    }
    None
}
