"""`keras-seq2seq serve` over HTTP: TensorFlow Serving's REST API, the JSON endpoints,
bad requests, 200 concurrent requests, SIGTERM, the command line.

The servers run in subprocesses (tests/serving/conftest.py); answers are compared
with the same model in this process (`model.translate`, `translate_full`, `n_best`,
`score`) and with the export loaded here (`load_translator`).
"""

import asyncio
import base64
import random
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

TEXTS = ["가나다", "마바사아", "", "다다라", "   ", "아사"]


def _predict(http, server, body, version=False):
    path = (f"/v1/models/{server.name}/versions/1:predict" if version
            else f"/v1/models/{server.name}:predict")
    return http("POST", server.url + path, body)


# ------------------------------------------------------- TensorFlow Serving REST


def test_predict_row_format_matches_model_translate(keras_server, serving_models, http):
    model = serving_models["model"]
    expected = model.translate(TEXTS)
    details = model.translate_full(TEXTS)
    encoded = [{"b64": base64.b64encode(t.encode()).decode()} for t in TEXTS]
    for instances in (TEXTS, [{"texts": t} for t in TEXTS], encoded):
        status, answer = _predict(http, keras_server, {"instances": instances})
        assert status == 200, answer
        predictions = answer["predictions"]
        assert [p["translations"] for p in predictions] == expected
        width = max(1, max(len(d.source_tokens) for d in details))
        for found, want in zip(predictions, details):
            assert sorted(found) == ["attention", "lengths", "scores", "source_lengths",
                                     "source_tokens", "target_tokens", "tokens",
                                     "translations"]
            assert len(found["tokens"]) == model.max_decode_length
            assert np.shape(found["attention"]) == (model.max_decode_length, width)
            rows, columns = len(want.tokens), len(want.source_tokens)
            np.testing.assert_allclose(
                np.array(found["attention"])[:rows, :columns].reshape(rows, columns),
                want.attention, atol=1e-5)
            assert found["target_tokens"][:rows] == want.tokens
            assert found["source_tokens"][:columns] == want.source_tokens
            assert found["scores"] == pytest.approx(want.score, abs=1e-4)
    # the documented example with a version in the path
    status, answer = _predict(http, keras_server, {"instances": ["가나"]}, version=True)
    assert status == 200 and answer["predictions"][0]["translations"] == "나가"


def test_predict_columnar_format_matches_model_translate(keras_server, serving_models,
                                                         http):
    expected = serving_models["model"].translate(TEXTS)
    for inputs in (TEXTS, {"texts": TEXTS}):
        status, answer = _predict(http, keras_server, {"inputs": inputs,
                                                       "signature_name": "translate"})
        assert status == 200, answer
        outputs = answer["outputs"]
        assert outputs["translations"] == expected
        assert np.shape(outputs["tokens"]) == (len(TEXTS), 8)
        assert outputs["lengths"][2] == 0 and outputs["scores"][2] == 0.0


def test_saved_model_predict_matches_the_export_and_beam_translate(
        saved_model_server, serving_models, http):
    from keras_seq2seq.export import load_translator

    translator = load_translator(serving_models["export"])
    want = translator.translate_full(TEXTS)
    assert [t.decode() for t in want["translations"]] == serving_models[
        "model"].translate(TEXTS, method="beam", beam_width=5)
    status, rows = _predict(http, saved_model_server, {"instances": TEXTS})
    assert status == 200, rows
    status, columns = _predict(http, saved_model_server, {"inputs": {"texts": TEXTS}})
    assert status == 200, columns
    outputs = columns["outputs"]
    assert sorted(outputs) == sorted(want)
    for name, value in want.items():
        by_row = [prediction[name] for prediction in rows["predictions"]]
        if value.dtype == object:
            decoded = np.vectorize(lambda b: b.decode())(value).tolist()
            assert outputs[name] == decoded and by_row == decoded, name
        else:
            np.testing.assert_allclose(np.array(outputs[name]), value, atol=1e-6)
            np.testing.assert_allclose(np.array(by_row), value, atol=1e-6)
    # another signature of the export, called as it is
    status, answer = _predict(http, saved_model_server,
                              {"signature_name": "tokenize", "instances": ["가나", "다"]})
    assert status == 200, answer
    np.testing.assert_array_equal(
        answer["predictions"], translator.module.tokenize(["가나", "다"])[
            "source_ids"].numpy())


