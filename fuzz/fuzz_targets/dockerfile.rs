#![no_main]
//! Fuzzes the Dockerfile parser and every rule over it (analysis runs the whole rule set).

use libfuzzer_sys::fuzz_target;
use mlvet_pipelines::{SourceKind, Settings, analyze, dockerfile::Dockerfile};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let file = Dockerfile::parse(&text);
    let lines = text.lines().count() as u32 + 1;
    for instruction in &file.instructions {
        assert!(instruction.line >= 1 && instruction.line <= lines);
    }
    for (_, script) in file.run_scripts() {
        for command in &script.commands {
            assert!(command.line >= 1);
        }
    }
    let _ = analyze(&text, None, "Dockerfile", SourceKind::Dockerfile, &Settings::default());
});
