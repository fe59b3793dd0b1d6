#!/usr/bin/env python3
"""Generate the SMALL hostile inputs of mlvet's hostile-input suite (issue 13, sections 1 and 3).

Usage:  python3 scripts/gen_hostile.py [--check]

Writes tests/hostile/<case files> and the manifest tests/hostile/cases.tsv, which
crates/mlvet-cli/tests/hostile.rs runs through the mlvet binary under a memory and a time cap.
Large hostile inputs (million-deep nesting, big archives, huge lockfiles) are NOT written here:
the Rust test generates them at test time into a temporary directory.

Standard library only, no third-party packages. Every file is written byte by byte (pickles by
hand, zip and tar headers packed with struct where the stdlib writers cannot express the case), so
the output is deterministic; --check regenerates into a temporary directory and fails unless the
committed files are byte-identical.

Safety: payloads only ever name `echo pwned`, and NOTHING is unpickled for real. What a pickle
would call is proven with a tracing unpickler whose find_class returns inert stubs (`trace`).

Manifest columns (tab-separated):
  id        the #[test] name in hostile.rs
  files     the scanned file first, then side files that sit next to it (comma-separated)
  item      the issue-13 item the case covers
  exit      expected exit code after the fix: one code, alternatives joined by `|`, or `*` (any
            non-crash code: the case is about resources or the issue leaves the severity open)
  verdict   expected verdict of the scanned artefact: safe, suspicious, malicious, `unsafe`
            (fail closed: any verdict but safe, or a scan error for the path) or `error` (exit 3
            and an error entry for the path)
  mentions  a string the findings (or errors) for the artefact must contain, or `-`
  excludes  a string no finding for the artefact may contain (e.g. a rule id), or `-`
  why       one line
"""

from __future__ import annotations

import argparse
import bz2
import filecmp
import gzip
import io
import pickle
import struct
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOSTILE = REPO / "tests" / "hostile"
FIXTURES = REPO / "tests" / "fixtures" / "models"
SHELL = b"echo pwned"
MAX_FILE = 16 * 1024  # every committed hostile file stays small; big inputs are made at test time

# --------------------------------------------------------------------------------------------
# pickle building blocks (protocol 0 text and protocol 2 binary opcodes)
# --------------------------------------------------------------------------------------------


def p0_call(module: str, name: str, arg: bytes = SHELL) -> bytes:
    """`module.name(arg)` in protocol 0, leaving the result on the stack."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n(S'" + arg + b"'\ntR"


def p0_system_call() -> bytes:
    return p0_call("os", "system")


def binstring(data: bytes) -> bytes:
    """SHORT_BINSTRING / BINSTRING (protocol 1+): a str in Python 2 terms, bytes-like here."""
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data
    return b"T" + struct.pack("<I", len(data)) + data


def binunicode(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def binbytes(data: bytes) -> bytes:
    """BINBYTES (protocol 3)."""
    return b"B" + struct.pack("<I", len(data)) + data


def global_(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


PROTO2 = b"\x80\x02"
PROTO3 = b"\x80\x03"


# --------------------------------------------------------------------------------------------
# proof: a tracing unpickler (nothing is imported, nothing is called)
# --------------------------------------------------------------------------------------------


def trace(data: bytes) -> list[tuple]:
    """Run pickle's pure-Python VM with inert stubs; return the events (global, call, build)."""
    events: list[tuple] = []

    class Tracer(pickle._Unpickler):  # type: ignore[name-defined]
        def find_class(self, module, name):
            events.append(("global", f"{module}.{name}"))
            dotted = f"{module}.{name}"

            class Stub:
                def __new__(cls, *args, **kwargs):
                    events.append(("call", dotted, args))
                    return object.__new__(cls)

                def __init__(self, *args, **kwargs):
                    pass

                def __setstate__(self, state):
                    events.append(("build", dotted, state))

                def __call__(self, *args, **kwargs):
                    events.append(("call-result", dotted, args))
                    return None

            return Stub

    try:
        Tracer(io.BytesIO(data)).load()
    except Exception as err:  # a case may end in a parse error on purpose: record where
        events.append(("error", repr(err)))
    return events


def called(data: bytes, dotted: str) -> bool:
    return any(e[0] == "call" and e[1] == dotted for e in trace(data))


