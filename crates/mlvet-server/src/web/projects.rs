//! The portfolio, a project's page (inventory, findings by requirement, triage, uploads) and
//! the upload jobs. Counts come from the same function as `GET /api/v1/projects/{id}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use mlvet_store::{Project, Role, StoredFinding};
use serde_json::Value;

use super::layout::{finding_details, page, page_with_head, severity_class, severity_rank};
use super::requirements::{Origin, Requirements};
use super::{PageAccess, Visitor, WebError};
use crate::App;
use crate::api::Caller;

type PathId = Result<Path<String>, axum::extract::rejection::PathRejection>;

const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

pub(super) fn parse_id(id: PathId, what: &str) -> Result<i64, WebError> {
    id.ok()
        .and_then(|Path(id)| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| WebError::not_found(what))
}

pub(super) fn team(visitor: &Visitor) -> Result<i64, WebError> {
    visitor
        .principal
        .as_ref()
        .map(|p| p.team_id)
        .ok_or_else(|| WebError::forbidden(Role::Viewer))
}

pub(super) fn actor(visitor: &Visitor) -> String {
    visitor
        .principal
        .as_ref()
        .map(|p| p.actor.clone())
        .unwrap_or_default()
}

pub(super) async fn team_project(
    app: &Arc<App>,
    visitor: &Visitor,
    id: i64,
) -> Result<Project, WebError> {
    let team = team(visitor)?;
    app.blocking(move |store| store.project(team, id))
        .await?
        .ok_or_else(|| WebError::not_found("project"))
}

fn count(value: &Value, group: &str, key: &str) -> u64 {
    value["findings"][group][key].as_u64().unwrap_or(0)
}

// ---- the portfolio ----

pub async fn list(State(app): State<Arc<App>>, caller: Caller, uri: Uri) -> Response {
    guarded!(
        app,
        caller,
        uri,
        PageAccess::Role(Role::Viewer),
        |visitor| list_page(&app, &visitor, None)
    )
}

async fn list_page(
    app: &Arc<App>,
    visitor: &Visitor,
    error: Option<(StatusCode, String)>,
) -> Result<Response, WebError> {
    let team = team(visitor)?;
    let projects = app
        .blocking(move |store| {
            store
                .projects(team)?
                .iter()
                .map(|p| crate::api::load_project(store, p))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let body = html! {
        @if let Some((_, message)) = &error { p.error role="alert" { (message) } }
        @if projects.is_empty() {
            p { "No project yet." }
        } @else {
            div.table-wrap {
                table #projects {
                    caption { "Open findings by severity, and findings by state" }
                    thead { tr {
                        th scope="col" { "Project" }
                        @for severity in SEVERITIES { th scope="col" { (severity) } }
                        th scope="col" { "open" } th scope="col" { "suppressed" } th scope="col" { "packages" }
                    } }
                    tbody {
                        @for project in &projects {
                            tr.project data-id=(project["id"]) {
                                th scope="row" { a href={ "/projects/" (project["id"]) } { (project["name"].as_str().unwrap_or_default()) } }
                                @for severity in SEVERITIES {
                                    td class=(severity_class(severity)) data-severity=(severity) { (count(project, "by_severity", severity)) }
                                }
                                td data-state="open" { (count(project, "by_state", "open")) }
                                td data-state="suppressed" { (count(project, "by_state", "suppressed")) }
                                td data-packages { (project["packages"].as_u64().unwrap_or(0)) }
                            }
                        }
                    }
                }
            }
        }
        @if visitor.can(Role::Member) {
            h2 { "New project" }
            form #new-project method="post" action="/projects" {
                input type="hidden" name="csrf" value=(visitor.csrf);
                div.field {
                    label for="project-name" { "Name" }
                    input #project-name type="text" name="name" required maxlength="200";
                }
                button type="submit" { "Create project" }
            }
        }
    };
    let status = error.map(|(s, _)| s).unwrap_or(StatusCode::OK);
    Ok(super::html(status, page("Projects", Some(visitor), body)))
}

