"""`WordPieceTokenizer` and the wordpiece vocabulary learner it trains with.

Words are split like `WordTokenizer`'s, then cut into pieces by
`tf_text.FastWordpieceTokenizer`; `from_texts` counts the words of a corpus with
the same split and learns the pieces with tensorflow-text's wordpiece learner.
"""

import tensorflow as tf

from keras_seq2seq._serialization import register
from keras_seq2seq.constants import RESERVED_TOKENS, UNK_TOKEN
from keras_seq2seq.text.tokenizers._graph import tf_text
from keras_seq2seq.text.tokenizers._texts import count_tokens
from keras_seq2seq.text.tokenizers.base import Tokenizer
from keras_seq2seq.text.tokenizers.vocabulary import word_split


def _learn_wordpiece_vocabulary(
    word_counts, vocabulary_size, min_frequency, suffix, max_unique_characters
):
    """Wordpiece vocabulary from word counts, with tensorflow-text's learner.

    Uses the steps of `wordpiece_tokenizer_learner_lib.learn` (the engine of
    `bert_vocab_from_dataset`) with our own binary search for the count threshold:
    `learn` caps the threshold at the largest *word* count (on small corpora, where
    every word is rare, it keeps whole words) and may end on a vocabulary larger than
    `vocabulary_size`; here the result never exceeds `vocabulary_size` unless the
    characters alone do. Falls back to a frequency-based vocabulary (every
    character, every character as a suffix piece, then the most frequent words) if
    the learner cannot be imported.
    """
    try:
        from tensorflow_text.tools.wordpiece_vocab import (
            wordpiece_tokenizer_learner_lib as learner,
        )
    except ImportError:  # pragma: no cover - shipped with tensorflow-text 2.21
        learner = None
    reserved = list(RESERVED_TOKENS)
    if learner is not None:
        max_token_length = 50
        params = learner.Params(
            upper_thresh=None,
            lower_thresh=None,
            num_iterations=4,
            max_input_tokens=-1,
            max_token_length=max_token_length,
            max_unique_chars=max_unique_characters,
            vocab_size=vocabulary_size,
            slack_ratio=0.05,
            include_joiner_token=True,
            joiner=suffix,
            reserved_tokens=reserved,
        )
        counts = sorted(word_counts.items(), key=lambda item: (-item[1], item[0]))
        counts = learner.get_input_words(counts, reserved, max_token_length)
        allowed = learner.get_allowed_chars(counts, max_unique_characters)
        counts = learner.filter_input_words(counts, allowed, -1)
        if not counts:
            raise ValueError("No words to learn a wordpiece vocabulary from.")
        # Smallest count threshold whose vocabulary fits (the size falls as the
        # threshold rises): double the threshold until it fits, then bisect; stop
        # early inside the learner's 5% slack.
        total = max(1, sum(count for _, count in counts))

        def fits(candidate):
            return len(candidate) <= vocabulary_size

        def close_enough(candidate):
            return len(candidate) >= (1 - params.slack_ratio) * vocabulary_size

        threshold = max(1, int(min_frequency))
        failed = threshold - 1  # the largest threshold known not to fit
        vocabulary = learner.learn_with_thresh(counts, threshold, params)
        while not fits(vocabulary) and threshold <= total:
            failed, threshold = threshold, threshold * 2
            vocabulary = learner.learn_with_thresh(counts, threshold, params)
        low, high = failed + 1, threshold - 1
        while fits(vocabulary) and not close_enough(vocabulary) and low <= high:
            middle = (low + high) // 2
            candidate = learner.learn_with_thresh(counts, middle, params)
            if fits(candidate):
                vocabulary, high = candidate, middle - 1
            else:
                low = middle + 1
        # (If nothing fits, the characters alone exceed vocabulary_size: keep them.)
    else:  # pragma: no cover
        chars = sorted({c for word in word_counts for c in word})
        words = [w for w, c in word_counts.items() if c >= min_frequency and len(w) > 1]
        words.sort(key=lambda w: (-word_counts[w], w))
        base = chars + [suffix + c for c in chars]
        room = max(0, vocabulary_size - len(RESERVED_TOKENS) - len(base))
        vocabulary = reserved + base + words[:room]
    # The learner puts the reserved tokens first; make the order exact and unique.
    rest = [t for t in vocabulary if t not in RESERVED_TOKENS]
    return reserved + list(dict.fromkeys(rest))


