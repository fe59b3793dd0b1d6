//! Containers built in-test, each read the way its loader reads it.

use std::io::{Cursor, Write};
use std::time::Instant;

use mlvet_core::Verdict;
use mlvet_formats::{ScanOptions, scan_bytes, scan_file};

/// `posix.system('id')`, protocol 2.
const EVIL: &[u8] = b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.";
/// Protocol 0, no header: `os.system('id')`.
const EVIL_P0: &[u8] = b"cos\nsystem\n(S'id'\ntR.";
/// `[1, 2]`, protocol 2.
const BENIGN: &[u8] = b"\x80\x02]q\x00(K\x01K\x02e.";

fn opts() -> ScanOptions {
    ScanOptions::default()
}

fn has_rule(report: &mlvet_core::ArtifactReport, rule: &str) -> bool {
    report.findings.iter().any(|f| f.rule == rule)
}

fn zip_with(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, data) in members {
            zip.start_file(*name, options).expect("start");
            zip.write_all(data).expect("write");
        }
        zip.finish().expect("finish");
    }
    out.into_inner()
}

fn patch_all(haystack: &mut [u8], needle: &[u8], with: &[u8]) {
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        if &haystack[i..i + needle.len()] == needle {
            haystack[i..i + with.len()].copy_from_slice(with);
            i += needle.len();
        } else {
            i += 1;
        }
    }
}

#[test]
fn malicious_pickle_in_oddly_named_zip_member() {
    let bytes = zip_with(
        &[("weights/config.txt", EVIL), ("readme.md", b"hello")],
        zip::CompressionMethod::Deflated,
    );
    let report = scan_bytes(&bytes, "model.zip", &opts());
    assert_eq!(report.verdict, Verdict::Malicious, "{report:#?}");
    let finding = report
        .findings
        .iter()
        .find(|f| f.verdict == Verdict::Malicious)
        .expect("malicious finding");
    assert_eq!(
        finding.location.members,
        vec!["weights/config.txt".to_string()]
    );
}

#[test]
fn protocol_zero_member_without_magic_is_scanned() {
    let bytes = zip_with(&[("archive/data", EVIL_P0)], zip::CompressionMethod::Stored);
    assert_eq!(
        scan_bytes(&bytes, "x.zip", &opts()).verdict,
        Verdict::Malicious
    );
}

#[test]
fn torch_zip_is_recognised_and_tensor_storages_are_not_read() {
    // A storage member full of garbage that would fail any pickle parse: it must be skipped.
    let storage = vec![0xffu8; 4096];
    let bytes = zip_with(
        &[
            ("archive/data.pkl", BENIGN),
            ("archive/data/0", &storage),
            ("archive/version", b"3\n"),
        ],
        zip::CompressionMethod::Stored,
    );
    let report = scan_bytes(&bytes, "model.pt", &opts());
    assert_eq!(report.format, "pytorch-zip");
    assert_eq!(report.verdict, Verdict::Safe, "{report:#?}");
}

#[test]
fn crc_corrupted_member_is_still_scanned() {
    let mut bytes = zip_with(
        &[("archive/data.pkl", EVIL)],
        zip::CompressionMethod::Stored,
    );
    patch_all(&mut bytes, b"id\x85R", b"ls\x85R");
    let report = scan_bytes(&bytes, "model.pt", &opts());
    assert_eq!(report.verdict, Verdict::Malicious);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "container-zip-anomaly" && f.message.contains("CRC"))
    );
}

#[test]
fn encryption_flag_on_plain_member_is_read_anyway() {
    let mut bytes = zip_with(
        &[("archive/data.pkl", EVIL)],
        zip::CompressionMethod::Stored,
    );
    // General-purpose flag: local header byte 6, central directory header byte 8.
    bytes[6] |= 0x01;
    let cd = bytes
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    bytes[cd + 8] |= 0x01;
    let report = scan_bytes(&bytes, "model.pt", &opts());
    assert_eq!(report.verdict, Verdict::Malicious, "{report:#?}");
    assert!(has_rule(&report, "container-zip-anomaly"));
}

