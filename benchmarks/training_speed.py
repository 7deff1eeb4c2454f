"""Training throughput of our `Seq2Seq` against the plain-Keras baseline, same run.

    python benchmarks/training_speed.py [--smoke | --quick] [--json PATH] [--data DIR]
                                        [--rounds N] [--batches N] [--skip attention lstm]
                                        [--configs ID ...]

Non-pad target tokens/s of `train_on_batch` on Multi30k De->En (or tiny synthetic data
with `--smoke`). The main group (GRU, general attention): the baseline of
`benchmarks/baseline.py`, ours at teacher-forcing ratio 1, token-level scheduled
sampling at 0.5 and, outside `--smoke`, batch-level 0.5, the parallel token-level mode,
input feeding and XLA (and the baseline with XLA in the default mode), with the matmul
probe of `benchmarks/flops.py` timed between its steps. Then the dot and concat
scores and the LSTM cell, each against its own baseline (default mode only).

Timings on a shared machine are noisy, so every comparison is a ratio against a
reference measured in the same run: the configurations of a group are warmed up
(every timed batch shape traced) and then timed in rounds over the same batches,
alternating configurations step by step (the order rotates at every step). A ratio
is computed for every (round, batch) pair -- the two steps ran seconds apart on the
same batch -- and the median over pairs is reported with its interquartile range.
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common, flops  # noqa: E402

from benchmarks.common import spec  # noqa: E402

GROUPS = ("attention", "lstm")


def _build_and_warm(name, specs, batches, dims, log):
    """Builds every spec, then warms each over every batch: (models, info)."""
    models, info = {}, {}
    # Build every model first: build_model seeds the global RNG, and changing the
    # global seed makes existing tf.functions retrace once, so warming up a model
    # before the next one is built would leave a retrace inside the timed rounds.
    for s in specs:
        info[s["id"]] = entry = {"spec": s, "ok": True}
        start = time.perf_counter()
        try:
            models[s["id"]] = common.build_model(s, dims)
            entry["build_seconds"] = time.perf_counter() - start
        except Exception as error:
            entry.update(ok=False, error=common.error_text(error))
            log(f"  [{name}] {s['id']} FAILED to build: {entry['error'][:300]}")
    for s in specs:
        entry = info[s["id"]]
        if not entry["ok"]:
            continue
        model = models[s["id"]]
        try:
            start = time.perf_counter()
            common.train_step(model, batches[0])
            entry["first_step_seconds"] = time.perf_counter() - start
            start = time.perf_counter()
            for batch in batches[1:] + batches[:1]:  # trace (or compile) every shape
                common.train_step(model, batch)
            entry["warmup_seconds"] = time.perf_counter() - start
            entry.update(common.describe_model(model))
        except Exception as error:  # e.g. XLA cannot compile a path
            entry.update(ok=False, error=common.error_text(error))
            log(f"  [{name}] {s['id']} FAILED: {entry['error'][:300]}")
            del models[s["id"]]
            continue
        log(f"  [{name}] warmed {s['id']} (first step {entry['first_step_seconds']:.1f}s,"
            f" {len(batches)} more steps {entry['warmup_seconds']:.1f}s)")
    return models, info


def _ratio_entry(times, cpu, ref, sid, secs):
    """vs_reference / vs_secondary: ref time / own time, per (round, batch) pair."""
    def pair_ratios(table):
        return [a / b for ref_round, own_round in zip(table[ref], table[sid])
                for a, b in zip(ref_round, own_round)]

    ratios = pair_ratios(times)
    return {"reference": ref, "ratio": common.median(ratios),
            "range": common.quartiles(ratios), "pairs": len(ratios),
            "round_ratios": [sum(t) / s for t, s in zip(times[ref], secs)],
            "cpu_time_ratio": common.median(pair_ratios(cpu))}


def bench_group(name, specs, batches, dims, rounds, reference, secondary=None,
                probe=None, log=common.log, keep=()):
    """Warms up every spec over every batch, then times them in interleaved rounds.

    Returns:
        (result dict, {id: model} of the specs listed in `keep`).
    """
    models, info = _build_and_warm(name, specs, batches, dims, log)
    tokens = sum(b["tokens"] for b in batches)
    counted = {sid: sum(flops.training_flops(info[sid]["spec"], dims, b) for b in batches)
               for sid in models}
    ids = list(models) + (["__matmul__"] if probe is not None else [])
    # times[sid][r][k]: seconds of config sid on batch k in round r. Configurations
    # alternate step by step (the order rotates at every step), so the steps of one
    # batch in one round are seconds apart, and a ratio is computed per such pair.
    times = {sid: [[None] * len(batches) for _ in range(rounds)] for sid in ids}
    cpu = {sid: [[None] * len(batches) for _ in range(rounds)] for sid in models}
    probe_rates = []
    bf16_rates = []  # the bfloat16 matmul rate, when a spec runs mixed_bfloat16
    wants_bf16 = probe is not None and "bfloat16" in probe.inputs
    turn = 0
    for r in range(rounds):
        for k, batch in enumerate(batches):
            order = common.rotated(ids, turn)
            turn += 1
            for sid in order:
                if sid == "__matmul__":
                    if k % max(1, len(batches) // 2) == 0:
                        probe_rates.append((r, probe.measure()))
                        if wants_bf16:
                            bf16_rates.append((r, probe.measure("bfloat16")))
                    continue
                cpu_start = time.process_time()
                start = time.perf_counter()
                common.train_step(models[sid], batch)
                times[sid][r][k] = time.perf_counter() - start
                cpu[sid][r][k] = time.process_time() - cpu_start
        log(f"  [{name}] round {r + 1}/{rounds}: " + ", ".join(
            f"{sid}={tokens / sum(times[sid][r]):.0f} tok/s" for sid in models))

    rows = []
    for s in specs:
        sid = s["id"]
        row = {"id": sid, "ok": info[sid]["ok"]}
        if not info[sid]["ok"]:
            rows.append(dict(row, error=info[sid]["error"]))
            continue
        secs = [sum(times[sid][r]) for r in range(rounds)]
        steps = [t for per_round in times[sid] for t in per_round]
        tps = [tokens / x for x in secs]
        row.update(
            model=info[sid]["model"],
            trainable_parameters=info[sid]["trainable_parameters"],
            tokens_per_second=common.median(tps),
            tokens_per_second_range=common.spread(tps),
            step_seconds_median=common.median(steps), step_seconds_max=float(max(steps)),
            step_seconds=times[sid],
            first_step_seconds=info[sid]["first_step_seconds"],
            build_seconds=info[sid]["build_seconds"],
            cpu_seconds_per_round=common.median([sum(c) for c in cpu[sid]]),
            wall_seconds_per_round=common.median(secs),
            flops_per_round=counted[sid], gflops_per_second=common.median(
                [counted[sid] / x / 1e9 for x in secs]))
        for label, ref in (("vs_reference", reference), ("vs_secondary", secondary)):
            if ref is not None and ref in models and ref != sid:
                row[label] = _ratio_entry(times, cpu, ref, sid, secs)
        if probe is not None:
            same = (bf16_rates if wants_bf16 and flops.probe_dtype(s) == "bfloat16"
                    else probe_rates)
            row["matmul_dtype"] = "bfloat16" if same is bf16_rates else "float32"
            flops.add_matmul_fractions(row, counted[sid], secs,
                                       [sum(c) for c in cpu[sid]], same)
        rows.append(row)
    result = {"group": name, "rounds": rounds, "batches": len(batches),
              "tokens_per_round": tokens, "rows": rows}
    if probe is not None:
        flops.add_probe_summary(result, probe, probe_rates, bf16_rates)
    kept = {sid: models[sid] for sid in keep if sid in models}
    models.clear()
    gc.collect()
    return result, kept


def main_specs(mode):
    """The configurations of the main group (GRU, general attention) in `mode`."""
    specs = [spec("baseline"), spec("ours"),
             spec("ours", teacher_forcing=0.5, granularity="token")]
    if mode != "smoke":  # smoke keeps to the three configs the targets need
        specs += [spec("ours", teacher_forcing=0.5, granularity="batch"),
                  spec("ours", teacher_forcing=0.5, granularity="token", mode="parallel"),
                  spec("ours", input_feeding=True),
                  spec("ours", jit=True)]
    if mode != "smoke":  # mixed bfloat16 (the CPU's native bf16 dot products)
        bf16 = "mixed_bfloat16"
        specs += [spec("baseline", policy=bf16), spec("ours", policy=bf16),
                  spec("ours", teacher_forcing=0.5, granularity="token", policy=bf16),
                  spec("ours", teacher_forcing=0.5, granularity="token", mode="parallel",
                       policy=bf16),
                  spec("ours", jit=True, policy=bf16)]
    if mode == "default":
        specs += [spec("baseline", jit=True), spec("baseline", jit=True, policy=bf16)]
    return specs


def run_main_group(ctx, log=common.log, keep=(), configs=None):
    """The main group with the matmul probe: (result, kept models).

    `configs`: ids of `main_specs` to run (all when None); the reference, the
    baseline, is always kept.
    """
    specs = main_specs(ctx["mode"])
    if configs:
        known = [s["id"] for s in specs]
        unknown = sorted(set(configs) - set(known))
        if unknown:
            raise SystemExit(f"--configs: unknown {', '.join(unknown)}; the main group "
                             f"of this mode has {', '.join(known)}")
        specs = [s for s in specs if s["id"] == "baseline" or s["id"] in configs]
    bfloat16 = any(flops.probe_dtype(s) == "bfloat16" for s in specs)
    return bench_group("main", specs, ctx["batches"], ctx["dims"],
                       ctx["rounds"], "baseline", secondary="ours_r1",
                       probe=flops.probe_for(ctx["mode"], bfloat16=bfloat16), log=log,
                       keep=keep)


def run_other_groups(ctx, skip, log=common.log):
    """The dot / concat scores and the LSTM cell, each against its own baseline."""
    groups = {}
    for key, options in (("attention_dot", dict(attention="dot")),
                         ("attention_concat", dict(attention="concat")),
                         ("lstm", dict(cell="lstm"))):
        if ("lstm" if key == "lstm" else "attention") in skip:
            groups[key] = None
            continue
        specs = [spec("baseline", **options), spec("ours", **options)]
        groups[key], _ = bench_group(key, specs, ctx["batches"], ctx["dims"],
                                     ctx["rounds"], specs[0]["id"], log=log)
    return groups


def training_table(group):
    rows = []
    for row in group["rows"]:
        if not row["ok"]:
            rows.append([row["id"], "FAILED: " + " ".join(row["error"].split())[:160]]
                        + [""] * 5)
            continue
        lo, hi = row["tokens_per_second_range"]
        ref = row.get("vs_reference")
        rows.append([
            row["id"], f"{row['tokens_per_second']:,.0f} ({lo:,.0f}–{hi:,.0f})",
            common.fmt_ratio(ref),
            common.fmt((ref or {}).get("cpu_time_ratio")) + ("×" if ref else ""),
            common.fmt_ratio(row.get("vs_secondary")),
            f"{row['step_seconds_median']:.3f} / {row['step_seconds_max']:.3f}",
            f"{row['first_step_seconds']:.1f}"])
    return (f"**{group['group']}** ({group['rounds']} rounds × {group['batches']} "
            f"batches, {group['tokens_per_round']} target tokens a round; ratios: "
            "median over (round, batch) step pairs)\n\n" + common.table(
                ["config", "tokens/s (median of rounds, min–max)",
                 "vs reference: wall [IQR]", "vs reference: CPU time",
                 "vs ours_r1: wall [IQR]", "step s (median / max)",
                 "first step s (trace)"], rows))


def training_report(training):
    parts = ["## Training throughput (non-pad target tokens/s, train_on_batch)", ""]
    for group in training.values():
        if group is not None:
            parts += [training_table(group), ""]
    parts += ["## Achieved FLOP/s of training", "", flops.flops_table(training["main"]), ""]
    return parts


def main(argv=None):
    parser = common.make_parser(__doc__)
    parser.add_argument("--skip", nargs="*", default=[], choices=GROUPS,
                        help="groups to leave out (always left out with --smoke/--quick)")
    parser.add_argument("--configs", nargs="+", metavar="ID",
                        help="main-group configurations to time (with the baseline), "
                             "e.g. ours_r1 ours_token_0.5_parallel; leaves out the "
                             "other groups")
    args = parser.parse_args(argv)

    def bench(ctx):
        skip = set(args.skip) | (set(GROUPS) if ctx["mode"] != "default" or args.configs
                                 else set())
        return {"main": run_main_group(ctx, configs=args.configs)[0],
                **run_other_groups(ctx, skip)}

    return common.run_benchmark("training_speed.py", argv, args, "training", bench,
                                lambda training: "\n".join(training_report(training)))


if __name__ == "__main__":
    main()
