//! Property tests: every parser of this crate returns (a value or an error) on arbitrary bytes
//! and on mutations of real files made by the real libraries, never panics, and stays bounded.

use mlvet_core::Location;
use mlvet_modelfiles::{Kind, lightgbm, mar, msgpack, nemo, skops, ubjson, xgboost};
use mlvet_pickle::Policy;
use proptest::prelude::*;

const XGB_JSON: &[u8] = include_bytes!("../../../tests/fixtures/modelfiles/xgb_model.json");
const XGB_UBJ: &[u8] = include_bytes!("../../../tests/fixtures/modelfiles/xgb_model.ubj");
const LGB: &[u8] = include_bytes!("../../../tests/fixtures/modelfiles/lgb_model.txt");
const FLAX: &[u8] = include_bytes!("../../../tests/fixtures/modelfiles/flax_model.msgpack");
const XGB_BINARY: &[u8] =
    include_bytes!("../../../tests/fixtures/modelfiles/xgb_binary_logistic.deprecated");

fn mutate(base: &[u8], edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for (at, value) in edits {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] = *value;
        }
    }
    bytes.truncate(bytes.len().saturating_sub(cut % 8));
    bytes
}

fn all_parsers(bytes: &[u8]) {
    let loc = Location::file("p");
    let policy = Policy::builtin();
    let _ = mlvet_modelfiles::sniff(bytes);
    let _ = xgboost::parse(Kind::XgboostJson, bytes);
    let _ = xgboost::parse(Kind::XgboostUbjson, bytes);
    let _ = ubjson::parse(bytes);
    let _ = mlvet_modelfiles::xgboost_binary::parse(bytes);
    let _ = lightgbm::parse(bytes);
    let _ = msgpack::parse_flax(bytes);
    let _ = skops::analyze_schema(bytes, &loc, &policy);
    let _ = mar::analyze(bytes, &[], &loc);
    let _ = nemo::analyze_config(bytes, &loc, &policy);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        all_parsers(&bytes);
    }

    #[test]
    fn mutated_real_models_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in any::<usize>(),
    ) {
        for base in [XGB_JSON, XGB_UBJ, LGB, FLAX, XGB_BINARY] {
            all_parsers(&mutate(base, &edits, cut));
        }
    }

    #[test]
    fn a_validated_ubjson_model_keeps_validating_only_when_unchanged(cut in 1usize..64) {
        // Any truncation of a real model is refused, never accepted as a smaller valid model.
        let short = &XGB_UBJ[..XGB_UBJ.len().saturating_sub(cut)];
        prop_assert!(xgboost::parse(Kind::XgboostUbjson, short).is_err());
        let short = &FLAX[..FLAX.len().saturating_sub(cut).max(1)];
        prop_assert!(msgpack::parse_flax(short).is_err());
        let short = &XGB_BINARY[..XGB_BINARY.len().saturating_sub(cut)];
        prop_assert!(mlvet_modelfiles::xgboost_binary::parse(short).is_err());
    }
}

#[test]
fn the_real_fixtures_validate() {
    let facts = xgboost::parse(Kind::XgboostJson, XGB_JSON).expect("json");
    assert_eq!(facts.trees, 3);
    assert_eq!(facts.objective, "binary:logistic");
    let facts = xgboost::parse(Kind::XgboostUbjson, XGB_UBJ).expect("ubj");
    assert_eq!(facts.trees, 3);
    assert_eq!(mlvet_modelfiles::sniff(XGB_UBJ), Some(Kind::XgboostUbjson));
    assert_eq!(mlvet_modelfiles::sniff(XGB_JSON), Some(Kind::XgboostJson));
    assert_eq!(mlvet_modelfiles::sniff(LGB), Some(Kind::LightGbm));
    let facts = lightgbm::parse(LGB).expect("lightgbm");
    assert_eq!(facts.trees, 3);
    let facts = mlvet_modelfiles::xgboost_binary::parse(XGB_BINARY).expect("binary");
    assert_eq!(facts.trees, 2);
    assert_eq!(facts.version, "2.1");
    assert_eq!(facts.objective, "binary:logistic");
    assert_eq!(
        mlvet_modelfiles::sniff(XGB_BINARY),
        Some(Kind::XgboostBinary)
    );
    let facts = msgpack::parse_flax(FLAX).expect("flax");
    assert_eq!(facts.arrays, 3);
    assert_eq!(facts.parameters, 12 + 3 + 10);
    assert!(facts.dtypes.contains("bfloat16"));
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(xgboost::parse(Kind::XgboostJson, deep_json.as_bytes()).is_err());
    assert!(ubjson::parse("[".repeat(100_000).as_bytes()).is_err());
    assert!(msgpack::parse_flax(&[0x91; 100_000]).is_err());
    let deep_yaml = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let a = nemo::analyze_config(
        deep_yaml.as_bytes(),
        &Location::file("n"),
        &Policy::builtin(),
    );
    assert!(!a.fully_inspected);
}