pub async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    guarded!(
        app,
        caller,
        uri,
        PageAccess::Role(Role::Member),
        |visitor| async {
            let form = super::read_form(&caller.headers, body).await?;
            super::check_csrf(
                &visitor,
                &caller.headers,
                form.get("csrf").map(String::as_str),
            )?;
            let name = form
                .get("name")
                .map(|n| n.trim().to_string())
                .unwrap_or_default();
            if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
                return list_page(
                    &app,
                    &visitor,
                    Some((
                        StatusCode::BAD_REQUEST,
                        "A project name has 1 to 200 characters without control characters."
                            .to_string(),
                    )),
                )
                .await;
            }
            let team = team(&visitor)?;
            let created = app
                .blocking(move |store| store.create_project(team, &name))
                .await;
            match created {
                Ok(project) => Ok(super::see_other(&format!("/projects/{}", project.id))),
                Err(problem) if problem.status == StatusCode::CONFLICT => {
                    list_page(
                        &app,
                        &visitor,
                        Some((
                            StatusCode::CONFLICT,
                            "A project of that name exists already.".to_string(),
                        )),
                    )
                    .await
                }
                Err(problem) => Err(problem.into()),
            }
        }
    )
}

// ---- a project ----

pub async fn show(State(app): State<Arc<App>>, caller: Caller, uri: Uri, id: PathId) -> Response {
    guarded!(
        app,
        caller,
        uri,
        PageAccess::Role(Role::Viewer),
        |visitor| async {
            let project = team_project(&app, &visitor, parse_id(id, "project")?).await?;
            project_page(&app, &visitor, project).await
        }
    )
}

/// A group of the project page's findings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    /// Brought by this direct requirement (normalised name).
    Requirement(String),
    /// In files that do not say what brings the package.
    Unknown,
    /// Not about a package (a model file's findings): by file.
    File(String),
}

/// The group a finding is shown in, and every origin of its package (best first).
fn group_of(
    finding: &StoredFinding,
    body: &Value,
    requirements: &Requirements,
) -> (Group, Vec<Origin>) {
    let Some(name) = body["package"]["name"]
        .as_str()
        .or(finding.package.as_deref())
    else {
        return (Group::File(finding.source.clone()), Vec::new());
    };
    let origins = requirements.origins(name);
    let group = match origins.first() {
        Some(Origin::Direct { root, .. }) => Group::Requirement(root.clone()),
        Some(Origin::Unknown { .. }) => Group::Unknown,
        // The package left the inventory (a resolved finding): shown as its own requirement.
        None => Group::Requirement(super::requirements::normalize(name)),
    };
    (group, origins)
}

/// The group's `data-group` attribute: `requirement:NAME`, `unknown`, `file:NAME`.
fn group_key(group: &Group) -> String {
    match group {
        Group::Requirement(root) => format!("requirement:{root}"),
        Group::Unknown => "unknown".to_string(),
        Group::File(file) => format!("file:{file}"),
    }
}

fn group_heading(group: &Group, requirements: &Requirements) -> Markup {
    match group {
        Group::Requirement(root) => {
            html! { (requirements.display(root)) " " span.kind { "direct requirement" } }
        }
        Group::Unknown => html! { "transitive (origin unknown)" },
        Group::File(file) => html! { (file) },
    }
}

fn origin_line(origin: &Origin) -> Markup {
    match origin {
        Origin::Direct { path, file, .. } if path.len() == 1 => {
            html! { "direct requirement in " code { (file) } }
        }
        Origin::Direct { path, file, .. } => {
            html! { "via " span.path { (path.join(" → ")) } " in " code { (file) } }
        }
        Origin::Unknown { file } => {
            html! { "in " code { (file) } ", which does not record what brings it" }
        }
    }
}

