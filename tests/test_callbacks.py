"""Callbacks: the BLEU callback logs val_bleu that other callbacks can monitor."""

import keras
import pytest

import keras_seq2seq as ks
from keras_seq2seq import evaluation
from keras_seq2seq.text import make_dataset


def test_bleu_callback_logs_val_bleu_for_early_stopping(trained_text_model):
    sources = ["abc", "hgfe", "cafe", "dbbah"]
    references = ["cba", "efgh", "efac", "habbd"]
    config = {**trained_text_model.get_config(),
              "source_tokenizer": trained_text_model.source_tokenizer,
              "target_tokenizer": trained_text_model.target_tokenizer}
    model = ks.Seq2Seq.from_config(config)
    model.set_weights(trained_text_model.get_weights())
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    bleu = ks.BleuCallback(sources, references)
    stop = keras.callbacks.EarlyStopping(monitor="val_bleu", mode="max", patience=0)
    data = make_dataset(sources, references, model.source_tokenizer,
                        model.target_tokenizer, batch_size=4)
    history = model.fit(data, epochs=2, callbacks=[bleu, stop], verbose=0)
    expected = evaluation.corpus_bleu(model.translate(sources), references)
    assert history.history["val_bleu"] == [pytest.approx(expected)] * 2
    assert len(history.history["val_chrf"]) == 2


def test_bleu_callback_checks_lengths():
    with pytest.raises(ValueError, match="2 sources, 1 references"):
        ks.BleuCallback(["a", "b"], ["x"])


@pytest.mark.parametrize("bad, name", [({"mode": "up"}, "mode"), ({"ratio": 2.0}, "ratio"),
                                       ({"check": "step"}, "check")])
def test_switch_arguments_are_checked(bad, name):
    with pytest.raises(ValueError, match=name):
        ks.TeacherForcingSwitch(**bad)


def test_time_budget_stops_training(trained_reverse_model):
    from tests.helpers import reverse_task

    source, decoder_input, labels = reverse_task(n=256)
    model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16)
    model.compile(optimizer="adam")
    budget = ks.TimeBudget(minutes=1e-9, verbose=0)
    model.fit((source, decoder_input), labels, batch_size=32, epochs=5,
              callbacks=[budget], verbose=0)
    assert int(model.optimizer.iterations) == 1
    assert budget.stopped_at is not None
    with pytest.raises(ValueError, match="minutes"):
        ks.TimeBudget(minutes=0)


