//! Small text helpers shared by the parsers and rules: bounded reads, line numbers, URLs.

use std::io::Read;
use std::path::Path;

/// Largest configuration / lockfile / text file read whole (real ones are far smaller; a 4 MiB
/// notebook output is the large end).
pub const MAX_TEXT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a regular file of at most `limit` bytes as UTF-8 (lossy). `Ok(None)`: larger than the
/// limit or binary (a NUL byte in the first 8 KiB).
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<Option<String>> {
    let file = mlvet_core::fs::open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Ok(None);
    }
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Ok(None);
    }
    Ok(Some(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    }))
}

/// 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> u32 {
    let end = offset.min(text.len());
    let newlines = text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    u32::try_from(newlines + 1).unwrap_or(u32::MAX)
}

/// 1-based line of the first line containing `needle`, if any.
pub fn line_containing(text: &str, needle: &str) -> Option<u32> {
    text.find(needle).map(|offset| line_of(text, offset))
}

/// An index URL as compared across files: credentials removed, lower-case scheme and host,
/// no trailing `/`.
pub fn normalize_url(url: &str) -> String {
    let url = strip_credentials(url.trim());
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest.to_string()),
        None => return url.trim_end_matches('/').to_string(),
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (rest[..i].to_ascii_lowercase(), rest[i..].to_string()),
        None => (rest.to_ascii_lowercase(), String::new()),
    };
    format!("{scheme}://{host}{}", path.trim_end_matches('/'))
}

/// `url` without a `user:password@` part.
pub fn strip_credentials(url: &str) -> String {
    match credentials_span(url) {
        Some((start, end)) => format!("{}{}", &url[..start], &url[end..]),
        None => url.to_string(),
    }
}

/// Byte range of `user[:password]@` in a URL with a scheme, if present.
pub fn credentials_span(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let at = url[start..authority_end].rfind('@')? + start;
    Some((start, at + 1))
}

/// The host of a URL (lower case, without port or credentials), or `None` without a scheme.
pub fn host_of(url: &str) -> Option<String> {
    let stripped = strip_credentials(url);
    let rest = stripped.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once(':').map_or(authority, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            authority
        }
    });
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether `value` is an environment-variable reference (`${VAR}`, `$VAR`, `%VAR%`) rather than
/// a literal.
pub fn is_variable(value: &str) -> bool {
    let v = value.trim();
    v.starts_with('$')
        || (v.starts_with('%') && v.ends_with('%') && v.len() > 2)
        || v.starts_with("{{")
}

/// Whether `revision` is a full 40-hex commit.
pub fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a Hugging Face reference is a local path rather than `org/name`.
pub fn is_local_path(reference: &str) -> bool {
    let r = reference.trim();
    r.is_empty()
        || r.starts_with('/')
        || r.starts_with("./")
        || r.starts_with("../")
        || r.starts_with('~')
        || r.starts_with('.')
        || r.contains('\\')
        || r.contains(':')
        || r.split('/').count() > 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_normalise() {
        assert_eq!(
            normalize_url("HTTPS://User:Pw@Index.Example.Invalid/simple/"),
            "https://index.example.invalid/simple"
        );
        assert_eq!(
            host_of("https://u:p@h.invalid:8443/x"),
            Some("h.invalid".into())
        );
        assert_eq!(host_of("s3://bucket/path"), Some("bucket".into()));
        assert_eq!(strip_credentials("https://a@b/c"), "https://b/c");
        assert_eq!(strip_credentials("https://b/c@d"), "https://b/c@d");
    }

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a", 99), 1);
    }

    #[test]
    fn local_paths_are_not_hub_ids() {
        assert!(is_local_path("./base"));
        assert!(is_local_path("/models/x"));
        assert!(is_local_path("C:\\m"));
        assert!(!is_local_path("meta-llama/Llama-2-7b-hf"));
        assert!(!is_local_path("gpt2"));
    }
}
