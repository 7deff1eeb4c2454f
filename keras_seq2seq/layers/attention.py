"""Luong et al. (2015) global attention: the dot, general and concat scores.

One base class, `LuongAttention`, owns everything the scores share: shape checks,
masking, the softmax and the weighted sum. Each score overrides two public methods:

* `precompute(values)` -- the source-side part of the score, computed once per
  sentence (`values` for dot, `W_a h̄ₛ` for general, the `h̄ₛ` half of concat's first
  layer) and reused at every decoder step through the `keys` call argument;
* `compute_scores(query, keys)` -- the raw scores of a `(batch, Tq, d)` query
  against those keys;

and may override `check_dims` (feature-size constraints). `LuongAttention.attend`
(masked softmax, then the weighted sum) is the other half, shared by every score and
by `keras_seq2seq.layers.local_attention.LocalAttention`.

`ATTENTION_SCORES` maps the score names of `keras_seq2seq.constants.ATTENTION_NAMES`
to their classes, and `make_score_layer` builds one by name.

Written with `keras.ops` only, so the layers run on every Keras 3 backend.
"""

import math

import keras
from keras import ops

from keras_seq2seq._serialization import register
from keras_seq2seq.constants import ATTENTION_NAMES


def shape_text(shape):
    """A shape as error messages print it: `(2, None, 8)`."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


@register
class LuongAttention(keras.layers.Layer):
    """Base class of the Luong attention scores.

    For a decoder state hₜ (the query) and encoder outputs h̄ₛ (the values):

        aₜ(s) = softmax_s(score(hₜ, h̄ₛ))   over unmasked s
        cₜ    = Σₛ aₜ(s) h̄ₛ

    Masked source positions get weight exactly 0 (the softmax output is multiplied
    by the mask), the weights of a row sum to 1, and a row whose every position is
    masked gives zero weights and a zero context (never NaN). Scores and the softmax
    are computed in float32 whatever the dtype policy, then cast back.

    Subclasses override `precompute` and `compute_scores` (and `build` for their
    weights, `check_dims` for feature-size constraints). Every attention layer of the
    package, `LocalAttention` included, is called with the same arguments.

    Call arguments:
        query: `(batch_size, dim_q)` for one decoder step, or
            `(batch_size, Tq, dim_q)` for all steps at once.
        values: `(batch_size, Ts, dim_v)` encoder outputs.
        values_mask: optional boolean `(batch_size, Ts)`, True at real tokens.
            Defaults to the Keras mask of `values` when it has one.
        keys: optional `(batch_size, Ts, dim_k)` output of `precompute(values)`,
            to skip recomputing the source-side part of the score at every step.
        positions: optional decoder time index of the query. Ignored by global
            attention; accepted so that every attention layer takes the same call
            arguments (`LocalAttention` uses it for local-m).
        training: unused; accepted for the same reason.

    Returns:
        `(context, weights)`: context `(batch_size, [Tq,] dim_v)` and weights
        `(batch_size, [Tq,] Ts)`. The query's Keras mask passes through to both.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    # ------------------------------------------------------------------ hooks
    def precompute(self, values):
        """The source-side part of the score, once per sentence.

        Args:
            values: `(batch_size, Ts, dim_v)` encoder outputs.

        Returns:
            keys `(batch_size, Ts, dim_k)` to pass as `keys=` at every step.
        """
        return values

    def compute_scores(self, query, keys):
        """The raw scores (before masking and softmax) of a query against keys.

        Args:
            query: `(batch_size, Tq, dim_q)`; a one-step query has Tq = 1.
            keys: `(batch_size, Ts, dim_k)`, the output of `precompute(values)`.

        Returns:
            scores `(batch_size, Tq, Ts)` in the dtype of `query`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must override compute_scores(query, keys)."
        )

    def check_dims(self, query_dim, values_dim):
        """Raises `ValueError` unless the score accepts these feature sizes.

        The base accepts any; a subclass adds its own constraints.

        Args:
            query_dim: the last dimension of `query`, or None when unknown.
            values_dim: the last dimension of `values`, or None when unknown.
        """

    # ------------------------------------------------------------------ checks
    def _check_shapes(self, query_shape, values_shape, values_mask_shape=None,
                      keys_shape=None):
        query_shape = tuple(query_shape)
        values_shape = tuple(values_shape)
        if len(query_shape) not in (2, 3):
            raise ValueError(
                f"{self.name}: `query` must have rank 2 (batch_size, dim) for one "
                "decoder step or rank 3 (batch_size, Tq, dim) for all steps. "
                f"Received: query.shape={shape_text(query_shape)}"
            )
        if len(values_shape) != 3:
            raise ValueError(
                f"{self.name}: `values` must have rank 3 (batch_size, Ts, dim). "
                f"Received: values.shape={shape_text(values_shape)}"
            )
        qb, vb = query_shape[0], values_shape[0]
        if qb is not None and vb is not None and qb != vb:
            raise ValueError(
                f"{self.name}: `query` and `values` must have the same batch size. "
                f"Received: query.shape={shape_text(query_shape)}, "
                f"values.shape={shape_text(values_shape)}"
            )
        if values_mask_shape is not None:
            values_mask_shape = tuple(values_mask_shape)
            expected = (vb, values_shape[1])
            if len(values_mask_shape) != 2 or any(
                a is not None and b is not None and a != b
                for a, b in zip(values_mask_shape, expected)
            ):
                raise ValueError(
                    f"{self.name}: `values_mask` must have shape "
                    f"{shape_text(expected)} (batch_size, Ts). "
                    f"Received: values_mask.shape={shape_text(values_mask_shape)}"
                )
        if keys_shape is not None:
            keys_shape = tuple(keys_shape)
            if len(keys_shape) != 3 or any(
                a is not None and b is not None and a != b
                for a, b in zip(keys_shape[:2], values_shape[:2])
            ):
                raise ValueError(
                    f"{self.name}: `keys` must come from precompute(values) and have "
                    f"shape (batch_size, Ts, dim) = {shape_text(values_shape[:2])} + "
                    f"(dim,). Received: keys.shape={shape_text(keys_shape)}"
                )
        self.check_dims(query_shape[-1], values_shape[-1])

    # ------------------------------------------------------------------ call
    def attend(self, scores, values, mask=None, extra_weights=None):
        """Masked softmax of the scores, then the weighted sum of the values.

        Args:
            scores: float32 `(batch_size, Tq, Ts)`, e.g. from `compute_scores`.
            values: `(batch_size, Ts, dim_v)` encoder outputs.
            mask: optional boolean `(batch_size, Ts)` or `(batch_size, Tq, Ts)`,
                True where a position may be attended (see `masked_softmax`).
            extra_weights: optional float32 factors broadcastable to
                `(batch_size, Tq, Ts)`, multiplied into the weights after the
                softmax (local-p's Gaussian); the rows then sum to at most 1.

        Returns:
            `(context, weights)` in the layer's compute dtype: context
            `(batch_size, Tq, dim_v)` and weights `(batch_size, Tq, Ts)`.
        """
        weights = masked_softmax(scores, mask)
        if extra_weights is not None:
            weights = weights * extra_weights
        weights = ops.cast(weights, self.compute_dtype)
        return ops.matmul(weights, ops.cast(values, self.compute_dtype)), weights

    def _weights_mask(self, query, values, values_mask, positions, one_step):
        """`(mask, extra_weights)` for `attend`, given a rank-3 `query`.

        Global attention masks the padding only (`positions` is ignored);
        `LocalAttention` overrides this with its window.
        """
        return values_mask, None

    def call(self, query, values, values_mask=None, keys=None, positions=None,
             training=None):
        self._check_shapes(
            query.shape, values.shape,
            None if values_mask is None else values_mask.shape,
            None if keys is None else keys.shape,
        )
        one_step = len(query.shape) == 2
        if one_step:
            query = ops.expand_dims(query, 1)
        if keys is None:
            keys = self.precompute(values)
        scores = ops.cast(self.compute_scores(query, keys), "float32")
        mask, extra_weights = self._weights_mask(
            query, values, values_mask, positions, one_step)
        context, weights = self.attend(scores, values, mask, extra_weights)
        if one_step:
            context = ops.squeeze(context, 1)
            weights = ops.squeeze(weights, 1)
        return context, weights

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return (mask, mask)

    def get_config(self):
        return super().get_config()


def dot_scores(query, keys):
    """`query · keysᵀ` per example: `(batch, Tq, d)`, `(batch, Ts, d)` -> `(batch, Tq, Ts)`.

    One batched matmul that reads `keys` transposed (an einsum), with no transpose
    op of its own: inside a decoding or scheduled-sampling loop `keys` is the same
    at every step, and an explicit transpose would copy it at every step.
    """
    return ops.einsum("bqd,bsd->bqs", query, ops.cast(keys, query.dtype))


def masked_softmax(scores, mask=None):
    """Softmax over the last axis that gives masked positions weight exactly 0.

    Args:
        scores: float32 `(batch_size, Tq, Ts)`.
        mask: optional boolean `(batch_size, Ts)` (the same for every query step)
            or `(batch_size, Tq, Ts)` (one per step, e.g. a local window), True
            where a position may be attended.

    Returns:
        float32 weights of the shape of `scores`; rows sum to 1, or are all zero
        when every position of the row is masked.
    """
    if mask is None:
        return ops.softmax(scores, axis=-1)
    mask = ops.cast(mask, "bool")
    if len(mask.shape) == 2:
        mask = ops.expand_dims(mask, 1)
    scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
    return ops.softmax(scores, axis=-1) * ops.cast(mask, scores.dtype)


@register
class DotAttention(LuongAttention):
    """Dot score: score(hₜ, h̄ₛ) = hₜᵀ h̄ₛ, optionally divided by √d ("scaled dot").

    The query and the values must have the same feature size.

    Args:
        scale: divide the scores by √d (Vaswani et al. 2017). Defaults to False.
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).
    """

    def __init__(self, scale=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(scale, bool):
            raise ValueError(f"Expected a bool for `scale`. Received: scale={scale!r}")
        self.scale = scale

    def check_dims(self, query_dim, values_dim):
        if query_dim is not None and values_dim is not None and query_dim != values_dim:
            raise ValueError(
                f"{self.name}: the dot score needs `query` and `values` of the same "
                f"feature size. Received: query dim={query_dim}, values dim="
                f"{values_dim}. Use GeneralAttention or ConcatAttention for "
                "different sizes."
            )

    def build(self, query_shape, values_shape, keys_shape=None):
        self._check_shapes(query_shape, values_shape, keys_shape=keys_shape)

    def compute_scores(self, query, keys):
        scores = dot_scores(query, keys)
        if self.scale:
            scores = scores / math.sqrt(query.shape[-1])
        return scores

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@register
class GeneralAttention(LuongAttention):
    """General score: score(hₜ, h̄ₛ) = hₜᵀ W_a h̄ₛ with a learned `(dim_q, dim_v)` W_a.

    `precompute(values)` returns W_a h̄ₛ for every s, `(batch_size, Ts, dim_q)`.

    Args:
        kernel_initializer: initializer of W_a. Defaults to "glorot_uniform".
        **kwargs: base `keras.layers.Layer` arguments.
    """

    def __init__(self, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, query_shape, values_shape, keys_shape=None):
        self._check_shapes(query_shape, values_shape, keys_shape=keys_shape)
        query_dim, values_dim = query_shape[-1], values_shape[-1]
        if query_dim is None or values_dim is None:
            raise ValueError(
                f"{self.name}: the feature sizes of `query` and `values` must be "
                f"known. Received: query.shape={shape_text(query_shape)}, "
                f"values.shape={shape_text(values_shape)}"
            )
        self.kernel = self.add_weight(
            name="W_a", shape=(query_dim, values_dim),
            initializer=self.kernel_initializer,
        )

    def precompute(self, values):
        # (batch, Ts, dim_v) @ (dim_v, dim_q) = W_a h̄ₛ for every s.
        return ops.matmul(values, ops.transpose(self.kernel))

    def compute_scores(self, query, keys):
        return dot_scores(query, keys)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@register
class ConcatAttention(LuongAttention):
    """Concat score: score(hₜ, h̄ₛ) = v_aᵀ tanh(W_a [hₜ; h̄ₛ] + b).

    W_a is split into its query half W_q and source half W_k, so `precompute(values)`
    returns W_k h̄ₛ + b once per sentence. With `depth > 1` the feed-forward part is
    deeper: `depth - 1` further `tanh(W x + b)` layers of `units` come before v_a.

    Args:
        units: width of the tanh layers.
        depth: number of tanh layers before v_a. Defaults to 1 (Luong's concat).
        use_bias: add a bias to each tanh layer. Defaults to True.
        kernel_initializer: initializer of the kernels. Defaults to "glorot_uniform".
        **kwargs: base `keras.layers.Layer` arguments.
    """

    def __init__(self, units, depth=1, use_bias=True,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ValueError(
                f"Expected a positive int for `units`. Received: units={units!r}"
            )
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise ValueError(
                f"Expected a positive int for `depth`. Received: depth={depth!r}"
            )
        self.units = units
        self.depth = depth
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, query_shape, values_shape, keys_shape=None):
        self._check_shapes(query_shape, values_shape, keys_shape=keys_shape)
        query_dim, values_dim = query_shape[-1], values_shape[-1]
        init = self.kernel_initializer
        self.query_kernel = self.add_weight(
            name="W_q", shape=(query_dim, self.units), initializer=init)
        self.values_kernel = self.add_weight(
            name="W_k", shape=(values_dim, self.units), initializer=init)
        self.bias = (
            self.add_weight(name="b", shape=(self.units,), initializer="zeros")
            if self.use_bias else None
        )
        self.hidden_kernels, self.hidden_biases = [], []
        for i in range(1, self.depth):
            self.hidden_kernels.append(self.add_weight(
                name=f"W_{i}", shape=(self.units, self.units), initializer=init))
            self.hidden_biases.append(
                self.add_weight(name=f"b_{i}", shape=(self.units,), initializer="zeros")
                if self.use_bias else None
            )
        self.score_vector = self.add_weight(
            name="v_a", shape=(self.units,), initializer=init)

    def precompute(self, values):
        keys = ops.matmul(values, self.values_kernel)
        if self.bias is not None:
            keys = keys + self.bias
        return keys

    def compute_scores(self, query, keys):
        # (batch, Tq, 1, units) + (batch, 1, Ts, units)
        hidden = ops.expand_dims(ops.matmul(query, self.query_kernel), 2)
        hidden = ops.tanh(hidden + ops.expand_dims(ops.cast(keys, query.dtype), 1))
        for kernel, bias in zip(self.hidden_kernels, self.hidden_biases):
            hidden = ops.matmul(hidden, kernel)
            if bias is not None:
                hidden = hidden + bias
            hidden = ops.tanh(hidden)
        return ops.einsum("bqsu,u->bqs", hidden, self.score_vector)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "depth": self.depth,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


# The one mapping of score names to classes; its keys are the names of
# `keras_seq2seq.constants.ATTENTION_NAMES`, in that order.
ATTENTION_SCORES = dict(
    zip(ATTENTION_NAMES, (DotAttention, GeneralAttention, ConcatAttention), strict=True))
assert all(cls.__name__ == name.capitalize() + "Attention"
           for name, cls in ATTENTION_SCORES.items()), ATTENTION_SCORES


def make_score_layer(score, units=None, depth=1, scale=False, **kwargs):
    """A global attention layer of the score named `score`.

    Args:
        score: a name of `ATTENTION_SCORES`: "dot", "general" or "concat".
        units: width of concat's tanh layers; required for "concat", ignored
            otherwise.
        depth: number of concat's tanh layers; ignored by the other scores.
            Defaults to 1.
        scale: divide the dot score by √d; ignored by the other scores. Defaults
            to False.
        **kwargs: base `keras.layers.Layer` arguments (name, dtype, ...).

    Returns:
        A `DotAttention`, `GeneralAttention` or `ConcatAttention` layer.

    Raises:
        ValueError: `score` is not a score name, or an argument the score uses
            is bad.
    """
    if score not in ATTENTION_SCORES:
        raise ValueError(
            f"Expected one of {ATTENTION_NAMES} for `score`. Received: score={score!r}")
    layer_class = ATTENTION_SCORES[score]
    if layer_class is DotAttention:
        return DotAttention(scale=scale, **kwargs)
    if layer_class is ConcatAttention:
        return ConcatAttention(units, depth=depth, **kwargs)
    return layer_class(**kwargs)
