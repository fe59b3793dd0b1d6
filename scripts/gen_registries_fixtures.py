#!/usr/bin/env python3
"""Generates tests/fixtures/registries/ with the real tools (DVC, uv, Poetry, Pipenv).

Run in a throwaway venv:

    python3 -m venv /tmp/venv-reg && /tmp/venv-reg/bin/pip install dvc uv poetry pipenv
    PATH=/tmp/venv-reg/bin:$PATH /tmp/venv-reg/bin/python scripts/gen_registries_fixtures.py

Every registry host the tools write into lockfiles is rewritten to `*.invalid` (index URLs are
configuration, never part of the repository). Git LFS fixtures need a `.git` directory, which
git cannot commit: the CLI tests build those at test time.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "registries"
INTERNAL = "https://pkgs.acme.invalid/simple"
HOST = re.compile(r"(https?://)([A-Za-z0-9.-]+)")


def run(cmd, cwd, env=None):
    print("+", " ".join(cmd), f"(in {cwd})", file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, check=True, env={**os.environ, **(env or {})})


def invalid_hosts(text):
    """Rewrites every URL host that is not already `*.invalid` to `public-index.invalid`."""

    def repl(match):
        host = match.group(2)
        if host.endswith(".invalid"):
            return match.group(0)
        return match.group(1) + "public-index.invalid"

    return HOST.sub(repl, text)


def fresh(name):
    path = OUT / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def dvc_projects():
    clean = fresh("dvc-clean")
    run(["dvc", "init", "--no-scm", "-q"], clean)
    (clean / "raw.txt").write_text("hello\n")
    images = clean / "images"
    (images / "sub").mkdir(parents=True)
    (images / "cat.txt").write_text("meow\n")
    (images / "sub" / "dog.txt").write_text("woof\n")
    (clean / "labels.csv").write_bytes(b"id,label\r\n1,cat\r\n")
    for target in ["raw.txt", "images", "labels.csv"]:
        run(["dvc", "add", "-q", target], clean)
    run(["dvc", "remote", "add", "-d", "storage", "s3://acme-datasets.invalid/dvc"], clean)
    shutil.rmtree(clean / ".dvc" / "tmp", ignore_errors=True)

    tampered = OUT / "dvc-tampered"
    if tampered.exists():
        shutil.rmtree(tampered)
    shutil.copytree(clean, tampered)
    # Data changed outside DVC: one file, one file inside a tracked directory, one new file.
    (tampered / "raw.txt").write_text("hello, poisoned\n")
    (tampered / "images" / "cat.txt").write_text("meow meow\n")
    (tampered / "images" / "extra.txt").write_text("new\n")
    # A cache object whose content no longer matches its address.
    objects = sorted((tampered / ".dvc" / "cache" / "files" / "md5").rglob("*"))
    victim = next(p for p in objects if p.is_file() and not p.name.endswith(".dir"))
    victim.write_bytes(b"tampered cache object\n")

    # DVC 2.x entries (no `hash: md5`) are unverifiable; DVC 3 cannot write them, so this one is
    # written in the 2.x format by hand (the format DVC 2 wrote: md5, size, path).
    legacy = fresh("dvc-legacy")
    (legacy / "notes.txt").write_text("line\r\n")
    (legacy / "notes.txt.dvc").write_text(
        "outs:\n- md5: 5a6bfcb1b1a2e1a4e0f2f9c6f2f0f1a1\n  size: 6\n  path: notes.txt\n"
    )

    # Imports: from a Git repository with and without a locked revision.
    imports = fresh("dvc-imports")
    (imports / "unlocked.dvc").write_text(
        "md5: 1b4a9c5c3e0e5f6f7a8b9c0d1e2f3a4b\nfrozen: true\ndeps:\n- path: data/train\n"
        "  repo:\n    url: https://git.acme.invalid/datasets.git\n    rev: main\n"
        "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661.dir\n  size: 10\n  nfiles: 1\n"
        "  hash: md5\n  path: train\n"
    )
    (imports / "locked.dvc").write_text(
        "md5: 2b4a9c5c3e0e5f6f7a8b9c0d1e2f3a4b\nfrozen: true\ndeps:\n- path: data/test\n"
        "  repo:\n    url: https://git.acme.invalid/datasets.git\n    rev: v1.0\n"
        "    rev_lock: 4f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e\n"
        "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772662.dir\n  size: 10\n  nfiles: 1\n"
        "  hash: md5\n  path: test\n"
    )


def uv_projects():
    base = fresh("uv-mismatch")
    (base / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
        'dependencies = ["six==1.16.0"]\n'
    )
    run(["uv", "lock", "-q"], base)
    lock = (base / "uv.lock").read_text()
    (base / "uv.lock").write_text(invalid_hosts(lock))
    # The project binds `six` to the internal index; the lock resolved it from the public one.
    (base / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n'
        'dependencies = ["six==1.16.0"]\n\n'
        f'[[tool.uv.index]]\nname = "internal"\nurl = "{INTERNAL}"\nexplicit = true\n\n'
        '[tool.uv.sources]\nsix = { index = "internal" }\n'
    )
    good = OUT / "uv-bound"
    if good.exists():
        shutil.rmtree(good)
    shutil.copytree(base, good)
    # Same binding, and the lock records the internal index: consistent.
    (good / "uv.lock").write_text(
        (good / "uv.lock").read_text().replace("https://public-index.invalid/simple", INTERNAL)
    )


def poetry_projects():
    base = fresh("poetry-mismatch")
    pyproject = (
        '[tool.poetry]\nname = "app"\nversion = "0.1.0"\ndescription = ""\nauthors = []\n'
        'package-mode = false\n\n[tool.poetry.dependencies]\npython = "^3.9"\nsix = "1.16.0"\n'
    )
    (base / "pyproject.toml").write_text(pyproject)
    run(["poetry", "lock", "-q"], base, env={"POETRY_VIRTUALENVS_CREATE": "false"})
    (base / "poetry.lock").write_text(invalid_hosts((base / "poetry.lock").read_text()))
    (base / "pyproject.toml").write_text(
        pyproject.replace('six = "1.16.0"', 'six = { version = "1.16.0", source = "internal" }')
        + f'\n[[tool.poetry.source]]\nname = "internal"\nurl = "{INTERNAL}"\npriority = "explicit"\n'
    )


def pipenv_projects():
    base = fresh("pipenv-mismatch")
    (base / "Pipfile").write_text(
        '[[source]]\nname = "pypi"\nurl = "https://public-index.invalid/simple"\nverify_ssl = true\n\n'
        '[packages]\nsix = "==1.16.0"\n'
    )
    lock = {
        "_meta": {
            "hash": {"sha256": "0" * 64},
            "pipfile-spec": 6,
            "requires": {},
            "sources": [
                {"name": "pypi", "url": "https://public-index.invalid/simple", "verify_ssl": True}
            ],
        },
        "default": {
            "six": {
                "hashes": ["sha256:" + "1" * 64],
                "index": "pypi",
                "version": "==1.16.0",
            }
        },
        "develop": {},
    }
    (base / "Pipfile.lock").write_text(json.dumps(lock, indent=4, sort_keys=True) + "\n")
    # The Pipfile binds six to the internal index afterwards.
    (base / "Pipfile").write_text(
        '[[source]]\nname = "pypi"\nurl = "https://public-index.invalid/simple"\nverify_ssl = true\n\n'
        f'[[source]]\nname = "internal"\nurl = "{INTERNAL}"\nverify_ssl = true\n\n'
        '[packages]\nsix = { version = "==1.16.0", index = "internal" }\n'
    )


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    dvc_projects()
    uv_projects()
    poetry_projects()
    pipenv_projects()


if __name__ == "__main__":
    main()
