"""`SentencePieceTokenizer`: a sentencepiece model, trained in memory, run in the graph.

`SentencePieceTokenizer.train` (also its `from_texts`) trains the model with the
`sentencepiece` package on the normalised texts; `tf_text.SentencepieceTokenizer`
runs it inside the TF graph.
"""

import hashlib
import io
import os

import tensorflow as tf

from keras_seq2seq._serialization import register
from keras_seq2seq import constants
from keras_seq2seq.constants import RESERVED_TOKENS
from keras_seq2seq.text.tokenizers._graph import tf_text
from keras_seq2seq.text.tokenizers._texts import normalized_texts
from keras_seq2seq.text.tokenizers.base import Tokenizer


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
    return tf_text().SentencepieceTokenizer(
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
        texts = [t for t in normalized_texts(texts, tokenizer.normalize) if t.strip()]
        if not texts:
            raise ValueError("No texts to train a sentencepiece model on.")
        options = dict(
            vocab_size=int(vocabulary_size),
            model_type=model_type,
            character_coverage=character_coverage,
            pad_id=constants.PAD_ID,
            unk_id=constants.UNK_ID,
            bos_id=constants.START_ID,
            eos_id=constants.END_ID,
            pad_piece=constants.PAD_TOKEN,
            unk_piece=constants.UNK_TOKEN,
            bos_piece=constants.START_TOKEN,
            eos_piece=constants.END_TOKEN,
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
        """The builder of every tokenizer; for sentencepiece it is `train`."""
        return cls.train(texts, **kwargs)
