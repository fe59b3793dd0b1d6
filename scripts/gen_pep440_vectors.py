#!/usr/bin/env python3
"""Generate the differential-test vectors for mlvet-osv from Python's `packaging` (the reference).

Run in a throwaway virtual environment (the repository does not depend on Python):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install packaging pyyaml
    /tmp/venv/bin/python scripts/gen_pep440_vectors.py

Writes, deterministically (fixed seed, sorted inputs):

- crates/mlvet-osv/tests/data/pep440_vectors.json
    versions:    every generated string, whether packaging accepts it, its normal form and public part
    comparisons: pairs of valid versions with packaging's ordering (-1, 0, 1)
    specifiers:  specifier sets, whether packaging accepts them, and `SpecifierSet(s).contains(v,
                 prereleases=True)` for a range of candidate versions
- crates/mlvet-osv/tests/data/osv_match_vectors.json
    (record path, package, version, affected) for a sample of versions around every PyPI record of
    the PyPA advisory database snapshot in ../shared, evaluated by `osv_affected` below: the OSV
    schema's pseudo-code, with mlvet's documented policies (public-version matching, unparseable
    introduced skipped, unparseable fixed/last_affected/limit drops its range), on packaging.

The Rust tests replay both files (tests/pep440_differential.rs, tests/real_advisories.rs).
"""

import json
import os
import random
import re
import sys

import packaging
import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "crates", "mlvet-osv", "tests", "data")
ADVISORIES = os.path.join(ROOT, "..", "shared", "advisories", "pypa-advisory-database")
MAX_VERSION_LEN = 256  # mirrors pep440.rs

rng = random.Random(440)


# ---------------------------------------------------------------------------------------------
# Version generation


def rand_release():
    parts = []
    for _ in range(rng.choice([1, 2, 2, 3, 3, 3, 4])):
        n = rng.choice([0, 0, 1, 1, 2, 3, 5, 9, 10, 11, 99, 100, 2024, rng.randint(0, 30)])
        s = str(n)
        if rng.random() < 0.05:
            s = "0" + s  # leading zeros normalise away
        parts.append(s)
    return ".".join(parts)


def rand_pre():
    kind = rng.choice(["a", "b", "rc", "c", "alpha", "beta", "pre", "preview", "A", "RC", "Alpha"])
    sep = rng.choice(["", "", ".", "-", "_"])
    num = rng.choice(["", "0", "1", "2", "10", str(rng.randint(0, 50))])
    numsep = rng.choice(["", "", ".", "-", "_"]) if num else ""
    return sep + kind + numsep + num


def rand_post():
    form = rng.choice(["post", "rev", "r", "POST", "-"])
    if form == "-":
        return "-" + str(rng.randint(0, 9))  # implicit post release: 1.0-1
    sep = rng.choice(["", ".", "-", "_"])
    num = rng.choice(["", "0", "1", "2", str(rng.randint(0, 20))])
    numsep = rng.choice(["", "", ".", "-", "_"]) if num else ""
    return sep + form + numsep + num


def rand_dev():
    sep = rng.choice(["", ".", "-", "_"])
    num = rng.choice(["", "0", "1", "456", str(rng.randint(0, 20))])
    return sep + rng.choice(["dev", "DEV"]) + num


def rand_local():
    segs = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        segs.append(rng.choice(["cu121", "cu118", "cpu", "rocm6.1", "abc", "1", "05", "ubuntu", "g1234abc", "ABC", str(rng.randint(0, 99))]))
    sep = rng.choice([".", ".", "-", "_"])
    return "+" + sep.join(segs)


def rand_version():
    s = ""
    if rng.random() < 0.08:
        s += str(rng.choice([0, 1, 2, 10])) + "!"
    s += rand_release()
    if rng.random() < 0.3:
        s += rand_pre()
    if rng.random() < 0.2:
        s += rand_post()
    if rng.random() < 0.2:
        s += rand_dev()
    if rng.random() < 0.15:
        s += rand_local()
    if rng.random() < 0.05:
        s = rng.choice(["v", "V"]) + s
    if rng.random() < 0.03:
        s = " " + s + rng.choice(["", " ", "\t"])
    return s


HAND_WRITTEN = [
    "1.0", "1.0.0", "1", "1.0.0.0", "01.02", "1.0-RC1", "1.0.post", "v1.0", "V1.0", "1.0rc1", "1.0c1",
    "1.0.dev456+local", "1.0b2-346", "1.0b2.post345.dev456", "1.0.post456.dev34", "1!1.0", "0!1.0",
    "2.5.1+cu121", "2.5.1+cpu", "2.5.1", "2.5.0.dev20240601+cu121", "1.0+abc.5", "1.0+abc.7", "1.0+5",
    "1.0+ubuntu-1", "1.0+ubuntu_1", "1.0-1", "1.0-r1", "1.0.rev1", "1.0alpha1", "1.0a.1", "1.0-pre1",
    "1.0preview2", "1.0.DEV", "1.0dev", "1.0.0a0", "1.0a", "1.0.post0", "1.0.post0.dev0", "2013.01.21",
    "0.8.0", "4.0.0b1",
    # invalid per PEP 440
    "", " ", "abc", "1.0.0-alpha2-x", "0.8.0-alpha2", "2013-01-21T20:33:09+0100", "1..0", "1.0+", "+local",
    "1.0-", "1.0.", ".1", "1.0+local+more", "1.0 a1", "1_0", "1.0+lo cal", "1.0++", "1!", "!1.0", "1.0b2-346-x",
    "\u0661.\u0660", "1.0-dev-1", "one", "1.0.0-SNAPSHOT", "1.0.0-alpha", "1.0+*", "1.*", "=1.0", "1.0,2.0",
    "x" * 300, "1." * 200 + "1",
]


