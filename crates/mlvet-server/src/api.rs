//! The handlers of `/api/v1` (and the health checks). Every handler authenticates first
//! (401 no or bad token, 403 role too weak), then resolves what it names within the caller's
//! team (another team's project, job or finding is 404, exactly like a missing one).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use mlvet_store::{Job, Principal, Project, Role, StoredFinding};
use serde_json::{Value, json};

use crate::App;
use crate::problem::Problem;
use crate::routes::{Access, Handler, Route};

pub(crate) type ApiResult = Result<Response, Problem>;

/// Largest JSON request body (project creation, triage).
const MAX_JSON_BYTES: u64 = 64 * 1024;

/// The router entry of one route.
pub fn method_router(route: &Route) -> MethodRouter<Arc<App>> {
    let filter = match route.method {
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    };
    match route.handler {
        Handler::Healthz => on(filter, healthz),
        Handler::Readyz => on(filter, readyz),
        Handler::OpenApi => on(filter, openapi),
        Handler::ListProjects => on(filter, list_projects),
        Handler::CreateProject => on(filter, create_project),
        Handler::GetProject => on(filter, get_project),
        Handler::PutInventory => on(filter, put_inventory),
        Handler::ListFindings => on(filter, list_findings),
        Handler::ListPackages => on(filter, list_packages),
        Handler::ListUploads => on(filter, list_uploads),
        Handler::GetJob => on(filter, get_job),
        Handler::GetFinding => on(filter, get_finding),
        Handler::PatchFinding => on(filter, patch_finding),
        Handler::Scan => on(filter, scan),
        Handler::ListAdvisories => on(filter, list_advisories),
        Handler::GetAdvisory => on(filter, get_advisory),
        Handler::ProjectEvents => on(filter, crate::webhooks_api::project_events),
        Handler::CreateWebhook => on(filter, crate::webhooks_api::create_webhook),
        Handler::ListWebhooks => on(filter, crate::webhooks_api::list_webhooks),
        Handler::GetWebhook => on(filter, crate::webhooks_api::get_webhook),
        Handler::DeleteWebhook => on(filter, crate::webhooks_api::delete_webhook),
        Handler::ListDeliveries => on(filter, crate::webhooks_api::list_deliveries),
        Handler::ReplayDelivery => on(filter, crate::webhooks_api::replay_delivery),
        Handler::TrackHubModel => on(filter, crate::hub_api::track_model),
        Handler::ListHubModels => on(filter, crate::hub_api::list_models),
        Handler::UntrackHubModel => on(filter, crate::hub_api::untrack_model),
        Handler::CreateHubScan => on(filter, crate::hub_api::create_scan),
        Handler::GetHubScan => on(filter, crate::hub_api::get_scan),
    }
}

/// The request's headers and the client's address.
pub struct Caller {
    pub(crate) headers: HeaderMap,
    pub(crate) peer: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Caller {
            headers: parts.headers.clone(),
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        })
    }
}

impl Caller {
    pub(crate) fn peer_key(&self) -> String {
        self.peer
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".to_string())
    }

    fn bearer(&self) -> Option<String> {
        let value = self.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string())
    }
}

/// The caller's principal for a route of `access`: `None` only for an anonymous public scan.
async fn authenticate(
    app: &Arc<App>,
    caller: &Caller,
    access: Access,
) -> Result<Option<Principal>, Problem> {
    let limits = &app.config.limits;
    let needed = match access {
        Access::Public => return Ok(None),
        Access::Role(role) => role,
        Access::PublicScan => Role::Viewer,
    };
    let Some(token) = caller.bearer() else {
        if access == Access::PublicScan && app.config.public_scan {
            app.limiter
                .check(
                    &format!("public:{}", caller.peer_key()),
                    limits.public_scan_per_minute,
                )
                .map_err(Problem::too_many)?;
            return Ok(None);
        }
        return Err(Problem::unauthorized());
    };
    let principal = app
        .blocking(move |store| store.authenticate_token(&token))
        .await?;
    let Some(principal) = principal else {
        // Guessing tokens is slowed down per client address.
        app.limiter
            .check(
                &format!("authfail:{}", caller.peer_key()),
                limits.auth_failures_per_minute,
            )
            .map_err(Problem::too_many)?;
        return Err(Problem::unauthorized());
    };
    if principal.role < needed {
        return Err(Problem::forbidden(needed));
    }
    let key = match principal.token_id {
        Some(id) => format!("token:{id}"),
        None => format!("actor:{}", principal.actor),
    };
    app.limiter
        .check(&key, limits.rate_per_minute)
        .map_err(Problem::too_many)?;
    Ok(Some(principal))
}

