# Patterns from the Transformers "custom models" guide and model cards that need remote code
# (microsoft/Phi-3, THUDM/chatglm, nomic-ai/nomic-embed-text).
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
from sentence_transformers import SentenceTransformer

REV = "ed94a7c6247d8aedce4647f00f20de6875b5b292"
model = AutoModelForCausalLM.from_pretrained("microsoft/Phi-3-mini-4k-instruct", trust_remote_code=True)  # expect: code-trust-remote-code code-unpinned-hub-download
tok = AutoTokenizer.from_pretrained("THUDM/chatglm3-6b", trust_remote_code=True, revision="ed94a7c6247d8aedce4647f00f20de6875b5b292")  # expect: code-trust-remote-code
pipe = pipeline("text-generation", model="microsoft/Phi-3-mini-4k-instruct", trust_remote_code=True)  # expect: code-trust-remote-code code-unpinned-hub-download
emb = SentenceTransformer("nomic-ai/nomic-embed-text-v1.5", trust_remote_code=True, revision="ed94a7c6247d8aedce4647f00f20de6875b5b292")  # expect: code-trust-remote-code
safe = AutoModelForCausalLM.from_pretrained("gpt2", trust_remote_code=False, revision="607a30d783dfa663caf39e06633721c8d4cfcd7e")
