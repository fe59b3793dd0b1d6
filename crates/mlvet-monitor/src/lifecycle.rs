//! The finding lifecycle per `(project, package, advisory)`, as a pure function from what is
//! stored and what matches now to the rows to write and the events to emit.
//!
//! - `open` → `resolved` when the project's inventory no longer holds the matched version;
//!   `open` → `retracted` when it still does but the advisory no longer matches it (withdrawn,
//!   removed, narrowed, or a matcher fix).
//! - `open` → `open` with `finding.updated` when the severity, fixed version, aliases, preferred
//!   id or the version in use change (a finding follows its package across upgrades that stay
//!   vulnerable).
//! - `resolved`/`retracted` → `open` again re-opens the same finding: its triage is kept
//!   (`finding.created` with `reopened: true`). Findings are never deleted.
//! - A finding whose triage suppresses it changes state like any other but never notifies.
//!
//! A finding is identified by project, package key and vulnerability: two matches are the same
//! vulnerability when they share an id or alias ([`Match::same_vulnerability`]), so a GHSA record
//! joining a PYSEC one updates the finding instead of retracting one and creating another.

use std::collections::{BTreeMap, BTreeSet};

use mlvet_db::PackageKey;
use serde::Serialize;
use serde_json::{Value, json};

use crate::event::{Cause, Event, EventType, ProjectRef};
use crate::rematch::{Match, Triple, TripleChange};

/// Where a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingState {
    Open,
    /// The inventory no longer holds the affected version.
    Resolved,
    /// The advisory no longer matches the version (withdrawn, removed, narrowed).
    Retracted,
}

/// A person's decision about a finding, kept across state changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Triage {
    /// `not_affected`, `false_positive`, `accepted_risk`, `fix_started`...
    pub status: String,
    pub reason: Option<String>,
    /// Suppressed findings stay visible but never notify.
    pub suppressed: bool,
}

/// One stored finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingRecord {
    /// Stable across state changes: the store updates the row with this id. New findings get
    /// a deterministic id from what opened them (see [`FindingRecord::new_id`]); a store with its
    /// own keys may map them.
    pub id: String,
    pub project: String,
    /// The package and the version it was last matched at.
    pub package: Triple,
    /// The vulnerability as last matched.
    pub matched: Match,
    pub state: FindingState,
    pub triage: Option<Triage>,
    /// The advisory generation it was first opened at.
    pub first_generation: u64,
    /// The generation of its last state or content change.
    pub last_changed_generation: u64,
}

impl FindingRecord {
    /// The id a new finding gets: project, package, version, advisory and the generation it
    /// opened at, so that re-running the same reconciliation yields the same ids (idempotent).
    pub fn new_id(project: &str, triple: &Triple, advisory: &str, generation: u64) -> String {
        format!(
            "{project}:{}:{}:{}:{advisory}:{generation}",
            triple.ecosystem, triple.name, triple.version
        )
    }

    fn suppressed(&self) -> bool {
        self.triage.as_ref().is_some_and(|t| t.suppressed)
    }
}

/// Which stored findings a reconciliation may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every finding of the project (an inventory upload, a matcher upgrade).
    Project,
    /// Only findings on these triples (an advisory delta: the triples whose matches changed).
    Triples(BTreeSet<Triple>),
}

impl Scope {
    fn contains(&self, triple: &Triple) -> bool {
        match self {
            Scope::Project => true,
            Scope::Triples(triples) => triples.contains(triple),
        }
    }
}

/// What a reconciliation decided: rows to upsert (only those that changed) and events to write
/// to the outbox, both in the same transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciled {
    pub records: Vec<FindingRecord>,
    pub events: Vec<Event>,
}

/// The triple changes of a re-match, grouped by the projects holding each triple (the fan-out;
/// `projects_of` is the store's `(ecosystem, name, version)` index). Projects sorted.
pub fn fan_out(
    changes: &[TripleChange],
    mut projects_of: impl FnMut(&Triple) -> Vec<String>,
) -> BTreeMap<String, Vec<&TripleChange>> {
    let mut out: BTreeMap<String, Vec<&TripleChange>> = BTreeMap::new();
    for change in changes {
        for project in projects_of(&change.triple) {
            out.entry(project).or_default().push(change);
        }
    }
    out
}

/// Reconciles one project's findings after an advisory delta: `changes` are the project's
/// triples whose matches changed (from [`fan_out`]); findings on other triples are untouched.
pub fn reconcile_delta(
    project: &ProjectRef,
    existing: &[FindingRecord],
    changes: &[&TripleChange],
    generation: u64,
) -> Reconciled {
    let triples: BTreeSet<Triple> = changes.iter().map(|c| c.triple.clone()).collect();
    let matches: Vec<(Triple, Vec<Match>)> = changes
        .iter()
        .map(|c| (c.triple.clone(), c.after.clone()))
        .collect();
    reconcile(
        project,
        existing,
        &triples,
        &matches,
        &Scope::Triples(triples.clone()),
        Cause::Advisory,
        generation,
    )
}

