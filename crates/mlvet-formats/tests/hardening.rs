//! Resource hardening of the container readers: members streamed instead of buffered, one
//! expansion budget per artefact, bounded work on hostile layouts.

use std::io::{Cursor, Write};

use mlvet_core::Verdict;
use mlvet_formats::{ScanOptions, scan_bytes};

/// `posix.system('id')`, protocol 2.
const EVIL: &[u8] = b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.";

/// A pickle that reads a `literal`-byte BINBYTES8 of zeros, pops it, then calls os.system.
fn long_pickle_then_evil(literal: usize) -> Vec<u8> {
    let mut bytes = b"\x80\x04\x8e".to_vec();
    bytes.extend((literal as u64).to_le_bytes());
    bytes.resize(bytes.len() + literal, 0);
    bytes.push(b'0');
    bytes.extend(&EVIL[2..]);
    bytes
}

fn small_memory_options() -> ScanOptions {
    ScanOptions {
        // Far below the members: only streaming can inspect them.
        max_member_size: 1024 * 1024,
        ..ScanOptions::default()
    }
}

fn has_rule(report: &mlvet_core::ArtifactReport, rule: &str) -> bool {
    report.findings.iter().any(|f| f.rule == rule)
}

#[test]
fn seven_z_members_are_streamed_not_held_in_memory() {
    let big = long_pickle_then_evil(4 * 1024 * 1024);
    let mut seven = Cursor::new(Vec::new());
    {
        let mut writer = sevenz_rust2::ArchiveWriter::new(&mut seven).expect("7z writer");
        for name in ["a.pkl", "b.pkl", "c.pkl"] {
            let data: &[u8] = if name == "c.pkl" {
                &big
            } else {
                b"\x80\x02K\x01."
            };
            writer
                .push_archive_entry(sevenz_rust2::ArchiveEntry::new_file(name), Some(data))
                .expect("7z entry");
        }
        writer.finish().expect("7z finish");
    }
    let report = scan_bytes(seven.get_ref(), "m.7z", &small_memory_options());
    assert_eq!(report.verdict, Verdict::Malicious, "{report:#?}");
    assert!(report.fully_inspected, "{report:#?}");
    let finding = report
        .findings
        .iter()
        .find(|f| f.verdict == Verdict::Malicious)
        .expect("finding");
    assert_eq!(finding.location.members, ["c.pkl"]);
}

#[test]
fn zip_members_are_streamed_not_held_in_memory() {
    let big = long_pickle_then_evil(4 * 1024 * 1024);
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        for method in [
            zip::CompressionMethod::Stored,
            zip::CompressionMethod::Deflated,
        ] {
            let options = zip::write::SimpleFileOptions::default().compression_method(method);
            zip.start_file(format!("{method:?}.pkl"), options)
                .expect("start");
            zip.write_all(&big).expect("write");
        }
        zip.finish().expect("finish");
    }
    let report = scan_bytes(out.get_ref(), "m.zip", &small_memory_options());
    assert_eq!(report.verdict, Verdict::Malicious, "{report:#?}");
    assert!(report.fully_inspected, "{report:#?}");
    let located: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Malicious)
        .filter_map(|f| f.location.members.first().map(String::as_str))
        .collect();
    assert!(
        located.contains(&"Stored.pkl") && located.contains(&"Deflated.pkl"),
        "{located:?}"
    );
}

#[test]
fn nested_compression_levels_draw_on_one_budget() {
    // gzip(gzip(gzip(40 MiB pickle literal))): each level is within its own ratio of 1,000
    // (the floor lets 16 MiB through per level), the artefact is not.
    let mut bytes = long_pickle_then_evil(40 * 1024 * 1024);
    for _ in 0..3 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes).expect("gzip");
        bytes = gz.finish().expect("gzip");
    }
    assert!(bytes.len() < 64 * 1024, "{}", bytes.len());
    let report = scan_bytes(&bytes, "nested.pkl.gz", &ScanOptions::default());
    assert!(!report.fully_inspected);
    assert_ne!(report.verdict, Verdict::Safe);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "container-resource-limit" && f.message.contains("expansion budget")),
        "{report:#?}"
    );
}

