//! Cuts exactly one pickle out of a stream, the way a loader's `pickle.load(f)` consumes it, and
//! tracks just enough values to tell what that pickle evaluates to. It never executes anything.
//!
//! Why it exists: some formats interleave pickles with raw bytes that only the structure of the
//! pickled values tells how to skip (legacy PyTorch tar members: a count pickle, then per record
//! an args pickle followed by raw storage bytes). The pickle simulator scans opcodes but does not
//! evaluate; this walker is a [`Read`] adapter that forwards the opcode bytes of one pickle
//! unchanged, stops after its STOP, and keeps the returned value when it is one of the few shapes
//! tracked ([`Val`]: None, ints, strings, tuples, globals). Everything else evaluates to [`Val::Other`].
//!
//! When the loader would raise, nothing more is forwarded (it stops there too). When a bound of
//! ours is hit, the walker stops interpreting and forwards the rest raw, so the simulator sees at
//! least what the loader would; the pickle then never completes, and the caller treats the record
//! as not understood.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::rc::Rc;

const TRACKED_STR_MAX: usize = 1024;
const TRACKED_ITEMS_MAX: usize = 256;
/// Side-file references recorded per pickle.
const SIDE_FILES_MAX: usize = 10_000;
/// Tuples nested deeper than this are not tracked (no loader record needs more than 2).
const TRACKED_DEPTH_MAX: u8 = 32;
const LINE_MAX: usize = 64 * 1024;
const FRAME_MAX: u64 = 64 * 1024 * 1024;
const STACK_MAX: usize = 1_000_000;
const MEMO_MAX: usize = 4_000_000;
/// Cap on the bytes of one pickle cut out of a stream (callers bound their read with it).
pub(crate) const ONE_PICKLE_MAX: u64 = 256 * 1024 * 1024;

/// A value as far as the walker tracks it.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    None,
    Int(i128),
    Str(Rc<str>),
    /// The items and how deeply tuples nest inside (1 for a tuple of scalars).
    Tuple(Rc<Vec<Val>>, u8),
    Global(Rc<(String, String)>),
    /// A dict: only its string keys with string values are tracked (no nesting, so no cycles).
    Dict(DictItems),
    /// An object of a class the walker watches (joblib's side-file array placeholders).
    Instance(Rc<RefCell<Instance>>),
    Other,
}

/// The string items of a tracked dict, shared by every reference to it (memo copies).
pub(crate) type DictItems = Rc<RefCell<Vec<(Rc<str>, Rc<str>)>>>;

/// An instance of a watched class and the `filename` attribute it holds so far (`Some(None)`:
/// set to something that is not a tracked string).
#[derive(Debug)]
pub(crate) struct Instance {
    class: (String, String),
    filename: Option<Option<String>>,
}

/// A `BUILD` on one of joblib's pre-0.10 array placeholders: `joblib.load` then opens the file
/// it names next to the pickle (`NDArrayWrapper`: `np.load(..., allow_pickle=True)`;
/// `ZNDArrayWrapper`: a zlib "Z-file").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SideFileRef {
    pub class: String,
    /// `None` when the name is not a string the walker could follow.
    pub filename: Option<String>,
    /// Offset of the `BUILD` opcode in the pickle.
    pub offset: u64,
}

/// Whether `module.name` is joblib's `NDArrayWrapper` or `ZNDArrayWrapper` (joblib's own module,
/// its compatibility module, or scikit-learn's bundled copy).
pub(crate) fn is_side_file_class(module: &str, name: &str) -> bool {
    let joblib_module = matches!(
        module.strip_prefix("sklearn.externals.").unwrap_or(module),
        "joblib.numpy_pickle" | "joblib.numpy_pickle_compat"
    );
    joblib_module && matches!(name, "NDArrayWrapper" | "ZNDArrayWrapper")
}

impl Val {
    pub(crate) fn global_name(&self) -> Option<(&str, &str)> {
        match self {
            Val::Global(g) => Some((g.0.as_str(), g.1.as_str())),
            _ => None,
        }
    }
}

/// Why interpretation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halt {
    /// The real loader raises here: nothing after this point runs.
    LoaderError,
    /// Our own bound or a construct we do not model: forward the rest raw.
    GiveUp,
}

