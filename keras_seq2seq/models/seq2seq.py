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
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_seq2seq import schedules
from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq._serialization import register
from keras_seq2seq.decoding import get_decoder
from keras_seq2seq.layers.decoder import (
    AttentionDecoder,
    check_choice,
    check_positive_int,
    check_rate,
)
from keras_seq2seq.models.encoder import Seq2SeqEncoder

require_tensorflow(__name__)

PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3
# `generate` keeps one traced function per decoding option set; the least recently
# used is dropped beyond this many (a server varying seeds or widths stays bounded).
GENERATE_CACHE_SIZE = 16
GRANULARITIES = ("batch", "token")
FEEDBACKS = ("argmax", "sample")
MODES = ("sequential", "parallel")


@register
class Seq2Seq(keras.Model):
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
        dropout: dropout rate. Defaults to 0.
        tie_embeddings: tie the output projection to the target embedding.
            Defaults to False.
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
                 attention_window=10, input_feeding=False,
                 dropout=0.0, tie_embeddings=False, label_smoothing=0.0,
                 teacher_forcing=1.0, teacher_forcing_granularity="batch",
                 teacher_forcing_feedback="argmax", teacher_forcing_mode="sequential",
                 parallel_passes=1, seed=0, max_decode_length=100,
                 source_tokenizer=None, target_tokenizer=None, name="seq2seq",
                 **kwargs):
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
        schedule = schedules.get(teacher_forcing)
        source_tokenizer = _check_tokenizer(
            "source_tokenizer", source_tokenizer, source_vocabulary_size)
        target_tokenizer = _check_tokenizer(
            "target_tokenizer", target_tokenizer, target_vocabulary_size)
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
            dropout=dropout, tie_embeddings=tie_embeddings, name="decoder")

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
        self.source_vocabulary_size = source_vocabulary_size
        self.target_vocabulary_size = target_vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.encoder_units = encoder_units
        self.num_layers = num_layers
        self.cell_type = cell_type
        self.bidirectional = bidirectional
        self.attention = attention
        self.attention_units = attention_units
        self.attention_depth = attention_depth
        self.attention_scale = attention_scale
        self.local_attention = local_attention
        self.attention_window = attention_window
        self.input_feeding = input_feeding
        self.dropout = dropout
        self.tie_embeddings = tie_embeddings
        self.label_smoothing = label_smoothing
        self.teacher_forcing = schedule
        self.teacher_forcing_granularity = teacher_forcing_granularity
        self.teacher_forcing_feedback = teacher_forcing_feedback
        self.teacher_forcing_mode = teacher_forcing_mode
        self.parallel_passes = parallel_passes
        self.seed = seed
        self.max_decode_length = max_decode_length
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
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
            step = self.optimizer.iterations if self.optimizer is not None else 0
        ratio = self.teacher_forcing(step)
        cap = tf.cast(self.teacher_forcing_cap, tf.float32)
        return tf.where(cap >= 0.0, tf.minimum(ratio, cap), ratio)

    @property
    def switch_fired(self):
        """Whether the teacher-forcing switch has fired (its cap is a saved weight)."""
        with tf.init_scope():  # read the variable's value, also while tracing
            return float(tf.convert_to_tensor(self.teacher_forcing_cap)) >= 0.0

    @property
    def always_teacher_forced(self):
        """True when training can only ever take the teacher-forced path.

        That is when the schedule is 1 at every step, no `TeacherForcingSwitch` is
        attached and no switch has fired: a model saved after its switch fired (the
        cap is a weight) keeps the capped ratio after `load_model`, without the
        callback. Read when `train_step` is traced.
        """
        return (self.teacher_forcing.is_always_one and not self.switch_enabled
                and not self.switch_fired)

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

    def _step_key(self, step, salt):
        return tf.stack([tf.cast(self.seed, tf.int32) + salt,
                         tf.cast(step, tf.int32)])

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

    def _encode(self, source_ids, training=None):
        source_ids = tf.cast(source_ids, tf.int32)
        memory, states = self.encoder(source_ids, training=training)
        return memory, tf.not_equal(source_ids, PAD_ID), states

    def scheduled_forward(self, source_ids, decoder_input_ids, ratio, step,
                          training=True):
        """Logits under teacher-forcing ratio `ratio` (what `train_step` trains on).

        Args:
            source_ids: int `(batch_size, Ts)`.
            decoder_input_ids: int `(batch_size, T)`.
            ratio: float32 scalar, probability of feeding the ground truth.
            step: int scalar keying the stateless coin tosses and samples.
            training: Python bool.

        Returns:
            float32 logits `(batch_size, T, target_vocabulary_size)`.
        """
        memory, mask, states = self._encode(source_ids, training)
        decoder_input_ids = tf.cast(decoder_input_ids, tf.int32)

        def teacher_forced():
            return self.decoder(decoder_input_ids, memory, memory_mask=mask,
                                initial_state=states, training=training)

        def with_truth(use_truth):
            if self.teacher_forcing_mode == "parallel":
                return self._parallel_forward(decoder_input_ids, memory, mask, states,
                                              use_truth, step, training)
            return self.decoder.run_loop(
                decoder_input_ids, memory, mask, states, training=training,
                use_truth=use_truth, feedback=self.teacher_forcing_feedback,
                seed=self._step_key(step, 2))

        # XLA (compile(jit_compile=True)) cannot compile the Keras RNN layer's
        # while loop inside a tf.cond branch; there the loop (or the parallel
        # passes) always runs, on all-true coins where the fast path would have.
        xla = bool(getattr(self, "jit_compile", False))
        if self.teacher_forcing_granularity == "batch":
            coin = tf.random.stateless_uniform([], seed=self._step_key(step, 0))
            if xla:
                return with_truth(tf.fill(tf.shape(decoder_input_ids), coin < ratio))
            free = tf.zeros(tf.shape(decoder_input_ids), tf.bool)
            return tf.cond(coin < ratio, teacher_forced, lambda: with_truth(free))
        coins = tf.random.stateless_uniform(
            tf.shape(decoder_input_ids), seed=self._step_key(step, 1))
        if xla:
            return with_truth(coins < ratio)
        return tf.cond(ratio >= 1.0, teacher_forced, lambda: with_truth(coins < ratio))

    def _parallel_forward(self, decoder_input_ids, memory, mask, states, use_truth,
                          step, training):
        """Parallel scheduled sampling (Duckworth et al. 2019).

        Each pass runs the teacher-forced decoder on the current inputs without
        gradient, takes its predictions (argmax or a sample), shifts them one step
        right (the prediction made at step t-1 is the input of step t) and puts them
        where the coins say "model"; the final pass, with gradient, trains on those
        mixed inputs through the fast teacher-forced path.
        """
        use_truth = tf.logical_or(use_truth, tf.equal(
            tf.range(tf.shape(decoder_input_ids)[1])[None, :], 0))
        inputs = decoder_input_ids
        for index in range(self.parallel_passes):
            logits = tf.stop_gradient(self.decoder(
                inputs, tf.stop_gradient(memory), memory_mask=mask,
                initial_state=tf.nest.map_structure(tf.stop_gradient, states),
                training=training))
            if self.teacher_forcing_feedback == "sample":
                key = tf.random.experimental.stateless_fold_in(
                    self._step_key(step, 3), index)
                flat = tf.reshape(logits, [-1, tf.shape(logits)[-1]])
                predicted = tf.reshape(
                    tf.cast(tf.random.stateless_categorical(flat, 1, seed=key), tf.int32),
                    tf.shape(decoder_input_ids))
            else:
                predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
            shifted = tf.concat([decoder_input_ids[:, :1], predicted[:, :-1]], axis=1)
            inputs = tf.where(use_truth, decoder_input_ids, shifted)
        return self.decoder(inputs, memory, memory_mask=mask, initial_state=states,
                            training=training)

    def free_running_logits(self, source_ids, decoder_input_ids, training=False):
        """Logits when every step is fed the model's own argmax (ratio 0)."""
        memory, mask, states = self._encode(source_ids, training)
        ids = tf.cast(decoder_input_ids, tf.int32)
        return self.decoder.run_loop(ids, memory, mask, states, training=training,
                                     use_truth=tf.zeros(tf.shape(ids), tf.bool))

    # ------------------------------------------------------------------ loss, metrics
    def _token_weights(self, y, sample_weight=None):
        weights = tf.cast(tf.not_equal(tf.cast(y, tf.int32), PAD_ID), tf.float32)
        if sample_weight is not None:
            sample_weight = tf.cast(sample_weight, tf.float32)
            if sample_weight.shape.rank == 1:
                sample_weight = sample_weight[:, None]
            weights = weights * sample_weight
        return weights

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
                                        self._token_weights(y, sample_weight),
                                        training=training)
        y = tf.cast(y, tf.int32)
        weights = self._token_weights(y, sample_weight)
        logits = tf.cast(y_pred, tf.float32)
        if self.label_smoothing:
            labels = tf.one_hot(y, tf.shape(logits)[-1], dtype=tf.float32)
            losses = tf.nn.softmax_cross_entropy_with_logits(
                labels * (1.0 - self.label_smoothing)
                + self.label_smoothing / tf.cast(tf.shape(logits)[-1], tf.float32),
                logits)
        else:
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
        total = tf.reduce_sum(losses * weights)
        count = tf.reduce_sum(weights)
        replicas = 1
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            replicas = replica.num_replicas_in_sync
            count = replica.all_reduce(tf.distribute.ReduceOp.SUM, count)
            # Keras multiplies the reported loss by the replica count (see
            # unscale_loss_for_distribution); the gradients are summed.
        loss = tf.math.divide_no_nan(total, count)
        for extra in self.losses:
            # Every replica computes the whole regularisation loss; the gradients
            # are summed over replicas, so each adds its 1/N share.
            loss += tf.cast(tf.reduce_sum(extra), tf.float32) / replicas
        return loss

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

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        weights = self._token_weights(y, sample_weight)
        self.token_accuracy.update_state(_hits(y, y_pred), sample_weight=weights)
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
        from keras_seq2seq.text.pipelines import shuffle_epoch_variable

        args = list(args)
        if len(args) > 3:  # batch_size, epochs, verbose, callbacks, ...
            if callbacks is not None:
                raise TypeError("fit() got multiple values for argument 'callbacks'")
            callbacks = args[3]
            args[3] = None
        callbacks = list(callbacks or [])
        if shuffle_epoch_variable(x) is not None and not any(
                isinstance(c, EpochShuffle) for c in callbacks):
            callbacks.append(EpochShuffle(x))
        if isinstance(x, tf.data.Dataset):
            # Keras ignores `shuffle` for datasets, but warns when it is left True.
            kwargs.setdefault("shuffle", False)
        if len(args) > 3:
            args[3] = callbacks
            return super().fit(x, y, *args, **kwargs)
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras builds the optimizer and compiled metrics from one batch, reduced
        # with strategy.reduce("MEAN") over the replicas; under
        # MultiWorkerMirroredStrategy that reduce fails for our int32 token ids.
        # The functional graph is built in __init__, so only the optimizer (and
        # compiled metrics, if any) need building: do that without the batch.
        if self._distribute_strategy is None or self._compile_metrics is not None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        source_ids, decoder_input_ids = self._unpack_inputs(x)
        step = self.optimizer.iterations
        ratio = self.teacher_forcing_ratio(step)
        with tf.GradientTape() as tape:
            if self.always_teacher_forced:
                y_pred = self((source_ids, decoder_input_ids), training=True)
            else:
                y_pred = self.scheduled_forward(source_ids, decoder_input_ids, ratio,
                                                step, training=True)
            loss = self._compute_loss(x=x, y=y, y_pred=y_pred,
                                      sample_weight=sample_weight, training=True)
            self._loss_tracker.update_state(
                _unscale_for_distribution(loss), sample_weight=tf.shape(source_ids)[0])
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply(gradients, variables)
        logs = self.compute_metrics(x, y, y_pred, sample_weight)
        logs = {k: v for k, v in logs.items() if k != "free_running_accuracy"}
        logs["teacher_forcing_ratio"] = ratio
        return _for_multi_worker(self.distribute_strategy, logs)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        source_ids, decoder_input_ids = self._unpack_inputs(x)
        y_pred = self((source_ids, decoder_input_ids), training=False)
        loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                  training=False)
        self._loss_tracker.update_state(_unscale_for_distribution(loss),
                                        sample_weight=tf.shape(source_ids)[0])
        free = self.free_running_logits(source_ids, decoder_input_ids)
        self.free_running_accuracy.update_state(
            _free_running_hits(y, free),
            sample_weight=self._token_weights(y, sample_weight))
        return _for_multi_worker(self.distribute_strategy,
                                 self.compute_metrics(x, y, y_pred, sample_weight))

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (list, tuple, dict)):
            source_ids, decoder_input_ids = self._unpack_inputs(x)
            return self((source_ids, decoder_input_ids), training=False)
        result = self._generate(tf.cast(x, tf.int32), self.max_decode_length)
        return {"ids": result.ids, "lengths": result.lengths, "scores": result.scores}

    # ------------------------------------------------------------------ inference
    def encode(self, source_ids):
        """Encodes source ids into the decoder's initial step state.

        Args:
            source_ids: int `(batch_size, Ts)`, padded with 0.

        Returns:
            The state dict of `AttentionDecoder.initial_step_state`, ready for
            `model.decoder.step(token_ids, state)`.
        """
        source_ids = _check_ids("source_ids", source_ids, self.source_vocabulary_size)
        memory, mask, states = self._encode(source_ids, training=False)
        return self.decoder.initial_step_state(memory, mask, states)

    def _generate(self, source_ids, max_length, method="greedy", options=()):
        options = dict(options)
        memory, mask, states = self._encode(source_ids, training=False)
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
        return decoder(self.decoder.step, state, batch_size, start_id=START_ID,
                       end_id=END_ID, max_length=max_length, max_lengths=max_lengths,
                       **options)

    def generate(self, source_ids, max_length=None, method="greedy", **options):
        """Translates source ids (free running, from `[START]` to `[END]`).

        Args:
            source_ids: int `(batch_size, Ts)`, padded with 0.
            max_length: output buffer size. Defaults to `max_decode_length`.
            method: "greedy", "beam" or "sample" (`keras_seq2seq.decoding`).
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
        frozen = tuple(sorted(options.items()))
        # A string key: SavedModel tracking only walks dicts with string keys.
        key = f"{method}:{frozen!r}"
        function = self._generate_functions.pop(key, None)
        if function is None:
            function = tf.function(
                lambda ids, length: self._generate(ids, length, method, frozen),
                input_signature=[tf.TensorSpec([None, None], tf.int32),
                                 tf.TensorSpec([], tf.int32)])
            while len(self._generate_functions) >= GENERATE_CACHE_SIZE:
                self._generate_functions.pop(next(iter(self._generate_functions)))
        self._generate_functions[key] = function  # the most recently used last
        return function(source_ids, tf.constant(max_length, tf.int32))

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
            **options: decoder options, as in `generate`.

        Returns:
            A list of translated strings (one str when `texts` is a str). Empty or
            whitespace-only inputs give empty strings.
        """
        def strings(batch):
            outputs = [""] * len(batch)
            keep = [i for i, text in enumerate(batch) if text.strip()]
            if keep:
                ids = self._tokenize_sources([batch[i] for i in keep])
                result = self.generate(ids, max_length=max_length, method=method,
                                       **options)
                output_ids = result.ids[:, 0] if method == "beam" else result.ids
                if replace_unknown:
                    attention = (result.attention[:, 0] if method == "beam"
                                 else result.attention)
                    decoded = self._replace_unknown(ids, output_ids, attention)
                else:
                    decoded = [t.decode("utf-8") for t in
                               self.target_tokenizer.detokenize(output_ids).numpy()]
                for i, text in zip(keep, decoded):
                    outputs[i] = text
            return outputs

        return self._over_texts("translate", texts, strings, batch_size, verbose)

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
        from keras_seq2seq.models.translation import (
            Translation,
            translations_from_result,
        )

        def details(batch):
            outputs = [Translation("", [], [], 0.0, np.zeros((0, 0), "float32"))
                       for _ in batch]
            keep = [i for i, text in enumerate(batch) if text.strip()]
            if keep:
                ids = self._tokenize_sources([batch[i] for i in keep])
                result = self.generate(ids, max_length=max_length, method=method,
                                       **options)
                found = translations_from_result(
                    ids.numpy(), result, method == "beam", self.source_tokenizer,
                    self.target_tokenizer)
                for i, translation in zip(keep, found):
                    outputs[i] = translation
            return outputs

        return self._over_texts("translate_full", texts, details, batch_size, verbose)

    def _tokenize_sources(self, texts):
        ids = self.source_tokenizer.tokenize(tf.constant(texts))
        return ids.to_tensor() if isinstance(ids, tf.RaggedTensor) else ids

    def _over_texts(self, caller, texts, translate_batch, batch_size, verbose):
        """Runs `translate_batch(list of str) -> list` over `texts` in batches."""
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"`batch_size` must be a positive int or None. Received: "
                             f"batch_size={batch_size!r}")
        if self.source_tokenizer is None or self.target_tokenizer is None:
            raise ValueError(
                f"{caller}() needs the model's source_tokenizer and target_tokenizer. "
                "Pass them to Seq2Seq(...), or tokenize yourself and call "
                "model.generate(source_ids).")
        single = isinstance(texts, (str, bytes))
        batch = [_as_text(text, i) for i, text in enumerate([texts] if single else texts)]
        size = batch_size or max(1, len(batch))
        progress = keras.utils.Progbar(len(batch), unit_name="sentence",
                                       verbose=1 if verbose else 0)
        outputs = []
        for start in range(0, len(batch), size):
            chunk = batch[start:start + size]
            outputs.extend(translate_batch(chunk))
            progress.add(len(chunk))
        return outputs[0] if single else outputs

    def _replace_unknown(self, source_ids, output_ids, attention):
        """Detokenizes with each `[UNK]` replaced by its most attended source token."""
        from keras_seq2seq.text import CharacterTokenizer

        separator = "" if isinstance(self.target_tokenizer, CharacterTokenizer) else " "
        source_tokens = self.source_tokenizer.id_to_token(source_ids).numpy()
        source_ids, output_ids = source_ids.numpy(), output_ids.numpy()
        attention = attention.numpy()
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
                    parts.append(self.target_tokenizer.detokenize(
                        tf.constant([segment], tf.int32)).numpy()[0].decode("utf-8"))
                    segment = []
                position = int(np.argmax(attention[row, t, :source_ids.shape[1]]))
                word = source_tokens[row, position].decode("utf-8")
                parts.append(word.replace("\u2581", "").replace("##", "").strip())
            if segment:
                parts.append(self.target_tokenizer.detokenize(
                    tf.constant([segment], tf.int32)).numpy()[0].decode("utf-8"))
            texts.append(separator.join(part for part in parts if part))
        return texts

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "source_vocabulary_size": self.source_vocabulary_size,
            "target_vocabulary_size": self.target_vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "encoder_units": self.encoder_units,
            "num_layers": self.num_layers,
            "cell_type": self.cell_type,
            "bidirectional": self.bidirectional,
            "attention": self.attention,
            "attention_units": self.attention_units,
            "attention_depth": self.attention_depth,
            "attention_scale": self.attention_scale,
            "local_attention": self.local_attention,
            "attention_window": self.attention_window,
            "input_feeding": self.input_feeding,
            "dropout": self.dropout,
            "tie_embeddings": self.tie_embeddings,
            "label_smoothing": self.label_smoothing,
            "teacher_forcing": schedules.serialize(self.teacher_forcing),
            "teacher_forcing_granularity": self.teacher_forcing_granularity,
            "teacher_forcing_feedback": self.teacher_forcing_feedback,
            "teacher_forcing_mode": self.teacher_forcing_mode,
            "parallel_passes": self.parallel_passes,
            "seed": self.seed,
            "max_decode_length": self.max_decode_length,
            "source_tokenizer": _serialize_optional(self.source_tokenizer),
            "target_tokenizer": _serialize_optional(self.target_tokenizer),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _for_multi_worker(strategy, logs):
    """Logs as shape-(1,) tensors under a multi-worker strategy.

    Keras 3 reduces per-replica logs of multi-worker strategies with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on scalars; a 1-vector
    reduces to the mean over workers (and History/the progress bar read it as a
    number).
    """
    extended = getattr(strategy, "extended", None)
    if extended is None or not getattr(extended, "_in_multi_worker_mode", lambda: False)():
        return logs
    return {k: tf.reshape(tf.cast(v, tf.float32), [1]) for k, v in logs.items()}


