//! Advisory-driven monitoring, as pure functions over data the service stores.
//!
//! mlvet's OSV matching is a pure function of `(ecosystem, name, version)`, so a change to the
//! advisory database only needs the *distinct* versions of the packages it touches re-matched,
//! not every project re-scanned (research notes, monitoring §2.8):
//!
//! 1. [`rematch::rematch_delta`]: given a generation's [`Delta`](mlvet_db::Delta), the advisory
//!    set before and after (both [`AdvisorySource`](mlvet_osv::AdvisorySource)s, e.g.
//!    [`mlvet_db::Database::view_at`] and the database itself), and an [`InventoryIndex`] of the
//!    distinct triples stored inventories hold, it returns the triples whose matches changed, with
//!    the matches before and after. The matcher is `mlvet-osv`'s (exact PEP 440, alias merging).
//! 2. [`lifecycle::reconcile`]: per project, the finding state machine over
//!    `(project, package, advisory)`: `open` → `resolved` (the inventory no longer has it) or
//!    `retracted` (the advisory no longer matches), `updated` while open, re-opening keeps the
//!    triage, and suppressed findings never notify. It returns the finding rows to write and the
//!    events to put in the outbox, in the same transaction.
//! 3. [`event`]: the event types (`finding.created` with its cause, `finding.updated`,
//!    `finding.resolved`, `finding.retracted`, `inventory.processed`, `inventory.failed`,
//!    `advisories.updated`) and their JSON `data`.
//!
//! Nothing here stores, sends or prints: the service's store supplies the index and persists
//! the rows; `mlvet-webhooks` signs and delivers the events.

pub mod cache;
pub mod event;
pub mod lifecycle;
pub mod rematch;

pub use cache::MatchCache;
pub use event::{Cause, Event, EventType, ProjectRef};
pub use lifecycle::{
    FindingRecord, FindingState, Reconciled, Scope, Triage, fan_out, reconcile, reconcile_delta,
};
pub use rematch::{
    InventoryIndex, Match, MemoryIndex, RematchResult, Triple, TripleChange, match_triple,
    match_triples, rematch_delta,
};

/// The version of the matching logic. A project matched by another version is re-matched in
/// full once (cause `matcher`): results can change with no advisory change (a PEP 440 fix, a new
/// ecosystem). It follows the mlvet release, so every release re-matches once.
pub const MATCHER_VERSION: &str = concat!("mlvet-osv/", env!("CARGO_PKG_VERSION"));

/// Failures of the monitor's inputs.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("advisory lookup failed: {0}")]
    Advisories(#[from] mlvet_osv::OsvError),
    #[error("inventory index failed: {0}")]
    Index(String),
}
