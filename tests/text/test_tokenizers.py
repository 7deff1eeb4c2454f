"""Tests of keras_seq2seq.text.tokenizers (tiny corpora, no downloads)."""

import re
import unicodedata
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_seq2seq.text.tokenizers import (
    END_ID,
    PAD_ID,
    RESERVED_TOKENS,
    START_ID,
    TOKENIZERS,
    UNK_ID,
    CharacterTokenizer,
    SentencePieceTokenizer,
    Tokenizer,
    WordPieceTokenizer,
    WordTokenizer,
    get_tokenizer,
)

SAMPLES = {
    "ko": "안녕하세요, 만나서 반갑습니다.",
    "de": "Zwei Männer stehen am Straßenrand.",
    "fr": "Où est la bibliothèque ? Ça va très bien.",
    "vi": "Tôi yêu tiếng Việt.",
    "en": "The quick brown fox jumps over the lazy dog.",
}
TEXTS = list(SAMPLES.values())
KINDS = ["character", "word", "wordpiece", "sentencepiece"]


def build(kind, texts=TEXTS, **kwargs):
    if kind == "sentencepiece":
        kwargs.setdefault("vocabulary_size", 120)
        return SentencePieceTokenizer.train(texts * 3, **kwargs)
    if kind == "wordpiece":
        kwargs.setdefault("vocabulary_size", 150)
    return TOKENIZERS[kind].from_texts(texts, **kwargs)


@pytest.fixture(scope="module")
def tokenizers():
    return {kind: build(kind) for kind in KINDS}


def words_form(text):
    """The documented word-level detokenized form: word tokens joined by spaces."""
    return " ".join(re.findall(r"\w+|[^\w\s]", unicodedata.normalize("NFKC", text)))


def as_text(tensor):
    return [value.decode("utf-8") for value in np.asarray(tensor).reshape(-1)]


def test_reserved_ids():
    assert (PAD_ID, UNK_ID, START_ID, END_ID) == (0, 1, 2, 3)
    assert RESERVED_TOKENS == ("[PAD]", "[UNK]", "[START]", "[END]")
    assert set(TOKENIZERS) == {"sentencepiece", "wordpiece", "character", "word"}


def test_character_exact_ids():
    tokenizer = CharacterTokenizer(list(RESERVED_TOKENS) + ["a", "b", " ", "é"])
    ids = tokenizer.tokenize(["ab é", "abc"])
    assert isinstance(ids, tf.RaggedTensor) and ids.dtype == tf.int32
    assert ids.to_list() == [[4, 5, 6, 7], [4, 5, 1]]
    assert tokenizer.tokenize("ba").numpy().tolist() == [5, 4]  # scalar -> 1-D
    dense = tokenizer(tf.constant(["ab", "b"]))  # layer call: padded dense ids
    assert dense.numpy().tolist() == [[4, 5], [5, 0]]
    # drops PAD/START, stops at the first END
    text = tokenizer.detokenize(
        [[START_ID, 4, PAD_ID, 5, END_ID, 6, 7], [7, 1, 0, 0, 0, 0, 0]]
    )
    assert as_text(text) == ["ab", "é[UNK]"]
    assert tokenizer.detokenize(tf.constant([4, 6, 5])).numpy().decode() == "a b"
    assert tokenizer.vocabulary_size == 8
    assert tokenizer.get_vocabulary()[4:] == ["a", "b", " ", "é"]


def test_word_exact_ids():
    vocabulary = list(RESERVED_TOKENS) + ["Ça", "va", ",", "bien", "."]
    tokenizer = WordTokenizer(vocabulary)
    ids = tokenizer.tokenize(["Ça va, très bien."])
    assert ids.to_list() == [[4, 5, 6, 1, 7, 8]]
    assert as_text(tokenizer.detokenize(ids)) == ["Ça va , [UNK] bien ."]


