#!/usr/bin/env python3
"""Derive deny-list candidates for mlvet's pickle policy from real Python sources (stdlib `ast` only).

Usage:
    python3 scripts/derive_deny_candidates.py [--stdlib DIR ...] [--wheel FILE.whl ...] [--out FILE]

Without arguments it reads every CPython `Lib` directory found under ~/.pyenv/versions (3.11-3.13)
and every wheel given with --wheel (e.g. `pip download torch --no-deps -d /tmp/torchwheel`; the
wheel is read as a zip, never installed or imported). Nothing is imported or executed: every file
is only parsed with `ast`.

What counts as a candidate: a callable a pickle can name with GLOBAL/STACK_GLOBAL (a module-level
function, a class - its `__init__`/`__new__`/`__setstate__` run on load - or a method/static/class
method reached by a dotted name) whose own body reaches a sink *in one call* with an argument that
comes from its parameters:
  code      eval / exec / compile / __import__ / importlib.import_module / runpy / code.interact
  process   os.system / os.popen / os.exec* / os.spawn* / os.posix_spawn* / subprocess.* / pty.spawn
  files     open(..., mode with w/a/x/+) / os.remove/unlink/rename/... / shutil writes / FileIO
  loader    pickle.load(s) / marshal.loads / torch.load / numpy.load
and every string-to-callable resolver: a function that imports a name computed from a parameter
(`__import__(x)`, `importlib.import_module(x)`, `sys.modules[x]`) and walks attributes of the result
with `getattr`. Candidates already covered by a deny entry of policy/default.toml are listed as
covered; the others are reviewed by hand in REVIEW below (decision + reason) and the result is
written to docs/deny-candidates.md.
"""

from __future__ import annotations

import argparse
import ast
import glob
import os
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "crates" / "mlvet-pickle" / "policy" / "default.toml"
DEFAULT_OUT = REPO / "docs" / "deny-candidates.md"

CODE_SINKS = {"eval", "exec", "compile", "__import__", "execfile"}
DOTTED_SINKS = {
    # code
    "importlib.import_module": "code",
    "runpy.run_path": "code",
    "runpy.run_module": "code",
    "code.interact": "code",
    # process
    "os.system": "process",
    "os.popen": "process",
    "subprocess.run": "process",
    "subprocess.Popen": "process",
    "subprocess.call": "process",
    "subprocess.check_call": "process",
    "subprocess.check_output": "process",
    "subprocess.getoutput": "process",
    "subprocess.getstatusoutput": "process",
    "pty.spawn": "process",
    # files
    "os.remove": "files",
    "os.unlink": "files",
    "os.rename": "files",
    "os.replace": "files",
    "os.rmdir": "files",
    "os.removedirs": "files",
    "os.makedirs": "files",
    "os.mkdir": "files",
    "os.chmod": "files",
    "os.truncate": "files",
    "os.symlink": "files",
    "os.link": "files",
    "os.write": "files",
    "shutil.copy": "files",
    "shutil.copy2": "files",
    "shutil.copyfile": "files",
    "shutil.copytree": "files",
    "shutil.move": "files",
    "shutil.rmtree": "files",
    "io.open": "files",
    "os.open": "files",
    "_io.FileIO": "files",
    "io.FileIO": "files",
    # nested loaders
    "pickle.load": "loader",
    "pickle.loads": "loader",
    "marshal.loads": "loader",
    "marshal.load": "loader",
    "torch.load": "loader",
    "numpy.load": "loader",
    "np.load": "loader",
}
PREFIX_SINKS = {"os.exec": "process", "os.spawn": "process", "os.posix_spawn": "process"}
WRITE_MODES = set("wax+")

