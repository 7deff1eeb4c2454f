"""Benchmarks of keras-seq2seq against a plain-Keras baseline (one entry point).

    python benchmarks/run.py [--quick | --smoke] [--json PATH] [--data DIR]

Measures, on Multi30k De->En (or tiny synthetic data with `--smoke`):

1. training throughput (non-pad target tokens/s, `train_on_batch`) of our `Seq2Seq`
   at teacher-forcing ratio 1, token- and batch-level scheduled sampling at 0.5,
   input feeding, XLA, against the plain-Keras model of `benchmarks/baseline.py`;
   per attention score (dot, general, concat) and per cell (GRU, LSTM);
2. peak RSS of training, one subprocess per configuration;
3. decoding throughput (greedy, beam 5) and single-sentence greedy latency;
4. achieved FLOP/s of training against this machine's measured matmul rate;
5. XLA (`jit_compile=True`) on vs off;
6. the cost of the data pipeline against a training step.

Timings on a shared machine are noisy, so every comparison is a ratio against a
reference measured in the same run: the configurations of a group are warmed up
(every timed batch shape traced) and then timed in rounds over the same batches,
alternating configurations step by step (the order rotates at every step). A ratio
is computed for every (round, batch) pair -- the two steps ran seconds apart on the
same batch -- and the median over pairs is reported with its interquartile range.
"""

import argparse
import collections
import datetime
import gc
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3
NUM_RESERVED = 4
TOKEN_RE = re.compile(r"\w+|[^\w\s]")

FULL_DIMS = dict(embedding_dim=256, units=512, encoder_units=256, batch_size=128,
                 source_vocabulary_size=8000, target_vocabulary_size=6000)
SMOKE_DIMS = dict(embedding_dim=16, units=32, encoder_units=16, batch_size=16,
                  source_vocabulary_size=64, target_vocabulary_size=48)

MEMORY_MARK = "MEMORY_RESULT "


# ============================================================================ data
def tokenize(line):
    """Lowercase word split: `\\w+|[^\\w\\s]`."""
    return TOKEN_RE.findall(line.lower())


def build_vocabulary(tokenized, size):
    """word -> id for the `size - 4` most frequent words (ids 0-3 reserved)."""
    counts = collections.Counter(w for sentence in tokenized for w in sentence)
    words = [w for w, _ in counts.most_common(size - NUM_RESERVED)]
    return {w: i + NUM_RESERVED for i, w in enumerate(words)}


def encode(tokenized, vocabulary):
    return [np.array([vocabulary.get(w, UNK_ID) for w in s], np.int32) for s in tokenized]


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def load_multi30k(data_dir, source_vocabulary_size, target_vocabulary_size):
    """Tokenized Multi30k train (and val) ids plus the raw lines and vocabularies."""
    for name in ("train.de", "train.en"):
        if not os.path.exists(os.path.join(data_dir, name)):
            raise SystemExit(
                f"Multi30k not found: {os.path.join(data_dir, name)} is missing. Pass "
                "--data DIR (with train.de / train.en), or use --smoke.")
    start = time.perf_counter()
    raw_de = read_lines(os.path.join(data_dir, "train.de"))
    raw_en = read_lines(os.path.join(data_dir, "train.en"))
    tok_de = [tokenize(s) for s in raw_de]
    tok_en = [tokenize(s) for s in raw_en]
    vocab_de = build_vocabulary(tok_de, source_vocabulary_size)
    vocab_en = build_vocabulary(tok_en, target_vocabulary_size)
    keep = [i for i in range(len(tok_de)) if tok_de[i] and tok_en[i]]
    corpus = {
        "raw_source": [raw_de[i] for i in keep],
        "raw_target": [raw_en[i] for i in keep],
        "source": encode([tok_de[i] for i in keep], vocab_de),
        "target": encode([tok_en[i] for i in keep], vocab_en),
        "source_vocabulary": vocab_de,
        "target_vocabulary": vocab_en,
    }
    val = {}
    if os.path.exists(os.path.join(data_dir, "val.de")):
        vde = [tokenize(s) for s in read_lines(os.path.join(data_dir, "val.de"))]
        ven = [tokenize(s) for s in read_lines(os.path.join(data_dir, "val.en"))]
        vkeep = [i for i in range(len(vde)) if vde[i] and ven[i]]
        val = {"source": encode([vde[i] for i in vkeep], vocab_de),
               "target": encode([ven[i] for i in vkeep], vocab_en)}
    corpus["val"] = val or {"source": corpus["source"][:1000],
                            "target": corpus["target"][:1000]}
    corpus["load_seconds"] = time.perf_counter() - start
    corpus["num_pairs"] = len(keep)
    src_known = sum(int((s != UNK_ID).sum()) for s in corpus["source"])
    tgt_known = sum(int((t != UNK_ID).sum()) for t in corpus["target"])
    corpus["source_coverage"] = src_known / sum(len(s) for s in corpus["source"])
    corpus["target_coverage"] = tgt_known / sum(len(t) for t in corpus["target"])
    return corpus


def synthetic_corpus(dims, n=400, seed=0):
    """Random id sequences of 3-10 tokens (no files needed)."""
    rng = np.random.default_rng(seed)
    vs, vt = dims["source_vocabulary_size"], dims["target_vocabulary_size"]
    source = [rng.integers(NUM_RESERVED, vs, rng.integers(3, 11)).astype(np.int32)
              for _ in range(n)]
    target = [rng.integers(NUM_RESERVED, vt, rng.integers(3, 11)).astype(np.int32)
              for _ in range(n)]
    inv_s = {f"s{i}": i for i in range(NUM_RESERVED, vs)}
    inv_t = {f"t{i}": i for i in range(NUM_RESERVED, vt)}
    return {
        "raw_source": [" ".join(f"s{i}" for i in s) for s in source],
        "raw_target": [" ".join(f"t{i}" for i in t) for t in target],
        "source": source, "target": target,
        "source_vocabulary": inv_s, "target_vocabulary": inv_t,
        "val": {"source": source[:64], "target": target[:64]},
        "load_seconds": 0.0, "num_pairs": n,
        "source_coverage": 1.0, "target_coverage": 1.0,
    }


def pad(sequences, length=None):
    length = max(len(s) for s in sequences) if length is None else length
    out = np.zeros((len(sequences), length), np.int32)
    for i, s in enumerate(sequences):
        out[i, :len(s)] = s
    return out


