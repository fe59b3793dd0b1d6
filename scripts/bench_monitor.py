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

Generating the portfolio through the API costs one upload per project. With `--templates T`
(T < PROJECTS) only T projects are uploaded through the API (the real upload path: parse,
match, store, reconcile); the store is then grown to PROJECTS projects with set-based SQL
(`INSERT … SELECT` per table over a table of copy numbers), each template copied with its
sources, packages, findings and inventory index rows under new ids, while the server is stopped.
The hit projects are spread so that exactly HIT of the PROJECTS hold an affected version.

3. (with `--rematch`) a matcher upgrade: every project's `matcher_version` is set to an older
   value with the server stopped; after a restart, the time until every project has been
   re-matched in full, and the server's peak resident memory (VmHWM).

Usage: scripts/bench_monitor.py --mlvet target/release/mlvet [--database postgres://…]
       [--projects 1000] [--packages 300] [--hit 100] [--templates T] [--rematch]
The base advisory database is imported from ../shared/advisories.
"""

import argparse
import base64
import concurrent.futures
import contextlib
import json
import os
import pathlib
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.error
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
        now = time.monotonic()
        try:  # parsed once here, not on every poll of `wait_for`
            event = json.loads(body)
            kind = (event["type"], event["data"].get("finding", {}).get("advisory", {}).get("id"))
        except (ValueError, KeyError, AttributeError):
            kind = (None, None)
        with received_lock:
            received.append((now, headers, body, kind))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def version_key(text):
    return tuple(int(part) for part in re.findall(r"\d+", text)[:4])


def newest_fixes():
    """Per package of the snapshot, its highest `fixed` ECOSYSTEM version (a plain regex over
    the OSV YAML: git commit fixes are skipped by requiring a dotted number)."""
    fixes = {}
    for folder in VULNS.iterdir():
        if not folder.is_dir():
            continue
        found = [v for f in folder.glob("*.yaml")
                 for v in re.findall(r"fixed: ['\"]?(\d+(?:\.\d+)+)", f.read_text(errors="replace"))]
        if found:
            fixes[folder.name] = max(found, key=version_key)
    return fixes


def portfolio(projects, packages, hit, stale, seed=20261202):
    """Requirements files: Zipf-skewed real names; the target in 2×hit of them.

    Versions are skewed as in a maintained portfolio: a package is at its newest fixed version
    (or later) unless it is stale (probability `stale`), then at an old version that most of
    its advisories affect."""
    rng = random.Random(seed)
    names = sorted(p.name for p in VULNS.iterdir() if p.is_dir())
    fixes = newest_fixes()
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
            if name in fixes and rng.random() >= stale:
                version = fixes[name] if rng.random() < 0.5 else fixes[name] + f".{1 + rng.randrange(3)}"
            else:
                version = f"{min(int(rng.expovariate(0.7)), 9)}.{rng.randrange(4)}.{rng.randrange(3)}"
            lines.append(f"{name}=={version}")
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
            hits = [r[0] for r in received if r[0] >= since and r[3] == (kind, ADVISORY)]
        if len(hits) >= count:
            return max(hits), len(hits)
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {count} {kind}")


def rss_kib(pid, field="VmRSS"):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def seconds_between(start, end):
    """Whole seconds between two of the server's RFC 3339 UTC stamps."""
    parse = lambda t: time.mktime(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))  # noqa: E731
    return int(parse(end) - parse(start))


def load():
    """The 1, 5 and 15 minute load averages (the machine is shared: numbers need them)."""
    return [round(x, 2) for x in os.getloadavg()]


class Sql:
    """Plain SQL on the server's store, SQLite (the file in the data directory) or PostgreSQL
    (through `psql`), while the server is stopped."""

    def __init__(self, data, database):
        self.database = database
        self.path = os.path.join(data, "mlvet-server.sqlite3")

    def run(self, statements):
        if self.database:
            script = "BEGIN;\n" + ";\n".join(statements) + ";\nCOMMIT;\n"
            subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", self.database], input=script,
                           text=True, check=True, stdout=subprocess.DEVNULL)
        else:
            with contextlib.closing(sqlite3.connect(self.path)) as connection, connection:
                for statement in statements:
                    connection.execute(statement)

    def rows(self, query):
        if self.database:
            out = subprocess.run(["psql", "-At", "-F", "\t", self.database, "-c", query],
                                 text=True, check=True, capture_output=True).stdout
            return [line.split("\t") for line in out.splitlines() if line]
        with contextlib.closing(sqlite3.connect(self.path)) as connection:
            return [[str(v) for v in row] for row in connection.execute(query)]

    def columns(self, table):
        if self.database:
            return [r[0] for r in self.rows(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                f"current_schema() AND table_name = '{table}' ORDER BY ordinal_position")]
        return [r[1] for r in self.rows(f"PRAGMA table_info({table})")]


