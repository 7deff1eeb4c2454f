"""Latency of a model's first decoding call (tracing included), greedy and beam.

    python benchmarks/first_call.py [--units N] [--repeats N]

Each measurement is a fresh process (autograph caches what it converted, so only a
process's first conversion shows what a user waits for): the package's `generate` (what
`translate` runs), whose search runs in a `tf.function(autograph=False)`, against the same
`model.search` in a `tf.function` with autograph on (what `generate` did before),
alternating, in this run. The second call shows the traced cost.
"""

import argparse
import json
import subprocess
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

import keras_seq2seq as ks  # noqa: E402
from keras_seq2seq.text import WordTokenizer  # noqa: E402

TEXTS = ["ein hund läuft im park", "die katze schläft"] * 8


def make_model(units):
    source = WordTokenizer.from_texts(TEXTS, name="source_tokenizer")
    target = WordTokenizer.from_texts(["a dog runs in the park", "the cat sleeps"],
                                      name="target_tokenizer")
    return ks.Seq2Seq(source.vocabulary_size, target.vocabulary_size, embedding_dim=32,
                      units=units, max_decode_length=20, source_tokenizer=source,
                      target_tokenizer=target)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def source_ids(model):
    return model.source_tokenizer.tokenize(tf.constant(TEXTS)).to_tensor()


def ours(model, options):
    """`model.generate`, the search `translate` runs."""
    ids = source_ids(model)
    return lambda: model.generate(ids, **options)


def autographed(model, options):
    """The same search, autograph on (the previous `generate`)."""
    ids = source_ids(model)
    function = tf.function(lambda x, n: model.search(x, n, **options),
                           input_signature=[tf.TensorSpec([None, None], tf.int32),
                                            tf.TensorSpec([], tf.int32)])
    return lambda: function(ids, tf.constant(20))


METHODS = {"greedy": {}, "beam4": {"method": "beam", "beam_width": 4}}
PATHS = {"ours": ours, "autograph_on": autographed}


def child(path, method, units):
    """One fresh process: a warm-up op, then the first and second call."""
    tf.constant(1.0) + 1.0
    call = PATHS[path](make_model(units), METHODS[method])
    first, second = timed(call), timed(call)
    print("FIRST_CALL " + json.dumps({"first": first, "second": second}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("PATH", "METHOD"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child, args.units)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    print(f"{'method':<8}{'path':<14}{'first call s':>14}{'second s':>10}")
    for method in METHODS:
        runs = {path: [] for path in PATHS}
        for _ in range(args.repeats):  # alternating
            for path in PATHS:
                out = subprocess.run(
                    [sys.executable, __file__, "--units", str(args.units),
                     "--child", path, method], capture_output=True, text=True,
                    env=env, check=True).stdout
                line = [x for x in out.splitlines() if x.startswith("FIRST_CALL ")][-1]
                runs[path].append(json.loads(line.split(" ", 1)[1]))
        median = {}
        for path, found in runs.items():
            median[path] = sorted(r["first"] for r in found)[len(found) // 2]
            second = sorted(r["second"] for r in found)[len(found) // 2]
            print(f"{method:<8}{path:<14}{median[path]:>14.2f}{second:>10.3f}")
        print(f"{method:<8}first call: ours {median['autograph_on'] / median['ours']:.2f}x "
              f"faster (medians of {args.repeats})")


if __name__ == "__main__":
    main()
