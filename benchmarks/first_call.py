"""Time of a model's first call (tracing included): greedy, beam 4 and one `fit` epoch.

    python benchmarks/first_call.py [--units N] [--repeats N] [--json PATH]

Each measurement is a fresh process (autograph caches what it converted, and a process
traces a step once, so only a process's first call shows what a user waits for), the
package's path against what it did before, alternating, in this run:
- greedy, beam4: `generate` (what `translate` runs), whose search runs in a
  `tf.function(autograph=False)`, against the same `model.search` in a `tf.function`
  with autograph on.
- fit: `Seq2Seq.fit` for one epoch of two batches, which builds the optimizer before
  the train step is traced, against Keras's `make_train_function`, which builds it
  inside the first trace (a `tf.function` whose first trace creates variables traces
  again, so the step is traced twice).
The second call (a second epoch for fit) shows the traced cost.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_seq2seq as ks  # noqa: E402
from keras_seq2seq.text import make_dataset  # noqa: E402

SOURCES = ["ein hund läuft im park", "die katze schläft"] * 8
TARGETS = ["a dog runs in the park", "the cat sleeps"] * 8


def make_model(units):
    source = common.word_tokenizer(SOURCES, 100, "source_tokenizer")
    target = common.word_tokenizer(TARGETS, 100, "target_tokenizer")
    return ks.Seq2Seq(source.vocabulary_size, target.vocabulary_size, embedding_dim=32,
                      units=units, max_decode_length=20, source_tokenizer=source,
                      target_tokenizer=target)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def source_ids(model):
    return model.source_tokenizer.tokenize(tf.constant(SOURCES)).to_tensor()


def generate_ours(options):
    """`model.generate`, the search `translate` runs."""
    def build(model):
        ids = source_ids(model)
        return lambda: model.generate(ids, **options)
    return build


def generate_autographed(options):
    """The same search, autograph on (the previous `generate`)."""
    def build(model):
        ids = source_ids(model)
        function = tf.function(lambda x, n: model.search(x, n, **options),
                               input_signature=[tf.TensorSpec([None, None], tf.int32),
                                                tf.TensorSpec([], tf.int32)])
        return lambda: function(ids, tf.constant(20))
    return build


def fit_call(model, keras_train_function=False):
    """One epoch of `fit` over two batches of 8; with `keras_train_function`, through
    `keras.Model.make_train_function` (the optimizer built inside the trace)."""
    dataset = make_dataset(SOURCES, TARGETS, model.source_tokenizer,
                           model.target_tokenizer, batch_size=8)
    model.compile(optimizer="adam")
    if keras_train_function:
        model.make_train_function = (
            lambda force=False: keras.Model.make_train_function(model, force=force))
    return lambda: model.fit(dataset, epochs=1, verbose=0)


METHODS = {
    "greedy": {"ours": generate_ours({}), "before": generate_autographed({})},
    "beam4": {"ours": generate_ours({"method": "beam", "beam_width": 4}),
              "before": generate_autographed({"method": "beam", "beam_width": 4})},
    "fit": {"ours": fit_call,
            "before": lambda model: fit_call(model, keras_train_function=True)},
}
BEFORE = {"greedy": "autograph on", "beam4": "autograph on",
          "fit": "optimizer built in the trace"}


def child(path, method, units):
    """One fresh process: a warm-up op, then the first and second call."""
    tf.constant(1.0) + 1.0
    call = METHODS[method][path](make_model(units))
    first, second = timed(call), timed(call)
    print("FIRST_CALL " + json.dumps({"first": first, "second": second}))


def measure(method, path, units):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, __file__, "--units", str(units), "--child",
                          path, method], capture_output=True, text=True, env=env,
                         check=True).stdout
    line = [x for x in out.splitlines() if x.startswith("FIRST_CALL ")][-1]
    return json.loads(line.split(" ", 1)[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS),
                        default=list(METHODS))
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "METHOD"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child, args.units)
    results = {"meta": common.machine_info(), "units": args.units,
               "repeats": args.repeats, "rows": []}
    print(f"{'method':<8}{'path':<32}{'first call s':>14}{'second s':>10}")
    for method in args.methods:
        runs = {path: [] for path in ("ours", "before")}
        for _ in range(args.repeats):  # alternating
            for path in runs:
                runs[path].append(measure(method, path, args.units))
        row = {"method": method, "before_is": BEFORE[method]}
        for path, found in runs.items():
            row[path] = {"first": common.median([r["first"] for r in found]),
                         "second": common.median([r["second"] for r in found])}
            label = "ours" if path == "ours" else BEFORE[method]
            print(f"{method:<8}{label:<32}{row[path]['first']:>14.2f}"
                  f"{row[path]['second']:>10.3f}")
        row["speedup"] = row["before"]["first"] / row["ours"]["first"]
        results["rows"].append(row)
        print(f"{method:<8}first call: ours {row['speedup']:.2f}x faster "
              f"(medians of {args.repeats})")
    if args.json:
        common.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
