//! The events the monitor emits, written to the outbox in the same transaction as the change
//! they describe, and delivered by `mlvet-webhooks` inside a Standard Webhooks envelope
//! (`{"type", "timestamp", "data"}`): this module builds `type` and `data`.

use mlvet_core::Severity;
use mlvet_db::{ChangeKind, Delta};
use serde::Serialize;
use serde_json::{Value, json};

use crate::lifecycle::FindingRecord;

/// Why a finding appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// An advisory was published, modified or re-published (a database generation).
    Advisory,
    /// The project's inventory changed (an upload).
    Inventory,
    /// The matcher changed (a new mlvet version re-matched everything once).
    Matcher,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Advisory => "advisory",
            Cause::Inventory => "inventory",
            Cause::Matcher => "matcher",
        }
    }
}

/// Every event type, with its public name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum EventType {
    #[serde(rename = "finding.created")]
    FindingCreated,
    #[serde(rename = "finding.updated")]
    FindingUpdated,
    #[serde(rename = "finding.resolved")]
    FindingResolved,
    #[serde(rename = "finding.retracted")]
    FindingRetracted,
    #[serde(rename = "inventory.processed")]
    InventoryProcessed,
    #[serde(rename = "inventory.failed")]
    InventoryFailed,
    #[serde(rename = "advisories.updated")]
    AdvisoriesUpdated,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::FindingCreated,
        EventType::FindingUpdated,
        EventType::FindingResolved,
        EventType::FindingRetracted,
        EventType::InventoryProcessed,
        EventType::InventoryFailed,
        EventType::AdvisoriesUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::FindingCreated => "finding.created",
            EventType::FindingUpdated => "finding.updated",
            EventType::FindingResolved => "finding.resolved",
            EventType::FindingRetracted => "finding.retracted",
            EventType::InventoryProcessed => "inventory.processed",
            EventType::InventoryFailed => "inventory.failed",
            EventType::AdvisoriesUpdated => "advisories.updated",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// The project an event is about, as webhook bodies name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ProjectRef {
    pub id: String,
    pub name: String,
}

/// One event for the outbox: its type, the project it concerns (none for
/// `advisories.updated`), the severity subscriptions filter on, and the `data` of its body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub event_type: EventType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectRef>,
    /// The finding's severity, for a subscription's `min_severity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub data: Value,
}

/// The finding object of event bodies.
pub fn finding_json(record: &FindingRecord) -> Value {
    json!({
        "id": record.id,
        "package": {
            "ecosystem": record.package.ecosystem,
            "name": record.package.name,
            "version": record.package.version,
        },
        "advisory": {
            "id": record.matched.advisory,
            "aliases": record.matched.aliases,
            "summary": record.matched.summary,
            "fixed": record.matched.fixed,
            "cvss_score": record.matched.cvss_score,
            "modified": record.matched.modified,
        },
        "rule": record.matched.rule,
        "severity": record.matched.severity,
        "state": record.state,
        "triage": record.triage,
        "first_generation": record.first_generation,
        "last_changed_generation": record.last_changed_generation,
    })
}

impl Event {
    /// A finding event: `data` is `{"project", "finding", ...extra}`.
    pub(crate) fn finding(
        event_type: EventType,
        project: &ProjectRef,
        record: &FindingRecord,
        extra: Vec<(&str, Value)>,
    ) -> Event {
        let mut data = json!({
            "project": project,
            "finding": finding_json(record),
        });
        for (name, value) in extra {
            data[name] = value;
        }
        Event {
            event_type,
            project: Some(project.clone()),
            severity: Some(record.matched.severity),
            data,
        }
    }

    /// `inventory.processed`: an upload was parsed and matched.
    pub fn inventory_processed(
        project: &ProjectRef,
        packages: usize,
        open_findings: usize,
        generation: u64,
    ) -> Event {
        Event {
            event_type: EventType::InventoryProcessed,
            project: Some(project.clone()),
            severity: None,
            data: json!({
                "project": project,
                "inventory": {"packages": packages, "open_findings": open_findings},
                "generation": generation,
            }),
        }
    }

