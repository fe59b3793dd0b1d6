//! End-to-end tests of container hardening: special files on the command line and in
//! directories, archive path escapes, sparse and special tar members, joblib side files, zip
//! bombs and expansion budgets.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{artifact, findings_for, json_report, mkfifo, mlvet_within};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_fifo_given_on_the_command_line_is_an_error_not_a_hang() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("model.pkl");
    mkfifo(&fifo);
    let link = dir.path().join("link.pkl");
    std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
    for input in [&fifo, &link] {
        let shown = input.to_string_lossy();
        let out = mlvet_within(
            data.path(),
            &["scan", "--format", "json", &shown],
            Duration::from_secs(20),
        );
        assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
        let report = json_report(&out);
        let errors = report["errors"].as_array().expect("errors");
        assert!(
            errors.iter().any(|e| e["path"] == *shown
                && e["message"].as_str().is_some_and(|m| m.contains("FIFO"))),
            "{report:#}"
        );
    }
}

#[test]
fn a_character_device_given_on_the_command_line_is_an_error() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = mlvet_within(
        data.path(),
        &["scan", "--format", "json", "/dev/zero"],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    assert!(json_report(&out).to_string().contains("device"));
}

#[test]
fn fifos_inside_a_scanned_directory_are_never_opened() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    mkfifo(&dir.path().join("weights.pt"));
    std::os::unix::fs::symlink(dir.path().join("weights.pt"), dir.path().join("alias.pkl"))
        .expect("symlink");
    std::fs::write(dir.path().join("plain.pkl"), b"\x80\x04K\x01.").expect("write");
    let shown = dir.path().to_string_lossy().into_owned();
    let out = mlvet_within(
        data.path(),
        &["scan", "--format", "json", &shown],
        Duration::from_secs(20),
    );
    let report = json_report(&out);
    let plain = format!("{shown}/plain.pkl");
    assert_eq!(artifact(&report, &plain)["verdict"], "safe", "{report:#}");
    assert_eq!(
        report["artifacts"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    assert!(findings_for(&report, &format!("{shown}/weights.pt")).is_empty());
}

const FIXTURES: &str = "tests/fixtures/containers";

/// Scans `args` (relative to the repository root) with `--no-deps`, as JSON, within 60 s.
fn scan_json(args: &[&str]) -> (Output, serde_json::Value) {
    let data = tempfile::tempdir().expect("tempdir");
    let mut full = vec![
        "scan",
        "--no-deps",
        "--format",
        "json",
        "--fail-on",
        "never",
    ];
    full.extend_from_slice(args);
    let out = mlvet_within(data.path(), &full, Duration::from_secs(60));
    let report = json_report(&out);
    (out, report)
}

fn rules_of(findings: &[&serde_json::Value]) -> Vec<String> {
    findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn with_rule<'a>(findings: &[&'a serde_json::Value], rule: &str) -> Vec<&'a serde_json::Value> {
    findings
        .iter()
        .copied()
        .filter(|f| f["rule"] == rule)
        .collect()
}

#[test]
fn a_payload_in_a_sparse_tar_member_is_read_expanded_and_malicious() {
    // Old GNU `S` (GNU tar), PAX 0.0 (GNU tar), PAX 0.1 and 1.0 (tarfile): tarfile.extractfile
    // returns the expanded bytes, and legacy torch.load unpickles `pickle` from them.
    for name in ["gnu", "pax00", "pax01", "pax10"] {
        let path = format!("{FIXTURES}/tar/torch-sparse-{name}.tar");
        let (_, report) = scan_json(&[&path]);
        let art = artifact(&report, &path);
        assert_eq!(art["verdict"], "malicious", "{name}: {report:#}");
        assert_eq!(art["format"], "pytorch-tar", "{name}");
        let findings = findings_for(&report, &path);
        let payload = with_rule(&findings, "pickle-dangerous-callable");
        assert!(
            payload
                .iter()
                .any(|f| f["members"][0] == "pickle" && f.to_string().contains("posix.system")),
            "{name}: {report:#}"
        );
    }
}

