"""Atomic writes of files and directories: what `.keras` saving and the export share.

`write_file(path, write, overwrite)` and `write_directory(path, write, overwrite)`
call `write(temporary)` on a temporary file or directory next to `path` and move it
into place only once `write` has returned, so `path` is never half-written: an error
(or a crash) leaves the previous file or directory (or nothing) there. Without
`overwrite`, an existing `path` is refused with a `FileExistsError` before anything
is written.
"""

import os
import shutil
import tempfile

__all__ = ["check_destination", "write_directory", "write_file"]


def check_destination(path, overwrite, what="file"):
    """The absolute `path`, refused when it exists and `overwrite` is False.

    Args:
        path: str or path-like.
        overwrite: whether an existing `path` may be replaced.
        what: "file" or "export", for the message.

    Returns:
        The absolute path (str).

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(
            f"{path!r} already exists. Pass overwrite=True to replace it (the new "
            f"{what} is written next to it first, then swapped in).")
    return path


def write_file(path, write, overwrite=False, suffix=""):
    """Writes a file through `write(temporary_path)`, then moves it to `path`.

    With `overwrite`, one `os.replace`; without, `os.link` (which refuses to replace
    a file that appeared meanwhile).

    Args:
        path: the file to write (its directory is created if needed).
        write: callable taking the temporary file's path; it must write the file.
        overwrite: replace an existing file. Defaults to False.
        suffix: suffix of the temporary file (some writers check it, e.g. ".keras").

    Returns:
        The absolute path written.

    Raises:
        FileExistsError: `path` exists (or appeared while writing) without
            `overwrite`.
        IsADirectoryError: `path` is a directory.
    """
    path = check_destination(path, overwrite)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a directory, not a file.")
    directory, base = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{base}.tmp-", suffix=suffix,
                                         dir=directory)
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            _link_without_replacing(temporary, path)
    finally:
        if os.path.lexists(temporary):
            os.remove(temporary)
    return path


def _link_without_replacing(temporary, path):
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise FileExistsError(
            f"{path!r} already exists (created while saving). Pass overwrite=True "
            "to replace it.") from None
    except OSError:  # no hard links here (some filesystems)
        if os.path.lexists(path):
            raise FileExistsError(
                f"{path!r} already exists. Pass overwrite=True to replace it."
            ) from None
        os.replace(temporary, path)


def write_directory(path, write, overwrite=False):
    """Writes a directory through `write(temporary_directory)`, then swaps it in.

    Without an existing `path` this is one `os.replace`. With one, the old entry is
    first renamed aside, then removed once the new directory is in place (it is
    moved back if that rename fails), so `path` never holds a partial directory.

    Args:
        path: the directory to create (its parent is created if needed).
        write: callable taking the temporary directory's path; it fills it.
        overwrite: replace an existing `path`. Defaults to False.

    Returns:
        The absolute path written.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
    """
    path = check_destination(path, overwrite, what="export")
    parent, base = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{base}.tmp-", dir=parent)
    try:
        write(temporary)
        _swap_into_place(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return path


def _swap_into_place(temporary, path):
    if not os.path.lexists(path):
        os.replace(temporary, path)
        return
    parent, base = os.path.split(path)
    aside = tempfile.mkdtemp(prefix=f".{base}.old-", dir=parent)
    old = os.path.join(aside, base)
    os.replace(path, old)
    try:
        os.replace(temporary, path)
    except BaseException:
        os.replace(old, path)
        shutil.rmtree(aside, ignore_errors=True)
        raise
    if os.path.isdir(old) and not os.path.islink(old):
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.remove(old)
        os.rmdir(aside)
