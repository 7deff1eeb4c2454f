"""The model behind the server: a `.keras` `Seq2Seq` or a SavedModel export, one
interface.

`load_backend(path, beam=None, jit_compile="auto")` returns a `KerasBackend` (a `.keras` file) or a
`SavedModelBackend` (a folder written by `keras_seq2seq.export.export_translator`).
Both answer the same calls, each on a whole batch of sentences (the server's batcher
gathers them from concurrent requests):

* `translate(texts)` -> `TranslateBatch`: the outputs of the export's `translate`
  signature (`translations`, `tokens`, `lengths`, `scores`, `attention`, ...) plus
  the token strings that label the attention heat map;
* `n_best(texts, k)` -> per text a list of `(translation, score)`;
* `score(sources, targets, length_normalize)` -> per pair a dict (forced decoding);
* `predict(signature_name, inputs)` for the other signatures of a SavedModel;
* `signature_defs()` (TensorFlow Serving's JSON of each `SignatureDef`) and
  `describe()` (vocabulary sizes, decoding settings, what is available).

A `.keras` model decodes with the method given at load time (greedy, or beam search
of width `beam`), a one-sentence batch XLA-compiled unless `jit_compile=False`
(`Seq2Seq.generate(jit_compile=True)`, as an export's `jit_compile="auto"`); an
export decodes as it was exported. Methods run TensorFlow: the
server calls them from its one model thread. A request the model cannot answer (an
n-best list from an export without one, a `k` above the exported one, a `score` the
installed package lacks) raises `BackendError`, which the server answers with
HTTP 400 and the message.
"""

import dataclasses
import json
import os

import numpy as np

from keras_seq2seq.constants import (
    END_ID,
    END_TOKEN,
    PAD_ID,
    UNK_ID,
    UNK_TOKEN,
    XLA_MAX_SOURCE_LENGTH,
)

__all__ = ["TEXT_SIGNATURES", "BackendError", "KerasBackend", "SavedModelBackend",
           "TranslateBatch", "load_backend"]

TEXT_SIGNATURES = ("serving_default", "translate")
"""The signatures that translate strings (`texts` -> `translations`, ...); the server
batches their requests together."""

# The axis of each translate output that runs over the source tokens (trimmed to a
# request's own longest source when a batch is split back into requests).
SOURCE_AXES = {"attention": 2, "source_tokens": 1}

_TRANSLATE_OUTPUTS = {  # name: (dtype, shape) of the export's translate signature
    "attention": ("DT_FLOAT", [-1, "L", -1]),
    "lengths": ("DT_INT32", [-1]),
    "scores": ("DT_FLOAT", [-1]),
    "source_lengths": ("DT_INT32", [-1]),
    "source_tokens": ("DT_STRING", [-1, -1]),
    "target_tokens": ("DT_STRING", [-1, "L"]),
    "tokens": ("DT_INT32", [-1, "L"]),
    "translations": ("DT_STRING", [-1]),
}


class BackendError(ValueError):
    """A request this model cannot answer (the message says why and what would)."""


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclasses.dataclass
class TranslateBatch:
    """The translations of a batch of sentences.

    Attributes:
        outputs: the translate signature's outputs, numpy arrays with the sentences
            on axis 0: `translations` (str objects) `(B,)`, `tokens` int32 `(B, L)`,
            `lengths` int32 `(B,)`, `scores` float32 `(B,)`, `attention` float32
            `(B, L, Ts)` (and whatever else the export returns).
        source_lengths: int `(B,)`, the source tokens of each sentence (0: blank).
        source_tokens: per sentence the source token strings (heat map columns).
        target_tokens: per sentence the output token strings, `[END]` included
            when produced (heat map rows).
    """

    outputs: dict
    source_lengths: np.ndarray
    source_tokens: list
    target_tokens: list

    def __len__(self):
        return len(self.source_lengths)

    def slice(self, start, stop):
        """Sentences `start:stop`, source axes trimmed to their longest source.

        So a request gets exactly what the model gives for its sentences alone (the
        export pads the source axis to the longest source of the call, at least 1).
        """
        lengths = self.source_lengths[start:stop]
        width = max(1, int(lengths.max()) if len(lengths) else 1)
        outputs = {}
        for name, value in self.outputs.items():
            part = value[start:stop]
            axis = SOURCE_AXES.get(name)
            if axis is not None and part.ndim > axis:
                index = [slice(None)] * part.ndim
                index[axis] = slice(0, width)
                part = part[tuple(index)]
            outputs[name] = part
        return TranslateBatch(outputs, lengths, self.source_tokens[start:stop],
                              self.target_tokens[start:stop])

    def rows(self):
        """Per sentence a dict: `text`, `score`, `tokens`, `source_tokens`,
        `attention` (`len(tokens)` rows of `len(source_tokens)` weights)."""
        found = []
        for row in range(len(self)):
            tokens, sources = self.target_tokens[row], self.source_tokens[row]
            attention = self.outputs["attention"][row, :len(tokens), :len(sources)]
            found.append({
                "text": _text(self.outputs["translations"][row]),
                "score": float(self.outputs["scores"][row]),
                "tokens": list(tokens),
                "source_tokens": list(sources),
                "attention": np.asarray(attention, np.float32),
            })
        return found


