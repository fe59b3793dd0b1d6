#!/usr/bin/env python3
"""GGUF benchmark and detection table: mlvet side by side with ModelAudit and modelscan.

Usage:  python3 scripts/bench_gguf.py --mlvet target/release/mlvet --venv /tmp/venv-h1 [--runs 5]

The venv must hold gguf (to write the input), modelaudit and modelscan. Writes, in a temporary
folder deleted afterwards:

  * sparse-8g.gguf: a llama-shaped GGUF written by gguf-py's GGUFWriter (header, metadata with a
    real chat template, 32 x 256 MiB F16 tensor infos), its 8 GiB data section a hole
    (`truncate`), so it takes no disk space;

then times every tool on it (median of --runs fresh processes, peak RSS from GNU time) and runs
every tool once on each malicious GGUF and Hugging Face fixture of tests/fixtures/gguf to build
the detection table. Prints Markdown.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "gguf"


def write_sparse(venv, path):
    code = r'''
import sys, numpy as np
from gguf import GGUFWriter, GGMLQuantizationType
path = sys.argv[1]
w = GGUFWriter(path, "llama")
w.add_name("sparse 8 GiB llama")
w.add_file_type(1)
w.add_context_length(8192)
w.add_chat_template(open(sys.argv[2]).read())
w.add_token_list([f"tok{i}" for i in range(32000)])
n = 32
shape = (16384, 8192)  # 128 Mi elements, 256 MiB of F16 each
for i in range(n):
    w.add_tensor_info(f"blk.{i}.ffn_up.weight", shape, np.dtype(np.float16), 2 * shape[0] * shape[1],
                      raw_dtype=GGMLQuantizationType.F16)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_ti_data_to_file()
w.fout[0].flush()
end = w.fout[0].tell()
w.close()
pad = (-end) % 32
total = end + pad + n * 2 * shape[0] * shape[1]
with open(path, "r+b") as f:
    f.truncate(total)
print(total)
'''
    template = FIX / "llama.cpp-templates" / "additional_chat_templates" / "meta-llama-Llama-3.1-8B-Instruct.jinja"
    out = subprocess.run([f"{venv}/bin/python", "-c", code, str(path), str(template)],
                         check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def timed(cmd):
    fd, tf = tempfile.mkstemp()
    os.close(fd)
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", tf] + cmd,
                          capture_output=True, text=True)
    wall, rss = open(tf).read().split()[-2:]
    os.unlink(tf)
    return float(wall), int(rss) / 1024, proc


def tools(mlvet, venv):
    return {
        "mlvet": lambda p: [mlvet, "scan", "--no-deps", "--format", "json", str(p)],
        "modelaudit": lambda p: [f"{venv}/bin/modelaudit", "scan", "--format", "json", "--no-cache", str(p)],
        "modelscan": lambda p: [f"{venv}/bin/modelscan", "-p", str(p), "-r", "json"],
    }


def flagged(tool, proc):
    """Whether the tool reported the file as a problem (its own exit-code convention)."""
    if tool == "mlvet":
        return proc.returncode == 1
    if tool == "modelaudit":
        return proc.returncode == 1  # 1 = issues found, 2 = scan error
    if tool == "modelscan":
        return proc.returncode == 1  # 1 = vulnerabilities found
    return False


def verdict(tool, proc):
    if proc.returncode not in (0, 1):
        return f"error ({proc.returncode})"
    if tool == "modelscan" and proc.returncode == 0 and "Total skipped: 1" in proc.stdout:
        return "skipped (format not supported)"
    return "flagged" if flagged(tool, proc) else "clean"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlvet", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--detection-only", action="store_true")
    args = ap.parse_args()
    run = tools(args.mlvet, args.venv)
    if not args.detection_only:
        timing(args, run)
    detection(run)


def timing(args, run):
    with tempfile.TemporaryDirectory() as tmp:
        sparse = Path(tmp) / "sparse-8g.gguf"
        size = write_sparse(args.venv, sparse)
        print(f"## sparse GGUF: {size} bytes\n")
        print("| tool | wall (median) | peak RSS | result |\n|---|---:|---:|---|")
        for tool in ("mlvet", "modelaudit"):
            samples = [timed(run[tool](sparse)) for _ in range(args.runs)]
            wall = statistics.median(s[0] for s in samples)
            rss = statistics.median(s[1] for s in samples)
            print(f"| {tool} | {wall:.3f} s | {rss:.0f} MiB | {verdict(tool, samples[0][2])} |", flush=True)


def detection(run):
    print("\n## detection\n")
    cases = sorted((FIX / "malicious").glob("*.gguf"))
    cases += [FIX / "hf" / d / "tokenizer_config.json" for d in ("malicious-config-string", "malicious-config-list")]
    cases += [FIX / "hf" / "malicious-jinja" / "chat_template.jinja", FIX / "hf" / "processor" / "processor_config.json"]
    cases += [FIX / "benign" / "llama3-chat.gguf", FIX / "benign" / "named-templates.gguf"]
    print("| fixture | mlvet | modelaudit | modelscan |\n|---|---|---|---|")
    for case in cases:
        row = [verdict(tool, subprocess.run(run[tool](case), capture_output=True, text=True))
               for tool in ("mlvet", "modelaudit", "modelscan")]
        print(f"| {case.relative_to(FIX)} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    sys.exit(main())
