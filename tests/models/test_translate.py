"""Strings in, strings out: translate, decoding methods and the .keras round trip."""

import keras
import numpy as np
import pytest

import keras_seq2seq as ks

TEXTS = ["abc", "hgfe", "cafe", "dbbah"]


def test_translate_reverses_strings(trained_text_model):
    assert trained_text_model.translate(TEXTS) == ["cba", "efgh", "efac", "habbd"]
    assert trained_text_model.translate("bad") == "dab"


def test_empty_and_whitespace_inputs_give_empty_translations(trained_text_model):
    assert trained_text_model.translate(["", "   ", "ab"]) == ["", "", "ba"]


def test_beam_width_one_equals_greedy_and_beam_finds_the_same_here(trained_text_model):
    ids = trained_text_model.source_tokenizer.tokenize(TEXTS).to_tensor()
    greedy = trained_text_model.generate(ids)
    beam = trained_text_model.generate(ids, method="beam", beam_width=1)
    np.testing.assert_array_equal(beam.ids[:, 0], greedy.ids)
    np.testing.assert_allclose(beam.scores[:, 0], greedy.scores, rtol=1e-5)
    assert trained_text_model.translate(TEXTS, method="beam", beam_width=4,
                                        length_penalty=0.6) == ["cba", "efgh", "efac", "habbd"]
    nbest = trained_text_model.generate(ids, method="beam", beam_width=3, num_return=3)
    scores = nbest.scores.numpy()
    assert tuple(nbest.ids.shape[:2]) == (4, 3)
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_sampling_is_deterministic_by_seed(trained_text_model):
    a = trained_text_model.translate(TEXTS, method="sample", temperature=2.0, seed=(3, 4))
    b = trained_text_model.translate(TEXTS, method="sample", temperature=2.0, seed=(3, 4))
    assert a == b
    with pytest.raises(ValueError, match="temperature"):
        trained_text_model.translate(TEXTS, method="sample", temperature=0.0)
    with pytest.raises(ValueError, match="Unknown decoder 'nucleus'"):
        trained_text_model.translate(TEXTS, method="nucleus")


def test_translate_without_tokenizers_says_what_to_call(trained_reverse_model):
    with pytest.raises(ValueError, match="model.generate"):
        trained_reverse_model.translate(["abc"])


def test_tokenizer_size_must_match_the_model(trained_text_model):
    with pytest.raises(ValueError, match="source_tokenizer` has 12 tokens"):
        ks.Seq2Seq(99, trained_text_model.target_vocabulary_size,
                   source_tokenizer=trained_text_model.source_tokenizer)


@pytest.mark.slow
def test_keras_round_trip_keeps_tokenizers_and_translations(trained_text_model, tmp_path):
    path = tmp_path / "reverse.keras"
    trained_text_model.save(path)
    restored = keras.models.load_model(path)
    assert restored.source_tokenizer.get_vocabulary() == \
        trained_text_model.source_tokenizer.get_vocabulary()
    assert restored.translate(TEXTS) == trained_text_model.translate(TEXTS)
    assert int(restored.optimizer.iterations) == int(trained_text_model.optimizer.iterations)


@pytest.mark.parametrize("local", ["monotonic", "predictive"])
def test_local_attention_models_train_decode_and_save(local, tmp_path):
    from tests.helpers import reverse_task, run_model_saving_test

    source, decoder_input, labels = reverse_task(n=128)
    model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16, local_attention=local,
                       attention_window=2, teacher_forcing=0.5,
                       teacher_forcing_granularity="token")
    model.compile(optimizer="adam")
    model.fit((source, decoder_input), labels, batch_size=64, epochs=1, verbose=0)
    greedy = model.generate(source[:4], max_length=8)
    beam = model.generate(source[:4], max_length=8, method="beam", beam_width=1)
    np.testing.assert_array_equal(beam.ids[:, 0], greedy.ids)
    if local == "monotonic":
        # Step t attends only to source positions within t ± 2.
        weights = greedy.attention.numpy()
        for t in range(6):
            outside = [s for s in range(6) if abs(s - t) > 2]
            assert (weights[:, t, outside] == 0).all()
    restored = run_model_saving_test(model, (source[:4], decoder_input[:4]), tmp_path)
    np.testing.assert_array_equal(restored.generate(source[:4], max_length=8).ids, greedy.ids)


def test_batched_translate_with_progress_bar_equals_one_call(trained_text_model, capsys):
    model = trained_text_model
    texts = ["abc", "", "hgfe", "dcba", "ab", "  ", "efgh", "bad"]
    whole = model.translate(texts)
    assert model.translate(texts, batch_size=3) == whole
    capsys.readouterr()
    assert model.translate(texts, batch_size=3, verbose=1) == whole
    out = capsys.readouterr().out
    assert "8/8" in out and "sentence" in out
    assert model.translate(texts, method="beam", beam_width=3, batch_size=5) == \
        model.translate(texts, method="beam", beam_width=3)
    assert model.translate("abc", batch_size=2) == model.translate("abc")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            model.translate(texts, batch_size=bad)


def test_translate_full_gives_tokens_scores_and_attention(trained_text_model):
    model = trained_text_model
    texts = ["abc", "", "hgfe"]
    details = model.translate_full(texts, batch_size=2)
    assert [d.text for d in details] == model.translate(texts) == ["cba", "", "efgh"]
    first = details[0]
    assert first.source_tokens == ["a", "b", "c"]
    assert first.tokens == ["c", "b", "a", "[END]"]
    assert first.attention.shape == (4, 3)
    np.testing.assert_allclose(first.attention.sum(-1), 1.0, atol=1e-5)
    # The reversal task attends to the mirrored source position.
    assert first.attention[:3].argmax(-1).tolist() == [2, 1, 0]
    ids = model.source_tokenizer.tokenize(["abc"]).to_tensor()
    expected = model.generate(ids)
    assert first.score == pytest.approx(float(expected.scores[0]), abs=1e-5)
    empty = details[1]
    assert (empty.text, empty.tokens, empty.source_tokens, empty.score) == ("", [], [],
                                                                           0.0)
    assert empty.attention.shape == (0, 0)
    beam = model.translate_full("hgfe", method="beam", beam_width=3)
    assert beam.text == model.translate("hgfe", method="beam", beam_width=3)
    assert beam.tokens[-1] == "[END]" and beam.attention.shape == (5, 4)
