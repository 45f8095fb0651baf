"""Storage: metadata documents, durable logs and blobs, behind three narrow Protocols (``base``).

Imports nothing else from nimbus. ``open_storage(data_dir)`` builds the embedded backends; the on-disk
layout under ``data_dir`` is::

    metadata.db (+ -wal, -shm)   SqliteMetadataStore: JSON documents by (kind, key), WAL, synchronous=FULL
    logs/<name-dir>/*.seg        SegmentLogStore: one directory per named log, segment files + log.json
    blobs/objects/<h2>/<sha256>  FileBlobStore: blob files named by the hash of their key; blobs/tmp/

``open_memory_storage()`` builds the in-memory backends used by engine unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nimbus.storage.base import (
    BlobInfo,
    BlobNotFound,
    BlobReader,
    BlobStore,
    Doc,
    Hasher,
    JoinedRecords,
    Log,
    LogClosed,
    LogCorrupt,
    LogRecord,
    LogStore,
    MetadataStore,
    StorageError,
)

__all__ = [
    "BlobInfo",
    "BlobNotFound",
    "BlobReader",
    "BlobStore",
    "Doc",
    "Hasher",
    "JoinedRecords",
    "Log",
    "LogClosed",
    "LogCorrupt",
    "LogRecord",
    "LogStore",
    "MetadataStore",
    "Storage",
    "StorageError",
    "open_memory_storage",
    "open_storage",
]


@dataclass(slots=True, frozen=True)
class Storage:
    """The three stores a server runs on. ``aclose()`` flushes logs, then closes metadata and blobs."""

    metadata: MetadataStore
    logs: LogStore
    blobs: BlobStore

    async def aclose(self) -> None:
        try:
            await self.logs.aclose()
        finally:
            self.metadata.close()
            self.blobs.close()


def open_storage(data_dir: Path) -> Storage:
    """The embedded backends under ``data_dir`` (created if missing). Blocking: call before serving."""
    from nimbus.storage.files import FileBlobStore
    from nimbus.storage.segments import SegmentLogStore
    from nimbus.storage.sqlite import SqliteMetadataStore

    data_dir.mkdir(parents=True, exist_ok=True)
    metadata = SqliteMetadataStore(data_dir / "metadata.db")
    try:
        logs = SegmentLogStore(data_dir / "logs")
    except BaseException:
        metadata.close()
        raise
    return Storage(metadata=metadata, logs=logs, blobs=FileBlobStore(data_dir / "blobs"))


def open_memory_storage() -> Storage:
    """In-memory backends with the same contracts, for unit tests."""
    from nimbus.storage.memory import MemoryBlobStore, MemoryLogStore, MemoryMetadataStore

    return Storage(metadata=MemoryMetadataStore(), logs=MemoryLogStore(), blobs=MemoryBlobStore())