def _hits(y, logits):
    """float32 1.0 where the argmax of `logits` equals the label `y`, else 0.0."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.cast(tf.equal(predicted, tf.cast(y, tf.int32)), tf.float32)


def _free_running_hits(y, logits):
    """`_hits` as inference scores them: after the first predicted `[END]` (which
    inference keeps, then pads), every position is a miss."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    ended = tf.cumsum(tf.cast(tf.equal(predicted, END_ID), tf.int32), axis=1,
                      exclusive=True) > 0
    hits = tf.logical_and(tf.equal(predicted, tf.cast(y, tf.int32)),
                          tf.logical_not(ended))
    return tf.cast(hits, tf.float32)


def _as_text(text, index):
    """A str from a str or UTF-8 bytes; anything else is a clear error."""
    if isinstance(text, str):
        return text
    if isinstance(text, bytes):
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(
                f"texts[{index}] is not valid UTF-8 ({error.reason} at byte "
                f"{error.start}). Decode it with the right encoding first, or pass "
                "str.") from None
    raise ValueError(
        f"texts[{index}] must be a str (or UTF-8 bytes). Received: "
        f"{type(text).__name__}")


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


def _unscale_for_distribution(loss):
    replica = tf.distribute.get_replica_context()
    if replica is not None and replica.num_replicas_in_sync > 1:
        return loss * replica.num_replicas_in_sync
    return loss


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
