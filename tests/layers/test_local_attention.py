"""LocalAttention (Luong 2015 local-m / local-p) against numpy computations of the formulas."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_seq2seq.layers.attention import (
    ConcatAttention,
    DotAttention,
    GeneralAttention,
    LuongAttention,
)
from keras_seq2seq.layers.local_attention import LocalAttention
from tests.helpers import run_model_saving_test, run_serialization_test

RNG = np.random.default_rng(0)
B, TQ, TS, DQ, DV, UNITS = 2, 7, 9, 4, 4, 5
SCORES = ("dot", "general", "concat")
MODES = ("monotonic", "predictive")
# Right-padded: 6 real tokens, then all 9.
MASK = np.array([[1] * 6 + [0] * 3, [1] * 9], bool)


def _make(score, mode, window=2, **kwargs):
    """A built layer whose every weight holds fixed random values."""
    layer = LocalAttention(score=score, mode=mode, window=window, units=UNITS, depth=2,
                           scale=score == "dot", **kwargs)
    layer(np.zeros((B, 2, DQ), "float32"), np.zeros((B, 2, DV), "float32"))
    for weight in layer.weights:
        weight.assign(RNG.normal(size=weight.shape).astype("float32"))
    return layer


def _inputs(tq=TQ, ts=TS):
    q = RNG.normal(size=(B, tq, DQ)).astype("float32")
    v = RNG.normal(size=(B, ts, DV)).astype("float32")
    return q, v


def _np_scores(layer, q, v):
    inner = layer.score_layer
    if layer.score == "dot":
        scores = q @ v.transpose(0, 2, 1)
        return scores / np.sqrt(q.shape[-1]) if layer.scale else scores
    if layer.score == "general":
        return np.einsum("bqi,ij,bsj->bqs", q, inner.kernel.numpy(), v)
    # v_aᵀ tanh(W_a [h_t; h̄_s] + b) with W_a = [W_q; W_k], then depth-1 further layers.
    hidden = (q @ inner.query_kernel.numpy())[:, :, None, :] + (
        v @ inner.values_kernel.numpy())[:, None, :, :] + inner.bias.numpy()
    hidden = np.tanh(hidden)
    for kernel, bias in zip(inner.hidden_kernels, inner.hidden_biases):
        hidden = np.tanh(hidden @ kernel.numpy() + bias.numpy())
    return hidden @ inner.score_vector.numpy()


def _np_local(layer, q, v, mask=None, positions=None):
    """The local attention formulas in float64 numpy for a rank-3 query."""
    q, v = q.astype("float64"), v.astype("float64")
    b, tq, ts = q.shape[0], q.shape[1], v.shape[1]
    mask = np.ones((b, ts), bool) if mask is None else mask
    lengths = mask.sum(-1).astype("float64")
    if layer.mode == "monotonic":
        p = np.broadcast_to(np.arange(tq), (b, tq)) if positions is None else positions
        p = np.asarray(p, "float64")
    else:
        w_p, v_p = layer.position_kernel.numpy(), layer.position_vector.numpy()
        sig = 1.0 / (1.0 + np.exp(-(np.tanh(q @ w_p) @ v_p)))
        last = np.maximum(lengths - 1, 0)[:, None]
        p = np.clip(last * sig, 0, last)
    s = np.arange(ts)
    dist = s[None, None, :] - p[:, :, None]
    valid = (np.abs(dist) <= layer.window) & mask[:, None, :]
    scores = np.where(valid, _np_scores(layer, q, v), -np.inf)
    top = np.max(scores, -1, keepdims=True)
    e = np.where(valid, np.exp(scores - np.where(np.isfinite(top), top, 0)), 0.0)
    total = e.sum(-1, keepdims=True)
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    if layer.mode == "predictive":
        sigma = layer.window / 2
        weights = weights * np.exp(-dist**2 / (2 * sigma**2))
    return weights @ v, weights, p


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("score", SCORES)
def test_matches_numpy_all_steps_and_one_step(score, mode):
    q, v = _inputs()
    layer = _make(score, mode)
    ref_c, ref_w, ref_p = _np_local(layer, q, v, MASK)
    context, weights = layer(q, v, values_mask=MASK)
    assert tuple(context.shape) == (B, TQ, DV) and tuple(weights.shape) == (B, TQ, TS)
    np.testing.assert_allclose(weights, ref_w, atol=1e-5)
    np.testing.assert_allclose(context, ref_c, atol=1e-5)
    # The windows really cut something off (D=2 over 6 or 9 positions).
    assert (np.asarray(weights)[:, :, :6] == 0).any()
    if mode == "predictive":
        # The aligned positions are real-valued (so the Gaussian above is checked at
        # fractional distances), not the steps t of local-m; weights sum to at most 1.
        assert not np.allclose(ref_p, np.round(ref_p))
        assert not np.allclose(ref_p, np.arange(TQ))
        assert (np.asarray(weights).sum(-1) <= 1 + 1e-6).all()
    keys = layer.precompute(v)
    for t in range(TQ):
        c1, w1 = layer(q[:, t], v, values_mask=MASK, keys=keys, positions=t)
        assert tuple(c1.shape) == (B, DV) and tuple(w1.shape) == (B, TS)
        np.testing.assert_allclose(w1, ref_w[:, t], atol=1e-5)
        np.testing.assert_allclose(c1, ref_c[:, t], atol=1e-5)
        # The one-step call equals the slice t of the all-steps call.
        np.testing.assert_allclose(w1, np.asarray(weights)[:, t], atol=1e-6)
        np.testing.assert_allclose(c1, np.asarray(context)[:, t], atol=1e-6)


@pytest.mark.parametrize("score", SCORES)
def test_monotonic_positions_per_sentence_and_step(score):
    q, v = _inputs()
    layer = _make(score, "monotonic", window=1)
    positions = RNG.integers(0, 11, (B, TQ)).astype("int32")
    ref_c, ref_w, _ = _np_local(layer, q, v, MASK, positions=positions)
    context, weights = layer(q, v, values_mask=MASK, positions=positions)
    np.testing.assert_allclose(weights, ref_w, atol=1e-5)
    np.testing.assert_allclose(context, ref_c, atol=1e-5)
    c1, w1 = layer(q[:, 3], v, values_mask=MASK, positions=positions[:, 3])
    np.testing.assert_allclose(w1, ref_w[:, 3], atol=1e-5)
    np.testing.assert_allclose(c1, ref_c[:, 3], atol=1e-5)


def test_monotonic_windows_at_sentence_edges_and_beyond():
    q, v = _inputs(tq=9, ts=6)
    mask = np.array([[1, 1, 1, 1, 0, 0], [1] * 6], bool)  # S = 4 and 6
    layer = _make("general", "monotonic", window=1)
    context, weights = layer(q, v, values_mask=mask)
    context, weights = np.asarray(context), np.asarray(weights)
    assert np.isfinite(weights).all() and np.isfinite(context).all()
    s = np.arange(6)
    for b, length in enumerate((4, 6)):
        for t in range(9):
            allowed = (np.abs(s - t) <= 1) & (s < length)
            assert (weights[b, t, ~allowed] == 0.0).all()
            if allowed.any():
                assert (weights[b, t, allowed] > 0).all()
                np.testing.assert_allclose(weights[b, t].sum(), 1.0, atol=1e-6)
            else:  # t - D beyond the last real position: nothing to attend to.
                assert (weights[b, t] == 0.0).all() and (context[b, t] == 0.0).all()
    # t = 0 sees {0, 1}; t = S-1 = 3 sees {2, 3}; t = 4 sees {3}; t = 5 sees nothing.
    assert set(np.flatnonzero(weights[0, 0])) == {0, 1}
    assert set(np.flatnonzero(weights[0, 3])) == {2, 3}
    np.testing.assert_array_equal(weights[0, 4], np.eye(6)[3])
    np.testing.assert_allclose(context[0, 4], v[0, 3], atol=1e-6)
    assert (weights[0, 5:] == 0).all() and (weights[1, 8] == 0).all()
    ref_c, ref_w, _ = _np_local(layer, q, v, mask)
    np.testing.assert_allclose(weights, ref_w, atol=1e-5)
    np.testing.assert_allclose(context, ref_c, atol=1e-5)


def test_window_zero_is_hard_monotonic_alignment():
    q, v = _inputs(tq=4, ts=5)
    layer = _make("dot", "monotonic", window=0)
    context, weights = layer(q, v)
    np.testing.assert_array_equal(np.asarray(weights), np.broadcast_to(np.eye(4, 5), (B, 4, 5)))
    np.testing.assert_allclose(context, v[:, :4], atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_sentence_shorter_than_window_uses_all_its_positions(mode):
    q, v = _inputs(tq=3, ts=6)
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]], bool)
    layer = _make("general", mode, window=6)
    _, weights = layer(q, v, values_mask=mask)
    weights = np.asarray(weights)
    # Global attention over the real tokens with the same W_a.
    glob = GeneralAttention()
    glob(q, v)
    glob.kernel.assign(layer.score_layer.kernel)
    _, global_weights = glob(q, v, values_mask=mask)
    global_weights = np.asarray(global_weights)
    if mode == "monotonic":
        np.testing.assert_allclose(weights, global_weights, atol=1e-6)
    else:  # the same softmax, times the Gaussian around p_t.
        _, ref_w, p = _np_local(layer, q, v, mask)
        gauss = np.exp(-((np.arange(6) - p[:, :, None]) ** 2) / (2 * 3.0**2))
        np.testing.assert_allclose(weights, global_weights * gauss, atol=1e-6)
        np.testing.assert_allclose(weights, ref_w, atol=1e-5)
    assert (weights[~np.broadcast_to(mask[:, None, :], weights.shape)] == 0.0).all()


@pytest.mark.parametrize("score", SCORES)
def test_predictive_edges_one_token_and_empty_sentences(score):
    q, v = _inputs(tq=3, ts=5)
    mask = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], bool)
    layer = _make(score, "predictive", window=2)
    context, weights = layer(q, v, values_mask=mask)
    context, weights = np.asarray(context), np.asarray(weights)
    # S = 1: p_t = 0, the only position gets softmax 1 times exp(0) = 1.
    np.testing.assert_allclose(weights[0], np.broadcast_to(np.eye(5)[0], (3, 5)), atol=1e-6)
    np.testing.assert_allclose(context[0], np.broadcast_to(v[0, 0], (3, DV)), atol=1e-6)
    # S = 0: zero weights and context, no NaN.
    assert (weights[1] == 0).all() and (context[1] == 0).all()
    assert np.isfinite(weights).all() and np.isfinite(context).all()


def test_padding_positions_get_exactly_zero_and_keras_mask_of_values_is_used():
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    embed = keras.layers.Embedding(12, DQ, mask_zero=True)
    layer = LocalAttention("dot", "monotonic", window=3)
    context, weights = layer(embed(target), embed(source))
    assert context._keras_mask is not None
    model = keras.Model([source, target], [context, weights])
    src = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9]], "int32")
    tgt = np.array([[3, 4, 5, 6, 7, 8, 9, 10]] * 2, "int32")
    _, w = model.predict([src, tgt], verbose=0)
    assert (w[0, :, 3:] == 0).all() and np.isfinite(w).all()
    np.testing.assert_allclose(w[0, :6].sum(-1), 1.0, atol=1e-6)  # t - 3 <= 2
    assert (w[0, 6:] == 0).all()


def test_mixed_bfloat16_keeps_windows_and_masks_exact():
    q, v = _inputs()
    layer = LocalAttention("general", "predictive", window=2, units=4,
                           dtype="mixed_bfloat16")
    context, weights = layer(q, v, values_mask=MASK)
    assert "bfloat16" in str(weights.dtype) and "bfloat16" in str(context.dtype)
    weights = np.asarray(keras.ops.cast(weights, "float32"))
    assert (weights[np.broadcast_to(~MASK[:, None, :], weights.shape)] == 0.0).all()
    assert np.isfinite(weights).all()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"mode": "local-x"}, "mode"),
        ({"score": "bahdanau"}, "score"),
        ({"window": -1}, "window"),
        ({"window": 2.5}, "window"),
        ({"window": True}, "window"),
        ({"mode": "predictive", "window": 0, "units": 4}, "window"),
        ({"mode": "predictive"}, "units"),
        ({"score": "concat"}, "units"),
        ({"units": 0}, "units"),
        ({"depth": 0}, "depth"),
        ({"score": "dot", "scale": "yes"}, "scale"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        LocalAttention(**kwargs)


def test_bad_call_arguments_name_the_argument():
    q, v = _inputs()
    layer = _make("general", "monotonic")
    with pytest.raises(ValueError, match="`positions`.*positions=None"):
        layer(q[:, 0], v)
    with pytest.raises(ValueError, match=r"positions.shape=\(2, 3\)"):
        layer(q, v, positions=np.zeros((B, 3), "int32"))
    with pytest.raises(ValueError, match=r"positions.shape=\(2, 1\)"):
        layer(q[:, 0], v, positions=np.zeros((B, 1), "int32"))
    with pytest.raises(ValueError, match=r"query.shape=\(2, 3, 4, 5\)"):
        layer(np.zeros((2, 3, 4, 5), "float32"), v)
    with pytest.raises(ValueError, match="query dim=4, values dim=6"):
        LocalAttention("dot")(q, np.zeros((B, TS, 6), "float32"))
    # local-p needs no positions, even for one step.
    c, w = _make("general", "predictive")(q[:, 0], v)
    assert tuple(c.shape) == (B, DV) and tuple(w.shape) == (B, TS)


@pytest.mark.parametrize("score", SCORES)
def test_compute_scores_are_the_inner_scores(score):
    q, v = _inputs()
    layer = _make(score, "predictive")
    scores = layer.compute_scores(q, layer.precompute(v))
    np.testing.assert_array_equal(
        np.asarray(scores),
        np.asarray(layer.score_layer.compute_scores(q, layer.score_layer.precompute(v))))
    np.testing.assert_allclose(scores, _np_scores(layer, q, v), rtol=1e-4, atol=1e-4)


ALL_LAYERS = [
    lambda: DotAttention(),
    lambda: GeneralAttention(),
    lambda: ConcatAttention(UNITS, depth=2),
    lambda: LocalAttention("general", "monotonic", window=2),
    lambda: LocalAttention("concat", "predictive", window=2, units=UNITS),
]


def test_every_attention_layer_has_the_same_call_arguments():
    import inspect
    expected = list(inspect.signature(LuongAttention.call).parameters)
    assert expected == ["self", "query", "values", "values_mask", "keys", "positions",
                        "training"]
    for cls in (DotAttention, GeneralAttention, ConcatAttention, LocalAttention):
        assert list(inspect.signature(cls.call).parameters) == expected


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_every_attention_layer_takes_the_decoders_step_call(make):
    """The decoder calls any attention layer the same way, at every step."""
    q, v = _inputs()
    layer = make()
    full_c, full_w = layer(q, v, values_mask=MASK)
    keys = layer.precompute(v)
    for t in (0, 3, TQ - 1):
        c, w = layer(q[:, t], v, values_mask=MASK, keys=keys,
                     positions=np.full((B,), t, "int32"))
        assert tuple(c.shape) == (B, DV) and tuple(w.shape) == (B, TS)
        np.testing.assert_allclose(w, np.asarray(full_w)[:, t], atol=1e-6)
        np.testing.assert_allclose(c, np.asarray(full_c)[:, t], atol=1e-6)


def test_numpy_int_arguments_become_python_ints():
    layer = LocalAttention("concat", "predictive", window=np.int64(3), units=np.int32(4),
                           depth=np.int64(2))
    config = layer.get_config()
    assert [(config[k], type(config[k])) for k in ("window", "units", "depth")] == [
        (3, int), (4, int), (2, int)]
    assert layer.score_layer.get_config()["units"] == 4


CONFIGS = [
    {"score": "dot", "mode": "monotonic", "window": 0, "scale": True},
    {"score": "general", "mode": "predictive", "window": 3, "units": 6},
    {"score": "concat", "mode": "monotonic", "window": 5, "units": 4, "depth": 2},
    {"score": "concat", "mode": "predictive", "window": 2, "units": 4, "name": "loc"},
]


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_config_round_trip_is_exact(kwargs):
    layer = LocalAttention(**kwargs)
    config = layer.get_config()
    for key, value in kwargs.items():
        assert config[key] == value
    restored = run_serialization_test(layer)
    assert restored.score_layer.get_config() == layer.score_layer.get_config()


def _functional_model():
    """All scores x modes (all steps, with a mask) and a one-step call with positions."""
    q_in = keras.Input((None, DQ))
    v_in = keras.Input((None, DV))
    m_in = keras.Input((None,), dtype="bool")
    q1_in = keras.Input((DQ,))
    t_in = keras.Input((), dtype="int32")
    outputs = []
    for score in SCORES:
        for mode in MODES:
            layer = LocalAttention(score, mode, window=2, units=UNITS, depth=2,
                                   scale=score == "dot")
            outputs.extend(layer(q_in, v_in, values_mask=m_in))
    outputs.extend(LocalAttention("general", window=1)(q1_in, v_in, values_mask=m_in,
                                                      positions=t_in))
    model = keras.Model([q_in, v_in, m_in, q1_in, t_in], outputs)
    for weight in model.weights:
        weight.assign(RNG.normal(size=weight.shape).astype("float32"))
    return model


def _functional_data():
    q, v = _inputs()
    return [q, v, MASK, q[:, 4], np.array([4, 2], "int32")]


def test_keras_file_round_trip_inside_functional_model(tmp_path):
    model = _functional_model()
    data = _functional_data()
    expected = model.predict(data, verbose=0)
    local = [layer for layer in model.layers if isinstance(layer, LocalAttention)]
    for i, layer in enumerate(local[:-1]):
        ref_c, ref_w, _ = _np_local(layer, data[0], data[1], MASK)
        np.testing.assert_allclose(expected[2 * i], ref_c, atol=1e-5)
        np.testing.assert_allclose(expected[2 * i + 1], ref_w, atol=1e-5)
    positions = np.broadcast_to(data[4][:, None], (B, TQ))
    _, ref_w, _ = _np_local(local[-1], data[0], data[1], MASK, positions=positions)
    np.testing.assert_allclose(expected[-1], ref_w[:, 4], atol=1e-5)
    run_model_saving_test(model, data, tmp_path)


BACKEND_SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    import keras
    import keras_seq2seq.layers.local_attention  # registers LocalAttention
    assert keras.backend.backend() == os.environ["KERAS_BACKEND"]
    data = np.load(sys.argv[1])
    model = keras.models.load_model(sys.argv[2])
    inputs = [data[f"arr_{i}"] for i in range(len(data.files))]
    np.savez(sys.argv[3], *model.predict(inputs, verbose=0))
    print("ok")
""")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_local_attention_runs_under_jax_and_torch_and_loads_a_tensorflow_keras_file(
        tmp_path, backend):
    """JAX is in the [test] extra; torch only where a CPU build is installed (the
    default wheels pull GPU libraries), so that case skips in CI."""
    if importlib.util.find_spec(backend) is None:   # not imported here: no torch+TF mix
        pytest.skip(f"{backend} is not installed: jax comes with the [test] extra; torch "
                    "is installed by hand (a CPU build), since its default wheels pull "
                    "CUDA libraries of several GB")
    model = _functional_model()
    data = _functional_data()
    expected = model.predict(data, verbose=0)
    np.savez(tmp_path / "data.npz", *data)
    model.save(tmp_path / "local.keras")
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu",
           "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run(
        [sys.executable, "-c", BACKEND_SCRIPT, str(tmp_path / "data.npz"),
         str(tmp_path / "local.keras"), str(tmp_path / "out.npz")],
        env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "ok"
    got = np.load(tmp_path / "out.npz")
    assert len(got.files) == len(expected)
    for i, want in enumerate(expected):
        np.testing.assert_allclose(got[f"arr_{i}"], want, atol=1e-5)
