"""The teacher-forcing study: the same model, data, seed and time budget per regime.

`run_study` trains one small `Seq2Seq` per (regime, seed) for a fixed budget of
training seconds and, every `eval_every_steps` optimizer steps, measures on a fixed
held-out set:

* the teacher-forced token accuracy (the model fed the ground truth, as in
  `Seq2Seq.test_step`'s `accuracy`);
* the free-running token accuracy (the model fed its own argmax, as in
  `free_running_accuracy`);
* their gap, the exposure bias made visible;
* the free-running sequence quality of greedy `model.translate`: exact match for the
  date task, BLEU (sacrebleu) for Multi30k;
* the teacher-forcing ratio in use (`model.teacher_forcing_ratio()`, the schedule's
  value capped by the switch) and the clocks.

It writes `results.json` (every raw curve), `results.md` (mean ± spread over seeds)
and PNG plots into the output folder; `write_report(load_results(path), folder)`
redraws them from a saved JSON.

The regimes (`default_regimes`) are the package's default (constant 1), constant 0.5,
linear, exponential and inverse-sigmoid decays planned to go from about 1 to
`final_ratio` over the steps the budget allows, the accuracy-triggered switch
(`callbacks.TeacherForcingSwitch`), batch vs token granularity and argmax vs sampled
feedback, and `teacher_forcing_mode="parallel"` when `Seq2Seq` accepts it.

Budget and clocks: the first training step (which traces the graph) is not counted;
evaluations pause the clock. With `clock="process"` (the default) the budget is
process CPU seconds (`time.process_time`), so that other jobs on a shared machine
do not shorten one regime's training more than another's; `clock="wall"` uses
`time.perf_counter`. Both clocks are logged at every evaluation.
"""

import dataclasses
import datetime
import inspect
import json
import math
import os
import platform
import sys
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_seq2seq import evaluation, schedules
from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq.callbacks import TeacherForcingSwitch
from keras_seq2seq.models import Seq2Seq

require_tensorflow(__name__)

__all__ = [
    "DECAYS",
    "Regime",
    "StudyMonitor",
    "TaskData",
    "build_model",
    "calibrate_step_seconds",
    "default_regimes",
    "load_results",
    "parallel_mode_available",
    "planned_decay",
    "prepare_task",
    "results_table",
    "run_regime",
    "run_study",
    "summarize",
    "write_report",
]

PAD_ID, START_ID, END_ID = 0, 2, 3
DECAYS = ("linear", "exponential", "inverse_sigmoid")
CLOCKS = {"process": time.process_time, "wall": time.perf_counter}

DATES_MODEL = dict(embedding_dim=16, units=32, cell_type="gru", bidirectional=False,
                   attention="general", max_decode_length=16)
"""The study's date model: small on purpose, so that 100% is not reached at once
(docs/teacher_forcing.md, "The task", says why 32 units)."""

MULTI30K_MODEL = dict(embedding_dim=256, units=512, cell_type="gru", bidirectional=True,
                      attention="general", max_decode_length=60)
"""The study's Multi30k model. With SentencePiece 8,000, Adam 2e-3 clipped at 5 and
batch 128 (the CLI's `--task multi30k` defaults, `study_command.MULTI30K_DEFAULTS`) it
leaves the constant-output plateau within ~230 steps; at embedding 128 / GRU 256 it
stayed there for over a thousand (docs/teacher_forcing.md, "Multi30k")."""


# ---------------------------------------------------------------------- regimes
@dataclasses.dataclass(frozen=True)
class Regime:
    """One way of training: a ratio schedule, its granularity, feedback and switch.

    Args:
        name: short identifier (used in tables, plots and JSON keys).
        schedule: a float (constant ratio), a `TeacherForcingSchedule` or schedule
            dict (used as is), or one of `DECAYS` ("linear", "exponential",
            "inverse_sigmoid"): a decay from about 1 to the study's `final_ratio`
            at the study's planned step count (see `planned_decay`).
        granularity: "batch" or "token" (`teacher_forcing_granularity`).
        feedback: "argmax" or "sample" (`teacher_forcing_feedback`).
        switch: keyword arguments of `callbacks.TeacherForcingSwitch`, or None.
        mode: `teacher_forcing_mode` of the model (e.g. "parallel"), or None to
            leave the model's default.
        description: a human-readable line for the table.
    """

    name: str
    schedule: object = 1.0
    granularity: str = "batch"
    feedback: str = "argmax"
    switch: dict = None
    mode: str = None
    description: str = ""

    def make_schedule(self, planned_steps, final_ratio=0.1):
        """The `TeacherForcingSchedule` of this regime for a run of `planned_steps`."""
        if isinstance(self.schedule, str) and self.schedule in DECAYS:
            return planned_decay(self.schedule, planned_steps, final_ratio)
        return schedules.get(self.schedule)

    def to_json(self):
        schedule = self.schedule
        if not isinstance(schedule, (str, int, float, dict)):
            schedule = schedules.serialize(schedules.get(schedule))
        return {"name": self.name, "schedule": schedule,
                "granularity": self.granularity, "feedback": self.feedback,
                "switch": self.switch, "mode": self.mode,
                "description": self.description}


