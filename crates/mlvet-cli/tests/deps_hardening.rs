//! Dependency inventory and advisory matching under hostile or unusual input, through the CLI:
//! conda names mapped to PyPI reach the matcher, includes naming FIFOs never block, advisory
//! range evaluation stays fast on huge records, and over-long record fields are refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{json_report, mkfifo, mlvet, mlvet_within, repo_root};

/// The real PyPA advisory database snapshot shared by the workspace.
fn pypa_vulns() -> PathBuf {
    repo_root().join("../shared/advisories/pypa-advisory-database/vulns")
}

/// Imports the named real PyPA records (`package/ID.yaml`) into `data`.
fn import_real_advisories(data: &Path, records: &[&str]) {
    let staging = data.join("staging");
    std::fs::create_dir_all(&staging).expect("staging dir");
    for record in records {
        let source = pypa_vulns().join(record);
        let name = Path::new(record).file_name().expect("record file name");
        std::fs::copy(&source, staging.join(name))
            .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
    }
    let staging_arg = staging.to_str().expect("utf-8 path");
    let out = mlvet(data, &["db", "import", staging_arg]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "db import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn artifact_ending<'a>(report: &'a serde_json::Value, suffix: &str) -> &'a serde_json::Value {
    report["artifacts"]
        .as_array()
        .expect("artifacts array")
        .iter()
        .find(|a| a["path"].as_str().is_some_and(|p| p.ends_with(suffix)))
        .unwrap_or_else(|| panic!("no artifact ending in {suffix} in {report:#}"))
}

fn findings_ending<'a>(report: &'a serde_json::Value, suffix: &str) -> Vec<&'a serde_json::Value> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["path"].as_str().is_some_and(|p| p.ends_with(suffix)))
        .collect()
}

