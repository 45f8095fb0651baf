"""Log/LogStore contract on SegmentLogStore and MemoryLogStore, plus segment-file specifics."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from nimbus.storage.base import LogClosed, LogCorrupt, LogStore
from nimbus.storage.memory import MemoryLogStore
from nimbus.storage.segments import HEADER_BYTES, SegmentLog, SegmentLogStore, log_dir_name

T = TypeVar("T")
SHARD = "kinesis/000000000000/us-east-1/mystream/shardId-000000000000"


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


@pytest.fixture(params=["memory", "segments"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], LogStore]:
    def make() -> LogStore:
        if request.param == "memory":
            return MemoryLogStore()
        return SegmentLogStore(tmp_path / "logs", segment_bytes=4096)

    return make


def test_append_assigns_increasing_sequences_and_reads_back(make_store: Callable[[], LogStore]) -> None:
    async def main() -> None:
        store = make_store()
        log = store.open(SHARD)
        assert (log.first_seq, log.next_seq) == (0, 0)
        assert await log.append([b"a", b"bb"], timestamp_ms=1000) == [0, 1]
        assert await log.append([b""], timestamp_ms=1001) == [2]
        assert await log.append([]) == []
        assert log.next_seq == 3
        records = log.read(0)
        assert [(r.seq, r.timestamp_ms, r.payload) for r in records] == [(0, 1000, b"a"), (1, 1000, b"bb"), (2, 1001, b"")]
        assert [r.seq for r in log.read(1, limit=1)] == [1]
        assert log.read(3) == []
        assert log.read(99) == []
        assert log.read(0, limit=0) == []
        assert store.open(SHARD) is log
        await store.aclose()

    run(main())


def test_concurrent_appends_are_ordered_and_unique(make_store: Callable[[], LogStore]) -> None:
    async def main() -> None:
        store = make_store()
        log = store.open("queue")
        got: dict[int, bytes] = {}

        async def writer(w: int) -> None:
            for i in range(20):
                payloads = [f"{w}:{i}:{j}".encode() for j in range(random.randint(1, 5))]
                for seq, payload in zip(await log.append(payloads), payloads):
                    got[seq] = payload

        await asyncio.gather(*(writer(w) for w in range(16)))
        assert sorted(got) == list(range(len(got)))
        assert {r.seq: r.payload for r in log.read(0, limit=10_000)} == got
        await store.aclose()

    run(main())


def test_read_limits_by_count_and_bytes(make_store: Callable[[], LogStore]) -> None:
    async def main() -> None:
        store = make_store()
        log = store.open("l")
        await log.append([b"x" * 100] * 10)
        assert len(log.read(0, limit=4)) == 4
        assert [r.seq for r in log.read(2, max_bytes=250)] == [2, 3]
        assert [r.seq for r in log.read(5, max_bytes=10)] == [5]  # always at least one record
        await store.aclose()

    run(main())


def test_timestamps_are_non_decreasing_and_searchable(make_store: Callable[[], LogStore]) -> None:
    async def main() -> None:
        store = make_store()
        log = store.open("l")
        for ts in [100, 200, 150, 300]:  # 150 is clamped to 200
            await log.append([str(ts).encode()] * 50, timestamp_ms=ts)
        stamps = [r.timestamp_ms for r in log.read(0, limit=1000)]
        assert stamps == sorted(stamps) and stamps[100] == 200 and stamps[149] == 200
        assert log.seq_at_or_after_time(0) == 0
        assert log.seq_at_or_after_time(100) == 0
        assert log.seq_at_or_after_time(101) == 50
        assert log.seq_at_or_after_time(200) == 50
        assert log.seq_at_or_after_time(201) == 150
        assert log.seq_at_or_after_time(301) == log.next_seq == 200
        await store.aclose()

    run(main())


def test_trim_moves_first_seq_and_never_reuses_sequences(make_store: Callable[[], LogStore]) -> None:
    async def main() -> None:
        store = make_store()
        log = store.open("l")
        for i in range(20):
            await log.append([b"r" * 200] * 5, timestamp_ms=i)
        size = log.size_bytes
        await log.trim(37)
        assert log.first_seq == 37
        assert log.read(0)[0].seq == 37  # a trimmed sequence reads from the first retained record
        assert log.seq_at_or_after_time(0) == 37
        assert log.size_bytes < size
        await log.trim(10)  # never moves back
        assert log.first_seq == 37
        await log.trim(10_000)  # at most next_seq
        assert log.first_seq == log.next_seq == 100
        assert log.read(0) == []
        assert await log.append([b"z"]) == [100]
        assert [r.seq for r in log.read(0)] == [100]
        await store.aclose()

    run(main())


def test_names_drop_and_closed(make_store: Callable[[], LogStore]) -> None:
    async def main() -> None:
        store = make_store()
        a = store.open("kinesis/a/1")
        store.open("kinesis/b/1")
        store.open("firehose/x")
        await a.append([b"1"])
        assert store.names("kinesis/") == ["kinesis/a/1", "kinesis/b/1"]
        assert store.names() == ["firehose/x", "kinesis/a/1", "kinesis/b/1"]
        assert await store.drop("kinesis/a/1") is True
        assert await store.drop("kinesis/a/1") is False
        assert store.names("kinesis/") == ["kinesis/b/1"]
        with pytest.raises(LogClosed):
            await a.append([b"2"])
        again = store.open("kinesis/a/1")  # a new, empty log under the same name
        assert (again.first_seq, again.next_seq) == (0, 0)
        await store.aclose()
        with pytest.raises(LogClosed):
            store.open("other")

    run(main())


def test_empty_name_is_rejected(make_store: Callable[[], LogStore]) -> None:
    store = make_store()
    with pytest.raises(ValueError):
        store.open("")
    store.close()


# ------------------------------------------------------------------------------ segment-file specifics


def segment_store(tmp_path: Path, **kwargs: int) -> SegmentLogStore:
    return SegmentLogStore(tmp_path / "logs", **{"segment_bytes": 4096, **kwargs})


async def first_of_several_segments(tmp_path: Path) -> Path:
    """Log "l" of a segment store in tmp_path filled with 160 records over several segments, closed; the
    path of its first segment."""
    store = segment_store(tmp_path)
    log = store.open("l")
    for _ in range(40):
        await log.append([b"z" * 200] * 4)
    await store.aclose()
    return sorted((tmp_path / "logs" / log_dir_name("l")).glob("*.seg"))[0]


def test_reopen_restores_records_and_trim(tmp_path: Path) -> None:
    async def main() -> None:
        store = segment_store(tmp_path)
        log = store.open(SHARD)
        for i in range(30):
            await log.append([f"{i}-{j}".encode() * 20 for j in range(7)], timestamp_ms=1000 + i)
        await log.trim(100)
        expected = log.read(0, limit=10_000)
        await store.aclose()

        store = segment_store(tmp_path)
        assert store.names() == [SHARD]
        log = store.open(SHARD)
        assert (log.first_seq, log.next_seq) == (100, 210)
        assert log.read(0, limit=10_000) == expected
        assert log.seq_at_or_after_time(1020) == 140
        assert await log.append([b"next"]) == [210]
        await store.aclose()

    run(main())


def test_segments_roll_and_whole_segments_are_trimmed(tmp_path: Path) -> None:
    async def main() -> None:
        store = segment_store(tmp_path)
        log = store.open("l")
        for _ in range(50):
            await log.append([b"p" * 100] * 3)
        directory = tmp_path / "logs" / log_dir_name("l")
        segments = sorted(directory.glob("*.seg"))
        assert len(segments) >= 4
        # rolled segments hold their frames only; the active one may have zeros preallocated past its frames
        on_disk = sum(p.stat().st_size for p in segments[:-1]) + len(segments[-1].read_bytes().rstrip(b"\0"))
        assert log.size_bytes == on_disk == 150 * (HEADER_BYTES + 100)
        # reading across every segment boundary, from every start
        for start in range(0, 150, 7):
            assert [r.seq for r in log.read(start, limit=40)] == list(range(start, min(start + 40, 150)))
        await log.trim(120)
        left = sorted(directory.glob("*.seg"))
        assert len(left) < len(segments)
        assert int(left[0].stem) <= 120  # whole segments only: the one holding 120 stays
        assert [r.seq for r in log.read(0, limit=5)] == [120, 121, 122, 123, 124]
        await store.aclose()

    run(main())


def test_large_records_and_many_records_read_in_chunks(tmp_path: Path) -> None:
    async def main() -> None:
        store = SegmentLogStore(tmp_path / "logs")
        log = store.open("big")
        big = os.urandom(3 << 20)
        await log.append([b"small", big, b"after"])
        await log.append([i.to_bytes(4, "big") for i in range(20_000)])
        assert [r.payload for r in log.read(0, limit=3)] == [b"small", big, b"after"]
        records = log.read(3, limit=20_000)
        assert [int.from_bytes(r.payload, "big") for r in records] == list(range(20_000))
        assert log.read(15_000, limit=1)[0].payload == (15_000 - 3).to_bytes(4, "big")
        await store.aclose()

    run(main())


def test_names_never_escape_the_data_dir(tmp_path: Path) -> None:
    async def main() -> None:
        root = tmp_path / "logs"
        store = SegmentLogStore(root)
        names = ["../../etc/passwd", "/abs", ".", "..", "a/../../b", "x\x00y", "ünï cödé " * 40]
        for name in names:
            await store.open(name).append([name.encode()])
        assert store.names() == sorted(names)
        for child in root.iterdir():
            assert child.parent == root and child.name not in (".", "..") and len(child.name.encode()) < 255
        assert {p for p in tmp_path.iterdir()} == {root}
        await store.aclose()
        store = SegmentLogStore(root)
        for name in names:
            assert store.open(name).read(0)[0].payload == name.encode()
        await store.aclose()

    run(main())


def test_backpressure_bounds_pending_bytes(tmp_path: Path) -> None:
    async def main() -> None:
        store = SegmentLogStore(tmp_path / "logs", max_pending_bytes=2000)
        log = store.open("l")
        peak = 0
        original = store._submit

        def watch(op: object) -> None:
            nonlocal peak
            peak = max(peak, store._pending_bytes)
            original(op)  # type: ignore[arg-type]

        store._submit = watch  # type: ignore[method-assign]
        results = await asyncio.gather(*(log.append([b"x" * 500]) for _ in range(40)))
        assert sorted(s for r in results for s in r) == list(range(40))
        assert peak <= 2000
        await store.aclose()

    run(main())


def test_torn_tail_is_truncated_on_open(tmp_path: Path) -> None:
    async def main() -> None:
        store = SegmentLogStore(tmp_path / "logs")
        log = store.open("l")
        await log.append([b"one", b"two", b"three"])
        await store.aclose()
        segment = next((tmp_path / "logs" / log_dir_name("l")).glob("*.seg"))
        intact = segment.stat().st_size
        for damage in [
            lambda d: d[:-2],  # a torn last frame
            lambda d: d + b"\x07\x00\x00",  # a torn header
            lambda d: d[:-1] + bytes([d[-1] ^ 0xFF]),  # a flipped payload bit
            lambda d: d + b"\x00" * 4096,  # zero-filled tail (a file extended before its data landed)
        ]:
            data = segment.read_bytes()
            segment.write_bytes(damage(data))
            store = SegmentLogStore(tmp_path / "logs")
            log = store.open("l")
            kept = [r.payload for r in log.read(0)]
            assert kept in ([b"one", b"two", b"three"], [b"one", b"two"])
            assert segment.stat().st_size <= intact
            assert await log.append([b"three"]) if kept == [b"one", b"two"] else True
            assert [r.payload for r in log.read(0)] == [b"one", b"two", b"three"]
            await store.aclose()
            assert segment.stat().st_size == intact  # closed: frames only (no preallocated zeros)

    run(main())


def test_damage_before_the_tail_is_reported(tmp_path: Path) -> None:
    async def main() -> None:
        first = await first_of_several_segments(tmp_path)
        data = bytearray(first.read_bytes())
        data[HEADER_BYTES + 5] ^= 0xFF
        first.write_bytes(bytes(data))
        with pytest.raises(LogCorrupt):
            segment_store(tmp_path).open("l")

    run(main())


def test_preallocated_zeros_are_a_clean_end(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Zeros are kept written ahead of the active segment's frames; a log left with them (killed before
    close: here, a copy of its files taken while open) reopens with every record, no torn-tail warning,
    and carries on; rolled segments never keep zeros, and a closed log's files hold frames only."""
    import shutil

    async def main() -> None:
        store = SegmentLogStore(tmp_path / "logs", segment_bytes=64 << 10, preallocate_bytes=32 << 10)
        log = store.open("l")
        for i in range(40):
            await log.append([bytes([65 + i % 26]) * 100] * 20)
        directory = tmp_path / "logs" / log_dir_name("l")
        await asyncio.sleep(0.05)
        segments = sorted(directory.glob("*.seg"))
        assert len(segments) >= 2
        frames = [len(p.read_bytes().rstrip(b"\0")) for p in segments]
        assert all(p.stat().st_size == n for p, n in zip(segments[:-1], frames))  # rolled: frames only
        shutil.copytree(tmp_path / "logs", tmp_path / "copy")
        await store.aclose()
        assert [p.stat().st_size for p in segments] == frames
        copy = tmp_path / "copy" / log_dir_name("l")
        assert sorted(copy.glob("*.seg"))[-1].stat().st_size > frames[-1]  # the copy has the zeros
        caplog.clear()
        store = SegmentLogStore(tmp_path / "copy")
        log = store.open("l")
        assert [r.payload for r in log.read(0, limit=10_000)] == [bytes([65 + i % 26]) * 100 for i in range(40) for _ in range(20)]
        assert "torn" not in caplog.text
        assert await log.append([b"next"]) == [800]
        await store.aclose()
        store = SegmentLogStore(tmp_path / "copy")
        assert store.open("l").read(800)[0].payload == b"next"
        await store.aclose()
        # without preallocation, or for a quiet log, the active segment's file is its frames
        for name, options in (("none", {"preallocate_bytes": 0}), ("quiet", {})):
            store = SegmentLogStore(tmp_path / name, **options)
            log = store.open("l")
            for _ in range(3):
                await log.append([b"x" * 100] * 10)
            await asyncio.sleep(0.05)
            (only,) = (tmp_path / name / log_dir_name("l")).glob("*.seg")
            assert only.stat().st_size == log.size_bytes == 30 * (HEADER_BYTES + 100)
            await store.aclose()

    run(main())


