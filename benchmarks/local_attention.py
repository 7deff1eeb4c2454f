"""Global vs local-m vs local-p attention: quality and speed on one task, same run.

    python benchmarks/local_attention.py --task dates                 # ~3 min on 2 cores
    python benchmarks/local_attention.py --task multi30k             # ~50 min
    python benchmarks/local_attention.py --task dates --quick         # ~1 min smoke

Trains the same model (general score, ratio-1 teacher forcing, same seed, same data,
same number of epochs) with global attention, local-m (window centred on p_t = t) and
local-p (p_t = (S - 1) * sigmoid(v_p^T tanh(W_p h_t)) on 0-based positions, Gaussian
weighting with sigma = D/2),
one after the other in this process, and reports for each:

* quality on the test split: exact match (dates) or BLEU / word BLEU / chrF
  (Multi30k, sacrebleu), overall and on the longest fifth of the test sources
  ("long inputs");
* speed, timed after training in interleaved rounds (each round times every
  variant once, so a change of load hits all of them alike): a teacher-forced
  training step (`train_on_batch`) on the same 8 batches, and greedy decoding of the
  same 256 test sentences; reported as non-pad target tokens/s and sentences/s,
  medians over the rounds, with the ratio to global attention of the same round;
* the throughput seen during `fit` (first epoch excluded: it traces), for context.

Quality is fixed-epoch, so it does not depend on the load of the machine. Prints a
Markdown table and writes JSON with `--json PATH`.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_seq2seq as ks  # noqa: E402
from keras_seq2seq import evaluation  # noqa: E402
from keras_seq2seq.text import make_dataset  # noqa: E402

VARIANTS = (("global", None), ("local-m", "monotonic"), ("local-p", "predictive"))


class EpochTimer(keras.callbacks.Callback):
    """Wall seconds of each epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def dates_task(quick):
    from keras_seq2seq.datasets import load_dates
    from keras_seq2seq.text import CharacterTokenizer

    splits = load_dates(train_size=2000 if quick else 20000, validation_size=200,
                        test_size=500 if quick else 5000, seed=0)
    sources, targets = splits["train"]
    return dict(
        splits=splits,
        source_tokenizer=CharacterTokenizer.from_texts(sources, name="source_tokenizer"),
        target_tokenizer=CharacterTokenizer.from_texts(targets, name="target_tokenizer"),
        model=dict(embedding_dim=32, units=128, encoder_units=64, bidirectional=True,
                   cell_type="gru", max_decode_length=16),
        batch_size=64, learning_rate=3e-3, metric="exact_match", window=8,
        epochs=1 if quick else 6)


def multi30k_task(quick, data_dir, vocabulary_size):
    from keras_seq2seq.text import SentencePieceTokenizer, read_split_folder

    splits = {name: (list(corpus.sources), list(corpus.targets))
              for name, corpus in read_split_folder(data_dir, "de", "en").items()}
    if quick:
        splits["train"] = tuple(side[:3000] for side in splits["train"])
        splits["test"] = tuple(side[:200] for side in splits["test"])
    sources, targets = splits["train"]
    return dict(
        splits=splits,
        source_tokenizer=SentencePieceTokenizer.train(
            sources, vocabulary_size=vocabulary_size, name="source_tokenizer"),
        target_tokenizer=SentencePieceTokenizer.train(
            targets, vocabulary_size=vocabulary_size, name="target_tokenizer"),
        # examples/translate_corpus.py's model: 4 epochs of a 256-unit version of it
        # were still at the unigram stage (BLEU < 1), so the full size, 8 epochs.
        model=dict(embedding_dim=256, units=512, encoder_units=256, bidirectional=True,
                   cell_type="gru", max_decode_length=80, dropout=0.2,
                   label_smoothing=0.1),
        batch_size=128, learning_rate=2e-3, metric="bleu", window=5,
        epochs=1 if quick else 8)


def quality(task, hypotheses, references):
    if task["metric"] == "exact_match":
        return {"exact_match": evaluation.exact_match(hypotheses, references)}
    scores = evaluation.evaluate_translations(hypotheses, references)
    return {key: scores[key] for key in ("bleu", "word_bleu", "chrf")}


def run_variant(task, name, local, window, seed):
    keras.utils.set_random_seed(seed)
    splits = task["splits"]
    source_tokenizer, target_tokenizer = task["source_tokenizer"], task["target_tokenizer"]
    train = make_dataset(*splits["train"], source_tokenizer, target_tokenizer,
                         batch_size=task["batch_size"], seed=seed,
                         bucket_boundaries="auto", max_source_length=80,
                         max_target_length=80)
    target_tokens = sum(int(np.count_nonzero(y)) for _, y in train.as_numpy_iterator())
    options = dict(task["model"])
    if local:
        options.update(local_attention=local, attention_window=window)
    model = ks.Seq2Seq(source_tokenizer.vocabulary_size, target_tokenizer.vocabulary_size,
                       attention="general", teacher_forcing=1.0,
                       source_tokenizer=source_tokenizer,
                       target_tokenizer=target_tokenizer, **options)
    model.compile(optimizer=keras.optimizers.Adam(task["learning_rate"], clipnorm=5.0))
    timer = EpochTimer()
    model.fit(train, epochs=task["epochs"], callbacks=[timer], verbose=0)
    timed = timer.seconds[1:] or timer.seconds
    train_tokens_per_second = target_tokens * len(timed) / sum(timed)

    test_sources, test_references = splits["test"]
    model.translate(test_sources[:8])                          # trace
    started = time.perf_counter()
    hypotheses = model.translate(test_sources, batch_size=256)
    decode_seconds = time.perf_counter() - started
    lengths = np.array([len(t) for t in source_tokenizer.tokenize(
        tf.constant(test_sources)).to_list()])
    long_cut = float(np.quantile(lengths, 0.8))
    long = [i for i, n in enumerate(lengths) if n > long_cut]
    result = {
        "variant": name,
        "local_attention": local,
        "window": window if local else None,
        "epochs": task["epochs"],
        "fit_tokens_per_second": round(train_tokens_per_second, 1),
        "epoch_seconds": [round(s, 1) for s in timer.seconds],
        "fit_decode_sentences_per_second": round(len(test_sources) / decode_seconds, 1),
        "test": quality(task, hypotheses, test_references),
        "long_inputs": {
            "source_tokens_over": long_cut,
            "count": len(long),
            **quality(task, [hypotheses[i] for i in long],
                      [test_references[i] for i in long]),
        },
        "examples": list(zip(test_sources[:3], hypotheses[:3])),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "examples"}), flush=True)
    return result, model, train


