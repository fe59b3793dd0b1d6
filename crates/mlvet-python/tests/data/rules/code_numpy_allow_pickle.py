# Patterns from the numpy.load documentation and common data-loading code.
import numpy as np
from numpy import load

arr = np.load("features.npy")
obj = np.load("objects.npy", allow_pickle=True)  # expect: code-numpy-allow-pickle
obj = load("objects.npz", None, True)  # expect: code-numpy-allow-pickle
obj = np.load("objects.npy", allow_pickle=False)
obj = np.load(path, allow_pickle=allow)  # expect: code-numpy-allow-pickle
np.save("features.npy", arr)
