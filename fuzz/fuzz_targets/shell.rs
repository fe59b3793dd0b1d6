#![no_main]
//! Fuzzes the shell command extractor and the command-line rules.

use libfuzzer_sys::fuzz_target;
use mlvet_pipelines::{Settings, check_shell_text, shell};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let script = shell::parse(&text, 1);
    assert!(script.commands.len() <= shell::MAX_COMMANDS);
    for command in &script.commands {
        assert!(command.line >= 1);
        assert!(command.argv.len() <= shell::MAX_WORDS);
    }
    let _ = check_shell_text(&text, "x.sh", 1, None, &Settings::default());
});
