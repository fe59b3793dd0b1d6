#!/usr/bin/env python3
"""Generate the configuration / ignore / VEX fixtures of tests/fixtures/config/.

Usage:  /tmp/venv-h7/bin/python scripts/gen_config_fixtures.py [--check]

Made with (exact versions): Python 3.11.7, scikit-learn 1.5.2, joblib 1.4.2, numpy 2.1.3:
    python3 -m venv /tmp/venv-h7
    /tmp/venv-h7/bin/pip install --no-cache-dir scikit-learn==1.5.2 joblib==1.4.2 numpy==2.1.3

What it writes:
- ranker.joblib: a fitted scikit-learn pipeline whose last step is a project-specific estimator
  class `mycompany.models.Ranker` (a BaseEstimator subclass), saved with joblib.dump the way a team
  ships its own model. mlvet reports the unknown class `suspicious` until the configuration's
  policy allows it (and `malicious` when the policy denies it).
- requirements.txt: pins torch 1.13.0, affected by PYSEC-2022-43015 (alias CVE-2022-45907) in the
  PyPA advisory snapshot under ../shared/advisories.
- *.openvex.json: OpenVEX 0.2.0 documents about that vulnerability (written as JSON by this
  script, following the specification's schema; statuses not_affected and affected).

Nothing is ever unpickled or loaded. Output is deterministic (--check compares with the files).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import types
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "config"


def ranker_joblib() -> bytes:
    import joblib
    import numpy as np
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    # The project's own module, as it would be importable in the team's code base.
    module = types.ModuleType("mycompany.models")
    sys.modules.setdefault("mycompany", types.ModuleType("mycompany"))
    sys.modules["mycompany.models"] = module

    class Ranker(BaseEstimator):
        def __init__(self, temperature=1.0):
            self.temperature = temperature

        def fit(self, X, y=None):
            self.weights_ = np.linspace(0.0, 1.0, X.shape[1])
            return self

    Ranker.__module__ = "mycompany.models"
    Ranker.__qualname__ = "Ranker"
    module.Ranker = Ranker

    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    pipeline = Pipeline([("scale", StandardScaler()), ("rank", Ranker(temperature=0.5))]).fit(X)
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return buffer.getvalue()


def vex(statements: list[dict]) -> bytes:
    document = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://mlvet.invalid/vex/config-fixtures",
        "author": "mlvet fixtures <security@mlvet.invalid>",
        "timestamp": "2025-01-15T10:00:00Z",
        "version": 1,
        "statements": statements,
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def files() -> dict[str, bytes]:
    not_affected = {
        "vulnerability": {"name": "CVE-2022-45907", "aliases": ["PYSEC-2022-43015"]},
        "products": [
            {
                "@id": "pkg:github/mycompany/ranker-service@v3.2.0",
                "subcomponents": [{"@id": "pkg:pypi/torch@1.13.0"}],
            }
        ],
        "status": "not_affected",
        # The schema allows a justification or an impact statement, not both.
        "justification": "vulnerable_code_not_in_execute_path",
    }
    return {
        "ranker.joblib": ranker_joblib(),
        "requirements.txt": b"# the ranker service's pinned dependencies\ntorch==1.13.0\n",
        "not-affected.openvex.json": vex([not_affected]),
        "affected.openvex.json": vex(
            [
                {
                    "vulnerability": {"name": "CVE-2022-45907"},
                    "products": [{"@id": "pkg:pypi/torch"}],
                    "status": "affected",
                    "action_statement": "Upgrade torch to 1.13.1 or later.",
                }
            ]
        ),
        # The same product and vulnerability: not_affected first, then affected later. The later
        # statement wins, so the finding is not suppressed.
        "superseded.openvex.json": vex(
            [
                dict(not_affected, timestamp="2025-01-15T10:00:00Z"),
                {
                    "vulnerability": {"name": "PYSEC-2022-43015"},
                    "products": [{"@id": "pkg:pypi/torch@1.13.0"}],
                    "status": "affected",
                    "action_statement": "A new code path reaches parse_type_line: upgrade.",
                    "timestamp": "2025-03-01T09:30:00+01:00",
                },
            ]
        ),
        "invalid.openvex.json": vex(
            [{"vulnerability": {"name": "CVE-2022-45907"}, "products": [{"@id": "pkg:pypi/torch"}], "status": "not_affected"}]
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    generated = files()
    if args.check:
        stale = [name for name, data in generated.items() if (OUT / name).read_bytes() != data]
        if stale:
            print("stale fixtures:", ", ".join(stale))
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in generated.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(generated)} files to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
