#!/usr/bin/env python3
"""Generate the fixtures of safetensors validation, polyglots, `.pth` startup hooks and Hugging
Face model folders in tests/fixtures/formats_folders/.

Usage:  /tmp/venv-h4/bin/python scripts/gen_formats_folders_fixtures.py

Made with the real libraries in a throwaway venv (Python 3.11.7):
    safetensors 0.8.0, numpy 2.4.6, huggingface_hub 2.4.0, setuptools 80.9.0,
    coverage (a1_coverage.pth), pytest-cov 5.x (pytest-cov.pth), virtualenv 21.15.11
    pip install --no-cache-dir safetensors==0.8.0 numpy==2.4.6 huggingface_hub==2.4.0 \
        setuptools==80.9.0 coverage "pytest-cov<6" virtualenv==21.15.11

Layout (labels in labels.tsv: expected verdict and rule ids; the loader's own answer for every
safetensors file is checked here with `safetensors.safe_open` and written to the labels):

  safetensors/   benign files written by safetensors.numpy.save_file, and invalid variants made by
                 editing the header of a real file (duplicate keys, overlap, gap, bad dtype, shape
                 mismatch, header past EOF, non-string metadata, trailing data, array forms)
  polyglot/      a pickle with a zip appended, a safetensors file with a zip appended, a file that
                 is both safetensors and a pickle, a PNG and a GGUF with a zip appended, a
                 llamafile-style APE with an embedded zip holding a GGUF, an ELF and a shell script
                 under model names
  venv/lib/python3.11/site-packages/
                 `.pth` files copied from a real venv (setuptools distutils-precedence, coverage,
                 pytest-cov, virtualenv, a setuptools editable install, a setuptools namespace
                 package) and malicious ones (a litellm_init.pth-style base64 launcher...)
  hub/           a Hugging Face hub cache (models--mlvet--demo) laid out by huggingface_hub's own
                 `_create_symlink` (relative links snapshots/<commit>/<file> -> ../../blobs/<etag>)
  localdir/      a `local_dir` download with its `.cache/huggingface/download/*.metadata` written
                 by huggingface_hub's `write_download_metadata` (timestamp line fixed afterwards)
  checkout/      a source tree (setup.py, a package with a test checkpoint): no model-folder
                 findings expected

Safety: payloads only name `echo pwned` and a `*.invalid` host; nothing here loads a pickle.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import safetensors
from safetensors import safe_open
from safetensors.numpy import save, save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "formats_folders"
COMMIT = "4f1d5b0c6a2e9d8f7b3c1a0e5d4c3b2a19081726"
LABELS: list[tuple[str, str, str, str]] = []

MALICIOUS_PICKLE = b"cos\nsystem\n(S'echo pwned'\ntR."


def label(path: Path, verdict: str, rules: str, note: str) -> None:
    LABELS.append((str(path.relative_to(OUT)), verdict, rules, note))


def loader_answer(path: Path) -> str:
    try:
        with safe_open(str(path), framework="numpy") as f:
            list(f.keys())
        return "loads"
    except Exception as e:  # noqa: BLE001 - we record what the real loader says
        return "refused: " + str(e).splitlines()[0][:80]


def split(raw: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def join(header_text: str, body: bytes, pad: bytes = b" ") -> bytes:
    text = header_text.encode()
    while len(text) % 8:
        text += pad
    return struct.pack("<Q", len(text)) + text + body


def benign_tensors() -> dict:
    return {
        "embed.weight": np.arange(32, dtype=np.float32).reshape(8, 4),
        "layer.bias": np.zeros(6, dtype=np.float16),
        "layer.scale": np.ones((2, 3), dtype=np.int64),
        "mask": np.array([True, False, True]),
    }


def gen_safetensors() -> bytes:
    d = OUT / "safetensors"
    d.mkdir(parents=True)
    good = d / "benign.safetensors"
    save_file(benign_tensors(), str(good), metadata={"format": "pt"})
    label(good, "safe", "-", "safetensors.numpy.save_file; " + loader_answer(good))
    empty = d / "empty.safetensors"
    save_file({}, str(empty))
    label(empty, "safe", "-", "no tensors; " + loader_answer(empty))
    raw = good.read_bytes()
    header, body = split(raw)

    def variant(name: str, text: str, data: bytes, verdict: str, rules: str, note: str, pad=b" "):
        path = d / name
        path.write_bytes(join(text, data, pad))
        label(path, verdict, rules, note + "; " + loader_answer(path))

    def edited(**changes) -> str:
        h = json.loads(json.dumps(header))
        for key, value in changes.items():
            name, field = key.split("__")
            h[name.replace("_", ".")][field] = value
        return json.dumps(h, separators=(",", ":"))

    embed = header["embed.weight"]["data_offsets"]
    bias = header["layer.bias"]["data_offsets"]
    inv = "safetensors-invalid-header"
    amb = "safetensors-header-ambiguity"
    # Duplicate tensor name: a second, different definition of the first tensor (text edit: JSON
    # writers cannot produce it). The loader keeps the last one.
    compact = json.dumps(header, separators=(",", ":"))
    first = '"embed.weight":' + json.dumps(header["embed.weight"], separators=(",", ":"))
    dup = compact.replace(
        first, '"embed.weight":{"dtype":"I32","shape":[8,4],"data_offsets":%s},%s' % (json.dumps(embed), first), 1
    )
    variant("duplicate_tensor.safetensors", dup, body, "suspicious", amb, "same name twice")
    dup_meta = compact.replace('"__metadata__":{"format":"pt"}', '"__metadata__":{"format":"pt","format":"tf"}', 1)
    variant("duplicate_metadata_key.safetensors", dup_meta, body, "suspicious", amb, "metadata key twice")
    variant(
        "overlap.safetensors",
        edited(layer_bias__data_offsets=[embed[0] + 4, embed[0] + 16]),
        body,
        "suspicious",
        inv,
        "layer.bias overlaps embed.weight",
    )
    variant(
        "gap.safetensors",
        edited(layer_bias__data_offsets=[bias[0] + 8, bias[1] + 8]),
        body + b"\0" * 8,
        "suspicious",
        inv,
        "8 unused bytes between tensors",
    )
    variant("bad_dtype.safetensors", edited(layer_bias__dtype="F12"), body, "suspicious", inv, "unknown dtype")
    variant("shape_mismatch.safetensors", edited(layer_bias__shape=[7]), body, "suspicious", inv, "shape 7 x F16 vs 12 bytes")
    variant(
        "metadata_not_string.safetensors",
        compact.replace('"__metadata__":{"format":"pt"}', '"__metadata__":{"format":"pt","layers":12}', 1),
        body,
        "suspicious",
        inv,
        "integer metadata value",
    )
    variant("trailing_data.safetensors", compact, body + b"HIDDEN" * 4, "suspicious", inv, "24 bytes after the last tensor")
    variant("truncated.safetensors", compact, body[:-4], "suspicious", inv, "body 4 bytes short")
    variant(
        "tensor_as_array.safetensors",
        compact.replace(first, '"embed.weight":["F32",[8,4],%s]' % json.dumps(embed), 1),
        body,
        "suspicious",
        amb,
        "serde sequence form",
    )
    variant("newline_padding.safetensors", compact, body, "suspicious", amb, "padded with newlines", pad=b"\n")
    past = d / "header_past_eof.safetensors"
    past.write_bytes(struct.pack("<Q", 4096) + raw[8:200])
    label(past, "suspicious", inv, "length beyond the file; " + loader_answer(past))
    huge = d / "header_too_large.safetensors"
    huge.write_bytes(struct.pack("<Q", 200_000_000) + b'{"a":1}' + b" " * 57)
    label(huge, "suspicious", inv, "length above 100 MB; " + loader_answer(huge))
    garbage = d / "not_json.safetensors"
    garbage.write_bytes(struct.pack("<Q", 16) + b'{"a": nope}     ')
    label(garbage, "suspicious", inv, "invalid JSON; " + loader_answer(garbage))
    return raw


def zip_with_payload() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", MALICIOUS_PICKLE)
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def png_bytes() -> bytes:
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def gguf_bytes() -> bytes:
    # GGUF v3, no tensors, one string key (general.architecture = "llama").
    key = b"general.architecture"
    value = b"llama"
    return (
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + struct.pack("<Q", len(key))
        + key
        + struct.pack("<I", 8)
        + struct.pack("<Q", len(value))
        + value
    )


def gen_polyglots(safetensors_raw: bytes) -> None:
    d = OUT / "polyglot"
    d.mkdir(parents=True)
    payload_zip = zip_with_payload()
    p = d / "pickle_with_zip.pkl"
    p.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}, protocol=2) + payload_zip)
    label(p, "malicious", "container-polyglot,pickle-dangerous-callable", "pickle.load sees a dict, zipfile an archive")
    p = d / "safetensors_with_zip.safetensors"
    p.write_bytes(safetensors_raw + payload_zip)
    label(p, "malicious", "container-polyglot,safetensors-invalid-header", "zip in the trailing bytes; " + loader_answer(p))
    # Both safetensors and a pickle: the 8-byte length is `N.` + zeros = 11854, so pickle.load
    # returns None and safe_open reads the tensors.
    p = d / "safetensors_and_pickle.safetensors"
    text = json.dumps({"x": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}, separators=(",", ":")).encode()
    n = struct.unpack("<Q", b"N." + b"\0" * 6)[0]
    p.write_bytes(b"N." + b"\0" * 6 + text.ljust(n, b" ") + b"\x01\x02\x03\x04")
    assert pickle.loads(p.read_bytes()) is None
    label(p, "suspicious", "container-polyglot", "pickle.load -> None; " + loader_answer(p))
    p = d / "image_with_zip.png"
    p.write_bytes(png_bytes() + payload_zip)
    label(p, "malicious", "container-polyglot,pickle-dangerous-callable", "PNG + zip")
    p = d / "model_with_zip.gguf"
    p.write_bytes(gguf_bytes() + payload_zip)
    label(p, "malicious", "container-polyglot,pickle-dangerous-callable", "GGUF + zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("tiny.gguf", gguf_bytes())
    p = d / "tiny.llamafile"
    p.write_bytes(b"MZqFpD='\n\n#'\"\necho llamafile stub\nexit 0\n" + b"\0" * 64 + buf.getvalue())
    label(p, "suspicious", "container-executable-model", "APE prefix + zip with a GGUF")
    elf = Path("/bin/true").read_bytes()[:256]
    assert elf.startswith(b"\x7fELF")
    p = d / "model.safetensors.elf"
    p.unlink(missing_ok=True)
    p = d / "elf_named.pt"
    p.write_bytes(elf)
    label(p, "suspicious", "container-executable-model", "ELF header (from /bin/true) named .pt")
    p = d / "script_named.ckpt"
    p.write_bytes(b"#!/bin/sh\necho pwned\n")
    label(p, "suspicious", "container-executable-model", "shell script named .ckpt")


def gen_pth() -> None:
    site = OUT / "venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    real_site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    for name in ["distutils-precedence.pth", "a1_coverage.pth", "pytest-cov.pth"]:
        shutil.copy(real_site / name, site / name)
        label(site / name, "safe", "-", "copied from a real venv")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # virtualenv 21 writes `_virtualenv.pth` only for interpreters older than 3.10
        # (`ViaGlobalRefApi.install_patch`): its exact bytes, `b"import _virtualenv"`.
        (site / "_virtualenv.pth").write_bytes(b"import _virtualenv")
        label(site / "_virtualenv.pth", "safe", "-", "virtualenv install_patch bytes")
        project = tmp / "demo"
        (project / "mlvet_demo").mkdir(parents=True)
        (project / "mlvet_demo" / "__init__.py").write_text("")
        (project / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
            '[project]\nname = "mlvet-demo"\nversion = "0.1"\n'
        )
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
             "--target", str(tmp / "target"), "-e", str(project)],
            check=True,
        )
        editable = sorted((tmp / "target").glob("__editable__*.pth"))
        shutil.copy(editable[0], site / editable[0].name)
        label(site / editable[0].name, "safe", "-", "setuptools editable install")
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "mlvet-demo"], check=False)
    from setuptools import namespaces

    class Installer(namespaces.Installer):
        def _get_all_ns_packages(self):
            return ["google", "google.cloud"]

        def _get_root(self):
            return "sys._getframe(1).f_locals['sitedir']"

    lines = [Installer()._gen_nspkg_line(p) for p in ["google", "google.cloud"]]
    (site / "google_cloud_demo-1.0-py3.11-nspkg.pth").write_text("".join(lines))
    label(site / "google_cloud_demo-1.0-py3.11-nspkg.pth", "safe", "-", "setuptools.namespaces template")
    (site / "paths_only.pth").write_text("# a comment\n/opt/project/src\n import os  (not executed: leading space)\n")
    label(site / "paths_only.pth", "safe", "-", "path entries only")
    stage2 = base64.b64encode(b"import os; os.system('echo pwned')").decode()
    launcher = "import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', \"import base64; exec(base64.b64decode('%s'))\"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n" % stage2
    (site / "litellm_init.pth").write_text(launcher)
    label(site / "litellm_init.pth", "malicious", "pth-startup-code", "litellm 1.82.8-style launcher (benign payload)")
    (site / "telemetry.pth").write_text("import urllib.request; urllib.request.urlopen('http://collector.invalid/ping')\n")
    label(site / "telemetry.pth", "malicious", "pth-startup-code", "network at startup")
    (site / "hidden_line.pth").write_bytes(b"# harmless comment\x0bimport os; os.system('echo pwned')\n")
    label(site / "hidden_line.pth", "malicious", "pth-startup-code", "line after \\v runs on Python 3.13")
    (site / "custom_hook.pth").write_text("import mlvet_demo_hook\n")
    label(site / "custom_hook.pth", "suspicious", "pth-startup-code", "imports an unknown module at startup")
    (site / "exec_literal.pth").write_text("import sys; exec('print(1)')\n")
    label(site / "exec_literal.pth", "suspicious", "pth-startup-code", "exec of a literal")


def gen_hub() -> None:
    from huggingface_hub.file_download import _create_symlink

    repo = OUT / "hub" / "models--mlvet--demo"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "blobs").mkdir()
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    config = {
        "architectures": ["DemoForCausalLM"],
        "model_type": "demo",
        "torch_dtype": "float32",
        "transformers_version": "4.57.1",
        "auto_map": {
            "AutoConfig": "configuration_demo.DemoConfig",
            "AutoModelForCausalLM": "modeling_demo.DemoForCausalLM",
            "AutoModel": "someone-else/shared-code--modeling_shared.SharedModel",
        },
    }
    files = {
        "config.json": json.dumps(config, indent=2).encode(),
        "model.safetensors": save(benign_tensors(), metadata={"format": "pt"}),
        "pytorch_model.bin": pickle.dumps({"embed.weight": [0.0] * 4}, protocol=2),
        "modeling_demo.py": b"# model code that transformers imports with trust_remote_code=True\nclass DemoForCausalLM:\n    pass\n",
        "configuration_demo.py": b"class DemoConfig:\n    pass\n",
    }
    import hashlib

    for name, data in files.items():
        etag = hashlib.sha256(data).hexdigest()
        blob = repo / "blobs" / etag
        blob.write_bytes(data)
        # huggingface_hub's own link: relative, snapshots/<commit>/<file> -> ../../blobs/<etag>
        _create_symlink(str(blob), str(snapshot / name), new_blob=False)
    label(snapshot / "config.json", "suspicious", "hf-remote-code", "auto_map (one entry in another repository)")
    label(snapshot / "modeling_demo.py", "suspicious", "hf-model-folder-python", "named by auto_map")
    label(snapshot / "pytorch_model.bin", "safe", "hf-pickle-beside-safetensors", "info: use the safetensors")
    label(snapshot / "model.safetensors", "safe", "-", "origin huggingface model mlvet/demo @ COMMIT")


def gen_localdir() -> None:
    from huggingface_hub._local_folder import write_download_metadata

    local = OUT / "localdir"
    local.mkdir(parents=True)
    save_file(benign_tensors(), str(local / "model.safetensors"), metadata={"format": "pt"})
    (local / "config.json").write_text(json.dumps({"architectures": ["DemoModel"], "model_type": "demo"}))
    for name in ["model.safetensors", "config.json"]:
        write_download_metadata(local, name, COMMIT, "0" * 40)
        meta = local / ".cache" / "huggingface" / "download" / f"{name}.metadata"
        lines = meta.read_text().splitlines()
        meta.write_text("\n".join(lines[:2] + ["1767225600.0"]) + "\n")
    label(local / "model.safetensors", "safe", "-", "origin from local_dir download metadata")


def gen_checkout() -> None:
    root = OUT / "checkout"
    (root / "pkg").mkdir(parents=True)
    (root / "setup.py").write_text("from setuptools import setup\nsetup(name='pkg')\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "model.py").write_text("def build():\n    return None\n")
    (root / "pkg" / "weights.pt").write_bytes(pickle.dumps({"w": [1.0]}, protocol=2))
    label(root / "pkg" / "weights.pt", "safe", "-", "source tree: no model-folder findings")


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    raw = gen_safetensors()
    gen_polyglots(raw)
    gen_pth()
    gen_hub()
    gen_localdir()
    gen_checkout()
    with open(OUT / "labels.tsv", "w") as f:
        f.write("# path\texpected verdict\trule ids\tnote (safetensors: what safetensors.safe_open says)\n")
        for row in sorted(LABELS):
            f.write("\t".join(row) + "\n")
    print(f"safetensors {safetensors.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
