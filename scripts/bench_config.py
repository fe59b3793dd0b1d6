#!/usr/bin/env python3
"""Benchmark what configuration, ignores and VEX cost a scan, and what `exclude` saves.

Usage:
    cargo build --release -p mlvet-cli
    python3 scripts/bench_config.py --mlvet "$CARGO_TARGET_DIR/release/mlvet" [--runs 5]

Standard library only. Generates its inputs under a temporary directory (deleted afterwards):

- tree/: 4,000 small pickles (protocol 4, a dict of lists each, written by the pickle module)
  in models/, plus requirements.txt pinning 300 real package versions taken from the advisory
  snapshot ../shared/advisories (the first affected version of each package), so that hundreds
  of vulnerability findings exist for ignores and VEX to work on;
- big/: 200 pickles of 1 MiB each under data/ (200 MiB) and one small model beside them,
  excluded or not, to measure what `exclude` saves;
- mlvet.toml with 1,000 ignores (rules, advisories with aliases, packages, paths) and a VEX
  document with 20,000 statements.

Prints a Markdown table: wall time (median of --runs fresh processes) and peak RSS (GNU time).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADVISORIES = ROOT.parent / "shared" / "advisories" / "pypa-advisory-database" / "vulns"


def first_affected_versions(limit: int) -> list[tuple[str, str, list[str]]]:
    """(package, version, ids) for packages of the snapshot whose record lists versions."""
    out = []
    for package_dir in sorted(ADVISORIES.iterdir()):
        for record in sorted(package_dir.glob("*.yaml")):
            text = record.read_text(errors="replace")
            versions = re.findall(r"^  - ([0-9][0-9A-Za-z.+!-]*)$", text, re.M)
            ids = [record.stem] + re.findall(r"^- ((?:CVE|GHSA)-[0-9A-Za-z-]+)$", text, re.M)
            if versions:
                out.append((package_dir.name, versions[0], ids))
                break
        if len(out) >= limit:
            break
    return out


def build(base: Path) -> dict[str, Path]:
    tree = base / "tree"
    models = tree / "models"
    models.mkdir(parents=True)
    for i in range(4000):
        payload = {"layer": i, "weights": list(range(i % 50)), "name": f"block{i}"}
        (models / f"m{i:04}.pkl").write_bytes(pickle.dumps(payload, protocol=4))
    pins = first_affected_versions(300)
    (tree / "requirements.txt").write_text("".join(f"{p}=={v}\n" for p, v, _ in pins))

    ignores = []
    for n, (package, _, ids) in enumerate(pins[:150]):
        ignores.append(
            f'[[ignore]]\nadvisory = "{ids[-1]}"\npackage = "{package}"\n'
            f'reason = "benchmark ignore {n}"\nexpires = 2999-12-31\n'
        )
    for n in range(850):
        ignores.append(
            f'[[ignore]]\nrule = "pickle-unknown-callable"\npath = "other{n}/**"\n'
            f'reason = "benchmark ignore {n}"\n'
        )
    statements = []
    for n, (package, version, ids) in enumerate(pins[150:]):
        statements.append({
            "vulnerability": {"name": ids[-1], "aliases": ids[:-1]},
            "products": [{"@id": f"pkg:pypi/{package}@{version}"}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
        })
    for n in range(20000 - len(statements)):
        statements.append({
            "vulnerability": {"name": f"CVE-2099-{n:05}"},
            "products": [{"@id": f"pkg:pypi/unrelated-{n}@1.0"}],
            "status": "affected",
            "action_statement": "upgrade",
        })
    vex = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "urn:mlvet:bench",
        "author": "bench",
        "timestamp": "2025-01-01T00:00:00Z",
        "version": 1,
        "statements": statements,
    }
    (tree / "bench.openvex.json").write_text(json.dumps(vex))
    (tree / "mlvet.toml").write_text(
        'fail-on = "never"\nvex = ["bench.openvex.json"]\n\n' + "\n".join(ignores)
    )

    big = base / "big"
    data = big / "data"
    data.mkdir(parents=True)
    blob = pickle.dumps(bytes(1024 * 1024 - 64), protocol=4)
    for i in range(200):
        (data / f"shard{i:03}.pkl").write_bytes(blob)
    (big / "model.pkl").write_bytes(pickle.dumps({"ok": True}, protocol=4))
    (big / "mlvet.toml").write_text('exclude = ["data/"]\n')
    return {"tree": tree, "big": big}


def measure(cmd: list[str], cwd: Path, env: dict, runs: int) -> tuple[float, float, int]:
    walls, rss, code = [], [], 0
    for _ in range(runs):
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", *cmd],
            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        wall, kib = proc.stderr.strip().splitlines()[-1].split()
        walls.append(float(wall))
        rss.append(int(kib) / 1024)
        code = proc.returncode
    return statistics.median(walls), max(rss), code


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlvet", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    mlvet = str(Path(args.mlvet).resolve())
    base = Path(tempfile.mkdtemp(prefix="mlvet-bench-config-"))
    try:
        paths = build(base)
        (paths["tree"] / ".git").mkdir()
        (paths["big"] / ".git").mkdir()
        data_dir = base / "data"
        env = dict(os.environ, MLVET_DATA_DIR=str(data_dir), NO_COLOR="1")
        subprocess.run([mlvet, "db", "import", "--quiet", str(ADVISORIES)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        cases = [
            ("4,000 pickles + 300 pins, --no-config", paths["tree"], ["scan", ".", "--no-config", "--fail-on", "never"]),
            ("same, 1,000 ignores + 20,000 VEX statements", paths["tree"], ["scan", "."]),
            ("same, JSON", paths["tree"], ["scan", ".", "--format", "json"]),
            ("200 x 1 MiB pickles in data/, --no-config", paths["big"], ["scan", ".", "--no-config", "--no-deps"]),
            ("same, data/ excluded in mlvet.toml", paths["big"], ["scan", ".", "--no-deps"]),
        ]
        print("| case | wall (median) | peak RSS | exit |")
        print("|---|---:|---:|---:|")
        for label, cwd, cmd in cases:
            wall, rss, code = measure([mlvet, *cmd], cwd, env, args.runs)
            print(f"| {label} | {wall:.3f} s | {rss:.0f} MiB | {code} |")
        out = subprocess.run([mlvet, "scan", ".", "--format", "json"], cwd=paths["tree"], env=env,
                             capture_output=True, text=True)
        report = json.loads(out.stdout)
        print(f"\nwith the configuration: {report['summary']['by_verdict']}, "
              f"{len(report['warnings'])} warnings")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
