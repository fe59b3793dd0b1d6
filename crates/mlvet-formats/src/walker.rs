//! A small, bounded pickle opcode walker that tracks just enough values to read pickle-based
//! formats the way their loaders do. It never executes anything.
//!
//! Why it exists: joblib's `NumpyUnpickler` reads raw array bytes from the file *between* pickle
//! opcodes (right after the BUILD of a `NumpyArrayWrapper`), and legacy PyTorch tar members
//! interleave pickles with raw storage bytes. The pickle simulator sees only opcodes; this walker
//! sits in front of it as a [`Read`] adapter, forwards the opcode bytes unchanged and removes
//! (excises) the bytes the loader reads as data, recording where so that offsets can be mapped
//! back. Object arrays in joblib files are written as a *separate* pickle at that point
//! (`pickle.load(file_handle)`): the walker captures those bytes for a separate scan.
//!
//! When anything is not understood, the walker stops interpreting and forwards the rest raw, so
//! the simulator sees exactly what a plain unpickler would: the failure mode is "not fully
//! inspected", never "skipped".

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::rc::Rc;

const TRACKED_STR_MAX: usize = 1024;
const TRACKED_ITEMS_MAX: usize = 256;
const LINE_MAX: usize = 64 * 1024;
const FRAME_MAX: u64 = 64 * 1024 * 1024;
const STACK_MAX: usize = 1_000_000;
const MEMO_MAX: usize = 4_000_000;
/// Cap on the bytes of one captured nested pickle (object array inside a joblib file).
pub(crate) const NESTED_MAX: u64 = 256 * 1024 * 1024;

#[derive(Clone, Debug)]
pub(crate) enum Val {
    None,
    Bool(bool),
    Int(i128),
    Str(Rc<str>),
    Tuple(Rc<Vec<Val>>),
    Dict(Rc<RefCell<DictVal>>),
    Global(Rc<(String, String)>),
    Obj(Rc<RefCell<Obj>>),
    Other,
}

#[derive(Debug, Default)]
pub(crate) struct DictVal {
    pub items: Vec<(Val, Val)>,
    /// Too many items to track: lookups answer "unknown".
    pub overflow: bool,
}

/// A numpy dtype's type string (from `dtype(typestr, align, copy)`) and its BUILD state tuple.
pub(crate) type DtypeParts = (Option<Rc<str>>, Option<Rc<Vec<Val>>>);

#[derive(Debug)]
pub(crate) struct Obj {
    pub kind: ObjKind,
    pub attrs: Vec<(String, Val)>,
    /// A BUILD with a state we could not read was applied.
    pub attrs_unknown: bool,
    /// numpy dtype: the type string from `dtype(typestr, align, copy)` and the BUILD state tuple.
    pub dtype: Option<DtypeParts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjKind {
    /// `joblib.numpy_pickle.NumpyArrayWrapper`: BUILD makes joblib read array bytes.
    ArrayWrapper,
    /// joblib <= 0.9 `NDArrayWrapper`: the array lives in a companion file.
    CompanionArray,
    Dtype,
}

impl Val {
    fn as_int(&self) -> Option<i128> {
        match self {
            Val::Int(v) => Some(*v),
            Val::Bool(b) => Some(i128::from(*b)),
            _ => None,
        }
    }
    pub(crate) fn global_name(&self) -> Option<(&str, &str)> {
        match self {
            Val::Global(g) => Some((g.0.as_str(), g.1.as_str())),
            _ => None,
        }
    }
}

/// How the walker interprets the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `pickle.load` semantics: every pickle in sequence, no data between opcodes.
    Plain,
    /// `joblib.load` semantics: array bytes after each `NumpyArrayWrapper` BUILD.
    Joblib,
}

/// A byte range the loader reads as data, not opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Excision {
    /// Position in the forwarded (opcode) stream where the range was removed.
    pub out_pos: u64,
    /// Position in the input.
    pub in_pos: u64,
    pub len: u64,
}

