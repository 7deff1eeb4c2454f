"""Luong et al. (2015) local attention: local-m (monotonic) and local-p (predictive).

At decoder step t the layer attends only to the source positions of a window
[pₜ − D, pₜ + D] around an aligned position pₜ, scored with one of the global scores
(dot, general, concat) of `keras_seq2seq.layers.attention`:

* local-m (``mode="monotonic"``): pₜ = t, the 0-based decoder time index, given by the
  `positions` call argument (``arange(Tq)`` by default for an all-steps query);
* local-p (``mode="predictive"``): pₜ = (S − 1)·sigmoid(v_pᵀ tanh(W_p hₜ)), S the true
  source length of the sentence, and the softmax weights are multiplied by
  exp(−(s − pₜ)² / (2σ²)), σ = D/2.

The layer only adds the window: the scores are its inner global layer's
(`compute_scores`), and the masked softmax and weighted sum are
`LuongAttention.attend`, with the window as the mask and, for local-p, the Gaussian
as the extra weights.

Written with `keras.ops` only, so the layer runs on every Keras 3 backend.
"""

from keras import ops

from keras_seq2seq._serialization import register
from keras_seq2seq.checks import check_int
from keras_seq2seq.constants import ATTENTION_NAMES
from keras_seq2seq.layers.attention import LuongAttention, shape_text, make_score_layer

LOCAL_MODES = ("monotonic", "predictive")
LOCAL_SCORES = ATTENTION_NAMES  # the scores usable inside the window: all of them