def test_zero_tail_of_an_earlier_segment_is_clean_but_other_damage_is_not(tmp_path: Path) -> None:
    """A crash between zero-filling and truncating a rolled segment leaves zeros after its frames: a clean
    end; anything else after the frames of a segment that is not the last is still damage."""

    async def main() -> None:
        first = await first_of_several_segments(tmp_path)
        intact = first.read_bytes()
        first.write_bytes(intact + bytes(5000))
        store = segment_store(tmp_path)
        assert [r.seq for r in store.open("l").read(0, limit=1000)] == list(range(160))
        await store.aclose()
        assert first.read_bytes() == intact
        first.write_bytes(intact + bytes(100) + b"\x01" + bytes(100))
        with pytest.raises(LogCorrupt):
            segment_store(tmp_path).open("l")

    run(main())


def test_damage_below_the_trim_point_numbers_on_from_it(tmp_path: Path) -> None:
    """A damaged tail that cuts a log below its trim point leaves nothing retained; new records then
    number on from the trim point, and survive a restart (they used to take trimmed numbers and vanish)."""
    root = tmp_path / "logs"

    async def fill() -> int:
        store = SegmentLogStore(root, segment_bytes=1 << 20)
        log = store.open(SHARD)
        await log.append([b"x" * 100 for _ in range(50)])
        await log.trim(40)
        await store.aclose()
        return 40

    first = run(fill())
    segment = max((root / log_dir_name(SHARD)).glob("*.seg"))
    with open(segment, "r+b") as f:
        f.truncate(10 * (HEADER_BYTES + 100) + 7)  # 10 whole records, then a torn one: below the trim point

    async def reopen_and_append() -> None:
        store = SegmentLogStore(root, segment_bytes=1 << 20)
        log = store.open(SHARD)
        assert (log.first_seq, log.next_seq) == (first, first) and log.read(0) == []
        assert await log.append([b"after"]) == [first]
        await store.aclose()
        store = SegmentLogStore(root, segment_bytes=1 << 20)
        log = store.open(SHARD)
        assert [(r.seq, r.payload) for r in log.read(0)] == [(first, b"after")]
        assert await log.append([b"next"]) == [first + 1]
        await store.aclose()
        assert len(list((root / log_dir_name(SHARD)).glob("*.seg"))) == 1  # the trimmed segment went at that open

    run(reopen_and_append())


