//! The small part of the package-URL specification VEX matching needs: type, namespace, name and
//! version, percent-decoded, qualifiers and subpath dropped.

/// A parsed `pkg:type/namespace/name@version?qualifiers#subpath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
}

impl Purl {
    pub fn parse(text: &str) -> Option<Purl> {
        let rest = text.strip_prefix("pkg:")?.trim_start_matches('/');
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
        let (path, version) = match rest.rsplit_once('@') {
            Some((path, version)) => (path, Some(decode(version)?)),
            None => (rest, None),
        };
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let kind = segments.next()?.to_ascii_lowercase();
        let mut parts: Vec<String> = segments.map(decode).collect::<Option<_>>()?;
        let name = parts.pop()?;
        if kind.is_empty() || name.is_empty() || version.as_deref() == Some("") {
            return None;
        }
        let namespace = (!parts.is_empty()).then(|| parts.join("/"));
        Some(Purl {
            kind,
            namespace,
            name,
            version,
        })
    }
}

/// Percent-decodes `text`; `None` on a malformed escape or invalid UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The purl type of an OSV ecosystem name, for the ecosystems mlvet inventories.
pub fn purl_type(ecosystem: &str) -> Option<&'static str> {
    Some(match ecosystem {
        "PyPI" => "pypi",
        "npm" => "npm",
        "Go" => "golang",
        "Maven" => "maven",
        "crates.io" => "cargo",
        "RubyGems" => "gem",
        "NuGet" => "nuget",
        "Packagist" => "composer",
        "conda" | "Conda" => "conda",
        _ => return None,
    })
}

/// PEP 503 normalisation: lower case, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
        } else {
            if separator && !out.is_empty() {
                out.push('-');
            }
            separator = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_parse() {
        assert_eq!(
            Purl::parse("pkg:pypi/torch@2.1.0"),
            Some(Purl {
                kind: "pypi".into(),
                namespace: None,
                name: "torch".into(),
                version: Some("2.1.0".into())
            })
        );
        assert_eq!(
            Purl::parse("pkg:npm/%40scope/pkg@1.0.0?arch=x#sub/path"),
            Some(Purl {
                kind: "npm".into(),
                namespace: Some("@scope".into()),
                name: "pkg".into(),
                version: Some("1.0.0".into())
            })
        );
        assert_eq!(Purl::parse("pkg:pypi/torch").map(|p| p.version), Some(None));
        assert_eq!(Purl::parse("pkg:"), None);
        assert_eq!(Purl::parse("pkg:pypi/"), None);
        assert_eq!(Purl::parse("pkg:pypi/x@"), None);
        assert_eq!(Purl::parse("pkg:pypi/x%zz"), None);
        assert_eq!(Purl::parse("https://example.com"), None);
    }

    #[test]
    fn pypi_names_normalise() {
        assert_eq!(normalize_pypi("Scikit_Learn"), "scikit-learn");
        assert_eq!(normalize_pypi("a.-_b"), "a-b");
    }
}
