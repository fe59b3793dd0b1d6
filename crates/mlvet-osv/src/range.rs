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

/// A range's events, parsed, sorted and compiled for evaluation in logarithmic time.
#[derive(Debug, Clone)]
pub(crate) struct Timeline<V> {
    /// Events in evaluation order: by version, equal versions in record order (stable sort).
    events: Vec<(Kind, Point<V>)>,
    /// One step per distinct event position, ascending: the schema's algorithm folded over the
    /// events, so that a lookup is a binary search instead of a pass over every event.
    steps: Vec<Step<V>>,
    /// The highest limit (`None` without limits): "before some limit" is "below the highest".
    highest_limit: Option<Point<V>>,
}

/// What the schema's `IncludedInRanges` loop concludes for versions at or just above one event
/// position, given every event up to it.
#[derive(Debug, Clone)]
struct Step<V> {
    point: Point<V>,
    /// For a version equal to `point`: events at `point` count except `last_affected` (which
    /// needs `v > point`).
    at: bool,
    /// For a version above `point` (and below the next step): every event at `point` counts.
    above: bool,
}

impl<V: Ord + Clone> Timeline<V> {
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
        Some(Self::from_events(events, limits))
    }

    /// The clones are per distinct position, made once per range.
    pub(crate) fn from_events(mut events: Vec<(Kind, Point<V>)>, limits: Vec<Point<V>>) -> Self {
        events.sort_by(|a, b| a.1.cmp(&b.1));
        let steps = compile_steps(&events);
        let highest_limit = limits.into_iter().max();
        Timeline {
            events,
            steps,
            highest_limit,
        }
    }
}

/// Folds the sorted events into one [`Step`] per distinct position. A version `v` sees every
/// event below it and, of the events at its own position, all but `last_affected`; the loop's
/// result is the kind of the last event it sees (not vulnerable when it sees none). Events at
/// `limit: "*"`-style infinity are never seen and leave no step.
fn compile_steps<V: Ord + Clone>(events: &[(Kind, Point<V>)]) -> Vec<Step<V>> {
    let mut steps: Vec<Step<V>> = Vec::new();
    let mut state = false;
    let mut index = 0;
    while let Some((_, point)) = events.get(index) {
        let block_end = events
            .iter()
            .skip(index)
            .position(|(_, p)| p.cmp(point) != Ordering::Equal)
            .map_or(events.len(), |offset| index + offset);
        let block = events.get(index..block_end).unwrap_or_default();
        if !matches!(point, Point::Max) {
            let at = block
                .iter()
                .rev()
                .find(|(kind, _)| *kind != Kind::LastAffected)
                .map_or(state, |(kind, _)| *kind == Kind::Introduced);
            let above = block
                .last()
                .map_or(state, |(kind, _)| *kind == Kind::Introduced);
            steps.push(Step {
                point: point.clone(),
                at,
                above,
            });
            state = above;
        }
        index = block_end;
    }
    steps
}

impl<V: Ord> Timeline<V> {
    /// The schema's `BeforeLimits` and `IncludedInRanges` for one range, in O(log events).
    pub(crate) fn contains(&self, v: &V) -> bool {
        let before_limits = self
            .highest_limit
            .as_ref()
            .is_none_or(|limit| point_cmp_version(limit, v) == Ordering::Greater);
        before_limits && evaluate(&self.steps, v)
    }

    /// This range's verdict as steps, its limits folded in: from the highest limit on, nothing
    /// is affected.
    fn limited_steps(&self) -> Vec<(&Point<V>, bool, bool)> {
        let mut steps: Vec<(&Point<V>, bool, bool)> = self
            .steps
            .iter()
            .filter(|step| {
                self.highest_limit
                    .as_ref()
                    .is_none_or(|limit| step.point.cmp(limit) == Ordering::Less)
            })
            .map(|step| (&step.point, step.at, step.above))
            .collect();
        if let Some(limit) = self
            .highest_limit
            .as_ref()
            .filter(|l| !matches!(l, Point::Max))
        {
            steps.push((limit, false, false));
        }
        steps
    }
}

/// The verdict of a step function at `v`: the last step at or below `v` decides.
fn evaluate<V: Ord>(steps: &[Step<V>], v: &V) -> bool {
    let seen = steps.partition_point(|step| point_cmp_version(&step.point, v) != Ordering::Greater);
    match seen.checked_sub(1).and_then(|i| steps.get(i)) {
        None => false,
        Some(step) if point_cmp_version(&step.point, v) == Ordering::Equal => step.at,
        Some(step) => step.above,
    }
}

/// Whether any of many ranges (and listed versions) affects a version, as one step function:
/// a lookup is one binary search however many ranges a record has.
#[derive(Debug, Clone)]
pub(crate) struct AnyOf<V> {
    steps: Vec<Step<V>>,
}