def _output_length(tokens, length):
    """Tokens that label rows: the tokens before `[END]`, and `[END]` if produced."""
    length = int(length)
    if length < len(tokens) and tokens[length] == END_ID:
        length += 1
    return length


def _tensor_info(name, dtype, shape):
    dims = [{"size": str(size), "name": ""} for size in shape]
    return {"name": name, "dtype": dtype,
            "tensor_shape": {"dim": dims, "unknown_rank": False}}


class _Backend:
    """What both backends share (see the module docstring)."""

    kind = None

    def __init__(self, path):
        self.path = os.path.abspath(path)

    def text_signatures(self):
        """The signature names that translate strings (batched by the server)."""
        return [name for name in TEXT_SIGNATURES if name in self.signature_defs()]

    def input_specs(self, signature_name):
        """`{input name: (numpy dtype, TensorFlow dtype name, shape list)}` of a
        signature (-1: any size)."""
        specs = {}
        types = {"DT_STRING": object, "DT_INT32": np.int32, "DT_INT64": np.int64,
                 "DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_BOOL": np.bool_}
        for name, info in self.signature_defs()[signature_name]["inputs"].items():
            shape = [int(d["size"]) for d in info["tensor_shape"]["dim"]]
            specs[name] = (types.get(info["dtype"], object), info["dtype"], shape)
        return specs

    def warm_up(self):
        """Runs one translation so the first request does not pay for tracing."""
        self.translate(["warm up"])


# --------------------------------------------------------------------- .keras model


