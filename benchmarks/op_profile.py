"""Self time per TensorFlow op type of a training step, baseline vs ours_r1 (tf.profiler).

    python benchmarks/op_profile.py [--smoke | --quick] [--json PATH] [--data DIR]
                                    [--steps 5] [--top 12] [--configs NAME ...]

`--configs` picks the training paths to profile (default: baseline ours_r1), any of
`CONFIGS`: e.g. `--configs ours_r1 ours_token_0.5` for where token-level scheduled
sampling spends its extra time.

Each model is warmed up (3 steps) on the middle timed batch, then `--steps` train
steps run under `tf.profiler`; the op table comes from TensorFlow's (private)
xspace -> "framework_op_stats" converter. The self times are summed over the threads
of the op pool, so their total exceeds the wall time of a step on a 2-core machine.
"""

import collections
import glob
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

from benchmarks.common import spec  # noqa: E402


def bench_op_profile(specs, batch, dims, steps=5, top=12, log=common.log):
    """{id: op self times a step, by type and by op} of `steps` profiled steps."""
    import tensorflow as tf
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    models = {s["id"]: common.build_model(s, dims) for s in specs}
    for model in models.values():
        for _ in range(3):
            common.train_step(model, batch)
    out = {}
    for sid, model in models.items():
        directory = tempfile.mkdtemp(prefix=f"opprof_{sid}_")
        try:
            tf.profiler.experimental.start(directory)
            for _ in range(steps):
                common.train_step(model, batch)
            tf.profiler.experimental.stop()
            files = glob.glob(os.path.join(directory, "**", "*.xplane.pb"), recursive=True)
            data, _ = plugin.xspace_to_tools_data(files, "framework_op_stats")
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        table = json.loads(data)
        table = table[0] if isinstance(table, list) else table
        columns = [c["id"] for c in table["cols"]]
        by_type, by_name = collections.Counter(), collections.Counter()
        for r in table["rows"]:
            v = dict(zip(columns, [c.get("v") for c in r["c"]]))
            by_type[v["type"]] += v["total_self_time"] / steps / 1e3
            by_name[v["operation"]] += v["total_self_time"] / steps / 1e3
        total = sum(by_type.values())
        out[sid] = {"total_self_ms_per_step": total,
                    "by_type_ms": dict(by_type.most_common(top)),
                    "by_op_ms": dict(by_name.most_common(top))}
        log(f"  [op-profile] {sid}: {total:.0f} ms self time a step")
    return {"batch_shape": common.batch_shape(batch),
            "steps": steps, "configs": out}


# The profiled training paths, by the ids the other benchmarks print.
CONFIGS = {
    "baseline": lambda: spec("baseline"),
    "ours_r1": lambda: spec("ours"),
    "ours_token_0.5": lambda: spec("ours", teacher_forcing=0.5, granularity="token"),
    "ours_token_0.5_parallel": lambda: spec("ours", teacher_forcing=0.5, granularity="token",
                                            mode="parallel"),
    "ours_batch_0.5": lambda: spec("ours", teacher_forcing=0.5, granularity="batch"),
    "ours_input_feeding_r1": lambda: spec("ours", input_feeding=True),
}


def run(ctx, steps=5, top=12, configs=("baseline", "ours_r1"), log=common.log):
    return bench_op_profile([CONFIGS[name]() for name in configs],
                            common.middle_batch(ctx), ctx["dims"],
                            steps=steps, top=top, log=log)


def op_profile_table(result):
    parts = []
    for sid, entry in result["configs"].items():
        total = entry["total_self_ms_per_step"]
        parts += [f"**{sid}**: {total:.0f} ms of op self time a step (summed over threads)",
                  "", common.table(["op type", "ms a step", "share"],
                                   [[name, f"{ms:.1f}", f"{ms / total:.1%}"]
                                    for name, ms in entry["by_type_ms"].items()]),
                  "", common.table(["op", "ms a step"],
                                   [[f"`{name[:110]}`", f"{ms:.1f}"]
                                    for name, ms in entry["by_op_ms"].items()]), ""]
    return "\n".join(parts)


def main(argv=None):
    parser = common.make_parser(__doc__)
    parser.add_argument("--steps", type=int, default=5, help="profiled steps a config")
    parser.add_argument("--top", type=int, default=12, help="rows of each op table")
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS),
                        default=["baseline", "ours_r1"], metavar="NAME",
                        help=f"training paths to profile, of: {', '.join(CONFIGS)} "
                             "(default: baseline ours_r1)")
    args = parser.parse_args(argv)
    return common.run_benchmark("op_profile.py", argv, args, "op_profile",
                                lambda ctx: run(ctx, args.steps, args.top, args.configs),
                                op_profile_table)


if __name__ == "__main__":
    main()
