//! The web app of `mlvet serve`: server-rendered HTML pages over the same store, engine and
//! advisory code as `/api/v1`. No JavaScript is needed to read or to submit any form.
//!
//! - Every page is in [`PAGES`]; the router is built from it and the page × role test checks
//!   it covers every page.
//! - Sessions: the `mlvet_session` cookie (HttpOnly, SameSite=Strict, Path=/, Secure unless
//!   the server runs with `insecure_cookies` on loopback), a new secret at every login.
//! - CSRF: every POST form carries the session's token (the login form a double-submit
//!   cookie's), and `Origin`/`Sec-Fetch-Site` must be same-origin when the browser sends them.
//! - Every HTML response carries the CSP and the other security headers ([`html`]); templates
//!   are `maud`, which escapes every interpolated string.

#[macro_use]
mod guard {
    /// Runs `inner` for a visitor admitted by `access`, rendering its error as a page.
    macro_rules! guarded {
        ($app:expr, $caller:expr, $uri:expr, $access:expr, |$visitor:ident| $inner:expr) => {{
            let $visitor = match $crate::web::gate(&$app, &$caller, &$uri, $access).await {
                Ok(v) => v,
                Err(response) => return response,
            };
            let result: Result<axum::response::Response, $crate::web::WebError> = $inner.await;
            result.unwrap_or_else(|error| error.render(Some(&$visitor)))
        }};
    }
}

mod account;
mod activity;
mod advisories;
mod assets;
mod hub;
mod layout;
mod projects;
mod requirements;
mod scan;
mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use maud::Markup;
use mlvet_store::{Principal, Role};

use crate::App;
use crate::api::Caller;
use crate::problem::Problem;

/// The session cookie.
pub const SESSION_COOKIE: &str = "mlvet_session";
/// The login form's double-submit CSRF cookie (there is no session yet).
pub const LOGIN_CSRF_COOKIE: &str = "mlvet_login_csrf";
/// How long a session lasts.
const SESSION_DAYS: i64 = 7;
/// Largest urlencoded form body.
const MAX_FORM_BYTES: u64 = 64 * 1024;

pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Who may see a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAccess {
    /// Anyone (the login form, assets).
    Anonymous,
    /// A session of at least this role; anonymous visitors are sent to `/login?next=…`.
    Role(Role),
    /// A session; anonymous visitors too when the server runs with `--public-scan`.
    PublicScan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageHandler {
    Root,
    LoginForm,
    Login,
    Logout,
    ScanForm,
    Scan,
    Advisories,
    Advisory,
    Projects,
    CreateProject,
    Project,
    Upload,
    Triage,
    Job,
    HubScan,
    Asset,
    Activity,
    Webhooks,
    CreateWebhook,
    Webhook,
    DeleteWebhook,
    ReplayDelivery,
}

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: PageHandler,
    pub access: PageAccess,
    pub summary: &'static str,
}

