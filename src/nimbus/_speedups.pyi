"""Types of nimbus._speedups (src/nimbus/_speedups.c)."""

from collections.abc import Callable
from typing import Any

def frames(
    payloads: list[bytes], seq: int, ts: int, size: int, index_off: int, interval: int, /
) -> tuple[bytes, int, int, list[int]] | None: ...
def sequence_numbers(prefix: str, key: int, field: int, count: int, /) -> list[str]: ...
def decode_blob_member(items: list[Any], name: str, decode: Callable[[str, None, bool], bytes], /) -> int: ...
def check_simple_structures(items: list[Any], plan: tuple[tuple[str, type | None, int, int, bool], ...], /) -> int: ...
def crc32(data: bytes | bytearray | memoryview, value: int = 0, /) -> int: ...
def plain_payloads(
    entries: list[Any], data_name: str, key_name: str, ehk_name: str, /
) -> tuple[list[bytes], int, int] | None: ...
def read_frames(
    buf: bytes, out: list[Any], seq: int, last: int, budget: int, record_type: type, /
) -> tuple[int, int, int, int, int]: ...
def join_frames(
    buf: bytes, seq: int, last: int, budget: int, have: int, sep: bytes, /
) -> tuple[int, int, int, int, int, bytes, int, int, int, int, int]: ...
def scan_record_batch(
    body: bytes | bytearray,
    top_names: tuple[str, ...],
    records_name: str,
    data_name: str,
    key_name: str | None,
    max_records: int,
    max_data: int,
    key_min: int,
    key_max: int,
    decode: Callable[[bytes, None, bool], bytes],
    /,
) -> tuple[dict[str, str], list[bytes], int, int] | None: ...

def has_none(value: Any, /) -> bool: ...
