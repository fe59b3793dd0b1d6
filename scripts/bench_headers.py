#!/usr/bin/env python3
"""Time mlvet on the headers of multi-GB safetensors and GGUF files (issue 6 §9).

Usage: python3 scripts/bench_headers.py --mlvet target/release/mlvet [--runs 3] [--work DIR]

Writes two sparse files (no tensor data on disk, the bodies are holes): `big.safetensors`, one
F32 tensor of 2,684,354,560 elements (10 GiB body), and `big.gguf`, GGUF v3 with
`general.architecture = llama` and one F32 tensor of 2,147,483,648 elements (8 GiB body). Runs
`mlvet scan --no-deps --format json --fail-on never FILE` under GNU time and prints wall time,
peak RSS, the verdict and the facts mlvet read. Standard library only; deletes its files.
"""

import argparse
import json
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path


def write_safetensors(path: Path, elements: int) -> None:
    header = json.dumps({"weight": {"dtype": "F32", "shape": [elements], "data_offsets": [0, elements * 4]}}).encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + elements * 4)


def gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, elements: int) -> None:
    out = b"GGUF" + struct.pack("<IQQ", 3, 1, 1)
    out += gguf_string("general.architecture") + struct.pack("<I", 8) + gguf_string("llama")
    out += gguf_string("token_embd.weight") + struct.pack("<I", 1) + struct.pack("<Q", elements)
    out += struct.pack("<I", 0) + struct.pack("<Q", 0)
    out += b"\0" * ((32 - len(out) % 32) % 32)
    with open(path, "wb") as f:
        f.write(out)
        f.truncate(len(out) + elements * 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mlvet", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="mlvet-headers-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        files = {"big.safetensors": (write_safetensors, 2_684_354_560), "big.gguf": (write_gguf, 2_147_483_648)}
        print("| input | size | wall time (s) | peak RSS (KiB) | verdict | facts |\n|---|---:|---|---|---|---|")
        for name, (write, elements) in files.items():
            path = work / name
            write(path, elements)
            times, rss = [], []
            for _ in range(args.runs):
                stats = work / "time.stats"
                done = subprocess.run(
                    ["/usr/bin/time", "-f", "%e %M", "-o", str(stats), args.mlvet, "scan", "--no-deps",
                     "--format", "json", "--fail-on", "never", str(path)],
                    capture_output=True, check=False)
                wall, peak = stats.read_text().split()[-2:]
                times.append(wall)
                rss.append(peak)
            artifact = json.loads(done.stdout)["artifacts"][0]
            print(f"| `{name}` | {path.stat().st_size:,} | {', '.join(times)} | {', '.join(rss)} | "
                  f"{artifact['verdict']} | {artifact['metadata']} |")
            path.unlink()
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
