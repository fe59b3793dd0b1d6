//! PEP 508 requirements and PEP 440 specifiers, through uv's parsers, kept "as written".
//!
//! URLs are parsed into [`RawUrl`], which keeps the text verbatim: uv's default URL type expands
//! `${VARS}` from the scanner's own environment and resolves relative paths against the file
//! system, neither of which a scanner should do.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use uv_cache_key::{CacheKey, CacheKeyHasher};
use uv_pep440::{Operator, VersionSpecifiers};
use uv_pep508::{
    MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree, Pep508Url, Requirement, VersionOrUrl,
};

use crate::{InventoryError, TargetEnv};

/// A `name @ url` URL exactly as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RawUrl(pub String);

impl fmt::Display for RawUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl CacheKey for RawUrl {
    fn cache_key(&self, state: &mut CacheKeyHasher) {
        self.0.cache_key(state);
    }
}

impl Pep508Url for RawUrl {
    type Err = std::convert::Infallible;

    fn parse_url(url: &str, _working_dir: Option<&Path>) -> Result<Self, Self::Err> {
        Ok(RawUrl(url.to_string()))
    }

    fn displayable_with_credentials(&self) -> impl fmt::Display {
        &self.0
    }
}

/// A requirement reduced to what the inventory records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ParsedRequirement {
    pub name: String,
    pub extras: Vec<String>,
    /// Exact pin (`==X` without wildcard, `===X`), or the version of a wheel/sdist URL.
    pub version: Option<String>,
    /// Specifier set as written when not an exact pin; `""` when there is none; `None` for URLs.
    pub requirement: Option<String>,
    pub markers: Option<String>,
    pub direct_url: Option<String>,
}

/// Parses one PEP 508 requirement (`name[extras] specifiers ; markers` or `name @ url ; markers`).
pub(crate) fn parse_requirement(text: &str) -> Result<ParsedRequirement, String> {
    let text = text.trim();
    let parsed = match Requirement::<RawUrl>::from_str(text) {
        Ok(parsed) => parsed,
        Err(err) => return arbitrary_equality(text).ok_or_else(|| first_line(&err.to_string())),
    };
    let name = written_name(text).unwrap_or_else(|| parsed.name.to_string());
    let extras = parsed.extras.iter().map(ToString::to_string).collect();
    let markers = if parsed.marker.is_true() {
        None
    } else {
        written_markers(text)
    };
    let mut out = ParsedRequirement {
        name,
        extras,
        markers,
        ..ParsedRequirement::default()
    };
    match parsed.version_or_url {
        None => out.requirement = Some(String::new()),
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
            let written = written_specifiers(text).unwrap_or_else(|| specifiers.to_string());
            match exact_pin(&specifiers, &written) {
                Some(version) => out.version = Some(version),
                None => out.requirement = Some(written),
            }
        }
        Some(VersionOrUrl::Url(url)) => {
            let url = url.0.trim().to_string();
            if let Some(artifact) = artifact_from_url(&url)
                && crate::names::normalize_pypi_name(&artifact.name)
                    == crate::names::normalize_pypi_name(&out.name)
            {
                out.version = artifact.version;
            }
            out.direct_url = Some(url);
        }
    }
    Ok(out)
}

/// PEP 440 arbitrary equality (`name===1.0-foo`) pins a string that need not be a valid version;
/// uv's parser rejects such strings, so the pin is cut out and the rest parsed on its own.
fn arbitrary_equality(text: &str) -> Option<ParsedRequirement> {
    if text.matches("===").count() != 1 {
        return None;
    }
    let start = text.find("===")?;
    let after = text.get(start + 3..)?;
    let value_len = after
        .trim_start()
        .find(|c: char| c.is_whitespace() || c == ';')
        .unwrap_or(after.trim_start().len());
    let leading = after.len() - after.trim_start().len();
    let value = after.get(leading..leading + value_len)?.trim();
    let rest = after.get(leading + value_len..)?;
    if value.is_empty() || value.contains(',') {
        return None;
    }
    let without_pin = format!("{} {}", text.get(..start)?, rest);
    let mut parsed = parse_requirement(&without_pin).ok()?;
    if parsed.direct_url.is_some() {
        return None;
    }
    parsed.version = Some(value.to_string());
    parsed.requirement = None;
    Some(parsed)
}