def classify(s):
    if len(s.strip()) > MAX_VERSION_LEN:
        return None
    try:
        return Version(s)
    except InvalidVersion:
        return None


def gen_versions():
    seen = []
    seen_set = set()
    for s in HAND_WRITTEN + [rand_version() for _ in range(4000)]:
        if s not in seen_set:
            seen_set.add(s)
            seen.append(s)
    # Some random garbage made of version characters.
    alphabet = "0123456789.-_+!abcdeprvost"
    for _ in range(600):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
        if s not in seen_set:
            seen_set.add(s)
            seen.append(s)
    return seen


def cmp(a, b):
    return (a > b) - (a < b)


# ---------------------------------------------------------------------------------------------
# Specifier generation


OPERATORS = ["==", "!=", "<=", ">=", "<", ">", "~=", "==*", "!=*"]


def rand_spec(valid_versions):
    op = rng.choice(OPERATORS)
    v = rng.choice(valid_versions).strip()
    if rng.random() < 0.5:
        v = str(Version(v))  # normal form half of the time
    if op == "==*":
        return "==" + re.sub(r"\+.*$", "", v) + ".*"
    if op == "!=*":
        return "!=" + re.sub(r"\+.*$", "", v) + ".*"
    return op + v


def gen_specifiers(valid_versions, version_pool):
    specs = [
        ">=2.0,<2.5", "<2.5", "<=2.5", ">2.5", ">2.5.post1", "<2.5rc1", "~=2.2", "~=2.2.0", "==2.*", "!=2.5.*",
        "==2.5.1", "==2.5.1+cu121", "!=2.5.1", ">=1.0.dev0", ">1.0.dev0", ">1!0", "~=1!2.0", "", ">=1.0,!=1.3.4.*,<2.0",
        "~=1", "==1.0+local.*", "<1.0+local", ">=1.0+local", "=1.0", "=>1.0", "1.0", ">=1.0;", ">= 1.0 , < 2.0", "==1.0.*.0",
    ]
    for _ in range(700):
        n = rng.choice([1, 1, 2, 2, 3])
        specs.append(",".join(rand_spec(valid_versions) for _ in range(n)))
    out = []
    seen = set()
    for s in specs:
        if s in seen:
            continue
        seen.add(s)
        try:
            spec = SpecifierSet(s)
        except InvalidSpecifier:
            out.append({"spec": s, "valid": False, "cases": []})
            continue
        if "===" in s:
            continue
        # Candidates: versions near the specifier's own versions, and random ones.
        candidates = set()
        for single in spec:
            base = single.version.rstrip(".*")
            for suffix in ["", ".0", ".post1", "a1", ".dev0", "rc1", "+cu121", ".1", "1"]:
                candidates.add(base + suffix)
        for _ in range(12):
            candidates.add(rng.choice(version_pool))
        cases = []
        for c in sorted(candidates):
            v = classify(c)
            if v is None:
                continue
            cases.append([c, spec.contains(v, prereleases=True)])
        out.append({"spec": s, "valid": True, "cases": cases})
    return out


# ---------------------------------------------------------------------------------------------
# OSV evaluation (the reference for tests/real_advisories.rs)


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_public(s):
    v = classify(s)
    return None if v is None else Version(v.public)


MIN, AT, MAX = 0, 1, 2


def timeline(rng_obj):
    """Parsed, sorted events and limits, or None when the range is dropped (see range.rs)."""
    events, limits = [], []
    for event in rng_obj.get("events") or []:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind not in event or event[kind] is None:
                continue
            text = str(event[kind])
            if kind == "introduced" and text.strip() == "0":
                point = (MIN, None)
            elif kind == "limit" and "*" in text:
                point = (MAX, None)
            else:
                v = parse_public(text)
                if v is None:
                    if kind == "introduced":
                        continue
                    return None
                point = (AT, v)
            (limits if kind == "limit" else events).append((kind, point))
    events.sort(key=lambda e: (e[1][0], e[1][1]) if e[1][0] == AT else (e[1][0],))
    return events, [p for _, p in limits]


def point_cmp(point, v):
    if point[0] == MIN:
        return -1
    if point[0] == MAX:
        return 1
    return cmp(point[1], v)


