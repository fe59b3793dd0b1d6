//! A recursive-descent parser following Jinja2's own (`jinja2/parser.py`): the same statements,
//! the same operator precedence, the same places for tuples, filters and tests.

use crate::ast::{BinOp, CallArgs, Const, Expr, ExprKind, Node, Param, Template, UnaryOp};
use crate::lexer::{Token, TokenKind, lex};
use crate::{Limits, ParseError};

/// Parses a template into its syntax tree, within `limits`.
pub fn parse(source: &str, limits: &Limits) -> Result<Template, ParseError> {
    if source.len() > limits.max_source_bytes {
        return Err(ParseError::TooLarge {
            size: source.len(),
            limit: limits.max_source_bytes,
        });
    }
    let tokens = lex(source)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        nodes: 0,
        limits,
    };
    let (body, end) = parser.subparse(&[])?;
    if let Some(tag) = end {
        return Err(parser.error(format!("unexpected '{tag}'")));
    }
    Ok(Template { body })
}

struct Parser<'l> {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    nodes: usize,
    limits: &'l Limits,
}

/// Statement names that end a body (`endfor`, `else`...), returned to the caller that expects them.
type EndTag = String;

impl Parser<'_> {
    fn peek(&self) -> Option<&TokenKind> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn peek_at(&self, ahead: usize) -> Option<&TokenKind> {
        self.tokens.get(self.pos + ahead).map(|t| &t.kind)
    }

    fn line(&self) -> u32 {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .map_or(1, |t| t.line)
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::Syntax {
            line: self.line(),
            message: message.into(),
        }
    }

    fn next(&mut self) -> Option<TokenKind> {
        let token = self.tokens.get(self.pos).map(|t| t.kind.clone());
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(TokenKind::Op(o)) if *o == op)
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Some(TokenKind::Name(n)) if n == name)
    }

    fn skip_op(&mut self, op: &str) -> bool {
        let found = self.is_op(op);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip_name(&mut self, name: &str) -> bool {
        let found = self.is_name(name);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ParseError> {
        if self.skip_op(op) {
            Ok(())
        } else {
            Err(self.error(format!("expected '{op}', got {}", self.describe())))
        }
    }

    fn expect_name_value(&mut self, name: &str) -> Result<(), ParseError> {
        if self.skip_name(name) {
            Ok(())
        } else {
            Err(self.error(format!("expected '{name}', got {}", self.describe())))
        }
    }

    fn expect_name(&mut self) -> Result<String, ParseError> {
        match self.peek() {
            Some(TokenKind::Name(n)) => {
                let n = n.clone();
                self.pos += 1;
                Ok(n)
            }
            _ => Err(self.error(format!("expected a name, got {}", self.describe()))),
        }
    }

    fn expect_block_end(&mut self) -> Result<(), ParseError> {
        if matches!(self.peek(), Some(TokenKind::BlockEnd)) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!(
                "expected end of statement block, got {}",
                self.describe()
            )))
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of template".into(),
            Some(TokenKind::Name(n)) => format!("'{n}'"),
            Some(TokenKind::Op(o)) => format!("'{o}'"),
            Some(TokenKind::Str(_)) => "a string".into(),
            Some(TokenKind::Int(_) | TokenKind::Float(_)) => "a number".into(),
            Some(TokenKind::BlockEnd) => "end of statement block".into(),
            Some(TokenKind::VariableEnd) => "end of print statement".into(),
            Some(_) => "template data".into(),
        }
    }

    fn count_node(&mut self) -> Result<(), ParseError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(ParseError::TooManyNodes {
                limit: self.limits.max_nodes,
            });
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(ParseError::TooDeep {
                line: self.line(),
                limit: self.limits.max_depth,
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn expr(&mut self, line: u32, kind: ExprKind) -> Result<Expr, ParseError> {
        self.count_node()?;
        Ok(Expr::new(line, kind))
    }

    // ---- statements ----------------------------------------------------------------------------

    /// Nodes up to one of the `end` statement names (consumed with its name, the rest of its
    /// tag left for the caller), or up to the end of the template when `end` is empty.
    fn subparse(&mut self, end: &[&str]) -> Result<(Vec<Node>, Option<EndTag>), ParseError> {
        self.enter()?;
        let mut body = Vec::new();
        let result = loop {
            let Some(token) = self.next() else {
                if end.is_empty() {
                    break Ok((body, None));
                }
                break Err(self.error(format!(
                    "unexpected end of template, expected {}",
                    end.join(" or ")
                )));
            };
            match token {
                TokenKind::Data(text) => {
                    self.count_node()?;
                    body.push(Node::Text(text));
                }
                TokenKind::Raw(text) => {
                    self.count_node()?;
                    body.push(Node::Raw(text));
                }
                TokenKind::VariableBegin => {
                    let expr = self.parse_tuple(true, &[])?;
                    if !matches!(self.next(), Some(TokenKind::VariableEnd)) {
                        self.pos = self.pos.saturating_sub(1);
                        break Err(self.error(format!(
                            "expected end of print statement, got {}",
                            self.describe()
                        )));
                    }
                    self.count_node()?;
                    body.push(Node::Output(expr));
                }
                TokenKind::BlockBegin => {
                    if let Some(TokenKind::Name(name)) = self.peek()
                        && end.contains(&name.as_str())
                    {
                        let name = name.clone();
                        self.pos += 1;
                        break Ok((body, Some(name)));
                    }
                    let node = self.statement()?;
                    self.count_node()?;
                    body.push(node);
                }
                _ => break Err(self.error("unexpected token outside a tag")),
            }
        };
        self.leave();
        result
    }

    /// A body that ends with exactly `end` (e.g. `endfor`), whose tag is consumed.
    fn body_until(&mut self, end: &str) -> Result<Vec<Node>, ParseError> {
        let (body, _) = self.subparse(&[end])?;
        self.finish_end_tag()?;
        Ok(body)
    }

    /// The rest of an end tag: `{% endblock name %}` may repeat the name.
    fn finish_end_tag(&mut self) -> Result<(), ParseError> {
        if let Some(TokenKind::Name(_)) = self.peek()
            && matches!(self.peek_at(1), Some(TokenKind::BlockEnd))
        {
            self.pos += 1;
        }
        self.expect_block_end()
    }

    fn statement(&mut self) -> Result<Node, ParseError> {
        let keyword = self.expect_name()?;
        match keyword.as_str() {
            "for" => self.parse_for(),
            "if" => self.parse_if(),
            "set" => self.parse_set(),
            "macro" => self.parse_macro(),
            "call" => self.parse_call_block(),
            "filter" => {
                let filter = self.parse_filters(None)?;
                self.expect_block_end()?;
                let body = self.body_until("endfilter")?;
                Ok(Node::FilterBlock { filter, body })
            }
            "with" => self.parse_with(),
            "generation" => {
                self.expect_block_end()?;
                let body = self.body_until("endgeneration")?;
                Ok(Node::Generation { body })
            }
            "break" => {
                self.expect_block_end()?;
                Ok(Node::Break)
            }
            "continue" => {
                self.expect_block_end()?;
                Ok(Node::Continue)
            }
            "do" => {
                let expr = self.parse_tuple(true, &[])?;
                self.expect_block_end()?;
                Ok(Node::Do(expr))
            }
            "block" => self.parse_block(),
            "extends" => {
                let template = self.parse_expression(true)?;
                self.expect_block_end()?;
                Ok(Node::Extends(template))
            }
            "include" => self.parse_include(),
            "import" => {
                let template = self.parse_expression(true)?;
                self.expect_name_value("as")?;
                let target = self.expect_name()?;
                let with_context = self.parse_context()?;
                self.expect_block_end()?;
                Ok(Node::Import {
                    template,
                    target,
                    with_context,
                })
            }
            "from" => self.parse_from(),
            "autoescape" => {
                let value = self.parse_expression(true)?;
                self.expect_block_end()?;
                let body = self.body_until("endautoescape")?;
                Ok(Node::Autoescape { value, body })
            }
            other => {
                self.pos = self.pos.saturating_sub(1);
                Err(self.error(format!("unknown tag '{other}'")))
            }
        }
    }

    fn parse_for(&mut self) -> Result<Node, ParseError> {
        let target = self.parse_assign_target(false, &["in"])?;
        self.expect_name_value("in")?;
        let iter = self.parse_tuple(false, &["recursive"])?;
        let filter = if self.skip_name("if") {
            Some(self.parse_expression(true)?)
        } else {
            None
        };
        let recursive = self.skip_name("recursive");
        self.expect_block_end()?;
        let (body, end) = self.subparse(&["endfor", "else"])?;
        let else_body = if end.as_deref() == Some("else") {
            self.expect_block_end()?;
            self.body_until("endfor")?
        } else {
            self.finish_end_tag()?;
            Vec::new()
        };
        Ok(Node::For {
            target,
            iter,
            filter,
            recursive,
            body,
            else_body,
        })
    }

    fn parse_if(&mut self) -> Result<Node, ParseError> {
        let mut branches = Vec::new();
        let mut else_body = Vec::new();
        loop {
            let test = self.parse_tuple(false, &[])?;
            self.expect_block_end()?;
            let (body, end) = self.subparse(&["elif", "else", "endif"])?;
            branches.push((test, body));
            match end.as_deref() {
                Some("elif") => continue,
                Some("else") => {
                    self.expect_block_end()?;
                    else_body = self.body_until("endif")?;
                    break;
                }
                _ => {
                    self.finish_end_tag()?;
                    break;
                }
            }
        }
        Ok(Node::If {
            branches,
            else_body,
        })
    }

    fn parse_set(&mut self) -> Result<Node, ParseError> {
        let target = self.parse_assign_target(true, &[])?;
        if self.skip_op("=") {
            let value = self.parse_tuple(true, &[])?;
            self.expect_block_end()?;
            return Ok(Node::Set { target, value });
        }
        let filter = if self.is_op("|") {
            Some(self.parse_filters(None)?)
        } else {
            None
        };
        self.expect_block_end()?;
        let body = self.body_until("endset")?;
        Ok(Node::SetBlock {
            target,
            filter,
            body,
        })
    }

    fn parse_macro(&mut self) -> Result<Node, ParseError> {
        let name = self.expect_name()?;
        let params = self.parse_signature()?;
        self.expect_block_end()?;
        let body = self.body_until("endmacro")?;
        Ok(Node::Macro { name, params, body })
    }

    fn parse_signature(&mut self) -> Result<Vec<Param>, ParseError> {
        self.expect_op("(")?;
        let mut params = Vec::new();
        while !self.is_op(")") {
            if !params.is_empty() {
                self.expect_op(",")?;
                if self.is_op(")") {
                    break;
                }
            }
            let name = self.expect_name()?;
            let default = if self.skip_op("=") {
                Some(self.parse_expression(true)?)
            } else {
                None
            };
            params.push((name, default));
        }
        self.expect_op(")")?;
        Ok(params)
    }

    fn parse_call_block(&mut self) -> Result<Node, ParseError> {
        let params = if self.is_op("(") {
            self.parse_signature()?
        } else {
            Vec::new()
        };
        let call = self.parse_expression(true)?;
        if !matches!(call.kind, ExprKind::Call { .. }) {
            return Err(self.error("expected call"));
        }
        self.expect_block_end()?;
        let body = self.body_until("endcall")?;
        Ok(Node::CallBlock { params, call, body })
    }

    fn parse_with(&mut self) -> Result<Node, ParseError> {
        let mut assignments = Vec::new();
        while !matches!(self.peek(), Some(TokenKind::BlockEnd)) {
            if !assignments.is_empty() {
                self.expect_op(",")?;
            }
            let target = self.parse_assign_target(false, &[])?;
            self.expect_op("=")?;
            let value = self.parse_expression(true)?;
            assignments.push((target, value));
        }
        self.expect_block_end()?;
        let body = self.body_until("endwith")?;
        Ok(Node::With { assignments, body })
    }

    fn parse_block(&mut self) -> Result<Node, ParseError> {
        let name = self.expect_name()?;
        let scoped = self.skip_name("scoped");
        let required = self.skip_name("required");
        self.expect_block_end()?;
        let body = self.body_until("endblock")?;
        Ok(Node::Block {
            name,
            scoped,
            required,
            body,
        })
    }

    fn parse_include(&mut self) -> Result<Node, ParseError> {
        let template = self.parse_expression(true)?;
        let ignore_missing = if self.is_name("ignore")
            && matches!(self.peek_at(1), Some(TokenKind::Name(n)) if n == "missing")
        {
            self.pos += 2;
            true
        } else {
            false
        };
        let with_context = self.parse_context()?;
        self.expect_block_end()?;
        Ok(Node::Include {
            template,
            ignore_missing,
            with_context,
        })
    }

    fn parse_from(&mut self) -> Result<Node, ParseError> {
        let template = self.parse_expression(true)?;
        self.expect_name_value("import")?;
        let mut names = Vec::new();
        let mut with_context = None;
        loop {
            if !names.is_empty() && !self.skip_op(",") {
                break;
            }
            if (self.is_name("with") || self.is_name("without"))
                && matches!(self.peek_at(1), Some(TokenKind::Name(n)) if n == "context")
            {
                with_context = self.parse_context()?;
                break;
            }
            let name = self.expect_name()?;
            let alias = if self.skip_name("as") {
                Some(self.expect_name()?)
            } else {
                None
            };
            names.push((name, alias));
        }
        self.expect_block_end()?;
        Ok(Node::FromImport {
            template,
            names,
            with_context,
        })
    }

    fn parse_context(&mut self) -> Result<Option<bool>, ParseError> {
        let with = if self.is_name("with") {
            true
        } else if self.is_name("without") {
            false
        } else {
            return Ok(None);
        };
        if matches!(self.peek_at(1), Some(TokenKind::Name(n)) if n == "context") {
            self.pos += 2;
            Ok(Some(with))
        } else {
            Ok(None)
        }
    }

    /// An assignment target: a name, a tuple of names, or (in `set`) `namespace.attribute`.
    fn parse_assign_target(
        &mut self,
        with_namespace: bool,
        extra_end: &[&str],
    ) -> Result<Expr, ParseError> {
        let line = self.line();
        if with_namespace
            && matches!(self.peek(), Some(TokenKind::Name(_)))
            && matches!(self.peek_at(1), Some(TokenKind::Op(".")))
        {
            let obj = self.expect_name()?;
            self.pos += 1;
            let name = self.expect_name()?;
            let obj = self.expr(line, ExprKind::Name(obj))?;
            return self.expr(
                line,
                ExprKind::Attr {
                    obj: Box::new(obj),
                    name,
                },
            );
        }
        let target = self.parse_tuple_with(true, false, extra_end, false)?;
        if !is_assignable(&target) {
            return Err(self.error("can't assign to this expression"));
        }
        Ok(target)
    }

    // ---- expressions ---------------------------------------------------------------------------

    fn parse_expression(&mut self, with_condexpr: bool) -> Result<Expr, ParseError> {
        self.enter()?;
        let result = if with_condexpr {
            self.parse_condexpr()
        } else {
            self.parse_or()
        };
        self.leave();
        result
    }

    fn parse_condexpr(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let mut expr = self.parse_or()?;
        while self.skip_name("if") {
            let test = self.parse_or()?;
            let otherwise = if self.skip_name("else") {
                Some(Box::new(self.parse_expression(true)?))
            } else {
                None
            };
            expr = self.expr(
                line,
                ExprKind::Cond {
                    test: Box::new(test),
                    then: Box::new(expr),
                    otherwise,
                },
            )?;
        }
        Ok(expr)
    }

    fn binary(
        &mut self,
        line: u32,
        op: BinOp,
        left: Expr,
        right: Expr,
    ) -> Result<Expr, ParseError> {
        self.expr(
            line,
            ExprKind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
        )
    }

    fn parse_or(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let mut left = self.parse_and()?;
        while self.skip_name("or") {
            let right = self.parse_and()?;
            left = self.binary(line, BinOp::Or, left, right)?;
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let mut left = self.parse_not()?;
        while self.skip_name("and") {
            let right = self.parse_not()?;
            left = self.binary(line, BinOp::And, left, right)?;
        }
        Ok(left)
    }

    fn parse_not(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        if self.skip_name("not") {
            self.enter()?;
            let operand = self.parse_not();
            self.leave();
            let operand = operand?;
            return self.expr(
                line,
                ExprKind::Unary {
                    op: UnaryOp::Not,
                    operand: Box::new(operand),
                },
            );
        }
        self.parse_compare()
    }

    fn parse_compare(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let mut left = self.parse_math1()?;
        loop {
            let op = match self.peek() {
                Some(TokenKind::Op("==")) => BinOp::Eq,
                Some(TokenKind::Op("!=")) => BinOp::Ne,
                Some(TokenKind::Op("<")) => BinOp::Lt,
                Some(TokenKind::Op("<=")) => BinOp::Le,
                Some(TokenKind::Op(">")) => BinOp::Gt,
                Some(TokenKind::Op(">=")) => BinOp::Ge,
                Some(TokenKind::Name(n)) if n == "in" => BinOp::In,
                Some(TokenKind::Name(n))
                    if n == "not"
                        && matches!(self.peek_at(1), Some(TokenKind::Name(m)) if m == "in") =>
                {
                    self.pos += 1;
                    BinOp::NotIn
                }
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.parse_math1()?;
            left = self.binary(line, op, left, right)?;
        }
    }

    fn parse_math1(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let mut left = self.parse_concat()?;
        loop {
            let op = if self.is_op("+") {
                BinOp::Add
            } else if self.is_op("-") {
                BinOp::Sub
            } else {
                return Ok(left);
            };
            self.pos += 1;
            let right = self.parse_concat()?;
            left = self.binary(line, op, left, right)?;
        }
    }

    fn parse_concat(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let mut left = self.parse_math2()?;
        while self.skip_op("~") {
            let right = self.parse_math2()?;
            left = self.binary(line, BinOp::Concat, left, right)?;
        }
        Ok(left)
    }

    fn parse_math2(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let mut left = self.parse_pow()?;
        loop {
            let op = match self.peek() {
                Some(TokenKind::Op("*")) => BinOp::Mul,
                Some(TokenKind::Op("/")) => BinOp::Div,
                Some(TokenKind::Op("//")) => BinOp::FloorDiv,
                Some(TokenKind::Op("%")) => BinOp::Mod,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.parse_pow()?;
            left = self.binary(line, op, left, right)?;
        }
    }

    fn parse_pow(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let mut left = self.parse_unary(true)?;
        while self.skip_op("**") {
            let right = self.parse_unary(true)?;
            left = self.binary(line, BinOp::Pow, left, right)?;
        }
        Ok(left)
    }

    fn parse_unary(&mut self, with_filter: bool) -> Result<Expr, ParseError> {
        self.enter()?;
        let result = self.parse_unary_inner(with_filter);
        self.leave();
        result
    }

    fn parse_unary_inner(&mut self, with_filter: bool) -> Result<Expr, ParseError> {
        let line = self.line();
        let op = if self.skip_op("-") {
            Some(UnaryOp::Neg)
        } else if self.skip_op("+") {
            Some(UnaryOp::Pos)
        } else {
            None
        };
        let mut node = match op {
            Some(op) => {
                let operand = self.parse_unary(false)?;
                self.expr(
                    line,
                    ExprKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                )?
            }
            None => self.parse_primary()?,
        };
        node = self.parse_postfix(node)?;
        if with_filter {
            node = self.parse_filter_expr(node)?;
        }
        Ok(node)
    }

    fn parse_primary(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let Some(token) = self.next() else {
            return Err(self.error("unexpected end of template"));
        };
        let kind = match token {
            TokenKind::Name(name) => match name.as_str() {
                "true" | "True" => ExprKind::Const(Const::Bool(true)),
                "false" | "False" => ExprKind::Const(Const::Bool(false)),
                "none" | "None" => ExprKind::Const(Const::None),
                _ => ExprKind::Name(name),
            },
            TokenKind::Str(mut value) => {
                // Adjacent string literals are one string, as in Python.
                while let Some(TokenKind::Str(more)) = self.peek() {
                    value.push_str(more);
                    self.pos += 1;
                }
                ExprKind::Const(Const::Str(value))
            }
            TokenKind::Int(v) => ExprKind::Const(Const::Int(v)),
            TokenKind::Float(v) => ExprKind::Const(Const::Float(v)),
            TokenKind::Op("(") => {
                let inner = self.parse_tuple_with(false, true, &[], true)?;
                self.expect_op(")")?;
                return Ok(inner);
            }
            TokenKind::Op("[") => {
                let mut items = Vec::new();
                while !self.is_op("]") {
                    if !items.is_empty() {
                        self.expect_op(",")?;
                        if self.is_op("]") {
                            break;
                        }
                    }
                    items.push(self.parse_expression(true)?);
                }
                self.expect_op("]")?;
                ExprKind::List(items)
            }
            TokenKind::Op("{") => {
                let mut items = Vec::new();
                while !self.is_op("}") {
                    if !items.is_empty() {
                        self.expect_op(",")?;
                        if self.is_op("}") {
                            break;
                        }
                    }
                    let key = self.parse_expression(true)?;
                    self.expect_op(":")?;
                    let value = self.parse_expression(true)?;
                    items.push((key, value));
                }
                self.expect_op("}")?;
                ExprKind::Dict(items)
            }
            _ => {
                self.pos = self.pos.saturating_sub(1);
                return Err(self.error(format!("unexpected {}", self.describe())));
            }
        };
        self.expr(line, kind)
    }

    /// A tuple where Jinja2 allows one (`{{ a, b }}`, `for a, b in`, `set a = 1, 2`), or a
    /// single expression when there is no comma.
    fn parse_tuple(&mut self, with_condexpr: bool, extra_end: &[&str]) -> Result<Expr, ParseError> {
        self.parse_tuple_with(false, with_condexpr, extra_end, false)
    }

    fn parse_tuple_with(
        &mut self,
        simplified: bool,
        with_condexpr: bool,
        extra_end: &[&str],
        explicit_parentheses: bool,
    ) -> Result<Expr, ParseError> {
        self.enter()?;
        let result =
            self.parse_tuple_inner(simplified, with_condexpr, extra_end, explicit_parentheses);
        self.leave();
        result
    }

    fn parse_tuple_inner(
        &mut self,
        simplified: bool,
        with_condexpr: bool,
        extra_end: &[&str],
        explicit_parentheses: bool,
    ) -> Result<Expr, ParseError> {
        let line = self.line();
        let mut items = Vec::new();
        let mut is_tuple = false;
        loop {
            if !items.is_empty() {
                self.expect_op(",")?;
            }
            if self.is_tuple_end(extra_end) {
                break;
            }
            let item = if simplified {
                let primary = self.parse_primary()?;
                // A target name may not be followed by postfix operators in Jinja2 either, but
                // parenthesised targets `(a, b)` come through here too.
                primary
            } else {
                self.parse_expression(with_condexpr)?
            };
            items.push(item);
            if self.is_op(",") {
                is_tuple = true;
            } else {
                break;
            }
        }
        if !is_tuple {
            if let Some(item) = items.pop() {
                return Ok(item);
            }
            if !explicit_parentheses {
                return Err(self.error(format!("expected an expression, got {}", self.describe())));
            }
        }
        self.expr(line, ExprKind::Tuple(items))
    }

    fn is_tuple_end(&self, extra_end: &[&str]) -> bool {
        match self.peek() {
            Some(TokenKind::VariableEnd | TokenKind::BlockEnd) | None => true,
            Some(TokenKind::Op(")")) => true,
            Some(TokenKind::Name(n)) => extra_end.contains(&n.as_str()),
            _ => false,
        }
    }

    fn parse_postfix(&mut self, mut node: Expr) -> Result<Expr, ParseError> {
        loop {
            let line = node.line;
            if self.skip_op(".") {
                node = match self.next() {
                    Some(TokenKind::Name(name)) => self.expr(
                        line,
                        ExprKind::Attr {
                            obj: Box::new(node),
                            name,
                        },
                    )?,
                    // `x.0` is item access with an integer in Jinja2.
                    Some(TokenKind::Int(i)) => {
                        let index = self.expr(line, ExprKind::Const(Const::Int(i)))?;
                        self.expr(
                            line,
                            ExprKind::Item {
                                obj: Box::new(node),
                                index: Box::new(index),
                            },
                        )?
                    }
                    _ => {
                        self.pos = self.pos.saturating_sub(1);
                        return Err(self.error("expected name or number after '.'"));
                    }
                };
            } else if self.skip_op("[") {
                let index = self.parse_subscript_body()?;
                self.expect_op("]")?;
                node = self.expr(
                    line,
                    ExprKind::Item {
                        obj: Box::new(node),
                        index: Box::new(index),
                    },
                )?;
            } else if self.is_op("(") {
                let args = self.parse_call_args()?;
                node = self.expr(
                    line,
                    ExprKind::Call {
                        func: Box::new(node),
                        args,
                    },
                )?;
            } else {
                return Ok(node);
            }
        }
    }

    fn parse_subscript_body(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let mut items = Vec::new();
        loop {
            if !items.is_empty() {
                self.expect_op(",")?;
                if self.is_op("]") {
                    break;
                }
            }
            items.push(self.parse_subscribed()?);
            if !self.is_op(",") {
                break;
            }
        }
        if items.len() == 1
            && let Some(item) = items.pop()
        {
            return Ok(item);
        }
        self.expr(line, ExprKind::Tuple(items))
    }

    fn parse_subscribed(&mut self) -> Result<Expr, ParseError> {
        let line = self.line();
        let start = if self.is_op(":") {
            None
        } else {
            let expr = self.parse_expression(true)?;
            if !self.is_op(":") {
                return Ok(expr);
            }
            Some(Box::new(expr))
        };
        self.expect_op(":")?;
        let stop = if self.is_op("]") || self.is_op(",") || self.is_op(":") {
            None
        } else {
            Some(Box::new(self.parse_expression(true)?))
        };
        let step = if self.skip_op(":") {
            if self.is_op("]") || self.is_op(",") {
                None
            } else {
                Some(Box::new(self.parse_expression(true)?))
            }
        } else {
            None
        };
        self.expr(line, ExprKind::Slice { start, stop, step })
    }

    fn parse_call_args(&mut self) -> Result<CallArgs, ParseError> {
        self.expect_op("(")?;
        let mut args = CallArgs::default();
        let mut first = true;
        while !self.is_op(")") {
            if !first {
                self.expect_op(",")?;
                if self.is_op(")") {
                    break;
                }
            }
            first = false;
            if self.skip_op("**") {
                args.dyn_kwargs = Some(Box::new(self.parse_expression(true)?));
            } else if self.skip_op("*") {
                args.dyn_args = Some(Box::new(self.parse_expression(true)?));
            } else if matches!(self.peek(), Some(TokenKind::Name(_)))
                && matches!(self.peek_at(1), Some(TokenKind::Op("=")))
            {
                let key = self.expect_name()?;
                self.pos += 1;
                let value = self.parse_expression(true)?;
                args.kwargs.push((key, value));
            } else {
                args.args.push(self.parse_expression(true)?);
            }
        }
        self.expect_op(")")?;
        Ok(args)
    }

    /// `|` filters and `is` tests after a value (or the filter chain of a `{% filter %}` block
    /// when `value` is `None`).
    fn parse_filter_expr(&mut self, mut node: Expr) -> Result<Expr, ParseError> {
        loop {
            if self.is_op("|") {
                node = self.parse_filters(Some(node))?;
            } else if self.is_name("is") {
                node = self.parse_test(node)?;
            } else if self.is_op("(") {
                let line = node.line;
                let args = self.parse_call_args()?;
                node = self.expr(
                    line,
                    ExprKind::Call {
                        func: Box::new(node),
                        args,
                    },
                )?;
            } else {
                return Ok(node);
            }
        }
    }

    fn parse_filters(&mut self, mut value: Option<Expr>) -> Result<Expr, ParseError> {
        let mut start = true;
        loop {
            if !self.skip_op("|") {
                if start && value.is_none() {
                    // `{% filter upper %}`: the first filter has no bar.
                } else {
                    break;
                }
            }
            start = false;
            let line = self.line();
            let mut name = self.expect_name()?;
            while self.skip_op(".") {
                name.push('.');
                name.push_str(&self.expect_name()?);
            }
            let args = if self.is_op("(") {
                self.parse_call_args()?
            } else {
                CallArgs::default()
            };
            let line = value.as_ref().map_or(line, |v| v.line);
            value = Some(self.expr(
                line,
                ExprKind::Filter {
                    value: value.map(Box::new),
                    name,
                    args,
                },
            )?);
            if !self.is_op("|") {
                break;
            }
        }
        value.ok_or_else(|| self.error("expected a filter"))
    }

    fn parse_test(&mut self, value: Expr) -> Result<Expr, ParseError> {
        let line = value.line;
        self.expect_name_value("is")?;
        let negated = self.skip_name("not");
        let mut name = self.expect_name()?;
        while self.skip_op(".") {
            name.push('.');
            name.push_str(&self.expect_name()?);
        }
        let args = if self.is_op("(") {
            self.parse_call_args()?
        } else if matches!(
            self.peek(),
            Some(
                TokenKind::Name(_)
                    | TokenKind::Str(_)
                    | TokenKind::Int(_)
                    | TokenKind::Float(_)
                    | TokenKind::Op("[" | "{")
            )
        ) && !["else", "or", "and"].iter().any(|k| self.is_name(k))
        {
            if self.is_name("is") {
                return Err(self.error("you cannot chain multiple tests with is"));
            }
            let arg = self.parse_primary()?;
            let arg = self.parse_postfix(arg)?;
            CallArgs {
                args: vec![arg],
                ..CallArgs::default()
            }
        } else {
            CallArgs::default()
        };
        self.expr(
            line,
            ExprKind::Test {
                value: Box::new(value),
                name,
                args,
                negated,
            },
        )
    }
}

fn is_assignable(target: &Expr) -> bool {
    match &target.kind {
        ExprKind::Name(n) => !matches!(
            n.as_str(),
            "true" | "false" | "none" | "True" | "False" | "None"
        ),
        ExprKind::Tuple(items) => items.iter().all(is_assignable),
        ExprKind::Attr { obj, .. } => matches!(obj.kind, ExprKind::Name(_)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Template {
        parse(src, &Limits::default()).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn statements_of_chat_templates_parse() {
        ok(
            "{%- set ns = namespace(found=false) -%}{%- for m in messages -%}{%- if m['role'] == 'system' -%}{%- set ns.found = true -%}{%- elif m.role is defined and m.role not in ['a'] %}x{%- else -%}{{ raise_exception('bad') }}{%- endif -%}{%- endfor -%}",
        );
        ok(
            "{% macro render(x, y=none) %}{{ x|tojson(indent=4) }}{% endmacro %}{{ render(tools) }}",
        );
        ok(
            "{% for k, v in d.items() if v is not none recursive %}{{ loop.index0 }}{% else %}{% break %}{% endfor %}",
        );
        ok(
            "{% call(item) render(1) %}{{ caller() }}{% endcall %}{% filter upper|trim %}x{% endfilter %}",
        );
        ok(
            "{% with a = 1, b = 2 %}{{ a ~ b }}{% endwith %}{% generation %}{{ c }}{% endgeneration %}",
        );
        ok(
            "{% set x %}body{% endset %}{% set y | trim %} y {% endset %}{% raw %}{{ }}{% endraw %}",
        );
        ok("{{ messages[1:] }}{{ x[::-1] }}{{ (a, b) }}{{ () }}{{ {'a': 1, 'b': [1, 2,]} }}");
        ok(
            "{{ x is divisibleby 3 }}{{ a if b }}{{ a if b else c }}{{ -x ** 2 }}{{ not a or b and c }}",
        );
        ok("{% if x %}{% continue %}{% endif %}{% do ns.items.append(1) %}");
        ok("{{ content.split('</think>')[-1].lstrip('\\n') }}{{ strftime_now('%d %b %Y') }}");
    }

    #[test]
    fn syntax_errors_are_reported_with_their_line() {
        let err = parse("a\n{% if x %}\nno end", &Limits::default()).expect_err("fails");
        assert!(matches!(err, ParseError::Syntax { .. }));
        for bad in [
            "{% endif %}",
            "{% foo %}",
            "{{ a b }}",
            "{% for in x %}{% endfor %}",
            "{% set 1 = 2 %}",
            "{{ }}",
        ] {
            assert!(parse(bad, &Limits::default()).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_are_enforced() {
        let deep = format!(
            "{}{}",
            "{{ ".to_string() + &"(".repeat(500),
            ")".repeat(500) + " }}"
        );
        assert!(matches!(
            parse(&deep, &Limits::default()),
            Err(ParseError::TooDeep { .. })
        ));
        let nested_ifs = "{% if a %}".repeat(200) + &"{% endif %}".repeat(200);
        assert!(matches!(
            parse(&nested_ifs, &Limits::default()),
            Err(ParseError::TooDeep { .. })
        ));
        let limits = Limits {
            max_nodes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            parse(&"{{ a }}".repeat(20), &limits),
            Err(ParseError::TooManyNodes { .. })
        ));
        let limits = Limits {
            max_source_bytes: 4,
            ..Limits::default()
        };
        assert!(matches!(
            parse("{{ a }}", &limits),
            Err(ParseError::TooLarge { .. })
        ));
    }
}
