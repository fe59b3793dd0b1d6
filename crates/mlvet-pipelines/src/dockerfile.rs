//! Dockerfile / Containerfile parser: instructions with their lines, line continuations (the
//! `# escape=` directive honoured), comment lines inside continuations, BuildKit here-documents,
//! flags (`--mount=…`, `--checksum=…`), `ENV`/`ARG` (both `K=V` and legacy `K V` forms) and `RUN`
//! in shell and exec (JSON array) form. Bounded by input size and instruction count.

use crate::shell::{self, Script};

/// At most this many instructions per file.
pub const MAX_INSTRUCTIONS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HereDoc {
    pub delimiter: String,
    pub body: String,
    /// 1-based line of the body's first line.
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-case keyword: `FROM`, `RUN`, `ENV`...
    pub keyword: String,
    /// Leading `--name[=value]` flags, as written.
    pub flags: Vec<String>,
    /// The arguments after the flags, continuations joined with a space.
    pub args: String,
    /// The arguments as shell text with line continuations kept (for `RUN`).
    pub shell_text: String,
    /// 1-based line of the keyword.
    pub line: u32,
    /// 1-based line where `shell_text` starts.
    pub shell_line: u32,
    pub heredocs: Vec<HereDoc>,
}

impl Instruction {
    /// The value of flag `--name=value`.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags.iter().find_map(|flag| {
            let rest = flag.strip_prefix("--")?.strip_prefix(name)?;
            rest.strip_prefix('=')
                .or(if rest.is_empty() { Some("") } else { None })
        })
    }

    /// The exec form's argv, when the arguments are a JSON array of strings.
    pub fn exec_form(&self) -> Option<Vec<String>> {
        let text = self.args.trim();
        if !text.starts_with('[') {
            return None;
        }
        serde_json::from_str::<Vec<String>>(text).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dockerfile {
    pub instructions: Vec<Instruction>,
    /// True when a bound stopped the parse.
    pub truncated: bool,
}

/// One `ENV`/`ARG` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    /// `None` for `ARG NAME` without a default.
    pub value: Option<String>,
}

