"""Weight averaging: an exponential moving average kept while training, and the mean of
saved checkpoints.

* `WeightAverage` (a callback) keeps an exponential moving average (EMA, "Polyak
  averaging") of the trainable weights, updated after every optimizer step inside
  one compiled function, and puts the averaged weights into the model wherever the
  model is judged or kept: during validation (`val_loss`), at each epoch end (for
  `BleuCallback`, `ModelCheckpoint` and the like placed after it in the list) and
  when training ends (so `fit` returns, saves and exports the averaged model). The
  next epoch trains on from the raw weights.
* `average_checkpoints(paths)` loads saved `.keras` models and returns the first with
  every weight replaced by the element-wise mean over all of them (the checkpoint
  averager that OpenNMT, Sockeye, Marian, fairseq and JoeyNMT ship).

Keras optimizers have `use_ema=True` and `keras.callbacks.SwapEMAWeights`; that pair
loses the average when training stops before the last epoch (a `TimeBudget`, an
`EarlyStopping`): `fit` then overwrites the weights with the swapped-out raw ones.
`WeightAverage` owns its average instead and works with any optimizer.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq.checks import check_int, check_number

require_tensorflow(__name__)

__all__ = ["WeightAverage", "average_checkpoints"]


class WeightAverage(keras.callbacks.Callback):
    """Exponential moving average of the trainable weights, swapped in to evaluate,
    checkpoint and finish.

    After optimizer step `t` (counting from 1 at the first `fit`) each average `a`
    of a weight `w` becomes `a <- d_t * a + (1 - d_t) * w` with
    `d_t = min(decay, (1 + t) / (10 + t))` (the warm start of
    `tf.train.ExponentialMovingAverage`'s `num_updates`, so early averages are not
    dominated by the initial weights). Steps are read from the optimizer's
    `iterations`: with `steps_per_execution = k` the average is updated once per
    execution with `d_t ** k` (the weights in between are not seen). The averages are
    float32 `tf.Variable`s beside the model's (not saved with it).

    Put it first in the callback list: at `on_epoch_end` it swaps the averaged
    weights in before the callbacks after it run, and swaps the raw ones back at the
    next `on_epoch_begin`. Validation inside `fit` sees the averaged weights too.
    When training ends the model keeps the averaged weights (`restore_on_train_end`
    false), so what `fit` leaves is what was validated; a later `fit` of the same
    model with this callback puts the raw weights back first and goes on averaging,
    as one long `fit` would.

    Not to be combined with an optimizer's own `use_ema=True` (`fit` would end with
    that average instead): `on_train_begin` raises a `ValueError`.

    Args:
        decay: the moving average's decay, in (0, 1). The average spans roughly the
            last `1 / (1 - decay)` steps. Defaults to 0.999.
        start_step: optimizer steps (of this `fit`) before averaging starts; until
            then the average follows the weights. Defaults to 0.
        restore_on_train_end: put the raw weights back when training ends instead of
            leaving the averaged ones. Defaults to False.

    Raises:
        ValueError: for a `decay` outside (0, 1) or a negative `start_step`.
    """

    def __init__(self, decay=0.999, start_step=0, restore_on_train_end=False):
        super().__init__()
        check_number("decay", decay, low=0, high=1, low_open=True)
        if decay >= 1:
            raise ValueError(f"`decay` must be in (0, 1). Received: decay={decay!r}")
        check_int("start_step", start_step, minimum=0)
        self.decay = float(decay)
        self.start_step = int(start_step)
        self.restore_on_train_end = bool(restore_on_train_end)
        self.averages = None
        self.steps = 0
        self.averaged_in_model = False
        self._raw = None
        self._update = None
        self._weights_ids = None
        self._left_average = False  # fit ended with the average in the model
        self._last_iteration = 0

    # ------------------------------------------------------------------ variables

    def _weights(self):
        return self.model.trainable_weights

    def _build(self):
        weights = self._weights()
        self.averages = [tf.Variable(tf.cast(w.value, tf.float32), trainable=False,
                                     name=f"average_{i}") for i, w in enumerate(weights)]
        self._raw = [tf.Variable(a, trainable=False, name=f"raw_{i}")
                     for i, a in enumerate(self.averages)]

        @tf.function
        def update(decay):
            for weight, average in zip(weights, self.averages):
                value = tf.cast(weight.value, tf.float32)
                average.assign(decay * average + (1.0 - decay) * value)

        self._update = update

    def _assign_model(self, sources):
        for weight, source in zip(self._weights(), sources):
            weight.assign(tf.cast(source, weight.dtype))

    def swap_in(self):
        """Puts the averaged weights into the model (the raw ones kept aside)."""
        if self.averages is None or self.averaged_in_model:
            return
        for raw, weight in zip(self._raw, self._weights()):
            raw.assign(tf.cast(weight.value, tf.float32))
        self._assign_model(self.averages)
        self.averaged_in_model = True

    def swap_out(self):
        """Puts the raw (trained) weights back into the model."""
        if not self.averaged_in_model:
            return
        self._assign_model(self._raw)
        self.averaged_in_model = False

    # ------------------------------------------------------------------ hooks

    def _iterations(self):
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        return int(keras.ops.convert_to_numpy(optimizer.iterations))

    def on_train_begin(self, logs=None):
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        if getattr(optimizer, "use_ema", False):
            raise ValueError(
                "WeightAverage keeps its own moving average: compile the model with an "
                "optimizer without use_ema=True (or drop WeightAverage and use "
                "keras.callbacks.SwapEMAWeights).")
        ids = [id(w) for w in self._weights()]
        if self.averages is None or ids != self._weights_ids:
            self._build()  # a first fit, or another model: start from its weights
            self._weights_ids = ids
            self.steps = 0
        elif self._left_average:
            # The same model after a fit that ended averaged: train on from the raw
            # weights, and go on averaging.
            self._assign_model(self._raw)
        self._left_average = False
        self.averaged_in_model = False
        self._last_iteration = self._iterations()

    def on_train_batch_end(self, batch, logs=None):
        iteration = self._iterations()
        new_steps, self._last_iteration = iteration - self._last_iteration, iteration
        if new_steps <= 0:
            return
        self.steps += new_steps
        if self.steps <= self.start_step:
            decay = 0.0
        else:
            t = self.steps - self.start_step
            decay = min(self.decay, (1.0 + t) / (10.0 + t)) ** new_steps
        self._update(tf.constant(decay, tf.float32))

    def on_test_begin(self, logs=None):
        self.swap_in()

    def on_test_end(self, logs=None):
        # Inside fit, validation is followed by on_epoch_end, which swaps in again.
        self.swap_out()

    def on_epoch_begin(self, epoch, logs=None):
        self.swap_out()

    def on_epoch_end(self, epoch, logs=None):
        self.swap_in()

    def on_train_end(self, logs=None):
        if self.restore_on_train_end:
            self.swap_out()
        else:
            self.swap_in()
            self.averaged_in_model = False  # the average is the model now
            self._left_average = True  # the raw weights wait in _raw for another fit

    def get_config(self):
        return {"decay": self.decay, "start_step": self.start_step,
                "restore_on_train_end": self.restore_on_train_end}


def average_checkpoints(paths, custom_objects=None):
    """The element-wise mean of the weights of saved models.

    Args:
        paths: `.keras` files (at least one) of models of one architecture (the last
            N epochs' checkpoints of a run, say).
        custom_objects: passed to `keras.saving.load_model`.

    Returns:
        The model loaded from `paths[0]`, its trainable weights replaced by the mean
        over all the files (float64 accumulation, cast back to each weight's
        dtype); its non-trainable weights (state such as `Seq2Seq`'s
        `teacher_forcing_cap`) are the last file's. Its optimizer state, if any, is
        the first file's.

    Raises:
        ValueError: for no paths, or for models whose weights do not match in number
            or shape (naming the file).
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise ValueError("`paths` must name at least one saved model. Received: []")
    model = keras.saving.load_model(paths[0], custom_objects=custom_objects)
    weights = model.weights
    sums = [np.asarray(keras.ops.convert_to_numpy(w), np.float64) for w in weights]
    last = list(sums)
    for path in paths[1:]:
        other = keras.saving.load_model(path, custom_objects=custom_objects)
        values = [keras.ops.convert_to_numpy(w) for w in other.weights]
        if len(values) != len(sums):
            raise ValueError(
                f"{path} has {len(values)} weights; {paths[0]} has {len(sums)}. "
                "`average_checkpoints` averages checkpoints of one model.")
        for i, (value, weight) in enumerate(zip(values, weights)):
            if value.shape != sums[i].shape:
                raise ValueError(
                    f"{path}: weight {weight.path!r} has shape {value.shape}; "
                    f"{paths[0]} has {sums[i].shape}.")
            sums[i] = sums[i] + value
            last[i] = value
        del other
    trainable = {id(w) for w in model.trainable_weights}
    for i, weight in enumerate(weights):
        dtype = np.dtype(keras.backend.standardize_dtype(weight.dtype))
        if id(weight) in trainable:
            weight.assign((sums[i] / len(paths)).astype(dtype))
        else:
            weight.assign(np.asarray(last[i]).astype(dtype))
    return model