def make_batch(source_seqs, target_seqs, indices=None):
    """x=(source, [START] + target), y=target + [END], all padded with 0."""
    src = pad(source_seqs)
    dec = pad([np.concatenate([[START_ID], t]) for t in target_seqs])
    tgt = pad([np.concatenate([t, [END_ID]]) for t in target_seqs])
    return {"source": src, "decoder_input": dec, "target": tgt,
            "tokens": int((tgt != PAD_ID).sum()), "indices": indices}


def bucketed_batches(source, target, batch_size, count, seed=0, sort_by="target"):
    """`count` length-bucketed batches, at evenly spaced length quantiles.

    The corpus is sorted by length (random tie-break), cut into batches of
    `batch_size` (similar lengths, little padding, as a bucketing pipeline gives),
    and `count` batches are taken at the (i + 0.5) / count quantiles of length, so
    the timed set covers short and long sentences.
    """
    rng = np.random.default_rng(seed)
    n = len(source)
    s_len = np.array([len(s) for s in source])
    t_len = np.array([len(t) for t in target])
    primary, secondary = (t_len, s_len) if sort_by == "target" else (s_len, t_len)
    order = np.lexsort((rng.random(n), secondary, primary))
    chunks = [order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]
    if not chunks:
        raise SystemExit(f"not enough sentences ({n}) for one batch of {batch_size}")
    positions = np.unique(np.floor((np.arange(count) + 0.5) / count * len(chunks))
                          .astype(int).clip(0, len(chunks) - 1))
    batches = []
    for p in positions:
        idx = chunks[p]
        batches.append(make_batch([source[i] for i in idx], [target[i] for i in idx],
                                  indices=idx))
    return batches


# ============================================================================ models
def spec(kind, cell="gru", attention="general", teacher_forcing=1.0, granularity="batch",
         input_feeding=False, jit=False, label=None, mode="sequential"):
    """A JSON-able description of one benchmarked configuration."""
    s = dict(kind=kind, cell=cell, attention=attention, teacher_forcing=teacher_forcing,
             granularity=granularity, input_feeding=input_feeding, jit=jit, mode=mode)
    s["id"] = label or config_id(s)
    return s


def config_id(s):
    if s["kind"] == "baseline":
        name = "baseline"
    elif s["input_feeding"]:
        name = "ours_input_feeding_r1"
    elif s["teacher_forcing"] >= 1.0:
        name = "ours_r1"
    else:
        name = f"ours_{s['granularity']}_{s['teacher_forcing']:g}"
    if s.get("mode", "sequential") != "sequential":
        name += f"_{s['mode']}"
    if s["cell"] != "gru":
        name += f"_{s['cell']}"
    if s["attention"] != "general":
        name += f"_{s['attention']}"
    if s["jit"]:
        name += "_xla"
    return name


def build_model(s, dims, seed=0):
    """The compiled model of spec `s` (weights seeded identically for every spec)."""
    import keras

    keras.utils.set_random_seed(seed)
    if s["kind"] == "baseline":
        from benchmarks.baseline import build_baseline, compile_baseline

        model = build_baseline(
            dims["source_vocabulary_size"], dims["target_vocabulary_size"],
            embedding_dim=dims["embedding_dim"], units=dims["units"],
            encoder_units=dims["encoder_units"], cell_type=s["cell"],
            attention=s["attention"])
        return compile_baseline(model, jit_compile=s["jit"])
    import keras_seq2seq as ks

    model = ks.Seq2Seq(
        dims["source_vocabulary_size"], dims["target_vocabulary_size"],
        embedding_dim=dims["embedding_dim"], units=dims["units"],
        encoder_units=dims["encoder_units"], bidirectional=True, cell_type=s["cell"],
        attention=s["attention"], input_feeding=s["input_feeding"],
        teacher_forcing=s["teacher_forcing"],
        teacher_forcing_granularity=s["granularity"],
        teacher_forcing_mode=s.get("mode", "sequential"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=s["jit"])
    return model


def train_step(model, batch):
    model.train_on_batch((batch["source"], batch["decoder_input"]), batch["target"])


# ============================================================================ FLOPs
def forward_flops(s, dims, batch_size, source_length, target_length):
    """Multiply-add FLOPs (2·m·n·k per matmul) of one teacher-forced forward pass.

    Counted on padded shapes (the RNN loops run over padding too). Counted: the
    encoder RNN's input and recurrent matmuls (3 gates for GRU, 4 for LSTM) per step
    per direction, the bridge, the decoder RNN's matmuls (input width embedding +
    attentional with input feeding), the attention (general: W_a h̄ₛ once per source
    position, scores and context per (t, s); dot: scores and context; concat: W_k h̄ₛ,
    W_q hₜ, the v_a reduction per (t, s), context), the attentional layer
    [c; h] -> units and the output projection. Not counted: embedding lookups,
    element-wise ops (gates, tanh, softmax, masks), the loss.
    """
    B, Ts, T = batch_size, source_length, target_length
    D, U, E = dims["embedding_dim"], dims["units"], dims["encoder_units"]
    V = dims["target_vocabulary_size"]
    M = 2 * E
    A = U  # attention_units default
    gates = 3 if s["cell"] == "gru" else 4
    states = 1 if s["cell"] == "gru" else 2
    f = 0
    f += 2 * Ts * 2 * B * (D + E) * gates * E          # bi-RNN encoder
    f += states * 2 * B * M * U                          # bridge
    dec_in = D + (U if s["input_feeding"] else 0)
    f += T * 2 * B * (dec_in + U) * gates * U            # decoder RNN
    if s["attention"] == "general":
        f += 2 * B * Ts * M * U + 2 * B * T * Ts * U + 2 * B * T * Ts * M
    elif s["attention"] == "dot":
        f += 2 * B * T * Ts * M + 2 * B * T * Ts * M
    else:
        f += 2 * B * Ts * M * A + 2 * B * T * U * A + 2 * B * T * Ts * A
        f += 2 * B * T * Ts * M
    f += 2 * B * T * (M + U) * U                         # attentional layer
    f += 2 * B * T * U * V                               # output projection
    return f


def training_flops(s, dims, batch):
    """3 × forward (forward + backward ≈ 2 × forward)."""
    b, ts = batch["source"].shape
    t = batch["target"].shape[1]
    return 3 * forward_flops(s, dims, b, ts, t)


class MatmulProbe:
    """This machine's float32 matmul rate: n×n @ n×n in a tf.function."""

    def __init__(self, n=2048, reps=8):
        import tensorflow as tf

        self.n, self.reps = n, reps
        rng = np.random.default_rng(0)
        self.a = tf.constant(rng.standard_normal((n, n), np.float32))
        self.b = tf.constant(rng.standard_normal((n, n), np.float32))
        self.fn = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))
        for _ in range(3):
            self.fn(self.a, self.b).numpy()

    def measure(self):
        """(FLOP per wall second, FLOP per process CPU second)."""
        cpu_start = time.process_time()
        start = time.perf_counter()
        for _ in range(self.reps):
            self.fn(self.a, self.b).numpy()
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        flops = 2 * self.n ** 3 * self.reps
        return flops / seconds, flops / cpu_seconds


