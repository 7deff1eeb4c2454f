"""Keras layers of keras-seq2seq.

The attention layers run on every Keras 3 backend; the decoder layer needs TensorFlow.
"""

from keras_seq2seq.constants import ATTENTION_NAMES as _ATTENTION_NAMES
from keras_seq2seq.layers.attention import (
    ATTENTION_SCORES,
    ConcatAttention,
    DotAttention,
    GeneralAttention,
    LuongAttention,
    make_score_layer,
    masked_softmax,
)
from keras_seq2seq.layers.local_attention import LocalAttention

# `ATTENTION_SCORES` (score name -> class) is defined once, in
# `keras_seq2seq.layers.attention`, keyed by `keras_seq2seq.constants.ATTENTION_NAMES`.
assert tuple(ATTENTION_SCORES) == _ATTENTION_NAMES, (ATTENTION_SCORES, _ATTENTION_NAMES)

__all__ = [
    "ATTENTION_SCORES",
    "ConcatAttention",
    "DotAttention",
    "GeneralAttention",
    "LocalAttention",
    "LuongAttention",
    "make_score_layer",
    "masked_softmax",
]

import keras as _keras

if _keras.backend.backend() == "tensorflow":
    from keras_seq2seq.layers.decoder import AttentionDecoder  # noqa: F401

    __all__.append("AttentionDecoder")
