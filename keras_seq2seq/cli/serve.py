"""`keras-seq2seq serve`: a `.keras` model or a SavedModel export over HTTP.

TensorFlow Serving's REST API (`POST /v1/models/NAME:predict`, model status and
metadata), JSON endpoints for translations with attention, n-best lists and scores,
and a page at `/` (`keras_seq2seq.serving`, on aiohttp; docs/serving.md). This module
imports neither TensorFlow nor the server until `run`, so `--help` answers at once.
"""

import ipaddress
import os

from keras_seq2seq.cli.common import (
    PROG,
    CLIError,
    add_command,
    non_negative_float,
    number_type,
    positive_int,
)

HELP = "serve a model over HTTP (TensorFlow Serving's REST API, a page)"
DESCRIPTION = (
    "Serves a .keras model or a SavedModel export over HTTP until Ctrl-C or SIGTERM "
    "(a graceful shutdown). TensorFlow Serving's REST API: POST "
    "/v1/models/NAME:predict with {\"instances\": [...]} or {\"inputs\": ...}, GET "
    "/v1/models/NAME and /v1/models/NAME/metadata; JSON endpoints POST /api/translate "
    "(tokens, scores, attention), /api/n_best, /api/score, GET /api/metadata and "
    "/healthz; and a page at / that shows translations, n-best lists and attention "
    "heat maps. Concurrent requests are batched into one model call. It binds to "
    "127.0.0.1 (this machine only) unless --host says otherwise.")
EPILOG = (
    "Example:\n"
    f"  {PROG} serve --model model.keras --port 8501\n"
    "  curl -d '{\"instances\": [\"a sentence\"]}' "
    "http://127.0.0.1:8501/v1/models/model:predict")

port_type = number_type(int, lambda value: 1 <= value <= 65535,
                        "a TCP port from 1 to 65535")


def add_arguments(parser):
    """The options of `serve` on `parser` (also used by `python -m
    keras_seq2seq.serving`)."""
    parser.add_argument("--model", required=True, metavar="PATH",
                        help="a .keras model, or a SavedModel folder written by "
                             f"`{PROG} export` (required)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default: 127.0.0.1, this "
                             "machine only; 0.0.0.0 opens it to the network)")
    parser.add_argument("--port", type=port_type, default=8501,
                        help="the TCP port (default: 8501, TensorFlow Serving's REST "
                             "port)")
    parser.add_argument("--name", metavar="NAME",
                        help="the model name in /v1/models/NAME (default: the model "
                             "file's or folder's name without its extension)")
    parser.add_argument("--beam", type=positive_int, metavar="N",
                        help="beam search of width N (default: greedy decoding); a "
                             "SavedModel decodes as it was exported")
    parser.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto",
                        help="a .keras model: decode a batch of one sentence with an "
                             "XLA-compiled search (about twice as fast on a CPU; the "
                             "first of each source-length bucket compiles). auto: on "
                             "where XLA compiles the model (default). An export keeps "
                             "what `export --jit-compile` chose")
    parser.add_argument("--max-batch-size", type=positive_int, default=32, metavar="N",
                        help="most sentences of concurrent requests in one model call "
                             "(default: 32)")
    parser.add_argument("--batch-wait-ms", type=non_negative_float, default=2.0,
                        metavar="MS",
                        help="how long a batch waits for more requests to join it "
                             "(default: 2; 0 runs at once)")
    parser.add_argument("--max-sentences", type=positive_int, default=64, metavar="N",
                        help="most sentences a request (default: 64)")
    parser.add_argument("--max-chars", type=positive_int, default=1000, metavar="N",
                        help="most characters a sentence (default: 1000)")
    parser.add_argument("--max-request-bytes", type=positive_int, default=1 << 20,
                        metavar="N",
                        help="most bytes of a request body (default: 1048576)")
    parser.add_argument("--max-pending", type=positive_int, default=4096, metavar="N",
                        help="most sentences waiting for the model; more are refused "
                             "with 503 (default: 4096)")
    parser.add_argument("--max-k", type=positive_int, default=16, metavar="K",
                        help="the largest n-best list a request may ask for "
                             "(default: 16)")
    return parser


def add_parser(commands):
    """The `serve` subparser of `keras-seq2seq`."""
    parser = add_command(commands, "serve", HELP, description=DESCRIPTION,
                         epilog=EPILOG)
    return add_arguments(parser)


def default_name(path):
    """The model file's or folder's name without its extension."""
    base = os.path.basename(os.path.normpath(path))
    stem, extension = os.path.splitext(base)
    return stem if extension and stem else base


def _check_name(name):
    if not name or any(c in name for c in "/:?#%") or name.strip() != name:
        raise CLIError(f"--name {name!r} cannot be a model name in /v1/models/NAME: "
                       "use letters, digits, '-', '_' or '.'")
    return name


def _check_host(host):
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def run(args):
    """Loads the model and serves it until SIGTERM/SIGINT; returns 0."""
    import sys

    if not os.path.exists(args.model):
        raise CLIError(f"no model at {args.model}: expected a .keras file or a "
                       "SavedModel folder")
    name = _check_name(args.name if args.name is not None else default_name(args.model))
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise CLIError("serve needs aiohttp: pip install 'aiohttp>=3.9,<4'") from None
    from keras_seq2seq import serving

    backend = serving.load_backend(
        args.model, beam=args.beam,
        jit_compile={"on": True, "off": False}.get(args.jit_compile, "auto"))
    exported = getattr(backend, "translator", None)
    if exported is not None and args.jit_compile != "auto":
        baked = bool(exported.metadata.get("jit_compile", False))
        print(f"{PROG}: note: --jit-compile {args.jit_compile} does not apply to an "
              f"export: it decodes as exported (jit_compile={baked}; re-export with "
              "`export --jit-compile` to change it)", file=sys.stderr, flush=True)
    if not backend.text_signatures():
        raise CLIError(f"{args.model} has no text translate signature (exported without "
                       "tokenizers), so it cannot translate text")
    if not _check_host(args.host):
        print(f"{PROG}: note: listening on {args.host}: anyone who can reach this "
              "machine can use the model", file=sys.stderr, flush=True)
    limits = serving.Limits(max_sentences=args.max_sentences, max_chars=args.max_chars,
                            max_body_bytes=args.max_request_bytes, max_k=args.max_k)
    serving.serve(backend, name, host=args.host, port=args.port, limits=limits,
                  max_batch_size=args.max_batch_size,
                  max_wait=args.batch_wait_ms / 1000.0, max_pending=args.max_pending)
    return 0


__all__ = ["DESCRIPTION", "EPILOG", "HELP", "add_arguments", "add_parser",
           "default_name", "run"]
