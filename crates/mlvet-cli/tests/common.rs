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

/// Runs `mlvet ARGS` like [`mlvet`], and fails the test (killing the process) if it takes longer
/// than `limit`: a hang must fail the test, not stall CI. Output is drained while the child runs,
/// so a large report cannot block it on a full pipe.
pub fn mlvet_within(data_dir: &Path, args: &[&str], limit: std::time::Duration) -> Output {
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(args)
        .current_dir(repo_root())
        .env("MLVET_DATA_DIR", data_dir)
        .env("NO_COLOR", "1")
        .env_remove("MLVET_OSV_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mlvet");
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll mlvet") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mlvet {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Makes a FIFO at `path` (FIFOs cannot be committed as fixtures).
pub fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}
