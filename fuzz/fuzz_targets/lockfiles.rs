#![no_main]
//! Fuzzes every inventory format except requirements files: the first byte picks the kind.

use libfuzzer_sys::fuzz_target;
use mlvet_inventory::{ManifestKind, parse_str};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let kinds = ManifestKind::ALL;
    let kind = kinds[usize::from(selector) % kinds.len()];
    let text = String::from_utf8_lossy(rest);
    let inventory = parse_str(&text, "input", kind);
    for dependency in &inventory.dependencies {
        assert!(dependency.version.is_some() || dependency.requirement.is_some() || dependency.direct_url.is_some());
    }
});