def parallel_mode_available():
    """Whether `Seq2Seq` accepts `teacher_forcing_mode` (the "parallel" fast mode)."""
    return "teacher_forcing_mode" in inspect.signature(Seq2Seq.__init__).parameters


def default_regimes(switch_threshold=0.9, include_parallel=None):
    """The study's regimes (see the module docstring); "parallel" when available."""
    regimes = [
        Regime("tf_1.0", 1.0, "batch", description="constant 1 (package default)"),
        Regime("const_0.5_batch", 0.5, "batch", description="constant 0.5, per batch"),
        Regime("const_0.5_token", 0.5, "token", description="constant 0.5, per token"),
        Regime("linear_token", "linear", "token", description="linear decay, per token"),
        Regime("exp_token", "exponential", "token",
               description="exponential decay, per token"),
        Regime("invsig_batch", "inverse_sigmoid", "batch",
               description="inverse-sigmoid decay, per batch"),
        Regime("invsig_token", "inverse_sigmoid", "token",
               description="inverse-sigmoid decay, per token (the demo's setting)"),
        Regime("invsig_token_sample", "inverse_sigmoid", "token", "sample",
               description="inverse-sigmoid decay, per token, sampled feedback"),
        Regime("switch_acc", 1.0, "batch",
               switch=dict(monitor="accuracy", threshold=switch_threshold, ratio=0.0,
                           check="batch"),
               description=f"constant 1, then 0 once training accuracy >= "
                           f"{switch_threshold} (TeacherForcingSwitch, per batch)"),
    ]
    if include_parallel is None:
        include_parallel = parallel_mode_available()
    if include_parallel:
        regimes.append(Regime("parallel_invsig_token", "inverse_sigmoid", "token",
                              mode="parallel",
                              description="inverse-sigmoid decay, per token, "
                                          "teacher_forcing_mode='parallel'"))
    return regimes


def _inverse_sigmoid_k(steps, final_ratio):
    """k such that k / (k + exp(steps / k)) = final_ratio (bisection; monotone in k)."""
    def ratio(k):
        return k / (k + math.exp(min(steps / k, 700.0)))

    low, high = 1.0, max(2.0, float(steps))
    if ratio(low) >= final_ratio:  # too few steps to decay that far
        return 1.0
    for _ in range(100):
        k = (low + high) / 2
        low, high = (k, high) if ratio(k) < final_ratio else (low, k)
    return (low + high) / 2


def planned_decay(name, planned_steps, final_ratio=0.1):
    """A decay from about 1 at step 0 to `final_ratio` at `planned_steps`, then flat.

    * linear: `LinearDecay(slope=(1 - final_ratio) / planned_steps, start=1)`;
    * exponential: `ExponentialDecay(k=final_ratio ** (1 / planned_steps))`;
    * inverse_sigmoid: `InverseSigmoidDecay(k)` with k solving
      k / (k + exp(planned_steps / k)) = final_ratio (starts at k / (k + 1) ≈ 1).

    Each has `minimum=final_ratio`, so a regime that runs more steps than planned
    stays at `final_ratio`.
    """
    planned_steps = max(1, int(planned_steps))
    if not 0.0 < final_ratio < 1.0:
        raise ValueError(f"`final_ratio` must lie in (0, 1). Received: {final_ratio!r}")
    if name == "linear":
        return schedules.LinearDecay(slope=(1.0 - final_ratio) / planned_steps,
                                     start=1.0, minimum=final_ratio)
    if name == "exponential":
        return schedules.ExponentialDecay(k=final_ratio ** (1.0 / planned_steps),
                                          minimum=final_ratio)
    if name == "inverse_sigmoid":
        return schedules.InverseSigmoidDecay(
            k=_inverse_sigmoid_k(planned_steps, final_ratio), minimum=final_ratio)
    raise ValueError(f"Unknown decay {name!r}. Expected one of {DECAYS}.")


