#!/usr/bin/env python3
"""Generate the container-hardening fixtures in tests/fixtures/containers/.

Usage:  python3 scripts/gen_container_fixtures.py [--venv DIR] [--check]

Writes, deterministically (--check generates twice in two processes and compares):

  joblib-side-files/   old (pre-0.10) joblib pickles whose arrays live in side files
  tar/                 legacy torch tars with sparse `pickle` members, links, special members
  escape/              archives whose member names leave the extraction folder
  hostile/             a small compressor-in-compressor bomb (large hostile inputs are made by
                       the tests at run time, never committed)

Tools:
  * the joblib pickles are written by REAL joblib 0.9.4 (the last release of the side-file
    format; it installs and works on Python 3.11 with numpy 2.4.6) in a throwaway venv that this
    script creates (default /tmp/mlvet-container-fixtures-venv) and re-executes itself in;
    variants that joblib never writes (escaping names, names set by the constructor) are
    pickled with the standard library from stand-in classes registered under joblib's module
    name, so the bytes name exactly `joblib.numpy_pickle.NDArrayWrapper`;
  * GNU tar (`tar --sparse`, Debian's GNU tar 1.34) writes the old-GNU `S` member and the PAX 0.0
    sparse member; Python's `tarfile` writes the PAX 0.1 and 1.0 sparse members (their maps are
    built by hand exactly as GNU tar lays them out) and every other tar;
  * `zipfile` writes the zips.

Safety: every payload only names `echo pwned`; nothing here ever unpickles or loads a fixture. The
expanded bytes of every sparse member are checked against the intended pickle with
`tarfile.extractfile(...).read()` (bytes only, never unpickled).
"""

from __future__ import annotations

import argparse
import filecmp
import io
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import types
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "containers"
DEFAULT_VENV = Path("/tmp/mlvet-container-fixtures-venv")
REQUIREMENTS = ["joblib==0.9.4", "numpy==2.4.6"]
SHELL = "echo pwned"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------------------------
# venv bootstrap
# --------------------------------------------------------------------------------------------


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    stamp = venv / ".mlvet-requirements"
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
        stamp.write_text(wanted)
    return python


# --------------------------------------------------------------------------------------------
# pickles written by hand (opcodes), never loaded
# --------------------------------------------------------------------------------------------


def system_call_tail() -> bytes:
    """GLOBAL posix.system, BINUNICODE 'echo pwned', TUPLE1, REDUCE, STOP."""
    arg = SHELL.encode()
    return b"cposix\nsystem\nX" + struct.pack("<I", len(arg)) + arg + b"\x85R."


def malicious_pickle() -> bytes:
    return b"\x80\x02" + system_call_tail()


def sparse_malicious_pickle(hole_start: int, hole_end: int, tail_pad: int) -> bytes:
    """A pickle whose middle is zeros (a hole for a sparse archive): PROTO 3, BINBYTES over the
    zeros, POP, then the os.system call. The zero run covers [hole_start, hole_end)."""
    head = b"\x80\x03B"
    length = hole_end + tail_pad - (len(head) + 4)
    body = head + struct.pack("<I", length)
    body += b"\0" * length
    assert len(body) == hole_end + tail_pad and body[hole_start:hole_end] == b"\0" * (hole_end - hole_start)
    return body + b"0" + system_call_tail()


