#!/usr/bin/env python3
"""Benchmarks the dependency side of mlvet: advisory import and lockfile matching.

Standard library only. It synthesises 20,000 OSV records (JSON, realistic shapes: ECOSYSTEM
ranges, aliases, CVSS vectors) over 2,000 package names, a 500-package `poetry.lock` and a
500-line `requirements.txt` using those names, then measures with the release binary:

  * `mlvet db import` of the 20,000 records (wall time, peak RSS);
  * `mlvet scan` of each manifest against that database (whole process, median of N runs, peak RSS).

Usage: python3 scripts/bench_deps.py [--mlvet target/release/mlvet] [--runs 10] [--out FILE]
"""
import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECORDS = 20_000
PACKAGES = 2_000
LOCKED = 500


def package_names():
    real = ["torch", "tensorflow", "transformers", "vllm", "keras", "mlflow", "gradio", "langchain",
            "numpy", "scipy", "pandas", "scikit-learn", "pillow", "requests", "urllib3", "jinja2",
            "aiohttp", "onnx", "onnxruntime", "ray", "tokenizers", "safetensors", "datasets", "accelerate"]
    names = real + [f"pkg-{i:04d}" for i in range(PACKAGES - len(real))]
    return names


def synth_records(out_dir: Path, names, rng: random.Random):
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(RECORDS):
        name = names[i % len(names)]
        major = rng.randint(0, 5)
        minor = rng.randint(0, 30)
        events = [{"introduced": "0" if rng.random() < 0.4 else f"{major}.{max(minor - 5, 0)}.0"},
                  {"fixed": f"{major}.{minor}.{rng.randint(0, 9)}"}]
        record = {
            "schema_version": "1.6.0",
            "id": f"BENCH-{2020 + i % 6}-{i:05d}",
            "modified": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00Z",
            "published": f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00Z",
            "aliases": [f"CVE-{2020 + i % 6}-{10000 + i}", f"GHSA-bench-{i:05d}"],
            "summary": f"Synthetic advisory {i} for {name}",
            "details": "Synthetic record for benchmarking. " * 8,
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{
                "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "versions": [f"{major}.{minor}.{p}" for p in range(rng.randint(0, 6))],
            }],
            "references": [{"type": "WEB", "url": f"https://example.invalid/advisories/{i}"}],
        }
        (out_dir / f"{record['id']}.json").write_text(json.dumps(record))


def synth_manifests(out_dir: Path, names, rng: random.Random):
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = names[:LOCKED]
    versions = {n: f"{rng.randint(0, 5)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}" for n in chosen}
    lock = []
    for name in chosen:
        lock.append(f'[[package]]\nname = "{name}"\nversion = "{versions[name]}"\n'
                    f'description = ""\noptional = false\npython-versions = ">=3.8"\nfiles = []\n')
    lock.append('[metadata]\nlock-version = "2.0"\npython-versions = "^3.10"\ncontent-hash = "0"\n')
    (out_dir / "poetry.lock").write_text("\n".join(lock))
    (out_dir / "requirements.txt").write_text("".join(f"{n}=={versions[n]}\n" for n in chosen))


def run_measured(cmd, env):
    """Runs cmd in a fresh child; returns (seconds, peak RSS in MB of that child, returncode)."""
    start = time.perf_counter()
    # /usr/bin/time gives the child's own peak; fall back to the rusage delta otherwise.
    timer = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    if timer:
        proc = subprocess.run([timer, "-f", "%M", *cmd], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "0"
        rss_mb = int(last) / 1024 if last.isdigit() else float("nan")
        return elapsed, rss_mb, proc.returncode
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, rss_mb, proc.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlvet", default="target/release/mlvet")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out")
    ap.add_argument("--bench-match", default="target/release/examples/bench_match",
                    help="the mlvet-db bench_match example (cargo build --release -p mlvet-db --example bench_match)")
    args = ap.parse_args()
    mlvet = str(Path(args.mlvet).resolve())
    rng = random.Random(20261126)
    names = package_names()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlvet-bench-deps-") as tmp:
        tmp = Path(tmp)
        synth_records(tmp / "osv", names, rng)
        synth_manifests(tmp / "project", names, rng)
        env = dict(os.environ, MLVET_DATA_DIR=str(tmp / "data"), NO_COLOR="1")
        secs, rss, rc = run_measured([mlvet, "db", "import", "-q", str(tmp / "osv")], env)
        if rc != 0:
            sys.exit(f"import failed with exit code {rc}")
        rows.append(("db import of 20,000 OSV JSON records", secs, rss, "≤ 5 s"))
        for manifest in ["poetry.lock", "requirements.txt"]:
            times, peak = [], 0.0
            for _ in range(args.runs):
                secs, rss, rc = run_measured(
                    [mlvet, "scan", "--format", "json", "--fail-on", "never", str(tmp / "project" / manifest)], env)
                if rc not in (0, 1):
                    sys.exit(f"scan failed with exit code {rc}")
                times.append(secs)
                peak = max(peak, rss)
            rows.append((f"scan of a {LOCKED}-package {manifest} (whole process, median of {args.runs})",
                         statistics.median(times), peak, "≤ 150 ms, ≤ 100 MB"))
        bench_match = Path(args.bench_match)
        if bench_match.exists():
            out = subprocess.run([str(bench_match), str(tmp / "data"), str(tmp / "project" / "poetry.lock"), "50"],
                                 capture_output=True, text=True, check=True).stdout.strip()
            print(out)
            median_ms = float(out.split("median ")[1].split(" ms")[0])
            rows.append((f"parse + match of the {LOCKED}-package poetry.lock once the database is open "
                         "(bench_match, median of 50)", median_ms / 1000, float("nan"), "≤ 50 ms"))
        else:
            print(f"{bench_match} not built: skipping the after-open measurement")
    table = ["| measurement | wall time | peak RSS | target |", "|---|---|---|---|"]
    for label, secs, rss, target in rows:
        shown = f"{secs * 1000:.0f} ms" if secs < 1 else f"{secs:.2f} s"
        rss_shown = "–" if rss != rss else f"{rss:.0f} MB"
        table.append(f"| {label} | {shown} | {rss_shown} | {target} |")
    text = "\n".join(table) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