impl<V: Ord + Clone> AnyOf<V> {
    /// The union of `timelines` and the exact versions `listed`, by one sweep over every step of
    /// every range in version order, counting the ranges that hold at and just above each point.
    pub(crate) fn new(timelines: &[Timeline<V>], listed: &[V]) -> Self {
        let listed_points: Vec<Point<V>> = listed.iter().cloned().map(Point::At).collect();
        // (position, owner, verdict at the position, verdict just above it)
        let mut changes: Vec<(&Point<V>, usize, bool, bool)> = Vec::new();
        for (owner, timeline) in timelines.iter().enumerate() {
            changes.extend(
                timeline
                    .limited_steps()
                    .into_iter()
                    .map(|(point, at, above)| (point, owner, at, above)),
            );
        }
        // A listed version is a range of its own, true at that version only.
        changes.extend(
            listed_points
                .iter()
                .enumerate()
                .map(|(i, point)| (point, timelines.len() + i, true, false)),
        );
        changes.sort_by(|a, b| a.0.cmp(b.0));
        let mut holding_above = vec![false; timelines.len() + listed_points.len()];
        let mut count_above = 0usize;
        let mut steps: Vec<Step<V>> = Vec::new();
        let mut index = 0;
        while let Some((point, ..)) = changes.get(index) {
            let block_end = changes
                .iter()
                .skip(index)
                .position(|(p, ..)| p.cmp(point) != Ordering::Equal)
                .map_or(changes.len(), |offset| index + offset);
            let block = changes.get(index..block_end).unwrap_or_default();
            let mut count_at = count_above;
            for (_, owner, at, above) in block {
                let Some(held) = holding_above.get_mut(*owner) else {
                    continue;
                };
                // Ranges stepping here replace their verdict from the previous step.
                if *held {
                    count_at -= 1;
                    count_above -= 1;
                }
                count_at += usize::from(*at);
                count_above += usize::from(*above);
                *held = *above;
            }
            steps.push(Step {
                point: (*point).clone(),
                at: count_at > 0,
                above: count_above > 0,
            });
            index = block_end;
        }
        AnyOf { steps }
    }

