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
    from tests.conftest import reverse_task

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
