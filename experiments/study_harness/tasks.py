"""The study's tasks: the date task (built in) and Multi30k De->En (from a folder).

`prepare_task` builds a `TaskData`: tokenizers, training pairs, the held-out
evaluation batches and the test set.
"""

import dataclasses
import os

from keras_seq2seq.datasets import load_dates
from keras_seq2seq.text import (
    CharacterTokenizer,
    SentencePieceTokenizer,
    WordTokenizer,
    encode_pairs,
    make_dataset,
    read_split_folder,
)

__all__ = ["DATES_MODEL", "DEFAULT_MULTI30K_DIR", "MULTI30K_MODEL", "TaskData",
           "prepare_task"]

DEFAULT_MULTI30K_DIR = os.path.join("..", "shared", "data", "multi30k")
"""Where `--task multi30k` looks without `data_dir`, relative to the current folder:
`train.de/.en`, `val.de/.en`, `test_2016_flickr.de/.en`."""

DATES_MODEL = dict(embedding_dim=16, units=32, cell_type="gru", bidirectional=False,
                   attention="general", max_decode_length=16)
"""The study's date model: small on purpose, so that 100% is not reached at once
(docs/teacher_forcing.md, "The task", says why 32 units)."""

MULTI30K_MODEL = dict(embedding_dim=256, units=512, cell_type="gru", bidirectional=True,
                      attention="general", max_decode_length=60)
"""The study's Multi30k model. With SentencePiece 8,000, Adam 2e-3 clipped at 5 and
batch 128 (`--task multi30k`'s defaults, `teacher_forcing_study.MULTI30K_DEFAULTS`) it
leaves the constant-output plateau within ~230 steps; at embedding 128 / GRU 256 it
stayed there for over a thousand (docs/teacher_forcing.md, "Multi30k")."""


