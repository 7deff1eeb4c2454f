"""The decoders under XLA (`tf.function(jit_compile=True)`): they compile (fixed-size
step buffers, no shapes that depend on the steps run) and give the graph's results."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seq2seq as ks

# Rows of different lengths, one with padding in the middle of the batch's width.
SOURCE = np.array([[5, 6, 7, 8, 0, 0], [9, 4, 11, 12, 13, 14], [15, 0, 0, 0, 0, 0]],
                  np.int32)
MAX_LENGTH = 7


def _model(**kwargs):
    keras.utils.set_random_seed(0)
    model = ks.Seq2Seq(20, 18, embedding_dim=8, units=16, max_decode_length=MAX_LENGTH,
                       **kwargs)
    model((np.ones((1, 3), np.int32), np.ones((1, 2), np.int32)))
    rng = np.random.default_rng(0)
    for variable in model.trainable_weights:  # varied outputs and stopping times
        value = rng.normal(0.0, 0.8, variable.shape).astype("float32")
        if variable.path.endswith("projection/bias"):
            value[ks.constants.END_ID] += 2.5  # rows end at different steps
        variable.assign(value)
    return model


def _search_twice(model, method, options, max_length=MAX_LENGTH):
    def run(ids):
        return model.search(ids, max_length, method, **options)._asdict()

    plain = tf.function(run, autograph=False)(SOURCE)
    compiled = tf.function(run, autograph=False, jit_compile=True)(SOURCE)
    return ({k: v.numpy() for k, v in plain.items()},
            {k: v.numpy() for k, v in compiled.items()})


@pytest.mark.parametrize("method, options, model_kwargs", [
    ("greedy", {}, {}),
    ("greedy", {"min_length": 3, "max_length_ratio": 1.0}, {"cell_type": "gru"}),
    ("beam", {"beam_width": 3, "num_return": 2}, {}),
    ("beam", {"beam_width": 3, "length_penalty": 0.6, "coverage_penalty": 0.2},
     {"cell_type": "gru", "input_feeding": True}),
])
def test_search_compiles_under_xla_and_matches_the_graph(method, options, model_kwargs):
    plain, compiled = _search_twice(_model(**model_kwargs), method, options)
    assert plain.keys() == compiled.keys()
    _check_zeros_after_the_end(plain)
    for name, value in plain.items():
        assert compiled[name].shape == value.shape, name
        if value.dtype.kind == "i":
            np.testing.assert_array_equal(compiled[name], value, err_msg=name)
        else:
            np.testing.assert_allclose(compiled[name], value, atol=1e-5, err_msg=name)


def test_sampling_compiles_under_xla():
    # XLA draws other random numbers from the same seed: the same shapes and
    # invariants, not the same tokens.
    plain, compiled = _search_twice(_model(), "sample", {"seed": (3, 4), "top_k": 5})
    for result in (plain, compiled):
        _check_zeros_after_the_end(result)
        assert result["ids"].shape == plain["ids"].shape
        assert ((result["ids"] >= 0) & (result["ids"] < 18)).all()


def _check_zeros_after_the_end(result):
    """The buffers keep their fixed size, zeros after each row's last token."""
    ids = result["ids"]
    assert ids.shape[-1] == MAX_LENGTH
    lengths = result["lengths"].reshape(-1)  # beam search: a hypothesis axis
    assert (lengths < MAX_LENGTH).any(), "every row ran to the cap: a weak test"
    for row, n in zip(ids.reshape(-1, MAX_LENGTH), lengths):
        assert not row[n + 1:].any(), (row, n)


@pytest.mark.parametrize("method, options", [("greedy", {}), ("beam", {"beam_width": 3})])
@pytest.mark.parametrize("rows", [slice(1, 2), slice(None)])
def test_generate_jit_compile_matches_the_graph(method, options, rows):
    # The 6-id sources are padded to 8 for XLA; the attention comes back 6 wide.
    model = _model()
    source = SOURCE[rows]
    graph = model.generate(source, method=method, **options)._asdict()
    compiled = model.generate(source, method=method, jit_compile=True, **options)._asdict()
    for name, value in graph.items():
        value = value.numpy()
        assert compiled[name].shape == value.shape, name
        if value.dtype.kind == "i":
            np.testing.assert_array_equal(compiled[name], value, err_msg=name)
        else:
            np.testing.assert_allclose(compiled[name], value, atol=1e-5, err_msg=name)
    assert graph["attention"].shape[-1] == SOURCE.shape[1]


def test_generate_refuses_a_jit_compile_that_is_not_a_bool():
    model = _model()
    for value in ("auto", "no", 1, None):
        with pytest.raises(ValueError, match="jit_compile"):
            model.generate(SOURCE, jit_compile=value)
