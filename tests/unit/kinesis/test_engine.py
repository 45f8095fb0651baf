"""The engine on memory storage and a manual clock: routing, ordering, iterators, resharding, retention."""

import asyncio

import pytest

from nimbus.clock import ManualClock
from nimbus.errors import ServiceError
from nimbus.services.kinesis.config import KinesisSettings
from nimbus.services.kinesis.engine import Streams
from nimbus.services.kinesis.hashing import MAX_HASH_KEY, hash_key
from nimbus.services.kinesis.streams import uniform_plan
from nimbus.storage import open_memory_storage

ACCT, REGION = "000000000000", "us-east-1"


def make(**kw):  # type: ignore[no-untyped-def]
    storage = open_memory_storage()
    clock = ManualClock()
    settings = KinesisSettings(**{"state_delay_s": 0.0, **kw})
    return Streams(storage.metadata, storage.logs, clock=clock, settings=settings), clock


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_create_routes_by_md5_and_reads_in_order() -> None:
    async def main() -> None:
        eng, _ = make()
        s = eng.create_stream(ACCT, REGION, "s", shard_count=4)
        entries = [(f"d{i}".encode(), f"k{i % 7}", None) for i in range(200)]
        results = await eng.put_records(s, entries)
        for (data, key, _), r in zip(entries, results):
            shard = s.by_id[r.shard_id]
            assert shard.start <= hash_key(key) <= shard.end
        for shard in s.shards:
            token = eng.shard_iterator(s, shard.shard_id, "TRIM_HORIZON")
            got = eng.get_records(token, None)
            mine = [d for (d, _, _), r in zip(entries, results) if r.shard_id == shard.shard_id]
            assert [r["Data"] for r in got.records] == mine
            seqs = [int(r["SequenceNumber"]) for r in got.records]
            assert seqs == sorted(seqs)

    run(main())


def test_explicit_hash_key_and_iterator_types() -> None:
    async def main() -> None:
        eng, clock = make()
        s = eng.create_stream(ACCT, REGION, "s", shard_count=2)
        r1 = (await eng.put_records(s, [(b"a", "x", str(MAX_HASH_KEY))]))[0]
        assert r1.shard_id == "shardId-000000000001"
        clock.advance(10)
        r2 = (await eng.put_records(s, [(b"b", "x", str(MAX_HASH_KEY))]))[0]
        sid = r1.shard_id
        latest = eng.shard_iterator(s, sid, "LATEST")
        assert eng.get_records(latest, None).records == []
        at = eng.shard_iterator(s, sid, "AT_SEQUENCE_NUMBER", starting_sequence_number=r2.sequence_number)
        assert [r["Data"] for r in eng.get_records(at, None).records] == [b"b"]
        after = eng.shard_iterator(s, sid, "AFTER_SEQUENCE_NUMBER", starting_sequence_number=r1.sequence_number)
        assert [r["Data"] for r in eng.get_records(after, None).records] == [b"b"]
        ts = eng.shard_iterator(s, sid, "AT_TIMESTAMP", timestamp=clock.time() - 5)
        assert [r["Data"] for r in eng.get_records(ts, None).records] == [b"b"]
        with pytest.raises(ServiceError) as e:
            eng.shard_iterator(s, "shardId-000000000000", "AT_SEQUENCE_NUMBER", starting_sequence_number=r2.sequence_number)
        assert e.value.code == "InvalidArgumentException"

    run(main())


def test_iterators_expire() -> None:
    async def main() -> None:
        eng, clock = make(iterator_ttl_s=300)
        s = eng.create_stream(ACCT, REGION, "s", shard_count=1)
        token = eng.shard_iterator(s, "shardId-000000000000", "TRIM_HORIZON")
        clock.advance(301)
        with pytest.raises(ServiceError) as e:
            eng.get_records(token, None)
        assert e.value.code == "ExpiredIteratorException"

    run(main())


def test_get_records_limit_and_millis_behind() -> None:
    async def main() -> None:
        eng, clock = make()
        s = eng.create_stream(ACCT, REGION, "s", shard_count=1)
        await eng.put_records(s, [(b"x" * 10, "k", None)] * 30)
        clock.advance(2)
        token = eng.shard_iterator(s, "shardId-000000000000", "TRIM_HORIZON")
        first = eng.get_records(token, 10)
        assert len(first.records) == 10 and first.millis_behind == 2000
        rest = eng.get_records(first.next_iterator, 100)
        assert len(rest.records) == 20 and rest.millis_behind == 0

    run(main())


