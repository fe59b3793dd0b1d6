use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "container-side-file",
    category: "container",
    summary: "Loading the file makes the loader open another file named inside it (old joblib array side files)",
    default_severity: Severity::Medium,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Follows the pre-0.10 joblib format, in which `joblib.dump` stored each NumPy array in a side file
next to the pickle (`model.pkl_01.npy`, or `model.pkl_01.npy.z` when compressed) and pickled a
placeholder naming it: `joblib.numpy_pickle.NDArrayWrapper` or `ZNDArrayWrapper` (also under
scikit-learn's bundled `sklearn.externals.joblib`). On every `BUILD` of such a placeholder,
`joblib.load` (all versions, through `numpy_pickle_compat`) joins the placeholder's `filename`
attribute to the pickle's folder and opens that file: `NDArrayWrapper` with
`np.load(..., allow_pickle=True)`, which unpickles an object array or any file that is not `.npy`;
`ZNDArrayWrapper` as a zlib "Z-file". mlvet follows the same name (set by the constructor arguments
or by the `BUILD` state, as the unpickler would), scans the side file as part of the artefact, and
attaches its findings with a location naming the side file.

- side file present and scanned: informational (old joblib files are legitimate);
- side file missing, unreadable, not a regular file, inside an archive, or a name mlvet cannot
  determine: the artefact is not fully inspected (what the loader would read is unknown);
- a name that is absolute or contains `..`: high, and the file is not opened (`os.path.join` lets
  it reach any file on the machine).

## Why is this bad?
The pickle that is scanned is not all that runs: the payload can sit in a second file that a
scanner looking at one file never reads, and that `joblib.load` unpickles without a warning.

## Example
`model.pkl` holds a harmless dict with one `NDArrayWrapper('model.pkl_01.npy')`; the side file
`model.pkl_01.npy` is a pickle calling `os.system`.

## Remediation
Scan and ship the pickle together with its side files, or re-save the model with a current joblib
(arrays inline). Never load a file whose side-file name points outside its folder.
"#,
};

/// The side file was found and scanned as part of the artefact.
pub fn scanned(location: Location, class: &str, name: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!(
            "joblib {class} makes joblib.load open the side file `{name}` (scanned with this file)"
        ),
    )
    .severity(Severity::Info)
    .verdict(Verdict::Safe)
    .evidence("side file", name)
    .evidence("placeholder", class)
}

/// The side file could not be inspected (missing, unreadable, name unknown...).
pub fn not_inspected(location: Location, class: &str, name: Option<&str>, why: &str) -> Finding {
    let shown = name.unwrap_or("(name not determined)");
    Finding::new(
        &RULE,
        location,
        format!("joblib {class} makes joblib.load open the side file `{shown}`, which was not inspected: {why}"),
    )
    .evidence("side file", shown)
    .evidence("placeholder", class)
    .evidence("reason", why)
    .remediation("Scan the pickle together with its side files.")
}

/// The side-file name leaves the pickle's folder.
pub fn escape(location: Location, class: &str, name: &str, why: &str) -> Finding {
    Finding::new(
        &RULE,
        location,
        format!(
            "joblib {class} makes joblib.load open `{name}` ({why}), outside the pickle's folder"
        ),
    )
    .severity(Severity::High)
    .evidence("side file", name)
    .evidence("placeholder", class)
    .evidence("reason", why)
    .remediation("Do not load the file.")
}
