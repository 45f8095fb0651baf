"""Zip builders and handler sources shared by the Lambda integration tests."""

from __future__ import annotations

import io
import zipfile

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def make_zip(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buf.getvalue()


def py_zip(source: str, module: str = "app") -> bytes:
    return make_zip({f"{module}.py": source})


ECHO = """
def handler(event, context):
    return event
"""


def create(lam, name: str, source: str = ECHO, *, handler: str = "app.handler", runtime: str = "python3.12", **kw):
    return lam.create_function(
        FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Code={"ZipFile": py_zip(source)}, **kw
    )