# ============================================================================ timing
def median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def spread(values):
    values = [v for v in values if v is not None]
    return [float(min(values)), float(max(values))] if values else None


def bench_group(name, specs, batches, dims, rounds, reference, secondary=None,
                probe=None, log=print, keep=()):
    """Warms up every spec over every batch, then times them in interleaved rounds.

    Returns:
        (result dict, {id: model} of the specs listed in `keep`).
    """
    models, info = {}, {}
    # Build every model first: build_model seeds the global RNG, and changing the
    # global seed makes existing tf.functions retrace once, so warming up a model
    # before the next one is built would leave a retrace inside the timed rounds.
    for s in specs:
        info[s["id"]] = entry = {"spec": s, "ok": True}
        start = time.perf_counter()
        try:
            models[s["id"]] = build_model(s, dims)
            entry["build_seconds"] = time.perf_counter() - start
        except Exception as error:
            entry["ok"] = False
            entry["error"] = f"{type(error).__name__}: {str(error).strip()[:600]}"
            log(f"  [{name}] {s['id']} FAILED to build: {entry['error'][:300]}")
    for s in specs:
        entry = info[s["id"]]
        if not entry["ok"]:
            continue
        model = models[s["id"]]
        try:
            start = time.perf_counter()
            train_step(model, batches[0])
            entry["first_step_seconds"] = time.perf_counter() - start
            start = time.perf_counter()
            for batch in batches[1:] + batches[:1]:  # trace (or compile) every shape
                train_step(model, batch)
            entry["warmup_seconds"] = time.perf_counter() - start
        except Exception as error:  # e.g. XLA cannot compile a path
            entry["ok"] = False
            entry["error"] = f"{type(error).__name__}: {str(error).strip()[:600]}"
            log(f"  [{name}] {s['id']} FAILED: {entry['error'][:300]}")
            del models[s["id"]]
            continue
        log(f"  [{name}] warmed {s['id']} (first step {entry['first_step_seconds']:.1f}s,"
            f" {len(batches)} more steps {entry['warmup_seconds']:.1f}s)")

    tokens = sum(b["tokens"] for b in batches)
    flops = {sid: sum(training_flops(info[sid]["spec"], dims, b) for b in batches)
             for sid in models}
    ids = list(models) + (["__matmul__"] if probe is not None else [])
    # times[sid][r][k]: seconds of config sid on batch k in round r. Configurations
    # alternate step by step (the order rotates at every step), so the steps of one
    # batch in one round are seconds apart, and a ratio is computed per such pair.
    times = {sid: [[None] * len(batches) for _ in range(rounds)] for sid in ids}
    cpu = {sid: [[None] * len(batches) for _ in range(rounds)] for sid in models}
    probe_rates = []
    turn = 0
    for r in range(rounds):
        for k, batch in enumerate(batches):
            order = ids[turn % len(ids):] + ids[:turn % len(ids)]
            turn += 1
            for sid in order:
                if sid == "__matmul__":
                    if k % max(1, len(batches) // 2) == 0:
                        probe_rates.append((r, probe.measure()))
                    continue
                cpu_start = time.process_time()
                start = time.perf_counter()
                train_step(models[sid], batch)
                times[sid][r][k] = time.perf_counter() - start
                cpu[sid][r][k] = time.process_time() - cpu_start
        log(f"  [{name}] round {r + 1}/{rounds}: " + ", ".join(
            f"{sid}={tokens / sum(times[sid][r]):.0f} tok/s" for sid in models))

    def pair_ratios(table, ref, sid):
        return [table[ref][r][k] / table[sid][r][k]
                for r in range(rounds) for k in range(len(batches))]

    rows = []
    for s in specs:
        sid = s["id"]
        row = {"id": sid, "ok": info[sid]["ok"]}
        if not info[sid]["ok"]:
            row["error"] = info[sid]["error"]
            rows.append(row)
            continue
        secs = [sum(times[sid][r]) for r in range(rounds)]
        steps = [t for per_round in times[sid] for t in per_round]
        tps = [tokens / x for x in secs]
        row.update(
            tokens_per_second=median(tps), tokens_per_second_range=spread(tps),
            step_seconds_median=median(steps), step_seconds_max=float(max(steps)),
            step_seconds=times[sid],
            first_step_seconds=info[sid]["first_step_seconds"],
            build_seconds=info[sid]["build_seconds"],
            cpu_seconds_per_round=median([sum(c) for c in cpu[sid]]),
            wall_seconds_per_round=median(secs),
            flops_per_round=flops[sid], gflops_per_second=median(
                [flops[sid] / x / 1e9 for x in secs]))
        for label, ref in (("vs_reference", reference), ("vs_secondary", secondary)):
            if ref is None or ref not in models or ref == sid:
                continue
            ratios = pair_ratios(times, ref, sid)
            round_ratios = [sum(times[ref][r]) / secs[r] for r in range(rounds)]
            row[label] = {"reference": ref, "ratio": median(ratios),
                          "range": [float(np.percentile(ratios, 25)),
                                    float(np.percentile(ratios, 75))],
                          "pairs": len(ratios), "round_ratios": round_ratios,
                          "cpu_time_ratio": median(pair_ratios(cpu, ref, sid))}
        if probe is not None:
            fractions = [flops[sid] / secs[r] / rate for r, (rate, _) in probe_rates]
            row["matmul_fraction"] = median(fractions)
            row["matmul_fraction_range"] = spread(fractions)
            best = max(rate for _, (rate, _) in probe_rates)
            row["matmul_fraction_of_best"] = median(
                [flops[sid] / secs[r] / best for r in range(rounds)])
            cpu_rate = median([c for _, (_, c) in probe_rates])
            row["gflops_per_cpu_second"] = median(
                [flops[sid] / sum(cpu[sid][r]) / 1e9 for r in range(rounds)])
            row["matmul_fraction_cpu_time"] = row["gflops_per_cpu_second"] * 1e9 / cpu_rate
        rows.append(row)
    result = {"group": name, "rounds": rounds, "batches": len(batches),
              "tokens_per_round": tokens, "rows": rows}
    if probe is not None:
        rates = [x / 1e9 for _, (x, _) in probe_rates]
        result["matmul_gflops_per_second"] = median(rates)
        result["matmul_gflops_range"] = spread(rates)
        result["matmul_gflops_per_cpu_second"] = median(
            [c / 1e9 for _, (_, c) in probe_rates])
        result["matmul_measurements"] = len(rates)
    kept = {sid: models[sid] for sid in keep if sid in models}
    models.clear()
    gc.collect()
    return result, kept


# ============================================================================ memory
def _status_kb(field):
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
    count = int(data["count"])
    batches = [{"source": data[f"source_{i}"], "decoder_input": data[f"decoder_input_{i}"],
                "target": data[f"target_{i}"]} for i in range(count)]
    import tensorflow as tf  # noqa: F401

    rss_import = _status_kb("VmRSS")
    model = build_model(s, dims)
    rss_build = _status_kb("VmRSS")
    peak_before_training = _status_kb("VmHWM")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    for _ in range(2):
        for batch in batches:
            train_step(model, batch)
    print(MEMORY_MARK + json.dumps({
        "rss_after_import_kb": rss_import, "rss_after_build_kb": rss_build,
        "peak_before_training_kb": peak_before_training,
        "training_peak_kb": _status_kb("VmHWM") if reset else None,
        "process_peak_kb": max(peak_before_training, _status_kb("VmHWM")),
        "rss_end_kb": _status_kb("VmRSS"),
        "ru_maxrss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}),
        flush=True)


def run_memory_child(s, dims, batches_path):
    """Runs one configuration in a fresh subprocess and collects its report."""
    command = [sys.executable, os.path.abspath(__file__), "--_memory-child",
               json.dumps(s), "--_dims", json.dumps(dims), "--_batches", batches_path]
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=REPO_ROOT)
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


def bench_memory(specs, batches, dims, repeats, reference, log=print):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "batches.npz")
        arrays = {"count": np.array(len(batches))}
        for i, b in enumerate(batches):
            arrays.update({f"source_{i}": b["source"],
                           f"decoder_input_{i}": b["decoder_input"],
                           f"target_{i}": b["target"]})
        np.savez(path, **arrays)
        runs = {s["id"]: [] for s in specs}
        for r in range(repeats):
            order = specs[r % len(specs):] + specs[:r % len(specs)]
            for s in order:
                result = run_memory_child(s, dims, path)
                runs[s["id"]].append(result)
                log(f"  [memory] {s['id']}: training peak "
                    f"{(result.get('training_peak_kb') or 0) / 1024:.0f} MiB, after build "
                    f"{(result.get('rss_after_build_kb') or 0) / 1024:.0f} MiB "
                    f"(rc={result['returncode']})")

    def stat(rs, key):
        values = [key(x) for x in rs if x.get("training_peak_kb")]
        return median(values) if values else None

    peak_key = lambda x: x["training_peak_kb"]  # noqa: E731
    increment_key = lambda x: x["training_peak_kb"] - x["rss_after_build_kb"]  # noqa: E731
    ref_peak = stat(runs[reference], peak_key)
    ref_increment = stat(runs[reference], increment_key)
    rows = []
    for s in specs:
        rs = runs[s["id"]]
        peak = stat(rs, peak_key)
        increment = stat(rs, increment_key)
        build = stat(rs, lambda x: x["rss_after_build_kb"])
        process_peak = stat(rs, lambda x: x["process_peak_kb"])
        rows.append({
            "id": s["id"], "ok": all(x["returncode"] == 0 for x in rs),
            "training_peak_rss_mib": None if peak is None else peak / 1024,
            "process_peak_rss_mib": None if process_peak is None else process_peak / 1024,
            "rss_after_build_mib": None if build is None else build / 1024,
            "training_increment_mib": None if increment is None else increment / 1024,
            "peak_ratio_vs_reference": (None if not peak or not ref_peak
                                        else peak / ref_peak),
            "increment_ratio_vs_reference": (None if not increment or not ref_increment
                                             else increment / ref_increment),
            "runs": rs,
        })
    return {"reference": reference, "repeats": repeats, "batches": len(batches),
            "rows": rows}


# ============================================================================ decoding
def bench_decoding(model, val, dims, batch_size, count, rounds, latency_calls, beam_width,
                   log=print):
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
    batches = bucketed_batches(val["source"], val["target"], batch_size, count,
                               seed=1, sort_by="source")
    try:
        from keras_seq2seq.decoding import beam_search  # noqa: F401
        methods = ["greedy", "beam"]
        beam_note = None
    except Exception as error:  # beam search not available
        methods = ["greedy"]
        beam_note = f"beam search unavailable: {type(error).__name__}: {error}"

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
            result["beam_note"] = f"{method} failed: {type(error).__name__}: {error}"[:600]
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
            "sentences_per_second": median(per_round[method]),
            "range": spread(per_round[method]),
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
    result["latency"] = {"calls": len(times),
                         "mean_output_length": float(np.mean(out_lengths)),
                         "mean_cap": float(np.mean(caps_single)),
                         "p50_ms": float(np.percentile(times, 50)) * 1e3,
                         "p99_ms": float(np.percentile(times, 99)) * 1e3,
                         "mean_ms": float(np.mean(times)) * 1e3}
    return result


# ============================================================================ XLA paths
def bench_xla_paths(specs, batch, dims, rounds, log=print):
    """jit_compile on vs off for `specs` on one batch (does it compile, step ratio)."""
    rows = []
    for s in specs:
        jit_spec = dict(s, jit=True, id=s["id"] + "_xla")
        row = {"id": jit_spec["id"], "reference": s["id"]}
        try:
            plain = build_model(s, dims)
            jitted = build_model(jit_spec, dims)  # both built before any trace
            train_step(plain, batch)
            start = time.perf_counter()
            train_step(jitted, batch)
            row["compile_seconds"] = time.perf_counter() - start
            train_step(plain, batch)
            train_step(jitted, batch)
            row["ok"] = True
        except Exception as error:
            row["ok"] = False
            row["error"] = f"{type(error).__name__}: {str(error).strip()[:600]}"
            log(f"  [xla] {jit_spec['id']} FAILED: {row['error'][:300]}")
            rows.append(row)
            continue
        ratios = []
        for r in range(rounds):
            timing = {}
            for name, model in ((("plain", plain), ("jit", jitted)) if r % 2 == 0
                                else (("jit", jitted), ("plain", plain))):
                start = time.perf_counter()
                for _ in range(2):
                    train_step(model, batch)
                timing[name] = time.perf_counter() - start
            ratios.append(timing["plain"] / timing["jit"])
        row["speedup"] = median(ratios)
        row["range"] = spread(ratios)
        log(f"  [xla] {jit_spec['id']}: compiled in {row['compile_seconds']:.1f}s, "
            f"speedup {row['speedup']:.2f}x")
        rows.append(row)
        del plain, jitted
        gc.collect()
    return {"batch_shape": [list(batch["source"].shape), list(batch["target"].shape)],
            "rounds": rounds, "rows": rows}


# ============================================================================ profile
def bench_profile(spec_pairs, batch, dims, rounds, log=print):
    """Where a training step's time goes, ours vs baseline, on one batch.

    For each spec: (a) the forward pass (training=True), (b) forward + loss +
    gradients (no optimizer update), each in its own tf.function, and (c) the full
    `train_on_batch` (adds the optimizer update, the metrics and Keras' step
    overhead). The three are alternated between the specs of a pair step by step,
    `rounds` times; medians are reported, and ours / baseline per piece.
    """
    import tensorflow as tf

    x = (tf.constant(batch["source"]), tf.constant(batch["decoder_input"]))
    y = tf.constant(batch["target"])
    out = []
    for pair in spec_pairs:
        models = {s["id"]: build_model(s, dims) for s in pair}
        fns = {}
        for sid, model in models.items():
            def forward(x, model=model):
                return tf.reduce_sum(model(x, training=True))

            def gradients(x, y, model=model):
                with tf.GradientTape() as tape:
                    logits = model(x, training=True)
                    loss = model.compute_loss(x=x, y=y, y_pred=logits, training=True)
                grads = tape.gradient(loss, model.trainable_variables)
                return tf.add_n([tf.reduce_sum(g) for g in grads if g is not None])

            fns[sid] = {"forward": tf.function(forward), "gradients": tf.function(gradients)}
            fns[sid]["forward"](x).numpy()
            fns[sid]["gradients"](x, y).numpy()
            train_step(model, batch)
            train_step(model, batch)
        timings = {sid: {"forward": [], "forward_backward": [], "train_step": []}
                   for sid in models}
        ids = list(models)
        for r in range(rounds):
            for sid in (ids if r % 2 == 0 else ids[::-1]):
                start = time.perf_counter()
                fns[sid]["forward"](x).numpy()
                timings[sid]["forward"].append(time.perf_counter() - start)
            for sid in (ids if r % 2 == 0 else ids[::-1]):
                start = time.perf_counter()
                fns[sid]["gradients"](x, y).numpy()
                timings[sid]["forward_backward"].append(time.perf_counter() - start)
            for sid in (ids if r % 2 == 0 else ids[::-1]):
                start = time.perf_counter()
                train_step(models[sid], batch)
                timings[sid]["train_step"].append(time.perf_counter() - start)
        ref, ours = ids[0], ids[1]
        row = {"reference": ref, "ours": ours, "pieces": {}}
        for piece in ("forward", "forward_backward", "train_step"):
            ratios = [a / b for a, b in zip(timings[ours][piece], timings[ref][piece])]
            row["pieces"][piece] = {
                "reference_ms": median(timings[ref][piece]) * 1e3,
                "ours_ms": median(timings[ours][piece]) * 1e3,
                "ours_over_reference_time": median(ratios)}
        log(f"  [profile] {ours} vs {ref}: " + ", ".join(
            f"{k} {v['ours_ms']:.0f}/{v['reference_ms']:.0f} ms"
            for k, v in row["pieces"].items()))
        out.append(row)
        del models, fns
        gc.collect()
    return {"batch_shape": [list(batch["source"].shape), list(batch["target"].shape)],
            "rounds": rounds, "rows": out}


def profile_table(profile):
    (bs, ts), (_, tt) = profile["batch_shape"]
    lines = [f"one batch {bs}×{ts} source, {bs}×{tt} target; {profile['rounds']} "
             "alternated repetitions, medians", "",
             "| ours vs reference | piece | reference ms | ours ms | ours time / "
             "reference time |", "|---|---|---|---|---|"]
    for row in profile["rows"]:
        for piece, v in row["pieces"].items():
            lines.append(f"| {row['ours']} vs {row['reference']} | {piece} | "
                         f"{v['reference_ms']:.0f} | {v['ours_ms']:.0f} | "
                         f"{v['ours_over_reference_time']:.2f} |")
    return "\n".join(lines)


def op_profile(specs, batch, dims, steps=5, top=12, log=print):
    """Self time per TensorFlow op type of `steps` train steps (tf.profiler).

    Uses TensorFlow's profiler and its (private) xspace -> "framework_op_stats"
    converter; the self times are summed over the threads of the op pool, so their
    total exceeds the wall time of a step on a 2-core machine.
    """
    import glob
    import shutil

    import tensorflow as tf
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    models = {s["id"]: build_model(s, dims) for s in specs}
    for model in models.values():
        for _ in range(3):
            train_step(model, batch)
    out = {}
    for sid, model in models.items():
        directory = tempfile.mkdtemp(prefix=f"opprof_{sid}_")
        try:
            tf.profiler.experimental.start(directory)
            for _ in range(steps):
                train_step(model, batch)
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
    return {"batch_shape": [list(batch["source"].shape), list(batch["target"].shape)],
            "steps": steps, "configs": out}


def op_profile_table(result):
    lines = []
    for sid, entry in result["configs"].items():
        lines += [f"**{sid}**: {entry['total_self_ms_per_step']:.0f} ms of op self time a "
                  "step (summed over threads)", "", "| op type | ms a step | share |",
                  "|---|---|---|"]
        for name, ms in entry["by_type_ms"].items():
            lines.append(f"| {name} | {ms:.1f} | "
                         f"{ms / entry['total_self_ms_per_step']:.1%} |")
        lines += ["", "| op | ms a step |", "|---|---|"]
        for name, ms in entry["by_op_ms"].items():
            lines.append(f"| `{name[:110]}` | {ms:.1f} |")
        lines.append("")
    return "\n".join(lines)


# ============================================================================ pipeline
def bench_pipeline(corpus, batches, step_seconds, repeats=5):
    """Raw text -> padded id arrays for the timed batches, vs a training step."""
    vs, vt = corpus["source_vocabulary"], corpus["target_vocabulary"]
    full, padding = [], []
    for _ in range(repeats):
        for b in batches:
            idx = b["indices"]
            start = time.perf_counter()
            src = encode([tokenize(corpus["raw_source"][i]) for i in idx], vs)
            tgt = encode([tokenize(corpus["raw_target"][i]) for i in idx], vt)
            middle = time.perf_counter()
            make_batch(src, tgt)
            end = time.perf_counter()
            full.append(end - start)
            padding.append(end - middle)
    # the same from already tokenized ids through tf.data (from_generator + batch)
    import tensorflow as tf

    def generator():
        for b in batches:
            for i in b["indices"]:
                yield corpus["source"][i], corpus["target"][i]

    sig = (tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32))
    dataset = tf.data.Dataset.from_generator(generator, output_signature=sig)
    dataset = dataset.map(lambda s, t: ((s, tf.concat([[START_ID], t], 0)),
                                        tf.concat([t, [END_ID]], 0)))
    dataset = dataset.padded_batch(len(batches[0]["indices"])).prefetch(2)
    for _ in dataset:  # warm-up
        pass
    start = time.perf_counter()
    for _ in range(repeats):
        for _ in dataset:
            pass
    tfdata = (time.perf_counter() - start) / (repeats * len(batches))
    full_ms = median(full) * 1e3
    return {
        "numpy_text_to_batch_ms": full_ms,
        "numpy_padding_only_ms": median(padding) * 1e3,
        "tfdata_ids_to_batch_ms": tfdata * 1e3,
        "train_step_ms": None if step_seconds is None else step_seconds * 1e3,
        "pipeline_fraction_of_step": (None if step_seconds is None
                                      else full_ms / 1e3 / step_seconds),
    }


