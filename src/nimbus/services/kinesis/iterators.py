"""Shard iterator tokens (aws-contracts.md B.5): opaque, authenticated, expiring.

A token carries where to read next (stream, incarnation, shard, log sequence number) and when it was
issued. It is URL-safe base64 of a packed struct plus a truncated HMAC-SHA256 under a per-server
secret, so a client can neither forge a position nor make an old token look new. Expiry (5 minutes by
default) is checked against the issue time on use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass

_VERSION = 1
_HEAD = struct.Struct(">BQQI8s")  # version, issued_ms, log seq, shard index, stream incarnation
_MAC_BYTES = 16
MAX_TOKEN_CHARS = 512


class BadIterator(ValueError):
    """Not a token this server issued (malformed or tampered)."""


@dataclass(slots=True, frozen=True)
class IteratorPosition:
    account: str
    region: str
    stream: str
    incarnation: bytes  # 8 bytes, the stream's creation id
    shard_index: int
    log_seq: int
    issued_ms: int


class IteratorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, pos: IteratorPosition) -> str:
        names = "\x00".join((pos.account, pos.region, pos.stream)).encode("utf-8")
        body = _HEAD.pack(_VERSION, pos.issued_ms, pos.log_seq, pos.shard_index, pos.incarnation) + names
        return base64.urlsafe_b64encode(body + self._mac(body)).decode("ascii")

    def decode(self, token: str) -> IteratorPosition:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise BadIterator("malformed")
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
            raise BadIterator("malformed") from exc
        if len(raw) < _HEAD.size + _MAC_BYTES:
            raise BadIterator("malformed")
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise BadIterator("tampered")
        version, issued, seq, index, incarnation = _HEAD.unpack_from(body)
        if version != _VERSION:
            raise BadIterator("version")
        try:
            account, region, stream = body[_HEAD.size :].decode("utf-8").split("\x00")
        except ValueError as exc:
            raise BadIterator("malformed") from exc
        return IteratorPosition(account, region, stream, incarnation, index, seq, issued)
