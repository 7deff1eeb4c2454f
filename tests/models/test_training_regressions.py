"""Regressions of `Seq2Seq` training and evaluation found by review (issue 16).

Each test failed on the code before its fix: the switch's path after reload, what
`jit_compile="auto"` resolves to, positional `fit` callbacks, a compiled loss's PAD
masking and label smoothing, the free-running accuracy after `[END]`, and the bound
of `generate`'s function cache.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seq2seq as ks
from keras_seq2seq.models import inference
from tests.helpers import reverse_task

SMALL = dict(embedding_dim=8, units=16)


def _model(**kwargs):
    keras.utils.set_random_seed(0)
    return ks.Seq2Seq(12, 12, **{**SMALL, **kwargs})


def _first_batch_loss(model, data):
    (source, decoder_input), labels = data
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    return float(model.train_on_batch((source, decoder_input), labels,
                                      return_dict=True)["loss"])


# ------------------------------------------------------------ 3. switch after reload
def test_a_fired_switch_is_followed_after_reload_without_the_callback(tmp_path):
    source, decoder_input, labels = reverse_task(n=64, seed=4)
    data = ((source, decoder_input), labels)
    model = _model()
    rng = np.random.default_rng(0)  # confident, varied predictions
    for variable in model.trainable_weights:
        variable.assign(rng.normal(0.0, 0.8, variable.shape).astype("float32"))
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    model.fit((source, decoder_input), labels, batch_size=64, epochs=1, verbose=0)
    model.teacher_forcing_cap.assign(0.0)  # what a fired TeacherForcingSwitch saves
    path = tmp_path / "switched.keras"
    model.save(path)

    restored = keras.models.load_model(path)
    assert restored.switch_fired
    assert not restored.always_teacher_forced
    # The loss of a first step is that of free running (ratio 0), not teacher forcing.
    capped = _first_batch_loss(restored, data)
    free = ks.Seq2Seq.from_config({**restored.get_config(), "teacher_forcing": 0.0})
    free.set_weights(restored.get_weights())
    forced = ks.Seq2Seq.from_config(restored.get_config())
    forced.set_weights(restored.get_weights())
    forced.teacher_forcing_cap.assign(-1.0)
    assert capped == pytest.approx(_first_batch_loss(free, data), rel=1e-5)
    assert abs(capped - _first_batch_loss(forced, data)) > 0.1


# ------------------------------------------------------------ 7. jit_compile="auto"
@pytest.fixture
def keras_resolves_auto_to_xla(monkeypatch):
    """What Keras does on a GPU: `jit_compile="auto"` resolves to True."""
    monkeypatch.setattr(keras.Model, "_resolve_auto_jit_compile", lambda self: True)


def test_auto_jit_keeps_the_fast_path_under_scheduled_sampling(keras_resolves_auto_to_xla):
    scheduled = _model(teacher_forcing={"name": "piecewise",
                                        "boundaries": [3000], "values": [1.0, 0.9]})
    scheduled.compile(optimizer="adam")
    assert scheduled.jit_compile is False
    always = _model()
    always.compile(optimizer="adam")
    assert always.jit_compile is True
    # An attached switch makes scheduled sampling possible: "auto" XLA goes off.
    switch = ks.TeacherForcingSwitch(threshold=2.0, verbose=0)
    switch.set_model(always)
    assert always.jit_compile is False and not always.always_teacher_forced
    # An explicit True is kept.
    explicit = _model(teacher_forcing=0.5)
    explicit.compile(optimizer="adam", jit_compile=True)
    assert explicit.jit_compile is True


# ------------------------------------------------------------ 8. positional callbacks
def test_fit_accepts_callbacks_positionally():
    source, decoder_input, labels = reverse_task(n=32)
    model = _model()
    model.compile(optimizer="adam")
    seen = []
    callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))
    model.fit((source, decoder_input), labels, 16, 2, 0, [callback])
    assert seen == [0, 1]
    with pytest.raises(TypeError, match="callbacks"):
        model.fit((source, decoder_input), labels, 16, 1, 0, [callback],
                  callbacks=[callback])


# ------------------------------------------------------------ 11. loss details
def test_a_compiled_loss_gets_the_pad_mask():
    model = _model()
    rng = np.random.default_rng(0)
    y = np.array([[5, 6, 3, 0], [7, 3, 0, 0]], "int32")
    logits = rng.normal(size=(2, 4, 12)).astype("float32")
    other = logits.copy()
    other[y == 0] = rng.normal(size=(int((y == 0).sum()), 12)) * 5  # only at PAD
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight"))
    compiled = float(model.compute_loss(y=y, y_pred=logits))
    assert float(model.compute_loss(y=y, y_pred=other)) == pytest.approx(compiled)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    token = -np.take_along_axis(log_p, y[..., None], -1)[..., 0]
    expected = (token * (y != 0)).sum() / (y != 0).sum()
    assert compiled == pytest.approx(expected, rel=1e-5)
    model.compile(optimizer="adam")  # the built-in loss agrees
    assert float(model.compute_loss(y=y, y_pred=logits)) == pytest.approx(expected,
                                                                           rel=1e-5)


def test_a_compiled_loss_with_label_smoothing_is_refused():
    model = _model(label_smoothing=0.1)
    with pytest.raises(ValueError, match="label_smoothing"):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.compile(optimizer="adam")  # the built-in loss smooths


# ------------------------------------------------------------ 12. free running, cache
def test_free_running_accuracy_counts_positions_after_a_predicted_end_as_misses(
        monkeypatch):
    source, decoder_input, _ = reverse_task(n=2, length=3)
    y = np.array([[5, 6, 7, 3], [8, 9, 3, 0]], "int32")
    # Predictions: row 0 says [END] at position 1, then the right tokens; row 1 is
    # right everywhere. Inference stops at the first [END]: row 0 has 1 hit of 4.
    predicted = np.array([[5, 3, 7, 3], [8, 9, 3, 0]])
    logits = tf.constant(np.eye(12, dtype="float32")[predicted] * 10)
    model = _model()
    model.compile(optimizer="adam")
    monkeypatch.setattr(model, "free_running_logits",
                        lambda *args, **kwargs: logits)
    result = model.evaluate((source, decoder_input), y, batch_size=2, verbose=0,
                            return_dict=True)
    assert result["free_running_accuracy"] == pytest.approx((1 + 3) / 7)


def test_generate_keeps_a_bounded_cache_of_traced_functions(trained_reverse_model):
    model = ks.Seq2Seq.from_config(trained_reverse_model.get_config())
    model.set_weights(trained_reverse_model.get_weights())
    source = reverse_task(n=2)[0]
    first = model.generate(source, method="sample", seed=[0, 1]).ids.numpy()
    limit = inference.GENERATE_CACHE_SIZE
    for seed in range(1, limit + 10):
        model.generate(source, method="sample", seed=[seed, 1])
    assert len(model._generate_functions) == limit
    # An evicted option set is traced again and gives the same output.
    np.testing.assert_array_equal(model.generate(source, method="sample", seed=[0, 1]).ids,
                                  first)


# ------------------------------------------------------------ a clean first screen
WARNING_SCRIPT = """
import keras_seq2seq as ks
from tests.helpers import reverse_task
source, decoder_input, labels = reverse_task(n=64)
for granularity in ("batch", "token"):
    model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16, teacher_forcing_granularity=granularity,
                       teacher_forcing={"name": "piecewise", "boundaries": [3000],
                                        "values": [1.0, 0.9]})
    model.compile(optimizer="adam")
    model.fit((source, decoder_input), labels, batch_size=32, epochs=1, verbose=0)
print("TRAINED")
"""


@pytest.mark.slow
def test_scheduled_training_prints_no_type_inference_warning():
    """Differentiating through the scheduled-sampling tf.cond made TensorFlow print a
    25-line 'Type inference failed ... TFT_OPTIONAL' warning at the first epoch; the
    gradients are now taken inside each branch."""
    import os
    import pathlib
    import subprocess
    import sys

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0", CUDA_VISIBLE_DEVICES="")
    run = subprocess.run([sys.executable, "-c", WARNING_SCRIPT], capture_output=True,
                         text=True, timeout=300, env=env,
                         cwd=str(pathlib.Path(__file__).parents[2]))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "TRAINED" in run.stdout
    assert "TFT_OPTIONAL" not in run.stderr
    assert "Type inference failed" not in run.stderr
