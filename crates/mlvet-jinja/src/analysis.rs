//! What a template reaches: attribute and item names constant-folded as far as they can be,
//! checked against Python's interpreter internals; gadget objects used as objects.
//!
//! The analysis never renders. It folds string expressions made of constants (`~`, `+`, `*`,
//! `%`, slices, the `format`, `join`, `replace`, `reverse`, `list`, `first`, `last`, `string`,
//! `lower`, `upper`, `trim` filters, the `join`/`replace`/`format`/`upper`/`lower`/`strip` string
//! methods, `dict(...)` keys, variables `set` to constants, loop variables over constant lists).
//! A name it cannot fold keeps the constant fragments it was built from, so `'__' ~ x ~ '__'`
//! still looks like a dunder.

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::{BinOp, CallArgs, Const, Expr, ExprKind, Node, Template};
use crate::unparse::expr_source;

/// How bad an issue is for the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Needs review: cannot be shown to be harmless.
    Suspicious,
    /// Reaches interpreter internals: a sandbox escape or an attempt at one.
    Malicious,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IssueKind {
    /// A `__dunder__` (or `__private`) attribute or item is reached.
    DunderAccess,
    /// An attribute Python exposes interpreter state through (`mro`, `gi_frame`, `f_globals`...).
    InternalAttribute,
    /// A `_private` attribute or item is reached (Jinja2's sandbox refuses them).
    PrivateAccess,
    /// A gadget object of Jinja2 or Flask (`cycler`, `joiner`, `lipsum`, `namespace`, `self`,
    /// `config`, `request`, `url_for`...) is used as an object: its attributes, items or (for
    /// the Flask ones) a call. Their `__init__.__globals__` lead to `os`.
    GadgetObject,
    /// A variable whose name is a dunder (`__builtins__`, `__import__`).
    DunderName,
    /// A `str.format` string whose fields walk attributes (`'{0.__class__}'.format(x)`).
    FormatStringTraversal,
    /// An attribute name that cannot be determined (the `attr` filter on a computed name, or a
    /// computed item name built from underscores).
    DynamicName,
}

impl IssueKind {
    /// Stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueKind::DunderAccess => "dunder-access",
            IssueKind::InternalAttribute => "internal-attribute",
            IssueKind::PrivateAccess => "private-access",
            IssueKind::GadgetObject => "gadget-object",
            IssueKind::DunderName => "dunder-name",
            IssueKind::FormatStringTraversal => "format-string-traversal",
            IssueKind::DynamicName => "dynamic-name",
        }
    }
}

/// One thing the template reaches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Issue {
    pub severity: Severity,
    pub kind: IssueKind,
    /// 1-based template line.
    pub line: u32,
    /// The attribute, item, variable or gadget name (as folded; `?` marks parts not known).
    pub name: String,
    /// How it is reached: `attribute`, `subscript`, `attr filter`, `map(attribute=)`, ...
    pub via: String,
    /// The expression, as source (shortened).
    pub expression: String,
}

/// The result of [`analyze`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Sorted, worst first, then by line.
    pub issues: Vec<Issue>,
}

impl Analysis {
    /// The worst severity, or `None` when nothing was found.
    pub fn worst(&self) -> Option<Severity> {
        self.issues.iter().map(|i| i.severity).max()
    }
}

/// Objects of Jinja2's default namespace and of Flask's template context whose attributes lead
/// to Python internals (`cycler.__init__.__globals__.os`, `self._TemplateReference__context`).
const GADGETS: [&str; 10] = [
    "cycler",
    "joiner",
    "namespace",
    "lipsum",
    "self",
    "config",
    "request",
    "url_for",
    "get_flashed_messages",
    "session",
];

/// Gadgets that a chat template never calls (Flask's helpers, the template reference): a call is
/// already an escape attempt. Jinja2's constructors (`namespace(...)`, `cycler(...)`) are fine.
const CALL_GADGETS: [&str; 5] = [
    "self",
    "config",
    "request",
    "url_for",
    "get_flashed_messages",
];

/// Attributes without underscores through which Python exposes frames, code and globals.
const INTERNAL_ATTRIBUTES: [&str; 20] = [
    "mro",
    "func_globals",
    "func_code",
    "func_closure",
    "im_class",
    "im_func",
    "im_self",
    "gi_frame",
    "gi_code",
    "cr_frame",
    "cr_code",
    "ag_frame",
    "ag_code",
    "f_globals",
    "f_locals",
    "f_builtins",
    "f_back",
    "tb_frame",
    "co_code",
    "gi_yieldfrom",
];

/// Longest string the folder builds (`'_' * 10**9` is not folded).
const MAX_FOLDED_LEN: usize = 4096;
/// Longest list the folder builds.
const MAX_FOLDED_ITEMS: usize = 1024;

/// A folded value.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String),
    Int(i128),
    List(Vec<Val>),
    /// Not known; `hint` holds the constant fragments it was built from.
    Unknown {
        hint: String,
    },
}

impl Val {
    fn unknown() -> Val {
        Val::Unknown {
            hint: String::new(),
        }
    }

