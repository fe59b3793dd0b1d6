//! "Scan your ML stack": uploaded files (spooled to a private temporary directory, deleted
//! after the scan), a pasted requirements list and a Hugging Face model id, scanned by the
//! engine exactly as `POST /api/v1/scan` does; the report grouped worst first.

use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::layout::{finding_details, page, severity_class, severity_rank};
use super::{PageAccess, Visitor, WebError};
use crate::App;
use crate::api::Caller;
use crate::problem::Problem;

/// Files of one scan at most.
const MAX_FILES: usize = 64;
/// Largest pasted requirements list.
const MAX_REQUIREMENTS_BYTES: usize = 1024 * 1024;

pub fn multipart_error(error: axum::extract::multipart::MultipartError) -> WebError {
    let status = error.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return WebError::new(status, "The upload is larger than this server accepts.");
    }
    WebError::new(
        status,
        format!("The form could not be read: {}", error.body_text()),
    )
}

fn scan_form(visitor: &Visitor) -> Markup {
    html! {
        form #scan method="post" action="/scan" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(visitor.csrf);
            div.field {
                label for="scan-files" { "Manifests, lockfiles, SBOMs or model files" }
                input #scan-files type="file" name="files" multiple;
            }
            div.field {
                label for="scan-requirements" { "Or paste a requirements list" }
                textarea #scan-requirements name="requirements" rows="8" spellcheck="false" placeholder="torch==1.13.0" {}
            }
            div.field {
                label for="scan-hub" { "Or a Hugging Face model (org/name or org/name@revision)" }
                input #scan-hub type="text" name="hub" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*/[A-Za-z0-9][A-Za-z0-9._\\-]*(@[A-Za-z0-9._/\\-]+)?" maxlength="300";
            }
            button type="submit" { "Scan" }
        }
    }
}

pub async fn form(State(app): State<Arc<App>>, caller: Caller, uri: Uri) -> Response {
    guarded!(app, caller, uri, PageAccess::PublicScan, |visitor| async {
        Ok(super::html(
            StatusCode::OK,
            page("Scan your ML stack", Some(&visitor), scan_form(&visitor)),
        ))
    })
}

/// A Hub model id as typed: `org/name[@revision]`.
fn valid_hub_id(id: &str) -> bool {
    let (repo, revision) = match id.split_once('@') {
        Some((repo, revision)) => (repo, Some(revision)),
        None => (id, None),
    };
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 96
            && !p.starts_with('.')
            && !p.contains("..")
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    let repo_ok = matches!(repo.split_once('/'), Some((org, name)) if part(org) && part(name));
    let revision_ok = revision.is_none_or(|r| {
        !r.is_empty()
            && r.len() <= 200
            && !r.contains("..")
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    });
    repo_ok && revision_ok
}

/// One input's report as the JSON report.
struct Scanned {
    input: String,
    report: Value,
}

