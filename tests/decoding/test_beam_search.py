"""Tests of `keras_seq2seq.decoding.beam_search` with fake step functions."""

import importlib
import itertools
import math

import numpy as np
import pytest
import tensorflow as tf

from keras_seq2seq.decoding import BeamSearchResult, beam_search, greedy_decode
from keras_seq2seq.decoding.beam_search import (
    CHUNKED_TOP_K_MIN_VOCAB,
    best_extensions,
    coverage_log_sum,
    flatten_beams,
    gather_beams,
    gnmt_length_penalty,
    tile_beams,
    unflatten_beams,
)
from keras_seq2seq.decoding.beams import _chunk_size

# The module (the package's `beam_search` attribute is the function).
beam_search_module = importlib.import_module("keras_seq2seq.decoding.beam_search")

PAD, UNK, START, END, A, B = range(6)
VOCAB = 6
TS = 3


class TreeModel:
    """A fake model whose next-token distribution depends on the whole prefix.

    Every batch example has its own tree `{prefix: {token: probability}}`; prefixes
    missing from a tree use `default`. The state holds the prefix's node id in a
    complete `VOCAB`-ary tree, so the logits and the attention of a step depend on the
    whole history of the hypothesis (beam reorderings included).
    """

    def __init__(self, trees, depth, default=None, attention=None, seed=0):
        self.depth = depth
        self.prefixes = [p for d in range(depth + 1)
                         for p in itertools.product(range(VOCAB), repeat=d)]
        self.num_nodes = len(self.prefixes)
        default = default or {END: 0.97, A: 0.01, B: 0.01, PAD: 0.004, UNK: 0.003,
                              START: 0.003}
        rng = np.random.default_rng(seed)
        logits, attn = [], []
        for example, tree in enumerate(trees):
            table = np.zeros((self.num_nodes, VOCAB))
            for prefix in self.prefixes:
                probs = np.zeros(VOCAB)
                for token, p in tree.get(prefix, default).items():
                    probs[token] = p
                table[self._node(prefix)] = np.log(np.maximum(probs, 1e-20))
            logits.append(table)
            if attention is None:
                weights = rng.uniform(0.05, 1.0, size=(self.num_nodes, TS))
                attn.append(weights / weights.sum(-1, keepdims=True))
            else:
                attn.append(attention[example](self))
        self.logits = np.concatenate(logits).astype(np.float32)
        self.attention = np.concatenate(attn).astype(np.float32)
        self.calls = 0

    def _node(self, prefix):
        node = 0
        for token in prefix:
            node = node * VOCAB + token + 1
        return node

    def initial_state(self, batch_size):
        return {
            "t": tf.zeros([batch_size], tf.int32),
            "node": tf.zeros([batch_size], tf.int32),
            "tree": tf.range(batch_size, dtype=tf.int32),
        }

    def step(self, tokens, state):
        self.calls += 1
        node = tf.where(tf.equal(state["t"], 0), state["node"],
                        state["node"] * VOCAB + tokens + 1)
        node = tf.minimum(node, self.num_nodes - 1)
        row = state["tree"] * self.num_nodes + node
        logits = tf.gather(tf.constant(self.logits), row)
        attention = tf.gather(tf.constant(self.attention), row)
        new_state = {"t": state["t"] + 1, "node": node, "tree": state["tree"]}
        return logits, new_state, attention

    def attention_of(self, example, tokens):
        """The expected `(len(tokens), TS)` attention history of a hypothesis."""
        rows = [example * self.num_nodes + self._node(tokens[:t])
                for t in range(len(tokens))]
        return self.attention[rows]

    def logits_of(self, example, prefix):
        return self.logits[example * self.num_nodes + self._node(prefix)]


def run(model, batch_size, **kwargs):
    result = beam_search(model.step, model.initial_state(batch_size), batch_size,
                         **kwargs)
    return BeamSearchResult(*[x.numpy() for x in result])


def padded(tokens, length):
    return list(tokens) + [PAD] * (length - len(tokens))


def check_attention(model, result, example, rank, tokens):
    expected = np.zeros_like(result.attention[example, rank])
    expected[:len(tokens)] = model.attention_of(example, tokens)
    np.testing.assert_allclose(result.attention[example, rank], expected, atol=1e-6)


# Greedy takes A (0.6) then A A END (0.24); beam 2 finds B A END (0.36).
GREEDY_TRAP = {
    (): {A: 0.6, B: 0.4},
    (A,): {A: 0.4, B: 0.35, END: 0.25},
    (A, A): {END: 1.0},
    (A, B): {END: 1.0},
    (B,): {A: 0.9, END: 0.1},
    (B, A): {END: 1.0},
}


