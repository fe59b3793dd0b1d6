#!/usr/bin/env python3
"""Benchmarks the registries/data pass of `mlvet scan` on a realistic ML repository, side by
side with DVC's own verification (`dvc status`) and a plain `md5sum` baseline.

    cargo build --release -p mlvet-cli
    python3 -m venv /tmp/venv-reg && /tmp/venv-reg/bin/pip install dvc
    PATH=/tmp/venv-reg/bin:$PATH python3 scripts/bench_registries.py --mlvet target/release/mlvet

The generated repository (under --work, default /tmp/bench-registries) has 1,500 Python files,
500 YAML/JSON configs, 50 notebooks with outputs, 200 Markdown files, requirements files, a
`pyproject.toml` with uv indexes, and a DVC-tracked `data/` directory (2,000 files of 256 KiB plus
one 1 GiB file: 1.5 GiB) added with real DVC, so the DVC cache holds another 1.5 GiB. Every run
starts a fresh process; the files are in the page cache (warm), as in a CI job that just checked
out and pulled them.
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def run(cmd, cwd=None, quiet=True):
    return subprocess.run(
        cmd,
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.DEVNULL if quiet else None,
    )


def timed(cmd, cwd=None, before=None, runs=3):
    """Median wall time and max RSS (GNU time) over `runs` fresh processes."""
    walls, rss = [], []
    for _ in range(runs):
        if before:
            before()
        started = time.perf_counter()
        out = subprocess.run(
            ["/usr/bin/time", "-f", "%M"] + cmd,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        walls.append(time.perf_counter() - started)
        rss.append(int(out.stderr.strip().splitlines()[-1]) / 1024)
    return statistics.median(walls), max(rss)


def generate(root: Path):
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(42)
    src = root / "src" / "acme_ml"
    src.mkdir(parents=True)
    body = "".join(
        f"def step_{i}(batch):\n    return model(batch) * {i}  # training step\n\n" for i in range(60)
    )
    for i in range(1500):
        (src / f"module_{i}.py").write_text(f"import torch\n\n{body}")
    configs = root / "configs"
    configs.mkdir()
    for i in range(300):
        (configs / f"exp_{i}.yaml").write_text(
            f"model: models:/ranker/{i % 9 + 1}\nlr: 0.001\nbatch_size: 32\nepochs: {i}\n" * 20
        )
    for i in range(200):
        (configs / f"cfg_{i}.json").write_text('{"hidden_size": 768, "layers": 12}\n' * 50)
    notebooks = root / "notebooks"
    notebooks.mkdir()
    output = "loss 0.123456 acc 0.98765\\n" * 8000
    for i in range(50):
        (notebooks / f"nb_{i}.ipynb").write_text(
            '{"cells": [{"cell_type": "code", "source": ["train()"], "outputs": '
            f'[{{"name": "stdout", "text": ["{output}"]}}]}}], "nbformat": 4, "nbformat_minor": 5}}\n'
        )
    docs = root / "docs"
    docs.mkdir()
    for i in range(200):
        (docs / f"page_{i}.md").write_text("# Page\n\nSome words about training.\n" * 100)
    (root / "requirements.txt").write_text("--index-url https://mirror.acme.invalid/simple\n" + "".join(
        f"pkg-{i}=={i % 7}.0.{i}\n" for i in range(200)
    ))
    (root / "pyproject.toml").write_text(
        '[project]\nname = "acme-ml"\nversion = "1.0"\ndependencies = ["acme-core>=1"]\n\n'
        '[[tool.uv.index]]\nname = "internal"\nurl = "https://pkgs.acme.invalid/simple"\nexplicit = true\n\n'
        '[tool.uv.sources]\nacme-core = { index = "internal" }\n'
    )
    data = root / "data"
    data.mkdir()
    for i in range(2000):
        (data / f"shard_{i:05}.bin").write_bytes(rng.randbytes(256 * 1024))
    with open(data / "big.bin", "wb") as f:
        chunk = rng.randbytes(1 << 20)
        for _ in range(1024):
            f.write(chunk)
    run(["dvc", "init", "--no-scm", "-q"], cwd=root)
    run(["dvc", "add", "-q", "data"], cwd=root)
    shutil.rmtree(root / ".dvc" / "tmp", ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlvet", required=True)
    parser.add_argument("--work", default="/tmp/bench-registries")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep an already generated repository")
    args = parser.parse_args()
    mlvet = str(Path(args.mlvet).resolve())
    root = Path(args.work) / "repo"
    if not (args.reuse and (root / "data.dvc").exists()):
        generate(root)
    data_bytes = sum(p.stat().st_size for p in (root / "data").rglob("*") if p.is_file())
    cache_bytes = sum(p.stat().st_size for p in (root / ".dvc" / "cache").rglob("*") if p.is_file())
    files = sum(1 for p in root.rglob("*") if p.is_file())
    gib = 1024**3

    def clear_dvc_state():
        shutil.rmtree(root / ".dvc" / "tmp", ignore_errors=True)

    rows = []
    base = [mlvet, "scan", ".", "--format", "json", "--no-config", "--no-deps", "-o", "/dev/null"]
    wall, rss = timed(base, cwd=root, runs=args.runs)
    rows.append(("mlvet scan (whole repo: workspace + DVC cache verified)", wall, rss, data_bytes + cache_bytes))
    wall, rss = timed(base + ["--exclude", ".dvc/cache"], cwd=root, runs=args.runs)
    rows.append(("mlvet scan --exclude .dvc/cache (workspace verified)", wall, rss, data_bytes))
    wall, rss = timed(["dvc", "status", "-q"], cwd=root, before=clear_dvc_state, runs=args.runs)
    rows.append(("dvc status (hash state cleared: workspace rehashed)", wall, rss, data_bytes))
    shards = sorted(str(p) for p in (root / "data").iterdir())
    wall, rss = timed(["md5sum"] + shards, cwd=root, runs=args.runs)
    rows.append(("md5sum over data/ (one process, baseline)", wall, rss, data_bytes))

    print(f"repository: {files} files, data/ {data_bytes / gib:.2f} GiB, DVC cache {cache_bytes / gib:.2f} GiB\n")
    print("| run | wall (median) | peak RSS | hashed | throughput |")
    print("|---|---:|---:|---:|---:|")
    for name, wall, rss, hashed in rows:
        print(f"| {name} | {wall:.2f} s | {rss:.0f} MiB | {hashed / gib:.2f} GiB | {hashed / gib / wall:.2f} GiB/s |")


if __name__ == "__main__":
    sys.exit(main())
