"""Pieces shared by the decoders of `keras_seq2seq.decoding`.

The per-sequence length caps, the `[END]` mask before the minimum length and the
loose shape invariants of the `tf.while_loop`s: `greedy.py` (and through it
`sampling.py`) and `beam_search.py` build their loops on these. Only core
TensorFlow ops.
"""

import tensorflow as tf

from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq.constants import PAD_ID, XLA_LENGTH_BUCKET

require_tensorflow(__name__)

# The logit added to `[END]` before the minimum length: it never wins an argmax, a
# top-k or a draw, and keeps the softmax finite.
END_MASK_LOGIT = -1e9


def as_max_lengths(max_length, batch_size, max_lengths=None):
    """Per-sequence length caps `(batch_size,)` and the buffer size.

    Args:
        max_length: int or scalar int tensor, the size of the output buffer.
        batch_size: scalar, the batch size.
        max_lengths: optional int `(batch_size,)` caps, each at most `max_length`.

    Returns:
        `(buffer_length, caps)`: a scalar int32 and int32 `(batch_size,)`.
    """
    if isinstance(max_length, int) and max_length < 1:
        raise ValueError(
            f"`max_length` must be a positive int. Received: max_length={max_length}"
        )
    buffer_length = tf.cast(max_length, tf.int32)
    caps = tf.fill([batch_size], buffer_length)
    if max_lengths is not None:
        caps = tf.minimum(caps, tf.cast(max_lengths, tf.int32))
    return buffer_length, caps


def mask_end_before_min_length(logits, step, min_length, end_id):
    """Forbids `[END]` while fewer than `min_length` tokens have been produced.

    Args:
        logits: float32 `(rows, vocabulary_size)`, the scores of the next token.
        step: scalar int32, the loop index (the number of tokens produced so far).
        min_length: int or scalar int tensor, the minimum number of tokens before
            `[END]`. A Python 0 adds no op.
        end_id: int, the `[END]` id.

    Returns:
        float32 `(rows, vocabulary_size)`: `logits`, with `END_MASK_LOGIT` added to
        the `[END]` column while `step < min_length`.
    """
    if isinstance(min_length, int) and min_length == 0:
        return logits
    end_mask = tf.one_hot(end_id, tf.shape(logits)[-1], on_value=END_MASK_LOGIT,
                          off_value=0.0)
    return tf.where(tf.less(step, min_length), logits + end_mask, logits)


def loose_batch_shape(value):
    """The shape invariant of a loop variable whose batch dimension may vary.

    Args:
        value: a tensor or a `tf.TensorArray`.

    Returns:
        A `tf.TensorShape`: unknown for a `TensorArray`, the shape itself for a
        scalar or a tensor of unknown rank, else `(None, *shape[1:])`.
    """
    if isinstance(value, tf.TensorArray):
        return tf.TensorShape(None)
    shape = value.shape
    if shape.rank is None or shape.rank == 0:
        return shape
    return tf.TensorShape([None] + shape[1:].as_list())


def pad_to_length_bucket(source_ids, bucket=XLA_LENGTH_BUCKET):
    """Pads int ids `(B, Ts)` with `[PAD]` columns to a multiple of `bucket` ids.

    Args:
        source_ids: int32 `(batch_size, Ts)`.
        bucket: int, the bucket width. Defaults to `XLA_LENGTH_BUCKET`.

    Returns:
        int32 `(batch_size, max(1, ceil(Ts / bucket)) * bucket)`.
    """
    width = tf.shape(source_ids)[1]
    padded = tf.maximum(-(-width // bucket), 1) * bucket
    return tf.pad(source_ids, [[0, 0], [0, padded - width]], constant_values=PAD_ID)
