#!/usr/bin/env python3
"""Benchmark mlvet against peer model scanners on the same inputs.

Usage:
  python3 scripts/bench.py [--mlvet target/release/mlvet] [--runs 5] [--out bench.md]
                           [--tools picklescan,modelscan,fickling,modelaudit] [--inputs ...]

What it does:
  1. creates one throwaway venv per peer tool under --venv-root (picklescan==1.0.5 is required;
     modelscan, fickling and modelaudit are optional and skipped if they do not install);
  2. generates the inputs into --work (kept between runs, regenerated when missing):
       many_ops.pkl   25 MB benign pickle of list(range(5_000_000)), protocol 4 (~5 M opcodes)
       zip_2g.pt      torch zip checkpoint: a real-shaped archive/data.pkl referencing storage '0'
                      and a 2 GiB archive/data/0 record of zeros, written as a sparse file without
                      torch and without 2 GiB of RAM
       legacy_1g.bin  legacy (non-zip) torch file: the five real legacy pickles + a sparse 1 GiB
                      storage tail with its 8-byte element-count header
       corpus         the 111-file peer corpus, used in place (../shared/corpus/peers)
  3. runs `mlvet scan --format json --fail-on never <input>` and each peer on each input N times,
     taking the median wall time and the peak RSS (GNU time's %M, or getrusage in a wrapper),
     checks whether each tool's verdict was right (every generated input is benign; the corpus
     has labels.tsv), and prints a Markdown table with ratios vs picklescan (also to --out).

No network is needed after the venvs exist; nothing here loads a model.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "peers"
GNU_TIME = Path("/usr/bin/time")
MiB = 1024 * 1024
GiB = 1024 * MiB

# --------------------------------------------------------------------------------------------
# peer tools
# --------------------------------------------------------------------------------------------


@dataclass
class Tool:
    name: str
    packages: list[str]
    required: bool
    handles_directories: bool = True
    env: dict[str, str] = field(default_factory=dict)


PEERS = {
    # numpy and py7zr: picklescan imports them lazily and aborts a directory scan without them
    "picklescan": Tool("picklescan", ["picklescan==1.0.5", "numpy==2.4.6", "py7zr==1.1.4"], True),
    "modelscan": Tool("modelscan", ["modelscan==0.8.8"], False),
    # fickling 0.1.12 imports typing_extensions without declaring it
    "fickling": Tool("fickling", ["fickling==0.1.12", "typing_extensions"], False, handles_directories=False),
    "modelaudit": Tool("modelaudit", ["modelaudit==0.2.54"], False,
                       env={"PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}),
}


def ensure_tool_venv(tool: Tool, root: Path, install_timeout: int) -> Path | None:
    """Return the venv's bin dir, creating and installing it if needed; None if it won't install."""
    venv = root / tool.name
    stamp = venv / ".mlvet-bench-packages"
    wanted = "\n".join(tool.packages)
    if stamp.exists() and stamp.read_text() == wanted:
        return venv / "bin"
    try:
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        print(f"installing {' '.join(tool.packages)} into {venv} ...", file=sys.stderr)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *tool.packages],
                       check=True, timeout=install_timeout)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        if tool.required:
            raise SystemExit(f"{tool.name} is required but did not install: {exc}")
        print(f"skipping {tool.name}: it did not install ({exc})", file=sys.stderr)
        return None
    stamp.write_text(wanted)
    return venv / "bin"


def tool_command(name: str, exe_dir: Path, target: Path, out_file: Path) -> list[str]:
    if name == "mlvet":
        return [str(exe_dir), "scan", "--format", "json", "--fail-on", "never", str(target)]
    if name == "picklescan":
        return [str(exe_dir / "picklescan"), "-p", str(target)]
    if name == "modelscan":
        return [str(exe_dir / "modelscan"), "scan", "-p", str(target), "-r", "json", "-o", str(out_file)]
    if name == "fickling":
        return [str(exe_dir / "fickling"), "--check-safety", "--json-output", str(out_file), str(target)]
    if name == "modelaudit":
        return [str(exe_dir / "modelaudit"), "scan", str(target), "--format", "json", "--output",
                str(out_file), "--no-cache"]
    raise ValueError(name)


# --------------------------------------------------------------------------------------------
# inputs (benign, written without torch and without holding large payloads in memory)
# --------------------------------------------------------------------------------------------


def zeros_crc32(size: int) -> int:
    chunk, crc, left = bytes(16 * MiB), 0, size
    while left:
        n = min(left, len(chunk))
        crc = zlib.crc32(chunk[:n] if n < len(chunk) else chunk, crc)
        left -= n
    return crc


def write_stored_zip(path: Path, members: list[tuple[str, bytes | int]]) -> None:
    """A STORED zip laid out like torch's writer (data records 64-byte aligned through an 'FB'
    padding extra field). A member given as an int is that many zero bytes, left as a sparse
    hole. Sizes stay below 4 GiB, so no zip64 records are needed."""
    central = []
    with open(path, "wb") as f:
        for name, data in members:
            raw_name = name.encode()
            size = data if isinstance(data, int) else len(data)
            assert size < 0xFFFFFFFF
            crc = zeros_crc32(size) if isinstance(data, int) else zlib.crc32(data)
            offset = f.tell()
            pad = (-(offset + 30 + len(raw_name) + 4)) % 64
            extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, size, size,
                                len(raw_name), len(extra)))
            f.write(raw_name + extra)
            if isinstance(data, int):
                f.seek(size, os.SEEK_CUR)  # the hole reads back as zeros
            else:
                f.write(data)
            central.append((raw_name, crc, size, offset))
        cd_start = f.tell()
        for raw_name, crc, size, offset in central:
            f.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, crc, size, size,
                                len(raw_name), 0, 0, 0, 0, 0o644 << 16, offset))
            f.write(raw_name)
        cd_size = f.tell() - cd_start
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), cd_size, cd_start, 0))


def binunicode(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def torch_state_dict_pickle(numel: int, legacy: bool) -> bytes:
    """The protocol-2 stream torch.save writes for {'weight': <float32 tensor of numel>} (an
    OrderedDict with _metadata), opcode for opcode; storage key '0'. Legacy files carry the
    numel and a None view in the persistent id; zip files carry the numel only."""
    assert numel < 2**31
    pid = (b"(" + binunicode("storage") + b"ctorch\nFloatStorage\n" + binunicode("0") + binunicode("cpu")
           + b"J" + struct.pack("<i", numel) + (b"N" if legacy else b"") + b"tQ")
    tensor = (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"K\x00J" + struct.pack("<i", numel) + b"\x85"
              + b"K\x01\x85\x89ccollections\nOrderedDict\n)Rt" + b"R")
    metadata = b"}" + binunicode("_metadata") + b"ccollections\nOrderedDict\n)R" + binunicode("") + b"}" \
        + binunicode("version") + b"K\x01sss"
    return b"\x80\x02ccollections\nOrderedDict\n)R(" + binunicode("weight") + tensor + b"u" + metadata + b"b."


def make_many_ops(path: Path) -> None:
    path.write_bytes(pickle.dumps(list(range(5_000_000)), protocol=4))


def make_zip_2g(path: Path) -> None:
    size = 2 * GiB
    write_stored_zip(path, [
        ("archive/data.pkl", torch_state_dict_pickle(size // 4, legacy=False)),
        ("archive/.format_version", b"1"),
        ("archive/.storage_alignment", b"64"),
        ("archive/byteorder", b"little"),
        ("archive/data/0", size),
        ("archive/version", b"3\n"),
    ])


def make_legacy_1g(path: Path) -> None:
    numel = GiB // 4
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    version = pickle.dumps(1001, protocol=2)
    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True,
                             "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    keys = pickle.dumps(["0"], protocol=2)
    with open(path, "wb") as f:
        f.write(magic + version + sys_info + torch_state_dict_pickle(numel, legacy=True) + keys)
        f.write(struct.pack("<q", numel))
        f.truncate(f.tell() + numel * 4)  # sparse storage bytes


@dataclass
class Input:
    name: str
    path: Path
    what: str


def prepare_inputs(work: Path, corpus: Path, wanted: list[str]) -> list[Input]:
    work.mkdir(parents=True, exist_ok=True)
    makers = {
        "many_ops.pkl": (make_many_ops, "benign 25 MB pickle, list(range(5_000_000)), protocol 4"),
        "zip_2g.pt": (make_zip_2g, "benign torch zip, data.pkl + 2 GiB stored tensor record"),
        "legacy_1g.bin": (make_legacy_1g, "benign legacy torch file, 5 pickles + 1 GiB storage tail"),
    }
    inputs = []
    for name in wanted:
        if name == "corpus":
            if not (corpus / "labels.tsv").exists():
                print(f"skipping corpus: {corpus}/labels.tsv not found", file=sys.stderr)
                continue
            count = sum(1 for p in corpus.rglob("*") if p.is_file() and p.name != "labels.tsv")
            inputs.append(Input("corpus", corpus, f"peer corpus directory, {count} files (labels.tsv)"))
            continue
        make, what = makers[name]
        path = work / name
        stamp = work / f".{name}.done"
        if not (path.exists() and stamp.exists()):
            print(f"generating {path} ...", file=sys.stderr)
            make(path)
            stamp.write_text("ok\n")
        inputs.append(Input(name, path, what))
    return inputs


# --------------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------------

RUSAGE_WRAPPER = r"""
import resource, subprocess, sys
with open(sys.argv[1], "wb") as out:
    rc = subprocess.run(sys.argv[3:], stdout=out, stderr=subprocess.STDOUT).returncode
