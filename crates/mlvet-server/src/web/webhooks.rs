//! The webhooks pages (admin role): the team's endpoints, a form to create one (its secret is
//! shown once, on the answer to the form), deletion, and each endpoint's delivery log with a
//! replay button. Every change is a CSRF-protected POST; the rules are the API's
//! ([`crate::webhooks_api::create_for`], the store's team-scoped lookups).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use mlvet_core::Severity;
use mlvet_monitor::event::EventType;
use mlvet_store::monitor::{Delivery, Webhook};
use mlvet_store::{Project, Role};
use serde_json::Value;

use super::layout::page;
use super::{PageAccess, Visitor, WebError};
use crate::App;
use crate::api::Caller;
use crate::webhooks_api::{WebhookRequest, create_for, webhook_json};

type PathId = Result<Path<String>, axum::extract::rejection::PathRejection>;
type PathIds = Result<Path<(String, String)>, axum::extract::rejection::PathRejection>;

const ADMIN: PageAccess = PageAccess::Role(Role::Admin);

// ---- the list and the creation form ----

pub async fn list(State(app): State<Arc<App>>, caller: Caller, uri: Uri) -> Response {
    guarded!(app, caller, uri, ADMIN, |visitor| list_page(
        &app, &visitor, None, None
    ))
}

/// The list, with an error of the creation form (`status`, message) or a created endpoint
/// and its secret.
async fn list_page(
    app: &Arc<App>,
    visitor: &Visitor,
    error: Option<(StatusCode, String)>,
    created: Option<(Webhook, String)>,
) -> Result<Response, WebError> {
    let team = super::projects::team(visitor)?;
    let (webhooks, projects) = app
        .blocking(move |store| Ok((store.webhooks(team)?, store.projects(team)?)))
        .await?;
    let names: HashMap<i64, &str> = projects.iter().map(|p| (p.id, p.name.as_str())).collect();
    let body = html! {
        @if let Some((_, message)) = &error { p.error role="alert" { (message) } }
        @if let Some((webhook, secret)) = &created {
            section #created role="status" aria-labelledby="created-h" {
                h2 #created-h { "Webhook created" }
                p { "Its signing secret is shown only now: copy it into the receiver's configuration." }
                p { code #secret { (secret) } }
                p { a href={ "/webhooks/" (webhook.id) } { "Its delivery log" } }
            }
        }
        @if webhooks.is_empty() {
            p { "No webhook yet." }
        } @else {
            div.table-wrap { table #webhooks {
                caption { "Endpoints of the team (secrets are never shown again)" }
                thead { tr {
                    th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "Minimum severity" }
                    th scope="col" { "Projects" } th scope="col" { "State" } th scope="col" { "Created" } th scope="col" { "Delete" }
                } }
                tbody { @for webhook in &webhooks { (webhook_row(visitor, webhook, &names)) } }
            } }
        }
        h2 { "New webhook" }
        (create_form(visitor, &projects))
    };
    let status = error.map(|(s, _)| s).unwrap_or(if created.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    });
    Ok(super::html(status, page("Webhooks", Some(visitor), body)))
}

fn webhook_row(visitor: &Visitor, webhook: &Webhook, names: &HashMap<i64, &str>) -> Markup {
    let value = webhook_json(webhook);
    let events: Vec<&str> = value["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let projects: Option<Vec<String>> = value["projects"].as_array().map(|ids| {
        ids.iter()
            .filter_map(Value::as_i64)
            .map(|id| {
                names
                    .get(&id)
                    .map_or_else(|| id.to_string(), |n| n.to_string())
            })
            .collect()
    });
    html! {
        tr.webhook data-id=(webhook.id) {
            td { a href={ "/webhooks/" (webhook.id) } { (webhook.url) } }
            td { (events.join(", ")) }
            td { (webhook.min_severity.clone().unwrap_or_else(|| "any".to_string())) }
            td { @match &projects { Some(p) => { (p.join(", ")) }, None => { "all" } } }
            td.state {
                @if let Some(at) = &webhook.disabled_at {
                    "disabled " (at) @if let Some(reason) = &webhook.disabled_reason { ": " (reason) }
                } @else { "enabled" }
            }
            td { (webhook.created) " by " (webhook.created_by) }
            td {
                form.delete method="post" action={ "/webhooks/" (webhook.id) "/delete" } {
                    input type="hidden" name="csrf" value=(visitor.csrf);
                    button type="submit" aria-label={ "Delete the webhook " (webhook.url) } { "Delete" }
                }
            }
        }
    }
}

