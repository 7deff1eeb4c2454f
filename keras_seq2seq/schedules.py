"""Teacher-forcing ratio schedules (Bengio et al. 2015, "Scheduled Sampling").

A schedule maps the optimizer's step count i to the probability εᵢ of feeding the
ground-truth token (teacher forcing) instead of the model's own prediction. The ratio
is derived from `optimizer.iterations`, never stored, so a reloaded or resumed model
trains on at the ratio its restored step gives.

    Constant            εᵢ = ratio
    LinearDecay         εᵢ = max(ε_min, k − c·i)
    ExponentialDecay    εᵢ = max(ε_min, kⁱ)            (k < 1)
    InverseSigmoidDecay εᵢ = k / (k + exp(i / k))     (k ≥ 1)
    PiecewiseConstant   εᵢ = values[j] for boundaries[j-1] ≤ i < boundaries[j]

Every schedule is serializable (`get_config` / `from_config`). Steps keep their
precision: the built-in smooth schedules compute in float64, and `PiecewiseConstant`
compares steps to its boundaries as int64, so no decision flips past 2**24 steps.
"""

import inspect
import math

import keras
import numpy as np
import tensorflow as tf

from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq._serialization import register
from keras_seq2seq.checks import check_number

require_tensorflow(__name__)


def _cast_steps(step, dtype):
    """`step` as a tensor of `dtype`; float steps become int64 as floor(step).

    For an integer boundary b, `step >= b` exactly when `floor(step) >= b`, so the
    int64 steps decide every boundary as the float value itself would. Floats are
    clipped to ±2**62 first (infinities included), which leaves every float whose
    floor fits in int64 unchanged.
    """
    step = tf.convert_to_tensor(step)
    if dtype.is_integer and step.dtype.is_floating:
        limit = tf.constant(2.0**62, step.dtype)
        step = tf.floor(tf.clip_by_value(step, -limit, limit))
    return tf.cast(step, dtype)


def _below_one_in_float32(ratio):
    """Whether `ratio` stays below 1 once cast to float32 (0.99999999 does not)."""
    return bool(np.float32(ratio) < 1.0)


@register
class TeacherForcingSchedule:
    """Base class: `schedule(step)` returns the ratio as a float32 tensor.

    Subclasses override `ratio(step)`. `__call__` hands it the step (a number, array
    or tensor; usually the optimizer's int64 `iterations`) cast to `step_dtype`:
    float32 by default; the built-in schedules set float64 (smooth formulas) or
    int64 (`PiecewiseConstant`, float steps floored) so large step counts stay exact.
    """

    step_dtype = tf.float32

    def __call__(self, step):
        """The ratio at `step`, clipped to [0, 1].

        Args:
            step: the step count(s): a number, array or tensor, integer or float.

        Returns:
            A float32 tensor of the shape of `step`.
        """
        ratio = self.ratio(_cast_steps(step, self.step_dtype))
        return tf.clip_by_value(tf.cast(ratio, tf.float32), 0.0, 1.0)

    def ratio(self, step):
        """The ratio at `step` (a tensor of `step_dtype`), before clipping to [0, 1]."""
        raise NotImplementedError(f"{type(self).__name__} must override ratio(step).")

    @property
    def is_always_one(self):
        """True when the ratio is 1 at every step (teacher forcing only)."""
        return False

    @property
    def is_always_below_one(self):
        """True when the float32 ratio is below 1 at every step: then per-token
        coins never all say "teacher" for certain, and training never takes the
        teacher-forced path (False when unknown, as for a custom schedule)."""
        return False

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()


@register
class Constant(TeacherForcingSchedule):
    """A constant ratio.

    Args:
        ratio: probability of teacher forcing, in [0, 1]. Defaults to 1.0.
    """

    def __init__(self, ratio=1.0):
        self.ratio_value = check_number("ratio", ratio, 0.0, 1.0)

    def ratio(self, step):
        return tf.fill(tf.shape(step), self.ratio_value)

    @property
    def is_always_one(self):
        return self.ratio_value >= 1.0

    @property
    def is_always_below_one(self):
        return _below_one_in_float32(self.ratio_value)

    def get_config(self):
        return {"ratio": self.ratio_value}


