"""BLEU against training minutes: runs of `examples/translate_corpus.py` and of the
reference (`../shared/reference/keras_baseline.py`), as a table and a plot.

    python benchmarks/quality_curve.py --ours RUN_DIR [RUN_DIR ...] \
        --reference REF_DIR [REF_DIR ...] --output benchmarks/quality_minutes.png

An `--ours` folder is a `translate_corpus.py --output` folder: its `results.json`
(per-epoch `val_bleu`; the test scores) and the run's printed output saved as `log`
beside it (the epoch lines' seconds give the minutes when `results.json` has no
`minutes_left`). A `--reference` folder holds the reference's printed output as `log`
(its last line is the JSON report) and `hyps-test_2016_flickr.txt` (run it with
`REFERENCE_OUT=REF_DIR` and `--heldout EMPTY_DIR`); its test hypotheses are scored here
with `keras_seq2seq.evaluation.evaluate_translations`, the function that scores ours
(word BLEU on lowercased `\\w+|[^\\w\\s]` tokens against the raw references, sacrebleu's
default and chrF). The test split is only read, never used to choose anything.
"""

import argparse
import json
import os
import re

DEFAULT_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                            "multi30k")


def ours_run(folder):
    """`{name, minutes: [per epoch], val_bleu: [...], test: {decoding: scores}}`.

    Without `results.json` (a run whose scoring step failed and was redone with
    `translate_corpus.py --evaluate`), the test scores come from `evaluation.json`
    and the epochs from the log.
    """
    log_text = ""
    if os.path.exists(os.path.join(folder, "log")):
        with open(os.path.join(folder, "log"), encoding="utf-8", errors="replace") as f:
            log_text = f.read()
    epoch_lines = re.findall(r"^\d+/\d+ - (\d+)s - .*$", log_text, re.MULTILINE)
    if os.path.exists(os.path.join(folder, "results.json")):
        with open(os.path.join(folder, "results.json"), encoding="utf-8") as f:
            results = json.load(f)
    else:
        with open(os.path.join(folder, "evaluation.json"), encoding="utf-8") as f:
            results = json.load(f)
        results["val_bleu"] = [float(v) for v in
                               re.findall(r" val_bleu: ([0-9.]+)", log_text)]
        results["epochs"] = len(epoch_lines)
        results["training_minutes"] = round(sum(int(s) for s in epoch_lines) / 60.0, 1)
    val_bleu = results.get("val_bleu") or []
    minutes = []
    left = results.get("minutes_left")
    if left:
        budget = results["args"]["minutes"]
        minutes = [budget - x for x in left]
    else:
        total = 0.0
        for seconds in epoch_lines:
            total += int(seconds) / 60.0
            minutes.append(total)
    test = {key: value for key, value in results.items()
            if key == "greedy" or key.startswith("beam")}
    return {"name": os.path.basename(os.path.normpath(folder)), "minutes": minutes,
            "val_bleu": val_bleu[:len(minutes)] if minutes else val_bleu,
            "training_minutes": results.get("training_minutes"),
            "epochs": results.get("epochs"), "test": test,
            "length_penalty": results.get("length_penalty"),
            "args": results.get("args", {})}


def reference_run(folder, data=DEFAULT_DATA):
    """`{name, minutes, epochs, val_ppl: [...], test: {"greedy": scores}}`."""
    from keras_seq2seq import evaluation

    with open(os.path.join(folder, "log"), encoding="utf-8", errors="replace") as f:
        lines = [line for line in f.read().splitlines() if line.startswith("{")]
    report = json.loads(lines[-1])
    with open(os.path.join(folder, "hyps-test_2016_flickr.txt"), encoding="utf-8") as f:
        # Its `<unk>` is one (wrong) word, as the reference's own `lc-tok` figure
        # counts it; `\w+|[^\w\s]` would make three tokens of it (-1.8 BLEU).
        hypotheses = [line.replace("<unk>", "UNKWORD") for line in f.read().splitlines()]
    with open(os.path.join(data, "test_2016_flickr.en"), encoding="utf-8") as f:
        references = f.read().splitlines()
    minutes, total = [], 0.0
    for epoch in report["epochs"]:
        total += epoch["epoch_wall_s"] / 60.0
        minutes.append(total)
    return {"name": os.path.basename(os.path.normpath(folder)), "minutes": minutes,
            "training_minutes": round(report["train_wall_s"] / 60.0, 1),
            "epochs": len(report["epochs"]),
            "val_ppl": [e["val_ppl"] for e in report["epochs"]],
            "test": {"greedy": evaluation.evaluate_translations(hypotheses, references)},
            "own_test_bleu": report["test_bleu"], "heldout": report.get("heldout")}


def table(runs):
    """Markdown rows: run, epochs, minutes, decoding, word BLEU, sacrebleu, chrF."""
    rows = ["| run | epochs | training minutes | decoding | word BLEU | BLEU (sacrebleu) "
            "| chrF |", "|---|---|---|---|---|---|---|"]
    for run in runs:
        for decoding, scores in run["test"].items():
            rows.append(f"| {run['name']} | {run['epochs']} | {run['training_minutes']} | "
                        f"{decoding} | {scores['word_bleu']:.2f} | {scores['bleu']:.2f} | "
                        f"{scores['chrf']:.2f} |")
    return "\n".join(rows)


def plot(ours, references, path):
    """Validation BLEU by epoch (lines) and test word BLEU (markers) against minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5))
    for i, run in enumerate(ours):
        color = f"C{i}"
        if run["minutes"]:
            axis.plot(run["minutes"], run["val_bleu"], "-", color=color, alpha=0.6,
                      label=f"{run['name']}: val BLEU (500 sent., greedy)")
        end = run["minutes"][-1] if run["minutes"] else run["training_minutes"]
        for decoding, scores in run["test"].items():
            axis.plot([end], [scores["word_bleu"]], "o" if decoding == "greedy" else "^",
                      color=color, markersize=8,
                      label=f"{run['name']}: test word BLEU, {decoding}")
    for i, run in enumerate(references):
        color = f"C{len(ours) + i}"
        axis.plot([run["minutes"][-1]], [run["test"]["greedy"]["word_bleu"]], "s",
                  color=color, markersize=9,
                  label=f"{run['name']} (reference): test word BLEU, greedy")
    axis.set_xlabel("training minutes (one core each)")
    axis.set_ylabel("BLEU")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="lower right")
    axis.set_title("Multi30k De→En: BLEU against training minutes")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", nargs="*", default=[], metavar="RUN_DIR")
    parser.add_argument("--reference", nargs="*", default=[], metavar="REF_DIR")
    parser.add_argument("--data", default=DEFAULT_DATA,
                        help="the Multi30k folder (test_2016_flickr.en)")
    parser.add_argument("--output", help="PNG to write")
    parser.add_argument("--json", help="write the parsed runs here")
    args = parser.parse_args(argv)
    ours = [ours_run(folder) for folder in args.ours]
    references = [reference_run(folder, args.data) for folder in args.reference]
    print(table(ours + references))
    for run in ours:
        print(f"{run['name']}: val BLEU by epoch "
              + ", ".join(f"{b:.1f}@{m:.0f}m" for b, m in zip(run["val_bleu"],
                                                            run["minutes"])))
    for run in references:
        print(f"{run['name']}: val ppl by epoch {run['val_ppl']}; its own test BLEU "
              f"line {run['own_test_bleu']}")
    if args.output:
        plot(ours, references, args.output)
        print(f"plot: {args.output}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"ours": ours, "reference": references}, f, indent=2)


if __name__ == "__main__":
    main()