pub static PAGES: &[Page] = &[
    Page {
        method: "GET",
        path: "/",
        handler: PageHandler::Root,
        access: PageAccess::Anonymous,
        summary: "303 to /projects (signed in) or /login",
    },
    Page {
        method: "GET",
        path: "/login",
        handler: PageHandler::LoginForm,
        access: PageAccess::Anonymous,
        summary: "The sign-in form",
    },
    Page {
        method: "POST",
        path: "/login",
        handler: PageHandler::Login,
        access: PageAccess::Anonymous,
        summary: "Sign in: a new session, then 303 to `next`",
    },
    Page {
        method: "POST",
        path: "/logout",
        handler: PageHandler::Logout,
        access: PageAccess::Role(Role::Viewer),
        summary: "Sign out: the session is deleted",
    },
    Page {
        method: "GET",
        path: "/scan",
        handler: PageHandler::ScanForm,
        access: PageAccess::PublicScan,
        summary: "Scan your ML stack: the form",
    },
    Page {
        method: "POST",
        path: "/scan",
        handler: PageHandler::Scan,
        access: PageAccess::PublicScan,
        summary: "Scan uploaded files and a pasted requirements list; the report",
    },
    Page {
        method: "GET",
        path: "/advisories",
        handler: PageHandler::Advisories,
        access: PageAccess::Role(Role::Viewer),
        summary: "AI & ML vulnerabilities, newest first, filtered and paged",
    },
    Page {
        method: "GET",
        path: "/advisories/{id}",
        handler: PageHandler::Advisory,
        access: PageAccess::Role(Role::Viewer),
        summary: "One advisory with the team's affected projects",
    },
    Page {
        method: "GET",
        path: "/projects",
        handler: PageHandler::Projects,
        access: PageAccess::Role(Role::Viewer),
        summary: "The team's portfolio",
    },
    Page {
        method: "POST",
        path: "/projects",
        handler: PageHandler::CreateProject,
        access: PageAccess::Role(Role::Member),
        summary: "Create a project",
    },
    Page {
        method: "GET",
        path: "/projects/{id}",
        handler: PageHandler::Project,
        access: PageAccess::Role(Role::Viewer),
        summary: "A project: inventory, findings, triage, uploads",
    },
    Page {
        method: "POST",
        path: "/projects/{id}/uploads",
        handler: PageHandler::Upload,
        access: PageAccess::Role(Role::Member),
        summary: "Upload a file to a project: queues a job, 303 to the job",
    },
    Page {
        method: "POST",
        path: "/findings/{id}/triage",
        handler: PageHandler::Triage,
        access: PageAccess::Role(Role::Member),
        summary: "Triage a finding (audited)",
    },
    Page {
        method: "GET",
        path: "/jobs/{id}",
        handler: PageHandler::Job,
        access: PageAccess::Role(Role::Viewer),
        summary: "An upload's job; refreshes while queued or running",
    },
    Page {
        method: "GET",
        path: "/projects/{id}/activity",
        handler: PageHandler::Activity,
        access: PageAccess::Role(Role::Viewer),
        summary: "A project's activity feed (its outbox events), newest first, paged by `before`",
    },
    Page {
        method: "GET",
        path: "/webhooks",
        handler: PageHandler::Webhooks,
        access: PageAccess::Role(Role::Admin),
        summary: "The team's webhook endpoints and the form to create one",
    },
    Page {
        method: "POST",
        path: "/webhooks",
        handler: PageHandler::CreateWebhook,
        access: PageAccess::Role(Role::Admin),
        summary: "Create a webhook endpoint: the answer shows its secret, once",
    },
    Page {
        method: "GET",
        path: "/webhooks/{id}",
        handler: PageHandler::Webhook,
        access: PageAccess::Role(Role::Admin),
        summary: "A webhook endpoint's delivery log, newest first, paged by `before`",
    },
    Page {
        method: "POST",
        path: "/webhooks/{id}/delete",
        handler: PageHandler::DeleteWebhook,
        access: PageAccess::Role(Role::Admin),
        summary: "Delete a webhook endpoint and its delivery log",
    },
    Page {
        method: "POST",
        path: "/webhooks/{id}/deliveries/{delivery_id}/replay",
        handler: PageHandler::ReplayDelivery,
        access: PageAccess::Role(Role::Admin),
        summary: "Send a delivery again now; 303 back to the delivery log",
    },
    Page {
        method: "GET",
        path: "/hub/scans/{id}",
        handler: PageHandler::HubScan,
        access: PageAccess::Role(Role::Viewer),
        summary: "A bulk Hub scan's progress, per repository; refreshes while it runs",
    },
    Page {
        method: "GET",
        path: "/static/{file}",
        handler: PageHandler::Asset,
        access: PageAccess::Anonymous,
        summary: "The vendored stylesheet (content-hashed name, cached for a year)",
    },
];

/// The web routes, built from [`PAGES`].
pub fn router(app: &Arc<App>) -> Router<Arc<App>> {
    let mut router = Router::new();
    for page in PAGES {
        router = router.route(page.path, method_router(page, app));
    }
    router
}

