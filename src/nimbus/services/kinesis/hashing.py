"""The 128-bit hash key space and how partition keys map into it (aws-contracts.md B.3)."""

from __future__ import annotations

import hashlib

MAX_HASH_KEY = 2**128 - 1


def hash_key(partition_key: str) -> int:
    """MD5 of the UTF-8 partition key, read as a big-endian 128-bit integer."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def parse_hash_key(text: str) -> int:
    """A decimal hash key string (ExplicitHashKey, NewStartingHashKey) -> int; ValueError if invalid."""
    if not isinstance(text, str) or not text.isdigit() or (len(text) > 1 and text[0] == "0") or len(text) > 39:
        raise ValueError(text)
    value = int(text)
    if value > MAX_HASH_KEY:
        raise ValueError(text)
    return value


def even_ranges(count: int) -> list[tuple[int, int]]:
    """The ranges AWS gives a new ``count``-shard stream: equal slices, the last one ending at 2^128-1."""
    size = (MAX_HASH_KEY + 1) // count
    ranges = [(i * size, (i + 1) * size - 1) for i in range(count)]
    ranges[-1] = (ranges[-1][0], MAX_HASH_KEY)
    return ranges
