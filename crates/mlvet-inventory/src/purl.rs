//! A small package-URL parser (`pkg:type/namespace/name@version?qualifiers#subpath`) and the map
//! from purl types to OSV ecosystem names.

use std::collections::BTreeMap;

use crate::pep508::percent_decode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    /// Lowercased type, e.g. `pypi`.
    pub ty: String,
    /// Percent-decoded namespace segments joined with `/` (npm scope `@types`, Go module path...).
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub qualifiers: BTreeMap<String, String>,
    pub subpath: Option<String>,
}

impl Purl {
    /// Parses a package URL; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Purl> {
        let text = text.trim();
        let rest = text
            .get(..4)
            .filter(|s| s.eq_ignore_ascii_case("pkg:"))
            .and_then(|_| text.get(4..))?;
        let rest = rest.trim_start_matches('/');
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, s)) => (r, Some(percent_decode(s.trim_matches('/')))),
            None => (rest, None),
        };
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, q)) => (r, parse_qualifiers(q)),
            None => (rest, BTreeMap::new()),
        };
        let (ty, path) = rest.split_once('/')?;
        let ty = ty.to_ascii_lowercase();
        if ty.is_empty()
            || !ty
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
        {
            return None;
        }
        let path = path.trim_end_matches('/');
        // The version follows the last `@` of the last segment (a leading `@` is an npm scope).
        let (path, version) = match path.rfind('@') {
            Some(at) if at > path.rfind('/').map_or(0, |slash| slash + 1) => (
                path.get(..at).unwrap_or(path),
                path.get(at + 1..)
                    .map(percent_decode)
                    .filter(|v| !v.is_empty()),
            ),
            _ => (path, None),
        };
        let mut segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        let name = segments.pop().filter(|n| !n.is_empty())?;
        let namespace = (!segments.is_empty()).then(|| segments.join("/"));
        Some(Purl {
            ty,
            namespace,
            name,
            version,
            qualifiers,
            subpath,
        })
    }

    /// The OSV ecosystem and the package name in that ecosystem's convention.
    pub fn ecosystem_and_name(&self) -> (String, String) {
        let ecosystem = purl_type_to_ecosystem(&self.ty);
        let name = match (self.ty.as_str(), self.namespace.as_deref()) {
            ("maven", Some(group)) => format!("{group}:{}", self.name),
            (_, Some(namespace))
                if !matches!(self.ty.as_str(), "pypi" | "cargo" | "gem" | "conda") =>
            {
                format!("{namespace}/{}", self.name)
            }
            _ => self.name.clone(),
        };
        (ecosystem, name)
    }
}

/// Builds the package URL of a record that has none, for the ecosystems whose purl type and
/// name layout are defined (PyPI, npm, conda, Maven, Go, RubyGems, NuGet, crates.io,
/// Packagist); `None` for the others. PyPI names are normalised as the purl spec requires; every
/// segment and the version are percent-encoded (`+` in local versions becomes `%2B`).
pub fn purl_for(ecosystem: &str, name: &str, version: Option<&str>) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let path = match ecosystem {
        "PyPI" => format!("pypi/{}", encode(&crate::names::normalize_pypi_name(name))),
        "npm" => match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
            Some((scope, package)) => format!("npm/%40{}/{}", encode(scope), encode(package)),
            None => format!("npm/{}", encode(name)),
        },
        "conda" => format!("conda/{}", encode(&name.to_ascii_lowercase())),
        "Maven" => {
            let (group, artifact) = name.split_once(':')?;
            format!("maven/{}/{}", encode(group), encode(artifact))
        }
        "Go" => format!(
            "golang/{}",
            name.split('/').map(encode).collect::<Vec<_>>().join("/")
        ),
        "RubyGems" => format!("gem/{}", encode(name)),
        "NuGet" => format!("nuget/{}", encode(name)),
        "crates.io" => format!("cargo/{}", encode(name)),
        "Packagist" => match name.split_once('/') {
            Some((vendor, package)) => format!("composer/{}/{}", encode(vendor), encode(package)),
            None => format!("composer/{}", encode(name)),
        },
        _ => return None,
    };
    Some(match version.map(str::trim).filter(|v| !v.is_empty()) {
        Some(version) => format!("pkg:{path}@{}", encode(version)),
        None => format!("pkg:{path}"),
    })
}

/// Percent-encodes everything but the characters a purl segment may carry as they are.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn parse_qualifiers(text: &str) -> BTreeMap<String, String> {
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .map(|(k, v)| (k.to_ascii_lowercase(), percent_decode(v)))
        .collect()
}

