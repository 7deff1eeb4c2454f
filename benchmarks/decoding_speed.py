"""Decoding speed: greedy decoding against beam search, in memory and through SavedModels.

    python benchmarks/decoding_speed.py [--quick] [--json PATH] [--beam-width 5]

Builds the Multi30k-shaped model of the other benchmarks (`benchmarks/common.py`:
embedding 256, bidirectional GRU encoder of 256 units a direction, GRU decoder of 512,
general attention, vocabularies 8,000 / 6,000), untrained and seeded, and decodes
random source ids of 10-20 tokens. As in `generate_speed.py`, the work is fixed: an
untrained model stops anywhere, so every call runs with `max_length` = its (made-up)
reference length + 1 and `min_length` = that - 1, so every hypothesis runs exactly
`max_length` steps. `min_length` is passed as a tensor so that one traced function
serves every call.

Both decoders run through `model.search` in one traced function each (what
`generate` runs: encode, `initial_step_state`, the decoder over `model.decoder.step`,
the source mask passed to beam search): `keras_seq2seq.decoding.greedy_decode` and
`beam_search`. (The beam
search before its step-record rewrite, which this script also timed, was
`benchmarks/_beam_search_before.py`; it is in the git history.)

The third decoder is `benchmarks/baseline.py`'s plain-Keras twin of the same shape
(same seed) with the greedy decoder one writes for it by hand
(`baseline.make_greedy_decoder`: the teacher-forced model rerun on the growing prefix,
its call in a `tf.function` over unknown shapes), on the same sentences and for the
same number of steps.

Measured in one process, interleaved so that machine noise hits the decoders alike:

* throughput at batch 64: in every round every batch is decoded by each decoder in
  turn (the order rotates every batch); sentences/s is the median over rounds, and
  the beam/greedy time ratio is the median over (round, batch) pairs;
* single-sentence latency: each sentence is decoded by each decoder in turn (rotating
  order); p50 / p99 over the calls, and the ratio of the p50s (and of the p99s);
* SavedModel latency (the figure a server sees): the same model, given word
  tokenizers over made-up vocabularies (8,000 / 6,000 words), is exported twice with
  `keras_seq2seq.export.export_translator` (greedy, and beam of `--beam-width`),
  both with `max_length` 20 and `min_length` 19 fixed in the export so that every
  call decodes exactly 20 steps; each is loaded with `tf.saved_model.load` and its
  `translate` signature is called on one sentence of 10-20 words at a time, the two
  exports alternating call by call. `--skip-savedmodel` leaves this out.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.common import RESERVED_TOKENS  # noqa: E402

DIMS = {k: v for k, v in common.FULL_DIMS.items() if k != "batch_size"}
NAMES = ("greedy", "beam", "baseline")


def build_model(seed=0):
    """The untrained Multi30k-shaped `Seq2Seq` (GRU, general attention, bidirectional)."""
    model = common.build_model(common.spec("ours"), DIMS, seed=seed)
    model((np.ones((1, 3), np.int32), np.ones((1, 2), np.int32)))  # build
    return model


def make_batches(count, batch_size, seed=1):
    """`count` length-bucketed batches of random source ids and reference lengths.

    Returns:
        A list of `(source_ids (batch_size, Ts) int32, cap)` where `cap` is the
        longest made-up reference length of the batch + 1 (for `[END]`), and the
        list of `(source_ids (1, Ts), cap)` single sentences (every sentence of the
        batches, with its own cap).
    """
    rng = np.random.default_rng(seed)
    n = count * batch_size
    source_lengths = np.sort(rng.integers(10, 21, size=n))
    # reference length: about the source length (De->En), at least 5
    reference = np.maximum(source_lengths + rng.integers(-3, 2, size=n), 5)
    vocab = DIMS["source_vocabulary_size"]
    batches, singles = [], []
    for b in range(count):
        rows = slice(b * batch_size, (b + 1) * batch_size)
        lengths = source_lengths[rows]
        ids = np.zeros((batch_size, lengths.max()), np.int32)
        for i, length in enumerate(lengths):
            ids[i, :length] = rng.integers(len(RESERVED_TOKENS), vocab, size=length)
            singles.append((ids[i:i + 1, :length].copy(), int(reference[rows][i]) + 1))
        batches.append((ids, int(reference[rows].max()) + 1))
    order = rng.permutation(len(singles))
    return batches, [singles[i] for i in order]


def make_baseline_decoder(seed=0):
    """`benchmarks/baseline.py`'s plain-Keras twin of the same shape and its greedy
    decoder (the whole model rerun on the growing prefix, in a `tf.function`), with
    the interface of `make_decoders`; it runs `max_length` steps, as ours do."""
    from benchmarks.baseline import make_greedy_decoder

    twin = common.build_model(common.spec("baseline"), DIMS, seed=seed)
    decode = make_greedy_decoder(twin)

    class Ids:  # the `.numpy()` interface of the traced decoders' outputs
        def __init__(self, value):
            self.value = value

        def numpy(self):
            return self.value

    def run(source_ids, max_length, min_length):
        del min_length  # no early stop: always `max_length` steps
        ids = decode(np.asarray(source_ids), int(max_length), stop_at_end=False)
        rows = ids.shape[0]
        return (Ids(ids), Ids(np.full(rows, ids.shape[1], np.int32)),
                Ids(np.zeros(rows, np.float32)))

    return run


def search_function(model, method, beam_width=None, jit_compile=False):
    """`(source_ids, max_length, min_length) -> (ids, lengths, scores)`: `model.search`
    in one `tf.function` (beam search gives its best hypothesis); with `jit_compile`
    XLA-compiled (one program per source shape and `max_length`)."""
    import tensorflow as tf

    def run(source_ids, max_length, min_length):
        options = {"beam_width": beam_width} if method == "beam" else {}
        result = model.search(source_ids, max_length, method=method,
                              min_length=min_length, **options)
        if method == "beam":
            return result.ids[:, 0], result.lengths[:, 0], result.scores[:, 0]
        return result.ids, result.lengths, result.scores

    return tf.function(run, autograph=False, jit_compile=jit_compile, input_signature=[
        tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.int32)])


def make_decoders(model, beam_width):
    """Traced `(source_ids, max_length, min_length) -> (ids, lengths, scores)` per
    decoder: `model.search` (what `generate` runs, without its checks and cache), and
    the plain-Keras twin's greedy decoder (`make_baseline_decoder`)."""
    decoders = {name: search_function(model, name, beam_width)
                for name in ("greedy", "beam")}
    decoders["baseline"] = make_baseline_decoder()
    return decoders


