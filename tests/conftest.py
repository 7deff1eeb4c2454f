"""Shared fixtures: tracing seq2seq graphs is slow, so built models are shared.

Helpers for test modules live in `tests/helpers.py`; import them from there, not from
this file.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from tests.helpers import reverse_task  # noqa: E402


@pytest.fixture(scope="session")
def reverse_data():
    return reverse_task()


@pytest.fixture(scope="session")
def trained_reverse_model(reverse_data):
    """A small model trained to reverse digit strings (shared, do not mutate)."""
    import keras

    import keras_seq2seq as ks

    keras.utils.set_random_seed(1)
    source, decoder_input, labels = reverse_task(n=3000)
    model = ks.Seq2Seq(12, 12, embedding_dim=32, units=64)
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    model.fit((source, decoder_input), labels, batch_size=64, epochs=4, verbose=0)
    return model


@pytest.fixture(scope="session")
def trained_text_model():
    """A character-level model with tokenizers that reverses short letter strings."""
    import keras

    import keras_seq2seq as ks
    from keras_seq2seq.datasets import load_toy_task
    from keras_seq2seq.text import CharacterTokenizer, make_dataset

    keras.utils.set_random_seed(2)
    splits = load_toy_task("reverse", train_size=3000, validation_size=50, test_size=50,
                           min_length=3, max_length=6, alphabet="abcdefgh", seed=0)
    sources, targets = splits["train"]
    source_tokenizer = CharacterTokenizer.from_texts(sources)
    target_tokenizer = CharacterTokenizer.from_texts(targets)
    model = ks.Seq2Seq(source_tokenizer.vocabulary_size, target_tokenizer.vocabulary_size,
                       embedding_dim=16, units=64, cell_type="gru", max_decode_length=10,
                       source_tokenizer=source_tokenizer, target_tokenizer=target_tokenizer)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(make_dataset(sources, targets, source_tokenizer, target_tokenizer,
                           batch_size=64), epochs=6, verbose=0)
    return model
