"""The functions behind the export's endpoints (plain Python, traced by
`keras.export.ExportArchive`): blank handling, tokenization, search, the step API."""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

import tensorflow as tf  # noqa: E402

from keras_seq2seq import _keras_internals  # noqa: E402
from keras_seq2seq.constants import PAD_ID  # noqa: E402
from keras_seq2seq.export.state import flatten_state, probe_state, unflatten_state  # noqa: E402

__all__ = ["BLANK_PATTERN", "PortableRNNs", "TranslatorGraph", "at_least_one_column",
           "check_ids_in_range"]

# The characters for which Python's `str.isspace()` is true (so `"".strip()` drops
# them), as one RE2 class: a string made only of these translates to "".
_PY_WHITESPACE = (
    r"\t\n\x{0B}\f\r\x{1C}-\x{1F} \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}"
    r"\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
)
BLANK_PATTERN = f"[{_PY_WHITESPACE}]*"


def at_least_one_column(ids):
    """Pads int ids `(B, Ts)` with one `[PAD]` column when `Ts == 0`."""
    missing = tf.maximum(1 - tf.shape(ids)[1], 0)
    return tf.pad(ids, [[0, 0], [0, missing]], constant_values=PAD_ID)


class TranslatorGraph:
    """The functions behind the endpoints (plain Python, traced by `ExportArchive`)."""

    def __init__(self, model, method, max_length, options):
        self.model = model
        self.method = method
        self.max_length = max_length
        self.options = tuple(sorted(options.items()))
        self.template = probe_state(model)  # the nest structure of the state

    # ---------------------------------------------------------------- search
    def _search(self, source_ids):
        """Decodes non-empty rows: `(tokens, lengths, scores, attention)`.

        Runs `model.search`, the very code of `model.generate` /
        `model.translate`, with the options fixed at export.
        """
        result = self.model.search(source_ids, self.max_length, self.method,
                                   **dict(self.options))
        if self.method == "beam":  # the best hypothesis
            return (result.ids[:, 0], result.lengths[:, 0], result.scores[:, 0],
                    result.attention[:, 0])
        return result.ids, result.lengths, result.scores, result.attention

    def decode_ids(self, source_ids):
        """Search over the rows that hold a real token; other rows stay empty."""
        source_ids = at_least_one_column(tf.cast(source_ids, tf.int32))
        batch, width = tf.shape(source_ids)[0], tf.shape(source_ids)[1]
        length = self.max_length
        nonempty = tf.reduce_any(tf.not_equal(source_ids, PAD_ID), axis=1)
        rows = tf.cast(tf.where(nonempty)[:, 0], tf.int32)
        picked = tf.gather(source_ids, rows)

        def skip():
            return (tf.zeros([0, length], tf.int32), tf.zeros([0], tf.int32),
                    tf.zeros([0], tf.float32), tf.zeros([0, length, width], tf.float32))

        def run():
            tokens, lengths, scores, attention = self._search(picked)
            return (tf.cast(tokens, tf.int32), tf.cast(lengths, tf.int32),
                    tf.cast(scores, tf.float32), tf.cast(attention, tf.float32))

        tokens, lengths, scores, attention = tf.cond(tf.size(rows) > 0, run, skip)
        index = rows[:, None]
        return {
            "tokens": tf.scatter_nd(index, tokens, [batch, length]),
            "lengths": tf.scatter_nd(index, lengths, [batch]),
            "scores": tf.scatter_nd(index, scores, [batch]),
            "attention": tf.scatter_nd(index, attention, [batch, length, width]),
        }

    # ---------------------------------------------------------------- text
    def tokenize(self, texts):
        texts = tf.convert_to_tensor(texts, tf.string)
        blank = tf.strings.regex_full_match(texts, BLANK_PATTERN)
        texts = tf.where(blank, tf.zeros_like(texts), texts)  # "" -> no token
        ids = self.model.source_tokenizer.tokenize(texts)
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=PAD_ID)
        return at_least_one_column(tf.cast(ids, tf.int32))

    def detokenize(self, target_ids):
        return self.model.target_tokenizer.detokenize(tf.cast(target_ids, tf.int32))

    def translate(self, texts):
        source_ids = self.tokenize(texts)
        outputs = self.decode_ids(source_ids)
        translations = self.detokenize(outputs["tokens"])
        empty = tf.logical_not(tf.reduce_any(tf.not_equal(source_ids, PAD_ID), axis=1))
        outputs["translations"] = tf.where(empty, tf.zeros_like(translations),
                                           translations)
        return outputs

    # ---------------------------------------------------------------- step API
    def encode(self, source_ids):
        source_ids = at_least_one_column(tf.cast(source_ids, tf.int32))
        return flatten_state(self.model.encode(source_ids))

    def decode_step(self, token_ids, flat_state):
        state = unflatten_state(flat_state, self.template)
        logits, new_state, attention = self.model.decoder.step(
            tf.cast(token_ids, tf.int32), state)
        outputs = {"logits": tf.cast(logits, tf.float32),
                   "attention": tf.cast(attention, tf.float32)}
        for name, tensor in flatten_state(new_state).items():
            outputs[name] = tf.identity(tensor)
        return outputs


def check_ids_in_range(ids, vocabulary_size, name):
    ids = tf.cast(ids, tf.int32)
    checks = [
        tf.debugging.assert_non_negative(ids, message=f"`{name}` holds negative ids"),
        tf.debugging.assert_less(
            ids, tf.constant(vocabulary_size, tf.int32),
            message=f"`{name}` holds ids >= the vocabulary size {vocabulary_size}"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(ids)


class PortableRNNs:
    """Traces Keras LSTM/GRU layers without their cuDNN kernel (restored on exit).

    On a machine with a GPU, Keras' TensorFlow backend traces `CudnnRNNV3` for
    whole-sequence LSTM/GRU layers (the encoder); that op has no CPU kernel, so a
    SavedModel traced there would fail on a CPU-only server. `use_cudnn=False`
    while the endpoints are traced keeps the portable `tf.while_loop` kernels.
    """

    def __init__(self, model):
        self.layers = [layer for layer in _keras_internals.sublayers(model)
                       if hasattr(layer, "use_cudnn")]
        self.saved = []

    def __enter__(self):
        self.saved = [layer.use_cudnn for layer in self.layers]
        for layer in self.layers:
            layer.use_cudnn = False
        return self

    def __exit__(self, *exc_info):
        for layer, value in zip(self.layers, self.saved):
            layer.use_cudnn = value
        return False
