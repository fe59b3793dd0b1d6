//! Throughput of the pipeline parsers and rules alone (no report rendering): walks DIR, detects
//! every pipeline file, parses and checks it, prints files, findings and wall time.
//! `cargo run --release -p mlvet-pipelines --example pipeline_bench -- DIR [RUNS]`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Read;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: pipeline_bench DIR [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut files = Vec::new();
    walk(Path::new(&dir), &mut files);
    let settings = mlvet_pipelines::Settings::default();
    let mut best = f64::INFINITY;
    let mut summary = (0usize, 0usize, 0u64);
    for _ in 0..runs {
        let start = std::time::Instant::now();
        let (mut scanned, mut findings, mut bytes) = (0usize, 0usize, 0u64);
        for path in &files {
            let mut prefix = Vec::new();
            let Ok(file) = std::fs::File::open(path) else {
                continue;
            };
            if file.take(4096).read_to_end(&mut prefix).is_err() {
                continue;
            }
            let Some(kind) = mlvet_pipelines::detect(path, &prefix) else {
                continue;
            };
            let display = path.to_string_lossy();
            if let Ok(Some(report)) = mlvet_pipelines::scan_file(path, &display, kind, &settings) {
                scanned += 1;
                findings += report.findings.len();
                bytes += report.size;
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
        summary = (scanned, findings, bytes);
    }
    println!(
        "{} pipeline files ({:.1} MB), {} findings, best of {runs}: {:.3} s ({:.0} files/s)",
        summary.0,
        summary.2 as f64 / 1e6,
        summary.1,
        best,
        summary.0 as f64 / best
    );
}
