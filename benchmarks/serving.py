"""HTTP serving: requests/s and p50/p99 latency of `keras-seq2seq serve`.

    python benchmarks/serving.py [--smoke] [--seconds 8] [--clients 1 8 32] [--json PATH]

Trains a small synthetic model for a few seconds (the toy task that reverses strings
of 5-12 letters a-z, character tokenizers, embedding 32, GRU encoder and decoder of
128 units, general attention, `max_decode_length` 16), saves it as `.keras`, and
serves it twice with `python -m keras_seq2seq.serving` on loopback ports: greedy
decoding, and `--beam 5`. For each server and each number of concurrent clients (1,
8, 32), that many aiohttp clients in this process each send single-sentence requests
back to back, exactly as a TensorFlow Serving client would (`POST
/v1/models/NAME:predict` with `{"instances": ["..."]}`), for `--seconds` seconds
after a one-second warm-up; requests/s is the count over the wall time, p50/p99 the
percentiles of the request latencies, and "sentences a model call" the mean batch
the server's batcher formed (from `/healthz`'s counters). A row per decoding gives
`model.translate([sentence])` in this process, one sentence at a time, for the
model's own cost without HTTP or batching.

The clients and the server share the machine's cores: on a small machine the
figures at 32 clients include the clients' own CPU time.
"""

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from benchmarks.common import latency_summary, log, machine_info, table, write_json

ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def build_model(path, epochs, smoke):
    """Trains the synthetic reversal model briefly and saves it to `path`."""
    import keras

    import keras_seq2seq as ks
    from keras_seq2seq import saving
    from keras_seq2seq.datasets import load_toy_task
    from keras_seq2seq.text import CharacterTokenizer, make_dataset

    keras.utils.set_random_seed(0)
    splits = load_toy_task("reverse", train_size=400 if smoke else 4000,
                           validation_size=10, test_size=200, min_length=5,
                           max_length=12, alphabet=ALPHABET, seed=0)
    sources, targets = splits["train"]
    source_tokenizer = CharacterTokenizer.from_texts(sources)
    target_tokenizer = CharacterTokenizer.from_texts(targets)
    units = 32 if smoke else 128
    model = ks.Seq2Seq(source_tokenizer.vocabulary_size,
                       target_tokenizer.vocabulary_size, embedding_dim=32, units=units,
                       cell_type="gru", max_decode_length=16,
                       source_tokenizer=source_tokenizer,
                       target_tokenizer=target_tokenizer)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(make_dataset(sources, targets, source_tokenizer, target_tokenizer,
                           batch_size=64), epochs=epochs, verbose=0)
    saving.save_model(model, path, overwrite=True)
    return model, splits["test"][0]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_path, name, extra, log_path):
    port = free_port()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with open(log_path, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "keras_seq2seq.serving", "--model", model_path,
             "--name", name, "--port", str(port), *extra],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


async def wait_ready(url, process, timeout=180):
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server at {url} exited ({process.returncode})")
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not start in {timeout} s")


async def load(url, name, sentences, clients, seconds, warm_up=1.0):
    """`clients` concurrent clients for `seconds` (after `warm_up`): latencies and
    the server's batch counters over the timed part."""
    import aiohttp

    predict = f"{url}/v1/models/{name}:predict"
    latencies, errors = [], []
    state = {"timing": False, "stop": False}

    async def client(session, index):
        rng = random.Random(index)
        while not state["stop"]:
            sentence = rng.choice(sentences)
            started = time.perf_counter()
            async with session.post(predict, json={"instances": [sentence]}) as answer:
                body = await answer.json()
            elapsed = time.perf_counter() - started
            if answer.status != 200 or "predictions" not in body:
                errors.append(body)
            elif state["timing"]:
                latencies.append(elapsed)

    async def counters(admin):
        async with admin.get(url + "/healthz") as answer:
            return (await answer.json())["batching"]

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session, \
            aiohttp.ClientSession() as admin:  # its own connection for /healthz
        tasks = [asyncio.create_task(client(session, i)) for i in range(clients)]
        await asyncio.sleep(warm_up)
        before = await counters(admin)
        state["timing"], started = True, time.perf_counter()
        await asyncio.sleep(seconds)
        state["timing"], wall = False, time.perf_counter() - started
        after = await counters(admin)
        state["stop"] = True
        await asyncio.gather(*tasks)
    calls = after["batches"] - before["batches"]
    served = after["sentences"] - before["sentences"]
    return {"clients": clients, "requests": len(latencies), "errors": len(errors),
            "requests_per_s": len(latencies) / wall, **latency_summary(latencies),
            "model_calls": calls, "sentences_per_call": served / calls if calls else None}


def in_process(model, sentences, options, calls):
    """`model.translate([s])` one sentence at a time: the model's own latency."""
    for sentence in sentences[:3]:
        model.translate([sentence], **options)  # trace first
    seconds = []
    for i in range(calls):
        started = time.perf_counter()
        model.translate([sentences[i % len(sentences)]], **options)
        seconds.append(time.perf_counter() - started)
    return {"clients": "in-process", "requests_per_s": calls / sum(seconds),
            **latency_summary(seconds)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="tiny model, 1 s per measurement")
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="timed seconds per (decoding, clients) cell (default: 8)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32],
                        help="concurrent clients (default: 1 8 32)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="training epochs of the synthetic model (default: 3)")
    parser.add_argument("--json", metavar="PATH", help="write every figure to PATH")
    args = parser.parse_args(argv)
    seconds = 1.0 if args.smoke else args.seconds

    folder = tempfile.mkdtemp(prefix="ks2s-serving-bench-")
    model_path = os.path.join(folder, "reverse.keras")
    log("training the synthetic model")
    model, sentences = build_model(model_path, 1 if args.smoke else args.epochs,
                                   args.smoke)
    decodings = {"greedy": ([], {}),
                 "beam 5": (["--beam", "5"], {"method": "beam", "beam_width": 5})}
    results = {"machine": machine_info(), "seconds": seconds, "rows": []}
    for decoding, (extra, options) in decodings.items():
        name = "greedy" if not extra else "beam5"
        process, url = start_server(model_path, name, extra,
                                    os.path.join(folder, f"{name}.log"))
        try:
            asyncio.run(wait_ready(url, process))
            for clients in args.clients:
                log(f"{decoding}: {clients} client(s)")
                row = asyncio.run(load(url, name, sentences, clients, seconds))
                results["rows"].append({"decoding": decoding, **row})
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        row = in_process(model, sentences, options, 20 if args.smoke else 200)
        results["rows"].append({"decoding": decoding, **row})

    head = ["decoding", "clients", "requests/s", "p50 ms", "p99 ms",
            "sentences a model call", "requests"]
    rows = [[r["decoding"], r["clients"], f"{r['requests_per_s']:.1f}",
             f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}",
             f"{r['sentences_per_call']:.2f}" if r.get("sentences_per_call") else "–",
             r.get("requests", r["calls"])] for r in results["rows"]]
    head[-1] = "requests (calls in-process)"
    info = results["machine"]
    print(f"\nkeras-seq2seq serve, single-sentence requests, {seconds:g} s a cell "
          f"({info['nproc']} CPUs, load average {info['load_average']}):\n")
    print(table(head, rows))
    failed = sum(r.get("errors", 0) for r in results["rows"])
    if failed:
        print(f"\n{failed} requests failed (not counted above)")
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
