//! A loopback Hugging Face Hub and CDN for tests and benchmarks (feature `mock`).
//!
//! Two listeners on two host names: the Hub at `http://127.0.0.1:P1`, the CDN ("Xet bridge") at
//! `http://localhost:P2`, so that a client leaking the token across hosts is caught even when it
//! compares host names only. Behaviours follow `shared/research/hub.md` §5: repo info with
//! `blobs`/`securityStatus`/`expand`, paginated trees, `paths-info`, `refs`, `resolve` answering
//! `307` (relative, git files, through `/api/resolve-cache/`) or `302` (absolute, signed CDN URL,
//! LFS files) with the Hub's metadata headers, `206`/`416`, gzip that ignores `Range`, gated
//! `401`/`403`, private and missing repos, `429` with `RateLimit`, a `5xx` once, a branch moving
//! after the repo-info call, expiring signed URLs, a CDN that rejects `Authorization` and `HEAD`.
//! Every request is logged; protocol violations by the client are recorded in
//! [`MockHub::violations`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::integrity::{git_blob_id, sha256_hex};
use crate::target::RepoType;

/// The bytes of a mock file.
#[derive(Debug, Clone)]
pub enum Content {
    Bytes(Arc<Vec<u8>>),
    /// A large file that is zeros except for a head and a tail (a multi-GB safetensors shard
    /// without the memory): `sha256` is given, not computed.
    Sparse {
        size: u64,
        head: Arc<Vec<u8>>,
        tail: Arc<Vec<u8>>,
    },
}

impl Content {
    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::Sparse { size, .. } => *size,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes `[start, end)`.
    pub fn slice(&self, start: u64, end: u64) -> Vec<u8> {
        match self {
            Content::Bytes(b) => b[start as usize..end as usize].to_vec(),
            Content::Sparse { size, head, tail } => {
                let tail_at = size - tail.len() as u64;
                let mut out = vec![0u8; (end - start) as usize];
                let head_len = head.len() as u64;
                if start < head_len {
                    let stop = end.min(head_len);
                    out[..(stop - start) as usize]
                        .copy_from_slice(&head[start as usize..stop as usize]);
                }
                if end > tail_at {
                    let from = start.max(tail_at);
                    let dst = (from - start) as usize;
                    out[dst..].copy_from_slice(
                        &tail[(from - tail_at) as usize..(end - tail_at) as usize],
                    );
                }
                out
            }
        }
    }
}

/// One file of a mock commit.
#[derive(Debug, Clone)]
pub struct MockFile {
    pub path: String,
    pub content: Content,
    /// Stored in LFS/Xet (served through the CDN) or in git (served by the Hub).
    pub lfs: bool,
    pub sha256: String,
    /// Git blob id (of the pointer for LFS files).
    pub blob_id: String,
    pub xet_hash: String,
}

impl MockFile {
    /// A file; LFS when at least `lfs_threshold` bytes or a weights name (as `.gitattributes` does).
    pub fn new(path: &str, bytes: Vec<u8>, lfs: bool) -> Self {
        let sha256 = sha256_hex(&bytes);
        let blob_id = if lfs {
            git_blob_id(pointer(&sha256, bytes.len() as u64).as_bytes())
        } else {
            git_blob_id(&bytes)
        };
        MockFile {
            path: path.to_string(),
            xet_hash: sha256_hex(format!("xet:{sha256}").as_bytes()),
            content: Content::Bytes(Arc::new(bytes)),
            lfs,
            sha256,
            blob_id,
        }
    }

    /// A sparse LFS file (see [`Content::Sparse`]).
    pub fn sparse(path: &str, size: u64, head: Vec<u8>, tail: Vec<u8>) -> Self {
        let sha256 = sha256_hex(format!("sparse:{path}:{size}").as_bytes());
        MockFile {
            path: path.to_string(),
            xet_hash: sha256_hex(format!("xet:{sha256}").as_bytes()),
            blob_id: git_blob_id(pointer(&sha256, size).as_bytes()),
            content: Content::Sparse {
                size,
                head: Arc::new(head),
                tail: Arc::new(tail),
            },
            lfs: true,
            sha256,
        }
    }
}