    /// `inventory.failed`: an upload could not be processed.
    pub fn inventory_failed(project: &ProjectRef, error: &str) -> Event {
        Event {
            event_type: EventType::InventoryFailed,
            project: Some(project.clone()),
            severity: None,
            data: json!({"project": project, "error": error}),
        }
    }

    /// `advisories.updated`: one summary per generation (or per range of generations processed
    /// at once), listing at most `MAX_LISTED_ADVISORIES` changed ids.
    pub fn advisories_updated(delta: &Delta, projects_affected: usize) -> Event {
        let listed: Vec<Value> = delta
            .changes
            .iter()
            .take(MAX_LISTED_ADVISORIES)
            .map(|c| json!({"id": c.id, "change": c.change}))
            .collect();
        Event {
            event_type: EventType::AdvisoriesUpdated,
            project: None,
            severity: None,
            data: json!({
                "from_generation": delta.from,
                "generation": delta.to,
                "added": delta.count(ChangeKind::Added),
                "modified": delta.count(ChangeKind::Modified),
                "withdrawn": delta.count(ChangeKind::Withdrawn),
                "removed": delta.count(ChangeKind::Removed),
                "packages_touched": delta.touched_packages().len(),
                "projects_affected": projects_affected,
                "advisories": listed,
                "advisories_truncated": delta.changes.len() > MAX_LISTED_ADVISORIES,
            }),
        }
    }
}

/// Changed ids listed in one `advisories.updated` body (a full first sync changes thousands;
/// Standard Webhooks advises small payloads).
pub const MAX_LISTED_ADVISORIES: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use mlvet_db::{AdvisoryChange, PackageKey, RecordSide, RecordState};

    #[test]
    fn event_types_round_trip_and_serialise_by_their_public_names() {
        for event_type in EventType::ALL {
            assert_eq!(EventType::parse(event_type.as_str()), Some(event_type));
            assert_eq!(
                serde_json::to_value(event_type).expect("json"),
                event_type.as_str()
            );
        }
        assert_eq!(EventType::parse("finding.deleted"), None);
    }

    #[test]
    fn summaries_and_inventory_events() {
        let side = |state, packages: Vec<PackageKey>| RecordSide {
            state,
            modified: None,
            packages,
        };
        let delta = Delta {
            from: 4,
            to: 5,
            changes: (0..150)
                .map(|i| AdvisoryChange {
                    id: format!("X-{i:03}"),
                    change: ChangeKind::Added,
                    old: side(RecordState::Absent, vec![]),
                    new: side(RecordState::Current, vec![PackageKey::new("PyPI", "torch")]),
                })
                .collect(),
        };
        let event = Event::advisories_updated(&delta, 7);
        assert_eq!(event.event_type, EventType::AdvisoriesUpdated);
        assert_eq!(event.project, None);
        assert_eq!(event.data["generation"], 5);
        assert_eq!(event.data["added"], 150);
        assert_eq!(event.data["packages_touched"], 1);
        assert_eq!(event.data["projects_affected"], 7);
        assert_eq!(
            event.data["advisories"].as_array().map(Vec::len),
            Some(MAX_LISTED_ADVISORIES)
        );
        assert_eq!(event.data["advisories_truncated"], true);

        let project = ProjectRef {
            id: "p1".into(),
            name: "demo".into(),
        };
        let processed = Event::inventory_processed(&project, 300, 4, 5);
        assert_eq!(processed.data["inventory"]["packages"], 300);
        assert_eq!(processed.data["project"]["id"], "p1");
        let failed = Event::inventory_failed(&project, "not a lockfile");
        assert_eq!(failed.event_type.as_str(), "inventory.failed");
        assert_eq!(failed.data["error"], "not a lockfile");
    }
}
