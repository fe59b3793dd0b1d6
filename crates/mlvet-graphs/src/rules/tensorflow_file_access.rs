use mlvet_core::{Finding, Location, RuleMeta, Severity, Verdict};

pub static RULE: RuleMeta = RuleMeta {
    id: "tensorflow-file-access",
    category: "graph",
    summary: "A TensorFlow graph reads or writes files, or reaches the network, through its own ops (`ReadFile`, `WriteFile`, `MatchingFiles`, checkpoint, summary, dataset and RPC ops)",
    default_severity: Severity::High,
    verdict: Verdict::Suspicious,
    docs: r#"
## What it does
Reports the nodes of a TensorFlow graph (frozen `GraphDef`, every SavedModel meta graph and every
function of their libraries) whose op touches the host's files or network when the graph runs,
naming the node, the op and, when the path input is a literal (a string `Const`, through
`Identity` chains), the path:

- always reported: `ReadFile`, `WriteFile`, `MatchingFiles`, `PrintV2` with a `file://`
  `output_stream`, summary writers (`CreateSummaryFileWriter`, `CreateSummaryDbWriter`),
  `ImmutableConst` (memory-maps `memory_region_name`), `WholeFileReader`(`V2`),
  `DatasetToTFRecord`, `SaveDataset`(`V2`), SQL and LMDB datasets, `DecodeProtoV2`/
  `EncodeProto` with a `descriptor_source` file, `DebugIdentity`(`V2`) with `debug_urls`, and
  the network ops `Rpc`, `TryRpc`, `RpcClient`, `DataServiceDataset`(`V2`–`V4`);
- reported only when the path is a literal that leaves the model's folder: the checkpoint ops
  every SavedModel contains (`Save`, `SaveV2`, `SaveSlices`, `Restore`, `RestoreV2`,
  `RestoreSlice`, `MergeV2Checkpoints`), vocabulary and remapping ops
  (`InitializeTableFromTextFile`(`V2`), `LoadAndRemapMatrix`, `GenerateVocabRemapping`), and file
  datasets (`TFRecordDataset`, `TextLineDataset`, `FixedLengthRecordDataset`, `CSVDataset`,
  `LoadDataset`, `SnapshotDataset`). Their normal inputs are placeholders fed by the loader
  (`saver_filename`) or asset paths inside the SavedModel.

The verdict is **malicious** when the path is a literal that is absolute, has a drive letter or
UNC prefix, contains `..`, starts with `~`, or is a `file://`, `gs://`, `s3://`, `hdfs://` or
`http(s)://` URL; otherwise (a relative literal, or a path computed at run time) **suspicious**.

## Why is this bad?
A model is data: serving it should compute tensors, not read `/etc/passwd` into an output,
overwrite `~/.bashrc` with `WriteFile`, list directories with `MatchingFiles`, or call out to
the network. TensorFlow runs these ops with the serving process's rights as soon as the
signature is called (tf.saved_model.load itself runs the restore ops). Peers flag them too
(modelscan: `ReadFile`, `WriteFile` high).

## Example
A `tf.Module` whose serving function calls `tf.io.write_file("/tmp/pwned", x)`: the graph holds
`WriteFile` whose `filename` input is `Const "/tmp/pwned"` (malicious).

## Remediation
Do not serve the model. If you built it, remove the file I/O from the exported functions and pass
data in as tensors.

## References
- modelscan `SavedModelTensorflowOpScan` (`ReadFile`, `WriteFile`)
- ModelAudit TensorFlow SavedModel scanner (dangerous op list)
- <https://github.com/protectai/modelscan/blob/main/modelscan/settings.py>
- <https://www.tensorflow.org/api_docs/python/tf/io/read_file>
"#,
};

/// A finding for one file- or network-touching node. `path` is the literal it uses, if known;
/// `escape` why that literal leaves the model's folder, if it does.
pub fn finding(
    location: Location,
    scope: &str,
    node: &str,
    op: &str,
    path: Option<&str>,
    escape: Option<&str>,
) -> Finding {
    let target = match (path, escape) {
        (Some(p), Some(why)) => format!(" `{p}` ({why})"),
        (Some(p), None) => format!(" `{p}`"),
        (None, _) => " a path computed at run time".to_string(),
    };
    let mut finding = Finding::new(
        &RULE,
        location,
        format!("node `{node}` ({op}) in {scope} accesses{target}"),
    )
    .evidence("node", node)
    .evidence("op", op)
    .evidence("scope", scope);
    if let Some(p) = path {
        finding = finding.evidence("path", p);
    }
    if let Some(why) = escape {
        finding = finding
            .evidence("reason", why)
            .verdict(Verdict::Malicious)
            .severity(Severity::Critical);
    }
    finding
        .remediation("Do not serve the model; graphs should not touch the host's files or network.")
}
