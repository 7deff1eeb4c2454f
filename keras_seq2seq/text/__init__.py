"""Text handling: graph tokenizers, corpus readers and tf.data pipelines.

Needs the TensorFlow backend of Keras (and tensorflow-text); the corpus readers in
`keras_seq2seq.text.corpora` are plain Python.
"""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

from keras_seq2seq import constants  # noqa: E402
from keras_seq2seq.constants import *  # noqa: E402, F401, F403  (reserved tokens, ids)
from keras_seq2seq.text.corpora import (  # noqa: E402
    Corpus,
    CorpusError,
    read_lines,
    read_parallel_files,
    read_split_folder,
    read_tsv_pairs,
)
from keras_seq2seq.text.pipelines import (  # noqa: E402
    PipelineStats,
    encode_pairs,
    encode_texts,
    make_dataset,
    padding_fraction,
    set_shuffle_epoch,
    shuffle_epoch_variable,
)
from keras_seq2seq.text.tokenizers import (  # noqa: E402
    TOKENIZERS,
    CharacterTokenizer,
    SentencePieceTokenizer,
    Tokenizer,
    WordPieceTokenizer,
    WordTokenizer,
    get_tokenizer,
)

__all__ = [
    "CharacterTokenizer",
    "Corpus",
    "CorpusError",
    "PipelineStats",
    "SentencePieceTokenizer",
    "TOKENIZERS",
    "Tokenizer",
    "WordPieceTokenizer",
    "WordTokenizer",
    "encode_pairs",
    "encode_texts",
    "get_tokenizer",
    "make_dataset",
    "padding_fraction",
    "read_lines",
    "read_parallel_files",
    "read_split_folder",
    "read_tsv_pairs",
    "set_shuffle_epoch",
    "shuffle_epoch_variable",
]
__all__ = sorted(__all__ + list(constants.RESERVED_NAMES))  # and the reserved ids
