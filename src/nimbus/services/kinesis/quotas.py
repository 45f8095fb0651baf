"""Per-shard throughput limits (aws-contracts.md B.5, B.6), enforced only when switched on.

Fixed one-second windows on the monotonic clock: cheap, and close enough to AWS's own accounting
(which is also per second, and which clients handle by retrying ProvisionedThroughputExceeded).
"""

from __future__ import annotations

from dataclasses import dataclass

WRITE_BYTES_PER_S = 1 << 20  # B.6: 1 MiB/s per shard
WRITE_RECORDS_PER_S = 1000  # B.6: 1,000 records/s per shard
READ_CALLS_PER_S = 5  # B.5: 5 GetRecords/s per shard
READ_BYTES_PER_S = 2 << 20  # B.5: 2 MiB/s per shard


@dataclass(slots=True)
class _Window:
    second: int = -1
    records: int = 0
    nbytes: int = 0
    calls: int = 0


class ShardQuotas:
    """Write and read windows of every shard, keyed by (stream key, shard index)."""

    def __init__(self) -> None:
        self._writes: dict[tuple[str, int], _Window] = {}
        self._reads: dict[tuple[str, int], _Window] = {}
        self._read_debt: dict[tuple[str, int], float] = {}

    @staticmethod
    def _window(table: dict[tuple[str, int], _Window], key: tuple[str, int], now: float) -> _Window:
        w = table.get(key)
        second = int(now)
        if w is None:
            w = table[key] = _Window(second)
        elif w.second != second:
            w.second, w.records, w.nbytes, w.calls = second, 0, 0, 0
        return w

    def try_write(self, key: tuple[str, int], nbytes: int, now: float) -> bool:
        w = self._window(self._writes, key, now)
        if w.records + 1 > WRITE_RECORDS_PER_S or w.nbytes + nbytes > WRITE_BYTES_PER_S:
            return False
        w.records += 1
        w.nbytes += nbytes
        return True

    def try_read(self, key: tuple[str, int], now: float) -> bool:
        """One GetRecords call; False when over 5 calls/s or still paying for an earlier large read."""
        if self._read_debt.get(key, 0.0) > now:
            return False
        w = self._window(self._reads, key, now)
        if w.calls + 1 > READ_CALLS_PER_S:
            return False
        w.calls += 1
        return True

    def record_read(self, key: tuple[str, int], nbytes: int, now: float) -> None:
        """Bytes a read returned: beyond 2 MiB/s, the following calls are refused (up to 5 s after 10 MiB)."""
        w = self._window(self._reads, key, now)
        w.nbytes += nbytes
        if w.nbytes > READ_BYTES_PER_S:
            self._read_debt[key] = now + w.nbytes / READ_BYTES_PER_S - 1.0
