"""Scheduled sampling (Bengio et al. 2015): which token the decoder is fed in training.

Everything about the training policy lives here; the decoder layer only runs steps.

* The ratio: `capped_ratio(schedule, step, cap)` is the schedule's teacher-forcing
  ratio εᵢ at optimizer step i, capped once an accuracy-triggered switch fired
  (`callbacks.TeacherForcingSwitch` saves the cap as a model weight, -1 = not fired);
  `switch_fired(cap)` and `always_teacher_forced(schedule, cap, attached)` read that
  saved state, so a reloaded model follows it.
* The coins: `use_truth_coins` draws, statelessly from `(seed, step)`, where the
  ground truth is fed: one coin per batch ("batch") or per target token ("token").
* The feedback: `pick_feedback` turns logits into the token fed back where a coin
  says "model": the argmax, or a stateless sample.
* The mixing, two ways:
  - `sequential_logits` (exact): the decoder's step loop, where each step's
    prediction becomes the next step's input;
  - `parallel_logits` (Duckworth et al. 2019): teacher-forced passes without
    gradient predict every token at once, the predictions are shifted in where
    the coins say "model", and the final pass, with gradient, takes the fast
    teacher-forced path.
* `never_teacher_forced(schedule, granularity)` says when the teacher-forced path
  can never be taken (per-token coins, a ratio below 1 at every step).
* `scheduled_logits` puts them together for `Seq2Seq.scheduled_forward`.

Every random draw is keyed on `step_key(seed, step, salt)`: a resumed run makes the
same draws as an uninterrupted one.
"""

import tensorflow as tf

from keras_seq2seq.models.losses import default_chunk_rows

GRANULARITIES = ("batch", "token")
FEEDBACKS = ("argmax", "sample")
MODES = ("sequential", "parallel")

# Salts of the stateless keys: one stream per use.
_BATCH_COIN, _TOKEN_COINS, _SEQUENTIAL_SAMPLES, _PARALLEL_SAMPLES = range(4)

__all__ = [
    "FEEDBACKS",
    "always_teacher_forced",
    "GRANULARITIES",
    "MODES",
    "capped_ratio",
    "never_teacher_forced",
    "parallel_logits",
    "pick_feedback",
    "projected_feedback",
    "scheduled_logits",
    "sequential_logits",
    "step_key",
    "switch_fired",
    "teacher_forced_now",
    "use_truth_coins",
]


def step_key(seed, step, salt):
    """The int32 `(2,)` key of a stateless draw: `[seed + salt, step]`."""
    return tf.stack([tf.cast(seed, tf.int32) + salt, tf.cast(step, tf.int32)])


def capped_ratio(schedule, step, cap):
    """The teacher-forcing ratio at `step`, capped by a fired switch.

    Args:
        schedule: a `keras_seq2seq.schedules.TeacherForcingSchedule`.
        step: int scalar, the optimizer step.
        cap: float scalar (a variable): the switch's cap, negative when not fired.

    Returns:
        float32 scalar: `schedule(step)`, or `min(schedule(step), cap)` once fired.
    """
    ratio = schedule(step)
    cap = tf.cast(cap, tf.float32)
    return tf.where(cap >= 0.0, tf.minimum(ratio, cap), ratio)


def switch_fired(cap):
    """Whether the accuracy-triggered switch fired: its saved cap is >= 0.

    Args:
        cap: the model's `teacher_forcing_cap` weight (-1 until the switch fires).

    Returns:
        Python bool, read from the variable's value (also while a function traces).
    """
    with tf.init_scope():
        return float(tf.convert_to_tensor(cap)) >= 0.0


def always_teacher_forced(schedule, cap, switch_attached):
    """Whether training can only ever take the teacher-forced path.

    Args:
        schedule: the `TeacherForcingSchedule`.
        cap: the switch's saved cap (see `switch_fired`).
        switch_attached: whether a `TeacherForcingSwitch` is attached (it may fire
            during the run).

    Returns:
        Python bool: the schedule is 1 at every step, no switch is attached and none
        has fired.
    """
    return schedule.is_always_one and not switch_attached and not switch_fired(cap)


