//! The accept loop. `axum::serve` sets no header read timeout and no connection cap, so one
//! client dribbling a header byte per second (slowloris) holds a connection forever and enough
//! of them exhaust the process. Here each connection is served by hyper's HTTP/1 builder with a
//! header read timeout (the connection is closed when the headers of a request, or of the next
//! request on a kept-alive connection, do not arrive in time) and at most `max_connections`
//! connections are open at once: the next one is accepted when one closes, and until then waits
//! in the kernel's listen backlog.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// The per-connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets the
/// requests in flight finish (idle kept-alive connections are closed) and returns.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    // Tokio's semaphore counts permits in a u32 for `acquire_many`.
    let max = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX >> 4);
    let permits = Arc::new(Semaphore::new(max as usize));
    let (closing, closing_seen) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => permit.map_err(std::io::Error::other)?,
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Per-connection failures (reset before accept) are the client's; others
                    // (out of file descriptors) pass with time: never a busy loop.
                    if !is_connection_error(&error) {
                        crate::log::event(
                            "error",
                            "accept_failed",
                            serde_json::json!({ "error": error.to_string() }),
                        );
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let mut closing_seen = closing_seen.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(remote));
                    let mut router = router.clone();
                    async move { tower_service::Service::call(&mut router, request).await }
                });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = closing_seen.changed() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // Every connection gives its permit back when it ends.
    let _ = permits.acquire_many(max).await;
    Ok(())
}

fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_accept_failures_are_not_server_errors() {
        assert!(is_connection_error(&std::io::Error::from(
            std::io::ErrorKind::ConnectionReset
        )));
        assert!(!is_connection_error(&std::io::Error::other("EMFILE")));
    }
}
