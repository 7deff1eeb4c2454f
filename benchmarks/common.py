"""What the benchmarks share: data, the benchmarked models, timing and reporting helpers.

* data: Multi30k read with the package's readers (`keras_seq2seq.text.
  read_split_folder`) and tokenized with its `WordTokenizer` (lowercased, the 7,996 most
  frequent words of a side plus the reserved tokens of `keras_seq2seq.constants`), or a
  tiny synthetic corpus (`--smoke`); length-bucketed timed batches;
* models: `spec` (a JSON-able configuration), `build_model` (ours or the plain-Keras
  baseline of `benchmarks/baseline.py`, compiled, seeded), `describe_model`,
  `train_step`;
* timing: `median`, `spread`, `quartiles`, `rotated`, `latency_summary`;
* reporting: `machine_info`, `fmt`, `fmt_ratio`, `table`, `write_json`,
  `report_header`;
* command lines: `make_parser` / `add_arguments` (--smoke / --quick / --data / --json /
  --rounds / --batches), `prepare` (mode settings, data and timed batches) and
  `run_benchmark` (the `main` of a one-table script).

Importing this module puts the repository root on `sys.path` (so `benchmarks.*` and
`keras_seq2seq` import from the checkout); TensorFlow comes in with `keras_seq2seq`
(whose `__init__` loads Keras), the tokenizers and the models only when used.
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from keras_seq2seq.constants import (  # noqa: E402
    END_ID, PAD_ID, RESERVED_TOKENS, START_ID, UNK_ID)

FULL_DIMS = dict(embedding_dim=256, units=512, encoder_units=256, batch_size=128,
                 source_vocabulary_size=8000, target_vocabulary_size=6000)
SMOKE_DIMS = dict(embedding_dim=16, units=32, encoder_units=16, batch_size=16,
                  source_vocabulary_size=64, target_vocabulary_size=48)
DEFAULT_DATA = os.path.join("..", "shared", "data", "multi30k")
# mode -> (timed rounds, timed batches); each script may add its own settings.
MODE_SETTINGS = {"smoke": (1, 2), "quick": (2, 3), "default": (4, 6)}


def log(message):
    print(message, file=sys.stderr, flush=True)


# ============================================================================ data
def word_tokenizer(texts, vocabulary_size, name):
    """The package's lowercase `WordTokenizer` over the most frequent words of `texts`."""
    from keras_seq2seq.text import WordTokenizer

    return WordTokenizer.from_texts(texts, max_vocabulary_size=vocabulary_size,
                                    lowercase=True, name=name)


def split_ragged(ids):
    """A 2-D int `tf.RaggedTensor` -> a list of int32 numpy arrays, one a row."""
    flat, splits = ids.flat_values.numpy().astype(np.int32), ids.row_splits.numpy()
    return [flat[a:b] for a, b in zip(splits[:-1], splits[1:])]


def encode(texts, tokenizer):
    """Sentences -> a list of int32 id arrays (no [START] / [END]), `encode_texts`."""
    from keras_seq2seq.text import encode_texts

    return split_ragged(encode_texts(texts, tokenizer))


def load_multi30k(data_dir, source_vocabulary_size, target_vocabulary_size):
    """Multi30k train (and val) ids, raw lines and tokenizers, via the package's readers."""
    from keras_seq2seq.text import CorpusError, read_split_folder

    splits = {"train": "train"}
    if all(os.path.exists(os.path.join(data_dir, f"val.{lang}")) for lang in ("de", "en")):
        splits["validation"] = "val"
    start = time.perf_counter()
    try:
        read = read_split_folder(data_dir, "de", "en", splits=splits, on_error="skip")
    except CorpusError as error:
        raise SystemExit(f"Multi30k not readable: {error}. Pass --data DIR (with "
                         "train.de / train.en), or use --smoke.") from None
    tokenizers = (word_tokenizer(read["train"].sources, source_vocabulary_size,
                                 "source_tokenizer"),
                  word_tokenizer(read["train"].targets, target_vocabulary_size,
                                 "target_tokenizer"))
    sides = {}
    for name, corpus in read.items():
        source = encode(corpus.sources, tokenizers[0])
        target = encode(corpus.targets, tokenizers[1])
        keep = [i for i in range(len(source)) if len(source[i]) and len(target[i])]
        sides[name] = {"raw_source": [corpus.sources[i] for i in keep],
                       "raw_target": [corpus.targets[i] for i in keep],
                       "source": [source[i] for i in keep],
                       "target": [target[i] for i in keep]}
    corpus = dict(sides["train"], source_tokenizer=tokenizers[0],
                  target_tokenizer=tokenizers[1])
    val = sides.get("validation")
    corpus["val"] = ({"source": val["source"], "target": val["target"]} if val else
                     {"source": corpus["source"][:1000], "target": corpus["target"][:1000]})
    corpus["load_seconds"] = time.perf_counter() - start
    corpus["num_pairs"] = len(corpus["source"])
    for side in ("source", "target"):
        known = sum(int((s != UNK_ID).sum()) for s in corpus[side])
        corpus[f"{side}_coverage"] = known / sum(len(s) for s in corpus[side])
    return corpus