#[test]
fn truly_encrypted_member_is_suspicious_not_safe() {
    let noise: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
        .collect();
    let mut bytes = zip_with(&[("secret.pkl", &noise)], zip::CompressionMethod::Stored);
    bytes[6] |= 0x01;
    let cd = bytes
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    bytes[cd + 8] |= 0x01;
    let report = scan_bytes(&bytes, "x.zip", &opts());
    assert_eq!(report.verdict, Verdict::Suspicious);
    assert!(!report.fully_inspected);
    assert!(has_rule(&report, "container-uninspectable-member"));
}

#[test]
fn local_and_central_name_mismatch_is_reported_and_scanned() {
    let mut bytes = zip_with(
        &[("archive/data.pkl", EVIL)],
        zip::CompressionMethod::Stored,
    );
    let first = bytes
        .windows(16)
        .position(|w| w == b"archive/data.pkl")
        .expect("local name");
    bytes[first..first + 16].copy_from_slice(b"archive/datap.kl");
    let report = scan_bytes(&bytes, "model.pt", &opts());
    assert_eq!(report.verdict, Verdict::Malicious);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "container-zip-anomaly" && f.message.contains("local header"))
    );
}

#[test]
fn nested_zip_in_tar_gz_in_7z() {
    let inner_zip = zip_with(
        &[("archive/data.pkl", EVIL)],
        zip::CompressionMethod::Deflated,
    );
    let mut tar_bytes = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut tar_bytes);
        let mut header = tar::Header::new_gnu();
        header.set_size(inner_zip.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "models/model.pt", &inner_zip[..])
            .expect("append");
        builder.finish().expect("finish");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar_bytes).expect("gzip");
    let tgz = gz.finish().expect("gzip");
    let mut seven = Cursor::new(Vec::new());
    {
        let mut writer = sevenz_rust2::ArchiveWriter::new(&mut seven).expect("7z writer");
        writer
            .push_archive_entry(
                sevenz_rust2::ArchiveEntry::new_file("bundle.tar.gz"),
                Some(&tgz[..]),
            )
            .expect("7z entry");
        writer.finish().expect("7z finish");
    }
    let report = scan_bytes(seven.get_ref(), "bundle.7z", &opts());
    assert_eq!(report.format, "7z");
    assert_eq!(report.verdict, Verdict::Malicious, "{report:#?}");
    let finding = report
        .findings
        .iter()
        .find(|f| f.verdict == Verdict::Malicious)
        .expect("finding");
    assert_eq!(
        finding.location.members,
        [
            "bundle.tar.gz",
            "<gzip>",
            "models/model.pt",
            "archive/data.pkl"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_reported() {
    let mut bytes = EVIL.to_vec();
    for _ in 0..6 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&bytes).expect("gzip");
        bytes = gz.finish().expect("gzip");
    }
    let report = scan_bytes(&bytes, "deep.gz", &opts());
    assert!(has_rule(&report, "container-nesting-too-deep"));
    assert_ne!(report.verdict, Verdict::Safe);
}

#[test]
fn zip_bomb_ends_as_a_finding() {
    let zeros = vec![0u8; 64 * 1024 * 1024];
    let bytes = zip_with(&[("bomb.bin", &zeros)], zip::CompressionMethod::Deflated);
    assert!(bytes.len() < 1024 * 1024);
    let options = ScanOptions {
        max_member_size: 8 * 1024 * 1024,
        ..ScanOptions::default()
    };
    let report = scan_bytes(&bytes, "bomb.zip", &options);
    assert!(has_rule(&report, "container-resource-limit"), "{report:#?}");
    assert_eq!(report.verdict, Verdict::Suspicious);
}

#[test]
fn gzip_stream_bomb_is_capped_by_ratio() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // One 40 MiB string literal: the simulator streams through all of it.
    gz.write_all(b"\x80\x04X").expect("gzip");
    gz.write_all(&(40u32 * 1024 * 1024).to_le_bytes())
        .expect("gzip");
    let chunk = vec![b'a'; 1024 * 1024];
    for _ in 0..40 {
        gz.write_all(&chunk).expect("gzip");
    }
    gz.write_all(b".").expect("gzip");
    let bytes = gz.finish().expect("gzip");
    let options = ScanOptions {
        max_ratio: 10,
        ..ScanOptions::default()
    };
    let report = scan_bytes(&bytes, "x.pkl.gz", &options);
    assert!(has_rule(&report, "container-resource-limit"), "{report:#?}");
}