def test_beam_finds_better_sequence_than_greedy():
    model = TreeModel([GREEDY_TRAP], depth=4)
    greedy = greedy_decode(model.step, model.initial_state(1), 1, max_length=4)
    assert greedy.ids.numpy().tolist() == [[A, A, END, PAD]]
    np.testing.assert_allclose(greedy.scores.numpy(), [math.log(0.24)], atol=1e-5)

    result = run(model, 1, beam_width=2, max_length=4)
    assert result.ids.tolist() == [[[B, A, END, PAD]]]
    assert result.lengths.tolist() == [[2]]
    np.testing.assert_allclose(result.scores, [[math.log(0.36)]], atol=1e-5)
    check_attention(model, result, 0, 0, [B, A, END])


def test_nbest_ordering_scores_and_attention():
    model = TreeModel([GREEDY_TRAP], depth=4)
    result = run(model, 1, beam_width=2, num_return=2, max_length=4)
    assert result.ids.tolist() == [[[B, A, END, PAD], [A, A, END, PAD]]]
    assert result.lengths.tolist() == [[2, 2]]
    np.testing.assert_allclose(result.scores, [[math.log(0.36), math.log(0.24)]],
                               atol=1e-5)
    check_attention(model, result, 0, 0, [B, A, END])
    check_attention(model, result, 0, 1, [A, A, END])

    # Beam 3 keeps A B too: A B END (0.21) ranks third.
    result = run(model, 1, beam_width=3, num_return=3, max_length=4)
    assert result.ids[0, :, :3].tolist() == [[B, A, END], [A, A, END], [A, B, END]]
    np.testing.assert_allclose(
        result.scores[0], np.log([0.36, 0.24, 0.21]), atol=1e-5)
    for rank, tokens in enumerate([[B, A, END], [A, A, END], [A, B, END]]):
        check_attention(model, result, 0, rank, tokens)


# END at once (0.3) competes with longer hypotheses; A A A END (0.45*0.9*0.9 = 0.3645)
# wins, A END (0.045) finishes at step 1, B END (0.25*0.8 = 0.2) at step 1.
EARLY_END = {
    (): {A: 0.45, END: 0.3, B: 0.25},
    (A,): {A: 0.9, END: 0.1},
    (A, A): {A: 0.9, END: 0.1},
    (A, A, A): {END: 1.0},
    (B,): {END: 0.8, A: 0.2},
    (B, A): {END: 1.0},
}


def test_per_hypothesis_stopping_keeps_finished_hypotheses():
    model = TreeModel([EARLY_END], depth=5)
    result = run(model, 1, beam_width=3, num_return=3, max_length=5)
    # Step 0: END (0.3) finishes with length 0; A, B live.
    # Step 1: A A .405, B END .2, B A .05 -> B END finishes; A A, B A live.
    # Step 2: A A A .3645, A A END .0405, B A END .05 -> top 3 all compete.
    assert result.ids[0].tolist() == [
        [A, A, A, END, PAD], [END, PAD, PAD, PAD, PAD], [B, END, PAD, PAD, PAD]]
    assert result.lengths.tolist() == [[3, 0, 1]]
    np.testing.assert_allclose(result.scores[0], np.log([0.3645, 0.3, 0.2]),
                               atol=1e-5)
    check_attention(model, result, 0, 0, [A, A, A, END])
    check_attention(model, result, 0, 1, [END])
    check_attention(model, result, 0, 2, [B, END])


def test_stops_once_no_live_hypothesis_can_win():
    # Root: END 0.7 is the best candidate; the live A (0.3) can never beat it.
    tree = {(): {END: 0.7, A: 0.3}}
    tree.update({(A,) * n: {A: 0.99, END: 0.01} for n in range(1, 6)})
    model = TreeModel([tree], depth=5)
    result = run(model, 1, beam_width=2, max_length=5)
    assert model.calls == 1
    assert result.ids.tolist() == [[[END] + [PAD] * 4]]
    assert result.lengths.tolist() == [[0]]
    np.testing.assert_allclose(result.scores, [[math.log(0.7)]], atol=1e-5)
    # For two hypotheses, A A ... stays better than every finished one but END, so
    # the search runs to the cap, where the live A A A A A finishes without [END].
    model.calls = 0
    result = run(model, 1, beam_width=2, num_return=2, max_length=5)
    assert model.calls == 5
    assert result.ids[0, 1].tolist() == [A] * 5
    assert result.lengths.tolist() == [[0, 5]]
    np.testing.assert_allclose(result.scores[0], np.log([0.7, 0.3 * 0.99 ** 4]),
                               atol=1e-5)


# END at once: 0.5 (|Y| = 1); A B END: 0.45 * 0.9 * 1.0 = 0.405 (|Y| = 3).
SHORT_LONG = {
    (): {END: 0.5, A: 0.45, B: 0.05},
    (A,): {B: 0.9, END: 0.1},
    (A, B): {END: 1.0},
}