# ---------------------------------------------------------------------- tasks
@dataclasses.dataclass
class TaskData:
    """A task's tokenizers, training dataset and held-out sets.

    `eval_batches` are padded numpy batches `(source_ids, decoder_input_ids,
    target_ids)` of the evaluation set (whose strings are `eval_sources` /
    `eval_references`); `test_*` is the set scored once at the end.
    `metric` is "exact_match" (dates) or "bleu" (Multi30k).
    """

    name: str
    source_tokenizer: object
    target_tokenizer: object
    train_sources: list
    train_targets: list
    eval_sources: list
    eval_references: list
    test_sources: list
    test_references: list
    eval_batches: list
    metric: str
    model_options: dict
    batch_size: int = 64
    info: dict = dataclasses.field(default_factory=dict)

    def train_dataset(self, seed):
        """The shuffled training batches (the order depends on `seed` only)."""
        from keras_seq2seq.text import make_dataset

        return make_dataset(self.train_sources, self.train_targets,
                            self.source_tokenizer, self.target_tokenizer,
                            batch_size=self.batch_size, seed=seed)

    @property
    def steps_per_epoch(self):
        return -(-len(self.train_sources) // self.batch_size)


def _eval_batches(sources, targets, source_tokenizer, target_tokenizer, batch_size):
    from keras_seq2seq.text import make_dataset

    dataset = make_dataset(sources, targets, source_tokenizer, target_tokenizer,
                           batch_size=batch_size, shuffle=False, prefetch=False)
    return [(x[0], x[1], y) for x, y in dataset.as_numpy_iterator()]


def prepare_task(task="dates", train_size=3000, eval_size=500, test_size=1000,
                 batch_size=64, data_seed=0, eval_batch_size=250, data_dir=None,
                 tokenizer="word", vocabulary_size=8000, lowercase=True,
                 max_length=50):
    """Builds a `TaskData`.

    Args:
        task: "dates" (the package's synthetic date normalisation, character
            tokens, exact match) or "multi30k" (German -> English from
            `data_dir`: `train.de/.en`, `val.de/.en`, `test_2016_flickr.de/.en`,
            read with `read_split_folder`; BLEU).
        train_size: training pairs (Multi30k: the first `train_size` lines; None
            for all).
        eval_size: held-out pairs evaluated every `eval_every_steps` (dates:
            the validation split; Multi30k: the first lines of `val`).
        test_size: pairs scored once at the end (dates: the test split;
            Multi30k: the first lines of `test_2016_flickr`).
        batch_size: training batch size.
        data_seed: seed of the date splits (the data are the same for every
            regime and model seed).
        eval_batch_size: batch size of the token-accuracy evaluation.
        data_dir: Multi30k folder (default `../shared/data/multi30k`).
        tokenizer: Multi30k tokenizer: "word" or "sentencepiece".
        vocabulary_size: Multi30k vocabulary size per side.
        lowercase: lowercase Multi30k text (as in the published figures).
        max_length: Multi30k: drop training pairs longer than this many tokens.
    """
    from keras_seq2seq.text import (
        CharacterTokenizer,
        SentencePieceTokenizer,
        WordTokenizer,
        read_split_folder,
    )

    if task == "dates":
        from keras_seq2seq.datasets import load_dates

        splits = load_dates(train_size=train_size, validation_size=eval_size,
                            test_size=test_size, seed=data_seed)
        train_sources, train_targets = splits["train"]
        source_tokenizer = CharacterTokenizer.from_texts(train_sources,
                                                         name="source_tokenizer")
        target_tokenizer = CharacterTokenizer.from_texts(train_targets,
                                                         name="target_tokenizer")
        eval_sources, eval_references = splits["validation"]
        test_sources, test_references = splits["test"]
        metric, model_options = "exact_match", dict(DATES_MODEL)
        info = {"train_size": train_size, "eval_size": eval_size,
                "test_size": test_size, "data_seed": data_seed}
    elif task == "multi30k":
        data_dir = data_dir or os.path.join("..", "shared", "data", "multi30k")

        corpora = read_split_folder(data_dir, "de", "en", on_error="skip")

        def read(split, size):
            sources, targets = list(corpora[split].sources), list(corpora[split].targets)
            if lowercase:
                sources = [s.lower() for s in sources]
                targets = [t.lower() for t in targets]
            if size is not None:
                sources, targets = sources[:size], targets[:size]
            return sources, targets

        train_sources, train_targets = read("train", train_size)
        eval_sources, eval_references = read("validation", eval_size)
        test_sources, test_references = read("test", test_size)
        if tokenizer == "word":
            source_tokenizer = WordTokenizer.from_texts(
                train_sources, max_vocabulary_size=vocabulary_size,
                name="source_tokenizer")
            target_tokenizer = WordTokenizer.from_texts(
                train_targets, max_vocabulary_size=vocabulary_size,
                name="target_tokenizer")
        elif tokenizer == "sentencepiece":
            source_tokenizer = SentencePieceTokenizer.train(
                train_sources, vocabulary_size=vocabulary_size, seed=data_seed,
                name="source_tokenizer")
            target_tokenizer = SentencePieceTokenizer.train(
                train_targets, vocabulary_size=vocabulary_size, seed=data_seed,
                name="target_tokenizer")
        else:
            raise ValueError(f"Unknown Multi30k tokenizer {tokenizer!r}. Expected "
                             "'word' or 'sentencepiece'.")
        if max_length:
            from keras_seq2seq.text import encode_pairs

            source_ids, target_ids = encode_pairs(train_sources, train_targets,
                                                  source_tokenizer, target_tokenizer)
            keep = ((source_ids.row_lengths().numpy() <= max_length)
                    & (target_ids.row_lengths().numpy() < max_length))
            train_sources = [s for s, k in zip(train_sources, keep) if k]
            train_targets = [t for t, k in zip(train_targets, keep) if k]
        metric, model_options = "bleu", dict(MULTI30K_MODEL)
        info = {"data_dir": os.fspath(data_dir), "tokenizer": tokenizer,
                "vocabulary_size": vocabulary_size, "lowercase": lowercase,
                "train_size": len(train_sources), "eval_size": len(eval_sources),
                "test_size": len(test_sources), "max_length": max_length}
    else:
        raise ValueError(f"Unknown task {task!r}. Expected 'dates' or 'multi30k'.")
    return TaskData(
        name=task, source_tokenizer=source_tokenizer, target_tokenizer=target_tokenizer,
        train_sources=train_sources, train_targets=train_targets,
        eval_sources=eval_sources, eval_references=eval_references,
        test_sources=test_sources, test_references=test_references,
        eval_batches=_eval_batches(eval_sources, eval_references, source_tokenizer,
                                   target_tokenizer, eval_batch_size),
        metric=metric, model_options=model_options, batch_size=batch_size, info=info)


# ---------------------------------------------------------------------- model
def build_model(data, regime, seed=0, planned_steps=1000, final_ratio=0.1,
                model_options=None):
    """The study's `Seq2Seq` for `regime` (weights drawn from `seed`)."""
    options = dict(data.model_options)
    options.update(model_options or {})
    if regime.mode is not None:
        if not parallel_mode_available():
            raise ValueError(
                f"Regime {regime.name!r} needs Seq2Seq(teacher_forcing_mode=...), "
                "which this version of the package does not have.")
        options["teacher_forcing_mode"] = regime.mode
    keras.utils.set_random_seed(seed)
    return Seq2Seq(
        data.source_tokenizer.vocabulary_size, data.target_tokenizer.vocabulary_size,
        teacher_forcing=regime.make_schedule(planned_steps, final_ratio),
        teacher_forcing_granularity=regime.granularity,
        teacher_forcing_feedback=regime.feedback, seed=seed,
        source_tokenizer=data.source_tokenizer,
        target_tokenizer=data.target_tokenizer, name="study_seq2seq", **options)


# ---------------------------------------------------------------------- evaluation
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
        if clock not in CLOCKS:
            raise ValueError(f"Unknown clock {clock!r}. Expected one of {sorted(CLOCKS)}.")
        if int(eval_every_steps) < 1:
            raise ValueError(f"`eval_every_steps` must be >= 1. Received: "
                             f"{eval_every_steps!r}")
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
        if self.switch_step is None and getattr(self.model, "switch_enabled", False):
            if float(self.model.teacher_forcing_cap.numpy()) >= 0.0:
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


# ---------------------------------------------------------------------- running
def calibrate_step_seconds(data, steps=30, seed=0, clock="process", model_options=None):
    """Clock seconds per training step of the scheduled-sampling path.

    Trains a throw-away model at a constant ratio of 0.5 drawn per token (the
    step-by-step decoder loop, the slowest path the decaying regimes take) for one
    untimed step and `steps` timed ones.
    """
    regime = Regime("calibration", 0.5, "token")
    model = build_model(data, regime, seed=seed, model_options=model_options)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    dataset = data.train_dataset(seed).repeat()
    model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)
    tick = CLOCKS[clock]
    start = tick()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = (tick() - start) / steps
    del model
    keras.backend.clear_session()
    return seconds


