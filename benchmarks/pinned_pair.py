"""Training step time of this checkout against another, as a pinned pair.

    python benchmarks/pinned_pair.py --against CHECKOUT [--configs r1 token_0.5]
                                     [--rounds N] [--steps N] [--batch N] [--length N]
                                     [--units N] [--cell gru|lstm] [--json PATH]

On a 2-core machine two trainings timed one after the other see different machines
(the CPU's clock and neighbours drift by 10-20 % within minutes). Here both
checkouts train at the same time, one process a core (`os.sched_setaffinity`, one
TensorFlow thread each), then again with the cores swapped, so each checkout's
figure is the mean of both cores. Every process builds the same models (seeded) of
`Seq2Seq` at the benchmark's shape (`common.FULL_DIMS`: a GRU of 512 (`--cell`),
general attention, bidirectional encoder of 256 a direction, vocabularies 8,000 /
6,000) on one batch of random ids (`--batch` x `--length`, source and target), times
each configuration's first `train_on_batch` (tracing included), waits until the
other process has done the same (so the timed steps of both overlap; the one that
ends first leaves the other's last steps alone on the machine), then times
`--rounds` rounds of `--steps` steps of each configuration in turn (the order
rotating), and reports the median step.
The child runs with `python -c` so that only `PYTHONPATH` decides which checkout it
imports (checked against `keras_seq2seq.__file__`).

Configurations (`--configs`): r1 (teacher forcing), token_0.5 (per-token coins at a
constant 0.5), token_isd (per-token coins under `InverseSigmoidDecay(500)`, the
ratio below 1 but changing), batch_0.5 (one coin a batch at 0.5).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {
    "r1": {},
    "token_0.5": {"teacher_forcing": 0.5, "teacher_forcing_granularity": "token"},
    "token_isd": {"teacher_forcing": {"name": "inverse_sigmoid", "k": 500},
                  "teacher_forcing_granularity": "token"},
    "batch_0.5": {"teacher_forcing": 0.5, "teacher_forcing_granularity": "batch"},
}
MARK = "PINNED_PAIR "

# One process on one core: build every configuration, then time them in turn.
CHILD = """
import json, os, statistics, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras
import numpy as np
import keras_seq2seq as ks
from keras_seq2seq.constants import RESERVED_TOKENS, START_ID

settings = json.loads(sys.argv[2])
dims, configs = settings["dims"], settings["configs"]
rng = np.random.default_rng(0)
shape = (settings["batch"], settings["length"])
low = len(RESERVED_TOKENS)  # word ids only
source = rng.integers(low, dims["source_vocabulary_size"], shape).astype("int32")
target = rng.integers(low, dims["target_vocabulary_size"], shape).astype("int32")
decoder_input = np.concatenate([np.full((shape[0], 1), START_ID, "int32"), target[:, :-1]],
                               1)
models, first = {}, {}
for name, options in configs.items():
    keras.utils.set_random_seed(0)
    model = ks.Seq2Seq(dims["source_vocabulary_size"], dims["target_vocabulary_size"],
                       embedding_dim=dims["embedding_dim"], units=dims["units"],
                       encoder_units=dims["encoder_units"], bidirectional=True,
                       cell_type=settings["cell"], attention="general", **options)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    models[name] = model
# Traced only once every model is built: seeding the next model would retrace them.
for name, model in models.items():
    start = time.perf_counter()
    model.train_on_batch((source, decoder_input), target)
    first[name] = time.perf_counter() - start
print("READY", flush=True)
sys.stdin.readline()  # the parent's go, once both processes are ready
steps = {name: [] for name in configs}
names = list(configs)
for turn in range(settings["rounds"]):
    for name in names[turn % len(names):] + names[:turn % len(names)]:
        for _ in range(settings["steps"]):
            start = time.perf_counter()
            models[name].train_on_batch((source, decoder_input), target)
            steps[name].append(time.perf_counter() - start)
print(sys.argv[3] + json.dumps({
    "file": ks.__file__, "core": int(sys.argv[1]), "first_s": first,
    "step_ms": {n: 1000 * statistics.median(v) for n, v in steps.items()}}))
"""


def start_child(checkout, core, settings, log):
    """A running child process of `checkout` pinned to `core` (stderr to `log`)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=checkout)
    return subprocess.Popen([sys.executable, "-c", CHILD, str(core), json.dumps(settings),
                             MARK],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                            text=True, env=env,
                            cwd=tempfile.gettempdir())  # not a checkout


