//! Benchmark of the advisory database: import of 20,000 OSV records from a zip export, then
//! lookups of 500 packages after a fresh open.
//!
//! The records are derived from the real PyPA snapshot in `../shared` (new ids, new package
//! names, same sizes and shapes). Run in release:
//! `cargo run --release -p mlvet-db --example bench_db [RECORDS] [LOOKUPS]`.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use mlvet_db::{Database, NoProgress};
use mlvet_osv::{Advisory, AdvisorySource};

const PYPA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/advisories/pypa-advisory-database/vulns"
);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let records: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let lookups: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);

    let real = load_real(Path::new(PYPA))?;
    println!("real records loaded: {}", real.len());
    let work = tempfile::tempdir()?;

    // The real snapshot as it is: a directory of YAML files.
    let started = Instant::now();
    let mut yaml_db = Database::open_or_create(&work.path().join("yaml"))?;
    let stats = yaml_db.import_path(Path::new(PYPA), &NoProgress)?;
    println!(
        "import of the real YAML directory ({} records): {:.3} s",
        stats.records,
        started.elapsed().as_secs_f64()
    );
    drop(yaml_db);

    let (zip_path, names, zip_bytes, json_bytes) = synthesise(&real, records, work.path())?;
    println!(
        "synthetic export: {records} records, {} packages, {:.1} MB JSON, {:.1} MB zip",
        names.len(),
        json_bytes as f64 / 1e6,
        zip_bytes as f64 / 1e6
    );

    let data = work.path().join("data");
    let started = Instant::now();
    let mut db = Database::open_or_create(&data)?;
    let stats = db.import_path(&zip_path, &NoProgress)?;
    let import = started.elapsed();
    assert_eq!(stats.inserted as usize, records, "{stats:?}");
    println!(
        "import of {records} records from zip: {:.3} s ({:.0} records/s)",
        import.as_secs_f64(),
        records as f64 / import.as_secs_f64()
    );
    let started = Instant::now();
    let again = db.import_path(&zip_path, &NoProgress)?;
    println!(
        "re-import (all unchanged: {}): {:.3} s",
        again.unchanged,
        started.elapsed().as_secs_f64()
    );
    drop(db);
    let size = std::fs::metadata(data.join(mlvet_db::DATABASE_FILE))?.len();
    println!("database file: {:.1} MB", size as f64 / 1e6);

    // Lookups after a fresh open, as a scan does: spread over the package names, plus misses.
    let step = (names.len() / lookups.max(1)).max(1);
    let mut queries: Vec<String> = names
        .iter()
        .step_by(step)
        .take(lookups.saturating_sub(lookups / 10))
        .cloned()
        .collect();
    while queries.len() < lookups {
        queries.push(format!("not-a-package-{}", queries.len()));
    }
    let started = Instant::now();
    let db = Database::open(&data)?.ok_or("database vanished")?;
    let opened = started.elapsed();
    let mut found = 0usize;
    for name in &queries {
        found += db.advisories_for("PyPI", name)?.len();
    }
    let total = started.elapsed();
    println!(
        "open + {} lookups: {:.1} ms (open {:.1} ms), {found} advisories returned",
        queries.len(),
        total.as_secs_f64() * 1e3,
        opened.as_secs_f64() * 1e3
    );
    let started = Instant::now();
    let ml = db.ml_advisories(None)?;
    println!(
        "ml_advisories: {} in {:.1} ms",
        ml.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    if let Some(peak) = peak_memory_kib() {
        println!("peak resident memory: {:.1} MB", peak as f64 / 1024.0);
    }
    Ok(())
}

fn load_real(dir: &Path) -> Result<Vec<Advisory>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if entry.path().extension().is_some_and(|e| e == "yaml") {
            out.push(mlvet_osv::parse_yaml(&std::fs::read_to_string(
                entry.path(),
            )?)?);
        }
    }
    Ok(out)
}

/// The synthetic export: its path, the package names used, zip size, JSON size.
type Synthetic = (std::path::PathBuf, Vec<String>, u64, u64);

/// Writes `count` records derived from the real ones into `all.zip`; returns its path, the
/// package names used, the zip size and the JSON size.
fn synthesise(
    real: &[Advisory],
    count: usize,
    dir: &Path,
) -> Result<Synthetic, Box<dyn std::error::Error>> {
    let path = dir.join("all.zip");
    let file = std::fs::File::create(&path)?;
    let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut names = std::collections::BTreeSet::new();
    let mut json_bytes = 0u64;
    for i in 0..count {
        let Some(template) = real.get(i % real.len()) else {
            break;
        };
        let generation = i / real.len();
        let mut advisory = template.clone();
        advisory.id = format!("BENCH-{i:06}");
        advisory.aliases = vec![format!("CVE-2099-{i:06}")];
        advisory.modified = Some(format!(
            "2024-{:02}-{:02}T00:00:00Z",
            1 + i % 12,
            1 + i % 28
        ));
        for affected in &mut advisory.affected {
            affected.package.name = format!("{}-g{generation}", affected.package.name);
            names.insert(mlvet_osv::normalize_package_name(
                "PyPI",
                &affected.package.name,
            ));
        }
        let json = advisory.to_canonical_json();
        json_bytes += json.len() as u64;
        writer.start_file(format!("{}.json", advisory.id), options)?;
        writer.write_all(json.as_bytes())?;
    }
    writer.finish()?.flush()?;
    let zip_bytes = std::fs::metadata(&path)?.len();
    Ok((path, names.into_iter().collect(), zip_bytes, json_bytes))
}

/// Peak resident set size (Linux `VmHWM`), in KiB.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