def assert_calls(data: bytes, dotted: str, what: str) -> None:
    if not called(data, dotted):
        raise SystemExit(f"{what}: CPython's VM does not reach {dotted}: {trace(data)}")


# --------------------------------------------------------------------------------------------
# the payload pickles
# --------------------------------------------------------------------------------------------

PAYLOAD_P0 = p0_system_call() + b"."
PAYLOAD_P2 = PROTO2 + global_("os", "system") + binstring(SHELL) + b"\x85R."  # TUPLE1 REDUCE STOP


def long_string_then_system() -> bytes:
    # 2,000 bytes: CPython's STRING has no length limit (mlvet stopped at 1,022)
    return b"S'" + b"A" * 2000 + b"'\n0" + PAYLOAD_P0


def long_unicode_escapes_then_system() -> bytes:
    # raw-unicode-escape with \uXXXX escapes, 3 KiB on the line
    return b"V" + b"\\u0041" * 512 + b"\n0" + PAYLOAD_P0


def call_then_parse_error() -> bytes:
    # os.system runs (REDUCE), then the unterminated STRING raises: the call already happened
    return p0_system_call() + b"0S'unterminated\n."


def memo_underscore() -> bytes:
    # PUT "1_0" is memo[10] for CPython's int(); a decoy lands in memo[1]
    return (
        global_("os", "system") + b"p1_0\n0" + b"S'decoy'\np1\n0" + b"g10\n(S'" + SHELL + b"'\ntR."
    )


def memo_sign() -> bytes:
    # PUT "+2" is memo[2]; GET "-0" is memo[0] (a decoy); the call uses GET "2"
    return (
        b"S'decoy'\np0\n0" + global_("os", "system") + b"p+2\n0" + b"g-0\n0"
        + b"g2\n(S'" + SHELL + b"'\ntR."
    )


def deny_typing_eval_type() -> bytes:
    forward = global_("typing", "ForwardRef") + b"(S'__import__(\"os\").system(\"echo pwned\")'\ntR"
    return global_("typing", "_eval_type") + b"(" + forward + b"(d(dtR."


def deny_dataclasses_create_fn() -> bytes:
    # an argument default is evaluated when the generated `def` is executed
    args = b"(lp0\nS'x=__import__(\"os\").system(\"echo pwned\")'\na"
    body = b"(lp1\nS'pass'\na"
    return global_("dataclasses", "_create_fn") + b"(S'f'\n" + args + body + b"tR."


def deny_pyio_fileio() -> bytes:
    return global_("_pyio", "FileIO") + b"(S'/tmp/mlvet-hostile-written'\nS'w'\ntR."


def deny_torch_import_dotted_name() -> bytes:
    resolve = global_("torch._utils", "_import_dotted_name") + b"(S'os.system'\ntR"
    return resolve + b"(S'" + SHELL + b"'\ntR."


def joblib_wrapper(wrapper: str, state: bytes) -> bytes:
    """An old joblib pickle: the wrapper object, built from `state` (a protocol 2 dict body)."""
    return (
        PROTO2 + global_("joblib.numpy_pickle", wrapper) + b")\x81" + b"}(" + state + b"ub."
    )


def ndarray_wrapper(side: str) -> bytes:
    # NDArrayWrapper.read: np.load(join(dirname, filename), allow_pickle=True); a file that is not
    # .npy/.npz is handed to pickle.load
    state = (
        binunicode("filename") + binunicode(side)
        + binunicode("subclass") + global_("numpy", "ndarray")
        + binunicode("allow_mmap") + b"\x89"
    )
    return joblib_wrapper("NDArrayWrapper", state)


def zndarray_wrapper(side: str) -> bytes:
    # ZNDArrayWrapper.read: pickle.loads(read_zfile(open(filename)))
    state = (
        binunicode("filename") + binunicode(side)
        + binunicode("init_args") + b")"
        + binunicode("state") + b")"
    )
    return joblib_wrapper("ZNDArrayWrapper", state)


def joblib_zfile(data: bytes) -> bytes:
    """joblib's old ZF container: b'ZF', the length in hex padded to 19 bytes, zlib data."""
    return b"ZF" + f"{len(data):#x}".encode().ljust(19) + zlib.compress(data, 9)


def staged_in_bytes() -> bytes:
    # a plain dict whose bytes value is a complete second-stage pickle
    return PROTO3 + b"}" + binunicode("weights") + binbytes(PAYLOAD_P2) + b"s."


