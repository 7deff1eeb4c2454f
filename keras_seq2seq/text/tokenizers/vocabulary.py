"""The vocabulary-table tokenizers: `CharacterTokenizer` and `WordTokenizer`.

Both split the normalised text into tokens and look each token up in the vocabulary;
`from_texts` counts the tokens of a corpus with that same split and keeps the most
frequent ones. The word split is shared with `WordPieceTokenizer`.
"""

import tensorflow as tf

from keras_seq2seq._serialization import register
from keras_seq2seq.constants import RESERVED_TOKENS
from keras_seq2seq.text.tokenizers._graph import tf_text
from keras_seq2seq.text.tokenizers._texts import count_tokens
from keras_seq2seq.text.tokenizers.base import Tokenizer

# Word split: a run of Unicode letters/marks/digits/underscore, or any single other
# character that is not whitespace. (RE2's \w and \s are ASCII-only, hence \p{..}.)
_WORD_CHARS = r"\p{L}\p{M}\p{N}_"
_SPACE_CHARS = r"\s\p{Z}"
WORD_PATTERN = rf"[{_WORD_CHARS}]+|[^{_WORD_CHARS}{_SPACE_CHARS}]"
_SPLIT_PATTERN = rf"[{_SPACE_CHARS}]+|{WORD_PATTERN}"


def word_split(normalized):
    """1-D tf.string -> ragged words, matches of `WORD_PATTERN` (whitespace dropped)."""
    return tf_text().regex_split(
        normalized,
        delim_regex_pattern=_SPLIT_PATTERN,
        keep_delim_regex_pattern=WORD_PATTERN,
    )


def vocabulary_from_counts(counts, max_vocabulary_size=None, min_frequency=1):
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


class _VocabularyTokenizer(Tokenizer):
    """A tokenizer that splits text into tokens (`_split`) and looks each one up."""

    _SEPARATOR = ""

    def __init__(
        self, vocabulary=None, lowercase=False, normalization="NFKC", **kwargs
    ):
        super().__init__(lowercase=lowercase, normalization=normalization, **kwargs)
        self._set_vocabulary_argument(vocabulary)

    def _split(self, normalized):
        """Subclass hook: 1-D normalised tf.string -> ragged tf.string tokens."""
        raise NotImplementedError(f"{type(self).__name__} must override _split.")

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
        counts = count_tokens(texts, tokenizer.normalize, tokenizer._split)
        tokenizer._set_vocabulary(
            vocabulary_from_counts(counts, max_vocabulary_size, min_frequency)
        )
        return tokenizer


@register
class CharacterTokenizer(_VocabularyTokenizer):
    """One token per Unicode character (whitespace included); lossless detokenize.

    Args:
        vocabulary: list of tokens starting with the 4 reserved ones, or the path of
            a vocabulary file (`.json` list, or one token a line); `None` to set it
            later (`CharacterTokenizer.from_texts(texts)` or `load_assets`).
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
        return word_split(normalized)