def test_length_penalty_changes_the_winner():
    model = TreeModel([SHORT_LONG], depth=5)
    plain = run(model, 1, beam_width=2, max_length=5)
    assert plain.ids[0, 0, :1].tolist() == [END]
    np.testing.assert_allclose(plain.scores, [[math.log(0.5)]], atol=1e-5)

    # alpha = 1: lp(1) = 6/6 = 1, lp(3) = 8/6; log(0.405) / (8/6) = -0.678 > -0.693.
    penalised = run(model, 1, beam_width=2, num_return=2, max_length=5,
                    length_penalty=1.0)
    assert penalised.ids[0, :, :3].tolist() == [[A, B, END], [END, PAD, PAD]]
    assert penalised.lengths.tolist() == [[2, 0]]
    np.testing.assert_allclose(
        penalised.scores[0], [math.log(0.405) / (8 / 6), math.log(0.5)], atol=1e-5)


def _coverage_attention(model):
    # Source positions 0 and 1 are real, 2 is padding (never attended to).
    table = np.zeros((model.num_nodes, TS))
    table[:, :2] = 0.5
    return table


def test_coverage_penalty_on_a_hand_example():
    # END at once (0.5): coverage [0.5, 0.5] -> cp = beta * 2 log 0.5.
    # A END (0.4): coverage [1, 1] -> cp = 0.
    tree = {(): {END: 0.5, A: 0.4, B: 0.1}, (A,): {END: 1.0}, (B,): {END: 1.0}}
    model = TreeModel([tree], depth=3, attention=[_coverage_attention])
    plain = run(model, 1, beam_width=2, max_length=3)
    assert plain.ids[0, 0, :1].tolist() == [END]

    expected_ids = [[A, END, PAD], [END, PAD, PAD]]
    expected_scores = [math.log(0.4), math.log(0.5) + 2 * math.log(0.5)]
    for mask in (None, tf.constant([[True, True, False]])):
        result = run(model, 1, beam_width=2, num_return=2, max_length=3,
                     coverage_penalty=1.0, source_mask=mask)
        assert result.ids[0].tolist() == expected_ids
        np.testing.assert_allclose(result.scores[0], expected_scores, atol=1e-5)
        np.testing.assert_allclose(result.attention[0, 0],
                                   [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0, 0, 0]],
                                   atol=1e-6)


def test_coverage_log_sum_handles_padding():
    attention = tf.constant([[[0.5, 0.2, 0.0], [0.7, 0.2, 0.0]]])  # (1, 2 steps, 3)
    expected = math.log(1.0) + math.log(0.4)
    np.testing.assert_allclose(coverage_log_sum(attention).numpy(), [expected],
                               atol=1e-6)
    mask = tf.constant([[True, True, False]])
    np.testing.assert_allclose(coverage_log_sum(attention, mask).numpy(), [expected],
                               atol=1e-6)
    # A real position never attended to gets a very low but finite penalty.
    mask = tf.constant([[True, True, True]])
    value = coverage_log_sum(attention, mask).numpy()
    assert np.isfinite(value).all() and value[0] < -20
    np.testing.assert_allclose(gnmt_length_penalty(3, 1.0).numpy(), 8 / 6, rtol=1e-6)
    np.testing.assert_allclose(gnmt_length_penalty(1, 0.6).numpy(), 1.0, rtol=1e-6)


LONG = {(A,) * n: {A: 0.9, B: 0.05, END: 0.05} for n in range(0, 6)}


def test_max_lengths_caps_each_example():
    model = TreeModel([LONG, LONG, LONG], depth=5)
    result = run(model, 3, beam_width=2, max_length=5,
                 max_lengths=tf.constant([1, 3, 0]))
    assert result.ids[:, 0].tolist() == [
        padded([A], 5), padded([A, A, A], 5), padded([], 5)]
    assert result.lengths[:, 0].tolist() == [1, 3, 0]
    np.testing.assert_allclose(
        result.scores[:, 0], [math.log(0.9), 3 * math.log(0.9), 0.0], atol=1e-5)
    check_attention(model, result, 1, 0, [A, A, A])
    np.testing.assert_array_equal(result.attention[2, 0], 0.0)
    # A capped example stays as it was while the others go on, even when longer
    # hypotheses would score better (certain continuations with a length penalty).
    sure = {(): {A: 0.5, B: 0.3, END: 0.2}}
    sure.update({(A,) * n: {A: 1.0} for n in range(1, 6)})
    model = TreeModel([sure, sure], depth=5)
    result = run(model, 2, beam_width=2, num_return=2, max_length=5,
                 max_lengths=tf.constant([1, 5]), length_penalty=1.0)
    assert result.ids[0].tolist() == [padded([A], 5), padded([B], 5)]
    assert result.lengths[0].tolist() == [1, 1]
    np.testing.assert_allclose(result.scores[0], np.log([0.5, 0.3]), atol=1e-5)
    assert result.ids[1, 0].tolist() == [A] * 5
    np.testing.assert_allclose(result.scores[1, 0], math.log(0.5) / (10 / 6),
                               atol=1e-5)
    # Without caps the buffer length caps them all.
    result = run(model, 1, beam_width=2, max_length=4)
    assert result.ids[0, 0].tolist() == [A, A, A, A]
    assert result.lengths.tolist() == [[4]]


