//! Files valid as two formats, and executables under model names. Each reading is scanned; the
//! findings of a second reading carry `<as zip>` or `<as pickle>` in their location.

use std::io::{BufReader, Read, SeekFrom};

use mlvet_core::{ArtifactReport, Location, Severity};

use crate::ScanOptions;
use crate::engine::{PickleLoader, ReadSeek, Scan};
use crate::rules::{container_executable_model, container_polyglot};
use crate::sniff::{ExtensionClass, Format, classify_extension, extension_of};

/// What a file that is no model format starts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Other {
    Gguf,
    Png,
    Jpeg,
    Gif,
    /// Actually Portable Executable (llamafile): `MZqFpD='`.
    Ape,
    Pe,
    Elf,
    MachO,
    Script,
}

impl Other {
    fn name(self) -> &'static str {
        match self {
            Other::Gguf => "gguf",
            Other::Png => "png",
            Other::Jpeg => "jpeg",
            Other::Gif => "gif",
            Other::Ape => "llamafile",
            Other::Pe => "pe-executable",
            Other::Elf => "elf-executable",
            Other::MachO => "mach-o-executable",
            Other::Script => "script",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Other::Gguf => "a GGUF model",
            Other::Png => "a PNG image",
            Other::Jpeg => "a JPEG image",
            Other::Gif => "a GIF image",
            Other::Ape => "an Actually Portable Executable (llamafile)",
            Other::Pe => "a Windows PE executable",
            Other::Elf => "an ELF executable",
            Other::MachO => "a Mach-O executable",
            Other::Script => "a script (#!)",
        }
    }

    fn executable(self) -> bool {
        matches!(
            self,
            Other::Ape | Other::Pe | Other::Elf | Other::MachO | Other::Script
        )
    }
}

pub(crate) fn other_kind(prefix: &[u8]) -> Option<Other> {
    let kind = if prefix.starts_with(b"GGUF") {
        Other::Gguf
    } else if prefix.starts_with(b"\x89PNG\r\n\x1a\n") {
        Other::Png
    } else if prefix.starts_with(b"\xff\xd8\xff") {
        Other::Jpeg
    } else if prefix.starts_with(b"GIF87a") || prefix.starts_with(b"GIF89a") {
        Other::Gif
    } else if prefix.starts_with(b"MZqFpD") {
        Other::Ape
    } else if prefix.starts_with(b"MZ") {
        Other::Pe
    } else if prefix.starts_with(b"\x7fELF") {
        Other::Elf
    } else if [
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
    ]
    .iter()
    .any(|magic| prefix.starts_with(*magic))
    {
        Other::MachO
    } else if prefix.starts_with(b"#!") {
        Other::Script
    } else {
        return None;
    };
    Some(kind)
}

/// Whether the file ends with a zip end-of-central-directory record (its comment reaching
/// exactly the end of the file) whose central directory lists entries. `zipfile` also accepts
/// an end record followed by other bytes, but an archive stored as the last member of a tar (its
/// end record followed by tar padding) is not a polyglot worth a finding: only a zip that ends
/// the file is.
fn has_zip_reading(src: &mut dyn ReadSeek, size: u64, opts: &ScanOptions) -> bool {
    const EOCD_LEN: u64 = 22;
    let tail_len = size.min(65_535 + EOCD_LEN);
    let mut tail = Vec::new();
    if src.seek(SeekFrom::Start(size - tail_len)).is_err()
        || Read::take(&mut *src, tail_len)
            .read_to_end(&mut tail)
            .is_err()
    {
        return false;
    }
    let ends_the_file = (0..tail.len().saturating_sub(21)).rev().any(|i| {
        tail.get(i..i + 4) == Some(b"PK\x05\x06")
            && tail
                .get(i + 20..i + 22)
                .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])))
                .is_some_and(|comment| i + 22 + comment == tail.len())
    });
    ends_the_file
        && crate::zipscan::read_directory(src, size, opts.max_entries)
            .is_ok_and(|dir| !dir.entries.is_empty())
}

