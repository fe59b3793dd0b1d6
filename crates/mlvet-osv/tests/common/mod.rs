//! The real PyPA advisory snapshot in `../shared`, shared by the tests that replay it.

use std::path::{Path, PathBuf};

/// The snapshot's root (`vulns/<package>/PYSEC-*.yaml` below it).
pub const PYPA_DB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/advisories/pypa-advisory-database"
);

/// Every `*.yaml` record under the snapshot's `vulns/`, sorted.
pub fn record_files() -> Vec<PathBuf> {
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    collect(&Path::new(PYPA_DB).join("vulns"), &mut files);
    files.sort();
    files
}
