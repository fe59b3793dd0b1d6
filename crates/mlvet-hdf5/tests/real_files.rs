//! The reader against files written by h5py and Keras (`scripts/gen_keras_fixtures.py`).

use std::path::PathBuf;

use mlvet_hdf5::{Limits, ObjectKind, Value};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/keras")
        .join(name)
}

fn read(name: &str) -> mlvet_hdf5::File {
    let bytes = std::fs::read(fixture(name)).expect("fixture");
    let size = bytes.len() as u64;
    mlvet_hdf5::read(&mut std::io::Cursor::new(bytes), size, &Limits::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn text(file: &mlvet_hdf5::File, path: &str, attr: &str) -> String {
    file.object(path)
        .unwrap_or_else(|| panic!("no object {path}"))
        .attribute(attr)
        .unwrap_or_else(|| panic!("no attribute {attr} on {path}"))
        .as_text()
        .unwrap_or_else(|| panic!("{attr} is not text"))
}

fn check_plain(name: &str, superblock: u8) {
    let file = read(name);
    assert!(file.fully_read(), "{name}: {:?}", file.problems);
    assert_eq!(file.superblock_version, superblock, "{name}");
    assert_eq!(text(&file, "/", "fixed"), "fixed-length bytes");
    assert_eq!(text(&file, "/", "vlen"), "variable-length text \u{e9}");
    let root = file.root();
    assert_eq!(
        root.attribute("count").map(|a| a.value.clone()),
        Some(Value::Integers(vec![-42]))
    );
    assert_eq!(
        root.attribute("ratio").map(|a| a.value.clone()),
        Some(Value::Floats(vec![0.5]))
    );
    assert_eq!(
        root.attribute("names").map(|a| a.texts()),
        Some(vec!["alpha".into(), "beta".into(), "gamma".into()])
    );
    assert_eq!(
        root.attribute("vlen_list").map(|a| a.texts()),
        Some(vec!["one".into(), "two".into(), "three".into()])
    );
    assert_eq!(text(&file, "/weights/nested", "note"), "nested group");
    let kernel = file.object("/weights/kernel").expect("kernel");
    match &kernel.kind {
        ObjectKind::Dataset { datatype, shape } => {
            assert_eq!(shape.as_deref(), Some(&[4u64, 3][..]));
            assert_eq!(
                datatype.as_ref().map(|d| d.describe()).as_deref(),
                Some("float32")
            );
        }
        other => panic!("kernel is {other:?}"),
    }
    assert_eq!(file.datasets().count(), 3, "{name}");
}

#[test]
fn h5py_earliest_format() {
    check_plain("plain_earliest.h5", 0);
}

#[test]
fn h5py_latest_format() {
    check_plain("plain_latest.h5", 3);
}

#[test]
fn dense_attributes_and_links() {
    let file = read("dense_attributes.h5");
    assert!(file.fully_read(), "{:?}", file.problems);
    let root = file.root();
    for i in 0..24 {
        assert_eq!(
            text(&file, "/", &format!("attr_{i:02}")),
            format!("value {i}")
        );
    }
    assert_eq!(
        root.attribute("big")
            .and_then(|a| a.as_text())
            .map(|t| t.len()),
        Some(70_000)
    );
    let members = file
        .objects
        .iter()
        .filter(|o| o.path.starts_with("/many/"))
        .count();
    assert_eq!(members, 40);
}

#[test]
fn old_style_group_with_many_symbol_nodes() {
    let file = read("old_style_many_members.h5");
    assert!(file.fully_read(), "{:?}", file.problems);
    for i in [0usize, 41, 79] {
        let path = format!("/members/g{i:03}");
        let attr = file
            .object(&path)
            .and_then(|o| o.attribute("index"))
            .map(|a| a.value.clone());
        assert_eq!(attr, Some(Value::Integers(vec![i as i128])), "{path}");
    }
    assert_eq!(file.objects.len(), 82);
}

#[test]
fn user_block_before_the_superblock() {
    let file = read("userblock.h5");
    assert!(file.fully_read(), "{:?}", file.problems);
    assert_eq!(file.signature_offset, 512);
    assert_eq!(
        text(&file, "/", "purpose"),
        "user block before the superblock"
    );
    assert!(file.object("/x").is_some());
}

#[test]
fn keras_legacy_h5_config_attributes() {
    for name in ["sequential.h5", "functional.h5", "lambda.h5"] {
        let file = read(name);
        assert!(file.fully_read(), "{name}: {:?}", file.problems);
        let config = text(&file, "/", "model_config");
        assert!(config.starts_with("{\"class_name\""), "{name}: {config}");
        assert!(text(&file, "/", "keras_version").starts_with('3'));
        assert!(file.object("/model_weights").is_some());
    }
    let functional = read("functional.h5");
    assert!(text(&functional, "/", "training_config").contains("Adam"));
}