def test_a_read_reports_damage_that_appears_after_open(tmp_path: Path) -> None:
    """A frame damaged on disk after the log was opened (recovery saw it intact) fails the read that reaches
    it with LogCorrupt; records before it still read."""

    async def main() -> None:
        first = await first_of_several_segments(tmp_path)
        store = segment_store(tmp_path)
        log = store.open("l")
        assert len(log.read(0, limit=1000)) == 160
        data = bytearray(first.read_bytes())
        frame = HEADER_BYTES + 200
        data[2 * frame + HEADER_BYTES + 7] ^= 0xFF  # the third record's payload
        with open(first, "r+b") as f:
            f.write(bytes(data))
        assert [r.seq for r in log.read(0, limit=2)] == [0, 1]
        with pytest.raises(LogCorrupt, match="bad CRC"):
            log.read(0, limit=1000)
        await store.aclose()

    run(main())


def test_read_joined_is_the_reads_payloads_joined(make_store: Callable[[], LogStore]) -> None:
    from nimbus.storage.base import join_records

    async def main() -> None:
        store = make_store()
        log = store.open("j")
        for r in range(30):
            await log.append([bytes([65 + r % 26]) * (r * 37 % 900) for _ in range(r % 7 + 1)], timestamp_ms=1000 + (r * 7919) % 50)
        await log.trim(12)
        for args in ((0, 1000, None), (0, 5, None), (13, 1000, 2000), (50, 10, 0), (10_000, 5, None), (17, 3, 1)):
            for separator in (b"", b"\n", b"--"):
                assert log.read_joined(*args, separator=separator) == join_records(log.read(*args), separator), (args, separator)
        whole = log.read_joined(0, 1000, separator=b"\n")
        records = log.read(0, 1000)
        assert whole.count == len(records) and whole.first_seq == 12 and whole.next_seq == records[-1].seq + 1
        assert whole.oldest_timestamp_ms == min(r.timestamp_ms for r in records) and whole.first_timestamp_ms == records[0].timestamp_ms
        assert log.read_joined(10_000, 5) == (b"", 0, 0, 0, 0, 0)
        await store.aclose()

    run(main())


