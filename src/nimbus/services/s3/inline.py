"""Small object bodies kept in the metadata store, committed in the same transaction as the object.

A PutObject of a few KiB through the blob store costs three fsyncs (the body file, its directory, the
metadata commit) and three thread hops. A body of at most ``INLINE_MAX_BYTES`` is instead written as a
``s3.inline/<blob key>`` document inside the very transaction that names it in the object's description:
one fsync (SQLite's WAL commit, ``synchronous=FULL``), and no crash can leave half an object or an orphan
body, since the body and its name commit or vanish together. Replacing or deleting the object deletes
the body in that same transaction. (Object stores commonly do this: MinIO inlines small objects in
their metadata file.)

Such a body's blob key starts with ``INLINE_PREFIX``; everything else about the object (segments, ETag,
checksums, ranges, copies) is unchanged. ``InlineBlobs`` wraps the engine's blob store so that readers
open an inline blob like any other (multipart copy sources, CopyObject, Lambda code from S3); writes and
deletes of inline bodies go through ``Objects`` and its transactions, never through the wrapper.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

from nimbus.storage import BlobInfo, BlobNotFound, BlobReader, BlobStore, Hasher, MetadataStore

KIND_INLINE = "s3.inline"
INLINE_PREFIX = "s3i/"
INLINE_MAX_BYTES = 16 * 1024


def new_inline_key() -> str:
    return f"{INLINE_PREFIX}{uuid.uuid4().hex}"


def is_inline(blob_key: str) -> bool:
    return blob_key.startswith(INLINE_PREFIX)


def inline_doc(data: bytes) -> dict[str, Any]:
    return {"d": base64.b64encode(data).decode("ascii")}


def read_inline(metadata: MetadataStore, blob_key: str) -> bytes | None:
    doc = metadata.get(KIND_INLINE, blob_key)
    return None if doc is None else base64.b64decode(doc["d"])


class BytesBlobReader:
    """A BlobReader over bytes already in memory (an inline body: no file, no thread hop)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    async def chunks(self, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        offset = max(start, 0)
        stop = len(self._data) if end is None else min(end, len(self._data))
        while offset < stop:
            yield self._data[offset : min(offset + chunk_size, stop)]
            offset += chunk_size

    async def read(self, start: int = 0, end: int | None = None) -> bytes:
        stop = len(self._data) if end is None else min(end, len(self._data))
        return self._data[max(start, 0) : stop]

    def close(self) -> None:
        pass

    def __enter__(self) -> BytesBlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class InlineBlobs:
    """The engine's BlobStore, also able to open inline bodies (see the module docstring)."""

    def __init__(self, files: BlobStore, metadata: MetadataStore) -> None:
        self.files = files
        self.metadata = metadata

    async def put(self, key: str, data: bytes | AsyncIterable[bytes], *, hashers: Sequence[Hasher] = ()) -> BlobInfo:
        return await self.files.put(key, data, hashers=hashers)

    async def put_file(self, key: str, path: Path, *, hashers: Sequence[Hasher] = ()) -> BlobInfo:
        return await self.files.put_file(key, path, hashers=hashers)

    def open(self, key: str) -> BlobReader:
        if is_inline(key):
            data = read_inline(self.metadata, key)
            if data is None:
                raise BlobNotFound(key)
            return BytesBlobReader(data)
        return self.files.open(key)

    def exists(self, key: str) -> bool:
        if is_inline(key):
            return self.metadata.get(KIND_INLINE, key) is not None
        return self.files.exists(key)

    def delete(self, key: str) -> bool:
        if is_inline(key):
            return self.metadata.delete(KIND_INLINE, key)
        return self.files.delete(key)

    def path_of(self, key: str) -> Path:
        if is_inline(key):
            raise ValueError(f"blob {key} is kept in the metadata store and has no file")
        return self.files.path_of(key)

    async def sweep(self, keys_in_use: Iterable[str], *, min_age_s: float = 0.0) -> int:
        return await self.files.sweep(keys_in_use, min_age_s=min_age_s)

    def close(self) -> None:
        self.files.close()
