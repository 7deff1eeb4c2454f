"""Tokens per second of whole passes over the same pairs, each model fed as a user
feeds it: the padding a pipeline leaves, and what the package does with it.

    python benchmarks/epoch_throughput.py [--smoke | --quick] [--pairs N] [--rounds N]
                                          [--configs ...] [--threads N] [--json PATH]

`training_speed.py` times single steps on identical, length-sorted batches: it
measures the models and hides the batching. This script trains on the same Multi30k
pairs (a seeded random subset of `--pairs`, batches of 128, teacher forcing, Adam,
float32 unless `--precision` says otherwise), batched two ways, with two models:

* `twin_random`: `benchmarks/baseline.py`'s plain-Keras twin on shuffled batches
  padded to their longest sentence, the way the hand-written reference
  (`../shared/reference/keras_baseline.py`) batches: the twin as a user gets it.
* `twin_bucketed`: the twin on the batches of our pipeline (below): the best
  batching plain Keras can express (`tf.data`'s `bucket_by_sequence_length`, which
  our pipeline uses).
* `ours_random`: our `Seq2Seq` on `twin_random`'s batches (what our loss gains by
  projecting only the non-pad tokens, at the same padding).
* `ours`: our `Seq2Seq` on the first pass of `keras_seq2seq.text.make_dataset(...,
  bucket_boundaries="auto")`, the recommended recipe's pipeline.
* `twin_bucketed_auto`, `ours_auto` (not run unless named in `--configs`): the same
  two under the policy `precision.resolve_precision("auto")` picks on this machine
  (mixed_bfloat16 where a bfloat16 matmul measures faster, else float32), whatever
  `--precision` says: `ours_auto` is the recommended recipe's training path, and
  `twin_bucketed_auto` the twin at its best plain-Keras setting (the same policy).

Every configuration first runs one untimed pass (tracing every batch shape). Then
each round is one pass of every configuration *in lockstep*: the k-th batch of each
configuration (the order rotating), then the (k+1)-th, by `train_on_batch`, so a
shared machine's drift (a pass's speed swung by ±40 % between minutes here) falls on
all configurations alike. A pass's time is the sum of its steps: the batches are
prepared beforehand, so the tf.data pipeline's own time is not in it (it is
measured by `data_pipeline.py` and `epoch_split.py`). Throughput = the pairs' non-pad
target tokens (the same for every configuration) / the pass's seconds; the ratio
against `twin_random` is computed per round, and its median over rounds reported.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.common import spec  # noqa: E402

CONFIGS = ("twin_random", "twin_bucketed", "ours_random", "ours", "twin_bucketed_auto",
           "ours_auto")
DEFAULT_CONFIGS = CONFIGS[:4]
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
    """The first pass of `make_dataset(..., bucket_boundaries="auto")`, as numpy
    batches `((source_ids, decoder_input_ids), target_ids)`."""
    from keras_seq2seq.text import make_dataset

    dataset = make_dataset(raw_source, raw_target, *tokenizers, batch_size=batch_size,
                           bucket_boundaries="auto", seed=seed)
    return [((s.numpy(), d.numpy()), t.numpy()) for (s, d), t in dataset]


def target_tokens(batches):
    return int(sum((t != common.PAD_ID).sum() for _, t in batches))


def padded_positions(batches):
    """(target, source) positions the batches hold, pads included."""
    return (int(sum(t.size for _, t in batches)),
            int(sum(s.size for (s, _), _ in batches)))


def run(ctx, pairs, rounds, policy, configs=DEFAULT_CONFIGS, log=common.log,
        auto_policy="float32"):
    corpus = ctx["corpus"]
    subset = np.sort(np.random.default_rng(1).permutation(corpus["num_pairs"])[:pairs])
    source = [corpus["source"][i] for i in subset]
    target = [corpus["target"][i] for i in subset]
    raw = ([corpus["raw_source"][i] for i in subset],
           [corpus["raw_target"][i] for i in subset])
    batch_size = ctx["dims"]["batch_size"]
    tokenizers = (corpus["source_tokenizer"], corpus["target_tokenizer"])
    shuffled = random_batches(source, target, batch_size)
    bucketed = pipeline_batches(*raw, tokenizers, batch_size)
    tokens = target_tokens(shuffled)
    if target_tokens(bucketed) != tokens:
        raise SystemExit(f"the pipelines hold different tokens: {target_tokens(bucketed)} "
                         f"against {tokens} (a pair was dropped or re-tokenized)")
    kinds = {"twin_random": "baseline", "twin_bucketed": "baseline",
             "ours_random": "ours", "ours": "ours", "twin_bucketed_auto": "baseline",
             "ours_auto": "ours"}
    lists = {"twin_random": shuffled, "twin_bucketed": bucketed, "ours_random": shuffled,
             "ours": bucketed, "twin_bucketed_auto": bucketed, "ours_auto": bucketed}
    policies = {name: auto_policy if name.endswith("_auto") else policy for name in configs}
    models = {}
    for name in configs:  # build all first (build_model seeds the global RNG)
        models[name] = common.build_model(spec(kinds[name], policy=policies[name]),
                                          ctx["dims"])

    def one_pass(name):
        start = time.perf_counter()
        for (source_ids, decoder_ids), target_ids in lists[name]:
            models[name].train_on_batch((source_ids, decoder_ids), target_ids)
        return time.perf_counter() - start

    warm = {}
    for name in configs:
        warm[name] = one_pass(name)
        log(f"  first pass of {name} (tracing every shape): {warm[name]:.1f}s")
    seconds = {name: [] for name in configs}
    for r in range(rounds):  # lockstep: every config's k-th batch, then the (k+1)-th
        spent = dict.fromkeys(configs, 0.0)
        for k in range(max(len(lists[name]) for name in configs)):
            for name in common.rotated(configs, r + k):
                if k < len(lists[name]):
                    (source_ids, decoder_ids), target_ids = lists[name][k]
                    start = time.perf_counter()
                    models[name].train_on_batch((source_ids, decoder_ids), target_ids)
                    spent[name] += time.perf_counter() - start
        for name in configs:
            seconds[name].append(spent[name])
        log(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{name}={tokens / seconds[name][-1]:,.0f} tok/s" for name in configs))
    positions = {"random": padded_positions(shuffled), "bucketed": padded_positions(bucketed)}
    rows = []
    reference = REFERENCE if REFERENCE in configs else configs[0]
    for name in configs:
        ratios = [seconds[reference][r] / seconds[name][r] for r in range(rounds)]
        target_positions, source_positions = padded_positions(lists[name])
        rows.append({"id": name, "policy": policies[name],
                     "tokens_per_second": tokens / common.median(seconds[name]),
                     "seconds": seconds[name], "first_pass_seconds": warm[name],
                     "ratio_vs_reference": common.median(ratios),
                     "ratio_range": common.spread(ratios), "batches": len(lists[name]),
                     "padded_target_positions": target_positions,
                     "padded_source_positions": source_positions})
    return {"pairs": len(source), "target_tokens": tokens, "batch_size": batch_size,
            "reference": reference,
            "rounds": rounds, "policy": policy, "positions": positions, "rows": rows}


def throughput_table(result):
    fmt = common.fmt
    tokens = result["target_tokens"]
    return common.table(
        ["config", "policy", "batches", "target positions / token", "tokens/s (median pass)",
         f"vs {result['reference']} [min–max]", "pass s (median)",
         "first pass s (tracing)"],
        [[row["id"], row["policy"], row["batches"], fmt(row["padded_target_positions"] / tokens),
          f"{row['tokens_per_second']:,.0f}",
          f"{fmt(row['ratio_vs_reference'])}× [{fmt(row['ratio_range'][0])}–"
          f"{fmt(row['ratio_range'][1])}]", fmt(common.median(row["seconds"]), 1),
          fmt(row["first_pass_seconds"], 1)]
         for row in result["rows"]])


def main(argv=None):
    parser = common.make_parser(__doc__)
    parser.add_argument("--pairs", type=int, help="training pairs a pass")
    parser.add_argument("--configs", nargs="+", choices=CONFIGS,
                        default=list(DEFAULT_CONFIGS),
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
    auto_policy = "float32"
    if any(name.endswith("_auto") for name in args.configs):
        auto_policy, reason = precision.resolve_precision("auto")
        common.log(f"the *_auto configurations: {auto_policy} ({reason})")
    return common.run_benchmark(
        "epoch_throughput.py", argv, args, "epoch_throughput",
        lambda ctx: run(ctx, settings["pairs"], settings["rounds"], policy,
                        tuple(args.configs), auto_policy=auto_policy),
        throughput_table)


if __name__ == "__main__":
    main()