@register
class WordPieceTokenizer(Tokenizer):
    """Words split like `WordTokenizer`, then `tf_text.FastWordpieceTokenizer` pieces.

    A word that cannot be covered by pieces (a character outside the vocabulary)
    becomes a single `[UNK]`. `detokenize` glues `##` pieces to the previous piece and
    joins words with spaces, giving the same text as `WordTokenizer.detokenize`.

    Args:
        vocabulary: wordpiece tokens starting with the 4 reserved ones (continuation
            pieces prefixed with `suffix_indicator`), or a vocabulary file path;
            `None` to set it later.
        lowercase: case fold (keeps accents).
        normalization: Unicode normalisation form, "NFKC" by default.
        suffix_indicator: prefix of continuation pieces.
        max_bytes_per_word: longer words become `[UNK]`.
    """

    def __init__(
        self,
        vocabulary=None,
        lowercase=False,
        normalization="NFKC",
        suffix_indicator="##",
        max_bytes_per_word=100,
        **kwargs,
    ):
        super().__init__(lowercase=lowercase, normalization=normalization, **kwargs)
        if not suffix_indicator or "\\E" in suffix_indicator:
            raise ValueError(
                "suffix_indicator must be a non-empty string without '\\E'."
            )
        self.suffix_indicator = suffix_indicator
        self.max_bytes_per_word = int(max_bytes_per_word)
        self._wordpiece = None
        self._set_vocabulary_argument(vocabulary)

    def _on_vocabulary_set(self):
        self._wordpiece = tf_text().FastWordpieceTokenizer(
            vocab=list(self._vocabulary),
            suffix_indicator=self.suffix_indicator,
            max_bytes_per_word=self.max_bytes_per_word,
            token_out_type=tf.int32,
            unknown_token=UNK_TOKEN,
            no_pretokenization=True,
        )

    def _encode(self, normalized):
        words = word_split(normalized)  # (batch, words)
        pieces = self._wordpiece.tokenize(words)  # (batch, words, pieces)
        return pieces.merge_dims(1, 2)

    def _decode(self, ids):
        suffix = self.suffix_indicator.encode("utf-8")
        prefix_pattern = "^\\Q" + self.suffix_indicator + "\\E"  # RE2 literal quoting

        def glue(tokens):
            is_suffix = tf.equal(tf.strings.substr(tokens, 0, len(suffix)), suffix)
            stripped = tf.strings.regex_replace(tokens, prefix_pattern, "")
            return tf.where(is_suffix, stripped, tf.strings.join([" ", tokens]))

        pieces = tf.ragged.map_flat_values(glue, self.id_to_token(ids))
        text = tf.strings.reduce_join(pieces, axis=-1)
        return tf.strings.regex_replace(text, "^ ", "")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "suffix_indicator": self.suffix_indicator,
                "max_bytes_per_word": self.max_bytes_per_word,
            }
        )
        return config

    @classmethod
    def from_texts(
        cls,
        texts,
        vocabulary_size=8000,
        min_frequency=1,
        lowercase=False,
        normalization="NFKC",
        max_unique_characters=1000,
        **kwargs,
    ):
        """Learns a wordpiece vocabulary from texts.

        Words are counted with the same split as `tokenize`, then the vocabulary is
        learned with tensorflow-text's wordpiece learner
        (`tensorflow_text.tools.wordpiece_vocab.wordpiece_tokenizer_learner_lib`, the
        engine of `bert_vocab_from_dataset`; that tool's own BERT pre-split is not
        used, so that learning and tokenizing split words the same way). The count
        threshold is binary-searched so that the vocabulary has at most
        `vocabulary_size` tokens, within 5%, unless the characters alone (each as a
        word start and as a `##` piece) need more.

        Args:
            texts: a list of str, a `tf.data.Dataset` of strings, or file path(s).
            vocabulary_size: target size, reserved ids included.
            min_frequency: lower bound of the learner's count threshold.
            max_unique_characters: the alphabet: words with a character outside the
                most frequent `max_unique_characters` are not learned (they become
                `[UNK]` when tokenized).
            lowercase: case fold (keeps accents).
            normalization: Unicode normalisation form, "NFKC" by default.
            **kwargs: constructor arguments (`suffix_indicator`,
                `max_bytes_per_word`, `name`).

        Returns:
            The tokenizer.
        """
        tokenizer = cls(lowercase=lowercase, normalization=normalization, **kwargs)
        counts = count_tokens(texts, tokenizer.normalize, word_split)
        vocabulary = _learn_wordpiece_vocabulary(
            counts,
            vocabulary_size,
            min_frequency,
            tokenizer.suffix_indicator,
            max_unique_characters,
        )
        tokenizer._set_vocabulary(vocabulary)
        return tokenizer
