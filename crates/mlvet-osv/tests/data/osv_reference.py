"""Independent OSV evaluation of the PyPA advisory snapshot on `packaging` (see gen_match_vectors.py)."""
import os, re, yaml, functools
from packaging.version import Version, InvalidVersion
from packaging.specifiers import SpecifierSet

ADV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "..", "shared", "advisories", "pypa-advisory-database", "vulns")

def pep503(n): return re.sub(r"[-_.]+", "-", n).lower()

def pv(s):
    try: return Version(str(s).strip())
    except InvalidVersion: return None

@functools.lru_cache(maxsize=1)
def load():
    recs = {}
    for dp, _, fs in os.walk(ADV):
        for f in fs:
            if f.endswith((".yaml", ".yml")):
                with open(os.path.join(dp, f), encoding="utf-8") as fh:
                    r = yaml.safe_load(fh)
                recs[r["id"]] = r
    by_pkg = {}
    for r in recs.values():
        for e in r.get("affected") or []:
            p = e.get("package") or {}
            if str(p.get("ecosystem", "")) == "PyPI":
                by_pkg.setdefault(pep503(str(p.get("name", ""))), set()).add(r["id"])
    return recs, by_pkg

def entries(r, name):
    for e in r.get("affected") or []:
        p = e.get("package") or {}
        if str(p.get("ecosystem", "")) == "PyPI" and pep503(str(p.get("name", ""))) == name:
            yield e

def range_hit(rng, v):
    """OSV spec pseudo-code for one ECOSYSTEM range."""
    evs = []
    for ev in rng.get("events") or []:
        for k, val in ev.items():
            if k == "introduced" and str(val) == "0":
                evs.append((0, Version("0"), k))
                continue
            x = pv(val)
            if x is None:
                if k == "introduced": continue
                return False
            evs.append((1, x, k))
    limits = [x for _, x, k in evs if k == "limit"]
    if limits and not any(v < l for l in limits): return False
    evs = [e for e in evs if e[2] != "limit"]
    evs.sort(key=lambda t: (t[0], t[1]))
    vuln = False
    for _, x, k in evs:
        if k == "introduced" and (x == Version("0") or v >= x): vuln = True
        elif k == "fixed" and v >= x: vuln = False
        elif k == "last_affected" and v > x: vuln = False
    return vuln

def record_affects(r, name, v):
    if r.get("withdrawn"): return False
    for e in entries(r, name):
        for s in e.get("versions") or []:
            x = pv(s)
            if x is not None and x == v: return True
        for rng in e.get("ranges") or []:
            if rng.get("type") in ("ECOSYSTEM", "SEMVER") and range_hit(rng, v): return True
    return False

def group(ids, recs):
    """Union-find of records sharing id/alias; returns list of (set of member ids, set of all names)."""
    parent = {i: i for i in ids}
    def root(i):
        while parent[i] != i: i = parent[i]
        return i
    owner = {}
    for i in ids:
        for n in [i] + list(recs[i].get("aliases") or []):
            if n in owner: parent[root(i)] = root(owner[n])
            else: owner[n] = i
    groups = {}
    for i in ids: groups.setdefault(root(i), set()).add(i)
    out = []
    for members in groups.values():
        names = set()
        for m in members: names |= {m, *(recs[m].get("aliases") or [])}
        out.append((members, names))
    return out

def lowest_fix(members, recs, name, v):
    """The fix as the record writes it (the smallest spelling when records spell one version twice)."""
    cands = {}
    for m in members:
        for e in entries(recs[m], name):
            for rng in e.get("ranges") or []:
                if rng.get("type") not in ("ECOSYSTEM", "SEMVER"): continue
                for ev in rng.get("events") or []:
                    if "fixed" in ev and pv(ev["fixed"]) is not None:
                        text = str(ev["fixed"]).strip()
                        c = pv(text)
                        cands[c] = min(cands.get(c, text), text)
    for c in sorted(cands):
        if c > v and not any(record_affects(recs[m], name, c) for m in members):
            return cands[c]
    return None

def pinned(name, version):
    """-> list of (frozenset names, fixed Version or None)"""
    recs, by_pkg = load()
    name = pep503(name)
    v = pv(version)
    hits = [i for i in sorted(by_pkg.get(name, ())) if record_affects(recs[i], name, v)]
    return [(frozenset(names), lowest_fix(members, recs, name, v)) for members, names in group(hits, recs)]

def boundary_versions(r, name):
    out = set()
    for e in entries(r, name):
        for s in e.get("versions") or []:
            if pv(s): out.add(pv(s))
        for rng in e.get("ranges") or []:
            for ev in rng.get("events") or []:
                for val in ev.values():
                    if pv(val): out.add(pv(val))
    return out

def neighbours(v):
    rel = list(v.release)
    base = ".".join(map(str, rel))
    c = {v, pv(base + ".post1"), pv(base + ".1"), pv(base + ".0.1"), pv(base + ".dev0"), pv(base + "rc1")}
    bump = rel[:]; bump[-1] += 1; c.add(pv(".".join(map(str, bump))))
    if bump[-1] >= 2:
        down = rel[:]; down[-1] -= 1; c.add(pv(".".join(map(str, down))))
        c.add(pv(".".join(map(str, down)) + ".99"))
    return {x for x in c if x is not None}

def unpinned(name, spec):
    """Advisory groups hitting some version allowed by spec (candidate search over boundaries)."""
    recs, by_pkg = load()
    name = pep503(name)
    ss = SpecifierSet(spec)
    spec_pts = {pv(s.version.replace(".*", "")) for s in ss if pv(s.version.replace(".*", ""))}
    hits = []
    for i in sorted(by_pkg.get(name, ())):
        pts = set()
        for b in boundary_versions(recs[i], name) | spec_pts | {Version("0"), Version("0.0.1")}:
            pts |= neighbours(b)
        if any(ss.contains(c, prereleases=True) and record_affects(recs[i], name, c) for c in pts):
            hits.append(i)
    return [frozenset(names) for _, names in group(hits, recs)]
