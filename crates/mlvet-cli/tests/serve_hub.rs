//! `mlvet serve`'s Hub settings through the binary: `[serve.hub]` is read, a token file that
//! cannot be read stops the start (naming the file, never a token), and a token written in the
//! configuration itself is refused.

mod common;

use std::process::{Command, Output};

fn serve_with(config: &str) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mlvet.toml");
    std::fs::write(&path, config).expect("config");
    Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["serve", "--listen", "127.0.0.1:0", "--offline", "--config"])
        .arg(&path)
        .env("MLVET_DATA_DIR", dir.path())
        .env_remove("MLVET_DATABASE")
        .output()
        .expect("run mlvet serve")
}

#[test]
fn an_unreadable_hub_token_file_stops_the_start() {
    let output = serve_with(
        "[serve]\nhub-recheck-seconds = 60\n[serve.hub]\nendpoint = \"http://127.0.0.1:9\"\ntoken-file = \"/nonexistent/hf-token\"\n",
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/hf-token"),
        "the error names the file: {stderr}"
    );
}

#[test]
fn a_token_in_the_configuration_is_refused() {
    let output = serve_with("[serve.hub]\ntoken = \"hf_secret_in_config\"\n");
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("token"), "{stderr}");
    assert!(
        !stderr.contains("hf_secret_in_config"),
        "the value is never echoed: {stderr}"
    );
}
