"""Tokenizers that run in the TensorFlow graph (tf.data, tf.function, SavedModel).

Every tokenizer is a `keras.layers.Layer` whose `tokenize` / `detokenize` use only
TensorFlow and tensorflow-text ops, with the vocabulary held in
`tf.lookup.StaticHashTable`s (or the sentencepiece model resource), tracked as layer
attributes so they are exported with a SavedModel. Four kinds:

* `CharacterTokenizer`: one token per Unicode character (spaces included), so
  `detokenize` joins tokens with nothing and is lossless.
* `WordTokenizer`: tokens are the matches of `\\w+|[^\\w\\s]` where `\\w` means a
  Unicode letter, mark, digit or `_` (RE2's own `\\w` is ASCII only); `detokenize`
  joins tokens with single spaces, so "Où est-il ?" comes back as "Où est - il ?".
* `WordPieceTokenizer`: the same word split, then `tf_text.FastWordpieceTokenizer`
  pieces (`##` marks a piece that continues a word); `detokenize` gives the same
  space-joined word form as `WordTokenizer`.
* `SentencePieceTokenizer`: a sentencepiece model run by
  `tf_text.SentencepieceTokenizer`; `detokenize` is lossless (up to normalisation and
  runs of whitespace).

Reserved ids are shared by all of them: `[PAD]`=0, `[UNK]`=1, `[START]`=2, `[END]`=3.
`tokenize` never adds `[START]`/`[END]`; `detokenize` drops `[PAD]`/`[START]` and stops
at the first `[END]`.

Text is normalised to Unicode NFKC first (`tf_text.normalize_utf8`), or to the
`normalization` form chosen (NFC, NFD, NFKD; None: no normalisation). With
`lowercase=True` and NFKC it is also case folded with `tf_text.case_fold_utf8`
(NFKC_Casefold), which keeps accents and Hangul syllables ("ÉCOLE" -> "école") but,
being full case folding, maps "ß" to "ss"; with the other forms it is lowercased like
`str.lower` ("ß" stays) and stays in the chosen form. See `Tokenizer.normalize`.
Accents are never stripped.

Saving: `get_config()` holds the settings only; the vocabulary (or sentencepiece model)
is written as files by `save_assets(dir_path)` and read by `load_assets(dir_path)`,
which Keras 3 calls for every layer reachable from a model saved to a `.keras` file.
`tokenizer.save(dir)` / `Tokenizer.load(dir)` do the same for a tokenizer on its own.
"""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

import collections  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import types  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_seq2seq._serialization import register  # noqa: E402
from keras_seq2seq.text import corpora  # noqa: E402

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
START_TOKEN = "[START]"
END_TOKEN = "[END]"
PAD_ID = 0
UNK_ID = 1
START_ID = 2
END_ID = 3
RESERVED_TOKENS = (PAD_TOKEN, UNK_TOKEN, START_TOKEN, END_TOKEN)

NORMALIZATION_FORMS = ("NFC", "NFKC", "NFD", "NFKD")

# Word split: a run of Unicode letters/marks/digits/underscore, or any single other
# character that is not whitespace. (RE2's \w and \s are ASCII-only, hence \p{..}.)
_WORD_CHARS = r"\p{L}\p{M}\p{N}_"
_SPACE_CHARS = r"\s\p{Z}"
WORD_PATTERN = rf"[{_WORD_CHARS}]+|[^{_WORD_CHARS}{_SPACE_CHARS}]"
_SPLIT_PATTERN = rf"[{_SPACE_CHARS}]+|{WORD_PATTERN}"

_CHUNK_SIZE = 2048
_CONFIG_FILE = "config.json"

__all__ = [
    "CharacterTokenizer",
    "END_ID",
    "END_TOKEN",
    "PAD_ID",
    "PAD_TOKEN",
    "RESERVED_TOKENS",
    "START_ID",
    "START_TOKEN",
    "SentencePieceTokenizer",
    "TOKENIZERS",
    "Tokenizer",
    "UNK_ID",
    "UNK_TOKEN",
    "WordPieceTokenizer",
    "WordTokenizer",
    "get_tokenizer",
]


def _tf_text():
    try:
        import tensorflow_text as tf_text
    except ImportError as error:  # pragma: no cover - tensorflow-text is a dependency
        raise ImportError(
            "keras_seq2seq.text tokenizers need the `tensorflow-text` package "
            "(pip install 'tensorflow-text>=2.21,<2.22'), matching your TensorFlow "
            f"version. Import failed with: {error}"
        ) from error
    return tf_text


# --------------------------------------------------------------------------- helpers


def _as_str(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.bytes_):
        return bytes(value).decode("utf-8")
    if isinstance(value, str):
        return value
    raise TypeError(f"Expected a string, got {type(value).__name__}: {value!r}")