def never_teacher_forced(schedule, granularity):
    """Whether training can never take the teacher-forced path.

    That is with per-token coins ("token") under a schedule whose ratio is below 1
    at every step (`is_always_below_one`): `teacher_forced_now` is then False at
    every step, and a switch's cap can only lower the ratio. Read when the train
    step is traced, it spares the `tf.cond` and its never-taken teacher-forced
    branch (its graph, its gradient and their memory).

    Args:
        schedule: the `TeacherForcingSchedule`.
        granularity: "batch" or "token".

    Returns:
        Python bool.
    """
    return granularity == "token" and schedule.is_always_below_one


def use_truth_coins(granularity, shape, ratio, seed, step):
    """Where the ground truth is fed: bool `shape` (`(batch_size, T)`).

    Args:
        granularity: "batch" (one coin for the whole batch) or "token" (one coin
            per position).
        shape: int `(2,)`, the decoder inputs' shape.
        ratio: float32 scalar, the probability of feeding the ground truth.
        seed, step: key of the stateless draws (see `step_key`).

    Returns:
        bool tensor of `shape`, True where the ground truth is fed.
    """
    if granularity == "batch":
        return tf.fill(shape, _batch_coin(ratio, seed, step))
    coins = tf.random.stateless_uniform(shape, seed=step_key(seed, step, _TOKEN_COINS))
    return coins < ratio


