"""Shared test helpers (in the manner of keras-hub's TestCase): data and round trips.

Import these from test modules (`from tests.helpers import ...`); `conftest.py` holds
only fixtures.
"""

import copy
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def reverse_task(n=512, length=6, vocabulary_size=12, seed=0):
    """A tiny reversal task as id arrays: ((source, decoder_input), target)."""
    rng = np.random.default_rng(seed)
    source = rng.integers(4, vocabulary_size, (n, length)).astype("int32")
    target = source[:, ::-1]
    decoder_input = np.concatenate([np.full((n, 1), 2, "int32"), target], axis=1)
    labels = np.concatenate([target, np.full((n, 1), 3, "int32")], axis=1)
    return source, decoder_input, labels


def run_serialization_test(obj):
    """Checks that `obj`'s config survives both ways Keras rebuilds objects.

    1. `type(obj).from_config(obj.get_config())` gives an object of the same type whose
       config equals the original (from_config gets a copy, so a from_config that
       edits its argument in place is caught too).
    2. `keras.saving.serialize_keras_object` -> `deserialize_keras_object` (what a
       `.keras` file does, through the registered name) gives the same type, the same
       config, and serializes again to the same dict.

    Returns:
        The object rebuilt by `from_config`.
    """
    config = obj.get_config()
    original = copy.deepcopy(config)
    restored = type(obj).from_config(copy.deepcopy(config))
    assert type(restored) is type(obj)
    assert restored.get_config() == original
    assert config == original, "get_config's result changed under from_config"

    serialized = keras.saving.serialize_keras_object(obj)
    again = keras.saving.deserialize_keras_object(copy.deepcopy(serialized))
    assert type(again) is type(obj)
    assert again.get_config() == original
    assert keras.saving.serialize_keras_object(again) == serialized
    return restored


def _as_tuple(inputs):
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in value)


def _flatten_shapes(shapes):
    """A shape, or a nested list/tuple of shapes, as a flat list of shape tuples."""
    if _is_shape(shapes):
        return [tuple(shapes)]
    return [s for item in shapes for s in _flatten_shapes(item)]


def _numpy_leaves(outputs):
    return [keras.ops.convert_to_numpy(x) for x in keras.tree.flatten(outputs)]


def run_layer_test(layer_cls, init_kwargs, inputs, expected_output_shape,
                   expected_output_dtype=None, call_kwargs=None, atol=1e-6, rtol=1e-6):
    """Builds and calls a layer, then checks it against a rebuilt copy.

    Args:
        layer_cls: the layer class.
        init_kwargs: its constructor arguments.
        inputs: the positional call argument, or a tuple/list of them.
        expected_output_shape: the output's shape, or a nested list/tuple of shapes
            in the order of `keras.tree.flatten(outputs)` (`None` matches any size).
        expected_output_dtype: every output's dtype. Defaults to the layer's
            `compute_dtype`.
        call_kwargs: keyword call arguments (masks, `training`, ...).
        atol, rtol: tolerance between the layer and its rebuilt copy.

    Checks: the layer is built with weights after the call; each output's shape and
    dtype; `run_serialization_test`; and that a layer rebuilt from the config, given
    the same weights, has the same weight shapes and gives the same outputs.

    Returns:
        `(layer, outputs)`: the layer and its outputs as a flat list of numpy arrays.
    """
    call_kwargs = dict(call_kwargs or {})
    args = _as_tuple(inputs)
    layer = layer_cls(**init_kwargs)
    outputs = _numpy_leaves(layer(*args, **call_kwargs))
    assert layer.built

    expected_shapes = _flatten_shapes(expected_output_shape)
    assert len(outputs) == len(expected_shapes), (
        f"{len(outputs)} outputs, expected {len(expected_shapes)}")
    dtype = expected_output_dtype or layer.compute_dtype
    for i, (output, shape) in enumerate(zip(outputs, expected_shapes)):
        assert len(output.shape) == len(shape) and all(
            e is None or e == d for d, e in zip(output.shape, shape)), (
            f"output {i} has shape {output.shape}, expected {shape}")
        assert str(output.dtype) == str(dtype), (
            f"output {i} has dtype {output.dtype}, expected {dtype}")

    rebuilt = run_serialization_test(layer)
    rebuilt(*args, **call_kwargs)
    assert [tuple(w.shape) for w in rebuilt.weights] == [tuple(w.shape) for w in layer.weights]
    rebuilt.set_weights(layer.get_weights())
    again = _numpy_leaves(rebuilt(*args, **call_kwargs))
    for a, b in zip(outputs, again):
        np.testing.assert_allclose(b, a, atol=atol, rtol=rtol)
    return layer, outputs


def _tuples_as_lists(value):
    if isinstance(value, dict):
        return {k: _tuples_as_lists(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_tuples_as_lists(v) for v in value]
    return value


def run_model_saving_test(model, inputs, tmp_path, atol=0.0, rtol=0.0,
                          filename="model.keras"):
    """Saves `model` to a `.keras` file, loads it with `keras.models.load_model`.

    Checks that the loaded model has the same type, config (tuples read as lists) and
    weights, and that `model(inputs, training=False)` and the loaded model's outputs agree
    (`np.testing.assert_allclose`; the default tolerance of 0 asks for equality).

    Returns:
        The loaded model.
    """
    expected = _numpy_leaves(model(inputs, training=False))
    path = os.path.join(tmp_path, filename)
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is type(model)
    # A .keras file is JSON: tuples in the config (build shapes) come back as lists.
    assert _tuples_as_lists(restored.get_config()) == _tuples_as_lists(model.get_config())
    weights, restored_weights = model.get_weights(), restored.get_weights()
    assert len(restored_weights) == len(weights)
    for a, b in zip(weights, restored_weights):
        np.testing.assert_array_equal(b, a)
    got = _numpy_leaves(restored(inputs, training=False))
    assert len(got) == len(expected)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(b, a, atol=atol, rtol=rtol)
    return restored
