"""AWS-shaped sequence numbers (aws-contracts.md B.4): 56-digit decimal strings, increasing per shard.

Layout (decimal digits)::

    49 | stream epoch (10) | shard index (6) | log seq (20) | check (18)

The shard's log sequence number sits above the check digits, so numbers of one shard compare (as
integers, as AWS says to) in log order; a child shard has a higher index than its parents, so its
numbers are also higher. The check digits are a keyed hash of the rest: a number that was not issued
by this stream (another stream, a recreated stream of the same name, a typo) is recognised and refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PREFIX = "49"
DIGITS = 56
_CHECK_MOD = 10**18


class BadSequenceNumber(ValueError):
    """The string is not a sequence number this stream issued."""


@dataclass(slots=True, frozen=True)
class SequencePosition:
    epoch: int
    shard_index: int
    log_seq: int


def _check(head: str) -> int:
    return int.from_bytes(hashlib.blake2b(head.encode(), digest_size=8).digest(), "big") % _CHECK_MOD


def encode(epoch: int, shard_index: int, log_seq: int) -> str:
    head = f"{PREFIX}{epoch % 10**10:010d}{shard_index:06d}{log_seq:020d}"
    return f"{head}{_check(head):018d}"


def decode(text: str) -> SequencePosition:
    if not isinstance(text, str) or len(text) != DIGITS or not text.isdigit() or not text.startswith(PREFIX):
        raise BadSequenceNumber(text)
    head = text[:38]
    if int(text[38:]) != _check(head):
        raise BadSequenceNumber(text)
    return SequencePosition(int(head[2:12]), int(head[12:18]), int(head[18:38]))


class Encoder:
    """Sequence numbers of one shard; caches the constant head so the hot path formats one integer."""

    __slots__ = ("_prefix",)

    def __init__(self, epoch: int, shard_index: int) -> None:
        self._prefix = f"{PREFIX}{epoch % 10**10:010d}{shard_index:06d}"

    def __call__(self, log_seq: int) -> str:
        head = f"{self._prefix}{log_seq:020d}"
        return f"{head}{_check(head):018d}"
