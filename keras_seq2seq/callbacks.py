"""Keras callbacks of keras-seq2seq."""

import keras

from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq.checks import check_number

require_tensorflow(__name__)


class TeacherForcingSwitch(keras.callbacks.Callback):
    """Turns teacher forcing down (or off) once a monitored metric reaches a threshold.

    The design note's recipe: "train on teacher-forced batches at first, then stop
    teacher forcing once the model's accuracy has risen". When `monitor` reaches
    `threshold`, the model's `teacher_forcing_cap` weight is set to `ratio`, and from
    then on the ratio used is `min(schedule(step), ratio)`. The decision is a model
    weight, so it is saved with the model and survives `load_model`.

    Args:
        monitor: the log key to watch, e.g. "accuracy" or "val_accuracy".
            Defaults to "accuracy".
        threshold: the value that triggers the switch. Defaults to 0.9.
        ratio: the teacher-forcing ratio after the switch, in [0, 1]. Defaults to 0.
        mode: "max" (trigger at value >= threshold) or "min" (value <= threshold).
            Defaults to "max".
        check: "epoch" (check the epoch logs) or "batch" (check after every batch).
            Defaults to "epoch".
        verbose: print a line when the switch fires. Defaults to 1.
    """

    def __init__(self, monitor="accuracy", threshold=0.9, ratio=0.0, mode="max",
                 check="epoch", verbose=1):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"Expected one of {{'max', 'min'}}. Received: mode={mode!r}")
        if check not in ("epoch", "batch"):
            raise ValueError(f"Expected one of {{'epoch', 'batch'}}. Received: check={check!r}")
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise ValueError(f"`ratio` must lie in [0, 1]. Received: ratio={ratio!r}")
        self.monitor = monitor
        self.threshold = float(threshold)
        self.ratio = float(ratio)
        self.mode = mode
        self.check = check
        self.verbose = verbose

    def set_model(self, model):
        super().set_model(model)
        if not hasattr(model, "teacher_forcing_cap"):
            raise ValueError(
                "TeacherForcingSwitch needs a keras_seq2seq Seq2Seq model. Received: "
                f"{type(model).__name__}")
        # Retrace train_step so that it includes the scheduled-sampling path.
        model.enable_teacher_forcing_switch()

    @property
    def fired(self):
        """Whether the model's switch has fired (read from the model weight)."""
        return self.model.switch_fired

    def _maybe_switch(self, logs, where):
        if self.fired or not logs or self.monitor not in logs:
            return
        value = float(logs[self.monitor])
        reached = value >= self.threshold if self.mode == "max" else value <= self.threshold
        if reached:
            self.model.teacher_forcing_cap.assign(self.ratio)
            if self.verbose:
                print(f"\nTeacherForcingSwitch: {self.monitor}={value:.4f} reached "
                      f"{self.threshold} at {where}; teacher-forcing ratio capped at "
                      f"{self.ratio}.")

    def on_batch_end(self, batch, logs=None):
        if self.check == "batch":
            self._maybe_switch(logs, f"batch {batch}")

    def on_epoch_end(self, epoch, logs=None):
        if self.check == "epoch":
            self._maybe_switch(logs, f"the end of epoch {epoch + 1}")


class BleuCallback(keras.callbacks.Callback):
    """Computes corpus BLEU (and chrF) of validation translations at each epoch end.

    Logs `val_bleu` and `val_chrf` into the epoch logs, so `EarlyStopping`,
    `ModelCheckpoint` and `History` can use them (put this callback before them in
    the list). Uses `model.translate` (the model's tokenizers) and sacrebleu.

    Args:
        sources: list of source strings.
        references: list of reference translations (one str each).
        method: decoding method of `model.translate`. Defaults to "greedy".
        batch_size: sentences translated at once. Defaults to 256.
        every: compute every this many epochs (others log nothing). Defaults to 1.
        **decode_options: decoder options (`beam_width`, `length_penalty`, ...).
    """

    def __init__(self, sources, references, method="greedy", batch_size=256, every=1,
                 **decode_options):
        super().__init__()
        if len(sources) != len(references) or not sources:
            raise ValueError(
                "`sources` and `references` must be non-empty and of the same length. "
                f"Received: {len(sources)} sources, {len(references)} references")
        self.sources = list(sources)
        self.references = list(references)
        self.method = method
        self.batch_size = int(batch_size)
        self.every = int(every)
        self.decode_options = decode_options

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        from keras_seq2seq import evaluation

        hypotheses = self.model.translate(self.sources, method=self.method,
                                          batch_size=self.batch_size,
                                          **self.decode_options)
        logs["val_bleu"] = evaluation.corpus_bleu(hypotheses, self.references)
        logs["val_chrf"] = evaluation.corpus_chrf(hypotheses, self.references)


