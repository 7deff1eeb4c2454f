"""SavedModel export of a trained `Seq2Seq` translator, and a loader for it.

`export_translator(model, path)` writes a TensorFlow SavedModel (with
`keras.export.ExportArchive`) that translates strings with no Python code of this
package: tokenization, the encoder, the decoding loop (greedy, or beam search of a
width fixed at export) and detokenization all run in the graph. A consumer needs only
`tensorflow` and `tensorflow-text` (whose ops the tokenizers use), and must
`import tensorflow_text` before `tf.saved_model.load` so that those ops are
registered. See `docs/export.md`.

Endpoints (each is also a serving signature of the same name):

* `serving_default`, `translate`: `texts` tf.string `(B,)` -> `translations`
  tf.string `(B,)`, `tokens` int32 `(B, L)`, `lengths` int32 `(B,)`, `scores`
  float32 `(B,)`, `attention` float32 `(B, L, Ts)`. `L` is the export's
  `max_length`; `tokens` keeps `[END]` and is 0 after it (as `model.generate`).
  It also returns `source_tokens` `(B, Ts)`, `source_lengths` `(B,)` and
  `target_tokens` `(B, L)`: the token strings that label `attention`.
* `translate_ids`: `source_ids` int32 `(B, Ts)` -> `tokens`, `lengths`, `scores`,
  `attention` (no text).
* `n_best` (beam exports): `texts` -> `translations` tf.string `(B, K)`, `scores`
  `(B, K)` (-inf where missing), `tokens` `(B, K, L)`, `lengths`; `n_best_ids` the
  same from ids. `K` is the export's `n_best` (default: the beam width).
* `score`: `sources`, `targets` tf.string `(B,)` -> forced decoding: `log_probs`
  `(B,)`, `token_log_probs` `(B, T)` (the target tokens, then `[END]`), `lengths`,
  `attention` `(B, T, Ts)`, `target_tokens`, `source_tokens`; `score_ids` from ids.
* `tokenize`: `texts` -> `source_ids` int32 `(B, Ts)`; `detokenize`: `target_ids`
  int32 `(B, T)` -> `texts`.
* `encode`: `source_ids` -> the flat decoder state; `decode_step`: `token_ids` int32
  `(B,)` and the flat state -> `logits` float32 `(B, V)`, `attention` float32
  `(B, Ts)` and the next flat state (same names). For clients running their own
  search. State layout: `state_layout(model)` / `docs/export.md`.

With `jit_compile="auto"` (the default) a one-sentence call of `translate`,
`serving_default` or `translate_ids` runs an XLA-compiled search (the same
results; its source padded to a multiple of 8 ids, one compiled program per such
length), about twice as fast on a CPU; other calls run the graph.

Empty and whitespace-only strings (Python's `str.isspace` characters) translate to
`""` with length 0, score 0 and zero attention, as `model.translate` does; their rows
never enter the decoder. A source row of `translate_ids` with no non-pad id is
treated the same way.

Only core TensorFlow ops and tensorflow-text's are used: every loop is an explicit
`tf.while_loop` (endpoints are traced without autograph) and beam search reorders
with `tf.gather` (no `GatherTree`, no tensorflow-addons).
"""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

from keras_seq2seq.export.graph import BLANK_PATTERN  # noqa: E402
from keras_seq2seq.export.loader import (  # noqa: E402
    SAVED_MODEL_CLI_WITH_TF_TEXT,
    Translator,
    load_translator,
)
from keras_seq2seq.export.state import state_layout  # noqa: E402
from keras_seq2seq.export.writer import export_translator  # noqa: E402

__all__ = [
    "BLANK_PATTERN",
    "SAVED_MODEL_CLI_WITH_TF_TEXT",
    "Translator",
    "export_translator",
    "load_translator",
    "state_layout",
]
