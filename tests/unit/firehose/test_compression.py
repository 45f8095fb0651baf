import gzip
import os
import zipfile
import io

import pytest

from nimbus.services.firehose import compression
from nimbus.services.firehose.compression import _snappy_literal_block
from nimbus.services.firehose.snappy import decompress_block

DATA = b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * (i % 50)) for i in range(20000)) + os.urandom(5000)


@pytest.mark.parametrize("fmt", compression.FORMATS)
def test_round_trip(fmt: str) -> None:
    assert compression.decompress(fmt, compression.compress(fmt, DATA)) == DATA
    assert compression.decompress(fmt, compression.compress(fmt, b"")) == b""


def test_containers_and_extensions() -> None:
    assert gzip.decompress(compression.compress("GZIP", DATA)) == DATA
    with zipfile.ZipFile(io.BytesIO(compression.compress("ZIP", DATA))) as zf:
        (name,) = zf.namelist()
        assert len(name) == 36 and zf.read(name) == DATA
    assert compression.compress("Snappy", DATA).startswith(b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01")
    assert len(compression.compress("Snappy", DATA)) < len(DATA) // 2
    assert {f: compression.extension(f) for f in compression.FORMATS} == {
        "UNCOMPRESSED": "", "GZIP": ".gz", "ZIP": ".zip", "Snappy": ".snappy", "HADOOP_SNAPPY": ".snappy"
    }
    assert compression.extension("GZIP", ".json.gz") == ".json.gz"


def test_pure_python_literal_blocks_decode() -> None:
    for size in (0, 1, 59, 60, 255, 256, 70000):
        data = os.urandom(size)
        assert decompress_block(_snappy_literal_block(data)) == data


def _frames(fmt: str, blob: bytes) -> list[bytes]:
    """The raw snappy blocks of a container, read by its documented layout (not by compression.py)."""
    import struct

    blocks, pos = [], 0
    if fmt == "Snappy":  # snappy-java: magic 0x82 "SNAPPY" 0x00, version 1, compatible 1, then [u32 len][block]
        assert blob[:16] == b"\x82SNAPPY\x00" + struct.pack(">II", 1, 1)
        pos = 16
        while pos < len(blob):
            (n,) = struct.unpack_from(">I", blob, pos)
            blocks.append(blob[pos + 4 : pos + 4 + n])
            pos += 4 + n
    else:  # Hadoop: [u32 raw length][u32 block length][block] per block
        while pos < len(blob):
            raw_len, n = struct.unpack_from(">II", blob, pos)
            blocks.append(blob[pos + 8 : pos + 8 + n])
            pos += 8 + n
    return blocks


@pytest.mark.parametrize("fmt", ["Snappy", "HADOOP_SNAPPY"])
def test_snappy_containers_decode_with_an_independent_decoder(fmt: str) -> None:
    cramjam = pytest.importorskip("cramjam")
    blocks = _frames(fmt, compression.compress(fmt, DATA))
    assert len(blocks) > 1
    assert b"".join(bytes(cramjam.snappy.decompress_raw(b)) for b in blocks) == DATA
    # the pure-Python encoder's blocks (used without cramjam) decode the same way
    assert bytes(cramjam.snappy.decompress_raw(_snappy_literal_block(DATA[:70000]))) == DATA[:70000]