open(sys.argv[2], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)
"""


@dataclass
class Run:
    wall: float
    rss_kib: int
    exit: int | None  # None = timed out


def measure(cmd: list[str], stdout_file: Path, env: dict[str, str], timeout: int) -> Run:
    """One run in a fresh process; peak RSS via GNU time (%M), else getrusage in a wrapper."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss", delete=False) as rss_file:
        rss_path = Path(rss_file.name)
    if GNU_TIME.exists():
        full = [str(GNU_TIME), "-f", "%M", "-o", str(rss_path), *cmd]
        out_handle = open(stdout_file, "wb")
        kwargs = {"stdout": out_handle, "stderr": subprocess.STDOUT}
    else:
        full = [sys.executable, "-c", RUSAGE_WRAPPER, str(stdout_file), str(rss_path), *cmd]
        out_handle = None
        kwargs = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    start = time.perf_counter()
    try:
        rc: int | None = subprocess.run(full, env=env, timeout=timeout, **kwargs).returncode
    except subprocess.TimeoutExpired:
        rc = None
    wall = time.perf_counter() - start
    if out_handle:
        out_handle.close()
    text = rss_path.read_text().strip().splitlines() if rss_path.exists() else []
    rss_path.unlink(missing_ok=True)
    # GNU time prefixes "Command exited with non-zero status N" on its own line
    rss = int(text[-1]) if text and text[-1].isdigit() else 0
    return Run(wall, rss, rc)


