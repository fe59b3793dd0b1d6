//! Pickles stored inside a pickle: `bytes`/`str` values and joblib array data that hold a complete
//! pickle (a staged second stage), and the legacy torch file `torch.storage._load_from_bytes` loads.
//!
//! A payload that starts like a pickle is simulated *while it is read*: the nested simulator pulls
//! the payload's bytes straight from the outer input ([`Input::payload`]), so memory does not grow
//! with the payload and every byte is read once, whatever the nesting. Nesting is bounded by
//! [`MAX_DEPTH`]. What the nested simulation found is kept with the value: when the value turns out
//! to be the argument of a bytes loader that runs on load (`_load_from_bytes`), its findings are the
//! pickle's own; otherwise dangerous or unknown references in it are a staged payload
//! (`container-staged-pickle`, suspicious: nothing runs on load).

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

use mlvet_core::{Finding, Verdict};

use crate::input::Input;
use crate::value::{Blob, Value};
use crate::vm::{Outcome, Vm};
use crate::{PickleScan, StreamOptions, looks_like_pickle, rules};

/// Levels of pickles inside pickles that are simulated (a pickle in a bytes value of a pickle
/// in a bytes value of the file); deeper ones are kept as plain bytes.
pub(crate) const MAX_DEPTH: u32 = 2;
/// Shorter payloads are not looked at: no complete pickle that references anything is this short.
const MIN_LEN: u64 = 12;
/// Bytes looked at to decide whether a payload starts like a pickle.
const SNIFF: usize = 256;
/// The first pickle of every legacy (non-zip) `torch.save` file: protocol 2, the magic number.
const LEGACY_TORCH_MAGIC: &[u8] = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.";
/// Pickles of a legacy torch file: magic number, protocol version, sys info, the object, storage
/// keys. The raw storage bytes follow.
const LEGACY_TORCH_PICKLES: usize = 5;

/// A pickle found inside a value, with what its simulation found.
#[derive(Debug)]
pub(crate) struct Embedded {
    /// What held it ("bytes value", "joblib array data"...).
    pub(crate) what: &'static str,
    pub(crate) location: mlvet_core::Location,
    /// Starts with the legacy torch magic-number pickle.
    pub(crate) legacy_torch: bool,
    pub(crate) scan: PickleScan,
    /// Judged as the argument of a loader that runs it on load (its findings are reported as the
    /// pickle's own rather than as a staged payload).
    pub(crate) loaded: Cell<bool>,
}

impl Embedded {
    /// A complete legacy torch file that was fully simulated: `torch.load` would unpickle exactly
    /// what was seen.
    pub(crate) fn is_complete_legacy_torch_file(&self) -> bool {
        self.legacy_torch && self.scan.fully_inspected && self.scan.pickles == LEGACY_TORCH_PICKLES
    }

    /// Qualified names of the denied references inside.
    pub(crate) fn dangerous(&self) -> Vec<String> {
        self.scan
            .globals
            .iter()
            .filter(|g| g.classification.is_denied())
            .map(|g| format!("{}.{}", g.module, g.name))
            .collect()
    }

    pub(crate) fn staged_detail(&self) -> Option<String> {
        staged_detail(&self.scan.findings)
    }

    /// The findings that stand for the nested pickle once it is known to be loaded: everything but
    /// the storage bytes after its last pickle, which torch reads raw.
    pub(crate) fn loaded_findings(&self) -> impl Iterator<Item = &Finding> {
        self.scan
            .findings
            .iter()
            .filter(|f| f.rule != "pickle-trailing-data")
    }
}

/// Why the findings of a pickle stored as data make it a staged payload: the first malicious finding
/// about what it references or calls, else the first suspicious one (an unknown callable, a computed
/// global or call, a deeper stage). `None` when the stored pickle references nothing questionable.
pub fn staged_detail(findings: &[Finding]) -> Option<String> {
    let relevant = |f: &&Finding| {
        matches!(
            f.rule,
            "pickle-dangerous-callable"
                | "pickle-unknown-callable"
                | "pickle-dynamic-call"
                | "pickle-non-literal-global"
                | "pickle-extension-code"
                | "pickle-global-mutation"
                | "container-staged-pickle"
        )
    };
    findings
        .iter()
        .filter(relevant)
        .find(|f| f.verdict == Verdict::Malicious)
        .or_else(|| findings.iter().find(relevant))
        .map(|f| f.message.clone())
}

