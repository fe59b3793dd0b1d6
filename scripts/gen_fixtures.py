#!/usr/bin/env python3
"""Generate mlvet's model-file fixtures with the real ML libraries.

Usage:  python3 scripts/gen_fixtures.py [--venv DIR] [--check]

The script creates (once) a throwaway virtual environment with the pinned libraries of
scripts/requirements-fixtures.txt, re-executes itself inside it, and writes

  tests/fixtures/models/{safe,suspicious,malicious}/...   small model files (< 200 KB each)
  tests/fixtures/expected.tsv                              path, expected verdict, callable, notes
  tests/fixtures/loader-tolerance.tsv                      what the real loaders accept (measured)

Safety rules this script keeps:
  * malicious payloads only ever run `echo pwned`, and they are NEVER loaded: no malicious file is
    passed to pickle.load, torch.load, joblib.load or numpy.load;
  * what a malicious pickle would call is proven with a tracing unpickler whose find_class returns
    inert stubs (nothing named in the pickle is imported or called), see `trace_globals`;
  * loader tolerance (does torch.load accept a bad CRC, odd flag bits, ...) is measured on BENIGN
    variants only, with torch.load(weights_only=True) unless the file holds only plain ints/dicts.

The output is deterministic: fixed seeds, fixed zip/tar/7z timestamps, and the random
`.data/serialization_id` record that torch writes into every checkpoint is rewritten to a value
derived from the file name. Running the script twice gives byte-identical files (--check verifies).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "scripts" / "requirements-fixtures.txt"
FIXTURES = REPO / "tests" / "fixtures"
MODELS = FIXTURES / "models"
MANIFEST = FIXTURES / "expected.tsv"
TOLERANCE = FIXTURES / "loader-tolerance.tsv"
DEFAULT_VENV = Path("/tmp/mlvet-fixtures-venv")

SHELL = "echo pwned"  # the only command any payload names
MAX_FILE = 200 * 1024
MAX_TOTAL = 5 * 1024 * 1024
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
TAR_MTIME = 0


# --------------------------------------------------------------------------------------------
# venv bootstrap (runs with the system python)
# --------------------------------------------------------------------------------------------


def ensure_venv(venv: Path) -> Path:
    """Create the venv and install the pinned requirements unless a stamp says they are there."""
    python = venv / "bin" / "python"
    stamp = venv / ".mlvet-requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        # torch (with its CUDA runtime wheels) is a few GB: this step takes minutes the first time.
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True
        )
        stamp.write_text(wanted + "\n")
    return python


# --------------------------------------------------------------------------------------------
# payload objects: their __reduce__ names a dangerous callable; they are pickled, never loaded
# --------------------------------------------------------------------------------------------


class OsSystem:
    def __reduce__(self):
        return (os.system, (SHELL,))


class SubprocessPopen:
    def __reduce__(self):
        import subprocess as sp

        return (sp.Popen, (["echo", "pwned"],))


class BuiltinsExec:
    def __reduce__(self):
        import builtins

        return (builtins.exec, (f"import os; os.system({SHELL!r})",))


class BuiltinsEval:
    def __reduce__(self):
        import builtins

        return (builtins.eval, (f"__import__('os').system({SHELL!r})",))


class _Callable:
    """pickle insists that the callable of a reduce tuple be callable while pickling."""

    def __call__(self, *args):  # never invoked
        raise RuntimeError("fixture payload objects are never called")


class ImportOs(_Callable):
    def __reduce__(self):
        import builtins

        return (builtins.__import__, ("os",))


class ImportModuleOs(_Callable):
    def __reduce__(self):
        import importlib

        return (importlib.import_module, ("os",))


class GetAttr(_Callable):
    def __init__(self, target, name):
        self.target, self.name = target, name

    def __reduce__(self):
        import builtins

        return (builtins.getattr, (self.target, self.name))


class Trampoline:
    """getattr(<module object>, 'system')('echo pwned') — no dangerous name in any GLOBAL."""

    def __init__(self, module_object):
        self.module_object = module_object

    def __reduce__(self):
        return (GetAttr(self.module_object, "system"), (SHELL,))


# --------------------------------------------------------------------------------------------
# proof: which globals would the real unpickler resolve? (stubbed, nothing imported or called)
# --------------------------------------------------------------------------------------------


class _Stub:
    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Stub()

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def __getattr__(self, name):
        return _Stub()


def trace_globals(data: bytes, extensions: dict[int, tuple[str, str]] | None = None) -> list[str]:
    """Run pickle's pure-Python VM over every stream in `data` with inert stubs; return the
    `module.name` strings exactly as the pickle spells them (before _compat_pickle renames)."""
    import copyreg

    found: list[str] = []

    class Tracer(pickle._Unpickler):  # type: ignore[name-defined]
        def find_class(self, module, name):
            found.append(f"{module}.{name}")
            return type(f"stub:{module}.{name}", (_Stub,), {})

        def persistent_load(self, pid):
            return _Stub()

    for code, (module, name) in (extensions or {}).items():
        copyreg.add_extension(module, name, code)
    try:
        stream = io.BytesIO(data)
        while stream.tell() < len(data):
            try:
                Tracer(stream).load()
            except Exception:
                break
    finally:
        for code, (module, name) in (extensions or {}).items():
            copyreg.remove_extension(module, name, code)
        copyreg.clear_extension_cache()
    return found


def resolve_stdlib(dotted: str) -> str | None:
    """What object a stdlib `module.name` really is (import + attribute walk, no call)."""
    import _compat_pickle
    import importlib

    for split in range(dotted.count("."), 0, -1):
        parts = dotted.split(".")
        module, name = ".".join(parts[:split]), ".".join(parts[split:])
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if module.split(".")[0] not in sys.stdlib_module_names:
            return None
        try:
            obj = importlib.import_module(module)
            for attr in name.split("."):
                obj = getattr(obj, attr)
        except (ImportError, AttributeError):
            continue
        return describe(obj, module, name)
    return None


def describe(obj, module: str, name: str) -> str:
    bound_to = getattr(obj, "__self__", None)
    if bound_to is not None and callable(bound_to) and not isinstance(bound_to, type(sys)):
        # a method-wrapper such as eval.__call__: name it after the function it wraps
        return f"{describe(bound_to, module, name.rsplit('.', 1)[0])}.{obj.__name__}"
    owner = getattr(obj, "__module__", None) or module
    return f"{owner}.{getattr(obj, '__qualname__', name)}"


# --------------------------------------------------------------------------------------------
# fixture registry
# --------------------------------------------------------------------------------------------


@dataclass
class Fixture:
    path: str
    verdict: str
    callable: str
    notes: str


class Registry:
    def __init__(self, root: Path):
        self.root = root
        self.items: list[Fixture] = []

    def add(
        self,
        rel: str,
        data: bytes,
        verdict: str,
        callable_: str,
        notes: str,
        proof: bytes | None = None,
        extensions: dict[int, tuple[str, str]] | None = None,
    ) -> None:
        assert verdict in ("safe", "suspicious", "malicious"), verdict
        assert len(data) <= MAX_FILE, f"{rel} is {len(data)} bytes"
        assert "\t" not in notes and "\n" not in notes
        if proof is not None:
            traced = trace_globals(proof, extensions)
            if callable_ != "-":
                assert callable_ in traced, f"{rel}: {callable_} not in {traced}"
                resolved = resolve_stdlib(callable_)
                if resolved and resolved != callable_:
                    notes += f"; the loader resolves it to {resolved}"
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.items.append(Fixture(rel, verdict, callable_, notes))

    def write_manifest(self, path: Path) -> None:
        lines = [
            "# path (relative to tests/fixtures/models)\texpected verdict (safe|suspicious|malicious)"
            "\texpected dangerous callable (module.name as spelled in the pickle) or -\tnotes"
        ]
        for item in sorted(self.items, key=lambda f: f.path):
            lines.append(f"{item.path}\t{item.verdict}\t{item.callable}\t{item.notes}")
        path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# zip / tar / 7z helpers (deterministic, and tampering at the byte level)
# --------------------------------------------------------------------------------------------


def build_zip(members: list[tuple[str, bytes]], deflate: set[str] | None = None) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED if name in (deflate or set()) else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compresslevel=6 if name in (deflate or set()) else None)
    return out.getvalue()


def zip_members(data: bytes) -> list[tuple[str, bytes]]:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


@dataclass
class ZipEntry:
    name: str
    central: int  # offset of the central-directory header
    local: int  # offset of the local file header
    data: int  # offset of the member's data
    csize: int
    flags: int


def zip_entries(data: bytes) -> list[ZipEntry]:
    eocd = data.rfind(b"PK\x05\x06")
    count, _size, cd = struct.unpack_from("<HII", data, eocd + 10)
    entries, pos = [], cd
    for _ in range(count):
        assert data[pos : pos + 4] == b"PK\x01\x02"
        flags = struct.unpack_from("<H", data, pos + 8)[0]
        csize = struct.unpack_from("<I", data, pos + 20)[0]
        nlen, elen, clen = struct.unpack_from("<HHH", data, pos + 28)
        local = struct.unpack_from("<I", data, pos + 42)[0]
        name = data[pos + 46 : pos + 46 + nlen].decode()
        lnlen, lelen = struct.unpack_from("<HH", data, local + 26)
        entries.append(ZipEntry(name, pos, local, local + 30 + lnlen + lelen, csize, flags))
        pos += 46 + nlen + elen + clen
    return entries


def zip_entry(data: bytes, name: str) -> ZipEntry:
    return next(e for e in zip_entries(data) if e.name == name)


def zip_set_flag(data: bytes, name: str, bit: int) -> bytes:
    """Set a general-purpose flag bit in both the local and the central header."""
    buf, e = bytearray(data), zip_entry(data, name)
    struct.pack_into("<H", buf, e.local + 6, struct.unpack_from("<H", buf, e.local + 6)[0] | bit)
    struct.pack_into("<H", buf, e.central + 8, struct.unpack_from("<H", buf, e.central + 8)[0] | bit)
    return bytes(buf)


def zip_bad_crc(data: bytes, name: str) -> bytes:
    """Store a wrong CRC-32 (local and central) while leaving the member's data intact."""
    buf, e = bytearray(data), zip_entry(data, name)
    for off in (e.local + 14, e.central + 16):
        struct.pack_into("<I", buf, off, struct.unpack_from("<I", buf, off)[0] ^ 0x5A5A5A5A)
    return bytes(buf)


