//! One pass over a parsed module: every call with its import-resolved dotted name, its arguments
//! as literals where they are literals, and its position; the imports; `os.environ` writes; the
//! inline suppression comments. This is the reusable part other analyses build their rules on.

use std::collections::{BTreeSet, HashMap};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, PySourceType, Stmt};
use ruff_python_parser::parse_unchecked_source;
use ruff_text_size::Ranged;

use crate::position::{LineIndex, Position};
use crate::suppress::{self, InlineSuppression};

/// Source larger than this is not parsed (the file is reported as not fully analysed): the
/// biggest hand-written modules of the largest ML libraries are well under 2 MiB.
pub const MAX_SOURCE_BYTES: usize = 8 * 1024 * 1024;

/// Above this AST depth the walk goes on (on a heap-grown stack) but stops collecting, and the
/// file is reported as not fully analysed. Real code stays far below it.
pub const MAX_ANALYSED_DEPTH: usize = 1_000;

/// Stack kept free before the walk (and the final drop of a deep tree) grows its stack.
const STACK_RED_ZONE: usize = 128 * 1024;
const STACK_GROWTH: usize = 2 * 1024 * 1024;

/// A value as far as the code spells it out, without evaluating anything.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Literal {
    Str(String),
    Bytes,
    /// An integer or float as written.
    Number(String),
    Bool(bool),
    None,
    /// A name or attribute chain, resolved through the imports (`yaml.SafeLoader`), or as
    /// written when its root is not imported (`self.path`).
    Name(String),
    /// Anything else: a call, an f-string, an expression.
    Other,
}

impl Literal {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Literal::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn is_true(&self) -> bool {
        matches!(self, Literal::Bool(true))
    }

    /// Truthy as Python would see it, for the literals whose truth is known.
    pub fn truthiness(&self) -> Option<bool> {
        match self {
            Literal::Bool(value) => Some(*value),
            Literal::None => Some(false),
            Literal::Str(text) => Some(!text.is_empty()),
            Literal::Number(text) => {
                Some(text.trim_start_matches(['0', '.', '_']).is_empty().not())
            }
            _ => None,
        }
    }

    /// Short display for evidence.
    pub fn display(&self) -> String {
        match self {
            Literal::Str(text) => format!("{text:?}"),
            Literal::Bytes => "b'…'".to_string(),
            Literal::Number(text) => text.clone(),
            Literal::Bool(true) => "True".to_string(),
            Literal::Bool(false) => "False".to_string(),
            Literal::None => "None".to_string(),
            Literal::Name(name) => name.clone(),
            Literal::Other => "<expression>".to_string(),
        }
    }
}

trait Not {
    fn not(self) -> bool;
}
impl Not for bool {
    fn not(self) -> bool {
        !self
    }
}

/// One keyword argument; `name` is `None` for `**kwargs`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Keyword {
    pub name: Option<String>,
    pub value: Literal,
}

/// One call expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Call {
    /// The callee as a dotted name with import aliases resolved: `import torch as t; t.load()` →
    /// `torch.load`; `from pickle import loads as l; l()` → `pickle.loads`. A callee whose root
    /// is not a plain name (a call result, a subscript) starts with `?`: `?.from_pretrained`.
    pub name: String,
    /// The callee as written, e.g. `t.load`.
    pub written: String,
    /// Whether the root of `name` came from an import.
    pub resolved: bool,
    /// Positional arguments (a `*args` is [`Literal::Other`] and sets `star_args`).
    pub args: Vec<Literal>,
    pub keywords: Vec<Keyword>,
    pub star_args: bool,
    pub star_kwargs: bool,
    pub position: Position,
    /// Last line of the call (a suppression comment may sit on any line the call spans).
    pub end_line: u32,
}

impl Call {
    /// The last segment of the callee: `from_pretrained` for `AutoModel.from_pretrained`.
    pub fn method(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }

    /// The value of keyword `name`, if given literally by name.
    pub fn keyword(&self, name: &str) -> Option<&Literal> {
        self.keywords
            .iter()
            .find(|k| k.name.as_deref() == Some(name))
            .map(|k| &k.value)
    }

    /// The argument passed by keyword `name` or else at positional `index`.
    pub fn argument(&self, name: &str, index: usize) -> Option<&Literal> {
        self.keyword(name).or_else(|| self.args.get(index))
    }
}

/// A write of an environment variable: `os.environ["X"] = "1"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvAssignment {
    pub variable: String,
    pub value: Literal,
    pub position: Position,
}

/// A syntax error the parser recovered from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyntaxIssue {
    pub position: Position,
    pub message: String,
}

