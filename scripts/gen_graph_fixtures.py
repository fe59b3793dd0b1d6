#!/usr/bin/env python3
"""Generate the ONNX / TensorFlow / TFLite fixtures in tests/fixtures/graphs/.

Usage:  /tmp/venv-h2/bin/python scripts/gen_graph_fixtures.py [--out DIR]

Made with the REAL libraries, installed from the default package index into a throwaway venv
(`python3 -m venv /tmp/venv-h2 && /tmp/venv-h2/bin/pip install --no-cache-dir tensorflow-cpu onnx
skl2onnx scikit-learn onnxruntime`). Versions used for the committed files:

  onnx 1.23.2, skl2onnx 1.20.0, scikit-learn 1.9.1, onnxruntime 1.32.0 (checks the benign
  models load), tensorflow-cpu 2.21.0 (with keras 3.15.1), protobuf 7.36.2, Python 3.11.7.

Every ONNX file is built with the `onnx.helper` API (or exported by skl2onnx); malicious external
data locations are written through the onnx API on a model first saved by
`onnx.save_model(..., save_as_external_data=True)`. TensorFlow SavedModels are written by
`tf.saved_model.save` / Keras `model.export`, frozen graphs by `convert_variables_to_constants_v2`,
TFLite models by `tf.lite.TFLiteConverter`. Nothing here loads a malicious fixture, and the
"malicious" ones only name `/etc/passwd`, `/tmp/...` or `echo pwned`.

Writes `labels.tsv`: path, expected verdict, rule ids expected (comma separated, `-` for none).
Large inputs for benchmarks are NOT made here (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

LABELS: list[tuple[str, str, str]] = []


def label(path: str, verdict: str, rules: str = "-") -> None:
    LABELS.append((path, verdict, rules))


# ---- ONNX -----------------------------------------------------------------------------------


def mlp(name: str = "mlp") -> onnx.ModelProto:
    rng = np.random.RandomState(0)
    w = numpy_helper.from_array(rng.rand(4, 3).astype(np.float32), "weight")
    b = numpy_helper.from_array(rng.rand(3).astype(np.float32), "bias")
    nodes = [
        helper.make_node("MatMul", ["x", "weight"], ["h"], name="matmul"),
        helper.make_node("Add", ["h", "bias"], ["z"], name="add"),
        helper.make_node("Relu", ["z"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [w, b],
    )
    model = helper.make_model(graph, producer_name="mlvet-fixtures", opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def save_external(model: onnx.ModelProto, folder: str, locations: dict[str, str] | None = None) -> None:
    """Saves with real external data, then (optionally) rewrites tensor locations via the API."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    onnx.save_model(
        model,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="model.onnx.data",
        size_threshold=0,
    )
    if locations:
        loaded = onnx.load(path, load_external_data=False)
        for tensor in onnx.external_data_helper._get_all_tensors(loaded):
            if onnx.external_data_helper.uses_external_data(tensor) and tensor.name in locations:
                for entry in tensor.external_data:
                    if entry.key == "location":
                        entry.value = locations[tensor.name]
        onnx.save_model(loaded, path)
        os.remove(os.path.join(folder, "model.onnx.data"))


def external_constant(location: str) -> onnx.TensorProto:
    """A tensor marked EXTERNAL naming `location` (what a Constant attribute can carry)."""
    t = numpy_helper.from_array(np.zeros(16, np.uint8), "secret")
    onnx.external_data_helper.set_external_data(t, location=location, offset=0, length=16)
    t.ClearField("raw_data")
    return t


