"""The aiohttp application: routes, TensorFlow Serving's REST shapes, errors, limits.

`create_app(backend, name)` builds the `aiohttp.web.Application`; `serve(...)` runs it
with `aiohttp.web.run_app` (a graceful shutdown on SIGTERM and SIGINT: the listening
socket closes, requests in flight finish, then the batcher and its model thread
stop). Endpoints (every answer is JSON, errors included, except the page):

TensorFlow Serving's REST API (https://www.tensorflow.org/tfx/serving/api_rest), so
a client written for TensorFlow Serving works unchanged:

* `POST /v1/models/NAME:predict` and `/v1/models/NAME/versions/1:predict`: row format
  `{"instances": ["a", {"texts": "b"}, {"b64": "..."}]}` -> `{"predictions": [{...},
  ...]}` (a dict of the signature's outputs per instance), or columnar `{"inputs":
  ["a", "b"]}` / `{"inputs": {"texts": [...]}}` -> `{"outputs": {"translations":
  [...], ...}}`; optional `"signature_name"` (default `serving_default`; an export's
  other signatures, `tokenize`, `translate_ids`, ..., are called as they are);
* `GET /v1/models/NAME[/versions/1]`: the model status; `GET
  /v1/models/NAME[/versions/1]/metadata`: the signature defs;
* errors as TensorFlow Serving gives them: `{"error": "..."}`, HTTP 400 (404 for
  another model name or version).

Its own endpoints: `POST /api/translate` (`{"texts": [...]}` -> translations with
tokens, scores and attention), `POST /api/n_best` (`{"texts": [...], "k": 5}`), `POST
/api/score` (`{"sources": [...], "targets": [...]}`), `GET /api/metadata`, `GET
/healthz`, and the page at `/` (`/static/...`).

Limits (`Limits`): the request body size (aiohttp's `client_max_size`: 413), the
sentences a request (400), the characters a sentence (400), the sentences waiting
(503 `Busy`). See docs/serving.md.
"""

import asyncio
import base64
import dataclasses
import json
import logging
import math
import os
import time

import numpy as np
from aiohttp import web

from keras_seq2seq.serving.backends import BackendError
from keras_seq2seq.serving.batching import Batcher, Busy

__all__ = ["Limits", "RequestError", "create_app", "serve"]

LOG = logging.getLogger("keras_seq2seq.serving")
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
VERSION = "1"
DEFAULT_K = 5


@dataclasses.dataclass
class Limits:
    """What one request may ask.

    Attributes:
        max_sentences: sentences (instances, texts, pairs) a request. Default 64.
        max_chars: characters a sentence. Default 1000.
        max_body_bytes: bytes of a request body (413 beyond). Default 1 MiB.
        max_k: the largest n-best `k`. Default 16.
    """

    max_sentences: int = 64
    max_chars: int = 1000
    max_body_bytes: int = 1 << 20
    max_k: int = 16


class RequestError(Exception):
    """A bad request: answered `{"error": message}` with `status`."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclasses.dataclass
class _State:
    backend: object
    name: str
    limits: Limits
    batcher: Batcher
    started: float
    stopping: bool = False


STATE = web.AppKey("keras_seq2seq_state", _State)


# ------------------------------------------------------------------------ JSON


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def _plain(value, finite):
    """numpy (and bytes) to JSON values; non-finite floats to None when `finite`."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            if finite and not np.isfinite(value).all():
                cleaned = value.astype(object)
                cleaned[~np.isfinite(value)] = None
                return cleaned.tolist()
            return value.tolist()
        if value.dtype.kind in "iub":
            return value.tolist()
        return _plain(value.tolist(), finite)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [_plain(item, finite) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item, finite) for key, item in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and finite and not math.isfinite(value):
        return None
    return value