# Hand review of every candidate that no deny entry covered (module.qualname -> decision, reason).
# `deny` entries were added to policy/default.toml; `keep` entries were judged harmless or not
# reachable from a pickle with attacker-chosen arguments.
REVIEW: dict[str, tuple[str, str]] = {
    # --- standard library ---
    "_bootsubprocess": ("deny", "build-time subprocess helper (runs commands)"),
    "_pyio": ("deny", "the pure-Python twin of io/_io: FileIO opens, creates and truncates files (whole module)"),
    "argparse.FileType": ("deny", "FileType('w')(path) opens a file for writing"),
    "ast.parse": ("keep", "compile() with PyCF_ONLY_AST only parses"),
    "collections.namedtuple": ("keep", "eval()s generated source from validated identifiers only; namedtuple classes are not pickled by calling it"),
    "dataclasses": ("deny", "_create_fn/_process_class exec() source generated from their arguments (dataclasses._create_fn, _FuncBuilder, _process_class, make_dataclass, dataclass)"),
    "dis._try_compile": ("keep", "compile() without running; dis only disassembles"),
    "encodings.search_function": ("keep", "imports only `encodings.<normalized name>` modules of the codec package"),
    "gettext.c2py": ("deny", "eval() of a plural-forms expression (token-filtered, but still eval)"),
    "modulefinder": ("keep", "compiles and scans files, never runs them"),
    "optparse.Values": ("deny", "read_file exec()s a file, read_module imports an arbitrary module"),
    "pathlib._local.Path": ("deny", "Python 3.13 home of pathlib.Path: its I/O methods (Path.*) denied like pathlib's; the classes are allowed"),
    "pstats": ("deny", "Stats(path) marshal.load()s a file; dump_stats writes one"),
    "tkinter": ("deny", "Tk.readprofile exec()s profile files; file dialogs open files"),
    "traceback._compute_suggestion_error": ("keep", "only reads attributes for a suggestion"),
    "tracemalloc.Snapshot": ("deny", "Snapshot.load pickle.load()s a file, Snapshot.dump writes one"),
    "turtle": ("deny", "exec() of generated source; reads and writes docstring files"),
    "turtledemo": ("deny", "loads and exec()s demo files"),
    "typing._eval_type": ("deny", "eval() of a ForwardRef's string (two calls deep: added by hand)"),
    "typing.ForwardRef": ("deny", "compile() of its string at construction, eval() in _evaluate/evaluate"),
    "uu": ("deny", "encode/decode write files (module removed in 3.13)"),
    "warnings._getcategory": ("deny", "imports an arbitrary module named in a string (string-to-callable resolver)"),
    "warnings._setoption": ("deny", "goes through _getcategory: imports an arbitrary module"),
    "xml.dom.domreg.getDOMImplementation": ("keep", "imports only registered DOM implementations"),
    "xml.etree.ElementTree._get_writer": ("deny", "opens a file for writing (ElementTree.write)"),
    "xml.sax._create_parser": ("deny", "imports an arbitrary module named in a string"),
    "zipapp": ("deny", "writes archives and copies files"),
    # --- torch ---
    "torch._higher_order_ops": ("deny", "eval()/exec() of generated kernel code (compiles and runs graphs)"),
    "torch._logging._internal": ("deny", "imports modules named in strings (logging configuration)"),
    "torch._strobelight": ("deny", "runs subprocesses"),
    "torch._utils._import_dotted_name": ("resolve", "string-to-callable resolver: folded like getattr, the resolved name is judged"),
    "torch.backends.xeon": ("deny", "run_cpu launches processes"),
    "torch.cuda.memory._dump_snapshot": ("deny", "writes a file"),
    "torch.cuda.memory._save_memory_usage": ("deny", "writes a file"),
    "torch.cuda.memory._save_segment_usage": ("deny", "writes a file"),
    "torch.fx.experimental": ("deny", "eval()/exec() of rewritten source (symbolic_shapes was already denied)"),
    "torch.fx.operator_schemas": ("deny", "eval() of TorchScript type strings"),
    "torch.onnx": ("deny", "exporters write files and run TorchScript; _pass.PackageInfo resolves strings to classes"),
    "torch.profiler": ("deny", "trace exporters write and delete files"),
    "torch.utils.benchmark": ("deny", "writes and compiles C++ templates, runs timed statements"),
    "torch.utils.data.datapipes": ("deny", "pickle.loads() in __setstate__, opens files, resolves strings to classes"),
    "torch.utils.hipify": ("deny", "rewrites and copies source trees"),
    "functorch.dim.magic_trace": ("deny", "runs a profiler subprocess"),
    "functorch.einops": ("deny", "exec() of code generated from pattern strings"),
    "torch._guards": ("deny", "Source.get_value eval()s a source expression"),
    "torch._library": ("deny", "infer_schema eval()s annotations; fake_profile writes files"),
    "torch._precompile": ("deny", "torch.load, exec() of generated code, file writes"),
    "torch._register_device_module": ("deny", "imports a module named in a string"),
    "torch._vendor": ("deny", "vendored kernels: exec() of generated code, pickle.loads, imports by name"),
    "torch.ao.__getattr__": ("keep", "lazily imports only the listed torch.ao submodules"),
    "torch.ao.nn.__getattr__": ("keep", "lazily imports only the listed submodules"),
    "torch.ao.nn.intrinsic.__getattr__": ("keep", "lazily imports only the listed submodules"),
    "torch.autograd.profiler_util": ("deny", "EventList exporters write files"),
    "torch.cuda._memory_viz": ("deny", "runs subprocesses, writes and deletes files"),
    "torch.cuda.gds": ("deny", "GdsFile opens files"),
    "torch.cuda.graphs.export_graph_data": ("deny", "writes a file"),
    "torch.nn.attention._fa3": ("deny", "imports a module named in a string"),
    "torch.nn.attention._fa4": ("deny", "imports a module named in a string"),
    "torch.nn.utils._deprecation_utils": ("deny", "lazy_deprecated_import resolves a string to a module attribute"),
    "torch.serialization._open_file": ("deny", "opens a file for writing"),
    "torch.serialization._open_zipfile_writer_file": ("deny", "creates a file"),
    "torch.utils._content_store": ("deny", "torch.load of stored files, writes files"),
    "torch.utils._debug_mode": ("deny", "writes log files"),
    "torch.utils._get_clean_triton": ("deny", "runs subprocesses, writes files"),
    "torch.utils._pytree._defaultdict_deserialize": ("deny", "resolves a string to a class by import"),
    "torch.utils._pytree.enum_object_hook": ("deny", "resolves a string to a class by import"),
    "torch.xpu.memory._dump_snapshot": ("deny", "writes a file"),
    "torchgen": ("deny", "code generator: writes files, runs clang-format"),
}

