"""`Seq2Seq`: the functional attention encoder-decoder with a scheduled teacher-forcing
`train_step`.

The constructor takes every setting as a keyword argument, builds the graph from
`keras.Input`s and hands it to `keras.Model.__init__` (the keras-hub backbone
pattern): `summary()` shows the functional graph, `get_config()` returns the
constructor arguments and `from_config` calls the constructor.

Training (`fit`) runs `train_step`:

* the teacher-forcing ratio εᵢ is `teacher_forcing(optimizer.iterations)`, capped by
  the accuracy-triggered switch (`callbacks.TeacherForcingSwitch`) once it fired;
* with granularity "batch", one coin per batch (a stateless draw keyed on
  (seed, step)) picks teacher forcing or free running for the whole batch; with
  "token", every (example, position) gets its own coin;
* at ratio 1 the fastest teacher-forced path runs, and when the schedule is 1 at
  every step no sampling code is traced at all;
* the loss is cross-entropy summed over non-pad target tokens divided by their
  count (summed over replicas under `tf.distribute`), with optional label smoothing.

`test_step` reports the teacher-forced loss and accuracy and the free-running token
accuracy (the model's own predictions fed back: what inference sees; a position after
the model's first predicted `[END]` counts as a miss, as inference emits only padding
there).

What the logs hold (Keras's aggregation of per-batch values):

* `loss` (and `val_loss`) is the mean over batches of each batch's token mean (batches
  are weighted by their number of sentences, not of tokens); `accuracy` and
  `free_running_accuracy` are token-weighted over the whole epoch;
* `teacher_forcing_ratio` in the epoch logs (`History`) is the ratio of the epoch's
  last batch; the progress bar shows its running mean.

Where the rest is: the policy of scheduled sampling in `scheduled_sampling.py`, the
loss in `losses.py`, inference (`generate`, `translate`, ...) in `inference.py` and
`translation.py`. (Over 450 lines: a fifth of it is the documentation of the
constructor's 29 settings, and the Keras overrides — `compile`, `fit`, `save`, the
train/test/predict steps — belong beside the graph they train.)
"""

import inspect

import keras
import tensorflow as tf
from keras import ops

from keras_seq2seq import _keras_internals, schedules
from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq._serialization import register
from keras_seq2seq.checks import check_choice, check_positive_int, check_rate
from keras_seq2seq.constants import PAD_ID
from keras_seq2seq.layers.decoder import AttentionDecoder
from keras_seq2seq.models import losses, scheduled_sampling
from keras_seq2seq.models.encoder import Seq2SeqEncoder
from keras_seq2seq.models.inference import InferenceMixin
from keras_seq2seq.models.scheduled_sampling import FEEDBACKS, GRANULARITIES, MODES

require_tensorflow(__name__)



