# Patterns from the PyTorch documentation ("Saving and Loading Models" tutorial, torch.load
# reference) and the Transformers / PEFT / diffusers sources that load .bin checkpoints.
# `# expect: RULE` marks the calls the rule reports; every other call must stay silent.
import torch
import torch as t
from torch import load as torch_load
from torch.serialization import load as serialization_load

PATH = "model.pt"

# Tutorial "Save/Load state_dict (Recommended)" before torch 2.6.
model_state = torch.load(PATH)  # expect: code-torch-load
# Tutorial "Save/Load Entire Model": needs full unpickling.
model = torch.load(PATH, weights_only=False)  # expect: code-torch-load
# The 2.6 tutorial spelling: safe on torch >= 2.6.
model_state = torch.load(PATH, weights_only=True)
checkpoint = t.load("checkpoint.tar", map_location="cpu")  # expect: code-torch-load
state = torch_load(PATH, map_location=torch.device("cpu"), weights_only=True)
state = serialization_load(PATH)  # expect: code-torch-load
# transformers modeling_utils.load_state_dict style: a variable decides.
weights_only_kwarg = {"weights_only": True}
state = torch.load(PATH, map_location="cpu", **weights_only_kwarg)  # expect: code-torch-load
state = torch.load(PATH, weights_only=is_trusted)  # expect: code-torch-load
# Not torch.load: other objects' load methods.
import json
config = json.load(open("config.json"))
