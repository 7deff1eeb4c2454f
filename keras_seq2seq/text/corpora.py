"""Readers for parallel corpora: Anki/Tatoeba TSV files and aligned line files.

Nothing here needs TensorFlow and nothing is downloaded: the readers take local paths.

Both readers return a `Corpus` of aligned `sources` / `targets` lists. Problems in the
input (a line without enough tab-separated columns, an empty sentence, bytes that are
not valid UTF-8, files with different line counts, an empty file) raise a `CorpusError`
(a `ValueError`) that names the file and the 1-based line number. With
`on_error="skip"` the offending lines (pairs) are dropped and counted in
`Corpus.skipped` instead; problems that concern a whole file (empty file, line-count
mismatch of aligned files, no usable pair at all) always raise, because skipping
cannot repair them.

Lines are split on `"\\n"` only (not on the other characters `str.splitlines` treats
as line breaks, such as U+2028), a trailing `"\\r"` is removed, a UTF-8 byte-order mark
at the start of a file is dropped, and every sentence is stripped of surrounding
whitespace.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterator, List, Tuple, Union

from keras_seq2seq.checks import check_int

PathLike = Union[str, os.PathLike]

ON_ERROR_CHOICES = ("raise", "skip")

__all__ = [
    "Corpus",
    "CorpusError",
    "iter_lines",
    "read_lines",
    "read_parallel_files",
    "read_split_folder",
    "read_tsv_pairs",
]

MULTI30K_SPLITS = {"train": "train", "validation": "val", "test": "test_2016_flickr"}
"""Split name -> file stem of the Multi30k layout (`train.de`, `val.en`, ...)."""


class CorpusError(ValueError):
    """A problem in a corpus file, with the file and the 1-based line number.

    Attributes:
        path: the file (as given), or `None`.
        line: the 1-based line number, or `None` for problems of the whole file.
        reason: the message without the location.
    """

    def __init__(self, reason, path=None, line=None):
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.reason = reason
        location = ""
        if self.path is not None:
            location = f"{self.path}"
            if line is not None:
                location += f", line {line}"
            location += ": "
        super().__init__(location + reason)


@dataclasses.dataclass(frozen=True)
class Corpus:
    """Aligned source and target sentences read from a corpus.

    Attributes:
        sources: source sentences, `list[str]`.
        targets: target sentences, `list[str]`, `targets[i]` translates `sources[i]`.
        skipped: number of lines (pairs) dropped because of errors with
            `on_error="skip"`; always 0 with `on_error="raise"`.
    """

    sources: List[str]
    targets: List[str]
    skipped: int = 0

    def __post_init__(self):
        if len(self.sources) != len(self.targets):
            raise ValueError(
                f"Corpus needs as many sources as targets, got {len(self.sources)} "
                f"and {len(self.targets)}."
            )

    def __len__(self):
        return len(self.sources)

    def __iter__(self):
        """Iterates over `(source, target)` pairs."""
        return iter(zip(self.sources, self.targets, strict=True))

    def swapped(self):
        """Returns the corpus with sources and targets exchanged."""
        return Corpus(list(self.targets), list(self.sources), self.skipped)


def _check_on_error(on_error):
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(
            f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}."
        )


def _iter_raw_lines(path) -> Iterator[Tuple[int, bytes]]:
    """Yields `(line_number, bytes)` for each line, without the line break."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            yield number, raw


def _without_trailing_blank_lines(lines):
    """Drops the blank lines at the end of a list of `(number, bytes)` lines."""
    end = len(lines)
    while end and not lines[end - 1][1].strip():
        end -= 1
    return lines[:end]


def _decode(raw, path, number):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(
            f"invalid UTF-8 at byte {error.start} of the line", path, number
        ) from None


def _check_not_empty(path):
    if os.path.getsize(path) == 0:
        raise CorpusError("the file is empty", path)


