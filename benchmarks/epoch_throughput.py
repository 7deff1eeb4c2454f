"""Tokens per wall-clock second of whole `fit` passes, each model fed as a user feeds it.

    python benchmarks/epoch_throughput.py [--smoke | --quick] [--pairs N] [--rounds N]
                                          [--json PATH] [--data DIR]

`training_speed.py` times single steps on identical, length-sorted batches: it
measures the models and hides the input pipeline. This script times `model.fit` over
the same Multi30k pairs (a seeded random subset of `--pairs`, batch size 128,
teacher forcing, Adam, float32 unless `--precision` says otherwise) fed four ways:

* `twin_random`: `benchmarks/baseline.py`'s plain-Keras twin on shuffled batches
  padded to their longest sentence (`tf.data.Dataset.from_generator`), the way the
  hand-written reference (`../shared/reference/keras_baseline.py`) feeds it: the
  twin as a user gets it.
* `twin_bucketed`: the twin fit on our pipeline's dataset itself (below): the best
  input plain Keras can express (it is `tf.data`'s `bucket_by_sequence_length`
  over tokenized pairs), batch for batch what `ours` gets (with
  `keras_seq2seq.callbacks.EpochShuffle`, as `Seq2Seq.fit` adds it, every pass of
  both is the pipeline's epoch-0 order).
* `ours_random`: our `Seq2Seq` on `twin_random`'s batches (what our loss gains by
  projecting only the non-pad tokens, at the same padding).
* `ours`: our `Seq2Seq` on `keras_seq2seq.text.make_dataset(...,
  bucket_boundaries="auto")`, the recommended recipe's pipeline.

Every configuration first runs one untimed pass (tracing every batch shape), then
the configurations take turns, one timed pass each a round (the order rotating).
Throughput = the pairs' non-pad target tokens (the same for every configuration) /
the pass's wall seconds; a ratio against `twin_random` is computed per round and the
median over rounds is reported. On a shared machine a pass's speed can swing by
±40 % between rounds; for a ratio to trust, run two configurations as a pinned pair
(one process a core, `taskset -c N ... --threads 1 --configs X`, at the same time,
then the cores swapped).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.common import spec  # noqa: E402

CONFIGS = ("twin_random", "twin_bucketed", "ours_random", "ours")
REFERENCE = "twin_random"
MODES = {"smoke": dict(pairs=96, rounds=1), "quick": dict(pairs=3840, rounds=2),
         "default": dict(pairs=7680, rounds=3)}


def random_batches(source, target, batch_size, seed=0):
    """Shuffled batches padded to their longest sentence (the reference's feed).

    Returns:
        A list of `((source_ids, decoder_input_ids), target_ids)` int32 arrays.
    """
    order = np.random.default_rng(seed).permutation(len(source))
    return [_as_arrays(common.make_batch([source[i] for i in order[s:s + batch_size]],
                                         [target[i] for i in order[s:s + batch_size]]))
            for s in range(0, len(order), batch_size)]


def _as_arrays(batch):
    return (batch["source"], batch["decoder_input"]), batch["target"]


def pipeline_batches(raw_source, raw_target, tokenizers, batch_size, seed=0):
    """`(make_dataset(..., bucket_boundaries="auto"), one pass of it as numpy)`."""
    from keras_seq2seq.text import make_dataset

    dataset = make_dataset(raw_source, raw_target, *tokenizers, batch_size=batch_size,
                           bucket_boundaries="auto", seed=seed)
    return dataset, [((s.numpy(), d.numpy()), t.numpy()) for (s, d), t in dataset]


def feed(batches):
    """A `tf.data.Dataset` that yields `batches` (numpy) in order, as a generator
    feeds them."""
    import tensorflow as tf

    def generate():
        yield from batches

    ids = tf.TensorSpec([None, None], tf.int32)
    return tf.data.Dataset.from_generator(
        generate, output_signature=((ids, ids), ids)).prefetch(tf.data.AUTOTUNE)


def target_tokens(batches):
    return int(sum((t != common.PAD_ID).sum() for _, t in batches))


def padded_positions(batches):
    """(target, source) positions the batches hold, pads included."""
    return (int(sum(t.size for _, t in batches)),
            int(sum(s.size for (s, _), _ in batches)))


def run(ctx, pairs, rounds, policy, configs=CONFIGS, log=common.log):
    corpus = ctx["corpus"]
    subset = np.sort(np.random.default_rng(1).permutation(corpus["num_pairs"])[:pairs])
    source = [corpus["source"][i] for i in subset]
    target = [corpus["target"][i] for i in subset]
    raw = ([corpus["raw_source"][i] for i in subset],
           [corpus["raw_target"][i] for i in subset])
    batch_size = ctx["dims"]["batch_size"]
    tokenizers = (corpus["source_tokenizer"], corpus["target_tokenizer"])
    shuffled = random_batches(source, target, batch_size)
    ours_dataset, bucketed = pipeline_batches(*raw, tokenizers, batch_size)
    tokens = target_tokens(shuffled)
    if target_tokens(bucketed) != tokens:
        raise SystemExit(f"the pipelines hold different tokens: {target_tokens(bucketed)} "
                         f"against {tokens} (a pair was dropped or re-tokenized)")
    feeds = {"twin_random": lambda: feed(shuffled), "twin_bucketed": lambda: ours_dataset,
             "ours_random": lambda: feed(shuffled), "ours": lambda: ours_dataset}
    kinds = {"twin_random": "baseline", "twin_bucketed": "baseline",
             "ours_random": "ours", "ours": "ours"}
    from keras_seq2seq.callbacks import EpochShuffle

    callbacks = {name: [] for name in configs}
    callbacks["twin_bucketed"] = [EpochShuffle(ours_dataset)]
    models, warm = {}, {}
    for name in configs:  # build all first (build_model seeds the global RNG)
        models[name] = common.build_model(spec(kinds[name], policy=policy), ctx["dims"])
    for name in configs:
        start = time.perf_counter()
        models[name].fit(feeds[name](), epochs=1, verbose=0, callbacks=callbacks[name])
        warm[name] = time.perf_counter() - start
        log(f"  warmed {name} in {warm[name]:.1f}s")
    seconds = {name: [] for name in configs}
    for r in range(rounds):
        for name in common.rotated(configs, r):
            start = time.perf_counter()
            models[name].fit(feeds[name](), epochs=1, verbose=0,
                             callbacks=callbacks[name])
            seconds[name].append(time.perf_counter() - start)
        log(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{name}={tokens / seconds[name][-1]:,.0f} tok/s" for name in configs))
    positions = {"random": padded_positions(shuffled), "bucketed": padded_positions(bucketed)}
    rows = []
    reference = REFERENCE if REFERENCE in configs else configs[0]
    for name in configs:
        ratios = [seconds[reference][r] / seconds[name][r] for r in range(rounds)]
        batches = bucketed if name in ("twin_bucketed", "ours") else shuffled
        rows.append({"id": name, "tokens_per_second": tokens / common.median(seconds[name]),
                     "seconds": seconds[name], "warm_seconds": warm[name],
                     "ratio_vs_reference": common.median(ratios),
                     "ratio_range": common.spread(ratios), "batches": len(batches),
                     "padded_target_positions": padded_positions(batches)[0],
                     "padded_source_positions": padded_positions(batches)[1]})
    return {"pairs": len(source), "target_tokens": tokens, "batch_size": batch_size,
            "reference": reference,
            "rounds": rounds, "policy": policy, "positions": positions, "rows": rows}


def throughput_table(result):
    fmt = common.fmt
    tokens = result["target_tokens"]
    return common.table(
        ["config", "batches", "target positions / token", "tokens/s (median pass)",
         f"vs {result['reference']} [min–max]", "pass s (median)"],
        [[row["id"], row["batches"], fmt(row["padded_target_positions"] / tokens),
          f"{row['tokens_per_second']:,.0f}",
          f"{fmt(row['ratio_vs_reference'])}× [{fmt(row['ratio_range'][0])}–"
          f"{fmt(row['ratio_range'][1])}]", fmt(common.median(row["seconds"]), 1)]
         for row in result["rows"]])


def main(argv=None):
    parser = common.make_parser(__doc__)
    parser.add_argument("--pairs", type=int, help="training pairs a pass")
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS),
                        help="configurations to run (the first is the reference when "
                             "twin_random is left out)")
    parser.add_argument("--threads", type=int,
                        help="TensorFlow intra- and inter-op threads (pinned pairs: "
                             "one process a core with `taskset`, --threads 1)")
    parser.add_argument("--precision", default="float32",
                        help="dtype policy of every model, or 'auto' "
                             "(keras_seq2seq.precision.resolve_precision)")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "default"
    settings = dict(MODES[mode])
    settings.update({k: v for k, v in (("pairs", args.pairs), ("rounds", args.rounds))
                     if v})
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from keras_seq2seq import precision

    policy, reason = precision.resolve_precision(args.precision)
    common.log(f"precision: {policy} ({reason})")
    return common.run_benchmark(
        "epoch_throughput.py", argv, args, "epoch_throughput",
        lambda ctx: run(ctx, settings["pairs"], settings["rounds"], policy,
                        tuple(args.configs)),
        throughput_table)


if __name__ == "__main__":
    main()
