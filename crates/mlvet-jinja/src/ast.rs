//! The syntax tree. Every expression carries the 1-based template line it starts on.

/// A parsed template: its top-level nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub body: Vec<Node>,
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    None,
}

/// An expression with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub line: u32,
    pub kind: ExprKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
    Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    /// `~`: string concatenation.
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

/// Arguments of a call, a filter or a test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallArgs {
    pub args: Vec<Expr>,
    pub kwargs: Vec<(String, Expr)>,
    /// `*args`
    pub dyn_args: Option<Box<Expr>>,
    /// `**kwargs`
    pub dyn_kwargs: Option<Box<Expr>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Name(String),
    Const(Const),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    /// `obj.name`
    Attr {
        obj: Box<Expr>,
        name: String,
    },
    /// `obj[index]`
    Item {
        obj: Box<Expr>,
        index: Box<Expr>,
    },
    /// `start:stop:step` inside a subscript.
    Slice {
        start: Option<Box<Expr>>,
        stop: Option<Box<Expr>>,
        step: Option<Box<Expr>>,
    },
    Call {
        func: Box<Expr>,
        args: CallArgs,
    },
    /// `value | name(args)`; `value` is `None` for the filters of a `{% filter %}` block.
    Filter {
        value: Option<Box<Expr>>,
        name: String,
        args: CallArgs,
    },
    /// `value is [not] name(args)`
    Test {
        value: Box<Expr>,
        name: String,
        args: CallArgs,
        negated: bool,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `then if test else otherwise`
    Cond {
        test: Box<Expr>,
        then: Box<Expr>,
        otherwise: Option<Box<Expr>>,
    },
}

/// A macro or call-block parameter with its default.
pub type Param = (String, Option<Expr>);

/// A statement or a piece of template data.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Template data outside any tag, as written.
    Text(String),
    /// `{{ expr }}`
    Output(Expr),
    For {
        target: Expr,
        iter: Expr,
        filter: Option<Expr>,
        recursive: bool,
        body: Vec<Node>,
        else_body: Vec<Node>,
    },
    /// `if`/`elif` branches in order, then the `else` body.
    If {
        branches: Vec<(Expr, Vec<Node>)>,
        else_body: Vec<Node>,
    },
    /// `{% set target = value %}`
    Set {
        target: Expr,
        value: Expr,
    },
    /// `{% set target | filters %}body{% endset %}`; `filter` is the filter chain, if any.
    SetBlock {
        target: Expr,
        filter: Option<Expr>,
        body: Vec<Node>,
    },
    Macro {
        name: String,
        params: Vec<Param>,
        body: Vec<Node>,
    },
    /// `{% call(params) expr %}body{% endcall %}`
    CallBlock {
        params: Vec<Param>,
        call: Expr,
        body: Vec<Node>,
    },
    /// `{% filter f|g %}body{% endfilter %}`
    FilterBlock {
        filter: Expr,
        body: Vec<Node>,
    },
    With {
        assignments: Vec<(Expr, Expr)>,
        body: Vec<Node>,
    },
    /// transformers' `{% generation %}` (assistant token masks).
    Generation {
        body: Vec<Node>,
    },
    /// `{% raw %}...{% endraw %}` content, as written.
    Raw(String),
    Break,
    Continue,
    /// `{% do expr %}` (the `do` extension).
    Do(Expr),
    Block {
        name: String,
        scoped: bool,
        required: bool,
        body: Vec<Node>,
    },
    Extends(Expr),
    Include {
        template: Expr,
        ignore_missing: bool,
        with_context: Option<bool>,
    },
    /// `{% import template as target %}`
    Import {
        template: Expr,
        target: String,
        with_context: Option<bool>,
    },
    /// `{% from template import a as b, c %}`
    FromImport {
        template: Expr,
        names: Vec<(String, Option<String>)>,
        with_context: Option<bool>,
    },
    Autoescape {
        value: Expr,
        body: Vec<Node>,
    },
}

impl Expr {
    pub fn new(line: u32, kind: ExprKind) -> Self {
        Expr { line, kind }
    }
}