def savedmodel_latency(model, beam_width, calls, seed=3):
    """p50/p99 ms of one-sentence calls of exported greedy and beam `translate`.

    Four exports of the same weights: greedy and beam, each with the default
    `jit_compile="auto"` (a single-sentence call runs the XLA-compiled search) and
    with `jit_compile=False` (the graph, what every export ran before). Before the
    timed calls each export translates one sentence of 10 and one of 20 words (the
    two source-length buckets of 8 ids the timed sentences fall in: XLA compiles
    one program per bucket), timed apart as `first_calls_s`.

    Args:
        model: the untrained `Seq2Seq` of `build_model` (its weights are shared).
        beam_width: the beam width of the beam exports.
        calls: timed calls per export (3 more are made first, untimed).
        seed: seed of the made-up sentences.

    Returns:
        A dict with `greedy`, `beam`, `greedy_graph` and `beam_graph` entries
        (`p50_ms`, `p99_ms`, `mean_ms`, `calls`), `first_calls_s`, the ratios of the
        beam p50 and p99 to greedy's (`p50_ratio`, `p99_ratio`, XLA exports) and of
        each graph export's p50 to its XLA export's (`xla_speedup`).
    """
    import tensorflow as tf

    import keras_seq2seq as ks
    from keras_seq2seq.export import export_translator
    from keras_seq2seq.text import WordTokenizer

    reserved = len(RESERVED_TOKENS)
    source_words = [f"s{i}" for i in range(DIMS["source_vocabulary_size"] - reserved)]
    target_words = [f"t{i}" for i in range(DIMS["target_vocabulary_size"] - reserved)]
    config = model.get_config()
    config.update(
        source_tokenizer=WordTokenizer(list(RESERVED_TOKENS) + source_words,
                                       name="source_tokenizer"),
        target_tokenizer=WordTokenizer(list(RESERVED_TOKENS) + target_words,
                                       name="target_tokenizer"))
    with_text = ks.Seq2Seq.from_config(config)
    with_text.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    sentences = [" ".join(rng.choice(source_words, size=int(rng.integers(10, 21))))
                 for _ in range(calls + 3)]
    folder = tempfile.mkdtemp(prefix="decoding_speed_")
    settings = {"greedy": {}, "beam": {"beam_width": beam_width}}
    exports = {}
    for name, options in settings.items():
        for suffix, jit in (("", "auto"), ("_graph", False)):
            exports[name + suffix] = export_translator(
                with_text, os.path.join(folder, name + suffix), max_length=20,
                min_length=19, jit_compile=jit, **options)
    loaded = {name: tf.saved_model.load(path) for name, path in exports.items()}
    endpoints = {name: module.translate for name, module in loaded.items()}
    first_calls = {}
    for name, endpoint in endpoints.items():
        for words in (10, 20):
            start = time.perf_counter()
            endpoint(tf.constant([" ".join(source_words[:words])]))["translations"].numpy()
            first_calls[f"{name}_{words}_words"] = time.perf_counter() - start
    times = {name: [] for name in endpoints}
    for j, sentence in enumerate(sentences):
        for name in common.rotated(list(endpoints), j):
            start = time.perf_counter()
            out = endpoints[name](tf.constant([sentence]))
            out["translations"].numpy()
            if j >= 3:
                times[name].append(time.perf_counter() - start)
    result = {name: common.latency_summary(values) for name, values in times.items()}
    result.update(beam_width=beam_width, steps=20, first_calls_s=first_calls)
    result["p50_ratio"] = result["beam"]["p50_ms"] / result["greedy"]["p50_ms"]
    result["p99_ratio"] = result["beam"]["p99_ms"] / result["greedy"]["p99_ms"]
    result["xla_speedup"] = {
        name: result[name + "_graph"]["p50_ms"] / result[name]["p50_ms"]
        for name in settings}
    shutil.rmtree(folder, ignore_errors=True)
    return result


