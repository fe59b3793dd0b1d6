//! `mlvet serve`: the HTTP API over the scan engine (`mlvet-engine`) and the store
//! (`mlvet-store`). One binary, no extra service: embedded SQLite in mlvet's data directory by
//! default, PostgreSQL with `--database postgres://…`.
//!
//! - Every route is in [`routes::ROUTES`]: the router and the OpenAPI 3.1 document
//!   (`/api/v1/openapi.json`) are built from it.
//! - Uploads become jobs in the store's queue (`mlvet_store::queue`), run by this process's
//!   workers on the blocking pool (`--workers N`) or by `mlvet worker` processes
//!   ([`worker_process`]) beside API-only replicas (`--workers 0`).
//! - Errors are RFC 9457 problem details; bodies, decompression, rates and request time are
//!   bounded ([`config::Limits`]); logs are JSON lines without query strings or headers.

mod advisories;
mod api;
pub mod config;
pub mod delivery;
pub mod hub;
mod hub_api;
mod limits;
mod listener;

/// The request-facing parsers, reachable for `fuzz/fuzz_targets/server_inputs.rs`: each takes
/// what a client sends and answers a value or a problem, never a panic.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::advisories::Query as AdvisoryQuery;
    pub use crate::api::{
        Triage, check_name, parse_json_object, parse_triage, query_params, upload_filename,
    };
    pub use crate::limits::decode;
    pub use crate::problem::Problem;
}
pub mod log;
pub mod monitor;
pub mod openapi;
mod problem;
mod records;
pub mod routes;
pub mod updates;
pub mod web;
mod webhooks_api;
mod worker;
pub mod worker_process;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use config::{Limits, ServerConfig};
use mlvet_store::{Location, Store};
pub use problem::Problem;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot open the store: {0}")]
    Store(#[from] mlvet_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Shared by every request and worker.
pub struct App {
    pub store: Store,
    pub config: ServerConfig,
    pub(crate) limiter: limits::RateLimiter,
    /// Woken when a job is queued (workers) and when one ends (waiting uploads).
    pub(crate) jobs_changed: tokio::sync::Notify,
    pub(crate) job_queued: tokio::sync::Notify,
    /// The monitor's loops (generation watcher, deliveries, scheduled updates).
    pub monitor: monitor::Shared,
    /// This process's name in leases (`serve-…`, `worker-…`): unique across hosts and
    /// containers (where every process may be pid 1).
    pub process: String,
    /// The Hub client configuration and the rate budget every Hub request shares.
    pub hub: hub::Shared,
}

impl App {
    /// Runs store work on the blocking pool.
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Store) -> Result<T, mlvet_store::StoreError> + Send + 'static,
    ) -> Result<T, Problem> {
        let app = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&app.store))
            .await
            .map_err(Problem::internal)?
            .map_err(Problem::from)
    }
}

/// Opens the store named by `config` (migrating it).
pub fn open_store(config: &ServerConfig) -> Result<Store, ServerError> {
    let location = Location::parse(config.database.as_deref(), &config.data_dir)?;
    Ok(Store::open(&location)?)
}

/// The router with every route of [`routes::ROUTES`], the fallbacks and the middleware.
pub fn router(app: Arc<App>) -> Router {
    let mut router = Router::new();
    for route in routes::ROUTES {
        router = router.route(routes::axum_path(route), api::method_router(route));
    }
    router = router.merge(web::router(&app));
    router
        .fallback(|uri: axum::http::Uri| async move {
            // Outside the API a person is reading: the HTML page.
            if uri.path().starts_with("/api/") {
                Problem::not_found("route").into_response()
            } else {
                web::not_found_page()
            }
        })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "this route does not take that method",
            )
            .into_response()
        })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            time_and_log,
        ))
        .with_state(app)
}

/// Bounds every request's time and logs it (method, route, status, duration; no query, no
/// headers).
async fn time_and_log(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| log::redact_path(request.uri().path()));
    let timeout = Duration::from_secs(app.config.limits.request_timeout_seconds);
    let response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut problem = Problem::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("the request took longer than {} s", timeout.as_secs()),
            );
            problem.retry_after = Some(1);
            problem.into_response()
        }
    };
    log::event(
        "info",
        "request",
        serde_json::json!({
            "method": method,
            "path": path,
            "status": response.status().as_u16(),
            "ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }),
    );
    response
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), ServerError>>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish, stops the workers.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.handle.take() {
            Some(handle) => handle
                .await
                .map_err(|e| ServerError::Io(std::io::Error::other(e)))?,
            None => Ok(()),
        }
    }
}

