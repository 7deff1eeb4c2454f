"""What a `Seq2Seq` does with a trained graph: encode, decode, translate.

`InferenceMixin` is the inference half of `keras_seq2seq.Seq2Seq` (the training
half, graph and config are in `models/seq2seq.py`): the step-state `encode`, the
traceable `search` and the cached, checked `generate` over `keras_seq2seq.decoding`,
forced decoding (`score_ids`, `models.scoring`), and the text-level `translate`,
`translate_full`, `n_best` and `score`, which hand over to
`models.translation.TextTranslator`.
"""

import tensorflow as tf

from keras_seq2seq.checks import check_positive_int
from keras_seq2seq.constants import END_ID, START_ID
from keras_seq2seq.decoding import get_decoder
from keras_seq2seq.decoding.common import pad_to_length_bucket

# `generate` keeps one traced function per decoding option set; the least recently
# used is dropped beyond this many (a server varying seeds or widths stays bounded).
GENERATE_CACHE_SIZE = 16


class InferenceMixin:
    """Inference methods of `Seq2Seq` and `Ensemble` (needs `decoder`, `encode_source`,
    `source_vocabulary_size`, `max_decode_length`, the tokenizers and a
    `_generate_functions` dict set by the model's constructor)."""

    def encode(self, source_ids):
        """Encodes source ids into the decoder's initial step state.

        Args:
            source_ids: int `(batch_size, Ts)`, padded with 0.

        Returns:
            The state dict of `AttentionDecoder.initial_step_state`, ready for
            `model.decoder.step(token_ids, state)`.
        """
        source_ids = _check_ids("source_ids", source_ids, self.source_vocabulary_size)
        memory, mask, states = self.encode_source(source_ids, training=False)
        return self.decoder.initial_step_state(memory, mask, states)

    def search(self, source_ids, max_length, method="greedy", **options):
        """The decoding `generate` runs, without its checks and function cache.

        For code that traces decoding into its own graph (the SavedModel export,
        a `tf.function` of yours): call it inside the trace.

        Args:
            source_ids: int32 `(batch_size, Ts)`, padded with 0.
            max_length: int or int32 scalar tensor, the output buffer size.
            method, **options: as in `generate`.

        Returns:
            As `generate`.
        """
        memory, mask, states = self.encode_source(source_ids, training=False)
        state = self.decoder.initial_step_state(memory, mask, states)
        batch_size = tf.shape(source_ids)[0]
        ratio = options.pop("max_length_ratio", None)
        offset = options.pop("max_length_offset", 0)
        max_lengths = None
        if ratio is not None:
            lengths = tf.reduce_sum(tf.cast(mask, tf.float32), axis=1)
            max_lengths = tf.cast(tf.math.ceil(ratio * lengths), tf.int32) + offset
        decoder = get_decoder(method)
        if method == "beam":
            options.setdefault("source_mask", mask)
            options.setdefault("reorder_state", self.decoder.reorder_state)
        return decoder(self.decoder.step, state, batch_size, start_id=START_ID,
                       end_id=END_ID, max_length=max_length, max_lengths=max_lengths,
                       **options)

    def generate(self, source_ids, max_length=None, method="greedy", jit_compile=False,
                 **options):
        """Translates source ids (free running, from `[START]` to `[END]`).

        Args:
            source_ids: int `(batch_size, Ts)`, padded with 0.
            max_length: output buffer size. Defaults to `max_decode_length`.
            method: "greedy", "beam" or "sample" (`keras_seq2seq.decoding`).
            jit_compile: run the search XLA-compiled, the sources padded to a
                multiple of 8 ids (`decoding.common.pad_to_length_bucket`; masked,
                so greedy and beam give the graph's tokens, and scores and attention
                within about 1e-5; sampling draws other numbers). XLA compiles one
                program per (batch size, length bucket, `max_length`): the first
                call of each takes about a second. On a CPU it about halves the
                time of a one-sentence call and is slower at batch 64
                (`benchmarks/README.md`). Defaults to False.
            **options: options of the decoder: `beam_width`, `length_penalty`,
                `coverage_penalty`, `num_return` (beam); `temperature`, `top_k`,
                `top_p`, `seed` (sample); `min_length` (all); and
                `max_length_ratio` a / `max_length_offset` b for per-sentence caps
                a·|source| + b.

        Returns:
            For greedy and sampling a `keras_seq2seq.decoding.DecodeResult`:
            `ids (batch_size, max_length)` with `[END]` kept and 0 after it,
            `lengths`, `scores`, `attention (batch_size, max_length, Ts)`. For beam
            search a `BeamSearchResult` with a hypothesis axis after the batch.
        """
        source_ids = _check_ids("source_ids", source_ids, self.source_vocabulary_size)
        max_length = self.max_decode_length if max_length is None else max_length
        check_positive_int("max_length", max_length)
        get_decoder(method)
        if not isinstance(jit_compile, bool):
            raise ValueError(f"`jit_compile` must be True or False. Received: "
                             f"jit_compile={jit_compile!r}")
        frozen = tuple(sorted(options.items()))
        # A string key: SavedModel tracking only walks dicts with string keys.
        key = f"{method}:{frozen!r}" + (":xla" if jit_compile else "")
        function = self._generate_functions.pop(key, None)
        if function is None:
            # autograph=False: the search is written with tf.while_loop / tf.cond
            # (the export traces it so too); converting its code was most of a first
            # call (benchmarks/first_call.py).
            function = tf.function(
                lambda ids, length: self.search(ids, length, method, **dict(frozen)),
                input_signature=[tf.TensorSpec([None, None], tf.int32),
                                 tf.TensorSpec([], tf.int32)],
                jit_compile=jit_compile or None, autograph=False)
            while len(self._generate_functions) >= GENERATE_CACHE_SIZE:
                self._generate_functions.pop(next(iter(self._generate_functions)))
        self._generate_functions[key] = function  # the most recently used last
        if not jit_compile:
            return function(source_ids, tf.constant(max_length, tf.int32))
        width = tf.shape(source_ids)[1]
        result = function(pad_to_length_bucket(source_ids),
                          tf.constant(max_length, tf.int32))
        return result._replace(attention=result.attention[..., :width])

    def score_ids(self, source_ids, target_ids):
        """Forced decoding: the log-probabilities of given target ids.

        Args:
            source_ids: int `(batch_size, Ts)`, padded with 0.
            target_ids: int `(batch_size, T)`, target tokens without `[START]` /
                `[END]`, padded with 0.

        Returns:
            A dict of tensors (`keras_seq2seq.models.scoring.forced_scores`):
            `token_log_probs (batch_size, T + 1)` (the target tokens, then
            `[END]`), `lengths`, `log_probs` (their sums), `labels`, `attention
            (batch_size, T + 1, Ts)`.
        """
        from keras_seq2seq.models.scoring import forced_scores

        source_ids = _check_ids("source_ids", source_ids, self.source_vocabulary_size)
        target_ids = _check_ids("target_ids", target_ids, self.target_vocabulary_size)
        if source_ids.shape[0] != target_ids.shape[0]:
            raise ValueError(
                "`source_ids` and `target_ids` must have the same batch size. "
                f"Received: {source_ids.shape[0]} and {target_ids.shape[0]} rows")
        function = self._generate_functions.pop("score", None)
        if function is None:
            function = tf.function(
                lambda ids, targets: forced_scores(self, ids, targets),
                input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2,
                autograph=False)
        self._generate_functions["score"] = function
        return function(source_ids, target_ids)

    def score(self, sources, targets, length_normalize=False, batch_size=None,
              verbose=0):
        """Scores given translations: per-sentence and per-token log-probabilities.

        Args:
            sources: a str or a list of str.
            targets: their translations (a str, or a list as long as `sources`).
            length_normalize: rank by the mean log-probability per token (`[END]`
                counted) instead of the sum. Defaults to False.
            batch_size: score `batch_size` pairs at a time. Defaults to None (all).
            verbose: 1 shows a progress bar. Defaults to 0.

        Returns:
            A list of `keras_seq2seq.models.scoring.Score` (`score`, `log_prob`,
            `tokens`, `source_tokens`, `token_log_probs`, `attention`); one for a
            str.
        """
        from keras_seq2seq.models.translation import TextTranslator

        return TextTranslator(self).score(sources, targets,
                                          length_normalize=length_normalize,
                                          batch_size=batch_size, verbose=verbose)

    def translate(self, texts, max_length=None, method="greedy", replace_unknown=False,
                  batch_size=None, verbose=0, **options):
        """Translates strings with the model's tokenizers.

        Args:
            texts: a str or a list of str (UTF-8 bytes are accepted too).
            max_length: output cap in tokens. Defaults to `max_decode_length`.
            method: "greedy", "beam" or "sample"; beam search returns its best
                hypothesis.
            replace_unknown: replace each `[UNK]` of the output with the source
                token its attention weights point to most at that step (Luong et
                al. 2015's rare-word trick; subword markers are stripped). Defaults
                to False.
            batch_size: translate `batch_size` sentences at a time (bounded memory
                for long lists). Defaults to None: all at once.
            verbose: 1 shows a Keras progress bar over the sentences (with
                `batch_size`, it moves after each batch). Defaults to 0.
            **options: decoder options, as in `generate`, and its `jit_compile`.

        Returns:
            A list of translated strings (one str when `texts` is a str). Empty or
            whitespace-only inputs give empty strings.
        """
        from keras_seq2seq.models.translation import TextTranslator

        return TextTranslator(self).translate(
            texts, max_length=max_length, method=method,
            replace_unknown=replace_unknown, batch_size=batch_size, verbose=verbose,
            **options)

    def translate_full(self, texts, max_length=None, method="greedy", batch_size=None,
                       verbose=0, **options):
        """Translates strings and returns tokens, scores and attention weights too.

        The in-memory counterpart of an export's `translate` endpoint
        (`keras_seq2seq.export.Translator.translate_full`).

        Args:
            texts: a str or a list of str (UTF-8 bytes are accepted too).
            max_length: output cap in tokens. Defaults to `max_decode_length`.
            method: "greedy", "beam" (its best hypothesis) or "sample".
            batch_size: translate `batch_size` sentences at a time. Defaults to None:
                all at once.
            verbose: 1 shows a Keras progress bar over the sentences. Defaults to 0.
            **options: decoder options, as in `generate`.

        Returns:
            A list of `keras_seq2seq.models.translation.Translation` (`text`,
            `tokens`, `source_tokens`, `score`, `attention` of shape
            `(len(tokens), len(source_tokens))`); one when `texts` is a str. An
            empty or whitespace-only input gives an empty `Translation` (score 0).
        """
        from keras_seq2seq.models.translation import TextTranslator

        return TextTranslator(self).translate_full(
            texts, max_length=max_length, method=method, batch_size=batch_size,
            verbose=verbose, **options)

    def n_best(self, texts, k, beam_width=None, max_length=None, batch_size=None,
               verbose=0, **options):
        """The `k` best beam-search hypotheses of each text, with their scores.

        Args:
            texts: a str or a list of str.
            k: int >= 1, hypotheses per text.
            beam_width: the beam width (at least `k`). Defaults to `k`.
            max_length, batch_size, verbose: as in `translate`.
            **options: beam options (`length_penalty`, `coverage_penalty`,
                `min_length`, `max_length_ratio`, ...).

        Returns:
            For each text a list of `(translation, score)` pairs, best first (only
            finished hypotheses; `[]` for a blank text); one list for a str.
        """
        from keras_seq2seq.models.translation import TextTranslator

        return TextTranslator(self).n_best(
            texts, k, beam_width=beam_width, max_length=max_length,
            batch_size=batch_size, verbose=verbose, **options)


def _check_ids(name, ids, vocabulary_size):
    """Converts to int32 and checks rank 2; eager values are range-checked."""
    ids = tf.convert_to_tensor(ids)
    if not ids.dtype.is_integer:
        raise ValueError(f"`{name}` must hold integer token ids. Received dtype={ids.dtype.name}")
    if ids.shape.rank != 2:
        raise ValueError(
            f"`{name}` must have shape (batch_size, length). Received: "
            f"{name}.shape={tuple(ids.shape)}")
    ids = tf.cast(ids, tf.int32)
    if tf.executing_eagerly() and tf.size(ids) > 0:
        low, high = int(tf.reduce_min(ids)), int(tf.reduce_max(ids))
        if low < 0 or high >= vocabulary_size:
            raise ValueError(
                f"`{name}` holds ids outside [0, {vocabulary_size}) (the vocabulary "
                f"size): min={low}, max={high}.")
    return ids