def staged_in_str() -> bytes:
    # protocol 0 is ASCII: a str can carry a whole pickle
    return PROTO2 + b"}" + binunicode("note") + binunicode(PAYLOAD_P0.decode()) + b"s."


def torch_load_from_bytes(embedded: bytes) -> bytes:
    # what pickle.dumps(tensor) writes: torch.load(io.BytesIO(b), weights_only=False) on load
    return PROTO3 + global_("torch.storage", "_load_from_bytes") + binbytes(embedded) + b"\x85R."


def long_binput(index: int) -> bytes:
    # 9 bytes: an empty dict memoised at `index`
    return PROTO2 + b"}r" + struct.pack("<I", index) + b"."


# --------------------------------------------------------------------------------------------
# archives
# --------------------------------------------------------------------------------------------

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def zip_with(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def tar_with(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uname = info.gname = ""
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def mar_slip(escaping_name: str) -> bytes:
    manifest = b'{"runtime": "python", "model": {"modelName": "m", "handler": "handler.py"}}'
    return zip_with([
        ("MAR-INF/MANIFEST.json", manifest),
        ("handler.py", b"# handler\n"),
        (escaping_name, b"import os\n"),
    ])


def nemo_slip() -> bytes:
    return gzip_bytes(tar_with([
        ("./model_config.yaml", b"target: nemo.collections.asr.models.EncDecCTCModel\n"),
        ("./model_weights.ckpt", b"\x00" * 16),
        ("../../.bashrc", b"echo pwned\n"),
    ]))


def bundle_absolute() -> bytes:
    return gzip_bytes(tar_with([
        ("model.pkl", PROTO2 + b"}."),
        ("/etc/cron.d/mlvet-hostile", b"* * * * * root echo pwned\n"),
    ]))


def tar_checksum(header: bytearray) -> None:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)


def tar_header(name: bytes, size: int, typeflag: bytes, gnu: bool) -> bytearray:
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % 0
    h[156:157] = typeflag
    h[257:265] = b"ustar  \0" if gnu else b"ustar\x0000"
    return h


def pad512(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def sparse_pickle() -> tuple[bytes, list[tuple[int, int]]]:
    """A payload pickle whose middle is a 4 KiB hole; returns (expanded bytes, data segments).

    Only the expanded bytes are a complete pickle: the stored segments concatenated are a string
    opcode whose length runs past the end, so a reader that ignores the sparse map sees no call.
    """
    head_len, hole = 512, 4096
    string_len = head_len - len(PROTO2) - 5 + hole
    head = PROTO2 + b"T" + struct.pack("<I", string_len) + b"A" * (head_len - len(PROTO2) - 5)
    tail = b"0" + global_("os", "system") + binstring(SHELL) + b"\x85R."
    expanded = head + b"\0" * hole + tail
    return expanded, [(0, head_len), (head_len + hole, len(tail))]


def sparse_gnu_tar() -> bytes:
    expanded, segments = sparse_pickle()
    stored = b"".join(expanded[o:o + n] for o, n in segments)
    h = tar_header(b"payload.pkl", len(stored), b"S", gnu=True)
    for i, (offset, numbytes) in enumerate(segments):
        at = 386 + 24 * i
        h[at:at + 12] = b"%011o\0" % offset
        h[at + 12:at + 24] = b"%011o\0" % numbytes
    h[482] = 0  # no extension headers
    h[483:495] = b"%011o\0" % len(expanded)
    tar_checksum(h)
    return bytes(h) + pad512(stored) + b"\0" * 1024


def pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def pax_member(records: list[tuple[str, str]], name: bytes, data: bytes) -> bytes:
    pax = b"".join(pax_record(k, v) for k, v in records)
    xh = tar_header(b"./PaxHeaders/" + name[-80:], len(pax), b"x", gnu=False)
    tar_checksum(xh)
    h = tar_header(name, len(data), b"0", gnu=False)
    tar_checksum(h)
    return bytes(xh) + pad512(pax) + bytes(h) + pad512(data)


def sparse_pax10_tar() -> bytes:
    expanded, segments = sparse_pickle()
    stored = b"".join(expanded[o:o + n] for o, n in segments)
    sparse_map = f"{len(segments)}\n" + "".join(f"{o}\n{n}\n" for o, n in segments)
    data = pad512(sparse_map.encode()) + stored
    records = [
        ("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"),
        ("GNU.sparse.name", "payload.pkl"), ("GNU.sparse.realsize", str(len(expanded))),
    ]
    return pax_member(records, b"GNUSparseFile.0/payload.pkl", data) + b"\0" * 1024


def sparse_pax01_tar() -> bytes:
    expanded, segments = sparse_pickle()
    stored = b"".join(expanded[o:o + n] for o, n in segments)
    records = [
        ("GNU.sparse.size", str(len(expanded))),
        ("GNU.sparse.numblocks", str(len(segments))),
        ("GNU.sparse.map", ",".join(f"{o},{n}" for o, n in segments)),
        ("GNU.sparse.name", "payload.pkl"),
    ]
    return pax_member(records, b"GNUSparseFile.0/payload.pkl", stored) + b"\0" * 1024


def zip_local(name: bytes, method: int, crc: int, csize: int, usize: int, flags: int = 0) -> bytes:
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc, csize, usize,
                       len(name), 0) + name


def zip_central(name: bytes, method: int, crc: int, csize: int, usize: int, offset: int,
                flags: int = 0) -> bytes:
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, crc,
                       csize, usize, len(name), 0, 0, 0, 0, 0o644 << 16, offset) + name


