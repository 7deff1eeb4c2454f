"""How cost grows: training, decoding and export cost against the problem's size, plotted.

    python benchmarks/cost_growth.py [--smoke | --quick] [--json PATH] [--plots DIR]
                                     [--skip training memory decoding export]
                                     [--steps N] [--calls N] [--jobs N]

All on random ids (no corpus is read), at the benchmark's Multi30k dims
(`common.FULL_DIMS`: embedding 256, bidirectional GRU encoder of 256 a direction, GRU
decoder 512, general attention, vocabularies 8,000 / 6,000) or `SMOKE_DIMS` with
`--smoke`. Four curves, a line per path:

* **training against batch size** (32-512, at 16 source / 16 target ids, so 17
  target positions with [END]) and **against sentence length** (5-60, source =
  target length, batch 64), for the paths `baseline` (the plain-Keras twin of
  `benchmarks/baseline.py`), `ours_r1` (teacher forced) and `ours_token_0.5`
  (token-level scheduled sampling at 0.5): tokens/s = non-pad target tokens of the
  batch / the median `train_on_batch` seconds over `--steps` timed steps. All models
  are built first (building seeds the global RNG, which retraces existing
  functions), then each is stepped on two batches that differ in batch size *and*
  length, so that Keras's `reduce_retracing` train function generalises to
  `(None, None)` shapes and every point runs the same graph (as with the six bucket
  shapes of `training_speed.py`); each point is then warmed up again and its timed
  steps alternate between the paths (rotating order).
  **Peak training memory** of the same points (a subset in the default mode, to
  bound time): `peak_memory.py`'s child, one fresh process per (path, point), two at
  a time (`--jobs`: a process's own high-water mark does not depend on its
  neighbour): build, reset the RSS high-water mark (`/proc/self/clear_refs`), train
  two steps on the point's batch (the first traces, as in `peak_memory.py`), read
  `VmHWM`.
* **decoding latency** at batch 1 (one 15-id source) against the output length (5-60
  steps, greedy and beam 5) and against the beam width (1-10, 20 steps): `model.search`
  in a `tf.function` per decoder, as `decoding_speed.py` runs it, with `max_length` =
  the steps and `min_length` = steps - 1, so every call runs that many steps
  (`decoding_speed.timed`); p50 over `--calls` calls a point, the points alternating
  call by call. Every decoder also runs XLA-compiled (`jit_compile=True`, the lines
  `..._xla`; each point's program compiled by its untimed first call).
* **the export against vocabulary size** (1,000-32,000 words on both sides, word
  tokenizers over made-up vocabularies): `export_translator` (greedy, max_length 20),
  size on disk (`du -sk` of the SavedModel folder; also its graph, variables and
  assets apart) and load time in a fresh process: `import tensorflow_text` +
  `tf.saved_model.load` (`import tensorflow` timed apart; the first `translate` call
  too), median of 2, one process at a time.

Prints a Markdown table per panel and, per curve, helper figures for where it bends
(ratios between consecutive points, slopes between them, a straight-line fit; per
training point the step time, step-time ratio / token ratio, achieved GFLOP/s and the
counted FLOP shares of the output projection and the attention, `benchmarks/flops.py`;
decoding's ms and counted FLOPs a step);
`--json PATH` writes every figure (the plotted curves under `series`), `--plots DIR`
writes `cost_batch_size.png`, `cost_length.png`, `cost_decoding.png` and
`cost_export.png` (default: `benchmarks/` in the default mode; with `--quick` and
`--smoke` only when `--plots` is given). `--quick`: fewer points, steps and calls
(3 a curve). `--smoke`: tiny dims and grids, 1-2 steps, seconds; to stay in seconds
it reads the memory in the training process (same reset and `VmHWM`, on the already
traced models: `--memory-processes` for fresh ones) and exports one vocabulary.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common, decoding_speed, flops, peak_memory  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.common import RESERVED_TOKENS, spec  # noqa: E402

SECTIONS = ("training", "memory", "decoding", "export")
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
GRIDS = {
    "default": dict(
        batch_sizes=(32, 64, 128, 256, 512), batch_length=16,
        lengths=(5, 10, 20, 30, 45, 60), length_batch=64,
        memory_batch_sizes=(32, 128, 512), memory_lengths=(5, 10, 30, 60),
        warmup=2, steps=5,
        output_lengths=(5, 10, 20, 40, 60), main_beam=5,
        beam_widths=(1, 2, 3, 5, 8, 10), width_steps=20, source_length=15, calls=30,
        vocabularies=(1000, 4000, 8000, 16000, 32000), load_repeats=2, jobs=2,
        memory_processes=True),
    "quick": dict(
        batch_sizes=(32, 128, 512), batch_length=16, lengths=(5, 20, 60), length_batch=64,
        memory_batch_sizes=(32, 512), memory_lengths=(5, 60), warmup=1, steps=3,
        output_lengths=(5, 20, 60), main_beam=5, beam_widths=(1, 5, 10), width_steps=20,
        source_length=15, calls=10, vocabularies=(1000, 8000, 32000), load_repeats=1,
        jobs=2, memory_processes=True),
    # --smoke keeps to seconds: a fresh TensorFlow process costs ~8 CPU-s (import,
    # build, trace), an export ~6 s of tracing. So its memory is read in the training
    # process (`--memory-processes` for fresh ones), at the one point both sweeps
    # share (8 x 4), and it exports one vocabulary.
    "smoke": dict(
        batch_sizes=(4, 8), batch_length=4, lengths=(4, 6), length_batch=8,
        memory_batch_sizes=(8,), memory_lengths=(4,), warmup=1, steps=2,
        output_lengths=(3, 6), main_beam=5, beam_widths=(1, 5), width_steps=4,
        source_length=5, calls=2, vocabularies=(64,), load_repeats=1, jobs=2,
        memory_processes=False),
}
LOAD_MARK = "LOAD_RESULT "
# A fresh process that loads an export the way a server does (TensorFlow and
# tensorflow-text only; nothing of this repository is imported).
LOAD_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import tensorflow as tf
t1 = time.perf_counter()
import tensorflow_text  # noqa: F401  (registers the tokenizers' ops)
t2 = time.perf_counter()
module = tf.saved_model.load(sys.argv[1])
t3 = time.perf_counter()
module.translate(tf.constant([sys.argv[2]]))["translations"].numpy()
t4 = time.perf_counter()
print("LOAD_RESULT " + json.dumps({
    "import_tensorflow_seconds": t1 - t0, "import_tensorflow_text_seconds": t2 - t1,
    "saved_model_load_seconds": t3 - t2, "load_seconds": t3 - t1,
    "first_translate_seconds": t4 - t3}), flush=True)
"""


