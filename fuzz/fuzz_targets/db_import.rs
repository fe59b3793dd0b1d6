#![no_main]
//! Fuzzes the advisory database import: the input is imported into an in-memory database as a
//! zip export, a JSON record and a YAML record. Any outcome but a panic is fine; a successful
//! import must account for every record it read.

use libfuzzer_sys::fuzz_target;
use mlvet_db::{Database, NoProgress};

fuzz_target!(|data: &[u8]| {
    let Ok(mut db) = Database::in_memory() else { return };
    for name in ["all.zip", "record.json", "record.yaml"] {
        if let Ok(stats) = db.import_bytes(name, data, &NoProgress) {
            assert_eq!(stats.records, stats.inserted + stats.updated + stats.unchanged);
        }
    }
    let _ = db.status();
});