def test_min_length_forbids_early_end():
    tree = {(): {END: 0.8, A: 0.2}, (A,): {END: 0.7, B: 0.3}, (A, B): {END: 1.0}}
    model = TreeModel([tree], depth=4)
    free = run(model, 1, beam_width=2, max_length=4)
    assert free.ids[0, 0, :1].tolist() == [END]
    result = run(model, 1, beam_width=2, num_return=2, max_length=4, min_length=2)
    # [END] is masked at steps 0 and 1, so the renormalised first steps give A (1.0)
    # then B (1.0) and END (1.0).
    assert result.ids[0, 0].tolist() == [A, B, END, PAD]
    assert result.lengths[0, 0] == 2
    np.testing.assert_allclose(result.scores[0, 0], 0.0, atol=1e-5)
    assert (result.lengths >= 2).all()


def test_batch_with_different_stopping_times():
    quick = {(): {END: 0.9, A: 0.1}}
    model = TreeModel([quick, EARLY_END], depth=5)
    result = run(model, 2, beam_width=3, num_return=2, max_length=5)
    assert result.ids[0, 0].tolist() == padded([END], 5)
    np.testing.assert_allclose(result.scores[0, 0], math.log(0.9), atol=1e-5)
    assert result.ids[1].tolist() == [padded([A, A, A, END], 5), padded([END], 5)]
    assert result.lengths.tolist()[1] == [3, 0]
    np.testing.assert_allclose(result.scores[1], np.log([0.3645, 0.3]), atol=1e-5)
    check_attention(model, result, 1, 0, [A, A, A, END])
    check_attention(model, result, 0, 0, [END])


def _reference_beam(model, example, beams, num_return, length, cap, min_length,
                    alpha, beta):
    """A plain-Python beam search with the same rules, over hypothesis lists."""

    def log_softmax(x):
        x = np.asarray(x, np.float64)
        return x - np.log(np.sum(np.exp(x - x.max()))) - x.max()

    def score(log_prob, size, tokens):
        value = log_prob
        if alpha:
            value /= ((5.0 + size) ** alpha) / (6.0 ** alpha)
        if beta:
            coverage = model.attention_of(example, tokens).sum(0)
            real = coverage > 0
            value += beta * np.sum(np.log(np.clip(coverage[real], 1e-10, 1.0)))
        return value

    if cap == 0:
        return [((), 0, 0.0)]
    alive, finished = [((), 0.0)], []
    for step in range(length):
        candidates = []
        for prefix, log_prob in alive:
            logits = model.logits_of(example, prefix).astype(np.float64)
            if step < min_length:
                logits[END] -= 1e9
            for token, value in enumerate(log_softmax(logits)):
                candidates.append((prefix + (token,), log_prob + value))
        candidates.sort(key=lambda c: -c[1])
        for tokens, log_prob in candidates[:beams]:
            if tokens[-1] == END and step >= min_length:
                finished.append((tokens, step, score(log_prob, step + 1, tokens)))
        alive = [c for c in candidates if c[0][-1] != END][:beams]
        if step + 1 >= cap:
            for tokens, log_prob in alive:
                finished.append((tokens, step + 1, score(log_prob, step + 1, tokens)))
            finished.sort(key=lambda f: -f[2])
            break
        finished.sort(key=lambda f: -f[2])
        finished = finished[:beams]
        bound = alive[0][1]
        if alpha:
            bound = max(bound / (((5.0 + step + 2) / 6.0) ** alpha),
                        bound / (((5.0 + cap) / 6.0) ** alpha))
        if len(finished) >= num_return and finished[num_return - 1][2] >= bound:
            break
    return finished[:num_return]


@pytest.mark.parametrize(
    "beams,num_return,alpha,beta,min_length",
    [(3, 3, 0.0, 0.0, 0), (4, 2, 0.8, 0.4, 1), (2, 1, 1.5, 0.0, 2)],
)
def test_matches_a_plain_python_beam_search(beams, num_return, alpha, beta,
                                            min_length):
    rng = np.random.default_rng(beams)
    prefixes = [p for d in range(5) for p in itertools.product(range(VOCAB), repeat=d)]
    trees = []
    for _ in range(3):
        tree = {}
        for prefix in prefixes:
            probs = rng.dirichlet(np.ones(VOCAB) * 0.7)
            tree[prefix] = dict(enumerate(probs))
        trees.append(tree)
    model = TreeModel(trees, depth=5, seed=beams)
    caps = [5, 3, 4]
    result = run(model, 3, beam_width=beams, num_return=num_return, max_length=5,
                 max_lengths=tf.constant(caps), min_length=min_length,
                 length_penalty=alpha, coverage_penalty=beta)
    for example in range(3):
        expected = _reference_beam(model, example, beams, num_return, 5,
                                   caps[example], min_length, alpha, beta)
        for rank, (tokens, size, value) in enumerate(expected):
            assert result.ids[example, rank].tolist() == padded(tokens, 5)
            assert result.lengths[example, rank] == size
            np.testing.assert_allclose(result.scores[example, rank], value, atol=1e-4)
            check_attention(model, result, example, rank, list(tokens))


