//! Property tests: the parser and the analysis never panic on any input; generated templates
//! survive a source round trip; templates made of ordinary names are never flagged; a dunder
//! attribute added to any expression is always found.

use mlvet_jinja::{
    BinOp, CallArgs, Const, Expr, ExprKind, Limits, Node, Severity, Template, UnaryOp, analyze,
    inspect, parse, to_source,
};
use proptest::prelude::*;

const RESERVED: [&str; 36] = [
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "elif",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "recursive",
    "for",
    "endfor",
    "set",
    "endif",
    "macro",
    "endmacro",
    "cycler",
    "joiner",
    "namespace",
    "lipsum",
    "self",
    "config",
    "request",
    "url_for",
    "session",
    "mro",
    "with",
    "without",
    "import",
    "as",
    "context",
];

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,5}".prop_filter("not reserved", |s| !RESERVED.contains(&s.as_str()))
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        ident().prop_map(|n| Expr::new(1, ExprKind::Name(n))),
        "[a-z <>|!?.,:-]{0,8}".prop_map(|s| Expr::new(1, ExprKind::Const(Const::Str(s)))),
        (0i128..90).prop_map(|i| Expr::new(1, ExprKind::Const(Const::Int(i)))),
        any::<bool>().prop_map(|b| Expr::new(1, ExprKind::Const(Const::Bool(b)))),
        Just(Expr::new(1, ExprKind::Const(Const::None))),
    ]
}

fn bx(e: Expr) -> Box<Expr> {
    Box::new(e)
}

fn args_of(args: Vec<Expr>, kwargs: Vec<(String, Expr)>) -> CallArgs {
    CallArgs {
        args,
        kwargs,
        dyn_args: None,
        dyn_kwargs: None,
    }
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        let binop = prop_oneof![
            Just(BinOp::Or),
            Just(BinOp::And),
            Just(BinOp::Add),
            Just(BinOp::Sub),
            Just(BinOp::Mul),
            Just(BinOp::Div),
            Just(BinOp::FloorDiv),
            Just(BinOp::Mod),
            Just(BinOp::Pow),
            Just(BinOp::Concat),
            Just(BinOp::Eq),
            Just(BinOp::Ne),
            Just(BinOp::Lt),
            Just(BinOp::Le),
            Just(BinOp::Gt),
            Just(BinOp::Ge),
            Just(BinOp::In),
            Just(BinOp::NotIn),
        ];
        let filter_name = prop_oneof![
            Just("upper"),
            Just("trim"),
            Just("length"),
            Just("tojson"),
            Just("default"),
            Just("join"),
            Just("first")
        ];
        let test_name = prop_oneof![
            Just("defined"),
            Just("none"),
            Just("string"),
            Just("divisibleby")
        ];
        let kwargs = prop::collection::vec((ident(), inner.clone()), 0..2);
        prop_oneof![
            (inner.clone(), ident()).prop_map(|(o, n)| Expr::new(
                1,
                ExprKind::Attr {
                    obj: bx(o),
                    name: n
                }
            )),
            (inner.clone(), inner.clone()).prop_map(|(o, i)| Expr::new(
                1,
                ExprKind::Item {
                    obj: bx(o),
                    index: bx(i)
                }
            )),
            (
                inner.clone(),
                prop::option::of(inner.clone()),
                prop::option::of(inner.clone())
            )
                .prop_map(|(o, a, b)| {
                    let slice = Expr::new(
                        1,
                        ExprKind::Slice {
                            start: a.map(bx),
                            stop: b.map(bx),
                            step: None,
                        },
                    );
                    Expr::new(
                        1,
                        ExprKind::Item {
                            obj: bx(o),
                            index: bx(slice),
                        },
                    )
                }),
            (
                inner.clone(),
                prop::collection::vec(inner.clone(), 0..3),
                kwargs
            )
                .prop_map(|(f, a, k)| Expr::new(
                    1,
                    ExprKind::Call {
                        func: bx(f),
                        args: args_of(a, k)
                    }
                )),
            (
                inner.clone(),
                filter_name,
                prop::collection::vec(inner.clone(), 0..2)
            )
                .prop_map(|(v, n, a)| {
                    Expr::new(
                        1,
                        ExprKind::Filter {
                            value: Some(bx(v)),
                            name: n.to_string(),
                            args: args_of(a, vec![]),
                        },
                    )
                }),
            (inner.clone(), test_name, any::<bool>()).prop_map(|(v, n, neg)| {
                Expr::new(
                    1,
                    ExprKind::Test {
                        value: bx(v),
                        name: n.to_string(),
                        args: CallArgs::default(),
                        negated: neg,
                    },
                )
            }),
            (
                prop_oneof![Just(UnaryOp::Not), Just(UnaryOp::Neg), Just(UnaryOp::Pos)],
                inner.clone()
            )
                .prop_map(|(op, e)| Expr::new(1, ExprKind::Unary { op, operand: bx(e) })),
            (binop, inner.clone(), inner.clone()).prop_map(|(op, l, r)| Expr::new(
                1,
                ExprKind::Binary {
                    op,
                    left: bx(l),
                    right: bx(r)
                }
            )),
            (
                inner.clone(),
                inner.clone(),
                prop::option::of(inner.clone())
            )
                .prop_map(|(t, a, b)| {
                    Expr::new(
                        1,
                        ExprKind::Cond {
                            test: bx(t),
                            then: bx(a),
                            otherwise: b.map(bx),
                        },
                    )
                }),
            prop::collection::vec(inner.clone(), 0..3)
                .prop_map(|v| Expr::new(1, ExprKind::List(v))),
            prop::collection::vec(inner.clone(), 0..3)
                .prop_map(|v| Expr::new(1, ExprKind::Tuple(v))),
            prop::collection::vec((inner.clone(), inner.clone()), 0..2)
                .prop_map(|v| Expr::new(1, ExprKind::Dict(v))),
        ]
    })
}

