//! A pickle VM simulator and an allow-list-first policy.
//!
//! [`scan_stream`] decides what `pickle.load` would import and call — without ever executing
//! anything. It follows CPython's C unpickler (`Modules/_pickle.c`) opcode by opcode on abstract
//! values: value stack, mark stack and memo are tracked faithfully, `STACK_GLOBAL` operands come from
//! the simulated stack, `FRAME`s are applied as the file-reading unpickler applies them, protocol < 3
//! names go through `_compat_pickle`, dotted names are attribute walks. Every reference is
//! classified by a [`Policy`]: denied references make the artefact malicious, references on neither
//! list make it suspicious.

mod compat;
mod embedded;
mod input;
mod memo;
mod opcodes;
mod policy;
mod resolvers;
pub mod rules;
mod sniff;
mod strings;
mod value;
mod vm;

use std::io::Read;

use mlvet_core::{Finding, Location, RuleMeta};

pub use embedded::staged_detail;
pub use policy::{Classification, Policy, PolicyEntry, PolicyError};
/// Cheap content sniff: does this prefix plausibly start a pickle (protocol 0–5)? Accepts
/// `PROTO 0..=5` headers, and header-less protocol 0/1 streams whose first opcodes decode with
/// plausible arguments and stack effects; rejects text and binary junk within a few bytes. The
/// heuristic is documented in detail in `src/sniff.rs`.
pub use sniff::looks_like_pickle;

/// Resource budgets of one [`scan_stream`] call. Hitting one stops the scan with a
/// `pickle-budget-exceeded` finding; nothing grows without bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_stack: usize,
    pub max_memo: usize,
    pub max_mark_depth: usize,
    /// Depth of nested tuples (the only containers whose contents are kept).
    pub max_nesting: usize,
    pub max_opcodes: u64,
    pub max_pickles: usize,
    /// Bytes of a string or bytes literal kept as evidence (module and attribute names longer than
    /// this are kept truncated and classify as unknown).
    pub max_literal_capture: usize,
    /// Heap bytes the simulation may hold (stack, memo, tuples, references) beyond the number of
    /// input bytes read so far: a pickle can make the scanner hold at most its own size plus this.
    pub max_held_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stack: 8_000_000,
            max_memo: 10_000_000,
            max_mark_depth: 100_000,
            max_nesting: 100_000,
            max_opcodes: 2_000_000_000,
            max_pickles: 100_000,
            max_literal_capture: 1024,
            max_held_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How the caller wants a stream read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// Stop after this many complete pickles (legacy PyTorch files hold exactly 5 pickles followed by
    /// raw storage bytes); the rest is left to the caller, without a trailing-data finding.
    pub max_pickles: Option<usize>,
    /// Only simulate when the stream starts like a pickle (see [`looks_like_pickle`]); otherwise
    /// report that it is not one. When false, the first byte is taken as an opcode whatever it is.
    pub require_pickle_start: bool,
}

/// One reference a pickle makes to a callable or class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalRef {
    /// After `_compat_pickle` renames (what CPython 3 imports).
    pub module: String,
    /// May be a dotted attribute path.
    pub name: String,
    /// Opcode index and absolute byte offset of the first reference.
    pub opcode_index: u64,
    pub offset: u64,
    /// Called or instantiated (`REDUCE`, `OBJ`, `INST`, `NEWOBJ`, `NEWOBJ_EX`).
    pub called: bool,
    pub classification: Classification,
}

/// The result of [`scan_stream`].
#[derive(Debug, Clone, PartialEq)]
pub struct PickleScan {
    pub findings: Vec<Finding>,
    /// False on any error, budget hit, or anything not understood.
    pub fully_inspected: bool,
    /// Complete pickles seen.
    pub pickles: usize,
    pub opcodes: u64,
    /// Offset (relative to the reader's start) where the last complete pickle ended.
    pub bytes_consumed: u64,
    /// Every resolved reference in order of first appearance, deduplicated by (module, name).
    pub globals: Vec<GlobalRef>,
    pub persistent_ids: u64,
    pub extension_codes: u64,
    /// Highest `PROTO` seen (0 when none).
    pub max_protocol: u8,
    /// The stream continues after the last pickle (not examined).
    pub trailing_data: bool,
    /// The pickle references NumPy array reconstruction (`_reconstruct`/`_frombuffer`): callers
    /// that care about object arrays (which unpickle their elements) can look closer.
    pub has_numpy_arrays: bool,
}

impl PickleScan {
    /// True when some finding pushes the artefact to `Malicious`.
    pub fn is_malicious(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.verdict == mlvet_core::Verdict::Malicious)
    }
}

/// Every rule of this crate.
pub fn rules() -> Vec<&'static RuleMeta> {
    rules::all()
}

/// Bytes looked at to decide whether more data starts another pickle.
const SNIFF_LEN: usize = 256;

