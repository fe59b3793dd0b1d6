use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "hdf5-malformed",
    category: "container",
    summary: "An HDF5 file (Keras .h5 model or weights) is corrupt or uses structures mlvet cannot read",
    default_severity: Severity::Low,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports HDF5 structures mlvet's reader could not read within its bounds: a missing or unknown
superblock, addresses outside the file, truncated object headers, heaps or B-trees, attributes
stored in ways mlvet does not decode (shared messages, huge or compressed dense-storage
objects), cycles and limits. The finding's member names the HDF5 object concerned.

## Why is this bad?
Whatever lives in the unread part (a Keras `model_config` attribute, more groups) was not
inspected, so the file cannot be called safe. `h5py` and Keras would still read a file that
mlvet's parser rejects only if the file is unusual; crafted inconsistencies are how scanner
bypasses are built.

## Remediation
Re-export the model with a current `h5py`/Keras, or prefer the `.keras` or safetensors formats.
"#,
};

pub fn finding(location: Location, what: impl Into<String>) -> Finding {
    let what = what.into();
    Finding::new(&RULE, location, format!("HDF5 not fully readable: {what}"))
        .evidence("problem", what)
}