/// [`authenticate`] for routes that always need a token.
pub(crate) async fn require(
    app: &Arc<App>,
    caller: &Caller,
    role: Role,
) -> Result<Principal, Problem> {
    authenticate(app, caller, Access::Role(role))
        .await?
        .ok_or_else(Problem::unauthorized)
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn ok(value: &Value) -> ApiResult {
    Ok(json_response(StatusCode::OK, value))
}

/// An id from the path: anything that is not one of ours is simply not found.
pub(crate) fn parse_id(
    raw: Result<Path<String>, axum::extract::rejection::PathRejection>,
    what: &str,
) -> Result<i64, Problem> {
    raw.ok()
        .and_then(|Path(id)| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| Problem::not_found(what))
}

/// The query string's parameters (the last value of a repeated key wins).
pub fn query_params(raw: Option<String>) -> Result<HashMap<String, String>, Problem> {
    let mut params = HashMap::new();
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(percent_decode(key)?, percent_decode(value)?);
    }
    Ok(params)
}

fn percent_decode(text: &str) -> Result<String, Problem> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        Problem::bad_request("malformed percent-encoding in the query")
                    })?;
                out.push(hex);
                index += 2;
            }
            other => out.push(other),
        }
        index += 1;
    }
    String::from_utf8(out).map_err(|_| Problem::bad_request("the query is not UTF-8"))
}

pub(crate) async fn read_json(
    app: &App,
    caller: &Caller,
    body: axum::body::Body,
) -> Result<Value, Problem> {
    let bytes = crate::limits::read_body(
        &caller.headers,
        body,
        MAX_JSON_BYTES.min(app.config.limits.max_body_bytes),
        MAX_JSON_BYTES,
    )
    .await?;
    parse_json_object(&bytes)
}

/// A request's JSON body: an object, or 400.
pub fn parse_json_object(bytes: &[u8]) -> Result<Value, Problem> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Problem::bad_request(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Problem::bad_request("the body must be a JSON object"));
    }
    Ok(value)
}

/// A name typed by a person: trimmed, 1–200 characters, no control characters.
pub fn check_name(value: &Value, field: &str) -> Result<String, Problem> {
    let text = value[field]
        .as_str()
        .ok_or_else(|| Problem::bad_request(format!("`{field}` must be a string")))?
        .trim();
    if text.is_empty() || text.chars().count() > 200 || text.chars().any(char::is_control) {
        return Err(Problem::bad_request(format!(
            "`{field}` must be 1 to 200 characters without control characters"
        )));
    }
    Ok(text.to_string())
}

// ---- health ----

async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

async fn readyz(State(app): State<Arc<App>>) -> ApiResult {
    let data_dir = app.config.data_dir.clone();
    let checked = app
        .blocking(move |store| {
            store.ping()?;
            let version = store.schema_version()?;
            let advisories = matches!(mlvet_db::Database::open(&data_dir), Ok(Some(_)));
            Ok((version, store.is_postgres(), advisories))
        })
        .await;
    match checked {
        Ok((version, postgres, advisories))
            if version == mlvet_store::Store::supported_version() =>
        {
            ok(&json!({
                "status": "ready",
                "schema_version": version,
                "backend": if postgres { "postgres" } else { "sqlite" },
                "advisory_database": advisories,
            }))
        }
        Ok((version, _, _)) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the store's schema is at version {version}"),
        )),
        Err(_) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the store does not answer",
        )),
    }
}

