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
#[derive(Default)]
pub(crate) struct DictPreview {
    pub(crate) entries: RefCell<Vec<(String, Value)>>,
}

pub(crate) struct DtypeInfo {
    pub(crate) descr: String,
    pub(crate) state: RefCell<Option<Value>>,
}

/// Dicts and dtypes can nest each other without bound (`d['dtype'] = d2`...): their `Debug` shows
/// no nested values, unlike a derived one, which would recurse once per level.
impl std::fmt::Debug for DictPreview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<String> = match self.entries.try_borrow() {
            Ok(entries) => entries.iter().map(|(k, _)| k.clone()).collect(),
            Err(_) => Vec::new(),
        };
        f.debug_struct("DictPreview").field("keys", &keys).finish()
    }
}

impl std::fmt::Debug for DtypeInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtypeInfo")
            .field("descr", &self.descr)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub(crate) struct Blob {
    pub(crate) prefix: Vec<u8>,
    pub(crate) len: u64,
    pub(crate) bytearray: bool,
    /// The pickle these bytes hold, when they were simulated as one (see `embedded.rs`).
    pub(crate) embedded: Option<Rc<crate::embedded::Embedded>>,
}

pub(crate) struct TupleValue {
    pub(crate) len: usize,
    pub(crate) preview: Vec<Value>,
    /// Nesting depth of tuples inside this one (1 for a flat tuple).
    pub(crate) depth: u32,
}

/// Dropping a value frees the values nested in it with an explicit work list instead of recursion:
/// a pickle can nest tuples (and, in joblib mode, dicts and dtypes) as deep as its length allows,
/// and a recursive drop would overflow the thread's stack.
fn drop_nested(mut pending: Vec<Value>) {
    while let Some(value) = pending.pop() {
        value.release_children(&mut pending);
    }
}

impl Value {
    /// Moves the children of this value into `pending` when this is their last owner (so that
    /// dropping the emptied container recurses no further).
    fn release_children(self, pending: &mut Vec<Value>) {
        match self {
            Value::Tuple(tuple) => {
                if let Ok(mut tuple) = Rc::try_unwrap(tuple) {
                    pending.append(&mut tuple.preview);
                }
            }
            Value::Dict(Some(dict)) => {
                if let Ok(dict) = Rc::try_unwrap(dict) {
                    pending.extend(dict.entries.take().into_iter().map(|(_, v)| v));
                }
            }
            Value::Dtype(dtype) => {
                if let Ok(dtype) = Rc::try_unwrap(dtype) {
                    pending.extend(dtype.state.take());
                }
            }
            _ => {}
        }
    }
}

/// Tuples nested deeper than this are not shown by `Debug`.
const DEBUG_DEPTH: u32 = 4;

impl std::fmt::Debug for TupleValue {
    /// Bounded like `render`: a derived `Debug` would recurse once per nesting level.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("TupleValue");
        out.field("len", &self.len).field("depth", &self.depth);
        if self.depth <= DEBUG_DEPTH {
            out.field("preview", &self.preview);
        }
        out.finish_non_exhaustive()
    }
}

thread_local! {
    /// Heap bytes of the tuples alive on this thread. Values hold `Rc`s and never leave the thread
    /// that made them, so a scan measures its own tuples as the growth of this counter.
    static LIVE_TUPLE_BYTES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Heap bytes of one tuple allocation (the `Rc` box and its preview vector).
fn tuple_bytes(preview_capacity: usize) -> usize {
    2 * std::mem::size_of::<usize>()
        + std::mem::size_of::<TupleValue>()
        + preview_capacity * std::mem::size_of::<Value>()
}

/// Heap bytes of the tuples alive on the current thread (see [`Value::tuple`]).
pub(crate) fn live_tuple_bytes() -> usize {
    LIVE_TUPLE_BYTES.with(std::cell::Cell::get)
}

impl Drop for TupleValue {
    fn drop(&mut self) {
        let bytes = tuple_bytes(self.preview.capacity());
        LIVE_TUPLE_BYTES.with(|live| live.set(live.get().saturating_sub(bytes)));
        if self.preview.iter().any(Value::has_children) {
            drop_nested(std::mem::take(&mut self.preview));
        }
    }
}

impl Drop for DictPreview {
    fn drop(&mut self) {
        let entries = std::mem::take(self.entries.get_mut());
        drop_nested(entries.into_iter().map(|(_, v)| v).collect());
    }
}

impl Drop for DtypeInfo {
    fn drop(&mut self) {
        drop_nested(self.state.get_mut().take().into_iter().collect());
    }
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
        let preview: Vec<Value> = items.iter().take(TUPLE_PREVIEW).cloned().collect();
        LIVE_TUPLE_BYTES.with(|live| live.set(live.get() + tuple_bytes(preview.capacity())));
        Value::Tuple(Rc::new(TupleValue {
            len: items.len(),
            preview,
            depth,
        }))
    }

    /// A container whose drop may free further values.
    fn has_children(&self) -> bool {
        matches!(
            self,
            Value::Tuple(_) | Value::Dict(Some(_)) | Value::Dtype(_)
        )
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

    /// A million nested tuples and joblib dicts are built and dropped on a thread with a 256 KiB
    /// stack: dropping, `Debug` and `render` must not recurse per level.
    #[test]
    fn deep_nesting_drops_debugs_and_renders_on_a_small_stack() {
        let worker = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let before = live_tuple_bytes();
                let mut tuple = Value::tuple(&[]);
                for _ in 0..1_000_000 {
                    tuple = Value::tuple(&[tuple, Value::None]);
                }
                assert_eq!(tuple.depth(), 1_000_001);
                assert!(format!("{tuple:?}").len() < 1000);
                let mut rendered = String::new();
                tuple.render(&|_| String::new(), &mut rendered, 300);
                assert!(rendered.len() < 400);
                assert!(live_tuple_bytes() > before);
                drop(tuple);
                assert_eq!(live_tuple_bytes(), before);

                let mut dict = Value::Dict(Some(Rc::new(DictPreview::default())));
                for _ in 0..1_000_000 {
                    let outer = Rc::new(DictPreview::default());
                    outer.entries.borrow_mut().push(("dtype".to_string(), dict));
                    let dtype = Rc::new(DtypeInfo {
                        descr: "O".to_string(),
                        state: RefCell::new(Some(Value::Dict(Some(outer)))),
                    });
                    dict = Value::Dtype(dtype);
                }
                assert!(format!("{dict:?}").len() < 1000);
                drop(dict);
            })
            .expect("spawn");
        assert!(worker.join().is_ok());
    }

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