def test_wordpiece_exact_ids():
    vocabulary = list(RESERVED_TOKENS) + ["un", "##believ", "##able", "!", "able"]
    tokenizer = WordPieceTokenizer(vocabulary)
    ids = tokenizer.tokenize(["unbelievable!  able", "xyz"])
    assert ids.to_list() == [[4, 5, 6, 7, 8], [UNK_ID]]
    assert as_text(tokenizer.detokenize(ids)) == ["unbelievable ! able", "[UNK]"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_round_trip(tokenizers, kind, language):
    tokenizer = tokenizers[kind]
    text = SAMPLES[language]
    ids = tokenizer.tokenize([text])
    assert UNK_ID not in ids.flat_values.numpy()
    if kind in ("character", "sentencepiece"):
        expected = unicodedata.normalize("NFKC", text)
    else:
        expected = words_form(text)
    assert as_text(tokenizer.detokenize(ids)) == [expected]
    # Same with decoder-style framing and padding after [END].
    row = [START_ID] + ids[0].numpy().tolist() + [END_ID, 7, PAD_ID]
    framed = tf.constant([row, [START_ID] + [PAD_ID] * (len(row) - 1)])
    assert as_text(tokenizer.detokenize(framed)) == [expected, ""]


def test_word_split_is_unicode_aware(tokenizers):
    words = tokenizers["word"]
    tokens = words.id_to_token(words.tokenize([SAMPLES["ko"]]))
    assert [t.decode() for t in tokens.to_list()[0]] == [
        "안녕하세요",
        ",",
        "만나서",
        "반갑습니다",
        ".",
    ]


def test_case_folding_keeps_accents_and_hangul():
    tokenizer = CharacterTokenizer.from_texts(["ÉCOLE 안녕하세요 Straße"], lowercase=True)
    vocabulary = tokenizer.get_vocabulary()
    assert "é" in vocabulary and "É" not in vocabulary
    assert "안" in vocabulary and "ᄋ" not in vocabulary  # syllables, not jamo
    assert as_text(tokenizer.detokenize(tokenizer.tokenize(["ÉCOLE"]))) == ["école"]
    assert len(tokenizer.tokenize("안녕하세요")) == 5
    assert as_text(tokenizer.normalize(["ÉCOLE Straße"])) == ["école strasse"]
    assert tokenizer.get_config()["lowercase"] is True


def test_nfkc_normalization():
    tokenizer = CharacterTokenizer.from_texts(["ﬁne Ａ"])  # ligature, full-width A
    assert "f" in tokenizer.get_vocabulary() and "ﬁ" not in tokenizer.get_vocabulary()
    assert "A" in tokenizer.get_vocabulary() and "Ａ" not in tokenizer.get_vocabulary()
    assert as_text(tokenizer.detokenize(tokenizer.tokenize(["ﬁne Ａ"]))) == ["fine A"]
    raw = CharacterTokenizer.from_texts(["ﬁ"], normalization=None)
    assert raw.get_vocabulary()[4:] == ["ﬁ"]
    with pytest.raises(ValueError, match="normalization"):
        CharacterTokenizer(normalization="NFX")


FORMS = ["NFC", "NFD", "NFKC", "NFKD"]
CASE_TEXTS = ["École 한국", "ＡＢＣ", "Straße", "ǅ", "ÉCOLE ÀÖ Ǆ ǆ"]


def expected_normal_form(text, form, lowercase):
    """The documented `Tokenizer.normalize`, with Python's unicodedata as reference.

    Without lowercase: the form. With lowercase: NFKC is NFKC_Casefold (as before,
    full case folding, "ß" -> "ss"); the other forms lowercase as `str.lower` does
    and the result is in the chosen form.
    """
    if not lowercase:
        return unicodedata.normalize(form, text)
    if form == "NFKC":
        return unicodedata.normalize("NFKC", text.casefold())
    return unicodedata.normalize(form, text.lower())


@pytest.mark.parametrize("lowercase", [False, True])
@pytest.mark.parametrize("form", FORMS)
def test_lowercase_keeps_the_chosen_normalization_form(form, lowercase):
    """Regression: lowercase=True used to give NFKC (case_fold_utf8) whatever the form."""
    tokenizer = CharacterTokenizer(normalization=form, lowercase=lowercase)
    expected = [expected_normal_form(t, form, lowercase) for t in CASE_TEXTS]
    assert as_text(tokenizer.normalize(CASE_TEXTS)) == expected
    assert all(unicodedata.is_normalized(form, t) for t in expected)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def in_graph(strings):
        return tokenizer.normalize(strings)

    assert as_text(in_graph(tf.constant(CASE_TEXTS))) == expected
    assert as_text(tokenizer.normalize(tf.constant([CASE_TEXTS[:2]]))) == expected[:2]


def test_lowercase_nfd_decomposes_accents_and_hangul():
    tokenizer = CharacterTokenizer(normalization="NFD", lowercase=True)
    text = tokenizer.normalize("École 한국").numpy().decode()
    # e + U+0301, "cole", " ", 3 jamo for each of the two syllables.
    assert len(text) == 13, [hex(ord(c)) for c in text]
    assert text == unicodedata.normalize("NFD", "école 한국")
    built = CharacterTokenizer.from_texts(["ÉCOLE Ôte"], normalization="NFD", lowercase=True)
    vocabulary = built.get_vocabulary()
    assert "\u0301" in vocabulary and "\u0302" in vocabulary
    assert "é" not in vocabulary and "É" not in vocabulary and "E" not in vocabulary


def test_lowercase_differs_from_nfkc_casefold_only_where_documented():
    # Non-NFKC forms lowercase (str.lower): "ß" and final "ς" stay, full-width
    # letters are not folded to ASCII unless the form is a compatibility one.
    lower = {
        form: CharacterTokenizer(normalization=form, lowercase=True)
        for form in FORMS
    }
    assert as_text(lower["NFC"].normalize(["Straße ΟΔΟΣ"])) == ["straße οδος"]
    assert as_text(lower["NFKC"].normalize(["Straße ΟΔΟΣ"])) == ["strasse οδοσ"]
    assert as_text(lower["NFC"].normalize(["ＡＢＣ"])) == ["ａｂｃ"]
    assert as_text(lower["NFKD"].normalize(["ＡＢＣ"])) == ["abc"]
    # Compatibility forms lowercase what the decomposition uncovers: U+3392 is
    # "MHz" and U+210C "H" under NFKD, so both are fully lowercased, as with NFKC.
    assert as_text(lower["NFKD"].normalize(["\u3392 \u210c"])) == ["mhz h"]
    assert as_text(lower["NFKC"].normalize(["\u3392 \u210c"])) == ["mhz h"]


def test_lowercase_without_normalization_only_lowercases():
    # None means no Unicode normalisation at all (the string "none" is rejected).
    tokenizer = CharacterTokenizer(normalization=None, lowercase=True)
    decomposed = "E\u0301COLE \u1112\u1161\u11ab"  # decomposed É and 한
    assert as_text(tokenizer.normalize(["ＡＢＣ", "ﬁ Ǆ", decomposed])) == [
        "ａｂｃ",
        "ﬁ ǆ",
        "e\u0301cole \u1112\u1161\u11ab",
    ]
    raw = CharacterTokenizer(normalization=None)
    assert as_text(raw.normalize(["ＡＢＣ ﬁ"])) == ["ＡＢＣ ﬁ"]
    with pytest.raises(ValueError, match="normalization"):
        CharacterTokenizer(normalization="none")


@pytest.mark.parametrize("form", FORMS + [None])
def test_lowercase_keeps_nul_and_empty_strings(form):
    # tf.strings.lower(encoding="utf-8") alone stops at the first NUL.
    tokenizer = CharacterTokenizer(normalization=form, lowercase=True)
    assert as_text(tokenizer.normalize(["A\x00B\x00", "", "\x00"])) == [
        "a\x00b\x00",
        "",
        "\x00",
    ]
    assert tokenizer.normalize(tf.constant([], tf.string)).shape == (0,)


OLD_NFKC_SENTENCES = [
    "Ein Mann läuft.",
    "ÄÖÜ straße",
    "Zwei Männer stehen am Straßenrand.",
    "Two young, White males are outside near many bushes.",
    "ÉCOLE Où est-il ? Ça va TRÈS bien.",
    "안녕하세요, 만나서 반갑습니다.",
    "Tôi YÊU tiếng Việt.",
    "ﬁne Ａ ½",
]


@pytest.mark.parametrize("kind", KINDS)
def test_default_nfkc_lowercase_is_unchanged(kind):
    """Trained models store lowercase=True with NFKC: their text must not change."""
    import tensorflow_text as tf_text

    def old_normalize(strings):  # the code before lowercase kept the chosen form
        return tf_text.case_fold_utf8(tf_text.normalize_utf8(strings, "NFKC"))

    tokenizer = build(kind, texts=TEXTS + OLD_NFKC_SENTENCES, lowercase=True)
    assert tokenizer.normalization == "NFKC" and tokenizer.lowercase
    new = as_text(tokenizer.normalize(OLD_NFKC_SENTENCES))
    assert new == as_text(old_normalize(OLD_NFKC_SENTENCES))
    assert new[:2] == ["ein mann läuft.", "äöü strasse"]
    assert new[-1] == "fine a 1⁄2"


def test_input_ranks_and_lookups(tokenizers):
    tokenizer = tokenizers["word"]
    assert isinstance(tokenizer.tokenize(SAMPLES["de"]), tf.Tensor)
    assert tokenizer.tokenize(tf.constant([], tf.string)).shape[0] == 0
    with pytest.raises(ValueError, match="1-D"):
        tokenizer.tokenize([["a", "b"]])
    ids = tf.constant([[4, 5, 10_000], [0, 2, 3]])
    tokens = tokenizer.id_to_token(ids)
    assert tokens.shape == (2, 3) and tokens.dtype == tf.string
    assert tokens.numpy()[0, 2] == b"[UNK]" and tokens.numpy()[1].tolist() == [
        b"[PAD]",
        b"[START]",
        b"[END]",
    ]
    assert tokenizer.token_to_id(tokens[:, :2]).numpy().tolist() == [[4, 5], [0, 2]]
    assert tokenizer.token_to_id("no-such-token").numpy() == UNK_ID
    ragged = tokenizer.tokenize(TEXTS[:2])
    assert (
        tokenizer.token_to_id(tokenizer.id_to_token(ragged)).to_list()
        == ragged.to_list()
    )


@pytest.mark.parametrize("kind", KINDS)
def test_graph_mode_dataset_and_function(tokenizers, kind):
    tokenizer = tokenizers[kind]
    expected = tokenizer.tokenize(TEXTS).to_list()
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2).map(tokenizer.tokenize)
    assert [row for batch in dataset for row in batch.to_list()] == expected
    per_example = tf.data.Dataset.from_tensor_slices(TEXTS).map(tokenizer.tokenize)
    assert [x.numpy().tolist() for x in per_example] == expected

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(strings):
        return tokenizer.detokenize(tokenizer.tokenize(strings).to_tensor())

    assert as_text(round_trip(tf.constant(TEXTS))) == as_text(
        tokenizer.detokenize(tokenizer.tokenize(TEXTS))
    )


