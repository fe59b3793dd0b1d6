#![no_main]
//! The LightGBM text model validator on arbitrary input (crate: mlvet-modelfiles).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut model = b"tree\nversion=v4\n".to_vec();
    model.extend_from_slice(data);
    let _ = mlvet_modelfiles::lightgbm::parse(&model);
    let _ = mlvet_modelfiles::lightgbm::parse(data);
});