# --------------------------------------------------------------------------------------------
# verdicts: what did each tool say? (all generated inputs are benign; the corpus has labels)
# --------------------------------------------------------------------------------------------


def load_labels(corpus: Path) -> dict[str, str]:
    labels = {}
    for line in (corpus / "labels.tsv").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, label = line.split("\t")[:2]
            labels[path] = label
    return labels


def rel_file(source: str, root: Path) -> str:
    """'…/picklescan/data/x.zip:member' -> 'picklescan/data/x.zip' relative to the corpus root."""
    path = re.sub(r" \(pos \d+\)$", "", source).split(":", 1)[0]  # modelaudit appends "(pos N)"
    if not Path(path).is_absolute() and (root / path).exists():
        return str(Path(path))  # already relative to the scanned directory
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return path


def flagged_files(tool: str, stdout: Path, out_file: Path, root: Path) -> set[str] | None:
    """Files the tool reported as dangerous/malicious (None if its output could not be read)."""
    try:
        if tool == "picklescan":
            return {rel_file(line.split(": dangerous import", 1)[0], root)
                    for line in stdout.read_text(errors="replace").splitlines() if ": dangerous import" in line}
        if tool == "modelscan":
            report = json.loads(out_file.read_text())
            return {rel_file(str(i.get("source", "")), root) for i in report.get("issues", [])}
        if tool == "modelaudit":
            report = json.loads(out_file.read_text())
            return {rel_file(str(i.get("location") or ""), root) for i in report.get("issues", [])
                    if str(i.get("severity", "")).lower() == "critical"}
        if tool == "mlvet":
            verdicts = mlvet_verdicts(stdout)
            return {rel_file(p, root) for p, v in verdicts.items() if v == "malicious"}
    except (OSError, ValueError, AttributeError):
        return None
    return None