class TimeBudget(keras.callbacks.Callback):
    """Stops training once a wall-clock budget is spent (checked after every batch).

    For "what does the model reach in N minutes" runs: training stops at the first
    batch end past the budget, and the epoch in progress ends there (its logs and
    the callbacks' `on_epoch_end` still run, so `BleuCallback` scores it). Each
    epoch's logs get `minutes_left`, the budget not yet spent (shown by `fit`'s
    progress bar and kept in its `History`).

    Args:
        minutes: the training budget in minutes, > 0.
        verbose: print a line when the budget stops training. Defaults to 1.
    """

    def __init__(self, minutes, verbose=1):
        super().__init__()
        check_number("minutes", minutes, low=0, low_open=True)
        self.minutes = float(minutes)
        self.verbose = verbose
        self.started = None
        self.stopped_at = None

    def on_train_begin(self, logs=None):
        import time

        self.started = time.monotonic()

    @property
    def elapsed_minutes(self):
        """Minutes since training began."""
        import time

        return (time.monotonic() - self.started) / 60.0 if self.started else 0.0

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["minutes_left"] = max(0.0, self.minutes - self.elapsed_minutes)

    def on_train_batch_end(self, batch, logs=None):
        if self.elapsed_minutes >= self.minutes and not self.model.stop_training:
            self.model.stop_training = True
            self.stopped_at = self.elapsed_minutes
            if self.verbose:
                print(f"\nTimeBudget: {self.minutes:g} minutes spent; stopping training.")


class TimeWarmdown(keras.callbacks.Callback):
    """Decays the learning rate linearly over the last part of a wall-clock budget.

    For "what does the model reach in N minutes" runs (with `TimeBudget`): the rate
    stays at the optimizer's own value for the first `1 - fraction` of the budget,
    then falls linearly with elapsed time to `final_factor` times that value when
    the budget is spent. Annealing to a small rate at the end of a fixed budget,
    rather than when validation scores stall, lets the last epochs settle into a
    minimum however fast the machine is (a step-count schedule would have to guess
    how many steps fit in the budget).

    Args:
        minutes: the training budget in minutes, > 0 (the one given to `TimeBudget`).
        fraction: the part of the budget over which the rate decays, in (0, 1].
            Defaults to 0.3.
        final_factor: the rate at the end of the budget, as a fraction of the
            initial rate, in [0, 1). Defaults to 0.05.
        clock: a function returning seconds (tests pass a fake one). Defaults to
            `time.monotonic`.
        warmup_steps: an integer >= 0. When > 0, the rate also rises linearly over
            the first `warmup_steps` batches of each `fit`: batch `k` (from 0) gets
            `(k + 1) / warmup_steps` of it, multiplying the time-based factor.
            Defaults to 0 (no warmup).

    The optimizer must be created with a float `learning_rate` (Keras keeps it in an
    assignable variable), not a `LearningRateSchedule` or a callable. A
    `keras.optimizers.LossScaleOptimizer` (which `compile` wraps the optimizer in
    under the "mixed_float16" policy) is looked through: the rate decayed is its
    `inner_optimizer`'s.

    Raises:
        ValueError: at `on_train_begin`, before any step, when the (inner)
            optimizer's learning rate is not an assignable variable.
    """

    def __init__(self, minutes, fraction=0.3, final_factor=0.05, clock=None,
                 warmup_steps=0):
        import time

        super().__init__()
        check_number("minutes", minutes, low=0, low_open=True)
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"`fraction` must be in (0, 1]. Received: fraction={fraction!r}")
        if not 0.0 <= final_factor < 1.0:
            raise ValueError(
                f"`final_factor` must be in [0, 1). Received: final_factor={final_factor!r}")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) \
                or warmup_steps < 0:
            raise ValueError("`warmup_steps` must be an integer >= 0. Received: "
                             f"warmup_steps={warmup_steps!r}")
        self.minutes = float(minutes)
        self.warmup_steps = warmup_steps
        self.steps = 0
        self.fraction = float(fraction)
        self.final_factor = float(final_factor)
        self.clock = clock or time.monotonic
        self.started = None
        self.initial_rate = None
        self.rate_variable = None

    def factor(self, elapsed_minutes):
        """The multiplier of the initial rate after `elapsed_minutes` of training."""
        start = self.minutes * (1.0 - self.fraction)
        if elapsed_minutes <= start:
            return 1.0
        progress = min(1.0, (elapsed_minutes - start) / (self.minutes * self.fraction))
        return 1.0 - progress * (1.0 - self.final_factor)

    def warmup_factor(self, step):
        """The warmup's multiplier of the rate at batch `step` (0-based) of a `fit`."""
        if step >= self.warmup_steps:
            return 1.0
        return (step + 1) / self.warmup_steps

    def on_train_begin(self, logs=None):
        self.rate_variable = _learning_rate_variable(self.model.optimizer)
        self.initial_rate = float(keras.ops.convert_to_numpy(self.rate_variable))
        self.started = self.clock()
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        factor = self.factor((self.clock() - self.started) / 60.0)
        # Assign on the batch the warmup ends too, to restore the full rate.
        if factor < 1.0 or self.steps <= self.warmup_steps:
            factor *= self.warmup_factor(self.steps)
            self.rate_variable.assign(self.initial_rate * factor)
        self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.rate_variable))


