//! OSV range evaluation, exactly as the schema's `IsVulnerable` pseudo-code, for any ordered
//! version type.
//!
//! Policies for imperfect records (mirrored by the Python reference in
//! `scripts/gen_pep440_vectors.py`, so the differential test checks them too):
//! - `introduced: "0"` sorts before every version; a `limit` containing `*` is infinity.
//! - Events are sorted by version with a stable sort: equal versions keep record order.
//! - An `introduced` version that does not parse is skipped with a warning: the range can only
//!   shrink. A `fixed`, `last_affected` or `limit` version that does not parse drops the whole
//!   range with a warning: skipping it would extend the range to every later version, and mlvet
//!   never turns bad data into "everything is affected".
//! - An event object carrying several fields (invalid per schema) contributes each field, in the
//!   order introduced, fixed, last_affected, limit.

use std::cmp::Ordering;

use crate::model::Range;
use crate::pep440::{PyVersion, VersionSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

/// An event's position: before everything (`introduced: "0"`), a version, or infinity (`limit: "*"`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Point<V> {
    Min,
    At(V),
    Max,
}

/// A range's events, parsed and sorted, ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct Timeline<V> {
    pub(crate) events: Vec<(Kind, Point<V>)>,
    pub(crate) limits: Vec<Point<V>>,
}

impl<V: Ord> Timeline<V> {
    /// Parses a range's events with `parse`; `None` when the range cannot be evaluated safely.
    pub(crate) fn parse(
        range: &Range,
        parse: impl Fn(&str) -> Option<V>,
        warnings: &mut Vec<String>,
    ) -> Option<Self> {
        let mut events = Vec::new();
        let mut limits = Vec::new();
        for event in &range.events {
            let fields = [
                (Kind::Introduced, &event.introduced),
                (Kind::Fixed, &event.fixed),
                (Kind::LastAffected, &event.last_affected),
                (Kind::Limit, &event.limit),
            ];
            for (kind, value) in fields {
                let Some(text) = value.as_deref() else {
                    continue;
                };
                let point = if kind == Kind::Introduced && text.trim() == "0" {
                    Some(Point::Min)
                } else if kind == Kind::Limit && text.contains('*') {
                    Some(Point::Max)
                } else {
                    parse(text).map(Point::At)
                };
                match (point, kind) {
                    (Some(p), Kind::Limit) => limits.push(p),
                    (Some(p), _) => events.push((kind, p)),
                    (None, Kind::Introduced) => {
                        warnings.push(format!(
                            "skipped unparseable introduced version `{}`",
                            truncate(text)
                        ));
                    }
                    (None, _) => {
                        warnings.push(format!(
                            "ignored a {} range: its {} version `{}` does not parse",
                            range.kind,
                            kind_name(kind),
                            truncate(text)
                        ));
                        return None;
                    }
                }
            }
        }
        events.sort_by(|a, b| a.1.cmp(&b.1));
        Some(Timeline { events, limits })
    }

    /// The schema's `BeforeLimits` and `IncludedInRanges` for one range.
    pub(crate) fn contains(&self, v: &V) -> bool {
        if !self.limits.is_empty()
            && !self
                .limits
                .iter()
                .any(|limit| point_cmp_version(limit, v) == Ordering::Greater)
        {
            return false;
        }
        let mut vulnerable = false;
        for (kind, point) in &self.events {
            let order = point_cmp_version(point, v);
            match kind {
                // v >= point  <=>  point <= v
                Kind::Introduced if order != Ordering::Greater => vulnerable = true,
                Kind::Fixed if order != Ordering::Greater => vulnerable = false,
                // v > point
                Kind::LastAffected if order == Ordering::Less => vulnerable = false,
                _ => {}
            }
        }
        vulnerable
    }
}

fn point_cmp_version<V: Ord>(point: &Point<V>, v: &V) -> Ordering {
    match point {
        Point::Min => Ordering::Less,
        Point::Max => Ordering::Greater,
        Point::At(p) => p.cmp(v),
    }
}