def run_regime(data, regime, seed=0, budget_seconds=60.0, eval_every_steps=100,
               planned_steps=1000, final_ratio=0.1, max_steps=None, clock="process",
               learning_rate=3e-3, model_options=None, verbose=0, clipnorm=None):
    """Trains and evaluates one (regime, seed); returns its record (JSON-ready)."""
    keras.backend.clear_session()
    model = build_model(data, regime, seed=seed, planned_steps=planned_steps,
                        final_ratio=final_ratio, model_options=model_options)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm))
    callbacks = []
    if regime.switch is not None:
        callbacks.append(TeacherForcingSwitch(verbose=0, **regime.switch))
    monitor = StudyMonitor(HeldOutEvaluator(model, data), eval_every_steps,
                           budget_seconds, max_steps=max_steps, clock=clock,
                           verbose=verbose, label=f"[{regime.name} seed {seed}]")
    callbacks.append(monitor)
    started = time.perf_counter()
    model.fit(data.train_dataset(seed), epochs=10 ** 9, callbacks=callbacks, verbose=0)
    wall = time.perf_counter() - started
    test_quality = sequence_quality(model, data.test_sources, data.test_references,
                                    data.metric)
    final = monitor.records[-1]
    result = {
        "regime": regime.name,
        "seed": seed,
        "schedule": schedules.serialize(model.teacher_forcing),
        "steps": final["step"],
        "train_seconds": final["train_seconds"],
        "first_step_seconds": round(monitor.first_step_seconds or 0.0, 3),
        "eval_seconds": round(monitor.eval_seconds, 3),
        "wall_seconds": round(wall, 3),
        "switch_step": monitor.switch_step,
        "final": final,
        "best": max(r[data.metric] for r in monitor.records),
        f"test_{data.metric}": test_quality,
        "curve": monitor.records,
    }
    if verbose:
        print(f"[{regime.name} seed {seed}] done: {final['step']} steps, "
              f"{data.metric} {final[data.metric]:.4f} (best {result['best']:.4f}, "
              f"test {test_quality:.4f}), wall {wall:.0f}s", flush=True)
    del model
    keras.backend.clear_session()
    return result


