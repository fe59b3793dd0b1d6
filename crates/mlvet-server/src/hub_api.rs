//! `/api/v1/projects/{id}/hub-models` (track, list, untrack Hub models) and `/api/v1/hub/scans`
//! (bulk scans and their progress).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use mlvet_store::Role;
use serde_json::{Value, json};

use crate::App;
use crate::api::{
    ApiResult, Caller, json_response, ok, parse_id, read_json, require, team_project,
};
use crate::problem::Problem;

type PathArg = Result<Path<String>, axum::extract::rejection::PathRejection>;
type TwoIds = Result<Path<(String, String)>, axum::extract::rejection::PathRejection>;

/// Repositories one bulk request may name.
const MAX_LISTED_REPOS: usize = 1000;

pub async fn track_model(
    State(app): State<Arc<App>>,
    caller: Caller,
    id: PathArg,
    body: axum::body::Body,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Member).await?;
    let project = team_project(&app, &principal, parse_id(id, "project")?).await?;
    let value = read_json(&app, &caller, body).await?;
    let repo = value["repo"]
        .as_str()
        .ok_or_else(|| Problem::bad_request("`repo` must be a string: org/name[@revision]"))?;
    let mut target =
        crate::hub::parse_repo(repo, app.hub.endpoint()).map_err(Problem::bad_request)?;
    match &value["revision"] {
        Value::Null => {}
        Value::String(revision) if target.revision.is_none() => {
            let revision = revision.trim();
            if revision.is_empty()
                || revision.len() > 200
                || revision.contains("..")
                || revision
                    .chars()
                    .any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(Problem::bad_request(
                    "`revision` is a branch, tag or commit (1 to 200 characters)",
                ));
            }
            target.revision = Some(revision.to_string());
        }
        Value::String(_) => {
            return Err(Problem::bad_request(
                "give the revision once: in `repo` (org/name@rev) or in `revision`",
            ));
        }
        _ => return Err(Problem::bad_request("`revision` must be a string")),
    }
    let source = crate::hub::source_name(&target);
    let revision = target.revision_or_main().to_string();
    let actor = principal.actor.clone();
    let (model, job) = app
        .blocking(move |store| {
            let model = store.track_hub_model(
                project.id,
                target.repo_type.name(),
                &target.repo_id,
                &revision,
                &source,
                &actor,
            )?;
            let job = crate::hub::enqueue_tracked(store, &model, &actor)?;
            Ok((model, job))
        })
        .await?;
    app.job_queued.notify_one();
    let mut body = crate::hub::model_json(&model);
    body["job"] = crate::api::job_json(&job);
    let mut response = json_response(StatusCode::CREATED, &body);
    if let Ok(location) = HeaderValue::from_str(&format!(
        "/api/v1/projects/{}/hub-models/{}",
        model.project_id, model.id
    )) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn list_models(State(app): State<Arc<App>>, caller: Caller, id: PathArg) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let project = team_project(&app, &principal, parse_id(id, "project")?).await?;
    let models = app
        .blocking(move |store| store.hub_models(project.id))
        .await?;
    ok(&json!({ "hub_models": models.iter().map(crate::hub::model_json).collect::<Vec<_>>() }))
}

pub async fn untrack_model(State(app): State<Arc<App>>, caller: Caller, ids: TwoIds) -> ApiResult {
    let principal = require(&app, &caller, Role::Member).await?;
    let (project_id, model_id) = two_ids(ids, "Hub model")?;
    let project = team_project(&app, &principal, project_id).await?;
    let removed = app
        .blocking(move |store| store.untrack_hub_model(project.id, model_id))
        .await?;
    if !removed {
        return Err(Problem::not_found("Hub model"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn two_ids(ids: TwoIds, what: &str) -> Result<(i64, i64), Problem> {
    let Ok(Path((first, second))) = ids else {
        return Err(Problem::not_found(what));
    };
    let parse = |text: &str| text.parse::<i64>().ok().filter(|id| *id > 0);
    match (parse(&first), parse(&second)) {
        (Some(first), Some(second)) => Ok((first, second)),
        (None, _) => Err(Problem::not_found("project")),
        _ => Err(Problem::not_found(what)),
    }
}

/// `{"project": id, "repos": [...]}` or `{"project": id, "organization": "org"}`.
pub async fn create_scan(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: axum::body::Body,
) -> ApiResult {
    let principal = require(&app, &caller, Role::Member).await?;
    let value = read_json(&app, &caller, body).await?;
    let project_id = value["project"].as_i64().ok_or_else(|| {
        Problem::bad_request("`project` is the id of the project the scan belongs to")
    })?;
    let project = team_project(&app, &principal, project_id).await?;
    let (repos, name, payload) = match (&value["repos"], &value["organization"]) {
        (Value::Array(list), Value::Null) => {
            if list.is_empty() || list.len() > MAX_LISTED_REPOS {
                return Err(Problem::bad_request(format!(
                    "`repos` lists 1 to {MAX_LISTED_REPOS} repositories"
                )));
            }
            let mut repos = Vec::with_capacity(list.len());
            for entry in list {
                let text = entry
                    .as_str()
                    .ok_or_else(|| Problem::bad_request("every entry of `repos` is a string"))?;
                crate::hub::parse_repo(text, app.hub.endpoint())
                    .map_err(|e| Problem::bad_request(format!("`{text}`: {e}")))?;
                repos.push(text.trim().to_string());
            }
            let name = format!("hub scan of {} repositories", repos.len());
            let payload = json!({ "repos": repos });
            (repos, name, payload)
        }
        (Value::Null, Value::String(organization)) => {
            let organization = organization.trim();
            let valid = !organization.is_empty()
                && organization.len() <= 96
                && organization
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid {
                return Err(Problem::bad_request(
                    "`organization` is a Hub user or organisation name",
                ));
            }
            (
                Vec::new(),
                format!("hub scan of {organization}"),
                json!({ "organization": organization }),
            )
        }
        _ => {
            return Err(Problem::bad_request(
                "give either `repos` (a list of org/name) or `organization`",
            ));
        }
    };
    let actor = principal.actor.clone();
    let job = app
        .blocking(move |store| {
            store.enqueue_bulk_scan(project.id, &name, &payload.to_string(), &repos, &actor)
        })
        .await?;
    app.job_queued.notify_one();
    let team = principal.team_id;
    let id = job.id;
    let (job, repos) = app
        .blocking(move |store| {
            let job = store
                .job(team, id)?
                .ok_or(mlvet_store::StoreError::NotFound)?;
            Ok((job, store.bulk_repos(id)?))
        })
        .await?;
    let mut response = json_response(
        StatusCode::ACCEPTED,
        &json!({ "scan": crate::hub::bulk_json(&job, &repos) }),
    );
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/hub/scans/{}", job.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn get_scan(State(app): State<Arc<App>>, caller: Caller, id: PathArg) -> ApiResult {
    let principal = require(&app, &caller, Role::Viewer).await?;
    let id = parse_id(id, "Hub scan")?;
    let team = principal.team_id;
    let found = app
        .blocking(move |store| {
            let job = store
                .job(team, id)?
                .filter(|j| j.kind == mlvet_store::hub::JOB_HUB_BULK);
            match job {
                Some(job) => Ok(Some((store.bulk_repos(job.id)?, job))),
                None => Ok(None),
            }
        })
        .await?;
    let (repos, job) = found.ok_or_else(|| Problem::not_found("Hub scan"))?;
    ok(&json!({ "scan": crate::hub::bulk_json(&job, &repos) }))
}
