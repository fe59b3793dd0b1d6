//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

pub const PYPA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/advisories/pypa-advisory-database"
);

pub fn pypa_dir() -> PathBuf {
    PathBuf::from(PYPA)
}

/// A minimal OSV record as JSON.
pub fn record(id: &str, modified: &str, package: &str, summary: &str) -> String {
    serde_json::json!({
        "id": id,
        "modified": modified,
        "published": "2024-01-01T00:00:00Z",
        "aliases": [format!("CVE-{id}")],
        "summary": summary,
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": package},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]
        }]
    })
    .to_string()
}

/// A zip archive of `(name, contents)` entries, compressed like OSV's exports.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, contents) in entries {
            writer.start_file(*name, options).expect("zip entry");
            writer.write_all(contents).expect("zip write");
        }
        writer.finish().expect("zip finish");
    }
    buffer.into_inner()
}
