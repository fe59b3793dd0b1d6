//! The scheduled advisory update of `mlvet serve` (`--update-every`, default 1 h; off with
//! `--offline`): mlvet-db's `update` against the configured OSV export, which records a new
//! generation when something changed; the generation watcher takes it from there.

use std::path::Path;
use std::sync::Arc;

use mlvet_db::{Database, DbError, NoProgress, UpdateConfig, UpdateStats};
use serde_json::json;

use crate::config::MonitorConfig;

/// One update of the advisory database in `data_dir` from the configured source (the
/// `osv-url` setting, else `MLVET_OSV_URL`, else mlvet-db's default export).
pub fn update_once(data_dir: &Path, config: &MonitorConfig) -> Result<UpdateStats, DbError> {
    let mut update = match &config.osv_url {
        Some(url) => UpdateConfig::new(url.clone()),
        None => UpdateConfig::from_env()?,
    };
    update.ecosystems = config.ecosystems.clone();
    let mut database = Database::open_or_create(data_dir)?;
    database.update(&update, &NoProgress)
}

/// The scheduled update is one process's duty in a fleet sharing a store (several processes
/// updating one data directory would download the same export): a lease named
/// `advisory-update`, renewed by its holder each interval, taken over by another process once
/// it ran out.
async fn holds_update_duty(app: &Arc<crate::App>, every: std::time::Duration) -> bool {
    let lease = i64::try_from(every.as_secs())
        .unwrap_or(i64::MAX)
        .saturating_add(60);
    let app2 = Arc::clone(app);
    let held = tokio::task::spawn_blocking(move || {
        app2.store
            .try_singleton("advisory-update", &app2.process, lease)
    })
    .await;
    match held {
        Ok(Ok(held)) => held,
        Ok(Err(error)) => {
            crate::log::event(
                "error",
                "advisory_update_failed",
                json!({ "error": error.to_string() }),
            );
            false
        }
        Err(_) => false,
    }
}

/// Runs [`update_once`] every `update_every`, the first one interval after start (a server
/// that just started, or a test, contacts nothing; `mlvet db update` updates at once), until
/// `stop`.
pub async fn run_updates(app: Arc<crate::App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(every) = app.config.monitor.update_every else {
        return;
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        if !holds_update_duty(&app, every).await {
            continue;
        }
        let started = std::time::Instant::now();
        let outcome = {
            let app = Arc::clone(&app);
            tokio::task::spawn_blocking(move || {
                update_once(&app.config.data_dir, &app.config.monitor)
            })
            .await
        };
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(Ok(stats)) => {
                let generations: Vec<u64> = stats
                    .ecosystems
                    .iter()
                    .filter_map(|e| e.import.generation)
                    .collect();
                crate::log::event(
                    "info",
                    "advisory_update",
                    json!({
                        "changed": stats.changed(),
                        "ecosystems": stats.ecosystems.iter().map(|e| json!({
                            "ecosystem": e.ecosystem,
                            "method": e.method.as_str(),
                            "bytes": e.downloaded_bytes,
                        })).collect::<Vec<_>>(),
                        "generations": generations,
                        "ms": ms,
                    }),
                );
            }
            Ok(Err(error)) => crate::log::event(
                "error",
                "advisory_update_failed",
                json!({ "error": error.to_string(), "ms": ms }),
            ),
            Err(error) => crate::log::event(
                "error",
                "advisory_update_failed",
                json!({ "error": error.to_string(), "ms": ms }),
            ),
        }
    }
}