    /// The value as Python's `str()` would give it, when known.
    fn as_text(&self) -> Option<String> {
        match self {
            Val::Str(s) => Some(s.clone()),
            Val::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// Known text, or the fragments of an unknown value.
    fn hint(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Int(i) => i.to_string(),
            Val::List(items) => items.iter().map(Val::hint).collect(),
            Val::Unknown { hint } => hint.clone(),
        }
    }

    fn items(&self) -> Option<Vec<Val>> {
        match self {
            Val::List(items) => Some(items.clone()),
            Val::Str(s) => Some(s.chars().map(|c| Val::Str(c.to_string())).collect()),
            _ => None,
        }
    }
}

fn unknown_from(parts: &[&Val]) -> Val {
    let mut hint: String = parts.iter().map(|v| v.hint()).collect();
    truncate(&mut hint);
    Val::Unknown { hint }
}

fn truncate(s: &mut String) {
    if s.len() > MAX_FOLDED_LEN {
        let mut end = MAX_FOLDED_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

fn checked_str(s: String) -> Val {
    if s.len() > MAX_FOLDED_LEN {
        let mut s = s;
        truncate(&mut s);
        Val::Unknown { hint: s }
    } else {
        Val::Str(s)
    }
}

/// Analyses a parsed template.
pub fn analyze(template: &Template) -> Analysis {
    let mut analyzer = Analyzer::default();
    // Bindings first (a variable may be set after a loop uses it), twice so that constants built
    // from other constants settle.
    for _ in 0..2 {
        analyzer.collect(&template.body);
    }
    analyzer.check_nodes(&template.body);
    let mut issues: Vec<Issue> = analyzer.issues.into_iter().collect();
    issues.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.line.cmp(&b.line))
            .then(a.cmp(b))
    });
    Analysis { issues }
}

#[derive(Default)]
struct Analyzer {
    /// Every value each variable is bound to anywhere in the template (scopes merged).
    bindings: BTreeMap<String, Vec<Val>>,
    /// Names the template binds itself (shadowing a gadget makes it an ordinary variable).
    bound: BTreeSet<String>,
    issues: BTreeSet<Issue>,
}

impl Analyzer {
    // ---- pass 1: bindings ------------------------------------------------------------------

    fn bind(&mut self, target: &Expr, value: Val) {
        match &target.kind {
            ExprKind::Name(name) => {
                self.bound.insert(name.clone());
                let values = self.bindings.entry(name.clone()).or_default();
                if !values.contains(&value) && values.len() < 64 {
                    values.push(value);
                }
            }
            ExprKind::Tuple(items) => {
                let parts = value.items();
                for (i, item) in items.iter().enumerate() {
                    let part = parts
                        .as_ref()
                        .and_then(|p| p.get(i).cloned())
                        .unwrap_or_else(|| unknown_from(&[&value]));
                    self.bind(item, part);
                }
            }
            _ => {}
        }
    }

    fn bind_unknown(&mut self, name: &str) {
        self.bound.insert(name.to_string());
        let values = self.bindings.entry(name.to_string()).or_default();
        if !values
            .iter()
            .any(|v| matches!(v, Val::Unknown { hint } if hint.is_empty()))
            && values.len() < 64
        {
            values.push(Val::unknown());
        }
    }

    fn collect(&mut self, body: &[Node]) {
        for node in body {
            match node {
                Node::Set { target, value } => {
                    let value = self.fold(value);
                    self.bind(target, value);
                }
                Node::SetBlock { target, body, .. } => {
                    let text = constant_text(body);
                    self.bind(target, text.map_or_else(Val::unknown, Val::Str));
                    self.collect(body);
                }
                Node::For {
                    target,
                    iter,
                    body,
                    else_body,
                    ..
                } => {
                    match self.fold(iter).items() {
                        Some(items) if !items.is_empty() => {
                            for item in items.into_iter().take(MAX_FOLDED_ITEMS) {
                                self.bind(target, item);
                            }
                        }
                        _ => {
                            let hint = self.fold(iter);
                            self.bind(target, unknown_from(&[&hint]));
                        }
                    }
                    self.bind_unknown("loop");
                    self.collect(body);
                    self.collect(else_body);
                }
                Node::If {
                    branches,
                    else_body,
                } => {
                    for (_, body) in branches {
                        self.collect(body);
                    }
                    self.collect(else_body);
                }
                Node::Macro { name, params, body } => {
                    self.bind_unknown(name);
                    for (param, default) in params {
                        let value = default.as_ref().map_or_else(Val::unknown, |d| self.fold(d));
                        self.bind_unknown(param);
                        if !matches!(value, Val::Unknown { .. }) {
                            self.bind(&Expr::new(0, ExprKind::Name(param.clone())), value);
                        }
                    }
                    self.collect(body);
                }
                Node::CallBlock { params, body, .. } => {
                    for (param, _) in params {
                        self.bind_unknown(param);
                    }
                    self.collect(body);
                }
                Node::With { assignments, body } => {
                    for (target, value) in assignments {
                        let value = self.fold(value);
                        self.bind(target, value);
                    }
                    self.collect(body);
                }
                Node::FilterBlock { body, .. }
                | Node::Generation { body }
                | Node::Block { body, .. }
                | Node::Autoescape { body, .. } => self.collect(body),
                Node::Import { target, .. } => self.bind_unknown(target),
                Node::FromImport { names, .. } => {
                    for (name, alias) in names {
                        self.bind_unknown(alias.as_ref().unwrap_or(name));
                    }
                }
                _ => {}
            }
        }
    }

