//! `mlvet db generations` and `mlvet db diff` through the binary, on the real PyPA records.

mod common;

use std::path::PathBuf;

use common::{json_report, mlvet, repo_root};

fn pypa_vulns() -> PathBuf {
    repo_root().join("../shared/advisories/pypa-advisory-database/vulns")
}

fn ok(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn generations_and_diffs_follow_imports() {
    let data = tempfile::tempdir().expect("data");
    let vulns = pypa_vulns();
    // Before any database: a clear error, not an empty list.
    let none = mlvet(data.path(), &["db", "generations"]);
    assert_ne!(none.status.code(), Some(0));

    ok(&mlvet(
        data.path(),
        &["db", "import", vulns.to_str().expect("utf-8")],
    ));
    // The torch record, withdrawn in a later copy.
    let text = std::fs::read_to_string(vulns.join("torch/PYSEC-2022-43015.yaml")).expect("read");
    let mut record = mlvet_osv_like(&text);
    record["modified"] = "2025-06-01T00:00:00Z".into();
    record["withdrawn"] = "2025-06-01T00:00:00Z".into();
    let records = tempfile::tempdir().expect("records");
    let file = records.path().join("PYSEC-2022-43015.json");
    std::fs::write(&file, record.to_string()).expect("write");
    // The import summary names the generation it recorded.
    let summary = ok(&mlvet(
        data.path(),
        &["db", "import", file.to_str().expect("utf-8")],
    ));
    assert!(summary.contains("advisory generation 2"), "{summary}");
    // Re-importing changes nothing: no third generation.
    let again = ok(&mlvet(
        data.path(),
        &["db", "import", file.to_str().expect("utf-8")],
    ));
    assert!(!again.contains("generation"), "{again}");

    let listed = json_report(&mlvet(data.path(), &["db", "generations", "--json"]));
    let generations = listed["generations"].as_array().expect("array");
    assert_eq!(generations.len(), 2);
    assert_eq!(generations[0]["added"], 2_651);
    assert_eq!(generations[0]["withdrawn"], 10);
    assert_eq!(generations[1]["withdrawn"], 1);
    assert_eq!(generations[1]["kind"], "import");

    let human = ok(&mlvet(data.path(), &["db", "generations"]));
    assert!(human.lines().count() == 3, "{human}");

    // The default diff is the last generation.
    let diff = json_report(&mlvet(data.path(), &["db", "diff", "--format", "json"]));
    assert_eq!(
        (diff["from"].as_u64(), diff["to"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(diff["summary"]["withdrawn"], 1);
    let advisory = &diff["advisories"][0];
    assert_eq!(advisory["id"], "PYSEC-2022-43015");
    assert_eq!(advisory["change"], "withdrawn");
    assert_eq!(advisory["old"]["state"], "current");
    assert_eq!(advisory["new"]["state"], "withdrawn");
    assert_eq!(advisory["old"]["packages"][0]["name"], "torch");
    assert_eq!(diff["packages"][0]["name"], "torch");
    assert_eq!(diff["packages"][0]["withdrawn"][0], "PYSEC-2022-43015");

    let human = ok(&mlvet(data.path(), &["db", "diff", "1", "2"]));
    assert!(human.contains("1 withdrawn"), "{human}");
    assert!(
        human.contains("withdrawn  PYSEC-2022-43015  PyPI/torch"),
        "{human}"
    );

    // From nothing to the first import: every record is new.
    let first = json_report(&mlvet(data.path(), &["db", "diff", "0", "1", "--json"]));
    assert_eq!(first["summary"]["added"], 2_651);

    // A generation that does not exist is an error.
    let bad = mlvet(data.path(), &["db", "diff", "0", "9"]);
    assert_ne!(bad.status.code(), Some(0));
}

/// The YAML record as JSON (the CLI imports either; JSON keeps this test free of a YAML writer).
fn mlvet_osv_like(yaml: &str) -> serde_json::Value {
    serde_json::to_value(mlvet_osv::parse_yaml(yaml).expect("parse")).expect("json")
}