/// What one pass over a module (or a notebook's cells, in order) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceAnalysis {
    pub calls: Vec<Call>,
    /// Every module named by an import statement (`import a.b` → `a.b`; `from a import b` → `a`).
    pub imported_modules: BTreeSet<String>,
    pub env_assignments: Vec<EnvAssignment>,
    pub syntax_errors: Vec<SyntaxIssue>,
    pub suppressions: Vec<InlineSuppression>,
    /// Why part of the source was not analysed (size, nesting), if any part was not.
    pub incomplete: Vec<String>,
}

impl SourceAnalysis {
    /// True when the whole source was parsed without error and walked to the end.
    pub fn complete(&self) -> bool {
        self.syntax_errors.is_empty() && self.incomplete.is_empty()
    }

    /// Whether any import names `module` or a submodule of it.
    pub fn imports(&self, module: &str) -> bool {
        self.imported_modules.iter().any(|m| {
            m == module || (m.starts_with(module) && m.as_bytes().get(module.len()) == Some(&b'.'))
        })
    }
}

/// Import bindings shared by the cells of one notebook (and by one module).
#[derive(Debug, Default)]
pub struct Scope {
    aliases: HashMap<String, String>,
}

/// Analyses one Python module.
pub fn analyze_source(source: &str) -> SourceAnalysis {
    let mut analysis = SourceAnalysis::default();
    let mut scope = Scope::default();
    analyze_into(source, None, &mut scope, &mut analysis);
    analysis
}

/// Analyses one unit (a module or a notebook cell) into `analysis`, resolving names through
/// `scope`, which keeps the unit's imports for the units after it.
pub(crate) fn analyze_into(
    source: &str,
    cell: Option<u32>,
    scope: &mut Scope,
    analysis: &mut SourceAnalysis,
) {
    if source.len() > MAX_SOURCE_BYTES {
        analysis.incomplete.push(format!(
            "source of {} bytes is larger than the {MAX_SOURCE_BYTES}-byte limit: not parsed",
            source.len()
        ));
        return;
    }
    let index = LineIndex::new(source);
    let parsed = stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
        parse_unchecked_source(source, PySourceType::Python)
    });
    for error in parsed.errors() {
        analysis.syntax_errors.push(SyntaxIssue {
            position: index.position(error.location.start().to_usize(), cell),
            message: error.error.to_string(),
        });
    }
    for token in parsed.tokens().iter() {
        if token.kind() == ruff_python_ast::token::TokenKind::Comment {
            let range = token.range();
            let Some(text) = source.get(range.start().to_usize()..range.end().to_usize()) else {
                continue;
            };
            let start = range.start().to_usize();
            let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
            let standalone = source[line_start..start].trim().is_empty();
            if let Some(found) = suppress::parse_comment(text, index.line(start), cell, standalone)
            {
                analysis.suppressions.push(found);
            }
        }
    }
    let mut walker = Walker {
        index: &index,
        cell,
        scope,
        analysis,
        depth: 0,
        max_depth: 0,
        too_deep: false,
    };
    for stmt in parsed.syntax().body.iter() {
        walker.visit_stmt(stmt);
    }
    let (too_deep, max_depth) = (walker.too_deep, walker.max_depth);
    if too_deep {
        analysis.incomplete.push(format!(
            "nesting deeper than {MAX_ANALYSED_DEPTH} levels ({max_depth}): the innermost code was not analysed"
        ));
    }
    // Dropping the tree recurses once per level, and the parser accepts any depth (it grows its
    // own stack): drop it on a stack sized from the depth the walk measured.
    let stack = STACK_GROWTH.saturating_add(max_depth.saturating_mul(DROP_BYTES_PER_LEVEL));
    stacker::maybe_grow(stack, stack, move || drop(parsed));
}

/// Stack reserved per AST level when a parsed tree is dropped (the drop glue takes a few small
/// frames per level; this leaves a wide margin).
const DROP_BYTES_PER_LEVEL: usize = 1024;

struct Walker<'s, 'i> {
    index: &'i LineIndex<'i>,
    cell: Option<u32>,
    scope: &'s mut Scope,
    analysis: &'s mut SourceAnalysis,
    depth: usize,
    max_depth: usize,
    too_deep: bool,
}

impl Walker<'_, '_> {
    fn position(&self, offset: usize) -> Position {
        self.index.position(offset, self.cell)
    }

