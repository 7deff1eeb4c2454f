"""Forced decoding (`Seq2Seq.score_ids` / `score`) against the decoder's own steps."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq2seq.constants import END_ID, START_ID

TEXTS = ["abc", "hgfe", "cafe", "dbbah"]


def step_by_step_log_probs(model, source_ids, target_ids):
    """Σ log softmax(step logits)[y_t], fed y_{t-1}, by `model.decoder.step` (numpy)."""
    state = model.encode(source_ids)
    tokens = tf.fill([source_ids.shape[0]], START_ID)
    rows = []
    for t in range(target_ids.shape[1]):
        logits, state, _ = model.decoder.step(tokens, state)
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32)).numpy()
        rows.append(log_probs[np.arange(len(log_probs)), target_ids[:, t]])
        tokens = tf.constant(target_ids[:, t], tf.int32)
    return np.stack(rows, axis=1)


def test_a_pairs_score_is_the_sum_of_the_decoder_steps_log_probabilities(
        trained_text_model):
    model = trained_text_model
    sources = ["abc", "hgfe", "ab"]
    targets = ["cba", "efx", "bab"]  # "x" is out of the vocabulary: [UNK]
    source_ids = model.source_tokenizer.tokenize(sources).to_tensor().numpy()
    target_ids = model.target_tokenizer.tokenize(targets).to_tensor().numpy()
    found = {k: v.numpy() for k, v in model.score_ids(source_ids, target_ids).items()}
    assert target_ids[1, 2] == 1  # [UNK]
    # The scored ids: the target tokens, then [END] (rows of equal length here).
    labels = np.concatenate([target_ids, np.full((3, 1), END_ID)], axis=1)
    np.testing.assert_array_equal(found["labels"], labels)
    np.testing.assert_array_equal(found["lengths"], [4, 4, 4])
    expected = step_by_step_log_probs(model, source_ids, labels)
    np.testing.assert_allclose(found["token_log_probs"], expected, atol=2e-5)
    np.testing.assert_allclose(found["log_probs"], expected.sum(axis=1), atol=1e-4)
    assert found["attention"].shape == (3, 4, source_ids.shape[1])
    np.testing.assert_allclose(found["attention"].sum(-1)[0], 1.0, atol=1e-5)


def test_padded_rows_score_only_their_own_tokens(trained_text_model):
    model = trained_text_model
    sources, targets = ["abc", "hgfe"], ["cb", "efgh"]
    batch = model.score(sources, targets)
    alone = [model.score(s, t) for s, t in zip(sources, targets)]
    for together, single in zip(batch, alone):
        assert together.tokens == single.tokens
        np.testing.assert_allclose(together.token_log_probs, single.token_log_probs,
                                   atol=2e-5)
        np.testing.assert_allclose(together.attention, single.attention, atol=2e-5)
    assert batch[0].tokens == ["c", "b", "[END]"]
    assert batch[0].source_tokens == ["a", "b", "c"]
    assert batch[0].attention.shape == (3, 3)
    assert batch[0].log_prob == pytest.approx(float(batch[0].token_log_probs.sum()),
                                              abs=1e-5)


def test_greedy_and_beam_scores_equal_the_score_of_their_output(trained_text_model):
    model = trained_text_model
    for method, options in (("greedy", {}), ("beam", {"beam_width": 3})):
        found = model.translate_full(TEXTS + ["ggg"], method=method, **options)
        scored = model.score(TEXTS + ["ggg"], [t.text for t in found])
        for translation, score in zip(found, scored):
            assert translation.tokens[-1] == "[END]"
            assert score.tokens == translation.tokens
            assert score.log_prob == pytest.approx(translation.score, abs=1e-4)
            np.testing.assert_allclose(score.attention, translation.attention,
                                       atol=1e-4)


def test_n_best_scores_match_forced_scores_and_the_reference_wins(trained_text_model):
    model = trained_text_model
    hypotheses = model.n_best("cafe", 3, beam_width=4)
    scores = model.score(["cafe"] * 3, [text for text, _ in hypotheses])
    for (text, beam_score), score in zip(hypotheses, scores):
        assert score.log_prob == pytest.approx(beam_score, abs=1e-4), text
    right, wrong = model.score(["cafe", "cafe"], ["efac", "efca"])
    assert right.log_prob > wrong.log_prob


def test_length_normalize_divides_by_the_scored_tokens(trained_text_model):
    plain = trained_text_model.score("abc", "cba")
    mean = trained_text_model.score("abc", "cba", length_normalize=True)
    assert mean.log_prob == pytest.approx(plain.log_prob)
    assert mean.score == pytest.approx(plain.log_prob / 4)
    assert plain.score == plain.log_prob


def test_blank_sources_and_targets_are_scored(trained_text_model):
    empty_target, blank_source = trained_text_model.score(["abc", ""], ["", "cba"])
    assert empty_target.tokens == ["[END]"]
    assert empty_target.log_prob < 0 and np.isfinite(empty_target.log_prob)
    assert blank_source.source_tokens == []
    assert blank_source.attention.shape == (4, 0)
    assert np.isfinite(blank_source.log_prob)


def test_bad_arguments_name_what_is_wrong(trained_text_model, trained_reverse_model):
    model = trained_text_model
    with pytest.raises(ValueError, match="one target per source. Received 2 sources "
                                         "and 1 targets"):
        model.score(["ab", "cd"], ["ba"])
    with pytest.raises(ValueError, match="str source with a str target"):
        model.score("ab", ["ba"])
    with pytest.raises(ValueError, match=r"targets\[0\] must be a str"):
        model.score(["ab"], [3])
    with pytest.raises(ValueError, match="same batch size"):
        model.score_ids(np.ones((2, 3), "int32"), np.ones((1, 3), "int32"))
    with pytest.raises(ValueError, match="`target_ids` holds ids outside"):
        model.score_ids(np.ones((1, 3), "int32"), np.full((1, 3), 99))
    with pytest.raises(ValueError, match="model.score_ids"):
        trained_reverse_model.score(["12"], ["21"])
