"""Text-level translation, written once: strings in, strings (or details) out.

`TextTranslator(model)` wraps a model that has `source_tokenizer`,
`target_tokenizer` and `generate(source_ids, ...)` (a `keras_seq2seq.Seq2Seq`). It
drops blank inputs (they translate to ""), tokenizes, decodes in batches and
detokenizes; `translate`, `translate_full` (tokens, scores, attention), `n_best`
(several beam hypotheses) and `[UNK]` replacement all go through one loop;
`score` (forced decoding of given pairs) has its own.
`Seq2Seq.translate` / `translate_full`, the CLI, the demo and the config trainer
call it.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from keras_seq2seq.constants import END_ID, PAD_ID, UNK_ID

__all__ = ["TextTranslator", "Translation", "translations_from_result"]


@dataclasses.dataclass
class Translation:
    """One translated sentence with what the decoder saw and chose.

    Attributes:
        text: the translation (`str`, detokenized; "" for an empty input).
        tokens: the output tokens (`list` of `str`), `[END]` included when the
            decoder produced it (so they label the rows of `attention`).
        source_tokens: the source tokens (`list` of `str`, no padding).
        score: the hypothesis score (`float`): the sum of the log-probabilities of
            the tokens for greedy decoding and sampling; for beam search the score
            the search ranked by (length and coverage penalties included).
        attention: float32 `(len(tokens), len(source_tokens))`, the attention
            weights of each output token over the source tokens.
    """

    text: str
    tokens: list
    source_tokens: list
    score: float
    attention: np.ndarray


def _token_table(tokenizer, ids):
    """`(batch, length)` numpy array of `str` tokens, one vocabulary lookup in all."""
    tokens = tokenizer.id_to_token(tf.constant(ids, tf.int32)).numpy()
    return np.vectorize(lambda t: t.decode("utf-8"), otypes=[object])(tokens)


def translations_from_result(source_ids, result, beam, source_tokenizer,
                             target_tokenizer):
    """Per-sentence `Translation`s from a `generate` result.

    Args:
        source_ids: int `(batch, S)` source ids (0-padded), as given to `generate`.
        result: the `DecodeResult` (greedy, sampling) or `BeamSearchResult`.
        beam: whether `result` has a hypothesis axis (its first hypothesis is used).
        source_tokenizer: the model's source tokenizer (`id_to_token`).
        target_tokenizer: the model's target tokenizer (`detokenize`,
            `id_to_token`).

    Returns:
        A list of `Translation`, one per row of `source_ids`.
    """
    pick = (lambda x: x[:, 0]) if beam else (lambda x: x)
    output_ids = pick(result.ids)
    lengths = pick(result.lengths).numpy()
    scores = pick(result.scores).numpy()
    attention = pick(result.attention).numpy()
    texts = [t.decode("utf-8") for t in
             target_tokenizer.detokenize(output_ids).numpy().tolist()]
    source_ids = np.asarray(source_ids)
    output_ids = output_ids.numpy()
    source_tokens = _token_table(source_tokenizer, source_ids)
    target_tokens = _token_table(target_tokenizer, output_ids)
    translations = []
    for row, text in enumerate(texts):
        source = source_ids[row] != PAD_ID
        length = int(lengths[row])
        if length < output_ids.shape[1] and output_ids[row, length] == END_ID:
            length += 1                                   # [END] labels a row too
        translations.append(Translation(
            text=text,
            tokens=target_tokens[row, :length].tolist(),
            source_tokens=source_tokens[row][source].tolist(),
            score=float(scores[row]),
            attention=attention[row, :length, :int(source.sum())].astype("float32"),
        ))
    return translations


def _as_text(text, index, name="texts"):
    """A str from a str or UTF-8 bytes; anything else is a clear error."""
    if isinstance(text, str):
        return text
    if isinstance(text, bytes):
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(
                f"{name}[{index}] is not valid UTF-8 ({error.reason} at byte "
                f"{error.start}). Decode it with the right encoding first, or pass "
                "str.") from None
    raise ValueError(
        f"{name}[{index}] must be a str (or UTF-8 bytes). Received: "
        f"{type(text).__name__}")


def _checked_batch_size(batch_size):
    """`batch_size` if it is a positive int or None; else a clear error."""
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"`batch_size` must be a positive int or None. Received: "
                         f"batch_size={batch_size!r}")
    return batch_size


def _strings(tensor):
    return [t.decode("utf-8") for t in np.asarray(tensor).reshape(-1).tolist()]


class TextTranslator:
    """Translates strings with a model's tokenizers and `generate`.

    Args:
        model: a `keras_seq2seq.Seq2Seq` with `source_tokenizer` and
            `target_tokenizer` set.
    """

    def __init__(self, model):
        self.model = model

    # ---------------------------------------------------------------- public
    def source_ids(self, texts):
        """int32 `(len(texts), Ts)` source ids of non-blank `texts`, 0-padded."""
        ids = self.model.source_tokenizer.tokenize(tf.constant(list(texts)))
        return ids.to_tensor() if isinstance(ids, tf.RaggedTensor) else ids

    def translate(self, texts, max_length=None, method="greedy", replace_unknown=False,
                  batch_size=None, verbose=0, **options):
        """Translations as strings; see `Seq2Seq.translate` for the arguments.

        Returns:
            A list of str (one str when `texts` is a str); "" for blank inputs.
        """
        def strings(ids, result):
            output_ids = self._best(result.ids, method)
            if replace_unknown:
                return self.replace_unknown(ids, output_ids,
                                            self._best(result.attention, method))
            return _strings(self.model.target_tokenizer.detokenize(output_ids))

        return self._over_texts("translate", texts, strings, "", batch_size, verbose,
                                max_length=max_length, method=method, **options)

    def translate_full(self, texts, max_length=None, method="greedy", batch_size=None,
                       verbose=0, **options):
        """`Translation`s (text, tokens, score, attention); see `Seq2Seq.translate_full`.

        Returns:
            A list of `Translation` (one when `texts` is a str); an empty one (score
            0, attention `(0, 0)`) for blank inputs.
        """
        def details(ids, result):
            return translations_from_result(
                ids.numpy(), result, method == "beam", self.model.source_tokenizer,
                self.model.target_tokenizer)

        return self._over_texts(
            "translate_full", texts, details,
            lambda: Translation("", [], [], 0.0, np.zeros((0, 0), "float32")),
            batch_size, verbose, max_length=max_length, method=method, **options)

    def n_best(self, texts, k, beam_width=None, max_length=None, batch_size=None,
               verbose=0, **options):
        """The `k` best beam hypotheses of each text.

        Args:
            texts: a str or a list of str.
            k: int >= 1, hypotheses per text.
            beam_width: the beam (>= k). Defaults to `k`.
            max_length, batch_size, verbose, **options: as in `translate` (beam
                options: `length_penalty`, `coverage_penalty`, `min_length`, ...).

        Returns:
            For each text a list of `(translation, score)` pairs, best first
            (finished hypotheses only; `[]` for a blank text). One list when
            `texts` is a str.
        """
        beam_width = k if beam_width is None else max(beam_width, k)

        def hypotheses(ids, result):
            rows, width = result.ids.shape[0], result.ids.shape[1]
            flat = tf.reshape(result.ids, [-1, tf.shape(result.ids)[-1]])
            texts_ = np.array(_strings(self.model.target_tokenizer.detokenize(flat)),
                              dtype=object).reshape(rows, width)
            scores = result.scores.numpy()
            return [[(texts_[row, j], float(scores[row, j])) for j in range(width)
                     if scores[row, j] > float("-inf")] for row in range(rows)]

        return self._over_texts("n_best", texts, hypotheses, list, batch_size,
                                verbose, max_length=max_length, method="beam",
                                beam_width=beam_width, num_return=k, **options)

    def score(self, sources, targets, length_normalize=False, batch_size=None,
              verbose=0):
        """Forced-decoding scores of (source, target) pairs; see `Seq2Seq.score`.

        Returns:
            A list of `keras_seq2seq.models.scoring.Score` (one for a str).
        """
        from keras_seq2seq.models.scoring import Score

        model = self.model
        self._require_tokenizers("score")
        single = isinstance(sources, (str, bytes))
        if single != isinstance(targets, (str, bytes)):
            raise ValueError(
                "score() takes a str source with a str target, or two lists. "
                f"Received: sources={type(sources).__name__}, "
                f"targets={type(targets).__name__}")
        sources = [_as_text(text, i, "sources") for i, text in
                   enumerate([sources] if single else sources)]
        targets = [_as_text(text, i, "targets") for i, text in
                   enumerate([targets] if single else targets)]
        if len(sources) != len(targets):
            raise ValueError(
                f"score() needs one target per source. Received {len(sources)} "
                f"sources and {len(targets)} targets")
        size = _checked_batch_size(batch_size) or max(1, len(sources))
        progress = keras.utils.Progbar(len(sources), unit_name="pair",
                                       verbose=1 if verbose else 0)
        scores = []
        for start in range(0, len(sources), size):
            source_ids = self.source_ids(sources[start:start + size])
            target_ids = model.target_tokenizer.tokenize(
                tf.constant(targets[start:start + size]))
            if isinstance(target_ids, tf.RaggedTensor):
                target_ids = target_ids.to_tensor()
            found = {name: value.numpy() for name, value in
                     model.score_ids(source_ids, target_ids).items()}
            source_ids = source_ids.numpy()
            source_tokens = _token_table(model.source_tokenizer, source_ids)
            target_tokens = _token_table(model.target_tokenizer, found["labels"])
            for row in range(source_ids.shape[0]):
                length = int(found["lengths"][row])
                kept = source_ids[row] != PAD_ID
                log_prob = float(found["log_probs"][row])
                scores.append(Score(
                    score=log_prob / length if length_normalize else log_prob,
                    log_prob=log_prob,
                    tokens=target_tokens[row, :length].tolist(),
                    source_tokens=source_tokens[row][kept].tolist(),
                    token_log_probs=found["token_log_probs"][row, :length],
                    attention=found["attention"][row, :length,
                                                 :source_ids.shape[1]][:, kept],
                ))
            progress.add(len(source_ids))
        return scores[0] if single else scores

    def replace_unknown(self, source_ids, output_ids, attention):
        """Detokenizes with each `[UNK]` replaced by its most attended source token.

        Luong et al. (2015)'s rare-word trick; subword markers ("▁", "##") are
        stripped from the copied token.

        Args:
            source_ids: int `(batch_size, Ts)`.
            output_ids: int `(batch_size, T)`, `[END]` kept and 0 after it.
            attention: float `(batch_size, T, Ts)`.

        Returns:
            A list of `batch_size` strings.
        """
        from keras_seq2seq.text import CharacterTokenizer

        target = self.model.target_tokenizer
        separator = "" if isinstance(target, CharacterTokenizer) else " "
        source_tokens = self.model.source_tokenizer.id_to_token(source_ids).numpy()
        source_ids, output_ids = np.asarray(source_ids), np.asarray(output_ids)
        attention = np.asarray(attention)

        def detokenized(segment):
            return _strings(target.detokenize(tf.constant([segment], tf.int32)))[0]

        texts = []
        for row, ids in enumerate(output_ids):
            parts, segment = [], []
            for t, token in enumerate(ids):
                if token in (END_ID, PAD_ID):
                    break
                if token != UNK_ID:
                    segment.append(token)
                    continue
                if segment:
                    parts.append(detokenized(segment))
                    segment = []
                position = int(np.argmax(attention[row, t, :source_ids.shape[1]]))
                word = source_tokens[row, position].decode("utf-8")
                parts.append(word.replace("\u2581", "").replace("##", "").strip())
            if segment:
                parts.append(detokenized(segment))
            texts.append(separator.join(part for part in parts if part))
        return texts

    def _require_tokenizers(self, caller):
        if self.model.source_tokenizer is None or self.model.target_tokenizer is None:
            raise ValueError(
                f"{caller}() needs the model's source_tokenizer and target_tokenizer. "
                "Pass them to Seq2Seq(...), or tokenize yourself and call "
                "model.generate(source_ids) / model.score_ids(source_ids, target_ids).")

    # ---------------------------------------------------------------- the one loop
    @staticmethod
    def _best(values, method):
        """The best hypothesis of a beam result (its axis 1); other results as they are."""
        return values[:, 0] if method == "beam" else values

    def _over_texts(self, caller, texts, decode_batch, blank, batch_size, verbose,
                    **generate_options):
        """Runs `decode_batch(source_ids, result) -> list` over the non-blank texts.

        Args:
            caller: the public method's name, for messages.
            texts: a str (or bytes) or a list of them.
            decode_batch: turns a batch's source ids and `generate` result into one
                output per row.
            blank: the output of a blank text, or a callable making a fresh one.
            batch_size: sentences per `generate` call (None: all at once).
            verbose: 1 shows a progress bar over the sentences.
            **generate_options: `generate`'s arguments.

        Returns:
            A list with one output per text (the output itself for a str).
        """
        batch_size = _checked_batch_size(batch_size)
        model = self.model
        self._require_tokenizers(caller)
        single = isinstance(texts, (str, bytes))
        batch = [_as_text(text, i) for i, text in enumerate([texts] if single else texts)]
        size = batch_size or max(1, len(batch))
        progress = keras.utils.Progbar(len(batch), unit_name="sentence",
                                       verbose=1 if verbose else 0)
        outputs = []
        for start in range(0, len(batch), size):
            chunk = batch[start:start + size]
            found = [blank() if callable(blank) else blank for _ in chunk]
            keep = [i for i, text in enumerate(chunk) if text.strip()]
            if keep:
                ids = self.source_ids([chunk[i] for i in keep])
                result = model.generate(ids, **generate_options)
                for i, output in zip(keep, decode_batch(ids, result)):
                    found[i] = output
            outputs.extend(found)
            progress.add(len(chunk))
        return outputs[0] if single else outputs
