#!/usr/bin/env bash
# Benchmarks for docs/benchmarks.md#reports: the cost of --hash on a large model file, and the
# time and memory of each report format on a large lockfile. Inputs are generated here (into
# $BENCH_DIR, default a temp dir) and deleted at the end; nothing large is committed.
#
# Usage: cargo build --release -p mlvet-cli && scripts/bench_reports.sh [path/to/mlvet]
set -euo pipefail
MLVET=${1:-${CARGO_TARGET_DIR:-target}/release/mlvet}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d)}
trap 'rm -rf "$BENCH_DIR"' EXIT
DATA="$BENCH_DIR/data"
mkdir -p "$DATA"
"$MLVET" db import -q --data-dir "$DATA" examples/advisories ../shared/advisories/pypa-advisory-database/vulns >/dev/null

# A 2 GiB float32 .npy (a valid header, then zeros): the analyses read the header only.
python3 - "$BENCH_DIR/big.npy" <<'PY'
import sys
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (536870912,), }"
header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
    f.truncate(f.tell() + 536870912 * 4)
PY
# A uv.lock with 5,000 packages (each depending on the next three) and a requirements file
# pinning versions the PyPA snapshot has advisories for.
python3 - "$BENCH_DIR/lock" <<'PY'
import os, sys
root = sys.argv[1]; os.makedirs(root, exist_ok=True)
n = 5000
with open(os.path.join(root, "uv.lock"), "w") as f:
    f.write('version = 1\nrequires-python = ">=3.10"\n')
    for i in range(n):
        f.write(f'\n[[package]]\nname = "pkg-{i}"\nversion = "1.{i}.0"\n'
                'source = { registry = "https://index.invalid/simple" }\n')
        deps = [j for j in (i + 1, i + 2, i + 3) if j < n]
        if deps:
            f.write("dependencies = [\n" + "".join(f'    {{ name = "pkg-{j}" }},\n' for j in deps) + "]\n")
with open(os.path.join(root, "requirements.txt"), "w") as f:
    f.write("torch==1.13.0\ntransformers==4.36.0\njinja2==2.10\npillow==8.0.0\nrequests==2.19.0\nmlflow==1.0.0\n")
PY

measure() { # label, then the command
  local label=$1; shift
  /usr/bin/time -f "%e s, %M KiB max RSS" "$@" >/dev/null 2>"$BENCH_DIR/time" || true
  printf '| %s | %s |\n' "$label" "$(tail -1 "$BENCH_DIR/time")"
}

cat "$BENCH_DIR/big.npy" >/dev/null # warm the page cache: measure hashing, not the disk
echo "| run | wall time, peak memory |"
echo "|---|---|"
measure "2 GiB .npy, --format json" "$MLVET" scan --data-dir "$DATA" --format json "$BENCH_DIR/big.npy"
measure "2 GiB .npy, --format json --hash" "$MLVET" scan --data-dir "$DATA" --format json --hash "$BENCH_DIR/big.npy"
measure "2 GiB .npy, --format cyclonedx (hashes)" "$MLVET" scan --data-dir "$DATA" --format cyclonedx "$BENCH_DIR/big.npy"
for format in terminal json sarif cyclonedx markdown; do
  measure "5,000-package uv.lock + pins, --format $format" "$MLVET" scan --data-dir "$DATA" --format "$format" "$BENCH_DIR/lock"
done
for format in json sarif cyclonedx markdown; do
  size=$("$MLVET" scan --data-dir "$DATA" --format "$format" "$BENCH_DIR/lock" | wc -c || true)
  echo "$format report: $size bytes"
done