class RandomModel:
    """Logits from a fixed random matrix indexed by the step and the previous token."""

    def __init__(self, vocab_size=8, steps=12, end_bias=0.0, seed=0):
        rng = np.random.default_rng(seed)
        weights = rng.normal(0.0, 2.0, size=(steps, vocab_size, vocab_size))
        weights[:, :, END] += end_bias
        self.weights = tf.constant(weights, tf.float32)
        self.attention = tf.nn.softmax(
            tf.constant(rng.normal(size=(steps, vocab_size, 5)), tf.float32))
        self.bias = tf.constant(rng.normal(size=(16, vocab_size)), tf.float32)

    def initial_state(self, batch_size):
        return (tf.zeros([batch_size], tf.int32), self.bias[:batch_size])

    def step(self, tokens, state):
        t, bias = state
        index = tf.stack([t, tokens], axis=-1)
        logits = tf.gather_nd(self.weights, index) + bias
        attention = tf.gather_nd(self.attention, index)
        return logits, (t + 1, bias), attention


@pytest.mark.parametrize("kwargs", [
    {},
    {"max_lengths": tf.constant([3, 10, 0, 7, 1, 10, 5, 2]), "min_length": 2},
])
def test_beam_width_one_equals_greedy(kwargs):
    model = RandomModel(end_bias=1.5)
    state = model.initial_state(8)
    greedy = greedy_decode(model.step, state, 8, max_length=10, **kwargs)
    beam = beam_search(model.step, state, 8, beam_width=1, max_length=10, **kwargs)
    np.testing.assert_array_equal(beam.ids.numpy()[:, 0], greedy.ids.numpy())
    np.testing.assert_array_equal(beam.lengths.numpy()[:, 0], greedy.lengths.numpy())
    np.testing.assert_array_equal(beam.scores.numpy()[:, 0], greedy.scores.numpy())
    np.testing.assert_array_equal(beam.attention.numpy()[:, 0],
                                  greedy.attention.numpy())
    assert len(set(greedy.lengths.numpy().tolist())) > 2


def test_beam_width_one_equals_greedy_on_the_tree_models():
    model = TreeModel([GREEDY_TRAP, EARLY_END, SHORT_LONG], depth=4)
    greedy = greedy_decode(model.step, model.initial_state(3), 3, max_length=4)
    beam = run(model, 3, beam_width=1, max_length=4)
    np.testing.assert_array_equal(beam.ids[:, 0], greedy.ids.numpy())
    np.testing.assert_array_equal(beam.lengths[:, 0], greedy.lengths.numpy())
    np.testing.assert_array_equal(beam.scores[:, 0], greedy.scores.numpy())


def test_runs_inside_tf_function_without_autograph():
    model = TreeModel([GREEDY_TRAP, EARLY_END], depth=5)
    kwargs = dict(beam_width=3, num_return=2, max_length=5, length_penalty=0.6,
                  coverage_penalty=0.2)
    eager = run(model, 2, **kwargs)

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.int32)])
    def decode(tree):
        batch_size = tf.shape(tree)[0]
        state = {"t": tf.zeros_like(tree), "node": tf.zeros_like(tree), "tree": tree}
        return beam_search(model.step, state, batch_size, **kwargs)

    traced = decode(tf.constant([0, 1]))
    assert traced.attention.shape.rank == 4
    for expected, actual in zip(eager, traced):
        np.testing.assert_allclose(actual.numpy(), expected, atol=1e-6)


def test_helpers_and_argument_checks():
    state = {"a": tf.constant([[1], [2]]), "b": (tf.constant([5, 6]),)}
    tiled = tile_beams(state, 2)
    assert tiled["a"].numpy().tolist() == [[1], [1], [2], [2]]
    gathered = gather_beams(tiled, tf.constant([3, 0, 1, 1]))
    assert gathered["b"][0].numpy().tolist() == [6, 5, 5, 5]
    values = tf.reshape(tf.range(24), [2, 3, 4])
    flat = flatten_beams(values)
    assert flat.shape == (6, 4) and flat[4].numpy().tolist() == [16, 17, 18, 19]
    assert unflatten_beams(flat, 3).numpy().tolist() == values.numpy().tolist()
    model = TreeModel([GREEDY_TRAP], depth=2)
    with pytest.raises(ValueError, match="num_return=3"):
        run(model, 1, beam_width=2, num_return=3)
    with pytest.raises(ValueError, match="beam_width=0"):
        run(model, 1, beam_width=0)
    with pytest.raises(ValueError, match="coverage_penalty=-1"):
        run(model, 1, coverage_penalty=-1.0)