fn pointer(sha256: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

/// A repository: refs pointing at commits, each a list of files.
#[derive(Debug, Clone)]
pub struct MockRepo {
    pub repo_type: RepoType,
    pub id: String,
    pub gated: bool,
    pub private: bool,
    pub disabled: bool,
    pub refs: BTreeMap<String, String>,
    pub commits: BTreeMap<String, Vec<MockFile>>,
    /// `securityRepoStatus` (returned with `securityStatus=true`).
    pub security: Option<Value>,
}

impl MockRepo {
    /// A model repository whose `main` is one commit with `files`.
    pub fn new(id: &str, files: Vec<MockFile>) -> Self {
        let sha = commit_id(id, &files);
        MockRepo {
            repo_type: RepoType::Model,
            id: id.to_string(),
            gated: false,
            private: false,
            disabled: false,
            refs: BTreeMap::from([("main".to_string(), sha.clone())]),
            commits: BTreeMap::from([(sha, files)]),
            security: Some(json!({"scansDone": true, "filesWithIssues": []})),
        }
    }

    /// Every regular file under `dir` (LFS when larger than 10 MiB or with a weights extension).
    pub fn from_dir(id: &str, dir: &Path) -> io::Result<Self> {
        let mut files = Vec::new();
        collect(dir, dir, &mut files)?;
        files.sort_by(|a: &MockFile, b| a.path.cmp(&b.path));
        Ok(MockRepo::new(id, files))
    }

    /// Adds a commit with `files` and points `branch` at it; returns its id.
    pub fn add_commit(&mut self, branch: &str, files: Vec<MockFile>) -> String {
        let sha = commit_id(
            &format!("{}:{branch}:{}", self.id, self.commits.len()),
            &files,
        );
        self.commits.insert(sha.clone(), files);
        self.refs.insert(branch.to_string(), sha.clone());
        sha
    }

    pub fn head(&self) -> &str {
        self.refs.get("main").map(String::as_str).unwrap_or("")
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<MockFile>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&path)?;
            let lfs = bytes.len() > 10 * 1024 * 1024 || is_lfs_name(&rel);
            out.push(MockFile::new(&rel, bytes, lfs));
        }
    }
    Ok(())
}

fn is_lfs_name(path: &str) -> bool {
    let ext = path.rsplit('.').next().unwrap_or("");
    matches!(
        ext,
        "bin"
            | "pt"
            | "pth"
            | "ckpt"
            | "pkl"
            | "pickle"
            | "joblib"
            | "npy"
            | "npz"
            | "safetensors"
            | "gguf"
            | "onnx"
            | "h5"
            | "keras"
            | "msgpack"
            | "zip"
            | "tar"
            | "gz"
            | "7z"
            | "pb"
            | "tflite"
            | "model"
    )
}

fn commit_id(seed: &str, files: &[MockFile]) -> String {
    let mut text = seed.to_string();
    for file in files {
        text.push_str(&file.path);
        text.push_str(&file.sha256);
    }
    crate::integrity::git_blob_id(text.as_bytes())
}

/// Switches for the behaviours a test wants to provoke.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Valid tokens and the gated/private repositories each may read.
    pub tokens: BTreeMap<String, BTreeSet<String>>,
    /// Tree page size (`Link: rel="next"` beyond).
    pub page_size: Option<usize>,
    /// Every N-th `/api/` or `/resolve/` request answers `429` (`RateLimit: r=0;t=1`).
    pub rate_limit_every: Option<u32>,
    /// Every `resolve` request answers `429` with `RateLimit: "resolvers";r=0;t=<this>`: the
    /// token's resolver quota is spent for that many seconds (the `api` bucket still answers).
    pub resolvers_exhausted_for: Option<u64>,
    /// The first `resolve` request answers `503`.
    pub fail_5xx_once: bool,
    /// The CDN answers ranges with `200` and the whole body.
    pub cdn_ignores_range: bool,
    /// The first request to each signed URL answers `403` (expired), as after its lifetime.
    pub expire_first_signed_url: bool,
    /// After the first repo-info call, move this repo's branch to this commit.
    pub move_after_info: Option<(String, String, String)>,
    /// `siblings` without sizes (the client must list the tree).
    pub omit_blobs: bool,
    /// Full (non-range) CDN GETs above this size answer `400`.
    pub full_get_max: Option<u64>,
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Logged {
    /// `hub` or `cdn`.
    pub host: &'static str,
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub status: u16,
    /// Body bytes announced in the answer (`Content-Length`).
    pub body_bytes: u64,
}

impl Logged {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    repos: Vec<MockRepo>,
    behaviour: Behaviour,
    log: Vec<Logged>,
    violations: Vec<String>,
    counter: u32,
    failed_once: bool,
    expired: BTreeSet<String>,
    moved: bool,
}

/// The running mock; stops when dropped.
pub struct MockHub {
    state: Arc<Mutex<State>>,
    hub_port: u16,
    cdn_port: u16,
    stop: Arc<AtomicBool>,
}

const SECRET: &str = "mlvet-mock-signing-key";

impl MockHub {
    pub fn start(repos: Vec<MockRepo>, behaviour: Behaviour) -> io::Result<MockHub> {
        Self::start_on(repos, behaviour, 0, 0)
    }

