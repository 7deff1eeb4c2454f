"""`losses.projected_cross_entropy` and the train_step that uses it.

The projected loss projects only the weighted tokens, a chunk at a time, and forms its
gradients in the forward pass; it must give the loss, the gradients and the accuracy
of the logits path (`masked_cross_entropy` of `decoder.project(...)`).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seq2seq as ks
from keras_seq2seq.models import losses
from tests.helpers import reverse_task

SMALL = dict(embedding_dim=8, units=16)


def _case(seed=0, batch=3, length=5, features=6, vocabulary=11):
    rng = np.random.default_rng(seed)
    attentional = rng.normal(size=(batch, length, features)).astype("float32")
    kernel = rng.normal(size=(features, vocabulary)).astype("float32")
    bias = rng.normal(size=(vocabulary,)).astype("float32")
    y = rng.integers(1, vocabulary, (batch, length)).astype("int32")
    y[0, 3:] = 0  # padding
    y[2, 1:] = 0
    return attentional, kernel, bias, y


def _numpy_loss(attentional, kernel, bias, y, weights, smoothing):
    logits = attentional @ kernel + bias
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    vocabulary = kernel.shape[-1]
    target = (1 - smoothing) * np.eye(vocabulary)[y] + smoothing / vocabulary
    per_token = -(target * log_p).sum(-1)
    return (per_token * weights).sum() / weights.sum()


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("chunk_rows", [1, 4, None])
def test_loss_and_gradients_equal_the_logits_path(smoothing, transposed, chunk_rows):
    attentional, kernel, bias, y = _case()
    weights = losses.token_weights(y, np.array([1.0, 0.5, 2.0], "float32"))
    matrix = kernel.T.copy() if transposed else kernel
    a, k, b = (tf.Variable(v) for v in (attentional, matrix, bias))

    with tf.GradientTape(persistent=True) as tape:
        loss, hits, hit_weights = losses.projected_cross_entropy(
            a, k, b, y, weights, smoothing, transposed, chunk_rows=chunk_rows)
        logits = (tf.matmul(a, k, transpose_b=transposed)) + b
        expected = losses.masked_cross_entropy(y, logits, weights, smoothing)
    np.testing.assert_allclose(
        float(loss), _numpy_loss(attentional, kernel, bias, y, weights.numpy(), smoothing),
        rtol=1e-5)
    np.testing.assert_allclose(float(loss), float(expected), rtol=1e-6)
    for ours, theirs in zip(tape.gradient(loss, [a, k, b]),
                            tape.gradient(expected, [a, k, b])):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6)
    # The hits and weights are those of the weighted tokens, in row-major order.
    kept = y != 0
    argmax = (attentional @ kernel + bias).argmax(-1)
    np.testing.assert_array_equal(hits.numpy(), (argmax == y)[kept].astype("float32"))
    np.testing.assert_array_equal(hit_weights.numpy(), weights.numpy()[kept])


def test_extra_losses_add_and_a_batch_of_padding_gives_zero():
    attentional, kernel, bias, _ = _case()
    y = np.zeros((3, 5), "int32")
    a, k, b = (tf.Variable(v) for v in (attentional, kernel, bias))
    with tf.GradientTape() as tape:
        loss, hits, _ = losses.projected_cross_entropy(
            a, k, b, y, losses.token_weights(y), extra_losses=[tf.constant(0.25)])
    assert float(loss) == 0.25
    assert hits.shape == (0,)
    grads = tape.gradient(loss, [a, k, b])
    assert all(float(tf.reduce_sum(tf.abs(g))) == 0.0 for g in grads)
    assert [g.shape for g in grads] == [a.shape, k.shape, b.shape]


def test_bfloat16_rows_give_the_float32_loss_closely():
    attentional, kernel, bias, y = _case(features=32, vocabulary=50)
    weights = losses.token_weights(y)
    exact = losses.projected_cross_entropy(attentional, kernel, bias, y, weights)[0]

    @tf.function
    def low(rows):
        with tf.GradientTape() as tape:
            tape.watch(rows)
            loss = losses.projected_cross_entropy(rows, kernel, bias, y, weights)[0]
        return loss, tape.gradient(loss, rows)

    loss, grad = low(tf.cast(attentional, tf.bfloat16))
    assert loss.dtype == tf.float32 and grad.dtype == tf.bfloat16
    np.testing.assert_allclose(float(loss), float(exact), rtol=2e-2)


def _twins(**kwargs):
    """Two models with the same weights: one trains on the projected loss, one on
    the logits (a subclass whose `projects_in_loss` is False)."""

    class LogitsPath(ks.Seq2Seq):
        projects_in_loss = False

    keras.utils.set_random_seed(0)
    ours = ks.Seq2Seq(12, 12, **{**SMALL, **kwargs})
    theirs = LogitsPath(12, 12, **{**SMALL, **kwargs})
    source, decoder_input, labels = reverse_task(n=8)
    ours((source, decoder_input))
    theirs((source, decoder_input))
    theirs.set_weights(ours.get_weights())
    for model in (ours, theirs):  # SGD: the weights move by the gradients themselves
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    assert ours.projects_in_loss and not theirs.projects_in_loss
    return ours, theirs, ((source, decoder_input), labels)


@pytest.mark.parametrize("settings", [
    dict(cell_type="gru"),
    dict(cell_type="lstm", tie_embeddings=True, embedding_dim=16, label_smoothing=0.1),
    dict(teacher_forcing=0.5, teacher_forcing_granularity="token"),
    dict(teacher_forcing=0.5, teacher_forcing_granularity="token",
         teacher_forcing_mode="parallel"),
    dict(input_feeding=True, teacher_forcing=0.0),
], ids=["gru", "lstm-tied-smoothed", "token-sequential", "token-parallel",
        "input-feeding-free-running"])
def test_a_training_step_equals_the_logits_path(settings):
    ours, theirs, ((source, decoder_input), labels) = _twins(**settings)
    weights = np.array([1.0, 0.0, 2.0, 1.0, 1.0, 0.5, 1.0, 1.0], "float32")
    for _ in range(2):
        a = ours.train_on_batch((source, decoder_input), labels, weights, return_dict=True)
        b = theirs.train_on_batch((source, decoder_input), labels, weights,
                                  return_dict=True)
    assert a.keys() == b.keys()
    for key in ("loss", "accuracy", "teacher_forcing_ratio"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, err_msg=key)
    for x, z in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(x, z, atol=2e-5)


def test_compiled_metrics_or_xla_take_the_logits_path():
    model = ks.Seq2Seq(12, 12, **SMALL)
    model.compile(optimizer="adam")
    assert model.projects_in_loss
    model.compile(optimizer="adam", metrics=[keras.metrics.SparseCategoricalAccuracy()])
    assert not model.projects_in_loss
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    assert not model.projects_in_loss
    model.compile(optimizer="adam", jit_compile=True)
    assert not model.projects_in_loss
    (source, decoder_input), labels = reverse_task(n=8)[:2], reverse_task(n=8)[2]
    model.compile(optimizer="adam", metrics=[keras.metrics.SparseCategoricalAccuracy(
        name="keras_accuracy")])
    logs = model.train_on_batch((source, decoder_input), labels, return_dict=True)
    assert "keras_accuracy" in logs and np.isfinite(logs["loss"])