def range_contains(tl, v):
    events, limits = tl
    if limits and not any(point_cmp(l, v) > 0 for l in limits):
        return False
    vulnerable = False
    for kind, point in events:
        order = point_cmp(point, v)
        if kind == "introduced" and order <= 0:
            vulnerable = True
        elif kind == "fixed" and order <= 0:
            vulnerable = False
        elif kind == "last_affected" and order < 0:
            vulnerable = False
    return vulnerable


def osv_affected(record, name, version):
    if record.get("withdrawn"):
        return False
    v = parse_public(version)
    for entry in record.get("affected") or []:
        pkg = entry.get("package") or {}
        if str(pkg.get("ecosystem", "")).strip().lower() != "pypi":
            continue
        if pep503(str(pkg.get("name", "")).strip()) != name:
            continue
        for listed in entry.get("versions") or []:
            lv = parse_public(str(listed))
            if lv is not None and lv == v:
                return True
        for r in entry.get("ranges") or []:
            if str(r.get("type", "")).upper() not in ("ECOSYSTEM", "SEMVER"):
                continue
            tl = timeline(r)
            if tl is not None and range_contains(tl, v):
                return True
    return False


def neighbours(text):
    v = classify(text)
    if v is None:
        return []
    base = v.base_version
    out = [str(v), base + ".post1", base + ".dev0", base + "rc1", base + "+cu121", base + ".0", base + ".1"]
    rel = list(v.release)
    rel[-1] += 1
    out.append(".".join(map(str, rel)))
    if rel[-1] > 1:
        rel[-1] -= 2
        out.append(".".join(map(str, rel)))
    return out


def gen_osv_vectors():
    vulns = os.path.join(ADVISORIES, "vulns")
    files = []
    for dirpath, _, names in os.walk(vulns):
        for n in names:
            if n.endswith(".yaml"):
                files.append(os.path.join(dirpath, n))
    files.sort()
    rows = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            record = yaml.safe_load(f)
        rel = os.path.relpath(path, ADVISORIES).replace(os.sep, "/")
        for entry in record.get("affected") or []:
            pkg = entry.get("package") or {}
            if str(pkg.get("ecosystem", "")).strip().lower() != "pypi":
                continue
            name = pep503(str(pkg.get("name", "")).strip())
            candidates = set()
            for listed in entry.get("versions") or []:
                candidates.update(neighbours(str(listed))[:1])
            for r in entry.get("ranges") or []:
                for event in r.get("events") or []:
                    for value in event.values():
                        candidates.update(neighbours(str(value)))
            candidates.update(["0.0.1", "999.0", "1.0"])
            valid = sorted(c for c in candidates if classify(c) is not None)
            sample = rng.sample(valid, min(len(valid), 10))
            for version in sorted(sample):
                rows.append([rel, name, version, osv_affected(record, name, version)])
    return files, rows


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    strings = gen_versions()
    versions = []
    valid = []
    for s in strings:
        v = classify(s)
        if v is None:
            versions.append({"input": s, "valid": False})
        else:
            versions.append({"input": s, "valid": True, "normalized": str(v), "public": v.public, "prerelease": v.is_prerelease})
            valid.append(s)
    parsed = {s: Version(s) for s in valid}
    comparisons = []
    for _ in range(6000):
        a, b = rng.choice(valid), rng.choice(valid)
        comparisons.append([a, b, cmp(parsed[a], parsed[b])])
    # Neighbours in sorted order stress near-equal cases (1.0 vs 1.0.0, locals, post/dev mixes).
    ordered = sorted(valid, key=lambda s: parsed[s])
    for a, b in zip(ordered, ordered[1:]):
        comparisons.append([a, b, cmp(parsed[a], parsed[b])])
    specifiers = gen_specifiers(valid, valid)
    doc = {
        "generator": "scripts/gen_pep440_vectors.py",
        "reference": "packaging " + packaging.__version__,
        "python": sys.version.split()[0],
        "versions": versions,
        "comparisons": comparisons,
        "specifiers": specifiers,
    }
    with open(os.path.join(OUT_DIR, "pep440_vectors.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=0, sort_keys=True)
        f.write("\n")
    files, rows = gen_osv_vectors()
    osv = {
        "generator": "scripts/gen_pep440_vectors.py",
        "reference": "packaging " + packaging.__version__ + " + OSV schema evaluation pseudo-code",
        "records": len(files),
        "cases": rows,
    }
    with open(os.path.join(OUT_DIR, "osv_match_vectors.json"), "w", encoding="utf-8") as f:
        json.dump(osv, f, ensure_ascii=False, indent=0, sort_keys=True)
        f.write("\n")
    affected = sum(1 for r in rows if r[3])
    print(f"versions={len(versions)} valid={len(valid)} comparisons={len(comparisons)} "
          f"specifiers={len(specifiers)} spec_cases={sum(len(s['cases']) for s in specifiers)} "
          f"osv_records={len(files)} osv_cases={len(rows)} affected={affected}")


if __name__ == "__main__":
    main()