def mlvet_verdicts(stdout: Path) -> dict[str, str]:
    """path -> verdict from mlvet's JSON report (schema 1.x: `artifacts[]` carries the verdicts;
    findings carry their own per-finding verdict, which is not the file's)."""
    report = json.loads(stdout.read_text())
    return {
        artifact["path"]: artifact["verdict"]
        for artifact in report.get("artifacts", [])
        if isinstance(artifact.get("path"), str) and isinstance(artifact.get("verdict"), str)
    }


def judge_single(tool: str, run: Run, stdout: Path) -> str:
    """A benign single file: right if the tool calls it clean."""
    if run.exit is None:
        return "timeout"
    if tool == "mlvet":
        try:
            verdicts = set(mlvet_verdicts(stdout).values())
        except (OSError, ValueError):
            return f"? (unreadable JSON, exit {run.exit})"
        if not verdicts:
            return "? (no verdict in JSON)"
        worst = max(verdicts, key=["safe", "suspicious", "vulnerable", "malicious"].index)
        return "yes (safe)" if worst == "safe" else f"NO ({worst})"
    # peers: 0 = clean, 1 = issues found, 2 = error (picklescan, modelscan, fickling, modelaudit)
    if "Traceback (most recent call last)" in stdout.read_text(errors="replace")[-20000:]:
        return f"NO (crashed, exit {run.exit})"
    meaning = {0: "yes (clean)", 1: "NO (flagged)", 2: "NO (error)", 3: "NO (not scanned)"}
    return meaning.get(run.exit, f"? (exit {run.exit})")


def judge_corpus(tool: str, stdout: Path, out_file: Path, corpus: Path) -> str:
    labels = load_labels(corpus)
    flagged = flagged_files(tool, stdout, out_file, corpus)
    if flagged is None:
        return "? (output not parsed)"
    malicious = [p for p, label in labels.items() if label == "malicious"]
    others = [p for p, label in labels.items() if label != "malicious"]
    hits = sum(1 for p in malicious if p in flagged)
    false = sum(1 for p in others if p in flagged)
    verdict = f"malicious flagged {hits}/{len(malicious)}; benign/notmal flagged {false}/{len(others)}"
    if tool == "mlvet":  # labels.tsv: 'benign' must be exactly safe, 'notmal' anything but malicious
        try:
            unsafe = {rel_file(p, corpus) for p, v in mlvet_verdicts(stdout).items() if v != "safe"}
            benign = [p for p, label in labels.items() if label == "benign"]
            verdict += f"; benign not safe {sum(1 for p in benign if p in unsafe)}/{len(benign)}"
        except (OSError, ValueError):
            pass
    # e.g. picklescan names the temp file it extracted a 7z member to, not the archive
    stray = sorted(p for p in flagged if p and p not in labels)
    if stray:
        verdict += f" (+{len(stray)} finding(s) in files outside the corpus: {', '.join(stray)[:80]})"
    return verdict


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    tool: str
    input: str
    runs: list[Run]
    correct: str

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def rss_mib(self) -> float:
        return max(r.rss_kib for r in self.runs) / 1024

    @property
    def exits(self) -> str:
        codes = sorted({"timeout" if r.exit is None else str(r.exit) for r in self.runs})
        return "/".join(codes)


def ratio(value: float, base: float | None) -> str:
    if not base:
        return "–"
    return f"{value / base:.3g}×"