fn legacy_torch(main: &[u8]) -> Vec<u8> {
    let mut bytes = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.".to_vec();
    bytes.extend(b"\x80\x02M\xe9\x03."); // protocol version 1001
    bytes.extend(b"\x80\x02}q\x00."); // sys_info
    bytes.extend(main);
    bytes.extend(b"\x80\x02]q\x00X\x01\x00\x00\x000a."); // storage keys ['0']
    bytes
}

#[test]
fn legacy_torch_scans_the_main_pickle_and_never_reads_the_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("legacy.pt");
    let mut head = legacy_torch(EVIL);
    // Storage tail: element count then bytes that are not a pickle.
    head.extend(1u64.to_le_bytes());
    head.extend([0xff; 8]);
    let file = std::fs::File::create(&path).expect("create");
    (&file).write_all(&head).expect("write");
    // A 64 GiB sparse tail: reading it would take minutes.
    file.set_len(64 * 1024 * 1024 * 1024).expect("sparse");
    let started = Instant::now();
    let report = scan_file(&path, "legacy.pt", &opts())
        .expect("scan")
        .expect("model");
    assert!(started.elapsed().as_secs() < 5, "tail must not be read");
    assert_eq!(report.format, "pytorch-legacy");
    assert_eq!(report.verdict, Verdict::Malicious);

    let benign = legacy_torch(BENIGN);
    let report = scan_bytes(&benign, "legacy.pt", &opts());
    assert_eq!(report.verdict, Verdict::Safe, "{report:#?}");
}

fn npy(header: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(body);
    bytes
}

#[test]
fn npy_object_array_pickle_is_scanned() {
    let bytes = npy(
        "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
        EVIL,
    );
    let report = scan_bytes(&bytes, "x.npy", &opts());
    assert_eq!(report.format, "numpy");
    assert_eq!(report.verdict, Verdict::Malicious);
}

#[test]
fn npy_numeric_array_is_safe_and_its_data_unread() {
    let bytes = npy(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
        &[0x63; 16],
    );
    let report = scan_bytes(&bytes, "x.npy", &opts());
    assert_eq!(report.verdict, Verdict::Safe, "{report:#?}");
}

#[test]
fn npy_header_is_parsed_never_evaluated() {
    let bytes = npy(
        "{'descr': __import__('os').system('id'), 'fortran_order': False, 'shape': ()}",
        b"",
    );
    let report = scan_bytes(&bytes, "x.npy", &opts());
    assert!(has_rule(&report, "container-malformed"));
    assert_eq!(report.verdict, Verdict::Suspicious);
}

#[test]
fn npz_of_object_arrays_is_scanned() {
    let member = npy(
        "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
        EVIL,
    );
    let bytes = zip_with(&[("arr_0.npy", &member)], zip::CompressionMethod::Deflated);
    let report = scan_bytes(&bytes, "x.npz", &opts());
    assert_eq!(report.format, "npz");
    assert_eq!(report.verdict, Verdict::Malicious);
}

