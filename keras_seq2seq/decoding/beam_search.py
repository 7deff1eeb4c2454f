"""Batched beam search over a model's step function, beams folded into the batch.

The decoder drives the step-function contract of `keras_seq2seq.decoding.greedy`:
`step_fn(token_ids, state) -> (logits, new_state, attention)`. The `beam_width` live
hypotheses of each example are folded into the batch dimension (`batch_size *
beam_width` rows, the beams of an example next to each other), so the step function
runs once per step on all of them. Only core TensorFlow ops, inside explicit
`tf.while_loop`s (no `GatherTree`, missing in TF Serving), so the same code runs
eagerly and traced without autograph.

The work of a step does not grow with the length decoded so far:

* every step the live hypotheses' state is reordered once, by the step function's
  declared `reorder_state(state, rows)` (the model passes
  `AttentionDecoder.reorder_state`, which leaves the encoder memory as tiled: it is
  the same on all the beams of an example), or else by one `tf.gather` per state
  leaf (`gather_beams`, right for any step function);
* no token or attention history is carried: each step records, in `TensorArray`s, the
  token and the parent beam of every live hypothesis and the attention of every row;
  a finished hypothesis is a pointer into those records (its last step, the beam it
  extends, its last token), and the returned hypotheses are rebuilt once, at the end,
  by walking the parent pointers backwards;
* the coverage penalty uses a running sum of each live hypothesis' attention (added
  step by step: it may differ from a sum over the returned attention in the last
  bits);
* the candidates are ranked from the best `beam_width + 1` extensions of each row
  (`best_extensions`, a two-stage top-k on large vocabularies), which hold an
  example's best `beam_width` candidates and its best `beam_width` that do not end.

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
from keras_seq2seq.checks import check_int, check_number
from keras_seq2seq.constants import END_ID, START_ID

require_tensorflow(__name__)

from keras_seq2seq.decoding.beams import (  # noqa: E402,F401  (public here too)
    CHUNKED_TOP_K_MIN_VOCAB,
    MIN_COVERAGE,
    NEG_INF,
    best_extensions,
    coverage_log_sum,
    coverage_log_sum_of_sums,
    flatten_beams,
    gather_beams,
    gnmt_length_penalty,
    tile_beams,
    unflatten_beams,
)
from keras_seq2seq.decoding.common import (  # noqa: E402
    as_max_lengths,
    loose_batch_shape,
    mask_end_before_min_length,
)

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


def beam_search(step_fn, initial_state, batch_size, beam_width=5, start_id=START_ID,
                end_id=END_ID, max_length=50, max_lengths=None, min_length=0,
                length_penalty=0.0, coverage_penalty=0.0, num_return=1,
                source_mask=None, reorder_state=None):
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
        reorder_state: optional `(state, rows) -> state`, the step function's own
            reordering of the hypotheses: `state` is a state of `step_fn` on
            `batch_size * beam_width` rows, `rows` int32 `(batch_size * beam_width,)`
            the row of `state` each new row copies (always a row of the same
            example), and it returns a state of the same structure and shapes. It
            may leave alone the leaves that are the same on all the beams of an
            example (as `AttentionDecoder.reorder_state` leaves the encoder
            memory). When None, every leaf is gathered (`gather_beams`).

    Returns:
        A `BeamSearchResult` with `ids (batch_size, num_return, max_length)`,
        `lengths (batch_size, num_return)`, `scores (batch_size, num_return)` and
        `attention (batch_size, num_return, max_length, Ts)`, best hypothesis first.
    """
    beams = check_int("beam_width", beam_width, minimum=1)
    num_return = check_int("num_return", num_return, minimum=1)
    if num_return > beams:
        raise ValueError(
            "`num_return` must be at most `beam_width`. Received: "
            f"num_return={num_return}, beam_width={beam_width}"
        )
    if not isinstance(min_length, (tf.Tensor, tf.Variable)):
        min_length = check_int("min_length", min_length, minimum=0)
    alpha = check_number("length_penalty", length_penalty)
    beta = check_number("coverage_penalty", coverage_penalty, low=0)
    if reorder_state is None:
        reorder_state = gather_beams
    elif not callable(reorder_state):
        raise ValueError("Expected a callable `(state, rows) -> state` for "
                         f"`reorder_state`. Received: reorder_state={reorder_state!r}")

    buffer_length, caps = as_max_lengths(max_length, batch_size, max_lengths)
    batch_offsets = tf.range(batch_size)[:, None] * beams
    if source_mask is not None:
        source_mask = tf.cast(source_mask, tf.bool)[:, None, :]  # (batch, 1, Ts)

    def score(log_probs, lengths, coverage):
        # log_probs (batch, beams); coverage (batch * beams, Ts), summed attention.
        scores = log_probs
        if alpha:
            scores = scores / gnmt_length_penalty(lengths, alpha)
        if beta:
            scores = scores + beta * coverage_log_sum_of_sums(
                unflatten_beams(coverage, beams), source_mask)
        return scores

    def flat_rows(beam_indices):
        # (batch, beams) beam indices -> (batch * beams,) rows of the folded batch.
        return tf.reshape(beam_indices + batch_offsets, [-1])

    tokens = tf.fill([batch_size * beams], tf.constant(start_id, tf.int32))
    state = tile_beams(initial_state, beams)
    # All beams start from the same [START]: only the first one is live at first.
    first_beam = tf.equal(tf.range(beams), 0)[None, :]
    alive_logp = tf.where(first_beam, 0.0, NEG_INF) + tf.zeros([batch_size, 1])
    # The running attention sum of each live hypothesis (for the coverage penalty):
    # `(batch * beams, Ts)` when the source mask tells Ts (one shape through the
    # loop, as XLA needs), else a last dimension 1 that broadcasts to Ts at the
    # first step.
    coverage_width = 1 if source_mask is None else tf.shape(source_mask)[-1]
    alive_coverage = tf.zeros([batch_size * beams, coverage_width], tf.float32)
    # A finished hypothesis is a pointer into the step records below:
    # [its length, the step of its last token, the live beam (after the step before)
    # that it extends, its last token]. An example capped at 0 tokens finishes at
    # once with the empty hypothesis (last step -1: no token).
    empty = tf.equal(caps, 0)
    fin_scores = tf.where(tf.logical_and(empty[:, None], first_beam), 0.0, NEG_INF)
    fin_info = tf.zeros([batch_size, beams, 4], tf.int32) + tf.constant(
        [0, -1, 0, 0], tf.int32)
    done = empty
    # Step records: the token and the parent beam of each live beam after the step,
    # and the attention of each row (before the reordering).
    # Fixed-size buffers: the steps not run stack as zeros, and under XLA every
    # shape is known at compile time.
    token_records = tf.TensorArray(tf.int32, size=buffer_length,
                                   element_shape=[None, beams])
    parent_records = tf.TensorArray(tf.int32, size=buffer_length,
                                    element_shape=[None, beams])
    attention_records = tf.TensorArray(tf.float32, size=buffer_length,
                                       element_shape=[None, None])
    end_token = tf.constant(end_id, tf.int32)

    def body(step, tokens, state, alive_logp, alive_coverage, fin_scores, fin_info,
             done, token_records, parent_records, attention_records):
        logits, new_state, attention = step_fn(tokens, state)
        logits = tf.cast(logits, tf.float32)
        logits = mask_end_before_min_length(logits, step, min_length, end_id)
        log_probs = tf.nn.log_softmax(logits)
        attention = tf.cast(attention, tf.float32)
        attention_records = attention_records.write(step, attention)
        if beta:
            # This step's attention joins each hypothesis' coverage, before the
            # reordering.
            alive_coverage = alive_coverage + attention

        # The candidates are every one-token extension of every live hypothesis. Only
        # the best `beams + 1` of each row can be among an example's best `beams`
        # candidates or its best `beams` candidates that do not end (a row has one
        # [END]), so the example-wide selections below run on those: ranked by
        # (score, beam, token), as over all the candidates.
        row_k = beams + 1
        vocab_size = logits.shape[-1]
        if vocab_size is None:
            row_k = tf.minimum(row_k, tf.shape(logits)[-1])
        else:
            row_k = min(row_k, vocab_size)
        row_logp, row_tokens = best_extensions(
            log_probs, tf.reshape(alive_logp, [-1, 1]), row_k)
        candidates = tf.reshape(row_logp, [batch_size, -1])
        candidate_tokens = tf.reshape(row_tokens, [batch_size, -1])

        # 1. [END] candidates among the best `beams` candidates finish now.
        top_logp, top_index = tf.math.top_k(candidates, k=beams)
        end_parents = top_index // row_k
        ends = tf.logical_and(
            tf.equal(tf.gather(candidate_tokens, top_index, batch_dims=1), end_id),
            tf.greater(top_logp, NEG_INF))
        ends = tf.logical_and(ends, tf.greater_equal(step, min_length))
        end_coverage = (tf.gather(alive_coverage, flat_rows(end_parents)) if beta
                        else None)
        end_scores = tf.where(ends, score(top_logp, step + 1, end_coverage), NEG_INF)

        # 2. The best `beams` candidates that do not end stay live.
        alive_logp, live_index = tf.math.top_k(
            tf.where(tf.equal(candidate_tokens, end_id), NEG_INF, candidates),
            k=beams)
        live_parents = live_index // row_k
        live_tokens = tf.gather(candidate_tokens, live_index, batch_dims=1)
        live_rows = flat_rows(live_parents)
        tokens = tf.reshape(live_tokens, [-1])
        state = reorder_state(new_state, live_rows)
        if beta:
            alive_coverage = tf.gather(alive_coverage, live_rows)
        token_records = token_records.write(step, live_tokens)
        parent_records = parent_records.write(step, live_parents)

        # 3. At its length cap an example's live hypotheses finish without [END].
        at_cap = tf.greater_equal(step + 1, caps)
        cap_scores = tf.where(at_cap[:, None],
                              score(alive_logp, step + 1, alive_coverage), NEG_INF)

        # The best `beams` of the finished, ending and capped hypotheses.
        pool_scores = tf.concat([fin_scores, end_scores, cap_scores], axis=1)
        new_scores, keep = tf.math.top_k(pool_scores, k=beams)
        steps_now = tf.fill(tf.shape(end_parents), step)
        pool_info = tf.concat([
            fin_info,
            tf.stack([steps_now, steps_now, end_parents,
                      tf.fill(tf.shape(end_parents), end_token)], axis=-1),
            tf.stack([steps_now + 1, steps_now, live_parents, live_tokens], axis=-1),
        ], axis=1)
        new_info = tf.gather(pool_info, keep, batch_dims=1)
        keep_old = done[:, None]
        fin_scores = tf.where(keep_old, fin_scores, new_scores)
        fin_info = tf.where(keep_old[:, :, None], fin_info, new_info)

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
        return (step + 1, tokens, state, alive_logp, alive_coverage, fin_scores,
                fin_info, done, token_records, parent_records, attention_records)

    def cond(step, *loop_vars):
        done = loop_vars[-4]
        # The first step always runs (as it did when the attention buffers had to
        # learn Ts): the number of `step_fn` calls is part of the behaviour.
        return tf.logical_and(
            step < buffer_length,
            tf.logical_or(tf.equal(step, 0), tf.logical_not(tf.reduce_all(done))),
        )

    loop_vars = (tf.constant(0), tokens, state, alive_logp, alive_coverage, fin_scores,
                 fin_info, done, token_records, parent_records, attention_records)
    shape_invariants = (
        tf.TensorShape([]),
        tf.TensorShape([None]),
        tf.nest.map_structure(loose_batch_shape, state),
        tf.TensorShape([None, beams]),
        tf.TensorShape([None, None]),
        tf.TensorShape([None, beams]),
        tf.TensorShape([None, beams, 4]),
        tf.TensorShape([None]),
        tf.TensorShape(None),
        tf.TensorShape(None),
        tf.TensorShape(None),
    )
    outputs = tf.while_loop(cond, body, loop_vars, shape_invariants=shape_invariants,
                            maximum_iterations=buffer_length)
    steps_run = outputs[0]
    fin_scores = outputs[5][:, :num_return]
    fin_info = outputs[6][:, :num_return]
    token_records, parent_records, attention_records = outputs[8:]
    # A slot no hypothesis could fill (score -inf) holds no tokens.
    filled = tf.greater(fin_scores, NEG_INF)
    lengths = tf.where(filled, fin_info[:, :, 0], 0)
    last_steps = tf.where(filled, fin_info[:, :, 1], -1)

    def backtrack():
        return _backtrack(
            token_records.stack(), parent_records.stack(),
            _unflatten_time_beams(attention_records.stack(), batch_size, beams),
            last_steps, fin_info[:, :, 2], fin_info[:, :, 3], steps_run)

    def nothing_run():  # a max_length of 0 (given as a tensor): no step ran
        return (tf.zeros([batch_size, num_return, 0], tf.int32),
                tf.zeros([batch_size, num_return, 0, 1], tf.float32))

    static_length = tf.get_static_value(buffer_length)
    if static_length is not None and static_length > 0:
        ids, attention = backtrack()  # the first step always runs (XLA: one shape)
    else:
        ids, attention = tf.cond(tf.greater(steps_run, 0), backtrack, nothing_run)
    ids.set_shape([None, num_return, None])
    attention.set_shape([None, num_return, None, None])
    return BeamSearchResult(ids=ids, lengths=lengths, scores=fin_scores,
                            attention=attention)