/// Simulates every pickle in `reader` (several in sequence), streaming, in memory independent of the
/// payload sizes. Findings point into `base` (its offset, if any, is added to stream offsets).
pub fn scan_stream<R: Read>(
    reader: R,
    base: &Location,
    policy: &Policy,
    limits: &Limits,
    opts: &StreamOptions,
) -> PickleScan {
    scan(reader, base, policy, limits, opts, false, 0)
}

/// Like [`scan_stream`], for a stream that joblib's `NumpyUnpickler` reads (an uncompressed joblib
/// file, or the decompressed content of a compressed one): after the `BUILD` of a
/// `joblib.numpy_pickle.NumpyArrayWrapper`, joblib reads the array's raw bytes (after an alignment
/// pad) — or, for object arrays, a nested pickle — straight from the file, in the middle of the
/// pickle. The simulator skips those bytes (and simulates the nested pickle) as joblib does.
pub fn scan_joblib_stream<R: Read>(
    reader: R,
    base: &Location,
    policy: &Policy,
    limits: &Limits,
    opts: &StreamOptions,
) -> PickleScan {
    scan(reader, base, policy, limits, opts, true, 0)
}

/// A pickle inside a value of another pickle, `depth` levels down (see `embedded.rs`). Always
/// through `dyn Read`, so that nesting does not instantiate the simulator again per level.
pub(crate) fn scan_nested(
    reader: &mut dyn Read,
    base: &Location,
    policy: &Policy,
    limits: &Limits,
    opts: &StreamOptions,
    depth: u32,
) -> PickleScan {
    scan(reader, base, policy, limits, opts, false, depth)
}

fn scan<R: Read>(
    reader: R,
    base: &Location,
    policy: &Policy,
    limits: &Limits,
    opts: &StreamOptions,
    joblib: bool,
    embed_depth: u32,
) -> PickleScan {
    let mut input = input::Input::new(reader);
    let mut vm = vm::Vm::new(policy, limits, base);
    vm.joblib = joblib;
    vm.embed_depth = embed_depth;
    let mut fully_inspected = true;
    let mut pickles = 0usize;
    let mut bytes_consumed = 0u64;
    let mut trailing_data = false;
    let at = |offset: u64| {
        let mut loc = base.clone();
        loc.offset = Some(base.offset.unwrap_or(0) + offset);
        loc
    };
    loop {
        if opts.max_pickles.is_some_and(|max| pickles >= max) {
            trailing_data = !matches!(input.peek(1), Ok([]));
            break;
        }
        if pickles >= limits.max_pickles {
            if !matches!(input.peek(1), Ok([])) {
                vm.findings.push(rules::pickle_budget_exceeded::finding(
                    at(input.pos()),
                    "pickles",
                    limits.max_pickles as u64,
                ));
                fully_inspected = false;
            }
            break;
        }
        let prefix = match input.peek(SNIFF_LEN) {
            Ok(prefix) => prefix.to_vec(),
            Err(e) => {
                vm.findings.push(rules::pickle_parse_error::finding(
                    at(input.pos()),
                    &format!("read error: {e}"),
                    None,
                ));
                fully_inspected = false;
                break;
            }
        };
        if prefix.is_empty() {
            if pickles == 0 {
                vm.findings.push(rules::pickle_parse_error::finding(
                    at(0),
                    "empty input: no pickle",
                    None,
                ));
                fully_inspected = false;
            }
            break;
        }
        let must_sniff = pickles > 0 || opts.require_pickle_start;
        if must_sniff && !looks_like_pickle(&prefix) {
            if pickles == 0 {
                vm.findings.push(rules::pickle_parse_error::finding(
                    at(0),
                    "the data does not start like a pickle",
                    None,
                ));
                fully_inspected = false;
            } else {
                trailing_data = true;
                vm.findings.push(rules::pickle_trailing_data::finding(
                    at(input.pos()),
                    &prefix,
                ));
            }
            break;
        }
        match vm.run_pickle(&mut input) {
            vm::Outcome::Stopped => {
                pickles += 1;
                bytes_consumed = input.pos();
                input.end_of_pickle();
                vm.after_pickle(&input);
            }
            vm::Outcome::Empty => break,
            vm::Outcome::Error { message, opcode } => {
                vm.findings.push(rules::pickle_parse_error::finding(
                    vm.location(),
                    &message,
                    opcode,
                ));
                fully_inspected = false;
                break;
            }
            vm::Outcome::Budget { what, limit } => {
                vm.findings.push(rules::pickle_budget_exceeded::finding(
                    vm.location(),
                    what,
                    limit,
                ));
                fully_inspected = false;
                break;
            }
        }
    }
    finish(
        vm,
        base,
        fully_inspected,
        pickles,
        bytes_consumed,
        trailing_data,
    )
}

/// References of one kind (deny-listed, unknown) reported one finding each; the rest are
/// aggregated into one finding, so that the report stays small whatever the pickle names.
const MAX_REFERENCE_FINDINGS: usize = 100;
/// Names an aggregated finding lists.
const AGGREGATE_NAMES: usize = 20;