impl Dockerfile {
    /// Parses Dockerfile text.
    pub fn parse(text: &str) -> Dockerfile {
        let lines: Vec<&str> = text.lines().collect();
        let escape = escape_directive(&lines);
        let mut out = Dockerfile::default();
        let mut i = 0usize;
        while i < lines.len() {
            let raw = lines[i];
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                i += 1;
                continue;
            }
            if out.instructions.len() >= MAX_INSTRUCTIONS {
                out.truncated = true;
                break;
            }
            let start_line = line_number(i);
            // Gather the logical line.
            let mut joined = String::new();
            let mut shell_text = String::new();
            let mut current = trimmed;
            loop {
                let (content, continues) = strip_continuation(current, escape);
                joined.push_str(content);
                shell_text.push_str(content);
                i += 1;
                if !continues {
                    break;
                }
                joined.push(' ');
                shell_text.push_str("\\\n");
                // Comment and empty lines inside a continuation are dropped by Docker; keep
                // their line in the shell text as a bare continuation.
                while i < lines.len() {
                    let next = lines[i].trim_start();
                    if next.is_empty() || next.starts_with('#') {
                        shell_text.push_str("\\\n");
                        i += 1;
                    } else {
                        break;
                    }
                }
                if i >= lines.len() {
                    break;
                }
                current = lines[i];
            }
            let (keyword, rest) = split_keyword(&joined);
            let (_, shell_rest) = split_keyword(&shell_text);
            let (flags, args, _) = split_flags(rest);
            let (_, shell_args, skipped_lines) = split_flags(shell_rest);
            let mut instruction = Instruction {
                keyword: keyword.to_ascii_uppercase(),
                flags,
                args: args.trim().to_string(),
                shell_text: shell_args.to_string(),
                shell_line: start_line + skipped_lines,
                line: start_line,
                heredocs: Vec::new(),
            };
            for (delimiter, strip_tabs) in heredoc_markers(&instruction.args) {
                let body_line = line_number(i);
                let mut body = String::new();
                while i < lines.len() {
                    let candidate = if strip_tabs {
                        lines[i].trim_start_matches('\t')
                    } else {
                        lines[i]
                    };
                    i += 1;
                    if candidate.trim_end() == delimiter {
                        break;
                    }
                    body.push_str(candidate);
                    body.push('\n');
                }
                instruction.heredocs.push(HereDoc {
                    delimiter,
                    body,
                    line: body_line,
                });
            }
            out.instructions.push(instruction);
        }
        out
    }

    /// The shell commands of every `RUN`, in order, each with its line. Exec-form `RUN`s become
    /// one command (and the script of `sh -c` is read); a here-document run by the shell (`RUN
    /// <<EOF`, `RUN bash <<EOF`) is read as a script.
    pub fn run_scripts(&self) -> Vec<(usize, Script)> {
        let mut out = Vec::new();
        for (index, instruction) in self.instructions.iter().enumerate() {
            if instruction.keyword != "RUN" {
                continue;
            }
            if let Some(argv) = instruction.exec_form() {
                let text = argv
                    .iter()
                    .map(|w| quote_word(w))
                    .collect::<Vec<_>>()
                    .join(" ");
                out.push((index, shell::parse(&text, instruction.line)));
                continue;
            }
            let script = shell::parse(&instruction.shell_text, instruction.shell_line);
            let runs_heredoc = script
                .commands
                .first()
                .is_none_or(|c| matches!(c.program(), "sh" | "bash" | "dash" | "zsh" | "ash"));
            out.push((index, script));
            if runs_heredoc {
                for heredoc in &instruction.heredocs {
                    out.push((index, shell::parse(&heredoc.body, heredoc.line)));
                }
            }
        }
        out
    }

    /// `ENV` and `ARG` settings of an instruction.
    pub fn settings(instruction: &Instruction) -> Vec<Setting> {
        match instruction.keyword.as_str() {
            "ENV" | "ARG" => {}
            _ => return Vec::new(),
        }
        let words: Vec<String> = shell::words(&instruction.args);
        let all_pairs = words.iter().all(|w| w.contains('='));
        if !all_pairs && instruction.keyword == "ENV" {
            // Legacy `ENV NAME value with spaces`.
            let mut parts = instruction.args.splitn(2, char::is_whitespace);
            let name = parts.next().unwrap_or_default().to_string();
            let value = parts.next().map(|v| unquote(v.trim()));
            return vec![Setting { name, value }];
        }
        words
            .into_iter()
            .map(|word| match word.split_once('=') {
                Some((name, value)) => Setting {
                    name: name.to_string(),
                    value: Some(value.to_string()),
                },
                None => Setting {
                    name: word,
                    value: None,
                },
            })
            .collect()
    }
}

fn line_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// The `# escape=` parser directive (only before the first instruction or comment).
fn escape_directive(lines: &[&str]) -> char {
    for line in lines {
        let trimmed = line.trim();
        let Some(directive) = trimmed.strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = directive.split_once('=') else {
            break;
        };
        if key.trim().eq_ignore_ascii_case("escape") {
            return match value.trim() {
                "`" => '`',
                _ => '\\',
            };
        }
        if !key.trim().eq_ignore_ascii_case("syntax") && !key.trim().eq_ignore_ascii_case("check") {
            break;
        }
    }
    '\\'
}

fn strip_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end();
    match trimmed.strip_suffix(escape) {
        Some(content) => (content, true),
        None => (trimmed, false),
    }
}

fn split_keyword(line: &str) -> (&str, &str) {
    let line = line.trim_start();
    match line.find(char::is_whitespace) {
        Some(end) => (&line[..end], &line[end..]),
        None => (line, ""),
    }
}