@register
class LocalAttention(LuongAttention):
    """Luong et al. (2015) local attention (local-m and local-p).

    For a decoder state hₜ (the query), encoder outputs h̄ₛ (the values, positions
    s = 0 … Ts−1) and an aligned position pₜ:

        window  Wₜ = {s : |s − pₜ| ≤ D, s not padding}
        aₜ(s)   = softmax_{s ∈ Wₜ}(score(hₜ, h̄ₛ))            (0 outside Wₜ)
        aₜ(s)  *= exp(−(s − pₜ)² / (2σ²)),  σ = D/2           (local-p only)
        cₜ      = Σₛ aₜ(s) h̄ₛ

    * local-m (``mode="monotonic"``): pₜ = t, the decoder time index of the query
      (the `positions` argument), an integer.
    * local-p (``mode="predictive"``): pₜ = (S − 1)·sigmoid(v_pᵀ tanh(W_p hₜ)), a real
      number. S is the true source length of the sentence, the number of True
      entries of `values_mask` (Ts without a mask). The paper writes pₜ = S·sigmoid(…)
      with pₜ ∈ [0, S]; with 0-based positions 0 … S−1 this layer uses S − 1 so that
      pₜ spans exactly the real positions, and clips pₜ into [0, max(S − 1, 0)].
      The Gaussian is applied AFTER the softmax over the window, as in the paper, so
      the weights of a local-p row sum to at most 1, not to 1.

    The window is clipped at the sentence edges: a sentence shorter than the window
    simply uses all its positions. Positions outside the window and padding positions
    get weight exactly 0 (their score is replaced by −1e9 before the softmax, whose
    output is then multiplied by the window mask). A row whose window holds no real
    position (e.g. local-m with t − D beyond the last real position) gives zero
    weights and a zero context, never NaN. Scores, the softmax and the positions are
    computed in float32 whatever the dtype policy.

    `values_mask` is assumed to mark a right-padded sentence (real tokens first);
    that is what makes "the number of real tokens" the source length S of local-p.

    Args:
        score: "dot", "general" or "concat": the score used inside the window. The
            layer owns the corresponding `DotAttention`/`GeneralAttention`/
            `ConcatAttention` as `score_layer` and reuses its `precompute`,
            `compute_scores` and `check_dims`. Defaults to "general".
        mode: "monotonic" (local-m) or "predictive" (local-p). Defaults to
            "monotonic".
        window: the half-width D of the window, an int >= 0 (>= 1 for
            "predictive", where σ = D/2 must be positive). Defaults to 10 (the
            paper's D).
        units: width of the concat score's tanh layers and of the local-p position
            network W_p; required for score="concat" and mode="predictive".
        depth: number of the concat score's tanh layers. Defaults to 1.
        scale: divide the dot score by √d. Defaults to False.
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).

    Call arguments:
        The call arguments of every attention layer (see `LuongAttention`): a query
        `(batch_size, dim_q)` (one decoder step) or `(batch_size, Tq, dim_q)` (all
        steps), values `(batch_size, Ts, dim_v)`, an optional boolean values_mask
        `(batch_size, Ts)` (True at real tokens; the Keras mask of `values` by
        default), optional keys from `precompute(values)`, training (unused), and
        positions: local-m only (local-p ignores it): the decoder time index of each
            query, int, `()` or `(batch_size,)` for a rank-2 query (required there),
            `(batch_size, Tq)` for a rank-3 query (defaults to `arange(Tq)` there:
            all steps of a teacher-forced target).

    Returns:
        `(context, weights)`: context `(batch_size, [Tq,] dim_v)` and weights
        `(batch_size, [Tq,] Ts)`. The query's Keras mask passes through to both.
    """

    def __init__(self, score="general", mode="monotonic", window=10, units=None,
                 depth=1, scale=False, **kwargs):
        super().__init__(**kwargs)
        if score not in LOCAL_SCORES:
            raise ValueError(
                f"Expected one of {LOCAL_SCORES} for `score`. Received: score={score!r}")
        if mode not in LOCAL_MODES:
            raise ValueError(
                f"Expected one of {LOCAL_MODES} for `mode`. Received: mode={mode!r}")
        window = check_int("window", window, 0)
        if mode == "predictive" and window < 1:
            raise ValueError(
                "Expected a positive int for `window` with mode='predictive' (the "
                f"Gaussian has σ = window/2). Received: window={window!r}")
        if units is not None:
            units = check_int("units", units, 1)
        elif score == "concat" or mode == "predictive":
            needs = "score='concat'" if score == "concat" else "mode='predictive'"
            raise ValueError(
                f"`units` is required with {needs}. Received: units=None")
        depth = check_int("depth", depth, 1)
        if not isinstance(scale, bool):
            raise ValueError(f"Expected a bool for `scale`. Received: scale={scale!r}")
        self.score = score
        self.mode = mode
        self.window = window
        self.units = units
        self.depth = depth
        self.scale = scale
        self.score_layer = make_score_layer(score, units, depth=depth, scale=scale,
                                            dtype=self.dtype_policy, name="score")

    # ------------------------------------------------------------------ build
    def build(self, query_shape, values_shape, keys_shape=None):
        self._check_shapes(query_shape, values_shape, keys_shape=keys_shape)
        if not self.score_layer.built:
            self.score_layer.build(query_shape, values_shape, keys_shape=keys_shape)
        if self.mode == "predictive":
            query_dim = query_shape[-1]
            if query_dim is None:
                raise ValueError(
                    f"{self.name}: the feature size of `query` must be known. "
                    f"Received: query.shape={shape_text(query_shape)}")
            self.position_kernel = self.add_weight(
                name="W_p", shape=(query_dim, self.units), initializer="glorot_uniform")
            self.position_vector = self.add_weight(
                name="v_p", shape=(self.units,), initializer="glorot_uniform")

    # ------------------------------------------------------------------ hooks
    def precompute(self, values):
        """The inner score's source-side part, once per sentence (see `LuongAttention`)."""
        return self.score_layer.precompute(values)

    def compute_scores(self, query, keys):
        """The inner score's raw scores (see `LuongAttention.compute_scores`)."""
        return self.score_layer.compute_scores(query, keys)

    def check_dims(self, query_dim, values_dim):
        """The inner score's feature-size constraints (see `LuongAttention.check_dims`)."""
        self.score_layer.check_dims(query_dim, values_dim)

    # ------------------------------------------------------------------ positions
    def _monotonic_positions(self, positions, query, one_step):
        """float32 `(batch_size, Tq)` decoder time indices."""
        if positions is None:
            if one_step:
                raise ValueError(
                    f"{self.name}: `positions` (the decoder time index, int () or "
                    "(batch_size,)) is required for a one-step (rank-2) query in "
                    "mode='monotonic'. Received: positions=None")
            # arange(Tq) broadcast over the batch, without a dynamic arange.
            ones = ops.ones_like(query[..., 0], dtype="float32")
            return ops.cumsum(ones, axis=1) - 1.0
        positions = ops.convert_to_tensor(positions)
        shape = tuple(positions.shape)
        batch = query.shape[0]
        if one_step:
            ok = len(shape) == 0 or (
                len(shape) == 1 and (None in (shape[0], batch) or shape[0] == batch))
            expected = "() or (batch_size,)"
        else:
            ok = len(shape) == 2 and all(
                a is None or b is None or a == b
                for a, b in zip(shape, tuple(query.shape[:2])))
            expected = "(batch_size, Tq)"
        if not ok:
            raise ValueError(
                f"{self.name}: `positions` must have shape {expected} for a query of "
                f"shape {shape_text(query.shape)}. Received: "
                f"positions.shape={shape_text(shape)}")
        positions = ops.cast(positions, "float32")
        if one_step:
            positions = ops.reshape(positions, (-1, 1)) + ops.zeros_like(
                query[..., 0], dtype="float32")
        return positions

    def _predictive_positions(self, query, lengths):
        """float32 `(batch_size, Tq)` pₜ = (S − 1)·sigmoid(v_pᵀ tanh(W_p hₜ))."""
        query = ops.cast(query, "float32")
        hidden = ops.tanh(ops.matmul(query, ops.cast(self.position_kernel, "float32")))
        logits = ops.einsum("bqu,u->bq", hidden, ops.cast(self.position_vector, "float32"))
        last = ops.maximum(lengths - 1.0, 0.0)[:, None]
        return ops.minimum(ops.maximum(last * ops.sigmoid(logits), 0.0), last)

    # ------------------------------------------------------------------ window
    def _weights_mask(self, query, values, values_mask, positions, one_step):
        """The window `(batch_size, Tq, Ts)` and, for local-p, its Gaussian factors.

        `LuongAttention.call` passes both to `attend`, so masking, the softmax and
        the weighted sum are the global layers' own.
        """
        source = ops.ones_like(values[..., 0], dtype="float32")  # (batch, Ts)
        source_positions = ops.cumsum(source, axis=1) - 1.0  # s = 0 … Ts−1
        if values_mask is None:
            real = source > 0.0
        else:
            real = ops.cast(values_mask, "bool")
        if self.mode == "monotonic":
            aligned = self._monotonic_positions(positions, query, one_step)
        else:
            lengths = ops.sum(ops.cast(real, "float32"), axis=1)
            aligned = self._predictive_positions(query, lengths)
        distance = source_positions[:, None, :] - aligned[:, :, None]  # (batch, Tq, Ts)
        window = ops.logical_and(
            ops.less_equal(ops.abs(distance), float(self.window)), real[:, None, :])
        if self.mode == "monotonic":
            return window, None
        sigma = self.window / 2.0
        return window, ops.exp(-ops.square(distance) / (2.0 * sigma * sigma))

    def get_config(self):
        return {
            **super().get_config(),
            "score": self.score,
            "mode": self.mode,
            "window": self.window,
            "units": self.units,
            "depth": self.depth,
            "scale": self.scale,
        }