@pytest.mark.parametrize("kind", KINDS)
def test_config_round_trip_and_assets(tokenizers, kind, tmp_path):
    tokenizer = tokenizers[kind]
    config = tokenizer.get_config()
    assert "vocabulary" not in config and "model" not in config
    restored = type(tokenizer).from_config(config)
    with pytest.raises(ValueError, match="no vocabulary"):
        restored.tokenize(TEXTS)
    with pytest.raises(ValueError, match="asset"):
        restored.load_assets(str(tmp_path))
    tokenizer.save_assets(str(tmp_path))
    restored.load_assets(str(tmp_path))
    assert restored.tokenize(TEXTS).to_list() == tokenizer.tokenize(TEXTS).to_list()
    assert restored.get_vocabulary() == tokenizer.get_vocabulary()


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_load_directory(tokenizers, kind, tmp_path):
    tokenizer = tokenizers[kind]
    tokenizer.save(str(tmp_path / "tok"))
    loaded = Tokenizer.load(str(tmp_path / "tok"))
    assert type(loaded) is type(tokenizer)
    assert loaded.tokenize(TEXTS).to_list() == tokenizer.tokenize(TEXTS).to_list()
    other = CharacterTokenizer if kind != "character" else WordTokenizer
    with pytest.raises(TypeError):
        other.load(str(tmp_path / "tok"))


