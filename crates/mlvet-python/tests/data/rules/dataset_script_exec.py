# Patterns from the datasets "Load" documentation and dataset cards that used loading scripts.
import os
from datasets import load_dataset

os.environ["HF_DATASETS_TRUST_REMOTE_CODE"] = "1"  # expect: remote-code-flag
squad = load_dataset("rajpurkar/squad")  # expect: dataset-script-exec code-unpinned-hub-download
wmt = load_dataset("wmt/wmt16", "ro-en", trust_remote_code=True)  # expect: dataset-script-exec code-unpinned-hub-download
pinned = load_dataset("rajpurkar/squad", revision="7b6d24c440a36b6815f21b70d25016731768db1f")  # expect: dataset-script-exec
# Packaged builders read local files: no repository, no script.
csv = load_dataset("csv", data_files="my_file.csv")
local = load_dataset("./my_dataset")
