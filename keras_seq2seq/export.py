"""SavedModel export of a trained `Seq2Seq` translator, and a loader for it.

`export_translator(model, path)` writes a TensorFlow SavedModel (with
`keras.export.ExportArchive`) that translates strings with no Python code of this
package: tokenization, the encoder, the decoding loop (greedy, or beam search of a
width fixed at export) and detokenization all run in the graph. A consumer needs only
`tensorflow` and `tensorflow-text` (whose ops the tokenizers use), and must
`import tensorflow_text` before `tf.saved_model.load` so that those ops are
registered. See `docs/export.md`.

Endpoints (each is also a serving signature of the same name):

* `serving_default`, `translate`: `texts` tf.string `(B,)` -> `translations`
  tf.string `(B,)`, `tokens` int32 `(B, L)`, `lengths` int32 `(B,)`, `scores`
  float32 `(B,)`, `attention` float32 `(B, L, Ts)`. `L` is the export's
  `max_length`; `tokens` keeps `[END]` and is 0 after it (as `model.generate`).
* `translate_ids`: `source_ids` int32 `(B, Ts)` -> `tokens`, `lengths`, `scores`,
  `attention` (no text).
* `tokenize`: `texts` -> `source_ids` int32 `(B, Ts)`; `detokenize`: `target_ids`
  int32 `(B, T)` -> `texts`.
* `encode`: `source_ids` -> the flat decoder state; `decode_step`: `token_ids` int32
  `(B,)` and the flat state -> `logits` float32 `(B, V)`, `attention` float32
  `(B, Ts)` and the next flat state (same names). For clients running their own
  search. State layout: `state_layout(model)` / `docs/export.md`.

Empty and whitespace-only strings (Python's `str.isspace` characters) translate to
`""` with length 0, score 0 and zero attention, as `model.translate` does; their rows
never enter the decoder. A source row of `translate_ids` with no non-pad id is
treated the same way.

Only core TensorFlow ops and tensorflow-text's are used: every loop is an explicit
`tf.while_loop` (endpoints are traced without autograph) and beam search reorders
with `tf.gather` (no `GatherTree`, no tensorflow-addons).
"""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

import os  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_seq2seq import _keras_internals, atomic  # noqa: E402
from keras_seq2seq.checks import check_positive_int  # noqa: E402
from keras_seq2seq.constants import PAD_ID  # noqa: E402

# The characters for which Python's `str.isspace()` is true (so `"".strip()` drops
# them), as one RE2 class: a string made only of these translates to "".
_PY_WHITESPACE = (
    r"\t\n\x{0B}\f\r\x{1C}-\x{1F} \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}"
    r"\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
)
BLANK_PATTERN = f"[{_PY_WHITESPACE}]*"

# `saved_model_cli` has no flag to load op libraries, and the tokenizers' graph uses
# tensorflow-text ops: this `python -c` program registers them, then runs the CLI.
# Usage: python -c "$SAVED_MODEL_CLI_WITH_TF_TEXT" run --dir PATH --tag_set serve ...
SAVED_MODEL_CLI_WITH_TF_TEXT = (
    "import sys, tensorflow_text; "
    "from tensorflow.python.tools.saved_model_cli import main; "
    "sys.argv[0] = 'saved_model_cli'; sys.exit(main())"
)

__all__ = [
    "BLANK_PATTERN",
    "SAVED_MODEL_CLI_WITH_TF_TEXT",
    "Translator",
    "export_translator",
    "load_translator",
    "state_layout",
]


# --------------------------------------------------------------------------- state


def _flatten_state(state, prefix=""):
    """The decoder state (a nest of dicts/lists) -> a flat dict of named tensors.

    Names join the keys and list indices with "_": `rnn` (a list over layers of
    lists of states) gives `rnn_0_0`, `rnn_0_1`, ...; dict keys keep the order of
    `AttentionDecoder.initial_step_state`. Generic, so that a new entry of the
    decoder's state is exported as it is.
    """
    flat = {}
    if isinstance(state, dict):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        return {prefix: state}
    for key, value in items:
        flat.update(_flatten_state(value, f"{prefix}_{key}" if prefix else str(key)))
    return flat


def _unflatten_state(flat, template, prefix=""):
    """Inverse of `_flatten_state`, with the nest structure of `template`."""
    if isinstance(template, dict):
        return {key: _unflatten_state(flat, value, f"{prefix}_{key}" if prefix else key)
                for key, value in template.items()}
    if isinstance(template, (list, tuple)):
        return [_unflatten_state(flat, value, f"{prefix}_{i}" if prefix else str(i))
                for i, value in enumerate(template)]
    return flat[prefix]


