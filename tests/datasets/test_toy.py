"""Tests for keras_seq2seq.datasets.toy and the task registry."""

import ast
import pathlib

import pytest

from keras_seq2seq import datasets
from keras_seq2seq.datasets import toy
from keras_seq2seq.datasets.toy import (
    DEFAULT_ALPHABET,
    TOY_TASKS,
    load_toy_task,
    make_toy_task,
)


def test_toy_task_names():
    assert TOY_TASKS == ("copy", "reverse", "sort")
    assert DEFAULT_ALPHABET == "abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.mark.parametrize("name, target_of", [
    ("copy", lambda s: s),
    ("reverse", lambda s: s[::-1]),
    ("sort", lambda s: "".join(sorted(s))),
])
def test_targets(name, target_of):
    sources, targets = make_toy_task(name, 500, seed=4)
    assert len(sources) == len(targets) == 500
    assert targets == [target_of(s) for s in sources]


def test_all_tasks_share_sources_for_a_seed():
    copy = make_toy_task("copy", 100, seed=9)[0]
    assert make_toy_task("reverse", 100, seed=9)[0] == copy
    assert make_toy_task("sort", 100, seed=9)[0] == copy


def test_sort_orders_by_code_point():
    # Digits (U+0030..) sort before lowercase letters (U+0061..).
    sources, targets = make_toy_task("sort", 300, min_length=6, max_length=6, seed=1)
    mixed = [(s, t) for s, t in zip(sources, targets)
             if any(c.isdigit() for c in s) and any(c.isalpha() for c in s)]
    assert mixed
    for source, target in mixed:
        digits = sum(c.isdigit() for c in source)
        assert target[:digits].isdigit() and target[digits:].isalpha()
        assert sorted(target) == list(target) and sorted(source) == sorted(target)


def test_lengths_and_alphabet():
    sources, _ = make_toy_task("copy", 2000, min_length=2, max_length=5, seed=0)
    assert {len(s) for s in sources} == {2, 3, 4, 5}
    assert set("".join(sources)) == set(DEFAULT_ALPHABET)
    sources, _ = make_toy_task("copy", 200, min_length=4, max_length=4, alphabet="xyz")
    assert {len(s) for s in sources} == {4}
    assert set("".join(sources)) == {"x", "y", "z"}


def test_make_toy_task_is_deterministic():
    assert make_toy_task("reverse", 50, seed=3) == make_toy_task("reverse", 50, seed=3)
    assert make_toy_task("reverse", 50, seed=3) != make_toy_task("reverse", 50, seed=4)


def test_load_toy_task_splits_are_disjoint_and_unique():
    splits = load_toy_task("reverse", train_size=2000, validation_size=100,
                           test_size=300, seed=2, min_length=2, max_length=4,
                           alphabet="abcdefgh")
    assert list(splits) == ["train", "validation", "test"]
    sets = {name: set(sources) for name, (sources, _) in splits.items()}
    assert {name: len(s) for name, s in sets.items()} == {
        "train": 2000, "validation": 100, "test": 300}
    assert not sets["train"] & sets["validation"]
    assert not sets["train"] & sets["test"]
    assert not sets["validation"] & sets["test"]
    for sources, targets in splits.values():
        assert targets == [s[::-1] for s in sources]


def test_load_toy_task_fills_the_whole_space():
    # Alphabet "ab", length 2: exactly 4 distinct sources.
    splits = load_toy_task("sort", train_size=2, validation_size=1, test_size=1,
                           min_length=2, max_length=2, alphabet="ba", seed=0)
    everything = sorted(s for sources, _ in splits.values() for s in sources)
    assert everything == ["aa", "ab", "ba", "bb"]
    pairs = {s: t for sources, targets in splits.values()
             for s, t in zip(sources, targets)}
    assert pairs == {"aa": "aa", "ab": "ab", "ba": "ab", "bb": "bb"}


def test_load_toy_task_rejects_more_pairs_than_sources():
    with pytest.raises(ValueError, match=r"= 5 exceeds the 4 distinct sources of "
                                         r"length 2\.\.2 over an alphabet of 2"):
        load_toy_task("copy", train_size=3, validation_size=1, test_size=1,
                      min_length=2, max_length=2, alphabet="ab")


def test_load_toy_task_test_split_is_stable():
    small = load_toy_task("copy", train_size=10, validation_size=5, test_size=5, seed=1)
    large = load_toy_task("copy", train_size=90, validation_size=5, test_size=5, seed=1)
    assert small["test"] == large["test"]
    assert small["validation"] == large["validation"]


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "rotate"},
     r"name must be one of \['copy', 'reverse', 'sort'\], got 'rotate'"),
    ({"min_length": 0}, r"min_length must be a positive int, got 0"),
    ({"min_length": 5, "max_length": 4},
     r"min_length must be <= max_length, got min_length=5 and max_length=4"),
    ({"alphabet": ""}, r"alphabet must be a non-empty string"),
    ({"alphabet": "a b"}, r"alphabet must not contain whitespace"),
    ({"alphabet": "abca"}, r"alphabet must not repeat characters, got 'abca' which "
                           r"repeats \['a'\]"),
    ({"n": -1}, r"n must be a non-negative int, got -1"),
])
def test_make_toy_task_errors(kwargs, message):
    arguments = {"name": "copy", "n": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_toy_task(**arguments)


def test_load_toy_task_errors():
    with pytest.raises(ValueError, match=r"name must be one of .*got 'Copy'"):
        load_toy_task("Copy", 1, 1, 1)
    with pytest.raises(ValueError, match=r"validation_size must be a non-negative int"):
        load_toy_task("copy", 1, -1, 1)


def test_registry():
    assert sorted(datasets.TASKS) == ["copy", "dates", "reverse", "sort"]
    splits = datasets.load_task("reverse", train_size=5, validation_size=2,
                                test_size=3, seed=1)
    assert splits == load_toy_task("reverse", 5, 2, 3, seed=1)
    dates = datasets.load_task("dates", train_size=5, validation_size=2, test_size=3)
    assert [len(dates[name][1]) for name in ("train", "validation", "test")] == [5, 2, 3]
    assert datasets.TASKS["dates"] is datasets.load_dates
    with pytest.raises(ValueError, match=r"name must be one of \['copy', 'dates', "
                                         r"'reverse', 'sort'\], got 'dats'"):
        datasets.load_task("dats")


@pytest.mark.parametrize("module", [toy, datasets])
def test_modules_do_not_import_tensorflow_or_keras(module):
    tree = ast.parse(pathlib.Path(module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not any(name.split(".")[0] in {"tensorflow", "keras", "tensorflow_text"}
                   for name in imported)
    assert imported <= {"random", "functools", "keras_seq2seq.datasets.dates",
                        "keras_seq2seq.datasets.toy"}