# ============================================================================ report
def fmt(value, digits=2, suffix=""):
    if value is None:
        return "–"
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.0f}{suffix}"
    return f"{value:.{digits}f}{suffix}"


def fmt_ratio(entry):
    if not entry:
        return "–"
    lo, hi = entry["range"]
    return f"{entry['ratio']:.2f}× [{lo:.2f}–{hi:.2f}]"


def training_table(group):
    lines = [f"**{group['group']}** ({group['rounds']} rounds × {group['batches']} "
             f"batches, {group['tokens_per_round']} target tokens a round; ratios: "
             "median over (round, batch) step pairs)", "",
             "| config | tokens/s (median of rounds, min–max) | vs reference: wall "
             "[IQR] | vs reference: CPU time | vs ours_r1: wall [IQR] | "
             "step s (median / max) | first step s (trace) |",
             "|---|---|---|---|---|---|---|"]
    for row in group["rows"]:
        if not row["ok"]:
            error = " ".join(row["error"].split())[:160]
            lines.append(f"| {row['id']} | FAILED: {error} | | | | | |")
            continue
        lo, hi = row["tokens_per_second_range"]
        lines.append(
            f"| {row['id']} | {row['tokens_per_second']:,.0f} ({lo:,.0f}–{hi:,.0f}) | "
            f"{fmt_ratio(row.get('vs_reference'))} | "
            f"{fmt(row.get('vs_reference', {}).get('cpu_time_ratio'))}"
            f"{'×' if row.get('vs_reference') else ''} | "
            f"{fmt_ratio(row.get('vs_secondary'))} | "
            f"{row['step_seconds_median']:.3f} / {row['step_seconds_max']:.3f} | "
            f"{row['first_step_seconds']:.1f} |")
    return "\n".join(lines)


