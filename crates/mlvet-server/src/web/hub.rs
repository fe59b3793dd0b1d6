//! A bulk Hub scan's progress: done/total and each repository's state, commit and verdict;
//! refreshes while the job is queued or running.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use maud::html;
use mlvet_store::Role;

use super::layout::page_with_head;
use super::{PageAccess, WebError};
use crate::App;
use crate::api::Caller;

type PathId = Result<Path<String>, axum::extract::rejection::PathRejection>;

pub async fn scan(State(app): State<Arc<App>>, caller: Caller, uri: Uri, id: PathId) -> Response {
    guarded!(
        app,
        caller,
        uri,
        PageAccess::Role(Role::Viewer),
        |visitor| async {
            let id = id
                .ok()
                .and_then(|Path(id)| id.parse::<i64>().ok())
                .filter(|id| *id > 0)
                .ok_or_else(|| WebError::not_found("Hub scan"))?;
            let team = visitor
                .principal
                .as_ref()
                .map(|p| p.team_id)
                .ok_or_else(|| WebError::forbidden(Role::Viewer))?;
            let found = app
                .blocking(move |store| {
                    match store
                        .job(team, id)?
                        .filter(|j| j.kind == mlvet_store::hub::JOB_HUB_BULK)
                    {
                        Some(job) => Ok(Some((store.bulk_repos(job.id)?, job))),
                        None => Ok(None),
                    }
                })
                .await?;
            let (repos, job) = found.ok_or_else(|| WebError::not_found("Hub scan"))?;
            let done = repos.iter().filter(|r| r.state != "queued").count();
            let running = !job.state.finished();
            let head = html! { @if running { meta http-equiv="refresh" content="2"; } };
            let body = html! {
                p #progress data-state=(job.state.as_str()) data-done=(done) data-total=(repos.len()) {
                    (job.filename) ": " strong { (done) " of " (repos.len()) } " repositories scanned (" (job.state.as_str()) ")."
                }
                @if let Some(error) = &job.error { p.error role="alert" { (error) } }
                @if running { p role="status" { "This page refreshes every 2 seconds." } }
                table #repos {
                    thead { tr { th { "Repository" } th { "State" } th { "Commit" } th { "Verdict" } th { "Findings" } th { "Errors" } } }
                    tbody {
                        @for repo in &repos {
                            tr data-state=(repo.state) data-verdict=(repo.verdict.as_deref().unwrap_or_default()) {
                                td { (repo.repo) }
                                td { (repo.state) }
                                td { code { (repo.commit.as_deref().unwrap_or("")) } }
                                td { (repo.verdict.as_deref().unwrap_or("")) }
                                td { (repo.findings.map(|f| f.to_string()).unwrap_or_default()) }
                                td {
                                    @for error in repo.errors.as_deref()
                                        .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
                                        .and_then(|v| v.as_array().cloned())
                                        .unwrap_or_default() {
                                        p.scan-error { (error["path"].as_str().unwrap_or_default()) ": " (error["message"].as_str().unwrap_or_default()) }
                                    }
                                }
                            }
                        }
                    }
                }
                p { a href={ "/projects/" (job.project_id) } { "Back to the project" } }
            };
            Ok(super::html(
                StatusCode::OK,
                page_with_head(&format!("Hub scan {}", job.id), Some(&visitor), head, body),
            ))
        }
    )
}
