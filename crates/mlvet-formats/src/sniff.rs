//! Content sniffing: what a file is, by its magic bytes, never by its name.

/// The smallest prefix [`sniff`] needs to tell every format apart (a tar header is 512 bytes).
pub const SNIFF_LEN: usize = 1024;

/// The serialized magic number a legacy (non-zip) `torch.save` writes as its first pickle:
/// `pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)`.
pub(crate) const TORCH_LEGACY_MAGIC: &[u8] =
    b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e";

/// What a byte stream is, by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// A pickle stream (any protocol); joblib's uncompressed files are pickles too.
    Pickle,
    /// A zip archive (PyTorch checkpoints, TorchScript, `.npz` are refined after reading the
    /// central directory).
    Zip,
    /// Legacy raw PyTorch file (`_use_new_zipfile_serialization=False`).
    TorchLegacy,
    /// Legacy PyTorch tar (`sys_info`, `pickle`, `storages`, `tensors`).
    TorchTar,
    /// NumPy `.npy`.
    Numpy,
    /// safetensors: 8-byte header length, then a JSON object.
    Safetensors,
    /// tar archive.
    Tar,
    /// 7z archive.
    SevenZip,
    Gzip,
    Bzip2,
    Xz,
    /// `.lzma` "alone" format (joblib's `lzma` compressor).
    Lzma,
    Zstd,
    /// LZ4 frame format (joblib's `lz4` compressor).
    Lz4,
    /// zlib stream (joblib's default compressor).
    Zlib,
    /// joblib < 0.9.3 `ZF` compressed pickle.
    JoblibZfile,
    /// HDF5 (legacy Keras `.h5` models, Keras 3 `model.weights.h5`).
    Hdf5,
    /// llama.cpp GGUF (`GGUF` magic).
    Gguf,
    /// A code-free model format validated by `mlvet-modelfiles` (XGBoost, LightGBM).
    ModelFile(mlvet_modelfiles::Kind),
    /// Nothing mlvet analyses.
    NotAModel,
}

impl Format {
    /// Stable kebab-case name, as used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Format::Pickle => "pickle",
            Format::Zip => "zip",
            Format::TorchLegacy => "pytorch-legacy",
            Format::TorchTar => "pytorch-tar",
            Format::Numpy => "numpy",
            Format::Safetensors => "safetensors",
            Format::Tar => "tar",
            Format::SevenZip => "7z",
            Format::Gzip => "gzip",
            Format::Bzip2 => "bz2",
            Format::Xz => "xz",
            Format::Lzma => "lzma",
            Format::Zstd => "zstd",
            Format::Lz4 => "lz4",
            Format::Zlib => "zlib",
            Format::JoblibZfile => "joblib-zfile",
            Format::Hdf5 => "hdf5",
            Format::Gguf => "gguf",
            Format::ModelFile(kind) => kind.name(),
            Format::NotAModel => "not-a-model",
        }
    }

    /// A single compressed stream (decompress, then sniff again).
    pub fn is_compression(self) -> bool {
        matches!(
            self,
            Format::Gzip
                | Format::Bzip2
                | Format::Xz
                | Format::Lzma
                | Format::Zstd
                | Format::Lz4
                | Format::Zlib
                | Format::JoblibZfile
        )
    }
}