def zip_rename_local(data: bytes, name: str, new_name: str) -> bytes:
    """Local header says `new_name`, central directory still says `name` (same length)."""
    assert len(new_name) == len(name)
    buf, e = bytearray(data), zip_entry(data, name)
    buf[e.local + 30 : e.local + 30 + len(name)] = new_name.encode()
    return bytes(buf)


def zip_replace_same_size(data: bytes, name: str, new: bytes) -> bytes:
    """Overwrite a STORED member in place and fix every CRC copy (local, descriptor, central)."""
    buf, e = bytearray(data), zip_entry(data, name)
    assert e.csize == len(new), (name, e.csize, len(new))
    buf[e.data : e.data + len(new)] = new
    crc = zlib.crc32(new)
    struct.pack_into("<I", buf, e.central + 16, crc)
    if e.flags & 0x8:  # data descriptor after the data, optionally with its signature
        desc = e.data + len(new)
        desc += 4 if buf[desc : desc + 4] == b"PK\x07\x08" else 0
        struct.pack_into("<I", buf, desc, crc)
    if struct.unpack_from("<I", buf, e.local + 14)[0] != 0 or not e.flags & 0x8:
        struct.pack_into("<I", buf, e.local + 14, crc)
    return bytes(buf)


def pin_serialization_id(data: bytes, seed: str) -> bytes:
    """torch writes a random 40-digit `.data/serialization_id`; make it a function of `seed`."""
    for entry in zip_entries(data):
        if entry.name.endswith(".data/serialization_id"):
            digits = str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[: entry.csize]
            data = zip_replace_same_size(data, entry.name, digits.zfill(entry.csize).encode())
    return data


def build_tar(members: list[tuple[str, bytes]], gzip_it: bool = False) -> bytes:
    import gzip
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), TAR_MTIME, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tf.addfile(info, io.BytesIO(data))
    raw = out.getvalue()
    return gzip.compress(raw, compresslevel=6, mtime=0) if gzip_it else raw


def build_7z(members: list[tuple[str, bytes]]) -> bytes:
    import py7zr

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (name, data) in enumerate(members):
            path = Path(tmp, f"m{i}")
            path.write_bytes(data)
            os.utime(path, (315532800, 315532800))  # 1980-01-01: py7zr stores file mtimes
            paths.append((path, name))
        out = io.BytesIO()
        with py7zr.SevenZipFile(out, "w") as archive:
            for path, name in paths:
                archive.write(path, name)
        return out.getvalue()


def zipcrypto_zip(name: str, plain: bytes, password: bytes) -> bytes:
    """A one-member zip encrypted with traditional PKWARE (ZipCrypto) encryption, written by hand
    because the standard library can only read it. Deterministic 12-byte encryption header."""
    table = [0] * 256
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table[i] = c
    keys = [0x12345678, 0x23456789, 0x34567890]

    def update(byte: int) -> None:
        keys[0] = (keys[0] >> 8) ^ table[(keys[0] ^ byte) & 0xFF]
        keys[1] = (keys[1] + (keys[0] & 0xFF)) & 0xFFFFFFFF
        keys[1] = (keys[1] * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = (keys[2] >> 8) ^ table[(keys[2] ^ (keys[1] >> 24)) & 0xFF]

    def encrypt(data: bytes) -> bytes:
        out = bytearray()
        for p in data:
            temp = (keys[2] | 2) & 0xFFFF
            out.append(p ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
            update(p)
        return bytes(out)

    for byte in password:
        update(byte)
    crc = zlib.crc32(plain)
    header = bytes(range(1, 12)) + bytes([crc >> 24])
    body = encrypt(header + plain)
    fname = name.encode()
    dostime, dosdate = 0, (0 << 9) | (1 << 5) | 1
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0x1, 0, dostime, dosdate, crc, len(body), len(plain), len(fname), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50, 20, 20, 0x1, 0, dostime, dosdate, crc, len(body), len(plain), len(fname), 0, 0, 0, 0,
        0o644 << 16, 0,
    )
    cd_offset = len(local) + len(fname) + len(body)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(fname), cd_offset, 0)
    return local + fname + body + central + fname + eocd


# --------------------------------------------------------------------------------------------
# pickle-level helpers
# --------------------------------------------------------------------------------------------


def unicode_op(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def short_unicode(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def inject_after_proto(original: bytes, module: str = "os", name: str = "system") -> bytes:
    """What injection tools do to a real checkpoint: after PROTO, call module.name(SHELL), POP the
    result, then let the original stream build the original object as if nothing happened."""
    assert original[:1] == b"\x80", "expected a PROTO header"
    payload = f"c{module}\n{name}\n".encode() + unicode_op(SHELL) + b"\x85R0"  # TUPLE1 REDUCE POP
    return original[:2] + payload + original[2:]


def split_pickles(data: bytes, count: int) -> tuple[list[bytes], bytes]:
    """Cut `count` consecutive pickles off the front of `data` (legacy torch layout)."""
    import pickletools

    stream, parts = io.BytesIO(data), []
    for _ in range(count):
        start = stream.tell()
        for _op in pickletools.genops(stream):
            pass
        parts.append(data[start : stream.tell()])
    return parts, data[stream.tell() :]


# --------------------------------------------------------------------------------------------
# the fixtures
# --------------------------------------------------------------------------------------------


def sklearn_data():
    import numpy as np

    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def dump_joblib(obj, compress) -> bytes:
    import joblib

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "model.joblib")
        joblib.dump(obj, path, compress=compress)
        return path.read_bytes()


def torch_save(obj, stem: str, **kwargs) -> bytes:
    """torch.save to a real path, so the archive's root folder is the file stem as in the wild."""
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, f"{stem}.pt")
        torch.save(obj, path, **kwargs)
        data = path.read_bytes()
    return pin_serialization_id(data, stem) if data[:2] == b"PK" else data


