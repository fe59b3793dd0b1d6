#!/usr/bin/env python3
"""Writes the small examples bundled in examples/ (the README's first command scans them).

Uses only the standard library. The malicious example's payload is a harmless `echo`, and nothing
here is ever loaded. Run from the repository root: python3 scripts/gen_examples.py
"""
import io
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "examples"


class Payload:
    """What an attacker ships: unpickling calls os.system('echo ...')."""

    def __reduce__(self):
        return (os.system, ("echo 'this command ran when the model was loaded'",))


def torch_like_checkpoint(path: Path) -> None:
    """A zip laid out like torch.save's (archive/data.pkl, archive/version...) with a payload
    hidden inside an ordinary-looking state dict."""
    state = OrderedDict([("layer.weight", [0.5, -0.25]), ("layer.bias", [0.0]), ("_meta", Payload())])
    buf = io.BytesIO()
    pickle.dump(state, buf, protocol=2)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")


def main() -> None:
    models = ROOT / "models"
    models.mkdir(parents=True, exist_ok=True)
    torch_like_checkpoint(models / "sentiment-classifier.pt")
    benign = {"vocabulary": ["good", "bad"], "weights": [0.7, -0.7], "bias": 0.1}
    (models / "tokenizer-state.pkl").write_bytes(pickle.dumps(benign, protocol=4))
    (ROOT / "requirements.txt").write_text(
        "# an ML project's dependencies\n"
        "torch==2.5.1\n"
        "transformers==4.36.0\n"
        "numpy>=1.26\n"
        "scikit-learn==1.5.2 ; python_version >= \"3.9\"\n"
    )


if __name__ == "__main__":
    main()
