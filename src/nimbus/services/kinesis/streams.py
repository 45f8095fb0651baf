"""Stream and shard state: what is persisted in the metadata store, hash routing, resharding plans.

A ``Stream`` is loaded from its document once and kept in memory by the engine (one process owns the
data directory), and written back after every change. Shards are never removed from the document:
closed shards past retention are flagged ``expired`` (left out of listings), so lineage and shard
indices stay stable.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from nimbus.services.kinesis.hashing import MAX_HASH_KEY
from nimbus.services.kinesis.sequence import Encoder
from nimbus.storage.base import Log

KIND = "kinesis.stream"

# aws-contracts.md B.6
DEFAULT_RETENTION_HOURS = 24
MAX_RETENTION_HOURS = 8760
ON_DEMAND_SHARDS = 4
MAX_CONSUMERS = 20
MAX_TAGS = 50


def shard_id_for(index: int) -> str:
    return f"shardId-{index:012d}"


@dataclass(slots=True)
class Shard:
    shard_id: str
    index: int
    start: int
    end: int
    parent: str | None = None
    adjacent_parent: str | None = None
    created_ms: int = 0
    closed_ms: int | None = None  # routing stopped here
    end_seq: int | None = None  # one past the last record; known once in-flight appends drained
    expired: bool = False
    # runtime only
    log: Log | None = field(default=None, repr=False)
    encode: Encoder | None = field(default=None, repr=False)
    inflight: int = 0
    drained: asyncio.Event | None = field(default=None, repr=False)
    appended: asyncio.Condition | None = field(default=None, repr=False)
    waiters: list[asyncio.Future[None]] = field(default_factory=list, repr=False)

    @property
    def is_open(self) -> bool:
        return self.closed_ms is None

    @property
    def is_finished(self) -> bool:
        """Closed and every record it will ever hold is durable: readers may reach its end."""
        return self.end_seq is not None

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.shard_id,
            "index": self.index,
            "start": str(self.start),
            "end": str(self.end),
            "parent": self.parent,
            "adjacent_parent": self.adjacent_parent,
            "created_ms": self.created_ms,
            "closed_ms": self.closed_ms,
            "end_seq": self.end_seq,
            "expired": self.expired,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Shard:
        return cls(
            shard_id=doc["id"],
            index=doc["index"],
            start=int(doc["start"]),
            end=int(doc["end"]),
            parent=doc.get("parent"),
            adjacent_parent=doc.get("adjacent_parent"),
            created_ms=doc.get("created_ms", 0),
            closed_ms=doc.get("closed_ms"),
            end_seq=doc.get("end_seq"),
            expired=doc.get("expired", False),
        )

    def wake(self) -> None:
        """Tell pollers waiting on this shard that records (or its end) arrived."""
        waiters, self.waiters = self.waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


@dataclass(slots=True)
class Consumer:
    name: str
    arn: str
    created: float
    status: str = "CREATING"
    active_at: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)
    policy: str | None = None  # PutResourcePolicy's document, as given

    def to_doc(self) -> dict[str, Any]:
        doc = {
            "name": self.name,
            "arn": self.arn,
            "created": self.created,
            "status": self.status,
            "active_at": self.active_at,
            "tags": self.tags,
        }
        if self.policy is not None:
            doc["policy"] = self.policy
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Consumer:
        return cls(
            doc["name"], doc["arn"], doc["created"], doc.get("status", "ACTIVE"), doc.get("active_at", 0.0),
            dict(doc.get("tags", {})), doc.get("policy"),
        )


@dataclass(slots=True)
class Stream:
    account: str
    region: str
    name: str
    arn: str
    incarnation: str  # 16 hex chars; log names and iterators carry it so a recreated stream is new
    created: float  # epoch seconds
    status: str = "CREATING"
    status_until: float = 0.0  # when a transitional status ends
    mode: str = "PROVISIONED"
    retention_hours: int = DEFAULT_RETENTION_HOURS
    shards: list[Shard] = field(default_factory=list)
    next_index: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    encryption: str = "NONE"
    key_id: str | None = None
    monitoring: list[str] = field(default_factory=list)
    consumers: dict[str, Consumer] = field(default_factory=dict)
    scalings: list[float] = field(default_factory=list)  # UpdateShardCount times (10 per rolling 24 h)
    max_record_kib: int = 1024
    policy: str | None = None  # PutResourcePolicy's document, as given
    # runtime only
    by_id: dict[str, Shard] = field(default_factory=dict, repr=False)
    by_index: dict[int, Shard] = field(default_factory=dict, repr=False)
    _route_starts: list[int] = field(default_factory=list, repr=False)
    _route_shards: list[Shard] = field(default_factory=list, repr=False)
    lock: asyncio.Lock | None = field(default=None, repr=False)  # serialises control-plane changes

    @property
    def key(self) -> str:
        return f"{self.account}/{self.region}/{self.name}"

    @property
    def epoch(self) -> int:
        return int(self.created)

    def log_name(self, shard_id: str) -> str:
        return f"kinesis/{self.account}/{self.region}/{self.name}/{self.incarnation}/{shard_id}"

    def visible_shards(self) -> list[Shard]:
        return [s for s in self.shards if not s.expired]

    def open_shards(self) -> list[Shard]:
        return [s for s in self.shards if s.is_open]

    def reindex(self) -> None:
        self.by_id = {s.shard_id: s for s in self.shards}
        self.by_index = {s.index: s for s in self.shards}
        routing = sorted(self.open_shards(), key=lambda s: s.start)
        self._route_starts = [s.start for s in routing]
        self._route_shards = routing

    def single_open_shard(self) -> Shard | None:
        return self._route_shards[0] if len(self._route_shards) == 1 else None

    def route(self, hash_key: int) -> Shard:
        """The open shard whose hash key range holds ``hash_key`` (open ranges tile the whole space)."""
        i = bisect_right(self._route_starts, hash_key) - 1
        return self._route_shards[max(i, 0)]

    def children_of(self, shard_id: str) -> list[Shard]:
        return [s for s in self.shards if s.parent == shard_id or s.adjacent_parent == shard_id]

    def new_shard(self, start: int, end: int, now_ms: int, parent: str | None = None, adjacent: str | None = None) -> Shard:
        shard = Shard(shard_id_for(self.next_index), self.next_index, start, end, parent, adjacent, now_ms)
        self.next_index += 1
        self.shards.append(shard)
        return shard

    def to_doc(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "name": self.name,
            "arn": self.arn,
            "incarnation": self.incarnation,
            "created": self.created,
            "status": self.status,
            "status_until": self.status_until,
            "mode": self.mode,
            "retention_hours": self.retention_hours,
            "shards": [s.to_doc() for s in self.shards],
            "next_index": self.next_index,
            "tags": self.tags,
            "encryption": self.encryption,
            "key_id": self.key_id,
            "monitoring": self.monitoring,
            "consumers": {name: c.to_doc() for name, c in self.consumers.items()},
            "scalings": self.scalings,
            "max_record_kib": self.max_record_kib,
            **({"policy": self.policy} if self.policy is not None else {}),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Stream:
        stream = cls(
            account=doc["account"],
            region=doc["region"],
            name=doc["name"],
            arn=doc["arn"],
            incarnation=doc["incarnation"],
            created=doc["created"],
            status=doc.get("status", "ACTIVE"),
            status_until=doc.get("status_until", 0.0),
            mode=doc.get("mode", "PROVISIONED"),
            retention_hours=doc.get("retention_hours", DEFAULT_RETENTION_HOURS),
            shards=[Shard.from_doc(s) for s in doc.get("shards", [])],
            next_index=doc.get("next_index", 0),
            tags=dict(doc.get("tags", {})),
            encryption=doc.get("encryption", "NONE"),
            key_id=doc.get("key_id"),
            monitoring=list(doc.get("monitoring", [])),
            consumers={n: Consumer.from_doc(c) for n, c in doc.get("consumers", {}).items()},
            scalings=list(doc.get("scalings", [])),
            max_record_kib=doc.get("max_record_kib", 1024),
            policy=doc.get("policy"),
        )
        return stream


def uniform_plan(open_ranges: list[tuple[int, int]], target: int) -> list[tuple[str, Any]]:
    """Splits then merges turning the open ranges into ``target`` even ranges (UpdateShardCount).

    Returns steps ``("split", (start_of_shard, new_starting_key))`` and ``("merge", (left_start,
    right_start))`` naming shards by their starting hash key, applied in order. AWS scales the same
    way, which is why short-lived shards appear in a resharded stream's lineage (B.3).
    """
    size = (MAX_HASH_KEY + 1) // target
    bounds = [i * size for i in range(1, target)]
    steps: list[tuple[str, Any]] = []
    ranges = sorted(open_ranges)
    pieces: list[tuple[int, int]] = []
    for start, end in ranges:
        cur = start
        for b in bounds:
            if cur < b <= end:
                steps.append(("split", (cur, b)))
                pieces.append((cur, b - 1))
                cur = b
        pieces.append((cur, end))
    # merge the pieces inside each target range, left to right
    edges = [0, *bounds, MAX_HASH_KEY + 1]
    for lo, hi in zip(edges, edges[1:]):
        group = [p for p in pieces if lo <= p[0] and p[1] < hi]
        left = group[0]
        for right in group[1:]:
            steps.append(("merge", (left[0], right[0])))
            left = (left[0], right[1])
    return steps
