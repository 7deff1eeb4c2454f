"""The functional Seq2Seq model: config, loss, scheduled train_step, decoding, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seq2seq as ks
from keras_seq2seq import schedules
from keras_seq2seq.models import scheduled_sampling
from tests.helpers import reverse_task, run_model_saving_test, run_serialization_test

SMALL = dict(embedding_dim=8, units=16)


def _small_model(**kwargs):
    return ks.Seq2Seq(12, 12, **{**SMALL, **kwargs})


def test_config_round_trip_and_functional_graph():
    model = _small_model(cell_type="gru", bidirectional=True, num_layers=2,
                         attention="concat", attention_depth=2, input_feeding=True,
                         teacher_forcing={"name": "inverse_sigmoid", "k": 50},
                         teacher_forcing_granularity="token", label_smoothing=0.1)
    restored = run_serialization_test(model)
    assert restored.teacher_forcing == schedules.InverseSigmoidDecay(50)
    assert [i.name for i in model.inputs] == ["source_ids", "decoder_input_ids"]
    assert {layer.name for layer in model.layers} >= {"encoder", "decoder"}


def test_loss_is_masked_cross_entropy_over_non_pad_tokens():
    model = _small_model(label_smoothing=0.2)
    model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 12)).astype("float32")
    y = np.array([[5, 6, 3, 0], [7, 3, 0, 0]], "int32")
    loss = float(model.compute_loss(y=y, y_pred=logits))
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    smooth = np.full((2, 4, 12), 0.2 / 12) + 0.8 * np.eye(12)[y]
    per_token = -(smooth * log_p).sum(-1)
    mask = y != 0
    np.testing.assert_allclose(loss, per_token[mask].sum() / mask.sum(), rtol=1e-5)
    # Per-example sample weights scale each example's tokens.
    weighted = float(model.compute_loss(y=y, y_pred=logits, sample_weight=np.array([1.0, 0.0])))
    np.testing.assert_allclose(weighted, per_token[0][mask[0]].mean(), rtol=1e-5)
    # A batch made only of padding gives 0, not NaN.
    assert float(model.compute_loss(y=np.zeros((2, 4), "int32"), y_pred=logits)) == 0.0


def test_scheduled_forward_at_ratio_one_and_zero():
    source, decoder_input, _ = reverse_task(n=4)
    for granularity in ("batch", "token"):
        model = _small_model(teacher_forcing=0.5, teacher_forcing_granularity=granularity)
        forced = model((source, decoder_input))
        at_one = model.scheduled_forward(source, decoder_input, tf.constant(1.0), 7)
        np.testing.assert_allclose(at_one, forced, atol=1e-6)
        at_zero = model.scheduled_forward(source, decoder_input, tf.constant(0.0), 7)
        free = model.free_running_logits(source, decoder_input)
        np.testing.assert_allclose(at_zero, free, atol=1e-6)


def test_token_coins_are_stateless_draws_keyed_on_seed_and_step():
    source, decoder_input, _ = reverse_task(n=8)
    model = _small_model(teacher_forcing=0.5, teacher_forcing_granularity="token")
    a = model.scheduled_forward(source, decoder_input, tf.constant(0.5), 3)
    b = model.scheduled_forward(source, decoder_input, tf.constant(0.5), 3)
    np.testing.assert_array_equal(a, b)
    coins = tf.random.stateless_uniform(
        decoder_input.shape, seed=scheduled_sampling.step_key(model.seed, 3, 1))
    use_truth = coins.numpy() < 0.5
    expected = scheduled_sampling.sequential_logits(
        model.decoder, decoder_input, *model.encode_source(source), use_truth=use_truth)
    np.testing.assert_allclose(a, expected, atol=1e-6)


def test_history_logs_the_scheduled_ratio():
    source, decoder_input, labels = reverse_task(n=256)
    schedule = schedules.LinearDecay(slope=0.05, start=1.0, minimum=0.1)
    model = _small_model(teacher_forcing=schedule, teacher_forcing_granularity="token")
    model.compile(optimizer="adam")
    history = model.fit((source, decoder_input), labels, batch_size=64, epochs=3,
                        verbose=0)
    # 4 steps an epoch; the epoch log holds the ratio of its last step (3, 7, 11).
    expected = [float(schedule(s)) for s in (3, 7, 11)]
    np.testing.assert_allclose(history.history["teacher_forcing_ratio"], expected, rtol=1e-6)
    assert int(model.optimizer.iterations) == 12


def test_constant_one_never_traces_the_sampling_path(monkeypatch):
    source, decoder_input, labels = reverse_task(n=64)
    model = _small_model()
    assert model.always_teacher_forced

    def fail(*args, **kwargs):
        raise AssertionError("scheduled path traced under constant teacher forcing")

    monkeypatch.setattr(model, "scheduled_forward", fail)
    model.compile(optimizer="adam")
    history = model.fit((source, decoder_input), labels, batch_size=32, epochs=1, verbose=0)
    assert history.history["teacher_forcing_ratio"] == [1.0]


class _OpaqueConstant(schedules.TeacherForcingSchedule):
    """A constant ratio that does not say it stays below 1 (as a custom schedule)."""

    def __init__(self, ratio):
        self.value = ratio

    def ratio(self, step):
        return tf.fill(tf.shape(step), self.value)


def test_a_ratio_below_one_with_token_coins_traces_no_teacher_forced_branch(monkeypatch):
    # The tf.cond's teacher-forced branch can never run: per-token coins at a
    # ratio < 1 never all say "teacher". Tracing it doubled the step's graph.
    source, decoder_input, labels = reverse_task(n=64)
    weights = None
    teacher_forced_now = scheduled_sampling.teacher_forced_now
    for schedule in (schedules.Constant(0.5), _OpaqueConstant(0.5)):
        keras.utils.set_random_seed(3)
        model = _small_model(teacher_forcing=schedule, teacher_forcing_granularity="token")
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        assert model.never_teacher_forced is isinstance(schedule, schedules.Constant)
        calls = []
        monkeypatch.setattr(scheduled_sampling, "teacher_forced_now",
                            lambda *a: calls.append(a) or teacher_forced_now(*a))
        model.compile(optimizer=keras.optimizers.SGD(0.5))
        for _ in range(2):
            logs = model.train_on_batch((source, decoder_input), labels, return_dict=True)
        assert len(calls) == (0 if model.never_teacher_forced else 1)
        if model.never_teacher_forced:
            expected = [w.numpy() for w in model.weights]
            expected_loss = logs["loss"]
    # The same two steps as through the tf.cond's scheduled-sampling branch.
    for got, want in zip(model.weights, expected):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    np.testing.assert_allclose(logs["loss"], expected_loss, rtol=1e-6)


@pytest.mark.parametrize("entry", ["fit", "train_on_batch"])
def test_the_first_fit_traces_the_train_step_once(entry):
    # Keras builds an unbuilt optimizer inside the first trace, and a tf.function
    # whose first trace creates variables traces again: twice the tracing time.
    source, decoder_input, labels = reverse_task(n=64)
    model = _small_model()
    model.compile(optimizer="adam")
    traces = []
    train_step = model.train_step

    def counting(data):
        traces.append([tuple(t.shape) for t in tf.nest.flatten(data) if t is not None])
        return train_step(data)

    model.train_step = counting
    if entry == "fit":
        model.fit((source, decoder_input), labels, batch_size=32, epochs=2, verbose=0)
    else:
        for _ in range(2):
            model.train_on_batch((source, decoder_input), labels)
    assert len(traces) == 1, traces
    assert int(model.optimizer.iterations) == (4 if entry == "fit" else 2)
    # Adam's two slots for every trainable variable, no more.
    slots = [v for v in model.optimizer.variables if v.shape != ()]
    assert len(slots) == 2 * len(model.trainable_variables)


def test_make_train_function_before_compile_behaves_like_keras():
    # The override that builds the optimizer must not break what keras.Model
    # allows: before `compile` there is no optimizer attribute at all.
    model = _small_model()
    assert not hasattr(model, "optimizer")
    model.make_train_function()
    assert callable(model.train_function)
    np.testing.assert_allclose(model.teacher_forcing_ratio(), 1.0)  # step 0
    source, decoder_input, labels = reverse_task(n=8)
    with pytest.raises(ValueError, match="compile"):
        model.fit((source, decoder_input), labels, verbose=0)


def test_evaluate_reports_free_running_accuracy(trained_reverse_model):
    source, decoder_input, labels = reverse_task(n=128, seed=5)
    logs = trained_reverse_model.evaluate((source, decoder_input), labels, verbose=0,
                                          return_dict=True)
    assert set(logs) >= {"loss", "accuracy", "free_running_accuracy"}
    generated = trained_reverse_model.generate(source, max_length=8).ids.numpy()
    expected = (generated[:, :7] == labels).mean()
    np.testing.assert_allclose(logs["free_running_accuracy"], expected, atol=1e-6)


def test_generate_and_predict_decode_source_ids(trained_reverse_model):
    source = np.array([[4, 5, 6, 7, 8, 9], [11, 10, 9, 8, 0, 0]], "int32")
    result = trained_reverse_model.generate(source, max_length=10)
    ids = result.ids.numpy()
    np.testing.assert_array_equal(ids[0, :7], [9, 8, 7, 6, 5, 4, 3])
    assert result.lengths.numpy()[0] == 6
    assert tuple(result.attention.shape) == (2, 10, 6)
    predicted = trained_reverse_model.predict(source, verbose=0)
    np.testing.assert_array_equal(predicted["ids"][:, :10], ids)


def test_bad_inputs_give_clear_errors(trained_reverse_model):
    with pytest.raises(ValueError, match=r"source_ids.shape=\(3,\)"):
        trained_reverse_model.generate(np.array([4, 5, 6]))
    with pytest.raises(ValueError, match=r"outside \[0, 12\)"):
        trained_reverse_model.generate(np.array([[4, 50]]))
    with pytest.raises(ValueError, match="dtype=float32"):
        trained_reverse_model.generate(np.array([[4.0, 5.0]], "float32"))
    with pytest.raises(ValueError, match="model.generate"):
        trained_reverse_model._unpack_inputs(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="teacher_forcing_granularity"):
        _small_model(teacher_forcing_granularity="sequence")
    with pytest.raises(ValueError, match="dot score"):
        _small_model(attention="dot", bidirectional=True)


def test_switch_callback_caps_the_ratio_and_survives_saving(tmp_path):
    source, decoder_input, labels = reverse_task(n=256)
    model = _small_model()
    model.compile(optimizer="adam")
    switch = ks.TeacherForcingSwitch(monitor="accuracy", threshold=0.0, ratio=0.25, verbose=0)
    history = model.fit((source, decoder_input), labels, batch_size=64, epochs=2,
                        callbacks=[switch], verbose=0)
    assert history.history["teacher_forcing_ratio"] == [1.0, 0.25]
    assert float(model.teacher_forcing_cap.numpy()) == 0.25
    path = tmp_path / "switched.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert float(restored.teacher_forcing_cap.numpy()) == 0.25
    assert float(restored.teacher_forcing_ratio(0)) == 0.25


@pytest.mark.slow
def test_keras_file_round_trip(trained_reverse_model, tmp_path):
    source, decoder_input, _ = reverse_task(n=16, seed=9)
    restored = run_model_saving_test(trained_reverse_model, (source, decoder_input), tmp_path)
    assert type(restored) is ks.Seq2Seq
    np.testing.assert_array_equal(restored.generate(source).ids,
                                  trained_reverse_model.generate(source).ids)
    assert int(restored.optimizer.iterations) == int(trained_reverse_model.optimizer.iterations)


def test_sampled_feedback_trains_and_is_keyed_on_the_step():
    source, decoder_input, labels = reverse_task(n=128)
    model = _small_model(teacher_forcing=0.0, teacher_forcing_feedback="sample",
                         teacher_forcing_granularity="token")
    a = model.scheduled_forward(source, decoder_input, tf.constant(0.0), 5)
    b = model.scheduled_forward(source, decoder_input, tf.constant(0.0), 5)
    np.testing.assert_array_equal(a, b)
    c = model.scheduled_forward(source, decoder_input, tf.constant(0.0), 6)
    assert not np.allclose(a, c)
    model.compile(optimizer="adam")
    history = model.fit((source, decoder_input), labels, batch_size=64, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_parallel_scheduled_sampling_mixes_shifted_predictions():
    source, decoder_input, labels = reverse_task(n=8)
    model = _small_model(teacher_forcing=0.5, teacher_forcing_granularity="token",
                         teacher_forcing_mode="parallel", parallel_passes=2)
    got = model.scheduled_forward(source, decoder_input, tf.constant(0.5), 4)
    # Reference: the same two passes written out with numpy.
    coins = tf.random.stateless_uniform(
        decoder_input.shape, seed=scheduled_sampling.step_key(model.seed, 4, 1))
    use_truth = coins.numpy() < 0.5
    use_truth[:, 0] = True
    inputs = decoder_input
    for _ in range(2):
        predicted = np.argmax(model((source, inputs)).numpy(), -1)
        shifted = np.concatenate([decoder_input[:, :1], predicted[:, :-1]], 1)
        inputs = np.where(use_truth, decoder_input, shifted)
    np.testing.assert_allclose(got, model((source, inputs)), atol=1e-5)
    np.testing.assert_allclose(
        model.scheduled_forward(source, decoder_input, tf.constant(1.0), 4),
        model((source, decoder_input)), atol=1e-6)
    model.compile(optimizer="adam")
    history = model.fit((source, decoder_input), labels, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert run_serialization_test(model).teacher_forcing_mode == "parallel"


@pytest.mark.slow
@pytest.mark.parametrize("granularity, mode", [("token", "sequential"),
                                               ("token", "parallel"),
                                               ("batch", "sequential")])
def test_scheduled_sampling_compiles_under_xla(granularity, mode,
                                               trained_reverse_model):
    """jit_compile=True: the tf.cond around the Keras RNN layer (which tf2xla rejects)
    is left out and the loop runs on all coins. The XLA-compiled forward pass gives
    the uncompiled logits (same weights, same coins), and fit trains."""
    source, decoder_input, labels = reverse_task(n=64, seed=5)
    config = trained_reverse_model.get_config()
    config.update(teacher_forcing=0.5, teacher_forcing_granularity=granularity,
                  teacher_forcing_mode=mode)
    model = ks.Seq2Seq.from_config(config)
    model.set_weights(trained_reverse_model.get_weights())  # confident: no argmax ties
    model.compile(optimizer="adam")
    step = tf.constant(7, tf.int64)

    def forward(ratio):
        return model.scheduled_forward(source, decoder_input, tf.constant(ratio),
                                       step, training=False)

    plain = {r: forward(r).numpy() for r in (0.0, 0.5, 1.0)}
    model.compile(optimizer="adam", jit_compile=True)
    compiled = tf.function(forward, jit_compile=True)
    for ratio in (0.0, 0.5, 1.0):
        np.testing.assert_allclose(compiled(ratio).numpy(), plain[ratio], atol=1e-3)
    history = model.fit((source, decoder_input), labels, batch_size=32, epochs=2,
                        verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("bad, match", [
    (dict(attention="dot", bidirectional=True, units=16), "dot score"),
    (dict(dropout=1.5), "dropout"),
    (dict(teacher_forcing_mode="jumbled"), "teacher_forcing_mode"),
    (dict(cell_type="rnn"), "cell_type"),
    (dict(unit=3), "Unknown Seq2Seq setting"),
])
def test_check_settings_raises_what_the_constructor_raises(bad, match):
    with pytest.raises(ValueError, match=match):
        ks.Seq2Seq.check_settings(12, 12, **bad)
    if "unit" not in bad:
        with pytest.raises(ValueError, match=match):
            ks.Seq2Seq(12, 12, **bad)
    ks.Seq2Seq.check_settings(12, 12, units=32, bidirectional=True)  # valid: no error


def test_with_settings_copies_the_weights_and_changes_only_training_settings():
    source, decoder_input, labels = reverse_task(n=128)
    model = _small_model(dropout=0.0)
    model.compile(optimizer="adam")
    model.fit((source, decoder_input), labels, batch_size=64, epochs=1, verbose=0)
    tuned = model.with_settings(teacher_forcing=0.5, teacher_forcing_mode="parallel",
                                teacher_forcing_granularity="token", dropout=0.2)
    assert tuned is not model and getattr(tuned, "optimizer", None) is None
    assert (tuned.teacher_forcing_mode, tuned.teacher_forcing_granularity,
            tuned.dropout) == ("parallel", "token", 0.2)
    assert float(tuned.teacher_forcing_ratio(0)) == 0.5
    assert float(model.teacher_forcing_ratio(0)) == 1.0  # the original is left alone
    inputs = (source[:8], decoder_input[:8])
    np.testing.assert_allclose(tuned(inputs, training=False).numpy(),
                               model(inputs, training=False).numpy(), atol=1e-6)
    # Copied, not shared: training the new model leaves the old one's weights.
    before = [w.copy() for w in model.get_weights()]
    tuned.compile(optimizer="adam")
    history = tuned.fit((source, decoder_input), labels, batch_size=64, epochs=1,
                        verbose=0)
    assert history.history["teacher_forcing_ratio"] == [0.5]
    for old, kept in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, kept)
    with pytest.raises(ValueError, match=r"\['units'\] would need a new model"):
        model.with_settings(units=32)
    with pytest.raises(ValueError, match="teacher_forcing_mode"):
        model.with_settings(teacher_forcing_mode="exact")
