#!/usr/bin/env python3
"""mlvet's Python analysis side by side with bandit, on the same files.

Usage (in a throwaway venv with `pip install bandit`):
    python scripts/bench_python.py --mlvet target/release/mlvet DIR [DIR...]

For every directory: runs `bandit -r DIR -f json` and `mlvet scan DIR --no-deps --format json`,
times both, and compares the risky *calls* bandit reports (B301 pickle family, B302 marshal,
B506 yaml.load, B614 torch.load, B615 unpinned Hugging Face downloads) with mlvet's code
findings on the same file and line. Prints what only one of the tools reports. Import-only
bandit checks (B403 "import pickle") are not calls and are counted separately.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import time

RISKY_CALL_TESTS = {"B301", "B302", "B506", "B614", "B615"}
IMPORT_TESTS = {"B403"}


def run_bandit(directory: str) -> tuple[list[dict], float, int]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bandit", "-r", directory, "-f", "json", "-q"],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    report = json.loads(proc.stdout or "{}")
    errors = len(report.get("errors", []))
    return report.get("results", []), elapsed, errors


def run_mlvet(mlvet: str, directory: str) -> tuple[dict, float]:
    started = time.perf_counter()
    proc = subprocess.run(
        [mlvet, "scan", directory, "--no-deps", "--no-config", "--format", "json", "--fail-on", "never"],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    return json.loads(proc.stdout), elapsed


def norm(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def compare(mlvet: str, directory: str) -> dict:
    bandit_results, bandit_seconds, bandit_errors = run_bandit(directory)
    report, mlvet_seconds = run_mlvet(mlvet, directory)
    code_files = [a for a in report["artifacts"] if a.get("kind") == "code"]
    unanalysable = [a["path"] for a in code_files if not a["fully_inspected"]]
    mlvet_calls = collections.defaultdict(set)
    for finding in report["findings"]:
        if finding["line"] is None or finding["member"] is not None:
            continue
        if finding["rule"].startswith("code-") and finding["rule"] != "code-unanalysable" or finding["rule"] in (
            "dataset-script-exec",
            "remote-code-flag",
        ):
            mlvet_calls[(norm(finding["path"]), finding["line"])].add(finding["rule"])
    bandit_calls = collections.defaultdict(set)
    imports = 0
    for result in bandit_results:
        if result["test_id"] in RISKY_CALL_TESTS:
            bandit_calls[(norm(result["filename"]), result["line_number"])].add(result["test_id"])
        elif result["test_id"] in IMPORT_TESTS:
            imports += 1
    only_bandit = sorted((k, v) for k, v in bandit_calls.items() if k not in mlvet_calls)
    only_mlvet = sorted((k, v) for k, v in mlvet_calls.items() if k not in bandit_calls)
    rules_only_mlvet = collections.Counter(rule for _, rules in only_mlvet for rule in rules)
    return {
        "directory": directory,
        "python_files": len(code_files),
        "mlvet_seconds": round(mlvet_seconds, 2),
        "bandit_seconds": round(bandit_seconds, 2),
        "bandit_parse_errors": bandit_errors,
        "mlvet_not_fully_analysed": len(unanalysable),
        "bandit_risky_calls": len(bandit_calls),
        "bandit_import_findings": imports,
        "mlvet_risky_calls": len(mlvet_calls),
        "both": len(set(bandit_calls) & set(mlvet_calls)),
        "only_bandit": [f"{p}:{l} {','.join(sorted(t))}" for (p, l), t in only_bandit],
        "only_mlvet_by_rule": dict(sorted(rules_only_mlvet.items())),
        "only_mlvet_examples": [f"{p}:{l} {','.join(sorted(t))}" for (p, l), t in only_mlvet[:15]],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlvet", default="target/release/mlvet")
    parser.add_argument("directories", nargs="+")
    args = parser.parse_args()
    for directory in args.directories:
        print(json.dumps(compare(args.mlvet, directory), indent=2))


if __name__ == "__main__":
    main()
