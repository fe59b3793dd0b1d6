# Inline suppressions: same line, the line above, a multi-line call, and one that names another rule.
import torch
import pickle

state = torch.load("ours.pt")  # mlvet: ignore[code-torch-load] produced by our training job, hash-checked
# mlvet: ignore[code-pickle-load] cache written by this process
cache = pickle.load(f)
state = torch.load(
    "ours.pt",
)  # mlvet: ignore[code-torch-load]
other = torch.load("theirs.pt")  # mlvet: ignore[code-pickle-load] wrong rule: still reported
