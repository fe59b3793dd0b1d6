#!/usr/bin/env python3
"""Writes tests/fixtures/modelfiles/ (XGBoost, LightGBM, Flax msgpack, skops, TorchServe .mar,
NeMo .nemo) with the real libraries, and crates/mlvet-modelfiles/data/skops_trusted.tsv.

Made with (a throwaway venv, `pip install --no-cache-dir` of these exact versions):
    xgboost-cpu 3.2.0, lightgbm 4.7.0, flax 0.12.8, jax 0.10.2, msgpack 1.2.4,
    skops 0.16.0, scikit-learn 1.9.1, numpy 2.4.6, scipy 1.17.1, torch-model-archiver 0.12.0,
    PyYAML (NeMo configs are written with yaml.safe_dump, as OmegaConf.to_yaml writes them).

XGBoost 3.x no longer writes the deprecated binary format: the `xgb_binary_*.deprecated` fixtures
come from a second throwaway venv with xgboost-cpu 2.1.4 (its `save_model("*.deprecated")`):
    python scripts/gen_modelfiles_fixtures.py --xgboost-binary   (run with that venv's python)
The NeMo toolkit is not installed: `.nemo` archives are written exactly as NeMo's
`SaveRestoreConnector._make_nemo_file_from_folder` does (`tar.open(path, "w:")`, members
`./model_config.yaml` and `./model_weights.ckpt`, added with arcname "."), the weights being a real
`torch.save` checkpoint already committed under tests/fixtures/models/. The .mar archives are built
by the real torch-model-archiver around the same checkpoint.

Run: python scripts/gen_modelfiles_fixtures.py   (deterministic given the versions above)
"""
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "modelfiles")
SAFE_CKPT = os.path.join(ROOT, "tests", "fixtures", "models", "safe", "torch_state_dict.pt")
BAD_CKPT = os.path.join(ROOT, "tests", "fixtures", "models", "malicious", "torch_injected_data_pkl.pt")
LABELS = []


def label(name, verdict, rules, why):
    LABELS.append((name, verdict, rules, why))


def data():
    rng = np.random.RandomState(0)
    X = rng.rand(60, 4)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    return X, y