/// A pickle the loader runs from inside another stream (joblib object arrays).
#[derive(Debug, Clone)]
pub(crate) struct NestedPickle {
    pub in_pos: u64,
    pub bytes: Vec<u8>,
}

/// Something the walker noticed that a report should mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    pub in_pos: u64,
    pub message: String,
    /// True when it means part of the stream was not interpreted (scan incomplete).
    pub incomplete: bool,
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

/// The walker. Use it as a [`Read`] of the opcode stream; afterwards read its excisions, nested
/// pickles and notes.
pub(crate) struct Walker<R: Read> {
    input: Counting<R>,
    mode: Mode,
    /// Stop after the first STOP (used to cut one pickle out of a stream).
    single: bool,
    out: VecDeque<u8>,
    /// Bytes to forward raw from the input before interpreting again (long literals).
    passthrough: u64,
    /// Bytes forwarded (or scheduled) so far.
    emitted: u64,
    frame: Option<(Vec<u8>, usize)>,
    interpreting: bool,
    done: bool,
    vm: Vm,
    pub excisions: Vec<Excision>,
    pub nested: Vec<NestedPickle>,
    pub notes: Vec<Note>,
    /// Number of `NumpyArrayWrapper` arrays read (the file is a joblib file when > 0).
    pub arrays: u64,
    /// The value the last STOP returned.
    pub last_value: Option<Val>,
    pub pickles_completed: u64,
    /// The loader would raise at this input position (nothing after runs).
    pub loader_error_at: Option<u64>,
}

impl<R: Read> Walker<R> {
    pub(crate) fn new(input: R, mode: Mode) -> Self {
        Walker {
            input: Counting {
                inner: input,
                pos: 0,
            },
            mode,
            single: false,
            out: VecDeque::new(),
            passthrough: 0,
            emitted: 0,
            frame: None,
            interpreting: true,
            done: false,
            vm: Vm::default(),
            excisions: Vec::new(),
            nested: Vec::new(),
            notes: Vec::new(),
            arrays: 0,
            last_value: None,
            pickles_completed: 0,
            loader_error_at: None,
        }
    }

    /// A walker that ends after one complete pickle.
    pub(crate) fn single(input: R, mode: Mode) -> Self {
        let mut walker = Walker::new(input, mode);
        walker.single = true;
        walker
    }

    /// Whether interpretation was abandoned for a reason of ours (the rest went through raw).
    pub(crate) fn incomplete(&self) -> bool {
        self.notes.iter().any(|n| n.incomplete)
    }

    pub(crate) fn input_pos(&self) -> u64 {
        self.input.pos
    }

    /// Maps an offset in the forwarded stream to the input offset.
    pub(crate) fn map_offset(excisions: &[Excision], out_offset: u64) -> u64 {
        let skipped: u64 = excisions
            .iter()
            .filter(|e| e.out_pos <= out_offset)
            .map(|e| e.len)
            .sum();
        out_offset.saturating_add(skipped)
    }

