#!/usr/bin/env python3
"""Writes the notebook fixtures of the Python analysis with the real `nbformat` library.

Run in a throwaway venv: `python3 -m venv /tmp/venv && /tmp/venv/bin/pip install nbformat &&
/tmp/venv/bin/python scripts/gen_python_fixtures.py`. The cells follow the Transformers,
datasets and PyTorch documentation notebooks (quicktour, "Load a dataset from the Hub",
"Saving and loading models"); nothing here is executed.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parent.parent / "crates" / "mlvet-python" / "tests" / "data" / "notebooks"


def quicktour() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        new_markdown_cell("# Quicktour\nInstall the libraries, then load a model and a dataset."),
        # cell 2: the shell lines the pipelines analysis reads
        new_code_cell("!pip install -q transformers datasets\n%pip install torch --index-url https://download.invalid/whl/cpu"),
        # cell 3: imports carry over to later cells
        new_code_cell("import torch as t\nfrom transformers import AutoModelForCausalLM\nfrom datasets import load_dataset"),
        # cell 4: a model that needs remote code, unpinned
        new_code_cell(
            "model = AutoModelForCausalLM.from_pretrained(\n"
            "    \"microsoft/Phi-3-mini-4k-instruct\", trust_remote_code=True\n"
            ")\n"
            "ds = load_dataset(\"rajpurkar/squad\", split=\"train\")"
        ),
        # cell 5: a %%time cell is Python; torch.load resolved through the alias from cell 3
        new_code_cell("%%time\nstate = t.load(\"checkpoint.pt\")\n!nvidia-smi"),
        # cell 6: a bash cell is all shell
        new_code_cell("%%bash\nhuggingface-cli download gpt2 --local-dir ./gpt2\npip install --trust-remote-code x"),
        # cell 7: suppressed with a reason
        new_code_cell("ok = t.load(\"ours.pt\")  # mlvet: ignore[code-torch-load] our own checkpoint"),
    ]
    # Stable ids, so that regenerating gives the same bytes.
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index + 1}"
    return nb


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    notebook = quicktour()
    nbformat.validate(notebook)
    nbformat.write(notebook, OUT / "quicktour.ipynb")
    print(f"wrote {OUT / 'quicktour.ipynb'}")


if __name__ == "__main__":
    main()
