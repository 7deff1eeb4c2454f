"""Fixtures of the server tests: one small model, and servers in subprocesses.

`serving_models` trains (a few seconds) a character-level model that reverses short
Hangul strings ("가나다" -> "다나가": it translates exactly, so answers are easy to
check, and its heat maps have Hangul on both axes), saves it as `.keras` and exports
it as a SavedModel with beam search of width 5. The servers (`python -m
keras_seq2seq.serving ...` on a free loopback port) are started together, once a
session, and each fixture waits for its own `/healthz`: `keras_server` (the `.keras`
file, greedy), `saved_model_server` (the beam-5 export) and `sigterm_server` (the
`.keras` file with a long batching wait, for the shutdown test).
"""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALPHABET = "가나다라마바사아"
START_TIMEOUT = 180.0


def free_port():
    """A TCP port free on the loopback interface now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A `python -m keras_seq2seq.serving` subprocess on a loopback port."""

    def __init__(self, model, name, log_path, *extra):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
        self.log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed by stop
        self.process = subprocess.Popen(
            [sys.executable, "-m", "keras_seq2seq.serving", "--model", model,
             "--port", str(self.port), *extra],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._ready = False

    def log_tail(self, lines=30):
        self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def wait_ready(self, timeout=START_TIMEOUT):
        """Polls `/healthz` until it answers 200 (fails with the log otherwise)."""
        if self._ready:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n"
                            f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        self._ready = True
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail(f"the server did not answer /healthz in {timeout:.0f} s:\n"
                    f"{self.log_tail()}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def call(method, url, body=None, data=None, headers=None):
    """One HTTP request with aiohttp's client: `(status, decoded JSON or text)`.

    `body` is sent as JSON; `data` (bytes or str) as it is.
    """
    import aiohttp

    async def run():
        async with aiohttp.ClientSession() as session, session.request(
                method, url, json=body, data=data, headers=headers) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    return asyncio.run(run())


@pytest.fixture(scope="session")
def serving_models(tmp_path_factory):
    """The trained Hangul reversal model, its `.keras` file and its beam-5 export."""
    import keras

    import keras_seq2seq as ks
    from keras_seq2seq import saving
    from keras_seq2seq.datasets import load_toy_task
    from keras_seq2seq.export import export_translator
    from keras_seq2seq.text import CharacterTokenizer, make_dataset

    keras.utils.set_random_seed(3)
    splits = load_toy_task("reverse", train_size=2000, validation_size=10,
                           test_size=10, min_length=2, max_length=5,
                           alphabet=ALPHABET, seed=0)
    sources, targets = splits["train"]
    source_tokenizer = CharacterTokenizer.from_texts(sources)
    target_tokenizer = CharacterTokenizer.from_texts(targets)
    model = ks.Seq2Seq(source_tokenizer.vocabulary_size,
                       target_tokenizer.vocabulary_size, embedding_dim=16, units=48,
                       cell_type="gru", max_decode_length=8,
                       source_tokenizer=source_tokenizer,
                       target_tokenizer=target_tokenizer)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(make_dataset(sources, targets, source_tokenizer, target_tokenizer,
                           batch_size=64), epochs=5, verbose=0)
    folder = tmp_path_factory.mktemp("serving")
    keras_path = str(folder / "hangul.keras")
    saving.save_model(model, keras_path)
    export_path = str(folder / "hangul_beam5")
    export_translator(model, export_path, beam_width=5)
    return {"model": model, "keras": keras_path, "export": export_path,
            "folder": folder}


@pytest.fixture(scope="session")
def _servers(serving_models):
    """Starts every server at once (they load in parallel); stops them at the end."""
    folder = serving_models["folder"]
    servers = {
        "keras": Server(serving_models["keras"], "hangul", str(folder / "keras.log")),
        "saved_model": Server(serving_models["export"], "hangul_beam5",
                              str(folder / "saved_model.log")),
        "sigterm": Server(serving_models["keras"], "hangul",
                          str(folder / "sigterm.log"), "--batch-wait-ms", "1500"),
    }
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def keras_server(_servers):
    """The `.keras` model served (greedy decoding), model name `hangul`."""
    return _servers["keras"].wait_ready()


@pytest.fixture(scope="session")
def saved_model_server(_servers):
    """The beam-5 SavedModel export served, model name `hangul_beam5`."""
    return _servers["saved_model"].wait_ready()


@pytest.fixture(scope="session")
def sigterm_server(_servers):
    """A server batching with a 1.5 s wait, for the shutdown test (it stops it)."""
    return _servers["sigterm"].wait_ready()


@pytest.fixture(scope="session")
def http():
    """`http(method, url, body=None, data=None, headers=None) -> (status, JSON)`."""
    return call
