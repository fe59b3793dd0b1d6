#![no_main]
//! Fuzzes the pip requirements-file parser (options, continuations, PEP 508, URLs, markers).

use libfuzzer_sys::fuzz_target;
use mlvet_inventory::{ManifestKind, parse_str};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let inventory = parse_str(&text, "requirements.txt", ManifestKind::Requirements);
    // A parse problem must mark the inventory incomplete.
    if inventory.findings.iter().any(|f| f.rule == "dependency-parse-error") {
        assert!(!inventory.fully_parsed);
    }
});