@keras.saving.register_keras_serializable(package="keras_seq2seq_tests")
class TinyModel(keras.Model):
    """A subclassed model holding a tokenizer as an attribute."""

    def __init__(self, tokenizer, vocabulary_size, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.vocabulary_size = vocabulary_size
        self.embedding = keras.layers.Embedding(vocabulary_size, 3)

    def call(self, ids):
        return self.embedding(ids)

    def get_config(self):
        config = super().get_config()
        config["tokenizer"] = keras.saving.serialize_keras_object(self.tokenizer)
        config["vocabulary_size"] = self.vocabulary_size
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)


@pytest.mark.parametrize("kind", ["word", "sentencepiece"])
def test_tokenizer_survives_keras_file(tokenizers, kind, tmp_path):
    tokenizer = tokenizers[kind]
    model = TinyModel(tokenizer, tokenizer.vocabulary_size)
    outputs = model(tokenizer(tf.constant(TEXTS)))
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    names = zipfile.ZipFile(path).namelist()
    assert any(name.startswith("assets/") for name in names)
    loaded = keras.saving.load_model(path)
    assert type(loaded.tokenizer) is type(tokenizer)
    assert (
        loaded.tokenizer.tokenize(TEXTS).to_list()
        == tokenizer.tokenize(TEXTS).to_list()
    )
    np.testing.assert_allclose(loaded(loaded.tokenizer(tf.constant(TEXTS))), outputs)


