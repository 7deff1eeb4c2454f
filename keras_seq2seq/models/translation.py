"""Strings in, detailed translations out: `Translation` and how `Seq2Seq` makes them."""

import dataclasses

import numpy as np
import tensorflow as tf

PAD_ID, END_ID = 0, 3

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


def _token_strings(tokenizer, ids):
    return [token.decode("utf-8") for token in
            tokenizer.id_to_token(tf.constant(ids, tf.int32)).numpy().tolist()]


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
    translations = []
    for row, text in enumerate(texts):
        source = [int(i) for i in source_ids[row] if i != PAD_ID]
        length = int(lengths[row])
        ids = [int(i) for i in output_ids[row, :length]]
        if length < output_ids.shape[1] and output_ids[row, length] == END_ID:
            ids.append(END_ID)
        translations.append(Translation(
            text=text,
            tokens=_token_strings(target_tokenizer, ids) if ids else [],
            source_tokens=_token_strings(source_tokenizer, source) if source else [],
            score=float(scores[row]),
            attention=attention[row, :len(ids), :len(source)].astype("float32"),
        ))
    return translations
