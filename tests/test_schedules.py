"""Teacher-forcing schedules against their formulas."""

import inspect
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq2seq import schedules
from tests.helpers import run_serialization_test

STEPS = np.array([0, 1, 10, 100, 1000, 5000], "float32")


def _values(schedule):
    return np.asarray(schedule(STEPS))


def test_constant():
    np.testing.assert_allclose(_values(schedules.Constant(0.25)), 0.25)
    assert schedules.Constant(1.0).is_always_one
    assert not schedules.Constant(0.99).is_always_one


@pytest.mark.parametrize("schedule, below", [
    (schedules.Constant(0.5), True),
    (schedules.Constant(1.0), False),
    (schedules.Constant(0.99999999), False),  # float32 rounds it to 1
    (schedules.LinearDecay(slope=1e-3), False),
    (schedules.LinearDecay(slope=1e-3, start=0.9, minimum=0.2), True),
    (schedules.LinearDecay(slope=1e-3, start=0.5, minimum=1.0), False),  # the floor
    (schedules.InverseSigmoidDecay(500, minimum=1.0), False),
    (schedules.ExponentialDecay(0.99), False),
    (schedules.InverseSigmoidDecay(500), True),
    (schedules.InverseSigmoidDecay(1e9), False),  # k / (k + 1) rounds to 1
    (schedules.PiecewiseConstant([10], [0.9, 0.5]), True),
    (schedules.PiecewiseConstant([10], [1.0, 0.5]), False),
    (schedules.PiecewiseConstant([10], [0.5, 1.0]), False),
    (schedules.PiecewiseConstant([], [0.0]), True),
])
def test_is_always_below_one_matches_the_ratios(schedule, below):
    assert schedule.is_always_below_one is below
    values = np.asarray(schedule(np.arange(0, 20000, 7, dtype="int64")))
    # Where it says "below", every ratio is; where not, some ratio reaches 1.
    assert bool(values.max() < 1.0) is below


def test_linear_decay():
    s = schedules.LinearDecay(slope=1e-3, start=0.9, minimum=0.2)
    expected = [max(0.2, 0.9 - 1e-3 * float(i)) for i in STEPS]
    np.testing.assert_allclose(_values(s), expected, rtol=1e-6)


def test_exponential_decay():
    s = schedules.ExponentialDecay(k=0.999, minimum=0.05)
    # Python floats: `0.999 ** np.float32(i)` would round 0.999 to float32 first.
    expected = [max(0.05, 0.999 ** float(i)) for i in STEPS]
    np.testing.assert_allclose(_values(s), expected, rtol=1e-5)


def test_inverse_sigmoid_decay():
    s = schedules.InverseSigmoidDecay(k=500)
    expected = [500 / (500 + math.exp(float(i) / 500)) for i in STEPS]
    np.testing.assert_allclose(_values(s), expected, rtol=1e-5)
    # Stable far out: no overflow, tends to 0.
    assert 0.0 <= float(s(1e7)) < 1e-6


def test_piecewise_constant():
    s = schedules.PiecewiseConstant([10, 1000], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(_values(s), [1.0, 1.0, 0.5, 0.5, 0.0, 0.0])
    assert schedules.PiecewiseConstant([5], [1.0, 1.0]).is_always_one


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: schedules.Constant(1.5), "ratio"),
        (lambda: schedules.LinearDecay(slope=0), "slope"),
        (lambda: schedules.LinearDecay(slope=0.1, minimum=-0.1), "minimum"),
        (lambda: schedules.ExponentialDecay(k=1.0), "k"),
        (lambda: schedules.ExponentialDecay(k=0.0), "k"),
        (lambda: schedules.InverseSigmoidDecay(k=0.5), "k"),
        (lambda: schedules.PiecewiseConstant([10], [1.0]), "values"),
        (lambda: schedules.PiecewiseConstant([10, 5], [1.0, 0.5, 0.0]), "boundaries"),
        (lambda: schedules.get({"name": "cosine"}), "cosine"),
    ],
)
def test_out_of_range_parameters_name_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.parametrize("schedule", [
    schedules.Constant(0.3),
    schedules.LinearDecay(slope=1e-4, start=1.0, minimum=0.1),
    schedules.ExponentialDecay(k=0.99),
    schedules.InverseSigmoidDecay(k=100.0),
    schedules.PiecewiseConstant([10, 20], [1.0, 0.5, 0.0]),
])
def test_keras_serialization_round_trip(schedule):
    run_serialization_test(schedule)
    restored = keras.saving.deserialize_keras_object(schedules.serialize(schedule))
    assert restored == schedule
    np.testing.assert_allclose(_values(restored), _values(schedule))


