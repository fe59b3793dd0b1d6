#![no_main]
//! Fuzzes the GitHub Actions workflow / Kubernetes parsers (positioned YAML tree) and the rules.

use libfuzzer_sys::fuzz_target;
use mlvet_pipelines::{SourceKind, Settings, analyze, kubernetes, workflow::Workflow};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Workflow::parse(&text, false);
    let _ = Workflow::parse(&text, true);
    let _ = kubernetes::parse(&text);
    for kind in [SourceKind::Workflow, SourceKind::Kubernetes] {
        let _ = analyze(&text, None, "w.yml", kind, &Settings::default());
    }
});