def timed(function, source, cap):
    start = time.perf_counter()
    ids, lengths, scores = function(source, np.int32(cap), np.int32(cap - 1))
    out = ids.numpy(), lengths.numpy(), scores.numpy()
    return time.perf_counter() - start, out


def throughput(decoders, batches, rounds, batch_size):
    """Sentences/s per decoder (rounds over the batches, decoders alternating)."""
    seconds = {name: np.zeros((rounds, len(batches))) for name in NAMES}
    out_lengths = {name: [] for name in NAMES}
    turn = 0
    for r in range(rounds):
        for b, (source, cap) in enumerate(batches):
            for name in common.rotated(NAMES, turn):
                seconds[name][r, b], out = timed(decoders[name], source, cap)
                out_lengths[name].extend(out[1].tolist())
            turn += 1
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{n}={len(batches) * batch_size / seconds[n][r].sum():.1f} sent/s"
            for n in NAMES), flush=True)
    result = {}
    for name in NAMES:
        per_round = len(batches) * batch_size / seconds[name].sum(axis=1)
        result[name] = {"sentences_per_second": float(np.median(per_round)),
                        "range": [float(per_round.min()), float(per_round.max())],
                        "mean_output_length": float(np.mean(out_lengths[name]))}
    for name in ("beam", "baseline"):
        pairs = (seconds[name] / seconds["greedy"]).ravel()
        result[name].update(time_ratio_to_greedy=float(np.median(pairs)),
                            time_ratio_iqr=common.quartiles(pairs))
    return result


def latency(decoders, singles):
    """p50 / p99 ms per decoder of single sentences, decoders alternating call by call."""
    times = {name: [] for name in NAMES}
    for i, (source, cap) in enumerate(singles):
        for name in common.rotated(NAMES, i):
            times[name].append(timed(decoders[name], source, cap)[0])
    result = {name: common.latency_summary(times[name]) for name in NAMES}
    greedy = result["greedy"]
    for name in ("beam", "baseline"):
        result[name].update(
            p50_ratio_to_greedy=result[name]["p50_ms"] / greedy["p50_ms"],
            p99_ratio_to_greedy=result[name]["p99_ms"] / greedy["p99_ms"],
            per_call_ratio_median=float(np.median(
                np.array(times[name]) / np.array(times["greedy"]))))
    return result