def pick_feedback(logits, feedback, key):
    """The token fed back from `logits`: argmax or a stateless sample.

    Args:
        logits: float `(N, vocabulary_size)`.
        feedback: "argmax" or "sample".
        key: int32 `(2,)` stateless key (used by "sample").

    Returns:
        int32 `(N,)`.
    """
    if feedback == "sample":
        return tf.cast(tf.random.stateless_categorical(logits, 1, seed=key)[:, 0],
                       tf.int32)
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def projected_feedback(decoder, attentional, feedback, key, chunk_rows=None):
    """`pick_feedback` of the logits of attentional vectors, a chunk of rows at a time.

    The `(N, vocabulary_size)` logits never exist whole (peak memory: at batch 512
    half the target tokens' logits are ~100 MB of float32): a `tf.while_loop` projects
    `chunk_rows` rows, picks their tokens and keeps only those. Not XLA-compilable
    (the last chunk's shape is dynamic); XLA-compiled steps project all rows at once.

    Args:
        decoder: the `AttentionDecoder` whose `project` gives the logits.
        attentional: `(N, A)` attentional vectors, N >= 0.
        feedback: "argmax" or "sample".
        key: int32 `(2,)` stateless key (folded with the chunk index for "sample").
        chunk_rows: rows a chunk (default: `losses.default_chunk_rows(V)`, as the
            loss chunks).

    Returns:
        int32 `(N,)`: the token picked for each row.
    """
    if chunk_rows is None:
        chunk_rows = default_chunk_rows(decoder.vocabulary_size)
    count = tf.shape(attentional)[0]
    chunks = tf.maximum(1, (count + chunk_rows - 1) // chunk_rows)

    def body(index, picked):
        rows = attentional[index * chunk_rows:(index + 1) * chunk_rows]
        tokens = pick_feedback(decoder.project(rows), feedback,
                               tf.random.experimental.stateless_fold_in(key, index))
        return index + 1, picked.write(index, tokens)

    _, picked = tf.while_loop(
        lambda index, _: index < chunks, body,
        (tf.constant(0), tf.TensorArray(tf.int32, size=chunks, infer_shape=False,
                                        element_shape=tf.TensorShape([None]))))
    return picked.concat()


def sequential_logits(decoder, decoder_input_ids, memory, memory_mask, initial_state,
                      use_truth, feedback="argmax", key=None, training=None,
                      projected=True):
    """Exact scheduled sampling through the decoder's step loop.

    Step t is fed `decoder_input_ids[:, t]` where `use_truth[:, t]` (and always at
    t = 0, the `[START]` token), else the model's prediction at step t-1. Only the
    rows whose next input is a prediction are projected to the vocabulary (the
    projection is most of a step's FLOPs), without gradient.

    Args:
        decoder: a `keras_seq2seq.layers.AttentionDecoder`.
        decoder_input_ids: int `(batch_size, T)`.
        memory, memory_mask, initial_state: the encoder's outputs, source mask and
            the decoder's initial RNN states.
        use_truth: bool `(batch_size, T)`.
        feedback: "argmax" or "sample".
        key: int32 `(2,)` stateless key of the samples (folded with t per step).
        training: Python bool or None.
        projected: False returns the attentional vectors `(batch_size, T, A)`
            instead of the logits (the decoder's `call(projected=False)`).

    Returns:
        float32 logits `(batch_size, T, vocabulary_size)`.
    """
    ids = tf.cast(decoder_input_ids, tf.int32)
    batch_size = tf.shape(ids)[0]
    # One extra row each: after the last step nothing is fed back.
    truth = tf.concat([tf.transpose(ids), tf.zeros([1, batch_size], tf.int32)], 0)
    use_truth = tf.concat([tf.transpose(tf.cast(use_truth, tf.bool)),
                           tf.ones([1, batch_size], tf.bool)], 0)
    if key is None:
        key = tf.zeros([2], tf.int32)

    def next_tokens(t, attentional):
        rows = tf.where(tf.logical_not(use_truth[t + 1]))[:, 0]
        logits = decoder.project(tf.stop_gradient(tf.gather(attentional, rows)))
        predicted = pick_feedback(logits, feedback,
                                  tf.random.experimental.stateless_fold_in(key, t))
        return tf.tensor_scatter_nd_update(truth[t + 1], rows[:, None], predicted)

    return decoder.run_loop(ids, memory, memory_mask, initial_state, training=training,
                            next_tokens=next_tokens, projected=projected)


def parallel_logits(decoder, decoder_input_ids, memory, memory_mask, initial_state,
                    use_truth, feedback="argmax", key=None, passes=1, training=None,
                    projected=True, chunked=True):
    """Parallel scheduled sampling (Duckworth et al. 2019).

    Each of `passes` passes runs the teacher-forced decoder on the current inputs
    without gradient, picks its predictions (`pick_feedback`), shifts them one step
    right (the prediction made at step t-1 is the input of step t) and puts them
    where `use_truth` is False; the final pass, with gradient, trains on those mixed
    inputs through the fast teacher-forced path. A pass takes the attentional layer
    and the projection only at the positions whose prediction is fed, and (with
    `chunked`) projects them a chunk at a time (`projected_feedback`).

    Args:
        decoder, decoder_input_ids, memory, memory_mask, initial_state, use_truth,
            feedback, key, training, projected: as in `sequential_logits`.
        passes: int >= 1, the passes that produce the mixed inputs.
        chunked: pick the fed tokens with `projected_feedback` (False: project all
            the fed positions at once, as an XLA-compiled step must).

    Returns:
        float32 logits `(batch_size, T, vocabulary_size)`.
    """
    ids = tf.cast(decoder_input_ids, tf.int32)
    # (b, t) of every prediction that is fed: the input of step t + 1 is "model".
    # Only those positions go through the attentional layer and the projection
    # (most of a pass's FLOPs); the first input is always [START].
    fed = tf.where(tf.logical_not(tf.cast(use_truth, tf.bool)[:, 1:]))
    fed_inputs = fed + tf.constant([0, 1], fed.dtype)
    if key is None:
        key = tf.zeros([2], tf.int32)
    memory_ng = tf.stop_gradient(memory)
    state_ng = tf.nest.map_structure(tf.stop_gradient, initial_state)
    inputs = ids
    for index in range(passes):
        attentional = tf.stop_gradient(decoder(
            inputs, memory_ng, memory_mask=memory_mask, initial_state=state_ng,
            training=training, projected=False, at=fed))
        pass_key = tf.random.experimental.stateless_fold_in(key, index)
        if chunked:
            predicted = projected_feedback(decoder, attentional, feedback, pass_key)
        else:
            predicted = pick_feedback(decoder.project(attentional), feedback, pass_key)
        inputs = tf.tensor_scatter_nd_update(ids, fed_inputs, predicted)
    return decoder(inputs, memory, memory_mask=memory_mask,
                   initial_state=initial_state, training=training, projected=projected)


def teacher_forced_now(granularity, ratio, seed, step):
    """bool scalar: whether this batch takes the fast teacher-forced path.

    With "batch" granularity when the batch's coin says "teacher"; with "token"
    coins when the ratio is 1 (every coin says "teacher").
    """
    if granularity == "batch":
        return _batch_coin(ratio, seed, step)
    return ratio >= 1.0


def scheduled_logits(decoder, decoder_input_ids, memory, memory_mask, initial_state,
                     ratio, step, seed=0, granularity="batch", feedback="argmax",
                     mode="sequential", passes=1, training=True, xla=False, path=None,
                     projected=True):
    """Logits under teacher-forcing ratio `ratio`: what `Seq2Seq.train_step` trains on.

    At ratio 1 (token coins) or when the batch coin says "teacher", the fast
    teacher-forced path runs (whole-sequence RNN layers, cuDNN on a GPU) behind a
    `tf.cond`. XLA cannot compile the Keras RNN layer's while loop inside a
    `tf.cond` branch, so with `xla=True` the mixing always runs, on all-true coins
    where the fast path would have.

    Args:
        decoder, decoder_input_ids, memory, memory_mask, initial_state: as in
            `sequential_logits`.
        ratio: float32 scalar, the probability of feeding the ground truth.
        step: int scalar keying the stateless coins and samples.
        seed: int, the model's seed.
        granularity: "batch" or "token".
        feedback: "argmax" or "sample".
        mode: "sequential" or "parallel".
        passes: passes of the parallel mode.
        training: Python bool.
        xla: whether the step is XLA-compiled.
        path: None (choose with `teacher_forced_now`, in a `tf.cond`), "teacher" or
            "mixed" (a caller that chooses itself: `Seq2Seq.train_step` puts the
            whole gradient computation in each branch of its own `tf.cond`).
        projected: False returns the attentional vectors `(batch_size, T, A)`
            instead of the logits.

    Returns:
        float32 logits `(batch_size, T, vocabulary_size)`.
    """
    ids = tf.cast(decoder_input_ids, tf.int32)
    use_truth = use_truth_coins(granularity, tf.shape(ids), ratio, seed, step)

    def teacher_forced():
        return decoder(ids, memory, memory_mask=memory_mask,
                       initial_state=initial_state, training=training,
                       projected=projected)

    def mixed():
        if mode == "parallel":
            return parallel_logits(
                decoder, ids, memory, memory_mask, initial_state, use_truth, feedback,
                step_key(seed, step, _PARALLEL_SAMPLES), passes, training, projected,
                chunked=not xla)
        return sequential_logits(
            decoder, ids, memory, memory_mask, initial_state, use_truth, feedback,
            step_key(seed, step, _SEQUENTIAL_SAMPLES), training, projected)

    if xla or path == "mixed":
        return mixed()
    if path == "teacher":
        return teacher_forced()
    return tf.cond(teacher_forced_now(granularity, ratio, seed, step), teacher_forced,
                   mixed)


def _batch_coin(ratio, seed, step):
    """bool scalar: the batch's one coin says "teacher"."""
    coin = tf.random.stateless_uniform([], seed=step_key(seed, step, _BATCH_COIN))
    return coin < ratio
