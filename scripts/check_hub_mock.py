#!/usr/bin/env python3
"""Checks that mlvet's loopback Hub mock (crates/mlvet-hub/src/mock.rs) stays faithful: the
official `huggingface_hub` client must work against it as against the Hub.

Not run in CI (it needs the real client from PyPI). Usage, from the repository root:

    python3 -m venv /tmp/venv-hubcheck && /tmp/venv-hubcheck/bin/pip install huggingface_hub
    /tmp/venv-hubcheck/bin/python scripts/check_hub_mock.py

It builds and starts `cargo run -p mlvet-hub --features mock --example hub_mock`, serving a repo
made of real fixtures (a git-stored config, LFS-stored safetensors/pickle files) and a gated repo,
then runs `model_info`, `hf_hub_download` (git and LFS files, over the HTTP bridge as with
`HF_HUB_DISABLE_XET=1`), `parse_safetensors_file_metadata`, `list_repo_tree`, `get_paths_info`,
`list_repo_refs`, and the client's error classes for gated, missing repo, revision and file.
Exits non-zero on the first mismatch.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_mock(repo_dir: Path):
    env = dict(os.environ)
    env.setdefault("CARGO_BUILD_JOBS", "1")
    cmd = [
        "cargo", "run", "-q", "-p", "mlvet-hub", "--features", "mock", "--example", "hub_mock", "--",
        "--repo", f"mlvet/fixtures={repo_dir}",
        "--repo", f"mlvet/gated={repo_dir}",
        "--gated", "mlvet/gated",
        "--token", "hf_granted:mlvet/gated",
        "--page-size", "2",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if not line:
        sys.exit("the mock did not start")
    return proc, json.loads(line)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="hubcheck-"))
    repo = work / "repo"
    (repo / "sub").mkdir(parents=True)
    shutil.copy(ROOT / "tests/fixtures/formats_folders/safetensors/benign.safetensors", repo / "model.safetensors")
    shutil.copy(ROOT / "tests/fixtures/models/safe/torch_state_dict.pt", repo / "sub/pytorch_model.bin")
    (repo / "config.json").write_text('{"model_type": "bert"}\n')
    proc, info = start_mock(repo)
    endpoint = info["endpoint"]
    os.environ["HF_ENDPOINT"] = endpoint
    os.environ["HF_HUB_DISABLE_XET"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HOME"] = str(work / "hf-home")
    os.environ.pop("HF_TOKEN", None)

    import huggingface_hub  # noqa: E402  (after HF_ENDPOINT is set)
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub import errors as hf_errors

    api = HfApi(endpoint=endpoint)
    failures = []

    def check(name, condition, detail=""):
        print(("ok   " if condition else "FAIL ") + name + (f": {detail}" if detail and not condition else ""))
        if not condition:
            failures.append(name)

    commit = info["repos"]["mlvet/fixtures"]
    model = api.model_info("mlvet/fixtures", files_metadata=True, securityStatus=True)
    check("model_info sha", model.sha == commit, model.sha)
    sizes = {s.rfilename: s.size for s in model.siblings}
    check("model_info sizes", sizes.get("model.safetensors") == (repo / "model.safetensors").stat().st_size, sizes)
    lfs = {s.rfilename: s.lfs for s in model.siblings}
    expected_sha = hashlib.sha256((repo / "model.safetensors").read_bytes()).hexdigest()
    check("model_info lfs sha256", lfs.get("model.safetensors") and lfs["model.safetensors"].sha256 == expected_sha)
    check("model_info security status", model.security_repo_status is not None, model.security_repo_status)
    pinned = api.model_info("mlvet/fixtures", revision=commit[:7])
    check("model_info short revision", pinned.sha == commit)

    for name in ["config.json", "model.safetensors", "sub/pytorch_model.bin"]:
        path = hf_hub_download("mlvet/fixtures", name, revision=commit, cache_dir=work / "cache")
        check(f"hf_hub_download {name}", Path(path).read_bytes() == (repo / name).read_bytes())
    path = hf_hub_download("mlvet/fixtures", "config.json", cache_dir=work / "cache2")
    check("hf_hub_download at main lands in snapshots/<commit>", commit in path, path)

    meta = api.parse_safetensors_file_metadata("mlvet/fixtures", "model.safetensors", revision=commit)
    check("parse_safetensors_file_metadata", len(meta.tensors) > 0, meta)

    tree = list(api.list_repo_tree("mlvet/fixtures", recursive=True, revision=commit))
    paths = sorted(getattr(e, "path", "") for e in tree)
    check("list_repo_tree (paginated)", "sub/pytorch_model.bin" in paths and "sub" in paths, paths)
    infos = api.get_paths_info("mlvet/fixtures", ["config.json", "missing.bin"], revision=commit)
    check("get_paths_info omits missing paths", [i.path for i in infos] == ["config.json"], infos)
    refs = api.list_repo_refs("mlvet/fixtures")
    check("list_repo_refs", [b.name for b in refs.branches] == ["main"], refs)

    def raises(name, error, fn):
        try:
            fn()
        except error:
            check(name, True)
        except Exception as other:  # noqa: BLE001
            check(name, False, repr(other))
        else:
            check(name, False, "no error")

    raises("gated anonymous → GatedRepoError", hf_errors.GatedRepoError,
           lambda: hf_hub_download("mlvet/gated", "config.json", cache_dir=work / "c3"))
    path = hf_hub_download("mlvet/gated", "model.safetensors", cache_dir=work / "c4", token="hf_granted")
    check("gated with a granted token", Path(path).read_bytes() == (repo / "model.safetensors").read_bytes())
    raises("missing repo → RepositoryNotFoundError", hf_errors.RepositoryNotFoundError,
           lambda: api.model_info("mlvet/absent"))
    raises("missing revision → RevisionNotFoundError", hf_errors.RevisionNotFoundError,
           lambda: hf_hub_download("mlvet/fixtures", "config.json", revision="nope", cache_dir=work / "c5"))
    raises("missing file → EntryNotFoundError", hf_errors.EntryNotFoundError,
           lambda: hf_hub_download("mlvet/fixtures", "absent.json", revision=commit, cache_dir=work / "c6"))

    proc.communicate(input="", timeout=30)
    shutil.rmtree(work, ignore_errors=True)
    print(f"huggingface_hub {huggingface_hub.__version__}: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
