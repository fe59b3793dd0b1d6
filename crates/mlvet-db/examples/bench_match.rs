//! Times the matching path of `mlvet scan` on one manifest once the database is open: parse the
//! inventory, look every package up and match it (PEP 440 ranges, alias merging, severities).
//!
//! `cargo run --release -p mlvet-db --example bench_match -- DATA_DIR MANIFEST [RUNS]`
//! (`scripts/bench_deps.py` runs it on its synthetic 20,000-record database and 500-package lockfile.)
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(data_dir), Some(manifest)) = (args.get(1), args.get(2)) else {
        println!("usage: bench_match DATA_DIR MANIFEST [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(20);
    let started = Instant::now();
    let db = mlvet_db::Database::open(Path::new(data_dir))
        .unwrap()
        .expect("a database in DATA_DIR");
    let open_ms = started.elapsed().as_secs_f64() * 1000.0;

    let path = Path::new(manifest);
    let prefix = std::fs::read(path).unwrap();
    let kind =
        mlvet_inventory::detect(path, &prefix[..prefix.len().min(4096)]).expect("a manifest");
    let root = path.parent().unwrap_or(Path::new("."));
    let mut times = Vec::with_capacity(runs);
    let mut findings = 0;
    let mut packages = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let inventory = mlvet_inventory::parse_file(path, manifest, kind, root).unwrap();
        packages = inventory.dependencies.len();
        let result = mlvet_osv::match_dependencies(
            &inventory.dependencies,
            &db,
            &mlvet_osv::MatchOptions::default(),
        );
        findings = result.findings.len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "open {open_ms:.1} ms; parse + match of {packages} packages: median {median:.1} ms over {runs} runs \
         (min {:.1}, max {:.1}); {findings} findings",
        times[0],
        times[times.len() - 1]
    );
}
