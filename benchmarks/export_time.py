"""Wall time of `export_translator`, greedy and beam 3 with a 2-best endpoint.

    python benchmarks/export_time.py [--against CHECKOUT] [--repeats N] [--json PATH]

Each export runs in a fresh process (a process traces a model's functions once), on a
tiny word-level model (GRU 16), so the figures are what tracing and writing the
SavedModel cost, not the model's size. With `--against`, the same measurement runs
with another checkout of this repository first on `PYTHONPATH` (e.g. a `git worktree`
of an older commit), alternating with this one, and the ratio is printed.
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
EXPORTS = {"greedy": {}, "beam3_nbest2": {"beam_width": 3, "n_best": 2}}


# One fresh process: a model, then each export of `EXPORTS`, timed. It runs with
# `python -c` so that only `PYTHONPATH` decides which checkout it imports.
CHILD = """
import json, os, sys, tempfile, time
import keras
import keras_seq2seq as ks
from keras_seq2seq.export import export_translator
from keras_seq2seq.text import WordTokenizer

source = WordTokenizer.from_texts(["ein hund läuft", "die katze schläft"],
                                  name="source_tokenizer")
target = WordTokenizer.from_texts(["a dog runs", "the cat sleeps"], name="target_tokenizer")
keras.utils.set_random_seed(0)
model = ks.Seq2Seq(source.vocabulary_size, target.vocabulary_size, embedding_dim=8,
                   units=16, max_decode_length=10, source_tokenizer=source,
                   target_tokenizer=target)
model.translate(["ein hund"])
folder = tempfile.mkdtemp()
seconds = {}
for name, options in json.loads(sys.argv[1]).items():
    start = time.perf_counter()
    export_translator(model, os.path.join(folder, name), **options)
    seconds[name] = time.perf_counter() - start
print("EXPORT_TIME " + json.dumps({"file": ks.__file__, "seconds": seconds}))
"""


def measure(checkout):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=checkout)
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(EXPORTS)],
                         capture_output=True, text=True, env=env, check=True,
                         cwd=tempfile.gettempdir()).stdout  # not a checkout
    line = [x for x in out.splitlines() if x.startswith("EXPORT_TIME ")][-1]
    found = json.loads(line.split(" ", 1)[1])
    if not found["file"].startswith(os.path.abspath(checkout)):
        raise SystemExit(f"{checkout}: keras_seq2seq came from {found['file']}")
    return found["seconds"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="another checkout to time, alternating")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    checkouts = {"this": HERE}
    if args.against:
        checkouts["against"] = os.path.abspath(args.against)
    runs = {name: [] for name in checkouts}
    for _ in range(args.repeats):  # alternating
        for name, checkout in checkouts.items():
            runs[name].append(measure(checkout))
    results = {"meta": common.machine_info(), "repeats": args.repeats,
               "checkouts": checkouts, "median_seconds": {}}
    print(f"{'export':<14}" + "".join(f"{name + ' s':>12}" for name in checkouts)
          + ("   ratio" if args.against else ""))
    for export in EXPORTS:
        medians = {name: common.median([r[export] for r in found])
                   for name, found in runs.items()}
        results["median_seconds"][export] = medians
        line = f"{export:<14}" + "".join(f"{medians[name]:>12.2f}" for name in checkouts)
        if args.against:
            line += f"   {medians['against'] / medians['this']:.2f}x"
        print(line)
    print(f"(medians of {args.repeats} fresh processes each)")
    if args.json:
        common.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