/// The exact version an already-parsed specifier set pins, as written.
pub(crate) fn exact_pin(specifiers: &VersionSpecifiers, written: &str) -> Option<String> {
    let [only] = &specifiers[..] else { return None };
    match only.operator() {
        Operator::Equal | Operator::ExactEqual => {
            let trimmed = written
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim();
            let version = trimmed
                .trim_start_matches("===")
                .trim_start_matches("==")
                .trim();
            Some(if version.is_empty() {
                only.version().to_string()
            } else {
                version.to_string()
            })
        }
        _ => None,
    }
}

/// Parses a bare specifier set (`>=1.0,<2`) and returns (exact pin, requirement as written).
pub(crate) fn classify_specifiers(
    written: &str,
) -> Result<(Option<String>, Option<String>), String> {
    let written = written.trim();
    if written.is_empty() || written == "*" {
        return Ok((None, Some(String::new())));
    }
    let specifiers =
        VersionSpecifiers::from_str(written).map_err(|err| first_line(&err.to_string()))?;
    Ok(match exact_pin(&specifiers, written) {
        Some(version) => (Some(version), None),
        None => (None, Some(written.to_string())),
    })
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

/// The name at the start of a requirement, as written (uv normalises it).
fn written_name(text: &str) -> Option<String> {
    let end = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map_or(text.len(), |(i, _)| i);
    let name = text.get(..end)?.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// The marker expression after the `;` that starts a valid marker tree.
fn written_markers(text: &str) -> Option<String> {
    text.char_indices()
        .filter(|(_, c)| *c == ';')
        .find_map(|(i, _)| {
            let candidate = text.get(i + 1..)?.trim();
            MarkerTree::from_str(candidate)
                .ok()
                .filter(|tree| !tree.is_true())
                .map(|_| candidate.to_string())
        })
}

/// The specifier text between the name/extras and the markers, without surrounding parentheses.
fn written_specifiers(text: &str) -> Option<String> {
    let name_end = written_name(text).map(|n| n.len())?;
    let mut rest = text.get(name_end..)?.trim_start();
    if rest.starts_with('[') {
        let close = rest.find(']')?;
        rest = rest.get(close + 1..)?.trim_start();
    }
    let rest = match written_markers(rest) {
        Some(markers) => {
            let cut = rest.len().checked_sub(markers.len())?;
            rest.get(..cut)?.trim_end().trim_end_matches(';')
        }
        None => rest.trim_end_matches(';'),
    };
    let rest = rest.trim();
    let rest = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(rest)
        .trim();
    Some(rest.to_string())
}

/// A distribution identified from a URL or path: `#egg=name`, a wheel or sdist file name, a VCS
/// repository name, or a directory name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Artifact {
    pub name: String,
    pub version: Option<String>,
}

/// Best-effort name (and version) of an unnamed URL/path requirement.
pub(crate) fn artifact_from_url(url: &str) -> Option<Artifact> {
    let (without_fragment, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    if let Some(egg) = fragment.and_then(|f| f.split('&').find_map(|kv| kv.strip_prefix("egg="))) {
        let egg = percent_decode(egg);
        // `#egg=name-1.0` is legacy but still seen; `#egg=name[extra]` too.
        let egg = egg.split('[').next().unwrap_or("").trim().to_string();
        if !egg.is_empty() {
            return Some(Artifact {
                name: egg,
                version: None,
            });
        }
    }
    let base = without_fragment
        .split('?')
        .next()
        .unwrap_or(without_fragment);
    let last = base
        .trim_end_matches('/')
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("");
    let last = percent_decode(last);
    if let Some(stem) = last.strip_suffix(".whl") {
        let mut parts = stem.split('-');
        let name = parts.next().filter(|n| !n.is_empty())?;
        let version = parts.next().filter(|v| !v.is_empty()).map(str::to_string);
        return Some(Artifact {
            name: name.to_string(),
            version,
        });
    }
    for ext in [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"] {
        if let Some(stem) = last.strip_suffix(ext) {
            return Some(match split_sdist_stem(stem) {
                Some((name, version)) => Artifact {
                    name,
                    version: Some(version),
                },
                None => Artifact {
                    name: stem.to_string(),
                    version: None,
                },
            });
        }
    }
    // A VCS URL `git+https://host/org/repo.git@ref` or a directory: the last segment before `@`.
    let segment = last
        .split('@')
        .next()
        .unwrap_or("")
        .trim_end_matches(".git");
    let looks_like_name = !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    looks_like_name.then(|| Artifact {
        name: segment.to_string(),
        version: None,
    })
}

/// `name-1.2.3` → (`name`, `1.2.3`): the version starts at the last `-` followed by a digit.
fn split_sdist_stem(stem: &str) -> Option<(String, String)> {
    let (name, version) = stem.rsplit_once('-')?;
    (!name.is_empty() && version.starts_with(|c: char| c.is_ascii_digit()))
        .then(|| (name.to_string(), version.to_string()))
}

/// Decodes `%XX` escapes (invalid escapes are kept as written).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(value) = u8::from_str_radix(hex, 16)
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn markers_apply(markers: &str, env: &TargetEnv) -> Result<bool, InventoryError> {
    let markers = markers.trim();
    if markers.is_empty() {
        return Ok(true);
    }
    let tree = MarkerTree::from_str(markers).map_err(|err| InventoryError::Markers {
        markers: markers.to_string(),
        message: first_line(&err.to_string()),
    })?;
    Ok(tree.evaluate(&marker_environment(env)?, &[]))
}

fn marker_environment(env: &TargetEnv) -> Result<MarkerEnvironment, InventoryError> {
    let (os_name, platform_system) = match env.platform.as_str() {
        "win32" | "cygwin" => ("nt", "Windows"),
        "darwin" => ("posix", "Darwin"),
        "linux" => ("posix", "Linux"),
        other => ("posix", other),
    };
    let full = env
        .python_full_version
        .clone()
        .unwrap_or_else(|| format!("{}.0", env.python_version.trim()));
    let implementation_name = env.implementation.to_lowercase();
    let builder = MarkerEnvironmentBuilder {
        implementation_name: &implementation_name,
        implementation_version: &full,
        os_name,
        platform_machine: &env.machine,
        platform_python_implementation: &env.implementation,
        platform_release: "",
        platform_system,
        platform_version: "",
        python_full_version: &full,
        python_version: env.python_version.trim(),
        sys_platform: &env.platform,
    };
    MarkerEnvironment::try_from(builder).map_err(|err| InventoryError::TargetEnv(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ParsedRequirement {
        parse_requirement(text).unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    #[test]
    fn exact_pins_and_ranges() {
        let pinned = parse("torch==2.1.0+cu121");
        assert_eq!(pinned.version.as_deref(), Some("2.1.0+cu121"));
        assert_eq!(pinned.requirement, None);
        let arbitrary = parse("legacy===1.0-foo");
        assert_eq!(arbitrary.version.as_deref(), Some("1.0-foo"));
        let star = parse("numpy==1.*");
        assert_eq!(star.version, None);
        assert_eq!(star.requirement.as_deref(), Some("==1.*"));
        let range = parse("Transformers[torch] >=4.30, <5 ; python_version >= '3.8'");
        assert_eq!(range.name, "Transformers");
        assert_eq!(range.extras, vec!["torch".to_string()]);
        assert_eq!(range.version, None);
        assert_eq!(range.requirement.as_deref(), Some(">=4.30, <5"));
        assert_eq!(range.markers.as_deref(), Some("python_version >= '3.8'"));
        let any = parse("requests");
        assert_eq!(any.requirement.as_deref(), Some(""));
        let paren = parse("requests (>=2.0)");
        assert_eq!(paren.requirement.as_deref(), Some(">=2.0"));
        let pin_with_marker = parse("name==1.0;python_version<\"3.8\"");
        assert_eq!(pin_with_marker.version.as_deref(), Some("1.0"));
        assert_eq!(
            pin_with_marker.markers.as_deref(),
            Some("python_version<\"3.8\"")
        );
    }

    #[test]
    fn url_requirements_keep_the_url_and_derive_wheel_versions() {
        let wheel = parse(
            "torch @ https://download.example.invalid/whl/torch-2.1.0%2Bcu121-cp311-cp311-linux_x86_64.whl ; sys_platform == 'linux'",
        );
        assert_eq!(wheel.version.as_deref(), Some("2.1.0+cu121"));
        assert!(
            wheel
                .direct_url
                .as_deref()
                .is_some_and(|u| u.ends_with(".whl"))
        );
        assert_eq!(wheel.markers.as_deref(), Some("sys_platform == 'linux'"));
        let git = parse("mylib @ git+https://example.invalid/org/mylib.git@v1.0");
        assert_eq!(git.version, None);
        assert_eq!(git.requirement, None);
        assert_eq!(
            git.direct_url.as_deref(),
            Some("git+https://example.invalid/org/mylib.git@v1.0")
        );
    }

    #[test]
    fn env_vars_are_not_expanded() {
        let req = parse("pkg @ https://${TOKEN}@example.invalid/pkg-1.0.tar.gz");
        assert_eq!(
            req.direct_url.as_deref(),
            Some("https://${TOKEN}@example.invalid/pkg-1.0.tar.gz")
        );
        assert_eq!(req.version.as_deref(), Some("1.0"));
    }

    #[test]
    fn artifacts_from_urls() {
        let egg = artifact_from_url("git+https://example.invalid/x/y.git@main#egg=My_Pkg");
        assert_eq!(
            egg,
            Some(Artifact {
                name: "My_Pkg".into(),
                version: None
            })
        );
        let sdist = artifact_from_url("https://example.invalid/packages/foo-bar-1.2.3.tar.gz");
        assert_eq!(
            sdist,
            Some(Artifact {
                name: "foo-bar".into(),
                version: Some("1.2.3".into())
            })
        );
        let repo = artifact_from_url("git+https://example.invalid/org/repo.git@v2");
        assert_eq!(
            repo,
            Some(Artifact {
                name: "repo".into(),
                version: None
            })
        );
        assert_eq!(artifact_from_url("."), None);
        assert_eq!(
            artifact_from_url("./local/pkg"),
            Some(Artifact {
                name: "pkg".into(),
                version: None
            })
        );
    }

    #[test]
    fn invalid_requirements_are_errors() {
        assert!(parse_requirement("torch==").is_err());
        assert!(parse_requirement("torch ; python_version <<< '3'").is_err());
        assert!(parse_requirement("").is_err());
    }

    #[test]
    fn markers_evaluate_against_a_target() {
        let env = TargetEnv::new("3.11", "linux");
        assert_eq!(
            markers_apply("python_version < '3.8'", &env).ok(),
            Some(false)
        );
        assert_eq!(
            markers_apply("sys_platform == 'linux' and python_version >= '3.10'", &env).ok(),
            Some(true)
        );
        assert_eq!(
            markers_apply("platform_system == 'Windows'", &env).ok(),
            Some(false)
        );
        assert_eq!(
            markers_apply(
                "platform_system == 'Windows'",
                &TargetEnv::new("3.11", "win32")
            )
            .ok(),
            Some(true)
        );
        assert_eq!(markers_apply("", &env).ok(), Some(true));
        assert_eq!(markers_apply("extra == 'gpu'", &env).ok(), Some(false));
        assert!(markers_apply("python_version <<< '3'", &env).is_err());
        assert!(
            markers_apply(
                "python_version < '3'",
                &TargetEnv::new("not a version", "linux")
            )
            .is_err()
        );
    }
}
