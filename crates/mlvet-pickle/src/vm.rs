//! The pickle VM simulator: executes opcodes the way `Modules/_pickle.c` does, on abstract values,
//! recording every reference and call instead of importing or calling anything.

use std::collections::HashMap;
use std::io::Read;

use mlvet_core::{Finding, Location};

use crate::embedded::Embedded;
use crate::input::{Input, ReadError};
use crate::memo::Memo;
use crate::opcodes::{self as op};
use crate::resolvers::{self, ResolverKind, Resolvers};
use crate::strings;
use crate::value::{Blob, DictPreview, DtypeInfo, Value};
use crate::{Classification, Limits, Policy, compat, rules};
use std::rc::Rc;

/// Calls recorded per reference for evidence.
const MAX_CALLS_KEPT: usize = 3;
const RENDER_BUDGET: usize = 300;
/// Findings of one rule listed individually (from the simulation itself); later ones are counted on
/// the last one listed, so a pickle cannot grow the report by repeating an opcode.
const MAX_FINDINGS_PER_RULE: usize = 64;
/// Opcodes between two checks of the memory budget (each opcode adds at most a few hundred bytes).
const MEMORY_CHECK_INTERVAL: u64 = 1024;
/// Heap bytes of one joblib-mode cell (the `Rc` box and its entry in `cells`).
const CELL_BYTES: usize = 96;

/// Why one pickle's simulation ended.
pub(crate) enum Outcome {
    /// `STOP` was executed.
    Stopped,
    /// The input ended before the first opcode of this pickle.
    Empty,
    /// CPython would raise here; the message says why.
    Error {
        message: String,
        opcode: Option<&'static str>,
    },
    /// A budget was exhausted.
    Budget { what: &'static str, limit: u64 },
}

/// One resolved reference (deduplicated by module and name).
pub(crate) struct Reference {
    pub(crate) module: String,
    pub(crate) name: String,
    /// How the pickle spelled it when `_compat_pickle` renamed it. Boxed: rare, and every byte
    /// of this struct is multiplied by the number of distinct globals a hostile file can name.
    pub(crate) written_as: Option<Box<(String, String)>>,
    pub(crate) opcode: &'static str,
    pub(crate) opcode_index: u64,
    pub(crate) offset: u64,
    pub(crate) protocol: u8,
    pub(crate) classification: Classification,
    pub(crate) called: bool,
    pub(crate) calls: Vec<String>,
    pub(crate) build_state: bool,
}

impl Reference {
    pub(crate) fn qualified(&self) -> String {
        format!("{}.{}", self.module, self.name)
    }
}

/// State kept across the pickles of one stream.
pub(crate) struct Vm<'a> {
    pub(crate) policy: &'a Policy,
    pub(crate) limits: &'a Limits,
    pub(crate) base: &'a Location,
    /// Pickles inside pickle values: how deep this simulation is, and what was found (in order).
    pub(crate) embed_depth: u32,
    pub(crate) embedded: Vec<Rc<Embedded>>,
    pub(crate) references: Vec<Reference>,
    pub(crate) reference_index: HashMap<(String, String), u32>,
    pub(crate) findings: Vec<Finding>,
    pub(crate) opcodes: u64,
    pub(crate) persistent_ids: u64,
    pub(crate) extension_codes: u64,
    pub(crate) max_protocol: u8,
    reported_divergences: u64,
    /// String-to-callable resolvers (`getattr`, `pkgutil.resolve_name`...) and their uses.
    pub(crate) resolvers: Resolvers,
    /// joblib's `NumpyUnpickler`: array payloads follow `BUILD` of a `NumpyArrayWrapper` inline.
    pub(crate) joblib: bool,
    /// Shared cells created in joblib mode, emptied at the end so that cycles built by a pickle
    /// (a dict containing itself) are freed.
    cells: Vec<Cell>,
    nested_depth: u32,
    /// Live tuple bytes of the thread when the scan started (see `held_bytes`).
    tuple_bytes_at_start: usize,
    /// Estimated heap bytes of `references` and their index.
    reference_bytes: usize,
    /// Findings kept and left out per rule (see `report`).
    finding_counts: HashMap<&'static str, (usize, u64)>,
    // Per-pickle state.
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: Memo,
    proto: u8,
    scratch: Vec<u8>,
    scratch2: Vec<u8>,
    /// Offset and index of the opcode being executed.
    op_offset: u64,
    op_index: u64,
}

type Step = Result<(), Outcome>;

fn error(message: impl Into<String>) -> Outcome {
    Outcome::Error {
        message: message.into(),
        opcode: None,
    }
}

fn underflow() -> Outcome {
    error("unpickling stack underflow")
}

impl<'a> Vm<'a> {
    pub(crate) fn new(policy: &'a Policy, limits: &'a Limits, base: &'a Location) -> Self {
        Vm {
            policy,
            limits,
            base,
            references: Vec::new(),
            reference_index: HashMap::new(),
            findings: Vec::new(),
            opcodes: 0,
            persistent_ids: 0,
            extension_codes: 0,
            max_protocol: 0,
            reported_divergences: 0,
            resolvers: Resolvers::default(),
            embed_depth: 0,
            embedded: Vec::new(),
            joblib: false,
            cells: Vec::new(),
            nested_depth: 0,
            tuple_bytes_at_start: crate::value::live_tuple_bytes(),
            reference_bytes: 0,
            finding_counts: HashMap::new(),
            stack: Vec::new(),
            marks: Vec::new(),
            memo: Memo::default(),
            proto: 0,
            scratch: Vec::new(),
            scratch2: Vec::new(),
            op_offset: 0,
            op_index: 0,
        }
    }

    pub(crate) fn location(&self) -> Location {
        let base_offset = self.base.offset.unwrap_or(0);
        let mut loc = self.base.clone();
        loc.opcode_index = Some(self.op_index);
        loc.offset = Some(base_offset + self.op_offset);
        loc
    }