fn create_form(visitor: &Visitor, projects: &[Project]) -> Markup {
    html! {
        form #new-webhook method="post" action="/webhooks" {
            input type="hidden" name="csrf" value=(visitor.csrf);
            div.field {
                label for="webhook-url" { "URL (http or https)" }
                input #webhook-url type="url" name="url" required maxlength="2000";
            }
            fieldset {
                legend { "Events" }
                @for event in EventType::ALL {
                    div.check {
                        input id={ "event-" (event.as_str()) } type="checkbox" name={ "event." (event.as_str()) } value="on";
                        label for={ "event-" (event.as_str()) } { (event.as_str()) }
                    }
                }
            }
            div.field {
                label for="webhook-severity" { "Minimum severity of finding events" }
                select #webhook-severity name="min_severity" {
                    option value="" { "any" }
                    @for severity in Severity::ALL { option value=(severity.as_str()) { (severity.as_str()) } }
                }
            }
            @if !projects.is_empty() {
                fieldset {
                    legend { "Projects (none checked: every project)" }
                    @for project in projects {
                        div.check {
                            input id={ "project-" (project.id) } type="checkbox" name={ "project." (project.id) } value="on";
                            label for={ "project-" (project.id) } { (project.name) }
                        }
                    }
                }
            }
            button type="submit" { "Create webhook" }
        }
    }
}

/// The form's fields as the API's request: `event.TYPE` and `project.ID` checkboxes.
fn request_from_form(form: &HashMap<String, String>) -> Result<WebhookRequest, String> {
    let url = form
        .get("url")
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty() && u.len() <= 2000)
        .ok_or("A URL is required (http or https, at most 2000 characters).")?;
    let mut events: Vec<String> = form
        .keys()
        .filter_map(|k| k.strip_prefix("event."))
        .filter(|e| EventType::parse(e).is_some())
        .map(str::to_string)
        .collect();
    events.sort_unstable();
    if events.is_empty() {
        return Err("Choose at least one event.".to_string());
    }
    let min_severity = match form.get("min_severity").map(String::as_str) {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<Severity>()
                .map_err(|_| "The minimum severity is info, low, medium, high or critical.")?,
        ),
    };
    let mut projects: Vec<i64> = form
        .keys()
        .filter_map(|k| k.strip_prefix("project."))
        .map(|id| id.parse::<i64>().map_err(|_| "A project id is a number."))
        .collect::<Result<_, _>>()?;
    projects.sort_unstable();
    Ok(WebhookRequest {
        url,
        events,
        min_severity,
        projects: (!projects.is_empty()).then_some(projects),
    })
}

pub async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    body: axum::body::Body,
) -> Response {
    guarded!(app, caller, uri, ADMIN, |visitor| async {
        let form = super::read_form(&caller.headers, body).await?;
        super::check_csrf(
            &visitor,
            &caller.headers,
            form.get("csrf").map(String::as_str),
        )?;
        let request = match request_from_form(&form) {
            Ok(request) => request,
            Err(message) => {
                return list_page(
                    &app,
                    &visitor,
                    Some((StatusCode::BAD_REQUEST, message)),
                    None,
                )
                .await;
            }
        };
        let principal = visitor
            .principal
            .clone()
            .ok_or_else(|| WebError::forbidden(Role::Admin))?;
        match create_for(&app, &principal, request).await {
            Ok(created) => list_page(&app, &visitor, None, Some(created)).await,
            Err(problem) if problem.status.is_client_error() => {
                list_page(&app, &visitor, Some((problem.status, problem.detail)), None).await
            }
            Err(problem) => Err(problem.into()),
        }
    })
}

pub async fn delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    id: PathId,
    body: axum::body::Body,
) -> Response {
    guarded!(app, caller, uri, ADMIN, |visitor| async {
        let id = super::projects::parse_id(id, "webhook")?;
        let form = super::read_form(&caller.headers, body).await?;
        super::check_csrf(
            &visitor,
            &caller.headers,
            form.get("csrf").map(String::as_str),
        )?;
        let team = super::projects::team(&visitor)?;
        if !app
            .blocking(move |store| store.delete_webhook(team, id))
            .await?
        {
            return Err(WebError::not_found("webhook"));
        }
        Ok(super::see_other("/webhooks"))
    })
}

// ---- one endpoint: the delivery log ----

