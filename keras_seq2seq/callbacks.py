"""Keras callbacks of keras-seq2seq."""

import keras

from keras_seq2seq._backend import require_tensorflow

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
        if not model.switch_enabled:
            model.switch_enabled = True
            # Retrace train_step so that it includes the scheduled-sampling path.
            model.train_function = None

    @property
    def fired(self):
        """Whether the model's switch has fired (read from the model weight)."""
        return float(self.model.teacher_forcing_cap.numpy()) >= 0.0

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
    the callbacks' `on_epoch_end` still run, so `BleuCallback` scores it).

    Args:
        minutes: the training budget in minutes, > 0.
        verbose: print a line when the budget stops training. Defaults to 1.
    """

    def __init__(self, minutes, verbose=1):
        super().__init__()
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
            raise ValueError(f"`minutes` must be a positive number. Received: minutes={minutes!r}")
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

    def on_train_batch_end(self, batch, logs=None):
        if self.elapsed_minutes >= self.minutes and not self.model.stop_training:
            self.model.stop_training = True
            self.stopped_at = self.elapsed_minutes
            if self.verbose:
                print(f"\nTimeBudget: {self.minutes:g} minutes spent; stopping training.")


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
        from keras_seq2seq.text.pipelines import shuffle_epoch_variable

        self.counter = shuffle_epoch_variable(dataset)
        if self.counter is None:
            raise ValueError(
                "EpochShuffle needs the dataset returned by make_dataset(..., "
                "shuffle=True) itself (with the default shuffle_buffer_size=None); "
                f"got {type(dataset).__name__} without a shuffle counter.")
        self._first = True

    def on_train_begin(self, logs=None):
        self._first = True

    def on_epoch_begin(self, epoch, logs=None):
        # Keras makes the iterator of the first epoch after this call and the
        # iterator of each later epoch at the end of the epoch before it; the
        # counter counts those passes on by itself.
        if self._first:
            from keras_seq2seq.text.pipelines import set_shuffle_epoch

            set_shuffle_epoch(self.counter, epoch)
            self._first = False