    /// Simulates one pickle, from its first opcode to `STOP` (or the first error).
    pub(crate) fn run_pickle<R: Read>(&mut self, input: &mut Input<R>) -> Outcome {
        self.stack.clear();
        self.marks.clear();
        self.memo.clear();
        self.proto = 0;
        let mut first = true;
        loop {
            self.op_offset = input.pos();
            self.op_index = self.opcodes;
            let opcode = match input.opcode() {
                Ok(Some(opcode)) => opcode,
                Ok(None) if first => return Outcome::Empty,
                Ok(None) => {
                    let message = match input.pending_frame_end() {
                        Some(end) => format!(
                            "pickle data was truncated (a FRAME declared data up to byte {end})"
                        ),
                        None => "pickle data was truncated: no STOP opcode (Ran out of input)"
                            .to_string(),
                    };
                    return error(message);
                }
                Err(e) => return read_failure(e, None),
            };
            if self.opcodes >= self.limits.max_opcodes {
                return Outcome::Budget {
                    what: "opcodes",
                    limit: self.limits.max_opcodes,
                };
            }
            self.opcodes += 1;
            if self.opcodes.is_multiple_of(MEMORY_CHECK_INTERVAL)
                && let Err(outcome) = self.check_memory(input.pos())
            {
                return outcome;
            }
            if opcode == op::STOP {
                return self.stop();
            }
            let result = match self.execute_hot(opcode, input) {
                Some(result) => result,
                None => self.execute(opcode, first, input),
            };
            first = false;
            if input.divergences > self.reported_divergences {
                self.report_divergence(input);
            }
            if let Err(outcome) = result {
                return match outcome {
                    Outcome::Error {
                        message,
                        opcode: None,
                    } => Outcome::Error {
                        message,
                        opcode: op::describe(opcode).map(|(name, _)| name),
                    },
                    other => other,
                };
            }
        }
    }

    /// Estimated heap bytes the simulation holds: stack, marks, memo table, tuples, references,
    /// joblib cells. Literal text is not counted: each literal is a copy of at most
    /// `max_literal_capture` bytes of its own argument, so it is bounded by the input read.
    pub(crate) fn held_bytes(&self) -> u64 {
        let value = std::mem::size_of::<Value>();
        let tuples = crate::value::live_tuple_bytes().saturating_sub(self.tuple_bytes_at_start);
        let bytes = self.stack.capacity() * value
            + self.marks.capacity() * std::mem::size_of::<usize>()
            + self.memo.table_bytes()
            + tuples
            + self.reference_bytes
            + self.cells.len() * CELL_BYTES;
        bytes as u64
    }

    /// The memory budget: what the simulation holds may exceed the bytes read so far by at most
    /// `max_held_bytes`, so a small pickle cannot make the scanner hold much more than its size.
    fn check_memory(&self, consumed: u64) -> Step {
        let limit = self.limits.max_held_bytes.saturating_add(consumed);
        if self.held_bytes() > limit {
            return Err(Outcome::Budget {
                what: "memory (bytes held beyond the input read)",
                limit: self.limits.max_held_bytes,
            });
        }
        Ok(())
    }

    /// Records a finding of the simulation. Past `MAX_FINDINGS_PER_RULE` of one rule, further ones
    /// are only counted, on the last one listed (same rule, so the verdict is unchanged).
    pub(crate) fn report(&mut self, finding: Finding) {
        let counts = self.finding_counts.entry(finding.rule).or_default();
        if counts.0 < MAX_FINDINGS_PER_RULE {
            counts.0 += 1;
            self.findings.push(finding);
        } else {
            counts.1 += 1;
        }
    }

    /// Notes on the last listed finding of each rule how many more were left out.
    pub(crate) fn note_left_out_findings(&mut self) {
        for (rule, &(_, left_out)) in &self.finding_counts {
            if left_out == 0 {
                continue;
            }
            if let Some(last) = self.findings.iter_mut().rev().find(|f| f.rule == *rule) {
                last.message
                    .push_str(&format!(" (and {left_out} more like it, not listed)"));
                last.evidence.push(mlvet_core::Evidence {
                    label: "further occurrences".to_string(),
                    value: left_out.to_string(),
                });
            }
        }
    }

    /// Reports frame divergences noticed outside an opcode (at the end of a pickle).
    pub(crate) fn after_pickle<R: Read>(&mut self, input: &Input<R>) {
        if input.divergences > self.reported_divergences {
            self.report_divergence(input);
        }
    }

    fn report_divergence<R: Read>(&mut self, input: &Input<R>) {
        if self.reported_divergences == 0 {
            let at = input.first_divergence.unwrap_or(self.op_offset);
            let finding = rules::pickle_frame_overrun::finding(self.location(), at);
            self.report(finding);
        }
        self.reported_divergences = input.divergences;
    }

    fn stop(&mut self) -> Outcome {
        let fence = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= fence {
            return Outcome::Error {
                message: "unpickling stack underflow at STOP".into(),
                opcode: Some("STOP"),
            };
        }
        if self.stack.len() > 1 {
            let leftover = self.stack.len() - 1;
            let finding =
                rules::pickle_structural_anomaly::leftover_values(self.location(), leftover);
            self.report(finding);
        }
        Outcome::Stopped
    }

    // ----- stack primitives (mirroring Pdata_* and the fence of the last mark) -----

    #[inline]
    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    #[inline(always)]
    fn push(&mut self, value: Value) -> Step {
        if let Value::Global(g) = value {
            self.resolvers.note_push(g);
        }
        if self.stack.len() >= self.limits.max_stack || matches!(value, Value::Tuple(_)) {
            return self.push_checked(value);
        }
        self.stack.push(value);
        Ok(())
    }

    /// The slow path of `push`: budgets on stack size and tuple nesting.
    #[cold]
    #[inline(never)]
    fn push_checked(&mut self, value: Value) -> Step {
        if self.stack.len() >= self.limits.max_stack {
            return Err(Outcome::Budget {
                what: "stack size",
                limit: self.limits.max_stack as u64,
            });
        }
        if value.depth() as usize > self.limits.max_nesting {
            return Err(Outcome::Budget {
                what: "nesting depth",
                limit: self.limits.max_nesting as u64,
            });
        }
        self.stack.push(value);
        Ok(())
    }

    #[inline]
    fn pop(&mut self) -> Result<Value, Outcome> {
        if self.stack.len() <= self.fence() {
            return Err(underflow());
        }
        self.stack.pop().ok_or_else(underflow)
    }

    #[inline]
    fn top(&self) -> Result<&Value, Outcome> {
        if self.stack.len() <= self.fence() {
            return Err(underflow());
        }
        self.stack.last().ok_or_else(underflow)
    }

    /// `marker()`: pops the last mark.
    fn pop_mark(&mut self) -> Result<usize, Outcome> {
        self.marks.pop().ok_or_else(|| error("could not find MARK"))
    }

    /// Items from `start` to the top, removed from the stack (after a `pop_mark`).
    fn take_from(&mut self, start: usize) -> Result<Vec<Value>, Outcome> {
        if start > self.stack.len() {
            return Err(underflow());
        }
        Ok(self.stack.split_off(start))
    }

    /// Replaces the items from `start` to the top with one tuple of them.
    fn tuple_from(&mut self, start: usize) -> Step {
        let tuple = match self.stack.get(start..) {
            Some(items) => Value::tuple(items),
            None => return Err(underflow()),
        };
        self.stack.truncate(start);
        self.push(tuple)
    }

