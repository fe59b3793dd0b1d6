#![no_main]
//! Fuzzes the registry and data parsers: pip.conf / git-config INI, requirements option lines,
//! `.dvc` / `dvc.lock`, DVC `.dir` manifests, Git LFS pointers, pyproject/uv.toml/Pipfile index
//! tables, uv/Poetry/Pipenv lockfiles, and the token and MLflow-URI scanners. The first byte picks
//! the parser.

use libfuzzer_sys::fuzz_target;
use mlvet_registries::rules::{artifact_ref_mutable, hardcoded_ml_token, lock_index_mismatch};
use mlvet_registries::{dvc, ini, lfs, project, requirements};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    match selector % 12 {
        0 => {
            let entries = ini::parse(&text, ini::Dialect::ConfigParser);
            assert!(entries.len() <= ini::MAX_ENTRIES);
        }
        1 => {
            let _ = ini::parse(&text, ini::Dialect::GitConfig);
        }
        2 => {
            let options = requirements::parse(&text);
            assert!(options.hashed <= options.requirements);
        }
        3 => {
            if let Ok(file) = dvc::parse_dvc_file(&text) {
                assert!(file.entries.len() <= dvc::MAX_ENTRIES);
            }
        }
        4 => {
            let _ = dvc::parse_dvc_lock(&text);
        }
        5 => {
            let _ = dvc::parse_dir_object(rest);
        }
        6 => {
            if let Some(pointer) = lfs::parse_pointer(rest) {
                assert_eq!(pointer.oid.len(), 64);
            }
        }
        7 => {
            let _ = project::parse_pyproject(&text);
            let _ = project::parse_uv_toml(&text);
            let _ = project::parse_pipfile(&text);
        }
        8 => {
            let _ = lock_index_mismatch::parse_toml_lock(&text, false);
            let _ = lock_index_mismatch::parse_toml_lock(&text, true);
        }
        9 => {
            let _ = lock_index_mismatch::parse_pipfile_lock(&text);
        }
        10 => {
            for finding in hardcoded_ml_token::check("input", &text) {
                // Never the whole secret: evidence is always redacted.
                assert!(finding.evidence.iter().any(|e| e.value.contains('…')));
            }
        }
        _ => {
            let _ = artifact_ref_mutable::check_mlflow("input", &text);
        }
    }
});