    pub(crate) fn contains(&self, v: &V) -> bool {
        evaluate(&self.steps, v)
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
    ///
    /// Every C is upward closed (`[p, ∞)`, `(p+local, ∞)`, everything or nothing), so the union
    /// of the later ones is one interval, kept as a running suffix union: linear, not quadratic,
    /// in the number of events; the pieces are then merged pairwise.
    pub(crate) fn affected_set(&self) -> VersionSet {
        let mut later = VersionSet::empty();
        let mut pieces = Vec::new();
        for (kind, point) in self.events.iter().rev() {
            let own = condition_set(*kind, point);
            if *kind == Kind::Introduced {
                pieces.push(own.intersection(&later.complement()));
            }
            later = later.union(&own);
        }
        union_all(pieces).intersection(&self.limit_set())
    }

    fn limit_set(&self) -> VersionSet {
        match &self.highest_limit {
            None => VersionSet::full(),
            Some(Point::Min) => VersionSet::empty(),
            Some(Point::At(v)) => VersionSet::below(v),
            Some(Point::Max) => VersionSet::full(),
        }
    }
}

/// The union of many sets by pairwise merging: O(n log n) interval operations where folding one
/// set at a time into a growing union is O(n²).
pub(crate) fn union_all(mut sets: Vec<VersionSet>) -> VersionSet {
    while sets.len() > 1 {
        let mut merged = Vec::with_capacity(sets.len().div_ceil(2));
        let mut pairs = sets.into_iter();
        while let Some(first) = pairs.next() {
            merged.push(match pairs.next() {
                Some(second) => first.union(&second),
                None => first,
            });
        }
        sets = merged;
    }
    sets.pop().unwrap_or_else(VersionSet::empty)
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

    /// The schema's pseudo-code, verbatim: one pass over every event per version.
    fn contains_reference<V: Ord>(events: &[(Kind, Point<V>)], limits: &[Point<V>], v: &V) -> bool {
        if !limits.is_empty()
            && !limits
                .iter()
                .any(|limit| point_cmp_version(limit, v) == Ordering::Greater)
        {
            return false;
        }
        let mut vulnerable = false;
        for (kind, point) in events {
            let order = point_cmp_version(point, v);
            match kind {
                Kind::Introduced if order != Ordering::Greater => vulnerable = true,
                Kind::Fixed if order != Ordering::Greater => vulnerable = false,
                Kind::LastAffected if order == Ordering::Less => vulnerable = false,
                _ => {}
            }
        }
        vulnerable
    }

    /// The affected set by its definition: every introduced event's condition minus the union
    /// of all later conditions, each union recomputed from scratch.
    fn affected_set_reference(
        events: &[(Kind, Point<PyVersion>)],
        limits: &[Point<PyVersion>],
    ) -> VersionSet {
        let conditions: Vec<VersionSet> = events
            .iter()
            .map(|(kind, point)| condition_set(*kind, point))
            .collect();
        let mut affected = VersionSet::empty();
        for (i, (kind, _)) in events.iter().enumerate() {
            if *kind != Kind::Introduced {
                continue;
            }
            let later = conditions
                .iter()
                .skip(i + 1)
                .fold(VersionSet::empty(), |acc, c| acc.union(c));
            affected = affected.union(&conditions[i].intersection(&later.complement()));
        }
        let limit_set = if limits.is_empty() {
            VersionSet::full()
        } else {
            limits.iter().fold(VersionSet::empty(), |acc, limit| {
                acc.union(&match limit {
                    Point::Min => VersionSet::empty(),
                    Point::At(v) => VersionSet::below(v),
                    Point::Max => VersionSet::full(),
                })
            })
        };
        affected.intersection(&limit_set)
    }

    /// Versions that collide in interesting ways: equal under PEP 440 but spelled differently,
    /// local variants, pre/post/dev releases around the same release.
    const POOL: &[&str] = &[
        "0.9",
        "1.0",
        "1.0.0",
        "1.0+cpu",
        "1.0.post1",
        "1.0rc1",
        "1.0.dev0",
        "1.1",
        "1.1+cu121",
        "2.0",
        "2.0.0.0",
        "2.0a1",
        "3.5",
    ];

    fn pool_point() -> impl proptest::strategy::Strategy<Value = Point<PyVersion>> {
        use proptest::prelude::*;
        prop_oneof![
            1 => Just(Point::Min),
            1 => Just(Point::Max),
            8 => proptest::sample::select(POOL).prop_map(|s| Point::At(v(s))),
        ]
    }

    fn event_list() -> impl proptest::strategy::Strategy<Value = Vec<(Kind, Point<PyVersion>)>> {
        let kind =
            proptest::sample::select(vec![Kind::Introduced, Kind::Fixed, Kind::LastAffected]);
        proptest::collection::vec((kind, pool_point()), 0..24)
    }

    proptest::proptest! {
        /// The compiled timeline and the interval set agree with the schema's pseudo-code on
        /// random event lists (record order preserved for equal versions by the stable sort).
        #[test]
        fn compiled_evaluation_matches_the_reference(
            events in event_list(),
            limits in proptest::collection::vec(pool_point(), 0..3),
        ) {
            let timeline = Timeline::from_events(events.clone(), limits.clone());
            let mut sorted = events.clone();
            sorted.sort_by(|a, b| a.1.cmp(&b.1));
            let set = timeline.affected_set();
            proptest::prop_assert_eq!(&set, &affected_set_reference(&sorted, &limits));
            for probe in POOL.iter().chain(["0", "1.0+zzz", "1.0.post1+x", "99"].iter()) {
                let probe = v(probe);
                let expected = contains_reference(&sorted, &limits, &probe);
                proptest::prop_assert_eq!(timeline.contains(&probe), expected, "{}", probe);
                // The set is evaluated on public versions, as matching reduces versions to them.
                proptest::prop_assert_eq!(set.contains(&probe.public()), contains_reference(&sorted, &limits, &probe.public()));
            }
        }
    }

    proptest::proptest! {
        /// One step function for many ranges answers exactly "some range (or listed version)
        /// contains it".
        #[test]
        fn any_of_matches_every_range_checked_in_turn(
            ranges in proptest::collection::vec(
                (event_list(), proptest::collection::vec(pool_point(), 0..2)),
                0..5,
            ),
            listed in proptest::collection::vec(proptest::sample::select(POOL), 0..3),
        ) {
            let timelines: Vec<Timeline<PyVersion>> = ranges
                .into_iter()
                .map(|(events, limits)| Timeline::from_events(events, limits))
                .collect();
            let listed: Vec<PyVersion> = listed.iter().map(|s| v(s)).collect();
            let any = AnyOf::new(&timelines, &listed);
            for probe in POOL.iter().chain(["0", "1.0+zzz", "99"].iter()) {
                let probe = v(probe);
                let expected = listed.contains(&probe) || timelines.iter().any(|t| t.contains(&probe));
                proptest::prop_assert_eq!(any.contains(&probe), expected, "{}", probe);
            }
        }
    }

    #[test]
    fn evaluation_is_fast_on_huge_ranges() {
        // 20,000 events in one range, every later `introduced` reopening the range: the reference
        // is quadratic here; the compiled form answers by binary search and builds the set in
        // one pass.
        let events: Vec<(&str, String)> = (0..10_000)
            .flat_map(|i| [("i", format!("{i}.0")), ("f", format!("{i}.5"))])
            .collect();
        let borrowed: Vec<(&str, &str)> = events.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let started = std::time::Instant::now();
        let t = timeline(&borrowed);
        assert!(t.contains(&v("9999.1")));
        assert!(!t.contains(&v("9999.5")));
        assert!(t.affected_set().contains(&v("5000.2")));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
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
