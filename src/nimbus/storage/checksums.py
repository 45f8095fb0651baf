"""Hashlib-like checksum objects that ``BlobStore.put(..., hashers=[...])`` can feed while streaming.

hashlib already covers sha1/sha256/md5 (``hashlib.sha1()`` works as a hasher); this adds CRC32 (zlib's
polynomial, as S3's ``x-amz-checksum-crc32``), whose digest is the 4 big-endian bytes S3 base64-encodes.
"""

from __future__ import annotations

import zlib


class Crc32:
    """CRC-32 (IEEE) with the hashlib surface: ``update``, ``digest``, ``hexdigest``."""

    name = "crc32"
    digest_size = 4

    def __init__(self, data: bytes = b"") -> None:
        self._crc = zlib.crc32(data)

    def update(self, data: bytes, /) -> None:
        self._crc = zlib.crc32(data, self._crc)

    @property
    def value(self) -> int:
        return self._crc

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big")

    def hexdigest(self) -> str:
        return self.digest().hex()

    def copy(self) -> Crc32:
        other = Crc32()
        other._crc = self._crc
        return other