def make_legacy_deterministic(data: bytes) -> bytes:
    """Legacy torch files key their storages by memory address and write them in the sorted order
    of those keys. Rename the keys to '0','1',... in order of first use in the main pickle and
    reorder the keys list and the raw storage tail to match, so the bytes stop depending on
    addresses. (Only float32 storages are expected here: 8-byte element count + 4 bytes each.)"""
    import pickletools

    (magic, proto, sys_info, main, keys_pickle), tail = split_pickles(data, 5)
    storage_types = {a for op, a, _ in pickletools.genops(main) if op.name == "GLOBAL" and a.endswith("Storage")}
    assert storage_types == {"torch FloatStorage"}, storage_types
    keys = pickle.loads(keys_pickle)  # a plain list of str, written by torch itself just now
    blobs, pos = {}, 0
    for key in keys:
        count = struct.unpack_from("<q", tail, pos)[0]
        blobs[key], pos = tail[pos : pos + 8 + 4 * count], pos + 8 + 4 * count
    assert pos == len(tail)
    order = sorted(keys, key=lambda k: main.index(unicode_op(k)))
    rename = {key: str(index) for index, key in enumerate(order)}
    for old, new in rename.items():
        main = main.replace(unicode_op(old), unicode_op(new))
    new_keys = sorted(rename.values())  # torch writes sorted(keys)
    original_of = {new: old for old, new in rename.items()}
    keys_pickle = pickle.dumps(new_keys, protocol=2)
    tail = b"".join(blobs[original_of[key]] for key in new_keys)
    return magic + proto + sys_info + main + keys_pickle + tail


class TinyNet:  # replaced by a torch.nn.Module subclass in make_torch_classes()
    pass


def make_torch_classes():
    import torch

    global TinyNet

    class TinyNet(torch.nn.Module):  # noqa: F811 - defined at module level for pickle's sake
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(4, 3)
            self.fc2 = torch.nn.Linear(3, 2)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    TinyNet.__module__ = "__main__"
    TinyNet.__qualname__ = "TinyNet"
    return TinyNet


SCRIPTED_SOURCE = """\
import torch


class TinyScripted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 3)
        self.fc2 = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))
"""


def scriptable_net():
    """TorchScript stores the Python source path in code/*.debug_pkl: compile the module from a
    string under a fixed file name (registered in linecache so torch.jit can read the source)."""
    import linecache
    import types

    import torch

    name = "mlvet_fixture_net"
    filename = f"{name}.py"
    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(SCRIPTED_SOURCE), None, SCRIPTED_SOURCE.splitlines(True), filename)
    sys.modules[name] = module
    exec(compile(SCRIPTED_SOURCE, filename, "exec"), module.__dict__)
    torch.manual_seed(0)
    return module.TinyScripted()


def gen_sklearn(reg: Registry) -> None:
    import sklearn
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = sklearn_data()
    v = f"scikit-learn {sklearn.__version__}"
    logreg = LogisticRegression(max_iter=200).fit(X, y)
    reg.add("safe/sklearn_logreg_p5.pkl", pickle.dumps(logreg, protocol=5), "safe", "-",
            f"{v} LogisticRegression, pickle protocol 5")
    forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    reg.add("safe/sklearn_random_forest_p5.pkl", pickle.dumps(forest, protocol=5), "safe", "-",
            f"{v} RandomForestClassifier(3 trees, depth 3), protocol 5: tree arrays as numpy reconstruct")
    reg.add("safe/sklearn_random_forest.joblib", dump_joblib(forest, 0), "safe", "-",
            f"{v} same forest via joblib.dump uncompressed: raw numpy buffers sit between pickle opcodes")
    pipe = Pipeline([("scale", StandardScaler()), ("svc", SVC(random_state=0))]).fit(X, y)
    reg.add("safe/sklearn_pipeline_scaler_svc_p5.pkl", pickle.dumps(pipe, protocol=5), "safe", "-",
            f"{v} Pipeline(StandardScaler, SVC), protocol 5")
    gb = GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0).fit(X, y)
    for proto in (2, 4, 5):
        reg.add(f"safe/sklearn_gradient_boosting_p{proto}.pkl", pickle.dumps(gb, protocol=proto), "safe",
                "-", f"{v} GradientBoostingClassifier(5 stages), pickle protocol {proto}")
    variants = [
        ("", 0, "joblib.dump uncompressed (raw numpy buffers inline)"),
        ("_zlib3", 3, "joblib.dump compress=3 (raw zlib stream, no joblib header)"),
        ("_gzip", ("gzip", 3), "joblib.dump compress=('gzip', 3)"),
        ("_bz2", ("bz2", 3), "joblib.dump compress=('bz2', 3)"),
        ("_xz", ("xz", 3), "joblib.dump compress=('xz', 3)"),
        ("_lzma", ("lzma", 3), "joblib.dump compress=('lzma', 3): raw .lzma (alone) format"),
        ("_lz4", ("lz4", 3), "joblib.dump compress=('lz4', 3): lz4 frame format"),
    ]
    for suffix, compress, what in variants:
        reg.add(f"safe/sklearn_gradient_boosting{suffix}.joblib", dump_joblib(gb, compress), "safe", "-",
                f"{v} GradientBoostingClassifier, {what}")


def gen_boosters(reg: Registry) -> None:
    X, y = sklearn_data()
    try:
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=5, num_leaves=4, min_child_samples=2,
                                        random_state=0, verbose=-1, n_jobs=1).fit(X, y)
        reg.add("safe/lightgbm_classifier_p5.pkl", pickle.dumps(model, protocol=5), "safe", "-",
                f"lightgbm {lightgbm.__version__} LGBMClassifier, protocol 5 (booster as model string)")
    except ImportError:
        print("lightgbm not installed: skipped", file=sys.stderr)
    try:
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=3, max_depth=2, random_state=0, n_jobs=1).fit(X, y)
        reg.add("safe/xgboost_classifier_p5.pkl", pickle.dumps(model, protocol=5), "safe", "-",
                f"xgboost {xgboost.__version__} XGBClassifier, protocol 5 (booster as raw UBJSON bytes)")
    except ImportError:
        print("xgboost not installed: skipped", file=sys.stderr)


def npy_bytes(array, allow_pickle=False) -> bytes:
    import numpy as np

    out = io.BytesIO()
    np.save(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


def npz_bytes(compressed=False, **arrays) -> bytes:
    import numpy as np

    out = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(out, **arrays)
    return out.getvalue()


def gen_numpy_pandas_scipy(reg: Registry) -> None:
    import numpy as np
    import pandas as pd
    import scipy
    import scipy.sparse

    v = f"numpy {np.__version__}"
    floats = np.arange(24, dtype=np.float32).reshape(4, 6) / 7
    reg.add("safe/numpy_float32.npy", npy_bytes(floats), "safe", "-", f"{v} float32 (4,6) array: no pickle")
    ints = np.arange(10, dtype=np.int64)
    reg.add("safe/numpy_arrays.npz", npz_bytes(weights=floats, ids=ints), "safe", "-",
            f"{v} np.savez of two numeric arrays (stored zip)")
    reg.add("safe/numpy_arrays_compressed.npz", npz_bytes(True, weights=floats, ids=ints), "safe", "-",
            f"{v} np.savez_compressed (deflated zip members)")
    objects = np.array([1, "two", {"three": 3.0}, [4, 5], None, (6,)], dtype=object)
    reg.add("safe/numpy_object_builtins.npy", npy_bytes(objects, allow_pickle=True), "safe", "-",
            f"{v} object array holding only builtins: the body is a pickle (numpy reconstruct + dtype)")
    reg.add("safe/numpy_object_builtins.npz", npz_bytes(objs=objects, weights=floats), "safe", "-",
            f"{v} np.savez with an object array member (pickle inside the npy inside the zip)")
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "z"]})
    reg.add("safe/pandas_dataframe_p5.pkl", pickle.dumps(frame, protocol=5), "safe", "-",
            f"pandas {pd.__version__} DataFrame (int, float, str columns), protocol 5")
    sparse = scipy.sparse.csr_matrix(np.eye(5, dtype=np.float64) * 2)
    reg.add("safe/scipy_csr_matrix_p5.pkl", pickle.dumps(sparse, protocol=5), "safe", "-",
            f"scipy {scipy.__version__} csr_matrix 5x5, protocol 5")
    reg.add("safe/builtins_only_p4.pkl", pickle.dumps({"labels": ["cat", "dog"], "thresh": 0.5,
                                                       "shape": (3, 4), "ok": True}, protocol=4),
            "safe", "-", "plain dict/list/tuple/str/float/bool pickle: no globals at all")


