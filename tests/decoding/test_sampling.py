"""Tests of `keras_seq2seq.decoding.sample_decode`."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq2seq.decoding import (
    DECODERS,
    beam_search,
    get_decoder,
    greedy_decode,
    sample_decode,
)
from keras_seq2seq.decoding.sampling import filter_logits, top_k_filter, top_p_filter

END = 3
# A fixed next-token distribution over 6 tokens.
PROBS = np.array([0.04, 0.05, 0.06, 0.1, 0.45, 0.3])
ROWS = 4000


def fixed_step(tokens, state):
    batch = tf.shape(tokens)[0]
    logits = tf.tile(tf.math.log(tf.constant(PROBS, tf.float32))[None], [batch, 1])
    return logits, state, tf.ones([batch, 2]) / 2.0


def frequencies(**kwargs):
    result = sample_decode(fixed_step, tf.zeros([ROWS]), ROWS, max_length=1, **kwargs)
    return np.bincount(result.ids.numpy()[:, 0], minlength=len(PROBS)) / ROWS


@pytest.mark.parametrize("kwargs,expected", [
    ({}, PROBS),
    ({"temperature": 2.0}, np.sqrt(PROBS) / np.sqrt(PROBS).sum()),
    ({"temperature": 0.5}, PROBS ** 2 / (PROBS ** 2).sum()),
    ({"top_k": 2}, [0, 0, 0, 0, 0.6, 0.4]),
    # Sorted 0.45, 0.3, 0.1, ...: mass before each 0, 0.45, 0.75, 0.85 -> 3 tokens.
    ({"top_p": 0.8}, [0, 0, 0, 0.1 / 0.85, 0.45 / 0.85, 0.3 / 0.85]),
    ({"top_p": 0.4}, [0, 0, 0, 0, 1, 0]),
    ({"top_k": 3, "temperature": 2.0},
     [0, 0, 0] + list(np.sqrt([0.1, 0.45, 0.3]) / np.sqrt([0.1, 0.45, 0.3]).sum())),
])
def test_empirical_frequencies(kwargs, expected):
    # 4000 draws: the standard error of a frequency is at most 0.008.
    np.testing.assert_allclose(frequencies(seed=(7, 1), **kwargs), expected, atol=0.03)


class RandomModel:
    """Logits from a fixed random matrix indexed by the step and the previous token."""

    def __init__(self, vocab_size=8, steps=12, seed=0):
        rng = np.random.default_rng(seed)
        weights = rng.normal(0.0, 2.0, size=(steps, vocab_size, vocab_size))
        weights[:, :, END] += 1.0
        self.weights = tf.constant(weights, tf.float32)
        self.attention = tf.nn.softmax(
            tf.constant(rng.normal(size=(steps, vocab_size, 5)), tf.float32))
        self.bias = tf.constant(rng.normal(size=(16, vocab_size)), tf.float32)

    def initial_state(self, batch_size):
        return (tf.zeros([batch_size], tf.int32), self.bias[:batch_size])

    def step(self, tokens, state):
        t, bias = state
        index = tf.stack([t, tokens], axis=-1)
        logits = tf.gather_nd(self.weights, index) + bias
        return logits, (t + 1, bias), tf.gather_nd(self.attention, index)


def assert_same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_same_seed_same_output_eager_and_traced():
    model = RandomModel()
    state = model.initial_state(16)
    kwargs = dict(max_length=10, temperature=1.3, top_k=5, top_p=0.9)
    first = sample_decode(model.step, state, 16, seed=(3, 4), **kwargs)
    again = sample_decode(model.step, state, 16, seed=(3, 4), **kwargs)
    assert_same(first, again)
    other = sample_decode(model.step, state, 16, seed=(3, 5), **kwargs)
    assert not np.array_equal(first.ids.numpy(), other.ids.numpy())

    @tf.function(autograph=False)
    def traced(seed):
        return sample_decode(model.step, state, 16, seed=seed, **kwargs)

    assert_same(first, traced(tf.constant([3, 4])))


def test_scores_are_model_log_probabilities():
    result = sample_decode(fixed_step, tf.zeros([50]), 50, max_length=1,
                           temperature=3.0, top_k=4, seed=(5, 5))
    ids = result.ids.numpy()[:, 0]
    np.testing.assert_allclose(result.scores.numpy(), np.log(PROBS[ids]), atol=1e-5)
    assert result.lengths.numpy().tolist() == [0 if i == END else 1 for i in ids]


@pytest.mark.parametrize("kwargs", [
    {"top_k": 1},
    {"top_p": 1e-6},
    {"top_k": 1, "temperature": 5.0},
])
def test_degenerate_filters_equal_greedy(kwargs):
    model = RandomModel(seed=1)
    state = model.initial_state(16)
    greedy = greedy_decode(model.step, state, 16, max_length=10, min_length=1)
    sampled = sample_decode(model.step, state, 16, max_length=10, min_length=1,
                            seed=(1, 2), **kwargs)
    assert_same(greedy, sampled)


def test_min_length_and_max_lengths():
    result = sample_decode(fixed_step, tf.zeros([500]), 500, max_length=4,
                           min_length=2, max_lengths=tf.fill([500], 3), seed=(0, 1))
    ids = result.ids.numpy()
    assert not (ids[:, :2] == END).any()
    assert (ids[:, 3] == 0).all()
    assert (result.lengths.numpy() <= 3).all() and (result.lengths.numpy() >= 2).all()


def test_filters():
    logits = tf.constant([[1.0, 3.0, 3.0, 0.5], [4.0, 1.0, 2.0, 3.0]])
    kept = np.isfinite(top_k_filter(logits, 2).numpy())
    assert kept.tolist() == [[False, True, True, False], [True, False, False, True]]
    # Ties are broken towards the lower id: exactly k tokens stay.
    assert np.isfinite(top_k_filter(logits, 1).numpy()).sum(-1).tolist() == [1, 1]
    assert np.isfinite(top_k_filter(logits, 10).numpy()).all()
    probs = tf.math.log(tf.constant([[0.5, 0.2, 0.3], [0.9, 0.05, 0.05]]))
    kept = np.isfinite(top_p_filter(probs, 0.6).numpy())
    assert kept.tolist() == [[True, False, True], [True, False, False]]
    assert np.isfinite(top_p_filter(probs, 1.0).numpy()).all()
    np.testing.assert_allclose(filter_logits(logits, temperature=2.0).numpy(),
                               logits.numpy() / 2)


@pytest.mark.parametrize("kwargs,message", [
    ({"temperature": 0.0}, "temperature=0.0"),
    ({"temperature": -1}, "temperature=-1"),
    ({"top_k": 0}, "top_k=0"),
    ({"top_k": 2.5}, "top_k=2.5"),
    ({"top_p": 0.0}, "top_p=0.0"),
    ({"top_p": 1.5}, "top_p=1.5"),
])
def test_argument_checks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_decode(fixed_step, tf.zeros([2]), 2, max_length=1, **kwargs)


def test_decoder_registry():
    assert get_decoder("greedy") is greedy_decode
    assert get_decoder("beam") is beam_search
    assert get_decoder("sample") is sample_decode
    assert set(DECODERS) == {"greedy", "beam", "sample"}
    with pytest.raises(ValueError, match="beam, greedy, sample"):
        get_decoder("nucleus")