def zip_end(count: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0)


def bzip2_pickle(payload_len: int) -> tuple[bytes, int, int]:
    """bzip2 of a benign pickle holding `payload_len` zero bytes, streamed; (data, crc, size)."""
    head = PROTO3 + b"\x8e" + struct.pack("<Q", payload_len)  # BINBYTES8
    comp = bz2.BZ2Compressor(9)
    out = [comp.compress(head)]
    crc = zlib.crc32(head)
    chunk = b"\0" * (1 << 20)
    left = payload_len
    while left:
        piece = chunk[:min(left, len(chunk))]
        out.append(comp.compress(piece))
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    out.append(comp.compress(b"."))
    crc = zlib.crc32(b".", crc)
    out.append(comp.flush())
    return b"".join(out), crc, len(head) + payload_len + 1


def overlap_zip_bomb(entries: int, payload_len: int) -> bytes:
    """Fifield's overlap (full-overlap form): every central entry points at one local file."""
    data, crc, size = bzip2_pickle(payload_len)
    local = zip_local(b"kernel.pkl", 12, crc, len(data), size) + data
    central = b"".join(
        zip_central(b"m%04d.pkl" % i, 12, crc, len(data), size, 0) for i in range(entries)
    )
    return local + central + zip_end(entries, len(central), len(local))


def nested_zip_42(levels: int, fanout: int, payload_len: int) -> bytes:
    """42.zip's shape: each level holds `fanout` copies of the level below, no overlap."""
    data, crc, size = bzip2_pickle(payload_len)
    inner = build_zip([(b"leaf%02d.pkl" % i, 12, data, crc, size) for i in range(fanout)])
    for level in range(levels):
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflated = comp.compress(inner) + comp.flush()
        crc = zlib.crc32(inner)
        inner = build_zip([
            (b"l%d_%02d.zip" % (level, i), 8, deflated, crc, len(inner)) for i in range(fanout)
        ])
    return inner


def build_zip(members: list[tuple[bytes, int, bytes, int, int]]) -> bytes:
    body, central = b"", b""
    for name, method, data, crc, size in members:
        central += zip_central(name, method, crc, len(data), size, len(body))
        body += zip_local(name, method, crc, len(data), size) + data
    return body + central + zip_end(len(members), len(central), len(body))


def gzip_chain(depth: int, payload_len: int) -> bytes:
    """gzip(gzip(...(pickle of payload_len zero bytes))): a compressor nested in compressors."""
    head = PROTO3 + b"\x8e" + struct.pack("<Q", payload_len)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [comp.compress(head)]
    chunk = b"\0" * (1 << 20)
    left = payload_len
    while left:
        piece = chunk[:min(left, len(chunk))]
        parts.append(comp.compress(piece))
        left -= len(piece)
    parts.append(comp.compress(b".") + comp.flush())
    data = b"".join(parts)
    for _ in range(depth - 1):
        data = gzip_bytes(data)
    return data


