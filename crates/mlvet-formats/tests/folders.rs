//! The folder pass through `scan_paths`: origins from the hub cache layout and from `local_dir`
//! download metadata, and model facts (from safetensors headers and config.json) on the weights.
//! The JSON report does not carry origins and metadata yet, so they are checked here.

use std::path::PathBuf;

use mlvet_formats::{ScanOptions, scan_paths};

const COMMIT: &str = "4f1d5b0c6a2e9d8f7b3c1a0e5d4c3b2a19081726";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/formats_folders")
}

#[test]
fn hub_cache_files_carry_their_origin_and_facts() {
    let repo = fixtures().join("hub/models--mlvet--demo");
    let (reports, errors) = scan_paths(&[repo], &ScanOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let weights = reports
        .iter()
        .find(|r| r.path.ends_with("/model.safetensors"))
        .expect("weights");
    let origin = weights.origin.as_ref().expect("origin");
    assert_eq!(origin.hub, "huggingface");
    assert_eq!(origin.repo_type, "model");
    assert_eq!(origin.repo_id, "mlvet/demo");
    assert_eq!(origin.revision.as_deref(), Some(COMMIT));
    assert_eq!(origin.path_in_repo.as_deref(), Some("model.safetensors"));
    let facts = &weights.metadata;
    assert_eq!(facts.get("tensors").map(String::as_str), Some("4"));
    assert_eq!(facts.get("parameters").map(String::as_str), Some("47"));
    assert_eq!(facts.get("framework").map(String::as_str), Some("pt"));
    assert_eq!(
        facts.get("architecture").map(String::as_str),
        Some("DemoForCausalLM")
    );
    assert_eq!(facts.get("model_type").map(String::as_str), Some("demo"));
    assert_eq!(
        facts.get("torch_dtype").map(String::as_str),
        Some("float32")
    );
    assert_eq!(
        facts.get("framework_version").map(String::as_str),
        Some("4.57.1")
    );
    let dtypes = facts.get("dtype").expect("dtype");
    for dtype in ["F32", "F16", "I64", "BOOL"] {
        assert!(dtypes.contains(dtype), "{dtypes}");
    }
    // Every artefact of the snapshot has the origin, new ones (config, Python) included.
    for report in &reports {
        let origin = report
            .origin
            .as_ref()
            .unwrap_or_else(|| panic!("{}", report.path));
        assert_eq!(origin.repo_id, "mlvet/demo");
    }
}

#[test]
fn local_dir_downloads_carry_the_commit() {
    let local = fixtures().join("localdir");
    let (reports, _) = scan_paths(&[local], &ScanOptions::default());
    let weights = reports
        .iter()
        .find(|r| r.path.ends_with("/model.safetensors"))
        .expect("weights");
    let origin = weights.origin.as_ref().expect("origin");
    assert_eq!(origin.revision.as_deref(), Some(COMMIT));
    assert_eq!(origin.path_in_repo.as_deref(), Some("model.safetensors"));
    assert_eq!(
        weights.metadata.get("architecture").map(String::as_str),
        Some("DemoModel")
    );
}

#[test]
fn files_outside_a_hub_cache_have_no_origin() {
    let (reports, _) = scan_paths(&[fixtures().join("safetensors")], &ScanOptions::default());
    assert!(!reports.is_empty());
    assert!(reports.iter().all(|r| r.origin.is_none()));
}
