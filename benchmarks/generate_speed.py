"""`model.generate` throughput (greedy, beam) and single-sentence greedy latency.

    python benchmarks/generate_speed.py [--smoke | --quick] [--json PATH] [--data DIR]
                                        [--beam-width 5]

On the ours-ratio-1 model (GRU, general attention) after the training steps the main
group of `benchmarks/training_speed.py` gives it (`benchmarks/run.py` passes that
model; run alone, this script trains a fresh one for as many steps on the same
batches), with length-bucketed batches of Multi30k *val* sentences. The model is
barely trained, so the work is fixed: every batch runs with `max_length` = its longest
reference + 1 and `min_length` = that - 1. Latency: single sentences, greedy,
`max_length` = the reference length + 1. `benchmarks/decoding_speed.py` compares the
decoders themselves on an untrained model, and through SavedModel exports.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

import numpy as np  # noqa: E402

# mode -> (batch size, batches, rounds, latency calls)
SETTINGS = {"smoke": (8, 1, 1, 5), "quick": (64, 4, 3, 50), "default": (64, 4, 3, 50)}


def bench_decoding(model, val, dims, batch_size, count, rounds, latency_calls, beam_width,
                   log=common.log):
    """Greedy (and beam) sentences/s at `batch_size`, and single-sentence latency.

    The model is barely trained, so where it stops is meaningless (greedy never emits
    [END]; beam search, which has no length penalty by default, finishes a one-token
    [END] hypothesis at once). So the work is fixed: each batch is decoded with
    `max_length` = its longest reference + 1 and `min_length` = that - 1, so every
    hypothesis runs exactly that many steps, the steps a model that stops where the
    references stop would run for the batch. Single-sentence latency uses
    `max_length` = the reference length + 1 (no `min_length`: one traced function for
    every call); the mean generated length is reported.
    """
    batches = common.bucketed_batches(val["source"], val["target"], batch_size, count,
                                      seed=1, sort_by="source")
    try:
        from keras_seq2seq.decoding import beam_search  # noqa: F401
        methods, beam_note = ["greedy", "beam"], None
    except Exception as error:  # beam search not available
        methods = ["greedy"]
        beam_note = f"beam search unavailable: {common.error_text(error)}"

    def call(method, source, cap, fixed=True):
        options = {"beam_width": beam_width} if method == "beam" else {}
        if fixed:  # [END] forbidden before the cap: every hypothesis runs cap steps
            options["min_length"] = int(cap) - 1
        result = model.generate(source, max_length=int(cap), method=method, **options)
        lengths = result.lengths.numpy()
        return lengths[:, 0] if method == "beam" else lengths

    caps = [b["target"].shape[1] for b in batches]  # longest reference + [END]
    result = {"batch_size": batch_size, "batches": len(batches), "rounds": rounds,
              "beam_width": beam_width, "beam_note": beam_note, "rows": []}
    warm = {}
    for method in list(methods):
        try:
            start = time.perf_counter()
            call(method, batches[0]["source"], caps[0])
            warm[method] = time.perf_counter() - start
            for b, cap in zip(batches[1:], caps[1:]):
                call(method, b["source"], cap)
        except Exception as error:
            methods.remove(method)
            result["beam_note"] = f"{method} failed: {common.error_text(error)}"
            log(f"  [decode] {method} FAILED: {result['beam_note']}")
    per_round = {m: [] for m in methods}
    lengths = {m: [] for m in methods}
    for r in range(rounds):
        for method in (methods if r % 2 == 0 else methods[::-1]):
            seconds, sentences = 0.0, 0
            for b, cap in zip(batches, caps):
                start = time.perf_counter()
                out = call(method, b["source"], cap)
                seconds += time.perf_counter() - start
                sentences += len(out)
                lengths[method].extend(out.tolist())
            per_round[method].append(sentences / seconds)
        log(f"  [decode] round {r + 1}/{rounds}: " + ", ".join(
            f"{m}={per_round[m][-1]:.1f} sent/s" for m in methods))
    for method in methods:
        result["rows"].append({
            "method": method if method == "greedy" else f"beam{beam_width}",
            "sentences_per_second": common.median(per_round[method]),
            "range": common.spread(per_round[method]),
            "mean_output_length": float(np.mean(lengths[method])),
            "mean_cap": float(np.mean(caps)),
            "first_call_seconds": warm[method]})
    # single-sentence greedy latency
    rng = np.random.default_rng(2)
    picks = rng.choice(len(val["source"]), size=min(latency_calls + 3, len(val["source"])),
                       replace=False)
    times, out_lengths, caps_single = [], [], []
    for j, i in enumerate(picks):
        source = val["source"][i][None, :]
        start = time.perf_counter()
        out = call("greedy", source, len(val["target"][i]) + 1, fixed=False)
        if j >= 3:  # the first calls trace
            times.append(time.perf_counter() - start)
            out_lengths.append(int(out[0]))
            caps_single.append(len(val["target"][i]) + 1)
    result["latency"] = dict(common.latency_summary(times),
                             mean_output_length=float(np.mean(out_lengths)),
                             mean_cap=float(np.mean(caps_single)))
    return result


def run(ctx, model, beam_width=5, log=common.log):
    batch_size, count, rounds, latency_calls = SETTINGS[ctx["mode"]]
    return bench_decoding(model, ctx["corpus"]["val"], ctx["dims"], batch_size, count,
                          rounds, latency_calls, beam_width, log=log)


def trained_ours_r1(ctx):
    """ours_r1 after as many steps as the main group's warm-up and rounds give it."""
    model = common.build_model(common.spec("ours"), ctx["dims"])
    batches = ctx["batches"]
    for batch in [batches[0]] + batches[1:] + batches[:1] + batches * ctx["rounds"]:
        common.train_step(model, batch)
    return model


def decoding_table(decoding):
    rows = []
    for row in decoding["rows"]:
        lo, hi = row["range"]
        rows.append([f"{row['method']} @ batch {decoding['batch_size']}",
                     f"{row['sentences_per_second']:.1f} ({lo:.1f}–{hi:.1f})",
                     f"{row['mean_output_length']:.1f}", f"{row['mean_cap']:.1f}"])
    lat = decoding["latency"]
    head = ["method", "sentences/s (median, min–max)", "mean output length", "mean cap"]
    lines = [common.table(head, rows), "",
             f"single-sentence greedy latency over {lat['calls']} calls: "
             f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms "
             f"(mean {lat['mean_ms']:.1f} ms; mean output length "
             f"{lat['mean_output_length']:.1f}, mean cap {lat['mean_cap']:.1f})"]
    if decoding.get("beam_note"):
        lines.append(f"note: {decoding['beam_note']}")
    return "\n".join(lines)


def main(argv=None):
    parser = common.make_parser(__doc__)
    parser.add_argument("--beam-width", type=int, default=5)
    args = parser.parse_args(argv)
    return common.run_benchmark(
        "generate_speed.py", argv, args, "decoding",
        lambda ctx: run(ctx, trained_ours_r1(ctx), args.beam_width), decoding_table)


if __name__ == "__main__":
    main()
