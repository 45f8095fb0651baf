"""Optional per-stream Direct PUT throughput quotas (aws-contracts.md A.8, A.9): records/s and bytes/s.

Off by default (``NIMBUS_FIREHOSE_QUOTAS=on`` switches them on). Each delivery stream has two token
buckets, refilled continuously at the quota's rate and holding at most one second's worth, shared by
PutRecord and PutRecordBatch as AWS shares them. A batch is admitted record by record, in order, while both
buckets can pay; the rest are refused (``ServiceUnavailableException`` / "Slow down." per record in
PutRecordBatch, the whole call for PutRecord). A record larger than a bucket's capacity (e.g. a 1,000 KiB
record under a 100 KB/s quota) is admitted when that bucket is full and leaves it in debt, so it is not
refused forever. The buckets live in memory: a restart starts them full.

Defaults (A.8): us-east-1, us-west-2 and eu-west-1 500,000 records/s and 5 MiB/s; other regions
100,000 records/s and 1 MiB/s. ``NIMBUS_FIREHOSE_QUOTA_RECORDS_PER_S`` / ``_BYTES_PER_S`` override them
for every region. (AWS's 2,000 / 1,000 requests/s is not enforced.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

LARGE_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-1"})
LARGE = (500_000.0, 5 * 1024 * 1024.0)
SMALL = (100_000.0, 1024 * 1024.0)


def default_rates(region: str) -> tuple[float, float]:
    """(records/s, bytes/s) of AWS's default Direct PUT quota in ``region``."""
    return LARGE if region in LARGE_REGIONS else SMALL


class TokenBucket:
    __slots__ = ("rate", "capacity", "tokens", "stamp")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = float(rate)
        self.capacity = float(rate)  # one second's worth
        self.tokens = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def can_pay(self, cost: float) -> bool:
        return self.tokens >= cost or self.tokens >= self.capacity


class StreamQuota:
    """Both buckets of one delivery stream."""

    def __init__(self, records_per_s: float, bytes_per_s: float, monotonic: Callable[[], float]) -> None:
        now = monotonic()
        self.monotonic = monotonic
        self.records = TokenBucket(records_per_s, now)
        self.bytes = TokenBucket(bytes_per_s, now)

    def admit(self, payloads: Sequence[bytes], total: int) -> int:
        """How many of ``payloads`` (``total`` bytes), from the first, may be written now; pays for them."""
        now = self.monotonic()
        rec, byt = self.records, self.bytes
        rec.refill(now)
        byt.refill(now)
        n = len(payloads)
        if rec.tokens >= n and byt.tokens >= total:  # the common case: the whole call fits
            rec.tokens -= n
            byt.tokens -= total
            return n
        admitted = 0
        for p in payloads:
            size = len(p)
            if not (rec.can_pay(1) and byt.can_pay(size)):
                break
            rec.tokens -= 1
            byt.tokens -= size
            admitted += 1
        return admitted