async fn openapi() -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = DOCUMENT.get_or_init(|| crate::openapi::document().to_string());
    let mut response = (StatusCode::OK, text.clone()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

// ---- projects ----

fn project_json(
    project: &Project,
    findings: &[StoredFinding],
    packages: usize,
    sources: Value,
    last_upload: Option<&Job>,
) -> Value {
    let mut by_state: BTreeMap<&str, usize> = [
        ("open", 0),
        ("suppressed", 0),
        ("resolved", 0),
        ("retracted", 0),
    ]
    .into();
    let mut by_severity: BTreeMap<String, usize> = ["critical", "high", "medium", "low", "info"]
        .iter()
        .map(|s| ((*s).to_string(), 0))
        .collect();
    let mut by_verdict: BTreeMap<String, usize> = ["malicious", "dangerous", "suspicious", "safe"]
        .iter()
        .map(|s| ((*s).to_string(), 0))
        .collect();
    for finding in findings {
        *by_state.entry(finding.state.as_str()).or_default() += 1;
        if finding.state == "open" {
            *by_severity.entry(finding.severity.clone()).or_default() += 1;
            let verdict = serde_json::from_str::<Value>(&finding.body)
                .ok()
                .and_then(|b| b["verdict"].as_str().map(str::to_string))
                .unwrap_or_else(|| "unknown".to_string());
            *by_verdict.entry(verdict).or_default() += 1;
        }
    }
    json!({
        "id": project.id,
        "name": project.name,
        "created": project.created,
        "packages": packages,
        "findings": {
            "by_state": by_state,
            "by_severity": by_severity,
            "by_verdict": by_verdict,
        },
        "sources": sources,
        "last_upload": last_upload.map(job_json),
    })
}

/// The project with its counts, read in one place so that the list and the page agree.
pub(crate) fn load_project(
    store: &mlvet_store::Store,
    project: &Project,
) -> Result<Value, mlvet_store::StoreError> {
    let findings = store.findings(project.id)?;
    let sources = store.sources(project.id)?;
    let packages = sources
        .iter()
        .map(|s| usize::try_from(s.packages).unwrap_or(0))
        .sum();
    let sources_json = json!(
        sources
            .iter()
            .map(|s| json!({"filename": s.filename, "format": s.format, "uploaded": s.uploaded, "packages": s.packages}))
            .collect::<Vec<_>>()
    );
    let last = store.last_upload(project.id)?;
    let mut value = project_json(project, &findings, packages, sources_json, last.as_ref());
    if let Some((generation, matcher)) = store.project_monitor_state(project.id)? {
        value["monitor"] = json!({"matched_generation": generation, "matcher_version": matcher});
    }
    Ok(value)
}

async fn list_projects(State(app): State<Arc<App>>, caller: Caller) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let projects = app
        .blocking(move |store| {
            store
                .projects(principal.team_id)?
                .iter()
                .map(|p| load_project(store, p))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    ok(&json!({ "projects": projects }))
}

async fn create_project(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: axum::body::Body,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Member).await?;
    let value = read_json(&app, &caller, body).await?;
    let name = check_name(&value, "name")?;
    let project = app
        .blocking(move |store| {
            let project = store.create_project(principal.team_id, &name)?;
            load_project(store, &project)
        })
        .await?;
    let mut response = json_response(StatusCode::CREATED, &project);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/projects/{}", project["id"])) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The project named by the path, within the caller's team.
pub(crate) async fn team_project(
    app: &Arc<App>,
    principal: &Principal,
    id: i64,
) -> Result<Project, Problem> {
    let team = principal.team_id;
    app.blocking(move |store| store.project(team, id))
        .await?
        .ok_or_else(|| Problem::not_found("project"))
}

async fn get_project(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let project = team_project(&app, &principal, parse_id(id, "project")?).await?;
    let value = app
        .blocking(move |store| load_project(store, &project))
        .await?;
    ok(&value)
}

// ---- uploads and jobs ----

pub fn job_json(job: &Job) -> Value {
    json!({
        "id": job.id,
        "project": job.project_id,
        "kind": job.kind,
        "filename": job.filename,
        "state": job.state.as_str(),
        "error": job.error,
        "size": job.size,
        "sha256": job.sha256,
        "created_by": job.created_by,
        "created": job.created,
        "started": job.started,
        "finished": job.finished,
        "attempts": job.attempt,
    })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    let mut out = String::with_capacity(64);
    for byte in sha2::Sha256::digest(bytes) {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

pub fn upload_filename(params: &HashMap<String, String>) -> Result<String, Problem> {
    let filename = params
        .get("filename")
        .ok_or_else(|| Problem::bad_request("`filename` is required: the uploaded file's name"))?;
    mlvet_engine::upload_name(filename).map_err(|e| Problem::bad_request(e.to_string()))?;
    Ok(filename.clone())
}

async fn put_inventory(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(query): RawQuery,
    body: axum::body::Body,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Member).await?;
    let project = team_project(&app, &principal, parse_id(id, "project")?).await?;
    let params = query_params(query)?;
    let filename = upload_filename(&params)?;
    let wait = match params.get("wait") {
        None => 0,
        Some(w) => w
            .parse::<u64>()
            .ok()
            .filter(|w| *w <= 3600)
            .ok_or_else(|| Problem::bad_request("`wait` is a number of seconds (0 to 3600)"))?,
    };
    let limits = &app.config.limits;
    let bytes = crate::limits::read_body(
        &caller.headers,
        body,
        limits.max_body_bytes,
        limits.max_decompressed_bytes,
    )
    .await?;
    let actor = principal.actor.clone();
    let job = app
        .blocking(move |store| {
            // Hashing up to the decompression budget is CPU work: here, off the runtime.
            let digest = sha256_hex(&bytes);
            store.enqueue_upload(project.id, &filename, &bytes, &digest, &actor)
        })
        .await?;
    app.job_queued.notify_one();
    let wait = wait
        .min(limits.max_wait_seconds)
        .min(limits.request_timeout_seconds.saturating_sub(1));
    let job = wait_for(&app, principal.team_id, job, Duration::from_secs(wait)).await?;
    let mut response = json_response(StatusCode::ACCEPTED, &json!({ "job": job_json(&job) }));
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/jobs/{}", job.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The job once it ended, or as it is when `wait` ran out.
pub(crate) async fn wait_for(
    app: &Arc<App>,
    team: i64,
    mut job: Job,
    wait: Duration,
) -> Result<Job, Problem> {
    let deadline = Instant::now() + wait;
    while !job.state.finished() {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        // Woken by the in-process workers; polled too, for workers in other processes.
        let nap = (deadline - now).min(Duration::from_millis(250));
        let _ = tokio::time::timeout(nap, app.jobs_changed.notified()).await;
        let id = job.id;
        match app.blocking(move |store| store.job(team, id)).await? {
            Some(current) => job = current,
            None => break,
        }
    }
    Ok(job)
}

async fn get_job(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let id = parse_id(id, "job")?;
    let team = principal.team_id;
    let job = app
        .blocking(move |store| store.job(team, id))
        .await?
        .ok_or_else(|| Problem::not_found("job"))?;
    ok(&json!({ "job": job_json(&job) }))
}

async fn list_uploads(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let project = team_project(&app, &principal, parse_id(id, "project")?).await?;
    let jobs = app
        .blocking(move |store| store.jobs(project.id, 200))
        .await?;
    ok(&json!({ "uploads": jobs.iter().map(job_json).collect::<Vec<_>>() }))
}

// ---- findings and packages ----

pub fn finding_json(finding: &StoredFinding) -> Value {
    let mut value = serde_json::from_str::<Value>(&finding.body).unwrap_or_else(|_| json!({}));
    if !value.is_object() {
        value = json!({});
    }
    value["id"] = json!(finding.id);
    value["project"] = json!(finding.project_id);
    value["state"] = json!(finding.state);
    value["source"] = json!(finding.source);
    value["first_seen"] = json!(finding.first_seen);
    value["last_seen"] = json!(finding.last_seen);
    value["resolved_at"] = json!(finding.resolved_at);
    value["triage"] = match &finding.triage {
        Some(t) => json!({
            "triage": t.triage,
            "reason": t.reason,
            "expires": t.expires,
            "by": t.by,
            "at": t.at,
        }),
        None => Value::Null,
    };
    value
}

async fn list_findings(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let project = team_project(&app, &principal, parse_id(id, "project")?).await?;
    let params = query_params(query)?;
    let state = params.get("state").cloned();
    if let Some(state) = &state
        && !["open", "resolved", "suppressed", "retracted"].contains(&state.as_str())
    {
        return Err(Problem::bad_request(
            "`state` is open, resolved, suppressed or retracted",
        ));
    }
    let findings = app
        .blocking(move |store| store.findings(project.id))
        .await?;
    let findings: Vec<Value> = findings
        .iter()
        .filter(|f| state.as_deref().is_none_or(|s| f.state == s))
        .map(finding_json)
        .collect();
    ok(&json!({ "findings": findings }))
}

async fn list_packages(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let project = team_project(&app, &principal, parse_id(id, "project")?).await?;
    let packages = app
        .blocking(move |store| store.packages(project.id))
        .await?;
    let packages: Vec<Value> = packages
        .iter()
        .map(|p| {
            json!({
                "ecosystem": p.package.ecosystem,
                "name": p.package.name,
                "version": p.package.version,
                "requirement": p.package.requirement,
                "purl": p.package.purl,
                "ml": p.package.ml,
                "source": {"file": p.source, "line": p.package.line},
            })
        })
        .collect();
    ok(&json!({ "packages": packages }))
}

async fn finding_with_audit(app: &Arc<App>, team: i64, id: i64) -> Result<Value, Problem> {
    let (finding, audit) = app
        .blocking(move |store| {
            let Some(finding) = store.finding(team, id)? else {
                return Ok(None);
            };
            let audit = store.audit(finding.id)?;
            Ok(Some((finding, audit)))
        })
        .await?
        .ok_or_else(|| Problem::not_found("finding"))?;
    let mut value = finding_json(&finding);
    value["audit"] = json!(
        audit
            .iter()
            .map(|a| json!({
                "by": a.actor, "at": a.at, "triage": a.triage, "reason": a.reason,
                "expires": a.expires, "previous_state": a.previous_state,
            }))
            .collect::<Vec<_>>()
    );
    Ok(value)
}

async fn get_finding(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let id = parse_id(id, "finding")?;
    ok(&finding_with_audit(&app, principal.team_id, id).await?)
}

/// The body of `PATCH /findings/{id}`, checked.
pub struct Triage {
    pub triage: String,
    pub reason: String,
    pub expires: Option<String>,
}

pub fn parse_triage(value: &Value) -> Result<Triage, Problem> {
    let triage = value["triage"]
        .as_str()
        .filter(|t| mlvet_store::TRIAGE_VALUES.contains(t))
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "`triage` is one of {}",
                mlvet_store::TRIAGE_VALUES.join(", ")
            ))
        })?
        .to_string();
    let reason = value["reason"]
        .as_str()
        .map(str::trim)
        .filter(|r| !r.is_empty() && r.chars().count() <= 4000)
        .ok_or_else(|| Problem::bad_request("`reason` is required (1 to 4000 characters)"))?
        .to_string();
    let expires = match &value["expires"] {
        Value::Null => None,
        Value::String(date)
            if mlvet_config::Date::parse(date).is_some_and(|d| d.to_string() == *date) =>
        {
            Some(date.clone())
        }
        _ => {
            return Err(Problem::bad_request(
                "`expires` is a date YYYY-MM-DD or null",
            ));
        }
    };
    Ok(Triage {
        triage,
        reason,
        expires,
    })
}

