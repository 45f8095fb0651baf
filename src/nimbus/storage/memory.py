"""In-memory backends of the three storage interfaces, for unit tests of engines (httpx's MockTransport idea).

They keep the contracts of the embedded backends (documents round-trip through orjson, sequence numbers
are never reused, blobs are all-or-nothing, readers are snapshots) without touching the disk, except
``MemoryBlobStore.path_of``, which materialises a blob in a private temporary directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

from nimbus.storage.base import (
    BlobInfo,
    BlobNotFound,
    Doc,
    Hasher,
    JoinedRecords,
    LogClosed,
    LogRecord,
    StorageError,
    join_records,
    prefix_end,
)
from nimbus.storage.segments import HEADER_BYTES, MAX_RECORD_BYTES
from nimbus.storage.txlock import TransactionLock

# ------------------------------------------------------------------------------------------- metadata


class MemoryMetadataStore:
    """MetadataStore in dicts; documents are kept as orjson bytes so callers never share mutable state."""

    def __init__(self) -> None:
        self._docs: dict[str, dict[str, bytes]] = {}
        self._keys: dict[str, list[str]] = {}  # sorted, per kind
        self._lock = TransactionLock()
        self._undo: list[tuple[str, str, bytes | None]] | None = None  # set while a transaction is open
        self._closed = False

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock.hold() as depth:
            self._check_open()
            if depth == 1:
                self._undo = []
            assert self._undo is not None
            mark = len(self._undo)
            try:
                yield
            except BaseException:
                self._rollback(mark)
                raise
            finally:
                if depth == 1:
                    self._undo = None

    def _rollback(self, mark: int) -> None:
        undo = self._undo
        if undo is None:
            return
        self._undo = None  # replaying the journal must not journal
        try:
            while len(undo) > mark:
                kind, key, old = undo.pop()
                self._set(kind, key, old)
        finally:
            self._undo = undo

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("metadata store is closed")

    def _set(self, kind: str, key: str, blob: bytes | None) -> bytes | None:
        docs = self._docs.setdefault(kind, {})
        keys = self._keys.setdefault(kind, [])
        old = docs.get(key)
        if blob is None:
            if old is not None:
                del docs[key]
                del keys[bisect_left(keys, key)]
        else:
            if old is None:
                insort(keys, key)
            docs[key] = blob
        if self._undo is not None:
            self._undo.append((kind, key, old))
        return old

    def get(self, kind: str, key: str) -> Doc | None:
        with self._lock.hold():
            self._check_open()
            blob = self._docs.get(kind, {}).get(key)
        return None if blob is None else orjson.loads(blob)

    def put(self, kind: str, key: str, doc: Doc) -> None:
        blob = orjson.dumps(doc)
        with self._lock.hold():
            self._check_open()
            self._set(kind, key, blob)

    def insert(self, kind: str, key: str, doc: Doc) -> bool:
        blob = orjson.dumps(doc)
        with self._lock.hold():
            self._check_open()
            if key in self._docs.get(kind, {}):
                return False
            self._set(kind, key, blob)
            return True

    def delete(self, kind: str, key: str) -> bool:
        with self._lock.hold():
            self._check_open()
            if key not in self._docs.get(kind, {}):
                return False
            self._set(kind, key, None)
            return True

    def list(
        self, kind: str, prefix: str = "", *, after: str | None = None, limit: int | None = None
    ) -> list[tuple[str, Doc]]:
        with self._lock.hold():
            self._check_open()
            keys = self._keys.get(kind, [])
            docs = self._docs.get(kind, {})
            start = bisect_left(keys, prefix)
            if after is not None:
                start = max(start, bisect_right(keys, after))
            found: list[tuple[str, bytes]] = []
            for key in keys[start:]:
                if (limit is not None and len(found) >= limit) or not key.startswith(prefix):
                    break
                found.append((key, docs[key]))
        return [(key, orjson.loads(blob)) for key, blob in found]

    def count(self, kind: str, prefix: str = "") -> int:
        with self._lock.hold():
            self._check_open()
            keys = self._keys.get(kind, [])
            if not prefix:
                return len(keys)
            end = prefix_end(prefix)
            stop = len(keys) if end is None else bisect_left(keys, end)
            return stop - bisect_left(keys, prefix)

    def close(self) -> None:
        self._closed = True


# ------------------------------------------------------------------------------------------------ logs


class MemoryLog:
    """A Log in a Python list; ``append`` yields to the loop once, as if waiting for its fsync."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._records: list[LogRecord] = []
        self._offset = 0  # seq of _records[0]; the first retained seq
        self._next = 0
        self._last_ts = -1
        self._size = 0
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def first_seq(self) -> int:
        return self._offset

    @property
    def next_seq(self) -> int:
        return self._next

    @property
    def size_bytes(self) -> int:
        return self._size

    async def append(self, payloads: Sequence[bytes], *, timestamp_ms: int | None = None) -> list[int]:
        if not payloads:
            return []
        if self._closed:
            raise LogClosed(f"log {self._name!r} is closed")
        for payload in payloads:
            if len(payload) > MAX_RECORD_BYTES:
                raise ValueError(f"record of {len(payload)} bytes exceeds {MAX_RECORD_BYTES}")
        ts = time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
        ts = self._last_ts = max(ts, self._last_ts, 0)
        first = self._next
        for i, payload in enumerate(payloads):
            self._records.append(LogRecord(first + i, ts, bytes(payload)))
            self._size += HEADER_BYTES + len(payload)
        self._next += len(payloads)
        await asyncio.sleep(0)
        return list(range(first, self._next))

    def read(self, from_seq: int, limit: int = 1000, max_bytes: int | None = None) -> list[LogRecord]:
        if self._closed:
            raise LogClosed(f"log {self._name!r} is closed")
        if limit <= 0:
            return []
        start = max(from_seq, self._offset) - self._offset
        out: list[LogRecord] = []
        budget = max_bytes
        for record in self._records[start : start + limit]:
            if budget is not None:
                if out and len(record.payload) > budget:
                    break
                budget -= len(record.payload)
            out.append(record)
        return out

    def read_joined(self, from_seq: int, limit: int = 1000, max_bytes: int | None = None, separator: bytes = b"") -> JoinedRecords:
        return join_records(self.read(from_seq, limit, max_bytes), separator)

    def seq_at_or_after_time(self, timestamp_ms: int) -> int:
        i = bisect_left(self._records, timestamp_ms, key=lambda r: r.timestamp_ms)
        return self._records[i].seq if i < len(self._records) else self._next

    async def trim(self, before_seq: int) -> None:
        target = min(before_seq, self._next)
        if target <= self._offset:
            return
        dropped = self._records[: target - self._offset]
        del self._records[: target - self._offset]
        self._size -= sum(HEADER_BYTES + len(r.payload) for r in dropped)
        self._offset = target