def subgraph_model(out: str) -> None:
    """If/Loop/Scan with bodies: an escaping external tensor inside the If's then-branch."""
    then_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["leak"], name="leak_const", value=external_constant("../../../../etc/passwd"))],
        "then_body",
        [],
        [helper.make_tensor_value_info("leak", TensorProto.UINT8, [16])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["zeros"], name="zeros", value=helper.make_tensor("z", TensorProto.UINT8, [16], [0] * 16))],
        "else_body",
        [],
        [helper.make_tensor_value_info("zeros", TensorProto.UINT8, [16])],
    )
    loop_body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"], name="loop_cond"),
            helper.make_node("Identity", ["v_in"], ["v_out"], name="loop_v"),
        ],
        "loop_body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.UINT8, [16]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.UINT8, [16]),
        ],
    )
    scan_body = helper.make_graph(
        [helper.make_node("Identity", ["s_in"], ["s_out"], name="scan_id")],
        "scan_body",
        [helper.make_tensor_value_info("s_in", TensorProto.UINT8, [])],
        [helper.make_tensor_value_info("s_out", TensorProto.UINT8, [])],
    )
    graph = helper.make_graph(
        [
            helper.make_node("If", ["flag"], ["picked"], name="if_0", then_branch=then_graph, else_branch=else_graph),
            helper.make_node("Loop", ["trip", "cond", "picked"], ["looped"], name="loop_0", body=loop_body),
            helper.make_node("Scan", ["picked"], ["scanned"], name="scan_0", body=scan_body, num_scan_inputs=1),
        ],
        "control_flow",
        [
            helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
            helper.make_tensor_value_info("trip", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("scanned", TensorProto.UINT8, [16])],
    )
    model = helper.make_model(graph, producer_name="mlvet-fixtures", opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save_model(model, out)


def custom_model(out: str, domain: str, op: str, *, function: bool = False, function_body_domain: str | None = None) -> None:
    nodes = [helper.make_node(op, ["x"], ["y"], name=f"{op.lower()}_0", domain=domain)]
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)]
    functions = []
    if function:
        body_domain = function_body_domain or ""
        body = [helper.make_node("Exec" if body_domain else "Relu", ["a"], ["b"], name="body_0", domain=body_domain)]
        fn_opsets = [helper.make_opsetid("", 17)]
        if body_domain:
            fn_opsets.append(helper.make_opsetid(body_domain, 1))
            opsets.append(helper.make_opsetid(body_domain, 1))
        functions.append(helper.make_function(domain, op, ["a"], ["b"], body, fn_opsets))
    graph = helper.make_graph(
        nodes,
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, producer_name="mlvet-fixtures", opset_imports=opsets, functions=functions)
    model.ir_version = 9
    onnx.save_model(model, out)


def onnx_fixtures(root: str) -> None:
    d = os.path.join(root, "onnx")
    os.makedirs(d, exist_ok=True)
    model = mlp()
    onnx.save_model(model, os.path.join(d, "mlp.onnx"))
    label("onnx/mlp.onnx", "safe")

    import onnxruntime as ort  # the benign models really load
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    x = np.random.RandomState(0).rand(20, 4).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int64)
    clf = LogisticRegression(random_state=0).fit(x, y)
    sk = to_onnx(clf, x[:1], target_opset={"": 17, "ai.onnx.ml": 3})
    onnx.save_model(sk, os.path.join(d, "skl2onnx_logreg.onnx"))
    ort.InferenceSession(os.path.join(d, "skl2onnx_logreg.onnx"), providers=["CPUExecutionProvider"])
    label("onnx/skl2onnx_logreg.onnx", "safe")

    save_external(mlp(), os.path.join(d, "external_ok"))
    ort.InferenceSession(os.path.join(d, "external_ok", "model.onnx"), providers=["CPUExecutionProvider"])
    label("onnx/external_ok/model.onnx", "safe")
    label("onnx/external_ok/model.onnx.data", "safe")  # raw bytes: the generic `.data` note

    save_external(mlp(), os.path.join(d, "external_traversal"), {"weight": "../../etc/passwd"})
    label("onnx/external_traversal/model.onnx", "malicious", "onnx-external-data-escape,onnx-external-data-missing")
    save_external(mlp(), os.path.join(d, "external_absolute"), {"weight": "/etc/passwd", "bias": "/etc/passwd"})
    label("onnx/external_absolute/model.onnx", "malicious", "onnx-external-data-escape")
    save_external(mlp(), os.path.join(d, "external_nested"), {"weight": "subdir/../../secret.bin", "bias": "C:\\Windows\\win.ini"})
    label("onnx/external_nested/model.onnx", "malicious", "onnx-external-data-escape")
    save_external(mlp(), os.path.join(d, "external_missing"), {"weight": "weights.bin", "bias": "weights.bin"})
    label("onnx/external_missing/model.onnx", "suspicious", "onnx-external-data-missing")

    subgraph_model(os.path.join(d, "control_flow_escape.onnx"))
    label("onnx/control_flow_escape.onnx", "malicious", "onnx-external-data-escape")
    custom_model(os.path.join(d, "custom_domain.onnx"), "com.attacker", "Exec")
    label("onnx/custom_domain.onnx", "suspicious", "onnx-custom-domain")
    custom_model(os.path.join(d, "local_function.onnx"), "local.fn", "MyRelu", function=True)
    label("onnx/local_function.onnx", "safe")
    custom_model(os.path.join(d, "function_custom_body.onnx"), "local.fn", "Wrapper", function=True, function_body_domain="com.attacker")
    label("onnx/function_custom_body.onnx", "suspicious", "onnx-custom-domain")
    custom_model(os.path.join(d, "contrib_pyop.onnx"), "ai.onnx.contrib", "PyReverseString")
    label("onnx/contrib_pyop.onnx", "suspicious", "onnx-custom-domain")
    custom_model(os.path.join(d, "contrib_native.onnx"), "ai.onnx.contrib", "StringUpper")
    label("onnx/contrib_native.onnx", "safe")
    custom_model(os.path.join(d, "ort_contrib.onnx"), "com.microsoft", "FusedGemm")
    label("onnx/ort_contrib.onnx", "safe")

    data = model.SerializeToString()
    with open(os.path.join(d, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) - 7])
    label("onnx/truncated.onnx", "suspicious", "graph-malformed")
    with open(os.path.join(d, "not_really.onnx"), "wb") as f:
        f.write(b"this is not an onnx model\n" * 4)
    label("onnx/not_really.onnx", "suspicious", "graph-malformed")
    # An ONNX model under a name that does not say so: recognised by content.
    loaded = onnx.load(os.path.join(d, "external_absolute", "model.onnx"), load_external_data=False)
    onnx.save_model(loaded, os.path.join(d, "renamed_weights.dat"))
    label("onnx/renamed_weights.dat", "malicious", "onnx-external-data-escape")


