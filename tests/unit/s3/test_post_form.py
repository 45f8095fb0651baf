"""The POST Object form reader: whatever an unauthenticated client sends, it answers a form or S3's
error, never anything else (the body arrives in arbitrary chunks)."""

from __future__ import annotations

import asyncio
import random

import pytest

from nimbus.errors import ServiceError
from nimbus.services.s3.post import boundary_of, read_form

BOUNDARY = b"----nimbusboundary"


def _receive(body: bytes, chunk: int):  # type: ignore[no-untyped-def]
    parts = [body[i:i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive() -> dict:
        data = parts.pop(0) if parts else b""
        return {"type": "http.request", "body": data, "more_body": bool(parts)}

    return receive


def _form(fields: dict[str, str], file: bytes) -> bytes:
    out = b""
    for k, v in fields.items():
        out += b"--" + BOUNDARY + f'\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: x/y\r\n\r\n'
    return out + file + b"\r\n--" + BOUNDARY + b"--\r\n"


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 10_000])
def test_fields_and_file_over_any_chunking(chunk: int) -> None:
    file = bytes(range(256)) * 3 + b"\r\n--" + BOUNDARY[:-1] + b"not the boundary"
    form = asyncio.run(read_form(_receive(_form({"Key": "a/${filename}", "policy": "p"}, file), chunk), BOUNDARY))
    assert form.fields == {"key": "a/${filename}", "policy": "p"}
    assert (form.filename, form.file_type, form.size) == ("a.bin", "x/y", len(file))
    form.file.seek(0)
    assert form.file.read() == file
    form.close()


def test_malformed_bodies_are_errors_not_crashes() -> None:
    rng = random.Random(7)
    good = _form({"key": "k"}, b"data")
    cases = [b"", b"garbage", good[:-30], good.replace(b"\r\n\r\n", b"\r\n", 1), b"--" + BOUNDARY + b"\r\n\r\n\r\n" * 3,
             b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data\r\n\r\nx\r\n--" + BOUNDARY + b"--"]
    cases += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))) for _ in range(200)]
    cases += [bytearray(good) for _ in range(100)]
    for case in cases[-100:]:
        for _ in range(3):
            case[rng.randrange(len(case))] = rng.randrange(256)
    for case in cases:
        try:
            form = asyncio.run(read_form(_receive(bytes(case), rng.choice([1, 5, 50, 4096])), BOUNDARY))
            form.close()
        except ServiceError:
            pass


def test_boundary_of() -> None:
    assert boundary_of('multipart/form-data; boundary="abc def"') == b"abc def"
    assert boundary_of("multipart/form-data; charset=utf-8; boundary=xyz") == b"xyz"
    assert boundary_of("multipart/form-data") is None
