"""S3's flexible checksums (x-amz-checksum-*): hashers fed while an object streams to disk.

CRC32 comes from zlib. CRC32C and CRC64NVME use ``awscrt`` (AWS's C runtime, the library botocore
itself uses for them) when installed, else a table-driven pure-Python fallback: correct but slow (a few
MB/s), fine for tests and the occasional client that picks them. SHA1/SHA256 come from hashlib. Values
travel base64-encoded, big-endian, as botocore sends and checks them (aws-contracts.md E.3).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from typing import Any, Protocol

_crt: Any = None  # awscrt.checksums, loaded on the first CRC32C / CRC64NVME (~45 ms and ~8 MB: not at start-up)
_crt_tried = False


def _crt_checksums() -> Any:
    global _crt, _crt_tried
    if not _crt_tried:
        _crt_tried = True
        try:
            from awscrt import checksums
        except ImportError:  # pragma: no cover - depends on the environment
            checksums = None
        _crt = checksums
    return _crt

try:  # zlib's CRC-32, faster (nimbus._speedups)
    from nimbus._speedups import crc32 as _crc32
except ImportError:  # pragma: no cover - not compiled
    _crc32 = zlib.crc32

# Algorithm name (as in x-amz-sdk-checksum-algorithm) -> digest size in bytes.
ALGORITHMS: dict[str, int] = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
# The output/input member of each algorithm ("ChecksumCRC32") and its header.
MEMBERS: dict[str, str] = {name: f"Checksum{name}" for name in ALGORITHMS}
HEADERS: dict[str, str] = {name: f"x-amz-checksum-{name.lower()}" for name in ALGORITHMS}
# CRCs whose whole-object value can be combined from parts; the others are COMPOSITE-only for multipart.
FULL_OBJECT_CAPABLE = ("CRC32", "CRC32C", "CRC64NVME")


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


def _reflected_table(poly: int, width: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc & ((1 << width) - 1))
    return table


_CRC32C_TABLE: list[int] | None = None
_CRC64NVME_TABLE: list[int] | None = None
_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


def crc32c_py(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli, reflected 0x82F63B78); ``crc`` is the previous result for chaining."""
    global _CRC32C_TABLE
    if _CRC32C_TABLE is None:
        _CRC32C_TABLE = _reflected_table(0x82F63B78, 32)
    table = _CRC32C_TABLE
    crc ^= _MASK32
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ _MASK32


def crc64nvme_py(data: bytes, crc: int = 0) -> int:
    """CRC-64/NVME (reflected 0x9A6C9329AC4BC9B5); ``crc`` is the previous result for chaining."""
    global _CRC64NVME_TABLE
    if _CRC64NVME_TABLE is None:
        _CRC64NVME_TABLE = _reflected_table(0x9A6C9329AC4BC9B5, 64)
    table = _CRC64NVME_TABLE
    crc ^= _MASK64
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ _MASK64


class _Crc:
    size = 4

    def __init__(self) -> None:
        self.value = 0

    def _step(self, data: bytes, crc: int) -> int:
        raise NotImplementedError

    def update(self, data: bytes, /) -> None:
        self.value = self._step(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self.size, "big")


class Crc32(_Crc):
    def _step(self, data: bytes, crc: int) -> int:
        return _crc32(data, crc)


class Crc32c(_Crc):
    def _step(self, data: bytes, crc: int) -> int:
        crt = _crt if _crt_tried else _crt_checksums()
        if crt is not None:
            return int(crt.crc32c(data, crc))
        return crc32c_py(data, crc)


class Crc64Nvme(_Crc):
    size = 8

    def _step(self, data: bytes, crc: int) -> int:
        crt = _crt if _crt_tried else _crt_checksums()
        if crt is not None:
            return int(crt.crc64nvme(data, crc))
        return crc64nvme_py(data, crc)


def new_hasher(algorithm: str) -> Any:
    """A fresh hasher for an algorithm name of ``ALGORITHMS``."""
    if algorithm == "CRC32":
        return Crc32()
    if algorithm == "CRC32C":
        return Crc32c()
    if algorithm == "CRC64NVME":
        return Crc64Nvme()
    if algorithm == "SHA1":
        return hashlib.sha1()
    if algorithm == "SHA256":
        return hashlib.sha256()
    raise ValueError(algorithm)


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def decode(algorithm: str, value: str) -> bytes | None:
    """The raw digest of a base64 checksum value, or None when it is not one of ``algorithm``'s size."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == ALGORITHMS[algorithm] else None


def composite(algorithm: str, part_digests: list[bytes]) -> str:
    """The COMPOSITE multipart checksum: checksum of the concatenated part checksums, ``-N`` suffixed."""
    h = new_hasher(algorithm)
    h.update(b"".join(part_digests))
    return f"{encode(h.digest())}-{len(part_digests)}"
