//! A word-splitting shell command extractor: good enough to see `pip install …`, `curl … | sh`,
//! `FOO=bar cmd` and `export FOO=bar` in scripts, Dockerfile `RUN`s, CI `run:` steps and notebook
//! `!` lines, each command with its 1-based line.
//!
//! It splits on `&&`, `||`, `;`, `|`, `&` and newlines, honours single and double quotes,
//! backslash escapes and line continuations, keeps `$(…)`, backticks, `${…}` and GitHub's
//! `${{ … }}` as literal word text, drops redirections, skips comments and here-document bodies, and
//! reads the script of `sh -c '…'`/`bash -c "…"` as commands of the same line. It never expands or
//! runs anything. Bounded: input length, word and command counts, `-c` nesting.

/// Longest script read (bytes); the rest is not parsed and the script is marked truncated.
pub const MAX_SCRIPT_BYTES: usize = 1 << 20;
/// At most this many commands per script (nested `-c` scripts included).
pub const MAX_COMMANDS: usize = 20_000;
/// At most this many words in one command.
pub const MAX_WORDS: usize = 4_096;
/// `sh -c "bash -c '…'"` is followed this deep.
pub const MAX_NESTING: usize = 4;

/// One simple command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// `NAME=value` assignments before the command, and those of `export`/`ENV`-like builtins.
    pub assignments: Vec<(String, String)>,
    /// The words after wrappers such as `sudo` and `env` were removed: `argv[0]` is the program.
    pub argv: Vec<String>,
    /// 1-based line of the command's first word.
    pub line: u32,
    /// Commands joined by `|` share a pipeline id; `stage` counts from 0 within it.
    pub pipeline: usize,
    pub stage: usize,
    /// Set on commands read from a `sh -c` argument (their line is the outer command's).
    pub nested: bool,
}

impl Command {
    /// The program name without its directory (`/usr/bin/python3` → `python3`).
    pub fn program(&self) -> &str {
        self.argv
            .first()
            .map(|p| p.rsplit('/').next().unwrap_or(p))
            .unwrap_or("")
    }

    /// The words after the program.
    pub fn args(&self) -> &[String] {
        self.argv.get(1..).unwrap_or(&[])
    }

    /// The command as one display line (bounded).
    pub fn display(&self) -> String {
        let mut text = self.argv.join(" ");
        if text.len() > 300 {
            let mut cut = 300;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        text
    }
}

/// Every command of a script, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    pub commands: Vec<Command>,
    /// True when a bound stopped the parse: not every command was seen.
    pub truncated: bool,
}

impl Script {
    /// The commands of the pipeline `pipeline` that come after `stage`.
    pub fn downstream(&self, pipeline: usize, stage: usize) -> impl Iterator<Item = &Command> {
        self.commands
            .iter()
            .filter(move |c| c.pipeline == pipeline && c.stage > stage)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word {
        text: String,
        line: u32,
    },
    /// `&&`, `||`, `;`, `&`, newline, `(`, `)`: ends a command and its pipeline.
    Separator,
    /// `|` (and `|&`).
    Pipe,
    /// `>`, `>>`, `<`, `2>`, `&>`...: the next word is a redirection target.
    Redirect,
    /// `<<DELIM`: a here-document; its body starts on the next line.
    HereDoc {
        delimiter: String,
        strip_tabs: bool,
    },
}

/// Parses `text`, whose first line is line `first_line` of its file.
pub fn parse(text: &str, first_line: u32) -> Script {
    let mut state = Builder {
        script: Script::default(),
        next_pipeline: 0,
    };
    state.parse_into(text, first_line, 0);
    state.script
}

struct Builder {
    script: Script,
    next_pipeline: usize,
}

impl Builder {
    fn parse_into(&mut self, text: &str, first_line: u32, depth: usize) {
        let text = if text.len() > MAX_SCRIPT_BYTES {
            self.script.truncated = true;
            let mut cut = MAX_SCRIPT_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            &text[..cut]
        } else {
            text
        };
        let tokens = tokenize(text, first_line);
        let mut words: Vec<(String, u32)> = Vec::new();
        let mut stage = 0usize;
        let mut pipeline = self.next_pipeline;
        let mut skip_target = false;
        for token in tokens {
            match token {
                Token::Word { text, line } => {
                    if skip_target {
                        skip_target = false;
                        continue;
                    }
                    if words.len() < MAX_WORDS {
                        words.push((text, line));
                    } else {
                        self.script.truncated = true;
                    }
                }
                Token::Redirect => skip_target = true,
                Token::HereDoc { .. } => {}
                Token::Pipe => {
                    self.finish(std::mem::take(&mut words), pipeline, stage, depth);
                    stage += 1;
                }
                Token::Separator => {
                    skip_target = false;
                    self.finish(std::mem::take(&mut words), pipeline, stage, depth);
                    self.next_pipeline += 1;
                    pipeline = self.next_pipeline;
                    stage = 0;
                }
            }
        }
        self.finish(words, pipeline, stage, depth);
        self.next_pipeline += 1;
    }

