"""keras-seq2seq: attention-based RNN encoder-decoder models for Keras 3.

`keras_seq2seq.layers` (the Luong attention layers) runs on every Keras backend. The
rest needs the TensorFlow backend; under another backend `import keras_seq2seq` still
gives the layers, and importing a TensorFlow part raises an `ImportError` that says so.
"""

__version__ = "0.1.0"

from keras_seq2seq import layers  # noqa: F401  (backend-neutral)