def flops_table(group):
    lo, hi = group["matmul_gflops_range"]
    lines = [f"matmul rate ({group.get('matmul_shape', '2048×2048 float32')}, "
             f"{group['matmul_measurements']} measurements between the training steps): "
             f"median {fmt(group.get('matmul_gflops_per_second'), 1)} GFLOP/s, "
             f"min–max {fmt(lo, 1)}–{fmt(hi, 1)}; per process CPU second "
             f"{fmt(group.get('matmul_gflops_per_cpu_second'), 1)} GFLOP/CPU-s", "",
             "| config | training GFLOP/s (counted) | fraction of median matmul rate "
             "(min–max over rounds) | fraction of best matmul rate | GFLOP per CPU-s | "
             "fraction (CPU time) |", "|---|---|---|---|---|---|"]
    for row in group["rows"]:
        if row["ok"] and "matmul_fraction" in row:
            lo, hi = row["matmul_fraction_range"]
            lines.append(f"| {row['id']} | {row['gflops_per_second']:.1f} | "
                         f"{row['matmul_fraction']:.1%} ({lo:.1%}–{hi:.1%}) | "
                         f"{row['matmul_fraction_of_best']:.1%} | "
                         f"{row['gflops_per_cpu_second']:.1f} | "
                         f"{row['matmul_fraction_cpu_time']:.1%} |")
    return "\n".join(lines)


