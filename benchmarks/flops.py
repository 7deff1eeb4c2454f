"""Achieved FLOP/s of training against this machine's measured matmul rate.

    python benchmarks/flops.py [--smoke | --quick] [--json PATH] [--data DIR]

The FLOPs of a training step are counted analytically (`forward_flops`, 3 × forward
for training); the machine's rate is a float32 n×n @ n×n matmul in a `tf.function`
(`MatmulProbe`; bfloat16 too when a row runs mixed_bfloat16, and each row's fraction
is of the rate at its own compute dtype), measured *between* the training steps of
the main group of
`benchmarks/training_speed.py` (which this script runs, alone).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

import numpy as np  # noqa: E402


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
    """This machine's matmul rate: n×n @ n×n in a tf.function, float32 (and, with
    `bfloat16=True`, bfloat16: the rate a mixed_bfloat16 row is compared with)."""

    def __init__(self, n=2048, reps=8, bfloat16=False):
        import tensorflow as tf

        self.n, self.reps = n, reps
        rng = np.random.default_rng(0)
        a = tf.constant(rng.standard_normal((n, n), np.float32))
        b = tf.constant(rng.standard_normal((n, n), np.float32))
        self.inputs = {"float32": (a, b)}
        if bfloat16:
            self.inputs["bfloat16"] = (tf.cast(a, tf.bfloat16), tf.cast(b, tf.bfloat16))
        self.fn = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b),
                                                                 tf.float32)))
        for inputs in self.inputs.values():
            for _ in range(3):
                self.fn(*inputs).numpy()

    def measure(self, dtype="float32"):
        """(FLOP per wall second, FLOP per process CPU second) at `dtype`."""
        inputs = self.inputs[dtype]
        cpu_start = time.process_time()
        start = time.perf_counter()
        for _ in range(self.reps):
            self.fn(*inputs).numpy()
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
        flops = 2 * self.n ** 3 * self.reps
        return flops / seconds, flops / cpu_seconds


def probe_dtype(s):
    """The matmul dtype a spec's FLOP/s is compared with (its policy's compute dtype)."""
    return "bfloat16" if s.get("policy") == "mixed_bfloat16" else "float32"


def probe_for(mode, bfloat16=False):
    return MatmulProbe(n=256 if mode == "smoke" else 2048, reps=2 if mode == "smoke" else 8,
                       bfloat16=bfloat16)


def add_matmul_fractions(row, flops, secs, cpu_rounds, probe_rates):
    """The FLOP/s fields of one row of a group timed with the probe (in place)."""
    rounds = len(secs)
    fractions = [flops / secs[r] / rate for r, (rate, _) in probe_rates]
    row["matmul_fraction"] = common.median(fractions)
    row["matmul_fraction_range"] = common.spread(fractions)
    best = max(rate for _, (rate, _) in probe_rates)
    row["matmul_fraction_of_best"] = common.median(
        [flops / secs[r] / best for r in range(rounds)])
    cpu_rate = common.median([c for _, (_, c) in probe_rates])
    row["gflops_per_cpu_second"] = common.median(
        [flops / cpu_rounds[r] / 1e9 for r in range(rounds)])
    row["matmul_fraction_cpu_time"] = row["gflops_per_cpu_second"] * 1e9 / cpu_rate


def add_probe_summary(result, probe, probe_rates, bf16_rates=()):
    """The matmul-rate fields of a group timed with the probe (in place)."""
    rates = [x / 1e9 for _, (x, _) in probe_rates]
    result["matmul_gflops_per_second"] = common.median(rates)
    result["matmul_gflops_range"] = common.spread(rates)
    result["matmul_gflops_per_cpu_second"] = common.median(
        [c / 1e9 for _, (_, c) in probe_rates])
    result["matmul_measurements"] = len(rates)
    result["matmul_shape"] = f"{probe.n}×{probe.n} float32"
    if bf16_rates:
        rates = [x / 1e9 for _, (x, _) in bf16_rates]
        result["matmul_bf16_gflops_per_second"] = common.median(rates)
        result["matmul_bf16_gflops_range"] = common.spread(rates)


def flops_summary(main):
    """The `flops` entry of a report, from the main group's result."""
    return {
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


def flops_table(group):
    lo, hi = group["matmul_gflops_range"]
    fmt = common.fmt
    head = (f"matmul rate ({group.get('matmul_shape', '2048×2048 float32')}, "
            f"{group['matmul_measurements']} measurements between the training steps): "
            f"median {fmt(group.get('matmul_gflops_per_second'), 1)} GFLOP/s, "
            f"min–max {fmt(lo, 1)}–{fmt(hi, 1)}; per process CPU second "
            f"{fmt(group.get('matmul_gflops_per_cpu_second'), 1)} GFLOP/CPU-s")
    if group.get("matmul_bf16_gflops_per_second"):
        lo, hi = group["matmul_bf16_gflops_range"]
        head += (f"; bfloat16 (the rate the _bf16 rows are compared with): median "
                 f"{fmt(group['matmul_bf16_gflops_per_second'], 1)} GFLOP/s, min–max "
                 f"{fmt(lo, 1)}–{fmt(hi, 1)}")
    rows = []
    for row in group["rows"]:
        if row["ok"] and "matmul_fraction" in row:
            lo, hi = row["matmul_fraction_range"]
            rows.append([row["id"], f"{row['gflops_per_second']:.1f}",
                         f"{row['matmul_fraction']:.1%} ({lo:.1%}–{hi:.1%})",
                         f"{row['matmul_fraction_of_best']:.1%}",
                         f"{row['gflops_per_cpu_second']:.1f}",
                         f"{row['matmul_fraction_cpu_time']:.1%}"])
    return head + "\n\n" + common.table(
        ["config", "training GFLOP/s (counted)", "fraction of median matmul rate "
         "(min–max over rounds)", "fraction of best matmul rate", "GFLOP per CPU-s",
         "fraction (CPU time)"], rows)


def main(argv=None):
    args = common.make_parser(__doc__).parse_args(argv)
    from benchmarks import training_speed

    def bench(ctx):
        main_group = training_speed.run_main_group(ctx)[0]
        return dict(flops_summary(main_group), main_group=main_group)

    return common.run_benchmark("flops.py", argv, args, "flops", bench,
                                lambda result: flops_table(result["main_group"]))


if __name__ == "__main__":
    main()