    fn memo_put(&mut self, index: u64, value: Value) -> Step {
        if !self.memo.contains(index) && self.memo.len() >= self.limits.max_memo {
            return Err(Outcome::Budget {
                what: "memo entries",
                limit: self.limits.max_memo as u64,
            });
        }
        self.memo.insert(index, value);
        Ok(())
    }

    fn memo_get(&mut self, index: u64) -> Step {
        match self.memo.get(index) {
            Some(value) => {
                let value = value.clone();
                self.push(value)
            }
            None => Err(error(format!("Memo value not found at index {index}"))),
        }
    }

    // ----- argument readers -----

    fn read_line<R: Read>(&mut self, input: &mut Input<R>) -> Result<Vec<u8>, Outcome> {
        let mut line = std::mem::take(&mut self.scratch);
        input
            .line(self.limits.max_literal_capture.max(64), &mut line)
            .map_err(|e| read_failure(e, None))?;
        Ok(line)
    }

    /// A memo index line (`GET`, `PUT`) of any length, parsed as `PyLong_FromString` does.
    fn read_decimal<R: Read>(input: &mut Input<R>) -> Result<Option<i128>, Outcome> {
        let mut sink = strings::DecimalLine::new();
        input
            .line_into(&mut sink)
            .map_err(|e| read_failure(e, None))?;
        Ok(sink.finish())
    }

    /// A `GLOBAL`/`INST` name line: its first bytes (lossy UTF-8 when cut inside a character) and
    /// whether it was longer than the capture limit.
    fn read_name_line<R: Read>(&mut self, input: &mut Input<R>) -> Result<(String, bool), Outcome> {
        let cap = self.limits.max_literal_capture.max(64);
        let mut line = std::mem::take(&mut self.scratch);
        let len = input
            .line(cap, &mut line)
            .map_err(|e| read_failure(e, None))?;
        let truncated = len > line.len() as u64;
        let text = match std::str::from_utf8(&line) {
            Ok(text) => Ok(text.to_string()),
            Err(_) if truncated => Ok(String::from_utf8_lossy(&line).into_owned()),
            Err(_) => Err(error("GLOBAL/INST module or name is not valid UTF-8")),
        };
        self.scratch = line;
        Ok((text?, truncated))
    }

    fn read_len<R: Read, const N: usize>(input: &mut Input<R>) -> Result<u64, Outcome> {
        let bytes = input.fixed::<N>().map_err(|e| read_failure(e, None))?;
        let mut len = 0u64;
        for (i, b) in bytes.iter().enumerate() {
            len |= u64::from(*b) << (8 * i);
        }
        Ok(len)
    }

    fn read_str_payload<R: Read>(
        &mut self,
        input: &mut Input<R>,
        len: u64,
        utf8: bool,
    ) -> Result<Value, Outcome> {
        let cap = self.limits.max_literal_capture;
        if let Some((captured, _)) = self.read_payload(input, len, true, cap, "string value")? {
            // A string holding a pickle: kept as text for evidence and for STACK_GLOBAL operands.
            let text: String = if utf8 {
                String::from_utf8_lossy(&captured).into_owned()
            } else {
                captured.iter().map(|&b| char::from(b)).collect()
            };
            return Ok(Value::text(&text, len > captured.len() as u64));
        }
        let mut buf = std::mem::take(&mut self.scratch2);
        input
            .counted(len, cap, &mut buf)
            .map_err(|e| read_failure(e, None))?;
        let truncated = len > buf.len() as u64;
        // Fast path: valid UTF-8 (and ASCII 8-bit strings) need no conversion.
        if let Ok(text) = std::str::from_utf8(&buf)
            && (utf8 || text.is_ascii())
        {
            let value = Value::text(text, truncated);
            self.scratch2 = buf;
            return Ok(value);
        }
        let text = if utf8 {
            match strings::utf8_surrogatepass(&buf) {
                Some(text) => text,
                // A truncated capture may end inside a character; CPython validates the whole string.
                None if truncated => String::from_utf8_lossy(&buf).into_owned(),
                None => {
                    self.scratch2 = buf;
                    return Err(error("'utf-8' codec can't decode string argument"));
                }
            }
        } else {
            // Protocol 0-2 8-bit strings: ASCII by default (numpy loads them as latin-1).
            buf.iter().map(|&b| char::from(b)).collect()
        };
        self.scratch2 = buf;
        Ok(Value::text(&text, truncated))
    }

    fn read_bytes_payload<R: Read>(
        &mut self,
        input: &mut Input<R>,
        len: u64,
        bytearray: bool,
    ) -> Result<Value, Outcome> {
        let cap = self.limits.max_literal_capture.min(256);
        if let Some((prefix, embedded)) =
            self.read_payload(input, len, false, cap, "bytes value")?
        {
            return Ok(Value::Bytes(std::rc::Rc::new(Blob {
                prefix,
                len,
                bytearray,
                embedded: Some(embedded),
            })));
        }
        let mut prefix = Vec::new();
        input
            .counted_into(len, cap, &mut prefix)
            .map_err(|e| read_failure(e, None))?;
        Ok(Value::Bytes(std::rc::Rc::new(Blob {
            prefix,
            len,
            bytearray,
            embedded: None,
        })))
    }

    // ----- references and calls -----

    /// `resolve` of a name that may have been cut at the capture limit: the rest of a cut name is
    /// unknown, so it is never allowed, and it is spelled with a trailing `...` so that it cannot
    /// share an entry with a complete name.
    fn resolve_spelled(
        &mut self,
        module: &str,
        name: &str,
        opcode: &'static str,
        truncated: bool,
    ) -> Value {
        if !truncated {
            return self.resolve(module, name, opcode);
        }
        let reference = self.resolve(module, &format!("{name}..."), opcode);
        if let Value::Global(g) = reference
            && let Some(entry) = self.references.get_mut(g as usize)
            && matches!(entry.classification, Classification::Allowed { .. })
        {
            entry.classification = Classification::Unknown;
        }
        reference
    }

