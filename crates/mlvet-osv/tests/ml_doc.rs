//! `docs/ml-packages.md` is generated from `src/ml.rs`; this test fails when it is stale and
//! rewrites it when run with `MLVET_BLESS=1`.

#[test]
fn ml_packages_doc_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ml-packages.md");
    let expected = mlvet_osv::ml::render_markdown();
    if std::env::var_os("MLVET_BLESS").is_some() {
        std::fs::write(path, &expected).unwrap_or_else(|e| panic!("{path}: {e}"));
        return;
    }
    let actual = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        actual == expected,
        "{path} is stale: run `MLVET_BLESS=1 cargo test -p mlvet-osv --test ml_doc`"
    );
}
