"""The encoder-decoder model (TensorFlow backend)."""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

from keras_seq2seq.models.encoder import Seq2SeqEncoder  # noqa: E402
from keras_seq2seq.models.ensemble import Ensemble  # noqa: E402
from keras_seq2seq.models.seq2seq import Seq2Seq  # noqa: E402

__all__ = ["Ensemble", "Seq2Seq", "Seq2SeqEncoder"]