# Outputs of the beam search as it was before the step records and the two-stage
# top-k (the version that carried and reordered whole token and attention histories),
# on `RandomModel`s: the rewrite must give the same hypotheses.
RECORDED = [
    (dict(vocab_size=8, end_bias=0.5, seed=3), 4,
     dict(beam_width=4, num_return=4, max_length=8, max_lengths=[8, 3, 0, 6],
          min_length=1, length_penalty=0.6, coverage_penalty=0.3),
     [[[5, 5, 6, 7, 3, 0, 0, 0], [5, 5, 6, 7, 7, 1, 5, 7], [5, 5, 6, 7, 7, 1, 5, 5],
       [5, 5, 6, 7, 5, 6, 7, 1]],
      [[5, 5, 6, 0, 0, 0, 0, 0], [5, 5, 2, 0, 0, 0, 0, 0], [2, 0, 2, 0, 0, 0, 0, 0],
       [2, 0, 0, 0, 0, 0, 0, 0]],
      [[0] * 8] * 4,
      [[5, 5, 6, 7, 3, 0, 0, 0], [0, 3, 0, 0, 0, 0, 0, 0], [6, 6, 3, 0, 0, 0, 0, 0],
       [5, 5, 6, 7, 7, 1, 0, 0]]],
     [[4, 8, 8, 8], [3, 3, 3, 3], [0, 0, 0, 0], [4, 1, 2, 6]],
     [[-2.546304, -2.754412, -2.971569, -3.037711],
      [-2.359426, -2.869139, -3.132548, -3.341091],
      [0.0, -np.inf, -np.inf, -np.inf],
      [-2.791761, -3.206668, -3.270053, -3.354770]]),
    (dict(vocab_size=4, seed=4), 2, dict(beam_width=5, num_return=5, max_length=3),
     [[[3, 0, 0], [1, 1, 0], [1, 3, 0], [1, 2, 1], [1, 0, 1]],
      [[3, 0, 0], [1, 2, 1], [1, 3, 0], [2, 0, 3], [2, 0, 1]]],
     [[0, 3, 1, 3, 3], [0, 3, 1, 2, 3]],
     [[-0.298381, -2.495016, -2.818507, -3.368139, -3.378544],
      [-0.103167, -3.622110, -3.771824, -4.336128, -4.344382]]),
    # A vocabulary too small to fill the beam: the last slot stays empty.
    (dict(vocab_size=4, seed=4), 2,
     dict(beam_width=5, num_return=5, max_length=2, max_lengths=[1, 2]),
     [[[3, 0], [1, 0], [2, 0], [0, 0], [0, 0]],
      [[3, 0], [1, 2], [2, 0], [1, 3], [1, 1]]],
     [[0, 1, 1, 1, 0], [0, 2, 2, 1, 2]],
     [[-0.298381, -1.426849, -4.184608, -5.918415, -np.inf],
      [-0.103167, -3.422065, -3.596752, -3.771824, -4.860708]]),
]


@pytest.mark.parametrize("case", range(len(RECORDED)))
def test_same_hypotheses_as_the_recorded_search(case):
    model_kwargs, batch_size, kwargs, ids, lengths, scores = RECORDED[case]
    model = RandomModel(**model_kwargs)
    kwargs = dict(kwargs)
    if "max_lengths" in kwargs:
        kwargs["max_lengths"] = tf.constant(kwargs["max_lengths"])
    result = beam_search(model.step, model.initial_state(batch_size), batch_size,
                         **kwargs)
    assert result.ids.numpy().tolist() == ids
    assert result.lengths.numpy().tolist() == lengths
    np.testing.assert_allclose(result.scores.numpy(), scores, atol=1e-5)
    # The attention of each output step is that of the row the hypothesis went
    # through: rebuild it by replaying each hypothesis through the model.
    attention = result.attention.numpy()
    for example in range(batch_size):
        for rank in range(kwargs["num_return"]):
            tokens = ids[example][rank]
            steps = (lengths[example][rank]
                     + (tokens[lengths[example][rank]] == END
                        if lengths[example][rank] < len(tokens) else 0))
            if scores[example][rank] == -np.inf:
                steps = 0
            expected = np.zeros_like(attention[example, rank])
            previous = START
            for t in range(steps):
                index = tf.constant([[t, previous]])
                expected[t] = tf.gather_nd(model.attention, index).numpy()[0]
                previous = tokens[t]
            np.testing.assert_allclose(attention[example, rank], expected, atol=1e-6)


