"""Weight averaging: WeightAverage's EMA against numpy, the weights it leaves, and
average_checkpoints."""

import keras
import numpy as np
import pytest

import keras_seq2seq as ks
from keras_seq2seq.averaging import average_checkpoints


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3).astype("float32")
    return x, y


def _model(seed=1):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


class _Record(keras.callbacks.Callback):
    """The raw weights at train begin and after every step."""

    def on_train_begin(self, logs=None):
        self.steps = [self.model.get_weights()]

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(self.model.get_weights())


def _numpy_ema(steps, decay, start_step=0):
    average = [w.astype(np.float64) for w in steps[0]]
    for t, weights in enumerate(steps[1:], start=1):
        d = 0.0 if t <= start_step else min(decay, (1 + t - start_step) /
                                            (10 + t - start_step))
        average = [d * a + (1 - d) * w for a, w in zip(average, weights)]
    return average


@pytest.mark.parametrize("decay, start_step", [(0.8, 0), (0.5, 3)])
def test_average_equals_numpy_ema_and_training_never_sees_it(decay, start_step):
    x, y = _data()
    plain = _model()
    plain_record = _Record()
    plain.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
              callbacks=[plain_record])

    model = _model()
    record = _Record()
    average = ks.WeightAverage(decay, start_step=start_step)
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                        validation_data=(x[:16], y[:16]), callbacks=[average, record])
    # 12 steps over 3 epochs: the raw trajectory is the plain run's (the averages
    # swapped in for validation and at epoch ends never leak into training).
    assert len(record.steps) == 13
    for got, want in zip(record.steps, plain_record.steps):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
    expected = _numpy_ema(record.steps, decay, start_step)
    # fit leaves the averaged weights in the model.
    for got, want in zip(model.get_weights(), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # The last val_loss is the averaged model's.
    val_loss = model.evaluate(x[:16], y[:16], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)
    assert history.history["val_loss"][-1] != pytest.approx(
        plain.evaluate(x[:16], y[:16], verbose=0), rel=1e-3)


def test_checkpoints_after_it_keep_the_average_and_restore_option(tmp_path):
    x, y = _data()
    model = _model()
    record = _Record()
    average = ks.WeightAverage(0.7, restore_on_train_end=True)
    path = tmp_path / "last.keras"
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
              callbacks=[average, keras.callbacks.ModelCheckpoint(str(path)), record])
    saved = keras.saving.load_model(path)
    for got, want in zip(saved.get_weights(), _numpy_ema(record.steps, 0.7)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # restore_on_train_end: the model holds its last raw weights again.
    for got, want in zip(model.get_weights(), record.steps[-1]):
        np.testing.assert_array_equal(got, want)


def test_a_time_budget_stop_still_ends_with_the_average():
    # Keras's use_ema + SwapEMAWeights(swap_on_epoch=True) leaves the raw weights
    # when training stops before its last epoch.
    x, y = _data()
    model = _model()
    record = _Record()
    model.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0,
              callbacks=[ks.WeightAverage(0.9), ks.TimeBudget(1e-9, verbose=0), record])
    assert len(record.steps) == 2  # one step, then the budget stops it
    # d_1 = min(0.9, 2 / 11): the average is 2/11 of the initial weights.
    for got, first, second in zip(model.get_weights(), *record.steps):
        np.testing.assert_allclose(got, 2 / 11 * first + 9 / 11 * second, rtol=1e-5,
                                   atol=1e-6)


def test_weight_average_works_on_a_seq2seq_under_mixed_bfloat16(reverse_data):
    source, decoder_input, labels = reverse_data
    try:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16)
        model.compile(optimizer="adam")
        record = _Record()
        model.fit((source[:64], decoder_input[:64]), labels[:64], batch_size=32,
                  epochs=1, verbose=0, callbacks=[ks.WeightAverage(0.5), record])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for got, want in zip(model.get_weights(), _numpy_ema(record.steps, 0.5)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, name", [({"decay": 1.0}, "decay"),
                                          ({"decay": 0.0}, "decay"),
                                          ({"start_step": -1}, "start_step")])
def test_arguments_are_checked(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ks.WeightAverage(**kwargs)


def test_average_checkpoints_is_the_mean_of_the_files(tmp_path):
    paths, weights = [], []
    for seed in (1, 2, 3):
        model = _model(seed)
        paths.append(tmp_path / f"m{seed}.keras")
        model.save(paths[-1])
        weights.append(model.get_weights())
    averaged = average_checkpoints(paths)
    for i, got in enumerate(averaged.get_weights()):
        np.testing.assert_allclose(got, np.mean([w[i] for w in weights], axis=0),
                                   rtol=1e-6, atol=1e-7)
    x, _ = _data(8)
    np.testing.assert_allclose(averaged.predict(x, verbose=0),
                               _forward(x, averaged.get_weights()), rtol=1e-5, atol=1e-6)


def _forward(x, weights):
    kernel1, bias1, kernel2, bias2 = weights
    return np.tanh(x @ kernel1 + bias1) @ kernel2 + bias2


def test_average_checkpoints_names_the_mismatched_file(tmp_path):
    _model().save(tmp_path / "a.keras")
    keras.utils.set_random_seed(0)
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5), keras.layers.Dense(1)])
    other.compile(optimizer="sgd", loss="mse")
    other.save(tmp_path / "b.keras")
    with pytest.raises(ValueError, match="b.keras"):
        average_checkpoints([tmp_path / "a.keras", tmp_path / "b.keras"])
    with pytest.raises(ValueError, match="paths"):
        average_checkpoints([])


def test_two_fits_average_as_one_long_fit():
    x, y = _data()
    once = _model()
    once.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
             callbacks=[ks.WeightAverage(0.8)])
    twice = _model()
    average = ks.WeightAverage(0.8)
    first, second = _Record(), _Record()
    twice.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0,
              callbacks=[average, first])
    twice.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0,
              callbacks=[average, second])
    # The second fit started from the raw weights, not from the average it was left.
    for got, want in zip(second.steps[0], first.steps[-1]):
        np.testing.assert_array_equal(got, want)
    assert average.steps == 8
    for got, want in zip(twice.get_weights(), once.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_an_optimizer_with_its_own_ema_is_refused():
    x, y = _data()
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.1, use_ema=True), loss="mse")
    with pytest.raises(ValueError, match="use_ema"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ks.WeightAverage()])


def test_average_checkpoints_keeps_the_last_files_non_trainable_state(tmp_path):
    paths, models = [], []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2),
                                  keras.layers.BatchNormalization()])
        model.layers[1].moving_mean.assign(np.full(2, float(seed), "float32"))
        model.layers[1].gamma.assign(np.full(2, 2.0 * seed, "float32"))
        paths.append(tmp_path / f"bn{seed}.keras")
        model.save(paths[-1])
        models.append(model)
    averaged = average_checkpoints(paths)
    np.testing.assert_allclose(averaged.layers[1].gamma.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(averaged.layers[1].moving_mean.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(
        averaged.layers[0].kernel.numpy(),
        (models[0].layers[0].kernel.numpy() + models[1].layers[0].kernel.numpy()) / 2,
        rtol=1e-6)
