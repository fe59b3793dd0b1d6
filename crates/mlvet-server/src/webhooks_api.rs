//! `/api/v1/webhooks` (admin) and the per-project activity feed
//! (`GET /api/v1/projects/{id}/events`, viewer). Everything is team-scoped: another team's
//! webhook, delivery or project is 404, exactly like a missing one.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use mlvet_core::Severity;
use mlvet_store::monitor::{Delivery, EventRecord, NewWebhook, Webhook};
use mlvet_store::{Principal, Role};
use mlvet_webhooks::Subscription;
use serde_json::{Value, json};

use crate::App;
use crate::api::{
    ApiResult, Caller, json_response, ok, parse_id, query_params, read_json, require, team_project,
};
use crate::problem::Problem;

/// Endpoints per team.
const MAX_WEBHOOKS_PER_TEAM: usize = 50;

/// The subscription a stored webhook stands for (`None` when its stored filters are unreadable:
/// it then receives nothing rather than everything).
pub fn subscription(webhook: &Webhook) -> Option<Subscription> {
    let events: Vec<String> = serde_json::from_str(&webhook.events).ok()?;
    let min_severity = match &webhook.min_severity {
        Some(text) => Some(serde_json::from_value::<Severity>(json!(text)).ok()?),
        None => None,
    };
    let projects = match &webhook.projects {
        Some(text) => {
            let ids: Vec<i64> = serde_json::from_str(text).ok()?;
            Some(ids.iter().map(i64::to_string).collect())
        }
        None => None,
    };
    Some(Subscription {
        url: webhook.url.clone(),
        events,
        min_severity,
        projects,
    })
}

pub fn webhook_json(webhook: &Webhook) -> Value {
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    json!({
        "id": webhook.id,
        "url": webhook.url,
        "events": parse(&webhook.events),
        "min_severity": webhook.min_severity,
        "projects": webhook.projects.as_deref().map(parse),
        "disabled": webhook.disabled_at.is_some(),
        "disabled_at": webhook.disabled_at,
        "disabled_reason": webhook.disabled_reason,
        "created": webhook.created,
        "created_by": webhook.created_by,
    })
}

pub fn event_json(event: &EventRecord) -> Value {
    json!({
        "id": event.event_id,
        "seq": event.id,
        "type": event.event_type,
        "project": event.project_id,
        "severity": event.severity,
        "generation": event.generation,
        "created": event.created,
        "data": serde_json::from_str::<Value>(&event.data).unwrap_or(Value::Null),
    })
}

pub fn delivery_json(delivery: &Delivery) -> Value {
    json!({
        "id": delivery.id,
        "webhook": delivery.webhook_id,
        "event": {
            "id": delivery.event.event_id,
            "type": delivery.event.event_type,
            "project": delivery.event.project_id,
            "created": delivery.event.created,
        },
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": (delivery.state == "pending").then_some(&delivery.next_attempt_at),
        "last_attempt_at": delivery.last_attempt_at,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "response_excerpt": delivery.last_excerpt,
        "delivered_at": delivery.delivered_at,
        "created": delivery.created,
    })
}

/// Refuses, at creation, a URL whose host is a private, loopback or link-local address (or
/// `localhost`) unless the server allows private webhooks. Names are checked again on every
/// attempt against the addresses actually dialled.
fn check_destination(url: &str, allow_private: bool) -> Result<(), Problem> {
    if allow_private {
        return Ok(());
    }
    let host = url
        .parse::<axum::http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_string))
        .unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let refused = if bare.eq_ignore_ascii_case("localhost") || bare.ends_with(".localhost") {
        Some("loopback")
    } else {
        bare.parse::<IpAddr>()
            .ok()
            .and_then(mlvet_webhooks::ssrf::forbidden_reason)
    };
    match refused {
        Some(reason) => Err(Problem::bad_request(format!(
            "`url` points to a {reason} address: refused (the server delivers there only with --allow-private-webhooks)"
        ))),
        None => Ok(()),
    }
}

/// A webhook endpoint to create, as the API's JSON or the web form gives it.
pub struct WebhookRequest {
    pub url: String,
    pub events: Vec<String>,
    pub min_severity: Option<Severity>,
    pub projects: Option<Vec<i64>>,
}

