//! `mlvet worker`: a process that does the service's background work without serving the API:
//! job workers (uploads, full re-matches), the generation watcher (advisory deltas) and webhook
//! deliveries, and the scheduled advisory update (one process of the fleet at a time). Any
//! number of them share one PostgreSQL database with any number of `mlvet serve --workers 0`
//! replicas; the database is the only coordination point.
//!
//! Optionally it answers `GET /healthz` (alive) and `GET /readyz` (the store answers; queue
//! depth per kind and state) on a port of its own, for container healthchecks and autoscaling.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{App, ServerConfig, ServerError};

/// Runs until `shutdown`, then lets the jobs in flight finish.
pub async fn work(
    config: ServerConfig,
    health: Option<SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    config.validate().map_err(ServerError::Config)?;
    if config.limits.workers == 0 {
        return Err(ServerError::Config(
            "a worker process runs at least one job at a time (--concurrency 1 or more)"
                .to_string(),
        ));
    }
    let hub = crate::hub::Shared::new(&config.hub).map_err(ServerError::Config)?;
    let store = crate::open_prepared(&config).await?;
    let app = crate::new_app(store, config, hub, "worker");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = crate::spawn_background(&app, &stopped);
    let mut health_addr = None;
    if let Some(addr) = health {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        health_addr = Some(listener.local_addr()?);
        let router = axum::Router::new()
            .route("/healthz", axum::routing::get(healthz))
            .route("/readyz", axum::routing::get(readyz))
            .with_state(Arc::clone(&app));
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
        }));
    }
    crate::log::event(
        "info",
        "worker_started",
        json!({
            "process": app.process,
            "concurrency": app.config.limits.workers,
            "health": health_addr.map(|a| a.to_string()),
        }),
    );
    shutdown.await;
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    crate::api::json_response(
        StatusCode::OK,
        &json!({ "status": "ok", "process": app.process }),
    )
}

/// Ready when the store answers; the queue's depth by kind and state, with the oldest job.
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let counted = app
        .blocking(|store| {
            store.ping()?;
            store.queue_counts()
        })
        .await;
    match counted {
        Ok(counts) => {
            let queue: Vec<_> = counts
                .iter()
                .map(|c| json!({"kind": c.kind, "state": c.state, "count": c.count, "oldest": c.oldest}))
                .collect();
            crate::api::json_response(
                StatusCode::OK,
                &json!({ "status": "ready", "process": app.process, "queue": queue }),
            )
        }
        Err(problem) => problem.into_response(),
    }
}

/// [`work`] on a new multi-threaded runtime until SIGINT or SIGTERM (`mlvet worker`).
pub fn work_blocking(config: ServerConfig, health: Option<SocketAddr>) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mlvet-worker")
        .build()?;
    runtime.block_on(work(config, health, crate::shutdown_signal()))
}
