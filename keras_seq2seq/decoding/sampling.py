"""Random sampling decoding (temperature, top-k, nucleus/top-p) over a step function.

Built on `keras_seq2seq.decoding.greedy.run_decode_loop`: each step draws the next
token of every sequence with `tf.random.stateless_categorical`, keyed on the `seed`
and the step index (`tf.random.experimental.stateless_fold_in`), so the same seed gives
the same output eagerly and traced, with no random-generator state to carry.
"""

import numbers

import tensorflow as tf

from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq.constants import END_ID, START_ID

require_tensorflow(__name__)

from keras_seq2seq.decoding.greedy import run_decode_loop  # noqa: E402


def top_k_filter(logits, k):
    """Keeps the `k` largest logits of each row and sets the others to `-inf`.

    Ties are broken towards the lower token id (as `tf.math.top_k`), so exactly
    `min(k, vocabulary_size)` tokens stay.

    Args:
        logits: float `(batch_size, vocabulary_size)`.
        k: int >= 1 (or scalar int tensor).

    Returns:
        float `(batch_size, vocabulary_size)`, the filtered logits.
    """
    k = tf.minimum(tf.cast(k, tf.int32), tf.shape(logits)[-1])
    _, indices = tf.math.top_k(logits, k=k)
    keep = _scatter_mask(tf.ones_like(indices), indices, tf.shape(logits))
    return tf.where(keep, logits, tf.fill(tf.shape(logits), float("-inf")))


def top_p_filter(logits, p):
    """Nucleus filtering: keeps the smallest set of most likely tokens of mass >= `p`.

    The most likely token always stays; the others are set to `-inf`. Ties are broken
    towards the lower token id.

    Args:
        logits: float `(batch_size, vocabulary_size)`.
        p: float in `(0, 1]` (or scalar float tensor).

    Returns:
        float `(batch_size, vocabulary_size)`, the filtered logits.
    """
    sorted_logits, indices = tf.math.top_k(logits, k=tf.shape(logits)[-1])
    probs = tf.nn.softmax(sorted_logits, axis=-1)
    mass_before = tf.cumsum(probs, axis=-1, exclusive=True)
    keep_sorted = tf.less(mass_before, tf.cast(p, probs.dtype))
    keep = _scatter_mask(tf.cast(keep_sorted, tf.int32), indices, tf.shape(logits))
    return tf.where(keep, logits, tf.fill(tf.shape(logits), float("-inf")))


def filter_logits(logits, temperature=1.0, top_k=None, top_p=None):
    """Temperature scaling, then top-k, then top-p filtering.

    Args:
        logits: float `(batch_size, vocabulary_size)`.
        temperature: float > 0; the logits are divided by it. Defaults to 1.
        top_k: optional int >= 1, keep only the `top_k` most likely tokens.
        top_p: optional float in `(0, 1]`, keep only the nucleus of mass `top_p`
            (after the temperature and the top-k filter).

    Returns:
        float `(batch_size, vocabulary_size)`, the logits to sample from.
    """
    _check_sampling_args(temperature, top_k, top_p)
    if not (isinstance(temperature, numbers.Number) and temperature == 1):
        logits = logits / tf.cast(temperature, logits.dtype)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and not (isinstance(top_p, numbers.Number) and top_p == 1):
        logits = top_p_filter(logits, top_p)
    return logits


def sample_decode(step_fn, initial_state, batch_size, start_id=START_ID, end_id=END_ID,
                  max_length=50, max_lengths=None, min_length=0, temperature=1.0,
                  top_k=None, top_p=None, seed=(0, 0)):
    """Samples each next token from the (filtered) model distribution.

    Args:
        step_fn: `(token_ids, state) -> (logits, state, attention)`, see
            `keras_seq2seq.decoding.greedy`.
        initial_state: nested structure of `(batch_size, ...)` tensors.
        batch_size: scalar int (or tensor), the batch size.
        start_id: the `[START]` id, fed at the first step. Defaults to 2.
        end_id: the `[END]` id; a sequence that draws it is finished. Defaults to 3.
        max_length: size of the output buffer (int or scalar tensor). Defaults to 50.
        max_lengths: optional int `(batch_size,)` per-sequence caps, each clipped to
            `max_length`.
        min_length: `[END]` is never drawn before this many tokens. Defaults to 0.
        temperature: float > 0, divides the logits before sampling. Defaults to 1.
        top_k: optional int >= 1, sample among the `top_k` most likely tokens only.
        top_p: optional float in `(0, 1]`, sample within the nucleus: the smallest set
            of most likely tokens whose probability is at least `top_p`.
        seed: the stateless seed, a pair of ints or an int `(2,)` tensor. The same
            seed gives the same output. Defaults to `(0, 0)`.

    Returns:
        A `DecodeResult` with `ids (batch_size, max_length)`, `lengths`, `scores` and
        `attention (batch_size, max_length, Ts)`. The scores are the model's
        log-probabilities of the drawn tokens (before temperature and filtering).
    """
    _check_sampling_args(temperature, top_k, top_p)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    if seed.shape.rank is not None and seed.shape.as_list() != [2]:
        raise ValueError(f"`seed` must hold 2 ints. Received: seed={seed}")

    def select(logits, step):
        logits = filter_logits(logits, temperature, top_k, top_p)
        step_seed = tf.random.experimental.stateless_fold_in(seed, step)
        return tf.random.stateless_categorical(
            logits, 1, seed=step_seed, dtype=tf.int32)[:, 0]

    return run_decode_loop(
        step_fn, initial_state, batch_size, select, start_id=start_id, end_id=end_id,
        max_length=max_length, max_lengths=max_lengths, min_length=min_length,
    )


def _scatter_mask(values, indices, shape):
    """A bool `shape` mask, true where `values` (int, at `indices` per row) > 0."""
    rows = tf.broadcast_to(tf.range(tf.shape(indices)[0])[:, None], tf.shape(indices))
    coordinates = tf.stack([rows, indices], axis=-1)
    return tf.greater(tf.scatter_nd(coordinates, values, shape), 0)


def _check_sampling_args(temperature, top_k, top_p):
    tensor_types = (tf.Tensor, tf.Variable)
    if isinstance(temperature, bool) or not (
            isinstance(temperature, tensor_types)
            or (isinstance(temperature, numbers.Real) and temperature > 0)):
        raise ValueError(
            f"`temperature` must be a number > 0. Received: temperature={temperature!r}"
        )
    if top_k is not None and (isinstance(top_k, bool) or not (
            isinstance(top_k, tensor_types)
            or (isinstance(top_k, numbers.Integral) and top_k >= 1))):
        raise ValueError(
            f"`top_k` must be None or an int >= 1. Received: top_k={top_k!r}"
        )
    if top_p is not None and (isinstance(top_p, bool) or not (
            isinstance(top_p, tensor_types)
            or (isinstance(top_p, numbers.Real) and 0 < top_p <= 1))):
        raise ValueError(
            f"`top_p` must be None or a number in (0, 1]. Received: top_p={top_p!r}"
        )