class ExportModule(tf.Module):
    """Holds tokenizers as tracked attributes and serves them as tf.functions."""

    def __init__(self, word, pieces, wordpiece):
        super().__init__()
        self.word, self.pieces, self.wordpiece = word, pieces, wordpiece

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def encode(self, strings):
        return self.word.tokenize(strings).to_tensor()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(self, strings):
        return (
            self.pieces.detokenize(self.pieces.tokenize(strings)),
            self.wordpiece.detokenize(self.wordpiece.tokenize(strings)),
        )


def test_saved_model_export(tokenizers, tmp_path):
    module = ExportModule(
        tokenizers["word"], tokenizers["sentencepiece"], tokenizers["wordpiece"]
    )
    path = str(tmp_path / "exported")
    tf.saved_model.save(module, path)
    del module
    restored = tf.saved_model.load(path)
    expected = tokenizers["word"].tokenize(TEXTS).to_tensor().numpy()
    np.testing.assert_array_equal(restored.encode(tf.constant(TEXTS)).numpy(), expected)
    pieces, wordpieces = restored.round_trip(tf.constant(TEXTS))
    assert as_text(pieces) == TEXTS
    assert as_text(wordpieces) == [words_form(t) for t in TEXTS]


def test_builders_accept_datasets_and_files(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(TEXTS) + "\n\n", encoding="utf-8")
    from_list = WordTokenizer.from_texts(TEXTS).get_vocabulary()
    assert WordTokenizer.from_texts(str(path)).get_vocabulary() == from_list
    assert WordTokenizer.from_texts([path]).get_vocabulary() == from_list
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS)
    assert WordTokenizer.from_texts(dataset).get_vocabulary() == from_list
    assert WordTokenizer.from_texts(dataset.batch(2)).get_vocabulary() == from_list
    with pytest.raises(ValueError, match="No texts"):
        WordTokenizer.from_texts([])


def test_vocabulary_limits_and_order():
    texts = ["b b b a a c", "d"]
    tokenizer = WordTokenizer.from_texts(texts)
    assert tokenizer.get_vocabulary() == list(RESERVED_TOKENS) + ["b", "a", "c", "d"]
    assert WordTokenizer.from_texts(texts, max_vocabulary_size=6).get_vocabulary()[4:] == [
        "b",
        "a",
    ]
    assert WordTokenizer.from_texts(texts, vocabulary_size=6).get_vocabulary()[4:] == [
        "b",
        "a",
    ]
    assert WordTokenizer.from_texts(texts, min_frequency=2).get_vocabulary()[4:] == [
        "b",
        "a",
    ]
    assert WordTokenizer.from_texts(["[UNK] x"]).get_vocabulary()[4:] == [
        "UNK",
        "[",
        "]",
        "x",
    ]
    with pytest.raises(ValueError, match="reserved"):
        WordTokenizer.from_texts(texts, max_vocabulary_size=4)
    with pytest.raises(ValueError, match="reserved"):
        WordTokenizer(["a", "b"])
    with pytest.raises(ValueError, match="Duplicate"):
        WordTokenizer(list(RESERVED_TOKENS) + ["a", "a"])


