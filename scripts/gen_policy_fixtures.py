#!/usr/bin/env python3
"""Generate the pickle-policy fixtures of tests/fixtures/policy/ (issue 13: deny-list gaps, false
alarms, embedded pickles).

Usage:  python3 scripts/gen_policy_fixtures.py [--check]

Needs numpy and joblib (the false-alarm fixtures use the real libraries' writers) and torch for the
`pickle.dumps(tensor)` fixtures: run it with a throwaway venv's python, e.g.
    python3 -m venv /tmp/policyvenv && /tmp/policyvenv/bin/pip install torch numpy joblib
    /tmp/policyvenv/bin/python scripts/gen_policy_fixtures.py

Safety: malicious pickles are written opcode by opcode (or pickled from inert objects whose
__reduce__ names the callable); nothing here ever unpickles or loads a malicious file, and every
payload only names `echo pwned`. Output is deterministic (--check regenerates in memory and
compares with the committed files).

Old scikit-learn (<= 0.22, which bundled joblib as sklearn.externals.joblib and kept Bunch in
sklearn.datasets.base) has no wheels for Python 3.11, so those files are written with the current
joblib/pickle and the module names are rewritten to the old ones in protocol-2 GLOBAL opcodes (the
exact class names and argument shapes the old releases wrote).
"""

from __future__ import annotations

import argparse
import functools
import http
import io
import ipaddress
import pickle
import struct
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "policy"
SHELL = "echo pwned"


# ---- opcode writers (protocol 2 text globals: exactly what the old picklers wrote) ----------