def test_trimmed_segments_are_deleted_off_the_writer_and_leftovers_at_recovery(tmp_path: Path) -> None:
    """A trim renames the segments it drops and the reaper deletes them (all gone once the store is
    closed); a renamed segment left behind by a crash is deleted when the log is next opened."""

    async def main() -> None:
        directory = (await first_of_several_segments(tmp_path)).parent
        before = sorted(p.name for p in directory.glob("*.seg"))
        store = segment_store(tmp_path)
        log = store.open("l")
        await log.trim(120)
        assert [r.seq for r in log.read(0, limit=1000)] == list(range(120, 160))
        await store.aclose()
        after = sorted(p.name for p in directory.glob("*.seg"))
        assert len(after) < len(before) and not list(directory.glob("*.dropped"))
        (directory / (after[0] + ".0123abcd.dropped")).write_bytes(b"left by a crash")
        reopened = segment_store(tmp_path)
        assert [r.seq for r in reopened.open("l").read(0, limit=1000)] == list(range(120, 160))
        assert not list(directory.glob("*.dropped"))
        await reopened.aclose()

    run(main())


def _payload(seq: int) -> bytes:
    return f"{seq}:".encode() + bytes([seq % 251]) * (150 + seq % 60)


async def _append_numbered(log: SegmentLog, count: int) -> None:
    for _ in range(count):
        await log.append([_payload(log.next_seq)])