pub async fn scan(
    State(app): State<Arc<App>>,
    caller: Caller,
    uri: Uri,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    guarded!(app, caller, uri, PageAccess::PublicScan, |visitor| async {
        if !super::same_origin(&caller.headers) {
            return Err(WebError::csrf());
        }
        if visitor.principal.is_none() {
            // Anonymous scans (`--public-scan`) are rate-limited per client address.
            app.limiter
                .check(
                    &format!("public:{}", caller.peer_key()),
                    app.config.limits.public_scan_per_minute,
                )
                .map_err(|wait| WebError::from(Problem::too_many(wait)))?;
        }
        let mut multipart = multipart
            .map_err(|e| WebError::bad_request(format!("The form could not be read: {e}")))?;
        let spool = tempfile::Builder::new()
            .prefix("mlvet-webscan-")
            .tempdir()
            .map_err(Problem::internal)?;
        let mut csrf = None;
        let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
        let mut requirements = String::new();
        let mut hub = String::new();
        while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
            match field.name() {
                Some("csrf") => csrf = Some(field.text().await.map_err(multipart_error)?),
                Some("requirements") => {
                    requirements = field.text().await.map_err(multipart_error)?;
                    if requirements.len() > MAX_REQUIREMENTS_BYTES {
                        return Err(WebError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "The pasted list is longer than 1 MiB.",
                        ));
                    }
                }
                Some("hub") => {
                    hub = field
                        .text()
                        .await
                        .map_err(multipart_error)?
                        .trim()
                        .to_string()
                }
                Some("files") => {
                    let name = field.file_name().unwrap_or_default().to_string();
                    if name.is_empty() {
                        continue; // the empty file input of a form sent without a file
                    }
                    if files.len() >= MAX_FILES {
                        return Err(WebError::bad_request(format!(
                            "At most {MAX_FILES} files per scan."
                        )));
                    }
                    let base = mlvet_engine::upload_name(&name)
                        .map_err(|e| WebError::bad_request(e.to_string()))?;
                    // One folder per file, so that two files of the same name do not collide.
                    let folder = spool.path().join(files.len().to_string());
                    tokio::fs::create_dir(&folder)
                        .await
                        .map_err(Problem::internal)?;
                    let path = folder.join(base);
                    let mut out = tokio::fs::File::create(&path)
                        .await
                        .map_err(Problem::internal)?;
                    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                        out.write_all(&chunk).await.map_err(Problem::internal)?;
                    }
                    out.flush().await.map_err(Problem::internal)?;
                    files.push((name, path));
                }
                _ => {}
            }
        }
        if visitor.principal.is_some() {
            super::check_csrf(&visitor, &caller.headers, csrf.as_deref())?;
        }
        // `hf://org/name[@rev]` as the CLI takes it, or `org/name[@rev]`.
        let hub = hub.strip_prefix("hf://").unwrap_or(&hub).to_string();
        if !hub.is_empty() && !valid_hub_id(&hub) {
            return Err(WebError::bad_request(
                "A Hugging Face model is named org/name or org/name@revision.",
            ));
        }
        if files.is_empty() && requirements.trim().is_empty() && hub.is_empty() {
            return Err(WebError::bad_request(
                "Choose files, paste a requirements list or name a model to scan.",
            ));
        }
        let service = Arc::clone(&app);
        let scanned =
            tokio::task::spawn_blocking(move || run_scans(&service, &files, &requirements, &hub))
                .await
                .map_err(Problem::internal)??;
        drop(spool);
        Ok(super::html(
            StatusCode::OK,
            page(
                "Scan your ML stack",
                Some(&visitor),
                html! {
                    (report(&scanned))
                    h2 { "Scan again" }
                    (scan_form(&visitor))
                },
            ),
        ))
    })
}

fn run_scans(
    app: &App,
    files: &[(String, std::path::PathBuf)],
    requirements: &str,
    hub: &str,
) -> Result<Vec<Scanned>, WebError> {
    let data_dir = app.config.data_dir.as_path();
    let request = mlvet_engine::UploadRequest {
        data_dir,
        hash_models: true,
    };
    let engine_error = |e: mlvet_engine::EngineError| match e {
        mlvet_engine::EngineError::UploadName(_) => WebError::bad_request(e.to_string()),
        other => WebError::from(Problem::internal(other)),
    };
    let mut out = Vec::new();
    for (name, path) in files {
        let mut report = mlvet_engine::scan_spooled(path, name, &request).map_err(engine_error)?;
        if report.artifacts.is_empty() && report.errors.is_empty() {
            report.warnings.push(format!(
                "`{name}` is not a manifest, lockfile, SBOM or model file that mlvet reads (the name decides how a file is read): nothing was scanned"
            ));
        }
        out.push(Scanned {
            input: name.clone(),
            report: crate::records::report_json(&report, name, Some(mlvet_core::Severity::High)),
        });
    }
    if !requirements.trim().is_empty() {
        let name = "requirements.txt";
        let report = mlvet_engine::scan_upload(name, requirements.as_bytes(), &request)
            .map_err(engine_error)?;
        out.push(Scanned {
            input: "pasted requirements".to_string(),
            report: crate::records::report_json(&report, name, Some(mlvet_core::Severity::High)),
        });
    }
    if !hub.is_empty() {
        // The service's Hub (`[serve.hub]`), its shared rate budget and its read cache: a
        // file already read at this commit is not fetched again.
        let target = format!("hf://{hub}");
        let parsed = crate::hub::parse_repo(&target, app.hub.endpoint())
            .map_err(|e| WebError::bad_request(format!("The Hub model: {e}")))?;
        let scanned = crate::hub::scan(app, &parsed).map_err(|e| {
            WebError::new(
                StatusCode::BAD_GATEWAY,
                format!("The Hub model could not be scanned: {e}"),
            )
        })?;
        let input = parsed.display(&scanned.commit, "");
        out.push(Scanned {
            input: input.trim_end_matches('/').to_string(),
            report: crate::records::report_json(
                &scanned.report,
                &target,
                Some(mlvet_core::Severity::High),
            ),
        });
    }
    Ok(out)
}

