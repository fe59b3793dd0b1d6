//! Template source from a syntax tree: every compound expression parenthesised, so that parsing
//! the output gives the same tree back (used by the round-trip property tests and to quote
//! expressions in findings).

use std::fmt::Write;

use crate::ast::{BinOp, CallArgs, Const, Expr, ExprKind, Node, Param, Template, UnaryOp};

/// Jinja2 source for a template.
pub fn to_source(template: &Template) -> String {
    let mut out = String::new();
    nodes(&mut out, &template.body);
    out
}

/// Jinja2 source for one expression.
pub fn expr_source(expr: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, expr);
    out
}

fn nodes(out: &mut String, body: &[Node]) {
    for node in body {
        write_node(out, node);
    }
}

fn write_node(out: &mut String, node: &Node) {
    match node {
        Node::Text(text) => out.push_str(text),
        Node::Raw(text) => {
            out.push_str("{% raw %}");
            out.push_str(text);
            out.push_str("{% endraw %}");
        }
        Node::Output(expr) => {
            out.push_str("{{ ");
            write_expr(out, expr);
            out.push_str(" }}");
        }
        Node::For {
            target,
            iter,
            filter,
            recursive,
            body,
            else_body,
        } => {
            out.push_str("{% for ");
            write_target(out, target);
            out.push_str(" in ");
            write_expr(out, iter);
            if let Some(filter) = filter {
                out.push_str(" if ");
                write_expr(out, filter);
            }
            if *recursive {
                out.push_str(" recursive");
            }
            out.push_str(" %}");
            nodes(out, body);
            if !else_body.is_empty() {
                out.push_str("{% else %}");
                nodes(out, else_body);
            }
            out.push_str("{% endfor %}");
        }
        Node::If {
            branches,
            else_body,
        } => {
            for (i, (test, body)) in branches.iter().enumerate() {
                out.push_str(if i == 0 { "{% if " } else { "{% elif " });
                write_expr(out, test);
                out.push_str(" %}");
                nodes(out, body);
            }
            if !else_body.is_empty() {
                out.push_str("{% else %}");
                nodes(out, else_body);
            }
            out.push_str("{% endif %}");
        }
        Node::Set { target, value } => {
            out.push_str("{% set ");
            write_target(out, target);
            out.push_str(" = ");
            write_expr(out, value);
            out.push_str(" %}");
        }
        Node::SetBlock {
            target,
            filter,
            body,
        } => {
            out.push_str("{% set ");
            write_target(out, target);
            if let Some(filter) = filter {
                write_filter_chain(out, filter);
            }
            out.push_str(" %}");
            nodes(out, body);
            out.push_str("{% endset %}");
        }
        Node::Macro { name, params, body } => {
            let _ = write!(out, "{{% macro {name}");
            write_params(out, params);
            out.push_str(" %}");
            nodes(out, body);
            out.push_str("{% endmacro %}");
        }
        Node::CallBlock { params, call, body } => {
            out.push_str("{% call");
            if !params.is_empty() {
                write_params(out, params);
            }
            out.push(' ');
            write_expr(out, call);
            out.push_str(" %}");
            nodes(out, body);
            out.push_str("{% endcall %}");
        }
        Node::FilterBlock { filter, body } => {
            out.push_str("{% filter");
            write_filter_chain(out, filter);
            out.push_str(" %}");
            nodes(out, body);
            out.push_str("{% endfilter %}");
        }
        Node::With { assignments, body } => {
            out.push_str("{% with");
            for (i, (target, value)) in assignments.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                write_target(out, target);
                out.push_str(" = ");
                write_expr(out, value);
            }
            out.push_str(" %}");
            nodes(out, body);
            out.push_str("{% endwith %}");
        }
        Node::Generation { body } => {
            out.push_str("{% generation %}");
            nodes(out, body);
            out.push_str("{% endgeneration %}");
        }
        Node::Break => out.push_str("{% break %}"),
        Node::Continue => out.push_str("{% continue %}"),
        Node::Do(expr) => {
            out.push_str("{% do ");
            write_expr(out, expr);
            out.push_str(" %}");
        }
        Node::Block {
            name,
            scoped,
            required,
            body,
        } => {
            let _ = write!(out, "{{% block {name}");
            if *scoped {
                out.push_str(" scoped");
            }
            if *required {
                out.push_str(" required");
            }
            out.push_str(" %}");
            nodes(out, body);
            out.push_str("{% endblock %}");
        }
        Node::Extends(expr) => {
            out.push_str("{% extends ");
            write_expr(out, expr);
            out.push_str(" %}");
        }
        Node::Include {
            template,
            ignore_missing,
            with_context,
        } => {
            out.push_str("{% include ");
            write_expr(out, template);
            if *ignore_missing {
                out.push_str(" ignore missing");
            }
            write_context(out, *with_context);
            out.push_str(" %}");
        }
        Node::Import {
            template,
            target,
            with_context,
        } => {
            out.push_str("{% import ");
            write_expr(out, template);
            let _ = write!(out, " as {target}");
            write_context(out, *with_context);
            out.push_str(" %}");
        }
        Node::FromImport {
            template,
            names,
            with_context,
        } => {
            out.push_str("{% from ");
            write_expr(out, template);
            out.push_str(" import ");
            for (i, (name, alias)) in names.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(name);
                if let Some(alias) = alias {
                    let _ = write!(out, " as {alias}");
                }
            }
            write_context(out, *with_context);
            out.push_str(" %}");
        }
        Node::Autoescape { value, body } => {
            out.push_str("{% autoescape ");
            write_expr(out, value);
            out.push_str(" %}");
            nodes(out, body);
            out.push_str("{% endautoescape %}");
        }
    }
}

