#!/usr/bin/env python3
"""Benchmarks and peer detection table for safetensors validation, polyglots, `.pth` hooks and
model folders (docs/benchmarks.md, section "safetensors, polyglots, .pth hooks, model folders").

Usage:
    cargo build --release -p mlvet-cli        # into $CARGO_TARGET_DIR
    /tmp/venv-h4/bin/python scripts/bench_formats_folders.py --mlvet $CARGO_TARGET_DIR/release/mlvet

Peers come from the same venv (`pip install --no-cache-dir modelaudit modelscan picklescan
fickling`). The sparse 10 GiB safetensors file is made in a temporary folder and deleted.
Exit codes are recorded as each tool documents them: ✅ flagged, ❌ passed as clean, E error,
n/s "no supported file" (modelscan 3), "-" not run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "formats_folders"
BIN = Path(sys.executable).parent


def run(cmd: list[str], timeout: float = 600) -> tuple[int, float, int]:
    """Exit code, wall seconds, peak RSS of the child in KiB (GNU time)."""
    timed = ["/usr/bin/time", "-f", "%M", *cmd]
    start = time.perf_counter()
    p = subprocess.run(timed, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    rss = 0
    for line in reversed(p.stderr.strip().splitlines()):
        if line.strip().isdigit():
            rss = int(line.strip())
            break
    return p.returncode, wall, rss


def sparse_safetensors(folder: Path) -> Path:
    path = folder / "model.safetensors"
    body = 10 * 1024**3
    header = json.dumps(
        {
            "__metadata__": {"format": "pt"},
            "w": {"dtype": "BF16", "shape": [body // 2048, 1024], "data_offsets": [0, body]},
        },
        separators=(",", ":"),
    ).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + body)
    return path


def tools(mlvet: str) -> dict[str, callable]:
    return {
        "mlvet": lambda p: [mlvet, "scan", "--no-deps", "--fail-on", "low", "-q", str(p)],
        "modelaudit": lambda p: [str(BIN / "modelaudit"), "scan", "--no-cache", str(p)],
        "modelscan": lambda p: [str(BIN / "modelscan"), "-p", str(p)],
        "picklescan": lambda p: [str(BIN / "picklescan"), "-p", str(p)],
        "fickling": lambda p: [str(BIN / "fickling"), "--check-safety", str(p)],
    }


def verdict(tool: str, code: int) -> str:
    if tool == "modelscan" and code == 3:
        return "n/s"
    if code == 0:
        return "❌"
    if code == 1:
        return "✅"
    return f"E{code}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlvet", required=True)
    args = ap.parse_args()
    t = tools(args.mlvet)
    with tempfile.TemporaryDirectory() as tmp:
        path = sparse_safetensors(Path(tmp))
        print("## sparse 10 GiB safetensors (header only)\n")
        print("| tool | exit | wall s | peak RSS MiB |\n|---|---|---|---|")
        for name in ["mlvet", "modelaudit", "modelscan"]:
            best = None
            for _ in range(3):
                code, wall, rss = run(t[name](path))
                if best is None or wall < best[1]:
                    best = (code, wall, rss)
            print(f"| {name} | {best[0]} | {best[1]:.3f} | {best[2] / 1024:.0f} |")
    print("\n## detection (fixtures)\n")
    rows = sorted(
        [p for p in (FIX / "safetensors").iterdir()]
        + [p for p in (FIX / "polyglot").iterdir()]
        + [p for p in (FIX / "venv/lib/python3.11/site-packages").iterdir() if p.suffix == ".pth"]
    )
    names = list(t)
    print("| fixture | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for p in rows:
        cells = []
        for name in names:
            try:
                code, _, _ = run(t[name](p), timeout=120)
                cells.append(verdict(name, code))
            except subprocess.TimeoutExpired:
                cells.append("timeout")
        print(f"| `{p.relative_to(FIX)}` | " + " | ".join(cells) + " |")
    snapshot = next((FIX / "hub/models--mlvet--demo/snapshots").iterdir())
    cells = []
    for name in names:
        code, _, _ = run(t[name](snapshot), timeout=120)
        cells.append(verdict(name, code))
    print(f"| `hub/.../snapshots/<commit>/` (auto_map, *.py) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
