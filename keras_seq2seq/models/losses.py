"""The training objective and token-level hit counts of `Seq2Seq`.

* `token_weights`: 1 at non-pad target tokens (times any sample weight), 0 at PAD.
* `masked_cross_entropy`: cross-entropy summed over the weighted tokens and divided
  by their count, with optional label smoothing; under `tf.distribute` the count is
  summed over replicas and regularisation losses are split over them, so the summed
  gradients equal one device's on the global batch.
* `projected_cross_entropy`: the same objective computed from the decoder's
  attentional vectors and the output projection's weights, over the weighted tokens
  only (padding never reaches the projection), a chunk of tokens at a time, with
  the gradients formed in the forward pass: the `(tokens, vocabulary)` logits and
  their gradient are never held whole (what `Seq2Seq.train_step` uses).
* `token_hits` / `free_running_hits`: 1.0 where the argmax is the label (the latter
  as inference scores them: nothing counts after the first predicted `[END]`).
"""

import tensorflow as tf

from keras_seq2seq.constants import END_ID, PAD_ID

__all__ = ["free_running_hits", "masked_cross_entropy", "projected_cross_entropy",
           "default_chunk_rows", "token_hits", "token_weights"]

# Logit elements of one chunk of `projected_cross_entropy` (8 MiB of float32): small
# enough to stay in cache between the matmul, the softmax and the gradient matmuls.
CHUNK_ELEMENTS = 2 ** 21
MIN_CHUNK_ROWS = 64


