"""Versioning in the S3 engine on in-memory storage: the metadata a write or read costs (a bucket never
versioned must cost what it did before), histories, the null version, promotion, and bodies freed."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from nimbus.clock import ManualClock
from nimbus.services.s3.buckets import KIND_VERSIONS
from nimbus.services.s3.engine import S3Engine
from nimbus.services.s3.errors import DeletedKey, InvalidArgument, MethodNotAllowed, NoSuchVersion
from nimbus.services.s3.inline import KIND_INLINE
from nimbus.services.s3.objects import VERSIONING, check_version_id, new_version_id
from nimbus.storage import open_memory_storage

ACCOUNT = "000000000000"


class Counting:
    """The metadata store, counting the calls made to it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*a: Any, **kw: Any) -> Any:
            self.calls[name] += 1
            return attr(*a, **kw)

        return call


def engine() -> tuple[S3Engine, Counting, Any]:
    storage = open_memory_storage()
    md = Counting(storage.metadata)
    e = S3Engine(md, storage.blobs, clock=ManualClock())  # type: ignore[arg-type]
    for name in ("plain", "ver"):
        e.buckets.create(ACCOUNT, name, region="us-east-1", location_constraint=None)
    e.buckets.put_setting(ACCOUNT, "ver", VERSIONING, "Enabled")
    return e, md, storage.metadata


async def body(e: S3Engine, bucket: str, key: str, version: str | None = None) -> bytes:
    read = e.objects.open(ACCOUNT, bucket, key, version_id=version)
    return read.data if read.data is not None else b"".join([c async for c in read.body])


def test_version_ids() -> None:
    ids = {new_version_id() for _ in range(200)}
    assert len(ids) == 200
    for v in ids:
        assert len(v) == 32
        check_version_id(v)
    check_version_id("null")
    for bad in ("", "x" * 31, "x" * 33, "../" + "x" * 29, "a b" + "x" * 29):
        with pytest.raises(InvalidArgument):
            check_version_id(bad)


def test_a_bucket_never_versioned_costs_what_it_did() -> None:
    async def run() -> None:
        e, md, _ = engine()
        e.buckets.lookup(ACCOUNT, "plain")  # cached, as on a running server
        md.calls.clear()
        await e.objects.put(ACCOUNT, "plain", "k", b"x" * 1024)
        assert md.calls == Counter(insert=1)  # a new key: one INSERT, no read
        md.calls.clear()
        e.objects.open(ACCOUNT, "plain", "k")
        assert md.calls == Counter(get=1)
        md.calls.clear()
        # a replacement: what it cost before versioning existed (the INSERT tried, then the transaction)
        await e.objects.put(ACCOUNT, "plain", "k", b"y" * 1024)
        assert md.calls == Counter(insert=2, transaction=1, get=1, put=1)
        md.calls.clear()
        await e.objects.delete(ACCOUNT, "plain", "k")
        assert md.calls == Counter(transaction=1, get=1, delete=1)
        md.calls.clear()
        # an Enabled bucket's new key is the one INSERT too
        e.buckets.lookup(ACCOUNT, "ver")
        md.calls.clear()
        await e.objects.put(ACCOUNT, "ver", "k", b"x")
        assert md.calls == Counter(insert=1)

    asyncio.run(run())


def test_histories_null_versions_and_promotion() -> None:
    async def run() -> None:
        e, _, raw = engine()
        o = e.objects
        v1 = (await o.put(ACCOUNT, "ver", "k", b"one")).version_id
        v2 = (await o.put(ACCOUNT, "ver", "k", b"two" * 10000)).version_id
        v3 = (await o.put(ACCOUNT, "ver", "k", b"three")).version_id
        assert v1 and v2 and v3 and len({v1, v2, v3}) == 3
        assert await body(e, "ver", "k", v1) == b"one" and await body(e, "ver", "k", v2) == b"two" * 10000
        # the small noncurrent body left its description for its own document
        history = raw.get(KIND_VERSIONS, f"{ACCOUNT}/ver/k")["vs"]
        assert [h["v"] for h in history] == [v2, v1] and all("d" not in h for h in history)
        assert raw.count(KIND_INLINE) == 1
        listing = o.list_versions(ACCOUNT, "ver")
        assert [(x.version, latest) for x, latest in listing.versions] == [(v3, True), (v2, False), (v1, False)]
        # a marker, then reads
        removed = await o.remove(ACCOUNT, "ver", "k")
        assert removed is not None and removed.delete_marker
        with pytest.raises(DeletedKey):
            o.open(ACCOUNT, "ver", "k")
        with pytest.raises(MethodNotAllowed):
            o.open(ACCOUNT, "ver", "k", version_id=removed.version_id)
        with pytest.raises(NoSuchVersion):
            o.open(ACCOUNT, "ver", "k", version_id="A" * 32)
        # deleting the marker by id makes v3 current again
        await o.remove(ACCOUNT, "ver", "k", version_id=removed.version_id)
        assert await body(e, "ver", "k") == b"three"
        # deleting the current version promotes the next one
        await o.remove(ACCOUNT, "ver", "k", version_id=v3)
        assert await body(e, "ver", "k") == b"two" * 10000
        # every version gone: nothing left, bodies freed (inline documents included)
        await o.remove(ACCOUNT, "ver", "k", version_id=v2)
        await o.remove(ACCOUNT, "ver", "k", version_id=v1)
        assert raw.count(KIND_VERSIONS) == 0 and raw.count(KIND_INLINE) == 0
        assert o.list_versions(ACCOUNT, "ver").versions == []
        # Suspended: the null version replaces the null version
        e.buckets.put_setting(ACCOUNT, "ver", VERSIONING, "Suspended")
        await o.put(ACCOUNT, "ver", "s", b"a")
        await o.put(ACCOUNT, "ver", "s", b"b" * 20000)
        await o.put(ACCOUNT, "ver", "s", b"c")
        assert [(x.version, latest) for x, latest in o.list_versions(ACCOUNT, "ver", prefix="s").versions] == [("null", True)]
        assert await body(e, "ver", "s", "null") == b"c"

    asyncio.run(run())
