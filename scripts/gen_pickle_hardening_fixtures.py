#!/usr/bin/env python3
"""Generate the protocol-0 fixtures of the pickle VM hardening tests (issue 13, sections 1.1 and 1.5).

Usage:  python3 scripts/gen_pickle_hardening_fixtures.py [--venv DIR]

Writes tests/fixtures/pickle-hardening/:
  safe/numpy_array_p0.pkl           numpy 2.4.6: a float64 array pickled with protocol=0 (its data is
                                    a long `_codecs.encode` UNICODE argument full of \\u escapes)
  safe/sklearn_scaler_p0.pkl        scikit-learn 1.9.1: a fitted StandardScaler, protocol=0
  malicious/long_string_then_system_p0.pkl     a 4,000-byte STRING, then posix.system('echo pwned')
  malicious/long_unicode_then_system_p0.pkl    a UNICODE argument of 400 \\u escapes, then the same
  malicious/memo_keys_underscore_sign_p0.pkl   posix.system put at memo key `0_1`, fetched as `+0_1`

The real-library files are made in a throwaway venv (default /tmp/mlvet-p0-fixtures-venv) with the
pinned numpy and scikit-learn of scripts/requirements-fixtures.txt; the malicious ones need only the
standard library. Malicious payloads only name `echo pwned` and are never loaded: that CPython's C
unpickler reads them to the end is proven with a tracing unpickler whose find_class returns an inert
stub (nothing named in the pickle is imported or called). Output is deterministic (fixed seed).
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "pickle-hardening"
DEFAULT_VENV = Path("/tmp/mlvet-p0-fixtures-venv")
PINS = ["numpy==2.4.6", "scikit-learn==1.9.1"]
SHELL = b"echo pwned"


class Tracer(pickle.Unpickler):
    """Records what find_class is asked for and returns an inert stub instead of importing it."""

    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data))
        self.seen: list[str] = []

    def find_class(self, module, name):
        self.seen.append(f"{module}.{name}")
        return lambda *args, **kwargs: None


def traced(data: bytes) -> list[str]:
    tracer = Tracer(data)
    tracer.load()
    return tracer.seen


def system_call_p0() -> bytes:
    return b"cposix\nsystem\n(S'" + SHELL + b"'\ntR."


def malicious() -> dict[str, bytes]:
    long_string = b"S'" + b"A" * 4000 + b"'\n0"
    long_unicode = b"V" + b"\\u00e9" * 400 + b"\n0"
    memo_keys = b"cposix\nsystem\np0_1\n0g+0_1\n(S'" + SHELL + b"'\ntR."
    files = {
        "malicious/long_string_then_system_p0.pkl": long_string + system_call_p0(),
        "malicious/long_unicode_then_system_p0.pkl": long_unicode + system_call_p0(),
        "malicious/memo_keys_underscore_sign_p0.pkl": memo_keys,
    }
    for name, data in files.items():
        assert traced(data) == ["posix.system"], name
    return files


def real_library() -> dict[str, bytes]:
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(0)
    array = rng.standard_normal(512)
    scaler = StandardScaler().fit(rng.standard_normal((64, 8)))
    return {
        "safe/numpy_array_p0.pkl": pickle.dumps(array, protocol=0),
        "safe/sklearn_scaler_p0.pkl": pickle.dumps(scaler, protocol=0),
    }


def in_venv(venv: Path) -> None:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
    env = dict(os.environ, PYTHONHASHSEED="0")
    subprocess.run([str(python), __file__, "--inside"], check=True, env=env)


def write(files: dict[str, bytes]) -> None:
    for name, data in sorted(files.items()):
        path = OUT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{len(data):>8}  {path.relative_to(REPO)}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        files = real_library()
        # The real files must load with the C unpickler (they are benign: loading is safe).
        for name, data in files.items():
            pickle.loads(data)
            assert b"\x80" not in data[:1], f"{name} is not protocol 0"
        write(files)
        return 0
    write(malicious())
    in_venv(args.venv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