    /// `find_class`: applies `_compat_pickle` for protocols < 3, records and classifies the reference.
    fn resolve(&mut self, module: &str, name: &str, opcode: &'static str) -> Value {
        let (mut resolved_module, resolved_name) = if self.proto < 3 {
            compat::map(module, name)
        } else {
            (module.to_string(), name.to_string())
        };
        if let Some(canonical) = compat::vendored(&resolved_module) {
            resolved_module = canonical;
        }
        let key = (resolved_module, resolved_name);
        if let Some(&index) = self.reference_index.get(&key) {
            return Value::Global(index);
        }
        let classification = self.policy.classify(&key.0, &key.1);
        let written_as = (key.0 != module || key.1 != name)
            .then(|| Box::new((module.to_string(), name.to_string())));
        let index = self.references.len() as u32;
        self.references.push(Reference {
            module: key.0.clone(),
            name: key.1.clone(),
            written_as,
            opcode,
            opcode_index: self.op_index,
            offset: self.base.offset.unwrap_or(0) + self.op_offset,
            protocol: self.proto,
            classification,
            called: false,
            calls: Vec::new(),
            build_state: false,
        });
        // The entry, its names (twice: the entry and the index key) and the index slot.
        self.reference_bytes +=
            std::mem::size_of::<Reference>() + 2 * (key.0.len() + key.1.len()) + 96;
        if let Some(kind) = resolvers::kind_of(&key.0, &key.1) {
            self.resolvers.register(index, kind);
        }
        self.reference_index.insert(key, index);
        Value::Global(index)
    }

    /// A resolver called with literal arguments resolves statically to one reference:
    /// `getattr(<global>, "<literal name>")` to `module.name.attr` (the pickler writes exactly this
    /// for classmethods and other attributes of classes under protocols < 4: `zoneinfo.ZoneInfo._unpickle`
    /// in every pandas frame with a time zone), `pkgutil.resolve_name("m:a")` and
    /// `torch._utils._import_dotted_name("m.a")` to `m.a`. Returns that reference, classified on
    /// its own like a dotted name (see `resolvers.rs`).
    fn fold_resolver(&mut self, callee: &Value, args: &Value) -> Option<Value> {
        let (Value::Global(g), Value::Tuple(t)) = (callee, args) else {
            return None;
        };
        let (module, name) = match self.resolvers.kind(*g)? {
            ResolverKind::BytesLoader => {
                if self.judge_bytes_loader(*g, &t.preview, t.len) {
                    self.resolvers.note_folded(*g);
                }
                return None;
            }
            ResolverKind::Getattr => {
                let (2, Some(Value::Global(target)), Some(Value::Str(attr))) =
                    (t.len, t.preview.first(), t.preview.get(1))
                else {
                    return None;
                };
                // `getattr` does not walk dots; such a name raises AttributeError at load time.
                if attr.is_empty() || attr.contains('.') {
                    return None;
                }
                let target = self.references.get(*target as usize)?;
                (target.module.clone(), format!("{}.{attr}", target.name))
            }
            ResolverKind::DottedString => {
                let (1, Some(Value::Str(text))) = (t.len, t.preview.first()) else {
                    return None;
                };
                resolvers::split_dotted(text)?
            }
        };
        self.resolvers.note_folded(*g);
        // Resolved as protocol 4 would spell it: no `_compat_pickle` renaming of the result.
        let proto = std::mem::replace(&mut self.proto, 4);
        let how = if self.is_reference(*g, "builtins", "getattr") {
            "getattr"
        } else {
            "resolver call"
        };
        let reference = self.resolve(&module, &name, how);
        self.proto = proto;
        Some(reference)
    }

    fn reference_name(&self, index: u32) -> String {
        self.references
            .get(index as usize)
            .map(Reference::qualified)
            .unwrap_or_else(|| "<?>".to_string())
    }

    fn render(&self, value: &Value) -> String {
        let mut out = String::new();
        value.render(&|g| self.reference_name(g), &mut out, RENDER_BUDGET);
        out
    }

