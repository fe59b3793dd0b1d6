//! Runs only the registries/data pass over a directory and prints what it found and how long it
//! took (`cargo run --release -p mlvet-registries --example scan_project DIR`): the benchmark of
//! the pass alone, without the model-format analyses of `mlvet scan`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};

fn walk(root: &Path, out: &mut Vec<mlvet_registries::ProjectFile>) -> std::io::Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let path = entry.path();
                out.push(mlvet_registries::ProjectFile {
                    display: path.display().to_string(),
                    size: entry.metadata()?.len(),
                    path,
                });
            }
        }
    }
    out.sort_by(|a, b| a.display.cmp(&b.display));
    Ok(())
}

fn main() -> std::process::ExitCode {
    let Some(root) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: scan_project DIR");
        return std::process::ExitCode::from(2);
    };
    let started = std::time::Instant::now();
    let mut files = Vec::new();
    if let Err(error) = walk(&root, &mut files) {
        eprintln!("cannot walk {}: {error}", root.display());
        return std::process::ExitCode::from(2);
    }
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    let mut report = mlvet_core::ScanReport::default();
    mlvet_registries::apply(&mut report, &files, &mlvet_registries::Options::default());
    let elapsed = started.elapsed();
    let mut by_rule = std::collections::BTreeMap::<&str, usize>::new();
    for artifact in &report.artifacts {
        for finding in &artifact.findings {
            *by_rule.entry(finding.rule).or_default() += 1;
        }
    }
    println!(
        "{} files, {:.2} GiB, {:.3} s, {} errors",
        files.len(),
        bytes as f64 / f64::from(1u32 << 30),
        elapsed.as_secs_f64(),
        report.errors.len()
    );
    for (rule, count) in by_rule {
        println!("  {rule}: {count}");
    }
    std::process::ExitCode::SUCCESS
}
