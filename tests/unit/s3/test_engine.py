"""S3Engine on in-memory storage and a manual clock: listing, multipart, conditions, events."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import orjson
import pytest

from nimbus.clock import ManualClock
from nimbus.services.s3 import checksums
from nimbus.services.s3.engine import S3Engine
from nimbus.services.s3.errors import (
    BadDigest,
    EntityTooSmall,
    InvalidPart,
    InvalidRange,
    NoSuchBucket,
    NoSuchUpload,
    NotModified,
    PreconditionFailed,
)
from nimbus.services.s3.multipart import COMPLETED_REPLAY_S
from nimbus.services.s3.notifications import matching, validate_configuration
from nimbus.services.s3.objects import Conditions, Integrity, parse_range
from nimbus.storage import open_memory_storage

ACCOUNT = "000000000000"


def engine(deliver: Any = None) -> S3Engine:
    storage = open_memory_storage()
    e = S3Engine(storage.metadata, storage.blobs, clock=ManualClock(), deliver=deliver)
    e.buckets.create(ACCOUNT, "unit-bucket", region="us-east-1", location_constraint=None)
    return e


async def body_of(e: S3Engine, key: str, **kw: Any) -> bytes:
    read = e.objects.open(ACCOUNT, "unit-bucket", key, **kw)
    return b"".join([c async for c in read.body])


def test_parse_range() -> None:
    assert parse_range("bytes=0-9", 100) == (0, 10)
    assert parse_range("bytes=90-", 100) == (90, 100)
    assert parse_range("bytes=-5", 100) == (95, 100)
    assert parse_range("bytes=50-500", 100) == (50, 100)
    assert parse_range("bytes=9-1", 100) is None  # malformed: whole object, as S3
    assert parse_range("bytes=0-1,5-6", 100) is None
    with pytest.raises(InvalidRange):
        parse_range("bytes=100-", 100)


def test_listing_rolls_up_prefixes_and_pages() -> None:
    async def run() -> None:
        e = engine()
        keys = ["a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d"]
        for k in keys:
            await e.objects.put(ACCOUNT, "unit-bucket", k, b"x")
        page = e.objects.list(ACCOUNT, "unit-bucket", delimiter="/")
        assert page.prefixes == ["a/", "c/"] and [o.key for o in page.objects] == ["b", "d"]
        seen: list[str] = []
        after = None
        while True:
            page = e.objects.list(ACCOUNT, "unit-bucket", delimiter="/", after=after, max_keys=1)
            seen += page.prefixes + [o.key for o in page.objects]
            if not page.truncated:
                break
            after = page.last
        assert seen == ["a/", "b", "c/", "d"]
        assert [o.key for o in e.objects.list(ACCOUNT, "unit-bucket", prefix="a/").objects] == ["a/1", "a/2", "a/b/3"]
        with pytest.raises(NoSuchBucket):
            e.objects.list(ACCOUNT, "missing-bucket")

    asyncio.run(run())


def test_conditions_and_checksums() -> None:
    async def run() -> None:
        e = engine()
        obj = await e.objects.put(ACCOUNT, "unit-bucket", "k", b"data", integrity=Integrity(algorithm="CRC32C"))
        h = checksums.new_hasher("CRC32C")
        h.update(b"data")
        assert obj.checksum == checksums.encode(h.digest())
        with pytest.raises(PreconditionFailed):
            e.objects.open(ACCOUNT, "unit-bucket", "k", conditions=Conditions(if_match='"nope"'))
        with pytest.raises(NotModified):
            e.objects.open(ACCOUNT, "unit-bucket", "k", conditions=Conditions(if_none_match=obj.etag))
        with pytest.raises(BadDigest):
            await e.objects.put(ACCOUNT, "unit-bucket", "k", b"data", integrity=Integrity(algorithm="CRC32", expected="AAAAAA=="))
        assert await body_of(e, "k") == b"data"  # the failed put changed nothing

    asyncio.run(run())


def test_multipart_segments_etag_and_part_rules() -> None:
    async def run() -> None:
        e = engine()
        mp = e.multipart
        up = mp.create(ACCOUNT, "unit-bucket", "big", checksum_algorithm="SHA256")
        p1 = b"a" * (5 * 1024 * 1024)
        one = await mp.upload_part(ACCOUNT, "unit-bucket", "big", up.upload_id, 1, p1)
        two = await mp.upload_part(ACCOUNT, "unit-bucket", "big", up.upload_id, 2, b"tail")
        three = await mp.upload_part(ACCOUNT, "unit-bucket", "big", up.upload_id, 3, b"end")
        with pytest.raises(EntityTooSmall):
            await mp.complete(ACCOUNT, "unit-bucket", "big", up.upload_id,
                              [{"PartNumber": 2, "ETag": two.etag}, {"PartNumber": 3, "ETag": three.etag}])
        with pytest.raises(InvalidPart):
            await mp.complete(ACCOUNT, "unit-bucket", "big", up.upload_id, [{"PartNumber": 4, "ETag": two.etag}])
        obj = await mp.complete(ACCOUNT, "unit-bucket", "big", up.upload_id,
                                [{"PartNumber": 1, "ETag": one.etag}, {"PartNumber": 2, "ETag": two.etag}])
        want = hashlib.md5(hashlib.md5(p1).digest() + hashlib.md5(b"tail").digest()).hexdigest()
        assert obj.etag == f'"{want}-2"' and obj.parts_count == 2 and len(obj.segments) == 2
        assert obj.checksum is not None and obj.checksum.endswith("-2") and obj.checksum_type == "COMPOSITE"
        assert await body_of(e, "big", range_header=f"bytes={len(p1) - 1}-{len(p1) + 1}") == b"ata"
        assert await body_of(e, "big", part_number=2) == b"tail"
        # the unused part's blob is gone, the used ones are the object's
        assert not e.blobs.exists(three.blob_key) and e.blobs.exists(one.blob_key)

    asyncio.run(run())


def test_small_bodies_live_in_the_description_and_the_older_layout_still_works() -> None:
    """A small body is kept in its object's document; objects written by earlier versions (the body in its
    own s3.inline document) are still read, copied, replaced and deleted, their body document with them."""
    from nimbus.services.s3.buckets import KIND_OBJECT, object_prefix
    from nimbus.services.s3.inline import KIND_INLINE, inline_doc
    from nimbus.services.s3.objects import S3Object

    async def run() -> None:
        e = engine()
        md = e.metadata
        obj = await e.objects.put(ACCOUNT, "unit-bucket", "new", b"fresh body")
        doc = md.get(KIND_OBJECT, object_prefix(ACCOUNT, "unit-bucket") + "new")
        assert doc is not None and "d" in doc and md.list(KIND_INLINE) == []
        assert obj.segments[0][0].startswith("s3i/")
        assert await body_of(e, "new", range_header="bytes=2-4") == b"esh"

        def legacy(key: str, body: bytes, blob: str) -> None:
            md.put(KIND_INLINE, blob, inline_doc(body))
            old = S3Object("unit-bucket", key, len(body), f'"{hashlib.md5(body).hexdigest()}"', 0.0, ((blob, len(body)),))
            md.put(KIND_OBJECT, object_prefix(ACCOUNT, "unit-bucket") + key, old.to_doc())

        legacy("old", b"older body", "s3i/old")
        legacy("gone", b"to delete", "s3i/gone")
        assert await body_of(e, "old") == b"older body"
        assert await body_of(e, "old", range_header="bytes=-4") == b"body"
        await e.objects.copy(ACCOUNT, "unit-bucket", "old", "unit-bucket", "copy")
        assert e.objects.get_object(ACCOUNT, "unit-bucket", "copy").inline is not None
        assert await body_of(e, "copy") == b"older body"
        up = e.multipart.create(ACCOUNT, "unit-bucket", "mp")
        part = await e.multipart.upload_part_copy(ACCOUNT, "unit-bucket", "mp", up.upload_id, 1,
                                                  source_bucket="unit-bucket", source_key="new", source_range="bytes=0-4")
        assert part.size == 5
        await e.objects.put(ACCOUNT, "unit-bucket", "old", b"replaced")
        assert await body_of(e, "old") == b"replaced"
        assert await e.objects.delete(ACCOUNT, "unit-bucket", "gone")
        assert md.list(KIND_INLINE) == []  # both older body documents went with their objects
        assert await e.objects.delete(ACCOUNT, "unit-bucket", "new")
        assert md.get(KIND_OBJECT, object_prefix(ACCOUNT, "unit-bucket") + "new") is None

    asyncio.run(run())


def test_a_lone_write_commits_in_place_and_concurrent_ones_share_the_committer() -> None:
    async def run() -> None:
        e = engine()
        await e.objects.put(ACCOUNT, "unit-bucket", "alone", b"one")
        assert e.objects.committer._thread is None  # nobody to share a commit with: no hand-over

        gate = asyncio.Event()

        async def slow_body(data: bytes) -> Any:
            await gate.wait()
            yield data

        writes = [asyncio.create_task(e.objects.put(ACCOUNT, "unit-bucket", f"k{i}", slow_body(b"x" * i))) for i in range(1, 5)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*writes)
        assert e.objects.committer._thread is not None
        assert e.objects._writing == 0 and e.objects._handed == 0
        for i in range(1, 5):
            assert await body_of(e, f"k{i}") == b"x" * i
        with pytest.raises(NoSuchBucket):
            await e.objects.put(ACCOUNT, "no-such-bucket", "k", b"x")
        assert e.objects._writing == 0
        await e.objects.aclose()

    asyncio.run(run())


def test_a_slow_commit_on_the_event_loop_sends_the_next_ones_to_the_committer(monkeypatch: pytest.MonkeyPatch) -> None:
    from nimbus.services.s3 import objects as objects_module

    async def run() -> None:
        e = engine()
        monkeypatch.setattr(objects_module, "INLINE_SLOW_S", -1.0)  # every commit counts as slow
        await e.objects.put(ACCOUNT, "unit-bucket", "first", b"one")
        assert e.objects.committer._thread is None  # this one still committed in place...
        await e.objects.put(ACCOUNT, "unit-bucket", "second", b"two")
        assert e.objects.committer._thread is not None  # ...the next went to the committer
        assert await body_of(e, "first") == b"one" and await body_of(e, "second") == b"two"
        await e.objects.aclose()

    asyncio.run(run())


def test_bucket_cache_follows_deletes_and_updates() -> None:
    async def run() -> None:
        e = engine()
        await e.objects.put(ACCOUNT, "unit-bucket", "k", b"x")  # the bucket is cached now
        assert await e.objects.delete(ACCOUNT, "unit-bucket", "k")
        e.buckets.delete(ACCOUNT, "unit-bucket")
        assert not e.buckets.exists(ACCOUNT, "unit-bucket")
        with pytest.raises(NoSuchBucket):
            await e.objects.put(ACCOUNT, "unit-bucket", "k", b"x")
        e.buckets.create(ACCOUNT, "unit-bucket", region="us-east-1", location_constraint=None)
        await e.objects.put(ACCOUNT, "unit-bucket", "k", b"y")
        assert e.buckets.get(ACCOUNT, "unit-bucket").notification == {}
        config = {"LambdaFunctionConfigurations": [{"Id": "c", "LambdaFunctionArn": "arn:aws:lambda:us-east-1:0:function:f",
                                                    "Events": ["s3:ObjectCreated:*"]}]}
        e.buckets.put_notification(ACCOUNT, "unit-bucket", config)
        assert e.buckets.get(ACCOUNT, "unit-bucket").notification == config
        e.buckets.put_tags(ACCOUNT, "unit-bucket", {"a": "b"})
        assert e.buckets.get_tags(ACCOUNT, "unit-bucket") == {"a": "b"}

    asyncio.run(run())


def test_notification_matching_and_records() -> None:
    config = validate_configuration({"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": "arn:aws:lambda:us-east-1:0:function:f", "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "logs/"}]}}}]})
    assert config["LambdaFunctionConfigurations"][0]["Id"]
    assert matching(config, "ObjectCreated:Put", "logs/x")
    assert not matching(config, "ObjectCreated:Put", "other/x")
    assert not matching(config, "ObjectRemoved:Delete", "logs/x")

    async def run() -> None:
        delivered: list[tuple[str, bytes]] = []

        async def deliver(arn: str, payload: bytes) -> None:
            delivered.append((arn, payload))

        e = engine(deliver)
        e.buckets.put_notification(ACCOUNT, "unit-bucket", config)
        await e.objects.put(ACCOUNT, "unit-bucket", "logs/a b+c", b"12345")
        await e.objects.put(ACCOUNT, "unit-bucket", "skip", b"x")
        await e.notifier.drain()
        assert len(delivered) == 1
        record = orjson.loads(delivered[0][1])["Records"][0]
        assert record["eventName"] == "ObjectCreated:Put"
        assert record["s3"]["object"]["key"] == "logs/a+b%2Bc" and record["s3"]["object"]["size"] == 5
        await e.aclose()

    asyncio.run(run())


def test_a_read_started_before_a_replacement_returns_the_old_object_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # Reads open their first EAGER_OPEN_SEGMENTS segments at once and lease the rest: the replaced
    # object's later parts are deleted only when the read that needs them ends.
    from nimbus.services.s3 import objects as objects_module

    monkeypatch.setattr(objects_module, "EAGER_OPEN_SEGMENTS", 1)

    async def run() -> None:
        e = engine()
        mp = e.multipart
        parts = [bytes([65 + i]) * (5 * 1024 * 1024) for i in range(3)] + [b"tail"]
        up = mp.create(ACCOUNT, "unit-bucket", "many", checksum_algorithm=None)
        done = [await mp.upload_part(ACCOUNT, "unit-bucket", "many", up.upload_id, n, p) for n, p in enumerate(parts, 1)]
        old = await mp.complete(ACCOUNT, "unit-bucket", "many", up.upload_id,
                                [{"PartNumber": n, "ETag": p.etag} for n, p in enumerate(done, 1)])
        read = e.objects.open(ACCOUNT, "unit-bucket", "many")
        got = [await read.body.__anext__()]  # the read is under way
        await e.put_object(ACCOUNT, "us-east-1", "unit-bucket", "many", b"new")
        assert await body_of(e, "many") == b"new"
        assert e.blobs.exists(old.segments[-1][0])  # leased: kept while the read needs it
        got += [c async for c in read.body]
        assert b"".join(got) == b"".join(parts)
        for _ in range(100):  # released: deleted now (on a worker thread)
            if not any(e.blobs.exists(b) for b, _ in old.segments):
                break
            await asyncio.sleep(0.01)
        assert not any(e.blobs.exists(b) for b, _ in old.segments) and e.objects.leases.held() == 0

        # a read that is opened and dropped without being run lets go too
        up = mp.create(ACCOUNT, "unit-bucket", "dropped", checksum_algorithm=None)
        done = [await mp.upload_part(ACCOUNT, "unit-bucket", "dropped", up.upload_id, n, p) for n, p in enumerate(parts, 1)]
        old = await mp.complete(ACCOUNT, "unit-bucket", "dropped", up.upload_id,
                                [{"PartNumber": n, "ETag": p.etag} for n, p in enumerate(done, 1)])
        read = e.objects.open(ACCOUNT, "unit-bucket", "dropped")
        await e.objects.delete(ACCOUNT, "unit-bucket", "dropped")
        assert e.blobs.exists(old.segments[-1][0])
        del read
        for _ in range(100):
            if not any(e.blobs.exists(b) for b, _ in old.segments):
                break
            await asyncio.sleep(0.01)
        assert not any(e.blobs.exists(b) for b, _ in old.segments) and e.objects.leases.held() == 0

    asyncio.run(run())


def test_a_repeated_completion_is_answered_for_an_hour_then_pruned() -> None:
    async def run() -> None:
        e = engine()
        mp = e.multipart
        clock = e.clock
        assert isinstance(clock, ManualClock)
        up = mp.create(ACCOUNT, "unit-bucket", "done")
        part = await mp.upload_part(ACCOUNT, "unit-bucket", "done", up.upload_id, 1, b"one")
        parts = [{"PartNumber": 1, "ETag": part.etag}]
        first = await mp.complete(ACCOUNT, "unit-bucket", "done", up.upload_id, parts)
        again = await mp.complete(ACCOUNT, "unit-bucket", "done", up.upload_id, [{"PartNumber": 1, "ETag": part.etag.strip('"')}])
        assert again == first
        assert mp.prune_completed() == 0
        clock.advance(COMPLETED_REPLAY_S + 1)
        with pytest.raises(NoSuchUpload):
            await mp.complete(ACCOUNT, "unit-bucket", "done", up.upload_id, parts)
        assert mp.prune_completed() == 1 and mp.prune_completed() == 0

    asyncio.run(run())