class KerasBackend(_Backend):
    """A `.keras` `Seq2Seq` (with its tokenizers).

    Args:
        model: the loaded `keras_seq2seq.Seq2Seq`.
        path: where it was loaded from.
        beam: beam search of this width for `translate` (None: greedy decoding).
        jit_compile: True, False or "auto": decode a batch of one sentence (of at
            most `constants.XLA_MAX_SOURCE_LENGTH` ids) XLA-compiled; "auto"
            falls back to the graph, with a warning, where `warm_up` finds that XLA
            cannot compile the model. Defaults to "auto".
    """

    kind = "keras"

    def __init__(self, model, path, beam=None, jit_compile="auto"):
        super().__init__(path)
        self.model = model
        self.beam = beam
        self.jit_compile = jit_compile
        self.max_length = int(model.max_decode_length)
        self.options = ({"method": "beam", "beam_width": int(beam)} if beam
                        else {"method": "greedy"})
        self._signature_defs = None

    def describe(self):
        method = self.options["method"]
        return {
            "kind": self.kind,
            "path": self.path,
            "source_vocabulary_size": int(self.model.source_vocabulary_size),
            "target_vocabulary_size": int(self.model.target_vocabulary_size),
            "decoding": {"method": method, "beam_width": self.beam,
                         "max_length": self.max_length, "options": {},
                         "jit_compile": bool(self.jit_compile)},
            "n_best": {"available": True, "max_k": None,
                       "note": "beam search of width max(k, --beam)"},
            "score": {"available": hasattr(self.model, "score")},
        }

    def signature_defs(self):
        """The `serving_default` and `translate` signatures an export of this model
        has, in TensorFlow Serving's JSON (same inputs, outputs, dtypes, shapes)."""
        if self._signature_defs is None:
            self._signature_defs = {}
            for signature in TEXT_SIGNATURES:
                outputs = {}
                for index, (name, (dtype, shape)) in enumerate(
                        sorted(_TRANSLATE_OUTPUTS.items())):
                    shape = [self.max_length if d == "L" else d for d in shape]
                    outputs[name] = _tensor_info(f"StatefulPartitionedCall:{index}",
                                                 dtype, shape)
                self._signature_defs[signature] = {
                    "inputs": {"texts": _tensor_info(f"{signature}_texts:0",
                                                     "DT_STRING", [-1])},
                    "outputs": outputs,
                    "method_name": "tensorflow/serving/predict",
                    "defaults": {},
                }
        return self._signature_defs

    def translate(self, texts):
        """Translates a batch as the export's `translate` signature would.

        Args:
            texts: a list of str.

        Returns:
            A `TranslateBatch`.
        """
        import tensorflow as tf

        from keras_seq2seq.models.translation import (
            TextTranslator,
            translations_from_result,
        )

        batch, length = len(texts), self.max_length
        keep = [row for row, text in enumerate(texts) if text.strip()]
        model = self.model
        ids = (TextTranslator(model).source_ids([texts[row] for row in keep]).numpy()
               if keep else np.zeros((0, 1), np.int32))
        width = max(1, ids.shape[1])
        outputs = {
            "translations": np.array([""] * batch, dtype=object),
            "tokens": np.zeros((batch, length), np.int32),
            "lengths": np.zeros((batch,), np.int32),
            "scores": np.zeros((batch,), np.float32),
            "attention": np.zeros((batch, length, width), np.float32),
            "source_tokens": np.full((batch, width), "", dtype=object),
            "target_tokens": np.full((batch, length), "", dtype=object),
            "source_lengths": np.zeros((batch,), np.int32),
        }
        if keep:
            single = len(keep) == 1 and ids.shape[1] <= XLA_MAX_SOURCE_LENGTH
            result = model.generate(tf.constant(ids, tf.int32),
                                    jit_compile=bool(self.jit_compile and single),
                                    **self.options)
            beam = self.options["method"] == "beam"
            output_ids = (result.ids[:, 0] if beam else result.ids).numpy()
            lengths = (result.lengths[:, 0] if beam else result.lengths).numpy()
            found = translations_from_result(ids, result, beam, model.source_tokenizer,
                                             model.target_tokenizer)
            steps = min(length, output_ids.shape[1])
            for index, (row, item) in enumerate(zip(keep, found)):
                rows, columns = item.attention.shape
                outputs["translations"][row] = item.text
                outputs["tokens"][row, :steps] = output_ids[index, :steps]
                outputs["lengths"][row] = lengths[index]
                outputs["scores"][row] = item.score
                outputs["attention"][row, :rows, :columns] = item.attention
                outputs["source_tokens"][row, :columns] = item.source_tokens
                outputs["target_tokens"][row, :rows] = item.tokens
                outputs["source_lengths"][row] = columns
        source_tokens = [list(row[:n]) for row, n in
                         zip(outputs["source_tokens"], outputs["source_lengths"])]
        target_tokens = [[t for t in row if t] for row in outputs["target_tokens"]]
        return TranslateBatch(outputs, outputs["source_lengths"].astype(np.int64),
                              source_tokens, target_tokens)

    def warm_up(self):
        """Translates one sentence (tracing, and the XLA compilation of its length
        bucket); with `jit_compile="auto"` falls back to the graph where XLA cannot
        compile the model."""
        import warnings

        import tensorflow as tf

        try:
            super().warm_up()
        except tf.errors.OpError as error:
            if self.jit_compile != "auto":
                raise
            reason = str(error).strip().splitlines()[0]
            warnings.warn(f"XLA cannot compile this model's search ({reason}); "
                          "decoding without XLA.", stacklevel=2)
            self.jit_compile = False
            super().warm_up()

    def n_best(self, texts, k):
        """The `k` best beam hypotheses of each text (beam width max(k, --beam)).

        Returns:
            Per text a list of `(translation, score)`, best first ([] when blank).
        """
        width = max(k, self.beam or k)
        return self.model.n_best(list(texts), k, beam_width=width)

    def score(self, sources, targets, length_normalize=False):
        """Forced decoding of `targets` given `sources` (`Seq2Seq.score`).

        Returns:
            Per pair a dict: `score`, `log_prob`, `tokens`, `source_tokens`,
            `token_log_probs`, `attention`.
        """
        if not hasattr(self.model, "score"):
            raise BackendError(
                "this installation of keras_seq2seq has no Seq2Seq.score; upgrade it "
                "to score translations")
        found = self.model.score(list(sources), list(targets),
                                 length_normalize=length_normalize)
        return [{"score": float(item.score), "log_prob": float(item.log_prob),
                 "tokens": list(item.tokens), "source_tokens": list(item.source_tokens),
                 "token_log_probs": np.asarray(item.token_log_probs, np.float32),
                 "attention": np.asarray(item.attention, np.float32)}
                for item in found]

    def predict(self, signature_name, inputs):
        raise BackendError(
            f"signature {signature_name!r} is not served for a .keras model (only "
            f"{list(TEXT_SIGNATURES)}); export the model to call its other signatures")


