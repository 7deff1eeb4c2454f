"""The training objective and token-level hit counts of `Seq2Seq`.

* `token_weights`: 1 at non-pad target tokens (times any sample weight), 0 at PAD.
* `masked_cross_entropy`: cross-entropy summed over the weighted tokens and divided
  by their count, with optional label smoothing; under `tf.distribute` the count is
  summed over replicas and regularisation losses are split over them, so the summed
  gradients equal one device's on the global batch.
* `token_hits` / `free_running_hits`: 1.0 where the argmax is the label (the latter
  as inference scores them: nothing counts after the first predicted `[END]`).
"""

import tensorflow as tf

from keras_seq2seq.constants import END_ID, PAD_ID

__all__ = ["free_running_hits", "masked_cross_entropy", "token_hits", "token_weights"]


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
    total = tf.reduce_sum(losses * weights)
    count = tf.reduce_sum(weights)
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