def data_descriptor_zip(name: bytes, payload: bytes) -> bytes:
    """A stored member with flag bit 3: sizes and CRC only in the descriptor after the data."""
    crc = zlib.crc32(payload)
    local = zip_local(name, 0, 0, 0, 0, flags=0x08) + payload
    local += struct.pack("<IIII", 0x08074B50, crc, len(payload), len(payload))
    central = zip_central(name, 0, crc, len(payload), len(payload), 0, flags=0x08)
    return local + central + zip_end(1, len(central), len(local))


# --------------------------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------------------------

CASES: list[dict] = []
UNRECOGNISED = "container-unrecognized-model-file"  # the pickle must be recognised as one


def case(id: str, files: dict[str, bytes], item: str, exit: str, verdict: str, mentions: str,
         why: str, excludes: str = "-") -> None:
    CASES.append(dict(id=id, files=files, item=item, exit=exit, verdict=verdict,
                      mentions=mentions, excludes=excludes, why=why))


def build_cases() -> None:
    data = long_string_then_system()
    assert_calls(data, "os.system", "p0_long_string")
    case("p0_long_string_then_system", {"p0_long_string_then_system.pkl": data},
         "§1.1 protocol-0 STRING > 1,022 bytes", "1", "malicious", "system",
         "CPython accepts the 2,000-byte STRING, then calls os.system")

    data = long_unicode_escapes_then_system()
    assert_calls(data, "os.system", "p0_long_unicode")
    case("p0_long_unicode_escapes_then_system", {"p0_long_unicode_escapes_then_system.pkl": data},
         "§1.1 protocol-0 UNICODE > 1 KiB with escapes", "1", "malicious", "system",
         "a 3 KiB raw-unicode-escape line with \\u escapes, then os.system")

    data = call_then_parse_error()
    assert_calls(data, "os.system", "call_then_parse_error")
    case("p0_call_then_parse_error", {"p0_call_then_parse_error.pkl": data},
         "§1.1 a callable reached before the parse error counts", "1|3", "malicious", "system",
         "os.system runs, then an unterminated STRING raises: the call already happened")

    data = memo_underscore()
    assert_calls(data, "os.system", "memo_underscore")
    case("memo_key_underscore", {"memo_key_underscore.pkl": data},
         "§1.5 memo keys with `_`", "1", "malicious", "system",
         "PUT 1_0 / GET 10 is one slot for int(); a decoy sits in slot 1",
         excludes=UNRECOGNISED)

    data = memo_sign()
    assert_calls(data, "os.system", "memo_sign")
    case("memo_key_sign", {"memo_key_sign.pkl": data},
         "§1.5 memo keys with a sign", "1", "malicious", "system",
         "PUT +2 / GET 2 is one slot; GET -0 reads slot 0", excludes=UNRECOGNISED)

    data = deny_typing_eval_type()
    assert_calls(data, "typing._eval_type", "typing._eval_type")
    case("deny_typing_eval_type", {"deny_typing_eval_type.pkl": data},
         "§1.2 deny gap: typing._eval_type", "1", "malicious", "_eval_type",
         "evaluates a ForwardRef string with eval()")

    data = deny_dataclasses_create_fn()
    assert_calls(data, "dataclasses._create_fn", "dataclasses._create_fn")
    case("deny_dataclasses_create_fn", {"deny_dataclasses_create_fn.pkl": data},
         "§1.2 deny gap: dataclasses._create_fn", "1", "malicious", "_create_fn",
         "exec()s a def whose argument default calls os.system")

    data = deny_pyio_fileio()
    assert_calls(data, "_pyio.FileIO", "_pyio.FileIO")
    case("deny_pyio_fileio", {"deny_pyio_fileio.pkl": data},
         "§1.2 deny gap: _pyio.FileIO", "1", "malicious", "FileIO",
         "the pure-Python twin of _io.FileIO opens a file for writing")

    data = deny_torch_import_dotted_name()
    assert_calls(data, "torch._utils._import_dotted_name", "_import_dotted_name")
    case("deny_torch_import_dotted_name", {"deny_torch_import_dotted_name.pkl": data},
         "§1.2 deny gap: torch._utils._import_dotted_name", "1", "malicious", "system",
         "resolves 'os.system' from a string, then calls it")

    side = "joblib_ndarraywrapper.pkl_01.npy"
    data = ndarray_wrapper(side)
    if not any(e[0] == "build" and e[2].get("filename") == side for e in trace(data)):
        raise SystemExit("NDArrayWrapper state does not name the side file")
    assert_calls(PAYLOAD_P2, "os.system", "side payload")
    case("joblib_ndarraywrapper_side_file",
         {"joblib_ndarraywrapper.pkl": data, side: PAYLOAD_P2},
         "§1.3 side files: NDArrayWrapper", "1", "malicious", side,
         "joblib.load pickle-loads the side file named in the pickle; it calls os.system")

    side = "joblib_zndarraywrapper.pkl_01.npy.z"
    data = zndarray_wrapper(side)
    case("joblib_zndarraywrapper_side_file",
         {"joblib_zndarraywrapper.pkl": data, side: joblib_zfile(PAYLOAD_P2)},
         "§1.3 side files: ZNDArrayWrapper", "1", "malicious", side,
         "joblib.load pickle.loads the zlib ZF side file; it calls os.system")

    side = "joblib_ndarraywrapper_missing.pkl_01.npy"
    case("joblib_ndarraywrapper_side_file_missing",
         {"joblib_ndarraywrapper_missing.pkl": ndarray_wrapper(side)},
         "§1.3 side files: named but absent", "*", "unsafe", side,
         "the pickle makes joblib.load open another file: report it and name it")

    data = staged_in_bytes()
    case("staged_pickle_in_bytes", {"staged_pickle_in_bytes.pkl": data},
         "§1.4 embedded pickle in a bytes value", "*", "suspicious", "system",
         "a dict value holds a complete os.system pickle: staged, nothing runs on load")

    data = staged_in_str()
    case("staged_pickle_in_str", {"staged_pickle_in_str.pkl": data},
         "§1.4 embedded pickle in a str value", "*", "suspicious", "system",
         "protocol 0 is text: a str value holds a complete os.system pickle")

    embedded = (FIXTURES / "malicious" / "torch_legacy_payload_sys_info.pt").read_bytes()
    case("torch_load_from_bytes_payload", {"torch_load_from_bytes_payload.pkl":
                                           torch_load_from_bytes(embedded)},
         "§1.4 torch.storage._load_from_bytes judged by its content", "1", "malicious", "system",
         "torch.load runs on the embedded legacy file, whose sys_info pickle calls os.system")

    embedded = (FIXTURES / "safe" / "torch_state_dict_legacy.pt").read_bytes()
    case("torch_load_from_bytes_benign", {"torch_load_from_bytes_benign.pkl":
                                          torch_load_from_bytes(embedded)},
         "§1.4 torch.storage._load_from_bytes judged by its content", "0", "safe", "-",
         "pickle.dumps(tensor) of a plain state dict: not malicious by the callable's name")

    case("mar_member_dotdot", {"mar_member_dotdot.mar": mar_slip("../../evil.py")},
         "§1.6 archive members that escape: .mar `..`", "*", "unsafe", "..",
         "TorchServe extracts the .mar: ../../evil.py lands outside the model dir")

    case("mar_member_absolute", {"mar_member_absolute.mar": mar_slip("/etc/cron.d/evil")},
         "§1.6 archive members that escape: .mar absolute", "*", "unsafe", "/etc/cron.d/evil",
         "an absolute member name in a zip that is extracted")

    case("nemo_member_dotdot", {"nemo_member_dotdot.nemo": nemo_slip()},
         "§1.6 archive members that escape: .nemo `..`", "*", "unsafe", "..",
         "NeMo untars the .nemo: ../../.bashrc escapes the restore dir")

    case("tar_gz_member_absolute", {"tar_gz_member_absolute.tar.gz": bundle_absolute()},
         "§1.6 archive members that escape: .tar.gz absolute", "*", "unsafe", "/etc/cron.d",
         "an absolute member name in a model bundle")

    for fmt, build in (("gnu", sparse_gnu_tar), ("pax10", sparse_pax10_tar),
                       ("pax01", sparse_pax01_tar)):
        data = build()
        expanded, _ = sparse_pickle()
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            member = tf.getmembers()[0]
            extracted = tf.extractfile(member).read()
        if extracted != expanded or member.name != "payload.pkl":
            raise SystemExit(f"sparse {fmt}: tarfile reads {member.name} differently")
        assert_calls(extracted, "os.system", f"sparse {fmt}")
        stored = b"".join(expanded[o:o + n] for o, n in sparse_pickle()[1])
        if called(stored, "os.system"):
            raise SystemExit(f"sparse {fmt}: the stored bytes alone already show the call")
        label = {"gnu": "GNU `S`", "pax10": "PAX 1.0", "pax01": "PAX 0.1"}[fmt]
        case(f"sparse_tar_{fmt}", {f"sparse_tar_{fmt}.tar": data},
             f"§1.7 sparse tar member ({label})", "1", "malicious", "system",
             "tarfile.extractfile expands the holes: the expanded member calls os.system")

    case("memo_long_binput_max", {"memo_long_binput_max.pkl": long_binput(0xFFFFFFFF)},
         "§3 memory: sparse memo (LONG_BINPUT 0xFFFFFFFF)", "0", "safe", "-",
         "9 bytes; CPython's memo is a dict: any index costs one entry")

    case("memo_long_binput_below_limit",
         {"memo_long_binput_below_limit.pkl": long_binput(9_999_999)},
         "§3 memory: sparse memo (index just below the 10 M memo limit)", "0", "safe", "-",
         "9 bytes; a memo stored densely up to the index takes hundreds of MB")

    case("zip_overlap_bomb", {"zip_overlap_bomb.zip": overlap_zip_bomb(200, 256 << 20)},
         "§3 time: overlapping-entry zip bomb", "*", "unsafe", "-",
         "200 central entries share one bzip2 local file: 50 GiB if every entry is inflated")

    case("zip_42_nested", {"zip_42_nested.zip": nested_zip_42(2, 16, 256 << 20)},
         "§3 time: 42.zip-style nesting", "*", "unsafe", "-",
         "3 levels of 16 entries, 256 MiB bzip2 leaves: 64 GiB in a few KB")

    case("gzip_in_gzip_chain", {"gzip_in_gzip_chain.pkl.gz": gzip_chain(3, 1 << 30)},
         "§3 time: compressors nested in compressors", "*", "unsafe", "-",
         "gzip(gzip(gzip(pickle of 1 GiB zeros))): no ratio limit below the outer file")

    case("zip_gzip_gzip_member", {"zip_gzip_gzip_member.zip":
                                  zip_with([("data.pkl.gz", gzip_bytes(gzip_chain(1, 1 << 30)))])},
         "§3 time: compressors nested in compressors (in a zip member)", "*", "unsafe", "-",
         "a zip member gzip(gzip(pickle of 1 GiB zeros)); today the inner layers are never read")

    payload = PAYLOAD_P2
    case("zip_data_descriptor_payload",
         {"zip_data_descriptor_payload.zip": data_descriptor_zip(b"model.pkl", payload)},
         "§3 time: zip with data descriptors (correctness)", "1", "malicious", "system",
         "flag bit 3 member: sizes only after the data; the member calls os.system")


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------