async fn patch_finding(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    body: axum::body::Body,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Member).await?;
    let id = parse_id(id, "finding")?;
    let value = read_json(&app, &caller, body).await?;
    let Triage {
        triage,
        reason,
        expires,
    } = parse_triage(&value)?;
    let team = principal.team_id;
    let actor = principal.actor.clone();
    app.blocking(move |store| store.triage(team, id, &triage, &reason, expires.as_deref(), &actor))
        .await?
        .ok_or_else(|| Problem::not_found("finding"))?;
    ok(&finding_with_audit(&app, team, id).await?)
}

// ---- one-off scans ----

async fn scan(
    State(app): State<Arc<App>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    body: axum::body::Body,
) -> ApiResult {
    authenticate(&app, &caller, Access::PublicScan).await?;
    let params = query_params(query)?;
    let filename = upload_filename(&params)?;
    let limits = &app.config.limits;
    let bytes = crate::limits::read_body(
        &caller.headers,
        body,
        limits.max_body_bytes,
        limits.max_decompressed_bytes,
    )
    .await?;
    let data_dir = app.config.data_dir.clone();
    let name = filename.clone();
    let report = tokio::task::spawn_blocking(move || {
        mlvet_engine::scan_upload(
            &name,
            &bytes,
            &mlvet_engine::UploadRequest {
                data_dir: &data_dir,
                hash_models: true,
            },
        )
    })
    .await
    .map_err(Problem::internal)?
    .map_err(|e| match e {
        mlvet_engine::EngineError::UploadName(_) => Problem::bad_request(e.to_string()),
        other => Problem::internal(other),
    })?;
    let mut report = report;
    if report.artifacts.is_empty() && report.errors.is_empty() {
        // As `mlvet scan` does for such a file: nothing of interest, said in a warning.
        report.warnings.push(format!(
            "`{filename}` is not a manifest, lockfile, SBOM or model file that mlvet reads (the name decides how a file is read): nothing was scanned"
        ));
    }
    let json = crate::records::report_json(&report, &filename, Some(mlvet_core::Severity::High));
    ok(&json)
}

