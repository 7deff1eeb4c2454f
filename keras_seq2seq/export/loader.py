"""Loading an export: `load_translator(path)` and the `Translator` it returns."""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

import json  # noqa: E402
import os  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["METADATA_FILE", "SAVED_MODEL_CLI_WITH_TF_TEXT", "Translator",
           "load_translator"]

METADATA_FILE = "keras_seq2seq_export.json"

# `saved_model_cli` has no flag to load op libraries, and the tokenizers' graph uses
# tensorflow-text ops: this `python -c` program registers them, then runs the CLI.
# Usage: python -c "$SAVED_MODEL_CLI_WITH_TF_TEXT" run --dir PATH --tag_set serve ...
SAVED_MODEL_CLI_WITH_TF_TEXT = (
    "import sys, tensorflow_text; "
    "from tensorflow.python.tools.saved_model_cli import main; "
    "sys.argv[0] = 'saved_model_cli'; sys.exit(main())"
)



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

    def _endpoint(self, name, hint=None):
        function = getattr(self.module, name, None)
        if function is None:
            raise ValueError(
                f"The SavedModel at {self.path!r} has no {name!r} endpoint "
                f"(signatures: {sorted(self.signatures)})" + (
                    f"; {hint}." if hint else "."))
        return function

    def translate_full(self, texts):
        """All outputs of the `translate` endpoint as numpy arrays.

        Args:
            texts: a list of str (or a 1-D string array / tensor).

        Returns:
            A dict of numpy arrays: `translations` (bytes), `tokens`, `lengths`,
            `scores`, `attention`; exports written since scoring was added also
            hold `source_tokens` / `target_tokens` (bytes, "" at padding; the target
            row includes `[END]` when produced) and `source_lengths`.
        """
        outputs = self._endpoint("translate")(_strings(texts))
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

    def n_best(self, texts, k=None):
        """The export's n-best lists (its `n_best` endpoint; beam exports only).

        Args:
            texts: a str or a list of str.
            k: hypotheses per text, at most the export's `metadata["n_best"]`.
                Defaults to all of them.

        Returns:
            For each text a list of `(translation, score)` pairs, best first (only
            found hypotheses; `[]` for a blank text); one list for a str.
        """
        function = self._endpoint("n_best", hint="export with beam_width=N (and "
                                                  "n_best=K) for n-best lists")
        exported = self.metadata.get("n_best")
        if k is not None and exported is not None and not 1 <= k <= exported:
            raise ValueError(
                f"The export at {self.path!r} returns {exported} hypotheses per "
                f"sentence; k={k} must be between 1 and {exported} (export again "
                f"with n_best={k} and beam_width >= {k} for more).")
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        if not batch:
            return []
        outputs = function(_strings(batch))
        translations = outputs["translations"].numpy()
        scores = outputs["scores"].numpy()
        lists = [[(text.decode("utf-8"), float(score))
                  for text, score in zip(row_texts, row_scores)
                  if score > float("-inf")][:k]
                 for row_texts, row_scores in zip(translations, scores)]
        return lists[0] if single else lists

    def score(self, sources, targets):
        """Forced-decoding scores of (source, target) pairs (the `score` endpoint).

        Args:
            sources: a list of str.
            targets: a list of str as long as `sources`.

        Returns:
            A dict of numpy arrays: `log_probs (B,)` (summed over the target tokens
            and `[END]`), `token_log_probs (B, T)`, `lengths (B,)` (scored tokens),
            `attention (B, T, Ts)`, `target_tokens (B, T)` and `source_tokens
            (B, Ts)` (bytes, "" at padding), `source_lengths (B,)`.
        """
        function = self._endpoint(
            "score", hint="an export of a model without tokenizers has only "
                          "`score_ids`; an export from before scoring existed needs "
                          "exporting again")
        sources, targets = list(sources), list(targets)
        if len(sources) != len(targets):
            raise ValueError(
                f"score() needs one target per source. Received {len(sources)} "
                f"sources and {len(targets)} targets")
        outputs = function(_strings(sources), _strings(targets))
        return {name: value.numpy() for name, value in outputs.items()}

    def __repr__(self):
        return f"Translator({self.path!r}, signatures={sorted(self.signatures)})"


def _strings(texts):
    """A 1-D tf.string tensor from a list of str, an array or a tensor."""
    if not isinstance(texts, (tf.Tensor, np.ndarray)):
        texts = list(texts)
    return tf.reshape(tf.convert_to_tensor(texts, dtype=tf.string), [-1])


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
    metadata_path = os.path.join(path, "assets.extra", METADATA_FILE)
    if os.path.isfile(metadata_path):
        try:
            with open(metadata_path, encoding="utf-8") as f:
                metadata = json.load(f)
        except (OSError, ValueError):
            metadata = {}
    return Translator(path, module, metadata)