def _probe_state(model, source_length=1):
    """The state of a 1-example batch: the structure, names, dtypes and shapes."""
    probe = tf.ones([1, source_length], tf.int32)  # id 1 ([UNK]) is in every vocabulary
    return model.encode(probe)


def _state_specs(model):
    """`{name: tf.TensorSpec}` of the flat decoder state.

    The batch dimension is unknown, and so is every dimension that follows the
    source length (found by encoding sources of 1 and 2 tokens).
    """
    one = _flatten_state(_probe_state(model, 1))
    two = _flatten_state(_probe_state(model, 2))
    specs = {}
    for name, tensor in one.items():
        shape = tf.convert_to_tensor(tensor).shape.as_list()
        other = tf.convert_to_tensor(two[name]).shape.as_list()
        shape = [None] + [a if a == b else None for a, b in zip(shape[1:], other[1:])]
        specs[name] = tf.TensorSpec(shape, tensor.dtype, name=name)
    return specs


def state_layout(model):
    """Describes the flat decoder state of the `encode` / `decode_step` endpoints.

    Args:
        model: a built `Seq2Seq`.

    Returns:
        A dict `{name: (dtype_name, shape)}` in the order of
        `AttentionDecoder.initial_step_state`, `None` for unknown dimensions (the
        batch, and the source length `Ts`).
    """
    return {name: (spec.dtype.name, tuple(spec.shape.as_list()))
            for name, spec in _state_specs(model).items()}


# --------------------------------------------------------------------------- graph


def _at_least_one_column(ids):
    """Pads int ids `(B, Ts)` with one `[PAD]` column when `Ts == 0`."""
    missing = tf.maximum(1 - tf.shape(ids)[1], 0)
    return tf.pad(ids, [[0, 0], [0, missing]], constant_values=PAD_ID)


class _TranslatorGraph:
    """The functions behind the endpoints (plain Python, traced by `ExportArchive`)."""

    def __init__(self, model, method, max_length, options):
        self.model = model
        self.method = method
        self.max_length = max_length
        self.options = tuple(sorted(options.items()))
        self.template = _probe_state(model)  # the nest structure of the state

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
        source_ids = _at_least_one_column(tf.cast(source_ids, tf.int32))
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
        return _at_least_one_column(tf.cast(ids, tf.int32))

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
        source_ids = _at_least_one_column(tf.cast(source_ids, tf.int32))
        return _flatten_state(self.model.encode(source_ids))

    def decode_step(self, token_ids, flat_state):
        state = _unflatten_state(flat_state, self.template)
        logits, new_state, attention = self.model.decoder.step(
            tf.cast(token_ids, tf.int32), state)
        outputs = {"logits": tf.cast(logits, tf.float32),
                   "attention": tf.cast(attention, tf.float32)}
        for name, tensor in _flatten_state(new_state).items():
            outputs[name] = tf.identity(tensor)
        return outputs


