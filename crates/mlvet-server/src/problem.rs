//! RFC 9457 problem details: every error of the API is `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