@dataclasses.dataclass
class TaskData:
    """A task's tokenizers, training dataset and held-out sets.

    `eval_batches` are padded numpy batches `(source_ids, decoder_input_ids,
    target_ids)` of the evaluation set (whose strings are `eval_sources` /
    `eval_references`); `test_*` is the set scored once at the end.
    `metric` is "exact_match" (dates) or "bleu" (Multi30k).
    """

    name: str
    source_tokenizer: object
    target_tokenizer: object
    train_sources: list
    train_targets: list
    eval_sources: list
    eval_references: list
    test_sources: list
    test_references: list
    eval_batches: list
    metric: str
    model_options: dict
    batch_size: int = 64
    info: dict = dataclasses.field(default_factory=dict)

    def train_dataset(self, seed):
        """The shuffled training batches (the order depends on `seed` only)."""
        return make_dataset(self.train_sources, self.train_targets,
                            self.source_tokenizer, self.target_tokenizer,
                            batch_size=self.batch_size, seed=seed)

    @property
    def steps_per_epoch(self):
        return -(-len(self.train_sources) // self.batch_size)


def _eval_batches(sources, targets, source_tokenizer, target_tokenizer, batch_size):
    dataset = make_dataset(sources, targets, source_tokenizer, target_tokenizer,
                           batch_size=batch_size, shuffle=False, prefetch=False)
    return [(x[0], x[1], y) for x, y in dataset.as_numpy_iterator()]


def prepare_task(task="dates", train_size=3000, eval_size=500, test_size=1000,
                 batch_size=64, data_seed=0, eval_batch_size=250, data_dir=None,
                 tokenizer="word", vocabulary_size=8000, lowercase=True,
                 max_length=50):
    """Builds a `TaskData`.

    Args:
        task: "dates" (the package's synthetic date normalisation, character
            tokens, exact match) or "multi30k" (German -> English from
            `data_dir`: `train.de/.en`, `val.de/.en`, `test_2016_flickr.de/.en`,
            read with `read_split_folder`; BLEU).
        train_size: training pairs (Multi30k: the first `train_size` lines; None
            for all).
        eval_size: held-out pairs evaluated every `eval_every_steps` (dates:
            the validation split; Multi30k: the first lines of `val`).
        test_size: pairs scored once at the end (dates: the test split;
            Multi30k: the first lines of `test_2016_flickr`).
        batch_size: training batch size.
        data_seed: seed of the date splits (the data are the same for every
            regime and model seed).
        eval_batch_size: batch size of the token-accuracy evaluation.
        data_dir: Multi30k folder (default `DEFAULT_MULTI30K_DIR`,
            `../shared/data/multi30k` from the current folder).
        tokenizer: Multi30k tokenizer: "word" or "sentencepiece".
        vocabulary_size: Multi30k vocabulary size per side.
        lowercase: lowercase Multi30k text (as in the published figures).
        max_length: Multi30k: drop training pairs longer than this many tokens.
    """
    if task == "dates":
        fields = _dates(train_size, eval_size, test_size, data_seed)
    elif task == "multi30k":
        fields = _multi30k(data_dir or DEFAULT_MULTI30K_DIR, train_size, eval_size,
                           test_size, data_seed, tokenizer, vocabulary_size, lowercase,
                           max_length)
    else:
        raise ValueError(f"Unknown task {task!r}. Expected 'dates' or 'multi30k'.")
    return TaskData(
        name=task, batch_size=batch_size,
        eval_batches=_eval_batches(fields["eval_sources"], fields["eval_references"],
                                   fields["source_tokenizer"],
                                   fields["target_tokenizer"], eval_batch_size),
        **fields)


def _dates(train_size, eval_size, test_size, data_seed):
    """`TaskData` fields of the date task (character tokens, exact match)."""
    splits = load_dates(train_size=train_size, validation_size=eval_size,
                        test_size=test_size, seed=data_seed)
    train_sources, train_targets = splits["train"]
    return dict(
        source_tokenizer=CharacterTokenizer.from_texts(train_sources,
                                                       name="source_tokenizer"),
        target_tokenizer=CharacterTokenizer.from_texts(train_targets,
                                                       name="target_tokenizer"),
        train_sources=train_sources, train_targets=train_targets,
        eval_sources=splits["validation"][0], eval_references=splits["validation"][1],
        test_sources=splits["test"][0], test_references=splits["test"][1],
        metric="exact_match", model_options=dict(DATES_MODEL),
        info={"train_size": train_size, "eval_size": eval_size,
              "test_size": test_size, "data_seed": data_seed})


def _multi30k(data_dir, train_size, eval_size, test_size, data_seed, tokenizer,
              vocabulary_size, lowercase, max_length):
    """`TaskData` fields of Multi30k De->En read from `data_dir` (BLEU)."""
    corpora = read_split_folder(data_dir, "de", "en", on_error="skip")

    def read(split, size):
        sources, targets = list(corpora[split].sources), list(corpora[split].targets)
        if lowercase:
            sources = [s.lower() for s in sources]
            targets = [t.lower() for t in targets]
        if size is not None:
            sources, targets = sources[:size], targets[:size]
        return sources, targets

    train_sources, train_targets = read("train", train_size)
    eval_sources, eval_references = read("validation", eval_size)
    test_sources, test_references = read("test", test_size)
    if tokenizer == "word":
        source_tokenizer, target_tokenizer = (
            WordTokenizer.from_texts(texts, max_vocabulary_size=vocabulary_size,
                                     name=name)
            for texts, name in ((train_sources, "source_tokenizer"),
                                (train_targets, "target_tokenizer")))
    elif tokenizer == "sentencepiece":
        source_tokenizer, target_tokenizer = (
            SentencePieceTokenizer.train(texts, vocabulary_size=vocabulary_size,
                                         seed=data_seed, name=name)
            for texts, name in ((train_sources, "source_tokenizer"),
                                (train_targets, "target_tokenizer")))
    else:
        raise ValueError(f"Unknown Multi30k tokenizer {tokenizer!r}. Expected "
                         "'word' or 'sentencepiece'.")
    if max_length:
        source_ids, target_ids = encode_pairs(train_sources, train_targets,
                                              source_tokenizer, target_tokenizer)
        keep = ((source_ids.row_lengths().numpy() <= max_length)
                & (target_ids.row_lengths().numpy() < max_length))
        train_sources = [s for s, k in zip(train_sources, keep) if k]
        train_targets = [t for t, k in zip(train_targets, keep) if k]
    return dict(
        source_tokenizer=source_tokenizer, target_tokenizer=target_tokenizer,
        train_sources=train_sources, train_targets=train_targets,
        eval_sources=eval_sources, eval_references=eval_references,
        test_sources=test_sources, test_references=test_references,
        metric="bleu", model_options=dict(MULTI30K_MODEL),
        info={"data_dir": os.fspath(data_dir), "tokenizer": tokenizer,
              "vocabulary_size": vocabulary_size, "lowercase": lowercase,
              "train_size": len(train_sources), "eval_size": len(eval_sources),
              "test_size": len(test_sources), "max_length": max_length})