/// Leading `--flag[=value]` words, the rest, and how many line breaks (continuations) were
/// skipped before the rest.
fn split_flags(rest: &str) -> (Vec<String>, &str, u32) {
    let mut flags = Vec::new();
    let mut newlines = 0u32;
    let mut rest = rest;
    loop {
        let before = rest;
        rest = rest.trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix("\\\n") {
            newlines += 1;
            rest = after;
        }
        if rest.starts_with("--") {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            flags.push(rest[..end].to_string());
            rest = &rest[end..];
        } else if rest.len() == before.len() {
            return (flags, rest, newlines);
        }
    }
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"` markers in an instruction's arguments.
fn heredoc_markers(args: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = args;
    while let Some(pos) = rest.find("<<") {
        let after = &rest[pos + 2..];
        if let Some(here_string) = after.strip_prefix('<') {
            rest = here_string;
            continue;
        }
        let (strip_tabs, after) = match after.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, after),
        };
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '>' | ')'))
            .unwrap_or(after.len());
        let delimiter: String = after[..end]
            .chars()
            .filter(|c| !matches!(c, '"' | '\''))
            .collect();
        if !delimiter.is_empty() && delimiter.chars().all(|c| c.is_alphanumeric() || c == '_') {
            out.push((delimiter, strip_tabs));
        }
        rest = &after[end..];
        if out.len() >= 16 {
            break;
        }
    }
    out
}

fn quote_word(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2
        && ((bytes[0] == b'"' && bytes[bytes.len() - 1] == b'"')
            || (bytes[0] == b'\'' && bytes[bytes.len() - 1] == b'\''))
    {
        value[1..value.len() - 1].to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"# syntax=docker/dockerfile:1.7
ARG BASE=nvidia/cuda:12.4.1-runtime-ubuntu22.04
FROM ${BASE} AS runtime
ENV HF_HOME=/cache/hf PIP_NO_CACHE_DIR="1"
ENV LEGACY value with spaces
RUN --mount=type=cache,target=/root/.cache \
    pip install --no-cache-dir \
    # pinned below
    torch==2.3.0 && \
    python -c "print(1)"
RUN ["pip", "install", "--require-hashes", "-r", "requirements.txt"]
RUN <<EOF
set -e
pip install vllm
EOF
ADD --checksum=sha256:abc https://x.invalid/model.bin /models/
"#;

    #[test]
    fn instructions_lines_flags_and_heredocs() {
        let file = Dockerfile::parse(SAMPLE);
        let keywords: Vec<(&str, u32)> = file
            .instructions
            .iter()
            .map(|i| (i.keyword.as_str(), i.line))
            .collect();
        assert_eq!(
            keywords,
            vec![
                ("ARG", 2),
                ("FROM", 3),
                ("ENV", 4),
                ("ENV", 5),
                ("RUN", 6),
                ("RUN", 11),
                ("RUN", 12),
                ("ADD", 16)
            ]
        );
        let run = &file.instructions[4];
        assert_eq!(run.flag("mount"), Some("type=cache,target=/root/.cache"));
        assert_eq!(file.instructions[7].flag("checksum"), Some("sha256:abc"));
        assert_eq!(file.instructions[6].heredocs[0].line, 13);
        let env = Dockerfile::settings(&file.instructions[2]);
        assert_eq!(env[1].value.as_deref(), Some("1"));
        let legacy = Dockerfile::settings(&file.instructions[3]);
        assert_eq!(legacy[0].value.as_deref(), Some("value with spaces"));
    }

    #[test]
    fn run_scripts_have_file_lines() {
        let file = Dockerfile::parse(SAMPLE);
        let commands: Vec<(String, u32)> = file
            .run_scripts()
            .into_iter()
            .flat_map(|(_, s)| s.commands)
            .map(|c| (c.program().to_string(), c.line))
            .collect();
        assert_eq!(
            commands,
            vec![
                ("pip".to_string(), 7),
                ("python".to_string(), 10),
                ("pip".to_string(), 11),
                ("set".to_string(), 13),
                ("pip".to_string(), 14)
            ]
        );
    }
}
