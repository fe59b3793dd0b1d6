#!/usr/bin/env python3
"""Keras / HDF5 benchmark and peer detection table (docs/benchmarks.md, "Keras and HDF5").

Usage:
    KERAS_BACKEND=torch /tmp/venv-h3/bin/python scripts/bench_keras.py \
        --mlvet $CARGO_TARGET_DIR/release/mlvet --peers-venv /tmp/venv-h3-peers --runs 5

Needs: a venv with keras 3.15.1 (torch backend), torch, h5py (the one scripts/gen_keras_fixtures.py
uses) to make the large inputs, and a venv with the peers (`modelscan[tensorflow]` 0.8.8,
`modelaudit` 0.2.54) for the side-by-side runs. Large inputs are written to a temporary directory
and deleted at the end; nothing is committed.

Large inputs (benign): a legacy Keras `.h5` and a `.keras` of the same Sequential model with about
400 MB of float32 weights, and a plain h5py file with one 512 MiB dataset.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "keras")


def make_large(dirpath: str) -> list[str]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import h5py
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8192,)), keras.layers.Dense(8192), keras.layers.Dense(4096), keras.layers.Dense(10)]
    )
    h5 = os.path.join(dirpath, "large_model.h5")
    model.save(h5)
    zipped = os.path.join(dirpath, "large_model.keras")
    model.save(zipped)
    plain = os.path.join(dirpath, "large_weights.h5")
    with h5py.File(plain, "w") as f:
        d = f.create_dataset("w", shape=(128 * 1024 * 1024,), dtype="float32")
        d[-1] = 1.0  # allocates the whole dataset on disk
    return [h5, zipped, plain]


def timed(cmd: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall time and peak RSS (KiB) of one fresh process."""
    wrapper = ["/usr/bin/time", "-f", "%M"] if os.path.exists("/usr/bin/time") else []
    start = time.perf_counter()
    proc = subprocess.run(wrapper + cmd, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    rss = 0
    if wrapper:
        lines = proc.stderr.strip().splitlines()
        try:
            rss = int(lines[-1])
        except (IndexError, ValueError):
            rss = 0
    else:
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, rss, proc


def median_run(cmd: list[str], runs: int) -> tuple[float, int, subprocess.CompletedProcess]:
    results = [timed(cmd) for _ in range(runs)]
    walls = [r[0] for r in results]
    return statistics.median(walls), max(r[1] for r in results), results[-1][2]


def mlvet_verdict(proc: subprocess.CompletedProcess, path: str) -> str:
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return "error"
    for artifact in report.get("artifacts", []):
        if artifact.get("path") == path:
            return artifact.get("verdict", "?")
    return "?"


def modelscan_verdict(proc: subprocess.CompletedProcess) -> str:
    out = proc.stdout + proc.stderr
    if "please install modelscan with" in out or "error was raised" in out:
        return "error"
    if "No issues found" in out:
        return "clean"
    if "Total Issues" in out or "--- Issues by Severity ---" in out:
        return "flagged"
    if "Total skipped" in out or "skipped" in out.lower():
        return "skipped"
    return "?"


def modelaudit_verdict(proc: subprocess.CompletedProcess) -> str:
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return "error"
    issues = [
        i
        for i in report.get("issues", [])
        if str(i.get("severity", "")).lower() in ("critical", "warning", "error", "high", "medium")
    ]
    return "flagged" if issues else "clean"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlvet", required=True)
    ap.add_argument("--peers-venv", default="/tmp/venv-h3-peers")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args()
    modelscan = os.path.join(args.peers_venv, "bin", "modelscan")
    modelaudit = os.path.join(args.peers_venv, "bin", "modelaudit")

    print("## Detection on tests/fixtures/keras\n")
    print("| file | expected | mlvet | modelscan | modelaudit |")
    print("|---|---|---|---|---|")
    with open(os.path.join(FIXTURES, "labels.tsv")) as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh.readlines()[1:]]
    for name, expected, _ in rows:
        path = os.path.join(FIXTURES, name)
        _, _, m = timed([args.mlvet, "scan", path, "--format", "json"])
        _, _, s = timed([modelscan, "-p", path])
        _, _, a = timed([modelaudit, "scan", path, "--format", "json", "--no-cache"])
        print(f"| {name} | {expected} | {mlvet_verdict(m, path)} | {modelscan_verdict(s)} | {modelaudit_verdict(a)} |")
    sys.stdout.flush()

    if args.skip_large:
        return
    tmp = tempfile.mkdtemp(prefix="mlvet-bench-keras-")
    try:
        inputs = make_large(tmp)
        print("\n## Large inputs\n")
        print("| input | size | tool | wall (median) | peak RSS | result |")
        print("|---|---:|---|---:|---:|---|")
        for path in inputs:
            size = f"{os.path.getsize(path) / 1e6:.0f} MB"
            name = os.path.basename(path)
            wall, rss, proc = median_run([args.mlvet, "scan", path, "--format", "json"], args.runs)
            print(f"| {name} | {size} | mlvet | {wall:.3f} s | {rss / 1024:.0f} MiB | {mlvet_verdict(proc, path)} |")
            wall, rss, proc = median_run([modelscan, "-p", path], max(1, args.runs // 2))
            print(f"| {name} | {size} | modelscan | {wall:.3f} s | {rss / 1024:.0f} MiB | {modelscan_verdict(proc)} |")
            wall, rss, proc = median_run(
                [modelaudit, "scan", path, "--format", "json", "--no-cache"], max(1, args.runs // 2)
            )
            print(f"| {name} | {size} | modelaudit | {wall:.3f} s | {rss / 1024:.0f} MiB | {modelaudit_verdict(proc)} |")
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
