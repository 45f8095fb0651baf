"""AWS-shaped sequence numbers (aws-contracts.md B.4): 56-digit decimal strings, increasing per shard.

Layout (decimal digits)::

    49 | stream epoch (10) | shard index (6) | log seq + 1 (20) | check (18)

The shard's log sequence number sits above the check digits, so numbers of one shard compare (as
integers, as AWS says to) in log order; a child shard has a higher index than its parents, so its
numbers are also higher. The check digits hash the rest: a number that was not issued
by this stream (another stream, a recreated stream of the same name, a typo) is recognised and refused.
The log sequence number is stored plus one, so "just before the first record" (-1) has a number too: a
shard's StartingSequenceNumber, and the ContinuationSequenceNumber of a subscription that read nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

try:
    from nimbus._speedups import sequence_numbers as _sequence_numbers
except ImportError:  # not compiled: Encoder.range's Python loop does the same
    _sequence_numbers = None  # type: ignore[assignment]

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


_M1 = 0x9E3779B97F4A7C15
_M2 = 0xC2B2AE3D27D4EB4F
_MASK = (1 << 64) - 1


def _prefix_key(prefix: str) -> int:
    return int.from_bytes(hashlib.blake2b(prefix.encode(), digest_size=8).digest(), "big")


def _check(key: int, log_seq: int) -> int:
    """Check digits: a hash of the prefix mixed with the log seq (cheap: the hot path formats 10,000 a call)."""
    x = ((key ^ (log_seq * _M1)) * _M2) & _MASK
    return (x ^ (x >> 29)) % _CHECK_MOD


def encode(epoch: int, shard_index: int, log_seq: int) -> str:
    return Encoder(epoch, shard_index)(log_seq)


def decode(text: str) -> SequencePosition:
    if not isinstance(text, str) or len(text) != DIGITS or not text.isdigit() or not text.startswith(PREFIX):
        raise BadSequenceNumber(text)
    field = int(text[18:38])
    if int(text[38:]) != _check(_prefix_key(text[:18]), field):
        raise BadSequenceNumber(text)
    return SequencePosition(int(text[2:12]), int(text[12:18]), field - 1)


class Encoder:
    """Sequence numbers of one shard; caches the constant head so the hot path formats one integer."""

    __slots__ = ("_prefix", "_key", "_head")

    def __init__(self, epoch: int, shard_index: int) -> None:
        self._prefix = f"{PREFIX}{epoch % 10**10:010d}{shard_index:06d}"
        self._key = _prefix_key(self._prefix)
        self._head = int(self._prefix)  # starts with "49": no leading zero is lost

    def __call__(self, log_seq: int) -> str:
        field = log_seq + 1
        x = ((self._key ^ (field * _M1)) * _M2) & _MASK
        return f"{self._prefix}{field:020d}{(x ^ (x >> 29)) % _CHECK_MOD:018d}"

    def range(self, first_log_seq: int, count: int) -> list[str]:
        """The numbers of ``count`` consecutive log sequence numbers from ``first_log_seq``: the same
        strings as calling the encoder on each, built with one integer addition per step instead of
        formatting three fields (PutRecords and GetRecords number hundreds to thousands at once)."""
        field = first_log_seq + 1
        if _sequence_numbers is not None and count > 8:  # nimbus._speedups: this loop in C
            return _sequence_numbers(self._prefix, self._key, field, count)
        key, m2, mask, mod, step_m1 = self._key, _M2, _MASK, _CHECK_MOD, _M1
        # prefix digits | 20-digit field | 18-digit check, as one integer: its decimal form is the number
        base = (self._head * 10**20 + field) * _CHECK_MOD
        mixed = field * _M1
        out: list[str] = []
        append = out.append
        for _ in range(count):
            x = ((key ^ mixed) * m2) & mask
            append(str(base + (x ^ (x >> 29)) % mod))
            base += mod
            mixed += step_m1
        return out