def test_split_and_merge_keep_every_record_once() -> None:
    async def main() -> None:
        eng, _ = make()
        s = eng.create_stream(ACCT, REGION, "s", shard_count=1)
        await eng.put_records(s, [(b"p%d" % i, f"k{i}", None) for i in range(20)])
        await eng.split_shard(s, "shardId-000000000000", str(2**127))
        await eng.put_records(s, [(b"c%d" % i, f"k{i}", None) for i in range(20)])
        got: list[bytes] = []
        # parent, then children via ChildShards
        res = eng.get_records(eng.shard_iterator(s, "shardId-000000000000", "TRIM_HORIZON"), None)
        got += [r["Data"] for r in res.records]
        assert res.next_iterator is None
        assert sorted(c["ShardId"] for c in res.child_shards) == ["shardId-000000000001", "shardId-000000000002"]
        for child in res.child_shards:
            r = eng.get_records(eng.shard_iterator(s, child["ShardId"], "TRIM_HORIZON"), None)
            got += [x["Data"] for x in r.records]
            assert r.next_iterator is not None
        assert sorted(got) == sorted([b"p%d" % i for i in range(20)] + [b"c%d" % i for i in range(20)])
        await eng.merge_shards(s, "shardId-000000000001", "shardId-000000000002")
        merged = s.by_id["shardId-000000000003"]
        assert (merged.start, merged.end) == (0, MAX_HASH_KEY)
        assert (merged.parent, merged.adjacent_parent) == ("shardId-000000000001", "shardId-000000000002")
        with pytest.raises(ServiceError) as e:
            await eng.split_shard(s, "shardId-000000000000", "5")
        assert e.value.code == "ResourceInUseException"

    run(main())


def test_split_while_writers_run_loses_nothing() -> None:
    async def main() -> None:
        eng, _ = make()
        s = eng.create_stream(ACCT, REGION, "s", shard_count=1)
        written: list[bytes] = []

        async def writer(w: int) -> None:
            for i in range(50):
                data = b"w%d-%d" % (w, i)
                r = await eng.put_records(s, [(data, f"{w}", None)])
                assert r[0].error_code is None
                written.append(data)

        tasks = [asyncio.create_task(writer(w)) for w in range(4)]
        await asyncio.sleep(0)
        await eng.split_shard(s, "shardId-000000000000", str(2**127))
        await asyncio.gather(*tasks)
        got = []
        for shard in s.shards:
            got += [r["Data"] for r in eng.get_records(eng.shard_iterator(s, shard.shard_id, "TRIM_HORIZON"), None).records]
        assert sorted(got) == sorted(written)

    run(main())


def test_uniform_plan_reaches_even_ranges() -> None:
    async def main() -> None:
        eng, _ = make()
        s = eng.create_stream(ACCT, REGION, "s", shard_count=3)
        await eng.update_shard_count(s, 5)
        opened = sorted(s.open_shards(), key=lambda x: x.start)
        assert len(opened) == 5
        size = (MAX_HASH_KEY + 1) // 5
        assert [x.start for x in opened] == [i * size for i in range(5)]
        await eng.update_shard_count(s, 3)
        assert len(s.open_shards()) == 3
        with pytest.raises(ServiceError):
            await eng.update_shard_count(s, 7)

    run(main())
    assert uniform_plan([(0, MAX_HASH_KEY)], 1) == []


def test_retention_trims_and_expires_closed_shards() -> None:
    async def main() -> None:
        eng, clock = make(hour_s=1.0)  # 24 "hours" = 24 s
        s = eng.create_stream(ACCT, REGION, "s", shard_count=1)
        await eng.put_records(s, [(b"old", "k", None)])
        clock.advance(20)
        await eng.put_records(s, [(b"new", "k", None)])
        clock.advance(10)  # "old" is 30 s old, past 24 s retention
        await eng.trim_once()
        token = eng.shard_iterator(s, "shardId-000000000000", "TRIM_HORIZON")
        assert [r["Data"] for r in eng.get_records(token, None).records] == [b"new"]
        await eng.split_shard(s, "shardId-000000000000", "100")
        clock.advance(25)
        await eng.trim_once()
        assert [x.shard_id for x in s.visible_shards()] == ["shardId-000000000001", "shardId-000000000002"]

    run(main())


