"""`keras-seq2seq serve`: a local HTTP server for a `.keras` model or a SavedModel
export, with TensorFlow Serving's REST API, JSON endpoints and a page.

The server is built on **aiohttp** (`aiohttp.web`): one well-kept package whose
asyncio server parses HTTP for us (no hand-written parsing), is natural for batching
concurrent requests in an asyncio queue (`batching.Batcher`), gives the request body
limit (`client_max_size`) and, with `web.run_app`, a graceful shutdown on SIGTERM and
SIGINT. Tests and the benchmark use its client.

* `backends`: `load_backend(path, beam=None)`, a `.keras` `Seq2Seq` or an export
  behind one interface (`translate`, `n_best`, `score`, `signature_defs`, ...);
* `batching`: `Batcher`, which gathers concurrent requests into one model call run in
  a single model thread;
* `app`: `create_app(backend, name, ...)` (routes, TensorFlow Serving's request and
  response shapes, errors, limits) and `serve(...)`;
* `static/`: the page (`index.html`, `app.js`, `style.css`; plain JS and an inline
  SVG heat map, nothing fetched from elsewhere).

The server binds to 127.0.0.1 unless told otherwise. `python -m keras_seq2seq.serving
--model PATH` runs it as `keras-seq2seq serve` does. See docs/serving.md.
"""

from keras_seq2seq.serving.app import Limits, RequestError, create_app, serve
from keras_seq2seq.serving.backends import (
    BackendError,
    KerasBackend,
    SavedModelBackend,
    TranslateBatch,
    load_backend,
)
from keras_seq2seq.serving.batching import Batcher, Busy

__all__ = [
    "BackendError",
    "Batcher",
    "Busy",
    "KerasBackend",
    "Limits",
    "RequestError",
    "SavedModelBackend",
    "TranslateBatch",
    "create_app",
    "load_backend",
    "serve",
]