# Sinks two or more calls deep that the one-call analysis cannot see, found by reading the code of
# what the issue reported and of their neighbours; always listed in the output.
HAND_ADDED = {
    "typing._eval_type": "calls ForwardRef._evaluate, which eval()s the reference's string",
    "_pyio.FileIO": "__init__ calls os.open with flags computed from the mode (O_CREAT/O_TRUNC)",
}

@dataclass
class Candidate:
    module: str
    qualname: str
    kind: str  # function / class / method
    sinks: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.qualname}"


def dotted_name(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def params_of(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    a = fn.args
    out = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
    if a.vararg:
        out.add(a.vararg.arg)
    if a.kwarg:
        out.add(a.kwarg.arg)
    return out - {"self", "cls"}


def tainted_names(fn: ast.AST, params: set[str]) -> set[str]:
    """Parameters plus local names assigned from expressions that mention them (one fixpoint)."""
    tainted = set(params)
    for _ in range(4):
        before = len(tainted)
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and names_in(node.value) & tainted:
                for target in node.targets:
                    tainted |= names_in(target)
            elif isinstance(node, (ast.For, ast.comprehension)) and names_in(node.iter) & tainted:
                tainted |= names_in(node.target)
        if len(tainted) == before:
            break
    return tainted


def write_mode(call: ast.Call) -> bool:
    mode = None
    if len(call.args) >= 2:
        mode = call.args[1]
    for kw in call.keywords:
        if kw.arg == "mode":
            mode = kw.value
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return bool(set(mode.value) & WRITE_MODES)
    return True  # a computed mode may be a write mode


def sinks_of(fn: ast.AST, params: set[str]) -> tuple[set[str], bool]:
    """Sinks reached with a parameter-derived argument, and whether fn is a string resolver."""
    tainted = tainted_names(fn, params)
    sinks: set[str] = set()
    imports_computed = False
    getattr_computed = False
    for node in ast.walk(fn):
        if isinstance(node, ast.Subscript) and dotted_name(node.value) == "sys.modules":
            if names_in(node.slice) & tainted:
                imports_computed = True
        if not isinstance(node, ast.Call):
            continue
        name = dotted_name(node.func)
        if name is None:
            continue
        arg_names = set()
        for arg in node.args:
            arg_names |= names_in(arg)
        for kw in node.keywords:
            arg_names |= names_in(kw.value)
        uses_param = bool(arg_names & tainted)
        if name in ("__import__", "importlib.import_module", "import_module") and uses_param:
            imports_computed = True
        if name == "getattr" and uses_param:
            getattr_computed = True
        if not uses_param:
            continue
        if name in CODE_SINKS:
            sinks.add(f"code:{name}")
        elif name == "open" and write_mode(node):
            sinks.add("files:open-for-write")
        elif name in DOTTED_SINKS:
            sinks.add(f"{DOTTED_SINKS[name]}:{name}")
        else:
            for prefix, kind in PREFIX_SINKS.items():
                if name.startswith(prefix):
                    sinks.add(f"{kind}:{name}")
    resolver = imports_computed and getattr_computed
    if resolver:
        sinks.add("resolver:string-to-callable")
    return sinks, resolver


REACHABLE_METHODS = {"__init__", "__new__", "__setstate__", "__call__", "__reduce__", "__reduce_ex__"}


def candidates_of(module: str, tree: ast.Module) -> list[Candidate]:
    out = []

    def visit_function(fn, qualname: str, kind: str):
        sinks, _ = sinks_of(fn, params_of(fn))
        if sinks:
            out.append(Candidate(module, qualname, kind, sinks))

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            visit_function(node, node.name, "function")
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    # Load-time methods run when the class is called or built; any other method
                    # is reachable as a dotted GLOBAL (`Class.method`) with a constructed self.
                    kind = "class" if item.name in REACHABLE_METHODS else "method"
                    visit_function(item, f"{node.name}.{item.name}", kind)
    return out


def module_name(rel: str) -> str:
    rel = rel[:-3] if rel.endswith(".py") else rel
    parts = rel.replace(os.sep, "/").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def stdlib_files(lib: Path):
    for path in sorted(lib.rglob("*.py")):
        rel = path.relative_to(lib).as_posix()
        if rel.startswith(("site-packages/", "test/", "idlelib/idle_test/", "lib2to3/tests/")):
            continue
        if "/tests/" in rel or rel.startswith("tkinter/test/"):
            continue
        yield module_name(rel), path.read_bytes()


def wheel_files(wheel: Path):
    with zipfile.ZipFile(wheel) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if not info.filename.endswith(".py") or ".data/" in info.filename:
                continue
            if "/test/" in info.filename or "/testing/" in info.filename:
                continue
            yield module_name(info.filename), zf.read(info)


class PolicyView:
    """Which dotted paths the deny list of default.toml covers (same semantics as src/policy.rs)."""

    def __init__(self, path: Path):
        data = tomllib.loads(path.read_text())
        self.deny: dict[str, list[str]] = {}
        for entry in data.get("deny", []):
            self.deny.setdefault(entry["module"], []).extend(entry.get("names", ["*"]))
        self.allow = {(e["module"], n) for e in data.get("allow", []) for n in e["names"]}

    def covers(self, dotted: str) -> bool:
        parts = dotted.split(".")
        for split in range(1, len(parts) + 1):
            module = ".".join(parts[:split])
            rest = ".".join(parts[split:])
            for pattern in self.deny.get(module, []):
                if pattern == "*":
                    return True
                if pattern.endswith("*"):
                    if rest and rest.startswith(pattern[:-1]):
                        return True
                elif rest == pattern or rest.startswith(pattern + "."):
                    return True
        return False


def review_of(dotted: str) -> tuple[str, str] | None:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in REVIEW:
            return REVIEW[key]
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stdlib", action="append", type=Path, default=[])
    parser.add_argument("--wheel", action="append", type=Path, default=[])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    stdlibs = args.stdlib or sorted(
        Path(p)
        for p in glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[123]*/lib/python3.1[123]"))
    )
    sources: list[tuple[str, object]] = [(f"CPython {p.parent.parent.name}", stdlib_files(p)) for p in stdlibs]
    sources += [(w.name, wheel_files(w)) for w in args.wheel]
    policy = PolicyView(POLICY)
    found: dict[str, tuple[Candidate, set[str]]] = {}
    for label, files in sources:
        for module, text in files:
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError):
                continue
            for cand in candidates_of(module, tree):
                seen = found.setdefault(cand.dotted, (cand, set()))
                seen[0].sinks |= cand.sinks
                seen[1].add(label)
    covered, reviewed, unreviewed = [], [], []
    for dotted, (cand, labels) in sorted(found.items()):
        row = (cand, sorted(labels))
        if review_of(dotted):
            reviewed.append(row)
        elif policy.covers(dotted):
            covered.append(row)
        else:
            unreviewed.append(row)
    lines = [
        "# Deny-list candidates derived from source",
        "",
        "Generated by `scripts/derive_deny_candidates.py` (stdlib `ast` only; nothing is imported). Sources: "
        + ", ".join(label for label, _ in sources)
        + ".",
        "",
        "A candidate is a callable a pickle can name whose body reaches, in one call and with an argument",
        "taken from its parameters, `eval`/`exec`/`compile`/`__import__`/`importlib.import_module`, a",
        "process (`os.system`, `os.exec*`, `os.spawn*`, `subprocess`), a file write (`open` with a write",
        "mode, `os.remove`..., `shutil` writes), a nested loader (`pickle`, `marshal`, `torch.load`), or",
        "that resolves a string to a callable (computed import + `getattr`).",
        "",
        f"- {len(covered)} candidates are covered by deny entries that predate the review;",
        f"- {len(reviewed)} were reviewed by hand (decisions below);",
        f"- {len(unreviewed)} are neither covered nor reviewed (extend REVIEW in the script for them).",
        "",
        "`deny` decisions are entries of the \"Derived from source\" section of",
        "crates/mlvet-pickle/policy/default.toml; `resolve` means the callable is a string-to-callable",
        "resolver folded like `getattr` (src/resolvers.rs); `keep` means not denied: such a reference",
        "stays unknown (suspicious) unless an allow entry names it.",
        "",
        "## Reviewed",
        "",
        "| callable | sinks | decision | denied by the policy now | reason |",
        "|---|---|---|---|---|",
    ]
    for cand, labels in reviewed:
        decision, reason = review_of(cand.dotted) or ("", "")
        now = "yes" if policy.covers(cand.dotted) else "no"
        lines.append(
            f"| `{cand.dotted}` | {', '.join(sorted(cand.sinks))} | {decision} | {now} | {reason} |"
        )
    lines += ["", "## Added by hand", "", "| callable | why the analysis misses it |", "|---|---|"]
    for dotted, why in sorted(HAND_ADDED.items()):
        lines.append(f"| `{dotted}` | {why} |")
    lines += [
        "",
        "## Not reviewed",
        "",
        "| callable | kind | sinks |",
        "|---|---|---|",
    ]
    for cand, labels in unreviewed:
        lines.append(f"| `{cand.dotted}` | {cand.kind} | {', '.join(sorted(cand.sinks))} |")
    lines += ["", "## Covered by existing deny entries", ""]
    lines.append(", ".join(f"`{cand.dotted}`" for cand, _ in covered))
    args.out.write_text("\n".join(lines) + "\n")
    print(
        f"{len(found)} candidates: {len(covered)} covered, {len(reviewed)} reviewed, "
        f"{len(unreviewed)} not denied -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