def path_specs():
    """The training paths (lines): the plain-Keras twin, ours teacher forced, ours
    with token-level scheduled sampling at 0.5."""
    return [spec("baseline"), spec("ours"),
            spec("ours", teacher_forcing=0.5, granularity="token")]


# ============================================================================ training
def random_batch(batch_size, length, dims, seed=0):
    """A batch of `batch_size` random source and target sequences of `length` ids
    (no padding): `common.make_batch`, so `length + 1` target positions a row."""
    rng = np.random.default_rng([seed, batch_size, length])
    reserved = len(RESERVED_TOKENS)
    source = rng.integers(reserved, dims["source_vocabulary_size"], (batch_size, length))
    target = rng.integers(reserved, dims["target_vocabulary_size"], (batch_size, length))
    return common.make_batch(list(source.astype(np.int32)), list(target.astype(np.int32)))


def sweep_points(grid, memory=False):
    """{sweep: [(x, (batch_size, length)), ...]} of the two training sweeps (`memory`:
    the subset measured for peak memory)."""
    sizes = grid["memory_batch_sizes" if memory else "batch_sizes"]
    lengths = grid["memory_lengths" if memory else "lengths"]
    return {"batch_size": [(b, (b, grid["batch_length"])) for b in sizes],
            "length": [(n, (grid["length_batch"], n)) for n in lengths]}


def unique_shapes(points):
    shapes = []
    for sweep in points.values():
        for _, shape in sweep:
            if shape not in shapes:
                shapes.append(shape)
    return shapes


def generalizing_pair(shapes):
    """Two shapes that differ in batch size and in length (None if there are none)."""
    for a in shapes:
        for b in shapes:
            if a[0] != b[0] and a[1] != b[1]:
                return a, b
    return None


def bench_training(specs, shapes, dims, warmup, steps, log=common.log, keep=False):
    """Step seconds of every spec at every `(batch_size, length)` shape.

    Returns:
        ({id: {shape: entry}}, {id: info}, {id: model} if `keep` else {}); an entry
        has `tokens`, `step_seconds`, `cpu_seconds`, `warmup_seconds` (its untimed
        steps').
    """
    batches = {shape: random_batch(*shape, dims) for shape in shapes}
    models, info = {}, {}
    for s in specs:  # every model first: building seeds the global RNG (retraces)
        start = time.perf_counter()
        models[s["id"]] = common.build_model(s, dims)
        info[s["id"]] = {"spec": s, "build_seconds": time.perf_counter() - start}
    pair = generalizing_pair(shapes)
    for sid, model in models.items():
        times = []
        for shape in pair or shapes[:1]:
            start = time.perf_counter()
            common.train_step(model, batches[shape])
            times.append(time.perf_counter() - start)
        info[sid].update(common.describe_model(model), generalizing_shapes=pair,
                         trace_seconds=times)
        log(f"  [training] {sid}: traced on {pair} in "
            + ", ".join(f"{t:.1f}" for t in times) + " s")
    ids = list(models)
    out = {sid: {} for sid in ids}
    turn = 0
    for i, shape in enumerate(shapes):
        batch = batches[shape]
        for sid in common.rotated(ids, i):
            warm = []
            for _ in range(warmup):
                start = time.perf_counter()
                common.train_step(models[sid], batch)
                warm.append(time.perf_counter() - start)
            out[sid][shape] = {"tokens": batch["tokens"], "warmup_seconds": warm,
                               "step_seconds": [], "cpu_seconds": []}
        for _ in range(steps):
            for sid in common.rotated(ids, turn):
                entry = out[sid][shape]
                cpu = time.process_time()
                start = time.perf_counter()
                common.train_step(models[sid], batch)
                entry["step_seconds"].append(time.perf_counter() - start)
                entry["cpu_seconds"].append(time.process_time() - cpu)
            turn += 1
        log(f"  [training] batch {shape[0]} x length {shape[1]}: " + ", ".join(
            f"{sid}={batch['tokens'] / common.median(out[sid][shape]['step_seconds']):,.0f}"
            " tok/s" for sid in ids))
    if not keep:
        models.clear()
    return out, info, models