    /// On given ports (0: any free port).
    pub fn start_on(
        repos: Vec<MockRepo>,
        behaviour: Behaviour,
        hub_port: u16,
        cdn_port: u16,
    ) -> io::Result<MockHub> {
        let hub = TcpListener::bind(("127.0.0.1", hub_port))?;
        let cdn = TcpListener::bind(("127.0.0.1", cdn_port))?;
        let hub_port = hub.local_addr()?.port();
        let cdn_port = cdn.local_addr()?.port();
        // `localhost` may resolve to ::1 first: listen there too when possible.
        let cdn6 = TcpListener::bind(("::1", cdn_port)).ok();
        let state = Arc::new(Mutex::new(State {
            repos,
            behaviour,
            log: Vec::new(),
            violations: Vec::new(),
            counter: 0,
            failed_once: false,
            expired: BTreeSet::new(),
            moved: false,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let mock = MockHub {
            state,
            hub_port,
            cdn_port,
            stop,
        };
        mock.serve(hub, Side::Hub);
        mock.serve(cdn, Side::Cdn);
        if let Some(cdn6) = cdn6 {
            mock.serve(cdn6, Side::Cdn);
        }
        Ok(mock)
    }

    /// `HF_ENDPOINT` for clients.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.hub_port)
    }

    pub fn cdn_base(&self) -> String {
        format!("http://localhost:{}", self.cdn_port)
    }

    pub fn log(&self) -> Vec<Logged> {
        lock(&self.state).log.clone()
    }

    pub fn clear_log(&self) {
        lock(&self.state).log.clear();
    }

    /// What the client did wrong (token to the CDN, compressible ranged requests…).
    pub fn violations(&self) -> Vec<String> {
        lock(&self.state).violations.clone()
    }

    /// Changes the repositories while the mock runs (a branch moving to a new commit, a repo
    /// published later): `change` gets them all.
    pub fn update_repos(&self, change: impl FnOnce(&mut Vec<MockRepo>)) {
        change(&mut lock(&self.state).repos);
    }

    /// Requests received so far whose target contains `needle` (on either host).
    pub fn count_requests(&self, needle: &str) -> usize {
        lock(&self.state)
            .log
            .iter()
            .filter(|l| l.target.contains(needle))
            .count()
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        let mut state = lock(&self.state);
        state.behaviour = behaviour;
        state.failed_once = false;
        state.moved = false;
        state.counter = 0;
        state.expired.clear();
    }

    fn serve(&self, listener: TcpListener, side: Side) {
        let state = Arc::clone(&self.state);
        let stop = Arc::clone(&self.stop);
        let ports = (self.hub_port, self.cdn_port);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&state);
                std::thread::spawn(move || {
                    let _ = connection(stream, side, &state, ports);
                });
            }
        });
    }
}

impl Drop for MockHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loops.
        let _ = TcpStream::connect(("127.0.0.1", self.hub_port));
        let _ = TcpStream::connect(("127.0.0.1", self.cdn_port));
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Hub,
    Cdn,
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    fn query(&self) -> Vec<(String, String)> {
        self.target
            .split_once('?')
            .map(|(_, q)| form_pairs(q))
            .unwrap_or_default()
    }
}

fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect()
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// A body streamed from content instead (`[start, end)`), for large answers.
    stream: Option<(Content, u64, u64)>,
    /// `Content-Length` to announce for HEAD (the body is not sent).
    head_length: Option<u64>,
}

impl Response {
    fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            stream: None,
            head_length: None,
        }
    }
    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    fn json(self, value: &Value) -> Self {
        let mut r = self.header("Content-Type", "application/json; charset=utf-8");
        r.body = value.to_string().into_bytes();
        r
    }
    fn text(self, text: &str) -> Self {
        let mut r = self.header("Content-Type", "text/plain; charset=utf-8");
        r.body = text.as_bytes().to_vec();
        r
    }
    fn error(status: u16, code: Option<&str>, message: &str) -> Self {
        let mut r = Response::new(status).header("X-Error-Message", message);
        if let Some(code) = code {
            r = r.header("X-Error-Code", code);
        }
        r.json(&json!({ "error": message }))
    }
}

fn connection(
    stream: TcpStream,
    side: Side,
    state: &Mutex<State>,
    ports: (u16, u16),
) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let Some(request) = read_request(&mut reader)? else {
            return Ok(());
        };
        let close = request
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let response = match side {
            Side::Hub => hub_route(&request, state, ports),
            Side::Cdn => cdn_route(&request, state),
        };
        let body_bytes = match (&response.stream, request.method.as_str()) {
            (_, "HEAD") => 0,
            (Some((_, start, end)), _) => end - start,
            (None, _) => response.body.len() as u64,
        };
        {
            let mut s = lock(state);
            s.log.push(Logged {
                host: if side == Side::Hub { "hub" } else { "cdn" },
                method: request.method.clone(),
                target: request.target.clone(),
                headers: request.headers.clone(),
                status: response.status,
                body_bytes,
            });
        }
        write_response(&mut writer, &request, response)?;
        if close {
            return Ok(());
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    let mut total = line.len();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Ok(None);
        }
        total += header.len();
        if total > 64 * 1024 {
            return Err(io::Error::other("request head too large"));
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(16 * 1024 * 1024)];
    reader.read_exact(&mut body)?;
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

fn write_response(writer: &mut TcpStream, request: &Request, response: Response) -> io::Result<()> {
    let reason = match response.status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let length = match (
        request.method.as_str(),
        response.head_length,
        &response.stream,
    ) {
        ("HEAD", Some(length), _) => length,
        (_, _, Some((_, start, end))) => end - start,
        _ => response.body.len() as u64,
    };
    head.push_str(&format!("Content-Length: {length}\r\n\r\n"));
    writer.write_all(head.as_bytes())?;
    if request.method != "HEAD" {
        match &response.stream {
            Some((content, start, end)) => {
                let mut at = *start;
                while at < *end {
                    let next = (at + 1024 * 1024).min(*end);
                    writer.write_all(&content.slice(at, next))?;
                    at = next;
                }
            }
            None => writer.write_all(&response.body)?,
        }
    }
    writer.flush()
}

