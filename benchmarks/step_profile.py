"""Where a training step's time goes: forward / forward+backward / full step, ours vs
the baseline (GRU general, LSTM general, GRU concat) on one batch.

    python benchmarks/step_profile.py [--smoke | --quick] [--json PATH] [--data DIR]
                                      [--rounds N]

For each configuration: (a) the forward pass (training=True), (b) forward + loss +
gradients (no optimizer update), each in its own tf.function, and (c) the full
`train_on_batch` (adds the optimizer update, the metrics and Keras' step overhead),
on the middle timed batch. The pieces alternate between ours and the baseline step
by step, 2 × rounds times; medians are reported, and ours / baseline per piece.
"""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

from benchmarks.common import spec  # noqa: E402

PIECES = ("forward", "forward_backward", "train_step")


def profile_pairs():
    return [[spec("baseline"), spec("ours")],
            [spec("baseline", cell="lstm"), spec("ours", cell="lstm")],
            [spec("baseline", attention="concat"), spec("ours", attention="concat")]]


def _step_functions(model, x, y):
    """{piece: zero-argument callable} of one model, each traced and run once."""
    import tensorflow as tf

    def forward(x):
        return tf.reduce_sum(model(x, training=True))

    def gradients(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = model.compute_loss(x=x, y=y, y_pred=logits, training=True)
        grads = tape.gradient(loss, model.trainable_variables)
        return tf.add_n([tf.reduce_sum(g) for g in grads if g is not None])

    forward, gradients = tf.function(forward), tf.function(gradients)
    batch = {"source": x[0], "decoder_input": x[1], "target": y}
    fns = {"forward": lambda: forward(x).numpy(),
           "forward_backward": lambda: gradients(x, y).numpy(),
           "train_step": lambda: common.train_step(model, batch)}
    for piece in PIECES:
        fns[piece]()
    fns["train_step"]()
    return fns


def _profile_pair(pair, x, y, dims, rounds, log):
    """The row of one (baseline, ours) pair of specs."""
    models = {s["id"]: common.build_model(s, dims) for s in pair}
    fns = {sid: _step_functions(model, x, y) for sid, model in models.items()}
    timings = {sid: {piece: [] for piece in PIECES} for sid in models}
    ids = list(models)
    for r in range(rounds):
        for piece in PIECES:
            for sid in common.rotated(ids, r):
                start = time.perf_counter()
                fns[sid][piece]()
                timings[sid][piece].append(time.perf_counter() - start)
    ref, ours = ids[0], ids[1]
    row = {"reference": ref, "ours": ours, "pieces": {}}
    for piece in PIECES:
        ratios = [a / b for a, b in zip(timings[ours][piece], timings[ref][piece])]
        row["pieces"][piece] = {
            "reference_ms": common.median(timings[ref][piece]) * 1e3,
            "ours_ms": common.median(timings[ours][piece]) * 1e3,
            "ours_over_reference_time": common.median(ratios)}
    log(f"  [profile] {ours} vs {ref}: " + ", ".join(
        f"{k} {v['ours_ms']:.0f}/{v['reference_ms']:.0f} ms"
        for k, v in row["pieces"].items()))
    return row


def bench_profile(spec_pairs, batch, dims, rounds, log=common.log):
    """Medians of each piece for each pair of specs, and ours / baseline per piece."""
    import tensorflow as tf

    x = (tf.constant(batch["source"]), tf.constant(batch["decoder_input"]))
    y = tf.constant(batch["target"])
    rows = []
    for pair in spec_pairs:
        rows.append(_profile_pair(pair, x, y, dims, rounds, log))
        gc.collect()  # the pair's models are gone: free them before the next pair
    return {"batch_shape": common.batch_shape(batch), "rounds": rounds, "rows": rows}


def run(ctx, log=common.log):
    return bench_profile(profile_pairs(), common.middle_batch(ctx),
                         ctx["dims"], rounds=2 * ctx["rounds"], log=log)


def profile_table(profile):
    (bs, ts), (_, tt) = profile["batch_shape"]
    rows = [[f"{row['ours']} vs {row['reference']}", piece, f"{v['reference_ms']:.0f}",
             f"{v['ours_ms']:.0f}", f"{v['ours_over_reference_time']:.2f}"]
            for row in profile["rows"] for piece, v in row["pieces"].items()]
    return (f"one batch {bs}×{ts} source, {bs}×{tt} target; {profile['rounds']} "
            "alternated repetitions, medians\n\n" + common.table(
                ["ours vs reference", "piece", "reference ms", "ours ms",
                 "ours time / reference time"], rows))


def main(argv=None):
    args = common.make_parser(__doc__).parse_args(argv)
    return common.run_benchmark("step_profile.py", argv, args, "profile", run,
                                profile_table)


if __name__ == "__main__":
    main()