def global_(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def unicode_(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def bytes_(data: bytes) -> bytes:
    # BINBYTES (protocol 3): what pickle writes for a bytes value.
    return b"B" + struct.pack("<I", len(data)) + data


def call(callee: bytes, *args: bytes) -> bytes:
    """callee(*args) via MARK ... TUPLE REDUCE."""
    return callee + b"(" + b"".join(args) + b"tR"


def program(body: bytes, proto: int = 2) -> bytes:
    return b"\x80" + bytes([proto]) + body + b"."


# ---- section 1.2: deny-list gaps (malicious) -------------------------------------------------


def deny_gaps() -> dict[str, bytes]:
    forward_ref = call(global_("typing", "ForwardRef"), unicode_(f"__import__('os').system({SHELL!r})"))
    return {
        # typing._eval_type(ForwardRef(src), {}, {}) eval()s src.
        "malicious/typing_eval_type.pkl": program(
            call(global_("typing", "_eval_type"), forward_ref, b"}", b"}")
        ),
        # dataclasses._create_fn(name, args, body) exec()s "def {name}({args}):\n {body}": the name
        # closes the def and injects a statement that runs at exec time.
        "malicious/dataclasses_create_fn.pkl": program(
            call(
                global_("dataclasses", "_create_fn"),
                unicode_(f"f():\n pass\n__import__('os').system({SHELL!r})\ndef g"),
                b"]",
                b"(" + unicode_("pass") + b"l",
            )
        ),
        # _pyio.FileIO(path, 'w') creates/truncates a file.
        "malicious/pyio_fileio_write.pkl": program(
            call(global_("_pyio", "FileIO"), unicode_("/tmp/mlvet-pwned"), unicode_("w"))
        ),
        # torch._utils._import_dotted_name('os.system')('echo pwned'): a resolver's result called.
        "malicious/torch_import_dotted_name_os_system.pkl": program(
            call(call(global_("torch._utils", "_import_dotted_name"), unicode_("os.system")), unicode_(SHELL))
        ),
        # pkgutil.resolve_name('os:system')('echo pwned'): the same class of resolver.
        "malicious/pkgutil_resolve_name_os_system.pkl": program(
            call(call(global_("pkgutil", "resolve_name"), unicode_("os:system")), unicode_(SHELL))
        ),
        # A partial of os.system stored, never called: still malicious (the wrapped callable is).
        "malicious/functools_partial_os_system_stored.pkl": pickle.dumps(
            {"hook": functools.partial(_named("os", "system"), SHELL)}, protocol=2
        ),
        # A partial of an allowed constructor that the load itself calls: a trampoline.
        "malicious/functools_partial_called.pkl": program(
            call(call(global_("functools", "partial"), global_("collections", "OrderedDict")))
        ),
    }


def _named(module: str, name: str):
    """An inert stand-in that pickles as a reference to module.name (never the real callable)."""
    stub = types.FunctionType((lambda: None).__code__, {}, name)
    stub.__module__ = module
    stub.__qualname__ = name
    mod = sys.modules.setdefault(module, types.ModuleType(module))
    if getattr(mod, name, None) is None:
        setattr(mod, name, stub)
        return stub
    # The real module (os) is loaded: pickle by reference to its real attribute; it is never called.
    return getattr(mod, name)


# ---- section 2: false alarms (safe) ----------------------------------------------------------


def false_alarms() -> dict[str, bytes]:
    import joblib
    import numpy as np

    out: dict[str, bytes] = {}
    # A partial of an allowed class, stored (sklearn FunctionTransformer(func=partial(...)) style).
    out["safe/functools_partial_stored.pkl"] = pickle.dumps(
        {"func": functools.partial(dict, scale=2.0), "name": "scaler"}, protocol=4
    )
    out["safe/http_status_and_ipaddress.pkl"] = pickle.dumps(
        {
            "status": http.HTTPStatus.NOT_FOUND,
            "addr": ipaddress.IPv4Address("192.0.2.1"),
            "addr6": ipaddress.IPv6Address("2001:db8::1"),
            "net": ipaddress.ip_network("192.0.2.0/24"),
            "iface": ipaddress.ip_interface("192.0.2.5/24"),
        },
        protocol=4,
    )
    # scikit-learn <= 0.22 with its bundled joblib: joblib.dump of an estimator-like dict with arrays,
    # protocol 2, module names as sklearn.externals.joblib wrote them.
    buf = io.BytesIO()
    state = {"coef_": np.arange(6, dtype=np.float64).reshape(2, 3), "classes_": np.array([0, 1])}
    joblib.dump(state, buf, protocol=2)
    data = buf.getvalue()
    assert global_("joblib.numpy_pickle", "NumpyArrayWrapper") in data
    out["safe/sklearn_externals_joblib_arrays.joblib"] = data.replace(
        global_("joblib.numpy_pickle", "NumpyArrayWrapper"),
        global_("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
    )
    # sklearn.datasets.base.Bunch (scikit-learn < 0.22): a dict subclass pickled with protocol 2.
    out["safe/sklearn_datasets_base_bunch.pkl"] = _old_bunch_pickle()
    # numpy.core._internal._reconstruct: the old spelling of the array reconstructor.
    arr = pickle.dumps(np.array([1.5, 2.5]), protocol=2)
    for new in ("numpy._core.multiarray", "numpy.core.multiarray"):
        arr = arr.replace(global_(new, "_reconstruct"), global_("numpy.core._internal", "_reconstruct"))
    assert global_("numpy.core._internal", "_reconstruct") in arr
    out["safe/numpy_core_internal_reconstruct.pkl"] = arr
    return out


def _old_bunch_pickle() -> bytes:
    """Bunch is a dict subclass with attribute access; pickled under a placeholder module, then the
    protocol-2 GLOBAL is rewritten to the name old scikit-learn used."""
    placeholder = "mlvet_fixture_bunch"
    module = types.ModuleType(placeholder)

    class Bunch(dict):
        def __init__(self, **kwargs):
            super().__init__(kwargs)

    Bunch.__module__ = placeholder
    Bunch.__qualname__ = "Bunch"
    module.Bunch = Bunch
    sys.modules[placeholder] = module
    try:
        data = pickle.dumps(Bunch(feature_names=["a", "b"], target_names=["x"], DESCR="iris"), protocol=2)
    finally:
        del sys.modules[placeholder]
    assert global_(placeholder, "Bunch") in data
    return data.replace(global_(placeholder, "Bunch"), global_("sklearn.datasets.base", "Bunch"))


# ---- section 1.4: pickles stored inside pickles ----------------------------------------------


def _split_pickles(data: bytes, count: int) -> tuple[list[bytes], bytes]:
    """Cut `count` consecutive pickles off the front of `data` with pickletools (nothing loaded)."""
    import pickletools

    out, pos = [], 0
    for _ in range(count):
        end = None
        for op, _arg, at in pickletools.genops(io.BytesIO(data[pos:])):
            if op.name == "STOP":
                end = pos + at + 1
                break
        assert end is not None
        out.append(data[pos:end])
        pos = end
    return out, data[pos:]


def _pinned_storage_keys(legacy: bytes) -> bytes:
    """Legacy torch files key storages by memory address: replace each key's digits by zeros of the
    same length, so that the file is deterministic and every length field stays valid."""
    import re

    keys = set(re.findall(rb"X\x0e\x00\x00\x00(\d{14})", legacy)) | set(
        re.findall(rb"X\x0f\x00\x00\x00(\d{15})", legacy)
    )
    for key in keys:
        legacy = legacy.replace(key, b"0" * len(key))
    return legacy


class _LoadFromBytes:
    """Pickles as torch.storage._load_from_bytes(<legacy torch file>), as a tensor storage does."""

    def __init__(self, legacy: bytes):
        self.legacy = legacy

    def __reduce__(self):
        import torch.storage

        return (torch.storage._load_from_bytes, (self.legacy,))


class _TensorLike:
    """Pickles with the exact shape of a CPU tensor: _rebuild_tensor_v2(storage, 0, size, stride,
    False, OrderedDict())."""

    def __init__(self, storage, n: int):
        self.storage, self.n = storage, n

    def __reduce__(self):
        import collections

        import torch._utils

        return (
            torch._utils._rebuild_tensor_v2,
            (self.storage, 0, (self.n,), (1,), False, collections.OrderedDict()),
        )


def embedded_pickles() -> dict[str, bytes]:
    import joblib
    import numpy as np
    import torch

    out: dict[str, bytes] = {}
    # What pickle.dumps(tensor) really writes: the storage is a legacy torch.save file in BINBYTES.
    real = pickle.dumps(torch.tensor([1.0, 2.0, 3.0]))
    marker = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."
    start = real.index(marker)
    (length,) = struct.unpack("<I", real[start - 4 : start])
    legacy = real[start : start + length]
    pinned = _pinned_storage_keys(legacy)
    assert len(pinned) == len(legacy)
    out["safe/torch_tensor_pickle_dumps.pkl"] = real.replace(legacy, pinned)
    # The same tensor whose embedded legacy file's main pickle first calls os.system: torch.load
    # (weights_only=False) inside _load_from_bytes would run it when the outer pickle is loaded.
    pickles, storages = _split_pickles(pinned, 5)
    main = pickles[3]
    assert main.startswith(b"\x80\x02")
    injected = b"\x80\x02" + call(global_("os", "system"), unicode_(SHELL)) + b"0" + main[2:]
    evil = b"".join(pickles[:3]) + injected + pickles[4] + storages
    out["malicious/torch_load_from_bytes_payload.pkl"] = pickle.dumps(
        _TensorLike(_LoadFromBytes(evil), 3), protocol=4
    )
    # Staged payloads: complete pickles stored as data; nothing runs on load (suspicious).
    stage = program(call(global_("os", "system"), unicode_(SHELL)))
    out["suspicious/staged_bytes_value.pkl"] = pickle.dumps({"name": "config", "blob": stage}, protocol=4)
    text_stage = b"cos\nsystem\n(S'" + SHELL.encode() + b"'\ntR."
    out["suspicious/staged_string_value.pkl"] = pickle.dumps(
        {"name": "config", "blob": text_stage.decode()}, protocol=2
    )
    buf = io.BytesIO()
    joblib.dump({"weights": np.frombuffer(stage, dtype=np.uint8).copy()}, buf)
    out["suspicious/staged_joblib_array.joblib"] = buf.getvalue()
    # A benign pickle stored as bytes is data, nothing to report.
    out["safe/benign_pickle_in_bytes_value.pkl"] = pickle.dumps(
        {"blob": pickle.dumps({"lr": 0.1, "layers": [64, 32]}, protocol=4)}, protocol=4
    )
    return out


def generate() -> dict[str, bytes]:
    files = {}
    files.update(deny_gaps())
    files.update(false_alarms())
    files.update(embedded_pickles())
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    files = generate()
    if args.check:
        bad = [rel for rel, data in files.items() if (OUT / rel).read_bytes() != data]
        for rel in bad:
            print(f"differs: {rel}", file=sys.stderr)
        return 1 if bad else 0
    for rel, data in sorted(files.items()):
        path = OUT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{len(data):6d}  {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
