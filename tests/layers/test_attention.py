"""The Luong attention layers against numpy computations of the formulas."""

import keras
import numpy as np
import pytest

from keras_seq2seq.constants import ATTENTION_NAMES
from keras_seq2seq.layers import (
    ATTENTION_SCORES,
    ConcatAttention,
    DotAttention,
    GeneralAttention,
    make_score_layer,
    masked_softmax,
)
from tests.helpers import run_model_saving_test, run_serialization_test

RNG = np.random.default_rng(0)
B, TQ, TS, D = 2, 3, 5, 4


def _softmax(x, mask=None):
    if mask is not None:
        x = np.where(mask, x, -np.inf)
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    if mask is not None:
        e = np.where(mask, e, 0.0)
    return e / e.sum(-1, keepdims=True)


def _np_attention(scores, values, mask=None):
    m = None if mask is None else mask[:, None, :]
    w = _softmax(scores, m)
    return w @ values, w


def _inputs(dq=D, dv=D):
    q = RNG.normal(size=(B, TQ, dq)).astype("float32")
    v = RNG.normal(size=(B, TS, dv)).astype("float32")
    return q, v


def test_dot_score_matches_numpy():
    q, v = _inputs()
    context, weights = DotAttention()(q, v)
    ref_c, ref_w = _np_attention(q @ v.transpose(0, 2, 1), v)
    np.testing.assert_allclose(weights, ref_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(context, ref_c, rtol=1e-5, atol=1e-6)


def test_scaled_dot_divides_by_sqrt_d():
    q, v = _inputs()
    _, weights = DotAttention(scale=True)(q, v)
    _, ref_w = _np_attention(q @ v.transpose(0, 2, 1) / np.sqrt(D), v)
    np.testing.assert_allclose(weights, ref_w, rtol=1e-5, atol=1e-6)


def test_general_score_matches_numpy():
    q, v = _inputs(dq=3, dv=4)
    layer = GeneralAttention()
    layer(q, v)
    w_a = RNG.normal(size=(3, 4)).astype("float32")
    layer.kernel.assign(w_a)
    context, weights = layer(q, v)
    scores = np.einsum("bqi,ij,bsj->bqs", q, w_a, v)
    ref_c, ref_w = _np_attention(scores, v)
    np.testing.assert_allclose(weights, ref_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(context, ref_c, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("depth", [1, 2])
def test_concat_score_matches_numpy(depth):
    q, v = _inputs(dq=3, dv=4)
    units = 6
    layer = ConcatAttention(units, depth=depth)
    layer(q, v)
    for weight in layer.weights:
        weight.assign(RNG.normal(size=weight.shape).astype("float32"))
    context, weights = layer(q, v)
    # v_aᵀ tanh(W_a [h_t; h̄_s] + b), with W_a = [W_q; W_k] stacked on the input axis.
    w_a = np.concatenate([layer.query_kernel.numpy(), layer.values_kernel.numpy()], 0)
    pairs = np.concatenate([
        np.broadcast_to(q[:, :, None, :], (B, TQ, TS, 3)),
        np.broadcast_to(v[:, None, :, :], (B, TQ, TS, 4)),
    ], axis=-1)
    hidden = np.tanh(pairs @ w_a + layer.bias.numpy())
    for kernel, bias in zip(layer.hidden_kernels, layer.hidden_biases):
        hidden = np.tanh(hidden @ kernel.numpy() + bias.numpy())
    scores = hidden @ layer.score_vector.numpy()
    ref_c, ref_w = _np_attention(scores, v)
    np.testing.assert_allclose(weights, ref_w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(context, ref_c, rtol=1e-4, atol=1e-5)


LAYERS = [
    lambda: DotAttention(),
    lambda: DotAttention(scale=True),
    lambda: GeneralAttention(),
    lambda: ConcatAttention(5, depth=2),
]


def _called(make, mask):
    """A layer from `make`, called on `_inputs()` with the bool `mask`."""
    q, v = _inputs()
    mask = np.array(mask, bool)
    layer = make()
    context, weights = layer(q, v, values_mask=mask)
    return q, v, mask, layer, context, weights


@pytest.mark.parametrize("make", LAYERS)
def test_one_step_equals_slice_of_all_steps_with_precomputed_keys(make):
    q, v, mask, layer, context, weights = _called(make, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    keys = layer.precompute(v)
    for t in range(TQ):
        c1, w1 = layer(q[:, t], v, values_mask=mask, keys=keys)
        assert tuple(c1.shape) == (B, D) and tuple(w1.shape) == (B, TS)
        np.testing.assert_allclose(w1, np.asarray(weights)[:, t], atol=1e-6)
        np.testing.assert_allclose(c1, np.asarray(context)[:, t], atol=1e-6)


@pytest.mark.parametrize("make", LAYERS)
def test_masking_edges(make):
    q, v = _inputs()
    layer = make()
    # One valid position, all masked, no mask.
    mask = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], bool)
    context, weights = layer(q, v, values_mask=mask)
    weights, context = np.asarray(weights), np.asarray(context)
    np.testing.assert_array_equal(weights[0, :, 0], 1.0)
    np.testing.assert_array_equal(weights[0, :, 1:], 0.0)
    np.testing.assert_allclose(context[0], np.broadcast_to(v[0, 0], (TQ, D)), atol=1e-6)
    np.testing.assert_array_equal(weights[1], 0.0)
    np.testing.assert_array_equal(context[1], 0.0)
    assert np.isfinite(weights).all() and np.isfinite(context).all()
    _, unmasked = layer(q, v)
    np.testing.assert_allclose(np.asarray(unmasked).sum(-1), 1.0, atol=1e-6)
    assert (np.asarray(unmasked) > 0).all()


def test_masked_positions_are_exactly_zero_and_rows_sum_to_one():
    q, v = _inputs()
    mask = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 0]], bool)
    _, weights = DotAttention()(q, v, values_mask=mask)
    weights = np.asarray(weights)
    assert (weights[np.broadcast_to(~mask[:, None, :], weights.shape)] == 0.0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)