/// Other readings of a top-level file whose first reading was `primary`.
pub(crate) fn scan_other_readings(
    scan: &mut Scan<'_>,
    src: &mut dyn ReadSeek,
    size: u64,
    prefix: &[u8],
    primary: Format,
    primary_name: &str,
    loc: &Location,
) {
    // Archives hold zips as members (scanned as such); a zip reading of the archive adds nothing.
    let archive = matches!(
        primary,
        Format::Zip | Format::Tar | Format::TorchTar | Format::SevenZip
    );
    if !archive && has_zip_reading(src, size, scan.opts) {
        scan.findings.push(container_polyglot::finding(
            loc.clone(),
            primary_name,
            "a zip archive",
        ));
        crate::zipscan::scan_zip(scan, src, size, &loc.member("<as zip>"), 0);
    }
    if primary == Format::Safetensors && mlvet_pickle::looks_like_pickle(prefix) {
        scan.findings.push(container_polyglot::finding(
            loc.clone(),
            primary_name,
            "a pickle",
        ));
        if src.seek(SeekFrom::Start(0)).is_ok() {
            scan.scan_pickles(
                BufReader::new(src.take(size)),
                &loc.member("<as pickle>"),
                0,
                None,
                PickleLoader::Generic,
            );
        }
    }
}

/// A file of no model format: a report when it is an image, GGUF or executable with a zip
/// inside, or an executable named like a model; `None` otherwise.
pub(crate) fn scan_unmodelled(
    src: &mut dyn ReadSeek,
    display: &str,
    size: u64,
    prefix: &[u8],
    opts: &ScanOptions,
) -> Option<ArtifactReport> {
    let kind = other_kind(prefix)?;
    let ext = extension_of(display);
    let model_named = ext.as_deref().is_some_and(is_model_extension);
    let zip = has_zip_reading(src, size, opts);
    let mut scan = Scan::new(opts, size);
    let loc = Location::file(display);
    if kind.executable() && (model_named || kind == Other::Ape) {
        let (what, severity) = match (kind, ext.as_deref()) {
            (Other::Ape, _) => (
                format!(
                    "{}{}: running it runs native code",
                    kind.describe(),
                    if zip {
                        " with an embedded zip of weights"
                    } else {
                        ""
                    }
                ),
                Severity::Medium,
            ),
            (_, Some("bin")) => (
                format!("`.bin` file that is {}", kind.describe()),
                Severity::Medium,
            ),
            (_, ext) => (
                format!(
                    "`.{}` file that is {}: an executable disguised as a model",
                    ext.unwrap_or(""),
                    kind.describe()
                ),
                Severity::High,
            ),
        };
        scan.findings.push(container_executable_model::finding(
            loc.clone(),
            &what,
            severity,
        ));
    } else if !zip {
        return None;
    }
    if zip {
        if kind != Other::Ape {
            scan.findings.push(container_polyglot::finding(
                loc.clone(),
                kind.describe(),
                "a zip archive",
            ));
        }
        crate::zipscan::scan_zip(&mut scan, src, size, &loc.member("<as zip>"), 0);
    }
    Some(ArtifactReport::new(
        display.to_string(),
        kind.name().to_string(),
        size,
        scan.fully_inspected,
        scan.findings,
    ))
}

/// Names a model loader or a model hub uses for weights.
fn is_model_extension(ext: &str) -> bool {
    matches!(
        classify_extension(ext),
        ExtensionClass::PickleModel | ExtensionClass::AmbiguousBinary
    ) || matches!(
        ext,
        "safetensors"
            | "gguf"
            | "ggml"
            | "onnx"
            | "h5"
            | "hdf5"
            | "keras"
            | "tflite"
            | "pb"
            | "msgpack"
            | "llamafile"
            | "mar"
            | "nemo"
            | "pt2"
    )
}
