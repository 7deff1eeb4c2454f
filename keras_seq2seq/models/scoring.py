"""Forced decoding: the log-probability a model gives to given translations.

`forced_scores(model, source_ids, target_ids)` runs the decoder teacher-forced on
`[START] y_1 … y_n` and reads off the log-probability of each of `y_1 … y_n [END]`
(the same softmax the decoders rank by, in float32), with the attention of each
step. `Seq2Seq.score_ids` / `Seq2Seq.score`, the export's `score` endpoint and
`keras-seq2seq score` are built on it. `Score` is one scored pair at the text level.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_seq2seq.constants import END_ID, PAD_ID, START_ID

__all__ = ["Score", "forced_scores"]


@dataclasses.dataclass
class Score:
    """One scored (source, target) pair.

    Attributes:
        score: the ranking figure: `log_prob`, or `log_prob / len(tokens)` when
            scored with `length_normalize=True`.
        log_prob: the summed log-probability of the target tokens and `[END]`
            (natural log; what greedy decoding and a beam without penalties sum).
        tokens: the target tokens, then `"[END]"` (the rows of `attention`).
        source_tokens: the source tokens.
        token_log_probs: float32 `(len(tokens),)`, the log-probability of each.
        attention: float32 `(len(tokens), len(source_tokens))`.
    """

    score: float
    log_prob: float
    tokens: list
    source_tokens: list
    token_log_probs: np.ndarray
    attention: np.ndarray


def forced_scores(model, source_ids, target_ids):
    """The model's log-probabilities of given target ids (teacher-forced).

    Args:
        model: a `Seq2Seq`.
        source_ids: int `(batch_size, Ts)`, padded with 0.
        target_ids: int `(batch_size, T)`, the target tokens without `[START]` and
            `[END]`, padded with 0 (a row of only 0s scores the empty translation:
            `[END]` alone).

    Returns:
        A dict of tensors:
        `token_log_probs` float32 `(batch_size, T + 1)`: the log-probability of each
            target token and, at position `lengths - 1`, of `[END]`; 0 after it.
        `lengths` int32 `(batch_size,)`: scored tokens per row (target tokens + 1).
        `log_probs` float32 `(batch_size,)`: the sums of `token_log_probs`.
        `labels` int32 `(batch_size, T + 1)`: the scored ids (`[END]` placed, 0 after).
        `attention` float32 `(batch_size, T + 1, Ts)`: the attention of each scored
            step, 0 after `lengths`.
    """
    source_ids = tf.cast(source_ids, tf.int32)
    # A batch of blank sources has no column: one [PAD] column, all masked.
    source_ids = tf.pad(source_ids, [[0, 0], [0, tf.maximum(1 - tf.shape(source_ids)[1], 0)]])
    target_ids = tf.cast(target_ids, tf.int32)
    batch_size = tf.shape(target_ids)[0]
    lengths = tf.reduce_sum(tf.cast(tf.not_equal(target_ids, PAD_ID), tf.int32), 1) + 1
    steps = tf.shape(target_ids)[1] + 1
    valid = tf.sequence_mask(lengths, steps)
    is_end = tf.equal(tf.range(steps)[None, :], lengths[:, None] - 1)
    padded = tf.pad(target_ids, [[0, 0], [0, 1]])
    labels = tf.where(is_end, END_ID, padded)
    decoder_input_ids = tf.concat(
        [tf.fill([batch_size, 1], START_ID), target_ids], axis=1)
    memory, mask, states = model.encode_source(source_ids, training=False)
    logits, attention = model.decoder(decoder_input_ids, memory, memory_mask=mask,
                                      initial_state=states, training=False,
                                      return_attention=True)
    log_softmax = tf.nn.log_softmax(tf.cast(logits, tf.float32))
    token_log_probs = tf.gather(log_softmax, labels, batch_dims=2)
    token_log_probs = tf.where(valid, token_log_probs, 0.0)
    attention = tf.cast(attention, tf.float32) * tf.cast(valid, tf.float32)[:, :, None]
    return {
        "token_log_probs": token_log_probs,
        "lengths": lengths,
        "log_probs": tf.reduce_sum(token_log_probs, axis=1),
        "labels": tf.where(valid, labels, PAD_ID),
        "attention": attention,
    }
