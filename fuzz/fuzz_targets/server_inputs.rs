#![no_main]
//! Fuzzes what `mlvet serve` reads from a client before any handler logic: the query string
//! (percent-decoding, the `GET /advisories` query, the upload filename check), JSON bodies
//! (project and triage bodies) and gzip/zstd bodies under a decompression budget.

use libfuzzer_sys::fuzz_target;
use mlvet_server::fuzzing::{
    AdvisoryQuery, check_name, decode, parse_json_object, parse_triage, query_params,
    upload_filename,
};

/// A small budget, so that bombs are the normal case.
const BUDGET: u64 = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => {
            let text = String::from_utf8_lossy(rest).into_owned();
            if let Ok(params) = query_params(Some(text)) {
                let _ = AdvisoryQuery::parse(&params);
                if let Ok(name) = upload_filename(&params) {
                    // An accepted name never climbs out of its source directory.
                    assert!(!name.split(['/', '\\']).any(|part| part == ".."), "{name}");
                    assert!(!name.starts_with('/'), "{name}");
                }
            }
        }
        1 => {
            if let Ok(value) = parse_json_object(rest) {
                if let Ok(name) = check_name(&value, "name") {
                    assert!(!name.is_empty() && name.chars().count() <= 200);
                    assert!(!name.chars().any(char::is_control));
                }
                if let Ok(triage) = parse_triage(&value) {
                    assert!(!triage.reason.trim().is_empty());
                    assert!(triage.expires.is_none_or(|d| d.len() == 10));
                }
            }
        }
        2 => {
            if let Ok(decoded) = decode(Some("gzip"), rest, BUDGET) {
                assert!(decoded.len() as u64 <= BUDGET);
            }
        }
        _ => {
            if let Ok(decoded) = decode(Some("zstd"), rest, BUDGET) {
                assert!(decoded.len() as u64 <= BUDGET);
            }
        }
    }
});
