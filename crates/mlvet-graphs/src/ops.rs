//! The TensorFlow ops mlvet reports, and which input or attribute names the path they touch.
//! One table serves binary graphs, text graphs and TFLite Flex ops.

/// What a dangerous op does and how its path is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Runs a Python callable registered in the loading process.
    Python,
    /// Touches files or the network; reported even when the path is computed at run time.
    Always(PathFrom),
    /// Touches files, but every exported model uses it with loader-supplied paths (checkpoint
    /// restore, vocabularies, datasets): reported only for a literal path leaving the folder.
    IfLiteralEscapes(PathFrom),
}

/// Where an op's path comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathFrom {
    /// The node's inputs at these positions.
    Inputs(&'static [usize]),
    /// A string attribute.
    Attr(&'static str),
    /// Nothing to resolve (network endpoints, readers fed by queues).
    Nothing,
}

/// The kind of `op`, when mlvet reports it.
pub fn classify(op: &str) -> Option<OpKind> {
    use OpKind::*;
    use PathFrom::*;
    Some(match op {
        "PyFunc" | "PyFuncStateless" | "EagerPyFunc" => Python,
        "ReadFile" | "WriteFile" | "MatchingFiles" => Always(Inputs(&[0])),
        "PrintV2" => Always(Attr("output_stream")),
        "CreateSummaryFileWriter" | "CreateSummaryDbWriter" => Always(Inputs(&[1])),
        "ImmutableConst" => Always(Attr("memory_region_name")),
        "WholeFileReader" | "WholeFileReaderV2" => Always(Nothing),
        "DatasetToTFRecord" | "ExperimentalDatasetToTFRecord" => Always(Inputs(&[1])),
        "SaveDataset" | "SaveDatasetV2" => Always(Inputs(&[1])),
        "SqlDataset" | "ExperimentalSqlDataset" => Always(Inputs(&[1])),
        "LMDBDataset" | "ExperimentalLMDBDataset" | "LMDBReader" => Always(Inputs(&[0])),
        "DecodeProtoV2" | "EncodeProto" => Always(Attr("descriptor_source")),
        "DebugIdentity" | "DebugIdentityV2" | "DebugNanCount" | "DebugNumericSummary" => {
            Always(Attr("debug_urls"))
        }
        "Rpc"
        | "TryRpc"
        | "RpcClient"
        | "RpcServer"
        | "DataServiceDataset"
        | "DataServiceDatasetV2"
        | "DataServiceDatasetV3"
        | "DataServiceDatasetV4" => Always(Nothing),
        "Save" | "SaveSlices" | "SaveV2" | "Restore" | "RestoreSlice" | "RestoreV2" => {
            IfLiteralEscapes(Inputs(&[0]))
        }
        "MergeV2Checkpoints" => IfLiteralEscapes(Inputs(&[0, 1])),
        "InitializeTableFromTextFile" | "InitializeTableFromTextFileV2" => {
            IfLiteralEscapes(Inputs(&[1]))
        }
        "LoadAndRemapMatrix" => IfLiteralEscapes(Inputs(&[0])),
        "GenerateVocabRemapping" => IfLiteralEscapes(Inputs(&[0, 1])),
        "TFRecordDataset"
        | "TFRecordDatasetV2"
        | "TextLineDataset"
        | "FixedLengthRecordDataset"
        | "FixedLengthRecordDatasetV2"
        | "CSVDataset"
        | "CSVDatasetV2"
        | "ExperimentalCSVDataset"
        | "LoadDataset"
        | "SnapshotDataset"
        | "SnapshotDatasetV2" => IfLiteralEscapes(Inputs(&[0])),
        _ => return None,
    })
}

/// Whether an attribute value of a `PathFrom::Attr` op means the op touches the host:
/// `PrintV2` only with a `file://` stream, proto ops only with a file descriptor source,
/// debug ops with any URL.
pub fn attr_touches_host(op: &str, value: &str) -> bool {
    match op {
        "PrintV2" => value.starts_with("file://"),
        "DecodeProtoV2" | "EncodeProto" => !value.is_empty() && value != "local://",
        _ => !value.is_empty(),
    }
}

/// The custom operators TFLite's standard `BuiltinOpResolver` registers itself.
pub const TFLITE_BUILTIN_CUSTOM_OPS: &[&str] =
    &["TFLite_Detection_PostProcess", "Mfcc", "AudioSpectrogram"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_classified() {
        assert_eq!(classify("EagerPyFunc"), Some(OpKind::Python));
        assert!(matches!(classify("ReadFile"), Some(OpKind::Always(_))));
        assert!(matches!(
            classify("SaveV2"),
            Some(OpKind::IfLiteralEscapes(_))
        ));
        assert_eq!(classify("MatMul"), None);
        assert!(attr_touches_host("PrintV2", "file:///tmp/x"));
        assert!(!attr_touches_host("PrintV2", "stderr"));
    }
}
