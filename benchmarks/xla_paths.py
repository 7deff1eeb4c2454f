"""XLA (`jit_compile=True`) on vs off for the while-loop paths of our model.

    python benchmarks/xla_paths.py [--smoke | --quick] [--json PATH] [--data DIR]

Token-level scheduled sampling at 0.5 and input feeding (both run the decoder step by
step in a `tf.while_loop`), each built twice -- with and without XLA -- on the middle
timed batch: does it compile, how long does compiling take, and the step-time ratio
over alternating 2-step blocks (3 times). ours_r1 and the baseline with XLA are timed
in the main group of `benchmarks/training_speed.py`; `xla_table` reports both.
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

from benchmarks.common import spec  # noqa: E402


def _xla_row(s, batch, dims, rounds, log):
    """Does spec `s` compile with XLA, and its step-time ratio plain / XLA."""
    jit_spec = dict(s, jit=True, id=s["id"] + "_xla")
    row = {"id": jit_spec["id"], "reference": s["id"]}
    try:
        plain = common.build_model(s, dims)
        jitted = common.build_model(jit_spec, dims)  # both built before any trace
        common.train_step(plain, batch)
        start = time.perf_counter()
        common.train_step(jitted, batch)
        row["compile_seconds"] = time.perf_counter() - start
        common.train_step(plain, batch)
        common.train_step(jitted, batch)
        row["ok"] = True
    except Exception as error:
        row.update(ok=False, error=common.error_text(error))
        log(f"  [xla] {jit_spec['id']} FAILED: {row['error'][:300]}")
        return row
    ratios = []
    for r in range(rounds):
        timing = {}
        for name, model in common.rotated((("plain", plain), ("jit", jitted)), r):
            start = time.perf_counter()
            for _ in range(2):
                common.train_step(model, batch)
            timing[name] = time.perf_counter() - start
        ratios.append(timing["plain"] / timing["jit"])
    row["speedup"] = common.median(ratios)
    row["range"] = common.spread(ratios)
    log(f"  [xla] {jit_spec['id']}: compiled in {row['compile_seconds']:.1f}s, "
        f"speedup {row['speedup']:.2f}x")
    return row


def bench_xla_paths(specs, batch, dims, rounds, log=common.log):
    """jit_compile on vs off for `specs` on one batch (does it compile, step ratio)."""
    rows = []
    for s in specs:
        rows.append(_xla_row(s, batch, dims, rounds, log))
        gc.collect()  # free the two models before the next spec
    return {"batch_shape": common.batch_shape(batch), "rounds": rounds, "rows": rows}


def run(ctx, log=common.log):
    return bench_xla_paths([spec("ours", teacher_forcing=0.5, granularity="token"),
                            spec("ours", input_feeding=True)],
                           common.middle_batch(ctx), ctx["dims"],
                           rounds=3, log=log)


def _no(row):
    return f"no: {' '.join(row['error'].split())[:240]}"


def xla_table(main, xla_paths):
    """The XLA rows of the main group (`main` may be None) and of `bench_xla_paths`."""
    rows = []
    main_rows = {r["id"]: r for r in (main or {}).get("rows", [])}
    for sid, ref in (("ours_r1_xla", "ours_r1"), ("baseline_xla", "baseline")):
        row = main_rows.get(sid)
        if row is None:
            continue
        if not row["ok"]:
            rows.append([sid, _no(row), "–"])
        elif ref in main_rows and main_rows[ref]["ok"]:
            # vs_*: reference time / own time = speedup of this config over the ref
            ratio = row.get("vs_reference" if ref == "baseline" else "vs_secondary")
            rows.append([sid, "yes", "–" if ratio is None
                         else f"{common.fmt_ratio(ratio)} (interleaved rounds)"])
    for row in (xla_paths or {}).get("rows", []):
        if row["ok"]:
            lo, hi = row["range"]
            rows.append([row["id"], f"yes ({row['compile_seconds']:.0f} s compile)",
                         f"{row['speedup']:.2f}× ({lo:.2f}–{hi:.2f}) (one batch)"])
        else:
            rows.append([row["id"], _no(row), "–"])
    return common.table(["config", "compiles", "speedup vs same config without XLA"], rows)


def main(argv=None):
    args = common.make_parser(__doc__).parse_args(argv)
    return common.run_benchmark("xla_paths.py", argv, args, "xla_paths", run,
                                lambda result: xla_table(None, result))


if __name__ == "__main__":
    main()
