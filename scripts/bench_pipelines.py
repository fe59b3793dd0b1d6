#!/usr/bin/env python3
"""mlvet's pipeline rules side by side with zizmor on the workflow fixtures, and scan speed on a
large set of workflows (issue 10, pipelines part).

Usage:
  python3 scripts/bench_pipelines.py --mlvet PATH/TO/mlvet [--zizmor PATH] [--copies 500] [--runs 3]
      [--library PATH/TO/pipeline_bench]   # the crate's example: parsers + rules, no CLI
  python3 scripts/bench_pipelines.py --write-fixture [--zizmor PATH]

Without --zizmor a throwaway venv /tmp/venv-pipelines-bench gets `zizmor==1.32.0` from the default
package index. Run from the repository root.

1. Findings: runs `zizmor --offline --persona=auditor --format=json-v1` and
   `mlvet scan --no-deps --no-config --format json` (with MLVET_ZIZMOR=off, so mlvet's own rules
   only) on every workflow and composite action under tests/fixtures/pipelines/, and prints, per
   file and line, which findings only one of the two tools reports.
2. Speed: copies the fixture workflows `--copies` times into a temporary `.github/workflows/`
   (distinct file names, one job renamed per copy so no two files are identical), then times
   `zizmor --offline --format=json-v1 DIR` and `mlvet scan --no-deps --no-config --format json DIR`
   (best of `--runs`, wall clock).

--write-fixture writes tests/fixtures/pipelines/zizmor-1.32.0.json: zizmor's real json-v1 output
on the unsafe fixture workflows, with the paths as given (relative to the repository root); the
CLI tests feed it to mlvet through a stand-in `zizmor` so they need no zizmor installed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

FIXTURES = Path("tests/fixtures/pipelines")
ZIZMOR_VERSION = "1.32.0"
VENV = Path("/tmp/venv-pipelines-bench")


def workflow_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in (".yml", ".yaml"):
            continue
        parts = path.parts
        if ".github" in parts and "workflows" in parts or path.name in ("action.yml", "action.yaml"):
            files.append(path)
    return files


def ensure_zizmor(explicit: str | None) -> str:
    if explicit:
        return explicit
    binary = VENV / "bin" / "zizmor"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", f"zizmor=={ZIZMOR_VERSION}"], check=True)
    return str(binary)


def run_zizmor(zizmor: str, paths: list[str], persona: str = "auditor") -> list[dict]:
    out = subprocess.run(
        [zizmor, "--offline", f"--persona={persona}", "--format=json-v1", "--no-exit-codes", *paths],
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def zizmor_lines(findings: list[dict]) -> dict[tuple[str, int], set[str]]:
    by_place = defaultdict(set)
    for finding in findings:
        primary = next((l for l in finding["locations"] if l["symbolic"].get("kind") == "Primary"), finding["locations"][0])
        path = primary["symbolic"]["key"]["Local"].get("given_path") or primary["symbolic"]["key"]["Local"]["verbatim_path"]
        row = primary["concrete"]["location"]["start_point"]["row"] + 1
        by_place[(path, row)].add(finding["ident"])
    return by_place


def mlvet_json(mlvet: str, paths: list[str]) -> dict:
    env = dict(os.environ, MLVET_ZIZMOR="off")
    out = subprocess.run(
        [mlvet, "scan", "--no-deps", "--no-config", "--format", "json", "--fail-on", "never", *paths],
        capture_output=True,
        env=env,
    )
    if out.returncode not in (0, 1):
        raise SystemExit(f"mlvet failed: {out.stderr.decode()}")
    return json.loads(out.stdout)


def compare(mlvet: str, zizmor: str) -> None:
    files = [str(p) for p in workflow_files(FIXTURES)]
    z = zizmor_lines(run_zizmor(zizmor, files))
    report = mlvet_json(mlvet, files)
    m = defaultdict(set)
    for finding in report["findings"]:
        m[(finding["path"], finding["line"])].add(finding["rule"])
    z_rules = defaultdict(set)
    m_rules = defaultdict(set)
    for (path, _), idents in z.items():
        z_rules[path] |= idents
    for (path, _), rules in m.items():
        m_rules[path] |= rules
    print(f"## Findings on {len(files)} workflow/action fixtures (zizmor {ZIZMOR_VERSION} --persona=auditor vs mlvet)\n")
    print("| file | zizmor audits | mlvet rules |")
    print("|---|---|---|")
    for path in files:
        only_z = sorted(z_rules[path])
        only_m = sorted(m_rules[path])
        print(f"| `{path.removeprefix(str(FIXTURES) + '/')}` | {', '.join(only_z) or '—'} | {', '.join(only_m) or '—'} |")
    print()
    print("Per line, findings only one tool reports:\n")
    for key in sorted(set(z) | set(m)):
        a, b = z.get(key, set()), m.get(key, set())
        if a and not b:
            print(f"- zizmor only {key[0]}:{key[1]}: {', '.join(sorted(a))}")
        elif b and not a:
            print(f"- mlvet only  {key[0]}:{key[1]}: {', '.join(sorted(b))}")


def write_fixture(zizmor: str) -> None:
    files = [str(p) for p in workflow_files(FIXTURES / "unsafe")]
    findings = run_zizmor(zizmor, files, persona="regular")
    target = FIXTURES / f"zizmor-{ZIZMOR_VERSION}.json"
    target.write_text(json.dumps(findings, indent=1, sort_keys=True) + "\n")
    print(f"wrote {target}: {len(findings)} findings on {len(files)} files")


def best_of(runs: int, command: list[str], env: dict) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(command, capture_output=True, env=env)
        elapsed = time.perf_counter() - start
        if out.returncode not in (0, 1, 11, 12, 13, 14):
            raise SystemExit(f"{command[0]} failed ({out.returncode}): {out.stderr.decode()[-500:]}")
        best = min(best, elapsed)
    return best


def speed(mlvet: str, zizmor: str, copies: int, runs: int, library: str | None) -> None:
    sources = [p for p in workflow_files(FIXTURES) if "workflows" in p.parts]
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "repo" / ".github" / "workflows"
        target.mkdir(parents=True)
        count = 0
        total = 0
        for i in range(copies):
            for source in sources:
                text = source.read_text().replace("jobs:\n", f"jobs:\n  marker-{i}:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo {i}\n", 1)
                dest = target / f"{source.stem}-{i}.yml"
                dest.write_text(text)
                count += 1
                total += len(text)
        repo = str(Path(tmp) / "repo")
        env = dict(os.environ, MLVET_ZIZMOR="off")
        t_m = best_of(runs, [mlvet, "scan", "--no-deps", "--no-config", "--format", "json", "--fail-on", "never", repo], env)
        t_z = best_of(runs, [zizmor, "--offline", "--format=json-v1", "--no-exit-codes", repo], dict(os.environ))
        print(f"\n## Speed: {count} workflows ({total / 1e6:.1f} MB), best of {runs}\n")
        print("| tool | wall time | workflows/s |")
        print("|---|---|---|")
        print(f"| mlvet scan (pipeline rules) | {t_m:.2f} s | {count / t_m:.0f} |")
        print(f"| zizmor {ZIZMOR_VERSION} --offline | {t_z:.2f} s | {count / t_z:.0f} |")
        if library:
            out = subprocess.run([library, repo, str(runs)], capture_output=True, check=True)
            print(f"\nmlvet-pipelines alone (`{Path(library).name}`): {out.stdout.decode().strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlvet")
    parser.add_argument("--zizmor")
    parser.add_argument("--copies", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write-fixture", action="store_true")
    parser.add_argument("--library")
    args = parser.parse_args()
    zizmor = ensure_zizmor(args.zizmor)
    if args.write_fixture:
        write_fixture(zizmor)
        return
    if not args.mlvet:
        parser.error("--mlvet is required")
    compare(args.mlvet, zizmor)
    speed(args.mlvet, zizmor, args.copies, args.runs, args.library)


if __name__ == "__main__":
    main()