def flop_shares(dims, batch_size, length):
    """`flops.forward_flops` of a (batch_size, length) batch of ours_r1 (GRU, general)
    and the shares of the output projection (2·B·T·U·V) and of the attention's
    per-(t, s) matmuls (scores and context: 2·B·T·Ts·(U + 2E))."""
    s = spec("ours")
    b, ts, t = batch_size, length, length + 1
    forward = flops.forward_flops(s, dims, b, ts, t)
    units, vocabulary = dims["units"], dims["target_vocabulary_size"]
    attention = 2 * b * t * ts * (units + 2 * dims["encoder_units"])
    return {"training_flops": 3 * forward,
            "output_projection_share": 2 * b * t * units * vocabulary / forward,
            "attention_scores_share": attention / forward}


def decoding_step_flops(dims, source_length, rows):
    """Counted FLOPs of one decoder step for `rows` hypotheses (the part of
    `flops.forward_flops` that grows with the target length)."""
    s = spec("ours")
    return (flops.forward_flops(s, dims, rows, source_length, 2)
            - flops.forward_flops(s, dims, rows, source_length, 1))


def training_sweeps(out, info, points, dims):
    """The per-sweep figures of `bench_training`'s output (with counted FLOPs: the
    same count for every path; token-level sampling's extra projection is not in it)."""
    sweeps = {}
    for sweep, pts in points.items():
        paths = {}
        shares = [flop_shares(dims, *shape) for _, shape in pts]
        for sid, per_shape in out.items():
            entries = [per_shape[shape] for _, shape in pts]
            medians = [common.median(e["step_seconds"]) for e in entries]
            paths[sid] = {
                "tokens": [e["tokens"] for e in entries],
                "tokens_per_second": [e["tokens"] / m for e, m in zip(entries, medians)],
                "gflops_per_second": [f["training_flops"] / m / 1e9
                                      for f, m in zip(shares, medians)],
                "step_seconds_median": medians,
                "step_seconds": [e["step_seconds"] for e in entries],
                "cpu_seconds": [e["cpu_seconds"] for e in entries],
                "warmup_seconds": [e["warmup_seconds"] for e in entries],
                "model": info[sid]["model"],
                "trainable_parameters": info[sid]["trainable_parameters"]}
        sweeps[sweep] = {"x": [x for x, _ in pts], "shapes": [list(s) for _, s in pts],
                         "paths": paths, "flops": shares}
    return sweeps


# ============================================================================ memory
def memory_in_process(models, s, batch):
    """`peak_memory.memory_child`'s readings, in this process, on a built (and traced)
    model: RSS, reset the high-water mark, two steps, `VmHWM` (what --smoke does)."""
    start = time.perf_counter()
    rss = peak_memory.status_kb("VmRSS")
    reset = peak_memory.reset_peak()
    for _ in range(2):
        common.train_step(models[s["id"]], batch)
    return {"id": s["id"], "in_process": True, "returncode": 0,
            "seconds": time.perf_counter() - start, "rss_after_build_kb": rss,
            "training_peak_kb": peak_memory.status_kb("VmHWM") if reset else None}


def bench_memory(specs, points, dims, jobs, models=None, log=common.log):
    """Peak training RSS of every (spec, shape) on the point's `random_batch`:
    `peak_memory.run_memory_child`, one fresh process each (`jobs` at a time), or,
    given `models` ({id: built model}), `memory_in_process`."""
    shapes = unique_shapes(points)
    results = {}
    with tempfile.TemporaryDirectory(prefix="cost_growth_") as tmp:
        paths, batches = {}, {}
        for b, n in shapes:
            batches[(b, n)] = batch = random_batch(b, n, dims)
            paths[(b, n)] = os.path.join(tmp, f"batch_{b}x{n}.npz")
            np.savez(paths[(b, n)], count=np.array(1), **{
                f"{key}_0": batch[key] for key in ("source", "decoder_input", "target")})
        tasks = [(s, shape) for shape in shapes for s in specs]

        def run(task):
            s, shape = task
            if models is not None:
                result = memory_in_process(models, s, batches[shape])
            else:
                result = peak_memory.run_memory_child(s, dims, paths[shape])
            log(f"  [memory] {s['id']} batch {shape[0]} x length {shape[1]}: training "
                f"peak {(result.get('training_peak_kb') or 0) / 1024:,.0f} MiB "
                f"(after build {(result.get('rss_after_build_kb') or 0) / 1024:,.0f}"
                f" MiB, rc={result['returncode']}, {result['seconds']:.0f} s)")
            return task, result

        with concurrent.futures.ThreadPoolExecutor(
                max(1, jobs) if models is None else 1) as pool:
            for (s, shape), result in pool.map(run, tasks):
                results[(s["id"], shape)] = result

    def mib(result, key):
        value = result.get(key)
        return None if value is None or result.get("error") else value / 1024

    sweeps = {}
    for sweep, pts in points.items():
        lines = {}
        for s in specs:
            rs = [results[(s["id"], shape)] for _, shape in pts]
            peak = [mib(r, "training_peak_kb") for r in rs]
            build = [mib(r, "rss_after_build_kb") for r in rs]
            lines[s["id"]] = {
                "training_peak_mib": peak, "rss_after_build_mib": build,
                "training_increment_mib": [None if p is None or q is None else p - q
                                           for p, q in zip(peak, build)],
                "ok": all(r["returncode"] == 0 and not r.get("error") for r in rs),
                "runs": rs}
        sweeps[sweep] = {"x": [x for x, _ in pts], "shapes": [list(s) for _, s in pts],
                         "paths": lines}
    sweeps["fresh_processes"] = models is None
    return sweeps


