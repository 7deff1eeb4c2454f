"""Reserved tokens and ids, the names of the attention scores and of the training
strategies: one place for all.

Every vocabulary of the package starts with the same four tokens, so token ids 0-3
mean the same thing to tokenizers, the model, the decoders, the export and the
benchmarks. Pure Python (no TensorFlow import), so the command line's `--help` can
use these names without importing TensorFlow.
"""

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
START_TOKEN = "[START]"
END_TOKEN = "[END]"
RESERVED_TOKENS = (PAD_TOKEN, UNK_TOKEN, START_TOKEN, END_TOKEN)
PAD_ID, UNK_ID, START_ID, END_ID = range(len(RESERVED_TOKENS))

# The Luong et al. (2015) scores, by the names the model's `attention=` takes.
ATTENTION_NAMES = ("dot", "general", "concat")

# The `tf.distribute` strategies of `training.make_strategy` (`train --strategy`).
STRATEGIES = ("default", "mirrored", "one_device")

# The names a tokenizer module re-exports.
RESERVED_NAMES = ("PAD_TOKEN", "UNK_TOKEN", "START_TOKEN", "END_TOKEN",
                  "RESERVED_TOKENS", "PAD_ID", "UNK_ID", "START_ID", "END_ID")

# XLA compiles one program per input shape; a decoding of its sources padded to a
# multiple of this many ids (`decoding.common.pad_to_length_bucket`) reuses one
# program per bucket (the padding is masked: the results are the unpadded sources').
XLA_LENGTH_BUCKET = 8
# Single-sentence decoding runs XLA-compiled up to this source length (at most this /
# bucket programs), the graph beyond (`export_translator`, `serve`).
XLA_MAX_SOURCE_LENGTH = 256

__all__ = [*RESERVED_NAMES, "ATTENTION_NAMES"]  # what `text` re-exports; not STRATEGIES