/// The references of one kind past `MAX_REFERENCE_FINDINGS`.
#[derive(Default)]
struct LeftOut {
    count: u64,
    called: u64,
    severity: Option<mlvet_core::Severity>,
    names: Vec<String>,
    /// Where the first of them is.
    location: Option<Location>,
}

impl LeftOut {
    fn add(
        &mut self,
        reference: &vm::Reference,
        location: Location,
        severity: Option<mlvet_core::Severity>,
    ) {
        self.count += 1;
        self.called += u64::from(reference.called);
        self.severity = self.severity.max(severity);
        if self.names.len() < AGGREGATE_NAMES {
            self.names.push(reference.qualified());
        }
        self.location.get_or_insert(location);
    }
}

/// One finding per deny-listed or unknown reference, up to `MAX_REFERENCE_FINDINGS` of each
/// kind (called references first); the rest of each kind in one aggregate finding.
fn reference_findings(references: &[vm::Reference], base: &Location) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut denied_rest = LeftOut::default();
    let mut unknown_rest = LeftOut::default();
    let (mut denied_listed, mut unknown_listed) = (0usize, 0usize);
    let mut order: Vec<&vm::Reference> = references.iter().collect();
    order.sort_by_key(|reference| !reference.called);
    for reference in order {
        let mut location = base.clone();
        location.opcode_index = Some(reference.opcode_index);
        location.offset = Some(reference.offset);
        match &reference.classification {
            Classification::Denied {
                severity,
                category,
                reason,
            } if denied_listed < MAX_REFERENCE_FINDINGS => {
                denied_listed += 1;
                findings.push(rules::pickle_dangerous_callable::finding(
                    reference, location, *severity, category, reason,
                ));
            }
            Classification::Denied { severity, .. } => {
                denied_rest.add(reference, location, Some(*severity))
            }
            Classification::Unknown if unknown_listed < MAX_REFERENCE_FINDINGS => {
                unknown_listed += 1;
                findings.push(rules::pickle_unknown_callable::finding(reference, location))
            }
            Classification::Unknown => unknown_rest.add(reference, location, None),
            Classification::Allowed { .. } => {}
        }
    }
    if let Some(location) = denied_rest.location {
        findings.push(rules::pickle_dangerous_callable::aggregate(
            location,
            denied_rest
                .severity
                .unwrap_or(mlvet_core::Severity::Critical),
            denied_rest.count,
            denied_rest.called,
            &denied_rest.names,
        ));
    }
    if let Some(location) = unknown_rest.location {
        findings.push(rules::pickle_unknown_callable::aggregate(
            location,
            unknown_rest.count,
            &unknown_rest.names,
        ));
    }
    findings
}

fn finish(
    mut vm: vm::Vm<'_>,
    base: &Location,
    fully_inspected: bool,
    pickles: usize,
    bytes_consumed: u64,
    trailing_data: bool,
) -> PickleScan {
    vm.release_cells();
    let folded: Vec<(u32, resolvers::ResolverKind)> = vm.resolvers.fully_folded().collect();
    for (g, kind) in folded {
        let reason = match kind {
            resolvers::ResolverKind::BytesLoader => {
                "every call loads a literal legacy torch file that was simulated in full; what \
                 it references is reported on its own"
            }
            _ => {
                "every call of this resolver takes literal arguments (a named global and \
                 attribute, or a dotted name); the reference it resolves is classified on its own"
            }
        };
        if let Some(reference) = vm.references.get_mut(g as usize) {
            reference.classification = Classification::Allowed {
                reason: reason.to_string(),
            };
        }
    }
    vm.note_left_out_findings();
    let mut findings = reference_findings(&vm.references, base);
    // The names are moved, not copied, and the lookup index (a second copy of every name) goes
    // first: with hundreds of thousands of distinct globals, each copy is tens of megabytes.
    vm.reference_index = Default::default();
    let references = std::mem::take(&mut vm.references);
    let mut globals = Vec::with_capacity(references.len());
    let mut has_numpy_arrays = false;
    for reference in references {
        if reference.module.starts_with("numpy")
            && matches!(reference.name.as_str(), "_reconstruct" | "_frombuffer")
        {
            has_numpy_arrays = true;
        }
        globals.push(GlobalRef {
            module: reference.module,
            name: reference.name,
            opcode_index: reference.opcode_index,
            offset: reference.offset,
            called: reference.called,
            classification: reference.classification,
        });
    }
    findings.extend(vm.findings);
    embedded::report(&vm.embedded, &mut findings);
    findings.sort_by(Finding::report_order);
    PickleScan {
        findings,
        fully_inspected,
        pickles,
        opcodes: vm.opcodes,
        bytes_consumed,
        globals,
        persistent_ids: vm.persistent_ids,
        extension_codes: vm.extension_codes,
        max_protocol: vm.max_protocol,
        trailing_data,
        has_numpy_arrays,
    }
}