    fn bind_import(&mut self, stmt: &ast::StmtImport) {
        for alias in &stmt.names {
            let module = alias.name.as_str().to_string();
            self.analysis.imported_modules.insert(module.clone());
            match &alias.asname {
                Some(asname) => {
                    self.scope
                        .aliases
                        .insert(asname.as_str().to_string(), module);
                }
                None => {
                    // `import a.b.c` binds `a`.
                    let root = module.split('.').next().unwrap_or(&module).to_string();
                    self.scope.aliases.insert(root.clone(), root);
                }
            }
        }
    }

    fn bind_import_from(&mut self, stmt: &ast::StmtImportFrom) {
        let dots = ".".repeat(stmt.level as usize);
        let module = stmt
            .module
            .as_ref()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        let base = format!("{dots}{module}");
        if stmt.level == 0 && !module.is_empty() {
            self.analysis.imported_modules.insert(module.clone());
        }
        for alias in &stmt.names {
            let name = alias.name.as_str();
            if name == "*" {
                continue;
            }
            let target = if base.ends_with('.') || base.is_empty() {
                format!("{base}{name}")
            } else {
                format!("{base}.{name}")
            };
            if stmt.level == 0 {
                // `from torch import hub` imports the submodule `torch.hub` when it is one.
                self.analysis.imported_modules.insert(target.clone());
            }
            let bound = alias.asname.as_ref().map_or(name, |a| a.as_str());
            self.scope.aliases.insert(bound.to_string(), target);
        }
    }

    /// The dotted name of a name/attribute chain with its root resolved, and whether the root was
    /// an import. `None` when the expression is not a chain of names.
    fn dotted(&self, expr: &Expr) -> Option<(String, String, bool)> {
        let mut parts = Vec::new();
        let mut current = expr;
        loop {
            match current {
                Expr::Attribute(attribute) => {
                    parts.push(attribute.attr.as_str());
                    current = &attribute.value;
                }
                Expr::Name(name) => {
                    let root = name.id.as_str();
                    parts.reverse();
                    let tail = parts.join(".");
                    let join = |head: &str| {
                        if tail.is_empty() {
                            head.to_string()
                        } else {
                            format!("{head}.{tail}")
                        }
                    };
                    let written = join(root);
                    return Some(match self.scope.aliases.get(root) {
                        Some(target) => (join(target), written, true),
                        None => (written.clone(), written, false),
                    });
                }
                _ => {
                    if parts.is_empty() {
                        return None;
                    }
                    parts.reverse();
                    let tail = parts.join(".");
                    return Some((format!("?.{tail}"), format!("?.{tail}"), false));
                }
            }
        }
    }

    fn literal(&self, expr: &Expr) -> Literal {
        match expr {
            Expr::StringLiteral(s) => Literal::Str(s.value.to_str().to_string()),
            Expr::BytesLiteral(_) => Literal::Bytes,
            Expr::NumberLiteral(n) => Literal::Number(match &n.value {
                ast::Number::Int(int) => int.to_string(),
                ast::Number::Float(float) => float.to_string(),
                ast::Number::Complex { real, imag } => format!("{real}+{imag}j"),
            }),
            Expr::BooleanLiteral(b) => Literal::Bool(b.value),
            Expr::NoneLiteral(_) => Literal::None,
            Expr::Name(_) | Expr::Attribute(_) => match self.dotted(expr) {
                Some((name, _, _)) if !name.starts_with('?') => Literal::Name(name),
                _ => Literal::Other,
            },
            _ => Literal::Other,
        }
    }

    fn record_call(&mut self, call: &ast::ExprCall) {
        let Some((name, written, resolved)) = self.dotted(&call.func) else {
            return;
        };
        let range = call.range();
        let mut args = Vec::with_capacity(call.arguments.args.len());
        let mut star_args = false;
        for arg in call.arguments.args.iter() {
            if let Expr::Starred(_) = arg {
                star_args = true;
                args.push(Literal::Other);
            } else {
                args.push(self.literal(arg));
            }
        }
        let mut star_kwargs = false;
        let keywords = call
            .arguments
            .keywords
            .iter()
            .map(|keyword| {
                if keyword.arg.is_none() {
                    star_kwargs = true;
                }
                Keyword {
                    name: keyword.arg.as_ref().map(|a| a.as_str().to_string()),
                    value: self.literal(&keyword.value),
                }
            })
            .collect();
        let position = self.position(range.start().to_usize());
        let end_line = self.index.line(range.end().to_usize());
        self.analysis.calls.push(Call {
            name,
            written,
            resolved,
            args,
            keywords,
            star_args,
            star_kwargs,
            position,
            end_line,
        });
    }