def memory_table(memory):
    lines = ["| config | peak RSS while training MiB | RSS after build MiB | "
             "training increment MiB | peak ratio | increment ratio |",
             "|---|---|---|---|---|---|"]
    for row in memory["rows"]:
        lines.append(
            f"| {row['id']} | {fmt(row['training_peak_rss_mib'], 0)} | "
            f"{fmt(row['rss_after_build_mib'], 0)} | {fmt(row['training_increment_mib'], 0)}"
            f" | {fmt(row['peak_ratio_vs_reference'])}× | "
            f"{fmt(row['increment_ratio_vs_reference'])}× |")
    return "\n".join(lines)


def decoding_table(decoding):
    lines = ["| method | sentences/s (median, min–max) | mean output length | mean cap |",
             "|---|---|---|---|"]
    for row in decoding["rows"]:
        lo, hi = row["range"]
        lines.append(f"| {row['method']} @ batch {decoding['batch_size']} | "
                     f"{row['sentences_per_second']:.1f} ({lo:.1f}–{hi:.1f}) | "
                     f"{row['mean_output_length']:.1f} | {row['mean_cap']:.1f} |")
    lat = decoding["latency"]
    lines.append("")
    lines.append(f"single-sentence greedy latency over {lat['calls']} calls: "
                 f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms "
                 f"(mean {lat['mean_ms']:.1f} ms; mean output length "
                 f"{lat['mean_output_length']:.1f}, mean cap {lat['mean_cap']:.1f})")
    if decoding.get("beam_note"):
        lines.append(f"note: {decoding['beam_note']}")
    return "\n".join(lines)


