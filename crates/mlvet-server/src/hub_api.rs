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
/// Listed repositories per bulk scan: 100 names of at most 300 characters stay well inside the
/// JSON body limit, so an over-long list is refused as invalid (400), never as too large (413).
pub(crate) const MAX_LISTED_REPOS: usize = 100;

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
    let mut target = api_repo(repo, app.hub.endpoint())?;
    match value.get("revision") {
        None => {}
        Some(Value::String(revision)) if target.revision.is_none() => {
            if !valid_revision(revision) {
                return Err(Problem::bad_request(
                    "`revision` is a branch, tag or commit (1 to 200 characters)",
                ));
            }
            target.revision = Some(revision.clone());
        }
        // Named twice: the same revision is fine; two different ones conflict.
        Some(Value::String(revision)) if target.revision.as_deref() == Some(revision.as_str()) => {}
        Some(Value::String(_)) => {
            return Err(Problem::new(
                axum::http::StatusCode::CONFLICT,
                "`repo` (org/name@rev) and `revision` name two different revisions",
            ));
        }
        Some(_) => return Err(Problem::bad_request("`revision` must be a string")),
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
    let project_id = crate::webhooks_api::project_id(&value["project"]).ok_or_else(|| {
        Problem::bad_request("`project` is the id of the project the scan belongs to")
    })?;
    let project = team_project(&app, &principal, project_id).await?;
    // A key that is present must have its documented type (`"repos": null` is not a list).
    if value.get("repos").is_some_and(|r| !r.is_array())
        || value.get("organization").is_some_and(|o| !o.is_string())
    {
        return Err(Problem::bad_request(
            "`repos` is a list of org/name and `organization` a name",
        ));
    }
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
                api_repo(text, app.hub.endpoint())?;
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

/// A repository named in the API: exactly the form the OpenAPI document's `HUB_REPO_PATTERN`
/// describes (`[hf://][models/|datasets/|spaces/]org/name[@revision]`), so that what the document
/// allows is accepted and what it forbids is refused; then parsed as the scanner will read it.
fn api_repo(text: &str, endpoint: &str) -> Result<mlvet_hub::HubTarget, Problem> {
    if !matches_repo_pattern(text) {
        return Err(Problem::bad_request(format!(
            "`{}`: a repository is [hf://][datasets/]org/name[@revision]",
            text.chars().take(300).collect::<String>()
        )));
    }
    crate::hub::parse_repo(text, endpoint)
        .map_err(|e| Problem::bad_request(format!("`{text}`: {e}")))
}

/// The rule of `openapi::HUB_REVISION_PATTERN` (with `minLength` 1, `maxLength` 200): git ref
/// characters, no `..`.
pub(crate) fn valid_revision(revision: &str) -> bool {
    (1..=200).contains(&revision.len())
        && !revision.contains("..")
        && revision
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}

/// Mirrors `openapi::HUB_REPO_PATTERN` (a test checks the two agree on samples).
pub(crate) fn matches_repo_pattern(text: &str) -> bool {
    fn id_part(part: &str) -> bool {
        let mut chars = part.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        first_ok
            && part.len() <= 96
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    }
    if text.len() > 300 {
        return false;
    }
    let rest = text.strip_prefix("hf://").unwrap_or(text);
    let (body, revision) = match rest.split_once('@') {
        Some((body, revision)) => (body, Some(revision)),
        None => (rest, None),
    };
    let revision_ok = revision.is_none_or(|r| {
        (1..=200).contains(&r.len())
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    });
    let segments: Vec<&str> = body.split('/').collect();
    let body_ok = match segments.as_slice() {
        [org, name] => id_part(org) && id_part(name),
        [kind, org, name] => {
            matches!(*kind, "models" | "datasets" | "spaces") && id_part(org) && id_part(name)
        }
        _ => false,
    };
    revision_ok && body_ok
}

#[cfg(test)]
mod tests {
    use super::{matches_repo_pattern, valid_revision};

    #[test]
    fn the_revision_rule_is_the_documented_pattern() {
        let schema = serde_json::json!({"type": "string", "minLength": 1, "maxLength": 200,
            "pattern": crate::openapi::HUB_REVISION_PATTERN});
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .expect("pattern compiles");
        for sample in [
            "main",
            "v1.0",
            "refs/pr/1",
            ".",
            ".hidden",
            "a.",
            "..",
            "a..b",
            "a b",
            "é",
            "",
            "0123456789abcdef0123456789abcdef01234567",
            "feature/x_y-z",
            "a/../b",
        ] {
            assert_eq!(
                validator.is_valid(&serde_json::json!(sample)),
                valid_revision(sample),
                "{sample:?}"
            );
        }
    }

    /// The API's rule and the pattern the OpenAPI document publishes accept the same names, so
    /// a client validating against the document is never refused (nor the reverse).
    #[test]
    fn the_rule_is_the_documented_pattern() {
        let schema =
            serde_json::json!({"type": "string", "pattern": crate::openapi::HUB_REPO_PATTERN});
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .expect("pattern compiles");
        let long = format!("org/{}", "n".repeat(97));
        let samples = [
            "org/name",
            "hf://org/name",
            "hf://datasets/org/name",
            "spaces/o/n@main",
            "org/name@v1.0_rc-2",
            "_o/-n",
            "o/.n",
            ".o/n",
            "org/name@",
            "org/name@refs/pr/1",
            "org",
            "org/name/extra",
            "models/org/name",
            "tools/org/name",
            "https://hub.invalid/org/name",
            "org/na me",
            "org/name@a@b",
            long.as_str(),
            "",
        ];
        for sample in samples {
            assert_eq!(
                validator.is_valid(&serde_json::json!(sample)),
                matches_repo_pattern(sample),
                "{sample:?}"
            );
        }
    }
}
