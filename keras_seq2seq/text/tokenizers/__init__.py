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

Building: `Cls.from_texts(texts, ...)` builds a tokenizer from a corpus (for
sentencepiece it is `SentencePieceTokenizer.train`); `tokenizer.build(shape)` is only
Keras's layer build (nothing to create; the old `Cls.build(texts)` spelling raises a
`TypeError` that names `from_texts`).

Modules: `base` (`Tokenizer`: normalisation, ids, saving), `vocabulary`
(`CharacterTokenizer`, `WordTokenizer` and the word split), `wordpiece`
(`WordPieceTokenizer` and its vocabulary learner), `sentencepiece`
(`SentencePieceTokenizer` and its trainer). Everything public is importable from
`keras_seq2seq.text.tokenizers`.
"""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

from keras_seq2seq import constants  # noqa: E402
from keras_seq2seq.constants import *  # noqa: E402, F401, F403  (reserved tokens, ids)
from keras_seq2seq.text.tokenizers.base import Tokenizer  # noqa: E402
from keras_seq2seq.text.tokenizers.sentencepiece import (  # noqa: E402
    SentencePieceTokenizer,
)
from keras_seq2seq.text.tokenizers.vocabulary import (  # noqa: E402
    CharacterTokenizer,
    WordTokenizer,
)
from keras_seq2seq.text.tokenizers.wordpiece import WordPieceTokenizer  # noqa: E402

# Module constants of the former single-file module, not in `__all__`.
from keras_seq2seq.text.tokenizers.base import NORMALIZATION_FORMS  # noqa: E402, F401
from keras_seq2seq.text.tokenizers.vocabulary import WORD_PATTERN  # noqa: E402, F401

__all__ = [
    "CharacterTokenizer",
    "SentencePieceTokenizer",
    "TOKENIZERS",
    "Tokenizer",
    "WordPieceTokenizer",
    "WordTokenizer",
    "get_tokenizer",
]
__all__ = sorted(__all__ + list(constants.RESERVED_NAMES))  # and the reserved ids


TOKENIZERS = {  # the recommended first
    "sentencepiece": SentencePieceTokenizer,
    "wordpiece": WordPieceTokenizer,
    "word": WordTokenizer,
    "character": CharacterTokenizer,
}


def get_tokenizer(name, texts=None, **kwargs):
    """Creates a tokenizer by name, for config files.

    Args:
        name: a key of `TOKENIZERS` ("sentencepiece", "wordpiece", "character",
            "word"), or a `Tokenizer` instance (returned as is).
        texts: if given, the tokenizer is built / trained on them
            (`TOKENIZERS[name].from_texts(texts, **kwargs)`); otherwise it is
            constructed with `TOKENIZERS[name](**kwargs)` (e.g. `vocabulary=...` /
            `model=...`).
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
    return cls.from_texts(texts, **kwargs)