def gen_real_library_regressions(reg: Registry) -> None:
    """Benign files of the real libraries that mlvet once reported (the sweep of every estimator,
    dtype and container these libraries write); each must stay safe."""
    import warnings

    import numpy as np
    import pandas as pd
    import sklearn
    from sklearn.cluster import BisectingKMeans, FeatureAgglomeration, HDBSCAN
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import SplineTransformer
    from scipy.interpolate import interp1d

    warnings.filterwarnings("ignore")
    sk = f"scikit-learn {sklearn.__version__}"
    pdv = f"pandas {pd.__version__}"
    x, y = sklearn_data()
    index = pd.date_range("2024-01-01", periods=3, freq="D", tz="Europe/Paris")
    tz_frame = pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=index)
    for proto in (2, 5):
        reg.add(f"safe/pandas_tz_index_p{proto}.pkl", pickle.dumps(tz_frame, protocol=proto), "safe", "-",
                f"{pdv} DataFrame with a zoneinfo time-zone index, protocol {proto}: the classmethod "
                "ZoneInfo._unpickle is written as builtins.getattr(zoneinfo.ZoneInfo, '_unpickle') (protocol 2) "
                "and must be resolved statically, not reported as the getattr trampoline")
    dtypes_frame = pd.DataFrame({
        "cat": pd.Categorical(["x", "y", "x"]),
        "per": pd.period_range("2024-01", periods=3, freq="M"),
        "iv": pd.interval_range(0, 3),
        "sp": pd.arrays.SparseArray([0, 0, 1]),
        "str": pd.array(["a", None, "c"], dtype="string"),
        "i": pd.array([1, None, 3], dtype="Int64"),
        "td": pd.to_timedelta([1, 2, 3], unit="s"),
    })
    dtypes_frame.index = pd.MultiIndex.from_tuples([("a", 1), ("b", 2), ("c", 3)], names=["k", "n"])
    reg.add("safe/pandas_extension_dtypes_p5.pkl", pickle.dumps(dtypes_frame, protocol=5), "safe", "-",
            f"{pdv} DataFrame with categorical, period, interval, sparse, string, nullable-int and timedelta "
            "columns on a MultiIndex (IntIndex, Cython __pyx_unpickle helpers, pandas.NA)")
    offsets = [pd.offsets.Day(2), pd.offsets.BusinessDay(), pd.offsets.MonthEnd(), pd.offsets.Week(weekday=0), pd.NaT]
    reg.add("safe/pandas_offsets_p4.pkl", pickle.dumps(offsets, protocol=4), "safe", "-",
            f"{pdv} date offsets and NaT, protocol 4")
    import pyarrow as pa
    arrow_frame = pd.DataFrame({"a": pd.array([1, 2, None], dtype="int64[pyarrow]"),
                                "l": pd.array([[1], [2], None], dtype=pd.ArrowDtype(pa.list_(pa.int64())))})
    reg.add("safe/pandas_arrow_dtypes_p5.pkl", pickle.dumps(arrow_frame, protocol=5), "safe", "-",
            f"{pdv} / pyarrow {pa.__version__} ArrowDtype columns: pyarrow.lib._restore_array, py_buffer, "
            "type_for_alias, list_, field")
    reg.add("safe/numpy_generator_p5.pkl", pickle.dumps(np.random.default_rng(0), protocol=5), "safe", "-",
            f"numpy {np.__version__} default_rng(0): bit_generator.__pyx_unpickle_SeedSequence")
    reg.add("safe/numpy_matrix_recarray_p4.pkl",
            pickle.dumps([np.matrix([[1, 2], [3, 4]]), np.rec.array([(1, 2.0)], dtype=[("x", "i4"), ("y", "f8")]),
                          np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])], protocol=4),
            "safe", "-", f"numpy {np.__version__} matrix, recarray and masked array by public names")
    search = GridSearchCV(LogisticRegression(max_iter=200), {"C": [0.1, 1.0]}, cv=2).fit(x, y)
    for key in [k for k in search.cv_results_ if k.endswith("_time")]:  # wall-clock: not reproducible
        search.cv_results_[key] = np.zeros_like(search.cv_results_[key])
    search.refit_time_ = 0.0
    reg.add("safe/sklearn_grid_search_p5.pkl", pickle.dumps(search, protocol=5), "safe", "-",
            f"{sk} GridSearchCV: cv_results_ holds numpy.ma.MaskedArray")
    agglo = FeatureAgglomeration(n_clusters=2).fit(x)
    reg.add("safe/sklearn_feature_agglomeration_p5.pkl", pickle.dumps(agglo, protocol=5), "safe", "-",
            f"{sk} FeatureAgglomeration: pooling_func parameter is numpy.mean")
    spline = SplineTransformer(n_knots=3).fit(x)
    reg.add("safe/sklearn_spline_transformer.joblib", dump_joblib(spline, 3), "safe", "-",
            f"{sk} SplineTransformer, joblib compress=3: scipy BSpline objects and the array-API asarray")
    bisect = BisectingKMeans(n_clusters=2, random_state=0).fit(x)
    reg.add("safe/sklearn_bisecting_kmeans_p5.pkl", pickle.dumps(bisect, protocol=5), "safe", "-",
            f"{sk} BisectingKMeans keeps its plain _BisectingTree node")
    reg.add("safe/sklearn_hdbscan_p4.pkl", pickle.dumps(HDBSCAN(min_cluster_size=3).fit(x), protocol=4), "safe", "-",
            f"{sk} HDBSCAN")
    xs = np.arange(5.0)
    reg.add("safe/scipy_interp1d_p5.pkl", pickle.dumps(interp1d(xs, xs ** 2), protocol=5), "safe", "-",
            "scipy interp1d: keeps its evaluation method as the dotted global interp1d._call_linear_np")


