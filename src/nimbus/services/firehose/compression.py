"""CompressionFormat of delivered objects: the container formats AWS writes and the key extension of each.

aws-contracts.md A.3. Observed on real AWS (floci-io/floci#2328, reproduced byte-for-byte there):

    UNCOMPRESSED   ""          records as put
    GZIP           ".gz"       one gzip member                         Content-Encoding gzip
    ZIP            ".zip"      a zip archive with one deflated entry   Content-Encoding zip
    Snappy         ".snappy"   snappy-java stream format (magic 0x82 "SNAPPY" 0x00, then
                               [u32 BE length][raw snappy block] per 32 KiB)   Content-Encoding snappy-java
    HADOOP_SNAPPY  ".snappy"   Hadoop block format ([u32 BE raw length][u32 BE block length][block])
                                                                        Content-Encoding hadoop-snappy

``FileExtension`` replaces the extension. Raw snappy blocks come from ``cramjam`` when it is installed;
otherwise a pure-Python encoder writes valid (literal-only, so uncompressed-size) snappy blocks.
"""

from __future__ import annotations

import gzip
import io
import struct
import uuid
import zipfile

FORMATS = ("UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY")
EXTENSIONS = {"UNCOMPRESSED": "", "GZIP": ".gz", "ZIP": ".zip", "Snappy": ".snappy", "HADOOP_SNAPPY": ".snappy"}
CONTENT_ENCODINGS = {"GZIP": "gzip", "ZIP": "zip", "Snappy": "snappy-java", "HADOOP_SNAPPY": "hadoop-snappy"}

SNAPPY_JAVA_MAGIC = b"\x82SNAPPY\x00"
SNAPPY_JAVA_BLOCK = 32 * 1024
HADOOP_SNAPPY_BLOCK = 256 * 1024
_U32 = struct.Struct(">I")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _snappy_literal_block(data: bytes) -> bytes:
    """A valid raw snappy block made only of literals (no compression, but any decoder reads it)."""
    out = bytearray(_varint(len(data)))
    pos = 0
    while pos < len(data):
        chunk = data[pos : pos + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes((60 << 2, n))
        else:
            out += bytes((61 << 2,)) + n.to_bytes(2, "little")
        out += chunk
        pos += len(chunk)
    return bytes(out)


try:  # pragma: no branch
    import cramjam

    def snappy_block(data: bytes) -> bytes:
        return bytes(cramjam.snappy.compress_raw(data))

except ImportError:  # pragma: no cover - exercised only without cramjam
    snappy_block = _snappy_literal_block


def extension(fmt: str, file_extension: str | None = None) -> str:
    if file_extension:
        return file_extension
    return EXTENSIONS.get(fmt, "")


def content_encoding(fmt: str) -> str | None:
    return CONTENT_ENCODINGS.get(fmt)


def compress(fmt: str, data: bytes) -> bytes:
    if fmt == "UNCOMPRESSED" or not fmt:
        return data
    if fmt == "GZIP":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if fmt == "ZIP":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(str(uuid.uuid4()), data)  # one entry named by a UUID, as AWS does
        return buf.getvalue()
    if fmt == "Snappy":
        parts = [SNAPPY_JAVA_MAGIC, _U32.pack(1), _U32.pack(1)]
        for i in range(0, len(data), SNAPPY_JAVA_BLOCK):
            block = snappy_block(data[i : i + SNAPPY_JAVA_BLOCK])
            parts += [_U32.pack(len(block)), block]
        return b"".join(parts)
    if fmt == "HADOOP_SNAPPY":
        parts = []
        for i in range(0, len(data), HADOOP_SNAPPY_BLOCK):
            raw = data[i : i + HADOOP_SNAPPY_BLOCK]
            block = snappy_block(raw)
            parts += [_U32.pack(len(raw)), _U32.pack(len(block)), block]
        return b"".join(parts)
    raise ValueError(f"unknown CompressionFormat {fmt!r}")


def decompress(fmt: str, data: bytes) -> bytes:
    """The inverse of ``compress`` (tests, and ``nimbus`` tooling reading delivered objects)."""
    if fmt == "UNCOMPRESSED" or not fmt:
        return data
    if fmt == "GZIP":
        return gzip.decompress(data)
    if fmt == "ZIP":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return b"".join(zf.read(name) for name in zf.namelist())
    from nimbus.services.firehose.snappy import decompress_block

    out = bytearray()
    if fmt == "Snappy":
        if not data.startswith(SNAPPY_JAVA_MAGIC):
            raise ValueError("not a snappy-java stream")
        pos = len(SNAPPY_JAVA_MAGIC) + 8
        while pos < len(data):
            (n,) = _U32.unpack_from(data, pos)
            out += decompress_block(data[pos + 4 : pos + 4 + n])
            pos += 4 + n
        return bytes(out)
    if fmt == "HADOOP_SNAPPY":
        pos = 0
        while pos < len(data):
            _raw, n = struct.unpack_from(">II", data, pos)
            out += decompress_block(data[pos + 8 : pos + 8 + n])
            pos += 8 + n
        return bytes(out)
    raise ValueError(f"unknown CompressionFormat {fmt!r}")
