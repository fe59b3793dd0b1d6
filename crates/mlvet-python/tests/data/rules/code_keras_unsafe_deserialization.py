# Patterns from the Keras 3 saving guide and keras.saving API reference.
import keras
import tensorflow as tf
from keras.models import load_model

model = keras.models.load_model("model.keras")
model = keras.saving.load_model("model.keras", safe_mode=False)  # expect: code-keras-unsafe-deserialization
model = load_model("model.keras", custom_objects={"Custom": Custom}, safe_mode=False)  # expect: code-keras-unsafe-deserialization
keras.config.enable_unsafe_deserialization()  # expect: code-keras-unsafe-deserialization
model = tf.keras.models.load_model("model.keras", safe_mode=False)  # expect: code-keras-unsafe-deserialization
model = tf.keras.models.load_model("saved_model_dir")
layer = keras.saving.deserialize_keras_object(config, safe_mode=True)
