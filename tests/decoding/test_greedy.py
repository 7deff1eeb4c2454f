"""Tests of `keras_seq2seq.decoding.greedy_decode` with a fake step function."""

import math

import numpy as np
import tensorflow as tf

from keras_seq2seq.decoding import DecodeResult, greedy_decode

PAD, UNK, START, END, A, B = range(6)
VOCAB = 6

# The next-token distribution of each example at each step (any previous token).
PROBS = [
    [{A: 0.7, B: 0.2, END: 0.1}, {B: 0.6, A: 0.3, END: 0.1}, {END: 0.9, A: 0.1},
     {END: 1.0}, {END: 1.0}],
    [{B: 0.5, A: 0.3, END: 0.2}, {END: 0.8, A: 0.15, B: 0.05}, {END: 0.9, B: 0.1},
     {END: 1.0}, {END: 1.0}],
]


def _tables():
    logits = np.full((2, 5, VOCAB), math.log(1e-20), np.float32)
    for example, steps in enumerate(PROBS):
        for step, probs in enumerate(steps):
            for token, p in probs.items():
                logits[example, step, token] = math.log(p)
    rng = np.random.default_rng(0)
    attention = rng.uniform(0.1, 1.0, size=(2, 5, 4)).astype(np.float32)
    return logits, attention / attention.sum(-1, keepdims=True)


LOGITS, ATTENTION = _tables()


class FakeModel:
    def __init__(self):
        self.calls = 0
        self.fed = []

    def initial_state(self, examples):
        return {"t": tf.zeros_like(examples), "example": examples}

    def step(self, tokens, state):
        self.calls += 1
        self.fed.append(tokens)
        index = tf.stack([state["example"], state["t"]], axis=-1)
        logits = tf.gather_nd(tf.constant(LOGITS), index)
        attention = tf.gather_nd(tf.constant(ATTENTION), index)
        return logits, {"t": state["t"] + 1, "example": state["example"]}, attention


def decode(model, **kwargs):
    examples = tf.constant([0, 1])
    result = greedy_decode(model.step, model.initial_state(examples), 2, **kwargs)
    assert isinstance(result, DecodeResult)
    return DecodeResult(*[x.numpy() for x in result])


def test_greedy_exact_ids_lengths_scores_attention():
    model = FakeModel()
    result = decode(model, max_length=5)
    assert result.ids.tolist() == [[A, B, END, PAD, PAD], [B, END, PAD, PAD, PAD]]
    assert result.lengths.tolist() == [2, 1]
    np.testing.assert_allclose(
        result.scores, [math.log(0.7 * 0.6 * 0.9), math.log(0.5 * 0.8)], atol=1e-5)
    expected = np.zeros((2, 5, 4), np.float32)
    expected[0, :3] = ATTENTION[0, :3]
    expected[1, :2] = ATTENTION[1, :2]
    np.testing.assert_allclose(result.attention, expected, atol=1e-7)
    # Stops once every sequence has ended; [START] first, then the previous tokens.
    assert model.calls == 3
    assert [t.numpy().tolist() for t in model.fed] == [[START, START], [A, B],
                                                        [B, END]]


def test_greedy_max_lengths():
    result = decode(FakeModel(), max_length=5, max_lengths=tf.constant([1, 5]))
    assert result.ids.tolist() == [[A, PAD, PAD, PAD, PAD], [B, END, PAD, PAD, PAD]]
    assert result.lengths.tolist() == [1, 1]
    np.testing.assert_allclose(result.scores, [math.log(0.7), math.log(0.4)],
                               atol=1e-5)
    assert (result.attention[0, 1:] == 0).all()
    # The buffer length caps every sequence.
    result = decode(FakeModel(), max_length=2)
    assert result.ids.tolist() == [[A, B], [B, END]]
    assert result.lengths.tolist() == [2, 1]
    np.testing.assert_allclose(result.scores, [math.log(0.42), math.log(0.4)],
                               atol=1e-5)


def test_greedy_min_length():
    result = decode(FakeModel(), max_length=5, min_length=2)
    assert result.ids.tolist() == [[A, B, END, PAD, PAD], [B, A, END, PAD, PAD]]
    assert result.lengths.tolist() == [2, 2]
    # [END] is masked out of the first two steps, which renormalises them.
    np.testing.assert_allclose(
        result.scores,
        [math.log(0.7 / 0.9 * 0.6 / 0.9 * 0.9), math.log(0.5 / 0.8 * 0.15 / 0.2 * 0.9)],
        atol=1e-5)


def test_greedy_inside_tf_function_without_autograph():
    model = FakeModel()
    eager = decode(model, max_length=5, max_lengths=tf.constant([5, 1]))

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.int32),
                                                   tf.TensorSpec([None], tf.int32)])
    def run(examples, caps):
        return greedy_decode(model.step, model.initial_state(examples),
                             tf.shape(examples)[0], max_length=5, max_lengths=caps)

    traced = run(tf.constant([0, 1]), tf.constant([5, 1]))
    for expected, actual in zip(eager, traced):
        np.testing.assert_allclose(actual.numpy(), expected, atol=1e-6)
    assert traced.ids.numpy().tolist() == [[A, B, END, PAD, PAD],
                                           [B, PAD, PAD, PAD, PAD]]
