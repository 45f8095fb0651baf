"""Objects: bodies in the blob store, descriptions in the metadata store, committed in that order.

Commit order (how a crash never shows half an object or an orphan entry): a body streams into the blob
store under a *fresh* blob key (temp file, fsync, rename), then one metadata transaction names it under
``s3.object/<account>/<bucket>/<key>``, then the blobs of the object it replaced are deleted. A crash
before the transaction leaves only an unreferenced blob, which ``S3Engine.start`` sweeps. Object keys
never become paths: the blob store names files by a hash of the blob key (``../`` is just bytes).

An object is a list of segments ``[[blob_key, size], ...]``: one for a PUT, one per part for a completed
multipart upload (completion re-points the parts' blobs instead of copying gigabytes). Reads stream the
segments in order with ranged reads; memory stays constant whatever the size.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import hashlib
import logging
import os
import re
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from nimbus.clock import Clock
from nimbus.services.s3 import archive, checksums, objectlock, replication, ssec
from nimbus.services.s3.buckets import (
    KIND_OBJECT,
    KIND_VERSIONS,
    MAX_TAGS_OBJECT,
    Buckets,
    check_tags,
    object_prefix,
)
from nimbus.services.s3.errors import (
    BadDigest,
    DeletedKey,
    EntityTooLarge,
    IncompleteBody,
    InvalidArgument,
    InvalidDigest,
    InvalidPartNumber,
    InvalidRange,
    InvalidRequest,
    KeyTooLongError,
    MethodNotAllowed,
    NoSuchBucket,
    NoSuchKey,
    NoSuchVersion,
    NotModified,
    PreconditionFailed,
    S3Error,
)
from nimbus.services.s3.inline import (
    INLINE_MAX_BYTES,
    KIND_INLINE,
    InlineBlobs,
    decode_inline,
    encode_inline,
    inline_doc,
    is_inline,
    new_inline_key,
    read_inline,
)
from nimbus.services.s3.notifications import Notifier, Origin
from nimbus.storage import BlobReader, BlobStore, MetadataStore
from nimbus.storage.groupcommit import GroupCommitter

log = logging.getLogger(__name__)

MAX_KEY_BYTES = 1024  # aws-contracts.md E.4
MAX_PUT_BYTES = 5 * 1024**3  # single PUT / part
MAX_LIST_KEYS = 1000
MAX_PART_NUMBER = 10_000  # aws-contracts.md E.4
INLINE_SLOW_S = 0.002  # a commit on the event loop slower than this, while their moving average
INLINE_BACKOFF_S = 1.0  # is over half of it (a slow disk, not one checkpoint), sends commits through the
#                         committer thread for this long
LIST_BATCH = 1000
# Segments opened when a read starts (a stable snapshot even if the object is replaced meanwhile);
# objects with more segments open the rest as the read reaches them.
EAGER_OPEN_SEGMENTS = 64
_HIGHEST = "\U0010ffff"


# Versioning (docs/services/s3.md "Versioning"): the bucket setting, S3's two states once it was ever set
VERSIONING = "versioning"
ENABLED, SUSPENDED = "Enabled", "Suspended"
NULL = "null"
_VERSION_ID = re.compile(r"[A-Za-z0-9._]{32}")


def new_version_id() -> str:
    """An opaque, URL-safe 32-character id, in S3's alphabet (letters, digits, '.', '_')."""
    return base64.urlsafe_b64encode(os.urandom(24)).decode("ascii").replace("-", ".")


def check_version_id(version_id: str) -> None:
    """A version id Nimbus could have made (or "null"); anything else is S3's 400."""
    if version_id != NULL and not _VERSION_ID.fullmatch(version_id):
        raise InvalidArgument("Invalid version id specified", ArgumentName="versionId", ArgumentValue=version_id)


def new_blob_key() -> str:
    return f"s3/{uuid.uuid4().hex}"


def quote_etag(md5_hex: str) -> str:
    return f'"{md5_hex}"'


@dataclass(slots=True, frozen=True)
class Content:
    """The representation headers S3 stores and returns with an object."""

    content_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    expires: float | None = None
    website_redirect: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {k: v for k, v in (
            ("ct", self.content_type), ("ce", self.content_encoding), ("cd", self.content_disposition),
            ("cl", self.content_language), ("cc", self.cache_control), ("ex", self.expires), ("wr", self.website_redirect),
        ) if v is not None}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Content:
        return cls(doc.get("ct"), doc.get("ce"), doc.get("cd"), doc.get("cl"), doc.get("cc"), doc.get("ex"), doc.get("wr"))


@dataclass(slots=True, frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    etag: str  # quoted, as on the wire
    last_modified: float  # epoch seconds (whole seconds, as S3)
    segments: tuple[tuple[str, int], ...]
    content: Content = Content()
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None
    checksum: str | None = None  # base64, "-N" suffixed when COMPOSITE
    checksum_type: str | None = None  # FULL_OBJECT | COMPOSITE
    part_checksums: tuple[str, ...] = ()  # per part, for GetObject partNumber
    parts_count: int | None = None  # multipart objects only
    storage_class: str = "STANDARD"
    inline: str | None = None  # base64 of a small body kept in this description (see inline.py)
    acl: dict[str, Any] | None = None  # PutObjectAcl's grants (recorded only); a new object starts private
    version_id: str | None = None  # None: the null version (every object of a bucket never versioned)
    delete_marker: bool = False  # a delete marker (no body; size 0, no ETag)
    noncurrent_since: float | None = None  # when a newer version replaced it (lifecycle NoncurrentDays)
    lock_mode: str | None = None  # Object Lock retention (objectlock.py): GOVERNANCE | COMPLIANCE
    lock_until: float | None = None  # its retain-until date, epoch seconds
    legal_hold: str | None = None  # ON | OFF, once a legal hold was set
    restore: tuple[float, float, float] | None = None  # archive.py: a restore's requested, ready, expires instants
    sse_c: str | None = None  # ssec.py: the MD5 (base64) of the customer key it was written with
    replication: str | None = None  # replication.py: PENDING | COMPLETED | FAILED (a source) | REPLICA

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "k": self.key, "s": self.size, "e": self.etag, "m": self.last_modified,
            "seg": [list(s) for s in self.segments], "c": self.content.to_doc(),
        }
        if self.metadata:
            doc["meta"] = self.metadata
        if self.tags:
            doc["tags"] = self.tags
        if self.checksum_algorithm:
            doc["ca"], doc["cv"], doc["ctp"] = self.checksum_algorithm, self.checksum, self.checksum_type
            if self.part_checksums:
                doc["pcv"] = list(self.part_checksums)
        if self.parts_count is not None:
            doc["pc"] = self.parts_count
        if self.storage_class != "STANDARD":
            doc["sc"] = self.storage_class
        if self.inline is not None:
            doc["d"] = self.inline
        if self.acl is not None:
            doc["acl"] = self.acl
        if self.version_id is not None:
            doc["v"] = self.version_id
        if self.delete_marker:
            doc["dm"] = 1
        if self.noncurrent_since is not None:
            doc["nc"] = self.noncurrent_since
        if self.lock_mode is not None:
            doc["lm"], doc["lu"] = self.lock_mode, self.lock_until
        if self.legal_hold is not None:
            doc["lh"] = self.legal_hold
        if self.restore is not None:
            doc["rs"] = list(self.restore)
        if self.sse_c is not None:
            doc["kc"] = self.sse_c
        if self.replication is not None:
            doc["rp"] = self.replication
        return doc

    @classmethod
    def from_doc(cls, bucket: str, doc: dict[str, Any]) -> S3Object:
        return cls(
            bucket=bucket, key=doc["k"], size=doc["s"], etag=doc["e"], last_modified=doc["m"],
            segments=tuple((b, n) for b, n in doc["seg"]), content=Content.from_doc(doc.get("c") or {}),
            metadata=doc.get("meta") or {}, tags=doc.get("tags") or {}, checksum_algorithm=doc.get("ca"),
            checksum=doc.get("cv"), checksum_type=doc.get("ctp"), part_checksums=tuple(doc.get("pcv") or ()),
            parts_count=doc.get("pc"), storage_class=doc.get("sc", "STANDARD"), inline=doc.get("d"), acl=doc.get("acl"),
            version_id=doc.get("v"), delete_marker="dm" in doc, noncurrent_since=doc.get("nc"),
            lock_mode=doc.get("lm"), lock_until=doc.get("lu"), legal_hold=doc.get("lh"),
            restore=tuple(doc["rs"]) if "rs" in doc else None,  # type: ignore[arg-type]
            sse_c=doc.get("kc"), replication=doc.get("rp"),
        )

    @property
    def version(self) -> str:
        """The version id as the wire shows it (``null`` for the null version)."""
        return self.version_id or NULL

    def inline_body(self) -> bytes | None:
        """The body, when it is kept in this description."""
        return None if self.inline is None else decode_inline(self.inline)

    @property
    def blob_keys(self) -> list[str]:
        return [b for b, _ in self.segments]

    @property
    def etag_hex(self) -> str:
        return self.etag.strip('"')

    @property
    def http_date(self) -> str:
        return email.utils.formatdate(self.last_modified, usegmt=True)


