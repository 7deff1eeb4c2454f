"""The dtype policy of a run: float32, or mixed bfloat16 where the CPU has it.

`resolve_precision("auto")` picks `"mixed_bfloat16"` on a CPU with native bfloat16
arithmetic (the `avx512_bf16` or `amx_bf16` flags of `/proc/cpuinfo`: Intel Cooper
Lake / Sapphire Rapids and later, AMD Zen 4 and later) when no GPU is visible *and* a
bfloat16 matmul measured there runs at least `BF16_MIN_SPEEDUP` times float32's
(`bf16_matmul_speedup`, a fraction of a second): the flag alone is not enough, since
a 2-core Xeon (Emerald Rapids, avx512_bf16, no AMX exposed) ran bfloat16 matmuls at
0.58× float32's and trained 0.68× as fast under `mixed_bfloat16`, where a Zen 5 EPYC
ran them 1.77× faster. Otherwise `"float32"`. `apply_precision` sets the Keras
global policy and says what it chose and why, for the logs. Under `mixed_bfloat16`
the package keeps the softmax, the loss, the attention weights and masks, and the
optimizer's variables in float32 (see `tests/test_mixed_precision.py` for what is guaranteed).
"""

import functools
import time

__all__ = ["BF16_CPU_FLAGS", "BF16_MIN_SPEEDUP", "PRECISIONS", "apply_precision",
           "bf16_matmul_speedup", "cpu_flags", "resolve_precision"]

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
"""The accepted `precision` values: "auto", or a Keras dtype policy name."""

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""CPU flags (Linux `/proc/cpuinfo`) of native bfloat16 dot products."""

BF16_MIN_SPEEDUP = 1.15
"""The bfloat16 / float32 matmul speed ratio from which "auto" takes bfloat16 (a
whole training step gains less than its matmuls: 1.29× for 1.77× on a Zen 5)."""


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU feature flags the kernel reports (an empty set where unknown).

    Args:
        path: the cpuinfo file. Defaults to Linux's `/proc/cpuinfo`.

    Returns:
        A set of flag names (str).
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.lru_cache(maxsize=None)
def bf16_matmul_speedup(rows=1024, depth=512, columns=2048, pairs=5):
    """How many times faster a bfloat16 matmul runs than a float32 one, here.

    The shape is that of a training step's output projection (tokens × attentional
    size · attentional size × vocabulary). The two dtypes are timed in alternation,
    after one warm-up call each, with TensorFlow's threads as training gets them;
    the median of the per-pair ratios is returned (a shared machine's speed drifts).
    About 0.2 s on a 2-core CPU; cached per process and arguments.

    Args:
        rows, depth, columns: the product `(rows, depth) · (depth, columns)`.
        pairs: timed float32/bfloat16 pairs.

    Returns:
        float: float32 seconds / bfloat16 seconds (> 1: bfloat16 is faster).
    """
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, depth), dtype=np.float32)
    b = rng.standard_normal((depth, columns), dtype=np.float32)
    operands = {dtype: (tf.constant(a, dtype), tf.constant(b, dtype))
                for dtype in (tf.float32, tf.bfloat16)}

    def seconds(dtype):
        x, y = operands[dtype]
        start = time.perf_counter()
        tf.matmul(x, y).numpy()
        return time.perf_counter() - start

    for dtype in operands:
        seconds(dtype)
    ratios = sorted(seconds(tf.float32) / seconds(tf.bfloat16) for _ in range(pairs))
    return float(ratios[len(ratios) // 2])


def resolve_precision(precision="auto", flags=None, has_gpu=None, speedup=None):
    """The dtype policy for `precision`, and why.

    Args:
        precision: one of `PRECISIONS`. "auto" gives "mixed_bfloat16" on a CPU with
            one of `BF16_CPU_FLAGS`, no GPU, and bfloat16 matmuls at least
            `BF16_MIN_SPEEDUP` times as fast as float32's; else "float32".
        flags: the CPU flags (default: `cpu_flags()`).
        has_gpu: whether TensorFlow sees a GPU (default: asks it; with a GPU, "auto"
            stays float32: bfloat16 was measured on CPUs only).
        speedup: the bfloat16 / float32 matmul speed ratio (default: measured by
            `bf16_matmul_speedup` when the flags say bfloat16 is native).

    Returns:
        `(policy_name, reason)`, the reason a short phrase for the logs.

    Raises:
        ValueError: `precision` is not one of `PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {list(PRECISIONS)}. Received: "
                         f"precision={precision!r}")
    if precision != "auto":
        return precision, "asked for"
    if has_gpu is None:
        import tensorflow as tf

        has_gpu = bool(tf.config.list_physical_devices("GPU"))
    if has_gpu:
        return "float32", "auto: a GPU is visible (bfloat16 is chosen on CPUs only)"
    found = sorted(set(BF16_CPU_FLAGS) & (cpu_flags() if flags is None else set(flags)))
    if not found:
        return "float32", ("auto: the CPU has no native bfloat16 "
                           f"({' / '.join(BF16_CPU_FLAGS)})")
    if speedup is None:
        speedup = bf16_matmul_speedup()
    measured = (f"the CPU has {', '.join(found)} and a bfloat16 matmul ran "
                f"{speedup:.2f}× float32's")
    if speedup >= BF16_MIN_SPEEDUP:
        return "mixed_bfloat16", f"auto: {measured}"
    return "float32", (f"auto: {measured}, under the {BF16_MIN_SPEEDUP}× that "
                       "bfloat16 must gain")


def apply_precision(precision="auto", flags=None, has_gpu=None, speedup=None):
    """Sets the Keras global dtype policy for `precision` (before building models).

    Args:
        precision, flags, has_gpu, speedup: as in `resolve_precision`.

    Returns:
        `(policy_name, reason)`.
    """
    import keras

    policy, reason = resolve_precision(precision, flags=flags, has_gpu=has_gpu,
                                       speedup=speedup)
    keras.mixed_precision.set_global_policy(policy)
    return policy, reason
