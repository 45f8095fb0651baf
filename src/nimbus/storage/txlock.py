"""TransactionLock: the one lock of a metadata store, reentrant for its owner (a thread, or a task on it).

A transaction is owned by the thread that opened it and, on an event loop, by the task that opened it.
The same owner re-enters (nested ``transaction()`` joins the outer one); another thread waits; another
task on the *same* thread would deadlock the loop by waiting, so it gets a ``RuntimeError`` instead; that
only happens when a coroutine awaits inside ``transaction()``, which is the bug to fix.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        return None


class TransactionLock:
    """Mutual exclusion between owners; ``hold()`` yields the nesting depth (1 for the outermost)."""

    __slots__ = ("_lock", "_owner", "_depth")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: tuple[int, asyncio.Task[object] | None] | None = None
        self._depth = 0

    @property
    def owner_thread(self) -> int | None:
        """The thread holding the lock, if any (racy for other threads: only "is it me?" is meaningful)."""
        owner = self._owner
        return None if owner is None else owner[0]

    @contextmanager
    def hold(self) -> Iterator[int]:
        me = (threading.get_ident(), _current_task())
        owner = self._owner
        if owner is not None and owner[0] == me[0]:
            if owner[1] is not me[1]:
                raise RuntimeError(
                    "metadata store used by another task while a transaction is open "
                    "(is there an await inside transaction()?)"
                )
            self._depth += 1
            try:
                yield self._depth
            finally:
                self._depth -= 1
            return
        with self._lock:
            self._owner = me
            self._depth = 1
            try:
                yield 1
            finally:
                self._owner = None
                self._depth = 0