struct Counting<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[derive(Default)]
struct Vm {
    stack: Vec<Val>,
    metastack: Vec<Vec<Val>>,
    memo: HashMap<u64, Val>,
}

impl Vm {
    fn push(&mut self, v: Val) -> Result<(), Halt> {
        if self.stack.len() + self.metastack.len() >= STACK_MAX {
            return Err(Halt::GiveUp);
        }
        self.stack.push(v);
        Ok(())
    }
    fn pop(&mut self) -> Result<Val, Halt> {
        self.stack.pop().ok_or(Halt::LoaderError)
    }
    fn top(&self) -> Result<&Val, Halt> {
        self.stack.last().ok_or(Halt::LoaderError)
    }
    fn pop_mark(&mut self) -> Result<Vec<Val>, Halt> {
        let items = std::mem::take(&mut self.stack);
        self.stack = self.metastack.pop().ok_or(Halt::LoaderError)?;
        Ok(items)
    }
}

/// The walker. Read the opcode bytes of one pickle from it; afterwards `value` holds what the
/// pickle returned (`None` when it did not complete) and [`Walker::input_pos`] how far the input
/// was consumed.
pub(crate) struct Walker<R: Read> {
    input: Counting<R>,
    out: VecDeque<u8>,
    /// Bytes to forward raw from the input before interpreting again (long literals).
    passthrough: u64,
    frame: Option<(Vec<u8>, usize)>,
    interpreting: bool,
    done: bool,
    vm: Vm,
    /// The value the pickle's STOP returned.
    pub value: Option<Val>,
    /// joblib side files the pickle makes `joblib.load` open, in load order.
    pub side_files: Vec<SideFileRef>,
    /// Offset of the opcode being interpreted.
    op_offset: u64,
    gave_up: bool,
}

impl<R: Read> Walker<R> {
    pub(crate) fn new(input: R) -> Self {
        Walker {
            input: Counting {
                inner: input,
                pos: 0,
            },
            out: VecDeque::new(),
            passthrough: 0,
            frame: None,
            interpreting: true,
            done: false,
            vm: Vm::default(),
            value: None,
            side_files: Vec::new(),
            op_offset: 0,
            gave_up: false,
        }
    }

    /// Whether interpretation stopped at a bound of ours (not at the pickle's end or at a point
    /// where the loader itself fails).
    pub(crate) fn gave_up(&self) -> bool {
        self.gave_up
    }

    pub(crate) fn input_pos(&self) -> u64 {
        self.input.pos
    }

    // ---- byte sources -------------------------------------------------------------------------

    fn in_frame(&mut self) -> bool {
        match &self.frame {
            Some((buf, pos)) if *pos < buf.len() => true,
            Some(_) => {
                self.frame = None;
                false
            }
            None => false,
        }
    }

    /// Reads exactly `n` opcode bytes from the frame or the input (forwarding input bytes).
    fn take(&mut self, n: usize) -> Result<Vec<u8>, Halt> {
        if self.in_frame() {
            let (buf, pos) = self.frame.as_mut().ok_or(Halt::GiveUp)?;
            let end = pos.checked_add(n).ok_or(Halt::LoaderError)?;
            let bytes = buf.get(*pos..end).ok_or(Halt::LoaderError)?.to_vec();
            *pos = end;
            return Ok(bytes);
        }
        let mut bytes = vec![0u8; n];
        self.input
            .read_exact(&mut bytes)
            .map_err(|_| Halt::LoaderError)?;
        self.forward(&bytes);
        Ok(bytes)
    }

