#!/usr/bin/env bash
# Hashing throughput: mlvet vs `openssl dgst -sha256` (single stream, SHA-NI), coreutils
# `sha256sum`, and the reference `model_signing sign` on the same folder (issue 8 §3).
#
# Usage: scripts/bench_hashing.sh [MLVET_BINARY] [WORK_DIR]
#   MLVET_BINARY  default target/release/mlvet (build: cargo build --release -p mlvet-cli)
#   WORK_DIR      default /tmp/mlvet-bench-hashing (2 GiB of random data is written there once)
# Optional: MODEL_SIGNING=/path/to/venv/bin/model_signing (pip install model-signing pyopenssl)
# adds the reference signer; RUNS=3 sets the repetitions (the median is reported).
#
# The folder is four 512 MiB files of random bytes (a 2 GiB model in four shards). Every tool
# reads the files from the page cache (one warm-up pass first), so the numbers are hashing
# throughput, not disk throughput.
set -euo pipefail
MLVET=${1:-target/release/mlvet}
WORK=${2:-/tmp/mlvet-bench-hashing}
RUNS=${RUNS:-3}
MODEL="$WORK/model"
mkdir -p "$MODEL"
for i in 1 2 3 4; do
  f="$MODEL/model-0000$i-of-00004.safetensors"
  [ -s "$f" ] || head -c $((512 * 1024 * 1024)) /dev/urandom > "$f"
done
BYTES=$(cat "$MODEL"/* | wc -c)
cat "$MODEL"/* > /dev/null  # warm the page cache
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/key.pem" 2>/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_of() {  # prints the wall seconds of "$@"
  local start end
  start=$(date +%s.%N); "$@" > /dev/null 2>&1; end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
report() {  # name, seconds
  printf '| %s | %.2f s | %.2f GB/s |\n' "$1" "$2" "$(echo "$BYTES / $2 / 1000000000" | bc -l)"
}

echo "| tool | wall (median of $RUNS) | throughput |"
echo "|---|---|---|"
openssl_one() { for f in "$MODEL"/*; do openssl dgst -sha256 "$f"; done; }
t=$(for _ in $(seq "$RUNS"); do time_of openssl_one; done | median); report "openssl dgst -sha256 (one stream, files in turn)" "$t"
t=$(for _ in $(seq "$RUNS"); do time_of sha256sum "$MODEL"/*; done | median); report "sha256sum (coreutils)" "$t"
sign_mlvet() { "$MLVET" sign "$MODEL" --key "$WORK/key.pem" --signature "$WORK/mlvet.sig"; }
t=$(for _ in $(seq "$RUNS"); do time_of sign_mlvet; done | median); report "mlvet sign (sha256, files)" "$t"
verify_mlvet() { "$MLVET" verify "$MODEL" --signature "$WORK/mlvet.sig" --key <(openssl pkey -in "$WORK/key.pem" -pubout); }
t=$(for _ in $(seq "$RUNS"); do time_of verify_mlvet; done | median); report "mlvet verify (sha256, files)" "$t"
sign_shards() { "$MLVET" sign "$MODEL" --key "$WORK/key.pem" --signature "$WORK/mlvet-shards.sig" --shard-size 134217728; }
t=$(for _ in $(seq "$RUNS"); do time_of sign_shards; done | median); report "mlvet sign (sha256, 128 MiB shards)" "$t"
lock_mlvet() { "$MLVET" lock "$MODEL" --lockfile "$WORK/mlvet.lock" --no-config; }
t=$(for _ in $(seq "$RUNS"); do time_of lock_mlvet; done | median); report "mlvet lock (scan + sha256)" "$t"
if [ -n "${MODEL_SIGNING:-}" ]; then
  sign_reference() { "$MODEL_SIGNING" sign key "$MODEL" --private_key "$WORK/key.pem" --signature "$WORK/reference.sig"; }
  t=$(for _ in $(seq "$RUNS"); do time_of sign_reference; done | median); report "model_signing sign key (reference $("$MODEL_SIGNING" --version 2>/dev/null | tail -1))" "$t"
fi