# ---- TensorFlow -----------------------------------------------------------------------------


def tf_fixtures(root: str) -> None:
    import tensorflow as tf

    tf.random.set_seed(0)
    d = os.path.join(root, "tensorflow")
    os.makedirs(d, exist_ok=True)

    def save(name: str, fn, signature) -> str:
        module = tf.Module()
        module.f = tf.function(fn, input_signature=signature)
        path = os.path.join(d, name)
        tf.saved_model.save(module, path, signatures={"serving_default": module.f})
        return path

    scalar_str = [tf.TensorSpec([], tf.string)]
    scalar_f = [tf.TensorSpec([None], tf.float32)]

    save("read_file_absolute", lambda: {"out": tf.io.read_file("/etc/passwd")}, [])
    label("tensorflow/read_file_absolute/saved_model.pb", "malicious", "tensorflow-file-access")
    def write_escape(x):
        written = tf.io.write_file("../../tmp/mlvet_pwned", x)
        with tf.control_dependencies([written]):
            return {"out": tf.identity(x)}

    save("write_file_escape", write_escape, scalar_str)
    label("tensorflow/write_file_escape/saved_model.pb", "malicious", "tensorflow-file-access")
    save("read_file_input", lambda p: {"out": tf.io.read_file(p)}, scalar_str)
    label("tensorflow/read_file_input/saved_model.pb", "suspicious", "tensorflow-file-access")
    save("matching_files", lambda: {"out": tf.io.matching_files("/home/*/.ssh/*")}, [])
    label("tensorflow/matching_files/saved_model.pb", "malicious", "tensorflow-file-access")

    def printer(x):
        tf.print(x, output_stream="file:///tmp/mlvet_log.txt")
        return {"out": x}

    save("print_to_file", printer, scalar_f)
    label("tensorflow/print_to_file/saved_model.pb", "malicious", "tensorflow-file-access")

    def echo(x):
        return x

    save("py_function", lambda x: {"out": tf.py_function(echo, [x], tf.float32)}, scalar_f)
    label("tensorflow/py_function/saved_model.pb", "malicious", "tensorflow-python-op")
    save("numpy_function", lambda x: {"out": tf.numpy_function(echo, [x], tf.float32)}, scalar_f)
    label("tensorflow/numpy_function/saved_model.pb", "malicious", "tensorflow-python-op")

    import keras

    keras.utils.set_random_seed(0)
    km = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
    km.export(os.path.join(d, "keras_export"), format="tf_saved_model")
    label("tensorflow/keras_export/saved_model.pb", "safe")
    label("tensorflow/keras_export/fingerprint.pb", "none")

    class Counter(tf.Module):
        def __init__(self):
            self.v = tf.Variable(1.0)

        @tf.function(input_signature=scalar_f)
        def __call__(self, x):
            return {"out": x * self.v}

    counter = Counter()
    tf.saved_model.save(counter, os.path.join(d, "variables_module"))
    label("tensorflow/variables_module/saved_model.pb", "safe")

    # Frozen graphs (GraphDef .pb).
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    concrete = counter.__call__.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)
    with open(os.path.join(d, "frozen_benign.pb"), "wb") as f:
        f.write(frozen.graph.as_graph_def().SerializeToString())
    label("tensorflow/frozen_benign.pb", "safe")

    g = tf.Graph()
    with g.as_default():
        path = tf.constant("/etc/passwd", name="secret_path")
        tf.io.read_file(path, name="leak")
    with open(os.path.join(d, "frozen_read_file.pb"), "wb") as f:
        f.write(g.as_graph_def().SerializeToString())
    label("tensorflow/frozen_read_file.pb", "malicious", "tensorflow-file-access")
    tf.io.write_graph(g.as_graph_def(), d, "graph_read_file.pbtxt", as_text=True)
    label("tensorflow/graph_read_file.pbtxt", "suspicious", "tensorflow-text-graph")

    os.makedirs(os.path.join(d, "truncated"), exist_ok=True)
    with open(os.path.join(d, "read_file_absolute", "saved_model.pb"), "rb") as f:
        data = f.read()
    with open(os.path.join(d, "truncated", "saved_model.pb"), "wb") as f:
        f.write(data[: len(data) // 2])
    label("tensorflow/truncated/saved_model.pb", "suspicious", "graph-malformed")

    # TFLite.
    t = os.path.join(root, "tflite")
    os.makedirs(t, exist_ok=True)

    def convert(fn, signature, name, select=False, custom=False):
        module = tf.Module()
        module.f = tf.function(fn, input_signature=signature)
        conv = tf.lite.TFLiteConverter.from_concrete_functions([module.f.get_concrete_function()], module)
        if select:
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        if custom:
            conv.allow_custom_ops = True
        with open(os.path.join(t, name), "wb") as f:
            f.write(conv.convert())

    convert(lambda x: tf.nn.relu(x * 2.0 + 1.0), [tf.TensorSpec([1, 4], tf.float32)], "benign.tflite")
    label("tflite/benign.tflite", "safe")
    convert(lambda p: tf.io.read_file(p), scalar_str, "flex_read_file.tflite", select=True)
    label("tflite/flex_read_file.tflite", "malicious", "tflite-flex-dangerous-op")
    convert(lambda x: tf.strings.length(x), scalar_str, "flex_string_length.tflite", select=True)
    label("tflite/flex_string_length.tflite", "suspicious", "tflite-custom-op")
    # The converter refuses unknown ops without a registered implementation; a model with a
    # custom operator is made from the Flex model by renaming its custom code through the TFLite
    # schema's own object API (what custom-op authoring tools do).
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    with open(os.path.join(t, "flex_string_length.tflite"), "rb") as f:
        obj = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(f.read(), 0))
    for code in obj.operatorCodes:
        if code.customCode:
            code.customCode = b"MyCustomLength"
    builder = flatbuffers.Builder(1024)
    builder.Finish(obj.Pack(builder), file_identifier=b"TFL3")
    with open(os.path.join(t, "custom_op.tflite"), "wb") as f:
        f.write(builder.Output())
    label("tflite/custom_op.tflite", "suspicious", "tflite-custom-op")
    with open(os.path.join(t, "benign.tflite"), "rb") as f:
        data = f.read()
    with open(os.path.join(t, "truncated.tflite"), "wb") as f:
        f.write(data[:64])
    label("tflite/truncated.tflite", "suspicious", "graph-malformed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "graphs"))
    args = parser.parse_args()
    root = os.path.abspath(args.out)
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    onnx_fixtures(root)
    tf_fixtures(root)
    with open(os.path.join(root, "labels.tsv"), "w") as f:
        f.write("# path\texpected verdict (none = not reported)\trules expected\n")
        for path, verdict, rules in sorted(LABELS):
            f.write(f"{path}\t{verdict}\t{rules}\n")
    print(f"wrote {len(LABELS)} labels to {root}", file=sys.stderr)


if __name__ == "__main__":
    main()