def configure_threads(threads):
    """Sets TensorFlow's intra- and inter-op thread counts (before TF starts)."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))
        return True
    except RuntimeError as error:
        warnings.warn(f"Could not set TensorFlow threads to {threads}: {error}",
                      stacklevel=2)
        return False


def _load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


def run_study(regimes=None, task="dates", seeds=(0,), budget_seconds=60.0,
              output_dir="docs/teacher_forcing", eval_every_steps=100,
              planned_steps=None, final_ratio=0.1, max_steps=None, clock="process",
              learning_rate=3e-3, task_options=None, model_options=None,
              calibration_steps=30, threads=None, target_quality=None, command=None,
              verbose=1, data=None, clipnorm=None):
    """Runs every regime for every seed and writes the report.

    Args:
        regimes: `Regime`s, or names of `default_regimes()` (None: all of them).
        task: "dates" or "multi30k" (see `prepare_task`).
        seeds: model seeds (initial weights, batch order, coin tosses); the data
            are the same for every seed.
        budget_seconds: training seconds per (regime, seed), on `clock`.
        output_dir: where `results.json`, `results.md` and the PNGs go (None: write
            nothing).
        eval_every_steps: optimizer steps between evaluations.
        planned_steps: the step count the decays are planned over; None measures
            the seconds per step (`calibrate_step_seconds`) and uses
            `budget_seconds / seconds_per_step`.
        final_ratio: the ratio the decays reach at `planned_steps`.
        max_steps: optional cap on the steps of every run.
        clock: "process" (CPU seconds; the default) or "wall".
        learning_rate: Adam's learning rate (3e-3 suits the date task; for Multi30k
            the CLI uses 2e-3 with `clipnorm=5`, batch 128 and SentencePiece:
            `study_command.MULTI30K_DEFAULTS`).
        task_options: keyword arguments of `prepare_task`.
        model_options: overrides of the task's model settings (`Seq2Seq` kwargs).
        calibration_steps: timed steps of the calibration.
        threads: if given, TensorFlow's intra/inter-op threads (must be set
            before TensorFlow starts; a warning says when it is too late).
        target_quality: the table reports the training seconds to reach it
            (default 0.9 exact match or 20 BLEU).
        command: the command line to record in the report.
        verbose: print progress.
        data: a prepared `TaskData` (overrides `task` / `task_options`).
        clipnorm: if given, Adam clips each gradient to this norm (`clipnorm`).

    Returns:
        The results dict written to `results.json`.
    """
    if threads is not None:
        configure_threads(threads)
    if regimes is None:
        regimes = default_regimes()
    by_name = {r.name: r for r in default_regimes(include_parallel=True)}
    resolved = []
    for regime in regimes:
        if isinstance(regime, str):
            if regime not in by_name:
                raise ValueError(f"Unknown regime {regime!r}. Expected one of "
                                 f"{sorted(by_name)}.")
            regime = by_name[regime]
        resolved.append(regime)
    regimes = resolved
    started = time.perf_counter()
    load_before = _load_average()
    if data is None:
        data = prepare_task(task, **(task_options or {}))
    calibration = None
    if planned_steps is None:
        seconds_per_step = calibrate_step_seconds(
            data, steps=calibration_steps, seed=seeds[0], clock=clock,
            model_options=model_options)
        planned_steps = max(1, int(budget_seconds / seconds_per_step))
        calibration = {"seconds_per_step": seconds_per_step, "steps": calibration_steps,
                       "path": "constant 0.5 per token (step-by-step decoder loop)"}
        if verbose:
            print(f"Calibration: {seconds_per_step * 1000:.1f} ms ({clock} clock) per "
                  f"scheduled step -> decays planned over {planned_steps} steps",
                  flush=True)
    if target_quality is None:
        target_quality = 0.9 if data.metric == "exact_match" else 20.0
    runs = []
    for regime in regimes:
        for seed in seeds:
            runs.append(run_regime(
                data, regime, seed=seed, budget_seconds=budget_seconds,
                eval_every_steps=eval_every_steps, planned_steps=planned_steps,
                final_ratio=final_ratio, max_steps=max_steps, clock=clock,
                learning_rate=learning_rate, model_options=model_options,
                verbose=verbose, clipnorm=clipnorm))
    model_settings = dict(data.model_options)
    model_settings.update(model_options or {})
    results = {
        "config": {
            "task": data.name,
            "task_info": data.info,
            "metric": data.metric,
            "seeds": list(seeds),
            "budget_seconds": budget_seconds,
            "clock": clock,
            "eval_every_steps": eval_every_steps,
            "planned_steps": planned_steps,
            "final_ratio": final_ratio,
            "max_steps": max_steps,
            "learning_rate": learning_rate,
            "clipnorm": clipnorm,
            "batch_size": data.batch_size,
            "steps_per_epoch": data.steps_per_epoch,
            "model": model_settings,
            "target_quality": target_quality,
            "calibration": calibration,
            "parallel_mode_available": parallel_mode_available(),
            "regimes": [r.to_json() for r in regimes],
        },
        "environment": {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": command if command is not None else " ".join(sys.argv),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "cpu_count": os.cpu_count(),
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "load_average_before": load_before,
            "load_average_after": _load_average(),
            "total_wall_seconds": round(time.perf_counter() - started, 1),
        },
        "runs": runs,
    }
    results["summary"] = summarize(results)
    if output_dir is not None:
        write_report(results, output_dir)
    return results


# ---------------------------------------------------------------------- report
def _seconds_to_reach(curve, metric, target):
    for record in curve:
        if record[metric] >= target:
            return record["train_seconds"]
    return None


def _mean_spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    array = np.asarray(values, float)
    spread = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return float(array.mean()), spread, len(array)


def summarize(results):
    """Per regime: mean and standard deviation over seeds of the headline figures."""
    config = results["config"]
    metric, target = config["metric"], config["target_quality"]
    summary = []
    for regime in config["regimes"]:
        runs = [r for r in results["runs"] if r["regime"] == regime["name"]]
        if not runs:
            continue
        row = {"regime": regime["name"], "description": regime["description"],
               "granularity": regime["granularity"], "feedback": regime["feedback"],
               "seeds": len(runs)}
        columns = {
            "final": [r["final"][metric] for r in runs],
            "best": [r["best"] for r in runs],
            "test": [r[f"test_{metric}"] for r in runs],
            "final_free_running_accuracy": [r["final"]["free_running_accuracy"]
                                            for r in runs],
            "final_gap": [r["final"]["gap"] for r in runs],
            "final_ratio": [r["final"]["ratio"] for r in runs],
            "steps": [r["steps"] for r in runs],
            "train_seconds": [r["train_seconds"] for r in runs],
            "wall_seconds": [r["wall_seconds"] for r in runs],
        }
        reach = [_seconds_to_reach(r["curve"], metric, target) for r in runs]
        columns["seconds_to_target"] = reach
        for key, values in columns.items():
            mean, spread, n = _mean_spread(values)
            row[key] = mean
            row[f"{key}_std"] = spread
            row[f"{key}_n"] = n
        row["switch_steps"] = [r["switch_step"] for r in runs]
        summary.append(row)
    return summary


def _fmt(mean, std, n, scale=1.0, digits=1, show_std=True):
    if mean is None:
        return "—"
    text = f"{mean * scale:.{digits}f}"
    if show_std and n > 1:
        text += f" ± {std * scale:.{digits}f}"
    return text


def results_table(results):
    """The Markdown table of `results["summary"]` (mean ± std over seeds)."""
    config = results["config"]
    metric = config["metric"]
    scale, unit = (100.0, "%") if metric == "exact_match" else (1.0, "")
    name = "exact match" if metric == "exact_match" else "BLEU"
    target = config["target_quality"]
    target_text = f"{target * scale:g}{unit}"
    lines = [
        f"| regime | final FR {name}{' (%)' if unit else ''} | best FR {name} | "
        f"test {name} (end) | final FR token acc (%) | final TF−FR gap (pts) | "
        f"ratio at end | steps | train s | s to {target_text} | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["summary"]:
        n = row["seeds"]
        reached = row["seconds_to_target_n"]
        to_target = _fmt(row["seconds_to_target"], row["seconds_to_target_std"],
                         reached, digits=0)
        if reached < n:
            to_target += f" ({reached}/{n} seeds)"
        lines.append(
            f"| `{row['regime']}` | "
            f"{_fmt(row['final'], row['final_std'], n, scale)} | "
            f"{_fmt(row['best'], row['best_std'], n, scale)} | "
            f"{_fmt(row['test'], row['test_std'], n, scale)} | "
            f"{_fmt(row['final_free_running_accuracy'], row['final_free_running_accuracy_std'], n, 100.0)} | "  # noqa: E501
            f"{_fmt(row['final_gap'], row['final_gap_std'], n, 100.0)} | "
            f"{_fmt(row['final_ratio'], row['final_ratio_std'], n, digits=2, show_std=False)} | "  # noqa: E501
            f"{_fmt(row['steps'], row['steps_std'], n, digits=0)} | "
            f"{_fmt(row['train_seconds'], 0, 1, digits=0)} | "
            f"{to_target} | "
            f"{_fmt(row['wall_seconds'], row['wall_seconds_std'], n, digits=0)} |")
    return "\n".join(lines)


def _markdown(results):
    config, env = results["config"], results["environment"]
    seeds = config["seeds"]
    lines = [
        "# Teacher-forcing study: results",
        "",
        f"Written by `keras_seq2seq.study` on {env['date']}.",
        "",
        f"* command: `{env['command']}`",
        f"* task: {config['task']} {json.dumps(config['task_info'])}; metric: "
        f"{config['metric']} of greedy `model.translate` (free running)",
        f"* model: {json.dumps(config['model'])}; Adam {config['learning_rate']}"
        + (f" (clipnorm {config['clipnorm']:g})" if config.get("clipnorm") else "")
        + ", "
        f"batch {config['batch_size']} ({config['steps_per_epoch']} steps per epoch)",
        f"* budget: {config['budget_seconds']:g} s of training per run on the "
        f"{config['clock']} clock (first, tracing step and evaluations not counted)"
        + (f", at most {config['max_steps']} steps" if config["max_steps"] else ""),
        f"* seeds: {seeds} (n = {len(seeds)}; ± is the standard deviation over seeds)",
        f"* decays planned over {config['planned_steps']} steps from ~1 to "
        f"{config['final_ratio']}"
        + (f" (calibrated: {config['calibration']['seconds_per_step'] * 1000:.1f} ms "
           "per scheduled step)" if config["calibration"] else ""),
        f"* evaluation every {config['eval_every_steps']} steps on "
        f"{config['task_info'].get('eval_size')} held-out pairs; 'test' is scored once "
        f"at the end on {config['task_info'].get('test_size')} other pairs",
        f"* `teacher_forcing_mode=\"parallel\"`: "
        + (("run" if any(r["mode"] == "parallel" for r in config["regimes"])
            else "available, not selected") if config["parallel_mode_available"]
           else "not available in this version of Seq2Seq (not run)"),
        f"* machine: {env['cpu_count']} CPUs, {env['intra_op_threads']} TF intra-op "
        f"thread(s), load average before/after {env['load_average_before']} / "
        f"{env['load_average_after']}; total {env['total_wall_seconds']:.0f} s wall",
        "",
        "FR = free running (greedy, own predictions fed back); TF = teacher forced. "
        "'best' is the best evaluation on the held-out set (optimistic: picked on "
        "the same set).",
        "",
        results_table(results),
        "",
        "Regimes:",
        "",
    ]
    for row in results["summary"]:
        line = f"* `{row['regime']}`: {row['description']}"
        if any(r["switch"] for r in config["regimes"] if r["name"] == row["regime"]):
            line += f"; the switch fired at step(s) {row['switch_steps']} (per seed)"
        lines.append(line)
    lines.append("")
    return "\n".join(lines)


_STYLES = ["-", "--", "-.", ":"]


def _curves(results, regime, key):
    """Steps, mean, min and max of `key` over the seeds at their common steps.

    The last point is each seed's final evaluation (seeds stop at different steps
    under a time budget), drawn at their mean step.
    """
    runs = [r for r in results["runs"] if r["regime"] == regime]
    if not runs:
        return None
    common = set.intersection(*[{rec["step"] for rec in r["curve"]} for r in runs])
    steps = sorted(common)
    rows = [[next(rec[key] for rec in r["curve"] if rec["step"] == s) for s in steps]
            for r in runs]
    if any(r["curve"][-1]["step"] != steps[-1] for r in runs):
        steps.append(float(np.mean([r["curve"][-1]["step"] for r in runs])))
        for row, run in zip(rows, runs):
            row.append(run["curve"][-1][key])
    values = np.array(rows, float)
    return np.array(steps), values.mean(0), values.min(0), values.max(0)


def _plot(results, path, panels, title):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    regimes = [r["name"] for r in results["config"]["regimes"]]
    figure = Figure(figsize=(5.2 * len(panels), 4.2), dpi=90)
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(1, len(panels), squeeze=False)[0]
    colors = [f"C{i}" for i in range(10)]
    for axes, (key, x_key, ylabel, scale) in zip(axes_list, panels):
        for i, name in enumerate(regimes):
            curve = _curves(results, name, key)
            if curve is None:
                continue
            steps, mean, low, high = curve
            if x_key == "step":
                x = steps
            else:
                x = _curves(results, name, x_key)[1]
            style = dict(color=colors[i % 10], linestyle=_STYLES[(i // 10 + i) % 4],
                         linewidth=1.4)
            axes.plot(x, mean * scale, label=name, **style)
            if len(results["config"]["seeds"]) > 1:
                axes.fill_between(x, low * scale, high * scale, color=style["color"],
                                  alpha=0.07, linewidth=0)
        axes.set_xlabel("optimizer step" if x_key == "step"
                        else f"training seconds ({results['config']['clock']} clock)")
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
    axes_list[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                         borderaxespad=0.0)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, bbox_inches="tight")
    return path


def write_report(results, output_dir):
    """Writes `results.json`, `results.md` and the PNG plots; returns their paths."""
    os.makedirs(output_dir, exist_ok=True)
    if "summary" not in results:
        results["summary"] = summarize(results)
    metric = results["config"]["metric"]
    seeds = results["config"]["seeds"]
    spread = f" (mean of {len(seeds)} seeds, band min–max)" if len(seeds) > 1 else ""
    paths = {"json": os.path.join(output_dir, "results.json"),
             "markdown": os.path.join(output_dir, "results.md")}
    with open(paths["json"], "w") as f:
        json.dump(results, f, indent=1)
    with open(paths["markdown"], "w") as f:
        f.write(_markdown(results))
    if metric == "exact_match":
        quality = ("free-running exact match (%)", 100.0)
    else:
        quality = ("free-running BLEU", 1.0)
    paths["quality"] = _plot(
        results, os.path.join(output_dir, f"{metric}.png"),
        [(metric, "step", quality[0], quality[1]),
         (metric, "train_seconds", quality[0], quality[1])],
        f"Greedy free-running {metric.replace('_', ' ')} on held-out data{spread}")
    paths["ratio"] = _plot(
        results, os.path.join(output_dir, "ratio.png"),
        [("ratio", "step", "teacher-forcing ratio in use", 1.0)],
        "Teacher-forcing ratio (model.teacher_forcing_ratio() at each evaluation;\n"
        "regimes with the same schedule overlap)")
    paths["gap"] = _plot(
        results, os.path.join(output_dir, "gap.png"),
        [("gap", "step", "teacher-forced − free-running token accuracy (pts)", 100.0),
         ("free_running_accuracy", "step", "free-running token accuracy (%)", 100.0)],
        f"Exposure bias: the teacher-forced − free-running gap{spread}")
    return paths


def load_results(path):
    """Reads a `results.json` written by `run_study`."""
    with open(path) as f:
        return json.load(f)
