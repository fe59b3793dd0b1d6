//! Runs the loopback Hub + CDN mock for scripts (scripts/check_hub_mock.py, scripts/bench_hub.py).
#![allow(clippy::print_stderr)]
//!
//! ```text
//! hub_mock --repo ORG/NAME=DIR [--repo …] [--sparse ORG/NAME:PATH:SIZE:HEAD_FILE[:TAIL_FILE]]
//!          [--gated ORG/NAME] [--token TOKEN:ORG/NAME] [--page-size N]
//! ```
//! Prints one JSON line `{"endpoint": …, "cdn": …, "repos": {id: commit}}`, then serves until its
//! standard input is closed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::Path;

use mlvet_hub::mock::{Behaviour, MockFile, MockHub, MockRepo};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut repos: Vec<MockRepo> = Vec::new();
    let mut behaviour = Behaviour::default();
    let mut gated = BTreeSet::new();
    let mut sparse: Vec<(String, MockFile)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().ok_or("missing value")?;
        match args[i].as_str() {
            "--repo" => {
                let (id, dir) = value.split_once('=').ok_or("--repo ORG/NAME=DIR")?;
                repos.push(MockRepo::from_dir(id, Path::new(dir))?);
            }
            "--sparse" => {
                let parts: Vec<&str> = value.split(':').collect();
                let [id, path, size, head, rest @ ..] = parts.as_slice() else {
                    return Err("--sparse ORG/NAME:PATH:SIZE:HEAD_FILE[:TAIL_FILE]".into());
                };
                let tail = match rest.first() {
                    Some(file) => std::fs::read(file)?,
                    None => Vec::new(),
                };
                sparse.push((
                    id.to_string(),
                    MockFile::sparse(path, size.parse()?, std::fs::read(head)?, tail),
                ));
            }
            "--gated" => {
                gated.insert(value);
            }
            "--token" => {
                let (token, id) = value.split_once(':').ok_or("--token TOKEN:ORG/NAME")?;
                behaviour
                    .tokens
                    .entry(token.to_string())
                    .or_default()
                    .insert(id.to_string());
            }
            "--page-size" => behaviour.page_size = Some(value.parse()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
        i += 2;
    }
    for (id, file) in sparse {
        match repos.iter_mut().find(|r| r.id == id) {
            Some(repo) => {
                let mut files = repo.commits[repo.head()].clone();
                files.push(file);
                repo.add_commit("main", files);
            }
            None => repos.push(MockRepo::new(&id, vec![file])),
        }
    }
    for repo in &mut repos {
        repo.gated = gated.contains(&repo.id);
    }
    let heads: BTreeMap<String, String> = repos
        .iter()
        .map(|r| (r.id.clone(), r.head().to_string()))
        .collect();
    let mock = MockHub::start(repos, behaviour)?;
    let line =
        serde_json::json!({"endpoint": mock.endpoint(), "cdn": mock.cdn_base(), "repos": heads});
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    drop(out);
    let stdin = std::io::stdin();
    for _ in stdin.lock().lines() {}
    let violations = mock.violations();
    let log = mock.log();
    let count = |host: &str| log.iter().filter(|r| r.host == host).count();
    let bytes = |host: &str| {
        log.iter()
            .filter(|r| r.host == host)
            .map(|r| r.body_bytes)
            .sum::<u64>()
    };
    let summary = serde_json::json!({
        "requests": log.len(),
        "hub_requests": count("hub"),
        "cdn_requests": count("cdn"),
        "resolver_requests": log.iter().filter(|r| r.target.contains("/resolve/")).count(),
        "hub_bytes": bytes("hub"),
        "cdn_bytes": bytes("cdn"),
        "violations": violations,
    });
    eprintln!("{summary}");
    Ok(())
}