fn method_router(page: &Page, app: &Arc<App>) -> MethodRouter<Arc<App>> {
    let filter = if page.method == "POST" {
        MethodFilter::POST
    } else {
        MethodFilter::GET
    };
    // Multipart forms are bounded by the service's body limit, streamed and counted.
    let upload_limit = DefaultBodyLimit::max(
        usize::try_from(app.config.limits.max_body_bytes).unwrap_or(usize::MAX),
    );
    match page.handler {
        PageHandler::Root => on(filter, account::root),
        PageHandler::LoginForm => on(filter, account::login_form),
        PageHandler::Login => on(filter, account::login),
        PageHandler::Logout => on(filter, account::logout),
        PageHandler::ScanForm => on(filter, scan::form),
        PageHandler::Scan => on(filter, scan::scan).layer(upload_limit),
        PageHandler::Advisories => on(filter, advisories::list),
        PageHandler::Advisory => on(filter, advisories::detail),
        PageHandler::Projects => on(filter, projects::list),
        PageHandler::CreateProject => on(filter, projects::create),
        PageHandler::Project => on(filter, projects::show),
        PageHandler::Upload => on(filter, projects::upload).layer(upload_limit),
        PageHandler::Triage => on(filter, projects::triage),
        PageHandler::HubScan => on(filter, hub::scan),
        PageHandler::Job => on(filter, projects::job),
        PageHandler::Asset => on(filter, assets::serve),
        PageHandler::Activity => on(filter, activity::feed),
        PageHandler::Webhooks => on(filter, webhooks::list),
        PageHandler::CreateWebhook => on(filter, webhooks::create),
        PageHandler::Webhook => on(filter, webhooks::show),
        PageHandler::DeleteWebhook => on(filter, webhooks::delete),
        PageHandler::ReplayDelivery => on(filter, webhooks::replay),
    }
}

/// A signed-in (or anonymous, where allowed) visitor.
pub struct Visitor {
    pub principal: Option<Principal>,
    /// The session's CSRF token (empty for anonymous visitors).
    pub csrf: String,
    session: Option<String>,
}

impl Visitor {
    fn anonymous() -> Visitor {
        Visitor {
            principal: None,
            csrf: String::new(),
            session: None,
        }
    }

    pub fn can(&self, role: Role) -> bool {
        self.principal.as_ref().is_some_and(|p| p.role >= role)
    }
}

/// An error shown as an HTML page with the site's layout.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> WebError {
        WebError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found(what: &str) -> WebError {
        WebError::new(StatusCode::NOT_FOUND, format!("There is no such {what}."))
    }

    pub fn forbidden(needed: Role) -> WebError {
        WebError::new(
            StatusCode::FORBIDDEN,
            format!("This needs the {needed} role or a stronger one."),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn csrf() -> WebError {
        WebError::new(
            StatusCode::FORBIDDEN,
            "The form was not sent from this site or has expired: reload the page and try again.",
        )
    }

    /// The error page, with the navigation of `visitor` when known.
    pub fn render(self, visitor: Option<&Visitor>) -> Response {
        let title = self
            .status
            .canonical_reason()
            .unwrap_or("Error")
            .to_string();
        let body = maud::html! {
            p.error role="alert" { (self.message) }
            @if self.status == StatusCode::NOT_FOUND || self.status == StatusCode::FORBIDDEN {
                p { a href="/projects" { "Back to the projects" } }
            }
        };
        let mut response = html(self.status, layout::page(&title, visitor, body));
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<Problem> for WebError {
    fn from(problem: Problem) -> WebError {
        WebError {
            status: problem.status,
            message: problem.detail,
            retry_after: problem.retry_after,
        }
    }
}

impl From<mlvet_store::StoreError> for WebError {
    fn from(error: mlvet_store::StoreError) -> WebError {
        WebError::from(Problem::from(error))
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.render(None)
    }
}

/// An HTML response with the security headers every page carries. Pages are never cached
/// (they show a team's data); the assets set their own caching.
pub fn html(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    security_headers(headers);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: under it browsers send `Origin: null` with this site's own form
    // posts, which the origin check must refuse. `same-origin` still sends nothing to others.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// 303 See Other to a path of this site.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The 404 page for paths outside the API.
pub fn not_found_page() -> Response {
    WebError::not_found("page").render(None)
}

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty() && value.len() <= 200)
}

/// The visitor of a page of `access`: `Err` is the response to send instead (a redirect to
/// the login page, 403, 429).
pub async fn gate(
    app: &Arc<App>,
    caller: &Caller,
    uri: &axum::http::Uri,
    access: PageAccess,
) -> Result<Visitor, Response> {
    let visitor = match session_visitor(app, caller).await {
        Ok(visitor) => visitor,
        Err(error) => return Err(error.render(None)),
    };
    let needed = match access {
        PageAccess::Anonymous => return Ok(visitor),
        PageAccess::PublicScan if visitor.principal.is_none() && app.config.public_scan => {
            return Ok(visitor);
        }
        PageAccess::PublicScan => Role::Viewer,
        PageAccess::Role(role) => role,
    };
    let Some(principal) = &visitor.principal else {
        let next = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        return Err(see_other(&format!("/login?next={}", percent_encode(&next))));
    };
    if principal.role < needed {
        return Err(WebError::forbidden(needed).render(Some(&visitor)));
    }
    Ok(visitor)
}

/// The session named by the cookie (anonymous when none or unknown), rate-limited per session.
async fn session_visitor(app: &Arc<App>, caller: &Caller) -> Result<Visitor, WebError> {
    let Some(secret) = cookie(&caller.headers, SESSION_COOKIE) else {
        return Ok(Visitor::anonymous());
    };
    let lookup = secret.clone();
    let Some((principal, csrf)) = app.blocking(move |store| store.session(&lookup)).await? else {
        return Ok(Visitor::anonymous());
    };
    let key = format!(
        "session:{}",
        &crate::api::sha256_hex(secret.as_bytes())[..16]
    );
    app.limiter
        .check(&key, app.config.limits.rate_per_minute)
        .map_err(|wait| WebError::from(Problem::too_many(wait)))?;
    Ok(Visitor {
        principal: Some(principal),
        csrf,
        session: Some(secret),
    })
}

/// A POST must come from this site: `Sec-Fetch-Site` same-origin (or a user's own navigation),
/// `Origin` naming this host, when the browser sends them.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or_default();
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        if host.is_empty() || origin_host != Some(host) {
            return false;
        }
    }
    true
}