# ----------------------------------------------------------------- SavedModel export


class SavedModelBackend(_Backend):
    """A SavedModel written by `keras_seq2seq.export.export_translator`.

    Args:
        translator: the `keras_seq2seq.export.Translator` (`load_translator`).
        path: its folder.
    """

    kind = "saved_model"

    def __init__(self, translator, path):
        super().__init__(path)
        self.translator = translator
        self.metadata = dict(translator.metadata or {})
        self._signature_defs = None

    def describe(self):
        meta = self.metadata
        n_best = meta.get("n_best")
        has_n_best = hasattr(self.translator, "n_best") and "n_best" in self._endpoints()
        return {
            "kind": self.kind,
            "path": self.path,
            "source_vocabulary_size": meta.get("source_vocabulary_size"),
            "target_vocabulary_size": meta.get("target_vocabulary_size"),
            "decoding": {"method": meta.get("decoding"),
                         "beam_width": meta.get("beam_width"),
                         "max_length": meta.get("max_length"),
                         "options": meta.get("options", {})},
            "n_best": {"available": bool(has_n_best), "max_k": n_best if has_n_best
                       else None},
            "score": {"available": hasattr(self.translator, "score")
                      and "score" in self._endpoints()},
        }

    def _endpoints(self):
        return set(self.translator.signatures)

    def signature_defs(self):
        """Every `SignatureDef` of `saved_model.pb`, in TensorFlow Serving's JSON."""
        if self._signature_defs is None:
            from google.protobuf import json_format
            from tensorflow.core.protobuf import saved_model_pb2

            saved = saved_model_pb2.SavedModel()
            with open(os.path.join(self.path, "saved_model.pb"), "rb") as f:
                saved.ParseFromString(f.read())
            defs = saved.meta_graphs[0].signature_def
            try:
                convert = _message_to_dict(json_format)
                self._signature_defs = {name: convert(defs[name]) for name in defs}
            except Exception:  # noqa: BLE001 - an unusual protobuf: from the specs
                self._signature_defs = self._defs_from_specs()
        return self._signature_defs

    def _defs_from_specs(self):
        import tensorflow as tf

        def info(name, spec):
            dtype = "DT_" + tf.as_dtype(spec.dtype).name.upper()
            shape = [-1 if d is None else d for d in spec.shape.as_list()]
            return _tensor_info(name, dtype.replace("FLOAT32", "FLOAT"), shape)

        defs = {}
        for name, function in self.translator.signatures.items():
            inputs = function.structured_input_signature[1]
            outputs = function.structured_outputs
            defs[name] = {
                "inputs": {key: info(f"{name}_{key}:0", spec)
                           for key, spec in inputs.items()},
                "outputs": {key: info(f"StatefulPartitionedCall:{i}", spec)
                            for i, (key, spec) in enumerate(sorted(outputs.items()))},
                "method_name": "tensorflow/serving/predict", "defaults": {}}
        return defs

    def text_signatures(self):
        found = []
        for name in TEXT_SIGNATURES:
            signature = self.signature_defs().get(name)
            if (signature and set(signature["inputs"]) == {"texts"}
                    and {"translations", "attention"} <= set(signature["outputs"])):
                found.append(name)
        return found

    def _source_ids(self, texts):
        """The export's own tokenization `(B, Ts)` (its `tokenize` endpoint)."""
        tokenize = getattr(self.translator.module, "tokenize", None)
        if tokenize is None:
            return None
        import tensorflow as tf

        return tokenize(tf.constant(list(texts), tf.string))["source_ids"].numpy()

    def translate(self, texts):
        """Runs the export's `translate` signature on a batch.

        Returns:
            A `TranslateBatch` (token labels from the export's `source_tokens` /
            `target_tokens` outputs where it has them, else from `detokenize` and
            the ids).
        """
        if not self.text_signatures():
            raise BackendError(
                f"the SavedModel at {self.path} has no text `translate` signature (it "
                "was exported without tokenizers); call its id signatures through "
                ":predict with a signature_name")
        outputs = self.translator.translate_full(list(texts))
        outputs["translations"] = np.array(
            [_text(value) for value in outputs["translations"].tolist()], dtype=object)
        batch = len(texts)
        ids = None
        if "source_lengths" in outputs:
            source_lengths = outputs["source_lengths"].astype(np.int64)
        else:  # an older export: its own tokenization says how long each source is
            ids = self._source_ids(texts) if batch else np.zeros((0, 1), np.int32)
            if ids is None:  # no tokenize endpoint: the attention's nonzero columns
                ids = (outputs["attention"].sum(axis=1) > 0).astype(np.int32)
            source_lengths = np.count_nonzero(ids != PAD_ID, axis=1).astype(np.int64)
        tokens = outputs["tokens"]
        lengths = [_output_length(tokens[row], outputs["lengths"][row])
                   if source_lengths[row] else 0 for row in range(batch)]
        if "source_tokens" in outputs:
            source_tokens = [[_text(t) for t in outputs["source_tokens"][row]
                              [:source_lengths[row]]] for row in range(batch)]
        else:
            source_tokens = [[f"#{int(i)}" for i in ids[row][:source_lengths[row]]]
                             if ids is not None else
                             [f"#{i}" for i in range(source_lengths[row])]
                             for row in range(batch)]
        if "target_tokens" in outputs:
            target_tokens = [[_text(t) for t in outputs["target_tokens"][row]
                              [:lengths[row]]] for row in range(batch)]
        else:
            target_tokens = self._target_labels(tokens, lengths)
        return TranslateBatch(outputs, source_lengths, source_tokens, target_tokens)

    def _target_labels(self, tokens, lengths):
        """Token strings from the export's `detokenize` endpoint, one id at a time."""
        special = {END_ID: END_TOKEN, UNK_ID: UNK_TOKEN}
        wanted = sorted({int(t) for row, n in enumerate(lengths) for t in tokens[row][:n]}
                        - set(special))
        names = dict(special)
        detokenize = getattr(self.translator.module, "detokenize", None)
        if wanted and detokenize is not None:
            import tensorflow as tf

            texts = detokenize(tf.constant([[i] for i in wanted], tf.int32))["texts"]
            names.update(zip(wanted, (_text(t) for t in texts.numpy().tolist())))
        return [[names.get(int(t), f"#{int(t)}") for t in tokens[row][:n]]
                for row, n in enumerate(lengths)]

    def n_best(self, texts, k):
        """The export's n-best lists (K fixed at export), cut to `k`.

        Raises:
            BackendError: no `n_best` endpoint (a greedy export), or `k` > K.
        """
        available = self.describe()["n_best"]
        if not available["available"]:
            raise BackendError(
                f"the SavedModel at {self.path} has no n_best endpoint (greedy "
                "exports have none); export with a beam, or serve the .keras model")
        limit = available["max_k"]
        if limit is not None and k > int(limit):
            raise BackendError(f"k={k} is more than the {limit} hypotheses this export "
                               f"returns; ask for k <= {limit}")
        try:
            found = self.translator.n_best(list(texts), k)
        except ValueError as error:
            raise BackendError(str(error)) from None
        return [[(_text(text), float(score)) for text, score in hyps][:k]
                for hyps in found]

    def score(self, sources, targets, length_normalize=False):
        """Forced decoding through the export's `score` endpoint (see `KerasBackend`)."""
        if not self.describe()["score"]["available"]:
            raise BackendError(
                f"the SavedModel at {self.path} has no score endpoint; export it again "
                "with this version of keras_seq2seq, or serve the .keras model")
        try:
            out = self.translator.score(list(sources), list(targets))
        except ValueError as error:
            raise BackendError(str(error)) from None
        ids = None if "source_lengths" in out else self._source_ids(sources)
        found = []
        for row in range(len(sources)):
            n = int(out["lengths"][row])
            if "source_lengths" in out:
                width = int(out["source_lengths"][row])
            elif ids is not None:
                width = int(np.count_nonzero(ids[row] != PAD_ID))
            else:
                width = out["attention"].shape[2]
            log_prob = float(out["log_probs"][row])
            tokens = ([_text(t) for t in out["target_tokens"][row][:n]]
                      if "target_tokens" in out else [f"#{i}" for i in range(n)])
            source = ([_text(t) for t in out["source_tokens"][row][:width]]
                      if "source_tokens" in out else [f"#{i}" for i in range(width)])
            found.append({
                "score": log_prob / n if length_normalize and n else log_prob,
                "log_prob": log_prob, "tokens": tokens, "source_tokens": source,
                "token_log_probs": np.asarray(out["token_log_probs"][row][:n],
                                              np.float32),
                "attention": np.asarray(out["attention"][row][:n, :width], np.float32)})
        return found

    def predict(self, signature_name, inputs):
        """Calls any signature with numpy inputs; returns its outputs as numpy."""
        import tensorflow as tf

        function = self.translator.signatures[signature_name]
        specs = function.structured_input_signature[1]
        tensors = {name: tf.constant(value, specs[name].dtype)
                   for name, value in inputs.items()}
        try:
            outputs = function(**tensors)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
            raise BackendError(f"signature {signature_name!r} failed: "
                               f"{_tf_message(error)}") from None
        return {name: value.numpy() for name, value in outputs.items()}

    def warm_up(self):
        if self.text_signatures():
            super().warm_up()