def grow(sql, copies):
    """Copies every project `copies - 1` more times, set-based: one INSERT … SELECT per table
    over a table of copy numbers. Ids are offset by multiples of the current maximum, so the
    copy k of row id x is x + k·max; the names get a `-cK` suffix."""
    pmax = int(sql.rows("SELECT max(id) FROM projects")[0][0])
    smax = int(sql.rows("SELECT max(id) FROM sources")[0][0])
    mapped = {
        "projects": {"id": f"t.id + c.k * {pmax}", "name": "t.name || '-c' || CAST(c.k AS TEXT)"},
        "sources": {"id": f"t.id + c.k * {smax}", "project_id": f"t.project_id + c.k * {pmax}"},
        "packages": {"id": None, "project_id": f"t.project_id + c.k * {pmax}",
                     "source_id": f"t.source_id + c.k * {smax}"},
        "source_findings": {"id": None, "source_id": f"t.source_id + c.k * {smax}"},
        "findings": {"id": None, "project_id": f"t.project_id + c.k * {pmax}"},
        "inventory_triples": {"project_id": f"t.project_id + c.k * {pmax}"},
    }
    statements = ["CREATE TEMPORARY TABLE bench_copies (k INTEGER NOT NULL)",
                  "INSERT INTO bench_copies VALUES " + ", ".join(f"({k})" for k in range(1, copies))]
    for table, overrides in mapped.items():
        columns = [c for c in sql.columns(table) if overrides.get(c, "") is not None]
        select = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
        statements.append(f"INSERT INTO {table} ({', '.join(columns)}) "
                          f"SELECT {select} FROM {table} t CROSS JOIN bench_copies c")
    if sql.database:  # identity columns continue after the copied ids
        for table in ("projects", "sources", "packages", "source_findings", "findings"):
            statements.append(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))")
    sql.run(statements)