/// The form's CSRF token equals the session's, and the request is same-origin.
pub fn check_csrf(
    visitor: &Visitor,
    headers: &HeaderMap,
    sent: Option<&str>,
) -> Result<(), WebError> {
    if !same_origin(headers) {
        return Err(WebError::csrf());
    }
    let Some(sent) = sent else {
        return Err(WebError::csrf());
    };
    if visitor.csrf.is_empty()
        || !mlvet_store::secrets::constant_time_eq(sent.as_bytes(), visitor.csrf.as_bytes())
    {
        return Err(WebError::csrf());
    }
    Ok(())
}

/// An `application/x-www-form-urlencoded` body, bounded.
pub async fn read_form(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<HashMap<String, String>, WebError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(WebError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This form is sent as application/x-www-form-urlencoded.",
        ));
    }
    let bytes = crate::limits::read_body(headers, body, MAX_FORM_BYTES, MAX_FORM_BYTES).await?;
    let text =
        String::from_utf8(bytes).map_err(|_| WebError::bad_request("The form is not UTF-8."))?;
    Ok(crate::api::query_params(Some(text))?)
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A `next` target that stays on this site: a path starting with one `/`, no backslash, no
/// scheme, no control characters. Anything else goes to the projects.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && !next.contains('\\')
                && !next.chars().any(char::is_control)
                && next.len() <= 2000
                && !next.starts_with("/login")
                && !next.starts_with("/logout") =>
        {
            next.to_string()
        }
        _ => "/projects".to_string(),
    }
}

/// A `Set-Cookie` value with the web app's attributes.
pub fn set_cookie(app: &App, name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    let secure = if app.config.insecure_cookies {
        ""
    } else {
        "; Secure"
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_site_relative_next_values_are_honoured() {
        assert_eq!(safe_next(Some("/projects/3?x=1")), "/projects/3?x=1");
        for hostile in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "/\n/evil",
            "evil",
            "/login?next=//evil",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/projects", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/projects");
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&headers));
        headers.remove(header::ORIGIN);
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&headers));
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("xmlvet_session=a; mlvet_session=b"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("b"));
    }
}