#[test]
fn an_artefact_within_its_budget_is_fully_read_through_every_level() {
    let mut bytes = long_pickle_then_evil(2 * 1024 * 1024);
    for _ in 0..3 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes).expect("gzip");
        bytes = gz.finish().expect("gzip");
    }
    let report = scan_bytes(&bytes, "nested.pkl.gz", &ScanOptions::default());
    assert!(report.fully_inspected, "{report:#?}");
    assert_eq!(report.verdict, Verdict::Malicious);
    assert!(!has_rule(&report, "container-resource-limit"));
}

/// One PAX record, `"<len> key=value\n"`, its length counting itself.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

fn tar_with_pax_member(records: &[(&str, &str)], name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut out);
        let pax: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::XHeader);
        header.set_size(pax.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "PaxHeaders/x", &pax[..])
            .expect("pax");
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, data)
            .expect("member");
        builder.finish().expect("finish");
    }
    out
}

#[test]
fn a_sparse_member_expanding_to_a_terabyte_ends_at_the_budget() {
    // Stored: a pickle header opening a 1 TiB BINBYTES8; the map puts nothing else anywhere, so
    // tarfile returns the header then a terabyte of zeros (read by the unpickler).
    let tib: u64 = 1 << 40;
    let mut stored = b"\x80\x04\x8e".to_vec();
    stored.extend(tib.to_le_bytes());
    let map = format!("0,{},{},0", stored.len(), tib);
    let size = (tib + 16).to_string();
    let bytes = tar_with_pax_member(
        &[
            ("GNU.sparse.map", &map),
            ("GNU.sparse.size", &size),
            ("GNU.sparse.name", "model.pkl"),
        ],
        "GNUSparseFile.0/model.pkl",
        &stored,
    );
    let started = std::time::Instant::now();
    let report = scan_bytes(&bytes, "sparse.tar", &ScanOptions::default());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(!report.fully_inspected, "{report:#?}");
    assert!(has_rule(&report, "container-resource-limit"), "{report:#?}");
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.location.members.first().is_none_or(|m| m == "model.pkl")),
        "the member is named as tarfile names it: {report:#?}"
    );
}

#[test]
fn a_pax_sparse_member_holding_a_payload_is_scanned_expanded() {
    // 0.1 map: 4 bytes of data at 0, the rest of the pickle at offset 4096 after a hole. The
    // zeros are inside a BINBYTES literal, as in a real sparse file.
    let mut expanded = b"\x80\x03B".to_vec();
    let literal = 4096 + 4 - 7;
    expanded.extend((literal as u32).to_le_bytes());
    expanded.resize(7 + literal, 0);
    expanded.push(b'0');
    expanded.extend(&EVIL[2..]);
    let data_at = 4096usize;
    let mut stored = expanded[..7].to_vec();
    stored.extend(&expanded[data_at..]);
    let map = format!("0,7,{data_at},{}", expanded.len() - data_at);
    let size = expanded.len().to_string();
    let bytes = tar_with_pax_member(
        &[("GNU.sparse.map", &map), ("GNU.sparse.size", &size)],
        "weights.pkl",
        &stored,
    );
    let report = scan_bytes(&bytes, "sparse.tar", &ScanOptions::default());
    assert_eq!(report.verdict, Verdict::Malicious, "{report:#?}");
    assert!(report.fully_inspected);
}

#[test]
fn nesting_is_bounded_by_a_ceiling_that_fits_a_small_thread_stack() {
    // 40 levels of gzip in gzip, scanned with a configured limit far above the ceiling, on a
    // thread with a 256 KiB stack: the recursion stops at the ceiling with a finding.
    let mut bytes = EVIL.to_vec();
    for _ in 0..40 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).expect("gzip");
        bytes = gz.finish().expect("gzip");
    }
    let report = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let options = ScanOptions {
                max_nesting: 10_000,
                ..ScanOptions::default()
            };
            scan_bytes(&bytes, "deep.gz", &options)
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert!(
        has_rule(&report, "container-nesting-too-deep"),
        "{report:#?}"
    );
    assert_ne!(report.verdict, Verdict::Safe);
}
