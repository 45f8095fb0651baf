"""A pure-Python decoder of raw snappy blocks (used to read back delivered objects; speed is no goal)."""

from __future__ import annotations


def decompress_block(block: bytes) -> bytes:
    pos = 0
    length = 0
    shift = 0
    while True:
        b = block[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    out = bytearray()
    n = len(block)
    while pos < n:
        tag = block[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(block[pos : pos + extra], "little")
                pos += extra
            size += 1
            out += block[pos : pos + size]
            pos += size
            continue
        if kind == 1:
            size = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | block[pos]
            pos += 1
        elif kind == 2:
            size = (tag >> 2) + 1
            offset = int.from_bytes(block[pos : pos + 2], "little")
            pos += 2
        else:
            size = (tag >> 2) + 1
            offset = int.from_bytes(block[pos : pos + 4], "little")
            pos += 4
        if offset <= 0 or offset > len(out):
            raise ValueError("corrupt snappy block: bad copy offset")
        start = len(out) - offset
        for i in range(size):  # byte by byte: copies may overlap their own output
            out.append(out[start + i])
    if len(out) != length:
        raise ValueError("corrupt snappy block: length mismatch")
    return bytes(out)