    fn record_env_assignment(&mut self, assign: &ast::StmtAssign) {
        for target in &assign.targets {
            let Expr::Subscript(subscript) = target else {
                continue;
            };
            let Some((name, _, _)) = self.dotted(&subscript.value) else {
                continue;
            };
            if name != "os.environ" {
                continue;
            }
            if let Literal::Str(variable) = self.literal(&subscript.slice) {
                let value = self.literal(&assign.value);
                let position = self.position(assign.range().start().to_usize());
                self.analysis.env_assignments.push(EnvAssignment {
                    variable,
                    value,
                    position,
                });
            }
        }
    }

    /// Enters one AST level; false when it is past the analysed depth (the walk still goes on,
    /// without collecting, to measure the depth for the drop).
    fn enter(&mut self) -> bool {
        self.depth += 1;
        self.max_depth = self.max_depth.max(self.depth);
        if self.depth > MAX_ANALYSED_DEPTH {
            self.too_deep = true;
            false
        } else {
            true
        }
    }
}

impl<'a> Visitor<'a> for Walker<'_, '_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.enter() {
            match stmt {
                Stmt::Import(import) => self.bind_import(import),
                Stmt::ImportFrom(import) => self.bind_import_from(import),
                Stmt::Assign(assign) => self.record_env_assignment(assign),
                _ => {}
            }
        }
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
            visitor::walk_stmt(self, stmt)
        });
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.enter()
            && let Expr::Call(call) = expr
        {
            self.record_call(call);
        }
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
            visitor::walk_expr(self, expr)
        });
        self.depth -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(source: &str) -> Vec<Call> {
        analyze_source(source).calls
    }

    #[test]
    fn aliases_resolve_to_dotted_names() {
        let found = calls(
            "import torch as t\nfrom pickle import loads as l\nimport torch.hub\nfrom transformers import AutoModel\n\
             t.load('a')\nl(b'x')\ntorch.hub.load('r', 'm')\nAutoModel.from_pretrained('gpt2').to('cpu')\n",
        );
        let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "torch.load",
                "pickle.loads",
                "torch.hub.load",
                "?.to",
                "transformers.AutoModel.from_pretrained"
            ]
        );
        assert_eq!(found[0].written, "t.load");
        assert!(found[0].resolved);
        assert_eq!((found[0].position.line, found[0].position.column), (5, 1));
    }

    #[test]
    fn literal_arguments_are_kept() {
        let found = calls(
            "import yaml\nyaml.load(f, Loader=yaml.SafeLoader, n=3, s='x', b=True, o=f(x), **kw)\n",
        );
        let call = &found[0];
        assert_eq!(
            call.keyword("Loader"),
            Some(&Literal::Name("yaml.SafeLoader".into()))
        );
        assert_eq!(call.keyword("n"), Some(&Literal::Number("3".into())));
        assert_eq!(call.keyword("s"), Some(&Literal::Str("x".into())));
        assert_eq!(call.keyword("b"), Some(&Literal::Bool(true)));
        assert_eq!(call.keyword("o"), Some(&Literal::Other));
        assert!(call.star_kwargs);
        assert_eq!(call.args, [Literal::Name("f".into())]);
    }

    #[test]
    fn environment_writes_are_recorded() {
        let analysis =
            analyze_source("import os\nos.environ['HF_DATASETS_TRUST_REMOTE_CODE'] = '1'\n");
        assert_eq!(analysis.env_assignments.len(), 1);
        assert_eq!(
            analysis.env_assignments[0].variable,
            "HF_DATASETS_TRUST_REMOTE_CODE"
        );
    }

    #[test]
    fn recent_syntax_parses_and_errors_are_recovered() {
        // PEP 695/696 generics, PEP 701 f-strings, match, walrus, except*.
        let modern = "type Pair[T = int] = tuple[T, T]\ndef f[T](x: T) -> T:\n    return x\n\
                      s = f\"{d[\"k\"]}\"\nmatch s:\n    case _: pass\ntry:\n    pass\nexcept* ValueError:\n    pass\n";
        assert!(analyze_source(modern).complete());
        let broken = analyze_source("import torch\ndef f(:\n    pass\ntorch.load('x')\n");
        assert!(!broken.syntax_errors.is_empty());
        assert!(broken.calls.iter().any(|c| c.name == "torch.load"));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let deep = format!("x = {}1{}\n", "[".repeat(50_000), "]".repeat(50_000));
        let analysis = analyze_source(&deep);
        assert!(!analysis.complete());
        let chain = format!("x = {}\n", vec!["f(1)"; 40_000].join(" + "));
        let _ = analyze_source(&chain);
        let nots = format!("x = {}y\n", "not ".repeat(60_000));
        assert!(!analyze_source(&nots).complete());
    }
}
