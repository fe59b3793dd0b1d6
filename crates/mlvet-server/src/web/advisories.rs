//! "AI & ML vulnerabilities": the API's advisory query (`crate::advisories`) as pages.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use mlvet_store::Role;
use serde_json::Value;

use super::layout::{page, severity_class};
use super::{PageAccess, Visitor, WebError};
use crate::App;
use crate::api::Caller;
use crate::problem::Problem;

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn filter_form(params: &std::collections::HashMap<String, String>) -> Markup {
    let value = |key: &str| params.get(key).cloned().unwrap_or_default();
    let severity = value("severity");
    html! {
        form #advisory-filter method="get" action="/advisories" role="search" {
            div.field {
                label for="f-package" { "Package" }
                input #f-package type="text" name="package" value=(value("package")) maxlength="200";
            }
            div.field {
                label for="f-severity" { "Severity" }
                select #f-severity name="severity" {
                    option value="" selected[severity.is_empty()] { "any" }
                    @for s in ["critical", "high", "medium", "low"] {
                        option value=(s) selected[severity == s] { (s) }
                    }
                }
            }
            div.field {
                label for="f-since" { "Published since" }
                input #f-since type="date" name="since" value=(value("since"));
            }
            div.field {
                label for="f-q" { "Search (CVE, GHSA, PYSEC id or words)" }
                input #f-q type="search" name="q" value=(value("q")) maxlength="200";
            }
            button type="submit" { "Filter" }
        }
    }
}

/// The query string of `params` with `page` replaced.
fn page_link(params: &std::collections::HashMap<String, String>, page: usize) -> String {
    let mut keys: Vec<&String> = params.keys().filter(|k| k.as_str() != "page").collect();
    keys.sort();
    let mut out = String::from("/advisories?");
    for key in keys {
        out.push_str(&super::percent_encode(key));
        out.push('=');
        out.push_str(&super::percent_encode(&params[key]));
        out.push('&');
    }
    out.push_str(&format!("page={page}"));
    out
}

pub async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    guarded!(
        app,
        caller,
        uri,
        PageAccess::Role(Role::Viewer),
        |visitor| list_page(&app, &visitor, query)
    )
}

async fn list_page(
    app: &Arc<App>,
    visitor: &Visitor,
    query: Option<String>,
) -> Result<Response, WebError> {
    // An empty field of the form means "any", not an invalid value.
    let mut params = crate::api::query_params(query)?;
    params.retain(|key, value| {
        !value.trim().is_empty()
            && ["package", "severity", "since", "q", "page"].contains(&key.as_str())
    });
    let parsed = crate::advisories::Query::parse(&params);
    let (listing, error) = match parsed {
        Ok(query) => {
            let data_dir = app.config.data_dir.clone();
            let found =
                tokio::task::spawn_blocking(move || crate::advisories::list(&data_dir, &query))
                    .await
                    .map_err(Problem::internal)?;
            match found {
                Ok(value) => (Some(value), None),
                Err(problem) => (None, Some(problem)),
            }
        }
        Err(problem) => (None, Some(problem)),
    };
    let status = error.as_ref().map_or(StatusCode::OK, |p| p.status);
    let body = html! {
        (filter_form(&params))
        @if let Some(problem) = &error { p.error role="alert" { (problem.detail) } }
        @if let Some(listing) = &listing {
            @let total = listing["total"].as_u64().unwrap_or(0);
            @let page = usize::try_from(listing["page"].as_u64().unwrap_or(1)).unwrap_or(1);
            @let per_page = listing["per_page"].as_u64().unwrap_or(50).max(1);
            p #advisory-count role="status" { (total) " advisories" @if total > 0 { ", page " (page) " of " (total.div_ceil(per_page)) } }
            div.table-wrap { table #advisories {
                thead { tr { th scope="col" { "Id" } th scope="col" { "Packages" } th scope="col" { "Severity" } th scope="col" { "Published" } th scope="col" { "Summary" } } }
                tbody {
                    @for advisory in listing["advisories"].as_array().into_iter().flatten() {
                        @let id = text(&advisory["id"]);
                        @let severity = advisory["severity"].as_str().unwrap_or("unknown");
                        tr.advisory data-id=(id) data-severity=(severity) {
                            td { a href={ "/advisories/" (super::percent_encode(&id)) } { (id) } }
                            td { (advisory["packages"].as_array().into_iter().flatten().map(text).collect::<Vec<_>>().join(", ")) }
                            td class=(severity_class(severity)) { (severity) }
                            td { (text(&advisory["published"]).get(..10).unwrap_or_default()) }
                            td { (text(&advisory["summary"])) }
                        }
                    }
                }
            } }
            nav.paging aria-label="Pages" {
                @if page > 1 { a rel="prev" href=(page_link(&params, page - 1)) { "Newer" } }
                @if (page as u64) * per_page < total { a rel="next" href=(page_link(&params, page + 1)) { "Older" } }
            }
        }
    };
    Ok(super::html(
        status,
        page("AI & ML vulnerabilities", Some(visitor), body),
    ))
}

