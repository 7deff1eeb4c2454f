"""Luong's rare-word trick: [UNK] in the output replaced by the attended source token."""

import keras
import numpy as np
import pytest

import keras_seq2seq as ks
from keras_seq2seq.text import WordTokenizer, make_dataset

WORDS = [f"w{i}" for i in range(30)]


@pytest.fixture(scope="module")
def copy_model():
    rng = np.random.default_rng(0)
    # Frequent words w0..w19, rare words w20..w29 (outside the target vocabulary).
    weights = np.array([10.0] * 20 + [1.0] * 10)
    sentences = [" ".join(rng.choice(WORDS, size=rng.integers(3, 6), p=weights / weights.sum()))
                 for _ in range(3000)]
    source_tokenizer = WordTokenizer.from_texts(sentences)
    target_tokenizer = WordTokenizer.from_texts(sentences, max_vocabulary_size=24)
    keras.utils.set_random_seed(0)
    model = ks.Seq2Seq(source_tokenizer.vocabulary_size, target_tokenizer.vocabulary_size,
                       embedding_dim=32, units=64, cell_type="gru", attention="general",
                       source_tokenizer=source_tokenizer, target_tokenizer=target_tokenizer)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(make_dataset(sentences, sentences, source_tokenizer, target_tokenizer,
                           batch_size=64), epochs=5, verbose=0)
    return model


@pytest.mark.slow
def test_unknown_words_are_copied_from_the_attended_source(copy_model):
    text = "w1 w25 w3 w27"
    assert "w25" not in copy_model.target_tokenizer.get_vocabulary()
    assert copy_model.translate(text) == "w1 [UNK] w3 [UNK]"
    assert copy_model.translate(text, replace_unknown=True) == "w1 w25 w3 w27"
    assert copy_model.translate([text], method="beam", beam_width=3,
                                replace_unknown=True) == ["w1 w25 w3 w27"]
