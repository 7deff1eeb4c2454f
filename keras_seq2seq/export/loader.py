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
