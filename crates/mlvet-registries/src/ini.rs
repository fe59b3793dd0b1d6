//! A small reader for the INI dialects project files use: `pip.conf` / `pip.ini` (Python
//! configparser: `key = value` or `key: value`, indented continuation lines), and git-config style
//! files (`.lfsconfig`, DVC's `.dvc/config`: `[section "sub"]`, DVC also writes
//! `['remote "name"']`, keys may be indented).
//!
//! Only what the rules need is kept: section, subsection, key (lower case), value and line.
//! Never fails: a line it cannot read is skipped (the rules report what they found).

/// Which dialect to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// configparser: an indented line continues the previous value (multi-line lists).
    ConfigParser,
    /// git config / configobj: every `key = value` line is a key, indented or not.
    GitConfig,
}

/// One `key = value` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Section name, lower case (`global`, `remote`, `lfs`).
    pub section: String,
    /// `remote "storage"` → `storage` (case kept).
    pub subsection: Option<String>,
    /// Lower case; `_` and `-` kept as written.
    pub key: String,
    pub value: String,
    /// 1-based line of the key.
    pub line: u32,
}

/// Most entries kept from one file.
pub const MAX_ENTRIES: usize = 10_000;

/// Parses `text` in `dialect`.
pub fn parse(text: &str, dialect: Dialect) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut section = String::new();
    let mut subsection: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        if entries.len() >= MAX_ENTRIES {
            break;
        }
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if dialect == Dialect::ConfigParser && indented {
            if let Some(last) = entries.last_mut() {
                if !last.value.is_empty() {
                    last.value.push('\n');
                }
                last.value.push_str(trimmed);
            }
            continue;
        }
        if trimmed.starts_with('[') {
            let (name, sub) = section_header(trimmed);
            section = name;
            subsection = sub;
            continue;
        }
        let separator = match dialect {
            Dialect::ConfigParser => trimmed.find(['=', ':']),
            Dialect::GitConfig => trimmed.find('='),
        };
        let (key, value) = match separator {
            Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
            // git config: a bare key means `true`.
            None => (trimmed, "true"),
        };
        let value = strip_inline_comment(value.trim(), dialect);
        entries.push(Entry {
            section: section.clone(),
            subsection: subsection.clone(),
            key: key.trim().to_ascii_lowercase(),
            value: unquote(value).to_string(),
            line,
        });
    }
    entries
}

/// `[remote "x"]`, `['remote "x"']`, `[global]` → (`remote`, Some(`x`)).
fn section_header(line: &str) -> (String, Option<String>) {
    let inner = line.trim_start_matches('[');
    let inner = inner.rsplit_once(']').map_or(inner, |(head, _)| head);
    let inner = inner.trim().trim_matches('\'').trim();
    match inner.split_once(char::is_whitespace) {
        Some((name, sub)) => (
            name.to_ascii_lowercase(),
            Some(sub.trim().trim_matches('"').to_string()),
        ),
        None => (inner.to_ascii_lowercase(), None),
    }
}

/// git config allows `value # comment`; configparser only treats full-line comments as comments
/// by default (so `#` inside URLs survives).
fn strip_inline_comment(value: &str, dialect: Dialect) -> &str {
    if dialect == Dialect::ConfigParser || value.starts_with('"') {
        return value;
    }
    match value.find([';', '#']) {
        Some(i) if value[..i].ends_with(char::is_whitespace) => value[..i].trim_end(),
        _ => value,
    }
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_conf_continuations() {
        let text = "[global]\nindex-url = https://a.invalid/simple\nextra-index-url =\n    https://b.invalid/simple\n    https://c.invalid/simple\n";
        let entries = parse(text, Dialect::ConfigParser);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].key, "extra-index-url");
        assert_eq!(
            entries[1].value,
            "https://b.invalid/simple\nhttps://c.invalid/simple"
        );
        assert_eq!(entries[1].line, 3);
    }

    #[test]
    fn dvc_config_sections() {
        let text =
            "[core]\n    remote = storage\n['remote \"storage\"']\n    url = s3://bucket/path\n";
        let entries = parse(text, Dialect::GitConfig);
        assert_eq!(entries[1].section, "remote");
        assert_eq!(entries[1].subsection.as_deref(), Some("storage"));
        assert_eq!(entries[1].value, "s3://bucket/path");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text, Dialect::ConfigParser);
            let _ = parse(&text, Dialect::GitConfig);
        }
    }
}
