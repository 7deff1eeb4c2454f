"""The pieces of beam search: beams folded into the batch, GNMT's length and coverage
penalties, and the two-stage top-k over a large vocabulary (`beam_search.py` puts
them together)."""

import tensorflow as tf

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

NEG_INF = float("-inf")
# Coverages are clipped from below before the log so that an uncovered (but real)
# source position gives a very low, finite penalty instead of -inf.
MIN_COVERAGE = 1e-10

def tile_beams(structure, beam_width):
    """Repeats every leaf `beam_width` times along the batch axis.

    Args:
        structure: nested structure of `(batch_size, ...)` tensors.
        beam_width: int, the number of beams.

    Returns:
        The same structure of `(batch_size * beam_width, ...)` tensors, the copies of
        each example next to each other.
    """
    return tf.nest.map_structure(
        lambda x: tf.repeat(tf.convert_to_tensor(x), beam_width, axis=0), structure
    )


def flatten_beams(tensor):
    """Folds `(batch_size, beam_width, ...)` into `(batch_size * beam_width, ...)`.

    Args:
        tensor: a tensor of rank 2 or more.

    Returns:
        The reshaped tensor.
    """
    shape = tf.shape(tensor)
    return tf.reshape(tensor, tf.concat([[shape[0] * shape[1]], shape[2:]], axis=0))


def unflatten_beams(tensor, beam_width):
    """Unfolds `(batch_size * beam_width, ...)` into `(batch_size, beam_width, ...)`.

    Args:
        tensor: a tensor of rank 1 or more.
        beam_width: int, the number of beams.

    Returns:
        The reshaped tensor.
    """
    shape = tf.shape(tensor)
    return tf.reshape(tensor, tf.concat([[-1, beam_width], shape[1:]], axis=0))


def gather_beams(structure, indices):
    """Reorders the rows of every leaf of a nest with one `tf.gather` each.

    Args:
        structure: nested structure of `(batch_size * beam_width, ...)` tensors.
        indices: int32 `(batch_size * beam_width,)`, the flat row each new row copies.

    Returns:
        The same structure, reordered.
    """
    return tf.nest.map_structure(lambda x: tf.gather(x, indices), structure)


def gnmt_length_penalty(lengths, alpha):
    """The GNMT length penalty `(5 + |Y|)^alpha / 6^alpha`.

    Args:
        lengths: int or float tensor, `|Y|` (the number of scored tokens).
        alpha: float, the strength of the penalty.

    Returns:
        A float32 tensor of the shape of `lengths`.
    """
    lengths = tf.cast(lengths, tf.float32)
    return tf.pow(5.0 + lengths, alpha) / tf.pow(6.0, alpha)


def coverage_log_sum(attention, source_mask=None):
    """`sum_i log(min(sum_j p_ij, 1))` over the real source positions `i`.

    Args:
        attention: float32 `(..., max_length, Ts)`, the attention history of each
            hypothesis (zeros for the steps it did not run).
        source_mask: optional bool `(..., Ts)` (broadcastable), true on real source
            positions. When None, a position whose attention is zero at every step is
            taken for padding.

    Returns:
        float32 `(...)`, the coverage term before its `beta` factor (at most 0).
    """
    return coverage_log_sum_of_sums(tf.reduce_sum(attention, axis=-2), source_mask)


def coverage_log_sum_of_sums(coverage, source_mask=None):
    """`coverage_log_sum` from the attention already summed over the output steps.

    Beam search keeps this running sum `sum_j p_ij` for every live hypothesis instead
    of its whole attention history.

    Args:
        coverage: float32 `(..., Ts)`, the summed attention `sum_j p_ij` of each
            hypothesis on each source position.
        source_mask: optional bool `(..., Ts)` (broadcastable), true on real source
            positions. When None, a position with zero coverage is taken for padding.

    Returns:
        float32 `(...)`, the coverage term before its `beta` factor (at most 0).
    """
    if source_mask is None:
        real = tf.greater(coverage, 0.0)
    else:
        real = tf.logical_and(tf.cast(source_mask, tf.bool),
                              tf.ones_like(coverage, tf.bool))
    clipped = tf.clip_by_value(coverage, MIN_COVERAGE, 1.0)
    log_coverage = tf.where(real, tf.math.log(clipped), tf.zeros_like(coverage))
    return tf.reduce_sum(log_coverage, axis=-1)