    // ---- folding ---------------------------------------------------------------------------

    fn fold(&self, expr: &Expr) -> Val {
        self.fold_depth(expr, 0)
    }

    fn fold_depth(&self, expr: &Expr, depth: usize) -> Val {
        if depth > 64 {
            return Val::unknown();
        }
        let fold = |e: &Expr| self.fold_depth(e, depth + 1);
        match &expr.kind {
            ExprKind::Const(Const::Str(s)) => Val::Str(s.clone()),
            ExprKind::Const(Const::Int(i)) => Val::Int(*i),
            ExprKind::Const(Const::Bool(b)) => Val::Str(if *b { "True" } else { "False" }.into()),
            ExprKind::Const(Const::None) => Val::Str("None".into()),
            ExprKind::Const(Const::Float(_)) => Val::unknown(),
            ExprKind::List(items) | ExprKind::Tuple(items) => {
                Val::List(items.iter().take(MAX_FOLDED_ITEMS).map(fold).collect())
            }
            ExprKind::Dict(items) => Val::List(
                items
                    .iter()
                    .take(MAX_FOLDED_ITEMS)
                    .map(|(k, _)| fold(k))
                    .collect(),
            ),
            ExprKind::Name(name) => match self.bindings.get(name).map(Vec::as_slice) {
                Some([one]) => one.clone(),
                Some(many) if !many.is_empty() => {
                    let refs: Vec<&Val> = many.iter().collect();
                    unknown_from(&refs)
                }
                _ => Val::unknown(),
            },
            ExprKind::Binary { op, left, right } => {
                let (l, r) = (fold(left), fold(right));
                fold_binary(*op, &l, &r)
            }
            ExprKind::Item { obj, index } => {
                let value = fold(obj);
                match &index.kind {
                    ExprKind::Slice { start, stop, step } => {
                        let bound = |b: &Option<Box<Expr>>| match b.as_deref().map(&fold) {
                            None => Some(None),
                            Some(Val::Int(i)) => Some(Some(i)),
                            Some(_) => None,
                        };
                        match (value.items(), bound(start), bound(stop), bound(step)) {
                            (Some(items), Some(a), Some(b), Some(c)) => {
                                match slice(&items, a, b, c) {
                                    Some(picked) => match value {
                                        Val::Str(_) => {
                                            checked_str(picked.iter().map(Val::hint).collect())
                                        }
                                        _ => Val::List(picked),
                                    },
                                    None => unknown_from(&[&value]),
                                }
                            }
                            _ => unknown_from(&[&value]),
                        }
                    }
                    _ => match (value.items(), fold(index)) {
                        (Some(items), Val::Int(i)) => {
                            let len = items.len() as i128;
                            let at = if i < 0 { i + len } else { i };
                            usize::try_from(at)
                                .ok()
                                .and_then(|at| items.get(at).cloned())
                                .unwrap_or_else(Val::unknown)
                        }
                        _ => Val::unknown(),
                    },
                }
            }
            ExprKind::Filter {
                value: Some(value),
                name,
                args,
            } => {
                let value = fold(value);
                let args: Vec<Val> = args.args.iter().map(&fold).collect();
                fold_filter(name, &value, &args)
            }
            ExprKind::Call { func, args } => {
                if let ExprKind::Name(name) = &func.kind
                    && name == "dict"
                    && !self.bound.contains("dict")
                {
                    // `dict(__cla=1, ss__=2)|join` spells a name with keyword names.
                    return Val::List(
                        args.kwargs
                            .iter()
                            .map(|(k, _)| Val::Str(k.clone()))
                            .collect(),
                    );
                }
                if let ExprKind::Attr { obj, name } = &func.kind {
                    let receiver = fold(obj);
                    let args: Vec<Val> = args.args.iter().map(&fold).collect();
                    return fold_method(name, &receiver, &args);
                }
                Val::unknown()
            }
            ExprKind::Cond {
                then, otherwise, ..
            } => {
                let a = fold(then);
                let b = otherwise
                    .as_deref()
                    .map(&fold)
                    .unwrap_or_else(|| Val::Str(String::new()));
                if a == b { a } else { unknown_from(&[&a, &b]) }
            }
            _ => Val::unknown(),
        }
    }

    // ---- pass 2: checks ----------------------------------------------------------------------

    fn report(&mut self, severity: Severity, kind: IssueKind, expr: &Expr, name: &str, via: &str) {
        let mut expression = expr_source(expr);
        if expression.len() > 200 {
            let mut end = 200;
            while !expression.is_char_boundary(end) {
                end -= 1;
            }
            expression.truncate(end);
            expression.push('…');
        }
        self.issues.insert(Issue {
            severity,
            kind,
            line: expr.line,
            name: name.chars().take(200).collect(),
            via: via.to_string(),
            expression,
        });
    }

