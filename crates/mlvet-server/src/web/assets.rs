//! The vendored stylesheet, served under a content-hashed name with a year's caching.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const STYLESHEET: &str = include_str!("../../static/app.css");

/// `/static/app-<first 16 hex digits of the SHA-256>.css`: a new file, a new URL.
pub fn stylesheet_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let digest = crate::api::sha256_hex(STYLESHEET.as_bytes());
        format!("/static/app-{}.css", &digest[..16])
    })
}

pub async fn serve(
    file: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    let wanted = file.ok().map(|Path(f)| format!("/static/{f}"));
    if wanted.as_deref() != Some(stylesheet_path()) {
        return super::WebError::not_found("file").render(None);
    }
    let mut response = (StatusCode::OK, STYLESHEET).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    super::security_headers(headers);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}