    fn take_byte(&mut self) -> Result<Option<u8>, Halt> {
        if self.in_frame() {
            return self.take(1).map(|b| b.first().copied());
        }
        let mut byte = [0u8; 1];
        loop {
            match self.input.read(&mut byte) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    self.forward(&byte);
                    return Ok(Some(byte[0]));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(Halt::LoaderError),
            }
        }
    }

    fn take_line(&mut self) -> Result<Vec<u8>, Halt> {
        let mut line = Vec::new();
        loop {
            let byte = self.take_byte()?.ok_or(Halt::LoaderError)?;
            if byte == b'\n' {
                return Ok(line);
            }
            if line.len() >= LINE_MAX {
                return Err(Halt::GiveUp);
            }
            line.push(byte);
        }
    }

    /// A length-prefixed literal: tracked when short or inside a frame (already in memory),
    /// forwarded raw without buffering when long.
    fn take_literal(&mut self, len: u64) -> Result<Option<Vec<u8>>, Halt> {
        if len <= TRACKED_STR_MAX as u64 || self.in_frame() {
            let n = usize::try_from(len).map_err(|_| Halt::LoaderError)?;
            return self.take(n).map(Some);
        }
        self.passthrough = len;
        Ok(None)
    }

    fn forward(&mut self, bytes: &[u8]) {
        self.out.extend(bytes);
    }

    fn len_le(&mut self, width: usize) -> Result<u64, Halt> {
        let bytes = self.take(width)?;
        let mut value: u64 = 0;
        for (i, b) in bytes.iter().enumerate() {
            value |= u64::from(*b) << (8 * i);
        }
        Ok(value)
    }

    // ---- interpretation -------------------------------------------------------------------------

    /// Interprets one opcode; `Ok(false)` at a clean end of input.
    fn step(&mut self) -> Result<bool, Halt> {
        self.op_offset = self.input.pos;
        match self.take_byte()? {
            Some(op) => self.opcode(op),
            None => Ok(false),
        }
    }

    fn opcode(&mut self, op: u8) -> Result<bool, Halt> {
        match op {
            b'(' => {
                let stack = std::mem::take(&mut self.vm.stack);
                self.vm.metastack.push(stack);
                if self.vm.metastack.len() >= STACK_MAX {
                    return Err(Halt::GiveUp);
                }
            }
            b'.' => {
                self.value = Some(self.vm.pop()?);
                self.done = true;
            }
            b'0' => {
                if self.vm.stack.pop().is_none() {
                    self.vm.pop_mark()?;
                }
            }
            b'1' => {
                self.vm.pop_mark()?;
            }
            b'2' => {
                let top = self.vm.top()?.clone();
                self.vm.push(top)?;
            }
            b'N' => self.vm.push(Val::None)?,
            // NEWTRUE, NEWFALSE: booleans are not tracked.
            0x88 | 0x89 => self.vm.push(Val::Other)?,
            b'I' => {
                let line = self.take_line()?;
                let text = String::from_utf8_lossy(&line);
                let value = match text.as_ref() {
                    // Protocol 0 spelling of True and False (exact bytes, as CPython compares).
                    "01" | "00" => Val::Other,
                    // int(data, 0): an unparseable number makes the loader raise.
                    t => int_val(python_int(t, true))?,
                };
                self.vm.push(value)?;
            }
            b'L' => {
                let line = self.take_line()?;
                let text = String::from_utf8_lossy(&line);
                let digits = text.strip_suffix('L').unwrap_or(&text);
                let value = int_val(python_int(digits, true))?;
                self.vm.push(value)?;
            }
            b'J' => {
                let b = self.take(4)?;
                let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                self.vm.push(Val::Int(i128::from(v)))?;
            }
            b'K' => {
                let v = self.len_le(1)?;
                self.vm.push(Val::Int(i128::from(v)))?;
            }
            b'M' => {
                let v = self.len_le(2)?;
                self.vm.push(Val::Int(i128::from(v)))?;
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    self.len_le(1)?
                } else {
                    self.len_le(4)?
                };
                let value = match self.take_literal(n)? {
                    Some(bytes) => decode_long(&bytes),
                    None => Val::Other,
                };
                self.vm.push(value)?;
            }
            b'F' => {
                self.take_line()?;
                self.vm.push(Val::Other)?;
            }
            b'G' => {
                self.take(8)?;
                self.vm.push(Val::Other)?;
            }
            b'S' => {
                let line = self.take_line()?;
                let value = python_quoted(&line)
                    .map(|s| Val::Str(s.into()))
                    .unwrap_or(Val::Other);
                self.vm.push(value)?;
            }
            b'V' => {
                let line = self.take_line()?;
                let value = std::str::from_utf8(&line)
                    .map(|s| Val::Str(s.into()))
                    .unwrap_or(Val::Other);
                self.vm.push(value)?;
            }
            b'T' | b'U' | b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'T' | b'X' => self.len_le(4)?,
                    b'U' | 0x8c => self.len_le(1)?,
                    _ => self.len_le(8)?,
                };
                let value = match self.take_literal(n)? {
                    Some(bytes) => String::from_utf8(bytes)
                        .map(|s| Val::Str(s.into()))
                        .unwrap_or(Val::Other),
                    None => Val::Other,
                };
                self.vm.push(value)?;
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                let n = match op {
                    b'B' => self.len_le(4)?,
                    b'C' => self.len_le(1)?,
                    _ => self.len_le(8)?,
                };
                self.take_literal(n)?;
                self.vm.push(Val::Other)?;
            }
            0x97 => self.vm.push(Val::Other)?,
            0x98 => {
                self.vm.top()?;
            }
            b')' => self.vm.push(Val::Tuple(Rc::new(Vec::new()), 1))?,
            b't' => {
                let items = self.vm.pop_mark()?;
                self.vm.push(tuple(items))?;
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let len = self.vm.stack.len();
                if len < n {
                    return Err(Halt::LoaderError);
                }
                let items = self.vm.stack.split_off(len - n);
                self.vm.push(tuple(items))?;
            }
            b']' => self.vm.push(Val::Other)?,
            b'l' => {
                self.vm.pop_mark()?;
                self.vm.push(Val::Other)?;
            }
            b'a' => {
                self.vm.pop()?;
                self.vm.top()?;
            }
            b'e' => {
                self.vm.pop_mark()?;
                self.vm.top()?;
            }
            b'}' => self.vm.push(Val::Dict(Rc::default()))?,
            b'd' => {
                let items = self.vm.pop_mark()?;
                let dict = Val::Dict(Rc::default());
                set_items(&dict, &items);
                self.vm.push(dict)?;
            }
            b's' => {
                let value = self.vm.pop()?;
                let key = self.vm.pop()?;
                set_items(self.vm.top()?, &[key, value]);
            }
            b'u' => {
                let items = self.vm.pop_mark()?;
                set_items(self.vm.top()?, &items);
            }
            0x8f => self.vm.push(Val::Other)?,
            0x90 => {
                self.vm.pop_mark()?;
                self.vm.top()?;
            }
            0x91 => {
                self.vm.pop_mark()?;
                self.vm.push(Val::Other)?;
            }
            b'c' => {
                let module = self.take_line()?;
                let name = self.take_line()?;
                self.vm.push(global(&module, &name))?;
            }
            0x93 => {
                let name = self.vm.pop()?;
                let module = self.vm.pop()?;
                let value = match (module, name) {
                    (Val::Str(m), Val::Str(n)) => {
                        Val::Global(Rc::new((m.to_string(), n.to_string())))
                    }
                    _ => Val::Other,
                };
                self.vm.push(value)?;
            }
            b'i' => {
                let module = self.take_line()?;
                let name = self.take_line()?;
                let args = self.vm.pop_mark()?;
                // INST calls cls(*args): __init__ runs.
                self.vm
                    .push(construct(&global(&module, &name), Some(&args)))?;
            }
            b'o' => {
                let mut items = self.vm.pop_mark()?;
                if items.is_empty() {
                    return Err(Halt::LoaderError);
                }
                let class = items.remove(0);
                self.vm.push(construct(&class, Some(&items)))?;
            }
            0x81 => {
                // NEWOBJ: cls.__new__(cls, *args), no __init__.
                self.vm.pop()?;
                let class = self.vm.pop()?;
                self.vm.push(construct(&class, None))?;
            }
            b'R' => {
                let args = self.vm.pop()?;
                let callable = self.vm.pop()?;
                self.vm.push(reduce(&callable, &args))?;
            }
            0x92 => {
                self.vm.pop()?;
                self.vm.pop()?;
                let class = self.vm.pop()?;
                self.vm.push(construct(&class, None))?;
            }
            b'b' => {
                let state = self.vm.pop()?;
                let target = self.vm.top()?.clone();
                self.build(&target, &state);
            }
            b'p' => {
                let line = self.take_line()?;
                // int(line): signs, spaces and underscores count; a negative PUT raises.
                let idx = memo_index(&line).ok_or(Halt::LoaderError)?;
                self.memo_put(idx)?;
            }
            b'q' => {
                let idx = self.len_le(1)?;
                self.memo_put(idx)?;
            }
            b'r' => {
                let idx = self.len_le(4)?;
                self.memo_put(idx)?;
            }
            0x94 => {
                let idx = self.vm.memo.len() as u64;
                self.memo_put(idx)?;
            }
            b'g' => {
                let line = self.take_line()?;
                let idx = memo_index(&line).ok_or(Halt::LoaderError)?;
                self.memo_get(idx)?;
            }
            b'h' => {
                let idx = self.len_le(1)?;
                self.memo_get(idx)?;
            }
            b'j' => {
                let idx = self.len_le(4)?;
                self.memo_get(idx)?;
            }
            b'P' => {
                self.take_line()?;
                self.vm.push(Val::Other)?;
            }
            b'Q' => {
                self.vm.pop()?;
                self.vm.push(Val::Other)?;
            }
            0x82 => {
                self.take(1)?;
                self.vm.push(Val::Other)?;
            }
            0x83 => {
                self.take(2)?;
                self.vm.push(Val::Other)?;
            }
            0x84 => {
                self.take(4)?;
                self.vm.push(Val::Other)?;
            }
            0x80 => {
                self.take(1)?;
            }
            0x95 => self.load_frame()?,
            _ => return Err(Halt::LoaderError),
        }
        Ok(true)
    }

    /// BUILD on a watched instance: the state's `filename` (a dict, or the first dict of a
    /// `(state, slotstate)` pair) replaces the attribute, and joblib's `load_build` then reads
    /// the side file it names.
    fn build(&mut self, target: &Val, state: &Val) {
        let Val::Instance(instance) = target else {
            return;
        };
        let mut instance = instance.borrow_mut();
        let dicts: Vec<&Val> = match state {
            Val::Tuple(items, _) if items.len() == 2 => items.iter().collect(),
            Val::Dict(_) | Val::None => vec![state],
            _ => {
                // A state we do not track may set the name to anything.
                instance.filename = Some(None);
                vec![]
            }
        };
        for dict in dicts {
            match dict {
                Val::Dict(entries) => {
                    if let Some((_, name)) = entries
                        .borrow()
                        .iter()
                        .rev()
                        .find(|(k, _)| &**k == "filename")
                    {
                        instance.filename = Some((&**name != UNTRACKED).then(|| name.to_string()));
                    } else if entries.borrow().len() >= TRACKED_ITEMS_MAX {
                        instance.filename = Some(None);
                    }
                }
                Val::None => {}
                _ => instance.filename = Some(None),
            }
        }
        if self.side_files.len() < SIDE_FILES_MAX {
            self.side_files.push(SideFileRef {
                class: instance.class.1.clone(),
                filename: instance.filename.clone().flatten(),
                offset: self.op_offset,
            });
        }
    }

    fn memo_put(&mut self, idx: u64) -> Result<(), Halt> {
        let top = self.vm.top()?.clone();
        if self.vm.memo.len() >= MEMO_MAX {
            return Err(Halt::GiveUp);
        }
        self.vm.memo.insert(idx, top);
        Ok(())
    }

    fn memo_get(&mut self, idx: u64) -> Result<(), Halt> {
        let value = self.vm.memo.get(&idx).cloned().ok_or(Halt::LoaderError)?;
        self.vm.push(value)
    }

    /// Unpicklers read a whole frame into memory at once (so the input is consumed up to the
    /// frame's end even when the STOP comes earlier in it).
    fn load_frame(&mut self) -> Result<(), Halt> {
        let size = self.len_le(8)?;
        if self.in_frame() {
            // "beginning of a new frame before end of current frame"
            return Err(Halt::LoaderError);
        }
        if size > FRAME_MAX {
            return Err(Halt::GiveUp);
        }
        let mut buf = Vec::new();
        (&mut self.input)
            .take(size)
            .read_to_end(&mut buf)
            .map_err(|_| Halt::LoaderError)?;
        self.forward(&buf);
        // A short frame is kept as is: the loader fails when it runs out of frame bytes.
        self.frame = Some((buf, 0));
        Ok(())
    }

    fn halt(&mut self, halt: Halt) {
        self.gave_up = halt == Halt::GiveUp;
        if halt == Halt::LoaderError {
            // The loader stops here: forward nothing more.
            self.done = true;
        }
        self.interpreting = false;
    }
}