/// What the content is, by magic bytes (never by extension). Give at least [`SNIFF_LEN`] bytes
/// when available: tar is recognised by its 512-byte header.
pub fn sniff(prefix: &[u8]) -> Format {
    if prefix.starts_with(b"PK\x03\x04")
        || prefix.starts_with(b"PK\x05\x06")
        || prefix.starts_with(b"PK\x07\x08")
    {
        return Format::Zip;
    }
    if mlvet_hdf5::looks_like_hdf5(prefix) {
        return Format::Hdf5;
    }
    if prefix.starts_with(b"7z\xbc\xaf\x27\x1c") {
        return Format::SevenZip;
    }
    if mlvet_gguf::is_gguf(prefix) {
        return Format::Gguf;
    }
    if prefix.starts_with(b"\x93NUMPY") {
        return Format::Numpy;
    }
    // Before the compressors and pickle: the first byte of a header length can be anything.
    if mlvet_safetensors::looks_like_safetensors(prefix) {
        return Format::Safetensors;
    }
    if prefix.starts_with(b"\x1f\x8b") {
        return Format::Gzip;
    }
    if prefix.starts_with(b"BZh") && prefix.get(3).is_some_and(|b| (b'1'..=b'9').contains(b)) {
        return Format::Bzip2;
    }
    if prefix.starts_with(b"\xfd7zXZ\x00") {
        return Format::Xz;
    }
    if prefix.starts_with(b"\x28\xb5\x2f\xfd") {
        return Format::Zstd;
    }
    if prefix.starts_with(b"\x04\x22\x4d\x18") {
        return Format::Lz4;
    }
    if is_joblib_zfile(prefix) {
        return Format::JoblibZfile;
    }
    if is_zlib_header(prefix) {
        return Format::Zlib;
    }
    if is_lzma_alone(prefix) {
        return Format::Lzma;
    }
    if let Some(first) = tar_first_member(prefix) {
        if TORCH_TAR_MEMBERS.contains(&first.as_str()) {
            return Format::TorchTar;
        }
        return Format::Tar;
    }
    if let Some(kind) = mlvet_modelfiles::sniff(prefix) {
        return Format::ModelFile(kind);
    }
    if prefix.starts_with(TORCH_LEGACY_MAGIC) {
        return Format::TorchLegacy;
    }
    if mlvet_pickle::looks_like_pickle(prefix) {
        return Format::Pickle;
    }
    Format::NotAModel
}

pub(crate) const TORCH_TAR_MEMBERS: [&str; 4] = ["sys_info", "pickle", "storages", "tensors"];

fn is_joblib_zfile(prefix: &[u8]) -> bool {
    // `ZF` + the uncompressed length as 19 characters of `0x...` hex, space padded.
    prefix.starts_with(b"ZF0x")
        && prefix.get(2..21).is_some_and(|hex| {
            hex.iter()
                .all(|b| b.is_ascii_hexdigit() || *b == b'x' || *b == b' ')
        })
}

fn is_zlib_header(prefix: &[u8]) -> bool {
    match (prefix.first(), prefix.get(1)) {
        (Some(&cmf), Some(&flg)) => {
            cmf == 0x78 && (u16::from(cmf) * 256 + u16::from(flg)) % 31 == 0 && flg & 0x20 == 0
        }
        _ => false,
    }
}

fn is_lzma_alone(prefix: &[u8]) -> bool {
    // Properties byte 0x5d (lc=3, lp=0, pb=2, what every encoder uses) and a power-of-two-ish
    // dictionary size; joblib itself only checks `\x5d\x00`.
    let Some(dict) = prefix.get(1..5) else {
        return false;
    };
    let dict = u32::from_le_bytes([dict[0], dict[1], dict[2], dict[3]]);
    prefix.first() == Some(&0x5d) && (4096..=(1 << 30)).contains(&dict)
}

/// The first member name of a tar archive whose header checksum is valid (ustar or v7).
pub(crate) fn tar_first_member(prefix: &[u8]) -> Option<String> {
    let header = prefix.get(..512)?;
    let stored = parse_octal(header.get(148..156)?)?;
    let computed: u64 = header
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if stored != computed || header.first().copied().unwrap_or(0) == 0 {
        return None;
    }
    let name = header.get(..100)?;
    let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
    Some(String::from_utf8_lossy(name.get(..end)?).into_owned())
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let text: Vec<u8> = field
        .iter()
        .copied()
        .filter(|b| *b != 0 && *b != b' ')
        .collect();
    if text.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for b in text {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        value = value.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(value)
}

/// What a file name's extension promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExtensionClass {
    /// Pickle-based model names whose content must be recognised (`.pkl`, `.pt`, `.joblib`...).
    PickleModel,
    /// `.bin`: raw weights, text and pickles all use it.
    AmbiguousBinary,
    /// Formats that cannot carry a pickle; a pickle under such a name is a disguise.
    CodeFree,
    /// Archives and compressed files.
    Archive,
    Other,
}