def _check_ids_in_range(ids, vocabulary_size, name):
    ids = tf.cast(ids, tf.int32)
    checks = [
        tf.debugging.assert_non_negative(ids, message=f"`{name}` holds negative ids"),
        tf.debugging.assert_less(
            ids, tf.constant(vocabulary_size, tf.int32),
            message=f"`{name}` holds ids >= the vocabulary size {vocabulary_size}"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(ids)


# --------------------------------------------------------------------------- export


class _PortableRNNs:
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



def _build_archive(model, graph, has_text):
    """The `ExportArchive` with every endpoint; returns `(archive, state_specs)`."""
    source_size = model.source_vocabulary_size
    target_size = model.target_vocabulary_size
    archive = keras.export.ExportArchive()
    # The model's weights: the archive finds the endpoints' variables itself; these
    # collections also expose them as `variables` etc. on the loaded object. (The
    # model is not walked with `archive.track(model)`: its cache of tf.functions is
    # a dict with tuple keys, which SavedModel cannot track.)
    archive.add_variable_collection("variables", list(model.variables))
    archive.add_variable_collection("trainable_variables",
                                    list(model.trainable_variables))
    archive.add_variable_collection("non_trainable_variables",
                                    list(model.non_trainable_variables))
    if has_text:
        # Their lookup tables (and sentencepiece models) are resources captured by
        # the endpoints: tracking the layers puts them in the SavedModel.
        archive.track(model.source_tokenizer)
        archive.track(model.target_tokenizer)

    texts_spec = tf.TensorSpec([None], tf.string, name="texts")
    source_spec = tf.TensorSpec([None, None], tf.int32, name="source_ids")
    target_spec = tf.TensorSpec([None, None], tf.int32, name="target_ids")
    token_spec = tf.TensorSpec([None], tf.int32, name="token_ids")
    state_specs = _state_specs(model)
    state_names = list(state_specs)

    def translate(texts):
        return graph.translate(texts)

    def translate_ids(source_ids):
        return graph.decode_ids(
            _check_ids_in_range(source_ids, source_size, "source_ids"))

    def tokenize(texts):
        return {"source_ids": graph.tokenize(texts)}

    def detokenize(target_ids):
        ids = _check_ids_in_range(target_ids, target_size, "target_ids")
        return {"texts": graph.detokenize(ids)}

    def encode(source_ids):
        return graph.encode(_check_ids_in_range(source_ids, source_size, "source_ids"))

    def decode_step(token_ids, *state):
        ids = _check_ids_in_range(token_ids, target_size, "token_ids")
        return graph.decode_step(ids, dict(zip(state_names, state)))

    if has_text:
        archive.add_endpoint("serving_default", translate, [texts_spec])
        archive.add_endpoint("translate", translate, [texts_spec])
    else:
        archive.add_endpoint("serving_default", translate_ids, [source_spec])
    archive.add_endpoint("translate_ids", translate_ids, [source_spec])
    if has_text:
        archive.add_endpoint("tokenize", tokenize, [texts_spec])
        archive.add_endpoint("detokenize", detokenize, [target_spec])
    archive.add_endpoint("encode", encode, [source_spec])
    archive.add_endpoint("decode_step", decode_step,
                         [token_spec] + [state_specs[name] for name in state_names])
    return archive, state_specs


_GREEDY_OPTIONS = ("min_length", "max_length_ratio", "max_length_offset")
_BEAM_OPTIONS = _GREEDY_OPTIONS + ("length_penalty", "coverage_penalty")


def export_translator(model, path, beam_width=None, max_length=None, overwrite=False,
                      verbose=False, **options):
    """Exports a `Seq2Seq` as a self-contained, string-in/string-out SavedModel.

    The export is written into a temporary directory next to `path` and renamed to
    `path` only once complete, so a failure leaves nothing at `path`.

    Args:
        model: a built `keras_seq2seq.Seq2Seq`. With both `source_tokenizer` and
            `target_tokenizer` set, the text endpoints (`serving_default`,
            `translate`, `tokenize`, `detokenize`) are exported; without them only
            the id endpoints are, and `serving_default` is `translate_ids`.
        path: the SavedModel directory to create (its parent is created if needed).
        beam_width: None (default) for greedy decoding, or an int >= 1: `translate`,
            `serving_default` and `translate_ids` then run beam search of this fixed
            width and return its best hypothesis, exactly as
            `model.translate(texts, method="beam", beam_width=beam_width, ...)`.
        max_length: output buffer in tokens, the `L` of the outputs. Defaults to
            `model.max_decode_length`.
        overwrite: replace an existing `path`. Defaults to False
            (`FileExistsError`).
        verbose: print the endpoints as Keras does. Defaults to False.
        **options: decoder options fixed in the export, as in `model.generate`:
            `min_length`, `max_length_ratio`, `max_length_offset`, and with
            `beam_width` also `length_penalty`, `coverage_penalty`.

    Returns:
        The absolute path written.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
        ValueError: invalid arguments.
    """
    from keras_seq2seq.models import Seq2Seq

    if not isinstance(model, Seq2Seq):
        raise ValueError(
            "export_translator expects a keras_seq2seq.Seq2Seq model. Received: "
            f"{type(model).__name__}")
    beam_width = check_positive_int("beam_width", beam_width, allow_none=True)
    max_length = check_positive_int(
        "max_length", model.max_decode_length if max_length is None else max_length)
    allowed = _GREEDY_OPTIONS if beam_width is None else _BEAM_OPTIONS
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"Unknown option(s) {unknown} for {'greedy' if beam_width is None else 'beam'}"
            f" export. Valid: {list(allowed)}" + (
                "; length_penalty and coverage_penalty need beam_width"
                if beam_width is None else ""))
    method = "greedy" if beam_width is None else "beam"
    if beam_width is not None:
        options = dict(options, beam_width=beam_width)
    path = atomic.check_destination(path, overwrite, what="export")

    graph = _TranslatorGraph(model, method, max_length, options)
    has_text = (getattr(model, "source_tokenizer", None) is not None
                and getattr(model, "target_tokenizer", None) is not None)

    def write(temporary):
        with _PortableRNNs(model):  # the endpoints are traced in write_out
            archive, state_specs = _build_archive(model, graph, has_text)
            archive.write_out(temporary, verbose=verbose)
        _write_metadata(temporary, model, method, beam_width, max_length,
                        state_specs, has_text, options)

    return atomic.write_directory(path, write, overwrite=True)


_METADATA_FILE = "keras_seq2seq_export.json"


def _write_metadata(directory, model, method, beam_width, max_length, state_specs,
                    has_text, options):
    """A small JSON file in `assets.extra/`: what was exported (for humans/tools)."""
    import json

    from keras_seq2seq import __version__

    extra = os.path.join(directory, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    metadata = {
        "format": "keras_seq2seq translator",
        "keras_seq2seq_version": __version__,
        "decoding": method,
        "beam_width": beam_width,
        "options": {key: value for key, value in sorted(options.items())},
        "max_length": max_length,
        "text_endpoints": bool(has_text),
        "source_vocabulary_size": int(model.source_vocabulary_size),
        "target_vocabulary_size": int(model.target_vocabulary_size),
        "state_layout": {name: {"dtype": spec.dtype.name,
                                "shape": spec.shape.as_list()}
                         for name, spec in state_specs.items()},
    }
    with open(os.path.join(extra, _METADATA_FILE), "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2)


# --------------------------------------------------------------------------- loading


class Translator:
    """A loaded translator export (see `load_translator`).

    Attributes:
        path: the SavedModel directory.
        module: the object `tf.saved_model.load` returned (its endpoints are
            methods: `module.translate(texts)`, `module.encode(source_ids)`, ...).
        signatures: its serving signatures (keyword arguments, dict outputs).
        metadata: the export's `assets.extra/keras_seq2seq_export.json` as a dict
            ({} when absent).
    """

    def __init__(self, path, module, metadata):
        self.path = path
        self.module = module
        self.signatures = module.signatures
        self.metadata = metadata

    def _endpoint(self, name):
        function = getattr(self.module, name, None)
        if function is None:
            raise ValueError(
                f"The SavedModel at {self.path!r} has no {name!r} endpoint "
                f"(signatures: {sorted(self.signatures)}).")
        return function

    def translate_full(self, texts):
        """All outputs of the `translate` endpoint as numpy arrays.

        Args:
            texts: a list of str (or a 1-D string array / tensor).

        Returns:
            A dict of numpy arrays: `translations` (bytes), `tokens`, `lengths`,
            `scores`, `attention`.
        """
        if not isinstance(texts, (tf.Tensor, np.ndarray)):
            texts = list(texts)
        texts = tf.reshape(tf.convert_to_tensor(texts, dtype=tf.string), [-1])
        outputs = self._endpoint("translate")(texts)
        return {name: value.numpy() for name, value in outputs.items()}

    def translate(self, texts):
        """Translates a str or a list of str.

        Returns:
            A list of str (one str when `texts` is a str).
        """
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        if not batch:
            return []
        translations = self.translate_full(batch)["translations"]
        decoded = [value.decode("utf-8") for value in translations.tolist()]
        return decoded[0] if single else decoded

    __call__ = translate

    def __repr__(self):
        return f"Translator({self.path!r}, signatures={sorted(self.signatures)})"


def load_translator(path):
    """Loads an export of `export_translator` (registers tensorflow-text ops first).

    Args:
        path: the SavedModel directory.

    Returns:
        A `Translator`: `translator.translate(["..."])` -> list of str.

    Raises:
        FileNotFoundError: `path` does not exist (an `OSError` naming it).
        ValueError: `path` is not a SavedModel directory, or its files are
            truncated / corrupted (the message names the path and the error).
    """
    import json

    import tensorflow_text  # noqa: F401  (registers the tokenizers' ops)

    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No translator export (SavedModel directory) at "
                                   "this path", path)
    if not os.path.isdir(path):
        raise ValueError(f"{path!r} is a file, not a SavedModel directory.")
    if not any(os.path.isfile(os.path.join(path, name))
               for name in ("saved_model.pb", "saved_model.pbtxt")):
        raise ValueError(
            f"{path!r} is not a SavedModel directory: it has no saved_model.pb "
            f"(it holds: {sorted(os.listdir(path))[:10]}).")
    try:
        module = tf.saved_model.load(path)
    except Exception as error:  # noqa: BLE001 - re-raised with the path
        message = str(error).strip().splitlines()
        summary = message[0] if message else ""
        raise ValueError(
            f"Could not load the SavedModel at {path!r}: its files look truncated or "
            f"corrupted ({type(error).__name__}: {summary[:300]}). Export it again."
        ) from None
    metadata = {}
    metadata_path = os.path.join(path, "assets.extra", _METADATA_FILE)
    if os.path.isfile(metadata_path):
        try:
            with open(metadata_path, encoding="utf-8") as f:
                metadata = json.load(f)
        except (OSError, ValueError):
            metadata = {}
    return Translator(path, module, metadata)