def test_model_status_and_metadata_as_tensorflow_serving(keras_server,
                                                         saved_model_server, http):
    signatures = {}
    for server in (keras_server, saved_model_server):
        for path in (f"/v1/models/{server.name}", f"/v1/models/{server.name}/versions/1"):
            status, answer = http("GET", server.url + path)
            assert status == 200
            assert answer == {"model_version_status": [{
                "version": "1", "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""}}]}
        status, answer = http("GET", server.url + f"/v1/models/{server.name}/metadata")
        assert status == 200
        assert answer["model_spec"] == {"name": server.name, "signature_name": "",
                                        "version": "1"}
        defs = answer["metadata"]["signature_def"]["signature_def"]
        default = defs["serving_default"]
        assert default["method_name"] == "tensorflow/serving/predict"
        assert default["inputs"]["texts"]["dtype"] == "DT_STRING"
        assert default["inputs"]["texts"]["tensor_shape"] == {
            "dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
        signatures[server.name] = {
            name: (info["dtype"], info["tensor_shape"])
            for name, info in default["outputs"].items()}
    # the .keras server describes exactly the signature an export of it has
    assert signatures["hangul"] == signatures["hangul_beam5"]
    assert signatures["hangul"]["tokens"] == ("DT_INT32", {
        "dim": [{"size": "-1", "name": ""}, {"size": "8", "name": ""}],
        "unknown_rank": False})


@pytest.mark.parametrize("method, path, status, message", [
    ("POST", "/v1/models/other:predict", 404,
     "Servable not found for request: Latest(other)"),
    ("POST", "/v1/models/hangul/versions/2:predict", 404, "Specific(hangul, 2)"),
    ("GET", "/v1/models/other", 404, "Latest(other)"),
    ("GET", "/v1/models/hangul/versions/x", 400, "Failed to convert version"),
    ("POST", "/v1/models/hangul:classify", 400, ":predict only"),
    ("GET", "/v1/models/hangul:predict", 400, "Malformed request"),
    ("GET", "/nowhere", 404, "no endpoint GET /nowhere"),
    ("GET", "/api/translate", 405, "use POST"),
])
def test_unknown_paths_and_models(keras_server, http, method, path, status, message):
    found, answer = http(method, keras_server.url + path,
                         {"instances": ["가"]} if method == "POST" else None)
    assert found == status, answer
    assert message in answer["error"]


PREDICT = "/v1/models/hangul:predict"
BAD_REQUESTS = [  # path, raw body (str) or JSON body, status, part of the message
    (PREDICT, "", 400, "JSON Parse error: The document is empty"),
    (PREDICT, '{"instances": ["가"', 400, "JSON Parse error"),
    (PREDICT, "[1, 2]", 400, "must be a JSON object"),
    (PREDICT, {"instance": ["가"]}, 400, "unknown field 'instance'"),
    (PREDICT, {"signature_name": "serving_default"}, 400,
     "Missing 'inputs' or 'instances' key"),
    (PREDICT, {"instances": ["가"], "inputs": ["가"]}, 400, "only one of"),
    (PREDICT, {"instances": []}, 400, "No values in 'instances' array"),
    (PREDICT, {"instances": "가나"}, 400, "'instances' must be a list"),
    (PREDICT, {"instances": ["가", 3]}, 400, "instances[1] must be a string"),
    (PREDICT, {"instances": [{"text": "가"}]}, 400, "must be equal to: texts"),
    (PREDICT, {"inputs": {"txt": ["가"]}}, 400, "Missing named input: texts"),
    (PREDICT, {"inputs": "가나"}, 400, "inputs must be a list of strings"),
    (PREDICT, {"instances": [{"b64": "%%%"}]}, 400, "Unable to base64 decode"),
    (PREDICT, {"instances": ["가"], "signature_name": 7}, 400,
     "'signature_name' key must be a string"),
    (PREDICT, {"instances": ["가"], "signature_name": "nope"}, 400,
     'Serving signature name: "nope" not found'),
    (PREDICT, {"instances": ["가"] * 65}, 400, "at most 64 a request (--max-sentences)"),
    (PREDICT, {"instances": ["가" * 1001]}, 400,
     "instances[0] has 1001 characters; this server takes at most 1000"),
    ("/api/translate", {"text": ["가"]}, 400, "unknown field 'text'"),
    ("/api/translate", {}, 400, "missing field 'texts'"),
    ("/api/translate", {"texts": "가나"}, 400, "'texts' must be a list of strings"),
    ("/api/translate", {"texts": [None]}, 400, "texts[0] must be a string"),
    ("/api/translate", {"texts": ["가"], "attention": "yes"}, 400,
     "'attention' must be true or false"),
    ("/api/n_best", {"texts": ["가"], "k": 0}, 400, "'k' must be from 1 to 16"),
    ("/api/n_best", {"texts": ["가"], "k": 2.5}, 400, "'k' must be an integer"),
    ("/api/score", {"sources": ["가"], "targets": []}, 400, "the same length"),
    ("/api/score", {"sources": ["가"]}, 400, "missing field 'targets'"),
    ("/api/translate", "x" * ((1 << 20) + 1), 413, "Maximum request body size"),
    # Valid JSON, not valid text: a lone surrogate (was a 500 with a traceback).
    ("/api/translate", '{"texts": ["\\ud800"]}', 400,
     "texts[0] is not valid Unicode text: a lone surrogate"),
    (PREDICT, '{"instances": ["a \\udfff"]}', 400,
     "instances[0] is not valid Unicode text: a lone surrogate '\\udfff' at character 2"),
    ("/api/score", '{"sources": ["a"], "targets": ["\\ud800"]}', 400,
     "targets[0] is not valid Unicode text"),
]


@pytest.mark.parametrize("path, body, status, message", BAD_REQUESTS,
                         ids=[f"{i}-{case[3][:30]}" for i, case in
                              enumerate(BAD_REQUESTS)])
def test_bad_requests_get_a_clear_json_error(keras_server, http, path, body, status,
                                             message):
    raw = isinstance(body, str)
    found, answer = http("POST", keras_server.url + path, None if raw else body,
                         data=body.encode() if raw else None)
    assert found == status, answer
    assert isinstance(answer, dict) and list(answer) == ["error"], answer
    assert message in answer["error"], answer["error"]


# ------------------------------------------------------------------ own endpoints


def test_api_translate_n_best_and_score_match_the_model(keras_server, serving_models,
                                                         http):
    model = serving_models["model"]
    texts = ["가나다라", "사아", " "]
    status, answer = http("POST", keras_server.url + "/api/translate", {"texts": texts})
    assert status == 200, answer
    for found, want, text in zip(answer["translations"], model.translate_full(texts),
                                 texts):
        assert found["source"] == text and found["text"] == want.text
        assert found["tokens"] == want.tokens
        assert found["source_tokens"] == want.source_tokens
        assert found["score"] == pytest.approx(want.score, abs=1e-4)
        np.testing.assert_allclose(np.array(found["attention"]).reshape(
            want.attention.shape), want.attention, atol=1e-5)
    assert answer["decoding"]["method"] == "greedy"

    status, answer = http("POST", keras_server.url + "/api/n_best",
                          {"texts": texts, "k": 3})
    assert status == 200, answer
    assert answer["k"] == 3
    for found, want in zip(answer["n_best"], model.n_best(texts, 3)):
        assert [h["text"] for h in found] == [text for text, _ in want]
        np.testing.assert_allclose([h["score"] for h in found],
                                   [score for _, score in want], atol=1e-4)

    targets = ["라다나가", "아사", "가"]
    status, answer = http("POST", keras_server.url + "/api/score",
                          {"sources": texts[:2], "targets": targets[:2],
                           "length_normalize": True})
    assert status == 200, answer
    for found, want, source, target in zip(
            answer["scores"], model.score(texts[:2], targets[:2], length_normalize=True),
            texts, targets):
        assert (found["source"], found["target"]) == (source, target)
        assert found["tokens"] == want.tokens
        assert found["score"] == pytest.approx(want.score, abs=1e-4)
        assert found["log_prob"] == pytest.approx(want.log_prob, abs=1e-4)
        np.testing.assert_allclose(found["token_log_probs"], want.token_log_probs,
                                   atol=1e-4)


def test_saved_model_n_best_score_and_metadata(saved_model_server, serving_models,
                                               http):
    from keras_seq2seq.export import load_translator

    translator = load_translator(serving_models["export"])
    texts = ["가나다", "마바"]
    status, answer = http("POST", saved_model_server.url + "/api/n_best",
                          {"texts": texts})
    assert status == 200, answer
    assert answer["k"] == 5
    for found, want in zip(answer["n_best"], translator.n_best(texts)):
        assert [(h["text"], round(h["score"], 4)) for h in found] == [
            (text, round(score, 4)) for text, score in want]
    status, answer = http("POST", saved_model_server.url + "/api/n_best",
                          {"texts": texts, "k": 6})
    assert status == 400 and "from 1 to 5" in answer["error"]
    status, answer = http("POST", saved_model_server.url + "/api/score",
                          {"sources": texts, "targets": ["다나가", "바마"]})
    assert status == 200, answer
    want = translator.score(texts, ["다나가", "바마"])
    np.testing.assert_allclose([s["log_prob"] for s in answer["scores"]],
                               want["log_probs"], atol=1e-5)
    assert answer["scores"][0]["tokens"] == ["다", "나", "가", "[END]"]
    assert answer["scores"][0]["source_tokens"] == ["가", "나", "다"]

    status, meta = http("GET", saved_model_server.url + "/api/metadata")
    assert status == 200
    assert meta["kind"] == "saved_model" and meta["name"] == "hangul_beam5"
    assert meta["decoding"]["method"] == "beam" and meta["decoding"]["beam_width"] == 5
    assert meta["source_vocabulary_size"] == serving_models[
        "model"].source_vocabulary_size
    assert meta["n_best"] == {"available": True, "max_k": 5}
    assert meta["signatures"]["serving_default"]["inputs"] == {
        "texts": {"dtype": "DT_STRING", "shape": [-1]}}
    assert meta["limits"] == {"max_sentences": 64, "max_chars": 1000,
                              "max_body_bytes": 1 << 20, "max_k": 16}


# ------------------------------------------------------------------ concurrency


def test_200_concurrent_requests_are_batched_and_all_right(keras_server,
                                                           serving_models, http):
    import aiohttp

    rng = random.Random(0)
    texts = ["".join(rng.choice("가나다라마바사아") for _ in range(rng.randint(2, 5)))
             for _ in range(200)]
    expected = serving_models["model"].translate(texts)
    _, before = http("GET", keras_server.url + "/healthz")

    async def one(session, limit, index):
        async with limit:
            if index % 2:
                url, body = keras_server.url + "/api/translate", {"texts": [
                    texts[index]], "attention": False}
            else:
                url = keras_server.url + "/v1/models/hangul:predict"
                body = {"instances": [texts[index]]}
            async with session.post(url, json=body) as response:
                answer = await response.json()
                if response.status != 200:
                    return response.status, answer
                if index % 2:
                    return 200, answer["translations"][0]["text"]
                return 200, answer["predictions"][0]["translations"]

    async def run_all():
        limit = asyncio.Semaphore(50)  # at most 50 in flight, from this test
        connector = aiohttp.TCPConnector(limit=50)
        async with aiohttp.ClientSession(connector=connector) as session:
            return await asyncio.gather(*(one(session, limit, i)
                                          for i in range(len(texts))))

    answers = asyncio.run(run_all())
    assert [status for status, _ in answers] == [200] * len(texts)
    assert [text for _, text in answers] == expected
    status, after = http("GET", keras_server.url + "/healthz")
    assert status == 200 and after["status"] == "ok"
    requests = after["batching"]["requests"] - before["batching"]["requests"]
    batches = after["batching"]["batches"] - before["batching"]["batches"]
    assert requests == 200
    assert batches < 100, f"{batches} model calls for 200 requests: no batching"
    assert after["batching"]["largest_batch"] > 1


def test_batcher_groups_by_key_within_the_size_and_isolates_a_failure():
    from keras_seq2seq.serving.batching import Batcher, Busy

    calls = []

    def run(key, items):
        calls.append((key[0], list(items)))
        if "boom" in items:
            raise ValueError("boom")
        return [f"{key[0]}:{item}" for item in items]

    async def scenario():
        batcher = Batcher(run, max_batch_size=4, max_wait=0.01, max_pending=10)
        batcher.start()
        results = await asyncio.gather(
            batcher.submit(("a",), ["1", "2"]), batcher.submit(("b",), ["3"]),
            batcher.submit(("a",), ["4"]), batcher.submit(("a",), ["5", "6"]),
            batcher.submit(("a",), ["boom"]), return_exceptions=True)
        flood = await asyncio.gather(*(batcher.submit(("a",), [str(i)])
                                       for i in range(11)), return_exceptions=True)
        await batcher.close()
        with pytest.raises(Busy, match="shutting down"):
            await batcher.submit(("a",), ["late"])
        return results, flood, batcher.stats

    results, flood, stats = asyncio.run(scenario())
    assert results[:4] == [["a:1", "a:2"], ["b:3"], ["a:4"], ["a:5", "a:6"]]
    assert isinstance(results[4], ValueError)
    # the oldest key first, later requests of it that fit, the failing batch rerun
    assert calls[:5] == [("a", ["1", "2", "4", "boom"]), ("a", ["1", "2"]), ("a", ["4"]),
                         ("a", ["boom"]), ("b", ["3"])]
    assert calls[5] == ("a", ["5", "6"])
    assert [type(r) for r in flood].count(Busy) == 1  # the 11th of max_pending=10
    assert stats["failed_batches"] == 2 and stats["rerun_alone"] == 3
    assert stats["largest_batch"] == 4


# ------------------------------------------------------------------ shutdown


def test_sigterm_finishes_the_request_in_flight_and_exits_0(sigterm_server,
                                                           serving_models):
    import aiohttp

    async def scenario():
        async with aiohttp.ClientSession() as session:
            async def ask():
                async with session.post(sigterm_server.url + "/api/translate",
                                        json={"texts": ["가나다"]}) as response:
                    return response.status, await response.json()

            request = asyncio.create_task(ask())
            await asyncio.sleep(0.5)  # the request waits 1.5 s for a batch
            sigterm_server.process.send_signal(signal.SIGTERM)
            return await request

    started = time.monotonic()
    status, answer = asyncio.run(scenario())
    assert status == 200, answer
    assert answer["translations"][0]["text"] == serving_models["model"].translate(
        "가나다")
    assert sigterm_server.process.wait(timeout=20) == 0
    assert time.monotonic() - started < 15
    with pytest.raises(OSError):
        urllib.request.urlopen(sigterm_server.url + "/healthz", timeout=2)
    assert "keras-seq2seq serve: stopped" in sigterm_server.log_tail()


# ------------------------------------------------------------------ command line


def test_serve_command_help_and_user_errors(tmp_path):
    import argparse

    from keras_seq2seq.cli import serve
    from keras_seq2seq.cli.common import CLIError, Parser

    parser = Parser(prog="keras-seq2seq")
    commands = parser.add_subparsers(dest="command", parser_class=Parser)
    serve.add_parser(commands)
    help_text = commands.choices["serve"].format_help()
    for flag in ("--model", "--host", "--port", "--name", "--beam", "--max-batch-size",
                 "--max-sentences", "--max-chars", "--max-request-bytes",
                 "keras-seq2seq serve --model model.keras --port 8501"):
        assert flag in help_text
    args = parser.parse_args(["serve", "--model", "m.keras"])
    assert (args.host, args.port, args.name, args.max_batch_size) == (
        "127.0.0.1", 8501, None, 32)
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--model", "m.keras", "--port", "70000"])
    with pytest.raises(CLIError, match="no model at"):
        serve.run(parser.parse_args(["serve", "--model", str(tmp_path / "x.keras")]))
    (tmp_path / "m.keras").write_text("not a model")
    with pytest.raises(CLIError, match="cannot be a model name"):
        serve.run(parser.parse_args(["serve", "--model", str(tmp_path / "m.keras"),
                                     "--name", "a/b"]))
    assert serve.default_name("exports/dates_beam/") == "dates_beam"
    assert serve.default_name("models/model.keras") == "model"
    assert isinstance(serve.add_arguments(argparse.ArgumentParser()),
                      argparse.ArgumentParser)


def test_help_answers_without_importing_tensorflow():
    code = ("import sys\nfrom keras_seq2seq.serving.__main__ import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TENSORFLOW' if 'tensorflow' in sys.modules else 'NO-TENSORFLOW')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert "--max-batch-size" in done.stdout
    assert done.stdout.strip().endswith("NO-TENSORFLOW"), done.stdout + done.stderr
