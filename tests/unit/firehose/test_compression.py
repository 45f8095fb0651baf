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