def test_mixed_bfloat16_keeps_masks_exact():
    q, v = _inputs()
    mask = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0]], bool)
    layer = GeneralAttention(dtype="mixed_bfloat16")
    context, weights = layer(q, v, values_mask=mask)
    assert "bfloat16" in str(weights.dtype)
    weights = np.asarray(keras.ops.cast(weights, "float32"))
    assert (weights[np.broadcast_to(~mask[:, None, :], weights.shape)] == 0.0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-2)


def test_keras_mask_of_values_is_used_and_query_mask_passes_through():
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    embed = keras.layers.Embedding(10, D, mask_zero=True)
    values = embed(source)
    query = embed(target)
    context, weights = DotAttention()(query, values)
    assert context._keras_mask is not None
    model = keras.Model([source, target], [context, weights])
    src = np.array([[1, 2, 0, 0]], "int32")
    tgt = np.array([[3, 4, 5]], "int32")
    _, w = model.predict([src, tgt], verbose=0)
    np.testing.assert_array_equal(w[0, :, 2:], 0.0)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    layer = DotAttention()
    c, _ = layer(embed(np.array([[3, 0]])), embed(np.array([[1, 2]])))
    np.testing.assert_array_equal(np.asarray(c._keras_mask), [[True, False]])


@pytest.mark.parametrize(
    "query_shape, values_shape, kwargs, message",
    [
        ((2, 3, 4, 5), (2, 5, 4), {}, "query.shape=(2, 3, 4, 5)"),
        ((2, 4), (2, 4), {}, "values.shape=(2, 4)"),
        ((3, 4), (2, 5, 4), {}, "same batch size"),
        ((2, 4), (2, 5, 6), {}, "query dim=4, values dim=6"),
        ((2, 4), (2, 5, 4), {"values_mask": np.ones((2, 6), bool)},
         "values_mask.shape=(2, 6)"),
    ],
)
def test_bad_shapes_name_the_argument(query_shape, values_shape, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DotAttention()(np.zeros(query_shape, "float32"), np.zeros(values_shape, "float32"),
                       **kwargs)


@pytest.mark.parametrize("bad", [{"units": 0}, {"units": 4, "depth": 0}, {"units": "x"}])
def test_concat_bad_arguments(bad):
    name = "depth" if "depth" in bad else "units"
    with pytest.raises(ValueError, match=name):
        ConcatAttention(**bad)


@pytest.mark.parametrize("make", LAYERS)
def test_config_round_trip_is_exact(make):
    run_serialization_test(make())


def test_keras_file_round_trip_inside_functional_model(tmp_path):
    q_in = keras.Input((None, 3))
    v_in = keras.Input((None, 4))
    outputs = []
    for layer in (GeneralAttention(), ConcatAttention(5, depth=2)):
        outputs.extend(layer(q_in, v_in))
    outputs.extend(DotAttention(scale=True)(keras.layers.Dense(4)(q_in), v_in))
    model = keras.Model([q_in, v_in], outputs)
    run_model_saving_test(model, list(_inputs(dq=3, dv=4)), tmp_path)


@pytest.mark.parametrize("make", LAYERS)
def test_compute_scores_and_attend_are_what_call_does(make):
    q, v, mask, layer, context, weights = _called(make, [[1, 1, 0, 1, 0], [0, 0, 0, 0, 0]])
    scores = layer.compute_scores(q, layer.precompute(v))
    assert tuple(scores.shape) == (B, TQ, TS)
    c, w = layer.attend(keras.ops.cast(scores, "float32"), v, mask)
    np.testing.assert_array_equal(np.asarray(w), np.asarray(weights))
    np.testing.assert_array_equal(np.asarray(c), np.asarray(context))
    if isinstance(layer, DotAttention):
        raw = q @ v.transpose(0, 2, 1)
        raw = raw / np.sqrt(D) if layer.scale else raw
        np.testing.assert_allclose(scores, raw, rtol=1e-5, atol=1e-6)


def test_attend_multiplies_extra_weights_after_the_softmax():
    q, v = _inputs()
    layer = DotAttention()
    scores = keras.ops.convert_to_tensor(q @ v.transpose(0, 2, 1))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    extra = RNG.uniform(size=(B, TQ, TS)).astype("float32")
    context, weights = layer.attend(scores, v, mask, extra_weights=extra)
    _, ref_w = _np_attention(np.asarray(scores), v, mask)
    np.testing.assert_allclose(weights, ref_w * extra, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(context, (ref_w * extra) @ v, rtol=1e-5, atol=1e-6)
    assert (np.asarray(weights)[0, :, 3:] == 0).all()


def test_masked_softmax_takes_one_mask_per_query_step():
    scores = RNG.normal(size=(B, TQ, TS)).astype("float32")
    mask = RNG.uniform(size=(B, TQ, TS)) < 0.6
    mask[0, 0] = False  # a row with nothing to attend to
    weights = np.asarray(masked_softmax(keras.ops.convert_to_tensor(scores), mask))
    assert (weights[~mask] == 0.0).all() and (weights[0, 0] == 0.0).all()
    rows = mask.any(-1)
    np.testing.assert_allclose(weights.sum(-1)[rows], 1.0, atol=1e-6)
    np.testing.assert_allclose(weights[rows], _softmax(scores[rows], mask[rows]),
                               rtol=1e-5, atol=1e-6)
    # A (batch, Ts) mask is the same mask for every step.
    flat = mask[:, 0]
    np.testing.assert_array_equal(
        masked_softmax(scores, flat),
        masked_softmax(scores, np.broadcast_to(flat[:, None], scores.shape)))


@pytest.mark.parametrize("make", LAYERS)
def test_global_attention_accepts_and_ignores_positions_and_training(make):
    """The one-step call with positions is in test_local_attention (all layers)."""
    q, v = _inputs()
    layer = make()
    plain = layer(q, v)
    given = layer(q, v, keys=layer.precompute(v),
                  positions=RNG.integers(0, 9, (B, TQ)).astype("int32"), training=True)
    for a, b in zip(plain, given):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_attention_scores_are_keyed_by_the_constants():
    assert tuple(ATTENTION_SCORES) == ATTENTION_NAMES
    assert list(ATTENTION_SCORES.values()) == [DotAttention, GeneralAttention,
                                               ConcatAttention]


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_make_score_layer_builds_each_score(name):
    layer = make_score_layer(name, 6, depth=2, scale=True, name="att",
                             dtype="mixed_bfloat16")
    assert type(layer) is ATTENTION_SCORES[name]
    assert layer.name == "att" and layer.dtype_policy.name == "mixed_bfloat16"
    config = layer.get_config()
    if name == "dot":
        assert config["scale"] is True
    elif name == "concat":
        assert (config["units"], config["depth"]) == (6, 2)
    assert make_score_layer(name, 6).get_config().get("scale", False) is False


@pytest.mark.parametrize(
    "args, kwargs, match",
    [(("bahdanau", 4), {}, "`score`.*bahdanau"),
     (("concat",), {}, "`units`.*units=None"),
     (("concat", 4), {"depth": 0}, "`depth`"),
     (("dot",), {"scale": "yes"}, "`scale`")],
)
def test_make_score_layer_names_a_bad_argument(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_score_layer(*args, **kwargs)
