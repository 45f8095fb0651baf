"""MetricStore: metrics and their datapoints, aggregated, in the metadata store (SQLite).

Two kinds of documents:

  ``cloudwatch.metrics``  one per metric (account, region, namespace, name, dimensions), for ListMetrics:
                          key ``account␟region␟namespace␟name␟dims``, doc {ns, m, d, sid, seen}
  ``cloudwatch.points``   one per metric, resolution and time bucket (a minute, or a second for high
                          resolution): key ``sid␟res␟epoch`` (zero-padded, so a key range is a time range),
                          doc {unit: [count, sum, min, max, [[value, count]...] | null]}

A PutMetricData batch is merged in memory first (one read-modify-write per bucket touched) and written in
one transaction: its 200 is answered after the commit (SQLite WAL, synchronous=FULL), so it survives kill -9.
Every datum lands in its minute bucket; a high-resolution one (StorageResolution 1) also in its second.

Retention (``sweep``): minute buckets for 15 days, second buckets for 3 hours (CloudWatch keeps 1-minute
data 15 days and 1-second data 3 hours before rolling them up; Nimbus keeps no 5-minute or 1-hour roll-ups,
so older data is gone rather than coarser); a metric without new data for 15 days leaves ListMetrics.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nimbus.services.cloudwatch.statistics import Stats

METRICS = "cloudwatch.metrics"
POINTS = "cloudwatch.points"
SEP = "\x1f"
MINUTE_RETENTION_S = 15 * 86400
SECOND_RETENTION_S = 3 * 3600
RECENTLY_ACTIVE_S = 3 * 3600  # ListMetrics RecentlyActive=PT3H
_PAGE = 500

Dimensions = tuple[tuple[str, str], ...]


@dataclass(slots=True, frozen=True)
class Metric:
    """A metric's identity: CloudWatch tells metrics apart by namespace, name and the set of dimensions."""

    namespace: str
    name: str
    dimensions: Dimensions  # sorted by name

    @classmethod
    def of(cls, namespace: str, name: str, dimensions: Any) -> Metric:
        pairs = dimensions or ()
        if pairs and isinstance(pairs[0], dict):
            pairs = [(d["Name"], d["Value"]) for d in pairs]
        return cls(namespace, name, tuple(sorted((str(k), str(v)) for k, v in pairs)))

    def key(self, account: str, region: str) -> str:
        dims = "\x1e".join(f"{k}\x1d{v}" for k, v in self.dimensions)
        return SEP.join((account, region, self.namespace, self.name, dims))

    def series(self, account: str, region: str) -> str:
        return hashlib.sha1(self.key(account, region).encode("utf-8")).hexdigest()[:24]

    def wire(self) -> dict[str, Any]:
        return {
            "Namespace": self.namespace,
            "MetricName": self.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
        }


def _point_key(sid: str, resolution: int, bucket: int) -> str:
    return f"{sid}{SEP}{resolution:02d}{SEP}{bucket:011d}"


class MetricStore:
    def __init__(self, metadata: Any) -> None:
        self.metadata = metadata

    # -- writing ---------------------------------------------------------------------------------
    def add(self, account: str, region: str, batch: dict[tuple[Metric, int, int, str], Stats], *, now: float) -> None:
        """Merge ``batch`` ((metric, resolution, bucket start, unit) -> Stats) into the store, in one transaction."""
        by_point: dict[str, dict[str, Stats]] = {}
        metrics: dict[Metric, str] = {}
        for (metric, resolution, bucket, unit), stats in batch.items():
            sid = metrics.get(metric)
            if sid is None:
                sid = metrics[metric] = metric.series(account, region)
            units = by_point.setdefault(_point_key(sid, resolution, bucket), {})
            found = units.get(unit)
            if found is None:
                units[unit] = stats
            else:
                found.merge(stats)
        store = self.metadata
        with store.transaction():
            for metric, sid in metrics.items():
                key = metric.key(account, region)
                doc = store.get(METRICS, key)
                if doc is None or now - float(doc.get("seen", 0)) >= 60:
                    store.put(METRICS, key, {
                        "ns": metric.namespace, "m": metric.name, "d": [list(p) for p in metric.dimensions],
                        "sid": sid, "seen": now,
                    })
            for key, units in by_point.items():
                doc = store.get(POINTS, key) or {}
                for unit, stats in units.items():
                    old = doc.get(unit)
                    if old is not None:
                        merged = Stats.from_doc(old)
                        merged.merge(stats)
                        stats = merged
                    doc[unit] = stats.to_doc()
                store.put(POINTS, key, doc)

    # -- reading ---------------------------------------------------------------------------------
    def metrics(self, account: str, region: str, namespace: str | None = None) -> Iterator[tuple[Metric, dict[str, Any]]]:
        prefix = SEP.join((account, region)) + SEP
        if namespace is not None:
            prefix += namespace + SEP
        after: str | None = None
        while True:
            page = self.metadata.list(METRICS, prefix, after=after, limit=_PAGE)
            for key, doc in page:
                yield Metric(doc["ns"], doc["m"], tuple((k, v) for k, v in doc["d"])), doc
            if len(page) < _PAGE:
                return
            after = page[-1][0]

    def buckets(
        self, account: str, region: str, metric: Metric, resolution: int, start: int, end: int
    ) -> Iterator[tuple[int, dict[str, Stats]]]:
        """The buckets of ``metric`` at ``resolution`` whose start lies in [start, end), oldest first."""
        sid = metric.series(account, region)
        prefix = f"{sid}{SEP}{resolution:02d}{SEP}"
        after = prefix + f"{max(start, 0) - 1:011d}" if start > 0 else None
        while True:
            page = self.metadata.list(POINTS, prefix, after=after, limit=_PAGE)
            for key, doc in page:
                bucket = int(key[len(prefix):])
                if bucket >= end:
                    return
                if bucket >= start:
                    yield bucket, {unit: Stats.from_doc(raw) for unit, raw in doc.items()}
            if len(page) < _PAGE:
                return
            after = page[-1][0]

    # -- retention -------------------------------------------------------------------------------
    def sweep(self, *, now: float) -> int:
        """Delete buckets past retention, and metrics with no data for as long. Returns documents deleted."""
        deleted = 0
        gone: list[str] = []
        for key, doc in self.metadata.list(METRICS, ""):
            sid = doc["sid"]
            for resolution, keep in ((60, MINUTE_RETENTION_S), (1, SECOND_RETENTION_S)):
                prefix = f"{sid}{SEP}{resolution:02d}{SEP}"
                cutoff = prefix + f"{int(now - keep):011d}"
                while True:
                    page = [k for k, _ in self.metadata.list(POINTS, prefix, limit=_PAGE) if k < cutoff]
                    if not page:
                        break
                    with self.metadata.transaction():
                        for k in page:
                            deleted += int(self.metadata.delete(POINTS, k))
            if now - float(doc.get("seen", 0)) > MINUTE_RETENTION_S:
                gone.append(key)
        for key in gone:
            deleted += int(self.metadata.delete(METRICS, key))
        return deleted