fn nodes() -> impl Strategy<Value = Vec<Node>> {
    let leaf_node = prop_oneof![
        "[a-z .,\n]{1,10}".prop_map(Node::Text),
        expr().prop_map(Node::Output),
        (ident(), expr()).prop_map(|(n, v)| Node::Set {
            target: Expr::new(1, ExprKind::Name(n)),
            value: v
        }),
    ];
    let node = leaf_node.prop_recursive(3, 24, 3, |inner| {
        let body = prop::collection::vec(inner, 0..3);
        prop_oneof![
            (
                prop::collection::vec((expr(), body.clone()), 1..3),
                body.clone()
            )
                .prop_map(|(branches, else_body)| Node::If {
                    branches,
                    else_body
                }),
            (ident(), expr(), body.clone(), body.clone()).prop_map(|(t, iter, body, else_body)| {
                Node::For {
                    target: Expr::new(1, ExprKind::Name(t)),
                    iter,
                    filter: None,
                    recursive: false,
                    body,
                    else_body,
                }
            }),
            (ident(), body.clone()).prop_map(|(name, body)| Node::Macro {
                name,
                params: vec![],
                body
            }),
            body.clone().prop_map(|body| Node::Generation { body }),
        ]
    });
    prop::collection::vec(node, 0..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_arbitrary_text(src in "\\PC{0,200}") {
        let _ = inspect(&src, &Limits::default());
    }

    #[test]
    fn never_panics_on_jinja_like_text(parts in prop::collection::vec(prop_oneof![
        Just("{{"), Just("}}"), Just("{%"), Just("%}"), Just("{#"), Just("#}"), Just("-"), Just("'"),
        Just("\""), Just("\\"), Just("("), Just(")"), Just("["), Just("]"), Just("|"), Just("."),
        Just("if"), Just("endif"), Just("for"), Just("in"), Just("endfor"), Just("set"), Just("="),
        Just("raw"), Just("endraw"), Just("x"), Just("__class__"), Just("attr"), Just(" "), Just("~"),
        Just("is"), Just("not"), Just(","), Just(":"), Just("1"), Just("\\x5f"), Just("\n"),
    ], 0..60)) {
        let src: String = parts.concat();
        let _ = inspect(&src, &Limits::default());
    }

    #[test]
    fn generated_templates_round_trip(body in nodes()) {
        let template = Template { body };
        let source = to_source(&template);
        let parsed = parse(&source, &Limits::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{source}")))?;
        prop_assert_eq!(to_source(&parsed), source);
    }

    #[test]
    fn ordinary_names_are_never_flagged(body in nodes()) {
        let template = Template { body };
        let analysis = analyze(&template);
        prop_assert!(analysis.issues.is_empty(), "{:?}\n{}", analysis.issues, to_source(&template));
    }

    #[test]
    fn a_dunder_on_any_expression_is_found(e in expr(), dunder in prop_oneof![
        Just("__class__"), Just("__globals__"), Just("__init__"), Just("__subclasses__")]) {
        let reached = Expr::new(1, ExprKind::Attr { obj: bx(e), name: dunder.to_string() });
        let template = Template { body: vec![Node::Output(reached)] };
        let source = to_source(&template);
        let analysis = inspect(&source, &Limits::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(analysis.worst(), Some(Severity::Malicious));
        prop_assert!(analysis.issues.iter().any(|i| i.name == dunder));
    }
}