/// Validates and stores a new endpoint of `principal`'s team: the endpoint and its secret
/// (the only time the secret leaves the store).
pub async fn create_for(
    app: &Arc<App>,
    principal: &Principal,
    request: WebhookRequest,
) -> Result<(Webhook, String), Problem> {
    let WebhookRequest {
        url,
        events,
        min_severity,
        projects,
    } = request;
    let subscription = Subscription {
        url: url.clone(),
        events: events.clone(),
        min_severity,
        projects: projects
            .as_ref()
            .map(|p| p.iter().map(i64::to_string).collect()),
    };
    subscription
        .validate()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    check_destination(&url, app.config.monitor.allow_private_webhooks)?;
    let secret = mlvet_webhooks::Secret::generate()
        .map_err(Problem::internal)?
        .expose();
    let team = principal.team_id;
    let actor = principal.actor.clone();
    let events_json = json!(events).to_string();
    let projects_json = projects.as_ref().map(|p| json!(p).to_string());
    let stored_secret = secret.clone();
    // A subscription naming a project the team does not have answers 404, as any other
    // reference to another team's (or no) project does.
    // A team at its endpoint cap conflicts with the team's state (409), the request is fine.
    let ids = projects.clone().unwrap_or_default();
    let (missing, count) = app
        .blocking(move |store| {
            for id in ids {
                if store.project(team, id)?.is_none() {
                    return Ok((Some(id), 0));
                }
            }
            Ok((None, store.webhooks(team)?.len()))
        })
        .await?;
    if let Some(id) = missing {
        return Err(Problem::not_found(&format!("project {id}")));
    }
    if count >= MAX_WEBHOOKS_PER_TEAM {
        return Err(Problem::new(
            axum::http::StatusCode::CONFLICT,
            format!("a team has at most {MAX_WEBHOOKS_PER_TEAM} webhooks: delete one first"),
        ));
    }
    let webhook = app
        .blocking(move |store| {
            if store.webhooks(team)?.len() >= MAX_WEBHOOKS_PER_TEAM {
                return Err(mlvet_store::StoreError::Invalid(format!(
                    "a team has at most {MAX_WEBHOOKS_PER_TEAM} webhooks"
                )));
            }
            store.create_webhook(&NewWebhook {
                team_id: team,
                url: &url,
                events: &events_json,
                min_severity: min_severity.map(|s| s.as_str()),
                projects: projects_json.as_deref(),
                secret: &stored_secret,
                created_by: &actor,
            })
        })
        .await?;
    Ok((webhook, secret))
}

/// `POST /api/v1/webhooks`: `{"url", "events": [...], "min_severity"?, "projects"?}` → 201 with
/// the endpoint, its `id` and its `secret` (shown only here).
pub async fn create_webhook(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: axum::body::Body,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Admin).await?;
    let value = read_json(&app, &caller, body).await?;
    let url = value["url"]
        .as_str()
        .map(str::trim)
        .filter(|u| !u.is_empty() && u.len() <= 2000)
        .ok_or_else(|| Problem::bad_request("`url` is required (an http or https URL)"))?
        .to_string();
    let events: Vec<String> = match &value["events"] {
        Value::Array(items) => items
            .iter()
            .map(|e| e.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .filter(|e| e.len() <= 20)
            .ok_or_else(|| Problem::bad_request("`events` is a list of event types"))?,
        _ => return Err(Problem::bad_request("`events` is a list of event types")),
    };
    let min_severity = match &value["min_severity"] {
        Value::Null => None,
        Value::String(text) => Some(serde_json::from_value::<Severity>(json!(text)).map_err(
            |_| Problem::bad_request("`min_severity` is info, low, medium, high or critical"),
        )?),
        _ => {
            return Err(Problem::bad_request(
                "`min_severity` is info, low, medium, high or critical",
            ));
        }
    };
    let projects: Option<Vec<i64>> = match &value["projects"] {
        Value::Null => None,
        Value::Array(items) if items.len() <= 1000 => Some(
            items
                .iter()
                .map(project_id)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Problem::bad_request("`projects` is a list of project ids"))?,
        ),
        _ => return Err(Problem::bad_request("`projects` is a list of project ids")),
    };
    let (webhook, secret) = create_for(
        &app,
        &principal,
        WebhookRequest {
            url,
            events,
            min_severity,
            projects,
        },
    )
    .await?;
    let mut value = webhook_json(&webhook);
    value["secret"] = json!(secret);
    let mut response = json_response(StatusCode::CREATED, &value);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/webhooks/{}", webhook.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn list_webhooks(State(app): State<Arc<App>>, caller: Caller) -> ApiResult {
    let principal = require(&app, &caller, Role::Admin).await?;
    let team = principal.team_id;
    let webhooks = app.blocking(move |store| store.webhooks(team)).await?;
    ok(&json!({ "webhooks": webhooks.iter().map(webhook_json).collect::<Vec<_>>() }))
}

async fn team_webhook(app: &Arc<App>, team: i64, id: i64) -> Result<Webhook, Problem> {
    app.blocking(move |store| store.webhook(team, id))
        .await?
        .ok_or_else(|| Problem::not_found("webhook"))
}

pub async fn get_webhook(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Admin).await?;
    let webhook = team_webhook(&app, principal.team_id, parse_id(id, "webhook")?).await?;
    ok(&webhook_json(&webhook))
}

pub async fn delete_webhook(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Admin).await?;
    let id = parse_id(id, "webhook")?;
    let team = principal.team_id;
    if !app
        .blocking(move |store| store.delete_webhook(team, id))
        .await?
    {
        return Err(Problem::not_found("webhook"));
    }
    Ok(axum::response::IntoResponse::into_response(
        StatusCode::NO_CONTENT,
    ))
}

