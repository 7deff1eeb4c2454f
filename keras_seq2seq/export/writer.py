"""`export_translator`: a `Seq2Seq` as a self-contained SavedModel (see the package
docstring, `keras_seq2seq.export`)."""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

import json  # noqa: E402
import os  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_seq2seq import atomic  # noqa: E402
from keras_seq2seq.checks import check_positive_int  # noqa: E402
from keras_seq2seq.constants import XLA_LENGTH_BUCKET  # noqa: E402
from keras_seq2seq.export.graph import (  # noqa: E402
    PortableRNNs,
    TranslatorGraph,
    check_ids_in_range,
)
from keras_seq2seq.export.loader import METADATA_FILE  # noqa: E402
from keras_seq2seq.export.state import state_specs as flat_state_specs  # noqa: E402

__all__ = ["export_translator"]


def _build_archive(model, graph, has_text, k):
    """The `ExportArchive` with every endpoint; returns `(archive, state_specs)`.

    `k` is the n-best endpoints' hypotheses per source (None: no such endpoints).
    """
    source_size = model.source_vocabulary_size
    target_size = model.target_vocabulary_size
    archive = keras.export.ExportArchive()
    # The model's weights: the archive finds the endpoints' variables itself; these
    # collections also expose them as `variables` etc. on the loaded object. (The
    # model is not walked with `archive.track(model)`: its cache of tf.functions is
    # a dict with tuple keys, which SavedModel cannot track.)
    # The collections hold the backend's tf.Variables, the very objects the endpoints
    # capture, so each weight is saved once (Keras variables would be saved a second
    # time, under their own checkpoint keys).
    archive.add_variable_collection("variables", _tf_variables(model.variables))
    archive.add_variable_collection("trainable_variables",
                                    _tf_variables(model.trainable_variables))
    archive.add_variable_collection("non_trainable_variables",
                                    _tf_variables(model.non_trainable_variables))
    if has_text:
        # Their lookup tables (and sentencepiece models) are resources captured by
        # the endpoints: tracking the layers puts them in the SavedModel.
        archive.track(model.source_tokenizer)
        archive.track(model.target_tokenizer)

    texts_spec = tf.TensorSpec([None], tf.string, name="texts")
    source_spec = tf.TensorSpec([None, None], tf.int32, name="source_ids")
    target_spec = tf.TensorSpec([None, None], tf.int32, name="target_ids")
    token_spec = tf.TensorSpec([None], tf.int32, name="token_ids")
    state_specs = flat_state_specs(model)
    state_names = list(state_specs)

    def translate(texts):
        return graph.translate(texts)

    def translate_ids(source_ids):
        return graph.decode_ids(
            check_ids_in_range(source_ids, source_size, "source_ids"))

    def score(sources, targets):
        return graph.score(sources, targets)

    def score_ids(source_ids, target_ids):
        return graph.score_ids(
            check_ids_in_range(source_ids, source_size, "source_ids"),
            check_ids_in_range(target_ids, target_size, "target_ids"))

    def n_best(texts):
        return graph.n_best(texts, k)

    def n_best_ids(source_ids):
        return graph.n_best_ids(
            check_ids_in_range(source_ids, source_size, "source_ids"), k)

    def tokenize(texts):
        return {"source_ids": graph.tokenize(texts)}

    def detokenize(target_ids):
        ids = check_ids_in_range(target_ids, target_size, "target_ids")
        return {"texts": graph.detokenize(ids)}

    def encode(source_ids):
        return graph.encode(check_ids_in_range(source_ids, source_size, "source_ids"))

    def decode_step(token_ids, *state):
        ids = check_ids_in_range(token_ids, target_size, "token_ids")
        return graph.decode_step(ids, dict(zip(state_names, state)))

    functions = {}

    def add(name, fn, specs):
        # One tf.function a Python function: `serving_default` and `translate` share
        # theirs, so it is traced once before the save and once in it (tf.saved_model
        # traces every function again in its save context), not twice each.
        if fn not in functions:
            functions[fn] = tf.function(fn, input_signature=specs, autograph=False)
            functions[fn].get_concrete_function()  # ExportArchive wants it traced
        archive.add_endpoint(name, functions[fn])

    if has_text:
        add("serving_default", translate, [texts_spec])
        add("translate", translate, [texts_spec])
    else:
        add("serving_default", translate_ids, [source_spec])
    add("translate_ids", translate_ids, [source_spec])
    add("score_ids", score_ids, [source_spec, target_spec])
    if k:
        add("n_best_ids", n_best_ids, [source_spec])
    if has_text:
        add("score", score, [tf.TensorSpec([None], tf.string, name="sources"),
                             tf.TensorSpec([None], tf.string, name="targets")])
        if k:
            add("n_best", n_best, [texts_spec])
        add("tokenize", tokenize, [texts_spec])
        add("detokenize", detokenize, [target_spec])
    add("encode", encode, [source_spec])
    add("decode_step", decode_step, [token_spec] + [state_specs[name] for name in state_names])
    return archive, state_specs


def _tf_variables(variables):
    """The `tf.Variable` behind each Keras variable (`.value` outside autocasting)."""
    return [v.value if isinstance(v, keras.Variable) else v for v in variables]