@register
class Seq2Seq(InferenceMixin, keras.Model):
    """Attention-based RNN encoder-decoder (Luong et al. 2015) with scheduled sampling.

    Args:
        source_vocabulary_size: source vocabulary size (id 0 is padding).
        target_vocabulary_size: target vocabulary size (ids 0-3 are `[PAD]`,
            `[UNK]`, `[START]`, `[END]`).
        embedding_dim: embedding size of both sides. Defaults to 128.
        units: RNN size of the decoder (and of the encoder unless `encoder_units`
            is given). Defaults to 256.
        encoder_units: encoder RNN size per direction. Defaults to `units`.
        num_layers: stacked RNN layers on each side. Defaults to 1.
        cell_type: "lstm" or "gru". Defaults to "lstm".
        bidirectional: bidirectional encoder. Defaults to False.
        attention: "dot", "general" or "concat". Defaults to "general".
        attention_units: width of concat's tanh layers. Defaults to `units`.
        attention_depth: number of concat's tanh layers. Defaults to 1.
        attention_scale: scale the dot score by 1/√d. Defaults to False.
        local_attention: None (global attention), "monotonic" (local-m) or
            "predictive" (local-p), Luong et al. 2015. Defaults to None.
        attention_window: half-width D of the local window. Defaults to 10.
        input_feeding: feed h̃_{t-1} into the decoder RNN (Luong 2015). Defaults to
            False.
        deep_output: h̃_t = tanh(W_c [c_t; h_t; e(y_{t-1})]): the attentional layer
            sees the embedded previous token too. Defaults to False.
        attentional_activation: "tanh" (Luong's h̃) or "linear" (no tanh: h̃ =
            W_c [c_t; h_t (; e)], a low-rank linear readout; learns much faster on
            Multi30k, benchmarks/README.md). Defaults to "tanh".
        dropout: dropout rate. Defaults to 0.
        tie_embeddings: False; True (or "target") ties the output projection to
            the target embedding; "all" also makes the source embedding that same
            matrix (Press & Wolf 2017's three-way tying; one joint vocabulary:
            equal vocabulary sizes, and the same tokenizer, or two with the same
            vocabulary, on both sides). Defaults to False.
        label_smoothing: label smoothing of the loss, in [0, 1). Defaults to 0.
        teacher_forcing: the ratio schedule: a float, a
            `keras_seq2seq.schedules.TeacherForcingSchedule`, or a dict such as
            `{"name": "inverse_sigmoid", "k": 500}`. Defaults to 1.0 (always).
        teacher_forcing_granularity: "batch" (one coin per batch) or "token" (one
            coin per target token, Bengio et al. 2015). Defaults to "batch".
        teacher_forcing_feedback: "argmax" or "sample": the token fed back where
            the coin says "model". Defaults to "argmax".
        teacher_forcing_mode: "sequential" (exact scheduled sampling: a step loop
            that feeds each prediction to the next step) or "parallel" (Duckworth
            et al. 2019: a teacher-forced pass without gradient predicts every
            token at once, the predictions are mixed into the decoder inputs by the
            same coins, and `parallel_passes` further passes refine them; the last
            pass, with gradient, takes the fast teacher-forced path). Defaults to
            "sequential".
        parallel_passes: passes that produce the mixed inputs in "parallel" mode.
            Defaults to 1.
        seed: key of every stateless random draw. Defaults to 0.
        max_decode_length: output cap of `generate` / `predict`. Defaults to 100.
        source_tokenizer: optional `keras_seq2seq.text.Tokenizer` of the source
            side (or its serialized config); kept with the model (its vocabulary
            is saved as an asset of the `.keras` file) and used by `translate`.
        target_tokenizer: optional target-side `Tokenizer`, likewise.
        name: model name.

    Call arguments:
        inputs: `(source_ids, decoder_input_ids)`, int `(batch_size, Ts)` and
            `(batch_size, T)`.

    Returns:
        float32 logits `(batch_size, T, target_vocabulary_size)` (teacher forced).
    """

    def __init__(self, source_vocabulary_size, target_vocabulary_size, embedding_dim=128,
                 units=256, encoder_units=None, num_layers=1, cell_type="lstm",
                 bidirectional=False, attention="general", attention_units=None,
                 attention_depth=1, attention_scale=False, local_attention=None,
                 attention_window=10, input_feeding=False, deep_output=False,
                 attentional_activation="tanh", dropout=0.0, tie_embeddings=False,
                 label_smoothing=0.0,
                 teacher_forcing=1.0, teacher_forcing_granularity="batch",
                 teacher_forcing_feedback="argmax", teacher_forcing_mode="sequential",
                 parallel_passes=1, seed=0, max_decode_length=100,
                 source_tokenizer=None, target_tokenizer=None, name="seq2seq",
                 **kwargs):
        settings = {key: value for key, value in locals().items() if key in SETTINGS}
        settings, encoder, decoder = _checked_settings_and_layers(**settings)

        # --- functional graph
        source_ids = keras.Input(shape=(None,), dtype="int32", name="source_ids")
        decoder_input_ids = keras.Input(shape=(None,), dtype="int32",
                                        name="decoder_input_ids")
        memory, states = encoder(source_ids)
        source_mask = ops.not_equal(source_ids, PAD_ID)
        logits = decoder(decoder_input_ids, memory, memory_mask=source_mask,
                         initial_state=states)
        super().__init__(inputs=[source_ids, decoder_input_ids], outputs=logits,
                         name=name, **kwargs)

        # --- settings and state (after the functional init)
        self.encoder = encoder
        self.decoder = decoder
        for setting in SETTINGS:  # the (checked) constructor arguments
            setattr(self, setting, settings[setting])
        # Set by callbacks.TeacherForcingSwitch: -1 means "not switched"; otherwise
        # the ratio is capped at this value. A weight, so it is saved with the model.
        self.teacher_forcing_cap = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(-1.0), trainable=False,
            name="teacher_forcing_cap", dtype="float32")
        self.switch_enabled = False
        # Token accuracies as weighted means of tf.argmax hits (keras.ops.argmax first
        # rewrites -0.0 over the whole logits tensor: 4x slower at vocabulary size).
        self.token_accuracy = keras.metrics.Mean(name="accuracy")
        self.free_running_accuracy = keras.metrics.Mean(name="free_running_accuracy")
        self._generate_functions = {}

    # ------------------------------------------------------------------ ratio
    def teacher_forcing_ratio(self, step=None):
        """The teacher-forcing ratio at `step` (default: the optimizer's step count).

        Returns:
            float32 scalar: the schedule's value, capped by the switch once fired.
        """
        if step is None:
            optimizer = getattr(self, "optimizer", None)  # None before `compile`
            step = optimizer.iterations if optimizer is not None else 0
        return scheduled_sampling.capped_ratio(self.teacher_forcing, step,
                                               self.teacher_forcing_cap)

    @property
    def switch_fired(self):
        """Whether the teacher-forcing switch has fired (its cap is a saved weight)."""
        return scheduled_sampling.switch_fired(self.teacher_forcing_cap)

    @property
    def always_teacher_forced(self):
        """True when training can only ever take the teacher-forced path.

        That is when the schedule is 1 at every step, no `TeacherForcingSwitch` is
        attached and no switch has fired: a model saved after its switch fired (the
        cap is a weight) keeps the capped ratio after `load_model`, without the
        callback. Read when `train_step` is traced.
        """
        return scheduled_sampling.always_teacher_forced(
            self.teacher_forcing, self.teacher_forcing_cap, self.switch_enabled)

    @property
    def never_teacher_forced(self):
        """True when training can never take the teacher-forced path.

        That is with `teacher_forcing_granularity="token"` under a schedule whose
        ratio is below 1 at every step (a constant 0.5, an inverse-sigmoid decay):
        `train_step` then traces only the scheduled-sampling path, without the
        `tf.cond` whose other branch would never run. Read when `train_step` is
        traced.
        """
        return scheduled_sampling.never_teacher_forced(
            self.teacher_forcing, self.teacher_forcing_granularity)

    def enable_teacher_forcing_switch(self):
        """Prepares training for a ratio below the schedule's (called by the switch).

        Retraces `train_step` with the scheduled-sampling path, and turns XLA off if
        it came from `jit_compile="auto"` (see `compile`).
        """
        if self.switch_enabled:
            return
        self.switch_enabled = True
        if getattr(self, "_jit_compile_auto", False):
            self.jit_compile = False
        self.train_function = None

    # ------------------------------------------------------------------ forward paths
    def _unpack_inputs(self, x):
        if isinstance(x, dict):
            return x["source_ids"], x["decoder_input_ids"]
        if not isinstance(x, (list, tuple)) or len(x) != 2:
            raise ValueError(
                "Seq2Seq takes x=(source_ids, decoder_input_ids) for training and "
                f"evaluation. Received: {type(x).__name__}. To translate source ids, "
                "call model.generate(source_ids) or model.predict(source_ids).")
        return x[0], x[1]

    def encode_source(self, source_ids, training=None):
        """The encoder's outputs for the decoder.

        Args:
            source_ids: int `(batch_size, Ts)`, padded with 0.
            training: Python bool or None.

        Returns:
            `(memory, memory_mask, states)`: `(batch_size, Ts, memory_dim)` encoder
            outputs, bool `(batch_size, Ts)` True at real tokens, and the decoder's
            initial RNN states (a list over layers of lists of `(batch_size,
            units)`).
        """
        source_ids = tf.cast(source_ids, tf.int32)
        memory, states = self.encoder(source_ids, training=training)
        return memory, tf.not_equal(source_ids, PAD_ID), states

    def scheduled_forward(self, source_ids, decoder_input_ids, ratio, step,
                          training=True, path=None, projected=True):
        """Logits under teacher-forcing ratio `ratio` (what `train_step` trains on).

        Args:
            source_ids: int `(batch_size, Ts)`.
            decoder_input_ids: int `(batch_size, T)`.
            ratio: float32 scalar, probability of feeding the ground truth.
            step: int scalar keying the stateless coin tosses and samples.
            training: Python bool.
            path: None, "teacher" or "mixed" (see `scheduled_sampling.
                scheduled_logits`).
            projected: False returns the decoder's attentional vectors
                `(batch_size, T, A)` instead of the logits.

        Returns:
            float32 logits `(batch_size, T, target_vocabulary_size)`.
        """
        memory, mask, states = self.encode_source(source_ids, training)
        return scheduled_sampling.scheduled_logits(
            self.decoder, decoder_input_ids, memory, mask, states, ratio, step,
            seed=self.seed, granularity=self.teacher_forcing_granularity,
            feedback=self.teacher_forcing_feedback, mode=self.teacher_forcing_mode,
            passes=self.parallel_passes, training=training,
            xla=bool(getattr(self, "jit_compile", False)), path=path,
            projected=projected)

    def teacher_forced_forward(self, source_ids, decoder_input_ids, training=True,
                               projected=True):
        """The teacher-forced forward pass (what the model's call computes).

        Args:
            source_ids: int `(batch_size, Ts)`.
            decoder_input_ids: int `(batch_size, T)`.
            training: Python bool.
            projected: False returns the decoder's attentional vectors
                `(batch_size, T, A)` (after dropout) instead of the logits.

        Returns:
            float32 logits `(batch_size, T, target_vocabulary_size)`.
        """
        memory, mask, states = self.encode_source(source_ids, training)
        return self.decoder(tf.cast(decoder_input_ids, tf.int32), memory,
                            memory_mask=mask, initial_state=states, training=training,
                            projected=projected)

    def free_running_logits(self, source_ids, decoder_input_ids, training=False):
        """Logits when every step is fed the model's own argmax (ratio 0)."""
        memory, mask, states = self.encode_source(source_ids, training)
        ids = tf.cast(decoder_input_ids, tf.int32)
        return scheduled_sampling.sequential_logits(
            self.decoder, ids, memory, mask, states,
            use_truth=tf.zeros(tf.shape(ids), tf.bool), training=training)

    # ------------------------------------------------------------------ loss, metrics
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        """Masked cross-entropy normalised by the non-pad target token count.

        Uses the loss given to `compile` instead when there is one; it receives the
        PAD-masked token weights as its `sample_weight` (so padding never counts;
        with `reduction="mean_with_sample_weight"` it is the non-pad token mean,
        with Keras's default "sum_over_batch_size" the sum over every position).
        Under `tf.distribute` each replica divides its sum by the count summed over
        all replicas, so the summed gradients equal one device's on the global
        batch; regularisation losses are divided by the replica count, as Keras
        does.
        """
        if self._compile_loss is not None:
            return super().compute_loss(x, y, y_pred,
                                        losses.token_weights(y, sample_weight),
                                        training=training)
        return losses.masked_cross_entropy(
            y, y_pred, losses.token_weights(y, sample_weight), self.label_smoothing,
            self.losses)

    def compile(self, optimizer="rmsprop", loss=None, *args, jit_compile="auto",
                **kwargs):
        """`keras.Model.compile`, with what `jit_compile="auto"` means here.

        Keras resolves "auto" to XLA on a GPU (never on a CPU) when every layer
        supports it. Scheduled sampling under XLA cannot keep the fast
        teacher-forced path (cuDNN, one whole-sequence pass) behind a `tf.cond`,
        so every batch would run the step-by-step loop even where the ratio is 1
        or the coin says "teacher". So for `Seq2Seq`, "auto" is Keras's choice when
        training is always teacher forced, and False when scheduled sampling can
        run (a schedule below 1 somewhere, a fired switch; an attached
        `TeacherForcingSwitch` turns an "auto" XLA off too). `jit_compile=True` is
        kept as asked.

        Args:
            optimizer, loss, *args, **kwargs: as in `keras.Model.compile`. A `loss`
                replaces the built-in masked cross-entropy (it receives the PAD mask
                as sample weights) and cannot be combined with the model's
                `label_smoothing`.
            jit_compile: True, False or "auto" (see above). Defaults to "auto".
        """
        if loss is not None and self.label_smoothing:
            raise ValueError(
                f"The model has label_smoothing={self.label_smoothing}, which only "
                "the built-in loss applies, but compile() was given loss="
                f"{loss!r}. Leave `loss` out (the built-in masked cross-entropy), or "
                "build the model with label_smoothing=0 and smooth in your loss.")
        auto = isinstance(jit_compile, str) and jit_compile == "auto"
        if auto and not self.always_teacher_forced:
            jit_compile = False
        super().compile(optimizer, loss, *args, jit_compile=jit_compile, **kwargs)
        self._jit_compile_auto = auto

    def compile_from_config(self, config):
        """Compiles from `get_compile_config()` on `load_model`, through `compile`.

        (Keras skips loading the compile state of a model whose `compile` is
        overridden unless this is overridden too.)
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.optimizer is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def projects_in_loss(self):
        """Whether `train_step` computes its loss from the attentional vectors.

        The built-in loss, when no compiled loss or metrics need the logits and the
        step is not XLA-compiled, is `losses.projected_cross_entropy`: the output
        projection of the non-pad tokens only, a chunk at a time, never holding the
        `(batch_size, T, vocabulary_size)` logits or their gradient (the same loss
        and gradients as the logits path, within float rounding).
        """
        return (self._compile_loss is None and self._compile_metrics is None
                and not getattr(self, "jit_compile", False))

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        weights = losses.token_weights(y, sample_weight)
        self.token_accuracy.update_state(losses.token_hits(y, y_pred), sample_weight=weights)
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, weights)
        return self.get_metrics_result()

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """`keras.Model.save`, written atomically for `.keras` files.

        The archive is written next to `filepath` and swapped in only when complete
        (`keras_seq2seq.saving.save_model`), so a failure never leaves a half-written
        file and an existing one is kept until the new one is whole. This covers
        `keras.callbacks.ModelCheckpoint` too, which saves through this method.
        Other formats go to Keras unchanged.

        Args:
            filepath: the `.keras` file to write.
            overwrite: replace an existing file (Keras's default, True); False
                raises `FileExistsError` instead of asking.
            zipped, **kwargs: as in `keras.Model.save`.
        """
        if str(filepath).endswith(".keras") and zipped in (None, True) and not kwargs:
            from keras_seq2seq import saving

            saving.save_model(self, filepath, overwrite=overwrite)
            return None
        return super().save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    # ------------------------------------------------------------------ steps
    def fit(self, x=None, y=None, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, plus epoch-keyed shuffling of `make_dataset` data.

        When `x` is a dataset from `keras_seq2seq.text.make_dataset(shuffle=True)`,
        an `EpochShuffle` callback is added (unless one is given), so the order of
        epoch `e` depends only on `(seed, e)` and a run resumed with
        `BackupAndRestore` is bit-identical to an uninterrupted one. Everything else
        is Keras's own `fit`.
        """
        from keras_seq2seq.callbacks import EpochShuffle

        args = list(args)
        if len(args) > 3:  # batch_size, epochs, verbose, callbacks, ...
            if callbacks is not None:
                raise TypeError("fit() got multiple values for argument 'callbacks'")
            callbacks = args[3]
            args[3] = None
        callbacks = list(callbacks or [])
        if EpochShuffle.applies_to(x) and not any(
                isinstance(c, EpochShuffle) for c in callbacks):
            callbacks.append(EpochShuffle(x))
        if isinstance(x, tf.data.Dataset):
            # Keras ignores `shuffle` for datasets, but warns when it is left True.
            kwargs.setdefault("shuffle", False)
        if len(args) > 3:
            args[3] = callbacks
            return super().fit(x, y, *args, **kwargs)
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def make_train_function(self, force=False):
        """`keras.Model.make_train_function`, with the optimizer built first.

        Keras builds an unbuilt optimizer inside the first trace of the train step
        (without a distribution strategy), and a `tf.function` whose first trace
        creates variables is traced a second time. The functional graph is built in
        `__init__`, so its variables are known: building the optimizer here makes
        the first `fit` (or `train_on_batch`) trace the step once instead of twice.
        """
        optimizer = getattr(self, "optimizer", None)  # None before `compile`
        if optimizer is not None and not optimizer.built:
            with self.distribute_strategy.scope():
                optimizer.build(self.trainable_variables)
        return super().make_train_function(force=force)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras builds the optimizer and compiled metrics from one batch, reduced
        # with strategy.reduce("MEAN") over the replicas; under
        # MultiWorkerMirroredStrategy that reduce fails for our int32 token ids.
        # The functional graph is built in __init__ and `make_train_function` builds
        # the optimizer, so only compiled metrics, if any, need the batch.
        if self._distribute_strategy is None or self._compile_metrics is not None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        return None

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        source_ids, decoder_input_ids = self._unpack_inputs(x)
        step = self.optimizer.iterations
        ratio = self.teacher_forcing_ratio(step)
        variables = self.trainable_variables

        projects = self.projects_in_loss

        def gradients(path, dense=False):
            """Loss, logits (or the hits and weights of the projected loss) and
            gradients of one forward path (no tape crosses a `tf.cond`:
            differentiating through one makes TensorFlow pad each branch's
            intermediates with the other's, a graph its type inference rejects with
            a 25-line TFT_OPTIONAL warning)."""
            with tf.GradientTape() as tape:
                if projects and path == "model":
                    attentional = self.teacher_forced_forward(
                        source_ids, decoder_input_ids, training=True, projected=False)
                elif projects:
                    attentional = self.scheduled_forward(
                        source_ids, decoder_input_ids, ratio, step, training=True,
                        path=path, projected=False)
                if projects:
                    kernel, bias, transposed = self.decoder.output_projection()
                    loss, hits, hit_weights = losses.projected_cross_entropy(
                        attentional, kernel, bias, y,
                        losses.token_weights(y, sample_weight), self.label_smoothing,
                        transposed, self.losses)
                    y_pred = (hits, hit_weights)
                elif path == "model":
                    y_pred = self((source_ids, decoder_input_ids), training=True)
                else:
                    y_pred = self.scheduled_forward(source_ids, decoder_input_ids,
                                                    ratio, step, training=True,
                                                    path=path)
                if not projects:
                    loss = self._compute_loss(x=x, y=y, y_pred=y_pred,
                                              sample_weight=sample_weight,
                                              training=True)
                scaled_loss = self.optimizer.scale_loss(loss)
            grads = [tf.zeros_like(v) if g is None else g
                     for g, v in zip(tape.gradient(scaled_loss, variables), variables)]
            if dense:  # the branches of a tf.cond must return the same structure
                grads = [tf.convert_to_tensor(g) for g in grads]
            return loss, y_pred, grads

        if self.always_teacher_forced:
            loss, y_pred, grads = gradients("model")
        elif getattr(self, "jit_compile", False) or _replicas_in_sync() > 1:
            # XLA cannot take the tf.cond; under tf.distribute the loss all-reduces
            # its token count, which TF cannot do inside a tf.cond branch. There the
            # path is chosen inside the forward pass (scheduled_sampling).
            loss, y_pred, grads = gradients(None)
        elif self.never_teacher_forced:
            # The tf.cond's other branch could never run. Dense gradients, as the
            # branches take them: the step loop's embedding gradient is summed once,
            # not in each of the optimizer's uses of it.
            loss, y_pred, grads = gradients("mixed", dense=True)
        else:
            loss, y_pred, grads = tf.cond(
                scheduled_sampling.teacher_forced_now(
                    self.teacher_forcing_granularity, ratio, self.seed, step),
                lambda: gradients("teacher", dense=True),
                lambda: gradients("mixed", dense=True))
        self._loss_tracker.update_state(
            _keras_internals.unscale_for_distribution(loss),
            sample_weight=tf.shape(source_ids)[0])
        self.optimizer.apply(grads, variables)
        if projects:
            hits, hit_weights = y_pred
            self.token_accuracy.update_state(hits, sample_weight=hit_weights)
            logs = self.get_metrics_result()
        else:
            logs = self.compute_metrics(x, y, y_pred, sample_weight)
        logs = {k: v for k, v in logs.items() if k != "free_running_accuracy"}
        logs["teacher_forcing_ratio"] = ratio
        return _keras_internals.for_multi_worker(self.distribute_strategy, logs)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        source_ids, decoder_input_ids = self._unpack_inputs(x)
        y_pred = self((source_ids, decoder_input_ids), training=False)
        loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                  training=False)
        self._loss_tracker.update_state(_keras_internals.unscale_for_distribution(loss),
                                        sample_weight=tf.shape(source_ids)[0])
        free = self.free_running_logits(source_ids, decoder_input_ids)
        self.free_running_accuracy.update_state(
            losses.free_running_hits(y, free),
            sample_weight=losses.token_weights(y, sample_weight))
        return _keras_internals.for_multi_worker(self.distribute_strategy,
                                 self.compute_metrics(x, y, y_pred, sample_weight))

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (list, tuple, dict)):
            source_ids, decoder_input_ids = self._unpack_inputs(x)
            return self((source_ids, decoder_input_ids), training=False)
        result = self.search(tf.cast(x, tf.int32), self.max_decode_length)
        return {"ids": result.ids, "lengths": result.lengths, "scores": result.scores}

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update({setting: getattr(self, setting) for setting in SETTINGS})
        config.update(teacher_forcing=schedules.serialize(self.teacher_forcing),
                      source_tokenizer=_serialize_optional(self.source_tokenizer),
                      target_tokenizer=_serialize_optional(self.target_tokenizer))
        return config

    @classmethod
    def check_settings(cls, source_vocabulary_size=5, target_vocabulary_size=5,
                       **settings):
        """Runs the constructor's checks, without building a model (no weights).

        Args:
            source_vocabulary_size, target_vocabulary_size, **settings: as the
                constructor takes them.

        Raises:
            ValueError: the constructor's error for the first bad setting.
        """
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise ValueError(f"Unknown Seq2Seq setting(s) {unknown}. Valid: {SETTINGS}")
        _checked_settings_and_layers(source_vocabulary_size, target_vocabulary_size,
                                     **settings)

    def with_settings(self, **changes):
        """A new, uncompiled model with this one's weights and some training settings
        changed: how to fine-tune a trained model under another teacher-forcing ratio
        (the design note's last phase; `docs/teacher_forcing.md`), dropout or label
        smoothing. The weights are copied, not shared (the tokenizers are shared);
        this model is left as it is.

        Args:
            **changes: new values for settings of `RETRAINING_SETTINGS` (those that
                leave the weights' shapes alone), checked as the constructor checks
                them.

        Returns:
            `Seq2Seq`: compile it before `fit`.

        Raises:
            ValueError: a setting outside `RETRAINING_SETTINGS`, or a bad value.
        """
        fixed = sorted(set(changes) - set(RETRAINING_SETTINGS))
        if fixed:
            raise ValueError(
                f"with_settings() changes only the settings that keep the weights' "
                f"shapes, {RETRAINING_SETTINGS}; {fixed} would need a new model. Build "
                "one with Seq2Seq(...) instead.")
        config = self.get_config()
        # The tokenizers themselves: a config alone holds no vocabulary.
        config.update(changes, source_tokenizer=self.source_tokenizer,
                      target_tokenizer=self.target_tokenizer)
        model = type(self).from_config(config)
        model.set_weights(self.get_weights())
        return model

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# The constructor's settings: attributes of the same name, and `get_config()`'s keys.
SETTINGS = tuple(name for name in inspect.signature(Seq2Seq.__init__).parameters
                 if name not in ("self", "name", "kwargs"))