    fn render_args(&self, args: &[Value]) -> String {
        let mut out = String::new();
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            arg.render(&|g| self.reference_name(g), &mut out, RENDER_BUDGET);
            if out.len() >= RENDER_BUDGET {
                break;
            }
        }
        out
    }

    /// Records a call of `callee` and returns the value it produces.
    fn call(&mut self, callee: &Value, args: String, how: &'static str) -> Result<Value, Outcome> {
        match callee {
            Value::Global(g) => {
                let call = format!("{}({args})", self.reference_name(*g));
                if let Some(reference) = self.references.get_mut(*g as usize) {
                    reference.called = true;
                    if reference.calls.len() < MAX_CALLS_KEPT && !reference.calls.contains(&call) {
                        let call = format!("{call} via {how}");
                        self.reference_bytes += call.len() + std::mem::size_of::<String>();
                        reference.calls.push(call);
                    }
                }
                Ok(Value::Object(Some(*g)))
            }
            value if value.is_plain_data() => Err(error(format!(
                "{how}: {} object is not callable",
                self.render(value)
            ))),
            Value::DynamicGlobal => Ok(Value::Object(None)),
            Value::Object(Some(g)) if self.is_reference(*g, "functools", "partial") => {
                self.partial_called(*g);
                let rendered = self.render(callee);
                let finding =
                    rules::pickle_dynamic_call::finding(self.location(), how, &rendered, &args);
                self.findings.push(finding);
                Ok(Value::Object(None))
            }
            other => {
                let rendered = self.render(other);
                let finding =
                    rules::pickle_dynamic_call::finding(self.location(), how, &rendered, &args);
                self.report(finding);
                Ok(Value::Object(None))
            }
        }
    }

    /// A `functools.partial` is allowed only as stored data: one that the load itself calls runs
    /// the wrapped callable, whatever it is (`partial(f, *args)()` is a trampoline).
    fn partial_called(&mut self, reference: u32) {
        if let Some(partial) = self.references.get_mut(reference as usize) {
            partial.classification = Classification::Denied {
                severity: mlvet_core::Severity::Critical,
                category: "trampoline".to_string(),
                reason: "a functools.partial built by this pickle is called during the load: it \
                         calls the wrapped callable with the stored arguments"
                    .to_string(),
            };
        }
    }

    /// State-setting opcodes applied to a reference itself mutate a class, function or module.
    fn check_mutation_target(&mut self, target: &Value, how: &'static str, state: Option<&Value>) {
        match target {
            Value::Global(g) => {
                let name = self.reference_name(*g);
                let state = state.map(|s| self.render(s));
                let finding = rules::pickle_global_mutation::finding(
                    self.location(),
                    how,
                    &name,
                    state.as_deref(),
                );
                self.report(finding);
            }
            Value::Object(Some(g)) if how == "BUILD" => {
                if let Some(reference) = self.references.get_mut(*g as usize) {
                    reference.build_state = true;
                }
            }
            _ => {}
        }
    }

    // ----- the dispatch -----

    /// The opcodes that dominate large pickles (numbers, containers, memo), kept small so that the
    /// compiler inlines the stack writes; everything else goes through `execute`.
    #[inline(always)]
    fn execute_hot<R: Read>(&mut self, opcode: u8, input: &mut Input<R>) -> Option<Step> {
        let step = match opcode {
            op::BININT1 => match input.fixed::<1>() {
                Ok([b]) => self.push(Value::Int(i64::from(b))),
                Err(e) => Err(read_failure(e, None)),
            },
            op::BININT2 => match input.fixed::<2>() {
                Ok(b) => self.push(Value::Int(i64::from(u16::from_le_bytes(b)))),
                Err(e) => Err(read_failure(e, None)),
            },
            op::BININT => match input.fixed::<4>() {
                Ok(b) => self.push(Value::Int(i64::from(i32::from_le_bytes(b)))),
                Err(e) => Err(read_failure(e, None)),
            },
            op::BINFLOAT => match input.fixed::<8>() {
                Ok(b) => self.push(Value::Float(f64::from_be_bytes(b))),
                Err(e) => Err(read_failure(e, None)),
            },
            op::NONE => self.push(Value::None),
            op::NEWTRUE => self.push(Value::Bool(true)),
            op::NEWFALSE => self.push(Value::Bool(false)),
            op::EMPTY_LIST => self.push(Value::List),
            op::EMPTY_DICT => {
                let dict = self.new_dict();
                self.push(dict)
            }
            op::BINGET => match input.fixed::<1>() {
                Ok([index]) => self.memo_get(u64::from(index)),
                Err(e) => Err(read_failure(e, None)),
            },
            op::MARK if self.marks.len() < self.limits.max_mark_depth => {
                self.marks.push(self.stack.len());
                Ok(())
            }
            _ => return None,
        };
        Some(step)
    }

    fn execute<R: Read>(&mut self, opcode: u8, first: bool, input: &mut Input<R>) -> Step {
        match opcode {
            op::PROTO => {
                let [proto] = input.fixed::<1>().map_err(|e| read_failure(e, None))?;
                if proto > op::HIGHEST_PROTOCOL {
                    return Err(error(format!("unsupported pickle protocol: {proto}")));
                }
                if !first {
                    let finding =
                        rules::pickle_structural_anomaly::misplaced_proto(self.location(), proto);
                    self.report(finding);
                }
                self.proto = proto;
                self.max_protocol = self.max_protocol.max(proto);
                Ok(())
            }
            op::FRAME => {
                let len = Self::read_len::<R, 8>(input)?;
                if len > i64::MAX as u64 {
                    return Err(error("FRAME length exceeds system's maximum"));
                }
                input.frame(len).map_err(|e| read_failure(e, None))
            }
            op::MARK => {
                if self.marks.len() >= self.limits.max_mark_depth {
                    return Err(Outcome::Budget {
                        what: "mark depth",
                        limit: self.limits.max_mark_depth as u64,
                    });
                }
                self.marks.push(self.stack.len());
                Ok(())
            }
            op::POP => {
                // POP of a mark that sits on top of the stack removes the mark.
                if self.marks.last() == Some(&self.stack.len()) {
                    self.marks.pop();
                    Ok(())
                } else {
                    self.pop().map(drop)
                }
            }
            op::POP_MARK => {
                let mark = self.pop_mark()?;
                self.take_from(mark).map(drop)
            }
            op::DUP => {
                let value = self.top()?.clone();
                self.push(value)
            }
            op::NONE => self.push(Value::None),
            op::NEWTRUE => self.push(Value::Bool(true)),
            op::NEWFALSE => self.push(Value::Bool(false)),
            op::INT => {
                let line = self.read_line(input)?;
                let value = match line.as_slice() {
                    b"00" => Value::Bool(false),
                    b"01" => Value::Bool(true),
                    digits => match strings::parse_decimal(digits) {
                        Some(v) => i64::try_from(v).map(Value::Int).unwrap_or(Value::BigInt),
                        None => Value::BigInt,
                    },
                };
                self.scratch = line;
                self.push(value)
            }
            op::LONG => {
                let line = self.read_line(input)?;
                let digits = line.strip_suffix(b"L").unwrap_or(&line);
                let value = strings::parse_decimal(digits)
                    .and_then(|v| i64::try_from(v).ok())
                    .map(Value::Int);
                self.scratch = line;
                self.push(value.unwrap_or(Value::BigInt))
            }
            op::BININT => {
                let b = input.fixed::<4>().map_err(|e| read_failure(e, None))?;
                self.push(Value::Int(i64::from(i32::from_le_bytes(b))))
            }
            op::BININT1 => {
                let [b] = input.fixed::<1>().map_err(|e| read_failure(e, None))?;
                self.push(Value::Int(i64::from(b)))
            }
            op::BININT2 => {
                let b = input.fixed::<2>().map_err(|e| read_failure(e, None))?;
                self.push(Value::Int(i64::from(u16::from_le_bytes(b))))
            }
            op::LONG1 | op::LONG4 => {
                let len = if opcode == op::LONG1 {
                    Self::read_len::<R, 1>(input)?
                } else {
                    Self::read_len::<R, 4>(input)?
                };
                if opcode == op::LONG4 && len > i32::MAX as u64 {
                    return Err(error("LONG pickle has negative byte count"));
                }
                let mut buf = std::mem::take(&mut self.scratch2);
                input
                    .counted(len, 16, &mut buf)
                    .map_err(|e| read_failure(e, None))?;
                let value = if len <= 8 {
                    strings::long_le(&buf).map(Value::Int)
                } else {
                    None
                };
                self.scratch2 = buf;
                self.push(value.unwrap_or(Value::BigInt))
            }
            op::FLOAT => {
                let line = self.read_line(input)?;
                let value = std::str::from_utf8(&line)
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .unwrap_or(f64::NAN);
                self.scratch = line;
                self.push(Value::Float(value))
            }
            op::BINFLOAT => {
                let b = input.fixed::<8>().map_err(|e| read_failure(e, None))?;
                self.push(Value::Float(f64::from_be_bytes(b)))
            }
            op::STRING => {
                let mut decoder =
                    strings::StringLiteralDecoder::new(self.limits.max_literal_capture);
                input
                    .line_into(&mut decoder)
                    .map_err(|e| read_failure(e, None))?;
                let decoded = decoder.finish().map_err(|e| error(e.to_string()))?;
                // Python 2 `str` bytes; numpy and pandas load them as Latin-1.
                let text: String = decoded.prefix.iter().map(|&b| char::from(b)).collect();
                self.push(Value::text(&text, decoded.truncated))
            }
            op::BINSTRING => {
                let raw = Self::read_len::<R, 4>(input)?;
                if raw > i32::MAX as u64 {
                    return Err(error("BINSTRING pickle has negative byte count"));
                }
                let value = self.read_str_payload(input, raw, false)?;
                self.push(value)
            }
            op::SHORT_BINSTRING => {
                let len = Self::read_len::<R, 1>(input)?;
                let value = self.read_str_payload(input, len, false)?;
                self.push(value)
            }
            op::UNICODE => {
                let mut decoder = strings::RawUnicodeDecoder::new(self.limits.max_literal_capture);
                input
                    .line_into(&mut decoder)
                    .map_err(|e| read_failure(e, None))?;
                let decoded = decoder.finish().map_err(|e| error(e.to_string()))?;
                self.push(Value::text(&decoded.prefix, decoded.truncated))
            }
            op::BINUNICODE | op::SHORT_BINUNICODE | op::BINUNICODE8 => {
                let len = match opcode {
                    op::SHORT_BINUNICODE => Self::read_len::<R, 1>(input)?,
                    op::BINUNICODE => Self::read_len::<R, 4>(input)?,
                    _ => Self::read_len::<R, 8>(input)?,
                };
                if len > i64::MAX as u64 {
                    return Err(error("BINUNICODE8 exceeds system's maximum size"));
                }
                let value = self.read_str_payload(input, len, true)?;
                self.push(value)
            }
            op::SHORT_BINBYTES | op::BINBYTES | op::BINBYTES8 | op::BYTEARRAY8 => {
                let len = match opcode {
                    op::SHORT_BINBYTES => Self::read_len::<R, 1>(input)?,
                    op::BINBYTES => Self::read_len::<R, 4>(input)?,
                    _ => Self::read_len::<R, 8>(input)?,
                };
                if len > i64::MAX as u64 {
                    return Err(error("BINBYTES exceeds system's maximum size"));
                }
                let value = self.read_bytes_payload(input, len, opcode == op::BYTEARRAY8)?;
                self.push(value)
            }
            op::EMPTY_TUPLE => self.push(Value::tuple(&[])),
            op::TUPLE => {
                let mark = self.pop_mark()?;
                self.tuple_from(mark)
            }
            op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                let n = usize::from(opcode - op::TUPLE1 + 1);
                let len = self.stack.len();
                if n > len || len - n < self.fence() {
                    return Err(underflow());
                }
                self.tuple_from(len - n)
            }
            op::EMPTY_LIST => self.push(Value::List),
            op::EMPTY_DICT => {
                let dict = self.new_dict();
                self.push(dict)
            }
            op::EMPTY_SET => self.push(Value::Set),
            op::LIST | op::FROZENSET => {
                let mark = self.pop_mark()?;
                self.take_from(mark)?;
                self.push(if opcode == op::LIST {
                    Value::List
                } else {
                    Value::FrozenSet
                })
            }
            op::DICT => {
                let mark = self.pop_mark()?;
                let items = self.take_from(mark)?;
                if !items.len().is_multiple_of(2) {
                    return Err(error("odd number of items for DICT"));
                }
                let dict = self.new_dict();
                if let Value::Dict(Some(preview)) = &dict {
                    remember_entries(preview, &items);
                }
                self.push(dict)
            }
            op::APPEND => {
                if self.stack.len() < 2 || self.stack.len() - 1 <= self.fence() {
                    return Err(underflow());
                }
                self.collection_update(self.stack.len() - 1, "APPEND")
            }
            op::APPENDS | op::SETITEMS | op::ADDITEMS => {
                let mark = self.pop_mark()?;
                let how = match opcode {
                    op::APPENDS => "APPENDS",
                    op::SETITEMS => "SETITEMS",
                    _ => "ADDITEMS",
                };
                self.collection_update(mark, how)
            }
            op::SETITEM => {
                if self.stack.len() < 3 {
                    return Err(underflow());
                }
                self.collection_update(self.stack.len() - 2, "SETITEM")
            }
            op::GET => {
                let index = Self::read_decimal(input)?;
                match index {
                    // `_Unpickler_MemoGet` takes the index as a `size_t`: a negative one is absent.
                    Some(i) if i < 0 => Err(error(format!("Memo value not found at index {i}"))),
                    Some(i) => match u64::try_from(i) {
                        Ok(index) => self.memo_get(index),
                        Err(_) => Err(error("GET argument does not fit in a Py_ssize_t")),
                    },
                    None => Err(error("GET argument is not a valid integer")),
                }
            }
            op::BINGET => {
                let [index] = input.fixed::<1>().map_err(|e| read_failure(e, None))?;
                self.memo_get(u64::from(index))
            }
            op::LONG_BINGET => {
                let index = Self::read_len::<R, 4>(input)?;
                self.memo_get(index)
            }
            op::PUT => {
                let index = Self::read_decimal(input)?;
                // `load_put` checks the stack before it parses the index.
                let value = self.top()?.clone();
                let index = match index {
                    Some(i) if i < 0 => return Err(error("negative PUT argument")),
                    Some(i) => u64::try_from(i).map_err(|_| error("PUT argument too large"))?,
                    None => return Err(error("PUT argument is not a valid integer")),
                };
                self.memo_put(index, value)
            }
            op::BINPUT | op::LONG_BINPUT => {
                let index = if opcode == op::BINPUT {
                    Self::read_len::<R, 1>(input)?
                } else {
                    Self::read_len::<R, 4>(input)?
                };
                let value = self.top()?.clone();
                self.memo_put(index, value)
            }
            op::MEMOIZE => {
                let value = self.top()?.clone();
                let index = self.memo.len() as u64;
                self.memo_put(index, value)
            }
            op::GLOBAL | op::INST => self.global_or_inst(opcode, input),
            op::STACK_GLOBAL => self.stack_global(),
            op::REDUCE => {
                let args = self.pop()?;
                let callee = self.top()?.clone();
                if args.is_plain_data() && !matches!(args, Value::Tuple(_)) {
                    return Err(error("REDUCE: argument list must be a tuple"));
                }
                let rendered = match &args {
                    Value::Tuple(t) => {
                        self.render_args(&t.preview)
                            + if t.len > t.preview.len() { ", ..." } else { "" }
                    }
                    other => format!("*{}", self.render(other)),
                };
                let mut result = self.call(&callee, rendered, "REDUCE")?;
                if let Some(folded) = self.fold_resolver(&callee, &args) {
                    result = folded;
                }
                if let (Value::Global(g), Value::Tuple(t)) = (&callee, &args)
                    && self.joblib
                    && self.is_reference(*g, "numpy", "dtype")
                    && let Some(descr) = t.preview.first().and_then(Value::as_str)
                {
                    let info = Rc::new(DtypeInfo {
                        descr: descr.to_string(),
                        state: Default::default(),
                    });
                    self.cells.push(Cell::Dtype(info.clone()));
                    result = Value::Dtype(info);
                }
                if let Some(slot) = self.stack.last_mut() {
                    *slot = result;
                }
                Ok(())
            }
            op::NEWOBJ | op::NEWOBJ_EX => {
                let kwargs = if opcode == op::NEWOBJ_EX {
                    Some(self.pop()?)
                } else {
                    None
                };
                let args = self.pop()?;
                let cls = self.pop()?;
                let mut rendered = match &args {
                    Value::Tuple(t) => self.render_args(&t.preview),
                    other => format!("*{}", self.render(other)),
                };
                if let Some(kwargs) = kwargs {
                    rendered.push_str(&format!(", **{}", self.render(&kwargs)));
                }
                let how = if opcode == op::NEWOBJ {
                    "NEWOBJ"
                } else {
                    "NEWOBJ_EX"
                };
                let result = self.call(&cls, rendered, how)?;
                self.push(result)
            }
            op::OBJ => {
                let mark = self.pop_mark()?;
                if self.stack.len() < mark + 1 {
                    return Err(underflow());
                }
                let mut items = self.take_from(mark)?;
                let cls = items.remove(0);
                let rendered = self.render_args(&items);
                let result = self.call(&cls, rendered, "OBJ")?;
                self.push(result)
            }
            op::BUILD => {
                if self.stack.len() < 2 || self.stack.len() - 2 < self.fence() {
                    return Err(underflow());
                }
                let state = self.pop()?;
                let target = self.top()?.clone();
                if target.is_plain_data()
                    && !matches!(target, Value::List | Value::Dict(_) | Value::Set)
                {
                    // Built-in immutables have no __dict__/__setstate__: CPython raises.
                    return Err(error(format!("BUILD on a {} value", self.render(&target))));
                }
                self.check_mutation_target(&target, "BUILD", Some(&state));
                match &target {
                    Value::Dtype(dtype) => {
                        *dtype.state.borrow_mut() = Some(state);
                        Ok(())
                    }
                    Value::Object(Some(g))
                        if self.joblib
                            && self.is_reference(
                                *g,
                                "joblib.numpy_pickle",
                                "NumpyArrayWrapper",
                            ) =>
                    {
                        self.joblib_array(&state, input)
                    }
                    _ => Ok(()),
                }
            }
            op::PERSID => {
                let line = self.read_line(input)?;
                let ascii = line.is_ascii();
                self.scratch = line;
                if !ascii {
                    return Err(error("persistent IDs in protocol 0 must be ASCII strings"));
                }
                self.persistent_ids += 1;
                self.push(Value::Persistent)
            }
            op::BINPERSID => {
                let pid = self.pop()?;
                self.persistent_ids += 1;
                // Legacy `torch.save` writes every nn.Module class as the persistent id
                // `("module", cls, source_file, source)` and `torch.load`'s persistent_load
                // returns `cls` itself: the class reference, already classified on its own.
                if let Value::Tuple(t) = &pid
                    && t.len >= 2
                    && t.preview.first().and_then(Value::as_str) == Some("module")
                    && matches!(t.preview.first(), Some(Value::Str(_)))
                    && let Some(class @ Value::Global(_)) = t.preview.get(1)
                {
                    let class = class.clone();
                    return self.push(class);
                }
                self.push(Value::Persistent)
            }
            op::EXT1 | op::EXT2 | op::EXT4 => {
                let code = match opcode {
                    op::EXT1 => {
                        i64::from(input.fixed::<1>().map_err(|e| read_failure(e, None))?[0])
                    }
                    op::EXT2 => i64::from(u16::from_le_bytes(
                        input.fixed::<2>().map_err(|e| read_failure(e, None))?,
                    )),
                    _ => i64::from(i32::from_le_bytes(
                        input.fixed::<4>().map_err(|e| read_failure(e, None))?,
                    )),
                };
                if code <= 0 {
                    return Err(error("EXT specifies code <= 0"));
                }
                self.extension_codes += 1;
                let finding = rules::pickle_extension_code::finding(self.location(), code);
                self.report(finding);
                self.push(Value::Extension(code))
            }
            op::NEXT_BUFFER => self.push(Value::Buffer),
            op::READONLY_BUFFER => self.top().map(drop),
            _ => Err(Outcome::Error {
                message: format!(
                    "invalid load key, {:?} (byte 0x{opcode:02x} is no pickle opcode)",
                    opcode as char
                ),
                opcode: Some("<invalid>"),
            }),
        }
    }

    /// APPEND(S)/SETITEM(S)/ADDITEMS: the target sits just below `start`; the items above it are
    /// consumed. A target that is a reference is mutated global state.
    fn collection_update(&mut self, start: usize, how: &'static str) -> Step {
        let len = self.stack.len();
        if start > len || start == 0 {
            return Err(underflow());
        }
        if start == len {
            return Ok(());
        }
        if matches!(how, "SETITEMS" | "SETITEM") && !(len - start).is_multiple_of(2) {
            return Err(error("odd number of items for SETITEMS"));
        }
        let target = self.stack.get(start - 1).cloned().ok_or_else(underflow)?;
        if target.is_plain_data() && !matches!(target, Value::List | Value::Dict(_) | Value::Set) {
            return Err(error(format!("{how} on a {} value", self.render(&target))));
        }
        self.check_mutation_target(&target, how, None);
        if let Value::Dict(Some(preview)) = &target
            && let Some(items) = self.stack.get(start..)
        {
            remember_entries(preview, items);
        }
        self.stack.truncate(start);
        Ok(())
    }

    fn new_dict(&mut self) -> Value {
        if !self.joblib {
            return Value::Dict(None);
        }
        let preview = Rc::new(DictPreview::default());
        self.cells.push(Cell::Dict(preview.clone()));
        Value::Dict(Some(preview))
    }

    fn is_reference(&self, index: u32, module: &str, name: &str) -> bool {
        self.references
            .get(index as usize)
            .is_some_and(|r| r.module == module && r.name == name)
    }

    /// joblib's `NumpyArrayWrapper.read_array`: after `BUILD`, the array follows inline — a
    /// nested pickle for object dtypes, else an alignment pad and `prod(shape) * itemsize` bytes.
    fn joblib_array<R: Read>(&mut self, state: &Value, input: &mut Input<R>) -> Step {
        let not_understood = |what: &str| {
            error(format!(
                "joblib NumpyArrayWrapper state not understood: {what}"
            ))
        };
        let Value::Dict(Some(preview)) = state else {
            return Err(not_understood("state is not a dict"));
        };
        let entries = preview.entries.borrow().clone();
        let field = |name: &str| {
            entries
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let Some(Value::Dtype(dtype)) = field("dtype") else {
            return Err(not_understood("dtype"));
        };
        let layout = dtype_layout(&dtype).ok_or_else(|| not_understood("dtype"))?;
        let count = match field("shape") {
            Some(Value::Tuple(shape)) if shape.len == shape.preview.len() => shape
                .preview
                .iter()
                .try_fold(1u64, |acc, dim| match dim {
                    Value::Int(d) => u64::try_from(*d).ok().and_then(|d| acc.checked_mul(d)),
                    _ => None,
                })
                .ok_or_else(|| not_understood("shape"))?,
            _ => return Err(not_understood("shape")),
        };
        if layout.has_object {
            return self.nested_pickle(input);
        }
        let mut scratch = Vec::new();
        if matches!(field("numpy_array_alignment_bytes"), Some(Value::Int(_))) {
            let [padding] = input.fixed::<1>().map_err(|e| read_failure(e, None))?;
            input
                .counted_into(u64::from(padding), 0, &mut scratch)
                .map_err(|e| read_failure(e, None))?;
        }
        let size = count
            .checked_mul(layout.itemsize)
            .ok_or_else(|| not_understood("array size"))?;
        if self
            .read_payload(input, size, false, 0, "joblib array data")?
            .is_some()
        {
            return Ok(());
        }
        input
            .counted_into(size, 0, &mut scratch)
            .map_err(|e| read_failure(e, None))
    }

    /// `pickle.load(file)` inside a load (joblib object arrays): a complete pickle with its own
    /// stack and memo, simulated in place.
    fn nested_pickle<R: Read>(&mut self, input: &mut Input<R>) -> Step {
        if self.nested_depth >= 4 {
            return Err(Outcome::Budget {
                what: "nested pickle depth",
                limit: 4,
            });
        }
        let saved = (
            std::mem::take(&mut self.stack),
            std::mem::take(&mut self.marks),
            std::mem::take(&mut self.memo),
            self.proto,
            self.op_offset,
            self.op_index,
        );
        self.nested_depth += 1;
        let outcome = self.run_pickle(input);
        self.nested_depth -= 1;
        (
            self.stack,
            self.marks,
            self.memo,
            self.proto,
            self.op_offset,
            self.op_index,
        ) = saved;
        input.end_of_pickle();
        match outcome {
            Outcome::Stopped => Ok(()),
            Outcome::Empty => Err(error("joblib object array: the nested pickle is missing")),
            other => Err(other),
        }
    }

    /// Breaks reference cycles that joblib-mode cells may form.
    pub(crate) fn release_cells(&mut self) {
        for cell in self.cells.drain(..) {
            match cell {
                Cell::Dict(preview) => preview.entries.borrow_mut().clear(),
                Cell::Dtype(dtype) => *dtype.state.borrow_mut() = None,
            }
        }
    }

    fn global_or_inst<R: Read>(&mut self, opcode: u8, input: &mut Input<R>) -> Step {
        let (module, module_truncated) = self.read_name_line(input)?;
        let (name, name_truncated) = self.read_name_line(input)?;
        let how = if opcode == op::GLOBAL {
            "GLOBAL"
        } else {
            "INST"
        };
        let reference =
            self.resolve_spelled(&module, &name, how, module_truncated || name_truncated);
        if opcode == op::GLOBAL {
            return self.push(reference);
        }
        // INST: the class is imported before the mark is looked for.
        let mark = self.pop_mark()?;
        let args = self.take_from(mark)?;
        let rendered = self.render_args(&args);
        let result = self.call(&reference, rendered, "INST")?;
        self.push(result)
    }

    fn stack_global(&mut self) -> Step {
        let name = self.pop()?;
        let module = self.pop()?;
        match (&module, &name) {
            (m, n) if m.as_str().is_some() && n.as_str().is_some() => {
                let truncated =
                    matches!(m, Value::StrPrefix(_)) || matches!(n, Value::StrPrefix(_));
                let m = m.as_str().unwrap_or_default().to_string();
                let n = n.as_str().unwrap_or_default().to_string();
                let reference = self.resolve_spelled(&m, &n, "STACK_GLOBAL", truncated);
                self.push(reference)
            }
            (m, n) if m.is_certainly_not_str() || n.is_certainly_not_str() => {
                Err(error("STACK_GLOBAL requires str"))
            }
            (m, n) => {
                let (m, n) = (self.render(m), self.render(n));
                let finding = rules::pickle_non_literal_global::finding(self.location(), &m, &n);
                self.report(finding);
                self.push(Value::DynamicGlobal)
            }
        }
    }
}