def _iter_texts(texts):
    """Yields `str` sentences from a list of str, a tf.data.Dataset, or file paths.

    Args:
        texts: one of
            * a `str` or `os.PathLike`: the path of a one-sentence-a-line UTF-8 file;
            * a `tf.data.Dataset` whose elements are `tf.string` scalars or vectors;
            * a `tf.Tensor` / `np.ndarray` of strings;
            * an iterable of `str`/`bytes` sentences, or of `os.PathLike` paths
              (e.g. `pathlib.Path`) whose lines are read. Plain `str` items are always
              sentences, never paths.

    Yields:
        `str`; empty lines of files are skipped.
    """
    if isinstance(texts, (str, os.PathLike)):
        yield from corpora.iter_lines(texts)
        return
    if isinstance(texts, tf.data.Dataset):
        spec = texts.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
            raise TypeError(
                "A dataset of texts must have tf.string tensor elements, got "
                f"element_spec={spec}."
            )
        for element in texts.as_numpy_iterator():
            for value in np.asarray(element, dtype=object).reshape(-1):
                yield _as_str(value)
        return
    if isinstance(texts, (tf.Tensor, np.ndarray)):
        values = texts.numpy() if isinstance(texts, tf.Tensor) else texts
        for value in np.asarray(values, dtype=object).reshape(-1):
            yield _as_str(value)
        return
    for item in texts:
        if isinstance(item, os.PathLike):
            yield from corpora.iter_lines(item)
        else:
            yield _as_str(item)


def _chunks(iterable, size):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _as_string_tensor(strings):
    if isinstance(strings, tf.RaggedTensor):
        raise TypeError("tokenize expects a dense string tensor, got a RaggedTensor.")
    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    rank = strings.shape.rank
    if rank is None or rank > 1:
        raise ValueError(
            "tokenize expects a scalar string or a 1-D batch of strings, got shape "
            f"{strings.shape}. Reshape to 1-D first."
        )
    return strings


def _as_int_ids(ids):
    """Returns `(ids, was_vector)`: rank-2 int32 dense or ragged ids."""
    if not isinstance(ids, tf.RaggedTensor):
        ids = tf.convert_to_tensor(ids)
    if not ids.dtype.is_integer:
        raise TypeError(f"Token ids must be integers, got {ids.dtype}.")
    ids = tf.cast(ids, tf.int32)
    rank = ids.shape.rank
    if rank == 1:  # only dense tensors have rank 1
        return tf.expand_dims(ids, 0), True
    if rank != 2:
        raise ValueError(f"Expected ids of shape (batch, time), got shape {ids.shape}.")
    return ids, False


def _clean_ids(ids):
    """Drops PAD and START ids and everything from the first END on.

    Args:
        ids: int32 `Tensor` or `RaggedTensor`, shape `(batch, T)`.

    Returns:
        int32 `RaggedTensor`, shape `(batch, None)`.
    """
    dense = (
        ids.to_tensor(default_value=PAD_ID) if isinstance(ids, tf.RaggedTensor) else ids
    )
    ended = tf.cumsum(tf.cast(tf.equal(dense, END_ID), tf.int32), axis=1) > 0
    keep = (
        tf.logical_not(ended)
        & tf.not_equal(dense, PAD_ID)
        & tf.not_equal(dense, START_ID)
    )
    return tf.ragged.boolean_mask(dense, keep)


def _map_values(fn, values):
    if isinstance(values, tf.RaggedTensor):
        return tf.ragged.map_flat_values(fn, values)
    return fn(values)


def _lowercase_utf8(strings):
    """`str.lower` on a `tf.string` tensor of any shape, without normalising it.

    `tf.strings.lower(..., encoding="utf-8")` is ICU's full lowercase mapping but
    stops at the first NUL character, so the pieces between NULs are lowered apart
    (and joined back without `reduce_join(separator=...)`, which drops a NUL too).
    """
    nul = tf.constant("\x00")
    pieces = tf.strings.split(tf.reshape(strings, [-1]), nul)  # >= 1 piece a row
    lowered = tf.strings.lower(pieces.flat_values, encoding="utf-8") + nul
    joined = tf.strings.reduce_join(pieces.with_flat_values(lowered), axis=-1)
    length = tf.strings.length(joined)
    joined = tf.strings.substr(joined, tf.zeros_like(length), length - 1)  # last NUL
    return tf.reshape(joined, tf.shape(strings))


def _check_normalization(normalization):
    if normalization is not None and normalization not in NORMALIZATION_FORMS:
        raise ValueError(
            f"normalization must be one of {NORMALIZATION_FORMS} or None, got "
            f"{normalization!r}."
        )


def _vocabulary_from_counts(counts, max_vocabulary_size=None, min_frequency=1):
    """Reserved tokens, then tokens by decreasing count (ties: by token)."""
    if max_vocabulary_size is not None and max_vocabulary_size <= len(RESERVED_TOKENS):
        raise ValueError(
            f"max_vocabulary_size must exceed the {len(RESERVED_TOKENS)} reserved "
            f"tokens, got {max_vocabulary_size}."
        )
    items = [
        (token, count)
        for token, count in counts.items()
        if token and token not in RESERVED_TOKENS and count >= min_frequency
    ]
    items.sort(key=lambda item: (-item[1], item[0]))
    tokens = [token for token, _ in items]
    if max_vocabulary_size is not None:
        tokens = tokens[: max_vocabulary_size - len(RESERVED_TOKENS)]
    return list(RESERVED_TOKENS) + tokens


class _ClassBuilder:
    """`Cls.build(texts, ...)` builds a tokenizer; `instance.build(shape)` is a no-op.

    Keras calls `layer.build(input_shape)` on instances; the tokenizers have no
    weights, so the instance form only marks the layer built. On the class, `build`
    is the vocabulary builder named by `target` (e.g. `from_texts`).
    """

    def __init__(self, target):
        self._target = target

    def __get__(self, obj, objtype=None):
        if obj is None:
            return getattr(objtype, self._target)
        return types.MethodType(_layer_build, obj)


