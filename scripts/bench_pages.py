#!/usr/bin/env python3
"""Benchmarks the web pages of `mlvet serve` on loopback (standard library only).

A project of 300 packages from a poetry.lock that records its graph (10 direct requirements,
each the root of a tree of 29 transitive packages; real package names from the advisory
snapshot at old versions, so many are vulnerable): the project page (findings grouped by the
direct requirement that brings them, with the path), the activity feed page, and the API's
findings list of the same project as the baseline. Requests per second at 1 and 8 clients,
p50/p95 latency at 1 client.

Usage: scripts/bench_pages.py --mlvet target/release/mlvet [--database postgres://…] [--count N]
The advisory database is imported from ../shared/advisories (real PYSEC records) into a
temporary data directory. Only loopback is contacted.
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import re
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
VULNS = ROOT / ".." / "shared" / "advisories" / "pypa-advisory-database" / "vulns"
PASSWORD = "bench password 1234"
ROOTS = 10


def lockfile(count):
    """A poetry.lock of `count` packages: ROOTS trees, package i depending on 2i+1 and 2i+2
    of its tree."""
    names = sorted(p.name for p in VULNS.iterdir() if p.is_dir())[:count]
    per_tree = len(names) // ROOTS
    parts = []
    for i, name in enumerate(names):
        tree, index = divmod(i, per_tree)
        children = [tree * per_tree + c for c in (2 * index + 1, 2 * index + 2) if c < per_tree]
        deps = "".join(f'"{names[c]}" = "*"\n' for c in children if c < len(names))
        parts.append(
            f'[[package]]\nname = "{name}"\nversion = "0.{i % 9}.{i % 7}"\ndescription = ""\n'
            'optional = false\npython-versions = "*"\nfiles = []\n'
            + (f"\n[package.dependencies]\n{deps}" if deps else "")
        )
    parts.append('[metadata]\nlock-version = "2.0"\npython-versions = "^3.10"\ncontent-hash = "0"\n')
    return "\n".join(parts).encode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def request(base, method, path, headers=None, body=None):
    req = urllib.request.Request(base + path, data=body, method=method)
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with OPENER.open(req, timeout=300) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def login(base, email):
    status, headers, body = request(base, "GET", "/login")
    csrf_cookie = re.search(r"mlvet_login_csrf=([^;]+)", headers.get("Set-Cookie", "")).group(1)
    form = urllib.parse.urlencode({"csrf": csrf_cookie, "email": email, "password": PASSWORD, "next": "/projects"})
    status, headers, body = request(
        base, "POST", "/login",
        {"Cookie": f"mlvet_login_csrf={csrf_cookie}", "Content-Type": "application/x-www-form-urlencoded"},
        form.encode())
    assert status == 303, (status, body[:500])
    session = re.search(r"mlvet_session=([^;]+)", headers.get("Set-Cookie", "")).group(1)
    return {"Cookie": f"mlvet_session={session}"}


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlvet", required=True)
    parser.add_argument("--database")
    parser.add_argument("--count", type=int, default=100, help="requests per measurement")
    parser.add_argument("--port", type=int, default=18932)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="mlvet-bench-pages-")
    env = dict(os.environ, MLVET_DATA_DIR=data, NO_COLOR="1")
    env.pop("MLVET_DATABASE", None)
    subprocess.run([args.mlvet, "db", "import", "-q", str(VULNS)], env=env, check=True)
    store = ["--database", args.database] if args.database else []
    run = f"{int(time.time())}-{os.getpid()}"
    email = f"bench-{run}@example.com"
    subprocess.run([args.mlvet, "admin", "user", "create", email, "--team", f"bench-{run}", "--role", "admin"] + store,
                   env=env, check=True, input=PASSWORD + "\n", text=True, capture_output=True)
    token = subprocess.run(
        [args.mlvet, "admin", "token", "create", "--team", f"bench-{run}", "--role", "admin"] + store,
        env=env, check=True, capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen(
        [args.mlvet, "serve", "--no-config", "--listen", f"127.0.0.1:{args.port}",
         "--rate-per-minute", "1000000", "--workers", "2"] + store,
        env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{args.port}"
    api = {"Authorization": f"Bearer {token}"}
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        status, _, answer = request(base, "POST", "/api/v1/projects", dict(api, **{"Content-Type": "application/json"}),
                                    json.dumps({"name": f"pages-{run}"}).encode())
        project = json.loads(answer)["id"]
        status, _, answer = request(base, "PUT", f"/api/v1/projects/{project}/inventory?filename=poetry.lock&wait=300",
                                    api, lockfile(300))
        assert json.loads(answer)["job"]["state"] == "succeeded", answer
        findings = json.loads(request(base, "GET", f"/api/v1/projects/{project}/findings", api)[2])["findings"]
        cookie = login(base, email)
        page = request(base, "GET", f"/projects/{project}", cookie)[2].decode()
        results = {
            "backend": "postgres" if args.database else "sqlite",
            "packages": 300,
            "findings": len(findings),
            "groups": re.findall(r'data-group="([^"]*)"', page),
            "transitive_paths_shown": page.count('class="path"'),
            "page_bytes": len(page),
        }
        for path, headers, key in (
            (f"/projects/{project}", cookie, "project_page"),
            (f"/projects/{project}/activity", cookie, "activity_page"),
            (f"/api/v1/projects/{project}/findings", api, "api_findings"),
        ):
            latencies = []
            for _ in range(args.count):
                started = time.perf_counter()
                status, _, _ = request(base, "GET", path, headers)
                assert status == 200, (path, status)
                latencies.append(time.perf_counter() - started)
            results[f"{key}_c1_p50_ms"] = round(1000 * statistics.median(latencies), 1)
            results[f"{key}_c1_p95_ms"] = round(1000 * pct(latencies, 0.95), 1)
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda _: request(base, "GET", path, headers), range(args.count)))
            results[f"{key}_c8_rps"] = round(args.count / (time.perf_counter() - started), 1)
        print(json.dumps(results, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