def print_tables(result, labels):
    """The in-memory throughput and latency tables."""
    tp, lat = result["throughput"], result["latency"]
    print(f"\nBatch {result['batch_size']}, {result['batches']} batches x "
          f"{result['rounds']} rounds, {result['mean_cap']:.1f} steps a batch on average:")
    ratios = {"greedy": "1"}
    for name in ("beam", "baseline"):
        iqr = tp[name]["time_ratio_iqr"]
        ratios[name] = (f"{tp[name]['time_ratio_to_greedy']:.2f} "
                        f"({iqr[0]:.2f}-{iqr[1]:.2f})")
    print(common.table(
        ["decoder", "sentences/s (median, min-max)", "time / greedy (median, IQR)"],
        [[labels[name], f"{tp[name]['sentences_per_second']:.1f} "
          f"({tp[name]['range'][0]:.1f}-{tp[name]['range'][1]:.1f})", ratios[name]]
         for name in NAMES]))
    print(f"\nSingle sentence, {lat['greedy']['calls']} calls, "
          f"{result['latency_mean_cap']:.1f} steps on average:")
    extra = {"greedy": ["1", "1", "1"]}
    for name in ("beam", "baseline"):
        extra[name] = [f"{lat[name][key]:.2f}" for key in (
            "p50_ratio_to_greedy", "p99_ratio_to_greedy", "per_call_ratio_median")]
    print(common.table(
        ["decoder", "p50 ms", "p99 ms", "p50 / greedy", "p99 / greedy", "per-call ratio"],
        [[labels[name], f"{lat[name]['p50_ms']:.1f}", f"{lat[name]['p99_ms']:.1f}"]
         + extra[name] for name in NAMES]))
    print(f"({result['seconds']:.0f} s for the in-memory measurements)")


def print_savedmodel_table(saved, labels):
    print(f"\nSavedModel `translate`, one sentence a call, {saved['steps']} steps, "
          f"{saved['greedy']['calls']} calls each:")
    rows = []
    for name in ("greedy", "beam"):
        for suffix, how in (("", "XLA (jit_compile auto, the default)"),
                            ("_graph", "graph (jit_compile=False)")):
            entry = saved[name + suffix]
            first = saved["first_calls_s"]
            rows.append([labels[name], how, f"{entry['p50_ms']:.1f}",
                         f"{entry['p99_ms']:.1f}", f"{entry['mean_ms']:.1f}",
                         f"{first[name + suffix + '_10_words']:.2f} / "
                         f"{first[name + suffix + '_20_words']:.2f}"])
    print(common.table(["export", "search", "p50 ms", "p99 ms", "mean ms",
                        "first call s (10 / 20 words)"], rows))
    print(f"beam / greedy (XLA): p50 {saved['p50_ratio']:.2f}x, "
          f"p99 {saved['p99_ratio']:.2f}x; graph p50 / XLA p50: greedy "
          f"{saved['xla_speedup']['greedy']:.2f}x, beam {saved['xla_speedup']['beam']:.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 batches, 3 rounds, 30 latency calls (under a minute)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    parser.add_argument("--beam-width", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--latency-calls", type=int, default=None)
    parser.add_argument("--skip-savedmodel", action="store_true",
                        help="leave out the SavedModel translate latency")
    args = parser.parse_args(argv)
    batches_n = args.batches or (3 if args.quick else 6)
    rounds = args.rounds or (3 if args.quick else 5)
    latency_calls = args.latency_calls or (30 if args.quick else 100)

    began = time.perf_counter()
    model = build_model()
    decoders = make_decoders(model, args.beam_width)
    batches, singles = make_batches(batches_n, args.batch_size)
    singles = singles[:latency_calls + 3]
    first_call = {}
    for source, cap in batches:  # warm-up: one trace per decoder
        for name in NAMES:
            first_call.setdefault(name, timed(decoders[name], source, cap)[0])
    for source, cap in singles[:3]:
        for name in NAMES:
            timed(decoders[name], source, cap)
    result = {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "quick": args.quick, "beam_width": args.beam_width,
        "batch_size": args.batch_size, "batches": len(batches), "rounds": rounds,
        "mean_cap": float(np.mean([cap for _, cap in batches])),
        "latency_mean_cap": float(np.mean([cap for _, cap in singles[3:]])),
        "dims": DIMS, "first_call_seconds": first_call,
        "throughput": throughput(decoders, batches, rounds, args.batch_size),
        "latency": latency(decoders, singles[3:]),
        "meta": common.machine_info(),
    }
    result["seconds"] = time.perf_counter() - began
    labels = {"greedy": "greedy", "beam": f"beam {args.beam_width}",
              "baseline": "plain-Keras twin, greedy (prefix rerun)"}
    print_tables(result, labels)
    if not args.skip_savedmodel:
        result["savedmodel_latency"] = savedmodel_latency(model, args.beam_width,
                                                          latency_calls)
        print_savedmodel_table(result["savedmodel_latency"], labels)
    common.write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
