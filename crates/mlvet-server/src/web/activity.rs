//! A project's activity feed: the outbox events of the project (`finding.created` with its
//! cause, `finding.updated` with what changed, `finding.resolved`, `finding.retracted`,
//! `inventory.processed`, `inventory.failed`), newest first, paged by event sequence.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use mlvet_store::Role;
use mlvet_store::monitor::EventRecord;
use serde_json::Value;

use super::layout::{page, severity_class};
use super::{PageAccess, Visitor, WebError};
use crate::App;
use crate::api::Caller;

/// Events per page.
pub const PAGE_SIZE: i64 = 50;

type PathId = Result<Path<String>, axum::extract::rejection::PathRejection>;

pub async fn feed(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    id: PathId,
    RawQuery(query): RawQuery,
) -> Response {
    guarded!(
        app,
        caller,
        uri,
        PageAccess::Role(Role::Viewer),
        |visitor| feed_page(&app, &visitor, id, query)
    )
}

/// Most items a page shows (`limit`).
pub const MAX_PAGE_SIZE: i64 = 200;

/// A page of a list paged newest first: `before` (the last sequence number or id of the
/// previous page) and `limit` (items per page, [`PAGE_SIZE`] by default).
pub(super) fn paging(query: Option<String>) -> Result<(Option<i64>, i64), WebError> {
    let params = crate::api::query_params(query)?;
    let before = match params.get("before").map(String::as_str) {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|b| *b > 0)
                .ok_or_else(|| WebError::bad_request("`before` is a positive number."))?,
        ),
    };
    let limit = match params.get("limit").map(String::as_str) {
        None | Some("") => PAGE_SIZE,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_PAGE_SIZE).contains(l))
            .ok_or_else(|| WebError::bad_request(format!("`limit` is 1 to {MAX_PAGE_SIZE}.")))?,
    };
    Ok((before, limit))
}

/// Keeps one page of `items` (fetched with one extra): the cursor of the next page, if any.
pub(super) fn next_page<T>(
    items: &mut Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> i64,
) -> Option<i64> {
    let limit = usize::try_from(limit).unwrap_or(0);
    if items.len() <= limit {
        return None;
    }
    items.truncate(limit);
    items.last().map(cursor)
}

/// The query of the page after `last`, keeping a non-default `limit`.
pub(super) fn next_query(last: i64, limit: i64) -> String {
    if limit == PAGE_SIZE {
        format!("?before={last}")
    } else {
        format!("?before={last}&limit={limit}")
    }
}

async fn feed_page(
    app: &Arc<App>,
    visitor: &Visitor,
    id: PathId,
    query: Option<String>,
) -> Result<Response, WebError> {
    let id = super::projects::parse_id(id, "project")?;
    let project = super::projects::team_project(app, visitor, id).await?;
    let (before, limit) = paging(query)?;
    // One more than a page: whether there is an older page.
    let mut events = app
        .blocking(move |store| store.project_events(id, before, limit + 1))
        .await?;
    let older = next_page(&mut events, limit, |e| e.id);
    let body = html! {
        p { a href={ "/projects/" (id) } { "Back to the project" } }
        @if events.is_empty() {
            p #no-events { @if before.is_some() { "No older events." } @else { "No events yet: upload an inventory to start." } }
        } @else {
            ol #events.events {
                @for event in &events { (event_item(id, event)) }
            }
        }
        nav.paging aria-label="Pages" {
            @if before.is_some() { a rel="first" href={ "/projects/" (id) "/activity" } { "Newest" } " " }
            @if let Some(last) = older { a rel="next" href={ "/projects/" (id) "/activity" (next_query(last, limit)) } { "Older events" } }
        }
    };
    Ok(super::html(
        StatusCode::OK,
        page(&format!("Activity · {}", project.name), Some(visitor), body),
    ))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One event: when, what, and the finding or inventory it is about.
fn event_item(project: i64, event: &EventRecord) -> Markup {
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    let finding = &data["finding"];
    html! {
        li.event data-seq=(event.id) data-type=(event.event_type) {
            p.head {
                time datetime=(event.created) { (event.created) }
                " " strong.type { (event.event_type) }
                @if let Some(cause) = data["cause"].as_str() { " " span.cause data-cause=(cause) { "(cause: " (cause) ")" } }
                @if data["reopened"].as_bool() == Some(true) { " " span.reopened { "reopened" } }
            }
            @if finding.is_object() { (finding_summary(project, finding)) }
            @match event.event_type.as_str() {
                "finding.updated" => { (changes(&data["changes"])) }
                "inventory.processed" => {
                    p.inventory { (text(&data["inventory"]["packages"])) " packages, "
                        (text(&data["inventory"]["open_findings"])) " open findings" }
                }
                "inventory.failed" => { p.error { (text(&data["error"])) } }
                _ => {}
            }
        }
    }
}

fn finding_summary(project: i64, finding: &Value) -> Markup {
    let severity = finding["severity"].as_str().unwrap_or("info");
    let advisory = finding["advisory"]["id"].as_str();
    html! {
        p.finding {
            span class={ "badge " (severity_class(severity)) } { (severity) } " "
            (text(&finding["package"]["name"])) " " (text(&finding["package"]["version"]))
            @if let Some(advisory) = advisory {
                " · " a href={ "/advisories/" (super::percent_encode(advisory)) } { (advisory) }
            }
            @if let Some(summary) = finding["advisory"]["summary"].as_str() { " — " (summary) }
            @if let Some(id) = finding["id"].as_i64() { " · " a href={ "/projects/" (project) "#finding-" (id) } { "finding " (id) } }
        }
    }
}

/// `{"field": {"from", "to"}}` of `finding.updated`.
fn changes(changes: &Value) -> Markup {
    html! {
        @if let Some(fields) = changes.as_object() {
            ul.changes {
                @for (field, change) in fields.iter().take(20) {
                    li data-field=(field) { (field) ": " (text(&change["from"])) " → " (text(&change["to"])) }
                }
            }
        }
    }
}