pub(crate) fn extension_of(display: &str) -> Option<String> {
    let file = display.rsplit(['/', '\\']).next().unwrap_or(display);
    let (_, ext) = file.rsplit_once('.')?;
    if ext.is_empty() || ext.len() > 16 {
        None
    } else {
        Some(ext.to_ascii_lowercase())
    }
}

pub(crate) fn classify_extension(ext: &str) -> ExtensionClass {
    match ext {
        "pkl" | "pickle" | "joblib" | "dill" | "pt" | "pth" | "ckpt" | "npy" | "npz" | "p" => {
            ExtensionClass::PickleModel
        }
        // Also common for non-pickle files: raw weights and data (`.bin`, `.dat`), SentencePiece
        // protobufs (`tokenizer.model`), IDL and SPSS saves (`.sav`).
        "bin" | "dat" | "data" | "model" | "sav" => ExtensionClass::AmbiguousBinary,
        "safetensors" | "json" | "onnx" | "gguf" | "ggml" | "h5" | "hdf5" | "tflite" | "pb"
        | "msgpack" | "txt" | "csv" | "yaml" | "yml" | "md" | "png" | "jpg" | "jpeg" | "gif"
        | "toml" | "xml" => ExtensionClass::CodeFree,
        "zip" | "tar" | "gz" | "tgz" | "bz2" | "xz" | "lzma" | "zst" | "zstd" | "lz4" | "7z"
        | "z" => ExtensionClass::Archive,
        _ => ExtensionClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Format::Zip);
        assert_eq!(sniff(b"7z\xbc\xaf\x27\x1c\x00\x04"), Format::SevenZip);
        assert_eq!(sniff(b"\x93NUMPY\x01\x00"), Format::Numpy);
        assert_eq!(sniff(b"\x1f\x8b\x08\x00"), Format::Gzip);
        assert_eq!(sniff(b"BZh91AY&SY"), Format::Bzip2);
        assert_eq!(sniff(b"\xfd7zXZ\x00\x00"), Format::Xz);
        assert_eq!(sniff(b"\x28\xb5\x2f\xfd\x00"), Format::Zstd);
        assert_eq!(sniff(b"\x04\x22\x4d\x18\x64"), Format::Lz4);
        assert_eq!(sniff(b"\x78\x9c\xcb\x48"), Format::Zlib);
        assert_eq!(sniff(b"ZF0x1c               \x78\x9c"), Format::JoblibZfile);
        assert_eq!(
            sniff(b"\x5d\x00\x00\x80\x00\xff\xff\xff\xff\xff\xff\xff\xff"),
            Format::Lzma
        );
        assert_eq!(sniff(TORCH_LEGACY_MAGIC), Format::TorchLegacy);
        assert_eq!(
            sniff(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00N."),
            Format::Pickle
        );
        assert_eq!(sniff(b"hello world\n"), Format::NotAModel);
        assert_eq!(sniff(b""), Format::NotAModel);
    }

    #[test]
    fn extensions_are_classified_case_insensitively() {
        assert_eq!(extension_of("dir/Model.PKL").as_deref(), Some("pkl"));
        assert_eq!(extension_of("dir.d/noext"), None);
        assert_eq!(classify_extension("safetensors"), ExtensionClass::CodeFree);
        assert_eq!(classify_extension("bin"), ExtensionClass::AmbiguousBinary);
    }
}