    /// Checks an attribute or item name reached on `obj`. `strict`: the name is an attribute
    /// name by construction (the `attr` filter), so an unknown one is already suspicious.
    fn check_name(&mut self, expr: &Expr, obj: Option<&Expr>, name: &Val, via: &str, strict: bool) {
        let gadget = obj.and_then(|o| self.gadget_root(o));
        match name {
            Val::Str(s) => {
                // A dotted attribute path (`map(attribute='a.b')`) is walked segment by segment.
                let segments: Vec<&str> = if via.contains("attribute") {
                    s.split('.').collect()
                } else {
                    vec![s.as_str()]
                };
                for segment in segments {
                    if segment.starts_with("__") {
                        self.report(
                            Severity::Malicious,
                            IssueKind::DunderAccess,
                            expr,
                            segment,
                            via,
                        );
                    } else if INTERNAL_ATTRIBUTES.contains(&segment) && via != "subscript" {
                        self.report(
                            Severity::Malicious,
                            IssueKind::InternalAttribute,
                            expr,
                            segment,
                            via,
                        );
                    } else if segment.starts_with('_') {
                        let severity = if gadget.is_some() {
                            Severity::Malicious
                        } else {
                            Severity::Suspicious
                        };
                        self.report(severity, IssueKind::PrivateAccess, expr, segment, via);
                    }
                }
            }
            other => {
                let hint = other.hint();
                let looks_internal = hint.contains("__") || hint.starts_with('_');
                if strict || looks_internal {
                    let shown = if hint.is_empty() {
                        "?".to_string()
                    } else {
                        format!("{hint}?")
                    };
                    self.report(
                        Severity::Suspicious,
                        IssueKind::DynamicName,
                        expr,
                        &shown,
                        via,
                    );
                }
            }
        }
        if let Some(gadget) = gadget {
            self.report(
                Severity::Malicious,
                IssueKind::GadgetObject,
                expr,
                &gadget,
                via,
            );
        }
    }

    /// The gadget an expression is, when it is one of [`GADGETS`] the template does not bind.
    fn gadget_root(&self, expr: &Expr) -> Option<String> {
        match &expr.kind {
            ExprKind::Name(name)
                if GADGETS.contains(&name.as_str()) && !self.bound.contains(name) =>
            {
                Some(name.clone())
            }
            _ => None,
        }
    }

    fn check_nodes(&mut self, body: &[Node]) {
        for node in body {
            self.check_node(node);
        }
    }

    fn check_node(&mut self, node: &Node) {
        match node {
            Node::Text(_) | Node::Raw(_) | Node::Break | Node::Continue => {}
            Node::Output(e) | Node::Do(e) | Node::Extends(e) => self.check_expr(e),
            Node::For {
                target,
                iter,
                filter,
                body,
                else_body,
                ..
            } => {
                self.check_expr(target);
                self.check_expr(iter);
                if let Some(filter) = filter {
                    self.check_expr(filter);
                }
                self.check_nodes(body);
                self.check_nodes(else_body);
            }
            Node::If {
                branches,
                else_body,
            } => {
                for (test, body) in branches {
                    self.check_expr(test);
                    self.check_nodes(body);
                }
                self.check_nodes(else_body);
            }
            Node::Set { target, value } => {
                self.check_expr(target);
                self.check_expr(value);
            }
            Node::SetBlock {
                target,
                filter,
                body,
            } => {
                self.check_expr(target);
                if let Some(filter) = filter {
                    self.check_expr(filter);
                }
                self.check_nodes(body);
            }
            Node::Macro { params, body, .. } => {
                for (_, default) in params {
                    if let Some(default) = default {
                        self.check_expr(default);
                    }
                }
                self.check_nodes(body);
            }
            Node::CallBlock { params, call, body } => {
                for (_, default) in params {
                    if let Some(default) = default {
                        self.check_expr(default);
                    }
                }
                self.check_expr(call);
                self.check_nodes(body);
            }
            Node::FilterBlock { filter, body } => {
                self.check_expr(filter);
                self.check_nodes(body);
            }
            Node::With { assignments, body } => {
                for (target, value) in assignments {
                    self.check_expr(target);
                    self.check_expr(value);
                }
                self.check_nodes(body);
            }
            Node::Generation { body } | Node::Block { body, .. } => self.check_nodes(body),
            Node::Autoescape { value, body } => {
                self.check_expr(value);
                self.check_nodes(body);
            }
            Node::Include { template, .. }
            | Node::Import { template, .. }
            | Node::FromImport { template, .. } => self.check_expr(template),
        }
    }

    fn check_args(&mut self, args: &CallArgs) {
        for arg in &args.args {
            self.check_expr(arg);
        }
        for (_, value) in &args.kwargs {
            self.check_expr(value);
        }
        if let Some(e) = &args.dyn_args {
            self.check_expr(e);
        }
        if let Some(e) = &args.dyn_kwargs {
            self.check_expr(e);
        }
    }