/// Who the request authenticates as: `Ok(None)` anonymous, `Err` an unknown token.
fn caller(request: &Request, behaviour: &Behaviour) -> Result<Option<String>, Response> {
    let Some(auth) = request.header("authorization") else {
        return Ok(None);
    };
    let token = auth
        .strip_prefix("Bearer ")
        .unwrap_or(auth)
        .trim()
        .to_string();
    if behaviour.tokens.contains_key(&token) {
        Ok(Some(token))
    } else {
        Err(Response::error(
            401,
            None,
            "Invalid credentials in Authorization header",
        ))
    }
}

fn rate_headers(response: Response, bucket: &str, remaining: u32) -> Response {
    response
        .header("RateLimit", format!("\"{bucket}\";r={remaining};t=60"))
        .header(
            "RateLimit-Policy",
            format!("\"fixed window\";\"{bucket}\";q=3000;w=300"),
        )
}

fn hub_route(request: &Request, state: &Mutex<State>, ports: (u16, u16)) -> Response {
    let path = request.path().to_string();
    let bucket = if path.contains("/resolve/") {
        "resolvers"
    } else {
        "api"
    };
    let mut s = lock(state);
    s.counter += 1;
    let counter = s.counter;
    if let Some(every) = s.behaviour.rate_limit_every
        && every > 0
        && counter.is_multiple_of(every)
    {
        return Response::error(429, None, "rate limited")
            .header("RateLimit", format!("\"{bucket}\";r=0;t=1"))
            .header(
                "RateLimit-Policy",
                format!("\"fixed window\";\"{bucket}\";q={every};w=300"),
            )
            .header("Retry-After", "1");
    }
    if let Some(reset) = s.behaviour.resolvers_exhausted_for
        && bucket == "resolvers"
    {
        return Response::error(429, None, "rate limited")
            .header("RateLimit", format!("\"resolvers\";r=0;t={reset}"))
            .header(
                "RateLimit-Policy",
                "\"fixed window\";\"resolvers\";q=3000;w=300".to_string(),
            );
    }
    if path.contains("/resolve/") && s.behaviour.fail_5xx_once && !s.failed_once {
        s.failed_once = true;
        return Response::error(503, None, "upstream unavailable");
    }
    let response = match hub_dispatch(request, &mut s, ports) {
        Ok(r) | Err(r) => r,
    };
    rate_headers(response, bucket, 2999u32.saturating_sub(counter))
}

fn split_type(path: &str) -> (RepoType, &str) {
    for (prefix, kind) in [
        ("datasets/", RepoType::Dataset),
        ("spaces/", RepoType::Space),
        ("models/", RepoType::Model),
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return (kind, rest);
        }
    }
    (RepoType::Model, path)
}

