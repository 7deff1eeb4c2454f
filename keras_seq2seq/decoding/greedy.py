"""Batched greedy decoding over a model's step function.

Every decoder of `keras_seq2seq.decoding` drives the same contract, the step function
of `keras_seq2seq.layers.AttentionDecoder`:

    step_fn(token_ids, state) -> (logits, new_state, attention)

* `token_ids`: int32 `(batch_size,)`, the previous output token of each sequence;
* `state`: any nested structure of tensors whose leading dimension is the batch;
* `logits`: `(batch_size, vocabulary_size)` unnormalised scores of the next token;
* `attention`: `(batch_size, Ts)` attention weights of the step.

The loop is an explicit `tf.while_loop` over fixed-size buffers: no Python runs per
step, and the same code traces inside `fit`, eager calls, `tf.function` and
SavedModel endpoints (which are traced without autograph). Only core TensorFlow ops.
"""

import collections

import tensorflow as tf

from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq.constants import END_ID, START_ID

require_tensorflow(__name__)

from keras_seq2seq.decoding.common import (  # noqa: E402
    as_max_lengths,
    loose_batch_shape,
    mask_end_before_min_length,
)

DecodeResult = collections.namedtuple(
    "DecodeResult", ["ids", "lengths", "scores", "attention"]
)
DecodeResult.__doc__ = """Output of `greedy_decode` and `sample_decode`.

Fields:
    ids: int32 `(batch_size, max_length)`, the output tokens; the `[END]` token is
        kept where one was produced and every position after it is 0 (`[PAD]`).
    lengths: int32 `(batch_size,)`, the number of tokens before `[END]` (or
        `max_length` when none was produced).
    scores: float32 `(batch_size,)`, the sum of the log-probabilities of the output
        tokens, `[END]` included.
    attention: float32 `(batch_size, max_length, Ts)`, the attention weights of each
        output step; zeros after `[END]`.
"""


def select_greedy(logits):
    """The argmax token of each row of `(batch_size, vocabulary_size)` logits."""
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def run_decode_loop(step_fn, initial_state, batch_size, select_fn, start_id=START_ID,
                    end_id=END_ID, max_length=50, max_lengths=None, min_length=0):
    """The loop shared by greedy and sampling decoders: one token per sequence a step.

    Args:
        step_fn: `(token_ids, state) -> (logits, state, attention)`.
        initial_state: nested structure of `(batch_size, ...)` tensors.
        batch_size: scalar int (or tensor), the batch size.
        select_fn: `(logits, step) -> token_ids`, picks each next token from float32
            `(batch_size, vocabulary_size)` logits (`step` is the int32 loop index).
        start_id: the `[START]` id fed at the first step. Defaults to 2.
        end_id: the `[END]` id that finishes a sequence. Defaults to 3.
        max_length: size of the output buffer (int or scalar tensor). Defaults to 50.
        max_lengths: optional int `(batch_size,)` per-sequence caps.
        min_length: `[END]` is forbidden before this many tokens. Defaults to 0.

    Returns:
        A `DecodeResult`.
    """
    buffer_length, caps = as_max_lengths(max_length, batch_size, max_lengths)
    tokens = tf.fill([batch_size], tf.constant(start_id, tf.int32))
    finished = tf.zeros([batch_size], tf.bool)
    lengths = tf.zeros([batch_size], tf.int32)
    scores = tf.zeros([batch_size], tf.float32)
    # Fixed-size buffers: the steps not run stack as zeros, and under XLA every
    # shape is known at compile time.
    ids_ta = tf.TensorArray(tf.int32, size=buffer_length, element_shape=[None])
    attention_ta = tf.TensorArray(tf.float32, size=buffer_length,
                                  element_shape=[None, None])

    def body(step, tokens, state, finished, lengths, scores, ids_ta, attention_ta):
        logits, state, attention = step_fn(tokens, state)
        logits = tf.cast(logits, tf.float32)
        logits = mask_end_before_min_length(logits, step, min_length, end_id)
        next_tokens = select_fn(logits, step)
        log_probs = tf.nn.log_softmax(logits)
        token_log_prob = tf.gather(log_probs, next_tokens, batch_dims=1)
        # A sequence that reached its cap stops without an [END] token.
        at_cap = tf.greater_equal(step, caps)
        live = tf.logical_and(tf.logical_not(finished), tf.logical_not(at_cap))
        next_tokens = tf.where(live, next_tokens, tf.zeros_like(next_tokens))
        scores += tf.where(live, token_log_prob, tf.zeros_like(token_log_prob))
        is_end = tf.logical_and(live, tf.equal(next_tokens, end_id))
        lengths += tf.cast(tf.logical_and(live, tf.logical_not(is_end)), tf.int32)
        attention = tf.cast(attention, tf.float32) * tf.cast(live, tf.float32)[:, None]
        ids_ta = ids_ta.write(step, next_tokens)
        attention_ta = attention_ta.write(step, attention)
        finished = tf.logical_or(finished, tf.logical_or(is_end, at_cap))
        return (step + 1, next_tokens, state, finished, lengths, scores, ids_ta,
                attention_ta)

    def cond(step, tokens, state, finished, *_):
        return tf.logical_and(step < buffer_length,
                              tf.logical_not(tf.reduce_all(finished)))

    loop_vars = (tf.constant(0), tokens, initial_state, finished, lengths, scores,
                 ids_ta, attention_ta)
    shape_invariants = tf.nest.map_structure(loose_batch_shape, loop_vars)
    step, _, _, _, lengths, scores, ids_ta, attention_ta = tf.while_loop(
        cond, body, loop_vars, shape_invariants=shape_invariants,
        maximum_iterations=buffer_length,
    )
    ids = tf.transpose(ids_ta.stack(), [1, 0])
    attention = tf.transpose(attention_ta.stack(), [1, 0, 2])
    return DecodeResult(ids=ids, lengths=lengths, scores=scores, attention=attention)


def greedy_decode(step_fn, initial_state, batch_size, start_id=START_ID, end_id=END_ID,
                  max_length=50, max_lengths=None, min_length=0):
    """Greedy decoding: feeds back the most likely token until `[END]` or the cap.

    Args:
        step_fn: `(token_ids, state) -> (logits, state, attention)`, see the module.
        initial_state: nested structure of `(batch_size, ...)` tensors.
        batch_size: scalar int (or tensor), the batch size.
        start_id: the `[START]` id. Defaults to 2.
        end_id: the `[END]` id. Defaults to 3.
        max_length: size of the output buffer. Defaults to 50.
        max_lengths: optional int `(batch_size,)` per-sequence caps.
        min_length: `[END]` is forbidden before this many tokens. Defaults to 0.

    Returns:
        A `DecodeResult` with `ids (batch_size, max_length)`, `lengths`, `scores` and
        `attention (batch_size, max_length, Ts)`.
    """
    return run_decode_loop(
        step_fn, initial_state, batch_size, lambda logits, step: select_greedy(logits),
        start_id=start_id, end_id=end_id, max_length=max_length,
        max_lengths=max_lengths, min_length=min_length,
    )

