use mlvet_core::{RuleMeta, Severity, Verdict};

use super::{Hit, keyword_true, named};
use crate::analysis::Call;

pub static RULE: RuleMeta = RuleMeta {
    id: "code-pickle-load",
    category: "code",
    summary: "Python code deserialises with pickle or a pickle-based loader (dill, cloudpickle, joblib, pandas.read_pickle, shelve, marshal, jsonpickle)",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Finds calls (through any import alias) to `pickle`, `cPickle`, `_pickle`, `dill` and `cloudpickle`
`load`/`loads`/`Unpickler`, `joblib.load`, `pandas.read_pickle`, `shelve.open`, `marshal.load(s)`,
`jsonpickle.decode` and `skops.io.load(..., trusted=True)`.

## Why is this bad?
Unpickling calls whatever callables the pickle names, with the arguments it chooses: loading a
pickle is running a program. joblib, `pandas.read_pickle`, `shelve` and cloudpickle are pickle
underneath; `marshal` loads code objects. Model files, cached features and "datasets" shipped as
pickles are the classic way to hide code in an ML project. mlvet's file scanner can say what a
given pickle would run; this rule finds the code that would run it, whatever file it is given.

## Example
```python
import joblib, pickle
clf = joblib.load("model.joblib")     # reported
obj = pickle.loads(payload)           # reported
```

## Remediation
Store models in a format without code (safetensors, ONNX, skops with an explicit `trusted` list,
JSON for configuration). When a pickle is unavoidable, load only files you produced, verify their
hash first, and scan them with `mlvet scan`; then suppress the finding inline with the reason.

## References
- [pickle documentation: security warning](https://docs.python.org/3/library/pickle.html)
- [joblib.load documentation: security warning](https://joblib.readthedocs.io/en/stable/generated/joblib.load.html)
- [bandit B301: pickle](https://bandit.readthedocs.io/en/latest/blacklists/blacklist_calls.html#b301-pickle)
"#,
};

const PICKLE_MODULES: &[&str] = &[
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "pickle5",
];
const PICKLE_FUNCTIONS: &[&str] = &["load", "loads", "Unpickler"];
const OTHER_LOADERS: &[&str] = &[
    "joblib.load",
    "sklearn.externals.joblib.load",
    "pandas.read_pickle",
    "pandas.io.pickle.read_pickle",
    "shelve.open",
    "shelve.DbfilenameShelf",
    "marshal.load",
    "marshal.loads",
    "jsonpickle.decode",
    "jsonpickle.unpickler.decode",
    "jsonpickle.unpickler.Unpickler",
];

pub(crate) fn check(call: &Call, hits: &mut Vec<Hit>) {
    let pickle_call = call
        .name
        .rsplit_once('.')
        .is_some_and(|(module, function)| {
            PICKLE_MODULES.contains(&module) && PICKLE_FUNCTIONS.contains(&function)
        });
    let skops_trusted =
        named(call, &["skops.io.load", "skops.io.loads"]) && keyword_true(call, "trusted");
    if !(pickle_call || named(call, OTHER_LOADERS) || skops_trusted) {
        return;
    }
    let what = if call.name.starts_with("marshal.") {
        "loads marshalled code objects"
    } else if skops_trusted {
        "with trusted=True trusts every type in the file, like a pickle"
    } else {
        "unpickles its input: the data can run code when loaded"
    };
    let mut hit = Hit::at_call(&RULE, call, format!("`{}` {what}", call.written))
        .remediation("Use a format without code (safetensors, ONNX, JSON); load pickles only from files you produced and verified.");
    if let Some(source) = call.args.first() {
        hit = hit.evidence("input", source.display());
    }
    if call.name.starts_with("marshal.") {
        hit = hit.severity(Severity::Medium);
    }
    hits.push(hit);
}