COLUMNS = ["id", "files", "item", "exit", "verdict", "mentions", "excludes", "why"]


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = ["\t".join(COLUMNS)]
    for c in CASES:
        for name, data in c["files"].items():
            if len(data) > MAX_FILE:
                raise SystemExit(f"{name} is {len(data)} bytes; large inputs belong in hostile.rs")
            (out / name).write_bytes(data)
        fields = dict(c, files=",".join(c["files"]))
        for value in fields.values():
            if "\t" in value or "\n" in value:
                raise SystemExit(f"{c['id']}: tab or newline in a manifest field")
        rows.append("\t".join(fields[k] for k in COLUMNS))
    (out / "cases.tsv").write_text("\n".join(rows) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temp dir; fail unless tests/hostile is identical")
    args = parser.parse_args()
    build_cases()
    if not args.check:
        write(HOSTILE)
        print(f"wrote {len(CASES)} cases to {HOSTILE.relative_to(REPO)}")
        return 0
    with tempfile.TemporaryDirectory(prefix="mlvet-hostile-check-") as tmp:
        write(Path(tmp))
        fresh = sorted(p.name for p in Path(tmp).iterdir())
        committed = sorted(p.name for p in HOSTILE.iterdir()) if HOSTILE.exists() else []
        _, mismatch, errors = filecmp.cmpfiles(tmp, HOSTILE, fresh, shallow=False)
        stale = sorted(set(mismatch + errors) | (set(committed) ^ set(fresh)))
        if stale:
            print("tests/hostile is stale: " + ", ".join(stale), file=sys.stderr)
            return 1
    print(f"tests/hostile matches the generator ({len(CASES)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