def default_chunk_rows(vocabulary_size):
    """Rows of a chunk of `(rows, vocabulary_size)` logits: `CHUNK_ELEMENTS // V`, at
    least `MIN_CHUNK_ROWS` (Python int)."""
    return max(MIN_CHUNK_ROWS, CHUNK_ELEMENTS // int(vocabulary_size))


def token_weights(y, sample_weight=None):
    """float32 `(batch_size, T)`: 0 at PAD labels, else 1 (times `sample_weight`).

    Args:
        y: int `(batch_size, T)` labels.
        sample_weight: optional `(batch_size,)` or `(batch_size, T)` weights.
    """
    weights = tf.cast(tf.not_equal(tf.cast(y, tf.int32), PAD_ID), tf.float32)
    if sample_weight is not None:
        sample_weight = tf.cast(sample_weight, tf.float32)
        if sample_weight.shape.rank == 1:
            sample_weight = sample_weight[:, None]
        weights = weights * sample_weight
    return weights


def masked_cross_entropy(y, logits, weights, label_smoothing=0.0, extra_losses=()):
    """The token-mean cross-entropy over weighted tokens.

    Args:
        y: int `(batch_size, T)` labels.
        logits: float `(batch_size, T, V)`.
        weights: float32 `(batch_size, T)`, from `token_weights`.
        label_smoothing: float in [0, 1).
        extra_losses: scalar losses to add (regularisation), each computed whole
            by every replica.

    Returns:
        float32 scalar: sum(weights · CE) / sum(weights) (0 for no tokens), plus
        the extra losses (each divided by the number of replicas in sync).
    """
    y = tf.cast(y, tf.int32)
    logits = tf.cast(logits, tf.float32)
    if label_smoothing:
        vocabulary = tf.shape(logits)[-1]
        labels = tf.one_hot(y, vocabulary, dtype=tf.float32)
        losses = tf.nn.softmax_cross_entropy_with_logits(
            labels * (1.0 - label_smoothing)
            + label_smoothing / tf.cast(vocabulary, tf.float32), logits)
    else:
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
    return _normalized(tf.reduce_sum(losses * weights), tf.reduce_sum(weights),
                       extra_losses)


def _normalized(total, count, extra_losses):
    """total / count (count summed over replicas), plus the extra losses."""
    replicas = 1
    replica = tf.distribute.get_replica_context()
    if replica is not None and replica.num_replicas_in_sync > 1:
        replicas = replica.num_replicas_in_sync
        # Keras multiplies the reported loss by the replica count (see
        # unscale_loss_for_distribution); the gradients are summed.
        count = replica.all_reduce(tf.distribute.ReduceOp.SUM, count)
    loss = tf.math.divide_no_nan(total, count)
    for extra in extra_losses:
        # Every replica computes the whole regularisation loss; the gradients are
        # summed over replicas, so each adds its 1/N share (as Keras does).
        loss += tf.cast(tf.reduce_sum(extra), tf.float32) / replicas
    return loss


def projected_cross_entropy(attentional, kernel, bias, y, weights, label_smoothing=0.0,
                            transposed=False, extra_losses=(), chunk_rows=None):
    """`masked_cross_entropy` of `attentional @ kernel + bias`, token chunk by chunk.

    Only the tokens of nonzero weight are projected. Each chunk's logits, its
    softmax cross-entropy and the gradient `softmax - labels` come from one fused
    op; the gradients of the attentional vectors, the kernel and the bias are
    accumulated as the chunks go and scaled by the upstream gradient in the
    backward pass, so the `(tokens, vocabulary)` logits and their gradient never
    exist whole (peak memory), and each chunk's logits are used while in cache. The
    matmuls run in the attentional vectors' dtype (bfloat16 under
    `mixed_bfloat16`), the softmax, the loss and the kernel/bias gradient sums in
    float32. Not for XLA (the tokens are gathered to a run-time count).

    Args:
        attentional: `(batch_size, T, A)` the decoder's attentional vectors (after
            dropout; `AttentionDecoder.call(projected=False)`).
        kernel: float32 `(A, V)`, or `(V, A)` with `transposed` (a tied embedding).
        bias: float32 `(V,)`.
        y: int `(batch_size, T)` labels.
        weights: float32 `(batch_size, T)`, from `token_weights`.
        label_smoothing: float in [0, 1).
        transposed: whether `kernel` is `(V, A)`.
        extra_losses: as in `masked_cross_entropy`.
        chunk_rows: tokens a chunk (default: `default_chunk_rows(V)`).

    Returns:
        `(loss, hits, token_weights)`: the float32 scalar loss, as
        `masked_cross_entropy` gives it; float32 `(N,)` 1.0 where the argmax of a
        weighted token's logits is its label, and the `(N,)` weights of those N
        tokens (for the accuracy).
    """
    vocabulary = kernel.shape[0] if transposed else kernel.shape[-1]
    if chunk_rows is None:
        chunk_rows = default_chunk_rows(vocabulary)
    weights = tf.cast(weights, tf.float32)
    positions = tf.where(tf.not_equal(weights, 0.0))
    rows = tf.gather_nd(attentional, positions)
    labels = tf.gather_nd(tf.cast(y, tf.int32), positions)
    row_weights = tf.gather_nd(weights, positions)
    total, hits = _chunked_cross_entropy(rows, kernel, bias, labels, row_weights,
                                         float(label_smoothing), bool(transposed),
                                         int(chunk_rows))
    return (_normalized(total, tf.reduce_sum(weights), extra_losses),
            tf.stop_gradient(hits), row_weights)


def _chunked_cross_entropy(rows, kernel, bias, labels, row_weights, label_smoothing,
                           transposed, chunk_rows):
    """`(Σ row_weights · CE, hits)` over `rows` `(N, A)`, gradients formed forward."""
    vocabulary = kernel.shape[0] if transposed else kernel.shape[-1]
    features = rows.shape[-1]

    @tf.custom_gradient
    def chunked(rows, kernel, bias):
        dtype = rows.dtype
        matrix = tf.cast(kernel, dtype)
        offset = tf.cast(bias, dtype)
        count = tf.shape(rows)[0]
        chunks = (count + chunk_rows - 1) // chunk_rows

        def body(index, total, d_kernel, d_bias, d_rows, hits):
            start = index * chunk_rows
            x = rows[start:start + chunk_rows]
            target = labels[start:start + chunk_rows]
            weight = row_weights[start:start + chunk_rows][:, None]
            logits = tf.cast(tf.matmul(x, matrix, transpose_b=transposed) + offset,
                             tf.float32)
            losses, d_logits = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
                features=logits, labels=target)
            if label_smoothing:
                # CE against (1 - ε)·onehot + ε/V: ε·(logit_y - mean logit) more loss,
                # ε·(onehot - 1/V) more gradient.
                picked = tf.gather(logits, target, batch_dims=1)
                losses += label_smoothing * (picked - tf.reduce_mean(logits, axis=-1))
                d_logits += label_smoothing * (
                    tf.one_hot(target, vocabulary, dtype=tf.float32) - 1.0 / vocabulary)
            hit = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32),
                                   target), tf.float32)
            d_logits = d_logits * weight
            low = tf.cast(d_logits, dtype)
            if transposed:  # logits = x · Kᵀ: dx = g · K, dK = gᵀ · x
                d_x = tf.matmul(low, matrix)
                d_k = tf.matmul(low, x, transpose_a=True)
            else:  # logits = x · K: dx = g · Kᵀ, dK = xᵀ · g
                d_x = tf.matmul(low, matrix, transpose_b=True)
                d_k = tf.matmul(x, low, transpose_a=True)
            return (index + 1, total + tf.reduce_sum(losses * weight[:, 0]),
                    d_kernel + tf.cast(d_k, tf.float32),
                    d_bias + tf.reduce_sum(d_logits, axis=0),
                    d_rows.write(index, d_x), hits.write(index, hit))

        def array(dtype, width):
            shape = [None] if width is None else [None, width]
            return tf.TensorArray(dtype, size=chunks, infer_shape=False,
                                  element_shape=shape)

        _, total, d_kernel, d_bias, d_rows, hits = tf.while_loop(
            lambda index, *_: index < chunks, body,
            (tf.constant(0), tf.constant(0.0), tf.zeros(kernel.shape, tf.float32),
             tf.zeros(bias.shape, tf.float32), array(dtype, features),
             array(tf.float32, None)))
        d_rows = _concat(d_rows, [0, features], dtype)
        hits = _concat(hits, [0], tf.float32)

        def gradient(upstream, _hits_upstream):
            upstream = tf.cast(upstream, tf.float32)
            return (d_rows * tf.cast(upstream, d_rows.dtype),
                    tf.cast(d_kernel * upstream, kernel.dtype),
                    tf.cast(d_bias * upstream, bias.dtype))

        return (total, hits), gradient

    return chunked(rows, kernel, bias)


def _concat(array, empty_shape, dtype):
    """`array.concat()`, or zeros of `empty_shape` when it holds no chunk."""
    return tf.cond(array.size() > 0, array.concat, lambda: tf.zeros(empty_shape, dtype))


def token_hits(y, logits):
    """float32 `(batch_size, T)`: 1.0 where the argmax of `logits` is the label `y`.

    (`tf.argmax` directly: `keras.ops.argmax` first rewrites -0.0 over the whole
    logits tensor, 4x slower at vocabulary size.)
    """
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.cast(tf.equal(predicted, tf.cast(y, tf.int32)), tf.float32)


def free_running_hits(y, logits):
    """`token_hits` as inference scores them: after the first predicted `[END]`
    (which inference keeps, then pads), every position is a miss."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    ended = tf.cumsum(tf.cast(tf.equal(predicted, END_ID), tf.int32), axis=1,
                      exclusive=True) > 0
    hits = tf.logical_and(tf.equal(predicted, tf.cast(y, tf.int32)),
                          tf.logical_not(ended))
    return tf.cast(hits, tf.float32)