# Settings that `Seq2Seq.with_settings` may change: training behaviour, not the weights.
RETRAINING_SETTINGS = ("dropout", "label_smoothing", "teacher_forcing",
                       "teacher_forcing_granularity", "teacher_forcing_feedback",
                       "teacher_forcing_mode", "parallel_passes", "seed",
                       "max_decode_length")


def _checked_settings_and_layers(source_vocabulary_size, target_vocabulary_size,
                                 **settings):
    """The constructor's checks, and its encoder and decoder layers (not built yet).

    Returns:
        `(settings, encoder, decoder)`: every setting of `SETTINGS`, normalised (the
        schedule and tokenizers as objects, `encoder_units` resolved).
    """
    defaults = {name: parameter.default for name, parameter in
                inspect.signature(Seq2Seq.__init__).parameters.items()
                if name in SETTINGS}
    settings = {**defaults, **settings}
    (embedding_dim, units, encoder_units, num_layers, cell_type, bidirectional,
     attention, attention_units, attention_depth, attention_scale, local_attention,
     attention_window, input_feeding, deep_output, attentional_activation, dropout,
     tie_embeddings, label_smoothing,
     teacher_forcing, teacher_forcing_granularity, teacher_forcing_feedback,
     teacher_forcing_mode, parallel_passes, seed, max_decode_length, source_tokenizer,
     target_tokenizer) = (settings[name] for name in SETTINGS[2:])
    encoder_units = units if encoder_units is None else encoder_units
    check_choice("teacher_forcing_granularity", teacher_forcing_granularity,
                 GRANULARITIES)
    check_choice("teacher_forcing_feedback", teacher_forcing_feedback, FEEDBACKS)
    check_choice("teacher_forcing_mode", teacher_forcing_mode, MODES)
    check_positive_int("parallel_passes", parallel_passes)
    label_smoothing = check_rate("label_smoothing", label_smoothing)
    check_positive_int("max_decode_length", max_decode_length)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"Expected an int for `seed`. Received: seed={seed!r}")
    teacher_forcing = schedules.get(teacher_forcing)
    source_tokenizer = _check_tokenizer(
        "source_tokenizer", source_tokenizer, source_vocabulary_size)
    target_tokenizer = _check_tokenizer(
        "target_tokenizer", target_tokenizer, target_vocabulary_size)
    tie_embeddings = _check_tie_embeddings(
        tie_embeddings, source_vocabulary_size, target_vocabulary_size,
        source_tokenizer, target_tokenizer)
    memory_dim = encoder_units * (2 if bidirectional else 1)
    if attention == "dot" and memory_dim != units:
        raise ValueError(
            "The dot score needs the encoder outputs and the decoder state to have "
            f"the same size, but encoder outputs have {memory_dim} features "
            f"(encoder_units={encoder_units}, bidirectional={bidirectional}) and "
            f"the decoder has units={units}. Use attention='general' or 'concat', "
            "or make them equal.")

    # --- layers (built by the functional call below)
    encoder = Seq2SeqEncoder(
        source_vocabulary_size, embedding_dim=embedding_dim, units=encoder_units,
        num_layers=num_layers, cell_type=cell_type, bidirectional=bidirectional,
        dropout=dropout, decoder_units=units, name="encoder")
    decoder = AttentionDecoder(
        target_vocabulary_size, embedding_dim=embedding_dim, units=units,
        num_layers=num_layers, cell_type=cell_type, attention=attention,
        attention_units=attention_units, attention_depth=attention_depth,
        attention_scale=attention_scale, local_attention=local_attention,
        attention_window=attention_window, input_feeding=input_feeding,
        deep_output=deep_output, attentional_activation=attentional_activation,
        dropout=dropout, tie_embeddings=bool(tie_embeddings),
        shared_embedding=encoder.embedding if tie_embeddings == "all" else None,
        name="decoder")
    settings.update(tie_embeddings=tie_embeddings, source_vocabulary_size=source_vocabulary_size,
                    target_vocabulary_size=target_vocabulary_size,
                    encoder_units=encoder_units, label_smoothing=label_smoothing,
                    teacher_forcing=teacher_forcing, source_tokenizer=source_tokenizer,
                    target_tokenizer=target_tokenizer)
    return settings, encoder, decoder