fn hub_dispatch(request: &Request, s: &mut State, ports: (u16, u16)) -> Result<Response, Response> {
    let who = caller(request, &s.behaviour)?;
    let path = request.path().trim_start_matches('/').to_string();
    if let Some(rest) = path.strip_prefix("api/resolve-cache/") {
        let (kind, rest) = split_type(rest);
        let parts: Vec<&str> = rest.splitn(4, '/').collect();
        let [ns, name, sha, file] = parts.as_slice() else {
            return Err(Response::error(404, None, "not found"));
        };
        let repo = find_repo(s, kind, &format!("{ns}/{name}"), who.as_deref(), true)?;
        let file = decode(file);
        let files = repo
            .commits
            .get(*sha)
            .ok_or_else(|| Response::error(404, Some("RevisionNotFound"), "revision not found"))?;
        let entry = files.iter().find(|f| f.path == file).ok_or_else(|| {
            Response::error(404, Some("EntryNotFound"), "entry not found")
                .header("X-Repo-Commit", sha.to_string())
        })?;
        return Ok(serve_bytes(
            request,
            &entry.content,
            &format!("\"{}\"", entry.blob_id),
            true,
        )
        .header("X-Repo-Commit", sha.to_string()));
    }
    if path == "api/models" || path == "api/datasets" {
        return list_repos(request, s, who.as_deref(), ports);
    }
    if let Some(rest) = path.strip_prefix("api/") {
        let (kind, rest) = split_type(rest);
        if let Some(prefix) = ["models/", "datasets/", "spaces/"]
            .iter()
            .find(|p| path[4..].starts_with(*p))
        {
            let _ = prefix;
        } else {
            return Err(Response::error(404, None, "not found"));
        }
        let parts: Vec<&str> = rest.splitn(4, '/').collect();
        let (id, action, tail) = match parts.as_slice() {
            [ns, name] => (format!("{ns}/{name}"), "", ""),
            [ns, name, action] => (format!("{ns}/{name}"), *action, ""),
            [ns, name, action, tail] => (format!("{ns}/{name}"), *action, *tail),
            _ => {
                return Err(Response::error(
                    404,
                    Some("RepoNotFound"),
                    "Repository not found",
                ));
            }
        };
        return api(request, s, kind, &id, action, tail, who.as_deref(), ports);
    }
    // /{prefix}{ns}/{name}/resolve/{rev}/{path}
    let (kind, rest) = split_type(&path);
    let parts: Vec<&str> = rest.splitn(5, '/').collect();
    let [ns, name, "resolve", rev, file] = parts.as_slice() else {
        return Err(Response::error(404, None, "not found"));
    };
    let id = format!("{ns}/{name}");
    let repo = find_repo(s, kind, &id, who.as_deref(), true)?.clone();
    let rev = decode(rev);
    let sha = resolve_rev(&repo, &rev)?;
    let file = decode(file);
    let Some(entry) = repo
        .commits
        .get(&sha)
        .and_then(|files| files.iter().find(|f| f.path == file))
    else {
        return Err(Response::error(
            404,
            Some("EntryNotFound"),
            &format!("{file} does not exist at {sha}"),
        )
        .header("X-Repo-Commit", sha));
    };
    let size = entry.content.len();
    if entry.lfs {
        let expires = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            + 3600;
        let object = &sha256_hex(id.as_bytes())[..24];
        let url_path = format!("/xet-bridge-us/{object}/{}", entry.xet_hash);
        let signature = sign(&url_path, expires);
        let location = format!(
            "http://localhost:{}{url_path}?Expires={expires}&Signature={signature}&Key-Pair-Id=K2MOCK",
            ports.1
        );
        let mut body = Response::new(302)
            .header("Location", location.clone())
            .header("X-Repo-Commit", sha.clone())
            .header("X-Linked-Etag", format!("\"{}\"", entry.sha256))
            .header("X-Linked-Size", size.to_string())
            .header("ETag", format!("\"{}\"", entry.sha256))
            .header("X-Xet-Hash", entry.xet_hash.clone())
            .header(
                "Link",
                format!(
                    "<http://127.0.0.1:{}/api/{}/{id}/xet-read-token/{sha}>; rel=\"xet-auth\", <http://localhost:{}/reconstructions/{}>; rel=\"xet-reconstruction-info\"",
                    ports.0,
                    kind_segment(kind),
                    ports.1,
                    entry.xet_hash
                ),
            )
            .text(&format!("Found. Redirecting to {location}"));
        body.head_length = None;
        return Ok(body);
    }
    let prefix = kind_segment(kind);
    let location = format!(
        "/api/resolve-cache/{prefix}/{id}/{sha}/{}?%2F{}%2Fresolve%2F{}%2F{}=&etag=%22{}%22",
        encode_path(&file),
        id.replace('/', "%2F"),
        encode(&rev),
        encode(&file),
        entry.blob_id
    );
    Ok(Response::new(307)
        .header("Location", location.clone())
        .header("X-Repo-Commit", sha)
        .header("X-Linked-Etag", format!("\"{}\"", entry.blob_id))
        .header("X-Linked-Size", size.to_string())
        .header("Vary", "Origin, Accept")
        .text(&format!("Temporary Redirect. Redirecting to {location}")))
}

/// `GET /api/models?author=ORG[&limit=N][&cursor=C]` (and `/api/datasets`): the repositories
/// the caller can see, `[{"id", "modelId", "sha", "private", "gated", ...}]`, paginated by
/// `Link: <…&cursor=…>; rel="next"` as the Hub does (page size: `limit`, else the behaviour's
/// `page_size`, else 1000).
fn list_repos(
    request: &Request,
    s: &State,
    who: Option<&str>,
    ports: (u16, u16),
) -> Result<Response, Response> {
    let kind = if request.path().ends_with("datasets") {
        RepoType::Dataset
    } else {
        RepoType::Model
    };
    let query = request.query();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let author = get("author");
    let search = get("search");
    let allowed = |repo: &MockRepo| {
        who.and_then(|t| s.behaviour.tokens.get(t))
            .is_some_and(|repos| repos.contains(&repo.id))
    };
    let mut visible: Vec<&MockRepo> = s
        .repos
        .iter()
        .filter(|r| r.repo_type == kind)
        .filter(|r| !r.private || allowed(r))
        .filter(|r| {
            author
                .as_deref()
                .is_none_or(|a| r.id.split('/').next() == Some(a))
        })
        .filter(|r| search.as_deref().is_none_or(|q| r.id.contains(q)))
        .collect();
    visible.sort_by(|a, b| a.id.cmp(&b.id));
    let limit = get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .or(s.behaviour.page_size)
        .unwrap_or(1000)
        .max(1);
    let start: usize = get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = visible
        .iter()
        .skip(start)
        .take(limit)
        .map(|r| {
            json!({
                "_id": &sha256_hex(r.id.as_bytes())[..24],
                "id": r.id,
                "modelId": r.id,
                "author": r.id.split('/').next(),
                "sha": r.head(),
                "private": r.private,
                "gated": if r.gated { json!("auto") } else { json!(false) },
                "disabled": r.disabled,
                "tags": [],
            })
        })
        .collect();
    let mut response = Response::new(200).json(&Value::Array(page));
    if start + limit < visible.len() {
        let mut next = format!(
            "http://127.0.0.1:{}/api/{}?limit={limit}&cursor={}",
            ports.0,
            kind_segment(kind),
            start + limit
        );
        if let Some(author) = &author {
            next.push_str(&format!("&author={}", encode(author)));
        }
        response = response.header("Link", format!("<{next}>; rel=\"next\""));
    }
    Ok(response)
}