def _response(data, status=200, finite=True):
    """A JSON response (UTF-8, not ASCII-escaped). `finite=False` writes NaN and
    Infinity as TensorFlow Serving does (bare `NaN`, `-Infinity`)."""
    text = json.dumps(_plain(data, finite), ensure_ascii=False, allow_nan=not finite)
    return web.Response(text=text, status=status, content_type="application/json",
                        charset="utf-8")


def _error(status, message):
    return _response({"error": message}, status=status)


async def _read_json(request):
    """The request body as a JSON object, or a `RequestError` saying what is wrong."""
    body = await request.read()  # 413 beyond client_max_size
    if not body.strip():
        raise RequestError("JSON Parse error: The document is empty; send a JSON "
                           "object, e.g. {\"instances\": [\"a sentence\"]}")
    try:
        value = json.loads(body)
    except UnicodeDecodeError:
        raise RequestError("JSON Parse error: the body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise RequestError(f"JSON Parse error: {error.msg} at line {error.lineno} "
                           f"column {error.colno} (char {error.pos})") from None
    if not isinstance(value, dict):
        raise RequestError(f"the request body must be a JSON object, not a "
                           f"{_json_type(value)}")
    return value


def _check_fields(body, allowed, required=(), hint=""):
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise RequestError(
            f"unknown field{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)} in the request; this endpoint "
            f"takes {', '.join(repr(k) for k in allowed)}{hint}")
    for name in required:
        if name not in body:
            raise RequestError(f"missing field {name!r}{hint}")


def _is_b64(value):
    return (isinstance(value, dict) and len(value) == 1
            and isinstance(value.get("b64"), str))


def _b64_text(value, where):
    try:
        raw = base64.b64decode(value["b64"], validate=True)
    except ValueError:
        raise RequestError(f"{where}: Unable to base64 decode") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(f"{where}: the base64 data is not UTF-8 text") from None