#[test]
fn tar_links_devices_fifos_and_unknown_types_never_vanish() {
    let path = format!("{FIXTURES}/tar/special-members.tar");
    let (_, report) = scan_json(&[&path]);
    let findings = findings_for(&report, &path);
    let special = with_rule(&findings, "container-tar-special-member");
    let text = serde_json::to_string(&special).expect("json");
    for needle in [
        "`disk` is a device node",
        "`queue` is a FIFO",
        "`config-copy.json` is a hard link",
    ] {
        assert!(text.contains(needle), "{needle}: {report:#}");
    }
    // A hard link to a member scanned before it hides nothing; the device and FIFO are reported.
    assert_eq!(artifact(&report, &path)["verdict"], "suspicious");

    // Unknown type flag: tarfile reads it as a regular file, so its payload counts.
    let path = format!("{FIXTURES}/tar/unknown-type-payload.tar");
    let (_, report) = scan_json(&[&path]);
    assert_eq!(
        artifact(&report, &path)["verdict"],
        "malicious",
        "{report:#}"
    );
    let findings = findings_for(&report, &path);
    assert!(rules_of(&findings).contains(&"container-tar-special-member".to_string()));

    // `pickle` as a symlink: extractfile follows it to the payload.
    let path = format!("{FIXTURES}/tar/torch-symlink-pickle.tar");
    let (_, report) = scan_json(&[&path]);
    assert_eq!(
        artifact(&report, &path)["verdict"],
        "malicious",
        "{report:#}"
    );
    let findings = findings_for(&report, &path);
    let link = with_rule(&findings, "container-tar-special-member");
    assert!(
        link.iter().any(|f| f["severity"] == "high"),
        "a link named like a torch record is high: {report:#}"
    );
}

#[test]
fn archive_members_that_escape_the_extraction_folder_are_high_findings() {
    for (file, needle, count) in [
        ("escape.nemo", "../../.config/autostart/x.desktop", "1"),
        ("escape.mar", "..\\\\..\\\\startup\\\\evil.bat", "3"),
        ("link-escape.tar", "/root/.ssh", "1"),
    ] {
        let path = format!("{FIXTURES}/escape/{file}");
        let (_, report) = scan_json(&[&path]);
        let findings = findings_for(&report, &path);
        let escapes = with_rule(&findings, "container-archive-path-escape");
        assert_eq!(escapes.len(), 1, "{file}: {report:#}");
        assert_eq!(escapes[0]["severity"], "high");
        let text = escapes[0].to_string();
        assert!(text.contains(needle), "{file}: {text}");
        assert!(
            escapes[0]["evidence"].as_array().is_some_and(|e| e
                .iter()
                .any(|x| x["label"] == "escaping members" && x["value"] == count)),
            "{file}: {text}"
        );
        assert_ne!(artifact(&report, &path)["verdict"], "safe");
    }
}

fn side_file_dir(name: &str) -> String {
    format!("{FIXTURES}/joblib-side-files/{name}/model.pkl")
}

#[test]
fn old_joblib_side_files_are_named_and_scanned_with_the_pickle() {
    // Written by real joblib 0.9.4: the array is in model.pkl_01.npy (model.pkl_01.npy.z).
    for (dir, side) in [
        ("benign", "model.pkl_01.npy"),
        ("benign-compressed", "model.pkl_01.npy.z"),
    ] {
        let path = side_file_dir(dir);
        let (_, report) = scan_json(&[&path]);
        let art = artifact(&report, &path);
        assert_eq!(art["fully_inspected"], true, "{dir}: {report:#}");
        assert_ne!(art["verdict"], "malicious", "{dir}");
        let findings = findings_for(&report, &path);
        let side_findings = with_rule(&findings, "container-side-file");
        assert_eq!(side_findings.len(), 1, "{dir}: {report:#}");
        assert!(side_findings[0].to_string().contains(side), "{dir}");
    }

    // The side file is a pickle: np.load(allow_pickle=True) runs it.
    for (dir, side) in [
        ("malicious-side-file", "model.pkl_01.npy"),
        ("constructor-name", "weights_side.bin"),
    ] {
        let path = side_file_dir(dir);
        let (out, report) = scan_json(&[&path]);
        assert_eq!(
            artifact(&report, &path)["verdict"],
            "malicious",
            "{dir}: {report:#}"
        );
        let findings = findings_for(&report, &path);
        let payload = with_rule(&findings, "pickle-dangerous-callable");
        let located = format!("<side file {side}>");
        assert!(
            payload.iter().any(|f| f["members"][0] == *located.as_str()),
            "{dir}: the payload is located in the side file: {report:#}"
        );
        let _ = out;
    }
}

