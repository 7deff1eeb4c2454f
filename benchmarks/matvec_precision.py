"""What one decoder step's matmuls cost under each precision, at batch 1 and 64.

    python benchmarks/matvec_precision.py [--batches 1 64] [--repeats 300] [--json OUT]

A decoding step multiplies a few rows (the batch, times the beam) by every weight
matrix of the decoder: the output projection (512 x 6,000 at the Multi30k shape), the
GRU's gates (512 x 1,536) and the attentional layer over [c; h; e] (1,280 x 512). At
batch 1 such a product reads the whole matrix to do two FLOPs per weight, so its time
is the weights' bytes over the memory (or cache) bandwidth, not FLOPs. This script
times `x @ W` in a `tf.function` for each shape and three ways of holding W:

* `float32`: float32 weights, float32 product (a float32 model);
* `bfloat16`: weights stored in bfloat16 (half the bytes);
* `mixed`: float32 weights cast to bfloat16 inside the call, then a bfloat16 product —
  what a layer under Keras's `mixed_bfloat16` policy does at every call, so every
  decoding step of a model trained (and saved) under that policy pays the cast.

It prints a table (ms a product, and the weights' GB/s for the float32 and bfloat16
rows) and, with `--json`, writes the figures. One thread, as the pinned runs of
benchmarks/README.md use.
"""

import argparse
import json
import time

SHAPES = ((512, 6000, "output projection"), (512, 1536, "GRU gates"),
          (1280, 512, "attentional layer [c; h; e]"))
MODES = ("float32", "bfloat16", "mixed")


def time_product(batch, rows, columns, mode, repeats):
    """Mean seconds of one `x @ W` call after 20 warm-up calls."""
    import tensorflow as tf

    stored = tf.bfloat16 if mode == "bfloat16" else tf.float32
    weights = tf.Variable(tf.cast(tf.random.stateless_normal([rows, columns], [0, 1]),
                                  stored))
    x = tf.cast(tf.random.stateless_normal([batch, rows], [0, 2]), stored)
    if mode == "mixed":
        function = tf.function(lambda v: tf.matmul(tf.cast(v, tf.bfloat16),
                                                   tf.cast(weights, tf.bfloat16)))
    else:
        function = tf.function(lambda v: tf.matmul(v, weights))
    for _ in range(20):
        function(x)
    started = time.perf_counter()
    for _ in range(repeats):
        result = function(x)
    result.numpy()
    return (time.perf_counter() - started) / repeats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--json", metavar="OUT", help="write the figures here")
    args = parser.parse_args(argv)

    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already ran an op in this process (tests)
        print("note: TensorFlow is initialised; its thread counts are kept "
              f"(intra-op {tf.config.threading.get_intra_op_parallelism_threads()})")
    rows = []
    for batch in args.batches:
        for rows_, columns, name in SHAPES:
            seconds = {mode: time_product(batch, rows_, columns, mode, args.repeats)
                       for mode in MODES}
            rows.append({"batch": batch, "shape": [rows_, columns], "matrix": name,
                         "ms": {mode: 1e3 * s for mode, s in seconds.items()},
                         "weights_gb_per_s": {
                             "float32": rows_ * columns * 4 / seconds["float32"] / 1e9,
                             "bfloat16": rows_ * columns * 2 / seconds["bfloat16"] / 1e9}})
    print("| batch | matrix | float32 ms | bfloat16 ms | mixed (cast each call) ms | "
          "float32 / bfloat16 weight GB/s | mixed / float32 |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        ms, rate = row["ms"], row["weights_gb_per_s"]
        print(f"| {row['batch']} | {row['matrix']} {row['shape'][0]}×{row['shape'][1]} | "
              f"{ms['float32']:.3f} | {ms['bfloat16']:.3f} | {ms['mixed']:.3f} | "
              f"{rate['float32']:.1f} / {rate['bfloat16']:.1f} | "
              f"{ms['mixed'] / ms['float32']:.2f}× |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "repeats": args.repeats}, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