_GREEDY_OPTIONS = ("min_length", "max_length_ratio", "max_length_offset")
_BEAM_OPTIONS = _GREEDY_OPTIONS + ("length_penalty", "coverage_penalty")


def export_translator(model, path, beam_width=None, max_length=None, n_best=None,
                      overwrite=False, verbose=False, jit_compile="auto", **options):
    """Exports a `Seq2Seq` as a self-contained, string-in/string-out SavedModel.

    The export is written into a temporary directory next to `path` and renamed to
    `path` only once complete, so a failure leaves nothing at `path`.

    Args:
        model: a built `keras_seq2seq.Seq2Seq`, or an `Ensemble` of them (one
            SavedModel holding every member's weights, decoding as the ensemble
            does). With both `source_tokenizer` and
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
        n_best: with `beam_width`, the hypotheses per source `K` of the `n_best`
            and `n_best_ids` endpoints (at most `beam_width`). Defaults to
            `beam_width`; greedy exports have no n-best endpoints.
        overwrite: replace an existing `path`. Defaults to False
            (`FileExistsError`).
        verbose: print the endpoints as Keras does. Defaults to False.
        jit_compile: True, False or "auto": decode single-sentence calls of
            `translate`, `serving_default` and `translate_ids` (one non-blank
            source of at most 256 ids) with an XLA-compiled search. It returns what
            the graph returns (the source is padded to a multiple of 8 ids, which
            the attention masks) about twice as fast on a CPU
            (`benchmarks/README.md`); the first call of each source-length bucket
            of 8 ids compiles (about a second). Calls of several sentences, and the
            n-best, score and step endpoints, always run the graph. "auto" (the
            default) compiles once at export to check, and falls back to the graph
            with a warning where XLA cannot compile the model; True raises
            instead.
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
    from keras_seq2seq.models.ensemble import Ensemble

    if not isinstance(model, (Seq2Seq, Ensemble)):
        raise ValueError(
            "export_translator expects a keras_seq2seq.Seq2Seq model or a "
            f"keras_seq2seq.models.ensemble.Ensemble. Received: {type(model).__name__}")
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
    n_best = check_positive_int("n_best", n_best, allow_none=True)
    if n_best is not None and (beam_width is None or n_best > beam_width):
        raise ValueError(
            f"`n_best` ({n_best}) needs a beam at least as wide: pass beam_width >= "
            f"{n_best}. Received: beam_width={beam_width}")
    if beam_width is not None:
        options = dict(options, beam_width=beam_width)
        n_best = beam_width if n_best is None else n_best
    if not (isinstance(jit_compile, bool) or jit_compile == "auto"):
        raise ValueError('`jit_compile` must be True, False or "auto". Received: '
                         f"jit_compile={jit_compile!r}")
    path = atomic.check_destination(path, overwrite, what="export")

    graph = TranslatorGraph(model, method, max_length, options)
    has_text = (getattr(model, "source_tokenizer", None) is not None
                and getattr(model, "target_tokenizer", None) is not None)

    def write(temporary):
        with PortableRNNs(model):  # the endpoints are traced in write_out
            graph.jit_compile = jit_compile and _xla_compiles(graph, jit_compile)
            archive, state_specs = _build_archive(model, graph, has_text, n_best)
            archive.write_out(temporary, verbose=verbose)
        _write_metadata(temporary, model, method, beam_width, max_length, n_best,
                        state_specs, has_text, options, graph.jit_compile)

    return atomic.write_directory(path, write, overwrite=True)


def _xla_compiles(graph, jit_compile):
    """Runs the XLA-compiled search once on a one-sentence source.

    Returns:
        True where it runs; False where XLA cannot compile it and `jit_compile` is
        "auto" (with a warning).

    Raises:
        ValueError: XLA cannot compile it and `jit_compile` is True.
    """
    import warnings

    probe = tf.ones([1, XLA_LENGTH_BUCKET], tf.int32)
    try:
        graph.compiled_search(probe)
    except tf.errors.OpError as error:
        reason = str(error).strip().splitlines()[0]
        if jit_compile is True:
            raise ValueError(
                "`jit_compile=True`: XLA cannot compile this model's search "
                f"({reason}). Pass jit_compile=False (or \"auto\").") from error
        warnings.warn("export_translator: XLA cannot compile this model's search "
                      f"({reason}); the export decodes without XLA.", stacklevel=3)
        return False
    return True


def _write_metadata(directory, model, method, beam_width, max_length, n_best,
                    state_specs, has_text, options, jit_compile):
    """A small JSON file in `assets.extra/`: what was exported (for humans/tools)."""
    from keras_seq2seq import __version__

    extra = os.path.join(directory, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    metadata = {
        "format": "keras_seq2seq translator",
        "keras_seq2seq_version": __version__,
        "decoding": method,
        "beam_width": beam_width,
        "n_best": n_best,
        "options": {key: value for key, value in sorted(options.items())},
        "max_length": max_length,
        "jit_compile": bool(jit_compile),
        "text_endpoints": bool(has_text),
        "source_vocabulary_size": int(model.source_vocabulary_size),
        "target_vocabulary_size": int(model.target_vocabulary_size),
        "state_layout": {name: {"dtype": spec.dtype.name,
                                "shape": spec.shape.as_list()}
                         for name, spec in state_specs.items()},
    }
    with open(os.path.join(extra, METADATA_FILE), "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2)