def synthetic_corpus(dims, n=400, seed=0):
    """Random id sequences of 3-10 tokens; the raw text is `s<id>` / `t<id>` words."""
    from keras_seq2seq.text import WordTokenizer

    rng = np.random.default_rng(seed)
    vs, vt = dims["source_vocabulary_size"], dims["target_vocabulary_size"]
    reserved = len(RESERVED_TOKENS)
    source = [rng.integers(reserved, vs, rng.integers(3, 11)).astype(np.int32)
              for _ in range(n)]
    target = [rng.integers(reserved, vt, rng.integers(3, 11)).astype(np.int32)
              for _ in range(n)]
    words = {side: list(RESERVED_TOKENS) + [f"{side[0]}{i}" for i in range(reserved, size)]
             for side, size in (("source", vs), ("target", vt))}
    return {
        "raw_source": [" ".join(f"s{i}" for i in s) for s in source],
        "raw_target": [" ".join(f"t{i}" for i in t) for t in target],
        "source": source, "target": target,
        "source_tokenizer": WordTokenizer(words["source"], name="source_tokenizer"),
        "target_tokenizer": WordTokenizer(words["target"], name="target_tokenizer"),
        "val": {"source": source[:64], "target": target[:64]},
        "load_seconds": 0.0, "num_pairs": n,
        "source_coverage": 1.0, "target_coverage": 1.0,
    }


def pad(sequences, length=None):
    length = max(len(s) for s in sequences) if length is None else length
    out = np.full((len(sequences), length), PAD_ID, np.int32)
    for i, s in enumerate(sequences):
        out[i, :len(s)] = s
    return out


def make_batch(source_seqs, target_seqs, indices=None):
    """x=(source, [START] + target), y=target + [END], all padded with [PAD]."""
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
    return [make_batch([source[i] for i in chunks[p]], [target[i] for i in chunks[p]],
                       indices=chunks[p]) for p in positions]


def middle_batch(ctx):
    """The timed batch of median length (what the one-batch benchmarks use)."""
    return ctx["batches"][len(ctx["batches"]) // 2]


def batch_shape(batch):
    return [list(batch["source"].shape), list(batch["target"].shape)]


# ============================================================================ models
def spec(kind, cell="gru", attention="general", teacher_forcing=1.0, granularity="batch",
         input_feeding=False, jit=False, label=None, mode="sequential", policy="float32"):
    """A JSON-able description of one benchmarked configuration.

    `policy` is the Keras dtype policy the model is built under ("float32" or
    "mixed_bfloat16"; ids get "_bf16").
    """
    s = dict(kind=kind, cell=cell, attention=attention, teacher_forcing=teacher_forcing,
             granularity=granularity, input_feeding=input_feeding, jit=jit, mode=mode,
             policy=policy)
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
    if s.get("policy", "float32") == "mixed_bfloat16":
        name += "_bf16"
    elif s.get("policy", "float32") != "float32":
        name += f"_{s['policy']}"
    if s["jit"]:
        name += "_xla"
    return name


def build_model(s, dims, seed=0):
    """The compiled model of spec `s` (weights seeded identically for every spec),
    built under the dtype policy of `s` (the global policy is restored after)."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(s.get("policy", "float32"))
    try:
        return _build_model(s, dims, seed)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _build_model(s, dims, seed):
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


def describe_model(model):
    """{"model": class name, "trainable_parameters": count} of a built model."""
    return {"model": type(model).__name__, "trainable_parameters": int(sum(
        np.prod(v.shape) for v in model.trainable_weights))}


def train_step(model, batch):
    model.train_on_batch((batch["source"], batch["decoder_input"]), batch["target"])


def error_text(error, limit=600):
    return f"{type(error).__name__}: {str(error).strip()[:limit]}"


# ============================================================================ timing
def median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def spread(values):
    values = [v for v in values if v is not None]
    return [float(min(values)), float(max(values))] if values else None


def quartiles(values):
    return [float(np.percentile(values, 25)), float(np.percentile(values, 75))]


def rotated(items, turn):
    """`items` starting at position `turn` (mod its length): the order of one turn."""
    turn %= len(items)
    return list(items[turn:]) + list(items[:turn])


def latency_summary(seconds):
    """{"calls", "p50_ms", "p99_ms", "mean_ms"} of a list of call durations."""
    ms = np.array(seconds, np.float64) * 1e3
    return {"calls": len(ms), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


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


def table(head, rows):
    """A Markdown table (a string) of the header cells `head` and the rows of cells."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_info():
    import keras
    import tensorflow as tf

    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), None)
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "platform": platform.platform(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def write_json(path, results):
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=2, ensure_ascii=False, default=lambda o:
                      o.tolist() if hasattr(o, "tolist") else str(o))


