"""kill -9 an S3 engine writing to a versioned bucket (SQLite metadata, file blobs): every acknowledged
version, delete marker and permanent version delete survives whole; after the start-up sweep, the blob
files on disk are exactly the ones some version names (no orphan, and no noncurrent body swept)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import time
from pathlib import Path

from tests.durability.crashkit import Killer

from nimbus.services.s3.engine import S3Engine
from nimbus.services.s3.objects import VERSIONING
from nimbus.storage.files import FileBlobStore, blob_hash
from nimbus.storage.sqlite import SqliteMetadataStore

ACCOUNT = "000000000000"
BUCKET = "crash-versions"

CHILD = r'''
import asyncio, hashlib, os, random, sys
from pathlib import Path
from nimbus.services.s3.engine import S3Engine
from nimbus.services.s3.objects import VERSIONING
from nimbus.storage.files import FileBlobStore
from nimbus.storage.sqlite import SqliteMetadataStore

root, round_ = Path(sys.argv[1]), int(sys.argv[2])
ACCOUNT, BUCKET = "000000000000", "crash-versions"

async def main():
    engine = S3Engine(SqliteMetadataStore(root / "meta.db"), FileBlobStore(root / "s3"))
    await engine.start()
    if engine.buckets.lookup(ACCOUNT, BUCKET) is None:
        engine.buckets.create(ACCOUNT, BUCKET, region="us-east-1", location_constraint=None)
        engine.buckets.put_setting(ACCOUNT, BUCKET, VERSIONING, "Enabled")
    print("READY", flush=True)
    o = engine.objects

    async def worker(w):
        rng = random.Random(round_ * 100 + w)
        mine = []
        for i in range(10**9):
            key = f"k{rng.randrange(6)}"
            roll = rng.random()
            if roll < 0.12:
                removed = await o.remove(ACCOUNT, BUCKET, key)
                print(f"MARK {key} {removed.version_id}", flush=True)
            elif roll < 0.22 and mine:
                k, v = mine.pop(rng.randrange(len(mine)))
                print(f"DELETING {k} {v}", flush=True)  # a kill from here on may or may not have deleted it
                await o.remove(ACCOUNT, BUCKET, k, version_id=v)
                print(f"DEL {k} {v}", flush=True)
            else:
                body = os.urandom(rng.choice((100, 3000, 40000, 200000)))
                obj = await o.put(ACCOUNT, BUCKET, key, body)
                mine.append((key, obj.version_id))
                print(f"PUT {key} {obj.version_id} {hashlib.md5(body).hexdigest()}", flush=True)

    await asyncio.gather(*(worker(w) for w in range(4)))

asyncio.run(main())
'''


def test_versions_survive_kill_9(killer: Killer, tmp_path: Path) -> None:
    root = tmp_path / "s3root"
    root.mkdir()
    rng = random.Random(11)
    puts: dict[tuple[str, str], str] = {}
    marks: set[tuple[str, str]] = set()
    deleted: set[tuple[str, str]] = set()
    deleting: set[tuple[str, str]] = set()  # a delete started, not acknowledged: either outcome is right
    for round_ in range(3):
        for line in killer.run(CHILD, [str(root), str(round_)], kill_after_s=rng.uniform(0.3, 0.8)):
            kind, *rest = line.split()
            if kind == "PUT":
                puts[(rest[0], rest[1])] = rest[2]
            elif kind == "MARK":
                marks.add((rest[0], rest[1]))
            elif kind == "DEL":
                deleted.add((rest[0], rest[1]))
            elif kind == "DELETING":
                deleting.add((rest[0], rest[1]))
        assert puts and marks and deleted
        time.sleep(1.2)  # blobs of the interrupted puts are now older than the sweep's minimum age

        async def check() -> None:
            blobs = FileBlobStore(root / "s3")
            engine = S3Engine(SqliteMetadataStore(root / "meta.db"), blobs)
            await engine.start()  # sweeps orphans
            o = engine.objects
            try:
                for (key, version), md5 in puts.items():
                    found = o.find_version(ACCOUNT, BUCKET, key, version)
                    if (key, version) in deleted:
                        assert found is None
                        continue
                    if found is None and (key, version) in deleting:
                        continue
                    assert found is not None, (key, version)
                    read = o.open(ACCOUNT, BUCKET, key, version_id=version)
                    data = read.data if read.data is not None else b"".join([c async for c in read.body])
                    assert hashlib.md5(data).hexdigest() == md5
                for key, version in marks:
                    found = o.find_version(ACCOUNT, BUCKET, key, version)
                    assert found is not None and found.delete_marker
                # one latest per key; the listing and the files on disk agree
                listing = o.list_versions(ACCOUNT, BUCKET)
                latest: dict[str, int] = {}
                for obj, is_latest in listing.versions:
                    latest[obj.key] = latest.get(obj.key, 0) + int(is_latest)
                assert set(latest.values()) <= {1}
                named = {blob_hash(b) for b in await asyncio.to_thread(engine._keys_in_use) if not b.startswith("s3i/")}
                on_disk = {name for shard in (root / "s3" / "objects").iterdir() for name in os.listdir(shard)}
                assert named == on_disk
            finally:
                await engine.aclose()
                engine.metadata.close()

        asyncio.run(check())
