"""Graph-side helpers of the tokenizers: tensorflow-text, lowercasing, id tensors."""

import tensorflow as tf

from keras_seq2seq.constants import END_ID, PAD_ID, START_ID


def tf_text():
    """The `tensorflow_text` module, with an install hint if it is missing."""
    try:
        import tensorflow_text
    except ImportError as error:  # pragma: no cover - tensorflow-text is a dependency
        raise ImportError(
            "keras_seq2seq.text tokenizers need the `tensorflow-text` package "
            "(pip install 'tensorflow-text>=2.21,<2.22'), matching your TensorFlow "
            f"version. Import failed with: {error}"
        ) from error
    return tensorflow_text


def lowercase_utf8(strings):
    """`str.lower` on a `tf.string` tensor of any shape, without normalising it.

    `tf.strings.lower(..., encoding="utf-8")` is ICU's full lowercase mapping but
    stops at the first NUL character, so the pieces between NULs are lowered apart
    (and joined back without `reduce_join(separator=...)`, which drops a NUL too).
    """
    nul = tf.constant("\x00")
    pieces = tf.strings.split(tf.reshape(strings, [-1]), nul)  # >= 1 piece a row
    lowered = tf.strings.lower(pieces.flat_values, encoding="utf-8") + nul
    joined = tf.strings.reduce_join(pieces.with_flat_values(lowered), axis=-1)
    length = tf.strings.length(joined)
    joined = tf.strings.substr(joined, tf.zeros_like(length), length - 1)  # last NUL
    return tf.reshape(joined, tf.shape(strings))


def as_string_tensor(strings):
    if isinstance(strings, tf.RaggedTensor):
        raise TypeError("tokenize expects a dense string tensor, got a RaggedTensor.")
    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    rank = strings.shape.rank
    if rank is None or rank > 1:
        raise ValueError(
            "tokenize expects a scalar string or a 1-D batch of strings, got shape "
            f"{strings.shape}. Reshape to 1-D first."
        )
    return strings


def as_int_ids(ids):
    """Returns `(ids, was_vector)`: rank-2 int32 dense or ragged ids."""
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.convert_to_tensor(ids)
    if not ids.dtype.is_integer:
        raise TypeError(f"Token ids must be integers, got {ids.dtype}.")
    ids = tf.cast(ids, tf.int32)
    rank = ids.shape.rank
    if rank == 1:  # only dense tensors have rank 1
        return tf.expand_dims(ids, 0), True
    if rank != 2:
        raise ValueError(f"Expected ids of shape (batch, time), got shape {ids.shape}.")
    return ids, False


def clean_ids(ids):
    """Drops PAD and START ids and everything from the first END on.

    Args:
        ids: int32 `Tensor` or `RaggedTensor`, shape `(batch, T)`.

    Returns:
        int32 `RaggedTensor`, shape `(batch, None)`.
    """
    dense = (
        ids.to_tensor(default_value=PAD_ID) if isinstance(ids, tf.RaggedTensor) else ids
    )
    ended = tf.cumsum(tf.cast(tf.equal(dense, END_ID), tf.int32), axis=1) > 0
    keep = (
        tf.logical_not(ended)
        & tf.not_equal(dense, PAD_ID)
        & tf.not_equal(dense, START_ID)
    )
    return tf.ragged.boolean_mask(dense, keep)


def map_values(fn, values):
    if isinstance(values, tf.RaggedTensor):
        return tf.ragged.map_flat_values(fn, values)
    return fn(values)