    fn finish(&mut self, words: Vec<(String, u32)>, pipeline: usize, stage: usize, depth: usize) {
        if words.is_empty() {
            return;
        }
        if self.script.commands.len() >= MAX_COMMANDS {
            self.script.truncated = true;
            return;
        }
        let line = words[0].1;
        let mut words: Vec<String> = words.into_iter().map(|(w, _)| w).collect();
        // Reserved words that introduce a command (`if pip install …; then`).
        while let Some(first) = words.first() {
            if matches!(
                first.as_str(),
                "if" | "then"
                    | "else"
                    | "elif"
                    | "do"
                    | "while"
                    | "until"
                    | "!"
                    | "{"
                    | "}"
                    | "time"
            ) {
                words.remove(0);
            } else {
                break;
            }
        }
        if words.is_empty()
            || matches!(
                words[0].as_str(),
                "fi" | "done" | "esac" | "for" | "case" | "function"
            )
        {
            return;
        }
        let mut assignments = Vec::new();
        while let Some(first) = words.first() {
            match split_assignment(first) {
                Some(pair) => {
                    assignments.push(pair);
                    words.remove(0);
                }
                None => break,
            }
        }
        let argv = strip_wrappers(words, &mut assignments);
        let command = Command {
            assignments,
            argv,
            line,
            pipeline,
            stage,
            nested: depth > 0,
        };
        let inner = inline_script(&command);
        self.script.commands.push(command);
        if let Some(inner) = inner {
            if depth < MAX_NESTING {
                // The inner script starts on the outer command's line.
                self.parse_into(&inner, line, depth + 1);
            } else {
                self.script.truncated = true;
            }
        }
    }
}

/// `NAME=value` with a valid shell name.
pub fn split_assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_')
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    Some((name.to_string(), value.to_string()))
}

/// Removes `sudo`, `env`, `nohup`, `exec`, `command`, `timeout N`, `stdbuf`...; `export A=b`
/// and `env A=b cmd` add to `assignments`.
fn strip_wrappers(mut words: Vec<String>, assignments: &mut Vec<(String, String)>) -> Vec<String> {
    loop {
        let Some(first) = words.first() else {
            return words;
        };
        let program = first.rsplit('/').next().unwrap_or(first).to_string();
        match program.as_str() {
            "sudo" | "doas" => {
                words.remove(0);
                // Options, and the values of the options that take one.
                while let Some(word) = words.first() {
                    if !word.starts_with('-') {
                        break;
                    }
                    let takes_value = matches!(word.as_str(), "-u" | "-g" | "-C" | "-h" | "-p");
                    words.remove(0);
                    if takes_value && !words.is_empty() {
                        words.remove(0);
                    }
                }
            }
            "env" => {
                words.remove(0);
                while let Some(word) = words.first() {
                    if word.starts_with('-') {
                        words.remove(0);
                    } else if let Some(pair) = split_assignment(word) {
                        assignments.push(pair);
                        words.remove(0);
                    } else {
                        break;
                    }
                }
            }
            "nohup" | "exec" | "command" | "builtin" | "stdbuf" | "nice" | "eatmydata" => {
                words.remove(0);
                while words.first().is_some_and(|w| w.starts_with('-')) {
                    words.remove(0);
                }
            }
            "timeout" => {
                words.remove(0);
                while words.first().is_some_and(|w| w.starts_with('-')) {
                    words.remove(0);
                }
                if !words.is_empty() {
                    words.remove(0); // the duration
                }
            }
            "export" | "declare" | "typeset" | "readonly" | "local" => {
                for word in words.iter().skip(1) {
                    if let Some(pair) = split_assignment(word) {
                        assignments.push(pair);
                    }
                }
                return vec![program];
            }
            _ => return words,
        }
    }
}

/// The script of `sh -c SCRIPT`, `bash -lc SCRIPT`, `/bin/sh -ec SCRIPT`...
fn inline_script(command: &Command) -> Option<String> {
    if !matches!(
        command.program(),
        "sh" | "bash" | "dash" | "zsh" | "ash" | "ksh"
    ) {
        return None;
    }
    let mut args = command.args().iter();
    while let Some(arg) = args.next() {
        if arg.starts_with('-') && !arg.starts_with("--") && arg.contains('c') {
            return args.next().cloned();
        }
        if !arg.starts_with('-') {
            return None;
        }
    }
    None
}

/// The words of `text` (quotes removed, operators and redirections dropped): `ENV` arguments.
pub fn words(text: &str) -> Vec<String> {
    tokenize(text, 1)
        .into_iter()
        .filter_map(|t| match t {
            Token::Word { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

/// Splits shell text into words and operators.
fn tokenize(text: &str, first_line: u32) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0usize;
    let mut line = first_line;
    let mut word = String::new();
    let mut word_line = line;
    let mut in_word = false;
    let mut pending_heredocs: Vec<(String, bool)> = Vec::new();

    macro_rules! end_word {
        () => {
            if in_word {
                tokens.push(Token::Word {
                    text: std::mem::take(&mut word),
                    line: word_line,
                });
                in_word = false;
            }
        };
    }
    macro_rules! start_word {
        () => {
            if !in_word {
                in_word = true;
                word_line = line;
            }
        };
    }

    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                if chars.get(i + 1) == Some(&'\n') {
                    i += 2;
                    line += 1;
                    continue;
                }
                if chars.get(i + 1) == Some(&'\r') && chars.get(i + 2) == Some(&'\n') {
                    i += 3;
                    line += 1;
                    continue;
                }
                start_word!();
                if let Some(&next) = chars.get(i + 1) {
                    word.push(next);
                }
                i += 2;
            }
            '\n' => {
                end_word!();
                tokens.push(Token::Separator);
                line += 1;
                i += 1;
                // Here-document bodies follow the line that opened them.
                for (delimiter, strip_tabs) in std::mem::take(&mut pending_heredocs) {
                    loop {
                        if i >= chars.len() {
                            break;
                        }
                        let end = chars[i..]
                            .iter()
                            .position(|&c| c == '\n')
                            .map_or(chars.len(), |p| i + p);
                        let body_line: String = chars[i..end].iter().collect();
                        i = (end + 1).min(chars.len());
                        line += 1;
                        let candidate = if strip_tabs {
                            body_line.trim_start_matches('\t')
                        } else {
                            body_line.as_str()
                        };
                        if candidate.trim_end_matches('\r') == delimiter {
                            break;
                        }
                    }
                }
            }
            ' ' | '\t' | '\r' => {
                end_word!();
                i += 1;
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\'' => {
                start_word!();
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                start_word!();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    match chars[i] {
                        '\\' if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars[i + 1]);
                            i += 2;
                        }
                        '\\' if chars.get(i + 1) == Some(&'\n') => {
                            line += 1;
                            i += 2;
                        }
                        '$' if chars.get(i + 1) == Some(&'(') => {
                            i = copy_balanced(&chars, i, '(', ')', &mut word, &mut line);
                        }
                        '$' if chars.get(i + 1) == Some(&'{') => {
                            i = copy_balanced(&chars, i, '{', '}', &mut word, &mut line);
                        }
                        ch => {
                            if ch == '\n' {
                                line += 1;
                            }
                            word.push(ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
            }
            '`' => {
                start_word!();
                word.push('`');
                i += 1;
                while i < chars.len() && chars[i] != '`' {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
                word.push('`');
                i += 1;
            }
            '$' if matches!(chars.get(i + 1), Some('(' | '{')) => {
                start_word!();
                let (open, close) = if chars[i + 1] == '(' {
                    ('(', ')')
                } else {
                    ('{', '}')
                };
                i = copy_balanced(&chars, i, open, close, &mut word, &mut line);
            }
            ';' | '(' | ')' => {
                end_word!();
                tokens.push(Token::Separator);
                i += if c == ';' && chars.get(i + 1) == Some(&';') {
                    2
                } else {
                    1
                };
            }
            '&' => {
                end_word!();
                if chars.get(i + 1) == Some(&'&') {
                    tokens.push(Token::Separator);
                    i += 2;
                } else if chars.get(i + 1) == Some(&'>') {
                    tokens.push(Token::Redirect);
                    i += if chars.get(i + 2) == Some(&'>') { 3 } else { 2 };
                } else {
                    tokens.push(Token::Separator);
                    i += 1;
                }
            }
            '|' => {
                end_word!();
                if chars.get(i + 1) == Some(&'|') {
                    tokens.push(Token::Separator);
                    i += 2;
                } else {
                    tokens.push(Token::Pipe);
                    i += if chars.get(i + 1) == Some(&'&') { 2 } else { 1 };
                }
            }
            '<' if chars.get(i + 1) == Some(&'<') && chars.get(i + 2) != Some(&'<') => {
                end_word!();
                i += 2;
                let strip_tabs = chars.get(i) == Some(&'-');
                if strip_tabs {
                    i += 1;
                }
                while chars.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
                    i += 1;
                }
                let mut delimiter = String::new();
                while let Some(&ch) = chars.get(i) {
                    if ch.is_whitespace() || matches!(ch, ';' | '&' | '|' | '<' | '>' | ')') {
                        break;
                    }
                    if ch != '\'' && ch != '"' && ch != '\\' {
                        delimiter.push(ch);
                    }
                    i += 1;
                }
                if !delimiter.is_empty() {
                    tokens.push(Token::HereDoc {
                        delimiter: delimiter.clone(),
                        strip_tabs,
                    });
                    pending_heredocs.push((delimiter, strip_tabs));
                }
            }
            '<' | '>' => {
                // A file-descriptor number directly before is part of the operator (`2>`).
                if in_word && !word.is_empty() && word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                } else {
                    end_word!();
                }
                i += 1;
                while matches!(chars.get(i), Some('>' | '<' | '|')) {
                    i += 1;
                }
                // `>&2`, `2>&1`: the descriptor is the target.
                if chars.get(i) == Some(&'&') {
                    i += 1;
                }
                if c == '<' && chars.get(i - 1) == Some(&'<') && chars.get(i) != Some(&' ') {
                    // `<<<word`: a here-string, the word is data.
                }
                tokens.push(Token::Redirect);
            }
            _ => {
                start_word!();
                word.push(c);
                i += 1;
            }
        }
    }
    if in_word {
        tokens.push(Token::Word {
            text: word,
            line: word_line,
        });
    }
    tokens
}

/// Copies `$(…)`, `${…}` or `${{ … }}` starting at `start` (the `$`) into `word`, balancing
/// `open`/`close` outside quotes; returns the index after it.
fn copy_balanced(
    chars: &[char],
    start: usize,
    open: char,
    close: char,
    word: &mut String,
    line: &mut u32,
) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        word.push(c);
        if c == '\n' {
            *line += 1;
        }
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == open => depth += 1,
            None if c == close => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            None => {}
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argvs(text: &str) -> Vec<Vec<String>> {
        parse(text, 1)
            .commands
            .into_iter()
            .map(|c| c.argv)
            .collect()
    }

    #[test]
    fn splits_on_operators_and_keeps_lines() {
        let script = parse(
            "set -e\npip install torch==2.1 && \\\n  pip install -r req.txt; echo done\ncurl -fsSL https://x.invalid/i.sh | sudo bash -s --",
            10,
        );
        let lines: Vec<u32> = script.commands.iter().map(|c| c.line).collect();
        assert_eq!(lines, vec![10, 11, 12, 12, 13, 13]);
        let curl = &script.commands[4];
        let bash = &script.commands[5];
        assert_eq!(curl.pipeline, bash.pipeline);
        assert_eq!((curl.stage, bash.stage), (0, 1));
        assert_eq!(bash.argv, vec!["bash", "-s", "--"]);
    }

    #[test]
    fn quotes_expansions_and_redirects() {
        assert_eq!(
            argvs(
                r#"pip install "torch>=2" 'numpy<2' --index-url "${{ secrets.IDX }}" > /dev/null 2>&1"#
            ),
            vec![vec![
                "pip",
                "install",
                "torch>=2",
                "numpy<2",
                "--index-url",
                "${{ secrets.IDX }}"
            ]]
        );
        assert_eq!(
            argvs("echo $(curl -s https://x.invalid | head -1) # comment | sh"),
            vec![vec!["echo", "$(curl -s https://x.invalid | head -1)"]]
        );
    }

    #[test]
    fn assignments_wrappers_and_exports() {
        let script = parse(
            "export PIP_EXTRA_INDEX_URL=https://a.invalid/simple\nHF_TOKEN=x sudo -E env A=1 python3 -m pip install x",
            1,
        );
        assert_eq!(script.commands[0].argv, vec!["export"]);
        assert_eq!(script.commands[0].assignments[0].0, "PIP_EXTRA_INDEX_URL");
        let second = &script.commands[1];
        assert_eq!(second.argv, vec!["python3", "-m", "pip", "install", "x"]);
        assert_eq!(second.assignments.len(), 2);
    }

    #[test]
    fn nested_sh_c_scripts_are_read() {
        let script = parse(
            "bash -c \"pip install foo && vllm serve org/m --trust-remote-code\"",
            3,
        );
        let programs: Vec<&str> = script.commands.iter().map(Command::program).collect();
        assert_eq!(programs, vec!["bash", "pip", "vllm"]);
        assert!(script.commands.iter().all(|c| c.line == 3));
    }

    #[test]
    fn heredoc_bodies_are_skipped() {
        let script = parse(
            "cat > x.py <<'EOF'\npip install evil\nEOF\npip install ok",
            1,
        );
        let programs: Vec<&str> = script.commands.iter().map(Command::program).collect();
        assert_eq!(programs, vec!["cat", "pip"]);
        assert_eq!(script.commands[1].line, 4);
        assert_eq!(script.commands[1].argv[2], "ok");
    }

    #[test]
    fn reserved_words_are_not_programs() {
        let programs: Vec<String> = parse("if true; then pip install x; fi", 1)
            .commands
            .iter()
            .map(|c| c.program().to_string())
            .collect();
        assert_eq!(programs, vec!["true", "pip"]);
    }
}
