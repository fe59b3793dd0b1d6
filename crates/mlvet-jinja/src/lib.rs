//! A Jinja2 template parser that never renders, and an analysis of what a template reaches.
//!
//! Chat templates (Hugging Face `tokenizer_config.json`, GGUF `tokenizer.chat_template`) are
//! Jinja2 programs rendered by `transformers` (an `ImmutableSandboxedEnvironment`) and by
//! llama-cpp-python (a plain `Environment` before 0.2.72: CVE-2024-34359). A template that walks
//! from any object to `__class__`, `__globals__` or `__builtins__` runs arbitrary Python where
//! the sandbox is missing, and probes for sandbox gaps where it is present.
//!
//! - [`lex`] splits a template into data, `{{ }}` expressions, `{% %}` statements and comments,
//!   the way Jinja2's lexer does (whitespace control `-`/`+`, `raw` blocks, string escapes
//!   decoded like Python's `unicode-escape`).
//! - [`parse`] builds a syntax tree ([`Template`]) with Jinja2's grammar and operator precedence.
//! - [`analyze`] walks the tree, constant-folds the strings it can (`~`, `+`, `%`, `format`,
//!   `join`, `replace`, `reverse`, `dict(...)` keys, variables `set` to constants) and reports
//!   every attribute or item name that reaches interpreter internals, every gadget object used as
//!   an object, and every attribute name it cannot determine ([`Issue`]).
//!
//! Everything is bounded by [`Limits`] (source size, nesting depth, node count); exceeding a
//! bound is an error, never a partial answer.

mod analysis;
mod ast;
mod lexer;
mod parser;
mod unparse;

pub use analysis::{Analysis, Issue, IssueKind, Severity, analyze};
pub use ast::{BinOp, CallArgs, Const, Expr, ExprKind, Node, Template, UnaryOp};
pub use lexer::{Token, TokenKind, lex};
pub use parser::parse;
pub use unparse::to_source;

/// Bounds of one parse. Real chat templates are a few KiB with a nesting depth under 10.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest template source, in bytes.
    pub max_source_bytes: usize,
    /// Deepest nesting of statements and expressions together.
    pub max_depth: usize,
    /// Most syntax-tree nodes (statements and expressions).
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source_bytes: 1024 * 1024,
            max_depth: 96,
            max_nodes: 200_000,
        }
    }
}

/// Why a template could not be parsed. Jinja2 itself would refuse most of these
/// (`TemplateSyntaxError`); the bounds are mlvet's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {message}")]
    Syntax { line: u32, message: String },
    #[error("template is {size} bytes, more than the {limit} bytes inspected")]
    TooLarge { size: usize, limit: usize },
    #[error("line {line}: nesting deeper than {limit} levels")]
    TooDeep { line: u32, limit: usize },
    #[error("more than {limit} syntax nodes")]
    TooManyNodes { limit: usize },
}

impl ParseError {
    /// The 1-based template line the error is at, when it has one.
    pub fn line(&self) -> Option<u32> {
        match self {
            ParseError::Syntax { line, .. } | ParseError::TooDeep { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// Whether a bound of [`Limits`] was hit (rather than the template being invalid).
    pub fn is_limit(&self) -> bool {
        !matches!(self, ParseError::Syntax { .. })
    }
}

/// Parses and analyses a template in one call.
pub fn inspect(source: &str, limits: &Limits) -> Result<Analysis, ParseError> {
    let template = parse(source, limits)?;
    Ok(analyze(&template))
}