/// Reports every embedded pickle of a finished stream: loaded ones by their own findings, the others
/// as staged payloads when something in them is dangerous or unknown.
pub(crate) fn report(embedded: &[Rc<Embedded>], findings: &mut Vec<Finding>) {
    for e in embedded {
        if e.loaded.get() {
            findings.extend(e.loaded_findings().cloned());
        } else if let Some(detail) = e.staged_detail() {
            findings.push(rules::container_staged_pickle::stored_in(
                e.location.clone(),
                e.what,
                &detail,
            ));
        }
    }
}

/// A payload's first bytes and the pickle it held.
pub(crate) type SimulatedPayload = (Vec<u8>, Rc<Embedded>);

/// Whether the bytes at the input's position start a payload worth simulating.
fn starts_like_pickle<R: Read>(input: &mut Input<R>, len: u64) -> Option<bool> {
    if len < MIN_LEN {
        return Some(false);
    }
    let sniff = usize::try_from(len).unwrap_or(SNIFF).min(SNIFF);
    let prefix = input.peek(sniff).ok()?;
    Some(looks_like_pickle(prefix))
}

impl Vm<'_> {
    /// Reads a counted payload of `len` bytes; when it starts like a pickle (and nesting allows),
    /// simulates it while reading it. Returns the payload's first `cap` bytes and, if simulated,
    /// what was found. `fixed` selects the string read semantics (see [`Input::payload`]).
    pub(crate) fn read_payload<R: Read>(
        &mut self,
        input: &mut Input<R>,
        len: u64,
        fixed: bool,
        cap: usize,
        what: &'static str,
    ) -> Result<Option<SimulatedPayload>, Outcome> {
        if self.embed_depth >= MAX_DEPTH || starts_like_pickle(input, len) != Some(true) {
            return Ok(None);
        }
        let legacy_torch = input
            .peek(LEGACY_TORCH_MAGIC.len())
            .is_ok_and(|p| p == LEGACY_TORCH_MAGIC);
        let offset = self.base.offset.unwrap_or(0) + input.pos();
        let location = self.location().member(format!("<{what} at byte {offset}>"));
        let opts = StreamOptions {
            max_pickles: legacy_torch.then_some(LEGACY_TORCH_PICKLES),
            require_pickle_start: true,
        };
        let mut payload = input
            .payload(len, fixed, cap)
            .map_err(|e| crate::vm::read_failure(e, None))?;
        let reader: &mut dyn Read = &mut payload;
        let scan = crate::scan_nested(
            reader,
            &location,
            self.policy,
            self.limits,
            &opts,
            self.embed_depth + 1,
        );
        let captured = payload
            .finish()
            .map_err(|e| crate::vm::read_failure(e, None))?;
        let embedded = Rc::new(Embedded {
            what,
            location,
            legacy_torch,
            scan,
            loaded: Cell::new(false),
        });
        self.embedded.push(embedded.clone());
        Ok(Some((captured, embedded)))
    }

    /// `torch.storage._load_from_bytes(b)` runs `torch.load(io.BytesIO(b), weights_only=False)`:
    /// judged by the legacy torch file `b` holds. Returns true when the call was judged (the file
    /// was fully simulated and its findings now count as the pickle's own).
    pub(crate) fn judge_bytes_loader(
        &mut self,
        reference: u32,
        args: &[Value],
        arity: usize,
    ) -> bool {
        let (1, Some(Value::Bytes(blob))) = (arity, args.first()) else {
            return false;
        };
        let Some(embedded) = blob_embedded(blob) else {
            return false;
        };
        if !embedded.is_complete_legacy_torch_file() {
            return false;
        }
        embedded.loaded.set(true);
        let dangerous = embedded.dangerous();
        if dangerous.is_empty() {
            return true;
        }
        // Still denied, now for what it loads.
        if let Some(r) = self.references.get_mut(reference as usize)
            && let crate::Classification::Denied { reason, .. } = &mut r.classification
        {
            *reason = format!(
                "loads an embedded legacy torch file with torch.load(weights_only=False) that references {}",
                dangerous.join(", ")
            );
        }
        false
    }
}

fn blob_embedded(blob: &Rc<Blob>) -> Option<&Rc<Embedded>> {
    blob.embedded.as_ref()
}
