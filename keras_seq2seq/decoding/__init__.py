"""Decoding strategies over a model's `step(token_ids, state)` function.

`DECODERS` maps the names `"greedy"`, `"beam"` and `"sample"` to `greedy_decode`,
`beam_search` and `sample_decode`; `get_decoder(name)` looks one up.
"""

from keras_seq2seq.decoding.beam_search import BeamSearchResult, beam_search
from keras_seq2seq.decoding.greedy import DecodeResult, greedy_decode
from keras_seq2seq.decoding.sampling import sample_decode

DECODERS = {
    "greedy": greedy_decode,
    "beam": beam_search,
    "sample": sample_decode,
}


def get_decoder(name):
    """The decoding function registered under `name` in `DECODERS`.

    Args:
        name: one of `"greedy"`, `"beam"`, `"sample"`.

    Returns:
        The decoding function.

    Raises:
        ValueError: for an unknown name; the message lists the valid ones.
    """
    try:
        return DECODERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown decoder {name!r}. Valid names: {', '.join(sorted(DECODERS))}"
        ) from None


__all__ = [
    "BeamSearchResult",
    "DECODERS",
    "DecodeResult",
    "beam_search",
    "get_decoder",
    "greedy_decode",
    "sample_decode",
]
