"""The three storage interfaces (MetadataStore, LogStore/Log, BlobStore), their value types and errors.

Everything above ``storage`` is written against these Protocols; the embedded backends (``sqlite``,
``segments``, ``files``) and the in-memory ones (``memory``) implement them, and a distributed backend
can replace any one of them later. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

#: A JSON document as stored by the metadata store: str/int/float/bool/None/list/dict values, str keys.
Doc = dict[str, Any]


class StorageError(Exception):
    """Base class of the storage layer's own failures."""


class LogCorrupt(StorageError):
    """A log segment is damaged somewhere other than its torn tail (which is repaired on open)."""


class LogClosed(StorageError):
    """The log (or its store) was closed or dropped, or failed an earlier write and refuses more."""


class BlobNotFound(StorageError, KeyError):
    """No blob is stored under the key."""


class LogRecord(NamedTuple):
    """One record of a durable log: its sequence number, append time and payload (immutable; a tuple,
    because reads build thousands of them per call and a tuple is the cheapest immutable record)."""

    seq: int
    timestamp_ms: int
    payload: bytes


class JoinedRecords(NamedTuple):
    """A read's payloads as one bytes object (``Log.read_joined``): each payload followed by the separator;
    ``count`` records, ``first_seq`` the first one's, ``next_seq`` one past the last one's (both 0 when
    none), the first one's append time and the oldest (0 when none)."""

    data: bytes
    count: int
    first_seq: int
    next_seq: int
    first_timestamp_ms: int
    oldest_timestamp_ms: int


def join_records(records: Sequence[LogRecord], separator: bytes = b"") -> JoinedRecords:
    """``read_joined`` of records already read."""
    if not records:
        return JoinedRecords(b"", 0, 0, 0, 0, 0)
    payloads = [r.payload for r in records]
    data = separator.join(payloads) + separator if separator else b"".join(payloads)
    oldest = min(r.timestamp_ms for r in records)
    return JoinedRecords(data, len(records), records[0].seq, records[-1].seq + 1, records[0].timestamp_ms, oldest)


@dataclass(slots=True, frozen=True)
class BlobInfo:
    """What ``BlobStore.put`` learnt while streaming a blob to disk."""

    key: str
    size: int
    md5_hex: str  # other digests: pass their hashers to ``put`` (they see every byte)


class Hasher(Protocol):
    """Anything hashlib-like that a blob put can feed while streaming (sha1, ``checksums.Crc32``...)."""

    def update(self, data: bytes, /) -> None: ...


# --------------------------------------------------------------------------------------------- metadata


@runtime_checkable
class MetadataStore(Protocol):
    """JSON documents by (kind, key). Synchronous: each call is a sub-millisecond local operation.

    A returned ``put``/``insert``/``delete`` (or the end of the outermost ``transaction()``) is durable.
    Usable from the event loop thread and from worker threads. Do not ``await`` inside ``transaction()``:
    another coroutine touching the store meanwhile gets a ``RuntimeError`` rather than joining it.
    """

    def get(self, kind: str, key: str) -> Doc | None: ...

    def put(self, kind: str, key: str, doc: Doc) -> None: ...

    def insert(self, kind: str, key: str, doc: Doc) -> bool: ...

    def delete(self, kind: str, key: str) -> bool: ...

    def list(
        self, kind: str, prefix: str = "", *, after: str | None = None, limit: int | None = None
    ) -> list[tuple[str, Doc]]: ...

    def count(self, kind: str, prefix: str = "") -> int: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...


# ------------------------------------------------------------------------------------------------- logs


@runtime_checkable
class Log(Protocol):
    """One named append-only log of records numbered 0, 1, 2... (never reused, even after trim).

    ``append`` returns once the records are durable; only durable records are visible to ``read``,
    ``next_seq`` and ``seq_at_or_after_time``. Timestamps are clamped to be non-decreasing within a log.
    """

    @property
    def name(self) -> str: ...

    @property
    def first_seq(self) -> int: ...

    @property
    def next_seq(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...

    async def append(self, payloads: Sequence[bytes], *, timestamp_ms: int | None = None) -> list[int]: ...

    def read(self, from_seq: int, limit: int = 1000, max_bytes: int | None = None) -> list[LogRecord]: ...

    def read_joined(self, from_seq: int, limit: int = 1000, max_bytes: int | None = None, separator: bytes = b"") -> JoinedRecords:
        """``read``, as its payloads joined, each followed by ``separator`` (at most 24 bytes)."""
        ...

    def seq_at_or_after_time(self, timestamp_ms: int) -> int: ...

    async def trim(self, before_seq: int) -> None: ...


@runtime_checkable
class LogStore(Protocol):
    """The set of named logs. Names are opaque strings ("kinesis/<account>/<region>/<stream>/<shard>")."""

    def open(self, name: str) -> Log: ...

    async def drop(self, name: str) -> bool: ...

    def names(self, prefix: str = "") -> list[str]: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


# ------------------------------------------------------------------------------------------------ blobs


@runtime_checkable
class BlobReader(Protocol):
    """An opened blob: a stable snapshot even if the key is overwritten or deleted meanwhile."""

    @property
    def size(self) -> int: ...

    def chunks(self, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]: ...

    async def read(self, start: int = 0, end: int | None = None) -> bytes: ...

    def close(self) -> None: ...

    def __enter__(self) -> BlobReader: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class BlobStore(Protocol):
    """Opaque bytes by key. A put is all-or-nothing: readers see the old blob or the whole new one."""

    async def put(
        self, key: str, data: bytes | AsyncIterable[bytes], *, hashers: Sequence[Hasher] = ()
    ) -> BlobInfo: ...

    async def put_file(self, key: str, path: Path, *, hashers: Sequence[Hasher] = ()) -> BlobInfo: ...

    def open(self, key: str) -> BlobReader: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> bool: ...

    def path_of(self, key: str) -> Path: ...

    async def sweep(self, keys_in_use: Iterable[str], *, min_age_s: float = 0.0) -> int: ...

    def close(self) -> None: ...


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no upper bound).

    Python's str order is code point order, which is UTF-8 byte order, which is SQLite's BINARY order.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be stored; skip to the next scalar value
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None