/// Opens the store, binds, starts the workers and serves until [`Running::stop`].
pub async fn start(config: ServerConfig) -> Result<Running, ServerError> {
    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
    let (addr, app, handle) = launch(config, async {
        let _ = receiver.await;
    })
    .await?;
    Ok(Running {
        addr,
        app,
        shutdown: Some(sender),
        handle: Some(handle),
    })
}

/// Serves until SIGINT or SIGTERM, then shuts down gracefully (`mlvet serve`).
pub async fn serve(config: ServerConfig) -> Result<(), ServerError> {
    let (addr, _app, handle) = launch(config, shutdown_signal()).await?;
    log::event(
        "info",
        "listening",
        serde_json::json!({ "addr": addr.to_string() }),
    );
    handle
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e)))?
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    log::event("info", "shutdown", serde_json::json!({}));
}

type Launched = (
    SocketAddr,
    Arc<App>,
    tokio::task::JoinHandle<Result<(), ServerError>>,
);

/// Opens (migrating) the store and prepares the monitor's cursor, off the async runtime.
async fn open_prepared(config: &ServerConfig) -> Result<Store, ServerError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let store = open_store(&config)?;
        monitor::prepare(&store, &config.data_dir)?;
        Ok::<_, ServerError>(store)
    })
    .await
    .map_err(|e| ServerError::Io(std::io::Error::other(e)))?
}

fn new_app(store: Store, config: ServerConfig, hub: hub::Shared, role: &str) -> Arc<App> {
    let process = format!(
        "{role}-{}-{}",
        std::process::id(),
        mlvet_store::secrets::random_alnum(6)
    );
    Arc::new(App {
        store,
        config,
        limiter: limits::RateLimiter::new(),
        jobs_changed: tokio::sync::Notify::new(),
        job_queued: tokio::sync::Notify::new(),
        monitor: monitor::Shared::new(),
        process,
        hub,
    })
}

/// Starts the process's background work: `limits.workers` job workers and, when there is at
/// least one, the monitor's loops (generation watcher, deliveries, scheduled update). With
/// none, nothing: an API-only replica leaves the work to `mlvet worker` processes.
fn spawn_background(
    app: &Arc<App>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for index in 0..app.config.limits.workers {
        tasks.push(tokio::spawn(worker::run(
            Arc::clone(app),
            format!("{}-{index}", app.process),
            stop.clone(),
        )));
    }
    if app.config.limits.workers > 0 {
        tasks.extend(monitor::spawn_loops(app, stop));
        tasks.extend(hub::spawn_recheck(app, stop));
    }
    tasks
}

async fn launch(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Launched, ServerError> {
    config.validate().map_err(ServerError::Config)?;
    let hub = hub::Shared::new(&config.hub).map_err(ServerError::Config)?;
    let store = open_prepared(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    let app = new_app(store, config, hub, "serve");
    if app.config.limits.workers == 0 {
        log::event(
            "info",
            "api_only",
            serde_json::json!({
                "note": "no job workers, watcher or deliveries here: `mlvet worker` processes do that work"
            }),
        );
    }
    let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
    let workers = spawn_background(&app, &workers_stopped);
    let service = router(Arc::clone(&app));
    let connection_limits = listener::ConnectionLimits {
        header_timeout: Duration::from_secs(app.config.limits.header_timeout_seconds),
        max_connections: app.config.limits.max_connections,
    };
    let handle = tokio::spawn(async move {
        let served = listener::serve(listener, service, connection_limits, shutdown).await;
        let _ = stop_workers.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        served.map_err(ServerError::Io)
    });
    Ok((addr, app, handle))
}

/// [`serve`] on a new multi-threaded runtime (the command line has none).
pub fn serve_blocking(config: ServerConfig) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mlvet-serve")
        .build()?;
    runtime.block_on(serve(config))
}