pub async fn show(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    id: PathId,
    RawQuery(query): RawQuery,
) -> Response {
    guarded!(app, caller, uri, ADMIN, |visitor| async {
        let id = super::projects::parse_id(id, "webhook")?;
        let (before, limit) = super::activity::paging(query)?;
        let team = super::projects::team(&visitor)?;
        let (webhook, mut deliveries) = app
            .blocking(move |store| {
                let Some(webhook) = store.webhook(team, id)? else {
                    return Ok(None);
                };
                let deliveries = store.deliveries_before(id, before, limit + 1)?;
                Ok(Some((webhook, deliveries)))
            })
            .await?
            .ok_or_else(|| WebError::not_found("webhook"))?;
        let older = super::activity::next_page(&mut deliveries, limit, |d| d.id);
        let disabled = webhook.disabled_at.is_some();
        let filters = webhook_json(&webhook);
        let body = html! {
            p { a href="/webhooks" { "All webhooks" } }
            dl #webhook data-id=(webhook.id) {
                dt { "URL" } dd { (webhook.url) }
                dt { "State" } dd.state {
                    @if let Some(at) = &webhook.disabled_at {
                        "disabled " (at) @if let Some(reason) = &webhook.disabled_reason { ": " (reason) }
                    } @else { "enabled" }
                }
                dt { "Events" } dd.events { (string_list(&filters["events"])) }
                dt { "Minimum severity" } dd { (webhook.min_severity.clone().unwrap_or_else(|| "any".to_string())) }
                dt { "Projects" } dd { @if filters["projects"].is_array() { (string_list(&filters["projects"])) } @else { "all" } }
                dt { "Created" } dd { (webhook.created) " by " (webhook.created_by) }
            }
            h2 { "Delivery log" }
            @if deliveries.is_empty() {
                p #no-deliveries { "No deliveries." }
            } @else {
                div.table-wrap { table #deliveries {
                    caption { "Newest first" }
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "State" } th scope="col" { "Attempts" }
                        th scope="col" { "Response" } th scope="col" { "Next retry" } th scope="col" { "Last attempt" } th scope="col" { "Replay" }
                    } }
                    tbody { @for delivery in &deliveries { (delivery_row(&visitor, &webhook, delivery, disabled)) } }
                } }
            }
            nav.paging aria-label="Pages" {
                @if before.is_some() { a rel="first" href={ "/webhooks/" (webhook.id) } { "Newest" } " " }
                @if let Some(last) = older { a rel="next" href={ "/webhooks/" (webhook.id) (super::activity::next_query(last, limit)) } { "Older deliveries" } }
            }
        };
        Ok(super::html(
            StatusCode::OK,
            page(&format!("Webhook {}", webhook.id), Some(&visitor), body),
        ))
    })
}

/// A JSON array of strings or numbers as `a, b, c`.
fn string_list(value: &Value) -> String {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| match item {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn delivery_row(
    visitor: &Visitor,
    webhook: &Webhook,
    delivery: &Delivery,
    disabled: bool,
) -> Markup {
    html! {
        tr.delivery data-id=(delivery.id) data-state=(delivery.state) {
            td { (delivery.event.event_type) " " code { (delivery.event.event_id) } " · " (delivery.event.created) }
            td.state { (delivery.state) }
            td.attempts { (delivery.attempts) }
            td.response {
                @if let Some(status) = delivery.last_status { span.status { (status) } }
                @if let Some(error) = &delivery.last_error { " " span.error { (error) } }
                @if let Some(excerpt) = &delivery.last_excerpt {
                    @if !excerpt.is_empty() { " " code.excerpt { (excerpt.chars().take(200).collect::<String>()) } }
                }
            }
            td.next { @if delivery.state == "pending" { (delivery.next_attempt_at) } }
            td { (delivery.last_attempt_at.clone().unwrap_or_default()) }
            td {
                @if !disabled {
                    form.replay method="post" action={ "/webhooks/" (webhook.id) "/deliveries/" (delivery.id) "/replay" } {
                        input type="hidden" name="csrf" value=(visitor.csrf);
                        button type="submit" aria-label={ "Replay delivery " (delivery.id) } { "Replay" }
                    }
                }
            }
        }
    }
}

pub async fn replay(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    ids: PathIds,
    body: axum::body::Body,
) -> Response {
    guarded!(app, caller, uri, ADMIN, |visitor| async {
        let (webhook, delivery) = ids
            .ok()
            .and_then(|Path((w, d))| Some((w.parse::<i64>().ok()?, d.parse::<i64>().ok()?)))
            .filter(|(w, d)| *w > 0 && *d > 0)
            .ok_or_else(|| WebError::not_found("delivery"))?;
        let form = super::read_form(&caller.headers, body).await?;
        super::check_csrf(
            &visitor,
            &caller.headers,
            form.get("csrf").map(String::as_str),
        )?;
        let team = super::projects::team(&visitor)?;
        let replayed = app
            .blocking(move |store| store.replay_delivery(team, webhook, delivery))
            .await
            .map_err(|problem| {
                if problem.status == StatusCode::CONFLICT {
                    WebError::new(
                        StatusCode::CONFLICT,
                        "The webhook is disabled (its endpoint answered 410 Gone): create a new one to deliver again.",
                    )
                } else {
                    problem.into()
                }
            })?;
        if replayed.is_none() {
            return Err(WebError::not_found("delivery"));
        }
        app.monitor.deliveries_due.notify_one();
        Ok(super::see_other(&format!("/webhooks/{webhook}#deliveries")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_form_becomes_the_api_request() {
        let request = request_from_form(&form(&[
            ("url", " https://hooks.example.com/x "),
            ("event.finding.created", "on"),
            ("event.not.a.type", "on"),
            ("min_severity", "high"),
            ("project.7", "on"),
        ]))
        .expect("valid");
        assert_eq!(request.url, "https://hooks.example.com/x");
        assert_eq!(request.events, vec!["finding.created".to_string()]);
        assert_eq!(request.min_severity, Some(Severity::High));
        assert_eq!(request.projects, Some(vec![7]));
        assert!(request_from_form(&form(&[("url", "https://x.example/")])).is_err());
        assert!(request_from_form(&form(&[("event.finding.created", "on")])).is_err());
        assert!(
            request_from_form(&form(&[
                ("url", "https://x.example/"),
                ("event.finding.created", "on"),
                ("project.x", "on")
            ]))
            .is_err()
        );
    }
}
