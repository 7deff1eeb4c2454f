"""`Tokenizer`, the base layer of every tokenizer: normalisation, ids, saving.

A subclass implements `_encode(normalized)` (1-D tf.string -> ragged int32 ids) and
`_decode(ids)` (ragged ids without PAD/START/END -> 1-D tf.string), and the
classmethod `from_texts(texts, ...)` that builds one from a corpus. The base class
does the rest: normalisation, input checks, the two lookup tables, the layer call,
the config and the asset files.
"""

import collections
import json
import os

import keras
import tensorflow as tf

from keras_seq2seq._serialization import register
from keras_seq2seq.checks import check_choice
from keras_seq2seq.constants import PAD_ID, RESERVED_TOKENS, UNK_ID, UNK_TOKEN
from keras_seq2seq.text.tokenizers._graph import (
    as_int_ids,
    as_string_tensor,
    clean_ids,
    lowercase_utf8,
    map_values,
    tf_text,
)
from keras_seq2seq.text.tokenizers._texts import as_str, read_vocabulary_file

NORMALIZATION_FORMS = ("NFC", "NFKC", "NFD", "NFKD")

_CONFIG_FILE = "config.json"


# ------------------------------------------------------------ `build`


# ------------------------------------------------------------ base class


@register
class Tokenizer(keras.layers.Layer):
    """Base class: string tensors to int32 ids and back, inside the TF graph.

    Subclasses implement `_encode(normalized)` (1-D tf.string -> ragged int32 ids),
    `_decode(ids)` and the builder `from_texts`; the vocabulary lives in
    `self._vocabulary` (a tuple of str, ids are positions) and in two
    `tf.lookup.StaticHashTable`s.

    Calling the layer, `tokenizer(strings)`, returns dense ids `(batch, T)` padded
    with `PAD_ID`.

    Two methods make a tokenizer ready: the classmethod `from_texts(texts, ...)`
    builds one from a corpus, and `build(input_shape)` is the Keras layer build,
    which has nothing to create.

    Args:
        lowercase: lowercase (keeps accents); with NFKC this is full case folding
            (NFKC_Casefold), see `normalize`.
        normalization: Unicode normalisation form applied first: "NFKC" (default),
            "NFC", "NFD", "NFKD" or None (no normalisation).
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).
    """

    _VOCABULARY_FILE = "vocabulary.json"

    def __init__(self, lowercase=False, normalization="NFKC", **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        check_choice("normalization", normalization, NORMALIZATION_FORMS + (None,))
        self.lowercase = bool(lowercase)
        self.normalization = normalization
        self._vocabulary = None
        self._token_to_id_table = None
        self._id_to_token_table = None
        self.built = True

    # ---------------------------------------------------------------- building

    @classmethod
    def from_texts(cls, texts, **kwargs):
        """Builds a tokenizer from texts (the builder); see the subclasses."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from texts.")

    def build(self, input_shape=None):
        """Keras layer build: tokenizers have no weights, so this only marks it built.

        (Building a tokenizer from texts is `Cls.from_texts(texts, ...)`.)
        """
        if not isinstance(self, Tokenizer):  # the old Cls.build(texts) spelling
            raise TypeError(
                "Tokenizer.build(input_shape) is the Keras layer build. To build a "
                "tokenizer from texts call WordTokenizer.from_texts(texts, ...) (or "
                "SentencePieceTokenizer.train(texts, ...)).")
        del input_shape
        self.built = True

    # ---------------------------------------------------------------- vocabulary

    def _set_vocabulary(self, vocabulary):
        vocabulary = tuple(as_str(token) for token in vocabulary)
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

    def _set_vocabulary_argument(self, vocabulary):
        """Sets a constructor's `vocabulary`: tokens, a vocabulary file, or None."""
        if vocabulary is None:
            return
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = read_vocabulary_file(vocabulary)
        self._set_vocabulary(vocabulary)

    def _on_vocabulary_set(self):
        """Hook for subclasses that build more graph state from the vocabulary."""

    def _require_vocabulary(self):
        if self._vocabulary is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} has no vocabulary yet: build it "
                "(e.g. `.from_texts(texts)`), pass one to the constructor, or call "
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
        text = tf_text()
        if self.normalization is not None:
            strings = text.normalize_utf8(strings, self.normalization)
        if self.lowercase:
            if self.normalization == "NFKC":
                return text.case_fold_utf8(strings)
            strings = lowercase_utf8(strings)
            if self.normalization is not None:
                strings = text.normalize_utf8(strings, self.normalization)
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
        strings = as_string_tensor(strings)
        if strings.shape.rank == 0:
            return self.tokenize(tf.expand_dims(strings, 0))[0]
        ids = self._encode(self.normalize(strings))
        return tf.cast(ids, tf.int32)

    def _encode(self, normalized):
        """Subclass hook: 1-D normalised tf.string -> ragged int32 ids."""
        raise NotImplementedError(f"{type(self).__name__} must override _encode.")

    def detokenize(self, ids):
        """Turns token ids back into text.

        Drops `[PAD]` and `[START]`, stops at the first `[END]`.

        Args:
            ids: integer `Tensor` or `RaggedTensor` `(batch, T)` (or `(T,)`).

        Returns:
            `tf.string` tensor `(batch,)` (a scalar for 1-D input).
        """
        self._require_vocabulary()
        ids, was_vector = as_int_ids(ids)
        text = self._decode(clean_ids(ids))
        return text[0] if was_vector else text

    def _decode(self, ids):
        """Subclass hook: cleaned int32 ids `(batch, T)` -> tf.string `(batch,)`."""
        raise NotImplementedError(f"{type(self).__name__} must override _decode.")

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
        return map_values(lookup, ids)

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
        return map_values(self._token_to_id_table.lookup, tokens)

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
        self._set_vocabulary(read_vocabulary_file(path))

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
