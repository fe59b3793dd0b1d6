//! Optional: run zizmor (when it is on `PATH`) offline on the workflow files and carry its findings
//! as `zizmor/<audit>`. mlvet's ML-specific CI rules stay native; zizmor adds the generic GitHub
//! Actions hygiene it maintains (template injection, unpinned actions, permissions...).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use mlvet_core::{Confidence, Finding, Location, Severity, Verdict};
use serde::Deserialize;

/// Longest zizmor may run before it is stopped and the audit reported as incomplete.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
/// zizmor output read at most (bytes).
pub const MAX_OUTPUT: usize = 64 << 20;

/// What happened when mlvet tried to run zizmor.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// zizmor ran; findings by the display path of the workflow they are in.
    Ran {
        version: String,
        findings: Vec<(String, Finding)>,
    },
    /// zizmor was not run, and why (shown to the user as a warning).
    Skipped(String),
    /// zizmor ran and failed.
    Failed(String),
}

#[derive(Debug, Deserialize)]
struct ZFinding {
    ident: String,
    desc: String,
    url: Option<String>,
    determinations: ZDeterminations,
    locations: Vec<ZLocation>,
    #[serde(default)]
    ignored: bool,
}

#[derive(Debug, Deserialize)]
struct ZDeterminations {
    confidence: String,
    severity: String,
    #[serde(default)]
    persona: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ZLocation {
    symbolic: ZSymbolic,
    concrete: ZConcrete,
}

#[derive(Debug, Deserialize)]
struct ZSymbolic {
    key: serde_json::Value,
    #[serde(default)]
    annotation: String,
    #[serde(default)]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct ZConcrete {
    location: ZSpan,
}

#[derive(Debug, Deserialize)]
struct ZSpan {
    start_point: ZPoint,
}

#[derive(Debug, Deserialize)]
struct ZPoint {
    row: u64,
}

/// Locates `zizmor` on `PATH` (or `MLVET_ZIZMOR`, a path to the binary).
pub fn find() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("MLVET_ZIZMOR") {
        let path = PathBuf::from(explicit);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("zizmor"))
        .find(|candidate| candidate.is_file())
}

/// Runs zizmor offline on `files` (path on disk, display path).
pub fn run(files: &[(PathBuf, String)]) -> Outcome {
    if files.is_empty() {
        return Outcome::Skipped("no GitHub Actions workflows".to_string());
    }
    let Some(binary) = find() else {
        return Outcome::Skipped(
            "zizmor not found on PATH: the generic GitHub Actions audit (template injection, unpinned actions, permissions) was skipped; mlvet's ML-specific CI rules ran".to_string(),
        );
    };
    let version = Command::new(&binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut command = Command::new(&binary);
    command
        .args([
            "--offline",
            "--no-progress",
            "--format=json-v1",
            "--no-exit-codes",
        ])
        .args(files.iter().map(|(path, _)| path.as_os_str()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = match run_bounded(command) {
        Ok(output) => output,
        Err(message) => return Outcome::Failed(message),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Outcome::Failed(format!("zizmor exited with {}: {last}", output.status));
    }
    let by_path: BTreeMap<String, String> = files
        .iter()
        .map(|(path, display)| (path.to_string_lossy().into_owned(), display.clone()))
        .collect();
    match map_json(&output.stdout, |p| by_path.get(p).cloned()) {
        Ok(findings) => Outcome::Ran { version, findings },
        Err(message) => Outcome::Failed(message),
    }
}

fn run_bounded(mut command: Command) -> Result<std::process::Output, String> {
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start zizmor: {e}"))?;
    let (sender, receiver) = std::sync::mpsc::channel();
    let child = std::sync::Arc::new(Mutex::new(Some(child)));
    let waiter = std::sync::Arc::clone(&child);
    std::thread::spawn(move || {
        let taken = waiter.lock().ok().and_then(|mut c| c.take());
        if let Some(child) = taken {
            let _ = sender.send(child.wait_with_output());
        }
    });
    match receiver.recv_timeout(TIMEOUT) {
        Ok(Ok(output)) if output.stdout.len() <= MAX_OUTPUT => Ok(output),
        Ok(Ok(_)) => Err("zizmor's output exceeds mlvet's limit".to_string()),
        Ok(Err(e)) => Err(format!("zizmor failed: {e}")),
        Err(_) => Err(format!(
            "zizmor did not finish within {} s",
            TIMEOUT.as_secs()
        )),
    }
}

/// Interned `zizmor/<ident>` ids: rule ids are `&'static str`, and zizmor has a few dozen audits.
static IDS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
const MAX_IDS: usize = 256;

fn rule_id(ident: &str) -> &'static str {
    let clean: String = ident
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    let wanted = format!("zizmor/{clean}");
    let mut ids = IDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(id) = ids.iter().find(|id| **id == wanted) {
        return id;
    }
    if ids.len() >= MAX_IDS {
        return "zizmor/other";
    }
    let id: &'static str = Box::leak(wanted.into_boxed_str());
    ids.push(id);
    id
}

/// Maps zizmor's `--format=json-v1` output to findings. `display_of` turns the path zizmor
/// reports (as it was given) into the report's display path; findings for other paths keep
/// zizmor's path.
pub fn map_json(
    json: &[u8],
    display_of: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Finding)>, String> {
    let parsed: Vec<ZFinding> =
        serde_json::from_slice(json).map_err(|e| format!("unexpected zizmor output: {e}"))?;
    let mut out = Vec::new();
    for finding in parsed {
        if finding.ignored {
            continue;
        }
        let Some(primary) = finding
            .locations
            .iter()
            .find(|l| l.symbolic.kind == "Primary")
            .or_else(|| finding.locations.first())
        else {
            continue;
        };
        let given = local_path(&primary.symbolic.key).unwrap_or_default();
        let display = display_of(&given).unwrap_or_else(|| given.clone());
        let line = u32::try_from(primary.concrete.location.start_point.row.saturating_add(1))
            .unwrap_or(u32::MAX);
        let severity = match finding.determinations.severity.as_str() {
            "High" => Severity::High,
            "Medium" => Severity::Medium,
            "Low" => Severity::Low,
            _ => Severity::Info,
        };
        let confidence = match finding.determinations.confidence.as_str() {
            "High" => Confidence::High,
            "Medium" => Confidence::Medium,
            _ => Confidence::Low,
        };
        let message = if primary.symbolic.annotation.is_empty() {
            format!("zizmor: {}", finding.desc)
        } else {
            format!("zizmor: {} ({})", finding.desc, primary.symbolic.annotation)
        };
        let mut mapped = Finding {
            rule: rule_id(&finding.ident),
            severity,
            confidence,
            verdict: Verdict::Suspicious,
            message,
            location: Location::file(display.clone()).with_line(line),
            evidence: Vec::new(),
            remediation: finding.url.as_ref().map(|url| format!("See {url}")),
            package: None,
            advisory: None,
            suppression: None,
        }
        .evidence("engine", "zizmor")
        .evidence("audit", finding.ident.clone());
        if let Some(persona) = finding.determinations.persona {
            mapped = mapped.evidence("persona", persona);
        }
        out.push((display, mapped));
    }
    Ok(out)
}

fn local_path(key: &serde_json::Value) -> Option<String> {
    let local = key.get("Local")?;
    local
        .get("given_path")
        .or_else(|| local.get("verbatim_path"))
        .or_else(|| local.get("native_path"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The display path of `path` relative to nothing: helper for callers holding only paths.
pub fn display_path(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
