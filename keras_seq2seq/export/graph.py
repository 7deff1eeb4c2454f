"""The functions behind the export's endpoints (plain Python, traced by
`keras.export.ExportArchive`): blank handling, tokenization, search, the step API."""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

import tensorflow as tf  # noqa: E402

from keras_seq2seq import _keras_internals  # noqa: E402
from keras_seq2seq.constants import END_ID, PAD_ID, XLA_MAX_SOURCE_LENGTH  # noqa: E402
from keras_seq2seq.decoding.common import pad_to_length_bucket  # noqa: E402
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
    """The functions behind the endpoints (plain Python, traced by `ExportArchive`).

    Args:
        model: the `Seq2Seq` (or `Ensemble`).
        method: "greedy" or "beam".
        max_length: int, the output buffer.
        options: the decoder options fixed in the export.
        jit_compile: run the search of a single-sentence call (one non-blank row of
            at most `constants.XLA_MAX_SOURCE_LENGTH` ids) XLA-compiled, its
            source padded to a length bucket (`pad_to_length_bucket`); other calls
            run the graph.
            Defaults to False.
    """

    def __init__(self, model, method, max_length, options, jit_compile=False):
        self.model = model
        self.method = method
        self.max_length = max_length
        self.options = tuple(sorted(options.items()))
        self.template = probe_state(model)  # the nest structure of the state
        self.jit_compile = bool(jit_compile)
        self._compiled = None
        # The search and the forced decoding, each one `tf.function` that the text
        # and the id endpoints both call: traced once for both (and once again in
        # the save), not once in each endpoint.
        ids_spec = tf.TensorSpec([None, None], tf.int32)
        self.decode_ids = tf.function(self._decode_ids, input_signature=[ids_spec],
                                      autograph=False)
        self.score_ids = tf.function(self._score_ids, input_signature=[ids_spec] * 2,
                                     autograph=False)
        self._n_best_functions = {}

    # ---------------------------------------------------------------- search
    def _search(self, source_ids):
        """Decodes non-empty rows: `(tokens, lengths, scores, attention)`.

        Runs `model.search`, the very code of `model.generate` /
        `model.translate`, with the options fixed at export (XLA-compiled for a
        single sentence when `jit_compile`).
        """
        if not self.jit_compile:
            return self._run_search(source_ids)
        batch, width = tf.shape(source_ids)[0], tf.shape(source_ids)[1]
        single = tf.logical_and(tf.equal(batch, 1), width <= XLA_MAX_SOURCE_LENGTH)

        def compiled():
            tokens, lengths, scores, attention = self.compiled_search(
                pad_to_length_bucket(source_ids))
            return tokens, lengths, scores, attention[:, :, :width]

        return tf.cond(single, compiled, lambda: self._run_search(source_ids))

    def compiled_search(self, source_ids):
        """`_run_search` in a `tf.function(jit_compile=True)` (made on first use)."""
        if self._compiled is None:
            self._compiled = tf.function(self._run_search, jit_compile=True,
                                         autograph=False)
        return self._compiled(source_ids)

    def _run_search(self, source_ids):
        """`model.search` with the export's options: `(tokens, lengths, scores,
        attention)`, the best hypothesis of a beam search."""
        result = self.model.search(source_ids, self.max_length, self.method,
                                   **dict(self.options))
        if self.method == "beam":  # the best hypothesis
            return (result.ids[:, 0], result.lengths[:, 0], result.scores[:, 0],
                    result.attention[:, 0])
        return result.ids, result.lengths, result.scores, result.attention

    def _rows_with_tokens(self, source_ids, run, outputs):
        """Runs `run` on the rows that hold a real token; other rows get a fill.

        Args:
            source_ids: int32 `(B, Ts)`, at least one column.
            run: `(picked_ids) -> {name: tensor}`, each with the picked rows first.
            outputs: `{name: (shape_after_batch, dtype, fill)}` of `run`'s outputs.

        Returns:
            `{name: tensor (B, *shape_after_batch)}`: `run`'s rows in place, `fill`
            in the rows of blank sources.
        """
        batch = tf.shape(source_ids)[0]
        nonempty = tf.reduce_any(tf.not_equal(source_ids, PAD_ID), axis=1)
        rows = tf.cast(tf.where(nonempty)[:, 0], tf.int32)
        picked = tf.gather(source_ids, rows)

        def skip():
            return {name: tf.zeros(tf.stack([0, *shape]), dtype)
                    for name, (shape, dtype, _) in outputs.items()}

        def found():
            values = run(picked)
            return {name: tf.cast(values[name], dtype)
                    for name, (_, dtype, _) in outputs.items()}

        values = tf.cond(tf.size(rows) > 0, found, skip)
        return {name: tf.tensor_scatter_nd_update(
                    tf.fill(tf.stack([batch, *shape]), tf.cast(fill, dtype)),
                    rows[:, None], values[name])
                for name, (shape, dtype, fill) in outputs.items()}

    def _decode_ids(self, source_ids):
        """Search over the rows that hold a real token; other rows stay empty
        (`decode_ids`, its `tf.function`)."""
        source_ids = at_least_one_column(tf.cast(source_ids, tf.int32))
        length, width = self.max_length, tf.shape(source_ids)[1]

        def run(picked):
            return dict(zip(("tokens", "lengths", "scores", "attention"),
                            self._search(picked)))

        return self._rows_with_tokens(source_ids, run, {
            "tokens": ([length], tf.int32, 0),
            "lengths": ([], tf.int32, 0),
            "scores": ([], tf.float32, 0.0),
            "attention": ([length, width], tf.float32, 0.0),
        })

    def n_best_ids(self, source_ids, k):
        """The `k` best hypotheses of the export's beam search, per source row (one
        `tf.function` for each `k`, shared by the text and the id endpoints).

        Returns:
            `tokens (B, k, L)`, `lengths (B, k)`, `scores (B, k)` (-inf where a
            hypothesis is missing: all of a blank source's).
        """
        if k not in self._n_best_functions:
            self._n_best_functions[k] = tf.function(
                lambda ids: self._n_best_ids(ids, k),
                input_signature=[tf.TensorSpec([None, None], tf.int32)], autograph=False)
        return self._n_best_functions[k](tf.cast(source_ids, tf.int32))

    def _n_best_ids(self, source_ids, k):
        source_ids = at_least_one_column(tf.cast(source_ids, tf.int32))
        length = self.max_length

        def run(picked):
            result = self.model.search(picked, length, "beam",
                                       **dict(self.options, num_return=k))
            return {"tokens": result.ids, "lengths": result.lengths,
                    "scores": result.scores}

        return self._rows_with_tokens(source_ids, run, {
            "tokens": ([k, length], tf.int32, 0),
            "lengths": ([k], tf.int32, 0),
            "scores": ([k], tf.float32, float("-inf")),
        })

    def _score_ids(self, source_ids, target_ids):
        """Forced decoding of given target ids (`models.scoring.forced_scores`;
        `score_ids`, its `tf.function`)."""
        from keras_seq2seq.models.scoring import forced_scores

        source_ids = at_least_one_column(tf.cast(source_ids, tf.int32))
        return forced_scores(self.model, source_ids, target_ids)

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

    def source_pieces(self, source_ids):
        """The source tokens as strings `(B, Ts)` ("" at padding), and the lengths."""
        pieces = self.model.source_tokenizer.id_to_token(source_ids)
        real = tf.not_equal(source_ids, PAD_ID)
        return (tf.where(real, pieces, ""),
                tf.reduce_sum(tf.cast(real, tf.int32), axis=1))

    def target_pieces(self, target_ids, lengths):
        """The target tokens as strings ("" after `lengths`)."""
        pieces = self.model.target_tokenizer.id_to_token(target_ids)
        steps = tf.shape(target_ids)[-1]
        return tf.where(tf.sequence_mask(lengths, steps), pieces, "")

    def translate(self, texts):
        source_ids = self.tokenize(texts)
        outputs = self.decode_ids(source_ids)
        translations = self.detokenize(outputs["tokens"])
        empty = tf.logical_not(tf.reduce_any(tf.not_equal(source_ids, PAD_ID), axis=1))
        outputs["translations"] = tf.where(empty, tf.zeros_like(translations),
                                           translations)
        outputs["source_tokens"], outputs["source_lengths"] = self.source_pieces(
            source_ids)
        # The rows of `attention`: the output tokens, with [END] when produced.
        has_end = tf.equal(tf.gather(outputs["tokens"], tf.minimum(
            outputs["lengths"], self.max_length - 1), batch_dims=1), END_ID)
        shown = outputs["lengths"] + tf.cast(
            tf.logical_and(has_end, outputs["lengths"] < self.max_length), tf.int32)
        outputs["target_tokens"] = self.target_pieces(outputs["tokens"], shown)
        return outputs

    def n_best(self, texts, k):
        """`translations (B, k)` strings, `scores (B, k)`, `tokens`, `lengths`."""
        source_ids = self.tokenize(texts)
        outputs = self.n_best_ids(source_ids, k)
        tokens = outputs["tokens"]
        flat = tf.reshape(tokens, [-1, tf.shape(tokens)[-1]])
        translations = tf.reshape(self.detokenize(flat), tf.shape(tokens)[:2])
        missing = tf.equal(outputs["scores"], float("-inf"))
        outputs["translations"] = tf.where(missing, tf.zeros_like(translations),
                                           translations)
        return outputs

    def score(self, sources, targets):
        """Forced decoding of string pairs: log-probabilities, tokens, attention."""
        source_ids = self.tokenize(sources)
        targets = tf.convert_to_tensor(targets, tf.string)
        blank = tf.strings.regex_full_match(targets, BLANK_PATTERN)
        target_ids = self.model.target_tokenizer.tokenize(
            tf.where(blank, tf.zeros_like(targets), targets))
        if isinstance(target_ids, tf.RaggedTensor):
            target_ids = target_ids.to_tensor(default_value=PAD_ID)
        outputs = self.score_ids(source_ids, tf.cast(target_ids, tf.int32))
        outputs["source_tokens"], outputs["source_lengths"] = self.source_pieces(
            source_ids)
        outputs["target_tokens"] = self.target_pieces(outputs.pop("labels"),
                                                      outputs["lengths"])
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
        members = getattr(model, "members", [model])  # an Ensemble's models
        self.layers = [layer for member in members
                       for layer in _keras_internals.sublayers(member)
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
