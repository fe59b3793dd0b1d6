# Patterns from the torch.hub documentation (https://docs.pytorch.org/docs/stable/hub.html) and the
# PyTorch Hub model pages (pytorch/vision, ultralytics/yolov5, facebookresearch/dinov2).
import torch

model = torch.hub.load("pytorch/vision", "resnet50", weights="ResNet50_Weights.IMAGENET1K_V1")  # expect: code-torch-hub-load
model = torch.hub.load("pytorch/vision:v0.10.0", "resnet18", pretrained=True)  # expect: code-torch-hub-load
yolo = torch.hub.load("ultralytics/yolov5", "yolov5s", trust_repo=True)  # expect: code-torch-hub-load remote-code-flag
dinov2 = torch.hub.load("facebookresearch/dinov2", "dinov2_vits14")  # expect: code-torch-hub-load
# A local hubconf.py: no download.
local = torch.hub.load("./hub_repo", "resnet50", source="local")
state = torch.hub.load_state_dict_from_url("https://download.invalid/resnet18.pth")  # expect: code-torch-hub-load
state = torch.hub.load_state_dict_from_url("https://download.invalid/resnet18.pth", weights_only=True)
entrypoints = torch.hub.list("pytorch/vision", force_reload=False)
