//! Scans one file as a pickle stream and prints a summary: `cargo run --release -p mlvet-pickle
//! --example scan_file FILE`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::BufReader;
use std::time::Instant;

use mlvet_core::Location;
use mlvet_pickle::{Limits, Policy, StreamOptions, scan_stream};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: scan_file FILE");
        std::process::exit(2);
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let policy = Policy::builtin();
    let started = Instant::now();
    let scan = scan_stream(
        BufReader::new(file),
        &Location::file(&path),
        &policy,
        &Limits::default(),
        &StreamOptions::default(),
    );
    let elapsed = started.elapsed();
    println!(
        "{path}: {} pickle(s), {} opcodes, {} globals, fully inspected: {}, {:.3} s",
        scan.pickles,
        scan.opcodes,
        scan.globals.len(),
        scan.fully_inspected,
        elapsed.as_secs_f64()
    );
    for finding in &scan.findings {
        println!(
            "  [{} {}] {} — {}",
            finding.severity, finding.verdict, finding.rule, finding.message
        );
        for evidence in &finding.evidence {
            println!("      {}: {}", evidence.label, evidence.value);
        }
    }
}