impl<R: Read> Read for Walker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.out.is_empty() {
                let n = buf.len().min(self.out.len());
                for (slot, byte) in buf.iter_mut().zip(self.out.drain(..n)) {
                    *slot = byte;
                }
                return Ok(n);
            }
            if self.passthrough > 0 {
                let want = usize::try_from(self.passthrough)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                let n = self.input.read(&mut buf[..want])?;
                if n == 0 {
                    self.passthrough = 0;
                    self.done = true;
                    return Ok(0);
                }
                self.passthrough -= n as u64;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            if !self.interpreting {
                // Already forwarded with the frame header.
                self.frame = None;
                let n = self.input.read(buf)?;
                if n == 0 {
                    self.done = true;
                }
                return Ok(n);
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(halt) => self.halt(halt),
            }
        }
    }
}

/// A tracked tuple, or `Other` when it is too long or nests too deeply. The depth bound keeps
/// dropping a value (recursive through `Rc<Vec<Val>>`) within any thread's stack: a pickle of a
/// million nested `TUPLE1`s would otherwise overflow it when the value is freed.
fn tuple(items: Vec<Val>) -> Val {
    let inner = items
        .iter()
        .map(|item| match item {
            Val::Tuple(_, depth) => *depth,
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    if items.len() > TRACKED_ITEMS_MAX || inner >= TRACKED_DEPTH_MAX {
        Val::Other
    } else {
        Val::Tuple(Rc::new(items), inner + 1)
    }
}

/// Sets string items of a tracked dict; any other key or value marks the dict as not fully
/// tracked by storing a placeholder that can never be a string name.
fn set_items(target: &Val, items: &[Val]) {
    let Val::Dict(entries) = target else {
        return;
    };
    let mut entries = entries.borrow_mut();
    for pair in items.chunks(2) {
        if entries.len() >= TRACKED_ITEMS_MAX {
            return;
        }
        if let [Val::Str(key), value] = pair {
            let value: Rc<str> = match value {
                Val::Str(v) => v.clone(),
                // Untracked value: a name that matches no file and is never an escape.
                _ => Rc::from(UNTRACKED),
            };
            entries.push((key.clone(), value));
        }
    }
}

/// Stands for a dict value the walker does not track.
pub(crate) const UNTRACKED: &str = "\u{0}untracked";

/// `cls(*args)` or `cls.__new__(cls)` of a watched class; anything else is not tracked.
fn construct(class: &Val, init_args: Option<&[Val]>) -> Val {
    let Some((module, name)) = class.global_name() else {
        return Val::Other;
    };
    if !is_side_file_class(module, name) {
        return Val::Other;
    }
    // NDArrayWrapper(filename, ...) / ZNDArrayWrapper(filename, ...) store the first argument.
    let filename = init_args.map(|args| match args.first() {
        Some(Val::Str(s)) => Some(s.to_string()),
        _ => None,
    });
    Val::Instance(Rc::new(RefCell::new(Instance {
        class: (module.to_string(), name.to_string()),
        filename,
    })))
}

/// REDUCE: the class itself (`__init__` runs) or `copyreg._reconstructor(cls, object, state)`
/// (protocols 0 and 1; no `__init__`).
fn reduce(callable: &Val, args: &Val) -> Val {
    let Val::Tuple(items, _) = args else {
        return Val::Other;
    };
    match callable.global_name() {
        Some(("copy_reg" | "copyreg", "_reconstructor")) => match items.first() {
            Some(class) => construct(class, None),
            None => Val::Other,
        },
        Some(_) => construct(callable, Some(items)),
        None => Val::Other,
    }
}

fn global(module: &[u8], name: &[u8]) -> Val {
    match (std::str::from_utf8(module), std::str::from_utf8(name)) {
        (Ok(m), Ok(n)) => Val::Global(Rc::new((m.to_string(), n.to_string()))),
        _ => Val::Other,
    }
}

/// A protocol-0 memo index as CPython reads it (`int(line)`); `None` when `int` raises or the
/// index is negative (PUT raises, GET finds nothing).
fn memo_index(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    u64::try_from(python_int(text, false).ok()??).ok()
}

/// A parsed protocol-0 integer as a tracked value (too large to track: untracked, not an error).
fn int_val(parsed: Result<Option<i128>, ()>) -> Result<Val, Halt> {
    match parsed {
        Ok(Some(v)) => Ok(Val::Int(v)),
        Ok(None) => Ok(Val::Other),
        Err(()) => Err(Halt::LoaderError),
    }
}

/// Python's `int(text)` (`base0`: `int(text, 0)`, which also takes `0x`/`0o`/`0b` prefixes and
/// refuses other leading zeros): surrounding whitespace, one sign, single underscores between
/// digits. `Err` where Python raises; `Ok(None)` for a valid number beyond an i128.
fn python_int(text: &str, base0: bool) -> Result<Option<i128>, ()> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let (negative, unsigned) = match text.as_bytes().first().ok_or(())? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits, prefixed) = match lower.get(..2) {
        Some("0x") if base0 => (16, &lower[2..], true),
        Some("0o") if base0 => (8, &lower[2..], true),
        Some("0b") if base0 => (2, &lower[2..], true),
        _ => (10, lower.as_str(), false),
    };
    // After a base prefix one underscore may come first (`0x_1f`); otherwise underscores only
    // separate digits.
    let digits = if prefixed {
        digits.strip_prefix('_').unwrap_or(digits)
    } else {
        digits
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return Err(());
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if base0
        && !prefixed
        && clean.len() > 1
        && clean.starts_with('0')
        && clean.bytes().any(|b| b != b'0')
    {
        return Err(());
    }
    if !clean.chars().all(|c| c.is_digit(radix)) {
        return Err(());
    }
    Ok(i128::from_str_radix(&clean, radix)
        .ok()
        .map(|magnitude| if negative { -magnitude } else { magnitude }))
}

fn decode_long(bytes: &[u8]) -> Val {
    if bytes.len() > 16 {
        return Val::Other;
    }
    if bytes.is_empty() {
        return Val::Int(0);
    }
    let mut value: i128 = 0;
    for (i, b) in bytes.iter().enumerate() {
        value |= i128::from(*b) << (8 * i);
    }
    let bits = 8 * bytes.len() as u32;
    if bits < 128 && bytes.last().is_some_and(|b| b & 0x80 != 0) {
        value -= 1i128 << bits;
    }
    Val::Int(value)
}

/// The value of a protocol-0 `STRING` argument (`'text'` or `"text"`), without escapes.
fn python_quoted(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let inner = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')))?;
    if inner.contains('\\') {
        None
    } else {
        Some(inner.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(walker: &mut Walker<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        walker.read_to_end(&mut out).expect("in-memory read");
        out
    }

    #[test]
    fn one_framed_pickle_passes_through_unchanged() {
        let pickle: &[u8] = b"\x80\x04\x95\x09\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02e.";
        let data = [pickle, b"garbage\xff"].concat();
        let mut walker = Walker::new(&data[..]);
        assert_eq!(forwarded(&mut walker), pickle);
        assert_eq!(walker.input_pos(), pickle.len() as u64);
        assert!(matches!(walker.value, Some(Val::Other)));
    }

    #[test]
    fn a_frame_is_consumed_whole_even_when_stop_comes_earlier() {
        // The frame declares 4 bytes; STOP is its third.
        let data: &[u8] = b"\x80\x04\x95\x04\x00\x00\x00\x00\x00\x00\x00K\x07.XK\x08.";
        let mut walker = Walker::new(data);
        assert_eq!(forwarded(&mut walker), &data[..15]);
        assert_eq!(walker.input_pos(), 15);
        assert!(matches!(walker.value, Some(Val::Int(7))));
    }

    #[test]
    fn long_literals_are_forwarded_without_tracking() {
        let mut data = b"\x80\x03B".to_vec();
        data.extend(5000u32.to_le_bytes());
        data.extend(vec![0x2e; 5000]);
        data.extend(b".");
        let mut walker = Walker::new(&data[..]);
        assert_eq!(forwarded(&mut walker), data);
        assert!(walker.value.is_some());
    }

    #[test]
    fn stops_after_one_pickle() {
        let data: &[u8] = b"K\x01.K\x02.";
        let mut walker = Walker::new(data);
        assert_eq!(forwarded(&mut walker), b"K\x01.");
        assert_eq!(walker.input_pos(), 3);
        assert!(matches!(walker.value, Some(Val::Int(1))));
    }

    #[test]
    fn tracks_a_legacy_torch_storage_record() {
        // ('0', 'cpu', torch.FloatStorage), protocol 2.
        let data: &[u8] =
            b"\x80\x02X\x01\x00\x00\x000X\x03\x00\x00\x00cpuctorch\nFloatStorage\nq\x00\x87q\x01.";
        let mut walker = Walker::new(data);
        assert_eq!(forwarded(&mut walker), data);
        let Some(Val::Tuple(items, _)) = &walker.value else {
            panic!("expected a tuple, got {:?}", walker.value);
        };
        assert!(matches!(items.first(), Some(Val::Str(s)) if &**s == "0"));
        assert_eq!(
            items.get(2).and_then(Val::global_name),
            Some(("torch", "FloatStorage"))
        );
    }

    #[test]
    fn loader_error_forwards_nothing_more_and_yields_no_value() {
        // POP on an empty stack raises in the loader.
        let data: &[u8] = b"0K\x01.";
        let mut walker = Walker::new(data);
        assert_eq!(forwarded(&mut walker), b"0");
        assert!(walker.value.is_none());
    }

    #[test]
    fn deeply_nested_tuples_are_dropped_within_a_small_stack() {
        // `)` then a million TUPLE1s: a value nested a million deep if tracked naively.
        let mut data = b"\x80\x02)".to_vec();
        data.extend(std::iter::repeat_n(0x85u8, 1_000_000));
        data.push(b'.');
        let handle = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || {
                let mut walker = Walker::new(&data[..]);
                let out = forwarded(&mut walker);
                let depth = match walker.value {
                    Some(Val::Tuple(_, depth)) => depth,
                    _ => 0,
                };
                (out.len(), depth)
            })
            .expect("spawn");
        let (forwarded_len, depth) = handle.join().expect("no stack overflow");
        assert_eq!(forwarded_len, 1_000_004);
        assert!(
            depth <= TRACKED_DEPTH_MAX,
            "tracked nesting is bounded: {depth}"
        );
    }

    #[test]
    fn numbers_and_memo_keys_are_read_as_cpython_int_reads_them() {
        for (text, base0, want) in [
            ("12", false, Some(12)),
            (" +2 ", false, Some(2)),
            ("0_2", false, Some(2)),
            ("007", false, Some(7)),
            ("-3", false, Some(-3)),
            ("1__2", false, None),
            ("_1", false, None),
            ("1_", false, None),
            ("", false, None),
            ("0x_1F", true, Some(31)),
            ("0b101", true, Some(5)),
            ("010", true, None),
            ("000", true, Some(0)),
            ("1_000", true, Some(1000)),
            ("0x", true, None),
        ] {
            assert_eq!(python_int(text, base0).ok().flatten(), want, "{text:?}");
            assert_eq!(python_int(text, base0).is_ok(), want.is_some(), "{text:?}");
        }
        assert_eq!(
            memo_index(b"p0_2"),
            None,
            "the opcode byte is not part of the line"
        );
        let huge = "9".repeat(60);
        assert_eq!(python_int(&huge, true), Ok(None), "valid, just not tracked");
        assert_eq!(memo_index(b"0_2"), Some(2));
        assert_eq!(memo_index(b"+2"), Some(2));
        assert_eq!(memo_index(b"-1"), None);
    }

    #[test]
    fn a_protocol_0_memo_key_with_an_underscore_names_the_slot_cpython_uses() {
        // PUT '0_1' stores slot 1; GET '1' fetches it.
        let data: &[u8] = b"K\x07p0_1\n0g1\n.";
        let mut walker = Walker::new(data);
        assert_eq!(forwarded(&mut walker), data);
        assert!(
            matches!(walker.value, Some(Val::Int(7))),
            "{:?}",
            walker.value
        );
    }

    #[test]
    fn long_decoding_is_twos_complement() {
        assert!(matches!(decode_long(&[0xff]), Val::Int(-1)));
        assert!(matches!(decode_long(&[0x00, 0x01]), Val::Int(256)));
    }
}
