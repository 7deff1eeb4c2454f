"""Decoding speed: greedy against beam search (the previous and the current one).

    python benchmarks/decoding_speed.py [--quick] [--json PATH] [--beam-width 5]

Builds the Multi30k-shaped model of `benchmarks/run.py` (embedding 256, bidirectional
GRU encoder of 256 units a direction, GRU decoder of 512, general attention,
vocabularies 8,000 / 6,000), untrained and seeded, and decodes random source ids of
10-20 tokens. As in `run.py`'s `bench_decoding`, the work is fixed: an untrained model
stops anywhere, so every call runs with `max_length` = its (made-up) reference length
+ 1 and `min_length` = that - 1, so every hypothesis runs exactly `max_length` steps.
`min_length` is passed as a tensor so that one traced function serves every call.

Three decoders run through the same wrapper (what `Seq2Seq._generate` does: encode,
`initial_step_state`, decoder over `model.decoder.step`, the source mask passed to
beam search): `greedy_decode`, the beam search before the rewrite
(`benchmarks/_beam_search_before.py`, the file as it was at the last commit) and the
current `keras_seq2seq.decoding.beam_search`.

Measured in one process, interleaved so that machine noise hits every decoder alike:

* throughput at batch 64: in every round every batch is decoded by each decoder in
  turn (the order rotates every batch); sentences/s is the median over rounds, and
  the beam/greedy time ratio is the median over (round, batch) pairs;
* single-sentence latency: each sentence is decoded by each decoder in turn (rotating
  order); p50 / p99 over the calls, and the ratio of the p50s (and of the p99s).

Before timing, the old and the new beam search are checked to give the same ids and
lengths (and close scores) on the timed batches.

* SavedModel latency (the figure a server sees): the same model, given word
  tokenizers over made-up vocabularies (8,000 / 6,000 words), is exported twice with
  `keras_seq2seq.export.export_translator` (greedy, and beam of `--beam-width`),
  both with `max_length` 20 and `min_length` 19 fixed in the export so that every
  call decodes exactly 20 steps; each is loaded with `tf.saved_model.load` and its
  `translate` signature is called on one sentence of 10-20 words at a time, the two
  exports alternating call by call. `--skip-savedmodel` leaves this out.
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

DIMS = dict(embedding_dim=256, units=512, encoder_units=256,
            source_vocabulary_size=8000, target_vocabulary_size=6000)


def build_model(seed=0):
    """The untrained Multi30k-shaped `Seq2Seq` (GRU, general attention, bidirectional)."""
    import keras

    import keras_seq2seq as ks

    keras.utils.set_random_seed(seed)
    model = ks.Seq2Seq(
        DIMS["source_vocabulary_size"], DIMS["target_vocabulary_size"],
        embedding_dim=DIMS["embedding_dim"], units=DIMS["units"],
        encoder_units=DIMS["encoder_units"], bidirectional=True, cell_type="gru",
        attention="general")
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
            ids[i, :length] = rng.integers(4, vocab, size=length)
            singles.append((ids[i:i + 1, :length].copy(), int(reference[rows][i]) + 1))
        batches.append((ids, int(reference[rows].max()) + 1))
    order = rng.permutation(len(singles))
    return batches, [singles[i] for i in order]


def make_decoders(model, beam_width):
    """Traced `(source_ids, max_length, min_length) -> (ids, lengths)` per decoder."""
    import tensorflow as tf

    from benchmarks import _beam_search_before
    from keras_seq2seq.decoding import beam_search, greedy_decode
    from keras_seq2seq.decoding.greedy import END_ID, START_ID

    def wrap(decoder, beam):
        def run(source_ids, max_length, min_length):
            memory, mask, states = model._encode(source_ids, training=False)
            state = model.decoder.initial_step_state(memory, mask, states)
            batch_size = tf.shape(source_ids)[0]
            options = dict(beam_width=beam_width, source_mask=mask) if beam else {}
            result = decoder(model.decoder.step, state, batch_size, start_id=START_ID,
                             end_id=END_ID, max_length=max_length,
                             min_length=min_length, **options)
            if beam:
                return result.ids[:, 0], result.lengths[:, 0], result.scores[:, 0]
            return result.ids, result.lengths, result.scores

        return tf.function(run, autograph=False, input_signature=[
            tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.int32)])

    return {
        "greedy": wrap(greedy_decode, False),
        "beam_old": wrap(_beam_search_before.beam_search, True),
        "beam_new": wrap(beam_search, True),
    }


def savedmodel_latency(model, beam_width, calls, seed=3):
    """p50/p99 ms of one-sentence calls of exported greedy and beam `translate`.

    Args:
        model: the untrained `Seq2Seq` of `build_model` (its weights are shared).
        beam_width: the beam width of the second export.
        calls: timed calls per export (3 more are made first, untimed).
        seed: seed of the made-up sentences.

    Returns:
        A dict with `greedy` and `beam` entries (`p50_ms`, `p99_ms`, `mean_ms`,
        `calls`) and the ratios of the beam p50 and p99 to greedy's.
    """
    import tempfile

    import tensorflow as tf

    import keras_seq2seq as ks
    from keras_seq2seq.export import export_translator
    from keras_seq2seq.text import RESERVED_TOKENS, WordTokenizer

    source_words = [f"s{i}" for i in range(DIMS["source_vocabulary_size"] - 4)]
    target_words = [f"t{i}" for i in range(DIMS["target_vocabulary_size"] - 4)]
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
    exports = {
        "greedy": export_translator(with_text, os.path.join(folder, "greedy"),
                                    max_length=20, min_length=19),
        "beam": export_translator(with_text, os.path.join(folder, "beam"),
                                  beam_width=beam_width, max_length=20, min_length=19),
    }
    loaded = {name: tf.saved_model.load(path) for name, path in exports.items()}
    endpoints = {name: module.translate for name, module in loaded.items()}
    times = {name: [] for name in endpoints}
    for j, sentence in enumerate(sentences):
        order = ["greedy", "beam"] if j % 2 == 0 else ["beam", "greedy"]
        for name in order:
            start = time.perf_counter()
            out = endpoints[name](tf.constant([sentence]))
            out["translations"].numpy()
            if j >= 3:
                times[name].append(time.perf_counter() - start)
    result = {}
    for name, values in times.items():
        values = np.array(values) * 1e3
        result[name] = {"calls": len(values), "p50_ms": float(np.percentile(values, 50)),
                        "p99_ms": float(np.percentile(values, 99)),
                        "mean_ms": float(values.mean())}
    result["beam_width"] = beam_width
    result["steps"] = 20
    result["p50_ratio"] = result["beam"]["p50_ms"] / result["greedy"]["p50_ms"]
    result["p99_ratio"] = result["beam"]["p99_ms"] / result["greedy"]["p99_ms"]
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return result


def _call(function, source, cap):
    ids, lengths, scores = function(source, np.int32(cap), np.int32(cap - 1))
    return ids.numpy(), lengths.numpy(), scores.numpy()


def timed(function, source, cap):
    start = time.perf_counter()
    out = _call(function, source, cap)
    return time.perf_counter() - start, out


def quartiles(values):
    return [float(np.percentile(values, 25)), float(np.percentile(values, 75))]


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

    import tensorflow as tf

    began = time.perf_counter()
    model = build_model()
    decoders = make_decoders(model, args.beam_width)
    names = list(decoders)
    batches, singles = make_batches(batches_n, args.batch_size)
    singles = singles[:latency_calls + 3]

    # Warm-up (one trace per decoder) and the old == new check.
    first_call = {}
    agreement = {"batches": 0, "ids_equal": True, "lengths_equal": True,
                 "max_score_difference": 0.0}
    for b, (source, cap) in enumerate(batches):
        outs = {}
        for name in names:
            seconds, outs[name] = timed(decoders[name], source, cap)
            first_call.setdefault(name, seconds)
        old, new = outs["beam_old"], outs["beam_new"]
        agreement["batches"] += 1
        agreement["ids_equal"] &= bool(np.array_equal(old[0], new[0]))
        agreement["lengths_equal"] &= bool(np.array_equal(old[1], new[1]))
        agreement["max_score_difference"] = max(
            agreement["max_score_difference"], float(np.max(np.abs(old[2] - new[2]))))
    for source, cap in singles[:3]:
        for name in names:
            _call(decoders[name], source, cap)

    # Throughput: rounds over the batches, decoders alternating batch by batch.
    seconds = {name: np.zeros((rounds, len(batches))) for name in names}
    out_lengths = {name: [] for name in names}
    turn = 0
    for r in range(rounds):
        for b, (source, cap) in enumerate(batches):
            order = names[turn % len(names):] + names[:turn % len(names)]
            turn += 1
            for name in order:
                seconds[name][r, b], out = timed(decoders[name], source, cap)
                out_lengths[name].extend(out[1].tolist())
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{n}={len(batches) * args.batch_size / seconds[n][r].sum():.1f} sent/s"
            for n in names), flush=True)
    sentences = len(batches) * args.batch_size
    throughput = {}
    for name in names:
        per_round = sentences / seconds[name].sum(axis=1)
        throughput[name] = {
            "sentences_per_second": float(np.median(per_round)),
            "range": [float(per_round.min()), float(per_round.max())],
            "mean_output_length": float(np.mean(out_lengths[name])),
        }
    for name in ("beam_old", "beam_new"):
        pairs = (seconds[name] / seconds["greedy"]).ravel()
        throughput[name]["time_ratio_to_greedy"] = float(np.median(pairs))
        throughput[name]["time_ratio_iqr"] = quartiles(pairs)
    pairs = (seconds["beam_old"] / seconds["beam_new"]).ravel()
    throughput["beam_new"]["speedup_over_old"] = float(np.median(pairs))

    # Single-sentence latency, decoders alternating call by call.
    times = {name: [] for name in names}
    for i, (source, cap) in enumerate(singles[3:]):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            times[name].append(timed(decoders[name], source, cap)[0])
    latency = {}
    for name in names:
        values = np.array(times[name]) * 1e3
        latency[name] = {"calls": len(values), "p50_ms": float(np.percentile(values, 50)),
                         "p99_ms": float(np.percentile(values, 99)),
                         "mean_ms": float(values.mean())}
    for name in ("beam_old", "beam_new"):
        latency[name]["p50_ratio_to_greedy"] = (
            latency[name]["p50_ms"] / latency["greedy"]["p50_ms"])
        latency[name]["p99_ratio_to_greedy"] = (
            latency[name]["p99_ms"] / latency["greedy"]["p99_ms"])
        per_call = np.array(times[name]) / np.array(times["greedy"])
        latency[name]["per_call_ratio_median"] = float(np.median(per_call))

    result = {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "quick": args.quick, "beam_width": args.beam_width,
        "batch_size": args.batch_size, "batches": len(batches), "rounds": rounds,
        "mean_cap": float(np.mean([cap for _, cap in batches])),
        "latency_mean_cap": float(np.mean([cap for _, cap in singles[3:]])),
        "dims": DIMS, "first_call_seconds": first_call, "old_new_agreement": agreement,
        "throughput": throughput, "latency": latency,
        "tensorflow": tf.__version__, "machine": platform.machine(),
        "cpus": os.cpu_count(), "seconds": time.perf_counter() - began,
    }

    labels = {"greedy": "greedy", "beam_old": f"beam {args.beam_width} (old)",
              "beam_new": f"beam {args.beam_width} (new)"}
    print()
    print(f"Batch {args.batch_size}, {len(batches)} batches x {rounds} rounds, "
          f"{result['mean_cap']:.1f} steps a batch on average:")
    print("| decoder | sentences/s (median, min-max) | time / greedy (median, IQR) |")
    print("|---|---|---|")
    for name in names:
        row = throughput[name]
        ratio = ("1" if name == "greedy" else
                 f"{row['time_ratio_to_greedy']:.2f} ({row['time_ratio_iqr'][0]:.2f}-"
                 f"{row['time_ratio_iqr'][1]:.2f})")
        print(f"| {labels[name]} | {row['sentences_per_second']:.1f} "
              f"({row['range'][0]:.1f}-{row['range'][1]:.1f}) | {ratio} |")
    print(f"New beam / old beam speed-up at batch {args.batch_size}: "
          f"{throughput['beam_new']['speedup_over_old']:.2f}x")
    print()
    print(f"Single sentence, {latency['greedy']['calls']} calls, "
          f"{result['latency_mean_cap']:.1f} steps on average:")
    print("| decoder | p50 ms | p99 ms | p50 / greedy | p99 / greedy | per-call ratio |")
    print("|---|---|---|---|---|---|")
    for name in names:
        row = latency[name]
        extra = ("1 | 1 | 1" if name == "greedy" else
                 f"{row['p50_ratio_to_greedy']:.2f} | {row['p99_ratio_to_greedy']:.2f} | "
                 f"{row['per_call_ratio_median']:.2f}")
        print(f"| {labels[name]} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {extra} |")
    print()
    print(f"old vs new beam on the timed batches: ids equal {agreement['ids_equal']}, "
          f"lengths equal {agreement['lengths_equal']}, max |score difference| "
          f"{agreement['max_score_difference']:.2e}; {result['seconds']:.0f} s in all")
    if not args.skip_savedmodel:
        saved = savedmodel_latency(model, args.beam_width, latency_calls)
        result["savedmodel_latency"] = saved
        print()
        print(f"SavedModel `translate`, one sentence a call, {saved['steps']} steps, "
              f"{saved['greedy']['calls']} calls each:")
        print("| export | p50 ms | p99 ms | mean ms |")
        print("|---|---|---|---|")
        for name in ("greedy", "beam"):
            row = saved[name]
            label = "greedy" if name == "greedy" else f"beam {args.beam_width}"
            print(f"| {label} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
                  f"{row['mean_ms']:.1f} |")
        print(f"beam / greedy: p50 {saved['p50_ratio']:.2f}x, p99 "
              f"{saved['p99_ratio']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
