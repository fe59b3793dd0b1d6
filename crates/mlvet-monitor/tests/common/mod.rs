//! A minimal monitor over the real pieces: an advisory database (mlvet-db), an in-memory
//! inventory index and finding table standing in for the service's store, and the monitor's
//! functions doing the work. It is what the service does per generation and per upload.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use mlvet_db::Database;
use mlvet_monitor::{
    Cause, Event, FindingRecord, FindingState, MemoryIndex, ProjectRef, Scope, Triple, fan_out,
    match_triples, reconcile, reconcile_delta, rematch_delta,
};

pub struct Harness {
    pub db: Database,
    pub index: MemoryIndex,
    pub inventories: BTreeMap<String, BTreeSet<Triple>>,
    pub findings: Vec<FindingRecord>,
    /// The generation every project was last matched at (the service keeps one per project).
    pub matched_generation: u64,
    pub events: Vec<Event>,
}

pub fn project(id: &str) -> ProjectRef {
    ProjectRef {
        id: id.to_string(),
        name: format!("project {id}"),
    }
}

impl Harness {
    pub fn new(db: Database) -> Harness {
        let matched_generation = db.current_generation().expect("generation");
        Harness {
            db,
            index: MemoryIndex::new(),
            inventories: BTreeMap::new(),
            findings: Vec::new(),
            matched_generation,
            events: Vec::new(),
        }
    }

    fn apply(&mut self, records: Vec<FindingRecord>) {
        for record in records {
            let slot = self.findings.iter_mut().find(|f| f.id == record.id);
            match slot {
                Some(slot) => *slot = record,
                None => self.findings.push(record),
            }
        }
    }

    /// An inventory upload: match the whole inventory at the current generation.
    pub fn upload(&mut self, id: &str, triples: &[Triple]) -> Vec<Event> {
        self.catch_up();
        let inventory: BTreeSet<Triple> = triples.iter().cloned().collect();
        self.index.remove_project(id);
        for triple in &inventory {
            self.index.add(id, triple);
        }
        let list: Vec<Triple> = inventory.iter().cloned().collect();
        let matches = match_triples(&self.db, &list).expect("match");
        let existing: Vec<FindingRecord> = self
            .findings
            .iter()
            .filter(|f| f.project == id)
            .cloned()
            .collect();
        let out = reconcile(
            &project(id),
            &existing,
            &inventory,
            &matches,
            &Scope::Project,
            Cause::Inventory,
            self.matched_generation,
        );
        self.inventories.insert(id.to_string(), inventory);
        self.apply(out.records);
        self.events.extend(out.events.clone());
        out.events
    }

    /// Processes every generation since the last one: the delta re-match and its fan-out.
    pub fn catch_up(&mut self) -> Vec<Event> {
        let current = self.db.current_generation().expect("generation");
        if current == self.matched_generation {
            return Vec::new();
        }
        let delta = self
            .db
            .delta(self.matched_generation, current)
            .expect("delta");
        let before = self.db.view_at(self.matched_generation).expect("view");
        let result = rematch_delta(&delta, &before, &self.db, &self.index).expect("rematch");
        let index = &self.index;
        let by_project = fan_out(&result.changes, |triple| {
            index.projects(triple).map(str::to_string).collect()
        });
        let mut events = Vec::new();
        let mut records = Vec::new();
        for (id, changes) in &by_project {
            let existing: Vec<FindingRecord> = self
                .findings
                .iter()
                .filter(|f| &f.project == id)
                .cloned()
                .collect();
            let out = reconcile_delta(&project(id), &existing, changes, current);
            records.extend(out.records);
            events.extend(out.events);
        }
        self.apply(records);
        self.matched_generation = current;
        self.events.extend(events.clone());
        events
    }

    /// Open findings as comparable tuples: (project, triple, advisory, aliases).
    pub fn open(&self) -> BTreeSet<(String, Triple, String, Vec<String>)> {
        self.findings
            .iter()
            .filter(|f| f.state == FindingState::Open)
            .map(|f| {
                (
                    f.project.clone(),
                    f.package.clone(),
                    f.matched.advisory.clone(),
                    f.matched.aliases.clone(),
                )
            })
            .collect()
    }

    /// What matching every inventory from scratch gives.
    pub fn matched_from_scratch(&self) -> BTreeSet<(String, Triple, String, Vec<String>)> {
        let mut out = BTreeSet::new();
        for (id, inventory) in &self.inventories {
            let list: Vec<Triple> = inventory.iter().cloned().collect();
            for (triple, matches) in match_triples(&self.db, &list).expect("match") {
                for m in matches {
                    out.insert((id.clone(), triple.clone(), m.advisory, m.aliases));
                }
            }
        }
        out
    }
}

pub fn types(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e.event_type.as_str().to_string(),
                e.project.as_ref().map(|p| p.id.clone()).unwrap_or_default(),
            )
        })
        .collect()
}
