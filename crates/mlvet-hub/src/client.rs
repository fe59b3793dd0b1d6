//! The Hub HTTP client: one `ureq` agent, redirects followed by hand so that the token reaches the
//! Hub's own origin only, `Accept-Encoding: identity` on every request (a compressed answer ignores
//! `Range`), bounded retries honouring `RateLimit` / `Retry-After`, errors read from
//! `X-Error-Code` / `X-Error-Message` as the official client reads them.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::target::HubTarget;

/// The official endpoint (huggingface_hub's default for `HF_ENDPOINT`).
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Largest API answer read (repo info, tree pages).
const MAX_API_BODY: u64 = 64 * 1024 * 1024;
/// Redirect hops followed for one request.
const MAX_HOPS: usize = 5;

/// Characters left as they are in a path segment (as Python's `quote(safe="")` plus `-._~`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where the Hub is and how to talk to it.
#[derive(Clone)]
pub struct HubConfig {
    /// Base URL, without a trailing `/` (`HF_ENDPOINT`).
    pub endpoint: String,
    /// Bearer token, sent to the endpoint's origin only.
    pub token: Option<String>,
    /// Retries of one request on 408/429/5xx and connection failures.
    pub max_retries: u32,
    /// Longest single wait asked by the server; a longer one fails the request instead.
    pub max_wait: Duration,
    /// Connect and per-read timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

impl HubConfig {
    /// From the environment, as the official client: `HF_ENDPOINT`, then the token from
    /// `token_file` when given, else `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`, `HF_TOKEN_PATH`.
    pub fn from_env(token_file: Option<&Path>) -> Result<Self, HubError> {
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
            .trim_end_matches('/')
            .to_string();
        let token = match token_file {
            Some(path) => Some(read_token(path)?),
            None => env_token()?,
        };
        Ok(HubConfig {
            endpoint,
            token: token.filter(|t| !t.is_empty()),
            max_retries: 5,
            max_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        })
    }
}

fn env_token() -> Result<Option<String>, HubError> {
    for var in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"] {
        if let Ok(value) = std::env::var(var)
            && !value.trim().is_empty()
        {
            return Ok(Some(value.trim().to_string()));
        }
    }
    match std::env::var_os("HF_TOKEN_PATH") {
        Some(path) if Path::new(&path).is_file() => read_token(Path::new(&path)).map(Some),
        _ => Ok(None),
    }
}

fn read_token(path: &Path) -> Result<String, HubError> {
    let text = std::fs::read_to_string(path).map_err(|e| HubError::Token {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let token = text.trim().to_string();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(HubError::Token {
            path: path.display().to_string(),
            message: "expected one token on one line".to_string(),
        });
    }
    Ok(token)
}

/// Why a Hub request failed. Every variant is a scan error: nothing is reported safe.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HubError {
    #[error("cannot read the Hub token from {path}: {message}")]
    Token { path: String, message: String },
    #[error("{url}: network error: {message}")]
    Network { url: String, message: String },
    #[error("{repo} is gated: {message}{}", if *authenticated { " (the token has not been granted access)" } else { " (set HF_TOKEN or --hf-token-file with a token that was granted access)" })]
    Gated {
        repo: String,
        message: String,
        authenticated: bool,
    },
    #[error("{repo}: repository not found (or private without a token that can read it)")]
    RepoNotFound { repo: String },
    #[error("{repo}: revision `{revision}` not found")]
    RevisionNotFound { repo: String, revision: String },
    #[error("{repo}: `{path}` not found at {revision}")]
    EntryNotFound {
        repo: String,
        revision: String,
        path: String,
    },
    #[error("the Hub rejected the token: {message}")]
    BadToken { message: String },
    #[error("{repo}: access to this repository is disabled")]
    Disabled { repo: String },
    #[error(
        "{url}: rate limited by the Hub ({detail}); retry later or authenticate for a higher limit"
    )]
    RateLimited { url: String, detail: String },
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error(
        "{path}: the Hub answered for commit {got}, not the pinned {expected} (the revision moved or a mirror is inconsistent)"
    )]
    CommitMismatch {
        path: String,
        expected: String,
        got: String,
    },
    #[error("{url}: unexpected response: {message}")]
    BadResponse { url: String, message: String },
    #[error("{path}: byte budget of {budget} bytes exhausted ({why})")]
    Budget {
        path: String,
        budget: u64,
        why: String,
    },
}