fn kind_segment(kind: RepoType) -> &'static str {
    kind.api_segment()
}

fn sign(path: &str, expires: u64) -> String {
    sha256_hex(format!("{SECRET}{path}{expires}").as_bytes())[..32].to_string()
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn encode(text: &str) -> String {
    crate::client::encode_segment(text)
}

fn encode_path(text: &str) -> String {
    text.split('/').map(encode).collect::<Vec<_>>().join("/")
}

fn find_repo<'s>(
    s: &'s State,
    kind: RepoType,
    id: &str,
    who: Option<&str>,
    content: bool,
) -> Result<&'s MockRepo, Response> {
    let repo = s.repos.iter().find(|r| r.repo_type == kind && r.id == id);
    let allowed = |repo: &MockRepo| {
        who.and_then(|t| s.behaviour.tokens.get(t))
            .is_some_and(|repos| repos.contains(&repo.id))
    };
    match repo {
        None => Err(match who {
            None => Response::error(401, Some("RepoNotFound"), "Repository not found"),
            Some(_) => Response::error(404, Some("RepoNotFound"), "Repository not found"),
        }),
        Some(repo) if repo.private && !allowed(repo) => Err(match who {
            None => Response::error(401, Some("RepoNotFound"), "Repository not found"),
            Some(_) => Response::error(404, Some("RepoNotFound"), "Repository not found"),
        }),
        Some(repo) if repo.disabled => Err(Response::error(403, None, "Access to this resource is disabled.")),
        Some(repo) if repo.gated && content && !allowed(repo) => Err(match who {
            None => Response::error(
                401,
                Some("GatedRepo"),
                &format!("Access to model {id} is restricted. You must have access to it and be authenticated to access it. Please log in."),
            )
            .header("www-authenticate", "Bearer realm=\"Authentication required\", charset=\"UTF-8\""),
            Some(_) => Response::error(
                403,
                Some("GatedRepo"),
                &format!("Access to model {id} is restricted and you are not in the authorized list. Visit the repository to ask for access."),
            ),
        }),
        Some(repo) => Ok(repo),
    }
}

fn resolve_rev(repo: &MockRepo, rev: &str) -> Result<String, Response> {
    if let Some(sha) = repo.refs.get(rev) {
        return Ok(sha.clone());
    }
    if rev.len() >= 7
        && rev.bytes().all(|b| b.is_ascii_hexdigit())
        && let Some(sha) = repo.commits.keys().find(|sha| sha.starts_with(rev))
    {
        return Ok(sha.clone());
    }
    Err(Response::error(
        404,
        Some("RevisionNotFound"),
        &format!("Invalid rev id: {rev}"),
    ))
}

const VALID_EXPAND: &[&str] = &[
    "author",
    "baseModels",
    "cardData",
    "config",
    "createdAt",
    "disabled",
    "downloads",
    "downloadsAllTime",
    "gated",
    "inference",
    "lastModified",
    "library_name",
    "likes",
    "model-index",
    "pipeline_tag",
    "private",
    "safetensors",
    "sha",
    "siblings",
    "spaces",
    "tags",
    "transformersInfo",
    "trendingScore",
    "gguf",
    "usedStorage",
    "xetEnabled",
];