/// A joblib pickle (protocol 4, framed like joblib writes it) holding one float64 array of 3
/// elements, followed by `tail` opcodes.
fn joblib_file(array_bytes: &[u8], after: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    let s = |frame: &mut Vec<u8>, text: &str| {
        frame.push(0x8c);
        frame.push(text.len() as u8);
        frame.extend(text.as_bytes());
    };
    s(&mut frame, "joblib.numpy_pickle");
    s(&mut frame, "NumpyArrayWrapper");
    frame.extend(b"\x93\x94)\x81\x94}\x94(");
    s(&mut frame, "subclass");
    s(&mut frame, "numpy");
    s(&mut frame, "ndarray");
    frame.extend(b"\x93\x94");
    s(&mut frame, "shape");
    frame.extend(b"K\x03\x85\x94");
    s(&mut frame, "order");
    s(&mut frame, "C");
    s(&mut frame, "dtype");
    s(&mut frame, "numpy");
    s(&mut frame, "dtype");
    frame.extend(b"\x93\x94");
    s(&mut frame, "f8");
    frame.extend(b"\x89\x88\x87\x94R\x94(K\x03");
    s(&mut frame, "<");
    frame.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b");
    s(&mut frame, "allow_mmap");
    frame.push(0x88);
    s(&mut frame, "numpy_array_alignment_bytes");
    frame.extend(b"K\x10u\x94b");
    let mut bytes = b"\x80\x04\x95".to_vec();
    bytes.extend((frame.len() as u64).to_le_bytes());
    bytes.extend(&frame);
    // Padding-length byte, padding, then the raw array.
    bytes.push(3);
    bytes.extend([0xff; 3]);
    bytes.extend(array_bytes);
    bytes.extend(after);
    bytes
}

#[test]
fn joblib_inline_arrays_are_skipped_as_joblib_reads_them() {
    // Array bytes that are not valid opcodes: a plain pickle parser fails on them.
    let bytes = joblib_file(&[0xfe; 24], b".");
    let report = scan_bytes(&bytes, "model.joblib", &opts());
    assert_eq!(report.format, "joblib");
    assert!(report.fully_inspected, "{report:#?}");
    assert_eq!(report.verdict, Verdict::Safe, "{report:#?}");
}

#[test]
fn joblib_payload_after_an_array_is_found_at_its_file_offset() {
    let mut after = b"0".to_vec(); // drop the array
    after.extend(&EVIL[2..]);
    let bytes = joblib_file(&[0u8; 24], &after);
    let report = scan_bytes(&bytes, "model.joblib", &opts());
    assert_eq!(report.verdict, Verdict::Malicious, "{report:#?}");
    let finding = report
        .findings
        .iter()
        .find(|f| f.verdict == Verdict::Malicious)
        .expect("finding");
    let payload_at = bytes
        .windows(6)
        .position(|w| w == b"cposix")
        .expect("payload") as u64;
    let offset = finding.location.offset.expect("offset");
    assert!(
        offset >= payload_at && offset < bytes.len() as u64,
        "offset {offset} vs payload {payload_at}"
    );
}

#[test]
fn joblib_compressed_variants_are_decompressed() {
    let plain = EVIL;
    let mut variants: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(3));
    z.write_all(plain).expect("zlib");
    variants.push(("zlib", z.finish().expect("zlib")));
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(3));
    g.write_all(plain).expect("gzip");
    variants.push(("gzip", g.finish().expect("gzip")));
    let mut b = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(3));
    b.write_all(plain).expect("bz2");
    variants.push(("bz2", b.finish().expect("bz2")));
    let mut x =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(3)).expect("xz");
    x.write_all(plain).expect("xz");
    variants.push(("xz", x.finish().expect("xz")));
    let mut l = lz4_flex::frame::FrameEncoder::new(Vec::new());
    l.write_all(plain).expect("lz4");
    variants.push(("lz4", l.finish().expect("lz4")));
    variants.push(("zstd", zstd::encode_all(plain, 3).expect("zstd")));
    // joblib < 0.9.3: `ZF` + 19-char hex length + zlib.
    let mut zf = format!("ZF{:<19}", format!("{:#x}", plain.len())).into_bytes();
    zf.extend(&variants[0].1);
    variants.push(("joblib-zfile", zf));
    for (name, bytes) in variants {
        let report = scan_bytes(&bytes, "model.joblib", &opts());
        assert_eq!(report.verdict, Verdict::Malicious, "{name}: {report:#?}");
    }
}