#[test]
fn a_missing_or_escaping_side_file_is_never_safe() {
    let path = side_file_dir("missing");
    let (_, report) = scan_json(&[&path]);
    let art = artifact(&report, &path);
    assert_eq!(art["fully_inspected"], false, "{report:#}");
    assert_ne!(art["verdict"], "safe");
    let findings = findings_for(&report, &path);
    let side = with_rule(&findings, "container-side-file");
    assert!(
        side.iter()
            .any(|f| f.to_string().contains("missing next to the pickle"))
    );

    let path = side_file_dir("escape");
    let (_, report) = scan_json(&[&path]);
    let findings = findings_for(&report, &path);
    let side = with_rule(&findings, "container-side-file");
    let text = serde_json::to_string(&side).expect("json");
    assert!(
        text.contains("../outside.npy") && text.contains("/etc/passwd"),
        "{text}"
    );
    assert!(side.iter().all(|f| f["severity"] == "high"), "{text}");
    assert_eq!(artifact(&report, &path)["fully_inspected"], false);
}

// ---- hostile zips, generated at test time ------------------------------------------------------

/// A minimal zip writer: stored entries, optional data descriptors, central directory entries
/// that may point at any local header.
struct ZipBuilder {
    bytes: Vec<u8>,
    central: Vec<u8>,
    count: usize,
}

impl ZipBuilder {
    fn new() -> Self {
        ZipBuilder {
            bytes: Vec::new(),
            central: Vec::new(),
            count: 0,
        }
    }

    /// Writes a stored local entry; returns its offset and CRC.
    fn local(&mut self, name: &str, data: &[u8], descriptor: bool) -> (u32, u32) {
        let offset = self.bytes.len() as u32;
        let crc = crc32(data);
        let flags: u16 = if descriptor { 0x0008 } else { 0 };
        let (crc_field, size_field) = if descriptor {
            (0, 0)
        } else {
            (crc, data.len() as u32)
        };
        self.bytes.extend(0x0403_4b50u32.to_le_bytes());
        self.bytes.extend(20u16.to_le_bytes());
        self.bytes.extend(flags.to_le_bytes());
        self.bytes.extend(0u16.to_le_bytes()); // stored
        self.bytes.extend(0u32.to_le_bytes()); // time, date
        self.bytes.extend(crc_field.to_le_bytes());
        self.bytes.extend(size_field.to_le_bytes());
        self.bytes.extend(size_field.to_le_bytes());
        self.bytes.extend((name.len() as u16).to_le_bytes());
        self.bytes.extend(0u16.to_le_bytes());
        self.bytes.extend(name.as_bytes());
        self.bytes.extend(data);
        if descriptor {
            self.bytes.extend(0x0807_4b50u32.to_le_bytes());
            self.bytes.extend(crc.to_le_bytes());
            self.bytes.extend((data.len() as u32).to_le_bytes());
            self.bytes.extend((data.len() as u32).to_le_bytes());
        }
        (offset, crc)
    }

