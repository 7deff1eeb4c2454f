"""Safe `.keras` saving and loading.

`save_model(model, path)` writes the `.keras` archive into a temporary file in the
same directory and moves it into place with one `os.replace` (or `os.link`, which
refuses to replace), so `path` is never a half-written file: a crash or an error
mid-save leaves the previous file (or nothing) there. It refuses to replace an
existing file unless `overwrite=True`.

`load_model(path)` checks the archive before handing it to Keras and turns a
missing, truncated or corrupted file into a `ValueError` that names the path and
what is wrong, instead of a traceback from deep inside Keras, zipfile or h5py.
Registering this package's classes is all Keras needs to rebuild a `Seq2Seq` and its
tokenizers; `load_model` does it first (`keras_seq2seq._lazy.load_all`), so it works
whatever was imported before (see `keras_seq2seq`'s docstring).
"""

import errno
import os
import zipfile
import zlib

import keras

from keras_seq2seq import _lazy, atomic

# Files every `.keras` archive written by Keras 3 holds.
_REQUIRED_ENTRIES = ("config.json", "metadata.json")
_WEIGHTS_ENTRIES = ("model.weights.h5", "model.weights.npz")

__all__ = ["ModelFileError", "ModelFileNotFoundError", "load_model", "save_model"]


class ModelFileError(ValueError):
    """A `.keras` file that cannot be read: truncated, corrupted or not a model."""


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    """No file at the given path (both a `ValueError` and a `FileNotFoundError`)."""


def _check_keras_path(path):
    path = os.path.abspath(os.fspath(path))
    if not path.endswith(".keras"):
        raise ValueError(
            f"Expected a path ending in '.keras' (the Keras 3 model archive). "
            f"Received: {path!r}")
    return path


def save_model(model, path, overwrite=False):
    """Saves `model` as a `.keras` archive, atomically.

    Args:
        model: a Keras model (e.g. a `Seq2Seq`; its tokenizers and optimizer state
            are saved with it).
        path: the `.keras` file to write; its directory is created if needed.
        overwrite: replace an existing file. Defaults to False.

    Returns:
        The absolute path written.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
        ValueError: `path` does not end in `.keras`.
    """
    path = _check_keras_path(path)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"{path!r} is a directory; save_model writes a .keras file.")
    return atomic.write_file(
        path, lambda temporary: keras.saving.save_model(model, temporary,
                                                        overwrite=True),
        overwrite=overwrite, suffix=".keras")


def _inspect_archive(path):
    """Raises `ModelFileError` unless `path` is a readable `.keras` zip archive."""
    if not os.path.lexists(path):
        error = ModelFileNotFoundError(f"No model file at {path!r}.")
        error.errno, error.filename = errno.ENOENT, path
        error.strerror = "No model file"
        raise error
    if os.path.isdir(path):
        raise ModelFileError(
            f"{path!r} is a directory, not a .keras file (for a SavedModel export "
            "use keras_seq2seq.export.load_translator).")
    size = os.path.getsize(path)
    if size == 0:
        raise ModelFileError(f"The model file {path!r} is empty (0 bytes).")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"The model file {path!r} ({size} bytes) is not a valid .keras archive: "
            "no zip directory found. It is truncated (e.g. an interrupted copy or "
            "save) or not a .keras file.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [name for name in _REQUIRED_ENTRIES if name not in names]
            if missing:
                raise ModelFileError(
                    f"The model file {path!r} is a zip archive but not a Keras model: "
                    f"it lacks {missing}.")
            if not any(name in names for name in _WEIGHTS_ENTRIES):
                raise ModelFileError(
                    f"The model file {path!r} has no weights file "
                    f"({' or '.join(_WEIGHTS_ENTRIES)}).")
            bad = archive.testzip()
            if bad is not None:
                raise ModelFileError(
                    f"The model file {path!r} is corrupted: the entry {bad!r} fails "
                    "its CRC check.")
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError,
            ValueError, RuntimeError, zlib.error) as error:
        raise ModelFileError(
            f"The model file {path!r} is truncated or corrupted: cannot read its zip "
            f"archive ({type(error).__name__}: {error}).") from None


def load_model(path, custom_objects=None, compile=True, safe_mode=True):
    """Loads a `.keras` model, with clear errors for missing or damaged files.

    Args:
        path: the `.keras` file.
        custom_objects: as in `keras.saving.load_model`.
        compile: as in `keras.saving.load_model`.
        safe_mode: as in `keras.saving.load_model`.

    Returns:
        The model.

    Raises:
        ModelFileNotFoundError: no file at `path` (a `ValueError` and a
            `FileNotFoundError`).
        ModelFileError: a `ValueError` naming `path` and the problem: not a zip
            archive (truncated), a damaged entry, missing entries, or an error
            while Keras rebuilds the model from it (then the message gives Keras'
            first line and `error.original_error` holds Keras' exception).
    """
    path = os.path.abspath(os.fspath(path))
    _inspect_archive(path)
    _lazy.load_all()  # registers every class of the package (a no-op once done)
    try:
        return keras.saving.load_model(path, custom_objects=custom_objects,
                                       compile=compile, safe_mode=safe_mode)
    except Exception as error:  # noqa: BLE001 - re-raised with the path
        lines = str(error).strip().splitlines()
        summary = lines[0][:500] if lines else ""
        failure = ModelFileError(
            f"Could not load the Keras model from {path!r}: "
            f"{type(error).__name__}: {summary}")
        failure.original_error = error  # the full error, for debugging
        raise failure from None
