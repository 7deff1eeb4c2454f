"""The request batcher: concurrent requests share one model call.

Each HTTP handler `await`s `Batcher.submit(key, items)` with its sentences (`items`)
and the kind of call they need (`key`: `("translate",)`, `("n_best", k)`,
`("score", length_normalize)`). One asyncio task, the worker, takes the oldest waiting
request, waits `max_wait` seconds (unless `max_batch_size` sentences already wait)
so that requests arriving together can join, then takes every waiting request with
the same key, in arrival order, while the batch stays within `max_batch_size`
sentences (a larger request runs alone). It runs `run(key, items)` once, in the one
model thread (a `ThreadPoolExecutor` with a single worker: TensorFlow is only ever
called from that thread and the event loop stays free to accept requests), and hands
each request its part, `split(key, result, start, stop)`.

While a batch runs, new requests queue up and form the next batch, so under load the
batches grow by themselves; with one client at a time each request runs alone after
at most `max_wait`. If a batch of several requests fails, each request is run again
alone, so a request that breaks the model fails by itself. More than `max_pending`
waiting sentences make `submit` raise `Busy` (the server answers 503).
"""

import asyncio
import collections
import concurrent.futures
import dataclasses
import time

__all__ = ["Batcher", "Busy"]


class Busy(RuntimeError):
    """Too many sentences wait already, or the batcher is closed (HTTP 503)."""


@dataclasses.dataclass
class _Request:
    key: tuple
    items: list
    future: asyncio.Future


def _slice(key, result, start, stop):
    del key
    return result.slice(start, stop) if hasattr(result, "slice") else result[start:stop]


class Batcher:
    """Batches concurrent requests into single calls in one model thread.

    Args:
        run: `run(key, items) -> result`, called in the model thread with the items
            of every request of a batch (all with that key), concatenated.
        split: `split(key, result, start, stop)` -> one request's part of a result.
            Defaults to `result.slice(start, stop)` when the result has one, else
            `result[start:stop]`.
        max_batch_size: most items (sentences) in one call. Defaults to 32.
        max_wait: seconds the worker waits for more requests before a call (0: run
            whatever waits at once). Defaults to 0.002.
        max_pending: most items waiting; beyond, `submit` raises `Busy`. Defaults
            to 4096.

    Attributes:
        stats: counters: `requests`, `sentences`, `batches` (model calls),
            `largest_batch` (sentences), `failed_batches`, `rerun_alone`.
    """

    def __init__(self, run, split=None, max_batch_size=32, max_wait=0.002,
                 max_pending=4096):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        self._run = run
        self._split = split or _slice
        self.max_batch_size = int(max_batch_size)
        self.max_wait = float(max_wait)
        self.max_pending = int(max_pending)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="keras-seq2seq-model")
        self._waiting = collections.deque()
        self._waiting_items = 0
        self._wake = None
        self._task = None
        self._closed = False
        self.stats = {"requests": 0, "sentences": 0, "batches": 0, "largest_batch": 0,
                      "failed_batches": 0, "rerun_alone": 0, "busy_seconds": 0.0}

    # ------------------------------------------------------------------ public
    @property
    def pending(self):
        """Items (sentences) waiting for a batch."""
        return self._waiting_items

    def start(self):
        """Starts the worker task (call it from the running event loop)."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._work())

    async def submit(self, key, items):
        """Queues one request's items; returns its part of the batch's result.

        Args:
            key: a hashable: requests join a batch only with the same key.
            items: the request's list of items (sentences, pairs, ...).

        Raises:
            Busy: the batcher is closed, or `max_pending` items wait already.
            Exception: whatever `run` raised for this request.
        """
        if self._closed or self._task is None:
            raise Busy("the server is shutting down")
        items = list(items)
        if self._waiting_items and self._waiting_items + len(items) > self.max_pending:
            raise Busy(f"the server is busy: {self._waiting_items} sentences wait "
                       f"already (at most {self.max_pending}); retry shortly")
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(_Request(key, items, future))
        self._waiting_items += len(items)
        self._wake.set()
        return await future

    async def call(self, function, *args):
        """Runs `function(*args)` in the model thread, outside any batch."""
        if self._closed:
            raise Busy("the server is shutting down")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    async def close(self):
        """Stops the worker; waiting requests get `Busy`; waits for the model thread."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        while self._waiting:
            request = self._waiting.popleft()
            if not request.future.done():
                request.future.set_exception(Busy("the server is shutting down"))
        self._waiting_items = 0
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._executor.shutdown(wait=True, cancel_futures=True))

    # ------------------------------------------------------------------ worker
    async def _work(self):
        while True:
            while not self._waiting:
                self._wake.clear()
                await self._wake.wait()
            if self.max_wait > 0 and self._waiting_items < self.max_batch_size:
                await asyncio.sleep(self.max_wait)
            batch = self._take()
            if batch:
                await self._execute(batch)

    def _take(self):
        """The oldest request and the later ones of its key that fit in the batch."""
        taken, kept, size, key = [], collections.deque(), 0, None
        for request in self._waiting:
            if request.future.done():  # the client went away
                self._waiting_items -= len(request.items)
                continue
            if key is None:
                key = request.key
            if request.key == key and (not taken or
                                       size + len(request.items) <= self.max_batch_size):
                taken.append(request)
                size += len(request.items)
            else:
                kept.append(request)
        self._waiting = kept
        self._waiting_items -= size
        return taken

    async def _execute(self, batch):
        loop = asyncio.get_running_loop()
        key = batch[0].key
        items = [item for request in batch for item in request.items]
        started = time.perf_counter()
        try:
            result = await loop.run_in_executor(self._executor, self._run, key, items)
        except Exception as error:  # noqa: BLE001 - handed to the requests
            self.stats["failed_batches"] += 1
            if len(batch) == 1:
                _fail(batch[0], error)
                return
            self.stats["rerun_alone"] += len(batch)
            for request in batch:  # one bad request must not fail the others
                await self._execute([request])
            return
        finally:
            self.stats["busy_seconds"] += time.perf_counter() - started
        self.stats["batches"] += 1
        self.stats["requests"] += len(batch)
        self.stats["sentences"] += len(items)
        self.stats["largest_batch"] = max(self.stats["largest_batch"], len(items))
        start = 0
        for request in batch:
            stop = start + len(request.items)
            if not request.future.done():
                try:
                    request.future.set_result(self._split(key, result, start, stop))
                except Exception as error:  # noqa: BLE001
                    _fail(request, error)
            start = stop


def _fail(request, error):
    if not request.future.done():
        request.future.set_exception(error)
