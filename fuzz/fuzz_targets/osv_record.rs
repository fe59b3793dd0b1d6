//! Fuzz the OSV record parsers and the matcher on arbitrary data: `parse_json` and `parse_yaml`
//! must never panic, and whatever parses is evaluated for versions derived from the input
//! (PyPI, npm, Go and Maven orderings), both pinned and as an unpinned requirement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlvet_core::SourceRef;
use mlvet_inventory::{Dependency, Origin};
use mlvet_osv::{
    MatchOptions, MemorySource, affects, cvss, match_dependencies, parse_json, parse_yaml,
};

fuzz_target!(|data: &[u8]| {
    // The first line (if any) is a version to test against the record; the rest is the record.
    let (version, record) = match data.iter().position(|&b| b == b'\n') {
        Some(split) => (
            String::from_utf8_lossy(data.get(..split).unwrap_or_default()).into_owned(),
            data.get(split + 1..).unwrap_or_default(),
        ),
        None => ("1.0".to_string(), data),
    };
    let mut advisories = Vec::new();
    if let Ok(advisory) = parse_json(record) {
        advisories.push(advisory);
    }
    if let Ok(text) = std::str::from_utf8(record)
        && let Ok(advisory) = parse_yaml(text)
    {
        advisories.push(advisory);
    }
    for advisory in &advisories {
        for entry in &advisory.affected {
            for ecosystem in [
                "PyPI",
                "npm",
                "Go",
                "Maven",
                entry.package.ecosystem.as_str(),
            ] {
                let _ = affects(advisory, ecosystem, &entry.package.name, &version);
            }
        }
        for severity in &advisory.severity {
            let _ = cvss::base_score(&severity.score);
        }
        let _ = parse_json(advisory.to_canonical_json().as_bytes());
    }
    let deps: Vec<Dependency> = advisories
        .iter()
        .flat_map(|a| a.affected.iter())
        .flat_map(|entry| {
            let base = Dependency {
                ecosystem: entry.package.ecosystem.clone(),
                name: entry.package.name.clone(),
                normalized_name: entry.package.name.clone(),
                version: Some(version.clone()),
                requirement: None,
                markers: None,
                extras: Vec::new(),
                source: SourceRef::default(),
                origin: Origin::Requirements,
                direct_url: None,
                purl: None,
            };
            let unpinned = Dependency {
                version: None,
                requirement: Some(version.clone()),
                ..base.clone()
            };
            [base, unpinned]
        })
        .collect();
    let _ = match_dependencies(
        &deps,
        &MemorySource::new(advisories),
        &MatchOptions::default(),
    );
});