TIE_EMBEDDINGS = (False, True, "target", "all")


def _check_tie_embeddings(tie, source_vocabulary_size, target_vocabulary_size,
                          source_tokenizer, target_tokenizer):
    """`tie_embeddings` normalised (False, True or "all"), checked against the
    vocabularies it ties."""
    if tie not in TIE_EMBEDDINGS or isinstance(tie, (int, float)) and not isinstance(
            tie, bool):
        raise ValueError(
            "`tie_embeddings` must be False, True (or \"target\": the output "
            "projection and the target embedding) or \"all\" (the source embedding "
            f"too). Received: tie_embeddings={tie!r}")
    if tie == "target":
        return True
    if tie != "all":
        return tie
    if source_vocabulary_size != target_vocabulary_size:
        raise ValueError(
            "tie_embeddings=\"all\" shares one embedding between source and target, "
            "so the vocabularies must be one (a joint tokenizer). Received: "
            f"source_vocabulary_size={source_vocabulary_size}, "
            f"target_vocabulary_size={target_vocabulary_size}")
    if (source_tokenizer is not None and target_tokenizer is not None
            and source_tokenizer is not target_tokenizer
            and _tokenizer_size(source_tokenizer) is not None
            and source_tokenizer.get_vocabulary() != target_tokenizer.get_vocabulary()):
        raise ValueError(
            "tie_embeddings=\"all\" needs one vocabulary on both sides, but "
            "`source_tokenizer` and `target_tokenizer` have different vocabularies. "
            "Train one tokenizer on both sides' text and pass it as both.")
    return tie