def xla_table(main, xla_paths):
    lines = ["| config | compiles | speedup vs same config without XLA |", "|---|---|---|"]
    rows = {r["id"]: r for r in main["rows"]}
    for sid, ref in (("ours_r1_xla", "ours_r1"), ("baseline_xla", "baseline")):
        row = rows.get(sid)
        if row is None:
            continue
        if not row["ok"]:
            lines.append(f"| {sid} | no: {' '.join(row['error'].split())[:240]} | – |")
            continue
        if ref in rows and rows[ref]["ok"]:
            ratio = row.get("vs_reference") if ref == "baseline" else row.get("vs_secondary")
            if ratio is None:
                lines.append(f"| {sid} | yes | – |")
            else:
                # vs_*: reference time / own time = speedup of this config over the ref
                lines.append(f"| {sid} | yes | {fmt_ratio(ratio)} (interleaved rounds) |")
    for row in (xla_paths or {}).get("rows", []):
        if row["ok"]:
            lo, hi = row["range"]
            lines.append(f"| {row['id']} | yes ({row['compile_seconds']:.0f} s compile) | "
                         f"{row['speedup']:.2f}× ({lo:.2f}–{hi:.2f}) (one batch) |")
        else:
            lines.append(f"| {row['id']} | no: {' '.join(row['error'].split())[:240]} | – |")
    return "\n".join(lines)


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
    parts = ["## Training throughput (non-pad target tokens/s, train_on_batch)", ""]
    for name, group in results["training"].items():
        if group is None:
            continue
        parts += [training_table(group), ""]
    main = results["training"]["main"]
    parts += ["## Achieved FLOP/s of training", "", flops_table(main), ""]
    if results.get("memory"):
        parts += ["## Peak memory of training (RSS, one subprocess per config)", "",
                  memory_table(results["memory"]), ""]
    if results.get("decoding"):
        parts += ["## Decoding (ours_r1 model)", "", decoding_table(results["decoding"]),
                  ""]
    parts += ["## XLA (jit_compile=True)", "", xla_table(main, results.get("xla_paths")),
              ""]
    if results.get("profile"):
        parts += ["## Profile: forward / forward+backward / full step", "",
                  profile_table(results["profile"]), ""]
    pipe = results.get("data_pipeline")
    if pipe:
        parts += ["## Data pipeline vs a training step", "",
                  "| piece | ms per batch |", "|---|---|",
                  f"| numpy: raw text -> tokenize -> ids -> padded batch | "
                  f"{pipe['numpy_text_to_batch_ms']:.2f} |",
                  f"| numpy: padding only (ids -> arrays) | "
                  f"{pipe['numpy_padding_only_ms']:.2f} |",
                  f"| tf.data: ids -> map -> padded_batch | "
                  f"{pipe['tfdata_ids_to_batch_ms']:.2f} |",
                  f"| ours_r1 train step (median) | {fmt(pipe['train_step_ms'], 1)} |",
                  "", f"pipeline / step = {fmt(pipe['pipeline_fraction_of_step'], 4)}", ""]
    parts += ["## Targets", "", "| target | value | goal | met |", "|---|---|---|---|"]
    for t in results["targets"]:
        met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
        parts.append(f"| {t['target']} | {fmt(t['value'], 3)} | {t['goal']} | {met} |")
    return "\n".join(parts)