def _as_text(value, where, limits, input_name="texts"):
    if _is_b64(value):
        value = _b64_text(value, where)
    if not isinstance(value, str):
        raise RequestError(
            f"{where} must be a string (the input {input_name!r} is DT_STRING, one "
            f"sentence each), not a {_json_type(value)}: {json.dumps(value)[:80]}")
    if len(value) > limits.max_chars:
        raise RequestError(
            f"{where} has {len(value)} characters; this server takes at most "
            f"{limits.max_chars} a sentence (--max-chars)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:  # JSON allows lone surrogates ("\ud800")
        raise RequestError(
            f"{where} is not valid Unicode text: a lone surrogate "
            f"{value[error.start]!r} at character {error.start}; send UTF-8 text "
            "(a surrogate pair for characters beyond U+FFFF)") from None
    return value


def _check_count(count, limits, what="sentences"):
    if count > limits.max_sentences:
        raise RequestError(
            f"the request has {count} {what}; this server takes at most "
            f"{limits.max_sentences} a request (--max-sentences): split it")


def _text_list(body, field, limits):
    value = body.get(field)
    if not isinstance(value, list):
        raise RequestError(f"{field!r} must be a list of strings, e.g. {{\"{field}\": "
                           f"[\"a sentence\"]}}, not a {_json_type(value)}")
    _check_count(len(value), limits)
    return [_as_text(item, f"{field}[{i}]", limits, field)
            for i, item in enumerate(value)]


def _bool_field(body, field, default):
    value = body.get(field, default)
    if not isinstance(value, bool):
        raise RequestError(f"{field!r} must be true or false, not a {_json_type(value)}")
    return value


# --------------------------------------------------------- TF Serving's predict


def _predict_texts(body, limits):
    """`texts` of a translate signature from a row or columnar predict body."""
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise RequestError("'instances' must be a list (one instance each), not "
                               f"a {_json_type(instances)}")
        if not instances:
            raise RequestError("No values in 'instances' array")
        _check_count(len(instances), limits)
        texts = []
        for i, item in enumerate(instances):
            where = f"instances[{i}]"
            if isinstance(item, dict) and not _is_b64(item):
                if set(item) != {"texts"}:
                    raise RequestError(
                        f"Failed to process element: {i} of 'instances' list: its keys "
                        f"{sorted(item)} must be equal to: texts (the signature's "
                        "inputs)")
                item, where = item["texts"], f"instances[{i}].texts"
            texts.append(_as_text(item, where, limits))
        return texts, "row"
    value, where = body["inputs"], "inputs"
    if isinstance(value, dict) and not _is_b64(value):
        if "texts" not in value:
            raise RequestError("Missing named input: texts in 'inputs' object")
        extra = sorted(set(value) - {"texts"})
        if extra:
            raise RequestError(f"unknown input{'s' if len(extra) > 1 else ''} "
                               f"{extra} in 'inputs'; the signature's inputs are: texts")
        value, where = value["texts"], "inputs.texts"
    if not isinstance(value, list):
        raise RequestError(f"{where} must be a list of strings (the input 'texts' has "
                           f"shape [-1]), not a {_json_type(value)}")
    _check_count(len(value), limits)
    return [_as_text(item, f"{where}[{i}]", limits) for i, item in enumerate(value)], \
        "columnar"


def _leaf(value, dtype, where, limits):
    """One element of a tensor, checked against the input's dtype."""
    if dtype == "DT_STRING":
        return _as_text(value, where, limits, "this input").encode("utf-8")
    if dtype == "DT_BOOL":
        if not isinstance(value, bool):
            raise RequestError(f"{where} must be true or false ({dtype}), not a "
                               f"{_json_type(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"{where}: JSON Value: {json.dumps(value)[:80]} Type: "
                           f"{_json_type(value)} is not of expected type: {dtype}")
    if dtype.startswith(("DT_INT", "DT_UINT")) and not isinstance(value, int):
        raise RequestError(f"{where}: {value!r} is not an integer ({dtype})")
    return value


def _tensor(value, spec, where, limits, batched):
    """A numpy array for one input from its JSON value (nested lists)."""
    np_dtype, dtype, shape = spec

    def walk(item, path):
        if isinstance(item, list):
            return [walk(x, f"{path}[{i}]") for i, x in enumerate(item)]
        return _leaf(item, dtype, path, limits)

    leaves = walk(value, where)
    try:
        array = np.array(leaves, dtype=np_dtype)
    except (ValueError, TypeError, OverflowError):
        raise RequestError(f"{where} is not a dense tensor of {dtype} (lists of unequal "
                           "lengths, or values out of range)") from None
    if np_dtype is object and any(isinstance(x, list) for x in array.reshape(-1)):
        raise RequestError(f"{where} is not a dense tensor (lists of unequal lengths)")
    if array.ndim != len(shape) or any(
            want >= 0 and got != want for got, want in zip(array.shape, shape)):
        what = "the instances" if batched else where
        raise RequestError(f"{what} give shape {list(array.shape)}; the input expects "
                           f"{shape} (-1: any size)")
    if array.ndim:
        _check_count(array.shape[0], limits)
    return array


def _predict_tensors(body, specs, limits):
    """Inputs of any signature from a row or columnar predict body."""
    names = sorted(specs)
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise RequestError("'instances' must be a list (one instance each), not "
                               f"a {_json_type(instances)}")
        if not instances:
            raise RequestError("No values in 'instances' array")
        _check_count(len(instances), limits)
        columns = {name: [] for name in names}
        for i, item in enumerate(instances):
            if len(names) == 1 and not (isinstance(item, dict) and not _is_b64(item)):
                columns[names[0]].append(item)
                continue
            if not isinstance(item, dict) or set(item) != set(names):
                raise RequestError(
                    f"Failed to process element: {i} of 'instances' list: it must be "
                    f"an object whose keys are equal to: {','.join(names)}")
            for name in names:
                columns[name].append(item[name])
        return {name: _tensor(columns[name], specs[name], f"instances[*].{name}",
                              limits, True) for name in names}, "row"
    value = body["inputs"]
    if not isinstance(value, dict) or _is_b64(value):
        if len(names) > 1:
            raise RequestError("inputs is a plain value/list, but expecting an object "
                               f"as multiple input tensors required: {','.join(names)}")
        return {names[0]: _tensor(value, specs[names[0]], "inputs", limits, False)}, \
            "columnar"
    for name in names:
        if name not in value:
            raise RequestError(f"Missing named input: {name} in 'inputs' object")
    extra = sorted(set(value) - set(names))
    if extra:
        raise RequestError(f"unknown inputs {extra} in 'inputs'; the signature's inputs "
                           f"are: {','.join(names)}")
    return {name: _tensor(value[name], specs[name], f"inputs.{name}", limits, False)
            for name in names}, "columnar"


def _predict_response(outputs, form):
    """TensorFlow Serving's JSON of output tensors (row: one dict per instance when
    there are several outputs; columnar: a dict of whole tensors)."""
    names = sorted(outputs)
    if form == "columnar":
        if len(names) == 1:
            return {"outputs": outputs[names[0]]}
        return {"outputs": {name: outputs[name] for name in names}}
    sizes = {name: (outputs[name].shape[0] if np.ndim(outputs[name]) else None)
             for name in names}
    batch = {size for size in sizes.values()}
    if None in batch or len(batch) != 1:
        raise RequestError(f"the outputs have no common batch size ({sizes}); ask in "
                           "columnar format ('inputs')")
    rows = batch.pop()
    if len(names) == 1:
        return {"predictions": [outputs[names[0]][row] for row in range(rows)]}
    return {"predictions": [{name: outputs[name][row] for name in names}
                            for row in range(rows)]}


# ----------------------------------------------------------------- handlers


def _state(request):
    return request.app[STATE]


def _split_verb(segment, method, path):
    name, _, verb = segment.partition(":")
    if method == "GET" and verb:
        raise RequestError(f"Malformed request: GET {path} (use POST for :{verb})")
    if method == "POST" and verb != "predict":
        if not verb:
            raise RequestError(f"Malformed request: POST {path} (POST to "
                               f"/v1/models/NAME:predict)")
        raise RequestError(f"this server answers :predict only, not :{verb} (its "
                           "signatures are predict signatures)")
    return name


def _find_model(request):
    """Checks the model name and version of a /v1/models/... path."""
    state = _state(request)
    info = request.match_info
    version = info.get("version")
    if version is not None:  # /v1/models/NAME/versions/V[:verb]
        name = info["model"]
        version = _split_verb(version, request.method, request.path)
    else:  # /v1/models/NAME[:verb]
        name = _split_verb(info["model"], request.method, request.path)
    if version is not None and not version.isdigit():
        raise RequestError(f"Failed to convert version: {version} to numeric.")
    if name != state.name or (version is not None and int(version) != int(VERSION)):
        spec = (f"Specific({name}, {version})" if version is not None
                else f"Latest({name})")
        raise RequestError(f"Servable not found for request: {spec} (this server "
                           f"serves {state.name!r}, version {VERSION})", status=404)
    return state


async def model_status(request):
    """GET /v1/models/NAME[/versions/1]: TensorFlow Serving's model status."""
    _find_model(request)
    return _response({"model_version_status": [{
        "version": VERSION, "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]})


async def model_metadata(request):
    """GET /v1/models/NAME[/versions/1]/metadata: the signature defs."""
    state = _find_model(request)
    defs = await state.batcher.call(state.backend.signature_defs)
    return _response({
        "model_spec": {"name": state.name, "signature_name": "", "version": VERSION},
        "metadata": {"signature_def": {"signature_def": defs}}})


async def predict(request):
    """POST /v1/models/NAME[/versions/1]:predict in TensorFlow Serving's shapes."""
    state = _find_model(request)
    body = await _read_json(request)
    _check_fields(body, ("instances", "inputs", "signature_name"),
                  hint=" ('instances' for the row format or 'inputs' for the columnar "
                       "one, and optionally 'signature_name')")
    if "instances" in body and "inputs" in body:
        raise RequestError("Not formatted correctly expecting only one of 'inputs' or "
                           "'instances' keys to exist")
    if "instances" not in body and "inputs" not in body:
        raise RequestError("Missing 'inputs' or 'instances' key")
    signature = body.get("signature_name", "")
    if not isinstance(signature, str):
        raise RequestError("'signature_name' key must be a string value")
    signature = signature or "serving_default"
    backend = state.backend
    defs = backend.signature_defs()
    if signature not in defs or not defs[signature]["inputs"]:
        raise RequestError(f"Serving signature name: \"{signature}\" not found in "
                           f"signature def (signatures: "
                           f"{sorted(n for n in defs if not n.startswith('__'))})")
    if signature in backend.text_signatures():
        texts, form = _predict_texts(body, state.limits)
        result = await state.batcher.submit(("translate",), texts)
        wanted = set(defs[signature]["outputs"])
        outputs = {name: value for name, value in result.outputs.items()
                   if name in wanted}
    else:
        tensors, form = _predict_tensors(body, backend.input_specs(signature),
                                         state.limits)
        outputs = await state.batcher.call(backend.predict, signature, tensors)
    return _response(_predict_response(outputs, form), finite=False)


async def api_translate(request):
    """POST /api/translate: `{"texts": [...], "attention": true}` -> translations."""
    state = _state(request)
    body = await _read_json(request)
    _check_fields(body, ("texts", "attention"), required=("texts",))
    texts = _text_list(body, "texts", state.limits)
    with_attention = _bool_field(body, "attention", True)
    result = await state.batcher.submit(("translate",), texts)
    found = []
    for text, row in zip(texts, result.rows()):
        row["source"] = text
        if not with_attention:
            del row["attention"]
        found.append(row)
    return _response({"model": state.name,
                      "decoding": state.backend.describe()["decoding"],
                      "translations": found})


def _k_field(body, state):
    described = state.backend.describe()["n_best"]
    limit = state.limits.max_k
    if described.get("max_k"):
        limit = min(limit, int(described["max_k"]))
    k = body.get("k", min(DEFAULT_K, limit))
    if isinstance(k, bool) or not isinstance(k, int):
        raise RequestError(f"'k' must be an integer from 1 to {limit}, not a "
                           f"{_json_type(k)}")
    if not 1 <= k <= limit:
        raise RequestError(f"'k' must be from 1 to {limit} (this server's largest "
                           f"n-best list), got {k}")
    return k


async def api_n_best(request):
    """POST /api/n_best: `{"texts": [...], "k": 5}` -> the k best per text."""
    state = _state(request)
    body = await _read_json(request)
    _check_fields(body, ("texts", "k"), required=("texts",))
    texts = _text_list(body, "texts", state.limits)
    described = state.backend.describe()["n_best"]
    if not described["available"]:
        state.backend.n_best([], 1)  # raises the backend's explanation
    k = _k_field(body, state)
    found = await state.batcher.submit(("n_best", k), texts)
    return _response({"model": state.name, "k": k, "n_best": [
        [{"text": text, "score": score} for text, score in hyps] for hyps in found]})


async def api_score(request):
    """POST /api/score: `{"sources": [...], "targets": [...]}` -> log-probabilities."""
    state = _state(request)
    body = await _read_json(request)
    _check_fields(body, ("sources", "targets", "length_normalize"),
                  required=("sources", "targets"))
    sources = _text_list(body, "sources", state.limits)
    targets = _text_list(body, "targets", state.limits)
    if len(sources) != len(targets):
        raise RequestError(f"'sources' and 'targets' must have the same length, got "
                           f"{len(sources)} and {len(targets)}")
    normalize = _bool_field(body, "length_normalize", False)
    if not state.backend.describe()["score"]["available"]:
        state.backend.score([], [], normalize)  # raises the backend's explanation
    found = await state.batcher.submit(("score", normalize),
                                       list(zip(sources, targets)))
    for source, target, item in zip(sources, targets, found):
        item["source"], item["target"] = source, target
    return _response({"model": state.name, "length_normalize": normalize,
                      "scores": found})


def _batching(state):
    batcher = state.batcher
    return {"max_batch_size": batcher.max_batch_size,
            "max_wait_ms": batcher.max_wait * 1000.0,
            "max_pending": batcher.max_pending, "pending": batcher.pending,
            **batcher.stats}


async def healthz(request):
    """GET /healthz: 200 `{"status": "ok", ...}` while serving, 503 when stopping."""
    state = _state(request)
    return _response({"status": "stopping" if state.stopping else "ok",
                      "model": state.name, "kind": state.backend.kind,
                      "uptime_s": round(time.monotonic() - state.started, 3),
                      "batching": _batching(state)},
                     status=503 if state.stopping else 200)


def _short_signature(signature):
    def side(tensors):
        return {name: {"dtype": info["dtype"],
                       "shape": [int(d["size"]) for d in info["tensor_shape"]["dim"]]}
                for name, info in tensors.items()}

    return {"inputs": side(signature["inputs"]), "outputs": side(signature["outputs"])}


async def api_metadata(request):
    """GET /api/metadata: the model, its signatures, decoding, limits, batching."""
    state = _state(request)
    backend = state.backend
    defs = await state.batcher.call(backend.signature_defs)
    described = backend.describe()
    return _response({
        "name": state.name, "version": VERSION, **described,
        "text_signatures": backend.text_signatures(),
        "signatures": {name: _short_signature(sig) for name, sig in defs.items()
                       if not name.startswith("__")},
        "limits": dataclasses.asdict(state.limits),
        "batching": _batching(state),
        "endpoints": {
            "predict": f"POST /v1/models/{state.name}:predict",
            "status": f"GET /v1/models/{state.name}",
            "metadata": f"GET /v1/models/{state.name}/metadata",
            "translate": "POST /api/translate", "n_best": "POST /api/n_best",
            "score": "POST /api/score", "health": "GET /healthz", "page": "GET /"},
    })


async def index(request):
    """GET /: the page."""
    return web.FileResponse(os.path.join(STATIC_DIR, "index.html"),
                            headers={"Cache-Control": "no-cache"})


@web.middleware
async def _errors(request, handler):
    """Every error as `{"error": message}` JSON with its status."""
    try:
        return await handler(request)
    except RequestError as error:
        return _error(error.status, error.message)
    except BackendError as error:
        return _error(400, str(error))
    except Busy as error:
        return _error(503, str(error))
    except web.HTTPException as error:
        if error.status < 400:
            raise
        if error.status == 404:
            message = (f"no endpoint {request.method} {request.path}; GET "
                       "/api/metadata lists the endpoints")
        elif error.status == 405:
            allowed = ", ".join(sorted(getattr(error, "allowed_methods", ()) or ()))
            message = (f"{request.method} is not allowed for {request.path}"
                       + (f" (use {allowed})" if allowed else ""))
        elif error.status == 413:
            message = (f"{error.text.rstrip('.')}: the request is too large "
                       "(--max-request-bytes); send fewer or shorter sentences a "
                       "request")
        else:
            message = error.text or error.reason
        return _error(error.status, message)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # a bug or a model failure: 500, logged
        LOG.exception("request %s %s failed", request.method, request.path)
        return _error(500, f"internal error: {type(error).__name__}: {error}")


def _run_batch(backend):
    def run(key, items):
        if key[0] == "translate":
            return backend.translate(items)
        if key[0] == "n_best":
            return backend.n_best(items, key[1])
        if key[0] == "score":
            sources = [source for source, _ in items]
            targets = [target for _, target in items]
            return backend.score(sources, targets, key[1])
        raise ValueError(f"unknown batch key {key!r}")

    return run


def create_app(backend, name, limits=None, max_batch_size=32, max_wait=0.002,
               max_pending=4096, warm_up=True):
    """The aiohttp application serving `backend` as model `name`.

    Args:
        backend: a `keras_seq2seq.serving.backends` backend (`load_backend`).
        name: the model name of the TensorFlow Serving paths.
        limits: a `Limits` (defaults: `Limits()`).
        max_batch_size: most sentences in one model call. Defaults to 32.
        max_wait: seconds the batcher waits for requests to join a batch. Defaults
            to 0.002.
        max_pending: most sentences waiting (503 beyond). Defaults to 4096.
        warm_up: translate one sentence at start-up (in the model thread), so the
            first request does not wait for tracing. Defaults to True.

    Returns:
        An `aiohttp.web.Application` (run it with `serve` or `web.run_app`).
    """
    limits = limits or Limits()
    app = web.Application(client_max_size=limits.max_body_bytes,
                          middlewares=[_errors])
    batcher = Batcher(_run_batch(backend), max_batch_size=max_batch_size,
                      max_wait=max_wait, max_pending=max_pending)
    app[STATE] = _State(backend, name, limits, batcher, time.monotonic())

    async def start(app):
        batcher.start()
        if warm_up:
            await batcher.call(backend.warm_up)
        await batcher.call(backend.signature_defs)

    async def stopping(app):
        app[STATE].stopping = True

    async def stop(app):
        await batcher.close()

    app.on_startup.append(start)
    app.on_shutdown.append(stopping)
    app.on_cleanup.append(stop)
    add = app.router.add_route
    for prefix in ("/v1/models/{model}", "/v1/models/{model}/versions/{version}"):
        add("GET", prefix, model_status)
        add("POST", prefix, predict)
        add("GET", prefix + "/metadata", model_metadata)
    add("POST", "/api/translate", api_translate)
    add("POST", "/api/n_best", api_n_best)
    add("POST", "/api/score", api_score)
    add("GET", "/api/metadata", api_metadata)
    add("GET", "/healthz", healthz)
    add("GET", "/", index)
    app.router.add_static("/static/", STATIC_DIR, show_index=False)
    return app


def serve(backend, name, host="127.0.0.1", port=8501, limits=None, max_batch_size=32,
          max_wait=0.002, max_pending=4096, shutdown_timeout=10.0, print_fn=print):
    """Serves `backend` until SIGTERM or SIGINT (then shuts down gracefully).

    Args:
        backend, name, limits, max_batch_size, max_wait, max_pending: as in
            `create_app`.
        host: the address to bind. Defaults to 127.0.0.1 (this machine only).
        port: the TCP port. Defaults to 8501 (TensorFlow Serving's REST port).
        shutdown_timeout: seconds requests in flight get to finish at shutdown.
        print_fn: prints the line saying where it listens (None: silent).
    """
    app = create_app(backend, name, limits, max_batch_size, max_wait, max_pending)
    shown = f"[{host}]" if ":" in host else host

    def started(_message):
        if print_fn is not None:
            print_fn(f"keras-seq2seq serve: {name} ({backend.kind}, "
                     f"{backend.describe()['decoding']['method']}) on "
                     f"http://{shown}:{port}/ ; TensorFlow Serving REST: POST "
                     f"http://{shown}:{port}/v1/models/{name}:predict ; stop with "
                     "Ctrl-C or SIGTERM", flush=True)

    web.run_app(app, host=host, port=port, shutdown_timeout=shutdown_timeout,
                print=started, access_log=None)
    if print_fn is not None:
        print_fn("keras-seq2seq serve: stopped", flush=True)