    fn central(&mut self, name: &str, offset: u32, crc: u32, size: u32, descriptor: bool) {
        let flags: u16 = if descriptor { 0x0008 } else { 0 };
        self.central.extend(0x0201_4b50u32.to_le_bytes());
        self.central.extend(20u16.to_le_bytes());
        self.central.extend(20u16.to_le_bytes());
        self.central.extend(flags.to_le_bytes());
        self.central.extend(0u16.to_le_bytes());
        self.central.extend(0u32.to_le_bytes());
        self.central.extend(crc.to_le_bytes());
        self.central.extend(size.to_le_bytes());
        self.central.extend(size.to_le_bytes());
        self.central.extend((name.len() as u16).to_le_bytes());
        self.central.extend([0u8; 12]); // extra, comment, disk, attrs
        self.central.extend(offset.to_le_bytes());
        self.central.extend(name.as_bytes());
        self.count += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let cd_offset = self.bytes.len() as u32;
        let entries = self.count.min(0xffff) as u16;
        self.bytes.extend(&self.central);
        self.bytes.extend(0x0605_4b50u32.to_le_bytes());
        self.bytes.extend([0u8; 4]);
        self.bytes.extend(entries.to_le_bytes());
        self.bytes.extend(entries.to_le_bytes());
        self.bytes.extend((self.central.len() as u32).to_le_bytes());
        self.bytes.extend(cd_offset.to_le_bytes());
        self.bytes.extend(0u16.to_le_bytes());
        self.bytes
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn overlapping_zip_entries_are_reported_and_inflated_once() {
    // Every central entry points at the same local header of a 4 MiB member: a reader that
    // inflates every entry reads 4 MiB × 4,000 = 16 GB.
    let dir = tempfile::tempdir().expect("tempdir");
    let kernel = vec![0u8; 4 * 1024 * 1024];
    let mut zip = ZipBuilder::new();
    let (offset, crc) = zip.local("w", &kernel, false);
    for _ in 0..4_000 {
        zip.central("w", offset, crc, kernel.len() as u32, false);
    }
    let path = dir.path().join("bomb.zip");
    std::fs::write(&path, zip.finish()).expect("write");
    let shown = path.to_string_lossy().into_owned();
    let started = Instant::now();
    let (_, report) = scan_json(&[&shown]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let art = artifact(&report, &shown);
    assert_ne!(art["verdict"], "safe");
    let findings = findings_for(&report, &shown);
    let anomalies = with_rule(&findings, "container-zip-anomaly");
    assert_eq!(
        anomalies
            .iter()
            .filter(|f| f.to_string().contains("overlap"))
            .count(),
        1,
        "one aggregated overlap finding: {report:#}"
    );
    let limits = with_rule(&findings, "container-resource-limit");
    assert_eq!(
        limits
            .iter()
            .filter(|f| f.to_string().contains("3999 entries overlap"))
            .count(),
        1,
        "one finding for all entries not inflated again: {report:#}"
    );
}

#[test]
fn a_zip_of_many_entries_with_data_descriptors_is_scanned_in_linear_time() {
    // 65,000 entries with data descriptors (about 7 MB): the hidden-header walk used to search
    // the directory once per entry.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut zip = ZipBuilder::new();
    let mut entries = Vec::new();
    for i in 0..65_000 {
        let name = format!("d/{i:05}.txt");
        let (offset, crc) = zip.local(&name, b"text", true);
        entries.push((name, offset, crc));
    }
    for (name, offset, crc) in &entries {
        zip.central(name, *offset, *crc, 4, true);
    }
    let path = dir.path().join("many.zip");
    std::fs::write(&path, zip.finish()).expect("write");
    let shown = path.to_string_lossy().into_owned();
    let started = Instant::now();
    let (_, report) = scan_json(&[&shown]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let art = artifact(&report, &shown);
    assert_eq!(art["verdict"], "safe", "{report:#}");
    assert_eq!(art["fully_inspected"], true);
}

#[test]
fn nested_compressors_share_one_expansion_budget() {
    // bz2(xz(gzip(pickle of two billion NONE/POP opcodes))), 799 bytes: every level is modest
    // against its own input, the whole is a 3-million-fold expansion.
    let path = format!("{FIXTURES}/hostile/nested-compression.pkl.bz2");
    let started = Instant::now();
    let (_, report) = scan_json(&[&path]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let art = artifact(&report, &path);
    assert_eq!(art["fully_inspected"], false, "{report:#}");
    assert_ne!(art["verdict"], "safe");
    let findings = findings_for(&report, &path);
    let limits = with_rule(&findings, "container-resource-limit");
    assert!(
        limits
            .iter()
            .any(|f| f.to_string().contains("expansion budget")),
        "{report:#}"
    );
}
