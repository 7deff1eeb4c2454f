"""The cost of the data pipeline against a training step (ours_r1).

    python benchmarks/data_pipeline.py [--smoke | --quick] [--json PATH] [--data DIR]

For the timed batches: raw text -> the package's `WordTokenizer` (the benchmark's
tokenizers, `keras_seq2seq.text`; its `tokenize` traced once, as tf.data or a SavedModel
runs it) -> id arrays -> padded numpy batch (and the padding alone), and a `tf.data`
variant from the already tokenized ids (`from_generator` -> `map` -> `padded_batch`),
against the median ours_r1 training step. `benchmarks/run.py`
passes the step time of its main group; run alone, this script times ours_r1 itself
(warmed up, then `--rounds` passes over the timed batches).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.common import END_ID, START_ID  # noqa: E402


def traced_encoder(tokenizer):
    """texts -> list of id arrays, through one traced `tokenizer.tokenize`."""
    import tensorflow as tf

    tokenize = tf.function(tokenizer.tokenize, autograph=False,
                           input_signature=[tf.TensorSpec([None], tf.string)])
    return lambda texts: common.split_ragged(tokenize(tf.constant(texts)))


def bench_pipeline(corpus, batches, step_seconds, repeats=5):
    """Raw text -> padded id arrays for the timed batches, vs a training step.

    A first, untimed pass checks that the tokenizers give the timed batches' ids.
    """
    tokenizers = corpus["source_tokenizer"], corpus["target_tokenizer"]
    encoders = [traced_encoder(tokenizer) for tokenizer in tokenizers]
    full, padding = [], []
    ids_match = True
    for r in range(repeats + 1):
        for b in batches:
            idx = b["indices"]
            start = time.perf_counter()
            src = encoders[0]([corpus["raw_source"][i] for i in idx])
            tgt = encoders[1]([corpus["raw_target"][i] for i in idx])
            middle = time.perf_counter()
            batch = common.make_batch(src, tgt)
            end = time.perf_counter()
            if r == 0:  # warm-up
                ids_match &= all(np.array_equal(batch[key], b[key])
                                 for key in ("source", "decoder_input", "target"))
                continue
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
    full_ms = common.median(full) * 1e3
    return {
        "numpy_text_to_batch_ms": full_ms,
        "numpy_padding_only_ms": common.median(padding) * 1e3,
        "tfdata_ids_to_batch_ms": tfdata * 1e3,
        "train_step_ms": None if step_seconds is None else step_seconds * 1e3,
        "pipeline_fraction_of_step": (None if step_seconds is None
                                      else full_ms / 1e3 / step_seconds),
        "ids_match_timed_batches": bool(ids_match),
        "tokenizer": type(tokenizers[0]).__name__,
    }


def run(ctx, step_seconds):
    return bench_pipeline(ctx["corpus"], ctx["batches"], step_seconds,
                          repeats=1 if ctx["mode"] == "smoke" else 5)


def ours_r1_step_seconds(ctx):
    """Median ours_r1 `train_on_batch` seconds over `rounds` passes (after a warm-up)."""
    model = common.build_model(common.spec("ours"), ctx["dims"])
    batches = ctx["batches"]
    for batch in batches + batches[:1]:
        common.train_step(model, batch)
    steps = []
    for batch in batches * ctx["rounds"]:
        start = time.perf_counter()
        common.train_step(model, batch)
        steps.append(time.perf_counter() - start)
    return common.median(steps)


def pipeline_table(pipe):
    return "\n".join([common.table(["piece", "ms per batch"], [
        [f"{pipe['tokenizer']} (traced): raw text -> ids, numpy padded batch",
         f"{pipe['numpy_text_to_batch_ms']:.2f}"],
        ["numpy: padding only (ids -> arrays)", f"{pipe['numpy_padding_only_ms']:.2f}"],
        ["tf.data: ids -> map -> padded_batch", f"{pipe['tfdata_ids_to_batch_ms']:.2f}"],
        ["ours_r1 train step (median)", common.fmt(pipe["train_step_ms"], 1)]]),
        "", f"pipeline / step = {common.fmt(pipe['pipeline_fraction_of_step'], 4)}"])


def main(argv=None):
    args = common.make_parser(__doc__).parse_args(argv)
    return common.run_benchmark("data_pipeline.py", argv, args, "data_pipeline",
                                lambda ctx: run(ctx, ours_r1_step_seconds(ctx)),
                                pipeline_table)


if __name__ == "__main__":
    main()
