# The beam search as it was before the step-record rewrite (keras_seq2seq/decoding/
# beam_search.py at commit abe6730), kept for benchmarks/decoding_speed.py.
"""Batched beam search over a model's step function, beams folded into the batch.

The decoder drives the step-function contract of `keras_seq2seq.decoding.greedy`:
`step_fn(token_ids, state) -> (logits, new_state, attention)`. The `beam_width` live
hypotheses of each example are folded into the batch dimension (`batch_size *
beam_width` rows, the beams of an example next to each other), so the step function
runs once per step on all of them. Every step the live hypotheses are reordered with
one `gather_beams` over the whole state nest, the token buffer and the attention
history: no `GatherTree` op (missing in TF Serving), only core TensorFlow ops inside an
explicit `tf.while_loop`, so the same code runs eagerly and traced without autograph.

Search (as in tensor2tensor and GNMT):

* the candidates of a step are every one-token extension of every live hypothesis,
  ranked by their summed log-probability;
* the `[END]` candidates among the best `beam_width` candidates finish: they join the
  finished set (the best `beam_width` finished hypotheses of each example, ranked by
  the penalised score below); the best `beam_width` candidates that do not end stay
  live, so finished hypotheses never take the place of live ones;
* when an example reaches its length cap, its live hypotheses finish without `[END]`;
* an example is done when its `num_return`-th best finished score is at least the best
  score any of its live hypotheses could still reach (log-probabilities only decrease),
  or at its cap; the loop stops when every example is done.

Scores follow Wu et al. (2016), "Google's Neural Machine Translation System":
`score(Y, X) = log P(Y|X) / lp(Y) + cp(X; Y)` with the length penalty
`lp(Y) = (5 + |Y|)^alpha / 6^alpha` and the coverage penalty
`cp(X; Y) = beta * sum_i log(min(sum_j p_ij, 1))`, where `|Y|` counts the scored tokens
(`[END]` included) and `p_ij` is the attention weight of output step `j` on source
position `i`. With `alpha = beta = 0` the score is the plain sum of log-probabilities,
and `beam_width=1` gives exactly `greedy_decode`'s output.
"""

import collections

import tensorflow as tf

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

from keras_seq2seq.decoding.greedy import END_ID, START_ID, as_max_lengths  # noqa: E402

NEG_INF = float("-inf")
# Coverages are clipped from below before the log so that an uncovered (but real)
# source position gives a very low, finite penalty instead of -inf.
MIN_COVERAGE = 1e-10

BeamSearchResult = collections.namedtuple(
    "BeamSearchResult", ["ids", "lengths", "scores", "attention"]
)
BeamSearchResult.__doc__ = """Output of `beam_search`: the `num_return` best hypotheses.

Hypotheses are sorted best first; the conventions are those of `DecodeResult`.

Fields:
    ids: int32 `(batch_size, num_return, max_length)`, the output tokens; `[END]` is
        kept where one was produced and every position after it is 0 (`[PAD]`).
    lengths: int32 `(batch_size, num_return)`, the number of tokens before `[END]` (the
        length cap when none was produced).
    scores: float32 `(batch_size, num_return)`, the penalised scores (the sum of the
        token log-probabilities, `[END]` included, when both penalties are 0);
        `-inf` for a slot no hypothesis could fill (a vocabulary smaller than the beam).
    attention: float32 `(batch_size, num_return, max_length, Ts)`, the attention
        weights of each output step of each hypothesis; zeros after `[END]`.
"""


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
    coverage = tf.reduce_sum(attention, axis=-2)
    if source_mask is None:
        real = tf.greater(coverage, 0.0)
    else:
        real = tf.logical_and(tf.cast(source_mask, tf.bool),
                              tf.ones_like(coverage, tf.bool))
    clipped = tf.clip_by_value(coverage, MIN_COVERAGE, 1.0)
    log_coverage = tf.where(real, tf.math.log(clipped), tf.zeros_like(coverage))
    return tf.reduce_sum(log_coverage, axis=-1)