def test_states_and_errors() -> None:
    async def main() -> None:
        eng, clock = make(state_delay_s=1.0)
        s = eng.create_stream(ACCT, REGION, "s", shard_count=1)
        assert s.status == "CREATING"
        with pytest.raises(ServiceError) as e:
            eng.writable(ACCT, REGION, "s")
        assert e.value.code == "ResourceNotFoundException"
        with pytest.raises(ServiceError) as e:
            eng.create_stream(ACCT, REGION, "s", shard_count=1)
        assert e.value.code == "ResourceInUseException"
        clock.advance(1.1)
        assert eng.get(ACCT, REGION, "s").status == "ACTIVE"
        with pytest.raises(ServiceError) as e:
            eng.set_retention(s, 12, increase=False)
        assert e.value.code == "InvalidArgumentException"
        eng.set_retention(s, 48, increase=True)
        eng.delete_stream(s)
        assert eng.get(ACCT, REGION, "s").status == "DELETING"
        clock.advance(1.1)
        with pytest.raises(ServiceError) as e:
            eng.get(ACCT, REGION, "s")
        assert e.value.code == "ResourceNotFoundException"

    run(main())


def test_quotas_when_switched_on() -> None:
    async def main() -> None:
        eng, clock = make(quotas=True)
        s = eng.create_stream(ACCT, REGION, "s", shard_count=1)
        results = await eng.put_records(s, [(b"x", "k", None)] * 500)
        results += await eng.put_records(s, [(b"x", "k", None)] * 501)
        failed = [r for r in results if r.error_code]
        assert len(failed) == 1 and failed[0].error_code == "ProvisionedThroughputExceededException"
        with pytest.raises(ServiceError) as e:
            await eng.put_record(s, b"x", "k", None, None)
        assert e.value.code == "ProvisionedThroughputExceededException"
        clock.advance(1)
        assert (await eng.put_records(s, [(b"x", "k", None)]))[0].error_code is None
        token = eng.shard_iterator(s, "shardId-000000000000", "LATEST")
        for _ in range(5):
            eng.get_records(token, 1)
        with pytest.raises(ServiceError) as e:
            eng.get_records(token, 1)
        assert e.value.code == "ProvisionedThroughputExceededException"

    run(main())


def test_quotas_off_by_default() -> None:
    async def main() -> None:
        eng, _ = make()
        s = eng.create_stream(ACCT, REGION, "s", shard_count=1)
        results = await eng.put_records(s, [(b"x" * 1000, "k", None)] * 500)
        results += await eng.put_records(s, [(b"x" * 1000, "k", None)] * 500)
        results += await eng.put_records(s, [(b"x" * 1000, "k", None)] * 500)
        assert not [r for r in results if r.error_code]

    run(main())


def test_single_shard_batches_match_the_general_path() -> None:
    """One open shard, no quotas: the list-at-a-time path gives what the per-record path gives, and hands
    entries it cannot take (explicit hash keys, oversize records) to the per-record checks."""

    async def main() -> None:
        eng, _ = make()
        s = eng.create_stream(ACCT, REGION, "one", shard_count=1)
        entries = [(bytes([i]) * (i + 1), f"k-{i}-é", None) for i in range(50)]
        results = await eng.put_records(s, entries)
        token = eng.shard_iterator(s, "shardId-000000000000", "TRIM_HORIZON")
        got = eng.get_records(token, None).records
        assert [(r["Data"], r["PartitionKey"]) for r in got] == [(d, k) for d, k, _ in entries]
        assert [r["SequenceNumber"] for r in got] == [r.sequence_number for r in results]
        assert {r.shard_id for r in results} == {"shardId-000000000000"}
        seqs = [int(r.sequence_number) for r in results]
        assert seqs == sorted(seqs) and len(set(seqs)) == 50
        mixed = await eng.put_records(s, [(b"a", "x", None), (b"b", "y", str(MAX_HASH_KEY))])
        assert [r.error_code for r in mixed] == [None, None]
        with pytest.raises(ServiceError) as err:
            await eng.put_records(s, [(b"ok", "k", None), (b"x" * (1024 * 1024), "k", None)])
        assert "records.2.member.data" in err.value.message
        assert eng.get_records(token, None).records[-1]["Data"] == b"b"  # the refused batch wrote nothing

    run(main())
