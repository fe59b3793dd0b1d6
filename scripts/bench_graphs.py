#!/usr/bin/env python3
"""Benchmark mlvet on ONNX graphs with huge payloads, side by side with ModelAudit and modelscan,
and tabulate who flags which graph fixture (tests/fixtures/graphs, labels.tsv).

Usage:
  python3 -m venv /tmp/venv-h2 && /tmp/venv-h2/bin/pip install --no-cache-dir onnx
  python3 -m venv /tmp/venv-h2-peers && /tmp/venv-h2-peers/bin/pip install --no-cache-dir \
      modelscan modelaudit tensorflow-cpu onnx
  cargo build --release -p mlvet-cli
  /tmp/venv-h2/bin/python scripts/bench_graphs.py --mlvet $CARGO_TARGET_DIR/release/mlvet \
      --peers /tmp/venv-h2-peers/bin [--runs 3] [--work /tmp/mlvet-graph-bench]

Generates (and deletes afterwards) in --work:
  large_graph/model.onnx   a 100,000-node graph with 64 initializers whose data is external:
                           model.onnx.data, a 4 GiB sparse file (64 x 64 MiB tensors)
  inline_1g.onnx           a model whose one initializer holds 1 GiB of inline raw_data
                           (a sparse hole: reading it would cost 1 GiB of I/O and memory)
Needs GNU time (/usr/bin/time) for peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys

import onnx
from onnx import TensorProto, helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def large_graph(folder: str, nodes: int = 100_000, tensors: int = 64, tensor_mib: int = 64) -> None:
    os.makedirs(folder, exist_ok=True)
    graph_nodes = []
    prev = "x"
    for i in range(nodes):
        op = "Relu" if i % 2 else "Neg"
        graph_nodes.append(helper.make_node(op, [prev], [f"t{i}"], name=f"n{i}"))
        prev = f"t{i}"
    inits = []
    length = tensor_mib << 20
    for i in range(tensors):
        t = TensorProto()
        t.name = f"w{i}"
        t.data_type = TensorProto.FLOAT
        t.dims.extend([length // 4])
        t.raw_data = b""  # set_external_data requires the field; cleared right after
        onnx.external_data_helper.set_external_data(t, location="model.onnx.data", offset=i * length, length=length)
        t.ClearField("raw_data")
        inits.append(t)
    graph = helper.make_graph(
        graph_nodes,
        "large",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    with open(os.path.join(folder, "model.onnx.data"), "wb") as f:
        f.truncate(tensors * length)


def inline_1g(path: str, size: int = 1 << 30) -> None:
    node = helper.make_node("Identity", ["w"], ["y"], name="identity")
    graph = helper.make_graph(
        [node],
        "inline",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [size // 4])],
    )
    graph_head = graph.SerializeToString()
    tensor_head = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[size // 4]).SerializeToString()
    tensor_head += b"\x4a" + varint(size)  # raw_data (field 9), payload follows
    tensor_len = len(tensor_head) + size
    graph_body = graph_head + b"\x2a" + varint(tensor_len) + tensor_head  # initializer (field 5)
    graph_len = len(graph_body) + size
    model = helper.make_model(helper.make_graph([], "g", [], []), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    model.ClearField("graph")
    head = model.SerializeToString() + b"\x3a" + varint(graph_len) + graph_body  # graph (field 7)
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + size)


def timed(cmd: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS KiB, exit code) of one run under GNU time."""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"},
    )
    last = out.stderr.strip().splitlines()[-1].split()
    return float(last[0]), int(last[1]), out.returncode


def tools(args) -> dict[str, list[str]]:
    return {
        "mlvet": [args.mlvet, "scan", "--format", "json", "--no-deps"],
        "modelaudit": [os.path.join(args.peers, "modelaudit"), "scan", "--format", "json", "--no-cache"],
        "modelscan": [os.path.join(args.peers, "modelscan"), "-p"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlvet", required=True)
    parser.add_argument("--peers", required=True, help="bin/ folder of a venv with modelaudit and modelscan")
    parser.add_argument("--runs", type=int, default=3, help="runs of mlvet per input")
    parser.add_argument("--peer-runs", type=int, default=1, help="runs of each peer per input")
    parser.add_argument("--work", default="/tmp/mlvet-graph-bench")
    parser.add_argument("--only", choices=["speed", "detection"], help="run one of the two parts")
    args = parser.parse_args()
    if args.only != "detection":
        speed(args)
    if args.only != "speed":
        detection(args)


def speed(args) -> None:
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    large_graph(os.path.join(args.work, "large_graph"))
    inline_1g(os.path.join(args.work, "inline_1g.onnx"))
    inputs = {
        "large_graph/model.onnx (100k nodes, 4 GiB external)": os.path.join(args.work, "large_graph", "model.onnx"),
        "inline_1g.onnx (1 GiB inline initializer)": os.path.join(args.work, "inline_1g.onnx"),
    }
    print("| input | tool | wall (median) | peak RSS | exit |")
    print("|---|---|---:|---:|---:|")
    for label, path in inputs.items():
        for tool, cmd in tools(args).items():
            count = args.runs if tool == "mlvet" else args.peer_runs
            runs = [timed([*cmd, path]) for _ in range(count)]
            wall = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs) / 1024
            print(f"| {label} | {tool} | {wall:.3f} s | {rss:.0f} MiB | {runs[-1][2]} |", flush=True)
    shutil.rmtree(args.work, ignore_errors=True)


def detection(args) -> None:
    # Detection table on the committed fixtures: exit code 1 = flagged, 0 = clean, else error.
    fixtures = os.path.join(ROOT, "tests", "fixtures", "graphs")
    print()
    print("| fixture | expected | mlvet | modelaudit | modelscan |")
    print("|---|---|---|---|---|")
    meaning = {0: "clean", 1: "flagged"}
    with open(os.path.join(fixtures, "labels.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            path, verdict, _ = line.rstrip("\n").split("\t")
            if verdict in ("none",) or path.endswith(".data"):
                continue
            cells = []
            for tool, cmd in tools(args).items():
                if tool == "mlvet":
                    cmd = [*cmd, "--fail-on", "medium"]
                code = subprocess.run(
                    [*cmd, os.path.join(fixtures, path)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PROMPTFOO_DISABLE_TELEMETRY": "1"},
                ).returncode
                cells.append(meaning.get(code, f"error ({code})"))
            print(f"| {path} | {verdict} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
