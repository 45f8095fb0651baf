"""GroupCommitter: metadata transactions of concurrent requests committed together, off the event loop.

``await committer.run(fn)`` runs ``fn()`` (synchronous, touching only the metadata store) inside a
transaction on the committer's own thread and returns its result once that transaction is durable.
Whatever is queued while a commit is in progress goes into the next one: one outer transaction, each
``fn`` in its own savepoint (a nested ``transaction()``), so a function that raises rolls back alone and
its caller gets the exception while the others commit; then one COMMIT, so one fsync, for the batch.
With a single caller at a time this is simply "the transaction in a worker thread", without the
executor's per-call overhead. The log store's writer thread does the same for log appends.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from nimbus.storage.base import MetadataStore, StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_BATCH = 256


class GroupCommitter:
    def __init__(self, metadata: MetadataStore, *, name: str = "nimbus-metadata-commit") -> None:
        self.metadata = metadata
        self._name = name
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._thread: threading.Thread | None = None
        self._closing = False

    async def run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._cond:
            if self._closing:
                raise StorageError("metadata committer is closed")
            self._queue.append((fn, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return await future

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            self._commit(batch)

    def _commit(self, batch: list[tuple[Callable[[], Any], asyncio.Future[Any]]]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        md = self.metadata
        try:
            with md.transaction():
                for fn, future in batch:
                    try:
                        with md.transaction():  # a savepoint: a failure rolls back this fn alone
                            result = fn()
                    except Exception as exc:  # noqa: BLE001 - handed to its caller
                        outcomes.append((future, None, exc))
                    else:
                        outcomes.append((future, result, None))
        except BaseException as exc:  # the COMMIT itself failed: nothing of the batch is durable
            log.error("metadata group commit failed size=%d error=%r", len(batch), exc)
            outcomes = [(future, None, exc) for _, future in batch]
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, group in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, group)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def close(self) -> None:
        """Finish what is queued, then stop the thread. Blocks."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


def _settle(group: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in group:
        if future.done():  # the caller was cancelled; the transaction committed (or not) all the same
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
