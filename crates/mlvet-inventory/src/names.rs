//! Package-name normalisation per ecosystem.

/// PEP 503 normalisation: lowercase, every run of `-`, `_` and `.` becomes one `-`. Surrounding
/// whitespace is dropped.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            pending_separator = true;
            continue;
        }
        if pending_separator {
            out.push('-');
            pending_separator = false;
        }
        out.extend(c.to_lowercase());
    }
    if pending_separator {
        out.push('-');
    }
    out
}

/// The name used for matching in `ecosystem`: PEP 503 for PyPI, lowercase for ecosystems whose
/// names are case-insensitive, as written otherwise.
pub(crate) fn normalize_for(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "PyPI" => normalize_pypi_name(name),
        "npm" | "NuGet" | "Packagist" | "conda" | "Hex" | "Pub" => name.trim().to_lowercase(),
        _ => name.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_examples() {
        assert_eq!(normalize_pypi_name("Friendly-Bard"), "friendly-bard");
        assert_eq!(normalize_pypi_name("FRIENDLY-BARD"), "friendly-bard");
        assert_eq!(normalize_pypi_name("friendly.bard"), "friendly-bard");
        assert_eq!(normalize_pypi_name("friendly_bard"), "friendly-bard");
        assert_eq!(normalize_pypi_name("friendly--bard"), "friendly-bard");
        assert_eq!(normalize_pypi_name("FrIeNdLy-._.-bArD"), "friendly-bard");
        assert_eq!(normalize_pypi_name("huggingface_hub"), "huggingface-hub");
        assert_eq!(
            normalize_pypi_name("Products.PluggableAuthService"),
            "products-pluggableauthservice"
        );
    }

    #[test]
    fn other_ecosystems() {
        assert_eq!(normalize_for("npm", "Left-Pad"), "left-pad");
        assert_eq!(
            normalize_for("Go", "github.com/Foo/Bar"),
            "github.com/Foo/Bar"
        );
        assert_eq!(normalize_for("PyPI", "Torch_Vision"), "torch-vision");
    }
}