/// The worst verdict of a JSON report's artefacts (the report has no top-level verdict).
fn worst_verdict(report: &Value) -> &'static str {
    const WORST_FIRST: [&str; 4] = ["malicious", "vulnerable", "suspicious", "safe"];
    let verdicts: Vec<&str> = report["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["verdict"].as_str())
        .collect();
    WORST_FIRST
        .into_iter()
        .find(|v| verdicts.contains(v))
        .unwrap_or("nothing scanned")
}

/// The report: every input's verdict, then every finding worst first, then errors and warnings.
fn report(scanned: &[Scanned]) -> Markup {
    let mut findings: Vec<(&str, &Value)> = scanned
        .iter()
        .flat_map(|s| {
            s.report["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |f| (s.input.as_str(), f))
        })
        .collect();
    findings.sort_by_key(|(_, f)| severity_rank(f["severity"].as_str().unwrap_or_default()));
    html! {
        section #report aria-labelledby="report-h" {
            h2 #report-h { "Report" }
            ul.inputs {
                @for s in scanned {
                    li.input data-verdict=(worst_verdict(&s.report)) {
                        strong { (s.input) } ": " (worst_verdict(&s.report))
                        ", " (s.report["findings"].as_array().map_or(0, Vec::len)) " findings, "
                        (s.report["packages"].as_array().map_or(0, Vec::len)) " packages"
                    }
                }
            }
            @if findings.is_empty() { p.clean { "No findings." } }
            @for (input, finding) in &findings {
                @let severity = finding["severity"].as_str().unwrap_or("info");
                article.finding data-rule=(finding["rule"].as_str().unwrap_or_default()) data-severity=(severity) data-input=(input) {
                    p.badges { span class={ "badge " (severity_class(severity)) } { (severity) } }
                    (finding_details(finding))
                }
            }
            @for s in scanned {
                @for error in s.report["errors"].as_array().into_iter().flatten() {
                    p.scan-error role="alert" { (s.input) ": " (error["message"].as_str().map(str::to_string).unwrap_or_else(|| error.to_string())) }
                }
                @for warning in s.report["warnings"].as_array().into_iter().flatten() {
                    p.warning { (warning.as_str().map(str::to_string).unwrap_or_else(|| warning.to_string())) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_hub_id;

    #[test]
    fn hub_ids_are_org_name_and_an_optional_revision() {
        for good in [
            "org/name",
            "org/name@main",
            "a-b/c.d_e@v1.0",
            "o/n@refs/pr/1",
        ] {
            assert!(valid_hub_id(good), "{good}");
        }
        for bad in [
            "name",
            "org/name/x",
            "../x",
            "org/..",
            "o/n@",
            "o/n@a..b",
            "https://x/y",
            "o /n",
        ] {
            assert!(!valid_hub_id(bad), "{bad}");
        }
    }
}