def time_variants(results, models, train, sources, rounds):
    """Interleaved timing rounds; fills `train_tokens_per_second` and
    `decode_sentences_per_second` (medians) and per-round ratios to the first."""
    batches = list(train.take(8).as_numpy_iterator())
    tokens = sum(int(np.count_nonzero(y)) for _, y in batches)
    sources = list(sources[:256])
    for model in models:                                    # trace every shape
        for (x, y) in batches:
            model.train_on_batch(x, y)
        model.translate(sources)
    train_times = [[] for _ in models]
    decode_times = [[] for _ in models]
    for _ in range(rounds):
        for i, model in enumerate(models):
            started = time.perf_counter()
            for (x, y) in batches:
                model.train_on_batch(x, y)
            train_times[i].append(time.perf_counter() - started)
            started = time.perf_counter()
            model.translate(sources)
            decode_times[i].append(time.perf_counter() - started)
    for i, result in enumerate(results):
        train_ratio = np.array(train_times[0]) / np.array(train_times[i])
        decode_ratio = np.array(decode_times[0]) / np.array(decode_times[i])
        result.update(
            train_tokens_per_second=round(tokens / float(np.median(train_times[i])), 1),
            decode_sentences_per_second=round(
                len(sources) / float(np.median(decode_times[i])), 1),
            train_vs_global=round(float(np.median(train_ratio)), 3),
            train_vs_global_range=[round(float(train_ratio.min()), 3),
                                   round(float(train_ratio.max()), 3)],
            decode_vs_global=round(float(np.median(decode_ratio)), 3),
            decode_vs_global_range=[round(float(decode_ratio.min()), 3),
                                    round(float(decode_ratio.max()), 3)],
            timing_rounds=rounds)


def table(results, metric):
    keys = ["exact_match"] if metric == "exact_match" else ["bleu", "word_bleu", "chrf"]
    scale = 100.0 if metric == "exact_match" else 1.0
    head = ["variant"] + [f"test {k}" for k in keys] + [
        f"long inputs {keys[0]}", "train tokens/s", "vs global", "decode sent/s",
        "vs global"]
    rows = []
    for r in results:
        cells = [r["variant"] + (f" (D={r['window']})" if r["window"] else "")]
        cells += [f"{r['test'][k] * scale:.2f}" for k in keys]
        cells.append(f"{r['long_inputs'][keys[0]] * scale:.2f} "
                     f"(n={r['long_inputs']['count']})")
        cells += [f"{r['train_tokens_per_second']:,.0f}",
                  f"{r['train_vs_global']:.2f}× ({r['train_vs_global_range'][0]:.2f}–"
                  f"{r['train_vs_global_range'][1]:.2f})",
                  f"{r['decode_sentences_per_second']:,.0f}",
                  f"{r['decode_vs_global']:.2f}× ({r['decode_vs_global_range'][0]:.2f}–"
                  f"{r['decode_vs_global_range'][1]:.2f})"]
        rows.append(cells)
    return common.table(head, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("dates", "multi30k"), default="dates")
    parser.add_argument("--quick", action="store_true", help="tiny data, one epoch")
    parser.add_argument("--epochs", type=int, help="epochs (dates 6, multi30k 8)")
    parser.add_argument("--window", type=int, help="half-width D (dates 8, multi30k 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", default=[v for v, _ in VARIANTS],
                        choices=[v for v, _ in VARIANTS])
    parser.add_argument("--data", default=os.path.join("..", "shared", "data", "multi30k"))
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument("--rounds", type=int, help="timing rounds (default 7; quick 2)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    task = (dates_task(args.quick) if args.task == "dates"
            else multi30k_task(args.quick, args.data, args.vocabulary_size))
    if args.epochs:
        task["epochs"] = args.epochs
    window = args.window or task["window"]
    started = time.time()
    load_before = os.getloadavg()
    runs = [run_variant(task, name, local, window, args.seed)
            for name, local in VARIANTS if name in args.variants]
    results = [result for result, _, _ in runs]
    time_variants(results, [model for _, model, _ in runs], runs[0][2],
                  task["splits"]["test"][0], args.rounds or (2 if args.quick else 7))
    report = {
        "task": args.task,
        "quick": args.quick,
        "command": "python " + " ".join([sys.argv[0]] + (argv or sys.argv[1:])),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "minutes": round((time.time() - started) / 60, 1),
        "machine": dict(common.machine_info(), cpus=os.cpu_count(),
                        load_average_before=[round(x, 2) for x in load_before],
                        load_average_after=[round(x, 2) for x in os.getloadavg()]),
        "results": results,
    }
    print()
    print(table(results, task["metric"]))
    machine = report["machine"]
    print(f"\n{report['minutes']} minutes; load average before "
          f"{machine['load_average_before']}, after {machine['load_average_after']}")
    common.write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