pub(crate) fn read_failure(e: ReadError, opcode: Option<&'static str>) -> Outcome {
    match e {
        ReadError::Eof => Outcome::Error {
            message: "pickle data was truncated".into(),
            opcode,
        },
        ReadError::Io(e) => Outcome::Error {
            message: format!("read error: {e}"),
            opcode,
        },
    }
}

/// A shared mutable cell created in joblib mode.
enum Cell {
    Dict(Rc<DictPreview>),
    Dtype(Rc<DtypeInfo>),
}

/// The joblib array wrapper fields a dict preview keeps.
const WRAPPER_FIELDS: &[&str] = &[
    "dtype",
    "shape",
    "order",
    "numpy_array_alignment_bytes",
    "allow_mmap",
    "subclass",
];

fn remember_entries(preview: &DictPreview, items: &[Value]) {
    let mut entries = preview.entries.borrow_mut();
    for pair in items.chunks_exact(2) {
        if let [key, value] = pair
            && let Some(key) = key.as_str()
            && WRAPPER_FIELDS.contains(&key)
            && entries.len() < 16
        {
            entries.push((key.to_string(), value.clone()));
        }
    }
}

struct DtypeLayout {
    itemsize: u64,
    has_object: bool,
}

/// Item size and object-ness of a `numpy.dtype(descr, False, True)` with its pickled state
/// `(version, byteorder, subdescr, names, fields, elsize, alignment, flags)`.
fn dtype_layout(dtype: &DtypeInfo) -> Option<DtypeLayout> {
    let state = dtype.state.borrow();
    let (elsize, flags) = match state.as_ref() {
        Some(Value::Tuple(t)) => {
            let int = |i: usize| match t.preview.get(i) {
                Some(Value::Int(v)) => Some(*v),
                _ => None,
            };
            (int(5), int(7).unwrap_or(0))
        }
        _ => (None, 0),
    };
    let kind = dtype.descr.chars().next()?;
    // NPY_ITEM_HASOBJECT is bit 0 of the flags; an `O` descr is an object dtype.
    let has_object = kind == 'O' || flags & 1 != 0;
    let itemsize = match elsize.filter(|&e| e > 0) {
        Some(e) => u64::try_from(e).ok()?,
        None => dtype.descr.get(1..)?.parse::<u64>().ok()?,
    };
    Some(DtypeLayout {
        itemsize,
        has_object,
    })
}