// ---- advisories ----

async fn list_advisories(
    State(app): State<Arc<App>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult {
    require(&app, &caller, Role::Viewer).await?;
    let query = crate::advisories::Query::parse(&query_params(query)?)?;
    let data_dir = app.config.data_dir.clone();
    let value = tokio::task::spawn_blocking(move || crate::advisories::list(&data_dir, &query))
        .await
        .map_err(Problem::internal)??;
    ok(&value)
}

async fn get_advisory(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let Some(Path(id)) = id.ok().filter(|Path(id)| !id.is_empty() && id.len() <= 200) else {
        return Err(Problem::not_found("advisory"));
    };
    ok(&advisory_for_team(&app, principal.team_id, id).await?)
}

/// The advisory `id` (or an alias) with the team's affected projects: the API's and the web
/// page's one lookup.
pub(crate) async fn advisory_for_team(
    app: &Arc<App>,
    team: i64,
    id: String,
) -> Result<Value, Problem> {
    let data_dir = app.config.data_dir.clone();
    let advisory = tokio::task::spawn_blocking(move || crate::advisories::find(&data_dir, &id))
        .await
        .map_err(Problem::internal)??
        .ok_or_else(|| Problem::not_found("advisory"))?;
    let mut ids = vec![advisory.id.clone()];
    ids.extend(advisory.aliases.iter().cloned());
    let projects = app
        .blocking(move |store| {
            let mut found: BTreeMap<i64, String> = BTreeMap::new();
            for id in &ids {
                for project in store.projects_affected_by(team, id)? {
                    found.insert(project.id, project.name);
                }
            }
            Ok(found)
        })
        .await?;
    let mut value = crate::advisories::detail(&advisory);
    value["affected_projects"] = json!(
        projects
            .iter()
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect::<Vec<_>>()
    );
    Ok(value)
}