def gen_torch_regressions(reg: Registry, benign: dict[str, bytes]) -> None:
    """Benign torch files that mlvet once reported."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    legacy = make_legacy_deterministic(torch_save(model, "torch_full_model_legacy",
                                                  _use_new_zipfile_serialization=False))
    reg.add("safe/torch_full_model_legacy.pt", legacy, "safe", "-",
            f"torch {torch.__version__} legacy torch.save of a full nn.Sequential: every module class is the "
            "persistent id ('module', cls, file, source) that torch.load returns as cls")
    qs = {"q": torch.quantize_per_tensor(torch.tensor([0.5, 1.0]), 0.1, 10, torch.quint8),
          "sparse": torch.tensor([[0.0, 1.0], [2.0, 0.0]]).to_sparse()}
    reg.add("safe/torch_quantized_sparse.pt", torch_save(qs, "torch_quantized_sparse"), "safe", "-",
            f"torch {torch.__version__} quantized (qscheme constant) and sparse COO tensors")
    stored = build_zip([("bundle/model.pt", benign["state_dict"])])
    reg.add("safe/zip_stored_torch_checkpoint.zip", stored, "safe", "-",
            "a benign torch checkpoint stored (not deflated) inside a zip, like the sample_inputs/model.pt of "
            "torch.export's .pt2: the inner end-of-central-directory record lies inside member data")


def gen_parser_regressions(reg: Registry) -> None:
    """Malicious tricks that need the simulator, not a name list."""
    cmd = SHELL.encode()
    hidden = b"cos\nsystem\n(V" + cmd + b"\ntR0"
    body = b"\x07\x01\x00\x00\x00" + b"Z" + hidden
    body += b"P" * (0x107 - len(body[4:]))
    frame = b"\x80\x05" + b"\x95" + struct.pack("<Q", 2) + b"B" + body + b"0N."
    reg.add("malicious/frame_divergence_binbytes.pkl", frame, "malicious", "-",
            "C12: FRAME of 2 bytes cuts BINBYTES' 4-byte length; pickle.loads/pickletools read a 0x107-byte literal, "
            "the C unpickler reading a file object without peek (BytesIO, unbuffered file, torch zip record) drops "
            "the frame rest, reads length 1 and executes the hidden GLOBAL os system REDUCE (measured with a print probe)")
    getattr_then_dynamic = (b"\x80\x04" + short_unicode("builtins") + short_unicode("getattr") + b"\x93\x94"
                            + short_unicode("zoneinfo") + short_unicode("ZoneInfo") + b"\x93"
                            + short_unicode("_unpickle") + b"\x86R0"
                            + b"h\x00" + short_unicode("collections") + short_unicode("OrderedDict") + b"\x93)R"
                            + short_unicode("keys") + b"\x86R.")
    reg.add("malicious/getattr_folded_then_dynamic.pkl", getattr_then_dynamic, "malicious", "builtins.getattr",
            "getattr used once statically (getattr(zoneinfo.ZoneInfo, '_unpickle'), resolved) and once on a computed "
            "object from the memo: the trampoline stays reported", proof=getattr_then_dynamic)
    for module, name, what in [("torch", "ops.load_library", "loads a shared library"),
                               ("sklearn.utils._joblib", "load", "joblib.load re-exported by scikit-learn")]:
        payload = b"\x80\x04" + short_unicode(module) + short_unicode(name) + b"\x93" + short_unicode("/tmp/x") + b"\x85R."
        reg.add(f"malicious/{module.replace('.', '_')}_{name.replace('.', '_')}_p4.pkl", payload, "malicious",
                f"{module}.{name}", f"{module}.{name} {what}", proof=payload)


def gen_torch_benign(reg: Registry) -> dict[str, bytes]:
    import torch

    torch.manual_seed(0)
    v = f"torch {torch.__version__}"
    net = TinyNet()
    state = net.state_dict()
    out: dict[str, bytes] = {}
    out["state_dict"] = torch_save(state, "torch_state_dict")
    reg.add("safe/torch_state_dict.pt", out["state_dict"], "safe", "-",
            f"{v} torch.save(state_dict) zip format; root folder 'torch_state_dict/', data descriptors (flag 0x8)")
    legacy = make_legacy_deterministic(torch_save(state, "legacy", _use_new_zipfile_serialization=False))
    out["legacy"] = legacy
    reg.add("safe/torch_state_dict_legacy.pt", legacy, "safe", "-",
            f"{v} _use_new_zipfile_serialization=False: magic, protocol, sys_info, main, keys pickles + raw storages; storage keys renamed 0,1,.. for determinism")
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.ones(2, 4)).sum().backward()
    optimizer.step()
    reg.add("safe/torch_optimizer_state.pt", torch_save(optimizer.state_dict(), "torch_optimizer_state"),
            "safe", "-", f"{v} Adam optimizer state_dict after one step (step tensors, exp_avg, param_groups)")
    dtypes = {
        "bf16": torch.arange(6, dtype=torch.float32).to(torch.bfloat16),
        "fp16": torch.linspace(0, 1, 5).to(torch.float16),
        "i8": torch.tensor([-3, 0, 7], dtype=torch.int8),
        "u8": torch.tensor([1, 2, 255], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True]),
        "i64": torch.tensor([1, 2], dtype=torch.int64),
    }
    reg.add("safe/torch_state_dict_dtypes.pt", torch_save(dtypes, "torch_state_dict_dtypes"), "safe", "-",
            f"{v} tensors of bfloat16/float16/int8/uint8/bool/int64 (BFloat16Storage, BoolStorage, ...)")
    return out


def gen_torch_suspicious(reg: Registry) -> None:
    import warnings

    import torch

    torch.manual_seed(0)
    v = f"torch {torch.__version__}"
    net = TinyNet()
    reg.add("suspicious/torch_whole_module_main.pt", torch_save(net, "torch_whole_module_main"),
            "suspicious", "-",
            f"{v} torch.save(nn.Module) of a class defined in __main__: pickle names __main__.TinyNet, whose code is not in the file (unknown global)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(scriptable_net())
        buf_dir = tempfile.mkdtemp()
        path = Path(buf_dir, "torchscript_module.pt")
        torch.jit.save(scripted, str(path))
        data = pin_serialization_id(path.read_bytes(), "torchscript_module")
        shutil.rmtree(buf_dir)
    reg.add("suspicious/torchscript_module.pt", data, "suspicious", "-",
            f"{v} torch.jit.save(torch.jit.script(module)): code/__torch__/*.py TorchScript runs when the model is called; pickles name __torch__.* classes resolved by the TorchScript loader, not Python import. Labelled suspicious (executable code present, not statically vetted)")


def gen_suspicious_misc(reg: Registry) -> None:
    import types

    # A real instance of a class from a package the scanner has never heard of.
    pkg, mod = types.ModuleType("mypkg"), types.ModuleType("mypkg.models")
    Custom = type("Custom", (), {"__module__": "mypkg.models"})
    mod.Custom, pkg.models = Custom, mod
    sys.modules["mypkg"], sys.modules["mypkg.models"] = pkg, mod
    obj = Custom()
    obj.weights, obj.name = [0.1, 0.2, 0.3], "tiny"
    try:
        data = pickle.dumps(obj, protocol=4)
    finally:
        del sys.modules["mypkg"], sys.modules["mypkg.models"]
    reg.add("suspicious/unknown_class_mypkg.pkl", data, "suspicious", "mypkg.models.Custom",
            "instance of third-party class mypkg.models.Custom (STACK_GLOBAL + NEWOBJ + BUILD): importing it runs unknown code",
            proof=data)
    whole = pickle.dumps({"weights": [0.25] * 8, "name": "tiny"}, protocol=4)
    reg.add("suspicious/truncated_no_payload.pkl", whole[:-7], "suspicious", "-",
            "benign dict pickle cut 7 bytes short (no STOP): not fully inspectable, no dangerous global")
    inner = pickle.dumps({"weights": [1.0, 2.0]}, protocol=4)
    reg.add("suspicious/zip_encrypted_member.zip", zipcrypto_zip("model.pkl", inner, b"mlvet"),
            "suspicious", "-",
            "zip whose only member model.pkl is ZipCrypto-encrypted (flag 0x1, password 'mlvet'; content is a benign dict pickle): cannot be inspected")


def gen_reduce_payloads(reg: Registry) -> None:
    for proto in range(6):
        data = pickle.dumps(OsSystem(), protocol=proto)
        reg.add(f"malicious/reduce_os_system_p{proto}.pkl", data, "malicious", "posix.system",
                f"__reduce__ -> os.system('{SHELL}'), pickle protocol {proto} (pickle spells os.system as posix.system on Linux)",
                proof=data)
    cases = [
        ("reduce_subprocess_popen_p4.pkl", SubprocessPopen(), "subprocess.Popen", "subprocess.Popen(['echo','pwned'])"),
        ("reduce_builtins_exec_p4.pkl", BuiltinsExec(), "builtins.exec", "builtins.exec(code string)"),
        ("reduce_builtins_eval_p4.pkl", BuiltinsEval(), "builtins.eval", "builtins.eval(code string)"),
        ("getattr_trampoline_p4.pkl", Trampoline(ImportOs()), "builtins.getattr",
         "getattr(__import__('os'), 'system')('echo pwned'): builtins.__import__ + builtins.getattr, the callable is a REDUCE result"),
        ("importlib_import_module_p4.pkl", Trampoline(ImportModuleOs()), "importlib.import_module",
         "getattr(importlib.import_module('os'), 'system')('echo pwned')"),
    ]
    for name, obj, callable_, what in cases:
        data = pickle.dumps(obj, protocol=4)
        reg.add(f"malicious/{name}", data, "malicious", callable_, what, proof=data)

    first = pickle.dumps({"weights": [0.5, 0.25]}, protocol=4)
    evil = pickle.dumps(OsSystem(), protocol=4)
    reg.add("malicious/two_pickles_payload_second.pkl", first + evil, "malicious", "posix.system",
            "benign pickle followed by a second pickle whose __reduce__ calls os.system (pickle.load called twice)",
            proof=first + evil)
    garbage = evil + b"\x00\xffnot-a-pickle\xde\xad\xbe\xef" * 4
    reg.add("malicious/payload_then_garbage.pkl", garbage, "malicious", "posix.system",
            "complete malicious pickle followed by 68 garbage bytes", proof=garbage)
    broken = pickle.dumps(OsSystem(), protocol=2)[:-1] + b"\xff\xfe garbage"
    reg.add("malicious/broken_after_reduce.pkl", broken, "malicious", "posix.system",
            "nullifAI style: REDUCE runs before the unpickler hits an invalid opcode (no STOP)", proof=broken)
    import gzip

    gz = gzip.compress(pickle.dumps(OsSystem(), protocol=4), compresslevel=6, mtime=0)
    reg.add("malicious/gzip_pickle_payload.pkl.gz", gz, "malicious", "posix.system",
            "gzip-wrapped malicious pickle (pandas.read_pickle infers gzip from .gz; joblib.load sniffs gzip magic)",
            proof=gzip.decompress(gz))


def gen_code_object_payloads(reg: Registry) -> None:
    import cloudpickle
    import dill

    source = f"lambda: __import__('os').system({SHELL!r})"
    # compiled with a fixed file name so no local path leaks into the code object
    fn = eval(compile(source, "<mlvet-fixture>", "eval"), {"__name__": "__main__"})
    data = dill.dumps(fn, protocol=4, recurse=True)
    reg.add("malicious/dill_lambda.pkl", data, "malicious", "dill._dill._create_code",
            f"dill {dill.__version__} dumps of `{source}`: code object rebuilt by dill._dill._create_code/_create_function (CPython 3.11 bytecode)",
            proof=data)
    data = cloudpickle.dumps(fn, protocol=4)
    reg.add("malicious/cloudpickle_lambda.pkl", data, "malicious", "cloudpickle.cloudpickle._builtin_type",
            f"cloudpickle {cloudpickle.__version__} dumps of `{source}`: _builtin_type('CodeType') + _make_function (CPython 3.11 bytecode)",
            proof=data)


def gen_disguises(reg: Registry) -> None:
    stop = b"."
    call = short_unicode(SHELL) + b"\x85R"  # 'echo pwned' TUPLE1 REDUCE
    # STACK_GLOBAL whose operands come from the memo, not from adjacent string opcodes
    memo = (b"\x80\x04" + short_unicode("os") + b"\x94" + short_unicode("system") + b"\x94" + b"00"
            + b"h\x00h\x01\x93" + call + stop)
    reg.add("malicious/stack_global_memo_strings_p4.pkl", memo, "malicious", "os.system",
            "hand-written protocol 4: 'os','system' MEMOIZEd then POPped; STACK_GLOBAL gets them back via BINGET 0/1",
            proof=memo)
    desync = (b"\x80\x04" + short_unicode("os") + b"K\x070q\x00" + b"0" + short_unicode("system") + b"q\x01"
              + b"0h\x00h\x01\x93" + call + stop)
    reg.add("malicious/memo_pop_desync_p4.pkl", desync, "malicious", "os.system",
            "memo/stack desync: 'os'; BININT1 7; POP; BINPUT 0 stores 'os' (a tracker that records the previous opcode's argument sees None); BINGET 0/1 STACK_GLOBAL",
            proof=desync)
    dotted = b"\x80\x04" + short_unicode("pathlib") + short_unicode("os.system") + b"\x93" + call + stop
    reg.add("malicious/dotted_pathlib_os_system_p4.pkl", dotted, "malicious", "pathlib.os.system",
            "protocol 4 dotted name: STACK_GLOBAL('pathlib', 'os.system') walks pathlib.os.system",
            proof=dotted)
    dotted_eval = (b"\x80\x04" + short_unicode("builtins") + short_unicode("eval.__call__") + b"\x93"
                   + short_unicode(f"__import__('os').system({SHELL!r})") + b"\x85R" + stop)
    reg.add("malicious/dotted_builtins_eval_call_p4.pkl", dotted_eval, "malicious", "builtins.eval.__call__",
            "protocol 4 dotted name builtins / eval.__call__ (modelscan malicious13 style)", proof=dotted_eval)
    compat = pickle.dumps(BuiltinsEval(), protocol=2, fix_imports=True)
    reg.add("malicious/compat_builtin_eval_p2.pkl", compat, "malicious", "__builtin__.eval",
            "pickle.dumps(protocol=2) writes Python 2 names: GLOBAL '__builtin__ eval'; _compat_pickle maps it back on load",
            proof=compat)
    commands = b"\x80\x02ccommands\ngetoutput\n" + unicode_op(SHELL) + b"\x85R."
    reg.add("malicious/compat_commands_getoutput_p2.pkl", commands, "malicious", "commands.getoutput",
            "hand-written protocol 2 GLOBAL 'commands getoutput': _compat_pickle.NAME_MAPPING turns it into subprocess.getoutput",
            proof=commands)
    ext_code = 0xF00D
    # EXT4 (0x84) takes a 4-byte code; EXT2 (0x83) would read only two of these bytes.
    ext = b"\x80\x02\x84" + struct.pack("<I", ext_code) + unicode_op(SHELL) + b"\x85R."
    reg.add("malicious/ext4_registered_callable.pkl", ext, "malicious", "-",
            f"EXT4 code {ext_code}: callable comes from copyreg's extension registry (empty by default, so load fails unless the victim registered the code — proven with posix.system registered); no GLOBAL anywhere; no legitimate writer emits EXT opcodes",
            proof=ext, extensions={ext_code: ("posix", "system")})
    assert "posix.system" in trace_globals(ext, {ext_code: ("posix", "system")})


def gen_container_payloads(reg: Registry, benign: dict[str, bytes]) -> None:
    evil_pickle = pickle.dumps(OsSystem(), protocol=4)

    # torch zip checkpoint whose data.pkl was rewritten: payload + the original data
    members = zip_members(benign["state_dict"])
    root = members[0][0].split("/")[0]
    data_pkl_name = f"{root}/data.pkl"
    original = dict(members)[data_pkl_name]
    injected = inject_after_proto(original)
    rebuilt = [(n.replace(root, "archive", 1), injected if n == data_pkl_name else d) for n, d in members]
    injected_zip = build_zip(rebuilt)
    reg.add("malicious/torch_injected_data_pkl.pt", injected_zip, "malicious", "os.system",
            "real torch.save checkpoint rebuilt with zipfile; archive/data.pkl = PROTO, GLOBAL os system, REDUCE, POP, then the original state_dict stream (torch.load returns the real weights)",
            proof=injected)
    extra = rebuilt + [("archive/extra.pkl", evil_pickle)]
    reg.add("malicious/torch_payload_extra_member.pt", build_zip(extra), "malicious", "posix.system",
            "benign torch checkpoint plus member archive/extra.pkl holding a malicious pickle; torch.load never reads it (dormant payload, a second-stage loader would)",
            proof=evil_pickle)

    # tampered zips: the injected checkpoint with container-level tricks
    tampers = [
        ("bad_crc", lambda z: zip_bad_crc(z, "archive/data.pkl"), "wrong CRC-32 for archive/data.pkl (local + central)"),
        ("flag_0x1", lambda z: zip_set_flag(z, "archive/data.pkl", 0x1), "flag bit 0x1 'encrypted' on a stored, unencrypted data.pkl"),
        ("flag_0x8", lambda z: zip_set_flag(z, "archive/data.pkl", 0x8), "flag bit 0x8 'data descriptor' set but no descriptor present"),
        ("flag_0x20", lambda z: zip_set_flag(z, "archive/data.pkl", 0x20), "flag bit 0x20 'compressed patched data'"),
        ("flag_0x40", lambda z: zip_set_flag(z, "archive/data.pkl", 0x40), "flag bit 0x40 'strong encryption'"),
        ("name_mismatch", lambda z: zip_rename_local(z, "archive/data.pkl", "archive/datX.pkl"),
         "local header names archive/datX.pkl, central directory archive/data.pkl"),
    ]
    for key, tamper, what in tampers:
        reg.add(f"malicious/torch_injected_{key}.pt", tamper(injected_zip), "malicious", "os.system",
                f"injected checkpoint with {what}; {TOLERANCE_NOTES.get(key, 'torch.load tolerance: see loader-tolerance.tsv')}",
                proof=injected)
    deflated = build_zip(rebuilt, deflate={"archive/data.pkl"})
    reg.add("malicious/torch_injected_deflated.pt", deflated, "malicious", "os.system",
            f"injected checkpoint whose data.pkl is DEFLATE-compressed (torch writes STORED); {TOLERANCE_NOTES.get('deflated', '')}",
            proof=injected)
    # legacy (non-zip) torch files
    (magic, proto, sys_info, main, keys), tail = split_pickles(benign["legacy"], 5)
    real_sys_info = pickle.loads(sys_info)  # plain dict written by torch in this run
    evil_sys_info = pickle.dumps({**real_sys_info, "build": OsSystem()}, protocol=2)
    data = magic + proto + evil_sys_info + main + keys + tail
    reg.add("malicious/torch_legacy_payload_sys_info.pt", data, "malicious", "posix.system",
            "legacy torch file: the 3rd pickle (sys_info, unpickled and discarded by torch.load) carries a __reduce__ payload",
            proof=evil_sys_info)
    data = magic + proto + sys_info + inject_after_proto(main) + keys + tail
    reg.add("malicious/torch_legacy_payload_main_pickle.pt", data, "malicious", "os.system",
            "legacy torch file: payload injected at the start of the 4th (main) pickle, storages follow; modelscan reads only the 1st pickle",
            proof=inject_after_proto(main))
    # 'storages' holds two pickles: the storage count, then the list of storage views
    storages = pickle.dumps(OsSystem(), protocol=2) + pickle.dumps([], protocol=2)
    tar_members = [
        ("sys_info", sys_info),
        ("storages", storages),
        ("tensors", pickle.dumps(0, protocol=2)),
        ("pickle", pickle.dumps({"weights": []}, protocol=2)),
    ]
    reg.add("malicious/torch_legacy_tar_payload.pt", build_tar(tar_members), "malicious", "posix.system",
            f"legacy PyTorch tar format (sys_info, storages, tensors, pickle): 'storages' is unpickled first and os.system returns 0 = the storage count; {TOLERANCE_NOTES.get('legacy_tar', '')}",
            proof=storages)

    # joblib with a malicious attribute on a real estimator
    from sklearn.linear_model import LogisticRegression

    X, y = sklearn_data()
    model = LogisticRegression(max_iter=200).fit(X, y)
    # first in __dict__, so the payload is pickled before the raw numpy buffers joblib inlines
    model.__dict__ = {"callback_": OsSystem(), **model.__dict__}
    for suffix, compress, what in (("", 0, "uncompressed"), ("_zlib3", 3, "compress=3 (zlib)")):
        data = dump_joblib(model, compress)
        reg.add(f"malicious/joblib_estimator_payload{suffix}.joblib", data, "malicious", "posix.system",
                f"joblib.dump {what} of a fitted LogisticRegression carrying an attribute whose __reduce__ calls os.system",
                proof=zlib.decompress(data) if compress else data)

    # numpy object arrays
    import numpy as np

    arr = np.array([OsSystem(), 1.5, "w"], dtype=object)
    npy = npy_bytes(arr, allow_pickle=True)
    header_len = struct.unpack_from("<H", npy, 8)[0]
    reg.add("malicious/numpy_object_payload.npy", npy, "malicious", "posix.system",
            "np.save of an object array containing an object whose __reduce__ calls os.system (np.load(allow_pickle=True) runs it)",
            proof=npy[10 + header_len:])
    npz = npz_bytes(weights=np.ones(3, dtype=np.float32), objs=arr)
    reg.add("malicious/numpy_object_payload.npz", npz, "malicious", "posix.system",
            "np.savez: objs.npy member is that object array", proof=npy[10 + header_len:])

    # archives
    reg.add("malicious/tar_gz_pickle_payload.tar.gz",
            build_tar([("model/config.json", b'{"arch": "tiny"}\n'), ("model/model.pkl", evil_pickle)], gzip_it=True),
            "malicious", "posix.system", "gzip-compressed tar holding model/model.pkl (malicious) next to a JSON config",
            proof=evil_pickle)
    reg.add("malicious/sevenzip_torch_payload.7z",
            build_7z([("archive/data.pkl", injected), ("archive/version", b"3\n")]),
            "malicious", "os.system", "nullifAI-style 7z (LZMA2) holding a torch layout whose archive/data.pkl is injected",
            proof=injected)
    inner = build_zip([("model.pkl", evil_pickle), ("README.txt", b"tiny model\n")])
    reg.add("malicious/zip_in_zip_pickle_payload.zip", build_zip([("bundle/inner.zip", inner)]), "malicious",
            "posix.system", "zip containing bundle/inner.zip containing model.pkl (malicious)", proof=evil_pickle)
    reg.add("malicious/zip_in_zip_torch_payload.zip",
            build_zip([("checkpoints/model.pt", injected_zip), ("checkpoints/notes.txt", b"epoch 3\n")]),
            "malicious", "os.system", "zip containing checkpoints/model.pt = the injected torch checkpoint", proof=injected)


def gen_torch_storage_pickle(reg: Registry) -> None:
    import torch

    evil = pickle.dumps(OsSystem(), protocol=2)
    blob = torch.frombuffer(bytearray(evil), dtype=torch.uint8).clone()
    data = torch_save({"blob": blob}, "torch_storage_record_holds_pickle")
    reg.add("suspicious/torch_storage_record_holds_pickle.pt", data, "suspicious", "posix.system",
            f"torch.save of a uint8 tensor whose bytes are a malicious pickle: it lands in the storage record <root>/data/0. {TOLERANCE_NOTES.get('storage_pickle', '')} Staged payload, not code on load: suspicious",
            proof=evil)


# --------------------------------------------------------------------------------------------
# loader tolerance, measured on BENIGN variants only
# --------------------------------------------------------------------------------------------

TOLERANCE_NOTES: dict[str, str] = {}


def measure_tolerance(benign: dict[str, bytes]) -> list[tuple[str, str, str]]:
    import zipfile

    import torch

    rows: list[tuple[str, str, str]] = []
    expected = torch.load(io.BytesIO(benign["state_dict"]), weights_only=True)

    def try_torch(label: str, data: bytes, note_key: str | None, weights_only: bool = True) -> None:
        try:
            got = torch.load(io.BytesIO(data), weights_only=weights_only)
            same = isinstance(got, dict) and all(torch.equal(got[k], expected[k]) for k in expected)
            verdict = "loads (same tensors)" if same else f"loads ({type(got).__name__})"
        except Exception as exc:  # what the loader says is the measurement
            verdict = f"rejects: {type(exc).__name__}: {str(exc).splitlines()[0][:140]}"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in zf.infolist():
                    zf.read(info)
            py = "Python zipfile reads it"
        except Exception as exc:
            py = f"Python zipfile: {type(exc).__name__}: {str(exc)[:80]}"
        rows.append((label, f"torch.load(weights_only={weights_only}): {verdict}", py))
        if note_key:
            TOLERANCE_NOTES[note_key] = f"benign variant: torch.load {verdict}; {py}"

    members = zip_members(benign["state_dict"])
    root = members[0][0].split("/")[0]
    rebuilt = build_zip([(n.replace(root, "archive", 1), d) for n, d in members])
    name = "archive/data.pkl"
    try_torch("torch.save output (flags 0x808, data descriptors)", benign["state_dict"], None)
    try_torch("rebuilt with Python zipfile, root 'archive/'", rebuilt, None)
    try_torch("bad CRC-32 on data.pkl", zip_bad_crc(rebuilt, name), "bad_crc")
    try_torch("bad CRC-32 on storage data/0", zip_bad_crc(rebuilt, "archive/data/0"), None)
    for bit in (0x1, 0x8, 0x20, 0x40):
        try_torch(f"flag bit {bit:#x} on data.pkl", zip_set_flag(rebuilt, name, bit), f"flag_{bit:#x}")
    try_torch("local name != central name for data.pkl", zip_rename_local(rebuilt, name, "archive/datX.pkl"),
              "name_mismatch")
    try_torch("data.pkl DEFLATE-compressed", build_zip([(n.replace(root, "archive", 1), d) for n, d in members],
                                                      deflate={name}), "deflated")
    decoy = [(n.replace(root, "decoy", 1), d) for n, d in members]
    two_roots = [m for m in decoy if m[0] == "decoy/version"] + [m for m in decoy if m[0] != "decoy/version"]
    two_roots.append(("archive/data.pkl", b"\x80\x02}q\x00."))  # an empty dict under archive/
    try_torch("two root folders, first member decoy/... (archive/data.pkl = {})", build_zip(two_roots), "first_root")
    try_torch("arbitrary root folder name 'x/'", build_zip([(n.replace(root, "x", 1), d) for n, d in members]), None)
    try_torch("64 garbage bytes prepended", b"\x00" * 64 + rebuilt, None)
    try_torch("64 garbage bytes appended", rebuilt + b"\x00" * 64, None)

    # a storage record that happens to be a (benign) pickle: read as raw bytes?
    benign_pickle = pickle.dumps(["just", "a", "list"], protocol=2)
    blob = torch.frombuffer(bytearray(benign_pickle), dtype=torch.uint8).clone()
    holder = torch_save({"blob": blob}, "storage_pickle_probe")
    got = torch.load(io.BytesIO(holder), weights_only=True)
    raw = bytes(got["blob"].numpy().tobytes()) == benign_pickle
    verdict = "storage record returned as raw tensor bytes, never unpickled" if raw else "UNEXPECTED"
    rows.append(("storage record data/0 holding a pickle", f"torch.load(weights_only=True): {verdict}", "-"))
    TOLERANCE_NOTES["storage_pickle"] = f"Verified on a benign twin: torch.load reads data/0 as raw bytes ({verdict})."

    # legacy formats
    (magic, proto, sys_info, main, keys), tail = split_pickles(benign["legacy"], 5)
    try:
        got = torch.load(io.BytesIO(benign["legacy"]), weights_only=True)
        legacy_verdict = "loads (same tensors)" if all(torch.equal(got[k], expected[k]) for k in expected) else "loads (different)"
    except Exception as exc:
        legacy_verdict = f"rejects: {type(exc).__name__}"
    rows.append(("legacy non-zip file (keys renamed 0,1)", f"torch.load(weights_only=True): {legacy_verdict}", "-"))
    benign_tar = build_tar([
        ("sys_info", sys_info),
        ("storages", pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2)),
        ("tensors", pickle.dumps(0, protocol=2)),
        ("pickle", pickle.dumps({"weights": []}, protocol=2)),
    ])
    results = []
    tar_path = Path(tempfile.mkdtemp(), "legacy_tar.pt")  # torch tries tar only on real files
    tar_path.write_bytes(benign_tar)
    for weights_only in (True, False):  # False is fine here: every member is a plain int/list/dict pickle
        try:
            got = torch.load(tar_path, weights_only=weights_only)
            results.append(f"weights_only={weights_only}: loads -> {got!r}")
        except Exception as exc:
            results.append(f"weights_only={weights_only}: rejects ({type(exc).__name__}: {str(exc).splitlines()[0][:100]})")
    shutil.rmtree(tar_path.parent)
    rows.append(("legacy tar format (sys_info/storages/tensors/pickle), from a file path", "torch.load " + "; ".join(results), "-"))
    TOLERANCE_NOTES["legacy_tar"] = "benign twin: torch.load " + "; ".join(results)
    return rows


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------


def library_versions() -> list[str]:
    import importlib.metadata as md

    names = ["torch", "numpy", "scikit-learn", "joblib", "scipy", "pandas", "dill", "cloudpickle",
             "py7zr", "lightgbm", "xgboost", "lz4"]
    out = [f"python {sys.version.split()[0]}"]
    for name in names:
        try:
            out.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return out


def generate(root: Path, manifest: Path, tolerance: Path) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    make_torch_classes()
    if root.exists():
        shutil.rmtree(root)  # idempotent: the directory holds only generated files
    root.mkdir(parents=True)
    reg = Registry(root)
    gen_sklearn(reg)
    gen_boosters(reg)
    gen_numpy_pandas_scipy(reg)
    gen_real_library_regressions(reg)
    benign = gen_torch_benign(reg)
    gen_torch_regressions(reg, benign)
    rows = measure_tolerance(benign)
    gen_torch_suspicious(reg)
    gen_suspicious_misc(reg)
    gen_torch_storage_pickle(reg)
    gen_reduce_payloads(reg)
    gen_code_object_payloads(reg)
    gen_disguises(reg)
    gen_container_payloads(reg, benign)
    gen_parser_regressions(reg)
    reg.write_manifest(manifest)
    lines = ["# case\twhat the loader did\twhat Python's zipfile did (strict reference)"]
    lines += ["\t".join(r) for r in rows]
    lines.append("# measured with " + ", ".join(library_versions()))
    tolerance.write_text("\n".join(lines) + "\n")
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert total <= MAX_TOTAL, f"fixtures total {total} bytes"
    counts: dict[str, int] = {}
    for item in reg.items:
        counts[item.verdict] = counts.get(item.verdict, 0) + 1
    print(f"wrote {len(reg.items)} fixtures ({counts}), {total} bytes, to {root}")
    print("library versions: " + ", ".join(library_versions()))


def deterministic_env() -> dict[str, str]:
    # TorchScript writes class constants in set order, which follows str hashing
    return {**os.environ, "PYTHONHASHSEED": "0"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="throwaway venv (default %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="generate twice (two processes) into temp dirs; fail unless byte-identical")
    parser.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)  # alternate root, for --check
    args = parser.parse_args()
    if not args.in_venv:
        python = ensure_venv(args.venv)
        argv = [str(python), str(Path(__file__).resolve()), "--in-venv"] + (["--check"] if args.check else [])
        return subprocess.run(argv, env=deterministic_env()).returncode
    if args.check:
        outs = [Path(tempfile.mkdtemp(prefix="mlvet-fixtures-check-")) for _ in range(2)]
        runs: list[dict[str, str]] = []
        for out in outs:
            # separate processes: TorchScript mangles a class name compiled twice in one process
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--in-venv", "--out", str(out)],
                           check=True, env=deterministic_env())
            runs.append({str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                         for p in out.rglob("*") if p.is_file()})
        differing = sorted(k for k in runs[0].keys() | runs[1].keys() if runs[0].get(k) != runs[1].get(k))
        if differing:
            print(f"NOT deterministic (outputs kept in {outs[0]} and {outs[1]}): " + ", ".join(differing))
            return 1
        for out in outs:
            shutil.rmtree(out)
        print("deterministic: two runs gave byte-identical fixtures")
        return 0
    if args.out:
        generate(args.out / "models", args.out / "expected.tsv", args.out / "loader-tolerance.tsv")
    else:
        generate(MODELS, MANIFEST, TOLERANCE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
