#!/usr/bin/env python3
"""Benchmarks `mlvet serve` on loopback (standard library only; no venv needed).

- upload-to-findings latency of a 500-package poetry.lock (PUT inventory with ?wait, then GET
  findings), p50/p95 at 1 and 8 concurrent clients;
- GET findings / GET project throughput for a project of 300 packages;
- resident memory of the server idle (after start) and loaded (after the runs).

Usage: scripts/bench_serve.py --mlvet target/release/mlvet [--database postgres://…] [--rounds N]
The advisory database is imported from ../shared/advisories (real PYSEC records) into a
temporary data directory. Only loopback is contacted.
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
VULNS = ROOT / ".." / "shared" / "advisories" / "pypa-advisory-database" / "vulns"


def lockfile(count, offset=0):
    """A poetry.lock of `count` real package names (from the advisory snapshot), old versions."""
    names = sorted(p.name for p in VULNS.iterdir() if p.is_dir())
    names = (names * (1 + count // len(names)))[offset:offset + count]
    parts = []
    for i, name in enumerate(names):
        parts.append(
            f'[[package]]\nname = "{name}"\nversion = "0.{i % 9}.{i % 7}"\ndescription = ""\n'
            'optional = false\npython-versions = "*"\nfiles = []\n'
        )
    parts.append('[metadata]\nlock-version = "2.0"\npython-versions = "^3.10"\ncontent-hash = "0"\n')
    return "\n".join(parts).encode()


def call(base, method, path, token, body=None):
    request = urllib.request.Request(base + path, data=body, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if body is not None and method == "POST":
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.status, response.read()


def rss_kib(pid, field="VmRSS"):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlvet", required=True)
    parser.add_argument("--database")
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="mlvet-bench-serve-")
    env = dict(os.environ, MLVET_DATA_DIR=data, NO_COLOR="1")
    env.pop("MLVET_DATABASE", None)
    subprocess.run([args.mlvet, "db", "import", "-q", str(VULNS)], env=env, check=True)
    store = ["--database", args.database] if args.database else []
    token = subprocess.run(
        [args.mlvet, "admin", "token", "create", "--team", "bench", "--role", "admin"] + store,
        env=env, check=True, capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen(
        [args.mlvet, "serve", "--no-config", "--listen", f"127.0.0.1:{args.port}",
         "--rate-per-minute", "1000000", "--workers", "2"] + store,
        env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{args.port}"
    run = f"{int(time.time())}-{os.getpid()}"  # project names unique per run (a reused PostgreSQL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        idle = rss_kib(server.pid)
        results = {"backend": "postgres" if args.database else "sqlite", "idle_rss_mib": round(idle / 1024, 1),
                   "load_at_start": [round(x, 2) for x in os.getloadavg()]}
        body = lockfile(500)
        for clients in (1, 8):
            projects = []
            for i in range(clients):
                status, answer = call(base, "POST", "/api/v1/projects", token,
                                      json.dumps({"name": f"upload-{run}-{clients}-{i}"}).encode())
                projects.append(json.loads(answer)["id"])

            def one(project):
                started = time.perf_counter()
                status, answer = call(base, "PUT", f"/api/v1/projects/{project}/inventory?filename=poetry.lock&wait=300", token, body)
                job = json.loads(answer)["job"]
                # `?wait` is capped by the server (110 s by default): a job still queued or
                # running then is followed on `GET /jobs/{id}` until it ends.
                while job["state"] in ("queued", "running"):
                    time.sleep(0.1)
                    job = json.loads(call(base, "GET", f"/api/v1/jobs/{job['id']}", token)[1])
                    job = job.get("job", job)
                assert job["state"] == "succeeded", job
                call(base, "GET", f"/api/v1/projects/{project}/findings", token)
                return time.perf_counter() - started

            latencies = []
            rounds = max(args.rounds // clients, 2)
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                for _ in range(rounds):
                    latencies.extend(pool.map(one, projects))
            results[f"upload_500_c{clients}_p50_ms"] = round(1000 * statistics.median(latencies), 1)
            results[f"upload_500_c{clients}_p95_ms"] = round(1000 * pct(latencies, 0.95), 1)
            results[f"upload_500_c{clients}_n"] = len(latencies)
        status, answer = call(base, "POST", "/api/v1/projects", token, json.dumps({"name": f"read-300-{run}"}).encode())
        project = json.loads(answer)["id"]
        call(base, "PUT", f"/api/v1/projects/{project}/inventory?filename=poetry.lock&wait=300", token, lockfile(300, 100))
        findings = json.loads(call(base, "GET", f"/api/v1/projects/{project}/findings", token)[1])["findings"]
        results["read_300_findings"] = len(findings)
        for path, key in ((f"/api/v1/projects/{project}/findings", "findings"), (f"/api/v1/projects/{project}", "project")):
            for clients in (1, 8):
                count = 200
                started = time.perf_counter()
                with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                    list(pool.map(lambda _: call(base, "GET", path, token), range(count)))
                results[f"get_{key}_c{clients}_rps"] = round(count / (time.perf_counter() - started), 1)
        results["loaded_rss_mib"] = round(rss_kib(server.pid) / 1024, 1)
        results["peak_rss_mib"] = round(rss_kib(server.pid, "VmHWM") / 1024, 1)
        results["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(results, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