/// The advisory ids reported against package `name` (as written) in a file.
fn advisories_for(report: &serde_json::Value, file: &str, name: &str, rule: &str) -> Vec<String> {
    findings_ending(report, file)
        .into_iter()
        .filter(|f| f["rule"] == rule && f["package"]["name"] == name)
        .filter_map(|f| f["advisory"]["id"].as_str().map(str::to_string))
        .collect()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Real PyPA records for PyPI projects that conda publishes under another name.
const MAPPED_RECORDS: &[&str] = &[
    "torch/PYSEC-2022-43015.yaml",
    "opencv-python/PYSEC-2023-183.yaml",
    "numpy/PYSEC-2018-34.yaml",
    "pyarrow/PYSEC-2023-238.yaml",
    "tensorflow/PYSEC-2019-204.yaml",
];

#[test]
fn conda_names_mapped_to_pypi_match_their_advisories_in_environment_files() {
    let data = tempfile::tempdir().expect("tempdir");
    import_real_advisories(data.path(), MAPPED_RECORDS);
    let project = tempfile::tempdir().expect("tempdir");
    let env = project.path().join("environment.yml");
    std::fs::write(
        &env,
        "name: ml\nchannels:\n  - pytorch\n  - conda-forge\ndependencies:\n  \
         - python=3.10\n  - pytorch::pytorch=1.13.0=py3.10_cpu_0\n  - py-opencv==4.5.1\n  \
         - numpy-base==1.8.0\n  - pyarrow-core==14.0.0\n  - tensorflow-base==1.7.0\n  \
         - pytorch-cpu=1.12\n",
    )
    .expect("write environment.yml");
    let out = mlvet(
        data.path(),
        &[
            "scan",
            path_str(&env),
            "--format",
            "json",
            "--fail-on",
            "medium",
        ],
    );
    let report = json_report(&out);
    assert_eq!(
        artifact_ending(&report, "environment.yml")["verdict"],
        "vulnerable",
        "{report:#}"
    );
    let vulnerable = "dependency-vulnerable";
    for (name, id) in [
        ("pytorch", "PYSEC-2022-43015"),
        ("py-opencv", "PYSEC-2023-183"),
        ("numpy-base", "PYSEC-2018-34"),
        ("pyarrow-core", "PYSEC-2023-238"),
        ("tensorflow-base", "PYSEC-2019-204"),
    ] {
        assert_eq!(
            advisories_for(&report, "environment.yml", name, vulnerable),
            vec![id.to_string()],
            "{name}: {report:#}"
        );
    }
    // A fuzzy conda pin (`=1.12` is `1.12.*`) is evaluated as a range, under the PyPI name too.
    assert_eq!(
        advisories_for(
            &report,
            "environment.yml",
            "pytorch-cpu",
            "dependency-unpinned"
        ),
        vec!["PYSEC-2022-43015".to_string()],
        "{report:#}"
    );
    // These PYSEC records carry no severity: rated medium, so `--fail-on medium` fails the run.
    assert_eq!(out.status.code(), Some(1), "a vulnerable pin fails the run");
}

/// One installed package record as conda writes it into `<prefix>/conda-meta/`.
fn conda_meta_record(name: &str, version: &str, build: &str, site_package: &str) -> String {
    serde_json::json!({
        "build": build,
        "build_number": 0,
        "channel": "https://conda.invalid/pytorch/linux-64",
        "depends": ["python >=3.10,<3.11.0a0", "numpy >=1.21"],
        "extracted_package_dir": format!("/opt/conda/pkgs/{name}-{version}-{build}"),
        "files": [
            format!("lib/python3.10/site-packages/{site_package}/__init__.py"),
        ],
        "fn": format!("{name}-{version}-{build}.tar.bz2"),
        "license": "BSD-3-Clause",
        "name": name,
        "requested_spec": name,
        "subdir": "linux-64",
        "url": format!("https://conda.invalid/pytorch/linux-64/{name}-{version}-{build}.tar.bz2"),
        "version": version,
    })
    .to_string()
}

#[test]
fn installed_conda_packages_mapped_to_pypi_match_their_advisories() {
    let data = tempfile::tempdir().expect("tempdir");
    import_real_advisories(data.path(), MAPPED_RECORDS);
    let prefix = tempfile::tempdir().expect("tempdir");
    let meta = prefix.path().join("conda-meta");
    std::fs::create_dir_all(&meta).expect("conda-meta");
    let installed = [
        (
            "pytorch",
            "1.13.0",
            "py3.10_cpu_0",
            "torch",
            "PYSEC-2022-43015",
        ),
        (
            "py-opencv",
            "4.5.1",
            "py310h1234567_0",
            "cv2",
            "PYSEC-2023-183",
        ),
        (
            "numpy-base",
            "1.8.0",
            "py310h2345678_0",
            "numpy",
            "PYSEC-2018-34",
        ),
        (
            "pyarrow-core",
            "14.0.0",
            "py310h3456789_0",
            "pyarrow",
            "PYSEC-2023-238",
        ),
    ];
    for (name, version, build, site_package, _) in installed {
        std::fs::write(
            meta.join(format!("{name}-{version}-{build}.json")),
            conda_meta_record(name, version, build, site_package),
        )
        .expect("write conda-meta record");
    }
    let out = mlvet(
        data.path(),
        &["scan", path_str(prefix.path()), "--format", "json"],
    );
    let report = json_report(&out);
    for (name, version, build, _, id) in installed {
        let file = format!("conda-meta/{name}-{version}-{build}.json");
        assert_eq!(
            artifact_ending(&report, &file)["verdict"],
            "vulnerable",
            "{report:#}"
        );
        assert_eq!(
            advisories_for(&report, &file, name, "dependency-vulnerable"),
            vec![id.to_string()],
            "{name}: {report:#}"
        );
    }
}

/// The `dependency-include-unresolved` findings of a file, with their messages.
fn unresolved_includes(report: &serde_json::Value, file: &str) -> Vec<String> {
    findings_ending(report, file)
        .into_iter()
        .filter(|f| f["rule"] == "dependency-include-unresolved")
        .map(|f| f["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn includes_naming_a_fifo_are_findings_and_never_block() {
    let data = tempfile::tempdir().expect("tempdir");
    let project = tempfile::tempdir().expect("tempdir");
    mkfifo(&project.path().join("pipe.txt"));
    mkfifo(&project.path().join("constraints-pipe.txt"));
    let requirements = project.path().join("requirements.txt");
    std::fs::write(
        &requirements,
        "-r pipe.txt\n-c constraints-pipe.txt\nrequests==2.31.0\n",
    )
    .expect("write requirements");
    let env = project.path().join("environment.yml");
    std::fs::write(
        &env,
        "dependencies:\n  - python=3.11\n  - pip:\n    - -r pipe.txt\n    - rich==13.7.0\n",
    )
    .expect("write environment.yml");
    for (input, file, includes) in [
        (&requirements, "requirements.txt", 2),
        (&env, "environment.yml", 1),
    ] {
        let out = mlvet_within(
            data.path(),
            &["scan", path_str(input), "--format", "json"],
            Duration::from_secs(60),
        );
        let report = json_report(&out);
        let messages = unresolved_includes(&report, file);
        assert_eq!(messages.len(), includes, "{report:#}");
        assert!(
            messages.iter().all(|m| m.contains("a FIFO")),
            "the reason names the file type: {messages:?}"
        );
        assert_eq!(
            artifact_ending(&report, file)["fully_inspected"],
            false,
            "{report:#}"
        );
    }
}

#[test]
fn a_fifo_beside_installed_metadata_never_blocks() {
    let data = tempfile::tempdir().expect("tempdir");
    let site = tempfile::tempdir().expect("tempdir");
    let dist_info = site.path().join("requests-2.31.0.dist-info");
    std::fs::create_dir_all(&dist_info).expect("dist-info");
    std::fs::write(
        dist_info.join("METADATA"),
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n",
    )
    .expect("write METADATA");
    mkfifo(&dist_info.join("direct_url.json"));
    let out = mlvet_within(
        data.path(),
        &["scan", path_str(site.path()), "--format", "json"],
        Duration::from_secs(60),
    );
    let report = json_report(&out);
    let metadata = artifact_ending(&report, "METADATA");
    assert_eq!(metadata["format"], "dist-info-metadata", "{report:#}");
}

/// An OSV record for `bigpkg` with `ranges` consecutive ranges `[k, k+1)`: every fix but the last
/// is reopened by the next range, so finding the real fix visits every candidate.
fn many_range_record(ranges: usize) -> String {
    let ranges: Vec<serde_json::Value> = (1..=ranges)
        .map(|k| {
            serde_json::json!({
                "type": "ECOSYSTEM",
                "events": [{"introduced": k.to_string()}, {"fixed": (k + 1).to_string()}]
            })
        })
        .collect();
    serde_json::json!({
        "id": "TEST-2026-0001",
        "modified": "2026-01-01T00:00:00Z",
        "summary": "a record with very many ranges",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "bigpkg"}, "ranges": ranges}]
    })
    .to_string()
}