def _tf_message(error):
    """The line of a TensorFlow error that says what went wrong (not where)."""
    lines = [line.strip() for line in
             str(getattr(error, "message", error)).splitlines() if line.strip()]
    skip = ("Graph execution error", "Detected at node", "<stack traces", "[[{{node",
            "File ")
    useful = [line for line in lines if not line.startswith(skip)]
    found = (useful or lines or [type(error).__name__])[0]
    return found.replace("assertion failed: ", "")[:400]


def _message_to_dict(json_format):
    """`MessageToDict` with every field printed (the argument's name changed in
    protobuf 5.26)."""
    import inspect

    parameters = inspect.signature(json_format.MessageToDict).parameters
    flag = ("always_print_fields_with_no_presence"
            if "always_print_fields_with_no_presence" in parameters
            else "including_default_value_fields")

    def convert(message):
        return json.loads(json.dumps(json_format.MessageToDict(
            message, preserving_proto_field_name=True, **{flag: True})))

    return convert


def load_backend(path, beam=None, jit_compile="auto"):
    """Loads a `.keras` model or a SavedModel export behind the backend interface.

    Args:
        path: a `.keras` file or a SavedModel folder.
        beam: beam width for a `.keras` model (None: greedy); a SavedModel must have
            been exported with it.
        jit_compile: a `.keras` model's `KerasBackend(jit_compile=...)`; an export
            keeps what `export_translator` chose. Defaults to "auto".

    Returns:
        A `KerasBackend` or a `SavedModelBackend`.

    Raises:
        keras_seq2seq.cli.common.CLIError: a missing path, a file that is not a
            model, a `.keras` model without tokenizers, a beam a SavedModel was not
            exported with.
    """
    from keras_seq2seq.cli.common import load_translator

    loaded = load_translator(path, beam=beam)
    if loaded.is_keras:
        return KerasBackend(loaded.model, path, beam=beam, jit_compile=jit_compile)
    return SavedModelBackend(loaded.translator, path)
