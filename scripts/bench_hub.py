#!/usr/bin/env python3
"""Bytes and requests to vet Hub files by range reads (`mlvet scan hf://…`) against downloading
them, on the loopback Hub + CDN mock (crates/mlvet-hub, feature `mock`), plus a check that the
Hub scan gives the same verdicts as a local scan of the same files.

Usage (repository root; standard library only, no venv needed):

    cargo build --release -p mlvet-cli
    cargo build --release -p mlvet-hub --features mock --example hub_mock
    python3 scripts/bench_hub.py [--target-dir DIR] [--profile release|debug]

Cases (generated into a temporary folder; the multi-GB files are sparse, on disk and in the mock):
- a 300-tensor PyTorch zip checkpoint (`torch.save` layout: `archive/data.pkl` with
  `torch._utils._rebuild_tensor_v2` + persistent ids, 300 storages of 1 MiB, written with
  zipfile; pickled by the standard pickler with the same globals torch uses);
- a 4.8 GiB safetensors shard (150 BF16 tensors, real header, zero data);
- a 3.9 GiB GGUF v3 file (200 F32 tensors, llama metadata and a chat template);
- a whole repository (the three above, config.json, generation_config.json, tokenizer_config.json
  with a chat template, a custom modeling .py file, README.md).
"Download" is what fetching the same files costs: every byte, and per file the request sequence of
`hf_hub_download` over HTTP (HEAD resolve, GET resolve → redirect, GET CDN; 2 for git files).
"""

import argparse
import collections
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time
import types
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --- fixtures ---------------------------------------------------------------------------------

