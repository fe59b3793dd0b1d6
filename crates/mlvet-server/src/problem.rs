//! RFC 9457 problem details: every error of the API is `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Seconds a client waits before retrying a write the store was too busy for.
const BUSY_RETRY_AFTER: u64 = 2;

#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "a valid API token is required: `Authorization: Bearer mlvet_…`",
        )
    }

    pub fn forbidden(needed: mlvet_store::Role) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            format!("this needs the `{needed}` role or a stronger one"),
        )
    }

    pub fn not_found(what: &str) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, format!("no such {what}"))
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn too_many(retry_after: u64) -> Problem {
        Problem {
            status: StatusCode::TOO_MANY_REQUESTS,
            detail: format!("rate limit reached: retry in {retry_after} s"),
            retry_after: Some(retry_after),
        }
    }

    /// The store could not take the write in time (another writer held the lock): `503` with
    /// `Retry-After`, so clients and load balancers retry instead of reporting a failure.
    pub fn busy(error: impl std::fmt::Display) -> Problem {
        crate::log::event(
            "warn",
            "store_busy",
            serde_json::json!({ "error": error.to_string() }),
        );
        Problem {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: format!("the store is busy with other writes: retry in {BUSY_RETRY_AFTER} s"),
            retry_after: Some(BUSY_RETRY_AFTER),
        }
    }

    /// An unexpected failure: the detail is logged, the client sees a generic message.
    pub fn internal(error: impl std::fmt::Display) -> Problem {
        crate::log::event(
            "error",
            "internal_error",
            serde_json::json!({ "error": error.to_string() }),
        );
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (see the server log)",
        )
    }
}

impl From<mlvet_store::StoreError> for Problem {
    fn from(error: mlvet_store::StoreError) -> Problem {
        match error {
            mlvet_store::StoreError::Conflict(what) => {
                Problem::new(StatusCode::CONFLICT, format!("{what} already exists"))
            }
            mlvet_store::StoreError::Invalid(detail) => Problem::bad_request(detail),
            mlvet_store::StoreError::NotFound => Problem::not_found("resource"),
            busy if busy.is_busy() => Problem::busy(busy),
            other => Problem::internal(other),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mlvet\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `database is locked` from a real SQLite lock becomes `503` problem+json with
    /// `Retry-After`, never a bare `500`.
    #[test]
    fn a_busy_store_is_503_with_retry_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("busy.sqlite3");
        let holder = rusqlite::Connection::open(&path).expect("open");
        holder
            .execute_batch("CREATE TABLE t (x INTEGER); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .expect("hold the write lock");
        let other = rusqlite::Connection::open(&path).expect("open");
        other
            .busy_timeout(std::time::Duration::ZERO)
            .expect("no wait");
        let locked = other
            .execute("INSERT INTO t VALUES (2)", [])
            .expect_err("the lock is held");
        let response = Problem::from(mlvet_store::StoreError::from(locked)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let other = Problem::from(mlvet_store::StoreError::Decode("x".into())).into_response();
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
