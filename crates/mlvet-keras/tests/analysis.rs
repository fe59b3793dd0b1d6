//! Config analysis on real and crafted configs, and on arbitrary input.

use mlvet_core::{Location, Verdict};
use mlvet_keras::{ConfigOrigin, Limits, analyze_config, base64_decode, summarize_code};
use mlvet_pickle::Policy;
use proptest::prelude::*;

/// `marshal.dumps((lambda x: x if x is not None else __import__("os").system("echo pwned")).__code__)`
/// as Keras 3.15.1 saved it on CPython 3.11.7 (from `tests/fixtures/keras/lambda_os_system.h5`).
const PY311_LAMBDA: &str = "4wEAAAAAAAAAAAAAAAMAAAATAAAB804AAACXAHwAgQJ8AG4hdAEAAAAAAAAAAAAAZAGmAQAAqwEA\nAAAAAAAAAKABAAAAAAAAAAAAAAAAAAAAAAAAAABkAqYBAACrAQAAAAAAAAAAUwApA07aAm9z+gpl\nY2hvIHB3bmVkKQLaCl9faW1wb3J0X1/aBnN5c3RlbakB2gF4cwEAAAAg+ikvd29yay93dC9oMy9z\nY3JpcHRzL2dlbl9rZXJhc19maXh0dXJlcy5wefoIPGxhbWJkYT76IGtlcmFzX2ZpeHR1cmVzLjxs\nb2NhbHM+LjxsYW1iZGE+sAAAAHMkAAAAgACgAaANmDGYMbU6uGTRM0PUM0PXM0rSM0rIPNEzWNQz\nWIAA8wAAAAA=\n";

fn analyze(json: &str, origin: ConfigOrigin) -> mlvet_keras::Analysis {
    analyze_config(
        json.as_bytes(),
        &Location::file("m.keras").member("config.json"),
        origin,
        &Policy::builtin(),
        &Limits::default(),
    )
}

fn worst(analysis: &mlvet_keras::Analysis) -> Verdict {
    analysis
        .findings
        .iter()
        .map(|f| f.verdict)
        .max()
        .unwrap_or(Verdict::Safe)
}

#[test]
fn marshal_summary_of_real_python_311_code() {
    let raw = base64_decode(PY311_LAMBDA, 1 << 20).expect("base64");
    let summary = summarize_code(&raw).expect("code object");
    assert_eq!(summary.name, "<lambda>");
    assert_eq!(summary.names, ["__import__", "system"]);
    assert!(summary.strings.contains(&"os".to_string()));
    assert!(summary.strings.contains(&"echo pwned".to_string()));
}

#[test]
fn marshal_garbage_is_an_error() {
    assert!(summarize_code(b"").is_err());
    assert!(summarize_code(b"\xe3\x01").is_err());
    assert!(summarize_code(b"N").is_err());
}

#[test]
fn keras3_lambda_naming_os_system_is_malicious() {
    let json = format!(
        r#"{{"class_name": "Sequential", "config": {{"name": "m", "layers": [
            {{"module": "keras.layers", "class_name": "Lambda", "config": {{"name": "l",
              "function": {{"class_name": "__lambda__", "config": {{"code": {code:?}}}}}}}}}]}}}}"#,
        code = PY311_LAMBDA
    );
    let a = analyze(&json, ConfigOrigin::KerasZip);
    assert_eq!(worst(&a), Verdict::Malicious, "{:#?}", a.findings);
    let f = &a.findings[0];
    assert_eq!(f.rule, "keras-lambda-layer");
    assert!(f.message.contains("os.system"), "{}", f.message);
    assert_eq!(
        f.location.members,
        ["config.json", "/config/layers/0/config/function"]
    );
    assert_eq!(
        a.metadata.get("architecture").map(String::as_str),
        Some("Sequential")
    );
}

#[test]
fn legacy_lambda_string_and_list_forms_are_found() {
    for function in [
        format!("{PY311_LAMBDA:?}"),
        format!("[{PY311_LAMBDA:?}, null, null]"),
    ] {
        let json = format!(
            r#"{{"class_name": "Model", "config": {{"layers": [{{"class_name": "Lambda",
                "config": {{"name": "l", "function": {function}, "function_type": "lambda"}}}}]}}}}"#
        );
        let a = analyze(&json, ConfigOrigin::LegacyH5);
        assert_eq!(
            worst(&a),
            Verdict::Malicious,
            "{function}: {:#?}",
            a.findings
        );
        assert!(
            a.findings[0]
                .evidence
                .iter()
                .any(|e| e.value.contains("CVE-2024-3660"))
        );
    }
}

#[test]
fn undecodable_lambda_is_still_suspicious() {
    let json = r#"{"class_name": "Lambda", "config": {"function": {"class_name": "__lambda__", "config": {"code": "!!notbase64"}}}}"#;
    let a = analyze(json, ConfigOrigin::KerasZip);
    assert_eq!(worst(&a), Verdict::Suspicious);
}

