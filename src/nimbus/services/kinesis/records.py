"""How a Kinesis record is kept in a shard's log: ``[u16 LE key length][partition key][data]``.

The arrival time and the sequence number come from the log record itself, so they cost nothing here.
"""

from __future__ import annotations


def pack(partition_key: bytes, data: bytes) -> bytes:
    return len(partition_key).to_bytes(2, "little") + partition_key + data


def unpack(payload: bytes) -> tuple[str, bytes]:
    n = payload[0] | (payload[1] << 8)
    return payload[2 : 2 + n].decode("utf-8"), payload[2 + n :]