# Vocabularies from this size on take the two-stage top-k of `best_extensions`.
CHUNKED_TOP_K_MIN_VOCAB = 1024


def best_extensions(log_probs, offsets, k, chunk_size=None):
    """`tf.math.top_k(offsets + log_probs, k)`, in two cheaper stages on large rows.

    The result is exactly that of the one `top_k` (values, indices and the order of
    ties: lower index first), but on a large vocabulary `top_k` over whole rows is
    slow on CPU. So each row is cut into chunks of `chunk_size` tokens, the `k`
    chunks with the largest maxima are kept (lower chunk first on ties) and `top_k`
    runs on their tokens only, taken in the order of the vocabulary. The best `k`
    tokens of a row always lie in those chunks: fewer than `k` chunks hold a value
    above the `k`-th best one, and a chunk whose maximum equals it holds a tied
    token of lower index than every tied token of the later chunks. Adding the
    offset is monotonic, so ranking the chunks by `offset + max` ranks them as the
    maxima of `offset + log_probs`.

    Args:
        log_probs: float32 `(rows, vocabulary_size)`.
        offsets: float32 `(rows, 1)`, added to every value of the row (the
            log-probability of the hypothesis being extended).
        k: int or scalar int32 tensor, at most `vocabulary_size`.
        chunk_size: optional int, the tokens of a chunk. When None, about the
            square root of the vocabulary size (a divisor of it when one is near),
            or one whole-row `top_k` for a vocabulary below
            `CHUNKED_TOP_K_MIN_VOCAB`. A vocabulary size not known statically
            always takes one whole-row `top_k`.

    Returns:
        `(values, indices)`: float32 and int32 `(rows, k)`, as `tf.math.top_k`.
    """
    vocab_size = log_probs.shape[-1]
    if chunk_size is None and vocab_size is not None and isinstance(k, int):
        chunk_size = _chunk_size(vocab_size, k)
    if chunk_size is None or vocab_size is None:
        return tf.math.top_k(offsets + log_probs, k=k)
    chunks = -(-vocab_size // chunk_size)
    if chunks * chunk_size != vocab_size:  # pad with -inf, never chosen over a token
        log_probs = tf.pad(log_probs, [[0, 0], [0, chunks * chunk_size - vocab_size]],
                           constant_values=NEG_INF)
    blocks = tf.reshape(log_probs, [-1, chunks, chunk_size])
    _, best = tf.math.top_k(tf.reduce_max(blocks, axis=-1) + offsets, k=k)
    best = tf.sort(best, axis=-1)  # vocabulary order: ties resolve as in one top_k
    values = tf.reshape(tf.gather(blocks, best, batch_dims=1), [-1, k * chunk_size])
    values, positions = tf.math.top_k(values + offsets, k=k)
    indices = (tf.gather(best, positions // chunk_size, batch_dims=1) * chunk_size
               + positions % chunk_size)
    return values, indices


def _chunk_size(vocab_size, k):
    """The chunk size `best_extensions` uses by default.

    Args:
        vocab_size: int, the static vocabulary size.
        k: int, the number of values kept per row.

    Returns:
        An int near `sqrt(vocab_size)` (a divisor of `vocab_size` within a factor 2
        of it when there is one), or None (one whole-row `top_k`) for a vocabulary
        below `CHUNKED_TOP_K_MIN_VOCAB` or one with fewer than `4 * k` chunks.
    """
    if vocab_size < CHUNKED_TOP_K_MIN_VOCAB:
        return None
    target = max(int(round(vocab_size ** 0.5)), 1)
    divisors = [c for c in range(target // 2, 2 * target + 1)
                if c > 0 and vocab_size % c == 0]
    size = min(divisors, key=lambda c: abs(c - target)) if divisors else target
    if -(-vocab_size // size) < 4 * k:  # too few chunks for the first stage to pay
        return None
    return size
