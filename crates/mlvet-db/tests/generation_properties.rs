//! Properties of the generation history, for any sequence of imports (new records, newer
//! versions, withdrawals, package renames, stale re-imports):
//! - a view of generation g shows exactly what the database held right after g;
//! - a delta over a range is the composition of the deltas of its parts (first "before", last
//!   "after"), and names every package whose records changed.

use std::collections::BTreeMap;

use mlvet_db::{ChangeKind, Database, NoProgress, PackageKey, RecordState};
use mlvet_osv::AdvisorySource;
use proptest::prelude::*;

const IDS: [&str; 3] = ["PYSEC-1", "GHSA-x", "PYSEC-2"];
const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

#[derive(Debug, Clone)]
struct Import {
    id: usize,
    name: usize,
    /// Seconds added to the base time: lower than the stored one means a stale copy.
    time: u32,
    withdrawn: bool,
}

fn import() -> impl Strategy<Value = Import> {
    (
        0..IDS.len(),
        0..NAMES.len(),
        0..20u32,
        proptest::bool::weighted(0.25),
    )
        .prop_map(|(id, name, time, withdrawn)| Import {
            id,
            name,
            time,
            withdrawn,
        })
}

fn record(i: &Import) -> String {
    let mut record = serde_json::json!({
        "id": IDS[i.id],
        "modified": format!("2025-01-01T00:00:{:02}Z", i.time),
        "affected": [{"package": {"ecosystem": "PyPI", "name": NAMES[i.name]}, "versions": ["1.0"]}],
    });
    if i.withdrawn {
        record["withdrawn"] = "2025-01-02T00:00:00Z".into();
    }
    record.to_string()
}

/// One stored record: (id, modified, withdrawn).
type Entry = (String, Option<String>, bool);
/// What the database holds per package, sorted.
type State = BTreeMap<&'static str, Vec<Entry>>;

fn snapshot(source: &dyn AdvisorySource) -> State {
    NAMES
        .iter()
        .map(|name| {
            let mut records: Vec<_> = source
                .advisories_for("PyPI", name)
                .expect("lookup")
                .into_iter()
                .map(|a| (a.id.clone(), a.modified.clone(), a.is_withdrawn()))
                .collect();
            records.sort();
            (*name, records)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn views_and_deltas_agree_with_what_was_stored(imports in proptest::collection::vec(import(), 1..10)) {
        let mut db = Database::in_memory().expect("db");
        let mut states = vec![snapshot(&db)];
        for i in &imports {
            let stats = db.import_bytes("r.json", record(i).as_bytes(), &NoProgress).expect("import");
            let generation = db.current_generation().expect("generation");
            prop_assert_eq!(stats.generation.is_some(), stats.changed());
            prop_assert_eq!(generation as usize, states.len() - usize::from(stats.generation.is_none()));
            if stats.generation.is_some() {
                states.push(snapshot(&db));
            }
        }
        let last = states.len() as u64 - 1;
        for (g, state) in states.iter().enumerate() {
            prop_assert_eq!(&snapshot(&db.view_at(g as u64).expect("view")), state, "view of {}", g);
        }
        for from in 0..=last {
            for to in from..=last {
                let delta = db.delta(from, to).expect("delta");
                for change in &delta.changes {
                    // The sides are those of the two states.
                    let find = |state: &State| -> Option<(&'static str, Entry)> {
                        state.iter().find_map(|(name, records)| {
                            records.iter().find(|r| r.0 == change.id).map(|r| (*name, r.clone()))
                        })
                    };
                    let (old, new) = (find(&states[from as usize]), find(&states[to as usize]));
                    let state_of = |side: &Option<(&'static str, Entry)>| match side {
                        None => RecordState::Absent,
                        Some((_, (_, _, true))) => RecordState::Withdrawn,
                        Some(_) => RecordState::Current,
                    };
                    prop_assert_eq!(change.old.state, state_of(&old));
                    prop_assert_eq!(change.new.state, state_of(&new));
                    prop_assert_eq!(Some(change.change), ChangeKind::classify(state_of(&old), state_of(&new)));
                    if let Some((name, _)) = new {
                        prop_assert_eq!(&change.new.packages, &vec![PackageKey::new("PyPI", name)]);
                    }
                    if let Some((name, _)) = old {
                        prop_assert_eq!(&change.old.packages, &vec![PackageKey::new("PyPI", name)]);
                    }
                }
                // Every record that differs between the two states is in the delta.
                for name in NAMES {
                    let before = &states[from as usize][name];
                    let after = &states[to as usize][name];
                    for record in before.iter().chain(after) {
                        if before.contains(record) != after.contains(record) {
                            prop_assert!(delta.changes.iter().any(|c| c.id == record.0), "{} missing from {}..{}", record.0, from, to);
                            prop_assert!(delta.touched_packages().contains(&PackageKey::new("PyPI", name)));
                        }
                    }
                }
            }
        }
    }
}
