#![no_main]
//! Fuzzes the OpenVEX document parser and validator.

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mlvet_config::vex::{VexStatus, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(document) = parse(data, Path::new("fuzz.openvex.json")) {
        for statement in &document.statements {
            // not_affected is only accepted with a reason.
            if statement.status == VexStatus::NotAffected {
                assert!(statement.justification.is_some() || statement.impact_statement.is_some());
            }
            assert!(!statement.vulnerability_ids.is_empty());
        }
    }
});
