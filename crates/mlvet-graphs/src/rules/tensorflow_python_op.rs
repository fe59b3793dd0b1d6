use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "tensorflow-python-op",
    category: "graph",
    summary: "A TensorFlow graph calls into Python (`PyFunc`, `PyFuncStateless`, `EagerPyFunc`: `tf.py_function`, `tf.numpy_function`)",
    default_severity: Severity::High,
    verdict: Verdict::Malicious,
    docs: r#"
## What it does
Reports every node whose op is `PyFunc`, `PyFuncStateless` (from `tf.numpy_function` and
`tf.compat.v1.py_func`) or `EagerPyFunc` (from `tf.py_function`), in the graph of a frozen
`GraphDef`, in every meta graph of a SavedModel and in every function of their libraries, with
the node's name, op, function token and where it is.

## Why is this bad?
These ops run a Python callable from inside the graph. The callable itself is not serialised:
the node carries a token (`pyfunc_12`) that the runtime looks up in the process's registry of
Python functions. A SavedModel loaded in a fresh process usually fails when the node runs; in a
process where the token is registered (the same program that built it, a serving wrapper, an
attacker-supplied helper package imported first), arbitrary Python runs with the tokens the
attacker chose. No model meant to be shared needs this, TensorFlow warns that such graphs are
not portable, and peers (ModelAudit) treat it as critical. mlvet therefore calls it malicious:
the graph asks to execute code outside the TensorFlow op set, and that is what a reviewer must
not let through unexamined. Suppress the finding for your own pipelines if you build such
graphs on purpose.

## Example
A SavedModel whose `serve` function wraps `tf.py_function(lambda x: os.system(...), [x],
tf.int32)`: the graph holds an `EagerPyFunc` node with `token: "pyfunc_0"`.

## Remediation
Do not load the model in a process that registers Python functions. Re-export it without
`tf.py_function`/`tf.numpy_function` (implement the step with TensorFlow ops).

## References
- TensorFlow `tf.py_function` documentation ("not serializable": the body is not saved)
- ModelAudit `tensorflow` scanner (PyFunc family listed as critical)
- <https://www.tensorflow.org/api_docs/python/tf/py_function>
"#,
};

/// A finding for one Python-calling node.
pub fn finding(
    location: Location,
    scope: &str,
    node: &str,
    op: &str,
    token: Option<&str>,
) -> Finding {
    let mut finding = Finding::new(
        &RULE,
        location,
        format!("node `{node}` ({op}) in {scope} calls a Python function registered in the loading process"),
    )
    .evidence("node", node)
    .evidence("op", op)
    .evidence("scope", scope);
    if let Some(token) = token {
        finding = finding.evidence("token", token);
    }
    finding.remediation(
        "Do not load the model in a process that registers Python functions; re-export it without tf.py_function.",
    )
}
