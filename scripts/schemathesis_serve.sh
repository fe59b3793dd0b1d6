#!/usr/bin/env bash
# API fuzzing of `mlvet serve` against its own OpenAPI document with schemathesis (PyPI), fixed
# seed, loopback only. Usage: scripts/schemathesis_serve.sh PATH/TO/mlvet [MAX_EXAMPLES]
# Needs schemathesis on PATH (e.g. `python3 -m venv /tmp/venv-st && /tmp/venv-st/bin/pip install schemathesis`).
set -euo pipefail
mlvet="$1"
examples="${2:-30}"
here="$(cd "$(dirname "$0")/.." && pwd)"
data="$(mktemp -d)"
export MLVET_DATA_DIR="$data"
"$mlvet" db import -q "$here/../shared/advisories/pypa-advisory-database/vulns/torch"
token="$("$mlvet" admin token create --team fuzz --role admin --name schemathesis)"
port=18941
"$mlvet" serve --no-config --listen "127.0.0.1:$port" --rate-per-minute 1000000 \
    --auth-failures-per-minute 1000000 --max-body-bytes 1048576 2>"$data/serve.log" &
pid=$!
trap 'kill -TERM $pid; wait $pid || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
# A project with findings so that ids in paths can hit something.
project=$(curl -fs -X POST -H "Authorization: Bearer $token" -d '{"name":"fuzz"}' "http://127.0.0.1:$port/api/v1/projects" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
printf 'torch==1.12.0\n' | curl -fs -X PUT -H "Authorization: Bearer $token" --data-binary @- \
    "http://127.0.0.1:$port/api/v1/projects/$project/inventory?filename=requirements.txt&wait=60" >/dev/null
# Run from the temporary directory: schemathesis keeps a `.schemathesis/` cache where it runs.
cd "$data"
schemathesis run "http://127.0.0.1:$port/api/v1/openapi.json" \
    -H "Authorization: Bearer $token" --seed 20261202 -n "$examples" --checks all \
    --workers 1
