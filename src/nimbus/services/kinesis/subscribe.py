"""SubscribeToShard (enhanced fan-out, aws-contracts.md B.8): push records to one consumer for a while.

The generator yields ``{"SubscribeToShardEvent": {...}}`` events; the json codec frames them as an
AWS event stream. An event goes out whenever records arrive, and at least every
``HEARTBEAT_S`` with no records (AWS also sends empty events), until the subscription's lifetime
(5 minutes) ends or the shard is closed and fully delivered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from nimbus.services.kinesis.engine import Streams
from nimbus.services.kinesis.streams import Shard, Stream

HEARTBEAT_S = 1.0
MAX_EVENT_RECORDS = 10_000


async def subscription(
    streams: Streams,
    stream: Stream,
    shard: Shard,
    kind: str,
    sequence_number: str | None,
    timestamp: float | None,
) -> AsyncIterator[dict[str, Any]]:
    token = streams.shard_iterator(
        stream, shard.shard_id, kind, starting_sequence_number=sequence_number, timestamp=timestamp
    )
    _, shard, pos = streams.open_iterator(token)
    deadline = streams.clock.monotonic() + streams.settings.subscribe_s
    while True:
        result = streams.read(stream, shard, pos, MAX_EVENT_RECORDS)
        pos = result.next_seq
        assert shard.encode is not None
        event: dict[str, Any] = {
            "Records": result.records,
            "ContinuationSequenceNumber": shard.encode(pos - 1),
            "MillisBehindLatest": result.millis_behind,
        }
        if result.child_shards is not None:
            event["ChildShards"] = result.child_shards
        yield {"SubscribeToShardEvent": event}
        if result.next_iterator is None:
            return
        remaining = deadline - streams.clock.monotonic()
        if remaining <= 0:
            return
        if not result.records:
            await streams.wait_for_records(shard, pos, min(HEARTBEAT_S, remaining))