#[allow(clippy::too_many_arguments)]
fn api(
    request: &Request,
    s: &mut State,
    kind: RepoType,
    id: &str,
    action: &str,
    tail: &str,
    who: Option<&str>,
    ports: (u16, u16),
) -> Result<Response, Response> {
    let repo = find_repo(s, kind, id, who, false)?.clone();
    let query = request.query();
    let flag = |name: &str| {
        query
            .iter()
            .any(|(k, v)| k == name && matches!(v.to_ascii_lowercase().as_str(), "true" | "1"))
    };
    match action {
        "" | "revision" => {
            let rev = if action == "revision" {
                decode(tail)
            } else {
                "main".to_string()
            };
            let sha = resolve_rev(&repo, &rev)?;
            let expand: Vec<&str> = query
                .iter()
                .filter(|(k, _)| k == "expand" || k == "expand[]")
                .map(|(_, v)| v.as_str())
                .collect();
            if let Some(bad) = expand.iter().find(|e| !VALID_EXPAND.contains(e)) {
                return Err(Response::error(
                    400,
                    None,
                    &format!("\"expand\" must be one of {VALID_EXPAND:?}; got {bad}"),
                ));
            }
            let blobs = flag("blobs") && !s.behaviour.omit_blobs;
            let files = &repo.commits[&sha];
            let siblings: Vec<Value> = files
                .iter()
                .map(|f| {
                    let mut v = json!({ "rfilename": f.path });
                    if blobs {
                        v["size"] = json!(f.content.len());
                        v["blobId"] = json!(f.blob_id);
                        if f.lfs {
                            v["lfs"] = json!({"sha256": f.sha256, "size": f.content.len(), "pointerSize": pointer(&f.sha256, f.content.len()).len()});
                        }
                    }
                    v
                })
                .collect();
            let mut info = json!({
                "_id": &sha256_hex(id.as_bytes())[..24],
                "id": id,
                "modelId": id,
                "author": id.split('/').next(),
                "sha": sha,
                "lastModified": "2026-11-30T12:00:00.000Z",
                "createdAt": "2026-01-01T00:00:00.000Z",
                "private": repo.private,
                "gated": if repo.gated { json!("manual") } else { json!(false) },
                "disabled": repo.disabled,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "siblings": siblings,
            });
            if flag("securityStatus")
                && let Some(security) = &repo.security
            {
                info["securityRepoStatus"] = security.clone();
            }
            if let Some((repo_id, branch, new_sha)) = s.behaviour.move_after_info.clone()
                && !s.moved
                && repo_id == id
                && let Some(repo) = s.repos.iter_mut().find(|r| r.id == repo_id)
            {
                repo.refs.insert(branch, new_sha);
                s.moved = true;
            }
            Ok(Response::new(200)
                .header("ETag", format!("W/\"{}\"", &sha[..16]))
                .json(&info))
        }
        "tree" => {
            let (rev, sub) = tail.split_once('/').unwrap_or((tail, ""));
            let sha = resolve_rev(&repo, &decode(rev))?;
            let sub = decode(sub);
            let recursive = flag("recursive");
            let expand = flag("expand");
            let mut entries: Vec<Value> = Vec::new();
            let mut dirs = BTreeSet::new();
            for f in &repo.commits[&sha] {
                let rel = if sub.is_empty() {
                    f.path.as_str()
                } else if let Some(rest) = f.path.strip_prefix(&format!("{sub}/")) {
                    rest
                } else {
                    continue;
                };
                if !recursive && let Some((dir, _)) = rel.split_once('/') {
                    let full = if sub.is_empty() {
                        dir.to_string()
                    } else {
                        format!("{sub}/{dir}")
                    };
                    dirs.insert(full);
                    continue;
                }
                if recursive {
                    let mut parent = String::new();
                    for part in f
                        .path
                        .split('/')
                        .collect::<Vec<_>>()
                        .iter()
                        .rev()
                        .skip(1)
                        .rev()
                    {
                        parent = if parent.is_empty() {
                            part.to_string()
                        } else {
                            format!("{parent}/{part}")
                        };
                        if parent.len() > sub.len() {
                            dirs.insert(parent.clone());
                        }
                    }
                }
                let mut v = json!({"type": "file", "oid": f.blob_id, "size": f.content.len(), "path": f.path});
                if f.lfs {
                    v["lfs"] = json!({"oid": f.sha256, "size": f.content.len(), "pointerSize": pointer(&f.sha256, f.content.len()).len()});
                    v["xetHash"] = json!(f.xet_hash);
                }
                if expand {
                    v["lastCommit"] = json!({"id": sha, "title": "mock commit", "date": "2026-11-30T12:00:00.000Z"});
                    v["securityFileStatus"] = json!({"status": "safe", "avScan": {"virusFound": false, "virusNames": null}, "pickleImportScan": null});
                }
                entries.push(v);
            }
            for dir in dirs {
                entries.push(json!({"type": "directory", "oid": "0000000000000000000000000000000000000000", "size": 0, "path": dir}));
            }
            entries.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
            let page = s.behaviour.page_size.unwrap_or(1000).max(1);
            let cursor: usize = query
                .iter()
                .find(|(k, _)| k == "cursor")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let slice: Vec<Value> = entries.iter().skip(cursor).take(page).cloned().collect();
            let mut response = Response::new(200);
            if cursor + page < entries.len() {
                let base = request.target.split('?').next().unwrap_or("");
                let mut q: Vec<String> = query
                    .iter()
                    .filter(|(k, _)| k != "cursor")
                    .map(|(k, v)| format!("{k}={}", encode(v)))
                    .collect();
                q.push(format!("cursor={}", cursor + page));
                response = response.header(
                    "Link",
                    format!(
                        "<http://127.0.0.1:{}{base}?{}>; rel=\"next\"",
                        ports.0,
                        q.join("&")
                    ),
                );
            }
            Ok(response.json(&Value::Array(slice)))
        }
        "paths-info" => {
            let sha = resolve_rev(&repo, &decode(tail))?;
            let wanted: Vec<String> = if request
                .header("content-type")
                .is_some_and(|c| c.contains("json"))
            {
                serde_json::from_slice::<Value>(&request.body)
                    .ok()
                    .and_then(|v| v.get("paths").cloned())
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default()
            } else {
                form_pairs(&String::from_utf8_lossy(&request.body))
                    .into_iter()
                    .filter(|(k, _)| k == "paths")
                    .map(|(_, v)| v)
                    .collect()
            };
            let entries: Vec<Value> = repo.commits[&sha]
                .iter()
                .filter(|f| wanted.contains(&f.path))
                .map(|f| {
                    let mut v = json!({"type": "file", "oid": f.blob_id, "size": f.content.len(), "path": f.path});
                    if f.lfs {
                        v["lfs"] = json!({"oid": f.sha256, "size": f.content.len(), "pointerSize": 134});
                    }
                    v
                })
                .collect();
            Ok(Response::new(200).json(&Value::Array(entries)))
        }
        "refs" => {
            let branches: Vec<Value> = repo
                .refs
                .iter()
                .map(|(name, sha)| json!({"name": name, "ref": format!("refs/heads/{name}"), "targetCommit": sha}))
                .collect();
            Ok(Response::new(200).json(
                &json!({"branches": branches, "converts": [], "tags": [], "pullRequests": []}),
            ))
        }
        "xet-read-token" => Err(Response::error(
            501,
            None,
            "the mock has no Xet storage; use the HTTP bridge",
        )),
        _ => Err(Response::error(404, None, "not found")),
    }
}