@register
class LinearDecay(TeacherForcingSchedule):
    """εᵢ = max(minimum, start − slope·i).

    Args:
        slope: decrease per step (c), > 0.
        start: ratio at step 0 (k), in [0, 1]. Defaults to 1.0.
        minimum: floor ε_min, in [0, 1]. Defaults to 0.0.
    """

    step_dtype = tf.float64

    def __init__(self, slope, start=1.0, minimum=0.0):
        self.slope = check_number("slope", slope, 0.0, None, low_open=True)
        self.start = check_number("start", start, 0.0, 1.0)
        self.minimum = check_number("minimum", minimum, 0.0, 1.0)

    def ratio(self, step):
        start, slope, minimum = (tf.constant(v, step.dtype)
                                 for v in (self.start, self.slope, self.minimum))
        return tf.maximum(minimum, start - slope * step)

    @property
    def is_always_below_one(self):
        # The largest ratio is at step 0 (or the floor).
        return _below_one_in_float32(max(self.start, self.minimum))

    def get_config(self):
        return {"slope": self.slope, "start": self.start, "minimum": self.minimum}


@register
class ExponentialDecay(TeacherForcingSchedule):
    """εᵢ = max(minimum, kⁱ) with 0 < k < 1.

    Args:
        k: decay base, in (0, 1).
        minimum: floor ε_min, in [0, 1]. Defaults to 0.0.
    """

    step_dtype = tf.float64

    def __init__(self, k, minimum=0.0):
        self.k = check_number("k", k, 0.0, 1.0, low_open=True)
        if self.k >= 1.0:
            raise ValueError(f"`k` must lie in (0, 1) for a decay. Received: k={k!r}")
        self.minimum = check_number("minimum", minimum, 0.0, 1.0)

    def ratio(self, step):
        k, minimum = tf.constant(self.k, step.dtype), tf.constant(self.minimum, step.dtype)
        return tf.maximum(minimum, tf.pow(k, step))

    def get_config(self):
        return {"k": self.k, "minimum": self.minimum}


@register
class InverseSigmoidDecay(TeacherForcingSchedule):
    """εᵢ = k / (k + exp(i / k)) with k ≥ 1; larger k decays later.

    Args:
        k: the decay constant, ≥ 1.
        minimum: floor ε_min, in [0, 1]. Defaults to 0.0.
    """

    step_dtype = tf.float64

    def __init__(self, k, minimum=0.0):
        self.k = check_number("k", k, 1.0, None)
        self.minimum = check_number("minimum", minimum, 0.0, 1.0)

    def ratio(self, step):
        # k / (k + exp(i/k)) = sigmoid(log k - i/k), stable for large i.
        log_k, k, minimum = (tf.constant(v, step.dtype)
                             for v in (math.log(self.k), self.k, self.minimum))
        return tf.maximum(minimum, tf.sigmoid(log_k - step / k))

    @property
    def is_always_below_one(self):
        # k / (k + 1) at step 0 is the largest ratio, below 1 unless float32 rounds it.
        return _below_one_in_float32(max(self.k / (self.k + 1.0), self.minimum))

    def get_config(self):
        return {"k": self.k, "minimum": self.minimum}


@register
class PiecewiseConstant(TeacherForcingSchedule):
    """εᵢ = values[j] where j counts the boundaries ≤ i.

    Steps are compared to the boundaries as int64 (float steps floored), exactly at
    any step count.

    Args:
        boundaries: non-negative, strictly increasing step counts, e.g.
            `[1000, 2000]`; may be empty (then the single value holds at every step).
        values: one more ratio than boundaries, each in [0, 1], e.g. `[1.0, 0.5, 0.0]`.
    """

    step_dtype = tf.int64

    def __init__(self, boundaries, values):
        boundaries = [int(b) for b in boundaries]
        values = [check_number("values", v, 0.0, 1.0) for v in values]
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "`values` must have one more entry than `boundaries`. Received: "
                f"boundaries={boundaries}, values={values}"
            )
        if any(b <= a for a, b in zip(boundaries, boundaries[1:])) or any(
            not 0 <= b < 2**63 for b in boundaries
        ):
            raise ValueError(
                "`boundaries` must be non-negative (below 2**63) and strictly increasing. "
                f"Received: boundaries={boundaries}"
            )
        self.boundaries = boundaries
        self.values = values

    def ratio(self, step):
        step = _cast_steps(step, tf.int64)
        if not self.boundaries:
            return tf.fill(tf.shape(step), self.values[0])
        boundaries = tf.constant(self.boundaries, tf.int64)
        index = tf.reduce_sum(tf.cast(step[..., None] >= boundaries, tf.int32), axis=-1)
        return tf.gather(tf.constant(self.values, tf.float32), index)

    @property
    def is_always_one(self):
        return all(v >= 1.0 for v in self.values)

    @property
    def is_always_below_one(self):
        return all(_below_one_in_float32(v) for v in self.values)

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