    fn check_expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Name(name) => {
                if name.starts_with("__") {
                    self.report(
                        Severity::Malicious,
                        IssueKind::DunderName,
                        expr,
                        name,
                        "variable",
                    );
                }
            }
            ExprKind::Const(_) => {}
            ExprKind::List(items) | ExprKind::Tuple(items) => {
                for item in items {
                    self.check_expr(item);
                }
            }
            ExprKind::Dict(items) => {
                for (k, v) in items {
                    self.check_expr(k);
                    self.check_expr(v);
                }
            }
            ExprKind::Attr { obj, name } => {
                self.check_name(expr, Some(obj), &Val::Str(name.clone()), "attribute", false);
                self.check_expr(obj);
            }
            ExprKind::Item { obj, index } => {
                if !matches!(index.kind, ExprKind::Slice { .. }) {
                    let name = self.fold(index);
                    if !matches!(name, Val::Int(_)) {
                        self.check_name(expr, Some(obj), &name, "subscript", false);
                    }
                }
                self.check_expr(obj);
                self.check_expr(index);
            }
            ExprKind::Slice { start, stop, step } => {
                for part in [start, stop, step].into_iter().flatten() {
                    self.check_expr(part);
                }
            }
            ExprKind::Call { func, args } => {
                if let Some(gadget) = self.gadget_root(func)
                    && CALL_GADGETS.contains(&gadget.as_str())
                {
                    self.report(
                        Severity::Malicious,
                        IssueKind::GadgetObject,
                        expr,
                        &gadget,
                        "call",
                    );
                }
                if let ExprKind::Attr { obj, name } = &func.kind
                    && (name == "format" || name == "format_map")
                {
                    let receiver = self.fold(obj);
                    self.check_format_string(expr, &receiver);
                }
                self.check_expr(func);
                self.check_args(args);
            }
            ExprKind::Filter { value, name, args } => {
                self.check_filter(expr, value.as_deref(), name, args);
                if let Some(value) = value {
                    self.check_expr(value);
                }
                self.check_args(args);
            }
            ExprKind::Test { value, args, .. } => {
                self.check_expr(value);
                self.check_args(args);
            }
            ExprKind::Unary { operand, .. } => self.check_expr(operand),
            ExprKind::Binary { left, right, .. } => {
                self.check_expr(left);
                self.check_expr(right);
            }
            ExprKind::Cond {
                test,
                then,
                otherwise,
            } => {
                self.check_expr(test);
                self.check_expr(then);
                if let Some(otherwise) = otherwise {
                    self.check_expr(otherwise);
                }
            }
        }
    }

    /// Filters that look attributes up by name: `attr`, and the `attribute=` of `map`, `sort`,
    /// `groupby`, `sum`, `unique`, `min`, `max`, and `selectattr`/`rejectattr`.
    fn check_filter(&mut self, expr: &Expr, value: Option<&Expr>, name: &str, args: &CallArgs) {
        let positional = |i: usize| args.args.get(i);
        let keyword = |k: &str| args.kwargs.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        match name {
            "attr" => {
                let attr = positional(0).map_or_else(Val::unknown, |e| self.fold(e));
                self.check_name(expr, value, &attr, "attr filter", true);
            }
            "selectattr" | "rejectattr" => {
                if let Some(attr) = positional(0) {
                    let attr = self.fold(attr);
                    self.check_name(expr, None, &attr, &format!("{name}(attribute)"), false);
                }
            }
            "map" => {
                if let Some(attr) = keyword("attribute") {
                    let attr = self.fold(attr);
                    self.check_name(expr, None, &attr, "map(attribute=)", false);
                } else if positional(0).map(|e| self.fold(e)) == Some(Val::Str("attr".into())) {
                    let attr = positional(1).map_or_else(Val::unknown, |e| self.fold(e));
                    self.check_name(expr, None, &attr, "map('attr') filter", true);
                }
            }
            "sort" | "groupby" | "sum" | "unique" | "min" | "max" => {
                let attr = keyword("attribute").or(if name == "groupby" {
                    positional(0)
                } else {
                    None
                });
                if let Some(attr) = attr {
                    let attr = self.fold(attr);
                    self.check_name(expr, None, &attr, &format!("{name}(attribute=)"), false);
                }
            }
            _ => {}
        }
    }

    /// `str.format` walks `{0.attr}` and `{0[item]}` in its fields.
    fn check_format_string(&mut self, expr: &Expr, receiver: &Val) {
        let text = receiver.hint();
        for field in format_fields(&text) {
            for part in field.split(['.', '[', ']']).skip(1) {
                if part.starts_with('_') || INTERNAL_ATTRIBUTES.contains(&part) {
                    let severity = if matches!(receiver, Val::Str(_)) {
                        Severity::Malicious
                    } else {
                        Severity::Suspicious
                    };
                    self.report(
                        severity,
                        IssueKind::FormatStringTraversal,
                        expr,
                        part,
                        "str.format field",
                    );
                }
            }
        }
    }
}

/// The text of a body made only of template data.
fn constant_text(body: &[Node]) -> Option<String> {
    let mut out = String::new();
    for node in body {
        match node {
            Node::Text(t) | Node::Raw(t) => out.push_str(t),
            Node::Output(Expr {
                kind: ExprKind::Const(Const::Str(s)),
                ..
            }) => out.push_str(s),
            _ => return None,
        }
    }
    Some(out)
}