async fn project_page(
    app: &Arc<App>,
    visitor: &Visitor,
    project: Project,
) -> Result<Response, WebError> {
    let id = project.id;
    let (summary, packages, findings, jobs, sources) = app
        .blocking(move |store| {
            Ok((
                crate::api::load_project(store, &project)?,
                store.packages(id)?,
                store.findings(id)?,
                store.jobs(id, 50)?,
                store.sources(id)?,
            ))
        })
        .await?;
    let formats: HashMap<String, String> = sources
        .into_iter()
        .map(|s| (s.filename, s.format))
        .collect();
    let requirements = Requirements::new(&packages, &formats);
    let member = visitor.can(Role::Member);
    let mut inventory: BTreeMap<&str, Vec<&mlvet_store::PackageRecord>> = BTreeMap::new();
    for package in &packages {
        inventory
            .entry(package.source.as_str())
            .or_default()
            .push(&package.package);
    }
    type Member<'a> = (&'a StoredFinding, Value, Vec<Origin>);
    let mut groups: BTreeMap<Group, Vec<Member<'_>>> = BTreeMap::new();
    for finding in &findings {
        let body = serde_json::from_str::<Value>(&finding.body).unwrap_or(Value::Null);
        let (group, origins) = group_of(finding, &body, &requirements);
        groups
            .entry(group)
            .or_default()
            .push((finding, body, origins));
    }
    let mut groups: Vec<(Group, Vec<Member<'_>>)> = groups.into_iter().collect();
    for (_, members) in &mut groups {
        members.sort_by_key(|(f, _, _)| (f.state != "open", severity_rank(&f.severity), f.id));
    }
    groups.sort_by_key(|(name, members)| {
        (
            members
                .iter()
                .map(|(f, _, _)| (f.state != "open", severity_rank(&f.severity)))
                .min(),
            name.clone(),
        )
    });
    let name = summary["name"].as_str().unwrap_or_default().to_string();
    let body = html! {
        p.subnav { a href={ "/projects/" (id) "/activity" } { "Activity" } }
        section #counts aria-labelledby="counts-h" {
            h2 #counts-h { "Counts" }
            ul.counts {
                @for severity in SEVERITIES {
                    li class=(severity_class(severity)) data-severity=(severity) { (severity) ": " span.n { (count(&summary, "by_severity", severity)) } }
                }
                @for state in ["open", "suppressed", "resolved"] {
                    li data-state=(state) { (state) ": " span.n { (count(&summary, "by_state", state)) } }
                }
            }
        }
        section #findings aria-labelledby="findings-h" {
            h2 #findings-h { "Findings by requirement" }
            @if groups.is_empty() { p { "No findings." } }
            @for (group, members) in &groups {
                section.requirement data-group=(group_key(group)) {
                    h3 { (group_heading(group, &requirements)) }
                    @for (finding, body, origins) in members {
                        article.finding id={ "finding-" (finding.id) } data-id=(finding.id) data-rule=(finding.rule)
                            data-severity=(finding.severity) data-state=(finding.state) {
                            p.badges {
                                span class={ "badge " (severity_class(&finding.severity)) } { (finding.severity) }
                                " " span.state { (finding.state) }
                            }
                            @if let Some(best) = origins.first() {
                                p.origin { (origin_line(best)) }
                            }
                            @if origins.len() > 1 {
                                details.origins {
                                    summary { "Also brought in " (origins.len() - 1) " other way(s)" }
                                    ul { @for origin in origins.iter().skip(1).take(20) { li { (origin_line(origin)) } } }
                                }
                            }
                            (finding_details(body))
                            @if let Some(triage) = &finding.triage {
                                p.triaged { "Triaged " (triage.triage) " by " (triage.by) " on " (triage.at)
                                    @if let Some(expires) = &triage.expires { " until " (expires) }
                                    ": " (triage.reason) }
                            }
                            @if member && finding.state == "open" {
                                (triage_form(visitor, finding))
                            }
                        }
                    }
                }
            }
        }
        section #inventory aria-labelledby="inventory-h" {
            h2 #inventory-h { "Inventory" }
            @if inventory.is_empty() { p { "Nothing uploaded yet." } }
            @for (source, packages) in &inventory {
                section.source {
                    h3 { (source) }
                    div.table-wrap { table {
                        thead { tr { th scope="col" { "Package" } th scope="col" { "Version" } th scope="col" { "Requirement" } th scope="col" { "ML" } } }
                        tbody { @for package in packages {
                            tr.package { td { (package.name) } td { (package.version.clone().unwrap_or_default()) }
                                td { (package.requirement.clone().unwrap_or_default()) } td { @if package.ml { "yes" } } }
                        } }
                    } }
                }
            }
        }
        @if member {
            section aria-labelledby="upload-h" {
                h2 #upload-h { "Upload" }
                form #upload method="post" action={ "/projects/" (id) "/uploads" } enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(visitor.csrf);
                    div.field {
                        label for="upload-file" { "Manifest, lockfile, SBOM or model file" }
                        input #upload-file type="file" name="file" required;
                    }
                    button type="submit" { "Upload and scan" }
                }
            }
        }
        section #uploads aria-labelledby="uploads-h" {
            h2 #uploads-h { "Upload history" }
            @if jobs.is_empty() { p { "No uploads." } }
            @else {
                div.table-wrap { table {
                    thead { tr { th scope="col" { "File" } th scope="col" { "State" } th scope="col" { "By" } th scope="col" { "Uploaded" } } }
                    tbody { @for job in &jobs {
                        tr.upload data-state=(job.state.as_str()) {
                            td { a href={ "/jobs/" (job.id) } { (job.filename) } }
                            td { (job.state.as_str()) @if let Some(error) = &job.error { ": " (error) } }
                            td { (job.created_by) } td { (job.created) }
                        }
                    } }
                } }
            }
        }
    };
    Ok(super::html(
        StatusCode::OK,
        page(&name, Some(visitor), body),
    ))
}