#[test]
fn callables_in_nested_places_are_classified() {
    // Wrappers, compile_config, initializers and function objects are all walked.
    let json = r#"{"module": "keras", "class_name": "Sequential", "config": {"layers": [
        {"module": "keras.layers", "class_name": "Bidirectional", "config": {"layer":
            {"module": "keras.layers", "class_name": "LSTM", "config": {"kernel_initializer":
                {"module": "posix", "class_name": "system", "config": {}}}}}}]},
      "compile_config": {"loss": {"module": "builtins", "class_name": "function", "config": "eval"},
                          "metrics": [{"module": "keras.metrics", "class_name": "MeanSquaredError", "config": {}}]}}"#;
    let a = analyze(json, ConfigOrigin::KerasZip);
    let callables: Vec<(String, Verdict)> = a
        .findings
        .iter()
        .filter(|f| f.rule == "keras-untrusted-callable")
        .map(|f| (f.evidence[0].value.clone(), f.verdict))
        .collect();
    assert!(
        callables.contains(&("posix.system".into(), Verdict::Malicious)),
        "{callables:?}"
    );
    assert!(
        callables.contains(&("builtins.eval".into(), Verdict::Malicious)),
        "{callables:?}"
    );
    assert_eq!(callables.len(), 2, "{callables:?}");
}

#[test]
fn keras_classes_are_safe_and_gadgets_are_not() {
    let benign = r#"{"module": "keras", "class_name": "Functional", "config": {"layers": [
        {"module": "keras.layers", "class_name": "Dense", "config": {"activation":
            {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "relu"}}},
        {"module": "keras_hub.src.layers", "class_name": "TransformerEncoder", "config": {}}]}}"#;
    assert!(analyze(benign, ConfigOrigin::KerasZip).findings.is_empty());

    for (module, name) in [
        ("keras.utils", "get_file"),
        ("keras.src.utils.file_utils", "get_file"),
        ("keras.config", "enable_unsafe_deserialization"),
        ("keras.models", "load_model"),
    ] {
        let json = format!(r#"{{"module": "{module}", "class_name": "{name}", "config": {{}}}}"#);
        let a = analyze(&json, ConfigOrigin::KerasZip);
        assert_eq!(
            worst(&a),
            Verdict::Malicious,
            "{module}.{name}: {:#?}",
            a.findings
        );
    }
}

#[test]
fn custom_objects_and_safe_mode_tampering() {
    let json = r#"{"class_name": "Sequential", "config": {"layers": [
        {"module": null, "class_name": "Scale", "registered_name": "acme>Scale", "config": {"safe_mode": false}}]}}"#;
    let a = analyze(json, ConfigOrigin::KerasZip);
    let rules: Vec<&str> = a.findings.iter().map(|f| f.rule).collect();
    assert!(rules.contains(&"keras-custom-object"), "{rules:?}");
    assert!(rules.contains(&"keras-unsafe-deserialization"), "{rules:?}");
    assert_eq!(worst(&a), Verdict::Malicious);
}

#[test]
fn torch_module_wrapper_payload_is_returned_for_scanning() {
    let json = r#"{"class_name": "Sequential", "config": {"layers": [
        {"module": "keras.layers", "class_name": "TorchModuleWrapper", "config": {"name": "t", "module": "UEsDBA=="}}]}}"#;
    let a = analyze(json, ConfigOrigin::KerasZip);
    assert_eq!(a.embedded.len(), 1);
    assert_eq!(a.embedded[0].bytes, b"PK\x03\x04");
    assert_eq!(
        a.embedded[0].location.members,
        ["config.json", "/config/layers/0/config/module"]
    );
    assert_eq!(a.findings[0].rule, "keras-embedded-torch-module");
}

#[test]
fn invalid_and_oversized_configs_are_not_fully_inspected() {
    let a = analyze("{\"class_name\": ", ConfigOrigin::KerasZip);
    assert!(!a.fully_inspected);
    assert_eq!(a.findings[0].rule, "keras-config-malformed");
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let a = analyze(&deep, ConfigOrigin::KerasZip);
    assert!(!a.fully_inspected);
    let limits = Limits {
        max_config_bytes: 10,
        ..Limits::default()
    };
    let a = analyze_config(
        b"{\"a\": 1234567890}",
        &Location::file("x"),
        ConfigOrigin::KerasZip,
        &Policy::builtin(),
        &limits,
    );
    assert!(!a.fully_inspected);
}

#[test]
fn base64_decoding() {
    assert_eq!(
        base64_decode("aGVsbG8=", 100).as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(
        base64_decode("aGVs\nbG8", 100).as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(base64_decode("a$", 100), None);
    assert_eq!(base64_decode("aGVsbG8=", 2), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn arbitrary_config_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = analyze_config(&bytes, &Location::file("x"), ConfigOrigin::KerasZip, &Policy::builtin(), &Limits::default());
    }

    #[test]
    fn arbitrary_marshal_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = summarize_code(&bytes);
    }

    #[test]
    fn mutated_real_marshal_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut raw = base64_decode(PY311_LAMBDA, 1 << 20).unwrap_or_default();
        for (at, value) in edits {
            let len = raw.len();
            raw[at % len] = value;
        }
        let _ = summarize_code(&raw);
    }
}
