"""Ensembles: the members' log-probabilities averaged each step, in greedy and beam
search, forced scoring and one SavedModel."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seq2seq as ks
from keras_seq2seq.constants import END_ID, START_ID
from keras_seq2seq.export import export_translator, load_translator
from keras_seq2seq.models import Ensemble
from keras_seq2seq.text import CharacterTokenizer

SOURCES = ["abc", "hgfe", "cafe", "dbbah", "ea"]


@pytest.fixture(scope="module")
def members(trained_text_model):
    """The trained reverser and a second member: its copy with perturbed weights."""
    config = {**trained_text_model.get_config(),
              "source_tokenizer": trained_text_model.source_tokenizer,
              "target_tokenizer": trained_text_model.target_tokenizer}
    other = ks.Seq2Seq.from_config(config)
    rng = np.random.default_rng(0)
    other.set_weights([w + rng.normal(0, 0.3, w.shape).astype(w.dtype)
                       for w in trained_text_model.get_weights()])
    return trained_text_model, other


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_one_member_decodes_as_the_model(members):
    model, _ = members
    alone = Ensemble([model])
    assert alone.translate(SOURCES) == model.translate(SOURCES)
    assert alone.translate(SOURCES, method="beam", beam_width=3) == model.translate(
        SOURCES, method="beam", beam_width=3)
    np.testing.assert_allclose(alone.generate(alone.source_tokenizer.tokenize(
        SOURCES).to_tensor()).scores, model.generate(model.source_tokenizer.tokenize(
            SOURCES).to_tensor()).scores, atol=1e-5)


def test_greedy_takes_the_argmax_of_the_mean_log_probabilities(members):
    model, other = members
    ensemble = Ensemble([model, other])
    ids = model.source_tokenizer.tokenize(SOURCES).to_tensor()
    result = ensemble.generate(ids, max_length=8)
    # By hand: each member's own step function, the mean of their log-softmaxes.
    states = [m.encode(ids) for m in (model, other)]
    token = np.full([len(SOURCES)], START_ID, np.int32)
    done = np.zeros(len(SOURCES), bool)
    expected, score = [], np.zeros(len(SOURCES))
    for _ in range(8):
        outputs = [m.decoder.step(tf.constant(token), s) for m, s in zip((model, other),
                                                                          states)]
        states = [o[1] for o in outputs]
        mean = np.mean([_log_softmax(o[0].numpy()) for o in outputs], axis=0)
        log_probs = _log_softmax(mean)
        token = log_probs.argmax(-1).astype(np.int32)
        score += np.where(done, 0.0, log_probs[np.arange(len(token)), token])
        expected.append(np.where(done, 0, token))
        done |= token == END_ID
    np.testing.assert_array_equal(result.ids.numpy(), np.stack(expected, 1))
    np.testing.assert_allclose(result.scores.numpy(), score, atol=1e-4)
    # The members disagree somewhere, so the test tells the mean from either member.
    both = [m.translate(SOURCES) for m in (model, other)]
    assert both[0] != both[1]


def test_score_of_the_ensemble_is_its_own_greedy_score(members):
    ensemble = Ensemble(list(members))
    translations = ensemble.translate_full(SOURCES)
    scores = ensemble.score(SOURCES, [t.text for t in translations])
    for translation, found in zip(translations, scores):
        assert found.log_prob == pytest.approx(translation.score, abs=1e-4)
        np.testing.assert_allclose(found.attention, translation.attention, atol=1e-5)


def test_one_savedmodel_holds_the_ensemble(members, tmp_path):
    ensemble = Ensemble(list(members))
    greedy = load_translator(export_translator(ensemble, str(tmp_path / "greedy")))
    assert greedy.translate(SOURCES) == ensemble.translate(SOURCES)
    beam = load_translator(export_translator(ensemble, str(tmp_path / "beam"),
                                             beam_width=3))
    assert beam.translate(SOURCES) == ensemble.translate(SOURCES, method="beam",
                                                         beam_width=3)
    # Its score endpoint is the ensemble's forced scoring.
    targets = ensemble.translate(SOURCES[:3])
    exported = greedy.score(SOURCES[:3], targets)["log_probs"]
    expected = [found.log_prob for found in ensemble.score(SOURCES[:3], targets)]
    np.testing.assert_allclose(exported, expected, atol=1e-4)


def test_members_must_share_the_vocabularies(members):
    model, _ = members
    keras.utils.set_random_seed(0)
    small = ks.Seq2Seq(model.source_vocabulary_size, model.target_vocabulary_size + 1)
    with pytest.raises(ValueError, match=r"models\[1\]. has vocabulary sizes"):
        Ensemble([model, small])
    letters = "".join(t for t in model.source_tokenizer.get_vocabulary() if len(t) == 1)
    shifted = CharacterTokenizer.from_texts(
        ["".join(chr(ord(c) + 100) for c in letters)])
    assert shifted.vocabulary_size == model.source_vocabulary_size
    renamed = ks.Seq2Seq(model.source_vocabulary_size, model.target_vocabulary_size,
                         source_tokenizer=shifted, target_tokenizer=model.target_tokenizer)
    with pytest.raises(ValueError, match="source_tokenizer has another vocabulary"):
        Ensemble([model, renamed])
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])
    with pytest.raises(ValueError, match=r"models\[0\]. must be a keras_seq2seq.Seq2Seq"):
        Ensemble(["model.keras"])


def test_the_export_command_writes_an_ensemble(members, tmp_path, capsys):
    from keras_seq2seq import cli

    paths = []
    for i, model in enumerate(members):
        paths.append(str(tmp_path / f"m{i}.keras"))
        model.save(paths[-1])
    assert cli.main(["export", "--model", paths[0], "--ensemble-with", paths[1],
                     "--output", str(tmp_path / "ensemble"), "--beam", "2"]) == 0
    assert "an ensemble of 2 models, beam search of width 2" in capsys.readouterr().out
    translator = load_translator(str(tmp_path / "ensemble"))
    assert translator.translate(SOURCES) == Ensemble(list(members)).translate(
        SOURCES, method="beam", beam_width=2)