# ----------------------------------------------------------------------------------------- integrity


@dataclass(slots=True)
class Integrity:
    """What the client declared about a body: Content-MD5 and at most one x-amz-checksum-*.

    ``expected`` comes from a header; ``trailer`` (called once the body is read) from an aws-chunked
    trailer. Either way the checksum is verified, stored and returned.
    """

    content_md5: str | None = None
    algorithm: str | None = None
    expected: str | None = None
    trailer: Callable[[], str | None] | None = None
    expected_size: int | None = None

    def check_format(self) -> bytes | None:
        """Reject malformed values before reading the body; return the raw Content-MD5."""
        md5 = None
        if self.content_md5 is not None:
            try:
                md5 = base64.b64decode(self.content_md5, validate=True)
            except ValueError:
                md5 = b""
            if len(md5) != 16:
                raise InvalidDigest("The Content-MD5 you specified was not valid.", ContentMD5=self.content_md5)
        if self.algorithm is not None and self.algorithm not in checksums.ALGORITHMS:
            raise InvalidRequest(f"Checksum algorithm {self.algorithm} is not supported by Nimbus.")
        if self.expected is not None and self.algorithm is not None and checksums.decode(self.algorithm, self.expected) is None:
            raise InvalidRequest(f"Value for {checksums.HEADERS[self.algorithm]} header is invalid.")
        return md5


@dataclass(slots=True, frozen=True)
class Ingested:
    blob_key: str
    size: int
    md5_hex: str
    checksum: str | None  # base64 of the computed checksum of ``Integrity.algorithm``


def verify_body(integrity: Integrity, md5: bytes | None, hasher: Any, size: int, md5_hex: str, max_size: int) -> str | None:
    """Check a stored body against what the client declared; return the computed checksum (base64)."""
    if integrity.expected_size is not None and size != integrity.expected_size:
        raise IncompleteBody("You did not provide the number of bytes specified by the Content-Length HTTP header")
    if size > max_size:
        raise EntityTooLarge(size, max_size)
    if md5 is not None and md5.hex() != md5_hex:
        raise BadDigest("The Content-MD5 you specified did not match what we received.",
                        ExpectedDigest=md5.hex(), CalculatedDigest=base64.b64encode(bytes.fromhex(md5_hex)).decode())
    computed = None
    if hasher is not None and integrity.algorithm is not None:
        computed = checksums.encode(hasher.digest())
        expected = integrity.expected
        if expected is None and integrity.trailer is not None:
            expected = integrity.trailer()
            if expected is not None and checksums.decode(integrity.algorithm, expected) is None:
                raise InvalidRequest(f"Value for {checksums.HEADERS[integrity.algorithm]} trailing header is invalid.")
        if expected is not None and expected != computed:
            raise BadDigest(f"The {integrity.algorithm} you specified did not match the calculated checksum.")
    return computed


async def ingest(blobs: BlobStore, data: bytes | AsyncIterable[bytes], integrity: Integrity, *, max_size: int = MAX_PUT_BYTES) -> Ingested:
    """Stream a body into a fresh blob, verify what the client declared, return what was stored.

    On any failure the blob is removed (a crash instead leaves it for the start-up sweep)."""
    if integrity.expected_size is not None and integrity.expected_size > max_size:
        raise EntityTooLarge(integrity.expected_size, max_size)
    md5 = integrity.check_format()
    hasher = checksums.new_hasher(integrity.algorithm) if integrity.algorithm else None
    key = new_blob_key()
    info = await blobs.put(key, data, hashers=[hasher] if hasher is not None else ())
    try:
        computed = verify_body(integrity, md5, hasher, info.size, info.md5_hex, max_size)
    except BaseException:
        await asyncio.to_thread(blobs.delete, key)
        raise
    return Ingested(key, info.size, info.md5_hex, computed)


