#!/usr/bin/env python3
"""Generates large dependency-inventory and advisory inputs for mlvet's resource measurements.

Standard library only, deterministic. The outputs are large and are never committed: write them
to a scratch directory and measure the release binary on them, e.g.

    python3 scripts/gen_deps_bench.py /tmp/deps-bench --packages 1000000
    /usr/bin/time -v target/release/mlvet scan /tmp/deps-bench/Pipfile.lock --format json -o /dev/null

Files written (N = --packages; every file stays under the 64 MiB inventory file limit for the
default N = 1,000,000, so that it is parsed, not refused):
  Pipfile.lock, poetry.lock, uv.lock, pdm.lock, pylock.toml   N locked packages each
  bom.cdx.json (CycloneDX 1.5)                                N components
  sbom.spdx.json (SPDX 2.3)                                   2N/5 packages
  advisory/TEST-2026-0001.json  an OSV record for `bigpkg` with --ranges ranges [k, k+1)
  requirements.txt (`bigpkg==1.5`), requirements-dev.txt (`bigpkg>=1.5`)
"""

import argparse
import json
import os


def names(count):
    for i in range(count):
        yield f"pkg{i:07d}", f"{i % 50}.{i % 7}.{i % 11}"


def write_pipfile_lock(path, count):
    with open(path, "w") as out:
        out.write('{"_meta": {"pipfile-spec": 6, "requires": {}, "sources": []},\n"default": {\n')
        for i, (name, version) in enumerate(names(count)):
            comma = "," if i + 1 < count else ""
            out.write(f'"{name}": {{"version": "=={version}"}}{comma}\n')
        out.write('},\n"develop": {}\n}\n')


def write_toml_lock(path, count, key, header):
    with open(path, "w") as out:
        out.write(header)
        for name, version in names(count):
            out.write(f'\n[[{key}]]\nname = "{name}"\nversion = "{version}"\n')


def write_cyclonedx(path, count):
    with open(path, "w") as out:
        out.write('{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,\n')
        out.write('"metadata": {"component": {"type": "application", "name": "project"}},\n')
        out.write('"components": [\n')
        for i, (name, version) in enumerate(names(count)):
            comma = "," if i + 1 < count else ""
            out.write(f'{{"type": "library", "purl": "pkg:pypi/{name}@{version}"}}{comma}\n')
        out.write("]}\n")


def write_spdx(path, count):
    with open(path, "w") as out:
        out.write('{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "bench",\n')
        out.write('"documentDescribes": ["SPDXRef-root"],\n"packages": [\n')
        out.write('{"SPDXID": "SPDXRef-root", "name": "project"},\n')
        for i, (name, version) in enumerate(names(count)):
            comma = "," if i + 1 < count else ""
            out.write(
                f'{{"name": "{name}", "externalRefs": [{{"referenceType": "purl",'
                f' "referenceLocator": "pkg:pypi/{name}@{version}"}}]}}{comma}\n'
            )
        out.write("]}\n")


def write_advisory(directory, ranges):
    os.makedirs(directory, exist_ok=True)
    record = {
        "id": "TEST-2026-0001",
        "modified": "2026-01-01T00:00:00Z",
        "summary": "a record with very many ranges",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "bigpkg"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": str(k)}, {"fixed": str(k + 1)}]}
                    for k in range(1, ranges + 1)
                ],
            }
        ],
    }
    with open(os.path.join(directory, "TEST-2026-0001.json"), "w") as out:
        json.dump(record, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="directory to write into (created)")
    parser.add_argument("--packages", type=int, default=1_000_000)
    parser.add_argument("--ranges", type=int, default=10_000)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    at = lambda name: os.path.join(args.out, name)
    write_pipfile_lock(at("Pipfile.lock"), args.packages)
    for name, key, header in [
        ("poetry.lock", "package", "# poetry\n"),
        ("uv.lock", "package", 'version = 1\nrequires-python = ">=3.8"\n'),
        ("pdm.lock", "package", '[metadata]\ngroups = ["default"]\n'),
        ("pylock.toml", "packages", 'lock-version = "1.0"\ncreated-by = "bench"\n'),
    ]:
        write_toml_lock(at(name), args.packages, key, header)
    write_cyclonedx(at("bom.cdx.json"), args.packages)
    # SPDX packages are wordier: fewer of them keep the file under the 64 MiB inventory limit.
    write_spdx(at("sbom.spdx.json"), args.packages * 2 // 5)
    write_advisory(at("advisory"), args.ranges)
    with open(at("requirements.txt"), "w") as out:
        out.write("bigpkg==1.5\n")
    with open(at("requirements-dev.txt"), "w") as out:
        out.write("bigpkg>=1.5\n")


if __name__ == "__main__":
    main()
