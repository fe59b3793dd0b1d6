//! The option lines of a pip requirements file that decide where packages come from and whether
//! they are hash-checked (pip `req_file.py`): `-i`/`--index-url`, `--extra-index-url`,
//! `--no-index`, `-f`/`--find-links`, `--trusted-host`, `--require-hashes`, per-requirement
//! `--hash`, and `-r`/`-c` includes. Lines continue with a trailing `\`; ` #` starts a comment.

/// One index option with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexOption {
    /// `index-url`, `extra-index-url`, `find-links`, `trusted-host`.
    pub option: &'static str,
    pub value: String,
    pub line: u32,
}

/// What the option lines of one file say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub indexes: Vec<IndexOption>,
    pub no_index: bool,
    pub require_hashes: bool,
    /// Requirement lines (not options), and how many carry `--hash`.
    pub requirements: usize,
    pub hashed: usize,
    /// `-r` / `-c` targets as written.
    pub includes: Vec<String>,
}

impl Options {
    /// pip's hash-checking mode: `--require-hashes`, or a `--hash` on any requirement (then every
    /// requirement must have one, or pip refuses to install).
    pub fn hash_mode(&self) -> bool {
        self.require_hashes || self.hashed > 0
    }

    pub fn extra_indexes(&self) -> impl Iterator<Item = &IndexOption> {
        self.indexes
            .iter()
            .filter(|o| o.option == "extra-index-url")
    }

    pub fn primary_index(&self) -> Option<&IndexOption> {
        self.indexes.iter().rev().find(|o| o.option == "index-url")
    }
}

/// Most logical lines read.
const MAX_LINES: usize = 200_000;

/// Reads the option lines of requirements `text`.
pub fn parse(text: &str) -> Options {
    let mut options = Options::default();
    for (line, logical) in logical_lines(text).into_iter().take(MAX_LINES) {
        let tokens: Vec<&str> = logical.split_whitespace().collect();
        let Some(first) = tokens.first() else {
            continue;
        };
        if !first.starts_with('-') {
            options.requirements += 1;
            if tokens
                .iter()
                .any(|t| *t == "--hash" || t.starts_with("--hash="))
            {
                options.hashed += 1;
            }
            continue;
        }
        let mut i = 0;
        while i < tokens.len() {
            let token = tokens[i];
            let (name, inline) = match token.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value)),
                _ => (token, None),
            };
            // Short options also take their value glued on: `-ihttps://…`.
            let (name, inline) = match (name, inline) {
                (n, None) if n.len() > 2 && !n.starts_with("--") => {
                    match (n.get(..2), n.get(2..)) {
                        (Some(short), Some(glued)) => (short, Some(glued)),
                        _ => (n, None),
                    }
                }
                other => other,
            };
            let takes_value = matches!(
                name,
                "-i" | "--index-url"
                    | "--extra-index-url"
                    | "-f"
                    | "--find-links"
                    | "--trusted-host"
                    | "-r"
                    | "--requirement"
                    | "-c"
                    | "--constraint"
                    | "-e"
                    | "--editable"
            );
            let value = if takes_value {
                match inline {
                    Some(v) => Some(v.to_string()),
                    None => {
                        i += 1;
                        tokens.get(i).map(|v| v.to_string())
                    }
                }
            } else {
                None
            };
            match (name, value) {
                ("-i" | "--index-url", Some(v)) => options.indexes.push(IndexOption {
                    option: "index-url",
                    value: v,
                    line,
                }),
                ("--extra-index-url", Some(v)) => options.indexes.push(IndexOption {
                    option: "extra-index-url",
                    value: v,
                    line,
                }),
                ("-f" | "--find-links", Some(v)) => options.indexes.push(IndexOption {
                    option: "find-links",
                    value: v,
                    line,
                }),
                ("--trusted-host", Some(v)) => options.indexes.push(IndexOption {
                    option: "trusted-host",
                    value: v,
                    line,
                }),
                ("-r" | "--requirement" | "-c" | "--constraint", Some(v)) => {
                    options.includes.push(v)
                }
                ("-e" | "--editable", Some(_)) => options.requirements += 1,
                ("--no-index", _) => options.no_index = true,
                ("--require-hashes", _) => options.require_hashes = true,
                _ => {}
            }
            i += 1;
        }
    }
    options
}

/// Logical lines (continuations joined, comments removed) with the line they start on.
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0u32;
    for (index, raw) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if current.is_empty() {
            start = number;
        }
        let without_comment = strip_comment(raw);
        match without_comment.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(without_comment);
                let line = std::mem::take(&mut current);
                if !line.trim().is_empty() {
                    out.push((start, line));
                }
            }
        }
    }
    if !current.trim().is_empty() {
        out.push((start, current));
    }
    out
}

/// pip: `#` starts a comment at the line start or after whitespace.
fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    let bytes = line.as_bytes();
    for i in 1..bytes.len() {
        if bytes[i] == b'#' && bytes[i - 1].is_ascii_whitespace() {
            return line[..i].trim_end();
        }
    }
    line.trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_options() {
        let text = "--index-url https://a.invalid/simple\n--extra-index-url=https://b.invalid/simple # c\ntorch==2.1.0\n-r other.txt\n";
        let options = parse(text);
        assert_eq!(options.indexes.len(), 2);
        assert_eq!(options.extra_indexes().count(), 1);
        assert_eq!(options.indexes[1].line, 2);
        assert_eq!(options.indexes[1].value, "https://b.invalid/simple");
        assert_eq!(options.includes, vec!["other.txt"]);
        assert!(!options.hash_mode());
    }

    #[test]
    fn hash_mode_with_continuations() {
        let text = "torch==2.1.0 \\\n    --hash=sha256:00\nnumpy==1.26.0 --hash sha256:11\n";
        let options = parse(text);
        assert_eq!(options.requirements, 2);
        assert_eq!(options.hashed, 2);
        assert!(options.hash_mode());
    }

    #[test]
    fn short_glued_index() {
        let options = parse("-ihttps://a.invalid/simple\n");
        assert_eq!(options.indexes[0].value, "https://a.invalid/simple");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,400}") {
            let _ = parse(&text);
        }
    }
}