pub async fn detail(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Response {
    guarded!(
        app,
        caller,
        uri,
        PageAccess::Role(Role::Viewer),
        |visitor| async {
            let Some(Path(id)) = id.ok().filter(|Path(id)| !id.is_empty() && id.len() <= 200)
            else {
                return Err(WebError::not_found("advisory"));
            };
            let team = visitor
                .principal
                .as_ref()
                .map(|p| p.team_id)
                .ok_or_else(|| WebError::forbidden(Role::Viewer))?;
            let advisory = crate::api::advisory_for_team(&app, team, id).await?;
            let id = text(&advisory["id"]);
            let severity = advisory["severity"]
                .as_str()
                .unwrap_or("unknown")
                .to_string();
            let body = html! {
                p.summary { (text(&advisory["summary"])) }
                dl.facts {
                    dt { "Severity" } dd class=(severity_class(&severity)) { (severity) }
                    dt { "Published" } dd { (text(&advisory["published"])) }
                    dt { "Modified" } dd { (text(&advisory["modified"])) }
                    dt { "Aliases" } dd #aliases { (advisory["aliases"].as_array().into_iter().flatten().map(text).collect::<Vec<_>>().join(", ")) }
                    dt { "Fixed versions" } dd #fixed { (advisory["fixed"].as_array().into_iter().flatten().map(text).collect::<Vec<_>>().join(", ")) }
                }
                @if let Some(details) = advisory["details"].as_str() {
                    h2 { "Details" }
                    div.details { (details) }
                }
                h2 { "Affected" }
                div.table-wrap { table #affected {
                    thead { tr { th scope="col" { "Package" } th scope="col" { "Ranges" } } }
                    tbody { @for affected in advisory["affected"].as_array().into_iter().flatten() {
                        tr {
                            td { (text(&affected["ecosystem"])) " " (text(&affected["package"])) }
                            td { ul { @for range in affected["ranges"].as_array().into_iter().flatten() {
                                li { (text(&range["type"])) ": "
                                    @for event in range["events"].as_array().into_iter().flatten() {
                                        @for key in ["introduced", "fixed", "last_affected", "limit"] {
                                            @if let Some(v) = event[key].as_str() { span.event { (key) " " (v) } " " }
                                        }
                                    }
                                }
                            } } }
                        }
                    } }
                } }
                h2 { "References" }
                ul #references { @for reference in advisory["references"].as_array().into_iter().flatten() {
                    @let url = text(&reference["url"]);
                    li { (text(&reference["type"])) ": "
                        @if url.starts_with("https://") || url.starts_with("http://") {
                            a href=(url) rel="noopener noreferrer" { (url) }
                        } @else { (url) }
                    }
                } }
                section #affected-projects aria-labelledby="affected-h" {
                    h2 #affected-h { "Your affected projects" }
                    @let projects = advisory["affected_projects"].as_array().cloned().unwrap_or_default();
                    @if projects.is_empty() { p { "None of your team's projects." } }
                    ul { @for project in &projects {
                        li.project { a href={ "/projects/" (project["id"]) } { (text(&project["name"])) } }
                    } }
                }
            };
            Ok(super::html(StatusCode::OK, page(&id, Some(&visitor), body)))
        }
    )
}
