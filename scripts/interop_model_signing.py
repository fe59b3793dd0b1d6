#!/usr/bin/env python3
"""Interoperability of `mlvet sign` / `mlvet verify` with the reference OpenSSF model-signing tool.

Not run in CI (it needs the reference tool from PyPI). Usage:

  python3 -m venv /tmp/venv-ms && /tmp/venv-ms/bin/pip install model-signing pyopenssl
  cargo build -p mlvet-cli
  python3 scripts/interop_model_signing.py --mlvet target/debug/mlvet \
      --model-signing /tmp/venv-ms/bin/model_signing

(`pyopenssl` because model-signing 1.1.1 imports it without declaring it.)

Checks, each printed as PASS/FAIL (exit status 1 if any fails):
  1. every fixture in ../shared/corpus/model-signing verifies with the reference tool and with
     mlvet, with the same verdict (key and certificate methods; keyless fixtures are listed as
     checked with mlvet only, offline, when it was built with `--features sigstore`);
  2. a folder signed by `mlvet sign` with the fixture test key (P-384) and with a fresh P-256 and
     P-521 key verifies with `model_signing verify key`; a tampered copy fails with both tools;
  3. a folder signed by `model_signing sign key` verifies with `mlvet verify`.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "corpus" / "model-signing"
KEYS = FIXTURES / "keys" / "certificate"

failures = 0


def check(name: str, ok: bool, detail: str = "") -> None:
    global failures
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail and not ok else ""))
    if not ok:
        failures += 1


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600)


def reference_verify(ms: str, model: pathlib.Path, sig: pathlib.Path, trust: list, extra: list) -> bool:
    method = "key" if trust[0] == "--key" else "certificate"
    flag = "--public_key" if method == "key" else "--certificate_chain"
    cmd = [ms, "verify", method, model, "--signature", sig, flag, trust[1]]
    for path in extra:
        cmd += ["--ignore-paths", path]
    return run(cmd).returncode == 0


def mlvet_verify(mlvet: str, model: pathlib.Path, sig: pathlib.Path, trust: list, extra: list) -> bool:
    cmd = [mlvet, "verify", model, "--signature", sig, *trust]
    for path in extra:
        cmd += ["--ignore-paths", path]
    return run(cmd).returncode == 0


def fixtures(mlvet: str, ms: str) -> None:
    for folder in sorted(p for p in FIXTURES.iterdir() if p.name.startswith("v")):
        if folder.name.endswith("-sigstore"):
            # Keyless: mlvet built with `--features sigstore`; the reference refreshes its trust
            # root over the network (TUF), so only mlvet's offline verdict is checked here.
            out = run([mlvet, "verify", folder, "--signature", folder / "model.sig",
                       "--identity", "stefanb@us.ibm.com",
                       "--issuer", "https://sigstore.verify.ibm.com/oauth2",
                       *(["--ignore-paths", folder / "ignore-me"] if (folder / "ignore-me").exists() else [])])
            if out.returncode == 2 and "--features sigstore" in out.stderr:
                print(f"SKIP  {folder.name}: keyless (this mlvet was built without --features sigstore)")
            else:
                check(f"fixture {folder.name}: mlvet keyless offline", out.returncode == 0, out.stdout + out.stderr)
            continue
        single = folder.name in ("v0.3.1-elliptic-key", "v1.0.0-elliptic-key")
        model = folder / "signme-1" if single else folder
        trust = (["--key", KEYS / "signing-key-pub.pem"] if folder.name.endswith("elliptic-key")
                 else ["--cert-chain", KEYS / "ca-cert.pem"])
        extra = [folder / "ignore-me"] if (folder / "ignore-me").exists() else []
        ref = reference_verify(ms, model, folder / "model.sig", trust, extra)
        ours = mlvet_verify(mlvet, model, folder / "model.sig", trust, extra)
        check(f"fixture {folder.name}: reference={ref} mlvet={ours}", ref and ours)


def make_model(root: pathlib.Path) -> pathlib.Path:
    model = root / "tiny-model"
    (model / "a").mkdir(parents=True)
    (model / "sub").mkdir()
    (model / "a" / "b").write_bytes(b"nested")
    (model / "a.txt").write_bytes(b"text")
    (model / "config.json").write_text('{"model_type": "bert"}')
    (model / "model.safetensors").write_bytes(bytes(range(256)) * 4096)
    (model / "sub" / "tokenizer.json").write_text("{}")
    (model / "empty").write_bytes(b"")
    return model


def mlvet_signs(mlvet: str, ms: str, work: pathlib.Path) -> None:
    keys = [("fixture P-384", KEYS / "signing-key.pem")]
    for curve, name in (("prime256v1", "P-256"), ("secp521r1", "P-521")):
        key = work / f"{curve}.pem"
        subprocess.run(["openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", key], check=True)
        keys.append((name, key))
    for label, key in keys:
        pub = work / f"{key.stem}.pub.pem"
        subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
        base = work / f"signed-{label.replace(' ', '-')}"
        model = make_model(base)
        sig = base / "model.sig"
        out = run([mlvet, "sign", model, "--key", key, "--signature", sig])
        check(f"mlvet sign ({label})", out.returncode == 0, out.stderr)
        out = run([ms, "verify", "key", model, "--signature", sig, "--public_key", pub])
        check(f"reference verifies mlvet's signature ({label})", out.returncode == 0, out.stdout + out.stderr)
        (model / "a" / "b").write_bytes(b"tampered")
        out = run([ms, "verify", "key", model, "--signature", sig, "--public_key", pub])
        check(f"reference rejects the tampered copy ({label})", out.returncode != 0)
        out = run([mlvet, "verify", model, "--signature", sig, "--key", pub])
        check(f"mlvet rejects the tampered copy, naming a/b ({label})",
              out.returncode == 5 and "a/b" in out.stdout, out.stdout)


def reference_signs(mlvet: str, ms: str, work: pathlib.Path) -> None:
    base = work / "reference"
    model = make_model(base)
    sig = base / "reference.sig"
    out = run([ms, "sign", "key", model, "--private_key", KEYS / "signing-key.pem", "--signature", sig])
    check("reference sign key", out.returncode == 0, out.stdout + out.stderr)
    out = run([mlvet, "verify", model, "--signature", sig, "--key", KEYS / "signing-key-pub.pem"])
    check("mlvet verifies the reference's signature", out.returncode == 0, out.stdout + out.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlvet", default=str(ROOT / "target" / "debug" / "mlvet"))
    parser.add_argument("--model-signing", default=shutil.which("model_signing") or "model_signing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        fixtures(args.mlvet, args.model_signing)
        mlvet_signs(args.mlvet, args.model_signing, work)
        reference_signs(args.mlvet, args.model_signing, work)
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