def _learning_rate_variable(optimizer):
    """The variable holding `optimizer`'s learning rate (its inner optimizer's for a
    `LossScaleOptimizer`).

    Keras 3's `optimizer.learning_rate` is that variable itself when the optimizer
    was created with a float rate, and the current value (a tensor) for a
    `LearningRateSchedule` or a callable.

    Raises:
        ValueError: if the learning rate is not an assignable variable.
    """
    inner = optimizer
    while isinstance(inner, keras.optimizers.LossScaleOptimizer):
        inner = inner.inner_optimizer
    rate = inner.learning_rate
    if isinstance(rate, keras.Variable):
        return rate
    wrapped = "" if inner is optimizer else " (inside a LossScaleOptimizer)"
    raise ValueError(
        "TimeWarmdown needs an assignable learning-rate variable, but the "
        f"{type(inner).__name__} optimizer{wrapped} was given a LearningRateSchedule "
        f"or a callable: its `learning_rate` has type {type(rate).__name__}, not "
        "keras.Variable. Create the optimizer with a float learning rate, e.g. "
        f"{type(inner).__name__}(learning_rate=1e-3), "
        "and let TimeWarmdown decay it.")


class EpochShuffle(keras.callbacks.Callback):
    """Keys the shuffled order of a `make_dataset` dataset on Keras's epoch number.

    `make_dataset(..., shuffle=True)` visits the pairs of pass `e` in a permutation
    keyed on `(seed, e)`. At the first epoch of each `fit` this callback sets `e`
    to that epoch's number (later passes count on from it), so a run resumed by
    `keras.callbacks.BackupAndRestore` at epoch 3 sees the order of epoch 3, and
    ends with the weights of an uninterrupted run. `Seq2Seq.fit` adds it by itself
    when its `x` is such a dataset; add it yourself for other Keras models.

    Args:
        dataset: the training dataset returned by `make_dataset(..., shuffle=True)`.

    Raises:
        ValueError: if `dataset` carries no shuffle counter (it was not made by
            `make_dataset(shuffle=True)`, or was derived from one by `.take`, ...).
    """

    def __init__(self, dataset):
        super().__init__()
        from keras_seq2seq.text.shuffling import shuffle_epoch_variable

        self.counter = shuffle_epoch_variable(dataset)
        if self.counter is None:
            raise ValueError(
                "EpochShuffle needs the dataset returned by make_dataset(..., "
                "shuffle=True) itself (with the default shuffle_buffer_size=None); "
                f"got {type(dataset).__name__} without a shuffle counter.")
        self._first = True

    @staticmethod
    def applies_to(dataset):
        """Whether `dataset` carries a shuffle counter (`make_dataset(shuffle=True)`)."""
        from keras_seq2seq.text.shuffling import shuffle_epoch_variable

        return shuffle_epoch_variable(dataset) is not None

    def on_train_begin(self, logs=None):
        self._first = True

    def on_epoch_begin(self, epoch, logs=None):
        # Keras makes the iterator of the first epoch after this call and the
        # iterator of each later epoch at the end of the epoch before it; the
        # counter counts those passes on by itself.
        if self._first:
            from keras_seq2seq.text.shuffling import set_shuffle_epoch

            set_shuffle_epoch(self.counter, epoch)
            self._first = False