def test_trimmed_segments_become_spares_that_later_segments_reuse(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A trim keeps full-size segments as spares (at most two per log); the next segments are those files
    written over from the start. A copy of the files taken while the log is open (as a kill -9 leaves
    them: the reused file's old frames past the new ones) reopens with exactly the records appended, none
    of the old frames, and no torn-tail warning; a cleanly closed log's spares are adopted again."""
    import shutil

    async def main() -> None:
        store = segment_store(tmp_path)
        log = store.open("l")
        directory = tmp_path / "logs" / log_dir_name("l")
        await _append_numbered(log, 120)
        assert len(list(directory.glob("*.seg"))) >= 6
        await log.trim(100)
        spares = sorted(directory.glob("*.spare"))
        assert len(spares) == 2  # the others are deleted (by the reaper thread)
        inodes = {p.stat().st_ino for p in spares}
        before = {p.name for p in directory.glob("*.seg")}
        await _append_numbered(log, 40)  # rolls into the spares
        new = [p for p in directory.glob("*.seg") if p.name not in before]
        assert inodes <= {p.stat().st_ino for p in new} and not list(directory.glob("*.spare"))
        assert [r.payload for r in log.read(0, limit=1000)] == [_payload(s) for s in range(100, 160)]
        shutil.copytree(tmp_path / "logs", tmp_path / "copy")
        await store.aclose()

        caplog.clear()
        for root in ("copy", "logs"):
            store = SegmentLogStore(tmp_path / root, segment_bytes=4096)
            log = store.open("l")
            assert [r.payload for r in log.read(0, limit=1000)] == [_payload(s) for s in range(100, 160)]
            assert log.next_seq == 160
            await _append_numbered(log, 5)
            assert log.read(160)[0].payload == _payload(160)
            await store.aclose()
        assert "torn" not in caplog.text

        # spares left by a clean close are adopted when the log is opened again, and reused
        store = segment_store(tmp_path)
        log = store.open("l")
        await log.trim(150)
        kept = {p.stat().st_ino for p in directory.glob("*.spare")}
        assert kept
        await store.aclose()
        store = segment_store(tmp_path)
        log = store.open("l")
        await _append_numbered(log, 40)
        assert kept & {p.stat().st_ino for p in directory.glob("*.seg")}
        assert [r.payload for r in log.read(0, limit=1000)] == [_payload(s) for s in range(150, 205)]
        await store.aclose()

    run(main())


def test_spares_stay_within_the_store_budget_and_go_with_their_log(tmp_path: Path) -> None:
    """No budget: trimmed segments are deleted as before. A budget of one segment: one spare across the
    store. Dropping a log gives its spares' budget back."""

    async def main() -> None:
        store = segment_store(tmp_path, spare_bytes=0)
        log = store.open("a")
        await _append_numbered(log, 100)
        await log.trim(90)
        await store.aclose()
        assert not list((tmp_path / "logs").rglob("*.spare"))

        store = segment_store(tmp_path, spare_bytes=4096)
        logs = [store.open(n) for n in ("b", "c")]
        for log in logs:
            await _append_numbered(log, 100)
            await log.trim(90)
        assert len(list((tmp_path / "logs").rglob("*.spare"))) == 1
        holder = next(log for log in logs if list((tmp_path / "logs" / log_dir_name(log.name)).glob("*.spare")))
        other = next(log for log in logs if log is not holder)
        assert await store.drop(holder.name)
        await _append_numbered(other, 100)
        await other.trim(180)
        assert len(list((tmp_path / "logs").rglob("*.spare"))) == 1  # the dropped log's budget came back
        assert [r.seq for r in other.read(0, limit=1000)] == list(range(180, 200))
        await store.aclose()

    run(main())