impl Timeline<PyVersion> {
    /// The set of versions this range affects, as intervals: a version is affected when the last
    /// event whose condition holds for it is an `introduced`, so the set is the union over
    /// `introduced` events i of C(i) minus every later C(j), where C is the set of versions an
    /// event's condition holds for. Agrees with [`Timeline::contains`] on every version (a
    /// property test checks it).
    pub(crate) fn affected_set(&self) -> VersionSet {
        let conditions: Vec<VersionSet> = self
            .events
            .iter()
            .map(|(kind, point)| condition_set(*kind, point))
            .collect();
        let mut affected = VersionSet::empty();
        for (i, (kind, _)) in self.events.iter().enumerate() {
            if *kind != Kind::Introduced {
                continue;
            }
            let Some(own) = conditions.get(i) else {
                continue;
            };
            let later = conditions
                .iter()
                .skip(i + 1)
                .fold(VersionSet::empty(), |acc, c| acc.union(c));
            affected = affected.union(&own.intersection(&later.complement()));
        }
        affected.intersection(&self.limit_set())
    }

    fn limit_set(&self) -> VersionSet {
        if self.limits.is_empty() {
            return VersionSet::full();
        }
        self.limits.iter().fold(VersionSet::empty(), |acc, limit| {
            acc.union(&match limit {
                Point::Min => VersionSet::empty(),
                Point::At(v) => VersionSet::below(v),
                Point::Max => VersionSet::full(),
            })
        })
    }
}

fn condition_set(kind: Kind, point: &Point<PyVersion>) -> VersionSet {
    match (kind, point) {
        (_, Point::Min) => VersionSet::full(),
        (_, Point::Max) => VersionSet::empty(),
        (Kind::LastAffected, Point::At(v)) => VersionSet::above_public(v),
        (_, Point::At(v)) => VersionSet::at_least(v),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Introduced => "introduced",
        Kind::Fixed => "fixed",
        Kind::LastAffected => "last_affected",
        Kind::Limit => "limit",
    }
}

pub(crate) fn truncate(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Event;

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event::default();
        let s = Some(v.to_string());
        match kind {
            "i" => e.introduced = s,
            "f" => e.fixed = s,
            "l" => e.last_affected = s,
            _ => e.limit = s,
        }
        e
    }

    fn timeline(events: &[(&str, &str)]) -> Timeline<PyVersion> {
        let range = Range {
            kind: "ECOSYSTEM".into(),
            events: events.iter().map(|(k, v)| ev(k, v)).collect(),
            ..Range::default()
        };
        Timeline::parse(
            &range,
            |s| PyVersion::parse(s).map(|v| v.public()),
            &mut Vec::new(),
        )
        .unwrap_or_else(|| panic!("range parses"))
    }

    fn v(s: &str) -> PyVersion {
        PyVersion::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn introduced_fixed() {
        let t = timeline(&[("i", "0"), ("f", "1.13.1")]);
        assert!(t.contains(&v("1.13.0")));
        assert!(!t.contains(&v("1.13.1")));
        assert!(t.contains(&v("0.0.1.dev0")));
    }

    #[test]
    fn last_affected_is_inclusive() {
        let t = timeline(&[("i", "1.0"), ("l", "1.4.2")]);
        assert!(t.contains(&v("1.4.2")));
        assert!(!t.contains(&v("1.4.3")));
        assert!(!t.contains(&v("0.9")));
    }

    #[test]
    fn multiple_ranges_and_unsorted_events() {
        let t = timeline(&[
            ("f", "3.2.5"),
            ("i", "3.0.0"),
            ("i", "1.0.0"),
            ("f", "1.0.2"),
        ]);
        for (ver, expected) in [
            ("0.9", false),
            ("1.0.1", true),
            ("1.0.2", false),
            ("3.1", true),
            ("3.2.5", false),
        ] {
            assert_eq!(t.contains(&v(ver)), expected, "{ver}");
            assert_eq!(t.affected_set().contains(&v(ver)), expected, "set {ver}");
        }
    }

    #[test]
    fn limits_cap_the_range() {
        let t = timeline(&[("i", "0"), ("lim", "2.0")]);
        assert!(t.contains(&v("1.9")));
        assert!(!t.contains(&v("2.0")));
        let star = timeline(&[("i", "1.0"), ("lim", "*")]);
        assert!(star.contains(&v("99")));
    }

    #[test]
    fn unparseable_fixed_drops_the_range_and_bad_introduced_is_skipped() {
        let range = Range {
            kind: "ECOSYSTEM".into(),
            events: vec![ev("i", "0"), ev("f", "not a version")],
            ..Range::default()
        };
        let mut warnings = Vec::new();
        assert!(Timeline::parse(&range, PyVersion::parse, &mut warnings).is_none());
        assert_eq!(warnings.len(), 1);
        let t = timeline(&[("i", "0.8.0-alpha2-x"), ("f", "1.0")]);
        assert!(
            !t.contains(&v("0.9")),
            "without a parseable introduced nothing is affected"
        );
    }
}
