//! `hf://` URIs and Hub web URLs, parsed into one [`HubTarget`].
//!
//! Grammar (huggingface_hub's HF URIs): `hf://[<models|datasets|spaces>/]<ns>/<name>[@<rev>][/<path>]`.
//! A revision containing `/` must be `%2F`-encoded, except `refs/pr/<n>` and `refs/convert/<name>`,
//! which are matched eagerly. Web URLs on the Hub host (`/tree/`, `/blob/`, `/resolve/`, `/raw/`
//! routes) map to the same form.

use percent_encoding::percent_decode_str;

/// The kind of Hub repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepoType {
    Model,
    Dataset,
    Space,
}

impl RepoType {
    /// `/api/{models|datasets|spaces}/…`
    pub fn api_segment(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
            RepoType::Space => "spaces",
        }
    }

    /// The prefix of file routes (`/{prefix}{id}/resolve/…`): none for models.
    pub fn url_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
            RepoType::Space => "spaces/",
        }
    }

    /// As in `ArtifactOrigin::repo_type`.
    pub fn name(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
        }
    }
}

/// What to scan on the Hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubTarget {
    pub repo_type: RepoType,
    /// `ns/name`.
    pub repo_id: String,
    /// As given (branch, tag, `refs/pr/1`, short or full commit); `None` means `main`.
    pub revision: Option<String>,
    /// A file or folder inside the repository; `None` means the whole repository.
    pub path: Option<String>,
}

impl HubTarget {
    /// The revision to resolve (`main` when none was given).
    pub fn revision_or_main(&self) -> &str {
        self.revision.as_deref().unwrap_or("main")
    }

    /// `hf://[datasets/]ns/name@<commit>/<path>`: how artefacts are reported.
    pub fn display(&self, commit: &str, path: &str) -> String {
        let kind = match self.repo_type {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
            RepoType::Space => "spaces/",
        };
        format!("hf://{kind}{}@{commit}/{path}", self.repo_id)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("`{0}`: expected hf://[datasets/|spaces/]NAMESPACE/NAME[@REVISION][/PATH]")]
    Malformed(String),
    #[error(
        "`{0}`: a repository needs a namespace (NAMESPACE/NAME); ids without one are not accepted"
    )]
    NoNamespace(String),
    #[error("`{0}`: invalid character in the repository id")]
    InvalidId(String),
}

/// Whether `input` names something on the Hub (an `hf://` URI, or an `http(s)` URL on the Hub host,
/// `hf.co`, or the host of `endpoint`).
pub fn is_hub_target(input: &str, endpoint: &str) -> bool {
    input.starts_with("hf://") || web_path(input, endpoint).is_some()
}

/// Parses an `hf://` URI or a Hub web URL.
pub fn parse_target(input: &str, endpoint: &str) -> Result<HubTarget, TargetError> {
    if let Some(rest) = input.strip_prefix("hf://") {
        return parse_hf_uri(input, rest);
    }
    match web_path(input, endpoint) {
        Some(path) => parse_web_path(input, &path),
        None => Err(TargetError::Malformed(input.to_string())),
    }
}

fn parse_hf_uri(input: &str, rest: &str) -> Result<HubTarget, TargetError> {
    let (repo_type, rest) = split_type(rest);
    let mut parts = rest.splitn(3, '/');
    let namespace = parts.next().unwrap_or("");
    let Some(after_ns) = parts.next() else {
        return Err(TargetError::NoNamespace(input.to_string()));
    };
    let tail = parts.next();
    // `name@rev/path` or `name/path`.
    let (name, revision, path) = match after_ns.split_once('@') {
        Some((name, rev_start)) => {
            let rev_and_path = match tail {
                Some(tail) => format!("{rev_start}/{tail}"),
                None => rev_start.to_string(),
            };
            let (rev, path) = split_revision(&rev_and_path);
            (name.to_string(), Some(rev), path)
        }
        None => (after_ns.to_string(), None, tail.map(str::to_string)),
    };
    build(input, repo_type, namespace, &name, revision, path)
}

fn split_type(rest: &str) -> (RepoType, &str) {
    for (prefix, kind) in [
        ("models/", RepoType::Model),
        ("datasets/", RepoType::Dataset),
        ("spaces/", RepoType::Space),
    ] {
        if let Some(rest) = rest.strip_prefix(prefix) {
            return (kind, rest);
        }
    }
    (RepoType::Model, rest)
}

