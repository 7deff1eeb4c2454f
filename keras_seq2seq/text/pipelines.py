"""tf.data pipelines for teacher-forced seq2seq training.

`make_dataset` turns aligned source/target sentences into batches
`((source_ids, decoder_input_ids), target_ids)`, all int32 and padded with `PAD_ID`
(0) to the longest sequence of their batch:

* `source_ids` `(batch, S)`: source tokens, no `[START]`/`[END]`;
* `decoder_input_ids` `(batch, T)`: `[START]` + target tokens;
* `target_ids` `(batch, T)`: target tokens + `[END]` (same length as the decoder
  inputs, shifted by one).

The sentences are tokenized once, eagerly and in large chunks (`encode_pairs`), which
gives exact counts of empty and overlong pairs (`PipelineStats`, returned with
`return_stats=True`) and the length distribution used by `bucket_boundaries="auto"`.
Length bucketing (`tf.data.Dataset.bucket_by_sequence_length`) and token-budget
batching cut the padding; `padding_fraction(dataset)` measures it.
"""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

import dataclasses  # noqa: E402
import logging  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_seq2seq.checks import check_int  # noqa: E402
from keras_seq2seq.constants import END_ID, PAD_ID, START_ID  # noqa: E402
from keras_seq2seq.text.shuffling import (  # noqa: E402
    SHUFFLE_EPOCH_ATTRIBUTE,
    set_shuffle_epoch,
    shuffle_epoch_variable,
    shuffled_pairs,
)

logger = logging.getLogger(__name__)

OVERLONG_CHOICES = ("filter", "truncate")

__all__ = [
    "PipelineStats",
    "auto_bucket_boundaries",
    "encode_pairs",
    "encode_texts",
    "make_dataset",
    "padding_fraction",
    "set_shuffle_epoch",
    "shuffle_epoch_variable",
]

@dataclasses.dataclass(frozen=True)
class PipelineStats:
    """Counts from `make_dataset(..., return_stats=True)`.

    Lengths: a source's length is its number of tokens; a target's length is its
    number of tokens + 1 (the length of `decoder_input_ids` / `target_ids`).

    Attributes:
        total: pairs given.
        empty_source: pairs dropped because the source has no token.
        source_overlong: non-empty pairs whose source is longer than
            `max_source_length`.
        target_overlong: non-empty pairs whose target is longer than
            `max_target_length`.
        overlong: non-empty pairs with either side overlong.
        filtered: overlong pairs dropped (`overlong="filter"`), else 0.
        truncated: overlong pairs truncated (`overlong="truncate"`), else 0.
        kept: pairs in the dataset (per epoch, before `drop_remainder`).
        bucket_boundaries: the boundaries used (`()` without bucketing).
    """

    total: int
    empty_source: int
    source_overlong: int
    target_overlong: int
    overlong: int
    filtered: int
    truncated: int
    kept: int
    bucket_boundaries: tuple = ()


def encode_texts(texts, tokenizer, chunk_size=4096):
    """Tokenizes many sentences eagerly, in chunks.

    Args:
        texts: sequence of `str` (length `N`).
        tokenizer: a `keras_seq2seq.text.Tokenizer`.
        chunk_size: sentences per `tokenize` call.

    Returns:
        int32 `tf.RaggedTensor` `(N, None)` without `[START]`/`[END]`.
    """
    values, lengths = [], []
    texts = list(texts)
    for start in range(0, len(texts), chunk_size):
        ids = tokenizer.tokenize(
            tf.constant(texts[start : start + chunk_size], tf.string)
        )
        values.append(ids.flat_values.numpy())
        lengths.append(ids.row_lengths().numpy())
    if not texts:
        return tf.RaggedTensor.from_row_lengths(
            tf.zeros([0], tf.int32), tf.zeros([0], tf.int64)
        )
    return tf.RaggedTensor.from_row_lengths(
        np.concatenate(values).astype(np.int32), np.concatenate(lengths)
    )