#[test]
fn legacy_torch_tar_records_are_walked() {
    let mut storages = b"\x80\x02K\x01.".to_vec();
    storages.extend(b"\x80\x02X\x01\x00\x00\x000X\x03\x00\x00\x00cpuctorch\nFloatStorage\n\x87.");
    storages.extend(2u64.to_le_bytes());
    storages.extend([0xffu8; 8]);
    storages.extend(EVIL); // storage views pickle
    let mut tar_bytes = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut tar_bytes);
        for (name, data) in [
            ("sys_info", BENIGN),
            ("pickle", BENIGN),
            ("storages", &storages[..]),
        ] {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, name, data)
                .expect("append");
        }
        builder.finish().expect("finish");
    }
    let report = scan_bytes(&tar_bytes, "old.pt", &opts());
    assert_eq!(report.format, "pytorch-tar");
    assert_eq!(report.verdict, Verdict::Malicious, "{report:#?}");
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.location.members == vec!["storages".to_string()])
    );
}

#[test]
fn pickle_disguised_as_safetensors_is_flagged() {
    let report = scan_bytes(BENIGN, "model.safetensors", &opts());
    assert!(has_rule(&report, "container-extension-mismatch"));
    assert_eq!(report.verdict, Verdict::Suspicious);
}

#[test]
fn non_models_cost_nothing_and_report_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").expect("write");
    assert!(
        scan_file(&text, "notes.txt", &opts())
            .expect("scan")
            .is_none()
    );
    let pkl = dir.path().join("fake.pkl");
    std::fs::write(&pkl, "hello, not a pickle").expect("write");
    let report = scan_file(&pkl, "fake.pkl", &opts())
        .expect("scan")
        .expect("reported");
    assert_eq!(report.verdict, Verdict::Suspicious);
    let bin = dir.path().join("vocab.bin");
    std::fs::write(&bin, "hello\nworld\n").expect("write");
    let report = scan_file(&bin, "vocab.bin", &opts())
        .expect("scan")
        .expect("reported");
    assert_eq!(report.verdict, Verdict::Safe);
}

#[test]
fn walk_shows_paths_as_the_user_passed_the_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("sub/m.pkl"), BENIGN).expect("write");
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.pkl"), EVIL).expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        outside.path().join("secret.pkl"),
        dir.path().join("link.pkl"),
    )
    .expect("symlink");
    let root = dir.path().to_path_buf();
    let (files, errors) = mlvet_formats::walk(std::slice::from_ref(&root));
    assert!(errors.is_empty());
    let shown: Vec<&str> = files.iter().map(|f| f.display.as_str()).collect();
    assert_eq!(
        shown,
        vec![format!("{}/sub/m.pkl", root.display()).as_str()]
    );
}

#[test]
fn path_configuration_and_ambiguous_names_are_not_reported_as_broken_models() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = dir.path().join("lib/python3.11/site-packages");
    std::fs::create_dir_all(&site).expect("mkdir");
    let pth = site.join("distutils-precedence.pth");
    std::fs::write(&pth, "import os; var = 'SETUPTOOLS_USE_DISTUTILS'\n").expect("write");
    let shown = pth.to_string_lossy().into_owned();
    // Read as a startup-hook file (see `pth-startup-code`), never as a broken PyTorch file.
    let report = scan_file(&pth, &shown, &opts())
        .expect("scan")
        .expect("reported as a .pth file");
    assert_eq!(
        (report.format.as_str(), report.verdict),
        ("pth", Verdict::Safe)
    );

    // A SentencePiece tokenizer (protobuf) is not a pickle: informational at most, never suspicious.
    let tokenizer = dir.path().join("tokenizer.model");
    std::fs::write(&tokenizer, b"\n\x0e\n\x05<unk>\x15\x00\x00\x00\x00\x18\x02").expect("write");
    let report = scan_file(&tokenizer, "tokenizer.model", &opts())
        .expect("scan")
        .expect("reported");
    assert_eq!(report.verdict, Verdict::Safe, "{report:?}");

    // A real pickle payload under those names is still caught.
    let evil = dir.path().join("classifier.sav");
    std::fs::write(&evil, EVIL).expect("write");
    let report = scan_file(&evil, "classifier.sav", &opts())
        .expect("scan")
        .expect("reported");
    assert_eq!(report.verdict, Verdict::Malicious);
}