fn write_context(out: &mut String, with_context: Option<bool>) {
    match with_context {
        Some(true) => out.push_str(" with context"),
        Some(false) => out.push_str(" without context"),
        None => {}
    }
}

fn write_params(out: &mut String, params: &[Param]) {
    out.push('(');
    for (i, (name, default)) in params.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        if let Some(default) = default {
            out.push('=');
            write_expr(out, default);
        }
    }
    out.push(')');
}

/// A filter chain without its leading value: ` |a(1)|b` (for `{% filter %}` and `{% set %}`).
fn write_filter_chain(out: &mut String, filter: &Expr) {
    if let ExprKind::Filter { value, name, args } = &filter.kind {
        if let Some(inner) = value {
            write_filter_chain(out, inner);
        }
        let _ = write!(out, " |{name}");
        if !is_empty(args) {
            write_args(out, args);
        }
    }
}

fn is_empty(args: &CallArgs) -> bool {
    args.args.is_empty()
        && args.kwargs.is_empty()
        && args.dyn_args.is_none()
        && args.dyn_kwargs.is_none()
}

/// Assignment targets are written without parentheses around names and `ns.attr`.
fn write_target(out: &mut String, target: &Expr) {
    match &target.kind {
        ExprKind::Name(name) => out.push_str(name),
        ExprKind::Attr { obj, name } => {
            write_target(out, obj);
            out.push('.');
            out.push_str(name);
        }
        ExprKind::Tuple(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_target(out, item);
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        _ => write_expr(out, target),
    }
}

fn write_args(out: &mut String, args: &CallArgs) {
    out.push('(');
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !first {
            out.push_str(", ");
        }
        first = false;
    };
    for arg in &args.args {
        sep(out);
        write_expr(out, arg);
    }
    for (key, value) in &args.kwargs {
        sep(out);
        let _ = write!(out, "{key}=");
        write_expr(out, value);
    }
    if let Some(dyn_args) = &args.dyn_args {
        sep(out);
        out.push('*');
        write_expr(out, dyn_args);
    }
    if let Some(dyn_kwargs) = &args.dyn_kwargs {
        sep(out);
        out.push_str("**");
        write_expr(out, dyn_kwargs);
    }
    out.push(')');
}

fn write_const(out: &mut String, value: &Const) {
    match value {
        Const::Str(s) => write_string(out, s),
        Const::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Const::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Const::Bool(true) => out.push_str("true"),
        Const::Bool(false) => out.push_str("false"),
        Const::None => out.push_str("none"),
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}

fn op_text(op: BinOp) -> &'static str {
    match op {
        BinOp::Or => "or",
        BinOp::And => "and",
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::FloorDiv => "//",
        BinOp::Mod => "%",
        BinOp::Pow => "**",
        BinOp::Concat => "~",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::In => "in",
        BinOp::NotIn => "not in",
    }
}

fn write_expr(out: &mut String, expr: &Expr) {
    match &expr.kind {
        ExprKind::Name(name) => out.push_str(name),
        ExprKind::Const(value) => write_const(out, value),
        ExprKind::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item);
            }
            out.push(']');
        }
        ExprKind::Tuple(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item);
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        ExprKind::Dict(items) => {
            out.push('{');
            for (i, (key, value)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, key);
                out.push_str(": ");
                write_expr(out, value);
            }
            // A space keeps a nested dict's `}}` from reading as the end of `{{ }}`, as in Jinja2.
            out.push_str(" }");
        }
        ExprKind::Attr { obj, name } => {
            write_expr(out, obj);
            out.push('.');
            out.push_str(name);
        }
        ExprKind::Item { obj, index } => {
            write_expr(out, obj);
            out.push('[');
            // `x[a, b]` is written `x[(a, b)]`: the same tuple subscript.
            write_expr(out, index);
            out.push(']');
        }
        ExprKind::Slice { start, stop, step } => {
            if let Some(start) = start {
                write_expr(out, start);
            }
            out.push(':');
            if let Some(stop) = stop {
                write_expr(out, stop);
            }
            if let Some(step) = step {
                out.push(':');
                write_expr(out, step);
            }
        }
        ExprKind::Call { func, args } => {
            write_expr(out, func);
            write_args(out, args);
        }
        ExprKind::Filter { value, name, args } => {
            out.push('(');
            if let Some(value) = value {
                write_expr(out, value);
            }
            let _ = write!(out, "|{name}");
            if !is_empty(args) {
                write_args(out, args);
            }
            out.push(')');
        }
        ExprKind::Test {
            value,
            name,
            args,
            negated,
        } => {
            out.push('(');
            write_expr(out, value);
            out.push_str(if *negated { " is not " } else { " is " });
            out.push_str(name);
            if !is_empty(args) {
                write_args(out, args);
            }
            out.push(')');
        }
        ExprKind::Unary { op, operand } => {
            out.push('(');
            out.push_str(match op {
                UnaryOp::Not => "not ",
                UnaryOp::Neg => "-",
                UnaryOp::Pos => "+",
            });
            write_expr(out, operand);
            out.push(')');
        }
        ExprKind::Binary { op, left, right } => {
            out.push('(');
            write_expr(out, left);
            let _ = write!(out, " {} ", op_text(*op));
            write_expr(out, right);
            out.push(')');
        }
        ExprKind::Cond {
            test,
            then,
            otherwise,
        } => {
            out.push('(');
            write_expr(out, then);
            out.push_str(" if ");
            write_expr(out, test);
            if let Some(otherwise) = otherwise {
                out.push_str(" else ");
                write_expr(out, otherwise);
            }
            out.push(')');
        }
    }
}
