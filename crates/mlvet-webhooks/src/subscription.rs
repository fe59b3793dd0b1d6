//! Which events an endpoint receives: `POST /api/v1/webhooks {"url", "events": [...],
//! "min_severity"?, "projects"?}`.

use mlvet_core::Severity;
use serde::{Deserialize, Serialize};

use crate::Deliverer;

/// The event types an endpoint may subscribe to.
pub const EVENT_TYPES: [&str; 7] = [
    "finding.created",
    "finding.updated",
    "finding.resolved",
    "finding.retracted",
    "inventory.processed",
    "inventory.failed",
    "advisories.updated",
];

/// An endpoint's subscription, as created through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub url: String,
    /// Event types; `["*"]` for all.
    pub events: Vec<String>,
    /// Finding events below this severity are not sent (other events have no severity and are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    /// Only events about these project ids (`advisories.updated`, about no project, is sent to
    /// every subscriber of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects: Option<Vec<String>>,
}

/// A subscription that cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    #[error("{0}")]
    Url(String),
    #[error("unknown event type `{0}` (known: {known})", known = EVENT_TYPES.join(", "))]
    UnknownEvent(String),
    #[error("no event types: subscribe to at least one, or `*`")]
    NoEvents,
}

impl Subscription {
    /// Checks a subscription at creation: a well-formed URL and known event types.
    pub fn validate(&self) -> Result<(), SubscriptionError> {
        Deliverer::check_url(&self.url).map_err(|e| SubscriptionError::Url(e.to_string()))?;
        if self.events.is_empty() {
            return Err(SubscriptionError::NoEvents);
        }
        for event in &self.events {
            if event != "*" && !EVENT_TYPES.contains(&event.as_str()) {
                return Err(SubscriptionError::UnknownEvent(
                    event.chars().take(100).collect(),
                ));
            }
        }
        Ok(())
    }

    /// Whether an event goes to this endpoint.
    pub fn wants(
        &self,
        event_type: &str,
        severity: Option<Severity>,
        project: Option<&str>,
    ) -> bool {
        let type_ok = self.events.iter().any(|e| e == "*" || e == event_type);
        let severity_ok = match (self.min_severity, severity) {
            (Some(min), Some(severity)) => severity >= min,
            _ => true,
        };
        let project_ok = match (&self.projects, project) {
            (Some(projects), Some(project)) => projects.iter().any(|p| p == project),
            _ => true,
        };
        type_ok && severity_ok && project_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(json: &str) -> Subscription {
        serde_json::from_str(json).expect("subscription")
    }

    #[test]
    fn filters_by_type_severity_and_project() {
        let s = subscription(
            r#"{"url": "https://hooks.example.com/x", "events": ["finding.created", "advisories.updated"],
                "min_severity": "high", "projects": ["p1"]}"#,
        );
        assert_eq!(s.validate(), Ok(()));
        assert!(s.wants("finding.created", Some(Severity::Critical), Some("p1")));
        assert!(!s.wants("finding.created", Some(Severity::Medium), Some("p1")));
        assert!(!s.wants("finding.created", Some(Severity::High), Some("p2")));
        assert!(!s.wants("finding.resolved", Some(Severity::High), Some("p1")));
        assert!(s.wants("advisories.updated", None, None));
        let all = subscription(r#"{"url": "http://h.example.com/", "events": ["*"]}"#);
        assert!(all.wants("inventory.failed", None, Some("p9")));
    }

    #[test]
    fn bad_subscriptions_are_refused() {
        let bad = |json: &str| subscription(json).validate().is_err();
        assert!(bad(r#"{"url": "ftp://h.example.com/", "events": ["*"]}"#));
        assert!(bad(r#"{"url": "not a url", "events": ["*"]}"#));
        assert!(bad(
            r#"{"url": "https://u:p@h.example.com/", "events": ["*"]}"#
        ));
        assert!(bad(r#"{"url": "https://h.example.com/", "events": []}"#));
        assert!(bad(
            r#"{"url": "https://h.example.com/", "events": ["finding.deleted"]}"#
        ));
    }
}
