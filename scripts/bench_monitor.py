#!/usr/bin/env python3
"""End-to-end monitoring latency of `mlvet serve` (issue 12), on loopback only.

A portfolio of PROJECTS projects × PACKAGES packages is uploaded (requirements.txt; names from
the real PyPA advisory snapshot with a Zipf-like popularity skew, a few versions each), HIT of
them holding an affected version of one target package and as many again an unaffected one. A
webhook receiver (a thread here) records every delivery. Then, timed:

1. `mlvet db import` of ONE new advisory for the target (the CLI binary, into the server's data
   directory) → until the last of the HIT signed `finding.created` webhooks is received;
2. `mlvet db import` of the same advisory withdrawn → until the last `finding.retracted`.

Every delivery is checked with the independent `standardwebhooks` verifier (PyPI) when it is
importable (run from a venv with `pip install standardwebhooks`); otherwise signatures are not
checked and the summary says so.

Usage: scripts/bench_monitor.py --mlvet target/release/mlvet [--database postgres://…]
       [--projects 1000] [--packages 300] [--hit 100]
The base advisory database is imported from ../shared/advisories.
"""

import argparse
import base64
import concurrent.futures
import json
import os
import pathlib
import random
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from standardwebhooks.webhooks import Webhook
except ImportError:  # verification is optional
    Webhook = None

ROOT = pathlib.Path(__file__).resolve().parent.parent
VULNS = ROOT / ".." / "shared" / "advisories" / "pypa-advisory-database" / "vulns"
TARGET = "mlvet-bench-target"
ADVISORY = "MLVET-BENCH-0001"

received = []
received_lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        with received_lock:
            received.append((time.monotonic(), headers, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def portfolio(projects, packages, hit, seed=20261202):
    """Requirements files: Zipf-skewed real names, a few versions each; the target in 2×hit."""
    rng = random.Random(seed)
    names = sorted(p.name for p in VULNS.iterdir() if p.is_dir())
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(names))]
    files = []
    for index in range(projects):
        chosen = {}
        while len(chosen) < min(packages - 1, len(names)):
            for name in rng.choices(names, weights, k=packages):
                if len(chosen) < packages - 1:
                    chosen[name] = True
        lines = []
        for name in sorted(chosen):
            major = min(int(rng.expovariate(0.7)), 9)
            lines.append(f"{name}=={major}.{rng.randrange(4)}.{rng.randrange(3)}")
        if index < hit:
            lines.append(f"{TARGET}==1.{index % 5}.0")
        elif index < 2 * hit:
            lines.append(f"{TARGET}==3.{index % 5}.0")
        files.append("\n".join(lines).encode() + b"\n")
    return files


def record(modified, withdrawn=False):
    value = {
        "schema_version": "1.6.0",
        "id": ADVISORY,
        "modified": modified,
        "published": "2026-12-01T00:00:00Z",
        "summary": f"{TARGET} deserialises untrusted input",
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": TARGET},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}],
        }],
        "database_specific": {"severity": "HIGH"},
    }
    if withdrawn:
        value["withdrawn"] = modified
    return json.dumps(value).encode()


def call(base, method, path, token, body=None, content_type=None):
    request = urllib.request.Request(base + path, data=body, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.status, json.loads(response.read() or b"null")


def wait_for(kind, count, since, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with received_lock:
            hits = [r for r in received if r[0] >= since and json.loads(r[2])["type"] == kind
                    and json.loads(r[2])["data"].get("finding", {}).get("advisory", {}).get("id") == ADVISORY]
        if len(hits) >= count:
            return max(r[0] for r in hits), len(hits)
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {count} {kind}")


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlvet", required=True)
    parser.add_argument("--database")
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--packages", type=int, default=300)
    parser.add_argument("--hit", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    mlvet = os.path.abspath(args.mlvet)

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"

    with tempfile.TemporaryDirectory(prefix="mlvet-bench-monitor-") as data:
        env = dict(os.environ, MLVET_DATA_DIR=data)
        store = ["--database", args.database] if args.database else []
        subprocess.run([mlvet, "db", "import", str(VULNS)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        token = subprocess.run(
            [mlvet, "admin", "token", "create", "--team", "bench", "--role", "admin", *store],
            env=env, check=True, capture_output=True, text=True).stdout.strip()
        port = 18000 + os.getpid() % 1000
        log = open(os.path.join(data, "serve.log"), "w")
        server = subprocess.Popen(
            [mlvet, "serve", "--listen", f"127.0.0.1:{port}", "--offline", "--allow-private-webhooks",
             "--no-config", "--rate-per-minute", "1000000", "--workers", "2", *store],
            env=env, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(base + "/readyz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            files = portfolio(args.projects, args.packages, args.hit)
            started = time.monotonic()

            def upload(index):
                _, project = call(base, "POST", "/api/v1/projects", token,
                                  json.dumps({"name": f"svc-{index:05d}"}).encode(), "application/json")
                _, job = call(base, "PUT", f"/api/v1/projects/{project['id']}/inventory?filename=requirements.txt&wait=100",
                              token, files[index])
                assert job["job"]["state"] == "succeeded", job
            with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(upload, range(args.projects)))
            upload_seconds = time.monotonic() - started
            _, hook = call(base, "POST", "/api/v1/webhooks", token,
                           json.dumps({"url": hook_url, "events": ["finding.created", "finding.retracted"]}).encode(),
                           "application/json")
            secret = hook["secret"]
            time.sleep(2)  # the watcher and the matcher sweep are idle

            def timed_import(name, body):
                path = os.path.join(data, name)
                pathlib.Path(path).write_bytes(body)
                t0 = time.monotonic()
                subprocess.run([mlvet, "db", "import", path], env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                return t0, time.monotonic() - t0

            t0, import_created = timed_import("new.json", record("2026-12-02T00:00:00Z"))
            last, created = wait_for("finding.created", args.hit, t0)
            created_latency = last - t0
            t1, import_retracted = timed_import("withdrawn.json", record("2026-12-02T01:00:00Z", True))
            last, retracted = wait_for("finding.retracted", args.hit, t1)
            retracted_latency = last - t1
            rss = rss_kib(server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
            log.close()
        verified = failed = 0
        if Webhook is not None:
            checker = Webhook(secret)
            for _, headers, body in received:
                try:
                    checker.verify(body, headers)
                    verified += 1
                except Exception:  # noqa: BLE001 - any verification error counts
                    failed += 1
        print(json.dumps({
            "backend": "postgres" if args.database else "sqlite",
            "projects": args.projects,
            "packages_per_project": args.packages,
            "hit": args.hit,
            "upload_seconds": round(upload_seconds, 1),
            "import_new_advisory_cli_seconds": round(import_created, 3),
            "latency_import_to_last_created_webhook_seconds": round(created_latency, 3),
            "finding_created_received": created,
            "import_withdrawal_cli_seconds": round(import_retracted, 3),
            "latency_import_to_last_retracted_webhook_seconds": round(retracted_latency, 3),
            "finding_retracted_received": retracted,
            "serve_rss_mib": round(rss / 1024, 1),
            "signatures_verified_by_standardwebhooks": verified if Webhook else None,
            "signature_failures": failed,
        }, indent=2))
        if failed:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