/// OSV ecosystem name for a purl type (unknown types are returned as written).
pub fn purl_type_to_ecosystem(ty: &str) -> String {
    let ecosystem = match ty.to_ascii_lowercase().as_str() {
        "pypi" => "PyPI",
        "npm" => "npm",
        "golang" => "Go",
        "maven" => "Maven",
        // Rust crates keep their purl type: mlvet does not match the Rust ecosystem yet, so they
        // are reported as not matched instead of being compared under the wrong rules.
        "gem" => "RubyGems",
        "nuget" => "NuGet",
        "composer" => "Packagist",
        "conda" => "conda",
        "hex" => "Hex",
        "pub" => "Pub",
        "cran" => "CRAN",
        "hackage" => "Hackage",
        "swift" => "SwiftURL",
        "cocoapods" => "CocoaPods",
        "deb" => "Debian",
        "apk" => "Alpine",
        "github" => "GitHub Actions",
        other => return other.to_string(),
    };
    ecosystem.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_purls() {
        let p = Purl::parse("pkg:pypi/torch@2.1.0%2Bcu121?arch=x86_64").expect("purl");
        assert_eq!(
            (p.ty.as_str(), p.name.as_str(), p.version.as_deref()),
            ("pypi", "torch", Some("2.1.0+cu121"))
        );
        assert_eq!(p.qualifiers.get("arch").map(String::as_str), Some("x86_64"));
        let npm = Purl::parse("pkg:npm/%40vitest%2Fmocker@1.0.0").expect("purl");
        assert_eq!(
            npm.ecosystem_and_name(),
            ("npm".into(), "@vitest/mocker".into())
        );
        let scoped = Purl::parse("pkg:npm/@types/node@20.1.0").expect("purl");
        assert_eq!(
            scoped.ecosystem_and_name(),
            ("npm".into(), "@types/node".into())
        );
        assert_eq!(scoped.version.as_deref(), Some("20.1.0"));
        let maven =
            Purl::parse("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1").expect("purl");
        assert_eq!(
            maven.ecosystem_and_name(),
            ("Maven".into(), "org.apache.logging.log4j:log4j-core".into())
        );
        let go = Purl::parse("pkg:golang/github.com/gin-gonic/gin@v1.9.0").expect("purl");
        assert_eq!(
            go.ecosystem_and_name(),
            ("Go".into(), "github.com/gin-gonic/gin".into())
        );
        let cargo = Purl::parse("pkg:cargo/serde@1.0.0#sub/path").expect("purl");
        assert_eq!(cargo.ecosystem_and_name(), ("cargo".into(), "serde".into()));
        assert_eq!(cargo.subpath.as_deref(), Some("sub/path"));
        let no_version = Purl::parse("PKG:PyPI/numpy").expect("purl");
        assert_eq!((no_version.ty.as_str(), no_version.version), ("pypi", None));
    }

    #[test]
    fn builds_purls_that_parse_back() {
        let cases = [
            (
                "PyPI",
                "Torch_Vision",
                Some("0.16.0+cu121"),
                "pkg:pypi/torch-vision@0.16.0%2Bcu121",
            ),
            (
                "npm",
                "@types/node",
                Some("20.1.0"),
                "pkg:npm/%40types/node@20.1.0",
            ),
            (
                "Maven",
                "org.apache:commons",
                Some("1.0"),
                "pkg:maven/org.apache/commons@1.0",
            ),
            (
                "Go",
                "github.com/gin-gonic/gin",
                None,
                "pkg:golang/github.com/gin-gonic/gin",
            ),
            ("conda", "PyTorch", Some("2.1.0"), "pkg:conda/pytorch@2.1.0"),
        ];
        for (ecosystem, name, version, expected) in cases {
            let purl = purl_for(ecosystem, name, version).expect("purl");
            assert_eq!(purl, expected);
            let parsed = Purl::parse(&purl).expect("parses back");
            assert_eq!(parsed.ecosystem_and_name().0, ecosystem);
            assert_eq!(parsed.version.as_deref(), version);
        }
        assert_eq!(purl_for("", "x", None), None);
        assert_eq!(purl_for("Maven", "no-group", None), None);
        assert_eq!(purl_for("PyPI", " ", None), None);
    }

    #[test]
    fn rejects_non_purls() {
        for bad in [
            "",
            "pkg:",
            "pkg:pypi",
            "pkg:pypi/",
            "http://x.invalid/a",
            "pkg:/name",
            "pkg:py pi/x",
        ] {
            assert_eq!(Purl::parse(bad), None, "{bad}");
        }
    }
}