def legacy_torch_records() -> dict[str, bytes]:
    """The non-payload members of a legacy torch tar: no storages, no tensors."""
    return {
        "sys_info": pickle.dumps({"protocol_version": 1001, "little_endian": True,
                                  "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2),
        "storages": pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2),
        "tensors": pickle.dumps(0, protocol=2),
    }


# --------------------------------------------------------------------------------------------
# joblib side files
# --------------------------------------------------------------------------------------------


def stand_in_joblib_module() -> type:
    """A stand-in `joblib.numpy_pickle.NDArrayWrapper` class for the standard pickler: it only
    fixes the module and class name written into the pickle."""
    module = types.ModuleType("joblib.numpy_pickle")

    class NDArrayWrapper:
        def __init__(self, filename):
            self.filename = filename
            self.subclass = None
            self.allow_mmap = True

    NDArrayWrapper.__module__ = "joblib.numpy_pickle"
    NDArrayWrapper.__qualname__ = "NDArrayWrapper"
    module.NDArrayWrapper = NDArrayWrapper
    sys.modules.setdefault("joblib", types.ModuleType("joblib"))
    sys.modules["joblib.numpy_pickle"] = module
    return NDArrayWrapper


def gen_joblib_side_files(out: Path) -> None:
    import joblib  # 0.9.4, from the venv
    import numpy as np

    assert joblib.__version__ == "0.9.4", joblib.__version__
    array = np.arange(6, dtype="<f8")

    benign = out / "benign"
    benign.mkdir(parents=True)
    joblib.dump({"w": array}, str(benign / "model.pkl"))

    compressed = out / "benign-compressed"
    compressed.mkdir()
    # cache_size=0: even a small array goes to a side file (a ZNDArrayWrapper Z-file).
    joblib.dump({"w": array}, str(compressed / "model.pkl"), compress=3, cache_size=0)

    # The side file swapped for a pickle: np.load(allow_pickle=True) unpickles any file that is
    # not .npy/.npz.
    malicious = out / "malicious-side-file"
    malicious.mkdir()
    joblib.dump({"w": array}, str(malicious / "model.pkl"))
    (malicious / "model.pkl_01.npy").write_bytes(malicious_pickle())

    missing = out / "missing"
    missing.mkdir()
    joblib.dump({"w": array}, str(missing / "model.pkl"))
    (missing / "model.pkl_01.npy").unlink()

    # Names joblib never writes; pickled from the stand-in class (sys.modules is patched only
    # after real joblib has been imported and used above).
    wrapper = stand_in_joblib_module()
    escape = out / "escape"
    escape.mkdir()
    (escape / "model.pkl").write_bytes(
        pickle.dumps({"a": wrapper("../outside.npy"), "b": wrapper("/etc/passwd")}, protocol=2)
    )

    # Protocol 0, the name given to the constructor (INST), then BUILD with an empty state:
    # NDArrayWrapper.__init__ stores it, joblib's load_build reads it.
    ctor = out / "constructor-name"
    ctor.mkdir()
    name = b"weights_side.bin"
    (ctor / "model.pkl").write_bytes(
        b"(S'" + name + b"'\nijoblib.numpy_pickle\nNDArrayWrapper\n(db."
    )
    (ctor / name.decode()).write_bytes(malicious_pickle())


# --------------------------------------------------------------------------------------------
# tars
# --------------------------------------------------------------------------------------------


def tarinfo(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]],
              fmt: int = tarfile.GNU_FORMAT) -> None:
    with tarfile.open(path, "w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def torch_tar_members() -> list[tuple[tarfile.TarInfo, bytes]]:
    return [(tarinfo(name, len(data)), data) for name, data in legacy_torch_records().items()]


HOLE_START, HOLE_END, TAIL_PAD = 4096, 12288, 100


def gnu_tar(workdir: Path, archive: Path, extra: list[str]) -> None:
    subprocess.run(
        ["tar", "--sparse", *extra, "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
         "--numeric-owner", "--mode=0644", "-C", str(workdir), "-cf", str(archive), "pickle", "storages", "sys_info", "tensors"],
        check=True,
    )


def write_sparse_source(workdir: Path, payload: bytes) -> None:
    """The pickle file with a real hole (so GNU tar finds it with SEEK_HOLE as well as by scanning
    for zero blocks)."""
    with open(workdir / "pickle", "wb") as f:
        f.write(payload[:HOLE_START])
        f.seek(HOLE_END)
        f.write(payload[HOLE_END:])
    for name, data in legacy_torch_records().items():
        (workdir / name).write_bytes(data)


def pax_sparse_member(version: str, payload: bytes) -> tuple[tarfile.TarInfo, bytes]:
    """A PAX sparse `pickle` member laid out as GNU tar writes format 0.1 or 1.0."""
    segments = [(0, HOLE_START), (HOLE_END, len(payload) - HOLE_END), (len(payload), 0)]
    stored = b"".join(payload[o:o + n] for o, n in segments)
    if version == "0.1":
        info = tarinfo("GNUSparseFile.0/pickle", len(stored))
        info.pax_headers = {
            "GNU.sparse.size": str(len(payload)),
            "GNU.sparse.numblocks": str(len(segments)),
            "GNU.sparse.name": "pickle",
            "GNU.sparse.map": ",".join(f"{o},{n}" for o, n in segments),
        }
        return info, stored
    numbers = [len(segments)] + [v for seg in segments for v in seg]
    sparse_map = "".join(f"{n}\n" for n in numbers).encode()
    sparse_map += b"\0" * (-len(sparse_map) % 512)
    info = tarinfo("GNUSparseFile.0/pickle", len(sparse_map) + len(stored))
    info.pax_headers = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": "pickle",
        "GNU.sparse.realsize": str(len(payload)),
    }
    return info, sparse_map + stored


def check_sparse(archive: Path, payload: bytes) -> None:
    with tarfile.open(archive) as tar:
        member = tar.getmember("pickle")
        assert member.sparse, f"{archive.name}: pickle is not sparse"
        got = tar.extractfile(member).read()
    assert got == payload, f"{archive.name}: tarfile expands the member differently"


