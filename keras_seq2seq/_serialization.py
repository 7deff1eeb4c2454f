"""One decorator that registers every public class for `.keras` round trips."""

import keras

PACKAGE = "keras_seq2seq"


def register(cls):
    """Registers `cls` as `keras_seq2seq>ClassName` for Keras serialization."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)
