"""Durable log append throughput, printed beside raw os.write + fsync/fdatasync baselines from the same run.

Run: .venv/bin/python benchmarks/log.py [--records N] [--dir PATH]

1. sequential: one coroutine appends 100-byte records in batches of 500 to a SegmentLogStore (each
   append returns only after its fsync) vs. the same bytes written with os.write + os.fsync (and fdatasync) per batch; ratios
   are against the fdatasync baseline, the call the log makes.
2. concurrent: 32 coroutines append batches of 500 to one log, then to 32 logs: group commit shares one
   write + fsync per log among every append queued meanwhile.
3. small appends: 256 coroutines each appending single records, the PutRecord shape.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from nimbus.storage.segments import HEADER_BYTES, SegmentLogStore  # noqa: E402

RECORD_BYTES = 100
BATCH = 500


def baseline(directory: Path, records: int, sync: Callable[[int], None]) -> float:
    """Records/s for raw os.write + ``sync`` of pre-framed batches of the same size."""
    frame = b"\0" * (HEADER_BYTES + RECORD_BYTES)
    batch = frame * BATCH
    fd = os.open(directory / "baseline.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        start = time.perf_counter()
        for _ in range(records // BATCH):
            os.write(fd, batch)
            sync(fd)
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
    return (records // BATCH) * BATCH / elapsed


async def sequential(directory: Path, records: int) -> float:
    store = SegmentLogStore(directory / "seq")
    log = store.open("bench/sequential")
    payloads = [os.urandom(RECORD_BYTES) for _ in range(BATCH)]
    start = time.perf_counter()
    for _ in range(records // BATCH):
        await log.append(payloads)
    elapsed = time.perf_counter() - start
    await store.aclose()
    return (records // BATCH) * BATCH / elapsed


async def concurrent(directory: Path, records: int, writers: int, logs: int, batch: int) -> tuple[float, float]:
    """Records/s and appends per fsync'd write (measured as appends / distinct commits observed)."""
    store = SegmentLogStore(directory / f"conc-{writers}-{logs}-{batch}")
    opened = [store.open(f"bench/concurrent/{i}") for i in range(logs)]
    payloads = [os.urandom(RECORD_BYTES) for _ in range(batch)]
    per_writer = records // writers // batch
    commits = 0
    original = store._process

    def counting(ops: list) -> None:  # type: ignore[type-arg]
        nonlocal commits
        commits += 1
        original(ops)

    store._process = counting  # type: ignore[method-assign]

    async def writer(i: int) -> None:
        log = opened[i % logs]
        for _ in range(per_writer):
            await log.append(payloads)

    start = time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(writers)))
    elapsed = time.perf_counter() - start
    await store.aclose()
    appends = per_writer * writers
    return appends * batch / elapsed, appends / max(commits, 1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="nimbus-bench-log-", dir=args.dir))
    try:
        records = args.records
        print(f"records={records} size={RECORD_BYTES}B batch={BATCH} dir={directory}")
        base_fsync = baseline(directory, records, os.fsync)
        base = baseline(directory, records, os.fdatasync)
        seq = await sequential(directory, records)
        print(f"{'raw os.write+os.fsync (baseline)':44s} {base_fsync:>12,.0f} rec/s")
        print(f"{'raw os.write+os.fdatasync (baseline; the log uses fdatasync)':44s} {base:>12,.0f} rec/s")
        print(f"{'SegmentLog.append, 1 writer':44s} {seq:>12,.0f} rec/s   ratio {seq / base:.2f}")
        for writers, logs, batch in ((32, 1, BATCH), (32, 32, BATCH), (256, 1, 1), (256, 16, 1)):
            n = records if batch > 1 else records // 20
            rate, per_commit = await concurrent(directory, n, writers, logs, batch)
            label = f"{writers} coroutines, {logs} log(s), batch {batch}"
            print(
                f"{label:44s} {rate:>12,.0f} rec/s   ratio {rate / base:.2f}   "
                f"{per_commit:.1f} appends per writer batch"
            )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
