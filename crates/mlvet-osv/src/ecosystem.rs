//! Ecosystems mlvet can compare versions in, their names and their name normalisation.

use std::cmp::Ordering;

use crate::pep440::PyVersion;

/// An ecosystem with a version ordering mlvet implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    PyPI,
    Npm,
    Go,
    Maven,
}

impl Ecosystem {
    /// Recognises an OSV ecosystem string or a purl type. Exact OSV names only: `Root:PyPI`,
    /// `Debian:12` and other scoped ecosystems are different package universes and never map to
    /// a language ecosystem. The one scoped form accepted is `Maven:<repository-url>`, which names
    /// the same `groupId:artifactId` coordinates served from another repository.
    pub fn parse(name: &str) -> Option<Ecosystem> {
        let name = name.trim();
        let eq = |s: &str| name.eq_ignore_ascii_case(s);
        if eq("PyPI") {
            Some(Ecosystem::PyPI)
        } else if eq("npm") {
            Some(Ecosystem::Npm)
        } else if eq("Go") || eq("golang") {
            Some(Ecosystem::Go)
        } else if eq("Maven")
            || name
                .get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case("Maven:"))
        {
            Some(Ecosystem::Maven)
        } else {
            None
        }
    }

    /// The OSV ecosystem name.
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "Go",
            Ecosystem::Maven => "Maven",
        }
    }

    /// The name of the version scheme, for messages.
    pub fn scheme(self) -> &'static str {
        match self {
            Ecosystem::PyPI => "PEP 440",
            Ecosystem::Npm => "SemVer",
            Ecosystem::Go => "Go module (SemVer)",
            Ecosystem::Maven => "Maven",
        }
    }

    /// Whether ranges of this OSV `type` are ordered by this ecosystem's scheme. `GIT` ranges are
    /// commit graphs, never versions, so they never take part in version matching.
    pub fn evaluates_range_type(self, kind: &str) -> bool {
        kind.eq_ignore_ascii_case("ECOSYSTEM") || kind.eq_ignore_ascii_case("SEMVER")
    }
}

/// The key an ecosystem string is indexed under: the canonical OSV name for ecosystems mlvet
/// compares, the string itself (trimmed) otherwise.
pub fn ecosystem_key(name: &str) -> String {
    match Ecosystem::parse(name) {
        Some(e) => e.osv_name().to_string(),
        None => name.trim().to_string(),
    }
}

/// Normalises a package name the way its ecosystem compares names: PEP 503 for PyPI (lowercase,
/// runs of `-`, `_`, `.` become one `-`); npm, Go module paths and Maven coordinates are case-sensitive
/// and only trimmed.
pub fn normalize_package_name(ecosystem: &str, name: &str) -> String {
    let name = name.trim();
    match Ecosystem::parse(ecosystem) {
        Some(Ecosystem::PyPI) => pep503(name),
        _ => name.to_string(),
    }
}

fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                out.push('-');
            }
            in_separator_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    out
}

/// A SemVer version compared by precedence: build metadata (`+incompatible`, `+build.5`) is
/// ignored, as SemVer §10 says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemKey(semver::Version);

impl SemKey {
    pub fn parse(ecosystem: Ecosystem, text: &str) -> Option<SemKey> {
        let text = text.trim();
        if text.len() > 256 {
            return None;
        }
        let text = match ecosystem {
            // Go module versions always carry `v`; npm tolerates `v` and `=` prefixes.
            Ecosystem::Go => text.strip_prefix('v').unwrap_or(text),
            Ecosystem::Npm => text.trim_start_matches('=').trim_start_matches('v'),
            _ => text,
        };
        let mut v = semver::Version::parse(text).ok()?;
        v.build = semver::BuildMetadata::EMPTY;
        Some(SemKey(v))
    }
}

impl Ord for SemKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for SemKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Parses a PyPI version for matching: the public version (see the local-version policy in
/// `pep440.rs`).
pub fn py_for_matching(text: &str) -> Option<PyVersion> {
    PyVersion::parse(text).map(|v| v.public())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_normalisation() {
        assert_eq!(
            normalize_package_name("PyPI", "Products.PluggableAuthService"),
            "products-pluggableauthservice"
        );
        assert_eq!(
            normalize_package_name("PyPI", "Foo__Bar-.baz"),
            "foo-bar-baz"
        );
        assert_eq!(normalize_package_name("pypi", " torch "), "torch");
        assert_eq!(normalize_package_name("npm", "@Scope/Pkg"), "@Scope/Pkg");
    }

    #[test]
    fn scoped_ecosystems_are_not_their_language() {
        assert_eq!(Ecosystem::parse("PyPI"), Some(Ecosystem::PyPI));
        assert_eq!(Ecosystem::parse("Root:PyPI"), None);
        assert_eq!(Ecosystem::parse("Debian:12"), None);
        assert_eq!(Ecosystem::parse("PyPI:extra"), None);
        assert_eq!(
            Ecosystem::parse("Maven:https://repo.example.invalid"),
            Some(Ecosystem::Maven)
        );
        // Rust crates are not compared yet: they are reported as not matched.
        assert_eq!(Ecosystem::parse("cargo"), None);
    }

    #[test]
    fn semver_keys_ignore_build_metadata() {
        let a = SemKey::parse(Ecosystem::Go, "v2.0.0+incompatible").expect("go");
        let b = SemKey::parse(Ecosystem::Go, "2.0.0").expect("go");
        assert_eq!(a.cmp(&b), Ordering::Equal);
        let pseudo =
            SemKey::parse(Ecosystem::Go, "v0.0.0-20191109021931-daa7c04131f5").expect("pseudo");
        assert!(pseudo < SemKey::parse(Ecosystem::Go, "v0.0.1").expect("go"));
        assert!(
            SemKey::parse(Ecosystem::Npm, "1.0.0-alpha").expect("npm")
                < SemKey::parse(Ecosystem::Npm, "v1.0.0").expect("npm")
        );
    }
}