/// Reconciles one project's stored findings with what matches now.
///
/// - `existing`: the project's stored findings (all of them, or at least those in `scope`);
/// - `inventory`: the triples the project's current inventory holds (at least those in `scope`):
///   it decides between `resolved` and `retracted`;
/// - `matches`: the current matches of the project's triples in `scope`;
/// - `cause`: why this runs (`advisory` for a delta, `inventory` for an upload, `matcher` for a
///   full re-match after an upgrade); `generation`: the advisory generation matched against.
pub fn reconcile(
    project: &ProjectRef,
    existing: &[FindingRecord],
    inventory: &BTreeSet<Triple>,
    matches: &[(Triple, Vec<Match>)],
    scope: &Scope,
    cause: Cause,
    generation: u64,
) -> Reconciled {
    let mut out = Reconciled::default();
    // Stored findings in scope, by package key; `taken` marks those a current match claimed.
    let mut by_key: BTreeMap<PackageKey, Vec<usize>> = BTreeMap::new();
    for (index, record) in existing.iter().enumerate() {
        if record.project == project.id && scope.contains(&record.package) {
            by_key.entry(record.package.key()).or_default().push(index);
        }
    }
    let mut taken = vec![false; existing.len()];
    let mut sorted: Vec<&(Triple, Vec<Match>)> = matches
        .iter()
        .filter(|(triple, _)| scope.contains(triple))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (triple, current) in sorted {
        for matched in current {
            let candidates = by_key.get(&triple.key()).map(Vec::as_slice).unwrap_or(&[]);
            let found = pick(existing, candidates, &taken, triple, matched);
            match found {
                Some(index) => {
                    taken[index] = true;
                    let (record, event) = follow(
                        project,
                        &existing[index],
                        triple,
                        matched,
                        cause,
                        generation,
                    );
                    if let Some(record) = record {
                        out.records.push(record);
                    }
                    out.events.extend(event);
                }
                None => {
                    let record = FindingRecord {
                        id: FindingRecord::new_id(
                            &project.id,
                            triple,
                            &matched.advisory,
                            generation,
                        ),
                        project: project.id.clone(),
                        package: triple.clone(),
                        matched: matched.clone(),
                        state: FindingState::Open,
                        triage: None,
                        first_generation: generation,
                        last_changed_generation: generation,
                    };
                    out.events.push(Event::finding(
                        EventType::FindingCreated,
                        project,
                        &record,
                        vec![("cause", json!(cause)), ("reopened", json!(false))],
                    ));
                    out.records.push(record);
                }
            }
        }
    }
    // Open findings no current match claimed are closed.
    for indices in by_key.values() {
        for &index in indices {
            let record = &existing[index];
            if taken[index] || record.state != FindingState::Open {
                continue;
            }
            let (state, event_type) = if inventory.contains(&record.package) {
                (FindingState::Retracted, EventType::FindingRetracted)
            } else {
                (FindingState::Resolved, EventType::FindingResolved)
            };
            let closed = FindingRecord {
                state,
                last_changed_generation: generation,
                ..record.clone()
            };
            if !closed.suppressed() {
                out.events.push(Event::finding(
                    event_type,
                    project,
                    &closed,
                    vec![("cause", json!(cause))],
                ));
            }
            out.records.push(closed);
        }
    }
    out
}

/// The stored finding a current match continues: same vulnerability on the same package key,
/// preferring an open one, then one with the same preferred id, then the same version.
fn pick(
    existing: &[FindingRecord],
    candidates: &[usize],
    taken: &[bool],
    triple: &Triple,
    matched: &Match,
) -> Option<usize> {
    candidates
        .iter()
        .copied()
        .filter(|&i| !taken[i] && existing[i].matched.same_vulnerability(matched))
        .max_by_key(|&i| {
            let record = &existing[i];
            (
                record.state == FindingState::Open,
                record.matched.advisory == matched.advisory,
                record.package == *triple,
                std::cmp::Reverse(i),
            )
        })
}

/// A stored finding seen again: re-opened, updated, or unchanged.
fn follow(
    project: &ProjectRef,
    stored: &FindingRecord,
    triple: &Triple,
    matched: &Match,
    cause: Cause,
    generation: u64,
) -> (Option<FindingRecord>, Option<Event>) {
    let mut record = FindingRecord {
        package: triple.clone(),
        matched: matched.clone(),
        state: FindingState::Open,
        ..stored.clone()
    };
    if stored.state != FindingState::Open {
        record.last_changed_generation = generation;
        let event = (!record.suppressed()).then(|| {
            Event::finding(
                EventType::FindingCreated,
                project,
                &record,
                vec![("cause", json!(cause)), ("reopened", json!(true))],
            )
        });
        return (Some(record), event);
    }
    let changes = changes(stored, &record);
    if changes.is_empty() {
        // Same finding; other fields (summary, modified time) may still have moved.
        let moved = record != *stored;
        return (moved.then_some(record), None);
    }
    record.last_changed_generation = generation;
    let event = (!record.suppressed()).then(|| {
        Event::finding(
            EventType::FindingUpdated,
            project,
            &record,
            vec![("cause", json!(cause)), ("changes", Value::Object(changes))],
        )
    });
    (Some(record), event)
}

/// The notifiable differences between two versions of an open finding, as
/// `{"field": {"from", "to"}}`.
fn changes(old: &FindingRecord, new: &FindingRecord) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    // The common case on a re-match is "nothing changed": decide it without building JSON.
    let (a, b) = (&old.matched, &new.matched);
    if a.severity == b.severity
        && a.fixed == b.fixed
        && a.aliases == b.aliases
        && a.advisory == b.advisory
        && a.rule == b.rule
        && old.package.version == new.package.version
    {
        return out;
    }
    let mut note = |field: &str, from: Value, to: Value| {
        if from != to {
            out.insert(field.to_string(), json!({"from": from, "to": to}));
        }
    };
    note(
        "severity",
        json!(old.matched.severity),
        json!(new.matched.severity),
    );
    note("fixed", json!(old.matched.fixed), json!(new.matched.fixed));
    note(
        "aliases",
        json!(old.matched.aliases),
        json!(new.matched.aliases),
    );
    note(
        "advisory",
        json!(old.matched.advisory),
        json!(new.matched.advisory),
    );
    note(
        "version",
        json!(old.package.version),
        json!(new.package.version),
    );
    note("rule", json!(old.matched.rule), json!(new.matched.rule));
    out
}