/// The field names of a `str.format` string (`{0.__class__!r:>10}` gives `0.__class__`).
fn format_fields(text: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' {
            if chars.peek() == Some(&'{') {
                chars.next();
                continue;
            }
            let mut field = String::new();
            for c in chars.by_ref() {
                if c == '}' || c == '!' || c == ':' {
                    break;
                }
                field.push(c);
            }
            fields.push(field);
        }
    }
    fields
}

fn slice(
    items: &[Val],
    start: Option<i128>,
    stop: Option<i128>,
    step: Option<i128>,
) -> Option<Vec<Val>> {
    let len = items.len() as i128;
    let step = step.unwrap_or(1);
    if step == 0 {
        return None;
    }
    let clamp = |i: i128, lo: i128, hi: i128| {
        let i = if i < 0 { i + len } else { i };
        i.clamp(lo, hi)
    };
    let mut out = Vec::new();
    if step > 0 {
        let (a, b) = (
            clamp(start.unwrap_or(0), 0, len),
            clamp(stop.unwrap_or(len), 0, len),
        );
        let mut i = a;
        while i < b {
            out.push(items.get(usize::try_from(i).ok()?)?.clone());
            i += step;
        }
    } else {
        let a = start.map_or(len - 1, |s| clamp(s, -1, len - 1));
        let b = stop.map_or(-1, |s| clamp(s, -1, len - 1));
        let mut i = a;
        while i > b {
            out.push(items.get(usize::try_from(i).ok()?)?.clone());
            i += step;
        }
    }
    Some(out)
}

fn fold_binary(op: BinOp, l: &Val, r: &Val) -> Val {
    match op {
        BinOp::Concat => match (l.as_text(), r.as_text()) {
            (Some(a), Some(b)) => checked_str(a + &b),
            _ => unknown_from(&[l, r]),
        },
        BinOp::Add => match (l, r) {
            (Val::Str(a), Val::Str(b)) => checked_str(format!("{a}{b}")),
            (Val::Int(a), Val::Int(b)) => a.checked_add(*b).map_or_else(Val::unknown, Val::Int),
            (Val::List(a), Val::List(b)) if a.len() + b.len() <= MAX_FOLDED_ITEMS => {
                Val::List(a.iter().chain(b).cloned().collect())
            }
            _ => unknown_from(&[l, r]),
        },
        BinOp::Sub => match (l, r) {
            (Val::Int(a), Val::Int(b)) => a.checked_sub(*b).map_or_else(Val::unknown, Val::Int),
            _ => Val::unknown(),
        },
        BinOp::Mul => match (l, r) {
            (Val::Int(a), Val::Int(b)) => a.checked_mul(*b).map_or_else(Val::unknown, Val::Int),
            (Val::Str(s), Val::Int(n)) | (Val::Int(n), Val::Str(s)) => {
                let n = usize::try_from(*n).unwrap_or(0);
                if s.len().saturating_mul(n) <= MAX_FOLDED_LEN {
                    Val::Str(s.repeat(n))
                } else {
                    unknown_from(&[l])
                }
            }
            _ => unknown_from(&[l, r]),
        },
        BinOp::Mod => match l {
            Val::Str(format) => {
                let args = match r {
                    Val::List(items) => items.clone(),
                    other => vec![other.clone()],
                };
                printf(format, &args)
            }
            Val::Int(a) => match r {
                Val::Int(b) if *b != 0 => Val::Int(a.rem_euclid(*b)),
                _ => Val::unknown(),
            },
            _ => unknown_from(&[l]),
        },
        _ => Val::unknown(),
    }
}

/// Python's `%` string formatting for the conversions a name can be spelled with.
fn printf(format: &str, args: &[Val]) -> Val {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(conv) = chars.next() else {
            return unknown_from(&[&Val::Str(format.to_string())]);
        };
        if conv == '%' {
            out.push('%');
            continue;
        }
        let arg = args.next();
        let piece = match (conv, arg) {
            ('s' | 'r', Some(v)) => v.as_text(),
            ('d' | 'i', Some(Val::Int(i))) => Some(i.to_string()),
            ('x', Some(Val::Int(i))) => Some(format!("{i:x}")),
            ('o', Some(Val::Int(i))) => Some(format!("{i:o}")),
            ('c', Some(Val::Int(i))) => u32::try_from(*i)
                .ok()
                .and_then(char::from_u32)
                .map(String::from),
            ('c', Some(Val::Str(s))) if s.chars().count() == 1 => Some(s.clone()),
            _ => None,
        };
        match piece {
            Some(piece) => out.push_str(&piece),
            None => return unknown_from(&[&Val::Str(out)]),
        }
        if out.len() > MAX_FOLDED_LEN {
            return unknown_from(&[&Val::Str(out)]);
        }
    }
    Val::Str(out)
}