def iter_lines(path, on_error="raise", skip_empty=True) -> Iterator[str]:
    """Yields the stripped lines of a one-sentence-a-line UTF-8 text file.

    Args:
        path: path of the file.
        on_error: `"raise"` raises a `CorpusError` at a line that is not valid UTF-8;
            `"skip"` drops such lines.
        skip_empty: drop lines that are empty after stripping whitespace.

    Yields:
        `str`, one per (kept) line.
    """
    _check_on_error(on_error)
    _check_not_empty(path)
    for number, raw in _iter_raw_lines(path):
        try:
            text = _decode(raw, path, number).strip()
        except CorpusError:
            if on_error == "skip":
                continue
            raise
        if skip_empty and not text:
            continue
        yield text


def read_lines(path, on_error="raise", skip_empty=True) -> List[str]:
    """Reads the stripped lines of a one-sentence-a-line UTF-8 text file.

    Args:
        path: path of the file.
        on_error: `"raise"` or `"skip"` for lines that are not valid UTF-8.
        skip_empty: drop lines that are empty after stripping whitespace.

    Returns:
        `list[str]`.
    """
    return list(iter_lines(path, on_error=on_error, skip_empty=skip_empty))


def read_tsv_pairs(path, source_column=0, target_column=1, on_error="raise") -> Corpus:
    """Reads sentence pairs from a tab-separated file such as Anki/Tatoeba `fra.txt`.

    The Anki layout is `ENGLISH<TAB>FRENCH<TAB>attribution`; pass
    `source_column=1, target_column=0` to translate French to English. Extra columns
    are ignored. Blank lines inside the file are errors; blank lines at its end are
    ignored.

    Args:
        path: path of the UTF-8 file.
        source_column: 0-based column of the source sentence.
        target_column: 0-based column of the target sentence.
        on_error: `"raise"` raises a `CorpusError` (file and 1-based line number) at
            the first line with too few columns, an empty source or target, or
            invalid UTF-8; `"skip"` drops such lines and counts them in
            `Corpus.skipped`.

    Returns:
        A `Corpus`.

    Raises:
        CorpusError: a bad line (with `on_error="raise"`), an empty file, or a file
            without any usable pair.
    """
    _check_on_error(on_error)
    check_int("source_column", source_column, minimum=0)
    check_int("target_column", target_column, minimum=0)
    if source_column == target_column:
        raise ValueError("source_column and target_column must differ.")
    _check_not_empty(path)
    needed = max(source_column, target_column) + 1
    return _collect_pairs(
        _tsv_pairs(path, source_column, target_column, needed), on_error, path
    )


def _tsv_pairs(path, source_column, target_column, needed):
    """Yields the `(source, target)` pairs of a TSV file, or a `CorpusError` a bad line."""
    pending_blank = []  # blank lines are errors unless only blank lines follow
    for number, raw in _iter_raw_lines(path):
        if not raw.strip():
            pending_blank.append(number)
            continue
        for blank in pending_blank:
            yield CorpusError("empty line", path, blank)
        pending_blank = []
        try:
            text = _decode(raw, path, number)
            fields = text.split("\t")
            if len(fields) < needed:
                raise CorpusError(
                    f"expected at least {needed} tab-separated columns, found "
                    f"{len(fields)}",
                    path,
                    number,
                )
            source = fields[source_column].strip()
            target = fields[target_column].strip()
            if not source or not target:
                side = "source" if not source else "target"
                raise CorpusError(f"empty {side} sentence", path, number)
        except CorpusError as error:
            yield error
            continue
        yield source, target


def _collect_pairs(pairs, on_error, path):
    """The `Corpus` of `pairs`: `(source, target)` tuples or `CorpusError`s.

    A `CorpusError` is raised (`on_error="raise"`) or counted in `Corpus.skipped`
    (`"skip"`); a corpus without any pair raises, naming `path`.
    """
    sources, targets, skipped = [], [], 0
    for pair in pairs:
        if isinstance(pair, CorpusError):
            if on_error == "raise":
                raise pair
            skipped += 1
            continue
        sources.append(pair[0])
        targets.append(pair[1])
    if not sources:
        raise CorpusError(f"no usable sentence pair ({skipped} lines skipped)", path)
    return Corpus(sources, targets, skipped)


