"""Measuring a run: held-out token accuracies, greedy quality, the time budget.

`HeldOutEvaluator` measures, `StudyMonitor` (a Keras callback) calls it every
`eval_every_steps` steps and stops training when the budget is spent.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from keras_seq2seq import evaluation
from keras_seq2seq.checks import check_choice, check_positive_int
from keras_seq2seq.constants import PAD_ID

__all__ = ["CLOCKS", "HeldOutEvaluator", "StudyMonitor", "sequence_quality"]

CLOCKS = {"process": time.process_time, "wall": time.perf_counter}


def sequence_quality(model, sources, references, metric):
    """Greedy free-running quality: exact match in [0, 1] or BLEU in [0, 100]."""
    hypotheses = model.translate(list(sources), batch_size=500)
    if metric == "exact_match":
        return evaluation.exact_match(hypotheses, references)
    if metric == "bleu":
        return evaluation.corpus_bleu(hypotheses, references)
    raise ValueError(f"Unknown metric {metric!r}.")


class HeldOutEvaluator:
    """Token accuracies (teacher forced and free running) and greedy quality.

    The token accuracies are computed exactly as `Seq2Seq.test_step` does (argmax
    of `model(...)` and of `model.free_running_logits(...)` against the non-pad
    targets) but without touching the model's metric objects, so evaluating during
    `fit` does not disturb the running training accuracy that
    `TeacherForcingSwitch` watches.
    """

    def __init__(self, model, data):
        self.model = model
        self.data = data

        @tf.function(reduce_retracing=True)
        def counts(source_ids, decoder_input_ids, target_ids):
            target_ids = tf.cast(target_ids, tf.int32)
            mask = tf.cast(tf.not_equal(target_ids, PAD_ID), tf.float32)
            forced = model((source_ids, decoder_input_ids), training=False)
            free = model.free_running_logits(source_ids, decoder_input_ids)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(target_ids, forced)

            def correct(logits):
                hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), target_ids)
                return tf.reduce_sum(tf.cast(hits, tf.float32) * mask)

            return (correct(forced), correct(free), tf.reduce_sum(mask),
                    tf.reduce_sum(losses * mask))

        self._counts = counts

    def __call__(self):
        totals = np.zeros(4)
        for source_ids, decoder_input_ids, target_ids in self.data.eval_batches:
            totals += [float(v) for v in self._counts(source_ids, decoder_input_ids,
                                                      target_ids)]
        forced, free, count, loss = totals
        quality = sequence_quality(self.model, self.data.eval_sources,
                                   self.data.eval_references, self.data.metric)
        return {
            "teacher_forced_accuracy": forced / count,
            "free_running_accuracy": free / count,
            "gap": (forced - free) / count,
            "teacher_forced_loss": loss / count,
            self.data.metric: quality,
        }


class StudyMonitor(keras.callbacks.Callback):
    """Evaluates every `eval_every_steps` steps and stops at the time budget.

    The clock starts when the first training step (which traces the graph) ends
    and is paused while evaluating. An evaluation is recorded at step 0 (before
    training), every `eval_every_steps` steps, and at the last step.

    Args:
        evaluate: a function of no argument returning a dict of measurements.
        eval_every_steps: optimizer steps between evaluations.
        budget_seconds: training seconds (on `clock`) after which training stops.
        max_steps: optional cap on the optimizer steps.
        clock: "process" (CPU seconds of this process) or "wall".
        verbose: print one line per evaluation.
        label: prefix of the printed lines.
    """

    def __init__(self, evaluate, eval_every_steps=100, budget_seconds=60.0,
                 max_steps=None, clock="process", verbose=0, label=""):
        super().__init__()
        check_choice("clock", clock, CLOCKS)
        check_positive_int("eval_every_steps", eval_every_steps)
        self.evaluate = evaluate
        self.eval_every_steps = int(eval_every_steps)
        self.budget_seconds = float(budget_seconds)
        self.max_steps = None if max_steps is None else int(max_steps)
        self.clock_name = clock
        self._clock = CLOCKS[clock]
        self.verbose = verbose
        self.label = label
        self.records = []
        self.switch_step = None
        self.first_step_seconds = None
        self.eval_seconds = 0.0

    # time bookkeeping
    def _train_seconds(self):
        if self._clock_start is None:
            return 0.0
        return self._clock() - self._clock_start - self._paused

    def _record(self, step, logs=None):
        clock0, wall0 = self._clock(), time.perf_counter()
        ratio = float(self.model.teacher_forcing_ratio())
        record = {"step": step,
                  "train_seconds": round(self._train_seconds(), 3),
                  "wall_seconds": round(wall0 - self._wall_start, 3),
                  "ratio": ratio,
                  "schedule_ratio": float(self.model.teacher_forcing(step))}
        record.update(self.evaluate())
        if logs:
            for key in ("accuracy", "loss"):
                if key in logs:
                    record[f"train_{key}"] = float(logs[key])
        spent = self._clock() - clock0
        record["eval_seconds"] = round(time.perf_counter() - wall0, 3)
        if self._clock_start is not None:
            self._paused += spent
        self.eval_seconds += time.perf_counter() - wall0
        self.records.append(record)
        if self.verbose:
            quality = {k: v for k, v in record.items()
                       if k in ("exact_match", "bleu")}
            shown = ", ".join(f"{k} {v:.3f}" for k, v in quality.items())
            print(f"{self.label} step {step:5d}  t={record['train_seconds']:6.1f}s  "
                  f"ratio {ratio:.3f}  tf_acc {record['teacher_forced_accuracy']:.3f}  "
                  f"fr_acc {record['free_running_accuracy']:.3f}  {shown}", flush=True)
        return record

    def _step(self):
        return int(self.model.optimizer.iterations.numpy())

    def on_train_begin(self, logs=None):
        self.records = []
        self._clock_start = None
        self._paused = 0.0
        self._wall_start = time.perf_counter()
        self._record(self._step())
        self._first_start = self._clock()

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        if self._clock_start is None:
            # The first step traced the train function: not part of the budget.
            self.first_step_seconds = self._clock() - self._first_start
            self._clock_start = self._clock()
        if self.switch_step is None and self.model.switch_fired:
            self.switch_step = step
        done = self._train_seconds() >= self.budget_seconds or (
            self.max_steps is not None and step >= self.max_steps)
        if done or step % self.eval_every_steps == 0:
            self._record(step, logs)
        if done:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        step = self._step()
        if not self.records or self.records[-1]["step"] != step:
            self._record(step, logs)
