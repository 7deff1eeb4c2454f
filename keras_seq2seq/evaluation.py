"""Translation quality metrics, computed with sacrebleu.

BLEU and chrF come from `sacrebleu` (never hand-rolled), so the numbers match those
of the ``sacrebleu`` command line. `references` may be given in either of two shapes:

* a list of strings: one reference per hypothesis;
* a list of lists of strings: several references per hypothesis (the number may vary
  from one hypothesis to the next). These are transposed into the reference
  *streams* that sacrebleu expects, padding missing references with `None`.

This module is pure Python (no TensorFlow).
"""

import re

import sacrebleu

__all__ = [
    "corpus_bleu",
    "corpus_chrf",
    "evaluate_translations",
    "exact_match",
    "word_tokenize",
    "word_tokenized_bleu",
]

_WORD_RE = re.compile(r"\w+|[^\w\s]")


def _check_inputs(hypotheses, references):
    """Validates the inputs and returns (hypotheses, references per hypothesis).

    Returns:
        A tuple ``(hyps, refs)``: `hyps` a list of strings and `refs` a list, one
        entry per hypothesis, of non-empty lists of reference strings.
    """
    if isinstance(hypotheses, str):
        raise ValueError(
            f"hypotheses must be a list of strings, got a single string "
            f"{hypotheses[:50]!r}; wrap it in a list."
        )
    if isinstance(references, str):
        raise ValueError(
            f"references must be a list of strings or of lists of strings, got a "
            f"single string {references[:50]!r}; wrap it in a list."
        )
    hyps = list(hypotheses)
    refs_in = list(references)
    if len(hyps) != len(refs_in):
        raise ValueError(
            f"hypotheses and references must have the same length, got "
            f"len(hypotheses)={len(hyps)} and len(references)={len(refs_in)}."
        )
    if not hyps:
        raise ValueError(
            f"hypotheses and references must not be empty, got len(hypotheses)="
            f"{len(hyps)} and len(references)={len(refs_in)}."
        )
    for i, hyp in enumerate(hyps):
        if not isinstance(hyp, str):
            raise ValueError(
                f"hypotheses[{i}] must be a str, got {hyp!r} of type "
                f"{type(hyp).__name__}."
            )
    refs = []
    for i, ref in enumerate(refs_in):
        group = [ref] if isinstance(ref, str) else list(ref)
        if not group:
            raise ValueError(f"references[{i}] must hold at least one reference, got [].")
        for j, item in enumerate(group):
            if not isinstance(item, str):
                raise ValueError(
                    f"references[{i}] must be a str or a list of str, but holds "
                    f"{item!r} of type {type(item).__name__} at position {j}."
                )
        refs.append(group)
    return hyps, refs


def _streams(refs):
    """Transposes references-per-hypothesis into sacrebleu's reference streams."""
    count = max(len(group) for group in refs)
    return [[group[k] if k < len(group) else None for group in refs]
            for k in range(count)]


def word_tokenize(text):
    """Lowercases a string and splits it into words and punctuation marks.

    Args:
        text: a `str`.

    Returns:
        The tokens (regex ``\\w+|[^\\w\\s]``) joined by single spaces, e.g.
        ``word_tokenize("A man, in a red shirt.") == "a man , in a red shirt ."``.
    """
    return " ".join(_WORD_RE.findall(text.lower()))


def corpus_bleu(hypotheses, references, lowercase=False, tokenize="13a"):
    """Computes corpus BLEU with sacrebleu.

    Args:
        hypotheses: list of hypothesis strings.
        references: list of reference strings, or list of lists of reference strings
            (several references per hypothesis).
        lowercase: whether sacrebleu lowercases before scoring.
        tokenize: sacrebleu tokenizer name (``"13a"``, ``"intl"``, ``"char"``,
            ``"none"``, ...).

    Returns:
        BLEU on the 0..100 scale, a `float`.

    Raises:
        ValueError: for empty inputs or inputs of different lengths.
    """
    hyps, refs = _check_inputs(hypotheses, references)
    score = sacrebleu.corpus_bleu(hyps, _streams(refs), lowercase=lowercase,
                                  tokenize=tokenize)
    return float(score.score)


def corpus_chrf(hypotheses, references):
    """Computes corpus chrF (sacrebleu defaults: character 6-grams, beta 2).

    Args:
        hypotheses: list of hypothesis strings.
        references: list of reference strings, or list of lists of reference strings.

    Returns:
        chrF on the 0..100 scale, a `float`.

    Raises:
        ValueError: as `corpus_bleu`.
    """
    hyps, refs = _check_inputs(hypotheses, references)
    return float(sacrebleu.corpus_chrf(hyps, _streams(refs)).score)


def exact_match(hypotheses, references):
    """Computes the fraction of hypotheses equal to a reference.

    Strings are compared after `str.strip()`; with several references a hypothesis
    counts as a match when it equals any of them.

    Args:
        hypotheses, references: as in `corpus_bleu`.

    Returns:
        The fraction of matches, a `float` in ``[0, 1]``.

    Raises:
        ValueError: as `corpus_bleu`.
    """
    hyps, refs = _check_inputs(hypotheses, references)
    matches = sum(hyp.strip() in {ref.strip() for ref in group}
                  for hyp, group in zip(hyps, refs))
    return matches / len(hyps)


def word_tokenized_bleu(hypotheses, references):
    """Computes lowercased BLEU on word tokens, as in published Multi30k figures.

    Each string is lowercased and split with `word_tokenize`, then scored with
    ``sacrebleu.corpus_bleu(hyps, refs, tokenize="none")``.

    Args:
        hypotheses, references: as in `corpus_bleu`.

    Returns:
        BLEU on the 0..100 scale, a `float`.

    Raises:
        ValueError: as `corpus_bleu`.
    """
    hyps, refs = _check_inputs(hypotheses, references)
    hyps = [word_tokenize(hyp) for hyp in hyps]
    refs = [[word_tokenize(ref) for ref in group] for group in refs]
    return float(sacrebleu.corpus_bleu(hyps, _streams(refs), tokenize="none").score)


def evaluate_translations(hypotheses, references):
    """Computes all metrics of this module at once.

    Args:
        hypotheses, references: as in `corpus_bleu`.

    Returns:
        A `dict` of floats with keys ``"bleu"`` (`corpus_bleu`), ``"chrf"``
        (`corpus_chrf`), ``"exact_match"`` (`exact_match`, 0..1) and
        ``"word_bleu"`` (`word_tokenized_bleu`).

    Raises:
        ValueError: as `corpus_bleu`.
    """
    hypotheses, references = _check_inputs(hypotheses, references)
    return {
        "bleu": corpus_bleu(hypotheses, references),
        "chrf": corpus_chrf(hypotheses, references),
        "exact_match": exact_match(hypotheses, references),
        "word_bleu": word_tokenized_bleu(hypotheses, references),
    }
