"""The configuration keys that `keras-seq2seq train --help` lists, without TensorFlow.

`keras_seq2seq.config.describe_keys()` is the one source: it prints `config.SCHEMA`,
whose `[model]` keys, defaults and choices come from the `Seq2Seq` constructor and the
modules that define them, so computing it imports TensorFlow (seconds). `TEXT` is its
output, generated, so that `--help` answers at once. After changing a configuration
key, a constructor default or a choice, regenerate this file with
`python -m keras_seq2seq.cli.config_keys`;
`tests/test_cli_help.py::test_config_keys_text_is_describe_keys` fails until then.
"""

TEXT = """\
  data.format: corpus layout: one TSV file or two aligned files; one of: tsv,
      parallel (default "tsv")
  data.path: tsv: the corpus file (required with format tsv); a path (string)
  data.source_column: tsv: source column (0-based); an integer >= 0 (default 0)
  data.target_column: tsv: target column (0-based); an integer >= 0 (default 1)
  data.source_file: parallel: source file (required); a path (string)
  data.target_file: parallel: target file (required); a path (string)
  data.direction: reverse swaps source and target; one of: forward, reverse
      (default "forward")
  data.on_error: bad corpus lines: stop or drop them; one of: raise, skip
      (default "raise")
  data.max_pairs: use only the first N pairs; an integer >= 1
  data.validation_split: share of pairs held out for validation; a number in
      [0, 1) (default 0.0)
  data.max_source_length: drop longer sources (tokens); an integer >= 1
  data.max_target_length: drop longer targets (tokens + 1); an integer >= 2
  data.validation_source_file: validation pairs from two aligned files (instead
      of validation_split); a path (string)
  data.validation_target_file: the validation targets; a path (string)
  tokenizer.type: tokenizer of both sides; one of: sentencepiece, wordpiece,
      word, character (default "sentencepiece")
  tokenizer.source_vocabulary_size: source vocabulary size; an integer >= 5
      (default 8000)
  tokenizer.target_vocabulary_size: target vocabulary size; an integer >= 5
      (default 8000)
  tokenizer.lowercase: case fold both sides; true or false (default false)
  tokenizer.joint: one tokenizer trained on both sides' text
      (source_vocabulary_size tokens); true or false (default false)
  model.embedding_dim: an integer >= 1 (default 128)
  model.units: decoder RNN size; an integer >= 1 (default 256)
  model.encoder_units: encoder RNN size per direction; an integer >= 1
  model.num_layers: an integer >= 1 (default 1)
  model.cell_type: one of: lstm, gru (default "lstm")
  model.bidirectional: true or false (default false)
  model.attention: attention score; one of: general, dot, concat (default
      "general")
  model.attention_units: an integer >= 1
  model.attention_depth: an integer >= 1 (default 1)
  model.attention_scale: true or false (default false)
  model.local_attention: local attention (default: global); one of: monotonic,
      predictive
  model.attention_window: half-width of the local window; an integer >= 0
      (default 10)
  model.input_feeding: true or false (default false)
  model.deep_output: the attentional layer also sees the embedded previous
      token; true or false (default false)
  model.attentional_activation: what the attentional layer h̃ = W_c[c; h]
      passes through (linear: no tanh); one of: tanh, linear (default "tanh")
  model.dropout: a number in [0, 1) (default 0.0)
  model.tie_embeddings: tie the output projection to the target embedding (true
      or "target"), and the source embedding too ("all": needs
      tokenizer.joint); true, false or one of: target, all (default false)
  model.label_smoothing: a number in [0, 1) (default 0.0)
  model.max_decode_length: an integer >= 1 (default 100)
  training.batch_size: an integer >= 1 (default 64)
  training.epochs: an integer >= 1 (default 10)
  training.learning_rate: a number > 0 (default 0.001)
  training.clipnorm: a number > 0
  training.minutes: wall-clock training budget of this run (TimeBudget); a
      number > 0
  training.warmdown: decay the learning rate linearly to 5% over this last
      fraction of the minutes (TimeWarmdown; needs minutes); a number in [0, 1]
      (default 0.0)
  training.ema: decay of a moving average of the weights that is validated,
      checkpointed and saved (WeightAverage); 0: off; a number in [0, 1)
      (default 0.0)
  training.token_budget: tokens per batch, per length bucket, instead of
      batch_size pairs; an integer >= 1
  training.validation_bleu: validation sentences translated for val_bleu and
      val_chrf each epoch; 0: none; an integer >= 0 (default 0)
  training.keep: the model saved and exported: the last epoch's, or the best by
      val_bleu (needs validation_bleu); one of: last, best (default "last")
  training.seed: an integer >= 0 (default 0)
  training.bucketing: length-bucketed batches; true or false (default false)
  training.precision: dtype policy; auto: mixed_bfloat16 on a CPU with native
      bfloat16, else float32; one of: auto, float32, mixed_bfloat16,
      mixed_float16 (default "float32")
  training.teacher_forcing: ratio schedule: a number or {name=..., ...}; a
      ratio in [0, 1] or a table such as { name = "inverse_sigmoid", k = 500 }
      (default 1.0)
  training.teacher_forcing_granularity: one of: batch, token (default "batch")
  training.teacher_forcing_feedback: one of: argmax, sample (default "argmax")
  training.teacher_forcing_mode: one of: sequential, parallel (default
      "sequential")
  training.parallel_passes: an integer >= 1 (default 1)
  output.dir: output folder; a path (string) (default "train_output")
  output.export: write the SavedModel export; true or false (default true)
  output.export_beam_width: beam width of the export; an integer >= 1
  output.export_max_length: output cap of the export; an integer >= 1
  output.attention_images: attention heat map per epoch in TensorBoard; true or
      false (default true)"""

def write():
    """Rewrites `TEXT` in this file from `config.describe_keys()` (imports TensorFlow).

    Returns:
        Whether the file changed.
    """
    import pathlib
    import re

    from keras_seq2seq.config import describe_keys

    text = describe_keys()
    if '"""' in text or "\\" in text:
        raise ValueError("describe_keys() has a triple quote or a backslash: write "
                         "TEXT another way")
    path = pathlib.Path(__file__)
    source = path.read_text(encoding="utf-8")
    updated = re.sub(r'^TEXT = """\\\n.*?"""$', lambda _: f'TEXT = """\\\n{text}"""',
                     source, count=1, flags=re.DOTALL | re.MULTILINE)
    if updated != source:
        path.write_text(updated, encoding="utf-8")
    return updated != source


if __name__ == "__main__":
    print(f"{__file__}: {'updated' if write() else 'already current'}")
