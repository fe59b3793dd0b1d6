#!/usr/bin/env python3
"""Upload throughput of `mlvet worker` processes against their count (issue 12 §5), loopback only.

For each worker count: a fresh PostgreSQL database (created and dropped with psql), `--api`
API-only replicas (`mlvet serve --workers 0`) and N `mlvet worker` processes, `--projects`
projects, `--uploads` uploads of a generated lockfile of `--packages` pinned packages sent
round-robin to the replicas with `?wait=0`; the clock runs from the first upload to the last job
seen `succeeded`. Prints one JSON object per worker count.

    python3 scripts/bench_workers.py --mlvet target/release/mlvet \
        --database postgres://postgres@127.0.0.1:5432/postgres --workers 1,2,4

Standard library only; needs `psql` on PATH. Never run in CI.
"""

import argparse
import concurrent.futures
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def psql(url, sql):
    subprocess.run(["psql", url, "-qAtc", sql], check=True, stdout=subprocess.DEVNULL)


def with_database(url, name):
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def wait_for_event(path, event, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path) as log:
                for line in log:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if record.get("event") == event:
                        return record
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"no `{event}` in {path} within {timeout} s")


def call(method, url, token, body=None):
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if body is not None and method == "POST":
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read() or b"null")


VULNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "advisories",
                     "pypa-advisory-database", "vulns")


def lockfile(packages, rng, names):
    """`packages` pinned requirements: real names of the PyPA snapshot (so that the upload
    really matches advisories), popular ones more often, and version skew (a few versions much
    more common than the rest)."""
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(names))]
    chosen = set()
    while len(chosen) < min(packages, len(names)):
        chosen.update(rng.choices(names, weights, k=packages - len(chosen)))
    lines = []
    for name in sorted(chosen):
        minor = min(int(rng.paretovariate(1.5)), 40)
        lines.append(f"{name}=={rng.randrange(4)}.{minor}.0")
    return ("\n".join(lines) + "\n").encode()


def run(args, workers):
    name = f"mlvet_bench_{secrets.token_hex(4)}"
    psql(args.database, f"CREATE DATABASE {name}")
    database = with_database(args.database, name)
    data = tempfile.mkdtemp(prefix="mlvet-bench-workers-")
    env = dict(os.environ, MLVET_DATA_DIR=data, NO_COLOR="1")
    env.pop("MLVET_DATABASE", None)
    procs = []
    try:
        # The real advisory snapshot, so that every upload is matched as in production.
        subprocess.run([args.mlvet, "db", "import", VULNS], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        token = subprocess.run(
            [args.mlvet, "admin", "token", "create", "--team", "bench", "--role", "admin",
             "--name", "bench", "--database", database],
            env=env, check=True, capture_output=True, text=True).stdout.strip()
        bases = []
        for index in range(args.api):
            log = os.path.join(data, f"api-{index}.log")
            procs.append(subprocess.Popen(
                [args.mlvet, "serve", "--listen", "127.0.0.1:0", "--no-config", "--offline",
                 "--workers", "0", "--rate-per-minute", "1000000", "--database", database],
                env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w")))
            bases.append("http://" + wait_for_event(log, "listening")["addr"])
        for index in range(workers):
            log = os.path.join(data, f"worker-{index}.log")
            procs.append(subprocess.Popen(
                [args.mlvet, "worker", "--no-config", "--offline", "--concurrency",
                 str(args.concurrency), "--database", database],
                env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w")))
            wait_for_event(log, "worker_started")
        rng = random.Random(7)
        projects = [
            call("POST", f"{bases[0]}/api/v1/projects", token,
                 json.dumps({"name": f"p{p}"}).encode())["id"]
            for p in range(args.projects)
        ]
        names = sorted(n for n in os.listdir(VULNS) if os.path.isdir(os.path.join(VULNS, n)))
        bodies = [lockfile(args.packages, rng, names) for _ in range(args.uploads)]
        started = time.monotonic()

        def upload(index):
            base = bases[index % len(bases)]
            project = projects[index % len(projects)]
            answer = call("PUT", f"{base}/api/v1/projects/{project}/inventory"
                          f"?filename=r{index}.txt&wait=0", token, bodies[index])
            return answer["job"]["id"]

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            jobs = list(pool.map(upload, range(args.uploads)))
        queued = time.monotonic() - started
        pending, failed = set(jobs), 0
        deadline = time.monotonic() + args.timeout
        while pending and time.monotonic() < deadline:
            for job in list(pending):
                state = call("GET", f"{bases[0]}/api/v1/jobs/{job}", token)["job"]["state"]
                if state in ("succeeded", "failed"):
                    pending.discard(job)
                    failed += state == "failed"
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        return {
            "workers": workers,
            "concurrency_per_worker": args.concurrency,
            "api_replicas": args.api,
            "uploads": args.uploads,
            "packages_per_upload": args.packages,
            "projects": args.projects,
            "queued_s": round(queued, 2),
            "drained_s": round(elapsed, 2),
            "uploads_per_s": round(args.uploads / elapsed, 2),
            "unfinished": len(pending),
            "failed": failed,
            "load_after": [round(x, 2) for x in os.getloadavg()],
        }
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        psql(args.database, f"DROP DATABASE IF EXISTS {name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mlvet", default="target/release/mlvet")
    parser.add_argument("--database", required=True, help="postgres://… of a server to create databases on")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--api", type=int, default=2)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--packages", type=int, default=300)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    for workers in [int(w) for w in args.workers.split(",")]:
        print(json.dumps(run(args, workers)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