def render(results: list[Result], inputs: list[Input], runs: int, notes: list[str]) -> str:
    lines = [
        f"Median wall time of {runs} run(s) per cell (each run a fresh process, interpreter start-up "
        "included), peak RSS = max over the runs. Ratios are tool / picklescan (lower is better). "
        "'Right?' = did the tool give the correct verdict (every generated input is benign; the "
        "corpus is scored against its labels.tsv).",
        "",
        "| input | tool | wall (median) | min–max | peak RSS | time vs picklescan | RSS vs picklescan | exit | right? |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for inp in inputs:
        rows = [r for r in results if r.input == inp.name]
        base = next((r for r in rows if r.tool == "picklescan"), None)
        for r in rows:
            walls = [x.wall for x in r.runs]
            lines.append(
                f"| {inp.name} | {r.tool} | {r.wall:.3f} s | {min(walls):.3f}–{max(walls):.3f} s | "
                f"{r.rss_mib:.0f} MiB | {ratio(r.wall, base.wall if base else None)} | "
                f"{ratio(r.rss_mib, base.rss_mib if base else None)} | {r.exits} | {r.correct} |"
            )
    lines += ["", "Inputs:"] + [f"- `{i.name}`: {i.what}" for i in inputs]
    if notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlvet", type=Path, default=REPO / "target" / "release" / "mlvet",
                        help="mlvet binary (default %(default)s); skipped with a message if missing")
    parser.add_argument("--runs", type=int, default=5, help="runs per tool and input (default 5)")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    parser.add_argument("--tools", default="picklescan,modelscan,fickling,modelaudit",
                        help="peer tools to run, comma-separated (picklescan is the baseline)")
    parser.add_argument("--inputs", default="many_ops.pkl,zip_2g.pt,legacy_1g.bin,corpus",
                        help="inputs to run, comma-separated")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="peer corpus directory")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mlvet-bench-inputs",
                        help="where generated inputs and tool outputs go (default %(default)s)")
    parser.add_argument("--venv-root", type=Path, default=Path(tempfile.gettempdir()) / "mlvet-bench-venvs",
                        help="one venv per peer tool under this directory (default %(default)s)")
    parser.add_argument("--timeout", type=int, default=900, help="per run, seconds (default %(default)s)")
    parser.add_argument("--install-timeout", type=int, default=900, help="per tool install, seconds")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be >= 1")

    notes: list[str] = []
    tools: list[tuple[str, Path, dict[str, str]]] = []
    mlvet = args.mlvet.resolve()
    if mlvet.is_file() and os.access(mlvet, os.X_OK):
        tools.append(("mlvet", mlvet, {}))
    else:
        message = f"mlvet binary not found at {mlvet}: skipped (build it with `cargo build --release -p mlvet-cli` or pass --mlvet PATH)"
        print(message, file=sys.stderr)
        notes.append(message)
    for name in [t.strip() for t in args.tools.split(",") if t.strip()]:
        tool = PEERS[name]
        bin_dir = ensure_tool_venv(tool, args.venv_root, args.install_timeout)
        if bin_dir is None:
            notes.append(f"{name}: did not install, skipped")
            continue
        tools.append((name, bin_dir, tool.env))
    if not any(name == "picklescan" for name, _, _ in tools):
        notes.append("picklescan not run: no ratios")

    load_start = os.getloadavg()
    inputs = prepare_inputs(args.work, args.corpus, [i.strip() for i in args.inputs.split(",") if i.strip()])
    outputs = args.work / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    results: list[Result] = []
    for inp in inputs:
        for name, exe, extra_env in tools:
            if inp.name == "corpus" and name != "mlvet" and not PEERS[name].handles_directories:
                notes.append(f"{name}: no directory mode, not run on the corpus")
                continue
            stdout = outputs / f"{name}-{inp.name}.stdout"
            out_file = outputs / f"{name}-{inp.name}.json"
            env = {**base_env, **extra_env}
            if name != "mlvet":
                env["PATH"] = f"{exe}{os.pathsep}{env.get('PATH', '')}"
            runs = []
            for i in range(args.runs):
                out_file.unlink(missing_ok=True)
                run = measure(tool_command(name, exe, inp.path, out_file), stdout, env, args.timeout)
                runs.append(run)
                print(f"{inp.name:14} {name:11} run {i + 1}/{args.runs}: {run.wall:8.3f} s "
                      f"{run.rss_kib / 1024:8.0f} MiB exit {run.exit}", file=sys.stderr)
                if run.exit is None:
                    break  # one timeout is enough
            if inp.name == "corpus":
                correct = judge_corpus(name, stdout, out_file, inp.path)
            else:
                correct = judge_single(name, runs[-1], stdout)
            results.append(Result(name, inp.name, runs, correct))
    notes.append(f"machine: {os.cpu_count()} CPUs; load average at start {load_start[0]:.1f}, at end "
                 f"{os.getloadavg()[0]:.1f} (other work on the machine inflates wall times)")
    table = render(results, inputs, args.runs, notes)
    print(table)
    if args.out:
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
