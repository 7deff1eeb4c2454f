"""Tests of keras_seq2seq.text.pipelines (tiny in-memory data)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq2seq.text.pipelines import (
    PipelineStats,
    auto_bucket_boundaries,
    encode_pairs,
    make_dataset,
    padding_fraction,
    set_shuffle_epoch,
    shuffle_epoch_variable,
)
from keras_seq2seq.text.tokenizers import (
    END_ID,
    PAD_ID,
    RESERVED_TOKENS,
    START_ID,
    CharacterTokenizer,
    WordTokenizer,
)

# Source words a..e get ids 4..8, target words v..z get ids 4..8.
SOURCE = WordTokenizer(list(RESERVED_TOKENS) + ["a", "b", "c", "d", "e"])
TARGET = WordTokenizer(list(RESERVED_TOKENS) + ["v", "w", "x", "y", "z"])
SOURCES = ["a", "a b", "a b c", "a b c d e"]
TARGETS = ["v w", "v", "v w x y", "z"]


def batches(dataset):
    return [
        (source.tolist(), decoder.tolist(), target.tolist())
        for (source, decoder), target in dataset.as_numpy_iterator()
    ]


def test_structure_and_exact_values():
    dataset = make_dataset(
        SOURCES, TARGETS, SOURCE, TARGET, batch_size=2, shuffle=False
    )
    spec = tf.TensorSpec([None, None], tf.int32)
    assert dataset.element_spec == ((spec, spec), spec)
    assert batches(dataset) == [
        (
            [[4, 0], [4, 5]],
            [[START_ID, 4, 5], [START_ID, 4, 0]],
            [[4, 5, END_ID], [4, END_ID, 0]],
        ),
        (
            [[4, 5, 6, 0, 0], [4, 5, 6, 7, 8]],
            [[START_ID, 4, 5, 6, 7], [START_ID, 8, 0, 0, 0]],
            [[4, 5, 6, 7, END_ID], [8, END_ID, 0, 0, 0]],
        ),
    ]


def test_encode_pairs():
    source_ids, target_ids = encode_pairs(
        SOURCES, TARGETS, SOURCE, TARGET, chunk_size=3
    )
    assert source_ids.to_list() == [[4], [4, 5], [4, 5, 6], [4, 5, 6, 7, 8]]
    assert target_ids.to_list() == [[4, 5], [4], [4, 5, 6, 7], [8]]
    with pytest.raises(ValueError, match="aligned"):
        encode_pairs(SOURCES, TARGETS[:2], SOURCE, TARGET)


def test_overlong_filter_counts():
    dataset, stats = make_dataset(
        SOURCES + [""],
        TARGETS + ["v"],
        SOURCE,
        TARGET,
        batch_size=8,
        max_source_length=3,
        max_target_length=3,  # target tokens + 1
        shuffle=False,
        return_stats=True,
    )
    assert stats == PipelineStats(
        total=5,
        empty_source=1,
        source_overlong=1,  # "a b c d e"
        target_overlong=1,  # "v w x y" -> 5 > 3
        overlong=2,
        filtered=2,
        truncated=0,
        kept=2,
        bucket_boundaries=(),
    )
    ((source, decoder, target),) = batches(dataset)
    assert source == [[4, 0], [4, 5]] and target == [[4, 5, END_ID], [4, END_ID, 0]]


def test_overlong_truncate_keeps_end():
    dataset, stats = make_dataset(
        SOURCES,
        TARGETS,
        SOURCE,
        TARGET,
        batch_size=8,
        max_source_length=3,
        max_target_length=3,
        overlong="truncate",
        shuffle=False,
        return_stats=True,
    )
    assert (stats.overlong, stats.truncated, stats.filtered, stats.kept) == (2, 2, 0, 4)
    ((source, decoder, target),) = batches(dataset)
    assert source[3] == [4, 5, 6]
    assert target[2] == [4, 5, END_ID] and decoder[2] == [START_ID, 4, 5]
    assert max(len([t for t in row if t != PAD_ID]) for row in target) <= 3


def test_argument_checks():
    with pytest.raises(ValueError, match="overlong"):
        make_dataset(SOURCES, TARGETS, SOURCE, TARGET, overlong="drop")
    with pytest.raises(ValueError, match="max_target_length"):
        make_dataset(SOURCES, TARGETS, SOURCE, TARGET, max_target_length=1)
    with pytest.raises(ValueError, match="strictly increasing"):
        make_dataset(SOURCES, TARGETS, SOURCE, TARGET, bucket_boundaries=[3, 2])
    with pytest.raises(ValueError, match="No pair left"):
        make_dataset(
            SOURCES, TARGETS, SOURCE, TARGET, max_source_length=1, max_target_length=2
        )
    with pytest.raises(ValueError, match="aligned"):
        make_dataset(SOURCES, TARGETS[:1], SOURCE, TARGET)


def order(dataset):
    return [tuple(source[0].tolist()) for (source, _), _ in dataset.as_numpy_iterator()]


def test_shuffle_is_deterministic_and_reshuffles_each_epoch():
    sources = [" ".join(["a"] * n) for n in range(1, 31)]
    targets = ["v"] * 30
    first = make_dataset(sources, targets, SOURCE, TARGET, batch_size=1, seed=7)
    second = make_dataset(sources, targets, SOURCE, TARGET, batch_size=1, seed=7)
    other = make_dataset(sources, targets, SOURCE, TARGET, batch_size=1, seed=8)
    epochs_first = [order(first), order(first)]
    epochs_second = [order(second), order(second)]
    assert epochs_first == epochs_second
    assert epochs_first[0] != epochs_first[1]
    assert order(other) != epochs_first[0]
    assert sorted(epochs_first[0]) == sorted(
        order(
            make_dataset(sources, targets, SOURCE, TARGET, batch_size=1, shuffle=False)
        )
    )


def test_shuffled_order_of_each_epoch_is_keyed_on_seed_and_epoch():
    """Pass e of any dataset with the same seed has the same order, in any process:
    a dataset set to epoch 2 replays the third pass of one iterated from the start."""
    sources = [" ".join(["a"] * n) for n in range(1, 31)]
    targets = ["v"] * 30
    uninterrupted = make_dataset(sources, targets, SOURCE, TARGET, batch_size=1, seed=7)
    passes = [order(uninterrupted) for _ in range(4)]
    assert int(shuffle_epoch_variable(uninterrupted).numpy()) == 3
    assert len({tuple(p) for p in passes}) == 4
    resumed = make_dataset(sources, targets, SOURCE, TARGET, batch_size=1, seed=7)
    set_shuffle_epoch(resumed, 2)
    assert [order(resumed), order(resumed)] == passes[2:]
    # Each order is tf.random.experimental.stateless_shuffle of range(n), seed (7, e).
    expected = tf.random.experimental.stateless_shuffle(
        tf.range(30, dtype=tf.int64), seed=tf.constant([7, 1], tf.int64)).numpy()
    assert passes[1] == [tuple([4] * (int(i) + 1)) for i in expected]


def test_set_shuffle_epoch_errors_name_the_problem():
    plain = make_dataset(SOURCES, TARGETS, SOURCE, TARGET, shuffle=False)
    assert shuffle_epoch_variable(plain) is None
    with pytest.raises(ValueError, match="no shuffle counter"):
        set_shuffle_epoch(plain, 1)
    shuffled = make_dataset(SOURCES, TARGETS, SOURCE, TARGET)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        set_shuffle_epoch(shuffled, -1)
    from keras_seq2seq.callbacks import EpochShuffle

    with pytest.raises(ValueError, match="make_dataset"):
        EpochShuffle(shuffled.take(1))


def test_shuffle_buffer_size_keeps_a_buffered_shuffle():
    sources = [" ".join(["a"] * n) for n in range(1, 31)]
    targets = ["v"] * 30
    buffered = make_dataset(sources, targets, SOURCE, TARGET, batch_size=1, seed=7,
                            shuffle_buffer_size=8)
    assert shuffle_epoch_variable(buffered) is None
    first = order(buffered)
    assert sorted(first) == sorted(order(make_dataset(
        sources, targets, SOURCE, TARGET, batch_size=1, shuffle=False)))
    # A buffer of 8 moves no element more than 7 places ahead of its input position.
    assert all(len(t) - 1 <= position + 7 for position, t in enumerate(first))


def mixed_length_data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 60, size=n)
    sources = ["a" * int(k) for k in lengths]
    targets = ["b" * int(max(1, k + rng.integers(-3, 4))) for k in lengths]
    return sources, targets


CHARS = CharacterTokenizer(list(RESERVED_TOKENS) + ["a", "b"])


def test_bucketing_reduces_padding():
    sources, targets = mixed_length_data()
    plain = make_dataset(sources, targets, CHARS, CHARS, batch_size=16, seed=1)
    bucketed, stats = make_dataset(
        sources,
        targets,
        CHARS,
        CHARS,
        batch_size=16,
        seed=1,
        bucket_boundaries="auto",
        return_stats=True,
    )
    assert len(stats.bucket_boundaries) >= 4
    plain_fraction = padding_fraction(plain)
    bucketed_fraction = padding_fraction(bucketed)
    assert bucketed_fraction < 0.5 * plain_fraction
    count = sum(int(target.shape[0]) for (_, _), target in bucketed.as_numpy_iterator())
    assert count == len(sources)  # nothing lost in the buckets

    explicit = make_dataset(
        sources,
        targets,
        CHARS,
        CHARS,
        batch_size=16,
        bucket_boundaries=[10, 20, 30, 40, 50],
    )
    assert padding_fraction(explicit) < plain_fraction


def test_token_budget_batches():
    sources, targets = mixed_length_data()
    budget = 256
    dataset, stats = make_dataset(
        sources, targets, CHARS, CHARS, token_budget=budget, seed=2, return_stats=True
    )
    assert stats.bucket_boundaries  # implies "auto" bucketing
    sizes = []
    for (source, decoder), target in dataset.as_numpy_iterator():
        assert decoder.shape == target.shape
        longest = max(source.shape[1], target.shape[1])
        assert target.shape[0] == 1 or target.shape[0] * longest <= budget
        sizes.append(target.shape[0])
    assert sum(sizes) == len(sources) and len(set(sizes)) > 1


def test_drop_remainder_and_no_cache_or_prefetch():
    sources, targets = mixed_length_data(n=50)
    dataset = make_dataset(
        sources,
        targets,
        CHARS,
        CHARS,
        batch_size=8,
        drop_remainder=True,
        cache=False,
        prefetch=False,
    )
    shapes = [target.shape[0] for (_, _), target in dataset.as_numpy_iterator()]
    assert shapes == [8] * 6


def test_auto_bucket_boundaries():
    assert auto_bucket_boundaries([]) == []
    assert auto_bucket_boundaries([5] * 10) == []
    boundaries = auto_bucket_boundaries(np.arange(1, 101), num_buckets=4)
    assert boundaries == [26, 51, 76]


def test_padding_fraction():
    def gen():
        yield (
            np.array([[4, 0], [4, 5]], np.int32),
            np.array([[2, 4], [2, 0]], np.int32),
        ), np.array([[4, 3], [3, 0]], np.int32)

    spec = tf.TensorSpec([None, None], tf.int32)
    dataset = tf.data.Dataset.from_generator(gen, output_signature=((spec, spec), spec))
    assert padding_fraction(dataset) == pytest.approx(2 / 8)


@pytest.mark.parametrize("options", [
    {"batch_size": 16, "bucket_boundaries": "auto"},
    {"batch_size": 16, "bucket_boundaries": [10, 20, 30, 40, 50], "drop_remainder": True},
    {"token_budget": 256},
    {"batch_size": 8, "bucket_boundaries": [10, 20], "shuffle": False},
])
def test_bucketed_datasets_know_their_number_of_batches(options):
    """Keras counts steps right only for datasets of known size: the bucketed
    pipelines assert theirs, and it is the number of batches a pass yields."""
    sources, targets = mixed_length_data()
    dataset = make_dataset(sources, targets, CHARS, CHARS, seed=3, **options)
    declared = int(dataset.cardinality())
    assert declared > 0
    # assert_cardinality raises at the end of a pass whose size differs.
    for _ in range(2):
        assert sum(1 for _ in dataset) == declared


def test_bucketed_batch_count_by_hand():
    from keras_seq2seq.text.pipelines import bucketed_batch_count

    # Buckets [<3], [3, 6), [>=6] get lengths {1, 2}, {3, 5, 5, 5}, {6, 9, 9}.
    lengths = [1, 2, 3, 5, 5, 5, 6, 9, 9]
    assert bucketed_batch_count(lengths, [3, 6], [2, 3, 2]) == 1 + 2 + 2
    assert bucketed_batch_count(lengths, [3, 6], [2, 3, 2], drop_remainder=True) == 1 + 1 + 1