/// `rev[/path]` with `refs/pr/N` and `refs/convert/X` taken whole; `%2F` decoded in the revision.
fn split_revision(rev_and_path: &str) -> (String, Option<String>) {
    let segments: Vec<&str> = rev_and_path.split('/').collect();
    let taken = match segments.as_slice() {
        ["refs", "pr" | "convert", _, ..] => 3,
        _ => 1,
    };
    let rev = segments[..taken.min(segments.len())].join("/");
    let path = segments
        .get(taken..)
        .filter(|rest| !rest.is_empty())
        .map(|rest| rest.join("/"));
    (decode(&rev), path.filter(|p| !p.is_empty()))
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn build(
    input: &str,
    repo_type: RepoType,
    namespace: &str,
    name: &str,
    revision: Option<String>,
    path: Option<String>,
) -> Result<HubTarget, TargetError> {
    if namespace.is_empty() || name.is_empty() {
        return Err(TargetError::NoNamespace(input.to_string()));
    }
    let valid = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && !part.starts_with('.')
            && part.len() <= 96
    };
    if !valid(namespace) || !valid(name) {
        return Err(TargetError::InvalidId(input.to_string()));
    }
    if revision.as_deref().is_some_and(str::is_empty) {
        return Err(TargetError::Malformed(input.to_string()));
    }
    let path = path
        .map(|p| decode(p.trim_end_matches('/')))
        .filter(|p| !p.is_empty());
    if path
        .as_deref()
        .is_some_and(|p| p.split('/').any(|s| s == ".." || s.is_empty()))
    {
        return Err(TargetError::Malformed(input.to_string()));
    }
    Ok(HubTarget {
        repo_type,
        repo_id: format!("{namespace}/{name}"),
        revision,
        path,
    })
}

/// The path of a web URL on a Hub host, without query or fragment.
fn web_path(input: &str, endpoint: &str) -> Option<String> {
    let (scheme, rest) = input.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let endpoint_authority = endpoint
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .unwrap_or("");
    let known = ["huggingface.co", "hf.co", "www.huggingface.co"];
    if !(known.contains(&authority) || authority == endpoint_authority) {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    Some(path.to_string())
}

fn parse_web_path(input: &str, path: &str) -> Result<HubTarget, TargetError> {
    let (repo_type, rest) = split_type(path);
    let segments: Vec<&str> = rest.split('/').collect();
    let (namespace, name) = match segments.as_slice() {
        [ns, name, ..] => (*ns, *name),
        _ => return Err(TargetError::NoNamespace(input.to_string())),
    };
    let (revision, file) = match segments.get(2..) {
        None | Some([]) | Some([""]) => (None, None),
        Some([route, rest @ ..]) if matches!(*route, "tree" | "blob" | "resolve" | "raw") => {
            if rest.is_empty() {
                return Err(TargetError::Malformed(input.to_string()));
            }
            let (rev, path) = split_revision(&rest.join("/"));
            (Some(rev), path)
        }
        Some(_) => return Err(TargetError::Malformed(input.to_string())),
    };
    build(input, repo_type, namespace, name, revision, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EP: &str = "https://huggingface.co";

    fn t(input: &str) -> HubTarget {
        parse_target(input, EP).expect("parses")
    }

    #[test]
    fn hf_uris() {
        let target = t("hf://org/name");
        assert_eq!(target.repo_id, "org/name");
        assert_eq!(target.revision, None);
        assert_eq!(target.path, None);
        let target = t("hf://datasets/org/name@v1.0/data/train.pkl");
        assert_eq!(target.repo_type, RepoType::Dataset);
        assert_eq!(target.revision.as_deref(), Some("v1.0"));
        assert_eq!(target.path.as_deref(), Some("data/train.pkl"));
        let target = t("hf://org/name@refs/pr/3/model.bin");
        assert_eq!(target.revision.as_deref(), Some("refs/pr/3"));
        assert_eq!(target.path.as_deref(), Some("model.bin"));
        let target = t("hf://org/name@feature%2Fx/sub/");
        assert_eq!(target.revision.as_deref(), Some("feature/x"));
        assert_eq!(target.path.as_deref(), Some("sub"));
        let target = t("hf://org/name/sub/model.bin");
        assert_eq!(target.path.as_deref(), Some("sub/model.bin"));
        assert!(parse_target("hf://gpt2", EP).is_err());
        assert!(parse_target("hf://org/name@", EP).is_err());
        assert!(parse_target("hf://org/na me", EP).is_err());
        assert!(parse_target("hf://org/name/../x", EP).is_err());
    }

    #[test]
    fn web_urls() {
        assert_eq!(t("https://huggingface.co/org/name").repo_id, "org/name");
        let target = t("https://huggingface.co/org/name/blob/main/model.safetensors?download=true");
        assert_eq!(target.revision.as_deref(), Some("main"));
        assert_eq!(target.path.as_deref(), Some("model.safetensors"));
        let target = t("https://hf.co/datasets/org/name/tree/refs%2Fconvert%2Fparquet");
        assert_eq!(target.repo_type, RepoType::Dataset);
        assert_eq!(target.revision.as_deref(), Some("refs/convert/parquet"));
        let target = parse_target(
            "http://127.0.0.1:9/org/name/resolve/abc/a.bin",
            "http://127.0.0.1:9",
        )
        .expect("endpoint host");
        assert_eq!(target.path.as_deref(), Some("a.bin"));
        assert!(!is_hub_target("https://example.invalid/org/name", EP));
        assert!(!is_hub_target("models/org", EP));
        assert!(parse_target("https://huggingface.co/org/name/discussions", EP).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in ".{0,80}") {
            let _ = parse_target(&input, EP);
            let _ = parse_target(&format!("hf://{input}"), EP);
            let _ = parse_target(&format!("https://huggingface.co/{input}"), EP);
        }
    }
}
