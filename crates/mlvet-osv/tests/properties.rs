//! Property tests: PEP 440 ordering laws, range evaluation totality and its two implementations
//! agreeing, and "never panics" for every parser of untrusted input.

use std::cmp::Ordering;

use mlvet_core::SourceRef;
use mlvet_inventory::{Dependency, Origin};
use mlvet_osv::pep440::{PySpecifiers, PyVersion};
use mlvet_osv::{
    Affected, Event, MatchOptions, MavenVersion, MemorySource, Package, Range, affects, cvss,
    match_dependencies, parse_json, parse_yaml,
};
use proptest::prelude::*;

/// PEP 440 version strings in all their spellings (normal and non-normal forms).
fn version_string() -> impl Strategy<Value = String> {
    let epoch = prop_oneof![3 => Just(String::new()), 1 => (0u8..3).prop_map(|e| format!("{e}!"))];
    let release = prop::collection::vec(0u16..25, 1..5).prop_map(|parts| {
        parts
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(".")
    });
    let pre = prop_oneof![
        3 => Just(String::new()),
        1 => (prop::sample::select(vec!["a", "b", "rc", "alpha", "c", "-RC", ".beta"]), 0u8..4).prop_map(|(k, n)| format!("{k}{n}")),
    ];
    let post = prop_oneof![3 => Just(String::new()), 1 => (prop::sample::select(vec![".post", "-", "post", ".rev"]), 0u8..3).prop_map(|(k, n)| format!("{k}{n}"))];
    let dev = prop_oneof![3 => Just(String::new()), 1 => (0u8..3).prop_map(|n| format!(".dev{n}"))];
    let local = prop_oneof![4 => Just(String::new()), 1 => prop::sample::select(vec!["+cu121", "+cpu", "+abc.5", "+1.2", "+ubuntu-1"]).prop_map(str::to_string)];
    (epoch, release, pre, post, dev, local)
        .prop_map(|(e, r, a, p, d, l)| format!("{e}{r}{a}{p}{d}{l}"))
}

fn version() -> impl Strategy<Value = PyVersion> {
    version_string().prop_filter_map("valid PEP 440", |s| PyVersion::parse(&s))
}

fn event() -> impl Strategy<Value = Event> {
    let value = prop_oneof![
        3 => version_string(),
        1 => Just("0".to_string()),
        1 => Just("*".to_string()),
        1 => "[ -~]{0,12}",
    ];
    (0u8..4, value).prop_map(|(kind, v)| {
        let mut e = Event::default();
        match kind {
            0 => e.introduced = Some(v),
            1 => e.fixed = Some(v),
            2 => e.last_affected = Some(v),
            _ => e.limit = Some(v),
        }
        e
    })
}

fn range() -> impl Strategy<Value = Range> {
    (
        prop::sample::select(vec!["ECOSYSTEM", "SEMVER", "GIT", "weird"]),
        prop::collection::vec(event(), 0..7),
    )
        .prop_map(|(kind, events)| Range {
            kind: kind.to_string(),
            events,
            ..Range::default()
        })
}