SCHEDULES = {
    "constant": Constant,
    "linear": LinearDecay,
    "exponential": ExponentialDecay,
    "inverse_sigmoid": InverseSigmoidDecay,
    "piecewise": PiecewiseConstant,
}


def _make(name, params):
    """`SCHEDULES[name](**params)`; a ValueError names required parameters left out."""
    cls = SCHEDULES[name]
    missing = [p for p, spec in inspect.signature(cls.__init__).parameters.items()
               if p != "self" and spec.default is inspect.Parameter.empty
               and spec.kind in (spec.POSITIONAL_OR_KEYWORD, spec.KEYWORD_ONLY)
               and p not in params]
    if missing:
        example = ", ".join(f"{p!r}: ..." for p in missing)
        raise ValueError(
            f"The teacher-forcing schedule {name!r} needs parameters "
            f"{', '.join(missing)}; pass a dict such as {{'name': {name!r}, {example}}}.")
    return cls(**params)


def inverse_sigmoid_k(steps, final_ratio):
    """The `k` of `InverseSigmoidDecay` whose ratio falls to `final_ratio` at `steps`.

    Solves k / (k + exp(steps / k)) = final_ratio by bisection (the ratio at a fixed
    step grows with k).

    Args:
        steps: the step count (> 0) at which the ratio is `final_ratio`.
        final_ratio: the ratio there, in (0, 1).

    Returns:
        `k` as a float (1.0, the smallest valid k, when even k = 1 decays less).
    """
    def ratio(k):
        return k / (k + math.exp(min(steps / k, 700.0)))

    low, high = 1.0, max(2.0, float(steps))
    if ratio(low) >= final_ratio:  # too few steps to decay that far
        return 1.0
    for _ in range(100):
        k = (low + high) / 2
        low, high = (k, high) if ratio(k) < final_ratio else (low, k)
    return (low + high) / 2


def get(identifier):
    """A schedule from a number, a name + kwargs dict, a config, or an instance.

    Args:
        identifier: `None` (constant 1.0), a float (constant ratio), a
            `TeacherForcingSchedule`, a dict `{"name": "linear", "slope": 1e-4}`
            (names: constant, linear, exponential, inverse_sigmoid, piecewise), a
            bare name (only for schedules without required parameters, i.e.
            "constant"), or a serialized Keras config
            (`{"class_name": ..., "config": ...}`).

    Returns:
        A `TeacherForcingSchedule`.

    Raises:
        ValueError: for an unknown name, a name (str or dict) without the parameters
            its schedule requires (only "constant" has none), or an identifier of
            another type.
    """
    if identifier is None:
        return Constant(1.0)
    if isinstance(identifier, TeacherForcingSchedule):
        return identifier
    if isinstance(identifier, (int, float)) and not isinstance(identifier, bool):
        return Constant(float(identifier))
    if isinstance(identifier, dict):
        if "class_name" in identifier:
            return keras.saving.deserialize_keras_object(identifier)
        config = dict(identifier)
        name = config.pop("name", None)
        if name not in SCHEDULES:
            raise ValueError(
                f"Unknown teacher-forcing schedule name={name!r}. Expected one of "
                f"{sorted(SCHEDULES)}."
            )
        return _make(name, config)
    if isinstance(identifier, str):
        if identifier not in SCHEDULES:
            raise ValueError(
                f"Unknown teacher-forcing schedule {identifier!r}. Expected one of "
                f"{sorted(SCHEDULES)}, or a dict with `name` and its parameters."
            )
        return _make(identifier, {})
    raise ValueError(
        "Could not interpret the teacher-forcing schedule. Expected None, a float, a "
        f"TeacherForcingSchedule or a dict. Received: {identifier!r}"
    )


def serialize(schedule):
    """The Keras config of a schedule (for a model's `get_config`)."""
    return keras.saving.serialize_keras_object(schedule)