def _replicas_in_sync():
    replica = tf.distribute.get_replica_context()
    return 1 if replica is None else replica.num_replicas_in_sync


def _serialize_optional(obj):
    return None if obj is None else keras.saving.serialize_keras_object(obj)


def _check_tokenizer(name, tokenizer, vocabulary_size):
    """Deserializes a tokenizer config and checks its size against the model's."""
    if tokenizer is None:
        return None
    if isinstance(tokenizer, dict):
        tokenizer = keras.saving.deserialize_keras_object(tokenizer)
    for method in ("tokenize", "detokenize"):
        if not hasattr(tokenizer, method):
            raise ValueError(
                f"`{name}` must be a keras_seq2seq.text.Tokenizer. Received: "
                f"{type(tokenizer).__name__}")
    size = _tokenizer_size(tokenizer)
    if size is not None and size != vocabulary_size:
        raise ValueError(
            f"`{name}` has {size} tokens but the model's vocabulary size is "
            f"{vocabulary_size}. Build the model with the tokenizer's "
            "vocabulary_size, or pass the tokenizer it was trained with.")
    return tokenizer


def _tokenizer_size(tokenizer):
    try:
        return int(tokenizer.vocabulary_size)
    except (ValueError, RuntimeError, TypeError, AttributeError):
        return None  # no vocabulary yet: it arrives with load_assets