/// What a finding is about, for the accessible names of its triage controls: the advisory or
/// rule, and the package where there is one.
fn finding_subject(finding: &StoredFinding) -> String {
    let what = finding.advisory.as_deref().unwrap_or(&finding.rule);
    match &finding.package {
        Some(package) => format!("{what} in {package}"),
        None => format!("{what} ({})", finding.source),
    }
}

/// Every finding has one of these: each control names its finding (visually hidden text), so a
/// screen reader's list of buttons and fields is not a column of identical "Triage".
fn triage_form(visitor: &Visitor, finding: &StoredFinding) -> Markup {
    let id = finding.id;
    let subject = finding_subject(finding);
    html! {
        form.triage method="post" action={ "/findings/" (id) "/triage" } aria-label={ "Triage " (subject) } {
            input type="hidden" name="csrf" value=(visitor.csrf);
            div.field {
                label for={ "triage-" (id) } { "Triage" span.visually-hidden { " " (subject) } }
                select id={ "triage-" (id) } name="triage" {
                    @for value in mlvet_store::TRIAGE_VALUES { option value=(value) { (value.replace('_', " ")) } }
                }
            }
            div.field {
                label for={ "reason-" (id) } { "Reason" span.visually-hidden { " for " (subject) } }
                input id={ "reason-" (id) } type="text" name="reason" required maxlength="4000";
            }
            div.field {
                label for={ "expires-" (id) } { "Expires" span.visually-hidden { " for " (subject) } " (optional)" }
                input id={ "expires-" (id) } type="date" name="expires";
            }
            button type="submit" { "Triage" span.visually-hidden { " " (subject) } }
        }
    }
}

pub async fn triage(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    id: PathId,
    body: axum::body::Body,
) -> Response {
    guarded!(
        app,
        caller,
        uri,
        PageAccess::Role(Role::Member),
        |visitor| async {
            let id = parse_id(id, "finding")?;
            let form = super::read_form(&caller.headers, body).await?;
            super::check_csrf(
                &visitor,
                &caller.headers,
                form.get("csrf").map(String::as_str),
            )?;
            let triage = form
                .get("triage")
                .filter(|t| mlvet_store::TRIAGE_VALUES.contains(&t.as_str()))
                .cloned()
                .ok_or_else(|| {
                    WebError::bad_request(format!(
                        "Triage is one of {}.",
                        mlvet_store::TRIAGE_VALUES.join(", ")
                    ))
                })?;
            let reason = form
                .get("reason")
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty() && r.chars().count() <= 4000)
                .ok_or_else(|| {
                    WebError::bad_request("A reason is required (1 to 4000 characters).")
                })?;
            let expires = match form.get("expires").map(|e| e.trim()) {
                None | Some("") => None,
                Some(date)
                    if mlvet_config::Date::parse(date).is_some_and(|d| d.to_string() == date) =>
                {
                    Some(date.to_string())
                }
                Some(_) => return Err(WebError::bad_request("The expiry is a date YYYY-MM-DD.")),
            };
            let team = team(&visitor)?;
            let actor = actor(&visitor);
            let finding = app
                .blocking(move |store| {
                    let Some(finding) = store.finding(team, id)? else {
                        return Ok(None);
                    };
                    store.triage(team, id, &triage, &reason, expires.as_deref(), &actor)?;
                    Ok(Some(finding))
                })
                .await?
                .ok_or_else(|| WebError::not_found("finding"))?;
            Ok(super::see_other(&format!(
                "/projects/{}#finding-{}",
                finding.project_id, finding.id
            )))
        }
    )
}

