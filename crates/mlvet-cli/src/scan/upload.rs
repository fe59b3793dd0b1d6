//! `mlvet scan PATH --upload URL --project NAME`: sends every dependency file and model file the
//! scan read to an `mlvet serve` instance, which scans each again itself (the CI one-liner), waits for the server's scans and
//! prints the link to the project's findings. The token comes from `$MLVET_TOKEN` only, never
//! from a flag (flags end up in CI logs and process lists).

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use mlvet_core::{ArtifactKind, ScanReport};
use serde_json::Value;

use crate::cli::ScanArgs;

/// How long the server may take to scan one upload before the CLI stops waiting.
const WAIT_SECONDS: u64 = 120;

pub fn run(args: &ScanArgs, url: &str, report: &ScanReport) -> anyhow::Result<()> {
    let project = args
        .project
        .as_deref()
        .context("--upload needs --project")?;
    let token = std::env::var("MLVET_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .context("--upload needs an API token in $MLVET_TOKEN (`mlvet admin token create`)")?;
    let base = url.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(WAIT_SECONDS + 30)))
        .build()
        .into();
    let client = Client {
        agent,
        base,
        auth: format!("Bearer {}", token.trim()),
    };
    let project_id = client.project_id(project)?;
    let mut uploaded = 0usize;
    let mut failed = Vec::new();
    let (files, not_uploadable) = upload_list(report);
    failed.extend(not_uploadable);
    for (path, name) in files {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {path} for upload"))?;
        let answer = client.request(
            "PUT",
            &format!(
                "/api/v1/projects/{project_id}/inventory?filename={}&wait={WAIT_SECONDS}",
                encode(&name)
            ),
            Some(bytes),
        )?;
        if answer.status == 413 {
            // A model larger than the server accepts: the other files still go, the run fails
            // (fail closed: the project must not look clean without it).
            failed.push(format!(
                "{name} (larger than the server accepts: {})",
                problem_detail(&answer.body)
            ));
            continue;
        }
        if answer.status != 202 {
            bail!(
                "the server refused {name}: HTTP {} {}",
                answer.status,
                problem_detail(&answer.body)
            );
        }
        let state = answer.body["job"]["state"].as_str().unwrap_or_default();
        if state != "succeeded" {
            failed.push(format!(
                "{name} ({state}{})",
                answer.body["job"]["error"]
                    .as_str()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
        uploaded += 1;
    }
    let mut stderr = anstream::stderr();
    let _ = writeln!(
        stderr,
        "mlvet: uploaded {uploaded} file(s) to project `{}`; findings: {base}/api/v1/projects/{project_id}/findings",
        mlvet_report::text_internals::sanitize(project)
    );
    if !failed.is_empty() {
        bail!("the server could not scan: {}", failed.join(", "));
    }
    Ok(())
}

/// What the upload sends: every dependency file and every model file the local scan read, as
/// `(path on disk, source name)`, each file once. Model files are sent themselves and scanned
/// again by the server (which never takes a client's findings on trust); a model artefact that
/// is not a single file (a folder format) cannot be sent and is returned as a failure.
/// Artefacts read inside an archive travel with their archive.
fn upload_list(report: &ScanReport) -> (Vec<(String, String)>, Vec<String>) {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut failed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for artifact in &report.artifacts {
        let path = std::path::Path::new(&artifact.path);
        match artifact.kind {
            ArtifactKind::Dependencies => {}
            ArtifactKind::Model if path.is_file() => {}
            ArtifactKind::Model if path.is_dir() => {
                failed.push(format!(
                    "{} (a model folder: upload its files with `mlvet scan FILE --upload`)",
                    artifact.path
                ));
                continue;
            }
            _ => continue,
        }
        if seen.insert(artifact.path.clone()) {
            files.push((artifact.path.clone(), source_name(&artifact.path)));
        }
    }
    (files, failed)
}

/// The source name sent to the server: the path as scanned, with `/` separators and without a
/// leading `./` (the server refuses `..`, so such inputs are sent by their file name).
fn source_name(path: &str) -> String {
    let path = path.replace('\\', "/");
    let trimmed = path.trim_start_matches("./").trim_start_matches('/');
    if trimmed
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
    } else {
        trimmed.to_string()
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn problem_detail(body: &Value) -> String {
    body["detail"]
        .as_str()
        .or_else(|| body["title"].as_str())
        .unwrap_or_default()
        .to_string()
}

struct Client<'a> {
    agent: ureq::Agent,
    base: &'a str,
    auth: String,
}

struct Answer {
    status: u16,
    body: Value,
}

impl Client<'_> {
    fn request(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.base);
        let result = match (method, body) {
            ("GET", _) => self
                .agent
                .get(&url)
                .header("Authorization", &self.auth)
                .call(),
            ("POST", Some(body)) => self
                .agent
                .post(&url)
                .header("Authorization", &self.auth)
                .header("Content-Type", "application/json")
                .send(&body[..]),
            (_, body) => self
                .agent
                .put(&url)
                .header("Authorization", &self.auth)
                .header("Content-Type", "application/octet-stream")
                .send(&body.unwrap_or_default()[..]),
        };
        // The URL is shown without its query; the token is never part of it.
        let mut response =
            result.with_context(|| format!("cannot reach the mlvet server at {}", self.base))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .with_context(|| format!("cannot read the server's answer to {method} {path}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    /// The id of the project named `name`, created when the team has none by that name.
    fn project_id(&self, name: &str) -> anyhow::Result<String> {
        let answer = self.request("GET", "/api/v1/projects", None)?;
        if answer.status != 200 {
            bail!(
                "cannot list projects: HTTP {} {}",
                answer.status,
                problem_detail(&answer.body)
            );
        }
        if let Some(found) = answer.body["projects"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"].as_str() == Some(name))
        {
            return id_of(found);
        }
        let body = serde_json::to_vec(&serde_json::json!({ "name": name }))?;
        let created = self.request("POST", "/api/v1/projects", Some(body))?;
        if created.status != 201 {
            bail!(
                "cannot create project `{name}`: HTTP {} {}",
                created.status,
                problem_detail(&created.body)
            );
        }
        id_of(&created.body)
    }
}

fn id_of(project: &Value) -> anyhow::Result<String> {
    match &project["id"] {
        Value::String(id) => Ok(id.clone()),
        Value::Number(id) => Ok(id.to_string()),
        _ => bail!("the server's project has no id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_are_relative_and_plain() {
        assert_eq!(source_name("./requirements.txt"), "requirements.txt");
        assert_eq!(source_name("svc/api/uv.lock"), "svc/api/uv.lock");
        assert_eq!(source_name("../other/poetry.lock"), "poetry.lock");
        assert_eq!(source_name("/abs/path/req.txt"), "abs/path/req.txt");
        assert_eq!(encode("a b&c/d"), "a%20b%26c/d");
    }
}