def fits_inline(data: bytes | AsyncIterable[bytes], size_hint: int | None) -> bool:
    """A body known (by its type or declared length) to be small enough to keep inline."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return len(data) <= INLINE_MAX_BYTES
    return size_hint is not None and 0 <= size_hint <= INLINE_MAX_BYTES


async def ingest_inline(data: bytes | AsyncIterable[bytes], integrity: Integrity) -> tuple[Ingested, bytes]:
    """``ingest`` for a small body: read into memory and verified, nothing written yet; the caller commits
    it with the object (in ``S3Object.inline``). A body longer than declared is refused by the
    length check before anything is kept."""
    md5 = integrity.check_format()
    if isinstance(data, (bytes, bytearray, memoryview)):
        body = bytes(data)
    else:
        parts: list[bytes] = []
        size = 0
        async for chunk in data:
            size += len(chunk)
            if size > MAX_PUT_BYTES:
                raise EntityTooLarge(size, MAX_PUT_BYTES)
            parts.append(chunk)
        body = b"".join(parts)
    hasher = checksums.new_hasher(integrity.algorithm) if integrity.algorithm else None
    if hasher is not None:
        hasher.update(body)
    md5_hex = hashlib.md5(body).hexdigest()
    computed = verify_body(integrity, md5, hasher, len(body), md5_hex, MAX_PUT_BYTES)
    return Ingested(new_inline_key(), len(body), md5_hex, computed), body


# ------------------------------------------------------------------------------------ ranges, conditions


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=a-b | a- | -n`` -> (start, end exclusive). Malformed or multiple ranges are ignored (full
    object, as S3 does); a range that cannot be satisfied raises InvalidRange (416)."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            if n < 0:
                return None
            if n == 0 or size == 0:
                raise InvalidRange(header, size)
            return max(size - n, 0), size
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start < 0 or (last and int(last) < start):
        return None
    if start >= size:
        raise InvalidRange(header, size)
    return start, min(end, size)


def etag_matches(header: str, etag: str) -> bool:
    wanted = etag.strip('"')
    for item in header.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        if item == "*" or item.strip('"') == wanted:
            return True
    return False


def _epoch(value: dt.datetime | float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    return float(value)


@dataclass(slots=True, frozen=True)
class Conditions:
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: dt.datetime | None = None
    if_unmodified_since: dt.datetime | None = None

    def check_read(self, obj: S3Object) -> None:
        """GET/HEAD rules (RFC 7232 section 6, as S3 applies them)."""
        lm = int(obj.last_modified)
        ims, ius = _epoch(self.if_modified_since), _epoch(self.if_unmodified_since)
        if self.if_match is not None:
            if not etag_matches(self.if_match, obj.etag):
                raise PreconditionFailed("If-Match")
        elif ius is not None and lm > ius:
            raise PreconditionFailed("If-Unmodified-Since")
        if self.if_none_match is not None:
            if etag_matches(self.if_none_match, obj.etag):
                raise NotModified(obj.etag, obj.http_date)
        elif ims is not None and lm <= ims:
            raise NotModified(obj.etag, obj.http_date)

    def check_copy_source(self, obj: S3Object) -> None:
        """x-amz-copy-source-if-*: every failure is a 412."""
        lm = int(obj.last_modified)
        ims, ius = _epoch(self.if_modified_since), _epoch(self.if_unmodified_since)
        if self.if_match is not None and not etag_matches(self.if_match, obj.etag):
            raise PreconditionFailed("x-amz-copy-source-If-Match")
        if self.if_none_match is not None and etag_matches(self.if_none_match, obj.etag):
            raise PreconditionFailed("x-amz-copy-source-If-None-Match")
        if ius is not None and self.if_match is None and lm > ius:
            raise PreconditionFailed("x-amz-copy-source-If-Unmodified-Since")
        if ims is not None and self.if_none_match is None and lm <= ims:
            raise PreconditionFailed("x-amz-copy-source-If-Modified-Since")


def check_write_conditions(existing: S3Object | None, if_match: str | None, if_none_match: str | None, *, key: str = "") -> None:
    """Conditional writes (PutObject / CompleteMultipartUpload If-Match, If-None-Match: *)."""
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise InvalidArgument("If-None-Match only supports the value *", ArgumentName="If-None-Match")
        if existing is not None:
            raise PreconditionFailed("If-None-Match")
    if if_match is not None:
        if existing is None:
            raise NoSuchKey(key)
        if not etag_matches(if_match, existing.etag):
            raise PreconditionFailed("If-Match")


def check_key(key: str) -> None:
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise KeyTooLongError(size)
    if not key:
        raise InvalidArgument("Key must not be empty", ArgumentName="key")


# ---------------------------------------------------------------------------------------------- reads


@dataclass(slots=True)
class ObjectRead:
    """An object opened for reading: the snapshot description plus the body of [start, end)."""

    obj: S3Object
    start: int
    end: int
    partial: bool
    body: AsyncIterator[bytes]
    data: bytes | None = None  # the same bytes, already in memory (an inline body): no stream needed


def segments_in(segments: tuple[tuple[str, int], ...], start: int, end: int) -> list[tuple[int, str, int, int]]:
    """(index, blob key, start within segment, end within segment) of the segments overlapping [start, end)."""
    out = []
    offset = 0
    for index, (blob, size) in enumerate(segments):
        seg_start, seg_end = offset, offset + size
        offset = seg_end
        if seg_end <= start or size == 0:
            continue
        if seg_start >= end:
            break
        out.append((index, blob, max(start - seg_start, 0), min(end, seg_end) - seg_start))
    return out


class ReadLeases:
    """Blobs that open reads have yet to open. A read opens its first EAGER_OPEN_SEGMENTS segments when it
    starts (an open file outlives its deletion) and leases the rest; a replaced or deleted object's blobs
    that are leased are deleted when the last read holding them ends, not before. So a read that started
    before a replacement returns the old object whole, as S3 does, however many parts it has. Any thread
    may release (a read's stream can be collected anywhere); ``on_free`` gets the blob keys to delete now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[str, int] = {}
        self._doomed: set[str] = set()
        self.on_free: Callable[[list[str]], None] | None = None

    def take(self, keys: list[str]) -> Callable[[], None]:
        """Lease ``keys``; returns the release, which is idempotent."""
        with self._lock:
            for k in keys:
                self._count[k] = self._count.get(k, 0) + 1
        done = False

        def release() -> None:
            nonlocal done
            if done:
                return
            done = True
            freed = []
            with self._lock:
                for k in keys:
                    n = self._count[k] - 1
                    if n:
                        self._count[k] = n
                        continue
                    del self._count[k]
                    if k in self._doomed:
                        self._doomed.discard(k)
                        freed.append(k)
            if freed and self.on_free is not None:
                self.on_free(freed)

        return release

    def unleased(self, keys: list[str]) -> list[str]:
        """Of blobs to delete, those no read holds (delete them now); the others are deleted on release."""
        with self._lock:
            now = []
            for k in keys:
                if k in self._count:
                    self._doomed.add(k)
                else:
                    now.append(k)
        return now

    def held(self) -> int:
        with self._lock:
            return len(self._count)


async def stream_segments(blobs: BlobStore, pieces: list[tuple[int, str, int, int]], opened: dict[int, BlobReader],
                          release: Callable[[], None] | None = None) -> AsyncIterator[bytes]:
    try:
        for index, blob, start, end in pieces:
            reader = opened.pop(index, None) or blobs.open(blob)
            try:
                async for chunk in reader.chunks(start, end):
                    yield chunk
            finally:
                reader.close()
    finally:
        for reader in opened.values():
            reader.close()
        if release is not None:
            release()


def open_segments(blobs: BlobStore, obj: S3Object, start: int, end: int, leases: ReadLeases | None = None) -> AsyncIterator[bytes]:
    if obj.inline is not None:
        data = obj.inline_body() or b""
        return _once(data[max(start, 0) : end] if end > start else b"")
    pieces = segments_in(obj.segments, start, end)
    opened: dict[int, BlobReader] = {}
    try:
        for index, blob, _, _ in pieces[:EAGER_OPEN_SEGMENTS]:
            opened[index] = blobs.open(blob)
    except BaseException:
        for reader in opened.values():
            reader.close()
        raise
    later = [blob for _, blob, _, _ in pieces[EAGER_OPEN_SEGMENTS:]]
    if not later or leases is None:
        return stream_segments(blobs, pieces, opened)
    release = leases.take(later)
    stream = stream_segments(blobs, pieces, opened, release)
    weakref.finalize(stream, release)  # a stream dropped without being run or closed still lets go
    return stream


# -------------------------------------------------------------------------------------------- listing


@dataclass(slots=True, frozen=True)
class Removed:
    """What a DeleteObject removed or created: the version id to answer (None: a bucket never
    versioned, nothing to say) and whether it is a delete marker."""

    version_id: str | None
    delete_marker: bool


@dataclass(slots=True)
class VersionListing:
    versions: list[tuple[S3Object, bool]]  # (version or delete marker, is the latest)
    prefixes: list[str]
    truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


@dataclass(slots=True)
class Listing:
    objects: list[S3Object]
    prefixes: list[str]
    truncated: bool
    last: str | None  # the last key or common prefix returned (the next page starts after it)


def walk(metadata: MetadataStore, kind: str, base: str, prefix: str, delimiter: str | None, after: str | None) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Keys of ``kind`` under ``base+prefix`` greater than ``after``, in UTF-8 order, with keys that share a
    common prefix (up to ``delimiter``) rolled into one ``(prefix, None)`` entry; a common prefix not
    greater than ``after`` is skipped (S3's marker semantics). Skipping a common prefix is one jump."""
    cursor = base + after if after else None
    last_cp: str | None = None
    while True:
        rows = metadata.list(kind, base + prefix, after=cursor, limit=LIST_BATCH)
        if not rows:
            return
        jumped = False
        for full, doc in rows:
            key = full[len(base):]
            if delimiter:
                i = key.find(delimiter, len(prefix))
                if i >= 0:
                    cp = key[: i + len(delimiter)]
                    if cp != last_cp and (after is None or cp > after):
                        yield cp, None
                    last_cp = cp
                    cursor = base + cp + _HIGHEST
                    jumped = True
                    break
            yield key, doc
            cursor = full
        if not jumped and len(rows) < LIST_BATCH:
            return


class Objects:
    def __init__(self, metadata: MetadataStore, blobs: BlobStore, buckets: Buckets, clock: Clock, notifier: Notifier) -> None:
        self.metadata = metadata
        self.blobs: BlobStore = blobs if isinstance(blobs, InlineBlobs) else InlineBlobs(blobs, metadata)
        self.buckets = buckets
        self.clock = clock
        self.notifier = notifier
        # commits of concurrent PUTs share one transaction and one fsync, in the committer's thread
        self.committer = GroupCommitter(metadata, name="nimbus-s3-commit")
        self.leases = ReadLeases()  # blobs of replaced objects that reads still need
        self._freeing: set[asyncio.Task[Any]] = set()
        self._writing = 0  # put/copy calls between their start and the end of their commit
        self._handed = 0  # commits in the committer's hands
        self._inline_off_until = 0.0  # monotonic time before which no commit runs on the event loop
        self._inline_avg_s = 0.0  # moving average (1/8 weight) of the commits made on the event loop
        self.replication_kick: Callable[[], None] | None = None  # the engine's Replicator.kick

    async def aclose(self) -> None:
        await self.committer.aclose()

    # -- plumbing --------------------------------------------------------------------------------

    @staticmethod
    def _okey(account: str, bucket: str, key: str) -> str:
        return object_prefix(account, bucket) + key

    def find(self, account: str, bucket: str, key: str) -> S3Object | None:
        doc = self.metadata.get(KIND_OBJECT, self._okey(account, bucket, key))
        return None if doc is None else S3Object.from_doc(bucket, doc)

    def get_object(self, account: str, bucket: str, key: str) -> S3Object:
        obj = self.find(account, bucket, key)
        if obj is None:
            self.missing(account, bucket, key)
        return obj

    # -- versions (a bucket ever versioned) -------------------------------------------------------------
    # The current version of a key, when it is not a delete marker, stays where every object lives
    # (``s3.object/<account>/<bucket>/<key>``: reads and ListObjects are unchanged). Its noncurrent
    # versions and its delete markers live in one more document per key, ``s3.versions/<same key>``
    # (``{"vs": [entry, ...]}``, newest first); when the key has no current object the first entry is
    # the current delete marker. Both are written in the same transaction, so a crash shows either the
    # history before a write or after it. A noncurrent version's small body moves from its description
    # into an ``s3.inline`` document of its own (inline.py's older layout, still read), so the history
    # document stays small.

    def versioning(self, account: str, bucket: str) -> str | None:
        """Enabled, Suspended, or None for a bucket never versioned (from the bucket cache)."""
        found = self.buckets.lookup(account, bucket)
        if found is None:
            raise NoSuchBucket(bucket)
        status = found.settings.get(VERSIONING) if found.settings else None
        return str(status) if status else None

    def history(self, okey: str) -> list[dict[str, Any]]:
        doc = self.metadata.get(KIND_VERSIONS, okey)
        return list(doc["vs"]) if doc is not None else []

    def _save_history(self, okey: str, chain: list[dict[str, Any]]) -> None:
        if chain:
            self.metadata.put(KIND_VERSIONS, okey, {"vs": chain})
        else:
            self.metadata.delete(KIND_VERSIONS, okey)

    def _drop_version(self, entry: dict[str, Any]) -> list[str]:
        """Forget one version for good (inside the caller's transaction): its inline body documents now,
        its blob files (returned) once committed."""
        if entry.get("dm"):
            return []
        blobs = []
        for blob, _ in entry["seg"]:
            if is_inline(blob):
                if "d" not in entry:
                    self.metadata.delete(KIND_INLINE, blob)
            else:
                blobs.append(blob)
        return blobs

    def _noncurrent(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A current version's description as a noncurrent one: since when, and its small body moved out."""
        entry = dict(entry)
        entry["nc"] = self.now()
        text = entry.pop("d", None)
        if text is not None:
            blob = new_inline_key()
            self.metadata.put(KIND_INLINE, blob, inline_doc(decode_inline(text)))
            entry["seg"] = [[blob, entry["s"]]]
        return entry

    def _retire(self, okey: str, old: dict[str, Any] | None, *, null: bool, marker: dict[str, Any] | None = None) -> list[str]:
        """Inside the write's transaction: the replaced current version ``old`` joins the key's history
        (``marker``, a new delete marker, goes before it). A write of the null version (Suspended bucket)
        replaces the key's null version, wherever it is. Returns the blobs to delete once committed."""
        chain = self.history(okey)
        garbage: list[str] = []
        if null:
            kept = []
            for entry in chain:
                if "v" in entry:
                    kept.append(entry)
                else:
                    garbage.extend(self._drop_version(entry))
            chain = kept
        if old is not None:
            if null and "v" not in old:
                garbage.extend(self._drop_version(old))
            else:
                chain.insert(0, self._noncurrent(old))
        if marker is not None:
            chain.insert(0, marker)
        self._save_history(okey, chain)
        return garbage

    def find_version(self, account: str, bucket: str, key: str, version_id: str) -> S3Object | None:
        """One version (or delete marker) of a key by its id (``null`` included), or None."""
        check_version_id(version_id)
        okey = self._okey(account, bucket, key)
        want = None if version_id == NULL else version_id
        doc = self.metadata.get(KIND_OBJECT, okey)
        if doc is not None and doc.get("v") == want:
            return S3Object.from_doc(bucket, doc)
        for entry in self.history(okey):
            if entry.get("v") == want:
                return S3Object.from_doc(bucket, entry)
        return None

    def get_version(self, account: str, bucket: str, key: str, version_id: str | None, *, method: str = "GET") -> S3Object:
        """The object a read names: the current version, or the one of ``version_id``. A delete marker
        answers as S3 does: 404 (current) or 405 (by version id), each saying so in its headers."""
        if version_id is None:
            obj = self.find(account, bucket, key)
            if obj is None:
                self.missing(account, bucket, key)
            return obj
        if not self.buckets.exists(account, bucket):
            raise NoSuchBucket(bucket)
        found = self.find_version(account, bucket, key, version_id)
        if found is None:
            raise NoSuchVersion(key, version_id)
        if found.delete_marker:
            raise MethodNotAllowed(method, version_id=found.version, last_modified=found.http_date)
        return found

    def missing(self, account: str, bucket: str, key: str) -> NoReturn:
        """Raise what a read of a key with no current object answers: NoSuchBucket, NoSuchKey, or (the
        key's current version is a delete marker) NoSuchKey with x-amz-delete-marker."""
        if self.versioning(account, bucket) is not None:
            chain = self.history(self._okey(account, bucket, key))
            if chain and chain[0].get("dm"):
                raise DeletedKey(key, chain[0].get("v") or NULL)
        raise NoSuchKey(key)

    async def delete_blobs(self, keys: list[str]) -> None:
        """Delete blob files no description names any more (those a read still holds: when it ends). Inline
        bodies are not touched here: they are written and deleted inside the metadata transactions that
        name and unname them."""
        if self.leases.on_free is None:
            loop = asyncio.get_running_loop()
            self.leases.on_free = lambda freed: self._on_free(loop, freed)
        keys = self.leases.unleased([k for k in keys if not is_inline(k)])
        if keys:
            await asyncio.to_thread(lambda: [self.blobs.delete(k) for k in keys])

    def _on_free(self, loop: asyncio.AbstractEventLoop, keys: list[str]) -> None:
        try:
            loop.call_soon_threadsafe(self._free_later, keys)
        except RuntimeError:  # the loop is closed (shutdown): the start-up sweep deletes unnamed blobs
            pass

    def _free_later(self, keys: list[str]) -> None:
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(lambda: [self.blobs.delete(k) for k in keys]))
        self._freeing.add(task)
        task.add_done_callback(self._freeing.discard)

    def now(self) -> float:
        return float(int(self.clock.time()))

    async def commit(
        self,
        account: str,
        obj: S3Object,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        extra: Callable[[], list[str]] | None = None,
        version_id: str | None = None,
    ) -> tuple[S3Object, dict[str, Any]]:
        """Name ``obj``'s blobs under its key in one transaction; delete the blobs it replaced after.
        ``extra`` runs inside the transaction (multipart completion drops its parts there) and returns
        blob keys to delete once committed. A small body travels in ``obj.inline`` (same document, same
        transaction). Returns the object as stored (with its version id in an Enabled bucket) and the bucket's
        notification configuration as the transaction saw it. ``version_id``: the version id to write (a
        replica keeps its source's). A write matching the bucket's replication rules is marked PENDING and
        queued for the replicator in the same transaction (replication.py)."""
        md = self.metadata
        okey = self._okey(account, obj.bucket, obj.key)
        garbage: list[str] = []
        notification: dict[str, Any] = {}
        # A bucket that was ever versioned (read from the bucket cache: no SQLite read): an Enabled one
        # gives the write a fresh version id, a Suspended one the null version (docs/services/s3.md).
        seen = self.buckets.lookup(account, obj.bucket)
        status = seen.settings.get(VERSIONING) if seen is not None and seen.settings else None
        if version_id is not None:
            obj = replace(obj, version_id=version_id)
        elif status == ENABLED:
            obj = replace(obj, version_id=new_version_id())
        dests: list[list[Any]] = []
        if seen is not None and seen.settings and obj.replication != replication.REPLICA and status == ENABLED:
            dests = replication.destinations(seen.settings.get(replication.SETTING), obj.key, obj.tags)
            if dests:
                obj = replace(obj, replication=replication.PENDING)
        doc = obj.to_doc()
        # a new key is one INSERT, also in an Enabled bucket (the new version is simply the current one);
        # a Suspended bucket first drops the key's older null version
        plain = if_match is None and if_none_match is None and extra is None and status != SUSPENDED and not dests

        def transact() -> S3Object | None:
            # runs inside a transaction: the caller's below, or its own savepoint in the committer's batch
            nonlocal notification, obj, doc
            found = self.buckets.lookup(account, obj.bucket)
            if found is None:
                raise NoSuchBucket(obj.bucket)
            notification = found.notification
            now = found.settings.get(VERSIONING) if found.settings else None
            if now != status and version_id is None:
                # PutBucketVersioning committed while this write waited for the committer: the write
                # follows it (else a version written meanwhile could be replaced as if unversioned)
                obj = replace(obj, version_id=new_version_id() if now == ENABLED else None)
                doc = obj.to_doc()
            if dests and obj.version_id is not None:
                md.put(replication.KIND_PENDING, replication.pending_key(account, obj.bucket, obj.key, obj.version_id),
                       replication.pending_doc(account, obj.bucket, obj.key, obj.version_id, dests))
            if plain and now != SUSPENDED and md.insert(KIND_OBJECT, okey, doc):
                return None  # a new key: nothing replaced, nothing to check (one statement)
            old_doc = md.get(KIND_OBJECT, okey)
            old = S3Object.from_doc(obj.bucket, old_doc) if old_doc is not None else None
            check_write_conditions(old, if_match, if_none_match, key=obj.key)
            if extra is not None:
                garbage.extend(extra())
            md.put(KIND_OBJECT, okey, doc)
            if now is not None:
                # the replaced version stays as a noncurrent one (or goes, when both are the null version)
                garbage.extend(b for b in self._retire(okey, old_doc, null=now == SUSPENDED) if b not in obj.blob_keys)
                return None
            if old is not None and old.inline is None:  # an older layout: the body in its own document
                keep = set(obj.blob_keys)
                for blob in old.blob_keys:
                    if is_inline(blob) and blob not in keep:
                        md.delete(KIND_INLINE, blob)
            return old

        try:
            if self._handed == 0 and self._writing <= 1 and time.monotonic() >= self._inline_off_until:
                # No other write to share a commit with: commit here, on the event loop. The fsync (about
                # 0.1 ms) costs less than handing over to the committer's thread and back (two wake-ups).
                # While the disk is slow (a commit here took over INLINE_SLOW_S and they average over half
                # of that), commits go through the committer for a while, so a slow fsync does not hold up
                # every other request. A lone slow one (SQLite's WAL checkpoint, every ~1,000 pages) does not.
                started = time.monotonic()
                try:
                    found = self.buckets.lookup(account, obj.bucket) if plain else None
                    if found is not None and md.insert(KIND_OBJECT, okey, doc):
                        # A new key: the INSERT alone is the transaction. Nothing can delete the bucket
                        # between the lookup and it: bucket writes run on this thread, synchronously.
                        old, notification = None, found.notification
                    else:
                        with md.transaction():
                            old = transact()
                finally:
                    done = time.monotonic()
                    took = done - started
                    self._inline_avg_s += (took - self._inline_avg_s) * 0.125
                    if took > INLINE_SLOW_S and self._inline_avg_s > INLINE_SLOW_S / 2:
                        self._inline_off_until = done + INLINE_BACKOFF_S
            else:
                # Concurrent writes: the committer's thread commits them together (one fsync), and the
                # event loop keeps serving meanwhile.
                self._handed += 1
                try:
                    old = await self.committer.run(transact)
                finally:
                    self._handed -= 1
        except asyncio.CancelledError:
            raise  # the transaction may commit all the same: keep the blobs (unnamed ones are swept at start)
        except BaseException:
            if extra is None:  # a failed multipart completion keeps its parts
                await self.delete_blobs(obj.blob_keys)
            raise
        if old is not None:
            keep = set(obj.blob_keys)
            garbage.extend(b for b in old.blob_keys if b not in keep)
        if garbage:
            await self.delete_blobs(garbage)
        if dests and self.replication_kick is not None:
            self.replication_kick()
        return obj, notification

    # -- writes ----------------------------------------------------------------------------------

    async def put(
        self,
        account: str,
        bucket: str,
        key: str,
        data: bytes | AsyncIterable[bytes],
        *,
        content: Content = Content(),
        metadata: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        integrity: Integrity | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        storage_class: str | None = None,
        origin: Origin | None = None,
        lock: objectlock.Lock | None = None,
        sse_c: str | None = None,
    ) -> S3Object:
        self._writing += 1
        try:
            check_key(key)
            if tags:
                check_tags(tags, MAX_TAGS_OBJECT)
            if not self.buckets.exists(account, bucket):
                raise NoSuchBucket(bucket)
            if if_match is not None or if_none_match is not None:  # fail fast, before the body is read
                check_write_conditions(self.find(account, bucket, key), if_match, if_none_match, key=key)
            integrity = integrity or Integrity()
            body: bytes | None = None
            if fits_inline(data, integrity.expected_size):
                got, body = await ingest_inline(data, integrity)
            else:
                got = await ingest(self.blobs, data, integrity)
            obj = S3Object(
                bucket=bucket, key=key, size=got.size, etag=quote_etag(got.md5_hex), last_modified=self.now(),
                segments=((got.blob_key, got.size),), content=content, metadata=metadata or {}, tags=tags or {},
                checksum_algorithm=integrity.algorithm if got.checksum else None, checksum=got.checksum,
                checksum_type="FULL_OBJECT" if got.checksum else None, storage_class=storage_class or "STANDARD",
                inline=encode_inline(body) if body is not None else None, sse_c=sse_c,
            )
            lock = lock or self.default_lock(account, bucket)
            if lock is not None:
                obj = replace(obj, lock_mode=lock.mode, lock_until=lock.until, legal_hold=lock.hold)
            obj, notification = await self.commit(account, obj, if_match=if_match, if_none_match=if_none_match)
            await self.notifier.object_event(account, self.buckets, obj.bucket, "ObjectCreated:Put", obj, origin,
                                             config=notification)
            return obj
        finally:
            self._writing -= 1

    async def copy(
        self,
        account: str,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        *,
        source_conditions: Conditions = Conditions(),
        source_version_id: str | None = None,
        replace_metadata: bool = False,
        content: Content = Content(),
        metadata: dict[str, str] | None = None,
        replace_tags: bool = False,
        tags: dict[str, str] | None = None,
        checksum_algorithm: str | None = None,
        storage_class: str | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        website_redirect: str | None = None,
        encryption: bool = False,
        origin: Origin | None = None,
        lock: objectlock.Lock | None = None,
        sse_c: str | None = None,
        source_sse_c: str | None = None,
    ) -> tuple[S3Object, S3Object]:
        """``website_redirect`` (x-amz-website-redirect-location) applies whatever the metadata directive;
        ``encryption`` says the request named encryption attributes (accepted and ignored, but on S3 they
        make a copy onto itself legal). Returns the new object and the source version copied."""
        self._writing += 1
        try:
            check_key(key)
            if not self.buckets.exists(account, bucket):
                raise NoSuchBucket(bucket)
            if source_version_id is not None:
                if not self.buckets.exists(account, source_bucket):
                    raise NoSuchBucket(source_bucket)
                found = self.find_version(account, source_bucket, source_key, source_version_id)
                if found is None:
                    raise NoSuchVersion(source_key, source_version_id)
                if found.delete_marker:
                    raise InvalidRequest("The source of a copy request may not specifically refer to a delete marker by version id.")
                src = found
            else:
                src = self.get_object(account, source_bucket, source_key)
            source_conditions.check_copy_source(src)
            ssec.check_read(src.sse_c, source_sse_c)
            if src.storage_class in archive.ARCHIVED:
                archive.check_readable(src.storage_class, src.restore, self.clock.time())
            changes = (replace_metadata or checksum_algorithm or storage_class or replace_tags or website_redirect or encryption
                       or sse_c != src.sse_c)
            if (source_bucket, source_key) == (bucket, key) and not changes and source_version_id is None:
                raise InvalidRequest(
                    "This copy request is illegal because it is trying to copy an object to itself without changing the "
                    "object's metadata, storage class, website redirect location or encryption attributes."
                )
            if tags and replace_tags:
                check_tags(tags, MAX_TAGS_OBJECT)
            algorithm = checksum_algorithm or src.checksum_algorithm
            kept = content if replace_metadata else src.content
            if website_redirect:
                kept = replace(kept, website_redirect=website_redirect)
            source = open_segments(self.blobs, src, 0, src.size, self.leases)
            body: bytes | None = None
            if src.size <= INLINE_MAX_BYTES:
                got, body = await ingest_inline(source, Integrity(algorithm=algorithm))
            else:
                got = await ingest(self.blobs, source, Integrity(algorithm=algorithm))
            obj = S3Object(
                bucket=bucket, key=key, size=got.size, etag=quote_etag(got.md5_hex), last_modified=self.now(),
                segments=((got.blob_key, got.size),),
                content=kept,
                metadata=(metadata or {}) if replace_metadata else src.metadata,
                tags=(tags or {}) if replace_tags else src.tags,
                checksum_algorithm=algorithm, checksum=got.checksum, checksum_type="FULL_OBJECT" if got.checksum else None,
                storage_class=storage_class or src.storage_class,
                inline=encode_inline(body) if body is not None else None, sse_c=sse_c,
            )
            lock = lock or self.default_lock(account, bucket)
            if lock is not None:  # the source's lock is not copied: the request's, or the bucket's default
                obj = replace(obj, lock_mode=lock.mode, lock_until=lock.until, legal_hold=lock.hold)
            obj, notification = await self.commit(account, obj, if_match=if_match, if_none_match=if_none_match)
            await self.notifier.object_event(account, self.buckets, bucket, "ObjectCreated:Copy", obj, origin,
                                             config=notification)
            return obj, src
        finally:
            self._writing -= 1

    async def delete(
        self, account: str, bucket: str, key: str, *, origin: Origin | None = None, event: str = "ObjectRemoved:Delete",
        only_if_etag: str | None = None, only_if_modified: float | None = None,
    ) -> bool:
        """Remove a key; ``only_if_*`` (lifecycle expiration) leave it when it was replaced since it was read.
        In a bucket ever versioned this adds a delete marker instead (``remove``)."""
        if self.versioning(account, bucket) is not None:
            removed = await self.remove(account, bucket, key, origin=origin, event=event, only_if_etag=only_if_etag,
                                        only_if_modified=only_if_modified)
            return removed is not None
        return await self._delete_plain(account, bucket, key, origin=origin, event=event, only_if_etag=only_if_etag,
                                        only_if_modified=only_if_modified)

    async def _delete_plain(
        self, account: str, bucket: str, key: str, *, origin: Origin | None, event: str,
        only_if_etag: str | None, only_if_modified: float | None,
    ) -> bool:
        md = self.metadata
        okey = self._okey(account, bucket, key)
        with md.transaction():
            if not self.buckets.exists(account, bucket):
                raise NoSuchBucket(bucket)
            doc = md.get(KIND_OBJECT, okey)
            if doc is not None and only_if_etag is not None and (doc["e"] != only_if_etag or doc["m"] != only_if_modified):
                doc = None
            if doc is not None:
                md.delete(KIND_OBJECT, okey)
                if "d" not in doc:  # an older layout: the body in its own document
                    for blob, _ in doc["seg"]:
                        if is_inline(blob):
                            md.delete(KIND_INLINE, blob)
        if doc is None:
            return False
        old = S3Object.from_doc(bucket, doc)
        await self.delete_blobs(old.blob_keys)
        await self.notifier.object_event(account, self.buckets, bucket, event, old, origin)
        return True

    async def remove(
        self, account: str, bucket: str, key: str, *, version_id: str | None = None, origin: Origin | None = None,
        event: str = "ObjectRemoved:Delete", only_if_etag: str | None = None, only_if_modified: float | None = None,
        only_if: Callable[[dict[str, Any] | None, list[dict[str, Any]], int | None], bool] | None = None,
        bypass: bool = False,
        marker_version_id: str | None = None,
    ) -> Removed | None:
        """DeleteObject as S3 does it in every bucket. Without ``version_id``: a bucket never versioned
        loses the key; a versioned one gets a delete marker (a fresh version id when Enabled, the null
        version when Suspended, which replaces the key's null version). With ``version_id``: that version
        or marker goes for good, and the next newer one becomes current. Returns what was removed or
        created (None: nothing was there, or, with ``only_if_*``, the key changed meanwhile). ``only_if``
        (lifecycle) sees, inside the transaction, the current object, the history and the index in it of the
        version to delete (None: the current object), and may leave it. A version Object Lock protects is
        refused (AccessDenied; GOVERNANCE retention gives way to ``bypass``), or left by lifecycle.
        ``marker_version_id``: the id of the delete marker to add (a replicated marker keeps its source's; such
        a marker is not replicated further); a new marker matching the bucket's replication rules that
        replicate delete markers is queued for the replicator in the same transaction."""
        status = self.versioning(account, bucket)
        if version_id is not None:
            check_version_id(version_id)
        if status is None and version_id in (None, NULL):
            gone = await self._delete_plain(account, bucket, key, origin=origin, event=event, only_if_etag=only_if_etag,
                                            only_if_modified=only_if_modified)
            return Removed(None, False) if gone else None
        md = self.metadata
        okey = self._okey(account, bucket, key)
        garbage: list[str] = []
        marker_dests: list[list[Any]] = []
        with md.transaction():
            found = self.buckets.lookup(account, bucket)
            if found is None:
                raise NoSuchBucket(bucket)
            old = md.get(KIND_OBJECT, okey)
            if version_id is None:
                if only_if_etag is not None and (old is None or old["e"] != only_if_etag or old["m"] != only_if_modified):
                    return None
                marker = S3Object(bucket=bucket, key=key, size=0, etag="", last_modified=self.now(), segments=(),
                                  version_id=marker_version_id or (new_version_id() if status == ENABLED else None),
                                  delete_marker=True, replication=replication.REPLICA if marker_version_id else None)
                if old is not None:
                    md.delete(KIND_OBJECT, okey)
                garbage = self._retire(okey, old, null=status == SUSPENDED, marker=marker.to_doc())
                if marker_version_id is None and status == ENABLED and found.settings and marker.version_id is not None:
                    marker_dests = replication.destinations(found.settings.get(replication.SETTING), key, {}, marker=True)
                    if marker_dests:
                        md.put(replication.KIND_PENDING, replication.pending_key(account, bucket, key, marker.version_id),
                               replication.pending_doc(account, bucket, key, marker.version_id, marker_dests, marker=True))
                done, gone = Removed(marker.version, True), marker
            else:
                want = None if version_id == NULL else version_id
                chain = self.history(okey)
                if only_if is not None:
                    here = next((i for i, e in enumerate(chain) if e.get("v") == want), None)
                    if not only_if(old, chain, None if old is not None and old.get("v") == want else here):
                        return None
                at = None
                if old is None or old.get("v") != want:
                    at = next((i for i, e in enumerate(chain) if e.get("v") == want), None)
                    if at is None:
                        return None  # S3: deleting a version that is not there succeeds
                target = old if at is None else chain[at]
                if ("lu" in target or "lh" in target) and objectlock.protected(target, self.clock.time(), bypass=bypass):
                    if only_if is not None:
                        return None  # lifecycle leaves a locked version
                    raise objectlock.ObjectLocked()
                if at is None:
                    md.delete(KIND_OBJECT, okey)
                    gone_doc = old
                    current_gone = True
                else:
                    gone_doc = chain.pop(at)
                    current_gone = old is None and at == 0
                garbage = self._drop_version(gone_doc)
                if current_gone and chain and not chain[0].get("dm"):
                    # the next newer version becomes the current one again
                    promoted = dict(chain.pop(0))
                    promoted.pop("nc", None)
                    md.put(KIND_OBJECT, okey, promoted)
                self._save_history(okey, chain)
                gone = S3Object.from_doc(bucket, gone_doc)
                done = Removed(gone.version, gone.delete_marker)
        if garbage:
            await self.delete_blobs(garbage)
        if marker_dests and self.replication_kick is not None:
            self.replication_kick()
        if version_id is None:
            event = event.replace(":Delete", ":DeleteMarkerCreated")
        await self.notifier.object_event(account, self.buckets, bucket, event, gone, origin)
        return done

    # -- reads -----------------------------------------------------------------------------------

    def open(
        self,
        account: str,
        bucket: str,
        key: str,
        *,
        range_header: str | None = None,
        part_number: int | None = None,
        conditions: Conditions = Conditions(),
        head: bool = False,
        version_id: str | None = None,
        sse_c: str | None | bool = False,
    ) -> ObjectRead:
        """``sse_c``: the customer key (MD5) the read presents, None for none (ssec.check_read); False: not checked."""
        obj = self.get_version(account, bucket, key, version_id, method="HEAD" if head else "GET")
        if sse_c is not False:
            ssec.check_read(obj.sse_c, sse_c)  # type: ignore[arg-type]
        if not head and obj.storage_class in archive.ARCHIVED:
            archive.check_readable(obj.storage_class, obj.restore, self.clock.time())
        inline: bytes | None = None
        if head:
            pass
        elif version_id is not None and obj.inline is None and len(obj.segments) == 1 and is_inline(obj.segments[0][0]):
            # a noncurrent version's small body (its own document); deleted meanwhile: the version is gone
            inline = read_inline(self.metadata, obj.segments[0][0])
            if inline is None:
                raise NoSuchVersion(key, version_id)
        elif obj.inline is not None:
            inline = obj.inline_body()
        elif len(obj.segments) == 1 and is_inline(obj.segments[0][0]):
            # An older layout (the body in its own document). Read the body now: the snapshot of this
            # description. A commit in a worker thread may have replaced the object between the two reads;
            # then read the new description.
            for _ in range(8):
                inline = read_inline(self.metadata, obj.segments[0][0])
                if inline is not None:
                    break
                obj = self.get_object(account, bucket, key)
                if obj.inline is not None:
                    inline = obj.inline_body()
                    break
                if not (len(obj.segments) == 1 and is_inline(obj.segments[0][0])):
                    break
        if part_number is not None and range_header:
            raise InvalidRequest("Cannot specify both Range header and partNumber query parameter")
        conditions.check_read(obj)
        start, end, partial = 0, obj.size, False
        if part_number is not None:
            if not 1 <= part_number <= MAX_PART_NUMBER:
                raise InvalidArgument("Part number must be an integer between 1 and 10000, inclusive",
                                      ArgumentName="partNumber", ArgumentValue=part_number)
            parts = obj.parts_count if obj.parts_count is not None else 1  # a plain object is one part
            if part_number > parts:
                raise InvalidPartNumber(part_number, parts)
            if obj.parts_count is not None:
                start = sum(n for _, n in obj.segments[: part_number - 1])
                end = start + obj.segments[part_number - 1][1]
                partial = True
        else:
            found = parse_range(range_header, obj.size)
            if found is not None:
                start, end = found
                partial = True
        if inline is not None and not head:
            data = inline[start:end] if end > start else b""
            return ObjectRead(obj, start, end, partial, _once(data), data)
        body: AsyncIterator[bytes] = _empty() if head or end <= start else open_segments(self.blobs, obj, start, end, self.leases)
        return ObjectRead(obj, start, end, partial, body)

    def list(
        self,
        account: str,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        after: str | None = None,
        max_keys: int = MAX_LIST_KEYS,
    ) -> Listing:
        if not self.buckets.exists(account, bucket):
            raise NoSuchBucket(bucket)
        max_keys = max(0, min(max_keys, MAX_LIST_KEYS))
        objects: list[S3Object] = []
        prefixes: list[str] = []
        last: str | None = None
        truncated = False
        count = 0
        for name, doc in walk(self.metadata, KIND_OBJECT, object_prefix(account, bucket), prefix, delimiter or None, after):
            if count == max_keys:
                truncated = True
                break
            if doc is None:
                prefixes.append(name)
            else:
                objects.append(S3Object.from_doc(bucket, doc))
            last = name
            count += 1
        return Listing(objects, prefixes, truncated, last)

    def list_versions(
        self,
        account: str,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        key_marker: str | None = None,
        version_id_marker: str | None = None,
        max_keys: int = MAX_LIST_KEYS,
    ) -> VersionListing:
        """ListObjectVersions: every version and delete marker, by key, newest first within a key (the
        current object, then the key's history); common prefixes count as one entry each. A bucket never
        versioned lists its objects as null versions."""
        if not self.buckets.exists(account, bucket):
            raise NoSuchBucket(bucket)
        if version_id_marker is not None and version_id_marker != "":
            if not key_marker:
                raise InvalidArgument("A version-id marker cannot be specified without a key marker.",
                                      ArgumentName="version-id-marker", ArgumentValue=version_id_marker)
            check_version_id(version_id_marker)
        max_keys = max(0, min(max_keys, MAX_LIST_KEYS))
        base = object_prefix(account, bucket)
        out = VersionListing([], [], False, None, None)
        count = 0

        def add(entries: list[tuple[S3Object, bool]]) -> bool:
            nonlocal count
            for obj, latest in entries:
                if count == max_keys:
                    out.truncated = True
                    return False
                out.versions.append((obj, latest))
                out.next_key_marker, out.next_version_id_marker = obj.key, obj.version
                count += 1
            return True

        def versions_of(key: str, current: dict[str, Any] | None, chain: list[dict[str, Any]]) -> list[tuple[S3Object, bool]]:
            docs = ([current] if current is not None else []) + chain
            return [(S3Object.from_doc(bucket, d), i == 0) for i, d in enumerate(docs)]

        after = key_marker or None
        rolled = bool(delimiter and key_marker and key_marker.startswith(prefix) and delimiter in key_marker[len(prefix):])
        if key_marker and version_id_marker and key_marker.startswith(prefix) and not rolled:
            # go on within the marker's key, after the marker's version
            okey = base + key_marker
            entries = versions_of(key_marker, self.metadata.get(KIND_OBJECT, okey), self.history(okey))
            ids = [o.version for o, _ in entries]
            if version_id_marker in ids:
                if not add(entries[ids.index(version_id_marker) + 1:]):
                    return out
        md = self.metadata
        objects = walk(md, KIND_OBJECT, base, prefix, delimiter or None, after)
        histories = walk(md, KIND_VERSIONS, base, prefix, delimiter or None, after)
        a, b = next(objects, None), next(histories, None)
        while a is not None or b is not None:
            if b is None or (a is not None and a[0] < b[0]):
                name, current, chain_doc = a[0], a[1], None
                is_prefix = a[1] is None
                a = next(objects, None)
            elif a is None or b[0] < a[0]:
                name, current, chain_doc = b[0], None, b[1]
                is_prefix = b[1] is None
                b = next(histories, None)
            else:
                name, current, chain_doc = a[0], a[1], b[1]
                is_prefix = a[1] is None
                a, b = next(objects, None), next(histories, None)
            if is_prefix:
                if count == max_keys:
                    out.truncated = True
                    return out
                out.prefixes.append(name)
                out.next_key_marker, out.next_version_id_marker = name, None
                count += 1
                continue
            if not add(versions_of(name, current, list(chain_doc["vs"]) if chain_doc else [])):
                return out
        return out

    # -- tags ------------------------------------------------------------------------------------

    def put_tags(self, account: str, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None) -> S3Object:
        check_tags(tags, MAX_TAGS_OBJECT)
        return self._update(account, bucket, key, version_id, lambda doc: doc.__setitem__("tags", tags) if tags else doc.pop("tags", None))

    def put_acl(self, account: str, bucket: str, key: str, acl: dict[str, Any], *, version_id: str | None = None) -> S3Object:
        return self._update(account, bucket, key, version_id, lambda doc: doc.__setitem__("acl", acl))

    # -- replication (replication.py) -------------------------------------------------------------

    async def replicate(self, doc: dict[str, Any]) -> bool:
        """One pending replication: write the version (or delete marker) to each destination, then mark the
        source version COMPLETED (FAILED when a destination is gone or not versioned). True when done."""
        account, bucket, key, version = doc["a"], doc["b"], doc["k"], doc["v"]
        failed = False
        if doc.get("m"):
            for dest, _storage in doc["d"]:
                target = self.buckets.lookup(account, dest)
                if target is None or (target.settings or {}).get(VERSIONING) != ENABLED:
                    continue  # a marker has no status to report
                if self.find_version(account, dest, key, version) is None:
                    await self.remove(account, dest, key, marker_version_id=version, event="ObjectRemoved:Delete")
            return True
        src = self.find_version(account, bucket, key, version)
        if src is None or src.delete_marker:
            return True  # deleted meanwhile: nothing left to copy
        for dest, storage in doc["d"]:
            target = self.buckets.lookup(account, dest)
            if target is None or (target.settings or {}).get(VERSIONING) != ENABLED:
                failed = True
                continue
            if self.find_version(account, dest, key, version) is None:
                await self._write_replica(account, dest, src, storage)
        status = replication.FAILED if failed else replication.COMPLETED
        try:
            self._update(account, bucket, key, version, lambda d: d.__setitem__("rp", status))
        except S3Error:
            pass  # the source version went meanwhile
        return True

    async def _write_replica(self, account: str, bucket: str, src: S3Object, storage_class: str | None) -> None:
        source = open_segments(self.blobs, src, 0, src.size, self.leases)
        body: bytes | None = None
        if src.size <= INLINE_MAX_BYTES:
            got, body = await ingest_inline(source, Integrity())
        else:
            got = await ingest(self.blobs, source, Integrity())
        obj = S3Object(
            bucket=bucket, key=src.key, size=got.size, etag=src.etag, last_modified=src.last_modified,
            segments=((got.blob_key, got.size),), content=src.content, metadata=src.metadata, tags=src.tags,
            checksum_algorithm=src.checksum_algorithm if src.parts_count is None else None,
            checksum=src.checksum if src.parts_count is None else None,
            checksum_type=src.checksum_type if src.parts_count is None else None,
            storage_class=storage_class or src.storage_class, inline=encode_inline(body) if body is not None else None,
            lock_mode=src.lock_mode, lock_until=src.lock_until, legal_hold=src.legal_hold, sse_c=src.sse_c,
            replication=replication.REPLICA,
        )
        await self.commit(account, obj, version_id=src.version_id)

    # -- Object Lock (objectlock.py) ---------------------------------------------------------------

    def default_lock(self, account: str, bucket: str) -> objectlock.Lock | None:
        """The bucket's default retention for a version written now (None: none, or no such bucket)."""
        found = self.buckets.lookup(account, bucket)
        if found is None or not found.settings or objectlock.OBJECT_LOCK not in found.settings:
            return None
        return objectlock.default_lock(found.settings, self.clock.time())

    def restore_version(self, account: str, bucket: str, key: str, spec: dict[str, Any] | None, *,
                        version_id: str | None = None, delay_s: float = 1.0) -> tuple[S3Object, bool]:
        """RestoreObject (archive.py): the version as it was, and whether a restore started (else a completed
        one was extended)."""
        now = self.clock.time()
        started = False

        def change(doc: dict[str, Any]) -> None:
            nonlocal started
            current = tuple(doc["rs"]) if "rs" in doc else None
            state, started = archive.request(doc.get("sc", "STANDARD"), current, spec, now, delay_s)  # type: ignore[arg-type]
            doc["rs"] = list(state)

        obj = self._update(account, bucket, key, version_id, change)
        return obj, started

    def put_retention(self, account: str, bucket: str, key: str, retention: dict[str, Any] | None, *,
                      version_id: str | None = None, bypass: bool = False) -> None:
        now = self.clock.time()
        self._update(account, bucket, key, version_id,
                     lambda doc: objectlock.change_retention(doc, retention, now, bypass=bypass))

    def put_legal_hold(self, account: str, bucket: str, key: str, status: str, *, version_id: str | None = None) -> None:
        self._update(account, bucket, key, version_id, lambda doc: doc.__setitem__("lh", status))

    def _update(self, account: str, bucket: str, key: str, version_id: str | None, change: Callable[[dict[str, Any]], Any]) -> S3Object:
        """Change one version's description in place (the current one without ``version_id``)."""
        md = self.metadata
        okey = self._okey(account, bucket, key)
        with md.transaction():
            doc = md.get(KIND_OBJECT, okey)
            if version_id is None:  # the current version: one read, as before versioning
                if doc is None:
                    self.missing(account, bucket, key)
                obj = S3Object.from_doc(bucket, doc)
            else:
                obj = self.get_version(account, bucket, key, version_id, method="PUT")
            if doc is not None and doc.get("v") == obj.version_id:
                change(doc)
                md.put(KIND_OBJECT, okey, doc)
            else:
                chain = self.history(okey)
                for entry in chain:
                    if entry.get("v") == obj.version_id:
                        change(entry)
                self._save_history(okey, chain)
        return obj


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover
