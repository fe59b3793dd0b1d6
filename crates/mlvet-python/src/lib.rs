//! Python and Jupyter notebook analysis: the code that loads models, pickles and remote code.
//!
//! The safest model file is still loaded by code. This crate parses Python sources and the code
//! cells of `.ipynb` notebooks (never importing or running them), resolves import aliases
//! (`import torch as t`, `from pickle import loads as l`), and reports risky loading calls with
//! line and column: `torch.load` without `weights_only=True`, pickle-family loaders,
//! `trust_remote_code=True`, unpinned Hub downloads, Keras `safe_mode=False`, unsafe YAML,
//! LangChain's dangerous deserialisation, MLflow model loading, `torch.hub.load` and
//! version-dependent dataset scripts. `# mlvet: ignore[rule-id] reason` comments suppress findings
//! (kept in the report, marked `inline`).
//!
//! # Reusable API
//! [`analyze_source`] (and [`analyze_notebook`]) return a [`SourceAnalysis`]: every [`Call`] with
//! its resolved dotted name, positional and keyword arguments as [`Literal`]s where they are
//! literals, and its [`Position`]; the imported modules; `os.environ` writes; inline suppressions.
//! Other analyses write their own rules over it. [`notebook::shell_lines`] gives a notebook's
//! `!cmd`, `%pip …` and `%%bash` lines with cell and line, for shell rules.
//!
//! # Parser choice
//! Candidates that are pure Rust and build on rustc 1.95 (compared on the same inputs; numbers
//! in `docs/benchmarks.md`):
//!
//! | crate | Python syntax | error recovery | maintained |
//! |---|---|---|---|
//! | `ruff_python_parser` 0.0.10 (Astral) | 3.14 (PEP 695/696 generics, PEP 701 f-strings, `except*`, `match`, PEP 758) | yes: every error listed, the rest of the file still parsed into an AST | yes: the parser ruff and ty run on; Astral publishes it (0.0.11+ need rustc 1.96) |
//! | `rustpython-parser` 0.4.0 | up to 3.12 without PEP 701 nested quotes; no PEP 696 defaults, no PEP 758 | none: the first error aborts, no AST | no: archived, RustPython moved to ruff's parser |
//! | `rustpython-ruff_python_parser` 0.15.8 | as ruff's | as ruff's | an unofficial republished fork |
//!
//! `ruff_python_parser` wins on all three counts: current syntax, an AST for files with errors
//! (a scanner must still see the calls around a syntax error, and must say the file was not fully
//! read), and speed (a hand-written recursive-descent parser; rustpython's is LALRPOP-generated):
//! on 5,588 files (108 MB) of transformers, diffusers and sympy, 3.3 s against 21.6 s, release
//! builds on the same loaded machine (`scripts/parser-compare`).
//! tree-sitter-python was excluded: it is C. The parser grows its stack on deep nesting (the
//! `stacker` crate); the walk here does the same and stops collecting past
//! [`analysis::MAX_ANALYSED_DEPTH`], so hostile nesting is bounded and never overflows.

pub mod analysis;
pub mod notebook;
mod position;
pub mod rules;
mod suppress;

use std::path::Path;

use mlvet_core::{ArtifactKind, ArtifactReport, Finding, Location, Suppression, SuppressionKind};

pub use analysis::{
    Call, EnvAssignment, Keyword, Literal, SourceAnalysis, SyntaxIssue, analyze_source,
};
pub use notebook::{Notebook, NotebookError, ShellKind, ShellLine, read_notebook, shell_lines};
pub use position::Position;
pub use rules::{Context, rules};
pub use suppress::InlineSuppression;

/// What kind of code file a path is, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    Python,
    Notebook,
}

impl CodeKind {
    /// `.py` and `.pyw` are Python, `.ipynb` a notebook (case-insensitive); stubs (`.pyi`) hold
    /// no calls and are not analysed.
    pub fn of_path(path: &Path) -> Option<CodeKind> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "py" | "pyw" => Some(CodeKind::Python),
            "ipynb" => Some(CodeKind::Notebook),
            _ => None,
        }
    }

    /// The `format` of the artefact in reports.
    pub fn format(self) -> &'static str {
        match self {
            CodeKind::Python => "python",
            CodeKind::Notebook => "notebook",
        }
    }
}

/// One analysed code file: the calls and facts the rules need, kept small so that a scan can
/// analyse files in parallel and run the (inventory-dependent) rules afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFile {
    pub kind: CodeKind,
    pub size: u64,
    pub analysis: SourceAnalysis,
    /// A notebook's shell lines (empty for Python files).
    pub shell_lines: Vec<ShellLine>,
    /// A notebook that could not be read at all.
    pub unreadable: Option<String>,
}

/// Analyses the bytes of a Python file or notebook. Never fails: what cannot be read is recorded
/// and reported as not fully analysed.
pub fn analyze_bytes(kind: CodeKind, bytes: &[u8]) -> CodeFile {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    match kind {
        CodeKind::Python => {
            let text = String::from_utf8_lossy(bytes);
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            CodeFile {
                kind,
                size,
                analysis: analyze_source(text),
                shell_lines: Vec::new(),
                unreadable: None,
            }
        }
        CodeKind::Notebook => match read_notebook(bytes) {
            Ok(notebook) => {
                let (analysis, shell_lines) = analyze_notebook(&notebook);
                CodeFile {
                    kind,
                    size,
                    analysis,
                    shell_lines,
                    unreadable: None,
                }
            }
            Err(error) => CodeFile {
                kind,
                size,
                analysis: SourceAnalysis::default(),
                shell_lines: Vec::new(),
                unreadable: Some(error.to_string()),
            },
        },
    }
}

/// Analyses a notebook's code cells in order (imports in one cell resolve names in the later
/// ones, as in a kernel run top to bottom), and collects its shell lines.
pub fn analyze_notebook(notebook: &Notebook) -> (SourceAnalysis, Vec<ShellLine>) {
    let mut analysis = SourceAnalysis::default();
    let mut scope = analysis::Scope::default();
    let mut shell = Vec::new();
    let python = notebook
        .language
        .as_deref()
        .is_none_or(|language| language.eq_ignore_ascii_case("python"));
    if !python {
        analysis.incomplete.push(format!(
            "notebook kernel language is {:?}, not Python: cells not analysed",
            notebook.language.as_deref().unwrap_or("")
        ));
        return (analysis, shell);
    }
    for cell in &notebook.cells {
        if cell.kind != notebook::CellKind::Code {
            continue;
        }
        let split = notebook::split_cell(cell.index, &cell.source);
        shell.extend(split.shell);
        if split.is_python {
            analysis::analyze_into(&split.python, Some(cell.index), &mut scope, &mut analysis);
        }
    }
    (analysis, shell)
}

/// The location of a position in `display` (a notebook cell is a member: `cell 3`, 1-based).
pub fn location(display: &str, position: &Position) -> Location {
    let base = Location::file(display);
    let base = match position.cell {
        Some(cell) => base.member(format!("cell {}", u64::from(cell) + 1)),
        None => base,
    };
    base.with_line(position.line).with_column(position.column)
}

/// Runs the rules over one analysed file and builds its artefact report (kind `code`). A file
/// that was not fully read is never `safe`.
pub fn check(file: &CodeFile, display: &str, context: &Context) -> ArtifactReport {
    let analysis = &file.analysis;
    let mut findings: Vec<Finding> = rules::run(analysis, context)
        .into_iter()
        .map(|hit| {
            let mut finding = Finding::new(hit.rule, location(display, &hit.position), hit.message)
                .severity(hit.severity)
                .confidence(hit.confidence);
            for (label, value) in hit.evidence {
                finding = finding.evidence(label, value);
            }
            if !hit.remediation.is_empty() {
                finding = finding.remediation(hit.remediation);
            }
            let comment = analysis
                .suppressions
                .iter()
                .find(|s| s.covers(hit.rule.id, &hit.position, hit.end_line));
            if let Some(comment) = comment {
                finding = finding.suppressed(Suppression {
                    kind: SuppressionKind::Inline,
                    reason: if comment.reason.is_empty() {
                        "(no reason given)".to_string()
                    } else {
                        comment.reason.clone()
                    },
                    source: Some(format!(
                        "{}",
                        location(
                            display,
                            &Position {
                                cell: comment.cell,
                                line: comment.line,
                                column: 1,
                            }
                        )
                        .with_column_cleared()
                    )),
                });
            }
            finding
        })
        .collect();
    let mut fully_inspected = true;
    if let Some(problem) = &file.unreadable {
        fully_inspected = false;
        findings.push(rules::code_unanalysable::finding(
            Location::file(display),
            problem,
            1,
        ));
    }
    let problems = analysis.syntax_errors.len() + analysis.incomplete.len();
    if let Some(first) = analysis.syntax_errors.first() {
        fully_inspected = false;
        findings.push(rules::code_unanalysable::finding(
            location(display, &first.position),
            &format!("syntax error: {}", first.message),
            problems,
        ));
    } else if let Some(first) = analysis.incomplete.first() {
        fully_inspected = false;
        findings.push(rules::code_unanalysable::finding(
            Location::file(display),
            first,
            problems,
        ));
    }
    ArtifactReport::new(
        display.to_string(),
        file.kind.format().to_string(),
        file.size,
        fully_inspected,
        findings,
    )
    .with_kind(ArtifactKind::Code)
}

trait ClearColumn {
    fn with_column_cleared(self) -> Self;
}

impl ClearColumn for Location {
    /// Suppression sources name a line, not a column.
    fn with_column_cleared(mut self) -> Self {
        self.column = None;
        self
    }
}