def test_vocabulary_file_argument(tmp_path):
    vocabulary = list(RESERVED_TOKENS) + ["x", "y"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    tokenizer = CharacterTokenizer(str(tmp_path / "vocab.txt"))
    assert tokenizer.tokenize("xyz").numpy().tolist() == [4, 5, UNK_ID]


def test_wordpiece_learns_subwords():
    stems = ["play", "walk", "talk", "jump", "look", "cook", "kick", "pick"]
    texts = [" ".join(stem + end for end in ["ing", "ed", "er", "s"]) for stem in stems]
    tokenizer = WordPieceTokenizer.from_texts(texts, vocabulary_size=60)
    vocabulary = tokenizer.get_vocabulary()
    assert vocabulary[:4] == list(RESERVED_TOKENS)
    assert tokenizer.vocabulary_size <= 60
    assert "##ing" in vocabulary and "playing" not in vocabulary
    ids = tokenizer.tokenize(["playing walks"])
    assert UNK_ID not in ids.flat_values.numpy()
    assert b"##ing" in tokenizer.id_to_token(ids).flat_values.numpy().tolist()
    assert as_text(tokenizer.detokenize(ids)) == ["playing walks"]


def test_sentencepiece_training_is_deterministic_and_uses_reserved_ids():
    first = SentencePieceTokenizer.train(TEXTS * 3, vocabulary_size=100)
    second = SentencePieceTokenizer.from_texts(TEXTS * 3, vocabulary_size=100)
    assert first.model_proto == second.model_proto
    assert first.get_vocabulary()[:4] == list(RESERVED_TOKENS)
    assert first.vocabulary_size <= 100
    bpe = SentencePieceTokenizer.train(TEXTS * 3, vocabulary_size=100, model_type="bpe")
    assert as_text(bpe.detokenize(bpe.tokenize(TEXTS))) == TEXTS


def test_sentencepiece_rejects_models_with_other_ids():
    import io

    import sentencepiece as spm

    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TEXTS * 3),
        model_writer=writer,
        vocab_size=70,
        minloglevel=2,
    )
    with pytest.raises(ValueError, match="reserved|ids 0-3"):
        SentencePieceTokenizer(model=writer.getvalue())


def test_get_tokenizer_and_layer_build():
    assert isinstance(get_tokenizer("word", texts=TEXTS), WordTokenizer)
    empty = get_tokenizer("character", lowercase=True)
    assert isinstance(empty, CharacterTokenizer) and empty.lowercase
    assert get_tokenizer(empty) is empty
    with pytest.raises(ValueError, match="Unknown tokenizer"):
        get_tokenizer("bpe")
    # On instances `build` is Keras's (weightless) layer build, not the builder.
    empty.build((None,))
    assert empty.built


@pytest.mark.parametrize("kind", KINDS)
def test_build_is_only_the_layer_build(kind):
    """`build` means one thing: Keras's layer build. The old class-level builder
    spelling `Cls.build(texts)` says what to call instead."""
    cls = TOKENIZERS[kind]
    with pytest.raises(TypeError, match="from_texts"):
        cls.build(TEXTS * 3)
    instance = cls()
    instance.built = False
    assert instance.build((None,)) is None and instance.built


def test_no_tokenizer_inherits_a_hook_it_must_refuse():
    """Token counting lives with the tokenizers that count (not on `Tokenizer`)."""
    for cls in TOKENIZERS.values():
        assert not hasattr(cls, "_split_for_counting")
        assert not hasattr(cls, "_count_tokens")
    assert not hasattr(SentencePieceTokenizer, "_split")


def test_sentencepiece_survives_set_random_seed():
    """tf.random.set_seed clears the eager kernel cache, which held tensorflow-text's
    sentencepiece resource; the tokenizer rebuilds it (regression: translate_corpus.py
    and the study seed after training their tokenizers)."""
    tokenizer = SentencePieceTokenizer.train(TEXTS * 3, vocabulary_size=100)
    ids = tokenizer.tokenize(TEXTS).to_list()
    texts = as_text(tokenizer.detokenize(tf.ragged.constant(ids)))
    keras.utils.set_random_seed(7)
    assert tokenizer.tokenize(TEXTS).to_list() == ids
    keras.utils.set_random_seed(8)
    assert as_text(tokenizer.detokenize(tf.ragged.constant(ids))) == texts