const MAVEN_VERSION: &str = "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}([.-](alpha|beta|milestone|rc|cr|snapshot|sp|ga|final|release|[a-z]{1,4})[.-]?[0-9]{0,2})?";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn pep440_ordering_is_antisymmetric_and_consistent_with_equality(a in version(), b in version()) {
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
    }

    #[test]
    fn pep440_ordering_is_transitive(mut vs in prop::collection::vec(version(), 3)) {
        vs.sort();
        if let [a, b, c] = vs.as_slice() {
            prop_assert!(a <= b && b <= c && a <= c);
        }
    }

    #[test]
    fn pep440_display_round_trips(v in version()) {
        let shown = v.to_string();
        let again = PyVersion::parse(&shown);
        prop_assert_eq!(again.as_ref(), Some(&v));
        prop_assert_eq!(again.map(|x| x.to_string()), Some(shown));
        prop_assert!(v.public() <= v);
    }

    #[test]
    fn range_evaluation_never_panics_and_both_implementations_agree(r in range(), fallback in version(), pick in any::<prop::sample::Index>(), on_boundary in any::<bool>()) {
        // Half the time evaluate exactly at one of the range's own versions: boundaries are where
        // `>=` versus `>` matters.
        let boundary = r.events.get(pick.index(r.events.len().max(1))).and_then(|e| {
            [&e.introduced, &e.fixed, &e.last_affected, &e.limit].into_iter().flatten().find_map(|s| PyVersion::parse(s))
        });
        let v = if on_boundary { boundary.unwrap_or(fallback) } else { fallback };
        if let Some((walk, set)) = mlvet_osv::internals::evaluate_range_both_ways(&r, &v) {
            prop_assert_eq!(walk, set, "range {:?} at {}", r, v);
        }
    }

    #[test]
    fn affects_never_panics_on_arbitrary_records(ranges in prop::collection::vec(range(), 0..3), versions in prop::collection::vec("[ -~]{0,10}", 0..4), v in "[ -~]{0,12}", eco in prop::sample::select(vec!["PyPI", "npm", "Go", "Maven", "conda", ""])) {
        let advisory = mlvet_osv::Advisory {
            id: "X-1".into(),
            affected: vec![Affected { package: Package { ecosystem: eco.to_string(), name: "p".into(), purl: None }, ranges, versions, ..Affected::default() }],
            ..mlvet_osv::Advisory::default()
        };
        let _ = affects(&advisory, eco, "p", &v);
        let dep = Dependency {
            ecosystem: eco.to_string(), name: "p".into(), normalized_name: "p".into(), version: Some(v.clone()).filter(|s| !s.is_empty()),
            requirement: Some(v), markers: None, extras: vec![], source: SourceRef::default(), origin: Origin::Requirements, direct_url: None, purl: None,
        };
        let result = match_dependencies(&[dep], &MemorySource::new(vec![advisory]), &MatchOptions::default());
        prop_assert!(!result.findings.is_empty() || result.matched == 1);
    }

    #[test]
    fn record_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), text in "\\PC{0,256}") {
        let _ = parse_json(&bytes);
        let _ = parse_yaml(&text);
        let _ = parse_yaml(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn version_and_specifier_parsers_never_panic(text in "\\PC{0,64}", ascii in "[0-9a-z.!+*<>=~,_ -]{0,40}") {
        let _ = PyVersion::parse(&text);
        let _ = PyVersion::parse(&ascii);
        if let Some(spec) = PySpecifiers::parse(&ascii) {
            let _ = spec.to_ranges().to_string();
        }
        let _ = PySpecifiers::parse(&text);
        let _ = MavenVersion::parse(&ascii);
        let _ = cvss::base_score(&text);
        let _ = cvss::base_score(&ascii);
    }

    #[test]
    fn cvss_v31_scores_are_in_range_and_rated_consistently(
        av in prop::sample::select(vec!["N", "A", "L", "P"]), ac in prop::sample::select(vec!["L", "H"]),
        pr in prop::sample::select(vec!["N", "L", "H"]), ui in prop::sample::select(vec!["N", "R"]),
        s in prop::sample::select(vec!["U", "C"]), c in prop::sample::select(vec!["N", "L", "H"]),
        i in prop::sample::select(vec!["N", "L", "H"]), a in prop::sample::select(vec!["N", "L", "H"]),
    ) {
        let vector = format!("CVSS:3.1/AV:{av}/AC:{ac}/PR:{pr}/UI:{ui}/S:{s}/C:{c}/I:{i}/A:{a}");
        let (score, severity) = cvss::base_score(&vector).ok_or_else(|| TestCaseError::fail(vector.clone()))?;
        prop_assert!((0.0..=10.0).contains(&score));
        prop_assert_eq!(severity, cvss::rating(score));
        prop_assert_eq!(score == 0.0, c == "N" && i == "N" && a == "N");
    }

    /// Maven's ComparableVersion itself is not transitive on degenerate strings (`-.a` == `-` < `a`
    /// < `-.a`, in Java too: a list compared with nothing looks at its first item only), so the law
    /// is checked on well-formed versions: numeric segments and an optional qualifier.
    #[test]
    fn maven_ordering_is_a_total_order(a in MAVEN_VERSION, b in MAVEN_VERSION, c in MAVEN_VERSION, junk in "[0-9a-z.-]{1,12}") {
        let _ = MavenVersion::parse(&junk);
        if let (Some(x), Some(y), Some(z)) = (MavenVersion::parse(&a), MavenVersion::parse(&b), MavenVersion::parse(&c)) {
            prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            if x <= y && y <= z {
                prop_assert!(x <= z, "{} <= {} <= {}", a, b, c);
            }
        }
    }
}