def machine_info():
    import keras
    import tensorflow as tf

    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "platform": platform.platform(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


# ============================================================================ main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true",
                      help="tiny synthetic data and model (no files), seconds")
    mode.add_argument("--quick", action="store_true",
                      help="real data, few steps: main table, memory, decoding, pipeline "
                      "(no attention/LSTM groups, XLA paths or profile); 1.5-3 minutes")
    parser.add_argument("--data", default=os.path.join("..", "shared", "data", "multi30k"),
                        help="Multi30k directory (train.de, train.en); relative paths "
                        "are resolved against the repository root")
    parser.add_argument("--json", help="write the results as JSON to this path")
    parser.add_argument("--rounds", type=int, help="timed rounds per group")
    parser.add_argument("--batches", type=int, help="timed batches (one step each a round)")
    parser.add_argument("--memory-repeats", type=int, help="subprocesses per config")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["attention", "lstm", "memory", "decoding", "xla-paths",
                                 "pipeline", "profile"], help="sections to skip")
    parser.add_argument("--profile-only", action="store_true",
                        help="only the forward / backward / step profile (real data)")
    parser.add_argument("--op-profile", action="store_true",
                        help="only a tf.profiler op-type breakdown of baseline vs ours_r1")
    parser.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    parser.add_argument("--_dims", dest="dims", help=argparse.SUPPRESS)
    parser.add_argument("--_batches", dest="batches_path", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.dims, args.batches_path)
        return None

    def log(message):
        print(message, file=sys.stderr, flush=True)

    total_start = time.perf_counter()
    if args.smoke:
        mode = "smoke"
        dims = dict(SMOKE_DIMS)
        rounds, count, mem_repeats = 1, 2, 1
        skip = set(args.skip) | {"attention", "lstm", "xla-paths", "profile"}
    elif args.quick:
        mode = "quick"
        dims = dict(FULL_DIMS)
        rounds, count, mem_repeats = 2, 3, 1
        skip = set(args.skip) | {"attention", "lstm", "xla-paths", "profile"}
    else:
        mode = "default"
        dims = dict(FULL_DIMS)
        rounds, count, mem_repeats = 4, 6, 2
        skip = set(args.skip)
    rounds = args.rounds or rounds
    count = args.batches or count
    mem_repeats = args.memory_repeats or mem_repeats

    import tensorflow as tf  # noqa: F401

    if args.smoke:
        corpus = synthetic_corpus(dims)
        data_dir = None
    else:
        data_dir = args.data if os.path.isabs(args.data) else os.path.normpath(
            os.path.join(REPO_ROOT, args.data))
        corpus = load_multi30k(data_dir, dims["source_vocabulary_size"],
                               dims["target_vocabulary_size"])
        log(f"loaded {corpus['num_pairs']} pairs from {data_dir} in "
            f"{corpus['load_seconds']:.1f}s (coverage de {corpus['source_coverage']:.3f}, "
            f"en {corpus['target_coverage']:.3f})")
    batches = bucketed_batches(corpus["source"], corpus["target"], dims["batch_size"], count)
    results = {
        "mode": mode,
        "meta": machine_info(),
        "settings": {
            "dims": dims, "rounds": rounds, "timed_batches": len(batches),
            "batch_shapes": [[list(b["source"].shape), list(b["target"].shape)]
                             for b in batches],
            "tokens_per_round": sum(b["tokens"] for b in batches),
            "data": data_dir, "num_pairs": corpus["num_pairs"],
            "encoder": "bidirectional, encoder_units per direction; outputs "
                       "2*encoder_units; Dense(units, tanh) bridge of [fwd; bwd] states",
            "command": " ".join(["python", "benchmarks/run.py"]
                                + list(sys.argv[1:] if argv is None else argv)),
        },
        "training": {},
    }
    log(f"mode={mode} dims={dims} rounds={rounds} batches="
        f"{results['settings']['batch_shapes']}")
    profile_pairs = [[spec("baseline"), spec("ours")],
                     [spec("baseline", cell="lstm"), spec("ours", cell="lstm")],
                     [spec("baseline", attention="concat"),
                      spec("ours", attention="concat")]]
    if args.profile_only or args.op_profile:
        batch = batches[len(batches) // 2]
        if args.profile_only:
            results["profile"] = bench_profile(profile_pairs, batch, dims,
                                               rounds=2 * rounds, log=log)
            print(profile_table(results["profile"]))
        if args.op_profile:
            results["op_profile"] = op_profile([spec("baseline"), spec("ours")], batch,
                                               dims, log=log)
            print(op_profile_table(results["op_profile"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2, default=str)
        return results

    # 1 + 4 + 5: main group (GRU, general) with the matmul probe and XLA.
    probe = MatmulProbe(n=256 if args.smoke else 2048, reps=2 if args.smoke else 8)
    main_specs = [
        spec("baseline"),
        spec("ours"),
        spec("ours", teacher_forcing=0.5, granularity="token"),
    ]
    if mode != "smoke":  # smoke keeps to the three configs the targets need
        main_specs += [
            spec("ours", teacher_forcing=0.5, granularity="batch"),
            spec("ours", teacher_forcing=0.5, granularity="token", mode="parallel"),
            spec("ours", input_feeding=True),
            spec("ours", jit=True),
        ]
    if mode == "default":
        main_specs.append(spec("baseline", jit=True))
    main, kept = bench_group("main", main_specs, batches, dims, rounds, "baseline",
                             secondary="ours_r1", probe=probe, log=log, keep=("ours_r1",))
    main["matmul_shape"] = f"{probe.n}×{probe.n} float32"
    results["training"]["main"] = main
    results["flops"] = {
        "matmul_gflops_per_second": main["matmul_gflops_per_second"],
        "matmul_shape": main["matmul_shape"],
        "counted": forward_flops.__doc__.split("\n\n")[1].replace("\n    ", " ").strip()
        + " Training = 3 × forward.",
        "matmul_gflops_range": main["matmul_gflops_range"],
        "matmul_gflops_per_cpu_second": main["matmul_gflops_per_cpu_second"],
        "rows": [{k: r.get(k) for k in (
            "id", "gflops_per_second", "matmul_fraction", "matmul_fraction_of_best",
            "gflops_per_cpu_second", "matmul_fraction_cpu_time")}
            for r in main["rows"] if r["ok"]],
    }
    r1_row = next(r for r in main["rows"] if r["id"] == "ours_r1")

    # 3: decoding with the (briefly trained) ours_r1 model.
    if "decoding" not in skip and "ours_r1" in kept:
        results["decoding"] = bench_decoding(
            kept["ours_r1"], corpus["val"], dims, batch_size=8 if args.smoke else 64,
            count=1 if args.smoke else 4, rounds=1 if args.smoke else 3,
            latency_calls=5 if args.smoke else 50, beam_width=5, log=log)
    kept.clear()
    gc.collect()

    # 6: data pipeline.
    if "pipeline" not in skip and corpus.get("raw_source"):
        results["data_pipeline"] = bench_pipeline(
            corpus, batches, r1_row.get("step_seconds_median"),
            repeats=1 if args.smoke else 5)

    # 1 (continued): the other attention scores and LSTM, each with its own baseline.
    for attention in ("dot", "concat"):
        key = f"attention_{attention}"
        if "attention" in skip:
            results["training"][key] = None
            continue
        specs = [spec("baseline", attention=attention), spec("ours", attention=attention)]
        results["training"][key], _ = bench_group(
            key, specs, batches, dims, rounds, specs[0]["id"], log=log)
    if "lstm" in skip:
        results["training"]["lstm"] = None
    else:
        specs = [spec("baseline", cell="lstm"), spec("ours", cell="lstm")]
        results["training"]["lstm"], _ = bench_group(
            "lstm", specs, batches, dims, rounds, specs[0]["id"], log=log)

    # Where the time goes: forward / forward+backward / full step, ours vs baseline.
    if "profile" not in skip:
        results["profile"] = bench_profile(profile_pairs, batches[len(batches) // 2],
                                           dims, rounds=2 * rounds, log=log)

    # 5 (continued): XLA on the while_loop paths.
    if "xla-paths" not in skip:
        middle = batches[len(batches) // 2]
        results["xla_paths"] = bench_xla_paths(
            [spec("ours", teacher_forcing=0.5, granularity="token"),
             spec("ours", input_feeding=True)], middle, dims, rounds=3, log=log)

    # 2: memory, one subprocess per config.
    if "memory" not in skip:
        specs = [spec("baseline"), spec("ours")]
        if mode == "default":
            specs += [spec("ours", teacher_forcing=0.5, granularity="token"),
                      spec("ours", input_feeding=True)]
        results["memory"] = bench_memory(specs, batches, dims, mem_repeats, "baseline",
                                         log=log)

    results["targets"] = targets(results)
    results["total_seconds"] = time.perf_counter() - total_start
    text = report(results)
    print(text)
    print(f"\n(total {results['total_seconds']:.0f} s, mode {mode})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=lambda o: o.tolist()
                      if hasattr(o, "tolist") else str(o))
    return results


if __name__ == "__main__":
    main()
