#![no_main]
//! Fuzzes the pickle simulator: any input must terminate within the budgets without panicking.

use libfuzzer_sys::fuzz_target;
use mlvet_core::Location;
use mlvet_pickle::{Limits, Policy, StreamOptions, looks_like_pickle, scan_stream};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_opcodes: 100_000, max_stack: 10_000, max_memo: 10_000, ..Limits::default() };
    let policy = Policy::builtin();
    let _ = looks_like_pickle(data);
    for require_pickle_start in [false, true] {
        let opts = StreamOptions { max_pickles: None, require_pickle_start };
        let scan = scan_stream(data, &Location::file("fuzz"), &policy, &limits, &opts);
        assert!(scan.opcodes <= limits.max_opcodes);
        assert!(scan.bytes_consumed <= data.len() as u64);
    }
});