/// One HTTP answer, headers read, body not yet.
pub(crate) struct Answer {
    pub status: u16,
    pub url: String,
    headers: Vec<(String, String)>,
    body: ureq::Body,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// At most `limit` bytes of the body; `Err` when it is longer and `exact` is set.
    pub fn read_body(self, limit: u64) -> Result<Vec<u8>, HubError> {
        let url = self.url.clone();
        let mut bytes = Vec::new();
        self.body
            .into_reader()
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| HubError::Network {
                url,
                message: format!("reading the body: {e}"),
            })?;
        Ok(bytes)
    }

    /// The error this answer means, from its status and the Hub's error headers.
    pub fn into_error(
        self,
        repo: &str,
        revision: &str,
        path: Option<&str>,
        authed: bool,
    ) -> HubError {
        let code = self.header("x-error-code").unwrap_or("").to_string();
        let header_message = self.header("x-error-message").map(str::to_string);
        let status = self.status;
        let url = self.url.clone();
        let rate = self.header("ratelimit").map(str::to_string);
        let body = self.read_body(64 * 1024).unwrap_or_default();
        let message = header_message
            .or_else(|| {
                serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        match (status, code.as_str()) {
            (401 | 403, "GatedRepo") => HubError::Gated {
                repo: repo.to_string(),
                message,
                authenticated: authed,
            },
            (401, _) if message.contains("Invalid credentials") => HubError::BadToken { message },
            (403, _) if message.contains("disabled") => HubError::Disabled {
                repo: repo.to_string(),
            },
            (404, "RevisionNotFound") => HubError::RevisionNotFound {
                repo: repo.to_string(),
                revision: revision.to_string(),
            },
            (404, "EntryNotFound") => HubError::EntryNotFound {
                repo: repo.to_string(),
                revision: revision.to_string(),
                path: path.unwrap_or("").to_string(),
            },
            (401 | 404, _) => HubError::RepoNotFound {
                repo: repo.to_string(),
            },
            (429, _) => HubError::RateLimited {
                url,
                detail: rate.unwrap_or_else(|| "no RateLimit header".to_string()),
            },
            _ => HubError::Status {
                url,
                status,
                message,
            },
        }
    }
}

/// A blocking Hub client; cheap to share between threads.
pub struct HubClient {
    agent: ureq::Agent,
    config: HubConfig,
    origin: String,
    budget: Option<std::sync::Arc<crate::budget::RateBudget>>,
}

impl HubClient {
    pub fn new(config: HubConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(config.timeout))
            .timeout_per_read(Some(config.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("mlvet/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        let origin = origin_of(&config.endpoint).unwrap_or_default();
        HubClient {
            agent,
            config,
            origin,
            budget: None,
        }
    }

    /// Shares `budget` (one per token) with every other client holding it: requests wait for
    /// the Hub's announced reset instead of running into `429`s.
    pub fn with_budget(mut self, budget: std::sync::Arc<crate::budget::RateBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    pub fn authenticated(&self) -> bool {
        self.config.token.is_some()
    }

    /// Whether `url` is on the Hub's own origin (scheme, host and port): the only place the token goes.
    pub fn is_hub_origin(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|o| o == self.origin)
    }

    /// One request with bounded retries; redirects are returned, never followed here.
    pub(crate) fn send(&self, url: &str, range: Option<(u64, u64)>) -> Result<Answer, HubError> {
        let mut attempt = 0u32;
        loop {
            let mut request = self.agent.get(url).header("Accept-Encoding", "identity");
            if let Some((start, end)) = range {
                request = request.header("Range", format!("bytes={start}-{end}"));
            }
            if let Some(token) = &self.config.token
                && self.is_hub_origin(url)
            {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            let bucket = crate::budget::Bucket::of(url, self.is_hub_origin(url));
            if let (Some(budget), Some(bucket)) = (&self.budget, bucket)
                && let Err(wait) = budget.acquire(bucket, self.config.max_wait)
            {
                return Err(HubError::RateLimited {
                    url: url.to_string(),
                    detail: format!(
                        "the shared budget of this token is exhausted for {} s more",
                        wait.as_secs()
                    ),
                });
            }
            let result = request.call();
            let response = match result {
                Ok(response) => response,
                Err(error) => {
                    if attempt < self.config.max_retries && transient(&error) {
                        std::thread::sleep(backoff(attempt));
                        attempt += 1;
                        continue;
                    }
                    return Err(HubError::Network {
                        url: url.to_string(),
                        message: error.to_string(),
                    });
                }
            };
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let answer = Answer {
                status,
                url: url.to_string(),
                headers,
                body: response.into_body(),
            };
            if let (Some(budget), Some(bucket), Some(limit)) =
                (&self.budget, bucket, answer.header("ratelimit"))
            {
                budget.observe(bucket, limit, std::time::Instant::now());
            }
            if matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
                && attempt < self.config.max_retries
            {
                let wait = retry_wait(&answer, attempt);
                if wait > self.config.max_wait {
                    return Ok(answer);
                }
                drop(answer);
                std::thread::sleep(wait);
                attempt += 1;
                continue;
            }
            return Ok(answer);
        }
    }

    /// Follows redirects by hand: to the Hub's origin with the token, elsewhere without it.
    /// Returns the final answer and every intermediate one's headers through `on_hop`.
    pub(crate) fn get_following(
        &self,
        url: &str,
        range: Option<(u64, u64)>,
        mut on_hop: impl FnMut(&Answer) -> Result<(), HubError>,
    ) -> Result<Answer, HubError> {
        let mut url = url.to_string();
        for _ in 0..MAX_HOPS {
            let answer = self.send(&url, range)?;
            on_hop(&answer)?;
            if !(300..400).contains(&answer.status) || answer.status == 304 {
                return Ok(answer);
            }
            let Some(location) = answer.header("location") else {
                return Err(HubError::BadResponse {
                    url,
                    message: format!("{} without Location", answer.status),
                });
            };
            url = join_url(&url, location);
        }
        Err(HubError::BadResponse {
            url,
            message: format!("more than {MAX_HOPS} redirects"),
        })
    }

    /// `GET /api/{type}/{id}/revision/{rev}?blobs=true&securityStatus=true`.
    pub fn repo_info(&self, target: &HubTarget) -> Result<RepoInfo, HubError> {
        let revision = target.revision_or_main();
        let url = format!(
            "{}/api/{}/{}/revision/{}?blobs=true&securityStatus=true",
            self.config.endpoint,
            target.repo_type.api_segment(),
            target.repo_id,
            encode_segment(revision)
        );
        let answer = self.get_following(&url, None, |_| Ok(()))?;
        if answer.status != 200 {
            return Err(answer.into_error(&target.repo_id, revision, None, self.authenticated()));
        }
        let body = answer.read_body(MAX_API_BODY)?;
        let info: RepoInfo = serde_json::from_slice(&body).map_err(|e| HubError::BadResponse {
            url: url.clone(),
            message: format!("repo info is not the expected JSON: {e}"),
        })?;
        if !is_full_commit(&info.sha) {
            return Err(HubError::BadResponse {
                url,
                message: format!("`sha` is not a 40-hex commit: {:?}", info.sha),
            });
        }
        Ok(info)
    }

    /// Every file of the repository at `commit` (`tree/{commit}?recursive=true`, all pages).
    pub fn list_tree(&self, target: &HubTarget, commit: &str) -> Result<Vec<RepoFile>, HubError> {
        let mut url = format!(
            "{}/api/{}/{}/tree/{}?recursive=true",
            self.config.endpoint,
            target.repo_type.api_segment(),
            target.repo_id,
            commit
        );
        let mut files = Vec::new();
        for _ in 0..100_000 {
            let answer = self.get_following(&url, None, |_| Ok(()))?;
            if answer.status != 200 {
                return Err(answer.into_error(&target.repo_id, commit, None, self.authenticated()));
            }
            let next = answer
                .header("link")
                .and_then(next_link)
                .map(str::to_string);
            let body = answer.read_body(MAX_API_BODY)?;
            let page: Vec<TreeEntry> =
                serde_json::from_slice(&body).map_err(|e| HubError::BadResponse {
                    url: url.clone(),
                    message: format!("tree page is not the expected JSON: {e}"),
                })?;
            files.extend(
                page.into_iter()
                    .filter(|e| e.kind == "file")
                    .map(|e| RepoFile {
                        path: e.path,
                        size: Some(e.size),
                        blob_id: e.oid,
                        lfs_sha256: e.lfs.as_ref().and_then(|l| l.oid.clone()),
                    }),
            );
            match next {
                Some(next) => {
                    let next = join_url(&url, &next);
                    if !self.is_hub_origin(&next) {
                        return Err(HubError::BadResponse {
                            url,
                            message: "pagination link leaves the Hub".to_string(),
                        });
                    }
                    url = next;
                }
                None => return Ok(files),
            }
        }
        Err(HubError::BadResponse {
            url,
            message: "too many tree pages".to_string(),
        })
    }

    /// The ids of every repository of `author` the caller can see (`GET /api/models?author=`,
    /// all pages), at most `max`.
    pub fn list_repos(
        &self,
        kind: crate::target::RepoType,
        author: &str,
        max: usize,
    ) -> Result<Vec<String>, HubError> {
        #[derive(Deserialize)]
        struct Listed {
            id: String,
        }
        let mut url = format!(
            "{}/api/{}?author={}&limit=1000",
            self.config.endpoint,
            kind.api_segment(),
            encode_segment(author)
        );
        let mut ids = Vec::new();
        for _ in 0..10_000 {
            let answer = self.get_following(&url, None, |_| Ok(()))?;
            if answer.status != 200 {
                return Err(answer.into_error(author, "", None, self.authenticated()));
            }
            let next = answer
                .header("link")
                .and_then(next_link)
                .map(str::to_string);
            let body = answer.read_body(MAX_API_BODY)?;
            let page: Vec<Listed> =
                serde_json::from_slice(&body).map_err(|e| HubError::BadResponse {
                    url: url.clone(),
                    message: format!("repository list is not the expected JSON: {e}"),
                })?;
            ids.extend(page.into_iter().map(|l| l.id));
            if ids.len() >= max {
                ids.truncate(max);
                return Ok(ids);
            }
            match next {
                Some(next) => {
                    let next = join_url(&url, &next);
                    if !self.is_hub_origin(&next) {
                        return Err(HubError::BadResponse {
                            url,
                            message: "pagination link leaves the Hub".to_string(),
                        });
                    }
                    url = next;
                }
                None => return Ok(ids),
            }
        }
        Err(HubError::BadResponse {
            url,
            message: "too many pages".to_string(),
        })
    }

    /// `{endpoint}/{prefix}{id}/resolve/{commit}/{path}`.
    pub fn resolve_url(&self, target: &HubTarget, commit: &str, path: &str) -> String {
        let path: Vec<String> = path.split('/').map(encode_segment).collect();
        format!(
            "{}/{}{}/resolve/{}/{}",
            self.config.endpoint,
            target.repo_type.url_prefix(),
            target.repo_id,
            commit,
            path.join("/")
        )
    }
}

fn transient(error: &ureq::Error) -> bool {
    matches!(
        error,
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed | ureq::Error::Io(_)
    )
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(3))
}

/// `RateLimit: "bucket";r=0;t=N` → N seconds; else `Retry-After: N`; else 1, 2, 4, 8 s.
fn retry_wait(answer: &Answer, attempt: u32) -> Duration {
    if let Some(limit) = answer.header("ratelimit") {
        let field = |key: &str| {
            limit.split(';').find_map(|part| {
                part.trim()
                    .strip_prefix(key)
                    .and_then(|v| v.strip_prefix('='))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
        };
        if field("r") == Some(0)
            && let Some(reset) = field("t")
        {
            return Duration::from_secs(reset.max(1));
        }
    }
    if let Some(seconds) = answer
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Duration::from_secs(seconds.max(1));
    }
    backoff(attempt)
}

/// `scheme://host:port` (default ports made explicit).
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?.to_ascii_lowercase();
    let has_port = authority.rsplit_once(':').is_some_and(|(_, port)| {
        port.bytes().all(|b| b.is_ascii_digit()) && !authority.ends_with(']')
    });
    let authority = if has_port {
        authority
    } else {
        let port = if scheme.eq_ignore_ascii_case("https") {
            443
        } else {
            80
        };
        format!("{authority}:{port}")
    };
    Some(format!("{}://{authority}", scheme.to_ascii_lowercase()))
}

/// Resolves a `Location` against the URL that returned it (absolute, `//host`, `/path`, relative).
pub(crate) fn join_url(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(authority_path) = location.strip_prefix("//") {
        return format!("{scheme}://{authority_path}");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = &rest[authority.len()..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    format!("{scheme}://{authority}{dir}/{location}")
}

/// The `rel="next"` target of a `Link` header.
fn next_link(link: &str) -> Option<&str> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
            .then(|| target.trim().trim_start_matches('<').trim_end_matches('>'))
    })
}

pub(crate) fn encode_segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

pub fn is_full_commit(sha: &str) -> bool {
    sha.len() == 40
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The fields of the repo-info answer mlvet uses (every field optional but `sha`).
#[derive(Debug, Clone, Deserialize)]
pub struct RepoInfo {
    #[serde(default)]
    pub id: Option<String>,
    pub sha: String,
    #[serde(default)]
    pub siblings: Option<Vec<Sibling>>,
    #[serde(default, rename = "securityRepoStatus")]
    pub security: Option<SecurityRepoStatus>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sibling {
    pub rfilename: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default, rename = "blobId")]
    pub blob_id: Option<String>,
    #[serde(default)]
    pub lfs: Option<SiblingLfs>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SiblingLfs {
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SecurityRepoStatus {
    #[serde(default, rename = "scansDone")]
    pub scans_done: Option<bool>,
    #[serde(default, rename = "filesWithIssues")]
    pub files_with_issues: Vec<FileIssue>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileIssue {
    pub path: String,
    #[serde(default)]
    pub level: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    lfs: Option<TreeLfs>,
}

#[derive(Debug, Clone, Deserialize)]
struct TreeLfs {
    #[serde(default)]
    oid: Option<String>,
}

/// One file of a repository at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFile {
    pub path: String,
    pub size: Option<u64>,
    /// Git object id of the blob (of the pointer, for LFS files).
    pub blob_id: Option<String>,
    /// sha256 of the content, for LFS/Xet files.
    pub lfs_sha256: Option<String>,
}

impl RepoInfo {
    /// The files listed in `siblings`, when they carry sizes (`blobs=true` honoured).
    pub fn files(&self) -> Option<Vec<RepoFile>> {
        let siblings = self.siblings.as_ref()?;
        siblings
            .iter()
            .map(|s| {
                Some(RepoFile {
                    path: s.rfilename.clone(),
                    size: Some(s.size.or(s.lfs.as_ref().and_then(|l| l.size))?),
                    blob_id: s.blob_id.clone(),
                    lfs_sha256: s.lfs.as_ref().and_then(|l| l.sha256.clone()),
                })
            })
            .collect()
    }

    /// The Hub's own scan status of `path`, for display beside mlvet's verdict.
    pub fn hub_scan_status(&self, path: &str) -> String {
        match &self.security {
            None => "unavailable".to_string(),
            Some(status) => match status.files_with_issues.iter().find(|f| f.path == path) {
                Some(issue) => issue.level.clone().unwrap_or_else(|| "flagged".to_string()),
                None if status.scans_done == Some(true) => "no issue reported".to_string(),
                None => "unknown (scans not done)".to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_joins() {
        assert_eq!(
            origin_of("https://huggingface.co/x").as_deref(),
            Some("https://huggingface.co:443")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080/a?b").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_ne!(
            origin_of("http://127.0.0.1:8080/"),
            origin_of("http://127.0.0.1:8081/")
        );
        assert_eq!(join_url("http://h:1/a/b/c", "/x?y"), "http://h:1/x?y");
        assert_eq!(join_url("http://h:1/a/b/c", "http://o:2/z"), "http://o:2/z");
        assert_eq!(join_url("http://h:1/a/b/c", "d"), "http://h:1/a/b/d");
        assert_eq!(
            next_link("<http://h/api?cursor=2>; rel=\"next\""),
            Some("http://h/api?cursor=2")
        );
        assert_eq!(encode_segment("refs/pr/1"), "refs%2Fpr%2F1");
        assert!(is_full_commit("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_full_commit("0123456"));
    }
}