def _rates_of_eight_batches(warmdown, now):
    """Fits a tiny model for 8 batches with `warmdown`, each batch moving the fake
    clock `now` on by 1.5 minutes; returns (the rate of each batch, History)."""
    from tests.helpers import reverse_task

    class Tick(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            now[0] += 90.0
            rates.append(float(self.model.optimizer.learning_rate))

    rates = []
    source, decoder_input, labels = reverse_task(n=64)
    model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit((source, decoder_input), labels, batch_size=8, epochs=1,
                        callbacks=[warmdown, Tick()], verbose=0)
    return rates, history


def test_time_warmdown_decays_the_rate_linearly_over_the_end_of_the_budget():
    now = [0.0]
    warmdown = ks.TimeWarmdown(minutes=10, fraction=0.4, final_factor=0.1,
                               clock=lambda: now[0])
    # Hand-computed: constant for 6 minutes, then 1 - 0.9 * (t - 6) / 4.
    assert [warmdown.factor(t) for t in (0, 6, 7, 8, 10, 12)] == pytest.approx(
        [1.0, 1.0, 0.775, 0.55, 0.1, 0.1])

    rates, history = _rates_of_eight_batches(warmdown, now)
    # Batch k starts at 1.5k minutes: k = 0..3 before 6 min, then 6, 7.5, 9 min.
    expected = [0.01 * warmdown.factor(1.5 * k) for k in range(8)]
    assert rates == pytest.approx(expected)
    assert rates[-1] == pytest.approx(0.01 * 0.1)
    assert history.history["learning_rate"] == pytest.approx([0.001])


def test_time_warmdown_warms_up_over_the_first_steps_then_decays():
    now = [0.0]
    warmdown = ks.TimeWarmdown(minutes=10, fraction=0.4, final_factor=0.1,
                               clock=lambda: now[0], warmup_steps=3)
    assert [warmdown.warmup_factor(k) for k in range(5)] == pytest.approx(
        [1 / 3, 2 / 3, 1.0, 1.0, 1.0])

    rates, _ = _rates_of_eight_batches(warmdown, now)
    # Hand-computed: batches 0, 1 warm up (1/3, 2/3), 2 and 3 are at the full rate
    # (times 0 to 4.5 minutes, before the decay starts at 6), then 6, 7.5, 9 minutes
    # decay as 1 - 0.9 * (t - 6) / 4.
    assert rates == pytest.approx(
        [0.01 / 3, 0.02 / 3, 0.01, 0.01, 0.01, 0.01 * 0.6625, 0.01 * 0.325, 0.01 * 0.1])


@pytest.mark.parametrize("bad, name", [({"minutes": 0}, "minutes"),
                                       ({"fraction": 0.0}, "fraction"),
                                       ({"final_factor": 1.0}, "final_factor"),
                                       ({"warmup_steps": -1}, "warmup_steps"),
                                       ({"warmup_steps": 2.5}, "warmup_steps")])
def test_time_warmdown_arguments_are_checked(bad, name):
    with pytest.raises(ValueError, match=name):
        ks.TimeWarmdown(**{"minutes": 5, **bad})


def test_time_warmdown_refuses_a_schedule_optimizer():
    from tests.helpers import reverse_task

    source, decoder_input, labels = reverse_task(n=16)
    model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16)
    model.compile(optimizer=keras.optimizers.Adam(
        keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.5)))
    with pytest.raises(ValueError, match="LearningRateSchedule"):
        model.fit((source, decoder_input), labels, batch_size=8, epochs=1,
                  callbacks=[ks.TimeWarmdown(5)], verbose=0)


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_time_warmdown_refuses_a_schedule_under_mixed_float16_before_any_step(mixed_float16):
    from tests.helpers import reverse_task

    source, decoder_input, labels = reverse_task(n=16)
    model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16)
    model.compile(optimizer=keras.optimizers.Adam(
        keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.5)))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    steps = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            steps.append(batch)

    # A budget spent at once: the old check let this through and failed at .assign.
    with pytest.raises(ValueError, match="LearningRateSchedule") as info:
        model.fit((source, decoder_input), labels, batch_size=8, epochs=1,
                  callbacks=[ks.TimeWarmdown(1e-9), Count()], verbose=0)
    assert "float learning rate" in str(info.value)
    assert steps == [] and int(model.optimizer.iterations) == 0


def test_time_warmdown_decays_a_loss_scale_optimizer_s_inner_rate(mixed_float16):
    from tests.helpers import reverse_task

    now = [0.0]
    warmdown = ks.TimeWarmdown(minutes=10, fraction=0.4, final_factor=0.1,
                               clock=lambda: now[0])
    rates = []

    class Tick(keras.callbacks.Callback):  # one batch = 1.5 minutes of fake time
        def on_train_batch_end(self, batch, logs=None):
            now[0] += 90.0
            rates.append(float(self.model.optimizer.inner_optimizer.learning_rate))

    source, decoder_input, labels = reverse_task(n=64)
    model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    history = model.fit((source, decoder_input), labels, batch_size=8, epochs=1,
                        callbacks=[warmdown, Tick()], verbose=0)
    expected = [0.01 * warmdown.factor(1.5 * k) for k in range(8)]
    assert rates == pytest.approx(expected)
    assert float(model.optimizer.inner_optimizer.learning_rate) == pytest.approx(0.001)
    assert history.history["learning_rate"] == pytest.approx([0.001])
