#![no_main]
//! The Jinja2 lexer, parser and analysis on arbitrary text (crate: mlvet-jinja), and the source
//! round trip of whatever parses.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = mlvet_jinja::Limits::default();
    if let Ok(template) = mlvet_jinja::parse(text, &limits) {
        let _ = mlvet_jinja::analyze(&template);
        let source = mlvet_jinja::to_source(&template);
        let again = mlvet_jinja::parse(&source, &limits).expect("printed source parses");
        assert_eq!(mlvet_jinja::to_source(&again), source);
    }
});