    fn note(&mut self, message: impl Into<String>, incomplete: bool) {
        if self.notes.len() < 64 {
            self.notes.push(Note {
                in_pos: self.input.pos,
                message: message.into(),
                incomplete,
            });
        }
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
        read_full(&mut self.input, &mut bytes).map_err(|_| Halt::LoaderError)?;
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

    /// A length-prefixed literal: tracked when short, forwarded raw when long.
    fn take_literal(&mut self, len: u64) -> Result<Option<Vec<u8>>, Halt> {
        if len <= TRACKED_STR_MAX as u64 || self.in_frame() {
            let n = usize::try_from(len).map_err(|_| Halt::LoaderError)?;
            if self.in_frame() {
                return self.take(n).map(Some);
            }
            return self.take(n).map(Some);
        }
        self.passthrough = len;
        self.emitted += len;
        Ok(None)
    }

    fn forward(&mut self, bytes: &[u8]) {
        self.out.extend(bytes);
        self.emitted += bytes.len() as u64;
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
        let Some(op) = self.take_byte()? else {
            return Ok(false);
        };
        let vm_val = self.opcode(op)?;
        Ok(vm_val)
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
                let value = self.vm.pop()?;
                self.last_value = Some(value);
                self.pickles_completed += 1;
                self.vm = Vm::default();
                self.frame = None;
                if self.single {
                    self.done = true;
                }
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
            0x88 => self.vm.push(Val::Bool(true))?,
            0x89 => self.vm.push(Val::Bool(false))?,
            b'I' => {
                let line = self.take_line()?;
                let text = String::from_utf8_lossy(&line);
                let value = match text.trim() {
                    "01" => Val::Bool(true),
                    "00" => Val::Bool(false),
                    t => t.parse::<i128>().map(Val::Int).unwrap_or(Val::Other),
                };
                self.vm.push(value)?;
            }
            b'L' => {
                let line = self.take_line()?;
                let text = String::from_utf8_lossy(&line);
                let value = text
                    .trim()
                    .trim_end_matches('L')
                    .parse::<i128>()
                    .map(Val::Int)
                    .unwrap_or(Val::Other);
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
            b')' => self.vm.push(Val::Tuple(Rc::new(Vec::new())))?,
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
            b'}' => self
                .vm
                .push(Val::Dict(Rc::new(RefCell::new(DictVal::default()))))?,
            b'd' => {
                let items = self.vm.pop_mark()?;
                let dict = Rc::new(RefCell::new(DictVal::default()));
                insert_pairs(&dict, items);
                self.vm.push(Val::Dict(dict))?;
            }
            b's' => {
                let value = self.vm.pop()?;
                let key = self.vm.pop()?;
                if let Val::Dict(d) = self.vm.top()? {
                    insert_pairs(d, vec![key, value]);
                }
            }
            b'u' => {
                let items = self.vm.pop_mark()?;
                if let Val::Dict(d) = self.vm.top()? {
                    insert_pairs(d, items);
                }
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
                let value = instantiate(&global(&module, &name), args);
                self.vm.push(value)?;
            }
            b'o' => {
                let mut items = self.vm.pop_mark()?;
                if items.is_empty() {
                    return Err(Halt::LoaderError);
                }
                let class = items.remove(0);
                self.vm.push(instantiate(&class, items))?;
            }
            0x81 => {
                self.vm.pop()?;
                let class = self.vm.pop()?;
                self.vm.push(new_instance(&class))?;
            }
            0x92 => {
                self.vm.pop()?;
                self.vm.pop()?;
                let class = self.vm.pop()?;
                self.vm.push(new_instance(&class))?;
            }
            b'R' => {
                let args = self.vm.pop()?;
                let func = self.vm.pop()?;
                self.vm.push(reduce(&func, &args))?;
            }
            b'b' => {
                let state = self.vm.pop()?;
                build(self.vm.top()?, state);
                self.after_build()?;
            }
            b'p' => {
                let line = self.take_line()?;
                let idx = std::str::from_utf8(&line)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok());
                self.memo_put(idx.ok_or(Halt::LoaderError)?)?;
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
                let idx = std::str::from_utf8(&line)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok());
                self.memo_get(idx.ok_or(Halt::LoaderError)?)?;
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

    /// The pure-Python unpickler (which joblib uses) reads a whole frame into memory at once.
    fn load_frame(&mut self) -> Result<(), Halt> {
        let size = self.len_le(8)?;
        if self.in_frame() {
            // "beginning of a new frame before end of current frame"
            return Err(Halt::LoaderError);
        }
        if size > FRAME_MAX {
            return Err(Halt::GiveUp);
        }
        let n = usize::try_from(size).map_err(|_| Halt::GiveUp)?;
        let mut buf = Vec::new();
        (&mut self.input)
            .take(size)
            .read_to_end(&mut buf)
            .map_err(|_| Halt::LoaderError)?;
        self.forward(&buf.clone());
        if buf.len() < n {
            // A short frame: the loader fails when it runs out of frame bytes.
            self.frame = Some((buf, 0));
            return Ok(());
        }
        self.frame = Some((buf, 0));
        Ok(())
    }

    /// joblib's `NumpyUnpickler.load_build`: after BUILD, a wrapper on top of the stack is
    /// replaced by the array read from the file.
    fn after_build(&mut self) -> Result<(), Halt> {
        if self.mode != Mode::Joblib {
            return Ok(());
        }
        let Val::Obj(obj) = self.vm.top()?.clone() else {
            return Ok(());
        };
        let kind = obj.borrow().kind;
        match kind {
            ObjKind::ArrayWrapper => {
                self.vm.pop()?;
                self.read_array(&obj)?;
                self.vm.push(Val::Other)
            }
            ObjKind::CompanionArray => {
                self.vm.pop()?;
                self.note(
                    "joblib < 0.10 array stored in a companion file (scan that file too)",
                    false,
                );
                self.vm.push(Val::Other)
            }
            ObjKind::Dtype => Ok(()),
        }
    }

    fn read_array(&mut self, wrapper: &Rc<RefCell<Obj>>) -> Result<(), Halt> {
        let spec = {
            let obj = wrapper.borrow();
            ArraySpec::from_wrapper(&obj)
        };
        let spec = match spec {
            Ok(spec) => spec,
            Err(why) => {
                self.note(
                    format!("joblib array record not understood ({why}); rest not interpreted"),
                    true,
                );
                return Err(Halt::GiveUp);
            }
        };
        let start = self.input.pos;
        let out_pos = self.emitted;
        self.arrays += 1;
        if spec.has_object {
            // Through `dyn Read` so that nested walkers share one type (no recursive instantiation).
            let mut limited = (&mut self.input).take(NESTED_MAX);
            let limited: &mut dyn Read = &mut limited;
            let mut sub = Walker::single(limited, Mode::Plain);
            let mut bytes = Vec::new();
            let read = sub.read_to_end(&mut bytes);
            let completed = sub.pickles_completed > 0;
            let sub_incomplete = sub.incomplete();
            drop(sub);
            let len = self.input.pos - start;
            self.excisions.push(Excision {
                out_pos,
                in_pos: start,
                len,
            });
            self.nested.push(NestedPickle {
                in_pos: start,
                bytes,
            });
            if read.is_err() || sub_incomplete {
                self.note("object array pickle not fully interpreted", true);
                return Err(Halt::GiveUp);
            }
            if !completed {
                self.note(
                    "object array pickle is truncated or broken: joblib.load fails here",
                    false,
                );
                return Err(Halt::LoaderError);
            }
            return Ok(());
        }
        let mut skip: u64 = 0;
        if spec.padded {
            let mut pad = [0u8; 1];
            if read_full(&mut self.input, &mut pad).is_err() {
                self.excisions.push(Excision {
                    out_pos,
                    in_pos: start,
                    len: self.input.pos - start,
                });
                self.note("array padding byte missing: joblib.load fails here", false);
                return Err(Halt::LoaderError);
            }
            skip = u64::from(pad[0]);
        }
        let Some(data) = spec.nbytes() else {
            self.note(
                "array size is invalid (negative or overflowing): joblib.load fails here",
                false,
            );
            return Err(Halt::LoaderError);
        };
        let total = skip.saturating_add(data);
        let skipped = io::copy(&mut (&mut self.input).take(total), &mut io::sink()).unwrap_or(0);
        self.excisions.push(Excision {
            out_pos,
            in_pos: start,
            len: self.input.pos - start,
        });
        if skipped < total {
            self.note("array data truncated: joblib.load fails here", false);
            return Err(Halt::LoaderError);
        }
        Ok(())
    }

    fn halt(&mut self, halt: Halt) {
        match halt {
            Halt::LoaderError => {
                self.loader_error_at.get_or_insert(self.input.pos);
                if self.single || !self.excisions.is_empty() || !self.nested.is_empty() {
                    // In joblib mode after an array, or when cutting one pickle, the loader stops
                    // here; forward nothing more.
                    self.done = true;
                }
            }
            Halt::GiveUp => {}
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
                if self.in_frame() {
                    // Already forwarded with the frame header.
                    self.frame = None;
                }
                let n = self.input.read(buf)?;
                self.emitted += n as u64;
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

/// What joblib needs to read one array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArraySpec {
    pub shape: Vec<i128>,
    pub itemsize: u64,
    pub has_object: bool,
    /// `numpy_array_alignment_bytes` is present and not None: a padding-length byte precedes.
    pub padded: bool,
}

impl ArraySpec {
    fn from_wrapper(obj: &Obj) -> Result<ArraySpec, &'static str> {
        if obj.attrs_unknown {
            return Err("unreadable state");
        }
        let attr = |name: &str| {
            obj.attrs
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        };
        let shape = match attr("shape") {
            Some(Val::Tuple(items)) => items
                .iter()
                .map(Val::as_int)
                .collect::<Option<Vec<_>>>()
                .ok_or("shape")?,
            _ => return Err("shape"),
        };
        let (has_object, itemsize) = match attr("dtype") {
            Some(Val::Obj(d)) => dtype_info(&d.borrow(), 0).ok_or("dtype")?,
            _ => return Err("dtype"),
        };
        let padded = match attr("numpy_array_alignment_bytes") {
            None | Some(Val::None) => false,
            Some(Val::Int(_)) | Some(Val::Bool(_)) => true,
            Some(_) => return Err("alignment"),
        };
        Ok(ArraySpec {
            shape,
            itemsize,
            has_object,
            padded,
        })
    }

    /// Bytes joblib reads: `prod(shape as int64) * itemsize`, `None` where joblib would fail.
    pub(crate) fn nbytes(&self) -> Option<u64> {
        let mut count: i64 = 1;
        for dim in &self.shape {
            let dim = i64::try_from(*dim).ok()?;
            // numpy's int64 multiply.reduce wraps silently.
            count = count.wrapping_mul(dim);
        }
        if count < 0 {
            return None;
        }
        if self.itemsize == 0 {
            // joblib divides by the item size: ZeroDivisionError.
            return None;
        }
        u64::try_from(count).ok()?.checked_mul(self.itemsize)
    }
}

/// `(has_object, itemsize)` of a pickled `numpy.dtype`, `None` when not determinable.
fn dtype_info(obj: &Obj, depth: usize) -> Option<(bool, u64)> {
    if depth > 8 || obj.kind != ObjKind::Dtype {
        return None;
    }
    let (typestr, state) = obj.dtype.as_ref()?;
    let typestr = typestr.as_ref()?;
    let mut chars = typestr.chars();
    let kind = chars.next()?;
    let digits: String = chars.take_while(|c| c.is_ascii_digit()).collect();
    let declared: Option<u64> = if digits.is_empty() {
        None
    } else {
        digits.parse().ok()
    };
    let state = state.as_ref();
    let field = |i: usize| state.and_then(|s| s.get(i));
    let mut has_object = kind == 'O';
    // Fields of a structured dtype: {name: (dtype, offset[, title])}.
    if let Some(Val::Dict(fields)) = field(4) {
        let fields = fields.borrow();
        if fields.overflow {
            return None;
        }
        for (_, value) in &fields.items {
            let Val::Tuple(parts) = value else {
                return None;
            };
            let Some(Val::Obj(sub)) = parts.first() else {
                return None;
            };
            let (sub_object, _) = dtype_info(&sub.borrow(), depth + 1)?;
            has_object |= sub_object;
        }
    } else if !matches!(field(4), None | Some(Val::None)) {
        return None;
    }
    // Sub-array: (base dtype, shape).
    match field(2) {
        None | Some(Val::None) => {}
        Some(Val::Tuple(parts)) => {
            let Some(Val::Obj(base)) = parts.first() else {
                return None;
            };
            let (sub_object, _) = dtype_info(&base.borrow(), depth + 1)?;
            has_object |= sub_object;
        }
        Some(_) => return None,
    }
    let state_elsize = field(5)
        .and_then(Val::as_int)
        .filter(|v| *v >= 0)
        .and_then(|v| u64::try_from(v).ok());
    let itemsize = match kind {
        'V' | 'S' | 'U' | 'a' => match state_elsize {
            Some(size) => size,
            None => {
                let n = declared?;
                if kind == 'U' { n.checked_mul(4)? } else { n }
            }
        },
        'O' => declared.unwrap_or(8),
        'b' | 'i' | 'u' | 'f' | 'c' | 'M' | 'm' | '?' => declared.unwrap_or(1),
        _ => return None,
    };
    Some((has_object, itemsize))
}

fn tuple(items: Vec<Val>) -> Val {
    if items.len() > TRACKED_ITEMS_MAX {
        Val::Other
    } else {
        Val::Tuple(Rc::new(items))
    }
}

fn insert_pairs(dict: &Rc<RefCell<DictVal>>, items: Vec<Val>) {
    let mut dict = dict.borrow_mut();
    let mut iter = items.into_iter();
    while let (Some(k), Some(v)) = (iter.next(), iter.next()) {
        if dict.overflow {
            return;
        }
        if dict.items.len() >= TRACKED_ITEMS_MAX {
            dict.items.clear();
            dict.overflow = true;
            return;
        }
        dict.items.push((k, v));
    }
}

fn global(module: &[u8], name: &[u8]) -> Val {
    match (std::str::from_utf8(module), std::str::from_utf8(name)) {
        (Ok(m), Ok(n)) => Val::Global(Rc::new((m.to_string(), n.to_string()))),
        _ => Val::Other,
    }
}

fn class_kind(class: &Val) -> Option<ObjKind> {
    let (module, name) = class.global_name()?;
    let joblib_module = matches!(
        module,
        "joblib.numpy_pickle"
            | "sklearn.externals.joblib.numpy_pickle"
            | "joblib.numpy_pickle_compat"
    );
    match name {
        "NumpyArrayWrapper" if joblib_module => Some(ObjKind::ArrayWrapper),
        "NDArrayWrapper" | "ZNDArrayWrapper" if joblib_module => Some(ObjKind::CompanionArray),
        "dtype" if module == "numpy" || module.starts_with("numpy.") => Some(ObjKind::Dtype),
        _ => None,
    }
}

fn new_object(kind: ObjKind) -> Val {
    Val::Obj(Rc::new(RefCell::new(Obj {
        kind,
        attrs: Vec::new(),
        attrs_unknown: false,
        dtype: if kind == ObjKind::Dtype {
            Some((None, None))
        } else {
            None
        },
    })))
}

/// `cls.__new__(cls)` (NEWOBJ, `copyreg._reconstructor`).
fn new_instance(class: &Val) -> Val {
    match class_kind(class) {
        Some(kind) => new_object(kind),
        None => Val::Other,
    }
}

/// `cls(*args)` for INST/OBJ: `__init__` runs when there are arguments.
fn instantiate(class: &Val, args: Vec<Val>) -> Val {
    if args.is_empty() {
        new_instance(class)
    } else {
        reduce(class, &Val::Tuple(Rc::new(args)))
    }
}

/// `func(*args)` for REDUCE, modelled only for the callables the formats need.
fn reduce(func: &Val, args: &Val) -> Val {
    let Val::Tuple(args) = args else {
        return Val::Other;
    };
    if let Some((module, name)) = func.global_name()
        && matches!(module, "copyreg" | "copy_reg")
        && name == "_reconstructor"
    {
        return args.first().map(new_instance).unwrap_or(Val::Other);
    }
    match class_kind(func) {
        Some(ObjKind::Dtype) => {
            let value = new_object(ObjKind::Dtype);
            if let (Val::Obj(obj), Some(Val::Str(typestr))) = (&value, args.first()) {
                obj.borrow_mut().dtype = Some((Some(typestr.clone()), None));
            }
            value
        }
        Some(ObjKind::ArrayWrapper) => {
            // NumpyArrayWrapper(subclass, shape, order, dtype, allow_mmap=False,
            //                   numpy_array_alignment_bytes=16)
            let value = new_object(ObjKind::ArrayWrapper);
            if let Val::Obj(obj) = &value {
                let names = [
                    "subclass",
                    "shape",
                    "order",
                    "dtype",
                    "allow_mmap",
                    "numpy_array_alignment_bytes",
                ];
                let mut obj = obj.borrow_mut();
                for (name, arg) in names.iter().zip(args.iter()) {
                    obj.attrs.push(((*name).to_string(), arg.clone()));
                }
                if args.len() < 6 {
                    obj.attrs
                        .push(("numpy_array_alignment_bytes".into(), Val::Int(16)));
                }
                if args.len() > 6 || args.len() < 4 {
                    obj.attrs_unknown = true;
                }
            }
            value
        }
        Some(kind) => new_object(kind),
        None => Val::Other,
    }
}

/// BUILD: `inst.__dict__.update(state)` (or the (dict, slots) pair), or a dtype's setstate.
fn build(inst: &Val, state: Val) {
    let Val::Obj(obj) = inst else { return };
    let mut obj = obj.borrow_mut();
    if obj.kind == ObjKind::Dtype {
        if let (Val::Tuple(state), Some((_, slot))) = (state, obj.dtype.as_mut()) {
            *slot = Some(state);
        }
        return;
    }
    let apply = |value: &Val, obj: &mut Obj| match value {
        Val::None => {}
        Val::Dict(d) => {
            let d = d.borrow();
            if d.overflow {
                obj.attrs_unknown = true;
            }
            for (k, v) in &d.items {
                match k {
                    Val::Str(k) => obj.attrs.push((k.to_string(), v.clone())),
                    _ => obj.attrs_unknown = true,
                }
            }
        }
        _ => obj.attrs_unknown = true,
    };
    match &state {
        Val::Tuple(pair) if pair.len() == 2 => {
            for part in pair.iter() {
                apply(part, &mut obj);
            }
        }
        other => apply(other, &mut obj),
    }
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

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
    reader.read_exact(buf)
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
    fn plain_pickles_pass_through_unchanged() {
        let data: &[u8] =
            b"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02e.garbage\xff";
        let mut walker = Walker::new(data, Mode::Plain);
        assert_eq!(forwarded(&mut walker), data);
        assert_eq!(walker.pickles_completed, 1);
    }

    #[test]
    fn long_literals_are_forwarded_without_tracking() {
        let mut data = b"\x80\x03B".to_vec();
        data.extend(5000u32.to_le_bytes());
        data.extend(vec![0x2e; 5000]);
        data.extend(b".");
        let mut walker = Walker::new(&data[..], Mode::Plain);
        assert_eq!(forwarded(&mut walker), data);
        assert_eq!(walker.pickles_completed, 1);
    }

    #[test]
    fn single_mode_stops_after_one_pickle() {
        let data: &[u8] = b"K\x01.K\x02.";
        let mut walker = Walker::single(data, Mode::Plain);
        assert_eq!(forwarded(&mut walker), b"K\x01.");
        assert!(matches!(walker.last_value, Some(Val::Int(1))));
    }

    #[test]
    fn long_decoding_is_twos_complement() {
        assert!(matches!(decode_long(&[0xff]), Val::Int(-1)));
        assert!(matches!(decode_long(&[0x00, 0x01]), Val::Int(256)));
    }

    #[test]
    fn nbytes_follows_numpy_int64_semantics() {
        let spec = ArraySpec {
            shape: vec![3, 4],
            itemsize: 8,
            has_object: false,
            padded: true,
        };
        assert_eq!(spec.nbytes(), Some(96));
        let spec = ArraySpec {
            shape: vec![],
            itemsize: 8,
            has_object: false,
            padded: false,
        };
        assert_eq!(spec.nbytes(), Some(8));
        let spec = ArraySpec {
            shape: vec![-1],
            itemsize: 8,
            has_object: false,
            padded: false,
        };
        assert_eq!(spec.nbytes(), None);
    }
}
