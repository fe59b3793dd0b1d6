#![no_main]
//! Fuzzes what `mlvet scan hf://…` parses from the user and the Hub: targets (hf:// URIs and Hub
//! URLs) and repo-info answers.

use libfuzzer_sys::fuzz_target;
use mlvet_hub::{RepoInfo, parse_target};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for input in [
        text.to_string(),
        format!("hf://{text}"),
        format!("https://huggingface.co/{text}"),
    ] {
        if let Ok(target) = parse_target(&input, "https://huggingface.co") {
            // A parsed target never escapes the repository.
            assert!(
                target
                    .path
                    .as_deref()
                    .is_none_or(|p| !p.split('/').any(|s| s == ".."))
            );
            assert!(target.repo_id.contains('/'));
        }
    }
    if let Ok(info) = serde_json::from_slice::<RepoInfo>(data) {
        let _ = info.files();
        let _ = info.hub_scan_status("model.bin");
    }
});