def test_best_extensions_is_exactly_one_top_k():
    rng = np.random.default_rng(0)
    for _ in range(150):
        vocab_size = int(rng.integers(7, 300))
        k = int(rng.integers(1, min(vocab_size, 12) + 1))
        rows = int(rng.integers(1, 7))
        if rng.random() < 0.5:  # few distinct values: many ties
            values = rng.integers(0, int(rng.integers(1, 5)), size=(rows, vocab_size))
            values = values.astype(np.float32) * 0.5 - 3.0
        else:
            values = rng.normal(size=(rows, vocab_size)).astype(np.float32)
        values[rng.random(values.shape) < 0.1] = -np.inf
        offsets = rng.normal(size=(rows, 1)).astype(np.float32) * 100.0
        offsets[rng.random(offsets.shape) < 0.3] = -np.inf  # dead beams
        offsets[rng.random(offsets.shape) < 0.2] = 0.0
        # chunk sizes that divide the vocabulary or not (the last chunk is padded)
        chunk_size = max(1, min(int(rng.integers(1, vocab_size + 3)), vocab_size // k))
        expected = tf.math.top_k(offsets + values, k=k)
        actual = best_extensions(tf.constant(values), tf.constant(offsets), k,
                                 chunk_size=chunk_size)
        np.testing.assert_array_equal(actual[0].numpy(), expected[0].numpy())
        np.testing.assert_array_equal(actual[1].numpy(), expected[1].numpy())
    assert _chunk_size(6000, 6) == 75 and _chunk_size(8000, 6) == 80
    assert _chunk_size(CHUNKED_TOP_K_MIN_VOCAB - 1, 6) is None


class LargeVocabularyModel:
    """A small recurrent model over a large vocabulary, with coarse (tied) logits."""

    def __init__(self, vocab_size=1500, units=8, seed=0):
        rng = np.random.default_rng(seed)
        self.embedding = tf.constant(rng.normal(size=(vocab_size, units)), tf.float32)
        self.recurrent = tf.constant(rng.normal(size=(units, units)) / units ** 0.5,
                                     tf.float32)
        self.output = tf.constant(rng.normal(size=(units, vocab_size)) * 2.0, tf.float32)
        self.keys = tf.constant(rng.normal(size=(units, TS)), tf.float32)

    def initial_state(self, batch_size):
        return {"h": tf.zeros([batch_size, self.recurrent.shape[0]]),
                "memory": tf.reshape(tf.range(batch_size * 4, dtype=tf.float32),
                                     [batch_size, 4])}

    def step(self, tokens, state):
        h = tf.tanh(tf.matmul(state["h"], self.recurrent)
                    + tf.gather(self.embedding, tokens)
                    + 0.01 * state["memory"][:, :1])
        logits = tf.round(tf.matmul(h, self.output))  # integers: many tied candidates
        attention = tf.nn.softmax(tf.matmul(h, self.keys))
        return logits, {"h": h, "memory": state["memory"]}, attention


@pytest.mark.parametrize("kwargs", [
    dict(beam_width=4, num_return=3),
    dict(beam_width=1, min_length=3),
    dict(beam_width=5, num_return=5, length_penalty=0.6, coverage_penalty=0.2,
         max_lengths=tf.constant([6, 2, 9])),
])
def test_large_vocabulary_two_stage_top_k_changes_nothing(kwargs, monkeypatch):
    model = LargeVocabularyModel()
    assert _chunk_size(1500, kwargs["beam_width"] + 1) is not None
    state = model.initial_state(3)
    chunked = beam_search(model.step, state, 3, max_length=9, end_id=7, **kwargs)
    monkeypatch.setattr(beam_search_module, "CHUNKED_TOP_K_MIN_VOCAB", 10 ** 9)
    plain = beam_search(model.step, state, 3, max_length=9, end_id=7, **kwargs)
    for actual, expected in zip(chunked, plain):
        np.testing.assert_array_equal(actual.numpy(), expected.numpy())
    if kwargs["beam_width"] == 1:
        greedy = greedy_decode(model.step, state, 3, max_length=9, end_id=7,
                               min_length=3)
        np.testing.assert_array_equal(chunked.ids.numpy()[:, 0], greedy.ids.numpy())
        np.testing.assert_array_equal(chunked.scores.numpy()[:, 0],
                                      greedy.scores.numpy())


def test_state_leaves_returned_untouched_then_replaced():
    # Eagerly, `step_fn` hands the node leaf back untouched at the first step (its
    # value does not change there) and replaces it afterwards: from then on it must
    # follow the reordered beams. Without `reorder_state` no leaf is told apart by
    # identity: every one is gathered.
    model = TreeModel([GREEDY_TRAP, EARLY_END], depth=5)
    calls = []

    def step(tokens, state):
        logits, new_state, attention = model.step(tokens, state)
        calls.append(None)
        if len(calls) == 1:
            new_state = dict(new_state, node=state["node"])
        return logits, new_state, attention

    kwargs = dict(beam_width=3, num_return=3, max_length=5)
    expected = run(model, 2, **kwargs)
    result = beam_search(step, model.initial_state(2), 2, **kwargs)
    for actual, wanted in zip(result, expected):
        np.testing.assert_array_equal(actual.numpy(), wanted)


def random_trees(seed, depth, count):
    """`count` trees with a random next-token distribution at every prefix.

    Args:
        seed: int, the seed of the numpy generator.
        depth: int, trees cover the prefixes of fewer than `depth` tokens.
        count: int, the number of trees (batch examples).

    Returns:
        A list of `count` `{prefix: {token: probability}}` dicts for `TreeModel`.
    """
    rng = np.random.default_rng(seed)
    prefixes = [p for d in range(depth)
                for p in itertools.product(range(VOCAB), repeat=d)]
    return [{p: dict(enumerate(rng.dirichlet(np.ones(VOCAB)))) for p in prefixes}
            for _ in range(count)]


@pytest.mark.parametrize("graph", [False, True])
def test_state_leaf_replaced_then_untouched_still_follows_the_beams(graph):
    # A leaf that differs between beams must be reordered at every step once
    # `step_fn` has replaced it, even after a step that hands it back untouched (the
    # same tensor object): the generic path gathers every leaf at every step.
    model = TreeModel(random_trees(7, depth=6, count=3), depth=6)

    def make_step(copy_untouched):
        calls = []

        def step(tokens, state):
            logits, new_state, attention = model.step(tokens, state)
            calls.append(None)
            # The logits depend on the leaf as it comes in.
            logits = logits + 5.0 * tf.one_hot(state["saved"] % VOCAB, VOCAB)
            if len(calls) % 2 or graph:  # replaced by the current node
                saved = state["node"] + 1
            else:  # handed back, as the same tensor or as a copy
                saved = tf.identity(state["saved"]) if copy_untouched else state["saved"]
            return logits, dict(new_state, saved=saved), attention

        return step

    def decode(step):
        state = dict(model.initial_state(3), saved=tf.zeros([3], tf.int32))
        kwargs = dict(beam_width=3, num_return=3, max_length=6)
        if graph:
            return tf.function(lambda s: beam_search(step, s, 3, **kwargs),
                               autograph=False)(state)
        return beam_search(step, state, 3, **kwargs)

    expected = decode(make_step(copy_untouched=True))
    assert expected.lengths.numpy().max() >= 4  # 5 steps or more
    result = decode(make_step(copy_untouched=False))
    for actual, wanted in zip(result, expected):
        np.testing.assert_array_equal(actual.numpy(), wanted.numpy())


class SourceSideModel(TreeModel):
    """`TreeModel` with a source-side leaf `memory`, handed back as it comes in.

    `memory` `(rows, VOCAB)` biases the logits; its rows are the same on all the beams
    of an example, so reordering the beams need not move it. `reorder` is the
    declared reordering: it gathers the other leaves only, and records its calls.
    """

    def __init__(self, trees, depth):
        super().__init__(trees, depth)
        self.reorder_calls = []
        self.memories_seen = []

    def initial_state(self, batch_size):
        memory = tf.reshape(tf.range(batch_size * VOCAB, dtype=tf.float32) % 5,
                            [batch_size, VOCAB]) * 0.3
        return dict(super().initial_state(batch_size), memory=memory)

    def step(self, tokens, state):
        self.memories_seen.append(state["memory"])
        inner = {key: value for key, value in state.items() if key != "memory"}
        logits, new_state, attention = super().step(tokens, inner)
        return (logits + state["memory"], dict(new_state, memory=state["memory"]),
                attention)

    def reorder(self, state, rows):
        self.reorder_calls.append(rows)
        return {key: value if key == "memory" else tf.gather(value, rows)
                for key, value in state.items()}


@pytest.mark.parametrize("graph", [False, True])
def test_declared_reorder_state_is_called_and_used(graph):
    trees = random_trees(3, depth=5, count=2)
    kwargs = dict(beam_width=3, num_return=3, max_length=5, coverage_penalty=0.1)

    def decode(model, reorder_state):
        def search(state):
            return beam_search(model.step, state, 2, reorder_state=reorder_state,
                               **kwargs)
        if graph:
            search = tf.function(search, autograph=False)
        return BeamSearchResult(*[x.numpy() for x in search(model.initial_state(2))])

    generic_model = SourceSideModel(trees, depth=5)
    generic = decode(generic_model, None)
    model = SourceSideModel(trees, depth=5)
    declared = decode(model, model.reorder)
    assert generic.lengths.max() >= 3
    for actual, expected in zip(declared, generic):
        np.testing.assert_array_equal(actual, expected)

    # Called once a step (traced once in a graph) on int32 (batch * beams,) rows.
    assert len(model.reorder_calls) == (1 if graph else model.calls)
    assert graph or model.calls >= 3
    for rows in model.reorder_calls:
        assert rows.dtype == tf.int32 and rows.shape.as_list() in ([6], [None])
    if not graph:
        # Its state is the one `step_fn` is given: the source-side leaf is never
        # gathered (the very tensor tiled at the start), unlike on the generic path.
        assert all(m is model.memories_seen[0] for m in model.memories_seen)
        seen = generic_model.memories_seen
        assert not any(m is seen[0] for m in seen[1:])

    # A declared reordering that moves nothing is followed too: the output changes.
    frozen = decode(SourceSideModel(trees, depth=5), lambda state, rows: state)
    assert not all(np.array_equal(a, b) for a, b in zip(frozen, generic))


def test_reorder_state_must_be_callable():
    model = TreeModel([GREEDY_TRAP], depth=2)
    with pytest.raises(ValueError, match="reorder_state='rows'"):
        run(model, 1, beam_width=2, reorder_state="rows")
