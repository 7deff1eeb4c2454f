"""The dtype policy of a run: float32, or mixed bfloat16 where the CPU has it.

`resolve_precision("auto")` picks `"mixed_bfloat16"` on a CPU with native bfloat16
arithmetic (the `avx512_bf16` or `amx_bf16` flags of `/proc/cpuinfo`: Intel Cooper
Lake / Sapphire Rapids and later, AMD Zen 4 and later) when no GPU is visible, and
`"float32"` otherwise; `apply_precision` sets the Keras global policy and says what it
chose and why, for the logs. Under `mixed_bfloat16` the package keeps the softmax,
the loss, the attention weights and masks, and the optimizer's variables in float32
(see `tests/test_mixed_precision.py` for what is guaranteed).
"""

__all__ = ["BF16_CPU_FLAGS", "PRECISIONS", "apply_precision", "cpu_flags",
           "resolve_precision"]

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
"""The accepted `precision` values: "auto", or a Keras dtype policy name."""

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""CPU flags (Linux `/proc/cpuinfo`) of native bfloat16 dot products."""


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


def resolve_precision(precision="auto", flags=None, has_gpu=None):
    """The dtype policy for `precision`, and why.

    Args:
        precision: one of `PRECISIONS`. "auto" gives "mixed_bfloat16" on a CPU with
            one of `BF16_CPU_FLAGS` and no GPU, else "float32".
        flags: the CPU flags (default: `cpu_flags()`).
        has_gpu: whether TensorFlow sees a GPU (default: asks it; with a GPU, "auto"
            stays float32: bfloat16 was measured on CPUs only).

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
    if found:
        return "mixed_bfloat16", f"auto: the CPU has {', '.join(found)}"
    return "float32", ("auto: the CPU has no native bfloat16 "
                       f"({' / '.join(BF16_CPU_FLAGS)})")


def apply_precision(precision="auto", flags=None, has_gpu=None):
    """Sets the Keras global dtype policy for `precision` (before building models).

    Args:
        precision, flags, has_gpu: as in `resolve_precision`.

    Returns:
        `(policy_name, reason)`.
    """
    import keras

    policy, reason = resolve_precision(precision, flags=flags, has_gpu=has_gpu)
    keras.mixed_precision.set_global_policy(policy)
    return policy, reason
