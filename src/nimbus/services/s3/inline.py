"""Small object bodies kept in the metadata store, committed in the same transaction as the object.

A PutObject of a few KiB through the blob store costs three fsyncs (the body file, its directory, the
metadata commit) and three thread hops. A body of at most ``INLINE_MAX_BYTES`` is instead kept in the
object's own description (``S3Object.inline``: the base64 text, field ``"d"`` of the ``s3.object``
document): one row, one statement and one fsync (SQLite's WAL commit, ``synchronous=FULL``) per PUT, one
read per GET, and no crash can leave half an object or an orphan body, since the body and its name are
the same document. Replacing or deleting the object replaces or deletes the body with it. (Object stores
commonly do this: MinIO inlines small objects in their metadata file.)

Such a body's blob key starts with ``INLINE_PREFIX``; everything else about the object (segments, ETag,
checksums, ranges, copies) is unchanged. Data written by earlier versions keeps the body in a separate
``s3.inline/<blob key>`` document (the description has no ``"d"``): those objects are read through
``InlineBlobs`` (which wraps the engine's blob store so that such a blob opens like any other), and their
body document is deleted in the transaction that replaces or deletes the object.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

from nimbus.storage import BlobInfo, BlobNotFound, BlobReader, BlobStore, Hasher, MetadataStore

try:  # pragma: no branch - pybase64 is a dependency (SIMD base64: 1 KiB ~0.8 -> ~0.2 us, decode ~1.7 -> ~0.4 us)
    from pybase64 import b64decode as _b64decode
    from pybase64 import b64encode_as_string as _b64encode_text
except ImportError:  # pragma: no cover
    from binascii import a2b_base64 as _b64decode

    def _b64encode_text(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

KIND_INLINE = "s3.inline"
INLINE_PREFIX = "s3i/"
INLINE_MAX_BYTES = 16 * 1024


def new_inline_key() -> str:
    return INLINE_PREFIX + os.urandom(16).hex()


def is_inline(blob_key: str) -> bool:
    return blob_key.startswith(INLINE_PREFIX)


def encode_inline(data: bytes) -> str:
    """The text form of a body kept in a description (``S3Object.inline``)."""
    return _b64encode_text(data)


def decode_inline(text: str) -> bytes:
    """The body of ``encode_inline``'s text."""
    return _b64decode(text)


def inline_doc(data: bytes) -> dict[str, Any]:
    """A body document of the older layout (``s3.inline/<blob key>``); still read, no longer written."""
    return {"d": encode_inline(data)}


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
