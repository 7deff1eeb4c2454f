"""Benchmarks of keras-seq2seq against a plain-Keras baseline: the whole report.

    python benchmarks/run.py [--quick | --smoke] [--json PATH] [--data DIR]

Runs, in one process and in this order, on Multi30k De->En (or tiny synthetic data
with `--smoke`), each benchmark script of this folder and prints one Markdown report
(and, with `--json PATH`, every figure):

1. training throughput, `training_speed.py` (with 4. achieved FLOP/s, `flops.py`, and
   5. ours_r1 / the baseline with XLA, timed in the same main group);
2. `generate_speed.py`: greedy and beam `model.generate` with the ours_r1 model of
   the main group;
3. `data_pipeline.py`: the data pipeline against that group's ours_r1 step;
4. the other attention scores and the LSTM cell (`training_speed.py`);
5. `step_profile.py` (forward / backward / step), `xla_paths.py` (XLA on the
   while-loop paths), `peak_memory.py` (one subprocess per configuration);
6. the targets. `--profile-only` and `--op-profile` (`op_profile.py`) run one
   profile alone.
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import (  # noqa: E402
    common, data_pipeline, flops, generate_speed, op_profile, peak_memory, step_profile,
    training_speed, xla_paths)

SECTIONS = ["attention", "lstm", "memory", "decoding", "xla-paths", "pipeline", "profile"]
# Left out of --smoke and --quick.
SLOW_SECTIONS = {"attention", "lstm", "xla-paths", "profile"}


def parse_args(argv=None):
    parser = common.make_parser(__doc__)
    parser.add_argument("--memory-repeats", type=int, help="subprocesses per config")
    parser.add_argument("--skip", nargs="*", default=[], choices=SECTIONS,
                        help="sections to skip")
    parser.add_argument("--profile-only", action="store_true",
                        help="only the forward / backward / step profile (real data)")
    parser.add_argument("--op-profile", action="store_true",
                        help="only a tf.profiler op-type breakdown of baseline vs ours_r1")
    return parser.parse_args(argv)


def targets(results):
    rows = {r["id"]: r for r in results["training"]["main"]["rows"]}
    out = []

    def add(name, value, goal, ok):
        out.append({"target": name, "value": value, "goal": goal,
                    "met": None if value is None else bool(ok(value))})

    r1 = rows.get("ours_r1", {})
    add("ours_r1 throughput vs baseline", (r1.get("vs_reference") or {}).get("ratio"),
        ">= 1.0", lambda v: v >= 1.0)
    tok = rows.get("ours_token_0.5", {})
    add("token-level 0.5 vs ours_r1", (tok.get("vs_secondary") or {}).get("ratio"),
        ">= 0.8", lambda v: v >= 0.8)
    add("ours_r1 fraction of matmul rate", r1.get("matmul_fraction"), ">= 0.5",
        lambda v: v >= 0.5)
    memory = results.get("memory")
    value = None
    if memory:
        value = next((r["peak_ratio_vs_reference"] for r in memory["rows"]
                      if r["id"] == "ours_r1"), None)
    add("ours_r1 peak RSS vs baseline", value, "<= 1.2", lambda v: v <= 1.2)
    return out


def report(results):
    parts = training_speed.training_report(results["training"])

    def section(key, table_of):  # the table of results[key], or None
        return table_of(results[key]) if results.get(key) else None

    sections = (
        ("Peak memory of training (RSS, one subprocess per config)",
         section("memory", peak_memory.memory_table)),
        ("Decoding (ours_r1 model)", section("decoding", generate_speed.decoding_table)),
        ("XLA (jit_compile=True)",
         xla_paths.xla_table(results["training"]["main"], results.get("xla_paths"))),
        ("Profile: forward / forward+backward / full step",
         section("profile", step_profile.profile_table)),
        ("Data pipeline vs a training step",
         section("data_pipeline", data_pipeline.pipeline_table)))
    for title, text in sections:
        if text is not None:
            parts += [f"## {title}", "", text, ""]
    rows = [[t["target"], common.fmt(t["value"], 3), t["goal"],
             "–" if t["met"] is None else ("yes" if t["met"] else "**no**")]
            for t in results["targets"]]
    parts += ["## Targets", "", common.table(["target", "value", "goal", "met"], rows)]
    return "\n".join(parts)


def run_profiles(args, ctx, results):
    """--profile-only / --op-profile: one profile, printed, nothing else."""
    if args.profile_only:
        results["profile"] = step_profile.run(ctx)
        print(step_profile.profile_table(results["profile"]))
    if args.op_profile:
        results["op_profile"] = op_profile.run(ctx)
        print(op_profile.op_profile_table(results["op_profile"]))
    common.write_json(args.json, results)
    return results


def main(argv=None):
    args = parse_args(argv)
    total_start = time.perf_counter()
    ctx = common.prepare(args)
    mode = ctx["mode"]
    skip = set(args.skip) | (SLOW_SECTIONS if mode != "default" else set())
    results = dict(common.report_header(ctx, "run.py", argv), training={})
    common.log(f"mode={mode} dims={ctx['dims']} rounds={ctx['rounds']} batches="
               f"{results['settings']['batch_shapes']}")
    if args.profile_only or args.op_profile:
        return run_profiles(args, ctx, results)

    # 1 + 4 + 5: main group (GRU, general) with the matmul probe and XLA.
    main, kept = training_speed.run_main_group(ctx, keep=("ours_r1",))
    results["training"]["main"] = main
    results["flops"] = flops.flops_summary(main)
    r1_row = next(r for r in main["rows"] if r["id"] == "ours_r1")
    # 3: decoding with the (briefly trained) ours_r1 model.
    if "decoding" not in skip and "ours_r1" in kept:
        results["decoding"] = generate_speed.run(ctx, kept["ours_r1"])
    kept.clear()
    gc.collect()
    # 6: data pipeline.
    if "pipeline" not in skip and ctx["corpus"].get("raw_source"):
        results["data_pipeline"] = data_pipeline.run(ctx, r1_row.get("step_seconds_median"))
    # 1 (continued): the other attention scores and LSTM, each with its own baseline.
    results["training"].update(training_speed.run_other_groups(ctx, skip))
    # Where the time goes: forward / forward+backward / full step, ours vs baseline.
    if "profile" not in skip:
        results["profile"] = step_profile.run(ctx)
    # 5 (continued): XLA on the while_loop paths.
    if "xla-paths" not in skip:
        results["xla_paths"] = xla_paths.run(ctx)
    # 2: memory, one subprocess per config.
    if "memory" not in skip:
        results["memory"] = peak_memory.run(ctx, args.memory_repeats)

    results["targets"] = targets(results)
    results["total_seconds"] = time.perf_counter() - total_start
    print(report(results))
    print(f"\n(total {results['total_seconds']:.0f} s, mode {mode})")
    common.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