pub async fn list_deliveries(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Admin).await?;
    let webhook = team_webhook(&app, principal.team_id, parse_id(id, "webhook")?).await?;
    let params = query_params(query)?;
    let limit = limit_param(&params)?;
    let before = before_param(&params, "a delivery's `id`")?;
    let deliveries = app
        .blocking(move |store| store.deliveries_before(webhook.id, before, limit))
        .await?;
    let next = (i64::try_from(deliveries.len()).unwrap_or(0) == limit)
        .then(|| deliveries.last().map(|d| d.id))
        .flatten();
    ok(&json!({
        "deliveries": deliveries.iter().map(delivery_json).collect::<Vec<_>>(),
        "next_before": next,
    }))
}

/// The `before` cursor: the last id (or `seq`) of the previous page.
fn before_param(
    params: &std::collections::HashMap<String, String>,
    what: &str,
) -> Result<Option<i64>, Problem> {
    match params.get("before") {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|b| *b > 0)
            .map(Some)
            .ok_or_else(|| Problem::bad_request(format!("`before` is {what}"))),
    }
}

pub async fn replay_delivery(
    State(app): State<Arc<App>>,
    caller: Caller,
    ids: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Admin).await?;
    let (webhook, delivery) = ids
        .ok()
        .and_then(|Path((w, d))| Some((w.parse::<i64>().ok()?, d.parse::<i64>().ok()?)))
        .filter(|(w, d)| *w > 0 && *d > 0)
        .ok_or_else(|| Problem::not_found("delivery"))?;
    let found = team_webhook(&app, principal.team_id, webhook).await?;
    if found.disabled_at.is_some() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "the webhook is disabled (its endpoint answered 410 Gone): create a new one to deliver again",
        ));
    }
    let team = principal.team_id;
    let replayed = app
        .blocking(move |store| store.replay_delivery(team, webhook, delivery))
        .await?
        .ok_or_else(|| Problem::not_found("delivery"))?;
    app.monitor.deliveries_due.notify_one();
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({ "delivery": delivery_json(&replayed) }),
    ))
}

fn limit_param(params: &std::collections::HashMap<String, String>) -> Result<i64, Problem> {
    match params.get("limit") {
        None => Ok(100),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| Problem::bad_request("`limit` is 1 to 500")),
    }
}

/// `GET /api/v1/projects/{id}/events?limit=&before=`: the project's events, newest first;
/// `before` is the `seq` of the last event of the previous page.
pub async fn project_events(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let project = team_project(&app, &principal, parse_id(id, "project")?).await?;
    let params = query_params(query)?;
    let limit = limit_param(&params)?;
    let before = before_param(&params, "an event's `seq`")?;
    let events = app
        .blocking(move |store| store.project_events(project.id, before, limit))
        .await?;
    let next = (i64::try_from(events.len()).unwrap_or(0) == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    ok(&json!({
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
        "next_before": next,
    }))
}

/// A project id in a subscription's `projects`: an integer, also written with a zero fraction
/// (`12.0` is an integer to JSON Schema, so the OpenAPI document allows it), or a string of
/// digits. Fractions and numbers beyond 2^53 (not exact as a float) are refused.
pub(crate) fn project_id(value: &Value) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if let Some(id) = value.as_i64() {
        return Some(id);
    }
    if let Some(number) = value.as_f64() {
        if number.fract() == 0.0 && number.abs() <= EXACT {
            #[allow(clippy::cast_possible_truncation)]
            return Some(number as i64);
        }
        return None;
    }
    value.as_str().and_then(|s| s.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_destinations_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]/hook",
            "http://10.1.2.3/hook",
            "http://169.254.169.254/latest",
            "http://192.168.0.1/",
        ] {
            assert!(check_destination(url, false).is_err(), "{url}");
            assert!(check_destination(url, true).is_ok(), "{url}");
        }
        assert!(check_destination("https://hooks.example.com/x", false).is_ok());
    }

    #[test]
    fn stored_filters_become_subscriptions() {
        let webhook = Webhook {
            id: 1,
            team_id: 1,
            url: "https://hooks.example.com/x".into(),
            events: r#"["finding.created"]"#.into(),
            min_severity: Some("high".into()),
            projects: Some("[3, 4]".into()),
            created: String::new(),
            created_by: String::new(),
            disabled_at: None,
            disabled_reason: None,
        };
        let s = subscription(&webhook).expect("subscription");
        assert!(s.wants("finding.created", Some(Severity::Critical), Some("3")));
        assert!(!s.wants("finding.created", Some(Severity::Medium), Some("3")));
        assert!(!s.wants("finding.created", Some(Severity::High), Some("5")));
        let broken = Webhook {
            events: "not json".into(),
            ..webhook
        };
        assert!(subscription(&broken).is_none());
    }
}
