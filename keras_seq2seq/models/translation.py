"""Strings in, detailed translations out: `Translation` and how `Seq2Seq` makes them."""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_seq2seq.text.tokenizers import END_ID, PAD_ID

__all__ = ["Translation", "translations_from_result"]


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