class MemoryLogStore:
    """LogStore of MemoryLogs."""

    def __init__(self) -> None:
        self._logs: dict[str, MemoryLog] = {}
        self._closed = False

    def open(self, name: str) -> MemoryLog:
        if self._closed:
            raise LogClosed("log store is closed")
        if not name:
            raise ValueError("log name must not be empty")
        opened = self._logs.get(name)
        if opened is None:
            opened = self._logs[name] = MemoryLog(name)
        return opened

    async def drop(self, name: str) -> bool:
        dropped = self._logs.pop(name, None)
        if dropped is None:
            return False
        dropped._closed = True
        return True

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self._logs if n.startswith(prefix))

    def close(self) -> None:
        self._closed = True
        for opened in self._logs.values():
            opened._closed = True

    async def aclose(self) -> None:
        self.close()


# ----------------------------------------------------------------------------------------------- blobs


class MemoryBlobReader:
    """A snapshot of one blob's bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    async def chunks(self, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        stop = len(self._data) if end is None else min(end, len(self._data))
        for i in range(max(start, 0), stop, chunk_size):
            yield self._data[i : min(i + chunk_size, stop)]

    async def read(self, start: int = 0, end: int | None = None) -> bytes:
        stop = len(self._data) if end is None else min(end, len(self._data))
        return self._data[max(start, 0) : stop]

    def close(self) -> None:
        pass

    def __enter__(self) -> MemoryBlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoryBlobStore:
    """BlobStore in a dict."""

    def __init__(self) -> None:
        self._blobs: dict[str, tuple[bytes, float]] = {}  # key -> (data, monotonic time of put)
        self._tmp: Path | None = None

    async def put(self, key: str, data: bytes | AsyncIterable[bytes], *, hashers: Sequence[Hasher] = ()) -> BlobInfo:
        if isinstance(data, (bytes, bytearray, memoryview)):
            parts = [bytes(data)]
        else:
            parts = [bytes(chunk) async for chunk in data]
        whole = b"".join(parts)
        return self._store(key, whole, hashers)

    async def put_file(self, key: str, path: Path, *, hashers: Sequence[Hasher] = ()) -> BlobInfo:
        return self._store(key, path.read_bytes(), hashers)

    def _store(self, key: str, data: bytes, hashers: Sequence[Hasher]) -> BlobInfo:
        for hasher in hashers:
            hasher.update(data)
        self._blobs[key] = (data, time.monotonic())
        if self._tmp is not None:
            self._tmp_path(key).unlink(missing_ok=True)
        return BlobInfo(key, len(data), hashlib.md5(data).hexdigest())

    def open(self, key: str) -> MemoryBlobReader:
        entry = self._blobs.get(key)
        if entry is None:
            raise BlobNotFound(key)
        return MemoryBlobReader(entry[0])

    def exists(self, key: str) -> bool:
        return key in self._blobs

    def delete(self, key: str) -> bool:
        if self._tmp is not None:
            self._tmp_path(key).unlink(missing_ok=True)
        return self._blobs.pop(key, None) is not None

    def _tmp_path(self, key: str) -> Path:
        assert self._tmp is not None
        return self._tmp / hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()

    def path_of(self, key: str) -> Path:
        """A real file with the blob's bytes, in a temporary directory removed by ``close()``."""
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="nimbus-memory-blobs-"))
        path = self._tmp_path(key)
        entry = self._blobs.get(key)
        if entry is not None and not path.exists():
            path.write_bytes(entry[0])
        return path

    async def sweep(self, keys_in_use: Iterable[str], *, min_age_s: float = 0.0) -> int:
        keep = set(keys_in_use)
        cutoff = time.monotonic() - min_age_s
        orphans = [k for k, (_, at) in self._blobs.items() if k not in keep and at <= cutoff]
        for key in orphans:
            self.delete(key)
        return len(orphans)

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