class Server:
    """The service on loopback: one `mlvet serve` process (jobs, watcher and deliveries in
    process), or with `worker_processes` > 0 (PostgreSQL) `replicas` API-only `mlvet serve
    --workers 0` processes and that many `mlvet worker` processes doing the background work.
    Started, stopped and restarted by the benchmark; requests go to the first replica."""

    def __init__(self, mlvet, env, data, store, workers, replicas=1, worker_processes=0):
        self.mlvet, self.env, self.data, self.store = mlvet, env, data, store
        self.workers, self.replicas, self.worker_processes = workers, replicas, worker_processes
        self.processes = []
        self.port = 18000 + (os.getpid() % 200) * 5
        self.base = f"http://127.0.0.1:{self.port}"

    def commands(self):
        common = ["--offline", "--allow-private-webhooks", "--no-config", *self.store]
        serve_workers = "0" if self.worker_processes else str(self.workers)
        commands = []
        for index in range(self.replicas):
            port = self.port + index
            commands.append(([self.mlvet, "serve", "--listen", f"127.0.0.1:{port}", "--rate-per-minute",
                              "1000000", "--workers", serve_workers, *common], port))
        for index in range(self.worker_processes):
            port = self.port + 100 + index
            commands.append(([self.mlvet, "worker", "--concurrency", str(self.workers),
                              "--health-listen", f"127.0.0.1:{port}", *common], port))
        return commands

    def start(self):
        self.log = open(os.path.join(self.data, "serve.log"), "a")
        self.processes = []
        for command, port in self.commands():
            self.processes.append(subprocess.Popen(command, env=self.env, stdout=self.log, stderr=self.log))
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise SystemExit(f"{command[1]} on port {port} did not become ready")

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            process.wait(timeout=120)
        if self.processes:
            self.log.close()
        self.processes = []

    def alive(self):
        return all(process.poll() is None for process in self.processes)

    def memory_mib(self, field):
        """Per process (serve replicas first), resident memory in MiB."""
        return [round(rss_kib(p.pid, field) / 1024, 1) for p in self.processes]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlvet", required=True)
    parser.add_argument("--database")
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--packages", type=int, default=300)
    parser.add_argument("--hit", type=int, default=100)
    parser.add_argument("--stale", type=float, default=0.1,
                        help="share of packages at an old version (the rest at their newest fix)")
    parser.add_argument("--templates", type=int, help="upload only this many; grow by SQL copies")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2,
                        help="job slots per process that runs jobs")
    parser.add_argument("--serve-replicas", type=int, default=1,
                        help="`mlvet serve` processes (more than one needs --worker-processes)")
    parser.add_argument("--worker-processes", type=int, default=0,
                        help="`mlvet worker` processes beside API-only replicas (PostgreSQL)")
    parser.add_argument("--rematch", action="store_true", help="also time a full re-match")
    parser.add_argument("--keep-log", help="copy the server's log here at the end")
    parser.add_argument("--rematch-projects", type=int,
                        help="re-match only this many projects (the lowest ids), not all")
    args = parser.parse_args()
    mlvet = os.path.abspath(args.mlvet)
    templates = args.templates or args.projects
    copies = args.projects // templates
    if copies * templates != args.projects or args.hit % copies:
        raise SystemExit("--templates must divide --projects, and the copies --hit")
    if (args.worker_processes or args.serve_replicas > 1) and not args.database:
        raise SystemExit("several processes share a PostgreSQL store: pass --database")
    if args.serve_replicas > 1 and not args.worker_processes:
        raise SystemExit("several replicas need --worker-processes (replicas are API-only then)")
    results = {"backend": "postgres" if args.database else "sqlite", "projects": args.projects,
               "packages_per_project": args.packages, "hit": args.hit,
               "uploaded_through_api": templates,
               "serve_processes": args.serve_replicas, "worker_processes": args.worker_processes,
               "job_slots_per_process": args.workers, "stale_share": args.stale, "sql_copies_of_each": copies,
               "load_at_start": load()}

    # Python's default listen backlog is 5: with several delivering processes (16 requests in
    # flight each) the kernel drops connections and the benchmark would measure its own
    # receiver. A production receiver's backlog is in the hundreds.
    ThreadingHTTPServer.request_queue_size = 1024
    ThreadingHTTPServer.daemon_threads = True
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"

    with tempfile.TemporaryDirectory(prefix="mlvet-bench-monitor-") as data:
        env = dict(os.environ, MLVET_DATA_DIR=data)
        store = ["--database", args.database] if args.database else []
        sql = Sql(data, args.database)
        subprocess.run([mlvet, "db", "import", str(VULNS)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        token = subprocess.run(
            [mlvet, "admin", "token", "create", "--team", "bench", "--role", "admin", *store],
            env=env, check=True, capture_output=True, text=True).stdout.strip()
        server = Server(mlvet, env, data, store, args.workers, args.serve_replicas,
                        args.worker_processes)
        server.start()
        base = server.base
        try:
            files = portfolio(templates, args.packages, args.hit // copies, args.stale)
            started = time.monotonic()

            errors, stuck = [], []

            def upload(index):
                # A 500 (SQLite "database is locked" after the store's 10 s busy timeout, seen
                # with 4 clients) is counted in the results and the upload retried.
                for _ in range(5):
                    try:
                        return upload_once(index)
                    except urllib.error.HTTPError as error:
                        if error.code != 500:
                            raise
                        errors.append(index)
                raise SystemExit(f"upload {index} kept failing")

            def upload_once(index):
                name = f"svc-{index:05d}"
                existing = [p for p in call(base, "GET", "/api/v1/projects", token)[1]["projects"]
                            if p["name"] == name] if index in errors else []
                project = existing[0] if existing else call(
                    base, "POST", "/api/v1/projects", token,
                    json.dumps({"name": name}).encode(), "application/json")[1]
                return upload_project(index, project)

            def upload_project(index, project):
                # A job whose result could not be stored (the worker logs `job_store_failed`)
                # stays `running` until its 15-minute lease ends: after 60 s the file is
                # uploaded again (a new job), and that is counted.
                for _ in range(5):
                    put = time.monotonic()
                    _, job = call(base, "PUT", f"/api/v1/projects/{project['id']}/inventory?filename=requirements.txt&wait=60",
                                  token, files[index])
                    job = job["job"]
                    while job["state"] in ("queued", "running") and time.monotonic() - put < 60:
                        time.sleep(0.2)
                        job = call(base, "GET", f"/api/v1/jobs/{job['id']}", token)[1]["job"]
                    if job["state"] not in ("queued", "running"):
                        assert job["state"] == "succeeded", job
                        return seconds_between(job["created"], job["finished"])
                    stuck.append(job["id"])
                raise SystemExit(f"upload {index} never finished")
            with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
                durations = sorted(pool.map(upload, range(templates)))
            results["upload_http_500_retried"] = len(errors)
            results["upload_jobs_stuck_running_reuploaded"] = len(stuck)
            results["upload_job_seconds_p50_p95_max"] = [
                durations[len(durations) // 2], durations[int(0.95 * (len(durations) - 1))], durations[-1]]
            results["upload_seconds"] = round(time.monotonic() - started, 1)
            results["uploads_per_second"] = round(templates / results["upload_seconds"], 1)
            results["load_after_uploads"] = load()
            if copies > 1:
                server.stop()
                started = time.monotonic()
                grow(sql, copies)
                results["sql_grow_seconds"] = round(time.monotonic() - started, 1)
                server.start()
            for table in ("projects", "packages", "findings", "inventory_triples"):
                results[f"rows_{table}"] = int(sql.rows(f"SELECT count(*) FROM {table}")[0][0])
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

            results["load_before_import"] = load()
            t0, seconds = timed_import("new.json", record("2026-12-02T00:00:00Z"))
            results["import_new_advisory_cli_seconds"] = round(seconds, 3)
            last, results["finding_created_received"] = wait_for("finding.created", args.hit, t0)
            results["latency_import_to_last_created_webhook_seconds"] = round(last - t0, 3)
            t1, seconds = timed_import("withdrawn.json", record("2026-12-02T01:00:00Z", True))
            results["import_withdrawal_cli_seconds"] = round(seconds, 3)
            last, results["finding_retracted_received"] = wait_for("finding.retracted", args.hit, t1)
            results["latency_import_to_last_retracted_webhook_seconds"] = round(last - t1, 3)
            results["load_after_monitoring"] = load()
            results["rss_mib_per_process"] = server.memory_mib("VmRSS")
            if args.rematch:
                results.update(rematch(server, sql, args.rematch_projects))
        finally:
            server.stop()
            if args.keep_log:
                shutil.copy(os.path.join(data, "serve.log"), args.keep_log)
        results["signatures_verified_by_standardwebhooks"] = None
        failed = 0
        if Webhook is not None:
            checker = Webhook(secret)
            verified = 0
            for _, headers, body, _ in received:
                try:
                    checker.verify(body, headers)
                    verified += 1
                except Exception:  # noqa: BLE001 - any verification error counts
                    failed += 1
            results["signatures_verified_by_standardwebhooks"] = verified
        results["webhooks_received"] = len(received)
        results["signature_failures"] = failed
        print(json.dumps(results, indent=2))
        if failed:
            raise SystemExit(1)


def rematch(server, sql, limit):
    """A matcher upgrade: every project (or the `limit` lowest ids) marked as matched by an
    older matcher, the server restarted; until every project carries the current matcher
    version again."""
    current = sql.rows("SELECT max(matcher_version) FROM projects")[0][0]
    server.stop()
    which = f" WHERE id IN (SELECT id FROM projects ORDER BY id LIMIT {limit})" if limit else ""
    sql.run([f"UPDATE projects SET matcher_version = 'mlvet-osv/0.0.0-bench'{which}"])
    before = len(received)
    load_before = load()
    started = time.monotonic()
    server.start()
    while True:
        left = int(sql.rows(f"SELECT count(*) FROM projects WHERE matcher_version IS NULL "
                            f"OR matcher_version <> '{current}'")[0][0])
        if left == 0:
            break
        if not server.alive():
            raise SystemExit("a process stopped during the re-match")
        time.sleep(0.5)
    return {
        "rematch_matcher_version": current,
        "rematch_projects": int(sql.rows("SELECT count(*) FROM projects")[0][0]) if not limit else limit,
        "rematch_seconds": round(time.monotonic() - started, 1),
        "rematch_peak_rss_mib_per_process": server.memory_mib("VmHWM"),
        "rematch_webhooks": len(received) - before,
        "load_before_rematch": load_before,
        "load_after_rematch": load(),
    }


if __name__ == "__main__":
    main()