def xgboost_fixtures():
    import xgboost as xgb

    X, y = data()
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "seed": 0, "nthread": 1},
        xgb.DMatrix(X, label=y),
        num_boost_round=3,
    )
    booster.save_model(os.path.join(OUT, "xgb_model.json"))
    booster.save_model(os.path.join(OUT, "xgb_model.ubj"))
    label("xgb_model.json", "safe", "", "xgboost save_model JSON")
    label("xgb_model.ubj", "safe", "", "xgboost save_model UBJSON")
    multi = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "seed": 0, "nthread": 1},
        xgb.DMatrix(X, label=rng_labels(3)),
        num_boost_round=2,
    )
    multi.save_model(os.path.join(OUT, "xgb_multiclass.ubj"))
    label("xgb_multiclass.ubj", "safe", "", "xgboost multi:softprob UBJSON")
    dart = xgb.train(
        {"booster": "dart", "objective": "reg:squarederror", "max_depth": 2, "seed": 0, "nthread": 1},
        xgb.DMatrix(X, label=y),
        num_boost_round=2,
    )
    dart.save_model(os.path.join(OUT, "xgb_dart.json"))
    label("xgb_dart.json", "safe", "", "xgboost dart booster JSON")
    # Tampered: one more tree declared than present.
    doc = json.load(open(os.path.join(OUT, "xgb_model.json")))
    doc["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] = "4"
    with open(os.path.join(OUT, "xgb_tampered_tree_count.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    label("xgb_tampered_tree_count.json", "suspicious", "model-structure-invalid", "declares 4 trees, holds 3")
    raw = open(os.path.join(OUT, "xgb_model.ubj"), "rb").read()
    with open(os.path.join(OUT, "xgb_truncated.ubj"), "wb") as f:
        f.write(raw[: len(raw) // 2])
    label("xgb_truncated.ubj", "suspicious", "model-structure-invalid", "UBJSON cut in half")


def rng_labels(k):
    return np.arange(60) % k


def lightgbm_fixtures():
    import lightgbm as lgb

    X, y = data()
    model = lgb.train(
        {"objective": "binary", "num_leaves": 4, "verbose": -1, "seed": 0, "num_threads": 1,
         "deterministic": True},
        lgb.Dataset(X, label=y),
        num_boost_round=3,
    )
    model.save_model(os.path.join(OUT, "lgb_model.txt"))
    label("lgb_model.txt", "safe", "", "lightgbm save_model")
    text = open(os.path.join(OUT, "lgb_model.txt")).read()
    with open(os.path.join(OUT, "lgb_truncated.txt"), "w") as f:
        f.write(text[: text.index("end of trees")])
    label("lgb_truncated.txt", "suspicious", "model-structure-invalid", "no `end of trees`")


def flax_fixtures():
    import jax.numpy as jnp
    from flax import serialization

    params = {
        "params": {
            "Dense_0": {"kernel": np.arange(12, dtype=np.float32).reshape(4, 3), "bias": np.zeros(3, np.float32)},
            "Embed_0": {"embedding": jnp.ones((5, 2), dtype=jnp.bfloat16)},
        },
        "batch_stats": {"mean": np.float64(0.5), "count": np.int32(7)},
        "step": 3,
        "complex": 1 + 2j,
    }
    blob = serialization.to_bytes(params)
    open(os.path.join(OUT, "flax_model.msgpack"), "wb").write(blob)
    label("flax_model.msgpack", "safe", "", "flax.serialization.to_bytes")
    open(os.path.join(OUT, "flax_truncated.msgpack"), "wb").write(blob[:-10])
    label("flax_truncated.msgpack", "suspicious", "model-structure-invalid", "array body cut short")


def skops_fixtures():
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data()
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)
    path = os.path.join(OUT, "sklearn_pipeline.skops")
    sio.dump(pipe, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == [], untrusted
    label("sklearn_pipeline.skops", "safe", "", "skops.io.dump of a fitted pipeline; get_untrusted_types == []")

    def rewrite(name, edit):
        src = zipfile.ZipFile(path)
        schema = json.loads(src.read("schema.json"))
        edit(schema)
        out = os.path.join(OUT, name)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                body = json.dumps(schema).encode() if info.filename == "schema.json" else src.read(info.filename)
                dst.writestr(info.filename, body)
        return out

    def func(module, name):
        return {"__class__": name, "__module__": module, "__loader__": "FunctionNode"}

    def inject(key, node):
        # An attribute of the StandardScaler step: restored by `setattr` after construction.
        def edit(schema):
            scaler = schema["content"]["content"]["steps"]["content"][0]["content"][1]
            scaler["content"]["content"][key] = node
        return edit

    out = rewrite("os_system.skops", inject("copy", func("os", "system")))
    label("os_system.skops", "malicious", "skops-dangerous-type", "schema edited: FunctionNode os.system")
    assert "os.system" in sio.get_untrusted_types(file=out)
    out = rewrite("builtins_eval.skops", inject("copy", func("builtins", "eval")))
    label("builtins_eval.skops", "malicious", "skops-dangerous-type", "schema edited: FunctionNode builtins.eval")
    assert "builtins.eval" in sio.get_untrusted_types(file=out)
    def custom_step(schema):
        # A custom transformer class with the scaler's own (valid) state.
        scaler = schema["content"]["content"]["steps"]["content"][0]["content"][1]
        scaler["content"]["content"]["helper"] = {
            "__class__": "Cleaner", "__module__": "mycompany.features", "__loader__": "ObjectNode",
            "content": json.loads(json.dumps(scaler["content"])),
        }
    out = rewrite("custom_type.skops", custom_step)
    label("custom_type.skops", "suspicious", "skops-untrusted-type", "schema edited: ObjectNode mycompany.features.Cleaner")
    assert sio.get_untrusted_types(file=out) == ["mycompany.features.Cleaner"]


def mar_fixtures():
    work = tempfile.mkdtemp()
    try:
        handler = os.path.join(work, "handler.py")
        with open(handler, "w") as f:
            f.write("from ts.torch_handler.base_handler import BaseHandler\n\n\nclass Handler(BaseHandler):\n    pass\n")
        for name, handler_arg, extra in [
            ("custom_handler", handler, []),
            ("builtin_handler", "image_classifier", []),
        ]:
            subprocess.run(
                [os.path.join(os.path.dirname(sys.executable), "torch-model-archiver"),
                 "--model-name", name, "--version", "1.0", "--serialized-file", SAFE_CKPT,
                 "--handler", handler_arg, "--export-path", work, "--force"] + extra,
                check=True,
            )
            normalize_zip(os.path.join(work, name + ".mar"), os.path.join(OUT, name + ".mar"))
        label("custom_handler.mar", "suspicious", "torchserve-handler-code", "torch-model-archiver with handler.py")
        label("builtin_handler.mar", "safe", "", "torch-model-archiver with the built-in image_classifier handler and a clean checkpoint")
    finally:
        shutil.rmtree(work)


def normalize_zip(src, dst):
    """Same members, fixed timestamps and creation date: deterministic fixtures."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in sorted(zin.infolist(), key=lambda i: i.filename):
            body = zin.read(info.filename)
            if info.filename == "MAR-INF/MANIFEST.json":
                manifest = json.loads(body)
                manifest["createdOn"] = "01/01/2026 00:00:00"
                body = json.dumps(manifest, indent=4).encode()
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, body)


BENIGN_NEMO = {
    "target": "nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE",
    "nemo_version": "2.0.0",
    "sample_rate": 16000,
    "preprocessor": {
        "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
        "sample_rate": 16000, "normalize": "per_feature", "window_size": 0.025, "features": 80,
    },
    "encoder": {
        "_target_": "nemo.collections.asr.modules.ConformerEncoder",
        "feat_in": 80, "n_layers": 2, "d_model": 64,
    },
    "decoder": {
        "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
        "feat_in": 64, "num_classes": 128,
    },
    "optim": {"name": "adamw", "lr": 0.001, "sched": {"name": "CosineAnnealing", "warmup_steps": 100}},
}


def nemo_fixtures():
    import copy

    import yaml

    def write(name, config, weights, gz=False):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w:", format=tarfile.GNU_FORMAT) as tar:
            for member, body in [("./model_config.yaml", yaml.safe_dump(config, sort_keys=False).encode()),
                                 ("./model_weights.ckpt", open(weights, "rb").read())]:
                info = tarfile.TarInfo(member)
                info.size = len(body)
                info.mtime = 1767225600
                tar.addfile(info, io.BytesIO(body))
        raw = buf.getvalue()
        if gz:
            # Fixed gzip header time for determinism.
            raw = raw[:4] + b"\x00\x00\x00\x00" + raw[8:]
        open(os.path.join(OUT, name), "wb").write(raw)

    write("asr_model.nemo", BENIGN_NEMO, SAFE_CKPT)
    label("asr_model.nemo", "safe", "", "NeMo-layout tar, real NeMo _target_s, clean torch checkpoint")
    write("asr_model_gz.nemo", BENIGN_NEMO, SAFE_CKPT, gz=True)
    label("asr_model_gz.nemo", "safe", "", "same, gzip-compressed tar (NeMo restores both)")
    evil = copy.deepcopy(BENIGN_NEMO)
    evil["encoder"]["activation"] = {"_target_": "os.system", "_args_": ["id > /tmp/nemo_pwned"]}
    write("hydra_os_system.nemo", evil, SAFE_CKPT)
    label("hydra_os_system.nemo", "malicious", "nemo-dangerous-target", "_target_: os.system with _args_")
    evil = copy.deepcopy(BENIGN_NEMO)
    evil["decoder"]["_target_"] = "builtins.exec"
    evil["decoder"]["_args_"] = ["import os; os.system('id')"]
    write("hydra_builtins_exec.nemo", evil, SAFE_CKPT, gz=True)
    label("hydra_builtins_exec.nemo", "malicious", "nemo-dangerous-target", "_target_: builtins.exec, gzip tar")
    odd = copy.deepcopy(BENIGN_NEMO)
    odd["preprocessor"]["_target_"] = "acme_audio.features.Featurizer"
    odd["preprocessor"]["_partial_"] = True
    write("third_party_target.nemo", odd, SAFE_CKPT)
    label("third_party_target.nemo", "suspicious", "nemo-unknown-target", "_target_ outside nemo/torch namespaces")
    write("malicious_weights.nemo", BENIGN_NEMO, BAD_CKPT)
    label("malicious_weights.nemo", "malicious", "pickle-dangerous-callable", "clean config, torch checkpoint with an injected os.system pickle")


def skops_trusted_table():
    import scipy
    import skops
    import sklearn
    from skops.io import _trusted_types as t

    sets = {
        "type": t.PRIMITIVE_TYPE_NAMES + t.CONTAINER_TYPE_NAMES + t.NUMPY_DTYPE_TYPE_NAMES,
        "function": t.SCIPY_UFUNC_TYPE_NAMES + t.NUMPY_UFUNC_TYPE_NAMES,
        "object": t.SKLEARN_ESTIMATOR_TYPE_NAMES + t.SKLEARN_INTERNAL_TYPE_NAMES,
        "bitgen": t.NUMPY_RANDOM_BIT_GENERATOR_TYPE_NAMES,
    }
    path = os.path.join(ROOT, "crates", "mlvet-modelfiles", "data", "skops_trusted.tsv")
    with open(path, "w") as f:
        f.write(f"# skops {skops.__version__} default trusted types (scikit-learn {sklearn.__version__}, "
                f"numpy {np.__version__}, scipy {scipy.__version__}); written by scripts/gen_modelfiles_fixtures.py\n")
        for key, names in sets.items():
            for name in sorted(set(names)):
                f.write(f"{key}\t{name}\n")


def xgboost_binary_fixtures():
    import xgboost as xgb

    assert xgb.__version__.startswith("2."), "the deprecated binary format needs xgboost 2.x"
    X, y = data()
    for name, params in [
        ("xgb_binary_logistic.deprecated", {"objective": "binary:logistic", "max_depth": 2}),
        ("xgb_binary_dart.deprecated", {"booster": "dart", "objective": "reg:squarederror", "max_depth": 2}),
        ("xgb_binary_linear.deprecated", {"booster": "gblinear", "objective": "reg:squarederror"}),
    ]:
        params.update({"seed": 0, "nthread": 1})
        xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=2).save_model(os.path.join(OUT, name))
    raw = open(os.path.join(OUT, "xgb_binary_logistic.deprecated"), "rb").read()
    with open(os.path.join(OUT, "xgb_binary_truncated.deprecated"), "wb") as f:
        f.write(raw[:-7])


def main():
    os.makedirs(OUT, exist_ok=True)
    if sys.argv[1:] == ["--xgboost-binary"]:
        xgboost_binary_fixtures()
        return
    xgboost_fixtures()
    lightgbm_fixtures()
    flax_fixtures()
    skops_fixtures()
    mar_fixtures()
    nemo_fixtures()
    skops_trusted_table()
    for name in ["xgb_binary_logistic.deprecated", "xgb_binary_dart.deprecated", "xgb_binary_linear.deprecated"]:
        label(name, "safe", "", "xgboost 2.1.4 save_model in the deprecated binary format")
    label("xgb_binary_truncated.deprecated", "suspicious", "model-structure-invalid", "binary model missing its last bytes")
    with open(os.path.join(OUT, "labels.tsv"), "w") as f:
        f.write("# file\texpected verdict\texpected rule ids (comma separated)\twhat it is\n")
        for name, verdict, rules, why in sorted(LABELS):
            f.write(f"{name}\t{verdict}\t{rules}\t{why}\n")


if __name__ == "__main__":
    main()