def encode_pairs(sources, targets, source_tokenizer, target_tokenizer, chunk_size=4096):
    """Tokenizes aligned sentence pairs eagerly.

    Args:
        sources: sequence of `str` (length `N`).
        targets: sequence of `str` (length `N`).
        source_tokenizer: `Tokenizer` for the sources.
        target_tokenizer: `Tokenizer` for the targets.
        chunk_size: sentences per `tokenize` call.

    Returns:
        `(source_ids, target_ids)`: int32 `tf.RaggedTensor`s `(N, None)`, without
        `[START]`/`[END]`.
    """
    sources, targets = list(sources), list(targets)
    if len(sources) != len(targets):
        raise ValueError(
            f"sources and targets must be aligned, got {len(sources)} sources and "
            f"{len(targets)} targets."
        )
    return (
        encode_texts(sources, source_tokenizer, chunk_size),
        encode_texts(targets, target_tokenizer, chunk_size),
    )


def auto_bucket_boundaries(lengths, num_buckets=8):
    """Bucket boundaries at the quantiles of a length distribution.

    Args:
        lengths: 1-D array of sequence lengths.
        num_buckets: wanted number of buckets (fewer if lengths repeat).

    Returns:
        Sorted `list[int]` of boundaries for `bucket_by_sequence_length` (a bucket
        holds lengths in `[b_i, b_{i+1})`); may be empty.
    """
    lengths = np.asarray(lengths)
    if lengths.size == 0 or num_buckets < 2:
        return []
    quantiles = np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1])
    boundaries = sorted({int(np.floor(q)) + 1 for q in quantiles})
    top = int(lengths.max())
    return [b for b in boundaries if 1 < b <= top]


def _check_boundaries(boundaries):
    boundaries = [int(b) for b in boundaries]
    if (
        not boundaries
        or any(b <= 0 for b in boundaries)
        or any(b >= c for b, c in zip(boundaries, boundaries[1:], strict=False))
    ):
        raise ValueError(
            "bucket_boundaries must be a non-empty, strictly increasing list of "
            f"positive ints, 'auto' or None; got {boundaries}."
        )
    return boundaries


def _add_start_end(source, target):
    decoder_inputs = tf.concat([[START_ID], target], axis=0)
    target_ids = tf.concat([target, [END_ID]], axis=0)
    return (source, decoder_inputs), target_ids


def bucketed_batch_count(lengths, bucket_boundaries, batch_sizes, drop_remainder=False):
    """Batches in one pass of `bucket_by_sequence_length` over examples of `lengths`.

    Bucket `i` holds the lengths in `[boundaries[i-1], boundaries[i])` and is cut
    into batches of `batch_sizes[i]`; each bucket's remainder comes out as a last,
    smaller batch at the end of the pass (dropped with `drop_remainder`), so the
    count does not depend on the order of the examples.

    Args:
        lengths: 1-D array of example lengths.
        bucket_boundaries: strictly increasing list of ints.
        batch_sizes: `len(bucket_boundaries) + 1` batch sizes.
        drop_remainder: whether each bucket's last, smaller batch is dropped.

    Returns:
        `int`, the number of batches.
    """
    buckets = np.searchsorted(np.asarray(bucket_boundaries), np.asarray(lengths),
                              side="right")
    counts = np.bincount(buckets, minlength=len(batch_sizes))
    sizes = np.asarray(batch_sizes)
    batches = counts // sizes if drop_remainder else -(-counts // sizes)
    return int(batches.sum())


def _example_length(inputs, target_ids):
    source, _ = inputs
    return tf.maximum(tf.shape(source)[0], tf.shape(target_ids)[0])


