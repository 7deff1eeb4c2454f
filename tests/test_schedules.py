"""Teacher-forcing schedules against their formulas."""

import math

import keras
import numpy as np
import pytest

from keras_seq2seq import schedules

STEPS = np.array([0, 1, 10, 100, 1000, 5000], "float32")


def _values(schedule):
    return np.asarray(schedule(STEPS))


def test_constant():
    np.testing.assert_allclose(_values(schedules.Constant(0.25)), 0.25)
    assert schedules.Constant(1.0).is_always_one
    assert not schedules.Constant(0.99).is_always_one


def test_linear_decay():
    s = schedules.LinearDecay(slope=1e-3, start=0.9, minimum=0.2)
    expected = [max(0.2, 0.9 - 1e-3 * i) for i in STEPS]
    np.testing.assert_allclose(_values(s), expected, rtol=1e-6)


def test_exponential_decay():
    s = schedules.ExponentialDecay(k=0.999, minimum=0.05)
    expected = [max(0.05, 0.999 ** i) for i in STEPS]
    np.testing.assert_allclose(_values(s), expected, rtol=1e-5)


def test_inverse_sigmoid_decay():
    s = schedules.InverseSigmoidDecay(k=500)
    expected = [500 / (500 + math.exp(i / 500)) for i in STEPS]
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
    restored = keras.saving.deserialize_keras_object(schedules.serialize(schedule))
    assert restored == schedule
    np.testing.assert_allclose(_values(restored), _values(schedule))


def test_get_accepts_numbers_names_and_dicts():
    assert schedules.get(None) == schedules.Constant(1.0)
    assert schedules.get(0.5) == schedules.Constant(0.5)
    assert schedules.get({"name": "inverse_sigmoid", "k": 50}) == schedules.InverseSigmoidDecay(50)
