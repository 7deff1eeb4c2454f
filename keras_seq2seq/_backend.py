"""Backend checks.

The attention layers (`keras_seq2seq.layers.attention`) are written with `keras.ops`
only and run on every Keras 3 backend. Everything else -- the encoder-decoder model and
its `train_step`, the decoders (`tf.while_loop`), text pipelines (tensorflow-text) and the
SavedModel export -- needs the TensorFlow backend.
"""

import keras

TENSORFLOW_PARTS = (
    "keras_seq2seq.models (encoder-decoder, train_step), keras_seq2seq.decoding, "
    "keras_seq2seq.text, keras_seq2seq.export, keras_seq2seq.cli"
)


def require_tensorflow(component):
    """Raises `ImportError` unless Keras runs on the TensorFlow backend.

    Args:
        component: name of the module that needs TensorFlow, for the message.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ImportError(
            f"{component} needs the TensorFlow backend of Keras, but "
            f"KERAS_BACKEND={backend!r}. The parts that need TensorFlow are: "
            f"{TENSORFLOW_PARTS}. The attention layers "
            "(keras_seq2seq.layers.DotAttention, GeneralAttention, ConcatAttention, "
            "LocalAttention) run "
            "on any backend. Set KERAS_BACKEND=tensorflow to use the rest."
        )
