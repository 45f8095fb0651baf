"""kill -9 a process putting blobs: acknowledged blobs survive whole; no partial blob is ever visible."""

from __future__ import annotations

import asyncio
import hashlib
import random
from pathlib import Path

from tests.durability.crashkit import Killer

from nimbus.storage.files import FileBlobStore

CHILD = r'''
import asyncio, hashlib, random, sys
from pathlib import Path
from nimbus.storage.files import FileBlobStore

def body(key, version):
    size = int(hashlib.sha256(f"{key}/{version}".encode()).hexdigest()[:6], 16) % (3 << 20)
    head = f"{key}|{version}|{size}|".encode()
    block = hashlib.sha256(head).digest() * 2048
    return head + (block * (size // len(block) + 1))[:size]

async def chunks(data):
    for i in range(0, len(data), 200_000):
        await asyncio.sleep(0)
        yield data[i:i + 200_000]

async def main():
    store = FileBlobStore(Path(sys.argv[1]))
    round_ = int(sys.argv[2])
    print("READY", flush=True)

    async def worker(w):
        rng = random.Random(round_ * 100 + w)
        for n in range(10**9):
            key = f"k{rng.randrange(12)}"
            version = round_ * 1_000_000 + w * 10_000 + n
            info = await store.put(key, chunks(body(key, version)))
            print(f"ACK {key} {version} {info.md5_hex}", flush=True)

    await asyncio.gather(*(worker(w) for w in range(4)))

asyncio.run(main())
'''


def parse(data: bytes) -> tuple[str, int]:
    key, version, size, rest = data.split(b"|", 3)
    assert len(rest) == int(size), "partial blob visible"
    head = b"|".join([key, version, size]) + b"|"
    block = hashlib.sha256(head).digest() * 2048
    assert rest == (block * (int(size) // len(block) + 1))[: int(size)], "damaged blob"
    return key.decode(), int(version)


def test_blobs_are_all_or_nothing_under_kill_9(killer: Killer, tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    rng = random.Random(3)
    acked: dict[str, tuple[int, str]] = {}  # key -> (version, md5) of the last acknowledged put
    for round_ in range(4):
        for line in killer.run(CHILD, [str(root), str(round_)], kill_after_s=rng.uniform(0.1, 0.7)):
            if not line.startswith("ACK "):
                continue
            _, key, version, sha = line.split()
            acked[key] = (int(version), sha)  # puts of one key by one worker are ordered; across workers, last wins
        assert acked

        async def check() -> None:
            store = FileBlobStore(root)
            assert list((root / "tmp").iterdir()) == []
            for key in acked:
                assert store.exists(key)
                with store.open(key) as reader:
                    data = await reader.read()
                found_key, version = parse(data)
                assert found_key == key
                if version == acked[key][0]:
                    assert hashlib.md5(data).hexdigest() == acked[key][1]

        asyncio.run(check())