# ============================================================================ decoding
XLA = "_xla"  # the suffix of the XLA-compiled decoders' names (`jit_compile=True`)


def bench_decoding(dims, grid, calls, log=common.log, seed=1):
    """p50 latency (batch 1) against the output length and against the beam width."""
    model = common.build_model(spec("ours"), dims)
    model((np.ones((1, 3), np.int32), np.ones((1, 2), np.int32)))  # build
    main = f"beam{grid['main_beam']}"
    widths = sorted(set(grid["beam_widths"]) | {grid["main_beam"]})
    functions = {}
    for suffix, jit in (("", False), (XLA, True)):  # the graph, and XLA-compiled
        functions["greedy" + suffix] = decoding_speed.search_function(
            model, "greedy", jit_compile=jit)
        functions.update({f"beam{w}{suffix}": decoding_speed.search_function(
            model, "beam", w, jit_compile=jit) for w in widths})
    rng = np.random.default_rng(seed)
    sources = [rng.integers(len(RESERVED_TOKENS), dims["source_vocabulary_size"],
                            (1, grid["source_length"])).astype(np.int32) for _ in range(4)]
    first_call = {}
    for name, function in functions.items():  # trace each once
        first_call[name] = decoding_speed.timed(function, sources[0], 3)[0]
    log("  [decoding] traced " + ", ".join(f"{n} {t:.1f} s" for n, t in first_call.items()))
    lines = ("greedy", main, "greedy" + XLA, main + XLA)
    items = ([("output_length", name, n) for name in lines
              for n in grid["output_lengths"]]
             + [("beam_width", f"beam{w}{suffix}", grid["width_steps"])
                for suffix in ("", XLA) for w in grid["beam_widths"]])
    for _, name, steps in items:  # one untimed call a point (XLA: its compilation)
        decoding_speed.timed(functions[name], sources[0], steps)
    seconds = {item: [] for item in items}
    lengths = {item: [] for item in items}
    for c in range(calls):
        for item in common.rotated(items, c):
            elapsed, out = decoding_speed.timed(functions[item[1]],
                                                sources[c % len(sources)], item[2])
            seconds[item].append(elapsed)
            lengths[item].extend(np.asarray(out[1]).reshape(-1).tolist())

    def point(item):
        summary = common.latency_summary(seconds[item])
        summary.update(iqr_ms=[1e3 * q for q in common.quartiles(seconds[item])],
                       mean_output_length=float(np.mean(lengths[item])),
                       steps=item[2])
        return summary

    curves = {}
    for name in lines:
        pts = [point(("output_length", name, n)) for n in grid["output_lengths"]]
        curves[name] = {"p50_ms": [p["p50_ms"] for p in pts], "points": pts}
    width_points = {suffix: [point(("beam_width", f"beam{w}{suffix}", grid["width_steps"]))
                             for w in grid["beam_widths"]] for suffix in ("", XLA)}
    log(f"  [decoding] {calls} calls a point: greedy " + ", ".join(
        f"{n}:{v:.1f}" for n, v in zip(grid["output_lengths"], curves["greedy"]["p50_ms"]))
        + " ms")
    return {"batch_size": 1, "source_length": grid["source_length"], "calls": calls,
            "first_call_seconds": first_call,
            "output_length": {"x": list(grid["output_lengths"]), "curves": curves},
            "beam_width": {"x": list(grid["beam_widths"]), "steps": grid["width_steps"],
                           "p50_ms": [p["p50_ms"] for p in width_points[""]],
                           "points": width_points[""],
                           "p50_ms" + XLA: [p["p50_ms"] for p in width_points[XLA]],
                           "points" + XLA: width_points[XLA]}}


# ============================================================================ export
def du_kib(path):
    """Disk usage of `path` in KiB (`du -sk`; apparent bytes / 1024 without `du`)."""
    try:
        return int(subprocess.run(["du", "-sk", path], capture_output=True, text=True,
                                  check=True).stdout.split()[0])
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return apparent_bytes(path) / 1024


def apparent_bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def text_model(dims, vocabulary_size):
    """The benchmark's model (`common.build_model` of ours_r1) with both vocabularies
    of `vocabulary_size`, given word tokenizers over made-up words (as in
    `decoding_speed.savedmodel_latency`); returns (model, a made-up source sentence)."""
    import keras_seq2seq as ks
    from keras_seq2seq.text import WordTokenizer

    sized = dict(dims, source_vocabulary_size=vocabulary_size,
                 target_vocabulary_size=vocabulary_size)
    config = common.build_model(spec("ours"), sized).get_config()
    reserved = len(RESERVED_TOKENS)
    source_words = [f"s{i}" for i in range(vocabulary_size - reserved)]
    target_words = [f"t{i}" for i in range(vocabulary_size - reserved)]
    config.update(
        source_tokenizer=WordTokenizer(list(RESERVED_TOKENS) + source_words,
                                       name="source_tokenizer"),
        target_tokenizer=WordTokenizer(list(RESERVED_TOKENS) + target_words,
                                       name="target_tokenizer"))
    rng = np.random.default_rng(vocabulary_size)
    return ks.Seq2Seq.from_config(config), " ".join(rng.choice(source_words, size=12))