def _unflatten_time_beams(records, batch_size, beam_width):
    """Unfolds the beams of step records.

    Args:
        records: a `(steps, batch_size * beam_width, ...)` tensor.
        batch_size: scalar int, the batch size.
        beam_width: int, the number of beams.

    Returns:
        The `(steps, batch_size, beam_width, ...)` reshaped tensor.
    """
    shape = tf.shape(records)
    return tf.reshape(records, tf.concat([[shape[0], batch_size, beam_width], shape[2:]],
                                         axis=0))


def _backtrack(tokens, parents, attention, last_steps, last_parents, last_tokens,
               steps_run):
    """The tokens and attention of finished hypotheses, from the step records.

    Walks the steps backwards from the last one, following each hypothesis' parent
    pointers; only core TensorFlow ops (`tf.gather` with `batch_dims` in an explicit
    `tf.while_loop`), no `GatherTree`.

    Args:
        tokens: int32 `(buffer_length, batch_size, beam_width)`, the token of each
            live beam after each step (zeros after the steps run).
        parents: int32 `(buffer_length, batch_size, beam_width)`, the beam (in the
            order before the step) that each live beam after the step extends.
        attention: float32 `(buffer_length, batch_size, beam_width, Ts)`, the attention of
            each beam (in the order before the step) at each step.
        last_steps: int32 `(batch_size, n)`, the step of each hypothesis' last token
            (-1 for a hypothesis without tokens).
        last_parents: int32 `(batch_size, n)`, the beam (in the order before that
            step) that the last token extends.
        last_tokens: int32 `(batch_size, n)`, the last token.
        steps_run: scalar int32, the number of steps run (<= buffer_length).

    Returns:
        `(ids, attention)`: int32 `(batch_size, n, buffer_length)` with 0 after the
        last token, and float32 `(batch_size, n, buffer_length, Ts)` with zeros
        after it.
    """
    buffer_length = tf.shape(tokens)[0]
    # Written from the last step run down; the steps after it stack as zeros.
    id_records = tf.TensorArray(tf.int32, size=buffer_length,
                                element_shape=last_steps.shape)
    attention_records = tf.TensorArray(tf.float32, size=buffer_length,
                                       element_shape=last_steps.shape.concatenate(
                                           attention.shape[-1:]))

    def body(step, pointer, id_records, attention_records):
        # `pointer`: the live beam after `step` that each hypothesis goes through
        # (meaningful where `step` < its last step).
        at_last = tf.equal(step, last_steps)
        before = tf.less(step, last_steps)
        previous = tf.gather(parents[step], pointer, batch_dims=1)
        token = tf.gather(tokens[step], pointer, batch_dims=1)
        pointer = tf.where(at_last, last_parents, previous)
        token = tf.where(at_last, last_tokens, tf.where(before, token, 0))
        weights = tf.gather(attention[step], pointer, batch_dims=1)
        ran = tf.logical_or(at_last, before)[:, :, None]
        weights = tf.where(ran, weights, tf.zeros_like(weights))
        return (step - 1, pointer, id_records.write(step, token),
                attention_records.write(step, weights))

    _, _, id_records, attention_records = tf.while_loop(
        lambda step, *_: step >= 0, body,
        (steps_run - 1, tf.zeros_like(last_steps), id_records, attention_records))
    ids = tf.transpose(id_records.stack(), [1, 2, 0])
    attention = tf.transpose(attention_records.stack(), [1, 2, 0, 3])
    return ids, attention