# ============================================================================ CLI
def make_parser(doc, data=True):
    """An argument parser described by the first paragraph of `doc`, with
    `add_arguments`."""
    return add_arguments(argparse.ArgumentParser(description=doc.split("\n\n")[0]),
                         data=data)


def add_arguments(parser, data=True):
    """--smoke / --quick, --json, --rounds, --batches and (with `data`) --data."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true",
                      help="tiny synthetic data and model (no files), seconds")
    mode.add_argument("--quick", action="store_true",
                      help="real data, fewer rounds and batches")
    if data:
        parser.add_argument("--data", default=DEFAULT_DATA,
                            help="Multi30k directory (train.de, train.en); relative "
                            "paths are resolved against the repository root")
    parser.add_argument("--json", help="write the results as JSON to this path")
    parser.add_argument("--rounds", type=int, help="timed rounds")
    parser.add_argument("--batches", type=int, help="timed batches (one step each a round)")
    return parser


def prepare(args):
    """Mode settings, the corpus and the timed batches of parsed `add_arguments` args.

    Returns:
        A dict: `mode` ("smoke", "quick" or "default"), `dims`, `rounds`, `count`,
        `data_dir` (None with --smoke), `corpus`, `batches` (the timed batches).
    """
    mode = "smoke" if args.smoke else "quick" if args.quick else "default"
    rounds, count = MODE_SETTINGS[mode]
    ctx = {"mode": mode, "dims": dict(SMOKE_DIMS if args.smoke else FULL_DIMS),
           "rounds": args.rounds or rounds, "count": args.batches or count}
    import tensorflow as tf  # noqa: F401  (TensorFlow before the tokenizers' logging)

    if args.smoke:
        ctx["data_dir"], corpus = None, synthetic_corpus(ctx["dims"])
    else:
        ctx["data_dir"] = (args.data if os.path.isabs(args.data)
                           else os.path.normpath(os.path.join(REPO_ROOT, args.data)))
        corpus = load_multi30k(ctx["data_dir"], ctx["dims"]["source_vocabulary_size"],
                               ctx["dims"]["target_vocabulary_size"])
        log(f"loaded {corpus['num_pairs']} pairs from {ctx['data_dir']} in "
            f"{corpus['load_seconds']:.1f}s (coverage de {corpus['source_coverage']:.3f}, "
            f"en {corpus['target_coverage']:.3f})")
    ctx["corpus"] = corpus
    ctx["batches"] = bucketed_batches(corpus["source"], corpus["target"],
                                      ctx["dims"]["batch_size"], ctx["count"])
    return ctx


def settings(ctx, command):
    """The `settings` entry of a JSON report."""
    batches = ctx["batches"]
    return {"dims": ctx["dims"], "rounds": ctx["rounds"], "timed_batches": len(batches),
            "batch_shapes": [[list(b["source"].shape), list(b["target"].shape)]
                             for b in batches],
            "tokens_per_round": sum(b["tokens"] for b in batches),
            "data": ctx["data_dir"], "num_pairs": ctx["corpus"]["num_pairs"],
            "tokenizer": "keras_seq2seq.text.WordTokenizer(lowercase=True)",
            "encoder": "bidirectional, encoder_units per direction; outputs "
                       "2*encoder_units; Dense(units, tanh) bridge of [fwd; bwd] states",
            "command": command}


def command_line(script, argv):
    return " ".join(["python", f"benchmarks/{script}"]
                    + list(sys.argv[1:] if argv is None else argv))


def report_header(ctx, script, argv):
    """The `mode`, `meta` and `settings` entries of a JSON report."""
    return {"mode": ctx["mode"], "meta": machine_info(),
            "settings": settings(ctx, command_line(script, argv))}


def run_benchmark(script, argv, args, key, bench, table_of):
    """A script's main: prepare, `results[key] = bench(ctx)`, print, write --json."""
    ctx = prepare(args)
    results = report_header(ctx, script, argv)
    results[key] = bench(ctx)
    print(table_of(results[key]))
    write_json(args.json, results)
    return results
