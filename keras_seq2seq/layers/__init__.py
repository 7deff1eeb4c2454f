"""Keras layers of keras-seq2seq.

The attention layers run on every Keras 3 backend; the decoder layer needs TensorFlow.
"""

from keras_seq2seq.layers.attention import (
    ConcatAttention,
    DotAttention,
    GeneralAttention,
    LuongAttention,
    masked_softmax,
)

from keras_seq2seq.layers.local_attention import LocalAttention

ATTENTION_SCORES = {
    "dot": DotAttention,
    "general": GeneralAttention,
    "concat": ConcatAttention,
}

__all__ = [
    "ATTENTION_SCORES",
    "ConcatAttention",
    "DotAttention",
    "GeneralAttention",
    "LocalAttention",
    "LuongAttention",
    "masked_softmax",
]

import keras as _keras

if _keras.backend.backend() == "tensorflow":
    from keras_seq2seq.layers.decoder import AttentionDecoder  # noqa: F401

    __all__.append("AttentionDecoder")
