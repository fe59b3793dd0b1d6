//! Property tests: imports never panic on arbitrary input, and "newest modified wins" holds for
//! any import order.

mod common;

use common::zip_of;
use mlvet_db::{Database, NoProgress};
use mlvet_osv::AdvisorySource;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_as_any_import_format(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut db = Database::in_memory().expect("db");
        for name in ["x.json", "x.yaml", "x.zip"] {
            // An error or a counted failure are both fine; a panic is not.
            if let Ok(stats) = db.import_bytes(name, &bytes, &NoProgress) {
                prop_assert_eq!(stats.records, stats.inserted + stats.updated + stats.unchanged);
            }
        }
    }

    #[test]
    fn arbitrary_entries_inside_a_valid_zip_never_panic(
        // A map: zip entry names must be unique for the writer.
        entries in proptest::collection::btree_map("[a-z]{1,8}\\.(json|yaml|txt)", proptest::collection::vec(any::<u8>(), 0..512), 0..8)
    ) {
        let owned: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        let zip = zip_of(&owned);
        let mut db = Database::in_memory().expect("db");
        let stats = db.import_bytes("all.zip", &zip, &NoProgress).expect("a valid zip imports");
        prop_assert_eq!(stats.records + stats.failed + stats.ignored, entries.len() as u64);
    }

    #[test]
    fn the_newest_version_wins_in_any_import_order(
        times in proptest::collection::btree_set(0u32..1_000_000, 1..6),
        seed in any::<u64>(),
    ) {
        let versions: Vec<(u32, String)> = times
            .iter()
            .map(|t| {
                let modified = format!("2024-01-01T00:00:00.{t:06}Z");
                let json = serde_json::json!({"id": "GHSA-p", "modified": modified, "summary": t.to_string(),
                    "affected": [{"package": {"ecosystem": "PyPI", "name": "torch"}}]});
                (*t, json.to_string())
            })
            .collect();
        let newest = times.iter().max().copied().unwrap_or_default();
        // A deterministic shuffle from the seed.
        let mut order: Vec<usize> = (0..versions.len()).collect();
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut db = Database::in_memory().expect("db");
        for index in order {
            db.import_bytes("r.json", versions[index].1.as_bytes(), &NoProgress).expect("import");
        }
        let stored = db.advisories_for("PyPI", "torch").expect("lookup");
        prop_assert_eq!(stored.len(), 1);
        prop_assert_eq!(stored[0].summary.clone(), Some(newest.to_string()));
    }
}
