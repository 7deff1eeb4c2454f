"""Peak memory (RSS) of training, ours against the baseline, one subprocess a config.

    python benchmarks/peak_memory.py [--smoke | --quick] [--json PATH] [--data DIR]
                                     [--batches N] [--memory-repeats N]

Each configuration runs in its own fresh process (`--memory-repeats` times, the order
rotating): build the model, reset the kernel's RSS high-water mark
(`echo 5 > /proc/self/clear_refs`), train over the timed batches twice, read `VmHWM`.
*Not* `ru_maxrss`: on Linux a child's `ru_maxrss` starts at the parent's RSS at fork
time, which survives `exec`. "Training increment" = training peak - RSS after build.
Configurations: baseline and ours_r1, plus token-level 0.5 (sequential and parallel)
and input feeding in the default mode.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.common import spec  # noqa: E402

MEMORY_MARK = "MEMORY_RESULT "
REPEATS = {"smoke": 1, "quick": 1, "default": 2}


def reset_peak():
    """Resets this process's RSS high-water mark (`VmHWM`); False where the kernel
    does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def memory_child(spec_json, dims_json, batches_path):
    """Child process: build, train over every batch twice, print its peaks as JSON.

    Peaks are the kernel's VmHWM of this process (not `ru_maxrss`: on Linux a
    child's `ru_maxrss` starts at the parent's RSS at fork time, which exec keeps).
    The high-water mark is reset (`/proc/self/clear_refs` = 5) after the model is
    built, so `training_peak_kb` is the peak while training alone.
    """
    s, dims = json.loads(spec_json), json.loads(dims_json)
    data = np.load(batches_path)
    batches = [{key: data[f"{key}_{i}"] for key in ("source", "decoder_input", "target")}
               for i in range(int(data["count"]))]
    import tensorflow as tf  # noqa: F401

    rss_import = status_kb("VmRSS")
    model = common.build_model(s, dims)
    rss_build = status_kb("VmRSS")
    peak_before_training = status_kb("VmHWM")
    reset = reset_peak()
    for _ in range(2):
        for batch in batches:
            common.train_step(model, batch)
    print(MEMORY_MARK + json.dumps({
        "rss_after_import_kb": rss_import, "rss_after_build_kb": rss_build,
        "peak_before_training_kb": peak_before_training,
        "training_peak_kb": status_kb("VmHWM") if reset else None,
        "process_peak_kb": max(peak_before_training, status_kb("VmHWM")),
        "rss_end_kb": status_kb("VmRSS"),
        "ru_maxrss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        **common.describe_model(model)}), flush=True)


def run_memory_child(s, dims, batches_path):
    """Runs one configuration in a fresh subprocess and collects its report."""
    command = [sys.executable, os.path.abspath(__file__), "--_memory-child",
               json.dumps(s), "--_dims", json.dumps(dims), "--_batches", batches_path]
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=common.REPO_ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read()
    result = {"id": s["id"], "seconds": seconds, "returncode": process.returncode,
              "wait4_ru_maxrss_kb": usage.ru_maxrss}
    for line in text.splitlines():
        if line.startswith(MEMORY_MARK):
            result.update(json.loads(line[len(MEMORY_MARK):]))
    if process.returncode != 0 or "training_peak_kb" not in result:
        result["error"] = text[-1500:]
    return result


def memory_specs(mode):
    specs = [spec("baseline"), spec("ours")]
    if mode == "default":
        specs += [spec("ours", teacher_forcing=0.5, granularity="token"),
                  spec("ours", teacher_forcing=0.5, granularity="token", mode="parallel"),
                  spec("ours", input_feeding=True)]
    return specs


def _mib(kb):
    return None if kb is None else kb / 1024


def _ratio(value, reference):
    return None if not value or not reference else value / reference


def bench_memory(specs, batches, dims, repeats, reference, log=common.log):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "batches.npz")
        arrays = {"count": np.array(len(batches))}
        for i, b in enumerate(batches):
            arrays.update({f"{key}_{i}": b[key]
                           for key in ("source", "decoder_input", "target")})
        np.savez(path, **arrays)
        runs = {s["id"]: [] for s in specs}
        for r in range(repeats):
            for s in common.rotated(specs, r):
                result = run_memory_child(s, dims, path)
                runs[s["id"]].append(result)
                log(f"  [memory] {s['id']}: training peak "
                    f"{(result.get('training_peak_kb') or 0) / 1024:.0f} MiB, after build "
                    f"{(result.get('rss_after_build_kb') or 0) / 1024:.0f} MiB "
                    f"(rc={result['returncode']})")

    def stat(rs, key):
        return common.median([key(x) for x in rs if x.get("training_peak_kb")])

    def peak_key(x):
        return x["training_peak_kb"]

    def increment_key(x):
        return x["training_peak_kb"] - x["rss_after_build_kb"]

    ref_peak = stat(runs[reference], peak_key)
    ref_increment = stat(runs[reference], increment_key)
    rows = []
    for s in specs:
        rs = runs[s["id"]]
        peak, increment = stat(rs, peak_key), stat(rs, increment_key)
        rows.append({
            "id": s["id"], "ok": all(x["returncode"] == 0 for x in rs),
            "training_peak_rss_mib": _mib(peak),
            "process_peak_rss_mib": _mib(stat(rs, lambda x: x["process_peak_kb"])),
            "rss_after_build_mib": _mib(stat(rs, lambda x: x["rss_after_build_kb"])),
            "training_increment_mib": _mib(increment),
            "peak_ratio_vs_reference": _ratio(peak, ref_peak),
            "increment_ratio_vs_reference": _ratio(increment, ref_increment),
            "runs": rs,
        })
    return {"reference": reference, "repeats": repeats, "batches": len(batches),
            "rows": rows}


def memory_table(memory):
    fmt = common.fmt
    return common.table(
        ["config", "peak RSS while training MiB", "RSS after build MiB",
         "training increment MiB", "peak ratio", "increment ratio"],
        [[row["id"], fmt(row["training_peak_rss_mib"], 0),
          fmt(row["rss_after_build_mib"], 0), fmt(row["training_increment_mib"], 0),
          fmt(row["peak_ratio_vs_reference"]) + "×",
          fmt(row["increment_ratio_vs_reference"]) + "×"] for row in memory["rows"]])


def run(ctx, repeats=None, log=common.log):
    return bench_memory(memory_specs(ctx["mode"]), ctx["batches"], ctx["dims"],
                        repeats or REPEATS[ctx["mode"]], "baseline", log=log)


def main(argv=None):
    parser = common.make_parser(__doc__)
    parser.add_argument("--memory-repeats", type=int, help="subprocesses per config")
    parser.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    parser.add_argument("--_dims", dest="dims", help=argparse.SUPPRESS)
    parser.add_argument("--_batches", dest="batches_path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.dims, args.batches_path)
        return None
    return common.run_benchmark("peak_memory.py", argv, args, "memory",
                                lambda ctx: run(ctx, args.memory_repeats), memory_table)


if __name__ == "__main__":
    main()
