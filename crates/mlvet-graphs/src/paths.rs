//! Whether a path written inside a model leaves the model's folder.

/// Why `path`, resolved against the model's folder, may leave it: an absolute path, a drive
/// letter, a UNC path, or a `..` segment. Both `/` and `\` count as separators (they do on
/// Windows, where the ONNX and TensorFlow loaders also run).
pub fn escape_reason(path: &str) -> Option<&'static str> {
    let bytes = path.as_bytes();
    if path.starts_with("\\\\") || path.starts_with("//") {
        return Some("UNC or network path");
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Some("absolute path");
    }
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Some("Windows drive letter");
    }
    if path.starts_with('~') {
        return Some("home-directory path");
    }
    if path.split(['/', '\\']).any(|segment| segment == "..") {
        return Some("`..` segment");
    }
    None
}

/// TensorFlow file names go through its filesystem registry: `file://` is the local disk, and
/// `gs://`, `s3://`, `hdfs://`, `http(s)://`, `ram://` and others reach other filesystems or the
/// network. Returns why a TensorFlow path leaves the model's folder, if it does.
pub fn tensorflow_escape_reason(path: &str) -> Option<&'static str> {
    if let Some(rest) = path.strip_prefix("file://") {
        return escape_reason(rest).or(Some("`file://` URL"));
    }
    if let Some((scheme, _)) = path.split_once("://")
        && !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
    {
        return Some("remote or virtual filesystem URL");
    }
    escape_reason(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_in_every_spelling() {
        for path in [
            "/etc/passwd",
            "../../etc/passwd",
            "sub/../../x",
            "a\\..\\x",
            "C:\\Windows\\x",
            "\\\\host\\share",
            "~/.ssh/id_rsa",
        ] {
            assert!(escape_reason(path).is_some(), "{path}");
        }
        for path in ["weights.bin", "data/w.bin", "w..bin", "..x"] {
            assert_eq!(escape_reason(path), None, "{path}");
        }
        assert!(tensorflow_escape_reason("gs://bucket/x").is_some());
        assert!(tensorflow_escape_reason("file:///etc/passwd").is_some());
        assert_eq!(tensorflow_escape_reason("variables/variables"), None);
    }
}
