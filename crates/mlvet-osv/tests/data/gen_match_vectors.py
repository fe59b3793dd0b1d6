#!/usr/bin/env python3
"""Expected advisory matches for real pins and ranges against the PyPA advisory snapshot.

An independent reference for `tests/pinned_matching.rs`: the OSV schema's evaluation written
directly on Python's `packaging` (not mlvet's code), records linked by id/aliases merged, the
fix guidance = lowest `fixed` above the pinned version that no merged record still affects.
Unpinned requirements: an advisory counts when some version the specifier allows is affected,
searched over every version the record or the specifier names and their neighbours.

    python3 -m venv /tmp/v && /tmp/v/bin/pip install packaging pyyaml
    /tmp/v/bin/python crates/mlvet-osv/tests/data/gen_match_vectors.py

Reads `real_requirements.txt` (pins chosen to straddle the records' ranges: each package's
median fix, last listed affected version, a random listed version, spelling and version-form
variants, and a hand list of ML stack pins) and writes `real_match_vectors.json`.
"""
import json, os, re, sys
from packaging.requirements import Requirement
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import osv_reference as ref

def main():
    pinned, unpinned = [], []
    with open(os.path.join(HERE, "real_requirements.txt"), encoding="utf-8") as f:
        lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    for line in lines:
        req = Requirement(line)
        specs = list(req.specifier)
        if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
            groups = ref.pinned(req.name, specs[0].version)
            pinned.append({"requirement": line, "advisories": sorted(
                ({"ids": sorted(names), "fixed": str(fix) if fix else None} for names, fix in groups),
                key=lambda g: g["ids"])})
        else:
            groups = ref.unpinned(req.name, str(req.specifier))
            unpinned.append({"requirement": line, "advisories": sorted(sorted(g) for g in groups)})
    out = {"generator": "gen_match_vectors.py", "pinned": pinned, "unpinned": unpinned}
    with open(os.path.join(HERE, "real_match_vectors.json"), "w", encoding="utf-8") as f:
        # One entry a line: small diffs when the snapshot or the pins change.
        f.write('{"generator": "gen_match_vectors.py",\n')
        for key, rows in (("pinned", pinned), ("unpinned", unpinned)):
            f.write(f'"{key}": [\n')
            f.write(",\n".join(json.dumps(r, sort_keys=True, separators=(",", ":")) for r in rows))
            f.write("\n]" + (",\n" if key == "pinned" else "}\n"))
    print(len(pinned), "pinned,", len(unpinned), "unpinned")

if __name__ == "__main__":
    main()