def _layer_build(self, input_shape=None):
    """Keras layer build: tokenizers have no weights, so this only marks them built."""
    del input_shape
    self.built = True


# ------------------------------------------------------------------------ base class


@register
class Tokenizer(keras.layers.Layer):
    """Base class: string tensors to int32 ids and back, inside the TF graph.

    Subclasses implement `_encode(normalized)` (1-D tf.string -> ragged int32 ids)
    and may override `_decode(ids)`; the vocabulary lives in `self._vocabulary`
    (a tuple of str, ids are positions) and in two `tf.lookup.StaticHashTable`s.

    Calling the layer, `tokenizer(strings)`, returns dense ids `(batch, T)` padded
    with `PAD_ID`.

    Args:
        lowercase: lowercase (keeps accents); with NFKC this is full case folding
            (NFKC_Casefold), see `normalize`.
        normalization: Unicode normalisation form applied first: "NFKC" (default),
            "NFC", "NFD", "NFKD" or None (no normalisation).
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).
    """

    _VOCABULARY_FILE = "vocabulary.json"
    build = _ClassBuilder("from_texts")

    def __init__(self, lowercase=False, normalization="NFKC", **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        _check_normalization(normalization)
        self.lowercase = bool(lowercase)
        self.normalization = normalization
        self._vocabulary = None
        self._token_to_id_table = None
        self._id_to_token_table = None
        self.built = True

    # ---------------------------------------------------------------- vocabulary

    @classmethod
    def from_texts(cls, texts, **kwargs):
        """Builds a tokenizer from texts; see the subclasses."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from texts.")

    def _set_vocabulary(self, vocabulary):
        vocabulary = tuple(_as_str(token) for token in vocabulary)
        if vocabulary[: len(RESERVED_TOKENS)] != RESERVED_TOKENS:
            raise ValueError(
                f"A vocabulary must start with the reserved tokens {RESERVED_TOKENS}, "
                f"got {vocabulary[:len(RESERVED_TOKENS)]}."
            )
        if len(set(vocabulary)) != len(vocabulary):
            duplicates = [
                t for t, n in collections.Counter(vocabulary).items() if n > 1
            ]
            raise ValueError(f"Duplicate tokens in the vocabulary: {duplicates[:10]}")
        keys = tf.constant(vocabulary, dtype=tf.string)
        ids = tf.range(len(vocabulary), dtype=tf.int32)
        self._token_to_id_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(keys, ids), default_value=UNK_ID
        )
        self._id_to_token_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.cast(ids, tf.int64), keys),
            default_value=UNK_TOKEN,
        )
        self._vocabulary = vocabulary
        self._on_vocabulary_set()

    def _on_vocabulary_set(self):
        """Hook for subclasses that build more graph state from the vocabulary."""

    def _require_vocabulary(self):
        if self._vocabulary is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} has no vocabulary yet: build it "
                "(e.g. `.build(texts)`), pass one to the constructor, or call "
                "`load_assets(dir)` after `from_config`."
            )

    @property
    def vocabulary_size(self):
        """Number of ids, the 4 reserved ones included (`int`)."""
        self._require_vocabulary()
        return len(self._vocabulary)

    def get_vocabulary(self):
        """Returns the tokens as a `list[str]`; a token's id is its position."""
        self._require_vocabulary()
        return list(self._vocabulary)

    # ---------------------------------------------------------------- graph ops

    def normalize(self, strings):
        """Applies the Unicode normalisation and optional lowercasing.

        The result is always in `self.normalization`'s form (unchanged if None):

        * `lowercase=False`: `unicodedata.normalize(form, text)`.
        * NFKC with `lowercase=True` (the default form): `tf_text.case_fold_utf8`,
          i.e. NFKC_Casefold: full case folding, so "ß"/"ẞ" -> "ss", final "ς" ->
          "σ", "ǅ" -> "dž", and default-ignorable characters (soft hyphen, zero-width
          joiner, ...) are dropped. This is exactly what earlier versions did, so
          models trained with NFKC and lowercase see the same text.
        * NFC, NFD, NFKD with `lowercase=True`: the form, then the full lowercase
          mapping of `str.lower` (`tf.strings.lower(..., encoding="utf-8")`, not
          case folding: "ß" and final "ς" stay), then the form again, which gives
          `unicodedata.normalize(form, text.lower())` for ordinary text (the first
          pass only matters for the compatibility form NFKD, whose decompositions
          can uncover capitals: U+3392 "㎒" -> "mhz").
        * None with `lowercase=True`: only the `str.lower` mapping, no normalisation.

        Before this was fixed, `lowercase=True` gave NFKC_Casefold whatever the form
        (NFKC text for NFC/NFD/NFKD/None). Case mappings and normal forms follow
        the Unicode data in TensorFlow's ICU, which can differ from Python's
        `unicodedata` for recently added characters (e.g. Vithkuqi capitals are
        not lowercased with TensorFlow 2.21).

        Args:
            strings: `tf.string` tensor of any shape (or Python str / list).

        Returns:
            `tf.string` tensor of the same shape.
        """
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
        tf_text = _tf_text()
        if self.normalization is not None:
            strings = tf_text.normalize_utf8(strings, self.normalization)
        if self.lowercase:
            if self.normalization == "NFKC":
                return tf_text.case_fold_utf8(strings)
            strings = _lowercase_utf8(strings)
            if self.normalization is not None:
                strings = tf_text.normalize_utf8(strings, self.normalization)
        return strings

    def tokenize(self, strings):
        """Turns strings into token ids, without `[START]`/`[END]`.

        Args:
            strings: 1-D `tf.string` tensor `(batch,)`, a Python list of str, or a
                scalar string.

        Returns:
            int32 `tf.RaggedTensor` `(batch, None)`; for a scalar input, a dense int32
            `(T,)` tensor. Unknown pieces map to `UNK_ID`.
        """
        self._require_vocabulary()
        strings = _as_string_tensor(strings)
        if strings.shape.rank == 0:
            return self.tokenize(tf.expand_dims(strings, 0))[0]
        ids = self._encode(self.normalize(strings))
        return tf.cast(ids, tf.int32)

    def _encode(self, normalized):
        raise NotImplementedError

    def detokenize(self, ids):
        """Turns token ids back into text.

        Drops `[PAD]` and `[START]`, stops at the first `[END]`.

        Args:
            ids: integer `Tensor` or `RaggedTensor` `(batch, T)` (or `(T,)`).

        Returns:
            `tf.string` tensor `(batch,)` (a scalar for 1-D input).
        """
        self._require_vocabulary()
        ids, was_vector = _as_int_ids(ids)
        text = self._decode(_clean_ids(ids))
        return text[0] if was_vector else text

    def _decode(self, ids):
        raise NotImplementedError

    def id_to_token(self, ids):
        """Maps ids to token strings (for attention plots); out-of-range -> `[UNK]`.

        Args:
            ids: integer `Tensor` or `RaggedTensor` of any shape.

        Returns:
            `tf.string` tensor (ragged if `ids` is) of the same shape.
        """
        self._require_vocabulary()

        def lookup(values):
            return self._id_to_token_table.lookup(tf.cast(values, tf.int64))

        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
        return _map_values(lookup, ids)

    def token_to_id(self, tokens):
        """Maps token strings to ids; unknown tokens -> `UNK_ID`.

        Args:
            tokens: `tf.string` `Tensor` or `RaggedTensor` of any shape (or str/list).

        Returns:
            int32 tensor (ragged if `tokens` is) of the same shape.
        """
        self._require_vocabulary()
        if not isinstance(tokens, tf.RaggedTensor):
            tokens = tf.convert_to_tensor(tokens, dtype=tf.string)
        return _map_values(self._token_to_id_table.lookup, tokens)

    def call(self, inputs):
        """Tokenizes and pads: `(batch,)` strings -> int32 ids `(batch, T)`."""
        ids = self.tokenize(inputs)
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=PAD_ID)
        return ids

    # ---------------------------------------------------------------- saving

    def get_config(self):
        """Returns the settings (not the vocabulary, which `save_assets` writes)."""
        config = super().get_config()
        config.update(
            {"lowercase": self.lowercase, "normalization": self.normalization}
        )
        return config

    def save_assets(self, dir_path):
        """Writes the vocabulary into the directory `dir_path` (called by Keras)."""
        self._require_vocabulary()
        with open(
            os.path.join(dir_path, self._VOCABULARY_FILE), "w", encoding="utf-8"
        ) as f:
            json.dump(list(self._vocabulary), f, ensure_ascii=False, indent=0)

    def load_assets(self, dir_path):
        """Reads the vocabulary written by `save_assets` (called by Keras)."""
        path = self._asset_path(dir_path, self._VOCABULARY_FILE)
        self._set_vocabulary(_read_vocabulary_file(path))

    def _asset_path(self, dir_path, file_name):
        path = None if dir_path is None else os.path.join(dir_path, file_name)
        if path is None or not os.path.exists(path):
            raise ValueError(
                f"No tokenizer asset {file_name!r} in {dir_path!r} for "
                f"{type(self).__name__} {self.name!r}."
            )
        return path

    def save(self, path_dir):
        """Saves config and vocabulary into the directory `path_dir` (created).

        Args:
            path_dir: directory; gets `config.json` plus the asset files.
        """
        os.makedirs(path_dir, exist_ok=True)
        config = keras.saving.serialize_keras_object(self)
        with open(os.path.join(path_dir, _CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=2)
        self.save_assets(path_dir)

    @classmethod
    def load(cls, path_dir):
        """Loads a tokenizer saved by `save(path_dir)`.

        Args:
            path_dir: the directory given to `save`.

        Returns:
            The tokenizer (of the saved class, which must be a subclass of `cls`).
        """
        with open(os.path.join(path_dir, _CONFIG_FILE), encoding="utf-8") as f:
            config = json.load(f)
        tokenizer = keras.saving.deserialize_keras_object(config)
        if not isinstance(tokenizer, cls):
            raise TypeError(
                f"{path_dir} holds a {type(tokenizer).__name__}, not a {cls.__name__}."
            )
        tokenizer.load_assets(path_dir)
        return tokenizer

    # ---------------------------------------------------------------- building

    def _split_for_counting(self, normalized):
        """1-D normalised strings -> ragged string tokens counted by builders."""
        raise NotImplementedError

    def _count_tokens(self, texts):
        counts = collections.Counter()
        seen = 0
        for chunk in _chunks(_iter_texts(texts), _CHUNK_SIZE):
            seen += len(chunk)
            tokens = self._split_for_counting(self.normalize(tf.constant(chunk)))
            counts.update(tokens.flat_values.numpy().tolist())
        if not seen:
            raise ValueError("No texts to build a vocabulary from.")
        return collections.Counter({_as_str(k): v for k, v in counts.items()})

    def _normalized_texts(self, texts):
        """Yields the normalised texts as `str` (what the graph ops will see)."""
        for chunk in _chunks(_iter_texts(texts), _CHUNK_SIZE):
            for value in self.normalize(tf.constant(chunk)).numpy().tolist():
                yield value.decode("utf-8")


def _read_vocabulary_file(path):
    """Reads a vocabulary: a JSON list (`.json`) or one token a line."""
    with open(path, encoding="utf-8") as f:
        if os.fspath(path).endswith(".json"):
            return json.load(f)
        return [line.rstrip("\n").rstrip("\r") for line in f if line.rstrip("\r\n")]


def _word_split(normalized):
    """1-D tf.string -> ragged words, matches of `WORD_PATTERN` (whitespace dropped)."""
    return _tf_text().regex_split(
        normalized,
        delim_regex_pattern=_SPLIT_PATTERN,
        keep_delim_regex_pattern=WORD_PATTERN,
    )


class _VocabularyTokenizer(Tokenizer):
    """A tokenizer that splits text into tokens and looks each one up."""

    _SEPARATOR = ""

    def __init__(
        self, vocabulary=None, lowercase=False, normalization="NFKC", **kwargs
    ):
        super().__init__(lowercase=lowercase, normalization=normalization, **kwargs)
        if vocabulary is not None:
            if isinstance(vocabulary, (str, os.PathLike)):
                vocabulary = _read_vocabulary_file(vocabulary)
            self._set_vocabulary(vocabulary)

    def _split(self, normalized):
        raise NotImplementedError

    def _split_for_counting(self, normalized):
        return self._split(normalized)

    def _encode(self, normalized):
        return tf.ragged.map_flat_values(
            self._token_to_id_table.lookup, self._split(normalized)
        )

    def _decode(self, ids):
        tokens = self.id_to_token(ids)
        return tf.strings.reduce_join(tokens, axis=-1, separator=self._SEPARATOR)

    @classmethod
    def from_texts(
        cls,
        texts,
        max_vocabulary_size=None,
        min_frequency=1,
        lowercase=False,
        normalization="NFKC",
        *,
        vocabulary_size=None,
        **kwargs,
    ):
        """Builds the vocabulary from texts: reserved tokens, then by frequency.

        Args:
            texts: a list of str, a `tf.data.Dataset` of strings, or a file path
                (`str`/`Path`, one sentence a line) or a list of `pathlib.Path`s.
            max_vocabulary_size: cap on the vocabulary size, reserved ids included
                (`None`: no cap). The most frequent tokens are kept; ties go to the
                token that sorts first.
            min_frequency: drop tokens seen fewer times than this.
            lowercase: case fold (keeps accents).
            normalization: Unicode normalisation form, "NFKC" by default.
            vocabulary_size: alias of `max_vocabulary_size` (for uniform configs).
            **kwargs: layer arguments (`name`).

        Returns:
            The tokenizer.
        """
        if vocabulary_size is not None:
            if (
                max_vocabulary_size is not None
                and max_vocabulary_size != vocabulary_size
            ):
                raise ValueError(
                    "Give max_vocabulary_size or vocabulary_size, not both."
                )
            max_vocabulary_size = vocabulary_size
        tokenizer = cls(lowercase=lowercase, normalization=normalization, **kwargs)
        counts = tokenizer._count_tokens(texts)
        tokenizer._set_vocabulary(
            _vocabulary_from_counts(counts, max_vocabulary_size, min_frequency)
        )
        return tokenizer


@register
class CharacterTokenizer(_VocabularyTokenizer):
    """One token per Unicode character (whitespace included); lossless detokenize.

    Args:
        vocabulary: list of tokens starting with the 4 reserved ones, or the path of
            a vocabulary file (`.json` list, or one token a line); `None` to set it
            later (`CharacterTokenizer.build(texts)` or `load_assets`).
        lowercase: case fold (keeps accents).
        normalization: Unicode normalisation form, "NFKC" by default.
    """

    _SEPARATOR = ""

    def _split(self, normalized):
        return tf.strings.unicode_split(normalized, "UTF-8")


@register
class WordTokenizer(_VocabularyTokenizer):
    """Unicode words and single punctuation marks; `detokenize` joins them with spaces.

    The split keeps the matches of `\\w+|[^\\w\\s]` with Unicode `\\w` (letters, marks,
    digits, `_`); "Ça va, très bien." -> ["Ça", "va", ",", "très", "bien", "."]
    -> detokenized "Ça va , très bien .".

    Args:
        vocabulary: list of tokens starting with the 4 reserved ones, or a
            vocabulary file path; `None` to set it later.
        lowercase: case fold (keeps accents).
        normalization: Unicode normalisation form, "NFKC" by default.
    """

    _SEPARATOR = " "

    def _split(self, normalized):
        return _word_split(normalized)


# ------------------------------------------------------------------------- WordPiece


def _learn_wordpiece_vocabulary(
    word_counts, vocabulary_size, min_frequency, suffix, max_unique_characters
):
    """Wordpiece vocabulary from word counts, with tensorflow-text's learner.

    Uses the steps of `wordpiece_tokenizer_learner_lib.learn` (the engine of
    `bert_vocab_from_dataset`) with our own binary search for the count threshold:
    `learn` caps the threshold at the largest *word* count (on small corpora, where
    every word is rare, it keeps whole words) and may end on a vocabulary larger than
    `vocabulary_size`; here the result never exceeds `vocabulary_size` unless the
    characters alone do. Falls back to a frequency-based vocabulary (every
    character, every character as a suffix piece, then the most frequent words) if
    the learner cannot be imported.
    """
    try:
        from tensorflow_text.tools.wordpiece_vocab import (
            wordpiece_tokenizer_learner_lib as learner,
        )
    except ImportError:  # pragma: no cover - shipped with tensorflow-text 2.21
        learner = None
    reserved = list(RESERVED_TOKENS)
    if learner is not None:
        max_token_length = 50
        params = learner.Params(
            upper_thresh=None,
            lower_thresh=None,
            num_iterations=4,
            max_input_tokens=-1,
            max_token_length=max_token_length,
            max_unique_chars=max_unique_characters,
            vocab_size=vocabulary_size,
            slack_ratio=0.05,
            include_joiner_token=True,
            joiner=suffix,
            reserved_tokens=reserved,
        )
        counts = sorted(word_counts.items(), key=lambda item: (-item[1], item[0]))
        counts = learner.get_input_words(counts, reserved, max_token_length)
        allowed = learner.get_allowed_chars(counts, max_unique_characters)
        counts = learner.filter_input_words(counts, allowed, -1)
        if not counts:
            raise ValueError("No words to learn a wordpiece vocabulary from.")
        # Smallest count threshold whose vocabulary fits (the size falls as the
        # threshold rises): double the threshold until it fits, then bisect; stop
        # early inside the learner's 5% slack.
        total = max(1, sum(count for _, count in counts))

        def fits(candidate):
            return len(candidate) <= vocabulary_size

        def close_enough(candidate):
            return len(candidate) >= (1 - params.slack_ratio) * vocabulary_size

        threshold = max(1, int(min_frequency))
        failed = threshold - 1  # the largest threshold known not to fit
        vocabulary = learner.learn_with_thresh(counts, threshold, params)
        while not fits(vocabulary) and threshold <= total:
            failed, threshold = threshold, threshold * 2
            vocabulary = learner.learn_with_thresh(counts, threshold, params)
        low, high = failed + 1, threshold - 1
        while fits(vocabulary) and not close_enough(vocabulary) and low <= high:
            middle = (low + high) // 2
            candidate = learner.learn_with_thresh(counts, middle, params)
            if fits(candidate):
                vocabulary, high = candidate, middle - 1
            else:
                low = middle + 1
        # (If nothing fits, the characters alone exceed vocabulary_size: keep them.)
    else:  # pragma: no cover
        chars = sorted({c for word in word_counts for c in word})
        words = [w for w, c in word_counts.items() if c >= min_frequency and len(w) > 1]
        words.sort(key=lambda w: (-word_counts[w], w))
        base = chars + [suffix + c for c in chars]
        room = max(0, vocabulary_size - len(RESERVED_TOKENS) - len(base))
        vocabulary = reserved + base + words[:room]
    # The learner puts the reserved tokens first; make the order exact and unique.
    rest = [t for t in vocabulary if t not in RESERVED_TOKENS]
    return reserved + list(dict.fromkeys(rest))


@register
class WordPieceTokenizer(Tokenizer):
    """Words split like `WordTokenizer`, then `tf_text.FastWordpieceTokenizer` pieces.

    A word that cannot be covered by pieces (a character outside the vocabulary)
    becomes a single `[UNK]`. `detokenize` glues `##` pieces to the previous piece and
    joins words with spaces, giving the same text as `WordTokenizer.detokenize`.

    Args:
        vocabulary: wordpiece tokens starting with the 4 reserved ones (continuation
            pieces prefixed with `suffix_indicator`), or a vocabulary file path;
            `None` to set it later.
        lowercase: case fold (keeps accents).
        normalization: Unicode normalisation form, "NFKC" by default.
        suffix_indicator: prefix of continuation pieces.
        max_bytes_per_word: longer words become `[UNK]`.
    """

    def __init__(
        self,
        vocabulary=None,
        lowercase=False,
        normalization="NFKC",
        suffix_indicator="##",
        max_bytes_per_word=100,
        **kwargs,
    ):
        super().__init__(lowercase=lowercase, normalization=normalization, **kwargs)
        if not suffix_indicator or "\\E" in suffix_indicator:
            raise ValueError(
                "suffix_indicator must be a non-empty string without '\\E'."
            )
        self.suffix_indicator = suffix_indicator
        self.max_bytes_per_word = int(max_bytes_per_word)
        self._wordpiece = None
        if vocabulary is not None:
            if isinstance(vocabulary, (str, os.PathLike)):
                vocabulary = _read_vocabulary_file(vocabulary)
            self._set_vocabulary(vocabulary)

    def _on_vocabulary_set(self):
        self._wordpiece = _tf_text().FastWordpieceTokenizer(
            vocab=list(self._vocabulary),
            suffix_indicator=self.suffix_indicator,
            max_bytes_per_word=self.max_bytes_per_word,
            token_out_type=tf.int32,
            unknown_token=UNK_TOKEN,
            no_pretokenization=True,
        )

    def _split_for_counting(self, normalized):
        return _word_split(normalized)

    def _encode(self, normalized):
        words = _word_split(normalized)  # (batch, words)
        pieces = self._wordpiece.tokenize(words)  # (batch, words, pieces)
        return pieces.merge_dims(1, 2)

    def _decode(self, ids):
        suffix = self.suffix_indicator.encode("utf-8")
        prefix_pattern = "^\\Q" + self.suffix_indicator + "\\E"  # RE2 literal quoting

        def glue(tokens):
            is_suffix = tf.equal(tf.strings.substr(tokens, 0, len(suffix)), suffix)
            stripped = tf.strings.regex_replace(tokens, prefix_pattern, "")
            return tf.where(is_suffix, stripped, tf.strings.join([" ", tokens]))

        pieces = tf.ragged.map_flat_values(glue, self.id_to_token(ids))
        text = tf.strings.reduce_join(pieces, axis=-1)
        return tf.strings.regex_replace(text, "^ ", "")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "suffix_indicator": self.suffix_indicator,
                "max_bytes_per_word": self.max_bytes_per_word,
            }
        )
        return config

    @classmethod
    def from_texts(
        cls,
        texts,
        vocabulary_size=8000,
        min_frequency=1,
        lowercase=False,
        normalization="NFKC",
        max_unique_characters=1000,
        **kwargs,
    ):
        """Learns a wordpiece vocabulary from texts.

        Words are counted with the same split as `tokenize`, then the vocabulary is
        learned with tensorflow-text's wordpiece learner
        (`tensorflow_text.tools.wordpiece_vocab.wordpiece_tokenizer_learner_lib`, the
        engine of `bert_vocab_from_dataset`; that tool's own BERT pre-split is not
        used, so that learning and tokenizing split words the same way). The count
        threshold is binary-searched so that the vocabulary has at most
        `vocabulary_size` tokens, within 5%, unless the characters alone (each as a
        word start and as a `##` piece) need more.

        Args:
            texts: a list of str, a `tf.data.Dataset` of strings, or file path(s).
            vocabulary_size: target size, reserved ids included.
            min_frequency: lower bound of the learner's count threshold.
            max_unique_characters: the alphabet: words with a character outside the
                most frequent `max_unique_characters` are not learned (they become
                `[UNK]` when tokenized).
            lowercase: case fold (keeps accents).
            normalization: Unicode normalisation form, "NFKC" by default.
            **kwargs: constructor arguments (`suffix_indicator`,
                `max_bytes_per_word`, `name`).

        Returns:
            The tokenizer.
        """
        tokenizer = cls(lowercase=lowercase, normalization=normalization, **kwargs)
        counts = tokenizer._count_tokens(texts)
        vocabulary = _learn_wordpiece_vocabulary(
            counts,
            vocabulary_size,
            min_frequency,
            tokenizer.suffix_indicator,
            max_unique_characters,
        )
        tokenizer._set_vocabulary(vocabulary)
        return tokenizer


