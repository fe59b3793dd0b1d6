//! Helpers shared by the CLI integration tests: run the built binary with an isolated data dir.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Runs `mlvet ARGS` from the repository root with `MLVET_DATA_DIR` set to `data_dir`.
pub fn mlvet(data_dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(args)
        .current_dir(repo_root())
        .env("MLVET_DATA_DIR", data_dir)
        .env("NO_COLOR", "1")
        .env_remove("MLVET_OSV_URL")
        .output()
        .expect("run mlvet")
}

pub fn json_report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

pub fn artifact<'a>(report: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    report["artifacts"]
        .as_array()
        .expect("artifacts array")
        .iter()
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("no artifact {path} in {report:#}"))
}

pub fn findings_for<'a>(report: &'a serde_json::Value, path: &str) -> Vec<&'a serde_json::Value> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["path"] == path)
        .collect()
}
