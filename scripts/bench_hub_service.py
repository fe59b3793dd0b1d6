#!/usr/bin/env python3
"""The service's Hub read cache: requests and bytes to scan a repository through `mlvet serve`
when its files are not cached (first tracking) and when they are (the same commit tracked by a
second project, after a restart of the service on the same store, against a fresh mock).

Usage (repository root; standard library only):

    cargo build -p mlvet-cli && cargo build -p mlvet-hub --features mock --example hub_mock
    python3 scripts/bench_hub_service.py --target-dir $CARGO_TARGET_DIR --profile debug

The repository is bench_hub.py's "whole repository" case: a 300-tensor PyTorch zip shard, a
4.8 GiB safetensors shard and a 3.9 GiB GGUF file (sparse), configs with remote code and a chat
template, a `.py` file and a README. Each phase runs against its own mock process, whose request
log gives the counts ("file requests": `resolve` calls and CDN requests; the rest is the API).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_hub  # noqa: E402  (the fixtures of the CLI benchmark)


def serve(mlvet: Path, data: Path, endpoint: str):
    env = dict(os.environ, MLVET_DATA_DIR=str(data), HF_ENDPOINT=endpoint)
    env.pop("HF_TOKEN", None)
    env.pop("MLVET_DATABASE", None)
    proc = subprocess.Popen([str(mlvet), "serve", "--listen", "127.0.0.1:0", "--no-config", "--offline"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "listening":
            return proc, "http://" + event["addr"]
    raise SystemExit("mlvet serve did not start")


def call(base: str, token: str, method: str, path: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read() or b"null")


def track_and_wait(base: str, token: str, project_name: str, repo: str) -> tuple[dict, float]:
    project = call(base, token, "POST", "/api/v1/projects", {"name": project_name})["id"]
    started = time.perf_counter()
    tracked = call(base, token, "POST", f"/api/v1/projects/{project}/hub-models", {"repo": repo})
    job = tracked["job"]["id"]
    while True:
        state = call(base, token, "GET", f"/api/v1/jobs/{job}")["job"]
        if state["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    models = call(base, token, "GET", f"/api/v1/projects/{project}/hub-models")["hub_models"]
    return {"job": state, "model": models[0]}, elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    parser.add_argument("--profile", default="release")
    args = parser.parse_args()
    target = Path(args.target_dir) / args.profile
    mlvet, mock = target / "mlvet", target / "examples" / "hub_mock"
    work = Path(tempfile.mkdtemp(prefix="bench-hub-service-"))
    repo_dir = work / "served"
    repo_dir.mkdir()
    bench_hub.torch_shard(repo_dir / "pytorch_model.bin")
    head, size = bench_hub.safetensors_head()
    (work / "st.head").write_bytes(head)
    ghead, gsize = bench_hub.gguf_head()
    (work / "gguf.head").write_bytes(ghead)
    (repo_dir / "config.json").write_text(json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"],
        "auto_map": {"AutoModel": "modeling_custom.LlamaCustom"}}))
    (repo_dir / "generation_config.json").write_text('{"max_new_tokens": 256}')
    (repo_dir / "tokenizer_config.json").write_text(json.dumps({
        "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"}))
    (repo_dir / "modeling_custom.py").write_text("import torch\nclass LlamaCustom(torch.nn.Module):\n    pass\n")
    (repo_dir / "README.md").write_text("# bench\n" * 200)
    repo = "bench/repo"
    mock_args = ["--repo", f"{repo}={repo_dir}",
                 "--sparse", f"{repo}:model-00001-of-00002.safetensors:{size}:{work / 'st.head'}",
                 "--sparse", f"{repo}:model-Q8.gguf:{gsize}:{work / 'gguf.head'}"]
    data = work / "data"
    data.mkdir()
    env = dict(os.environ, MLVET_DATA_DIR=str(data))
    token = subprocess.run([str(mlvet), "admin", "token", "create", "--team", "bench", "--role", "admin",
                            "--name", "bench"], env=env, capture_output=True, text=True, check=True).stdout.strip()
    rows = []
    for phase, project in (("miss (first tracking)", "first"), ("hit (second project, service restarted)", "second")):
        proc, info = bench_hub.start_mock(mock, mock_args)
        server, base = serve(mlvet, data, info["endpoint"])
        result, elapsed = track_and_wait(base, token, project, repo)
        server.terminate()
        server.wait(timeout=60)
        summary = bench_hub.stop_mock(proc)
        file_requests = summary["resolver_requests"] + summary["cdn_requests"]
        rows.append((phase, summary["requests"], file_requests, summary["hub_bytes"] + summary["cdn_bytes"],
                     summary["cdn_bytes"], f"{elapsed:.2f} s", result["model"]["last_verdict"],
                     result["model"]["last_commit"][:12], result["job"]["state"]))
    print("| phase | requests | file requests (resolve + CDN) | bytes read | of which CDN | track → scanned | verdict | commit | job |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {bench_hub.human(r[3])} | {bench_hub.human(r[4])} | {r[5]} | {r[6]} | {r[7]} | {r[8]} |")
    subprocess.run(["rm", "-rf", str(work)], check=False)
    same = rows[0][6:8] == rows[1][6:8]
    print(f"same commit and verdict on the cached scan: {same}")
    return 0 if same and rows[1][2] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