def gen_tars(out: Path) -> None:
    out.mkdir(parents=True)
    payload = sparse_malicious_pickle(HOLE_START, HOLE_END, TAIL_PAD)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_sparse_source(work, payload)
        gnu_tar(work, out / "torch-sparse-gnu.tar", ["--format=gnu"])
        gnu_tar(work, out / "torch-sparse-pax00.tar",
                ["--format=posix", "--sparse-version=0.0",
                 "--pax-option=delete=atime,delete=ctime,exthdr.name=%d/PaxHeaders/%f"])
    for version, name in (("0.1", "torch-sparse-pax01.tar"), ("1.0", "torch-sparse-pax10.tar")):
        write_tar(out / name, [pax_sparse_member(version, payload), *torch_tar_members()],
                  fmt=tarfile.PAX_FORMAT)
    for name in ("torch-sparse-gnu.tar", "torch-sparse-pax00.tar", "torch-sparse-pax01.tar",
                 "torch-sparse-pax10.tar"):
        check_sparse(out / name, payload)

    # `pickle` is a symlink to a regular member holding the payload: extractfile follows it.
    link = tarinfo("pickle", 0, tarfile.SYMTYPE)
    link.linkname = "payload.bin"
    data = malicious_pickle()
    write_tar(out / "torch-symlink-pickle.tar",
              [(tarinfo("payload.bin", len(data)), data), (link, None), *torch_tar_members()])

    # Special members: a FIFO, a device node, a hard link to a scanned member, and a member of
    # unknown type 'X' that tarfile reads as a regular file (it holds the payload).
    fifo = tarinfo("queue", 0, tarfile.FIFOTYPE)
    dev = tarinfo("disk", 0, tarfile.CHRTYPE)
    dev.devmajor, dev.devminor = 8, 0
    hard = tarinfo("config-copy.json", 0, tarfile.LNKTYPE)
    hard.linkname = "config.json"
    config = b'{"hidden_size": 8}\n'
    write_tar(out / "special-members.tar", [
        (tarinfo("config.json", len(config)), config), (hard, None), (fifo, None), (dev, None),
    ])
    write_tar(out / "unknown-type-payload.tar",
              [(tarinfo("weights.pkl", len(data), b"X"), data)])


# --------------------------------------------------------------------------------------------
# path escapes
# --------------------------------------------------------------------------------------------


def gen_escapes(out: Path) -> None:
    out.mkdir(parents=True)
    config = b"model: {hidden: 8}\n"
    write_tar(out / "escape.nemo", [
        (tarinfo("model_config.yaml", len(config)), config),
        (tarinfo("../../.config/autostart/x.desktop", 4), b"[x]\n"),
    ])
    link = tarinfo("ssh", 0, tarfile.SYMTYPE)
    link.linkname = "/root/.ssh"
    write_tar(out / "link-escape.tar", [(link, None)])
    with zipfile.ZipFile(out / "escape.mar", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in (("MAR-INF/MANIFEST.json", b'{"model": {}}'),
                           ("..\\..\\startup\\evil.bat", b"echo pwned\r\n"),
                           ("/etc/cron.d/evil", b"* * * * * root echo pwned\n"),
                           ("C:evil.txt", b"x")):
            zf.writestr(zipfile.ZipInfo(name, ZIP_EPOCH), data)


# --------------------------------------------------------------------------------------------
# hostile: compressors nested in compressors
# --------------------------------------------------------------------------------------------


def gen_hostile(out: Path) -> None:
    """bz2(xz(gzip(pickle))) where the pickle is PROTO 2, then NONE POP a billion times, then
    NONE STOP: 2 GiB of opcodes. Each level expands its own input modestly (no ratio limit
    applies below the outer file), the whole three-million-fold; simulating all two billion
    opcodes takes minutes."""
    import bz2
    import lzma
    import zlib

    out.mkdir(parents=True)
    gz = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip wrapper, mtime 0
    parts = [gz.compress(b"\x80\x02")]
    chunk = b"N0" * (8 << 20)
    for _ in range((2 << 30) // len(chunk)):
        parts.append(gz.compress(chunk))
    parts.append(gz.compress(b"N."))
    parts.append(gz.flush())
    gzipped = b"".join(parts)
    xz = lzma.compress(gzipped, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME)
    (out / "nested-compression.pkl.bz2").write_bytes(bz2.compress(xz, 9))


# --------------------------------------------------------------------------------------------


def generate(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    gen_joblib_side_files(dest / "joblib-side-files")
    gen_tars(dest / "tar")
    gen_escapes(dest / "escape")
    gen_hostile(dest / "hostile")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--inside-venv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside_venv:
        generate(args.inside_venv)
        return
    python = ensure_venv(args.venv)
    run = lambda dest: subprocess.run(  # noqa: E731
        [str(python), __file__, "--inside-venv", str(dest)], check=True)
    if args.check:
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            run(Path(a) / "out")
            run(Path(b) / "out")
            cmp = filecmp.dircmp(Path(a) / "out", Path(b) / "out")
            diffs = []

            def walk(c: filecmp.dircmp, prefix: str) -> None:
                diffs.extend(prefix + n for n in c.diff_files + c.left_only + c.right_only)
                for sub, sc in c.subdirs.items():
                    walk(sc, f"{prefix}{sub}/")

            walk(cmp, "")
            if diffs:
                sys.exit(f"not deterministic: {diffs}")
            print("deterministic")
        return
    run(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
