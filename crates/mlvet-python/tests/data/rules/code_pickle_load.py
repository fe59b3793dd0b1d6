# Patterns from the pickle, joblib, pandas, shelve and scikit-learn "model persistence" docs.
import pickle
import cPickle
import _pickle
import dill
import cloudpickle
import joblib
import marshal
import shelve
import pandas as pd
from pickle import loads as l
from skops.io import load as skops_load

with open("model.pkl", "rb") as f:
    clf = pickle.load(f)  # expect: code-pickle-load
obj = pickle.loads(payload)  # expect: code-pickle-load
obj = l(payload)  # expect: code-pickle-load
obj = cPickle.loads(payload)  # expect: code-pickle-load
obj = _pickle.load(f)  # expect: code-pickle-load
fn = dill.load(f)  # expect: code-pickle-load
fn = cloudpickle.loads(blob)  # expect: code-pickle-load
clf = joblib.load("filename.joblib")  # expect: code-pickle-load
df = pd.read_pickle("./dummy.pkl")  # expect: code-pickle-load
db = shelve.open("spam")  # expect: code-pickle-load
code = marshal.loads(data)  # expect: code-pickle-load
up = pickle.Unpickler(f)  # expect: code-pickle-load
clf = skops_load("model.skops", trusted=True)  # expect: code-pickle-load
# Not loading: saving, and skops with an explicit list of trusted types.
pickle.dump(clf, f)
joblib.dump(clf, "filename.joblib")
clf = skops_load("model.skops", trusted=["sklearn.linear_model.LogisticRegression"])
df.to_pickle("./dummy.pkl")
