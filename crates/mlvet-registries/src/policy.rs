//! The `[sources]` allow/deny policy: glob matching of repositories, hosts and indexes.

use mlvet_config::{SourceRules, Sources};
use mlvet_core::Location;

/// What kind of source a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// A Hugging Face repository `org/name`.
    HuggingFace,
    /// A host or URL data or models are fetched from (DVC remote, LFS server, MLflow server).
    Host,
    /// A Python package index URL.
    Index,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::HuggingFace => "huggingface",
            SourceKind::Host => "hosts",
            SourceKind::Index => "indexes",
        }
    }

    fn rules(self, sources: &Sources) -> &SourceRules {
        match self {
            SourceKind::HuggingFace => &sources.huggingface,
            SourceKind::Host => &sources.hosts,
            SourceKind::Index => &sources.indexes,
        }
    }
}

/// One source reference found in a project file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceRef {
    pub kind: SourceKind,
    /// As compared with the policy: `org/name`, or a URL without credentials.
    pub value: String,
    pub location: Location,
    /// What names it: `DVC remote "storage"`, `auto_map.AutoModel`, `extra-index-url`...
    pub context: String,
}

/// The policy's verdict on one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No `[sources.<kind>]` table: the reference is only inventoried.
    NoPolicy,
    Allowed,
    /// Matched a `deny` pattern.
    Denied(String),
    /// An `allow` list exists and nothing in it matched.
    NotAllowed,
}

/// Decides `reference` against `sources`.
pub fn decide(sources: &Sources, reference: &SourceRef) -> Decision {
    let rules = reference.kind.rules(sources);
    if !rules.is_set() {
        return Decision::NoPolicy;
    }
    let candidates = candidates(reference);
    if let Some(pattern) = rules
        .deny
        .iter()
        .find(|p| candidates.iter().any(|c| glob_match(p, c)))
    {
        return Decision::Denied(pattern.clone());
    }
    if rules.allow.is_empty()
        || rules
            .allow
            .iter()
            .any(|p| candidates.iter().any(|c| glob_match(p, c)))
    {
        Decision::Allowed
    } else {
        Decision::NotAllowed
    }
}

/// The strings a pattern may match: the value, and for URLs the host alone.
fn candidates(reference: &SourceRef) -> Vec<String> {
    let mut out = vec![reference.value.clone()];
    if reference.kind != SourceKind::HuggingFace
        && let Some(host) = crate::text::host_of(&reference.value)
    {
        out.push(host);
    }
    out
}

/// Case-insensitive glob where `*` matches any run of characters (including `/`) and every other
/// character matches itself. Iterative with backtracking to the last `*`: linear in practice,
/// never exponential.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hf(value: &str) -> SourceRef {
        SourceRef {
            kind: SourceKind::HuggingFace,
            value: value.into(),
            location: Location::file("x"),
            context: String::new(),
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("acme/*", "ACME/model"));
        assert!(glob_match("*", ""));
        assert!(glob_match("s3://bucket/*", "s3://bucket/a/b"));
        assert!(!glob_match("acme/*", "acme2/model"));
        assert!(glob_match("*/uncensored", "x/uncensored"));
        assert!(!glob_match("a*b", "acbd"));
    }

    #[test]
    fn deny_wins_and_allow_lists_close() {
        let mut sources = Sources::default();
        assert_eq!(decide(&sources, &hf("a/b")), Decision::NoPolicy);
        sources.huggingface.allow = vec!["acme/*".into()];
        sources.huggingface.deny = vec!["acme/bad".into()];
        assert_eq!(decide(&sources, &hf("acme/good")), Decision::Allowed);
        assert_eq!(
            decide(&sources, &hf("acme/bad")),
            Decision::Denied("acme/bad".into())
        );
        assert_eq!(decide(&sources, &hf("other/x")), Decision::NotAllowed);
    }

    proptest::proptest! {
        #[test]
        fn glob_never_panics(p in ".{0,40}", t in ".{0,80}") {
            let _ = glob_match(&p, &t);
            proptest::prop_assert!(glob_match("*", &t));
        }
    }
}
