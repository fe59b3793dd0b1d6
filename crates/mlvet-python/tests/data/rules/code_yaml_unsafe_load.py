# Patterns from the PyYAML documentation and configs loaded by training scripts.
import yaml
from yaml import Loader, SafeLoader

cfg = yaml.load(open("config.yaml"), Loader=yaml.Loader)  # expect: code-yaml-unsafe-load
cfg = yaml.load(stream, Loader)  # expect: code-yaml-unsafe-load
cfg = yaml.load(stream)  # expect: code-yaml-unsafe-load
cfg = yaml.unsafe_load(stream)  # expect: code-yaml-unsafe-load
cfg = yaml.load(stream, Loader=yaml.FullLoader)  # expect: code-yaml-unsafe-load
docs = yaml.load_all(stream, Loader=yaml.UnsafeLoader)  # expect: code-yaml-unsafe-load
cfg = yaml.load(stream, Loader=yaml.SafeLoader)
cfg = yaml.load(stream, Loader=SafeLoader)
cfg = yaml.load(stream, yaml.CSafeLoader)
cfg = yaml.safe_load(stream)