/// Serves `content` with `Range` support (`206`, clamped ends, `416`, multi-range → `200`); with
/// `gzip_ignores_range`, an `Accept-Encoding: gzip` request gets the whole body gzip-compressed.
fn serve_bytes(
    request: &Request,
    content: &Content,
    etag: &str,
    gzip_ignores_range: bool,
) -> Response {
    let size = content.len();
    let base = Response::new(200)
        .header("ETag", etag.to_string())
        .header("Accept-Ranges", "bytes")
        .header("Content-Type", "application/octet-stream");
    if gzip_ignores_range
        && request
            .header("accept-encoding")
            .is_some_and(|e| e.contains("gzip"))
        && request.method == "GET"
    {
        use flate2::write::GzEncoder;
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = encoder.write_all(&content.slice(0, size));
        let mut r = base.header("Content-Encoding", "gzip");
        r.body = encoder.finish().unwrap_or_default();
        return r;
    }
    let range = request.header("range").map(str::to_string);
    match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        Some(spec) if !spec.contains(',') => {
            let (a, b) = spec.split_once('-').unwrap_or((spec, ""));
            let (start, end) = match (a.trim().parse::<u64>().ok(), b.trim().parse::<u64>().ok()) {
                (Some(a), Some(b)) => (a, b.min(size.saturating_sub(1))),
                (Some(a), None) => (a, size.saturating_sub(1)),
                (None, Some(n)) => (size.saturating_sub(n), size.saturating_sub(1)),
                (None, None) => return Response::error(400, None, "bad range"),
            };
            if start >= size || start > end {
                return Response::new(416).header("Content-Range", format!("bytes */{size}"));
            }
            let mut r = Response::new(206)
                .header("ETag", etag.to_string())
                .header("Accept-Ranges", "bytes")
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", format!("bytes {start}-{end}/{size}"));
            if request.method == "HEAD" {
                r.head_length = Some(end - start + 1);
            } else {
                r.stream = Some((content.clone(), start, end + 1));
            }
            r
        }
        _ => {
            let mut r = base;
            if request.method == "HEAD" {
                r.head_length = Some(size);
            } else {
                r.stream = Some((content.clone(), 0, size));
            }
            r
        }
    }
}

fn cdn_route(request: &Request, state: &Mutex<State>) -> Response {
    let mut s = lock(state);
    if request.header("authorization").is_some() {
        s.violations.push(format!(
            "Authorization sent to the CDN: {} {}",
            request.method, request.target
        ));
        return Response::error(
            400,
            None,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter...",
        );
    }
    if request.header("range").is_some()
        && request
            .header("accept-encoding")
            .is_none_or(|e| e.trim() != "identity")
    {
        s.violations.push(format!(
            "ranged request without Accept-Encoding: identity: {}",
            request.target
        ));
    }
    if request.method == "HEAD" {
        return Response::error(405, None, "HEAD is not served by the bridge");
    }
    let path = request.path().to_string();
    let query = request.query();
    let get = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let expires: u64 = get("Expires").parse().unwrap_or(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if sign(&path, expires) != get("Signature") {
        return Response::error(403, None, "Invalid signature");
    }
    if expires < now
        || (s.behaviour.expire_first_signed_url && s.expired.insert(request.target.clone()))
    {
        return Response::error(403, None, "Request has expired");
    }
    let xet_hash = path.rsplit('/').next().unwrap_or("").to_string();
    let Some(file) = s
        .repos
        .iter()
        .flat_map(|r| r.commits.values().flatten())
        .find(|f| f.xet_hash == xet_hash)
        .cloned()
    else {
        return Response::error(404, None, "not found");
    };
    if request.header("range").is_none()
        && let Some(max) = s.behaviour.full_get_max
        && file.content.len() > max
    {
        return Response::error(
            400,
            None,
            "file too large for a full download; use Range requests",
        );
    }
    let ignore = s.behaviour.cdn_ignores_range;
    drop(s);
    let cdn_etag = format!(
        "\"{}\"",
        sha256_hex(format!("cdn:{}", file.sha256).as_bytes())
    );
    if ignore {
        let mut r = Response::new(200)
            .header("ETag", cdn_etag)
            .header("Content-Type", "application/octet-stream");
        r.stream = Some((file.content.clone(), 0, file.content.len()));
        return r;
    }
    serve_bytes(request, &file.content, &cdn_etag, false)
}