def make_dataset(
    sources,
    targets,
    source_tokenizer,
    target_tokenizer,
    batch_size=64,
    max_source_length=None,
    max_target_length=None,
    overlong="filter",
    shuffle=True,
    seed=0,
    bucket_boundaries=None,
    token_budget=None,
    cache=True,
    prefetch=True,
    drop_remainder=False,
    shuffle_buffer_size=None,
    return_stats=False,
):
    """Builds a batched, padded training dataset of sentence pairs.

    Args:
        sources: sequence of source `str` (e.g. `Corpus.sources`).
        targets: sequence of target `str`, aligned with `sources`.
        source_tokenizer: `Tokenizer` for the sources.
        target_tokenizer: `Tokenizer` for the targets.
        batch_size: pairs per batch (unless `token_budget` is given).
        max_source_length: longest source, in tokens (`None`: no limit).
        max_target_length: longest `decoder_input_ids`/`target_ids` (target tokens
            + 1), must be >= 2 (`None`: no limit).
        overlong: "filter" drops overlong pairs; "truncate" cuts the source to
            `max_source_length` tokens and the target to `max_target_length - 1`
            tokens, so `target_ids` still ends with `[END]`. Either way they are
            counted in `PipelineStats`. Pairs with an empty source are always dropped.
        shuffle: shuffle the pairs before batching, in a new order each pass.
            Pass `e` visits the pairs in a permutation keyed on `(seed, e)` only
            (`tf.random.experimental.stateless_shuffle`), the same in any process:
            `Seq2Seq.fit` (or `keras_seq2seq.callbacks.EpochShuffle` with any
            Keras model) sets `e` to Keras's epoch number, so a run resumed by
            `BackupAndRestore` sees exactly the orders of an uninterrupted run.
            Without that callback the passes are numbered 0, 1, 2, ... in the
            process.
        seed: shuffle seed (`int`; `None` draws one from NumPy's global
            generator, which `keras.utils.set_random_seed` seeds).
        bucket_boundaries: `None` (plain padded batches), a strictly increasing list
            of lengths, or "auto" (quantiles of the lengths). A pair's length is
            `max(len(source_ids), len(target_ids))`.
        token_budget: if given, batches are sized per bucket so that
            `batch size * longest length in the bucket <= token_budget` (at least 1
            pair), replacing `batch_size`; implies `bucket_boundaries="auto"` when
            those are `None`.
        cache: cache the prepared examples in memory (the tokenization itself
            happens once, eagerly, in any case).
        prefetch: prefetch batches (`tf.data.AUTOTUNE`).
        drop_remainder: drop the last, smaller batch (of each bucket).
        shuffle_buffer_size: `None` (the default) shuffles all pairs exactly as
            described under `shuffle`; an `int` uses a `tf.data` shuffle buffer of
            that size instead (for corpora too large to permute in memory), whose
            orders are not keyed on the epoch.
        return_stats: also return a `PipelineStats`.

    Returns:
        A `tf.data.Dataset` of `((source_ids, decoder_input_ids), target_ids)`,
        int32 `(batch, S)`, `(batch, T)`, `(batch, T)`; with `return_stats=True`,
        `(dataset, stats)`.
    """
    if overlong not in OVERLONG_CHOICES:
        raise ValueError(
            f"overlong must be one of {OVERLONG_CHOICES}, got {overlong!r}."
        )
    check_int("max_source_length", max_source_length, minimum=1, allow_none=True)
    check_int("max_target_length", max_target_length, minimum=2, allow_none=True)
    check_int("token_budget", token_budget, minimum=1, allow_none=True)
    if token_budget is None and (
        not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")

    source_ids, target_ids = encode_pairs(
        sources, targets, source_tokenizer, target_tokenizer
    )
    total = int(source_ids.nrows())
    if total == 0:
        raise ValueError("make_dataset got no sentence pairs.")
    source_lengths = source_ids.row_lengths().numpy()
    target_lengths = target_ids.row_lengths().numpy() + 1

    nonempty = source_lengths > 0
    source_over = nonempty & (
        source_lengths > max_source_length if max_source_length else False
    )
    target_over = nonempty & (
        target_lengths > max_target_length if max_target_length else False
    )
    over = source_over | target_over
    keep = nonempty & ~over if overlong == "filter" else nonempty
    kept_indices = np.flatnonzero(keep)
    if kept_indices.size == 0:
        raise ValueError(
            f"No pair left out of {total}: {int((~nonempty).sum())} have an empty "
            f"source and {int(over.sum())} are overlong (overlong={overlong!r})."
        )
    source_ids = tf.gather(source_ids, kept_indices)
    target_ids = tf.gather(target_ids, kept_indices)
    if overlong == "truncate":
        if max_source_length:
            source_ids = source_ids[:, :max_source_length]
        if max_target_length:
            target_ids = target_ids[:, : max_target_length - 1]
    lengths = np.maximum(
        source_ids.row_lengths().numpy(), target_ids.row_lengths().numpy() + 1
    )

    if token_budget is not None and bucket_boundaries is None:
        bucket_boundaries = "auto"
    if isinstance(bucket_boundaries, str):
        if bucket_boundaries != "auto":
            raise ValueError(
                "bucket_boundaries must be None, 'auto' or a list, got "
                f"{bucket_boundaries!r}."
            )
        bucket_boundaries = auto_bucket_boundaries(lengths)
    elif bucket_boundaries is not None:
        bucket_boundaries = _check_boundaries(bucket_boundaries)

    stats = PipelineStats(
        total=total,
        empty_source=int((~nonempty).sum()),
        source_overlong=int(source_over.sum()),
        target_overlong=int(target_over.sum()),
        overlong=int(over.sum()),
        filtered=int(over.sum()) if overlong == "filter" else 0,
        truncated=int(over.sum()) if overlong == "truncate" else 0,
        kept=int(kept_indices.size),
        bucket_boundaries=tuple(bucket_boundaries or ()),
    )
    logger.info("make_dataset: %s", stats)

    if seed is None:
        seed = int(np.random.randint(2**31 - 1))
    counter = None
    if shuffle and shuffle_buffer_size is None:
        # In-memory ragged constants, permuted per pass: nothing to cache.
        dataset, counter = shuffled_pairs(source_ids, target_ids, seed)
        dataset = dataset.map(_add_start_end, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((source_ids, target_ids))
        dataset = dataset.map(_add_start_end, num_parallel_calls=tf.data.AUTOTUNE)
        if cache:
            dataset = dataset.cache()
        if shuffle:
            dataset = dataset.shuffle(
                max(1, min(int(shuffle_buffer_size), stats.kept)), seed=seed,
                reshuffle_each_iteration=True)

    if bucket_boundaries is None:
        dataset = dataset.padded_batch(
            batch_size, padding_values=PAD_ID, drop_remainder=drop_remainder
        )
    else:
        if token_budget is not None:
            longest = [b - 1 for b in bucket_boundaries] + [
                max(
                    int(lengths.max()),
                    bucket_boundaries[-1] if bucket_boundaries else 1,
                )
            ]
            batch_sizes = [max(1, token_budget // max(1, n)) for n in longest]
        else:
            batch_sizes = [batch_size] * (len(bucket_boundaries) + 1)
        if not bucket_boundaries:  # one bucket: all lengths equal
            dataset = dataset.padded_batch(
                batch_sizes[0], padding_values=PAD_ID, drop_remainder=drop_remainder
            )
        else:
            dataset = dataset.bucket_by_sequence_length(
                _example_length,
                bucket_boundaries,
                batch_sizes,
                padding_values=PAD_ID,
                drop_remainder=drop_remainder,
            )
            # bucket_by_sequence_length hides the size, though it follows from the
            # lengths; with an unknown size Keras warns that the input "ran out of
            # data" after the first epoch and counts its steps one ahead.
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(
                bucketed_batch_count(lengths, bucket_boundaries, batch_sizes,
                                     drop_remainder)))
    if prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
    if counter is not None:
        setattr(dataset, SHUFFLE_EPOCH_ATTRIBUTE, counter)
    if return_stats:
        return dataset, stats
    return dataset


def padding_fraction(dataset):
    """Share of padding cells in a dataset built by `make_dataset`.

    Counts `PAD_ID` cells of `source_ids` and `target_ids` (the decoder inputs pad
    exactly like the targets) over all their cells, iterating the dataset once.

    Args:
        dataset: `tf.data.Dataset` of `((source_ids, decoder_input_ids), target_ids)`.

    Returns:
        `float` in `[0, 1]`.
    """
    padding = cells = 0
    for (source, _), target in dataset.as_numpy_iterator():
        padding += int((source == PAD_ID).sum()) + int((target == PAD_ID).sum())
        cells += source.size + target.size
    return padding / cells if cells else 0.0