# --------------------------------------------------------------------- SentencePiece


def _new_sentencepiece(model_proto):
    """A `tf_text.SentencepieceTokenizer` whose model resource is named after the model.

    tensorflow-text keeps the model in a kernel-owned resource whose name, when none
    is given, is the creating op's default name ("SentenceTokenizerInitializer/..."):
    in a loaded SavedModel with two different sentencepiece models, both resources
    resolve to the same name and the second model silently runs the first one (a
    target detokenized by the source model). A name derived from the model's bytes
    keeps different models apart and lets identical ones share a resource.
    """
    digest = hashlib.sha256(model_proto).hexdigest()[:16]
    return _tf_text().SentencepieceTokenizer(
        model=model_proto, out_type=tf.int32, name=f"sentencepiece_{digest}")


@register
class SentencePieceTokenizer(Tokenizer):
    """A sentencepiece model run in the graph by `tf_text.SentencepieceTokenizer`.

    The model must use the reserved ids: `[PAD]`=0, `[UNK]`=1, `[START]`=2 (bos),
    `[END]`=3 (eos), as `SentencePieceTokenizer.train` sets up. Normalisation (NFKC,
    optional case folding) is done by TensorFlow before the model sees the text; the
    model itself is trained with sentencepiece's "identity" normalisation.
    `detokenize` is lossless up to that normalisation and runs of whitespace.

    Args:
        model: serialized sentencepiece `ModelProto` (`bytes`) or the path of a
            `.model` file; `None` to set it later (`load_assets`).
        lowercase: case fold (keeps accents).
        normalization: Unicode normalisation form, "NFKC" by default.
    """

    _MODEL_FILE = "sentencepiece.model"

    def __init__(self, model=None, lowercase=False, normalization="NFKC", **kwargs):
        super().__init__(lowercase=lowercase, normalization=normalization, **kwargs)
        self._model_proto = None
        self._sentencepiece = None
        if model is not None:
            if isinstance(model, (str, os.PathLike)):
                with open(model, "rb") as f:
                    model = f.read()
            self._set_model(bytes(model))

    def _set_model(self, model_proto):
        sentencepiece = _new_sentencepiece(model_proto)
        size = int(sentencepiece.vocab_size())
        pieces = sentencepiece.id_to_string(tf.range(size, dtype=tf.int32)).numpy()
        vocabulary = [piece.decode("utf-8") for piece in pieces.tolist()]
        if tuple(vocabulary[: len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
            raise ValueError(
                "The sentencepiece model must have pieces "
                f"{RESERVED_TOKENS} at ids 0-3 (pad, unk, bos, eos), got "
                f"{vocabulary[:len(RESERVED_TOKENS)]}. Train it with "
                "SentencePieceTokenizer.train or the same ids and piece names."
            )
        self._model_proto = model_proto
        self._sentencepiece = sentencepiece
        self._set_vocabulary(vocabulary)

    @property
    def model_proto(self):
        """The serialized sentencepiece model (`bytes`)."""
        self._require_vocabulary()
        return self._model_proto

    def _split_for_counting(self, normalized):  # pragma: no cover - not used
        raise NotImplementedError

    def _run(self, method, values):
        # tensorflow-text keeps the sentencepiece model in a resource owned by an op
        # kernel; `tf.random.set_seed` (so `keras.utils.set_random_seed`) clears the
        # eager kernel cache and with it that resource ("Resource ...Sentencepiece
        # ... does not exist"). Eagerly, rebuild it from the model bytes and retry.
        try:
            return getattr(self._sentencepiece, method)(values)
        except tf.errors.NotFoundError:
            if not tf.executing_eagerly():
                raise
            self._sentencepiece = _new_sentencepiece(self._model_proto)
            return getattr(self._sentencepiece, method)(values)

    def _encode(self, normalized):
        return self._run("tokenize", normalized)

    def _decode(self, ids):
        return self._run("detokenize", ids)

    def save_assets(self, dir_path):
        """Writes the sentencepiece model into `dir_path` (called by Keras)."""
        self._require_vocabulary()
        with open(os.path.join(dir_path, self._MODEL_FILE), "wb") as f:
            f.write(self._model_proto)

    def load_assets(self, dir_path):
        """Reads the sentencepiece model written by `save_assets` (called by Keras)."""
        with open(self._asset_path(dir_path, self._MODEL_FILE), "rb") as f:
            self._set_model(f.read())

    @classmethod
    def train(
        cls,
        texts,
        vocabulary_size=8000,
        model_type="unigram",
        lowercase=False,
        normalization="NFKC",
        character_coverage=1.0,
        seed=0,
        hard_vocabulary_limit=False,
        name=None,
        **trainer_kwargs,
    ):
        """Trains a sentencepiece model in memory (deterministic: one thread, seeded).

        Args:
            texts: a list of str, a `tf.data.Dataset` of strings, or file path(s).
            vocabulary_size: pieces, the 4 reserved ones included.
            model_type: "unigram", "bpe", "char" or "word".
            lowercase: case fold (keeps accents) before training and tokenizing.
            normalization: Unicode normalisation form, "NFKC" by default.
            character_coverage: share of characters the model covers.
            seed: seed of sentencepiece's random generator.
            hard_vocabulary_limit: if False (default), a small corpus may give fewer
                than `vocabulary_size` pieces instead of failing.
            name: layer name.
            **trainer_kwargs: more `sentencepiece.SentencePieceTrainer.train`
                options (e.g. `input_sentence_size`, `max_sentence_length`).

        Returns:
            The tokenizer.
        """
        try:
            import sentencepiece as spm
        except ImportError as error:  # pragma: no cover - a dependency
            raise ImportError(
                "SentencePieceTokenizer.train needs the `sentencepiece` package "
                "(pip install 'sentencepiece>=0.2,<0.3')."
            ) from error
        layer_kwargs = {} if name is None else {"name": name}
        tokenizer = cls(
            lowercase=lowercase, normalization=normalization, **layer_kwargs
        )
        texts = [t for t in tokenizer._normalized_texts(texts) if t.strip()]
        if not texts:
            raise ValueError("No texts to train a sentencepiece model on.")
        options = dict(
            vocab_size=int(vocabulary_size),
            model_type=model_type,
            character_coverage=character_coverage,
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=START_ID,
            eos_id=END_ID,
            pad_piece=PAD_TOKEN,
            unk_piece=UNK_TOKEN,
            bos_piece=START_TOKEN,
            eos_piece=END_TOKEN,
            normalization_rule_name="identity",
            num_threads=1,
            shuffle_input_sentence=False,
            hard_vocab_limit=bool(hard_vocabulary_limit),
            minloglevel=2,
        )
        options.update(trainer_kwargs)
        writer = io.BytesIO()
        spm.set_random_generator_seed(int(seed))
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts), model_writer=writer, **options
        )
        tokenizer._set_model(writer.getvalue())
        return tokenizer

    @classmethod
    def from_texts(cls, texts, **kwargs):
        """Same as `train` (so `SentencePieceTokenizer.build(texts, ...)` trains)."""
        return cls.train(texts, **kwargs)


TOKENIZERS = {
    "sentencepiece": SentencePieceTokenizer,
    "wordpiece": WordPieceTokenizer,
    "character": CharacterTokenizer,
    "word": WordTokenizer,
}


def get_tokenizer(name, texts=None, **kwargs):
    """Creates a tokenizer by name, for config files.

    Args:
        name: a key of `TOKENIZERS` ("sentencepiece", "wordpiece", "character",
            "word"), or a `Tokenizer` instance (returned as is).
        texts: if given, the tokenizer is built / trained on them
            (`TOKENIZERS[name].build(texts, **kwargs)`); otherwise it is constructed
            with `TOKENIZERS[name](**kwargs)` (e.g. `vocabulary=...` / `model=...`).
        **kwargs: builder or constructor arguments.

    Returns:
        A `Tokenizer`.
    """
    if isinstance(name, Tokenizer):
        return name
    try:
        cls = TOKENIZERS[str(name).lower()]
    except KeyError:
        raise ValueError(
            f"Unknown tokenizer {name!r}; expected one of {sorted(TOKENIZERS)}."
        ) from None
    if texts is None:
        return cls(**kwargs)
    return cls.build(texts, **kwargs)