def child_failed(checkout, process, log):
    log.seek(0)
    return SystemExit(f"{checkout}: the child failed (exit {process.poll()}):\n"
                      f"{log.read()[-2000:]}")


def wait_ready(process, checkout, log):
    """Reads the child's stdout up to its READY line (after building and tracing)."""
    for line in process.stdout:
        if line.strip() == "READY":
            return
    process.wait()
    raise child_failed(checkout, process, log)


def finish_child(process, checkout, log):
    """The child's report; SystemExit naming the checkout if it failed."""
    out, _ = process.communicate()
    lines = [x for x in out.splitlines() if x.startswith(MARK)]
    if process.returncode != 0 or not lines:
        raise child_failed(checkout, process, log)
    found = json.loads(lines[-1][len(MARK):])
    if not found["file"].startswith(os.path.join(checkout, "")):
        raise SystemExit(f"{checkout}: keras_seq2seq came from {found['file']}")
    return found


def run_pair(checkouts, settings, cores):
    """{label: [its report on each turn]}: both checkouts at once, then cores swapped.

    Each report names its `core`. Both children build and trace, then start their
    timed steps together (each waits for a line on stdin).
    """
    reports = {label: [] for label in checkouts}
    for swap in (False, True):
        order = list(checkouts.items())
        if swap:
            order.reverse()
        logs = [tempfile.TemporaryFile("w+") for _ in order]
        running = [(label, path, start_child(path, core, settings, log), log)
                   for (label, path), core, log in zip(order, cores, logs)]
        try:
            for _, path, process, log in running:
                wait_ready(process, path, log)
            for _, _, process, _ in running:
                process.stdin.write("go\n")
                process.stdin.flush()
            for label, path, process, log in running:
                reports[label].append(finish_child(process, path, log))
        finally:
            for _, _, process, log in running:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                log.close()
    return reports


def summary(reports):
    """Per checkout: mean over both cores of the median step and first call."""
    table = {}
    for label, runs in reports.items():
        names = runs[0]["step_ms"]
        table[label] = {
            name: {"step_ms": sum(r["step_ms"][name] for r in runs) / len(runs),
                   "step_ms_by_core": {str(r["core"]): r["step_ms"][name] for r in runs},
                   "first_s": sum(r["first_s"][name] for r in runs) / len(runs)}
            for name in names}
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the other checkout")
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS),
                        default=["r1", "token_0.5"])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=3, help="timed steps a turn")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--length", type=int, default=16)
    parser.add_argument("--units", type=int, default=common.FULL_DIMS["units"],
                        help="decoder units (the embedding and encoder scale with it)")
    parser.add_argument("--cell", choices=("gru", "lstm"), default="gru")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    cores = sorted(os.sched_getaffinity(0))[:2]
    if len(cores) < 2:
        raise SystemExit("pinned_pair.py needs two cores (one a checkout).")
    scale = args.units / common.FULL_DIMS["units"]
    dims = dict(common.FULL_DIMS, units=args.units,
                embedding_dim=max(1, round(common.FULL_DIMS["embedding_dim"] * scale)),
                encoder_units=max(1, round(common.FULL_DIMS["encoder_units"] * scale)))
    settings = {"dims": dims, "configs": {n: CONFIGS[n] for n in args.configs},
                "rounds": args.rounds, "steps": args.steps, "batch": args.batch,
                "length": args.length, "cell": args.cell}
    checkouts = {"this": HERE, "against": os.path.abspath(args.against)}
    table = summary(run_pair(checkouts, settings, cores))
    print(f"{'config':<12}{'this ms':>10}{'against ms':>12}{'against/this':>14}"
          f"{'first s this':>14}{'against':>9}")
    for name in args.configs:
        this, other = table["this"][name], table["against"][name]
        print(f"{name:<12}{this['step_ms']:>10.1f}{other['step_ms']:>12.1f}"
              f"{other['step_ms'] / this['step_ms']:>13.2f}x{this['first_s']:>14.2f}"
              f"{other['first_s']:>9.2f}")
    if "r1" in args.configs:
        for name in args.configs:
            if name != "r1":
                speeds = {label: table[label]["r1"]["step_ms"] / table[label][name]["step_ms"]
                          for label in table}
                print(f"{name} speed / r1 speed: this {speeds['this']:.3f}, "
                      f"against {speeds['against']:.3f}")
    results = {"meta": common.machine_info(), "settings": settings,
               "checkouts": checkouts, "table": table}
    if args.json:
        common.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