#[test]
fn advisories_with_ten_thousand_ranges_are_matched_quickly() {
    let data = tempfile::tempdir().expect("tempdir");
    let records = data.path().join("records");
    std::fs::create_dir_all(&records).expect("records dir");
    std::fs::write(
        records.join("TEST-2026-0001.json"),
        many_range_record(10_000),
    )
    .expect("write record");
    let import = mlvet_within(
        data.path(),
        &["db", "import", path_str(&records)],
        Duration::from_secs(60),
    );
    assert_eq!(
        import.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let project = tempfile::tempdir().expect("tempdir");
    let pinned = project.path().join("requirements.txt");
    std::fs::write(&pinned, "bigpkg==1.5\n").expect("write requirements");
    let unpinned = project.path().join("requirements-dev.txt");
    std::fs::write(&unpinned, "bigpkg>=1.5\n").expect("write requirements");
    let started = Instant::now();
    let out = mlvet_within(
        data.path(),
        &["scan", path_str(project.path()), "--format", "json"],
        Duration::from_secs(60),
    );
    // Quadratic evaluation took minutes here; the budget is 10 s on a release build.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let report = json_report(&out);
    let pinned_finding = findings_ending(&report, "requirements.txt")
        .into_iter()
        .find(|f| f["rule"] == "dependency-vulnerable")
        .unwrap_or_else(|| panic!("pinned finding: {report:#}"));
    assert_eq!(pinned_finding["advisory"]["fixed"], "10001");
    let unpinned_finding = findings_ending(&report, "requirements-dev.txt")
        .into_iter()
        .find(|f| f["rule"] == "dependency-unpinned")
        .unwrap_or_else(|| panic!("unpinned finding: {report:#}"));
    assert_eq!(unpinned_finding["advisory"]["fixed"], "10001");
}

#[test]
fn over_long_record_fields_are_refused_at_import() {
    let data = tempfile::tempdir().expect("tempdir");
    let records = data.path().join("records");
    std::fs::create_dir_all(&records).expect("records dir");
    let huge_id = format!("GHSA-{}", "x".repeat(100_000));
    let record = |id: &str, name: &str| {
        serde_json::json!({
            "id": id,
            "affected": [{"package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}]
        })
        .to_string()
    };
    std::fs::write(records.join("huge-id.json"), record(&huge_id, "torch")).expect("write");
    std::fs::write(
        records.join("huge-name.json"),
        record("TEST-2026-0002", &"a".repeat(100_000)),
    )
    .expect("write");
    std::fs::write(records.join("fine.json"), record("TEST-2026-0003", "torch")).expect("write");
    let import = mlvet_within(
        data.path(),
        &["db", "import", path_str(&records)],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&import.stderr);
    let stdout = String::from_utf8_lossy(&import.stdout);
    let said = format!("{stdout}{stderr}");
    assert!(
        said.contains("over the 256-byte limit") && said.contains("over the 512-byte limit"),
        "the refusals say why: {said}"
    );
    assert!(
        !said.contains(&"x".repeat(1000)),
        "the huge id is not echoed"
    );
    let project = tempfile::tempdir().expect("tempdir");
    let requirements = project.path().join("requirements.txt");
    std::fs::write(&requirements, "torch==1.0\n").expect("write requirements");
    let out = mlvet(
        data.path(),
        &["scan", path_str(&requirements), "--format", "json"],
    );
    let report = json_report(&out);
    assert_eq!(
        advisories_for(
            &report,
            "requirements.txt",
            "torch",
            "dependency-vulnerable"
        ),
        vec!["TEST-2026-0003".to_string()],
        "{report:#}"
    );
}

#[test]
fn over_long_package_names_and_versions_are_refused_with_a_finding() {
    let data = tempfile::tempdir().expect("tempdir");
    let project = tempfile::tempdir().expect("tempdir");
    let lock = project.path().join("Pipfile.lock");
    let mut packages = serde_json::Map::new();
    packages.insert(
        "a".repeat(1_000_000),
        serde_json::json!({"version": "==1.0"}),
    );
    packages.insert(
        "requests".to_string(),
        // A valid PEP 440 version (5,000 release segments), just far too long to keep.
        serde_json::json!({"version": format!("==1{}", ".0".repeat(5_000))}),
    );
    packages.insert(
        "rich".to_string(),
        serde_json::json!({"version": "==13.7.0"}),
    );
    let document = serde_json::json!({"_meta": {}, "default": packages, "develop": {}});
    std::fs::write(&lock, document.to_string()).expect("write Pipfile.lock");
    let out = mlvet_within(
        data.path(),
        &["scan", path_str(&lock), "--format", "json"],
        Duration::from_secs(60),
    );
    let report = json_report(&out);
    let errors: Vec<String> = findings_ending(&report, "Pipfile.lock")
        .into_iter()
        .filter(|f| f["rule"] == "dependency-parse-error")
        .map(|f| f["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|m| m.contains("name of 1000000 bytes")));
    assert!(errors.iter().any(|m| m.contains("version of 10001 bytes")));
    assert!(errors.iter().all(|m| m.len() < 400), "{errors:?}");
    assert_eq!(
        artifact_ending(&report, "Pipfile.lock")["fully_inspected"],
        false
    );
}

/// Peak resident memory of a running process (Linux `VmHWM`), in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Runs `mlvet ARGS` like [`mlvet_within`], also sampling its peak memory while it runs (a lower
/// bound of the true peak, `None` where `/proc` is not available).
fn mlvet_measured(data_dir: &Path, args: &[&str], limit: Duration) -> (Output, Option<u64>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlvet"))
        .args(args)
        .current_dir(repo_root())
        .env("MLVET_DATA_DIR", data_dir)
        .env("NO_COLOR", "1")
        .env_remove("MLVET_OSV_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run mlvet");
    // Drain stdout concurrently so a large report cannot block the child on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut bytes).map(|_| bytes)
    });
    let started = Instant::now();
    let mut peak = None;
    let status = loop {
        if let Some(rss) = peak_rss(child.id()) {
            peak = peak.max(Some(rss));
        }
        if let Some(status) = child.try_wait().expect("poll mlvet") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mlvet {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = reader.join().expect("reader").expect("read stdout");
    let output = Output {
        status,
        stdout,
        stderr: Vec::new(),
    };
    (output, peak)
}

/// How a generated inventory is written: header, one entry (by index), footer, lines per entry
/// (TOML: three, JSON: one), and the line of the name within an entry.
type Layout<'a> = (
    &'a str,
    Box<dyn Fn(usize) -> String + 'a>,
    &'a str,
    usize,
    usize,
);

/// A large lockfile or SBOM of `count` packages with `torch 1.13.0` as the last one; returns the
/// text and the line the torch entry is reported on (where its name is).
fn big_inventory(format: &str, count: usize) -> (String, usize) {
    let last = count - 1;
    let name = |i: usize| {
        if i == last {
            "torch".to_string()
        } else {
            format!("pkg{i:07}")
        }
    };
    let version = |i: usize| {
        if i == last {
            "1.13.0".to_string()
        } else {
            format!("{}.{}", i % 50, i % 7)
        }
    };
    let (header, entry, footer, entry_lines, name_offset): Layout<'_> = match format {
        "Pipfile.lock" => (
            "{\"_meta\": {\"sources\": []},\n\"default\": {\n",
            Box::new(|i| format!("\"{}\": {{\"version\": \"=={}\"}}", name(i), version(i))),
            "},\n\"develop\": {}}\n",
            1,
            1,
        ),
        "poetry.lock" | "uv.lock" | "pdm.lock" | "pylock.toml" => {
            let key = if format == "pylock.toml" {
                "packages"
            } else {
                "package"
            };
            (
                "lock-version = \"1.0\"\n",
                Box::new(move |i| {
                    format!(
                        "[[{key}]]\nname = \"{}\"\nversion = \"{}\"",
                        name(i),
                        version(i)
                    )
                }),
                "",
                3,
                2,
            )
        }
        "bom.cdx.json" => (
            "{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.5\", \"components\": [\n",
            Box::new(|i| {
                format!(
                    "{{\"type\": \"library\", \"purl\": \"pkg:pypi/{}@{}\"}}",
                    name(i),
                    version(i)
                )
            }),
            "],\n\"dependencies\": []}\n",
            1,
            1,
        ),
        _ => (
            "{\"spdxVersion\": \"SPDX-2.3\", \"SPDXID\": \"SPDXRef-DOCUMENT\", \"packages\": [\n",
            Box::new(|i| {
                format!(
                    "{{\"name\": \"{}\", \"externalRefs\": [{{\"referenceType\": \"purl\", \"referenceLocator\": \"pkg:pypi/{}@{}\"}}]}}",
                    name(i),
                    name(i),
                    version(i)
                )
            }),
            "],\n\"relationships\": []}\n",
            1,
            1,
        ),
    };
    let is_toml = entry_lines == 3;
    let mut text = String::from(header);
    for i in 0..count {
        text.push_str(&entry(i));
        if !is_toml && i != last {
            text.push(',');
        }
        text.push('\n');
    }
    text.push_str(footer);
    let header_lines = header.matches('\n').count();
    (text, header_lines + last * entry_lines + name_offset)
}

#[test]
fn large_lockfiles_and_sboms_are_read_in_bounded_memory() {
    let data = tempfile::tempdir().expect("tempdir");
    import_real_advisories(data.path(), &["torch/PYSEC-2022-43015.yaml"]);
    let project = tempfile::tempdir().expect("tempdir");
    // Under the 100,000-entry limit, so that the last entry (torch) is inventoried.
    const PACKAGES: usize = 90_000;
    for format in [
        "Pipfile.lock",
        "poetry.lock",
        "uv.lock",
        "pdm.lock",
        "pylock.toml",
        "bom.cdx.json",
        "sbom.spdx.json",
    ] {
        let (text, torch_line) = big_inventory(format, PACKAGES);
        let path = project.path().join(format);
        std::fs::write(&path, &text).expect("write inventory");
        let (out, peak) = mlvet_measured(
            data.path(),
            &["scan", path_str(&path), "--format", "json"],
            Duration::from_secs(120),
        );
        let report = json_report(&out);
        let torch: Vec<&serde_json::Value> = findings_ending(&report, format)
            .into_iter()
            .filter(|f| f["rule"] == "dependency-vulnerable" && f["package"]["name"] == "torch")
            .collect();
        assert_eq!(torch.len(), 1, "{format}: {report:#}");
        assert_eq!(
            torch[0]["package"]["source"]["line"], torch_line,
            "{format}: the last entry keeps its line"
        );
        assert_eq!(
            artifact_ending(&report, format)["fully_inspected"],
            true,
            "{format}"
        );
        // The budget is the input plus 100 MB (a document tree of these files took 3-15 times
        // the input, several hundred MB here), plus the report: since JSON 1.1 it lists every
        // package kept, which is output the user asked for, not parser memory.
        let budget = text.len() as u64 + 100 * 1024 * 1024 + out.stdout.len() as u64;
        if let Some(peak) = peak {
            assert!(
                peak < budget,
                "{format}: peak RSS {} MiB over the {} MiB budget",
                peak >> 20,
                budget >> 20
            );
        }
    }
}
