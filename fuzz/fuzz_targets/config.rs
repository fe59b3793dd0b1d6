#![no_main]
//! Fuzzes the mlvet.toml / [tool.mlvet] parser and validator.

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mlvet_config::{ConfigError, ConfigKind, parse};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for (name, kind) in [
        ("mlvet.toml", ConfigKind::MlvetToml),
        ("pyproject.toml", ConfigKind::Pyproject),
    ] {
        match parse(&text, Path::new(name), kind) {
            Ok(config) => {
                // Every accepted ignore has a reason: a missing one is always an error.
                assert!(config.ignores.iter().all(|i| !i.reason.trim().is_empty()));
            }
            Err(ConfigError::Syntax { line, .. } | ConfigError::Invalid { line, .. }) => {
                assert!(line >= 1);
            }
            Err(_) => {}
        }
    }
});
