#!/usr/bin/env python3
"""Side-by-side runs for docs/benchmarks.md, section "Formats beyond pickle".

1. Detection table: every file of tests/fixtures/modelfiles through mlvet and the peers
   (modelscan, ModelAudit `modelaudit`, picklescan, installed from PyPI in a throwaway venv).
2. Speed and memory: a large XGBoost model (1,000 trees of depth 8, JSON and UBJSON) generated at
   benchmark time under $BENCH_DIR (deleted afterwards), scanned by mlvet (release build) and the
   peers; wall time and peak RSS from GNU time.

Usage (two venvs: one with xgboost-cpu, one with the peers):
    MLVET=/work/tgt/h5/release/mlvet PEERS=/tmp/venv-h5-peers/bin \\
        /tmp/venv-h5/bin/python scripts/bench_modelfiles.py table
    ... bench
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "modelfiles")
MLVET = os.environ.get("MLVET", "mlvet")
PEERS = os.environ.get("PEERS", "")


def run(cmd, timeout=300):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=FIX)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return None, "", "timeout"


def mlvet_verdict(path):
    _, out, _ = run([MLVET, "scan", "--format", "json", "--no-deps", "--fail-on", "never", path])
    a = json.loads(out)["artifacts"][0]
    return a["verdict"]


def modelscan(path):
    _, out, _ = run([os.path.join(PEERS, "modelscan"), "-p", path, "-r", "json"])
    try:
        d = json.loads(out[out.index("{"):])
    except ValueError:
        return "error"
    if d["summary"]["scanned"]["total_scanned"] == 0 and not d["issues"]:
        return "not scanned"
    sev = {i["severity"] for i in d["issues"]}
    return "flagged (" + ",".join(sorted(sev)).lower() + ")" if sev else "clean"


def modelaudit(path):
    _, out, _ = run([os.path.join(PEERS, "modelaudit"), "scan", "--format", "json", "--no-cache", path])
    try:
        d = json.loads(out[out.index("{"):])
    except ValueError:
        return "error"
    sev = {i.get("severity") for i in d.get("issues", []) if i.get("severity") in ("critical", "warning")}
    if not sev:
        return "clean" + (" (errors)" if d.get("has_errors") else "")
    return "flagged (" + ",".join(sorted(sev)) + ")"


def picklescan(path):
    code, out, _ = run([os.path.join(PEERS, "picklescan"), "-p", path])
    if "Dangerous globals: 0" in out and "Infected files: 0" in out:
        return "clean" if "Scanned files: 0" not in out else "not scanned"
    return "flagged" if code == 1 else ("error" if code not in (0, 1) else "clean")


def table():
    labels = {}
    for line in open(os.path.join(FIX, "labels.tsv")):
        if line.startswith("#") or not line.strip():
            continue
        cols = line.rstrip("\n").split("\t")
        labels[cols[0]] = cols[1]
    print("| file | expected | mlvet | modelscan | ModelAudit | picklescan |")
    print("|---|---|---|---|---|---|")
    for name in sorted(labels):
        print(f"| `{name}` | {labels[name]} | {mlvet_verdict(name)} | {modelscan(name)} | "
              f"{modelaudit(name)} | {picklescan(name)} |")


def timed(cmd):
    t = tempfile.NamedTemporaryFile(delete=False)
    t.close()
    subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name] + cmd,
                   capture_output=True, cwd=FIX, timeout=1800)
    secs, kb = open(t.name).read().split()[-2:]
    os.unlink(t.name)
    return float(secs), int(kb) // 1024


def bench():
    import numpy as np
    import xgboost as xgb

    # BENCH_DIR keeps the generated inputs (and reuses them); otherwise a temporary folder.
    keep = os.environ.get("BENCH_DIR")
    work = keep or tempfile.mkdtemp(prefix="mlvet-bench-")
    os.makedirs(work, exist_ok=True)
    try:
        paths = {ext: os.path.join(work, f"xgb_1000_trees.{ext}") for ext in ("json", "ubj")}
        if not all(os.path.exists(p) for p in paths.values()):
            rng = np.random.RandomState(0)
            X = rng.rand(5000, 20)
            y = X[:, 0] * 3 + X[:, 1] + rng.rand(5000)
            booster = xgb.train({"max_depth": 8, "eta": 0.05, "seed": 0, "nthread": 1, "tree_method": "hist"},
                                xgb.DMatrix(X, label=y), num_boost_round=1000)
            for path in paths.values():
                booster.save_model(path)
        if sys.argv[2:] == ["--generate-only"]:
            return
        print("| input | size | tool | wall time (s) | peak RSS (MiB) | verdict |")
        print("|---|---|---|---|---|---|")
        for ext, path in paths.items():
            size = f"{os.path.getsize(path) / 1e6:.1f} MB"
            for tool, cmd in [
                ("mlvet", [MLVET, "scan", "--format", "json", "--no-deps", path]),
                ("modelscan", [os.path.join(PEERS, "modelscan"), "-p", path, "-r", "json"]),
                ("ModelAudit", [os.path.join(PEERS, "modelaudit"), "scan", "--format", "json", "--no-cache", path]),
            ]:
                secs, mib = timed(cmd)
                verdict = mlvet_verdict(path) if tool == "mlvet" else (modelscan(path) if tool == "modelscan" else modelaudit(path))
                print(f"| `{os.path.basename(path)}` | {size} | {tool} | {secs:.2f} | {mib} | {verdict} |")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    {"table": table, "bench": bench}[sys.argv[1]]()
