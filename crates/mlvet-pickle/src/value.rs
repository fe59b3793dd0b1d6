//! Abstract values on the simulated stack and in the memo.
//!
//! Values record where they came from, not what they are at run time: literals keep (a bounded
//! prefix of) their content, containers are opaque, and everything produced by running code is an
//! object tagged with the reference that produced it. Cloning is cheap (no payload copies).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

/// Elements of a tuple kept for evidence.
const TUPLE_PREVIEW: usize = 8;

#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too large for `i64` (or unparsed).
    BigInt,
    Float(f64),
    /// A `str` literal (`STRING`/`UNICODE` families).
    Str(Rc<str>),
    /// A `str` literal longer than the capture limit: its first bytes.
    StrPrefix(Rc<str>),
    /// A `bytes`/`bytearray` literal of this length, with a prefix for evidence.
    Bytes(Rc<Blob>),
    Tuple(Rc<TupleValue>),
    List,
    /// A dict; in joblib mode it keeps the entries a `NumpyArrayWrapper` state needs.
    Dict(Option<Rc<DictPreview>>),
    Set,
    FrozenSet,
    /// A reference resolved by `GLOBAL`/`STACK_GLOBAL`: index into the reference table.
    Global(u32),
    /// A `STACK_GLOBAL` whose operands were not literals.
    DynamicGlobal,
    /// The result of calling or instantiating; `Some(g)` when the callee was reference `g`.
    Object(Option<u32>),
    /// What `persistent_load` returns.
    Persistent,
    /// Out-of-band buffer (`NEXT_BUFFER`).
    Buffer,
    /// Object from the copyreg extension registry.
    Extension(i64),
    /// A `numpy.dtype(descr, ...)` built in joblib mode, with the state `BUILD` gives it.
    Dtype(Rc<DtypeInfo>),
}

/// The `str`-keyed entries of a dict that joblib's array wrapper reads (bounded).
#[derive(Debug, Default)]
pub(crate) struct DictPreview {
    pub(crate) entries: RefCell<Vec<(String, Value)>>,
}

#[derive(Debug)]
pub(crate) struct DtypeInfo {
    pub(crate) descr: String,
    pub(crate) state: RefCell<Option<Value>>,
}

#[derive(Debug)]
pub(crate) struct Blob {
    pub(crate) prefix: Vec<u8>,
    pub(crate) len: u64,
    pub(crate) bytearray: bool,
    /// The pickle these bytes hold, when they were simulated as one (see `embedded.rs`).
    pub(crate) embedded: Option<Rc<crate::embedded::Embedded>>,
}

#[derive(Debug)]
pub(crate) struct TupleValue {
    pub(crate) len: usize,
    pub(crate) preview: Vec<Value>,
    /// Nesting depth of tuples inside this one (1 for a flat tuple).
    pub(crate) depth: u32,
}

impl Value {
    pub(crate) fn text(text: &str, truncated: bool) -> Value {
        if truncated {
            Value::StrPrefix(Rc::from(text))
        } else {
            Value::Str(Rc::from(text))
        }
    }

    /// The text of a `str` literal (a prefix when it was too long to keep).
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::StrPrefix(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn tuple(items: &[Value]) -> Value {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        let preview = items.iter().take(TUPLE_PREVIEW).cloned().collect();
        Value::Tuple(Rc::new(TupleValue {
            len: items.len(),
            preview,
            depth,
        }))
    }

    pub(crate) fn depth(&self) -> u32 {
        match self {
            Value::Tuple(t) => t.depth,
            _ => 0,
        }
    }

    /// A value whose run-time type is certainly not callable (calling it raises `TypeError`).
    pub(crate) fn is_plain_data(&self) -> bool {
        matches!(
            self,
            Value::None
                | Value::Bool(_)
                | Value::Int(_)
                | Value::BigInt
                | Value::Float(_)
                | Value::Str(_)
                | Value::StrPrefix(_)
                | Value::Bytes(_)
                | Value::Tuple(_)
                | Value::List
                | Value::Dict(_)
                | Value::Set
                | Value::FrozenSet
        )
    }

    /// A value that certainly is not a `str` at run time.
    pub(crate) fn is_certainly_not_str(&self) -> bool {
        self.is_plain_data() && self.as_str().is_none()
    }

    /// Python-like rendering for evidence, bounded in length and depth.
    pub(crate) fn render(&self, names: &dyn Fn(u32) -> String, out: &mut String, budget: usize) {
        if out.len() >= budget {
            return;
        }
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::BigInt => out.push_str("<int>"),
            Value::Float(f) => {
                let _ = write!(out, "{f:?}");
            }
            Value::Str(text) => python_str_repr(text, out),
            Value::StrPrefix(text) => {
                python_str_repr(text, out);
                out.push_str("...");
            }
            Value::Bytes(b) => {
                out.push_str(if b.bytearray { "bytearray(b'" } else { "b'" });
                for &byte in b.prefix.iter().take(64) {
                    let _ = write!(out, "{}", std::ascii::escape_default(byte));
                }
                out.push('\'');
                if b.len > b.prefix.len().min(64) as u64 {
                    let _ = write!(out, "...({} bytes)", b.len);
                }
                if b.bytearray {
                    out.push(')');
                }
            }
            Value::Tuple(t) => {
                out.push('(');
                for (i, item) in t.preview.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if t.depth > 4 {
                        out.push_str("...");
                        break;
                    }
                    item.render(names, out, budget);
                }
                if t.len > t.preview.len() {
                    let _ = write!(out, ", ...{} items", t.len);
                } else if t.len == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Value::List => out.push_str("[...]"),
            Value::Dict(_) => out.push_str("{...}"),
            Value::Dtype(d) => {
                let _ = write!(out, "numpy.dtype({:?})", d.descr);
            }
            Value::Set => out.push_str("set(...)"),
            Value::FrozenSet => out.push_str("frozenset(...)"),
            Value::Global(g) => out.push_str(&names(*g)),
            Value::DynamicGlobal => out.push_str("<computed global>"),
            Value::Object(Some(g)) => {
                let _ = write!(out, "<{}(...)>", names(*g));
            }
            Value::Object(None) => out.push_str("<object>"),
            Value::Persistent => out.push_str("<persistent id>"),
            Value::Buffer => out.push_str("<out-of-band buffer>"),
            Value::Extension(code) => {
                let _ = write!(out, "<extension {code}>");
            }
        }
        if out.len() > budget {
            let mut cut = budget;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push_str("...");
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text contains only the other kind, backslash
/// escapes for quotes, backslashes and control characters.
pub(crate) fn python_str_repr(text: &str, out: &mut String) {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_render_like_python_repr() {
        let render = |s: &str| {
            let mut out = String::new();
            python_str_repr(s, &mut out);
            out
        };
        assert_eq!(render("id"), "'id'");
        assert_eq!(render("it's"), "\"it's\"");
        assert_eq!(render("a'b\""), "'a\\'b\"'");
        assert_eq!(render("a\nb\\"), "'a\\nb\\\\'");
        assert_eq!(render("\u{1}"), "'\\x01'");
    }
}