def read_parallel_files(source_path, target_path, on_error="raise") -> Corpus:
    """Reads sentence pairs from two aligned one-sentence-a-line files.

    Line `i` of `target_path` translates line `i` of `source_path` (the Multi30k /
    WMT layout, e.g. `train.de` and `train.en`).

    Args:
        source_path: path of the UTF-8 source file.
        target_path: path of the UTF-8 target file.
        on_error: `"raise"` raises a `CorpusError` (file and 1-based line number) at
            the first empty sentence or invalid UTF-8; `"skip"` drops such pairs and
            counts them in `Corpus.skipped`. Blank lines at the end of a file are
            ignored. A line-count mismatch always raises:
            the files are not aligned, and skipping lines cannot align them.

    Returns:
        A `Corpus`.

    Raises:
        CorpusError: a bad line (with `on_error="raise"`), an empty file, files with
            different numbers of lines, or no usable pair.
    """
    _check_on_error(on_error)
    _check_not_empty(source_path)
    _check_not_empty(target_path)
    source_lines = _without_trailing_blank_lines(list(_iter_raw_lines(source_path)))
    target_lines = _without_trailing_blank_lines(list(_iter_raw_lines(target_path)))
    for path, lines in ((source_path, source_lines), (target_path, target_lines)):
        if not lines:
            raise CorpusError("the file has only blank lines", path)
    if len(source_lines) != len(target_lines):
        shorter, longer = (
            (source_path, target_path)
            if len(source_lines) < len(target_lines)
            else (target_path, source_path)
        )
        first_extra = min(len(source_lines), len(target_lines)) + 1
        raise CorpusError(
            f"line-count mismatch: {os.fspath(source_path)} has {len(source_lines)} "
            f"lines, {os.fspath(target_path)} has {len(target_lines)} lines; "
            f"{os.fspath(shorter)} ends before line {first_extra}",
            longer,
            first_extra,
        )
    return _collect_pairs(
        _parallel_pairs(source_path, target_path, source_lines, target_lines),
        on_error,
        source_path,
    )


def _parallel_pairs(source_path, target_path, source_lines, target_lines):
    """Yields the `(source, target)` pairs of aligned lines, or a `CorpusError`."""
    for (number, raw_source), (_, raw_target) in zip(
        source_lines, target_lines, strict=True
    ):
        try:
            source = _decode(raw_source, source_path, number).strip()
            target = _decode(raw_target, target_path, number).strip()
            if not source:
                raise CorpusError("empty sentence", source_path, number)
            if not target:
                raise CorpusError("empty sentence", target_path, number)
        except CorpusError as error:
            yield error
            continue
        yield source, target


def read_split_folder(
    folder,
    source_lang="de",
    target_lang="en",
    splits=None,
    on_error="raise",
) -> dict:
    """Reads the splits of a folder of aligned files named `<stem>.<lang>`.

    The Multi30k / WMT layout: `folder/train.de` and `folder/train.en` hold the
    training pairs, `val.*` the validation pairs, and so on.

    Args:
        folder: the folder's path.
        source_lang: file extension of the source side (e.g. `"de"`).
        target_lang: file extension of the target side (e.g. `"en"`).
        splits: `dict` of split name -> file stem; default `MULTI30K_SPLITS`
            (`train`, `validation` -> `val`, `test` -> `test_2016_flickr`).
        on_error: as in `read_parallel_files`.

    Returns:
        `dict` of split name -> `Corpus`, in the order of `splits`.

    Raises:
        CorpusError: a missing file (the message lists the files the folder should
            hold), or any error of `read_parallel_files`.
    """
    paths = {
        name: tuple(
            os.path.join(os.fspath(folder), f"{stem}.{lang}")
            for lang in (source_lang, target_lang)
        )
        for name, stem in (MULTI30K_SPLITS if splits is None else splits).items()
    }
    expected = [path for pair in paths.values() for path in pair]
    missing = [path for path in expected if not os.path.isfile(path)]
    if missing:
        raise CorpusError(
            f"missing {len(missing)} of the {len(expected)} files of the split "
            f"folder (expected {', '.join(os.path.basename(p) for p in expected)}; "
            "pass `splits` or the languages if the folder is named differently)",
            missing[0],
        )
    return {
        name: read_parallel_files(source, target, on_error=on_error)
        for name, (source, target) in paths.items()
    }