def test_get_accepts_numbers_names_and_dicts():
    assert schedules.get(None) == schedules.Constant(1.0)
    assert schedules.get(0.5) == schedules.Constant(0.5)
    assert schedules.get({"name": "inverse_sigmoid", "k": 50}) == schedules.InverseSigmoidDecay(50)


# ---------------------------------------------------------------- regressions


def test_piecewise_constant_without_boundaries_is_constant():
    s = schedules.PiecewiseConstant([], [0.25])
    for step in (0, 1, 7, 10**6):
        value = s(step)
        assert value.dtype == tf.float32 and value.shape == ()
        assert float(value) == 0.25
    assert float(s(tf.constant(5, tf.int64))) == 0.25
    np.testing.assert_allclose(_values(s), 0.25)

    @tf.function
    def at(step):
        return s(step)

    for step in (0, 3, 2**40):
        value = at(tf.constant(step, tf.int64))
        assert value.dtype == tf.float32 and value.shape == ()
        assert float(value) == 0.25
    assert schedules.PiecewiseConstant([], [1.0]).is_always_one
    assert float(schedules.get({"name": "piecewise", "boundaries": [], "values": [0.5]})(3)) == 0.5


@pytest.mark.parametrize("name", sorted(schedules.SCHEDULES))
def test_get_by_name_names_the_required_parameters(name):
    cls = schedules.SCHEDULES[name]
    required = [p for p, spec in inspect.signature(cls.__init__).parameters.items()
                if p != "self" and spec.default is inspect.Parameter.empty]
    if not required:
        assert isinstance(schedules.get(name), cls)
        return
    with pytest.raises(ValueError) as info:
        schedules.get(name)
    message = str(info.value)
    assert f"'{name}'" in message
    for parameter in required:
        assert parameter in message
    assert f"{{'name': '{name}', " in message
    # A dict missing a required parameter says the same, not a TypeError.
    with pytest.raises(ValueError, match=required[0]):
        schedules.get({"name": name})


def test_piecewise_boundaries_compare_exact_integer_steps():
    big = 2**24
    s = schedules.PiecewiseConstant([big + 1], [1.0, 0.0])
    assert [float(s(step)) for step in (big, big + 1, big + 2)] == [1.0, 0.0, 0.0]
    steps = tf.constant([big, big + 1, big + 2], tf.int64)
    np.testing.assert_array_equal(s(steps).numpy(), [1.0, 0.0, 0.0])
    # The optimizer's step counter (an int64 variable), inside a tf.function.
    iterations = tf.Variable(big, dtype=tf.int64)
    at = tf.function(lambda: s(iterations))
    assert float(at()) == 1.0
    iterations.assign(big + 1)
    assert float(at()) == 0.0
    # Boundaries past float32 (and float64) precision, and far out.
    s = schedules.PiecewiseConstant([2**40 + 1, 2**62 + 1], [1.0, 0.5, 0.0])
    assert [float(s(step)) for step in (2**40, 2**40 + 1, 2**62, 2**62 + 1)] == [
        1.0, 0.5, 0.5, 0.0]
    # Float steps compare as their exact value: 9.5 < 10 <= 10.0.
    s = schedules.PiecewiseConstant([10], [1.0, 0.0])
    assert [float(s(x)) for x in (9.5, 10.0, 10.5)] == [1.0, 0.0, 0.0]
    assert float(s(float("inf"))) == 0.0


@pytest.mark.parametrize("schedule, formula", [
    (schedules.LinearDecay(slope=2**-26, start=1.0), lambda i: 1.0 - 2**-26 * i),
    (schedules.ExponentialDecay(k=0.1 ** (1 / 2**24)), lambda i: 0.1 ** (i / 2**24)),
    (schedules.InverseSigmoidDecay(k=2**20), lambda i: 2**20 / (2**20 + math.exp(i / 2**20))),
])
def test_smooth_schedules_keep_precision_at_large_steps(schedule, formula):
    iterations = tf.Variable(0, dtype=tf.int64)
    in_graph = tf.function(lambda: schedule(iterations))
    for step in (2**24 - 1, 2**24 + 1, 2**25 + 3):
        iterations.assign(step)
        for value in (schedule(tf.constant(step, tf.int64)), schedule(step), in_graph()):
            assert value.dtype == tf.float32
            assert float(value) == pytest.approx(formula(step), rel=2e-7, abs=1e-9)
