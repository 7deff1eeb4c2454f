"""Ensembles: several trained `Seq2Seq` models decoding as one.

`Ensemble(models)` has the inference interface of a `Seq2Seq` (`generate`,
`translate`, `translate_full`, `n_best`, `score`, `score_ids`, and
`keras_seq2seq.export.export_translator`): at every step each member takes the same
previous token, and the ensemble's log-probabilities are the mean of the members'
log-softmaxed logits (renormalised by the decoders' own log-softmax: the normalised
geometric mean of the members' distributions); its attention is the mean of theirs.
Greedy, beam search, sampling and forced scoring all run over that one step function.

The members must share one source and one target vocabulary (the same tokenizers, or
tokenizers with the same vocabularies); their shapes may differ.
"""

import tensorflow as tf

from keras_seq2seq.models.inference import InferenceMixin

__all__ = ["Ensemble", "EnsembleDecoder"]


def _mean_log_probs(logits):
    return tf.add_n([tf.nn.log_softmax(tf.cast(x, tf.float32)) for x in logits]) / len(logits)


def _mean(tensors):
    return tf.add_n([tf.cast(x, tf.float32) for x in tensors]) / len(tensors)


class EnsembleDecoder:
    """The members' `AttentionDecoder`s stepped together (the `step_fn` contract of
    `keras_seq2seq.decoding`).

    The state is `{"member_0": state_0, "member_1": ...}`, each a member decoder's
    own state dict; the memory and initial RNN states it starts from are tuples with
    one entry a member.

    Args:
        decoders: the members' `AttentionDecoder`s.
    """

    def __init__(self, decoders):
        self.decoders = list(decoders)

    def _keys(self):
        return [f"member_{i}" for i in range(len(self.decoders))]

    def initial_step_state(self, memory, memory_mask=None, initial_state=None):
        """Each member's `initial_step_state` from its memory and states (tuples)."""
        states = initial_state or [None] * len(self.decoders)
        return {key: decoder.initial_step_state(m, memory_mask, s)
                for key, decoder, m, s in zip(self._keys(), self.decoders, memory, states)}

    def step(self, token_ids, state):
        """`(mean log-probabilities (batch, V), new state, mean attention (batch, Ts))`."""
        logits, attention, new_state = [], [], {}
        for key, decoder in zip(self._keys(), self.decoders):
            step_logits, new_state[key], weights = decoder.step(token_ids, state[key])
            logits.append(step_logits)
            attention.append(weights)
        return _mean_log_probs(logits), new_state, _mean(attention)

    def reorder_state(self, state, rows):
        """Each member's `reorder_state` (beam search)."""
        return {key: decoder.reorder_state(state[key], rows)
                for key, decoder in zip(self._keys(), self.decoders)}

    def __call__(self, decoder_input_ids, memory, memory_mask=None, initial_state=None,
                 training=False, return_attention=False):
        """Teacher-forced mean log-probabilities `(batch, T, V)` (forced scoring)."""
        states = initial_state or [None] * len(self.decoders)
        logits, attention = [], []
        for decoder, m, s in zip(self.decoders, memory, states):
            member_logits, weights = decoder(decoder_input_ids, m, memory_mask=memory_mask,
                                             initial_state=s, training=training,
                                             return_attention=True)
            logits.append(member_logits)
            attention.append(weights)
        log_probs = _mean_log_probs(logits)
        return (log_probs, _mean(attention)) if return_attention else log_probs


class Ensemble(InferenceMixin):
    """Trained `Seq2Seq` models that translate together.

    Args:
        models: two or more (one is allowed) built `keras_seq2seq.Seq2Seq` models
            with the same source and target vocabularies.
        max_decode_length: the default output cap. Defaults to the members' largest.

    Raises:
        ValueError: for no models, a member that is not a `Seq2Seq`, or members
            whose vocabulary sizes or tokenizer vocabularies differ (naming it).
    """

    def __init__(self, models, max_decode_length=None):
        from keras_seq2seq.models.seq2seq import Seq2Seq

        self.members = list(models)
        if not self.members:
            raise ValueError("`models` must hold at least one Seq2Seq. Received: []")
        first = self.members[0]
        for i, model in enumerate(self.members):
            if not isinstance(model, Seq2Seq):
                raise ValueError(f"`models[{i}]` must be a keras_seq2seq.Seq2Seq. "
                                 f"Received: {type(model).__name__}")
            sizes = (model.source_vocabulary_size, model.target_vocabulary_size)
            if sizes != (first.source_vocabulary_size, first.target_vocabulary_size):
                raise ValueError(
                    f"`models[{i}]` has vocabulary sizes {sizes} (source, target); "
                    f"models[0] has {(first.source_vocabulary_size, first.target_vocabulary_size)}."
                    " An ensemble's members share one vocabulary on each side.")
            for side in ("source_tokenizer", "target_tokenizer"):
                mine, theirs = getattr(model, side), getattr(first, side)
                if (mine is None) != (theirs is None) or (
                        mine is not None and mine is not theirs
                        and mine.get_vocabulary() != theirs.get_vocabulary()):
                    raise ValueError(
                        f"`models[{i}]`'s {side} has another vocabulary than "
                        "models[0]'s: an ensemble's members must share their tokenizers.")
        self.source_tokenizer = first.source_tokenizer
        self.target_tokenizer = first.target_tokenizer
        self.source_vocabulary_size = first.source_vocabulary_size
        self.target_vocabulary_size = first.target_vocabulary_size
        self.max_decode_length = int(max_decode_length or max(
            m.max_decode_length for m in self.members))
        self.decoder = EnsembleDecoder([m.decoder for m in self.members])
        self._generate_functions = {}

    @classmethod
    def load(cls, paths, **kwargs):
        """An ensemble of the `.keras` files at `paths` (`keras_seq2seq.saving.load_model`)."""
        from keras_seq2seq import saving

        return cls([saving.load_model(path) for path in paths], **kwargs)

    def encode_source(self, source_ids, training=None):
        """`(memories, memory_mask, states)`: the members' memories and decoder
        states as tuples, and the source mask."""
        outputs = [m.encode_source(source_ids, training=training) for m in self.members]
        return (tuple(o[0] for o in outputs), outputs[0][1], tuple(o[2] for o in outputs))

    @property
    def variables(self):
        return [v for m in self.members for v in m.variables]

    @property
    def trainable_variables(self):
        return [v for m in self.members for v in m.trainable_variables]

    @property
    def non_trainable_variables(self):
        return [v for m in self.members for v in m.non_trainable_variables]

    def __len__(self):
        return len(self.members)
