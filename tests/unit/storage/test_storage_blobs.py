"""BlobStore contract on FileBlobStore and MemoryBlobStore, plus file-layout specifics."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from nimbus.storage import open_memory_storage, open_storage
from nimbus.storage.base import BlobNotFound, BlobStore
from nimbus.storage.checksums import Crc32
from nimbus.storage.files import FileBlobStore
from nimbus.storage.memory import MemoryBlobStore

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


@pytest.fixture(params=["memory", "files"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return MemoryBlobStore() if request.param == "memory" else FileBlobStore(tmp_path / "blobs")


async def stream(data: bytes, piece: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), piece):
        await asyncio.sleep(0)
        yield data[i : i + piece]


KEYS = ["plain", "../x", "/etc/passwd", "with space", "ünïcødé/🙂", "k" * 1024, "", "a\x00b"]


def test_put_open_read_any_key(blobs: BlobStore) -> None:
    async def main() -> None:
        for key in KEYS:
            data = key.encode() * 3 + b"!"
            sha256 = hashlib.sha256()
            info = await blobs.put(key, data, hashers=[sha256])
            assert (info.key, info.size) == (key, len(data))
            assert info.md5_hex == hashlib.md5(data).hexdigest()
            assert sha256.hexdigest() == hashlib.sha256(data).hexdigest()
            assert blobs.exists(key)
            with blobs.open(key) as reader:
                assert reader.size == len(data)
                assert await reader.read() == data
        for key in KEYS:
            assert await blobs.open(key).read() == key.encode() * 3 + b"!"

    run(main())


def test_streamed_put_with_extra_hashers_and_ranged_reads(blobs: BlobStore) -> None:
    async def main() -> None:
        data = os.urandom(9 << 20)  # spans several write batches
        sha1, crc = hashlib.sha1(), Crc32()
        info = await blobs.put("big", stream(data, 65_536 + 7), hashers=[sha1, crc])
        assert info.size == len(data) and info.md5_hex == hashlib.md5(data).hexdigest()
        assert sha1.hexdigest() == hashlib.sha1(data).hexdigest()
        assert crc.value == __import__("zlib").crc32(data)
        with blobs.open("big") as reader:
            chunks = [c async for c in reader.chunks(chunk_size=1 << 20)]
            assert max(len(c) for c in chunks) <= 1 << 20 and b"".join(chunks) == data
            assert b"".join([c async for c in reader.chunks(100, 5_000_000, chunk_size=999_999)]) == data[100:5_000_000]
            assert await reader.read(len(data) - 10, len(data) + 100) == data[-10:]
            assert await reader.read(50, 50) == b""

    run(main())


def test_empty_blob_and_overwrite(blobs: BlobStore) -> None:
    async def main() -> None:
        info = await blobs.put("k", b"")
        assert info.size == 0 and info.md5_hex == hashlib.md5(b"").hexdigest()
        assert await blobs.open("k").read() == b""
        assert (await blobs.put("k", stream(b"", 10))).size == 0
        await blobs.put("k", b"v1")
        reader = blobs.open("k")
        await blobs.put("k", b"version two")
        assert await reader.read() == b"v1"  # an open reader is a snapshot
        reader.close()
        assert await blobs.open("k").read() == b"version two"

    run(main())


def test_delete_and_missing(blobs: BlobStore) -> None:
    async def main() -> None:
        await blobs.put("k", b"data")
        reader = blobs.open("k")
        assert blobs.delete("k") is True
        assert blobs.delete("k") is False
        assert not blobs.exists("k")
        assert await reader.read() == b"data"  # still readable through the open reader
        reader.close()
        with pytest.raises(BlobNotFound):
            blobs.open("k")
        with pytest.raises(KeyError):  # BlobNotFound is a KeyError too
            blobs.open("never")

    run(main())


def test_failed_stream_leaves_nothing(blobs: BlobStore) -> None:
    async def main() -> None:
        await blobs.put("k", b"old")

        async def broken() -> AsyncIterator[bytes]:
            yield b"x" * (5 << 20)
            raise ConnectionResetError("client went away")

        with pytest.raises(ConnectionResetError):
            await blobs.put("k", broken())
        assert await blobs.open("k").read() == b"old"
        with pytest.raises(ConnectionResetError):
            await blobs.put("new", broken())
        assert not blobs.exists("new")
        if isinstance(blobs, FileBlobStore):
            assert list((blobs.root / "tmp").iterdir()) == []

    run(main())


def test_put_file_and_path_of(blobs: BlobStore, tmp_path: Path) -> None:
    async def main() -> None:
        source = tmp_path / "code.zip"
        source.write_bytes(b"PK" + os.urandom(3000))
        sha256 = hashlib.sha256()
        info = await blobs.put_file("code/fn", source, hashers=[sha256])
        assert info.md5_hex == hashlib.md5(source.read_bytes()).hexdigest()
        assert sha256.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()
        path = blobs.path_of("code/fn")
        assert path.read_bytes() == source.read_bytes()
        blobs.close()

    run(main())


def test_sweep_removes_orphans_only(blobs: BlobStore) -> None:
    async def main() -> None:
        for key in ["keep/1", "keep/2", "orphan/1", "orphan/2"]:
            await blobs.put(key, key.encode())
        assert await blobs.sweep(["keep/1", "keep/2", "unknown"], min_age_s=3600) == 0  # too young
        assert await blobs.sweep(["keep/1", "keep/2", "unknown"]) == 2
        assert [blobs.exists(k) for k in ["keep/1", "keep/2", "orphan/1", "orphan/2"]] == [True, True, False, False]

    run(main())


def test_file_layout_uses_key_hashes(tmp_path: Path) -> None:
    async def main() -> None:
        blobs = FileBlobStore(tmp_path / "blobs")
        await blobs.put("../../escape", b"x")
        files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
        digest = hashlib.sha256(b"../../escape").hexdigest()
        assert files == [tmp_path / "blobs" / "objects" / digest[:2] / digest]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs"]
        (tmp_path / "blobs" / "tmp" / "crashed.tmp").write_bytes(b"half")
        FileBlobStore(tmp_path / "blobs")  # reopening discards interrupted puts
        assert list((tmp_path / "blobs" / "tmp").iterdir()) == []

    run(main())


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_storage_bundle(kind: str, tmp_path: Path) -> None:
    async def main() -> None:
        storage = open_memory_storage() if kind == "memory" else open_storage(tmp_path / "data")
        storage.metadata.put("buckets", "b", {"created": 1})
        await storage.logs.open("firehose/s").append([b"rec"])
        await storage.blobs.put("b/obj", b"body")
        await storage.aclose()
        if kind == "disk":
            assert sorted(p.name for p in (tmp_path / "data").iterdir() if not p.name.startswith("metadata.db-")) == [
                "blobs", "logs", "metadata.db"
            ]
            storage = open_storage(tmp_path / "data")
            assert storage.metadata.get("buckets", "b") == {"created": 1}
            assert storage.logs.open("firehose/s").read(0)[0].payload == b"rec"
            assert await storage.blobs.open("b/obj").read() == b"body"
            await storage.aclose()

    run(main())
