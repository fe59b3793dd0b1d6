//! In-process workers: claim an upload's job from the store, scan it with the engine, store
//! its inventory and findings. A job whose worker died is claimed again when its lease ends.

use std::sync::Arc;
use std::time::Duration;

use crate::App;

/// How long a claimed job is leased before another worker may take it over.
const LEASE_SECONDS: i64 = 15 * 60;

/// Polling interval when idle (other processes may queue jobs too).
const IDLE_POLL: Duration = Duration::from_millis(500);

pub async fn run(app: Arc<App>, name: String, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let claimed = {
            let app = Arc::clone(&app);
            let name = name.clone();
            tokio::task::spawn_blocking(move || app.store.claim_job(&name, LEASE_SECONDS)).await
        };
        match claimed {
            Ok(Ok(Some((job, payload)))) => {
                let app2 = Arc::clone(&app);
                let id = job.id;
                let outcome =
                    tokio::task::spawn_blocking(move || process(&app2, &job, &payload)).await;
                if let Err(error) = outcome.map_err(|e| e.to_string()).and_then(|r| r) {
                    crate::log::event(
                        "error",
                        "job_store_failed",
                        serde_json::json!({ "job": id, "error": error }),
                    );
                }
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
                crate::log::event(
                    "error",
                    "job_claim_failed",
                    serde_json::json!({ "error": error.to_string() }),
                );
                tokio::time::sleep(IDLE_POLL).await;
            }
            Err(error) => {
                crate::log::event(
                    "error",
                    "job_claim_failed",
                    serde_json::json!({ "error": error.to_string() }),
                );
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

/// Scans one job's upload and records the outcome. `Err` only when the store fails.
fn process(app: &App, job: &mlvet_store::Job, payload: &[u8]) -> Result<(), String> {
    // Hub jobs (a tracked model, a bulk scan) have their own runner.
    if let Some(result) = crate::hub::process(app, job, payload) {
        return result;
    }
    let started = std::time::Instant::now();
    let request = mlvet_engine::UploadRequest {
        data_dir: &app.config.data_dir,
        hash_models: false,
    };
    let store_error = |e: mlvet_store::StoreError| e.to_string();
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
        Err(error) => return Err(store_error(error)),
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

/// Ends a job that failed, with an `inventory.failed` event in the same transaction.
pub(crate) fn fail(app: &App, job: &mlvet_store::Job, error: &str) -> Result<(), String> {
    let mut written = crate::monitor::Written::default();
    app.store
        .fail_job_with(job.id, error, |mtx| {
            written = crate::monitor::on_upload_failed(mtx, job.project_id, error)?;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
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
