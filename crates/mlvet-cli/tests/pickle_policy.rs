//! What callables mean, end to end through the binary: deny-list gaps, resolvers, false alarms on
//! ordinary files and embedded pickles (issue 13). Fixtures: `scripts/gen_policy_fixtures.py`.

mod common;

use common::{artifact, findings_for, json_report, mlvet};

const DIR: &str = "tests/fixtures/policy";

/// Scans one fixture with the default `--fail-on high`; returns exit code, verdict and findings.
fn scan(rel: &str) -> (Option<i32>, String, Vec<serde_json::Value>) {
    let data = tempfile::tempdir().expect("tempdir");
    let path = format!("{DIR}/{rel}");
    let out = mlvet(data.path(), &["scan", &path, "--format", "json"]);
    let report = json_report(&out);
    let verdict = artifact(&report, &path)["verdict"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let findings = findings_for(&report, &path).into_iter().cloned().collect();
    (out.status.code(), verdict, findings)
}

/// The dangerous-callable finding naming `callable`, if any.
fn dangerous<'a>(
    findings: &'a [serde_json::Value],
    callable: &str,
) -> Option<&'a serde_json::Value> {
    findings.iter().find(|f| {
        f["rule"] == "pickle-dangerous-callable"
            && f["message"].as_str().is_some_and(|m| m.contains(callable))
    })
}

fn assert_malicious_naming(rel: &str, callable: &str) {
    let (code, verdict, findings) = scan(rel);
    assert_eq!(verdict, "malicious", "{rel}: {findings:#?}");
    assert_eq!(code, Some(1), "{rel}");
    assert!(
        dangerous(&findings, callable).is_some(),
        "{rel} names {callable}: {findings:#?}"
    );
}

fn assert_safe(rel: &str) {
    let (code, verdict, findings) = scan(rel);
    assert_eq!(verdict, "safe", "{rel}: {findings:#?}");
    assert_eq!(code, Some(0), "{rel}");
    assert!(findings.is_empty(), "{rel}: {findings:#?}");
}

#[test]
fn typing_eval_type_is_malicious() {
    assert_malicious_naming("malicious/typing_eval_type.pkl", "typing._eval_type");
}

#[test]
fn dataclasses_create_fn_is_malicious() {
    assert_malicious_naming(
        "malicious/dataclasses_create_fn.pkl",
        "dataclasses._create_fn",
    );
}

#[test]
fn pyio_fileio_is_malicious() {
    assert_malicious_naming("malicious/pyio_fileio_write.pkl", "_pyio.FileIO");
}

#[test]
fn import_dotted_name_resolving_os_system_is_malicious_and_names_os_system() {
    let rel = "malicious/torch_import_dotted_name_os_system.pkl";
    assert_malicious_naming(rel, "os.system");
    let (_, _, findings) = scan(rel);
    let finding = dangerous(&findings, "os.system").expect("os.system");
    let text = finding.to_string();
    assert!(
        text.contains("echo pwned"),
        "the call's argument is shown: {text}"
    );
    assert!(text.contains("resolver call"), "how it was reached: {text}");
}

#[test]
fn every_resolver_is_folded_the_same_way() {
    assert_malicious_naming("malicious/pkgutil_resolve_name_os_system.pkl", "os.system");
}

#[test]
fn a_stored_partial_of_a_dangerous_callable_stays_malicious() {
    assert_malicious_naming("malicious/functools_partial_os_system_stored.pkl", "system");
}

#[test]
fn a_partial_called_during_the_load_is_a_trampoline() {
    let rel = "malicious/functools_partial_called.pkl";
    assert_malicious_naming(rel, "functools.partial");
    let (_, _, findings) = scan(rel);
    assert!(
        dangerous(&findings, "functools.partial")
            .is_some_and(|f| f.to_string().contains("trampoline"))
    );
}

#[test]
fn a_stored_partial_of_an_allowed_callable_is_safe() {
    assert_safe("safe/functools_partial_stored.pkl");
}

#[test]
fn enum_lookups_and_address_values_are_safe() {
    assert_safe("safe/http_status_and_ipaddress.pkl");
}

#[test]
fn sklearn_bundled_joblib_arrays_are_read_as_joblib() {
    let data = tempfile::tempdir().expect("tempdir");
    let path = format!("{DIR}/safe/sklearn_externals_joblib_arrays.joblib");
    let out = mlvet(data.path(), &["scan", &path, "--format", "json"]);
    let report = json_report(&out);
    let art = artifact(&report, &path);
    assert_eq!(art["verdict"], "safe", "{report:#}");
    assert_eq!(
        art["format"], "joblib",
        "the inline arrays were read as joblib reads them"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn old_names_of_allowed_classes_are_safe() {
    assert_safe("safe/sklearn_datasets_base_bunch.pkl");
    assert_safe("safe/numpy_core_internal_reconstruct.pkl");
}

#[test]
fn a_real_pickled_tensor_is_safe() {
    // pickle.dumps(torch.tensor(...)): torch.storage._load_from_bytes(<legacy torch file>).
    assert_safe("safe/torch_tensor_pickle_dumps.pkl");
}

#[test]
fn load_from_bytes_is_judged_by_the_torch_file_it_loads() {
    let rel = "malicious/torch_load_from_bytes_payload.pkl";
    assert_malicious_naming(rel, "os.system");
    let (_, _, findings) = scan(rel);
    let inner = dangerous(&findings, "os.system").expect("the payload inside");
    let member = inner["member"].as_str().unwrap_or_default();
    assert!(
        member.starts_with("<bytes value at byte"),
        "located in the bytes value: {inner:#}"
    );
    let loader = dangerous(&findings, "_load_from_bytes").expect("the loader stays denied");
    assert!(loader.to_string().contains("os.system"), "{loader:#}");
}

#[test]
fn pickles_stored_as_data_are_staged_payloads_not_executions() {
    for (rel, what) in [
        ("suspicious/staged_bytes_value.pkl", "bytes value"),
        ("suspicious/staged_string_value.pkl", "string value"),
        ("suspicious/staged_joblib_array.joblib", "joblib array data"),
    ] {
        let (code, verdict, findings) = scan(rel);
        assert_eq!(verdict, "suspicious", "{rel}: {findings:#?}");
        assert_eq!(
            code,
            Some(0),
            "{rel}: nothing runs on load, below --fail-on high"
        );
        let staged = findings
            .iter()
            .find(|f| f["rule"] == "container-staged-pickle")
            .unwrap_or_else(|| panic!("{rel}: {findings:#?}"));
        let message = staged["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(what) && message.contains("os.system"),
            "{message}"
        );
        assert!(
            dangerous(&findings, "os.system").is_none(),
            "{rel}: the stored pickle's references are not the file's own"
        );
    }
}

#[test]
fn a_benign_pickle_stored_as_bytes_is_plain_data() {
    assert_safe("safe/benign_pickle_in_bytes_value.pkl");
}
