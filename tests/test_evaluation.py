"""Tests for keras_seq2seq.evaluation (metrics through sacrebleu)."""

import ast
import pathlib

import pytest
import sacrebleu

from keras_seq2seq import evaluation
from keras_seq2seq.evaluation import (
    corpus_bleu,
    corpus_chrf,
    evaluate_translations,
    exact_match,
    word_tokenize,
    word_tokenized_bleu,
)

HYPS = [
    "The cat sat on the mat.",
    "A man in a red shirt is climbing a rock.",
    "Two dogs play in the snow.",
]
REFS = [
    "The cat is sitting on the mat.",
    "A man in a red shirt climbs a rock.",
    "Two dogs are playing in the snow.",
]


def test_perfect_match_is_100():
    # sacrebleu's own value carries float noise (100.00000000000004 here); it is
    # returned unchanged, hence approx.
    assert corpus_bleu(REFS, REFS) == pytest.approx(100.0, abs=1e-9)
    assert corpus_chrf(REFS, REFS) == pytest.approx(100.0, abs=1e-9)
    assert word_tokenized_bleu(REFS, REFS) == pytest.approx(100.0, abs=1e-9)
    assert exact_match(REFS, REFS) == 1.0


def test_bleu_matches_sacrebleu():
    expected = sacrebleu.corpus_bleu(HYPS, [REFS]).score
    score = corpus_bleu(HYPS, REFS)
    assert type(score) is float
    assert score == expected
    assert 0.0 < score < 100.0


def test_bleu_options_are_passed_to_sacrebleu():
    hyps = ["the CAT sat on the mat"]
    refs = ["The cat sat on the mat"]
    assert corpus_bleu(hyps, refs) == sacrebleu.corpus_bleu(hyps, [refs]).score
    assert corpus_bleu(hyps, refs) < 100.0
    assert corpus_bleu(hyps, refs, lowercase=True) == pytest.approx(100.0, abs=1e-9)
    assert corpus_bleu(HYPS, REFS, tokenize="char") == (
        sacrebleu.corpus_bleu(HYPS, [REFS], tokenize="char").score)


def test_chrf_matches_sacrebleu():
    score = corpus_chrf(HYPS, REFS)
    assert type(score) is float
    assert score == sacrebleu.corpus_chrf(HYPS, [REFS]).score


def test_several_references_are_transposed_into_streams():
    other = [
        "The cat sat on the mat.",
        "A man with a red shirt climbs up a rock.",
        "Two dogs play in snow.",
    ]
    refs = [[a, b] for a, b in zip(REFS, other)]
    expected = sacrebleu.corpus_bleu(HYPS, [REFS, other]).score
    assert corpus_bleu(HYPS, refs) == expected
    assert corpus_bleu(HYPS, refs) > corpus_bleu(HYPS, REFS)
    assert corpus_chrf(HYPS, refs) == sacrebleu.corpus_chrf(HYPS, [REFS, other]).score


def test_variable_number_of_references():
    hyps = ["a b c d e", "f g h i j"]
    refs = [["x y z w v", "a b c d e"], ["f g h i j"]]  # 2 references, then 1
    assert corpus_bleu(hyps, refs) == pytest.approx(100.0, abs=1e-9)
    assert exact_match(hyps, refs) == 1.0
    # Mixed shapes: a plain string counts as a single reference.
    mixed = [["x y z w v", "a b c d e"], "f g h i j"]
    assert corpus_bleu(hyps, mixed) == pytest.approx(100.0, abs=1e-9)


def test_exact_match_fraction():
    hyps = ["2023-03-03", " 1999-12-31 ", "2000-01-01", "2001-01-01"]
    refs = ["2023-03-03", "1999-12-31", "2000-01-02", "2001-01-01\n"]
    assert exact_match(hyps, refs) == 0.75
    assert exact_match(["a", "b"], [["x", "a"], ["c"]]) == 0.5
    assert exact_match(["Cat"], ["cat"]) == 0.0


@pytest.mark.parametrize("text, expected", [
    ("A man, in a red shirt.", "a man , in a red shirt ."),
    ("Zwei Hunde spielen im Schnee!", "zwei hunde spielen im schnee !"),
    ("  It's 3:30pm  ", "it ' s 3 : 30pm"),
    ("Ein Mädchen (rot).", "ein mädchen ( rot ) ."),
    ("", ""),
])
def test_word_tokenize(text, expected):
    assert word_tokenize(text) == expected


def test_word_tokenized_bleu():
    hyps = ["A man, in a red shirt."]
    refs = ["a man , in a red shirt ."]
    assert word_tokenized_bleu(hyps, refs) == pytest.approx(100.0, abs=1e-9)
    assert corpus_bleu(hyps, refs) < 100.0  # case-sensitive 13a BLEU differs
    expected = sacrebleu.corpus_bleu([word_tokenize(h) for h in HYPS],
                                     [[word_tokenize(r) for r in REFS]],
                                     tokenize="none").score
    assert word_tokenized_bleu(HYPS, REFS) == expected


def test_evaluate_translations():
    scores = evaluate_translations(HYPS, REFS)
    assert scores == {
        "bleu": corpus_bleu(HYPS, REFS),
        "chrf": corpus_chrf(HYPS, REFS),
        "exact_match": 0.0,
        "word_bleu": word_tokenized_bleu(HYPS, REFS),
    }
    assert all(type(value) is float for value in scores.values())
    # Generators are accepted and consumed once.
    assert evaluate_translations(iter(HYPS), iter(REFS)) == scores


@pytest.mark.parametrize("function", [corpus_bleu, corpus_chrf, exact_match,
                                      word_tokenized_bleu, evaluate_translations])
def test_length_mismatch(function):
    with pytest.raises(ValueError, match=r"hypotheses and references must have the same "
                                         r"length, got len\(hypotheses\)=2 and "
                                         r"len\(references\)=1"):
        function(["a", "b"], ["a"])


@pytest.mark.parametrize("function", [corpus_bleu, corpus_chrf, exact_match,
                                      word_tokenized_bleu, evaluate_translations])
def test_empty_input(function):
    with pytest.raises(ValueError, match=r"must not be empty, got len\(hypotheses\)=0 "
                                         r"and len\(references\)=0"):
        function([], [])


def test_bad_input_types():
    with pytest.raises(ValueError, match=r"hypotheses must be a list of strings, got a "
                                         r"single string 'the cat'"):
        corpus_bleu("the cat", ["the cat"])
    with pytest.raises(ValueError, match=r"references must be a list .*got a single "
                                         r"string 'the cat'"):
        corpus_bleu(["the cat"], "the cat")
    with pytest.raises(ValueError, match=r"hypotheses\[1\] must be a str, got None"):
        corpus_bleu(["a", None], ["a", "b"])
    with pytest.raises(ValueError, match=r"references\[0\] must hold at least one"):
        corpus_bleu(["a"], [[]])
    with pytest.raises(ValueError, match=r"references\[0\] must be a str or a list of "
                                         r"str, but holds 3 of type int at position 1"):
        corpus_bleu(["a"], [["a", 3]])


def test_module_does_not_import_tensorflow_or_keras():
    tree = ast.parse(pathlib.Path(evaluation.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported == {"re", "sacrebleu"}
