# Patterns from the Transformers quicktour, diffusers/PEFT loading guides and the huggingface_hub
# download guide.
from transformers import AutoModel, AutoTokenizer, pipeline
from diffusers import DiffusionPipeline
from peft import PeftModel
from huggingface_hub import hf_hub_download, snapshot_download

tok = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")  # expect: code-unpinned-hub-download
model = AutoModel.from_pretrained("google-bert/bert-base-uncased", revision="main")  # expect: code-unpinned-hub-download
model = AutoModel.from_pretrained("google-bert/bert-base-uncased", revision="86b5e09")  # expect: code-unpinned-hub-download
model = AutoModel.from_pretrained("google-bert/bert-base-uncased", revision="refs/pr/12")  # expect: code-unpinned-hub-download
model = AutoModel.from_pretrained("google-bert/bert-base-uncased", revision="86b5e0934494bd15c9632b12f734a8a67f723594")
pipe = DiffusionPipeline.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5")  # expect: code-unpinned-hub-download
lora = PeftModel.from_pretrained(model, "ybelkada/opt-350m-lora")  # expect: code-unpinned-hub-download
path = hf_hub_download(repo_id="lysandre/arxiv-nlp", filename="config.json")  # expect: code-unpinned-hub-download
path = hf_hub_download(repo_id="lysandre/arxiv-nlp", filename="config.json", revision="877b84a8f93f2d619faa2a6e514a32beef88ab0a")
folder = snapshot_download(repo_id="lysandre/arxiv-nlp", revision="v1.0")  # expect: code-unpinned-hub-download
clf = pipeline("sentiment-analysis")
clf = pipeline("sentiment-analysis", model="distilbert/distilbert-base-uncased-finetuned-sst-2-english")  # expect: code-unpinned-hub-download
# Local folders are not downloads.
local = AutoModel.from_pretrained("./my_model_directory/")
local = AutoModel.from_pretrained("/models/bert")
model.save_pretrained("./out")