/// `str.format` with positional and indexed fields and no format specs.
fn str_format(format: &str, args: &[Val]) -> Val {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut field = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    field.push(c);
                }
                let index = if field.is_empty() {
                    next += 1;
                    Some(next - 1)
                } else {
                    field.parse::<usize>().ok()
                };
                match index.and_then(|i| args.get(i)).and_then(Val::as_text) {
                    Some(text) => out.push_str(&text),
                    None => return unknown_from(&[&Val::Str(out)]),
                }
            }
            c => out.push(c),
        }
        if out.len() > MAX_FOLDED_LEN {
            return unknown_from(&[&Val::Str(out)]);
        }
    }
    Val::Str(out)
}

fn join(items: &[Val], sep: &str) -> Val {
    let texts: Option<Vec<String>> = items.iter().map(Val::as_text).collect();
    match texts {
        Some(texts) => checked_str(texts.join(sep)),
        None => {
            let refs: Vec<&Val> = items.iter().collect();
            unknown_from(&refs)
        }
    }
}

fn fold_filter(name: &str, value: &Val, args: &[Val]) -> Val {
    let arg_text = |i: usize| args.get(i).and_then(Val::as_text);
    match name {
        "join" => match value.items() {
            Some(items) => join(&items, &arg_text(0).unwrap_or_default()),
            None => unknown_from(&[value]),
        },
        "format" => match value {
            Val::Str(format) => printf(format, args),
            _ => unknown_from(&[value]),
        },
        "replace" => match (value, arg_text(0), arg_text(1)) {
            (Val::Str(s), Some(from), Some(to)) => {
                let count = match args.get(2) {
                    Some(Val::Int(n)) => usize::try_from(*n).ok(),
                    _ => None,
                };
                let replaced = match count {
                    Some(n) => s.replacen(&from, &to, n),
                    None => s.replace(&from, &to),
                };
                checked_str(replaced)
            }
            _ => unknown_from(&[value]),
        },
        "reverse" => match value {
            Val::Str(s) => Val::Str(s.chars().rev().collect()),
            Val::List(items) => Val::List(items.iter().rev().cloned().collect()),
            other => unknown_from(&[other]),
        },
        "list" => value
            .items()
            .map_or_else(|| unknown_from(&[value]), Val::List),
        "first" => value
            .items()
            .and_then(|items| items.first().cloned())
            .unwrap_or_else(|| unknown_from(&[value])),
        "last" => value
            .items()
            .and_then(|items| items.last().cloned())
            .unwrap_or_else(|| unknown_from(&[value])),
        "string" | "e" | "escape" | "safe" | "forceescape" => match value {
            Val::List(_) => unknown_from(&[value]),
            other => other
                .as_text()
                .map_or_else(|| unknown_from(&[other]), Val::Str),
        },
        "lower" => value
            .as_text()
            .map_or_else(|| unknown_from(&[value]), |s| Val::Str(s.to_lowercase())),
        "upper" => value
            .as_text()
            .map_or_else(|| unknown_from(&[value]), |s| Val::Str(s.to_uppercase())),
        "trim" => match (value, arg_text(0)) {
            (Val::Str(s), None) => Val::Str(s.trim().to_string()),
            (Val::Str(s), Some(chars)) => {
                Val::Str(s.trim_matches(|c| chars.contains(c)).to_string())
            }
            _ => unknown_from(&[value]),
        },
        "int" => match value {
            Val::Int(i) => Val::Int(*i),
            Val::Str(s) => s.trim().parse().map_or_else(|_| Val::unknown(), Val::Int),
            _ => Val::unknown(),
        },
        _ => unknown_from(&[value]),
    }
}

