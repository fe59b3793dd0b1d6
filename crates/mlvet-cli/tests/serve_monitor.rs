//! `mlvet serve`'s monitoring switches through the binary: in `--help`, and checked before the
//! server starts (a bad duration is a usage error, exit 2, and nothing listens).

use std::process::Command;

#[test]
fn monitoring_flags_are_documented_and_checked() {
    let help = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["serve", "--help"])
        .output()
        .expect("mlvet serve --help");
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in ["--update-every", "--offline", "--allow-private-webhooks"] {
        assert!(text.contains(flag), "{flag} missing from --help:\n{text}");
    }
    let data = tempfile::tempdir().expect("tempdir");
    let bad = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-config",
            "--update-every",
            "soon",
        ])
        .env("MLVET_DATA_DIR", data.path())
        .env_remove("MLVET_DATABASE")
        .output()
        .expect("mlvet serve");
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a duration"));
    let both = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["serve", "--no-config", "--offline", "--update-every", "1h"])
        .env("MLVET_DATA_DIR", data.path())
        .output()
        .expect("mlvet serve");
    assert_eq!(
        both.status.code(),
        Some(2),
        "--offline conflicts with --update-every"
    );
    // The same settings in mlvet.toml's [serve] section.
    let config = data.path().join("mlvet.toml");
    std::fs::write(&config, "[serve]\nupdate-every = \"0m\"\n").expect("write");
    let bad = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("MLVET_DATA_DIR", data.path())
        .env_remove("MLVET_DATABASE")
        .output()
        .expect("mlvet serve");
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