def torch_shard(path: Path, tensors: int = 300, storage_bytes: int = 1 << 20) -> None:
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:  # noqa: D401 - a stand-in pickled by reference as torch.FloatStorage
        pass

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = FloatStorage.__name__ = "FloatStorage"

    def _rebuild_tensor_v2(*args):
        return args

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils

    class Storage:
        def __init__(self, key, numel):
            self.key, self.numel = key, numel

    class Tensor:
        def __init__(self, key, numel):
            self.storage, self.numel = Storage(key, numel), numel

        def __reduce_ex__(self, protocol):
            return (_rebuild_tensor_v2, (self.storage, 0, (self.numel,), (1,), False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", FloatStorage, str(obj.key), "cpu", obj.numel)
            return None

    numel = storage_bytes // 4
    state = collections.OrderedDict(
        (f"model.layers.{i // 10}.block.{i % 10}.weight", Tensor(i, numel)) for i in range(tensors)
    )
    import io
    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(state)
    for key, module in saved.items():
        if module is None:
            sys.modules.pop(key, None)
        else:
            sys.modules[key] = module
    payload = bytes(storage_bytes)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buffer.getvalue())
        z.writestr("archive/byteorder", "little")
        for i in range(tensors):
            z.writestr(f"archive/data/{i}", payload)
        z.writestr("archive/version", "3\n")
        z.writestr("archive/.data/serialization_id", "1234567890123456789012345678901234567890")


def safetensors_head(tensors: int = 150) -> tuple[bytes, int]:
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for i in range(tensors):
        size = 4096 * 4096 * 2
        header[f"model.layers.{i // 7}.mlp.w{i % 7}.weight"] = {
            "dtype": "BF16", "shape": [4096, 4096], "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    head = struct.pack("<Q", len(text)) + text
    return head, len(head) + offset


def gguf_head(tensors: int = 200) -> tuple[bytes, int]:
    def string(s: str) -> bytes:
        b = s.encode()
        return struct.pack("<Q", len(b)) + b

    kv = [
        (string("general.architecture") + struct.pack("<I", 8) + string("llama")),
        (string("general.name") + struct.pack("<I", 8) + string("bench")),
        (string("general.alignment") + struct.pack("<I", 4) + struct.pack("<I", 32)),
        (string("tokenizer.chat_template") + struct.pack("<I", 8)
         + string("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}")),
    ]
    infos = b""
    offset = 0
    dims = (4096, 1280)
    size = dims[0] * dims[1] * 4
    for i in range(tensors):
        infos += string(f"blk.{i}.ffn.weight") + struct.pack("<I", 2) + struct.pack("<QQ", *dims)
        infos += struct.pack("<I", 0) + struct.pack("<Q", offset)
        offset += size
    head = b"GGUF" + struct.pack("<IQQ", 3, tensors, len(kv)) + b"".join(kv) + infos
    head += bytes(-len(head) % 32)
    return head, len(head) + offset


def sparse_file(path: Path, head: bytes, size: int) -> None:
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)


# --- running -----------------------------------------------------------------------------------

def start_mock(binary: Path, args: list[str]):
    proc = subprocess.Popen([str(binary), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def stop_mock(proc) -> dict:
    _, err = proc.communicate(input="", timeout=60)
    return json.loads(err.strip().splitlines()[-1])


def scan(mlvet: Path, target: str, env: dict) -> tuple[dict, float]:
    started = time.perf_counter()
    out = subprocess.run([str(mlvet), "scan", "--no-deps", "--format", "json", target],
                         capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    return json.loads(out.stdout), elapsed


def verdicts(report: dict, prefix: str) -> dict:
    return {a["path"][len(prefix):] if a["path"].startswith(prefix) else a["path"]:
            (a["verdict"], a["format"], a["fully_inspected"]) for a in report["artifacts"]}


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")))
    parser.add_argument("--profile", default="release")
    args = parser.parse_args()
    target = Path(args.target_dir) / args.profile
    mlvet, mock = target / "mlvet", target / "examples" / "hub_mock"
    work = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    cases = {}
    d = work / "torch"; d.mkdir(); torch_shard(d / "pytorch_model.bin")
    cases["300-tensor PyTorch zip shard"] = (d, [])
    d = work / "safetensors"; d.mkdir(); head, size = safetensors_head()
    (work / "st.head").write_bytes(head); sparse_file(d / "model-00001-of-00002.safetensors", head, size)
    cases["multi-GB safetensors shard"] = (d, [("model-00001-of-00002.safetensors", size, work / "st.head")])
    d = work / "gguf"; d.mkdir(); ghead, gsize = gguf_head()
    (work / "gguf.head").write_bytes(ghead); sparse_file(d / "model-Q8.gguf", ghead, gsize)
    cases["multi-GB GGUF file"] = (d, [("model-Q8.gguf", gsize, work / "gguf.head")])
    d = work / "repo"; d.mkdir()
    os.link(work / "torch" / "pytorch_model.bin", d / "pytorch_model.bin")
    sparse_file(d / "model-00001-of-00002.safetensors", head, size)
    sparse_file(d / "model-Q8.gguf", ghead, gsize)
    (d / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
                                               "auto_map": {"AutoModel": "modeling_custom.LlamaCustom"}}))
    (d / "generation_config.json").write_text('{"max_new_tokens": 256}')
    (d / "tokenizer_config.json").write_text(json.dumps({
        "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"}))
    (d / "modeling_custom.py").write_text("import torch\nclass LlamaCustom(torch.nn.Module):\n    pass\n")
    (d / "README.md").write_text("# bench\n" * 200)
    cases["whole repository (9 files)"] = (d, [("model-00001-of-00002.safetensors", size, work / "st.head"),
                                                ("model-Q8.gguf", gsize, work / "gguf.head")])

    rows = []
    same = True
    for name, (folder, sparse) in cases.items():
        repo_id = "bench/" + folder.name
        sparse_names = {s[0] for s in sparse}
        served = work / ("served-" + folder.name)
        served.mkdir()
        for f in folder.iterdir():
            if f.name not in sparse_names:
                os.link(f, served / f.name)
        mock_args = ["--repo", f"{repo_id}={served}"]
        for path, total, head_file in sparse:
            mock_args += ["--sparse", f"{repo_id}:{path}:{total}:{head_file}"]
        proc, info = start_mock(mock, mock_args)
        env = dict(os.environ, HF_ENDPOINT=info["endpoint"], NO_COLOR="1")
        env.pop("HF_TOKEN", None)
        remote, remote_s = scan(mlvet, f"hf://{repo_id}", env)
        summary = stop_mock(proc)
        local, local_s = scan(mlvet, str(folder), env)
        commit = info["repos"][repo_id]
        rv = verdicts(remote, f"hf://{repo_id}@{commit}/")
        lv = verdicts(local, f"{folder}/")
        if rv != lv:
            same = False
            print(f"VERDICTS DIFFER for {name}:\n  hub   {rv}\n  local {lv}", file=sys.stderr)
        files = [f for f in folder.iterdir()]
        total_bytes = sum(f.stat().st_size for f in files)
        lfs = sum(1 for f in files if f.suffix in (".bin", ".safetensors", ".gguf"))
        download_requests = 3 * lfs + 2 * (len(files) - lfs)
        read = summary["hub_bytes"] + summary["cdn_bytes"]
        rows.append((name, human(total_bytes), human(read), f"{100 * read / total_bytes:.4f} %",
                     summary["requests"], summary["resolver_requests"], download_requests,
                     f"{remote_s:.2f} s", f"{local_s:.2f} s",
                     ", ".join(sorted({v[0] for v in rv.values()})), summary["violations"]))
    print("| case | size | mlvet hf:// read | fraction | requests (of which resolve) | download requests | hf:// scan | local scan | verdicts |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} ({r[5]}) | {r[6]} | {r[7]} | {r[8]} | {r[9]} |")
        if r[10]:
            print(f"protocol violations: {r[10]}", file=sys.stderr)
    print(f"same verdicts as the local scan: {same}")
    subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
