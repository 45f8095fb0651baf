"""Code packages: zips in the blob store, extracted once per package into a directory the runtime mounts.

Packages are content-addressed: blob ``lambda/code/<sha256 hex>.zip`` and directory
``<data_dir>/lambda/code/<sha256 hex>/`` (function code and layer content alike). A directory is
built under a temporary name and renamed into place, so one that exists is complete; after a crash it
is simply rebuilt from the blob on first use. Files are extracted read-only with the zip's Unix mode
bits (a ``provided`` runtime's ``bootstrap`` stays executable).

Packages no function version or layer version names any more are deleted: the zip as soon as the
deleting call has committed (``release``), and the extracted directories at the next start (``sweep``),
since an execution environment still running old code has its directory mounted until it stops.

``GetFunction``'s ``Code.Location`` is a URL on the Nimbus endpoint, ``/_nimbus/code/<sha>.zip``, signed
with an HMAC of the package and an expiry (10 minutes, as AWS's presigned URL); ``CodeServer`` serves it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import logging
import os
import shutil
import stat
import time
import uuid
import zipfile
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from nimbus.services.lambda_.errors import InvalidParameterValueException
from nimbus.storage import BlobNotFound, BlobStore

log = logging.getLogger(__name__)

MAX_ZIPPED_BYTES = 52_428_800  # direct upload limit, aws-contracts.md C.1 (50 MB)
MAX_UNZIPPED_BYTES = 262_144_000  # 250 MB, function + layers
CODE_URL_TTL_S = 600
CODE_URL_PREFIX = "/_nimbus/code/"


@dataclass(slots=True, frozen=True)
class Package:
    sha256_hex: str
    size: int
    unzipped_size: int

    @property
    def sha256_b64(self) -> str:
        """CodeSha256 as AWS reports it: base64 of the SHA-256 digest."""
        return base64.b64encode(bytes.fromhex(self.sha256_hex)).decode("ascii")

    def doc(self) -> dict[str, Any]:
        return {"sha256_hex": self.sha256_hex, "size": self.size, "unzipped_size": self.unzipped_size}


def blob_key(sha256_hex: str) -> str:
    return f"lambda/code/{sha256_hex}.zip"


def check_zip(data: bytes) -> int:
    """Validate a zip; return its unzipped size. Raise AWS's errors for corrupt or oversized packages."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            bad = zf.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as e:
        raise InvalidParameterValueException("Could not unzip uploaded file. Please check your file, then try to upload again.") from e
    if bad is not None:
        raise InvalidParameterValueException("Could not unzip uploaded file. Please check your file, then try to upload again.")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise InvalidParameterValueException(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
    return total


class CodeStore:
    def __init__(self, blobs: BlobStore, root: Path, secret: bytes) -> None:
        self.blobs = blobs
        self.root = root
        self._secret = secret
        self._extracting: dict[str, asyncio.Future[Path]] = {}
        root.mkdir(parents=True, exist_ok=True)
        for leftover in root.glob("*.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    async def inspect(self, data: bytes) -> Package:
        """Validate a zip and describe it, storing nothing (UpdateFunctionCode's DryRun)."""
        if len(data) > MAX_ZIPPED_BYTES:
            raise InvalidParameterValueException(
                f"Request must be smaller than {MAX_ZIPPED_BYTES} bytes for the CreateFunction operation"
            )
        unzipped = await asyncio.to_thread(check_zip, data) if len(data) > 1 << 20 else check_zip(data)
        return Package(hashlib.sha256(data).hexdigest(), len(data), unzipped)

    async def store(self, data: bytes) -> Package:
        """Validate and durably store a zip (deduplicated by content) and extract it."""
        pkg = await self.inspect(data)
        key = blob_key(pkg.sha256_hex)
        if not self.blobs.exists(key):
            await self.blobs.put(key, data)
        else:
            _touch(self.blobs.path_of(key))  # in use again: no release or sweep that started before may take it
        _touch(await self.extracted(pkg.sha256_hex))
        return pkg

    # --- garbage collection ---------------------------------------------------------------------

    def release(self, candidates: set[str], referenced: set[str], *, since: float) -> int:
        """Delete the zips of ``candidates`` that nothing ``referenced`` names (the caller's reading of the
        metadata, made at ``since`` or later) and no store() touched after ``since``. Returns how many."""
        removed = 0
        for sha in candidates - referenced:
            key = blob_key(sha)
            try:
                if self.blobs.path_of(key).stat().st_mtime > since:
                    continue
            except OSError:
                continue
            if self.blobs.delete(key):
                removed += 1
        return removed

    async def sweep(self, referenced: set[str], *, before: float) -> tuple[int, int]:
        """At start: delete zips and extracted directories of packages nothing ``referenced`` names, made
        before ``before`` (what a request stores meanwhile is newer). Returns (zips, directories)."""
        zips = 0
        if type(self.blobs).__name__ == "FileBlobStore":  # the server's own blob store holds only code packages;
            # an in-memory one (tests) is shared with S3, so only release() deletes from it
            zips = await self.blobs.sweep([blob_key(sha) for sha in referenced], min_age_s=max(time.time() - before, 0.0))

        def dirs() -> int:
            removed = 0
            for entry in os.scandir(self.root):
                if entry.name in referenced or ".tmp-" in entry.name or not entry.is_dir(follow_symlinks=False):
                    continue
                try:
                    if entry.stat(follow_symlinks=False).st_mtime > before:
                        continue
                except OSError:
                    continue
                _make_writable(Path(entry.path))
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
            return removed

        return zips, await asyncio.to_thread(dirs)

    def directory(self, sha256_hex: str) -> Path:
        return self.root / sha256_hex

    async def extracted(self, sha256_hex: str) -> Path:
        """The package's extracted directory, built from the blob if missing (once, even if asked concurrently)."""
        target = self.directory(sha256_hex)
        if target.is_dir():
            return target
        pending = self._extracting.get(sha256_hex)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self._extracting[sha256_hex] = fut
        try:
            path = await asyncio.to_thread(self._extract, sha256_hex)
            fut.set_result(path)
            return path
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved
            raise
        finally:
            self._extracting.pop(sha256_hex, None)

    def _extract(self, sha256_hex: str) -> Path:
        target = self.directory(sha256_hex)
        if target.is_dir():
            return target
        tmp = self.root / f"{sha256_hex}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            source = self.blobs.path_of(blob_key(sha256_hex))
            if not source.is_file():
                raise BlobNotFound(blob_key(sha256_hex))
            tmp.mkdir(parents=True)
            with zipfile.ZipFile(source) as zf:
                for info in zf.infolist():
                    dest = Path(zf.extract(info, tmp))
                    mode = (info.external_attr >> 16) & 0o777
                    if info.is_dir():
                        os.chmod(dest, 0o755)
                        continue
                    if stat.S_ISLNK(info.external_attr >> 16):
                        # a symlink entry: its "content" is the link target; keep it a plain file
                        mode = 0o644
                    os.chmod(dest, (mode or 0o644) & 0o555 | 0o444)
            os.rename(tmp, target)
        except BlobNotFound as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InvalidParameterValueException(f"Code package {sha256_hex} is missing from the blob store") from e
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if target.is_dir():  # another process or thread won the rename
                return target
            raise
        return target

    # --- Code.Location URLs -------------------------------------------------------------------

    def _sign(self, sha256_hex: str, expires: int) -> str:
        return hmac.new(self._secret, f"{sha256_hex}:{expires}".encode(), hashlib.sha256).hexdigest()[:40]

    def location(self, endpoint_url: str, sha256_hex: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + CODE_URL_TTL_S)
        return f"{endpoint_url.rstrip('/')}{CODE_URL_PREFIX}{sha256_hex}.zip?Expires={expires}&Signature={self._sign(sha256_hex, expires)}"

    def verify(self, sha256_hex: str, expires: str, signature: str) -> bool:
        if not expires.isdigit() or int(expires) < time.time():
            return False
        return hmac.compare_digest(self._sign(sha256_hex, int(expires)), signature)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class CodeServer:
    """ASGI app for ``GET /_nimbus/code/<sha>.zip?Expires=&Signature=`` (mounted on the edge)."""

    def __init__(self, code: CodeStore) -> None:
        self.code = code

    @staticmethod
    def matches(scope: Scope, headers: dict[str, str]) -> bool:
        return str(scope.get("path", "")).startswith(CODE_URL_PREFIX)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"][len(CODE_URL_PREFIX) :]
        sha = name[:-4] if name.endswith(".zip") else name
        q = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        ok = scope["method"] in ("GET", "HEAD") and len(sha) == 64 and self.code.verify(
            sha, (q.get("Expires") or [""])[0], (q.get("Signature") or [""])[0]
        )
        if not ok:
            await _plain(send, 403, b"<Error><Code>AccessDenied</Code><Message>Request has expired or the signature is invalid</Message></Error>")
            return
        try:
            reader = self.code.blobs.open(blob_key(sha))
        except BlobNotFound:
            await _plain(send, 404, b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>")
            return
        with reader:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/zip"),
                        (b"content-length", str(reader.size).encode()),
                    ],
                }
            )
            if scope["method"] == "GET":
                async for chunk in reader.chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/xml"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def _make_writable(root: Path) -> None:
    """Extracted packages are read-only (files 0o444/0o555, directories 0o755): let rmtree unlink them."""
    for dirpath, dirnames, _files in os.walk(root):
        for d in dirnames:
            try:
                os.chmod(os.path.join(dirpath, d), 0o755)
            except OSError:
                pass