// ---- uploads and jobs ----

pub async fn upload(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    id: PathId,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    guarded!(
        app,
        caller,
        uri,
        PageAccess::Role(Role::Member),
        |visitor| async {
            if !super::same_origin(&caller.headers) {
                return Err(WebError::csrf());
            }
            let project = team_project(&app, &visitor, parse_id(id, "project")?).await?;
            let mut multipart = multipart
                .map_err(|e| WebError::bad_request(format!("The form could not be read: {e}")))?;
            let mut csrf = None;
            let mut file: Option<(String, Vec<u8>)> = None;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(super::scan::multipart_error)?
            {
                match field.name() {
                    Some("csrf") => {
                        csrf = Some(field.text().await.map_err(super::scan::multipart_error)?)
                    }
                    Some("file") => {
                        let name = field.file_name().unwrap_or_default().to_string();
                        let bytes = field.bytes().await.map_err(super::scan::multipart_error)?;
                        file = Some((name, bytes.to_vec()));
                    }
                    _ => {}
                }
            }
            super::check_csrf(&visitor, &caller.headers, csrf.as_deref())?;
            let (filename, bytes) = file
                .filter(|(n, _)| !n.is_empty())
                .ok_or_else(|| WebError::bad_request("Choose a file to upload."))?;
            mlvet_engine::upload_name(&filename)
                .map_err(|e| WebError::bad_request(e.to_string()))?;
            let digest = crate::api::sha256_hex(&bytes);
            let actor = actor(&visitor);
            let job = app
                .blocking(move |store| {
                    store.enqueue_upload(project.id, &filename, &bytes, &digest, &actor)
                })
                .await?;
            app.job_queued.notify_one();
            Ok(super::see_other(&format!("/jobs/{}", job.id)))
        }
    )
}

pub async fn job(State(app): State<Arc<App>>, caller: Caller, uri: Uri, id: PathId) -> Response {
    guarded!(
        app,
        caller,
        uri,
        PageAccess::Role(Role::Viewer),
        |visitor| async {
            let id = parse_id(id, "job")?;
            let team = team(&visitor)?;
            let job = app
                .blocking(move |store| store.job(team, id))
                .await?
                .ok_or_else(|| WebError::not_found("job"))?;
            let running = !job.state.finished();
            let head = html! { @if running { meta http-equiv="refresh" content="2"; } };
            let body = html! {
                dl #job data-state=(job.state.as_str()) {
                    dt { "File" } dd { (job.filename) }
                    dt { "State" } dd.state { (job.state.as_str()) }
                    @if let Some(error) = &job.error { dt { "Error" } dd.error { (error) } }
                    dt { "Size" } dd { (job.size) " bytes" }
                    dt { "SHA-256" } dd { code { (job.sha256) } }
                    dt { "By" } dd { (job.created_by) }
                    dt { "Queued" } dd { (job.created) }
                }
                @if running { p role="status" { "The scan is " (job.state.as_str()) "; this page refreshes every 2 seconds." } }
                p { a href={ "/projects/" (job.project_id) } { "Back to the project" } }
            };
            Ok(super::html(
                StatusCode::OK,
                page_with_head(&format!("Upload {}", job.id), Some(&visitor), head, body),
            ))
        }
    )
}