def beam_search(step_fn, initial_state, batch_size, beam_width=5, start_id=START_ID,
                end_id=END_ID, max_length=50, max_lengths=None, min_length=0,
                length_penalty=0.0, coverage_penalty=0.0, num_return=1,
                source_mask=None):
    """Beam search with GNMT length and coverage penalties and n-best output.

    Args:
        step_fn: `(token_ids, state) -> (logits, state, attention)`, see
            `keras_seq2seq.decoding.greedy`; it is called on
            `batch_size * beam_width` rows.
        initial_state: nested structure of `(batch_size, ...)` tensors (tiled to the
            beams here).
        batch_size: scalar int (or tensor), the batch size.
        beam_width: int >= 1, the number of live hypotheses per example. Defaults
            to 5.
        start_id: the `[START]` id. Defaults to 2.
        end_id: the `[END]` id. Defaults to 3.
        max_length: size of the output buffer (int or scalar tensor). Defaults to 50.
        max_lengths: optional int `(batch_size,)` per-example caps (for instance
            `a * source_length + b`), each clipped to `max_length`.
        min_length: `[END]` is forbidden before this many tokens. Defaults to 0.
        length_penalty: float, GNMT's `alpha`. Defaults to 0 (no penalty).
        coverage_penalty: float >= 0, GNMT's `beta`. Defaults to 0 (no penalty).
        num_return: int in `[1, beam_width]`, the number of hypotheses returned per
            example. Defaults to 1.
        source_mask: optional bool `(batch_size, Ts)`, true on real source positions,
            for the coverage penalty. When None, a source position that a hypothesis
            never attends to (zero attention at every step) is taken for padding.

    Returns:
        A `BeamSearchResult` with `ids (batch_size, num_return, max_length)`,
        `lengths (batch_size, num_return)`, `scores (batch_size, num_return)` and
        `attention (batch_size, num_return, max_length, Ts)`, best hypothesis first.
    """
    _check_int("beam_width", beam_width, 1)
    _check_int("num_return", num_return, 1)
    if num_return > beam_width:
        raise ValueError(
            "`num_return` must be at most `beam_width`. Received: "
            f"num_return={num_return}, beam_width={beam_width}"
        )
    if isinstance(min_length, (bool, float)) or (
            isinstance(min_length, int) and min_length < 0):
        raise ValueError(
            "`min_length` must be a non-negative int. Received: "
            f"min_length={min_length!r}"
        )
    alpha = _check_float("length_penalty", length_penalty)
    beta = _check_float("coverage_penalty", coverage_penalty)
    if beta < 0:
        raise ValueError(
            "`coverage_penalty` must be >= 0. Received: "
            f"coverage_penalty={coverage_penalty}"
        )

    beams = beam_width
    buffer_length, caps = as_max_lengths(max_length, batch_size, max_lengths)
    positions = tf.range(buffer_length)
    batch_offsets = tf.range(batch_size)[:, None] * beams
    if source_mask is not None:
        source_mask = tf.cast(source_mask, tf.bool)[:, None, :]  # (batch, 1, Ts)

    def score(log_probs, lengths, attention):
        # log_probs (batch, beams); attention (batch, beams, max_length, Ts).
        scores = log_probs
        if alpha:
            scores = scores / gnmt_length_penalty(lengths, alpha)
        if beta:
            scores = scores + beta * coverage_log_sum(attention, source_mask)
        return scores

    def flat_rows(beam_indices):
        # (batch, beams) beam indices -> (batch * beams,) rows of the folded batch.
        return tf.reshape(beam_indices + batch_offsets, [-1])

    tokens = tf.fill([batch_size * beams], tf.constant(start_id, tf.int32))
    state = tile_beams(initial_state, beams)
    alive_seq = tf.zeros([batch_size * beams, buffer_length], tf.int32)
    # The attention buffers start with a last dimension of 1 that broadcasts to Ts at
    # the first step (Ts is only known once the step function has run).
    alive_attn = tf.zeros([batch_size * beams, buffer_length, 1], tf.float32)
    # All beams start from the same [START]: only the first one is live at first.
    first_beam = tf.equal(tf.range(beams), 0)[None, :]
    alive_logp = tf.where(first_beam, 0.0, NEG_INF) + tf.zeros([batch_size, 1])
    # An example capped at 0 tokens finishes at once with the empty hypothesis.
    empty = tf.equal(caps, 0)
    fin_scores = tf.where(tf.logical_and(empty[:, None], first_beam), 0.0, NEG_INF)
    fin_seq = tf.zeros([batch_size, beams, buffer_length], tf.int32)
    fin_lengths = tf.zeros([batch_size, beams], tf.int32)
    fin_attn = tf.zeros([batch_size, beams, buffer_length, 1], tf.float32)
    done = empty

    def body(step, tokens, state, alive_seq, alive_logp, alive_attn, fin_seq,
             fin_lengths, fin_scores, fin_attn, done):
        logits, state, attention = step_fn(tokens, state)
        logits = tf.cast(logits, tf.float32)
        if not (isinstance(min_length, int) and min_length == 0):
            too_short = tf.less(step, min_length)
            end_mask = tf.one_hot(end_id, tf.shape(logits)[-1], on_value=-1e9,
                                  off_value=0.0)
            logits = tf.where(too_short, logits + end_mask, logits)
        log_probs = tf.nn.log_softmax(logits)
        vocab_size = tf.shape(log_probs)[-1]
        at_step = tf.equal(positions, step)
        # This step's attention joins each beam's history, before the reordering.
        attention = tf.cast(attention, tf.float32)
        alive_attn = tf.where(at_step[None, :, None], attention[:, None, :], alive_attn)

        candidates = alive_logp[:, :, None] + tf.reshape(
            log_probs, [batch_size, beams, vocab_size])
        candidates = tf.reshape(candidates, [batch_size, beams * vocab_size])
        ends_at = tf.equal(tf.tile(tf.range(vocab_size), [beams]), end_id)

        # 1. [END] candidates among the best `beams` candidates finish now.
        top_logp, top_index = tf.math.top_k(candidates, k=beams)
        ends = tf.logical_and(tf.equal(top_index % vocab_size, end_id),
                              tf.greater(top_logp, NEG_INF))
        ends = tf.logical_and(ends, tf.greater_equal(step, min_length))
        end_rows = flat_rows(top_index // vocab_size)
        end_seq = tf.gather(alive_seq, end_rows)
        end_seq = tf.where(at_step[None, :], tf.constant(end_id, tf.int32), end_seq)
        end_attn = unflatten_beams(tf.gather(alive_attn, end_rows), beams)
        end_scores = tf.where(ends, score(top_logp, step + 1, end_attn), NEG_INF)

        # 2. The best `beams` candidates that do not end stay live.
        alive_logp, live_index = tf.math.top_k(
            tf.where(ends_at[None, :], NEG_INF, candidates), k=beams)
        live_rows = flat_rows(live_index // vocab_size)
        tokens = tf.reshape(live_index % vocab_size, [-1])
        alive_seq, alive_attn, state = gather_beams((alive_seq, alive_attn, state),
                                                    live_rows)
        alive_seq = tf.where(at_step[None, :], tokens[:, None], alive_seq)
        live_attn = unflatten_beams(alive_attn, beams)

        # 3. At its length cap an example's live hypotheses finish without [END].
        at_cap = tf.greater_equal(step + 1, caps)
        cap_scores = tf.where(at_cap[:, None], score(alive_logp, step + 1, live_attn),
                              NEG_INF)

        # The best `beams` of the finished, ending and capped hypotheses.
        fin_attn = fin_attn + tf.zeros_like(end_attn[:, :1])  # last dim 1 -> Ts
        pool_scores = tf.concat([fin_scores, end_scores, cap_scores], axis=1)
        new_scores, keep = tf.math.top_k(pool_scores, k=beams)
        lengths_now = tf.fill(tf.shape(fin_lengths), step)
        pool = (
            tf.concat([fin_seq, unflatten_beams(end_seq, beams),
                       unflatten_beams(alive_seq, beams)], axis=1),
            tf.concat([fin_lengths, lengths_now, lengths_now + 1], axis=1),
            tf.concat([fin_attn, end_attn, live_attn], axis=1),
        )
        new_seq, new_lengths, new_attn = tf.nest.map_structure(
            lambda x: tf.gather(x, keep, batch_dims=1), pool)
        keep_old = done[:, None]
        fin_scores = tf.where(keep_old, fin_scores, new_scores)
        fin_lengths = tf.where(keep_old, fin_lengths, new_lengths)
        fin_seq = tf.where(keep_old[:, :, None], fin_seq, new_seq)
        fin_attn = tf.where(keep_old[:, :, None, None], fin_attn, new_attn)

        # Done when no live hypothesis can beat the `num_return`-th finished one:
        # log-probabilities only decrease and the coverage term is at most 0.
        best_live = alive_logp[:, 0]
        if alpha:
            best_live = tf.maximum(
                best_live / gnmt_length_penalty(step + 2, alpha),
                best_live / gnmt_length_penalty(caps, alpha),
            )
        beaten = tf.greater_equal(fin_scores[:, num_return - 1], best_live)
        done = tf.logical_or(done, tf.logical_or(at_cap, beaten))
        return (step + 1, tokens, state, alive_seq, alive_logp, alive_attn, fin_seq,
                fin_lengths, fin_scores, fin_attn, done)

    def cond(step, *loop_vars):
        done = loop_vars[-1]
        # The first step always runs, so that the attention buffers learn Ts.
        return tf.logical_and(
            step < buffer_length,
            tf.logical_or(tf.equal(step, 0), tf.logical_not(tf.reduce_all(done))),
        )

    loop_vars = (tf.constant(0), tokens, state, alive_seq, alive_logp, alive_attn,
                 fin_seq, fin_lengths, fin_scores, fin_attn, done)
    shape_invariants = (
        tf.TensorShape([]),
        tf.TensorShape([None]),
        tf.nest.map_structure(_loose_batch_shape, state),
        tf.TensorShape([None, None]),
        tf.TensorShape([None, beams]),
        tf.TensorShape([None, None, None]),
        tf.TensorShape([None, beams, None]),
        tf.TensorShape([None, beams]),
        tf.TensorShape([None, beams]),
        tf.TensorShape([None, beams, None, None]),
        tf.TensorShape([None]),
    )
    outputs = tf.while_loop(cond, body, loop_vars, shape_invariants=shape_invariants,
                            maximum_iterations=buffer_length)
    fin_seq, fin_lengths, fin_scores, fin_attn = outputs[6:10]
    return BeamSearchResult(
        ids=fin_seq[:, :num_return],
        lengths=fin_lengths[:, :num_return],
        scores=fin_scores[:, :num_return],
        attention=fin_attn[:, :num_return],
    )


def _loose_batch_shape(value):
    shape = value.shape
    if shape.rank is None or shape.rank == 0:
        return shape
    return tf.TensorShape([None] + shape[1:].as_list())


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}"
        )


def _check_float(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"`{name}` must be a number. Received: {name}={value!r}")
    return float(value)
