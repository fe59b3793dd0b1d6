#![no_main]
//! The bounded UBJSON reader and the XGBoost schema check on arbitrary input (crate: mlvet-modelfiles).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = mlvet_modelfiles::ubjson::parse(data) {
        let _ = mlvet_modelfiles::xgboost::validate(&doc);
    }
    let _ = mlvet_modelfiles::xgboost::parse(mlvet_modelfiles::Kind::XgboostJson, data);
});