fn fold_method(name: &str, receiver: &Val, args: &[Val]) -> Val {
    match (name, receiver) {
        ("join", Val::Str(sep)) => match args.first().and_then(Val::items) {
            Some(items) => join(&items, sep),
            None => unknown_from(&[receiver]),
        },
        ("format", Val::Str(format)) => str_format(format, args),
        ("replace", Val::Str(_)) => fold_filter("replace", receiver, args),
        ("upper", Val::Str(s)) => Val::Str(s.to_uppercase()),
        ("lower", Val::Str(s)) => Val::Str(s.to_lowercase()),
        ("strip", Val::Str(_)) => fold_filter("trim", receiver, args),
        ("lstrip", Val::Str(s)) => Val::Str(s.trim_start().to_string()),
        ("rstrip", Val::Str(s)) => Val::Str(s.trim_end().to_string()),
        _ => unknown_from(&[receiver]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, inspect};

    fn issues(src: &str) -> Vec<Issue> {
        inspect(src, &Limits::default())
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .issues
    }

    fn worst(src: &str) -> Option<Severity> {
        issues(src).iter().map(|i| i.severity).max()
    }

    fn names(src: &str) -> Vec<String> {
        issues(src).into_iter().map(|i| i.name).collect()
    }

    #[test]
    fn the_cve_2024_34359_payload_is_malicious() {
        let payload = "{% for x in ().__class__.__base__.__subclasses__() %}{% if \"warning\" in x.__name__ %}{{x()._module.__builtins__['__import__']('os').popen(\"touch /tmp/retr0reg\")}}{%endif%}{% endfor %}";
        let found = names(payload);
        assert_eq!(worst(payload), Some(Severity::Malicious));
        for dunder in [
            "__class__",
            "__base__",
            "__subclasses__",
            "__builtins__",
            "__import__",
        ] {
            assert!(found.iter().any(|n| n == dunder), "{dunder} in {found:?}");
        }
        assert!(found.iter().any(|n| n == "_module"));
    }

    #[test]
    fn dunders_are_found_however_they_are_spelled() {
        for src in [
            "{{ x.__class__ }}",
            "{{ x['__class__'] }}",
            "{{ x|attr('__class__') }}",
            "{{ x[('__cla' ~ 'ss__')] }}",
            "{{ x|attr('__cla' + 'ss__') }}",
            "{{ x|attr('%c%cclass%c%c'|format(95, 95, 95, 95)) }}",
            "{{ x|attr('%c%cclass%c%c' % (95, 95, 95, 95)) }}",
            "{{ x|attr(['__', 'class', '__']|join) }}",
            "{{ x|attr('__ssalc__'|reverse) }}",
            "{{ x|attr('XXclassXX'|replace('X', '_')) }}",
            "{{ x|attr(dict(__cla=1, ss__=2)|join) }}",
            "{% set a = '__cla' %}{% set b = a ~ 'ss__' %}{{ x[b] }}",
            "{{ x|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
            "{{ x|attr('_' * 2 ~ 'class' ~ '_' * 2) }}",
            "{{ x|attr('{}{}class{}{}'.format('_', '_', '_', '_')) }}",
            "{{ x|attr('_'.join(['', '', 'class', '', ''])) }}",
            "{{ x|map(attribute='__class__')|list }}",
            "{{ x|map('attr', '__class__')|list }}",
            "{{ x|selectattr('__class__')|list }}",
            "{{ x|attr('..__class__..'[2:11]) }}",
            "{{ '{0.__class__}'.format(x) }}",
        ] {
            assert_eq!(
                worst(src),
                Some(Severity::Malicious),
                "{src}: {:?}",
                issues(src)
            );
        }
    }

    #[test]
    fn gadget_roots_used_as_objects_are_malicious() {
        for src in [
            "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
            "{{ joiner.__init__.__globals__ }}",
            "{{ lipsum.__globals__['os'] }}",
            "{{ namespace.__init__.__globals__ }}",
            "{{ self._TemplateReference__context }}",
            "{{ config.items() }}",
            "{{ request.application }}",
            "{{ url_for('x') }}",
            "{{ get_flashed_messages() }}",
            "{{ range.__self__ }}",
            "{{ cycler|attr('next') }}",
        ] {
            assert_eq!(
                worst(src),
                Some(Severity::Malicious),
                "{src}: {:?}",
                issues(src)
            );
        }
        let gadget = issues("{{ cycler.__init__ }}");
        assert!(
            gadget
                .iter()
                .any(|i| i.kind == IssueKind::GadgetObject && i.name == "cycler")
        );
    }

    #[test]
    fn ordinary_chat_template_constructs_are_safe() {
        for src in [
            "{% set ns = namespace(found=false, system=none) %}{% for m in messages %}{% if m.role == 'system' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}",
            "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}",
            "{{ strftime_now('%d %b %Y') }}{{ tools|tojson(indent=4) }}{{ messages[0]['content']|trim }}",
            "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' }}{% if loop.last and add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}{% endfor %}",
            "{{ messages|selectattr('role', 'equalto', 'user')|list|length }}{{ x|map(attribute='name')|join(', ') }}",
            "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ loop.cycle('odd', 'even') }}{{ range(3)|list }}",
            "{{ content.split('</think>')[-1].lstrip('\\n') }}{{ message.tool_calls[0].function.arguments|tojson }}",
            "{{ '%s' % name }}{{ '{}'.format(x) }}{% for k, v in d.items() %}{{ k }}{% endfor %}",
        ] {
            assert_eq!(issues(src), vec![], "{src}");
        }
    }

    #[test]
    fn computed_names_are_suspicious() {
        assert_eq!(worst("{{ x|attr(name) }}"), Some(Severity::Suspicious));
        assert_eq!(
            worst("{{ x['__' ~ name ~ '__'] }}"),
            Some(Severity::Suspicious)
        );
        assert_eq!(worst("{{ x['_' ~ name] }}"), Some(Severity::Suspicious));
        assert_eq!(worst("{{ x._private }}"), Some(Severity::Suspicious));
        // An ordinary computed key is what chat templates do all the time.
        assert_eq!(worst("{{ x[name] }}{{ x[loop.index0] }}"), None);
    }

    #[test]
    fn dunder_variables_are_malicious() {
        assert_eq!(worst("{{ __builtins__ }}"), Some(Severity::Malicious));
    }

    #[test]
    fn issues_carry_lines_and_expressions() {
        let found = issues("a\nb\n{{ x.__class__ }}");
        assert_eq!(found[0].line, 3);
        assert_eq!(found[0].via, "attribute");
        assert_eq!(found[0].expression, "x.__class__");
    }

    #[test]
    fn folding_is_bounded() {
        assert_eq!(
            worst("{{ x|attr('_' * 1000000000) }}"),
            Some(Severity::Suspicious)
        );
    }
}