def run_load_child(path, sentence):
    """Loads the export at `path` in a fresh process (LOAD_CHILD); its timings."""
    start = time.perf_counter()
    process = subprocess.run([sys.executable, "-c", LOAD_CHILD, path, sentence],
                             capture_output=True, text=True, check=False)
    result = {"returncode": process.returncode,
              "process_seconds": time.perf_counter() - start}
    for line in process.stdout.splitlines():
        if line.startswith(LOAD_MARK):
            result.update(json.loads(line[len(LOAD_MARK):]))
    if process.returncode != 0 or "load_seconds" not in result:
        result["error"] = (process.stdout + process.stderr)[-1500:]
    return result


def bench_export(dims, vocabularies, repeats, jobs, log=common.log):
    """Size on disk and fresh-process load time of a greedy export per vocabulary."""
    from keras_seq2seq.export import export_translator

    folder = tempfile.mkdtemp(prefix="cost_growth_export_")
    points = []
    try:
        for v in vocabularies:
            start = time.perf_counter()
            model, sentence = text_model(dims, v)
            built = time.perf_counter() - start
            path = os.path.join(folder, f"vocab_{v}")
            start = time.perf_counter()
            export_translator(model, path, max_length=20, min_length=19)
            exported = time.perf_counter() - start
            parameters = int(sum(np.prod(w.shape) for w in model.weights))
            points.append({
                "vocabulary_size": v, "path": path, "sentence": sentence,
                "build_seconds": built, "export_seconds": exported,
                "parameters": parameters, "weights_mib": 4 * parameters / 2 ** 20,
                "size_mib": du_kib(path) / 1024,
                "apparent_mib": apparent_bytes(path) / 2 ** 20,
                "graph_mib": sum(apparent_bytes(os.path.join(path, name)) for name in
                                 ("saved_model.pb", "fingerprint.pb")
                                 if os.path.exists(os.path.join(path, name))) / 2 ** 20,
                "variables_mib": apparent_bytes(os.path.join(path, "variables")) / 2 ** 20,
                "assets_mib": (apparent_bytes(os.path.join(path, "assets"))
                               if os.path.exists(os.path.join(path, "assets")) else 0)
                / 2 ** 20, "loads": []})
            log(f"  [export] vocabulary {v:,}: {points[-1]['size_mib']:.1f} MiB on disk, "
                f"exported in {exported:.1f} s")
            del model
        tasks = [p for r in range(repeats) for p in common.rotated(points, r)]

        def run(p):
            return p, run_load_child(p["path"], p["sentence"])

        with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
            for p, result in pool.map(run, tasks):
                p["loads"].append(result)
                log(f"  [export] vocabulary {p['vocabulary_size']:,}: loaded in "
                    f"{result.get('load_seconds', float('nan')):.2f} s "
                    f"(rc={result['returncode']})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for p in points:
        del p["path"]
        ok = [x for x in p["loads"] if not x.get("error")]
        for key in ("load_seconds", "saved_model_load_seconds",
                    "import_tensorflow_text_seconds", "import_tensorflow_seconds",
                    "first_translate_seconds"):
            p[key] = common.median([x[key] for x in ok])
    return {"x": list(vocabularies), "export": "greedy, max_length 20, min_length 19",
            "repeats": repeats, "points": points}


# ============================================================================ series
def build_series(results):
    """{key: curve} of every plotted line: `figure/panel/line` keys, `x`, `y`, labels."""
    series = {}

    def add(figure, panel, line, x, y, x_label, y_label, **extra):
        series[f"{figure}/{panel}/{line}"] = dict(
            figure=figure, panel=panel, line=line, x=list(x), y=list(y),
            x_label=x_label, y_label=y_label, **extra)

    training, memory = results.get("training"), results.get("memory")
    grid = results["settings"]["grid"]
    x_labels = {"batch_size": f"batch size (sequences; {grid['batch_length']} source "
                              f"/ {grid['batch_length']} target ids)",
                "length": f"sentence length (ids, source = target; batch "
                          f"{grid['length_batch']})"}
    for sweep in ("batch_size", "length"):
        if training:
            for sid, path in training[sweep]["paths"].items():
                add(sweep, "tokens_per_second", sid, training[sweep]["x"],
                    path["tokens_per_second"], x_labels[sweep],
                    "training throughput (non-pad target tokens/s)")
        if memory:
            paths = memory[sweep]["paths"]
            for sid, path in paths.items():
                add(sweep, "peak_memory_mib", sid, memory[sweep]["x"],
                    path["training_peak_mib"], x_labels[sweep],
                    "peak RSS while training (MiB)")
            add(sweep, "peak_memory_mib", "RSS after build (median of paths)",
                memory[sweep]["x"], [common.median(values) for values in zip(
                    *(path["rss_after_build_mib"] for path in paths.values()))],
                x_labels[sweep], "peak RSS while training (MiB)", style=":",
                color="gray")
    decoding = results.get("decoding")
    if decoding:
        for name, curve in decoding["output_length"]["curves"].items():
            add("decoding", "output_length", name, decoding["output_length"]["x"],
                curve["p50_ms"], "output length (decoder steps, forced)",
                "latency p50 (ms), batch 1")
        width = decoding["beam_width"]
        for suffix in ("", XLA):
            if "p50_ms" + suffix in width:
                add("decoding", "beam_width", "beam" + suffix, width["x"],
                    width["p50_ms" + suffix], "beam width",
                    f"latency p50 (ms), batch 1, {width['steps']} steps")
    export = results.get("export")
    if export:
        label = "vocabulary size (words, source = target)"
        pts = export["points"]
        add("export", "size_mib", "SavedModel folder (du)", export["x"],
            [p["size_mib"] for p in pts], label, "SavedModel size on disk (MiB, du)")
        add("export", "size_mib", "weights alone (4 bytes a parameter)", export["x"],
            [p["weights_mib"] for p in pts], label, "SavedModel size on disk (MiB, du)",
            style="--")
        add("export", "load_seconds", "import tensorflow_text + tf.saved_model.load",
            export["x"], [p["load_seconds"] for p in pts], label, "load time (s)")
        add("export", "load_seconds", "tf.saved_model.load alone", export["x"],
            [p["saved_model_load_seconds"] for p in pts], label, "load time (s)",
            style="--")
    return series


# Where a curve bends: the unit its slopes are given per (x scale, wording).
SLOPE_UNITS = {"batch_size": (1, "per extra sequence"), "length": (1, "per extra id"),
               "output_length": (1, "per step"), "beam_width": (1, "per extra beam"),
               "size_mib": (1000, "per 1,000 words"),
               "load_seconds": (1000, "per 1,000 words")}


def bend_figures(curve):
    """Ratios and slopes between consecutive points, and a least-squares line."""
    x = np.array(curve["x"], np.float64)
    y = np.array([np.nan if v is None else v for v in curve["y"]], np.float64)
    key = curve["panel"] if curve["figure"] in ("batch_size", "length") else None
    scale, unit = SLOPE_UNITS[curve["figure"] if key else curve["panel"]]
    out = {"slope_unit": unit, "ratios": [], "slopes": [], "fit_slope": None,
           "fit_intercept": None}
    if len(x) < 2 or not np.all(np.isfinite(y)):
        return out
    out["ratios"] = (y[1:] / y[:-1]).tolist()
    out["x_ratios"] = (x[1:] / x[:-1]).tolist()
    out["slopes"] = ((y[1:] - y[:-1]) / (x[1:] - x[:-1]) * scale).tolist()
    slope, intercept = np.polyfit(x, y, 1)
    out["fit_slope"], out["fit_intercept"] = float(slope * scale), float(intercept)
    return out


def bend_line(key, curve, bends):
    if not bends["ratios"]:
        return f"- `{key}`: too few points"
    x = curve["x"]
    steps = ", ".join(f"{a:g}→{b:g} ×{r:.2f} ({s:+.3g})" for a, b, r, s in zip(
        x[:-1], x[1:], bends["ratios"], bends["slopes"]))
    return (f"- `{key}`: y ratio (and slope {bends['slope_unit']}) between consecutive "
            f"points: {steps}; line fit: {bends['fit_slope']:.4g} "
            f"{bends['slope_unit']}, intercept {bends['fit_intercept']:.4g}")


def extra_bend_lines(results):
    """Helper figures beyond the curves: per training point the step time, the
    step-time ratio over the token ratio between consecutive points (1 = time grows
    with the work; < 1 = a fixed cost per step is being amortised), the achieved
    GFLOP/s and the FLOP shares of the output projection and of the attention;
    decoding's beam / greedy ratio and its counted FLOP/s a step (tiny: per-step
    overhead, not arithmetic); the export's graph / variables / assets."""
    lines = []
    training = results.get("training")
    for sweep in ("batch_size", "length") if training else ():
        shares = training[sweep]["flops"]
        lines.append(f"- `{sweep}` counted FLOP shares (forward, ours_r1): output "
                     "projection " + ", ".join(
                         f"{f['output_projection_share']:.0%}" for f in shares)
                     + "; attention scores + context " + ", ".join(
                         f"{f['attention_scores_share']:.0%}" for f in shares))
        for sid, path in training[sweep]["paths"].items():
            s, t = path["step_seconds_median"], path["tokens"]
            lines.append(
                f"- `{sweep}` {sid}: step " + ", ".join(f"{a * 1e3:.0f}" for a in s)
                + " ms; step-time ratio / token ratio " + ", ".join(
                    f"{(s[i + 1] / s[i]) / (t[i + 1] / t[i]):.2f}"
                    for i in range(len(s) - 1))
                + "; GFLOP/s " + ", ".join(f"{g:.3g}" for g in path["gflops_per_second"]))
    decoding = results.get("decoding")
    if decoding:
        curves = decoding["output_length"]["curves"]
        names = list(curves)
        ratios = [b / a for a, b in zip(curves[names[0]]["p50_ms"],
                                        curves[names[1]]["p50_ms"])]
        lines.append(f"- {names[1]} / {names[0]} latency at "
                     + ", ".join(f"{n} steps {r:.2f}×" for n, r in zip(
                         decoding["output_length"]["x"], ratios)))
        if len(names) == 4:
            ratios = [b / a for a, b in zip(curves[names[2]]["p50_ms"],
                                            curves[names[0]]["p50_ms"])]
            lines.append(f"- {names[0]} / {names[2]} latency (XLA's speed-up) at "
                         + ", ".join(f"{n} steps {r:.2f}×" for n, r in zip(
                             decoding["output_length"]["x"], ratios)))
        for name in names:
            rows = 1 if name.startswith("greedy") else int(name[4:].removesuffix(XLA))
            fit = results["bends"].get(f"decoding/output_length/{name}", {})
            step = decoding_step_flops(results["settings"]["dims"],
                                       decoding["source_length"], rows)
            if fit.get("fit_slope"):
                lines.append(f"- {name}: {fit['fit_slope']:.3f} ms a step (fit) for "
                             f"{step / 1e6:.3g} MFLOP counted a step = "
                             f"{step / fit['fit_slope'] / 1e6:.3g} GFLOP/s")
    export = results.get("export")
    if export:
        lines.append("- export parts (graph / variables / assets MiB): " + ", ".join(
            f"{p['vocabulary_size']:,}: {p['graph_mib']:.1f} / {p['variables_mib']:.1f}"
            f" / {p['assets_mib']:.2f}" for p in export["points"]))
        lines.append("- export and first `translate` call seconds: " + ", ".join(
            f"{p['vocabulary_size']:,}: export {p['export_seconds']:.1f}, first call "
            f"{common.fmt(p['first_translate_seconds'])}" for p in export["points"]))
    return lines


# ============================================================================ report
def panel_tables(series):
    """A Markdown table per (figure, panel): x against every line."""
    panels = {}
    for curve in series.values():
        panels.setdefault((curve["figure"], curve["panel"]), []).append(curve)
    parts = []
    for (figure, panel), curves in panels.items():
        xs = sorted({x for c in curves for x in c["x"]})
        rows = []
        for x in xs:
            cells = []
            for c in curves:
                y = dict(zip(c["x"], c["y"])).get(x)
                cells.append(common.fmt(y, 2 if y is None or abs(y) < 100 else 0))
            rows.append([f"{x:,}"] + cells)
        parts += [f"**{figure} / {panel}**: {curves[0]['y_label']}", "",
                  common.table([curves[0]["x_label"]] + [c["line"] for c in curves], rows),
                  ""]
    return parts


def report(results):
    parts = [(f"## How cost grows ({results['mode']} mode, {results['meta']['cpu']}, "
              f"{results['meta']['nproc']} CPUs)"), ""]
    parts += panel_tables(results["series"])
    parts += ["## Where the curves bend (helper figures)", ""]
    parts += [bend_line(key, results["series"][key], bends)
              for key, bends in results["bends"].items()]
    parts += extra_bend_lines(results)
    return "\n".join(parts)


FIGURES = {
    "batch_size": ("cost_batch_size.png", "Training cost against batch size",
                   ("tokens_per_second", "peak_memory_mib")),
    "length": ("cost_length.png", "Training cost against sentence length",
               ("tokens_per_second", "peak_memory_mib")),
    "decoding": ("cost_decoding.png", "Decoding latency (model.search, batch 1)",
                 ("output_length", "beam_width")),
    "export": ("cost_export.png", "Translator export against vocabulary size",
               ("size_mib", "load_seconds")),
}
LOG2_X = {"batch_size"}  # export: linear x, so that linear growth looks linear


def write_plots(results, folder, log=common.log):
    """One PNG of two panels per figure (matplotlib, Agg, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    os.makedirs(folder, exist_ok=True)
    meta = results["meta"]
    machine = (f"{meta['cpu'] or 'unknown CPU'}, {meta['nproc']} CPUs, TF "
               f"{meta['tensorflow']} ({results['mode']} mode, {meta['date'][:10]})")
    written = []
    for figure, (name, title, panels) in FIGURES.items():
        curves = [c for c in results["series"].values() if c["figure"] == figure]
        if not curves:
            continue
        fig = Figure(figsize=(12, 4.8), layout="constrained")
        FigureCanvasAgg(fig)
        if figure == "decoding":
            title += f", a {results['decoding']['source_length']}-id source"
        fig.suptitle(f"{title}\n{machine}", fontsize=11)
        # the training figures' two panels share their x axis (memory: a subset)
        shared = figure in ("batch_size", "length")
        ticks = sorted({x for c in curves for x in c["x"]})
        first = None
        for i, panel in enumerate(panels):
            ax = fig.add_subplot(1, 2, i + 1, sharex=first if shared else None)
            first = first or ax
            mine = [c for c in curves if c["panel"] == panel]
            if not mine:
                ax.set_visible(False)
                continue
            for c in mine:
                points = [(x, y) for x, y in zip(c["x"], c["y"]) if y is not None]
                if points:
                    xs, ys = zip(*points)
                    ax.plot(xs, ys, c.get("style", "-"), marker="o", label=c["line"],
                            **({"color": c["color"]} if "color" in c else {}))
            xs = ticks if shared else sorted({x for c in mine for x in c["x"]})
            if figure in LOG2_X:
                ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [f"{x // 1000}k" if figure == "export" and x % 1000 == 0
                               else f"{x:,}" for x in xs])
            ax.minorticks_off()
            if shared and len(xs) > 1:
                pad = (0.04 * (np.log2(xs[-1] / xs[0])) if figure in LOG2_X
                       else 0.04 * (xs[-1] - xs[0]))
                ax.set_xlim(*((xs[0] / 2 ** pad, xs[-1] * 2 ** pad) if figure in LOG2_X
                              else (xs[0] - pad, xs[-1] + pad)))
            ax.set_xlabel(mine[0]["x_label"])
            ax.set_ylabel(mine[0]["y_label"])
            ax.set_ylim(bottom=0, top=1.12 * max(
                (y for c in mine for y in c["y"] if y is not None), default=1))
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=9, loc="best")
            ax.set_title(PANEL_TITLES.get((figure, panel), panel), fontsize=10)
        path = os.path.join(folder, name)
        fig.savefig(path, dpi=110)
        written.append(path)
    log("  [plots] wrote " + ", ".join(written))
    return written


PANEL_TITLES = {
    ("batch_size", "tokens_per_second"): "train_on_batch throughput (median step)",
    ("batch_size", "peak_memory_mib"): "peak RSS while training (VmHWM)",
    ("length", "tokens_per_second"): "train_on_batch throughput (median step)",
    ("length", "peak_memory_mib"): "peak RSS while training (VmHWM)",
    ("decoding", "output_length"): "p50 latency against output length",
    ("decoding", "beam_width"): "p50 latency against beam width",
    ("export", "size_mib"): "greedy translator export: size on disk",
    ("export", "load_seconds"): "load in a fresh process (median; import tensorflow "
                                "not counted)",
}


# ============================================================================ main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true",
                      help="tiny dims and grids, 1-2 steps a point (seconds)")
    mode.add_argument("--quick", action="store_true",
                      help="fewer points, steps and calls")
    parser.add_argument("--json", metavar="PATH", help="write every figure to this path")
    parser.add_argument("--plots", metavar="DIR",
                        help="write the PNGs here (default: benchmarks/ in the default "
                        "mode; with --quick / --smoke only when given)")
    parser.add_argument("--skip", nargs="*", default=[], choices=SECTIONS,
                        help="sections to leave out")
    parser.add_argument("--steps", type=int, help="timed training steps a point")
    parser.add_argument("--calls", type=int, help="timed decoding calls a point")
    parser.add_argument("--jobs", type=int,
                        help="peak-memory processes at once (default 2; the export "
                        "loads, which are timed, run one at a time)")
    parser.add_argument("--memory-processes", action="store_true",
                        help="with --smoke: peak memory in fresh processes too (as the "
                        "other modes do) rather than in the training process")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "default"
    grid = dict(GRIDS[mode])
    grid.update({k: v for k, v in (("steps", args.steps), ("calls", args.calls),
                                   ("jobs", args.jobs)) if v})
    grid["memory_processes"] = grid["memory_processes"] or args.memory_processes
    dims = {k: v for k, v in (common.SMOKE_DIMS if args.smoke else common.FULL_DIMS)
            .items() if k != "batch_size"}
    plots = args.plots or (BENCH_DIR if mode == "default" else None)
    began = time.perf_counter()
    import tensorflow as tf  # noqa: F401

    results = {"mode": mode, "meta": common.machine_info(), "settings": {
        "dims": dims, "grid": grid, "paths": [s["id"] for s in path_specs()],
        "command": common.command_line("cost_growth.py", argv)}, "seconds": {}}
    specs = path_specs()
    in_process = "memory" not in args.skip and not grid["memory_processes"]
    models = None
    if "training" not in args.skip:
        start = time.perf_counter()
        points = sweep_points(grid)
        out, info, models = bench_training(specs, unique_shapes(points), dims,
                                           grid["warmup"], grid["steps"], keep=in_process)
        results["training"] = training_sweeps(out, info, points, dims)
        results["training"]["trace_seconds"] = {sid: i["trace_seconds"]
                                                for sid, i in info.items()}
        results["seconds"]["training"] = time.perf_counter() - start
    if "memory" not in args.skip:
        start = time.perf_counter()
        if in_process and not models:
            models = {s["id"]: common.build_model(s, dims) for s in specs}
        results["memory"] = bench_memory(specs, sweep_points(grid, memory=True), dims,
                                         grid["jobs"], models if in_process else None)
        models = None
        results["seconds"]["memory"] = time.perf_counter() - start
    if "decoding" not in args.skip:
        start = time.perf_counter()
        results["decoding"] = bench_decoding(dims, grid, grid["calls"])
        results["seconds"]["decoding"] = time.perf_counter() - start
    if "export" not in args.skip:
        start = time.perf_counter()
        results["export"] = bench_export(dims, grid["vocabularies"],
                                         grid["load_repeats"], 1)
        results["seconds"]["export"] = time.perf_counter() - start
    results["series"] = build_series(results)
    results["bends"] = {key: bend_figures(curve)
                        for key, curve in results["series"].items()}
    results["total_seconds"] = time.perf_counter() - began
    print(report(results))
    print(f"\n({results['total_seconds']:.0f} s: " + ", ".join(
        f"{k} {v:.0f} s" for k, v in results["seconds"].items()) + ")")
    if plots:
        results["plots"] = write_plots(results, plots)
    common.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
